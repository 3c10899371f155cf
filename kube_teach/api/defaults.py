"""The API server's defaulting: the values a real cluster fills in before validating and storing.

Semantics: the SetDefaults_* functions and the generated defaulters of pkg/apis/core/v1,
apps/v1, autoscaling/v1 and v2, networking/v1, scheduling/v1, rbac/v1 and discovery/v1, plus
the v1 Secret conversion that folds stringData into data. Registry-time changes (cluster IPs,
namespace finalizers, name generation) belong to the API server, not here.
"""

from __future__ import annotations

import base64
import copy
import re
from collections.abc import Callable
from typing import Any

from .quantity import Quantity, QuantityError

__all__ = ["apply_defaults", "image_pull_policy"]

Obj = dict[str, Any]


def apply_defaults(obj: dict[str, Any]) -> dict[str, Any]:
    """A defaulted deep copy of `obj`; the input is never modified.

    Defaulting is idempotent (defaulting twice changes nothing) and never raises: fields of the
    wrong JSON type are left as they are for validation to report. Kinds without defaults come
    back as a plain copy. Key order may differ from a server's JSON; values do not.
    """
    out = copy.deepcopy(obj)
    if not isinstance(out, dict):
        return out
    defaulter = _DEFAULTERS.get(out.get("kind")) if isinstance(out.get("kind"), str) else None
    if defaulter is not None:
        defaulter(out)
    return out


# -- small helpers: only ever fill in, never replace a value of the wrong type -----------------
def _obj(parent: Obj, key: str, create: bool = False) -> Obj | None:
    value = parent.get(key)
    if isinstance(value, dict):
        return value
    if value is None and create:
        parent[key] = {}
        return parent[key]
    return None


def _items(parent: Obj, key: str) -> list[Obj]:
    value = parent.get(key)
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _unset(parent: Obj, key: str) -> bool:
    # Go's zero value for a string, number, pointer or absent field.
    return parent.get(key) in (None, "", 0) and parent.get(key) is not False


def _default(parent: Obj, key: str, value: Any) -> None:
    if _unset(parent, key):
        parent[key] = value


# -- container images --------------------------------------------------------------------------
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_DOMAIN = (
    r"(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
    r"(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
)
_REFERENCE = re.compile(
    rf"(?P<name>(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?"
)
_BARE_DIGEST = re.compile(r"[a-f0-9]{64}")


def image_pull_policy(image: str) -> str:
    """`Always` when the image's tag is `latest` or it has neither tag nor digest, else
    `IfNotPresent` (also for references that do not parse, as upstream ignores the error)."""
    match = _REFERENCE.fullmatch(image) if isinstance(image, str) else None
    if match is None or _BARE_DIGEST.fullmatch(image) or len(match.group("name")) > 255:
        return "IfNotPresent"
    tag, digest = match.group("tag"), match.group("digest")
    if tag == "latest" or (not tag and not digest):
        return "Always"
    return "IfNotPresent"


