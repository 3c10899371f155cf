"""The client's long-lived calls: watches whose events accumulate as the clock runs, and lease
keepalives sent in the background.

Semantics: clientv3 3.4 watch.go (one watch stream per endpoint; a broken stream is resumed on
another endpoint from the last revision seen + 1, so events are neither lost nor repeated unless
that history was compacted, which cancels the watch with `compact_revision`) and lease.go
(keepalives every TTL/3; a TTL of 0 means the lease is gone). Stream messages carry sequence
numbers, as TCP would, so reordering is undone and a lost message breaks the stream.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import ERR_COMPACTED, EtcdError
from .mvcc_txn import prefix_end
from .rpc import (
    LEASE_KEEPALIVE,
    WatchCancelRequest,
    WatchCreateRequest,
    WatchProgressRequest,
    WatchStreamClose,
)

if TYPE_CHECKING:
    from .client import EtcdClient, EtcdFuture

SECOND = 1_000_000_000


def key_range(
    key: str | bytes, range_end: str | bytes | None, *, prefix: bool, from_key: bool
) -> tuple[str | bytes, str | bytes | None]:
    """clientv3's WithPrefix and WithFromKey: an empty key means "every key"."""
    if prefix:
        return (key, prefix_end(key)) if key else (b"\0", b"\0")
    if from_key:
        return (key or b"\0", b"\0")
    return key, range_end


class Watcher:
    """One watch. `events` accumulates every event delivered (dicts with `type`, `kv`,
    `prev_kv`), `responses` every watch response (the first has `created`). When the watch is
    canceled, `canceled` is True with `compact_revision` (its start was compacted) or
    `cancel_reason`; `err` is then the EtcdError clientv3 reports."""

    def __init__(
        self,
        client: EtcdClient,
        watch_id: int,
        create: dict,
        callback: Callable[[dict], None] | None,
    ) -> None:
        self.client = client
        self.id = watch_id
        self.create = create
        self.events: list[dict] = []
        self.responses: list[dict] = []
        self.created = False
        self.canceled = False
        self.compact_revision = 0
        self.cancel_reason = ""
        self.err: EtcdError | None = None
        self.header_revision = 0
        self.next_rev = int(create.get("start_revision") or 0)  # where a resume starts
        self.resumes = 0
        self._callback = callback
        self._stream: _ClientStream | None = None

    def _on_response(self, body: dict) -> None:
        rev = body.get("header", {}).get("revision", 0)
        self.header_revision = max(self.header_revision, rev)
        first = body.get("created") and not self.created
        if body.get("created"):
            if self.created and not body.get("canceled"):
                return  # a resumed watch's created response: not shown to the user
            self.created = True
            if self.next_rev == 0:
                self.next_rev = rev + 1
        events = body.get("events") or []
        if events:
            self.events.extend(events)
            self.next_rev = events[-1]["kv"]["mod_revision"] + 1
        if body.get("canceled"):
            self.canceled = True
            self.compact_revision = body.get("compact_revision", 0)
            self.cancel_reason = body.get("cancel_reason", "")
            if self.compact_revision:
                self.err = EtcdError(ERR_COMPACTED)
            elif self.cancel_reason:
                self.err = EtcdError(self.cancel_reason)
        progress = not (events or body.get("created") or body.get("canceled"))
        if first or events or body.get("canceled") or (progress and rev):
            self.responses.append(body)
            if self._callback is not None:
                self._callback(body)

    def cancel(self) -> None:
        """Stop watching (clientv3's Close for this watch)."""
        if self.canceled:
            return
        self.canceled = True
        stream = self._stream
        if stream is not None and not stream.broken:
            stream.watchers.pop(self.id, None)
            self.client.net.send(
                self.client.name, stream.endpoint, WatchCancelRequest(stream.stream_id, self.id)
            )
        if self in self.client.watchers:
            self.client.watchers.remove(self)

    def __repr__(self) -> str:
        state = "canceled" if self.canceled else "active"
        return f"<Watcher {self.id} {self.create.get('key')!r} {state} events={len(self.events)}>"


@dataclass
class _ClientStream:
    stream_id: int
    endpoint: str
    expected: int = 1
    watchers: dict[int, Watcher] = field(default_factory=dict)
    buffer: dict[int, Any] = field(default_factory=dict)
    suspect: int | None = None
    broken: bool = False


