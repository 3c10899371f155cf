"""The client's transport: unary calls with deadlines, endpoint choice and retries, gRPC
keepalive pings that find dead connections, and futures settled on the simulated clock.

Semantics: clientv3 3.4's retry interceptor (retry_interceptor.go: repeatable calls retried on
another endpoint after `Unavailable`, others only when they never left the client; 25 ms
backoff with 10 % jitter), its balancer's pinned endpoint, gRPC keepalive (etcdctl's 2 s / 6 s)
and context deadlines ("context deadline exceeded"). Mixed into `EtcdClient`.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kube_teach.sim import to_ns

from .errors import EtcdError
from .membership import host_of
from .rpc import (
    DEADLINE_EXCEEDED,
    REPEATABLE,
    TRANSPORT_CLOSING,
    GrpcPing,
    GrpcPingAck,
    GrpcRequest,
    GrpcResponse,
    WatchResponse,
)

if TYPE_CHECKING:
    from .client import EtcdClient

BACKOFF_NS = 25_000_000  # clientv3's defaultBackoffWaitBetween
BACKOFF_JITTER = 0.10


class EtcdFuture:
    """The result of an asynchronous call, settled on the simulated clock: a response dict or an
    `EtcdError`. Callbacks run when it settles (at once if it already has)."""

    __slots__ = ("_done", "_value", "_error", "_callbacks")

    def __init__(self) -> None:
        self._done = False
        self._value: Any = None
        self._error: EtcdError | None = None
        self._callbacks: list[Callable[[EtcdFuture], None]] = []

    def done(self) -> bool:
        return self._done

    def result(self) -> Any:
        """The response; raises the call's EtcdError, or RuntimeError if not settled yet."""
        if not self._done:
            raise RuntimeError("the call has not completed yet: run the clock")
        if self._error is not None:
            raise self._error
        return self._value

    def exception(self) -> EtcdError | None:
        return self._error

    def add_done_callback(self, fn: Callable[[EtcdFuture], None]) -> None:
        if self._done:
            fn(self)
        else:
            self._callbacks.append(fn)

    def set_result(self, value: Any) -> None:
        self._settle(value, None)

    def set_exception(self, error: EtcdError) -> None:
        self._settle(None, error)

    def _settle(self, value: Any, error: EtcdError | None) -> None:
        if self._done:
            return
        self._done, self._value, self._error = True, value, error
        callbacks, self._callbacks = self._callbacks, []
        for fn in callbacks:
            fn(self)

    def __repr__(self) -> str:
        if not self._done:
            return "<EtcdFuture pending>"
        return f"<EtcdFuture {'error ' + repr(self._error) if self._error else 'done'}>"


@dataclass(slots=True)
class _Call:
    method: str
    body: dict
    future: EtcdFuture
    deadline_ns: int
    repeatable: bool
    require_leader: bool
    fixed: str | None  # an endpoint the call must use (maintenance calls), else None
    call_id: int = 0
    endpoint: str = ""


@dataclass(slots=True)
class _Conn:
    """The client's connection to one endpoint, as far as keepalive can tell."""

    ping_seq: int = 0
    ping_sent_ns: int | None = None


