"""Keep pods off nodes where a requested host port is already taken.

Semantics: kube-scheduler's NodePorts plugin (PreFilter, Filter): a conflict needs the same
protocol and port and either host IP 0.0.0.0 or equal host IPs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..framework import Code, CycleState, NodeInfo, PodInfo, Snapshot, Status

ERR_REASON = "node(s) didn't have free ports for the requested pod ports"


class NodePorts:
    """PreFilter: Skip pods without host ports. Filter: Unschedulable on a port conflict."""

    name = "NodePorts"

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        return Status() if pod.host_ports else Status(Code.Skip)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        if node.has_port_conflict(pod.host_ports):
            return Status(Code.Unschedulable, ERR_REASON)
        return Status.success()

    def filter_all(self, state: CycleState, pod: PodInfo, snapshot: Snapshot) -> np.ndarray | None:
        if not snapshot.port_nodes:
            return None
        fails = np.zeros(len(snapshot), bool)
        for i in snapshot.port_nodes:
            fails[i] = snapshot.node_infos[i].has_port_conflict(pod.host_ports)
        return fails
