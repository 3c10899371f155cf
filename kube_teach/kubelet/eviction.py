"""Node-pressure eviction: thresholds, signals observed from stats, node conditions, pod
ranking, the eviction message, admission under pressure, and the manager's per-cycle decision.

Semantics: pkg/kubelet/eviction (helpers.go, eviction_manager.go, api/types.go,
defaults_linux.go) and the taints node-lifecycle puts on pressured nodes. Times are seconds
(numbers) or Go durations ("1m30s"); inside they are integer nanoseconds, as in `sim`.
"""

from __future__ import annotations

import datetime
import math
import re
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cmp_to_key
from typing import Any

from kube_teach.api.quantity import Quantity, QuantityError
from kube_teach.api.tolerations import tolerations_tolerate_taint
from kube_teach.sim.duration import DurationError, parse_duration, to_ns

from .qos import BEST_EFFORT, get_pod_qos, is_critical_pod, pod_priority, pod_request

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
MONITORING_INTERVAL = "10s"
IMMEDIATE_EVICTION_GRACE_PERIOD_SECONDS = 1

REASON = "Evicted"
NODE_LOW_MESSAGE = "The node was low on resource: {}. "
NODE_CONDITION_MESSAGE = "The node had condition: {}. "
THRESHOLD_MET_MESSAGE = "Threshold quantity: {}, available: {}. "
CONTAINER_MESSAGE = "Container {} was using {}, request is {}, has larger consumption of {}. "
POD_MESSAGE = "Pod {} was using {}, request is {}, has larger consumption of {}. "
CONTAINER_EPHEMERAL_STORAGE_MESSAGE = (
    'Container {} exceeded its local ephemeral storage limit "{}". '
)
POD_EPHEMERAL_STORAGE_MESSAGE = (
    "Pod ephemeral local storage usage exceeds the total limit of containers {}. "
)
EMPTY_DIR_MESSAGE = 'Usage of EmptyDir volume "{}" exceeds the limit "{}". '


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


# -- pod stats (Summary API PodStats dicts) -------------------------------------------------------
Pod = Mapping[str, Any]
PodStats = Mapping[str, Any]
StatsFunc = Callable[[Pod], PodStats | None]

FS_STATS_ROOT = "root"
FS_STATS_LOGS = "logs"
FS_STATS_LOCAL_VOLUME_SOURCE = "localVolumeSource"
FS_STATS_IMAGES = "images"  # listed by upstream's rank functions; no pod stat measures it
ALL_FS_STATS = (FS_STATS_IMAGES, FS_STATS_ROOT, FS_STATS_LOGS, FS_STATS_LOCAL_VOLUME_SOURCE)


def _pod_keys(meta: Mapping[str, Any]) -> list[str]:
    name, namespace = meta.get("name") or "", meta.get("namespace") or "default"
    return [k for k in (meta.get("uid"), f"{namespace}/{name}", name) if k]


def stats_func(stats: Iterable[PodStats] | Mapping[str, PodStats] | StatsFunc) -> StatsFunc:
    """A pod -> PodStats lookup from a list of Summary API pod stats (matched by podRef uid,
    else namespace/name), a dict keyed by uid, "namespace/name" or name, or a function."""
    if callable(stats):
        return stats
    if isinstance(stats, Mapping):
        by_key = dict(stats)
    else:
        by_key = {}
        for pod_stats in stats:
            for key in _pod_keys(pod_stats.get("podRef") or {}):
                by_key.setdefault(key, pod_stats)

    def lookup(pod: Pod) -> PodStats | None:
        for key in _pod_keys(pod.get("metadata") or {}):
            if key in by_key:
                return by_key[key]
        return None

    return lookup


def memory_usage(pod_stats: PodStats) -> Quantity:
    """The pod's memory working set, BinarySI; zero without stats."""
    working_set = (pod_stats.get("memory") or {}).get("workingSetBytes")
    return binary_si(working_set or 0)


