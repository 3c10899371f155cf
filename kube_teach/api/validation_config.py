"""Validation of core/v1 configuration, cluster and storage kinds: ConfigMap, Secret,
Namespace, Node, ServiceAccount, Endpoints, ResourceQuota, LimitRange, PersistentVolume(Claim),
Event.

Semantics: pkg/apis/core/validation (ValidateConfigMap, ValidateSecret, ValidateNamespace, ...)
and the ConfigMap/Secret `immutable` update rule, in upstream's order and wording.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from .errors import FieldError
from .names import is_config_map_key, is_qualified_name, is_valid_ip
from .validation_common import (
    Errors,
    as_dict,
    as_int,
    as_list,
    as_str,
    child,
    finalizers,
    index,
    key,
    name_is_dns_label,
    name_is_dns_subdomain,
    nonnegative_quantity,
    object_meta,
    qualified_name,
    quantity,
)

MAX_SECRET_SIZE = 1 * 1024 * 1024
_PROTOCOLS = ["SCTP", "TCP", "UDP"]


# -- ConfigMap and Secret ----------------------------------------------------------------------
def config_map(obj: dict[str, Any]) -> Errors:
    """ValidateConfigMap: keys are config-map keys, not in both data and binaryData, <= 1 MiB."""
    errs = object_meta(obj.get("metadata"), True, name_is_dns_subdomain)
    data, binary = as_dict(obj.get("data")), as_dict(obj.get("binaryData"))
    total = 0
    for k, v in data.items():
        errs += [FieldError.invalid(key("data", k), k, m) for m in is_config_map_key(k)]
        if k in binary:
            errs.append(
                FieldError.invalid(key("data", k), k, "duplicate of key present in binaryData")
            )
        total += len(as_str(v).encode())
    for k, v in binary.items():
        errs += [FieldError.invalid(key("binaryData", k), k, m) for m in is_config_map_key(k)]
        total += len(_decoded(v))
    if total > MAX_SECRET_SIZE:
        errs.append(FieldError.too_long("", MAX_SECRET_SIZE))
    return errs


def _decoded(value: Any) -> bytes:
    try:
        return base64.b64decode(as_str(value), validate=False)
    except (binascii.Error, ValueError):
        return b""


def secret(obj: dict[str, Any]) -> Errors:
    """ValidateSecret: data keys, total size, and the keys each well-known type requires."""
    errs = object_meta(obj.get("metadata"), True, name_is_dns_subdomain)
    data = dict(as_dict(obj.get("data")))
    for k, v in as_dict(obj.get("stringData")).items():
        data[k] = base64.b64encode(as_str(v).encode()).decode()  # stringData merges into data
    total = 0
    for k, v in data.items():
        errs += [FieldError.invalid(key("data", k), k, m) for m in is_config_map_key(k)]
        total += len(_decoded(v))
    if total > MAX_SECRET_SIZE:
        errs.append(FieldError.too_long("data", MAX_SECRET_SIZE))
    kind = as_str(obj.get("type"))
    annotations_ = as_dict(as_dict(obj.get("metadata")).get("annotations"))
    if kind == "kubernetes.io/service-account-token":
        if not as_str(annotations_.get("kubernetes.io/service-account.name")):
            errs.append(
                FieldError.required("metadata.annotations[kubernetes.io/service-account.name]")
            )
    elif kind == "kubernetes.io/dockercfg" and ".dockercfg" not in data:
        errs.append(FieldError.required("data[.dockercfg]"))
    elif kind == "kubernetes.io/dockerconfigjson" and ".dockerconfigjson" not in data:
        errs.append(FieldError.required("data[.dockerconfigjson]"))
    elif kind == "kubernetes.io/basic-auth" and "username" not in data and "password" not in data:
        errs += [FieldError.required("data[username]"), FieldError.required("data[password]")]
    elif kind == "kubernetes.io/ssh-auth" and not _decoded(data.get("ssh-privatekey")):
        errs.append(FieldError.required("data[ssh-privatekey]"))
    elif kind == "kubernetes.io/tls":
        for k in ("tls.crt", "tls.key"):
            if k not in data:
                errs.append(FieldError.required(key("data", k)))
    return errs


def immutable_data_update(
    new: dict[str, Any], old: dict[str, Any], fields: tuple[str, ...]
) -> Errors:
    """ConfigMap and Secret updates: `immutable: true` freezes the data (and itself)."""
    errs: Errors = []
    if old.get("immutable") is True:
        if new.get("immutable") is not True:
            errs.append(
                FieldError.forbidden("immutable", "field is immutable when `immutable` is set")
            )
        for field_name in fields:
            if new.get(field_name) != old.get(field_name):
                errs.append(
                    FieldError.forbidden(field_name, "field is immutable when `immutable` is set")
                )
    return errs


# -- cluster and quota objects -----------------------------------------------------------------
def namespace(obj: dict[str, Any]) -> Errors:
    """ValidateNamespace: a DNS-1123 label name; spec.finalizers qualified or standard."""
    errs = object_meta(obj.get("metadata"), False, name_is_dns_label)
    spec_finalizers = as_dict(obj.get("spec")).get("finalizers")
    for err in finalizers(spec_finalizers, "spec.finalizers"):
        errs.append(FieldError(err.type, "spec.finalizers", err.detail, err.bad_value))
    return errs


def node(obj: dict[str, Any]) -> Errors:
    """ValidateNode: name, taints and resource quantities."""
    errs = object_meta(obj.get("metadata"), False, name_is_dns_subdomain)
    seen: set[tuple[str, str]] = set()
    for i, taint in enumerate(as_list(as_dict(obj.get("spec")).get("taints"))):
        taint = as_dict(taint)
        tpath = index("metadata.taints", i)
        tkey, effect = as_str(taint.get("key")), as_str(taint.get("effect"))
        errs += [FieldError.invalid(child(tpath, "key"), tkey, m) for m in is_qualified_name(tkey)]
        if not effect:
            errs.append(FieldError.required(child(tpath, "effect")))
        elif effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            errs.append(
                FieldError.not_supported(
                    child(tpath, "effect"), effect, ["NoSchedule", "PreferNoSchedule", "NoExecute"]
                )
            )
        if (effect, tkey) in seen:
            errs.append(
                FieldError(
                    "Duplicate", tpath, "taints must be unique by key and effect pair", taint
                )
            )
        seen.add((effect, tkey))
    status = as_dict(obj.get("status"))
    for section in ("capacity", "allocatable"):
        for name, value in as_dict(status.get(section)).items():
            errs += nonnegative_quantity(value, f"status.{section}.{name}")
    return errs


def service_account(obj: dict[str, Any]) -> Errors:
    """ValidateServiceAccount: metadata only."""
    return object_meta(obj.get("metadata"), True, name_is_dns_subdomain)


def endpoints(obj: dict[str, Any]) -> Errors:
    """ValidateEndpoints: addresses must be IPs, ports valid."""
    errs = object_meta(obj.get("metadata"), True, name_is_dns_subdomain)
    for i, subset in enumerate(as_list(obj.get("subsets"))):
        subset = as_dict(subset)
        spath = index("subsets", i)
        if not as_list(subset.get("addresses")) and not as_list(subset.get("notReadyAddresses")):
            errs.append(
                FieldError.required(spath, "must specify `addresses` or `notReadyAddresses`")
            )
        for field_name in ("addresses", "notReadyAddresses"):
            for j, address in enumerate(as_list(subset.get(field_name))):
                ip = as_str(as_dict(address).get("ip"))
                errs += [
                    FieldError.invalid(child(index(child(spath, field_name), j), "ip"), ip, m)
                    for m in is_valid_ip(ip)
                ]
        ports = as_list(subset.get("ports"))
        for j, port in enumerate(ports):
            port = as_dict(port)
            ppath = index(child(spath, "ports"), j)
            if len(ports) > 1 and not as_str(port.get("name")):
                errs.append(FieldError.required(child(ppath, "name")))
            number = as_int(port.get("port"))
            if not 1 <= number <= 65535:
                errs.append(
                    FieldError.invalid(
                        child(ppath, "port"), number, "must be between 1 and 65535, inclusive"
                    )
                )
            protocol = as_str(port.get("protocol"))
            if not protocol:
                errs.append(FieldError.required(child(ppath, "protocol")))
            elif protocol not in _PROTOCOLS:
                errs.append(
                    FieldError.not_supported(child(ppath, "protocol"), protocol, _PROTOCOLS)
                )
    return errs


_QUOTA_RESOURCES = {
    "pods", "services", "replicationcontrollers", "resourcequotas", "secrets", "configmaps",
    "persistentvolumeclaims", "services.nodeports", "services.loadbalancers", "cpu", "memory",
    "ephemeral-storage", "storage", "requests.cpu", "requests.memory", "requests.storage",
    "requests.ephemeral-storage", "limits.cpu", "limits.memory", "limits.ephemeral-storage",
}  # fmt: skip
_INTEGER_QUOTA = {"pods", "services", "replicationcontrollers", "resourcequotas", "secrets",
                  "configmaps", "persistentvolumeclaims", "services.nodeports",
                  "services.loadbalancers"}  # fmt: skip


def resource_quota(obj: dict[str, Any]) -> Errors:
    """ValidateResourceQuota: standard quota resource names and valid quantities."""
    errs = object_meta(obj.get("metadata"), True, name_is_dns_subdomain)
    for name, value in as_dict(as_dict(obj.get("spec")).get("hard")).items():
        path = key("spec.hard", name)
        errs += qualified_name(name, path)
        if (
            "/" not in name
            and name not in _QUOTA_RESOURCES
            and not name.startswith(("count/", "requests.hugepages-", "hugepages-"))
        ):
            errs.append(FieldError.invalid(path, name, "must be a standard resource for quota"))
        errs += nonnegative_quantity(value, path)
        q = quantity(value)
        if q is not None and name in _INTEGER_QUOTA and q.milli_value() % 1000 != 0:
            errs.append(FieldError.invalid(path, str(q), "must be an integer"))
    return errs


def limit_range(obj: dict[str, Any]) -> Errors:
    """ValidateLimitRange: types unique, min <= default(request) <= max, ratio >= 1."""
    errs = object_meta(obj.get("metadata"), True, name_is_dns_subdomain)
    seen: set[str] = set()
    for i, item in enumerate(as_list(as_dict(obj.get("spec")).get("limits"))):
        item = as_dict(item)
        ipath = index("spec.limits", i)
        kind = as_str(item.get("type"))
        if "/" not in kind and kind not in ("Pod", "Container", "PersistentVolumeClaim"):
            errs.append(
                FieldError.invalid(
                    child(ipath, "type"), kind, "must be a standard limit type or fully qualified"
                )
            )
        if kind in seen:
            errs.append(FieldError.duplicate(child(ipath, "type"), kind))
        seen.add(kind)
        sections = {s: {k: quantity(v) for k, v in as_dict(item.get(s)).items()} for s in
                    ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio")}  # fmt: skip
        if kind == "Pod":
            for s in ("default", "defaultRequest"):
                if sections[s]:
                    errs.append(
                        FieldError.forbidden(
                            child(ipath, s), "may not be specified when `type` is 'Pod'"
                        )
                    )
        names = sorted(set().union(*(set(v) for v in sections.values())))
        for name in names:
            mn, mx = sections["min"].get(name), sections["max"].get(name)
            dflt, dreq = sections["default"].get(name), sections["defaultRequest"].get(name)
            ratio = sections["maxLimitRequestRatio"].get(name)
            if mn is not None and mx is not None and mn.cmp(mx) > 0:
                errs.append(
                    FieldError.invalid(
                        key(child(ipath, "min"), name),
                        str(mn),
                        f"min value {mn} is greater than max value {mx}",
                    )
                )
            if dreq is not None and mn is not None and mn.cmp(dreq) > 0:
                errs.append(
                    FieldError.invalid(
                        key(child(ipath, "defaultRequest"), name),
                        str(dreq),
                        f"min value {mn} is greater than default request value {dreq}",
                    )
                )
            if dreq is not None and mx is not None and dreq.cmp(mx) > 0:
                errs.append(
                    FieldError.invalid(
                        key(child(ipath, "defaultRequest"), name),
                        str(dreq),
                        f"default request value {dreq} is greater than max value {mx}",
                    )
                )
            if dreq is not None and dflt is not None and dreq.cmp(dflt) > 0:
                errs.append(
                    FieldError.invalid(
                        key(child(ipath, "defaultRequest"), name),
                        str(dreq),
                        f"default request value {dreq} is greater than default limit value {dflt}",
                    )
                )
            if dflt is not None and mn is not None and mn.cmp(dflt) > 0:
                errs.append(
                    FieldError.invalid(
                        key(child(ipath, "default"), name),
                        str(mn),
                        f"min value {mn} is greater than default value {dflt}",
                    )
                )
            if dflt is not None and mx is not None and dflt.cmp(mx) > 0:
                errs.append(
                    FieldError.invalid(
                        key(child(ipath, "default"), name),
                        str(mx),
                        f"default value {dflt} is greater than max value {mx}",
                    )
                )
            if ratio is not None and ratio.cmp(1) < 0:
                errs.append(
                    FieldError.invalid(
                        key(child(ipath, "maxLimitRequestRatio"), name),
                        str(ratio),
                        f"ratio {ratio} is less than 1",
                    )
                )
    return errs


def persistent_volume_claim(obj: dict[str, Any]) -> Errors:
    """ValidatePersistentVolumeClaim: access modes and a positive storage request."""
    errs = object_meta(obj.get("metadata"), True, name_is_dns_subdomain)
    spec = as_dict(obj.get("spec"))
    modes = [as_str(m) for m in as_list(spec.get("accessModes"))]
    supported = ["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"]
    if not modes:
        errs.append(FieldError.required("spec.accessModes", "at least 1 access mode is required"))
    for mode in modes:
        if mode not in supported:
            errs.append(FieldError.not_supported("spec.accessModes", mode, supported))
    if "ReadWriteOncePod" in modes and any(
        m in supported and m != "ReadWriteOncePod" for m in modes
    ):
        errs.append(
            FieldError.forbidden(
                "spec.accessModes", "may not use ReadWriteOncePod with other access modes"
            )
        )
    requests = as_dict(as_dict(spec.get("resources")).get("requests"))
    storage = quantity(requests.get("storage"))
    if "storage" not in requests:
        errs.append(FieldError.required("spec.resources[storage]"))
    elif storage is not None and storage.cmp(0) <= 0:
        errs.append(
            FieldError.invalid("spec.resources[storage]", str(storage), "must be greater than zero")
        )
    return errs


def persistent_volume(obj: dict[str, Any]) -> Errors:
    """ValidatePersistentVolume (common parts): access modes, capacity and one volume source."""
    errs = object_meta(obj.get("metadata"), False, name_is_dns_subdomain)
    spec = as_dict(obj.get("spec"))
    if not as_list(spec.get("accessModes")):
        errs.append(FieldError.required("spec.accessModes"))
    capacity = as_dict(spec.get("capacity"))
    if not capacity:
        errs.append(FieldError.required("spec.capacity"))
    return errs


def event(obj: dict[str, Any]) -> Errors:
    """Events: metadata and the involved object's namespace."""
    return object_meta(obj.get("metadata"), True, name_is_dns_subdomain)
