"""etcd-level scenarios on the simulated cluster (raft_tests.md section H), through the client
API a learner uses. Times are simulated seconds with etcd's defaults: heartbeat 100 ms,
election timeout 1 s (ET), ReqTimeout 7 s, PreVote and CheckQuorum on. A SafetyMonitor checks
Raft's safety properties on every Ready of every member throughout.
"""

from __future__ import annotations

import pytest

from kube_teach.etcd import EtcdClient, EtcdCluster
from kube_teach.etcd.errors import (
    ERR_COMPACTED,
    ERR_NO_SPACE,
    ERR_TIMEOUT,
    EtcdError,
)
from kube_teach.etcd.raft_harness import SafetyMonitor

ET = 1.0


def make(members: int = 3, seed: int = 0, **options) -> EtcdCluster:
    c = EtcdCluster(members, seed=seed, **options)
    SafetyMonitor(c)
    lead = c.wait_for_leader()
    assert lead is not None
    c.run_until(lambda: all(m.client_urls for m in lead.cluster.members.values()), 5)
    return c


def values(member, prefix: str) -> dict[str, str]:
    """A member's own keyspace under `prefix`, read locally (serializable)."""
    resp = member.store.read({"range": {"key": prefix, "range_end": prefix[:-1] + "~"}})
    return {kv["key"]: kv["value"] for kv in resp["kvs"]}


# -- 61-63: a 5-member cluster split 2|3 with the leader in the minority -------------------------


def test_61_to_63_minority_never_commits_majority_continues_heal_loses_nothing():
    c = make(5, seed=61)
    old = c.leader()
    minority = [old.name] + [n for n in c.members if n != old.name][:1]
    majority = [n for n in c.members if n not in minority]
    writer = c.client(majority)
    for i in range(3):
        writer.put(f"/k/{i}", "before")
    c.partition(minority, majority)
    split_at = c.now
    lost = c.client(minority, timeout="10s")
    pending = lost.put_async("/k/minority", "never")

    # 62: CheckQuorum makes the old leader step down within two election timeouts
    assert c.run_until(lambda: not old.is_leader, 2 * ET)
    # 61: the majority elects a leader within 2 x ET and keeps writing
    assert c.run_until(lambda: c.leader() is not None and c.leader().name in majority, 2 * ET)
    writer = c.client(majority)  # a client that only knows the majority's endpoints
    acked = [writer.put(f"/k/m{i}", str(i))["header"]["revision"] for i in range(10)]
    assert acked == list(range(acked[0], acked[0] + 10)), "revisions are gap-free"

    # the minority's write fails with etcd's timeout text after ReqTimeout (7 s)
    c.run_until(pending.done, 10)
    assert isinstance(pending.exception(), EtcdError)
    assert pending.exception().message.startswith(ERR_TIMEOUT)
    assert 7.0 <= c.now - split_at < 7.5
    # 63: linearizable reads on the minority fail; serializable ones answer stale data
    with pytest.raises(EtcdError) as e:
        lost.get("/k/0", timeout="8s")
    assert e.value.message in (ERR_TIMEOUT, "context deadline exceeded")
    stale = lost.get("/k/", prefix=True, serializable=True)
    assert stale["count"] == 3 and stale["header"]["revision"] == acked[0] - 1
    assert writer.get("/k/m9")["kvs"][0]["value"] == "9"

    c.heal()
    c.run(3 * ET)
    for m in c.members.values():
        got = values(m, "/k/")
        assert all(got[f"/k/m{i}"] == str(i) for i in range(10)), m.name
        assert "/k/minority" not in got  # the uncommitted entry was truncated
        assert m.store.current_rev == acked[-1]
    assert lost.get("/k/m9", serializable=True)["kvs"][0]["value"] == "9"


def test_62_two_leaders_of_different_terms_may_coexist_but_never_of_one_term():
    c = make(5, seed=62)
    old = c.leader()
    c.partition([old.name], [n for n in c.members if n != old.name])
    both = False
    for _ in range(40):
        c.run(0.05)
        leaders = [m for m in c.members.values() if m.is_leader]
        terms = [m.raft.term for m in leaders]
        assert len(terms) == len(set(terms))
        both = both or len(leaders) == 2
    assert both, "the isolated leader leads until CheckQuorum notices"
    c.run(2 * ET)
    assert not old.is_leader


