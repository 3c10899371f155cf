"""Chapter 12's exercises: what an eviction threshold means in bytes, the fastest writer the
eviction manager is sure to catch, and a node's allocatable ephemeral storage.

The right answers come from the library itself: thresholds from kube_teach.kubelet.eviction
(GetThresholdQuantity, with its float32 percentages), the monitoring interval from
kube_teach.kubelet.eviction_manager, and allocatable from kube_teach.kubelet.allocatable, so
the exercises cannot drift from what the simulated kubelet does.
"""

from __future__ import annotations

from typing import Any

from ..api.quantity import Quantity
from ..kubelet.allocatable import node_allocatable
from ..kubelet.eviction import parse_threshold_statement, threshold_quantity
from ..kubelet.eviction_manager import MONITORING_INTERVAL
from ..sim.duration import SECOND, to_ns
from .check import register
from .exercises import _call, _graded

# Percentages are float32 in the kubelet: 10% of 100Gi is 10737418400 bytes, not 10737418240.
# An answer within a millionth of the kubelet's number is right.
TOLERANCE = 1e-6


def threshold_bytes(capacity: str, value: str) -> int:
    """The kubelet's own number: `nodefs.available<value` on a filesystem of `capacity`."""
    threshold = parse_threshold_statement("nodefs.available", value)
    if threshold is None:
        return 0
    return threshold_quantity(threshold.value, capacity).value()


def monitoring_interval() -> float:
    """The eviction manager's period in seconds (10 s)."""
    return to_ns(MONITORING_INTERVAL) / SECOND


def _bytes(got: Any) -> float | None:
    """An answer as a number of bytes: an int or float, or a quantity string."""
    if isinstance(got, str):
        try:
            return Quantity(got).value()
        except ValueError:
            return None
    if isinstance(got, bool) or not isinstance(got, int | float):
        return None
    return got


def _close(got: float, want: float) -> bool:
    return abs(got - want) <= TOLERANCE * max(abs(want), 1)


# (capacity, nodefs.available threshold, why)
_THRESHOLDS = [
    ("100Gi", "10%", "the seed's evictionHard nodefs.available: a tenth of the disk"),
    ("100Gi", "15%", "imagefs.available's default, and the seed's evictionSoft"),
    ("100Gi", "15Gi", "a quantity is taken as it is, whatever the disk"),
    ("500Gi", "10%", "a percentage scales with the disk"),
    ("20Gi", "5%", "a small disk keeps only 1Gi"),
    ("1Ti", "2Gi", "a quantity again: 2Gi of a terabyte"),
    ("100G", "10%", "decimal units: 10 GB of 100 GB"),
]


@register(
    "12-threshold-bytes",
    hint="replace `raise NotImplementedError` in threshold_bytes: a percentage is that fraction "
    "of the capacity, a quantity is itself (Quantity(text).value() gives bytes).",
)
@_graded
def threshold_exercise(answer: Any) -> str | None:
    """`threshold_bytes(capacity, value) -> int`: the bytes `nodefs.available<value` keeps free."""
    if not callable(answer):
        return f"pass the function itself: check('12-threshold-bytes', threshold_bytes), not {answer!r}."
    for capacity, value, why in _THRESHOLDS:
        want = threshold_bytes(capacity, value)
        label = f"threshold_bytes({capacity!r}, {value!r})"
        got = _bytes(_call(answer, label, capacity, value))
        if got is None:
            return f"{label} did not return bytes: return an int (or a quantity string)."
        if not _close(got, want):
            return f"{label} returned {got!r}, but the kubelet keeps {want} bytes free: {why}."
    return None


def safe_log_rate(capacity: str, value: str) -> float:
    """Bytes per second below which a writer cannot cross the threshold's margin between two
    eviction-manager cycles: the margin divided by the monitoring interval."""
    return threshold_bytes(capacity, value) / monitoring_interval()


# (capacity, threshold, why)
_RATES = [
    ("100Gi", "15%", "the seed's node: imagefs.available<15% is met first on a shared disk"),
    ("100Gi", "10%", "nodefs.available<10% alone: 10Gi in 10 s"),
    ("500Gi", "10%", "a bigger disk buys a faster writer"),
    ("100Gi", "1Gi", "a thin margin: 1Gi in 10 s"),
]


@register(
    "12-safe-log-rate",
    hint="replace `raise NotImplementedError` in safe_log_rate: the eviction manager looks every "
    "10 s; a writer slower than (threshold bytes) / 10 s is always seen inside the margin.",
)
@_graded
def rate_exercise(answer: Any) -> str | None:
    """`safe_log_rate(capacity, threshold) -> float`: bytes/s the kubelet is sure to catch."""
    if not callable(answer):
        return (
            f"pass the function itself: check('12-safe-log-rate', safe_log_rate), not {answer!r}."
        )
    for capacity, value, why in _RATES:
        want = safe_log_rate(capacity, value)
        label = f"safe_log_rate({capacity!r}, {value!r})"
        got = _bytes(_call(answer, label, capacity, value))
        if got is None:
            return f"{label} did not return a number of bytes per second."
        if not _close(got, want):
            interval = monitoring_interval()
            return (
                f"{label} returned {got!r}, but it is {want:.0f} bytes/s: {why} "
                f"(the eviction manager runs every {interval:g} s)."
            )
    return None


def allocatable_storage(capacity: str, system: str, kube: str, nodefs: str) -> int:
    """status.allocatable's ephemeral-storage: capacity - reservations - nodefs hard threshold."""
    reserved = {"ephemeral-storage": system}, {"ephemeral-storage": kube}
    hard = {"nodefs.available": nodefs} if nodefs not in ("0", "0%") else None
    return node_allocatable({"ephemeral-storage": capacity}, *reserved, hard)[
        "ephemeral-storage"
    ].value()


# (capacity, system-reserved, kube-reserved, nodefs.available, why)
_ALLOCATABLE = [
    ("100Gi", "10Gi", "0", "10%", "the seed's fix: 100Gi - 10Gi reserved - 10% threshold"),
    ("100Gi", "0", "0", "10%", "nothing reserved: only the threshold is held back"),
    ("100Gi", "10Gi", "5Gi", "10Gi", "both reservations and a quantity threshold"),
    ("500Gi", "10Gi", "0", "10%", "the percentage is of the capacity, not of what is left"),
    ("50Gi", "30Gi", "20Gi", "10%", "reservations beyond capacity: allocatable stops at 0"),
]


@register(
    "12-allocatable-storage",
    hint="replace `raise NotImplementedError` in allocatable_storage: capacity minus "
    "system-reserved minus kube-reserved minus the nodefs.available hard threshold (a "
    "percentage is of the capacity), in bytes, never below 0.",
)
@_graded
def allocatable_exercise(answer: Any) -> str | None:
    """`allocatable_storage(capacity, system_reserved, kube_reserved, nodefs) -> int` bytes."""
    if not callable(answer):
        return (
            "pass the function itself: check('12-allocatable-storage', allocatable_storage), "
            f"not {answer!r}."
        )
    for capacity, system, kube, nodefs, why in _ALLOCATABLE:
        want = allocatable_storage(capacity, system, kube, nodefs)
        label = f"allocatable_storage({capacity!r}, {system!r}, {kube!r}, {nodefs!r})"
        got = _bytes(_call(answer, label, capacity, system, kube, nodefs))
        if got is None:
            return f"{label} did not return bytes: return an int (or a quantity string)."
        if not _close(got, want):
            return f"{label} returned {got!r}, but allocatable is {want} bytes: {why}."
    return None
