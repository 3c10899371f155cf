"""The EndpointSlices a Service should have, and the fewest writes to get there. Pure functions.

Semantics: the EndpointSlice reconciler (k8s.io/endpointslice reconciler.go and utils.go:
podToEndpoint, getEndpointPorts, reconcileByPortMapping, the placeholder slice) as the
`endpointslice-controller` of pkg/controller/endpointslice runs it: endpoints grouped by port
set, at most 100 per slice, existing slices kept and filled before new ones are created.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._util import deleting, is_pod_ready, labels, meta, name, spec, uid
from .endpoints import (
    LABEL_HEADLESS,
    PortNotFound,
    find_port,
    is_headless,
    pod_ips,
    service_selects,
    should_pod_be_in_endpoints,
    should_set_hostname,
)

LABEL_SERVICE_NAME = "kubernetes.io/service-name"
LABEL_MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
LABEL_ZONE = "topology.kubernetes.io/zone"
MAX_ENDPOINTS_PER_SLICE = 100  # --max-endpoints-per-slice


def pod_to_endpoint(
    pod: Mapping[str, Any], node: Mapping[str, Any] | None, service: Mapping[str, Any]
) -> dict[str, Any]:
    """The Endpoint for a pod: ready only if serving and not terminating, unless the Service
    publishes not-ready addresses; serving follows the pod's Ready condition even while it
    terminates; zone from the node's topology label."""
    serving = is_pod_ready(pod)
    terminating = deleting(pod)
    ready = bool(spec(service).get("publishNotReadyAddresses")) or (serving and not terminating)
    endpoint: dict[str, Any] = {
        "addresses": [pod_ips(pod)[0]],
        "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
    }
    if should_set_hostname(pod, service):
        endpoint["hostname"] = spec(pod)["hostname"]
    endpoint["targetRef"] = {
        "kind": "Pod",
        "namespace": meta(pod).get("namespace") or "",
        "name": name(pod),
        "uid": uid(pod),
    }
    if spec(pod).get("nodeName"):
        endpoint["nodeName"] = spec(pod)["nodeName"]
    zone = labels(node).get(LABEL_ZONE) if node is not None else None
    if zone:
        endpoint["zone"] = zone
    return endpoint


def endpoint_ports(service: Mapping[str, Any], pod: Mapping[str, Any]) -> list[dict[str, Any]]:
    """getEndpointPorts: one EndpointPort per Service port the pod serves, in Service order;
    a named port the pod lacks is left out."""
    out = []
    for service_port in spec(service).get("ports") or ():
        try:
            number = find_port(pod, service_port)
        except PortNotFound:
            continue
        port: dict[str, Any] = {
            "name": service_port.get("name") or "",
            "port": number,
            "protocol": service_port.get("protocol") or "TCP",
        }
        if service_port.get("appProtocol"):
            port["appProtocol"] = service_port["appProtocol"]
        out.append(port)
    return out


def endpoint_key(endpoint: Mapping[str, Any]) -> tuple:
    """An endpoint's identity across syncs: addresses, hostname and the pod it points at."""
    ref = endpoint.get("targetRef") or {}
    return (
        tuple(sorted(endpoint.get("addresses") or ())),
        endpoint.get("hostname") or "",
        ref.get("namespace") or "",
        ref.get("name") or "",
    )


def ports_key(ports: Iterable[Mapping[str, Any]] | None) -> tuple:
    return tuple(
        sorted(
            (
                p.get("name") or "",
                p.get("port") or 0,
                p.get("protocol") or "TCP",
                p.get("appProtocol") or "",
            )  # fmt: skip
            for p in ports or ()
        )
    )


def slice_labels(service: Mapping[str, Any]) -> dict[str, str]:
    """setEndpointSliceLabels: the Service's labels, the headless label, and the two labels
    that tie a slice to its Service and to this controller."""
    out = {
        k: v
        for k, v in labels(service).items()
        if k not in (LABEL_SERVICE_NAME, LABEL_MANAGED_BY, LABEL_HEADLESS)
    }
    if is_headless(service):
        out[LABEL_HEADLESS] = ""
    out[LABEL_SERVICE_NAME] = name(service)
    out[LABEL_MANAGED_BY] = CONTROLLER_NAME
    return out


