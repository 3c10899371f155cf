"""Fair queuing for one priority level: shuffle sharding onto queues, dispatch by earliest
virtual finish time in fixed-point seat-seconds, and the seat-demand integrator.

Semantics: apiserver's util/shufflesharding and util/flowcontrol/fairqueuing (queueset,
integrator). Pure state: every call takes `now_ns` (simulated nanoseconds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..sim.duration import MS, SECOND

if TYPE_CHECKING:
    from .flowcontrol import FlowRequest

# -- shuffle sharding (util/shufflesharding) -------------------------------------------------------

MAX_HASH_BITS = 60


def required_entropy_bits(deck_size: int, hand_size: int) -> int:
    return math.ceil(math.log2(deck_size) * hand_size)


def deal(hash_value: int, deck_size: int, hand_size: int) -> list[int]:
    """The hand of `hand_size` distinct cards in [0, deck_size) that `hash_value` picks,
    in the order the dealer picks them (mixed-radix digits, then de-collided)."""
    if deck_size <= 0 or hand_size <= 0:
        raise ValueError(f"deckSize {deck_size} or handSize {hand_size} is not positive")
    if hand_size > deck_size:
        raise ValueError(f"handSize {hand_size} is greater than deckSize {deck_size}")
    if deck_size > 1 << 26:
        raise ValueError(f"deckSize {deck_size} is impractically large")
    if required_entropy_bits(deck_size, hand_size) > MAX_HASH_BITS:
        raise ValueError(
            f"required entropy bits of deckSize {deck_size} and handSize {hand_size} is greater than {MAX_HASH_BITS}"
        )
    remainders = []
    for i in range(hand_size):
        hash_value, r = divmod(hash_value, deck_size - i)
        remainders.append(r)
    hand = []
    for i in range(hand_size):
        card = remainders[i]
        for j in range(i, 0, -1):
            if card >= remainders[j - 1]:
                card += 1
        hand.append(card)
    return hand


# -- arithmetic helpers ------------------------------------------------------------------------------

SS_SCALE = 100_000_000  # seat-seconds are fixed point with 8 decimals
ESTIMATED_SERVICE_NS = 3 * MS


def go_round(x: float) -> int:
    """Go's math.Round: halves away from zero (Python's round() goes to even)."""
    return int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)


def seats_times_duration(seats: float, duration_ns: int) -> int:
    """SeatsTimesDuration: seat-seconds in 1e-8 units."""
    return go_round(seats * duration_ns / (SECOND / SS_SCALE))


# -- seat demand (fairqueuing's integrator) ----------------------------------------------------


class Integrator:
    """Time-weighted average, deviation and maximum of a piecewise-constant value (seat
    demand), over windows that reset(): fairqueuing's integrator."""

    def __init__(self, now_ns: int) -> None:
        self.x = 0.0
        self.last = now_ns
        self.elapsed = self.sum_x = self.sum_xx = 0.0
        self.max = 0.0

    def _update(self, now_ns: int) -> None:
        dt = (now_ns - self.last) / SECOND
        self.last = now_ns
        self.elapsed += dt
        self.sum_x += dt * self.x
        self.sum_xx += dt * self.x * self.x

    def set(self, x: float, now_ns: int) -> None:
        self._update(now_ns)
        self.x = float(x)
        self.max = max(self.max, self.x)

    def reset(self, now_ns: int) -> tuple[float, float, float, float]:
        """(seconds, average, deviation, maximum) of the window that ends now."""
        self._update(now_ns)
        avg = self.sum_x / self.elapsed if self.elapsed > 0 else float("nan")
        var = self.sum_xx / self.elapsed - avg * avg if self.elapsed > 0 else float("nan")
        dev = math.sqrt(var) if var > 0 else 0.0
        out = (self.elapsed, avg, dev, self.max)
        self.elapsed = self.sum_x = self.sum_xx = 0.0
        self.max = self.x
        return out


