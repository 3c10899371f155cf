"""Chapter 15's exercises: the DNS load an application makes, the CoreDNS replicas it needs, and
what CoreDNS still sees behind NodeLocal DNSCache.

The right answers come from the library itself: queries per lookup from
kube_teach.network.coredns (the resolver walking its search list against the zone), and the
pod's resolver settings from kube_teach.network.dns, so the exercises cannot drift from the
TrafficModel the chapter runs (tests/test_exercises_dns_meltdown.py checks the last one
against the model).
"""

from __future__ import annotations

import math
from typing import Any

from ..network.coredns import Zone, queries_per_lookup
from ..network.dns import resolv_conf
from .check import register
from .exercises import _call, _graded

NAMESPACE = "production"
ZONE = Zone({"backend-service.production": "10.96.200.20"}, {"api.example.com": "203.0.113.7"})


def queries_per_request(name: str, ndots: int) -> int:
    """A and AAAA queries one lookup of `name` sends from a pod in `production` with `ndots`."""
    pod = {
        "metadata": {"namespace": NAMESPACE},
        "spec": {"dnsConfig": {"options": [{"name": "ndots", "value": str(ndots)}]}},
    }
    return queries_per_lookup(name, resolv_conf(pod), ZONE)


def dns_demand(rps: float, name: str, ndots: int) -> float:
    """Queries per second at the cluster DNS when every request looks `name` up once."""
    return rps * queries_per_request(name, ndots)


def _number(got: Any) -> float | None:
    if isinstance(got, bool) or not isinstance(got, int | float):
        return None
    return got


# (requests/s, name, ndots, why)
_DEMANDS = [
    (10_000, "backend-service.production.svc.cluster.local", 5,
     "the seed's name has 4 dots, fewer than 5: three search domains first, A and AAAA each"),
    (10_000, "backend-service.production.svc.cluster.local", 1,
     "with ndots:1 the name is tried as given first, and found"),
    (10_000, "backend-service.production.svc.cluster.local.", 5,
     "a trailing dot means the name is complete: no search list"),
    (10_000, "backend-service", 5, "the first search domain completes a short Service name"),
    (10_000, "backend-service.production", 5,
     "production.svc.cluster.local fails, svc.cluster.local completes it"),
    (10_000, "backend-service.production", 1,
     "ndots:1 tries the one-dot name as given first: NXDOMAIN, then the search list"),
    (2_000, "api.example.com", 5, "an external name goes through all three search domains"),
    (2_000, "api.example.com", 1, "an external name with two dots, ndots:1: found at once"),
]  # fmt: skip


@register(
    "15-dns-demand",
    hint="replace `raise NotImplementedError` in dns_demand: count the candidate names the "
    "resolver tries (search domains first when the name has fewer than ndots dots and no "
    "trailing dot), stop at the first that exists, two queries (A, AAAA) per candidate.",
)
@_graded
def demand_exercise(answer: Any) -> str | None:
    """`dns_demand(rps, name, ndots) -> float`: DNS queries/s for `rps` lookups of `name`."""
    if not callable(answer):
        return f"pass the function itself: check('15-dns-demand', dns_demand), not {answer!r}."
    for rps, name, ndots, why in _DEMANDS:
        want = dns_demand(rps, name, ndots)
        label = f"dns_demand({rps}, {name!r}, {ndots})"
        got = _number(_call(answer, label, rps, name, ndots))
        if got is None:
            return f"{label} did not return a number of queries per second."
        if abs(got - want) > 1e-9 * want:
            return f"{label} returned {got!r}, but it is {want:g} queries/s: {why}."
    return None


def replicas_needed(queries_per_second: float, capacity: float) -> int:
    """The fewest CoreDNS replicas of `capacity` queries/s that keep up with the demand."""
    return max(1, math.ceil(queries_per_second / capacity))


# (queries/s, capacity per replica, why)
_REPLICAS = [
    (80_000, 5_000, "the seed's demand with ndots:5: 16 replicas, not 10"),
    (20_000, 5_000, "with ndots:1 the same traffic needs 4"),
    (10_000, 5_000, "exactly two replicas' worth: 2 (a full replica is enough)"),
    (10_001, 5_000, "one query more than two replicas can answer needs a third"),
    (100, 5_000, "a quiet cluster still runs one replica (the seed says at least two, for HA)"),
]


@register(
    "15-coredns-replicas",
    hint="replace `raise NotImplementedError` in replicas_needed: the demand divided by one "
    "replica's capacity, rounded up (math.ceil), at least 1.",
)
@_graded
def replicas_exercise(answer: Any) -> str | None:
    """`replicas_needed(queries_per_second, capacity) -> int`."""
    if not callable(answer):
        return (
            "pass the function itself: check('15-coredns-replicas', replicas_needed), "
            f"not {answer!r}."
        )
    for qps, capacity, why in _REPLICAS:
        want = replicas_needed(qps, capacity)
        label = f"replicas_needed({qps}, {capacity})"
        got = _call(answer, label, qps, capacity)
        if isinstance(got, float) and got.is_integer():
            got = int(got)
        if isinstance(got, bool) or not isinstance(got, int):
            return f"{label} returned {got!r}: return a whole number of replicas."
        if got != want:
            return f"{label} returned {got}, but it is {want}: {why}."
    return None


def coredns_behind_nodelocal(nodes: int, queries_per_lookup: int) -> int:
    """Queries CoreDNS receives during a burst shorter than node-local-dns's cache TTLs
    (denial 5 s, success 30 s) when every client looks up the same name: each node's cache
    misses each distinct query once."""
    return nodes * queries_per_lookup


# (nodes, queries per lookup, why)
_NODELOCAL = [
    (100, 8, "the seed's cluster with ndots:5: every node asks each of the 8 questions once"),
    (100, 2, "with ndots:1 only the A and AAAA of the name itself"),
    (10, 8, "ten nodes, ten caches"),
    (1, 8, "one node: one cache, however many pods"),
]


@register(
    "15-nodelocal-upstream",
    hint="replace `raise NotImplementedError` in coredns_behind_nodelocal: every node has its "
    "own cache, and within the TTLs each distinct question leaves a node once.",
)
@_graded
def nodelocal_exercise(answer: Any) -> str | None:
    """`coredns_behind_nodelocal(nodes, queries_per_lookup) -> int`."""
    if not callable(answer):
        return (
            "pass the function itself: check('15-nodelocal-upstream', coredns_behind_nodelocal), "
            f"not {answer!r}."
        )
    for nodes, per_lookup, why in _NODELOCAL:
        want = coredns_behind_nodelocal(nodes, per_lookup)
        label = f"coredns_behind_nodelocal({nodes}, {per_lookup})"
        got = _call(answer, label, nodes, per_lookup)
        if isinstance(got, bool) or not isinstance(got, int | float) or got != want:
            return f"{label} returned {got!r}, but CoreDNS sees {want} queries: {why}."
    return None