def owner_reference(service: Mapping[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "name": name(service), "uid": uid(service),
            "controller": True, "blockOwnerDeletion": True}  # fmt: skip


def new_slice(
    service: Mapping[str, Any], ports: Sequence[Mapping[str, Any]], endpoints: list
) -> dict[str, Any]:
    """A new EndpointSlice body: generateName `<service>-`, owned by the Service."""
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "generateName": f"{name(service)}-",
            "namespace": meta(service).get("namespace") or "default",
            "labels": slice_labels(service),
            "ownerReferences": [owner_reference(service)],
        },
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": copy.deepcopy(list(ports)),
    }


def owned_by(slice_: Mapping[str, Any], service: Mapping[str, Any]) -> bool:
    return any(
        ref.get("uid") == uid(service) and ref.get("kind") == "Service"
        for ref in meta(slice_).get("ownerReferences") or ()
    )


@dataclass
class SlicePlan:
    """The writes one sync makes: slices to POST, to PUT (full bodies) and to DELETE."""

    create: list[dict[str, Any]] = field(default_factory=list)
    update: list[dict[str, Any]] = field(default_factory=list)
    delete: list[Mapping[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # pods left out for a missing node

    @property
    def empty(self) -> bool:
        return not (self.create or self.update or self.delete)


def desired_endpoints(
    service: Mapping[str, Any],
    pods: Iterable[Mapping[str, Any]],
    nodes: Mapping[str, Mapping[str, Any]],
) -> tuple[dict[tuple, tuple[list, dict[tuple, dict]]], list[str]]:
    """Endpoints grouped by port set: {ports key: (ports, {endpoint key: endpoint})}, and the
    errors for pods skipped because their node is not known (the sync retries later)."""
    groups: dict[tuple, tuple[list, dict[tuple, dict]]] = {}
    skipped: list[str] = []
    for pod in pods:
        if not service_selects(service, pod) or not should_pod_be_in_endpoints(pod, True):
            continue
        node_name = spec(pod).get("nodeName") or ""
        node = nodes.get(node_name) if node_name else None
        if node_name and node is None:
            skipped.append(
                f"skipping Pod {name(pod)} for Service {meta(service).get('namespace')}/"
                f"{name(service)}: Node {node_name} Not Found"
            )
            continue
        ports = endpoint_ports(service, pod)
        if not ports and not is_headless(service) and spec(service).get("ports"):
            continue  # a pod that serves none of the Service's ports
        endpoint = pod_to_endpoint(pod, node, service)
        group = groups.setdefault(ports_key(ports), (ports, {}))
        group[1][endpoint_key(endpoint)] = endpoint
    return groups, skipped


def reconcile(
    service: Mapping[str, Any],
    pods: Iterable[Mapping[str, Any]],
    nodes: Mapping[str, Mapping[str, Any]],
    existing: Iterable[Mapping[str, Any]],
    max_per_slice: int = MAX_ENDPOINTS_PER_SLICE,
) -> SlicePlan:
    """The writes that bring `existing` (the slices labelled for this Service) to the desired
    state. Per port set: existing slices drop endpoints no longer wanted and take changed ones
    (a slice left empty is deleted); new endpoints fill the slices being updated first, then
    the fullest unchanged slice that can take them all, then new slices. Slices of another
    owner or of a port set no longer wanted are deleted; a Service with no endpoints keeps one
    empty placeholder slice."""
    plan = SlicePlan()
    groups, plan.skipped = desired_endpoints(service, pods, nodes)
    want_labels = slice_labels(service)
    by_ports: dict[tuple, list[Mapping[str, Any]]] = {}
    considered = 0
    for slice_ in sorted(existing, key=name):
        if deleting(slice_):
            continue  # already on its way out
        considered += 1
        if not owned_by(slice_, service) or slice_.get("addressType", "IPv4") != "IPv4":
            plan.delete.append(slice_)
            continue
        by_ports.setdefault(ports_key(slice_.get("ports")), []).append(slice_)
    for key, slices in by_ports.items():
        if key not in groups:
            plan.delete.extend(slices)
    for key in sorted(groups):
        ports, wanted = groups[key]
        _reconcile_ports(service, ports, dict(wanted), by_ports.get(key, []), want_labels,
                         max_per_slice, plan)  # fmt: skip
    if considered == len(plan.delete) and not plan.create:
        # nothing would be left: keep (or create) one empty placeholder slice
        if len(plan.delete) == 1 and _is_placeholder(plan.delete[0], service, want_labels):
            plan.delete.clear()
        else:
            plan.create.append(new_slice(service, [], []))
    _finalize(service, plan)
    return plan


def _finalize(service: Mapping[str, Any], plan: SlicePlan) -> None:
    """Turn create + delete pairs into updates of the slice that would be deleted, so a
    Service never goes through a moment with fewer slices than it needs (finalize)."""
    i = 0
    while i < len(plan.delete) and plan.create:
        doomed = plan.delete[i]
        if doomed.get("addressType", "IPv4") == "IPv4" and owned_by(doomed, service):
            body = plan.create.pop()
            body["metadata"].pop("generateName", None)
            body["metadata"]["name"] = name(doomed)
            # EndpointSlices allow no unconditional update: write over the version seen
            body["metadata"]["resourceVersion"] = meta(doomed).get("resourceVersion")
            plan.update.append(body)
            del plan.delete[i]
        else:
            i += 1


def _is_placeholder(
    slice_: Mapping[str, Any], service: Mapping[str, Any], want_labels: Mapping[str, str]
) -> bool:
    return (
        not slice_.get("endpoints")
        and not slice_.get("ports")
        and owned_by(slice_, service)
        and dict(labels(slice_)) == dict(want_labels)
    )


def _reconcile_ports(
    service: Mapping[str, Any],
    ports: list,
    wanted: dict[tuple, dict],
    slices: list[Mapping[str, Any]],
    want_labels: dict[str, str],
    max_per_slice: int,
    plan: SlicePlan,
) -> None:
    to_update: list[dict[str, Any]] = []
    unchanged: list[Mapping[str, Any]] = []
    for slice_ in slices:
        kept, changed = [], False
        for endpoint in slice_.get("endpoints") or ():
            got = wanted.pop(endpoint_key(endpoint), None)
            if got is None:
                continue
            kept.append(got)
            changed = changed or got != endpoint
        old = slice_.get("endpoints") or []
        if changed or len(kept) != len(old):
            if len(old) > max_per_slice or not kept:
                plan.delete.append(slice_)
                for endpoint in kept:  # re-placed below
                    wanted[endpoint_key(endpoint)] = endpoint
                continue
            body = copy.deepcopy(dict(slice_))
            body["endpoints"], body["metadata"]["labels"] = kept, dict(want_labels)
            body["ports"] = copy.deepcopy(ports)
            to_update.append(body)
        elif dict(labels(slice_)) != want_labels:
            body = copy.deepcopy(dict(slice_))
            body["metadata"]["labels"] = dict(want_labels)
            to_update.append(body)
        else:
            unchanged.append(slice_)
    remaining = [wanted[k] for k in sorted(wanted)]
    # 1. fill the slices that are written anyway, fullest first
    for body in sorted(to_update, key=lambda b: -len(b["endpoints"])):
        room = max_per_slice - len(body["endpoints"])
        if room > 0 and remaining:
            body["endpoints"].extend(remaining[:room])
            remaining = remaining[room:]
    # 2. the fullest unchanged slice that can take everything left
    if remaining and len(remaining) < max_per_slice:
        fits = [
            s for s in unchanged if len(s.get("endpoints") or ()) + len(remaining) <= max_per_slice
        ]
        if fits:
            target = max(fits, key=lambda s: len(s.get("endpoints") or ()))
            body = copy.deepcopy(dict(target))
            body["endpoints"] = [*(body.get("endpoints") or []), *remaining]
            to_update.append(body)
            remaining = []
    # 3. new slices for the rest
    while remaining:
        plan.create.append(new_slice(service, ports, remaining[:max_per_slice]))
        remaining = remaining[max_per_slice:]
    plan.update.extend(to_update)


__all__ = [
    "CONTROLLER_NAME",
    "LABEL_MANAGED_BY",
    "LABEL_SERVICE_NAME",
    "LABEL_ZONE",
    "MAX_ENDPOINTS_PER_SLICE",
    "SlicePlan",
    "desired_endpoints",
    "endpoint_key",
    "endpoint_ports",
    "new_slice",
    "owned_by",
    "pod_to_endpoint",
    "reconcile",
    "slice_labels",
]
