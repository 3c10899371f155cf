"""Node-pressure eviction thresholds: signals, evictionHard/Soft parsing and defaults, what
the Summary API stats observe, which thresholds are met, and the node conditions and taints.

Semantics: pkg/kubelet/eviction (api/types.go, helpers.go, defaults_linux.go) and the taints
node-lifecycle puts on pressured nodes. Times: seconds or Go durations outside, ns inside.
"""

from __future__ import annotations

import datetime
import importlib
import math
import re
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from kube_teach.api.quantity import Quantity, QuantityError
from kube_teach.sim.duration import DurationError, parse_duration, to_ns

SIGNAL_MEMORY_AVAILABLE = "memory.available"
SIGNAL_ALLOCATABLE_MEMORY_AVAILABLE = "allocatableMemory.available"
SIGNAL_NODEFS_AVAILABLE = "nodefs.available"
SIGNAL_NODEFS_INODES_FREE = "nodefs.inodesFree"
SIGNAL_IMAGEFS_AVAILABLE = "imagefs.available"
SIGNAL_IMAGEFS_INODES_FREE = "imagefs.inodesFree"
SIGNAL_CONTAINERFS_AVAILABLE = "containerfs.available"
SIGNAL_CONTAINERFS_INODES_FREE = "containerfs.inodesFree"
SIGNAL_PID_AVAILABLE = "pid.available"
OP_LESS_THAN = "LessThan"

MEMORY_PRESSURE, DISK_PRESSURE, PID_PRESSURE = "MemoryPressure", "DiskPressure", "PIDPressure"
RESOURCE_INODES, RESOURCE_PIDS = "inodes", "pids"  # internal to the eviction manager

SIGNAL_TO_NODE_CONDITION = {
    SIGNAL_MEMORY_AVAILABLE: MEMORY_PRESSURE,
    SIGNAL_ALLOCATABLE_MEMORY_AVAILABLE: MEMORY_PRESSURE,
    SIGNAL_IMAGEFS_AVAILABLE: DISK_PRESSURE,
    SIGNAL_CONTAINERFS_AVAILABLE: DISK_PRESSURE,
    SIGNAL_NODEFS_AVAILABLE: DISK_PRESSURE,
    SIGNAL_IMAGEFS_INODES_FREE: DISK_PRESSURE,
    SIGNAL_NODEFS_INODES_FREE: DISK_PRESSURE,
    SIGNAL_CONTAINERFS_INODES_FREE: DISK_PRESSURE,
    SIGNAL_PID_AVAILABLE: PID_PRESSURE,
}
SIGNAL_TO_RESOURCE = {
    SIGNAL_MEMORY_AVAILABLE: "memory",
    SIGNAL_ALLOCATABLE_MEMORY_AVAILABLE: "memory",
    SIGNAL_IMAGEFS_AVAILABLE: "ephemeral-storage",
    SIGNAL_IMAGEFS_INODES_FREE: RESOURCE_INODES,
    SIGNAL_CONTAINERFS_AVAILABLE: "ephemeral-storage",
    SIGNAL_CONTAINERFS_INODES_FREE: RESOURCE_INODES,
    SIGNAL_NODEFS_AVAILABLE: "ephemeral-storage",
    SIGNAL_NODEFS_INODES_FREE: RESOURCE_INODES,
    SIGNAL_PID_AVAILABLE: RESOURCE_PIDS,
}
# The node-lifecycle controller turns each pressure condition into a NoSchedule taint.
NODE_CONDITION_TO_TAINT = {
    MEMORY_PRESSURE: {"key": "node.kubernetes.io/memory-pressure", "effect": "NoSchedule"},
    DISK_PRESSURE: {"key": "node.kubernetes.io/disk-pressure", "effect": "NoSchedule"},
    PID_PRESSURE: {"key": "node.kubernetes.io/pid-pressure", "effect": "NoSchedule"},
}
# Linux defaults for evictionHard; setting evictionHard at all replaces the whole map.
DEFAULT_EVICTION_HARD = {
    "memory.available": "100Mi",
    "nodefs.available": "10%",
    "nodefs.inodesFree": "5%",
    "imagefs.available": "15%",
}
DEFAULT_PRESSURE_TRANSITION_PERIOD = "5m"


