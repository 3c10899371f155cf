"""Deployment status: replica counts, the Progressing and Available conditions, rollout status.

Semantics: deployment controller's sync.go (calculateStatus), progress.go (syncRolloutStatus,
requeueStuckDeployment), deployment_util.go (DeploymentComplete/Progressing/TimedOut) and
kubectl's DeploymentStatusViewer. Times are seconds since the epoch; conditions carry RFC 3339.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from ._util import ZERO_TIME, condition, format_time, meta, name, parse_time, spec, status
from .deployment_util import (
    REVISION_ANNOTATION,
    actual_replica_count,
    available_replica_count,
    max_unavailable,
    ready_replica_count,
    replica_count,
    replicas,
)
from .deployment_util import (
    revision as _revision,
)

# Condition reasons (deployment_util.go).
REPLICA_SET_UPDATED = "ReplicaSetUpdated"
FAILED_RS_CREATE = "ReplicaSetCreateError"
NEW_REPLICA_SET = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"
MINIMUM_REPLICAS_AVAILABLE = "MinimumReplicasAvailable"
MINIMUM_REPLICAS_UNAVAILABLE = "MinimumReplicasUnavailable"
_MAX_INT32 = 2**31 - 1


class RolloutStatusError(ValueError):
    """What `kubectl rollout status` reports as an error (deadline exceeded, wrong revision)."""


# -- conditions --------------------------------------------------------------------------------
def new_condition(kind: str, cond_status: str, reason: str, message: str, now: float) -> dict:
    """A DeploymentCondition stamped `now` for both update and transition times."""
    stamp = format_time(now)
    return {
        "type": kind,
        "status": cond_status,
        "lastUpdateTime": stamp,
        "lastTransitionTime": stamp,
        "reason": reason,
        "message": message,
    }


def set_condition(st: dict[str, Any], cond: dict[str, Any]) -> None:
    """SetDeploymentCondition: no change when status and reason are the same; the transition
    time is kept when only the reason changes; the condition moves to the end of the list."""
    current = condition(st.get("conditions"), cond["type"])
    if current is not None and current.get("status") == cond["status"]:
        if current.get("reason") == cond["reason"]:
            return
        cond = {**cond, "lastTransitionTime": current.get("lastTransitionTime")}
    remove_condition(st, cond["type"])
    st["conditions"] = [*st.get("conditions", []), cond]


def remove_condition(st: dict[str, Any], kind: str) -> None:
    kept = [c for c in st.get("conditions") or () if c.get("type") != kind]
    if kept or "conditions" in st:
        st["conditions"] = kept


# -- predicates --------------------------------------------------------------------------------
def _int(st: Mapping[str, Any], key: str) -> int:
    return int(st.get(key) or 0)


def has_progress_deadline(d: Mapping[str, Any]) -> bool:
    pds = spec(d).get("progressDeadlineSeconds")
    return pds is not None and pds != _MAX_INT32


def deployment_complete(d: Mapping[str, Any], new_status: Mapping[str, Any]) -> bool:
    """All replicas updated, no old ones left, all available, and the spec observed."""
    want = replicas(d)
    return (
        _int(new_status, "updatedReplicas") == want
        and _int(new_status, "replicas") == want
        and _int(new_status, "availableReplicas") == want
        and _int(new_status, "observedGeneration") >= int(meta(d).get("generation") or 0)
    )


def deployment_progressing(d: Mapping[str, Any], new_status: Mapping[str, Any]) -> bool:
    """More updated, fewer old, more ready or more available replicas than d.status."""
    old = status(d)
    old_old = _int(old, "replicas") - _int(old, "updatedReplicas")
    new_old = _int(new_status, "replicas") - _int(new_status, "updatedReplicas")
    return (
        _int(new_status, "updatedReplicas") > _int(old, "updatedReplicas")
        or new_old < old_old
        or _int(new_status, "readyReplicas") > _int(old, "readyReplicas")
        or _int(new_status, "availableReplicas") > _int(old, "availableReplicas")
    )


def deployment_timed_out(d: Mapping[str, Any], new_status: Mapping[str, Any], now: float) -> bool:
    """The Progressing condition was last updated more than progressDeadlineSeconds ago."""
    if not has_progress_deadline(d):
        return False
    cond = condition(new_status.get("conditions"), "Progressing")
    if cond is None or cond.get("reason") == NEW_RS_AVAILABLE:
        return False
    if cond.get("reason") == TIMED_OUT:
        return True
    since = parse_time(cond.get("lastUpdateTime"), ZERO_TIME)
    return since + int(spec(d)["progressDeadlineSeconds"]) < now


# -- status ------------------------------------------------------------------------------------
def calculate_status(
    all_rss: Sequence[Mapping[str, Any] | None],
    new_rs: Mapping[str, Any] | None,
    d: Mapping[str, Any],
    now: float,
) -> dict[str, Any]:
    """The DeploymentStatus the controller computes from its ReplicaSets (calculateStatus).

    Counts come from the RSes' status (replicas, updatedReplicas from the new RS, ready,
    available); unavailableReplicas from their spec; the Available condition is True
    (MinimumReplicasAvailable) when available ≥ spec.replicas − maxUnavailable.
    """
    available = available_replica_count(all_rss)
    unavailable = max(replica_count(all_rss) - available, 0)
    new_status: dict[str, Any] = {
        "observedGeneration": int(meta(d).get("generation") or 0),
        "replicas": actual_replica_count(all_rss),
        "updatedReplicas": actual_replica_count([new_rs]),
        "readyReplicas": ready_replica_count(all_rss),
        "availableReplicas": available,
        "unavailableReplicas": unavailable,
        "conditions": copy.deepcopy(list(status(d).get("conditions") or [])),
    }
    if status(d).get("collisionCount") is not None:
        new_status["collisionCount"] = status(d)["collisionCount"]
    if available >= replicas(d) - max_unavailable(d):
        cond = new_condition(
            "Available",
            "True",
            MINIMUM_REPLICAS_AVAILABLE,
            "Deployment has minimum availability.",
            now,
        )
    else:
        cond = new_condition(
            "Available",
            "False",
            MINIMUM_REPLICAS_UNAVAILABLE,
            "Deployment does not have minimum availability.",
            now,
        )
    set_condition(new_status, cond)
    return new_status


def rollout_status_update(
    all_rss: Sequence[Mapping[str, Any] | None],
    new_rs: Mapping[str, Any] | None,
    d: Mapping[str, Any],
    now: float,
) -> dict[str, Any]:
    """The status syncRolloutStatus writes: calculate_status plus the Progressing condition
    (NewReplicaSetAvailable when complete, ReplicaSetUpdated on progress, ProgressDeadlineExceeded
    past the deadline) and any ReplicaFailure condition taken from the ReplicaSets."""
    new_status = calculate_status(all_rss, new_rs, d, now)
    if not has_progress_deadline(d):
        remove_condition(new_status, "Progressing")
    current = condition(status(d).get("conditions"), "Progressing")
    is_complete = (
        _int(new_status, "replicas") == _int(new_status, "updatedReplicas")
        and current is not None
        and current.get("reason") == NEW_RS_AVAILABLE
    )
    subject = f'ReplicaSet "{name(new_rs)}"' if new_rs is not None else f'Deployment "{name(d)}"'
    if has_progress_deadline(d) and not is_complete:
        if deployment_complete(d, new_status):
            msg = f"{subject} has successfully progressed."
            set_condition(
                new_status, new_condition("Progressing", "True", NEW_RS_AVAILABLE, msg, now)
            )
        elif deployment_progressing(d, new_status):
            msg = f"{subject} is progressing."
            cond = new_condition("Progressing", "True", REPLICA_SET_UPDATED, msg, now)
            if current is not None:
                if current.get("status") == "True":
                    cond["lastTransitionTime"] = current.get("lastTransitionTime")
                remove_condition(new_status, "Progressing")
            set_condition(new_status, cond)
        elif deployment_timed_out(d, new_status, now):
            msg = f"{subject} has timed out progressing."
            set_condition(new_status, new_condition("Progressing", "False", TIMED_OUT, msg, now))
    failure = _replica_failure(all_rss, new_rs)
    if failure is not None:
        set_condition(new_status, failure)
    else:
        remove_condition(new_status, "ReplicaFailure")
    return new_status


def _replica_failure(
    all_rss: Sequence[Mapping[str, Any] | None], new_rs: Mapping[str, Any] | None
) -> dict | None:
    """The first ReplicaFailure condition, new RS first (getReplicaFailures)."""
    ordered = ([new_rs] if new_rs is not None else []) + [
        rs for rs in all_rss if rs is not None and rs is not new_rs
    ]
    for rs in ordered:
        cond = condition(status(rs).get("conditions"), "ReplicaFailure")
        if cond is not None:
            return {
                "type": "ReplicaFailure",
                "status": cond.get("status"),
                "lastUpdateTime": cond.get("lastTransitionTime"),
                "lastTransitionTime": cond.get("lastTransitionTime"),
                "reason": cond.get("reason", ""),
                "message": cond.get("message", ""),
            }
    return None


def requeue_stuck_deployment(
    d: Mapping[str, Any], new_status: Mapping[str, Any], now: float
) -> float:
    """Seconds until the deployment should be checked for a timed-out rollout.

    -1 when there is nothing to wait for (no deadline, no Progressing condition, complete or
    already timed out), 0 when the deadline is less than a second away.
    """
    current = condition(status(d).get("conditions"), "Progressing")
    if not has_progress_deadline(d) or current is None:
        return -1
    if deployment_complete(d, new_status) or current.get("reason") == TIMED_OUT:
        return -1
    since = parse_time(current.get("lastUpdateTime"), ZERO_TIME)
    after = since + int(spec(d)["progressDeadlineSeconds"]) - now
    return 0 if after < 1 else after


def paused_condition_update(d: Mapping[str, Any], now: float) -> dict | None:
    """The Progressing condition checkPausedConditions sets when a deployment is paused
    (DeploymentPaused, Unknown) or resumed (DeploymentResumed); None when nothing changes."""
    if not has_progress_deadline(d):
        return None
    cond = condition(status(d).get("conditions"), "Progressing")
    if cond is not None and cond.get("reason") == TIMED_OUT:
        return None
    paused_exists = cond is not None and cond.get("reason") == PAUSED
    if spec(d).get("paused") and not paused_exists:
        return new_condition("Progressing", "Unknown", PAUSED, "Deployment is paused", now)
    if not spec(d).get("paused") and paused_exists:
        return new_condition("Progressing", "Unknown", RESUMED, "Deployment is resumed", now)
    return None


# -- kubectl rollout status --------------------------------------------------------------------
def rollout_status(d: Mapping[str, Any], revision: int = 0) -> tuple[str, bool]:
    """(message, done) as `kubectl rollout status deployment/<name>` prints one poll.

    Messages end with a newline, as kubectl's status viewer returns them. A Progressing
    condition with reason ProgressDeadlineExceeded, or a revision other than `revision`
    (when > 0), raises RolloutStatusError with kubectl's text.
    """
    dname = name(d)
    if revision > 0:
        try:
            current = _revision(d)
        except ValueError as err:
            raise RolloutStatusError(
                f'cannot get the revision of deployment "{dname}": {err}'
            ) from None
        if current != revision:
            raise RolloutStatusError(
                f"desired revision ({revision}) is different from the running revision ({current})"
            )
    st = status(d)
    if int(meta(d).get("generation") or 0) <= _int(st, "observedGeneration"):
        cond = condition(st.get("conditions"), "Progressing")
        if cond is not None and cond.get("reason") == TIMED_OUT:
            raise RolloutStatusError(f'deployment "{dname}" exceeded its progress deadline')
        want = spec(d).get("replicas")
        updated = _int(st, "updatedReplicas")
        prefix = f'Waiting for deployment "{dname}" rollout to finish: '
        if want is not None and updated < want:
            return f"{prefix}{updated} out of {want} new replicas have been updated...\n", False
        if _int(st, "replicas") > updated:
            pending = _int(st, "replicas") - updated
            return f"{prefix}{pending} old replicas are pending termination...\n", False
        if _int(st, "availableReplicas") < updated:
            available = _int(st, "availableReplicas")
            return f"{prefix}{available} of {updated} updated replicas are available...\n", False
        return f'deployment "{dname}" successfully rolled out\n', True
    return "Waiting for deployment spec update to be observed...\n", False


__all__ = [
    "REVISION_ANNOTATION",
    "RolloutStatusError",
    "calculate_status",
    "deployment_complete",
    "deployment_progressing",
    "deployment_timed_out",
    "has_progress_deadline",
    "new_condition",
    "paused_condition_update",
    "remove_condition",
    "requeue_stuck_deployment",
    "rollout_status",
    "rollout_status_update",
    "set_condition",
]
