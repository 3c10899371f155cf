"""Validation of the apps/v1 workload controllers: Deployment, ReplicaSet, DaemonSet and
StatefulSet.

Semantics: pkg/apis/apps/validation, plus the registry strategies' rule that an apps/v1
selector is immutable, in upstream's order and wording.
"""

from __future__ import annotations

from typing import Any

from .errors import FieldError
from .validation_common import (
    FIELD_IMMUTABLE,
    Errors,
    annotations,
    as_dict,
    as_int,
    as_list,
    as_selector,
    as_str,
    child,
    int_or_percent_value,
    is_int,
    label_selector,
    labels,
    name_is_dns_label,
    name_is_dns_subdomain,
    nonnegative,
    not_more_than_100_percent,
    object_meta,
    positive_int_or_percent,
    selector_matches,
    selector_value,
    str_map,
)
from .validation_pod import pod_template

_MATCH = "`selector` does not match template `labels`"


def _labels_value(template: dict[str, Any]) -> Any:
    # template.Labels as json.Marshal prints it: null when unset, keys sorted like a Go map.
    raw = as_dict(template.get("metadata")).get("labels")
    if not isinstance(raw, dict):
        return None
    return dict(sorted(str_map(raw).items()))


def _selector_and_template(
    spec: dict[str, Any], kind: str, required: bool, replicas_check: bool = True
) -> Errors:
    """The selector/template checks shared by Deployment and ReplicaSet (ValidateDeploymentSpec
    and ValidatePodTemplateSpecForReplicaSet)."""
    errs: Errors = []
    selector = spec.get("selector")
    if selector is None:
        if required:
            errs.append(FieldError.required("spec.selector"))
    else:
        errs += label_selector(selector, "spec.selector")
        sel = as_dict(selector)
        if not as_list(sel.get("matchExpressions")) and not as_dict(sel.get("matchLabels")):
            errs.append(
                FieldError.invalid(
                    "spec.selector", selector_value(sel), f"empty selector is invalid for {kind}"
                )
            )
    converted = as_selector(selector)
    if converted is None:
        errs.append(
            FieldError.invalid(
                "spec.selector", selector_value(as_dict(selector)), "invalid label selector"
            )
        )
        return errs
    template = as_dict(spec.get("template"))
    # A nil selector selects nothing, so it never matches; an empty one is skipped.
    if not converted.to_selector().empty:
        if not selector_matches(converted, as_dict(template.get("metadata")).get("labels")):
            errs.append(
                FieldError.invalid("spec.template.metadata.labels", _labels_value(template), _MATCH)
            )
    errs += pod_template(template, "spec.template")
    tspec = as_dict(template.get("spec"))
    policy = as_str(tspec.get("restartPolicy"))
    if policy != "Always":
        errs.append(
            FieldError.not_supported("spec.template.spec.restartPolicy", policy, ["Always"])
        )
    if tspec.get("activeDeadlineSeconds") is not None:
        errs.append(
            FieldError.forbidden(
                "spec.template.spec.activeDeadlineSeconds",
                "activeDeadlineSeconds in ReplicaSet is not Supported",
            )
        )
    return errs