class EvictionConfigError(ValueError):
    """An eviction flag the kubelet rejects at start-up; the message is upstream's."""


# -- thresholds (api/types.go) ------------------------------------------------------------------
def _f32(x: float) -> float:
    """Round to float32, as Go's float32 does; percentages are float32 upstream."""
    try:
        return struct.unpack("f", struct.pack("f", x))[0]
    except OverflowError:
        return math.copysign(math.inf, x)


def binary_si(n: int) -> Quantity:
    """resource.NewQuantity(n, BinarySI): bytes that print as "50Mi" when they can."""
    one = Quantity("1Ki")  # a non-zero BinarySI receiver keeps its format through + and -
    return one + n - one


@dataclass(frozen=True)
class ThresholdValue:
    """A literal quantity, or a fraction (float32, 0.1 for "10%") of the signal's capacity."""

    quantity: Quantity | None = None
    percentage: float = 0.0

    def __str__(self) -> str:
        if self.quantity is not None:
            return str(self.quantity)
        return f"{self.percentage * 100:g}%"


@dataclass(frozen=True)
class Threshold:
    """One eviction threshold: signal < value, met for `grace_period_ns` (0 = hard)."""

    signal: str
    value: ThresholdValue
    operator: str = OP_LESS_THAN
    grace_period_ns: int = 0
    min_reclaim: ThresholdValue | None = None

    @property
    def grace_period(self) -> float:
        """The grace period in seconds."""
        return self.grace_period_ns / 1e9

    @property
    def hard(self) -> bool:
        """Hard thresholds evict at once (isHardEvictionThreshold)."""
        return self.grace_period_ns == 0


def threshold_quantity(value: ThresholdValue, capacity: Quantity | str | int | None) -> Quantity:
    """The threshold in units of the signal (GetThresholdQuantity): the quantity itself, or
    int64(float64(capacity) * float64(float32 percentage)) as BinarySI. The float32 shows:
    5% of 10Gi is 536870920, not 536870912."""
    if value.quantity is not None:
        return value.quantity
    cap = Quantity(capacity).value() if capacity is not None else 0
    return binary_si(int(float(cap) * value.percentage))


def threshold_values_equal(a: ThresholdValue, b: ThresholdValue) -> bool:
    """compareThresholdValue: quantities by value, else percentages."""
    if a.quantity is not None or b.quantity is not None:
        return a.quantity is not None and b.quantity is not None and a.quantity == b.quantity
    return a.percentage == b.percentage


