"""Check that the volumes a pod's bound claims use can be reached from the node.

Semantics: kube-scheduler's VolumeBinding plugin. PreFilter skips pods without claims and
rejects missing, lost or deleting claims and claims of Immediate binding that are not bound
yet; Filter checks each fully bound claim's PV (it must exist, and its spec.nodeAffinity must
match the node's labels). Not modelled: finding or provisioning PVs for unbound
WaitForFirstConsumer claims (such a claim passes every node) and storage-capacity scoring
(behind a feature gate that is off, so PreScore skips as upstream does).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..framework import Code, CycleState, NodeInfo, PodInfo, Status
from .volume_helper import (
    WAIT_FOR_FIRST_CONSUMER,
    claim_class,
    claim_names,
    get_pvc,
    has_claims,
    is_fully_bound,
    not_found,
    pv_matches_node,
)

ERR_REASON_NODE_CONFLICT = "node(s) had volume node affinity conflict"
ERR_REASON_BIND_CONFLICT = "node(s) didn't find available persistent volumes to bind"
ERR_REASON_PV_NOT_EXIST = (
    "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"
)
ERR_REASON_UNBOUND_IMMEDIATE = "pod has unbound immediate PersistentVolumeClaims"
_STATE_KEY = "VolumeBinding"


def _check_claims(state: CycleState, pod: PodInfo) -> str | None:
    """podHasPVCs: the error text for a claim the pod cannot use yet, or None."""
    ephemeral = {
        f"{pod.name}-{(v or {}).get('name') or ''}"
        for v in pod.spec.get("volumes") or ()
        if (v or {}).get("ephemeral") is not None
    }
    for name in claim_names(pod):
        pvc = get_pvc(state.snapshot, pod.namespace, name)
        if pvc is None:
            if name in ephemeral:
                return ("waiting for ephemeral volume controller to create the "
                        f'persistentvolumeclaim "{name}"')  # fmt: skip
            return not_found("persistentvolumeclaim", name)
        if (pvc.get("status") or {}).get("phase") == "Lost":
            pv = (pvc.get("spec") or {}).get("volumeName") or ""
            return f'persistentvolumeclaim "{name}" bound to non-existent persistentvolume "{pv}"'
        meta = pvc.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            return f'persistentvolumeclaim "{name}" is being deleted'
        if name in ephemeral:
            owners = meta.get("ownerReferences") or ()
            if not any(o.get("controller") and o.get("uid") == pod.uid for o in owners):
                return (f"PVC {pod.namespace}/{name} was not created for pod "
                        f"{pod.namespace}/{pod.name} (pod is not owner)")  # fmt: skip
    return None


class VolumeBinding:
    """PreFilter: Skip without claims; UnschedulableAndUnresolvable for unusable claims or
    unbound Immediate ones. Filter: UnschedulableAndUnresolvable when a bound claim's PV is
    missing or its node affinity excludes the node."""

    name = "VolumeBinding"

    @classmethod
    def default_args(cls, args: dict[str, Any]) -> dict[str, Any]:
        """VolumeBindingArgs: bindTimeoutSeconds 600."""
        out = dict(args)
        out.setdefault("bindTimeoutSeconds", 600)
        return out

    def __init__(self, args: dict[str, Any] | None = None) -> None:
        self.args = self.default_args(args or {})

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        if not has_claims(pod):
            return Status(Code.Skip)
        error = _check_claims(state, pod)
        if error is not None:
            return Status(Code.UnschedulableAndUnresolvable, error)
        snapshot = state.snapshot
        bound: list[str] = []
        for name in claim_names(pod):
            pvc = get_pvc(snapshot, pod.namespace, name) or {}
            if is_fully_bound(pvc):
                bound.append((pvc.get("spec") or {}).get("volumeName") or "")
                continue
            sc_name = claim_class(pvc)
            sc = snapshot.storage_classes.get(sc_name) if snapshot and sc_name else None
            if sc is not None and "volumeBindingMode" not in sc:
                return Status.error(f'VolumeBindingMode not set for StorageClass "{sc_name}"')
            delayed = sc is not None and sc.get("volumeBindingMode") == WAIT_FOR_FIRST_CONSUMER
            if not delayed or (pvc.get("spec") or {}).get("volumeName"):
                # Immediate claims (and pre-bound ones) are the PV controller's to bind first.
                return Status(Code.UnschedulableAndUnresolvable, ERR_REASON_UNBOUND_IMMEDIATE)
        state.write(_STATE_KEY, tuple(bound))
        return Status()

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        bound = state.get(_STATE_KEY)
        if bound is None:
            return Status.error(f'error reading "{_STATE_KEY}" from cycleState: not found')
        snapshot = state.snapshot
        for pv_name in bound:
            pv = snapshot.pvs.get(pv_name) if snapshot is not None else None
            if pv is None:
                return Status(Code.UnschedulableAndUnresolvable, ERR_REASON_PV_NOT_EXIST)
            if not pv_matches_node(pv, node.labels):
                return Status(Code.UnschedulableAndUnresolvable, ERR_REASON_NODE_CONFLICT)
        return Status.success()

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        # Storage-capacity scoring is behind a gate upstream; without it PreScore skips.
        return Status(Code.Skip)

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return 0

    def reserve(self, state: CycleState, pod: PodInfo, node_name: str) -> Status:
        return Status.success()

    def unreserve(self, state: CycleState, pod: PodInfo, node_name: str) -> None:
        return None

    def pre_bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status:
        return Status.success()
