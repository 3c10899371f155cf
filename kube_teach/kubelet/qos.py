"""A pod's QoS class and each container's oom_score_adj, plus the pod request sums they use.

Semantics: ComputePodQOS in pkg/apis/core/v1/helper/qos (container and pod-level resources),
GetContainerOOMScoreAdjust in pkg/kubelet/qos/policy.go (Guaranteed -997, BestEffort 1000,
Burstable clamped to [3, 999], sidecars, pod-level requests) and the critical-pod helpers of
pkg/kubelet/types. Pods are API dicts; quantities are compared exactly, as upstream does.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from kube_teach.api.quantity import Quantity

GUARANTEED = "Guaranteed"
BURSTABLE = "Burstable"
BEST_EFFORT = "BestEffort"

KUBELET_OOM_SCORE_ADJ = -999
KUBE_PROXY_OOM_SCORE_ADJ = -999
GUARANTEED_OOM_SCORE_ADJ = -997
BESTEFFORT_OOM_SCORE_ADJ = 1000

SYSTEM_CRITICAL_PRIORITY = 2_000_000_000
SYSTEM_NODE_CRITICAL = "system-node-critical"
SYSTEM_CLUSTER_CRITICAL = "system-cluster-critical"
CONFIG_SOURCE_ANNOTATION = "kubernetes.io/config.source"
CONFIG_MIRROR_ANNOTATION = "kubernetes.io/config.mirror"

_QOS_RESOURCES = ("cpu", "memory")
_POD_LEVEL_RESOURCES = ("cpu", "memory")  # hugepages join them from 1.34; QoS ignores them
_ZERO = Quantity(0)

Pod = Mapping[str, Any]


def _spec(pod: Pod) -> Mapping[str, Any]:
    return pod.get("spec") or {}


def _resource_list(resources: Mapping[str, Any] | None, kind: str) -> dict[str, Quantity]:
    values = (resources or {}).get(kind) or {}
    return {name: Quantity(value) for name, value in values.items()}


def _collect(resources: Mapping[str, Any] | None) -> tuple[dict, dict, bool]:
    """Positive cpu/memory requests and limits of one ResourceRequirements, and whether both
    cpu and memory limits are set (a precondition of Guaranteed)."""
    requests = {
        n: q for n, q in _resource_list(resources, "requests").items() if n in _QOS_RESOURCES
    }
    limits = {n: q for n, q in _resource_list(resources, "limits").items() if n in _QOS_RESOURCES}
    requests = {n: q for n, q in requests.items() if q > _ZERO}
    limits = {n: q for n, q in limits.items() if q > _ZERO}
    return requests, limits, set(_QOS_RESOURCES) <= set(limits)


def qos_class(pod: Pod, *, pod_level_resources: bool = True) -> str:
    """The pod's QoS class, computed from its spec as ComputePodQOS does.

    Over containers and init containers (ephemeral containers never count), cpu and memory
    only, zero quantities ignored: no requests and no limits at all gives "BestEffort";
    every container limiting both cpu and memory with the summed requests equal to the summed
    limits, resource for resource, gives "Guaranteed"; anything else "Burstable". When the pod
    has pod-level `spec.resources` (the PodLevelResources gate, on by default since 1.34,
    `pod_level_resources=False` to switch it off) those alone decide. Defaulting matters:
    the API server copies limits into missing requests first, so a limits-only pod that went
    through `apply_defaults` is Guaranteed, while the raw spec is Burstable.
    """
    spec = _spec(pod)
    if pod_level_resources and spec.get("resources") is not None:
        requests, limits, guaranteed = _collect(spec["resources"])
    else:
        requests, limits, guaranteed = {}, {}, True
        for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
            r, lim, both_limited = _collect(container.get("resources"))
            for name, q in r.items():
                requests[name] = requests.get(name, _ZERO) + q
            for name, q in lim.items():
                limits[name] = limits.get(name, _ZERO) + q
            guaranteed = guaranteed and both_limited
    if not requests and not limits:
        return BEST_EFFORT
    if guaranteed and len(requests) == len(limits):
        if all(name in limits and limits[name] == q for name, q in requests.items()):
            return GUARANTEED
    return BURSTABLE


def get_pod_qos(pod: Pod) -> str:
    """`status.qosClass` when the kubelet has already recorded it, else `qos_class(pod)`."""
    return (pod.get("status") or {}).get("qosClass") or qos_class(pod)


# -- critical pods (pkg/kubelet/types/pod_update.go) ---------------------------------------------
def _annotations(pod: Pod) -> Mapping[str, str]:
    return (pod.get("metadata") or {}).get("annotations") or {}


def is_static_pod(pod: Pod) -> bool:
    """A pod from a manifest file or URL: its config-source annotation is set and is not "api"."""
    source = _annotations(pod).get(CONFIG_SOURCE_ANNOTATION)
    return source is not None and source != "api"


def is_mirror_pod(pod: Pod) -> bool:
    """The API server's copy of a static pod (it carries the config.mirror annotation)."""
    return CONFIG_MIRROR_ANNOTATION in _annotations(pod)