# -- resources ---------------------------------------------------------------------------------
def _round_resource_list(resources: Obj | None) -> None:
    # SetDefaults_ResourceList: values finer than a milli-unit are rounded up to one; every
    # value is then written in the form the server serializes it.
    if resources is None:
        return
    for name, value in list(resources.items()):
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            continue
        try:
            q = Quantity(value)
        except (QuantityError, TypeError, ValueError, ArithmeticError):
            continue
        nanos = q.as_fraction() * 10**9
        if nanos.numerator % 10**6 != 0:
            magnitude = -(-abs(nanos) // 10**6) * 10**6  # away from zero, to whole millis
            delta = int(magnitude - abs(nanos))
            q = q + (Quantity(f"{delta}n") if nanos > 0 else Quantity(f"-{delta}n"))
        # The server stores what Quantity.String() prints: "1000m" comes back as "1".
        resources[name] = str(q)


# -- pods --------------------------------------------------------------------------------------
def _probe(probe: Obj | None) -> None:
    if probe is None:
        return
    for key, value in (("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1),
                       ("failureThreshold", 3)):  # fmt: skip
        _default(probe, key, value)
    _handler(probe)
    grpc = _obj(probe, "grpc")
    if grpc is not None and grpc.get("service") is None:
        grpc["service"] = ""


def _handler(handler: Obj | None) -> None:
    if handler is None:
        return
    http = _obj(handler, "httpGet")
    if http is not None:
        _default(http, "path", "/")
        _default(http, "scheme", "HTTP")


def _container(ctr: Obj) -> None:
    if _unset(ctr, "imagePullPolicy"):
        ctr["imagePullPolicy"] = image_pull_policy(ctr.get("image", ""))
    _default(ctr, "terminationMessagePath", "/dev/termination-log")
    _default(ctr, "terminationMessagePolicy", "File")
    for port in _items(ctr, "ports"):
        _default(port, "protocol", "TCP")
    for var in _items(ctr, "env"):
        source = _obj(var, "valueFrom")
        field_ref = _obj(source, "fieldRef") if source is not None else None
        if field_ref is not None:
            _default(field_ref, "apiVersion", "v1")
    resources = _obj(ctr, "resources")
    if resources is not None:
        _round_resource_list(_obj(resources, "limits"))
        _round_resource_list(_obj(resources, "requests"))
    for name in ("livenessProbe", "readinessProbe", "startupProbe"):
        _probe(_obj(ctr, name))
    lifecycle = _obj(ctr, "lifecycle")
    if lifecycle is not None:
        _handler(_obj(lifecycle, "postStart"))
        _handler(_obj(lifecycle, "preStop"))


_VOLUME_SOURCES = (
    "hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "secret",
    "nfs", "iscsi", "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder",
    "cephfs", "flocker", "downwardAPI", "fc", "azureFile", "configMap", "vsphereVolume",
    "quobyte", "azureDisk", "photonPersistentDisk", "projected", "portworxVolume", "scaleIO",
    "storageos", "csi", "ephemeral", "image",
)  # fmt: skip


def _volume(volume: Obj) -> None:
    if all(volume.get(source) is None for source in _VOLUME_SOURCES):
        volume["emptyDir"] = {}
    host_path = _obj(volume, "hostPath")
    if host_path is not None and host_path.get("type") is None:
        host_path["type"] = ""
    for source in ("secret", "configMap", "downwardAPI", "projected"):
        body = _obj(volume, source)
        if body is not None and body.get("defaultMode") is None:
            body["defaultMode"] = 420  # 0644
    downward = _obj(volume, "downwardAPI")
    for item in _items(downward, "items") if downward is not None else []:
        field_ref = _obj(item, "fieldRef")
        if field_ref is not None:
            _default(field_ref, "apiVersion", "v1")
    projected = _obj(volume, "projected")
    for source in _items(projected, "sources") if projected is not None else []:
        token = _obj(source, "serviceAccountToken")
        if token is not None and token.get("expirationSeconds") is None:
            token["expirationSeconds"] = 3600
        projected_downward = _obj(source, "downwardAPI")
        for item in _items(projected_downward, "items") if projected_downward is not None else []:
            field_ref = _obj(item, "fieldRef")
            if field_ref is not None:
                _default(field_ref, "apiVersion", "v1")


def _pod_spec(spec: Obj) -> None:
    """SetDefaults_PodSpec and the generated per-field defaults (pods and templates alike)."""
    _default(spec, "dnsPolicy", "ClusterFirst")
    _default(spec, "restartPolicy", "Always")
    if spec.get("securityContext") is None:
        spec["securityContext"] = {}
    if spec.get("terminationGracePeriodSeconds") is None:
        spec["terminationGracePeriodSeconds"] = 30
    _default(spec, "schedulerName", "default-scheduler")
    for volume in _items(spec, "volumes"):
        _volume(volume)
    for name in ("initContainers", "containers", "ephemeralContainers"):
        for ctr in _items(spec, name):
            _container(ctr)


def _pod(pod: Obj) -> None:
    """SetDefaults_Pod: only real pods get requests from limits, service links, host ports."""
    spec = _obj(pod, "spec", create=True)
    if spec is None:
        return
    for name in ("containers", "initContainers"):
        for ctr in _items(spec, name):
            resources = _obj(ctr, "resources")
            limits = _obj(resources, "limits") if resources is not None else None
            if limits is None:
                continue
            requests = _obj(resources, "requests", create=True)
            if requests is None:
                continue
            for key, value in limits.items():
                requests.setdefault(key, copy.deepcopy(value))
    if spec.get("enableServiceLinks") is None:
        spec["enableServiceLinks"] = True
    if spec.get("hostNetwork") is True:
        for name in ("containers", "initContainers"):
            for ctr in _items(spec, name):
                for port in _items(ctr, "ports"):
                    if _unset(port, "hostPort"):
                        port["hostPort"] = port.get("containerPort")
    _pod_spec(spec)


def _template(owner: Obj) -> None:
    # A PodTemplateSpec is a struct value: its spec is always defaulted, even when absent.
    spec = _obj(owner, "spec", create=True)
    template = _obj(spec, "template", create=True) if spec is not None else None
    pod_spec = _obj(template, "spec", create=True) if template is not None else None
    if pod_spec is not None:
        _pod_spec(pod_spec)


# -- apps --------------------------------------------------------------------------------------
def _deployment(obj: Obj) -> None:
    spec = _obj(obj, "spec", create=True)
    if spec is None:
        return
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    strategy = _obj(spec, "strategy", create=True)
    if strategy is not None:
        _default(strategy, "type", "RollingUpdate")
        if strategy.get("type") == "RollingUpdate":
            rolling = _obj(strategy, "rollingUpdate", create=True)
            if rolling is not None:
                for key in ("maxUnavailable", "maxSurge"):
                    if rolling.get(key) is None:
                        rolling[key] = "25%"
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    if spec.get("progressDeadlineSeconds") is None:
        spec["progressDeadlineSeconds"] = 600
    _template(obj)


def _replica_set(obj: Obj) -> None:
    spec = _obj(obj, "spec", create=True)
    if spec is not None and spec.get("replicas") is None:
        spec["replicas"] = 1
    _template(obj)


def _daemon_set(obj: Obj) -> None:
    spec = _obj(obj, "spec", create=True)
    if spec is None:
        return
    strategy = _obj(spec, "updateStrategy", create=True)
    if strategy is not None:
        _default(strategy, "type", "RollingUpdate")
        if strategy.get("type") == "RollingUpdate":
            rolling = _obj(strategy, "rollingUpdate", create=True)
            if rolling is not None:
                if rolling.get("maxUnavailable") is None:
                    rolling["maxUnavailable"] = 1
                if rolling.get("maxSurge") is None:
                    rolling["maxSurge"] = 0
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    _template(obj)


def _stateful_set(obj: Obj) -> None:
    spec = _obj(obj, "spec", create=True)
    if spec is None:
        return
    _default(spec, "podManagementPolicy", "OrderedReady")
    strategy = _obj(spec, "updateStrategy", create=True)
    if strategy is not None:
        if _unset(strategy, "type"):
            strategy["type"] = "RollingUpdate"
            _obj(strategy, "rollingUpdate", create=True)
        rolling = _obj(strategy, "rollingUpdate")
        if strategy.get("type") == "RollingUpdate" and rolling is not None:
            if rolling.get("partition") is None:
                rolling["partition"] = 0
    retention = _obj(spec, "persistentVolumeClaimRetentionPolicy", create=True)
    if retention is not None:
        _default(retention, "whenDeleted", "Retain")
        _default(retention, "whenScaled", "Retain")
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    for claim in _items(spec, "volumeClaimTemplates"):
        claim_spec = _obj(claim, "spec", create=True)
        if claim_spec is not None:
            _pvc_spec(claim_spec)
        status = _obj(claim, "status", create=True)
        if status is not None:
            _default(status, "phase", "Pending")
    _template(obj)


# -- core objects other than pods --------------------------------------------------------------
def _service(obj: Obj) -> None:
    spec = _obj(obj, "spec", create=True)
    if spec is None:
        return
    _default(spec, "sessionAffinity", "None")
    if spec.get("sessionAffinity") == "None":
        spec.pop("sessionAffinityConfig", None)
    if spec.get("sessionAffinity") == "ClientIP":
        config = spec.get("sessionAffinityConfig")
        client_ip = config.get("clientIP") if isinstance(config, dict) else None
        if not isinstance(client_ip, dict) or client_ip.get("timeoutSeconds") is None:
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": 10800}}
    _default(spec, "type", "ClusterIP")
    for port in _items(spec, "ports"):
        _default(port, "protocol", "TCP")
        if port.get("targetPort") in (None, 0, "") and port.get("targetPort") is not False:
            number = port.get("port")
            port["targetPort"] = number if isinstance(number, int) else 0
    kind = spec.get("type")
    external_ips = spec.get("externalIPs")
    accessible = kind in ("LoadBalancer", "NodePort") or (
        kind == "ClusterIP" and isinstance(external_ips, list) and len(external_ips) > 0
    )
    if accessible:
        _default(spec, "externalTrafficPolicy", "Cluster")
    if spec.get("internalTrafficPolicy") is None and kind in (
        "NodePort",
        "LoadBalancer",
        "ClusterIP",
    ):
        spec["internalTrafficPolicy"] = "Cluster"
    if kind == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        spec["allocateLoadBalancerNodePorts"] = True


def _secret(obj: Obj) -> None:
    _default(obj, "type", "Opaque")
    string_data = obj.get("stringData")
    if isinstance(string_data, dict):
        # Converting v1 to the stored form folds stringData into data, base64-encoded.
        data = obj.get("data") if isinstance(obj.get("data"), dict) else {}
        for key, value in string_data.items():
            if isinstance(value, str):
                data[key] = base64.b64encode(value.encode()).decode()
        obj["data"] = data
        del obj["stringData"]


def _namespace(obj: Obj) -> None:
    meta = _obj(obj, "metadata")
    name = meta.get("name") if meta is not None else None
    if isinstance(name, str) and name:
        labels = _obj(meta, "labels", create=True)
        if labels is not None:
            labels["kubernetes.io/metadata.name"] = name
    status = _obj(obj, "status", create=True)
    if status is not None:
        _default(status, "phase", "Active")


def _node(obj: Obj) -> None:
    status = _obj(obj, "status")
    if status is None:
        return
    capacity = _obj(status, "capacity")
    if status.get("allocatable") is None and capacity is not None:
        status["allocatable"] = copy.deepcopy(capacity)
    _round_resource_list(capacity)
    _round_resource_list(_obj(status, "allocatable"))


def _pvc_spec(spec: Obj) -> None:
    if spec.get("volumeMode") is None:
        spec["volumeMode"] = "Filesystem"
    resources = _obj(spec, "resources")
    if resources is not None:
        _round_resource_list(_obj(resources, "limits"))
        _round_resource_list(_obj(resources, "requests"))


def _pvc(obj: Obj) -> None:
    spec = _obj(obj, "spec", create=True)
    if spec is not None:
        _pvc_spec(spec)
    status = _obj(obj, "status", create=True)
    if status is not None:
        _default(status, "phase", "Pending")


def _pv(obj: Obj) -> None:
    spec = _obj(obj, "spec", create=True)
    if spec is not None:
        _default(spec, "persistentVolumeReclaimPolicy", "Retain")
        if spec.get("volumeMode") is None:
            spec["volumeMode"] = "Filesystem"
        _round_resource_list(_obj(spec, "capacity"))
        host_path = _obj(spec, "hostPath")
        if host_path is not None and host_path.get("type") is None:
            host_path["type"] = ""
    status = _obj(obj, "status", create=True)
    if status is not None:
        _default(status, "phase", "Pending")


def _limit_range(obj: Obj) -> None:
    spec = _obj(obj, "spec")
    for item in _items(spec, "limits") if spec is not None else []:
        if item.get("type") == "Container":
            default = _obj(item, "default", create=True)
            request = _obj(item, "defaultRequest", create=True)
            if default is not None and request is not None:
                for key, value in (_obj(item, "max") or {}).items():
                    default.setdefault(key, copy.deepcopy(value))
                for key, value in default.items():
                    request.setdefault(key, copy.deepcopy(value))
                for key, value in (_obj(item, "min") or {}).items():
                    request.setdefault(key, copy.deepcopy(value))
        for section in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio"):
            _round_resource_list(_obj(item, section))


def _resource_quota(obj: Obj) -> None:
    spec = _obj(obj, "spec")
    if spec is not None:
        _round_resource_list(_obj(spec, "hard"))


def _endpoints(obj: Obj) -> None:
    for subset in _items(obj, "subsets"):
        for port in _items(subset, "ports"):
            _default(port, "protocol", "TCP")


# -- other groups ------------------------------------------------------------------------------
_SCALE_UP = {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
    {"type": "Pods", "value": 4, "periodSeconds": 15},
    {"type": "Percent", "value": 100, "periodSeconds": 15},
]}  # fmt: skip
_SCALE_DOWN = {"selectPolicy": "Max", "policies": [
    {"type": "Percent", "value": 100, "periodSeconds": 15},
]}  # fmt: skip


def _hpa(obj: Obj) -> None:
    spec = _obj(obj, "spec", create=True)
    if spec is None:
        return
    if spec.get("minReplicas") is None:
        spec["minReplicas"] = 1
    if obj.get("apiVersion") == "autoscaling/v1":
        return
    metrics = spec.get("metrics")
    if metrics is None or metrics == []:
        spec["metrics"] = [{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]  # fmt: skip
    behavior = _obj(spec, "behavior")
    if behavior is not None:
        # With a behavior present, every unset rule field takes the default policy's value.
        for direction, rules in (("scaleUp", _SCALE_UP), ("scaleDown", _SCALE_DOWN)):
            given = behavior.get(direction)
            if given is not None and not isinstance(given, dict):
                continue
            merged = copy.deepcopy(rules)
            for key in ("selectPolicy", "stabilizationWindowSeconds", "policies", "tolerance"):
                if isinstance(given, dict) and given.get(key) is not None:
                    merged[key] = given[key]
            behavior[direction] = merged


def _network_policy(obj: Obj) -> None:
    spec = _obj(obj, "spec", create=True)
    if spec is None:
        return
    for direction in ("ingress", "egress"):
        for rule in _items(spec, direction):
            for port in _items(rule, "ports"):
                if port.get("protocol") is None:
                    port["protocol"] = "TCP"
    types = spec.get("policyTypes")
    if types is None or types == []:
        egress = spec.get("egress")
        spec["policyTypes"] = ["Ingress"] + (
            ["Egress"] if isinstance(egress, list) and egress else []
        )


def _priority_class(obj: Obj) -> None:
    if obj.get("preemptionPolicy") is None:
        obj["preemptionPolicy"] = "PreemptLowerPriority"


def _binding(obj: Obj) -> None:
    role_ref = _obj(obj, "roleRef")
    if role_ref is not None:
        _default(role_ref, "apiGroup", "rbac.authorization.k8s.io")
    for subject in _items(obj, "subjects"):
        if _unset(subject, "apiGroup") and subject.get("kind") in ("User", "Group"):
            subject["apiGroup"] = "rbac.authorization.k8s.io"


def _endpoint_slice(obj: Obj) -> None:
    for port in _items(obj, "ports"):
        if port.get("name") is None:
            port["name"] = ""
        if port.get("protocol") is None:
            port["protocol"] = "TCP"


_DEFAULTERS: dict[str, Callable[[Obj], None]] = {
    "Pod": _pod,
    "Deployment": _deployment,
    "ReplicaSet": _replica_set,
    "DaemonSet": _daemon_set,
    "StatefulSet": _stateful_set,
    "Service": _service,
    "Secret": _secret,
    "Namespace": _namespace,
    "Node": _node,
    "PersistentVolumeClaim": _pvc,
    "PersistentVolume": _pv,
    "LimitRange": _limit_range,
    "ResourceQuota": _resource_quota,
    "Endpoints": _endpoints,
    "HorizontalPodAutoscaler": _hpa,
    "NetworkPolicy": _network_policy,
    "PriorityClass": _priority_class,
    "RoleBinding": _binding,
    "ClusterRoleBinding": _binding,
    "EndpointSlice": _endpoint_slice,
}
