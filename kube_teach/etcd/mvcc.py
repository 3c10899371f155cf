"""The state machine etcd replicates: a revisioned key-value store with leases, watches, a space
quota and alarms, applied one request at a time.

Semantics: etcd 3.4.23 — mvcc/kvstore.go and kvstore_txn.go (revisions, generations,
compaction), etcdserver/apply.go (how each request is applied, txn compares and branches, the
quota and NOSPACE appliers), etcdserver/api/v3rpc (checks before Raft), lease/lessor.go.
Requests and responses are dicts with etcd's field names; see `apply` and `handle`.
"""

from __future__ import annotations

from collections.abc import Sequence

from .errors import (
    ERR_CORRUPT,
    ERR_LEASE_NOT_FOUND,
    ERR_NO_SPACE,
    ERR_NOT_PRIMARY,
    ERR_REQUEST_TOO_LARGE,
    EtcdError,
)
from .lease import IDGenerator, Lessor, min_lease_ttl
from .mvcc_backend import Backend
from .mvcc_core import Txn, TxnMixin
from .mvcc_proto import GRPC_OVERHEAD_BYTES, message_size, raft_entry_size
from .mvcc_snapshot import SnapshotMixin
from .mvcc_txn import (
    ALARM_ACTION,
    ALARM_NAME,
    ALARM_TYPE,
    DEFAULT_MAX_REQUEST_BYTES,
    DEFAULT_MAX_TXN_OPS,
    enum,
    is_txn_readonly,
    request_cost,
    txn_cost,
    validate,
)
from .mvcc_watch import WatchHub

DEFAULT_QUOTA_BYTES = 2 * 1024**3  # --quota-backend-bytes 0 means this
MAX_QUOTA_BYTES = 8 * 1024**3  # larger quotas only log a warning upstream
DEFAULT_MEMBER_ID = 0x8E9E05C52164694D  # what a single `etcd` started with defaults calls itself
VERSION = "3.4.23"

# Requests that go through Raft and are applied on every member (InternalRaftRequest fields).
RAFT_KINDS = ("put", "delete_range", "txn", "compaction", "lease_grant", "lease_revoke", "alarm")
# Requests a member answers by itself (reads, leader-only lease calls, maintenance).
LOCAL_KINDS = (
    "range",
    "lease_keepalive",
    "lease_time_to_live",
    "lease_leases",
    "status",
    "defragment",
)


_KINDS = frozenset(RAFT_KINDS + LOCAL_KINDS)


def _one(request: dict) -> tuple[str, dict]:
    if len(request) != 1:
        raise ValueError(f"a request holds exactly one operation, got {sorted(request)}")
    ((kind, body),) = request.items()
    if kind not in _KINDS:
        raise ValueError(f"unknown request {kind!r}")
    return kind, body or {}


