"""EtcdMember, the host around one Raft core and one MVCC store: what it persists and when, how
requests become entries, what it applies, and the etcd server duties it has (quota, leases,
snapshots, membership, status). Scenarios for the whole cluster are in test_cluster.py.
"""

from __future__ import annotations

import json

import pytest

from kube_teach.etcd import EtcdCluster
from kube_teach.etcd.errors import (
    ERR_NO_SPACE,
    ERR_TIMEOUT,
    ERR_TIMEOUT_DUE_TO_CONNECTION_LOST,
    ERR_TIMEOUT_DUE_TO_LEADER_FAIL,
    EtcdError,
)
from kube_teach.etcd.membership import CLUSTER_TOKEN, compute_cluster_id, compute_member_id
from kube_teach.etcd.messages import EntryType, Message, MsgApp, MsgVoteResp
from kube_teach.etcd.raft_harness import SafetyMonitor
from kube_teach.etcd.rpc import EntryCodec, encode_request

SECOND = 1_000_000_000


def make(members: int = 3, seed: int = 0, **options) -> EtcdCluster:
    c = EtcdCluster(members, seed=seed, **options)
    SafetyMonitor(c)
    lead = c.wait_for_leader()
    c.run_until(lambda: all(m.client_urls for m in lead.cluster.members.values()), 5)
    return c


def records(member) -> list:
    return sorted(
        (rev, rec.key, rec.value, rec.tombstone)
        for rev, rec in member.store.backend.records.items()
    )


# -- identity --------------------------------------------------------------------------------------


def test_member_and_cluster_ids_are_derived_as_etcd_derives_them():
    # etcd's single default member: http://localhost:2380 with token etcd-cluster
    default = compute_member_id(["http://localhost:2380"], CLUSTER_TOKEN)
    assert f"{default:x}" == "8e9e05c52164694d"
    assert f"{compute_cluster_id([default]):x}" == "cdf818194e3a8c32"
    c = EtcdCluster(3, seed=0)
    for name, m in c.members.items():
        assert m.id == compute_member_id([f"http://{name}:2380"], CLUSTER_TOKEN)
        assert m.cluster.cluster_id == compute_cluster_id(list(c.nodes))


# -- the Ready loop ----------------------------------------------------------------------------------


def test_nothing_is_sent_before_it_is_persisted():
    """I7: a vote or an append is on the sender's disk before the message leaves it."""
    c = EtcdCluster(3, seed=1)
    SafetyMonitor(c)
    sent: list[str] = []
    original = c.network.send

    def send(src: str, dst: str, msg: object) -> None:
        if isinstance(msg, Message) and src in c.members and c.members[src].raft is not None:
            member = c.members[src]
            disk, raft = member.storage, member.raft
            assert disk.hard_state.term == raft.term and disk.hard_state.vote == raft.vote
            if isinstance(msg, MsgApp) and msg.entries:
                last = disk.entries[-1].index if disk.entries else disk.snapshot.index
                assert last >= msg.entries[-1].index
            if isinstance(msg, MsgVoteResp) and not msg.reject:
                assert disk.hard_state.vote == msg.to
            sent.append(msg.type)
        original(src, dst, msg)

    c.network.send = send
    c.wait_for_leader()
    client = c.client()
    for i in range(20):
        client.put(f"k{i}", "v")
    c.crash(c.leader().name)
    c.run(3)
    assert {"MsgVoteResp", "MsgApp"} <= set(sent)


def test_requests_are_deterministic_json_entries_with_a_request_id():
    c = make(3, seed=2)
    c.client().put("key", b"\xffbytes")
    lead = c.leader()
    entries = [e for e in lead.raft.log.entries if e.type is EntryType.EntryNormal and e.data]
    decoded = [json.loads(e.data) for e in entries]
    put = next(d for d in decoded if "put" in d)
    assert put["put"] == {"key": "key", "value": "\udcffbytes"}
    assert put["header"]["ID"] >> 48 == lead.id & 0xFFFF  # etcd's idutil layout
    assert encode_request(7, "put", {"key": "k", "value": "v"}) == (
        b'{"header":{"ID":7},"put":{"key":"k","value":"v"}}'
    )
    assert EntryCodec().decode(encode_request(7, "put", {"key": "k"})) == (7, "put", {"key": "k"})
    assert lead.store.range("key")["kvs"][0]["value"] == "\udcffbytes"


def test_every_member_applies_the_same_changes_in_the_same_order():
    c = make(5, seed=3)
    client = c.client()
    futures = []
    for i in range(60):
        futures.append(client.put_async(f"k{i % 7}", str(i)))
        if i % 10 == 0:
            futures.append(client.delete_async(f"k{i % 5}"))
    c.run(2)
    assert all(f.done() and f.exception() is None for f in futures)
    first = records(c.members["etcd-1"])
    assert len(first) > 60
    for m in c.members.values():
        assert records(m) == first
        assert m.applied_index == m.raft.committed == m.data.consistent_index


