"""Chapter 05's exercises: a ReplicaSet's reconcile, a rolling update's fenceposts, the HPA's
replica formula.

The right answers come from the library: which pods a scale-down removes from
kube_teach.controllers.replicaset.pods_to_delete, the fenceposts from
deployment_util.resolve_fenceposts, the HPA's proposal from replica_calculator.is_within, so the
exercises cannot drift from the controllers the chapter runs.
"""

from __future__ import annotations

import math
from typing import Any

from ..controllers.deployment_util import resolve_fenceposts
from ..controllers.replica_calculator import is_within
from ..controllers.replicaset import pods_to_delete
from .check import register
from .exercises import _call, _graded

PHASE_ORDER = {"Pending": 0, "Unknown": 1, "Running": 2}


def pod(
    name: str,
    phase: str = "Running",
    ready: bool = True,
    node: str | None = "node-1",
    terminating: bool = False,
) -> dict[str, Any]:
    """A pod as the ReplicaSet controller's cache holds it (only the fields it reads)."""
    meta: dict[str, Any] = {"name": name, "uid": f"uid-{name}",
                            "creationTimestamp": "2025-01-01T00:00:00Z"}  # fmt: skip
    if terminating:
        meta["deletionTimestamp"] = "2025-01-01T00:01:00Z"
    spec: dict[str, Any] = {"containers": [{"name": "web", "image": "nginx:1.27"}]}
    if node:
        spec["nodeName"] = node
    status: dict[str, Any] = {"phase": phase}
    if phase == "Running":
        status["conditions"] = [{"type": "Ready", "status": "True" if ready else "False",
                                 "lastTransitionTime": "2025-01-01T00:00:10Z"}]  # fmt: skip
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status}


def is_active(p: dict[str, Any]) -> bool:
    """Counted by the controller: not Succeeded or Failed and not being deleted."""
    return p["status"].get("phase") not in ("Succeeded", "Failed") and not p["metadata"].get(
        "deletionTimestamp"
    )


def deletion_class(p: dict[str, Any]) -> tuple[int, int, int]:
    """The first three keys of upstream's ranking: unscheduled, phase, readiness."""
    conds = p["status"].get("conditions") or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)
    return (
        1 if p["spec"].get("nodeName") else 0,
        PHASE_ORDER.get(p["status"].get("phase", ""), 0),
        1 if ready else 0,
    )


def expected_reconcile(replicas: int, pods: list[dict[str, Any]]) -> tuple[int, list[str]]:
    """What the ReplicaSet controller decides: (pods to create, names of pods to delete)."""
    active = [p for p in pods if is_active(p)]
    diff = len(active) - replicas
    if diff < 0:
        return -diff, []
    chosen = pods_to_delete(active, active, diff, now=1735689700.0)
    return 0, [p["metadata"]["name"] for p in chosen]


# (replicas, pods, what the case teaches)
_RECONCILES = [
    (3, [], "an empty ReplicaSet creates every pod"),
    (3, [pod("web-a"), pod("web-b")], "one pod is missing"),
    (3, [pod("web-a"), pod("web-b"), pod("web-c")], "the count is right: do nothing"),
    (3, [pod("web-a"), pod("web-b"), pod("web-c", phase="Failed")],
     "a Failed pod does not count: one is missing"),
    (2, [pod("web-a"), pod("web-b"), pod("web-c", terminating=True)],
     "a terminating pod does not count and is not deleted again"),
    (2, [pod("web-a"), pod("web-b", phase="Pending", node=None), pod("web-c")],
     "an unscheduled pod goes first"),
    (1, [pod("web-a"), pod("web-b", ready=False), pod("web-c", phase="Pending")],
     "Pending before Running, and not Ready before Ready"),
    (1, [pod("web-a", phase="Unknown"), pod("web-b")], "Unknown goes before Running"),
    (0, [pod("web-a"), pod("web-b", phase="Pending")], "scaled to 0: every pod goes"),
    (2, [pod("web-a"), pod("web-b"), pod("web-c")], "one of three equal pods goes (any one)"),
    (2, [pod("web-a", phase="Succeeded"), pod("web-b", phase="Pending", node=None)],
     "only active pods count: one more is needed"),
]  # fmt: skip


def _label(replicas: int, pods: list[dict[str, Any]]) -> str:
    def short(p: dict[str, Any]) -> str:
        bits = [p["status"].get("phase", "")]
        if p["status"].get("phase") == "Running":
            bits.append("ready" if deletion_class(p)[2] else "not ready")
        if not p["spec"].get("nodeName"):
            bits.append("unscheduled")
        if p["metadata"].get("deletionTimestamp"):
            bits.append("terminating")
        return f"{p['metadata']['name']} ({', '.join(bits)})"

    return f"replicaset_reconcile({replicas}, [{'; '.join(short(p) for p in pods)}])"


