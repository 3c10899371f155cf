"""The log side of an etcd member: proposing requests through Raft (batched, with waits that
time out as etcd's do) and applying committed entries, conf changes and snapshots in order.

Semantics: etcd 3.4/3.5 etcdserver/v3_server.go (processInternalRaftRequestOnce, the wait
registry, parseProposeCtxErr), server.go (applyEntryNormal, applyConfChange, applySnapshot,
triggerSnapshot, createMergedSnapshotMessage) and apply.go through `MVCCStore.apply`.
"""

from __future__ import annotations

import heapq
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import (
    ERR_TIMEOUT,
    ERR_TIMEOUT_DUE_TO_CONNECTION_LOST,
    ERR_TIMEOUT_DUE_TO_LEADER_FAIL,
    EtcdError,
)
from .membership import RaftCluster, parse_context
from .messages import NONE, ConfChange, ConfChangeType, Entry, EntryType, MsgProp, Snapshot
from .raft import ProposalDropped, Raft
from .rpc import PROPOSAL_DROPPED, encode_request

if TYPE_CHECKING:
    from .member import EtcdMember

Reply = Callable[[dict | None, EtcdError | None], None]
"""How a proposal's result comes back: `(response, None)` or `(None, error)`."""


@dataclass(slots=True)
class _Wait:
    reply: Reply
    start_ns: int
    deadline_ns: int


