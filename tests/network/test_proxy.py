"""kube-proxy's iptables decisions: spread, affinity, traffic policies, REJECT vs DROP, staleness."""

import collections

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kube_teach.network.proxy import (
    ACCEPT,
    CONNECTION_REFUSED,
    DROP,
    IO_TIMEOUT,
    REJECT,
    KubeProxy,
)
from kube_teach.network.service import (
    ServiceError,
    endpoint_slice,
    service_ports,
    slice_endpoints,
)

IP = "10.96.100.1"


def service(name="web", *, ip=IP, port=80, **spec):
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"clusterIP": ip, "ports": [{"port": port, "targetPort": 8080}], **spec},
    }


def slice_(*endpoints, name="web-abcde", service="web"):
    """endpoints: (ip, node) or (ip, node, ready, serving, terminating)."""
    s = endpoint_slice(service, [], 8080, name=name)
    for e in endpoints:
        ip, node, *cond = e
        ready, serving, terminating = cond or (True, True, False)
        s["endpoints"].append(
            {
                "addresses": [ip],
                "nodeName": node,
                "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
            }
        )
    return s


def proxy(svc, *slices, node="node-1", seed=0):
    p = KubeProxy(node, __import__("random").Random(seed))
    p.update_service(svc)
    for s in slices:
        p.update_endpoint_slice(s)
    p.sync()
    return p


THREE = slice_(("10.244.1.5", "node-1"), ("10.244.2.7", "node-2"), ("10.244.3.9", "node-3"))


def test_each_of_n_endpoints_gets_a_third_of_new_connections():
    p = proxy(service(), THREE, seed=7)
    n = 30_000
    counts = collections.Counter(
        str(p.connect(f"10.244.1.{i % 250}", IP, 80).endpoint) for i in range(n)
    )
    assert sorted(counts) == ["10.244.1.5:8080", "10.244.2.7:8080", "10.244.3.9:8080"]
    expected = n / 3
    chi2 = sum((c - expected) ** 2 / expected for c in counts.values())
    assert chi2 < 13.82  # chi-square, 2 degrees of freedom, p = 0.001
    assert all(abs(c - expected) < 0.03 * expected for c in counts.values())


@pytest.mark.parametrize(
    ("n", "probabilities"),
    [
        pytest.param(1, [], id="one endpoint: an unconditional jump"),
        pytest.param(2, ["0.5000000000"], id="two: a coin, then the rest"),
        pytest.param(3, ["0.3333333333", "0.5000000000"], id="three: 1/3, 1/2, rest"),
        pytest.param(4, ["0.2500000000", "0.3333333333", "0.5000000000"], id="four"),
    ],
)
def test_iptables_rules_use_probability_one_over_n_minus_i(n, probabilities):
    eps = [(f"10.244.0.{i + 1}", "node-1") for i in range(n)]
    rules = proxy(service(), slice_(*eps)).iptables_rules("default/web")
    got = [
        line.split("--probability ")[1].split()[0]
        for line in rules.splitlines()
        if "--probability" in line
    ]
    assert got == probabilities
    assert rules.count("-j KUBE-SEP-") == n
    assert f"-d {IP}/32 -p tcp" in rules


@pytest.mark.parametrize(
    ("spec", "slices", "node_port", "verdict", "comment"),
    [
        pytest.param({}, [], False, REJECT, "default/web has no endpoints",
                     id="no endpoints: REJECT, connection refused"),
        pytest.param({}, [slice_(("10.244.2.7", "node-2", False, False, False))], False, REJECT,
                     "default/web has no endpoints", id="only unready endpoints: REJECT"),
        pytest.param({"internalTrafficPolicy": "Local"}, [THREE], False, ACCEPT, "",
                     id="internalTrafficPolicy Local with a local endpoint"),
        pytest.param({"internalTrafficPolicy": "Local"},
                     [slice_(("10.244.2.7", "node-2"))], False, DROP,
                     "default/web has no local endpoints",
                     id="internalTrafficPolicy Local, endpoints elsewhere only: DROP"),
        pytest.param({"type": "NodePort", "externalTrafficPolicy": "Local"},
                     [slice_(("10.244.2.7", "node-2"))], True, DROP,
                     "default/web has no local endpoints",
                     id="externalTrafficPolicy Local at a node without one: DROP"),
        pytest.param({"type": "NodePort", "externalTrafficPolicy": "Local"},
                     [slice_(("10.244.2.7", "node-2"))], False, ACCEPT, "",
                     id="externalTrafficPolicy does not limit ClusterIP traffic"),
        pytest.param({"type": "NodePort"}, [slice_(("10.244.2.7", "node-2"))], True, ACCEPT, "",
                     id="externalTrafficPolicy Cluster forwards to another node"),
    ],
)  # fmt: skip
def test_verdicts(spec, slices, node_port, verdict, comment):
    svc = service(**spec)
    if node_port:
        svc["spec"]["ports"][0]["nodePort"] = 30080
    p = proxy(svc, *slices)
    conn = (
        p.connect_node_port("203.0.113.9", 30080) if node_port else p.connect("10.244.1.2", IP, 80)
    )
    assert (conn.verdict, conn.comment) == (verdict, comment)
    assert conn.error == {ACCEPT: None, REJECT: CONNECTION_REFUSED, DROP: IO_TIMEOUT}[verdict]


def test_local_policy_picks_only_local_endpoints():
    p = proxy(service(internalTrafficPolicy="Local"), THREE, node="node-2")
    assert {str(p.connect("10.244.2.3", IP, 80).endpoint) for _ in range(50)} == {"10.244.2.7:8080"}


