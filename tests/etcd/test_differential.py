"""Differential tests: the same operations on kube_teach's MVCCStore and on a real etcd 3.4.23
(Debian's /usr/bin/etcd on 127.0.0.1), compared response by response: revisions, versions,
create/mod revisions, values, counts, `more`, deleted counts, succeeded flags and error texts.

Each sequence starts both from scratch. Lease TTLs left (time-dependent) are not compared; the
space-quota story compares behaviour (which requests fail with which text, the alarm, recovery),
not byte counts; the size model is only checked to be roughly where etcd is.
"""

from __future__ import annotations

import random
import time

import pytest

from kube_teach.etcd.mvcc import MVCCStore
from kube_teach.etcd.mvcc_txn import prefix_end

from .real_etcd import RealEtcd, etcd_missing_reason, normalize_watch, real_etcd_factory

__all__ = ["real_etcd_factory"]  # the fixture, re-exported for pytest

pytestmark = [
    pytest.mark.skipif(etcd_missing_reason() is not None, reason=str(etcd_missing_reason())),
    pytest.mark.timeout(120),
]


def P(key, value="", **opts):
    return {"put": {"key": key, "value": value, **opts}}


def R(key, end=None, **opts):
    return {"range": {"key": key, "range_end": end, **opts}}


def D(key, end=None, **opts):
    return {"delete_range": {"key": key, "range_end": end, **opts}}


def T(compare=(), success=(), failure=()):
    return {"txn": {"compare": list(compare), "success": list(success), "failure": list(failure)}}


def op(request):
    """A txn op from a request: `op(P("a"))` is `{"request_put": {...}}`."""
    ((kind, body),) = request.items()
    return {f"request_{kind}": body}


def cmp(key, target, result, operand=None, range_end=None):
    field = {
        "VERSION": "version",
        "CREATE": "create_revision",
        "MOD": "mod_revision",
        "VALUE": "value",
        "LEASE": "lease",
    }[target]
    c = {"key": key, "target": target, "result": result, field: operand}
    if range_end is not None:
        c["range_end"] = range_end
    return c


def GRANT(lease_id, ttl):
    return {"lease_grant": {"ID": lease_id, "TTL": ttl}}


def REVOKE(lease_id):
    return {"lease_revoke": {"ID": lease_id}}


def TTL(lease_id):
    return {"lease_time_to_live": {"ID": lease_id, "keys": True}}


def COMPACT(rev):
    return {"compaction": {"revision": rev}}


def comparable(request, resp):
    """Drop what depends on wall time: the remaining TTL of a lease."""
    if "lease_time_to_live" in request and "TTL" in resp and resp["TTL"] != -1:
        return {**resp, "TTL": "time-dependent"}
    return resp


class Pair:
    """A real etcd and a model started from scratch, fed the same requests."""

    def __init__(self, real: RealEtcd, **model_options) -> None:
        self.real = real
        self.model = MVCCStore(member_id=real.member_id, **model_options)
        self.model.lessor.promote(0)  # a one-member etcd is the leader: its lessor is primary

    def both(self, request: dict) -> tuple[dict, dict]:
        return (
            comparable(request, self.real.request(request)),
            comparable(request, self.model.handle(request)),
        )

    def check(self, request: dict, step: object = "") -> dict:
        real, model = self.both(request)
        assert model == real, f"step {step}: {request}"
        return model


# --- table-driven sequences ------------------------------------------------------------------------

