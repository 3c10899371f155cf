"""Chapter 05's exercises: right answers pass, wrong ones get a hint naming the case, stubs say
"not yet", and the graders agree with the controllers they are built on."""

import math

import pytest

from kube_teach.controllers.deployment_util import resolve_fenceposts
from kube_teach.grading import check
from kube_teach.grading.exercises_controllers import (
    _RECONCILES,
    deletion_class,
    expected_hpa,
    expected_reconcile,
    is_active,
)


def stub(*args):
    raise NotImplementedError


# -- 05-replicaset-reconcile --------------------------------------------------------------------
def reconcile(replicas, pods):
    active = [p for p in pods if is_active(p)]
    if len(active) < replicas:
        return replicas - len(active), []
    ranked = sorted(active, key=deletion_class)
    return 0, [p["metadata"]["name"] for p in ranked[: len(active) - replicas]]


def counts_every_pod(replicas, pods):  # Failed and terminating pods are counted too
    if len(pods) < replicas:
        return replicas - len(pods), []
    return 0, [p["metadata"]["name"] for p in sorted(pods, key=deletion_class)][
        : len(pods) - replicas
    ]


def deletes_the_last_ones(replicas, pods):  # no ranking: the newest-listed go
    active = [p for p in pods if is_active(p)]
    if len(active) < replicas:
        return replicas - len(active), []
    return 0, [p["metadata"]["name"] for p in active[replicas:]]


@pytest.mark.parametrize(("replicas", "pods", "why"), _RECONCILES,
                         ids=[why for _, _, why in _RECONCILES])  # fmt: skip
def test_the_simple_ranking_agrees_with_the_controllers_on_every_case(replicas, pods, why):
    create, delete = reconcile(replicas, pods)
    want_create, want_delete = expected_reconcile(replicas, pods)
    assert create == want_create
    names = {p["metadata"]["name"]: p for p in pods}
    assert sorted(deletion_class(names[n]) for n in delete) == sorted(
        deletion_class(names[n]) for n in want_delete
    )


@pytest.mark.parametrize(
    ("answer", "passed", "says"),
    [
        pytest.param(reconcile, True, "", id="the rule passes"),
        pytest.param(counts_every_pod, False, "a Failed pod does not count: one is missing",
                     id="counting inactive pods"),
        pytest.param(deletes_the_last_ones, False, "upstream deletes ['web-b']: an unscheduled pod goes first",
                     id="deleting without ranking"),
        pytest.param(lambda r, p: max(0, r - len(p)), False, "return a pair (create, delete)",
                     id="not a pair"),
        pytest.param(lambda r, p: (0, ["web-z"]) if r == 3 and len(p) == 3 else reconcile(r, p),
                     False, "deletes 'web-z', which is not an active pod", id="an unknown pod"),
        pytest.param(lambda r, p: p[0]["meta"], False, "replicaset_reconcile(3, []) raised IndexError: list index out of range",
                     id="a crash names the inputs"),
        pytest.param(stub, False, "count the active pods", id="the stub is not yet"),
        pytest.param(..., False, "count the active pods", id="an ellipsis is not yet"),
        pytest.param(3, False, "pass the function itself", id="not a function"),
    ],
)  # fmt: skip
def test_replicaset_reconcile(answer, passed, says):
    result = check("05-replicaset-reconcile", answer)
    assert result.passed is passed, result.message
    assert says in result.message
    start = (
        "✔ 05-replicaset-reconcile: correct." if passed else "✘ 05-replicaset-reconcile: not yet."
    )
    assert result.text().startswith(start)


# -- 05-fenceposts ------------------------------------------------------------------------------
def _scaled(value, replicas, up):
    if isinstance(value, str):
        exact = int(value[:-1]) * replicas / 100
        return math.ceil(exact) if up else math.floor(exact)
    return value


def fenceposts(max_surge, max_unavailable, replicas):
    surge = _scaled(max_surge, replicas, True)
    unavailable = _scaled(max_unavailable, replicas, False)
    return (surge, 1) if surge == unavailable == 0 else (surge, unavailable)


@pytest.mark.parametrize(
    ("args", "want"),
    [
        pytest.param(("25%", "25%", 10), (3, 2), id="10 replicas at 25%/25%"),
        pytest.param(("25%", "25%", 4), (1, 1), id="4 replicas at 25%/25%"),
        pytest.param(("25%", "25%", 3), (1, 0), id="3 replicas: surge rounds up, unavailable down"),
        pytest.param(("39%", "39%", 10), (4, 3), id="39% of 10"),
        pytest.param(("0%", "0%", 10), (0, 1), id="both 0: unavailable becomes 1"),
    ],
)
def test_the_reference_answer_matches_the_controller(args, want):
    assert fenceposts(*args) == resolve_fenceposts(*args) == want


@pytest.mark.parametrize(
    ("answer", "passed", "says"),
    [
        pytest.param(fenceposts, True, "", id="the rule passes"),
        pytest.param(lambda s, u, r: (_scaled(s, r, True), _scaled(u, r, True)) if (s, u) != (0, 0)
                     else (0, 1), False, "maxUnavailable rounds down", id="rounding both up"),
        pytest.param(lambda s, u, r: (_scaled(s, r, False), _scaled(u, r, False)), False,
                     "maxSurge rounds up", id="rounding both down"),
        pytest.param(lambda s, u, r: (_scaled(s, r, True), _scaled(u, r, False)), False,
                     "Both came out 0, so maxUnavailable becomes 1", id="forgetting the 0/0 rule"),
        pytest.param(stub, False, "a percentage of maxSurge rounds up", id="the stub is not yet"),
    ],
)  # fmt: skip
def test_fenceposts(answer, passed, says):
    result = check("05-fenceposts", answer)
    assert result.passed is passed, result.message
    assert says in result.message


# -- 05-hpa-replicas ----------------------------------------------------------------------------
def hpa_desired_replicas(current, utilization, target):
    ratio = utilization / target
    return current if abs(1 - ratio) <= 0.1 else math.ceil(ratio * current)


@pytest.mark.parametrize(
    ("args", "want"),
    [
        pytest.param((1, 200, 50), 4, id="4 × the target: 4 replicas"),
        pytest.param((2, 54, 50), 2, id="within the tolerance"),
        pytest.param((10, 44, 50), 9, id="0.88 is outside the tolerance: ceil(8.8) = 9"),
    ],
)
def test_the_hpa_formula(args, want):
    assert expected_hpa(*args) == hpa_desired_replicas(*args) == want


@pytest.mark.parametrize(
    ("answer", "passed", "says"),
    [
        pytest.param(hpa_desired_replicas, True, "", id="the formula passes"),
        pytest.param(lambda c, u, t: math.ceil(u / t * c), False,
                     "within the 0.1 tolerance of 1, so nothing changes", id="no tolerance"),
        pytest.param(lambda c, u, t: c if abs(1 - u / t) <= 0.1 else round(u / t * c), False,
                     "ceil(", id="rounding instead of ceil"),
        pytest.param(stub, False, "ratio = utilization / target", id="the stub is not yet"),
    ],
)  # fmt: skip
def test_hpa_replicas(answer, passed, says):
    result = check("05-hpa-replicas", answer)
    assert result.passed is passed, result.message
    assert says in result.message
