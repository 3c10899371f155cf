"""Rate limiters on the simulated clock, as client-go has them.

Semantics: client-go's flowcontrol token bucket (golang.org/x/time/rate underneath: the bucket
starts full with `burst` tokens and refills at `qps` per second) and util/workqueue's
default_rate_limiters.go (per-item exponential backoff, overall bucket, and their maximum).
Times are integer nanoseconds passed in; nothing here reads a clock.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

SECOND = 1_000_000_000


@dataclass
class TokenBucket:
    """`qps` tokens per second, at most `burst` saved up; a request takes one token.

    `reserve(now)` takes a token (possibly borrowing from the future, as rate.Limiter's
    Reserve does) and returns how long the caller must wait before going on.
    """

    qps: float
    burst: int
    _tokens: float = field(init=False)
    _last_ns: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.qps <= 0 or self.burst <= 0:
            raise ValueError("qps and burst must be positive")
        self._tokens = float(self.burst)

    def _refill(self, now_ns: int) -> None:
        if now_ns > self._last_ns:
            elapsed = (now_ns - self._last_ns) / SECOND
            self._tokens = min(float(self.burst), self._tokens + elapsed * self.qps)
            self._last_ns = now_ns

    def tokens(self, now_ns: int) -> float:
        """Tokens available at `now_ns` (negative while requests wait for borrowed ones)."""
        self._refill(now_ns)
        return self._tokens

    def try_accept(self, now_ns: int) -> bool:
        """Take a token if one is there now, without waiting (client-go's TryAccept)."""
        self._refill(now_ns)
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    def reserve(self, now_ns: int) -> int:
        """Take a token now or in the future; nanoseconds to wait before using it."""
        self._refill(now_ns)
        self._tokens -= 1
        if self._tokens >= 0:
            return 0
        return int(-self._tokens / self.qps * SECOND + 0.5)


class ItemExponentialFailureRateLimiter:
    """Per item: `base * 2**failures`, capped at `max_delay` (workqueue defaults 5 ms, 1000 s)."""

    def __init__(self, base_ns: int = 5_000_000, max_ns: int = 1000 * SECOND) -> None:
        self.base_ns = base_ns
        self.max_ns = max_ns
        self._failures: dict[Hashable, int] = {}

    def when(self, item: Hashable, now_ns: int) -> int:
        exp = self._failures.get(item, 0)
        self._failures[item] = exp + 1
        if exp > 62:
            return self.max_ns
        return min(self.base_ns * (1 << exp), self.max_ns)

    def num_requeues(self, item: Hashable) -> int:
        return self._failures.get(item, 0)

    def forget(self, item: Hashable) -> None:
        self._failures.pop(item, None)


class BucketRateLimiter:
    """One token bucket shared by every item (workqueue default: 10 qps, burst 100)."""

    def __init__(self, qps: float = 10, burst: int = 100) -> None:
        self.bucket = TokenBucket(qps, burst)

    def when(self, item: Hashable, now_ns: int) -> int:
        return self.bucket.reserve(now_ns)

    def num_requeues(self, item: Hashable) -> int:
        return 0

    def forget(self, item: Hashable) -> None:
        pass


class MaxOfRateLimiter:
    """The longest delay any of its limiters asks for (workqueue's MaxOfRateLimiter)."""

    def __init__(self, *limiters: ItemExponentialFailureRateLimiter | BucketRateLimiter) -> None:
        self.limiters = limiters

    def when(self, item: Hashable, now_ns: int) -> int:
        return max(limiter.when(item, now_ns) for limiter in self.limiters)

    def num_requeues(self, item: Hashable) -> int:
        return max(limiter.num_requeues(item) for limiter in self.limiters)

    def forget(self, item: Hashable) -> None:
        for limiter in self.limiters:
            limiter.forget(item)


def default_controller_rate_limiter() -> MaxOfRateLimiter:
    """workqueue.DefaultControllerRateLimiter: 5 ms doubling to 1000 s per item, and 10 qps
    with a burst of 100 overall."""
    return MaxOfRateLimiter(ItemExponentialFailureRateLimiter(), BucketRateLimiter(10, 100))
