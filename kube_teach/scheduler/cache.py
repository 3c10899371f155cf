"""The scheduler's cache: the nodes its informer delivered (in nodeTree order), the pods it
assumed bound before the API server confirmed them, and the pods preemption nominated; each
cycle gets a Snapshot of it, rebuilt only after something changed.

Semantics: kube-scheduler's backend/cache (AssumePod, ForgetPod, FinishBinding, nodeTree,
UpdateSnapshot) and the queue's nominator.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .framework import PodInfo, Snapshot

_TERMINAL = ("Succeeded", "Failed")


def assigned(pod: Mapping[str, Any]) -> bool:
    """The pod has spec.nodeName."""
    return bool((pod.get("spec") or {}).get("nodeName"))


def terminal(pod: Mapping[str, Any]) -> bool:
    """The pod has succeeded or failed."""
    return (pod.get("status") or {}).get("phase") in _TERMINAL


def _zone(node: Mapping[str, Any]) -> str:
    labels = (node.get("metadata") or {}).get("labels") or {}
    region = labels.get("topology.kubernetes.io/region", "")
    return f"{region}:\x00:{labels.get('topology.kubernetes.io/zone', '')}"


def node_tree_order(nodes: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Nodes as the cache's nodeTree lists them: zones in the order first seen, one node from
    each zone in turn, nodes of a zone in the order they were added."""
    zones: dict[str, list[Mapping[str, Any]]] = {}
    for node in nodes:
        zones.setdefault(_zone(node), []).append(node)
    out: list[Mapping[str, Any]] = []
    for i in range(max((len(z) for z in zones.values()), default=0)):
        out += [z[i] for z in zones.values() if i < len(z)]
    return out


class Cache:
    """What the scheduler knows beyond its informers. `list_pods` and `list_objects` read the
    informers' stores (pods; the other objects plugins read) when a snapshot is built."""

    def __init__(
        self,
        list_pods: Callable[[], Iterable[Mapping[str, Any]]],
        list_objects: Callable[[], Iterable[Mapping[str, Any]]],
    ) -> None:
        self._list_pods = list_pods
        self._list_objects = list_objects
        self.nodes: dict[str, Mapping[str, Any]] = {}  # in the order they were added
        self.assumed: dict[str, Mapping[str, Any]] = {}  # pod key -> pod with spec.nodeName
        self.nominated: dict[str, tuple[Mapping[str, Any], str]] = {}  # key -> (pod, node)
        self._snapshot: Snapshot | None = None

    def invalidate(self) -> None:
        """Something the snapshot shows changed: rebuild it before the next cycle."""
        self._snapshot = None

    # -- nodes
    def set_node(self, node: Mapping[str, Any]) -> None:
        self.nodes[(node.get("metadata") or {}).get("name", "")] = node
        self._snapshot = None

    def remove_node(self, node: Mapping[str, Any]) -> None:
        self.nodes.pop((node.get("metadata") or {}).get("name", ""), None)
        self._snapshot = None

    # -- assumed pods
    def assume(self, pod: Mapping[str, Any], node: str) -> None:
        """AssumePod: count the pod on `node` now, before the binding is confirmed."""
        key = PodInfo(pod).key
        assumed = copy.deepcopy(dict(pod))
        assumed.setdefault("spec", {})["nodeName"] = node
        self.assumed[key] = assumed
        self.nominated.pop(key, None)
        if self._snapshot is not None:
            self._snapshot.add_pod(assumed)

    def forget(self, key: str) -> None:
        """ForgetPod: the binding failed; its resources are free again."""
        if self.assumed.pop(key, None) is not None:
            self._snapshot = None

    def finish_binding(self, key: str) -> None:
        """The watch delivered the bound pod: the informer's copy replaces the assumed one."""
        self.assumed.pop(key, None)

    # -- nominations
    def nominate(self, key: str, pod: Mapping[str, Any], node: str) -> None:
        self.nominated[key] = (pod, node)
        self._snapshot = None

    def clear_nomination(self, key: str) -> None:
        """Drop a nomination (snapshot() refreshes nominations without a rebuild)."""
        self.nominated.pop(key, None)

    # -- snapshots
    def build_snapshot(self, exclude: str = "") -> Snapshot:
        """A fresh Snapshot: nodes in nodeTree order, bound and assumed pods, nominated pods,
        objects; the pod with key `exclude` left out everywhere."""
        nodes = node_tree_order(list(self.nodes.values()))
        pods: list[Mapping[str, Any]] = []
        for pod in self._list_pods():
            key = PodInfo(pod).key
            if key == exclude or key in self.assumed or not assigned(pod) or terminal(pod):
                continue
            pods.append(pod)
        pods += [p for k, p in self.assumed.items() if k != exclude]
        snapshot = Snapshot(nodes, pods, list(self._list_objects()))
        snapshot.nominated = {}
        for key, (pod, node) in self.nominated.items():
            if key != exclude:
                snapshot.nominated.setdefault(node, []).append(PodInfo(pod))
        return snapshot

    def snapshot(self) -> Snapshot:
        """UpdateSnapshot: the current snapshot, rebuilt only when invalidated (assumed pods
        are added to it in place); nominations are always refreshed."""
        if self._snapshot is None:
            self._snapshot = self.build_snapshot()
        else:
            self._snapshot.nominated = {}
            for pod, node in self.nominated.values():
                self._snapshot.nominated.setdefault(node, []).append(PodInfo(pod))
        return self._snapshot
