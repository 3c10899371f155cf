"""Requests to the MVCC store as data: field conventions, enums, and the checks etcd makes before
a request reaches Raft (empty keys, flag conflicts, txn size, overlapping writes, quota cost).

Semantics: etcd 3.4 etcdserver/api/v3rpc/key.go (checkRangeRequest, checkPutRequest,
checkTxnRequest, checkIntervals), etcdserver/quota.go (request costs) and v3_server.go
(isTxnReadonly). Requests are dicts with the field names of etcd's protobuf/JSON API.
"""

from __future__ import annotations

from .errors import (
    ERR_DUPLICATE_KEY,
    ERR_EMPTY_KEY,
    ERR_KEY_NOT_FOUND,
    ERR_LEASE_PROVIDED,
    ERR_TOO_MANY_OPS,
    ERR_VALUE_PROVIDED,
    EtcdError,
)

SORT_ORDER = {"NONE": 0, "ASCEND": 1, "DESCEND": 2}
SORT_TARGET = {"KEY": 0, "VERSION": 1, "CREATE": 2, "MOD": 3, "VALUE": 4}
COMPARE_RESULT = {"EQUAL": 0, "GREATER": 1, "LESS": 2, "NOT_EQUAL": 3}
COMPARE_TARGET = {"VERSION": 0, "CREATE": 1, "MOD": 2, "VALUE": 3, "LEASE": 4}
ALARM_ACTION = {"GET": 0, "ACTIVATE": 1, "DEACTIVATE": 2}
ALARM_TYPE = {"NONE": 0, "NOSPACE": 1, "CORRUPT": 2}
WATCH_FILTER = {"NOPUT": 0, "NODELETE": 1}
ALARM_NAME = {v: k for k, v in ALARM_TYPE.items()}

# Which field of a Compare carries the operand for each target.
COMPARE_FIELD = {0: "version", 1: "create_revision", 2: "mod_revision", 3: "value", 4: "lease"}

KV_OVERHEAD = 256  # quota cost of a put beyond its key and value (etcdserver/quota.go)
LEASE_OVERHEAD = 64  # quota cost of a lease grant
DEFAULT_MAX_TXN_OPS = 128
DEFAULT_MAX_REQUEST_BYTES = 1536 * 1024

TXN_OPS = ("request_range", "request_put", "request_delete_range", "request_txn")


def to_bytes(x: str | bytes | bytearray | None) -> bytes:
    """Keys and values as bytes: text is UTF-8 (invalid bytes round-trip via surrogateescape)."""
    if x is None:
        return b""
    if isinstance(x, str):
        return x.encode("utf-8", "surrogateescape")
    return bytes(x)


def to_text(b: bytes) -> str:
    """Bytes as the text responses carry; `to_bytes(to_text(b)) == b` for any bytes."""
    return b.decode("utf-8", "surrogateescape")


def range_end(x: str | bytes | None) -> bytes | None:
    """A request's `range_end` as the store reads it: absent or empty -> None (the single key);
    `"\\0"` -> `b""` (every key from `key` on, etcd's mkGteRange); anything else as is."""
    end = to_bytes(x)
    if not end:
        return None
    if end == b"\0":
        return b""
    return end


def prefix_end(prefix: str | bytes) -> bytes:
    """The range end that makes `[prefix, end)` every key starting with `prefix`, as clientv3's
    WithPrefix computes it: drop trailing 0xff bytes and add one to the last; all 0xff -> `\\0`."""
    b = bytearray(to_bytes(prefix))
    while b:
        if b[-1] < 0xFF:
            b[-1] += 1
            return bytes(b)
        b.pop()
    return b"\0"


def enum(value: int | str | None, names: dict[str, int]) -> int:
    """A protobuf enum field given by name (`"DESCEND"`) or number; absent is 0."""
    if value is None:
        return 0
    if isinstance(value, str):
        return names[value]
    return int(value)


def op_kind(op: dict) -> str | None:
    """Which request a txn op holds (`"request_put"` ...), or None for an empty op."""
    for kind in TXN_OPS:
        if op.get(kind) is not None:
            return kind
    return None


def is_txn_readonly(txn: dict) -> bool:
    """True when every top-level op in both branches is a range (nested txns count as writes),
    as v3_server.go decides whether a txn needs Raft."""
    ops = (txn.get("success") or []) + (txn.get("failure") or [])
    return all(op_kind(op) == "request_range" for op in ops)


# --- front-end validation (v3rpc/key.go) ---------------------------------------------------------


def validate(kind: str, req: dict, max_txn_ops: int = DEFAULT_MAX_TXN_OPS) -> None:
    """Raise `EtcdError` as etcd's gRPC layer rejects a request before proposing it.

    `kind` is the request's name in the Raft log: `range`, `put`, `delete_range` or `txn`
    (others pass). Checks, in upstream's order: an empty key; `ignore_value` with a value or
    `ignore_lease` with a lease; a txn with more than `max_txn_ops` compares or ops per branch,
    an empty op (`etcdserver: key not found`), then overlapping writes in either branch.
    """
    if kind in ("range", "delete_range"):
        _check_key(req)
    elif kind == "put":
        _check_put(req)
    elif kind == "txn":
        _check_txn(req, max_txn_ops)
        _check_intervals(req.get("success") or [])
        _check_intervals(req.get("failure") or [])