# -- 64-65 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("pre_vote", [True, False], ids=["PreVote on (3.5)", "PreVote off (3.4)"])
def test_64_an_isolated_follower_disrupts_only_without_prevote(pre_vote):
    c = make(3, seed=64, pre_vote=pre_vote)
    lead = c.leader()
    follower = next(m for m in c.members.values() if m is not lead)
    term = follower.raft.term
    c.isolate(follower.name)
    c.run(10 * ET)
    grew = follower.raft.term > term
    assert grew is not pre_vote
    c.heal()
    c.run(3 * ET)
    assert c.leader() is not None
    if pre_vote:
        assert c.leader() is lead and lead.raft.term == term


def test_65_an_even_split_has_no_leader_and_commits_nothing():
    c = make(4, seed=65)
    names = list(c.members)
    c.partition(names[:2], names[2:])
    c.run(2 * ET)
    assert c.run_until(lambda: c.leader() is None, 2 * ET)
    commits = {n: m.raft.committed for n, m in c.members.items()}
    pending = c.client().put_async("k", "v")
    c.run(3 * ET)
    assert {n: m.raft.committed for n, m in c.members.items()} == commits
    c.heal()
    c.run_until(pending.done, 10)
    assert c.client().put("k2", "v")["header"]["revision"] >= 2


# -- leader crash, client retry ---------------------------------------------------------------------


def test_leader_crash_reads_retry_by_themselves_and_a_failed_write_can_be_retried():
    c = make(3, seed=70)
    client = c.client()
    client.put("a", "1")
    old = c.leader()
    assert client.pinned == old.name  # the client followed the leader hint
    c.crash(old.name)
    assert client.get("a")["kvs"][0]["value"] == "1"  # retried on another endpoint
    try:
        client.put("b", "2")
    except EtcdError as e:  # a forwarded proposal died with the leader: etcd's timeout
        assert e.message.startswith(ERR_TIMEOUT)
        client.put("b", "2")  # the application retries
    assert client.get("b")["kvs"][0]["value"] == "2"
    assert c.leader() is not old
    c.restart(old.name)
    c.run(2)
    assert values(old, "b") == {"b": "2"}


# -- 67-68: leader transfer and membership --------------------------------------------------------


def test_67_leader_transfer_under_load_loses_no_acknowledged_write():
    c = make(3, seed=67)
    client = c.client()
    futures = [client.put_async(f"t{i}", str(i)) for i in range(50)]
    lead = c.leader()
    target = next(m for m in c.members.values() if m is not lead)
    admin = c.client([lead.name])
    moved = admin.call("/etcdserverpb.Maintenance/MoveLeader", {"targetID": target.id})
    c.run_until(lambda: moved.done() and all(f.done() for f in futures), 10)
    assert moved.exception() is None and c.leader() is target
    ok = [i for i, f in enumerate(futures) if f.exception() is None]
    for i in ok:
        assert client.get(f"t{i}")["kvs"][0]["value"] == str(i)


def test_68_strict_reconfig_check_and_removing_the_leader():
    c = make(3, seed=68)
    c.run(5)  # peers must have been connected for 5 s before a reconfiguration
    down = next(m for m in c.members.values() if not m.is_leader)
    c.crash(down.name)
    with pytest.raises(EtcdError, match="unhealthy cluster"):
        c.member_add("etcd-4")
    c.restart(down.name)
    c.run(6)
    added = c.member_add("etcd-4")
    c.run(3)
    assert added.raft is not None and added.raft.voters and added.id in added.raft.voters
    old = c.leader()
    c.member_remove(old.name)
    c.run(3)
    assert old.raft is None and old.data.removed
    new = c.leader()
    assert new is not None and new is not old and old.id not in new.raft.voters
    assert c.client([m for m in c.members if m != old.name]).put("x", "y")


def test_learner_add_and_promote():
    c = make(3, seed=69)
    c.run(5)
    learner = c.member_add("etcd-4", learner=True)
    c.run(3)
    assert learner.raft.is_learner and learner.role == "learner"
    with pytest.raises(EtcdError, match="rpc not supported for learner"):
        c.client(["etcd-4"]).put("k", "v")
    c.member_promote("etcd-4")
    c.run(2)
    assert not learner.raft.is_learner and learner.id in c.leader().raft.voters