def _local_volume_names(pod: Pod) -> list[str]:
    """Volumes on node-local disk: hostPath, gitRepo, configMap and disk-backed emptyDir."""
    names = []
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        empty_dir = volume.get("emptyDir")
        if (
            volume.get("hostPath") is not None
            or volume.get("gitRepo") is not None
            or volume.get("configMap") is not None
            or (empty_dir is not None and not empty_dir.get("medium"))
        ):
            names.append(volume.get("name"))
    return names


def pod_disk_usage(pod_stats: PodStats, pod: Pod, measure: Iterable[str]) -> dict[str, Quantity]:
    """Bytes ("ephemeral-storage") and inodes the pod uses on the filesystems measured:
    container rootfs and logs, and its local volumes."""
    measure = set(measure)
    used_bytes, used_inodes = 0, 0

    def add(fs: Mapping[str, Any] | None) -> None:
        nonlocal used_bytes, used_inodes
        used_bytes += (fs or {}).get("usedBytes") or 0
        used_inodes += (fs or {}).get("inodesUsed") or 0

    for container in pod_stats.get("containers") or []:
        if FS_STATS_ROOT in measure:
            add(container.get("rootfs"))
        if FS_STATS_LOGS in measure:
            add(container.get("logs"))
    if FS_STATS_LOCAL_VOLUME_SOURCE in measure:
        for name in _local_volume_names(pod):
            for volume in pod_stats.get("volume") or []:
                if volume.get("name") == name:
                    add(volume)
                    break
    return {"ephemeral-storage": binary_si(used_bytes), RESOURCE_INODES: Quantity(used_inodes)}


# -- ranking (rankMemoryPressure, rankDiskPressureFunc, rankPIDPressure) --------------------------
Cmp = Callable[[Pod, Pod], int]


def _cmp_bool(a: bool, b: bool) -> int:
    """True before False."""
    return 0 if a == b else (-1 if a else 1)


def _by_stats(stats: StatsFunc, compare: Callable[[PodStats, PodStats, Pod, Pod], int]) -> Cmp:
    def cmp(p1: Pod, p2: Pod) -> int:
        s1, s2 = stats(p1), stats(p2)
        if s1 is None or s2 is None:  # pods without stats are evicted first
            return _cmp_bool(s1 is None, s2 is None)
        return compare(s1, s2, p1, p2)

    return cmp


def _priority(p1: Pod, p2: Pod) -> int:
    a, b = pod_priority(p1), pod_priority(p2)
    return (a > b) - (a < b)  # lower priority first


def _exceeds_memory_requests(stats: StatsFunc) -> Cmp:
    return _by_stats(
        stats,
        lambda s1, s2, p1, p2: _cmp_bool(
            memory_usage(s1) > pod_request(p1, "memory"),
            memory_usage(s2) > pod_request(p2, "memory"),
        ),
    )


def _memory(stats: StatsFunc) -> Cmp:
    def compare(s1: PodStats, s2: PodStats, p1: Pod, p2: Pod) -> int:
        a = memory_usage(s1) - pod_request(p1, "memory")
        b = memory_usage(s2) - pod_request(p2, "memory")
        return b.cmp(a)  # larger consumption above request first

    return _by_stats(stats, compare)


def _process(stats: StatsFunc) -> Cmp:
    def count(s: PodStats) -> int:
        return (s.get("process_stats") or {}).get("process_count") or 0

    return _by_stats(
        stats, lambda s1, s2, p1, p2: (count(s2) > count(s1)) - (count(s2) < count(s1))
    )


def _exceeds_disk_requests(stats: StatsFunc, measure: Sequence[str], resource: str) -> Cmp:
    return _by_stats(
        stats,
        lambda s1, s2, p1, p2: _cmp_bool(
            pod_disk_usage(s1, p1, measure)[resource] > pod_request(p1, resource),
            pod_disk_usage(s2, p2, measure)[resource] > pod_request(p2, resource),
        ),
    )


