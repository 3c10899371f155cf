"""NetworkPolicy evaluation: upstream's e2e truth tables (test/e2e/network/netpol), the
seed's three production policies, the AND-vs-OR YAML pitfall, ports, ipBlock."""

import pytest
import yaml

from kube_teach.manifests import manifest
from kube_teach.network.policy import can_connect, connectivity_matrix, explain

NAMESPACES = ("x", "y", "z")


def e2e_pod(ns, name, ip):
    """A pod as the e2e framework builds it: label pod=<name>, serving 80 and 81 over TCP, UDP
    and SCTP on container ports named serve-<port>-<proto>."""
    ports = [
        {"name": f"serve-{port}-{proto.lower()}", "containerPort": port, "protocol": proto}
        for port in (80, 81)
        for proto in ("TCP", "UDP", "SCTP")
    ]
    return {
        "metadata": {"namespace": ns, "name": name, "labels": {"pod": name}},
        "spec": {"containers": [{"name": "cont", "ports": ports}]},
        "status": {"podIP": ip},
    }


def e2e_pods(*names):
    return [e2e_pod(*n.split("/"), f"10.0.{i // 250}.{i % 250 + 1}") for i, n in enumerate(names)]


ALL = ["x/a", "x/b", "x/c", "y/a", "y/b", "y/c", "z/a", "z/b", "z/c"]


def policy(name, pod_selector=None, ingress=None, egress=None, types=None, namespace="x"):
    spec = {"podSelector": {"matchLabels": pod_selector} if pod_selector is not None else {}}
    if ingress is not None:
        spec["ingress"] = ingress
    if egress is not None:
        spec["egress"] = egress
    if types is None:  # as upstream's SetSpecIngressRules / SetSpecEgressRules set them
        types = (["Ingress"] if ingress is not None else []) + (
            ["Egress"] if egress is not None else []
        )
    if types:
        spec["policyTypes"] = types
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}  # fmt: skip


def ns_sel(**labels):
    return {
        "matchLabels": {
            "kubernetes.io/metadata.name" if k == "name" else k: v for k, v in labels.items()
        }
    }


class Reachability:
    """Upstream's expected truth table: start from a default and override peers."""

    def __init__(self, names, default=True):
        self.names = names
        self.want = {(s, d): default for s in names for d in names}

    @staticmethod
    def _match(name, ns, pod):
        n, p = name.split("/")
        return (ns is None or ns == n) and (pod is None or pod == p)

    def peer(self, src=(None, None), dst=(None, None), value=False):
        for s, d in self.want:
            if self._match(s, *src) and self._match(d, *dst):
                self.want[(s, d)] = value
        return self

    def check(self, pods, policies, port=80, protocol="TCP", namespaces=NAMESPACES):
        matrix = connectivity_matrix(pods, policies, namespaces, port, protocol)
        wrong = [
            (s, d, self.want[(s, d)])
            for s in self.names
            for d in self.names
            if s != d and matrix.can(s, d) != self.want[(s, d)]  # loopback ignored, as upstream
        ]
        assert not wrong, f"expected (src, dst, want) differ:\n{matrix}"


# -- the e2e cases -------------------------------------------------------------------------------
def test_default_deny_ingress():
    names = ["x/a", "x/b", "y/a", "y/b"]
    r = Reachability(names).peer(dst=("x", None), value=False)
    r.check(e2e_pods(*names), [policy("deny-ingress", {}, ingress=[])])


def test_default_deny_all():
    names = ["x/a", "x/b", "y/a"]
    r = Reachability(names).peer(dst=("x", None)).peer(src=("x", None))
    r.check(
        e2e_pods(*names),
        [policy("deny-all", {}, ingress=[], egress=[], types=["Ingress", "Egress"])],
    )


def test_allow_from_pods_within_the_namespace_by_pod_selector():
    names = ["x/a", "x/b", "x/c", "y/a"]
    p = policy(
        "x-a-allows-x-b",
        {"pod": "a"},
        ingress=[{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}],
    )
    r = Reachability(names).peer(dst=("x", "a")).peer(("x", "b"), ("x", "a"), True)
    r.check(e2e_pods(*names), [p])


