"""Volume topology (zone) checks, as a stub: kube-teach does not simulate volumes yet.

Semantics: kube-scheduler's VolumeZone plugin (PreFilter, Filter). Pods without PVCs are
skipped as upstream skips them; others pass (approximation: `node(s) had no available volume
zone` is never reported).
"""

from __future__ import annotations

from ..framework import Code, CycleState, NodeInfo, PodInfo, Status
from .node_volume_limits import has_claims


class VolumeZone:
    """PreFilter: Skip without PVCs. Filter: always passes (stub)."""

    name = "VolumeZone"

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        return Status() if has_claims(pod) else Status(Code.Skip)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        return Status.success()
