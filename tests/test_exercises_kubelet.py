"""Chapter 06's exercises: right answers pass, wrong ones get a hint naming the case, stubs say
"not yet", and the graders agree with the library they are built on."""

import pytest

from kube_teach.api.quantity import Quantity
from kube_teach.grading import check
from kube_teach.grading.exercises_kubelet import _ALLOCATABLE, _PODS
from kube_teach.kubelet.allocatable import node_allocatable
from kube_teach.kubelet.qos import qos_class as library_qos_class

RESOURCES = ("cpu", "memory")


def stub(*args):
    raise NotImplementedError


# -- 06-qos-class --------------------------------------------------------------------------------
def _quantities(container, kind):
    values = ((container.get("resources") or {}).get(kind)) or {}
    return {
        r: Quantity(values[r]) for r in RESOURCES if r in values and Quantity(values[r]).value()
    }


def qos_class(pod):
    spec = pod["spec"]
    containers = spec["containers"] + spec.get("initContainers", [])
    requests = [_quantities(c, "requests") for c in containers]
    limits = [_quantities(c, "limits") for c in containers]
    if not any(requests) and not any(limits):
        return "BestEffort"
    if all(set(lim) == set(RESOURCES) for lim in limits) and all(
        req == lim for req, lim in zip(requests, limits, strict=True)
    ):
        return "Guaranteed"
    return "Burstable"


def memory_only(pod):  # looks at memory alone: the classic slip
    containers = pod["spec"]["containers"]
    mems = [_quantities(c, "limits").get("memory") for c in containers]
    reqs = [_quantities(c, "requests").get("memory") for c in containers]
    if not any(mems) and not any(reqs):
        return "BestEffort"
    return (
        "Guaranteed"
        if all(m is not None and m == r for m, r in zip(mems, reqs, strict=True))
        else "Burstable"
    )


def ignores_init_containers(pod):
    return qos_class({"spec": {"containers": pod["spec"]["containers"]}})


@pytest.mark.parametrize(("pod", "why"), _PODS, ids=[why for _, why in _PODS])
def test_the_library_agrees_with_the_reference_answer(pod, why):
    assert library_qos_class(pod) == qos_class(pod)


@pytest.mark.parametrize(("answer", "passed", "says"), [
    pytest.param(qos_class, True, "", id="the rule passes"),
    pytest.param(memory_only, False, "Guaranteed needs both, so Burstable", id="memory alone"),
    pytest.param(ignores_init_containers, False, "init containers count too", id="init containers"),
    pytest.param(lambda pod: "guaranteed", False, "return \"Guaranteed\", \"Burstable\" or",
                 id="not a class name"),
    pytest.param(lambda pod: pod.clear() or "BestEffort", False, "changed the pod", id="mutates"),
    pytest.param(stub, False, "not yet", id="a stub is not yet"),
    pytest.param(..., False, "not yet", id="an ellipsis is not yet"),
    pytest.param("Burstable", False, "pass the function itself", id="not a function"),
])  # fmt: skip
def test_qos_exercise(answer, passed, says):
    result = check("06-qos-class", answer)
    assert result.passed is passed
    assert says in str(result)


# -- 06-allocatable ------------------------------------------------------------------------------
def allocatable_memory(capacity, system_reserved, kube_reserved, eviction_hard):
    value = Quantity(capacity).value() - sum(
        Quantity(q).value() for q in (system_reserved, kube_reserved, eviction_hard)
    )
    return max(value, 0)


def forgets_the_threshold(capacity, system_reserved, kube_reserved, eviction_hard):
    return max(
        Quantity(capacity).value()
        - Quantity(system_reserved).value()
        - Quantity(kube_reserved).value(),
        0,
    )


def goes_negative(capacity, system_reserved, kube_reserved, eviction_hard):
    return Quantity(capacity).value() - sum(
        Quantity(q).value() for q in (system_reserved, kube_reserved, eviction_hard)
    )


@pytest.mark.parametrize(("case"), _ALLOCATABLE, ids=[c[-1] for c in _ALLOCATABLE])
def test_the_reference_answer_matches_the_library(case):
    capacity, system, kube, threshold, _ = case
    want = node_allocatable({"memory": capacity}, {"memory": system}, {"memory": kube},
                            {"memory.available": threshold} if Quantity(threshold).value() else None)["memory"].value()  # fmt: skip
    assert allocatable_memory(capacity, system, kube, threshold) == want


def test_the_article_node_has_13_5_gb():
    assert allocatable_memory("16G", "1G", "1G", "500M") == 13_500_000_000
    assert allocatable_memory("16Gi", "1Gi", "1Gi", "500Mi") == 13836 * 2**20


@pytest.mark.parametrize(("answer", "passed", "says"), [
    pytest.param(allocatable_memory, True, "", id="the arithmetic passes"),
    pytest.param(lambda *a: str(Quantity(str(allocatable_memory(*a)))), True, "", id="a quantity string passes"),
    pytest.param(forgets_the_threshold, False, "16Gi - 1Gi - 1Gi - 500Mi", id="no eviction threshold"),
    pytest.param(goes_negative, False, "allocatable stops at 0", id="negative"),
    pytest.param(lambda *a: "lots", False, "return bytes", id="not a quantity"),
    pytest.param(lambda *a: 1 / 0, False, "raised ZeroDivisionError", id="a crash names its inputs"),
    pytest.param(stub, False, "not yet", id="a stub is not yet"),
])  # fmt: skip
def test_allocatable_exercise(answer, passed, says):
    result = check("06-allocatable", answer)
    assert result.passed is passed
    assert says in str(result)
