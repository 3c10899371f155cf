"""Leases: the lessor on its own (after etcd's lease/lessor_test.go) and leases in the store
(attach, detach, revoke and expiry delete keys in one revision, keepalive and time-to-live)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kube_teach.etcd.errors import (
    ERR_LEASE_EXIST,
    ERR_LEASE_NOT_FOUND,
    ERR_LEASE_TTL_TOO_LARGE,
    ERR_NOT_PRIMARY,
    EtcdError,
)
from kube_teach.etcd.lease import (
    EXPIRED_LEASE_RETRY_INTERVAL_NS,
    MAX_LEASE_TTL,
    SECOND_NS,
    IDGenerator,
    Lessor,
    min_lease_ttl,
)
from kube_teach.etcd.mvcc import MVCCStore

S = SECOND_NS


def primary(**kwargs) -> Lessor:
    lessor = Lessor(**kwargs)
    lessor.promote(0)
    return lessor


@pytest.mark.parametrize(
    ("election_ticks", "heartbeat_ms", "want"),
    [
        pytest.param(10, 100, 2, id="the defaults (1 s election timeout) give a 2 s minimum"),
        pytest.param(10, 50, 1, id="a 500 ms election timeout gives 1 s"),
        pytest.param(11, 100, 2, id="odd tick counts round down before scaling (16 ticks)"),
        pytest.param(50, 100, 8, id="a 5 s election timeout gives 7.5 s, rounded up to 8"),
    ],
)
def test_min_lease_ttl_is_one_and_a_half_election_timeouts_rounded_up(
    election_ticks, heartbeat_ms, want
):
    assert min_lease_ttl(election_ticks, heartbeat_ms) == want


@pytest.mark.parametrize(
    ("lease_id", "ttl", "want_ttl", "error"),
    [
        pytest.param(1, 10, 10, None, id="a TTL above the minimum is kept"),
        pytest.param(1, 1, 2, None, id="a TTL below the minimum is raised to it"),
        pytest.param(1, -5, 2, None, id="a negative TTL is raised to the minimum too"),
        pytest.param(1, MAX_LEASE_TTL, MAX_LEASE_TTL, None, id="9e9 seconds is the largest TTL"),
        pytest.param(
            1, MAX_LEASE_TTL + 1, None, ERR_LEASE_TTL_TOO_LARGE, id="one more is too large"
        ),
        pytest.param(0, 10, None, ERR_LEASE_NOT_FOUND, id="ID 0 means no lease and is refused"),
        pytest.param(-7, 10, 10, None, id="a negative ID chosen by a client is accepted"),
    ],
)
def test_grant(lease_id, ttl, want_ttl, error):
    lessor = Lessor(min_ttl=2)
    if error:
        with pytest.raises(EtcdError) as err:
            lessor.grant(lease_id, ttl)
        assert err.value.message == error
        return
    lease = lessor.grant(lease_id, ttl)
    assert (lease.id, lease.ttl) == (lease_id, want_ttl)
    assert lessor.lookup(lease_id) is lease


def test_granting_an_existing_lease_fails():
    lessor = Lessor()
    lessor.grant(5, 10)
    with pytest.raises(EtcdError) as err:
        lessor.grant(5, 20)
    assert (err.value.code, err.value.message) == ("FailedPrecondition", ERR_LEASE_EXIST)


@pytest.mark.parametrize(
    ("is_primary", "want_expiry"),
    [
        pytest.param(
            True, 3 * S + 10 * S, id="the leader's lessor expires a lease TTL after grant"
        ),
        pytest.param(False, None, id="a follower's lessor keeps it forever"),
    ],
)
def test_grant_sets_expiry_only_on_the_primary(is_primary, want_expiry):
    lessor = primary() if is_primary else Lessor()
    assert lessor.grant(1, 10, now_ns=3 * S).expiry_ns == want_expiry


def test_renew_restarts_the_clock_and_returns_the_ttl():
    lessor = primary()
    lessor.grant(1, 10, now_ns=0)
    assert lessor.renew(1, now_ns=7 * S) == 10
    assert lessor.lookup(1).expiry_ns == 17 * S


@pytest.mark.parametrize(
    ("setup", "error"),
    [
        pytest.param("demoted", ERR_NOT_PRIMARY, id="only the leader renews (followers forward)"),
        pytest.param("unknown", ERR_LEASE_NOT_FOUND, id="an unknown lease cannot be renewed"),
        pytest.param("expired", ERR_LEASE_NOT_FOUND, id="an expired lease waits for its revoke"),
    ],
)
def test_renew_errors(setup, error):
    lessor = Lessor() if setup == "demoted" else primary()
    lessor.grant(1, 10)
    lease_id = 2 if setup == "unknown" else 1
    with pytest.raises(EtcdError) as err:
        lessor.renew(lease_id, now_ns=10 * S if setup == "expired" else S)
    assert err.value.message == error


def test_revoke_returns_the_keys_sorted_and_forgets_them():
    lessor = Lessor()
    lessor.grant(1, 10)
    for key in (b"c", b"a", b"b"):
        lessor.attach(1, key)
    assert lessor.revoke(1) == [b"a", b"b", b"c"]
    assert lessor.lookup(1) is None
    assert lessor.get_lease(b"a") == 0
    with pytest.raises(EtcdError, match="requested lease not found"):
        lessor.revoke(1)


def test_detach_and_attach_to_unknown_leases():
    lessor = Lessor()
    lessor.grant(1, 10)
    lessor.attach(1, b"k")
    lessor.detach(1, b"k")
    assert lessor.get_lease(b"k") == 0 and lessor.lookup(1).keys == {}
    for call in (lessor.attach, lessor.detach):
        with pytest.raises(EtcdError, match="requested lease not found"):
            call(9, b"k")


def test_expired_reports_a_lease_once_per_retry_interval():
    lessor = primary()
    lessor.grant(1, 5, now_ns=0)
    lessor.grant(2, 7, now_ns=0)
    assert lessor.expired(4 * S) == []
    assert lessor.expired(5 * S) == [1]
    assert lessor.expired(5 * S + 500_000_000) == []  # the leader's revoke is in flight
    assert lessor.expired(7 * S) == [2]
    assert lessor.expired(5 * S + EXPIRED_LEASE_RETRY_INTERVAL_NS) == [1]  # the revoke was lost
    lessor.revoke(1)
    assert lessor.expired(60 * S) == [2]


def test_expired_is_empty_on_a_follower_and_after_demotion():
    lessor = primary()
    lessor.grant(1, 5, now_ns=0)
    lessor.demote()
    assert lessor.expired(100 * S) == []
    assert lessor.lookup(1).expiry_ns is None


def test_expired_returns_at_most_half_the_revoke_rate_oldest_first():
    lessor = primary(revoke_rate=10)
    for i in range(1, 21):
        lessor.grant(i, 2 + i, now_ns=0)
    assert lessor.expired(100 * S) == [1, 2, 3, 4, 5]
    assert lessor.expired(100 * S) == [6, 7, 8, 9, 10]


def test_promotion_gives_every_lease_a_fresh_ttl_plus_the_extension():
    """Without checkpoints a new leader restarts every lease, so leases outlive their TTL."""
    lessor = primary()
    lessor.grant(1, 10, now_ns=0)
    lessor.demote()
    lessor.promote(now_ns=8 * S, extend_ns=1 * S)  # election timeout
    assert lessor.lookup(1).expiry_ns == 19 * S
    assert lessor.expired(18 * S) == [] and lessor.expired(19 * S) == [1]


def test_promotion_spreads_out_a_pileup_of_expiries():
    """etcd's TestLessorRenewExtendPileup: with leaseRevokeRate 10, 100 leases of TTL 10 and
    100 of TTL 11 recovered at once expire at most 10 and at least 5 per second after promote."""
    rate = 10
    lessor = Lessor(revoke_rate=rate)
    for i in range(1, rate * 10 + 1):
        lessor.grant(2 * i, 10)
        lessor.grant(2 * i + 1, 11)
    recovered = Lessor.from_records(lessor.records())
    recovered.revoke_rate = rate
    recovered.promote(now_ns=0)
    windows: dict[int, int] = {}
    for lease in recovered.leases():
        second = int(lease.remaining_ns(0) / S + 0.1)
        windows[second] = windows.get(second, 0) + 1
    for second in range(10, 30):
        assert rate // 2 <= windows.get(second, 0) <= rate, (second, windows)


def test_time_to_live_truncates_to_whole_seconds():
    lessor = primary()
    lessor.grant(1, 10, now_ns=0)
    lessor.attach(1, b"z")
    lessor.attach(1, b"a")
    got = lessor.time_to_live(1, now_ns=2_500_000_000, keys=True)
    assert got == {"ID": 1, "TTL": 7, "grantedTTL": 10, "keys": [b"a", b"z"]}
    assert lessor.time_to_live(1, now_ns=10_400_000_000)["TTL"] == 0  # expired, not yet revoked
    with pytest.raises(EtcdError, match="requested lease not found"):
        lessor.time_to_live(2, now_ns=0)


def test_records_keep_ids_and_ttls_but_not_expiries():
    lessor = primary()
    lessor.grant(3, 30, now_ns=0)
    lessor.grant(1, 10, now_ns=0)
    assert lessor.records() == [[1, 10, 0], [3, 30, 0]]
    recovered = Lessor.from_records(lessor.records(), min_ttl=15)
    assert [(le.id, le.ttl, le.expiry_ns) for le in recovered.leases()] == [
        (1, 15, None),  # recovered TTLs are raised to the (new) minimum, as upstream
        (3, 30, None),
    ]


def test_id_generator_packs_member_time_and_counter():
    gen = IDGenerator(member_id=0x1234ABCD, now_ns=1_700_000_000_123_456_789)
    first = gen.next()
    assert first >> 48 == 0xABCD  # the low 16 bits of the member ID
    assert (first >> 8) & (2**40 - 1) == 1_700_000_000_123 & (2**40 - 1)  # milliseconds
    assert first & 0xFF == 1 and gen.next() == first + 1
    again = IDGenerator(member_id=0x1234ABCD, now_ns=1_700_000_000_123_456_789)
    assert again.next() == first  # deterministic: same member, same simulated start


def test_lease_ids_chosen_by_the_server_are_positive():
    gen = IDGenerator(member_id=0xFFFF, now_ns=2**62)
    ids = [gen.next_lease_id() for _ in range(300)]
    assert all(0 < i < 2**63 for i in ids) and len(set(ids)) == 300


@settings(max_examples=60, deadline=None)
@given(
    ttl=st.integers(-3, 30),
    renewals=st.lists(st.integers(0, 40_000), max_size=6),
    check_ms=st.integers(0, 80_000),
)
def test_a_lease_is_never_reported_expired_before_its_ttl_since_the_last_renewal(
    ttl, renewals, check_ms
):
    lessor = primary()
    lease = lessor.grant(1, ttl, now_ns=0)
    last, reported_at = 0, None
    for at_ns in sorted(ms * 1_000_000 for ms in renewals):
        if lessor.expired(at_ns):
            reported_at = at_ns
            break
        lessor.renew(1, at_ns)
        last = at_ns
    if reported_at is not None:
        assert reported_at >= last + lease.ttl * S
    else:
        now = max(check_ms * 1_000_000, last)
        assert (lessor.expired(now) == [1]) == (now >= last + lease.ttl * S)


# --- leases in the store ---------------------------------------------------------------------------


def leader_store() -> MVCCStore:
    store = MVCCStore()
    store.lessor.promote(0)
    return store


def test_revoke_deletes_every_attached_key_in_one_revision():
    store = leader_store()
    store.lease_grant(10, lease_id=7)
    for key in ("b", "a", "c"):
        store.put(key, "v", lease=7)
    store.put("other", "v")
    watch = store.watch("a", "z")["watch_id"]
    resp = store.lease_revoke(7)
    assert resp["header"]["revision"] == 6
    events = store.watch_responses(watch)[0]["events"]
    assert [(e["type"], e["kv"]["key"], e["kv"]["mod_revision"]) for e in events] == [
        ("DELETE", "a", 6),
        ("DELETE", "b", 6),
        ("DELETE", "c", 6),
    ]
    assert [kv["key"] for kv in store.range("\0", "\0")["kvs"]] == ["other"]


def test_revoking_a_lease_without_keys_does_not_bump_the_revision():
    store = leader_store()
    store.lease_grant(10, lease_id=7)
    assert store.lease_revoke(7)["header"]["revision"] == 1


def test_a_put_without_a_lease_detaches_the_key_and_ignore_lease_keeps_it():
    store = leader_store()
    store.lease_grant(10, lease_id=7)
    store.put("kept", "1", lease=7)
    store.put("kept", "2", ignore_lease=True)
    store.put("dropped", "1", lease=7)
    store.put("dropped", "2")
    ttl = store.lease_time_to_live(7, keys=True, now_ns=0)
    assert ttl["keys"] == ["kept"]
    store.lease_revoke(7)
    assert [kv["key"] for kv in store.range("\0", "\0")["kvs"]] == ["dropped"]


def test_expiry_is_proposed_by_the_leader_and_applied_as_a_revoke():
    store = leader_store()
    store.lease_grant(5, lease_id=9, now_ns=0)
    store.put("k1", "v", lease=9)
    store.put("k2", "v", lease=9)
    assert store.expired_leases(4 * S) == []
    revokes = [{"lease_revoke": {"ID": i}} for i in store.expired_leases(5 * S)]
    assert revokes == [{"lease_revoke": {"ID": 9}}]
    assert store.apply(revokes[0]) == {"header": {"revision": 4}}
    assert store.range("k", "l")["count"] == 0


@pytest.mark.parametrize(
    ("request_", "want"),
    [
        pytest.param(
            {"lease_keepalive": {"ID": 404}},
            {"header": {"revision": 1}, "ID": 404, "TTL": 0},
            id="a keepalive for an unknown lease answers TTL 0, not an error",
        ),
        pytest.param(
            {"lease_time_to_live": {"ID": 404}},
            {"header": {"revision": 1}, "ID": 404, "TTL": -1, "grantedTTL": 0, "keys": []},
            id="time-to-live of an unknown lease answers TTL -1, not an error",
        ),
        pytest.param(
            {"lease_revoke": {"ID": 404}},
            {"error": {"code": "NotFound", "message": ERR_LEASE_NOT_FOUND}},
            id="revoking an unknown lease is an error",
        ),
        pytest.param(
            {"put": {"key": "k", "lease": 404}},
            {"error": {"code": "NotFound", "message": ERR_LEASE_NOT_FOUND}},
            id="a put with an unknown lease is an error",
        ),
    ],
)
def test_unknown_leases(request_, want):
    assert leader_store().handle(request_) == want


def test_keepalive_and_leases_listing():
    store = leader_store()
    store.lease_grant(30, lease_id=1, now_ns=0)
    store.lease_grant(10, lease_id=2, now_ns=0)
    assert store.lease_keepalive(2, now_ns=4 * S) == {"header": {"revision": 1}, "ID": 2, "TTL": 10}
    assert store.lease_time_to_live(2, now_ns=5 * S)["TTL"] == 9
    assert store.lease_leases()["leases"] == [{"ID": 2}, {"ID": 1}]  # soonest expiry first


def test_a_grant_without_an_id_gets_one_from_the_server():
    store = leader_store()
    first, second = store.lease_grant(10)["ID"], store.lease_grant(10)["ID"]
    assert 0 < first < second
