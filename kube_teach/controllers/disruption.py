"""PodDisruptionBudgets: how many pods may be disrupted now, and whether an eviction may go.

Semantics: pkg/controller/disruption/disruption.go (getExpectedPodCount, countHealthyPods,
buildDisruptedPodMap, updatePdbStatus), pkg/apis/policy helpers (DisruptionAllowed condition)
and the eviction subresource (registry/core/pod/storage/eviction.go). Times in seconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..api.eviction import (
    EvictionDecision,
    _allowed_condition,
    _set_status_condition,
    evict,
)
from ._util import (
    IntOrStringError,
    controller_ref,
    deleting,
    is_pod_ready,
    labels,
    meta,
    name,
    parse_time,
    scaled_value,
    selector_matches,
    spec,
    status,
)

DELETION_TIMEOUT = 120.0  # seconds a disrupted pod is expected to take to be deleted
SYNC_FAILED = "SyncFailed"

__all__ = [
    "DELETION_TIMEOUT",
    "BudgetStatus",
    "EvictionDecision",
    "disruptions_allowed",
    "evict",
    "expected_scale",
    "pods_for_pdb",
    "sync_failed",
]


def pods_for_pdb(
    pdb: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """The pods of the PDB's namespace its selector matches (nil selects none, {} all)."""
    ns = meta(pdb).get("namespace")
    return [
        p
        for p in pods
        if (not ns or not meta(p).get("namespace") or meta(p).get("namespace") == ns)
        and selector_matches(spec(pdb).get("selector"), labels(p))
    ]


def expected_scale(
    pods: Sequence[Mapping[str, Any]],
    scales: Mapping[str, int],
    workload_of: Mapping[str, str] | None = None,
) -> tuple[int, list[str]]:
    """(Σ scale of the controllers of `pods`, names of pods without a controller).

    `scales` maps a controller's UID (the pod's controller ref, e.g. a ReplicaSet) to the
    replicas of the workload it stands for (for a Deployment's ReplicaSet, the Deployment's
    spec.replicas). `workload_of` maps such a UID to the workload's own UID, so that the old
    and new ReplicaSets of one Deployment count its scale once, as upstream's finders do.
    A controlled pod whose controller is not in `scales` raises ValueError
    ("found no controllers for pod ...").
    """
    seen: dict[str, int] = {}
    unmanaged = []
    for pod in pods:
        ref = controller_ref(pod)
        if ref is None:
            unmanaged.append(name(pod))
            continue
        ref_uid = ref.get("uid") or ""
        if ref_uid not in scales:
            raise ValueError(f'found no controllers for pod "{name(pod)}"')
        seen[(workload_of or {}).get(ref_uid, ref_uid)] = int(scales[ref_uid])
    return sum(seen.values()), unmanaged


class BudgetStatus(int):
    """disruptionsAllowed as an int, carrying the rest of the PDB status it was computed with.

    Attributes: current_healthy, desired_healthy, expected_pods, disruptions_allowed,
    disrupted_pods (name → RFC 3339), recheck_after (seconds, or None), unmanaged_pods and
    conditions. `as_dict()` (or indexing by field name) gives the policy/v1 status.
    """

    current_healthy: int
    desired_healthy: int
    expected_pods: int
    disrupted_pods: dict[str, str]
    recheck_after: float | None
    unmanaged_pods: list[str]
    conditions: list[dict]
    observed_generation: int

    @property
    def disruptions_allowed(self) -> int:
        return int(self)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "observedGeneration": self.observed_generation,
            "currentHealthy": self.current_healthy,
            "desiredHealthy": self.desired_healthy,
            "expectedPods": self.expected_pods,
            "disruptionsAllowed": int(self),
            "conditions": self.conditions,
        }
        if self.disrupted_pods:
            out["disruptedPods"] = dict(self.disrupted_pods)
        return out

    def __getitem__(self, key: str) -> Any:
        return self.as_dict()[key]


def _desired(
    pdb: Mapping[str, Any], pods: Sequence[Mapping[str, Any]], scale: int | None
) -> tuple[int, int]:
    """(expectedCount, desiredHealthy) as getExpectedPodCount computes them."""
    max_unavailable = spec(pdb).get("maxUnavailable")
    min_available = spec(pdb).get("minAvailable")
    if max_unavailable is not None:
        expected = _need_scale(scale)
        desired = expected - scaled_value(max_unavailable, expected, True)
        return expected, max(desired, 0)
    if min_available is not None:
        if isinstance(min_available, int) and not isinstance(min_available, bool):
            return len(pods), min_available
        expected = _need_scale(scale)
        return expected, scaled_value(min_available, expected, True)
    return 0, 0


