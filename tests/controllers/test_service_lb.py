"""The cloud service controller: the simulated cloud (names, addresses, delays, health checks),
upstream's needsCleanup cases, and the controller in the World harness."""

from __future__ import annotations

import random

import pytest

from kube_teach.api.kinds import KINDS
from kube_teach.controllers.service_lb import (
    CloudError,
    CloudProvider,
    backend_nodes,
    load_balancer_name,
)
from kube_teach.controllers.service_lb_controller import needs_cleanup, wants_load_balancer

from .test_hosts import EPOCH, World

SERVICES, NODES, SLICES = KINDS["Service"], KINDS["Node"], KINDS["EndpointSlice"]
NS = "default"
FINALIZER = "service.kubernetes.io/load-balancer-cleanup"


def svc(
    type_: str = "LoadBalancer", *, finalizers=(), deleting=False, lb_class=None, **spec
) -> dict:
    meta = {"name": "web", "namespace": NS, "uid": "12345678-1234-1234-1234-123456789012"}
    if finalizers:
        meta["finalizers"] = list(finalizers)
    if deleting:
        meta["deletionTimestamp"] = "2025-01-01T00:00:00Z"
    body = {"type": type_, "selector": {"app": "web"},
            "ports": [{"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30080}], **spec}  # fmt: skip
    if lb_class:
        body["loadBalancerClass"] = lb_class
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": body}


def node(name: str, ready: bool = True, labels=None, taints=()) -> dict:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels or {}},
            "spec": {"taints": list(taints)},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}  # fmt: skip


@pytest.mark.parametrize(
    ("service", "want"),
    [
        pytest.param(svc(), False, id="a LoadBalancer Service without the finalizer"),
        pytest.param(svc(finalizers=[FINALIZER]), False, id="with the finalizer, still wanted"),
        pytest.param(svc(finalizers=[FINALIZER], deleting=True), True, id="being deleted"),
        pytest.param(svc("ClusterIP", finalizers=[FINALIZER]), True, id="changed to ClusterIP"),
        pytest.param(svc("ClusterIP"), False, id="ClusterIP never had one"),
        pytest.param(svc(finalizers=[FINALIZER], lb_class="example.com/lb"), True,
                     id="a loadBalancerClass hands it to another controller"),
    ],
)  # fmt: skip
def test_needs_cleanup(service, want):
    assert needs_cleanup(service) == want


def test_wants_load_balancer_and_the_default_name():
    assert wants_load_balancer(svc()) and not wants_load_balancer(svc("NodePort"))
    assert not wants_load_balancer(svc(lb_class="example.com/lb"))
    assert load_balancer_name(svc()) == "a1234567812341234123412345678901"  # "a" + 31 of the UID


def test_backend_nodes_leave_out_excluded_and_autoscaler_doomed_nodes_but_not_unready_ones():
    nodes = [node("a"), node("b", ready=False),
             node("c", labels={"node.kubernetes.io/exclude-from-external-load-balancers": ""}),
             node("d", taints=[{"key": "ToBeDeletedByClusterAutoscaler", "effect": "NoSchedule"}])]  # fmt: skip
    assert backend_nodes(nodes) == ["a", "b"]


def test_the_cloud_is_deterministic_per_seed_and_checks_health_by_policy():
    def provision(seed: int):
        cloud = CloudProvider(random.Random(seed))
        lb = cloud.ensure_load_balancer(svc(), ["a", "b"], now=10.0)
        return lb.ip, lb.ready_at

    assert provision(1) == provision(1) and provision(1) != provision(2)
    ip, ready_at = provision(1)
    assert ip.startswith("203.0.113.") and 15.0 <= ready_at <= 40.0
    cloud = CloudProvider(random.Random(0))
    lb = cloud.ensure_load_balancer(svc(), ["a", "b"], 0.0)
    assert not lb.active(lb.ready_at - 0.001) and lb.active(lb.ready_at)
    nodes = [node("a"), node("b", ready=False)]
    assert cloud.health_check(svc(), nodes) == ["a"] and lb.health_check == "HTTP :10256/healthz"
    local = svc(externalTrafficPolicy="Local", healthCheckNodePort=32000)
    cloud.ensure_load_balancer(local, ["a", "b", "c"], 1.0)
    slices = [{"endpoints": [{"nodeName": "c", "conditions": {"ready": True}},
                             {"nodeName": "a", "conditions": {"ready": False}}]}]  # fmt: skip
    nodes.append(node("c"))
    assert cloud.health_check(local, nodes, slices) == ["c"]
    assert lb.health_check == "HTTP :32000/healthz"
    assert cloud.ensure_load_balancer_deleted(local) and not cloud.load_balancers


def test_a_cloud_out_of_addresses_says_so():
    cloud = CloudProvider(random.Random(0))
    for i in range(241):
        other = svc()
        other["metadata"]["uid"] = f"uid-{i}"
        cloud.ensure_load_balancer(other, [], 0.0)
    with pytest.raises(CloudError, match="no free external IP address left in the pool"):
        cloud.ensure_load_balancer(svc(), [], 0.0)
    with pytest.raises(ValueError, match="provisioning_delay must be"):
        CloudProvider(provisioning_delay=(5, 1))


# -- the host ----------------------------------------------------------------------------------
def lb_world() -> World:
    return World(controllers=["service-lb-controller"])


def add_node(w: World, name: str, ready: bool = True) -> None:
    """Create the node, then post its status as its kubelet would (create drops status)."""
    body = node(name, ready)
    w.store.create(body)
    live = w.store.get(NODES, name)
    live["status"] = body["status"]
    w.store.update(live, subresource="status")


def create_service(w: World, **spec):
    body = svc(**spec)
    del body["metadata"]["uid"]
    return w.store.create(body)


def events(w: World, reason: str) -> list:
    return w.trace.where("service-controller", "event", reason=reason)


def cloud(w: World) -> CloudProvider:
    return w.kcm.controllers["service-lb-controller"].cloud


def test_a_load_balancer_is_provisioned_after_the_seeded_delay():
    w = lb_world()
    add_node(w, "node-1")
    add_node(w, "node-2")
    service = create_service(w)
    w.run(60)
    lb = cloud(w).get_load_balancer(service)
    live = w.store.get(SERVICES, "web", NS)
    assert live.status["loadBalancer"] == {"ingress": [{"ip": lb.ip, "ipMode": "VIP"}]}
    assert live.metadata["finalizers"] == [FINALIZER]
    (ensuring,), (ensured,) = events(w, "EnsuringLoadBalancer"), events(w, "EnsuredLoadBalancer")
    assert ensuring.fields["message"] == "Ensuring load balancer"
    assert ensured.fields["message"] == "Ensured load balancer"
    # the delay is the first draw of the cloud's stream, known from the seed alone
    twin = CloudProvider(random.Random(f"{EPOCH}/cloud-provider"))
    expected = twin.ensure_load_balancer(service, [], 0.0)
    assert (lb.ip, round(lb.ready_at - lb.created_at, 3)) == (expected.ip, expected.ready_at)
    assert ensured.t - ensuring.t == pytest.approx(expected.ready_at, abs=0.05)
    assert lb.nodes == ["node-1", "node-2"] and lb.healthy_nodes == ["node-1", "node-2"]
    stored = [e for e in w.store.list(KINDS["Event"], NS) if e["reason"] == "EnsuredLoadBalancer"]
    assert stored[0]["source"] == {"component": "service-controller"}


def test_new_nodes_are_added_as_backends_and_a_type_change_removes_the_load_balancer():
    w = lb_world()
    add_node(w, "node-1")
    service = create_service(w)
    w.run(60)
    add_node(w, "node-2")
    w.run(2)
    assert cloud(w).get_load_balancer(service).nodes == ["node-1", "node-2"]
    (updated,) = events(w, "UpdatedLoadBalancer")
    assert updated.fields["message"] == "Updated load balancer with new hosts"
    live = w.store.get(SERVICES, "web", NS)
    live["spec"]["type"] = "ClusterIP"
    live["spec"].pop("externalTrafficPolicy", None)
    live["spec"].pop("allocateLoadBalancerNodePorts", None)
    live["spec"]["ports"][0].pop("nodePort", None)
    w.store.update(live)
    w.run(2)
    assert cloud(w).load_balancers == {}
    live = w.store.get(SERVICES, "web", NS)
    assert "finalizers" not in live.metadata
    assert not live.status.get("loadBalancer", {}).get("ingress")
    assert [e.fields["message"] for e in events(w, "Type")] == ["LoadBalancer -> ClusterIP"]
    assert len(events(w, "DeletingLoadBalancer")) == len(events(w, "DeletedLoadBalancer")) == 1


def test_deleting_the_service_deletes_its_load_balancer():
    w = lb_world()
    add_node(w, "node-1")
    create_service(w)
    w.run(60)
    assert len(cloud(w).load_balancers) == 1
    w.store.delete(SERVICES, "web", NS)
    w.run(2)
    assert cloud(w).load_balancers == {}
    (deleted,) = events(w, "DeletedLoadBalancer")
    assert deleted.fields["message"] == "Deleted load balancer"


def test_local_traffic_policy_health_checks_only_nodes_with_ready_endpoints():
    w = lb_world()
    for n in ("node-1", "node-2", "node-3"):
        add_node(w, n, ready=n != "node-3")
    service = create_service(w, externalTrafficPolicy="Local", healthCheckNodePort=32000)
    w.store.create({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                    "metadata": {"name": "web-abcde", "namespace": NS,
                                 "labels": {"kubernetes.io/service-name": "web"}},
                    "addressType": "IPv4",
                    "endpoints": [{"addresses": ["10.244.1.5"], "nodeName": "node-2",
                                   "conditions": {"ready": True}},
                                  {"addresses": ["10.244.2.5"], "nodeName": "node-3",
                                   "conditions": {"ready": True}}]})  # fmt: skip
    w.run(60)
    lb = cloud(w).get_load_balancer(service)
    assert lb.nodes == ["node-1", "node-2", "node-3"]
    assert lb.healthy_nodes == ["node-2"]  # node-1 has no endpoint; node-3 is not Ready
    assert lb.health_check == "HTTP :32000/healthz"


def test_same_seed_same_events():
    def run() -> str:
        w = lb_world()
        add_node(w, "node-1")
        create_service(w)
        w.run(60)
        return "\n".join(str((e.t, e.fields)) for e in w.trace.where("service-controller"))

    assert run() == run()
