"""Reads and writes of the MVCC store: transactions over the key index and the backend, and the
appliers for range, put, delete_range, txn and compaction.

Semantics: etcd 3.4 mvcc/kvstore_txn.go (a write transaction takes revision current+1 and bumps
the store only if it changed something; reads inside it see its own changes) and
etcdserver/apply.go (range options, put flags, txn compares and branches, compaction).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import (
    ERR_COMPACTED,
    ERR_FUTURE_REV,
    ERR_KEY_NOT_FOUND,
    ERR_LEASE_NOT_FOUND,
    EtcdError,
)
from .lease import NO_LEASE
from .mvcc_backend import LEAF_ELEMENT, REV_KEY_BYTES, Record, bytes_field_size
from .mvcc_index import Revision, TreeIndex
from .mvcc_txn import (
    COMPARE_FIELD,
    COMPARE_RESULT,
    COMPARE_TARGET,
    KV_OVERHEAD,
    SORT_ORDER,
    SORT_TARGET,
    enum,
    is_txn_readonly,
    op_kind,
    range_end,
    to_bytes,
    to_text,
)

if TYPE_CHECKING:
    from .mvcc import MVCCStore

PUT_RECORD_BYTES = LEAF_ELEMENT + REV_KEY_BYTES
_new = tuple.__new__  # builds a named tuple from all its fields at C speed
_SORT_FIELD = {1: "version", 2: "create_revision", 3: "mod_revision", 4: "value"}


class Txn:
    """A read or write transaction, as storeTxnRead/storeTxnWrite.

    A write transaction writes at `begin_rev + 1`, sub-revisions counting its changes; `end()`
    bumps the store's revision and notifies watchers only if there were changes. Reads inside it
    see its own changes (at `begin_rev + 1` once it has any).
    """

    def __init__(self, store: MVCCStore, write: bool) -> None:
        self.s = store
        self.write = write
        self.begin_rev = store.current_rev
        self.changes: list[Record] = []

    @property
    def rev(self) -> int:
        return self.begin_rev + 1 if self.changes else self.begin_rev

    def range(
        self,
        key: bytes,
        end: bytes | None,
        *,
        rev: int = 0,
        limit: int = 0,
        count_only: bool = False,
    ) -> tuple[list[Record], int, int]:
        """`(records, count, current revision)` of the keys alive at `rev` (0 = now)."""
        cur = self.rev
        if rev > cur:
            raise EtcdError(ERR_FUTURE_REV)
        if rev <= 0:
            rev = cur
        if rev < self.s.compact_main_rev:
            raise EtcdError(ERR_COMPACTED)
        pairs = self.s.index.range(key, end, rev)
        if not pairs or count_only:
            return [], len(pairs), cur
        n = limit if 0 < limit < len(pairs) else len(pairs)
        return [self.s.backend.records[r] for _, r in pairs[:n]], len(pairs), cur

    def put(self, key: bytes, value: bytes, lease: int) -> int:
        """Write a new version of `key`; returns the revision it was written at."""
        s, rev = self.s, self.begin_rev + 1
        created, ver, old_lease = rev, 0, NO_LEASE
        got = s.index.get(key, rev)
        if got is not None:
            created, ver = got[1].main, got[2]
            old_lease = s.lessor.get_lease(key)
        idx = Revision(rev, len(self.changes))
        rec = Record(key, value, created, rev, ver + 1, lease)
        s.backend.put(idx, rec)
        s.index.put(key, idx)
        self.changes.append(rec)
        # the key moves to its new lease (or to none): a put without a lease detaches it
        if old_lease != NO_LEASE and s.lessor.lookup(old_lease) is not None:
            s.lessor.detach(old_lease, key)
        if lease != NO_LEASE:
            s.lessor.attach(lease, key)
        return rev

    def delete_range(self, key: bytes, end: bytes | None) -> tuple[int, int]:
        """Tombstone every live key in the range: `(deleted, revision)`; deleting nothing in a
        transaction that changed nothing leaves the revision where it was."""
        pairs = self.s.index.range(key, end, self.rev)
        for k, _ in pairs:
            self._delete(k)
        if pairs or self.changes:
            return len(pairs), self.begin_rev + 1
        return 0, self.begin_rev

    def _delete(self, key: bytes) -> None:
        s = self.s
        idx = Revision(self.begin_rev + 1, len(self.changes))
        rec = Record(key, tombstone=True)  # a tombstone stores the key alone
        s.backend.put(idx, rec)
        s.index.tombstone(key, idx)
        self.changes.append(rec)
        lease = s.lessor.get_lease(key)
        if lease != NO_LEASE and s.lessor.lookup(lease) is not None:
            s.lessor.detach(lease, key)

    def end(self) -> None:
        if self.changes:
            self.s.current_rev += 1
            self.s.watches.notify(self.s.current_rev, self.changes)


class TxnMixin:
    """The key-value half of `MVCCStore` (split out to keep modules short)."""

    index: TreeIndex
    current_rev: int
    compact_main_rev: int

    def _init_kv(self) -> None:
        self.index = TreeIndex()
        self.current_rev = 1  # a fresh store is at revision 1
        self.compact_main_rev = -1  # nothing compacted yet: compacting at 0 is allowed once

    # --- response shapes -------------------------------------------------------------------------

    @staticmethod
    def _text(b: bytes) -> str:
        return to_text(b)

    @staticmethod
    def _kv_dict(rec: Record, *, keys_only: bool = False, mod_revision: int = 0) -> dict:
        """A KeyValue as responses carry it; a tombstone shows only key and mod_revision."""
        return {
            "key": to_text(rec.key),
            "create_revision": rec.create_revision,
            "mod_revision": rec.mod_revision or mod_revision,
            "version": rec.version,
            "value": "" if keys_only else to_text(rec.value),
            "lease": rec.lease,
        }

    def _kv_at(self: MVCCStore, key: bytes, rev: int) -> dict | None:
        """The key as of revision `rev`, or None if absent or compacted away."""
        try:
            recs, _, _ = Txn(self, write=False).range(key, None, rev=rev)
        except EtcdError:
            return None
        return self._kv_dict(recs[0]) if recs else None

    # --- range -----------------------------------------------------------------------------------

    def _range(self: MVCCStore, txn: Txn | None, req: dict) -> dict:
        txn = txn or Txn(self, write=False)
        limit = int(req.get("limit") or 0)
        order = enum(req.get("sort_order"), SORT_ORDER)
        target = enum(req.get("sort_target"), SORT_TARGET)
        bounds = {
            name: int(req.get(name) or 0)
            for name in (
                "min_mod_revision",
                "max_mod_revision",
                "min_create_revision",
                "max_create_revision",
            )
        }
        # sorting or filtering needs every key; otherwise one extra key tells `more`
        fetch = 0 if order or any(bounds.values()) else limit
        if fetch > 0:
            fetch += 1
        recs, count, rev = txn.range(
            to_bytes(req.get("key")),
            range_end(req.get("range_end")),
            rev=int(req.get("revision") or 0),
            limit=fetch,
            count_only=bool(req.get("count_only")),
        )
        # filters apply after counting: `count` ignores them, as upstream
        for name, bound in bounds.items():
            if bound:
                attr = name[4:]
                keep_above = name.startswith("min_")
                recs = [
                    r
                    for r in recs
                    if (getattr(r, attr) >= bound if keep_above else getattr(r, attr) <= bound)
                ]
        if target != SORT_TARGET["KEY"] and order == SORT_ORDER["NONE"]:
            order = SORT_ORDER["ASCEND"]
        if order != SORT_ORDER["NONE"]:
            # Python's sort is stable, as Go's insertion sort is for the <= 12 keys it handles
            # alone; for more keys with equal sort values upstream's order may differ
            field = _SORT_FIELD.get(target, "key")
            recs = sorted(
                recs,
                key=lambda r: getattr(r, field),
                reverse=order == SORT_ORDER["DESCEND"],
            )
        more = False
        if limit > 0 and len(recs) > limit:
            recs, more = recs[:limit], True
        keys_only = bool(req.get("keys_only"))
        return {
            "header": {"revision": rev},
            "kvs": [self._kv_dict(r, keys_only=keys_only) for r in recs],
            "more": more,
            "count": count,
        }

    # --- put and delete --------------------------------------------------------------------------

    def _put(self: MVCCStore, txn: Txn | None, req: dict) -> dict:
        key, value = to_bytes(req.get("key")), to_bytes(req.get("value"))
        lease = int(req.get("lease") or 0)
        own = txn is None
        if own:
            # inside a txn this was checked against the state before the txn began
            if lease != NO_LEASE and self.lessor.lookup(lease) is None:
                raise EtcdError(ERR_LEASE_NOT_FOUND)
            txn = Txn(self, write=True)
        try:
            prev = None
            ignore_value, ignore_lease = (
                bool(req.get("ignore_value")),
                bool(req.get("ignore_lease")),
            )
            if ignore_value or ignore_lease or req.get("prev_kv"):
                recs, _, _ = txn.range(key, None)
                if (ignore_value or ignore_lease) and not recs:
                    raise EtcdError(ERR_KEY_NOT_FOUND)
                if recs:
                    value = recs[0].value if ignore_value else value
                    lease = recs[0].lease if ignore_lease else lease
                    prev = self._kv_dict(recs[0]) if req.get("prev_kv") else None
            rev = txn.put(key, value, lease)
        finally:
            if own:
                txn.end()
        return {"header": {"revision": rev}, "prev_kv": prev}

    def _plain_put(self: MVCCStore, req: dict) -> dict | None:
        """`_put` for the write most requests are (no lease, prev_kv or ignore flags, and room
        under the quota): the same changes, revision and response without a `Txn`. None when
        the request needs the general path. The normal applier must be in force."""
        if (
            req.get("lease")
            or req.get("prev_kv")
            or req.get("ignore_value")
            or req.get("ignore_lease")
        ):
            return None
        key, value = req.get("key"), req.get("value")
        k = key.encode("utf-8", "surrogateescape") if type(key) is str else to_bytes(key)
        v = value.encode("utf-8", "surrogateescape") if type(value) is str else to_bytes(value)
        quota, backend = self.quota_bytes, self.backend
        if quota is not None and backend.size + KV_OVERHEAD + len(k) + len(v) >= quota:
            return None  # the apply-time quota check fails: the general path answers NOSPACE
        rev = self.current_rev + 1
        idx = _new(Revision, (rev, 0))  # Revision(rev, 0) without the Python-level __new__
        ki = self.index.key_index(k)
        lessor = self.lessor
        # the key's live generation (the last one, unless a tombstone closed it)
        live = ki.generations[-1] if ki is not None else None
        # the stored size, as Record.stored_size() computes it (no lease, not a tombstone);
        # short keys and values take a one-byte tag and a one-byte length
        nk, nv = len(k), len(v)
        size = (
            PUT_RECORD_BYTES
            + (nk + 2 if 0 < nk < 0x80 else bytes_field_size(k))
            + (nv + 2 if 0 < nv < 0x80 else bytes_field_size(v))
            + 1
            + (rev.bit_length() + 6) // 7  # int_field_size(rev): a tag and a varint (rev > 0)
        )
        if live is not None and live.revs:
            k = ki.key  # keep one copy of the key's bytes per store
            old_lease = lessor.get_lease(k)
            created, ver = live.created.main, live.ver + 1
            rec = _new(Record, (k, v, created, rev, ver, NO_LEASE, False))
            # created and version are positive too
            size += 2 + (created.bit_length() + 6) // 7 + (ver.bit_length() + 6) // 7
            backend.put(idx, rec, size)
            ki.put(idx)
            # a put without a lease detaches the key from its old one
            if old_lease != NO_LEASE and lessor.lookup(old_lease) is not None:
                lessor.detach(old_lease, k)
        else:
            rec = _new(Record, (k, v, rev, rev, 1, NO_LEASE, False))
            backend.put(idx, rec, size + 1 + (rev.bit_length() + 6) // 7 + 2)
            self.index.put(k, idx)
        self.current_rev = rev
        watches = self.watches
        if watches.active():
            watches.notify(rev, [rec])
        return {"header": {"revision": rev}, "prev_kv": None}

    def _delete_range(self: MVCCStore, txn: Txn | None, req: dict) -> dict:
        own = txn is None
        txn = txn or Txn(self, write=True)
        key, end = to_bytes(req.get("key")), range_end(req.get("range_end"))
        prev_kvs = []
        if req.get("prev_kv"):
            recs, _, _ = txn.range(key, end)
            prev_kvs = [self._kv_dict(r) for r in recs]
        deleted, rev = txn.delete_range(key, end)
        if own:
            txn.end()
        return {"header": {"revision": rev}, "deleted": deleted, "prev_kvs": prev_kvs}

    # --- txn -------------------------------------------------------------------------------------

    def _compare(self: MVCCStore, view: Txn, c: dict) -> bool:
        target = enum(c.get("target"), COMPARE_TARGET)
        result = enum(c.get("result"), COMPARE_RESULT)
        try:
            recs, _, _ = view.range(to_bytes(c.get("key")), range_end(c.get("range_end")))
        except EtcdError:
            return False
        if not recs:
            # a missing key compares as all zeros, except that a value compare always fails
            if target == COMPARE_TARGET["VALUE"]:
                return False
            recs = [Record(b"")]
        field = COMPARE_FIELD[target]
        for r in recs:
            if target == COMPARE_TARGET["VALUE"]:
                mine, theirs = r.value, to_bytes(c.get("value"))
            else:
                mine, theirs = getattr(r, field), int(c.get(field) or 0)
            cmp = (mine > theirs) - (mine < theirs)
            ok = {0: cmp == 0, 1: cmp > 0, 2: cmp < 0, 3: cmp != 0}.get(result, True)
            if not ok:
                return False
        return True

    def _path(self: MVCCStore, view: Txn, txn: dict) -> tuple[bool, list]:
        """Which branch each (nested) txn takes, decided up front against the state before the
        txn: `(succeeded, [paths of the nested txns in the chosen branch, in order])`."""
        ok = all(self._compare(view, c) for c in txn.get("compare") or [])
        ops = txn.get("success" if ok else "failure") or []
        return ok, [
            self._path(view, op["request_txn"]) for op in ops if op_kind(op) == "request_txn"
        ]

    def _check_ops(self: MVCCStore, view: Txn, txn: dict, path: tuple, writes: bool) -> None:
        ok, nested = path
        nested_paths = iter(nested)
        for op in txn.get("success" if ok else "failure") or []:
            kind = op_kind(op)
            if kind == "request_txn":
                self._check_ops(view, op[kind], next(nested_paths), writes)
            elif kind == "request_put" and writes:
                put = op[kind]
                if put.get("ignore_value") or put.get("ignore_lease"):
                    recs, _, _ = view.range(to_bytes(put.get("key")), None)
                    if not recs:
                        raise EtcdError(ERR_KEY_NOT_FOUND)
                lease = int(put.get("lease") or 0)
                if lease != NO_LEASE and self.lessor.lookup(lease) is None:
                    raise EtcdError(ERR_LEASE_NOT_FOUND)
            elif kind == "request_range" and not writes:
                rev = int(op[kind].get("revision") or 0)
                if rev > view.rev:
                    raise EtcdError(ERR_FUTURE_REV)
                if rev != 0 and rev < self.compact_main_rev:
                    raise EtcdError(ERR_COMPACTED)

    def _run_ops(self: MVCCStore, txn: Txn, req: dict, path: tuple) -> list[dict]:
        ok, nested = path
        nested_paths = iter(nested)
        out: list[dict] = []
        for op in req.get("success" if ok else "failure") or []:
            kind = op_kind(op)
            if kind == "request_range":
                out.append({"response_range": self._range(txn, op[kind])})
            elif kind == "request_put":
                out.append({"response_put": self._put(txn, op[kind])})
            elif kind == "request_delete_range":
                out.append({"response_delete_range": self._delete_range(txn, op[kind])})
            elif kind == "request_txn":
                sub = next(nested_paths)
                responses = self._run_ops(txn, op[kind], sub)
                # a nested txn's header stays empty: only the outer one gets a revision
                inner = {"header": {"revision": 0}, "succeeded": sub[0], "responses": responses}
                out.append({"response_txn": inner})
            else:
                out.append({})
        return out

    def _txn(self: MVCCStore, req: dict) -> dict:
        """Compares are ANDed and decide the branch (and every nested branch) against the state
        before the txn; the chosen ops then run in one write transaction, so at one revision.
        Responses: `{"response_range" | "response_put" | "response_delete_range" |
        "response_txn": ...}` per op, in order."""
        view = Txn(self, write=False)
        path = self._path(view, req)
        writes = not is_txn_readonly(req)
        if writes:
            self._check_ops(view, req, path, writes=True)
        self._check_ops(view, req, path, writes=False)
        txn = Txn(self, write=writes)
        try:
            # an error here would be a panic upstream ("unexpected error during txn")
            responses = self._run_ops(txn, req, path)
        finally:
            rev = txn.rev
            txn.end()
        return {"header": {"revision": rev}, "succeeded": path[0], "responses": responses}

    # --- compaction ------------------------------------------------------------------------------

    def _compaction(self: MVCCStore, req: dict) -> dict:
        rev = int(req.get("revision") or 0)
        if rev <= self.compact_main_rev:
            raise EtcdError(ERR_COMPACTED)
        if rev > self.current_rev:
            raise EtcdError(ERR_FUTURE_REV)
        self.compact_main_rev = rev
        keep = self.index.compact(rev)
        drop = [r for r in self.backend.records if r.main <= rev and r not in keep]
        self.backend.delete(drop)
        return {"header": {"revision": self.current_rev}}
