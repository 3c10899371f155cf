"""Scheduling and runtime constraints of a pod spec: security contexts, DNS config,
tolerations, node and pod affinity, topology spread constraints.

Semantics: pkg/apis/core/validation (validatePodSpecSecurityContext, ValidateSecurityContext,
validatePodDNSConfig, ValidateTolerations, validateAffinity, validateTopologySpreadConstraints).
"""

from __future__ import annotations

from typing import Any

from .errors import FieldError
from .names import inclusive_range_error, is_dns1123_label, is_valid_ip, is_valid_label_value
from .validation_common import (
    Errors,
    as_dict,
    as_int,
    as_list,
    as_str,
    child,
    dns1123_subdomain,
    index,
    is_int,
    label_name,
    label_selector,
    str_list,
)

MAX_INT32 = 2**31 - 1
_TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"]


# -- security context --------------------------------------------------------------------------
def _id_range(value: Any, path: str) -> Errors:
    if is_int(value) and not 0 <= value <= MAX_INT32:
        return [FieldError.invalid(path, value, inclusive_range_error(0, MAX_INT32))]
    return []


def pod_security_context(sc: Any, path: str) -> Errors:
    """validatePodSpecSecurityContext: user and group IDs in range."""
    sc = as_dict(sc)
    errs = _id_range(sc.get("fsGroup"), child(path, "fsGroup"))
    errs += _id_range(sc.get("runAsUser"), child(path, "runAsUser"))
    errs += _id_range(sc.get("runAsGroup"), child(path, "runAsGroup"))
    for i, gid in enumerate(as_list(sc.get("supplementalGroups"))):
        errs += _id_range(gid, index(child(path, "supplementalGroups"), i))
    return errs


def security_context(sc: Any, path: str) -> Errors:
    """ValidateSecurityContext (container): IDs in range, privilege escalation consistent."""
    sc = as_dict(sc)
    errs = _id_range(sc.get("runAsUser"), child(path, "runAsUser"))
    errs += _id_range(sc.get("runAsGroup"), child(path, "runAsGroup"))
    if sc.get("allowPrivilegeEscalation") is False and sc.get("privileged") is True:
        errs.append(
            FieldError.invalid(
                path, sc, "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"
            )
        )
    return errs


# -- DNS config --------------------------------------------------------------------------------
def dns_config(spec: dict[str, Any], path: str) -> Errors:
    """validatePodDNSConfig: dnsPolicy None needs nameservers; limits on servers and searches."""
    config = spec.get("dnsConfig")
    if as_str(spec.get("dnsPolicy")) == "None":
        if config is None:
            return [FieldError.required(path, "must provide `dnsConfig` when `dnsPolicy` is None")]
        if not as_list(as_dict(config).get("nameservers")):
            return [
                FieldError.required(
                    child(path, "nameservers"),
                    "must provide at least one DNS nameserver when `dnsPolicy` is None",
                )
            ]
    if config is None:
        return []
    config = as_dict(config)
    errs: Errors = []
    nameservers = as_list(config.get("nameservers"))
    if len(nameservers) > 3:
        errs.append(
            FieldError.invalid(
                child(path, "nameservers"), nameservers, "must not have more than 3 nameservers"
            )
        )
    for i, ns in enumerate(nameservers):
        errs += [
            FieldError.invalid(index(child(path, "nameservers"), i), ns, m)
            for m in is_valid_ip(as_str(ns))
        ]
    searches = as_list(config.get("searches"))
    if len(searches) > 32:
        errs.append(
            FieldError.invalid(
                child(path, "searches"), searches, "must not have more than 32 search paths"
            )
        )
    for i, search in enumerate(searches):
        errs += dns1123_subdomain(
            as_str(search).removesuffix("."), index(child(path, "searches"), i)
        )
    for i, option in enumerate(as_list(config.get("options"))):
        if not as_str(as_dict(option).get("name")):
            errs.append(FieldError.required(index(child(path, "options"), i), "must not be empty"))
    return errs


