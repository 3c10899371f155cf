"""Restart and image-pull back-off: CrashLoopBackOff and ImagePullBackOff timing.

Semantics: client-go's flowcontrol.Backoff (no jitter, as the kubelet builds it) driven the
way kuberuntime's doBackOff and the image manager's EnsureImageExists drive it: 10 s,
doubling, capped at 300 s, forgotten once an entry has been quiet for twice the cap (10 min).
Times are seconds (numbers) or Go durations; inside they are integer nanoseconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kube_teach.sim.duration import SECOND, format_duration, to_ns

INITIAL_BACKOFF = 10  # seconds: kubelet backOffPeriod and imageBackOffPeriod
MAX_CONTAINER_BACKOFF = 300  # seconds: MaxContainerBackOff
MAX_IMAGE_BACKOFF = 300  # seconds: MaxImageBackOff

CRASH_LOOP_BACK_OFF = "CrashLoopBackOff"
ERR_IMAGE_PULL = "ErrImagePull"
IMAGE_PULL_BACK_OFF = "ImagePullBackOff"


@dataclass
class _Entry:
    backoff: int  # ns
    last_update: int  # ns


class Backoff:
    """Per-key exponential back-off without a clock (flowcontrol.Backoff, jitter 0).

    `next(key, event_time, now)` records a failure: a new or expired entry starts at
    `initial`, else the delay doubles up to `max`. An entry expires when the event comes more
    than 2 x `max` after its last update, so a container that ran for 10 minutes starts over.
    """

    def __init__(
        self, initial: float | str = INITIAL_BACKOFF, max: float | str = MAX_CONTAINER_BACKOFF
    ) -> None:
        self.initial_ns = to_ns(initial)
        self.max_ns = to_ns(max)
        self._entries: dict[str, _Entry] = {}

    def _expired(self, event_ns: int, entry: _Entry) -> bool:
        return event_ns - entry.last_update > 2 * self.max_ns

    def get(self, key: str) -> float:
        """The current delay for `key` in seconds (0 when unknown)."""
        entry = self._entries.get(key)
        return 0 if entry is None else entry.backoff / SECOND

    def next(self, key: str, event_time: float, now: float | None = None) -> float:
        """Record a failure at `event_time`, decided at `now` (default the same); returns the
        new delay in seconds."""
        event_ns = to_ns(event_time)
        now_ns = event_ns if now is None else to_ns(now)
        entry = self._entries.get(key)
        if entry is None or self._expired(event_ns, entry):
            entry = self._entries[key] = _Entry(min(self.initial_ns, self.max_ns), now_ns)
        else:
            entry.backoff = min(entry.backoff * 2, self.max_ns)
            entry.last_update = now_ns
        return entry.backoff / SECOND

    def is_in_backoff_since(self, key: str, event_time: float, now: float) -> bool:
        """Whether less than the delay has passed since `event_time` (a container's finish
        time) at `now`; False for unknown or expired entries."""
        entry = self._entries.get(key)
        event_ns = to_ns(event_time)
        if entry is None or self._expired(event_ns, entry):
            return False
        return to_ns(now) - event_ns < entry.backoff

    def is_in_backoff_since_update(self, key: str, event_time: float) -> bool:
        """Whether less than the delay has passed between the last update and `event_time`."""
        entry = self._entries.get(key)
        event_ns = to_ns(event_time)
        if entry is None or self._expired(event_ns, entry):
            return False
        return event_ns - entry.last_update < entry.backoff

    def reset(self, key: str) -> None:
        """Forget `key`."""
        self._entries.pop(key, None)

    def gc(self, now: float) -> None:
        """Drop entries quiet for more than 2 x max (the kubelet runs this periodically)."""
        now_ns = to_ns(now)
        for key in [
            k for k, e in self._entries.items() if now_ns - e.last_update > 2 * self.max_ns
        ]:
            del self._entries[key]


def format_pod(pod: Mapping[str, Any]) -> str:
    """A pod as kubelet messages name it: `name_namespace(uid)`."""
    meta = pod.get("metadata") or {}
    return f"{meta.get('name', '')}_{meta.get('namespace') or 'default'}({meta.get('uid', '')})"


def container_key(pod: Mapping[str, Any], container: Mapping[str, Any] | str) -> str:
    """The back-off key of a container (GetStableKey): pod name, namespace, uid, container."""
    meta = pod.get("metadata") or {}
    name = container if isinstance(container, str) else container.get("name", "")
    return (
        f"{meta.get('name', '')}_{meta.get('namespace') or 'default'}_{meta.get('uid', '')}_{name}"
    )


@dataclass(frozen=True)
class BackoffDecision:
    """`start` the container now, or wait: `reason` and `message` are what the container's
    waiting state shows (CrashLoopBackOff, ImagePullBackOff)."""

    start: bool
    reason: str = ""
    message: str = ""
    delay: float = 0.0


def restart_decision(
    backoff: Backoff,
    pod: Mapping[str, Any],
    container: Mapping[str, Any] | str,
    finished_at: float | None,
    now: float,
) -> BackoffDecision:
    """doBackOff: may the exited container (finished at `finished_at`, None if it never ran)
    be restarted at `now`? While in back-off the answer is CrashLoopBackOff with
    "back-off 20s restarting failed container=app pod=web_default(uid)"; otherwise the
    back-off advances (so the next crash waits twice as long) and the container starts."""
    if finished_at is None:
        return BackoffDecision(True)
    key = container_key(pod, container)
    name = container if isinstance(container, str) else container.get("name", "")
    if backoff.is_in_backoff_since(key, finished_at, now):
        delay = backoff.get(key)
        message = (
            f"back-off {format_duration(to_ns(delay))} restarting failed "
            f"container={name} pod={format_pod(pod)}"
        )
        return BackoffDecision(False, CRASH_LOOP_BACK_OFF, message, delay)
    backoff.next(key, finished_at, now)
    return BackoffDecision(True)


def pull_decision(
    backoff: Backoff, pod: Mapping[str, Any], image: str, now: float
) -> BackoffDecision:
    """EnsureImageExists before a pull at `now`: within the back-off the container waits with
    ImagePullBackOff, 'Back-off pulling image "nginx:bad"'; otherwise it may pull. After a
    failed pull call `pull_failed`, which records the failure (reason ErrImagePull)."""
    key = f"{(pod.get('metadata') or {}).get('uid', '')}_{image}"
    if backoff.is_in_backoff_since_update(key, now):
        message = f'Back-off pulling image "{image}"'
        return BackoffDecision(False, IMAGE_PULL_BACK_OFF, message, backoff.get(key))
    return BackoffDecision(True)


def pull_failed(backoff: Backoff, pod: Mapping[str, Any], image: str, now: float) -> float:
    """Record a failed pull of `image` at `now` (the container shows ErrImagePull until its
    next attempt); returns the new delay in seconds."""
    key = f"{(pod.get('metadata') or {}).get('uid', '')}_{image}"
    return backoff.next(key, now)


def restart_delays(restarts: int, *, initial: float = INITIAL_BACKOFF,
                   max: float = MAX_CONTAINER_BACKOFF) -> list[float]:  # fmt: skip
    """How long the kubelet holds each restart of a container that crashes at once every
    time: the first restart is immediate, then 10, 20, 40, 80, 160, 300, 300, ... seconds."""
    delays, current = [], 0.0
    for i in range(restarts):
        delays.append(current)
        current = float(min(initial if i == 0 else current * 2, max))
    return delays


@dataclass(frozen=True)
class Restart:
    """One container start in a crash-loop timeline: when it started and when it exited."""

    started_at: float
    finished_at: float
    waited: float  # seconds between the previous exit and this start


def crash_loop(
    run_durations: Sequence[float] | Iterable[float],
    *,
    start: float = 0.0,
    initial: float | str = INITIAL_BACKOFF,
    max: float | str = MAX_CONTAINER_BACKOFF,
) -> list[Restart]:
    """Start times of a container whose successive runs last `run_durations` seconds, when
    the kubelet restarts it as soon as the back-off allows (an idealised sync loop; the real
    one retries on its own schedule, so restarts land slightly later). A run longer than
    twice the cap (10 min) resets the back-off to 10 s."""
    backoff, key = Backoff(initial, max), "c"
    runs: list[Restart] = []
    t, waited = to_ns(start), 0
    for duration in run_durations:
        finished = t + to_ns(duration)
        runs.append(Restart(t / SECOND, finished / SECOND, waited / SECOND))
        in_backoff = backoff.is_in_backoff_since(key, finished / SECOND, finished / SECOND)
        delay = to_ns(backoff.get(key)) if in_backoff else 0
        restart_at = finished + delay
        backoff.next(key, finished / SECOND, restart_at / SECOND)
        t, waited = restart_at, delay
    return runs
