"""The scheduler's informer event handlers: pods and nodes update the cache and the queue, and
each change is classified as the cluster events that move unschedulable pods back.

Semantics: kube-scheduler's eventhandlers.go (handlers are methods of the Scheduler there too)
and framework's update action types (nodeSchedulingPropertiesChange, assigned-pod updates).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .cache import Cache, assigned, terminal
from .framework import PodInfo, Profile, Status
from .queue import (
    ASSIGNED_POD_ADD,
    ASSIGNED_POD_DELETE,
    ASSIGNED_POD_LABEL,
    ASSIGNED_POD_SCALE_DOWN,
    NODE_ADD,
    NODE_ALLOCATABLE,
    NODE_CONDITION,
    NODE_LABEL,
    NODE_TAINT,
    PV_ADD,
    PV_UPDATE,
    PVC_ADD,
    PVC_UPDATE,
    SchedulingQueue,
)

if TYPE_CHECKING:
    from kube_teach.sim.metrics import Metrics


# The (add, update) events of the objects plugins read that can make a pod schedulable.
VOLUME_EVENTS = {
    "PersistentVolumeClaim": (PVC_ADD, PVC_UPDATE),
    "PersistentVolume": (PV_ADD, PV_UPDATE),
}


def _labels(obj: Mapping[str, Any]) -> Any:
    return (obj.get("metadata") or {}).get("labels")


def _conditions(status: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(c.get("type"), c.get("status")) for c in status.get("conditions") or ()]


def node_events(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The NodeUpdate action types a change carries."""
    o_spec, n_spec = old.get("spec") or {}, new.get("spec") or {}
    o_status, n_status = old.get("status") or {}, new.get("status") or {}
    events = []
    if o_status.get("allocatable") != n_status.get("allocatable"):
        events.append(NODE_ALLOCATABLE)
    if _labels(old) != _labels(new):
        events.append(NODE_LABEL)
    if o_spec.get("taints") != n_spec.get("taints") or bool(o_spec.get("unschedulable")) != bool(
        n_spec.get("unschedulable")
    ):
        events.append(NODE_TAINT)
    if _conditions(o_status) != _conditions(n_status):
        events.append(NODE_CONDITION)
    return events


def assigned_pod_events(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The update action types of a change to a bound pod: its labels, a smaller request."""
    events = []
    if _labels(old) != _labels(new):
        events.append(ASSIGNED_POD_LABEL)
    a, b = PodInfo(old).requests, PodInfo(new).requests
    if b.milli_cpu < a.milli_cpu or b.memory < a.memory:
        events.append(ASSIGNED_POD_SCALE_DOWN)
    return events


class EventHandlers:
    """The informer handlers of Scheduler (mixed in): they need the attributes below and
    `_wake()` from the host."""

    cache: Cache
    queue: SchedulingQueue | None
    metrics: Metrics
    profiles: dict[str, Profile]

    def _scheduler_name(self, pod: Mapping[str, Any]) -> str:
        return (pod.get("spec") or {}).get("schedulerName") or "default-scheduler"

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

    def _wake(self) -> None:
        raise NotImplementedError

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
        was_assigned = old is not None and assigned(old) and not terminal(old)
        if assigned(new) or terminal(new):
            self.cache.invalidate()
            self.queue.delete(new)
            self.cache.clear_nomination(key)
            self.cache.finish_binding(key)  # the watch confirms the assumed pod
            if terminal(new):
                self._move([ASSIGNED_POD_DELETE] if was_assigned else [])
            elif not was_assigned:
                self._move([ASSIGNED_POD_ADD])
            else:
                self._move(assigned_pod_events(old or {}, new))
            return
        if (new.get("metadata") or {}).get("deletionTimestamp") or not self._responsible(new):
            return
        nominated = (new.get("status") or {}).get("nominatedNodeName")
        if nominated:
            self.cache.nominate(key, new, nominated)
        elif old is not None and (old.get("status") or {}).get("nominatedNodeName"):
            self.cache.clear_nomination(key)
            self.cache.invalidate()
        if key in self.cache.assumed:
            return  # binding in flight: the pod is no longer the queue's
        if self.queue.update(old, new) is not None:
            self._wake()

    def _pod_deleted(self, pod: Mapping[str, Any]) -> None:
        assert self.queue is not None
        key = PodInfo(pod).key
        self.cache.clear_nomination(key)
        if assigned(pod) and not terminal(pod):
            self.cache.invalidate()
            self.cache.finish_binding(key)
            self._move([ASSIGNED_POD_DELETE])
        else:
            self.queue.delete(pod)

    def _node_added(self, node: Mapping[str, Any]) -> None:
        self.cache.set_node(node)
        self._move([NODE_ADD])

    def _node_updated(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        self.cache.set_node(new)
        self._move(node_events(old, new))

    def _node_deleted(self, node: Mapping[str, Any]) -> None:
        self.cache.remove_node(node)

    def _object_changer(self, event: str | None) -> Callable[..., None]:
        """A handler for another object kind: the snapshot is stale; `event` (if any) moves
        the pods that plugins registered for it rejected."""

        def changed(*objs: Mapping[str, Any]) -> None:
            self.cache.invalidate()
            if event is not None:
                self._move([event])

        return changed