def test_allow_ingress_for_a_target_over_a_default_deny():
    names = ["x/a", "x/b", "y/a"]
    allow = policy(
        "allow-all-to-a",
        {"pod": "a"},
        ingress=[{"from": [{"podSelector": {}, "namespaceSelector": {}}]}],
    )
    r = Reachability(names).peer(dst=("x", "b"))
    r.check(e2e_pods(*names), [policy("deny-all", {}, ingress=[]), allow])


def test_allow_from_all_namespaces():
    names = ["x/a", "x/b", "y/a", "z/a"]
    p = policy(
        "allow-from-another-ns", {"pod": "a"}, ingress=[{"from": [{"namespaceSelector": {}}]}]
    )
    Reachability(names).check(e2e_pods(*names), [p])


def test_allow_only_from_a_different_namespace():
    names = ["x/a", "x/b", "y/a", "z/a"]
    p = policy(
        "allow-client-a-via-ns-selector",
        {"pod": "a"},
        ingress=[{"from": [{"namespaceSelector": ns_sel(name="y")}]}],
    )
    r = Reachability(names).peer(("x", None), ("x", "a")).peer(("z", None), ("x", "a"))
    r.check(e2e_pods(*names), [p])


def test_namespace_selector_with_match_expressions():
    names = ["x/a", "x/b", "y/a", "z/a"]
    sel = {
        "matchExpressions": [
            {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["y"]}
        ]
    }
    p = policy("allow-ns-y", {"pod": "a"}, ingress=[{"from": [{"namespaceSelector": sel}]}])
    r = Reachability(names).peer(("x", None), ("x", "a")).peer(("z", None), ("x", "a"))
    r.check(e2e_pods(*names), [p])


NOT_X = {
    "matchExpressions": [
        {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["x"]}
    ]
}


def test_pod_selector_or_namespace_selector():
    names = ["x/a", "x/b", "x/c", "y/a"]
    rule = {"from": [{"namespaceSelector": NOT_X}, {"podSelector": {"matchLabels": {"pod": "b"}}}]}
    r = Reachability(names).peer(("x", "c"), ("x", "a"))
    r.check(e2e_pods(*names), [policy("or", {"pod": "a"}, ingress=[rule])])


def test_pod_selector_and_namespace_selector():
    names = ["x/a", "x/b", "y/a", "y/b", "z/b"]
    rule = {"from": [{"namespaceSelector": NOT_X, "podSelector": {"matchLabels": {"pod": "b"}}}]}
    r = Reachability(names).peer(dst=("x", "a")).peer(("y", "b"), ("x", "a"), True)
    r.peer(("z", "b"), ("x", "a"), True)
    r.check(e2e_pods(*names), [policy("and", {"pod": "a"}, ingress=[rule])])


def test_multiple_pod_selectors_and_namespace_selectors():
    names = ["x/a", "x/b", "y/a", "y/b", "y/c"]
    pods_bc = {"matchExpressions": [{"key": "pod", "operator": "In", "values": ["b", "c"]}]}
    rule = {"from": [{"namespaceSelector": NOT_X, "podSelector": pods_bc}]}
    r = Reachability(names).peer(("x", None), ("x", "a")).peer(("y", "a"), ("x", "a"))
    r.check(e2e_pods(*names), [policy("bc", {"pod": "a"}, ingress=[rule])])


def test_any_pod_selectors():
    names = ["x/a", "x/b", "x/c"]
    rule = {
        "from": [
            {"podSelector": {"matchLabels": {"pod": "b"}}},
            {"podSelector": {"matchLabels": {"pod": "c"}}},
        ]
    }
    r = (
        Reachability(names)
        .peer(dst=("x", "a"))
        .peer(("x", "b"), ("x", "a"), True)
        .peer(("x", "c"), ("x", "a"), True)
    )
    r.check(e2e_pods(*names), [policy("any", {"pod": "a"}, ingress=[rule])])


