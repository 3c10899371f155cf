"""The HorizontalPodAutoscaler's decision: from a metric's proposal to the replicas it sets.

Semantics: pkg/controller/podautoscaler/horizontal.go (normalizeDesiredReplicas, the
behavior-based limits and stabilization, the AbleToScale / ScalingActive / ScalingLimited
conditions) and pkg/apis/autoscaling/v2/defaults.go. Times are seconds since the epoch.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._util import format_time
from .replica_calculator import (
    DEFAULT_TOLERANCE,
    PodMetric,
    ReplicaCalculation,
    ReplicaCalculationError,
    external_metric_replicas,
    group_pods,
    is_within,
    object_metric_replicas,
    per_pod_replicas,
    plain_metric_replicas,
    replica_calculation,
)

DOWNSCALE_STABILIZATION_WINDOW = 300.0  # --horizontal-pod-autoscaler-downscale-stabilization
SYNC_PERIOD = 15.0  # --horizontal-pod-autoscaler-sync-period
SCALE_UP_LIMIT_FACTOR = 2.0
SCALE_UP_LIMIT_MINIMUM = 4.0
_INT32_MAX, _INT32_MIN = 2**31 - 1, -(2**31)

#: What API defaulting fills into a present spec.behavior (autoscaling/v2 defaults.go).
DEFAULT_SCALE_UP_RULES = {
    "stabilizationWindowSeconds": 0,
    "selectPolicy": "Max",
    "policies": [
        {"type": "Pods", "value": 4, "periodSeconds": 15},
        {"type": "Percent", "value": 100, "periodSeconds": 15},
    ],
}
DEFAULT_SCALE_DOWN_RULES = {
    "stabilizationWindowSeconds": None,  # the controller's --downscale-stabilization flag
    "selectPolicy": "Max",
    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
}

__all__ = [
    "DEFAULT_TOLERANCE",
    "HPADecision",
    "Normalization",
    "PodMetric",
    "ReplicaCalculation",
    "ReplicaCalculationError",
    "ScaleEvent",
    "TimestampedRecommendation",
    "calculate_scale_down_limit_with_behaviors",
    "calculate_scale_up_limit",
    "calculate_scale_up_limit_with_scaling_rules",
    "convert_desired_replicas_with_behavior_rate",
    "convert_desired_replicas_with_rules",
    "desired_replicas",
    "external_metric_replicas",
    "object_metric_replicas",
    "per_pod_replicas",
    "plain_metric_replicas",
    "generate_scale_down_rules",
    "generate_scale_up_rules",
    "group_pods",
    "is_within",
    "normalize_desired_replicas",
    "replica_calculation",
    "set_condition",
    "stabilize_recommendation",
    "stabilize_recommendation_with_behaviors",
    "store_scale_event",
]


@dataclass(frozen=True)
class TimestampedRecommendation:
    """One past proposal the stabilization window remembers."""

    replicas: int
    timestamp: float


@dataclass(frozen=True)
class ScaleEvent:
    """A past change of the target's replicas (positive for up, as a count of pods)."""

    change: int
    timestamp: float
    outdated: bool = False


def generate_scale_up_rules(rules: Mapping[str, Any] | None) -> dict:
    """The scale-up rules with every unset field taken from the defaults."""
    return _merge_rules(rules, DEFAULT_SCALE_UP_RULES)


def generate_scale_down_rules(rules: Mapping[str, Any] | None) -> dict:
    """The scale-down rules with unset fields defaulted (the window stays None if unset)."""
    return _merge_rules(rules, DEFAULT_SCALE_DOWN_RULES)


def _merge_rules(rules: Mapping[str, Any] | None, defaults: Mapping[str, Any]) -> dict:
    merged = copy.deepcopy(dict(defaults))
    for key in ("selectPolicy", "stabilizationWindowSeconds", "policies", "tolerance"):
        if rules is not None and rules.get(key) is not None:
            merged[key] = copy.deepcopy(rules[key])
    return merged


