"""The kubelet host: a node agent on the node's machine that talks to the API server by messages.

Semantics: pkg/kubelet/kubelet.go (registration, syncLoop with syncFrequency 1 m), pod_workers.go
(one worker per pod, event driven, terminating pods killed then deleted with grace 0),
nodelease (Lease renewed every 10 s) and the status manager (pod status writes). Containers are
started and stopped by kuberuntime.py, status is computed by status.py, eviction and image GC
run in housekeeping.py; containers live in runtime.py.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable, Mapping
from typing import Any

from kube_teach.api.kinds import KINDS
from kube_teach.api.objects import Obj
from kube_teach.api.rest import Response, collection_path, object_path
from kube_teach.client.informer import Informer
from kube_teach.client.rest import RESTClient
from kube_teach.sim.clock import Timer
from kube_teach.sim.duration import SECOND, to_ns
from kube_teach.sim.metrics import Metrics
from kube_teach.sim.network import Host
from kube_teach.sim.trace import Trace

from .allocatable import node_allocatable
from .backoff import MAX_IMAGE_BACKOFF, Backoff
from .eviction import DEFAULT_PRESSURE_TRANSITION_PERIOD, eviction_hard_with_defaults
from .eviction_manager import EvictionManager
from .housekeeping import Housekeeping, image_gc_policy
from .kuberuntime import KubeRuntimeManager
from .nodelease import (
    NODE_LEASE_DURATION_SECONDS,
    NODE_LEASE_NAMESPACE,
    NODE_LEASE_RENEW_INTERVAL,
    NodeLease,
)
from .pod_workers import PodWorker, new_worker
from .prober import ProberManager
from .runtime import ContainerRuntime, Workload
from .status import (
    DEFAULT_CAPACITY,
    KUBERNETES_VERSION,
    TERMINAL_PHASES,
    container_status,
    generate_pod_status,
    node_conditions,
    node_status,
    pod_conditions,
    pod_phase,
    rfc3339,
    strip_heartbeats,
    to_bytes,
)

KUBELET_QPS, KUBELET_BURST = 50, 100  # kubeAPIQPS, kubeAPIBurst
SYNC_FREQUENCY = 60  # seconds: syncFrequency
NODE_STATUS_UPDATE_FREQUENCY = 10  # seconds: nodeStatusUpdateFrequency
NODE_STATUS_REPORT_FREQUENCY = 300  # seconds: nodeStatusReportFrequency
PODS, NODES, LEASES, EVENTS = KINDS["Pod"], KINDS["Node"], KINDS["Lease"], KINDS["Event"]
_SPEC_ONLY = ("status",)


class Kubelet(KubeRuntimeManager, Housekeeping, NodeLease, ProberManager):
    """The kubelet of node `node_name`, running on `host` (the node's machine).

    `start()` registers the Node if it does not exist, renews its Lease every 10 s, posts node
    status, runs the pods the API server binds to the node, and every 10 s runs the eviction
    manager. Crashing the host stops the kubelet and every container; restarting the host
    starts the kubelet afresh, keeping the images on the node's disk. `crash()` stops only
    the kubelet process (its containers keep running). `workload` is the default workload of
    containers whose pod has no workload annotation (a Workload, or a function of pod and
    container name).

    Eviction settings take KubeletConfiguration's names and text: `eviction_hard` (None: the
    Linux defaults; `{}`: none), `eviction_soft`, `eviction_soft_grace_period`,
    `eviction_minimum_reclaim`, `eviction_pressure_transition_period` ("5m"),
    `eviction_max_pod_grace_period` (0). `system_reserved` / `kube_reserved` turn on the
    allocatable arithmetic (capacity minus reservations minus the hard thresholds); without
    them (and without `allocatable`) allocatable equals capacity. `image_gc` takes
    imageGCHighThresholdPercent, imageGCLowThresholdPercent and imageMinimumGCAge.
    `system_usage` is what the OS and system daemons use outside pods ({"memory": "600Mi",
    "disk": "8Gi"}; default nothing). `registry` maps repositories to a regular expression of
    the tags that exist (default runtime.REGISTRY_TAGS).
    """

    def __init__(
        self,
        host: Host,
        apiserver: str = "apiserver",
        node_name: str | None = None,
        *,
        trace: Trace | None = None,
        metrics: Metrics | None = None,
        epoch_ns: int = 0,
        rng: random.Random | None = None,
        capacity: Mapping[str, str] | None = None,
        allocatable: Mapping[str, str] | None = None,
        pod_cidr: str | None = None,
        node_ip: str | None = None,
        labels: Mapping[str, str] | None = None,
        workload: Workload | Callable[[Mapping[str, Any], str], Workload] | None = None,
        runtime_options: Mapping[str, Any] | None = None,
        eviction_hard: Mapping[str, str] | str | None = None,
        eviction_soft: Mapping[str, str] | str | None = None,
        eviction_soft_grace_period: Mapping[str, str] | str | None = None,
        eviction_minimum_reclaim: Mapping[str, str] | str | None = None,
        eviction_pressure_transition_period: float | str = DEFAULT_PRESSURE_TRANSITION_PERIOD,
        eviction_max_pod_grace_period: int = 0,
        system_reserved: Mapping[str, str] | None = None,
        kube_reserved: Mapping[str, str] | None = None,
        image_gc: Mapping[str, Any] | None = None,
        system_usage: Mapping[str, str] | None = None,
        registry: Mapping[str, str] | None = None,
    ) -> None:
        self.host = host
        self.node_name = node_name or host.name
        self.clock = host.net.clock
        self.trace = trace
        self.metrics = metrics
        self.epoch_ns = epoch_ns
        self.rng = rng or random.Random(f"kubelet/{self.node_name}")
        self.capacity = dict(capacity) if capacity is not None else None
        self.allocatable = dict(allocatable) if allocatable is not None else None
        self.pod_cidr, self.node_ip = pod_cidr, node_ip
        self.labels = dict(labels or {})
        self.workload = workload
        self.runtime_options = dict(runtime_options or {})
        self.registry = registry
        usage = dict(system_usage or {})
        self.system_usage = {k: to_bytes(usage.get(k, 0)) for k in ("memory", "disk")}
        self.eviction_options = {
            "eviction_hard": eviction_hard, "eviction_soft": eviction_soft,
            "eviction_soft_grace_period": eviction_soft_grace_period,
            "eviction_minimum_reclaim": eviction_minimum_reclaim,
            "pressure_transition_period": eviction_pressure_transition_period,
            "max_pod_grace_period_seconds": eviction_max_pod_grace_period,
        }  # fmt: skip
        EvictionManager.from_config(**self.eviction_options)  # bad settings fail here, not later
        self.reserved = (system_reserved, kube_reserved)
        self.eviction_hard = (
            eviction_hard if isinstance(eviction_hard, str) else eviction_hard_with_defaults(eviction_hard)
        )  # fmt: skip
        self.image_gc_policy = image_gc_policy(image_gc)
        self.client = RESTClient(
            host, apiserver, qps=KUBELET_QPS, burst=KUBELET_BURST, user_agent="kubelet/" + KUBERNETES_VERSION,
            credentials={"cert": {"cn": f"system:node:{self.node_name}", "o": ["system:nodes"]}},
        )  # fmt: skip
        self.running = False
        self.lease_renewals = 0
        self.crashed_reason: str | None = None
        host.on_crash.append(self._crashed)
        host.on_restart.append(self.start)
        self._reset()

    # -- lifecycle -----------------------------------------------------------------------------
    def _reset(self) -> None:
        images = self.host.disk.setdefault("images", {})
        self.runtime = ContainerRuntime(
            self.node_name, images=images, boot=self.host.incarnation, **self.runtime_options
        )
        self.backoff = Backoff()
        self.image_backoff = Backoff(max=MAX_IMAGE_BACKOFF)
        self.eviction = EvictionManager.from_config(**self.eviction_options)
        self.pressure: list[str] = []
        self.pods: dict[str, PodWorker] = {}
        self.informer: Informer | None = None
        self._node: Obj | None = None
        self._lease: dict[str, Any] | None = None
        self._last_report_ns: int | None = None
        self._ips: dict[int, str] = {}  # host index in the pod CIDR -> pod uid
        self._queued: dict[str, bool] = {}
        self._retry: dict[str, Timer] = {}
        self._events: dict[tuple[str, ...], tuple[str, str, int]] = {}
        self._last_event_ns = 0
        self._started_ns = self.clock.now_ns
        self._image_first_seen: dict[str, float] = {}
        self._image_last_used: dict[str, float] = {}

    def start(self) -> None:
        """Register, start heartbeats, the sync loop and housekeeping (idempotent while running)."""
        if self.running or not self.host.up:
            return
        self._reset()
        self.running = True
        self.crashed_reason = None
        self._emit("kubelet-started")
        self._node_event("Normal", "Starting", "Starting kubelet.")
        self._sync_node_status()
        self.host.every(NODE_STATUS_UPDATE_FREQUENCY, self._sync_node_status)
        self.host.call_later(0, self._renew_lease)
        self.host.every(NODE_LEASE_RENEW_INTERVAL, self._renew_lease)
        self.host.every(SYNC_FREQUENCY, self._resync_all)
        self.host.every(60, lambda: self.backoff.gc(self.clock.now))
        self._start_housekeeping()

    def _start_pod_informer(self) -> None:
        """Watch the pods bound to this node, once the Node (and its podCIDR) is known."""
        if self.informer is not None:
            return
        self.informer = Informer(
            self.client, PODS, field_selector=f"spec.nodeName={self.node_name}"
        )
        self.informer.add_handlers(
            on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_deleted
        )
        self.informer.start()

    def stop(self) -> None:
        """Stop the kubelet process (containers keep nothing: this is a simulation)."""
        self.running = False
        if self.informer is not None:
            self.informer.stop()

    def _crashed(self) -> None:
        self.running = False
        self.pods = {}
        if self._disk_timer is not None:
            self._disk_timer.cancel()

    # -- helpers -------------------------------------------------------------------------------
    def _emit(self, event: str, **fields: Any) -> None:
        if self.trace is not None:
            self.trace.emit(self.node_name, event, **fields)

    def _now_stamp(self, ns: int | None = None) -> str:
        return rfc3339(self.epoch_ns + (self.clock.now_ns if ns is None else ns))

    def _record(self, ref: dict[str, Any], type_: str, reason: str, message: str) -> None:
        """record.EventRecorder: POST a core/v1 Event, or PATCH the count of a repeat."""
        ns = ref.get("namespace") or "default"
        now_ns = max(self.epoch_ns + self.clock.now_ns, self._last_event_ns + 1)
        self._last_event_ns = now_ns
        stamp = rfc3339(now_ns)
        obj = f"{ref.get('kind', '')}/{ref.get('name', '')}"
        self._emit("event", type=type_, reason=reason, object=obj, message=message)
        key = (
            ns,
            obj,
            str(ref.get("uid", "")),
            str(ref.get("fieldPath", "")),
            type_,
            reason,
            message,
        )
        seen = self._events.get(key)
        if seen is not None:
            seen_ns, name, count = seen
            self._events[key] = (seen_ns, name, count + 1)
            patch = {"count": count + 1, "lastTimestamp": stamp}
            self.client.request("PATCH", object_path(EVENTS, name, seen_ns), patch)
            return
        name = f"{ref.get('name', '')}.{now_ns:x}"
        self._events[key] = (ns, name, 1)
        event = {
            "apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": ns},
            "involvedObject": ref, "reason": reason, "message": message,
            "source": {"component": "kubelet", "host": self.node_name},
            "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1, "type": type_,
            "reportingComponent": "kubelet", "reportingInstance": self.node_name,
        }  # fmt: skip
        self.client.request("POST", collection_path(EVENTS, ns), event)

    def _pod_event(
        self, ps: PodWorker, container: str | None, type_: str, reason: str, message: str
    ) -> None:
        meta = ps.pod.metadata
        ref = {"kind": "Pod", "namespace": ps.pod.namespace, "name": ps.pod.name,
               "uid": meta.get("uid", ""), "apiVersion": "v1"}  # fmt: skip
        if container is not None:
            ref["fieldPath"] = f"spec.containers{{{container}}}"
        self._record(ref, type_, reason, message)

    def _node_event(self, type_: str, reason: str, message: str) -> None:
        ref = {"kind": "Node", "name": self.node_name, "uid": self.node_name, "apiVersion": "v1"}
        self._record(ref, type_, reason, message)

    # -- node registration and status ----------------------------------------------------------
    def _sync_node_status(self) -> None:
        """tryUpdateNodeStatus: read the Node, register it when missing, post status when it
        changed or nodeStatusReportFrequency has passed since the last post."""
        if not self.running:
            return
        self.client.request("GET", object_path(NODES, self.node_name), callback=self._got_node)

    def _got_node(self, resp: Response) -> None:
        if resp.code == 404:
            self._register()
        elif resp.ok:
            self._node = Obj(resp.body)
            self._start_pod_informer()
            self._post_node_status()

    def _register(self) -> None:
        labels = {"kubernetes.io/arch": "amd64", "kubernetes.io/hostname": self.node_name,
                  "kubernetes.io/os": "linux", **self.labels}  # fmt: skip
        node: dict[str, Any] = {"apiVersion": "v1", "kind": "Node",
                                "metadata": {"name": self.node_name, "labels": labels}}  # fmt: skip
        if self.pod_cidr:
            node["spec"] = {"podCIDR": self.pod_cidr, "podCIDRs": [self.pod_cidr]}

        def created(resp: Response) -> None:
            if resp.ok:
                self._emit("node-registered")
                self._node = Obj(resp.body)
                self._start_pod_informer()
                self._post_node_status(force=True)

        self.client.request("POST", collection_path(NODES), node, created)

    def _capacity(self) -> dict[str, str]:
        old = ((self._node or {}).get("status") or {}).get("capacity")
        return dict(self.capacity or old or DEFAULT_CAPACITY)

    def _allocatable(self, capacity: Mapping[str, str]) -> dict[str, str]:
        if self.allocatable:
            return dict(self.allocatable)
        system, kube = self.reserved
        if system is None and kube is None:
            old = ((self._node or {}).get("status") or {}).get("allocatable")
            return dict(old or capacity)
        return {
            k: str(v)
            for k, v in node_allocatable(capacity, system, kube, self.eviction_hard).items()
        }

    def _post_node_status(self, force: bool = False) -> None:
        node = self._node
        if node is None:
            return
        self._record_metrics()
        old = node.get("status") or {}
        capacity = self._capacity()
        new = node_status(old, capacity=capacity, allocatable=self._allocatable(capacity),
                          pressure=self.pressure, images=self.runtime.images,
                          node_ip=self._node_ip(), node_name=self.node_name, stamp=self._now_stamp())  # fmt: skip
        now = self.clock.now_ns
        due = self._last_report_ns is None or now - self._last_report_ns >= to_ns(
            NODE_STATUS_REPORT_FREQUENCY
        )
        if not (force or due or strip_heartbeats(new) != strip_heartbeats(old)):
            return
        self._last_report_ns = now
        body = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": self.node_name},
                "status": new}  # fmt: skip
        self._emit("node-status", ready=new["conditions"][-1]["status"])
        self.client.request("PUT", object_path(NODES, self.node_name, subresource="status"), body)

    def _node_ip(self) -> str:
        if self.node_ip:
            return self.node_ip
        for addr in ((self._node or {}).get("status") or {}).get("addresses") or []:
            if addr.get("type") == "InternalIP":
                return str(addr["address"])
        return "10.0.0.10"

    # -- pods from the informer ----------------------------------------------------------------
    def _pod_added(self, pod: Obj) -> None:
        uid = pod.metadata.get("uid", "")
        if uid in self.pods:
            self._pod_updated(None, pod)
            return
        if (pod.get("status") or {}).get("phase") in TERMINAL_PHASES:
            return  # already finished: nothing to run
        rejected = None if pod.metadata.get("deletionTimestamp") else self._admit(pod)
        if rejected is not None:  # canAdmitPod: the pod fails at once and never runs
            self._emit("pod-rejected", pod=f"{pod.namespace}/{pod.name}", reason=rejected["reason"])
            body = {"apiVersion": "v1", "kind": "Pod", "status": rejected,
                    "metadata": {"name": pod.name, "namespace": pod.namespace}}  # fmt: skip
            self.client.request("PUT", object_path(PODS, pod.name, pod.namespace, "status"), body)
            return
        start_time = (pod.get("status") or {}).get("startTime") or self._now_stamp()
        ps = new_worker(pod, start_time, self._allocate_ip(uid))  # startTime is kept
        if ps.of_kind("init", "sidecar"):
            for slot in ps.slots.values():
                slot.waiting = ("PodInitializing", "")
        self.pods[uid] = ps
        self._emit("pod-added", pod=ps.key)
        self._add_probes(uid, ps)
        self._queue_sync(uid)

    def _pod_updated(self, old: Obj | None, pod: Obj) -> None:
        """Only changes outside status wake the worker, as the kubelet's pod config source
        filters status-only updates (most of them are the kubelet's own writes)."""
        uid = pod.metadata.get("uid", "")
        ps = self.pods.get(uid)
        if ps is None:
            self._pod_added(pod)
            return
        changed = _without_status(ps.pod) != _without_status(pod)
        ps.pod = pod
        if changed:
            self._queue_sync(uid)

    def _pod_deleted(self, pod: Obj) -> None:
        """The pod is gone from the API server: stop what still runs at once and forget it."""
        uid = pod.metadata.get("uid", "")
        ps = self.pods.pop(uid, None)
        if ps is None:
            return
        for slot in ps.slots.values():
            self._cancel(slot.timers)
            c = slot.current
            if c is not None and c.state != "exited":
                self._pod_event(
                    ps, slot.name, "Normal", "Killing", f"Stopping container {slot.name}"
                )
                self.runtime.stop(c, self.clock.now_ns, 137, "Error")
        self._cancel(ps.timers)
        self.runtime.remove_pod(uid)
        self._ips = {i: u for i, u in self._ips.items() if u != uid}
        self._emit("pod-killed", pod=ps.key)

    @staticmethod
    def _cancel(timers: list[Timer]) -> None:
        for timer in timers:
            timer.cancel()
        timers.clear()

    def _allocate_ip(self, uid: str) -> str:
        cidr = (
            self.pod_cidr
            or ((self._node or {}).get("spec") or {}).get("podCIDR")
            or "10.244.0.0/24"
        )
        net = ipaddress.ip_network(cidr, strict=False)
        index = 2  # host-local IPAM: .1 is the bridge gateway
        while index in self._ips:
            index += 1
        self._ips[index] = uid
        return str(net.network_address + index)

    def _resync_all(self) -> None:
        for uid in sorted(self.pods):
            self._queue_sync(uid)

    def _queue_sync(self, uid: str, delay_ns: int = 0) -> None:
        """Sync the pod now (once, however often asked) or after `delay_ns`; of several
        delayed requests only the earliest is kept, since each sync asks again for what it
        still needs (so retries never pile up)."""
        if delay_ns:
            due = self.clock.now_ns + delay_ns
            pending = self._retry.get(uid)
            if pending is not None and pending.active and pending.due <= due:
                return
            if pending is not None:
                pending.cancel()
            self._retry[uid] = self.host.call_later(delay_ns / SECOND, lambda: self._sync(uid))
        elif not self._queued.get(uid):
            self._queued[uid] = True
            self.host.call_later(0, lambda: self._sync(uid))

    # -- the pod worker ------------------------------------------------------------------------
    def _sync(self, uid: str) -> None:
        """SyncPod, or SyncTerminatingPod once the pod has a deletionTimestamp: start what
        should run, restart what exited (after back-off), or stop it all; then post status."""
        self._queued.pop(uid, None)
        retry = self._retry.get(uid)
        if retry is not None and retry.due <= self.clock.now_ns:
            del self._retry[uid]
        ps = self.pods.get(uid)
        if ps is None or not self.running:
            return
        if ps.pod.metadata.get("deletionTimestamp") and not ps.terminating:
            self._terminate(uid, ps)
        if not ps.terminating and ps.phase not in TERMINAL_PHASES:
            self._sync_containers(uid, ps)
        self._push_status(uid, ps)

    # -- status manager ------------------------------------------------------------------------
    def pod_status(self, uid: str) -> dict[str, Any] | None:
        """generateAPIPodStatus: the status the kubelet would post for pod `uid` now."""
        ps = self.pods.get(uid)
        if ps is None:
            return None
        return generate_pod_status(ps, self.runtime.images, self.epoch_ns, self._node_ip(),
                                   self._now_stamp())  # fmt: skip

    def _push_status(self, uid: str, ps: PodWorker) -> None:
        status = self.pod_status(uid)
        if status is None:
            return
        self._observe_transitions(ps, status)
        if ps.inflight:
            ps.dirty = True
            return
        if status == ps.sent:
            self._delete_if_done(uid, ps)
            return
        ps.inflight, ps.dirty = True, False
        body = {"apiVersion": "v1", "kind": "Pod", "status": status,
                "metadata": {"name": ps.pod.name, "namespace": ps.pod.namespace}}  # fmt: skip

        def done(resp: Response) -> None:
            ps.inflight = False
            if resp.ok:
                ps.sent = status
            if self.pods.get(uid) is ps and (ps.dirty or not resp.ok):
                self._queue_sync(uid, 0 if resp.ok else SECOND)
            elif resp.ok:
                self._delete_if_done(uid, ps)

        self.client.request(
            "PUT", object_path(PODS, ps.pod.name, ps.pod.namespace, "status"), body, done
        )

    def _delete_if_done(self, uid: str, ps: PodWorker) -> None:
        """The status manager's final step: once a pod with a deletionTimestamp has stopped
        all its containers and its terminal status is written, DELETE it with grace 0 and
        the pod's UID as precondition (evicted pods without one stay, phase Failed)."""
        if not ps.terminated or ps.deleting or not ps.pod.metadata.get("deletionTimestamp"):
            return
        ps.deleting = True
        options = {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0,
                   "preconditions": {"uid": uid}}  # fmt: skip
        # with_query drops a 0 (0 == False), so the query is written out here
        path = f"{object_path(PODS, ps.pod.name, ps.pod.namespace)}?gracePeriodSeconds=0"
        self._emit("pod-delete", pod=ps.key)
        self.client.request("DELETE", path, options)

    def _observe_transitions(self, ps: PodWorker, status: Mapping[str, Any]) -> None:
        phase = status["phase"]
        ready = any(c["type"] == "Ready" and c["status"] == "True" for c in status["conditions"])
        if phase != ps.phase:
            ps.phase = phase
            self._emit(f"pod-{phase.lower()}", pod=ps.key)
            if phase in TERMINAL_PHASES:
                self._cancel(ps.timers)
        if ready != ps.ready:
            ps.ready = ready
            self._emit("pod-ready" if ready else "pod-not-ready", pod=ps.key)


def _without_status(pod: Mapping[str, Any]) -> Any:
    meta = {k: v for k, v in (pod.get("metadata") or {}).items()
            if k not in ("resourceVersion", "managedFields")}  # fmt: skip
    return {**{k: v for k, v in pod.items() if k not in _SPEC_ONLY}, "metadata": meta}


__all__ = [
    "KUBELET_BURST", "KUBELET_QPS", "Kubelet", "NODE_LEASE_DURATION_SECONDS",
    "NODE_LEASE_NAMESPACE", "NODE_LEASE_RENEW_INTERVAL", "NODE_STATUS_REPORT_FREQUENCY",
    "NODE_STATUS_UPDATE_FREQUENCY", "SYNC_FREQUENCY", "container_status", "node_conditions",
    "pod_conditions", "pod_phase", "rfc3339",
]  # fmt: skip
