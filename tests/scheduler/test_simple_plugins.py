"""TaintToleration, NodeUnschedulable, NodeName, NodePorts, ImageLocality and SchedulingGates,
with the cases of upstream's plugin tests."""

import pytest

from kube_teach.scheduler.framework import Code, PodInfo, Status
from kube_teach.scheduler.plugins.image_locality import MB, ImageLocality, normalized_image_name
from kube_teach.scheduler.plugins.node_name import NodeName
from kube_teach.scheduler.plugins.node_ports import NodePorts
from kube_teach.scheduler.plugins.node_unschedulable import NodeUnschedulable
from kube_teach.scheduler.plugins.scheduling_gates import SchedulingGates
from kube_teach.scheduler.plugins.taint_toleration import TaintToleration

from .builders import container, node, pod, run_filter, run_score

UU = Code.UnschedulableAndUnresolvable


def taint(key, value, effect):
    return {"key": key, "value": value, "effect": effect}


def tol(key, value="", effect="", operator="Equal"):
    return {"key": key, "operator": operator, "value": value, "effect": effect}


@pytest.mark.parametrize(
    ("tolerations", "taints", "want"),
    [
        pytest.param([], [taint("dedicated", "user1", "NoSchedule")],
                     Status(UU, "node(s) had untolerated taint {dedicated: user1}"),
                     id="a pod having no tolerations can't be scheduled onto a node with nonempty taints"),
        pytest.param([tol("dedicated", "user1", "NoSchedule")], [taint("dedicated", "user1", "NoSchedule")],
                     Status(), id="a pod tolerating the dedicated taint fits"),
        pytest.param([tol("dedicated", "user2", "NoSchedule")], [taint("dedicated", "user1", "NoSchedule")],
                     Status(UU, "node(s) had untolerated taint {dedicated: user1}"),
                     id="a toleration for another value does not fit"),
        pytest.param([tol("foo", effect="NoSchedule", operator="Exists")], [taint("foo", "bar", "NoSchedule")],
                     Status(), id="Exists tolerates any value"),
        pytest.param([tol("dedicated", "user2", "NoSchedule"), tol("foo", effect="NoSchedule", operator="Exists")],
                     [taint("dedicated", "user2", "NoSchedule"), taint("foo", "bar", "NoSchedule")],
                     Status(), id="every taint tolerated"),
        pytest.param([tol("foo", "bar", "PreferNoSchedule")], [taint("foo", "bar", "NoSchedule")],
                     Status(UU, "node(s) had untolerated taint {foo: bar}"),
                     id="a non-empty effect must match"),
        pytest.param([tol("foo", "bar")], [taint("foo", "bar", "NoSchedule")], Status(),
                     id="an empty toleration effect matches every effect"),
        pytest.param([tol("dedicated", "user2", "NoSchedule")], [taint("dedicated", "user1", "PreferNoSchedule")],
                     Status(), id="PreferNoSchedule never filters"),
        pytest.param([], [taint("a", "", "NoExecute"), taint("b", "2", "NoSchedule")],
                     Status(UU, "node(s) had untolerated taint {a: }"),
                     id="only the first untolerated taint is reported, an empty value prints empty"),
    ],
)  # fmt: skip
def test_taint_toleration_filter(tolerations, taints, want):
    _, got = run_filter(
        TaintToleration(), pod(tolerations=tolerations), [node("nodeA", taints=taints)]
    )
    assert got["nodeA"] == want


