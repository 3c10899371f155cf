"""The HPA, after replica_calculator_test.go and horizontal_test.go."""

from __future__ import annotations

import pytest

from kube_teach.controllers import hpa
from kube_teach.controllers import replica_calculator as rc
from kube_teach.controllers._util import ZERO_TIME, format_time

from .builders import T0

NOW = T0
HOT, COOL = NOW, NOW - 180  # started now (within the 2 min test period) / 3 minutes ago
TEST = {"cpu_initialization_period": 120.0, "delay_of_initial_readiness_status": 10.0}


def _pods(n, requests, readiness=None, start=None, phases=None, deleting=None):
    """Upstream's test pods: two containers each requesting requests[i] (if given)."""
    out = []
    for i in range(n):
        containers = [{"name": "container1"}, {"name": "container2"}]
        if i < len(requests):
            for c in containers:
                c["resources"] = {"requests": {"cpu": requests[i]}}
        started = start[i] if start else ZERO_TIME  # Go's &metav1.Time{} is zero, not nil
        status = {
            "phase": phases[i] if phases else "Running",
            "startTime": format_time(started),
            "conditions": [
                {
                    "type": "Ready",
                    "status": readiness[i] if readiness and i < len(readiness) else "True",
                }
            ],
        }
        meta = {"name": f"test-pod-{i}", "namespace": "test-namespace"}
        if deleting and deleting[i]:
            meta["deletionTimestamp"] = format_time(NOW)
        out.append({"metadata": meta, "spec": {"containers": containers}, "status": status})
    return out


def _metrics(levels, container="", names=None):
    """Samples as the metrics client reports them: the sum of both containers, or the named one."""
    out = {}
    for i, lv in enumerate(levels):
        if isinstance(lv, int):
            lv = [lv, lv]
        name = names[i] if names else f"test-pod-{i}"
        if container:
            idx = int(container[-1]) - 1
            if idx < len(lv):
                out[name] = rc.PodMetric(lv[idx])
        elif len(lv) == 2:
            out[name] = rc.PodMetric(sum(lv))
    return out


T, F = "True", "False"
R, P, X = "Running", "Pending", "Failed"
ONE = "1.0"