# -- Deployment --------------------------------------------------------------------------------
def deployment(obj: dict[str, Any]) -> Errors:
    """ValidateDeployment."""
    errs = object_meta(obj.get("metadata"), True, name_is_dns_subdomain)
    spec = as_dict(obj.get("spec"))
    errs += nonnegative(spec.get("replicas"), "spec.replicas")
    errs += _selector_and_template(spec, "deployment", required=True)
    errs += _deployment_strategy(as_dict(spec.get("strategy")), "spec.strategy")
    errs += nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    if spec.get("revisionHistoryLimit") is not None:
        errs += nonnegative(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit")
    pds = spec.get("progressDeadlineSeconds")
    if pds is not None:
        errs += nonnegative(pds, "spec.progressDeadlineSeconds")
        if is_int(pds) and pds <= as_int(spec.get("minReadySeconds")):
            errs.append(
                FieldError.invalid(
                    "spec.progressDeadlineSeconds", pds, "must be greater than minReadySeconds"
                )
            )
    return errs


def _deployment_strategy(strategy: dict[str, Any], path: str) -> Errors:
    kind = as_str(strategy.get("type"))
    rolling = strategy.get("rollingUpdate")
    if kind == "Recreate":
        if rolling is not None:
            return [
                FieldError.forbidden(
                    child(path, "rollingUpdate"),
                    "may not be specified when strategy `type` is 'Recreate'",
                )
            ]
        return []
    if kind == "RollingUpdate":
        if rolling is None:
            return [
                FieldError.required(
                    child(path, "rollingUpdate"), "this should be defaulted and never be nil"
                )
            ]
        rolling = as_dict(rolling)
        rpath = child(path, "rollingUpdate")
        max_unavailable, max_surge = rolling.get("maxUnavailable"), rolling.get("maxSurge")
        errs = positive_int_or_percent(max_unavailable, child(rpath, "maxUnavailable"))
        errs += positive_int_or_percent(max_surge, child(rpath, "maxSurge"))
        if int_or_percent_value(max_unavailable) == 0 and int_or_percent_value(max_surge) == 0:
            errs.append(
                FieldError.invalid(
                    child(rpath, "maxUnavailable"),
                    max_unavailable,
                    "may not be 0 when `maxSurge` is 0",
                )
            )
        errs += not_more_than_100_percent(max_unavailable, child(rpath, "maxUnavailable"))
        return errs
    # The bad value is the whole DeploymentStrategy struct (internal type: Go field names).
    if isinstance(rolling, dict):
        rolling = {
            "MaxUnavailable": rolling.get("maxUnavailable", 0),
            "MaxSurge": rolling.get("maxSurge", 0),
        }
    value = {"Type": kind, "RollingUpdate": rolling}
    return [FieldError.not_supported(path, value, ["Recreate", "RollingUpdate"])]


# -- ReplicaSet --------------------------------------------------------------------------------
def replica_set(obj: dict[str, Any]) -> Errors:
    """ValidateReplicaSet (its empty-selector message says "deployment", as upstream's does)."""
    errs = object_meta(obj.get("metadata"), True, name_is_dns_subdomain)
    spec = as_dict(obj.get("spec"))
    errs += nonnegative(spec.get("replicas"), "spec.replicas")
    errs += nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    return errs + _selector_and_template(spec, "deployment", required=True)


# -- DaemonSet ---------------------------------------------------------------------------------
def daemon_set(obj: dict[str, Any]) -> Errors:
    """ValidateDaemonSet: no Required error for a missing selector, only the label mismatch."""
    errs = object_meta(obj.get("metadata"), True, name_is_dns_subdomain)
    spec = as_dict(obj.get("spec"))
    selector = spec.get("selector")
    errs += label_selector(selector, "spec.selector")
    converted = as_selector(selector)
    template = as_dict(spec.get("template"))
    if converted is not None and not selector_matches(
        converted, as_dict(template.get("metadata")).get("labels")
    ):
        errs.append(
            FieldError.invalid("spec.template.metadata.labels", _labels_value(template), _MATCH)
        )
    sel = as_dict(selector)
    if selector is not None and not sel.get("matchLabels") and not sel.get("matchExpressions"):
        errs.append(
            FieldError.invalid(
                "spec.selector", selector_value(sel), "empty selector is invalid for daemonset"
            )
        )
    errs += pod_template(template, "spec.template")
    tspec = as_dict(template.get("spec"))
    policy = as_str(tspec.get("restartPolicy"))
    if policy != "Always":
        errs.append(
            FieldError.not_supported("spec.template.spec.restartPolicy", policy, ["Always"])
        )
    if tspec.get("activeDeadlineSeconds") is not None:
        errs.append(
            FieldError.forbidden(
                "spec.template.spec.activeDeadlineSeconds",
                "activeDeadlineSeconds in DaemonSet is not Supported",
            )
        )
    errs += nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    errs += nonnegative(spec.get("templateGeneration"), "spec.templateGeneration")
    errs += _daemon_set_strategy(as_dict(spec.get("updateStrategy")), "spec.updateStrategy")
    if spec.get("revisionHistoryLimit") is not None:
        errs += nonnegative(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit")
    return errs


def _daemon_set_strategy(strategy: dict[str, Any], path: str) -> Errors:
    kind = as_str(strategy.get("type"))
    if kind == "OnDelete":
        return []
    if kind != "RollingUpdate":
        value = {"Type": kind, "RollingUpdate": strategy.get("rollingUpdate")}
        return [FieldError.not_supported(path, value, ["RollingUpdate", "OnDelete"])]
    if strategy.get("rollingUpdate") is None:
        return [FieldError.required(child(path, "rollingUpdate"))]
    rolling = as_dict(strategy.get("rollingUpdate"))
    rpath = child(path, "rollingUpdate")
    mu, ms = rolling.get("maxUnavailable"), rolling.get("maxSurge")
    errs = positive_int_or_percent(mu, child(rpath, "maxUnavailable"))
    errs += positive_int_or_percent(ms, child(rpath, "maxSurge"))
    errs += not_more_than_100_percent(mu, child(rpath, "maxUnavailable"))
    errs += not_more_than_100_percent(ms, child(rpath, "maxSurge"))
    has_unavailable, has_surge = int_or_percent_value(mu) != 0, int_or_percent_value(ms) != 0
    if has_unavailable and has_surge:
        errs.append(
            FieldError.invalid(
                child(rpath, "maxSurge"), ms, "may not be set when maxUnavailable is non-zero"
            )
        )
    elif not has_unavailable and not has_surge:
        errs.append(
            FieldError.required(child(rpath, "maxUnavailable"), "cannot be 0 when maxSurge is 0")
        )
    return errs


# -- StatefulSet -------------------------------------------------------------------------------
def stateful_set(obj: dict[str, Any]) -> Errors:
    """ValidateStatefulSet (template labels/annotations only, as upstream)."""
    errs = object_meta(obj.get("metadata"), True, name_is_dns_label)
    spec = as_dict(obj.get("spec"))
    policy = as_str(spec.get("podManagementPolicy"))
    if not policy:
        errs.append(FieldError.required("spec.podManagementPolicy"))
    elif policy not in ("OrderedReady", "Parallel"):
        errs.append(
            FieldError.invalid(
                "spec.podManagementPolicy", policy, "must be 'OrderedReady' or 'Parallel'"
            )
        )
    strategy = as_dict(spec.get("updateStrategy"))
    kind = as_str(strategy.get("type"))
    if not kind:
        errs.append(FieldError.required("spec.updateStrategy"))
    elif kind == "OnDelete" and strategy.get("rollingUpdate") is not None:
        errs.append(
            FieldError.invalid(
                "spec.updateStrategy.rollingUpdate",
                strategy.get("rollingUpdate"),
                "only allowed for updateStrategy 'RollingUpdate'",
            )
        )
    elif kind == "RollingUpdate" and strategy.get("rollingUpdate") is not None:
        errs += nonnegative(
            as_dict(strategy.get("rollingUpdate")).get("partition"),
            "spec.updateStrategy.rollingUpdate.partition",
        )
    elif kind not in ("OnDelete", "RollingUpdate"):
        errs.append(
            FieldError.invalid(
                "spec.updateStrategy", strategy, "must be 'RollingUpdate' or 'OnDelete'"
            )
        )
    errs += nonnegative(spec.get("replicas"), "spec.replicas")
    errs += nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    selector = spec.get("selector")
    if selector is None:
        errs.append(FieldError.required("spec.selector"))
    else:
        errs += label_selector(selector, "spec.selector")
        sel = as_dict(selector)
        if not sel.get("matchLabels") and not sel.get("matchExpressions"):
            errs.append(
                FieldError.invalid(
                    "spec.selector",
                    selector_value(sel),
                    "empty selector is invalid for statefulset",
                )
            )
    converted = as_selector(selector)
    template = as_dict(spec.get("template"))
    if converted is None:
        errs.append(FieldError.invalid("spec.selector", selector_value(as_dict(selector)), ""))
    else:
        if not converted.to_selector().empty and not selector_matches(
            converted, as_dict(template.get("metadata")).get("labels")
        ):
            errs.append(
                FieldError.invalid("spec.template.metadata.labels", _labels_value(template), _MATCH)
            )
        meta = as_dict(template.get("metadata"))
        errs += labels(meta.get("labels"), "spec.template.labels")
        errs += annotations(meta.get("annotations"), "spec.template.annotations")
    tspec = as_dict(template.get("spec"))
    if as_str(tspec.get("restartPolicy")) != "Always":
        errs.append(
            FieldError.not_supported(
                "spec.template.spec.restartPolicy", as_str(tspec.get("restartPolicy")), ["Always"]
            )
        )
    if tspec.get("activeDeadlineSeconds") is not None:
        errs.append(
            FieldError.forbidden(
                "spec.template.spec.activeDeadlineSeconds",
                "activeDeadlineSeconds in StatefulSet is not Supported",
            )
        )
    return errs


# -- updates -----------------------------------------------------------------------------------
def selector_immutable(new: dict[str, Any], old: dict[str, Any]) -> Errors:
    """apps/v1 strategies: `spec.selector: Invalid value: {...}: field is immutable`."""
    new_sel = as_dict(new.get("spec")).get("selector")
    old_sel = as_dict(old.get("spec")).get("selector")
    if new_sel != old_sel:
        value = selector_value(new_sel) if isinstance(new_sel, dict) else None
        return [FieldError.invalid("spec.selector", value, FIELD_IMMUTABLE)]
    return []


def stateful_set_update(new: dict[str, Any], old: dict[str, Any]) -> Errors:
    """Only replicas, ordinals, template, updateStrategy, retention policy and minReadySeconds
    may change."""
    mutable = (
        "replicas", "ordinals", "template", "updateStrategy",
        "persistentVolumeClaimRetentionPolicy", "minReadySeconds",
    )  # fmt: skip
    new_spec = {k: v for k, v in as_dict(new.get("spec")).items() if k not in mutable}
    old_spec = {k: v for k, v in as_dict(old.get("spec")).items() if k not in mutable}
    if new_spec != old_spec:
        return [
            FieldError.forbidden(
                "spec",
                "updates to statefulset spec for fields other than 'replicas', 'ordinals', "
                "'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and "
                "'minReadySeconds' are forbidden",
            )
        ]
    return []
