"""Fuzzed bad bodies through the request path: every reply is a success or a 4xx Status,
never a 500 and never a Python exception out of the server.

Bodies start from valid Deployment, Pod, Service and ConfigMap manifests; hypothesis replaces
fields with wrong types, nulls, huge strings and junk keys, or sends non-objects and bodies of
the wrong kind, by POST, PUT and merge PATCH.
"""

import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kube_teach.api.kinds import KINDS
from kube_teach.api.rest import collection_path, object_path
from kube_teach.apiserver.admission import AdmissionChain
from kube_teach.apiserver.server import APIServer
from kube_teach.apiserver.store import INITIAL_NAMESPACES, ObjectStore
from kube_teach.client.rest import RESTClient
from kube_teach.sim import Clock, Metrics, Network, Seeds, Trace

LABELS = {"app": "web"}
CONTAINER = {"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}],
             "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}  # fmt: skip
MANIFESTS = {
    "Deployment": {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": LABELS},
        "spec": {"replicas": 2, "selector": {"matchLabels": LABELS},
                 "strategy": {"type": "RollingUpdate",
                              "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
                 "template": {"metadata": {"labels": LABELS},
                              "spec": {"containers": [CONTAINER]}}},
    },
    "Pod": {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "labels": LABELS},
        "spec": {"containers": [CONTAINER], "restartPolicy": "Always",
                 "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}]},
    },
    "Service": {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"selector": LABELS, "type": "ClusterIP",
                 "ports": [{"name": "http", "port": 80, "targetPort": 8080,
                            "protocol": "TCP"}]},
    },
    "ConfigMap": {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web"},
        "data": {"a": "1"},
    },
}  # fmt: skip
KIND_NAMES = sorted(MANIFESTS)


def _paths(node, prefix=()):
    """Every path to a value inside a manifest (dict keys and list indexes)."""
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.just("x" * 70_000),  # longer than any name or label may be
    st.just("-1"),
    st.just("1Gi"),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=8), st.integers(), max_size=3),
    st.just({"junk": {"nested": [None]}}),
)


@st.composite
def mutated(draw, kind):
    body = copy.deepcopy(MANIFESTS[kind])
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(body)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = body
        for key in path[:-1]:
            parent = parent[key]
        how = draw(st.sampled_from(["replace", "delete", "junk-key"]))
        if how == "replace":
            parent[path[-1]] = copy.deepcopy(draw(JUNK))  # st.just gives one shared object
        elif how == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=12))] = copy.deepcopy(
                draw(JUNK)
            )  # st.just gives one shared object
    return body


def bodies(kind):
    wrong = [MANIFESTS[k] for k in KIND_NAMES if k != kind]
    return st.one_of(
        mutated(kind),
        st.sampled_from(wrong),  # a body of the wrong kind for the URL
        JUNK,  # not an object at all
        st.just(json.dumps(MANIFESTS[kind])),  # an object sent as a string
    )


def requests(methods, body_strategy):
    return st.sampled_from(KIND_NAMES).flatmap(
        lambda kind: st.tuples(st.just(kind), st.sampled_from(methods), body_strategy(kind))
    )


def patches(kind):
    wrong = [MANIFESTS[k] for k in KIND_NAMES if k != kind]
    junk_maps = st.dictionaries(st.text(max_size=8), JUNK, max_size=4)
    return st.one_of(mutated(kind), st.sampled_from(wrong), junk_maps)


MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
# JSON patch operations: real and made-up ops on real and made-up paths.
OP_PATHS = st.sampled_from(
    ["/data/a", "/data", "/spec/replicas", "/spec/containers/0/image", "/spec/containers/-",
     "/spec/ports/0/port", "/metadata/labels/app", "/metadata/name", "/metadata", "/kind",
     "/spec/template/spec/containers/0", "", "/", "/nope/deeper", "/spec/containers/99",
     "/spec/containers/-1", "data/a", "/metadata/labels/a~1b"]
)  # fmt: skip
OPS = st.fixed_dictionaries(
    {"op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "nope"]),
     "path": OP_PATHS},
    optional={"value": JUNK, "from": OP_PATHS},
)  # fmt: skip
JSON_PATCHES = st.one_of(st.lists(OPS, max_size=4), JUNK, st.lists(JUNK, max_size=2))


def world():
    clock, seeds = Clock(), Seeds(0)
    trace, metrics = Trace(clock), Metrics(clock)
    net = Network(clock, seeds, trace)
    store = ObjectStore(clock, seeds, trace, 0)
    for ns in INITIAL_NAMESPACES:
        store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    store.create({"apiVersion": "v1", "kind": "ServiceAccount",
                  "metadata": {"name": "default", "namespace": "default"}})  # fmt: skip
    APIServer("apiserver", net, store, trace, metrics, admission=AdmissionChain())
    client = RESTClient(net.add_host("fuzzer"), "apiserver", qps=1e9, burst=10**9)
    return clock, store, client


