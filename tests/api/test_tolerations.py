"""Taint and toleration matching against upstream's cases.

Cases come from k8s.io/api core/v1 toleration_test.go and taint_test.go, and
component-helpers scheduling/corev1 helpers_test.go.
"""

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kube_teach.api.tolerations import (
    NO_SCHEDULE_EFFECTS,
    find_untolerated_taint,
    match_taint,
    match_toleration,
    taint_to_string,
    tolerates_taint,
)


def taint(key, value="", effect="NoSchedule"):
    return {"key": key, "value": value, "effect": effect}


def toleration(key="", operator="", value="", effect=""):
    return {"key": key, "operator": operator, "value": value, "effect": effect}


@pytest.mark.parametrize(
    ("tol", "tnt", "comparison", "want"),
    [
        # TestTolerationToleratesTaint
        pytest.param(
            toleration("foo", "Exists", effect="NoSchedule"),
            taint("foo"),
            False,
            True,
            id="Exists with the same key and effect tolerates a taint without value",
        ),
        pytest.param(
            toleration("foo", "Exists", effect="NoSchedule"),
            taint("foo", "bar"),
            False,
            True,
            id="Exists tolerates a taint with any value",
        ),
        pytest.param(
            toleration("", "Exists", effect="NoSchedule"),
            taint("foo", "bar"),
            False,
            True,
            id="an empty key with Exists tolerates every key",
        ),
        pytest.param(
            toleration("foo", "Equal", "bar", "NoSchedule"),
            taint("foo", "bar"),
            False,
            True,
            id="Equal with the same key value and effect tolerates",
        ),
        pytest.param(
            toleration("foo", "Equal", "value1", "NoSchedule"),
            taint("foo", "value2"),
            False,
            False,
            id="Equal with another value does not tolerate",
        ),
        pytest.param(
            toleration("foo", "Equal", "bar", "NoSchedule"),
            taint("foo", "bar", "NoExecute"),
            False,
            False,
            id="a different effect is not tolerated",
        ),
        pytest.param(
            toleration("foo", "", "bar"),
            taint("foo", "bar", "NoExecute"),
            False,
            True,
            id="an empty operator means Equal and an empty effect matches every effect",
        ),
        pytest.param(
            toleration("other", "Exists"),
            taint("foo", "bar"),
            False,
            False,
            id="Exists on another key does not tolerate",
        ),
        pytest.param(
            toleration("foo", "Sometimes", "bar"),
            taint("foo", "bar"),
            False,
            False,
            id="an unknown operator tolerates nothing",
        ),
        pytest.param(
            toleration("node.kubernetes.io/sla", "Gt", "950", "NoSchedule"),
            taint("node.kubernetes.io/sla", "800"),
            True,
            False,
            id="Gt does not tolerate a smaller taint value",
        ),
        pytest.param(
            toleration("node.kubernetes.io/sla", "Gt", "750", "NoSchedule"),
            taint("node.kubernetes.io/sla", "950"),
            True,
            True,
            id="Gt tolerates a larger taint value",
        ),
        pytest.param(
            toleration("node.kubernetes.io/sla", "Lt", "800", "NoSchedule"),
            taint("node.kubernetes.io/sla", "950"),
            True,
            False,
            id="Lt does not tolerate a larger taint value",
        ),
        pytest.param(
            toleration("node.kubernetes.io/sla", "Lt", "950", "NoSchedule"),
            taint("node.kubernetes.io/sla", "800"),
            True,
            True,
            id="Lt tolerates a smaller taint value",
        ),
        pytest.param(
            toleration("node.kubernetes.io/sla", "Gt", "950", "NoSchedule"),
            taint("node.kubernetes.io/sla", "950"),
            True,
            False,
            id="Gt is strict on equal values",
        ),
        pytest.param(
            toleration("node.kubernetes.io/sla", "Gt", "950", "NoSchedule"),
            taint("node.kubernetes.io/sla", "high"),
            True,
            False,
            id="Gt does not tolerate a non-numeric taint value",
        ),
        pytest.param(
            toleration("test-key", "Gt", "-100", "NoSchedule"),
            taint("test-key", "-200"),
            True,
            False,
            id="Gt compares negative numbers",
        ),
        pytest.param(
            toleration("test-key", "Gt", "9223372036854775806", "NoSchedule"),
            taint("test-key", "100"),
            True,
            False,
            id="Gt handles int64-sized thresholds",
        ),
        pytest.param(
            toleration("node.kubernetes.io/sla", "Lt", "950", "NoSchedule"),
            taint("node.kubernetes.io/sla", "800"),
            False,
            False,
            id="Lt tolerates nothing while the comparison gate is off",
        ),
        # TestCompareNumericValues: only canonical decimal int64 values compare
        pytest.param(
            toleration("k", "Gt", "0100"),
            taint("k", "200"),
            True,
            False,
            id="a leading zero in the toleration is refused",
        ),
        pytest.param(
            toleration("k", "Gt", "+100"),
            taint("k", "200"),
            True,
            False,
            id="a plus sign in the toleration is refused",
        ),
        pytest.param(
            toleration("k", "Gt", "100.5"),
            taint("k", "200"),
            True,
            False,
            id="a decimal point is refused",
        ),
        pytest.param(
            toleration("k", "Gt", "-"), taint("k", "100"), True, False, id="a lone minus is refused"
        ),
        pytest.param(
            toleration("k", "Lt", "100"),
            taint("k", " 200 "),
            True,
            False,
            id="spaces around the taint value are refused",
        ),
        pytest.param(
            toleration("k", "Gt", "0"),
            taint("k", "9223372036854775807"),
            True,
            True,
            id="the largest int64 taint value compares",
        ),
        pytest.param(
            toleration("k", "Lt", "0"),
            taint("k", "-9223372036854775808"),
            True,
            True,
            id="the smallest int64 taint value compares",
        ),
        pytest.param(
            toleration("k", "Gt", "0"),
            taint("k", "9223372036854775808"),
            True,
            False,
            id="a taint value beyond int64 is refused",
        ),
    ],
)
def test_tolerates_taint(tol, tnt, comparison, want):
    assert tolerates_taint(tol, tnt, enable_comparison_operators=comparison) is want


