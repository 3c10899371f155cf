"""The Raft log of one node: a snapshot, the entries after it, and the commit/apply marks.

Semantics: etcd-io/raft's `raftLog` and `unstable`, folded into one in-memory list (this core
keeps its whole log in memory; the host keeps the durable copy in `Storage`). Entries at or past
`unstable` have not been handed to the host for persisting yet.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .messages import ConfChange, ConfChangeType, ConfState, Entry, EntryType, HardState, Snapshot


class LogCorruption(RuntimeError):
    """An operation would rewrite committed history: a bug or a broken host, never normal."""


@dataclass
class Storage:
    """What a host has made durable: the state a core is rebuilt from after a crash.

    Invariant: `entries` are consecutive and all follow `snapshot.index`.
    """

    hard_state: HardState = field(default_factory=HardState)
    snapshot: Snapshot = field(default_factory=Snapshot)
    entries: list[Entry] = field(default_factory=list)

    @classmethod
    def initial(cls, voters: Iterable[int], learners: Iterable[int] = ()) -> Storage:
        """An empty log whose membership is given (as upstream's tests configure storage)."""
        conf = ConfState(tuple(sorted(voters)), tuple(sorted(learners)))
        return cls(snapshot=Snapshot(conf_state=conf))

    @classmethod
    def bootstrap(cls, voters: Iterable[int]) -> Storage:
        """A brand-new member's log, as etcd starts a new cluster (upstream bootstrap.go): one
        committed ConfChangeAddNode entry per voter at term 1. Applying them builds the
        membership, and a member added later learns it by replaying the same entries."""
        ents = [
            Entry(1, i, EntryType.EntryConfChange, ConfChange(ConfChangeType.ConfChangeAddNode, v))
            for i, v in enumerate(sorted(voters), start=1)
        ]
        return cls(hard_state=HardState(term=1, commit=len(ents)), entries=ents)

    def save(
        self, hard_state: HardState | None, entries: Sequence[Entry], snapshot: Snapshot | None
    ) -> None:
        """Persist one Ready's worth: a received snapshot first, then hard state and entries.

        New entries overwrite any stored entries from their first index on, as a WAL does.
        """
        if snapshot is not None:
            # A received snapshot replaces the whole log, as MemoryStorage.ApplySnapshot does.
            self.snapshot, self.entries = snapshot, []
        if hard_state is not None:
            self.hard_state = hard_state
        if entries:
            first = self.snapshot.index + 1
            keep = entries[0].index - first
            if keep < 0:
                raise LogCorruption(f"entry {entries[0].index} precedes snapshot {first - 1}")
            del self.entries[keep:]
            self.entries.extend(entries)

    def save_snapshot(self, snapshot: Snapshot) -> None:
        """Store a snapshot the host took of its own applied state and drop the entries it
        covers; later entries stay (etcd keeps the WAL tail after its snapshot)."""
        if snapshot.index <= self.snapshot.index:
            return
        self.entries = [e for e in self.entries if e.index > snapshot.index]
        self.snapshot = snapshot

    def size(self) -> int:
        """Bytes of Raft state (hard state and log, not the snapshot's data): a rough WAL size."""
        return 24 + sum(24 + e.size for e in self.entries)


class RaftLog:
    """Entries `offset+1 .. last_index()` plus the snapshot that covers everything up to
    `offset`. Invariant: applied <= committed <= last_index(); offset <= committed."""

    def __init__(self, storage: Storage) -> None:
        snap = storage.snapshot
        self.snapshot: Snapshot = snap  # the latest snapshot, persisted or received
        self.offset: int = snap.index  # index of the entry just before entries[0]
        self.offset_term: int = snap.term
        self.entries: list[Entry] = [e for e in storage.entries if e.index > snap.index]
        self.committed: int = snap.index
        self.applying: int = snap.index  # handed to the host for applying
        self.applied: int = snap.index
        self.unstable: int = self.last_index() + 1  # first entry not yet handed out to persist
        self.pending_snapshot: Snapshot | None = None  # received, not yet handed out
        self.snapshot_in_progress: Snapshot | None = None  # handed out, not yet advanced

    # -- reading -----------------------------------------------------------------------------
    def first_index(self) -> int:
        return self.offset + 1

    def last_index(self) -> int:
        return self.offset + len(self.entries)

    def term(self, i: int) -> int | None:
        """The term of entry `i`; None when compacted away or beyond the end. The term at
        `offset` (the snapshot's last entry) stays known, for the consistency check."""
        if i == self.offset:
            return self.offset_term
        if i < self.offset or i > self.offset + len(self.entries):
            return None
        return self.entries[i - self.offset - 1].term

    def last_term(self) -> int:
        return self.entries[-1].term if self.entries else self.offset_term

    def match_term(self, i: int, term: int) -> bool:
        return self.term(i) == term

    def is_up_to_date(self, last_index: int, last_term: int) -> bool:
        """The up-to-date rule (paper 5.4.1): a later last term wins; equal terms, the longer."""
        ours = self.last_term()
        return last_term > ours or (last_term == ours and last_index >= self.last_index())

    def slice(self, lo: int, hi: int, max_size: int | None = None) -> list[Entry]:
        """Entries [lo, hi), cut to at most `max_size` payload bytes but never to none."""
        if lo <= self.offset:
            raise LogCorruption(f"slice from {lo}: compacted up to {self.offset}")
        ents = self.entries[lo - self.offset - 1 : hi - self.offset - 1]
        if max_size is not None and len(ents) > 1:
            total = 0
            for n, e in enumerate(ents):
                data = e.data  # e.size, inline: this runs for every entry sent
                total += len(data) if isinstance(data, bytes) else 16
                if total > max_size and n > 0:
                    return ents[:n]
        return ents

    def find_conflict(self, ents: Sequence[Entry]) -> int:
        """The index of the first entry of `ents` that is new or differs in term; 0 if all of
        them are already in the log."""
        for e in ents:
            if not self.match_term(e.index, e.term):
                return e.index
        return 0

    def find_conflict_by_term(self, index: int, term: int) -> tuple[int, int]:
        """The largest (i, term(i)) with i <= index and term(i) <= term; an unknown term (i
        compacted) counts as a possible match and is returned with term 0.

        Used on both sides of a rejected MsgApp to skip a whole term per round trip.
        """
        while index > 0:
            t = self.term(index)
            if t is None:
                return index, 0
            if t <= term:
                return index, t
            index -= 1
        return 0, 0

    def has_unapplied_conf_change(self) -> bool:
        """True when a committed, not yet applied entry changes the membership."""
        lo, hi = self.applied + 1, self.committed + 1
        if lo >= hi:
            return False
        return any(not isinstance(e.data, bytes) for e in self.slice(lo, hi))

    # -- writing -----------------------------------------------------------------------------
    def append(self, ents: Sequence[Entry]) -> int:
        """Truncate the log at `ents[0].index` and append `ents`; returns the new last index.

        Committed entries are never truncated (that would break State Machine Safety).
        """
        if not ents:
            return self.last_index()
        after = ents[0].index - 1
        if after < self.committed:
            raise LogCorruption(f"append after {after} would truncate commit {self.committed}")
        del self.entries[after - self.offset :]
        self.entries.extend(ents)
        self.unstable = min(self.unstable, after + 1)
        return self.last_index()

    def maybe_append(
        self, prev_index: int, prev_term: int, commit: int, ents: Sequence[Entry]
    ) -> int | None:
        """The follower's side of AppendEntries (Figure 2, receiver steps 2-5).

        Returns the index of the last entry the message covered, or None when the log has no
        entry (`prev_index`, `prev_term`). Only a real conflict truncates: entries already
        present are kept, so a stale, shorter MsgApp cannot shorten the log.
        """
        if not self.match_term(prev_index, prev_term):
            return None
        last_new = prev_index + len(ents)
        ci = self.find_conflict(ents)
        if ci:
            if ci <= self.committed:
                raise LogCorruption(f"entry {ci} conflicts with committed entry {self.committed}")
            self.append(ents[ci - prev_index - 1 :])
        self.commit_to(min(commit, last_new))
        return last_new

    def commit_to(self, index: int) -> None:
        """Raise the commit index (it never decreases)."""
        if index > self.committed:
            if index > self.last_index():
                raise LogCorruption(f"commit {index} is past the last index {self.last_index()}")
            self.committed = index

    def maybe_commit(self, index: int, term: int) -> bool:
        """Commit up to `index` only if that entry is of `term` (the leader's current term):
        entries of earlier terms are committed only indirectly (paper 5.4.2, Figure 8)."""
        if index > self.committed and term != 0 and self.term(index) == term:
            self.commit_to(index)
            return True
        return False

    def applied_to(self, index: int) -> None:
        if index < self.applied or index > self.committed:
            raise LogCorruption(f"applied {index} out of range [{self.applied}, {self.committed}]")
        self.applied = index
        self.applying = max(self.applying, index)

    def restore(self, snap: Snapshot) -> None:
        """Replace the whole log by a received snapshot (its index becomes committed)."""
        self.snapshot = snap
        self.offset, self.offset_term = snap.index, snap.term
        self.entries = []
        self.committed = snap.index
        self.unstable = snap.index + 1
        self.pending_snapshot = snap

    def compact(self, index: int) -> None:
        """Forget the entries up to `index`, which a snapshot at or after it covers."""
        if index <= self.offset:
            return
        if index > self.applied or index > self.snapshot.index:
            raise LogCorruption(f"compact {index}: beyond applied or the snapshot")
        self.offset_term = self.term(index) or 0
        del self.entries[: index - self.offset]
        self.offset = index

    # -- handing work to the host ------------------------------------------------------------
    def unstable_entries(self) -> list[Entry]:
        return self.entries[self.unstable - self.offset - 1 :]

    def next_committed_entries(self) -> list[Entry]:
        """Committed entries not yet handed out for applying; none while a snapshot is pending
        (it must be applied first)."""
        if self.pending_snapshot is not None or self.snapshot_in_progress is not None:
            return []
        if self.applying >= self.committed:
            return []
        return self.slice(self.applying + 1, self.committed + 1)

    def has_next_or_in_progress_snapshot(self) -> bool:
        return self.pending_snapshot is not None or self.snapshot_in_progress is not None