def test_ports_and_stacked_policies():
    names = ["x/a", "x/b", "y/a", "y/b", "z/a"]
    pods = e2e_pods(*names)

    def port_rule(port):
        return {
            "from": [{"namespaceSelector": ns_sel(name="y")}],
            "ports": [{"port": port, "protocol": "TCP"}],
        }

    allow81 = policy("allow-81", {"pod": "a"}, ingress=[port_rule(81)])
    allowed = Reachability(names).peer(("x", None), ("x", "a")).peer(("z", None), ("x", "a"))
    allowed.check(pods, [allow81], port=81)
    Reachability(names).peer(dst=("x", "a")).check(pods, [allow81], port=80)
    allow80 = policy("allow-80", {"pod": "a"}, ingress=[port_rule(80)])
    allowed.check(pods, [allow81, allow80], port=80)


def test_allow_all_policy_changes_nothing():
    names = ["x/a", "x/b", "y/a"]
    p = policy("allow-all", {}, ingress=[{}])
    for port in (80, 81):
        Reachability(names).check(e2e_pods(*names), [p], port=port)


def test_ingress_on_one_named_port():
    names = ["x/a", "x/b", "y/a"]
    p = policy("allow-all", {}, ingress=[{"ports": [{"port": "serve-81-tcp"}]}])
    Reachability(names).check(e2e_pods(*names), [p], port=81)
    Reachability(names).peer(dst=("x", None)).check(e2e_pods(*names), [p], port=80)


def test_egress_on_one_named_port():
    names = ["x/a", "y/a"]
    p = policy("allow-egress", {}, egress=[{"ports": [{"port": "serve-80-tcp"}]}])
    Reachability(names).check(e2e_pods(*names), [p], port=80)
    Reachability(names).peer(src=("x", None)).check(e2e_pods(*names), [p], port=81)


def test_deny_ingress_from_other_namespaces():
    names = ["x/a", "x/b", "y/a", "z/a"]
    p = policy("deny-empty-policy", {}, ingress=[{"from": [{"podSelector": {}}]}])
    r = Reachability(names).peer(("y", None), ("x", None)).peer(("z", None), ("x", None))
    r.check(e2e_pods(*names), [p])


def test_ingress_and_egress_specified_together():
    names = ["x/a", "x/b", "x/c", "y/a"]
    p = policy("both", {"pod": "a"}, ingress=[{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}],
               egress=[{"ports": [{"port": 80}]}], types=["Egress", "Ingress"])  # fmt: skip
    r80 = Reachability(names).peer(dst=("x", "a")).peer(("x", "b"), ("x", "a"), True)
    r80.check(e2e_pods(*names), [p], port=80)
    r81 = (
        Reachability(names)
        .peer(dst=("x", "a"))
        .peer(src=("x", "a"))
        .peer(("x", "b"), ("x", "a"), True)
    )
    r81.check(e2e_pods(*names), [p], port=81)


def test_egress_denied_at_the_client_even_if_the_server_allows():
    names = ["x/a", "y/a", "y/b"]
    to_ya = {
        "to": [
            {"namespaceSelector": ns_sel(name="y"), "podSelector": {"matchLabels": {"pod": "a"}}}
        ]
    }
    from_xa = {
        "from": [
            {"namespaceSelector": ns_sel(name="x"), "podSelector": {"matchLabels": {"pod": "a"}}}
        ]
    }
    policies = [
        policy("allow-to-ns-y-pod-a", {"pod": "a"}, egress=[to_ya]),
        policy("ya", {"pod": "a"}, ingress=[from_xa], namespace="y"),
        policy("yb", {"pod": "b"}, ingress=[from_xa], namespace="y"),
    ]
    r = Reachability(names).peer(src=("x", "a")).peer(dst=("y", "a")).peer(dst=("y", "b"))
    r.peer(("x", "a"), ("y", "a"), True)
    r.check(e2e_pods(*names), policies)


def test_ingress_allowing_any_port_on_a_protocol():
    names = ["x/a", "y/a"]
    p = policy("tcp-only", {"pod": "a"}, ingress=[{"ports": [{"protocol": "TCP"}]}])
    Reachability(names).check(e2e_pods(*names), [p], protocol="TCP")
    Reachability(names).peer(dst=("x", "a")).check(e2e_pods(*names), [p], protocol="UDP")


