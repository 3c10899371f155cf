"""The prober manager: a worker per container probe, ticking every periodSeconds, whose results
mark containers started and ready or get them killed and restarted.

Semantics: pkg/kubelet/prober (prober_manager.go AddPod, worker.go doProbe with its initial
random delay after a kubelet restart), over probes.py's pure thresholds. A mixin of the
Kubelet host; a probe's outcome comes from the container's workload model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kube_teach.sim.duration import SECOND, to_ns

from .pod_workers import ContainerSlot, PodWorker
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
from .status import TERMINAL_PHASES


class ProberManager:
    """Probes for the Kubelet (needs host, clock, rng, pods, _started_ns ...)."""

    pods: dict[str, PodWorker]
    _started_ns: int

    # -- probes --------------------------------------------------------------------------------
    def _add_probes(self, uid: str, ps: PodWorker) -> None:
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

    def _probe(self, uid: str, slot: ContainerSlot, kind: str) -> None:
        ps = self.pods.get(uid)
        c = slot.current
        if (ps is None or c is None or c.state != "running" or ps.phase in TERMINAL_PHASES
                or not self.running or slot.stopping):  # fmt: skip
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


def _probe_output(probe: Mapping[str, Any], pod_ip: str) -> str:
    if "httpGet" in probe:
        return "HTTP probe failed with statuscode: 500"
    if "tcpSocket" in probe:
        port = (probe.get("tcpSocket") or {}).get("port", "")
        return f"dial tcp {pod_ip}:{port}: connect: connection refused"
    return ""
