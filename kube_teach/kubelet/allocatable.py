"""Node allocatable: what is left for pods once the system, the kubelet and the hard eviction
thresholds have taken their share of capacity.

Semantics: pkg/kubelet/cm/node_container_manager_linux.go (GetNodeAllocatableReservation,
GetNodeAllocatableAbsolute, hardEvictionReservation, validateNodeAllocatable) and the
kubelet's node-status setter that publishes `status.allocatable` (negatives clamp to 0,
huge pages come out of memory).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kube_teach.api.quantity import Quantity

from .eviction import (
    SIGNAL_MEMORY_AVAILABLE,
    SIGNAL_NODEFS_AVAILABLE,
    Threshold,
    parse_threshold_config,
    threshold_quantity,
)

ResourceList = Mapping[str, Any]


class NodeAllocatableError(ValueError):
    """Reservations larger than capacity; the kubelet refuses to start with this message."""


def _quantities(resources: ResourceList | None) -> dict[str, Quantity]:
    return {name: Quantity(value) for name, value in (resources or {}).items()}


def _hard_thresholds(
    eviction_hard: Mapping[str, str] | str | Iterable[Threshold] | None,
) -> list[Threshold]:
    if eviction_hard is None:
        return []
    if isinstance(eviction_hard, Mapping | str):
        return parse_threshold_config(eviction_hard)
    return [t for t in eviction_hard if t.grace_period_ns == 0]


def hard_eviction_reservation(
    eviction_hard: Mapping[str, str] | str | Iterable[Threshold] | None,
    capacity: ResourceList,
) -> dict[str, Quantity]:
    """What the hard eviction thresholds hold back: `memory.available` from memory,
    `nodefs.available` from ephemeral-storage; percentages are taken of that capacity."""
    capacity_q = _quantities(capacity)
    reserved: dict[str, Quantity] = {}
    for threshold in _hard_thresholds(eviction_hard):
        if threshold.signal == SIGNAL_MEMORY_AVAILABLE:
            resource = "memory"
        elif threshold.signal == SIGNAL_NODEFS_AVAILABLE:
            resource = "ephemeral-storage"
        else:
            continue
        reserved[resource] = threshold_quantity(threshold.value, capacity_q.get(resource))
    return reserved


def node_allocatable_reservation(
    capacity: ResourceList,
    system_reserved: ResourceList | None = None,
    kube_reserved: ResourceList | None = None,
    eviction_hard: Mapping[str, str] | str | Iterable[Threshold] | None = None,
) -> dict[str, Quantity]:
    """Per resource of `capacity`: system-reserved + kube-reserved + hard eviction threshold.
    Resources whose reservation is zero are left out, as upstream leaves them out."""
    system, kube = _quantities(system_reserved), _quantities(kube_reserved)
    eviction = hard_eviction_reservation(eviction_hard, capacity)
    result: dict[str, Quantity] = {}
    for name in capacity:
        total = Quantity(0)
        for part in (system, kube, eviction):
            if name in part:
                total = total + part[name]
        if not total.is_zero():
            result[name] = total
    return result


def node_allocatable(
    capacity: ResourceList,
    system_reserved: ResourceList | None = None,
    kube_reserved: ResourceList | None = None,
    eviction_hard: Mapping[str, str] | str | Iterable[Threshold] | None = None,
) -> dict[str, Quantity]:
    """`status.allocatable` as the kubelet publishes it, per resource of `capacity`.

    allocatable = capacity - system-reserved - kube-reserved - hard eviction threshold
    (memory.available for memory, nodefs.available for ephemeral-storage; cpu and pods have
    none), never below zero, and memory further reduced by every `hugepages-*` capacity.
    `eviction_hard` is the kubelet's evictionHard map (`{"memory.available": "100Mi"}`), the
    flag text (`"memory.available<100Mi,nodefs.available<10%"`) or parsed thresholds; None
    means no threshold (pass `eviction.DEFAULT_EVICTION_HARD` for the kubelet's defaults).

    The seed's 16 GB node: capacity memory "16Gi", `systemReserved: {memory: 1Gi}`,
    `kubeReserved: {memory: 1Gi}`, `evictionHard: {memory.available: 500Mi}` gives 13836Mi
    (13.51 GiB); with decimal units ("16G", "1G", "1G", "500M") it is exactly 13500M.
    """
    reservation = node_allocatable_reservation(
        capacity, system_reserved, kube_reserved, eviction_hard
    )
    capacity_q = _quantities(capacity)
    result: dict[str, Quantity] = {}
    for name, value in capacity_q.items():
        if name in reservation:
            value = value - reservation[name]
        result[name] = value if value >= 0 else Quantity(0)
    if "memory" in result:
        for name, value in capacity_q.items():
            if name.startswith("hugepages-"):
                memory = result["memory"] - value
                result["memory"] = memory if memory >= 0 else Quantity(0)
    return result


def node_allocatable_absolute(
    capacity: ResourceList,
    system_reserved: ResourceList | None = None,
    kube_reserved: ResourceList | None = None,
) -> dict[str, Quantity]:
    """The limit written on the `kubepods` cgroup when `enforceNodeAllocatable` has "pods":
    capacity minus system- and kube-reserved only (eviction thresholds stay inside it, so
    the kubelet can still evict before the cgroup limit OOM-kills), clamped at zero."""
    system, kube = _quantities(system_reserved), _quantities(kube_reserved)
    result: dict[str, Quantity] = {}
    for name, value in _quantities(capacity).items():
        for part in (system, kube):
            if name in part:
                value = value - part[name]
        result[name] = value if value >= 0 else Quantity(0)
    return result


def validate_node_allocatable(
    capacity: ResourceList,
    system_reserved: ResourceList | None = None,
    kube_reserved: ResourceList | None = None,
    eviction_hard: Mapping[str, str] | str | Iterable[Threshold] | None = None,
) -> None:
    """Raise NodeAllocatableError when a reservation exceeds its capacity, with the
    kubelet's start-up message. (Upstream prints the quantities with Go's %v of a value,
    which shows the raw struct; here they print as quantities.)"""
    capacity_q = _quantities(capacity)
    problems = []
    for name, reserved in node_allocatable_reservation(
        capacity, system_reserved, kube_reserved, eviction_hard
    ).items():
        have = capacity_q.get(name, Quantity(0))
        if have - reserved < 0:
            problems.append(
                f'Resource "{name}" has a reservation of {reserved} but capacity of {have}. '
                "Expected capacity >= reservation."
            )
    if problems:
        raise NodeAllocatableError("invalid Node Allocatable configuration. " + " ".join(problems))
