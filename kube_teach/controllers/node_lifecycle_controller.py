"""The node lifecycle and taint-eviction controllers as hosts around the pure `node_lifecycle`.

Semantics: pkg/controller/nodelifecycle/node_lifecycle_controller.go (monitorNodeHealth every
nodeMonitorPeriod: tryUpdateNodeHealth, RecordNodeStatusChange, MarkPodsNotReady,
processTaintBaseEviction, doNoScheduleTaintingPass) and pkg/controller/tainteviction
(taint_eviction.go: processPodOnNode, the TaintManagerEviction event, addConditionAndDeletePod).

Simplifications: the per-zone rate limiter of NoExecute tainting (handle_disruption) is not
applied, and the NoSchedule / NoExecute passes run inside the 5 s monitor pass rather than on
node updates and the 100 ms eviction period.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from ..api.kinds import KINDS
from ..api.rest import object_path
from ._util import condition, deleting, format_time, meta, name, spec, status
from .base import Call, Controller, ControllerContext, Outcome, Sync, error_text, key_of
from .node_lifecycle import (
    NODE_MONITOR_PERIOD,
    NodeHealth,
    eviction_delay,
    no_execute_taint_update,
    no_schedule_taint_update,
    try_update_node_health,
)

NODES, LEASES, PODS = KINDS["Node"], KINDS["Lease"], KINDS["Pod"]
NODE_LEASE_NAMESPACE = "kube-node-lease"
MONITOR_KEY = "monitor-node-health"


def _same_taint(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return a.get("key") == b.get("key") and a.get("effect") == b.get("effect")


def node_ref(node: Mapping[str, Any]) -> dict[str, Any]:
    """The reference upstream's RecordNodeStatusChange uses: kind Node, UID = the node name."""
    return {"kind": "Node", "apiVersion": "v1", "metadata": {"name": name(node), "uid": name(node)}}


class NodeLifecycleController(Controller):
    """Every nodeMonitorPeriod (5 s) checks every node's heartbeat and Lease.

    A node silent for longer than the grace period gets its kubelet-owned conditions set to
    Unknown (PUT nodes/<n>/status), its pods marked Ready=False, and the unreachable (Ready
    Unknown) or not-ready (Ready False) NoExecute and NoSchedule taints (merge PATCH of
    spec.taints); a healthy node loses them again.
    """

    name = "node-lifecycle-controller"
    workers = 1

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.nodes = self.informer(NODES)
        self.leases = self.informer(LEASES)
        self.pods = self.informer(PODS)
        self.health: dict[str, NodeHealth] = {}

    def run(self) -> None:
        super().run()
        self.enqueue(MONITOR_KEY)

    def sync(self, key: str) -> Sync:
        errors: list[str] = []
        for node in [copy.deepcopy(n) for n in self.nodes.list()]:
            node_name = name(node)
            lease = self.leases.get(f"{NODE_LEASE_NAMESPACE}/{node_name}")
            now = self.now()
            update = try_update_node_health(node, lease, self.health.get(node_name), now)
            self.health[node_name] = update.health
            observed = update.observed_ready.get("status")
            if update.node_status is not None:
                body = {**node, "status": update.node_status}
                (resp,) = yield [Call("PUT", object_path(NODES, node_name, None, "status"), body)]
                if not resp.ok:
                    self.health.pop(node_name, None)  # upstream retries with a fresh read
                    errors.append(error_text(resp))
                    continue
                node = dict(resp.body)
            current = (update.current_ready or {}).get("status")
            if current is not None and current != "True" and observed == "True":
                self.recorder.event(node_ref(node), "Normal", "NodeNotReady",
                                    f"Node {node_name} status is now: NodeNotReady")  # fmt: skip
                yield from self._mark_pods_not_ready(node_name, errors)
            yield from self._update_taints(node, current, now, errors)
        return Outcome(error="; ".join(errors) or None, requeue_after=NODE_MONITOR_PERIOD)

    def _mark_pods_not_ready(self, node_name: str, errors: list[str]) -> Sync:
        """MarkPodsNotReady: the Ready condition of every pod bound to the node turns False."""
        stamp = format_time(self.now())
        calls = []
        for pod in self.pods.list():
            if spec(pod).get("nodeName") != node_name or deleting(pod):
                continue
            ready = condition(status(pod).get("conditions"), "Ready")
            if ready is None or ready.get("status") == "False":
                continue
            pod = copy.deepcopy(pod)
            for cond in pod["status"]["conditions"]:
                if cond.get("type") == "Ready":
                    cond.update(status="False", lastTransitionTime=stamp)
            path = object_path(PODS, name(pod), meta(pod).get("namespace"), "status")
            calls.append(Call("PUT", path, pod))
        if calls:
            responses = yield calls
            errors.extend(error_text(r) for r in responses if not r.ok)
        return None

    def _update_taints(
        self, node: Mapping[str, Any], ready: str | None, now: float, errors: list[str]
    ) -> Sync:
        """processTaintBaseEviction and doNoScheduleTaintingPass in one merge PATCH."""
        add_x, remove_x = no_execute_taint_update(node, ready, now)
        add_s, remove_s = no_schedule_taint_update(node)
        add, remove = add_x + add_s, remove_x + remove_s
        if not add and not remove:
            return None
        taints = [
            t for t in spec(node).get("taints") or () if not any(_same_taint(t, r) for r in remove)
        ]
        taints = copy.deepcopy(taints) + add
        patch = {
            "metadata": {"resourceVersion": meta(node).get("resourceVersion")},
            "spec": {"taints": taints or None},
        }
        (resp,) = yield [Call("PATCH", object_path(NODES, name(node)), patch)]
        if not resp.ok:
            errors.append(error_text(resp))
        return None