SEQUENCES = [
    pytest.param(
        [P("a", "1"), P("a", "1"), D("missing"), T([cmp("a", "VALUE", "EQUAL", "2")], [op(P("b"))])]
        + [T([], [op(D("missing"))]), T([], [op(R("a"))]), P("b", "2"), R("a", "c")],
        id="revisions start at 1, every change bumps them once and no-op writes never do",
    ),
    pytest.param(
        [P("k", "1"), P("k", "2"), R("k"), D("k"), R("k"), R("k", revision=3), P("k", "3"), R("k")]
        + [R("k", revision=4), R("k", revision=5)],
        id="version counts puts in a generation and a delete starts a new generation",
    ),
    pytest.param(
        [P(k, v) for k, v in [("a", "3"), ("a/1", "1"), ("a/2", "2"), ("b", "1"), ("c", "0")]]
        + [P("a/1", "9"), R("a/", prefix_end("a/")), R("a", "\0"), R("\0", "\0"), R("b", "a")]
        + [R("a", "\0", limit=2), R("a", "\0", limit=5), R("a", "\0", limit=9)]
        + [R("a", "\0", limit=2, count_only=True), R("a", "\0", keys_only=True)]
        + [R("a", "\0", sort_order="DESCEND"), R("a", "\0", sort_target="VALUE")]
        + [R("a", "\0", sort_target="VERSION", sort_order="DESCEND", limit=2)]
        + [R("a", "\0", sort_target="MOD", sort_order="ASCEND", limit=3)]
        + [R("a", "\0", sort_target="CREATE", sort_order="DESCEND")]
        + [R("a", "\0", min_mod_revision=4), R("a", "\0", max_mod_revision=4, limit=1)]
        + [R("a", "\0", min_create_revision=3, max_create_revision=5)],
        id="range reads a key, a prefix or from a key, with limit, count, keys only, sort and filters",
    ),
    pytest.param(
        [P("a", "1"), P("a", "2"), P("b", "1"), R("a", revision=2), R("a", revision=4)]
        + [R("a", revision=5), R("a", "\0", revision=3), COMPACT(3), R("a", revision=2)]
        + [R("a", revision=3), R("a", revision=0), R("", "\0"), R("")],
        id="range at an old revision works until compacted; a future revision is an error",
    ),
    pytest.param(
        [P("a", "1", prev_kv=True), P("a", "2", prev_kv=True), P("a", ignore_value=True)]
        + [P("a", "x", ignore_value=True), P("a", ignore_lease=True, lease=7)]
        + [P("nope", ignore_value=True), P("nope", "v", ignore_lease=True), P("", "v")]
        + [P("a", "3", lease=12345), GRANT(500, 60), P("a", "4", lease=500), R("a")]
        + [P("a", "5", ignore_lease=True), R("a"), P("a", "6"), R("a"), TTL(500)]
        + [P("b", ignore_value=True, ignore_lease=True)],
        id="put returns prev_kv and keeps value or lease when told to, with etcd's errors",
    ),
    pytest.param(
        [P("a", "1"), P("a", "2"), P("b", "x"), GRANT(700, 30), P("c", "y", lease=700)]
        + [T([cmp("a", "VALUE", "EQUAL", "2")], [op(P("r", "1"))], [op(R("a"))])]
        + [T([cmp("a", "VALUE", "GREATER", "1"), cmp("a", "VERSION", "EQUAL", 2)], [op(R("a"))])]
        + [T([cmp("a", "CREATE", "LESS", 3), cmp("a", "MOD", "NOT_EQUAL", 3)], [op(R("a"))])]
        + [T([cmp("missing", "MOD", "EQUAL", 0)], [op(P("created", "1"))], [op(R("created"))])]
        + [T([cmp("missing", "MOD", "EQUAL", 0)], [op(P("created", "2"))], [op(R("created"))])]
        + [T([cmp("missing", "VALUE", "NOT_EQUAL", "x")], [op(R("a"))], [op(R("b"))])]
        + [T([cmp("missing", "VALUE", "EQUAL", "")], [op(R("a"))], [op(R("b"))])]
        + [T([cmp("c", "LEASE", "EQUAL", 700)], [op(D("c"))]), T([cmp("a", "LEASE", "EQUAL", 0)])]
        + [T([cmp("a", "VERSION", "GREATER", 0, range_end="c")], [op(R("a", "\0"))])]
        + [T([cmp("a", "VALUE", "LESS", "z", range_end="\0")], [op(R("a", "\0"))])]
        + [T([cmp("a", "VERSION", "EQUAL", 2)], [op(P("a", "3")), op(R("a")), op(D("b"))])],
        id="txn compares value, version, create, mod and lease; a missing key is all zeros",
    ),
    pytest.param(
        [P("a", "1"), P("f", "1")]
        + [T([], [op(P("x")), op(P("x"))]), T([], [], [op(P("x")), op(P("x"))])]
        + [T([], [op(P("x")), op(D("a", "z"))]), T([], [op(D("x")), op(P("x"))])]
        + [T([], [op(P("x"))], [op(P("x"))]), T([], [op(D("a", "z")), op(D("a", "z"))])]
        + [T([], [op(P("g")), op(D("a", "\0"))]), R("\0", "\0")]
        + [T([], [op(P("h")), op(D("\0", "\0"))]), R("\0", "\0")]
        + [T([], [op(T([], [op(P("n"))])), op(T([], [op(D("n"))]))]), R("n")]
        + [T([], [op(T([], [op(D("m"))])), op(T([], [op(P("m"))]))])]
        + [T([], [op(T([], [op(P("m"))], [op(P("m"))]))]), R("m")]
        + [T([], [op(T([], [op(P("o"))])), op(P("o"))])]
        + [T([], [op(T([], [op(P("q"))])), op(D("q"))])],
        id="txn rejects overlapping writes as etcd does, including its blind spots",
    ),
    pytest.param(
        [T([cmp("", "VERSION", "EQUAL", 0)]), T([], [{}]), T([], [op(P(""))]), T([], [op(R(""))])]
        + [T([], [op(D(""))]), T([], [op(P("a", "v", ignore_value=True))])]
        + [T([], [op(P(f"k{i}")) for i in range(129)]), T([cmp("a", "MOD", "EQUAL", 0)] * 129)]
        + [T([], [op(P(f"k{i}")) for i in range(128)]), R("k", "l", count_only=True)]
        + [T([], [op(P("x", lease=9))]), T([], [op(R("a", revision=99))])]
        + [T([], [op(P("y")), op(R("a", revision=99))]), T([], [op(P("z", ignore_lease=True))])],
        id="txn validation: empty keys and ops, 128 ops at most, leases and revisions checked",
    ),
    pytest.param(
        [P("a", "1"), P("a", "2"), D("a"), P("b", "1"), P("a", "3"), COMPACT(0), COMPACT(0)]
        + [COMPACT(99), COMPACT(4), R("a", revision=3), R("a", revision=4), R("b", revision=4)]
        + [COMPACT(4), COMPACT(3), COMPACT(6), R("a", "\0", revision=6), COMPACT(7), P("c", "1")]
        + [R("\0", "\0"), T([], [op(R("a", revision=5))])],
        id="compaction: past or repeated is compacted, ahead is future, the point stays readable",
    ),
    pytest.param(
        [GRANT(100, 1), GRANT(100, 5), GRANT(101, 9_000_000_001), GRANT(102, -5), TTL(102)]
        + [
            GRANT(103, 60),
            P("l1", "v", lease=100),
            P("l2", "v", lease=100),
            P("l3", "v", lease=103),
        ]
        + [TTL(100), TTL(999), P("l2", "w"), TTL(100), P("l3", "x", lease=100), TTL(103)]
        + [REVOKE(100), R("l", "m"), REVOKE(100), REVOKE(103), TTL(103), REVOKE(999)]
        + [GRANT(104, 10), REVOKE(104), P("l9", lease=104), {"lease_keepalive": {"ID": 999}}],
        id="leases: minimum TTL, errors, attach and detach, revoke deletes keys in one revision",
    ),
    pytest.param(
        [P(k, k.upper()) for k in ["a", "a/1", "a/2", "b", "b/1", "c"]]
        + [D("a/", prefix_end("a/"), prev_kv=True), D("zzz", prev_kv=True)]
        + [D("b", "\0", prev_kv=True), R("\0", "\0"), P("b", "again"), D("\0", "\0"), R("a", "\0")]
        + [D("a", prev_kv=True)],
        id="delete_range removes a key, a prefix or the rest, returning prev_kvs when asked",
    ),
    pytest.param(
        [P("a", "1")]
        + [
            T(
                [],
                [op(P("b")), op(T([cmp("b", "VERSION", "EQUAL", 0)], [op(R("b"))], [op(D("a"))]))],
            )
        ]
        + [T([cmp("a", "VERSION", "EQUAL", 0)], [], [op(T([], [op(R("\0", "\0"))]))])]
        + [T([], [op(T([], [op(T([], [op(P("deep"))]))]))]), R("deep")],
        id="nested txns decide their branches up front, run in one revision, report empty headers",
    ),
    pytest.param(
        [P("big", "v" * 1_572_700), P("big", "v" * 1_572_900), P("big", "v" * 2_500_000)]
        + [P("big", "v" * 2_097_145), R("big", keys_only=True)],
        id="requests over --max-request-bytes fail in Raft, and far over it in gRPC",
    ),
]


