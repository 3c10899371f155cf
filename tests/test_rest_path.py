"""The API server on the network, reached the way components reach it: REST client, informer."""

import pytest

from kube_teach.api.kinds import KINDS
from kube_teach.api.rest import collection_path, object_path, with_query
from kube_teach.apiserver.server import APIServer, CostModel
from kube_teach.apiserver.store import INITIAL_NAMESPACES, ObjectStore
from kube_teach.client.informer import Informer
from kube_teach.client.rest import RESTClient
from kube_teach.sim import Clock, Metrics, Network, Seeds, Trace

PODS, DEPLOYMENTS = KINDS["Pod"], KINDS["Deployment"]


def pod(name, labels=None, ns="default"):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
            "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}  # fmt: skip


@pytest.fixture
def world():
    clock, seeds = Clock(), Seeds(0)
    trace, metrics = Trace(clock), Metrics(clock)
    net = Network(clock, seeds, trace)
    store = ObjectStore(clock, seeds, trace, 0)
    for ns in INITIAL_NAMESPACES:
        store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    server = APIServer("apiserver", net, store, trace, metrics)
    client = RESTClient(net.add_host("controller"), "apiserver", qps=1000, burst=1000)
    return clock, net, store, server, client


@pytest.mark.parametrize(
    ("path", "want"),
    [
        (collection_path(PODS, "default"), "/api/v1/namespaces/default/pods"),
        (collection_path(PODS), "/api/v1/pods"),
        (collection_path(DEPLOYMENTS, "prod"), "/apis/apps/v1/namespaces/prod/deployments"),
        (collection_path(KINDS["Node"], "ignored"), "/api/v1/nodes"),
        (object_path(PODS, "web", "default", "binding"), "/api/v1/namespaces/default/pods/web/binding"),
        (with_query("/api/v1/pods", watch="1", labelSelector="app=web", limit=None),
         "/api/v1/pods?watch=1&labelSelector=app%3Dweb"),
    ],
)  # fmt: skip
def test_rest_paths(path, want):
    assert path == want


def test_create_get_list_and_errors_over_the_network(world):
    clock, net, store, server, client = world
    created = client.call("POST", collection_path(PODS, "default"), pod("web", {"app": "web"}))
    assert created.code == 201 and created.body["metadata"]["uid"]
    assert clock.now_ns > 0  # the round trip took simulated time
    got = client.call("GET", object_path(PODS, "web", "default"))
    assert got.code == 200 and got.body["metadata"]["name"] == "web"
    again = client.call("POST", collection_path(PODS, "default"), pod("web"))
    assert again.code == 409 and again.body["message"] == 'pods "web" already exists'
    missing = client.call("GET", object_path(PODS, "nope", "default"))
    assert (missing.code, missing.body["reason"]) == (404, "NotFound")
    listed = client.call("GET", with_query(collection_path(PODS), labelSelector="app=web"))
    assert [p["metadata"]["name"] for p in listed.body["items"]] == ["web"]
    assert listed.body["metadata"]["resourceVersion"] == str(store.revision)
    wrong_ns = client.call("POST", collection_path(PODS, "default"), pod("x", ns="kube-system"))
    assert wrong_ns.code == 400


def test_binding_sets_the_node_once(world):
    clock, net, store, server, client = world
    client.call("POST", collection_path(PODS, "default"), pod("web"))
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "web"},
               "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"}}  # fmt: skip
    path = object_path(PODS, "web", "default", "binding")
    assert client.call("POST", path, binding).code == 201
    assert store.get(PODS, "web", "default").spec["nodeName"] == "node-1"
    second = client.call("POST", path, binding)
    assert second.code == 409
    assert second.body["message"].endswith('pod web is already assigned to node "node-1"')


def test_an_informer_lists_then_follows_changes_with_lag(world):
    clock, net, store, server, client = world
    store.create(pod("a"))
    seen = []
    informer = Informer(client, PODS, "default")
    informer.add_handlers(
        on_add=lambda o: seen.append(("add", o.name)),
        on_update=lambda old, new: seen.append(("update", new.name)),
        on_delete=lambda o: seen.append(("delete", o.name)),
    )
    informer.start()
    clock.run(1)
    assert informer.synced and sorted(informer.cache) == ["default/a"]
    store.create(pod("b"))
    assert "default/b" not in informer.cache  # the event is still on the wire
    clock.run(1)
    b = store.get(PODS, "b", "default")
    b["metadata"]["labels"] = {"x": "y"}
    store.update(b)
    store.delete(PODS, "a", "default")
    store.create(pod("other", ns="kube-system"))
    clock.run(1)
    assert seen == [("add", "a"), ("add", "b"), ("update", "b"), ("delete", "a")]
    assert informer.cache["default/b"].labels == {"x": "y"}
    assert informer.resource_version == str(store.revision - 1)  # the kube-system write is not ours


def test_a_watch_from_a_version_older_than_the_window_is_gone_and_the_informer_relists(world):
    clock, net, store, server, client = world
    informer = Informer(client, PODS, "default")
    informer.start()
    clock.run(1)
    net.crash("controller")  # the informer misses everything from now on
    for i in range(1100):
        store.create(pod(f"p{i}"))
    net.restart("controller")
    informer.client = RESTClient(net.hosts["controller"], "apiserver", qps=1000, burst=1000)
    informer._start_watch()  # resume from the old resourceVersion, as a reflector does
    clock.run(5)
    assert informer.lists == 2 and len(informer.cache) == 1100


def test_overload_gives_429_with_retry_after_and_the_client_retries(world):
    clock, net, store, server, client = world
    server.inflight.limits = {False: 2, True: 2}
    server.cost = CostModel(base_ns=100_000_000)  # each request holds its seat for 100 ms
    replies = []
    for i in range(6):
        client.request("POST", collection_path(PODS, "default"), pod(f"p{i}"), replies.append)
    clock.run(5)
    assert sorted(r.code for r in replies) == [201] * 6  # every request got in, some after retries
    rejected = server.metrics.series("apiserver_rejected_requests_total", verb="create")
    # 4 of 6 bounce at once; all 4 retry together after Retry-After: 1 and 2 bounce again
    assert rejected.times == [0.001] * 4 + [1.003] * 2 and rejected.last == 6
    assert len(store.list(PODS, "default")) == 6


def test_a_request_to_a_dead_server_times_out(world):
    clock, net, store, server, client = world
    net.crash("apiserver")
    client.timeout_ns = 5 * 10**9
    reply = client.call("GET", collection_path(PODS, "default"), timeout=10)
    assert (reply.code, reply.body) == (0, "context deadline exceeded")
