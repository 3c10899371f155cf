"""How many replicas a metric asks for: the HPA's replica calculator.

Semantics: pkg/controller/podautoscaler/replica_calculator.go and metrics/utilization.go,
1.33+ (per-direction tolerances, default 0.1 each). Metric values are milli-units, as the
metrics APIs report them; times are seconds since the epoch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kube_teach.api.quantity import Quantity

from ._util import ZERO_TIME, condition, deleting, is_pod_ready, name, parse_time, spec, status

DEFAULT_TOLERANCE = 0.1
CPU_INITIALIZATION_PERIOD = 300.0  # --horizontal-pod-autoscaler-cpu-initialization-period 5m
DELAY_OF_INITIAL_READINESS_STATUS = 30.0  # --horizontal-pod-autoscaler-initial-readiness-delay
_MAX_INT32 = 2**31 - 1


class ReplicaCalculationError(ValueError):
    """The calculation could not be made; the message is upstream's."""


@dataclass(frozen=True)
class PodMetric:
    """One pod's sample: `value` in milli-units, taken at `timestamp` over `window` seconds."""

    value: int
    timestamp: float = ZERO_TIME
    window: float = 60.0


@dataclass(frozen=True)
class ReplicaCalculation:
    """The proposal for a Resource metric: replicas, utilization (percent of requests, an
    integer), raw_utilization (mean milli-value per pod with a metric) and the metric's time."""

    replicas: int
    utilization: int
    raw_utilization: int
    timestamp: float | None = None


def _metric(value: PodMetric | int) -> PodMetric:
    return value if isinstance(value, PodMetric) else PodMetric(int(value))


def _tolerances(tolerance: float | tuple[float, float]) -> tuple[float, float]:
    """(scale-down, scale-up) tolerances from one number or a pair."""
    if isinstance(tolerance, tuple):
        return float(tolerance[0]), float(tolerance[1])
    return float(tolerance), float(tolerance)


def is_within(
    usage_ratio: float, tolerance: float | tuple[float, float] = DEFAULT_TOLERANCE
) -> bool:
    """1 − down ≤ ratio ≤ 1 + up: too close to 1 to act on."""
    down, up = _tolerances(tolerance)
    return (1.0 - down) <= usage_ratio <= (1.0 + up)


def group_pods(
    pods: Sequence[Mapping[str, Any]],
    metrics: Mapping[str, PodMetric | int],
    resource: str,
    now: float | None = None,
    cpu_initialization_period: float = CPU_INITIALIZATION_PERIOD,
    delay_of_initial_readiness_status: float = DELAY_OF_INITIAL_READINESS_STATUS,
) -> tuple[int, set[str], set[str], set[str]]:
    """(ready count, unready, missing, ignored pod names), as groupPods sorts them.

    Deleted or Failed pods are ignored; Pending ones unready; pods without a sample missing.
    For cpu only, a pod is also unready without a Ready condition or start time; within the
    initialization period when not Ready or when its sample predates the last readiness change
    plus the sample window; after it, when not Ready and it never was (its last transition
    happened within the initial readiness delay of its start). `now` None: every pod is taken
    to be past its initialization period.
    """
    ready, unready, missing, ignored = 0, set(), set(), set()
    for pod in pods:
        pod_name = name(pod)
        if deleting(pod) or status(pod).get("phase") == "Failed":
            ignored.add(pod_name)
            continue
        if status(pod).get("phase") == "Pending":
            unready.add(pod_name)
            continue
        if pod_name not in metrics:
            missing.add(pod_name)
            continue
        if resource == "cpu":
            metric = _metric(metrics[pod_name])
            cond = condition(status(pod).get("conditions"), "Ready")
            start = parse_time(status(pod).get("startTime"))
            if cond is None or start is None:
                is_unready = True
            else:
                transition = parse_time(cond.get("lastTransitionTime"), ZERO_TIME)
                if now is not None and start + cpu_initialization_period > now:
                    is_unready = (
                        cond.get("status") == "False"
                        or metric.timestamp < transition + metric.window
                    )
                else:
                    is_unready = (
                        cond.get("status") == "False"
                        and start + delay_of_initial_readiness_status > transition
                    )
            if is_unready:
                unready.add(pod_name)
                continue
        ready += 1
    return ready, unready, missing, ignored


def _milli(quantity: Any) -> int:
    return Quantity(quantity).milli_value()