class MVCCStore(TxnMixin, SnapshotMixin):
    """One member's etcd state machine.

    Three ways in, by how etcd layers a request:
    * `apply(request)` is what every member runs for a committed Raft entry (`put`,
      `delete_range`, `txn`, `compaction`, `lease_grant`, `lease_revoke`, `alarm`), including the
      NOSPACE/CORRUPT appliers and the apply-time quota check.
    * `read(request)` serves a `range` or a read-only `txn` locally, as etcd does without Raft.
    * `handle(request)` is a whole single-member server: the front-end quota check (raising the
      NOSPACE alarm), request validation, then `read`/`apply`, plus leader-only lease calls and
      maintenance (`status`, `defragment`). The direct methods (`put`, `range`, `txn` ...) wrap it
      and raise `EtcdError` instead of returning `{"error": ...}`.

    Time never comes from a clock: lease calls take `now_ns` from the host. Keys and values may
    be given as text or bytes; responses carry text (`to_text`).
    """

    def __init__(
        self,
        *,
        quota_backend_bytes: int = 0,
        member_id: int = DEFAULT_MEMBER_ID,
        lessor: Lessor | None = None,
        election_ticks: int = 10,
        heartbeat_ms: int = 100,
        max_txn_ops: int = DEFAULT_MAX_TXN_OPS,
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
        start_ns: int = 0,
        batch_commits: bool = False,
    ) -> None:
        # 0 -> the 2 GiB default, negative -> no quota at all (etcdserver/quota.go)
        if quota_backend_bytes < 0:
            self.quota_bytes: int | None = None
        else:
            self.quota_bytes = quota_backend_bytes or DEFAULT_QUOTA_BYTES
        self.member_id = member_id
        self.max_txn_ops = max_txn_ops
        self.max_request_bytes = max_request_bytes
        self.lessor = lessor or Lessor(min_lease_ttl(election_ticks, heartbeat_ms))
        # batch_commits: sizes (and so the quota check) lag until the host calls commit()
        self.backend = Backend(auto_commit=not batch_commits)
        self._init_kv()
        # active alarms, (alarm type, member ID) -> None, and the applier they selected:
        # "normal", "capped" (NOSPACE: no puts, grants or txns with puts) or "corrupt"
        self.alarms: dict[tuple[int, int], None] = {}
        self.applier = "normal"
        self.watches = WatchHub(self)
        self._ids = IDGenerator(member_id, start_ns)

    # --- the three entry points ------------------------------------------------------------------

    def apply(self, request: dict, now_ns: int = 0) -> dict:
        """Apply one committed Raft entry, e.g. `{"put": {"key": "a", "value": "1"}}`.

        `now_ns` starts the clock of a lease granted on a primary lessor. Returns the response
        dict, or `{"error": {"code", "message"}}`. When the apply-time
        quota check fails the write *is* applied yet answered with NOSPACE, and the response has
        `"raise_alarm"`: an alarm request the host must propose, as etcdserver does.
        """
        kind, req = _one(request)
        if kind not in RAFT_KINDS:
            raise ValueError(f"{kind!r} is not applied through Raft")
        try:
            if self.applier == "corrupt" and kind != "alarm":
                raise EtcdError(ERR_CORRUPT)
            if self.applier == "capped" and (
                kind in ("put", "lease_grant") or (kind == "txn" and txn_cost(req) > 0)
            ):
                raise EtcdError(ERR_NO_SPACE)
            fits = self.applier != "normal" or self._quota_available(kind, req)
            resp = self._dispatch(kind, req, now_ns)
        except EtcdError as err:
            return {"error": err.to_dict()}
        if not fits:
            out: dict = {"error": EtcdError(ERR_NO_SPACE).to_dict()}
            if not self._alarm_members(ALARM_TYPE["NOSPACE"]):
                out["raise_alarm"] = self.nospace_alarm_request()
            return out
        return resp

    def apply_op(self, kind: str, req: dict, now_ns: int = 0) -> dict:
        """`apply({kind: req}, now_ns)`, the way a host applies committed entries: a plain put
        takes a shorter path to the same result."""
        if kind == "put" and self.applier == "normal":
            resp = self._plain_put(req)
            if resp is not None:
                return resp
        return self.apply({kind: req}, now_ns)

    def read(self, request: dict) -> dict:
        """Serve a `range`, or a `txn` whose ops are all ranges, from local state (no Raft)."""
        kind, req = _one(request)
        try:
            if kind == "range":
                return self._range(None, req)
            if kind == "txn" and is_txn_readonly(req):
                return self._txn(req)
        except EtcdError as err:
            return {"error": err.to_dict()}
        raise ValueError(f"{kind!r} is not a read")

    def handle(self, request: dict, now_ns: int = 0) -> dict:
        """Serve a client request as a one-member etcd server would, start to finish."""
        kind, req = _one(request)
        try:
            # gRPC refuses an oversized message before etcd's own code runs
            size, limit = message_size(kind, req), self.max_request_bytes + GRPC_OVERHEAD_BYTES
            if size > limit:
                raise EtcdError(
                    f"grpc: received message larger than max ({size} vs. {limit})",
                    "ResourceExhausted",
                )
            # the quota check comes first: upstream's quota server wraps the key-value server
            if not self._quota_available(kind, req):
                self.apply({"alarm": self.nospace_alarm_request()})
                raise EtcdError(ERR_NO_SPACE)
            validate(kind, req, self.max_txn_ops)
            if kind in RAFT_KINDS and raft_entry_size(kind, req) > self.max_request_bytes:
                raise EtcdError(ERR_REQUEST_TOO_LARGE)
            if kind == "range" or (kind == "txn" and is_txn_readonly(req)):
                return self.read({kind: req})
            if kind == "lease_grant" and not int(req.get("ID") or 0):
                req = {**req, "ID": self._ids.next_lease_id()}  # the server picks the ID
            if kind in RAFT_KINDS:
                resp = self.apply({kind: req}, now_ns)
                alarm = resp.pop("raise_alarm", None)
                if alarm is not None:
                    self.apply({"alarm": alarm})
                return resp
            return self._local(kind, req, now_ns)
        except EtcdError as err:
            return {"error": err.to_dict()}

    def check_quota(self, request: dict) -> dict | None:
        """The front-end quota check a leader makes before proposing `request`: None if it may
        go on, else the alarm request to propose (the client then gets NOSPACE)."""
        kind, req = _one(request)
        return None if self._quota_available(kind, req) else self.nospace_alarm_request()

    def commit(self) -> None:
        """The backend's periodic batch commit (etcd: every 100 ms): with `batch_commits=True`
        the sizes in `status` and in the quota check are only refreshed here."""
        self.backend.commit()

    def next_lease_id(self) -> int:
        """An ID for a grant that asked for none, as the server picks it before proposing."""
        return self._ids.next_lease_id()

    # --- dispatch --------------------------------------------------------------------------------

    def _dispatch(self, kind: str, req: dict, now_ns: int) -> dict:
        if kind == "put":
            return self._put(None, req)
        if kind == "delete_range":
            return self._delete_range(None, req)
        if kind == "txn":
            return self._txn(req)
        if kind == "compaction":
            return self._compaction(req)
        if kind == "lease_grant":
            return self._lease_grant(req, now_ns)
        if kind == "lease_revoke":
            return self._lease_revoke(req)
        return self._alarm(req)

    def _local(self, kind: str, req: dict, now_ns: int) -> dict:
        header = {"revision": self.current_rev}
        lease_id = int(req.get("ID") or 0)
        if kind == "lease_keepalive":
            try:
                ttl = self.lessor.renew(lease_id, now_ns)
            except EtcdError as err:
                if err.message != ERR_LEASE_NOT_FOUND:
                    raise
                ttl = 0  # the keepalive stream answers an unknown lease with TTL 0
            return {"header": header, "ID": lease_id, "TTL": ttl}
        if kind == "lease_time_to_live":
            try:
                got = self.lessor.time_to_live(lease_id, now_ns, bool(req.get("keys")))
                got["keys"] = [self._text(k) for k in got["keys"]]
            except EtcdError:
                got = {"ID": lease_id, "TTL": -1, "grantedTTL": 0, "keys": []}
            return {"header": header, **got}
        if kind == "lease_leases":
            return {
                "header": header,
                "leases": [{"ID": le.id} for le in self.lessor.leases(now_ns)],
            }
        if kind == "status":
            return self.status()
        return self.defragment()

    # --- quota and alarms ------------------------------------------------------------------------

    def _quota_available(self, kind: str, req: dict) -> bool:
        cost = request_cost(kind, req)
        if cost == 0 or self.quota_bytes is None:
            return True  # requests that cannot grow the store always pass (3.4.20+)
        return self.backend.size + cost < self.quota_bytes

    def nospace_alarm_request(self) -> dict:
        """The alarm request this member proposes when it runs out of space."""
        return {"action": "ACTIVATE", "memberID": self.member_id, "alarm": "NOSPACE"}

    def _alarm_members(self, alarm_type: int) -> list[tuple[int, int]]:
        return sorted(a for a in self.alarms if alarm_type in (0, a[0]))

    def _alarm(self, req: dict) -> dict:
        action = enum(req.get("action"), ALARM_ACTION)
        alarm_type = enum(req.get("alarm"), ALARM_TYPE)
        member = int(req.get("memberID") or 0)
        before = len(self._alarm_members(alarm_type))
        if action == ALARM_ACTION["GET"]:
            found = self._alarm_members(alarm_type)
        elif action == ALARM_ACTION["ACTIVATE"]:
            self.alarms.setdefault((alarm_type, member), None)
            found = [(alarm_type, member)]
            # only the first alarm of a type swaps the applier, as upstream
            if before == 0 and len(self._alarm_members(alarm_type)) == 1:
                if alarm_type == ALARM_TYPE["NOSPACE"]:
                    self.applier = "capped"
                elif alarm_type == ALARM_TYPE["CORRUPT"]:
                    self.applier = "corrupt"
        elif action == ALARM_ACTION["DEACTIVATE"]:
            found = [(alarm_type, member)] if (alarm_type, member) in self.alarms else []
            self.alarms.pop((alarm_type, member), None)
            # the last one of its type gone: back to the normal applier, whatever else is on
            if found and before > 0 and not self._alarm_members(alarm_type):
                self.applier = "normal"
        else:
            found = []
        return {"alarms": [{"memberID": m, "alarm": ALARM_NAME[t]} for t, m in found]}

    def _restore_applier(self) -> None:
        self.applier = "normal"
        if self._alarm_members(ALARM_TYPE["NOSPACE"]):
            self.applier = "capped"
        if self._alarm_members(ALARM_TYPE["CORRUPT"]):
            self.applier = "corrupt"

    # --- leases ----------------------------------------------------------------------------------

    def _lease_grant(self, req: dict, now_ns: int) -> dict:
        lease = self.lessor.grant(int(req.get("ID") or 0), int(req.get("TTL") or 0), now_ns)
        self.backend.set_lease_count(len(self.lessor.leases()))
        return {"header": {"revision": self.current_rev}, "ID": lease.id, "TTL": lease.ttl}

    def _lease_revoke(self, req: dict) -> dict:
        lease_id = int(req.get("ID") or 0)
        lease = self.lessor.lookup(lease_id)
        if lease is None:
            raise EtcdError(ERR_LEASE_NOT_FOUND)
        # every attached key goes in one write transaction, so in one revision, in key order
        txn = Txn(self, write=True)
        for key in sorted(lease.keys):
            txn.delete_range(key, None)
        self.lessor.revoke(lease_id)
        txn.end()
        self.backend.set_lease_count(len(self.lessor.leases()))
        return {"header": {"revision": self.current_rev}}

    # --- maintenance -----------------------------------------------------------------------------

    def status(self) -> dict:
        """`{"header", "version", "dbSize", "dbSizeInUse", "errors"}`; errors lists active
        alarms as etcd prints them (`memberID:<id> alarm:NOSPACE `). Raft fields are the host's."""
        return {
            "header": {"revision": self.current_rev},
            "version": VERSION,
            "dbSize": self.backend.size,
            "dbSizeInUse": self.backend.size_in_use,
            "errors": [f"memberID:{m} alarm:{ALARM_NAME[t]} " for t, m in self._alarm_members(0)],
        }

    def defragment(self) -> dict:
        """Rewrite the backend without free pages (per member, not replicated): `dbSize`
        drops to about `dbSizeInUse`. Revisions and alarms are untouched. Answers `{}`."""
        self.backend.defragment()
        return {}

    # --- direct methods: one per request, raising EtcdError ---------------------------------------

    def _call(self, kind: str, req: dict, now_ns: int = 0) -> dict:
        resp = self.handle({kind: req}, now_ns)
        if "error" in resp:
            raise EtcdError.from_dict(resp["error"])
        return resp

    def put(
        self,
        key: str | bytes,
        value: str | bytes = b"",
        *,
        lease: int = 0,
        prev_kv: bool = False,
        ignore_value: bool = False,
        ignore_lease: bool = False,
    ) -> dict:
        """Put a key: `{"header": {"revision"}, "prev_kv"}` (prev_kv only when asked)."""
        req = {"key": key, "value": value, "lease": lease, "prev_kv": prev_kv}
        req.update(ignore_value=ignore_value, ignore_lease=ignore_lease)
        return self._call("put", req)

    def range(
        self, key: str | bytes, range_end: str | bytes | None = None, **options: object
    ) -> dict:
        """Read keys: `{"header", "kvs", "more", "count"}`. Options as RangeRequest names them:
        revision, limit, count_only, keys_only, sort_order, sort_target, min/max_mod_revision,
        min/max_create_revision."""
        return self._call("range", {"key": key, "range_end": range_end, **options})

    def delete_range(
        self, key: str | bytes, range_end: str | bytes | None = None, *, prev_kv: bool = False
    ) -> dict:
        """Delete keys: `{"header", "deleted", "prev_kvs"}`."""
        return self._call("delete_range", {"key": key, "range_end": range_end, "prev_kv": prev_kv})

    def txn(
        self,
        compare: Sequence[dict] = (),
        success: Sequence[dict] = (),
        failure: Sequence[dict] = (),
    ) -> dict:
        """A transaction: if every compare holds run `success`, else `failure`, at one revision.

        Compares: `{"key", "target": VERSION|CREATE|MOD|VALUE|LEASE, "result":
        EQUAL|NOT_EQUAL|GREATER|LESS, "<target field>": operand, "range_end"?}`. Ops:
        `{"request_put" | "request_range" | "request_delete_range" | "request_txn": request}`.
        Returns `{"header", "succeeded", "responses"}`, one `{"response_...": ...}` per op.
        """
        req = {"compare": list(compare), "success": list(success), "failure": list(failure)}
        return self._call("txn", req)

    def compact(self, revision: int, *, physical: bool = False) -> dict:
        """Discard history below `revision`; `{"header"}`."""
        return self._call("compaction", {"revision": revision, "physical": physical})

    def lease_grant(self, ttl: int, lease_id: int = 0, *, now_ns: int = 0) -> dict:
        """Grant a lease: `{"header", "ID", "TTL"}` (TTL raised to the minimum)."""
        return self._call("lease_grant", {"TTL": ttl, "ID": lease_id}, now_ns)

    def lease_revoke(self, lease_id: int) -> dict:
        """Revoke a lease and delete its keys in one revision: `{"header"}`."""
        return self._call("lease_revoke", {"ID": lease_id})

    def lease_keepalive(self, lease_id: int, *, now_ns: int) -> dict:
        """Renew a lease on the leader: `{"header", "ID", "TTL"}`, TTL 0 for an unknown lease;
        raises `EtcdError` (not a primary lessor) on a demoted lessor."""
        if not self.lessor.primary:
            raise EtcdError(ERR_NOT_PRIMARY)
        return self._call("lease_keepalive", {"ID": lease_id}, now_ns)

    def lease_time_to_live(self, lease_id: int, *, keys: bool = False, now_ns: int) -> dict:
        """`{"header", "ID", "TTL", "grantedTTL", "keys"}`; TTL -1 for an unknown lease."""
        return self._call("lease_time_to_live", {"ID": lease_id, "keys": keys}, now_ns)

    def lease_leases(self) -> dict:
        """`{"header", "leases": [{"ID"}]}`, soonest expiry first."""
        return self._call("lease_leases", {})

    def alarm_list(self) -> dict:
        """`{"alarms": [{"memberID", "alarm"}]}` for every active alarm."""
        return self._call("alarm", {"action": "GET", "alarm": "NONE"})

    def alarm_disarm(self, member_id: int | None = None, alarm: str = "NOSPACE") -> dict:
        """Deactivate an alarm (this member's by default), as `etcdctl alarm disarm` does."""
        member = self.member_id if member_id is None else member_id
        return self._call("alarm", {"action": "DEACTIVATE", "memberID": member, "alarm": alarm})

    def expired_leases(self, now_ns: int) -> list[int]:
        """Leases the leader should now propose to revoke (see `Lessor.expired`)."""
        return self.lessor.expired(now_ns)

    # --- watches ---------------------------------------------------------------------------------

    def watch(
        self, key: str | bytes, range_end: str | bytes | None = None, **options: object
    ) -> dict:
        """Start a watch (see `WatchHub.watch`); returns the `created` response."""
        return self.watches.watch(key, range_end, **options)

    def watch_responses(self, watch_id: int) -> list[dict]:
        """Take the responses waiting for a watch: events, or its compaction cancel."""
        return self.watches.responses(watch_id)

    def cancel_watch(self, watch_id: int) -> dict | None:
        """Cancel a watch; its canceled response, or None if there was none."""
        return self.watches.cancel(watch_id)
