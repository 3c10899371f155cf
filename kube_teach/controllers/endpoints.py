"""The Endpoints a Service should have: which pods, which addresses, which ports. Pure functions.

Semantics: pkg/controller/endpoint (syncService, addEndpointSubset), pkg/controller/util/endpoint
(ShouldPodBeInEndpoints, ShouldSetHostname), pkg/api/v1/pod FindPort and pkg/api/v1/endpoints
RepackSubsets. The EndpointSlice controller shares the pod and port rules defined here.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ._util import deleting, is_pod_ready, labels, meta, name, phase, selector_matches, spec, uid

#: The label the Endpoints controller puts on what it writes (endpointscontroller.LabelManagedBy).
LABEL_MANAGED_BY = "endpoints.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpoint-controller"
#: Set on the Endpoints (and EndpointSlices) of a headless Service.
LABEL_HEADLESS = "service.kubernetes.io/headless"
#: An Endpoints object holds at most this many addresses (maxCapacity); beyond it the controller
#: truncates and says so with this annotation.
MAX_CAPACITY = 1000
OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"


class PortNotFound(LookupError):
    """A Service port whose named targetPort no container of the pod declares (FindPort)."""


def service_selects(service: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    """The Service has a selector and the pod, in the same namespace, matches it.

    A Service's selector is a plain map: an empty or absent one selects nothing here, because
    the controllers leave Services without a selector to whoever manages their endpoints.
    """
    selector = spec(service).get("selector") or {}
    if not selector:
        return False
    if (meta(service).get("namespace") or "") != (meta(pod).get("namespace") or ""):
        return False
    return selector_matches({"matchLabels": selector}, labels(pod))


def pod_ips(pod: Mapping[str, Any]) -> list[str]:
    """The pod's IPs, primary first (status.podIPs, or the older status.podIP)."""
    status = pod.get("status") or {}
    ips = [entry.get("ip") for entry in status.get("podIPs") or () if entry.get("ip")]
    if not ips and status.get("podIP"):
        ips = [status["podIP"]]
    return ips


def should_pod_be_in_endpoints(pod: Mapping[str, Any], include_terminating: bool) -> bool:
    """ShouldPodBeInEndpoints: not Succeeded or Failed, has an IP, and not being deleted unless
    `include_terminating` (the Endpoints controller passes publishNotReadyAddresses; the
    EndpointSlice controller always passes True)."""
    if phase(pod) in ("Succeeded", "Failed"):
        return False
    if not pod_ips(pod):
        return False
    return include_terminating or not deleting(pod)


def should_set_hostname(pod: Mapping[str, Any], service: Mapping[str, Any]) -> bool:
    """A pod's hostname is published when its subdomain names the Service (same namespace)."""
    return (
        bool(spec(pod).get("hostname"))
        and spec(pod).get("subdomain") == name(service)
        and meta(pod).get("namespace") == meta(service).get("namespace")
    )


def find_port(pod: Mapping[str, Any], service_port: Mapping[str, Any]) -> int:
    """The container port a Service port reaches on `pod` (podutil.FindPort).

    A numeric targetPort is used as is (absent means the Service port, as defaulting does); a
    named one is looked up among the containers' ports (and sidecars') with the same name and
    protocol. Raises PortNotFound with upstream's text when none declares it.
    """
    target = service_port.get("targetPort")
    if target in (None, "", 0):
        target = service_port.get("port")
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = service_port.get("protocol") or "TCP"
    pod_spec = spec(pod)
    sidecars = [
        c for c in pod_spec.get("initContainers") or () if c.get("restartPolicy") == "Always"
    ]
    for container in [*(pod_spec.get("containers") or ()), *sidecars]:
        for port in container.get("ports") or ():
            if port.get("name") == target and (port.get("protocol") or "TCP") == protocol:
                return int(port.get("containerPort") or 0)
    raise PortNotFound(f"no suitable port for manifest: {uid(pod)}")


def endpoint_port(service_port: Mapping[str, Any], number: int) -> dict[str, Any]:
    """The EndpointPort for one Service port resolved to `number`."""
    port: dict[str, Any] = {"port": number, "protocol": service_port.get("protocol") or "TCP"}
    if service_port.get("name"):
        port["name"] = service_port["name"]
    if service_port.get("appProtocol"):
        port["appProtocol"] = service_port["appProtocol"]
    return port


def is_headless(service: Mapping[str, Any]) -> bool:
    return spec(service).get("clusterIP") == "None"


def endpoint_address(pod: Mapping[str, Any], service: Mapping[str, Any]) -> dict[str, Any]:
    """The EndpointAddress for a pod: its primary IP, node, hostname and a reference to it."""
    address: dict[str, Any] = {"ip": pod_ips(pod)[0]}
    if should_set_hostname(pod, service):
        address["hostname"] = spec(pod)["hostname"]
    if spec(pod).get("nodeName"):
        address["nodeName"] = spec(pod)["nodeName"]
    address["targetRef"] = {
        "kind": "Pod",
        "namespace": meta(pod).get("namespace") or "",
        "name": name(pod),
        "uid": uid(pod),
    }
    return address


