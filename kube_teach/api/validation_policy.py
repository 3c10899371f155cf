"""Validation of autoscaling/v2 HorizontalPodAutoscalers and policy/v1 PodDisruptionBudgets.

Semantics: pkg/apis/autoscaling/validation (HPAScaleToZero off, so minReplicas >= 1) and
pkg/apis/policy/validation, in upstream's order and wording.
"""

from __future__ import annotations

from typing import Any

from .errors import FieldError
from .validation_common import (
    Errors,
    as_dict,
    as_int,
    as_list,
    as_str,
    child,
    index,
    is_int,
    label_selector,
    name_is_dns_subdomain,
    not_more_than_100_percent,
    object_meta,
    path_segment,
    positive_int_or_percent,
    quantity,
    selector_value,
)


# -- HorizontalPodAutoscaler (autoscaling/v2) --------------------------------------------------
def horizontal_pod_autoscaler(obj: dict[str, Any]) -> Errors:
    """ValidateHorizontalPodAutoscaler with HPAScaleToZero off (minReplicas >= 1)."""
    errs = object_meta(obj.get("metadata"), True, name_is_dns_subdomain)
    spec = as_dict(obj.get("spec"))
    min_replicas = spec.get("minReplicas")
    max_replicas = as_int(spec.get("maxReplicas"))
    if is_int(min_replicas) and min_replicas < 1:
        errs.append(
            FieldError.invalid(
                "spec.minReplicas", min_replicas, "must be greater than or equal to 1"
            )
        )
    if max_replicas < 1:
        errs.append(FieldError.invalid("spec.maxReplicas", max_replicas, "must be greater than 0"))
    if is_int(min_replicas) and max_replicas < min_replicas:
        errs.append(
            FieldError.invalid(
                "spec.maxReplicas", max_replicas, "must be greater than or equal to `minReplicas`"
            )
        )
    errs += _cross_version_ref(as_dict(spec.get("scaleTargetRef")), "spec.scaleTargetRef")
    if obj.get("apiVersion") != "autoscaling/v1":
        for i, metric in enumerate(as_list(spec.get("metrics"))):
            errs += _metric_spec(as_dict(metric), index("spec.metrics", i))
        behavior = spec.get("behavior")
        if behavior is not None:
            for direction in ("scaleUp", "scaleDown"):
                rules = as_dict(behavior).get(direction)
                if rules is not None:
                    errs += _scaling_rules(as_dict(rules), child("spec.behavior", direction))
    else:
        target = spec.get("targetCPUUtilizationPercentage")
        if is_int(target) and target < 1:
            errs.append(
                FieldError.invalid(
                    "spec.targetCPUUtilizationPercentage", target, "must be greater than 0"
                )
            )
    return errs


def _cross_version_ref(ref: dict[str, Any], path: str) -> Errors:
    errs: Errors = []
    for field_name in ("kind", "name"):
        value = as_str(ref.get(field_name))
        if not value:
            errs.append(FieldError.required(child(path, field_name)))
        else:
            errs += path_segment(value, child(path, field_name))
    return errs


_METRIC_TYPES = ["ContainerResource", "External", "Object", "Pods", "Resource"]
_SOURCE_FIELDS = {
    "Object": "object", "Pods": "pods", "Resource": "resource", "External": "external",
    "ContainerResource": "containerResource",
}  # fmt: skip


def _metric_spec(metric: dict[str, Any], path: str) -> Errors:
    errs: Errors = []
    kind = as_str(metric.get("type"))
    if not kind:
        errs.append(FieldError.required(child(path, "type"), "must specify a metric source type"))
    if kind not in _METRIC_TYPES:
        errs.append(FieldError.not_supported(child(path, "type"), kind, _METRIC_TYPES))
    present = [
        f
        for f in ("object", "external", "pods", "resource", "containerResource")
        if metric.get(f) is not None
    ]
    if present:
        first = present[0]
        errs += _metric_source(first, as_dict(metric.get(first)), child(path, first))
    expected = _SOURCE_FIELDS.get(kind)
    if expected is not None:
        if metric.get(expected) is None:
            errs.append(
                FieldError.required(
                    child(path, expected), "must populate information for the given metric source"
                )
            )
    else:
        errs.append(FieldError.not_supported(child(path, "type"), kind, _METRIC_TYPES))
    if len(present) != 1:
        for extra in sorted(set(present) - {expected}):
            errs.append(
                FieldError.forbidden(
                    child(path, extra), "must populate the given metric source only"
                )
            )
    return errs


def _metric_source(kind: str, src: dict[str, Any], path: str) -> Errors:
    errs: Errors = []
    target = as_dict(src.get("target"))
    tpath = child(path, "target")
    if kind in ("resource", "containerResource"):
        if not as_str(src.get("name")):
            errs.append(FieldError.required(child(path, "name"), "must specify a resource name"))
        if kind == "containerResource" and not as_str(src.get("container")):
            errs.append(FieldError.required(child(path, "container"), "must specify a container"))
        errs += _metric_target(target, tpath)
        if target.get("averageUtilization") is None and target.get("averageValue") is None:
            errs.append(
                FieldError.required(
                    child(tpath, "averageUtilization"),
                    "must set either a target raw value or a target utilization",
                )
            )
        if target.get("averageUtilization") is not None and target.get("averageValue") is not None:
            errs.append(
                FieldError.forbidden(
                    child(tpath, "averageValue"),
                    "may not set both a target raw value and a target utilization",
                )
            )
        return errs
    if kind == "object":
        errs += _cross_version_ref(
            as_dict(src.get("describedObject")), child(path, "describedObject")
        )
    errs += _metric_identifier(as_dict(src.get("metric")), child(path, "metric"))
    errs += _metric_target(target, tpath)
    if kind == "pods" and target.get("averageValue") is None:
        errs.append(
            FieldError.required(
                child(tpath, "averageValue"), "must specify a positive target averageValue"
            )
        )
    if (
        kind in ("object", "external")
        and target.get("value") is None
        and target.get("averageValue") is None
    ):
        detail = (
            "must set either a target value or averageValue"
            if kind == "object"
            else "must set either a target value for metric or a per-pod target"
        )
        errs.append(FieldError.required(child(tpath, "averageValue"), detail))
    if (
        kind == "external"
        and target.get("value") is not None
        and target.get("averageValue") is not None
    ):
        errs.append(
            FieldError.forbidden(
                child(tpath, "value"),
                "may not set both a target value for metric and a per-pod target",
            )
        )
    return errs