@pytest.mark.parametrize(
    ("tolerations", "taints", "want"),
    [
        pytest.param([tol("foo", "bar", "PreferNoSchedule")],
                     [[taint("foo", "bar", "PreferNoSchedule")], [taint("foo", "blah", "PreferNoSchedule")]],
                     [100, 0], id="a node whose taints are tolerated scores higher"),
        pytest.param([tol("cpu-type", "arm64", "PreferNoSchedule"), tol("disk-type", "ssd", "PreferNoSchedule")],
                     [[], [taint("cpu-type", "arm64", "PreferNoSchedule")],
                      [taint("cpu-type", "arm64", "PreferNoSchedule"), taint("disk-type", "ssd", "PreferNoSchedule")]],
                     [100, 100, 100], id="the number of tolerated taints does not matter"),
        pytest.param([tol("foo", "bar", "PreferNoSchedule")],
                     [[], [taint("cpu-type", "arm64", "PreferNoSchedule")],
                      [taint("cpu-type", "arm64", "PreferNoSchedule"), taint("disk-type", "ssd", "PreferNoSchedule")]],
                     [100, 50, 0], id="the more intolerable taints, the lower the score"),
        pytest.param([tol("cpu-type", "arm64", "NoSchedule"), tol("disk-type", "ssd", "NoSchedule")],
                     [[], [taint("cpu-type", "arm64", "NoSchedule")],
                      [taint("cpu-type", "arm64", "PreferNoSchedule"), taint("disk-type", "ssd", "PreferNoSchedule")]],
                     [100, 100, 0], id="only PreferNoSchedule taints and tolerations count"),
        pytest.param([], [[], [taint("cpu-type", "arm64", "PreferNoSchedule")]], [100, 0],
                     id="no tolerations: the untainted node wins"),
    ],
)  # fmt: skip
def test_taint_toleration_score(tolerations, taints, want):
    nodes = [node(f"node{i}", taints=t) for i, t in enumerate(taints)]
    got = run_score(TaintToleration(), pod(tolerations=tolerations), nodes)
    assert list(got.values()) == want


@pytest.mark.parametrize(
    ("unschedulable", "tolerations", "want"),
    [
        pytest.param(False, [], Status(), id="a schedulable node fits"),
        pytest.param(True, [], Status(UU, "node(s) were unschedulable"), id="a cordoned node does not"),
        pytest.param(True, [{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}],
                     Status(), id="unless the pod tolerates the unschedulable taint"),
    ],
)  # fmt: skip
def test_node_unschedulable(unschedulable, tolerations, want):
    _, got = run_filter(
        NodeUnschedulable(), pod(tolerations=tolerations), [node("n", unschedulable=unschedulable)]
    )
    assert got["n"] == want


@pytest.mark.parametrize(
    ("node_name", "want"),
    [
        pytest.param(None, Status(), id="no node name fits every node"),
        pytest.param("foo", Status(), id="the named node fits"),
        pytest.param(
            "bar", Status(UU, "node(s) didn't match the requested node name"), id="another does not"
        ),
    ],
)
def test_node_name(node_name, want):
    _, got = run_filter(NodeName(), pod(node_name=node_name), [node("foo")])
    assert got["foo"] == want


def ports(*specs):
    """(ip, protocol, port) triples as container ports."""
    return [
        {"containerPort": p, "hostPort": p, "protocol": proto, "hostIP": ip}
        for ip, proto, p in specs
    ]


CONFLICT = Status(Code.Unschedulable, "node(s) didn't have free ports for the requested pod ports")


