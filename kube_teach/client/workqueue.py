"""The controller work queue: de-duplicating, never handing one key to two workers at once,
with delayed and rate-limited adds on the simulated clock.

Semantics: client-go util/workqueue (queue.go, delaying_queue.go, rate_limiting_queue.go): a key
added while queued is not queued twice; a key added while being processed is queued again when
its worker calls `done`; `add_after` waits on the clock; `add_rate_limited` waits as long as the
rate limiter says, and `forget` resets its backoff.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable

from ..sim.clock import Clock, Timer
from .ratelimit import MaxOfRateLimiter, default_controller_rate_limiter


class WorkQueue:
    """Keys waiting for a worker. `on_ready` (optional) is called when a key becomes available."""

    def __init__(
        self,
        clock: Clock,
        rate_limiter: MaxOfRateLimiter | None = None,
        on_ready: Callable[[], None] | None = None,
        name: str = "",
    ) -> None:
        self.clock = clock
        self.name = name
        self.rate_limiter = rate_limiter or default_controller_rate_limiter()
        self.on_ready = on_ready
        self._queue: deque[Hashable] = deque()
        self._dirty: set[Hashable] = set()
        self._processing: set[Hashable] = set()
        self._waiting: dict[Hashable, Timer] = {}
        self.shutting_down = False
        self.adds = 0

    def __len__(self) -> int:
        return len(self._queue)

    def add(self, item: Hashable) -> None:
        """Queue `item` unless it is already waiting; if a worker has it, after `done`."""
        if self.shutting_down or item in self._dirty:
            return
        self.adds += 1
        self._dirty.add(item)
        if item in self._processing:
            return
        self._queue.append(item)
        if self.on_ready is not None:
            self.on_ready()

    def get(self) -> Hashable | None:
        """The next item for a worker, or None when the queue is empty."""
        if not self._queue:
            return None
        item = self._queue.popleft()
        self._processing.add(item)
        self._dirty.discard(item)
        return item

    def done(self, item: Hashable) -> None:
        """The worker finished `item`; if it was added again meanwhile, queue it now."""
        self._processing.discard(item)
        if item in self._dirty:
            self._queue.append(item)
            if self.on_ready is not None:
                self.on_ready()

    def add_after(self, item: Hashable, delay_ns: int) -> None:
        """Add `item` after `delay_ns`; an earlier pending add of the same item wins."""
        if self.shutting_down:
            return
        if delay_ns <= 0:
            self.add(item)
            return
        due = self.clock.now_ns + delay_ns
        pending = self._waiting.get(item)
        if pending is not None and pending.active and pending.due <= due:
            return
        if pending is not None:
            pending.cancel()

        def fire() -> None:
            self._waiting.pop(item, None)
            self.add(item)

        self._waiting[item] = self.clock.call_at(due, fire)

    def add_rate_limited(self, item: Hashable) -> None:
        """Add `item` after the rate limiter's delay (exponential per-item backoff)."""
        self.add_after(item, self.rate_limiter.when(item, self.clock.now_ns))

    def forget(self, item: Hashable) -> None:
        """Stop tracking `item`'s failures: its next rate-limited add starts from the base."""
        self.rate_limiter.forget(item)

    def num_requeues(self, item: Hashable) -> int:
        return self.rate_limiter.num_requeues(item)

    def shut_down(self) -> None:
        """Accept no more items; pending delayed adds are dropped."""
        self.shutting_down = True
        for timer in self._waiting.values():
            timer.cancel()
        self._waiting.clear()

    def __repr__(self) -> str:
        return (
            f"<WorkQueue {self.name} queued={len(self._queue)} processing={len(self._processing)}>"
        )
