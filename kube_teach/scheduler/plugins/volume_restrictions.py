"""Volume conflict checks, as a stub: kube-teach does not simulate volumes yet.

Semantics: kube-scheduler's VolumeRestrictions plugin (PreFilter, Filter). A pod without volumes
is skipped as upstream skips it; a pod with disks or claims passes (approximation: conflicting
exclusive disks and ReadWriteOncePod claims are not detected).
"""

from __future__ import annotations

from ..framework import Code, CycleState, NodeInfo, PodInfo, Status

_CHECKED = ("gcePersistentDisk", "awsElasticBlockStore", "rbd", "iscsi", "persistentVolumeClaim")


class VolumeRestrictions:
    """PreFilter: Skip unless a volume is a disk or claim upstream checks. Filter: passes."""

    name = "VolumeRestrictions"

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        volumes = pod.spec.get("volumes") or ()
        needed = any(v.get(kind) for v in volumes for kind in _CHECKED)
        return Status() if needed else Status(Code.Skip)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        return Status.success()
