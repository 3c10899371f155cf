"""The MVCC store's backend: every stored revision of every key, and a model of bbolt's file size.

Semantics: etcd 3.4 stores each change in bbolt's `key` bucket under its revision (16 bytes, plus
a `t` for a tombstone) with the marshalled KeyValue as the value; bbolt fills 4 KiB leaf pages to
90 % (etcd's sequential-put fill percent) and only grows the file. `size` is the high-water mark
etcd reports as `dbSize` and checks against the quota; `size_in_use` drops on compaction; only
defragmentation (rewriting the file) shrinks `size`. Calibrated against a real etcd 3.4.23.
Upstream refreshes the reported sizes only when its write batch commits (every 100 ms), which is
why bursts of writes overshoot the quota; `auto_commit=False` lets a host model that.
"""

from __future__ import annotations

import bisect
from typing import NamedTuple

from .mvcc_index import Revision

PAGE_SIZE = 4096
PAGE_HEADER = 16  # bbolt page header
LEAF_ELEMENT = 16  # bbolt leaf element header
BRANCH_ELEMENT = 16
REV_KEY_BYTES = 17  # 8-byte main, '_', 8-byte sub
FILL_THRESHOLD = int(PAGE_SIZE * 0.9)  # etcd sets FillPercent 0.9 for its sequential puts
MERGE_THRESHOLD = PAGE_SIZE // 4  # bbolt merges a node below a quarter page into a sibling
MIN_KEYS_PER_PAGE = 2
# A fresh etcd 3.4.23 reports dbSize 20480 and dbSizeInUse 16384: meta pages, the freelist, the
# root and the small buckets (meta, lease, alarm, members, auth ...).
BASE_PAGES = 4
SLACK_PAGES = 1  # the file keeps about one page of copy-on-write room beyond what is in use
LEASE_RECORD_BYTES = LEAF_ELEMENT + 8 + 16  # lease bucket: 8-byte ID key + a small protobuf


def _varint_len(n: int) -> int:
    # negative int64 values are sent as 10-byte varints; 7 payload bits per byte
    return ((n & (2**64 - 1)).bit_length() + 6) // 7 or 1


def bytes_field_size(data: bytes) -> int:
    n = len(data)
    return (2 + n if n < 0x80 else 1 + _varint_len(n) + n) if n else 0


def int_field_size(n: int) -> int:
    return (2 if 0 < n < 0x80 else 1 + _varint_len(n)) if n else 0


class Record(NamedTuple):
    """One stored change: a put (`tombstone=False`) or a delete, which stores only the key.
    (A named tuple: a store makes one per write on every member, so creating it must be cheap.)"""

    key: bytes
    value: bytes = b""
    create_revision: int = 0
    mod_revision: int = 0
    version: int = 0
    lease: int = 0
    tombstone: bool = False

    def marshalled_size(self) -> int:
        """Bytes of the KeyValue protobuf upstream stores (zero fields are left out)."""
        return (
            bytes_field_size(self.key)
            + int_field_size(self.create_revision)
            + int_field_size(self.mod_revision)
            + int_field_size(self.version)
            + bytes_field_size(self.value)
            + int_field_size(self.lease)
        )

    def stored_size(self) -> int:
        """Bytes the record takes in a leaf page: element header, revision key, value."""
        return LEAF_ELEMENT + REV_KEY_BYTES + self.tombstone + self.marshalled_size()


