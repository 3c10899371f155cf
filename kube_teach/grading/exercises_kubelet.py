"""Chapter 06's exercises: a pod's QoS class, and a node's allocatable memory.

The right answers come from the library itself: the QoS class from kube_teach.kubelet.qos (the
kubelet's ComputePodQOS) and allocatable from kube_teach.kubelet.allocatable (the container
manager's arithmetic), so the exercises cannot drift from what the simulated kubelet does.
"""

from __future__ import annotations

import copy
from typing import Any

from ..api.quantity import Quantity
from ..kubelet.allocatable import node_allocatable
from ..kubelet.qos import qos_class
from .check import register
from .exercises import _call, _graded


def _pod(*containers: dict[str, Any], init: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": f"c{i}", "image": "nginx:1.27", **c}
                                           for i, c in enumerate(containers)]}  # fmt: skip
    if init:
        spec["initContainers"] = [{"name": f"init{i}", "image": "busybox:1.36", **c}
                                  for i, c in enumerate(init)]  # fmt: skip
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}


def _res(requests: dict[str, str] | None = None, limits: dict[str, str] | None = None) -> dict:
    resources: dict[str, Any] = {}
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = limits
    return {"resources": resources}


_BOTH = {"cpu": "500m", "memory": "1Gi"}
# (pod, why its class is what it is); pods as the API server stores them (limits copied into
# missing requests by defaulting)
_PODS = [
    (_pod({}), "no requests and no limits anywhere: BestEffort"),
    (_pod(_res(_BOTH, _BOTH)), "requests equal limits for cpu and memory: Guaranteed"),
    (_pod(_res({"cpu": "500m", "memory": "500Mi"}, {"cpu": "2", "memory": "2Gi"})),
     "requests below limits: Burstable"),
    (_pod(_res({"memory": "500Mi"})), "a request without limits: Burstable"),
    (_pod(_res(_BOTH, _BOTH), {}), "one container with nothing set spoils Guaranteed: Burstable"),
    (_pod(_res(_BOTH, _BOTH), _res(_BOTH, _BOTH)), "every container Guaranteed: Guaranteed"),
    (_pod(_res({"memory": "1Gi"}, {"memory": "1Gi"})),
     "memory limited but cpu not: Guaranteed needs both, so Burstable"),
    (_pod(_res({"ephemeral-storage": "1Gi"}, {"ephemeral-storage": "1Gi"})),
     "only cpu and memory count; ephemeral-storage alone leaves it BestEffort"),
    (_pod(_res({"cpu": "0", "memory": "0"})), "zero quantities are ignored: BestEffort"),
    (_pod(_res(_BOTH, _BOTH), init=(_res({"cpu": "100m"}),)),
     "init containers count too: one with a request and no limit makes it Burstable"),
    (_pod({}, init=(_res(_BOTH, _BOTH),)),
     "any request or limit, even on an init container, lifts it above BestEffort: Burstable"),
]  # fmt: skip


@register(
    "06-qos-class",
    hint="replace `raise NotImplementedError` in qos_class: no cpu/memory requests or limits "
    "anywhere is BestEffort; every container (init containers too) limiting cpu and memory, "
    "with requests equal to limits, is Guaranteed; anything else Burstable.",
)
@_graded
def qos_exercise(answer: Any) -> str | None:
    """`qos_class(pod) -> "Guaranteed" | "Burstable" | "BestEffort"` for a pod dict."""
    if not callable(answer):
        return f"pass the function itself: check('06-qos-class', qos_class), not {answer!r}."
    for pod, why in _PODS:
        want = qos_class(pod)
        given = copy.deepcopy(pod)
        containers = [c.get("resources") or {} for c in given["spec"]["containers"]]
        label = f"qos_class(pod with containers {containers})"
        if "initContainers" in given["spec"]:
            inits = [c.get("resources") or {} for c in given["spec"]["initContainers"]]
            label = label[:-1] + f" and init containers {inits})"
        got = _call(answer, label, given)
        if given != pod:
            return f"{label} changed the pod: only read it."
        if got not in ("Guaranteed", "Burstable", "BestEffort"):
            return f'{label} returned {got!r}; return "Guaranteed", "Burstable" or "BestEffort".'
        if got != want:
            return f"{label} returned {got!r}, but it is {want!r}: {why}."
    return None


# (capacity, system-reserved, kube-reserved, memory.available hard threshold, why)
_ALLOCATABLE = [
    ("16Gi", "1Gi", "1Gi", "500Mi", "the article's node: 16Gi - 1Gi - 1Gi - 500Mi"),
    ("16Gi", "0", "0", "100Mi", "nothing reserved but the default 100Mi eviction threshold"),
    ("8Gi", "512Mi", "256Mi", "100Mi", "every reservation is subtracted"),
    ("16G", "1G", "1G", "500M", "decimal units: 16 GB - 1 GB - 1 GB - 500 MB = 13.5 GB"),
    ("4Gi", "0", "0", "0", "no reservation and no threshold: allocatable equals capacity"),
    ("2Gi", "1Gi", "1Gi", "100Mi", "reservations beyond capacity: allocatable stops at 0"),
]


@register(
    "06-allocatable",
    hint="replace `raise NotImplementedError` in allocatable_memory: capacity minus "
    "system-reserved minus kube-reserved minus the memory.available hard eviction threshold, "
    "in bytes, never below 0 (Quantity(text).value() gives bytes).",
)
@_graded
def allocatable_exercise(answer: Any) -> str | None:
    """`allocatable_memory(capacity, system_reserved, kube_reserved, eviction_hard) -> int`:
    the node's allocatable memory in bytes, all four arguments quantity strings."""
    if not callable(answer):
        return (
            "pass the function itself: check('06-allocatable', allocatable_memory), "
            f"not {answer!r}."
        )
    for capacity, system, kube, threshold, why in _ALLOCATABLE:
        want = node_allocatable(
            {"memory": capacity}, {"memory": system}, {"memory": kube},
            {"memory.available": threshold} if Quantity(threshold).value() else None,
        )["memory"].value()  # fmt: skip
        label = f"allocatable_memory({capacity!r}, {system!r}, {kube!r}, {threshold!r})"
        got = _call(answer, label, capacity, system, kube, threshold)
        if isinstance(got, str):
            try:
                got = Quantity(got).value()
            except ValueError:
                return f"{label} returned {got!r}: return bytes (an int) or a quantity string."
        if isinstance(got, bool) or not isinstance(got, int | float):
            return f"{label} returned {got!r}: return bytes (an int) or a quantity string."
        if got != want:
            return f"{label} returned {got!r}, but allocatable is {want} bytes: {why}."
    return None