class Transport:
    """Calls, retries, deadlines and keepalive, mixed into `EtcdClient`."""

    def _init_transport(self: EtcdClient) -> None:
        self._ids = itertools.count(1)
        self._inflight: dict[int, _Call] = {}
        self._deadlines: list[tuple[int, int, _Call]] = []
        self._deadline_due: int | None = None
        self._deadline_token: object = None
        self._conns: dict[str, _Conn] = {}

    # -- the generic call ----------------------------------------------------------------------
    def call(
        self,
        method: str,
        body: dict,
        *,
        timeout: str | float | None = None,
        endpoint: str | None = None,
        require_leader: bool = False,
    ) -> EtcdFuture:
        """Start a unary call (`method` like `rpc.PUT`, body with etcd's field names)."""
        timeout_ns = self.timeout_ns if timeout is None else to_ns(timeout)
        fixed = None if endpoint is None else host_of(endpoint) if ":" in endpoint else endpoint
        c = _Call(
            method,
            body,
            EtcdFuture(),
            self.clock.now_ns + timeout_ns,
            method in REPEATABLE,
            require_leader,
            fixed,
        )
        heapq.heappush(self._deadlines, (c.deadline_ns, next(self._ids), c))
        self._arm_deadline(c.deadline_ns)
        self._attempt(c)
        return c.future

    def _attempt(self: EtcdClient, c: _Call) -> None:
        if c.future.done():
            return
        ep = c.fixed or c.endpoint or self.pinned
        c.endpoint = ep
        if not self._reachable(ep):
            # No connection: nothing was sent, so even a write may try elsewhere.
            if c.fixed is None:
                c.endpoint = self._next_endpoint(ep)
            self._later(self._backoff(), lambda: self._attempt(c))
            return
        c.call_id = next(self._ids)
        self._inflight[c.call_id] = c
        if ep not in self._conns:
            self._conns[ep] = _Conn()
        msg = GrpcRequest(c.call_id, c.method, c.body, c.deadline_ns, c.require_leader)
        self.net.send(self.name, ep, msg)

    def _receive(self: EtcdClient, src: str, msg: object) -> None:
        if isinstance(msg, GrpcResponse):
            self._on_response(src, msg)
        elif isinstance(msg, WatchResponse):
            self._on_watch_response(src, msg)
        elif isinstance(msg, GrpcPingAck):
            self._on_ping_ack(src, msg)

    def _on_response(self: EtcdClient, src: str, resp: GrpcResponse) -> None:
        c = self._inflight.pop(resp.call_id, None)
        if c is None or c.future.done():
            return  # a duplicate, or an answer to an attempt given up on
        if resp.leader and resp.leader in self.endpoints and c.fixed is None:
            self.pinned = resp.leader  # follow the hint: talk to the leader from now on
        if resp.error is None:
            c.future.set_result(resp.body)
            return
        err = EtcdError.from_dict(resp.error)
        if err.code == "Unavailable" and c.repeatable:
            c.endpoint = "" if c.fixed else self._retry_endpoint(src, resp.leader)
            self._later(self._backoff(), lambda: self._attempt(c))
            return
        c.future.set_exception(err)

    def _retry_endpoint(self: EtcdClient, failed: str, hint: str) -> str:
        if hint and hint != failed and hint in self.endpoints:
            return hint
        nxt = self._next_endpoint(failed)
        self.pinned = nxt
        return nxt

    def _next_endpoint(self: EtcdClient, ep: str) -> str:
        eps = self.endpoints
        return eps[(eps.index(ep) + 1) % len(eps)] if ep in eps else eps[0]

    def _reachable(self: EtcdClient, ep: str) -> bool:
        # the transport's view: a TCP connect to a dead or cut-off host fails at once
        host = self.net.hosts.get(ep)
        return host is not None and host.up and self.net.reachable(self.name, ep)

    def _backoff(self: EtcdClient) -> int:
        jitter = 1 + BACKOFF_JITTER * (2 * self.rng.random() - 1)
        return int(BACKOFF_NS * jitter)

    def _later(self: EtcdClient, delay_ns: int, fn: Callable[[], None]) -> None:
        self.clock.call_at(self.clock.now_ns + delay_ns, fn)

    # -- deadlines and keepalive ---------------------------------------------------------------
    def _arm_deadline(self: EtcdClient, due: int) -> None:
        heap = self._deadlines
        if len(heap) > 64 and len(heap) > 4 * len(self._inflight) + 64:
            # most entries are settled calls: keep the heap as small as what is pending
            heap[:] = [e for e in heap if not e[2].future.done()]
            heapq.heapify(heap)
        if self._deadline_due is None or due < self._deadline_due:
            self._deadline_due = due
            token = self._deadline_token = object()
            self.clock.call_at(due, lambda: self._expire(token))

    def _expire(self: EtcdClient, token: object) -> None:
        if token is not self._deadline_token:
            return  # superseded by an earlier deadline's timer
        now = self.clock.now_ns
        heap = self._deadlines
        while heap and (heap[0][0] <= now or heap[0][2].future.done()):
            _, _, c = heapq.heappop(heap)
            if not c.future.done():
                self._inflight.pop(c.call_id, None)
                c.future.set_exception(EtcdError(DEADLINE_EXCEEDED, "DeadlineExceeded"))
        self._deadline_due = None
        if heap:
            self._arm_deadline(heap[0][0])

    def _keepalive(self: EtcdClient) -> None:
        """Ping each endpoint with calls or watches outstanding; a connection whose ping went
        unanswered for `keepalive_timeout` is closed, failing its calls with `Unavailable`."""
        now = self.clock.now_ns
        busy = {c.endpoint for c in self._inflight.values()} | self._watch_endpoints()
        for ep in sorted(busy):
            conn = self._conns.setdefault(ep, _Conn())
            if conn.ping_sent_ns is not None:
                if now - conn.ping_sent_ns >= self.keepalive_timeout_ns:
                    self._connection_lost(ep)
                continue
            conn.ping_seq += 1
            conn.ping_sent_ns = now
            self.net.send(self.name, ep, GrpcPing(conn.ping_seq))

    def _on_ping_ack(self: EtcdClient, src: str, ack: GrpcPingAck) -> None:
        conn = self._conns.get(src)
        if conn is not None and ack.seq == conn.ping_seq:
            conn.ping_sent_ns = None
        self._check_stream_tails(src, ack.streams)

    def _connection_lost(self: EtcdClient, ep: str) -> None:
        self._conns.pop(ep, None)
        if self.trace is not None:
            self.trace.emit(self.name, "connection-lost", endpoint=ep)
        if self.pinned == ep:
            self.pinned = self._next_endpoint(ep)
        for call_id, c in sorted(self._inflight.items()):
            if c.endpoint != ep:
                continue
            del self._inflight[call_id]
            if c.repeatable:
                c.endpoint = "" if c.fixed else self._next_endpoint(ep)
                self._attempt(c)
            else:
                c.future.set_exception(EtcdError(TRANSPORT_CLOSING, "Unavailable"))
        self._break_streams(ep)

    # -- running the clock for synchronous calls ----------------------------------------------
    def wait(self: EtcdClient, future: EtcdFuture) -> Any:
        """Run the simulated clock until `future` settles; its result (or its error raised).

        For learners and tests at the top level: code that runs inside the simulation (a
        component's timer or message handler) must use futures and callbacks instead."""
        if not future.done():
            horizon = (self.timeout_ns * 3) / 1e9 + 60
            self.clock.run_until(future.done, horizon, raise_on_timeout=False)
        return future.result()
