"""PodTopologySpread: DoNotSchedule filtering (maxSkew, minDomains, node inclusion policies,
matchLabelKeys) and ScheduleAnyway scoring, including the system default constraints
(upstream's filtering_test.go and scoring_test.go semantics)."""

import pytest

from kube_teach.scheduler.framework import Code, Status
from kube_teach.scheduler.plugins.pod_topology_spread import (
    ERR_REASON_CONSTRAINTS_NOT_MATCH,
    ERR_REASON_NODE_LABEL_NOT_MATCH,
    PodTopologySpread,
)

from .builders import node, pod, run_filter, run_score

HOST, ZONE = "kubernetes.io/hostname", "zone"
SKEW = Status(Code.Unschedulable, ERR_REASON_CONSTRAINTS_NOT_MATCH)
NO_LABEL = Status(Code.UnschedulableAndUnresolvable, ERR_REASON_NODE_LABEL_NOT_MATCH)
OK = Status()
FOO = {"foo": ""}


def spread(key, max_skew=1, when="DoNotSchedule", selector=None, **extra):
    return {
        "maxSkew": max_skew,
        "topologyKey": key,
        "whenUnsatisfiable": when,
        "labelSelector": selector
        if selector is not None
        else {"matchExpressions": [{"key": "foo", "operator": "Exists"}]},
        **extra,
    }


def nodes4(zone_b=True):
    out = []
    for name, zone in (
        ("node-a", "zone1"),
        ("node-b", "zone1"),
        ("node-x", "zone2"),
        ("node-y", "zone2"),
    ):
        labels = {HOST: name}
        if zone_b or name != "node-b":
            labels[ZONE] = zone
        out.append(node(name, labels=labels))
    return out


def placed(counts, labels=FOO, namespace="default"):
    """Matching pods: {node: count}."""
    return [
        pod(f"{n}-{i}", labels=labels, node_name=n, namespace=namespace)
        for n, c in counts.items()
        for i in range(c)
    ]


@pytest.mark.parametrize(
    ("constraints", "labels", "existing", "zone_b", "want"),
    [
        pytest.param([spread(ZONE)], FOO, {}, True, [OK, OK, OK, OK], id="no existing pods"),
        pytest.param([spread(ZONE)], {}, {}, True, [OK, OK, OK, OK],
                     id="no existing pods, incoming pod doesn't match itself"),
        pytest.param([spread(ZONE)], FOO, {"node-a": 1, "node-b": 1, "node-x": 1}, True, [SKEW, SKEW, OK, OK],
                     id="pods spread across zones as 2/1, only zone2 fits"),
        pytest.param([spread(ZONE)], FOO, {"node-a": 1, "node-x": 2}, False, [OK, NO_LABEL, SKEW, SKEW],
                     id="node-b has no zone label: it is rejected and its pods do not count"),
        pytest.param([spread(HOST)], FOO, {"node-a": 2, "node-b": 1, "node-y": 3}, True, [SKEW, SKEW, OK, SKEW],
                     id="pods spread across nodes as 2/1/0/3, only node-x fits"),
        pytest.param([spread(HOST, 2)], FOO, {"node-a": 2, "node-b": 1, "node-y": 3}, True, [SKEW, OK, OK, SKEW],
                     id="maxSkew 2: node-b and node-x fit"),
        pytest.param([spread(HOST)], {}, {"node-a": 2, "node-b": 1, "node-y": 3}, True, [SKEW, OK, OK, SKEW],
                     id="an incoming pod not matching the selector does not add itself"),
        pytest.param([spread(ZONE, minDomains=3)], FOO, {"node-a": 1, "node-x": 1}, True, [SKEW, SKEW, SKEW, SKEW],
                     id="fewer domains than minDomains: the global minimum is 0"),
        pytest.param([spread(ZONE, minDomains=2)], FOO, {"node-a": 1, "node-x": 1}, True, [OK, OK, OK, OK],
                     id="enough domains: the real minimum is used"),
        pytest.param([spread(ZONE), spread(HOST)], FOO, {"node-a": 2, "node-x": 1}, True, [SKEW, SKEW, SKEW, OK],
                     id="every constraint must hold"),
    ],
)  # fmt: skip
def test_filter(constraints, labels, existing, zone_b, want):
    incoming = pod(labels=labels, topologySpreadConstraints=constraints)
    _, got = run_filter(PodTopologySpread(), incoming, nodes4(zone_b), placed(existing))
    assert list(got.values()) == want