def _disk(stats: StatsFunc, measure: Sequence[str], resource: str) -> Cmp:
    def compare(s1: PodStats, s2: PodStats, p1: Pod, p2: Pod) -> int:
        # Upstream subtracts the ephemeral-storage request even when ranking inodes.
        a = pod_disk_usage(s1, p1, measure)[resource] - pod_request(p1, "ephemeral-storage")
        b = pod_disk_usage(s2, p2, measure)[resource] - pod_request(p2, "ephemeral-storage")
        return b.cmp(a)

    return _by_stats(stats, compare)


def _ordered(pods: Iterable[Pod], *cmps: Cmp) -> list[Pod]:
    def combined(p1: Pod, p2: Pod) -> int:
        for cmp in cmps:
            if result := cmp(p1, p2):
                return result
        return 0

    # Upstream sorts the caller's slice in place; a list given here is sorted in place too, and
    # returned. The sort is stable: pods that compare equal keep their order.
    if isinstance(pods, list):
        pods.sort(key=cmp_to_key(combined))
        return pods
    return sorted(pods, key=cmp_to_key(combined))


def rank_memory_pressure(pods: Iterable[Pod], stats: Any) -> list[Pod]:
    """Pods in eviction order under memory pressure: those using more memory than they
    request first (BestEffort pods request 0, so any use exceeds), then lower priority, then
    larger usage above request. Pods without stats come first. `stats` as for stats_func.
    A list is sorted in place (as upstream's rank functions do) and returned."""
    sf = stats_func(stats)
    return _ordered(pods, _exceeds_memory_requests(sf), _priority, _memory(sf))


def rank_disk_pressure(
    pods: Iterable[Pod],
    stats: Any,
    fs_stats_to_measure: Sequence[str] = ALL_FS_STATS,
    resource: str = "ephemeral-storage",
) -> list[Pod]:
    """Pods in eviction order under disk pressure for `resource` ("ephemeral-storage" or
    "inodes"): exceeding their request first, then lower priority, then larger use above the
    ephemeral-storage request, measuring the given filesystems."""
    sf = stats_func(stats)
    measure = tuple(fs_stats_to_measure)
    return _ordered(
        pods,
        _exceeds_disk_requests(sf, measure, resource),
        _priority,
        _disk(sf, measure, resource),
    )


def rank_pid_pressure(pods: Iterable[Pod], stats: Any) -> list[Pod]:
    """Pods in eviction order under PID pressure: lower priority, then more processes."""
    return _ordered(pods, _priority, _process(stats_func(stats)))


def build_signal_to_rank_func(
    with_image_fs: bool = False, split_image_fs: bool = False
) -> dict[str, Callable[[Iterable[Pod], Any], list[Pod]]]:
    """The ranking function for each signal, given the node's filesystem layout."""

    def disk(measure: tuple[str, ...], resource: str) -> Callable:
        return lambda pods, stats: rank_disk_pressure(pods, stats, measure, resource)

    funcs: dict[str, Callable] = {
        SIGNAL_MEMORY_AVAILABLE: rank_memory_pressure,
        SIGNAL_ALLOCATABLE_MEMORY_AVAILABLE: rank_memory_pressure,
        SIGNAL_PID_AVAILABLE: rank_pid_pressure,
    }
    if with_image_fs and not split_image_fs:
        node = (FS_STATS_LOGS, FS_STATS_LOCAL_VOLUME_SOURCE)
        image = (FS_STATS_ROOT, FS_STATS_IMAGES)
        container = image
    elif with_image_fs:
        node = (FS_STATS_LOGS, FS_STATS_LOCAL_VOLUME_SOURCE, FS_STATS_ROOT)
        image = (FS_STATS_IMAGES,)
        container = node
    else:
        node = image = container = ALL_FS_STATS
    for measure, bytes_signal, inodes_signal in (
        (node, SIGNAL_NODEFS_AVAILABLE, SIGNAL_NODEFS_INODES_FREE),
        (image, SIGNAL_IMAGEFS_AVAILABLE, SIGNAL_IMAGEFS_INODES_FREE),
        (container, SIGNAL_CONTAINERFS_AVAILABLE, SIGNAL_CONTAINERFS_INODES_FREE),
    ):
        funcs[bytes_signal] = disk(measure, "ephemeral-storage")
        funcs[inodes_signal] = disk(measure, RESOURCE_INODES)
    return funcs


