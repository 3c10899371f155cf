"""A simulated network of hosts: latency, loss, duplication, reordering, partitions, crashes.

Components never call each other directly; they `send` messages that arrive later, or never. A
host that crashes loses its timers and in-flight work (its volatile state) and keeps its `disk`
(persisted state), as a machine that reboots keeps what it fsynced.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from random import Random
from typing import Any

from .clock import Clock, Timer
from .duration import to_ns
from .seeds import Seeds
from .trace import Trace

Distribution = Callable[[Random], int]
"""Draws one latency, in nanoseconds, from a random stream."""


def constant(d: int | float | str) -> Distribution:
    """Always the same delay."""
    ns = to_ns(d)
    return lambda rng: ns


def uniform(lo: int | float | str, hi: int | float | str) -> Distribution:
    """Uniform between `lo` and `hi`, inclusive."""
    a, b = to_ns(lo), to_ns(hi)
    if b < a:
        return lambda rng: rng.randint(a, b)  # raises as randint does
    width = b - a + 1
    bits = width.bit_length()

    def draw(rng: Random) -> int:
        # rng.randint(a, b), drawing the same bits (rejection sampling on `bits`-bit
        # numbers), without its argument checks: one draw per message delivered
        r = rng.getrandbits(bits)
        while r >= width:
            r = rng.getrandbits(bits)
        return a + r

    return draw


def exponential(mean: int | float | str, minimum: int | float | str = 0) -> Distribution:
    """`minimum` plus an exponential tail with the given mean: most fast, a few slow."""
    m, floor = to_ns(mean), to_ns(minimum)
    return lambda rng: floor + round(rng.expovariate(1 / m)) if m else floor


def lognormal(median: int | float | str, sigma: float = 0.5) -> Distribution:
    """Log-normal around `median`: the long-tailed shape real network latencies have."""
    mu = math.log(max(to_ns(median), 1))
    return lambda rng: round(rng.lognormvariate(mu, sigma))


@dataclass(frozen=True)
class Link:
    """How messages fare on one directed link. Probabilities are per message."""

    latency: Distribution = field(default_factory=lambda: constant("1ms"))
    drop: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    reorder_delay: Distribution = field(default_factory=lambda: uniform("1ms", "10ms"))


class Host:
    """A machine on the network: receives messages while up; its timers die with a crash."""

    def __init__(self, net: Network, name: str, receive: Callable[[str, Any], None] | None):
        self.net = net
        self.name = name
        self.receive = receive
        # ids for the requests of every client process on this machine, so that each reply
        # finds its client (a kubelet and kube-proxy share a node)
        self.request_ids = itertools.count(1)
        self.up = True
        self.incarnation = 0
        self.disk: dict[str, Any] = {}  # survives crash and restart
        self.on_crash: list[Callable[[], None]] = []
        self.on_restart: list[Callable[[], None]] = []

    def call_later(self, delay: int | float | str, fn: Callable[[], object]) -> Timer:
        """A timer that fires only if this host has not crashed since it was set."""
        return self.net.clock.call_later(delay, self._guard(fn))

    def every(self, interval: int | float | str, fn: Callable[[], object], **kw: Any) -> Timer:
        """A periodic timer that stops for good when this host crashes."""
        incarnation = self.incarnation
        holder: list[Timer] = []

        def tick() -> None:
            if self.incarnation != incarnation or not self.up:
                holder[0].cancel()
                return
            fn()

        holder.append(self.net.clock.every(interval, tick, **kw))
        return holder[0]

    def _guard(self, fn: Callable[[], object]) -> Callable[[], None]:
        incarnation = self.incarnation

        def run() -> None:
            if self.up and self.incarnation == incarnation:
                fn()

        return run

    def send(self, dst: str, msg: Any) -> None:
        self.net.send(self.name, dst, msg)

    def __repr__(self) -> str:
        return f"<Host {self.name} {'up' if self.up else 'down'}>"


class Network:
    """Hosts joined by links; delivers messages on the simulated clock with seeded faults."""

    def __init__(
        self,
        clock: Clock,
        seeds: Seeds,
        trace: Trace | None = None,
        default: Link | None = None,
    ) -> None:
        self.clock = clock
        self.rng = seeds.stream("network")
        self.trace = trace
        self.default = default or Link()
        self.hosts: dict[str, Host] = {}
        self._links: dict[tuple[str, str], Link] = {}
        self._group: dict[str, int] = {}  # host -> partition side; absent = reaches everyone
        self.trace_messages = False
        self.stats = {"sent": 0, "delivered": 0, "dropped": 0, "duplicated": 0}

    # -- topology ------------------------------------------------------------------------------
    def add_host(self, name: str, receive: Callable[[str, Any], None] | None = None) -> Host:
        """Register a host; `receive(src, msg)` is called for each message delivered to it."""
        if name in self.hosts:
            raise ValueError(f"host {name!r} already exists")
        host = self.hosts[name] = Host(self, name, receive)
        return host

    def set_link(self, a: str, b: str, *, both_ways: bool = True, **changes: Any) -> None:
        """Change how messages from `a` to `b` (and back, unless `both_ways=False`) fare.

        Keys are Link's fields; `latency` also accepts a duration (`"5ms"`) for a constant.
        """
        if isinstance(changes.get("latency"), int | float | str):
            changes["latency"] = constant(changes["latency"])
        for src, dst in ((a, b), (b, a)) if both_ways else ((a, b),):
            self._links[src, dst] = replace(self._links.get((src, dst), self.default), **changes)

    def link(self, src: str, dst: str) -> Link:
        return self._links.get((src, dst), self.default)

    # -- faults --------------------------------------------------------------------------------
    def partition(self, *groups: Iterable[str]) -> None:
        """Split the named hosts into groups that cannot reach each other.

        `partition({"a", "b"}, {"c"})`: a and b talk, c is cut off from both. Hosts not named
        keep reaching everyone. Replaces any earlier partition; messages already in flight
        across the cut are lost.
        """
        self._group = {}
        for i, group in enumerate(groups):
            for name in sorted(group):
                if name not in self.hosts:
                    raise KeyError(f"no host named {name!r}")
                self._group[name] = i
        if self.trace is not None:
            sides = " | ".join(" ".join(sorted(g)) for g in groups)
            self.trace.emit("network", "partition", sides=sides)

    def isolate(self, name: str) -> None:
        """Cut one host off from every other host."""
        others = sorted(n for n in self.hosts if n != name)
        self.partition({name}, others)

    def heal(self) -> None:
        """Remove every partition."""
        self._group = {}
        if self.trace is not None:
            self.trace.emit("network", "heal")

    def reachable(self, src: str, dst: str) -> bool:
        """True when no partition separates `src` from `dst` (whether both are up aside)."""
        group = self._group
        if not group:
            return True
        g1, g2 = group.get(src), group.get(dst)
        return g1 is None or g2 is None or g1 == g2

    def crash(self, name: str) -> None:
        """Stop a host: its timers and in-flight deliveries die, its `disk` is kept."""
        host = self.hosts[name]
        if not host.up:
            return
        host.up = False
        host.incarnation += 1
        if self.trace is not None:
            self.trace.emit(name, "crashed")
        for fn in list(host.on_crash):
            fn()

    def restart(self, name: str) -> None:
        """Start a crashed host again from its `disk`."""
        host = self.hosts[name]
        if host.up:
            return
        host.up = True
        if self.trace is not None:
            self.trace.emit(name, "restarted")
        for fn in list(host.on_restart):
            fn()

    # -- delivery ------------------------------------------------------------------------------
    def send(self, src: str, dst: str, msg: Any) -> None:
        """Put `msg` on the wire from `src` to `dst`; it arrives after the link's latency."""
        stats = self.stats
        stats["sent"] += 1
        sender = self.hosts.get(src)
        if sender is not None and not sender.up:
            self._drop(src, dst, msg, "sender down")
            return
        group = self._group
        if group and not self.reachable(src, dst):
            self._drop(src, dst, msg, "partitioned")
            return
        link = self._links.get((src, dst), self.default)
        rng = self.rng
        if link.drop and rng.random() < link.drop:
            self._drop(src, dst, msg, "lost")
            return
        if link.duplicate and rng.random() < link.duplicate:
            stats["duplicated"] += 1
            copies = 2
        else:
            copies = 1
        for _ in range(copies):
            delay = link.latency(rng)
            if link.reorder and rng.random() < link.reorder:
                delay += link.reorder_delay(rng)
            self._schedule(src, dst, msg, delay if delay > 0 else 0)

    def _schedule(self, src: str, dst: str, msg: Any, delay: int) -> None:
        target = self.hosts.get(dst)
        incarnation = target.incarnation if target is not None else 0

        def deliver() -> None:
            host = self.hosts.get(dst)
            if host is None or not host.up or host.incarnation != incarnation:
                self._drop(src, dst, msg, "receiver down")
                return
            if self._group and not self.reachable(src, dst):
                self._drop(src, dst, msg, "partitioned")
                return
            self.stats["delivered"] += 1
            if self.trace_messages and self.trace is not None:
                self.trace.emit("network", "deliver", src=src, dst=dst, msg=type(msg).__name__)
            if host.receive is not None:
                host.receive(src, msg)

        # clock.call_at(now + delay, deliver) without its checks: one of these per message
        clock = self.clock
        when = clock.now_ns + delay
        heapq.heappush(clock._heap, (when, next(clock._seq), Timer(clock, when, deliver)))

    def _drop(self, src: str, dst: str, msg: Any, why: str) -> None:
        self.stats["dropped"] += 1
        if self.trace_messages and self.trace is not None:
            self.trace.emit("network", "drop", src=src, dst=dst, msg=type(msg).__name__, why=why)
