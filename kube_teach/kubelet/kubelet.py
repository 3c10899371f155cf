"""The kubelet host: a node agent on the node's machine that talks to the API server by messages.

Semantics: pkg/kubelet/kubelet.go (registration, syncLoop with syncFrequency 1 m), pod_workers.go
(one worker per pod, event driven), kuberuntime (SyncPod: pull, create, start, restart with
back-off, getPhase), status/status_manager.go (pod status writes), nodelease (Lease renewed every
10 s) and nodestatus (conditions, posted on change or every 5 min). Containers live in runtime.py.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kube_teach.api.kinds import KINDS
from kube_teach.api.objects import Obj
from kube_teach.api.quantity import Quantity
from kube_teach.api.rest import Response, collection_path, object_path
from kube_teach.client.informer import Informer
from kube_teach.client.leaderelection import format_micro_time
from kube_teach.client.rest import RESTClient
from kube_teach.sim.clock import Timer
from kube_teach.sim.duration import SECOND, format_duration, to_ns
from kube_teach.sim.metrics import Metrics
from kube_teach.sim.network import Host
from kube_teach.sim.trace import Trace

from .backoff import Backoff, format_pod, restart_decision
from .probes import (
    FAILURE,
    LIVENESS,
    PROBE_FIELDS,
    READINESS,
    STARTUP,
    SUCCESS,
    ProbeSpec,
    ProbeWorker,
)
from .qos import qos_class
from .runtime import (
    Container,
    ContainerRuntime,
    Usage,
    Workload,
    default_pull_policy,
    image_ref,
    workload_for,
)

KUBELET_QPS, KUBELET_BURST = 50, 100  # kubeAPIQPS, kubeAPIBurst
SYNC_FREQUENCY = 60  # seconds: syncFrequency
NODE_STATUS_UPDATE_FREQUENCY = 10  # seconds: nodeStatusUpdateFrequency
NODE_STATUS_REPORT_FREQUENCY = 300  # seconds: nodeStatusReportFrequency
NODE_LEASE_DURATION_SECONDS = 40  # nodeLeaseDurationSeconds
NODE_LEASE_RENEW_INTERVAL = 10  # seconds: 0.25 x the lease duration
NODE_LEASE_NAMESPACE = "kube-node-lease"
KUBERNETES_VERSION = "v1.34.0"
DEFAULT_CAPACITY = {"cpu": "4", "memory": "16Gi", "pods": "110", "ephemeral-storage": "100Gi"}
PODS, NODES, LEASES, EVENTS = KINDS["Pod"], KINDS["Node"], KINDS["Lease"], KINDS["Event"]


@dataclass
class _Slot:
    """The kubelet's view of one spec container across its restarts."""

    spec: dict[str, Any]
    current: Container | None = None
    last: Container | None = None  # the exited container before `current` (lastState)
    attempts: int = 0
    pulling: bool = False
    waiting: tuple[str, str] | None = ("ContainerCreating", "")
    started: bool = False  # the startup probe has passed (or there is none)
    ready: bool = False
    probes: dict[str, ProbeWorker] = field(default_factory=dict)
    timers: list[Timer] = field(default_factory=list)

    @property
    def name(self) -> str:
        return str(self.spec.get("name", ""))


@dataclass
class _PodState:
    """One pod worker: the latest pod from the informer and its containers."""

    pod: Obj
    slots: dict[str, _Slot]
    start_time: str
    pod_ip: str
    timers: list[Timer] = field(default_factory=list)
    sent: dict[str, Any] | None = None
    inflight: bool = False
    dirty: bool = False
    phase: str = "Pending"
    ready: bool = False

    @property
    def key(self) -> str:
        return f"{self.pod.namespace}/{self.pod.name}"