@pytest.mark.parametrize(
    ("current", "levels", "target", "kw", "container", "want"),
    [
        pytest.param(3, [300, 500, 700], 30, {}, "", (5, 50, 1000), id="ScaleUp"),
        pytest.param(
            3,
            [[1000, 300], [1000, 500], [1000, 700]],
            30,
            {},
            "container2",
            (5, 50, 500),
            id="ContainerScaleUp",
        ),
        pytest.param(
            3,
            [300, 500, 700],
            30,
            {"readiness": [F, T, T]},
            "",
            (4, 60, 1200),
            id="ScaleUpUnreadyLessScale",
        ),
        pytest.param(
            3,
            [300, 500, 700],
            30,
            {"start": [HOT, COOL, COOL]},
            "",
            (4, 60, 1200),
            id="ScaleUpHotCpuLessScale",
        ),
        pytest.param(
            3,
            [[0, 300], [0, 500], [0, 700]],
            30,
            {"start": [HOT, COOL, COOL]},
            "container2",
            (4, 60, 600),
            id="ScaleUpContainerHotCpuLessScale",
        ),
        pytest.param(
            3,
            [400, 500, 700],
            30,
            {"readiness": [T, F, F]},
            "",
            (3, 40, 800),
            id="ScaleUpUnreadyNoScale",
        ),
        pytest.param(
            3,
            [400, 500, 700],
            30,
            {"readiness": [T, F, F], "start": [COOL, HOT, HOT]},
            "",
            (3, 40, 800),
            id="ScaleHotCpuNoScale",
        ),
        pytest.param(
            2,
            [500, 700],
            30,
            {"readiness": [T, T, F, F], "phases": [R, R, X, X], "n": 4},
            "",
            (4, 60, 1200),
            id="ScaleUpIgnoresFailedPods",
        ),
        pytest.param(
            2,
            [[1000, 500], [9000, 700], [1000], [9000]],
            30,
            {"readiness": [T, T, F, F], "phases": [R, R, X, X], "n": 4},
            "container2",
            (4, 60, 600),
            id="MissingContainerMetricScaleUpIgnoresFailedPods",
        ),
        pytest.param(
            2,
            [500, 700],
            30,
            {"readiness": [T, T, F, F], "deleting": [0, 0, 1, 1], "n": 4},
            "",
            (4, 60, 1200),
            id="ScaleUpIgnoresDeletionPods",
        ),
        pytest.param(5, [100, 300, 500, 250, 250], 50, {}, "", (3, 28, 560), id="ScaleDown"),
        pytest.param(
            5,
            [[1000, 100], [1000, 300], [1000, 500], [1000, 250], [1000, 250]],
            50,
            {},
            "container2",
            (3, 28, 280),
            id="ContainerScaleDown",
        ),
        pytest.param(
            5,
            [100, 300, 500, 250, 250],
            50,
            {"readiness": [T, T, T, F, F]},
            "",
            (2, 30, 600),
            id="ScaleDownExcludeUnreadyPods",
        ),
        pytest.param(
            5,
            [100],
            50,
            {"readiness": [T, F, F, F, F], "phases": [R, P, P, P, P]},
            "",
            (1, 10, 200),
            id="ScaleDownExcludeUnscheduledPods",
        ),
        pytest.param(
            5,
            [100, 300, 500, 250, 250],
            50,
            {"start": [COOL, COOL, COOL, HOT, HOT]},
            "",
            (2, 30, 600),
            id="ScaleDownIgnoreHotCpuPods",
        ),
        pytest.param(
            5,
            [100, 300, 500, 250, 250],
            50,
            {"readiness": [T] * 5 + [F, F], "phases": [R] * 5 + [X, X], "n": 7},
            "",
            (3, 28, 560),
            id="ScaleDownIgnoresFailedPods",
        ),
        pytest.param(
            5,
            [100, 300, 500, 250, 250],
            50,
            {"readiness": [T] * 5 + [F, F], "deleting": [0] * 5 + [1, 1], "n": 7},
            "",
            (3, 28, 560),
            id="ScaleDownIgnoresDeletionPods",
        ),
        pytest.param(
            3,
            [1010, 1030, 1020],
            100,
            {"requests": ["0.9", "1.0", "1.1"]},
            "",
            (3, 102, 2040),
            id="Tolerance",
        ),
        pytest.param(
            4,
            [4000, 9500, 3000, 7000, 3200, 2000],
            100,
            {},
            "",
            (24, 587, 11750),
            id="SuperfluousMetrics",
        ),
        pytest.param(4, [400, 95], 100, {}, "", (3, 24, 495), id="MissingMetrics"),
        pytest.param(2, [1000], 100, {}, "", (2, 100, 2000), id="MissingMetricsNoChangeEq"),
        pytest.param(2, [1900], 100, {}, "", (2, 190, 3800), id="MissingMetricsNoChangeGt"),
        pytest.param(2, [600], 100, {}, "", (2, 60, 1200), id="MissingMetricsNoChangeLt"),
        pytest.param(
            3,
            [100, 450],
            50,
            {"readiness": [F, T, T]},
            "",
            (3, 45, 900),
            id="MissingMetricsUnreadyChange",
        ),
        pytest.param(
            3,
            [100, 450],
            50,
            {"start": [HOT, COOL, COOL]},
            "",
            (3, 45, 900),
            id="MissingMetricsHotCpuNoChange",
        ),
        pytest.param(
            3,
            [100, 2000],
            50,
            {"readiness": [F, T, T]},
            "",
            (4, 200, 4000),
            id="MissingMetricsUnreadyScaleUp",
        ),
        pytest.param(
            3,
            [100, 2000],
            50,
            {"readiness": [F, T, T], "start": [HOT, COOL, COOL]},
            "",
            (4, 200, 4000),
            id="MissingMetricsHotCpuScaleUp",
        ),
        pytest.param(
            4,
            [100, 100, 100],
            50,
            {"readiness": [F, T, T, T]},
            "",
            (3, 10, 200),
            id="MissingMetricsUnreadyScaleDown",
        ),
        pytest.param(
            4,
            [200, 100, 100],
            300,
            {"readiness": [F, T, T, T], "requests": ["1.0", "1.0", "2.0", "2.0"]},
            "",
            (2, 6, 200),
            id="MissingMetricsScaleDownTargetOver100",
        ),
        pytest.param(
            2,
            [100, 100],
            50,
            {"phases": [R, R, R], "n": 3},
            "",
            (2, 10, 200),
            id="DuringRollingUpdateWithMaxSurge",
        ),
    ],
)
def test_replica_calculation(current, levels, target, kw, container, want):
    n = kw.get("n", current)
    requests = kw.get("requests", [ONE] * n)
    pods = _pods(
        n, requests, kw.get("readiness"), kw.get("start"), kw.get("phases"), kw.get("deleting")
    )
    got = rc.replica_calculation(
        current, target, pods, _metrics(levels, container), now=NOW, container=container, **TEST
    )
    assert (got.replicas, got.utilization, got.raw_utilization) == want


