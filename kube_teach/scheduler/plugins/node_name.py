"""Honour a pod's spec.nodeName: only the named node fits.

Semantics: kube-scheduler's NodeName plugin (Filter).
"""

from __future__ import annotations

import numpy as np

from ..framework import Code, CycleState, NodeInfo, PodInfo, Snapshot, Status

ERR_REASON = "node(s) didn't match the requested node name"


class NodeName:
    """Filter: UnschedulableAndUnresolvable unless spec.nodeName is empty or names the node."""

    name = "NodeName"

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        wanted = pod.spec.get("nodeName") or ""
        if not wanted or wanted == node.name:
            return Status.success()
        return Status(Code.UnschedulableAndUnresolvable, ERR_REASON)

    def filter_all(self, state: CycleState, pod: PodInfo, snapshot: Snapshot) -> np.ndarray | None:
        wanted = pod.spec.get("nodeName") or ""
        if not wanted:
            return None
        return np.fromiter((ni.name != wanted for ni in snapshot.node_infos), bool, len(snapshot))