class Kubelet:
    """The kubelet of node `node_name`, running on `host` (the node's machine).

    `start()` registers the Node if it does not exist, renews its Lease every 10 s, posts node
    status, and runs the pods the API server binds to the node. Crashing the host stops the
    kubelet and every container; restarting the host starts the kubelet afresh, keeping the
    images on the node's disk. `workload` is the default workload of containers whose pod has
    no workload annotation (a Workload, or a function of pod and container name).
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
        self.client = RESTClient(
            host, apiserver, qps=KUBELET_QPS, burst=KUBELET_BURST, user_agent="kubelet/" + KUBERNETES_VERSION,
            credentials={"cert": {"cn": f"system:node:{self.node_name}", "o": ["system:nodes"]}},
        )  # fmt: skip
        self.running = False
        self.lease_renewals = 0
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
        self.pods: dict[str, _PodState] = {}
        self.informer: Informer | None = None
        self._node: Obj | None = None
        self._lease: dict[str, Any] | None = None
        self._last_report_ns: int | None = None
        self._ips: dict[int, str] = {}  # host index in the pod CIDR -> pod uid
        self._queued: dict[str, bool] = {}
        self._events: dict[tuple[str, ...], tuple[str, str, int]] = {}
        self._last_event_ns = 0
        self._started_ns = self.clock.now_ns

    def start(self) -> None:
        """Register, start heartbeats and the sync loop (idempotent while running)."""
        if self.running or not self.host.up:
            return
        self._reset()
        self.running = True
        self._emit("kubelet-started")
        self._node_event("Normal", "Starting", "Starting kubelet.")
        self._sync_node_status()
        self.host.every(NODE_STATUS_UPDATE_FREQUENCY, self._sync_node_status)
        self.host.call_later(0, self._renew_lease)
        self.host.every(NODE_LEASE_RENEW_INTERVAL, self._renew_lease)
        self.host.every(SYNC_FREQUENCY, self._resync_all)
        self.host.every(60, lambda: self.backoff.gc(self.clock.now))

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
        self, ps: _PodState, container: str | None, type_: str, reason: str, message: str
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

    def _node_status(self, old: Mapping[str, Any]) -> dict[str, Any]:
        capacity = self.capacity or dict(old.get("capacity") or DEFAULT_CAPACITY)
        allocatable = self.allocatable or dict(old.get("allocatable") or capacity)
        usage = self.runtime.usage(self.clock.now_ns)
        ip = self._node_ip()
        stamp = self._now_stamp()
        return {
            "capacity": capacity,
            "allocatable": allocatable,
            "conditions": node_conditions(
                old.get("conditions") or [], capacity, usage, self.runtime.images, stamp
            ),  # fmt: skip
            "addresses": [
                {"type": "InternalIP", "address": ip},
                {"type": "Hostname", "address": self.node_name},
            ],  # fmt: skip
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "kubeletVersion": KUBERNETES_VERSION,
                "containerRuntimeVersion": "containerd://2.0.0",
                "osImage": "Ubuntu 24.04 LTS",
                "kernelVersion": "6.8.0-generic",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },  # fmt: skip
            "images": [
                {"names": [name], "sizeBytes": size}
                for name, size in sorted(self.runtime.images.items())
            ],  # fmt: skip
        }

    def _post_node_status(self, force: bool = False) -> None:
        node = self._node
        if node is None:
            return
        self._record_metrics()
        old = node.get("status") or {}
        new = self._node_status(old)
        now = self.clock.now_ns
        due = self._last_report_ns is None or now - self._last_report_ns >= to_ns(
            NODE_STATUS_REPORT_FREQUENCY
        )
        if not (force or due or _strip_heartbeats(new) != _strip_heartbeats(old)):
            return
        self._last_report_ns = now
        body = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": self.node_name},
                "status": new}  # fmt: skip
        self._emit("node-status", ready=new["conditions"][-1]["status"])
        self.client.request("PUT", object_path(NODES, self.node_name, subresource="status"), body)

    def _record_metrics(self) -> None:
        """Gauges for plots: the node's working set and running pods, per container use."""
        if self.metrics is None:
            return
        now = self.clock.now_ns
        usage = self.runtime.usage(now)
        self.metrics.set("node_memory_working_set_bytes", usage.memory, node=self.node_name)
        self.metrics.set("node_cpu_usage_millicores", usage.cpu, node=self.node_name)
        self.metrics.set("kubelet_running_pods", len(self.pods), node=self.node_name)
        for uid in sorted(self.pods):
            ps = self.pods[uid]
            for name in sorted(ps.slots):
                c = ps.slots[name].current
                if c is not None:
                    self.metrics.set("container_memory_working_set_bytes", c.usage(now).memory,
                                     pod=ps.key, container=name)  # fmt: skip

    def _node_ip(self) -> str:
        if self.node_ip:
            return self.node_ip
        for addr in ((self._node or {}).get("status") or {}).get("addresses") or []:
            if addr.get("type") == "InternalIP":
                return str(addr["address"])
        return "10.0.0.10"

    # -- node lease ----------------------------------------------------------------------------
    def _renew_lease(self) -> None:
        """nodelease controller: ensure the Lease exists, then update it with a new renewTime;
        on a conflict read it again and retry once."""
        if not self.running:
            return
        if self._lease is None:
            path = object_path(LEASES, self.node_name, NODE_LEASE_NAMESPACE)
            self.client.request("GET", path, callback=self._got_lease)
        else:
            self._update_lease(retry=True)

    def _lease_spec(self) -> dict[str, Any]:
        return {"holderIdentity": self.node_name, "leaseDurationSeconds": NODE_LEASE_DURATION_SECONDS,
                "renewTime": format_micro_time(self.epoch_ns + self.clock.now_ns)}  # fmt: skip

    def _got_lease(self, resp: Response, retry: bool = False) -> None:
        if resp.ok:
            self._lease = dict(resp.body)
            self._update_lease(retry=retry)
        elif resp.code == 404:
            lease = {
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": self.node_name, "namespace": NODE_LEASE_NAMESPACE},
                "spec": self._lease_spec(),
            }  # fmt: skip
            if self._node is not None:
                lease["metadata"]["ownerReferences"] = self._owner()
            self.client.request("POST", collection_path(LEASES, NODE_LEASE_NAMESPACE), lease,
                                self._lease_written)  # fmt: skip

    def _owner(self) -> list[dict[str, Any]]:
        assert self._node is not None
        uid = self._node.metadata.get("uid", "")
        return [{"apiVersion": "v1", "kind": "Node", "name": self.node_name, "uid": uid}]

    def _update_lease(self, retry: bool) -> None:
        assert self._lease is not None
        body = dict(self._lease)
        body["spec"] = {**(body.get("spec") or {}), **self._lease_spec()}
        meta = body["metadata"] = dict(body.get("metadata") or {})
        if not meta.get("ownerReferences") and self._node is not None:
            meta["ownerReferences"] = self._owner()  # setNodeOwnerFunc, once the Node exists
        path = object_path(LEASES, self.node_name, NODE_LEASE_NAMESPACE)

        def done(resp: Response) -> None:
            if resp.ok:
                self._lease_written(resp)
            elif retry and self.running:
                self._lease = None
                self.client.request("GET", path, callback=lambda r: self._got_lease(r, False))
            else:
                self._lease = None

        self.client.request("PUT", path, body, done)

    def _lease_written(self, resp: Response) -> None:
        if resp.ok:
            self._lease = dict(resp.body)
            self.lease_renewals += 1
            self._emit("lease-renewed", renewTime=resp.body["spec"].get("renewTime", ""))

    # -- pods from the informer ----------------------------------------------------------------
    def _pod_added(self, pod: Obj) -> None:
        uid = pod.metadata.get("uid", "")
        if uid in self.pods:
            self._pod_updated(None, pod)
            return
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return  # already finished: nothing to run
        spec = pod.get("spec") or {}
        slots = {c["name"]: _Slot(dict(c)) for c in spec.get("containers") or []}
        start_time = (pod.get("status") or {}).get("startTime") or self._now_stamp()
        ps = _PodState(pod, slots, start_time, self._allocate_ip(uid))  # startTime is kept
        self.pods[uid] = ps
        self._emit("pod-added", pod=ps.key)
        self._add_probes(uid, ps)
        self._queue_sync(uid)

    def _pod_updated(self, old: Obj | None, pod: Obj) -> None:
        uid = pod.metadata.get("uid", "")
        ps = self.pods.get(uid)
        if ps is None:
            self._pod_added(pod)
            return
        ps.pod = pod
        self._queue_sync(uid)

    def _pod_deleted(self, pod: Obj) -> None:
        """The pod is gone from the API server: stop its containers and forget it."""
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
        if delay_ns:
            self.host.call_later(delay_ns / SECOND, lambda: self._sync(uid))
        elif not self._queued.get(uid):
            self._queued[uid] = True
            self.host.call_later(0, lambda: self._sync(uid))

    # -- the pod worker ------------------------------------------------------------------------
    def _sync(self, uid: str) -> None:
        """SyncPod: start what should run, restart what exited (after back-off), post status."""
        self._queued.pop(uid, None)
        ps = self.pods.get(uid)
        if ps is None or not self.running:
            return
        if ps.phase not in ("Succeeded", "Failed"):
            policy = (ps.pod.get("spec") or {}).get("restartPolicy") or "Always"
            for name in ps.slots:
                self._sync_container(uid, ps, ps.slots[name], policy)
        self._push_status(uid, ps)

    def _sync_container(self, uid: str, ps: _PodState, slot: _Slot, policy: str) -> None:
        c = slot.current
        if slot.pulling or (c is not None and c.state != "exited"):
            return
        if c is not None:
            if policy == "Never" or (policy == "OnFailure" and c.exit_code == 0):
                slot.waiting = None
                return
            now = self.clock.now_ns
            decision = restart_decision(
                self.backoff, ps.pod, slot.name, c.finished_ns / SECOND, now / SECOND
            )
            if not decision.start:
                if slot.waiting is None or slot.waiting[0] != decision.reason:
                    message = f"Back-off restarting failed container {slot.name} in pod {format_pod(ps.pod)}"
                    self._pod_event(ps, slot.name, "Warning", "BackOff", message)
                slot.waiting = (decision.reason, decision.message)
                wake = c.finished_ns + to_ns(decision.delay) - now
                self._queue_sync(uid, max(wake, 1))
                return
        self._ensure_image(uid, ps, slot)

    def _ensure_image(self, uid: str, ps: _PodState, slot: _Slot) -> None:
        image = str(slot.spec.get("image", ""))
        policy = slot.spec.get("imagePullPolicy") or default_pull_policy(image)
        slot.waiting = ("ContainerCreating", "")
        if self.runtime.needs_pull(image, policy):
            slot.pulling = True
            self._pod_event(ps, slot.name, "Normal", "Pulling", f'Pulling image "{image}"')
            pull_ns, total_ns = self.runtime.pull(image, self.clock.now_ns)
            self.host.call_later(
                total_ns / SECOND, lambda: self._pulled(uid, slot, image, pull_ns, total_ns)
            )
            return
        if image not in self.runtime.images:  # imagePullPolicy: Never
            message = f'Container image "{image}" is not present with pull policy of Never'
            slot.waiting = ("ErrImageNeverPull", message)
            self._pod_event(ps, slot.name, "Warning", "ErrImageNeverPull", message)
            return
        message = (
            f'Container image "{image}" already present on machine and can be accessed by the pod'
        )
        self._pod_event(ps, slot.name, "Normal", "Pulled", message)
        self._create_and_start(uid, ps, slot)

    def _pulled(self, uid: str, slot: _Slot, image: str, pull_ns: int, total_ns: int) -> None:
        size = self.runtime.pulled(image)
        ps = self.pods.get(uid)
        slot.pulling = False
        if ps is None or ps.slots.get(slot.name) is not slot:
            return
        self._emit("image-pulled", image=image, seconds=format_duration(pull_ns))
        message = (f'Successfully pulled image "{image}" in {format_duration(_ms(pull_ns))} '
                   f"({format_duration(_ms(total_ns))} including waiting). Image size: {size} bytes.")  # fmt: skip
        self._pod_event(ps, slot.name, "Normal", "Pulled", message)
        self._create_and_start(uid, ps, slot)

    def _create_and_start(self, uid: str, ps: _PodState, slot: _Slot) -> None:
        workload = self._workload(ps.pod, slot.name)
        image = str(slot.spec.get("image", ""))
        if slot.current is not None:
            slot.last = slot.current
        slot.current = c = self.runtime.create(uid, slot.name, image, slot.attempts, workload)
        slot.attempts += 1
        self._pod_event(ps, slot.name, "Normal", "Created", f"Created container: {slot.name}")

        def started() -> None:
            if self.pods.get(uid) is not ps or slot.current is not c:
                return
            now = self.clock.now_ns
            self.runtime.start(c, now)
            slot.waiting = None
            slot.started = STARTUP not in slot.probes
            slot.ready = slot.started and READINESS not in slot.probes
            for worker in slot.probes.values():
                worker.new_container()
            self._pod_event(ps, slot.name, "Normal", "Started", f"Started container {slot.name}")
            self._emit("container-started", pod=ps.key, container=slot.name, restartCount=c.attempt)
            self._schedule_exit(uid, ps, slot, c)
            self._queue_sync(uid)

        self.host.call_later(self.runtime.start_latency_ns / SECOND, started)

    def _workload(self, pod: Mapping[str, Any], name: str) -> Workload:
        default = self.workload(pod, name) if callable(self.workload) else self.workload
        return workload_for(pod, name, default)

    def _schedule_exit(self, uid: str, ps: _PodState, slot: _Slot, c: Container) -> None:
        """The process exits on its own (exitAfter) or is OOM-killed at its memory limit."""
        slot.timers = []  # the previous container's timers have fired or been cancelled
        limit = ((slot.spec.get("resources") or {}).get("limits") or {}).get("memory")
        oom = c.workload.oom_after(_bytes(limit)) if limit else None
        ends = [(oom, 137, "OOMKilled")] if oom is not None else []
        if c.workload.exit_after is not None:
            code = c.workload.exit_code
            ends.append((c.workload.exit_after, code, "Completed" if code == 0 else "Error"))
        if not ends:
            return
        after, code, reason = min(ends, key=lambda e: e[0])
        slot.timers.append(
            self.host.call_later(after, lambda: self._exited(uid, slot, c, code, reason))
        )

    def _exited(self, uid: str, slot: _Slot, c: Container, code: int, reason: str) -> None:
        if c.state == "exited":
            return
        self.runtime.stop(c, self.clock.now_ns, code, reason)
        slot.ready = False
        ps = self.pods.get(uid)
        key = ps.key if ps is not None else uid
        event = "container-oomkilled" if reason == "OOMKilled" else "container-exited"
        self._emit(event, pod=key, container=slot.name, exitCode=code)
        self._queue_sync(uid)

    # -- probes --------------------------------------------------------------------------------
    def _add_probes(self, uid: str, ps: _PodState) -> None:
        """prober_manager.AddPod: one worker per probe, ticking every periodSeconds from now;
        right after the kubelet starts, the first tick is delayed by a random part of a
        period so that probes do not all fire at once."""
        for name in ps.slots:
            slot = ps.slots[name]
            for kind in (STARTUP, LIVENESS, READINESS):
                spec = ProbeSpec.from_dict(slot.spec.get(PROBE_FIELDS[kind]))
                if spec is None:
                    continue
                slot.probes[kind] = ProbeWorker(kind, spec)
                period = spec.period_seconds
                jitter = 0.0
                if self.clock.now_ns - self._started_ns < to_ns(period):
                    jitter = round(self.rng.random() * period, 6)
                tick = lambda slot=slot, kind=kind: self._probe(uid, slot, kind)  # noqa: E731

                def begin(tick: Callable[[], None] = tick, period: int = period) -> None:
                    if self.pods.get(uid) is ps:
                        ps.timers.append(self.host.every(period, tick, start=True))

                ps.timers.append(self.host.call_later(jitter, begin))

    def _probe(self, uid: str, slot: _Slot, kind: str) -> None:
        ps = self.pods.get(uid)
        c = slot.current
        if ps is None or c is None or c.state != "running" or ps.phase in ("Succeeded", "Failed"):
            return
        worker = slot.probes[kind]
        since = (self.clock.now_ns - c.started_ns) / SECOND
        if not worker.should_probe(since, slot.started):
            return
        ok = c.workload.probe_ok(kind, since)
        if not ok:
            probe = slot.spec.get(PROBE_FIELDS[kind]) or {}
            self._pod_event(ps, slot.name, "Warning", "Unhealthy",
                            f"{kind.capitalize()} probe failed: {_probe_output(probe, ps.pod_ip)}")  # fmt: skip
        published = worker.observe(SUCCESS if ok else FAILURE)
        if published is None:
            return
        if kind == READINESS:
            slot.ready = published == SUCCESS
        elif kind == STARTUP and published == SUCCESS:
            slot.started = True
            slot.ready = READINESS not in slot.probes
        elif published == FAILURE:  # liveness or startup: kill, then restart per policy
            message = f"Container {slot.name} failed {kind} probe, will be restarted"
            self._pod_event(ps, slot.name, "Normal", "Killing", message)
            self._cancel(slot.timers)
            self._exited(uid, slot, c, 137, "Error")
            return
        self._queue_sync(uid)

    # -- status manager ------------------------------------------------------------------------
    def pod_status(self, uid: str) -> dict[str, Any] | None:
        """generateAPIPodStatus: the status the kubelet would post for pod `uid` now."""
        ps = self.pods.get(uid)
        if ps is None:
            return None
        pod = ps.pod
        policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
        statuses = [container_status(ps.slots[n], self.runtime.images, self.epoch_ns)
                    for n in sorted(ps.slots)]  # fmt: skip
        phase = pod_phase(statuses, policy)
        old = pod.get("status") or {}
        ip, host_ip = ps.pod_ip, self._node_ip()
        return {
            "phase": phase,
            "conditions": pod_conditions(old.get("conditions") or [], statuses, self._now_stamp(), phase),
            "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
            "podIP": ip, "podIPs": [{"ip": ip}],
            "startTime": ps.start_time,
            "containerStatuses": statuses,
            "qosClass": qos_class(pod),
        }  # fmt: skip

    def _push_status(self, uid: str, ps: _PodState) -> None:
        status = self.pod_status(uid)
        if status is None:
            return
        self._observe_transitions(ps, status)
        if ps.inflight:
            ps.dirty = True
            return
        if status == ps.sent:
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

        self.client.request(
            "PUT", object_path(PODS, ps.pod.name, ps.pod.namespace, "status"), body, done
        )

    def _observe_transitions(self, ps: _PodState, status: Mapping[str, Any]) -> None:
        phase = status["phase"]
        ready = any(c["type"] == "Ready" and c["status"] == "True" for c in status["conditions"])
        if phase != ps.phase:
            ps.phase = phase
            self._emit(f"pod-{phase.lower()}", pod=ps.key)
            if phase in ("Succeeded", "Failed"):
                self._cancel(ps.timers)
        if ready != ps.ready:
            ps.ready = ready
            self._emit("pod-ready" if ready else "pod-not-ready", pod=ps.key)


