"""The MVCC store: key index, revisions, range, put, delete, txn, compaction, watch, quota and
alarms, the size model, snapshots, auto-compaction, and properties against a naive store.

Cases follow etcd 3.4's mvcc/key_index_test.go, kv_test.go, kvstore_test.go and
watchable_store_test.go, and v3compactor's tests; the differential file checks the same ground
against a real etcd.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from kube_teach.etcd.errors import (
    ERR_COMPACTED,
    ERR_CORRUPT,
    ERR_DUPLICATE_KEY,
    ERR_EMPTY_KEY,
    ERR_FUTURE_REV,
    ERR_KEY_NOT_FOUND,
    ERR_LEASE_PROVIDED,
    ERR_NO_SPACE,
    ERR_REQUEST_TOO_LARGE,
    ERR_TOO_MANY_OPS,
    ERR_VALUE_PROVIDED,
    EtcdError,
)
from kube_teach.etcd.mvcc import MVCCStore
from kube_teach.etcd.mvcc_backend import PAGE_SIZE
from kube_teach.etcd.mvcc_compactor import (
    PeriodicCompactor,
    RevisionCompactor,
    new_compactor,
    parse_retention,
)
from kube_teach.etcd.mvcc_index import KeyIndex, Revision
from kube_teach.etcd.mvcc_proto import message_size
from kube_teach.etcd.mvcc_snapshot import SnapshotError
from kube_teach.etcd.mvcc_txn import prefix_end, request_cost, to_bytes, to_text, validate
from kube_teach.sim.duration import HOUR, MINUTE


def store(**kwargs) -> MVCCStore:
    s = MVCCStore(**kwargs)
    s.lessor.promote(0)
    return s


def keys(resp: dict) -> list[str]:
    return [kv["key"] for kv in resp["kvs"]]


def error_of(resp: dict) -> str | None:
    return resp["error"]["message"] if "error" in resp else None


def P(key, value="", **opts):
    return {"put": {"key": key, "value": value, **opts}}


def D(key, end=None, **opts):
    return {"delete_range": {"key": key, "range_end": end, **opts}}


def R(key, end=None, **opts):
    return {"range": {"key": key, "range_end": end, **opts}}


def T(compare=(), success=(), failure=()):
    return {"txn": {"compare": list(compare), "success": list(success), "failure": list(failure)}}


def op(request):
    ((kind, body),) = request.items()
    return {f"request_{kind}": body}


# --- the key index (key_index_test.go) -------------------------------------------------------------


def upstream_key_index() -> KeyIndex:
    """foo: {2, 4, 6(t)} {8, 10, 12(t)} {14, 14.1, 16(t)} {} — upstream's newTestKeyIndex."""
    ki = KeyIndex(b"foo")
    for main, sub, tomb in [(2, 0, 0), (4, 0, 0), (6, 0, 1), (8, 0, 0), (10, 0, 0), (12, 0, 1)]:
        (ki.tombstone if tomb else ki.put)(Revision(main, sub))
    for main, sub, tomb in [(14, 0, 0), (14, 1, 0), (16, 0, 1)]:
        (ki.tombstone if tomb else ki.put)(Revision(main, sub))
    return ki


@pytest.mark.parametrize(
    ("at", "want"),
    [
        pytest.param(17, None, id="after the last tombstone the key is gone"),
        pytest.param(16, None, id="at a tombstone the key is gone"),
        pytest.param(15, ((14, 1), (14, 0), 2), id="the second put of one txn is version 2"),
        pytest.param(14, ((14, 1), (14, 0), 2), id="a read at a txn's revision sees its last put"),
        pytest.param(13, None, id="between generations the key does not exist"),
        pytest.param(11, ((10, 0), (8, 0), 2), id="generation 2, second version"),
        pytest.param(9, ((8, 0), (8, 0), 1), id="generation 2, first version"),
        pytest.param(5, ((4, 0), (2, 0), 2), id="compacted generation 1 still answers at 4 and 5"),
        pytest.param(3, None, id="below the compaction point of the generation nothing remains"),
        pytest.param(0, None, id="revision 0 is before everything"),
    ],
)
def test_key_index_get_after_compacting_at_4(at, want):
    ki = upstream_key_index()
    ki.compact(4, set())
    got = ki.get(at)
    assert (None if got is None else (tuple(got[0]), tuple(got[1]), got[2])) == want


@pytest.mark.parametrize(
    ("since", "want"),
    [
        pytest.param(17, [], id="nothing after the last revision"),
        pytest.param(16, [(16, 0)], id="the last tombstone"),
        pytest.param(14, [(14, 1), (16, 0)], id="only the last change of a txn counts"),
        pytest.param(12, [(12, 0), (14, 1), (16, 0)], id="from a tombstone"),
        pytest.param(7, [(8, 0), (10, 0), (12, 0), (14, 1), (16, 0)], id="from a gap"),
        pytest.param(0, [(4, 0), (6, 0), (8, 0), (10, 0), (12, 0), (14, 1), (16, 0)], id="all"),
    ],
)
def test_key_index_since(since, want):
    ki = upstream_key_index()
    ki.compact(4, set())
    assert [tuple(r) for r in ki.since(since)] == want


# compact at -> (generations left, available revisions); applied one after another
COMPACTIONS = [
    (1, [[2, 4, 6], [8, 10, 12], [14, 14.1, 16], []], set()),
    (2, [[2, 4, 6], [8, 10, 12], [14, 14.1, 16], []], {2}),
    (3, [[2, 4, 6], [8, 10, 12], [14, 14.1, 16], []], {2}),
    (4, [[4, 6], [8, 10, 12], [14, 14.1, 16], []], {4}),
    (5, [[4, 6], [8, 10, 12], [14, 14.1, 16], []], {4}),
    (6, [[8, 10, 12], [14, 14.1, 16], []], set()),
    (7, [[8, 10, 12], [14, 14.1, 16], []], set()),
    (8, [[8, 10, 12], [14, 14.1, 16], []], {8}),
    (10, [[10, 12], [14, 14.1, 16], []], {10}),
    (12, [[14, 14.1, 16], []], set()),
    (14, [[14.1, 16], []], {14.1}),
    (15, [[14.1, 16], []], {14.1}),
    (16, [[]], set()),
]


def _rev(x: float) -> Revision:
    return Revision(int(x), 1 if x != int(x) else 0)


