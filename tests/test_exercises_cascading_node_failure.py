"""Chapter 13: the kubelet's eviction order and the PDB arithmetic against upstream's rules,
the incident's cascade and its fix, and the exercises' verdicts."""

import pytest

from kube_teach.grading import check
from kube_teach.grading.exercises_cascading_node_failure import (
    NODE_3,
    PodInfo,
    budget_allows,
    incident,
    kubelet_order,
)


def eviction_order(pods):
    return [p.name for p in sorted(pods, key=lambda p: (
        p.usage_mib <= p.request_mib, p.priority, p.request_mib - p.usage_mib))]  # fmt: skip


def priority_first(pods):
    return [p.name for p in sorted(pods, key=lambda p: (
        p.priority, p.usage_mib <= p.request_mib, p.request_mib - p.usage_mib))]  # fmt: skip


def stub(pods):
    raise NotImplementedError


def test_node_3_in_upstream_order():
    # over request first (cache 1400>512, batch-1 700>0, web-app-1 900>256), lower priority
    # first, then larger use above request; then the pods within their requests
    assert kubelet_order(NODE_3) == ["cache", "batch-1", "web-app-1", "batch-2", "web-app-2"]


def test_equal_pods_keep_their_order():
    pods = [PodInfo("b", 0, 0, 100), PodInfo("a", 0, 0, 100)]
    assert kubelet_order(pods) == ["b", "a"]


@pytest.mark.parametrize(("answer", "passed", "says"), [
    pytest.param(eviction_order, True, "", id="the rule passes"),
    pytest.param(priority_first, False, "but the kubelet evicts in the order", id="priority first"),
    pytest.param(lambda pods: [p.name for p in pods][:1], False, "every pod's name once",
                 id="not all names"),
    pytest.param(lambda pods: 1 / 0, False, "raised ZeroDivisionError", id="a crash"),
    pytest.param(stub, False, "not yet", id="stub"),
    pytest.param("cache", False, "pass the function itself", id="not a function"),
])  # fmt: skip
def test_eviction_order_exercise(answer, passed, says):
    result = check("13-eviction-order", answer)
    assert result.passed is passed, result.message
    assert says in str(result)


@pytest.mark.parametrize(("min_available", "replicas", "healthy", "want"), [
    ("80%", 20, 20, 4),  # the article's budget: 16 must stay
    ("80%", 20, 17, 1),
    ("80%", 20, 16, 0),
    ("80%", 20, 12, 0),  # never negative
    ("80%", 3, 3, 0),  # ceil(2.4) = 3
    ("80%", 7, 7, 1),  # ceil(5.6) = 6
    ("50%", 1, 1, 0),  # ceil(0.5) = 1
    (2, 5, 5, 3),
    (2, 5, 2, 0),
    ("80%", 2000, 1960, 360),
])  # fmt: skip
def test_budget_arithmetic_matches_upstream(min_available, replicas, healthy, want):
    assert budget_allows(min_available, replicas, healthy) == want


def disruptions_allowed(min_available, replicas, healthy):
    if isinstance(min_available, str):
        desired = -(-int(min_available[:-1]) * replicas // 100)
    else:
        desired = min_available
    return max(healthy - desired, 0)


def rounds_down(min_available, replicas, healthy):
    if isinstance(min_available, str):
        desired = int(min_available[:-1]) * replicas // 100
    else:
        desired = min_available
    return max(healthy - desired, 0)


@pytest.mark.parametrize(("answer", "passed", "says"), [
    pytest.param(disruptions_allowed, True, "", id="the rule passes"),
    pytest.param(rounds_down, False, "the disruption controller allows", id="rounds down"),
    pytest.param(lambda m, r, h: h - 16, False, "disruptions_allowed('80%', replicas=20, healthy=15)"
                 " returned -1", id="wrong in general"),
    pytest.param(lambda m, r, h: "4", False, "a whole number", id="text"),
    pytest.param(..., False, "desired healthy is minAvailable", id="stub"),
])  # fmt: skip
def test_disruptions_allowed_exercise(answer, passed, says):
    result = check("13-disruptions-allowed", answer)
    assert result.passed is passed, result.message
    assert says in str(result)


def test_without_requests_the_failure_cascades():
    run = incident()
    evicted = run.since(event="pod-evicted")
    assert run.kubelet_evictions >= 3  # more pods killed than node-1 took with it
    assert max(run.pressure.values) >= 3
    assert all("request is 0" in e.fields["message"] for e in evicted)
    assert all(e.t - run.failed_at > 300 for e in evicted)  # after the 300 s toleration
    not_ready = run.since(component="node-lifecycle-controller", event="event")
    assert not_ready[0].fields["reason"] == "NodeNotReady"
    assert 50 <= not_ready[0].t - run.failed_at <= 60  # 1.32+ grace period, 5 s monitor period


@pytest.mark.slow
def test_right_sized_requests_and_priority_stop_it():
    run = incident(requests="900Mi", priority=True, pdb=True)
    assert run.kubelet_evictions == 0
    assert max(run.pressure.values) == 0
    assert run.web.values[-1] == 20
    assert run.batch.values[-1] < 4  # preempted for web-app


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="minutes must be positive"):
        incident(minutes=0)
