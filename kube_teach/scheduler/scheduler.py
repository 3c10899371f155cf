"""kube-scheduler as a host on the network: informers feed a cache and the scheduling queue, each
cycle runs the pure framework (`evaluate`) on a snapshot, and the host binds, records events and
conditions, and carries out preemption, all through REST requests to the API server.

Semantics: pkg/scheduler/scheduler.go (profiles, informers, event handlers), schedule_one.go
(scheduleOne, assume, bind, handleSchedulingFailure) and internal/cache (assume/forget).
"""

from __future__ import annotations

import copy
import datetime as dt
import random
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from kube_teach.api.errors import StatusError
from kube_teach.api.kinds import KINDS
from kube_teach.api.rest import Response, collection_path, object_path
from kube_teach.client.informer import Informer
from kube_teach.client.leaderelection import LeaderElector
from kube_teach.client.rest import RESTClient
from kube_teach.sim.duration import SECOND
from kube_teach.sim.metrics import Metrics
from kube_teach.sim.network import Network
from kube_teach.sim.trace import Trace

from .evaluate import Evaluation, evaluate
from .framework import PodInfo, Profile, SchedulerError, Snapshot, Status, truncate_event_message
from .queue import (
    ASSIGNED_POD_ADD,
    ASSIGNED_POD_DELETE,
    ASSIGNED_POD_LABEL,
    ASSIGNED_POD_SCALE_DOWN,
    BACKOFF_FLUSH_PERIOD_NS,
    NODE_ADD,
    NODE_ALLOCATABLE,
    NODE_CONDITION,
    NODE_LABEL,
    NODE_TAINT,
    UNSCHEDULABLE_FLUSH_PERIOD_NS,
    QueuedPodInfo,
    SchedulingQueue,
)
from .registry import build_profile

COMPONENT = "kube-scheduler"
KUBE_API_QPS = 50.0  # kube-scheduler's clientConnection.qps
KUBE_API_BURST = 100  # clientConnection.burst
DEFAULT_SCHEDULER_NAME = "default-scheduler"
LEASE_NAMESPACE, LEASE_NAME = "kube-system", "kube-scheduler"
CACHE_SYNC_POLL = 0.1  # WaitForCacheSync checks every 100 ms
PODS, NODES, EVENTS = KINDS["Pod"], KINDS["Node"], KINDS["Event"]
# What the default plugins read besides pods and nodes (the informers scheduler.go starts).
OBJECT_KINDS = ("Namespace", "Service", "ReplicaSet", "StatefulSet", "PodDisruptionBudget")
_TERMINAL = ("Succeeded", "Failed")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _assigned(pod: Mapping[str, Any]) -> bool:
    return bool((pod.get("spec") or {}).get("nodeName"))