def test_key_index_compaction_keeps_the_newest_revision_at_or_below_the_point():
    """key_index_test.go's TestKeyIndexCompactAndKeep: continuous compaction, and keep() agrees."""
    ki = upstream_key_index()
    for at, generations, available in COMPACTIONS:
        kept: set[Revision] = set()
        ki.keep(at, kept)
        got: set[Revision] = set()
        ki.compact(at, got)
        assert got == kept == {_rev(x) for x in available}, at
        assert [g.revs for g in ki.generations] == [[_rev(x) for x in g] for g in generations], at
    assert ki.is_empty()


# --- revisions, put and range (kv_test.go) ---------------------------------------------------------


def test_revisions_start_at_one_and_only_changes_bump_them():
    s = store()
    assert s.range("a")["header"]["revision"] == 1
    assert s.put("a", "1")["header"]["revision"] == 2
    assert s.put("a", "1")["header"]["revision"] == 3  # the same value again is a change
    assert s.delete_range("missing")["header"]["revision"] == 3
    assert s.txn([{"key": "a", "target": "VALUE", "value": "x"}], [op(P("b"))])["header"] == {
        "revision": 3
    }
    assert s.txn(success=[op(D("missing"))])["header"]["revision"] == 3
    assert s.current_rev == 3


def test_versions_count_puts_in_a_generation():
    s = store()
    for value in ("1", "2", "3"):
        s.put("foo", value)
    kv = s.range("foo")["kvs"][0]
    assert (kv["create_revision"], kv["mod_revision"], kv["version"]) == (2, 4, 3)
    s.delete_range("foo")
    s.put("foo", "again")
    kv = s.range("foo")["kvs"][0]
    assert (kv["create_revision"], kv["mod_revision"], kv["version"]) == (6, 6, 1)


def three_keys() -> MVCCStore:
    s = store()
    for k in ("foo", "foo1", "foo2"):
        s.put(k, "bar")
    return s


@pytest.mark.parametrize(
    ("key", "end", "want"),
    [
        pytest.param("foo", None, ["foo"], id="no range end reads one key"),
        pytest.param("foo", "foo1", ["foo"], id="the range end is exclusive"),
        pytest.param("foo", "foo3", ["foo", "foo1", "foo2"], id="a range covers keys in order"),
        pytest.param("foo", prefix_end("foo"), ["foo", "foo1", "foo2"], id="a prefix"),
        pytest.param("foo1", "\0", ["foo1", "foo2"], id="range end \\0 reads from the key on"),
        pytest.param("\0", "\0", ["foo", "foo1", "foo2"], id="\\0 to \\0 reads everything"),
        pytest.param("foo3", "foo8", [], id="a range with no keys"),
        pytest.param("foo", "foo", [], id="key equal to range end is empty"),
        pytest.param("foo2", "foo", [], id="a range end before the key is empty"),
    ],
)
def test_range(key, end, want):
    resp = three_keys().range(key, end)
    assert keys(resp) == want and resp["count"] == len(want) and resp["header"]["revision"] == 4


@pytest.mark.parametrize(
    ("revision", "want", "error"),
    [
        pytest.param(-1, ["foo", "foo1", "foo2"], None, id="a negative revision means now"),
        pytest.param(0, ["foo", "foo1", "foo2"], None, id="revision 0 means now"),
        pytest.param(2, None, ERR_COMPACTED, id="below the compaction point is compacted"),
        pytest.param(3, ["foo", "foo1"], None, id="exactly the compaction point still reads"),
        pytest.param(4, ["foo", "foo1", "foo2"], None, id="the current revision"),
        pytest.param(5, None, ERR_FUTURE_REV, id="one past now is a future revision"),
    ],
)
def test_range_at_revision(revision, want, error):
    s = three_keys()
    s.compact(3)
    resp = s.handle(R("foo", prefix_end("foo"), revision=revision))
    assert error_of(resp) == error
    if want is not None:
        assert keys(resp) == want
        assert resp["header"]["revision"] == 4  # the header is always the current revision


@pytest.mark.parametrize(
    ("limit", "want", "more"),
    [
        pytest.param(0, 3, False, id="limit 0 means no limit"),
        pytest.param(1, 1, True, id="a limit below the count sets more"),
        pytest.param(2, 2, True, id="two of three"),
        pytest.param(3, 3, False, id="a limit equal to the count does not"),
        pytest.param(100, 3, False, id="a limit above the count does not"),
        pytest.param(-1, 3, False, id="a negative limit means no limit"),
    ],
)
def test_range_limit(limit, want, more):
    resp = three_keys().range("foo", "\0", limit=limit)
    assert (len(resp["kvs"]), resp["more"], resp["count"]) == (want, more, 3)


@pytest.mark.parametrize(
    ("options", "want"),
    [
        pytest.param({"sort_order": "DESCEND"}, ["c", "b", "a"], id="descending by key"),
        pytest.param({"sort_target": "VALUE"}, ["a", "c", "b"], id="a target alone sorts up"),
        pytest.param(
            {"sort_target": "VERSION", "sort_order": "DESCEND"},
            ["a", "b", "c"],
            id="descending by version keeps key order among equals",
        ),
        pytest.param({"sort_target": "MOD", "sort_order": "ASCEND"}, ["b", "c", "a"], id="by mod"),
        pytest.param(
            {"sort_target": "CREATE", "sort_order": "DESCEND", "limit": 1}, ["c"], id="then limit"
        ),
        pytest.param({"min_mod_revision": 4}, ["a", "c"], id="min_mod_revision filters"),
        pytest.param({"max_create_revision": 3}, ["a", "b"], id="max_create_revision filters"),
        pytest.param({"keys_only": True}, ["a", "b", "c"], id="keys only"),
    ],
)
def test_range_sort_and_filters(options, want):
    s = store()
    s.put("a", "z")  # 2
    s.put("b", "y")  # 3
    s.put("c", "x")  # 4
    s.put("a", "w")  # 5
    resp = s.range("a", "\0", **options)
    assert keys(resp) == want
    assert resp["count"] == 3  # counted before filters and limits
    if options.get("keys_only"):
        assert {kv["value"] for kv in resp["kvs"]} == {""}


def test_count_only_returns_no_kvs():
    resp = three_keys().range("foo", "\0", count_only=True, limit=1)
    assert (resp["kvs"], resp["count"], resp["more"]) == ([], 3, False)