def _need_scale(scale: int | None) -> int:
    if scale is None:
        raise ValueError("expected_count is needed for a percentage or maxUnavailable budget")
    return int(scale)


def disruptions_allowed(
    pdb: Mapping[str, Any],
    pods: Sequence[Mapping[str, Any]],
    expected_count: int | None = None,
    now: float | None = None,
) -> BudgetStatus:
    """How many of the PDB's pods may be disrupted now, with the status the controller writes.

    `pods` are filtered by the PDB's selector. expectedPods: for an integer minAvailable, the
    number of pods; for a percentage minAvailable or any maxUnavailable, `expected_count`
    (Σ scale of the pods' controllers, see expected_scale). desiredHealthy: minAvailable
    as is or ceil(p% × expected); expected − maxUnavailable (ceil for a percentage), at least
    0. currentHealthy: Ready pods not being deleted and not disrupted in the last 2 minutes
    (status.disruptedPods, at `now`). The result is currentHealthy − desiredHealthy, or 0 when
    that is negative or expectedPods ≤ 0; the DisruptionAllowed condition says SufficientPods
    or InsufficientPods, or SyncFailed (with 0 allowed) for an invalid IntOrString.
    """
    selected = pods_for_pdb(pdb, pods)
    unmanaged = [name(p) for p in selected if controller_ref(p) is None]
    generation = int(meta(pdb).get("generation") or 0)
    try:
        expected, desired = _desired(pdb, selected, expected_count)
    except IntOrStringError as err:
        return sync_failed(pdb, str(err), now)
    disrupted, recheck = _disrupted_pod_map(pdb, selected, now)
    current = 0
    for pod in selected:
        if deleting(pod):
            continue
        since = disrupted.get(name(pod))
        if since is not None and (now is None or parse_time(since) + DELETION_TIMEOUT > now):
            continue
        if is_pod_ready(pod):
            current += 1
    allowed = current - desired
    if expected <= 0 or allowed <= 0:
        allowed = 0
    result = BudgetStatus(allowed)
    result.current_healthy, result.desired_healthy, result.expected_pods = (
        current,
        desired,
        expected,
    )
    result.disrupted_pods = disrupted
    result.recheck_after = None if recheck is None or now is None else recheck - now
    result.unmanaged_pods = unmanaged
    result.observed_generation = generation
    result.conditions = _allowed_condition(status(pdb).get("conditions"), allowed, generation, now)
    return result


def sync_failed(pdb: Mapping[str, Any], message: str, now: float | None) -> BudgetStatus:
    """failSafe: the status kept, disruptionsAllowed 0, DisruptionAllowed False (SyncFailed)."""
    st = status(pdb)
    result = BudgetStatus(0)
    result.current_healthy = int(st.get("currentHealthy") or 0)
    result.desired_healthy = int(st.get("desiredHealthy") or 0)
    result.expected_pods = int(st.get("expectedPods") or 0)
    result.disrupted_pods = dict(st.get("disruptedPods") or {})
    result.recheck_after, result.unmanaged_pods = None, []
    result.observed_generation = int(st.get("observedGeneration") or 0)
    new = {"type": "DisruptionAllowed", "status": "False", "reason": SYNC_FAILED, "message": message,
           "observedGeneration": result.observed_generation}  # fmt: skip
    result.conditions = _set_status_condition(st.get("conditions"), new, now)
    return result


def _disrupted_pod_map(
    pdb: Mapping[str, Any], pods: Sequence[Mapping[str, Any]], now: float | None
) -> tuple[dict[str, str], float | None]:
    """Entries of status.disruptedPods still expected to go, and when to look again."""
    recorded = status(pdb).get("disruptedPods")
    result: dict[str, str] = {}
    recheck = None
    if not recorded:
        return result, recheck
    for pod in pods:
        if deleting(pod) or name(pod) not in recorded:
            continue
        since = recorded[name(pod)]
        expected_deletion = parse_time(since) + DELETION_TIMEOUT
        if now is not None and expected_deletion < now:
            continue  # it was expected to be deleted but was not: forget it
        if recheck is None or expected_deletion < recheck:
            recheck = expected_deletion
        result[name(pod)] = since
    return result, recheck
