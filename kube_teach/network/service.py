"""What kube-proxy reads from Services and EndpointSlices: service ports and their endpoints.

Semantics: pkg/proxy's ServiceChangeTracker and EndpointsChangeTracker (servicePortInfo,
BaseEndpointInfo) over core/v1 Service and discovery.k8s.io/v1 EndpointSlice: one entry per
service port, endpoints joined to it by the slice's `kubernetes.io/service-name` label and the
port's name; a nil `ready` counts as ready and a nil `serving` follows `ready`, as the API says.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
DEFAULT_AFFINITY_TIMEOUT = 10800  # seconds: sessionAffinityConfig.clientIP.timeoutSeconds
CLUSTER, LOCAL = "Cluster", "Local"


@dataclass(frozen=True, order=True)
class ServicePortName:
    """`namespace/name:port`, the key kube-proxy uses for one port of one Service."""

    namespace: str
    name: str
    port: str = ""

    def __str__(self) -> str:
        base = f"{self.namespace}/{self.name}"
        return f"{base}:{self.port}" if self.port else base


@dataclass(frozen=True)
class ServicePort:
    """One port of a Service as kube-proxy programs it."""

    name: ServicePortName
    cluster_ip: str
    port: int
    protocol: str = "TCP"
    node_port: int | None = None
    type: str = "ClusterIP"
    session_affinity: bool = False
    affinity_timeout: int = DEFAULT_AFFINITY_TIMEOUT
    external_policy: str = CLUSTER
    internal_policy: str = CLUSTER


@dataclass(frozen=True, order=True)
class Endpoint:
    """One backend: `ip:port` on `node`, with the EndpointSlice conditions."""

    ip: str
    port: int
    node: str = ""
    ready: bool = True
    serving: bool = True
    terminating: bool = False
    pod: str = ""  # "namespace/name" of the targetRef, for reports

    def __str__(self) -> str:
        return f"{self.ip}:{self.port}"


class ServiceError(ValueError):
    """A Service or EndpointSlice kube-proxy cannot read; the text says which field."""


def _meta(obj: Mapping[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return meta.get("namespace") or "default", meta.get("name") or ""


def service_ports(service: Mapping[str, Any]) -> list[ServicePort]:
    """The ports kube-proxy programs for `service`: none for ExternalName or headless
    Services (no ClusterIP to catch), one ServicePort per `spec.ports` entry otherwise."""
    if not isinstance(service, Mapping):
        raise ServiceError(f"a Service must be a dict, not {type(service).__name__}")
    ns, name = _meta(service)
    spec = service.get("spec") or {}
    kind = spec.get("type") or "ClusterIP"
    ip = spec.get("clusterIP") or ""
    if kind == "ExternalName" or ip in ("", "None"):
        return []
    affinity = spec.get("sessionAffinity") == "ClientIP"
    timeout = (
        ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get("timeoutSeconds")
    ) or DEFAULT_AFFINITY_TIMEOUT
    ports = []
    for i, p in enumerate(spec.get("ports") or ()):
        if "port" not in p:
            raise ServiceError(f"Service {ns}/{name}: spec.ports[{i}].port: Required value")
        ports.append(
            ServicePort(
                ServicePortName(ns, name, p.get("name") or ""),
                ip,
                int(p["port"]),
                p.get("protocol") or "TCP",
                p.get("nodePort") if kind in ("NodePort", "LoadBalancer") else None,
                kind,
                affinity,
                int(timeout),
                spec.get("externalTrafficPolicy") or CLUSTER,
                spec.get("internalTrafficPolicy") or CLUSTER,
            )
        )
    return ports


def slice_service(endpoint_slice: Mapping[str, Any]) -> tuple[str, str] | None:
    """(namespace, service name) a slice belongs to, by its label; None if it has none."""
    labels = (endpoint_slice.get("metadata") or {}).get("labels") or {}
    service = labels.get(SERVICE_NAME_LABEL)
    return None if not service else (_meta(endpoint_slice)[0], service)


def slice_endpoints(endpoint_slice: Mapping[str, Any]) -> dict[str, list[Endpoint]]:
    """{port name: endpoints} from one EndpointSlice, each endpoint once per address."""
    ns, _ = _meta(endpoint_slice)
    out: dict[str, list[Endpoint]] = {}
    for p in endpoint_slice.get("ports") or ():
        if p.get("port") is None:
            continue
        for e in endpoint_slice.get("endpoints") or ():
            cond = e.get("conditions") or {}
            ready = cond.get("ready") is not False  # nil means ready, as the API documents
            serving = ready if cond.get("serving") is None else bool(cond["serving"])
            ref = e.get("targetRef") or {}
            pod = f"{ref.get('namespace') or ns}/{ref['name']}" if ref.get("name") else ""
            for address in e.get("addresses") or ():
                out.setdefault(p.get("name") or "", []).append(
                    Endpoint(
                        address,
                        int(p["port"]),
                        e.get("nodeName") or "",
                        ready,
                        serving,
                        bool(cond.get("terminating")),
                        pod,
                    )
                )
    return out


def endpoint_slice(
    service: str,
    pods: Iterable[Mapping[str, Any] | tuple[str, str]],
    port: int,
    *,
    namespace: str = "default",
    port_name: str = "",
    name: str | None = None,
) -> dict[str, Any]:
    """A discovery.k8s.io/v1 EndpointSlice for `service`, as the EndpointSlice controller
    would write it, from pods (dicts with status.podIP, spec.nodeName and a Ready condition)
    or (ip, node) pairs (ready). For tests and notebooks that run without the controller."""
    endpoints = []
    for pod in pods:
        if isinstance(pod, tuple):
            ip, node = pod
            endpoints.append({"addresses": [ip], "conditions": {"ready": True}, "nodeName": node})
            continue
        status, meta = pod.get("status") or {}, pod.get("metadata") or {}
        ready = any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in status.get("conditions") or ()
        )
        terminating = meta.get("deletionTimestamp") is not None
        endpoints.append(
            {
                "addresses": [status.get("podIP")],
                "conditions": {
                    "ready": ready and not terminating,
                    "serving": ready,
                    "terminating": terminating,
                },
                "nodeName": (pod.get("spec") or {}).get("nodeName"),
                "targetRef": {
                    "kind": "Pod",
                    "namespace": meta.get("namespace") or namespace,
                    "name": meta.get("name"),
                },
            }
        )
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": name or f"{service}-abcde",
            "namespace": namespace,
            "labels": {SERVICE_NAME_LABEL: service},
        },
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": [{"name": port_name, "port": port, "protocol": "TCP"}],
    }