@pytest.mark.parametrize(
    ("current", "levels", "requests", "names", "message"),
    [
        pytest.param(
            1,
            [100],
            [ONE],
            ["an-older-pod-name"],
            "no metrics returned matched known pods",
            id="DisjointResourcesMetrics",
        ),
        pytest.param(
            4,
            [],
            [ONE] * 3,
            None,
            "unable to get metrics for resource cpu: no metrics returned from resource metrics API",
            id="EmptyMetrics",
        ),
        pytest.param(
            1,
            [200],
            [],
            None,
            "missing request for cpu in container container1 of Pod test-pod-0",
            id="EmptyCPURequest",
        ),
    ],
)
def test_replica_calculation_errors(current, levels, requests, names, message):
    pods = _pods(current, requests)
    with pytest.raises(rc.ReplicaCalculationError, match=message):
        rc.replica_calculation(current, 100, pods, _metrics(levels, names=names), now=NOW, **TEST)


@pytest.mark.parametrize(
    ("current", "levels", "target", "kw", "want"),
    [
        pytest.param(3, [20000, 10000, 30000], 15000, {}, (4, 20000), id="ScaleUpCM"),
        pytest.param(
            3,
            [50000, 10000, 30000],
            15000,
            {"readiness": [T, T, F], "start": [COOL, COOL, HOT]},
            (6, 30000),
            id="ScaleUpCMUnreadyHotCpuNoLessScale",
        ),
        pytest.param(
            3,
            [50000, 15000, 30000],
            15000,
            {"readiness": [F, T, F], "start": [HOT, COOL, HOT]},
            (7, 31666),
            id="ScaleUpCMUnreadyHotCpuScaleWouldScaleDown",
        ),
        pytest.param(5, [12000] * 5, 20000, {}, (3, 12000), id="ScaleDownCM"),
        pytest.param(3, [20000, 21000, 21000], 20000, {}, (3, 20666), id="ToleranceCM"),
        pytest.param(
            5,
            [20000, 19000, 21000],
            20000,
            {},
            (5, 20000),
            id="PlainMetricMissingMetricsNoChangeEq",
        ),
        pytest.param(
            2,
            [10000, 10000],
            17000,
            {"phases": [R, R, R], "n": 3},
            (2, 10000),
            id="DuringRollingUpdateWithMaxSurgeCM",
        ),
    ],
)
def test_plain_metric_replicas(current, levels, target, kw, want):
    n = kw.get("n", current)
    pods = _pods(n, [], kw.get("readiness"), kw.get("start"), kw.get("phases"))
    metrics = {f"test-pod-{i}": v for i, v in enumerate(levels)}
    assert rc.plain_metric_replicas(current, target, pods, metrics, now=NOW, **TEST) == want