def pod_priority(pod: Pod) -> int:
    """`spec.priority`, or 0 when unset (corev1helpers.PodPriority)."""
    priority = _spec(pod).get("priority")
    return 0 if priority is None else int(priority)


def is_critical_pod(pod: Pod) -> bool:
    """Static, mirror, or priority at least system-cluster-critical's 2000000000. The kubelet
    never evicts such pods and admits them even under resource pressure."""
    priority = _spec(pod).get("priority")
    return (
        is_static_pod(pod)
        or is_mirror_pod(pod)
        or (priority is not None and int(priority) >= SYSTEM_CRITICAL_PRIORITY)
    )


def is_node_critical_pod(pod: Pod) -> bool:
    """A critical pod whose priorityClassName is system-node-critical."""
    return is_critical_pod(pod) and _spec(pod).get("priorityClassName") == SYSTEM_NODE_CRITICAL


# -- request sums (component-helpers resource.PodRequests) ----------------------------------------
def _is_sidecar(container: Mapping[str, Any]) -> bool:
    return container.get("restartPolicy") == "Always"


def _requests(container: Mapping[str, Any]) -> dict[str, Quantity]:
    return _resource_list(container.get("resources"), "requests")


def _add(total: dict[str, Quantity], more: Mapping[str, Quantity]) -> None:
    for name, q in more.items():
        total[name] = total[name] + q if name in total else Quantity(q)


def aggregate_container_requests(pod: Pod) -> dict[str, Quantity]:
    """Container requests as the pod needs them at its peak: regular containers and sidecars
    summed, each plain init container counted with the sidecars started before it, and the
    larger of the two taken per resource. Resources no container requests are absent."""
    spec = _spec(pod)
    total: dict[str, Quantity] = {}
    for container in spec.get("containers") or []:
        _add(total, _requests(container))
    sidecars: dict[str, Quantity] = {}
    init_peak: dict[str, Quantity] = {}
    for container in spec.get("initContainers") or []:
        requests = _requests(container)
        if _is_sidecar(container):
            _add(total, requests)
            _add(sidecars, requests)
            during = dict(sidecars)
        else:
            during = dict(requests)
            _add(during, sidecars)
        for name, q in during.items():
            if name not in init_peak or q > init_peak[name]:
                init_peak[name] = q
    for name, q in init_peak.items():
        if name not in total or q > total[name]:
            total[name] = q
    return total


def pod_level_requests_set(pod: Pod) -> bool:
    """Whether `spec.resources.requests` names a resource supported at pod level."""
    resources = _spec(pod).get("resources") or {}
    return any(name in _POD_LEVEL_RESOURCES for name in resources.get("requests") or {})


def pod_level_resources_set(pod: Pod) -> bool:
    """Whether `spec.resources` sets a supported request or limit."""
    resources = _spec(pod).get("resources") or {}
    names = [*(resources.get("requests") or {}), *(resources.get("limits") or {})]
    return any(name in _POD_LEVEL_RESOURCES for name in names)