# -- 69-71 ---------------------------------------------------------------------------------------


def test_69_a_lagging_member_gets_a_snapshot():
    c = make(3, seed=69, snapshot_count=100, catch_up_entries=50)
    client = c.client()
    client.put("s/first", "x")  # the client now talks to the leader (it follows the hint)
    lagging = next(m for m in c.members.values() if not m.is_leader)
    c.isolate(lagging.name)
    for i in range(250):
        client.put(f"s/{i % 30}", str(i))
    rev = client.get("s/0")["header"]["revision"]
    client.compact(rev - 20)
    assert c.leader().raft.log.offset > lagging.raft.log.last_index()  # compacted past it
    c.heal()
    c.run(3)
    assert c.trace.where(component=lagging.name, event="restored-backend")
    lead = c.leader()
    assert values(lagging, "s/") == values(lead, "s/")
    assert lagging.store.current_rev == lead.store.current_rev
    assert lagging.store.compact_main_rev == lead.store.compact_main_rev == rev - 20


def test_70_crash_restart_of_all_members_keeps_everything():
    c = make(3, seed=70)
    client = c.client()
    lease = client.lease_grant(100)["ID"]
    client.put("a", "1", lease=lease)
    for i in range(5):
        client.put("b", str(i))
    client.compact(4)
    rev = client.get("a")["header"]["revision"]
    for n in c.members:
        c.crash(n)
    c.run(1)
    for n in c.members:
        c.restart(n)
    c.wait_for_leader()
    assert client.get("a")["kvs"][0]["lease"] == lease
    assert client.lease_time_to_live(lease)["grantedTTL"] == 100
    with pytest.raises(EtcdError, match=ERR_COMPACTED):
        client.get("b", revision=3)
    assert client.put("c", "x")["header"]["revision"] == rev + 1


def test_71_leases_across_a_leader_change():
    c = make(3, seed=71)
    client = c.client()
    granted = c.now
    lease = client.lease_grant(5)["ID"]
    client.put("l/1", "x", lease=lease)
    client.put("l/2", "y", lease=lease)
    c.run(3 - (c.now - granted))
    old = c.leader()
    c.crash(old.name)
    followers_revoked = []
    c.run_until(
        lambda: not values(c.members[next(n for n in c.members if n != old.name)], "l/"), 30
    )
    gone_at = c.now - granted
    # the new leader refreshed the lease to TTL + election timeout at its election
    assert gone_at > 5 + 0.5
    for m in c.members.values():
        if m is not old:
            assert values(m, "l/") == {}
    deletes = [e for e in c.trace.where(event="revoke-expired-lease") if e.component != old.name]
    assert deletes and not followers_revoked
    revs = {m.store.current_rev for m in c.members.values() if m is not old}
    assert len(revs) == 1  # one revision for both keys, on every member


# -- quota, leases, snapshots, watches ------------------------------------------------------------


def test_nospace_through_raft_and_recovery_by_compact_defrag_disarm():
    c = make(3, seed=80, quota_backend_bytes=150_000)
    client = c.client()
    big = "x" * 10_000
    with pytest.raises(EtcdError, match=ERR_NO_SPACE):
        for i in range(100):
            client.put(f"big/{i}", big)
    c.run(1)
    alarms = client.alarm_list()["alarms"]
    assert alarms and {a["alarm"] for a in alarms} == {"NOSPACE"}
    for m in c.members.values():  # replicated: every member refuses puts now
        assert m.store.applier == "capped"
        assert m.status()["errors"]
    with pytest.raises(EtcdError, match=ERR_NO_SPACE):
        client.put("small", "x")
    assert client.get("big/0")["count"] == 1  # reads still work
    client.delete("big/", prefix=True)
    rev = client.get("a")["header"]["revision"]
    client.compact(rev, physical=True)
    before = {n: m.store.backend.size for n, m in c.members.items()}
    for n in c.members:
        client.defrag(endpoint=n)
    assert all(c.members[n].store.backend.size < before[n] for n in c.members)
    with pytest.raises(EtcdError, match=ERR_NO_SPACE):
        client.put("small", "x")  # the alarm stays until disarmed
    client.alarm_disarm()
    assert client.alarm_list()["alarms"] == []
    assert client.put("small", "x")["header"]["revision"] > rev