# -- status generation (pure) ----------------------------------------------------------------
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
TERMINAL_PHASES = ("Succeeded", "Failed")
_NODE_CONDITIONS = (  # type, (status, reason, message) when False, ... when True
    ("MemoryPressure", ("KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
     ("KubeletHasInsufficientMemory", "kubelet has insufficient memory available")),
    ("DiskPressure", ("KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
     ("KubeletHasDiskPressure", "kubelet has disk pressure")),
    ("PIDPressure", ("KubeletHasSufficientPID", "kubelet has sufficient PID available"),
     ("KubeletHasInsufficientPID", "kubelet has insufficient PID available")),
)  # fmt: skip
MEMORY_AVAILABLE_HARD = 100 * 1024 * 1024  # memory.available<100Mi
NODEFS_AVAILABLE_HARD_PERCENT = 10  # nodefs.available<10%


def rfc3339(unix_ns: int) -> str:
    """metav1.Time on the wire, to the second: `2025-01-01T00:00:12Z`."""
    return (_EPOCH + dt.timedelta(seconds=unix_ns // SECOND)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _terminated(c: Container, epoch_ns: int) -> dict[str, Any]:
    return {"exitCode": c.exit_code, "reason": c.reason,
            "startedAt": rfc3339(epoch_ns + c.started_ns),
            "finishedAt": rfc3339(epoch_ns + c.finished_ns),
            "containerID": f"containerd://{c.id}"}  # fmt: skip


def container_status(slot: _Slot, images: Mapping[str, int], epoch_ns: int) -> dict[str, Any]:
    """One containerStatuses entry: state (waiting/running/terminated), lastState, ready,
    restartCount, image, imageID and containerID, started."""
    c = slot.current
    image = str(slot.spec.get("image", ""))
    previous = c if c is not None and c.state == "exited" and slot.waiting else slot.last
    if slot.waiting is not None or c is None or c.state == "created":
        reason, message = slot.waiting or ("ContainerCreating", "")
        state: dict[str, Any] = {
            "waiting": {"reason": reason, **({"message": message} if message else {})}
        }
    elif c.state == "running":
        state = {"running": {"startedAt": rfc3339(epoch_ns + c.started_ns)}}
    else:
        state = {"terminated": _terminated(c, epoch_ns)}
    status: dict[str, Any] = {
        "name": slot.name, "state": state,
        "lastState": {"terminated": _terminated(previous, epoch_ns)} if previous is not None else {},
        "ready": bool(slot.ready and c is not None and c.state == "running"),
        "restartCount": max(slot.attempts - 1, 0) if c is not None else 0,
        "image": image, "imageID": image_ref(image) if image in images else "",
        "started": bool(c is not None and c.state == "running" and slot.started),
    }  # fmt: skip
    if c is not None:
        status["containerID"] = f"containerd://{c.id}"
    return status


def pod_phase(statuses: list[Mapping[str, Any]], restart_policy: str) -> str:
    """getPhase: Pending while a container waits for its first start; Running while one
    runs; once all stopped, Running under Always, else Succeeded if all exited 0, Failed
    under Never, Running under OnFailure (failed ones will restart)."""
    running = waiting = stopped = succeeded = 0
    for s in statuses:
        state = s["state"]
        if "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            succeeded += state["terminated"]["exitCode"] == 0
        elif s["lastState"].get("terminated"):
            stopped += 1
        else:
            waiting += 1
    if waiting:
        return "Pending"
    if running:
        return "Running"
    if stopped:
        if restart_policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        return "Failed" if restart_policy == "Never" else "Running"
    return "Pending"


def _condition(old: list[Mapping[str, Any]], type_: str, ok: bool, stamp: str,
               reason: str = "", message: str = "") -> dict[str, Any]:  # fmt: skip
    status = "True" if ok else "False"
    prev = next((c for c in old if c.get("type") == type_), None)
    since = prev.get("lastTransitionTime") if prev and prev.get("status") == status else stamp
    cond: dict[str, Any] = {"type": type_, "status": status, "lastProbeTime": None,
                            "lastTransitionTime": since}  # fmt: skip
    if reason:
        cond["reason"], cond["message"] = reason, message
    return cond


def pod_conditions(
    old: list[Mapping[str, Any]], statuses: list[Mapping[str, Any]], stamp: str, phase: str
) -> list[dict[str, Any]]:
    """PodReadyToStartContainers, Initialized, Ready, ContainersReady, then PodScheduled as
    the scheduler set it, in the order `kubectl describe` shows them."""
    unready = sorted(s["name"] for s in statuses if not s["ready"])
    terminal = phase in TERMINAL_PHASES
    if terminal:
        reason, message = "PodCompleted", ""
    else:
        reason, message = (
            "ContainersNotReady",
            f"containers with unready status: [{' '.join(unready)}]",
        )
    ready = not unready and not terminal
    conds = [
        _condition(old, "PodReadyToStartContainers", not terminal, stamp),
        _condition(old, "Initialized", True, stamp, *(("PodCompleted", "") if terminal else ())),
        _condition(old, "Ready", ready, stamp, *(() if ready else (reason, message))),
        _condition(old, "ContainersReady", ready, stamp, *(() if ready else (reason, message))),
    ]
    scheduled = next((dict(c) for c in old if c.get("type") == "PodScheduled"), None)
    conds.append(scheduled or _condition(old, "PodScheduled", True, stamp))
    for cond in conds:
        if cond.get("message") == "":
            del cond["message"]
    return conds


def node_conditions(
    old: list[Mapping[str, Any]], capacity: Mapping[str, str], usage: Usage,
    images: Mapping[str, int], stamp: str,
) -> list[dict[str, Any]]:  # fmt: skip
    """MemoryPressure, DiskPressure, PIDPressure from the hard eviction thresholds, then
    Ready; heartbeats are `stamp`, transitions keep their old time when unchanged."""
    memory = _bytes(capacity.get("memory", "0"))
    storage = _bytes(capacity.get("ephemeral-storage", "0"))
    used_disk = usage.disk + usage.logs + sum(images.values())
    pressure = {
        "MemoryPressure": memory - usage.memory < MEMORY_AVAILABLE_HARD,
        "DiskPressure": storage > 0 and (storage - used_disk) * 100 < storage * NODEFS_AVAILABLE_HARD_PERCENT,
        "PIDPressure": False,
    }  # fmt: skip
    conds = []
    for type_, fine, bad in _NODE_CONDITIONS:
        reason, message = bad if pressure[type_] else fine
        cond = _condition(old, type_, pressure[type_], stamp, reason, message)
        conds.append(cond)
    conds.append(
        _condition(old, "Ready", True, stamp, "KubeletReady", "kubelet is posting ready status")
    )
    for cond in conds:
        cond.pop("lastProbeTime")
        cond["lastHeartbeatTime"] = stamp
    return conds


def _ms(ns: int) -> int:
    """Truncate to milliseconds, as the image manager prints durations."""
    return ns - ns % 1_000_000


def _bytes(value: Any) -> int:
    return Quantity(str(value)).value()


def _probe_output(probe: Mapping[str, Any], pod_ip: str) -> str:
    if "httpGet" in probe:
        return "HTTP probe failed with statuscode: 500"
    if "tcpSocket" in probe:
        port = (probe.get("tcpSocket") or {}).get("port", "")
        return f"dial tcp {pod_ip}:{port}: connect: connection refused"
    return ""


def _strip_heartbeats(status: Mapping[str, Any]) -> Any:
    conds = [
        {k: v for k, v in c.items() if k != "lastHeartbeatTime"}
        for c in status.get("conditions") or []
    ]
    return {**{k: v for k, v in status.items() if k != "conditions"}, "conditions": conds}


__all__ = [
    "KUBELET_BURST", "KUBELET_QPS", "Kubelet", "NODE_LEASE_DURATION_SECONDS",
    "NODE_LEASE_NAMESPACE", "NODE_LEASE_RENEW_INTERVAL", "NODE_STATUS_REPORT_FREQUENCY",
    "NODE_STATUS_UPDATE_FREQUENCY", "SYNC_FREQUENCY", "container_status", "node_conditions",
    "pod_conditions", "pod_phase", "rfc3339",
]  # fmt: skip
