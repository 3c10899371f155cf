"""Protobuf sizes of key-value requests, for etcd's two request size limits.

Semantics: etcd 3.4's etcdserverpb/rpc.proto field numbers. gRPC refuses a message larger than
`--max-request-bytes` + 512 KiB before etcd sees it; etcdserver refuses a Raft entry
(InternalRaftRequest: the request plus a header and an ID) larger than `--max-request-bytes`.
"""

from __future__ import annotations

from .mvcc_txn import COMPARE_RESULT, COMPARE_TARGET, SORT_ORDER, SORT_TARGET, enum, to_bytes

GRPC_OVERHEAD_BYTES = 512 * 1024  # what etcd adds to --max-request-bytes for gRPC's limit
# InternalRaftRequest around the request: header {ID} (field 100), ID (field 1), and the request
# field's own tag and length. IDs are 64-bit with the member in the top bits: 9-byte varints.
RAFT_ENTRY_OVERHEAD = (2 + 1 + 1 + 9) + (1 + 9) + 1

# field name -> (field number, kind); kinds: bytes, int, bool, enum:<table>, msg:<type>, ops
_FIELDS: dict[str, dict[str, tuple[int, str]]] = {
    "put": {
        "key": (1, "bytes"),
        "value": (2, "bytes"),
        "lease": (3, "int"),
        "prev_kv": (4, "bool"),
        "ignore_value": (5, "bool"),
        "ignore_lease": (6, "bool"),
    },
    "range": {
        "key": (1, "bytes"),
        "range_end": (2, "bytes"),
        "limit": (3, "int"),
        "revision": (4, "int"),
        "sort_order": (5, "enum:order"),
        "sort_target": (6, "enum:target"),
        "serializable": (7, "bool"),
        "keys_only": (8, "bool"),
        "count_only": (9, "bool"),
        "min_mod_revision": (10, "int"),
        "max_mod_revision": (11, "int"),
        "min_create_revision": (12, "int"),
        "max_create_revision": (13, "int"),
    },
    "delete_range": {"key": (1, "bytes"), "range_end": (2, "bytes"), "prev_kv": (3, "bool")},
    "txn": {"compare": (1, "msg:compare"), "success": (2, "ops"), "failure": (3, "ops")},
    "compare": {
        "result": (1, "enum:result"),
        "target": (2, "enum:ctarget"),
        "key": (3, "bytes"),
        "version": (4, "int"),
        "create_revision": (5, "int"),
        "mod_revision": (6, "int"),
        "value": (7, "bytes"),
        "lease": (8, "int"),
        "range_end": (64, "bytes"),
    },
    "lease_grant": {"TTL": (1, "int"), "ID": (2, "int")},
}
_ENUMS = {"order": SORT_ORDER, "target": SORT_TARGET, "result": COMPARE_RESULT}
_ENUMS["ctarget"] = COMPARE_TARGET
_OPS = {"request_range": (1, "range"), "request_put": (2, "put")}
_OPS |= {"request_delete_range": (3, "delete_range"), "request_txn": (4, "txn")}


def varint_size(n: int) -> int:
    """Bytes of a protobuf varint; negative int64 values take 10."""
    n &= 2**64 - 1
    size = 1
    while n >= 0x80:
        n >>= 7
        size += 1
    return size


def _tag(number: int) -> int:
    return varint_size(number << 3)


def _framed(number: int, size: int) -> int:
    return _tag(number) + varint_size(size) + size


def message_size(kind: str, req: dict) -> int:
    """The marshalled size of a request (`put`, `range`, `delete_range`, `txn`, `compare`,
    `lease_grant`); 0 for kinds without a table (they are tiny)."""
    fields = _FIELDS.get(kind)
    if fields is None:
        return 0
    size = 0
    for name, value in req.items():
        if name not in fields or value is None:
            continue
        number, ftype = fields[name]
        if ftype == "bytes":
            data = to_bytes(value)
            size += _framed(number, len(data)) if data else 0
        elif ftype == "int":
            # a compare operand is a oneof: sent even when zero
            if int(value) or (kind == "compare" and number in (4, 5, 6, 8)):
                size += _tag(number) + varint_size(int(value))
        elif ftype == "bool":
            size += 2 if value else 0
        elif ftype.startswith("enum:"):
            n = enum(value, _ENUMS[ftype[5:]])
            size += _tag(number) + varint_size(n) if n else 0
        elif ftype == "msg:compare":
            size += sum(_framed(number, message_size("compare", c)) for c in value)
        else:  # ops
            for op in value:
                inner = 0
                for op_name, body in op.items():
                    if body is not None and op_name in _OPS:
                        op_number, op_kind = _OPS[op_name]
                        inner += _framed(op_number, message_size(op_kind, body))
                size += _framed(number, inner)
    return size


def raft_entry_size(kind: str, req: dict) -> int:
    """About what the Raft entry carrying the request takes (within a few bytes)."""
    size = message_size(kind, req)
    return RAFT_ENTRY_OVERHEAD + varint_size(size) + size