@pytest.mark.parametrize(
    ("request_", "error"),
    [
        pytest.param(P("", "v"), ERR_EMPTY_KEY, id="a put needs a key"),
        pytest.param(R(""), ERR_EMPTY_KEY, id="a range needs a key"),
        pytest.param(D(""), ERR_EMPTY_KEY, id="a delete needs a key"),
        pytest.param(
            P("a", "v", ignore_value=True), ERR_VALUE_PROVIDED, id="ignore_value and a value"
        ),
        pytest.param(
            P("a", lease=1, ignore_lease=True), ERR_LEASE_PROVIDED, id="ignore_lease, lease"
        ),
        pytest.param(
            P("nope", ignore_value=True), ERR_KEY_NOT_FOUND, id="ignore_value needs a key"
        ),
        pytest.param(
            P("nope", "v", ignore_lease=True), ERR_KEY_NOT_FOUND, id="so does ignore_lease"
        ),
    ],
)
def test_request_errors(request_, error):
    s = store()
    assert error_of(s.handle(request_)) == error
    assert s.current_rev == 1


def test_put_prev_kv_and_ignore_flags():
    s = store()
    assert s.put("a", "1", prev_kv=True)["prev_kv"] is None
    prev = s.put("a", "2", prev_kv=True)["prev_kv"]
    assert (prev["value"], prev["mod_revision"]) == ("1", 2)
    s.lease_grant(60, lease_id=5)
    s.put("a", "3", lease=5)
    s.put("a", ignore_value=True, ignore_lease=True)
    kv = s.range("a")["kvs"][0]
    assert (kv["value"], kv["lease"], kv["version"]) == ("3", 5, 4)


@pytest.mark.parametrize(
    ("key", "end", "deleted", "revision"),
    [
        pytest.param("foo", None, 1, 5, id="one key"),
        pytest.param("foo", "foo1", 1, 5, id="a range holding one key"),
        pytest.param("foo", "foo2", 2, 5, id="two keys in one revision"),
        pytest.param("foo", "\0", 3, 5, id="from a key on"),
        pytest.param("foo3", "foo8", 0, 4, id="an empty range changes nothing"),
        pytest.param("foo3", None, 0, 4, id="a missing key changes nothing"),
    ],
)
def test_delete_range(key, end, deleted, revision):
    resp = three_keys().delete_range(key, end)
    assert (resp["deleted"], resp["header"]["revision"]) == (deleted, revision)


def test_deleting_twice_deletes_once():
    s = three_keys()
    assert s.delete_range("foo", prev_kv=True)["prev_kvs"][0]["value"] == "bar"
    assert s.delete_range("foo", prev_kv=True) == {
        "header": {"revision": 5},
        "deleted": 0,
        "prev_kvs": [],
    }


# --- txn -----------------------------------------------------------------------------------------


def cmp(key, target, result, operand, **extra):
    field = {"VERSION": "version", "CREATE": "create_revision", "MOD": "mod_revision"}
    field |= {"VALUE": "value", "LEASE": "lease"}
    return {"key": key, "target": target, "result": result, field[target]: operand, **extra}


@pytest.mark.parametrize(
    ("compares", "succeeded"),
    [
        pytest.param([], True, id="no compares succeed"),
        pytest.param([cmp("a", "VALUE", "EQUAL", "2")], True, id="value equal"),
        pytest.param([cmp("a", "VALUE", "GREATER", "1")], True, id="values compare as bytes"),
        pytest.param([cmp("a", "VERSION", "EQUAL", 2)], True, id="version"),
        pytest.param(
            [cmp("a", "CREATE", "EQUAL", 2), cmp("a", "MOD", "EQUAL", 3)], True, id="revs"
        ),
        pytest.param([cmp("a", "MOD", "LESS", 3)], False, id="mod less fails"),
        pytest.param(
            [cmp("a", "VERSION", "EQUAL", 2), cmp("b", "VERSION", "EQUAL", 9)], False, id="AND"
        ),
        pytest.param([cmp("a", "LEASE", "EQUAL", 0)], True, id="no lease compares as 0"),
        pytest.param([cmp("x", "MOD", "EQUAL", 0)], True, id="a missing key has mod_revision 0"),
        pytest.param([cmp("x", "VERSION", "LESS", 1)], True, id="and version 0"),
        pytest.param([cmp("x", "VALUE", "NOT_EQUAL", "v")], False, id="but no value at all"),
        pytest.param([cmp("x", "VALUE", "EQUAL", "")], False, id="not even an empty one"),
        pytest.param([cmp("a", "VERSION", "GREATER", 0, range_end="c")], True, id="over a range"),
        pytest.param([cmp("a", "VALUE", "EQUAL", "2", range_end="c")], False, id="every key"),
    ],
)
def test_txn_compares(compares, succeeded):
    s = store()
    s.put("a", "1")  # 2
    s.put("a", "2")  # 3
    s.put("b", "9")  # 4
    assert s.txn(compares)["succeeded"] is succeeded


def test_txn_runs_one_branch_at_one_revision_and_reads_its_own_writes():
    s = store()
    s.put("foo", "0")
    # a put and a delete of one key may share a txn only through the "from key" blind spot
    resp = s.txn(
        [cmp("foo", "VALUE", "EQUAL", "0")],
        [op(P("foo", "bar")), op(R("foo")), op(D("foo", "\0")), op(R("foo")), op(P("baz", "1"))],
        [op(R("foo"))],
    )
    assert resp["succeeded"] and resp["header"]["revision"] == 3
    put, read, delete, read_again, put2 = (next(iter(r.values())) for r in resp["responses"])
    assert put["header"]["revision"] == 3
    assert read["kvs"][0]["value"] == "bar" and read["header"]["revision"] == 3
    assert delete["deleted"] == 1 and read_again["kvs"] == []
    kv = s.range("baz")["kvs"][0]
    assert kv["mod_revision"] == 3 and s.current_rev == 3


def test_nested_txns_choose_their_branches_before_any_op_runs():
    s = store()
    resp = s.txn(
        success=[
            op(P("b", "1")),
            op(T([cmp("b", "VERSION", "EQUAL", 0)], [op(R("b"))], [op(D("a"))])),
        ]
    )
    inner = resp["responses"][1]["response_txn"]
    # the nested compare saw "b" absent (the state before the txn), though the put came first
    assert inner["succeeded"] and inner["header"] == {"revision": 0}
    assert inner["responses"][0]["response_range"]["kvs"][0]["value"] == "1"