def set_condition(
    conditions: Sequence[Mapping[str, Any]],
    kind: str,
    status: str,
    reason: str,
    message: str,
    now: float,
) -> list[dict]:
    """An HPA condition list with `kind` set; lastTransitionTime moves only on a status change."""
    result = [dict(c) for c in conditions]
    existing = next((c for c in result if c.get("type") == kind), None)
    if existing is None:
        existing = {"type": kind}
        result.append(existing)
    if existing.get("status") != status:
        existing["lastTransitionTime"] = format_time(now)
    existing.update(status=status, reason=reason, message=message)
    return result


# -- without spec.behavior ---------------------------------------------------------------------
def calculate_scale_up_limit(current_replicas: int) -> int:
    """max(2 × current, 4): how far one sync may scale up without spec.behavior."""
    return int(max(SCALE_UP_LIMIT_FACTOR * current_replicas, SCALE_UP_LIMIT_MINIMUM))


def stabilize_recommendation(
    recommendations: Sequence[TimestampedRecommendation],
    desired: int,
    now: float,
    window: float = DOWNSCALE_STABILIZATION_WINDOW,
) -> tuple[int, list[TimestampedRecommendation]]:
    """(the highest proposal within `window`, the updated history): the new proposal replaces
    the last sample older than the window, or is appended."""
    best, old_index = desired, None
    cutoff = now - window
    for i, rec in enumerate(recommendations):
        if rec.timestamp < cutoff:
            old_index = i
        elif rec.replicas > best:
            best = rec.replicas
    history = list(recommendations)
    new = TimestampedRecommendation(desired, now)
    if old_index is not None:
        history[old_index] = new
    else:
        history.append(new)
    return best, history


def convert_desired_replicas_with_rules(
    current: int, desired: int, min_replicas: int, max_replicas: int
) -> tuple[int, str, str]:
    """(replicas, ScalingLimited reason, message) clamping to [min, min(max, scale-up limit)]."""
    limit = calculate_scale_up_limit(current)
    if max_replicas > limit:
        maximum = limit
        reason, message = (
            "ScaleUpLimit",
            "the desired replica count is increasing faster than the maximum scale rate",
        )
    else:
        maximum = max_replicas
        reason, message = (
            "TooManyReplicas",
            "the desired replica count is more than the maximum replica count",
        )
    if desired < min_replicas:
        return (
            min_replicas,
            "TooFewReplicas",
            "the desired replica count is less than the minimum replica count",
        )
    if desired > maximum:
        return maximum, reason, message
    return desired, "DesiredWithinRange", "the desired count is within the acceptable range"


# -- with spec.behavior ------------------------------------------------------------------------
def stabilize_recommendation_with_behaviors(
    recommendations: Sequence[TimestampedRecommendation],
    current: int,
    desired: int,
    scale_up_rules: Mapping[str, Any],
    scale_down_rules: Mapping[str, Any],
    now: float,
) -> tuple[int, str, str, list[TimestampedRecommendation]]:
    """(stabilized replicas, AbleToScale reason, message, updated history).

    Up: the lowest proposal within the scale-up window; down: the highest within the
    scale-down window; the result is the current count pulled into [up, down]. The new
    proposal replaces the last sample older than both windows, or is appended.
    """
    up_cutoff = now - float(scale_up_rules.get("stabilizationWindowSeconds") or 0)
    down_cutoff = now - float(scale_down_rules.get("stabilizationWindowSeconds") or 0)
    up, down, old_index = desired, desired, None
    for i, rec in enumerate(recommendations):
        if rec.timestamp > up_cutoff:
            up = min(rec.replicas, up)
        if rec.timestamp > down_cutoff:
            down = max(rec.replicas, down)
        if rec.timestamp < up_cutoff and rec.timestamp < down_cutoff:
            old_index = i
    recommendation = current
    if recommendation < up:
        recommendation = up
    if recommendation > down:
        recommendation = down
    history = list(recommendations)
    new = TimestampedRecommendation(desired, now)
    if old_index is not None:
        history[old_index] = new
    else:
        history.append(new)
    if desired >= current:
        reason = "ScaleUpStabilized"
        message = "recent recommendations were lower than current one, applying the lowest recent recommendation"
    else:
        reason = "ScaleDownStabilized"
        message = "recent recommendations were higher than current one, applying the highest recent recommendation"
    return recommendation, reason, message, history


