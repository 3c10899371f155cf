"""Chapter 10's exercises: right answers pass, wrong ones get a hint, stubs say "not yet", and
the graders agree with the scheduler they are built on."""

import pytest

from kube_teach.grading import check
from kube_teach.grading.exercises_scheduler import make_pod
from kube_teach.grading.exercises_scheduler_skew import (
    _SKEW_CASES,
    NO_DEFAULT_SPREAD,
    ZONE,
    layout,
    skew_allows,
    spread_constraints,
    surge_placement,
    web_app,
)
from kube_teach.scheduler import evaluate

HOST = "kubernetes.io/hostname"


def stub(*args):
    raise NotImplementedError


def test_without_spreading_the_surge_lands_in_the_new_zone():
    got = surge_placement(None)
    assert got["zones"] == {"zone-a": 0, "zone-b": 0, "zone-c": 30}
    assert got["nodes"]["node-3"] == got["nodes"]["node-6"] == got["nodes"]["node-9"] == 10


def test_a_zone_constraint_keeps_zones_one_apart():
    got = surge_placement(spread_constraints(ZONE))
    assert got["unschedulable"] == 0
    assert got["zones"] == {"zone-a": 10, "zone-b": 10, "zone-c": 10}


def test_two_hard_constraints_cannot_both_hold_on_unequal_zones():
    got = surge_placement(spread_constraints(ZONE, HOST))
    assert got["unschedulable"] > 0


@pytest.mark.parametrize(
    ("answer", "passed", "says"),
    [
        (spread_constraints(ZONE), True, ""),
        (spread_constraints(ZONE) + spread_constraints(HOST, when="ScheduleAnyway"), True, ""),
        (spread_constraints(HOST), False, "more than one apart"),
        (spread_constraints(ZONE, when="ScheduleAnyway"), False, "ScheduleAnyway"),
        (spread_constraints(ZONE, HOST), False, "found no node"),
        ([], False, "zone-c 30"),
        (spread_constraints(ZONE)[0], False, "wrap your constraints"),
        ("maxSkew: 1", False, "list of constraint dicts"),
        ([spread_constraints(ZONE)[0] | {"labelSelector": "app=web-app"}], False, "raised"),
        (..., False, "topologySpreadConstraints"),
    ],
)
def test_zone_spread_grader(answer, passed, says):
    result = check("10-zone-spread", answer)
    assert result.passed is passed
    assert says in result.message


@pytest.mark.parametrize(("counts", "domain", "max_skew"), _SKEW_CASES)
def test_the_skew_rule_is_the_schedulers(counts, domain, max_skew):
    """Build one node per domain with counts[d] matching pods, and ask the scheduler whether a
    pod with a DoNotSchedule constraint over hostnames may go to `domain`."""
    nodes, _ = layout()
    nodes = [
        {**n, "metadata": {**n["metadata"], "name": d, "labels": {HOST: d}}}
        for n, d in zip(nodes, counts, strict=False)
    ]
    pods = [
        make_pod(f"{d}-{i}", "10m", "1Mi", labels={"app": "web-app"}, node=d)
        for d, n in counts.items()
        for i in range(n)
    ]
    constraint = spread_constraints(HOST)[0] | {"maxSkew": max_skew}
    pod = make_pod("new", "10m", "1Mi", labels={"app": "web-app"},
                   topologySpreadConstraints=[constraint])  # fmt: skip
    ev = evaluate(pod, nodes, pods, NO_DEFAULT_SPREAD["profiles"][0])
    assert (domain in ev.feasible_nodes) == skew_allows(counts, domain, max_skew)


def off_by_one(counts, domain, max_skew):  # forgets the pod being placed
    return counts[domain] - min(counts.values()) <= max_skew


def against_max(counts, domain, max_skew):  # compares with the fullest domain
    return max(counts.values()) - counts[domain] <= max_skew


@pytest.mark.parametrize(
    ("answer", "passed", "says"),
    [
        (skew_allows, True, ""),
        (off_by_one, False, "a skew of 2"),
        (against_max, False, "allows("),
        (lambda c, d, m: 1, False, "return True or False"),
        (stub, False, "raise NotImplementedError"),
        ("skew", False, "pass the function itself"),
    ],
)
def test_skew_filter_grader(answer, passed, says):
    result = check("10-skew-filter", answer)
    assert result.passed is passed
    assert says in result.message


def test_web_app_carries_the_workload_and_the_constraints():
    d = web_app(spread_constraints(ZONE))
    template = d["spec"]["template"]
    assert "kube-teach.io/workload" in template["metadata"]["annotations"]
    assert template["spec"]["topologySpreadConstraints"][0]["topologyKey"] == ZONE
    assert "topologySpreadConstraints" not in web_app()["spec"]["template"]["spec"]