# -- parsing (ParseThresholdConfig) ---------------------------------------------------------------
def _as_map(value: Mapping[str, str] | str | None, sep: str) -> dict[str, str]:
    """A KubeletConfiguration map, or the flag text `k<v,k2<v2` (`k=v` for grace periods)."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    result: dict[str, str] = {}
    for pair in value.split(","):
        if not pair.strip():
            continue
        key, found, val = pair.partition(sep)
        if not found:
            raise EvictionConfigError(f"malformed pair, expect string{sep}string")
        result[key.strip()] = val.strip()
    return result


def _valid_signal(signal: str) -> None:
    if signal not in SIGNAL_TO_RESOURCE:
        raise EvictionConfigError(f"unsupported eviction signal {signal}")


def parse_percentage(text: str) -> float:
    """ "10%" -> 0.1 as float32 (strconv.ParseFloat(.., 32) / 100); every trailing % goes."""
    number = text.rstrip("%")
    if not re.fullmatch(r"[+-]?(inf|infinity|nan|(\d+\.?\d*|\.\d+)(e[+-]?\d+)?)", number, re.I):
        raise EvictionConfigError(f'strconv.ParseFloat: parsing "{number}": invalid syntax')
    parsed = float(number)
    value = _f32(parsed)
    if math.isinf(value) and not math.isinf(parsed):
        raise EvictionConfigError(f'strconv.ParseFloat: parsing "{number}": value out of range')
    return _f32(value / 100)


def _quantity(text: str) -> Quantity:
    try:
        return Quantity(text)
    except QuantityError as err:
        raise EvictionConfigError(str(err)) from None


def parse_threshold_statement(signal: str, value: str) -> Threshold | None:
    """One `signal<value` statement; None for "0%" and "100%", which upstream ignores."""
    _valid_signal(signal)
    if value.endswith("%"):
        if value in ("0%", "100%"):
            return None
        percentage = parse_percentage(value)
        if percentage < 0:
            raise EvictionConfigError(
                f"eviction percentage threshold {signal} must be >= 0%: {value}"
            )
        if percentage > 1:
            raise EvictionConfigError(
                f"eviction percentage threshold {signal} must be <= 100%: {value}"
            )
        return Threshold(signal, ThresholdValue(percentage=percentage))
    quantity = _quantity(value)
    if quantity <= 0:
        raise EvictionConfigError(f"eviction threshold {signal} must be positive: {quantity}")
    return Threshold(signal, ThresholdValue(quantity=quantity))


def _grace_periods(statements: dict[str, str]) -> dict[str, int]:
    result = {}
    for signal, text in statements.items():
        _valid_signal(signal)
        try:
            period = parse_duration(text)
        except DurationError as err:
            raise EvictionConfigError(str(err)) from None
        if period < 0:
            raise EvictionConfigError(
                f"invalid eviction grace period specified: {text}, must be a positive value"
            )
        result[signal] = period
    return result


def _minimum_reclaims(statements: dict[str, str]) -> dict[str, ThresholdValue]:
    result = {}
    for signal, text in statements.items():
        _valid_signal(signal)
        if text.endswith("%"):
            percentage = parse_percentage(text)
            if percentage <= 0:
                raise EvictionConfigError(
                    f"eviction percentage minimum reclaim {signal} must be positive: {text}"
                )
            result[signal] = ThresholdValue(percentage=percentage)
            continue
        quantity = _quantity(text)
        if quantity < 0:
            raise EvictionConfigError(f"negative eviction minimum reclaim specified for {signal}")
        result[signal] = ThresholdValue(quantity=quantity)
    return result


def parse_threshold_config(
    eviction_hard: Mapping[str, str] | str | None,
    eviction_soft: Mapping[str, str] | str | None = None,
    eviction_soft_grace_period: Mapping[str, str] | str | None = None,
    eviction_minimum_reclaim: Mapping[str, str] | str | None = None,
    allocatable_config: Iterable[str] = (),
) -> list[Threshold]:
    """The kubelet's thresholds from its evictionHard, evictionSoft, evictionSoftGracePeriod
    and evictionMinimumReclaim settings (maps, or flag text `memory.available<100Mi,...` and
    `memory.available=1m30s,...`): hard thresholds first, then soft ones, in input order.
    Every soft threshold needs a grace period. With "pods" in `allocatable_config`
    (enforceNodeAllocatable) each hard memory.available threshold is copied to
    allocatableMemory.available. Raises EvictionConfigError with the kubelet's messages.
    """
    hard = [
        t
        for s, v in _as_map(eviction_hard, "<").items()
        if (t := parse_threshold_statement(s, v)) is not None
    ]
    soft = [
        t
        for s, v in _as_map(eviction_soft, "<").items()
        if (t := parse_threshold_statement(s, v)) is not None
    ]
    periods = _grace_periods(_as_map(eviction_soft_grace_period, "="))
    reclaims = _minimum_reclaims(_as_map(eviction_minimum_reclaim, "="))
    for i, threshold in enumerate(soft):
        if threshold.signal not in periods:
            raise EvictionConfigError(
                f"grace period must be specified for the soft eviction threshold {threshold.signal}"
            )
        soft[i] = replace(threshold, grace_period_ns=periods[threshold.signal])
    results = [
        replace(t, min_reclaim=reclaims[t.signal]) if t.signal in reclaims else t
        for t in hard + soft
    ]
    if "pods" in allocatable_config:
        results += [
            replace(t, signal=SIGNAL_ALLOCATABLE_MEMORY_AVAILABLE, grace_period_ns=0)
            for t in results
            if t.signal == SIGNAL_MEMORY_AVAILABLE and t.hard
        ]
    return results


def eviction_hard_with_defaults(
    eviction_hard: Mapping[str, str] | None, *, merge_defaults: bool = False
) -> dict[str, str]:
    """KubeletConfiguration defaulting: no evictionHard means DEFAULT_EVICTION_HARD; a given map
    replaces the defaults unless `mergeDefaultEvictionSettings` (1.33+) fills missing keys."""
    if eviction_hard is None:
        return dict(DEFAULT_EVICTION_HARD)
    if merge_defaults:
        return {**DEFAULT_EVICTION_HARD, **eviction_hard}
    return dict(eviction_hard)


# -- observations (makeSignalObservations) --------------------------------------------------------
@dataclass(frozen=True)
class SignalObservation:
    """What a signal measured: `available` and `capacity` quantities, and when (ns, optional)."""

    available: Quantity
    capacity: Quantity | None = None
    time: int | None = None


def _time(stats: Mapping[str, Any]) -> int | None:
    """A stats timestamp in ns: seconds, or RFC 3339 text as the Summary API writes it."""
    value = stats.get("time")
    if value is None:
        return None
    if isinstance(value, str) and "T" in value:
        stamp = datetime.datetime.fromisoformat(value)
        return int(stamp.timestamp()) * 1_000_000_000 + stamp.microsecond * 1000
    return to_ns(value)


def _fs_observations(fs: Mapping[str, Any] | None, bytes_signal: str, inodes_signal: str) -> dict:
    out: dict[str, SignalObservation] = {}
    if not fs:
        return out
    if fs.get("availableBytes") is not None and fs.get("capacityBytes") is not None:
        out[bytes_signal] = SignalObservation(
            binary_si(fs["availableBytes"]), binary_si(fs["capacityBytes"]), _time(fs)
        )
    if fs.get("inodesFree") is not None and fs.get("inodes") is not None:
        out[inodes_signal] = SignalObservation(
            Quantity(fs["inodesFree"]), Quantity(fs["inodes"]), _time(fs)
        )
    return out


def make_signal_observations(summary: Mapping[str, Any]) -> dict[str, SignalObservation]:
    """Signal -> observation from a kubelet Summary API dict (`/stats/summary` JSON):
    memory.available = node memory availableBytes over capacity availableBytes +
    workingSetBytes; allocatableMemory.available from the "pods" system container; nodefs from
    node.fs, imagefs and containerfs from node.runtime; pid.available = maxpid - curproc."""
    node = summary.get("node") or {}
    out: dict[str, SignalObservation] = {}
    memory = node.get("memory") or {}
    if memory.get("availableBytes") is not None and memory.get("workingSetBytes") is not None:
        out[SIGNAL_MEMORY_AVAILABLE] = SignalObservation(
            binary_si(memory["availableBytes"]),
            binary_si(memory["availableBytes"] + memory["workingSetBytes"]),
            _time(memory),
        )
    for container in node.get("systemContainers") or []:
        if container.get("name") != "pods":
            continue
        pods_memory = container.get("memory") or {}
        if (
            pods_memory.get("availableBytes") is not None
            and pods_memory.get("workingSetBytes") is not None
        ):
            out[SIGNAL_ALLOCATABLE_MEMORY_AVAILABLE] = SignalObservation(
                binary_si(pods_memory["availableBytes"]),
                binary_si(pods_memory["availableBytes"] + pods_memory["workingSetBytes"]),
                _time(pods_memory),
            )
    out |= _fs_observations(node.get("fs"), SIGNAL_NODEFS_AVAILABLE, SIGNAL_NODEFS_INODES_FREE)
    runtime = node.get("runtime") or {}
    out |= _fs_observations(
        runtime.get("imageFs"), SIGNAL_IMAGEFS_AVAILABLE, SIGNAL_IMAGEFS_INODES_FREE
    )
    out |= _fs_observations(
        runtime.get("containerFs"), SIGNAL_CONTAINERFS_AVAILABLE, SIGNAL_CONTAINERFS_INODES_FREE
    )
    rlimit = node.get("rlimit") or {}
    if rlimit.get("maxpid") is not None and rlimit.get("curproc") is not None:
        out[SIGNAL_PID_AVAILABLE] = SignalObservation(
            Quantity(rlimit["maxpid"] - rlimit["curproc"]),
            Quantity(rlimit["maxpid"]),
            _time(rlimit),
        )
    return out


# -- thresholds met, grace periods, node conditions ---------------------------------------------
def thresholds_met(
    thresholds: Iterable[Threshold],
    observations: Mapping[str, SignalObservation],
    enforce_min_reclaim: bool = False,
) -> list[Threshold]:
    """Thresholds whose signal is below its value (value + minimum reclaim when enforcing),
    ignoring grace periods. A signal without an observation is never met."""
    met = []
    for threshold in thresholds:
        observed = observations.get(threshold.signal)
        if observed is None:
            continue
        quantity = threshold_quantity(threshold.value, observed.capacity)
        if enforce_min_reclaim and threshold.min_reclaim is not None:
            quantity = quantity + threshold_quantity(threshold.min_reclaim, observed.capacity)
        if threshold.operator == OP_LESS_THAN and quantity > observed.available:
            met.append(threshold)
    return met


def merge_thresholds(a: Iterable[Threshold], b: Iterable[Threshold]) -> list[Threshold]:
    """`a` followed by the thresholds of `b` not already in it (by signal, operator, grace and
    value; minimum reclaim is not compared, as upstream)."""
    result = list(a)
    for t in b:
        if not any(
            u.grace_period_ns == t.grace_period_ns
            and u.operator == t.operator
            and u.signal == t.signal
            and threshold_values_equal(u.value, t.value)
            for u in result
        ):
            result.append(t)
    return result


def thresholds_first_observed_at(
    thresholds: Iterable[Threshold], last: Mapping[Threshold, int], now_ns: int
) -> dict[Threshold, int]:
    """When each currently met threshold was first met: its earlier time, or now."""
    return {t: last.get(t, now_ns) for t in thresholds}


def thresholds_met_grace_period(observed_at: Mapping[Threshold, int], now_ns: int) -> list:
    """Thresholds met for at least their grace period."""
    return [t for t, at in observed_at.items() if now_ns - at >= t.grace_period_ns]


def thresholds_updated_stats(
    thresholds: Iterable[Threshold],
    observations: Mapping[str, SignalObservation],
    last: Mapping[str, SignalObservation],
) -> list[Threshold]:
    """Thresholds whose signal has a newer observation than the last sync (or no time)."""
    result = []
    for t in thresholds:
        observed = observations.get(t.signal)
        if observed is None:
            continue
        previous = last.get(t.signal)
        if previous is None or observed.time is None or observed.time > (previous.time or 0):
            result.append(t)
    return result


def node_conditions(thresholds: Iterable[Threshold]) -> list[str]:
    """The pressure conditions the thresholds' signals map to, each once, in order."""
    result: list[str] = []
    for t in thresholds:
        condition = SIGNAL_TO_NODE_CONDITION.get(t.signal)
        if condition and condition not in result:
            result.append(condition)
    return result