@pytest.mark.parametrize(
    ("tnt", "want"),
    [
        # TestTaintToString
        pytest.param(
            taint("foo", "bar", "NoSchedule"),
            "foo=bar:NoSchedule",
            id="key value and effect print in full",
        ),
        pytest.param(
            taint("foo", "", "NoSchedule"),
            "foo:NoSchedule",
            id="a taint without value drops the equals",
        ),
        pytest.param(taint("foo", "", ""), "foo", id="a bare key prints alone"),
        pytest.param(
            taint("foo", "bar", ""), "foo=bar:", id="a taint without effect keeps the colon"
        ),
    ],
)
def test_taint_to_string(tnt, want):
    assert taint_to_string(tnt) == want


@pytest.mark.parametrize(
    ("a", "b", "want"),
    [
        # TestMatchTaint
        pytest.param(taint("foo", "bar"), taint("foo", "bar"), True, id="identical taints match"),
        pytest.param(
            taint("foo", "bar"),
            taint("foo", "different-value"),
            True,
            id="taints differing in value match",
        ),
        pytest.param(
            taint("foo", "bar"),
            taint("different-key", "bar"),
            False,
            id="taints with different keys differ",
        ),
        pytest.param(
            taint("foo", "bar"),
            taint("foo", "bar", "PreferNoSchedule"),
            False,
            id="taints with different effects differ",
        ),
    ],
)
def test_match_taint(a, b, want):
    assert match_taint(a, b) is want


def test_match_toleration_compares_all_four_fields():
    base = toleration("k", "Equal", "v", "NoSchedule")
    assert (match_toleration(base, dict(base)), match_toleration(base, {**base, "value": "w"})) == (
        True,
        False,
    )


@pytest.mark.parametrize(
    ("taints", "tolerations", "effects", "want"),
    [
        pytest.param(
            [], [], NO_SCHEDULE_EFFECTS, None, id="a node without taints has nothing untolerated"
        ),
        pytest.param(
            [taint("dedicated", "user1")],
            [],
            NO_SCHEDULE_EFFECTS,
            0,
            id="a pod without tolerations does not tolerate NoSchedule",
        ),
        pytest.param(
            [taint("dedicated", "user1", "PreferNoSchedule")],
            [],
            NO_SCHEDULE_EFFECTS,
            None,
            id="PreferNoSchedule is outside the filtered effects",
        ),
        pytest.param(
            [taint("dedicated", "user1", "PreferNoSchedule")],
            [],
            None,
            0,
            id="without an effect filter every taint counts",
        ),
        pytest.param(
            [taint("a", effect="NoExecute"), taint("b")],
            [toleration("a", "Exists")],
            NO_SCHEDULE_EFFECTS,
            1,
            id="the first untolerated taint in node order is returned",
        ),
        pytest.param(
            [taint("a"), taint("b")],
            [toleration(operator="Exists")],
            NO_SCHEDULE_EFFECTS,
            None,
            id="an empty key with Exists tolerates every taint",
        ),
        pytest.param(
            [taint("a", "1"), taint("b", "2", "NoExecute")],
            [toleration("b", "Equal", "2", "NoExecute"), toleration("a", "Equal", "1")],
            NO_SCHEDULE_EFFECTS,
            None,
            id="each taint may be tolerated by a different toleration",
        ),
    ],
)
def test_find_untolerated_taint(taints, tolerations, effects, want):
    found = find_untolerated_taint(taints, tolerations, effects)
    assert found is (None if want is None else taints[want])


@dataclass
class Taint:
    key: str
    value: str
    effect: str


def test_taint_objects_work_like_dicts():
    node_taint = Taint("dedicated", "", "NoSchedule")
    found = find_untolerated_taint(
        [node_taint], [{"key": "other", "operator": "Exists"}], NO_SCHEDULE_EFFECTS
    )
    assert (found, taint_to_string(node_taint)) == (node_taint, "dedicated:NoSchedule")


words = st.sampled_from(["", "a", "b"])
effects = st.sampled_from(["", "NoSchedule", "PreferNoSchedule", "NoExecute"])


@given(words, words, effects)
def test_an_empty_exists_toleration_tolerates_every_taint(key, value, effect):
    assert tolerates_taint(toleration(operator="Exists"), taint(key, value, effect))


@given(words, words, effects)
def test_a_toleration_copied_from_a_taint_tolerates_it(key, value, effect):
    assert tolerates_taint(toleration(key, "Equal", value, effect), taint(key, value, effect))
