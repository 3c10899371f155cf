"""Validation of pod specs: containers, ports, env, resources, probes, volumes, scheduling.

Semantics: pkg/apis/core/validation (ValidatePodSpec and the container, port, env, resource
and probe validators it calls), in upstream's order and wording; scheduling fields live in
validation_scheduling. Volume sources beyond the common ones are only counted.
"""

from __future__ import annotations

from typing import Any

from .errors import FieldError
from .names import (
    inclusive_range_error,
    is_config_map_key,
    is_relaxed_env_var_name,
    is_valid_port_name,
    is_valid_port_num,
)
from .validation_common import (
    Errors,
    annotations,
    as_dict,
    as_int,
    as_list,
    as_str,
    child,
    dns1123_label,
    index,
    is_int,
    key,
    labels,
    name_is_dns_subdomain,
    nonnegative,
    qualified_name,
    quantity,
    str_list,
)
from .validation_scheduling import (
    affinity,
    dns_config,
    pod_security_context,
    security_context,
    tolerations,
    topology_spread,
)

MAX_INT32 = 2**31 - 1
_PORT_PROTOCOLS = ["SCTP", "TCP", "UDP"]
_PULL_POLICIES = ["Always", "IfNotPresent", "Never"]
_RESTART_POLICIES = ["Always", "OnFailure", "Never"]
_DNS_POLICIES = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"]
_TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"]
_STANDARD_CONTAINER_RESOURCES = {"cpu", "memory", "ephemeral-storage"}
STANDARD_RESOURCES = {
    "cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory",
    "requests.ephemeral-storage", "limits.cpu", "limits.memory", "limits.ephemeral-storage",
    "pods", "services", "replicationcontrollers", "resourcequotas", "secrets", "configmaps",
    "persistentvolumeclaims", "storage", "requests.storage", "services.nodeports",
    "services.loadbalancers",
}  # fmt: skip
_HUGEPAGES = ("hugepages-", "requests.hugepages-", "limits.hugepages-")
_INTEGER_RESOURCES = {"pods", "services", "replicationcontrollers", "resourcequotas", "secrets",
                      "configmaps", "persistentvolumeclaims", "services.nodeports",
                      "services.loadbalancers"}  # fmt: skip
_VOLUME_SOURCES = (  # in upstream's checking order: the second one found is the error
    "emptyDir", "hostPath", "gitRepo", "gcePersistentDisk", "awsElasticBlockStore", "secret",
    "nfs", "iscsi", "glusterfs", "flocker", "persistentVolumeClaim", "rbd", "cinder", "cephfs",
    "quobyte", "downwardAPI", "fc", "flexVolume", "configMap", "azureFile", "vsphereVolume",
    "photonPersistentDisk", "portworxVolume", "azureDisk", "storageos", "projected", "scaleIO",
    "csi", "ephemeral", "image",
)  # fmt: skip


def pod_template(template: Any, path: str) -> Errors:
    """ValidatePodTemplateSpec: template labels and annotations, then the pod spec."""
    template = as_dict(template)
    meta = as_dict(template.get("metadata"))
    errs = labels(meta.get("labels"), child(path, "labels"))
    errs += annotations(meta.get("annotations"), child(path, "annotations"))
    spec = as_dict(template.get("spec"))
    errs += pod_spec(spec, child(path, "spec"))
    if as_list(spec.get("ephemeralContainers")):
        errs.append(
            FieldError.forbidden(
                child(path, "spec", "ephemeralContainers"),
                "ephemeral containers not allowed in pod template",
            )
        )
    return errs