def build_signal_to_node_reclaim_funcs(
    with_image_fs: bool = False, split_image_fs: bool = False
) -> dict[str, tuple[str, ...]]:
    """Node-level reclaim tried before evicting, per disk signal: container GC and image GC."""
    both = ("DeleteAllUnusedContainers", "DeleteUnusedImages")
    if with_image_fs and not split_image_fs:
        node, image, container = (), both, both
    elif with_image_fs:
        node, image = ("DeleteAllUnusedContainers",), ("DeleteUnusedImages",)
        container = node
    else:
        node = image = container = both
    return {
        SIGNAL_NODEFS_AVAILABLE: node,
        SIGNAL_NODEFS_INODES_FREE: node,
        SIGNAL_IMAGEFS_AVAILABLE: image,
        SIGNAL_IMAGEFS_INODES_FREE: image,
        SIGNAL_CONTAINERFS_AVAILABLE: container,
        SIGNAL_CONTAINERFS_INODES_FREE: container,
    }


# -- the eviction message (evictionMessage) -------------------------------------------------------
def _container_request(container: Mapping[str, Any], resource: str) -> Quantity:
    requests = (container.get("resources") or {}).get("requests") or {}
    return Quantity(requests[resource]) if resource in requests else Quantity(0)


def eviction_message(
    resource: str,
    pod: Pod,
    stats: Any,
    thresholds: Sequence[Threshold] = (),
    observations: Mapping[str, SignalObservation] | None = None,
    *,
    pod_level_resources: bool = True,
) -> tuple[str, dict[str, str]]:
    """The message an evicted pod's status and Evicted event carry, and the event's
    annotations. For example: "The node was low on resource: memory. Threshold quantity:
    100Mi, available: 50Mi. Container app was using 1Gi, request is 0, has larger consumption
    of memory. " (each sentence ends in a space, as upstream's do). The threshold sentence
    uses the first threshold for `resource` that has an observation; a container is named
    when its usage exceeds its own request."""
    message = NODE_LOW_MESSAGE.format(resource)
    for threshold in thresholds:
        observed = (observations or {}).get(threshold.signal)
        if SIGNAL_TO_RESOURCE.get(threshold.signal) == resource and observed is not None:
            quantity = threshold_quantity(threshold.value, observed.capacity)
            message += THRESHOLD_MET_MESSAGE.format(quantity, observed.available)
            break
    annotations: dict[str, str] = {}
    pod_stats = stats_func(stats)(pod)
    if pod_stats is None:
        return message, annotations
    spec = pod.get("spec") or {}
    pod_name = (pod.get("metadata") or {}).get("name", "")
    pod_requests = (spec.get("resources") or {}).get("requests") or {}
    if (
        resource == "memory"
        and pod_level_resources
        and spec.get("resources") is not None
        and resource in pod_requests
        and pod_stats.get("memory") is not None
    ):
        usage = str(memory_usage(pod_stats))
        message += POD_MESSAGE.format(pod_name, usage, Quantity(pod_requests[resource]), resource)
        annotations |= {"offending_pod": pod_name, "offending_pod_usage": usage}
    containers = [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]
    names, usages = [], []
    for container_stats in pod_stats.get("containers") or []:
        container = next(
            (c for c in containers if c.get("name") == container_stats.get("name")), None
        )
        if container is None:
            continue
        usage = None
        if resource == "ephemeral-storage":
            rootfs = (container_stats.get("rootfs") or {}).get("usedBytes")
            logs = (container_stats.get("logs") or {}).get("usedBytes")
            if rootfs is not None and logs is not None:
                usage = binary_si(rootfs + logs)
        elif resource == "memory":
            working_set = (container_stats.get("memory") or {}).get("workingSetBytes")
            if working_set is not None:
                usage = binary_si(working_set)
        request = _container_request(container, resource)
        if usage is not None and usage > request:
            message += CONTAINER_MESSAGE.format(container["name"], usage, request, resource)
            names.append(container["name"])
            usages.append(str(usage))
    annotations["offending_containers"] = ",".join(names)
    annotations["offending_containers_usage"] = ",".join(usages)
    annotations["starved_resource"] = resource
    return message, annotations