def node_conditions_last_observed_at(
    conditions: Iterable[str], last: Mapping[str, int], now_ns: int
) -> dict[str, int]:
    """Conditions seen now get `now`; the others keep their last time."""
    result = {c: now_ns for c in conditions}
    for c, at in last.items():
        result.setdefault(c, at)
    return result


def node_conditions_observed_since(
    observed_at: Mapping[str, int], period_ns: int, now_ns: int
) -> list[str]:
    """Conditions seen within the pressure transition period: they stay True that long."""
    return [c for c, at in observed_at.items() if now_ns - at < period_ns]


def sort_by_eviction_priority(thresholds: Sequence[Threshold]) -> list[Threshold]:
    """Memory signals first, signals with no resource to reclaim last (byEvictionPriority)."""

    def rank(t: Threshold) -> int:
        if t.signal in (SIGNAL_MEMORY_AVAILABLE, SIGNAL_ALLOCATABLE_MEMORY_AVAILABLE):
            return 0
        return 1 if t.signal in SIGNAL_TO_RESOURCE else 2

    return sorted(thresholds, key=rank)


def taints_for_conditions(conditions: Iterable[str]) -> list[dict[str, str]]:
    """The NoSchedule taints node-lifecycle adds for the node's pressure conditions."""
    return [dict(NODE_CONDITION_TO_TAINT[c]) for c in conditions if c in NODE_CONDITION_TO_TAINT]