def pod_spec(spec: dict[str, Any], path: str) -> Errors:
    """ValidatePodSpec for a defaulted spec (Pod or pod template)."""
    errs: Errors = []
    grace = spec.get("terminationGracePeriodSeconds")
    if grace is None:
        errs.append(FieldError.required(child(path, "terminationGracePeriodSeconds")))
    vol_errs, volumes = _volumes(spec.get("volumes"), child(path, "volumes"))
    errs += vol_errs
    errs += _containers(spec, volumes, child(path, "containers"))
    errs += _init_containers(spec, volumes, child(path, "initContainers"))
    errs += _host_network_ports(spec, path)
    errs += _enum(spec.get("restartPolicy"), child(path, "restartPolicy"), _RESTART_POLICIES)
    errs += _enum(spec.get("dnsPolicy"), child(path, "dnsPolicy"), _DNS_POLICIES)
    errs += labels(spec.get("nodeSelector"), child(path, "nodeSelector"))
    errs += pod_security_context(spec.get("securityContext"), child(path, "securityContext"))
    errs += affinity(spec.get("affinity"), child(path, "affinity"))
    errs += dns_config(spec, child(path, "dnsConfig"))
    errs += topology_spread(spec.get("topologySpreadConstraints"), path)
    sa = as_str(spec.get("serviceAccountName"))
    if sa:
        errs += [
            FieldError.invalid(child(path, "serviceAccountName"), sa, m)
            for m in name_is_dns_subdomain(sa, False)
        ]
    node = as_str(spec.get("nodeName"))
    if node:
        errs += [
            FieldError.invalid(child(path, "nodeName"), node, m)
            for m in name_is_dns_subdomain(node, False)
        ]
    ads = spec.get("activeDeadlineSeconds")
    if is_int(ads) and not 1 <= ads <= MAX_INT32:
        errs.append(
            FieldError.invalid(
                child(path, "activeDeadlineSeconds"), ads, inclusive_range_error(1, MAX_INT32)
            )
        )
    for field_name in ("hostname", "subdomain"):
        value = as_str(spec.get(field_name))
        if value:
            errs += dns1123_label(value, child(path, field_name))
    errs += tolerations(spec.get("tolerations"), child(path, "tolerations"))
    pcn = as_str(spec.get("priorityClassName"))
    if pcn:
        errs += [
            FieldError.invalid(child(path, "priorityClassName"), pcn, m)
            for m in name_is_dns_subdomain(pcn, False)
        ]
    return errs


def _enum(value: Any, path: str, supported: list[str]) -> Errors:
    # The Required-or-NotSupported pattern of restartPolicy, dnsPolicy, imagePullPolicy ...
    text = as_str(value)
    if not text:
        return [FieldError.required(path)]
    if text not in supported:
        return [FieldError.not_supported(path, text, supported)]
    return []


# -- volumes -----------------------------------------------------------------------------------
def _volumes(value: Any, path: str) -> tuple[Errors, set[str]]:
    errs: Errors = []
    names: set[str] = set()
    for i, vol in enumerate(as_list(value)):
        vol = as_dict(vol)
        vpath = index(path, i)
        name = as_str(vol.get("name"))
        el = _volume_source(vol, vpath)
        if not name:
            el.append(FieldError.required(child(vpath, "name")))
        else:
            el += dns1123_label(name, child(vpath, "name"))
        if name in names:
            el.append(FieldError.duplicate(child(vpath, "name"), name))
        if el:
            errs += el
        else:
            names.add(name)
    return errs, names


def _volume_source(vol: dict[str, Any], path: str) -> Errors:
    errs: Errors = []
    count = 0
    for source in _VOLUME_SOURCES:
        if vol.get(source) is None:
            continue
        if count:
            errs.append(
                FieldError.forbidden(child(path, source), "may not specify more than 1 volume type")
            )
            continue
        count += 1
        body = as_dict(vol.get(source))
        spath = child(path, source)
        if source in ("secret",) and not as_str(body.get("secretName")):
            errs.append(FieldError.required(child(spath, "secretName")))
        elif source == "configMap" and not as_str(body.get("name")):
            errs.append(FieldError.required(child(spath, "name")))
        elif source == "persistentVolumeClaim" and not as_str(body.get("claimName")):
            errs.append(FieldError.required(child(spath, "claimName")))
        elif source == "hostPath" and not as_str(body.get("path")):
            errs.append(FieldError.required(child(spath, "path")))
        for mode_field in ("defaultMode",):
            mode = body.get(mode_field)
            if is_int(mode) and not 0 <= mode <= 0o777:
                errs.append(
                    FieldError.invalid(
                        child(spath, mode_field),
                        mode,
                        "must be a number between 0 and 0777 (octal), both inclusive",
                    )
                )
    if count == 0:
        errs.append(FieldError.required(path, "must specify a volume type"))
    return errs