@register(
    "05-replicaset-reconcile",
    hint="replace `raise NotImplementedError` in replicaset_reconcile: count the active pods "
    "(not Succeeded/Failed, no deletionTimestamp); create the missing ones, or delete the "
    "surplus: unscheduled first, then Pending, Unknown, Running; not Ready before Ready.",
)
@_graded
def replicaset_reconcile_exercise(replicaset_reconcile: Any) -> str | None:
    """`replicaset_reconcile(replicas, pods) -> (create, delete)`: how many pods to create and
    the names of the pods to delete, as the ReplicaSet controller decides."""
    if not callable(replicaset_reconcile):
        return (
            "pass the function itself: check('05-replicaset-reconcile', replicaset_reconcile), "
            f"not {replicaset_reconcile!r}."
        )
    for replicas, pods, why in _RECONCILES:
        label = _label(replicas, pods)
        got = _call(replicaset_reconcile, label, replicas, [dict(p) for p in pods])
        if not (isinstance(got, tuple | list) and len(got) == 2):
            return f"{label} returned {got!r}; return a pair (create, delete)."
        create, delete = got
        want_create, want_delete = expected_reconcile(replicas, pods)
        if create != want_create:
            return f"{label} creates {create!r}, but {want_create} must be created: {why}."
        if not isinstance(delete, list | tuple) or not all(isinstance(n, str) for n in delete):
            return f"{label} returned delete={delete!r}; give a list of pod names."
        by_name = {p["metadata"]["name"]: p for p in pods}
        unknown = [n for n in delete if n not in by_name or not is_active(by_name[n])]
        if unknown:
            return f"{label} deletes {unknown[0]!r}, which is not an active pod: {why}."
        if len(set(delete)) != len(delete):
            return f"{label} names the same pod twice in delete."
        got_classes = sorted(deletion_class(by_name[n]) for n in delete)
        want_classes = sorted(deletion_class(by_name[n]) for n in want_delete)
        if got_classes != want_classes:  # ties between equal pods: any choice is right here
            return f"{label} deletes {sorted(delete)}, but upstream deletes {want_delete}: {why}."
    return None


# (maxSurge, maxUnavailable, replicas)
_FENCEPOSTS = [
    ("25%", "25%", 10), ("25%", "25%", 4), ("25%", "25%", 3), ("25%", "25%", 1),
    ("39%", "39%", 10), ("0%", "0%", 10), ("50%", "50%", 5), ("100%", "0%", 3),
    ("0%", "100%", 3), (2, 0, 5), (0, 0, 5), (1, 1, 3), ("10%", 1, 4), ("25%", "25%", 0),
]  # fmt: skip


@register(
    "05-fenceposts",
    hint="replace `raise NotImplementedError` in fenceposts: a percentage of maxSurge rounds "
    "up, of maxUnavailable rounds down; integers stay; if both end up 0, maxUnavailable is 1.",
)
@_graded
def fenceposts_exercise(fenceposts: Any) -> str | None:
    """`fenceposts(max_surge, max_unavailable, replicas) -> (surge, unavailable)`."""
    if not callable(fenceposts):
        return f"pass the function itself: check('05-fenceposts', fenceposts), not {fenceposts!r}."
    for surge, unavailable, replicas in _FENCEPOSTS:
        label = f"fenceposts({surge!r}, {unavailable!r}, {replicas})"
        got = _call(fenceposts, label, surge, unavailable, replicas)
        want = resolve_fenceposts(surge, unavailable, replicas)
        if not (isinstance(got, tuple | list) and len(got) == 2):
            return f"{label} returned {got!r}; return a pair (surge, unavailable)."
        if tuple(got) != want:
            why = ""
            if want == (0, 1):
                why = " Both came out 0, so maxUnavailable becomes 1 or the rollout could not move."
            elif got[0] != want[0]:
                why = " maxSurge rounds up."
            elif got[1] != want[1]:
                why = " maxUnavailable rounds down."
            return f"{label} returned {tuple(got)!r}, but the controller uses {want}.{why}"
    return None


# (current replicas, current utilization %, target %)
_HPA = [
    (1, 200, 50), (3, 90, 50), (4, 20, 50), (2, 54, 50), (2, 46, 50), (5, 56, 50),
    (10, 44, 50), (3, 100, 100), (7, 35, 60), (1, 10, 80),
]  # fmt: skip


def expected_hpa(current: int, utilization: int, target: int) -> int:
    ratio = utilization / target
    return current if is_within(ratio) else math.ceil(ratio * current)


@register(
    "05-hpa-replicas",
    hint="replace `raise NotImplementedError` in hpa_desired_replicas: ratio = utilization / "
    "target; within 10 % of 1 keep current, else ceil(ratio × current).",
)
@_graded
def hpa_exercise(hpa_desired_replicas: Any) -> str | None:
    """`hpa_desired_replicas(current, utilization, target) -> int` (before min/max and rates)."""
    if not callable(hpa_desired_replicas):
        return (
            "pass the function itself: check('05-hpa-replicas', hpa_desired_replicas), "
            f"not {hpa_desired_replicas!r}."
        )
    for current, utilization, target in _HPA:
        label = f"hpa_desired_replicas({current}, {utilization}, {target})"
        got = _call(hpa_desired_replicas, label, current, utilization, target)
        want = expected_hpa(current, utilization, target)
        if got != want:
            ratio = utilization / target
            why = (
                f"the ratio {ratio:.2f} is within the 0.1 tolerance of 1, so nothing changes"
                if is_within(ratio)
                else f"ceil({ratio:.2f} × {current}) = {want}"
            )
            return f"{label} returned {got!r}, but the HPA proposes {want}: {why}."
    return None


__all__ = ["deletion_class", "expected_hpa", "expected_reconcile", "pod"]