def test_object_and_external_metrics():
    three = _pods(3, [])
    unready = _pods(3, [], readiness=[F, T, F])
    assert rc.object_metric_replicas(3, 20000, 15000, three) == 4  # ScaleUpCMObject
    assert rc.object_metric_replicas(3, 50000, 10000, unready) == 5  # ...IgnoresUnreadyPods
    assert rc.object_metric_replicas(5, 12000, 20000, _pods(5, [])) == 3  # ScaleDownCMObject
    assert rc.object_metric_replicas(3, 20666, 20000, three) == 3  # ToleranceCMObject
    assert rc.per_pod_replicas(3, 20000, 5000) == (4, 6667)  # ScaleUpCMPerPodObject
    assert rc.per_pod_replicas(5, 6000, 2000) == (3, 1200)  # ScaleDownPerPodCMObject
    assert rc.per_pod_replicas(4, 20166, 5000) == (4, 5042)  # TolerancePerPodCMObject
    assert rc.per_pod_replicas(3, 8600, 2150) == (4, 2867)  # ScaleUpPerPodCMExternal
    assert rc.per_pod_replicas(5, 8600, 2867) == (3, 1720)  # ScaleDownPerPodCMExternal
    assert rc.per_pod_replicas(3, 8600, 2900) == (3, 2867)  # TolerancePerPodCMExternal
    assert rc.external_metric_replicas(3, [8600], 4400, unready) == (
        2,
        8600,
    )  # ...IgnoresUnreadyPods
    assert rc.external_metric_replicas(5, [8600], 14334, _pods(5, [])) == (3, 8600)
    assert rc.external_metric_replicas(3, [8600], 8888, three) == (3, 8600)
    assert rc.usage_ratio_replicas(0, 2.5, []) == 3  # scaling from zero ignores pods


def _pod(name, start=None, ready=None, transition=None, phase="Succeeded"):
    status = {"phase": phase}
    if start is not None:
        status["startTime"] = format_time(NOW + start)
    if ready is not None:
        cond = {"type": "Ready", "status": ready}
        if transition is not None:
            cond["lastTransitionTime"] = format_time(NOW + transition)
        status["conditions"] = [cond]
    return {"metadata": {"name": name}, "status": status}


@pytest.mark.parametrize(
    ("pod", "metric", "resource", "want"),
    [
        pytest.param(
            _pod("bentham"),
            rc.PodMetric(1, NOW, 60),
            "memory",
            (1, set(), set()),
            id="count in a ready pod - memory",
        ),
        pytest.param(
            _pod("lucretius", start=0),
            rc.PodMetric(1),
            "cpu",
            (0, {"lucretius"}, set()),
            id="unready a pod without ready condition - CPU",
        ),
        pytest.param(
            _pod("bentham", -60, T, -30),
            rc.PodMetric(1, NOW, 30),
            "cpu",
            (1, set(), set()),
            id="count in a ready pod with fresh metrics during initialization period - CPU",
        ),
        pytest.param(
            _pod("bentham", -60, T, -30),
            rc.PodMetric(1, NOW, 60),
            "cpu",
            (0, {"bentham"}, set()),
            id="unready a ready pod without fresh metrics during initialization period - CPU",
        ),
        pytest.param(
            _pod("lucretius", -600, F, -594),
            rc.PodMetric(1),
            "cpu",
            (0, {"lucretius"}, set()),
            id="unready an unready pod during initialization period - CPU",
        ),
        pytest.param(
            _pod("bentham", -180, T, -180),
            rc.PodMetric(1, NOW - 120, 60),
            "cpu",
            (1, set(), set()),
            id="count in a ready pod without fresh metrics after initialization period - CPU",
        ),
        pytest.param(
            _pod("lucretius", -600, F, -540),
            rc.PodMetric(1),
            "cpu",
            (1, set(), set()),
            id="count in an unready pod that was ready after initialization period - CPU",
        ),
        pytest.param(
            _pod("lucretius", -600, F, -590),
            rc.PodMetric(1),
            "cpu",
            (1, set(), set()),
            id="unready pod that has never been ready after initialization period - CPU",
        ),
        pytest.param(
            _pod("epicurus", -180), None, "cpu", (0, set(), {"epicurus"}), id="a missing pod"
        ),
        pytest.param(
            _pod("pending", phase="Pending"),
            rc.PodMetric(1),
            "cpu",
            (0, {"pending"}, set()),
            id="pending pods are unready",
        ),
    ],
)
def test_group_pods(pod, metric, resource, want):
    metrics = {} if metric is None else {pod["metadata"]["name"]: metric}
    ready, unready, missing, ignored = rc.group_pods([pod], metrics, resource, NOW, 120.0, 10.0)
    assert (ready, unready, missing) == want and ignored == set()