def test_proposals_arriving_together_share_one_append():
    c = make(3, seed=4)
    client = c.client()
    client.put("warm", "x")
    lead = c.leader()
    before = lead.raft.log.last_index()
    apps = []
    original = c.network.send
    c.network.send = lambda s, d, m: (
        apps.append(m) if isinstance(m, MsgApp) and m.entries else None,
        original(s, d, m),
    )
    futures = [client.put_async(f"b{i}", "v") for i in range(100)]
    c.run(0.5)
    assert all(f.exception() is None for f in futures)
    assert lead.raft.log.last_index() == before + 100
    assert len(apps) == 2 and all(len(m.entries) == 100 for m in apps)  # one per follower


def test_a_duplicated_forwarded_proposal_is_applied_once():
    """Peer streams are TCP: even if the simulated network duplicates a follower's forwarded
    MsgProp, the request is applied once."""
    c = make(3, seed=5)
    follower = next(n for n, m in c.members.items() if not m.is_leader)
    for a in c.members:
        for b in c.members:
            if a != b:
                c.network.set_link(a, b, duplicate=1.0)
    client = c.client([follower])
    rev = client.put("once", "v")["header"]["revision"]
    c.run(0.5)
    assert client.get("once")["kvs"][0]["version"] == 1
    assert c.leader().store.current_rev == rev


def test_restart_rebuilds_from_disk_without_replaying_applied_entries():
    c = make(3, seed=6)
    client = c.client()
    for i in range(10):
        client.put(f"k{i}", "v")
    follower = next(m for m in c.members.values() if not m.is_leader)
    before = (follower.applied_index, records(follower), follower.raft.voters)
    c.crash(follower.name)
    assert follower.raft is None
    c.restart(follower.name)
    assert follower.applied_index == before[0]  # the backend's consistent index: no replay
    assert records(follower) == before[1] and follower.raft.voters == before[2]
    client.put("after", "v")
    c.run(1)
    assert records(follower) == records(c.leader())


def test_linearizable_reads_share_a_read_index_and_serializable_ones_need_none():
    c = make(3, seed=7)
    client = c.client()
    client.put("k", "v")
    lead = c.leader()
    first = next(lead._read_ctx)
    futures = [client.get_async("k") for _ in range(20)]
    c.run(0.5)
    assert all(f.result()["kvs"][0]["value"] == "v" for f in futures)
    assert next(lead._read_ctx) == first + 2  # one ReadIndex for the whole batch
    client.get("k", serializable=True)
    assert next(lead._read_ctx) == first + 3


def test_the_quota_is_checked_before_proposing_and_the_alarm_is_proposed():
    c = make(3, seed=8, quota_backend_bytes=40_000)
    client = c.client()
    with pytest.raises(EtcdError, match=ERR_NO_SPACE):
        for i in range(50):
            client.put(f"k{i}", "x" * 2000)
    c.run(0.5)
    for m in c.members.values():
        assert m.store.alarms, m.name  # replicated through Raft
    assert c.trace.where(event="raise-alarm") or any(
        "alarm" in (e.data.decode() if isinstance(e.data, bytes) else "")
        for e in c.leader().raft.log.entries
    )


def test_only_the_leaders_lessor_counts_time():
    c = make(3, seed=9)
    client = c.client()
    lease = client.lease_grant(10)["ID"]
    for m in c.members.values():
        assert m.store.lessor.primary is m.is_leader
        expiry = m.store.lessor.lookup(lease).expiry_ns
        assert (expiry is not None) is m.is_leader
    old = c.leader()
    c.crash(old.name)
    new = c.wait_for_leader()
    promoted_at = c.now_ns if hasattr(c, "now_ns") else c.clock.now_ns
    expiry = new.store.lessor.lookup(lease).expiry_ns
    # promotion refreshes every lease to TTL + election timeout from the new leader's start
    assert promoted_at + 10 * SECOND <= expiry + 1 * SECOND <= promoted_at + 12 * SECOND


def test_snapshots_every_snapshot_count_entries_keep_catch_up_entries():
    c = make(3, seed=10, snapshot_count=20, catch_up_entries=5)
    client = c.client()
    for i in range(60):
        client.put(f"k{i % 4}", str(i))
    for m in c.members.values():
        snap = m.storage.snapshot
        assert snap.index > 0 and m.applied_index - snap.index <= 20
        assert m.raft.log.offset == snap.index - 5
        assert json.loads(snap.data)["members"]  # etcd's Raft snapshot: the membership
        assert all(e.index > snap.index for e in m.storage.entries)