# -- containers --------------------------------------------------------------------------------
def _containers(spec: dict[str, Any], volumes: set[str], path: str) -> Errors:
    containers = as_list(spec.get("containers"))
    if not containers:
        return [FieldError.required(path)]
    errs: Errors = []
    seen: set[str] = set()
    grace = spec.get("terminationGracePeriodSeconds")
    for i, ctr in enumerate(containers):
        ctr = as_dict(ctr)
        cpath = index(path, i)
        errs += _container_common(ctr, volumes, cpath, spec)
        name = as_str(ctr.get("name"))
        if name in seen:
            errs.append(FieldError.duplicate(child(cpath, "name"), name))
        else:
            seen.add(name)
        if ctr.get("lifecycle") is not None:
            errs += _lifecycle(as_dict(ctr.get("lifecycle")), grace, child(cpath, "lifecycle"))
        errs += _probes(ctr, grace, cpath)
        if ctr.get("restartPolicy") is not None:
            errs.append(
                FieldError.forbidden(
                    child(cpath, "restartPolicy"), "may not be set for non-init containers"
                )
            )
    errs += _host_port_conflicts(containers, path)
    return errs


def _init_containers(spec: dict[str, Any], volumes: set[str], path: str) -> Errors:
    errs: Errors = []
    names = {as_str(as_dict(c).get("name")) for c in as_list(spec.get("containers"))}
    grace = spec.get("terminationGracePeriodSeconds")
    for i, ctr in enumerate(as_list(spec.get("initContainers"))):
        ctr = as_dict(ctr)
        cpath = index(path, i)
        errs += _container_common(ctr, volumes, cpath, spec)
        restart_always = False
        if ctr.get("restartPolicy") is not None:
            policy = as_str(ctr.get("restartPolicy"))
            if policy != "Always":
                errs.append(
                    FieldError.not_supported(child(cpath, "restartPolicy"), policy, ["Always"])
                )
            restart_always = policy == "Always"
        name = as_str(ctr.get("name"))
        if name in names:
            errs.append(FieldError.duplicate(child(cpath, "name"), name))
        elif name:
            names.add(name)
        errs += _host_port_conflicts([ctr], path)
        if restart_always:
            if ctr.get("lifecycle") is not None:
                errs += _lifecycle(as_dict(ctr.get("lifecycle")), grace, child(cpath, "lifecycle"))
            errs += _probes(ctr, grace, cpath)
        else:
            for field_name in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe"):
                if ctr.get(field_name) is not None:
                    errs.append(
                        FieldError.forbidden(
                            child(cpath, field_name),
                            "may not be set for init containers without restartPolicy=Always",
                        )
                    )
    return errs


def _container_common(
    ctr: dict[str, Any], volumes: set[str], path: str, spec: dict[str, Any]
) -> Errors:
    errs: Errors = []
    name = as_str(ctr.get("name"))
    if not name:
        errs.append(FieldError.required(child(path, "name")))
    else:
        errs += dns1123_label(name, child(path, "name"))
    if not as_str(ctr.get("image")):
        errs.append(FieldError.required(child(path, "image")))
    policy = as_str(ctr.get("terminationMessagePolicy"))
    if not policy:
        errs.append(FieldError.required(child(path, "terminationMessagePolicy")))
    elif policy not in ("File", "FallbackToLogsOnError"):
        errs.append(
            FieldError.not_supported(
                child(path, "terminationMessagePolicy"), policy, ["File", "FallbackToLogsOnError"]
            )
        )
    errs += _container_ports(ctr.get("ports"), child(path, "ports"))
    errs += _env(ctr.get("env"), child(path, "env"))
    errs += _env_from(ctr.get("envFrom"), child(path, "envFrom"))
    errs += _volume_mounts(ctr.get("volumeMounts"), volumes, child(path, "volumeMounts"))
    errs += _enum(ctr.get("imagePullPolicy"), child(path, "imagePullPolicy"), _PULL_POLICIES)
    errs += resource_requirements(as_dict(ctr.get("resources")), child(path, "resources"))
    errs += security_context(ctr.get("securityContext"), child(path, "securityContext"))
    return errs