def test_tolerance_is_a_closed_interval():
    assert rc.is_within(1.1) and rc.is_within(0.9) and not rc.is_within(1.11)
    assert rc.is_within(1.3, (0.1, 0.5)) and not rc.is_within(0.85, (0.1, 0.5))


# -- horizontal.go ------------------------------------------------------------------------------
def R_(replicas, minutes_ago):
    return hpa.TimestampedRecommendation(replicas, NOW - 60 * minutes_ago)


@pytest.mark.parametrize(
    ("recommendations", "desired", "want", "log_length"),
    [
        pytest.param([], 5, 5, 1, id="empty log"),
        pytest.param([R_(4, 2), R_(5, 1)], 3, 5, 3, id="stabilize"),
        pytest.param([R_(1, 2), R_(2, 1)], 3, 3, 3, id="no stabilize"),
        pytest.param([R_(10, 10), R_(9, 9)], 3, 3, 2, id="no stabilize - old recommendations"),
        pytest.param(
            [R_(10, 10), R_(4, 1), R_(5, 2), R_(9, 9)],
            3,
            5,
            4,
            id="stabilize - old recommendations",
        ),
    ],
)
def test_stabilize_recommendation(recommendations, desired, want, log_length):
    got, history = hpa.stabilize_recommendation(recommendations, desired, NOW, 300)
    assert (got, len(history)) == (want, log_length)


@pytest.mark.parametrize(
    ("recommendations", "current", "desired", "up_window", "down_window", "want", "history"),
    [
        pytest.param([], 100, 5, 0, 0, 5, [5], id="empty recommendations for scaling down"),
        pytest.param(
            [R_(4, 2), R_(5, 1)], 100, 3, 0, 180, 5, [4, 5, 3], id="simple scale down stabilization"
        ),
        pytest.param(
            [R_(4, 2), R_(5, 1)], 1, 7, 300, 0, 4, [4, 5, 7], id="simple scale up stabilization"
        ),
        pytest.param(
            [R_(1, 2), R_(2, 1)], 100, 3, 300, 0, 3, [1, 2, 3], id="no scale down stabilization"
        ),
        pytest.param(
            [R_(4, 2), R_(5, 1)], 1, 3, 0, 300, 3, [4, 5, 3], id="no scale up stabilization"
        ),
        pytest.param(
            [R_(10, 10), R_(9, 9)],
            100,
            3,
            0,
            0,
            3,
            [10, 3],
            id="no scale down stabilization, reuse recommendation element",
        ),
        pytest.param(
            [R_(10, 10), R_(9, 9)],
            1,
            100,
            0,
            0,
            100,
            [10, 100],
            id="no scale up stabilization, reuse recommendation element",
        ),
        pytest.param(
            [R_(10, 10), R_(4, 1), R_(5, 2), R_(9, 9)],
            100,
            3,
            0,
            180,
            5,
            [10, 4, 5, 3],
            id="scale down stabilization, reuse one of obsolete recommendation element",
        ),
        pytest.param(
            [R_(10, 100), R_(6, 1), R_(5, 2), R_(9, 3)],
            1,
            100,
            300,
            0,
            5,
            [100, 6, 5, 9],
            id="scale up stabilization, reuse one of obsolete recommendation element",
        ),
    ],
)
def test_stabilize_recommendation_with_behaviors(
    recommendations, current, desired, up_window, down_window, want, history
):
    up = hpa.generate_scale_up_rules({"stabilizationWindowSeconds": up_window})
    down = hpa.generate_scale_down_rules({"stabilizationWindowSeconds": down_window})
    got, _, _, new_history = hpa.stabilize_recommendation_with_behaviors(
        recommendations, current, desired, up, down, NOW
    )
    assert got == want
    assert [r.replicas for r in new_history] == history


def _hpa(min_replicas=1, max_replicas=100, behavior=None):
    spec = {"minReplicas": min_replicas, "maxReplicas": max_replicas}
    if behavior is not None:
        spec["behavior"] = behavior
    return {"spec": spec, "status": {}}


def _cond(norm, kind):
    c = next(c for c in norm.conditions if c["type"] == kind)
    return c["status"], c["reason"]


