"""The eviction subresource's decision: may this pod be evicted, given its PodDisruptionBudgets?

Semantics: pkg/registry/core/pod/storage/eviction.go (with the unhealthyPodEvictionPolicy of
policy/v1) and the PDB condition helpers of pkg/controller/disruption. Pure functions over object
dicts, shared by the API server's `pods/eviction` handler and the disruption controller.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .access import deleting, format_time, is_pod_ready, meta, name, spec, status

MAX_DISRUPTED_POD_SIZE = 2000
SUFFICIENT_PODS = "SufficientPods"
INSUFFICIENT_PODS = "InsufficientPods"


def _allowed_condition(
    conditions: Sequence[Mapping[str, Any]] | None, allowed: int, generation: int, now: float | None
) -> list[dict]:
    if allowed > 0:
        new = {
            "type": "DisruptionAllowed",
            "status": "True",
            "reason": SUFFICIENT_PODS,
            "message": "",
        }
    else:
        new = {
            "type": "DisruptionAllowed",
            "status": "False",
            "reason": INSUFFICIENT_PODS,
            "message": "",
        }
    new["observedGeneration"] = generation
    return _set_status_condition(conditions, new, now)


def _set_status_condition(
    conditions: Sequence[Mapping[str, Any]] | None, new: dict, now: float | None
) -> list[dict]:
    """meta.SetStatusCondition: lastTransitionTime changes only with the status."""
    result = [dict(c) for c in conditions or ()]
    for c in result:
        if c.get("type") == new["type"]:
            if c.get("status") != new["status"]:
                c["status"] = new["status"]
                c["lastTransitionTime"] = format_time(now) if now is not None else None
            c.update(
                reason=new["reason"],
                message=new["message"],
                observedGeneration=new["observedGeneration"],
            )
            return result
    new = dict(new)
    new["lastTransitionTime"] = format_time(now) if now is not None else None
    return [*result, new]


@dataclass
class EvictionDecision:
    """The eviction subresource's answer: `allowed` means the pod is deleted; otherwise `code`
    (429, 500, 403) and `message`, with `causes`. `pdb_status` is the budget's status after a
    decremented eviction (disruptionsAllowed − 1, the pod added to disruptedPods)."""

    allowed: bool
    code: int = 201
    message: str = ""
    causes: list[str] = field(default_factory=list)
    pdb_status: dict | None = None
    retry_after: int | None = None


def _too_many(message: str, cause: str, retry_after: int = 0) -> EvictionDecision:
    return EvictionDecision(False, 429, message, [cause], None, retry_after or None)


def evict(
    pod: Mapping[str, Any], pdbs: Sequence[Mapping[str, Any]], now: float
) -> EvictionDecision:
    """Whether `POST pods/<name>/eviction` deletes `pod`, given the PDBs whose selector matches it.

    Terminal, Pending or terminating pods and pods without a PDB go. More than one PDB: 500.
    A not-Ready pod goes without touching the budget under unhealthyPodEvictionPolicy
    AlwaysAllow, or under IfHealthyBudget (the default) when currentHealthy ≥ desiredHealthy > 0.
    Otherwise the budget must be observed and have disruptionsAllowed > 0.
    """
    if status(pod).get("phase") in ("Succeeded", "Failed", "Pending") or deleting(pod):
        return EvictionDecision(True)
    if not pdbs:
        return EvictionDecision(True)
    if len(pdbs) > 1:
        return EvictionDecision(
            False,
            500,
            "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
        )
    pdb = pdbs[0]
    st = status(pdb)
    if not is_pod_ready(pod):
        policy = spec(pdb).get("unhealthyPodEvictionPolicy") or "IfHealthyBudget"
        if policy == "AlwaysAllow":
            return EvictionDecision(True)
        if int(st.get("currentHealthy") or 0) >= int(st.get("desiredHealthy") or 0) > 0:
            return EvictionDecision(True)
    message = "Cannot evict pod as it would violate the pod's disruption budget."
    if int(st.get("observedGeneration") or 0) < int(meta(pdb).get("generation") or 0):
        cause = f"The disruption budget {name(pdb)} is still being processed by the server."
        return _too_many(message, cause, 10)
    allowed = int(st.get("disruptionsAllowed") or 0)
    if allowed < 0:
        return EvictionDecision(False, 403, "pdb disruptions allowed is negative")
    if len(st.get("disruptedPods") or {}) > MAX_DISRUPTED_POD_SIZE:
        return EvictionDecision(
            False,
            403,
            "DisruptedPods map too big - too many evictions not confirmed by PDB controller",
        )
    if allowed == 0:
        cause = (
            f"The disruption budget {name(pdb)} needs {int(st.get('desiredHealthy') or 0)} "
            f"healthy pods and has {int(st.get('currentHealthy') or 0)} currently"
        )
        return _too_many(message, cause)
    new_status = copy.deepcopy(dict(st))
    new_status["disruptionsAllowed"] = allowed - 1
    if allowed - 1 == 0:
        new_status["conditions"] = _allowed_condition(
            new_status.get("conditions"), 0, int(st.get("observedGeneration") or 0), now
        )
    new_status["disruptedPods"] = {**(st.get("disruptedPods") or {}), name(pod): format_time(now)}
    return EvictionDecision(True, pdb_status=new_status)