def _leaf_pages(nbytes: int) -> int:
    return -(-(PAGE_HEADER + nbytes) // PAGE_SIZE)


class _Leaf:
    __slots__ = ("items", "nbytes")

    def __init__(self) -> None:
        self.items: dict[Revision, int] = {}
        self.nbytes = 0

    def fits(self, size: int) -> bool:
        # bbolt splits a full node at the fill threshold, keeping at least two keys per page
        return len(self.items) < MIN_KEYS_PER_PAGE or (
            PAGE_HEADER + self.nbytes + size <= FILL_THRESHOLD
        )

    def add(self, rev: Revision, size: int) -> None:
        self.items[rev] = size
        self.nbytes += size


def _pack(items: list[tuple[Revision, int]]) -> list[_Leaf]:
    leaves: list[_Leaf] = []
    for rev, size in items:
        if not leaves or not leaves[-1].fits(size):
            leaves.append(_Leaf())
        leaves[-1].add(rev, size)
    return leaves


class Backend:
    """Records by revision plus the page model behind `size` and `size_in_use` (bytes)."""

    def __init__(self, *, auto_commit: bool = True) -> None:
        self.auto_commit = auto_commit
        self.records: dict[Revision, Record] = {}
        self._leaves: list[_Leaf] = []
        # the first revision stored in each leaf: leaves hold consecutive revision ranges, so
        # a bisection finds a record's leaf (no per-record map to keep)
        self._starts: list[Revision] = []
        self._pages_in_leaves = 0  # pages of all leaves, kept up to date on every put
        self._lease_bytes = 0
        self._size_pages = BASE_PAGES + SLACK_PAGES
        self._committed = (self._size_pages, BASE_PAGES)
        # True after compaction reshuffled the leaves: the next put re-checks the file size
        self._grow_pending = False

    # --- writes ------------------------------------------------------------------------------

    def put(self, rev: Revision, record: Record, size: int = 0) -> None:
        """Store a change; revisions arrive in increasing order, so it lands in the last leaf.
        `size` is `record.stored_size()` when the caller knows it already."""
        size = size or record.stored_size()
        leaves = self._leaves
        leaf = leaves[-1] if leaves else None
        # bbolt splits a full node at the fill threshold, keeping at least two keys per page
        if leaf is None or not (
            len(leaf.items) < MIN_KEYS_PER_PAGE
            or PAGE_HEADER + leaf.nbytes + size <= FILL_THRESHOLD
        ):
            leaf = _Leaf()
            leaves.append(leaf)
            self._starts.append(rev)
            grown = True
        else:
            grown = self._grow_pending
        before = _leaf_pages(leaf.nbytes) if leaf.items else 0
        leaf.items[rev] = size
        leaf.nbytes += size
        after = _leaf_pages(leaf.nbytes)
        self.records[rev] = record
        if grown or after != before:
            self._pages_in_leaves += after - before
            self._grow()
        # otherwise nothing the file size depends on changed: it already covers what is in use

    def delete(self, revs: list[Revision]) -> None:
        """Remove records (compaction), then merge leaves left under a quarter page as bbolt's
        rebalance does. Frees pages inside the file; `size` does not change."""
        leaves, starts = self._leaves, self._starts
        for rev in revs:
            leaf = leaves[bisect.bisect_right(starts, rev) - 1]
            leaf.nbytes -= leaf.items.pop(rev)
            del self.records[rev]
        merged: list[_Leaf] = []
        absorb = False  # the first leaf was under-filled: the next one merges into it
        for leaf in self._leaves:
            if not leaf.items:
                continue
            small = PAGE_HEADER + leaf.nbytes < MERGE_THRESHOLD or len(leaf.items) <= 1
            if merged and (small or absorb):
                for rev, size in leaf.items.items():
                    merged[-1].add(rev, size)
                absorb = False
            else:
                merged.append(leaf)
                absorb = small and len(merged) == 1
        # a merged node larger than a page is split again when it is written
        self._leaves = []
        for leaf in merged:
            if PAGE_HEADER + leaf.nbytes > PAGE_SIZE:
                self._leaves.extend(_pack(list(leaf.items.items())))
            else:
                self._leaves.append(leaf)
        self._reindex()

    def _reindex(self) -> None:
        self._starts = [next(iter(leaf.items)) for leaf in self._leaves]
        self._pages_in_leaves = sum(_leaf_pages(leaf.nbytes) for leaf in self._leaves)
        self._grow_pending = True

    def set_lease_count(self, n: int) -> None:
        """Account for `n` leases in the lease bucket."""
        self._lease_bytes = n * LEASE_RECORD_BYTES
        self._grow()

    def defragment(self) -> None:
        """Rewrite the file with only live pages, as `etcdctl defrag` does: `size` shrinks to
        what is in use (plus the usual slack page)."""
        self._leaves = _pack(
            [(rev, leaf.items[rev]) for leaf in self._leaves for rev in leaf.items]
        )
        self._reindex()
        self._size_pages = self._in_use_pages() + SLACK_PAGES
        self.commit()  # defragmentation ends with a forced commit

    def commit(self) -> None:
        """The write batch commits: the sizes reported from now on are the current ones."""
        self._committed = (self._size_pages, self._in_use_pages())

    def _grow(self) -> None:
        self._grow_pending = False
        self._size_pages = max(self._size_pages, self._in_use_pages() + SLACK_PAGES)

    # --- sizes -------------------------------------------------------------------------------

    def _in_use_pages(self) -> int:
        pages = BASE_PAGES + self._pages_in_leaves
        if len(self._leaves) > 1:  # branch pages pointing at the leaves
            per_leaf = BRANCH_ELEMENT + REV_KEY_BYTES
            pages += -(-(PAGE_HEADER + per_leaf * len(self._leaves)) // FILL_THRESHOLD)
        if self._lease_bytes > MERGE_THRESHOLD:  # a small bucket lives inline in its parent
            pages += -(-(PAGE_HEADER + self._lease_bytes) // FILL_THRESHOLD)
        return pages

    @property
    def size(self) -> int:
        """The file's high-water mark in bytes: etcd's `dbSize`, the number the quota checks
        (as of the last commit when `auto_commit` is off)."""
        pages = self._size_pages if self.auto_commit else self._committed[0]
        return pages * PAGE_SIZE

    @property
    def size_in_use(self) -> int:
        """Bytes of pages holding data: etcd's `dbSizeInUse` (`dbSize` minus free pages)."""
        pages = self._in_use_pages() if self.auto_commit else self._committed[1]
        return pages * PAGE_SIZE

    def restore_size(self, size: int) -> None:
        """After loading a snapshot: the file is copied whole, free pages included."""
        self._size_pages = max(self._size_pages, -(-size // PAGE_SIZE))
        self.commit()
