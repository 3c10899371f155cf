"""Where the API server's etcd requests go: one local MVCC store, or a Raft group on the network.

Both answer the request dicts of etcd3.py (`{"range": ...}`, `{"txn": ...}`) with etcd's
response dicts. `handle` answers synchronously: for the local store at once; for the Raft group
a read is served by one member's own state (a serializable read, as `etcdctl get
--consistency=s` does) and a write drives the clock until the group has committed it. `call`
answers asynchronously, as kube-apiserver's etcd client does: the request crosses the network,
waits for the leader and quorum, and the callback gets the response (or an error dict such as
`etcdserver: request timed out` when there is no quorum).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..etcd.errors import EtcdError
from ..etcd.mvcc import MVCCStore
from ..etcd.rpc import DELETE_RANGE, PUT, RANGE, TXN
from ..sim import Clock

if TYPE_CHECKING:
    from ..etcd import EtcdCluster
    from ..etcd.client import EtcdClient

Callback = Callable[[dict[str, Any]], None]
WatchListener = Callable[[dict[str, Any]], None]
_METHODS = {"range": RANGE, "txn": TXN, "put": PUT, "delete_range": DELETE_RANGE}


class LocalEtcd:
    """A single etcd member in the API server's process: every answer is immediate."""

    local = True

    def __init__(self, clock: Clock, quota_backend_bytes: int = 0) -> None:
        self.clock = clock
        self.mvcc = MVCCStore(quota_backend_bytes=quota_backend_bytes)

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        return self.mvcc.handle(request, self.clock.now_ns)

    def call(self, request: dict[str, Any], callback: Callback) -> None:
        callback(self.handle(request))


class RaftEtcd:
    """An EtcdCluster reached through an etcd client (`--etcd-servers` = every member)."""

    local = False

    def __init__(self, cluster: EtcdCluster, *, name: str = "kube-apiserver-etcd") -> None:
        self.cluster = cluster
        self.clock = cluster.clock
        self.client: EtcdClient = cluster.client(name=name, timeout="60s")

    def _member(self) -> Any:
        leader = self.cluster.leader()
        if leader is not None:
            return leader
        running = [m for m in self.cluster.members.values() if m.up]
        return (running or list(self.cluster.members.values()))[0]

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        kind = next(iter(request))
        if kind == "range":
            return self._member().store.handle(request, self.clock.now_ns)
        replies: list[dict[str, Any]] = []
        self.call(request, replies.append)
        self.clock.run_until(lambda: bool(replies), timeout=3600)
        return replies[0]

    def call(self, request: dict[str, Any], callback: Callback) -> None:
        kind, body = next(iter(request.items()))
        future = self.client.call(_METHODS[kind], dict(body))

        def done(f: Any) -> None:
            error = f.exception()
            if error is not None:
                callback({"error": _error_dict(error)})
            else:
                callback(f.result())

        future.add_done_callback(done)

    def watch(self, prefix: str, start_revision: int, listener: WatchListener) -> Any:
        """Every change under `prefix` from `start_revision`, with the previous value. As
        kube-apiserver's watches do, it requires a leader: a member that has lost its leader
        cancels it (`etcdserver: no leader`) instead of going quiet."""
        return self.client.watch(
            prefix, prefix=True, start_revision=start_revision, prev_kv=True,
            require_leader=True, callback=listener,
        )  # fmt: skip


def _error_dict(error: Exception) -> dict[str, Any]:
    if isinstance(error, EtcdError):
        return error.to_dict()
    return {"message": str(error)}


__all__ = ["LocalEtcd", "RaftEtcd"]
