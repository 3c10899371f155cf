"""How an etcd member serves its clients: the v3 gRPC API on top of Raft and the MVCC store.

Semantics: etcd 3.4 etcdserver/v3_server.go (writes proposed through Raft and answered when
this member applies them; linearizable reads through one ReadIndex per batch; lease keepalives
and time-to-live forwarded to the leader over leasehttp), api/v3rpc (size, quota and request
checks before Raft; learners serve only status and serializable reads). Membership calls are in
v3_cluster.py, watch streams in v3_watch.py; `EtcdMember` provides the Raft host.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .errors import (
    ERR_LEADER_CHANGED,
    ERR_NO_LEADER,
    ERR_NOT_LEADER,
    ERR_NOT_PRIMARY,
    ERR_NOT_SUPPORTED_FOR_LEARNER,
    ERR_REQUEST_TOO_LARGE,
    ERR_TIMEOUT,
    ERR_TOO_MANY_REQUESTS,
    EtcdError,
)
from .messages import NONE
from .mvcc_proto import GRPC_OVERHEAD_BYTES, message_size, raft_entry_size
from .mvcc_txn import is_txn_readonly, validate
from .rpc import (
    ALARM,
    COMPACT,
    DEFRAGMENT,
    DELETE_RANGE,
    LEASE_GRANT,
    LEASE_KEEPALIVE,
    LEASE_LEASES,
    LEASE_REVOKE,
    LEASE_TIME_TO_LIVE,
    MEMBER_ADD,
    MEMBER_LIST,
    MEMBER_PROMOTE,
    MEMBER_REMOVE,
    MOVE_LEADER,
    PUT,
    RANGE,
    SNAPSHOT,
    STATUS,
    TXN,
    GrpcPing,
    GrpcPingAck,
    GrpcRequest,
    GrpcResponse,
    PeerRequest,
    PeerResponse,
    WatchCancelRequest,
    WatchCreateRequest,
    WatchProgressRequest,
    WatchStreamClose,
)
from .v3_cluster import ClusterServer
from .v3_watch import WatchServer

if TYPE_CHECKING:
    from .member import EtcdMember

MAX_GAP_BETWEEN_APPLY_AND_COMMIT = 5000
RETRY_FORWARD_NS = 50_000_000  # leasehttp calls to the leader are retried after 50 ms

ReplyFn = Callable[[dict | None, EtcdError | None], None]


class V3Server(ClusterServer, WatchServer):
    """The request-serving half of `EtcdMember`."""

    # -- state -----------------------------------------------------------------------------------
    def _init_server(self: EtcdMember) -> None:
        self._seen: dict[tuple[str, int], None] = {}
        self._reads_pending: list[Callable[[EtcdError | None], None]] = []
        self._read_inflight: tuple[bytes, list[Callable[[EtcdError | None], None]]] | None = None
        self._read_scheduled = False
        self._read_ctx = itertools.count(1)
        self._init_watches()
        self._peer_calls: dict[int, ReplyFn] = {}
        self._peer_call_ids = itertools.count(1)

    def _serve(self: EtcdMember, src: str, msg: object) -> None:
        if isinstance(msg, GrpcRequest):
            self._grpc(src, msg)
        elif isinstance(msg, GrpcPing):
            streams = {s.stream_id: s.seq for (who, _), s in self._streams.items() if who == src}
            self.net.send(self.name, src, GrpcPingAck(msg.seq, streams))
        elif isinstance(msg, WatchCreateRequest):
            self._watch_create(src, msg)
        elif isinstance(msg, WatchCancelRequest):
            self._watch_cancel(src, msg)
        elif isinstance(msg, WatchProgressRequest):
            self._watch_progress(src, msg)
        elif isinstance(msg, WatchStreamClose):
            self._watch_close(src, msg)
        elif isinstance(msg, PeerRequest):
            self._peer_request(src, msg)
        elif isinstance(msg, PeerResponse):
            fn = self._peer_calls.pop(msg.call_id, None)
            if fn is not None:
                fn(msg.body, EtcdError.from_dict(msg.error) if msg.error else None)

    # -- unary calls -----------------------------------------------------------------------------
    def _grpc(self: EtcdMember, src: str, req: GrpcRequest) -> None:
        key = (src, req.call_id)
        seen = self._seen
        if key in seen:
            return  # a duplicate on the wire: TCP would never deliver it twice
        seen[key] = None
        if len(seen) > 20_000:
            for k in list(seen)[:10_000]:
                del seen[k]

        def reply(body: dict | None, err: EtcdError | None) -> None:
            self._reply(src, req.call_id, body, err)

        raft = self.raft
        assert raft is not None
        if raft.is_learner and not (
            req.method == STATUS or (req.method == RANGE and req.body.get("serializable"))
        ):
            reply(None, EtcdError(ERR_NOT_SUPPORTED_FOR_LEARNER))
            return
        if req.require_leader and raft.lead == NONE:
            reply(None, EtcdError(ERR_NO_LEADER))
            return
        name = _HANDLERS.get(req.method)
        if name is None:
            reply(None, EtcdError(f"unknown method {req.method}", "Unimplemented"))
            return
        try:
            getattr(self, name)(req.body, reply, req.deadline_ns)
        except EtcdError as err:
            reply(None, err)

    def _reply(self: EtcdMember, src: str, call_id: int, body: dict | None, err: Any) -> None:
        if self.raft is None:
            return
        if body is not None and "header" in body:
            body["header"] = self.header(body["header"].get("revision"))
        error = err.to_dict() if err is not None else None
        resp = GrpcResponse(call_id, body, error, self.leader_name())
        self.net.send(self.name, src, resp)

    def header(self: EtcdMember, revision: int | None = None) -> dict:
        """A ResponseHeader: cluster and member IDs, the store revision, the Raft term."""
        raft = self.raft
        h: dict[str, int] = {"cluster_id": self.cluster.cluster_id, "member_id": self.id}
        if revision is not None:
            h["revision"] = revision
        h["raft_term"] = raft.term if raft is not None else 0
        return h

    # -- key-value -------------------------------------------------------------------------------
    def _check_request(self: EtcdMember, kind: str, body: dict, *, quota: bool) -> None:
        """What the gRPC layer checks before Raft: message size, the quota (raising the NOSPACE
        alarm by proposal), the request's own checks, and the Raft entry size."""
        cfg = self.config
        # sizes are exact only near the limits: a cheap upper bound clears most requests
        small = kind == "put" and _rough_size(body) < cfg.max_request_bytes - 64
        limit = cfg.max_request_bytes + GRPC_OVERHEAD_BYTES
        size = 0 if small else message_size(kind, body)
        if size > limit:
            raise EtcdError(
                f"grpc: received message larger than max ({size} vs. {limit})", "ResourceExhausted"
            )
        if quota:
            alarm = self.store.check_quota({kind: body})
            if alarm is not None:
                self.propose("alarm", alarm, None)
                raise EtcdError("etcdserver: mvcc: database space exceeded")
        validate(kind, body, cfg.max_txn_ops)
        if not small and kind != "range" and raft_entry_size(kind, body) > cfg.max_request_bytes:
            raise EtcdError(ERR_REQUEST_TOO_LARGE)

    def _propose_call(
        self: EtcdMember, kind: str, body: dict, reply: ReplyFn, deadline: int
    ) -> None:
        raft = self.raft
        assert raft is not None
        if raft.committed > self.applied_index + MAX_GAP_BETWEEN_APPLY_AND_COMMIT:
            raise EtcdError(ERR_TOO_MANY_REQUESTS)
        self.propose(kind, body, reply, deadline_ns=deadline)

    def _serve_read(self: EtcdMember, kind: str, body: dict, reply: ReplyFn) -> None:
        resp = self.store.read({kind: body})
        err = resp.get("error")
        if err is not None:
            reply(None, EtcdError.from_dict(err))
        else:
            reply(resp, None)

    def _read(self: EtcdMember, kind: str, body: dict, reply: ReplyFn, serializable: bool) -> None:
        if serializable:
            self._serve_read(kind, body, reply)
            return

        def done(err: EtcdError | None) -> None:
            if err is not None:
                reply(None, err)
            else:
                self._serve_read(kind, body, reply)

        self.linearizable_read(done)

    def _h_range(self: EtcdMember, body: dict, reply: ReplyFn, deadline: int) -> None:
        self._check_request("range", body, quota=False)
        self._read("range", body, reply, bool(body.get("serializable")))

    def _h_put(self: EtcdMember, body: dict, reply: ReplyFn, deadline: int) -> None:
        self._check_request("put", body, quota=True)
        self._propose_call("put", body, reply, deadline)

    def _h_delete_range(self: EtcdMember, body: dict, reply: ReplyFn, deadline: int) -> None:
        self._check_request("delete_range", body, quota=False)
        self._propose_call("delete_range", body, reply, deadline)

    def _h_txn(self: EtcdMember, body: dict, reply: ReplyFn, deadline: int) -> None:
        self._check_request("txn", body, quota=True)
        if is_txn_readonly(body):
            ops = (body.get("success") or []) + (body.get("failure") or [])
            serializable = bool(ops) and all(op["request_range"].get("serializable") for op in ops)
            self._read("txn", body, reply, serializable)
        else:
            self._propose_call("txn", body, reply, deadline)

    def _h_compact(self: EtcdMember, body: dict, reply: ReplyFn, deadline: int) -> None:
        self._propose_call("compaction", body, reply, deadline)

    # -- leases ----------------------------------------------------------------------------------
    def _h_lease_grant(self: EtcdMember, body: dict, reply: ReplyFn, deadline: int) -> None:
        self._check_request("lease_grant", body, quota=True)
        if not int(body.get("ID") or 0):
            body = {**body, "ID": self.store.next_lease_id()}  # the server picks the ID
        self._propose_call("lease_grant", body, reply, deadline)

    def _h_lease_revoke(self: EtcdMember, body: dict, reply: ReplyFn, deadline: int) -> None:
        self._propose_call("lease_revoke", body, reply, deadline)

    def _h_lease_keepalive(self: EtcdMember, body: dict, reply: ReplyFn, deadline: int) -> None:
        # renewals never go through Raft: the leader's (primary) lessor answers them
        if self.store.lessor.primary:
            self._local("lease_keepalive", body, reply)
        else:
            self._forward("/leases", body, reply, deadline)

    def _h_lease_time_to_live(self: EtcdMember, body: dict, reply: ReplyFn, deadline: int) -> None:
        if self.is_leader:
            self._local("lease_time_to_live", body, reply)
        else:
            self._forward("/leases/internal", body, reply, deadline)

    def _h_lease_leases(self: EtcdMember, body: dict, reply: ReplyFn, deadline: int) -> None:
        self._local("lease_leases", {}, reply)

    def _local(self: EtcdMember, kind: str, body: dict, reply: ReplyFn) -> None:
        resp = self.store.handle({kind: body}, self.clock.now_ns)
        err = resp.get("error")
        reply(None if err else resp, EtcdError.from_dict(err) if err else None)

    def _forward(self: EtcdMember, path: str, body: dict, reply: ReplyFn, deadline: int) -> None:
        """Send a call to the leader's peer handler, waiting for a leader and retrying every
        50 ms until ReqTimeout (or the client's deadline): ErrNoLeader if none ever showed up,
        ErrTimeout otherwise."""
        end = min(deadline, self.clock.now_ns + self.config.request_timeout_ns)
        state = {"done": False}

        def finish(resp: dict | None, err: EtcdError | None) -> None:
            if not state["done"]:
                state["done"] = True
                reply(resp, err)

        def attempt() -> None:
            raft = self.raft
            if raft is None or state["done"]:
                return
            now = self.clock.now_ns
            if now >= end:
                finish(None, EtcdError(ERR_NO_LEADER if raft.lead == NONE else ERR_TIMEOUT))
                return
            if raft.lead == NONE:
                self._at(min(end, now + self.config.election_ns), attempt)
                return

            def answered(resp: dict | None, err: EtcdError | None) -> None:
                if err is not None and err.message in (ERR_NOT_PRIMARY, ERR_NOT_LEADER):
                    self._at(self.clock.now_ns + RETRY_FORWARD_NS, attempt)
                else:
                    finish(resp, err)

            if raft.lead == self.id:
                self._peer_handle(path, body, answered)
                return
            dst = self._peers.get(raft.lead)
            if dst is None:
                self._at(now + RETRY_FORWARD_NS, attempt)
                return
            call_id = next(self._peer_call_ids)
            self._peer_calls[call_id] = answered
            self.net.send(self.name, dst, PeerRequest(call_id, path, body))

        def give_up() -> None:
            raft = self.raft
            if raft is not None:
                finish(None, EtcdError(ERR_NO_LEADER if raft.lead == NONE else ERR_TIMEOUT))

        self._at(end, give_up)
        attempt()

    def _peer_request(self: EtcdMember, src: str, req: PeerRequest) -> None:
        def answer(resp: dict | None, err: EtcdError | None) -> None:
            if self.raft is not None:
                error = err.to_dict() if err is not None else None
                self.net.send(self.name, src, PeerResponse(req.call_id, resp, error))

        self._peer_handle(req.path, req.body, answer)

    def _peer_handle(self: EtcdMember, path: str, body: dict, answer: ReplyFn) -> None:
        if path == "/leases":
            if not self.store.lessor.primary:
                answer(None, EtcdError(ERR_NOT_PRIMARY))
            else:
                self._local("lease_keepalive", body, answer)
        elif path == "/leases/internal":
            if not self.is_leader:
                answer(None, EtcdError(ERR_NOT_LEADER))
            else:
                self._local("lease_time_to_live", body, answer)
        elif path == "/members/promote":
            try:
                self._promote_on_leader(int(body["ID"]), answer, int(body["deadline"]))
            except EtcdError as err:
                answer(None, err)
        else:
            answer(None, EtcdError(f"unknown path {path}", "Unimplemented"))

    # -- maintenance -----------------------------------------------------------------------------
    def _h_alarm(self: EtcdMember, body: dict, reply: ReplyFn, deadline: int) -> None:
        self._propose_call("alarm", body, reply, deadline)  # even a GET goes through Raft

    def _h_status(self: EtcdMember, body: dict, reply: ReplyFn, deadline: int) -> None:
        reply(self.status(), None)

    def status(self: EtcdMember) -> dict:
        """Maintenance.Status as etcd answers it (field order as etcdctl's JSON shows)."""
        raft = self.raft
        assert raft is not None
        s = self.store.status()
        out: dict[str, Any] = {
            "header": {"revision": s["header"]["revision"]},
            "version": s["version"],
            "dbSize": s["dbSize"],
            "leader": raft.lead,
            "raftIndex": raft.committed,
            "raftTerm": raft.term,
            "raftAppliedIndex": self.applied_index,
            "errors": s["errors"],
            "dbSizeInUse": s["dbSizeInUse"],
            "isLearner": raft.is_learner,
        }
        return out

    def _h_defragment(self: EtcdMember, body: dict, reply: ReplyFn, deadline: int) -> None:
        self.store.defragment()
        self._emit("defragmented", db_size=self.store.backend.size)
        reply({"header": {"revision": self.store.current_rev}}, None)

    def _h_snapshot(self: EtcdMember, body: dict, reply: ReplyFn, deadline: int) -> None:
        blob = self.store.snapshot()
        reply(
            {"header": {"revision": self.store.current_rev}, "remaining_bytes": 0, "blob": blob},
            None,
        )

    # -- linearizable reads ----------------------------------------------------------------------
    def linearizable_read(self: EtcdMember, done: Callable[[EtcdError | None], None]) -> None:
        """Call `done(None)` once a read served here would be linearizable (a ReadIndex
        confirmed by a heartbeat quorum and applied here), or `done(error)`. Reads arriving
        together share one ReadIndex, as etcd's read loop batches them."""
        self._reads_pending.append(done)
        if self._read_inflight is None and not self._read_scheduled:
            self._read_scheduled = True
            self._at(self.clock.now_ns, self._start_read)

    def _start_read(self: EtcdMember) -> None:
        self._read_scheduled = False
        raft = self.raft
        if raft is None or self._read_inflight is not None or not self._reads_pending:
            return
        ctx = next(self._read_ctx).to_bytes(8, "big")
        self._read_inflight = (ctx, self._reads_pending)
        self._reads_pending = []
        # without a leader the request is silently dropped: the read times out
        raft.read_index(ctx)
        self._at(
            self.clock.now_ns + self.config.request_timeout_ns,
            lambda: self._read_failed(ctx, ERR_TIMEOUT),
        )
        self._drain()

    def _on_read_states(self: EtcdMember, states: tuple) -> None:
        inflight = self._read_inflight
        for rs in states:
            if inflight is not None and rs.request_ctx == inflight[0]:
                self._read_inflight = None
                waiters = inflight[1]

                def release(waiters: list = waiters) -> None:
                    for w in waiters:
                        w(None)

                self.wait_applied(rs.index, release)
                inflight = None
                self._next_read()

    def _read_failed(self: EtcdMember, ctx: bytes | None, message: str) -> None:
        inflight = self._read_inflight
        if inflight is None or (ctx is not None and inflight[0] != ctx):
            return
        self._read_inflight = None
        for w in inflight[1]:
            w(EtcdError(message))
        self._next_read()

    def _next_read(self: EtcdMember) -> None:
        if self._reads_pending and not self._read_scheduled:
            self._read_scheduled = True
            self._at(self.clock.now_ns, self._start_read)

    def _on_leader_changed(self: EtcdMember) -> None:
        # a read waiting for its ReadIndex fails with a retryable error
        self._read_failed(None, ERR_LEADER_CHANGED)


