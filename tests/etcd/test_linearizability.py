"""Linearizability under faults (raft_tests.md section I, items 73 to 75).

First the checker itself, on small histories with a known answer (it must reject what is not
linearizable). Then seeded fault schedules: a 5-member EtcdCluster, five clients issuing puts,
linearizable gets, deletes and Kubernetes-style CAS transactions over five keys, while a nemesis
partitions (majority/minority, leader isolation, bridges), crashes and restarts members, and makes
links lose, duplicate and reorder messages. Every history must be linearizable, a watch held
through the faults must see exactly the history (ordered, unique, no gaps, right prev_kv), and
Raft's safety monitor must stay quiet. A schedule's seed is its only input.

Replay one: `python -c "from tests.etcd.test_linearizability import run_schedule as r; r(17)"`.
"""

from __future__ import annotations

import random

import pytest

from kube_teach.etcd import EtcdCluster
from kube_teach.etcd.errors import EtcdError
from kube_teach.etcd.raft_harness import SafetyMonitor
from kube_teach.sim import uniform

from .linearizability import INF, Op, check, check_single, describe
from .schedules import collect_per_schedule

# -- the checker -----------------------------------------------------------------------------------


def put(v, call, ret, rev, c=0):
    return Op(c, "k", "put", v, call, ret, rev)


def get(v, rev, call, ret, c=0):
    return Op(c, "k", "get", None, call, ret, (v, rev))


def cas(expected, v, call, ret, out, c=0):
    return Op(c, "k", "cas", (expected, v), call, ret, out)


def delete(n, call, ret, c=0):
    """`n` None: a delete whose outcome is unknown (then `ret` is INF)."""
    return Op(c, "k", "delete", None, call, ret, n)


@pytest.mark.parametrize(
    ("history", "ok"),
    [
        pytest.param([], True, id="an empty history is linearizable"),
        pytest.param(
            [put("a", 0, 1, 2), get("a", 2, 2, 3), put("b", 4, 5, 3), get("b", 3, 6, 7)],
            True,
            id="a sequential history that reads its writes",
        ),
        pytest.param(
            [put("a", 0, 1, 2), put("b", 2, 3, 3), get("a", 2, 4, 5)],
            False,
            id="a stale read after a later write completed",
        ),
        pytest.param(
            [put("a", 0, 10, 2), get("a", 2, 1, 2), get(None, 0, 3, 4)],
            False,
            id="once a concurrent write is seen it cannot be unseen",
        ),
        pytest.param(
            [put("a", 0, 10, 2), get(None, 0, 1, 2), get("a", 2, 3, 4)],
            True,
            id="a read concurrent with a write may see either value",
        ),
        pytest.param(
            [put("a", 0, INF, None), get(None, 0, 1, 2), get("a", 5, 5, 6)],
            True,
            id="a timed-out write may take effect later",
        ),
        pytest.param(
            [put("a", 0, INF, None), get(None, 0, 1, 2)],
            True,
            id="a timed-out write may never take effect",
        ),
        pytest.param(
            [put("a", 0, INF, None), get("a", 7, 1, 2), get(None, 0, 3, 4)],
            False,
            id="a timed-out write cannot take effect twice",
        ),
        pytest.param(
            [put("a", 0, 1, 5), put("b", 2, 3, 4)],
            False,
            id="a later write cannot get a lower revision",
        ),
        pytest.param(
            [put("a", 0, 1, 2), get("a", 3, 2, 3)],
            False,
            id="a read must report the write's mod revision",
        ),
        pytest.param(
            [cas(0, "a", 0, 1, (True, 2)), cas(0, "b", 2, 3, (True, 3))],
            False,
            id="two creates cannot both succeed",
        ),
        pytest.param(
            [cas(0, "a", 0, 1, (True, 2)), cas(0, "b", 0, 3, (False, ("a", 2)))],
            True,
            id="a create loses to a concurrent create and reads the winner",
        ),
        pytest.param(
            [put("a", 0, 1, 2), cas(2, "b", 2, 3, (False, ("a", 2)))],
            False,
            id="a CAS whose compare held cannot fail",
        ),
        pytest.param(
            [put("a", 0, 1, 2), cas(2, "b", 2, INF, None), get("a", 2, 4, 5), get("b", 3, 6, 7)],
            True,
            id="a timed-out CAS may succeed late",
        ),
        pytest.param(
            [put("a", 0, 1, 2), delete(1, 2, 3), delete(1, 4, 5)],
            False,
            id="a key cannot be deleted twice",
        ),
        pytest.param(
            [put("a", 0, 1, 2), delete(None, 2, INF), get("a", 2, 4, 5), get(None, 0, 6, 7)],
            True,
            id="a timed-out delete may land between two reads",
        ),
    ],
)
def test_checker(history, ok):
    assert check_single(history) is ok