def update_container_fs_thresholds(
    thresholds: Sequence[Threshold], image_fs: bool, split_image_fs: bool
) -> list[Threshold]:
    """containerfs.* thresholds copied from nodefs (one filesystem, or images and containers
    both split off) or imagefs (a dedicated image filesystem). As upstream, a missing source
    still adds a threshold, with an empty operator, that can never be met."""
    if image_fs and not split_image_fs:
        sources = (SIGNAL_IMAGEFS_AVAILABLE, SIGNAL_IMAGEFS_INODES_FREE)
    elif image_fs == split_image_fs:
        sources = (SIGNAL_NODEFS_AVAILABLE, SIGNAL_NODEFS_INODES_FREE)
    else:
        return list(thresholds)
    result = list(thresholds)
    targets = (SIGNAL_CONTAINERFS_AVAILABLE, SIGNAL_CONTAINERFS_INODES_FREE)
    for target, source in zip(targets, sources, strict=True):
        for hard in (True, False):
            src = next(
                (t for t in reversed(thresholds) if t.signal == source and t.hard == hard),
                Threshold("", ThresholdValue(), operator=""),
            )
            new = replace(src, signal=target)
            at = next(
                (i for i, t in enumerate(result) if t.signal == target and t.hard == hard), None
            )
            if at is None:
                result.append(new)
            else:
                result[at] = new
    return result