class TaintEvictionController(Controller):
    """Deletes pods from nodes with NoExecute taints they do not tolerate: at once, or
    tolerationSeconds after the controller first saw the pod on the tainted node."""

    name = "taint-eviction-controller"
    workers = 8  # upstream's UpdateWorkerSize

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.nodes = self.informer(NODES)
        self.pods = self.informer(PODS)
        self.scheduled: dict[str, float] = {}  # pod key → when its eviction was first scheduled
        self.nodes.add_handlers(on_add=self._node_changed, on_update=self._node_updated)
        self.pods.add_handlers(
            on_add=self._pod_changed,
            on_update=lambda old, new: self._pod_changed(new),
            on_delete=self._pod_changed,
        )

    def _node_updated(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        if spec(old).get("taints") != spec(new).get("taints"):
            self._node_changed(new)

    def _node_changed(self, node: Mapping[str, Any]) -> None:
        for pod in self.pods.list():
            if spec(pod).get("nodeName") == name(node):
                self.enqueue(key_of(pod))

    def _pod_changed(self, pod: Mapping[str, Any]) -> None:
        self.enqueue(key_of(pod))

    def sync(self, key: str) -> Sync:
        pod = self.pods.get(key)
        node = self.nodes.get(spec(pod).get("nodeName") or "") if pod else None
        if pod is None or node is None or deleting(pod):
            self.scheduled.pop(key, None)
            return None
        delay = eviction_delay(pod, spec(node).get("taints") or [])
        if delay is None:
            self.scheduled.pop(key, None)
            return None
        now = self.now()
        start = self.scheduled.setdefault(key, now)
        if now < start + delay:
            return Outcome(requeue_after=start + delay - now)
        self.recorder.event(
            pod, "Normal", "TaintManagerEviction", f"Marking for deletion Pod {key}"
        )
        conditions = [
            c for c in status(pod).get("conditions") or () if c.get("type") != "DisruptionTarget"
        ]
        conditions = copy.deepcopy(conditions) + [{
            "type": "DisruptionTarget", "status": "True", "lastTransitionTime": format_time(now),
            "reason": "DeletionByTaintManager",
            "message": "Taint manager: deleting due to NoExecute taint",
        }]  # fmt: skip
        ns = meta(pod).get("namespace")
        yield [Call("PATCH", object_path(PODS, name(pod), ns, "status"),
                    {"status": {"conditions": conditions}})]  # fmt: skip
        (resp,) = yield [Call("DELETE", object_path(PODS, name(pod), ns))]
        self.scheduled.pop(key, None)
        if not resp.ok and resp.code != 404:
            return Outcome(error=error_text(resp))
        return None


__all__ = ["NodeLifecycleController", "TaintEvictionController"]