def test_sctp_is_not_tcp():
    names = ["x/a", "y/a"]
    p = policy("sctp", {"pod": "a"}, ingress=[{"ports": [{"port": 81, "protocol": "SCTP"}]}])
    Reachability(names).peer(dst=("x", "a")).check(e2e_pods(*names), [p], port=81)
    Reachability(names).check(e2e_pods(*names), [p], port=81, protocol="SCTP")


def test_udp_only_policy_blocks_tcp():
    names = ["x/a", "y/a"]
    p = policy("udp", {"pod": "a"}, ingress=[{"ports": [{"port": 81, "protocol": "UDP"}]}])
    Reachability(names).peer(dst=("x", "a")).check(e2e_pods(*names), [p], port=81)


def test_egress_to_a_cidr_block():
    names = ["x/a", "y/a", "y/b"]
    pods = e2e_pods(*names)
    yb_ip = pods[2]["status"]["podIP"]
    p = policy("cidr", {"pod": "a"}, egress=[{"to": [{"ipBlock": {"cidr": f"{yb_ip}/32"}}]}])
    Reachability(names).peer(src=("x", "a")).peer(("x", "a"), ("y", "b"), True).check(pods, [p])


def test_except_clause_and_overlapping_blocks():
    names = ["x/a", "x/b", "x/c"]
    pods = e2e_pods(*names)
    xb_ip = pods[1]["status"]["podIP"]
    block = {"ipBlock": {"cidr": "10.0.0.0/8", "except": [f"{xb_ip}/32"]}}
    excepted = policy("cidr", {"pod": "a"}, egress=[{"to": [block]}])
    Reachability(names).peer(("x", "a"), ("x", "b")).check(pods, [excepted])
    # A second peer covering the excepted address allows it again: rules are a union.
    again = policy(
        "cidr", {"pod": "a"}, egress=[{"to": [block, {"ipBlock": {"cidr": f"{xb_ip}/32"}}]}]
    )
    Reachability(names).check(pods, [again])


def test_ingress_and_egress_are_controlled_independently():
    names = ["x/a", "x/b", "y/a"]
    egress_all = policy("allow-egress", {"pod": "a"}, egress=[{}])
    deny_in = policy("deny-ingress", {"pod": "a"}, ingress=[])
    Reachability(names).check(e2e_pods(*names), [egress_all])
    Reachability(names).peer(dst=("x", "a")).check(e2e_pods(*names), [egress_all, deny_in])


def test_egress_namespace_selector_with_match_expressions():
    names = ["x/a", "x/b", "y/a", "z/a"]
    not_y = {
        "matchExpressions": [
            {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["y"]}
        ]
    }
    p = policy("not-y", {"pod": "a"}, egress=[{"to": [{"namespaceSelector": not_y}]}])
    Reachability(names).peer(("x", "a"), ("y", None)).check(e2e_pods(*names), [p])


def test_updated_labels_change_the_verdict():
    pods = e2e_pods("x/a", "y/a")
    p = policy(
        "allow-ns2",
        {"pod": "a"},
        ingress=[{"from": [{"namespaceSelector": {"matchLabels": {"ns2": "updated"}}}]}],
    )
    assert not can_connect(pods[1], pods[0], 80, policies=[p], namespaces=NAMESPACES)
    labelled = {"x": {}, "y": {"ns2": "updated"}, "z": {}}
    assert can_connect(pods[1], pods[0], 80, policies=[p], namespaces=labelled)


# -- the seed's production policies -----------------------------------------------------------------
# the article's three policies, as kube_teach.manifests ships them
SEED_POLICIES = [d for d in yaml.safe_load_all(manifest("network-policies")) if d]


def app_pod(ns, app):
    return {"metadata": {"namespace": ns, "name": app, "labels": {"app": app}}, "spec": {}}


