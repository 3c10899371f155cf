"""Probe results over time: when a container becomes started and ready, and when a failing
liveness or startup probe gets it restarted.

Semantics: pkg/kubelet/prober (worker.go doProbe, prober_manager.go UpdatePodStatus) with the
API defaults of SetDefaults_Probe. A probe's outcome is given, not performed: success,
failure, or a response time compared with timeoutSeconds. Times are seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

SUCCESS, FAILURE, UNKNOWN = "Success", "Failure", "Unknown"
LIVENESS, READINESS, STARTUP = "liveness", "readiness", "startup"
PROBE_FIELDS = {LIVENESS: "livenessProbe", READINESS: "readinessProbe", STARTUP: "startupProbe"}
# What the results manager holds for a new container before any probe has run.
INITIAL_RESULT = {LIVENESS: SUCCESS, READINESS: FAILURE, STARTUP: UNKNOWN}

Outcome = bool | str | float | int


@dataclass(frozen=True)
class ProbeSpec:
    """A probe's timing fields, with the API server's defaults."""

    initial_delay_seconds: int = 0
    period_seconds: int = 10
    timeout_seconds: int = 1
    success_threshold: int = 1
    failure_threshold: int = 3

    @classmethod
    def from_dict(cls, probe: Mapping[str, Any] | None) -> ProbeSpec | None:
        """A spec from a container's probe dict (None when the probe is absent); unset or zero
        fields take their defaults (period 10, timeout 1, success 1, failure 3, delay 0)."""
        if probe is None:
            return None
        return cls(
            initial_delay_seconds=int(probe.get("initialDelaySeconds") or 0),
            period_seconds=int(probe.get("periodSeconds") or 10),
            timeout_seconds=int(probe.get("timeoutSeconds") or 1),
            success_threshold=int(probe.get("successThreshold") or 1),
            failure_threshold=int(probe.get("failureThreshold") or 3),
        )


def probe_result(outcome: Outcome, timeout_seconds: float = 1) -> str:
    """One probe's result: True/"success" succeed, False/"failure"/"timeout" fail, and a number
    is a response time that succeeds only when shorter than the timeout."""
    if isinstance(outcome, bool):
        return SUCCESS if outcome else FAILURE
    if isinstance(outcome, int | float):
        return SUCCESS if outcome < timeout_seconds else FAILURE
    text = str(outcome).lower()
    if text in ("success", "ok", "warning"):
        return SUCCESS
    if text in ("failure", "fail", "timeout"):
        return FAILURE
    raise ValueError(f"unknown probe outcome {outcome!r}")


@dataclass
class ProbeWorker:
    """One probe of one container, as the kubelet's prober worker keeps it.

    `result` is what the results manager publishes. A result changes only after
    successThreshold consecutive successes or failureThreshold consecutive failures. A
    published liveness or startup failure puts the worker on hold until a new container.
    """

    probe_type: str
    spec: ProbeSpec
    result: str = ""
    last_result: str = UNKNOWN
    result_run: int = 0
    on_hold: bool = False

    def __post_init__(self) -> None:
        if not self.result:
            self.result = INITIAL_RESULT[self.probe_type]

    def new_container(self) -> None:
        """A new container ID: back to the initial result, probing resumes."""
        self.result = INITIAL_RESULT[self.probe_type]
        self.on_hold = False

    def should_probe(self, seconds_since_start: float, started: bool) -> bool:
        """Whether this tick probes: not on hold, past initialDelaySeconds (whole seconds, as
        upstream truncates), and gated on startup: startup probes run until the container has
        started, the others only after."""
        if self.on_hold or int(seconds_since_start) < self.spec.initial_delay_seconds:
            return False
        return (not started) if self.probe_type == STARTUP else started

    def observe(self, result: str) -> str | None:
        """Count one probe result; return the newly published result, or None while below
        threshold (which leaves `result` as it was)."""
        if result == self.last_result:
            self.result_run += 1
        else:
            self.last_result, self.result_run = result, 1
        threshold = (
            self.spec.failure_threshold if result == FAILURE else self.spec.success_threshold
        )
        if self.result_run < threshold:
            return None
        self.result = result
        if self.probe_type in (LIVENESS, STARTUP) and result == FAILURE:
            self.on_hold, self.result_run = True, 0  # the container will be restarted
        return result


@dataclass(frozen=True)
class ProbeEvent:
    """One probe run: its single result, what is published, and the container's state after.
    `action` is "started", "ready", "not-ready", "restart" or ""."""

    time: float
    probe: str
    outcome: str
    result: str
    started: bool
    ready: bool
    action: str = ""


@dataclass
class _Source:
    outcomes: Callable[[float], Outcome] | Sequence[Outcome] | Outcome
    used: int = field(default=0)

    def next(self, since_start: float) -> Outcome:
        if callable(self.outcomes):
            return self.outcomes(since_start)
        if isinstance(self.outcomes, Sequence) and not isinstance(self.outcomes, str):
            if not self.outcomes:
                return True
            value = self.outcomes[min(self.used, len(self.outcomes) - 1)]
            self.used += 1
            return value
        return self.outcomes


def probe_timeline(
    container: Mapping[str, Any],
    outcomes: Mapping[str, Any],
    *,
    until: float,
    started_at: float = 0.0,
    worker_started_at: float | None = None,
) -> list[ProbeEvent]:
    """The container's probes from `started_at` to `until` (seconds).

    `outcomes` maps "liveness", "readiness", "startup" to the outcomes of successive probes
    (a list, whose last value repeats), to a function of seconds since the container
    started, or to one value for every probe; a probe without an entry always succeeds.
    Each worker ticks every periodSeconds from `worker_started_at` (default: `started_at`),
    probing right away. On one tick the startup result counts for the other probes only from
    the next tick, as the kubelet learns it through the pod status. The timeline stops at the
    first "restart" (a published liveness or startup failure). Without a startup probe the
    container counts as started at once; without a readiness probe it is ready once started.
    """
    workers = {
        kind: ProbeWorker(kind, spec)
        for kind in (STARTUP, LIVENESS, READINESS)
        if (spec := ProbeSpec.from_dict(container.get(PROBE_FIELDS[kind]))) is not None
    }
    sources = {kind: _Source(outcomes.get(kind, True)) for kind in workers}
    origin = started_at if worker_started_at is None else worker_started_at
    started = STARTUP not in workers
    ready = started and READINESS not in workers
    ticks = sorted(
        (origin + k * w.spec.period_seconds, order, kind)
        for order, (kind, w) in enumerate(workers.items())
        for k in range(int((until - origin) // w.spec.period_seconds) + 1)
        if origin + k * w.spec.period_seconds >= started_at
    )
    events: list[ProbeEvent] = []
    started_before_tick, tick_time = started, None
    for t, _, kind in ticks:
        if t != tick_time:
            tick_time, started_before_tick = t, started
        worker = workers[kind]
        if not worker.should_probe(t - started_at, started_before_tick):
            continue
        outcome = probe_result(sources[kind].next(t - started_at), worker.spec.timeout_seconds)
        published = worker.observe(outcome)
        action = ""
        if published == FAILURE and kind in (LIVENESS, STARTUP):
            action, ready = "restart", False
        elif kind == STARTUP and published == SUCCESS and not started:
            started, action = True, "started"
            ready = READINESS not in workers
        elif kind == READINESS and published is not None and (published == SUCCESS) != ready:
            ready = published == SUCCESS
            action = "ready" if ready else "not-ready"
        events.append(ProbeEvent(t, kind, outcome, worker.result, started, ready, action))
        if action == "restart":
            break
    return events


def decisions(events: Sequence[ProbeEvent]) -> list[tuple[float, str]]:
    """Just the state changes of a timeline: (time, action)."""
    return [(e.time, e.action) for e in events if e.action]
