"""How fast the simulation kernel runs: simulated events per wall-clock second, on one core.

    python benchmarks/sim_kernel.py            # full sizes, as recorded in benchmarks/README.md
    python benchmarks/sim_kernel.py --quick    # a smoke run

Wall-clock time is read here, at the edge, never inside the simulation.
"""

from __future__ import annotations

import argparse
import platform
import time

from kube_teach.sim import Clock, Link, Network, Seeds, uniform


def trivial_events(n: int) -> float:
    """n one-shot timers at spread-out times, each a no-op callback."""
    clock = Clock()
    noop = lambda: None  # noqa: E731
    for i in range(n):
        clock.call_at(i * 1000 % 9_999_991, noop)
    start = time.perf_counter()
    ran = clock.run()
    elapsed = time.perf_counter() - start
    assert ran == n
    return n / elapsed


def chained_events(n: int) -> float:
    """Each event schedules the next: the heap stays small, as in a quiet simulation."""
    clock = Clock()
    left = [n]

    def step() -> None:
        left[0] -= 1
        if left[0]:
            clock.call_later("1ms", step)

    clock.call_later(0, step)
    start = time.perf_counter()
    clock.run()
    return n / (time.perf_counter() - start)


def periodic_timers(timers: int, seconds: int) -> float:
    """Many periodic tickers (like kubelets and heartbeats) over a span of simulated time."""
    clock = Clock()
    for i in range(timers):
        clock.every(f"{100 + i % 50}ms", lambda: None)
    start = time.perf_counter()
    ran = clock.run(seconds)
    return ran / (time.perf_counter() - start)


def network_messages(n: int) -> float:
    """Messages through the network with jitter and 1% loss; each delivery is one event."""
    clock = Clock()
    net = Network(clock, Seeds(0), None, Link(latency=uniform("1ms", "5ms"), drop=0.01))
    got = [0]
    names = [f"h{i}" for i in range(10)]
    for name in names:
        net.add_host(name, lambda src, msg: got.__setitem__(0, got[0] + 1))
    start = time.perf_counter()
    for i in range(n):
        net.send(names[i % 10], names[(i * 7 + 1) % 10], i)
    clock.run()
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    print(f"python {platform.python_version()} on {platform.machine()}")
    rows = [
        ("trivial one-shot events", trivial_events(1_000_000 // scale)),
        ("chained events (small heap)", chained_events(1_000_000 // scale)),
        ("periodic timers (1,000 tickers, 60 s)", periodic_timers(1000, 60 // scale or 1)),
        ("network messages (jitter, 1% loss)", network_messages(200_000 // scale)),
    ]
    for name, rate in rows:
        print(f"{name:40s} {rate:>12,.0f} events/s")


if __name__ == "__main__":
    main()
