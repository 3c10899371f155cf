"""The eviction manager: admission under pressure, evictions for broken local-storage limits,
and each monitoring cycle's decision of the node conditions to report and the pod to evict.

Semantics: pkg/kubelet/eviction/eviction_manager.go (Admit, synchronize, localStorageEviction),
over eviction.py's thresholds and eviction_rank.py's ranking. The caller passes the time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kube_teach.api.quantity import Quantity
from kube_teach.api.tolerations import tolerations_tolerate_taint
from kube_teach.sim.duration import to_ns

from .eviction import (
    DEFAULT_PRESSURE_TRANSITION_PERIOD,
    MEMORY_PRESSURE,
    NODE_CONDITION_TO_TAINT,
    SIGNAL_TO_RESOURCE,
    SignalObservation,
    Threshold,
    binary_si,
    eviction_hard_with_defaults,
    make_signal_observations,
    merge_thresholds,
    node_conditions,
    node_conditions_last_observed_at,
    node_conditions_observed_since,
    parse_threshold_config,
    sort_by_eviction_priority,
    thresholds_first_observed_at,
    thresholds_met,
    thresholds_met_grace_period,
    thresholds_updated_stats,
    update_container_fs_thresholds,
)
from .eviction_rank import (
    CONTAINER_EPHEMERAL_STORAGE_MESSAGE,
    EMPTY_DIR_MESSAGE,
    NODE_CONDITION_MESSAGE,
    POD_EPHEMERAL_STORAGE_MESSAGE,
    REASON,
    Pod,
    PodStats,
    build_signal_to_node_reclaim_funcs,
    build_signal_to_rank_func,
    eviction_message,
    stats_func,
)
from .qos import BEST_EFFORT, get_pod_qos, is_critical_pod

MONITORING_INTERVAL = "10s"
IMMEDIATE_EVICTION_GRACE_PERIOD_SECONDS = 1


# -- local storage limits (localStorageEviction) --------------------------------------------------
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