def _container_ports(value: Any, path: str) -> Errors:
    errs: Errors = []
    names: set[str] = set()
    for i, port in enumerate(as_list(value)):
        port = as_dict(port)
        ppath = index(path, i)
        name = as_str(port.get("name"))
        if name:
            msgs = is_valid_port_name(name)
            if msgs:
                errs += [FieldError.invalid(child(ppath, "name"), name, m) for m in msgs]
            elif name in names:
                errs.append(FieldError.duplicate(child(ppath, "name"), name))
            else:
                names.add(name)
        container_port = as_int(port.get("containerPort"))
        if container_port == 0:
            errs.append(FieldError.required(child(ppath, "containerPort")))
        else:
            errs += [
                FieldError.invalid(child(ppath, "containerPort"), container_port, m)
                for m in is_valid_port_num(container_port)
            ]
        host_port = as_int(port.get("hostPort"))
        if host_port != 0:
            errs += [
                FieldError.invalid(child(ppath, "hostPort"), host_port, m)
                for m in is_valid_port_num(host_port)
            ]
        protocol = as_str(port.get("protocol"))
        if not protocol:
            errs.append(FieldError.required(child(ppath, "protocol")))
        elif protocol not in _PORT_PROTOCOLS:
            errs.append(
                FieldError.not_supported(child(ppath, "protocol"), protocol, _PORT_PROTOCOLS)
            )
    return errs


def _host_port_conflicts(containers: list[Any], path: str) -> Errors:
    errs: Errors = []
    seen: set[str] = set()
    for ci, ctr in enumerate(containers):
        for pi, port in enumerate(as_list(as_dict(ctr).get("ports"))):
            port = as_dict(port)
            host_port = as_int(port.get("hostPort"))
            if host_port == 0:
                continue
            token = f"{as_str(port.get('protocol'))}/{as_str(port.get('hostIP'))}/{host_port}"
            if token in seen:
                errs.append(
                    FieldError.duplicate(
                        child(index(child(index(path, ci), "ports"), pi), "hostPort"), token
                    )
                )
            seen.add(token)
    return errs


def _host_network_ports(spec: dict[str, Any], path: str) -> Errors:
    # With hostNetwork, a hostPort other than 0 must equal the containerPort.
    if spec.get("hostNetwork") is not True:
        return []
    errs: Errors = []
    for ci, ctr in enumerate(as_list(spec.get("containers"))):
        for pi, port in enumerate(as_list(as_dict(ctr).get("ports"))):
            port = as_dict(port)
            hp, cp = as_int(port.get("hostPort")), as_int(port.get("containerPort"))
            if hp != 0 and hp != cp:
                ppath = index(child(index(child(path, "containers"), ci), "ports"), pi)
                errs.append(
                    FieldError.invalid(
                        child(ppath, "hostPort"),
                        hp,
                        "must match `containerPort` when `hostNetwork` is true",
                    )
                )
    return errs


def _env(value: Any, path: str) -> Errors:
    errs: Errors = []
    for i, var in enumerate(as_list(value)):
        var = as_dict(var)
        vpath = index(path, i)
        name = as_str(var.get("name"))
        if not name:
            errs.append(FieldError.required(child(vpath, "name")))
        else:
            # RelaxedEnvironmentVariableValidation is GA and locked on since 1.34.
            errs += [
                FieldError.invalid(child(vpath, "name"), name, m)
                for m in is_relaxed_env_var_name(name)
            ]
        errs += _env_value_from(var, child(vpath, "valueFrom"))
    return errs


def _env_value_from(var: dict[str, Any], path: str) -> Errors:
    source = var.get("valueFrom")
    if source is None:
        return []
    source = as_dict(source)
    errs: Errors = []
    count = 0
    for field_name in ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef"):
        ref = source.get(field_name)
        if ref is None:
            continue
        count += 1
        ref = as_dict(ref)
        rpath = child(path, field_name)
        if field_name == "fieldRef":
            if not as_str(ref.get("apiVersion")):
                errs.append(FieldError.required(child(rpath, "apiVersion")))
            elif not as_str(ref.get("fieldPath")):
                errs.append(FieldError.required(child(rpath, "fieldPath")))
        elif field_name == "resourceFieldRef":
            if not as_str(ref.get("resource")):
                errs.append(FieldError.required(child(rpath, "resource")))
        else:
            ref_name = as_str(ref.get("name"))
            errs += [
                FieldError.invalid(child(rpath, "name"), ref_name, m)
                for m in name_is_dns_subdomain(ref_name, False)
            ]
            ref_key = as_str(ref.get("key"))
            if not ref_key:
                errs.append(FieldError.required(child(rpath, "key")))
            else:
                errs += [
                    FieldError.invalid(child(rpath, "key"), ref_key, m)
                    for m in is_config_map_key(ref_key)
                ]
    if count == 0:
        errs.append(
            FieldError.invalid(
                path,
                "",
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or "
                "`secretKeyRef`",
            )
        )
    elif as_str(var.get("value")):
        errs.append(FieldError.invalid(path, "", "may not be specified when `value` is not empty"))
    elif count > 1:
        errs.append(
            FieldError.invalid(path, "", "may not have more than one field specified at a time")
        )
    return errs


