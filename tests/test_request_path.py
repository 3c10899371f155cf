"""Following one request through the API server: every stage's verdict comes from the server
itself, the rendering is byte-stable, and the burst shows the in-flight limit at work."""

import copy
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kube_teach import Cluster
from kube_teach.viz.request_path import (
    NOT_REACHED,
    PASSED,
    SKIPPED,
    STAGES,
    _diff,
    burst,
    follow,
    pod_path,
    request_path_widget,
)

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
       "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}  # fmt: skip
AUDIT = {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": [{"level": "Metadata"}]}


@pytest.fixture(scope="module")
def cluster():
    return Cluster(nodes=0, seed=0, controllers=[], scheduler=False, audit_policy=AUDIT)


def test_a_create_passes_every_stage_and_lands_in_etcd(cluster):
    p = follow(cluster, "POST", pod_path(), POD)
    assert p.code == 201 and p.rejected_by is None
    assert [s.name for s in p.stages] == list(STAGES)
    assert {s.verdict for s in p.stages} == {PASSED}
    assert p.stage("authentication").summary == "user kubernetes-admin"
    assert p.stage("audit").summary == "level Metadata"
    assert "RequestReceived, ResponseComplete" in p.stage("audit").details[1]
    rv = p.body["metadata"]["resourceVersion"]
    assert p.stage("etcd").summary == f"/registry/pods/default/web at revision {rv}"
    assert cluster.etcd.etcdctl("get /registry/pods/default/web --keys-only").strip() == (
        "/registry/pods/default/web"
    )
    changes = p.stage("mutating admission").details
    # the mutations upstream's default plugins make to a bare pod, each by its plugin
    assert 'ServiceAccount: + spec.serviceAccountName: "default"' in changes
    assert "Priority: + spec.priority: 0" in changes
    assert any(c.startswith("DefaultTolerationSeconds: + spec.tolerations:") for c in changes)
    assert any('tolerationSeconds":300' in c for c in changes)
    assert p.body["spec"]["serviceAccountName"] == "default"


@pytest.mark.parametrize(
    ("method", "path", "body", "creds", "code", "stage", "says"),
    [
        ("GET", pod_path(), None, {"cert": {"cn": "eve", "issuer": "evil-ca"}}, 401,
         "authentication", "x509: certificate signed by unknown authority"),
        ("POST", pod_path(), POD, {"cert": {"cn": "jane", "o": ["dev"]}}, 403, "authorization",
         'User "jane" cannot create resource "pods" in API group "" in the namespace "default"'),
        ("POST", pod_path("ghost"), POD, None, 404, "mutating admission",
         'namespaces "ghost" not found'),
        ("POST", pod_path(), {**POD, "metadata": {"name": "Web_1"}}, None, 422, "validation",
         'Pod "Web_1" is invalid: metadata.name: Invalid value: "Web_1"'),
    ],
    ids=["unknown CA", "no RBAC rule", "missing namespace", "bad name"],
)  # fmt: skip
def test_the_rejecting_stage_and_nothing_after_it(cluster, method, path, body, creds, code,
                                                  stage, says):  # fmt: skip
    p = follow(cluster, method, path, body, credentials=creds)
    assert (p.code, p.rejected_by) == (code, stage)
    assert says in p.message or any(says in d for d in p.stage(stage).details)
    after = list(STAGES)[list(STAGES).index(stage) + 1 :]
    assert all(p.stage(n).verdict == NOT_REACHED for n in after)


def test_reads_skip_admission_and_report_the_revision(cluster):
    p = follow(cluster, "GET", pod_path())
    assert p.code == 200
    assert p.stage("mutating admission").verdict == SKIPPED
    assert p.stage("etcd").summary == f"read at revision {p.body['metadata']['resourceVersion']}"


def test_the_taps_are_removed_afterwards(cluster):
    server = cluster.apiserver
    before = (server.authenticator, server.authorizer, server.flow_control, server.auditor,
              list(server.admission.plugins))  # fmt: skip
    follow(cluster, "GET", pod_path())
    after = (server.authenticator, server.authorizer, server.flow_control, server.auditor,
             list(server.admission.plugins))  # fmt: skip
    assert before == after


def test_same_seed_same_bytes():
    def run():
        c = Cluster(nodes=0, seed=3, controllers=[], scheduler=False, audit_policy=AUDIT)
        return follow(c, "POST", pod_path(), POD, label="create").html()

    assert run() == run()


def test_widget_highlights_the_rejecting_stage(cluster):
    ok = follow(cluster, "GET", pod_path(), label="read")
    bad = follow(cluster, "POST", pod_path("ghost"), POD, label="ghost")
    w = request_path_widget(ok, bad)
    assert w.selected == "etcd"
    html = w.choose(request="ghost")
    assert w.selected == "mutating admission" and "NamespaceLifecycle refused" in html
    assert "3px solid" in w.choose(stage="audit")
    with pytest.raises(ValueError, match="no stage 'authz'"):
        w.choose(stage="authz")
    box = w.widget()
    assert box.children[1].value == "audit"


@pytest.mark.parametrize(
    ("before", "after", "lines"),
    [
        ({"a": 1}, {"a": 1, "b": "x"}, ['+ b: "x"']),
        ({"a": 1, "b": 2}, {"a": 1}, ["- b"]),
        ({"s": {"n": 1}}, {"s": {"n": 2}}, ["~ s.n: 1 -> 2"]),
        ({"l": [1]}, {"l": [1, 2, 3]}, ["+ l[1]: 2", "+ l[2]: 3"]),
        ({"l": [{"v": 1}]}, {"l": [{"v": 1, "w": 2}]}, ["+ l[0].w: 2"]),
        ({"l": [1, 2]}, {"l": [3]}, ["~ l: [1,2] -> [3]"]),
    ],
)
def test_diff(before, after, lines):
    assert _diff(before, after) == lines


def test_bad_input_is_a_clear_error(cluster):
    with pytest.raises(ValueError, match="method must be"):
        follow(cluster, "FETCH", pod_path())
    with pytest.raises(ValueError, match="path must be an API path"):
        follow(cluster, "GET", "pods")
    with pytest.raises(ValueError, match="a watch streams events"):
        follow(cluster, "GET", pod_path() + "?watch=1")
    with pytest.raises(ValueError, match="at least one"):
        request_path_widget()
    with pytest.raises(ValueError, match="at least 1"):
        burst(0)


def test_a_server_that_is_down_is_a_clear_error():
    c = Cluster(nodes=0, seed=0, controllers=[], scheduler=False, etcd_members=1)
    c.network.crash("apiserver")
    with pytest.raises(TimeoutError, match="no reply from apiserver within 5 simulated seconds"):
        follow(c, "GET", pod_path(), timeout=5)


def test_a_burst_over_the_mutating_limit_gets_429s_and_retries_recover():
    # 200 creates in 20 ms against 5 mutating seats: ~1.2 ms apart, each holding a seat for
    # several ms, so most are turned away; with Retry-After they all land within a few seconds
    no_retry = burst(200, over=0.02, max_mutating_inflight=5, retry=False)
    created = no_retry.codes.count(201)
    assert no_retry.codes.count(429) == 200 - created == no_retry.rejected > 0
    assert 5 <= created < 100
    again = burst(200, over=0.02, max_mutating_inflight=5)
    assert again.codes.count(201) == 200
    assert again.rejected > 200 - created  # retries that met a full pool again
    assert max(again.done) > 1.0  # Retry-After: 1 second
    assert "<svg" in again.plot("burst").data
    paced = burst(50, qps=10, max_mutating_inflight=5)
    assert paced.rejected == 0 and paced.codes.count(201) == 50


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=10,
)


@given(st.dictionaries(st.text(min_size=1, max_size=3), _json, max_size=4), _json)
def test_diff_is_empty_exactly_when_nothing_changed(obj, value):
    assert _diff(obj, copy.deepcopy(obj)) == []
    changed = {**obj, "new-key": value}
    assert _diff(obj, changed) == [f"+ new-key: {json.dumps(value, separators=(',', ':'))}"]
    if obj:
        key = sorted(obj)[0]
        removed = {k: v for k, v in obj.items() if k != key}
        assert f"- {key}" in _diff(obj, removed)
