"""NodeAffinity: nodeSelector, required and preferred node affinity, addedAffinity, and the
PreFilter that narrows nodes by metadata.name (upstream's node_affinity_test.go cases)."""

import pytest

from kube_teach.scheduler.framework import (
    Code,
    CycleState,
    PodInfo,
    PreFilterResult,
    Snapshot,
    Status,
)
from kube_teach.scheduler.plugins.node_affinity import (
    ERR_REASON_CONFLICT,
    ERR_REASON_ENFORCED,
    ERR_REASON_POD,
    NodeAffinity,
)

from .builders import node, pod, run_filter, run_score

UU = Code.UnschedulableAndUnresolvable
REJECT = Status(UU, ERR_REASON_POD)


def required(*terms):
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}
        }
    }


def expr(key, operator, *values):
    e = {"key": key, "operator": operator}
    if values:
        e["values"] = list(values)
    return e


def name_in(*names):
    return {"key": "metadata.name", "operator": "In", "values": list(names)}


@pytest.mark.parametrize(
    ("spec", "labels", "want"),
    [
        pytest.param({"nodeSelector": {"foo": "bar"}}, {}, REJECT, id="missing labels"),
        pytest.param({"nodeSelector": {"foo": "bar"}}, {"foo": "bar"}, Status(), id="same labels"),
        pytest.param({"nodeSelector": {"foo": "bar"}}, {"foo": "bar", "baz": "blah"}, Status(),
                     id="node labels are superset"),
        pytest.param({"nodeSelector": {"foo": "bar", "baz": "blah"}}, {"foo": "bar"}, REJECT,
                     id="node labels are subset"),
        pytest.param({"affinity": required({"matchExpressions": [expr("foo", "In", "bar", "value2")]})},
                     {"foo": "bar"}, Status(), id="In matches"),
        pytest.param({"affinity": required({"matchExpressions": [expr("kernel-version", "Gt", "0204")]})},
                     {"kernel-version": "0206"}, Status(), id="Gt compares integers"),
        pytest.param({"affinity": required({"matchExpressions": [expr("mem-type", "NotIn", "DDR", "DDR2")]})},
                     {"mem-type": "DDR3"}, Status(), id="NotIn matches another value"),
        pytest.param({"affinity": required({"matchExpressions": [expr("GPU", "Exists")]})},
                     {"GPU": "NVIDIA-GRID-K1"}, Status(), id="Exists"),
        pytest.param({"affinity": required({"matchExpressions": [expr("foo", "In", "value1", "value2")]})},
                     {"foo": "bar"}, REJECT, id="In without the value"),
        pytest.param({"affinity": required()}, {"foo": "bar"}, REJECT, id="no terms match nothing"),
        pytest.param({"affinity": required({"matchExpressions": []})}, {"foo": "bar"}, REJECT,
                     id="an empty term matches nothing"),
        pytest.param({"affinity": required({"matchExpressions": [expr("foo", "In", "x")]},
                                           {"matchExpressions": [expr("diffkey", "In", "wrong", "value2")]},
                                           {"matchExpressions": [expr("foo", "Exists")]})},
                     {"foo": "bar"}, Status(), id="terms are ORed"),
        pytest.param({"affinity": required({"matchExpressions": [expr("GPU", "Exists"),
                                                                   expr("GPU", "NotIn", "AMD", "INTER")]})},
                     {"GPU": "NVIDIA-GRID-K1"}, Status(), id="expressions of a term are ANDed"),
        pytest.param({"nodeSelector": {"foo": "bar"},
                      "affinity": required({"matchExpressions": [expr("foo", "Exists")]})},
                     {"foo": "baz"}, REJECT, id="nodeSelector and affinity must both match"),
        pytest.param({"affinity": required({"matchFields": [name_in("node1")]})}, {}, Status(),
                     id="matchFields on metadata.name"),
        pytest.param({"affinity": required({"matchFields": [{"key": "metadata.name", "operator": "In",
                                                              "values": ["node1", "node2"]}]})},
                     {}, REJECT, id="matchFields allow exactly one value"),
    ],
)  # fmt: skip
def test_filter(spec, labels, want):
    _, got = run_filter(NodeAffinity(), pod(**spec), [node("node1", labels=labels)])
    assert got["node1"] == want


def test_pre_filter_skips_pods_without_node_constraints():
    pre, _ = run_filter(NodeAffinity(), pod(), [node("node1")])
    assert pre.is_skip()
    pre, _ = run_filter(NodeAffinity(), pod(affinity={}), [node("node1")])
    assert pre.is_skip()