def _env_from(value: Any, path: str) -> Errors:
    errs: Errors = []
    for i, source in enumerate(as_list(value)):
        source = as_dict(source)
        spath = index(path, i)
        prefix = as_str(source.get("prefix"))
        if prefix:
            errs += [
                FieldError.invalid(child(spath, "prefix"), prefix, m)
                for m in is_relaxed_env_var_name(prefix)
            ]
        count = 0
        for field_name in ("configMapRef", "secretRef"):
            if source.get(field_name) is None:
                continue
            count += 1
            ref_name = as_str(as_dict(source.get(field_name)).get("name"))
            rpath = child(spath, field_name, "name")
            if not ref_name:
                errs.append(FieldError.required(rpath))
            else:
                errs += [
                    FieldError.invalid(rpath, ref_name, m)
                    for m in name_is_dns_subdomain(ref_name, True)
                ]
        if count == 0:
            errs.append(
                FieldError.invalid(path, "", "must specify one of: `configMapRef` or `secretRef`")
            )
        elif count > 1:
            errs.append(
                FieldError.invalid(path, "", "may not have more than one field specified at a time")
            )
    return errs


def _volume_mounts(value: Any, volumes: set[str], path: str) -> Errors:
    errs: Errors = []
    mount_paths: set[str] = set()
    for i, mount in enumerate(as_list(value)):
        mount = as_dict(mount)
        mpath = index(path, i)
        name = as_str(mount.get("name"))
        if not name:
            errs.append(FieldError.required(child(mpath, "name")))
        if name not in volumes:
            errs.append(FieldError.not_found(child(mpath, "name"), name))
        mount_path = as_str(mount.get("mountPath"))
        if not mount_path:
            errs.append(FieldError.required(child(mpath, "mountPath")))
        if mount_path in mount_paths:
            errs.append(FieldError.invalid(child(mpath, "mountPath"), mount_path, "must be unique"))
        mount_paths.add(mount_path)
    return errs


# -- resources ---------------------------------------------------------------------------------
def resource_requirements(resources: dict[str, Any], path: str) -> Errors:
    """ValidateResourceRequirements: names, non-negative quantities, requests <= limits."""
    errs: Errors = []
    limits, requests = as_dict(resources.get("limits")), as_dict(resources.get("requests"))
    lim_path, req_path = child(path, "limits"), child(path, "requests")
    for name, value in limits.items():
        errs += _resource_name(name, key(lim_path, name))
        errs += _resource_quantity(name, value, key(lim_path, name))
    for name, value in requests.items():
        errs += _resource_name(name, key(req_path, name))
        errs += _resource_quantity(name, value, key(req_path, name))
        req, lim = quantity(value), quantity(limits.get(name))
        if name in limits and req is not None and lim is not None:
            if req.cmp(lim) != 0 and not _overcommit_allowed(name):
                errs.append(
                    FieldError.invalid(
                        req_path, str(req), f"must be equal to {name} limit of {lim}"
                    )
                )
            elif req.cmp(lim) > 0:
                errs.append(
                    FieldError.invalid(
                        req_path, str(req), f"must be less than or equal to {name} limit of {lim}"
                    )
                )
        elif name not in limits and not _overcommit_allowed(name):
            errs.append(
                FieldError.required(lim_path, "Limit must be set for non overcommitable resources")
            )
    return errs


def _overcommit_allowed(name: str) -> bool:
    # Native resources (no domain, or a kubernetes.io domain) other than hugepages overcommit.
    native = "/" not in name or "kubernetes.io/" in name
    return native and not name.startswith("hugepages-")


def _resource_name(name: str, path: str) -> Errors:
    # validateContainerResourceName: a qualified name; unprefixed, it must be standard (first
    # as any resource, then as a container resource: both errors can appear).
    errs = qualified_name(name, path)
    if errs:
        return errs
    if "/" not in name:
        if name not in STANDARD_RESOURCES and not name.startswith(_HUGEPAGES):
            errs.append(
                FieldError.invalid(
                    path, name, "must be a standard resource type or fully qualified"
                )
            )
        if name not in _STANDARD_CONTAINER_RESOURCES and not name.startswith("hugepages-"):
            errs.append(
                FieldError.invalid(path, name, "must be a standard resource for containers")
            )
    return errs


