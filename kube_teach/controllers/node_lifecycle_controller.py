"""The node lifecycle and taint-eviction controllers as hosts around the pure `node_lifecycle`.

Semantics: pkg/controller/nodelifecycle/node_lifecycle_controller.go (monitorNodeHealth every
nodeMonitorPeriod: tryUpdateNodeHealth, RecordNodeStatusChange, MarkPodsNotReady,
processTaintBaseEviction, doNoScheduleTaintingPass) and pkg/controller/tainteviction
(taint_eviction.go: processPodOnNode, the TaintManagerEviction event, addConditionAndDeletePod).

The NoExecute taints go through one rate-limited queue per zone (0.1 nodes/s; zone states
Normal / PartialDisruption / FullDisruption from handleDisruption), drained every 100 ms by
doNoExecuteTaintingPass. Simplification: the NoSchedule pass runs inside the 5 s monitor pass
rather than on every node update.
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
    LARGE_CLUSTER_SIZE_THRESHOLD,
    NODE_EVICTION_PERIOD,
    NODE_EVICTION_RATE,
    NODE_MONITOR_PERIOD,
    NOT_READY_TAINT,
    SECONDARY_NODE_EVICTION_RATE,
    UNHEALTHY_ZONE_THRESHOLD,
    UNREACHABLE_TAINT,
    NodeHealth,
    RateLimitedTimedQueue,
    eviction_delay,
    handle_disruption,
    no_execute_taint_update,
    no_schedule_taint_update,
    try_update_node_health,
    zone_key,
)

NODES, LEASES, PODS = KINDS["Node"], KINDS["Lease"], KINDS["Pod"]
NODE_LEASE_NAMESPACE = "kube-node-lease"
MONITOR_KEY = "monitor-node-health"
TAINTING_KEY = "no-execute-tainting"


def _same_taint(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return a.get("key") == b.get("key") and a.get("effect") == b.get("effect")


def node_ref(node: Mapping[str, Any]) -> dict[str, Any]:
    """The reference upstream's RecordNodeStatusChange uses: kind Node, UID = the node name."""
    return {"kind": "Node", "apiVersion": "v1", "metadata": {"name": name(node), "uid": name(node)}}


