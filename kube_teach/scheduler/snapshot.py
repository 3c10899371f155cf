"""The cluster as one scheduling cycle sees it: Snapshot (nodes in a fixed order with their
pods, nominated pods, the objects plugins read, node-wide numpy arrays kept up to date),
NodeList, and the matchers whose per-node pod counts a Snapshot memoizes.
Semantics: kube-scheduler's internal/cache/snapshot.go (and createImageExistenceMap).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from kube_teach.api.selectors import Selector

from .interface import SchedulerError
from .types import AffinityTerm, NodeInfo, PodInfo


class NodeList(Sequence[NodeInfo]):
    """Snapshot nodes picked by an index array, without building a Python list of them."""

    __slots__ = ("_infos", "index")

    def __init__(self, infos: Sequence[NodeInfo], index: np.ndarray) -> None:
        self._infos = infos
        self.index = index

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return NodeList(self._infos, self.index[i])
        return self._infos[int(self.index[i])]

    def __iter__(self) -> Any:
        infos = self._infos
        return (infos[i] for i in self.index.tolist())

    def names(self) -> list[str]:
        infos = self._infos
        return [infos[i].name for i in self.index.tolist()]


def node_index(nodes: Sequence[NodeInfo]) -> np.ndarray:
    """The snapshot positions of `nodes`."""
    index = getattr(nodes, "index", None)
    if isinstance(index, np.ndarray):
        return index
    return np.fromiter((ni.index for ni in nodes), np.int64, len(nodes))


# --- snapshot ----------------------------------------------------------------------------------


class Matcher(Protocol):
    """Anything hashable that says how many times an existing pod counts (Snapshot.count_pods):
    usually 0 or 1. `hint` narrows which pods can count at all: ("label", (key, value)) when
    only pods with that label can, ("term", term_key) when only pods carrying that affinity
    term can, None when any pod might."""

    hint: Any

    def count(self, pod: PodInfo) -> int: ...


def selector_hint(selector: Selector) -> Any:
    """("label", (key, value)) for the first label the selector requires exactly, else None."""
    if selector.matches_nothing:
        return None
    for r in selector.requirements:
        if r.operator in ("=", "==", "in") and len(r.values) == 1:
            return ("label", (r.key, r.values[0]))
    return None


class HasTerm:
    """Counts a pod once per affinity term key it carries (see PodInfo.term_keys)."""

    __slots__ = ("key", "_hash", "hint")

    def __init__(self, key: tuple[str, AffinityTerm, int]) -> None:
        self.key = key
        self._hash = hash(("HasTerm", key))
        self.hint = ("term", key)

    def count(self, pod: PodInfo) -> int:
        return pod.term_keys.count(self.key) if pod.has_affinity else 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HasTerm) and self.key == other.key

    def __hash__(self) -> int:
        return self._hash


_TERMINAL_PHASES = ("Succeeded", "Failed")
_BY_NAME = {"PersistentVolume": "pvs", "StorageClass": "storage_classes", "CSINode": "csi_nodes"}


class Snapshot:
    """The cluster as one scheduling cycle sees it: nodes in a fixed order with their bound pods,
    pods nominated to nodes by preemption, and the objects some plugins read (Namespaces,
    Services, ReplicaSets, StatefulSets, ReplicationControllers, PodDisruptionBudgets,
    PersistentVolumeClaims, PersistentVolumes, StorageClasses, CSINodes).

    Built from plain Kubernetes dicts. Pods with spec.nodeName are bound; pods with only
    status.nominatedNodeName are nominated; terminal pods are left out, as the scheduler's pod
    informer leaves them out. `add_pod`/`remove_pod` update every index incrementally, so a
    placement loop can reuse one snapshot. Node-wide numpy arrays (allocatable, requested, ...)
    back the vectorized plugin paths.
    """

    def __init__(
        self,
        nodes: Iterable[Mapping[str, Any]],
        pods: Iterable[Mapping[str, Any] | PodInfo] = (),
        objects: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        self.node_infos: list[NodeInfo] = []
        self._by_name: dict[str, NodeInfo] = {}
        for node in nodes:
            ni = NodeInfo(node)
            if ni.name in self._by_name:
                raise SchedulerError(f'node "{ni.name}" appears twice')
            ni.index = len(self.node_infos)
            self.node_infos.append(ni)
            self._by_name[ni.name] = ni
        self.namespaces: dict[str, Mapping[str, str]] = {}
        self.services: list[Mapping[str, Any]] = []
        self.replica_sets: list[Mapping[str, Any]] = []
        self.stateful_sets: list[Mapping[str, Any]] = []
        self.replication_controllers: list[Mapping[str, Any]] = []
        self.pdbs: list[Mapping[str, Any]] = []
        # What the volume plugins read (their listers upstream).
        self.pvcs: dict[tuple[str, str], Mapping[str, Any]] = {}  # (namespace, name) -> PVC
        self.pvs: dict[str, Mapping[str, Any]] = {}
        self.storage_classes: dict[str, Mapping[str, Any]] = {}
        self.csi_nodes: dict[str, Mapping[str, Any]] = {}
        for obj in objects:
            self._add_object(obj)
        self.nominated: dict[str, list[PodInfo]] = {}
        self._count_memo: dict[Any, np.ndarray] = {}
        self._hinted: dict[Any, list[Any]] = {}  # matcher hint -> matchers (see Matcher)
        self._label_memo: dict[str, tuple[np.ndarray, list[str], dict[str, int]]] = {}
        self.node_memo: dict[Any, Any] = {}  # plugin caches that depend on the nodes only
        self.num_required_anti_affinity_pods = 0
        self.num_affinity_pods = 0
        # (kind, term, weight) -> number of bound pods carrying it; kinds in PodInfo.term_keys
        self.term_counts: dict[tuple[str, AffinityTerm, int], int] = {}
        # term keys by the label their selector requires (None: any), in first-seen order
        self._term_index: dict[Any, dict[tuple[str, AffinityTerm, int], None]] = {}
        self._build_images()
        self._build_arrays()
        for pod in pods:
            pi = pod if isinstance(pod, PodInfo) else PodInfo(pod)
            phase = (pi.pod.get("status") or {}).get("phase")
            if phase in _TERMINAL_PHASES:
                continue
            if pi.node_name:
                if pi.node_name in self._by_name:
                    self.add_pod(pi)
            elif pi.nominated_node_name:
                self.nominated.setdefault(pi.nominated_node_name, []).append(pi)

    def _add_object(self, obj: Mapping[str, Any]) -> None:
        kind = obj.get("kind")
        if kind == "Namespace":
            meta = obj.get("metadata") or {}
            self.namespaces[meta.get("name") or ""] = meta.get("labels") or {}
        elif kind == "Service":
            self.services.append(obj)
        elif kind == "ReplicaSet":
            self.replica_sets.append(obj)
        elif kind == "StatefulSet":
            self.stateful_sets.append(obj)
        elif kind == "ReplicationController":
            self.replication_controllers.append(obj)
        elif kind == "PodDisruptionBudget":
            self.pdbs.append(obj)
        elif kind == "PersistentVolumeClaim":
            meta = obj.get("metadata") or {}
            key = (meta.get("namespace") or "default", meta.get("name") or "")
            self.pvcs[key] = obj
        elif kind in _BY_NAME:
            getattr(self, _BY_NAME[kind])[(obj.get("metadata") or {}).get("name") or ""] = obj

    def _build_images(self) -> None:
        # createImageExistenceMap: how many nodes have each image name.
        having: dict[str, set[str]] = {}
        for ni in self.node_infos:
            for image in (ni.node.get("status") or {}).get("images") or ():
                for name in image.get("names") or ():
                    having.setdefault(name, set()).add(ni.name)
        self.image_nodes = {name: len(nodes) for name, nodes in having.items()}
        for ni in self.node_infos:
            states = {}
            for image in (ni.node.get("status") or {}).get("images") or ():
                for name in image.get("names") or ():
                    states[name] = (image.get("sizeBytes") or 0, self.image_nodes[name])
            ni.image_states = states

    def _build_arrays(self) -> None:
        nis = self.node_infos
        n = len(nis)
        self.alloc_cpu = np.fromiter((ni.allocatable.milli_cpu for ni in nis), np.int64, n)
        self.alloc_mem = np.fromiter((ni.allocatable.memory for ni in nis), np.int64, n)
        self.alloc_eph = np.fromiter((ni.allocatable.ephemeral_storage for ni in nis), np.int64, n)
        self.alloc_pods = np.fromiter(
            (ni.allocatable.allowed_pod_number for ni in nis), np.int64, n
        )
        self.req_cpu = np.zeros(n, np.int64)
        self.req_mem = np.zeros(n, np.int64)
        self.req_eph = np.zeros(n, np.int64)
        self.nz_cpu = np.zeros(n, np.int64)
        self.nz_mem = np.zeros(n, np.int64)
        self.num_pods = np.zeros(n, np.int64)
        self.unschedulable_nodes = [ni.index for ni in nis if ni.unschedulable]
        self.tainted_nodes = [ni.index for ni in nis if ni.taints]
        self.tainted_mask = np.zeros(n, bool)
        self.tainted_mask[self.tainted_nodes] = True
        self.port_nodes: set[int] = set()

    # -- lookups

    def __len__(self) -> int:
        return len(self.node_infos)

    def get(self, name: str) -> NodeInfo | None:
        return self._by_name.get(name)

    def __getitem__(self, name: str) -> NodeInfo:
        return self._by_name[name]

    def namespace_labels(self, namespace: str) -> Mapping[str, str] | None:
        """The namespace's labels, or None when the Namespace object was not given."""
        return self.namespaces.get(namespace)

    def namespaces_matching(self, selector: Selector) -> list[str]:
        return sorted(name for name, labels in self.namespaces.items() if selector.matches(labels))

    def is_pvc_used_by_pods(self, namespace: str, claim: str) -> bool:
        """Whether a bound pod mounts the claim (StorageInfos().IsPVCUsedByPods)."""
        for ni in self.node_infos:
            for pi in ni.pods:
                if pi.namespace != namespace:
                    continue
                for v in pi.spec.get("volumes") or ():
                    if ((v or {}).get("persistentVolumeClaim") or {}).get("claimName") == claim:
                        return True
        return False

    def nominated_pods_for_node(self, name: str) -> list[PodInfo]:
        return self.nominated.get(name, [])

    # -- mutation

    def add_pod(self, pod: Mapping[str, Any] | PodInfo, node_name: str | None = None) -> PodInfo:
        """Bind a pod to a node (its spec.nodeName unless `node_name` is given) and update every
        index. Returns the PodInfo used."""
        pi = pod if isinstance(pod, PodInfo) else PodInfo(pod, node_name)
        if node_name is not None and pi.node_name != node_name:
            pi = PodInfo(pi.pod, node_name)
        ni = self._by_name[pi.node_name]
        ni.add_pod(pi)
        self._account(pi, ni.index, 1)
        nominated = self.nominated.get(pi.nominated_node_name)
        if nominated:
            self.nominated[pi.nominated_node_name] = [p for p in nominated if p.key != pi.key]
        return pi

    def remove_pod(self, pod: Mapping[str, Any] | PodInfo) -> bool:
        """Unbind a pod from its node; False if it was not there."""
        pi = pod if isinstance(pod, PodInfo) else PodInfo(pod)
        ni = self._by_name.get(pi.node_name)
        if ni is None:
            return False
        existing = next((p for p in ni.pods if p.key == pi.key), None)
        if existing is None or not ni.remove_pod(existing):
            return False
        self._account(existing, ni.index, -1)
        return True

    def _account(self, pi: PodInfo, i: int, sign: int) -> None:
        r = pi.requests
        self.req_cpu[i] += sign * r.milli_cpu
        self.req_mem[i] += sign * r.memory
        self.req_eph[i] += sign * r.ephemeral_storage
        cpu, mem = pi.non_zero
        self.nz_cpu[i] += sign * cpu
        self.nz_mem[i] += sign * mem
        self.num_pods[i] += sign
        if pi.host_ports:
            if any(self.node_infos[i].used_ports.values()):
                self.port_nodes.add(i)
            else:
                self.port_nodes.discard(i)
        if pi.has_affinity:
            self.num_affinity_pods += sign
        if pi.has_required_anti_affinity:
            self.num_required_anti_affinity_pods += sign
        if self._count_memo:
            candidates = list(self._hinted.get(None, ()))
            for pair in pi.labels.items():
                candidates += self._hinted.get(("label", pair), ())
            if pi.has_affinity:
                for key in pi.term_keys:
                    candidates += self._hinted.get(("term", key), ())
            for matcher in candidates:
                c = matcher.count(pi)
                if c:
                    self._count_memo[matcher][i] += sign * c
        if pi.has_affinity:
            for key in pi.term_keys:
                known = self.term_counts.get(key)
                if known is None:
                    hint = selector_hint(key[1].selector)
                    self._term_index.setdefault(hint and hint[1], {})[key] = None
                self.term_counts[key] = (known or 0) + sign

    # -- indexes for vectorized plugins

    def count_pods(self, matcher: Matcher) -> np.ndarray:
        """Per node, the sum of `matcher.count(pod)` over its bound pods. Memoized per matcher
        and kept up to date by add_pod/remove_pod; treat the array as read-only."""
        counts = self._count_memo.get(matcher)
        if counts is None:
            counts = np.fromiter(
                (sum(matcher.count(p) for p in ni.pods) for ni in self.node_infos),
                np.int64,
                len(self.node_infos),
            )
            self._count_memo[matcher] = counts
            self._hinted.setdefault(getattr(matcher, "hint", None), []).append(matcher)
        return counts

    def term_keys_for(self, labels: Mapping[str, str], kinds: Iterable[str]) -> list[Any]:
        """Affinity term keys of bound pods, of the given kinds, whose selector could match a pod
        with `labels` (terms requiring a label the pod lacks are left out), first-seen order."""
        wanted = set(kinds)
        found = list(self._term_index.get(None, {}))
        for pair in labels.items():
            found += self._term_index.get(pair, {})
        return [k for k in found if k[0] in wanted and self.term_counts.get(k, 0) > 0]

    def label_codes(self, key: str) -> tuple[np.ndarray, list[str], dict[str, int]]:
        """For label `key`: each node's value as a code (-1 when the node lacks the label), the
        values by code and the code of each value. Values are coded in sorted order."""
        memo = self._label_memo.get(key)
        if memo is None:
            values = sorted({ni.labels[key] for ni in self.node_infos if key in ni.labels})
            index = {v: i for i, v in enumerate(values)}
            codes = np.fromiter(
                (
                    index.get(ni.labels[key], -1) if key in ni.labels else -1
                    for ni in self.node_infos
                ),
                np.int64,
                len(self.node_infos),
            )
            memo = self._label_memo[key] = (codes, values, index)
        return memo

    def scalar_arrays(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(allocatable, requested) of a scalar resource on every node."""
        nis = self.node_infos
        n = len(nis)
        alloc = np.fromiter((ni.allocatable.scalar.get(name, 0) for ni in nis), np.int64, n)
        req = np.fromiter((ni.requested.scalar.get(name, 0) for ni in nis), np.int64, n)
        return alloc, req
