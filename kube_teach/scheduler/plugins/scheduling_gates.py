"""Hold pods that still have scheduling gates out of the scheduling queue.

Semantics: kube-scheduler's SchedulingGates plugin (PreEnqueue): a pod with any
spec.schedulingGates is not scheduled until the last gate is removed.
"""

from __future__ import annotations

from ..framework import Code, PodInfo, Status


class SchedulingGates:
    """PreEnqueue: UnschedulableAndUnresolvable while spec.schedulingGates is non-empty."""

    name = "SchedulingGates"

    def pre_enqueue(self, pod: PodInfo) -> Status:
        gates = [g.get("name") or "" for g in pod.spec.get("schedulingGates") or ()]
        if not gates:
            return Status.success()
        return Status(
            Code.UnschedulableAndUnresolvable, f"waiting for scheduling gates: [{' '.join(gates)}]"
        )
