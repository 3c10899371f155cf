"""The Endpoints controller: the pure subset computation (cases after upstream's
endpoints_controller_test.go and endpoint util tests) and the host in the World harness."""

from __future__ import annotations

import pytest

from kube_teach.api.kinds import KINDS
from kube_teach.controllers.endpoints import (
    PortNotFound,
    compute_subsets,
    desired_endpoints,
    find_port,
    should_pod_be_in_endpoints,
    truncate,
)

from .test_hosts import World

NS = "default"
ENDPOINTS, PODS, SERVICES = KINDS["Endpoints"], KINDS["Pod"], KINDS["Service"]


def pod(i: int, n_ports: int = 1, ready: bool = True, **extra) -> dict:
    """upstream's testPod: pod<i>, label foo=bar, ports port<j> = 8080+j, IP 1.2.3.<4+i>."""
    ports = [{"name": f"port{j}", "protocol": "TCP", "containerPort": 8080 + j}
             for j in range(n_ports)]  # fmt: skip
    obj = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": f"pod{i}", "namespace": NS, "labels": {"foo": "bar"},
                     "uid": f"uid-{i}"},
        "spec": {"containers": [{"name": "c", "image": "nginx", "ports": ports}],
                 "nodeName": extra.pop("node", "node-1")},
        "status": {"phase": extra.pop("phase", "Running"), "podIP": f"1.2.3.{4 + i}",
                   "podIPs": [{"ip": f"1.2.3.{4 + i}"}],
                   "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }  # fmt: skip
    for key, value in extra.items():
        obj["metadata" if key == "deletionTimestamp" else "spec"][key] = value
    return obj


def pods(n_ready: int, n_ports: int, n_not_ready: int) -> list[dict]:
    """upstream's addPods: the first n_ready pods are Ready, the next n_not_ready are not."""
    return [pod(i, n_ports, ready=i < n_ready) for i in range(n_ready + n_not_ready)]


def service(ports=None, **spec) -> dict:
    if ports is None:
        ports = [{"port": 80, "protocol": "TCP", "targetPort": 8080}]
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "foo", "namespace": NS, "uid": "svc-uid"},
            "spec": {"selector": {"foo": "bar"}, "ports": ports, **spec}}  # fmt: skip


def addr(i: int, node: str = "node-1") -> dict:
    return {"ip": f"1.2.3.{4 + i}", "nodeName": node,
            "targetRef": {"kind": "Pod", "namespace": NS, "name": f"pod{i}", "uid": f"uid-{i}"}}  # fmt: skip


P8080 = [{"port": 8080, "protocol": "TCP"}]


@pytest.mark.parametrize(
    ("svc", "candidates", "want"),
    [
        pytest.param(service(), pods(1, 1, 0), [{"addresses": [addr(0)], "ports": P8080}],
                     id="one ready pod is an address on the target port"),
        pytest.param(service(), pods(0, 1, 1), [{"notReadyAddresses": [addr(0)], "ports": P8080}],
                     id="a pod that is not Ready is a notReadyAddress"),
        pytest.param(service(publishNotReadyAddresses=True), pods(0, 1, 1),
                     [{"addresses": [addr(0)], "ports": P8080}],
                     id="publishNotReadyAddresses publishes a pod that is not Ready"),
        pytest.param(service(), pods(2, 1, 1),
                     [{"addresses": [addr(0), addr(1)], "notReadyAddresses": [addr(2)], "ports": P8080}],
                     id="ready and not-ready pods share one subset"),
        pytest.param(
            service([{"name": "port0", "port": 80, "protocol": "TCP", "targetPort": "port0"},
                     {"name": "port1", "port": 88, "protocol": "TCP", "targetPort": 8088}]),
            pods(3, 2, 0),
            [{"addresses": [addr(0), addr(1), addr(2)],
              "ports": [{"name": "port0", "port": 8080, "protocol": "TCP"},
                        {"name": "port1", "port": 8088, "protocol": "TCP"}]}],
            id="a named targetPort resolves to the container port of that name"),
        pytest.param(
            service([{"name": "p", "port": 80, "protocol": "TCP", "targetPort": "port1"}]),
            [pod(0, 2), pod(1, 1)],
            [{"addresses": [addr(0)], "ports": [{"name": "p", "port": 8081, "protocol": "TCP"}]}],
            id="a pod without the named port is left out"),
        pytest.param(
            service([{"name": "p", "port": 80, "protocol": "UDP", "targetPort": "port0"}]),
            pods(1, 1, 0), [], id="a named port must match the protocol too"),
        pytest.param(service([], clusterIP="None"), pods(1, 0, 0), [{"addresses": [addr(0)]}],
                     id="a headless Service without ports lists its pods without ports"),
        pytest.param(service([]), pods(1, 0, 0), [],
                     id="a Service with a cluster IP and no ports has no endpoints"),
        pytest.param(service(), [pod(0, phase="Succeeded"), pod(1, phase="Failed")], [],
                     id="terminal pods are never endpoints"),
        pytest.param(service(), [pod(0, deletionTimestamp="2025-01-01T00:00:00Z")], [],
                     id="a terminating pod leaves the Endpoints"),
        pytest.param(service(publishNotReadyAddresses=True),
                     [pod(0, ready=False, deletionTimestamp="2025-01-01T00:00:00Z")],
                     [{"addresses": [addr(0)], "ports": P8080}],
                     id="publishNotReadyAddresses keeps a terminating pod"),
        pytest.param(service(), [pod(0, hostname="web-0", subdomain="foo")],
                     [{"addresses": [{**addr(0), "hostname": "web-0"}], "ports": P8080}],
                     id="hostname is published when the pod's subdomain names the Service"),
        pytest.param(service(), [pod(0, hostname="web-0", subdomain="other")],
                     [{"addresses": [addr(0)], "ports": P8080}],
                     id="hostname is not published for another subdomain"),
    ],
)  # fmt: skip
def test_compute_subsets(svc, candidates, want):
    assert compute_subsets(svc, candidates) == want


