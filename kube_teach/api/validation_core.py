"""Validation of the core/v1 Pod and Service: create rules and their update rules.

Semantics: pkg/apis/core/validation (ValidatePodCreate, ValidatePodUpdate, ValidateService,
ValidateServiceUpdate), in upstream's order and wording.
"""

from __future__ import annotations

from typing import Any

from .errors import FieldError
from .names import is_valid_ip
from .validation_common import (
    Errors,
    as_dict,
    as_int,
    as_list,
    as_str,
    child,
    dns1123_label,
    dns1123_subdomain,
    index,
    is_int,
    labels,
    name_is_dns1035_label,
    name_is_dns_subdomain,
    object_meta,
    qualified_name,
)
from .validation_pod import pod_spec, port_num_or_name, tolerations

MAX_SECRET_SIZE = 1 * 1024 * 1024
_PROTOCOLS = ["SCTP", "TCP", "UDP"]
_SERVICE_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
_POD_UPDATABLE = (
    "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
    "`spec.tolerations` (only additions to existing tolerations),"
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
)


# -- Pod ---------------------------------------------------------------------------------------
def pod(obj: dict[str, Any]) -> Errors:
    """ValidatePodCreate: metadata, the spec, then the pod-only checks."""
    meta = as_dict(obj.get("metadata"))
    spec = as_dict(obj.get("spec"))
    errs = object_meta(meta, True, name_is_dns_subdomain)
    if "kubernetes.io/config.mirror" in as_dict(meta.get("annotations")) and not as_str(
        spec.get("nodeName")
    ):
        errs.append(
            FieldError.invalid(
                "metadata.annotations[kubernetes.io/config.mirror]",
                as_dict(meta.get("annotations"))["kubernetes.io/config.mirror"],
                "must set spec.nodeName if mirror pod annotation is set",
            )
        )
    errs += pod_spec(spec, "spec")
    for field_name in ("containers", "initContainers"):
        for i, ctr in enumerate(as_list(spec.get(field_name))):
            image = as_str(as_dict(ctr).get("image"))
            if image != image.strip():
                errs.append(
                    FieldError.invalid(
                        child(index(child("spec", field_name), i), "image"),
                        image,
                        "must not have leading or trailing whitespace",
                    )
                )
    if as_list(spec.get("ephemeralContainers")):
        errs.append(FieldError.forbidden("spec.ephemeralContainers", "cannot be set on create"))
    if as_str(spec.get("nodeName")) and as_list(spec.get("schedulingGates")):
        errs.append(
            FieldError.forbidden(
                "spec.nodeName", "cannot be set until all schedulingGates have been cleared"
            )
        )
    return errs


def pod_update(new: dict[str, Any], old: dict[str, Any]) -> Errors:
    """ValidatePodUpdate's spec rules: only images, activeDeadlineSeconds, added tolerations and
    terminationGracePeriodSeconds (-> 1) may change. The trailing diff is a summary of the
    changed fields; upstream prints a go-cmp diff whose spacing is randomized on purpose."""
    new_spec, old_spec = as_dict(new.get("spec")), as_dict(old.get("spec"))
    errs: Errors = []
    for field_name in ("containers", "initContainers"):
        new_ctrs, old_ctrs = as_list(new_spec.get(field_name)), as_list(old_spec.get(field_name))
        path = child("spec", field_name)
        if len(new_ctrs) != len(old_ctrs):
            return errs + [
                FieldError.forbidden(path, "pod updates may not add or remove containers")
            ]
        for i, ctr in enumerate(new_ctrs):
            image = as_str(as_dict(ctr).get("image"))
            if not image:
                errs.append(FieldError.required(child(index(path, i), "image")))
            if image != image.strip():
                errs.append(
                    FieldError.invalid(
                        child(index(path, i), "image"),
                        image,
                        "must not have leading or trailing whitespace",
                    )
                )
    ads, old_ads = new_spec.get("activeDeadlineSeconds"), old_spec.get("activeDeadlineSeconds")
    if ads is not None:
        if is_int(ads) and not 0 <= ads <= 2**31 - 1:
            return errs + [
                FieldError.invalid(
                    "spec.activeDeadlineSeconds", ads, "must be between 0 and 2147483647, inclusive"
                )
            ]
        if is_int(old_ads) and is_int(ads) and old_ads < ads:
            return errs + [
                FieldError.invalid(
                    "spec.activeDeadlineSeconds",
                    ads,
                    "must be less than or equal to previous value",
                )
            ]
    elif old_ads is not None:
        errs.append(
            FieldError.invalid(
                "spec.activeDeadlineSeconds",
                None,
                "must not update from a positive integer to nil value",
            )
        )
    new_tols, old_tols = as_list(new_spec.get("tolerations")), as_list(old_spec.get("tolerations"))
    for tol in old_tols:
        stripped = {k: v for k, v in as_dict(tol).items() if k != "tolerationSeconds"}
        if not any(
            {k: v for k, v in as_dict(t).items() if k != "tolerationSeconds"} == stripped
            for t in new_tols
        ):
            errs.append(
                FieldError.forbidden(
                    "spec.tolerations",
                    "existing toleration can not be modified except its tolerationSeconds",
                )
            )
            break
    else:
        errs += tolerations(new_tols, "spec.tolerations")
    munged = dict(new_spec)
    for field_name in ("containers", "initContainers"):
        if field_name in munged or field_name in old_spec:
            munged[field_name] = [
                {**as_dict(c), "image": as_dict(o).get("image")}
                for c, o in zip(
                    as_list(new_spec.get(field_name)),
                    as_list(old_spec.get(field_name)),
                    strict=False,
                )
            ]
            if field_name not in old_spec and not munged[field_name]:
                del munged[field_name]
    for field_name in ("activeDeadlineSeconds", "tolerations"):
        munged.pop(field_name, None)
        if field_name in old_spec:
            munged[field_name] = old_spec[field_name]
    old_grace = old_spec.get("terminationGracePeriodSeconds")
    if is_int(old_grace) and old_grace < 0 and munged.get("terminationGracePeriodSeconds") == 1:
        munged["terminationGracePeriodSeconds"] = old_grace
    if munged != old_spec:
        changed = sorted(k for k in set(munged) | set(old_spec) if munged.get(k) != old_spec.get(k))
        diff = "\n".join(f"  core.PodSpec{{... {name} changed ...}}" for name in changed)
        errs.append(
            FieldError.forbidden(
                "spec", f"pod updates may not change fields other than {_POD_UPDATABLE}\n{diff}"
            )
        )
    return errs