def _metric_identifier(metric: dict[str, Any], path: str) -> Errors:
    name = as_str(metric.get("name"))
    if not name:
        return [FieldError.required(child(path, "name"), "must specify a metric name")]
    return path_segment(name, child(path, "name"))


def _metric_target(target: dict[str, Any], path: str) -> Errors:
    errs: Errors = []
    kind = as_str(target.get("type"))
    if not kind:
        errs.append(FieldError.required(child(path, "type"), "must specify a metric target type"))
    if kind not in ("Utilization", "Value", "AverageValue"):
        errs.append(
            FieldError.invalid(
                child(path, "type"), kind, "must be either Utilization, Value, or AverageValue"
            )
        )
    for field_name in ("value", "averageValue"):
        q = quantity(target.get(field_name))
        if q is not None and q.cmp(0) <= 0:
            errs.append(FieldError.invalid(child(path, field_name), str(q), "must be positive"))
    utilization = target.get("averageUtilization")
    if is_int(utilization) and utilization < 1:
        errs.append(
            FieldError.invalid(
                child(path, "averageUtilization"), utilization, "must be greater than 0"
            )
        )
    return errs


def _scaling_rules(rules: dict[str, Any], path: str) -> Errors:
    errs: Errors = []
    window = rules.get("stabilizationWindowSeconds")
    if is_int(window) and window < 0:
        errs.append(
            FieldError.invalid(
                child(path, "stabilizationWindowSeconds"),
                window,
                "must be greater than or equal to zero",
            )
        )
    if is_int(window) and window > 3600:
        errs.append(
            FieldError.invalid(
                child(path, "stabilizationWindowSeconds"),
                window,
                "must be less than or equal to 3600",
            )
        )
    select = rules.get("selectPolicy")
    if select is not None and as_str(select) not in ("Disabled", "Max", "Min"):
        errs.append(
            FieldError.not_supported(
                child(path, "selectPolicy"), select, ["Disabled", "Max", "Min"]
            )
        )
    policies = as_list(rules.get("policies"))
    if not policies:
        errs.append(
            FieldError.required(child(path, "policies"), "must specify at least one Policy")
        )
    for i, policy in enumerate(policies):
        policy = as_dict(policy)
        ppath = index(child(path, "policies"), i)
        kind = as_str(policy.get("type"))
        if kind not in ("Pods", "Percent"):
            errs.append(FieldError.not_supported(child(ppath, "type"), kind, ["Percent", "Pods"]))
        value, period = as_int(policy.get("value")), as_int(policy.get("periodSeconds"))
        if value <= 0:
            errs.append(
                FieldError.invalid(child(ppath, "value"), value, "must be greater than zero")
            )
        if period <= 0:
            errs.append(
                FieldError.invalid(
                    child(ppath, "periodSeconds"), period, "must be greater than zero"
                )
            )
        if period > 1800:
            errs.append(
                FieldError.invalid(
                    child(ppath, "periodSeconds"), period, "must be less than or equal to 1800"
                )
            )
    return errs


# -- PodDisruptionBudget -----------------------------------------------------------------------
def pod_disruption_budget(obj: dict[str, Any]) -> Errors:
    """ValidatePodDisruptionBudget. Its name is checked only by the registry's generic
    path-segment rule, and only when the spec is valid."""
    spec = as_dict(obj.get("spec"))
    errs: Errors = []
    min_available, max_unavailable = spec.get("minAvailable"), spec.get("maxUnavailable")
    if min_available is not None and max_unavailable is not None:
        # The bad value is the internal PodDisruptionBudgetSpec struct: Go field names.
        selector = spec.get("selector")
        value = {
            "MinAvailable": min_available,
            "Selector": selector_value(selector) if isinstance(selector, dict) else None,
            "MaxUnavailable": max_unavailable,
            "UnhealthyPodEvictionPolicy": spec.get("unhealthyPodEvictionPolicy"),
        }
        errs.append(
            FieldError.invalid("spec", value, "minAvailable and maxUnavailable cannot be both set")
        )
    for field_name, value in (("minAvailable", min_available), ("maxUnavailable", max_unavailable)):
        if value is not None:
            errs += positive_int_or_percent(value, child("spec", field_name))
            errs += not_more_than_100_percent(value, child("spec", field_name))
    errs += label_selector(spec.get("selector"), "spec.selector")
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy is not None and policy not in ("AlwaysAllow", "IfHealthyBudget"):
        errs.append(
            FieldError.not_supported(
                "spec.unhealthyPodEvictionPolicy", policy, ["AlwaysAllow", "IfHealthyBudget"]
            )
        )
    return errs
