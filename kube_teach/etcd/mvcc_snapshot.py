"""Snapshot save and restore of the MVCC store: the whole backend as deterministic bytes with a
SHA-256 checksum appended, and a new store rebuilt from them.

Semantics: etcd 3.4 `etcdctl snapshot save` (the bbolt file streamed whole, sha256 appended) and
mvcc/kvstore.go `restore` (the index rebuilt from the stored revisions, the current revision
taken from the last one or the compaction point, leases re-attached from the keys' records).
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import TYPE_CHECKING, Any

from .lease import Lessor
from .mvcc_backend import Record
from .mvcc_index import KeyIndex, Revision

if TYPE_CHECKING:
    from .mvcc import MVCCStore

SNAPSHOT_FORMAT = "kube-teach/etcd-snapshot/1"
SHA256_SIZE = 32


class SnapshotError(ValueError):
    """A snapshot that cannot be restored; messages follow etcdctl's where it has one."""


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


class SnapshotMixin:
    """Snapshot half of `MVCCStore`."""

    def snapshot(self: MVCCStore) -> bytes:
        """Serialize the backend: every stored revision (history not yet compacted), the
        compaction point, leases (ID, TTL) and alarms, plus the file size. The same store state
        always gives the same bytes; the last 32 bytes are the SHA-256 of the rest."""
        body: dict[str, Any] = {
            "format": SNAPSHOT_FORMAT,
            "records": [
                [rev.main, rev.sub, int(r.tombstone), _b64(r.key), _b64(r.value)]
                + [r.create_revision, r.mod_revision, r.version, r.lease]
                for rev, r in sorted(self.backend.records.items())
            ],
            "compact_revision": self.compact_main_rev,
            "leases": self.lessor.records(),
            "alarms": [[t, m] for t, m in sorted(self.alarms)],
            "db_size": self.backend.size,
        }
        data = json.dumps(body, sort_keys=True, separators=(",", ":")).encode("ascii")
        return data + hashlib.sha256(data).digest()

    @classmethod
    def restore(cls, data: bytes, **config: Any) -> MVCCStore:
        """A new store from `snapshot()` bytes; `config` as for `MVCCStore(...)`.

        The store resumes at the snapshot's revision (the next write gets revision + 1) with its
        compaction point, history, leases (demoted: they never expire until the lessor is
        promoted) and alarms; a `lessor` in `config` is replaced by one holding the snapshot's
        leases. Raises `SnapshotError` if the checksum does not match.
        """
        if len(data) < SHA256_SIZE:
            raise SnapshotError(f"sha256 checksum not found [bytes: {len(data)}]")
        body, digest = data[:-SHA256_SIZE], data[-SHA256_SIZE:]
        got = hashlib.sha256(body).digest()
        if got != digest:
            raise SnapshotError(f"expected sha256 {list(digest)}, got {list(got)}")
        snap = json.loads(body)
        if snap.get("format") != SNAPSHOT_FORMAT:
            raise SnapshotError(f"unknown snapshot format {snap.get('format')!r}")
        store: MVCCStore = cls(**config)
        store.lessor = Lessor.from_records(snap["leases"], store.lessor.min_ttl)
        store.compact_main_rev = snap["compact_revision"]
        key_lease: dict[bytes, int] = {}
        current = 1
        for main, sub, tomb, key, value, create, mod, version, lease in snap["records"]:
            rev = Revision(main, sub)
            k, v = base64.b64decode(key), base64.b64decode(value)
            rec = Record(k, v, create, mod, version, lease, bool(tomb))
            store.backend.put(rev, rec)
            current = main
            ki = store.index.key_index(rec.key)
            if ki is not None:
                if rec.tombstone:
                    ki.tombstone(rev)
                else:
                    ki.put(rev)
            elif not rec.tombstone:  # a key whose stored history starts here
                ki = KeyIndex(rec.key)
                ki.restore(Revision(create, 0), rev, version)
                store.index.insert(ki)
            if rec.tombstone or not lease:
                key_lease.pop(rec.key, None)
            else:
                key_lease[rec.key] = lease
        # all of a compacted stretch may be gone: the revision is at least the compaction point
        store.current_rev = max(current, store.compact_main_rev)
        for key, lease in key_lease.items():
            if store.lessor.lookup(lease) is not None:
                store.lessor.attach(lease, key)
        store.alarms = {(t, m): None for t, m in snap["alarms"]}
        store._restore_applier()
        store.backend.set_lease_count(len(snap["leases"]))
        store.backend.restore_size(snap["db_size"])
        return store