def calculate_requests(
    pods: Sequence[Mapping[str, Any]], container: str, resource: str
) -> dict[str, int]:
    """Each pod's request for `resource` in milli-units: pod-level requests when set (and no
    container is named), else the sum over containers and sidecar init containers, or the
    named container alone. A container without the request raises ReplicaCalculationError."""
    requests = {}
    for pod in pods:
        pod_requests = (spec(pod).get("resources") or {}).get("requests") or {}
        if not container and any(k in pod_requests for k in ("cpu", "memory")):
            if resource not in pod_requests:
                raise ReplicaCalculationError(
                    f"missing pod-level request for {resource} in Pod {name(pod)}"
                )
            requests[name(pod)] = _milli(pod_requests[resource])
            continue
        containers = list(spec(pod).get("containers") or ())
        containers += [
            c for c in spec(pod).get("initContainers") or () if c.get("restartPolicy") == "Always"
        ]
        total, found = 0, False
        for c in containers:
            if not container or container == c.get("name"):
                c_requests = (c.get("resources") or {}).get("requests") or {}
                if resource not in c_requests:
                    raise ReplicaCalculationError(
                        f"missing request for {resource} in container {c.get('name')} of Pod {name(pod)}"
                    )
                total += _milli(c_requests[resource])
            if container and container == c.get("name"):
                found = True
                break
        if container and not found:
            raise ReplicaCalculationError(f"container {container} not found in Pod {name(pod)}")
        requests[name(pod)] = total
    return requests


def resource_utilization_ratio(
    metrics: Mapping[str, PodMetric | int], requests: Mapping[str, int], target_utilization: int
) -> tuple[float, int, int]:
    """(ratio, utilization %, mean raw value) over pods with both a sample and a request.

    Utilization is the integer percentage floor(100 × Σ usage / Σ requests); the ratio divides
    that truncated integer by the target, as upstream does.
    """
    metrics_total = requests_total = entries = 0
    for pod_name, metric in metrics.items():
        if pod_name not in requests:
            continue
        metrics_total += _metric(metric).value
        requests_total += requests[pod_name]
        entries += 1
    if requests_total == 0:
        raise ReplicaCalculationError("no metrics returned matched known pods")
    utilization = _go_div(metrics_total * 100, requests_total)
    return utilization / target_utilization, utilization, _go_div(metrics_total, entries)


def metric_usage_ratio(
    metrics: Mapping[str, PodMetric | int], target_usage: int
) -> tuple[float, int]:
    """(ratio, mean usage) for a plain per-pod metric."""
    total = sum(_metric(m).value for m in metrics.values())
    usage = _go_div(total, len(metrics))
    return usage / target_usage, usage