@pytest.mark.parametrize("requests", SEQUENCES)
def test_sequence_matches_real_etcd(real_etcd_factory, requests):
    pair = Pair(real_etcd_factory())
    for step, request in enumerate(requests):
        pair.check(request, step)


# --- watches -----------------------------------------------------------------------------------------


def _model_watch(model: MVCCStore, create: dict) -> list[dict]:
    opts = dict(create)
    key, end = opts.pop("key"), opts.pop("range_end", None)
    created = model.watch(key, end, **opts)
    out = [created] + (
        model.watch_responses(created["watch_id"]) if created["watch_id"] >= 0 else []
    )
    if created["watch_id"] >= 0:
        model.cancel_watch(created["watch_id"])
    return [{k: v for k, v in r.items() if k != "watch_id"} for r in out]


WATCHES = [
    ({"key": "w", "start_revision": 2}, "one key from the start: every event, create and delete"),
    ({"key": "w", "start_revision": 2, "prev_kv": True}, "prev_kv on all but create events"),
    ({"key": "w", "range_end": "x", "start_revision": 4}, "a range from a middle revision"),
    ({"key": "w", "range_end": "\0", "start_revision": 6, "prev_kv": True}, "from a key on"),
    ({"key": "w", "range_end": "x", "start_revision": 3, "filters": ["NOPUT"]}, "NOPUT filter"),
    ({"key": "w", "range_end": "x", "start_revision": 2, "filters": ["NODELETE"]}, "NODELETE"),
    ({"key": "wz", "range_end": "wa", "start_revision": 2}, "an empty range is refused"),
    ({"key": "w", "start_revision": 99}, "a future start waits"),
    ({"key": "w", "range_end": "x", "start_revision": 1}, "compacted start is canceled"),
    (
        {"key": "w", "range_end": "x", "start_revision": 5, "prev_kv": True},
        "at the compaction point",
    ),
]


