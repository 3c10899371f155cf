"""The ReplicaSet controller's decisions: which pods to create or delete, and the status.

Semantics: pkg/controller/replicaset/replica_set.go (syncReplicaSet, manageReplicas,
getPodsToDelete, burstReplicas 500) and replica_set_utils.go (calculateStatus). `reconcile`
is pure: the host records expectations, sends the requests and reports failures back.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._util import (
    condition,
    controller_ref,
    deleting,
    format_time,
    is_pod_active,
    is_pod_available,
    is_pod_ready,
    labels,
    meta,
    name,
    selector_matches,
    spec,
    status,
    uid,
)
from .controller_utils import (
    EXPECTATIONS_TIMEOUT,
    SLOW_START_INITIAL_BATCH_SIZE,
    Expectations,
    deletion_cost,
    pod_less,
    ranks_by_related_pods_on_same_node,
    slow_start_batches,
    sort_active_pods_with_ranks,
)

BURST_REPLICAS = 500

__all__ = [
    "BURST_REPLICAS",
    "EXPECTATIONS_TIMEOUT",
    "SLOW_START_INITIAL_BATCH_SIZE",
    "Expectations",
    "ReplicaSetPlan",
    "calculate_status",
    "claim_pods",
    "deletion_cost",
    "pod_from_template",
    "pod_key",
    "pod_less",
    "pods_to_delete",
    "ranks_by_related_pods_on_same_node",
    "reconcile",
    "slow_start_batches",
    "sort_active_pods_with_ranks",
]


def pod_key(pod: Mapping[str, Any]) -> str:
    """`namespace/name`, the key expectations track deletions by."""
    return f"{meta(pod).get('namespace') or ''}/{name(pod)}"


def pods_to_delete(
    pods: Sequence[Mapping[str, Any]],
    related_pods: Sequence[Mapping[str, Any]],
    diff: int,
    now: float | None,
) -> list[Mapping[str, Any]]:
    """The `diff` active pods a scale-down removes, first to go first (getPodsToDelete).

    Pods are ranked by how many active `related_pods` (pods of the same controller family)
    share their node, then ordered by ActivePodsWithRanks at time `now`. When every pod goes
    the input order is kept, as upstream skips the sort.
    """
    if diff < len(pods):
        ranks = ranks_by_related_pods_on_same_node(pods, related_pods)
        pods = sort_active_pods_with_ranks(pods, ranks, now)
    return list(pods[:diff])


def claim_pods(
    rs: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]
) -> tuple[list[Mapping[str, Any]], list[str], list[str]]:
    """(claimed pods, names to adopt, names to release), as ControllerRefManager.ClaimPods.

    Owned pods that match the selector stay; owned ones that no longer match are released;
    orphans that match are adopted unless the ReplicaSet or the pod is being deleted. Pods
    controlled by something else are left alone.
    """
    selector = spec(rs).get("selector")
    claimed, adopt, release = [], [], []
    for pod in pods:
        ref = controller_ref(pod)
        matches = selector_matches(selector, labels(pod))
        if ref is not None:
            if ref.get("uid") != uid(rs):
                continue
            if matches:
                claimed.append(pod)
            elif not deleting(rs):
                release.append(name(pod))
            continue
        if deleting(rs) or not matches or deleting(pod):
            continue
        adopt.append(name(pod))
        claimed.append(pod)
    return claimed, adopt, release


def pod_from_template(rs: Mapping[str, Any]) -> dict:
    """The pod a create sends: the template with generateName `<rs>-` and a controller ref."""
    template = copy.deepcopy(spec(rs).get("template") or {})
    tmeta = template.get("metadata") or {}
    pod_meta: dict[str, Any] = {"generateName": f"{name(rs)}-"}
    if meta(rs).get("namespace"):
        pod_meta["namespace"] = meta(rs)["namespace"]
    for key in ("labels", "annotations", "finalizers"):
        if tmeta.get(key):
            pod_meta[key] = tmeta[key]
    pod_meta["ownerReferences"] = [
        {
            "apiVersion": rs.get("apiVersion", "apps/v1"),
            "kind": rs.get("kind", "ReplicaSet"),
            "name": name(rs),
            "uid": uid(rs),
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": pod_meta,
        "spec": template.get("spec") or {},
    }


def calculate_status(
    rs: Mapping[str, Any],
    pods: Sequence[Mapping[str, Any]],
    now: float,
    *,
    manage_error: str | None = None,
    terminating: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The ReplicaSetStatus for the claimed active `pods` (calculateStatus).

    fullyLabeledReplicas counts pods carrying all template labels; availableReplicas those Ready
    for minReadySeconds at `now`. A `manage_error` adds ReplicaFailure (FailedCreate or
    FailedDelete) if absent; success removes it. `terminating` (pods being deleted) fills
    terminatingReplicas, as with the DeploymentReplicaSetTerminatingReplicas gate.
    """
    new_status = copy.deepcopy(dict(status(rs)))
    template_labels = (spec(rs).get("template") or {}).get("metadata", {}).get("labels") or {}
    min_ready = spec(rs).get("minReadySeconds") or 0
    full = ready = available = 0
    for pod in pods:
        if all(labels(pod).get(k) == v for k, v in template_labels.items()):
            full += 1
        if is_pod_ready(pod):
            ready += 1
            if is_pod_available(pod, min_ready, now):
                available += 1
    failure = condition(new_status.get("conditions"), "ReplicaFailure")
    if manage_error is not None and failure is None:
        diff = len(pods) - _replicas(rs)
        reason = "FailedCreate" if diff < 0 else "FailedDelete" if diff > 0 else ""
        cond = {
            "type": "ReplicaFailure",
            "status": "True",
            "lastTransitionTime": format_time(now),
            "reason": reason,
            "message": manage_error,
        }
        new_status["conditions"] = [*(new_status.get("conditions") or []), cond]
    elif manage_error is None and failure is not None:
        new_status["conditions"] = [
            c for c in new_status["conditions"] if c.get("type") != "ReplicaFailure"
        ]
    new_status.update(
        replicas=len(pods),
        fullyLabeledReplicas=full,
        readyReplicas=ready,
        availableReplicas=available,
        observedGeneration=int(meta(rs).get("generation") or 0),
    )
    if terminating is not None:
        new_status["terminatingReplicas"] = len(terminating)
    else:
        new_status.pop("terminatingReplicas", None)
    return new_status


