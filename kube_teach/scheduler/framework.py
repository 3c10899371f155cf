"""The scheduling framework: statuses, cycle state, the pod/node/snapshot views plugins read,
profiles built from KubeSchedulerConfiguration data, and the runners of one scheduling cycle.

Semantics: kube-scheduler's framework (interface.go, types.go, runtime/framework.go),
apis/config/v1 (default_plugins.go, defaults.go) and schedule_one.go (numFeasibleNodesToFind,
selectHost, FitError). Pure: no clock, no I/O; randomness comes from a `random.Random` passed in.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from enum import IntEnum
from functools import cached_property
from typing import Any, Protocol, runtime_checkable

import numpy as np

from kube_teach.api.names import is_qualified_name
from kube_teach.api.quantity import Quantity
from kube_teach.api.selectors import InvalidRequirementError, LabelSelector, Selector

MAX_NODE_SCORE = 100
MIN_NODE_SCORE = 0
MAX_TOTAL_SCORE = 2**63 - 1
DEFAULT_MILLI_CPU_REQUEST = 100  # 0.1 core, for pods without a cpu request (scoring only)
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024  # 200Mi, likewise
MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5
NO_NODES_AVAILABLE = "no nodes available to schedule pods"

# Extension points in upstream's order, with the method a plugin defines to implement each.
EXTENSION_POINTS: dict[str, str] = {
    "preEnqueue": "pre_enqueue",
    "queueSort": "less",
    "preFilter": "pre_filter",
    "filter": "filter",
    "postFilter": "post_filter",
    "preScore": "pre_score",
    "score": "score",
    "reserve": "reserve",
    "permit": "permit",
    "preBind": "pre_bind",
    "bind": "bind",
    "postBind": "post_bind",
}


class SchedulerError(Exception):
    """A plugin or configuration error (upstream's Error status, or a rejected profile)."""


# --- Status -----------------------------------------------------------------------------------


class Code(IntEnum):
    """A status code, upstream's names and order (interface.go)."""

    Success = 0
    Error = 1
    Unschedulable = 2
    UnschedulableAndUnresolvable = 3
    Wait = 4
    Skip = 5
    Pending = 6

    def __str__(self) -> str:
        return self.name


_REJECTED = (Code.Unschedulable, Code.UnschedulableAndUnresolvable, Code.Pending)


class Status:
    """A plugin's verdict: a code, the reasons (each counted in FailedScheduling), the plugin.

    `Status()` is success; `Status(Code.Unschedulable, "Insufficient cpu")`. `message` joins the
    reasons with ", " as upstream's Message() does.
    """

    __slots__ = ("code", "reasons", "plugin")

    def __init__(self, code: Code = Code.Success, *reasons: str, plugin: str = "") -> None:
        self.code = code
        self.reasons: tuple[str, ...] = reasons
        self.plugin = plugin

    @staticmethod
    def success() -> Status:
        """The success status (shared; statuses are never mutated)."""
        return SUCCESS

    @staticmethod
    def error(message: str, plugin: str = "") -> Status:
        """An Error status, as upstream's AsStatus(err)."""
        return Status(Code.Error, message, plugin=plugin)

    def is_success(self) -> bool:
        return self.code == Code.Success

    def is_rejected(self) -> bool:
        """Unschedulable, UnschedulableAndUnresolvable or Pending."""
        return self.code in _REJECTED

    def is_skip(self) -> bool:
        return self.code == Code.Skip

    @property
    def message(self) -> str:
        return ", ".join(self.reasons)

    def with_plugin(self, plugin: str) -> Status:
        """A copy naming the plugin that produced it."""
        return Status(self.code, *self.reasons, plugin=plugin)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Status):
            return NotImplemented
        return (self.code, self.reasons, self.plugin) == (other.code, other.reasons, other.plugin)

    def __hash__(self) -> int:
        return hash((self.code, self.reasons, self.plugin))

    def __repr__(self) -> str:
        parts = [self.code.name, *map(repr, self.reasons)]
        if self.plugin:
            parts.append(f"plugin={self.plugin!r}")
        return f"Status({', '.join(parts)})"


SUCCESS = Status()


class PreFilterResult:
    """A PreFilter's success that narrows the nodes to `node_names` (None means all nodes)."""

    __slots__ = ("node_names",)

    def __init__(self, node_names: Iterable[str] | None) -> None:
        self.node_names = None if node_names is None else frozenset(node_names)

    def merge(self, other: PreFilterResult | None) -> PreFilterResult:
        if other is None or other.node_names is None:
            return self
        if self.node_names is None:
            return other
        return PreFilterResult(self.node_names & other.node_names)


class PostFilterResult:
    """What a PostFilter (preemption) proposes: a nominated node and the pods to evict."""

    __slots__ = ("nominated_node_name", "victims", "num_pdb_violations")

    def __init__(
        self, nominated_node_name: str, victims: Sequence[PodInfo] = (), num_pdb_violations: int = 0
    ) -> None:
        self.nominated_node_name = nominated_node_name
        self.victims = tuple(victims)
        self.num_pdb_violations = num_pdb_violations


# --- CycleState --------------------------------------------------------------------------------