def test_watches_match_real_etcd(real_etcd_factory):
    pair = Pair(real_etcd_factory())
    story = [P("w", "1"), P("w", "2"), D("w"), P("w", "3"), P("wb", "1"), P("wa", "x")]
    story += [T([], [op(P("wc", "1")), op(P("wd", "1"))]), D("wa", "wz"), P("w", "4")]
    for request in story:
        pair.check(request)
    for i, (create, _story) in enumerate(WATCHES):
        if i == len(WATCHES) - 2:
            pair.check(COMPACT(5))
        model = _model_watch(pair.model, create)
        real = [normalize_watch(r) for r in pair.real.watch(create, len(model), timeout_s=2.0)]
        assert model == real, _story


# --- lease expiry ----------------------------------------------------------------------------------


def test_lease_expiry_deletes_the_keys_in_one_revision_as_real_etcd(real_etcd_factory):
    pair = Pair(real_etcd_factory())
    for request in [GRANT(42, 1), GRANT(43, 60), P("x/a", "1", lease=42), P("x/b", "2", lease=42)]:
        pair.check(request)
    pair.check(P("x/c", "3", lease=43))
    pair.check(P("x/d", "4", lease=42))
    pair.check({"lease_keepalive": {"ID": 43}})
    # the model's leader sees lease 42 expire at its (raised) TTL and proposes the revoke
    assert pair.model.expired_leases(1_999_000_000) == []
    assert pair.model.expired_leases(2_000_000_000) == [42]
    pair.model.apply(REVOKE(42))
    # the real etcd does the same on its own, within TTL + 500 ms + a Raft round
    deadline = time.monotonic() + 8
    while pair.real.request(R("x/a"))["count"] and time.monotonic() < deadline:
        time.sleep(0.1)
    pair.check(R("x/", "x0"))
    pair.check(TTL(42))
    watch = {"key": "x/", "range_end": "x0", "start_revision": 2, "prev_kv": True}
    model = _model_watch(pair.model, watch)
    assert [normalize_watch(r) for r in pair.real.watch(watch, len(model))] == model
    deletes = [e["kv"]["mod_revision"] for e in model[1]["events"] if e["type"] == "DELETE"]
    assert deletes == [6, 6, 6]