def _terminal(pod: Mapping[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in _TERMINAL


def _time(unix_ns: int) -> str:
    t = _EPOCH + dt.timedelta(seconds=unix_ns // SECOND)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _zone(node: Mapping[str, Any]) -> str:
    labels = _meta(node).get("labels") or {}
    region = labels.get("topology.kubernetes.io/region", "")
    return f"{region}:\x00:{labels.get('topology.kubernetes.io/zone', '')}"


def node_tree_order(nodes: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Nodes as the cache's nodeTree lists them: zones in the order first seen, one node from
    each zone in turn, nodes of a zone in the order they were added."""
    zones: dict[str, list[Mapping[str, Any]]] = {}
    for node in nodes:
        zones.setdefault(_zone(node), []).append(node)
    out: list[Mapping[str, Any]] = []
    for i in range(max((len(z) for z in zones.values()), default=0)):
        out += [z[i] for z in zones.values() if i < len(z)]
    return out


def _node_events(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The NodeUpdate action types a change carries (nodeSchedulingPropertiesChange)."""
    o_spec, n_spec = old.get("spec") or {}, new.get("spec") or {}
    o_status, n_status = old.get("status") or {}, new.get("status") or {}
    events = []
    if o_status.get("allocatable") != n_status.get("allocatable"):
        events.append(NODE_ALLOCATABLE)
    if _meta(old).get("labels") != _meta(new).get("labels"):
        events.append(NODE_LABEL)
    if o_spec.get("taints") != n_spec.get("taints") or bool(o_spec.get("unschedulable")) != bool(
        n_spec.get("unschedulable")
    ):
        events.append(NODE_TAINT)

    def conditions(status: Mapping[str, Any]) -> list[tuple[str, str]]:
        return [(c.get("type"), c.get("status")) for c in status.get("conditions") or ()]

    if conditions(o_status) != conditions(n_status):
        events.append(NODE_CONDITION)
    return events


def _assigned_pod_events(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    events = []
    if _meta(old).get("labels") != _meta(new).get("labels"):
        events.append(ASSIGNED_POD_LABEL)
    a, b = PodInfo(old).requests, PodInfo(new).requests
    if b.milli_cpu < a.milli_cpu or b.memory < a.memory:
        events.append(ASSIGNED_POD_SCALE_DOWN)
    return events


class Scheduler:
    """A kube-scheduler process named `name` on `network`, talking to the API server `apiserver`.

    `start()` boots it: informers list and watch pods, nodes and the objects plugins read; once
    they have synced, every pod whose schedulerName matches a profile is queued and scheduled
    one at a time. `config` is a KubeSchedulerConfiguration dict (None: the default profile);
    `rng` is the scheduler's own random stream (ties, preemption's start). A crash of its host
    loses the cache and the queue; a restart relists. `plugin(weight=...)` registers a
    learner's plugin class, used from the next `restart()`.
    """

    def __init__(
        self,
        network: Network,
        apiserver: str = "apiserver",
        *,
        trace: Trace | None = None,
        metrics: Metrics | None = None,
        epoch_ns: int = 0,
        rng: random.Random | None = None,
        config: Mapping[str, Any] | None = None,
        name: str = COMPONENT,
        leader_elect: bool = False,
        qps: float = KUBE_API_QPS,
        burst: int = KUBE_API_BURST,
        credentials: Mapping[str, Any] | None = None,
    ) -> None:
        self.network = network
        self.clock = network.clock
        trace = trace if trace is not None else network.trace
        self.trace = trace if trace is not None else Trace(self.clock)
        self.metrics = metrics if metrics is not None else Metrics(self.clock)
        self.epoch_ns = epoch_ns
        self.rng = rng if rng is not None else random.Random(f"0/{name}")
        self.config = copy.deepcopy(dict(config)) if config else None
        self.name = name
        self.leader_elect = leader_elect
        self.host = network.add_host(name)
        creds = (
            credentials if credentials is not None else {"cert": {"cn": "system:kube-scheduler"}}
        )
        self.client = RESTClient(
            self.host, apiserver, qps=qps, burst=burst, credentials=creds, user_agent=COMPONENT
        )
        self.host.on_crash.append(self._shutdown)
        self.host.on_restart.append(self._restarted)
        self._registered: dict[str, tuple[type, int]] = {}
        self.profiles: dict[str, Profile] = {}
        self.queue: SchedulingQueue | None = None
        self.informers: dict[str, Informer] = {}
        self.elector: LeaderElector | None = None
        self.started = False
        self.leading = False
        self.restarts = 0
        self._generation = 0
        self._reset_state()

    def _reset_state(self) -> None:
        self._nodes: dict[str, Mapping[str, Any]] = {}  # in the order they were added
        self._assumed: dict[str, Mapping[str, Any]] = {}  # pod key -> pod with spec.nodeName
        self._nominated: dict[str, tuple[Mapping[str, Any], str]] = {}  # key -> (pod, node)
        self._snapshot: Snapshot | None = None
        self._next_start_index = 0
        self._wake_pending = False
        self._seen_events: dict[tuple[str, ...], tuple[str, str, int]] = {}
        self._last_event_ns = 0

    # -- the learner's handle ------------------------------------------------------------------
    def plugin(self, weight: int = 1, name: str | None = None) -> Callable[[type], type]:
        """Decorator: register a plugin class (with a `name` attribute) in every profile's
        multiPoint, with score `weight`; it takes effect at the next `restart()`, as a real
        kube-scheduler reads its configuration only at start-up. Returns the class unchanged."""

        def register(cls: type) -> type:
            plugin_name = name or getattr(cls, "name", cls.__name__)
            self._registered[plugin_name] = (cls, weight)
            return cls

        return register

    def start(self) -> None:
        """Start the process (idempotent)."""
        if self.started:
            return
        self.started = True
        if self.host.up:
            self._boot()

    def stop(self) -> None:
        """End the process: informers, queue and cache are dropped."""
        self.started = False
        self._shutdown()

    def restart(self) -> None:
        """Stop and start again: the configuration and registered plugins are read anew, the
        cache and queue are rebuilt from a fresh list."""
        self._shutdown()
        self.restarts += 1
        self.trace.emit(self.name, "restarted")
        self.started = True
        if self.host.up:
            self._boot()

    def explain(self, pod_name: str, namespace: str = "default") -> Evaluation:
        """One scheduling cycle for the pod against the scheduler's current cache (the pod
        itself left out, as if it were pending), with its profile: every node's filter verdict
        and every plugin's scores, as an HTML table and text. Draws no random number from the
        scheduler's stream. Raises StatusError (NotFound) for an unknown pod."""
        pods = self.informers.get("Pod")
        pod = pods.get(f"{namespace}/{pod_name}") if pods is not None else None
        if pod is None:
            raise StatusError.not_found(PODS, pod_name)
        pending = copy.deepcopy(dict(pod))
        pending.setdefault("spec", {}).pop("nodeName", None)
        key = PodInfo(pod).key
        profile = self.profiles.get(self._scheduler_name(pod)) or build_profile(
            None, self._plugin_classes()
        )
        snapshot = self._build_snapshot(exclude=key)
        rng = random.Random()
        rng.setstate(self.rng.getstate())
        return evaluate(pending, snapshot, profile=profile, rng=rng,
                        start_index=self._next_start_index % max(len(snapshot), 1))  # fmt: skip

    def pending_pods(self) -> dict[str, list[str]]:
        """The queue's pods by sub-queue (active, backoff, unschedulable, gated)."""
        return self.queue.pending_pods() if self.queue is not None else {}

    def __repr__(self) -> str:
        state = "running" if self.leading else ("standby" if self.started else "stopped")
        return f"<Scheduler {self.name} {state} profiles={sorted(self.profiles)}>"

    # -- the process ---------------------------------------------------------------------------
    def _plugin_classes(self) -> dict[str, type]:
        return {n: cls for n, (cls, _) in self._registered.items()}

    def _build_profiles(self) -> dict[str, Profile]:
        config = self.config or {}
        extra = [{"name": n, "weight": w} for n, (_, w) in self._registered.items()]
        out: dict[str, Profile] = {}
        for raw in config.get("profiles") or [{}]:
            prof_config = copy.deepcopy(dict(raw))
            if extra:
                plugins = prof_config.setdefault("plugins", {})
                multi = plugins.setdefault("multiPoint", {})
                multi["enabled"] = [*(multi.get("enabled") or ()), *copy.deepcopy(extra)]
            profile = build_profile(prof_config, self._plugin_classes())
            if profile.percentage_of_nodes_to_score is None:
                profile.percentage_of_nodes_to_score = config.get("percentageOfNodesToScore")
            if profile.scheduler_name in out:
                raise SchedulerError(
                    f'duplicate profile with scheduler name "{profile.scheduler_name}"'
                )
            out[profile.scheduler_name] = profile
        return out

    def _guard(self, fn: Callable[..., None]) -> Callable[..., None]:
        generation = self._generation

        def run(*args: Any) -> None:
            if self._generation == generation:
                fn(*args)

        return run

    def _boot(self) -> None:
        self._generation += 1
        self._reset_state()
        self.profiles = self._build_profiles()
        first = next(iter(self.profiles.values()))
        sort = first.plugins["queueSort"][0]
        self.queue = SchedulingQueue(lambda: self.clock.now_ns, sort.less,
                                     pre_enqueue=self._pre_enqueue)  # fmt: skip
        self.trace.emit(self.name, "started", profiles=list(self.profiles))
        if not self.leader_elect:
            self._start_scheduling()
            return
        identity = f"{self.name}_{uuid.UUID(int=self.rng.getrandbits(128), version=4)}"
        self.elector = LeaderElector(
            self.client, namespace=LEASE_NAMESPACE, name=LEASE_NAME, identity=identity,
            epoch_ns=self.epoch_ns, rng=self.rng, on_started_leading=self._guard(self._start_scheduling),
            on_stopped_leading=self._guard(self._lost_lease), trace=self.trace,
            metrics=self.metrics, component=self.name,
        )  # fmt: skip
        self.elector.run()

    def _start_scheduling(self) -> None:
        self.informers = {}
        for info in [PODS, NODES, *(KINDS[k] for k in OBJECT_KINDS)]:
            self.informers[info.kind] = Informer(self.client, info)  # type: ignore[arg-type]
        g = self._guard
        self.informers["Pod"].add_handlers(on_add=g(self._pod_added), on_update=g(self._pod_updated),
                                           on_delete=g(self._pod_deleted))  # fmt: skip
        self.informers["Node"].add_handlers(on_add=g(self._node_added), on_update=g(self._node_updated),
                                            on_delete=g(self._node_deleted))  # fmt: skip
        for kind in OBJECT_KINDS:
            self.informers[kind].add_handlers(on_add=g(self._object_changed),
                                              on_update=g(self._object_changed),
                                              on_delete=g(self._object_changed))  # fmt: skip
        for kind in sorted(self.informers):
            self.informers[kind].start()
        self.leading = True
        self.host.every(BACKOFF_FLUSH_PERIOD_NS / SECOND, g(self._flush_backoff))
        self.host.every(UNSCHEDULABLE_FLUSH_PERIOD_NS / SECOND, g(self._flush_unschedulable))
        self._wake()

    def _lost_lease(self) -> None:
        self._shutdown()  # upstream exits on losing the lease; its kubelet starts it again
        self.restarts += 1
        if self.started and self.host.up:
            self._boot()

    def _shutdown(self) -> None:
        self._generation += 1
        if self.elector is not None:
            self.elector.stop()
            self.elector = None
        for kind in sorted(self.informers):
            self.informers[kind].stop()
        self.leading = False
        self.queue = None

    def _restarted(self) -> None:
        if self.started:
            self.restarts += 1
            self._boot()

    # -- informer event handlers ---------------------------------------------------------------
    def _scheduler_name(self, pod: Mapping[str, Any]) -> str:
        return (pod.get("spec") or {}).get("schedulerName") or DEFAULT_SCHEDULER_NAME

    def _responsible(self, pod: Mapping[str, Any]) -> bool:
        return self._scheduler_name(pod) in self.profiles

    def _pre_enqueue(self, pod: Mapping[str, Any]) -> Status | None:
        profile = self.profiles.get(self._scheduler_name(pod))
        if profile is None:
            return None
        pi = PodInfo(pod)
        for pl in profile.plugins["preEnqueue"]:
            status = pl.pre_enqueue(pi)
            if not status.is_success():
                return status.with_plugin(pl.name)
        return None

    def _move(self, events: list[str]) -> None:
        if self.queue is None or not events:
            return
        moved = self.queue.move_on_event(events)
        for key in moved:
            self.metrics.inc(
                "scheduler_queue_incoming_pods_total", event=events[0], queue=moved[key]
            )
        if moved:
            self._wake()

    def _pod_added(self, pod: Mapping[str, Any]) -> None:
        self._pod_updated(None, pod)

    def _pod_updated(self, old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> None:
        assert self.queue is not None
        key = PodInfo(new).key
        was_assigned = old is not None and _assigned(old) and not _terminal(old)
        if _assigned(new) or _terminal(new):
            self._snapshot = None
            self.queue.delete(new)
            self._nominated.pop(key, None)
            self._assumed.pop(key, None)  # the watch confirms the assumed pod (FinishBinding)
            if _terminal(new):
                self._move([ASSIGNED_POD_DELETE] if was_assigned else [])
            elif not was_assigned:
                self._move([ASSIGNED_POD_ADD])
            else:
                self._move(_assigned_pod_events(old or {}, new))
            return
        if _meta(new).get("deletionTimestamp") or not self._responsible(new):
            return
        nominated = (new.get("status") or {}).get("nominatedNodeName")
        if nominated:
            self._nominated[key] = (new, nominated)
            self._snapshot = None
        elif old is not None and (old.get("status") or {}).get("nominatedNodeName"):
            self._nominated.pop(key, None)
            self._snapshot = None
        if key in self._assumed:
            return  # binding in flight: the pod is no longer the queue's
        if self.queue.update(old, new) is not None:
            self._wake()

    def _pod_deleted(self, pod: Mapping[str, Any]) -> None:
        assert self.queue is not None
        key = PodInfo(pod).key
        self._nominated.pop(key, None)
        if _assigned(pod) and not _terminal(pod):
            self._snapshot = None
            self._assumed.pop(key, None)
            self._move([ASSIGNED_POD_DELETE])
        else:
            self.queue.delete(pod)

    def _node_added(self, node: Mapping[str, Any]) -> None:
        self._nodes[_meta(node).get("name", "")] = node
        self._snapshot = None
        self._move([NODE_ADD])

    def _node_updated(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        self._nodes[_meta(new).get("name", "")] = new
        self._snapshot = None
        self._move(_node_events(old, new))

    def _node_deleted(self, node: Mapping[str, Any]) -> None:
        self._nodes.pop(_meta(node).get("name", ""), None)
        self._snapshot = None

    def _object_changed(self, *objs: Mapping[str, Any]) -> None:
        self._snapshot = None

    # -- the cache -----------------------------------------------------------------------------
    def _build_snapshot(self, exclude: str = "") -> Snapshot:
        nodes = node_tree_order(list(self._nodes.values()))
        pods: list[Mapping[str, Any]] = []
        for pod in self.informers["Pod"].list():
            key = PodInfo(pod).key
            if key == exclude or key in self._assumed or not _assigned(pod) or _terminal(pod):
                continue
            pods.append(pod)
        pods += [p for k, p in self._assumed.items() if k != exclude]
        objects = [o for kind in OBJECT_KINDS for o in self.informers[kind].list()]
        snapshot = Snapshot(nodes, pods, objects)
        snapshot.nominated = {}
        for key, (pod, node) in self._nominated.items():
            if key != exclude:
                snapshot.nominated.setdefault(node, []).append(PodInfo(pod))
        return snapshot

    def _current_snapshot(self) -> Snapshot:
        if self._snapshot is None:
            self._snapshot = self._build_snapshot()
        else:
            self._snapshot.nominated = {}
            for pod, node in self._nominated.values():
                self._snapshot.nominated.setdefault(node, []).append(PodInfo(pod))
        return self._snapshot

    # -- the scheduling loop -------------------------------------------------------------------
    def _wake(self) -> None:
        if self.leading and not self._wake_pending:
            self._wake_pending = True
            self.host.call_later(0, self._guard(self._pump))

    def _pump(self) -> None:
        self._wake_pending = False
        if not all(i.synced for i in self.informers.values()):
            self._wake_pending = True
            self.host.call_later(CACHE_SYNC_POLL, self._guard(self._pump))
            return
        while self.queue is not None:
            qpi = self.queue.pop()
            if qpi is None:
                break
            self._schedule_one(qpi)
        self._gauge()

    def _gauge(self) -> None:
        if self.queue is None:
            return
        for queue, pods in self.queue.pending_pods().items():
            self.metrics.set("scheduler_pending_pods", len(pods), queue=queue)

    def _flush_backoff(self) -> None:
        if self.queue is not None and self.queue.flush_backoff_completed():
            self._wake()

    def _flush_unschedulable(self) -> None:
        if self.queue is not None and self.queue.flush_unschedulable_left_over():
            self._wake()

    def _schedule_one(self, qpi: QueuedPodInfo) -> None:
        """scheduleOne: one cycle for the popped pod, then assume and bind, or handle failure."""
        assert self.queue is not None
        meta = _meta(qpi.pod)
        live = self.informers["Pod"].get(f"{meta.get('namespace', '')}/{meta.get('name', '')}")
        key = PodInfo(qpi.pod).key
        if (
            live is None
            or _meta(live).get("deletionTimestamp")
            or _assigned(live)  # bound meanwhile (by another binder, or a lost response)
            or key in self._assumed
        ):
            self.queue.done(key)
            return
        pod = live
        nominated = self._nominated.get(key)
        if nominated is not None and not (pod.get("status") or {}).get("nominatedNodeName"):
            pod = copy.deepcopy(dict(pod))
            pod.setdefault("status", {})["nominatedNodeName"] = nominated[1]
        profile = self.profiles[self._scheduler_name(pod)]
        snapshot = self._current_snapshot()
        start = self._next_start_index % max(len(snapshot), 1)
        ev = evaluate(pod, snapshot, profile=profile, rng=self.rng, start_index=start)
        self._next_start_index = ev.next_start_index
        if ev.selected is not None:
            self._assume_and_bind(qpi, pod, ev.selected, profile)
            return
        if ev.error is not None:
            self._failed(qpi, pod, profile, ev.error, "SchedulerError", error=True)
            return
        plugins = {r.plugin for r in ev.filters.values() if not r.passed and r.plugin}
        if ev.pre_filter.plugin:
            plugins.add(ev.pre_filter.plugin)
        if ev.nominated_node:
            self._preempt(pod, ev, profile)
        self.metrics.inc("scheduler_schedule_attempts_total", profile=profile.scheduler_name,
                         result="unschedulable")  # fmt: skip
        self._failed(qpi, pod, profile, ev.message or "", "Unschedulable", plugins=plugins,
                     nominated=ev.nominated_node)  # fmt: skip

    def _assume_and_bind(
        self, qpi: QueuedPodInfo, pod: Mapping[str, Any], node: str, profile: Profile
    ) -> None:
        assert self.queue is not None
        key = PodInfo(pod).key
        assumed = copy.deepcopy(dict(pod))
        assumed.setdefault("spec", {})["nodeName"] = node
        self._assumed[key] = assumed
        self._nominated.pop(key, None)
        if self._snapshot is not None:
            self._snapshot.add_pod(assumed)
        meta = _meta(pod)
        binding = {"apiVersion": "v1", "kind": "Binding",
                   "metadata": {"name": meta.get("name"), "namespace": meta.get("namespace"),
                                "uid": meta.get("uid")},
                   "target": {"apiVersion": "v1", "kind": "Node", "name": node}}  # fmt: skip
        path = object_path(PODS, meta.get("name", ""), meta.get("namespace"), "binding")
        self.client.request("POST", path, binding,
                            self._guard(lambda r: self._bound(r, qpi, pod, node, profile)))  # fmt: skip

    def _bound(
        self,
        resp: Response,
        qpi: QueuedPodInfo,
        pod: Mapping[str, Any],
        node: str,
        profile: Profile,
    ) -> None:
        assert self.queue is not None
        key = PodInfo(pod).key
        name = PodInfo(pod).full_name
        if resp.ok:
            self.queue.done(key)
            self.trace.emit(self.name, "bound", pod=name, node=node)
            self.metrics.inc("scheduler_schedule_attempts_total", profile=profile.scheduler_name,
                             result="scheduled")  # fmt: skip
            self.metrics.observe("scheduler_pod_scheduling_attempts", qpi.attempts)
            self._event(
                pod, profile, "Normal", "Scheduled", f"Successfully assigned {name} to {node}"
            )
            return
        # Binding failed: forget the assumed pod (its resources are free again) and retry.
        if self._assumed.pop(key, None) is not None:
            self._snapshot = None
        body = resp.body
        text = body.get("message") if isinstance(body, Mapping) else str(body)
        message = f'running Bind plugin "DefaultBinder": {text}'
        self.trace.emit(self.name, "bind-failed", pod=name, node=node, code=resp.code)
        self.metrics.inc("scheduler_schedule_attempts_total", profile=profile.scheduler_name,
                         result="error")  # fmt: skip
        self._failed(qpi, pod, profile, message, "SchedulerError", error=True)
        self._move([ASSIGNED_POD_DELETE])

    def _failed(
        self,
        qpi: QueuedPodInfo,
        pod: Mapping[str, Any],
        profile: Profile,
        message: str,
        reason: str,
        *,
        plugins: set[str] | frozenset[str] = frozenset(),
        error: bool = False,
        nominated: str | None = None,
    ) -> None:
        """handleSchedulingFailure: requeue, the FailedScheduling event, and the PodScheduled
        condition (with nominatedNodeName after a preemption) when either changed."""
        assert self.queue is not None
        name = PodInfo(pod).full_name
        where = self.queue.add_unschedulable_if_not_present(qpi, sorted(plugins), error=error)
        self.trace.emit(self.name, "unschedulable", pod=name, queue=where, message=message)
        self._event(pod, profile, "Warning", "FailedScheduling", truncate_event_message(message))
        status = pod.get("status") or {}
        conditions = [dict(c) for c in status.get("conditions") or ()]
        old = next((c for c in conditions if c.get("type") == "PodScheduled"), None)
        cond = {"type": "PodScheduled", "status": "False", "lastProbeTime": None,
                "lastTransitionTime": _time(self.epoch_ns + self.clock.now_ns),
                "reason": reason, "message": message}  # fmt: skip
        same = old is not None and all(
            old.get(k) == cond[k] for k in ("status", "reason", "message")
        )
        if same and (nominated is None or status.get("nominatedNodeName") == nominated):
            return
        if old is not None and old.get("status") == "False":
            cond["lastTransitionTime"] = old.get("lastTransitionTime")
        conditions = [c for c in conditions if c.get("type") != "PodScheduled"] + [cond]
        patch: dict[str, Any] = {"status": {"conditions": conditions}}
        if nominated:
            patch["status"]["nominatedNodeName"] = nominated
        meta = _meta(pod)
        path = object_path(PODS, meta.get("name", ""), meta.get("namespace"), "status")
        self.client.request("PATCH", path, patch)

    def _preempt(self, pod: Mapping[str, Any], ev: Evaluation, profile: Profile) -> None:
        """prepareCandidate: mark and delete the victims, clear lower-priority nominations on
        the node, and nominate the preemptor there (in memory now, in its status next)."""
        node = ev.nominated_node or ""
        pi = PodInfo(pod)
        self._nominated[pi.key] = (pod, node)
        self._snapshot = None
        pods = self.informers["Pod"]
        for full_name in ev.victims:
            victim = pods.get(full_name)
            if victim is None:
                continue
            vmeta = _meta(victim)
            self.trace.emit(self.name, "preempted", victim=full_name, pod=pi.full_name, node=node)
            self.metrics.inc("scheduler_preemption_victims_total")
            conditions = [c for c in (victim.get("status") or {}).get("conditions") or ()
                          if c.get("type") != "DisruptionTarget"]  # fmt: skip
            conditions.append({"type": "DisruptionTarget", "status": "True", "lastProbeTime": None,
                               "lastTransitionTime": _time(self.epoch_ns + self.clock.now_ns),
                               "reason": "PreemptionByScheduler",
                               "message": f"{profile.scheduler_name}: preempting to accommodate "
                                          "a higher priority pod"})  # fmt: skip
            base = object_path(PODS, vmeta.get("name", ""), vmeta.get("namespace"))
            self.client.request("PATCH", base + "/status", {"status": {"conditions": conditions}})
            self.client.request("DELETE", base)
            self._event(victim, profile, "Normal", "Preempted",
                        f"Preempted by pod {pi.uid} on node {node}")  # fmt: skip
        for key, (other, other_node) in list(self._nominated.items()):
            if other_node == node and key != pi.key and PodInfo(other).priority < pi.priority:
                del self._nominated[key]
                ometa = _meta(other)
                path = object_path(PODS, ometa.get("name", ""), ometa.get("namespace"), "status")
                self.client.request("PATCH", path, {"status": {"nominatedNodeName": None}})

    # -- events --------------------------------------------------------------------------------
    def _event(
        self, obj: Mapping[str, Any], profile: Profile, type_: str, reason: str, message: str
    ) -> None:
        """A core/v1 Event from the profile's scheduler name; a repeat PATCHes its count."""
        meta = _meta(obj)
        ns = meta.get("namespace") or "default"
        ref = {"kind": "Pod", "namespace": ns, "name": meta.get("name", ""),
               "uid": meta.get("uid", ""), "apiVersion": "v1"}  # fmt: skip
        component = profile.scheduler_name
        self.trace.emit(component, "event", type=type_, reason=reason,
                        object=f"Pod/{ref['name']}", message=message)  # fmt: skip
        now_ns = max(self.epoch_ns + self.clock.now_ns, self._last_event_ns + 1)
        self._last_event_ns = now_ns
        stamp = _time(now_ns)
        key = (component, ns, ref["name"], ref["uid"], type_, reason, message)
        seen = self._seen_events.get(key)
        if seen is not None:
            seen_ns, seen_name, count = seen
            self._seen_events[key] = (seen_ns, seen_name, count + 1)
            self.client.request("PATCH", object_path(EVENTS, seen_name, seen_ns),
                                {"count": count + 1, "lastTimestamp": stamp})  # fmt: skip
            return
        name = f"{ref['name']}.{now_ns:x}"
        self._seen_events[key] = (ns, name, 1)
        event = {"apiVersion": "v1", "kind": "Event",
                 "metadata": {"name": name, "namespace": ns}, "involvedObject": ref,
                 "reason": reason, "message": message, "source": {"component": component},
                 "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1, "type": type_,
                 "reportingComponent": component, "reportingInstance": self.name}  # fmt: skip
        self.client.request("POST", collection_path(EVENTS, ns), event)


__all__ = [
    "COMPONENT",
    "DEFAULT_SCHEDULER_NAME",
    "KUBE_API_BURST",
    "KUBE_API_QPS",
    "Scheduler",
    "node_tree_order",
]