@pytest.mark.parametrize(
    ("current", "desired", "want", "limited"),
    [
        pytest.param(1, 10, 4, ("True", "ScaleUpLimit"), id="from 1 at most 4 without behavior"),
        pytest.param(3, 10, 6, ("True", "ScaleUpLimit"), id="from 3 at most 6 without behavior"),
        pytest.param(10, 200, 20, ("True", "ScaleUpLimit"), id="from 10 at most 20"),
        pytest.param(60, 200, 100, ("True", "TooManyReplicas"), id="clamped to maxReplicas"),
        pytest.param(5, 0, 1, ("True", "TooFewReplicas"), id="clamped to minReplicas"),
        pytest.param(5, 7, 7, ("False", "DesiredWithinRange"), id="within range"),
    ],
)
def test_normalize_without_behavior(current, desired, want, limited):
    norm = hpa.normalize_desired_replicas(_hpa(), current, desired, NOW)
    assert norm.replicas == want
    assert _cond(norm, "ScalingLimited") == limited
    assert _cond(norm, "AbleToScale") == ("True", "ReadyForNewScale")


def test_legacy_downscale_is_stabilized_over_five_minutes():
    history = [hpa.TimestampedRecommendation(8, NOW - 120)]
    norm = hpa.normalize_desired_replicas(_hpa(), 8, 3, NOW, recommendations=history)
    assert norm.replicas == 8
    assert _cond(norm, "AbleToScale") == ("True", "ScaleDownStabilized")


@pytest.mark.parametrize(("current", "want"), [(1, 5), (2, 6), (3, 7), (10, 20), (40, 80)])
def test_default_behavior_scales_up_by_four_pods_or_double(current, want):
    norm = hpa.normalize_desired_replicas(_hpa(max_replicas=1000, behavior={}), current, 1000, NOW)
    assert norm.replicas == want
    assert _cond(norm, "ScalingLimited") == ("True", "ScaleUpLimit")


def _ev(change, seconds_ago):
    return hpa.ScaleEvent(change, NOW - seconds_ago)


@pytest.mark.parametrize(
    ("rules", "current", "up_events", "down_events", "want"),
    [
        pytest.param({}, 5, [], [], 10, id="default rules double"),
        pytest.param({}, 5, [_ev(3, 10)], [], 6, id="pods added in the period count against it"),
        pytest.param({}, 5, [_ev(3, 20)], [], 10, id="events older than the period are forgotten"),
        pytest.param(
            {}, 5, [_ev(3, 10)], [_ev(2, 5)], 8, id="both directions shape the period start"
        ),
        pytest.param({"selectPolicy": "Min"}, 5, [], [], 9, id="Min picks the smaller change"),
        pytest.param(
            {"selectPolicy": "Disabled"}, 5, [], [], 5, id="Disabled keeps the current count"
        ),
        pytest.param(
            {"policies": [{"type": "Percent", "value": 50, "periodSeconds": 60}]},
            3,
            [],
            [],
            5,
            id="percent rounds up",
        ),
    ],
)
def test_scale_up_limit_with_rules(rules, current, up_events, down_events, want):
    rules = hpa.generate_scale_up_rules(rules)
    assert (
        hpa.calculate_scale_up_limit_with_scaling_rules(current, up_events, down_events, rules, NOW)
        == want
    )


@pytest.mark.parametrize(
    ("rules", "current", "down_events", "want"),
    [
        pytest.param({}, 10, [], 0, id="default rules allow all at once"),
        pytest.param(
            {"policies": [{"type": "Percent", "value": 50, "periodSeconds": 60}]},
            5,
            [],
            2,
            id="percent truncates",
        ),
        pytest.param(
            {"policies": [{"type": "Pods", "value": 2, "periodSeconds": 60}]},
            10,
            [_ev(2, 30)],
            10,
            id="pods removed in the period count against it",
        ),
        pytest.param(
            {
                "policies": [
                    {"type": "Pods", "value": 2, "periodSeconds": 60},
                    {"type": "Percent", "value": 50, "periodSeconds": 60},
                ]
            },
            10,
            [],
            5,
            id="Max picks the biggest change",
        ),
        pytest.param(
            {
                "selectPolicy": "Min",
                "policies": [
                    {"type": "Pods", "value": 2, "periodSeconds": 60},
                    {"type": "Percent", "value": 50, "periodSeconds": 60},
                ],
            },
            10,
            [],
            8,
            id="Min picks the smallest change",
        ),
    ],
)
def test_scale_down_limit_with_behaviors(rules, current, down_events, want):
    rules = hpa.generate_scale_down_rules(rules)
    assert (
        hpa.calculate_scale_down_limit_with_behaviors(current, [], down_events, rules, NOW) == want
    )