def test_a_pod_without_an_ip_is_not_an_endpoint():
    p = pod(0)
    p["status"] = {"phase": "Pending"}
    assert not should_pod_be_in_endpoints(p, include_terminating=True)
    assert compute_subsets(service(), [p]) == []


def test_pods_of_another_namespace_or_labels_are_not_selected():
    other_ns, other_label = pod(0), pod(1)
    other_ns["metadata"]["namespace"] = "kube-system"
    other_label["metadata"]["labels"] = {"foo": "baz"}
    assert compute_subsets(service(), [other_ns, other_label]) == []


def test_find_port_names_the_pod_in_upstreams_words():
    with pytest.raises(PortNotFound, match="no suitable port for manifest: uid-0"):
        find_port(pod(0), {"port": 80, "protocol": "TCP", "targetPort": "http"})
    assert find_port(pod(0), {"port": 80}) == 80  # no targetPort: the Service port


def test_sidecar_ports_count_for_named_target_ports():
    p = pod(0, 0)
    p["spec"]["initContainers"] = [{"name": "proxy", "image": "envoy", "restartPolicy": "Always",
                                    "ports": [{"name": "http", "containerPort": 15001}]}]  # fmt: skip
    assert find_port(p, {"port": 80, "protocol": "TCP", "targetPort": "http"}) == 15001


def test_pods_reaching_different_ports_get_different_subsets():
    svc = service([{"name": "a", "port": 80, "protocol": "TCP", "targetPort": "port0"},
                   {"name": "b", "port": 81, "protocol": "TCP", "targetPort": "port1"}])  # fmt: skip
    subsets = compute_subsets(svc, [pod(0, 2), pod(1, 1)])
    assert [
        ([a["ip"] for a in s["addresses"]], [p["port"] for p in s["ports"]]) for s in subsets
    ] == [
        (["1.2.3.5"], [8080]),
        (["1.2.3.4"], [8080, 8081]),
    ]  # subsets come in the order of their sorted ports


def test_over_1000_addresses_are_truncated_ready_first_and_annotated():
    svc = service()
    many = [pod(i, ready=i >= 200) for i in range(1100)]
    for i, p in enumerate(many):  # IPs beyond 1.2.3.255 do not matter here
        p["status"]["podIP"] = p["status"]["podIPs"][0]["ip"] = f"10.0.{i // 250}.{i % 250}"
    ep = desired_endpoints(svc, many)
    (subset,) = ep["subsets"]
    assert len(subset["addresses"]) == 900 and len(subset["notReadyAddresses"]) == 100
    assert ep["metadata"]["annotations"] == {"endpoints.kubernetes.io/over-capacity": "truncated"}
    small = [{"addresses": [1, 2], "notReadyAddresses": [3]}]
    assert not truncate(small, 3) and truncate(small, 2) and small == [{"addresses": [1, 2]}]