def _rough_size(body: dict) -> int:
    """An upper bound of a put's marshalled size (its fields' lengths plus tags)."""
    size = 32
    for v in body.values():
        size += len(v) * 4 + 8 if isinstance(v, str) else len(v) + 8 if isinstance(v, bytes) else 11
    return size


_HANDLERS: dict[str, str] = {  # gRPC method -> handler name
    RANGE: "_h_range",
    PUT: "_h_put",
    DELETE_RANGE: "_h_delete_range",
    TXN: "_h_txn",
    COMPACT: "_h_compact",
    LEASE_GRANT: "_h_lease_grant",
    LEASE_REVOKE: "_h_lease_revoke",
    LEASE_KEEPALIVE: "_h_lease_keepalive",
    LEASE_TIME_TO_LIVE: "_h_lease_time_to_live",
    LEASE_LEASES: "_h_lease_leases",
    ALARM: "_h_alarm",
    STATUS: "_h_status",
    DEFRAGMENT: "_h_defragment",
    SNAPSHOT: "_h_snapshot",
    MOVE_LEADER: "_h_move_leader",
    MEMBER_LIST: "_h_member_list",
    MEMBER_ADD: "_h_member_add",
    MEMBER_REMOVE: "_h_member_remove",
    MEMBER_PROMOTE: "_h_member_promote",
}
