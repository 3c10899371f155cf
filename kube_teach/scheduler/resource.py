"""Request accounting: quantities as exact nano-units, Resource in the units the scheduler
compares, and a pod's total requests (containers, sidecars, init containers, pod-level requests,
overhead). Semantics: component-helpers' resource (PodRequests), framework/types.go (Resource),
scheduler/util's non-zero defaults (100m, 200Mi) and v1helper's resource-name predicates.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kube_teach.api.names import is_qualified_name
from kube_teach.api.quantity import Quantity

DEFAULT_MILLI_CPU_REQUEST = 100  # 0.1 core, for pods without a cpu request (scoring only)
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024  # 200Mi, likewise


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
