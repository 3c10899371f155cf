"""Randomized fault schedules: the seed is the only input, so any failure replays.

Each schedule draws a cluster (3 or 5 voters, PreVote/CheckQuorum on or off, snapshots or
not), a degraded network (loss, duplication, reordering, latency) and a sequence of faults
(partitions, isolating or crashing the leader, crash/restart, leader transfer, membership
changes) while clients keep proposing and reading. A SafetyMonitor checks election safety, log
matching, leader completeness, apply order, state machine safety and the commit rule after
every Ready; once healed, the cluster must commit a command on every voter within 10 s.

Replay one seed: `python -c "from tests.etcd.test_raft_random import run_schedule as r; r(123)"`.
"""

from __future__ import annotations

import random

import pytest

from kube_teach.etcd.messages import ConfChange, ConfChangeType
from kube_teach.etcd.raft import StateType
from kube_teach.etcd.raft_harness import RaftHarness, SafetyMonitor, SafetyViolation
from kube_teach.sim import uniform

from .schedules import collect_per_schedule

Leader = StateType.StateLeader


def _degrade(h: RaftHarness, rng: random.Random) -> None:
    h.set_all_links(
        latency=uniform("1ms", rng.choice(["2ms", "10ms", "30ms"])),
        drop=rng.choice([0.0, 0.02, 0.1, 0.25]),
        duplicate=rng.choice([0.0, 0.05, 0.2]),
        reorder=rng.choice([0.0, 0.1, 0.3]),
        reorder_delay=uniform("1ms", rng.choice(["20ms", "300ms", "1500ms"])),
    )


def _fault(h: RaftHarness, rng: random.Random, spare: list[int]) -> None:
    ids = sorted(h.nodes)
    leader = h.leader()
    r = rng.random()
    if r < 0.2:
        shuffled = rng.sample(ids, len(ids))
        cut = rng.randint(1, len(ids) - 1)
        h.partition(shuffled[:cut], shuffled[cut:])
    elif r < 0.35:
        h.heal()
    elif r < 0.45 and leader is not None:
        h.disconnect(leader.id)
    elif r < 0.55 and leader is not None:
        h.crash(leader.id)
    elif r < 0.7:
        h.crash(rng.choice(ids))
    elif r < 0.85:
        for i in ids:
            if rng.random() < 0.7:
                h.restart(i)
    elif r < 0.9 and leader is not None and leader.raft.voters:
        leader.transfer_leader(rng.choice(leader.raft.voters))
    elif r < 0.93:
        _degrade(h, rng)
    elif leader is not None:
        _change_membership(h, rng, leader, spare)


def _change_membership(h: RaftHarness, rng: random.Random, leader, spare: list[int]) -> None:
    raft = leader.raft
    if raft.learners:
        cc = ConfChange(ConfChangeType.ConfChangeAddNode, raft.learners[0])  # promote
    elif spare and rng.random() < 0.5:
        node_id = spare.pop(0)
        h.add_node(node_id)
        cc = ConfChange(ConfChangeType.ConfChangeAddLearnerNode, node_id)
    elif len(raft.voters) > 3:
        cc = ConfChange(ConfChangeType.ConfChangeRemoveNode, rng.choice(raft.voters))
    else:
        return
    leader.propose_conf_change(cc)


def _client(h: RaftHarness, rng: random.Random, counter: list[int]) -> None:
    """Propose through a random running node (followers forward); read now and then."""
    up = h.up()
    if up:
        node = rng.choice(up)
        counter[0] += 1
        node.propose(b"v%d" % counter[0])
        if rng.random() < 0.2:
            node.read_index(b"r%d" % counter[0])
    h.clock.call_later(rng.uniform(0.01, 0.1), lambda: _client(h, rng, counter))