@pytest.mark.parametrize(
    ("success", "failure", "error"),
    [
        pytest.param([op(P("x")), op(P("x"))], [], ERR_DUPLICATE_KEY, id="two puts of one key"),
        pytest.param([], [op(P("x")), op(P("x"))], ERR_DUPLICATE_KEY, id="in the failure branch"),
        pytest.param([op(P("x")), op(D("a", "z"))], [], ERR_DUPLICATE_KEY, id="a put in a delete"),
        pytest.param([op(P("x"))], [op(P("x"))], None, id="the same key in both branches"),
        pytest.param([op(D("a", "z")), op(D("b"))], [], None, id="overlapping deletes"),
        pytest.param([op(P("x")), op(D("a", "\0"))], [], None, id="a from-key delete is not seen"),
        pytest.param(
            [op(T([], [op(P("n"))])), op(T([], [op(D("n"))]))], [], None, id="nested put then del"
        ),
        pytest.param(
            [op(T([], [op(D("n"))])), op(T([], [op(P("n"))]))],
            [],
            ERR_DUPLICATE_KEY,
            id="nested delete then put",
        ),
        pytest.param([op(T([], [op(P("n"))])), op(P("n"))], [], ERR_DUPLICATE_KEY, id="nest + top"),
        pytest.param([op(T([], [op(P("n"))], [op(P("n"))]))], [], None, id="nested both branches"),
        pytest.param([{}], [], ERR_KEY_NOT_FOUND, id="an empty op"),
        pytest.param([op(P("x")) for _ in range(129)], [], ERR_TOO_MANY_OPS, id="129 ops"),
    ],
)
def test_txn_validation(success, failure, error):
    req = {"compare": [], "success": success, "failure": failure}
    if error is None:
        validate("txn", req)
    else:
        with pytest.raises(EtcdError) as err:
            validate("txn", req)
        assert (err.value.message, err.value.code) == (error, "InvalidArgument")


def test_txn_checks_leases_and_revisions_of_the_chosen_branch_only():
    s = store()
    s.put("a", "1")
    bad_lease = [op(P("x", lease=99))]
    assert error_of(s.handle(T([], bad_lease))) == "etcdserver: requested lease not found"
    assert not s.txn([cmp("a", "VERSION", "EQUAL", 9)], bad_lease)["succeeded"]
    assert error_of(s.handle(T([], [op(R("a", revision=5))]))) == ERR_FUTURE_REV
    assert s.current_rev == 2


# --- compaction (kv_test.go) -----------------------------------------------------------------------


def test_compaction_errors_in_sequence():
    """TestKVCompactBad: compacting at 0 works once (nothing was compacted yet)."""
    s = store()
    for v in ("bar0", "bar1", "bar2"):
        s.put("foo", v)
    results = [error_of(s.handle({"compaction": {"revision": r}})) for r in (0, 1, 1, 4, 5, 100)]
    assert results == [None, None, ERR_COMPACTED, None, ERR_FUTURE_REV, ERR_FUTURE_REV]


@pytest.mark.parametrize(
    ("at", "want"),
    [
        pytest.param(1, ("bar0", 2, 2, 1), id="before any put the first version survives"),
        pytest.param(2, ("bar1", 2, 3, 2), id="the newest version at the point is kept"),
        pytest.param(3, None, id="a key deleted at the point is gone entirely"),
        pytest.param(4, ("bar2", 5, 5, 1), id="the next generation is untouched"),
    ],
)
def test_compaction_keeps_the_last_value_at_the_point(at, want):
    """TestKVCompactReserveLastValue, with a compaction at each point in turn."""
    s = store()
    s.put("foo", "bar0")  # 2
    s.put("foo", "bar1")  # 3
    s.delete_range("foo")  # 4
    s.put("foo", "bar2")  # 5
    for rev in range(1, at + 1):
        s.compact(rev)
    got = s.range("foo", revision=at + 1)["kvs"]
    assert (None if not got else tuple(got[0][f] for f in ("value", "create_revision", "mod_revision", "version"))) == want  # fmt: skip


def test_compaction_drops_history_from_index_and_backend():
    s = store()
    s.put("a", "1")
    s.put("a", "2")
    s.put("b", "1")
    s.delete_range("b")
    assert len(s.backend.records) == 4
    s.compact(s.current_rev)
    assert len(s.index) == 1 and len(s.backend.records) == 1  # only a@3 is left
    assert s.range("a")["kvs"][0]["value"] == "2"


# --- watch (watchable_store_test.go) ---------------------------------------------------------------


def events(responses: list[dict]) -> list[tuple]:
    return [
        (e["type"], e["kv"]["key"], e["kv"]["mod_revision"], (e["prev_kv"] or {}).get("value"))
        for r in responses
        for e in r["events"]
    ]


def test_watch_from_now_sees_each_change_as_it_happens():
    s = store()
    created = s.watch("foo")
    assert created["created"] and created["header"] == {"revision": 1}
    s.put("foo", "bar")
    s.put("other", "x")
    s.txn(success=[op(P("foo", "baz")), op(P("foo2", "y"))])
    got = s.watch_responses(created["watch_id"])
    assert [r["header"]["revision"] for r in got] == [2, 4]
    assert events(got) == [("PUT", "foo", 2, None), ("PUT", "foo", 4, None)]


def test_watch_replays_history_with_prev_kv_and_delete_events():
    s = store()
    s.put("k", "1")
    s.put("k", "2")
    s.delete_range("k")
    s.put("k", "3")
    w = s.watch("k", start_revision=2, prev_kv=True)["watch_id"]
    got = s.watch_responses(w)
    assert len(got) == 1 and got[0]["header"]["revision"] == 5
    assert events(got) == [
        ("PUT", "k", 2, None),  # a create event has no prev_kv
        ("PUT", "k", 3, "1"),
        ("DELETE", "k", 4, "2"),  # a delete's prev_kv carries the deleted value
        ("PUT", "k", 5, None),
    ]
    delete = got[0]["events"][2]["kv"]
    assert (delete["create_revision"], delete["version"], delete["value"]) == (0, 0, "")


