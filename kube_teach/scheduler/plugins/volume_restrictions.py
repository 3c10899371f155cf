"""Keep pods off nodes where a disk they mount read-write is already mounted, and keep a
ReadWriteOncePod claim to one pod in the whole cluster.

Semantics: kube-scheduler's VolumeRestrictions plugin (PreFilter, Filter, AddPod/RemovePod):
GCE PD and iSCSI conflict unless both mounts are read-only, AWS EBS always conflicts, RBD when
the monitors overlap and pool and image are equal (unless both read-only).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..framework import Code, CycleState, NodeInfo, PodInfo, Status
from .volume_helper import READ_WRITE_ONCE_POD, get_pvc, not_found_status

ERR_REASON_DISK_CONFLICT = "node(s) had no available disk"
ERR_REASON_READ_WRITE_ONCE_POD_CONFLICT = (
    "node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode"
)
_PRE_FILTER_KEY = "PreFilterVolumeRestrictions"
_DISKS = ("gcePersistentDisk", "awsElasticBlockStore", "rbd", "iscsi")


def _conflict(volume: Mapping[str, Any], existing: Mapping[str, Any]) -> bool:
    """isVolumeConflict for one volume of the incoming pod and one of an existing pod."""
    for kind in _DISKS:
        a, b = volume.get(kind), existing.get(kind)
        if not a or not b:
            continue
        both_ro = bool(a.get("readOnly")) and bool(b.get("readOnly"))
        if kind == "gcePersistentDisk" and a.get("pdName") == b.get("pdName") and not both_ro:
            return True
        if kind == "awsElasticBlockStore" and a.get("volumeID") == b.get("volumeID"):
            return True
        if kind == "iscsi" and a.get("iqn") == b.get("iqn") and not both_ro:
            return True
        if kind == "rbd" and not both_ro:
            same = (a.get("pool") or "rbd", a.get("image")) == (
                b.get("pool") or "rbd",
                b.get("image"),
            )
            if same and set(a.get("monitors") or ()) & set(b.get("monitors") or ()):
                return True
    return False


class _State:
    """The pod's ReadWriteOncePod claims and how many of them other pods already use."""

    __slots__ = ("rwop_claims", "conflicting")

    def __init__(self, rwop_claims: frozenset[str], conflicting: int) -> None:
        self.rwop_claims = rwop_claims
        self.conflicting = conflicting

    def clone(self) -> _State:
        return _State(self.rwop_claims, self.conflicting)

    def update_with_pod(self, other: PodInfo, sign: int) -> None:
        for v in other.spec.get("volumes") or ():
            claim = ((v or {}).get("persistentVolumeClaim") or {}).get("claimName")
            if claim and f"{other.namespace}/{claim}" in self.rwop_claims:
                self.conflicting += sign


class VolumeRestrictions:
    """PreFilter: Skip unless a volume is a disk or a claim; reject a missing claim. Filter:
    Unschedulable on a disk conflict with a pod on the node, or when a ReadWriteOncePod claim
    of the pod is in use anywhere."""

    name = "VolumeRestrictions"

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        volumes = pod.spec.get("volumes") or ()
        if not any((v or {}).get(k) is not None for v in volumes for k in (*_DISKS, "persistentVolumeClaim")):  # fmt: skip
            return Status(Code.Skip)
        rwop: set[str] = set()
        for v in volumes:
            ref = (v or {}).get("persistentVolumeClaim")
            if ref is None:
                continue
            name = ref.get("claimName") or ""
            pvc = get_pvc(state.snapshot, pod.namespace, name)
            if pvc is None:
                return not_found_status("persistentvolumeclaim", name)
            if READ_WRITE_ONCE_POD in ((pvc.get("spec") or {}).get("accessModes") or ()):
                rwop.add(f"{pod.namespace}/{name}")
        snapshot = state.snapshot
        conflicting = 0
        if snapshot is not None:
            for key in sorted(rwop):
                ns, claim = key.split("/", 1)
                conflicting += snapshot.is_pvc_used_by_pods(ns, claim)
        state.write(_PRE_FILTER_KEY, _State(frozenset(rwop), conflicting))
        return Status()

    def add_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> Status:
        state.read(_PRE_FILTER_KEY).update_with_pod(other, 1)
        return Status.success()

    def remove_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> Status:
        state.read(_PRE_FILTER_KEY).update_with_pod(other, -1)
        return Status.success()

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        for v in pod.spec.get("volumes") or ():
            if not any((v or {}).get(k) for k in _DISKS):
                continue
            for existing in node.pods:
                if any(_conflict(v, ev or {}) for ev in existing.spec.get("volumes") or ()):
                    return Status(Code.Unschedulable, ERR_REASON_DISK_CONFLICT)
        s = state.get(_PRE_FILTER_KEY)
        if s is None:
            return Status.error(f'error reading "{_PRE_FILTER_KEY}" from cycleState: not found')
        if s.conflicting > 0:
            return Status(Code.Unschedulable, ERR_REASON_READ_WRITE_ONCE_POD_CONFLICT)
        return Status.success()
