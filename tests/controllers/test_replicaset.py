"""The ReplicaSet controller, after controller_utils_test.go (TestSortingActivePodsWithRanks)
and replica_set_test.go (TestGetPodsToDelete, slow start, expectations, status)."""

from __future__ import annotations

import pytest

from kube_teach.controllers import replicaset as rsc
from kube_teach.controllers.controller_utils import POD_DELETION_COST, pod_less

from .builders import T0, pod, rs

HOUR, MONTH = 3600.0, 31 * 86400.0
Z = None  # a zero time: the field is absent


def P(name, node, phase, ready, restarts, ready_since, created, annotations=None):
    """Upstream's pod(): ready_since and created are offsets from now (negative: earlier)."""
    return pod(
        name,
        node=node,
        phase=phase,
        ready=ready,
        ready_since=ready_since,
        created=created,
        restarts=restarts,
        annotations=annotations,
    )


NOW = T0
unscheduled = P("unscheduled", "", "Pending", False, 0, Z, Z)
scheduled_pending = P("pending", "node", "Pending", False, 0, Z, Z)
unknown_phase = P("unknown-phase", "node", "Unknown", False, 0, Z, Z)
running_not_ready = P("not-ready", "node", "Running", False, 0, Z, Z)
ready_no_transition = P("ready-no-last-transition-time", "node", "Running", True, 0, Z, Z)
ready_now = P("ready-now", "node", "Running", True, 0, 0, 0)
ready_then = P("ready-then", "node", "Running", True, 0, -MONTH, -MONTH)
ready_now_high_restarts = P("ready-high-restarts", "node", "Running", True, 9001, 0, 0)
ready_now_created_then = P("ready-now-created-then", "node", "Running", True, 0, 0, -MONTH)
low_cost = P("low-deletion-cost", "node", "Running", True, 0, 0, -MONTH, {POD_DELETION_COST: "10"})
high_cost = P(
    "high-deletion-cost", "node", "Running", True, 0, 0, -MONTH, {POD_DELETION_COST: "100"}
)
unscheduled_5h = P("unscheduled-5-hours", "", "Pending", False, 0, -5 * HOUR, -5 * HOUR)
unscheduled_8h = P("unscheduled-10-hours", "", "Pending", False, 0, -8 * HOUR, -8 * HOUR)
ready_2h = P("ready-2-hours", "", "Running", True, 0, -2 * HOUR, -MONTH)
ready_5h = P("ready-5-hours", "", "Running", True, 0, -5 * HOUR, -MONTH)
ready_8h = P("ready-10-hours", "", "Running", True, 0, -8 * HOUR, -MONTH)


@pytest.mark.parametrize(
    ("p1", "p2"),
    [
        pytest.param(p, p, id=p["metadata"]["name"])
        for p in (
            unscheduled,
            scheduled_pending,
            unknown_phase,
            running_not_ready,
            ready_now_created_then,
            ready_now,
            ready_then,
            ready_now_high_restarts,
        )
    ]
    + [
        pytest.param(
            unscheduled_5h, unscheduled_8h, id="created 5h and 8h ago share a log2 bucket"
        ),
        pytest.param(ready_5h, ready_8h, id="ready 5h and 8h ago share a log2 bucket"),
    ],
)
def test_equivalent_pods(p1, p2):
    assert not pod_less(p1, 1, p2, 1, NOW)
    assert not pod_less(p2, 1, p1, 1, NOW)