def _resource_quantity(name: str, value: Any, path: str) -> Errors:
    q = quantity(value)
    if q is None:
        return []
    errs: Errors = []
    if q.cmp(0) < 0:
        errs.append(FieldError.invalid(path, str(q), "must be greater than or equal to 0"))
    if name in _INTEGER_RESOURCES and q.milli_value() % 1000 != 0:
        errs.append(FieldError.invalid(path, str(q), "must be an integer"))
    return errs


# -- probes and handlers -----------------------------------------------------------------------
def _probes(ctr: dict[str, Any], grace: Any, path: str) -> Errors:
    errs: Errors = []
    for field_name in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = ctr.get(field_name)
        if probe is None:
            continue
        probe = as_dict(probe)
        ppath = child(path, field_name)
        errs += _probe(probe, grace, ppath)
        if field_name == "readinessProbe":
            if probe.get("terminationGracePeriodSeconds") is not None:
                errs.append(
                    FieldError.invalid(
                        child(ppath, "terminationGracePeriodSeconds"),
                        probe.get("terminationGracePeriodSeconds"),
                        "must not be set for readinessProbes",
                    )
                )
        elif as_int(probe.get("successThreshold")) != 1:
            errs.append(
                FieldError.invalid(
                    child(ppath, "successThreshold"),
                    as_int(probe.get("successThreshold")),
                    "must be 1",
                )
            )
    return errs


def _probe(probe: dict[str, Any], grace: Any, path: str) -> Errors:
    errs = _handler(probe, grace, path, ("exec", "httpGet", "tcpSocket", "grpc"))
    for field_name in (
        "initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold",
        "failureThreshold",
    ):  # fmt: skip
        errs += nonnegative(probe.get(field_name), child(path, field_name))
    tgps = probe.get("terminationGracePeriodSeconds")
    if is_int(tgps) and tgps <= 0:
        errs.append(
            FieldError.invalid(
                child(path, "terminationGracePeriodSeconds"), tgps, "must be greater than 0"
            )
        )
    return errs


def _lifecycle(lifecycle: dict[str, Any], grace: Any, path: str) -> Errors:
    errs: Errors = []
    for hook in ("postStart", "preStop"):
        if lifecycle.get(hook) is not None:
            errs += _handler(
                as_dict(lifecycle.get(hook)), grace, child(path, hook),
                ("exec", "httpGet", "tcpSocket", "sleep"),
            )  # fmt: skip
    return errs


def _handler(handler: dict[str, Any], grace: Any, path: str, kinds: tuple[str, ...]) -> Errors:
    errs: Errors = []
    count = 0
    for kind in kinds:
        if handler.get(kind) is None:
            continue
        if count:
            errs.append(
                FieldError.forbidden(child(path, kind), "may not specify more than 1 handler type")
            )
            continue
        count += 1
        body = as_dict(handler.get(kind))
        hpath = child(path, kind)
        if kind == "exec" and not str_list(body.get("command")):
            errs.append(FieldError.required(child(hpath, "command")))
        elif kind == "httpGet":
            if not as_str(body.get("path")):
                errs.append(FieldError.required(child(hpath, "path")))
            errs += port_num_or_name(body.get("port"), child(hpath, "port"))
            scheme = as_str(body.get("scheme"))
            if scheme not in ("HTTP", "HTTPS"):
                errs.append(
                    FieldError.not_supported(child(hpath, "scheme"), scheme, ["HTTP", "HTTPS"])
                )
        elif kind in ("tcpSocket", "grpc"):
            errs += port_num_or_name(body.get("port"), child(hpath, "port"))
        elif kind == "sleep":
            seconds, limit = as_int(body.get("seconds")), as_int(grace)
            if seconds <= 0 or seconds > limit:
                errs.append(
                    FieldError.invalid(
                        hpath, seconds,
                        f"must be greater than 0 and less than terminationGracePeriodSeconds ({limit})",
                    )
                )  # fmt: skip
    if count == 0:
        errs.append(FieldError.required(path, "must specify a handler type"))
    return errs


def port_num_or_name(port: Any, path: str) -> Errors:
    """ValidatePortNumOrName: an int in 1..65535 or an IANA service name."""
    if isinstance(port, str):
        return [FieldError.invalid(path, port, m) for m in is_valid_port_name(port)]
    value = as_int(port)
    return [FieldError.invalid(path, value, m) for m in is_valid_port_num(value)]