class Applier:
    """Proposing and applying, mixed into `EtcdMember`."""

    def _init_applier(self: EtcdMember) -> None:
        self._waits: dict[int, _Wait] = {}
        self._deadlines: list[tuple[int, int]] = []
        self._deadline_timer_due: int | None = None
        self._deadline_token: object = None
        self._queue: dict[int, Entry] = {}
        self._flush_scheduled = False
        self._applied_waits: list[tuple[int, int, Callable[[], None]]] = []
        self._seq = itertools.count()

    # -- applying ------------------------------------------------------------------------------
    def _apply_entries(self: EtcdMember, raft: Raft, entries: tuple[Entry, ...]) -> None:
        """Apply committed entries in order; each answers the call waiting for it here."""
        dd = self.data
        store, waits, decode = dd.store, self._waits, self.codec.decode
        now = self.clock.now_ns
        normal = EntryType.EntryNormal
        for e in entries:
            data = e.data
            if e.type is not normal:
                assert isinstance(data, ConfChange)
                self._apply_conf_change(raft, data)
                if self.raft is not raft:
                    return
                store = dd.store
            elif data:
                req_id, kind, body = decode(data)  # type: ignore[arg-type]
                if kind == "cluster_member_attr_set":
                    dd.cluster.set_attributes(int(body["ID"]), body["name"], body["clientURLs"])
                    resp: dict = {}
                else:
                    resp = store.apply_op(kind, body, now)
                    if "raise_alarm" in resp:
                        alarm = resp.pop("raise_alarm")
                        self._emit("raise-alarm", alarm="NOSPACE", member=self.id)
                        self.propose("alarm", alarm, None)
                wait = waits.pop(req_id, None)
                if wait is not None:
                    err = resp.get("error")
                    if err is not None:
                        wait.reply(None, EtcdError.from_dict(err))
                    else:
                        wait.reply(resp, None)
            elif self._is_leader:
                # The leader's own empty entry is applied: all earlier terms' entries are too.
                store.lessor.promote(now, self.config.election_ns)
            dd.consistent_index = self.applied_index = e.index

    def _apply_conf_change(self: EtcdMember, raft: Raft, cc: ConfChange) -> None:
        cluster = self.data.cluster
        member, _, req_id = parse_context(cc)
        error = cluster.validate(cc)
        if error is None:
            try:
                raft.apply_conf_change(cc)
            except ValueError as e:
                error = str(e)
        if error is None:
            cluster.apply(cc)
            if cc.type is ConfChangeType.ConfChangeRemoveNode:
                self._peers.pop(cc.node_id, None)
                self._emit("removed-member", id=f"{cc.node_id:x}")
            else:
                if member is not None and cc.node_id != self.id and member.host:
                    self._peers[cc.node_id] = member.host
                self._emit("added-member", id=f"{cc.node_id:x}", type=cc.type.value)
        wait = self._waits.pop(req_id, None) if req_id else None
        if wait is not None:
            if error is not None:
                wait.reply(None, EtcdError(error))
            else:
                wait.reply({"members": [m.to_pb() for m in cluster.sorted_members()]}, None)
        if error is None and cc.type is ConfChangeType.ConfChangeRemoveNode:
            if cc.node_id == self.id:
                self.data.removed = True
                self._emit("stopped", reason="the member has been permanently removed")
                self.net.crash(self.name)

    def _apply_snapshot(self: EtcdMember, snap: Snapshot) -> None:
        """Install a leader's merged snapshot: membership, then the whole backend."""
        head, _, body = snap.data.partition(b"\n")
        self._flush_watches()
        dd = self.data
        dd.cluster = RaftCluster.from_json(json.loads(head))
        dd.store = self._new_store(body)
        dd.consistent_index = snap.index
        self.applied_index = snap.index
        for m in dd.cluster.members.values():
            if m.id != self.id and m.host:
                self._peers[m.id] = m.host
        self._emit("restored-backend", index=snap.index, revision=dd.store.current_rev)
        self._rewatch_all()

    def _merged_snapshot(self: EtcdMember) -> Snapshot:
        """What etcd sends a lagging follower: the current backend at the applied index."""
        raft = self.raft
        assert raft is not None
        index = raft.applied
        term = raft.log.term(index) or 0
        head = json.dumps(self.data.cluster.to_json(), separators=(",", ":")).encode()
        data = head + b"\n" + self.store.snapshot()
        return Snapshot(index=index, term=term, conf_state=raft.conf_state(), data=data)

    def _maybe_snapshot(self: EtcdMember, raft: Raft) -> None:
        cfg = self.config
        if raft.applied - raft.log.snapshot.index <= cfg.snapshot_count:
            return
        # etcd's Raft snapshot carries the membership (its v2 store); the backend itself is
        # sent only when a follower needs it (see _merged_snapshot).
        data = json.dumps(self.data.cluster.to_json(), separators=(",", ":")).encode()
        snap = raft.create_snapshot(raft.applied, data)
        self.storage.save_snapshot(snap)
        self._emit("saved-snapshot", index=snap.index)
        compact_to = raft.applied - cfg.catch_up_entries
        if compact_to > raft.log.offset:
            raft.compact(compact_to)
            self._emit("compacted-raft-log", index=compact_to)

    # -- proposing -----------------------------------------------------------------------------
    def propose(
        self: EtcdMember,
        kind: str,
        body: dict,
        reply: Reply | None,
        *,
        deadline_ns: int | None = None,
    ) -> int:
        """Propose a request through Raft; `reply` gets its result when this member applies it,
        or a timeout error. Returns the request ID."""
        req_id = self._ids.next()
        data = encode_request(req_id, kind, body)
        self._enqueue(req_id, Entry(0, 0, data=data), reply, deadline_ns)
        return req_id

    def propose_conf_change(
        self: EtcdMember,
        cc: ConfChange,
        req_id: int,
        reply: Reply,
        *,
        deadline_ns: int | None = None,
    ) -> None:
        """Propose a membership change whose applied result answers `reply` (matched by
        `req_id`, which the change's context carries)."""
        entry = Entry(0, 0, type=EntryType.EntryConfChange, data=cc)
        self._enqueue(req_id, entry, reply, deadline_ns)

    def _enqueue(
        self: EtcdMember, req_id: int, entry: Entry, reply: Reply | None, deadline_ns: int | None
    ) -> None:
        now = self.clock.now_ns
        limit = now + self.config.request_timeout_ns
        deadline = limit if deadline_ns is None else min(limit, deadline_ns)
        self._waits[req_id] = _Wait(reply or _ignore, now, deadline)
        self._add_deadline(deadline, req_id)
        self._queue[req_id] = entry
        self._schedule_flush()

    def _schedule_flush(self: EtcdMember) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._at(self.clock.now_ns, self._flush)

    def _flush(self: EtcdMember) -> None:
        """Step all queued proposals as one MsgProp: one append and one MsgApp per follower
        for the whole batch. Without a known leader they wait, as raft's node blocks them."""
        self._flush_scheduled = False
        raft = self.raft
        if raft is None or not self._queue or raft.lead == NONE:
            return
        batch, self._queue = self._queue, {}
        try:
            raft.step(MsgProp(from_=self.id, entries=tuple(batch.values())))
        except ProposalDropped:
            for req_id in batch:
                wait = self._waits.pop(req_id, None)
                if wait is not None:
                    wait.reply(None, EtcdError(PROPOSAL_DROPPED))
        self._drain()

    def _add_deadline(self: EtcdMember, deadline: int, key: int) -> None:
        heap = self._deadlines
        heapq.heappush(heap, (deadline, key))
        if len(heap) > 64 and len(heap) > 4 * len(self._waits):
            # most entries are answered requests: rebuild from the ones still waiting
            heap[:] = [(w.deadline_ns, k) for k, w in self._waits.items()]
            heapq.heapify(heap)
        if self._deadline_timer_due is None or deadline < self._deadline_timer_due:
            self._deadline_timer_due = deadline
            token = self._deadline_token = object()
            self._at(deadline, lambda: self._expire(token))

    def _expire(self: EtcdMember, token: object) -> None:
        if token is not self._deadline_token:
            return  # superseded by a timer for an earlier deadline
        now = self.clock.now_ns
        heap = self._deadlines
        while heap and heap[0][0] <= now:
            _, key = heapq.heappop(heap)
            wait = self._waits.get(key)
            if wait is not None and wait.deadline_ns <= now:
                del self._waits[key]
                self._queue.pop(key, None)
                wait.reply(None, EtcdError(self._timeout_error(wait.start_ns)))
        self._deadline_timer_due = None
        if heap:
            self._deadline_timer_due = heap[0][0]
            token = self._deadline_token = object()
            self._at(heap[0][0], lambda: self._expire(token))

    def _timeout_error(self: EtcdMember, start_ns: int) -> str:
        """parseProposeCtxErr: which "request timed out" a client gets."""
        elected = self._lead_elected_ns
        if elected and elected - 2 * self.config.election_ns < start_ns < elected:
            return ERR_TIMEOUT_DUE_TO_LEADER_FAIL
        raft = self.raft
        lead = raft.lead if raft is not None else NONE
        if lead == self.id:
            members = list(self.data.cluster.members)
            connected = sum(1 for m in members if self._connected_since(m, start_ns))
            if connected < len(members) // 2 + 1:
                return ERR_TIMEOUT_DUE_TO_CONNECTION_LOST
        elif lead != NONE and not self._connected_since(lead, start_ns):
            return ERR_TIMEOUT_DUE_TO_CONNECTION_LOST
        return ERR_TIMEOUT

    def _fail_everything(self: EtcdMember) -> None:
        """A crash: every waiting call is simply gone (its client hears nothing)."""
        self._waits.clear()
        self._queue.clear()

    def wait_applied(self: EtcdMember, index: int, fn: Callable[[], None]) -> None:
        """Call `fn` once this member has applied `index` (at once if it has)."""
        if self.applied_index >= index:
            fn()
        else:
            heapq.heappush(self._applied_waits, (index, next(self._seq), fn))

    def _after_apply(self: EtcdMember) -> None:
        waits = self._applied_waits
        while waits and waits[0][0] <= self.applied_index:
            heapq.heappop(waits)[2]()
        self._flush_watches()


def _ignore(resp: dict | None, err: EtcdError | None) -> None:
    pass
