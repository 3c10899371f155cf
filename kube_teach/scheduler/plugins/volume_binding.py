"""PersistentVolumeClaim binding, as a stub: kube-teach does not simulate volumes yet.

Semantics: kube-scheduler's VolumeBinding plugin (PreFilter, Filter, PreScore, Score, Reserve,
PreBind). A pod without PVCs is skipped at PreFilter and PreScore as upstream skips it; a pod
with PVCs passes every node (approximation: binding, provisioning and node affinity of volumes
are not modelled).
"""

from __future__ import annotations

from typing import Any

from ..framework import Code, CycleState, NodeInfo, PodInfo, Status
from .node_volume_limits import has_claims


class VolumeBinding:
    """Every extension point succeeds; PreFilter and PreScore Skip pods without PVCs."""

    name = "VolumeBinding"

    @classmethod
    def default_args(cls, args: dict[str, Any]) -> dict[str, Any]:
        """VolumeBindingArgs: bindTimeoutSeconds 600."""
        out = dict(args)
        out.setdefault("bindTimeoutSeconds", 600)
        return out

    def __init__(self, args: dict[str, Any] | None = None) -> None:
        self.args = self.default_args(args or {})

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        return Status() if has_claims(pod) else Status(Code.Skip)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        return Status.success()

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
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