def test_watch_from_a_compacted_revision_is_created_then_canceled():
    s = store()
    for v in "123":
        s.put("k", v)
    s.compact(3)
    created = s.watch("k", start_revision=2)
    assert created["created"] and not created["canceled"]
    (cancel,) = s.watch_responses(created["watch_id"])
    assert cancel["canceled"] and cancel["compact_revision"] == 3
    assert cancel["header"] == {"revision": 0}  # 3.4 sends no revision here
    assert created["watch_id"] not in s.watches.ids()


def test_watch_at_the_compaction_point_replays_and_prev_kv_may_be_missing():
    s = store()
    for v in "1234":
        s.put("k", v)
    s.compact(4)
    w = s.watch("k", start_revision=4, prev_kv=True)["watch_id"]
    assert events(s.watch_responses(w)) == [("PUT", "k", 4, None), ("PUT", "k", 5, "3")]


def test_watch_from_a_future_revision_waits_for_it():
    s = store()
    w = s.watch("foo", start_revision=4)["watch_id"]
    for v in "123":
        s.put("foo", v)
    assert events(s.watch_responses(w)) == [("PUT", "foo", 4, None)]


def test_watch_replay_is_batched_by_1000_revisions():
    s = store()
    for i in range(2500):
        s.put("foo", str(i))
    w = s.watch("foo", start_revision=1)["watch_id"]
    assert [len(r["events"]) for r in s.watch_responses(w)] == [1000, 1000, 500]


@pytest.mark.parametrize(
    ("options", "want"),
    [
        pytest.param({"filters": ["NOPUT"]}, [("DELETE", "a", 4, None)], id="NOPUT"),
        pytest.param(
            {"filters": ["NODELETE"]}, [("PUT", "a", 2, None), ("PUT", "b", 3, None)], id="NODELETE"
        ),
        pytest.param({"filters": ["NOPUT", "NODELETE"]}, [], id="both filters send nothing"),
    ],
)
def test_watch_filters(options, want):
    s = store()
    w = s.watch("a", "\0", **options)["watch_id"]
    s.put("a", "1")
    s.put("b", "1")
    s.delete_range("a")
    got = s.watch_responses(w)
    assert events(got) == want and all(r["events"] for r in got)


def test_watch_refusals_cancel_and_progress():
    s = store()
    bad = s.watch("b", "a")
    assert (bad["watch_id"], bad["canceled"], bad["cancel_reason"]) == (
        -1,
        True,
        "mvcc: watcher range is empty",
    )
    w = s.watch("a", watch_id=7)
    assert w["watch_id"] == 7
    assert s.watch("a", watch_id=7)["cancel_reason"] == (
        "mvcc: duplicate watch ID provided on the WatchStream"
    )
    assert s.watches.progress(7) == {**w, "created": False}
    assert s.cancel_watch(7)["canceled"] and s.cancel_watch(7) is None
    s.put("a", "1")
    assert s.watch_responses(7) == []


# --- quota and alarms (etcdserver/quota.go, apply.go) ------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "cost"),
    [
        pytest.param(P("key", "value"), 256 + 3 + 5, id="a put costs 256 plus key and value"),
        pytest.param({"lease_grant": {"TTL": 5}}, 64, id="a lease grant costs 64"),
        pytest.param(
            T([], [op(P("a", "xx")), op(P("b"))], [op(P("c", "y" * 100))]),
            256 + 3 + 256 + 1,
            id="a txn costs its dearer branch",
        ),
        pytest.param(T([], [op(T([], [op(P("a", "1"))]))]), 0, id="nested puts cost nothing"),
        pytest.param(D("a"), 0, id="a delete costs nothing"),
        pytest.param({"compaction": {"revision": 1}}, 0, id="so does compaction"),
    ],
)
def test_quota_cost(request_, cost):
    ((kind, body),) = request_.items()
    assert request_cost(kind, body) == cost


def full_store() -> MVCCStore:
    """A store whose 64 KiB quota is used up, with the NOSPACE alarm raised."""
    s = store(quota_backend_bytes=64 * 1024, member_id=42)
    s.put("small", "1")
    s.lease_grant(60, lease_id=3)
    s.put("leased", "1", lease=3)
    for i in range(100):
        if "error" in s.handle(P(f"big{i:02d}", "v" * 4000)):
            break
    assert s.alarm_list() == {"alarms": [{"memberID": 42, "alarm": "NOSPACE"}]}
    return s


@pytest.mark.parametrize(
    ("request_", "error"),
    [
        pytest.param(R("small"), None, id="ranges are allowed"),
        pytest.param(P("small", "2"), ERR_NO_SPACE, id="puts are refused"),
        pytest.param(D("small"), None, id="deletes are allowed"),
        pytest.param(T([], [op(D("small"))]), None, id="a txn of deletes is allowed"),
        pytest.param(T([], [op(R("small"))]), None, id="a read-only txn is allowed"),
        pytest.param(
            T([cmp("small", "VERSION", "EQUAL", 1)], [op(R("small"))], [op(P("y", "1"))]),
            ERR_NO_SPACE,
            id="a txn with a put in either branch is refused, whichever runs",
        ),
        pytest.param(
            T([], [op(T([], [op(P("nested", "1"))]))]),
            None,
            id="a put nested in a txn slips through (upstream bug)",
        ),
        pytest.param({"lease_grant": {"ID": 9, "TTL": 10}}, ERR_NO_SPACE, id="grants are refused"),
        pytest.param({"lease_revoke": {"ID": 3}}, None, id="revokes are allowed"),
        pytest.param({"lease_keepalive": {"ID": 3}}, None, id="keepalives are allowed"),
        pytest.param({"compaction": {"revision": 2}}, None, id="compaction is allowed"),
        pytest.param({"defragment": {}}, None, id="defragmentation is allowed"),
    ],
)
def test_what_a_nospace_alarm_allows(request_, error):
    s = full_store()
    assert error_of(s.handle(request_)) == error


def test_nospace_recovery_needs_delete_compact_defrag_and_disarm():
    s = full_store()
    s.handle(D("big", "bih"))
    s.compact(s.current_rev)
    s.defragment()
    assert s.status()["dbSize"] < s.quota_bytes / 2
    assert error_of(s.handle(P("x", "1"))) == ERR_NO_SPACE  # the alarm outlives the cause
    assert s.status()["errors"] == ["memberID:42 alarm:NOSPACE "]
    assert s.alarm_disarm() == {"alarms": [{"memberID": 42, "alarm": "NOSPACE"}]}
    assert s.alarm_disarm() == {"alarms": []}  # nothing left to disarm
    assert error_of(s.handle(P("x", "1"))) is None and s.alarm_list() == {"alarms": []}


