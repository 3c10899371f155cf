"""Chapter 07's exercises: a NetworkPolicy that opens exactly one path, the DNS queries one
lookup costs, and the probabilities in kube-proxy's iptables rules.

The right answers come from the library: connectivity from kube_teach.network.policy, query
counts from kube_teach.network.dns, probabilities from the rules kube_teach.network.proxy
writes, so an exercise cannot drift from what the chapter shows.
"""

from __future__ import annotations

import random
from typing import Any

from ..api import validate
from ..api.objects import ManifestError, load
from ..network.dns import queries_for_lookup, resolv_conf
from ..network.examples import NAMESPACES, default_deny, seed_pods
from ..network.policy import connectivity_matrix
from .check import register
from .exercises import _call, _graded

PORTS = (80, 8080, 5432, 9090)
ALLOWED = ("production/frontend", "production/backend", 8080)


@register(
    "07-frontend-to-backend",
    hint="write the YAML of one NetworkPolicy in namespace production that selects the backend "
    "pods (app: backend) and allows ingress from the frontend pods (app: frontend) on TCP 8080.",
)
@_graded
def frontend_to_backend(answer: Any) -> str | None:
    """A NetworkPolicy (YAML or dict) that, with the article's default-deny-ingress, lets
    production/frontend reach production/backend on 8080 and opens nothing else (pods in
    namespaces without policies stay open, as they were)."""
    try:
        objs = load(answer)
    except ManifestError as err:
        return f"kubectl cannot read it: {err}"
    if len(objs) != 1:
        return f"expected one NetworkPolicy, found {len(objs)} objects."
    policy = objs[0]
    if policy.kind != "NetworkPolicy" or policy.api_version != "networking.k8s.io/v1":
        return (
            f"that is {policy.api_version or '?'} {policy.kind or 'no kind'}; the exercise asks "
            "for a networking.k8s.io/v1 NetworkPolicy."
        )
    if not policy.get("metadata", {}).get("name"):
        return "metadata.name: Required value: give the policy a name."
    errors = validate(policy)
    if errors:
        return f"the API server rejects it: NetworkPolicy is invalid: {errors[0]}"
    ns = policy["metadata"].get("namespace")
    if ns != "production":
        return (
            f"metadata.namespace is {ns!r}: a policy selects pods only in its own namespace; "
            "put it in production."
        )
    pods = seed_pods()
    for port in PORTS:
        before = connectivity_matrix(pods, [default_deny()], NAMESPACES, port=port)
        matrix = connectivity_matrix(pods, [default_deny(), dict(policy)], NAMESPACES, port=port)
        for (src, dst), ok in matrix.allowed.items():
            # only what the policy changes counts: staging has no policy and stays open
            want = before.allowed[(src, dst)] or (src, dst, port) == ALLOWED
            if ok and not want:
                return (
                    f"it also lets {src} reach {dst} on port {port}. Remember: items of `from` are "
                    "ORed, a podSelector without namespaceSelector means this namespace, and "
                    "a rule without `ports` allows every port."
                )
            if want and not ok:
                return (
                    f"{src} still cannot reach {dst} on {port}: select the backend pods in "
                    "spec.podSelector, and allow `from` a podSelector for app: frontend with "
                    "port 8080."
                )
    return None


_LOOKUPS = [
    ("api.example.com", 5),
    ("api.example.com", 1),
    ("www.google.com", 2),
    ("api.example.com.", 5),
    ("a.b.c.d.e.example.com", 5),
    ("a.b.c.example.com", 5),
    ("a.b.c.example.com", 4),
    ("metadata", 5),
    ("db.internal", 1),
    ("db.internal", 2),
]


def _dns_cases() -> list[tuple[str, int]]:
    rng = random.Random("07-dns-queries")
    cases = list(_LOOKUPS)
    for _ in range(20):
        labels = rng.randint(1, 7)
        name = ".".join(rng.choice("abcdefg") for _ in range(labels))
        cases.append((name + ("." if rng.random() < 0.2 else ""), rng.randint(1, 6)))
    return cases


@register(
    "07-dns-queries",
    hint="replace `raise NotImplementedError` in dns_queries: a name with a trailing dot, or "
    "with at least ndots dots, is tried as given first; otherwise each of the 3 search "
    "domains comes first. Each try sends A and AAAA.",
)
@_graded
def dns_queries_exercise(dns_queries: Any) -> str | None:
    """`dns_queries(name, ndots) -> int`: queries a pod in namespace production sends to look
    up `name` (which exists only as given, outside the cluster), A and AAAA for every try."""
    if not callable(dns_queries):
        return (
            f"pass the function itself: check('07-dns-queries', dns_queries), not {dns_queries!r}."
        )
    for name, ndots in _dns_cases():
        pod = {
            "metadata": {"namespace": "production"},
            "spec": {"dnsConfig": {"options": [{"name": "ndots", "value": str(ndots)}]}},
        }
        want = len(queries_for_lookup(name, resolv_conf(pod)))
        got = _call(dns_queries, f"dns_queries({name!r}, {ndots})", name, ndots)
        if got != want:
            dots = name.rstrip(".").count(".")
            why = (
                "a trailing dot means the name is complete: only it is tried"
                if name.endswith(".")
                else f"it has {dots} dot(s), {'at least' if dots >= ndots else 'fewer than'} "
                f"ndots:{ndots}, so it is tried "
                f"{'as given first' if dots >= ndots else 'after the 3 search domains'}"
            )
            return f"dns_queries({name!r}, {ndots}) returned {got!r}, but it is {want}: {why}."
    return None


@register(
    "07-iptables-probability",
    hint="replace `raise NotImplementedError` in probability: rule i of n is only reached when "
    "rules 0..i-1 did not match; it must take 1/n of all connections.",
)
@_graded
def probability_exercise(probability: Any) -> str | None:
    """`probability(i, n) -> float`: the `--probability` of kube-proxy's i-th (0-based) of n
    endpoint rules, so that every endpoint gets 1/n of new connections."""
    if not callable(probability):
        return f"pass the function itself: check('07-iptables-probability', probability), not {probability!r}."
    for n in range(1, 9):
        for i in range(n):
            want = 1.0 / (n - i)
            got = _call(probability, f"probability({i}, {n})", i, n)
            if not isinstance(got, int | float) or abs(got - want) > 1e-9:
                return (
                    f"probability({i}, {n}) returned {got!r}, but {n - i} endpoints are left when "
                    f"rule {i} is reached, so it must match 1/{n - i} = {want:.4f} of them."
                )
    return None