def _replicas(rs: Mapping[str, Any]) -> int:
    value = spec(rs).get("replicas")
    return 1 if value is None else int(value)


@dataclass
class ReplicaSetPlan:
    """What one sync of a ReplicaSet decides.

    `create` pods from `pod_from_template(rs)`, in `create_batches` (slow start); `delete` the
    listed pods; patch ownerReferences to `adopt` / `release` pods; write `status` when
    `status_changed`. Before creating or deleting, the host records `expect_creations` /
    `expect_deletions` (pod keys) in its Expectations. `requeue_after` (seconds) asks for a
    resync when pods are ready but not yet available for minReadySeconds.
    """

    create: int = 0
    create_batches: list[int] = field(default_factory=list)
    delete: list[Mapping[str, Any]] = field(default_factory=list)
    adopt: list[str] = field(default_factory=list)
    release: list[str] = field(default_factory=list)
    status: dict = field(default_factory=dict)
    status_changed: bool = False
    requeue_after: float | None = None
    synced: bool = True

    @property
    def expect_creations(self) -> int:
        return self.create

    @property
    def expect_deletions(self) -> list[str]:
        return [pod_key(p) for p in self.delete]


def reconcile(
    rs: Mapping[str, Any],
    pods: Sequence[Mapping[str, Any]],
    now: float,
    *,
    expectations: Expectations | None = None,
    related_pods: Sequence[Mapping[str, Any]] | None = None,
    burst_replicas: int = BURST_REPLICAS,
) -> ReplicaSetPlan:
    """One syncReplicaSet for `rs`, given the pods of its namespace from the cache.

    Active pods are claimed; if expectations are satisfied (or none are given) and the RS is
    not being deleted, the difference to spec.replicas — at most `burst_replicas` — becomes
    creates or deletes (deletes chosen by `pods_to_delete` against `related_pods`, by default
    the RS's own pods). The status always follows the pods seen.
    """
    key = f"{meta(rs).get('namespace') or ''}/{name(rs)}"
    needs_sync = expectations is None or expectations.satisfied(key, now)
    ns = meta(rs).get("namespace")
    in_ns = [
        p for p in pods if not ns or not meta(p).get("namespace") or meta(p).get("namespace") == ns
    ]
    active, adopt, release = claim_pods(rs, [p for p in in_ns if is_pod_active(p)])
    plan = ReplicaSetPlan(adopt=adopt, release=release, synced=needs_sync)
    if needs_sync and not deleting(rs):
        diff = len(active) - _replicas(rs)
        if diff < 0:
            plan.create = min(-diff, burst_replicas)
            plan.create_batches = slow_start_batches(plan.create)
        elif diff > 0:
            owned = related_pods
            if owned is None:
                owned = [p for p in in_ns if (controller_ref(p) or {}).get("uid") == uid(rs)]
            plan.delete = pods_to_delete(active, owned, min(diff, burst_replicas), now)
    plan.status = calculate_status(rs, active, now)
    plan.status_changed = plan.status != dict(status(rs))
    st = plan.status
    min_ready = spec(rs).get("minReadySeconds") or 0
    want = _replicas(rs)
    if min_ready > 0 and st["readyReplicas"] == want and st["availableReplicas"] != want:
        plan.requeue_after = float(min_ready)
    return plan