def test_filter_counts_only_live_pods_of_the_same_namespace():
    existing = placed({"node-a": 2}) + placed({"node-x": 5}, namespace="other")
    terminating = pod("gone", labels=FOO, node_name="node-x")
    terminating["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    incoming = pod(labels=FOO, topologySpreadConstraints=[spread(ZONE)])
    _, got = run_filter(PodTopologySpread(), incoming, nodes4(), existing + [terminating])
    assert list(got.values()) == [SKEW, SKEW, OK, OK]


def test_pre_filter_skips_pods_without_hard_constraints():
    pre, _ = run_filter(PodTopologySpread(), pod(labels=FOO), nodes4())
    assert pre.is_skip()
    soft = pod(labels=FOO, topologySpreadConstraints=[spread(ZONE, when="ScheduleAnyway")])
    assert run_filter(PodTopologySpread(), soft, nodes4())[0].is_skip()


def test_node_affinity_policy_honor_and_ignore():
    # node-x and node-y (zone2) are excluded by the pod's nodeSelector; with Honor their pods do
    # not count and zone2 is not a domain at all.
    nodes = nodes4()
    for n in nodes[:2]:
        n["metadata"]["labels"]["pick"] = "yes"
    existing = placed({"node-a": 1, "node-x": 3})
    honor = pod(labels=FOO, nodeSelector={"pick": "yes"}, topologySpreadConstraints=[spread(ZONE)])
    assert list(run_filter(PodTopologySpread(), honor, nodes, existing)[1].values())[:2] == [OK, OK]
    ignore = pod(labels=FOO, nodeSelector={"pick": "yes"},
                 topologySpreadConstraints=[spread(ZONE, nodeAffinityPolicy="Ignore")])  # fmt: skip
    assert list(run_filter(PodTopologySpread(), ignore, nodes, existing)[1].values())[:2] == [
        OK,
        OK,
    ]
    existing = placed({"node-a": 3, "node-x": 1})
    assert list(run_filter(PodTopologySpread(), honor, nodes, existing)[1].values())[:2] == [OK, OK]
    assert list(run_filter(PodTopologySpread(), ignore, nodes, existing)[1].values())[:2] == [
        SKEW,
        SKEW,
    ]


def test_node_taints_policy_honor():
    nodes = nodes4()
    for n in nodes[2:]:
        n["spec"]["taints"] = [{"key": "k", "value": "v", "effect": "NoSchedule"}]
    existing = placed({"node-a": 2})
    ignore = pod(labels=FOO, topologySpreadConstraints=[spread(ZONE)])
    honor = pod(labels=FOO, topologySpreadConstraints=[spread(ZONE, nodeTaintsPolicy="Honor")])
    assert list(run_filter(PodTopologySpread(), ignore, nodes, existing)[1].values())[:2] == [
        SKEW,
        SKEW,
    ]
    # With Honor the tainted zone2 is no domain, so zone1 is the minimum itself.
    assert list(run_filter(PodTopologySpread(), honor, nodes, existing)[1].values())[:2] == [OK, OK]


def test_match_label_keys_narrow_the_selector():
    existing = placed({"node-a": 2}, labels={"foo": "", "rev": "1"}) + placed(
        {"node-x": 1}, labels={"foo": "", "rev": "2"}
    )
    incoming = pod(labels={"foo": "", "rev": "2"},
                   topologySpreadConstraints=[spread(ZONE, matchLabelKeys=["rev"])])  # fmt: skip
    # Only rev=2 pods count: zone1 0, zone2 1.
    assert list(run_filter(PodTopologySpread(), incoming, nodes4(), existing)[1].values()) == [
        OK,
        OK,
        SKEW,
        SKEW,
    ]


@pytest.mark.parametrize(
    ("constraints", "existing", "want"),
    [
        pytest.param([spread(HOST, when="ScheduleAnyway")], {}, [100, 100, 100, 100],
                     id="one constraint on node, no existing pods"),
        # ln(6) weights: raw 4/2/0/5 -> 20/60/100/0
        pytest.param([spread(HOST, when="ScheduleAnyway")], {"node-a": 2, "node-b": 1, "node-y": 3},
                     [20, 60, 100, 0], id="one constraint on node, all 4 nodes are candidates"),
        # zone1 has 3 pods, zone2 1; ln(4) weights: raw 4, 4, 1, 1 -> 25, 25, 100, 100
        pytest.param([spread(ZONE, when="ScheduleAnyway")], {"node-a": 2, "node-b": 1, "node-x": 1},
                     [25, 25, 100, 100], id="one constraint on zone"),
        # maxSkew 3 adds 2 to every raw score: 2, 2, 2, 2 -> all tie
        pytest.param([spread(HOST, 3, when="ScheduleAnyway")], {}, [100, 100, 100, 100],
                     id="maxSkew - 1 is added to every raw score"),
    ],
)  # fmt: skip
def test_score(constraints, existing, want):
    incoming = pod(labels=FOO, topologySpreadConstraints=constraints)
    got = run_score(PodTopologySpread(), incoming, nodes4(), placed(existing))
    assert list(got.values()) == want


def test_score_ignores_nodes_missing_a_key_of_explicit_constraints():
    incoming = pod(labels=FOO, topologySpreadConstraints=[spread(ZONE, when="ScheduleAnyway")])
    got = run_score(PodTopologySpread(), incoming, nodes4(zone_b=False), placed({"node-a": 1}))
    # node-b lacks the zone: score 0. zone1 has 1 pod: raw 1·ln(4) -> 1; zone2 raw 0.
    assert got == {"node-a": 0, "node-b": 0, "node-x": 100, "node-y": 100}


def test_system_default_constraints_need_a_controller_or_service():
    nodes = [
        node("n1", labels={HOST: "n1", "topology.kubernetes.io/zone": "z1"}),
        node("n2", labels={HOST: "n2", "topology.kubernetes.io/zone": "z1"}),
        node("n3", labels={HOST: "n3"}),
    ]
    owner = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "name": "web-1",
        "controller": True,
        "uid": "u",
    }
    web = {"app": "web"}

    def web_pod(name, node_name=None):
        p = pod(name, labels=web, node_name=node_name)
        p["metadata"]["ownerReferences"] = [owner]
        return p

    existing = [web_pod("a", "n1"), web_pod("b", "n1"), web_pod("c", "n3")]
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web-1", "namespace": "default"},
          "spec": {"selector": {"matchLabels": web}}}  # fmt: skip
    assert run_score(PodTopologySpread(), web_pod("new"), nodes, existing) == Status(Code.Skip)
    got = run_score(PodTopologySpread(), web_pod("new"), nodes, existing, [rs], normalize=False)
    # hostname (maxSkew 3, ln 5) plus zone (maxSkew 5, ln 4; n3 has no zone and skips it):
    # n1 2·1.609+2 + 2·1.386+4 = 11.99; n2 2 + 6.77 = 8.77; n3 1.609+2 = 3.61
    assert got == {"n1": 12, "n2": 9, "n3": 4}
    got = run_score(PodTopologySpread(), web_pod("new"), nodes, existing, [rs])
    assert got == {"n1": 33, "n2": 58, "n3": 100}
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
               "spec": {"selector": web}}  # fmt: skip
    bare = pod("bare", labels=web)
    assert run_score(PodTopologySpread(), bare, nodes, existing, [service], normalize=False) == got | {
        "n1": 12, "n2": 9, "n3": 4,
    }  # fmt: skip
