"""Chapter 09's exercises: which failure domain an etcd cluster can lose, and how long a write
to a member without a leader waits before `etcdserver: request timed out`.

The right answers come from the library: quorums from kube_teach.etcd.quorum, the request
timeout from the etcd member's own configuration (kube_teach.etcd.member.MemberConfig).
"""

from __future__ import annotations

import random
from typing import Any

from ..etcd.member import MemberConfig
from ..etcd.quorum import quorum_size
from .check import register
from .exercises import _call, _graded

MS = 1_000_000


def survives(placement: dict[str, int], lost: str) -> bool:
    """The reference: do the members outside `lost` still make a quorum of the whole cluster?"""
    total = sum(placement.values())
    return total - placement[lost] >= quorum_size(total)


# (placement, lost domain, why), the chapter's layouts first
_PLACEMENTS: list[tuple[dict[str, int], str, str]] = [
    ({"dc-a": 2, "dc-b": 3}, "dc-a", "the seed's split: the 3 members of dc-b are a quorum of 5"),
    ({"dc-a": 2, "dc-b": 3}, "dc-b", "the 2 members left are not a quorum of 5 (3 needed)"),
    ({"zone-a": 2, "zone-b": 2, "zone-c": 1}, "zone-a", "3 of 5 members are left"),
    ({"zone-a": 2, "zone-b": 2, "zone-c": 1}, "zone-c", "4 of 5 members are left"),
    ({"dc-a": 2, "dc-b": 2}, "dc-a", "an even split: 2 of 4 is not a quorum (3 needed)"),
    ({"dc-a": 2, "dc-b": 2}, "dc-b", "an even split: neither half is a quorum"),
    ({"zone-a": 1, "zone-b": 1, "zone-c": 1}, "zone-b", "2 of 3 members are left"),
    ({"rack-1": 3}, "rack-1", "every member was in the lost rack"),
    ({"rack-1": 3, "rack-2": 0}, "rack-2", "the lost rack held no member"),
    ({"zone-a": 3, "zone-b": 3, "zone-c": 1}, "zone-a", "4 of 7 members are left"),
]


def _placement_cases() -> list[tuple[dict[str, int], str]]:
    rng = random.Random("09-survives")
    cases = [(dict(p), lost) for p, lost, _ in _PLACEMENTS]
    for _ in range(40):
        domains = [f"zone-{c}" for c in "abcd"[: rng.randint(1, 4)]]
        placement = {d: rng.randint(0, 4) for d in domains}
        if sum(placement.values()) == 0:
            placement[domains[0]] = 1
        cases.append((placement, rng.choice(domains)))
    return cases


@register(
    "09-survives",
    hint="replace `raise NotImplementedError` in survives: add up every member, take away the "
    "lost domain's, and compare what is left with a majority of the whole cluster.",
)
@_graded
def survives_exercise(answer: Any) -> str | None:
    """`survives(placement, lost) -> bool`: does etcd keep a quorum when domain `lost` is cut off?"""
    if not callable(answer):
        return f"pass the function itself: check('09-survives', survives), not {answer!r}."
    why = {(tuple(sorted(p.items())), lost): text for p, lost, text in _PLACEMENTS}
    for placement, lost in _placement_cases():
        want = survives(placement, lost)
        given = dict(placement)
        label = f"survives({placement}, {lost!r})"
        got = _call(answer, label, given, lost)
        if given != placement:
            return f"{label} changed its argument: only read it."
        if not isinstance(got, bool):
            return f"{label} returned {got!r}: answer True or False."
        if got != want:
            total = sum(placement.values())
            text = why.get((tuple(sorted(placement.items())), lost)) or (
                f"{total - placement[lost]} of {total} members are left and a quorum is "
                f"{quorum_size(total)}"
            )
            return f"{label} returned {got}, but it should be {want}: {text}."
    return None


def request_timeout(election_timeout_ms: int) -> float:
    """The reference: etcd's ReqTimeout in seconds for a given --election-timeout."""
    return MemberConfig(election_ns=election_timeout_ms * MS).request_timeout_ns / 1e9


@register(
    "09-request-timeout",
    hint="replace `raise NotImplementedError` in request_timeout: etcd waits a fixed 5 s plus "
    "two election timeouts before answering `etcdserver: request timed out`.",
)
@_graded
def request_timeout_exercise(answer: Any) -> str | None:
    """`request_timeout(election_timeout_ms) -> float`: seconds before etcd gives up on a write."""
    if not callable(answer):
        return (
            f"pass the function itself: check('09-request-timeout', request_timeout), "
            f"not {answer!r}."
        )
    for ms in (1000, 100, 500, 2500, 5000, 50000):
        want = request_timeout(ms)
        label = f"request_timeout({ms})"
        got = _call(answer, label, ms)
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            return f"{label} returned {got!r}: answer a number of seconds."
        if abs(got - want) > 1e-9:
            return (
                f"{label} returned {got!r}, but etcd waits {want:g} s with "
                f"--election-timeout={ms} (the default, 1000 ms, gives {request_timeout(1000):g} s)."
            )
    return None


__all__ = ["request_timeout", "survives"]
