"""Watch streams on an etcd member: one stream per client connection, each response numbered,
watchers re-created when a snapshot replaces the store, and progress notifications.

Semantics: etcd 3.4 etcdserver/api/v3rpc/watch.go (serverWatchStream: created and canceled
responses, progress on request and every 10 minutes for watchers that asked) on top of the
store's WatchHub. Mixed into `EtcdMember` through `V3Server`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .errors import ERR_NO_LEADER
from .messages import NONE
from .rpc import (
    WatchCancelRequest,
    WatchCreateRequest,
    WatchProgressRequest,
    WatchResponse,
    WatchStreamClose,
)

if TYPE_CHECKING:
    from .member import EtcdMember


@dataclass
class _ServerWatch:
    store_id: int
    create: dict
    next_rev: int  # the first revision this watch has not been sent


@dataclass
class _Stream:
    src: str
    stream_id: int
    seq: int = 0
    watches: dict[int, _ServerWatch] = field(default_factory=dict)


MAX_NO_LEADER_CHECKS = 3  # v3rpc's maxNoLeaderCnt


class WatchServer:
    """Watch streams, mixed into `EtcdMember`."""

    def _init_watches(self: EtcdMember) -> None:
        self._streams: dict[tuple[str, int], _Stream] = {}

    def _watch_close(self: EtcdMember, src: str, msg: WatchStreamClose) -> None:
        stream = self._streams.pop((src, msg.stream_id), None)
        if stream is not None:
            for w in stream.watches.values():
                self.store.cancel_watch(w.store_id)

    def _watch_progress(self: EtcdMember, src: str, msg: WatchProgressRequest) -> None:
        """RequestProgress (3.4): one response for the whole stream, watch ID -1, whose header
        revision tells every watcher on it that nothing is pending up to there."""
        stream = self._streams.get((src, msg.stream_id))
        if stream is None:
            return
        self._flush_stream(stream)
        body = {"header": {"revision": self.store.current_rev}, "watch_id": -1}
        body.update(created=False, canceled=False, compact_revision=0, cancel_reason="")
        body["events"] = []
        self._stream_send(stream, body)

    def _monitor_leader(self: EtcdMember) -> None:
        """v3rpc's monitorLeader: once this member has known no leader for three election
        timeouts in a row, every watch that asked to require a leader is canceled with
        `etcdserver: no leader`, so that its client can watch through another member."""
        raft = self.raft
        if raft is None or raft.lead != NONE:
            self._no_leader_checks = 0
            return
        self._no_leader_checks += 1
        if self._no_leader_checks < MAX_NO_LEADER_CHECKS:
            return
        for stream in self._streams.values():
            for client_id, w in list(stream.watches.items()):
                if not w.create.get("require_leader"):
                    continue
                self.store.cancel_watch(w.store_id)
                del stream.watches[client_id]
                body = {"header": {"revision": self.store.current_rev}, "watch_id": client_id}
                body.update(created=False, canceled=True, compact_revision=0, events=[])
                body["cancel_reason"] = ERR_NO_LEADER
                self._stream_send(stream, body)

    def _progress_notify(self: EtcdMember) -> None:
        """Every 10 minutes, a progress notification to each synced watcher that asked."""
        if self.raft is None:
            return
        self._flush_watches()
        for stream in list(self._streams.values()):
            for client_id, w in stream.watches.items():
                if w.create.get("progress_notify"):
                    resp = self.store.watches.progress(w.store_id)
                    if resp is not None:
                        resp["watch_id"] = client_id
                        self._stream_send(stream, resp)

    # -- watch streams ---------------------------------------------------------------------------
    def _watch_create(self: EtcdMember, src: str, msg: WatchCreateRequest) -> None:
        key = (src, msg.stream_id)
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams[key] = _Stream(src, msg.stream_id)
        if msg.watch_id in stream.watches:
            return  # the same create twice on one stream: a duplicate TCP would never deliver
        c = msg.create
        raft = self.raft
        assert raft is not None
        if c.get("require_leader") and raft.lead == NONE:
            body = {"header": {"revision": 0}, "watch_id": msg.watch_id, "created": True}
            body.update(canceled=True, cancel_reason=ERR_NO_LEADER, events=[])
            self._stream_send(stream, body)
            return
        start = int(c.get("start_revision") or 0)
        resp = self._store_watch(c, start)
        if not resp["canceled"]:
            next_rev = start or resp["header"]["revision"] + 1
            stream.watches[msg.watch_id] = _ServerWatch(resp["watch_id"], c, next_rev)
        resp["watch_id"] = msg.watch_id
        self._stream_send(stream, resp)
        self._flush_stream(stream)

    def _store_watch(self: EtcdMember, c: dict, start: int) -> dict:
        return self.store.watch(
            c.get("key") or "",
            c.get("range_end"),
            start_revision=start,
            prev_kv=bool(c.get("prev_kv")),
            filters=tuple(c.get("filters") or ()),
            progress_notify=bool(c.get("progress_notify")),
        )

    def _watch_cancel(self: EtcdMember, src: str, msg: WatchCancelRequest) -> None:
        stream = self._streams.get((src, msg.stream_id))
        if stream is None:
            return
        w = stream.watches.pop(msg.watch_id, None)
        if w is None:
            return
        resp = self.store.cancel_watch(w.store_id)
        if resp is not None:
            resp["watch_id"] = msg.watch_id
            self._stream_send(stream, resp)

    def _stream_send(self: EtcdMember, stream: _Stream, body: dict) -> None:
        body["header"] = self.header(body["header"].get("revision", 0))
        stream.seq += 1
        self.net.send(self.name, stream.src, WatchResponse(stream.stream_id, stream.seq, body))

    def _flush_stream(self: EtcdMember, stream: _Stream) -> None:
        store = self.store
        for client_id, w in list(stream.watches.items()):
            for resp in store.watch_responses(w.store_id):
                events = resp["events"]
                if events:
                    w.next_rev = events[-1]["kv"]["mod_revision"] + 1
                if resp["canceled"]:
                    stream.watches.pop(client_id, None)
                resp["watch_id"] = client_id
                self._stream_send(stream, resp)

    def _flush_watches(self: EtcdMember) -> None:
        """Send every watch response the store has queued since the last flush."""
        for stream in list(self._streams.values()):
            if stream.watches:
                self._flush_stream(stream)

    def _rewatch_all(self: EtcdMember) -> None:
        """The store was replaced by a snapshot: watch it again from where each watch was."""
        for stream in self._streams.values():
            for w in stream.watches.values():
                resp = self._store_watch(w.create, w.next_rev)
                w.store_id = resp["watch_id"]
        self._flush_watches()