def _go_div(a: int, b: int) -> int:
    """Integer division truncating toward zero, as Go's."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _adjusted(
    current_replicas: int,
    ratio: float,
    ready_count: int,
    unready: set[str],
    missing: set[str],
    metrics: dict[str, PodMetric],
    fill_missing_down: Any,
    recompute: Any,
    tolerance: float | tuple[float, float],
) -> int:
    """The shared tail of GetResourceReplicas and calcPlainMetricReplicas."""
    scale_up_with_unready = bool(unready) and ratio > 1.0
    if not scale_up_with_unready and not missing:
        if is_within(ratio, tolerance):
            return current_replicas
        return int(math.ceil(ratio * ready_count))
    if missing:
        if ratio < 1.0:
            for pod_name in missing:
                metrics[pod_name] = PodMetric(fill_missing_down(pod_name))
        elif ratio > 1.0:
            for pod_name in missing:
                metrics[pod_name] = PodMetric(0)
    if scale_up_with_unready:
        for pod_name in unready:
            metrics[pod_name] = PodMetric(0)
    new_ratio = recompute(metrics)
    if is_within(new_ratio, tolerance) or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
        return current_replicas
    new_replicas = int(math.ceil(new_ratio * len(metrics)))
    if (new_ratio < 1.0 and new_replicas > current_replicas) or (
        new_ratio > 1.0 and new_replicas < current_replicas
    ):
        return current_replicas
    return new_replicas


def replica_calculation(
    current_replicas: int,
    target_utilization: int,
    pods: Sequence[Mapping[str, Any]],
    metrics: Mapping[str, PodMetric | int],
    *,
    now: float | None = None,
    resource: str = "cpu",
    container: str = "",
    tolerance: float | tuple[float, float] = DEFAULT_TOLERANCE,
    cpu_initialization_period: float = CPU_INITIALIZATION_PERIOD,
    delay_of_initial_readiness_status: float = DELAY_OF_INITIAL_READINESS_STATUS,
    timestamp: float | None = None,
) -> ReplicaCalculation:
    """Desired replicas for a Resource metric with a Utilization target (GetResourceReplicas).

    `pods` are the pods the scale target's selector matches; `metrics` maps pod names to
    samples (PodMetric or a bare milli-value), summed over the containers measured. Without
    unready or missing pods: ceil(ratio × ready pods) unless the ratio is within tolerance.
    Otherwise missing pods count as max(100%, target) of their request on a scale-down and 0 on
    a scale-up, unready pods as 0 on a scale-up; the ratio is recomputed and the current count
    kept if it is now within tolerance or would change direction.
    """
    if not metrics:
        raise ReplicaCalculationError(
            f"unable to get metrics for resource {resource}: no metrics returned from resource metrics API"
        )
    if not pods:
        raise ReplicaCalculationError(
            "no pods returned by selector while calculating replica count"
        )
    samples = {k: _metric(v) for k, v in metrics.items()}
    ready, unready, missing, ignored = group_pods(
        pods, samples, resource, now, cpu_initialization_period, delay_of_initial_readiness_status
    )
    for pod_name in ignored | unready:
        samples.pop(pod_name, None)
    if not samples:
        raise ReplicaCalculationError(
            "did not receive metrics for targeted pods (pods might be unready)"
        )
    requests = calculate_requests(pods, container, resource)
    ratio, utilization, raw = resource_utilization_ratio(samples, requests, target_utilization)
    fallback = max(100, target_utilization)
    replicas = _adjusted(
        current_replicas,
        ratio,
        ready,
        unready,
        missing,
        samples,
        lambda pod_name: _go_div(requests[pod_name] * fallback, 100),
        lambda m: resource_utilization_ratio(m, requests, target_utilization)[0],
        tolerance,
    )
    return ReplicaCalculation(replicas, utilization, raw, timestamp)


def plain_metric_replicas(
    current_replicas: int,
    target_usage: int,
    pods: Sequence[Mapping[str, Any]],
    metrics: Mapping[str, PodMetric | int],
    *,
    now: float | None = None,
    resource: str = "",
    tolerance: float | tuple[float, float] = DEFAULT_TOLERANCE,
    cpu_initialization_period: float = CPU_INITIALIZATION_PERIOD,
    delay_of_initial_readiness_status: float = DELAY_OF_INITIAL_READINESS_STATUS,
) -> tuple[int, int]:
    """(replicas, mean usage) for a Pods metric or an AverageValue resource target
    (calcPlainMetricReplicas); missing pods count as exactly the target on a scale-down."""
    if not pods:
        raise ReplicaCalculationError(
            "no pods returned by selector while calculating replica count"
        )
    samples = {k: _metric(v) for k, v in metrics.items()}
    ready, unready, missing, ignored = group_pods(
        pods, samples, resource, now, cpu_initialization_period, delay_of_initial_readiness_status
    )
    for pod_name in ignored | unready:
        samples.pop(pod_name, None)
    if not samples:
        raise ReplicaCalculationError(
            "did not receive metrics for targeted pods (pods might be unready)"
        )
    ratio, usage = metric_usage_ratio(samples, target_usage)
    replicas = _adjusted(
        current_replicas,
        ratio,
        ready,
        unready,
        missing,
        samples,
        lambda _pod: target_usage,
        lambda m: metric_usage_ratio(m, target_usage)[0],
        tolerance,
    )
    return replicas, usage


def ready_pod_count(pods: Sequence[Mapping[str, Any]]) -> int:
    """Running and Ready pods (getReadyPodsCount); no pods at all is an error."""
    if not pods:
        raise ReplicaCalculationError(
            "no pods returned by selector while calculating replica count"
        )
    return sum(1 for p in pods if status(p).get("phase") == "Running" and is_pod_ready(p))


def usage_ratio_replicas(
    current_replicas: int,
    usage_ratio: float,
    pods: Sequence[Mapping[str, Any]],
    tolerance: float | tuple[float, float] = DEFAULT_TOLERANCE,
) -> int:
    """Replicas for an Object or External Value target: ceil(ratio × ready pods) unless
    within tolerance; from zero replicas, ceil(ratio) (getUsageRatioReplicaCount)."""
    if current_replicas == 0:
        return int(math.ceil(usage_ratio))
    if is_within(usage_ratio, tolerance):
        return current_replicas
    proposal = usage_ratio * ready_pod_count(pods)
    return _MAX_INT32 if proposal > _MAX_INT32 else int(math.ceil(proposal))


def object_metric_replicas(
    current_replicas: int,
    usage: int,
    target_usage: int,
    pods: Sequence[Mapping[str, Any]],
    tolerance: float | tuple[float, float] = DEFAULT_TOLERANCE,
) -> int:
    """An Object metric with a Value target (GetObjectMetricReplicas)."""
    return usage_ratio_replicas(current_replicas, usage / target_usage, pods, tolerance)


def per_pod_replicas(
    status_replicas: int,
    usage: int,
    target_average_usage: int,
    tolerance: float | tuple[float, float] = DEFAULT_TOLERANCE,
) -> tuple[int, int]:
    """(replicas, usage per pod) for an AverageValue target on an Object or External metric:
    ceil(usage / target) unless usage / (target × replicas) is within tolerance."""
    replicas = status_replicas
    if not is_within(usage / (target_average_usage * replicas), tolerance):
        proposal = math.ceil(usage / target_average_usage)
        replicas = _MAX_INT32 if proposal > _MAX_INT32 else int(proposal)
    return replicas, int(math.ceil(usage / status_replicas))


def external_metric_replicas(
    current_replicas: int,
    values: Sequence[int],
    target_usage: int,
    pods: Sequence[Mapping[str, Any]],
    tolerance: float | tuple[float, float] = DEFAULT_TOLERANCE,
) -> tuple[int, int]:
    """(replicas, summed usage) for an External metric with a Value target."""
    usage = min(sum(values), 2**63 - 1)
    return usage_ratio_replicas(current_replicas, usage / target_usage, pods, tolerance), usage
