"""Watches on the MVCC store: replay from a revision, then every change as it is written.

Semantics: etcd 3.4 mvcc/watchable_store.go, watcher.go, watcher_group.go and the server side
of api/v3rpc/watch.go (created/canceled responses, prev_kv looked up when an event is sent).
A watcher starting in the past is *unsynced*: its history is read from the backend records, in
batches of at most 1000 revisions, and if its start is below the compaction point it is canceled
with `compact_revision` instead. Upstream syncs every 100 ms; here the host calls `sync()` (and
`watch()` syncs at once), which is the same order of events without the delay.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .mvcc_backend import Record
from .mvcc_txn import WATCH_FILTER, enum, to_bytes

if TYPE_CHECKING:
    from .mvcc import MVCCStore

AUTO_WATCH_ID = 0  # a create request with watch_id 0 gets the next free ID
WATCH_BATCH_MAX_REVS = 1000  # revisions per replayed response (watchBatchMaxRevs)
ERR_EMPTY_WATCHER_RANGE = "mvcc: watcher range is empty"
ERR_WATCHER_DUPLICATE_ID = "mvcc: duplicate watch ID provided on the WatchStream"
NOPUT, NODELETE = 0, 1


@dataclass
class Watcher:
    """One watch. `end` follows the index's convention (None one key, b"" from key on);
    `min_rev` is the lowest revision it has not been sent yet."""

    id: int
    key: bytes
    end: bytes | None
    min_rev: int
    prev_kv: bool = False
    filters: frozenset[int] = frozenset()
    progress_notify: bool = False
    synced: bool = False
    pending: list[dict] = field(default_factory=list)

    def matches(self, key: bytes) -> bool:
        if self.end is None:
            return key == self.key
        return self.key <= key and (self.end == b"" or key < self.end)


def _response(watch_id: int, revision: int, **fields: object) -> dict:
    resp = {
        "header": {"revision": revision},
        "watch_id": watch_id,
        "created": False,
        "canceled": False,
        "compact_revision": 0,
        "cancel_reason": "",
        "events": [],
    }
    resp.update(fields)
    return resp


class WatchHub:
    """All watchers of one store, as one watch stream holds them (IDs from 0 up)."""

    def __init__(self, store: MVCCStore) -> None:
        self._store = store
        self._watchers: dict[int, Watcher] = {}
        self._next_id = 0

    def watch(
        self,
        key: str | bytes,
        range_end: str | bytes | None = None,
        start_revision: int = 0,
        *,
        prev_kv: bool = False,
        filters: tuple[int | str, ...] = (),
        progress_notify: bool = False,
        watch_id: int = AUTO_WATCH_ID,
    ) -> dict:
        """Create a watcher and return the `created` response (header revision = current).

        `start_revision` 0 means "changes after now"; a future one waits for it. A bad range
        (key >= range_end) or a taken `watch_id` gives a created-and-canceled response with
        watch_id -1 and upstream's `cancel_reason`.
        """
        k = to_bytes(key) or b"\0"  # an empty key watches from the smallest key
        end = to_bytes(range_end)
        end_norm: bytes | None = None if not end else (b"" if end == b"\0" else end)
        rev = self._store.current_rev
        error = ""
        if end_norm and k >= end_norm:
            error = ERR_EMPTY_WATCHER_RANGE
        elif watch_id != AUTO_WATCH_ID and watch_id in self._watchers:
            error = ERR_WATCHER_DUPLICATE_ID
        if error:
            return _response(-1, rev, created=True, canceled=True, cancel_reason=error)
        if watch_id == AUTO_WATCH_ID:
            while self._next_id in self._watchers:
                self._next_id += 1
            watch_id = self._next_id
            self._next_id += 1
        start = start_revision if start_revision else rev + 1
        w = Watcher(
            watch_id,
            k,
            end_norm,
            start,
            prev_kv=prev_kv,
            filters=frozenset(enum(f, WATCH_FILTER) for f in filters),
            progress_notify=progress_notify,
            synced=start > rev,
        )
        self._watchers[watch_id] = w
        created = _response(watch_id, rev, created=True)
        self.sync()
        return created

    def cancel(self, watch_id: int) -> dict | None:
        """Cancel a watcher: the canceled response, or None if there is no such watcher."""
        if self._watchers.pop(watch_id, None) is None:
            return None
        return _response(watch_id, self._store.current_rev, canceled=True)

    def responses(self, watch_id: int) -> list[dict]:
        """Take the responses waiting for a watcher (events, or its compaction cancel)."""
        w = self._watchers.get(watch_id)
        if w is None:
            return []
        out, w.pending = w.pending, []
        if any(r["canceled"] for r in out):
            del self._watchers[watch_id]
        return out

    def progress(self, watch_id: int) -> dict | None:
        """A progress notification (no events, header = current revision) for a synced watcher;
        None for one still catching up, which would get nothing upstream either."""
        w = self._watchers.get(watch_id)
        if w is None or not w.synced:
            return None
        return _response(watch_id, self._store.current_rev)

    def ids(self) -> list[int]:
        return sorted(self._watchers)

    # --- driven by the store -------------------------------------------------------------------

    def active(self) -> bool:
        """True while any watcher exists (a store with none can skip `notify`)."""
        return bool(self._watchers)

    def notify(self, rev: int, changes: list[Record]) -> None:
        """A write transaction committed `changes` at `rev`: one response per synced watcher
        that watches any of the keys, events in the order they were written."""
        for w in self._watchers.values():
            if not w.synced or rev < w.min_rev:
                continue
            evs = [ch for ch in changes if w.matches(ch.key)]
            if evs:
                self._send(w, rev, [(rev, ch) for ch in evs])

    def sync(self) -> None:
        """Bring every unsynced watcher up to date: cancel it if its start was compacted away,
        else replay the stored changes from its start to now and mark it synced."""
        store = self._store
        cur, compacted = store.current_rev, store.compact_main_rev
        for w in list(self._watchers.values()):
            if w.synced or any(r["canceled"] for r in w.pending):
                continue
            if w.min_rev < compacted:
                w.pending.append(_response(w.id, 0, canceled=True, compact_revision=compacted))
                continue
            history = [
                (rev.main, rec)
                for rev, rec in store.backend.records.items()
                if w.min_rev <= rev.main <= cur and w.matches(rec.key)
            ]
            batch: list[tuple[int, Record]] = []
            revs = 0
            for main, rec in history:
                if not batch or batch[-1][0] != main:
                    if revs == WATCH_BATCH_MAX_REVS:
                        self._send(w, cur, batch)
                        batch, revs = [], 0
                    revs += 1
                batch.append((main, rec))
            if batch:
                self._send(w, cur, batch)
            w.min_rev, w.synced = cur + 1, True

    def _send(self, w: Watcher, header_rev: int, evs: list[tuple[int, Record]]) -> None:
        events = []
        for mod_rev, rec in evs:
            is_delete = rec.tombstone
            if (NODELETE if is_delete else NOPUT) in w.filters:
                continue
            kv = self._store._kv_dict(rec, mod_revision=mod_rev)
            prev = None
            # a create event (first put of a generation) has no previous version to show
            if w.prev_kv and (is_delete or rec.version != 1):
                prev = self._store._kv_at(rec.key, mod_rev - 1)
            events.append({"type": "DELETE" if is_delete else "PUT", "kv": kv, "prev_kv": prev})
        if events:  # everything filtered out: upstream sends nothing
            w.pending.append(_response(w.id, header_rev, events=events))