def _pod_ephemeral_limit(pod: Pod) -> Quantity | None:
    """The pod's ephemeral-storage limit (PodLimits): containers and sidecars summed, the
    larger of that and any init container's; None when no container sets one."""
    spec = pod.get("spec") or {}

    def limit(c: Mapping[str, Any]) -> Quantity | None:
        value = ((c.get("resources") or {}).get("limits") or {}).get("ephemeral-storage")
        return None if value is None else Quantity(value)

    found = [q for c in spec.get("containers") or [] if (q := limit(c)) is not None]
    total = sum(found, Quantity(0))
    sidecars, init_peak, any_found = Quantity(0), Quantity(0), bool(found)
    for c in spec.get("initContainers") or []:
        q = limit(c)
        if q is None:
            continue
        any_found = True
        if c.get("restartPolicy") == "Always":
            total, sidecars = total + q, sidecars + q
            init_peak = max(init_peak, sidecars)
        else:
            init_peak = max(init_peak, q + sidecars)
    return max(total, init_peak) if any_found else None


def local_storage_eviction(
    pod: Pod, pod_stats: PodStats, *, dedicated_image_fs: bool = False
) -> str | None:
    """The message for evicting `pod` because it broke a local-storage limit regardless of
    node pressure: an emptyDir over its sizeLimit, the pod over its total ephemeral-storage
    limit, or a container over its own; None when within limits."""
    spec = pod.get("spec") or {}
    used = {v.get("name"): v.get("usedBytes") for v in pod_stats.get("volume") or []}
    for volume in spec.get("volumes") or []:
        size = (volume.get("emptyDir") or {}).get("sizeLimit")
        name = volume.get("name")
        if size is not None and used.get(name) is not None:
            limit = Quantity(size)
            if limit > 0 and binary_si(used[name]) > limit:
                return EMPTY_DIR_MESSAGE.format(name, limit)
    pod_limit = _pod_ephemeral_limit(pod)
    if pod_limit is not None:
        total = (pod_stats.get("ephemeral-storage") or {}).get("usedBytes") or 0
        if binary_si(total) > pod_limit:
            return POD_EPHEMERAL_STORAGE_MESSAGE.format(pod_limit)
    limits = {}
    for c in spec.get("containers") or []:
        value = ((c.get("resources") or {}).get("limits") or {}).get("ephemeral-storage")
        if value is not None and Quantity(value).value() != 0:
            limits[c.get("name")] = Quantity(value)
    for container_stats in pod_stats.get("containers") or []:
        used_bytes = (container_stats.get("logs") or {}).get("usedBytes") or 0
        if not dedicated_image_fs:
            used_bytes += (container_stats.get("rootfs") or {}).get("usedBytes") or 0
        limit = limits.get(container_stats.get("name"))
        if limit is not None and limit < binary_si(used_bytes):
            return CONTAINER_EPHEMERAL_STORAGE_MESSAGE.format(container_stats["name"], limit)
    return None


# -- admission and the manager (eviction_manager.go) ----------------------------------------------
@dataclass(frozen=True)
class AdmitResult:
    """Whether the kubelet admits a pod; a rejected pod ends Failed with this reason."""

    admit: bool
    reason: str = ""
    message: str = ""