# -- tolerations, affinity, spreading ----------------------------------------------------------
def tolerations(value: Any, path: str) -> Errors:
    """ValidateTolerations."""
    errs: Errors = []
    for i, tol in enumerate(as_list(value)):
        tol = as_dict(tol)
        tpath = index(path, i)
        tkey, operator = as_str(tol.get("key")), as_str(tol.get("operator"))
        effect, value_ = as_str(tol.get("effect")), as_str(tol.get("value"))
        if tkey:
            errs += label_name(tkey, child(tpath, "key"))
        if not tkey and operator != "Exists":
            errs.append(
                FieldError.invalid(
                    child(tpath, "operator"),
                    operator,
                    'operator must be Exists when `key` is empty, which means "match all values '
                    'and all keys"',
                )
            )
        if tol.get("tolerationSeconds") is not None and effect != "NoExecute":
            errs.append(
                FieldError.invalid(
                    child(tpath, "effect"),
                    effect,
                    "effect must be 'NoExecute' when `tolerationSeconds` is set",
                )
            )
        if operator in ("Equal", ""):
            msgs = is_valid_label_value(value_)
            if msgs:
                errs.append(FieldError.invalid(child(tpath, "operator"), value_, ";".join(msgs)))
        elif operator == "Exists":
            if value_:
                errs.append(
                    FieldError.invalid(
                        child(tpath, "operator"),
                        tol,
                        "value must be empty when `operator` is 'Exists'",
                    )
                )
        else:
            errs.append(
                FieldError.not_supported(child(tpath, "operator"), operator, ["Equal", "Exists"])
            )
        if effect and effect not in _TAINT_EFFECTS:
            errs.append(FieldError.not_supported(child(tpath, "effect"), effect, _TAINT_EFFECTS))
    return errs


def affinity(affinity: Any, path: str) -> Errors:
    """validateAffinity: node selector terms, weights 1-100, pod affinity terms."""
    affinity = as_dict(affinity)
    errs: Errors = []
    node = affinity.get("nodeAffinity")
    if node is not None:
        npath = child(path, "nodeAffinity")
        node = as_dict(node)
        required = node.get("requiredDuringSchedulingIgnoredDuringExecution")
        if required is not None:
            rpath = child(
                npath, "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms"
            )
            terms = as_list(as_dict(required).get("nodeSelectorTerms"))
            if not terms:
                errs.append(FieldError.required(rpath, "must have at least one node selector term"))
            for i, term in enumerate(terms):
                errs += _node_selector_term(as_dict(term), index(rpath, i))
        ppath = child(npath, "preferredDuringSchedulingIgnoredDuringExecution")
        for i, term in enumerate(
            as_list(node.get("preferredDuringSchedulingIgnoredDuringExecution"))
        ):
            term = as_dict(term)
            weight = as_int(term.get("weight"))
            if not 0 < weight <= 100:
                errs.append(
                    FieldError.invalid(
                        child(index(ppath, i), "weight"), weight, "must be in the range 1-100"
                    )
                )
            errs += _node_selector_term(
                as_dict(term.get("preference")), child(index(ppath, i), "preference")
            )
    for kind in ("podAffinity", "podAntiAffinity"):
        value = affinity.get(kind)
        if value is None:
            continue
        value = as_dict(value)
        kpath = child(path, kind)
        rpath = child(kpath, "requiredDuringSchedulingIgnoredDuringExecution")
        for i, term in enumerate(
            as_list(value.get("requiredDuringSchedulingIgnoredDuringExecution"))
        ):
            errs += _pod_affinity_term(as_dict(term), index(rpath, i))
        ppath = child(kpath, "preferredDuringSchedulingIgnoredDuringExecution")
        for i, term in enumerate(
            as_list(value.get("preferredDuringSchedulingIgnoredDuringExecution"))
        ):
            term = as_dict(term)
            weight = as_int(term.get("weight"))
            if not 0 < weight <= 100:
                errs.append(
                    FieldError.invalid(
                        child(index(ppath, i), "weight"), weight, "must be in the range 1-100"
                    )
                )
            errs += _pod_affinity_term(
                as_dict(term.get("podAffinityTerm")), child(index(ppath, i), "podAffinityTerm")
            )
    return errs