@pytest.mark.parametrize(
    ("current", "desired", "min_r", "max_r", "behavior", "want", "reason"),
    [
        pytest.param(5, 7, 3, 8, {}, 7, "DesiredWithinRange", id="scaleUp with default behavior"),
        pytest.param(5, 20, 3, 8, {}, 8, "TooManyReplicas", id="scaleUp limited by maxReplicas"),
        pytest.param(
            5,
            20,
            3,
            100,
            {"scaleUp": {"policies": [{"type": "Pods", "value": 2, "periodSeconds": 60}]}},
            7,
            "ScaleUpLimit",
            id="scaleUp limited by a Pods policy",
        ),
        pytest.param(
            5,
            1,
            3,
            8,
            {"scaleDown": {"stabilizationWindowSeconds": 0}},
            3,
            "TooFewReplicas",
            id="scaleDown limited by minReplicas",
        ),
        pytest.param(
            10,
            1,
            1,
            20,
            {
                "scaleDown": {
                    "stabilizationWindowSeconds": 0,
                    "policies": [{"type": "Pods", "value": 3, "periodSeconds": 60}],
                }
            },
            7,
            "ScaleDownLimit",
            id="scaleDown limited by a Pods policy",
        ),
        pytest.param(
            10,
            1,
            1,
            20,
            {"scaleDown": {"selectPolicy": "Disabled"}},
            10,
            "ScaleDownLimit",
            id="scaleDown disabled",
        ),
    ],
)
def test_normalize_with_behavior(current, desired, min_r, max_r, behavior, want, reason):
    norm = hpa.normalize_desired_replicas(_hpa(min_r, max_r, behavior), current, desired, NOW)
    assert norm.replicas == want
    assert _cond(norm, "ScalingLimited")[1] == reason


def test_behavior_scale_down_waits_for_the_default_window():
    history = [hpa.TimestampedRecommendation(10, NOW - 100)]
    norm = hpa.normalize_desired_replicas(_hpa(behavior={}), 10, 2, NOW, recommendations=history)
    assert norm.replicas == 10
    assert _cond(norm, "AbleToScale") == ("True", "ScaleDownStabilized")
    norm = hpa.normalize_desired_replicas(
        _hpa(behavior={}), 10, 2, NOW + 400, recommendations=norm.recommendations
    )
    assert norm.replicas == 2


def test_store_scale_event_reuses_outdated_slots():
    behavior = {"scaleUp": {"policies": [{"type": "Pods", "value": 4, "periodSeconds": 60}]}}
    up, down = hpa.store_scale_event(behavior, [_ev(2, 120), _ev(1, 30)], [], 3, 7, NOW)
    assert [(e.change, e.timestamp) for e in up] == [(4, NOW), (1, NOW - 30)]
    assert hpa.store_scale_event(None, [], [], 3, 7, NOW) == ([], [])


@pytest.mark.parametrize(
    ("current", "proposal", "want", "reason"),
    [
        pytest.param(0, 5, (0, False), "", id="a target scaled to zero disables scaling"),
        pytest.param(
            120, 5, (100, True), "Current number of replicas above Spec.MaxReplicas", id="above max"
        ),
        pytest.param(
            5,
            12,
            (10, True),
            "cpu resource utilization (percentage of request) above target",
            id="metric above target",
        ),
        pytest.param(5, 5, (5, False), "", id="at target"),
    ],
)
def test_desired_replicas(current, proposal, want, reason):
    decision = hpa.desired_replicas(_hpa(min_replicas=4), current, proposal, NOW)
    assert (decision.replicas, decision.rescale) == want
    assert decision.reason == reason
    if current == 0:
        active = next(c for c in decision.conditions if c["type"] == "ScalingActive")
        assert (active["status"], active["reason"]) == ("False", "ScalingDisabled")