def test_lease_expiry_deletes_keys_on_every_member_in_one_revision():
    c = make(3, seed=81)
    client = c.client()
    lease = client.lease_grant(3)["ID"]
    for k in ("e/1", "e/2", "e/3"):
        client.put(k, "v", lease=lease)
    start = c.now
    watcher = client.watch("e/", prefix=True)
    c.run_until(lambda: all(not values(m, "e/") for m in c.members.values()), 10)
    assert 3 <= c.now - start <= 4.5
    c.run(0.1)
    deletes = [e for e in watcher.events if e["type"] == "DELETE"]
    assert len(deletes) == 3 and len({e["kv"]["mod_revision"] for e in deletes}) == 1
    assert client.lease_time_to_live(lease)["TTL"] == -1
    assert client.lease_keepalive_once(lease)["TTL"] == 0


def test_keepalive_keeps_a_lease_and_its_key():
    c = make(3, seed=82)
    client = c.client()
    lease = client.lease_grant(2)["ID"]
    client.put("alive", "1", lease=lease)
    ka = client.lease_keepalive(lease)
    c.run(10)
    assert client.get("alive")["count"] == 1 and ka.ttl == 2
    ka.stop()
    c.run(4)
    assert client.get("alive")["count"] == 0


def test_snapshot_save_and_restore_into_a_new_cluster():
    c = make(3, seed=83)
    client = c.client()
    for i in range(5):
        client.put(f"s/{i}", str(i))
    client.compact(3)
    lease = client.lease_grant(60)["ID"]
    client.put("leased", "x", lease=lease)
    data = client.snapshot_save()
    rev = client.get("s/0")["header"]["revision"]
    client.put("after", "lost")
    restored = EtcdClient.snapshot_restore(data, members=3, seed=1)
    restored.wait_for_leader()
    rc = restored.client()
    got = rc.get("s/", prefix=True)
    assert [kv["value"] for kv in got["kvs"]] == ["0", "1", "2", "3", "4"]
    assert got["header"]["revision"] == rev
    assert rc.get("after")["count"] == 0
    with pytest.raises(EtcdError, match=ERR_COMPACTED):
        rc.get("s/0", revision=2)
    assert rc.get("leased")["kvs"][0]["lease"] == lease
    assert rc.put("new", "1")["header"]["revision"] == rev + 1
    with pytest.raises(Exception, match="sha256"):
        EtcdCluster.from_snapshot(data[:-1] + b"x")


def test_watch_events_accumulate_and_survive_a_member_crash():
    c = make(3, seed=84)
    client = c.client()
    first = client.put("w/0", "a")["header"]["revision"]
    followers = [n for n, m in c.members.items() if not m.is_leader]
    watching = c.client(followers)  # its stream goes to a follower, which will crash
    watcher = watching.watch("w/", prefix=True, start_revision=first, prev_kv=True)
    for i in range(1, 4):
        client.put(f"w/{i}", "b")
    c.run(0.1)
    assert [e["kv"]["key"] for e in watcher.events] == ["w/0", "w/1", "w/2", "w/3"]
    c.crash(watcher._stream.endpoint)
    client.put("w/1", "c")
    client.delete("w/2")
    c.run(10)  # keepalive notices the dead connection; the watch resumes elsewhere
    assert [(e["type"], e["kv"]["key"]) for e in watcher.events[4:]] == [
        ("PUT", "w/1"),
        ("DELETE", "w/2"),
    ]
    assert watcher.events[4]["prev_kv"]["value"] == "b" and watcher.resumes == 1


def test_a_watch_from_a_compacted_revision_is_canceled():
    c = make(3, seed=85)
    client = c.client()
    for i in range(5):
        client.put("k", str(i))
    client.compact(4)
    watcher = client.watch("k", start_revision=2)
    c.run(0.1)
    assert watcher.canceled and watcher.compact_revision == 4
    assert watcher.err == EtcdError(ERR_COMPACTED)


