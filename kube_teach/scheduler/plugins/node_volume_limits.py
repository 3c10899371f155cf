"""CSI volume attach limits, as a stub: kube-teach does not simulate volumes yet.

Semantics: kube-scheduler's NodeVolumeLimits plugin (PreFilter, Filter). Pods without
PersistentVolumeClaims or ephemeral volumes are skipped as upstream skips them; others pass
(approximation: `node(s) exceed max volume count` is never reported).
"""

from __future__ import annotations

from ..framework import Code, CycleState, NodeInfo, PodInfo, Status


def has_claims(pod: PodInfo) -> bool:
    """True if a volume is a PersistentVolumeClaim or a generic ephemeral volume."""
    return any(
        v.get("persistentVolumeClaim") or v.get("ephemeral") for v in pod.spec.get("volumes") or ()
    )


class NodeVolumeLimits:
    """PreFilter: Skip without claims. Filter: always passes (stub)."""

    name = "NodeVolumeLimits"

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        return Status() if has_claims(pod) else Status(Code.Skip)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        return Status.success()
