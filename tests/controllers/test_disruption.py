"""PodDisruptionBudgets, after disruption_test.go, and the eviction subresource's answers."""

from __future__ import annotations

import pytest

from kube_teach.controllers import disruption as dis

from .builders import T0, at, pod


def pdb(min_available=None, max_unavailable=None, selector=None, **extra):
    spec = {"selector": {"matchLabels": {"foo": "bar"}} if selector is None else selector}
    if min_available is not None:
        spec["minAvailable"] = min_available
    if max_unavailable is not None:
        spec["maxUnavailable"] = max_unavailable
    spec.update(extra)
    return {
        "metadata": {"name": "foobar", "namespace": "default", "generation": 1},
        "spec": spec,
        "status": {},
    }


def P(name, ready=True, owner="rs-uid", **kw):
    return pod(name, ready=ready, labels={"foo": "bar"}, owner_uid=owner, **kw)


def check(result, allowed, current, desired, expected):
    assert (int(result), result.current_healthy, result.desired_healthy, result.expected_pods) == (
        allowed,
        current,
        desired,
        expected,
    )


def test_no_selector_in_policy_v1_selects_every_pod():
    check(dis.disruptions_allowed(pdb(3, selector={}), [P("a")]), 0, 1, 3, 1)


def test_a_nil_selector_selects_nothing():
    check(dis.disruptions_allowed({"spec": {"minAvailable": 3}}, [P("a")]), 0, 0, 3, 0)


def test_unavailable_counts_go_up_with_each_pod_and_down_when_one_is_not_ready():
    pods = []
    for i in range(4):
        check(dis.disruptions_allowed(pdb(3), pods), 0, i, 3, i)
        pods.append(P(f"yo-yo-yo {i}"))
    check(dis.disruptions_allowed(pdb(3), pods), 1, 4, 3, 4)
    pods[0] = P("yo-yo-yo 0", ready=None)
    check(dis.disruptions_allowed(pdb(3), pods), 0, 3, 3, 4)


def test_integer_max_unavailable_with_no_or_naked_pods_allows_nothing():
    assert dis.disruptions_allowed(pdb(max_unavailable=1), [], 0) == 0
    naked = P("naked", owner=None)
    result = dis.disruptions_allowed(
        pdb(max_unavailable=1), [naked], dis.expected_scale([naked], {})[0]
    )
    assert result == 0 and result.unmanaged_pods == ["naked"]


@pytest.mark.parametrize(
    ("max_unavailable", "scale", "want"),
    [
        pytest.param(2, 7, (0, 1, 5, 7), id="integer maxUnavailable with a ReplicaSet of 7"),
        pytest.param(2, 5, (0, 1, 3, 5), id="integer maxUnavailable after scaling to 5"),
        pytest.param("30%", 7, (0, 1, 4, 7), id="30% of 7 rounds up to 3"),
        pytest.param("30%", 3, (0, 1, 2, 3), id="30% of 3 rounds up to 1"),
        pytest.param(5, 10, (0, 1, 5, 10), id="scale resource: 10 replicas, maxUnavailable 5"),
        pytest.param(12, 10, (1, 1, 0, 10), id="desiredHealthy is never negative"),
    ],
)
def test_max_unavailable_with_scaling(max_unavailable, scale, want):
    pods = [P("pod")]
    expected, unmanaged = dis.expected_scale(pods, {"rs-uid": scale})
    check(dis.disruptions_allowed(pdb(max_unavailable=max_unavailable), pods, expected), *want)
    assert unmanaged == []


def test_percentage_min_available_uses_the_controller_scale():
    pods = [P("pod")]
    check(dis.disruptions_allowed(pdb("20%"), pods, 10), 0, 1, 2, 10)
    pods = [P(f"p{i}") for i in range(10)]
    check(dis.disruptions_allowed(pdb("20%"), pods, 10), 8, 10, 2, 10)
    check(dis.disruptions_allowed(pdb("1%"), pods[:2], 2), 1, 2, 1, 2)


