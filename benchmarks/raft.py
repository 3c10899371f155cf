"""How fast the simulated etcd commits writes: a 5-member EtcdCluster, one client keeping a window
of puts in flight, 1 % loss on every member-to-member link, until 100,000 puts are committed and
applied on all five members. Reports committed puts per wall-clock second (and, as a
cross-check on a shared machine, per second of this process's CPU time) and peak memory.

    python benchmarks/raft.py              # 100,000 puts, as recorded in benchmarks/README.md
    python benchmarks/raft.py --quick      # 10,000 puts, a smoke run
    python benchmarks/raft.py --heap       # also a second, untimed run under tracemalloc

Proposals that reach a member together go to Raft as one MsgProp, so one append, one Ready and
one MsgApp per follower carry the whole batch, as etcd's raft node batches them. Wall-clock time
is read here, at the edge, never inside the simulation.
"""

from __future__ import annotations

import argparse
import gc
import platform
import resource
import time
import tracemalloc
from typing import Any

from kube_teach.etcd import EtcdCluster
from kube_teach.etcd.messages import Message, MsgApp
from kube_teach.etcd.raft import Raft
from kube_teach.sim import Clock, Trace

MEMBERS = 5


def run(puts: int, window: int, loss: float, *, gc_off: bool = False) -> dict[str, Any]:
    """Commit `puts` puts with `window` in flight; returns the measurements."""
    clock = Clock()
    cluster = EtcdCluster(MEMBERS, seed=0, clock=clock, trace=Trace(clock, enabled=False))
    names = list(cluster.members)
    for a in names:
        for b in names:
            if a != b:
                cluster.network.set_link(a, b, both_ways=False, drop=loss)
    cluster.wait_for_leader()
    client = cluster.client()
    client.put("warm-up", "x")
    base_rev = cluster.leader().store.current_rev

    apps = [0, 0]  # MsgApps with entries, entries carried
    raft_send = Raft._send

    def counting_send(raft: Raft, msg: Message) -> None:
        # counted where Raft emits messages, not on the network: a wrapper there would also
        # run for every client call and reply, and weigh on what is measured
        if type(msg) is MsgApp and msg.entries:
            apps[0] += 1
            apps[1] += len(msg.entries)
        raft_send(raft, msg)

    Raft._send = counting_send  # type: ignore[method-assign]
    state = {"sent": 0, "done": 0, "errors": 0}
    value = "v" * 32

    def issue() -> None:
        i = state["sent"]
        state["sent"] += 1
        client.put_async(f"/registry/bench/key-{i % 10_000:05d}", value).add_done_callback(done)

    def done(fut: Any) -> None:
        state["done"] += 1
        if fut.exception() is not None:
            state["errors"] += 1
        if state["sent"] < puts:
            issue()

    gc.collect()
    if gc_off:
        gc.freeze()
        gc.disable()
    sim_start = clock.now
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(min(window, puts)):
        issue()
    target = base_rev + puts

    def applied_everywhere() -> bool:
        return state["done"] >= puts and all(
            m.store.current_rev >= target for m in cluster.members.values()
        )

    try:
        clock.run_until(applied_everywhere, 3600)
    finally:
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu_start
        Raft._send = raft_send  # type: ignore[method-assign]
    if gc_off:
        gc.enable()
        gc.unfreeze()
    revs = {m.store.current_rev for m in cluster.members.values()}
    assert state["errors"] == 0 and revs == {target}, (state, revs)
    return {
        "puts": puts,
        "seconds": elapsed,
        "puts_per_s": puts / elapsed,
        "cpu_seconds": cpu,
        "puts_per_cpu_s": puts / cpu,
        "sim_seconds": clock.now - sim_start,
        "entries_per_msgapp": apps[1] / max(apps[0], 1),
        "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "network": dict(cluster.network.stats),
    }


def heap_peak(puts: int, window: int, loss: float) -> float:
    """Peak Python heap (MiB) of the same run under tracemalloc (slower; not timed)."""
    tracemalloc.start()
    run(puts, window, loss)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 puts instead of 100,000")
    parser.add_argument("--puts", type=int, default=None)
    parser.add_argument("--window", type=int, default=1000, help="puts in flight")
    parser.add_argument("--loss", type=float, default=0.01, help="member-to-member loss")
    parser.add_argument("--heap", action="store_true", help="also measure the Python heap peak")
    args = parser.parse_args()
    puts = args.puts or (10_000 if args.quick else 100_000)
    print(f"Python {platform.python_version()} on {platform.machine()}")
    print(f"{MEMBERS} members, {puts:,} puts, window {args.window}, loss {args.loss:.0%}")
    for label, gc_off in (("default GC", False), ("GC off during the run", True)):
        r = run(puts, args.window, args.loss, gc_off=gc_off)
        print(
            f"  {label:22s} {r['puts_per_s']:9,.0f} committed puts/s  "
            f"({r['seconds']:.2f} s wall, {r['puts_per_cpu_s']:,.0f} puts per CPU second, "
            f"{r['sim_seconds']:.2f} s simulated, "
            f"{r['entries_per_msgapp']:.0f} entries per MsgApp, "
            f"max RSS {r['max_rss_mib']:.0f} MiB)"
        )
    if args.heap:
        print(
            f"  peak Python heap (tracemalloc run): {heap_peak(puts, args.window, args.loss):.0f} MiB"
        )


if __name__ == "__main__":
    main()