def _node_selector_term(term: dict[str, Any], path: str) -> Errors:
    errs: Errors = []
    for j, req in enumerate(as_list(term.get("matchExpressions"))):
        req = as_dict(req)
        rpath = index(child(path, "matchExpressions"), j)
        operator, values = as_str(req.get("operator")), as_list(req.get("values"))
        if operator in ("In", "NotIn"):
            if not values:
                errs.append(
                    FieldError.required(
                        child(rpath, "values"),
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    )
                )
        elif operator in ("Exists", "DoesNotExist"):
            if values:
                errs.append(
                    FieldError.forbidden(
                        child(rpath, "values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    )
                )
        elif operator in ("Gt", "Lt"):
            if len(values) != 1:
                errs.append(
                    FieldError.required(
                        child(rpath, "values"),
                        "must be specified single value when `operator` is 'Lt' or 'Gt'",
                    )
                )
        else:
            errs.append(
                FieldError.invalid(
                    child(rpath, "operator"), operator, "not a valid selector operator"
                )
            )
        errs += label_name(as_str(req.get("key")), child(rpath, "key"))
    for j, req in enumerate(as_list(term.get("matchFields"))):
        req = as_dict(req)
        rpath = index(child(path, "matchFields"), j)
        operator = as_str(req.get("operator"))
        if operator in ("In", "NotIn"):
            if len(as_list(req.get("values"))) != 1:
                errs.append(
                    FieldError.required(
                        child(rpath, "values"),
                        "must be only one value when `operator` is 'In' or 'NotIn' for node field selector",
                    )
                )
        else:
            errs.append(
                FieldError.invalid(
                    child(rpath, "operator"), operator, "not a valid selector operator"
                )
            )
        if as_str(req.get("key")) != "metadata.name":
            errs.append(
                FieldError.invalid(
                    child(rpath, "key"), as_str(req.get("key")), "not a valid field selector key"
                )
            )
    return errs


def _pod_affinity_term(term: dict[str, Any], path: str) -> Errors:
    errs = label_selector(term.get("labelSelector"), child(path, "labelSelector"))
    errs += label_selector(term.get("namespaceSelector"), child(path, "namespaceSelector"))
    for ns in str_list(term.get("namespaces")):
        errs += [FieldError.invalid(child(path, "namespace"), ns, m) for m in is_dns1123_label(ns)]
    topology_key = as_str(term.get("topologyKey"))
    if not topology_key:
        errs.append(FieldError.required(child(path, "topologyKey"), "can not be empty"))
    return errs + label_name(topology_key, child(path, "topologyKey"))


def topology_spread(value: Any, path: str) -> Errors:
    """validateTopologySpreadConstraints; `path` is the pod spec's path."""
    errs: Errors = []
    constraints = [as_dict(c) for c in as_list(value)]
    base = child(path, "topologySpreadConstraints")
    for i, c in enumerate(constraints):
        cpath = index(base, i)
        max_skew = as_int(c.get("maxSkew"))
        if max_skew <= 0:
            errs.append(
                FieldError.invalid(child(cpath, "maxSkew"), max_skew, "must be greater than zero")
            )
        if not as_str(c.get("topologyKey")):
            errs.append(FieldError.required(child(cpath, "topologyKey"), "can not be empty"))
        action = as_str(c.get("whenUnsatisfiable"))
        if action not in ("DoNotSchedule", "ScheduleAnyway"):
            errs.append(
                FieldError.not_supported(
                    child(cpath, "whenUnsatisfiable"), action, ["DoNotSchedule", "ScheduleAnyway"]
                )
            )
        for later in constraints[i + 1 :]:
            if (as_str(later.get("topologyKey")), as_str(later.get("whenUnsatisfiable"))) == (
                as_str(c.get("topologyKey")), action,
            ):  # fmt: skip
                errs.append(
                    FieldError.duplicate(
                        child(cpath, "{topologyKey, whenUnsatisfiable}"),
                        "{" + f"{as_str(c.get('topologyKey'))}, {action}" + "}",
                    )
                )
                break
        min_domains = c.get("minDomains")
        if min_domains is not None:
            if as_int(min_domains) <= 0:
                errs.append(
                    FieldError.invalid(
                        child(cpath, "minDomains"), min_domains, "must be greater than zero"
                    )
                )
            if action != "DoNotSchedule":
                errs.append(
                    FieldError.invalid(
                        child(cpath, "minDomains"), min_domains,
                        f"can only use minDomains if whenUnsatisfiable=DoNotSchedule, not {action}",
                    )
                )  # fmt: skip
        errs += label_selector(c.get("labelSelector"), child(cpath, "labelSelector"))
    return errs
