"""Validation of kinds outside core and apps: NetworkPolicy, PriorityClass, Lease, RBAC roles and
bindings, EndpointSlice.

Semantics: pkg/apis/networking/validation, scheduling/validation, coordination/validation,
rbac/validation and discovery/validation, in upstream's order and wording.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from .errors import FieldError
from .names import is_valid_port_name, is_valid_port_num
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
    object_meta,
    path_segment_name,
)

HIGHEST_USER_DEFINABLE_PRIORITY = 1_000_000_000
_SYSTEM_PRIORITY_CLASSES = {
    "system-node-critical": (2_000_001_000, False),
    "system-cluster-critical": (2_000_000_000, False),
}


# -- NetworkPolicy -----------------------------------------------------------------------------
def network_policy(obj: dict[str, Any]) -> Errors:
    """ValidateNetworkPolicy: selectors, ports, peers and policyTypes."""
    errs = object_meta(obj.get("metadata"), True, name_is_dns_subdomain)
    spec = as_dict(obj.get("spec"))
    errs += label_selector(as_dict(spec.get("podSelector")), "spec.podSelector")
    for direction, peers_field in (("ingress", "from"), ("egress", "to")):
        for i, rule in enumerate(as_list(spec.get(direction))):
            rule = as_dict(rule)
            rpath = index(child("spec", direction), i)
            for j, port in enumerate(as_list(rule.get("ports"))):
                errs += _np_port(as_dict(port), index(child(rpath, "ports"), j))
            for j, peer in enumerate(as_list(rule.get(peers_field))):
                errs += _np_peer(as_dict(peer), index(child(rpath, peers_field), j))
    types = as_list(spec.get("policyTypes"))
    if len(types) > 2:
        errs.append(
            FieldError.invalid(
                "spec.policyTypes", types, "may not specify more than two policyTypes"
            )
        )
        return errs
    for i, kind in enumerate(types):
        if kind not in ("Ingress", "Egress"):
            errs.append(
                FieldError.not_supported(index("spec.policyTypes", i), kind, ["Ingress", "Egress"])
            )
    return errs


def _np_port(port: dict[str, Any], path: str) -> Errors:
    errs: Errors = []
    protocol = port.get("protocol")
    if protocol is not None and protocol not in ("TCP", "UDP", "SCTP"):
        errs.append(
            FieldError.not_supported(child(path, "protocol"), protocol, ["TCP", "UDP", "SCTP"])
        )
    number = port.get("port")
    if number is not None:
        if isinstance(number, str):
            errs += [
                FieldError.invalid(child(path, "port"), number, m)
                for m in is_valid_port_name(number)
            ]
        else:
            value = as_int(number)
            errs += [
                FieldError.invalid(child(path, "port"), value, m) for m in is_valid_port_num(value)
            ]
            end = port.get("endPort")
            if end is not None:
                if as_int(end) < value:
                    errs.append(
                        FieldError.invalid(
                            child(path, "endPort"), end, "must be greater than or equal to `port`"
                        )
                    )
    elif port.get("endPort") is not None:
        errs.append(
            FieldError.required(child(path, "port"), "must be specified when endPort is set")
        )
    return errs


def _np_peer(peer: dict[str, Any], path: str) -> Errors:
    errs: Errors = []
    count = 0
    if peer.get("podSelector") is not None:
        count += 1
        errs += label_selector(peer.get("podSelector"), child(path, "podSelector"))
    if peer.get("namespaceSelector") is not None:
        count += 1
        errs += label_selector(peer.get("namespaceSelector"), child(path, "namespaceSelector"))
    if peer.get("ipBlock") is not None:
        count += 1
        errs += _ip_block(as_dict(peer.get("ipBlock")), child(path, "ipBlock"))
    if count == 0:
        errs.append(FieldError.required(path, "must specify a peer"))
    elif count > 1 and peer.get("ipBlock") is not None:
        errs.append(FieldError.forbidden(path, "may not specify both ipBlock and another peer"))
    return errs


def _ip_block(block: dict[str, Any], path: str) -> Errors:
    cidr = as_str(block.get("cidr"))
    if not cidr:
        return [FieldError.required(child(path, "cidr"))]
    try:
        network = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return [FieldError.invalid(child(path, "cidr"), cidr, "not a valid CIDR")]
    errs: Errors = []
    for i, text in enumerate(as_list(block.get("except"))):
        text = as_str(text)
        epath = index(child(path, "except"), i)
        try:
            excluded = ipaddress.ip_network(text, strict=False)
        except ValueError:
            return errs + [FieldError.invalid(epath, text, "not a valid CIDR")]
        inside = excluded.version == network.version and excluded.network_address in network
        if not inside or network.prefixlen >= excluded.prefixlen:
            errs.append(FieldError.invalid(epath, text, "must be a strict subset of `cidr`"))
    return errs


# -- PriorityClass -----------------------------------------------------------------------------
def priority_class(obj: dict[str, Any]) -> Errors:
    """ValidatePriorityClass: user values up to 1e9; `system-` names are reserved."""
    meta = as_dict(obj.get("metadata"))
    errs = object_meta(meta, False, name_is_dns_subdomain)
    name = as_str(meta.get("name"))
    value = as_int(obj.get("value"))
    if name.startswith("system-"):
        reason = _known_system_class(name, value, obj.get("globalDefault") is True)
        if reason:
            errs.append(
                FieldError.forbidden(
                    "metadata.name",
                    "priority class names with 'system-' prefix are reserved for system use only. "
                    f"error: {reason}",
                )
            )
    elif value > HIGHEST_USER_DEFINABLE_PRIORITY:
        errs.append(
            FieldError.forbidden(
                "value",
                f"maximum allowed value of a user defined priority is {HIGHEST_USER_DEFINABLE_PRIORITY}",
            )
        )
    policy = obj.get("preemptionPolicy")
    if policy is not None:
        text = as_str(policy)
        if not text:
            errs.append(FieldError.required("preemptionPolicy"))
        elif text not in ("PreemptLowerPriority", "Never"):
            errs.append(
                FieldError.not_supported(
                    "preemptionPolicy", text, ["PreemptLowerPriority", "Never"]
                )
            )
    return errs


def _known_system_class(name: str, value: int, global_default: bool) -> str:
    known = _SYSTEM_PRIORITY_CLASSES.get(name)
    if known is None:
        return f"{name} is not a known system priority class"
    if known[0] != value:
        return f"value of {name} PriorityClass must be {known[0]}"
    if known[1] != global_default:
        return f"globalDefault of {name} PriorityClass must be {str(known[1]).lower()}"
    return ""


def priority_class_update(new: dict[str, Any], old: dict[str, Any]) -> Errors:
    """value and preemptionPolicy may not change."""
    errs: Errors = []
    if new.get("value") != old.get("value"):
        errs.append(FieldError.forbidden("value", "may not be changed in an update."))
    if new.get("preemptionPolicy") != old.get("preemptionPolicy"):
        errs.append(
            FieldError.invalid(
                "preemptionPolicy", new.get("preemptionPolicy"), "field is immutable"
            )
        )
    return errs


# -- Lease -------------------------------------------------------------------------------------
def lease(obj: dict[str, Any]) -> Errors:
    """ValidateLease: positive duration, non-negative transitions."""
    errs = object_meta(obj.get("metadata"), True, name_is_dns_subdomain)
    spec = as_dict(obj.get("spec"))
    duration = spec.get("leaseDurationSeconds")
    if is_int(duration) and duration <= 0:
        errs.append(
            FieldError.invalid("spec.leaseDurationSeconds", duration, "must be greater than 0")
        )
    transitions = spec.get("leaseTransitions")
    if is_int(transitions) and transitions < 0:
        errs.append(
            FieldError.invalid(
                "spec.leaseTransitions", transitions, "must be greater than or equal to 0"
            )
        )
    return errs


# -- RBAC --------------------------------------------------------------------------------------
def _rbac_name(name: str, prefix: bool) -> list[str]:
    return path_segment_name(name, prefix)


def role(obj: dict[str, Any], namespaced: bool) -> Errors:
    """ValidateRole / ValidateClusterRole: names are path segments; rules need verbs."""
    errs = object_meta(obj.get("metadata"), namespaced, _rbac_name)
    for i, rule in enumerate(as_list(obj.get("rules"))):
        rule = as_dict(rule)
        rpath = index("rules", i)
        if not as_list(rule.get("verbs")):
            errs.append(
                FieldError.required(child(rpath, "verbs"), "verbs must contain at least one value")
            )
        if as_list(rule.get("nonResourceURLs")):
            if namespaced:
                errs.append(
                    FieldError.invalid(
                        child(rpath, "nonResourceURLs"),
                        as_list(rule.get("nonResourceURLs")),
                        "namespaced rules cannot apply to non-resource URLs",
                    )
                )
            if as_list(rule.get("apiGroups")) or as_list(rule.get("resources")):
                errs.append(
                    FieldError.invalid(
                        child(rpath, "nonResourceURLs"),
                        as_list(rule.get("nonResourceURLs")),
                        "rules cannot apply to both regular resources and non-resource URLs",
                    )
                )
            continue
        if not as_list(rule.get("apiGroups")):
            errs.append(
                FieldError.required(
                    child(rpath, "apiGroups"),
                    "resource rules must supply at least one api group",
                )
            )
        if not as_list(rule.get("resources")):
            errs.append(
                FieldError.required(
                    child(rpath, "resources"), "resource rules must supply at least one resource"
                )
            )
    return errs


def role_binding(obj: dict[str, Any], namespaced: bool) -> Errors:
    """ValidateRoleBinding / ValidateClusterRoleBinding: roleRef and subjects."""
    errs = object_meta(obj.get("metadata"), namespaced, _rbac_name)
    ref = as_dict(obj.get("roleRef"))
    if as_str(ref.get("apiGroup")) != "rbac.authorization.k8s.io":
        errs.append(
            FieldError.not_supported(
                "roleRef.apiGroup", as_str(ref.get("apiGroup")), ["rbac.authorization.k8s.io"]
            )
        )
    kinds = ["Role", "ClusterRole"] if namespaced else ["ClusterRole"]
    if as_str(ref.get("kind")) not in kinds:
        errs.append(FieldError.not_supported("roleRef.kind", as_str(ref.get("kind")), kinds))
    if not as_str(ref.get("name")):
        errs.append(FieldError.required("roleRef.name"))
    else:
        errs += [
            FieldError.invalid("roleRef.name", as_str(ref.get("name")), m)
            for m in path_segment_name(as_str(ref.get("name")), False)
        ]
    for i, subject in enumerate(as_list(obj.get("subjects"))):
        subject = as_dict(subject)
        spath = index("subjects", i)
        if not as_str(subject.get("name")):
            errs.append(FieldError.required(child(spath, "name")))
        kind = as_str(subject.get("kind"))
        if kind == "ServiceAccount":
            if as_str(subject.get("apiGroup")):
                errs.append(
                    FieldError.not_supported(
                        child(spath, "apiGroup"), as_str(subject.get("apiGroup")), [""]
                    )
                )
            if not namespaced and not as_str(subject.get("namespace")):
                errs.append(FieldError.required(child(spath, "namespace")))
        elif kind in ("User", "Group"):
            if as_str(subject.get("apiGroup")) != "rbac.authorization.k8s.io":
                errs.append(
                    FieldError.not_supported(
                        child(spath, "apiGroup"),
                        as_str(subject.get("apiGroup")),
                        ["rbac.authorization.k8s.io"],
                    )
                )
        else:
            errs.append(
                FieldError.not_supported(
                    child(spath, "kind"), kind, ["ServiceAccount", "User", "Group"]
                )
            )
    return errs


# -- EndpointSlice -----------------------------------------------------------------------------
def endpoint_slice(obj: dict[str, Any]) -> Errors:
    """ValidateEndpointSlice (common parts): address type and ports."""
    errs = object_meta(obj.get("metadata"), True, name_is_dns_subdomain)
    address_type = as_str(obj.get("addressType"))
    if address_type not in ("IPv4", "IPv6", "FQDN"):
        errs.append(FieldError.not_supported("addressType", address_type, ["FQDN", "IPv4", "IPv6"]))
    for i, port in enumerate(as_list(obj.get("ports"))):
        port = as_dict(port)
        number = port.get("port")
        if number is not None and not 1 <= as_int(number) <= 65535:
            errs.append(
                FieldError.invalid(
                    child(index("ports", i), "port"),
                    as_int(number),
                    "must be between 1 and 65535, inclusive",
                )
            )
    return errs