def test_checker_handles_concurrent_bursts_quickly():
    """Many overlapping writes and reads with unknown outcomes stay cheap thanks to the cache."""
    rng = random.Random(1)
    ops, rev = [], 1
    for i in range(60):
        rev += 1
        ops.append(put(f"v{i}", i, i + 3, rev, c=i % 5))
        if rng.random() < 0.2:
            ops.append(put(f"x{i}", i, INF, None, c=9))
    ops.append(get(f"v{59}", rev, 100, 101))
    assert check_single(ops)


# -- the nemesis -------------------------------------------------------------------------------------

KEYS = ("k0", "k1", "k2", "k3", "k4")
CLEAN = dict(latency=uniform("1ms", "1ms"), drop=0.0, duplicate=0.0, reorder=0.0)
CLIENTS = 5


class Workload:
    """Clients that keep issuing operations, and the history they record."""

    def __init__(self, cluster: EtcdCluster, rng: random.Random) -> None:
        self.cluster = cluster
        self.rng = rng
        self.ops: list[Op] = []
        self.stopped = False
        self.clients = [cluster.client(name=f"lin-{i}", timeout="3s") for i in range(CLIENTS)]
        self.last_rev = {(i, k): 0 for i in range(CLIENTS) for k in KEYS}
        self.counter = 0
        for i in range(CLIENTS):
            cluster.clock.call_later(rng.uniform(0, 0.05), lambda i=i: self.next(i))

    def now(self) -> float:
        return self.cluster.clock.now_ns / 1e9

    def next(self, i: int) -> None:
        if self.stopped:
            return
        rng, client = self.rng, self.clients[i]
        key = rng.choice(KEYS)
        r = rng.random()
        self.counter += 1
        value = f"c{i}-{self.counter}"
        if r < 0.35:
            op = Op(i, key, "put", value, self.now())
            fut = client.put_async(key, value)
        elif r < 0.7:
            op = Op(i, key, "get", None, self.now())
            fut = client.get_async(key)
        elif r < 0.8:
            op = Op(i, key, "delete", None, self.now())
            fut = client.delete_async(key)
        else:
            expected = self.last_rev[i, key]
            op = Op(i, key, "cas", (expected, value), self.now())
            fut = client.txn_async(
                [("mod", key, "=", expected)], [("put", key, value)], [("get", key)]
            )
        fut.add_done_callback(lambda f, op=op: self.done(i, op, f))

    def done(self, i: int, op: Op, fut) -> None:
        err = fut.exception()
        if err is None:
            op.ret = self.now()
            op.out = self.outcome(op, fut.result())
            self.ops.append(op)
        elif op.kind != "get":
            self.ops.append(op)  # a failed write may still happen: outcome unknown
        delay = self.rng.uniform(0, 0.05)
        self.cluster.clock.call_later(delay, lambda: self.next(i))

    def outcome(self, op: Op, resp: dict):
        key = op.key
        if op.kind == "put":
            self.last_rev[op.client, key] = resp["header"]["revision"]
            return resp["header"]["revision"]
        if op.kind == "get":
            kvs = resp["kvs"]
            got = (kvs[0]["value"], kvs[0]["mod_revision"]) if kvs else (None, 0)
            self.last_rev[op.client, key] = got[1]
            return got
        if op.kind == "delete":
            return resp["deleted"]
        if resp["succeeded"]:
            self.last_rev[op.client, key] = resp["header"]["revision"]
            return (True, resp["header"]["revision"])
        kvs = resp["responses"][0]["response_range"]["kvs"]
        got = (kvs[0]["value"], kvs[0]["mod_revision"]) if kvs else (None, 0)
        self.last_rev[op.client, key] = got[1]
        return (False, got)


