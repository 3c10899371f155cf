"""`kubectl rollout undo`, `history` and `status` for Deployments, as pure functions over a
Deployment and its ReplicaSets.

Semantics: kubectl's polymorphichelpers (rollback.go: DeploymentRollbacker, deploymentRevision;
history.go: DeploymentHistoryViewer) and rollout_status.go. apps/v1 has no server-side rollback:
kubectl copies the chosen ReplicaSet's pod template (without pod-template-hash) and annotations
into the Deployment; the controller then finds that ReplicaSet as the new one and bumps its
revision, appending the old number to revision-history.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._util import annotations, controller_ref, meta, name, spec, uid
from .deployment_status import RolloutStatusError, rollout_status
from .deployment_util import (
    ANNOTATIONS_TO_SKIP,
    POD_TEMPLATE_HASH_LABEL,
    equal_ignore_hash,
    revision,
)

CHANGE_CAUSE_ANNOTATION = "kubernetes.io/change-cause"
ROLLBACK_SUCCESS = "rolled back"
ROLLBACK_SKIPPED = "skipped rollback"


class RollbackError(ValueError):
    """`kubectl rollout undo` refused; the message is kubectl's (after `error: `)."""


@dataclass(frozen=True)
class Rollback:
    """What `rollout undo` does: the Deployment to write (`deployment`, None when skipped), the
    revision it goes back to, and the word kubectl prints after `deployment.apps/<name>`."""

    deployment: dict[str, Any] | None
    revision: int
    message: str


def owned_replica_sets(
    deployment: Mapping[str, Any], replicasets: Sequence[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """The ReplicaSets the Deployment controls (same namespace, controller ref to its UID)."""
    ns, owner = meta(deployment).get("namespace"), uid(deployment)
    out = []
    for rs in replicasets:
        ref = controller_ref(rs)
        if meta(rs).get("namespace") == ns and ref is not None and ref.get("uid") == owner:
            out.append(rs)
    return out


def _revision_or_none(rs: Mapping[str, Any]) -> int | None:
    try:
        return revision(rs)
    except ValueError:
        return None


def replica_set_for_revision(
    deployment: Mapping[str, Any], replicasets: Sequence[Mapping[str, Any]], to_revision: int = 0
) -> Mapping[str, Any]:
    """deploymentRevision: the ReplicaSet of revision `to_revision`, or with 0 the one of the
    second-highest revision (the previous rollout)."""
    if to_revision < 0:
        raise RollbackError(f"unable to find specified revision {to_revision} in history")
    latest, latest_rev, previous, previous_rev = None, -1, None, -1
    for rs in owned_replica_sets(deployment, replicasets):
        v = _revision_or_none(rs)
        if v is None:
            continue
        if to_revision == 0:
            if latest_rev < v:
                previous, previous_rev, latest, latest_rev = latest, latest_rev, rs, v
            elif previous_rev < v:
                previous, previous_rev = rs, v
        elif v == to_revision:
            return rs
    if to_revision > 0:
        raise RollbackError(f"unable to find specified revision {to_revision} in history")
    if previous is None:
        raise RollbackError(f'no rollout history found for deployment "{name(deployment)}"')
    return previous


def rollback(
    deployment: Mapping[str, Any],
    replicasets: Sequence[Mapping[str, Any]],
    to_revision: int = 0,
) -> Rollback:
    """`kubectl rollout undo deployment/<name> [--to-revision=N]` as a pure function.

    Returns the Deployment with the chosen ReplicaSet's pod template (pod-template-hash
    removed) and annotations (the Deployment keeps its own values of the annotations kubectl
    skips), or a skipped Rollback when the template already matches. Raises RollbackError with
    kubectl's text for a paused Deployment or a revision not in the history.
    """
    if to_revision < 0:
        raise RollbackError(f"unable to find specified revision {to_revision} in history")
    if spec(deployment).get("paused"):
        raise RollbackError(
            "you cannot rollback a paused deployment; resume it first with "
            "'kubectl rollout resume' and try again"
        )
    rs = replica_set_for_revision(deployment, replicasets, to_revision)
    chosen = revision(rs)
    if equal_ignore_hash(spec(rs).get("template"), spec(deployment).get("template")):
        return Rollback(
            None,
            chosen,
            f"{ROLLBACK_SKIPPED} (current template already matches revision {to_revision})",
        )
    template = copy.deepcopy(dict(spec(rs).get("template") or {}))
    tlabels = (template.get("metadata") or {}).get("labels")
    if tlabels:
        tlabels.pop(POD_TEMPLATE_HASH_LABEL, None)
    kept = {k: v for k, v in annotations(deployment).items() if k in ANNOTATIONS_TO_SKIP}
    copied = {k: v for k, v in annotations(rs).items() if k not in ANNOTATIONS_TO_SKIP}
    out = copy.deepcopy(dict(deployment))
    out.setdefault("metadata", {})["annotations"] = {**kept, **copied}
    if not out["metadata"]["annotations"]:
        del out["metadata"]["annotations"]
    out.setdefault("spec", {})["template"] = template
    return Rollback(out, chosen, ROLLBACK_SUCCESS)


def rollout_history(deployment: Mapping[str, Any], replicasets: Sequence[Mapping[str, Any]]) -> str:
    """`kubectl rollout history deployment/<name>`: revisions in order with their
    kubernetes.io/change-cause (`<none>` without one), in kubectl's tab-aligned columns."""
    causes: dict[int, str] = {}
    for rs in owned_replica_sets(deployment, replicasets):
        v = _revision_or_none(rs)
        if v is None or v == 0:
            continue
        causes[v] = annotations(rs).get(CHANGE_CAUSE_ANNOTATION) or "<none>"
    if not causes:
        return f"deployment.apps/{name(deployment)} \nNo rollout history found.\n"
    width = max(len("REVISION"), *(len(str(v)) for v in causes)) + 2
    lines = [f"deployment.apps/{name(deployment)} ", f"{'REVISION':<{width}}CHANGE-CAUSE"]
    lines += [f"{v!s:<{width}}{causes[v]}" for v in sorted(causes)]
    return "\n".join(lines) + "\n\n"


__all__ = [
    "CHANGE_CAUSE_ANNOTATION",
    "Rollback",
    "RollbackError",
    "RolloutStatusError",
    "owned_replica_sets",
    "replica_set_for_revision",
    "rollback",
    "rollout_history",
    "rollout_status",
]