# --- a seeded random generator ----------------------------------------------------------------------

KEYS = ["a", "a/1", "a/2", "b", "b/1", "c", "d", "e"]  # <= 12 keys: sorting ties match Go's


def _random_request(rng: random.Random, model: MVCCStore, leases: list[int]) -> dict:
    key = rng.choice(KEYS)
    end = rng.choice([None, None, prefix_end(key), "\0", rng.choice(KEYS)])
    cur, compacted = model.current_rev, max(model.compact_main_rev, 0)
    rev = rng.choice([0, 0, 0, rng.randint(max(1, compacted - 2), cur + 2)])
    kind = rng.choices(
        ["put", "range", "delete", "txn", "compact", "grant", "revoke", "ttl"],
        weights=[35, 20, 8, 20, 4, 5, 4, 4],
    )[0]
    if kind == "put":
        lease = rng.choice([0] * 6 + leases[-3:] + [424242])
        opts = {"prev_kv": rng.random() < 0.3}
        if rng.random() < 0.1:
            return P(key, ignore_value=True, **opts)
        if rng.random() < 0.1:
            return P(key, f"v{rng.randint(0, 9)}", ignore_lease=True, **opts)
        return P(key, f"v{rng.randint(0, 9)}", lease=lease, **opts)
    if kind == "range":
        opts = {"revision": rev}
        if rng.random() < 0.3:
            opts["limit"] = rng.randint(1, 4)
        if rng.random() < 0.2:
            opts["sort_order"] = rng.choice(["ASCEND", "DESCEND"])
            opts["sort_target"] = rng.choice(["KEY", "VERSION", "CREATE", "MOD", "VALUE"])
        if rng.random() < 0.1:
            opts["count_only"] = True
        if rng.random() < 0.1:
            opts["min_mod_revision"] = rng.randint(1, cur)
        return R(key, end, **opts)
    if kind == "delete":
        return D(key, end, prev_kv=rng.random() < 0.5)
    if kind == "txn":
        return _random_txn(rng, model, depth=0)
    if kind == "compact":
        return COMPACT(rng.randint(max(0, compacted - 1), cur + 1))
    if kind == "grant":
        new = 1000 + len(leases)
        leases.append(new)
        # no short TTLs here: a real lease expiring mid-sequence would be a timing race
        return GRANT(rng.choice([new, new, leases[0]]), rng.choice([30, 60, 10**10]))
    if kind == "revoke":
        return REVOKE(rng.choice(leases + [31337]) if leases else 31337)
    return TTL(rng.choice(leases + [31337]) if leases else 31337)


