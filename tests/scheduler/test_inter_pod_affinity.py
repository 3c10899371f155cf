"""InterPodAffinity: required (anti-)affinity filtering with symmetry and namespaceSelector,
and preferred-term scoring with hardPodAffinityWeight (upstream's filtering_test.go and
scoring_test.go semantics)."""

import pytest

from kube_teach.scheduler.framework import Code, Status
from kube_teach.scheduler.plugins.inter_pod_affinity import (
    ERR_REASON_AFFINITY,
    ERR_REASON_ANTI_AFFINITY,
    ERR_REASON_EXISTING_ANTI_AFFINITY,
    InterPodAffinity,
)

from .builders import node, pod, run_filter, run_score

AFFINITY_FAIL = Status(Code.UnschedulableAndUnresolvable, ERR_REASON_AFFINITY)
ANTI_FAIL = Status(Code.Unschedulable, ERR_REASON_ANTI_AFFINITY)
EXISTING_FAIL = Status(Code.Unschedulable, ERR_REASON_EXISTING_ANTI_AFFINITY)
REGION = "region"
HOST = "kubernetes.io/hostname"


def affinity(required=(), anti=(), preferred=(), preferred_anti=()):
    out = {}
    if required or preferred:
        out["podAffinity"] = {}
        if required:
            out["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] = list(required)
        if preferred:
            out["podAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"] = [
                {"weight": w, "podAffinityTerm": t} for w, t in preferred
            ]
    if anti or preferred_anti:
        out["podAntiAffinity"] = {}
        if anti:
            out["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] = list(anti)
        if preferred_anti:
            out["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"] = [
                {"weight": w, "podAffinityTerm": t} for w, t in preferred_anti
            ]
    return out


def in_term(key, values, topology_key, **extra):
    return {
        "labelSelector": {
            "matchExpressions": [{"key": key, "operator": "In", "values": list(values)}]
        },
        "topologyKey": topology_key,
        **extra,
    }


SECURITY_S1 = {"security": "S1"}
NODE1 = node("machine1", labels={REGION: "r1", HOST: "machine1"})


@pytest.mark.parametrize(
    ("incoming", "existing", "want"),
    [
        pytest.param(pod(affinity=affinity(required=[in_term("service", ["securityscan", "value2"], REGION)])),
                     [pod("e", labels={"service": "securityscan"}, node_name="machine1")], Status(),
                     id="affinity In matches the existing pod"),
        pytest.param(pod(affinity=affinity(required=[in_term("service", ["securityscan"], REGION,
                                                             namespaces=["DiffNameSpace"])])),
                     [pod("e", labels={"service": "securityscan"}, node_name="machine1", namespace="ns")],
                     AFFINITY_FAIL, id="affinity in another namespace does not match"),
        pytest.param(pod(affinity=affinity(required=[in_term("service", ["antivirusscan", "value2"], REGION)])),
                     [pod("e", labels={"service": "securityscan"}, node_name="machine1")], AFFINITY_FAIL,
                     id="affinity with an unmatching selector"),
        pytest.param(pod(affinity=affinity(required=[{"labelSelector": {"matchExpressions": [
            {"key": "service", "operator": "Exists"}, {"key": "wrongkey", "operator": "DoesNotExist"}]},
            "topologyKey": REGION}, in_term("service", ["securityscan"], REGION)])),
                     [pod("e", labels={"service": "securityscan"}, node_name="machine1")], Status(),
                     id="operators in several required terms all match"),
        pytest.param(pod(affinity=affinity(required=[{"labelSelector": {"matchExpressions": [
            {"key": "service", "operator": "Exists"}, {"key": "service", "operator": "In", "values": ["x"]}]},
            "topologyKey": REGION}])),
                     [pod("e", labels={"service": "securityscan"}, node_name="machine1")], AFFINITY_FAIL,
                     id="expressions of a selector are ANDed"),
        pytest.param(pod(affinity=affinity(required=[in_term("service", ["securityscan"], REGION)],
                                           anti=[in_term("service", ["antivirusscan"], "node")])),
                     [pod("e", labels={"service": "securityscan"}, node_name="machine1")], Status(),
                     id="affinity and anti-affinity both satisfied"),
        pytest.param(pod(labels=SECURITY_S1, affinity=affinity(required=[in_term("service", ["securityscan"], REGION)])),
                     [pod("e", labels={"service": "securityscan"}, node_name="machine1",
                          affinity=affinity(anti=[in_term("security", ["S1"], REGION)]))],
                     EXISTING_FAIL, id="an existing pod's anti-affinity is symmetric"),
        pytest.param(pod(labels=SECURITY_S1),
                     [pod("e", node_name="machine1", affinity=affinity(anti=[in_term("security", ["S1"], REGION)]))],
                     EXISTING_FAIL, id="existing anti-affinity applies to a pod without any affinity"),
        pytest.param(pod(labels=SECURITY_S1),
                     [pod("e", node_name="machine1", affinity=affinity(anti=[in_term("security", ["S2"], REGION)]))],
                     Status(), id="existing anti-affinity that does not match the pod"),
        pytest.param(pod(labels=SECURITY_S1, affinity=affinity(anti=[in_term("service", ["securityscan"], REGION)])),
                     [pod("e", labels={"service": "securityscan"}, node_name="machine1")],
                     ANTI_FAIL, id="the pod's anti-affinity matches an existing pod"),
        pytest.param(pod(labels=SECURITY_S1, affinity=affinity(required=[in_term("security", ["S1"], REGION)])),
                     [], Status(), id="the first pod of a self-affine group may go anywhere"),
        pytest.param(pod(labels=SECURITY_S1, affinity=affinity(required=[in_term("security", ["S1"], "zone")])),
                     [], AFFINITY_FAIL, id="but the node must carry the topology key"),
        pytest.param(pod(labels={"security": "S2"}, affinity=affinity(required=[in_term("security", ["S1"], REGION)])),
                     [], AFFINITY_FAIL, id="a pod not matching its own affinity needs a matching pod"),
    ],
)  # fmt: skip
def test_filter_one_node(incoming, existing, want):
    _, got = run_filter(InterPodAffinity(), incoming, [NODE1], existing)
    assert got["machine1"] == want


def test_pre_filter_skips_without_required_terms_or_existing_anti_affinity():
    pre, _ = run_filter(InterPodAffinity(), pod(), [NODE1], [pod("e", node_name="machine1")])
    assert pre.is_skip()


THREE = [
    node("nodeA", labels={REGION: "r1", "zone": "z11", HOST: "nodeA"}),
    node("nodeB", labels={REGION: "r1", "zone": "z12", HOST: "nodeB"}),
    node("nodeC", labels={REGION: "r2", "zone": "z21", HOST: "nodeC"}),
]


@pytest.mark.parametrize(
    ("incoming", "existing", "want"),
    [
        pytest.param(pod(affinity=affinity(required=[in_term("foo", ["bar"], REGION)])),
                     [pod("e", labels={"foo": "bar"}, node_name="nodeA")],
                     [Status(), Status(), AFFINITY_FAIL],
                     id="every node of the matching pod's region fits"),
        pytest.param(pod(affinity=affinity(anti=[in_term("foo", ["bar"], REGION)])),
                     [pod("e", labels={"foo": "bar"}, node_name="nodeA")],
                     [ANTI_FAIL, ANTI_FAIL, Status()],
                     id="anti-affinity by region rules out the whole region"),
        pytest.param(pod(labels={"foo": "bar"}),
                     [pod("e", node_name="nodeB", affinity=affinity(anti=[in_term("foo", ["bar"], "zone")]))],
                     [Status(), EXISTING_FAIL, Status()],
                     id="an existing pod's anti-affinity by zone keeps the pod out of its zone"),
        pytest.param(pod(affinity=affinity(anti=[in_term("foo", ["bar"], "zone")])),
                     [pod("e1", labels={"foo": "bar"}, node_name="nodeA"), pod("e2", labels={"foo": "bar"}, node_name="nodeC")],
                     [ANTI_FAIL, Status(), ANTI_FAIL], id="anti-affinity counts every matching pod"),
    ],
)  # fmt: skip
def test_filter_several_nodes(incoming, existing, want):
    _, got = run_filter(InterPodAffinity(), incoming, THREE, existing)
    assert list(got.values()) == want


def test_namespace_selector_is_resolved_against_namespace_objects():
    namespaces = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n, "labels": {"team": t}}}
        for n, t in (("ns-a", "a"), ("ns-b", "b"))
    ]
    t = {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": REGION,
         "namespaceSelector": {"matchLabels": {"team": "a"}}}  # fmt: skip
    incoming = pod(affinity=affinity(required=[t]))
    in_a = [pod("db", namespace="ns-a", labels={"app": "db"}, node_name="nodeA")]
    in_b = [pod("db", namespace="ns-b", labels={"app": "db"}, node_name="nodeA")]
    assert list(run_filter(InterPodAffinity(), incoming, THREE, in_a, namespaces)[1].values()) == [
        Status(), Status(), AFFINITY_FAIL,
    ]  # fmt: skip
    assert list(run_filter(InterPodAffinity(), incoming, THREE, in_b, namespaces)[1].values()) == [
        AFFINITY_FAIL, AFFINITY_FAIL, AFFINITY_FAIL,
    ]  # fmt: skip
    all_ns = {
        "labelSelector": {"matchLabels": {"app": "db"}},
        "topologyKey": REGION,
        "namespaceSelector": {},
    }
    got = run_filter(InterPodAffinity(), pod(affinity=affinity(required=[all_ns])), THREE, in_b)[1]
    assert list(got.values())[:2] == [Status(), Status()]