def pod_request(pod: Pod, resource: str, *, pod_level_resources: bool = True) -> Quantity:
    """The pod's request for `resource` as the eviction manager ranks it
    (GetResourceRequestQuantity): pod-level requests when set, else the aggregated container
    requests, plus `spec.overhead` when the total is non-zero. Zero when nothing requests it."""
    spec = _spec(pod)
    total = Quantity("0Ki") if resource in ("memory", "storage", "ephemeral-storage") else _ZERO
    if pod_level_resources and pod_level_resources_set(pod):
        # Container-level requests are skipped entirely, even for resources (such as
        # ephemeral-storage) that cannot be set at pod level: upstream's quirk, kept.
        pod_requests = _resource_list(spec.get("resources"), "requests")
        if resource in _POD_LEVEL_RESOURCES and resource in pod_requests:
            total = total + pod_requests[resource]
    else:
        total = total + aggregate_container_requests(pod).get(resource, _ZERO)
    overhead = _resource_list(spec, "overhead")
    if resource in overhead and not total.is_zero():
        total = total + overhead[resource]
    return total


# -- oom_score_adj (pkg/kubelet/qos/policy.go, helpers.go) ----------------------------------------
def _go_div(a: int, b: int) -> int:
    """int64 division as Go does it: truncated toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _memory_request(container: Mapping[str, Any]) -> int:
    return _requests(container).get("memory", _ZERO).value()


def _all_containers(pod: Pod) -> Iterator[Mapping[str, Any]]:
    spec = _spec(pod)
    yield from spec.get("initContainers") or []
    yield from spec.get("containers") or []


def _find_container(pod: Pod, container: Mapping[str, Any] | str) -> Mapping[str, Any]:
    if not isinstance(container, str):
        return container
    for candidate in _all_containers(pod):
        if candidate.get("name") == container:
            return candidate
    raise KeyError(f"container {container!r} not found in pod")


def _remaining_pod_memory_per_container(pod: Pod) -> int:
    """Pod-level memory request not claimed by any container, shared equally among them."""
    spec = _spec(pod)
    pod_memory = _resource_list(spec.get("resources"), "requests").get("memory", _ZERO)
    if pod_memory.is_zero():
        return 0
    count = len(spec.get("containers") or []) + len(spec.get("initContainers") or [])
    claimed = aggregate_container_requests(pod).get("memory", _ZERO).value()
    return _go_div(pod_memory.value() - claimed, count)


def oom_score_adj(
    pod: Pod,
    container: Mapping[str, Any] | str,
    memory_capacity: int | str | Quantity,
    *,
    pod_level_resources: bool = True,
) -> int:
    """The oom_score_adj the kubelet gives `container` (a container dict or its name) of `pod`
    on a node with `memory_capacity` bytes (an int or a quantity such as "8Gi").

    Node-critical pods and Guaranteed pods get -997, BestEffort pods 1000. A Burstable
    container gets 1000 - 1000 * memoryRequest / capacity in integer arithmetic, raised to 3
    when lower (so it stays above any Guaranteed process) and lowered to 999 when it would be
    1000 (so it outlives BestEffort). With pod-level memory requests, the part no container
    claims is shared equally among containers first; a sidecar (an init container with
    restartPolicy Always) never scores above the regular container with the smallest request.
    """
    capacity = Quantity(memory_capacity).value()
    container = _find_container(pod, container)
    if is_node_critical_pod(pod):
        return GUARANTEED_OOM_SCORE_ADJ
    qos = get_pod_qos(pod) if pod_level_resources else qos_class(pod, pod_level_resources=False)
    if qos == GUARANTEED:
        return GUARANTEED_OOM_SCORE_ADJ
    if qos == BEST_EFFORT:
        return BESTEFFORT_OOM_SCORE_ADJ

    remaining = 0
    if pod_level_resources and pod_level_requests_set(pod):
        remaining = _remaining_pod_memory_per_container(pod)
    adj = 1000 - _go_div(1000 * (_memory_request(container) + remaining), capacity)

    sidecar = _is_sidecar(container) and any(
        c.get("name") == container.get("name") for c in _spec(pod).get("initContainers") or []
    )
    regular = _spec(pod).get("containers") or []
    if sidecar and regular:
        smallest = min(_memory_request(c) for c in regular) + remaining
        adj = min(adj, 1000 - _go_div(1000 * smallest, capacity))

    floor = 1000 + GUARANTEED_OOM_SCORE_ADJ
    if adj < floor:
        return floor
    if adj == BESTEFFORT_OOM_SCORE_ADJ:
        return adj - 1
    return adj
