"""EtcdClient: an etcd v3 client as a host on the simulated network, with futures for components
and synchronous methods for learners.

Semantics: etcd clientv3 3.4's KV, Lease, Maintenance and Cluster APIs with its option names
(WithPrefix, WithFromKey, WithRev ...); calls, retries and keepalive are in client_transport.py,
watches and lease keepalives in client_watch.py. The readable txn form reuses etcdctl's syntax.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from kube_teach.sim import Host, Network, Seeds, Trace, to_ns

from .client_transport import EtcdFuture, Transport
from .client_watch import KeepAlive, Watcher, WatchMixin, key_range
from .etcdctl_syntax import txn_request
from .membership import host_of
from .rpc import (
    ALARM,
    COMPACT,
    DEFRAGMENT,
    DELETE_RANGE,
    LEASE_GRANT,
    LEASE_KEEPALIVE,
    LEASE_LEASES,
    LEASE_REVOKE,
    LEASE_TIME_TO_LIVE,
    MEMBER_ADD,
    MEMBER_LIST,
    MEMBER_PROMOTE,
    MEMBER_REMOVE,
    MOVE_LEADER,
    PUT,
    RANGE,
    SNAPSHOT,
    STATUS,
    TXN,
)

if TYPE_CHECKING:
    from .cluster import EtcdCluster


class EtcdClient(Transport, WatchMixin):
    """A client of the simulated etcd cluster, living on its own network host.

    `endpoints` are member names (`"etcd-1"`) or URLs (`"http://etcd-1:2379"`). Every call has
    a deadline (`timeout`, default 10 s of simulated time; etcdctl uses 5 s). Asynchronous
    methods (`put_async` ...) return an EtcdFuture at once; the synchronous ones (`put` ...)
    run the clock until the answer and return the response dict (etcd's field names) or raise
    EtcdError with etcd's text.
    """

    def __init__(
        self,
        net: Network,
        endpoints: Sequence[str],
        *,
        name: str = "etcd-client",
        seeds: Seeds | None = None,
        trace: Trace | None = None,
        timeout: str | float = "10s",
        keepalive_time: str | float = "2s",
        keepalive_timeout: str | float = "6s",
        cluster: EtcdCluster | None = None,
    ) -> None:
        if not endpoints:
            raise ValueError("an etcd client needs at least one endpoint")
        self.net = net
        self.clock = net.clock
        self.name = name
        self.trace = trace
        self.endpoints = [host_of(e) if "://" in e or ":" in e else e for e in endpoints]
        self.timeout_ns = to_ns(timeout)
        self.keepalive_time_ns = to_ns(keepalive_time)
        self.keepalive_timeout_ns = to_ns(keepalive_timeout)
        self.rng = (seeds or Seeds(0)).stream(f"etcd-client/{name}")
        self.host: Host = net.add_host(name, self._receive)
        self.pinned = self.endpoints[0]
        self._cluster = cluster
        self._init_transport()
        self._init_watch()
        self.host.every(f"{self.keepalive_time_ns}ns", self._keepalive)

    # -- key-value -----------------------------------------------------------------------------
    def put_async(self, key: str | bytes, value: str | bytes, **options: Any) -> EtcdFuture:
        """`put` without waiting: a future of the response."""
        body = {"key": key, "value": value}
        timeout = options.pop("timeout", None)
        for k, v in options.items():
            if v:
                body[k] = v
        return self.call(PUT, body, timeout=timeout)

    def put(
        self,
        key: str | bytes,
        value: str | bytes,
        *,
        lease: int = 0,
        prev_kv: bool = False,
        ignore_value: bool = False,
        ignore_lease: bool = False,
        timeout: str | float | None = None,
    ) -> dict:
        """Put a key: `{"header": {...,"revision"}, "prev_kv"?}`."""
        return self.wait(
            self.put_async(
                key,
                value,
                lease=lease,
                prev_kv=prev_kv,
                ignore_value=ignore_value,
                ignore_lease=ignore_lease,
                timeout=timeout,
            )
        )

    def get_async(
        self,
        key: str | bytes,
        range_end: str | bytes | None = None,
        *,
        prefix: bool = False,
        from_key: bool = False,
        timeout: str | float | None = None,
        **options: Any,
    ) -> EtcdFuture:
        """`get` without waiting: a future of the response."""
        key, range_end = key_range(key, range_end, prefix=prefix, from_key=from_key)
        body: dict[str, Any] = {"key": key}
        if range_end is not None:
            body["range_end"] = range_end
        for name, value in options.items():
            if name == "sort" and value:  # sort=("MOD", "DESCEND") or "KEY"
                target, order = (value, "ASCEND") if isinstance(value, str) else value
                body["sort_target"], body["sort_order"] = target, order
            elif value and name != "sort":
                body[name] = value
        return self.call(RANGE, body, timeout=timeout)

    def get(
        self,
        key: str | bytes,
        range_end: str | bytes | None = None,
        *,
        prefix: bool = False,
        from_key: bool = False,
        limit: int = 0,
        revision: int = 0,
        count_only: bool = False,
        keys_only: bool = False,
        sort: str | tuple[str, str] | None = None,
        serializable: bool = False,
        timeout: str | float | None = None,
        **options: Any,
    ) -> dict:
        """Read one key, a range (`range_end`), a prefix or every key from `key` on:
        `{"header", "kvs": [{key, create_revision, mod_revision, version, value, lease}],
        "more", "count"}`. `sort` is a target (`"MOD"`) or `(target, "DESCEND")`; more options
        take RangeRequest's names (min_mod_revision ...). Linearizable unless `serializable`."""
        return self.wait(
            self.get_async(
                key,
                range_end,
                prefix=prefix,
                from_key=from_key,
                limit=limit,
                revision=revision,
                count_only=count_only,
                keys_only=keys_only,
                sort=sort,
                serializable=serializable,
                timeout=timeout,
                **options,
            )
        )

    range = get

    def delete_async(
        self,
        key: str | bytes,
        range_end: str | bytes | None = None,
        *,
        prefix: bool = False,
        from_key: bool = False,
        prev_kv: bool = False,
        timeout: str | float | None = None,
    ) -> EtcdFuture:
        """`delete` without waiting."""
        key, range_end = key_range(key, range_end, prefix=prefix, from_key=from_key)
        body: dict[str, Any] = {"key": key}
        if range_end is not None:
            body["range_end"] = range_end
        if prev_kv:
            body["prev_kv"] = True
        return self.call(DELETE_RANGE, body, timeout=timeout)

    def delete(
        self,
        key: str | bytes,
        range_end: str | bytes | None = None,
        *,
        prefix: bool = False,
        from_key: bool = False,
        prev_kv: bool = False,
        timeout: str | float | None = None,
    ) -> dict:
        """Delete keys: `{"header", "deleted", "prev_kvs"}`."""
        fut = self.delete_async(
            key, range_end, prefix=prefix, from_key=from_key, prev_kv=prev_kv, timeout=timeout
        )
        return self.wait(fut)

    def txn_async(
        self,
        compare: Sequence = (),
        success: Sequence = (),
        failure: Sequence = (),
        *,
        timeout: str | float | None = None,
    ) -> EtcdFuture:
        """`txn` without waiting."""
        return self.call(TXN, txn_request(compare, success, failure), timeout=timeout)

    def txn(
        self,
        compare: Sequence = (),
        success: Sequence = (),
        failure: Sequence = (),
        *,
        timeout: str | float | None = None,
    ) -> dict:
        """A transaction. Compares and ops may be request dicts, etcdctl text or tuples:
        `txn(compare=['mod("k") = "0"'], success=["put k v"], failure=[("get", "k")])`.
        Returns `{"header", "succeeded", "responses"}`."""
        return self.wait(self.txn_async(compare, success, failure, timeout=timeout))

    def compact(self, revision: int, *, physical: bool = False) -> dict:
        """Discard history below `revision` (`physical`: answer once the backend is done)."""
        body: dict[str, Any] = {"revision": revision}
        if physical:
            body["physical"] = True
        return self.wait(self.call(COMPACT, body))

    # -- leases --------------------------------------------------------------------------------
    def lease_grant_async(self, ttl: int, lease_id: int = 0) -> EtcdFuture:
        """`lease_grant` without waiting."""
        return self.call(LEASE_GRANT, {"TTL": ttl, "ID": lease_id})

    def lease_grant(self, ttl: int, lease_id: int = 0) -> dict:
        """Grant a lease of `ttl` seconds (raised to the 2 s minimum): `{"header","ID","TTL"}`."""
        return self.wait(self.lease_grant_async(ttl, lease_id))

    def lease_revoke(self, lease_id: int) -> dict:
        """Revoke a lease; its keys are deleted in one revision."""
        return self.wait(self.call(LEASE_REVOKE, {"ID": lease_id}))

    def lease_keepalive_once(self, lease_id: int) -> dict:
        """One keepalive: `{"header", "ID", "TTL"}` (TTL 0 if the lease is gone)."""
        return self.wait(self.call(LEASE_KEEPALIVE, {"ID": lease_id}))

    def lease_keepalive(self, lease_id: int) -> KeepAlive:
        """Keep a lease alive in the background (every TTL/3, as clientv3) until `.stop()`."""
        return KeepAlive(self, lease_id)

    def lease_time_to_live(self, lease_id: int, *, keys: bool = False) -> dict:
        """`{"header", "ID", "TTL", "grantedTTL", "keys"}`; TTL -1 for an unknown lease."""
        return self.wait(self.call(LEASE_TIME_TO_LIVE, {"ID": lease_id, "keys": keys}))

    def lease_leases(self) -> dict:
        """`{"header", "leases": [{"ID"}]}` (any member answers)."""
        return self.wait(self.call(LEASE_LEASES, {}))

    # -- maintenance ---------------------------------------------------------------------------
    def status(self, endpoint: str | None = None) -> dict:
        """Maintenance.Status of one member (default: the pinned endpoint)."""
        return self.wait(self.call(STATUS, {}, endpoint=endpoint or self.pinned))

    def alarm_list(self) -> dict:
        """`{"alarms": [{"memberID", "alarm"}]}`."""
        return self.wait(self.call(ALARM, {"action": "GET", "memberID": 0, "alarm": "NONE"}))

    def alarm_disarm(self) -> dict:
        """Disarm every active alarm, as `etcdctl alarm disarm`: `{"alarms": [disarmed]}`."""
        listed = self.alarm_list()["alarms"]
        done: list[dict] = []
        for a in listed:
            body = {"action": "DEACTIVATE", "memberID": a["memberID"], "alarm": a["alarm"]}
            done += self.wait(self.call(ALARM, body))["alarms"]
        return {"alarms": done}

    def defrag(self, endpoint: str | None = None) -> dict:
        """Defragment one member's backend (not replicated: run it on every endpoint)."""
        return self.wait(self.call(DEFRAGMENT, {}, endpoint=endpoint or self.pinned))

    def snapshot_save(self, endpoint: str | None = None) -> bytes:
        """The member's whole backend as snapshot bytes (what `etcdctl snapshot save` writes)."""
        return self.wait(self.call(SNAPSHOT, {}, endpoint=endpoint or self.pinned))["blob"]

    @staticmethod
    def snapshot_restore(data: bytes, **cluster_options: Any) -> EtcdCluster:
        """A new cluster whose members start from snapshot `data` (keys, revision, compaction
        point, leases, alarms kept; new member and cluster IDs), as `etcdctl snapshot
        restore` builds new data dirs. Options as for `EtcdCluster`."""
        from .cluster import EtcdCluster

        return EtcdCluster.from_snapshot(data, **cluster_options)

    def move_leader(self, target_id: int) -> dict:
        """Hand leadership to member `target_id` (only the leader accepts this)."""
        return self.wait(self.call(MOVE_LEADER, {"targetID": target_id}))

    # -- cluster -------------------------------------------------------------------------------
    def member_list(self) -> dict:
        """`{"header", "members": [{"ID", "name", "peerURLs", "clientURLs", "isLearner"?}]}`."""
        return self.wait(self.call(MEMBER_LIST, {}))

    def member_add(self, peer_urls: Sequence[str], *, learner: bool = False) -> dict:
        """Register a new member: `{"header", "member", "members"}`. Start it afterwards."""
        body = {"peerURLs": list(peer_urls), "isLearner": learner}
        return self.wait(self.call(MEMBER_ADD, body))

    def member_remove(self, member_id: int) -> dict:
        """Remove a member; it stops once it applies its own removal."""
        return self.wait(self.call(MEMBER_REMOVE, {"ID": member_id}))

    def member_promote(self, member_id: int) -> dict:
        """Promote a learner that has caught up to a voting member."""
        return self.wait(self.call(MEMBER_PROMOTE, {"ID": member_id}))

    def close(self) -> None:
        """Stop the client's timers and watches (its host stays on the network, silent)."""
        for w in list(self.watchers):
            w.cancel()
        self.net.crash(self.name)

    def __repr__(self) -> str:
        return f"<EtcdClient {self.name} pinned={self.pinned} inflight={len(self._inflight)}>"


__all__ = ["EtcdClient", "EtcdFuture", "KeepAlive", "Watcher"]