class WatchMixin:
    """The watch half of `EtcdClient`."""

    def _init_watch(self: EtcdClient) -> None:
        self.watchers: list[Watcher] = []
        self._streams: dict[int, _ClientStream] = {}
        self._stream_ids = itertools.count(1)
        self._watch_ids = itertools.count(1)

    def watch(
        self: EtcdClient,
        key: str | bytes,
        range_end: str | bytes | None = None,
        *,
        prefix: bool = False,
        from_key: bool = False,
        start_revision: int = 0,
        prev_kv: bool = False,
        filters: tuple[str, ...] = (),
        progress_notify: bool = False,
        require_leader: bool = False,
        callback: Callable[[dict], None] | None = None,
    ) -> Watcher:
        """Watch a key, range or prefix from `start_revision` (0: from now). Returns at once;
        events arrive in `watcher.events` (and `callback(response)`) as the clock runs.
        `filters`: "NOPUT", "NODELETE"."""
        key, range_end = key_range(key, range_end, prefix=prefix, from_key=from_key)
        create: dict[str, Any] = {"key": key, "range_end": range_end}
        create.update(start_revision=start_revision, prev_kv=prev_kv, filters=list(filters))
        create.update(progress_notify=progress_notify, require_leader=require_leader)
        w = Watcher(self, next(self._watch_ids), create, callback)
        self.watchers.append(w)
        self._open_watch(w)
        return w

    def _open_watch(self: EtcdClient, w: Watcher) -> None:
        if w.canceled:
            return
        ep = self.pinned
        if not self._reachable(ep):
            self.pinned = self._next_endpoint(ep)
            self._later(self._backoff(), lambda: self._open_watch(w))
            return
        stream = next(
            (s for s in self._streams.values() if s.endpoint == ep and not s.broken), None
        )
        if stream is None:
            stream = _ClientStream(next(self._stream_ids), ep)
            self._streams[stream.stream_id] = stream
        stream.watchers[w.id] = w
        w._stream = stream
        create = dict(w.create)
        if w.next_rev:
            create["start_revision"] = w.next_rev
        self.net.send(self.name, ep, WatchCreateRequest(stream.stream_id, w.id, create))

    def _on_watch_response(self: EtcdClient, src: str, msg: Any) -> None:
        stream = self._streams.get(msg.stream_id)
        if stream is None or stream.broken or msg.seq < stream.expected:
            return  # a duplicate, or a message of a stream given up on
        stream.buffer[msg.seq] = msg
        while stream.expected in stream.buffer and not stream.broken:
            body = stream.buffer.pop(stream.expected).body
            stream.expected += 1
            if body.get("watch_id") == -1:  # a progress response for the whole stream
                for w in list(stream.watchers.values()):
                    w._on_response(body)
                continue
            w = stream.watchers.get(body.get("watch_id"))
            if w is None:
                continue
            w._on_response(body)
            if body.get("canceled"):
                stream.watchers.pop(w.id, None)
                if w in self.watchers:
                    self.watchers.remove(w)

    def request_progress(self: EtcdClient) -> None:
        """Ask every open watch stream for a progress notification (clientv3's
        RequestProgress): each watcher gets a response with no events whose header revision
        says nothing is pending up to there."""
        for stream in self._streams.values():
            if not stream.broken:
                self.net.send(self.name, stream.endpoint, WatchProgressRequest(stream.stream_id))

    def _watch_endpoints(self: EtcdClient) -> set[str]:
        return {s.endpoint for s in self._streams.values() if s.watchers and not s.broken}

    def _check_stream_tails(self: EtcdClient, src: str, last_seqs: dict[int, int]) -> None:
        """A ping ack says how far each stream got; if we still lack a message it announced at
        the previous ack, that message was lost: the stream is broken."""
        for stream in list(self._streams.values()):
            if stream.endpoint != src or stream.broken or not stream.watchers:
                continue
            last = last_seqs.get(stream.stream_id, -1)  # -1: the member lost the stream
            missing = last < 0 or last >= stream.expected
            if not missing:
                stream.suspect = None
            elif stream.suspect is not None and (last < 0 or stream.expected <= stream.suspect):
                self._break_stream(stream)  # still short of what the last ack announced
            else:
                stream.suspect = max(last, stream.expected)

    def _break_streams(self: EtcdClient, ep: str) -> None:
        for stream in list(self._streams.values()):
            if stream.endpoint == ep and not stream.broken:
                self._break_stream(stream)

    def _break_stream(self: EtcdClient, stream: _ClientStream) -> None:
        stream.broken = True
        self._streams.pop(stream.stream_id, None)
        self.net.send(self.name, stream.endpoint, WatchStreamClose(stream.stream_id))
        if self.pinned == stream.endpoint:
            self.pinned = self._next_endpoint(stream.endpoint)
        for w in stream.watchers.values():
            if not w.canceled:
                w.resumes += 1
                if self.trace is not None:
                    self.trace.emit(self.name, "watch-resume", watch=w.id, rev=w.next_rev)
                self._open_watch(w)


class KeepAlive:
    """Keeps a lease alive from the client: a keepalive every TTL/3 seconds, as clientv3's
    KeepAlive does, until `stop()` or until the lease is gone (`ttl` 0, `expired` True)."""

    def __init__(self, client: EtcdClient, lease_id: int) -> None:
        self.client = client
        self.lease_id = lease_id
        self.ttl: int | None = None
        self.responses: list[dict] = []
        self.stopped = False
        self.expired = False
        self._send()

    def _send(self) -> None:
        if self.stopped or not self.client.host.up:
            return
        fut = self.client.call(LEASE_KEEPALIVE, {"ID": self.lease_id})
        fut.add_done_callback(self._on_done)

    def _on_done(self, fut: EtcdFuture) -> None:
        if self.stopped:
            return
        err = fut.exception()
        if err is not None:
            self.client._later(SECOND // 2, self._send)
            return
        resp = fut.result()
        self.responses.append(resp)
        self.ttl = int(resp.get("TTL", 0))
        if self.ttl <= 0:
            self.expired = self.stopped = True
            return
        self.client._later(max(SECOND // 2, self.ttl * SECOND // 3), self._send)

    def stop(self) -> None:
        self.stopped = True

    def __repr__(self) -> str:
        return f"<KeepAlive {self.lease_id:x} ttl={self.ttl} stopped={self.stopped}>"