@pytest.mark.parametrize(
    ("wanted", "used", "want"),
    [
        pytest.param([], [], None, id="a pod without host ports is skipped"),
        pytest.param([("127.0.0.1", "UDP", 8080)], [("127.0.0.1", "UDP", 9090)], Status(), id="other port"),
        pytest.param([("127.0.0.1", "UDP", 8080)], [("127.0.0.1", "UDP", 8080)], CONFLICT, id="same port"),
        pytest.param([("127.0.0.2", "UDP", 8080)], [("127.0.0.1", "UDP", 8080)], Status(), id="other host ip"),
        pytest.param([("127.0.0.1", "UDP", 8080)], [("127.0.0.1", "TCP", 8080)], Status(), id="other protocol"),
        pytest.param([("127.0.0.1", "UDP", 8080), ("127.0.0.1", "TCP", 8081)], [("127.0.0.1", "TCP", 8081)],
                     CONFLICT, id="second port conflicts"),
        pytest.param([("0.0.0.0", "TCP", 8001)], [("127.0.0.1", "TCP", 8001)], CONFLICT,
                     id="0.0.0.0 conflicts with any ip"),
        pytest.param([("10.0.10.10", "TCP", 8001)], [("0.0.0.0", "TCP", 8001)], CONFLICT,
                     id="any ip conflicts with a used 0.0.0.0"),
        pytest.param([("", "", 8001)], [("0.0.0.0", "TCP", 8001)], CONFLICT,
                     id="empty ip and protocol mean 0.0.0.0 and TCP"),
    ],
)  # fmt: skip
def test_node_ports(wanted, used, want):
    incoming = pod(containers=[container(ports=ports(*wanted))])
    existing = pod("old", node_name="m", containers=[container(ports=ports(*used))])
    pre, got = run_filter(
        NodePorts(), incoming, [node("m", allocatable={"pods": "10"})], [existing]
    )
    if want is None:
        assert pre.is_skip()
    else:
        assert got["m"] == want


def image(size_mb, *names):
    return {"names": list(names), "sizeBytes": size_mb * MB}


NODE_40_300_2000 = [image(40, "gcr.io/40:latest", "gcr.io/40:v1", "gcr.io/40:v1"),
                    image(300, "gcr.io/300:latest", "gcr.io/300:v1"), image(2000, "gcr.io/2000:latest")]  # fmt: skip
NODE_250_10 = [image(250, "gcr.io/250:latest"), image(10, "gcr.io/10:latest", "gcr.io/10:v1")]


@pytest.mark.parametrize(
    ("images", "nodes", "want"),
    [
        # 250Mi on 1 of 2 nodes: 125Mi -> 100 * (125 - 23) / (2 * 1000 - 23) = 5
        pytest.param(["gcr.io/40", "gcr.io/250"], [NODE_40_300_2000, NODE_250_10], [0, 5],
                     id="two images spread on two nodes, prefer the larger image one"),
        # (20 + 150)Mi -> 100 * 147 / 1977 = 7
        pytest.param(["gcr.io/40", "gcr.io/300"], [NODE_40_300_2000, NODE_250_10], [7, 0],
                     id="two images on one node, prefer this node"),
        # 2000Mi / 2 = 1000Mi -> 100 * 977 / 1977 = 49
        pytest.param(["gcr.io/2000", "gcr.io/10"], [NODE_40_300_2000, NODE_250_10], [49, 0],
                     id="scores are capped per container"),
        # 2000Mi / 3 nodes = 666.67Mi -> 32
        pytest.param(["gcr.io/2000", "gcr.io/10"], [NODE_40_300_2000, NODE_250_10, []], [32, 0, 0],
                     id="a node without images dilutes the spread"),
    ],
)  # fmt: skip
def test_image_locality(images, nodes, want):
    incoming = pod(containers=[container(image=i, name=f"c{k}") for k, i in enumerate(images)])
    got = run_score(
        ImageLocality(), incoming, [node(f"n{i}", images=imgs) for i, imgs in enumerate(nodes)]
    )
    assert list(got.values()) == want


@pytest.mark.parametrize(
    ("name", "want"),
    [("root", "root:latest"), ("gcr.io:5000/root", "gcr.io:5000/root:latest"), ("root:tag", "root:tag"),
     ("root@sha256:abc", "root@sha256:abc")],
)  # fmt: skip
def test_normalized_image_name(name, want):
    # A digest reference keeps its form: its ":" comes after the last "/".
    assert normalized_image_name(name) == want


def test_scheduling_gates():
    assert SchedulingGates().pre_enqueue(PodInfo(pod())) == Status()
    gated = PodInfo(pod(schedulingGates=[{"name": "a"}, {"name": "b"}]))
    assert SchedulingGates().pre_enqueue(gated) == Status(UU, "waiting for scheduling gates: [a b]")