def test_defrag_is_local_to_one_member():
    c = make(3, seed=11)
    client = c.client()
    for _ in range(200):
        client.put("k", "x" * 500)
    client.compact(client.get("k")["header"]["revision"], physical=True)
    c.run(0.2)
    sizes = {n: m.store.backend.size for n, m in c.members.items()}
    client.defrag(endpoint="etcd-2")
    assert c.members["etcd-2"].store.backend.size < sizes["etcd-2"]
    assert c.members["etcd-1"].store.backend.size == sizes["etcd-1"]


def test_status_reports_raft_and_backend_fields():
    c = make(3, seed=12)
    client = c.client()
    client.put("a", "1")
    lead = c.leader()
    for name, m in c.members.items():
        s = client.status(endpoint=name)
        assert s["header"]["member_id"] == m.id and s["leader"] == lead.id
        assert s["raftTerm"] == lead.raft.term and s["raftIndex"] == m.raft.committed
        assert s["raftAppliedIndex"] == m.applied_index and s["version"] == "3.4.23"
        assert s["dbSize"] >= s["dbSizeInUse"] > 0 and s["errors"] == [] and not s["isLearner"]


def test_timeout_texts_follow_parse_propose_ctx_err():
    c = make(3, seed=13)
    lead = c.leader()
    now = c.clock.now_ns
    lead._lead_elected_ns = now
    assert lead._timeout_error(now - SECOND) == ERR_TIMEOUT_DUE_TO_LEADER_FAIL
    lead._lead_elected_ns = now - 10 * SECOND
    assert lead._timeout_error(now) == ERR_TIMEOUT
    # peers connected only after the request started: the quorum may have been lost meanwhile
    assert lead._timeout_error(-SECOND) == ERR_TIMEOUT_DUE_TO_CONNECTION_LOST
    follower = next(m for m in c.members.values() if m is not lead)
    c.crash(lead.name)  # its stream to the follower breaks at once
    assert follower._timeout_error(c.clock.now_ns) == ERR_TIMEOUT_DUE_TO_CONNECTION_LOST


def test_a_removed_member_stops_and_never_starts_again():
    c = make(3, seed=14)
    c.run(5)
    victim = next(m for m in c.members.values() if not m.is_leader)
    c.member_remove(victim.name)
    c.run(1)
    assert victim.raft is None and victim.data.removed
    c.restart(victim.name)
    assert victim.raft is None
    assert c.trace.where(component=victim.name, event="refused-to-start")
    assert victim.id not in c.leader().raft.voters


def test_the_first_election_skips_most_of_the_first_timeout():
    """--initial-election-tick-advance: a fresh cluster elects within about 0.1-1 s."""
    c = EtcdCluster(3, seed=15)
    c.wait_for_leader()
    assert c.now < 1.2


@pytest.mark.parametrize("pre_vote", [True, False])
def test_pre_vote_is_a_parameter_on_by_default(pre_vote):
    assert EtcdCluster(3).leader() is None
    c = EtcdCluster(3, seed=16, pre_vote=pre_vote)
    c.wait_for_leader()
    assert all(m.raft.config.pre_vote is pre_vote for m in c.members.values())
    assert EtcdCluster(1).config.pre_vote


@pytest.mark.parametrize(
    ("mode", "retention", "kept_s", "slack_s"),
    [
        pytest.param("revision", 5, None, 0, id="revision mode keeps the last 5 revisions"),
        pytest.param("periodic", "2m", 120, 12, id="periodic mode keeps the last 2 minutes"),
    ],
)
def test_auto_compaction_runs_on_the_leader(mode, retention, kept_s, slack_s):
    c = make(3, seed=17, auto_compaction_mode=mode, auto_compaction_retention=retention)
    client = c.client()
    history = []  # (time, revision after the write)
    for _ in range(40):  # a write every 10 s for 400 s
        history.append((c.now, client.put("k", "v")["header"]["revision"]))
        c.run(10)

    def rev_at(t: float) -> int:
        return max([r for when, r in history if when <= t] or [1])

    events = c.trace.where(event="auto-compact")
    assert events and all(e.component == c.leader().name for e in events)
    for e in events:
        rev = e.fields["revision"]
        if kept_s is None:
            assert rev == rev_at(e.t) - retention
        else:
            assert rev_at(e.t - kept_s - slack_s) <= rev <= rev_at(e.t - kept_s + slack_s)
    compacted = {m.store.compact_main_rev for m in c.members.values()}
    assert compacted == {events[-1].fields["revision"]}


def test_watch_progress_on_request():
    c = make(3, seed=18)
    client = c.client()
    rev = client.put("a", "1")["header"]["revision"]
    w = client.watch("b")
    client.put("c", "2")
    c.run(0.1)
    client.request_progress()
    c.run(0.1)
    progress = [r for r in w.responses if not r["events"] and not r["created"]]
    assert progress and progress[-1]["header"]["revision"] == rev + 1
    assert w.events == []