@pytest.mark.parametrize(
    ("lesser", "greater", "now"),
    [
        pytest.param(
            (unscheduled, 1), (scheduled_pending, 2), NOW, id="unscheduled before scheduled"
        ),
        pytest.param(
            (unscheduled, 2),
            (scheduled_pending, 1),
            NOW,
            id="unscheduled before scheduled whatever the rank",
        ),
        pytest.param((scheduled_pending, 1), (unknown_phase, 2), NOW, id="pending before unknown"),
        pytest.param((unknown_phase, 1), (running_not_ready, 2), NOW, id="unknown before running"),
        pytest.param(
            (running_not_ready, 1), (ready_no_transition, 1), NOW, id="not ready before ready"
        ),
        pytest.param(
            (ready_no_transition, 1), (ready_now, 1), NOW, id="no ready time before a ready time"
        ),
        pytest.param((ready_now, 2), (ready_no_transition, 1), NOW, id="higher rank before lower"),
        pytest.param(
            (ready_now, 1), (ready_then, 1), NOW, id="ready recently before ready long ago"
        ),
        pytest.param((ready_now, 2), (ready_then, 1), NOW, id="rank outweighs readiness age"),
        pytest.param((ready_now_high_restarts, 1), (ready_now, 1), NOW, id="more restarts first"),
        pytest.param(
            (ready_now, 2), (ready_now_high_restarts, 1), NOW, id="rank outweighs restarts"
        ),
        pytest.param((ready_now, 1), (ready_now_created_then, 1), NOW, id="created recently first"),
        pytest.param(
            (ready_now_created_then, 2), (ready_now, 1), NOW, id="rank outweighs creation time"
        ),
        pytest.param(
            (low_cost, 2), (high_cost, 1), NOW, id="lower deletion cost first, before rank"
        ),
        pytest.param(
            (ready_2h, 1), (ready_5h, 1), NOW, id="ready 2h ago is in a lower bucket than 5h"
        ),
        pytest.param(
            (ready_5h, 1), (ready_8h, 1), None, id="without a clock, plain readiness order"
        ),
    ],
)
def test_pod_ordering(lesser, greater, now):
    assert pod_less(lesser[0], lesser[1], greater[0], greater[1], now)
    assert not pod_less(greater[0], greater[1], lesser[0], lesser[1], now)


def test_invalid_deletion_costs_read_as_zero():
    for value in ("+10", "008", "x", str(2**31)):
        p = pod("p", annotations={POD_DELETION_COST: value})
        assert rsc.deletion_cost(p) == 0
    assert rsc.deletion_cost(pod("p", annotations={POD_DELETION_COST: "-5"})) == -5


unscheduled_pending = pod("unscheduled-pending-pod", phase="Pending", ready=None)
scheduled_pending_pod = pod("scheduled-pending-pod", node="fake-node", phase="Pending", ready=None)
not_ready = pod("scheduled-running-not-ready-pod", node="fake-node", ready=False)
ready_on_1 = pod("scheduled-running-ready-pod-on-node-1", node="fake-node-1", ready=True)
ready_on_2 = pod("scheduled-running-ready-pod-on-node-2", node="fake-node-2", ready=True)


@pytest.mark.parametrize(
    ("pods", "related", "diff", "want"),
    [
        pytest.param([], None, 0, [], id="len(pods) = 0 (i.e., diff = 0 too)"),
        pytest.param(
            [not_ready, ready_on_1], None, 2, [not_ready, ready_on_1], id="diff = len(pods)"
        ),
        pytest.param([ready_on_1, not_ready], None, 1, [not_ready], id="diff < len(pods)"),
        pytest.param(
            [scheduled_pending_pod, unscheduled_pending],
            None,
            1,
            [unscheduled_pending],
            id="scheduled vs unscheduled",
        ),
        pytest.param(
            [ready_on_1, not_ready, not_ready],
            None,
            2,
            [not_ready, not_ready],
            id="ready vs not-ready",
        ),
        pytest.param(
            [ready_on_1, ready_on_2],
            [ready_on_1, ready_on_2, ready_on_2],
            1,
            [ready_on_2],
            id="colocated with another ready pod goes first",
        ),
        pytest.param(
            [scheduled_pending_pod, not_ready],
            None,
            1,
            [scheduled_pending_pod],
            id="pending vs running",
        ),
        pytest.param(
            [ready_on_1, ready_on_2, not_ready, scheduled_pending_pod, unscheduled_pending],
            None,
            3,
            [unscheduled_pending, scheduled_pending_pod, not_ready],
            id="various pod phases and conditions, diff < len(pods)",
        ),
    ],
)
def test_pods_to_delete(pods, related, diff, want):
    got = rsc.pods_to_delete(pods, pods if related is None else related, diff, NOW)
    assert [p["metadata"]["name"] for p in got] == [p["metadata"]["name"] for p in want]


@pytest.mark.parametrize(
    ("count", "want"),
    [(0, []), (1, [1]), (3, [1, 2]), (10, [1, 2, 4, 3]), (500, [1, 2, 4, 8, 16, 32, 64, 128, 245])],
)
def test_slow_start_batches(count, want):
    assert rsc.slow_start_batches(count) == want