def get_replicas_change_per_period(
    period_seconds: float, events: Sequence[ScaleEvent], now: float
) -> int:
    """Replicas changed by events newer than `period_seconds` ago."""
    cutoff = now - period_seconds
    return sum(e.change for e in events if e.timestamp > cutoff)


def _period_start(
    current: int, policy: Mapping, up: Sequence[ScaleEvent], down: Sequence[ScaleEvent], now: float
) -> int:
    period = float(policy.get("periodSeconds") or 0)
    return (
        current
        - get_replicas_change_per_period(period, up, now)
        + get_replicas_change_per_period(period, down, now)
    )


def calculate_scale_up_limit_with_scaling_rules(
    current: int,
    scale_up_events: Sequence[ScaleEvent],
    scale_down_events: Sequence[ScaleEvent],
    rules: Mapping[str, Any],
    now: float,
) -> int:
    """The most replicas the scale-up policies allow now: per policy, the replicas at the
    start of its period plus Pods, or times (1 + Percent/100) rounded up; Max picks the largest,
    Min the smallest, Disabled keeps `current`."""
    select = rules.get("selectPolicy") or "Max"
    if select == "Disabled":
        return current
    pick, result = (min, _INT32_MAX) if select == "Min" else (max, _INT32_MIN)
    for policy in rules.get("policies") or ():
        start = _period_start(current, policy, scale_up_events, scale_down_events, now)
        if policy.get("type") == "Pods":
            proposed = start + int(policy.get("value") or 0)
        else:
            proposed = int(math.ceil(float(start) * (1 + float(policy.get("value") or 0) / 100)))
        result = pick(result, proposed)
    return result


def calculate_scale_down_limit_with_behaviors(
    current: int,
    scale_up_events: Sequence[ScaleEvent],
    scale_down_events: Sequence[ScaleEvent],
    rules: Mapping[str, Any],
    now: float,
) -> int:
    """The fewest replicas the scale-down policies allow now: per policy, the replicas at the
    start of its period minus Pods, or times (1 − Percent/100) truncated; Max picks the
    smallest result (the biggest change), Min the largest, Disabled keeps `current`."""
    select = rules.get("selectPolicy") or "Max"
    if select == "Disabled":
        return current
    pick, result = (max, _INT32_MIN) if select == "Min" else (min, _INT32_MAX)
    for policy in rules.get("policies") or ():
        start = _period_start(current, policy, scale_up_events, scale_down_events, now)
        if policy.get("type") == "Pods":
            proposed = start - int(policy.get("value") or 0)
        else:
            proposed = int(float(start) * (1 - float(policy.get("value") or 0) / 100))
        result = pick(result, proposed)
    return result


def convert_desired_replicas_with_behavior_rate(
    current: int,
    desired: int,
    min_replicas: int,
    max_replicas: int,
    scale_up_rules: Mapping[str, Any],
    scale_down_rules: Mapping[str, Any],
    scale_up_events: Sequence[ScaleEvent],
    scale_down_events: Sequence[ScaleEvent],
    now: float,
) -> tuple[int, str, str]:
    """(replicas, ScalingLimited reason, message) limited by the behavior's rates and bounds."""
    if desired > current:
        limit = calculate_scale_up_limit_with_scaling_rules(
            current, scale_up_events, scale_down_events, scale_up_rules, now
        )
        limit = max(limit, current)
        if max_replicas > limit:
            maximum, reason = limit, "ScaleUpLimit"
            message = "the desired replica count is increasing faster than the maximum scale rate"
        else:
            maximum, reason = max_replicas, "TooManyReplicas"
            message = "the desired replica count is more than the maximum replica count"
        if desired > maximum:
            return maximum, reason, message
    elif desired < current:
        limit = calculate_scale_down_limit_with_behaviors(
            current, scale_up_events, scale_down_events, scale_down_rules, now
        )
        limit = min(limit, current)
        if min_replicas < limit:
            minimum, reason = limit, "ScaleDownLimit"
            message = "the desired replica count is decreasing faster than the maximum scale rate"
        else:
            minimum, reason = min_replicas, "TooFewReplicas"
            message = "the desired replica count is less than the minimum replica count"
        if desired < minimum:
            return minimum, reason, message
    return desired, "DesiredWithinRange", "the desired count is within the acceptable range"