def compute_subsets(
    service: Mapping[str, Any], pods: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The Endpoints subsets for `service` over the candidate `pods` (any namespace).

    Ready pods (or every pod, with publishNotReadyAddresses) go to `addresses`, the others to
    `notReadyAddresses`; a pod lacking a named port is left out of that port only; a headless
    Service without ports lists its pods with no ports. Subsets are repacked: pods reaching the
    same set of ports share one subset. Upstream then orders subsets and ports by a hash of
    their printed form; here ports sort by (name, port, protocol) and subsets by their ports,
    and addresses by IP then UID as upstream does.
    """
    tolerate_unready = bool(spec(service).get("publishNotReadyAddresses"))
    ports = list(spec(service).get("ports") or ())
    entries: list[tuple[dict[str, Any], dict[str, Any] | None, bool]] = []
    for pod in pods:
        if not service_selects(service, pod):
            continue
        if not should_pod_be_in_endpoints(pod, include_terminating=tolerate_unready):
            continue
        address = endpoint_address(pod, service)
        ready = tolerate_unready or is_pod_ready(pod)
        if not ports:
            if is_headless(service):
                entries.append((address, None, ready))
            continue
        for service_port in ports:
            try:
                number = find_port(pod, service_port)
            except PortNotFound:
                continue
            entries.append((address, endpoint_port(service_port, number), ready))
    return repack(entries)


def _port_key(port: Mapping[str, Any]) -> tuple[str, int, str]:
    return (port.get("name", ""), int(port.get("port", 0)), port.get("protocol", ""))


def _address_key(address: Mapping[str, Any]) -> tuple[str, str]:
    return (address["ip"], (address.get("targetRef") or {}).get("uid", ""))


def repack(
    entries: Iterable[tuple[dict[str, Any], dict[str, Any] | None, bool]],
) -> list[dict[str, Any]]:
    """RepackSubsets: (address, port or None, ready) triples grouped so that each address
    appears in exactly one subset, next to the exact set of ports it serves."""
    by_address: dict[tuple[str, str], tuple[dict[str, Any], bool, dict[tuple, dict]]] = {}
    for address, port, ready in entries:
        key = _address_key(address)
        known = by_address.get(key)
        if known is None:
            known = by_address[key] = (address, ready, {})
        if port is not None:
            known[2][_port_key(port)] = port
    groups: dict[tuple, dict[str, Any]] = {}
    for key in sorted(by_address):
        address, ready, ports = by_address[key]
        port_set = tuple(sorted(ports))
        subset = groups.setdefault(
            port_set, {"addresses": [], "notReadyAddresses": [], "ports": []}
        )
        if not subset["ports"]:
            subset["ports"] = [copy.deepcopy(ports[k]) for k in port_set]
        subset["addresses" if ready else "notReadyAddresses"].append(copy.deepcopy(address))
    out = []
    for port_set in sorted(groups):
        subset = {k: v for k, v in groups[port_set].items() if v}
        out.append(subset)
    return out


def truncate(subsets: Sequence[dict[str, Any]], max_capacity: int = MAX_CAPACITY) -> bool:
    """Cut `subsets` down to `max_capacity` addresses in place (truncateEndpoints); True if
    anything was cut. Ready addresses come first: with more ready ones than fit, every
    not-ready one goes and the ready ones are cut; otherwise only not-ready ones are cut.
    Each subset keeps ceil(its share × room) in order, the last ones what is left."""
    ready = sum(len(s.get("addresses") or ()) for s in subsets)
    not_ready = sum(len(s.get("notReadyAddresses") or ()) for s in subsets)
    if ready + not_ready <= max_capacity:
        return False
    cut_ready = ready > max_capacity
    room, total = (max_capacity, ready) if cut_ready else (max_capacity - ready, not_ready)
    left = room
    field = "addresses" if cut_ready else "notReadyAddresses"
    for subset in subsets:
        items = subset.get(field) or []
        # float arithmetic, as upstream computes the share
        share = min(math.ceil(len(items) / total * room), left)
        if items:
            subset[field] = items[:share]
        if cut_ready:
            subset.pop("notReadyAddresses", None)
        left -= len(subset.get(field) or ())
        if not subset.get(field):
            subset.pop(field, None)
    return True


def desired_endpoints(
    service: Mapping[str, Any], pods: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """The whole Endpoints object the controller wants for `service`: named as the Service, its
    labels copied, plus the headless and managed-by labels; over 1000 addresses it is
    truncated and annotated."""
    subsets = compute_subsets(service, pods)
    obj_labels = dict(labels(service))
    if is_headless(service):
        obj_labels[LABEL_HEADLESS] = ""
    else:
        obj_labels.pop(LABEL_HEADLESS, None)
    obj_labels[LABEL_MANAGED_BY] = CONTROLLER_NAME
    metadata: dict[str, Any] = {
        "name": name(service),
        "namespace": meta(service).get("namespace") or "default",
        "labels": obj_labels,
    }
    if truncate(subsets):
        metadata["annotations"] = {OVER_CAPACITY: "truncated"}
    out: dict[str, Any] = {"apiVersion": "v1", "kind": "Endpoints", "metadata": metadata}
    if subsets:
        out["subsets"] = subsets
    return out


def endpoints_changed(current: Mapping[str, Any] | None, desired: Mapping[str, Any]) -> bool:
    """Whether the stored Endpoints differ from the desired ones in subsets, labels or the
    over-capacity annotation (the only fields the controller owns)."""
    if current is None:
        return True
    if (current.get("subsets") or []) != (desired.get("subsets") or []):
        return True
    if dict(labels(current)) != dict(labels(desired)):
        return True
    cur_ann = (meta(current).get("annotations") or {}).get(OVER_CAPACITY)
    want_ann = (meta(desired).get("annotations") or {}).get(OVER_CAPACITY)
    return cur_ann != want_ann


__all__ = [
    "CONTROLLER_NAME",
    "LABEL_HEADLESS",
    "LABEL_MANAGED_BY",
    "MAX_CAPACITY",
    "OVER_CAPACITY",
    "PortNotFound",
    "compute_subsets",
    "desired_endpoints",
    "endpoint_address",
    "endpoint_port",
    "endpoints_changed",
    "find_port",
    "is_headless",
    "pod_ips",
    "repack",
    "service_selects",
    "should_pod_be_in_endpoints",
    "should_set_hostname",
    "truncate",
]