def admit(pod: Pod, conditions: Sequence[str]) -> AdmitResult:
    """Admission under pressure: no pressure, or a critical pod, admits. Memory pressure alone
    rejects only BestEffort pods that do not tolerate node.kubernetes.io/memory-pressure;
    any other pressure rejects every pod, with reason Evicted and a message such as
    "The node had condition: [DiskPressure]. "."""
    if not conditions or is_critical_pod(pod):
        return AdmitResult(True)
    if list(conditions) == [MEMORY_PRESSURE]:
        if get_pod_qos(pod) != BEST_EFFORT:
            return AdmitResult(True)
        tolerations = (pod.get("spec") or {}).get("tolerations") or []
        if tolerations_tolerate_taint(tolerations, NODE_CONDITION_TO_TAINT[MEMORY_PRESSURE]):
            return AdmitResult(True)
    return AdmitResult(False, REASON, NODE_CONDITION_MESSAGE.format(f"[{' '.join(conditions)}]"))


@dataclass(frozen=True)
class Eviction:
    """A pod the manager decided to evict, and how."""

    pod: Pod
    message: str
    annotations: Mapping[str, str]
    grace_period_seconds: int
    signal: str | None = None

    def pod_status(self) -> dict[str, Any]:
        """The status fields the kubelet writes: phase Failed, reason Evicted, the message,
        and a DisruptionTarget condition with reason TerminationByKubelet."""
        condition = {
            "type": "DisruptionTarget",
            "status": "True",
            "reason": "TerminationByKubelet",
            "message": self.message,
        }
        return {"phase": "Failed", "reason": REASON, "message": self.message,
                "conditions": [condition]}  # fmt: skip


@dataclass
class SyncResult:
    """What one synchronize() decided. `events` are (type, reason, message) for the node."""

    node_conditions: list[str] = field(default_factory=list)
    thresholds: list[Threshold] = field(default_factory=list)
    signal: str | None = None
    resource: str | None = None
    node_reclaim: tuple[str, ...] = ()
    reclaimed_without_eviction: bool = False
    evicted: list[Eviction] = field(default_factory=list)
    events: list[tuple[str, str, str]] = field(default_factory=list)


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