# -- the whole normalization -------------------------------------------------------------------
@dataclass
class Normalization:
    """The replicas an HPA sets after stabilization and limits, with the conditions it writes
    (AbleToScale and ScalingLimited, as dicts) and the updated recommendation history."""

    replicas: int
    conditions: list[dict] = field(default_factory=list)
    recommendations: list[TimestampedRecommendation] = field(default_factory=list)


def _spec(hpa: Mapping[str, Any]) -> Mapping[str, Any]:
    return hpa.get("spec") or {}


def normalize_desired_replicas(
    hpa: Mapping[str, Any],
    current_replicas: int,
    desired: int,
    now: float,
    *,
    recommendations: Sequence[TimestampedRecommendation] = (),
    scale_up_events: Sequence[ScaleEvent] = (),
    scale_down_events: Sequence[ScaleEvent] = (),
    downscale_stabilization_window: float = DOWNSCALE_STABILIZATION_WINDOW,
) -> Normalization:
    """Stabilize and limit a metric proposal, as the controller does each sync.

    With spec.behavior absent: the highest proposal of the last 5 minutes, then at most
    max(2 × current, 4) and within [minReplicas, maxReplicas]. With spec.behavior (missing
    parts defaulted; a scale-down window left unset takes `downscale_stabilization_window`):
    the windows of both directions, then the policies' rates and the bounds.
    """
    min_replicas = _spec(hpa).get("minReplicas")
    min_replicas = 1 if min_replicas is None else int(min_replicas)
    max_replicas = int(_spec(hpa).get("maxReplicas") or 0)
    conditions = list((hpa.get("status") or {}).get("conditions") or [])
    behavior = _spec(hpa).get("behavior")
    if behavior is None:
        stabilized, history = stabilize_recommendation(
            recommendations, desired, now, downscale_stabilization_window
        )
        if stabilized != desired:
            able = (
                "ScaleDownStabilized",
                "recent recommendations were higher than current one, applying the highest recent recommendation",
            )
        else:
            able = ("ReadyForNewScale", "recommended size matches current size")
        replicas, reason, message = convert_desired_replicas_with_rules(
            current_replicas, stabilized, min_replicas, max_replicas
        )
    else:
        up_rules = generate_scale_up_rules(behavior.get("scaleUp"))
        down_rules = generate_scale_down_rules(behavior.get("scaleDown"))
        if down_rules.get("stabilizationWindowSeconds") is None:
            down_rules["stabilizationWindowSeconds"] = int(downscale_stabilization_window)
        stabilized, s_reason, s_message, history = stabilize_recommendation_with_behaviors(
            recommendations, current_replicas, desired, up_rules, down_rules, now
        )
        if stabilized != desired:
            able = (s_reason, s_message)
        else:
            able = ("ReadyForNewScale", "recommended size matches current size")
        replicas, reason, message = convert_desired_replicas_with_behavior_rate(
            current_replicas,
            stabilized,
            min_replicas,
            max_replicas,
            up_rules,
            down_rules,
            scale_up_events,
            scale_down_events,
            now,
        )
    conditions = set_condition(conditions, "AbleToScale", "True", *able, now)
    limited = "False" if replicas == stabilized else "True"
    conditions = set_condition(conditions, "ScalingLimited", limited, reason, message, now)
    return Normalization(replicas, conditions, history)