def send(kind, method, body, content_type=MERGE):
    """The reply to `method` on Pod/Deployment/... `live` (or the collection, for POST)."""
    clock, store, client = world()
    body = copy.deepcopy(body)  # sampled manifests are shared
    info = KINDS[kind]
    live = store.create(copy.deepcopy(MANIFESTS[kind]) | {"metadata": {"name": "live"}})
    if method == "POST":
        path = collection_path(info, "default")
    else:
        path = object_path(info, "live", "default")
        if method == "PUT" and isinstance(body, dict) and isinstance(body.get("metadata"), dict):
            body["metadata"]["name"] = "live"
            body["metadata"]["resourceVersion"] = live.resource_version
    headers = {"Content-Type": content_type} if method == "PATCH" else None
    box = []
    client.request(method, path, body, box.append, headers=headers)
    clock.run_until(lambda: bool(box), timeout=60)
    return box[0]


def check(reply, upstream_500=False):
    """A success, or a Status with a 4xx code. With `upstream_500`, also the 500s upstream
    itself sends (an error the handler passes on as is: reason "", as strategicpatch's
    `list element types are not identical`), never the panic filter's InternalError."""
    if upstream_500 and reply.code == 500:
        assert reply.body["reason"] == "", reply
        return
    assert reply.code in (200, 201) or 400 <= reply.code < 500, reply
    if reply.code >= 400:
        status = reply.body
        assert isinstance(status, dict) and status["kind"] == "Status", reply
        assert status["code"] == reply.code and status["status"] == "Failure"
        assert status["reason"] and status["message"]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(request=requests(["POST", "PUT"], bodies))
def test_a_bad_body_gets_a_4xx_status_never_a_500(request):
    check(send(*request))


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(request=requests(["PATCH"], patches))
def test_a_bad_merge_patch_gets_a_4xx_status_never_a_500(request):
    check(send(*request))


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(KIND_NAMES), ops=JSON_PATCHES)
def test_a_bad_json_patch_gets_a_4xx_status_never_a_500(kind, ops):
    check(send(kind, "PATCH", ops, JSON_PATCH))


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(request=requests(["PATCH"], patches))
def test_a_bad_strategic_merge_patch_gets_a_4xx_status_or_upstreams_500(request):
    check(send(*request, STRATEGIC), upstream_500=True)


def test_strategic_merge_patch_passes_on_upstreams_500():
    reply = send("Pod", "PATCH", {"spec": {"containers": [None]}}, STRATEGIC)
    assert (reply.code, reply.body["reason"]) == (500, "")
    assert reply.body["message"].startswith("list element types are not identical: ")


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_a_null_kind_is_not_a_500(method):
    body = copy.deepcopy(MANIFESTS["ConfigMap"]) | {"kind": None}
    check(send("ConfigMap", method, body))


@pytest.mark.parametrize("patch", ["x" * 10, 5, [1, 2]])
def test_a_merge_patch_that_is_not_an_object_is_4xx(patch):
    check(send("ConfigMap", "PATCH", patch))


@pytest.mark.parametrize(
    "patch", [{"kind": False}, {"kind": 5}, {"kind": "NoSuchKind"}, {"metadata": "x"}]
)
def test_a_merge_patch_that_breaks_kind_or_metadata_is_4xx(patch):
    check(send("ConfigMap", "PATCH", patch))


@pytest.mark.parametrize(
    "ops",
    [
        [{"op": "add", "path": "/kind"}],
        [{"op": "remove", "path": "/kind"}],
        [{"op": "replace", "path": "/metadata", "value": 5}],
        [{"op": "replace", "path": "", "value": {"a": 1}}],
        [{"op": "move", "from": "/kind", "path": "/data/k"}],
        [{"op": "copy", "from": "/metadata", "path": "/kind"}],
    ],
)
def test_a_json_patch_that_breaks_kind_or_metadata_is_4xx(ops):
    check(send("ConfigMap", "PATCH", ops, JSON_PATCH))


@pytest.mark.parametrize("field", ["tolerations", "containers", "volumes"])
def test_a_null_list_element_in_a_pod_is_4xx(field):
    body = copy.deepcopy(MANIFESTS["Pod"])
    body["spec"][field] = [None]
    check(send("Pod", "POST", body))


@pytest.mark.parametrize("api_version", [None, "v2"])
@pytest.mark.parametrize(
    ("kind", "path", "value"),
    [("Deployment", ("spec", "replicas"), "x"), ("Pod", ("spec", "tolerations"), [False])],
)
def test_a_wrong_api_version_does_not_skip_decoding(api_version, kind, path, value):
    body = copy.deepcopy(MANIFESTS[kind]) | {"apiVersion": api_version}
    body[path[0]][path[1]] = value
    reply = send(kind, "POST", body)
    assert (reply.code, reply.body.get("reason")) == (400, "BadRequest")