class CycleState:
    """Data plugins share within one scheduling cycle, keyed by string (PreFilter -> Filter).

    Also carries what upstream plugins reach through their framework handle: the snapshot being
    scheduled against, the profile (to run other plugins, as preemption does) and the cycle's
    random stream. `clone()` copies every value that has a `clone()` method, as preemption's
    dry runs require.
    """

    __slots__ = ("_data", "snapshot", "profile", "rng", "skip_filter_plugins", "skip_score_plugins")

    def __init__(
        self,
        snapshot: Snapshot | None = None,
        rng: random.Random | None = None,
        profile: Profile | None = None,
    ) -> None:
        self._data: dict[str, Any] = {}
        self.snapshot = snapshot
        self.profile = profile
        self.rng = rng
        self.skip_filter_plugins: frozenset[str] = frozenset()
        self.skip_score_plugins: frozenset[str] = frozenset()

    def read(self, key: str) -> Any:
        """The value written under `key`; KeyError if absent (upstream's ErrNotFound)."""
        return self._data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def write(self, key: str, value: Any) -> None:
        self._data[key] = value

    def delete(self, key: str) -> None:
        self._data.pop(key, None)

    def clone(self) -> CycleState:
        out = CycleState(self.snapshot, self.rng, self.profile)
        out._data = {k: (v.clone() if hasattr(v, "clone") else v) for k, v in self._data.items()}
        out.skip_filter_plugins = self.skip_filter_plugins
        out.skip_score_plugins = self.skip_score_plugins
        return out


# --- resources ---------------------------------------------------------------------------------

_NANO = 10**9
_NANOS_CACHE: dict[Any, int] = {}


def nanos(quantity: Any) -> int:
    """A quantity (text, number or Quantity) as an exact integer count of nano-units."""
    key = quantity if isinstance(quantity, str | int | float) else str(quantity)
    value = _NANOS_CACHE.get(key)
    if value is None:
        value = int(Quantity(quantity).as_fraction() * _NANO)
        if len(_NANOS_CACHE) < 100_000:
            _NANOS_CACHE[key] = value
    return value