def test_client_api_shapes():
    c = make(3, seed=86)
    client = c.client()
    assert client.put("a", "1")["header"]["revision"] == 2
    client.put("b", "2")
    client.put("c", "3")
    got = client.get("a", "c")
    assert [kv["key"] for kv in got["kvs"]] == ["a", "b"] and got["count"] == 2
    assert client.get("", from_key=True, limit=1)["more"] is True
    assert client.get("a", prefix=True, count_only=True)["count"] == 1
    assert client.get("a", "z", keys_only=True)["kvs"][0]["value"] == ""
    assert [kv["key"] for kv in client.get("a", "z", sort=("KEY", "DESCEND"))["kvs"]] == [
        "c",
        "b",
        "a",
    ]
    assert client.get("a", revision=2)["kvs"][0]["value"] == "1"
    deleted = client.delete("b", prefix=True, prev_kv=True)
    assert deleted["deleted"] == 1 and deleted["prev_kvs"][0]["value"] == "2"
    # txn in readable forms: etcdctl text, tuples and raw dicts
    t = client.txn(['mod("a") = "2"'], [("put", "a", "x")], ["get a"])
    assert t["succeeded"] and "response_put" in t["responses"][0]
    t = client.txn([("value", "a", "=", "nope")], ["put a y"], [("get", "a")])
    assert not t["succeeded"]
    assert t["responses"][0]["response_range"]["kvs"][0]["value"] == "x"
    raw = {"key": "a", "target": "VERSION", "result": "GREATER", "version": 0}
    assert client.txn([raw], [{"request_delete_range": {"key": "a"}}])["succeeded"]
    header = client.status()["header"]
    assert set(header) == {"cluster_id", "member_id", "revision", "raft_term"}
    members = client.member_list()["members"]
    assert sorted(m["name"] for m in members) == ["etcd-1", "etcd-2", "etcd-3"]


def test_async_calls_settle_on_the_clock():
    c = make(3, seed=87)
    client = c.client()
    seen = []
    fut = client.put_async("k", "v")
    fut.add_done_callback(lambda f: seen.append(f.result()["header"]["revision"]))
    assert not fut.done() and seen == []
    c.run(0.1)
    assert fut.done() and seen == [2]
    with pytest.raises(RuntimeError):
        client.get_async("k").result()


def test_timing_flags_and_defaults():
    c = make(3, seed=88)
    assert c.config.heartbeat_ns == 100_000_000 and c.config.election_ns == 1_000_000_000
    assert c.config.request_timeout_ns == 7_000_000_000 and c.config.pre_vote
    assert c.leader().raft.config.check_quorum and c.leader().raft.config.election_tick == 10
    fast = make(3, seed=88, heartbeat_interval="10ms", election_timeout="100ms")
    assert fast.leader().raft.config.election_tick == 10
    assert fast.config.request_timeout_ns == 5_200_000_000


def test_same_seed_same_trace():
    def run() -> str:
        c = make(3, seed=89)
        client = c.client()
        for i in range(5):
            client.put(f"k{i}", "v")
        c.crash(c.leader().name)
        c.run(3)
        return c.trace.text()

    assert run() == run()


def test_html_and_text_views():
    c = make(3, seed=90)
    html = c._repr_html_()
    assert "<table>" in html and "leader" in html and "etcd-1" in html
    text = c.text()
    assert text.splitlines()[0].split()[:4] == ["NAME", "ID", "ROLE", "TERM"]
    c.crash("etcd-2")
    assert "down" in c.text()


def test_a_watch_over_a_lossy_link_resumes_without_gaps_or_repeats():
    c = make(3, seed=91)
    writer = c.client()
    watching = c.client(name="watcher")
    w = watching.watch("k/", prefix=True, start_revision=1)
    for m in c.members:
        c.network.set_link("watcher", m, drop=0.2, duplicate=0.5, reorder=0.3)
    revs = []
    for i in range(60):  # for 12 s: keepalive finds the gaps and resumes under the same loss
        revs.append(writer.put(f"k/{i % 3}", str(i))["header"]["revision"])
        c.run(0.2)
    for m in c.members:
        c.network.set_link("watcher", m, drop=0.0, duplicate=0.0, reorder=0.0)
    c.run_until(lambda: w.next_rev > revs[-1], 30)
    assert [e["kv"]["mod_revision"] for e in w.events] == revs
    assert w.resumes >= 1
