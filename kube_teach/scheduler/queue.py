"""The scheduling queue: pods waiting for a scheduling cycle, in three places.

Semantics: kube-scheduler's internal/queue/scheduling_queue.go (PriorityQueue): activeQ ordered
by the QueueSort plugin, podBackoffQ by backoff expiry (1 s doubling per attempt, at most 10 s),
and unschedulablePods, which cluster events move back when a plugin that rejected the pod
registered for them, or the 30 s flush after 5 min. Pure: time comes in through `now_ns()`.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kube_teach.sim.duration import SECOND

from .framework import PodInfo, Status

POD_INITIAL_BACKOFF_NS = 1 * SECOND  # podInitialBackoffSeconds
POD_MAX_BACKOFF_NS = 10 * SECOND  # podMaxBackoffSeconds
POD_MAX_IN_UNSCHEDULABLE_PODS_NS = 300 * SECOND  # podMaxInUnschedulablePodsDuration
BACKOFF_FLUSH_PERIOD_NS = 1 * SECOND  # flushBackoffQCompleted runs every second
UNSCHEDULABLE_FLUSH_PERIOD_NS = 30 * SECOND  # flushUnschedulablePodsLeftover every 30 s

# Cluster events, named as upstream's ClusterEvent labels (resource + action type).
NODE_ADD = "NodeAdd"
NODE_ALLOCATABLE = "NodeUpdate:UpdateNodeAllocatable"
NODE_LABEL = "NodeUpdate:UpdateNodeLabel"
NODE_TAINT = "NodeUpdate:UpdateNodeTaint"
NODE_CONDITION = "NodeUpdate:UpdateNodeCondition"
ASSIGNED_POD_ADD = "AssignedPodAdd"
ASSIGNED_POD_LABEL = "AssignedPodUpdate:UpdatePodLabel"
ASSIGNED_POD_SCALE_DOWN = "AssignedPodUpdate:UpdatePodScaleDown"
ASSIGNED_POD_DELETE = "AssignedPodDelete"
UNSCHEDULED_POD_UPDATE = "UnscheduledPodUpdate"
PVC_ADD = "PersistentVolumeClaimAdd"
PVC_UPDATE = "PersistentVolumeClaimUpdate"
PV_ADD = "PersistentVolumeAdd"
PV_UPDATE = "PersistentVolumeUpdate"
FORCE_ACTIVATE = "ForceActivate"  # unschedulable too long (UnschedulableTimeout)

# EventsToRegister of the in-tree plugins (v1.34). A plugin missing here (a learner's own)
# registers for every event, as a plugin without EnqueueExtensions does upstream.
_NODE_ANY = {NODE_ADD, NODE_ALLOCATABLE, NODE_LABEL, NODE_TAINT}
EVENTS_TO_REGISTER: dict[str, frozenset[str]] = {
    "SchedulingGates": frozenset({UNSCHEDULED_POD_UPDATE}),
    "NodeUnschedulable": frozenset({NODE_ADD, NODE_TAINT}),
    "NodeName": frozenset({NODE_ADD}),
    "TaintToleration": frozenset({NODE_ADD, NODE_TAINT, UNSCHEDULED_POD_UPDATE}),
    "NodeAffinity": frozenset({NODE_ADD, NODE_LABEL, UNSCHEDULED_POD_UPDATE}),
    "NodePorts": frozenset({NODE_ADD, ASSIGNED_POD_DELETE}),
    "NodeResourcesFit": frozenset(
        {
            NODE_ADD,
            NODE_ALLOCATABLE,
            ASSIGNED_POD_DELETE,
            ASSIGNED_POD_SCALE_DOWN,
            UNSCHEDULED_POD_UPDATE,
        }
    ),  # fmt: skip
    "VolumeRestrictions": frozenset({ASSIGNED_POD_DELETE, PVC_ADD}),
    "NodeVolumeLimits": frozenset({NODE_ADD, ASSIGNED_POD_DELETE, PVC_ADD}),
    "VolumeBinding": frozenset({*_NODE_ANY, PVC_ADD, PVC_UPDATE, PV_ADD, PV_UPDATE}),
    "VolumeZone": frozenset({NODE_ADD, NODE_LABEL, PVC_ADD, PVC_UPDATE, PV_ADD, PV_UPDATE}),
    "PodTopologySpread": frozenset(
        {
            NODE_ADD,
            NODE_LABEL,
            NODE_TAINT,
            ASSIGNED_POD_ADD,
            ASSIGNED_POD_LABEL,
            ASSIGNED_POD_DELETE,
            UNSCHEDULED_POD_UPDATE,
        }
    ),  # fmt: skip
    "InterPodAffinity": frozenset(
        {
            NODE_ADD,
            NODE_LABEL,
            ASSIGNED_POD_ADD,
            ASSIGNED_POD_LABEL,
            ASSIGNED_POD_DELETE,
            UNSCHEDULED_POD_UPDATE,
        }
    ),  # fmt: skip
    "DynamicResources": frozenset({NODE_ADD}),
}


def backoff_duration_ns(
    attempts: int, initial_ns: int = POD_INITIAL_BACKOFF_NS, max_ns: int = POD_MAX_BACKOFF_NS
) -> int:
    """calculateBackoffDuration: `initial` doubled for every attempt after the first, capped
    at `max` (1 s, 2 s, 4 s, 8 s, 10 s, 10 s ... with the defaults)."""
    duration = initial_ns
    for _ in range(1, attempts):
        if duration > max_ns - duration:
            return max_ns
        duration += duration
    return min(duration, max_ns)


@dataclass
class QueuedPodInfo:
    """A pod in the queue (framework.QueuedPodInfo). Times are simulated nanoseconds.

    `timestamp`: when it was last added or moved (PrioritySort's tie-break, the start of its
    backoff); `attempts`: scheduling cycles run for it; `unschedulable_plugins`: the plugins
    that rejected it last time (events for them move it back); `gated`: held by PreEnqueue.
    """

    pod: Mapping[str, Any]
    timestamp: int
    initial_attempt_timestamp: int | None = None
    attempts: int = 0
    unschedulable_plugins: frozenset[str] = frozenset()
    gated: bool = False
    gating_plugin: str = ""

    @property
    def key(self) -> str:
        return PodInfo(self.pod).key

    @property
    def full_name(self) -> str:
        meta = self.pod.get("metadata") or {}
        return f"{meta.get('namespace') or 'default'}/{meta.get('name') or ''}"


@dataclass(order=False)
class _Entry:
    qpi: QueuedPodInfo
    seq: int
    less: Callable[[Any, Any], bool] = field(repr=False)
    removed: bool = False

    def __lt__(self, other: _Entry) -> bool:
        if self.less(self.qpi, other.qpi):
            return True
        if self.less(other.qpi, self.qpi):
            return False
        return self.seq < other.seq


def _pod_key(pod: Mapping[str, Any]) -> str:
    return PodInfo(pod).key


class SchedulingQueue:
    """PriorityQueue: `add` new pods, `pop` the next one, `add_unschedulable_if_not_present`
    after a failed cycle, `move_on_event` when the cluster changes, and the two flushes the
    host calls every 1 s and every 30 s.

    `less(a, b)` is the QueueSort plugin's; `pre_enqueue(pod)` runs PreEnqueue plugins (a
    non-success Status gates the pod). Every method is deterministic; nothing reads a clock
    but `now_ns`.
    """

    def __init__(
        self,
        now_ns: Callable[[], int],
        less: Callable[[Any, Any], bool],
        *,
        pre_enqueue: Callable[[Mapping[str, Any]], Status | None] | None = None,
        initial_backoff_ns: int = POD_INITIAL_BACKOFF_NS,
        max_backoff_ns: int = POD_MAX_BACKOFF_NS,
        max_in_unschedulable_ns: int = POD_MAX_IN_UNSCHEDULABLE_PODS_NS,
        events_to_register: Mapping[str, frozenset[str]] | None = None,
    ) -> None:
        self.now_ns = now_ns
        self.less = less
        self.pre_enqueue = pre_enqueue
        self.initial_backoff_ns = initial_backoff_ns
        self.max_backoff_ns = max_backoff_ns
        self.max_in_unschedulable_ns = max_in_unschedulable_ns
        self.events_to_register = dict(events_to_register or EVENTS_TO_REGISTER)
        self._seq = itertools.count()
        self._active: list[_Entry] = []
        self._active_by_key: dict[str, _Entry] = {}
        self._backoff: dict[str, QueuedPodInfo] = {}
        self._unschedulable: dict[str, QueuedPodInfo] = {}
        self._in_flight: dict[str, int] = {}  # key -> scheduling cycle it was popped in
        self.scheduling_cycle = 0
        self.move_request_cycle = -1

    # -- adding -------------------------------------------------------------------------------
    def add(self, pod: Mapping[str, Any]) -> str:
        """A new pending pod: into activeQ, or unschedulablePods when PreEnqueue gates it.
        Returns where it went ("active" or "gated")."""
        qpi = QueuedPodInfo(pod, self.now_ns())
        return self._to_active_or_gated(qpi)

    def _to_active_or_gated(self, qpi: QueuedPodInfo) -> str:
        key = _pod_key(qpi.pod)
        self._backoff.pop(key, None)
        self._unschedulable.pop(key, None)
        if self.pre_enqueue is not None:
            status = self.pre_enqueue(qpi.pod)
            if status is not None and not status.is_success():
                qpi.gated, qpi.gating_plugin = True, status.plugin
                self._unschedulable[key] = qpi
                return "gated"
        qpi.gated, qpi.gating_plugin = False, ""
        old = self._active_by_key.get(key)
        if old is not None:
            old.removed = True
        entry = _Entry(qpi, next(self._seq), self.less)
        self._active_by_key[key] = entry
        heapq.heappush(self._active, entry)
        return "active"

    def update(self, old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> str | None:
        """A pending pod changed. In activeQ or backoffQ it is replaced in place; in
        unschedulablePods a change to anything but status moves it (UnscheduledPodUpdate);
        unknown and not in flight it is added. Returns where it now is."""
        key = _pod_key(new)
        entry = self._active_by_key.get(key)
        if entry is not None:
            entry.qpi.pod = new
            return "active"
        if key in self._backoff:
            self._backoff[key].pod = new
            return "backoff"
        qpi = self._unschedulable.get(key)
        if qpi is not None:
            qpi.pod = new
            if old is None or _without_status(old) != _without_status(new):
                if qpi.gated:
                    return self._to_active_or_gated(qpi)
                if self._worth_requeuing(qpi, UNSCHEDULED_POD_UPDATE):
                    return self._requeue(qpi)
            return "unschedulable"
        if key in self._in_flight:
            return None
        return self.add(new)

    def delete(self, pod: Mapping[str, Any]) -> bool:
        """Forget a pod wherever it is (deleted, or bound by someone). True if it was queued."""
        key = _pod_key(pod)
        found = False
        entry = self._active_by_key.pop(key, None)
        if entry is not None:
            entry.removed, found = True, True
        found = self._backoff.pop(key, None) is not None or found
        found = self._unschedulable.pop(key, None) is not None or found
        self._in_flight.pop(key, None)
        return found

    # -- popping ------------------------------------------------------------------------------
    def pop(self) -> QueuedPodInfo | None:
        """The activeQ head (None when empty); its attempts count up and a new scheduling
        cycle starts. Call `done(key)` when its cycle is over."""
        while self._active:
            entry = heapq.heappop(self._active)
            if entry.removed:
                continue
            qpi = entry.qpi
            key = _pod_key(qpi.pod)
            del self._active_by_key[key]
            qpi.attempts += 1
            if qpi.initial_attempt_timestamp is None:
                qpi.initial_attempt_timestamp = self.now_ns()
            self.scheduling_cycle += 1
            self._in_flight[key] = self.scheduling_cycle
            return qpi
        return None

    def done(self, key: str) -> None:
        """The pod's scheduling (and binding) attempt is over."""
        self._in_flight.pop(key, None)

    def add_unschedulable_if_not_present(
        self, qpi: QueuedPodInfo, plugins: Iterable[str] = (), *, error: bool = False
    ) -> str:
        """After a failed cycle: an error, or a cluster event since the pod was popped, sends
        it to backoffQ; otherwise it waits in unschedulablePods for an event its rejecting
        `plugins` registered for. Returns "backoff" or "unschedulable"."""
        key = _pod_key(qpi.pod)
        if key in self._active_by_key or key in self._backoff or key in self._unschedulable:
            return "present"
        popped_cycle = self._in_flight.pop(key, self.scheduling_cycle)
        qpi.timestamp = self.now_ns()
        qpi.unschedulable_plugins = frozenset(plugins)
        if error or self.move_request_cycle >= popped_cycle:
            self._backoff[key] = qpi
            return "backoff"
        self._unschedulable[key] = qpi
        return "unschedulable"

    # -- backoff ------------------------------------------------------------------------------
    def backoff_expiry_ns(self, qpi: QueuedPodInfo) -> int:
        """When the pod's backoff ends: its timestamp plus backoff_duration_ns(attempts)."""
        return qpi.timestamp + backoff_duration_ns(
            qpi.attempts, self.initial_backoff_ns, self.max_backoff_ns
        )

    def _backing_off(self, qpi: QueuedPodInfo) -> bool:
        return self.backoff_expiry_ns(qpi) > self.now_ns()

    def flush_backoff_completed(self) -> list[str]:
        """Move every pod whose backoff has ended to activeQ (flushBackoffQCompleted, every
        second). Returns the keys moved, in expiry order."""
        now = self.now_ns()
        ready = sorted(
            (self.backoff_expiry_ns(q), key)
            for key, q in self._backoff.items()
            if self.backoff_expiry_ns(q) <= now
        )
        for _, key in ready:
            self._to_active_or_gated(self._backoff.pop(key))
        return [key for _, key in ready]

    def flush_unschedulable_left_over(self) -> list[str]:
        """Move pods unschedulable for longer than podMaxInUnschedulablePodsDuration (5 min)
        back (flushUnschedulablePodsLeftover, every 30 s)."""
        now = self.now_ns()
        stale = sorted(
            key
            for key, q in self._unschedulable.items()
            if not q.gated and now - q.timestamp > self.max_in_unschedulable_ns
        )
        for key in stale:
            self._requeue(self._unschedulable[key])
        return stale

    # -- cluster events -----------------------------------------------------------------------
    def _worth_requeuing(self, qpi: QueuedPodInfo, event: str) -> bool:
        if event == FORCE_ACTIVATE or not qpi.unschedulable_plugins:
            return True  # rejected for no known reason: any event may help
        for plugin in sorted(qpi.unschedulable_plugins):
            registered = self.events_to_register.get(plugin)
            if registered is None or event in registered:
                return True
        return False

    def _requeue(self, qpi: QueuedPodInfo) -> str:
        key = _pod_key(qpi.pod)
        self._unschedulable.pop(key, None)
        if self._backing_off(qpi):
            self._backoff[key] = qpi
            return "backoff"
        return self._to_active_or_gated(qpi)

    def move_on_event(self, events: Iterable[str]) -> dict[str, str]:
        """MoveAllToActiveOrBackoffQueue: the cluster changed (`events`, upstream's labels);
        unschedulable pods one of whose rejecting plugins registered for an event move to
        backoffQ (still backing off) or activeQ. Pods in flight will go to backoffQ when they
        fail. Returns {key: "active" | "backoff"} for the pods moved."""
        events = list(events)
        if not events:
            return {}
        self.move_request_cycle = self.scheduling_cycle
        moved = {}
        for key in sorted(self._unschedulable):
            qpi = self._unschedulable[key]
            if qpi.gated:
                continue
            if any(self._worth_requeuing(qpi, e) for e in events):
                moved[key] = self._requeue(qpi)
        return moved

    # -- looking ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._active_by_key) + len(self._backoff) + len(self._unschedulable)

    def pending_pods(self) -> dict[str, list[str]]:
        """Pod names (namespace/name) by queue: active (in pop order), backoff (by expiry),
        unschedulable and gated (by name)."""
        active = sorted(e for e in self._active_by_key.values())
        backoff = sorted(self._backoff.values(), key=lambda q: (self.backoff_expiry_ns(q), q.key))
        unsched = sorted(q.full_name for q in self._unschedulable.values() if not q.gated)
        gated = sorted(q.full_name for q in self._unschedulable.values() if q.gated)
        return {
            "active": [e.qpi.full_name for e in active],
            "backoff": [q.full_name for q in backoff],
            "unschedulable": unsched,
            "gated": gated,
        }

    def get(self, key: str) -> QueuedPodInfo | None:
        entry = self._active_by_key.get(key)
        if entry is not None:
            return entry.qpi
        return self._backoff.get(key) or self._unschedulable.get(key)


def _without_status(pod: Mapping[str, Any]) -> Any:
    meta = dict(pod.get("metadata") or {})
    for k in ("resourceVersion", "generation", "managedFields"):
        meta.pop(k, None)
    return {k: v for k, v in pod.items() if k not in ("status", "metadata")}, meta


__all__ = [
    "BACKOFF_FLUSH_PERIOD_NS",
    "EVENTS_TO_REGISTER",
    "POD_INITIAL_BACKOFF_NS",
    "POD_MAX_BACKOFF_NS",
    "POD_MAX_IN_UNSCHEDULABLE_PODS_NS",
    "UNSCHEDULABLE_FLUSH_PERIOD_NS",
    "QueuedPodInfo",
    "SchedulingQueue",
    "backoff_duration_ns",
]