# -- fair queuing (fairqueuing/queueset) -------------------------------------------------------------


@dataclass
class _Req:
    req: FlowRequest
    fs: str
    pl: str
    arrival_ns: int
    arrival_r: int
    deadline_ns: int
    total_work: int
    queue: _Queue | None = None
    start_ns: int = 0


@dataclass
class _Queue:
    index: int
    waiting: list[_Req] = field(default_factory=list)
    executing: dict[Any, _Req] = field(default_factory=dict)
    next_dispatch_r: int = 0
    seats_in_use: int = 0

    def idle(self) -> bool:
        return not self.waiting and not self.executing

    def work_sum(self) -> int:
        return sum(r.total_work for r in self.waiting)


class QueueSet:
    """The queues of one priority level: shuffle-sharded enqueue, fair dispatch by earliest
    virtual finish time, a concurrency limit in seats. Virtual time R advances by
    min(seats requested, limit) / active queues seat-seconds per second."""

    def __init__(
        self, name: str, queues: int, hand_size: int, queue_length_limit: int, now_ns: int
    ) -> None:
        self.name = name
        self.num_queues = queues  # 0: no queuing (Reject); -1: exempt, never limited
        self.hand_size = hand_size
        self.queue_length_limit = queue_length_limit
        self.queues = [_Queue(i) for i in range(max(queues, 0))]
        if queues > 0:
            deal(0, queues, hand_size)  # validate the dealer configuration up front
        self.concurrency_limit = 0
        self.current_r = 0
        self.last_real_ns = now_ns
        self.robin_index = -1
        self.enqueues = 0
        self.seats_in_use = 0
        self.requests_executing: dict[Any, _Req] = {}
        self.lingering: list[tuple[int, _Req]] = []  # (release time, request) for final seats

    # accounting
    @property
    def waiting(self) -> int:
        return sum(len(q.waiting) for q in self.queues)

    @property
    def seats_waiting(self) -> int:
        return sum(r.req.max_seats for q in self.queues for r in q.waiting)

    def demand(self) -> int:
        return self.seats_in_use + self.seats_waiting

    def sync_time(self, now_ns: int) -> None:
        """Advance virtual time R to `now_ns`."""
        dt = now_ns - self.last_real_ns
        self.last_real_ns = now_ns
        active = sum(1 for q in self.queues if not q.idle())
        if active == 0 or dt <= 0:
            return
        requested = sum(
            q.seats_in_use + sum(r.req.max_seats for r in q.waiting) for q in self.queues
        )
        ratio = min(requested, self.concurrency_limit) / active
        self.current_r += seats_times_duration(ratio, dt)

    def can_accommodate(self, seats: int) -> bool:
        if self.num_queues < 0:
            return True
        if seats > self.concurrency_limit:
            return not self.requests_executing
        return self.seats_in_use + seats <= self.concurrency_limit

    def _work(self, req: FlowRequest) -> int:
        return seats_times_duration(req.initial_seats, ESTIMATED_SERVICE_NS) + seats_times_duration(
            req.final_seats, req.additional_latency_ns
        )

    def choose_queue(self, hash_value: int) -> int:
        """Shuffle sharding: deal a hand of queues from the flow's hash, take the one with the
        least waiting work, scanning from a rotating offset (ties go to the first seen)."""
        hand = deal(hash_value, self.num_queues, self.hand_size)
        offset = self.enqueues % len(hand)
        self.enqueues += 1
        best, best_work = -1, None
        for i in range(len(hand)):
            idx = hand[(offset + i) % len(hand)]
            work = self.queues[idx].work_sum()
            if best_work is None or work < best_work:
                best, best_work = idx, work
        return best

    def start(
        self, req: FlowRequest, fs: str, pl: str, hash_value: int, now_ns: int, deadline_ns: int
    ) -> _Req | None:
        """Execute at once, enqueue, or return None (reject)."""
        self.sync_time(now_ns)
        r = _Req(req, fs, pl, now_ns, self.current_r, deadline_ns, self._work(req))
        if self.num_queues < 1:
            if not self.can_accommodate(req.max_seats):
                return None
            r.start_ns = now_ns
            self.requests_executing[req.id] = r
            self.seats_in_use += req.max_seats
            return r
        q = self.queues[self.choose_queue(hash_value)]
        r.queue = q
        if (
            self.seats_in_use >= self.concurrency_limit
            and len(q.waiting) >= self.queue_length_limit
        ):
            return None
        if q.idle():
            q.next_dispatch_r = self.current_r
        q.waiting.append(r)
        self._bound(q)
        return r

    def _bound(self, q: _Queue) -> None:
        # anti-windup: a queue's next dispatch time never lags its oldest request's arrival
        if q.waiting and q.next_dispatch_r < q.waiting[0].arrival_r:
            q.next_dispatch_r = q.waiting[0].arrival_r

    def dispatch_all(self, now_ns: int) -> list[_Req]:
        """Dispatch waiting requests while seats are free, earliest virtual finish first."""
        out = []
        while self.waiting and self.seats_in_use < self.concurrency_limit:
            r = self._dispatch_one(now_ns)
            if r is None:
                break
            out.append(r)
        return out

    def _dispatch_one(self, now_ns: int) -> _Req | None:
        best: _Queue | None = None
        best_finish, best_index = None, 0
        n = len(self.queues)
        for _ in range(n):
            self.robin_index = (self.robin_index + 1) % n
            q = self.queues[self.robin_index]
            if q.waiting:
                finish = q.next_dispatch_r + q.waiting[0].total_work
                if best_finish is None or finish < best_finish:
                    best, best_finish, best_index = q, finish, self.robin_index
        if best is None:
            return None
        r = best.waiting[0]
        if not self.can_accommodate(r.req.max_seats):
            return None
        best.waiting.pop(0)
        self.robin_index = best_index
        r.start_ns = now_ns
        self.seats_in_use += r.req.max_seats
        best.executing[r.req.id] = r
        best.seats_in_use += r.req.max_seats
        best.next_dispatch_r += r.total_work
        self._bound(best)
        return r

    def finish(self, request_id: Any, now_ns: int) -> _Req | None:
        """The request finished executing: charge its actual service time to its queue and
        release its seats (final seats linger for `additional_latency_ns`)."""
        self.sync_time(now_ns)
        r = self.requests_executing.pop(request_id, None)
        if r is None:
            for q in self.queues:
                if request_id in q.executing:
                    r = q.executing.pop(request_id)
                    break
        if r is None:
            return None
        if r.queue is not None:
            actual = now_ns - r.start_ns
            r.queue.next_dispatch_r -= seats_times_duration(
                r.req.initial_seats, ESTIMATED_SERVICE_NS - actual
            )
            self._bound(r.queue)
        if r.req.additional_latency_ns > 0:
            self.lingering.append((now_ns + r.req.additional_latency_ns, r))
        else:
            self._release(r)
        return r

    def _release(self, r: _Req) -> None:
        self.seats_in_use -= r.req.max_seats
        if r.queue is not None:
            r.queue.seats_in_use -= r.req.max_seats

    def expire(self, now_ns: int) -> list[_Req]:
        """Remove queued requests whose wait deadline has passed; release lingering seats."""
        self.sync_time(now_ns)
        still = []
        for when, r in self.lingering:
            if when <= now_ns:
                self._release(r)
            else:
                still.append((when, r))
        self.lingering = still
        out = []
        for q in self.queues:
            keep = [r for r in q.waiting if r.deadline_ns > now_ns]
            out += [r for r in q.waiting if r.deadline_ns <= now_ns]
            q.waiting = keep
            self._bound(q)
        return out