def run_schedule(seed: int, seconds: float = 8.0) -> RaftHarness:
    """Run one randomized schedule; raise (SafetyViolation or AssertionError) on failure."""
    rng = random.Random(f"schedule/{seed}")
    n = rng.choice([3, 3, 5])
    h = RaftHarness(
        n,
        seed=seed,
        pre_vote=rng.random() < 0.7,
        check_quorum=rng.random() < 0.8,
        snapshot_count=rng.choice([None, 3, 10]),
        catch_up_entries=rng.choice([0, 2, 5]),
        max_size_per_msg=rng.choice([0, 64, 1 << 20]),
        max_inflight_msgs=rng.choice([1, 4, 256]),
    )
    SafetyMonitor(h)
    if rng.random() < 0.6:
        _degrade(h, rng)
    spare = [n + 1, n + 2]
    _client(h, rng, [0])
    end = h.now + seconds
    while h.now < end:
        h.run(rng.uniform(0.1, 1.5))
        _fault(h, rng, spare)
    _settle(h, seed)
    return h


def _settle(h: RaftHarness, seed: int) -> None:
    """Heal everything; a leader must emerge and commit a command on all its voters."""
    h.heal()
    h.set_all_links(latency=uniform("1ms", "1ms"), drop=0.0, duplicate=0.0, reorder=0.0)
    for i in h.nodes:
        h.restart(i)
    cmd = b"final-%d" % seed

    def done() -> bool:
        leader = h.leader()
        if leader is None:
            return False
        voters = [h.nodes[v] for v in leader.raft.voters if v in h.nodes]
        return all(cmd in v.sm.values() for v in voters)

    deadline = h.now + 10
    while h.now < deadline and not done():
        h.start(cmd)
        h.run_until(done, 1)
    assert done(), f"no progress within 10 s after healing; leaders={h.leaders()}"


def _run_batch(seeds: range, seconds: float) -> None:
    with collect_per_schedule() as collect:
        for seed in seeds:
            try:
                run_schedule(seed, seconds)
            except (SafetyViolation, AssertionError) as e:
                raise AssertionError(
                    f'seed {seed} failed: {e}\nreplay: python -c "from tests.etcd.'
                    f'test_raft_random import run_schedule as r; r({seed}, {seconds})"'
                ) from e
            collect()


@pytest.mark.parametrize("batch", range(20))
def test_random_fault_schedules(batch):
    """1,000 schedules of 8 simulated seconds each, in 20 batches of 50 seeds."""
    _run_batch(range(batch * 50, batch * 50 + 50), 8.0)


@pytest.mark.slow
@pytest.mark.parametrize("batch", range(50))
def test_random_fault_schedules_long(batch, request):
    """10,000 longer schedules (30 s each). Run with `pytest -m slow`."""
    expr = request.config.getoption("markexpr") or ""
    if "slow" not in expr or "not slow" in expr:
        pytest.skip("long randomized run: select it with -m slow")
    _run_batch(range(100_000 + batch * 200, 100_000 + batch * 200 + 200), 30.0)


def test_the_monitor_catches_a_broken_commit_rule(monkeypatch):
    """The schedules can fail: with leaders committing old-term entries by counting
    replicas (the bug Figure 8 warns about), some seed must trip the monitor."""
    from kube_teach.etcd import log as raft_log

    def counting_commit(self, index, term):
        if index > self.committed:
            self.commit_to(index)
            return True
        return False

    monkeypatch.setattr(raft_log.RaftLog, "maybe_commit", counting_commit)
    with pytest.raises(AssertionError, match="commit rule|state machine safety|completeness"):
        _run_batch(range(200), 8.0)


def test_the_monitor_catches_a_vote_without_the_up_to_date_check(monkeypatch):
    from kube_teach.etcd import log as raft_log

    monkeypatch.setattr(raft_log.RaftLog, "is_up_to_date", lambda self, i, t: True)
    with pytest.raises(AssertionError, match="completeness|state machine safety|log matching"):
        _run_batch(range(200), 8.0)


def test_schedules_are_deterministic():
    assert run_schedule(4242).trace.text() == run_schedule(4242).trace.text()