# -- Service -----------------------------------------------------------------------------------
def service(obj: dict[str, Any]) -> Errors:
    """ValidateService (create)."""
    errs = object_meta(obj.get("metadata"), True, name_is_dns1035_label)
    spec = as_dict(obj.get("spec"))
    kind = as_str(spec.get("type"))
    ports = [as_dict(p) for p in as_list(spec.get("ports"))]
    cluster_ips = [as_str(ip) for ip in as_list(spec.get("clusterIPs"))]
    headless = cluster_ips == ["None"] or (not cluster_ips and spec.get("clusterIP") == "None")
    if not ports and not headless and kind != "ExternalName":
        errs.append(FieldError.required("spec.ports"))
    if kind == "LoadBalancer":
        for i, port in enumerate(ports):
            if as_int(port.get("port")) == 10250:
                errs.append(
                    FieldError.invalid(
                        index("spec.ports", i),
                        10250,
                        "may not expose port 10250 externally since it is used by kubelet",
                    )
                )
        if headless:
            errs.append(
                FieldError.invalid(
                    "spec.clusterIPs[0]",
                    "None",
                    "may not be set to 'None' for LoadBalancer services",
                )
            )
    elif kind == "NodePort" and headless:
        errs.append(
            FieldError.invalid(
                "spec.clusterIPs[0]", "None", "may not be set to 'None' for NodePort services"
            )
        )
    elif kind == "ExternalName":
        if cluster_ips:
            errs.append(
                FieldError.forbidden("spec.clusterIPs", "may not be set for ExternalName services")
            )
        cname = as_str(spec.get("externalName")).removesuffix(".")
        if cname:
            errs += dns1123_subdomain(cname, "spec.externalName")
        else:
            errs.append(FieldError.required("spec.externalName"))
    names: set[str] = set()
    for i, port in enumerate(ports):
        errs += _service_port(port, len(ports) > 1, names, index("spec.ports", i))
    if spec.get("selector") is not None:
        errs += labels(spec.get("selector"), "spec.selector")
    affinity = as_str(spec.get("sessionAffinity"))
    if not affinity:
        errs.append(FieldError.required("spec.sessionAffinity"))
    elif affinity not in ("ClientIP", "None"):
        errs.append(
            FieldError.not_supported("spec.sessionAffinity", affinity, ["ClientIP", "None"])
        )
    if affinity == "None" and spec.get("sessionAffinityConfig") is not None:
        errs.append(
            FieldError.forbidden(
                "spec.sessionAffinityConfig", "must not be set when session affinity is None"
            )
        )
    for i, ip in enumerate(as_list(spec.get("externalIPs"))):
        errs += [
            FieldError.invalid(index("spec.externalIPs", i), ip, m) for m in is_valid_ip(as_str(ip))
        ]
    if not kind:
        errs.append(FieldError.required("spec.type"))
    elif kind not in _SERVICE_TYPES:
        errs.append(FieldError.not_supported("spec.type", kind, _SERVICE_TYPES))
    if kind == "ClusterIP":
        for i, port in enumerate(ports):
            if as_int(port.get("nodePort")) != 0:
                errs.append(
                    FieldError.forbidden(
                        child(index("spec.ports", i), "nodePort"),
                        "may not be used when `type` is 'ClusterIP'",
                    )
                )
    seen_node_ports: set[tuple[str, int]] = set()
    seen_ports: set[tuple[str, int]] = set()
    for i, port in enumerate(ports):
        protocol, node_port = as_str(port.get("protocol")), as_int(port.get("nodePort"))
        if node_port:
            if (protocol, node_port) in seen_node_ports:
                errs.append(
                    FieldError.duplicate(child(index("spec.ports", i), "nodePort"), node_port)
                )
            seen_node_ports.add((protocol, node_port))
    for i, port in enumerate(ports):
        pair = (as_str(port.get("protocol")), as_int(port.get("port")))
        if pair in seen_ports:
            # The bad value is a core.ServicePort with only Protocol and Port set.
            value = {"Name": "", "Protocol": pair[0], "AppProtocol": None, "Port": pair[1],
                     "TargetPort": 0, "NodePort": 0}  # fmt: skip
            errs.append(FieldError.duplicate(index("spec.ports", i), value))
        seen_ports.add(pair)
    if spec.get("allocateLoadBalancerNodePorts") is not None and kind != "LoadBalancer":
        errs.append(
            FieldError.forbidden(
                "spec.allocateLoadBalancerNodePorts",
                "may only be used when `type` is 'LoadBalancer'",
            )
        )
    if kind == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        errs.append(FieldError.required("allocateLoadBalancerNodePorts"))
    errs += _traffic_policies(spec, kind)
    return errs


