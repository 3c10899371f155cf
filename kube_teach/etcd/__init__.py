"""A simulated etcd: a Raft group (raft.py, log.py, quorum.py, messages.py) that stores bytes in
an MVCC store, served by members (member.py) to clients (client.py) of an EtcdCluster.

Knows nothing of Kubernetes and imports only `kube_teach.sim`. Kept import-light: submodules are
imported where they are used; `EtcdCluster` and `EtcdClient` load on first access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import EtcdClient
    from .cluster import EtcdCluster

__all__ = ["EtcdClient", "EtcdCluster"]


def __getattr__(name: str) -> Any:
    if name == "EtcdCluster":
        from .cluster import EtcdCluster

        return EtcdCluster
    if name == "EtcdClient":
        from .client import EtcdClient

        return EtcdClient
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