FRONTEND, BACKEND, DATABASE = (
    app_pod("production", a) for a in ("frontend", "backend", "database")
)
STRANGER = app_pod("staging", "frontend")  # same label, other namespace


def test_seed_policies_on_the_backend_port():
    matrix = connectivity_matrix([FRONTEND, BACKEND, DATABASE, STRANGER], SEED_POLICIES, port=8080)
    assert matrix.denied() == [
        ("production/frontend", "production/database"),
        ("production/backend", "production/frontend"),
        ("production/backend", "production/database"),
        ("production/database", "production/frontend"),
        ("production/database", "production/backend"),
        ("production/database", "production/database")
        if False
        else ("staging/frontend", "production/frontend"),
        ("staging/frontend", "production/backend"),
        ("staging/frontend", "production/database"),
    ]
    assert matrix.can("production/frontend", "production/backend")
    assert matrix.can("production/backend", "staging/frontend")  # egress is not restricted
    assert matrix.text() == "\n".join(
        [
            "-                   production/frontend production/backend  production/database staging/frontend",
            "production/frontend .                   .                   X                   .",
            "production/backend  X                   .                   X                   .",
            "production/database X                   X                   .                   .",
            "staging/frontend    X                   X                   X                   .",
        ]
    )


def test_seed_policies_on_the_database_port():
    matrix = connectivity_matrix([FRONTEND, BACKEND, DATABASE], SEED_POLICIES, port=5432)
    assert matrix.to_dict()["production/backend"]["production/database"]
    assert not matrix.to_dict()["production/frontend"]["production/database"]
    assert not matrix.to_dict()["production/frontend"]["production/backend"]  # 8080 only


def test_explain_names_the_policies():
    verdict = explain(FRONTEND, DATABASE, 5432, policies=SEED_POLICIES)
    assert not verdict
    assert verdict.ingress.policies == (
        "production/default-deny-ingress",
        "production/allow-backend-to-database",
    )
    assert verdict.reason == (
        "production/frontend -> production/database:5432/TCP: ingress to production/database is "
        "isolated by production/default-deny-ingress, production/allow-backend-to-database and no "
        "rule allows it"
    )
    ok = explain(BACKEND, DATABASE, 5432, policies=SEED_POLICIES)
    assert ok.allowed and ok.ingress.allowed_by == ("production/allow-backend-to-database",)


# -- the AND-vs-OR YAML pitfall ---------------------------------------------------------------------
AND_YAML = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-prometheus, namespace: production}
spec:
  podSelector: {}
  ingress:
  - from:
    - namespaceSelector:
        matchLabels: {team: ops}
      podSelector:
        matchLabels: {app: prometheus}
