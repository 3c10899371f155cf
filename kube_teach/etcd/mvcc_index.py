"""The in-memory key index of the MVCC store: for each key, its generations of revisions.

Semantics: etcd 3.4 mvcc/key_index.go and mvcc/index.go. A generation runs from the put that
creates a key to the tombstone that deletes it; compaction drops every revision at or below the
compaction point except the newest one per key (and that one too when it is a tombstone).
"""

from __future__ import annotations

import bisect
from typing import NamedTuple


class Revision(NamedTuple):
    """A change's position: `main` is the store revision of its transaction, `sub` its index
    among that transaction's changes. Tuples order them as etcd orders its bbolt keys."""

    main: int
    sub: int = 0


class Generation:
    """The revisions of one life of a key; `ver` counts its puts (the tombstone counts too)."""

    __slots__ = ("ver", "created", "revs")

    def __init__(self) -> None:
        self.ver = 0
        self.created = Revision(0, 0)
        self.revs: list[Revision] = []

    def __repr__(self) -> str:
        return f"Generation(created={tuple(self.created)}, ver={self.ver}, revs={self.revs})"


class KeyIndex:
    """All generations of one key; the last generation is the live one (empty once deleted)."""

    __slots__ = ("key", "modified", "generations")

    def __init__(self, key: bytes) -> None:
        self.key = key
        self.modified = Revision(0, 0)
        self.generations: list[Generation] = []

    def put(self, rev: Revision) -> None:
        """Record a put at `rev`, which must be newer than every revision recorded so far."""
        if rev <= self.modified:
            raise ValueError(f"put at {rev} is not after {self.modified}")
        if not self.generations:
            self.generations.append(Generation())
        g = self.generations[-1]
        if not g.revs:
            g.created = rev
        g.revs.append(rev)
        g.ver += 1
        self.modified = rev

    def restore(self, created: Revision, modified: Revision, ver: int) -> None:
        """Start an empty index at a kept revision, as rebuilding from the backend does."""
        g = Generation()
        g.created, g.ver, g.revs = created, ver, [modified]
        self.generations.append(g)
        self.modified = modified

    def tombstone(self, rev: Revision) -> None:
        """Record a delete at `rev`: it ends the live generation and opens an empty one."""
        if self.is_empty() or not self.generations[-1].revs:
            raise KeyError(self.key)
        self.put(rev)
        self.generations.append(Generation())

    def is_empty(self) -> bool:
        return len(self.generations) == 1 and not self.generations[0].revs

    def _find_generation(self, at_rev: int) -> Generation | None:
        last = len(self.generations) - 1
        for i in range(last, -1, -1):
            g = self.generations[i]
            if not g.revs:
                continue
            # a closed generation whose tombstone is at or before at_rev: the key was deleted
            if i != last and g.revs[-1].main <= at_rev:
                return None
            if g.revs[0].main <= at_rev:
                return g
        return None

    def get(self, at_rev: int) -> tuple[Revision, Revision, int] | None:
        """`(modified, created, version)` of the key as of store revision `at_rev`, or None
        when it did not exist then."""
        g = self._find_generation(at_rev)
        if g is None:
            return None
        for n in range(len(g.revs) - 1, -1, -1):
            if g.revs[n].main <= at_rev:
                return g.revs[n], g.created, g.ver - (len(g.revs) - n - 1)
        return None

    def since(self, rev: int) -> list[Revision]:
        """Revisions with main >= `rev`, oldest first; of several in one transaction only the
        last (highest sub) is kept, as upstream does."""
        since = Revision(rev, 0)
        gi = len(self.generations) - 1
        while gi > 0:
            g = self.generations[gi]
            if g.revs and since > g.created:
                break
            gi -= 1
        out: list[Revision] = []
        last = 0
        for g in self.generations[gi:]:
            for r in g.revs:
                if since > r:
                    continue
                if r.main == last:
                    out[-1] = r
                    continue
                out.append(r)
                last = r.main
        return out

    def _do_compact(self, at_rev: int, available: set[Revision]) -> tuple[int, int]:
        # find the first generation that holds at_rev or was created after it
        gi = 0
        while gi < len(self.generations) - 1:
            if self.generations[gi].revs[-1].main > at_rev:
                break
            gi += 1
        g = self.generations[gi]
        for n in range(len(g.revs) - 1, -1, -1):
            if g.revs[n].main <= at_rev:
                available.add(g.revs[n])
                return gi, n
        return gi, -1

    def compact(self, at_rev: int, available: set[Revision]) -> None:
        """Drop revisions at or below `at_rev` except the newest one, which is added to
        `available` unless it is a tombstone; generations left empty are removed."""
        gi, ri = self._do_compact(at_rev, available)
        g = self.generations[gi]
        if g.revs:
            if ri != -1:
                g.revs = g.revs[ri:]
            # a lone revision in a closed generation is its tombstone: drop it too
            if len(g.revs) == 1 and gi != len(self.generations) - 1:
                available.discard(g.revs[0])
                gi += 1
        self.generations = self.generations[gi:]

    def keep(self, at_rev: int, available: set[Revision]) -> None:
        """Add to `available` what `compact(at_rev)` would keep, changing nothing."""
        if self.is_empty():
            return
        gi, ri = self._do_compact(at_rev, available)
        g = self.generations[gi]
        if g.revs and ri == len(g.revs) - 1 and gi != len(self.generations) - 1:
            available.discard(g.revs[ri])

    def __repr__(self) -> str:
        return f"KeyIndex({self.key!r}, {self.generations})"


