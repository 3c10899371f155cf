"""What the kubelet remembers about each pod it runs: one worker per pod, one slot per container.

Semantics: pkg/kubelet/pod_workers.go (a worker per pod UID moving from syncing to terminating
to terminated) and the container bookkeeping of kuberuntime. Plain state, no behaviour: the
host (kubelet.py, kuberuntime.py) changes it and status.py reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kube_teach.api.objects import Obj
from kube_teach.sim.clock import Timer

from .probes import ProbeWorker
from .runtime import Container

INIT, SIDECAR, REGULAR = "init", "sidecar", "regular"


@dataclass
class ContainerSlot:
    """The kubelet's view of one spec container across its restarts.

    `kind` is INIT (an init container that must exit 0 before the next one starts), SIDECAR
    (an init container with `restartPolicy: Always`: started in init order, kept running) or
    REGULAR (an app container from `spec.containers`).
    """

    spec: dict[str, Any]
    kind: str = REGULAR
    current: Container | None = None
    last: Container | None = None  # the exited container before `current` (lastState)
    attempts: int = 0
    pulling: bool = False
    waiting: tuple[str, str] | None = ("ContainerCreating", "")
    started: bool = False  # the startup probe has passed (or there is none)
    ready: bool = False
    stopping: bool = False  # preStop or SIGTERM sent, waiting for the process to end
    pull_error: str = ""  # the last failed pull's error, for ImagePullBackOff's message
    probes: dict[str, ProbeWorker] = field(default_factory=dict)
    timers: list[Timer] = field(default_factory=list)

    @property
    def name(self) -> str:
        return str(self.spec.get("name", ""))

    @property
    def running(self) -> bool:
        return self.current is not None and self.current.state == "running"

    @property
    def succeeded(self) -> bool:
        """An init container that has exited 0 (it never runs again)."""
        c = self.current
        return c is not None and c.state == "exited" and c.exit_code == 0


@dataclass
class PodWorker:
    """One pod worker: the latest pod from the informer and its containers, in spec order
    (init containers and sidecars first, as `spec.initContainers`, then `spec.containers`).

    `terminating` is set once the pod has a deletionTimestamp (or was evicted) and its
    containers are being stopped; `terminated` once they all have; `deleting` once the final
    DELETE was sent. `evicted` holds the eviction manager's status fields for the pod.
    """

    pod: Obj
    slots: dict[str, ContainerSlot]
    start_time: str
    pod_ip: str
    timers: list[Timer] = field(default_factory=list)
    sent: dict[str, Any] | None = None
    inflight: bool = False
    dirty: bool = False
    phase: str = "Pending"
    ready: bool = False
    terminating: bool = False
    terminated: bool = False
    deleting: bool = False
    evicted: dict[str, Any] | None = None

    @property
    def key(self) -> str:
        return f"{self.pod.namespace}/{self.pod.name}"

    def of_kind(self, *kinds: str) -> list[ContainerSlot]:
        """Slots of the given kinds, in spec order."""
        return [s for s in self.slots.values() if s.kind in kinds]


def new_worker(pod: Obj, start_time: str, pod_ip: str) -> PodWorker:
    """A worker with a slot per init container, sidecar and app container of `pod`."""
    spec = pod.get("spec") or {}
    slots: dict[str, ContainerSlot] = {}
    for c in spec.get("initContainers") or []:
        kind = SIDECAR if c.get("restartPolicy") == "Always" else INIT
        slots[c["name"]] = ContainerSlot(dict(c), kind)
    for c in spec.get("containers") or []:
        slots[c["name"]] = ContainerSlot(dict(c), REGULAR)
    return PodWorker(pod, slots, start_time, pod_ip)