def milli_value(n: int) -> int:
    """Nano-units to thousandths, rounded up in magnitude (Quantity.MilliValue)."""
    return -(-n // 1_000_000) if n >= 0 else -(-n // 1_000_000)


def value_of(n: int) -> int:
    """Nano-units to units, rounded up in magnitude (Quantity.Value)."""
    return -(-n // _NANO) if n >= 0 else -(-n // _NANO)


def is_extended_resource_name(name: str) -> bool:
    """A `vendor/name` resource outside kubernetes.io, valid as `requests.<name>`."""
    if "/" not in name or "kubernetes.io/" in name or name.startswith("requests."):
        return False
    return not is_qualified_name("requests." + name)


def is_scalar_resource_name(name: str) -> bool:
    """Extended, hugepages-*, prefixed native (*kubernetes.io/*) or attachable-volumes-*."""
    return (
        is_extended_resource_name(name)
        or name.startswith("hugepages-")
        or "kubernetes.io/" in name
        or name.startswith("attachable-volumes-")
    )


_SCALAR_CACHE: dict[str, bool] = {}


def _is_scalar(name: str) -> bool:
    known = _SCALAR_CACHE.get(name)
    if known is None:
        known = _SCALAR_CACHE[name] = is_scalar_resource_name(name)
    return known


class Resource:
    """Compute resources in the units the scheduler compares: millicores, bytes, pod slots, and
    whole units of each scalar resource (extended resources, hugepages)."""

    __slots__ = ("milli_cpu", "memory", "ephemeral_storage", "allowed_pod_number", "scalar")

    def __init__(
        self,
        milli_cpu: int = 0,
        memory: int = 0,
        ephemeral_storage: int = 0,
        allowed_pod_number: int = 0,
        scalar: Mapping[str, int] | None = None,
    ) -> None:
        self.milli_cpu = milli_cpu
        self.memory = memory
        self.ephemeral_storage = ephemeral_storage
        self.allowed_pod_number = allowed_pod_number
        self.scalar: dict[str, int] = dict(scalar or {})

    @classmethod
    def from_nanos(cls, resources: Mapping[str, int]) -> Resource:
        """A resource list (name -> nano-units) added in, as upstream's Resource.Add."""
        r = cls()
        r.add_nanos(resources)
        return r

    def add_nanos(self, resources: Mapping[str, int], sign: int = 1) -> None:
        for name, n in resources.items():
            if name == "cpu":
                self.milli_cpu += sign * milli_value(n)
            elif name == "memory":
                self.memory += sign * value_of(n)
            elif name == "pods":
                self.allowed_pod_number += sign * value_of(n)
            elif name == "ephemeral-storage":
                self.ephemeral_storage += sign * value_of(n)
            elif _is_scalar(name):
                self.scalar[name] = self.scalar.get(name, 0) + sign * value_of(n)

    def add(self, other: Resource, sign: int = 1) -> None:
        self.milli_cpu += sign * other.milli_cpu
        self.memory += sign * other.memory
        self.ephemeral_storage += sign * other.ephemeral_storage
        self.allowed_pod_number += sign * other.allowed_pod_number
        for name, v in other.scalar.items():
            self.scalar[name] = self.scalar.get(name, 0) + sign * v

    def is_zero(self) -> bool:
        """True when no cpu, memory, ephemeral storage or scalar resource is requested (a scalar
        listed with 0 still counts as requested, as upstream's len(ScalarResources) check)."""
        return not (self.milli_cpu or self.memory or self.ephemeral_storage or self.scalar)

    def clone(self) -> Resource:
        return Resource(
            self.milli_cpu,
            self.memory,
            self.ephemeral_storage,
            self.allowed_pod_number,
            self.scalar,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Resource):
            return NotImplemented
        return all(getattr(self, s) == getattr(other, s) for s in self.__slots__)

    def __repr__(self) -> str:
        return (
            f"Resource(milli_cpu={self.milli_cpu}, memory={self.memory}, "
            f"ephemeral_storage={self.ephemeral_storage}, pods={self.allowed_pod_number}, "
            f"scalar={self.scalar})"
        )


_DEFAULT_REQUESTS = {
    "cpu": DEFAULT_MILLI_CPU_REQUEST * 1_000_000,
    "memory": DEFAULT_MEMORY_REQUEST * _NANO,
}


def _container_requests(container: Mapping[str, Any]) -> dict[str, int]:
    requests = (container.get("resources") or {}).get("requests") or {}
    return {name: nanos(q) for name, q in requests.items()}


def _add_list(into: dict[str, int], other: Mapping[str, int]) -> None:
    for name, n in other.items():
        into[name] = into.get(name, 0) + n


def _max_list(into: dict[str, int], other: Mapping[str, int]) -> None:
    for name, n in other.items():
        if name not in into or n > into[name]:
            into[name] = n


def _supported_pod_level(name: str) -> bool:
    return name in ("cpu", "memory") or name.startswith("hugepages-")


def pod_level_requests_set(spec: Mapping[str, Any]) -> bool:
    """True if `spec.resources.requests` names cpu, memory or a hugepages size."""
    requests = (spec.get("resources") or {}).get("requests") or {}
    return any(_supported_pod_level(name) for name in requests)


def pod_requests(
    spec: Mapping[str, Any], non_missing: Mapping[str, int] | None = None
) -> dict[str, int]:
    """A pod's total requests in nano-units, as component-helpers' PodRequests computes them.

    Regular containers are summed; restartable init containers (sidecars) are added to that sum
    and accumulate into every later init container's need; the result is the maximum of the sum
    and each init container's need. Pod-level requests (cpu, memory, hugepages) replace the
    aggregate; pod overhead is added. `non_missing` fills a container's missing request keys
    (the scheduler's 100m/200Mi scoring defaults); explicit zeros stay zero.
    """
    reqs: dict[str, int] = {}
    for container in spec.get("containers") or ():
        creq = _container_requests(container)
        if non_missing:
            creq = {**{k: v for k, v in non_missing.items() if k not in creq}, **creq}
        _add_list(reqs, creq)
    sidecars: dict[str, int] = {}
    init_max: dict[str, int] = {}
    for container in spec.get("initContainers") or ():
        creq = _container_requests(container)
        if non_missing:
            creq = {**{k: v for k, v in non_missing.items() if k not in creq}, **creq}
        if container.get("restartPolicy") == "Always":
            _add_list(reqs, creq)
            _add_list(sidecars, creq)
            need = sidecars
        else:
            need = dict(creq)
            _add_list(need, sidecars)
        _max_list(init_max, need)
    _max_list(reqs, init_max)
    pod_level = (spec.get("resources") or {}).get("requests") or {}
    if any(_supported_pod_level(name) for name in pod_level):
        for name, q in pod_level.items():
            if _supported_pod_level(name):
                reqs[name] = nanos(q)
    for name, q in (spec.get("overhead") or {}).items():
        reqs[name] = reqs.get(name, 0) + nanos(q)
    return reqs


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


class Snapshot:
    """The cluster as one scheduling cycle sees it: nodes in a fixed order with their bound pods,
    pods nominated to nodes by preemption, and the objects some plugins read (Namespaces,
    Services, ReplicaSets, StatefulSets, ReplicationControllers, PodDisruptionBudgets).

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


# --- plugins -----------------------------------------------------------------------------------


@runtime_checkable
class Plugin(Protocol):
    """A scheduler plugin: a `name` and one method per extension point it implements.

    Methods, all optional (the framework enables a plugin at each point it implements):
    `pre_enqueue(pod) -> Status`; `less(a, b) -> bool` (queue sort);
    `pre_filter(state, pod, nodes) -> Status | PreFilterResult` and, for preemption,
    `add_pod`/`remove_pod(state, pod, other, node) -> Status`;
    `filter(state, pod, node) -> Status` with an optional vectorized
    `filter_all(state, pod, snapshot) -> ndarray | None` (True where the plugin rejects; None
    when it rejects nothing); `post_filter(state, pod, statuses) -> (PostFilterResult | None,
    Status)`; `pre_score(state, pod, nodes) -> Status`; `score(state, pod, node) -> int` with
    optional `score_all(state, pod, nodes, index) -> ndarray` and
    `normalize_score(state, pod, scores, nodes) -> ndarray`; `reserve`/`unreserve`, `permit`,
    `pre_bind`, `bind`, `post_bind(state, pod, node_name)`.
    """

    name: str


def implements(plugin: Any, extension_point: str) -> bool:
    """Whether a plugin (class or instance) implements an extension point (v1 config name)."""
    return callable(getattr(plugin, EXTENSION_POINTS[extension_point], None))


# --- profiles ----------------------------------------------------------------------------------


def _plugin_list(items: Iterable[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    return [dict(p) for p in items or ()]


def merge_plugin_set(default: Mapping[str, Any], custom: Mapping[str, Any]) -> dict[str, Any]:
    """Merge one extension point's `{enabled, disabled}` as upstream's mergePluginSet does.

    Disabled names (or "*") drop defaults; a default that is enabled again keeps its place with
    the custom settings (weight); other custom plugins are appended in their order.
    """
    disabled = [{"name": p["name"]} for p in _plugin_list(custom.get("disabled"))]
    disabled += [{"name": p["name"]} for p in _plugin_list(default.get("disabled"))]
    disabled_names = {p["name"] for p in disabled}
    custom_enabled = _plugin_list(custom.get("enabled"))
    by_name = {p["name"]: (i, p) for i, p in enumerate(custom_enabled)}
    replaced: set[int] = set()
    enabled: list[dict[str, Any]] = []
    if "*" not in disabled_names:
        for plugin in _plugin_list(default.get("enabled")):
            if plugin["name"] in disabled_names:
                continue
            if plugin["name"] in by_name:
                index, plugin = by_name[plugin["name"]]
                replaced.add(index)
            enabled.append(plugin)
    enabled += [p for i, p in enumerate(custom_enabled) if i not in replaced]
    return {"enabled": enabled, "disabled": disabled}


def merge_plugins(default: Mapping[str, Any], custom: Mapping[str, Any] | None) -> dict[str, Any]:
    """Upstream's mergePlugins over every extension point plus multiPoint (every point is
    present in the result, as `{enabled, disabled}`)."""
    custom = custom or {}
    points = ["multiPoint", *EXTENSION_POINTS]
    return {
        point: merge_plugin_set(default.get(point) or {}, custom.get(point) or {})
        for point in points
    }


class Profile:
    """One scheduler profile: the plugin instances enabled at each extension point, in order,
    and the score weights. Build it with `Profile.build(config, registry, default_plugins)`.

    `plugins[point]` lists instances for an extension point ("filter", "score", ...); one
    instance serves every point its plugin implements. `weights[name]` is the score weight.
    """

    def __init__(
        self,
        scheduler_name: str,
        plugins: Mapping[str, list[Any]],
        weights: Mapping[str, int],
        plugin_args: Mapping[str, Mapping[str, Any]],
        percentage_of_nodes_to_score: int | None = None,
    ) -> None:
        self.scheduler_name = scheduler_name
        self.plugins = {point: list(plugins.get(point, ())) for point in EXTENSION_POINTS}
        self.weights = dict(weights)
        self.plugin_args = {k: dict(v) for k, v in plugin_args.items()}
        self.percentage_of_nodes_to_score = percentage_of_nodes_to_score

    @classmethod
    def build(
        cls,
        config: Mapping[str, Any] | None,
        registry: Mapping[str, type],
        default_plugins: Mapping[str, Any],
    ) -> Profile:
        """A profile from a `kubescheduler.config.k8s.io/v1` profile dict (None for defaults).

        Keys: schedulerName, percentageOfNodesToScore, plugins (per extension point and
        multiPoint, each `{enabled: [{name, weight}], disabled: [{name}]}`), pluginConfig
        (`[{name, args}]`, upstream argument names). Plugins merge with `default_plugins`
        as mergePlugins does; args are defaulted by each plugin's `default_args`.
        Raises SchedulerError for unknown plugins or invalid args.
        """
        config = config or {}
        merged = merge_plugins(default_plugins, config.get("plugins"))
        supplied = {pc["name"]: pc.get("args") or {} for pc in config.get("pluginConfig") or ()}
        needed: list[str] = []
        for point in ["multiPoint", *EXTENSION_POINTS]:
            for p in merged[point]["enabled"]:
                if p["name"] not in needed:
                    needed.append(p["name"])
        instances: dict[str, Any] = {}
        plugin_args: dict[str, Mapping[str, Any]] = {}
        for name in needed:
            factory = registry.get(name)
            if factory is None:
                raise SchedulerError(f'plugin "{name}" does not exist')
            defaulter = getattr(factory, "default_args", None)
            args = defaulter(supplied.get(name, {})) if defaulter else dict(supplied.get(name, {}))
            plugin_args[name] = args
            try:
                instances[name] = factory(args) if defaulter else factory()
            except (ValueError, TypeError, KeyError) as err:
                raise SchedulerError(f"initializing plugin {name!r}: {err}") from err
        plugins = {point: _expand(point, merged, instances) for point in EXTENSION_POINTS}
        weights: dict[str, int] = {}
        for p in merged["score"]["enabled"] + merged["multiPoint"]["enabled"]:
            # Score's own entry wins over the multiPoint one; weight 0 means 1 (getScoreWeights).
            if p["name"] in weights or not implements(instances[p["name"]], "score"):
                continue
            weights[p["name"]] = int(p.get("weight") or 0) or 1
        percentage = config.get("percentageOfNodesToScore")
        return cls(
            config.get("schedulerName") or "default-scheduler",
            plugins,
            weights,
            plugin_args,
            percentage,
        )

    def names(self, point: str) -> list[str]:
        """Plugin names enabled at an extension point, in order."""
        return [p.name for p in self.plugins[point]]

    def has_score_plugins(self) -> bool:
        return bool(self.plugins["score"])

    def __repr__(self) -> str:
        return f"<Profile {self.scheduler_name} filter={self.names('filter')}>"


_GO_TYPES = {point: point[0].upper() + point[1:] + "Plugin" for point in EXTENSION_POINTS}


def _expand(point: str, merged: Mapping[str, Any], instances: Mapping[str, Any]) -> list[Any]:
    # The point's own list (updatePluginList), then expandMultiPointPlugins: plugins named both
    # at the point and in multiPoint keep the point's order and come first, then the multiPoint
    # plugins, then the rest of the point's list.
    specific: list[str] = []
    for p in merged[point]["enabled"]:
        name = p["name"]
        if not implements(instances[name], point):
            raise SchedulerError(f'plugin "{name}" does not extend {_GO_TYPES[point]} plugin')
        if name in specific:
            raise SchedulerError(f'plugin "{name}" already registered as "{_GO_TYPES[point]}"')
        specific.append(name)
    disabled = {p["name"] for p in merged[point]["disabled"]}
    if "*" in disabled:
        return [instances[n] for n in specific]
    overrides: list[str] = []
    multi: list[str] = []
    for p in merged["multiPoint"]["enabled"]:
        name = p["name"]
        if not implements(instances[name], point) or name in disabled:
            continue
        if name in specific:
            overrides.append(name)
        elif name in multi:
            raise SchedulerError(f'plugin "{name}" already registered as "{_GO_TYPES[point]}"')
        else:
            multi.append(name)
    ordered = [n for n in specific if n in overrides] + multi
    ordered += [n for n in specific if n not in overrides]
    return [instances[n] for n in ordered]


# --- running one cycle --------------------------------------------------------------------------


def num_feasible_nodes_to_find(percentage: int | None, num_all_nodes: int) -> int:
    """How many feasible nodes to look for before scoring (numFeasibleNodesToFind).

    Under 100 nodes: all. A percentage of 0 (or None) is adaptive: 50 - nodes/125, at least 5.
    At least 100 nodes are always found.
    """
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all_nodes
    percentage = percentage or 0
    if percentage == 0:
        percentage = 50 - num_all_nodes // 125
        if percentage < MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND:
            percentage = MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND
    num = num_all_nodes * percentage // 100
    return max(num, MIN_FEASIBLE_NODES_TO_FIND)


def run_pre_filter(
    profile: Profile, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
) -> tuple[PreFilterResult | None, Status, list[str]]:
    """Run PreFilter plugins (RunPreFilterPlugins): Skip disables a plugin's Filter for the cycle;
    UnschedulableAndUnresolvable stops at once; Unschedulable is remembered and the rest run;
    node-name results are intersected. Returns (result, status, plugins that narrowed nodes)."""
    result: PreFilterResult | None = None
    narrowing: list[str] = []
    skipped: list[str] = []
    returned = SUCCESS
    try:
        for pl in profile.plugins["preFilter"]:
            s = pl.pre_filter(state, pod, nodes)
            if isinstance(s, PreFilterResult):
                r, s = s, SUCCESS
            else:
                r = None
            if s.is_skip():
                skipped.append(pl.name)
                continue
            if not s.is_success():
                s = s.with_plugin(pl.name)
                if s.code == Code.UnschedulableAndUnresolvable:
                    return None, s, []
                if s.code == Code.Unschedulable:
                    returned = s
                    continue
                return (
                    None,
                    Status.error(f'running PreFilter plugin "{pl.name}": {s.message}', pl.name),
                    [],
                )
            if r is not None and r.node_names is not None:
                narrowing.append(pl.name)
                result = r if result is None else result.merge(r)
                if not result.node_names:
                    names = sorted(narrowing)
                    msg = (
                        f"node(s) didn't satisfy plugin {names[0]}"
                        if len(names) == 1
                        else f"node(s) didn't satisfy plugin(s) [{' '.join(names)}] simultaneously"
                    )
                    return result, Status(Code.UnschedulableAndUnresolvable, msg), sorted(narrowing)
    finally:
        state.skip_filter_plugins = frozenset(skipped)
    return result, returned, sorted(narrowing)


def run_pre_filter_add_pod(
    profile: Profile, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo
) -> Status:
    """Tell PreFilter plugins' state that `other` now runs on `node` (preemption, nominations)."""
    for pl in profile.plugins["preFilter"]:
        if pl.name in state.skip_filter_plugins or not hasattr(pl, "add_pod"):
            continue
        s = pl.add_pod(state, pod, other, node)
        if not s.is_success():
            return Status.error(f'running AddPod on PreFilter plugin "{pl.name}": {s.message}')
    return SUCCESS


def run_pre_filter_remove_pod(
    profile: Profile, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo
) -> Status:
    """Tell PreFilter plugins' state that `other` no longer runs on `node`."""
    for pl in profile.plugins["preFilter"]:
        if pl.name in state.skip_filter_plugins or not hasattr(pl, "remove_pod"):
            continue
        s = pl.remove_pod(state, pod, other, node)
        if not s.is_success():
            return Status.error(f'running RemovePod on PreFilter plugin "{pl.name}": {s.message}')
    return SUCCESS


def run_filters(profile: Profile, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
    """Run Filter plugins on one node, stopping at the first that does not succeed; the status
    names that plugin (RunFilterPlugins)."""
    for pl in profile.plugins["filter"]:
        if pl.name in state.skip_filter_plugins:
            continue
        s = pl.filter(state, pod, node)
        if not s.is_success():
            if not s.is_rejected():
                s = Status.error(f'running "{pl.name}" filter plugin: {s.message}')
            return s.with_plugin(pl.name)
    return SUCCESS


def _add_nominated_pods(
    profile: Profile, state: CycleState, pod: PodInfo, node: NodeInfo
) -> tuple[bool, CycleState, NodeInfo]:
    snapshot = state.snapshot
    nominated = snapshot.nominated_pods_for_node(node.name) if snapshot is not None else []
    if not nominated:
        return False, state, node
    node_out, state_out, added = None, None, False
    for pi in nominated:
        if pi.priority >= pod.priority and pi.key != pod.key:
            if node_out is None:
                node_out, state_out = node.clone(), state.clone()
            node_out.add_pod(pi)
            s = run_pre_filter_add_pod(profile, state_out, pod, pi, node_out)
            if not s.is_success():
                raise SchedulerError(s.message)
            added = True
    if not added:
        return False, state, node
    return True, state_out, node_out


def run_filters_with_nominated_pods(
    profile: Profile, state: CycleState, pod: PodInfo, node: NodeInfo
) -> Status:
    """Filter a node as if the pods nominated to it with priority >= the pod's were running, and
    again without them when they were added (RunFilterPluginsWithNominatedPods)."""
    added, state_with, node_with = _add_nominated_pods(profile, state, pod, node)
    status = run_filters(profile, state_with, pod, node_with)
    if added and status.is_success():
        status = run_filters(profile, state, pod, node)
    return status


def _has_nominated(snapshot: Snapshot, ni: NodeInfo, pod: PodInfo) -> bool:
    return any(
        p.priority >= pod.priority and p.key != pod.key
        for p in snapshot.nominated_pods_for_node(ni.name)
    )


def find_nodes_that_pass_filters(
    profile: Profile,
    state: CycleState,
    pod: PodInfo,
    nodes: Sequence[NodeInfo],
    start_index: int,
    num_to_find: int,
    *,
    whole_snapshot: bool = False,
) -> tuple[Sequence[NodeInfo], dict[str, Status], int]:
    """Filter `nodes` in round-robin order from `start_index` until `num_to_find` nodes pass.

    Returns (feasible nodes in visiting order, status of every visited node that failed, number
    of nodes visited), as upstream's findNodesThatPassFilters but sequential. When `nodes` is the
    whole snapshot (`whole_snapshot`), plugins with `filter_all` judge all nodes at once and only
    the first failing plugin of each visited node is asked for its reasons; the verdicts equal
    running every plugin node by node.
    """
    n = len(nodes)
    if n == 0:
        return [], {}, 0
    snapshot = state.snapshot
    plugins = [pl for pl in profile.plugins["filter"] if pl.name not in state.skip_filter_plugins]
    first_fail = np.full(n, -1, np.int64)  # first plugin (by position) whose batch rejects
    scalar: set[int] = set(range(len(plugins)))
    if whole_snapshot and snapshot is not None:
        for j, pl in enumerate(plugins):
            batch = getattr(pl, "filter_all", None)
            if batch is None:
                continue
            fails = batch(state, pod, snapshot)
            if fails is NotImplemented:
                continue
            scalar.discard(j)
            if fails is not None:
                first_fail[fails & (first_fail < 0)] = j
    order = (np.arange(n) + start_index % n) % n
    feasible: list[NodeInfo] = []
    statuses: dict[str, Status] = {}
    nominated = snapshot is not None and any(snapshot.nominated.values())
    if not scalar and not nominated:
        positions = np.flatnonzero(first_fail[order] < 0)
        visited = n
        if len(positions) > num_to_find:
            visited = int(positions[num_to_find - 1]) + 1 if num_to_find > 0 else 0
            positions = positions[:num_to_find]
        picked = order[positions]
        if whole_snapshot:
            feasible_list: Sequence[NodeInfo] = NodeList(nodes, picked)
        else:
            feasible_list = [nodes[int(i)] for i in picked]
        failed = order[:visited]
        for i in failed[first_fail[failed] >= 0].tolist():
            statuses[nodes[i].name] = _reasons(plugins[int(first_fail[i])], state, pod, nodes[i])
        return feasible_list, statuses, visited
    visited = 0
    for p in range(n):
        if len(feasible) >= num_to_find:
            break
        i = int(order[p])
        ni = nodes[i]
        visited += 1
        if snapshot is not None and _has_nominated(snapshot, ni, pod):
            s = run_filters_with_nominated_pods(profile, state, pod, ni)
        else:
            s = SUCCESS
            for j, pl in enumerate(plugins):
                if j in scalar:
                    s = pl.filter(state, pod, ni)
                    if not s.is_success():
                        if not s.is_rejected():
                            s = Status.error(f'running "{pl.name}" filter plugin: {s.message}')
                        s = s.with_plugin(pl.name)
                        break
                elif first_fail[i] == j:
                    s = _reasons(pl, state, pod, ni)
                    break
        if s.is_success():
            feasible.append(ni)
        else:
            statuses[ni.name] = s
            if s.code == Code.Error:
                raise SchedulerError(s.message)
    return feasible, statuses, visited


def _reasons(pl: Any, state: CycleState, pod: PodInfo, ni: NodeInfo) -> Status:
    # The status of a plugin its batch path said rejects this node.
    s = pl.filter(state, pod, ni)
    if s.is_success():
        raise SchedulerError(f"{pl.name}: filter_all rejected {ni.name} but filter accepts it")
    if not s.is_rejected():
        s = Status.error(f'running "{pl.name}" filter plugin: {s.message}')
    return s.with_plugin(pl.name)


def run_post_filter(
    profile: Profile, state: CycleState, pod: PodInfo, statuses: NodeToStatus
) -> tuple[PostFilterResult | None, Status]:
    """Run PostFilter plugins until one succeeds (RunPostFilterPlugins); rejections' reasons are
    merged under the first rejecting plugin."""
    result = None
    reasons: list[str] = []
    rejector = ""
    for pl in profile.plugins["postFilter"]:
        r, s = pl.post_filter(state, pod, statuses)
        if s.is_success():
            return r, s
        if s.code == Code.UnschedulableAndUnresolvable:
            return r, s.with_plugin(pl.name)
        if not s.is_rejected():
            return None, Status.error(s.message, pl.name)
        if r is not None and r.nominated_node_name:
            result = r
        reasons.extend(s.reasons)
        rejector = rejector or pl.name
    return result, Status(Code.Unschedulable, *reasons, plugin=rejector)


def run_pre_score(
    profile: Profile, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
) -> Status:
    """Run PreScore plugins; Skip turns the plugin's Score off for this cycle."""
    skipped: list[str] = []
    try:
        for pl in profile.plugins["preScore"]:
            s = pl.pre_score(state, pod, nodes)
            if s.is_skip():
                skipped.append(pl.name)
                continue
            if not s.is_success():
                return Status.error(f'running PreScore plugin "{pl.name}": {s.message}', pl.name)
    finally:
        state.skip_score_plugins = frozenset(skipped)
    return SUCCESS


class PluginScores:
    """One plugin's scores for the scored nodes, in node order: raw, normalized, weighted."""

    __slots__ = ("plugin", "weight", "raw", "normalized", "weighted")

    def __init__(self, plugin: str, weight: int, raw: np.ndarray, normalized: np.ndarray) -> None:
        self.plugin = plugin
        self.weight = weight
        self.raw = raw
        self.normalized = normalized
        self.weighted = normalized * weight


def run_scores(
    profile: Profile, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
) -> tuple[list[PluginScores], np.ndarray]:
    """Score every node with each Score plugin not skipped by PreScore, normalize, check the
    range [0, 100], weigh and sum (RunScorePlugins). Returns the per-plugin scores and the
    totals, both in the order of `nodes`."""
    n = len(nodes)
    index = node_index(nodes)
    out: list[PluginScores] = []
    totals = np.zeros(n, np.int64)
    for pl in profile.plugins["score"]:
        if pl.name in state.skip_score_plugins:
            continue
        batch = getattr(pl, "score_all", None)
        raw = batch(state, pod, nodes, index) if batch is not None else None
        if raw is None:
            raw = np.fromiter((pl.score(state, pod, ni) for ni in nodes), np.int64, n)
        raw = np.asarray(raw, np.int64)
        normalize = getattr(pl, "normalize_score", None)
        normalized = normalize(state, pod, raw.copy(), nodes) if normalize is not None else raw
        normalized = np.asarray(normalized, np.int64)
        if n and (normalized.max() > MAX_NODE_SCORE or normalized.min() < MIN_NODE_SCORE):
            bad = int(normalized[(normalized > MAX_NODE_SCORE) | (normalized < MIN_NODE_SCORE)][0])
            raise SchedulerError(
                f'applying score defaultWeights on Score plugins: plugin "{pl.name}" returns an '
                f"invalid score {bad}, it should in the range of [{MIN_NODE_SCORE}, "
                f"{MAX_NODE_SCORE}] after normalizing"
            )
        scores = PluginScores(pl.name, profile.weights.get(pl.name, 1), raw, normalized)
        totals += scores.weighted
        out.append(scores)
    return out, totals


def select_host(names: Sequence[str], totals: Sequence[int], rng: random.Random) -> str:
    """The node with the highest total; ties are broken by reservoir sampling over the tied
    nodes in order (the k-th replaces the pick with probability 1/k), as selectHost does.
    Raises SchedulerError on an empty list (upstream's errEmptyPriorityList)."""
    if len(names) == 0:
        raise SchedulerError("empty priorityList")
    return names[select_host_index(totals, rng)]


def select_host_index(totals: Sequence[int], rng: random.Random) -> int:
    """select_host on positions: the index of the chosen entry of `totals`."""
    totals = np.asarray(totals)
    tied = np.flatnonzero(totals == totals.max())
    if len(tied) == 1:
        return int(tied[0])
    # One draw per tied node after the first, in order: the k-th (k >= 2) takes over when
    # int(draw * k) == 0, i.e. with probability 1/k. The last to take over wins.
    draw = rng.random
    draws = np.array([draw() for _ in range(len(tied) - 1)])
    takes = np.flatnonzero((draws * np.arange(2, len(tied) + 1)).astype(np.int64) == 0)
    return int(tied[takes[-1] + 1] if len(takes) else tied[0])


class NodeToStatus:
    """Filter verdicts of the nodes that failed, plus the verdict of nodes absent from the map
    (those PreFilter ruled out, or preemption never examined)."""

    def __init__(
        self, statuses: Mapping[str, Status] | None = None, absent: Status | None = None
    ) -> None:
        self.statuses = dict(statuses or {})
        self.absent = absent or Status(Code.UnschedulableAndUnresolvable)

    def get(self, name: str) -> Status:
        return self.statuses.get(name, self.absent)

    def __len__(self) -> int:
        return len(self.statuses)

    def nodes_with_code(self, snapshot: Snapshot, code: Code) -> list[NodeInfo]:
        """Nodes (in snapshot order) whose verdict has `code`, absent ones included."""
        return [ni for ni in snapshot.node_infos if self.get(ni.name).code == code]


EVENT_MESSAGE_LIMIT = 1024  # validation.NoteLengthLimit


def truncate_event_message(message: str) -> str:
    """The FailedScheduling event's note: at most 1024 bytes, ending " ..." when cut (the
    PodScheduled condition keeps the whole text)."""
    data = message.encode()
    if len(data) <= EVENT_MESSAGE_LIMIT:
        return message
    return data[: EVENT_MESSAGE_LIMIT - 4].decode(errors="ignore") + " ..."


def fit_error_message(
    num_all_nodes: int,
    statuses: NodeToStatus,
    pre_filter_message: str = "",
    post_filter_message: str = "",
) -> str:
    """The FailedScheduling text (FitError.Error): `0/N nodes are available:` then the PreFilter
    message, or each distinct reason with its count sorted as strings; then the PostFilter
    message."""
    msg = f"0/{num_all_nodes} nodes are available:"
    if pre_filter_message:
        msg += f" {pre_filter_message}."
    else:
        counts: dict[str, int] = {}
        for status in statuses.statuses.values():
            for reason in status.reasons:
                counts[reason] = counts.get(reason, 0) + 1
        if len(statuses) < num_all_nodes:
            for reason in statuses.absent.reasons:
                counts[reason] = counts.get(reason, 0) + num_all_nodes - len(statuses)
        parts = sorted(f"{count} {reason}" for reason, count in counts.items())
        if parts:
            msg += f" {', '.join(parts)}."
    if post_filter_message:
        msg += f" {post_filter_message}"
    return msg


def run_reserve(profile: Profile, state: CycleState, pod: PodInfo, node_name: str) -> Status:
    """Run Reserve plugins in order; on failure run Unreserve in reverse and return it."""
    done = []
    for pl in profile.plugins["reserve"]:
        s = pl.reserve(state, pod, node_name)
        if not s.is_success():
            for prev in reversed(done + [pl]):
                unreserve = getattr(prev, "unreserve", None)
                if unreserve is not None:
                    unreserve(state, pod, node_name)
            return s.with_plugin(pl.name)
        done.append(pl)
    return SUCCESS


def run_permit(profile: Profile, state: CycleState, pod: PodInfo, node_name: str) -> Status:
    """Run Permit plugins: a rejection wins; otherwise Wait if any plugin waits."""
    waiting = None
    for pl in profile.plugins["permit"]:
        s = pl.permit(state, pod, node_name)
        if s.code == Code.Wait:
            waiting = waiting or s.with_plugin(pl.name)
        elif not s.is_success():
            return s.with_plugin(pl.name)
    return waiting or SUCCESS


def run_pre_bind(profile: Profile, state: CycleState, pod: PodInfo, node_name: str) -> Status:
    for pl in profile.plugins["preBind"]:
        s = pl.pre_bind(state, pod, node_name)
        if not s.is_success():
            return s.with_plugin(pl.name)
    return SUCCESS


def run_bind(profile: Profile, state: CycleState, pod: PodInfo, node_name: str) -> Status:
    """Run Bind plugins until one does not Skip."""
    for pl in profile.plugins["bind"]:
        s = pl.bind(state, pod, node_name)
        if s.is_skip():
            continue
        return s if s.is_success() else s.with_plugin(pl.name)
    return Status(Code.Skip)


def sort_key_more_important(pod: PodInfo) -> tuple[int, float]:
    """Sort key putting more important pods first: higher priority, then earlier start."""
    return (-pod.priority, pod.start_time)