@pytest.mark.parametrize(
    ("terms", "want"),
    [
        pytest.param([{"matchFields": [name_in("node1")]}], {"node1"}, id="one name"),
        pytest.param([{"matchFields": [name_in("node1")]}, {"matchFields": [name_in("node2")]}],
                     {"node1", "node2"}, id="terms are unioned"),
        pytest.param([{"matchFields": [name_in("node1")]}, {"matchExpressions": [expr("foo", "Exists")]}],
                     None, id="a term without names allows all nodes"),
        pytest.param([{"matchFields": [name_in("node1"), name_in("node2")]}], "conflict",
                     id="requirements within a term are intersected"),
    ],
)  # fmt: skip
def test_pre_filter_result(terms, want):
    pi = PodInfo(pod(affinity=required(*terms)))
    state = CycleState(Snapshot([node("node1"), node("node2")]))
    got = NodeAffinity().pre_filter(state, pi, [])
    if want == "conflict":
        assert got == Status(UU, ERR_REASON_CONFLICT)
    elif want is None:
        assert got == Status()
    else:
        assert isinstance(got, PreFilterResult) and got.node_names == want


@pytest.mark.parametrize(
    ("pod_affinity", "added", "want"),
    [
        pytest.param({"matchExpressions": [expr("zone", "In", "foo")]},
                     {"matchFields": [name_in("node2")]}, Status(), id="matches added and pod affinity"),
        pytest.param({"matchExpressions": [expr("zone", "In", "bar")]},
                     {"matchFields": [name_in("node2")]}, REJECT, id="matches added but not pod affinity"),
        pytest.param(None, {"matchExpressions": [expr("zone", "In", "bar")]},
                     Status(UU, ERR_REASON_ENFORCED), id="does not match added affinity"),
    ],
)  # fmt: skip
def test_added_affinity(pod_affinity, added, want):
    plugin = NodeAffinity(
        {
            "addedAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [added]}
            }
        }
    )
    spec = {"affinity": required(pod_affinity)} if pod_affinity else {}
    _, got = run_filter(plugin, pod(**spec), [node("node2", labels={"zone": "foo"})])
    assert got["node2"] == want


def preferred(*weighted):
    return {
        "nodeAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": w, "preference": {"matchExpressions": exprs}} for w, exprs in weighted
            ]
        }
    }


AFFINITY1 = preferred((2, [expr("foo", "In", "bar")]))
AFFINITY2 = preferred(
    (2, [expr("foo", "In", "bar")]),
    (4, [expr("key", "In", "value")]),
    (5, [expr("foo", "In", "bar"), expr("key", "In", "value"), expr("az", "In", "az1")]),
)
LABEL1, LABEL2, LABEL3 = {"foo": "bar"}, {"key": "value"}, {"az": "az1"}
LABEL4, LABEL5 = {"abc": "az11", "def": "az22"}, {"foo": "bar", "key": "value", "az": "az1"}


@pytest.mark.parametrize(
    ("affinity", "labels", "want"),
    [
        pytest.param(AFFINITY1, [LABEL4, LABEL2, LABEL3], [0, 0, 0], id="no node matches: all zero"),
        pytest.param(AFFINITY1, [LABEL1, LABEL2, LABEL3], [100, 0, 0], id="only node1 matches"),
        pytest.param(AFFINITY2, [LABEL1, LABEL5, LABEL2], [18, 100, 36], id="weights 2, 11 and 4"),
    ],
)  # fmt: skip
def test_score(affinity, labels, want):
    nodes = [node(f"node{i}", labels=lab) for i, lab in enumerate(labels)]
    assert list(run_score(NodeAffinity(), pod(affinity=affinity), nodes).values()) == want


def test_score_with_added_affinity():
    added = {
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 3, "preference": {"matchExpressions": [expr("key", "In", "value")]}}
        ]
    }
    nodes = [
        node("node1", labels=LABEL1),
        node("node2", labels=LABEL2),
        node("node3", labels=LABEL5),
    ]
    got = run_score(NodeAffinity({"addedAffinity": added}), pod(affinity=AFFINITY1), nodes)
    assert list(got.values()) == [40, 60, 100]
    only_added = NodeAffinity({"addedAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": AFFINITY1[
        "nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]}})  # fmt: skip
    assert list(run_score(only_added, pod(), nodes[:2]).values()) == [100, 0]


def test_pre_score_skips_and_reports_broken_terms():
    assert run_score(NodeAffinity(), pod(), [node("node1")]) == Status(Code.Skip)
    broken = preferred((2, [expr("invalid key", "In", "bar")]))
    state = CycleState(Snapshot([node("node1")]))
    got = NodeAffinity().pre_score(state, PodInfo(pod(affinity=broken)), [])
    assert got.code == Code.Error
    assert got.message.startswith(
        '[0].matchExpressions[0].key: Invalid value: "invalid key": name part must'
    )
