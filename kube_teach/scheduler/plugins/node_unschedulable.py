"""Keep pods off cordoned nodes (spec.unschedulable) unless they tolerate the taint
node.kubernetes.io/unschedulable:NoSchedule.

Semantics: kube-scheduler's NodeUnschedulable plugin (Filter).
"""

from __future__ import annotations

import numpy as np

from kube_teach.api.tolerations import TAINT_NODE_UNSCHEDULABLE, tolerations_tolerate_taint

from ..framework import Code, CycleState, NodeInfo, PodInfo, Snapshot, Status

ERR_REASON_UNSCHEDULABLE = "node(s) were unschedulable"
_TAINT = {"key": TAINT_NODE_UNSCHEDULABLE, "effect": "NoSchedule"}


class NodeUnschedulable:
    """Filter: UnschedulableAndUnresolvable on an unschedulable node the pod does not tolerate."""

    name = "NodeUnschedulable"

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        if not node.unschedulable or tolerations_tolerate_taint(pod.tolerations, _TAINT):
            return Status.success()
        return Status(Code.UnschedulableAndUnresolvable, ERR_REASON_UNSCHEDULABLE)

    def filter_all(self, state: CycleState, pod: PodInfo, snapshot: Snapshot) -> np.ndarray | None:
        if not snapshot.unschedulable_nodes or tolerations_tolerate_taint(pod.tolerations, _TAINT):
            return None
        fails = np.zeros(len(snapshot), bool)
        fails[snapshot.unschedulable_nodes] = True
        return fails