def _rs(replicas, min_ready=0):
    r = rs("frontend", replicas)
    r["spec"]["selector"] = {"matchLabels": {"app": "fe"}}
    r["spec"]["template"] = {"metadata": {"labels": {"app": "fe", "tier": "web"}}, "spec": {}}
    r["spec"]["minReadySeconds"] = min_ready
    r["metadata"]["generation"] = 2
    return r


def _owned(name, **kw):
    return pod(name, labels={"app": "fe", "tier": "web"}, owner_uid="frontend-uid", **kw)


def test_reconcile_creates_the_missing_pods_in_slow_start_batches():
    plan = rsc.reconcile(_rs(10), [_owned("a")], T0)
    assert (plan.create, plan.create_batches, plan.delete) == (9, [1, 2, 4, 2], [])
    assert plan.status["replicas"] == 1
    new_pod = rsc.pod_from_template(_rs(10))
    assert new_pod["metadata"]["generateName"] == "frontend-"
    assert new_pod["metadata"]["ownerReferences"][0]["controller"] is True


def test_reconcile_caps_a_sync_at_burst_replicas():
    plan = rsc.reconcile(_rs(1000), [], T0)
    assert plan.create == 500


def test_reconcile_deletes_the_least_valuable_pods():
    pods = [
        _owned("ready", node="n1"),
        _owned("not-ready", node="n1", ready=False),
        _owned("pending", phase="Pending", ready=None),
    ]
    plan = rsc.reconcile(_rs(1), pods, T0)
    assert [p["metadata"]["name"] for p in plan.delete] == ["pending", "not-ready"]
    assert plan.expect_deletions == ["default/pending", "default/not-ready"]


def test_reconcile_adopts_orphans_releases_strays_and_ignores_others():
    orphan = pod("orphan", labels={"app": "fe"})
    stray = pod("stray", labels={"app": "other"}, owner_uid="frontend-uid")
    foreign = pod("foreign", labels={"app": "fe"}, owner_uid="someone-else")
    done = pod("done", labels={"app": "fe"}, phase="Succeeded")
    plan = rsc.reconcile(_rs(1), [orphan, stray, foreign, done], T0)
    assert (plan.adopt, plan.release, plan.create, plan.delete) == (["orphan"], ["stray"], 0, [])


def test_expectations_hold_back_a_second_create_until_observed_or_expired():
    exp = rsc.Expectations()
    key = "default/frontend"
    exp.expect_creations(key, 2, T0)
    assert rsc.reconcile(_rs(3), [_owned("a")], T0 + 1, expectations=exp).create == 0
    exp.creation_observed(key)
    exp.creation_observed(key)
    assert rsc.reconcile(_rs(3), [_owned("a")], T0 + 2, expectations=exp).create == 2
    exp.expect_deletions(key, ["default/a"], T0)
    exp.deletion_observed(key, "default/unrelated")
    assert not exp.satisfied(key, T0 + 10)
    assert exp.satisfied(key, T0 + 301)  # ExpectationsTimeout is 5 minutes
    exp.deletion_observed(key, "default/a")
    exp.deletion_observed(key, "default/a")  # counted once
    assert exp.pending(key) == (0, 0) and exp.satisfied(key, T0 + 10)


def test_status_counts_fully_labeled_ready_and_available_pods():
    pods = [
        _owned("a", ready=True, ready_since=0),
        _owned("b", ready=True, ready_since=25),
        pod("c", labels={"app": "fe"}, owner_uid="frontend-uid", ready=False),
    ]
    plan = rsc.reconcile(_rs(3, min_ready=10), pods, T0 + 30)
    st = plan.status
    assert (
        st["replicas"],
        st["fullyLabeledReplicas"],
        st["readyReplicas"],
        st["availableReplicas"],
    ) == (3, 2, 2, 1)
    assert st["observedGeneration"] == 2
    assert plan.requeue_after is None
    plan = rsc.reconcile(_rs(2, min_ready=10), pods[:2], T0 + 30)
    assert plan.requeue_after == 10.0  # all ready, one not yet available


def test_a_failed_create_records_replica_failure_until_a_clean_sync():
    r = _rs(3)
    st = rsc.calculate_status(
        r, [_owned("a")], T0, manage_error="pods is forbidden: exceeded quota"
    )
    failure = st["conditions"][-1]
    assert (failure["type"], failure["reason"]) == ("ReplicaFailure", "FailedCreate")
    r["status"] = st
    assert rsc.calculate_status(r, [_owned("a")], T0)["conditions"] == []
