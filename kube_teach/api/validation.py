"""Create and update validation of API objects, as kube-apiserver runs it after defaulting.

Semantics: each kind's Validate<Kind> / Validate<Kind>Update in pkg/apis/*/validation plus the
generic registry steps around them (BeforeCreate's path-segment name check, the apps/v1
selector-immutability rule). Messages, field paths and error order are upstream's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import validation_config as config
from . import validation_core as core
from . import validation_other as other
from . import validation_policy as policy
from . import validation_workloads as workloads
from .defaults import apply_defaults
from .errors import FieldError
from .kinds import KINDS
from .schema import structural_errors
from .validation_common import (
    Errors,
    as_dict,
    as_str,
    child,
    immutable,
    object_meta,
    object_meta_update,
    path_segment_name,
)

__all__ = ["validate", "validate_update"]

_VALIDATORS: dict[str, Callable[[dict[str, Any]], Errors]] = {
    "Pod": core.pod,
    "Service": core.service,
    "ConfigMap": config.config_map,
    "Secret": config.secret,
    "Namespace": config.namespace,
    "Node": config.node,
    "ServiceAccount": config.service_account,
    "Endpoints": config.endpoints,
    "ResourceQuota": config.resource_quota,
    "LimitRange": config.limit_range,
    "PersistentVolumeClaim": config.persistent_volume_claim,
    "PersistentVolume": config.persistent_volume,
    "Event": config.event,
    "Deployment": workloads.deployment,
    "ReplicaSet": workloads.replica_set,
    "DaemonSet": workloads.daemon_set,
    "StatefulSet": workloads.stateful_set,
    "HorizontalPodAutoscaler": policy.horizontal_pod_autoscaler,
    "PodDisruptionBudget": policy.pod_disruption_budget,
    "NetworkPolicy": other.network_policy,
    "PriorityClass": other.priority_class,
    "Lease": other.lease,
    "EndpointSlice": other.endpoint_slice,
    "Role": lambda obj: other.role(obj, True),
    "ClusterRole": lambda obj: other.role(obj, False),
    "RoleBinding": lambda obj: other.role_binding(obj, True),
    "ClusterRoleBinding": lambda obj: other.role_binding(obj, False),
}


def validate(obj: dict[str, Any], *, default: bool = True) -> list[FieldError]:
    """Create validation: the field errors kube-apiserver reports for `obj`, in its order.

    `obj` is first defaulted (`apply_defaults` is idempotent, so an already defaulted object
    is unchanged); pass `default=False` to validate exactly what is given. A namespaced object
    must carry `metadata.namespace` (the API server fills it from the request path first). Wrong
    JSON types, which the server rejects while decoding, come back as TypeInvalid errors with
    the decoder's text and stop validation. Never raises; an empty list means valid.
    """
    if not isinstance(obj, dict):
        return [FieldError.invalid("", obj, "must be a JSON object")]
    typed = [e for e in structural_errors(obj) if not e.strict]
    if typed:
        return [FieldError(e.type, e.field, e.detail, e.bad_value) for e in typed]
    kind = obj.get("kind")
    if not isinstance(kind, str) or not kind:
        return [FieldError.required("kind")]
    validator = _VALIDATORS.get(kind)
    if validator is None:
        return [FieldError.not_supported("kind", kind, sorted(KINDS))]
    target = apply_defaults(obj) if default else obj
    try:
        errors = validator(target)
    except Exception as err:  # a validator bug must read as an API error, not a traceback
        return [FieldError("Invalid", "", f"internal error: {type(err).__name__}: {err}")]
    if errors:
        return errors
    # BeforeCreate then runs the generic ObjectMeta check, names as path segments.
    meta = target.get("metadata")
    return object_meta(meta, KINDS[kind].namespaced, path_segment_name, kube=False)


def validate_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    """Update-only rules for replacing `old` with `new`: immutable metadata (name, namespace,
    uid, creationTimestamp; resourceVersion required), immutable apps/v1 selectors, the Pod
    spec's few mutable fields, Service cluster IPs, frozen ConfigMaps/Secrets, PriorityClass
    value, StatefulSet spec. Run `validate(new)` as well for the create-time rules. Never raises.
    """
    if not isinstance(new, dict) or not isinstance(old, dict):
        return [FieldError.invalid("", new, "must be a JSON object")]
    try:
        return _update_errors(apply_defaults(new), apply_defaults(old))
    except Exception as err:
        return [FieldError("Invalid", "", f"internal error: {type(err).__name__}: {err}")]


def _update_errors(new: dict[str, Any], old: dict[str, Any]) -> Errors:
    kind = as_str(new.get("kind"))
    errs = object_meta_update(new.get("metadata"), old.get("metadata"))
    if kind == "Pod":
        errs += core.pod_update(new, old)
    elif kind in ("Deployment", "ReplicaSet", "DaemonSet"):
        errs += workloads.selector_immutable(new, old)
    elif kind == "StatefulSet":
        errs += workloads.stateful_set_update(new, old)
    elif kind == "Service":
        errs += core.service_update(new, old)
    elif kind == "ConfigMap":
        errs += config.immutable_data_update(new, old, ("data", "binaryData"))
    elif kind == "Secret":
        errs += immutable(as_str(new.get("type")), as_str(old.get("type")), "type")
        errs += config.immutable_data_update(new, old, ("data",))
    elif kind == "PriorityClass":
        errs += other.priority_class_update(new, old)
    elif kind == "PersistentVolumeClaim":
        new_spec = {
            k: v
            for k, v in as_dict(new.get("spec")).items()
            if k not in ("resources", "volumeName", "volumeAttributesClassName")
        }
        old_spec = {
            k: v
            for k, v in as_dict(old.get("spec")).items()
            if k not in ("resources", "volumeName", "volumeAttributesClassName")
        }
        if new_spec != old_spec:
            errs.append(
                FieldError.forbidden(
                    "spec",
                    "spec is immutable after creation except resources.requests and "
                    "volumeAttributesClassName for bound claims",
                )
            )
    elif kind == "Node":
        old_cidrs = as_dict(old.get("spec")).get("podCIDRs")
        if old_cidrs and as_dict(new.get("spec")).get("podCIDRs") != old_cidrs:
            errs.append(
                FieldError.forbidden(
                    child("spec", "podCIDRs"),
                    'node updates may not change podCIDR except from "" to valid',
                )
            )
    return errs