def _random_txn(rng: random.Random, model: MVCCStore, depth: int) -> dict:
    compares = []
    for _ in range(rng.randint(0, 2)):
        target = rng.choice(["VERSION", "CREATE", "MOD", "VALUE", "LEASE"])
        operand = f"v{rng.randint(0, 9)}" if target == "VALUE" else rng.randint(0, 3)
        if target in ("CREATE", "MOD"):
            operand = rng.randint(0, model.current_rev)
        result = rng.choice(["EQUAL", "NOT_EQUAL", "GREATER", "LESS"])
        compares.append(cmp(rng.choice(KEYS), target, result, operand))

    def branch() -> list[dict]:
        ops = []
        for _ in range(rng.randint(0, 3)):
            k = rng.choice(KEYS)
            pick = rng.random()
            if pick < 0.4:
                ops.append(op(P(k, f"v{rng.randint(0, 9)}", prev_kv=rng.random() < 0.3)))
            elif pick < 0.7:
                ops.append(op(R(k, rng.choice([None, "\0", prefix_end(k)]))))
            elif pick < 0.9 or depth > 0:
                ops.append(op(D(k, rng.choice([None, prefix_end(k)]), prev_kv=True)))
            else:
                ops.append(op(_random_txn(rng, model, depth + 1)))
        return ops

    return T(compares, branch(), branch())


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_operations_match_real_etcd(real_etcd_factory, seed):
    pair = Pair(real_etcd_factory())
    rng = random.Random(f"differential/{seed}")
    leases: list[int] = []
    for step in range(150):
        pair.check(_random_request(rng, pair.model, leases), step)
    pair.check(R("\0", "\0"))


# --- space quota: NOSPACE and recovery ----------------------------------------------------------------

QUOTA = 1024 * 1024
BIG = "v" * 20_000


def _fill_until_nospace(server, limit: int = 400) -> tuple[int, dict]:
    for i in range(limit):
        resp = server(P(f"big{i:03d}", BIG))
        if "error" in resp:
            return i, resp
    raise AssertionError(f"no NOSPACE after {limit} puts of {len(BIG)} bytes")


def test_nospace_alarm_and_recovery_match_real_etcd(real_etcd_factory):
    real = real_etcd_factory(quota_backend_bytes=QUOTA)
    # etcd checks the quota against a size refreshed when its write batch commits (every
    # 100 ms), so a burst of puts overshoots by a timing-dependent amount. A model committing
    # on every write stops first; a model with batched commits, committed once the real etcd
    # has refused a put, holds exactly the same keys at the same revisions.
    on_time = MVCCStore(quota_backend_bytes=QUOTA)
    model = MVCCStore(member_id=real.member_id, quota_backend_bytes=QUOTA, batch_commits=True)
    model.lessor.promote(0)
    pair = Pair(real)
    pair.model = model
    for request in [P("small1", "1"), P("small2", "2"), GRANT(7, 60), P("leased", "v", lease=7)]:
        pair.check(request)
        on_time.handle(request)
    n_real, err_real = _fill_until_nospace(real.request)
    n_on_time, err_on_time = _fill_until_nospace(on_time.handle)
    assert n_real >= 0.8 * n_on_time, "the model's file grows much slower than etcd's"
    for i in range(n_real):
        assert "error" not in model.handle(P(f"big{i:03d}", BIG))
    model.commit()
    assert err_real == err_on_time
    if real.request(R(f"big{n_real:03d}"))["count"]:
        # the put passed etcd's front-end check but not the check made when it was applied:
        # it was applied all the same, answered NOSPACE, and the member raised the alarm
        resp = model.apply(P(f"big{n_real:03d}", BIG))
        assert {"error": resp["error"]} == err_real
        model.apply({"alarm": resp["raise_alarm"]})
    elif model.check_quota(P(f"big{n_real:03d}", BIG)) is not None:
        assert model.handle(P(f"big{n_real:03d}", BIG)) == err_real
    else:  # etcd's file grew a little faster than the model's: raise the alarm as etcd did
        model.apply({"alarm": model.nospace_alarm_request()})

    under_alarm = [
        {"alarm": {"action": "GET"}},
        P("x", "1"),
        P("small1", ignore_value=True),
        D("small1", prev_kv=True),
        T([cmp("nokey", "VERSION", "EQUAL", 0)], [op(R("small2"))], [op(P("y", "1"))]),
        T([cmp("nokey", "VERSION", "EQUAL", 0)], [op(D("small2"))], [op(P("y", "1"))]),
        T([], [op(T([], [op(P("nested", "1"))]))]),  # a put in a nested txn costs nothing
        T([], [op(D("small2", prev_kv=True))]),
        T([], [op(R("nested"))]),
        GRANT(8, 10),
        {"lease_keepalive": {"ID": 7}},
        REVOKE(7),
        R("leased"),
        R("\0", "\0", count_only=True),
        # compaction and defragmentation alone do not help: the keys are still there
        COMPACT(n_real + 8),
        {"defragment": {}},
        P("x", "2"),
        {"alarm": {"action": "DEACTIVATE", "memberID": real.member_id, "alarm": "NOSPACE"}},
        {"alarm": {"action": "GET"}},
        P("x", "3"),  # still over the quota: refused, and the alarm is back
        {"alarm": {"action": "GET"}},
        # the recipe: delete, compact, defragment, disarm
        D("big", "bih"),
        COMPACT(n_real + 9),
        {"defragment": {}},
    ]
    for step, request in enumerate(under_alarm):
        pair.check(request, step)
    time.sleep(0.25)  # let etcd's backend batch commit so the sizes it checks are fresh
    model.commit()
    status_real, status_model = real.request({"status": {}}), model.handle({"status": {}})
    for _ in range(40):  # a loaded machine: give the real etcd's raised alarm time to show
        if status_real["errors"]:
            break
        time.sleep(0.125)
        status_real = real.request({"status": {}})
    assert (
        status_real["errors"]
        == status_model["errors"]
        == [f"memberID:{real.member_id} alarm:NOSPACE "]
    )
    recovery = [
        P("x", "4"),  # the alarm is still on after defragmentation
        {"alarm": {"action": "DEACTIVATE", "memberID": real.member_id, "alarm": "NOSPACE"}},
        {"alarm": {"action": "GET"}},
        P("x", "5"),
        GRANT(9, 10),
        R("\0", "\0"),
    ]
    for step, request in enumerate(recovery):
        pair.check(request, step)


