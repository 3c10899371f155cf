"""Simulated time: the only clock kube-teach reads.

A heap of timers ordered by due time, then by the order they were scheduled (SimPy's tie-break),
so events due at the same instant run first-in first-out. Time is an integer count of
nanoseconds; durations may be given as Go text (`"100ms"`) or as seconds.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable

from .duration import SECOND, to_ns


class SimulationError(RuntimeError):
    """Misuse of the clock, e.g. scheduling in the past or a wait that timed out."""


class Timer:
    """A scheduled call; `cancel()` stops it from running. Periodic timers re-arm themselves."""

    __slots__ = ("due", "fn", "interval", "cancelled", "_clock")

    def __init__(self, clock: Clock, due: int, fn: Callable[[], object], interval: int = 0):
        self._clock = clock
        self.due = due
        self.fn = fn
        self.interval = interval
        self.cancelled = False

    def cancel(self) -> None:
        """Never run again. Safe to call twice, or from inside the timer's own callback."""
        self.cancelled = True

    @property
    def active(self) -> bool:
        return not self.cancelled

    def __repr__(self) -> str:
        state = "cancelled" if self.cancelled else f"due at {self.due / SECOND:g}s"
        return f"<Timer {state}>"


class Clock:
    """Simulated time in integer nanoseconds; `now` gives seconds for people."""

    def __init__(self) -> None:
        self.now_ns: int = 0
        self._heap: list[tuple[int, int, Timer]] = []
        self._seq = itertools.count()
        self.events_run: int = 0

    @property
    def now(self) -> float:
        """Seconds since the simulation started."""
        return self.now_ns / SECOND

    def call_at(self, when_ns: int, fn: Callable[[], object]) -> Timer:
        """Run `fn()` at absolute time `when_ns` (nanoseconds); never in the past."""
        if when_ns < self.now_ns:
            raise SimulationError(
                f"cannot schedule at {when_ns / SECOND:g}s: it is already {self.now:g}s"
            )
        timer = Timer(self, when_ns, fn)
        heapq.heappush(self._heap, (when_ns, next(self._seq), timer))
        return timer

    def call_later(self, delay: int | float | str, fn: Callable[[], object]) -> Timer:
        """Run `fn()` after `delay` (Go text such as `"250ms"`, or seconds)."""
        ns = to_ns(delay)
        if ns < 0:
            raise SimulationError(f"negative delay: {delay!r}")
        return self.call_at(self.now_ns + ns, fn)

    def every(
        self, interval: int | float | str, fn: Callable[[], object], *, start: bool = False
    ) -> Timer:
        """Run `fn()` every `interval`, first after one interval (or now, with `start=True`).

        Returns one Timer for the whole series; cancelling it stops the series.
        """
        ns = to_ns(interval)
        if ns <= 0:
            raise SimulationError(f"interval must be positive: {interval!r}")
        timer = Timer(self, self.now_ns + (0 if start else ns), fn, ns)
        heapq.heappush(self._heap, (timer.due, next(self._seq), timer))
        return timer

    def peek(self) -> int | None:
        """Due time (ns) of the next live timer, or None when nothing is scheduled."""
        heap = self._heap
        while heap and heap[0][2].cancelled:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def step(self) -> bool:
        """Run the next due timer, advancing time to it; False when nothing is left."""
        heap = self._heap
        while heap:
            due, _, timer = heapq.heappop(heap)
            if timer.cancelled:
                continue
            self.now_ns = due
            self._fire(timer)
            return True
        return False

    def _fire(self, timer: Timer) -> None:
        self.events_run += 1
        if timer.interval:
            timer.due += timer.interval
            heapq.heappush(self._heap, (timer.due, next(self._seq), timer))
        else:
            timer.cancelled = True
        timer.fn()

    def run(self, seconds: int | float | str | None = None, *, until_ns: int | None = None) -> int:
        """Advance time by `seconds` (or to absolute `until_ns`), running every timer due.

        Timers due exactly at the end run. Time ends at the target even if nothing was due.
        With neither argument, run until no timer is left (careful with periodic timers).
        Returns the number of timers run.
        """
        if seconds is not None:
            until_ns = self.now_ns + to_ns(seconds)
        limit = until_ns if until_ns is not None else float("inf")
        heap, pop, push, seq = self._heap, heapq.heappop, heapq.heappush, self._seq
        ran = 0
        # The hot loop of every simulation: _fire inlined, one heap pop per event.
        while heap and heap[0][0] <= limit:
            due, _, timer = pop(heap)
            if timer.cancelled:
                continue
            self.now_ns = due
            ran += 1
            if timer.interval:
                timer.due = due + timer.interval
                push(heap, (timer.due, next(seq), timer))
            else:
                timer.cancelled = True
            timer.fn()
        self.events_run += ran
        if until_ns is not None and until_ns > self.now_ns:
            self.now_ns = until_ns
        return ran

    def run_until(
        self,
        predicate: Callable[[], bool],
        timeout: int | float | str = 60,
        *,
        raise_on_timeout: bool = True,
    ) -> bool:
        """Run timers until `predicate()` holds (checked before and after each timer).

        Stops at `now + timeout`. Returns True when the predicate held; on timeout raises
        SimulationError, or returns False with `raise_on_timeout=False`.
        """
        deadline = self.now_ns + to_ns(timeout)
        if predicate():
            return True
        heap = self._heap
        while heap:
            due, _, timer = heap[0]
            if due > deadline:
                break
            heapq.heappop(heap)
            if timer.cancelled:
                continue
            self.now_ns = due
            self._fire(timer)
            if predicate():
                return True
        self.now_ns = max(self.now_ns, deadline)
        if raise_on_timeout:
            raise SimulationError(
                f"timed out after {to_ns(timeout) / SECOND:g}s of simulated time waiting for "
                f"the condition"
            )
        return False

    def __repr__(self) -> str:
        return f"<Clock t={self.now:g}s pending={len(self._heap)}>"