def test_terminating_but_serving_endpoints_are_used_only_when_none_is_ready():
    draining = slice_(
        ("10.244.2.7", "node-2", False, True, True), ("10.244.3.9", "node-3", False, False, True)
    )
    p = proxy(service(), draining)
    assert {str(p.connect("10.244.1.2", IP, 80).endpoint) for _ in range(30)} == {"10.244.2.7:8080"}
    p.update_endpoint_slice(
        slice_(("10.244.2.7", "node-2", False, True, True), ("10.244.1.5", "node-1"))
    )
    p.sync()
    assert {str(p.connect("10.244.1.2", IP, 80).endpoint) for _ in range(30)} == {"10.244.1.5:8080"}


def test_client_ip_affinity_pins_a_client_until_the_timeout():
    svc = service(
        sessionAffinity="ClientIP", sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}}
    )
    p = proxy(svc, THREE, seed=1)
    first = p.connect("10.244.1.2", IP, 80, now=0).endpoint
    assert {p.connect("10.244.1.2", IP, 80, now=t).endpoint for t in range(0, 600, 30)} == {first}
    others = {p.connect(f"10.244.1.{i}", IP, 80, now=600).endpoint for i in range(3, 60)}
    assert len(others) == 3  # other clients still spread
    later = {p.connect("10.244.1.2", IP, 80, now=1000 + 100 * k).endpoint for k in range(40)}
    assert len(later) > 1  # idle longer than 60 s each time: a fresh random pick
    assert "--rcheck --seconds 60 --reap" in p.iptables_rules()


def test_affinity_moves_when_the_pinned_endpoint_goes():
    p = proxy(service(sessionAffinity="ClientIP"), THREE, seed=2)
    pinned = p.connect("10.244.1.2", IP, 80).endpoint
    rest = [e for e in (("10.244.1.5", "node-1"), ("10.244.2.7", "node-2"), ("10.244.3.9", "node-3"))
            if e[0] != pinned.ip]  # fmt: skip
    p.update_endpoint_slice(slice_(*rest))
    p.sync()
    assert p.connect("10.244.1.2", IP, 80).endpoint.ip in {ip for ip, _ in rest}


def test_changes_route_only_after_sync_so_a_deleted_pod_still_gets_traffic_until_then():
    p = proxy(service(), slice_(("10.244.2.7", "node-2")))
    p.update_endpoint_slice(slice_(("10.244.3.9", "node-3")))
    assert p.pending
    assert str(p.connect("10.244.1.2", IP, 80).endpoint) == "10.244.2.7:8080"  # the zombie
    p.sync()
    assert str(p.connect("10.244.1.2", IP, 80).endpoint) == "10.244.3.9:8080"
    p.delete_endpoint_slice(slice_())
    p.sync()
    assert p.connect("10.244.1.2", IP, 80).verdict == REJECT
    p.delete_service(service())
    p.sync()
    assert p.connect("10.244.1.2", IP, 80).comment == "no service has this IP and port"


@pytest.mark.parametrize(
    ("spec", "ports"),
    [
        pytest.param({"type": "ExternalName", "externalName": "example.com"}, 0, id="ExternalName"),
        pytest.param({"clusterIP": "None"}, 0, id="headless: no ClusterIP to catch"),
        pytest.param({}, 1, id="a ClusterIP service"),
    ],
)
def test_which_services_get_rules(spec, ports):
    svc = service()
    svc["spec"].update(spec)
    assert len(service_ports(svc)) == ports


def test_bad_input_reads_as_an_error():
    with pytest.raises(ServiceError, match=r"spec.ports\[0\].port: Required value"):
        service_ports({"metadata": {"name": "x"}, "spec": {"clusterIP": IP, "ports": [{}]}})
    with pytest.raises(ServiceError, match="must be a dict"):
        service_ports("web")


def test_nil_conditions_mean_ready_and_serving_follows_ready():
    s = endpoint_slice("web", [], 8080)
    s["endpoints"] = [
        {"addresses": ["10.0.0.1"]},
        {"addresses": ["10.0.0.2"], "conditions": {"ready": False}},
    ]
    eps = slice_endpoints(s)[""]
    assert [(e.ready, e.serving, e.terminating) for e in eps] == [
        (True, True, False),
        (False, False, False),
    ]


def test_same_seed_same_choices():
    def run(seed):
        p = proxy(service(), THREE, seed=seed)
        return [str(p.connect("10.244.1.2", IP, 80).endpoint) for _ in range(20)]

    assert run(3) == run(3) and run(3) != run(4)


def test_the_rules_say_why_nothing_is_reachable():
    none = proxy(service())
    assert '"default/web has no endpoints" -j REJECT' in none.iptables_rules()
    elsewhere = proxy(service(internalTrafficPolicy="Local"), slice_(("10.244.2.7", "node-2")))
    assert '"default/web has no local endpoints" -j DROP' in elsewhere.iptables_rules()


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    conditions=st.lists(st.tuples(st.booleans(), st.booleans(), st.booleans()), max_size=6),
)
def test_only_usable_endpoints_are_ever_chosen(seed, conditions):
    eps = [(f"10.244.0.{i + 1}", f"node-{i % 2 + 1}", *c) for i, c in enumerate(conditions)]
    p = proxy(service(), slice_(*eps), seed=seed)
    ready = {ip for ip, _, r, _, _ in eps if r}
    draining = {ip for ip, _, r, s, t in eps if not r and s and t}
    for _ in range(20):
        conn = p.connect("10.244.9.9", IP, 80)
        if ready:
            assert conn.endpoint.ip in ready
        elif draining:
            assert conn.endpoint.ip in draining
        else:
            assert conn.verdict == REJECT
