"""The scheduler's views of pods and nodes: PodInfo (requests, affinity terms and host ports
derived once from a pod dict), AffinityTerm, and NodeInfo (a node, its pods, their summed
requests and used host ports). Semantics: kube-scheduler's framework/types.go.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import cached_property
from typing import Any

from kube_teach.api.selectors import InvalidRequirementError, LabelSelector, Selector

from .resource import (
    _DEFAULT_REQUESTS,
    Resource,
    _is_scalar,
    milli_value,
    nanos,
    pod_level_requests_set,
    pod_requests,
    value_of,
)

# --- pods --------------------------------------------------------------------------------------


def pod_priority(pod: Mapping[str, Any]) -> int:
    """spec.priority, 0 when unset (corev1helpers.PodPriority)."""
    return (pod.get("spec") or {}).get("priority") or 0


def _parse_time(text: str | None) -> float:
    # A missing start time sorts as the latest: upstream substitutes "now".
    if not text:
        return float("inf")
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return float("inf")


def _selector_of(d: Mapping[str, Any] | None) -> Selector:
    return LabelSelector.from_dict(d).to_selector()


class AffinityTerm:
    """A processed PodAffinityTerm: the namespaces and selectors a matching pod must satisfy."""

    __slots__ = ("namespaces", "selector", "topology_key", "namespace_selector", "_hash")

    def __init__(
        self,
        namespaces: frozenset[str],
        selector: Selector,
        topology_key: str,
        namespace_selector: Selector,
    ) -> None:
        self.namespaces = namespaces
        self.selector = selector
        self.topology_key = topology_key
        self.namespace_selector = namespace_selector
        self._hash = hash((namespaces, selector, topology_key, namespace_selector))

    @classmethod
    def from_dict(cls, owner_namespace: str, term: Mapping[str, Any]) -> AffinityTerm:
        """Raises InvalidRequirementError for an invalid selector."""
        namespaces = term.get("namespaces") or []
        ns_selector = term.get("namespaceSelector")
        if not namespaces and ns_selector is None:
            namespaces = [owner_namespace]
        return cls(
            frozenset(namespaces),
            _selector_of(term.get("labelSelector")),
            term.get("topologyKey") or "",
            _selector_of(ns_selector),
        )

    def matches(self, pod: PodInfo, namespace_labels: Mapping[str, str] | None = None) -> bool:
        """The pod is in one of the namespaces (or one the namespace selector picks) and its
        labels match the selector."""
        if pod.namespace in self.namespaces or self.namespace_selector.matches(namespace_labels):
            return self.selector.matches(pod.labels)
        return False

    def with_namespaces(self, extra: Iterable[str]) -> AffinityTerm:
        """The term with `extra` namespaces merged in and a namespace selector that matches
        nothing (how upstream unrolls an incoming pod's namespaceSelector)."""
        return AffinityTerm(
            self.namespaces | frozenset(extra), self.selector, self.topology_key, Selector.nothing()
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AffinityTerm):
            return NotImplemented
        return (self.namespaces, self.selector, self.topology_key, self.namespace_selector) == (
            other.namespaces,
            other.selector,
            other.topology_key,
            other.namespace_selector,
        )

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return (
            f"AffinityTerm(namespaces={sorted(self.namespaces)}, selector={str(self.selector)!r}, "
            f"topology_key={self.topology_key!r})"
        )


class PodInfo:
    """A pod dict with what the scheduler derives from it computed once: requests, affinity
    terms, host ports. `pod` is the original dict, never modified. A pod without a namespace is
    taken to be in "default", as the API server would have put it."""

    def __init__(self, pod: Mapping[str, Any], node_name: str | None = None) -> None:
        self.pod = pod
        meta = pod.get("metadata") or {}
        self.spec: Mapping[str, Any] = pod.get("spec") or {}
        self.name: str = meta.get("name") or ""
        self.namespace: str = meta.get("namespace") or "default"
        self.uid: str = meta.get("uid") or ""
        self.labels: Mapping[str, str] = meta.get("labels") or {}
        self.node_name: str = (
            node_name if node_name is not None else self.spec.get("nodeName") or ""
        )
        self.nominated_node_name: str = (pod.get("status") or {}).get("nominatedNodeName") or ""
        self.priority: int = self.spec.get("priority") or 0
        self.deleting: bool = bool(meta.get("deletionTimestamp"))
        self.key: str = self.uid or f"{self.namespace}/{self.name}"
        affinity = self.spec.get("affinity") or {}
        pod_affinity = affinity.get("podAffinity")
        pod_anti = affinity.get("podAntiAffinity")
        self.has_affinity: bool = pod_affinity is not None or pod_anti is not None
        self.has_required_anti_affinity: bool = bool(
            (pod_anti or {}).get("requiredDuringSchedulingIgnoredDuringExecution")
        )

    @property
    def full_name(self) -> str:
        return f"{self.namespace}/{self.name}"

    @cached_property
    def start_time(self) -> float:
        return _parse_time((self.pod.get("status") or {}).get("startTime"))

    @cached_property
    def tolerations(self) -> list[Mapping[str, Any]]:
        return list(self.spec.get("tolerations") or ())

    @cached_property
    def request_nanos(self) -> dict[str, int]:
        """The pod's requests (no scoring defaults), in nano-units."""
        return pod_requests(self.spec)

    @cached_property
    def requests(self) -> Resource:
        """The pod's requests in scheduler units (Filter and the node's Requested)."""
        r = Resource()
        for name, n in self.request_nanos.items():
            if name == "cpu":
                r.milli_cpu = milli_value(n)
            elif name == "memory":
                r.memory = value_of(n)
            elif name == "ephemeral-storage":
                r.ephemeral_storage = value_of(n)
            elif _is_scalar(name):
                r.scalar[name] = value_of(n)
        return r

    @cached_property
    def non_zero(self) -> tuple[int, int]:
        """(millicores, bytes) with the 100m/200Mi defaults for missing requests, as the node's
        NonZeroRequested counts this pod."""
        requests = self.request_nanos
        if not pod_level_requests_set(self.spec):
            non0 = self.request_nanos_with_defaults
        else:
            non_missing = {k: v for k, v in _DEFAULT_REQUESTS.items() if k not in requests}
            non0 = pod_requests(self.spec, non_missing) if non_missing else requests
        return milli_value(non0.get("cpu", 0)), value_of(non0.get("memory", 0))

    @cached_property
    def request_nanos_with_defaults(self) -> dict[str, int]:
        """Requests with each container's missing cpu/memory counted as 100m/200Mi (then
        pod-level requests and overhead), as the scheduler scores the incoming pod."""
        return pod_requests(self.spec, _DEFAULT_REQUESTS)

    @cached_property
    def host_ports(self) -> list[tuple[str, str, int]]:
        """(hostIP, protocol, hostPort) of every regular container port with a hostPort."""
        out = []
        for container in self.spec.get("containers") or ():
            for port in container.get("ports") or ():
                host_port = port.get("hostPort") or 0
                if host_port > 0:
                    out.append(
                        (port.get("hostIP") or "0.0.0.0", port.get("protocol") or "TCP", host_port)
                    )
        return out

    def _terms(self, kind: str, required: bool) -> list:
        block = (self.spec.get("affinity") or {}).get(kind) or {}
        if required:
            raw = block.get("requiredDuringSchedulingIgnoredDuringExecution") or ()
            return [AffinityTerm.from_dict(self.namespace, t) for t in raw]
        raw = block.get("preferredDuringSchedulingIgnoredDuringExecution") or ()
        return [
            (
                AffinityTerm.from_dict(self.namespace, t.get("podAffinityTerm") or {}),
                t.get("weight") or 0,
            )
            for t in raw
        ]

    @cached_property
    def _parsed_terms(self) -> tuple[list, list, list, list, str]:
        try:
            return (
                self._terms("podAffinity", True),
                self._terms("podAntiAffinity", True),
                self._terms("podAffinity", False),
                self._terms("podAntiAffinity", False),
                "",
            )
        except InvalidRequirementError as err:
            return [], [], [], [], str(err)

    @property
    def required_affinity_terms(self) -> list[AffinityTerm]:
        return self._parsed_terms[0]

    @property
    def required_anti_affinity_terms(self) -> list[AffinityTerm]:
        return self._parsed_terms[1]

    @property
    def preferred_affinity_terms(self) -> list[tuple[AffinityTerm, int]]:
        return self._parsed_terms[2]

    @property
    def preferred_anti_affinity_terms(self) -> list[tuple[AffinityTerm, int]]:
        return self._parsed_terms[3]

    @property
    def parse_error(self) -> str:
        """The first invalid label selector in the pod's affinity terms, or ""."""
        return self._parsed_terms[4]

    @cached_property
    def term_keys(self) -> list[tuple[str, AffinityTerm, int]]:
        """The pod's affinity terms as (kind, term, weight): kinds "requiredAffinity",
        "requiredAntiAffinity" (weight 0), "preferredAffinity", "preferredAntiAffinity"."""
        keys: list[tuple[str, AffinityTerm, int]] = []
        keys += [("requiredAffinity", t, 0) for t in self.required_affinity_terms]
        keys += [("requiredAntiAffinity", t, 0) for t in self.required_anti_affinity_terms]
        keys += [("preferredAffinity", t, w) for t, w in self.preferred_affinity_terms]
        keys += [("preferredAntiAffinity", t, w) for t, w in self.preferred_anti_affinity_terms]
        return keys

    @cached_property
    def images(self) -> list[str]:
        return [c.get("image") or "" for c in self.spec.get("initContainers") or ()] + [
            c.get("image") or "" for c in self.spec.get("containers") or ()
        ]

    def __repr__(self) -> str:
        return f"<PodInfo {self.full_name}>"


# --- nodes -------------------------------------------------------------------------------------


def _check_port_conflict(
    used: Mapping[str, set[tuple[str, int]]], ip: str, protocol: str, port: int
) -> bool:
    # HostPortInfo.CheckConflict: 0.0.0.0 conflicts with any IP; a specific IP conflicts with
    # itself and with 0.0.0.0.
    if port <= 0:
        return False
    pp = (protocol, port)
    if ip == "0.0.0.0":
        return any(pp in ports for ports in used.values())
    return pp in used.get("0.0.0.0", ()) or pp in used.get(ip, ())


class NodeInfo:
    """A node and the pods bound to it, with their summed requests (types.go NodeInfo).

    `requested` sums the pods' requests; `non_zero_requested` counts missing cpu/memory requests
    as 100m/200Mi (scoring only). `allocatable` is status.allocatable (status.capacity when a
    hand-written node has no allocatable, as API defaulting would copy it).
    """

    def __init__(self, node: Mapping[str, Any], pods: Iterable[PodInfo] = ()) -> None:
        self.node = node
        meta = node.get("metadata") or {}
        spec = node.get("spec") or {}
        status = node.get("status") or {}
        self.name: str = meta.get("name") or ""
        self.labels: Mapping[str, str] = meta.get("labels") or {}
        self.taints: list[Mapping[str, Any]] = list(spec.get("taints") or ())
        self.unschedulable: bool = bool(spec.get("unschedulable"))
        alloc = status.get("allocatable")
        if alloc is None:
            alloc = status.get("capacity") or {}
        self.allocatable = Resource.from_nanos({k: nanos(v) for k, v in alloc.items()})
        self.requested = Resource()
        self.non_zero_requested = Resource()
        self.pods: list[PodInfo] = []
        self.pods_with_affinity: list[PodInfo] = []
        self.pods_with_required_anti_affinity: list[PodInfo] = []
        self.used_ports: dict[str, set[tuple[str, int]]] = {}
        self.image_states: dict[str, tuple[int, int]] = {}  # name -> (size bytes, nodes having it)
        self.index = -1  # position in the snapshot
        for pi in pods:
            self.add_pod(pi)

    def add_pod(self, pi: PodInfo) -> None:
        """Account a pod on this node (NodeInfo.AddPodInfo)."""
        self.pods.append(pi)
        if pi.has_affinity:
            self.pods_with_affinity.append(pi)
        if pi.has_required_anti_affinity:
            self.pods_with_required_anti_affinity.append(pi)
        self.requested.add(pi.requests)
        cpu, mem = pi.non_zero
        self.non_zero_requested.milli_cpu += cpu
        self.non_zero_requested.memory += mem
        for ip, protocol, port in pi.host_ports:
            self.used_ports.setdefault(ip, set()).add((protocol, port))

    def remove_pod(self, pi: PodInfo) -> bool:
        """Un-account a pod (matched by UID, or namespace/name without one); False if absent."""
        index = next((i for i, p in enumerate(self.pods) if p.key == pi.key), None)
        if index is None:
            return False
        existing = self.pods.pop(index)
        for group in (self.pods_with_affinity, self.pods_with_required_anti_affinity):
            for j, p in enumerate(group):
                if p.key == existing.key:
                    group.pop(j)
                    break
        self.requested.add(existing.requests, -1)
        cpu, mem = existing.non_zero
        self.non_zero_requested.milli_cpu -= cpu
        self.non_zero_requested.memory -= mem
        for ip, protocol, port in existing.host_ports:
            self.used_ports.get(ip, set()).discard((protocol, port))
        return True

    def clone(self) -> NodeInfo:
        """A copy whose pod lists and sums can change without touching this one."""
        out = copy.copy(self)
        out.requested = self.requested.clone()
        out.non_zero_requested = self.non_zero_requested.clone()
        out.pods = list(self.pods)
        out.pods_with_affinity = list(self.pods_with_affinity)
        out.pods_with_required_anti_affinity = list(self.pods_with_required_anti_affinity)
        out.used_ports = {ip: set(p) for ip, p in self.used_ports.items()}
        return out

    def has_port_conflict(self, ports: Iterable[tuple[str, str, int]]) -> bool:
        return any(_check_port_conflict(self.used_ports, *p) for p in ports)

    def __repr__(self) -> str:
        return f"<NodeInfo {self.name} pods={len(self.pods)}>"