def _check_key(req: dict) -> None:
    if not to_bytes(req.get("key")):
        raise EtcdError(ERR_EMPTY_KEY)


def _check_put(req: dict) -> None:
    _check_key(req)
    if req.get("ignore_value") and to_bytes(req.get("value")):
        raise EtcdError(ERR_VALUE_PROVIDED)
    if req.get("ignore_lease") and int(req.get("lease") or 0) != 0:
        raise EtcdError(ERR_LEASE_PROVIDED)


def _check_txn(txn: dict, max_txn_ops: int) -> None:
    compares = txn.get("compare") or []
    success, failure = txn.get("success") or [], txn.get("failure") or []
    opc = max(len(compares), len(success), len(failure))
    if opc > max_txn_ops:
        raise EtcdError(ERR_TOO_MANY_OPS)
    for c in compares:
        _check_key(c)
    for op in success + failure:
        kind = op_kind(op)
        if kind is None:
            raise EtcdError(ERR_KEY_NOT_FOUND)  # upstream's answer to an empty op
        if kind == "request_txn":
            # a nested txn may only use what its parent left (upstream passes max - opc)
            _check_txn(op[kind], max_txn_ops - opc)
        elif kind == "request_put":
            _check_put(op[kind])
        else:
            _check_key(op[kind])


def _hits(key: bytes, interval: tuple[bytes, bytes]) -> bool:
    # interval ends are "affine": b"" stands for +infinity. An interval whose end is not after
    # its begin (a delete with range_end "\0", i.e. "from key") covers no point: upstream's
    # interval tree never reports it, so such a delete never conflicts with a put.
    begin, end = interval
    return begin <= key and (end == b"" or key < end)


def _check_intervals(ops: list[dict]) -> tuple[set[bytes], list[tuple[bytes, bytes]]]:
    """Puts and deletes of one branch; raise duplicate key if a put overlaps another put or a
    delete at this level or in a nested txn (checkIntervals, including its blind spots)."""
    dels: list[tuple[bytes, bytes]] = []
    for op in ops:
        d = op.get("request_delete_range")
        if d is None:
            continue
        key, end = to_bytes(d.get("key")), to_bytes(d.get("range_end"))
        dels.append((key, end) if end else (key, key + b"\0"))
    puts: set[bytes] = set()
    for op in ops:
        t = op.get("request_txn")
        if t is None:
            continue
        puts_then, dels_then = _check_intervals(t.get("success") or [])
        puts_else, dels_else = _check_intervals(t.get("failure") or [])
        for k in sorted(puts_then):
            if k in puts or any(_hits(k, d) for d in dels):
                raise EtcdError(ERR_DUPLICATE_KEY)
            puts.add(k)
        for k in sorted(puts_else):
            # a key put in both branches of one nested txn is fine: only one branch runs
            if k in puts and k not in puts_then:
                raise EtcdError(ERR_DUPLICATE_KEY)
            if any(_hits(k, d) for d in dels):
                raise EtcdError(ERR_DUPLICATE_KEY)
            puts.add(k)
        # nested deletes join only after the nested puts were checked: a put in one nested txn
        # and a delete of the same key in a later one slip through, as upstream
        dels.extend(dels_then + dels_else)
    for op in ops:
        p = op.get("request_put")
        if p is None:
            continue
        k = to_bytes(p.get("key"))
        if k in puts or any(_hits(k, d) for d in dels):
            raise EtcdError(ERR_DUPLICATE_KEY)
        puts.add(k)
    return puts, dels


# --- quota cost (etcdserver/quota.go) ------------------------------------------------------------


def put_cost(req: dict) -> int:
    """Bytes a put is charged against the quota: 256 + key + value."""
    return KV_OVERHEAD + len(to_bytes(req.get("key"))) + len(to_bytes(req.get("value")))


def txn_cost(txn: dict) -> int:
    """The larger branch's sum of top-level put costs. Puts inside nested txns cost nothing,
    which lets them through a NOSPACE alarm (an upstream bug in 3.4.23)."""

    def branch(ops: list[dict]) -> int:
        return sum(put_cost(op["request_put"]) for op in ops if op.get("request_put") is not None)

    return max(branch(txn.get("success") or []), branch(txn.get("failure") or []))


def request_cost(kind: str, req: dict) -> int:
    """Quota cost of a request by its Raft-log name; 0 for anything that cannot grow the store."""
    if kind == "put":
        return put_cost(req)
    if kind == "txn":
        return txn_cost(req)
    if kind == "lease_grant":
        return LEASE_OVERHEAD
    return 0
