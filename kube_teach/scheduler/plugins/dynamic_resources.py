"""Dynamic resource allocation (ResourceClaims), as a stub: not simulated yet.

Semantics: kube-scheduler's DynamicResources plugin, in the default profile since v1.34. Pods
without resource claims are skipped as upstream skips them, and its PostFilter rejects with no
reason so that DefaultPreemption runs next, as upstream does; claims themselves are not modelled.
"""

from __future__ import annotations

from ..framework import Code, CycleState, NodeInfo, NodeToStatus, PodInfo, Status


class DynamicResources:
    """PreFilter: Skip without spec.resourceClaims. Filter passes; PostFilter declines."""

    name = "DynamicResources"

    def pre_enqueue(self, pod: PodInfo) -> Status:
        return Status.success()

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        return Status() if pod.spec.get("resourceClaims") else Status(Code.Skip)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        return Status.success()

    def post_filter(
        self, state: CycleState, pod: PodInfo, statuses: NodeToStatus
    ) -> tuple[None, Status]:
        return None, Status(Code.Unschedulable)

    def reserve(self, state: CycleState, pod: PodInfo, node_name: str) -> Status:
        return Status.success()

    def unreserve(self, state: CycleState, pod: PodInfo, node_name: str) -> None:
        return None

    def pre_bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status:
        return Status.success()