@pytest.mark.parametrize(
    ("subsets", "want"),
    [
        pytest.param([{"addresses": list(range(700))}, {"addresses": list(range(600))}],
                     [700 * 1000 // 1300 + 1, 1000 - (700 * 1000 // 1300 + 1)],
                     id="too many ready: each subset keeps ceil of its share, the last the rest"),
        pytest.param([{"addresses": list(range(1200)), "notReadyAddresses": list(range(5))}], [1000],
                     id="too many ready: not-ready addresses all go"),
        pytest.param([{"addresses": list(range(400)), "notReadyAddresses": list(range(500))},
                      {"addresses": list(range(400)), "notReadyAddresses": list(range(300))}],
                     [400 + 125, 400 + 75],
                     id="ready fit: the 200 places left are shared by the not-ready addresses"),
    ],
)  # fmt: skip
def test_truncate_as_upstream_shares_the_room(subsets, want):
    assert truncate(subsets)
    kept = [len(s.get("addresses") or ()) + len(s.get("notReadyAddresses") or ()) for s in subsets]
    assert kept == want


def test_desired_endpoints_carry_the_service_labels_and_the_managed_by_label():
    svc = service(clusterIP="None")
    svc["metadata"]["labels"] = {"app": "foo"}
    ep = desired_endpoints(svc, [])
    assert ep["metadata"] == {
        "name": "foo", "namespace": NS,
        "labels": {"app": "foo", "service.kubernetes.io/headless": "",
                   "endpoints.kubernetes.io/managed-by": "endpoint-controller"},
    }  # fmt: skip
    assert "subsets" not in ep


# -- the host ----------------------------------------------------------------------------------
def node(name: str, zone: str = "zone-a") -> dict:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"topology.kubernetes.io/zone": zone}}}  # fmt: skip


def live_pod(w: World, i: int, ready: bool = True, node_name: str = "node-1"):
    """Create pod<i> and play the kubelet: IP 10.244.0.<10+i>, Running, Ready or not."""
    w.store.create({"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": f"pod{i}", "namespace": NS, "labels": {"app": "web"}},
                    "spec": {"nodeName": node_name, "containers": [
                        {"name": "web", "image": "nginx",
                         "ports": [{"name": "http", "containerPort": 8080}]}]}})  # fmt: skip
    set_status(w, f"pod{i}", ready, ip=f"10.244.0.{10 + i}")


def set_status(w: World, pod_name: str, ready: bool, ip: str | None = None) -> None:
    p = w.store.get(PODS, pod_name, NS)
    ip = ip or p.status["podIP"]
    p["status"] = {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                   "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}  # fmt: skip
    w.store.update(p, subresource="status")


def web_service(name: str = "web") -> dict:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": NS, "labels": {"tier": "front"}},
            "spec": {"selector": {"app": "web"},
                     "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}  # fmt: skip


def ips(subset: dict, field: str = "addresses") -> list[str]:
    return [a["ip"] for a in subset.get(field) or ()]


def test_the_endpoints_of_a_service_follow_pod_readiness_and_go_with_the_service():
    w = World(controllers=["endpoints-controller"])
    w.store.create(node("node-1"))
    w.store.create(web_service())
    for i in range(3):
        live_pod(w, i, ready=i != 2)
    w.run(2)
    ep = w.store.get(ENDPOINTS, "web", NS)
    (subset,) = ep["subsets"]
    assert ips(subset) == ["10.244.0.10", "10.244.0.11"]
    assert ips(subset, "notReadyAddresses") == ["10.244.0.12"]
    assert subset["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    assert subset["addresses"][0]["targetRef"]["name"] == "pod0"
    assert ep.labels == {
        "tier": "front",
        "endpoints.kubernetes.io/managed-by": "endpoint-controller",
    }
    set_status(w, "pod0", ready=False)
    set_status(w, "pod2", ready=True)
    w.run(2)
    (subset,) = w.store.get(ENDPOINTS, "web", NS)["subsets"]
    assert ips(subset) == ["10.244.0.11", "10.244.0.12"]
    assert ips(subset, "notReadyAddresses") == ["10.244.0.10"]
    w.store.delete(PODS, "pod1", NS)
    w.run(2)
    (subset,) = w.store.get(ENDPOINTS, "web", NS)["subsets"]
    assert ips(subset) == ["10.244.0.12"]
    w.store.delete(SERVICES, "web", NS)
    w.run(2)
    assert not w.store.exists(ENDPOINTS, "web", NS)


def test_endpoints_edited_by_hand_are_put_back_and_selectorless_services_are_left_alone():
    w = World(controllers=["endpoints-controller"])
    w.store.create(node("node-1"))
    w.store.create(web_service())
    manual = web_service("external")
    del manual["spec"]["selector"]
    w.store.create(manual)
    w.store.create({"apiVersion": "v1", "kind": "Endpoints",
                    "metadata": {"name": "external", "namespace": NS},
                    "subsets": [{"addresses": [{"ip": "192.0.2.1"}],
                                 "ports": [{"port": 80, "protocol": "TCP"}]}]})  # fmt: skip
    live_pod(w, 0)
    w.run(2)
    ep = w.store.get(ENDPOINTS, "web", NS)
    ep["subsets"] = [
        {"addresses": [{"ip": "192.0.2.99"}], "ports": [{"port": 1, "protocol": "TCP"}]}
    ]
    w.store.update(ep)
    w.run(2)
    assert ips(w.store.get(ENDPOINTS, "web", NS)["subsets"][0]) == ["10.244.0.10"]
    assert ips(w.store.get(ENDPOINTS, "external", NS)["subsets"][0]) == ["192.0.2.1"]