def test_disarming_while_still_full_raises_the_alarm_again_on_the_next_put():
    s = full_store()
    s.alarm_disarm()
    assert error_of(s.handle(P("x", "v" * 4000))) == ERR_NO_SPACE
    assert s.alarm_list()["alarms"] == [{"memberID": 42, "alarm": "NOSPACE"}]


def test_apply_time_quota_applies_the_write_then_answers_nospace():
    """A write that passed the leader's check can still overflow when applied: etcd applies it,
    answers NOSPACE and proposes the alarm (the host does that from `raise_alarm`)."""
    s = store(quota_backend_bytes=32 * 1024, member_id=7)
    for i in range(20):
        resp = s.apply(P(f"k{i}", "v" * 4000))
        if "error" in resp:
            break
    assert resp["error"]["message"] == ERR_NO_SPACE
    assert resp["raise_alarm"] == {"action": "ACTIVATE", "memberID": 7, "alarm": "NOSPACE"}
    assert s.range(f"k{i}")["count"] == 1  # applied all the same
    s.apply({"alarm": resp["raise_alarm"]})
    assert "raise_alarm" not in s.apply(P("again", "1"))  # capped now: refused, no new alarm


def test_a_corrupt_alarm_refuses_every_write_and_disarming_any_alarm_resets():
    s = store(member_id=1)
    s.put("a", "1")
    s.apply({"alarm": {"action": "ACTIVATE", "memberID": 2, "alarm": "CORRUPT"}})
    for request in (P("a", "2"), D("a"), {"compaction": {"revision": 2}}, T([], [op(D("a"))])):
        assert error_of(s.apply(request)) == ERR_CORRUPT
    assert s.read(R("a"))["count"] == 1  # reads do not go through the applier
    s.apply({"alarm": {"action": "DEACTIVATE", "memberID": 2, "alarm": "CORRUPT"}})
    assert error_of(s.apply(P("a", "2"))) is None


def test_a_negative_quota_disables_it():
    s = store(quota_backend_bytes=-1)
    assert s.quota_bytes is None and s.check_quota(P("k", "v" * 10**7)) is None


# --- the backend size model ---------------------------------------------------------------------------


def test_size_grows_with_history_and_only_defragmentation_shrinks_it():
    s = store()
    fresh = s.status()
    assert (fresh["dbSize"], fresh["dbSizeInUse"]) == (5 * PAGE_SIZE, 4 * PAGE_SIZE)
    for i in range(400):
        s.put(f"key{i % 10}", "x" * 100)
    grown = s.status()
    assert 400 * 150 < grown["dbSize"] < 400 * 250  # ~180 bytes a revision, as bbolt packs them
    s.compact(s.current_rev)
    compacted = s.status()
    assert (
        compacted["dbSize"] == grown["dbSize"] and compacted["dbSizeInUse"] < grown["dbSizeInUse"]
    )
    s.defragment()
    assert s.status()["dbSize"] == s.status()["dbSizeInUse"] + PAGE_SIZE < compacted["dbSize"]


def test_batched_commits_report_a_stale_size_until_the_next_commit():
    s = store(batch_commits=True)
    for i in range(50):
        s.put(f"k{i}", "x" * 1000)
    assert s.status()["dbSize"] == 5 * PAGE_SIZE
    s.commit()
    assert s.status()["dbSize"] > 50 * 1000


# --- the request API ---------------------------------------------------------------------------------


def test_requests_and_responses_are_plain_json():
    s = store()
    log = [P("a", "1"), T([cmp("a", "VALUE", "EQUAL", "1")], [op(P("b", "é"))]), D("a")]
    for entry in log:
        resp = s.apply(json.loads(json.dumps(entry)))
        assert json.loads(json.dumps(resp)) == resp
    assert s.range("b")["kvs"][0]["value"] == "é"


def test_bytes_that_are_not_utf8_round_trip():
    s = store()
    s.put(b"\xff\x00k", b"\x80\x81")
    kv = s.range(b"\xff", "\0")["kvs"][0]
    assert to_bytes(kv["key"]) == b"\xff\x00k" and to_bytes(kv["value"]) == b"\x80\x81"
    assert to_text(to_bytes(kv["key"])) == kv["key"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(lambda s: s.apply(R("a")), "'range' is not applied through Raft", id="ranges"),
        pytest.param(lambda s: s.apply({"put": {}, "range": {}}), "exactly one", id="two ops"),
        pytest.param(lambda s: s.handle({"frobnicate": {}}), "unknown request", id="unknown"),
        pytest.param(lambda s: s.read(P("a")), "'put' is not a read", id="reads"),
    ],
)
def test_malformed_requests_are_programming_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call(store())


def test_requests_larger_than_max_request_bytes_are_refused():
    s = store(max_request_bytes=1000)
    assert error_of(s.handle(P("k", "v" * 900))) is None
    assert error_of(s.handle(P("k", "v" * 2000))) == ERR_REQUEST_TOO_LARGE
    # gRPC itself refuses messages over the limit plus 512 KiB, before etcd looks at them
    resp = s.handle(P("k", "v" * 600_000))
    assert resp["error"] == {
        "code": "ResourceExhausted",
        "message": "grpc: received message larger than max (600007 vs. 525288)",
    }


@pytest.mark.parametrize(
    ("kind", "request_", "size"),
    [
        pytest.param("put", {"key": "k", "value": "v" * 2_500_000}, 2_500_008, id="a big put"),
        pytest.param("put", {"key": "k", "lease": 5, "prev_kv": True}, 3 + 2 + 2, id="flags"),
        pytest.param("range", {"key": "a", "range_end": "\0", "limit": 300}, 3 + 3 + 3, id="range"),
        pytest.param(
            "txn",
            {"compare": [cmp("a", "MOD", "EQUAL", 0)], "success": [op(P("a", "1"))]},
            (2 + 2 + 3 + 2) + (2 + 2 + 6),  # target, key, the zero operand; op, put
            id="a txn frames its compares and ops",
        ),
    ],
)
def test_message_sizes_are_protobuf_sizes(kind, request_, size):
    assert message_size(kind, request_) == size