def test_expected_scale_counts_each_controller_once_and_needs_them_all():
    pods = [P("a", owner="rs-1"), P("b", owner="rs-1"), P("c", owner="rs-2"), P("d", owner=None)]
    assert dis.expected_scale(pods, {"rs-1": 3, "rs-2": 4}) == (7, ["d"])
    with pytest.raises(ValueError, match='found no controllers for pod "c"'):
        dis.expected_scale(pods, {"rs-1": 3})


def test_terminating_and_recently_disrupted_pods_are_not_healthy():
    budget = pdb(1)
    budget["status"]["disruptedPods"] = {"b": at(0), "c": at(-200)}
    pods = [
        P("a"),
        P("b"),
        P("c"),
        {**P("d"), "metadata": {**P("d")["metadata"], "deletionTimestamp": at(0)}},
    ]
    result = dis.disruptions_allowed(budget, pods, now=T0 + 30)
    check(result, 1, 2, 1, 4)  # b was evicted 30 s ago; c's entry expired; d is terminating
    assert result.disrupted_pods == {"b": at(0)}
    assert result.recheck_after == 90


def test_status_and_condition():
    result = dis.disruptions_allowed(pdb(1), [P("a"), P("b")], now=T0)
    status = result.as_dict()
    assert (
        status["currentHealthy"],
        status["desiredHealthy"],
        status["expectedPods"],
        status["disruptionsAllowed"],
    ) == (2, 1, 2, 1)
    cond = status["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"]) == (
        "DisruptionAllowed",
        "True",
        "SufficientPods",
    )
    assert result["disruptionsAllowed"] == 1
    cond = dis.disruptions_allowed(pdb(2), [P("a")], now=T0).conditions[0]
    assert (cond["status"], cond["reason"]) == ("False", "InsufficientPods")


def _observed(budget, allowed, current, desired):
    budget["status"] = {
        "observedGeneration": 1,
        "disruptionsAllowed": allowed,
        "currentHealthy": current,
        "desiredHealthy": desired,
    }
    return budget


def test_eviction_decisions():
    ok = dis.evict(P("a"), [_observed(pdb(1), 1, 2, 1)], T0)
    assert (
        ok.allowed
        and ok.pdb_status["disruptionsAllowed"] == 0
        and "a" in ok.pdb_status["disruptedPods"]
    )
    blocked = dis.evict(P("a"), [_observed(pdb(2), 0, 2, 2)], T0)
    assert (blocked.allowed, blocked.code) == (False, 429)
    assert blocked.message == "Cannot evict pod as it would violate the pod's disruption budget."
    assert blocked.causes == [
        "The disruption budget foobar needs 2 healthy pods and has 2 currently"
    ]
    stale = _observed(pdb(1), 1, 2, 1)
    stale["metadata"]["generation"] = 2
    assert dis.evict(P("a"), [stale], T0).causes == [
        "The disruption budget foobar is still being processed by the server."
    ]
    assert dis.evict(P("a"), [pdb(1), pdb(1)], T0).code == 500
    assert dis.evict(P("a"), [], T0).allowed
    assert dis.evict(P("a", phase="Pending", ready=None), [_observed(pdb(2), 0, 0, 2)], T0).allowed


@pytest.mark.parametrize(
    ("policy", "current", "desired", "allowed"),
    [
        pytest.param(
            None, 3, 3, True, id="IfHealthyBudget: an unready pod goes while the budget is healthy"
        ),
        pytest.param(None, 2, 3, False, id="IfHealthyBudget: not when the budget is short"),
        pytest.param("AlwaysAllow", 2, 3, True, id="AlwaysAllow: unready pods always go"),
    ],
)
def test_unhealthy_pod_eviction_policy(policy, current, desired, allowed):
    extra = {} if policy is None else {"unhealthyPodEvictionPolicy": policy}
    budget = _observed(pdb(desired, **extra), 0, current, desired)
    assert dis.evict(P("sick", ready=False), [budget], T0).allowed is allowed


def test_an_invalid_budget_fails_safe():
    result = dis.disruptions_allowed(pdb("3"), [P("a"), P("b"), P("c"), P("d")], 4, now=T0)
    assert result == 0
    cond = result.conditions[0]
    assert (cond["status"], cond["reason"]) == ("False", "SyncFailed")
    assert "string is not a percentage" in cond["message"]