def _degrade(cluster: EtcdCluster, rng: random.Random) -> None:
    """Give every link (members and clients) a random latency, loss, duplication, reordering."""
    settings = dict(
        latency=uniform("1ms", rng.choice(["2ms", "10ms", "30ms"])),
        drop=rng.choice([0.0, 0.01, 0.05, 0.1]),
        duplicate=rng.choice([0.0, 0.05, 0.2]),
        reorder=rng.choice([0.0, 0.1, 0.3]),
        reorder_delay=uniform("1ms", rng.choice(["20ms", "300ms"])),
    )
    _set_links(cluster, settings)


def _set_links(cluster: EtcdCluster, settings: dict) -> None:
    cluster.links = settings  # remembered, so that healing a bridge restores them
    names = list(cluster.network.hosts)
    for a in names:
        for b in names:
            if a != b:
                cluster.network.set_link(a, b, both_ways=False, **settings)


def _bridge(cluster: EtcdCluster, rng: random.Random) -> None:
    """Two sides that only one member (the bridge) reaches: A-B-C chains for 3 and 5."""
    names = rng.sample(list(cluster.members), len(cluster.members))
    bridge, rest = names[0], names[1:]
    left, right = rest[: len(rest) // 2], rest[len(rest) // 2 :]
    for a in left:
        for b in right:
            cluster.network.set_link(a, b, drop=1.0)
    _ = bridge


def _nemesis(cluster: EtcdCluster, rng: random.Random) -> None:
    names = list(cluster.members)
    leader = cluster.leader()
    r = rng.random()
    if r < 0.2:
        shuffled = rng.sample(names, len(names))
        cut = rng.randint(1, len(names) - 1)
        cluster.partition(shuffled[:cut], shuffled[cut:])
    elif r < 0.35:
        cluster.heal()
        _set_links(cluster, getattr(cluster, "links", CLEAN))
    elif r < 0.45 and leader is not None:
        cluster.isolate(leader.name)
    elif r < 0.55 and leader is not None:
        cluster.crash(leader.name)
    elif r < 0.65:
        cluster.crash(rng.choice(names))
    elif r < 0.8:
        for n in names:
            if rng.random() < 0.7:
                cluster.restart(n)
    elif r < 0.88:
        _degrade(cluster, rng)
    elif r < 0.94:
        _bridge(cluster, rng)
    elif leader is not None and leader.raft is not None:
        target = rng.choice([v for v in leader.raft.voters if v != leader.id] or [leader.id])
        leader.raft.transfer_leader(target)
        leader._drain()


def run_schedule(seed: int, seconds: float = 6.0) -> list[Op]:
    """One seeded schedule; raises AssertionError (or SafetyViolation) on a violation."""
    rng = random.Random(f"linearizability/{seed}")
    cluster = EtcdCluster(5, seed=seed)
    SafetyMonitor(cluster)
    cluster.wait_for_leader()
    # a watch of everything from revision 1, held through the faults (item 74): it must end
    # up with exactly the history a fresh watch reads afterwards
    live = cluster.client(name="lin-watch", timeout="3s").watch(
        "\0", from_key=True, start_revision=1, prev_kv=True
    )
    if rng.random() < 0.6:
        _degrade(cluster, rng)
    work = Workload(cluster, rng)
    end = cluster.now + seconds
    while cluster.now < end:
        cluster.run(rng.uniform(0.2, 1.5))
        _nemesis(cluster, rng)
    # heal everything and let in-flight calls finish (their deadlines are 3 s)
    cluster.heal()
    _set_links(cluster, CLEAN)
    for n in cluster.members:
        cluster.restart(n)
    work.stopped = True
    cluster.run(4)
    final = cluster.client(name="lin-final", timeout="10s")
    for key in KEYS:
        for _ in range(5):
            try:
                start = cluster.now
                resp = final.get(key)
                kvs = resp["kvs"]
                got = (kvs[0]["value"], kvs[0]["mod_revision"]) if kvs else (None, 0)
                work.ops.append(Op(99, key, "get", None, start, cluster.now, got))
                break
            except EtcdError:
                cluster.run(1)
        else:
            raise AssertionError(f"no final read of {key} succeeded after healing")
    ops = _resolve(cluster, final, work.ops, live)
    ok, bad_key = check(ops)
    if not ok:
        raise AssertionError(
            f"history of {bad_key!r} is not linearizable:\n{describe(ops, bad_key)}"
        )
    return ops


def _events(watcher) -> list[tuple]:
    return [
        (e["type"], e["kv"]["key"], e["kv"]["mod_revision"], e["kv"]["value"])
        + ((e["prev_kv"] or {}).get("value"),)
        for e in watcher.events
    ]


def _resolve(cluster: EtcdCluster, client, ops: list[Op], live) -> list[Op]:
    """Settle writes whose outcome the client never learned, as etcd's robustness tests do:
    a watch of the whole keyspace from revision 1 (nothing is compacted here) shows every
    write that happened, once, at its revision. A put or CAS whose unique value never appears
    did not happen and is dropped; one that appears gets its revision (its completion time
    stays unknown). Deletes stay unknown: their events do not say whose they were."""
    current = client.get("\0", from_key=True, count_only=True)["header"]["revision"]
    w = client.watch("\0", from_key=True, start_revision=1, prev_kv=True)
    cluster.run_until(lambda: w.header_revision >= current and w.created, 30)
    cluster.run(0.5)
    # the live watch may need a keepalive round or two to notice a broken stream and resume
    cluster.run_until(lambda: live.next_rev > current, 30)
    got, want = _events(live), _events(w)
    if got != want:
        diff = next(
            (i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b),
            min(len(got), len(want)),
        )
        raise AssertionError(
            f"the live watch (resumed {live.resumes} times) differs from the history at event "
            f"{diff}: {got[diff : diff + 3]} != {want[diff : diff + 3]}"
        )
    written: dict[str, int] = {}
    last = 0
    for ev in w.events:
        rev = ev["kv"]["mod_revision"]
        assert rev > last, f"watch events out of order: {rev} after {last}"
        last = rev
        if ev["type"] == "PUT":
            value = ev["kv"]["value"]
            assert value not in written, f"value {value!r} was written twice"
            written[value] = rev
    assert last == current, f"the watch stopped at {last}, the store is at {current}"
    w.cancel()
    out = []
    for op in ops:
        if op.out is None and op.kind in ("put", "cas"):
            value = op.arg if op.kind == "put" else op.arg[1]
            if value not in written:
                continue
            op.out = written[value] if op.kind == "put" else (True, written[value])
        out.append(op)
    return out


def _run_batch(seeds: range, seconds: float) -> int:
    total = 0
    with collect_per_schedule() as collect:
        for seed in seeds:
            try:
                total += len(run_schedule(seed, seconds))
            except AssertionError as e:
                raise AssertionError(
                    f'seed {seed} failed: {e}\nreplay: python -c "from tests.etcd.'
                    f'test_linearizability import run_schedule as r; r({seed}, {seconds})"'
                ) from e
            collect()
    return total


@pytest.mark.parametrize("batch", range(50))
def test_histories_under_faults_are_linearizable(batch):
    """1,000 schedules of 6 simulated seconds each, in 50 batches of 20 seeds."""
    assert _run_batch(range(batch * 20, batch * 20 + 20), 6.0) > 0


@pytest.mark.slow
@pytest.mark.parametrize("batch", range(50))
def test_histories_under_faults_are_linearizable_long(batch):
    """10,000 longer schedules (20 s each). Run with `pytest -m slow`."""
    _run_batch(range(100_000 + batch * 200, 100_000 + batch * 200 + 200), 20.0)


def test_the_checker_catches_reads_served_without_read_index(monkeypatch):
    """Negative control (item 75): members that answer "linearizable" reads from local state
    without ReadIndex must be caught within a few seeds."""
    from kube_teach.etcd.v3_server import V3Server

    monkeypatch.setattr(V3Server, "linearizable_read", lambda self, done: done(None))
    with pytest.raises(AssertionError, match="not linearizable"):
        _run_batch(range(40), 6.0)


def test_schedules_are_deterministic():
    a = [str(op) for op in run_schedule(7)]
    b = [str(op) for op in run_schedule(7)]
    assert a == b