def test_errors_carry_grpc_codes():
    err = EtcdError(ERR_COMPACTED)
    assert (err.code, err.grpc_code, str(err)) == ("OutOfRange", 11, ERR_COMPACTED)
    assert EtcdError("something else").code == "Unknown"
    assert EtcdError.from_dict(err.to_dict()) == err


# --- snapshots ---------------------------------------------------------------------------------------


def busy_store() -> MVCCStore:
    s = store(member_id=5)
    s.lease_grant(60, lease_id=11)
    for i in range(20):
        s.put(f"k{i % 4}", str(i), lease=11 if i % 3 == 0 else 0)
    s.delete_range("k3")
    s.compact(10)
    s.apply({"alarm": {"action": "ACTIVATE", "memberID": 5, "alarm": "NOSPACE"}})
    return s


def test_snapshot_bytes_are_deterministic_and_checksummed():
    data = busy_store().snapshot()
    assert data == busy_store().snapshot()
    with pytest.raises(SnapshotError, match="expected sha256"):
        MVCCStore.restore(data[:10] + b"X" + data[11:])
    with pytest.raises(SnapshotError, match="checksum not found"):
        MVCCStore.restore(b"tiny")


def test_restore_resumes_at_the_snapshot_revision_with_history_leases_and_alarms():
    old = busy_store()
    new = MVCCStore.restore(old.snapshot(), member_id=5)
    assert new.current_rev == old.current_rev == 22 and new.compact_main_rev == 10
    for rev in range(10, 23):
        assert new.range("\0", "\0", revision=rev) == old.range("\0", "\0", revision=rev)
    assert error_of(new.handle(R("k1", revision=9))) == ERR_COMPACTED
    assert new.alarm_list() == old.alarm_list() and new.applier == "capped"
    assert new.lessor.lookup(11).expiry_ns is None  # leases wait for a leader to promote them
    assert new.snapshot() == old.snapshot()
    new.alarm_disarm()
    new.lessor.promote(0)
    new.lease_revoke(11)
    assert keys(new.range("\0", "\0")) == ["k0", "k1"]  # the leased k2 is gone
    assert new.current_rev == 23


# --- auto-compaction (v3compactor tests) -------------------------------------------------------------


def run_compactor(compactor, wakes: int, start_rev: int, interval: int) -> list[tuple[int, int]]:
    """Wake the compactor `wakes` times, the revision growing by one per wake as upstream's
    fake revision getter does; returns (wake number, revision) of each compaction."""
    out, rev = [], start_rev
    for wake in range(1, wakes + 1):
        rev += 1
        target = compactor.compact_to(wake * interval, rev)
        if target is not None:
            out.append((wake, target))
    return out


def test_periodic_hourly_compacts_two_hours_back_then_every_hour():
    """TestPeriodicHourly: retention 2h records every 6 min; first at 2h (revision 1)."""
    c = PeriodicCompactor(2 * HOUR, 0, 1)
    got = run_compactor(c, 50, 1, 6 * MINUTE)
    assert got == [(20, 1), (30, 10), (40, 20), (50, 30)]


def test_periodic_minutes_compacts_every_period():
    """TestPeriodicMinutes: retention 5m records every 30 s and compacts every 5 minutes."""
    c = PeriodicCompactor(5 * MINUTE, 0, 1)
    got = run_compactor(c, 60, 1, 30 * 1_000_000_000)
    assert got == [(10, 1), (20, 10), (30, 20), (40, 30), (50, 40), (60, 50)]


def test_periodic_pause_keeps_recording_and_resumes_with_the_revision_of_one_period_ago():
    """TestPeriodicPause: paused for three hours, the first compaction after resuming is at
    the revision recorded one hour earlier (1 + 2n + 1 with n = 11 recorded revisions)."""
    c = PeriodicCompactor(HOUR, 0, 1)
    c.paused = True
    assert run_compactor(c, 33, 1, 6 * MINUTE) == []
    c.paused = False
    assert c.compact_to(34 * 6 * MINUTE, 35) == 1 + 2 * c.retentions + 1


def test_periodic_retries_after_a_failure():
    c = PeriodicCompactor(HOUR, 0, 1)
    assert run_compactor(c, 10, 1, 6 * MINUTE) == [(10, 1)]
    c.failed()
    assert c.compact_to(11 * 6 * MINUTE, 12) == 1  # retried at the next wake-up


def test_revision_compactor_keeps_the_last_n_revisions_every_five_minutes():
    """TestRevision: retention 10; nothing below 1, the same revision is not compacted twice."""
    c = RevisionCompactor(10, 0)
    assert not c.due(4 * MINUTE)
    assert c.compact_to(5 * MINUTE, 1) is None
    assert c.compact_to(10 * MINUTE, 100) == 90
    assert c.compact_to(15 * MINUTE, 100) is None
    assert c.compact_to(20 * MINUTE, 200) == 190
    c.paused = True
    assert c.compact_to(25 * MINUTE, 300) is None


@pytest.mark.parametrize(
    ("mode", "retention", "want"),
    [
        pytest.param("periodic", "1", HOUR, id="a plain number is hours in periodic mode"),
        pytest.param("periodic", "30m", 30 * MINUTE, id="or a Go duration"),
        pytest.param("revision", "1000", 1000, id="and a revision count in revision mode"),
        pytest.param("periodic", 0, 0, id="zero switches it off"),
    ],
)
def test_retention_parsing(mode, retention, want):
    assert parse_retention(mode, retention) == want


def test_new_compactor():
    assert new_compactor("periodic", "0", 0, 1) is None
    assert isinstance(new_compactor("revision", 5, 0, 1), RevisionCompactor)
    with pytest.raises(ValueError, match="unsupported compaction mode"):
        new_compactor("hourly", 1, 0, 1)


# --- properties ----------------------------------------------------------------------------------------

KEYS = ["a", "a/1", "a/2", "b", "c"]
write_ops = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.sampled_from(KEYS), st.text("xyz", max_size=3)),
        st.tuples(st.just("delete"), st.sampled_from(KEYS), st.booleans()),
        st.tuples(st.just("txn"), st.sampled_from(KEYS), st.integers(0, 6)),
    ),
    max_size=30,
)


