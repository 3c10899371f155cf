"""kube-scheduler as a host on the network: informers feed a cache and the scheduling queue, each
cycle runs the pure framework (`evaluate`) on a snapshot, and the host binds, records events and
conditions, and carries out preemption, all through REST requests to the API server.

Semantics: pkg/scheduler/scheduler.go (profiles, informers) and schedule_one.go (scheduleOne,
assume, bind, handleSchedulingFailure). The cache is cache.py, the informer handlers
eventhandlers.py, the requests api_calls.py and the event recorder events.py.
"""

from __future__ import annotations

import copy
import random
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from kube_teach.api.errors import StatusError
from kube_teach.api.kinds import KINDS
from kube_teach.api.rest import Response
from kube_teach.client.informer import Informer
from kube_teach.client.leaderelection import LeaderElector
from kube_teach.client.rest import RESTClient
from kube_teach.sim.duration import SECOND
from kube_teach.sim.metrics import Metrics
from kube_teach.sim.network import Network
from kube_teach.sim.trace import Trace

from . import api_calls
from .cache import Cache, assigned, node_tree_order
from .evaluate import Evaluation, evaluate
from .eventhandlers import VOLUME_EVENTS, EventHandlers
from .events import EventRecorder, rfc3339
from .framework import PodInfo, Profile, truncate_event_message
from .queue import (
    ASSIGNED_POD_DELETE,
    BACKOFF_FLUSH_PERIOD_NS,
    UNSCHEDULABLE_FLUSH_PERIOD_NS,
    QueuedPodInfo,
    SchedulingQueue,
)
from .registry import build_profile, build_profiles

COMPONENT = "kube-scheduler"
KUBE_API_QPS = 50.0  # kube-scheduler's clientConnection.qps
KUBE_API_BURST = 100  # clientConnection.burst
DEFAULT_SCHEDULER_NAME = "default-scheduler"
LEASE_NAMESPACE, LEASE_NAME = "kube-system", "kube-scheduler"
CACHE_SYNC_POLL = 0.1  # WaitForCacheSync checks every 100 ms
PODS, NODES = KINDS["Pod"], KINDS["Node"]
# What the default plugins read besides pods and nodes (the informers scheduler.go starts;
# StorageClasses and CSINodes are not served by kube-teach's API server).
OBJECT_KINDS = ("Namespace", "Service", "ReplicaSet", "StatefulSet", "PodDisruptionBudget",
                "PersistentVolumeClaim", "PersistentVolume")  # fmt: skip


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


class Scheduler(EventHandlers):
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
        self.cache = Cache(lambda: self.informers["Pod"].list(), self._list_objects)
        self._next_start_index = 0
        self._wake_pending = False
        self.recorder = EventRecorder(self.client, self.trace, self._now_ns, self.name)

    def _now_ns(self) -> int:
        return self.epoch_ns + self.clock.now_ns

    def _list_objects(self) -> list[Mapping[str, Any]]:
        return [o for kind in OBJECT_KINDS for o in self.informers[kind].list()]

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
        snapshot = self.cache.build_snapshot(exclude=key)
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
        return build_profiles(self.config, self._registered)

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
            add, update = VOLUME_EVENTS.get(kind, (None, None))
            self.informers[kind].add_handlers(on_add=g(self._object_changer(add)),
                                              on_update=g(self._object_changer(update)),
                                              on_delete=g(self._object_changer(None)))  # fmt: skip
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
            or assigned(live)  # bound meanwhile (by another binder, or a lost response)
            or key in self.cache.assumed
        ):
            self.queue.done(key)
            return
        pod = live
        nominated = self.cache.nominated.get(key)
        if nominated is not None and not (pod.get("status") or {}).get("nominatedNodeName"):
            pod = copy.deepcopy(dict(pod))
            pod.setdefault("status", {})["nominatedNodeName"] = nominated[1]
        profile = self.profiles[self._scheduler_name(pod)]
        snapshot = self.cache.snapshot()
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
        self.cache.assume(pod, node)
        method, path, body = api_calls.binding(pod, node)
        self.client.request(method, path, body,
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
        self.cache.forget(key)
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
        stamp = rfc3339(self._now_ns())
        patch = api_calls.unschedulable_condition(pod, reason, message, stamp, nominated)
        if patch is not None:
            self.client.request(*patch)

    def _preempt(self, pod: Mapping[str, Any], ev: Evaluation, profile: Profile) -> None:
        """prepareCandidate: mark and delete the victims, clear lower-priority nominations on
        the node, and nominate the preemptor there (in memory now, in its status next)."""
        node = ev.nominated_node or ""
        pi = PodInfo(pod)
        self.cache.nominate(pi.key, pod, node)
        pods = self.informers["Pod"]
        for full_name in ev.victims:
            victim = pods.get(full_name)
            if victim is None:
                continue
            self.trace.emit(self.name, "preempted", victim=full_name, pod=pi.full_name, node=node)
            self.metrics.inc("scheduler_preemption_victims_total")
            stamp = rfc3339(self._now_ns())
            for request in api_calls.evict_victim(victim, profile.scheduler_name, stamp):
                self.client.request(*request)
            self._event(victim, profile, "Normal", "Preempted",
                        f"Preempted by pod {pi.uid} on node {node}")  # fmt: skip
        for key, (other, other_node) in list(self.cache.nominated.items()):
            if other_node == node and key != pi.key and PodInfo(other).priority < pi.priority:
                self.cache.clear_nomination(key)
                self.client.request(*api_calls.clear_nominated_node(other))

    def _event(
        self, obj: Mapping[str, Any], profile: Profile, type_: str, reason: str, message: str
    ) -> None:
        self.recorder.event(obj, profile.scheduler_name, type_, reason, message)


__all__ = [
    "COMPONENT",
    "DEFAULT_SCHEDULER_NAME",
    "KUBE_API_BURST",
    "KUBE_API_QPS",
    "Scheduler",
    "node_tree_order",
]