class NodeLifecycleController(Controller):
    """Every nodeMonitorPeriod (5 s) checks every node's heartbeat and Lease.

    A node silent for longer than the grace period gets its kubelet-owned conditions set to
    Unknown (PUT nodes/<n>/status), its pods marked Ready=False, and the NoSchedule taint of
    its condition. The pass after that queues it in its zone's NoExecute tainter, which the
    100 ms tainting pass drains at the zone's rate (a not-ready / unreachable swap goes at
    once); a healthy node loses both taints and leaves the queue. Zone states decide the rates:
    Normal and FullDisruption `eviction_rate`, PartialDisruption `secondary_eviction_rate`
    for zones above `large_cluster_threshold` nodes and 0 below; when every zone is fully
    disrupted, taints are removed everywhere and tainting stops.
    """

    name = "node-lifecycle-controller"
    workers = 1
    eviction_rate = NODE_EVICTION_RATE  # --node-eviction-rate
    secondary_eviction_rate = SECONDARY_NODE_EVICTION_RATE  # --secondary-node-eviction-rate
    large_cluster_threshold = LARGE_CLUSTER_SIZE_THRESHOLD  # --large-cluster-size-threshold
    unhealthy_zone_threshold = UNHEALTHY_ZONE_THRESHOLD  # --unhealthy-zone-threshold

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.nodes = self.informer(NODES)
        self.leases = self.informer(LEASES)
        self.pods = self.informer(PODS)
        self.health: dict[str, NodeHealth] = {}
        self.zone_states: dict[str, str] = {}
        self.zone_rates: dict[str, float] = {}
        self.tainters: dict[str, RateLimitedTimedQueue] = {}

    def run(self) -> None:
        super().run()
        self.enqueue(MONITOR_KEY)

    def sync(self, key: str) -> Sync:
        if key == TAINTING_KEY:
            return (yield from self._no_execute_tainting_pass())
        errors: list[str] = []
        zones: dict[str, list[str | None]] = {}
        nodes = [copy.deepcopy(n) for n in self.nodes.list()]
        for node in nodes:
            node_name = name(node)
            lease = self.leases.get(f"{NODE_LEASE_NAMESPACE}/{node_name}")
            now = self.now()
            self._tainter(zone_key(node), now)
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
            zones.setdefault(zone_key(node), []).append(current)
            if current is not None:
                yield from self._process_taint_base_eviction(node, observed, now, errors)
                if current != "True" and observed == "True":
                    self.recorder.event(node_ref(node), "Normal", "NodeNotReady",
                                        f"Node {node_name} status is now: NodeNotReady")  # fmt: skip
                    yield from self._mark_pods_not_ready(node_name, errors)
            yield from self._no_schedule_taints(node, errors)
        yield from self._handle_disruption(zones, nodes, errors)
        return Outcome(error="; ".join(errors) or None, requeue_after=NODE_MONITOR_PERIOD)

    # -- zones ---------------------------------------------------------------------------------
    def _tainter(self, zone: str, now: float) -> RateLimitedTimedQueue:
        """The zone's NoExecute tainter; a zone seen for the first time starts Initial."""
        if zone not in self.tainters:
            self.tainters[zone] = RateLimitedTimedQueue(self.eviction_rate, now)
            self.zone_states.setdefault(zone, "Initial")
            self.zone_rates.setdefault(zone, self.eviction_rate)
        return self.tainters[zone]

    def _handle_disruption(
        self, zones: dict[str, list[str | None]], nodes: list[dict], errors: list[str]
    ) -> Sync:
        before = dict(self.zone_states)
        decision = handle_disruption(
            zones, self.zone_states, self.zone_rates,
            threshold=self.unhealthy_zone_threshold, eviction_rate=self.eviction_rate,
            secondary_eviction_rate=self.secondary_eviction_rate,
            large_cluster_threshold=self.large_cluster_threshold,
        )  # fmt: skip
        now = self.now()
        for zone in sorted(decision.states):
            if before.get(zone) != decision.states[zone]:
                self.trace.emit(self.name, "zone-state", zone=zone or "<none>",
                                state=decision.states[zone], rate=decision.rates[zone])  # fmt: skip
        self.zone_states.update(decision.states)
        self.zone_rates.update(decision.rates)
        for zone, rate in decision.rates.items():
            self._tainter(zone, now).swap_limiter(rate, now)
        if decision.entering_full_disruption:
            # every node is down: more likely the controller's own network; evict nobody
            for node in nodes:
                fresh = copy.deepcopy(dict(self.nodes.get(name(node)) or node))
                yield from self._mark_node_as_reachable(fresh, errors)
        if decision.exiting_full_disruption:
            for node in nodes:  # start every node's grace period afresh
                health = self.health.get(name(node))
                if health is not None:
                    self.health[name(node)] = NodeHealth(
                        now, now, health.status, health.lease_renew_time
                    )
        return None

    # -- NoExecute taints ----------------------------------------------------------------------
    def _process_taint_base_eviction(
        self, node: Mapping[str, Any], observed: str | None, now: float, errors: list[str]
    ) -> Sync:
        """processTaintBaseEviction on the Ready status observed before this pass."""
        taints = spec(node).get("taints") or []
        if observed in ("False", "Unknown"):
            wanted, other = (
                (NOT_READY_TAINT, UNREACHABLE_TAINT)
                if observed == "False"
                else (UNREACHABLE_TAINT, NOT_READY_TAINT)
            )
            tainter = self._tainter(zone_key(node), now)
            if any(_same_taint(t, other) for t in taints):
                yield from self._swap_taint(node, observed, now, errors)  # at once, unlimited
                return None
            if not any(_same_taint(t, wanted) for t in taints):
                tainter.remove(name(node))  # markNodeForTainting: (re)queue an untainted node
            if tainter.add(name(node)):
                self.trace.emit(self.name, "queued-for-tainting", node=name(node),
                                zone=zone_key(node) or "<none>")  # fmt: skip
                self.enqueue(TAINTING_KEY)
        elif observed == "True":
            yield from self._mark_node_as_reachable(node, errors)
        return None

    def _mark_node_as_reachable(self, node: Mapping[str, Any], errors: list[str]) -> Sync:
        """Remove both NoExecute taints and take the node out of its zone's queue."""
        tainter = self.tainters.get(zone_key(node))
        if tainter is not None:
            tainter.remove(name(node))
        remove = [t for t in spec(node).get("taints") or ()
                  if _same_taint(t, UNREACHABLE_TAINT) or _same_taint(t, NOT_READY_TAINT)]  # fmt: skip
        if remove:
            yield from self._patch_taints(node, [], remove, errors)
        return None

    def _swap_taint(
        self, node: Mapping[str, Any], ready: str | None, now: float, errors: list[str]
    ) -> Sync:
        add, remove = no_execute_taint_update(node, ready, now)
        if add or remove:
            yield from self._patch_taints(node, add, remove, errors)
        return None

    def _no_execute_tainting_pass(self) -> Sync:
        """doNoExecuteTaintingPass: each zone taints the nodes its bucket admits now."""
        errors: list[str] = []
        now = self.now()
        for zone in sorted(self.tainters):
            for node_name in self.tainters[zone].take(now):
                cached = self.nodes.get(node_name)
                node = copy.deepcopy(dict(cached)) if cached is not None else None
                ready = condition(status(node).get("conditions"), "Ready") if node else None
                if node is None or ready is None or ready.get("status") == "True":
                    continue  # gone, or healthy again: nothing to taint
                yield from self._swap_taint(node, ready.get("status"), now, errors)
        pending = any(t.items and t.qps for t in self.tainters.values())
        return Outcome(
            error="; ".join(errors) or None,
            requeue_after=NODE_EVICTION_PERIOD if pending else None,
        )

    # -- NoSchedule taints and pods ------------------------------------------------------------
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

    def _no_schedule_taints(self, node: Mapping[str, Any], errors: list[str]) -> Sync:
        """doNoScheduleTaintingPass for one node."""
        add, remove = no_schedule_taint_update(node)
        if add or remove:
            yield from self._patch_taints(node, add, remove, errors)
        return None

    def _patch_taints(
        self, node: Mapping[str, Any], add: list[dict], remove: list[dict], errors: list[str]
    ) -> Sync:
        """One merge PATCH of spec.taints, conditional on the cached resourceVersion."""
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
        elif isinstance(node, dict) and isinstance(resp.body, Mapping):
            node.clear()  # later passes in this sync see the node as patched
            node.update(copy.deepcopy(dict(resp.body)))
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