def apply_write(s: MVCCStore, w: tuple) -> None:
    kind, key, arg = w
    if kind == "put":
        s.put(key, arg)
    elif kind == "delete":
        s.delete_range(key, prefix_end(key) if arg else None)
    else:  # compare-and-swap on mod_revision, as Kubernetes updates objects
        s.txn([cmp(key, "MOD", "EQUAL", arg)], [op(P(key, "cas"))], [op(D("c"))])


@settings(max_examples=60, deadline=None)
@given(before=write_ops, after=write_ops)
def test_a_range_at_a_revision_never_changes(before, after):
    s = store()
    seen = {}
    for w in before:
        apply_write(s, w)
        seen[s.current_rev] = s.range("\0", "\0")["kvs"]
    for w in after:
        apply_write(s, w)
    for rev, kvs in seen.items():
        assert s.range("\0", "\0", revision=rev)["kvs"] == kvs


@settings(max_examples=40, deadline=None)
@given(writes=write_ops, cut=st.integers(0, 40), more=write_ops)
def test_list_then_watch_rebuilds_the_current_state(writes, cut, more):
    """What an informer does: list at revision r, then apply the events watched from r + 1."""
    s = store()
    for w in writes:
        apply_write(s, w)
    at = max(1, min(cut, s.current_rev))
    s.compact(at)
    listed = {kv["key"]: kv for kv in s.range("\0", "\0", revision=at)["kvs"]}
    for w in more:
        apply_write(s, w)
    w_id = s.watch("\0", "\0", start_revision=at + 1)["watch_id"]
    for resp in s.watch_responses(w_id):
        for e in resp["events"]:
            if e["type"] == "PUT":
                listed[e["kv"]["key"]] = e["kv"]
            else:
                listed.pop(e["kv"]["key"], None)
    assert sorted(listed.values(), key=lambda kv: kv["key"]) == s.range("\0", "\0")["kvs"]


@settings(max_examples=40, deadline=None)
@given(writes=write_ops, cut=st.integers(0, 40))
def test_snapshot_restore_round_trips(writes, cut):
    s = store()
    for w in writes:
        apply_write(s, w)
    s.compact(min(cut, s.current_rev))
    t = MVCCStore.restore(s.snapshot())
    assert t.snapshot() == s.snapshot() and t.current_rev == s.current_rev
    for rev in range(max(s.compact_main_rev, 1), s.current_rev + 1):
        assert t.range("\0", "\0", revision=rev) == s.range("\0", "\0", revision=rev)


class NaiveStore:
    """The obviously right MVCC store: a full copy of the keyspace after every revision."""

    def __init__(self) -> None:
        self.states: dict[int, dict[str, tuple]] = {1: {}}
        self.rev = 1
        self.compacted = -1  # nothing compacted yet

    def write(self, changes: list[tuple[str, str | None]]) -> None:
        state = dict(self.states[self.rev])
        changed = False
        for key, value in changes:
            if value is None:
                changed |= state.pop(key, None) is not None
                continue
            old = state.get(key)
            create, version = (old[1], old[3] + 1) if old else (self.rev + 1, 1)
            state[key] = (value, create, self.rev + 1, version)
            changed = True
        if changed:
            self.rev += 1
            self.states[self.rev] = state

    def range(self, key: str, end: str | None, rev: int):
        if rev > self.rev:
            return ERR_FUTURE_REV
        rev = rev or self.rev
        if rev < self.compacted:
            return ERR_COMPACTED
        state = self.states[rev]
        found = [
            k
            for k in sorted(state)
            if (k == key if end is None else key <= k and (end == "\0" or k < end))
        ]
        return [(k, *state[k]) for k in found]


class MVCCAgainstNaive(RuleBasedStateMachine):
    """Random puts, deletes, compare-and-swap txns and compactions on both stores; every range
    at every revision must agree, errors included."""

    def __init__(self) -> None:
        super().__init__()
        self.real = store()
        self.naive = NaiveStore()

    @rule(key=st.sampled_from(KEYS), value=st.text("xyz", min_size=1, max_size=3))
    def put(self, key, value):
        self.real.put(key, value)
        self.naive.write([(key, value)])

    @rule(key=st.sampled_from(KEYS), prefix=st.booleans())
    def delete(self, key, prefix):
        self.real.delete_range(key, prefix_end(key) if prefix else None)
        doomed = [
            k
            for k in self.naive.states[self.naive.rev]
            if k == key or (prefix and k.startswith(key))
        ]
        self.naive.write([(k, None) for k in doomed])

    @rule(key=st.sampled_from(KEYS), back=st.integers(0, 3), value=st.text("xyz", min_size=1))
    def compare_and_swap(self, key, back, value):
        state = self.naive.states[self.naive.rev]
        expect = state[key][2] - back if key in state else back
        self.real.txn([cmp(key, "MOD", "EQUAL", expect)], [op(P(key, value))], [op(D("c"))])
        if (state[key][2] if key in state else 0) == expect:
            self.naive.write([(key, value)])
        else:
            self.naive.write([("c", None)])

    @precondition(lambda self: self.naive.rev > 1)
    @rule(back=st.integers(0, 5))
    def compact(self, back):
        rev = max(self.naive.rev - back, 1)
        resp = self.real.handle({"compaction": {"revision": rev}})
        if rev <= self.naive.compacted:
            assert error_of(resp) == ERR_COMPACTED
        else:
            assert error_of(resp) is None
            self.naive.compacted = rev

    @rule(
        key=st.sampled_from(["\0"] + KEYS),
        end=st.sampled_from([None, "\0", "b", "c"]),
        back=st.integers(-1, 8),
    )
    def range(self, key, end, back):
        rev = max(self.naive.rev - back, 0) if back >= 0 else self.naive.rev + 1
        want = self.naive.range(key, end, rev)
        resp = self.real.handle(R(key, end, revision=rev))
        if isinstance(want, str):
            assert error_of(resp) == want
        else:
            got = [(kv["key"], kv["value"], kv["create_revision"], kv["mod_revision"], kv["version"]) for kv in resp["kvs"]]  # fmt: skip
            assert got == want

    @invariant()
    def same_revision(self):
        assert self.real.current_rev == self.naive.rev


TestMVCCAgainstNaive = MVCCAgainstNaive.TestCase
TestMVCCAgainstNaive.settings = settings(max_examples=40, stateful_step_count=40, deadline=None)
