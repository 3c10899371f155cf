"""Chapter 12's exercises: right answers pass, wrong ones get a hint naming the case, stubs say
"not yet", and the graders agree with the kubelet they are built on."""

import json

import pytest

from kube_teach import Cluster
from kube_teach.api.quantity import Quantity
from kube_teach.grading import check
from kube_teach.grading.exercises_kubelet_disk_full import (
    _ALLOCATABLE,
    _THRESHOLDS,
    allocatable_storage,
    safe_log_rate,
    threshold_bytes,
)
from kube_teach.kubelet.runtime import WORKLOAD_ANNOTATION

GI = 1024**3


def stub(*args):
    raise NotImplementedError


def exact_bytes(capacity, value):
    if value.endswith("%"):
        return Quantity(capacity).value() * float(value[:-1]) / 100
    return Quantity(value).value()


def learner_threshold(capacity, value):
    return round(exact_bytes(capacity, value))


def learner_rate(capacity, value):
    return exact_bytes(capacity, value) / 10


def learner_allocatable(capacity, system, kube, nodefs):
    left = Quantity(capacity).value() - Quantity(system).value() - Quantity(kube).value()
    return max(round(left - exact_bytes(capacity, nodefs)), 0)


@pytest.mark.parametrize(
    ("capacity", "value", "want"),
    [
        ("100Gi", "10%", 10737418400),  # float32 0.1: 160 bytes more than a tenth
        ("100Gi", "15%", 16106128000),  # the number in the chapter's Evicted message
        ("10Gi", "5%", 536870920),  # upstream's own example
        ("100Gi", "15Gi", 15 * GI),
    ],
)
def test_thresholds_are_the_kubelets_float32_numbers(capacity, value, want):
    assert threshold_bytes(capacity, value) == want


def test_the_seeds_reserved_node_keeps_80gi_for_pods():
    assert allocatable_storage("100Gi", "10Gi", "0", "10%") == 100 * GI - 10 * GI - 10737418400


@pytest.mark.parametrize(
    ("exercise", "answer", "passed", "says"),
    [
        pytest.param("12-threshold-bytes", learner_threshold, True, "", id="threshold: exact"),
        pytest.param("12-threshold-bytes", lambda c, v: exact_bytes(c, v) * 1.01, False,
                     "threshold_bytes('100Gi', '10%') returned", id="threshold: 1% off"),
        pytest.param("12-threshold-bytes",
                     lambda c, v: learner_threshold(c, v) if v.endswith("%") else 0, False,
                     "a quantity is taken as it is", id="threshold: quantities ignored"),
        pytest.param("12-threshold-bytes", lambda c, v: "10Gi", False,
                     "but the kubelet keeps", id="threshold: a constant"),
        pytest.param("12-threshold-bytes", lambda c, v: [1], False, "did not return bytes",
                     id="threshold: not a number"),
        pytest.param("12-safe-log-rate", learner_rate, True, "", id="rate: margin / 10 s"),
        pytest.param("12-safe-log-rate", lambda c, v: exact_bytes(c, v), False,
                     "every 10 s", id="rate: forgets the interval"),
        pytest.param("12-allocatable-storage", learner_allocatable, True, "",
                     id="allocatable: right"),
        pytest.param("12-allocatable-storage",
                     lambda c, s, k, n: learner_allocatable(c, s, k, "0"), False,
                     "the seed's fix", id="allocatable: no threshold"),
        pytest.param("12-allocatable-storage",
                     lambda c, s, k, n: round(Quantity(c).value() - Quantity(s).value()
                                              - Quantity(k).value() - exact_bytes(c, n)),
                     False, "stops at 0", id="allocatable: goes negative"),
        pytest.param("12-threshold-bytes", stub, False, "not yet", id="a stub is not yet"),
        pytest.param("12-safe-log-rate", "1.5Gi", False, "pass the function itself",
                     id="not a function"),
    ],
)  # fmt: skip
def test_exercises(exercise, answer, passed, says):
    result = check(exercise, answer)
    assert result.passed is passed
    assert says in str(result)


@pytest.mark.parametrize(("capacity", "value", "why"), _THRESHOLDS)
def test_learner_reference_matches_within_the_tolerance(capacity, value, why):
    assert abs(learner_threshold(capacity, value) - threshold_bytes(capacity, value)) < 1e-6 * (
        threshold_bytes(capacity, value)
    )


@pytest.mark.parametrize(("capacity", "system", "kube", "nodefs", "why"), _ALLOCATABLE)
def test_allocatable_cases_are_never_negative(capacity, system, kube, nodefs, why):
    assert allocatable_storage(capacity, system, kube, nodefs) >= 0


def _writer(rate):
    workload = json.dumps({"logPerSecond": rate})
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "chatty", "annotations": {WORKLOAD_ANNOTATION: workload}},
            "spec": {"containers": [{"name": "app", "image": "busybox:1.36"}]}}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(("rate", "crashes"), [("1400Mi", False), ("4Gi", True)])
def test_the_safe_rate_holds_in_the_simulated_kubelet(rate, crashes):
    assert Quantity("1400Mi").value() < safe_log_rate("100Gi", "15%") < Quantity("4Gi").value()
    cluster = Cluster(nodes=1, seed=0)
    cluster.apply(_writer(rate))
    cluster.run(120)
    crashed = bool(cluster.trace.where(event="kubelet-crashed"))
    evicted = bool(cluster.trace.where(event="pod-evicted"))
    assert (crashed, evicted) == (crashes, not crashes)