class EvictionManager:
    """The eviction manager's state across cycles, without the clock: call `synchronize` every
    MONITORING_INTERVAL with the time, a Summary API dict and the active pods; it returns the
    node conditions to report and at most one pod to evict (or every pod over a local-storage
    limit). Conditions stay set for the pressure transition period after the signal clears.
    """

    def __init__(
        self,
        thresholds: Sequence[Threshold],
        *,
        pressure_transition_period: float | str = DEFAULT_PRESSURE_TRANSITION_PERIOD,
        max_pod_grace_period_seconds: int = 0,
        local_storage_capacity_isolation: bool = True,
        with_image_fs: bool = False,
        split_image_fs: bool = False,
    ) -> None:
        self.thresholds = update_container_fs_thresholds(thresholds, with_image_fs, split_image_fs)
        self.pressure_transition_period_ns = to_ns(pressure_transition_period)
        self.max_pod_grace_period_seconds = max_pod_grace_period_seconds
        self.local_storage_capacity_isolation = local_storage_capacity_isolation
        self.with_image_fs = with_image_fs
        self.rank_funcs = build_signal_to_rank_func(with_image_fs, split_image_fs)
        self.reclaim_funcs = build_signal_to_node_reclaim_funcs(with_image_fs, split_image_fs)
        self.node_conditions: list[str] = []
        self._thresholds_first_observed_at: dict[Threshold, int] = {}
        self._conditions_last_observed_at: dict[str, int] = {}
        self._thresholds_met: list[Threshold] = []
        self._last_observations: dict[str, SignalObservation] = {}

    @classmethod
    def from_config(
        cls,
        eviction_hard: Mapping[str, str] | str | None = None,
        eviction_soft: Mapping[str, str] | str | None = None,
        eviction_soft_grace_period: Mapping[str, str] | str | None = None,
        eviction_minimum_reclaim: Mapping[str, str] | str | None = None,
        **options: Any,
    ) -> EvictionManager:
        """A manager from KubeletConfiguration-style settings; evictionHard None = defaults."""
        hard = eviction_hard if isinstance(eviction_hard, str) else (
            eviction_hard_with_defaults(eviction_hard))  # fmt: skip
        thresholds = parse_threshold_config(
            hard, eviction_soft, eviction_soft_grace_period, eviction_minimum_reclaim
        )
        return cls(thresholds, **options)

    def admit(self, pod: Pod) -> AdmitResult:
        """Admission against the conditions of the last synchronize."""
        return admit(pod, self.node_conditions)

    def synchronize(
        self,
        now: float,
        summary: Mapping[str, Any],
        active_pods: Sequence[Pod],
        *,
        summary_after_reclaim: Mapping[str, Any] | None = None,
    ) -> SyncResult:
        """One eviction cycle at time `now` (seconds). For disk signals the kubelet first
        garbage-collects containers and images; pass the stats as they would be afterwards
        in `summary_after_reclaim` (default: unchanged). If that alone brings every threshold
        back above value + minimum reclaim, nothing is evicted."""
        result = SyncResult()
        if not self.thresholds and not self.local_storage_capacity_isolation:
            return result
        now_ns = to_ns(now)
        observations = make_signal_observations(summary)
        stats = stats_func(summary.get("pods") or [])

        met = thresholds_met(self.thresholds, observations)
        if self._thresholds_met:
            met = merge_thresholds(met, thresholds_met(self._thresholds_met, observations, True))
        first_observed = thresholds_first_observed_at(
            met, self._thresholds_first_observed_at, now_ns
        )
        last_seen = node_conditions_last_observed_at(
            node_conditions(met), self._conditions_last_observed_at, now_ns
        )
        conditions = node_conditions_observed_since(
            last_seen, self.pressure_transition_period_ns, now_ns
        )
        met = thresholds_met_grace_period(first_observed, now_ns)
        self.node_conditions = conditions
        self._thresholds_first_observed_at = first_observed
        self._conditions_last_observed_at = last_seen
        self._thresholds_met = met
        met = thresholds_updated_stats(met, observations, self._last_observations)
        self._last_observations = observations
        result.node_conditions, result.thresholds = list(conditions), met

        if self.local_storage_capacity_isolation:
            for pod in active_pods:
                pod_stats = stats(pod)
                if pod_stats is None:
                    continue
                message = local_storage_eviction(
                    pod, pod_stats, dedicated_image_fs=self.with_image_fs
                )
                if message is not None and not is_critical_pod(pod):
                    result.evicted.append(
                        Eviction(pod, message, {}, IMMEDIATE_EVICTION_GRACE_PERIOD_SECONDS)
                    )
            if result.evicted:
                return result
        if not met:
            return result

        ordered = sort_by_eviction_priority(met)
        threshold = next((t for t in ordered if t.signal in SIGNAL_TO_RESOURCE), None)
        if threshold is None:
            return result
        resource = SIGNAL_TO_RESOURCE[threshold.signal]
        result.signal, result.resource = threshold.signal, resource
        result.events.append(
            ("Warning", "EvictionThresholdMet", f"Attempting to reclaim {resource}")
        )
        result.node_reclaim = self.reclaim_funcs.get(threshold.signal, ())
        if result.node_reclaim:
            after = make_signal_observations(summary_after_reclaim or summary)
            if not thresholds_met(self.thresholds, after, True):
                result.reclaimed_without_eviction = True
                return result
        rank = self.rank_funcs.get(threshold.signal)
        if rank is None or not active_pods:
            return result
        for pod in rank(active_pods, stats):
            if is_critical_pod(pod):
                continue  # the kubelet refuses to evict critical pods
            grace = IMMEDIATE_EVICTION_GRACE_PERIOD_SECONDS
            if not threshold.hard:
                grace = self.max_pod_grace_period_seconds
                pod_grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
                if pod_grace is not None:
                    grace = min(grace, pod_grace)
            message, annotations = eviction_message(resource, pod, stats, ordered, observations)
            result.evicted.append(Eviction(pod, message, annotations, grace, threshold.signal))
            return result
        return result