class TreeIndex:
    """Every key's `KeyIndex`, in key order (upstream uses a B-tree; a sorted list will do).

    Ranges follow etcd's conventions: `end=None` means the single key `key`; `end=b""` means
    every key from `key` on (what a range end of `"\\0"` becomes); otherwise `[key, end)`.
    """

    def __init__(self) -> None:
        self._keys: list[bytes] = []
        self._index: dict[bytes, KeyIndex] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def key_index(self, key: bytes) -> KeyIndex | None:
        return self._index.get(key)

    def insert(self, ki: KeyIndex) -> None:
        if ki.key not in self._index:
            bisect.insort(self._keys, ki.key)
        self._index[ki.key] = ki

    def put(self, key: bytes, rev: Revision) -> None:
        ki = self._index.get(key)
        if ki is None:
            ki = KeyIndex(key)
            self.insert(ki)
        ki.put(rev)

    def tombstone(self, key: bytes, rev: Revision) -> None:
        self._index[key].tombstone(rev)

    def get(self, key: bytes, at_rev: int) -> tuple[Revision, Revision, int] | None:
        ki = self._index.get(key)
        return None if ki is None else ki.get(at_rev)

    def _visit(self, key: bytes, end: bytes) -> list[KeyIndex]:
        lo = bisect.bisect_left(self._keys, key)
        hi = len(self._keys) if end == b"" else bisect.bisect_left(self._keys, end, lo)
        return [self._index[k] for k in self._keys[lo:hi]] if hi > lo else []

    def range(self, key: bytes, end: bytes | None, at_rev: int) -> list[tuple[bytes, Revision]]:
        """`(key, revision)` of each key alive at `at_rev` in the range, in key order."""
        if end is None:
            got = self.get(key, at_rev)
            return [] if got is None else [(key, got[0])]
        out = []
        for ki in self._visit(key, end):
            got = ki.get(at_rev)
            if got is not None:
                out.append((ki.key, got[0]))
        return out

    def range_since(self, key: bytes, end: bytes | None, rev: int) -> list[Revision]:
        """Every revision at or after `rev` of keys in the range, in revision order."""
        if end is None:
            ki = self._index.get(key)
            return [] if ki is None else ki.since(rev)
        out: list[Revision] = []
        for ki in self._visit(key, end):
            out.extend(ki.since(rev))
        out.sort()
        return out

    def compact(self, rev: int) -> set[Revision]:
        """Compact every key at `rev`; return the revisions at or below it that stay."""
        available: set[Revision] = set()
        for key in list(self._keys):
            ki = self._index[key]
            ki.compact(rev, available)
            if ki.is_empty():
                del self._index[key]
        self._keys = [k for k in self._keys if k in self._index]
        return available

    def keep(self, rev: int) -> set[Revision]:
        """The revisions at or below `rev` that `compact(rev)` would keep."""
        available: set[Revision] = set()
        for key in self._keys:
            self._index[key].keep(rev, available)
        return available