"""
OR_YAML = AND_YAML.replace("      podSelector:", "    - podSelector:")


@pytest.mark.parametrize(
    ("text", "allowed"),
    [
        pytest.param(AND_YAML, {"ops/prometheus"}, id="one peer: prometheus pods in ops namespaces"),
        pytest.param(OR_YAML, {"ops/prometheus", "ops/grafana", "production/prometheus"},
                     id="two peers: anything in ops, or prometheus in production"),
    ],
)  # fmt: skip
def test_and_versus_or(text, allowed):
    target = app_pod("production", "api")
    sources = [app_pod("ops", "prometheus"), app_pod("ops", "grafana"),
               app_pod("production", "prometheus"), app_pod("dev", "prometheus")]  # fmt: skip
    namespaces = {"ops": {"team": "ops"}, "production": {}, "dev": {}}
    got = {
        f"{s['metadata']['namespace']}/{s['metadata']['name']}"
        for s in sources
        if can_connect(s, target, 9090, "TCP", [yaml.safe_load(text)], namespaces)
    }
    assert got == allowed


# -- ports, endPort, external peers, self ------------------------------------------------------------
@pytest.mark.parametrize(
    ("port_spec", "port", "allowed"),
    [
        pytest.param({"port": 32000, "endPort": 32768}, 32000, True, id="endPort range includes its start"),
        pytest.param({"port": 32000, "endPort": 32768}, 32768, True, id="and its end"),
        pytest.param({"port": 32000, "endPort": 32768}, 32769, False, id="but nothing after"),
        pytest.param({"port": 80}, 80, True, id="protocol defaults to TCP"),
        pytest.param({"port": 80, "protocol": "UDP"}, 80, False, id="UDP rule does not allow TCP"),
        pytest.param({"port": "http"}, 8080, True, id="a named port resolves on the destination"),
        pytest.param({"port": "http"}, 80, False, id="to its own number only"),
    ],
)  # fmt: skip
def test_ports(port_spec, port, allowed):
    dst = {"metadata": {"namespace": "x", "name": "web"},
           "spec": {"containers": [{"ports": [{"name": "http", "containerPort": 8080}]}]}}  # fmt: skip
    src = {"metadata": {"namespace": "x", "name": "client"}}
    p = policy("ports", {}, ingress=[{"ports": [port_spec]}])
    assert can_connect(src, dst, port, "TCP", [p]) == allowed


def test_named_port_argument():
    dst = {"metadata": {"namespace": "x", "name": "web"},
           "spec": {"containers": [{"ports": [{"name": "http", "containerPort": 8080}]}]}}  # fmt: skip
    assert can_connect({"metadata": {"namespace": "x", "name": "c"}}, dst, "http")
    with pytest.raises(ValueError, match="not a named port"):
        can_connect({"metadata": {"namespace": "x", "name": "c"}}, dst, "grpc")


def test_external_addresses_match_only_ip_blocks():
    web = app_pod("x", "web")
    by_label = policy("labels", {}, ingress=[{"from": [{"namespaceSelector": {}}]}])
    by_cidr = policy("cidr", {}, ingress=[{"from": [{"ipBlock": {"cidr": "203.0.113.0/24"}}]}])
    assert not can_connect("203.0.113.7", web, 80, policies=[by_label])
    assert can_connect("203.0.113.7", web, 80, policies=[by_cidr])
    assert not can_connect("198.51.100.1", web, 80, policies=[by_cidr])
    egress = policy(
        "out",
        {},
        egress=[{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}}]}],
    )
    assert can_connect(web, "93.184.216.34", 443, policies=[egress])
    assert not can_connect(web, "169.254.169.254", 80, policies=[egress])


def test_policy_types_default_from_the_rules_present():
    web = app_pod("x", "web")
    spec = {"podSelector": {}, "egress": [{"ports": [{"port": 53, "protocol": "UDP"}]}]}
    no_types = {"metadata": {"name": "e", "namespace": "x"}, "spec": spec}
    # without policyTypes, egress rules make it Ingress + Egress: ingress is isolated too
    assert not can_connect(app_pod("y", "client"), web, 80, policies=[no_types])
    assert not can_connect(web, app_pod("y", "api"), 80, policies=[no_types])
    assert can_connect(web, app_pod("y", "dns"), 53, "UDP", policies=[no_types])
    ingress_only = {"metadata": {"name": "i", "namespace": "x"},
                    "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "egress": []}}  # fmt: skip
    assert can_connect(web, app_pod("y", "any"), 80, policies=[ingress_only])
    assert not can_connect(app_pod("y", "any"), web, 80, policies=[ingress_only])


def test_a_pod_can_always_reach_itself():
    web = app_pod("x", "web")
    deny = policy("deny", {}, ingress=[], egress=[], types=["Ingress", "Egress"])
    assert can_connect(web, web, 80, policies=[deny])
    assert not can_connect(web, web, 80, policies=[deny], allow_self=False)


def test_policies_only_select_pods_in_their_namespace():
    deny_y = policy("deny", {}, ingress=[], namespace="y")
    assert can_connect(app_pod("y", "a"), app_pod("x", "b"), 80, policies=[deny_y])
    assert not can_connect(app_pod("x", "b"), app_pod("y", "a"), 80, policies=[deny_y])


def test_matrix_renders_html():
    html = connectivity_matrix([FRONTEND, BACKEND], SEED_POLICIES, port=8080)._repr_html_()
    assert html.startswith("<table><caption>8080/TCP")
    assert html.count("&#10003;") == 3 and html.count("&#10007;") == 1
