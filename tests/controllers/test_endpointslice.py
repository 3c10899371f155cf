"""The EndpointSlice controller: endpoints from pods (after upstream's utils_test podToEndpoint
cases), the reconciler's packing (after reconciler_test), and the host in the World harness."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kube_teach.api.kinds import KINDS
from kube_teach.controllers.endpointslice import (
    endpoint_ports,
    new_slice,
    pod_to_endpoint,
    reconcile,
)

from .test_endpoints import NS, live_pod, node, pod, service, set_status, web_service
from .test_hosts import World

SLICES, PODS = KINDS["EndpointSlice"], KINDS["Pod"]
GONE = "2025-01-01T00:00:00Z"
NODES = {"node-1": node("node-1", "us-east-1a")}


def conditions(ready, serving, terminating) -> dict:
    return {"ready": ready, "serving": serving, "terminating": terminating}


@pytest.mark.parametrize(
    ("p", "svc", "want"),
    [
        pytest.param(pod(0), service(), conditions(True, True, False), id="a ready pod is ready and serving"),
        pytest.param(pod(0, ready=False), service(), conditions(False, False, False), id="a pod that is not Ready is neither"),
        pytest.param(pod(0, deletionTimestamp=GONE), service(), conditions(False, True, True),
                     id="a terminating ready pod is serving and terminating but not ready"),
        pytest.param(pod(0, ready=False, deletionTimestamp=GONE), service(), conditions(False, False, True),
                     id="a terminating pod that is not Ready is only terminating"),
        pytest.param(pod(0, ready=False), service(publishNotReadyAddresses=True), conditions(True, False, False),
                     id="publishNotReadyAddresses makes every endpoint ready"),
        pytest.param(pod(0, deletionTimestamp=GONE), service(publishNotReadyAddresses=True),
                     conditions(True, True, True), id="publishNotReadyAddresses keeps a terminating pod ready"),
    ],
)  # fmt: skip
def test_pod_to_endpoint_conditions(p, svc, want):
    endpoint = pod_to_endpoint(p, NODES["node-1"], svc)
    assert endpoint["conditions"] == want
    assert endpoint["addresses"] == ["1.2.3.4"]
    assert endpoint["nodeName"] == "node-1" and endpoint["zone"] == "us-east-1a"
    assert endpoint["targetRef"] == {"kind": "Pod", "namespace": NS, "name": "pod0", "uid": "uid-0"}


def test_endpoint_ports_follow_the_service_order_and_skip_ports_the_pod_lacks():
    svc = service([{"name": "b", "port": 81, "protocol": "TCP", "targetPort": "port1"},
                   {"name": "missing", "port": 82, "protocol": "TCP", "targetPort": "nope"},
                   {"name": "a", "port": 80, "protocol": "TCP", "targetPort": 9000,
                    "appProtocol": "http"}])  # fmt: skip
    assert endpoint_ports(svc, pod(0, 2)) == [
        {"name": "b", "port": 8081, "protocol": "TCP"},
        {"name": "a", "port": 9000, "protocol": "TCP", "appProtocol": "http"},
    ]


def existing(svc: dict, n: int, name: str, start: int = 0) -> dict:
    """A stored slice of `svc` holding the endpoints of pod<start> .. pod<start+n-1>."""
    body = new_slice(svc, endpoint_ports(svc, pod(0)),
                     [pod_to_endpoint(pod(i), NODES["node-1"], svc) for i in range(start, start + n)])  # fmt: skip
    del body["metadata"]["generateName"]
    body["metadata"]["name"] = name
    return body


def sizes(bodies) -> list[int]:
    return [len(b["endpoints"]) for b in bodies]


@pytest.mark.parametrize(
    ("n_pods", "stored", "want_create", "want_update", "want_delete"),
    [
        pytest.param(1, [], [1], [], [], id="one pod: one new slice"),
        pytest.param(250, [], [100, 100, 50], [], [], id="250 pods: slices of 100, 100 and 50"),
        pytest.param(3, [(3, "a", 0)], [], [], [], id="nothing changed: no writes"),
        pytest.param(2, [(3, "a", 0)], [], [2], [], id="a pod gone: its slice is updated"),
        pytest.param(105, [(100, "a", 0)], [5], [], [], id="a full unchanged slice is left; a new one takes the rest"),
        pytest.param(110, [(100, "a", 0), (5, "b", 100)], [], [10], [],
                     id="new endpoints go to the fullest unchanged slice that takes them all"),
        pytest.param(61, [(50, "a", 0), (50, "b", 50)], [], [11], [],
                     id="endpoints freed in one slice make room there for the new ones"),
        pytest.param(0, [], [0], [], [], id="no pods: an empty placeholder slice"),
    ],
)  # fmt: skip
def test_reconcile_packs_endpoints(n_pods, stored, want_create, want_update, want_delete):
    svc = service()
    pods = [pod(i) for i in range(n_pods)]
    slices = [existing(svc, n, name, start) for n, name, start in stored]
    plan = reconcile(svc, pods, NODES, slices)
    assert sizes(plan.create) == want_create
    assert sizes(plan.update) == want_update
    assert sizes(plan.delete) == want_delete
    covered = [e["targetRef"]["name"] for b in [*plan.create, *plan.update] for e in b["endpoints"]]
    assert len(covered) == len(set(covered)) <= n_pods


def test_the_placeholder_is_kept_and_a_slice_emptied_becomes_the_placeholder():
    svc = service()
    placeholder = existing(svc, 0, "p")
    placeholder["ports"] = []
    assert reconcile(svc, [], NODES, [placeholder]).empty
    plan = reconcile(svc, [], NODES, [existing(svc, 2, "a")])
    (body,) = plan.update  # the create of a placeholder and the delete of "a" become one update
    assert not plan.create and not plan.delete
    assert body["metadata"]["name"] == "a" and body["endpoints"] == [] and body["ports"] == []


def test_slices_of_a_previous_service_with_the_same_name_are_deleted():
    svc = service()
    old = existing(svc, 1, "old")
    old["metadata"]["ownerReferences"][0]["uid"] = "old-uid"
    plan = reconcile(svc, [pod(0)], NODES, [old])
    assert sizes(plan.create) == [1] and plan.delete == [old] and not plan.update


def test_a_pod_on_an_unknown_node_is_skipped_with_upstreams_words():
    plan = reconcile(service(), [pod(0, node="node-9")], NODES, [])
    assert plan.skipped == ["skipping Pod pod0 for Service default/foo: Node node-9 Not Found"]
    assert sizes(plan.create) == [0]


def test_slice_labels_and_owner():
    svc = service(clusterIP="None")
    svc["metadata"]["labels"] = {"app": "foo", "kubernetes.io/service-name": "spoof"}
    body = reconcile(svc, [pod(0)], NODES, []).create[0]
    assert body["metadata"]["generateName"] == "foo-"
    assert body["metadata"]["labels"] == {
        "app": "foo", "service.kubernetes.io/headless": "",
        "kubernetes.io/service-name": "foo",
        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
    }  # fmt: skip
    assert body["metadata"]["ownerReferences"] == [
        {"apiVersion": "v1", "kind": "Service", "name": "foo", "uid": "svc-uid",
         "controller": True, "blockOwnerDeletion": True}]  # fmt: skip
    assert body["addressType"] == "IPv4"


# -- the host ----------------------------------------------------------------------------------
def slices(w: World, service_name: str = "web") -> list:
    found = w.store.list(SLICES, NS, f"kubernetes.io/service-name={service_name}")
    return sorted(found, key=lambda s: -len(s.get("endpoints") or []))


def test_120_pods_make_two_slices_and_a_terminating_pod_stays_serving():
    w = World(controllers=["endpointslice-controller"])
    w.store.create(node("node-1", "zone-a"))
    w.store.create(web_service())
    for i in range(120):
        live_pod(w, i, ready=True)
    w.run(3)
    big, small = slices(w)
    assert (len(big["endpoints"]), len(small["endpoints"])) == (100, 20)
    assert big["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    assert big.metadata["ownerReferences"][0]["uid"] == w.store.get(KINDS["Service"], "web", NS).uid
    w.store.delete(PODS, "pod7", NS)  # a graceful DELETE: the pod stays, terminating
    set_status(w, "pod8", ready=False)
    w.run(2)
    by_pod = {e["targetRef"]["name"]: e for s in slices(w) for e in s["endpoints"]}
    assert len(by_pod) == 120
    assert by_pod["pod7"]["conditions"] == conditions(False, True, True)
    assert by_pod["pod8"]["conditions"] == conditions(False, False, False)
    assert by_pod["pod9"]["conditions"] == conditions(True, True, False)
    assert by_pod["pod9"]["zone"] == "zone-a" and by_pod["pod9"]["nodeName"] == "node-1"


def test_a_service_without_pods_gets_a_placeholder_that_fills_when_a_pod_arrives():
    w = World(controllers=["endpointslice-controller"])
    w.store.create(node("node-1"))
    w.store.create(web_service())
    w.run(2)
    (placeholder,) = slices(w)
    assert placeholder["endpoints"] in ([], None) and placeholder.get("ports") in ([], None)
    live_pod(w, 0)
    w.run(2)
    (only,) = slices(w)
    assert only.name == placeholder.name  # the placeholder was updated, not replaced
    assert [e["addresses"] for e in only["endpoints"]] == [["10.244.0.10"]]


# -- property: whatever the history, slices hold each wanted endpoint exactly once -------------
def apply(plan, stored: dict[str, dict], counter: list[int]) -> None:
    """Play the API server: carry out a plan on `stored` (name -> slice)."""
    for body in plan.create:
        counter[0] += 1
        created = {**body, "metadata": {**body["metadata"], "name": f"foo-{counter[0]}"}}
        stored[created["metadata"]["name"]] = created
    for body in plan.update:
        stored[body["metadata"]["name"]] = body
    for doomed in plan.delete:
        stored.pop(doomed["metadata"]["name"], None)


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(
        st.dictionaries(st.integers(0, 40), st.sampled_from(["ready", "unready", "gone"])),
        min_size=1,
        max_size=5,
    )
)
def test_reconcile_converges_to_one_endpoint_per_pod_in_small_slices(steps):
    svc, stored, counter, state = service(), {}, [0], {}
    for step in steps:
        state.update(step)
        pods = [pod(i, ready=s == "ready") for i, s in sorted(state.items()) if s != "gone"]
        apply(reconcile(svc, pods, NODES, list(stored.values()), max_per_slice=7), stored, counter)
        assert reconcile(svc, pods, NODES, list(stored.values()), max_per_slice=7).empty
        names = [e["targetRef"]["name"] for s in stored.values() for e in s["endpoints"]]
        assert sorted(names) == sorted(p["metadata"]["name"] for p in pods)
        assert all(len(s["endpoints"]) <= 7 for s in stored.values())
        if pods:  # no empty slices beside endpoints; with no pods, one empty placeholder
            assert all(s["endpoints"] for s in stored.values())
        else:
            assert [s["endpoints"] for s in stored.values()] == [[]]
        ready = {e["targetRef"]["name"]: e["conditions"]["ready"]
                 for s in stored.values() for e in s["endpoints"]}  # fmt: skip
        assert ready == {p["metadata"]["name"]: state[int(p["metadata"]["name"][3:])] == "ready"
                         for p in pods}  # fmt: skip