# --- the size model, roughly calibrated -------------------------------------------------------------


def test_backend_size_model_is_close_to_real_etcd(real_etcd_factory):
    pair = Pair(real_etcd_factory())

    def sizes() -> tuple[tuple[int, int], tuple[int, int]]:
        time.sleep(0.25)  # etcd refreshes its sizes when the backend batch commits (100 ms)
        real, model = pair.real.request({"status": {}}), pair.model.status()
        return (real["dbSize"], real["dbSizeInUse"]), (model["dbSize"], model["dbSizeInUse"])

    def close(a: int, b: int) -> bool:
        return 0.75 * a <= b <= 1.33 * a

    fresh_real, fresh_model = sizes()
    assert fresh_model == (20480, 16384)  # five pages, one of them free, as a fresh etcd
    assert close(fresh_real[0], fresh_model[0]), fresh_real
    for i in range(300):
        pair.check(P(f"key{i % 30:04d}", f"{i:05d}" * 60))  # 300-byte values, 30 keys
    grown_real, grown_model = sizes()
    assert close(grown_real[0], grown_model[0]), (grown_real, grown_model)
    pair.check({"compaction": {"revision": pair.model.current_rev, "physical": True}})
    pair.check(P("after", "1"))  # bbolt frees the compacted pages when the next write begins
    compacted_real, compacted_model = sizes()
    # compaction frees pages inside the file but never shrinks it
    assert compacted_real[0] >= grown_real[0] and compacted_model[0] == grown_model[0]
    assert compacted_real[1] < grown_real[1] and compacted_model[1] < grown_model[1]
    pair.check({"defragment": {}})
    defrag_real, defrag_model = sizes()
    assert defrag_real[0] < compacted_real[0] and defrag_model[0] < compacted_model[0]
    assert close(defrag_real[0], defrag_model[0]), (defrag_real, defrag_model)
    assert close(defrag_real[1], defrag_model[1]), (defrag_real, defrag_model)
