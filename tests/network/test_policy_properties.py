"""Properties of NetworkPolicy evaluation over random pods and policies."""

from hypothesis import given, settings
from hypothesis import strategies as st

from kube_teach.network.policy import connectivity_matrix

NAMESPACES = {"x": {"env": "prod"}, "y": {"env": "dev"}}
APPS = ["a", "b", "c"]


@st.composite
def pods(draw):
    count = draw(st.integers(1, 5))
    out = []
    for i in range(count):
        ns = draw(st.sampled_from(sorted(NAMESPACES)))
        out.append(
            {
                "metadata": {
                    "namespace": ns,
                    "name": f"p{i}",
                    "labels": {"app": draw(st.sampled_from(APPS))},
                },
                "spec": {"containers": [{"ports": [{"name": "web", "containerPort": 80}]}]},
                "status": {"podIP": f"10.0.0.{i + 1}"},
            }
        )
    return out


selectors = st.one_of(
    st.just({}),
    st.sampled_from(APPS).map(lambda a: {"matchLabels": {"app": a}}),
)
ns_selectors = st.one_of(
    st.just({}), st.sampled_from(["prod", "dev"]).map(lambda e: {"matchLabels": {"env": e}})
)
peers = st.one_of(
    selectors.map(lambda s: {"podSelector": s}),
    ns_selectors.map(lambda s: {"namespaceSelector": s}),
    st.tuples(selectors, ns_selectors).map(
        lambda t: {"podSelector": t[0], "namespaceSelector": t[1]}
    ),
    st.sampled_from(["10.0.0.0/30", "10.0.0.4/31", "10.0.0.0/24"]).map(
        lambda c: {"ipBlock": {"cidr": c}}
    ),
)
ports = st.one_of(
    st.just({"port": 80}),
    st.just({"port": 443}),
    st.just({"port": "web"}),
    st.just({"port": 70, "endPort": 90}),
    st.just({"protocol": "UDP"}),
)
rules = st.fixed_dictionaries(
    {}, optional={"peers": st.lists(peers, max_size=2), "ports": st.lists(ports, max_size=2)}
)


@st.composite
def policies(draw, name="p"):
    ingress = [
        {"from": r.get("peers", []), "ports": r.get("ports", [])}
        for r in draw(st.lists(rules, max_size=2))
    ]
    egress = [
        {"to": r.get("peers", []), "ports": r.get("ports", [])}
        for r in draw(st.lists(rules, max_size=2))
    ]
    types = draw(st.sampled_from([["Ingress"], ["Egress"], ["Ingress", "Egress"]]))
    return {
        "metadata": {
            "name": f"{name}{draw(st.integers(0, 99))}",
            "namespace": draw(st.sampled_from(sorted(NAMESPACES))),
        },
        "spec": {
            "podSelector": draw(selectors),
            "policyTypes": types,
            "ingress": ingress,
            "egress": egress,
        },
    }


def deny_all(ns):
    return {"metadata": {"name": "deny-all", "namespace": ns},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}  # fmt: skip


def allowed(pod_list, policy_list, port=80):
    return connectivity_matrix(pod_list, policy_list, NAMESPACES, port).allowed


@given(pods())
def test_without_policies_everything_connects(pod_list):
    assert all(allowed(pod_list, []).values())


@settings(max_examples=150)
@given(pods(), st.lists(policies(), max_size=3), policies("extra"), st.sampled_from([80, 443, 85]))
def test_adding_a_policy_among_isolated_pods_only_adds_connections(pod_list, base, extra, port):
    isolated = [deny_all(ns) for ns in NAMESPACES] + base
    before = allowed(pod_list, isolated, port)
    after = allowed(pod_list, isolated + [extra], port)
    assert all(after[pair] for pair, ok in before.items() if ok)


@settings(max_examples=150)
@given(pods(), st.lists(policies(), max_size=3))
def test_order_of_policies_does_not_matter(pod_list, policy_list):
    assert allowed(pod_list, policy_list) == allowed(pod_list, list(reversed(policy_list)))


@settings(max_examples=150)
@given(pods(), st.lists(policies(), max_size=3), policies("extra"))
def test_a_policy_only_affects_pods_of_its_namespace(pod_list, base, extra):
    before = allowed(pod_list, base)
    after = allowed(pod_list, base + [extra])
    ns = extra["metadata"]["namespace"]
    for (src, dst), ok in before.items():
        if not src.startswith(f"{ns}/") and not dst.startswith(f"{ns}/"):
            assert after[(src, dst)] == ok