CHINA = [
    node("m1", labels={REGION: "China", HOST: "m1"}),
    node("m2", labels={REGION: "India", HOST: "m2"}),
    node("m3", labels={REGION: "China", HOST: "m3"}),
]
S1_ON_M1_S2_ON_M2 = [
    pod("s1", labels={"security": "S1"}, node_name="m1"),
    pod("s2", labels={"security": "S2"}, node_name="m2"),
]


@pytest.mark.parametrize(
    ("incoming", "existing", "args", "want"),
    [
        pytest.param(pod(affinity=affinity(preferred=[(5, in_term("security", ["S1"], REGION))])),
                     S1_ON_M1_S2_ON_M2, {}, [100, 0, 100], id="preferred affinity favours the whole region"),
        pytest.param(pod(affinity=affinity(preferred_anti=[(5, in_term("security", ["S1"], REGION))])),
                     S1_ON_M1_S2_ON_M2, {}, [0, 100, 0], id="preferred anti-affinity scores below zero"),
        pytest.param(pod(labels={"app": "web"}),
                     [pod("e", node_name="m1", affinity=affinity(required=[in_term("app", ["web"], REGION)]))],
                     {}, [100, 0, 100], id="existing required affinity counts hardPodAffinityWeight"),
        pytest.param(pod(labels={"app": "web"}),
                     [pod("e", node_name="m1", affinity=affinity(required=[in_term("app", ["web"], REGION)]))],
                     {"hardPodAffinityWeight": 0}, Status(Code.Skip), id="hardPodAffinityWeight 0 ignores it"),
        pytest.param(pod(labels={"app": "web"}),
                     [pod("e", node_name="m1", affinity=affinity(preferred_anti=[(3, in_term("app", ["web"], HOST))]))],
                     {}, [0, 100, 100], id="an existing pod's preferred anti-affinity is symmetric"),
        pytest.param(pod(affinity=affinity(preferred=[(5, in_term("security", ["S1"], REGION))])),
                     [pod("a", labels=SECURITY_S1, node_name="m1"), pod("b", labels=SECURITY_S1, node_name="m2")],
                     {}, [0, 0, 0], id="equal raw scores normalize to 0"),
        pytest.param(pod(), [pod("e", node_name="m1")], {}, Status(Code.Skip), id="nothing to score: Skip"),
        pytest.param(pod(labels={"app": "web"}),
                     [pod("e", node_name="m1", affinity=affinity(preferred=[(3, in_term("app", ["web"], HOST))]))],
                     {"ignorePreferredTermsOfExistingPods": True}, Status(Code.Skip),
                     id="ignorePreferredTermsOfExistingPods skips a pod without preferences"),
    ],
)  # fmt: skip
def test_score(incoming, existing, args, want):
    got = run_score(InterPodAffinity(args), incoming, CHINA, existing)
    assert (list(got.values()) if isinstance(got, dict) else got) == want


def test_raw_scores_sum_weights_per_domain():
    # China has three S1 pods (3 x 8 = 24), India one S1 pod plus one S2 pod (8 - 4 = 4).
    incoming = pod(affinity=affinity(preferred=[(8, in_term("security", ["S1"], REGION))],
                                     preferred_anti=[(4, in_term("security", ["S2"], REGION))]))  # fmt: skip
    existing = [
        pod(f"c{i}", labels=SECURITY_S1, node_name=n) for i, n in enumerate(["m1", "m1", "m3"])
    ]
    existing += [
        pod("i1", labels=SECURITY_S1, node_name="m2"),
        pod("i2", labels={"security": "S2"}, node_name="m2"),
    ]
    assert run_score(InterPodAffinity(), incoming, CHINA, existing, normalize=False) == {
        "m1": 24,
        "m2": 4,
        "m3": 24,
    }
    assert run_score(InterPodAffinity(), incoming, CHINA, existing) == {
        "m1": 100,
        "m2": 0,
        "m3": 100,
    }