def _service_port(port: dict[str, Any], require_name: bool, names: set[str], path: str) -> Errors:
    errs: Errors = []
    name = as_str(port.get("name"))
    if require_name and not name:
        errs.append(FieldError.required(child(path, "name")))
    elif name:
        errs += dns1123_label(name, child(path, "name"))
        if name in names:
            errs.append(FieldError.duplicate(child(path, "name"), name))
        else:
            names.add(name)
    number = as_int(port.get("port"))
    if not 1 <= number <= 65535:
        errs.append(
            FieldError.invalid(
                child(path, "port"), number, "must be between 1 and 65535, inclusive"
            )
        )
    protocol = as_str(port.get("protocol"))
    if not protocol:
        errs.append(FieldError.required(child(path, "protocol")))
    elif protocol not in _PROTOCOLS:
        errs.append(FieldError.not_supported(child(path, "protocol"), protocol, _PROTOCOLS))
    errs += port_num_or_name(port.get("targetPort"), child(path, "targetPort"))
    if port.get("appProtocol") is not None:
        errs += qualified_name(as_str(port.get("appProtocol")), child(path, "appProtocol"))
    return errs


def _traffic_policies(spec: dict[str, Any], kind: str) -> Errors:
    errs: Errors = []
    external = kind in ("LoadBalancer", "NodePort") or (
        kind == "ClusterIP" and bool(as_list(spec.get("externalIPs")))
    )
    etp = as_str(spec.get("externalTrafficPolicy"))
    if not external:
        if etp:
            errs.append(
                FieldError.invalid(
                    "spec.externalTrafficPolicy",
                    etp,
                    "may only be set for externally-accessible services",
                )
            )
    elif not etp:
        errs.append(FieldError.required("spec.externalTrafficPolicy"))
    elif etp not in ("Cluster", "Local"):
        errs.append(
            FieldError.not_supported("spec.externalTrafficPolicy", etp, ["Cluster", "Local"])
        )
    itp = spec.get("internalTrafficPolicy")
    if itp is None and kind in ("NodePort", "LoadBalancer", "ClusterIP"):
        errs.append(FieldError.required("spec.internalTrafficPolicy"))
    if itp is not None and itp not in ("Cluster", "Local"):
        errs.append(
            FieldError.not_supported("spec.internalTrafficPolicy", itp, ["Cluster", "Local"])
        )
    return errs


def service_update(new: dict[str, Any], old: dict[str, Any]) -> Errors:
    """ValidateServiceUpdate's clusterIP rule: a set cluster IP may not change."""
    new_spec, old_spec = as_dict(new.get("spec")), as_dict(old.get("spec"))
    if "ExternalName" in (as_str(new_spec.get("type")), as_str(old_spec.get("type"))):
        return []
    new_ips = [as_str(ip) for ip in as_list(new_spec.get("clusterIPs"))]
    old_ips = [as_str(ip) for ip in as_list(old_spec.get("clusterIPs"))]
    if not new_ips and as_str(new_spec.get("clusterIP")):
        new_ips = [as_str(new_spec.get("clusterIP"))]
    if not old_ips and as_str(old_spec.get("clusterIP")):
        old_ips = [as_str(old_spec.get("clusterIP"))]
    if old_ips == ["None"] and new_ips == ["None"]:
        return []
    errs: Errors = []
    if len(old_ips) == len(new_ips):
        for i, ip in enumerate(old_ips):
            if ip != new_ips[i]:
                errs.append(
                    FieldError.invalid(f"spec.clusterIPs[{i}]", new_ips, "may not change once set")
                )
    elif len(old_ips) > len(new_ips):
        if not new_ips:
            errs.append(
                FieldError.invalid(
                    "spec.clusterIPs[0]", new_ips or None, "primary clusterIP can not be unset"
                )
            )
        elif new_ips[0] != old_ips[0]:
            errs.append(
                FieldError.invalid("spec.clusterIPs[0]", new_ips, "may not change once set")
            )
    elif old_ips and new_ips[0] != old_ips[0]:
        errs.append(FieldError.invalid("spec.clusterIPs[0]", new_ips, "may not change once set"))
    return errs