# -- names that moved to the modules split off from this one -------------------------------------

# Each of these modules imports this one, so their names are loaded on first use (PEP 562):
# `from kube_teach.kubelet.eviction import EvictionManager` keeps working without an import cycle.
_MOVED = {
    "eviction_rank": (
        "Pod", "PodStats", "StatsFunc", "Cmp", "FS_STATS_ROOT", "FS_STATS_LOGS",
        "FS_STATS_LOCAL_VOLUME_SOURCE", "FS_STATS_IMAGES", "ALL_FS_STATS", "stats_func",
        "memory_usage", "pod_disk_usage", "rank_memory_pressure", "rank_disk_pressure",
        "rank_pid_pressure", "build_signal_to_rank_func", "build_signal_to_node_reclaim_funcs",
        "REASON", "NODE_LOW_MESSAGE", "NODE_CONDITION_MESSAGE", "THRESHOLD_MET_MESSAGE",
        "CONTAINER_MESSAGE", "POD_MESSAGE", "CONTAINER_EPHEMERAL_STORAGE_MESSAGE",
        "POD_EPHEMERAL_STORAGE_MESSAGE", "EMPTY_DIR_MESSAGE", "eviction_message",
    ),
    "eviction_manager": (
        "MONITORING_INTERVAL", "IMMEDIATE_EVICTION_GRACE_PERIOD_SECONDS", "local_storage_eviction",
        "AdmitResult", "admit", "Eviction", "SyncResult", "EvictionManager",
    ),
}  # fmt: skip
_HOME = {name: module for module, names in _MOVED.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__package__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOME})
