"""What travels between etcd clients and members, and between members besides Raft messages.

Semantics: etcd 3.4's gRPC services (method names as `/etcdserverpb.KV/Put`), its watch stream,
gRPC keepalive pings, rafthttp's link heartbeats and the peer HTTP endpoints (`/leases`,
`/leases/internal`, `/members/promote`). Bodies are dicts with etcd's field names. Raft entries
carry requests as InternalRaftRequest JSON (`{"header": {"ID": n}, "put": {...}}`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .mvcc_txn import to_text

KV = "/etcdserverpb.KV/"
LEASE = "/etcdserverpb.Lease/"
MAINTENANCE = "/etcdserverpb.Maintenance/"
CLUSTER = "/etcdserverpb.Cluster/"

RANGE = KV + "Range"
PUT = KV + "Put"
DELETE_RANGE = KV + "DeleteRange"
TXN = KV + "Txn"
COMPACT = KV + "Compact"
LEASE_GRANT = LEASE + "LeaseGrant"
LEASE_REVOKE = LEASE + "LeaseRevoke"
LEASE_KEEPALIVE = LEASE + "LeaseKeepAlive"
LEASE_TIME_TO_LIVE = LEASE + "LeaseTimeToLive"
LEASE_LEASES = LEASE + "LeaseLeases"
ALARM = MAINTENANCE + "Alarm"
STATUS = MAINTENANCE + "Status"
DEFRAGMENT = MAINTENANCE + "Defragment"
SNAPSHOT = MAINTENANCE + "Snapshot"
MOVE_LEADER = MAINTENANCE + "MoveLeader"
MEMBER_LIST = CLUSTER + "MemberList"
MEMBER_ADD = CLUSTER + "MemberAdd"
MEMBER_REMOVE = CLUSTER + "MemberRemove"
MEMBER_PROMOTE = CLUSTER + "MemberPromote"

# Calls clientv3 (3.4 retry.go) retries on another endpoint after an Unavailable error: reads
# and calls whose repetition is harmless. Put, DeleteRange, Txn, Compact, Defragment and the
# member changes are retried only when they certainly never left the client.
REPEATABLE = frozenset(
    {
        RANGE,
        LEASE_GRANT,
        LEASE_REVOKE,
        LEASE_KEEPALIVE,
        LEASE_TIME_TO_LIVE,
        LEASE_LEASES,
        ALARM,
        STATUS,
        SNAPSHOT,
        MOVE_LEADER,
        MEMBER_LIST,
    }
)

DEADLINE_EXCEEDED = "context deadline exceeded"  # what a Go client sees when its deadline passes
TRANSPORT_CLOSING = "transport is closing"  # a gRPC connection found dead by keepalive
PROPOSAL_DROPPED = "raft proposal dropped"  # raft's ErrProposalDropped, passed through as Unknown


# -- client <-> member ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GrpcRequest:
    """A unary call. `deadline_ns` is the client's context deadline, which gRPC sends along."""

    call_id: int
    method: str
    body: dict
    deadline_ns: int
    require_leader: bool = False


@dataclass(frozen=True, slots=True)
class GrpcResponse:
    """The answer to a GrpcRequest: `body`, or `error` as `{"code", "message"}`. `leader` is
    the member name this member believes leads (a hint the simulated client follows)."""

    call_id: int
    body: dict | None = None
    error: dict | None = None
    leader: str = ""


@dataclass(frozen=True, slots=True)
class GrpcPing:
    """An HTTP/2 keepalive ping on the client's connection to a member."""

    seq: int


@dataclass(frozen=True, slots=True)
class GrpcPingAck:
    """The answer to a ping; `streams` maps each open watch stream to its last sequence
    number, so that a client notices a lost tail of a stream."""

    seq: int
    streams: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WatchCreateRequest:
    """Open a watch on a client's watch stream (one stream per client and member)."""

    stream_id: int
    watch_id: int
    create: dict  # WatchCreateRequest fields: key, range_end, start_revision, prev_kv, ...


@dataclass(frozen=True, slots=True)
class WatchCancelRequest:
    stream_id: int
    watch_id: int


@dataclass(frozen=True, slots=True)
class WatchProgressRequest:
    """Ask for a progress notification on a stream (RequestProgress, etcd 3.4+)."""

    stream_id: int


@dataclass(frozen=True, slots=True)
class WatchStreamClose:
    """The client gave up on a stream (it broke); the member forgets its watchers."""

    stream_id: int


@dataclass(frozen=True, slots=True)
class WatchResponse:
    """One response on a watch stream; `seq` numbers a stream's responses from 1 so that a
    client can tell a gap (a lost message) from a quiet stream."""

    stream_id: int
    seq: int
    body: dict


# -- member <-> member ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LinkHeartbeat:
    """rafthttp's link heartbeat: keeps a peer stream (and its "active since" time) alive."""

    from_: int


@dataclass(frozen=True, slots=True)
class PeerRequest:
    """A call on a peer's HTTP handler, e.g. `/leases` (keepalive forwarded to the leader)."""

    call_id: int
    path: str
    body: dict


@dataclass(frozen=True, slots=True)
class PeerResponse:
    call_id: int
    body: dict | None = None
    error: dict | None = None


# -- Raft entries ---------------------------------------------------------------------------------


def _default(obj: Any) -> Any:
    if isinstance(obj, bytes | bytearray):
        return to_text(bytes(obj))
    raise TypeError(f"cannot encode {type(obj).__name__} in a raft entry")


_ENCODER = json.JSONEncoder(separators=(",", ":"), default=_default)


def encode_request(request_id: int, kind: str, body: dict) -> bytes:
    """An InternalRaftRequest as entry data: deterministic JSON, bytes as surrogate-escaped
    text (so any bytes round-trip)."""
    return _ENCODER.encode({"header": {"ID": request_id}, kind: body}).encode("ascii")


class EntryCodec:
    """Decodes entry data, keeping recent results: every member decodes the same entries, and
    the simulation shares their bytes, so one decode serves all of them. Decoded requests are
    read-only by convention."""

    def __init__(self, capacity: int = 8192) -> None:
        self.capacity = capacity
        self._cache: dict[bytes, tuple[int, str, dict]] = {}

    def decode(self, data: bytes) -> tuple[int, str, dict]:
        """`(request ID, kind, body)` of an entry made by `encode_request`."""
        got = self._cache.get(data)
        if got is not None:
            return got
        raw = json.loads(data)
        header = raw.pop("header")
        ((kind, body),) = raw.items()
        got = (header["ID"], kind, body)
        cache = self._cache
        if len(cache) >= self.capacity:
            # drop the oldest half: entries are decoded by all members within a short window
            for key in list(cache)[: self.capacity // 2]:
                del cache[key]
        cache[data] = got
        return got


__all__ = [
    "EntryCodec",
    "GrpcPing",
    "GrpcPingAck",
    "GrpcRequest",
    "GrpcResponse",
    "LinkHeartbeat",
    "PeerRequest",
    "PeerResponse",
    "WatchCancelRequest",
    "WatchCreateRequest",
    "WatchProgressRequest",
    "WatchResponse",
    "WatchStreamClose",
    "encode_request",
]