def store_scale_event(
    behavior: Mapping[str, Any] | None,
    scale_up_events: Sequence[ScaleEvent],
    scale_down_events: Sequence[ScaleEvent],
    previous: int,
    new: int,
    now: float,
) -> tuple[list[ScaleEvent], list[ScaleEvent]]:
    """The (up, down) event lists after a rescale from `previous` to `new`: events older than
    the longest policy period are marked outdated and the last outdated slot is reused.
    Nothing is stored without spec.behavior."""
    up, down = list(scale_up_events), list(scale_down_events)
    if behavior is None:
        return up, down
    if new > previous:
        rules, events, change = generate_scale_up_rules(behavior.get("scaleUp")), up, new - previous
    else:
        rules, events, change = (
            generate_scale_down_rules(behavior.get("scaleDown")),
            down,
            previous - new,
        )
    longest = max(
        (int(p.get("periodSeconds") or 0) for p in rules.get("policies") or ()), default=0
    )
    cutoff = now - longest
    events[:] = [
        ScaleEvent(e.change, e.timestamp, e.outdated or e.timestamp < cutoff) for e in events
    ]
    slot = max((i for i, e in enumerate(events) if e.outdated), default=None)
    event = ScaleEvent(change, now)
    if slot is not None:
        events[slot] = event
    else:
        events.append(event)
    return up, down


@dataclass
class HPADecision:
    """One reconcile of an HPA given its current scale and the metrics' proposal: the replicas
    to set, whether to rescale, the reason, and the conditions and history after it."""

    replicas: int
    rescale: bool
    reason: str
    conditions: list[dict]
    recommendations: list[TimestampedRecommendation]


def desired_replicas(
    hpa: Mapping[str, Any],
    current_replicas: int,
    metric_desired_replicas: int,
    now: float,
    *,
    metric_name: str = "cpu resource utilization (percentage of request)",
    recommendations: Sequence[TimestampedRecommendation] = (),
    scale_up_events: Sequence[ScaleEvent] = (),
    scale_down_events: Sequence[ScaleEvent] = (),
    downscale_stabilization_window: float = DOWNSCALE_STABILIZATION_WINDOW,
) -> HPADecision:
    """reconcileAutoscaler's choice: a target at 0 replicas disables scaling (ScalingDisabled);
    outside [min, max] it is brought back in; otherwise the metric proposal is normalized.
    `metric_desired_replicas` is the largest proposal over all metrics."""
    spec = _spec(hpa)
    min_replicas = 1 if spec.get("minReplicas") is None else int(spec["minReplicas"])
    max_replicas = int(spec.get("maxReplicas") or 0)
    conditions = list((hpa.get("status") or {}).get("conditions") or [])
    history = list(recommendations)
    if current_replicas == 0 and min_replicas != 0:
        conditions = set_condition(
            conditions,
            "ScalingActive",
            "False",
            "ScalingDisabled",
            "scaling is disabled since the replica count of the target is zero",
            now,
        )
        return HPADecision(0, False, "", conditions, history)
    if current_replicas > max_replicas:
        return HPADecision(
            max_replicas,
            True,
            "Current number of replicas above Spec.MaxReplicas",
            conditions,
            history,
        )
    if current_replicas < min_replicas:
        return HPADecision(
            min_replicas,
            True,
            "Current number of replicas below Spec.MinReplicas",
            conditions,
            history,
        )
    conditions = set_condition(
        conditions,
        "ScalingActive",
        "True",
        "ValidMetricFound",
        f"the HPA was able to successfully calculate a replica count from {metric_name}",
        now,
    )
    desired, reason = 0, ""
    if metric_desired_replicas > desired:
        desired = metric_desired_replicas
    if desired > current_replicas:
        reason = f"{metric_name} above target"
    if desired < current_replicas:
        reason = "All metrics below target"
    normalized = normalize_desired_replicas(
        {**hpa, "status": {**(hpa.get("status") or {}), "conditions": conditions}},
        current_replicas,
        desired,
        now,
        recommendations=recommendations,
        scale_up_events=scale_up_events,
        scale_down_events=scale_down_events,
        downscale_stabilization_window=downscale_stabilization_window,
    )
    rescale = normalized.replicas != current_replicas
    return HPADecision(
        normalized.replicas, rescale, reason, normalized.conditions, normalized.recommendations
    )
