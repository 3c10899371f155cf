import json
import re

import pytest

from kube_teach import Cluster
from kube_teach.api.errors import StatusError
from kube_teach.api.kinds import KINDS
from kube_teach.cluster import ClientError

WEB = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
"""


@pytest.fixture
def cluster():
    return Cluster(nodes=3, seed=0)


def test_a_new_cluster_has_ready_nodes_and_the_usual_namespaces(cluster):
    nodes = cluster.get("nodes")
    assert nodes.headers == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert nodes.column("NAME") == ["node-1", "node-2", "node-3"]
    assert nodes.column("STATUS") == ["Ready"] * 3
    names = [ns.name for ns in cluster.list("namespaces")]
    assert names == ["default", "kube-node-lease", "kube-public", "kube-system"]


def test_apply_creates_then_reports_unchanged_then_configured(cluster):
    assert cluster.apply(WEB) == "deployment.apps/web created"
    assert cluster.apply(WEB) == "deployment.apps/web unchanged"
    assert (
        cluster.apply(WEB.replace("replicas: 3", "replicas: 5")) == "deployment.apps/web configured"
    )
    web = cluster.get("deploy", "web")
    assert web.spec["replicas"] == 5
    assert web.metadata["generation"] == 2


def test_apply_fills_in_upstream_defaults(cluster):
    cluster.apply(WEB)
    web = cluster.get("deployments", "web")
    assert web.spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
    }
    assert web.spec["revisionHistoryLimit"] == 10
    assert web.spec["progressDeadlineSeconds"] == 600
    pod_spec = web.spec["template"]["spec"]
    assert pod_spec["restartPolicy"] == "Always"
    assert pod_spec["terminationGracePeriodSeconds"] == 30
    assert pod_spec["dnsPolicy"] == "ClusterFirst"
    assert pod_spec["schedulerName"] == "default-scheduler"


def test_server_sets_identity_and_versions(cluster):
    cluster.run(90)
    cluster.apply(WEB)
    web = cluster.get("deployment", "web")
    assert web.metadata["creationTimestamp"] == "2025-01-01T00:01:30Z"
    assert web.metadata["namespace"] == "default"
    assert len(web.uid) == 36
    assert int(web.resource_version) > 0
    assert (
        json.loads(web.annotations["kubectl.kubernetes.io/last-applied-configuration"])["spec"][
            "replicas"
        ]
        == 3
    )


def test_invalid_apply_raises_in_upstream_words_and_changes_nothing(cluster):
    cluster.apply(WEB)
    before = cluster.get("deployment", "web")
    revision = cluster.store.revision
    with pytest.raises(StatusError) as err:
        cluster.apply(WEB.replace("replicas: 3", "replicas: -1"))
    assert str(err.value) == (
        'Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1: '
        "must be greater than or equal to 0"
    )
    assert err.value.kubectl() == (
        'The Deployment "web" is invalid: spec.replicas: Invalid value: -1: '
        "must be greater than or equal to 0"
    )
    assert err.value.code == 422
    assert cluster.get("deployment", "web") == before
    assert cluster.store.revision == revision


def test_a_multi_document_apply_is_all_or_nothing(cluster):
    bad = WEB.replace("name: web\n  labels", "name: Web\n  labels")
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {a: b}\n"
    with pytest.raises(StatusError, match='Deployment.apps "Web" is invalid: metadata.name'):
        cluster.apply(cm + "---\n" + bad)
    assert cluster.list("configmaps") == []


def test_unknown_kinds_are_refused_before_reaching_the_server(cluster):
    with pytest.raises(
        ClientError, match='no matches for kind "Widget" in version "example.com/v1"'
    ):
        cluster.apply("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n")


def test_get_missing_object_is_not_found(cluster):
    with pytest.raises(StatusError) as err:
        cluster.get("deployment", "nope")
    assert err.value.kubectl() == 'Error from server (NotFound): deployments.apps "nope" not found'


def test_delete_removes_and_reports(cluster):
    cluster.apply(WEB)
    assert cluster.delete("deployment", "web") == 'deployments.apps "web" deleted'
    assert cluster.list("deployments") == []
    with pytest.raises(StatusError, match="not found"):
        cluster.delete("deployment", "web")


def test_creating_in_a_missing_namespace_is_not_found(cluster):
    with pytest.raises(StatusError) as err:
        cluster.apply(WEB, namespace="shop")
    assert str(err.value) == 'namespaces "shop" not found'


def test_stale_resource_version_is_a_conflict(cluster):
    cluster.apply(WEB)
    first = cluster.get("deployment", "web")
    second = cluster.get("deployment", "web")
    first["spec"]["replicas"] = 4
    cluster.store.update(first)
    second["spec"]["replicas"] = 6
    with pytest.raises(StatusError) as err:
        cluster.store.update(second)
    assert err.value.code == 409
    assert str(err.value) == (
        'Operation cannot be fulfilled on deployments.apps "web": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    assert cluster.get("deployment", "web").spec["replicas"] == 4


def test_kubectl_get_prints_tables_and_errors_like_kubectl(cluster):
    cluster.apply(WEB)
    out = cluster.kubectl("get deployments")
    assert out.splitlines() == [
        "NAME   READY   UP-TO-DATE   AVAILABLE   AGE",
        "web    0/3     0            0           0s",
    ]
    assert cluster.kubectl("get pods") == "No resources found in default namespace."
    assert cluster.kubectl("get deploy nope") == (
        'Error from server (NotFound): deployments.apps "nope" not found'
    )
    assert (
        cluster.kubectl("get widgets")
        == 'error: the server doesn\'t have a resource type "widgets"'
    )
    assert cluster.kubectl("get deploy -o name") == "deployment.apps/web"


def test_kubectl_get_nodes_wide_shows_addresses(cluster):
    lines = cluster.kubectl("get nodes -o wide").splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP",
                                "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"]  # fmt: skip
    assert lines[1].split()[:6] == ["node-1", "Ready", "<none>", "0s", "v1.34.0", "10.0.0.11"]


def test_events_are_recorded_and_listed():
    cluster = Cluster(nodes=1, seed=0, controllers=[])
    cluster.apply(WEB)
    web = cluster.get("deployment", "web")
    cluster.run(5)
    cluster.record_event(
        web,
        "ScalingReplicaSet",
        "Scaled up replica set web-abc to 3",
        component="deployment-controller",
    )
    cluster.run(65)
    table = cluster.events()
    assert table.headers == ["NAMESPACE", "LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert [row for row in table.rows if row[4] == "deployment/web"] == [
        ["default", "65s", "Normal", "ScalingReplicaSet", "deployment/web",
         "Scaled up replica set web-abc to 3"]
    ]  # fmt: skip


def test_the_controllers_turn_a_deployment_into_a_replicaset_and_pods(cluster):
    cluster.apply(WEB)
    cluster.run(5)
    (rs,) = cluster.list("replicasets")
    assert rs.name.startswith("web-") and rs.spec["replicas"] == 3
    assert rs.metadata["ownerReferences"][0]["name"] == "web"
    pods = cluster.list("pods")
    assert len(pods) == 3 and all(p.name.startswith(rs.name + "-") for p in pods)
    assert {p.status["phase"] for p in pods} == {"Running"}  # scheduled, pulled, started
    reasons = [row[3] for row in cluster.events().rows]
    assert reasons.count("SuccessfulCreate") == 3 and "ScalingReplicaSet" in reasons
    cluster.delete("pod", pods[0].name)
    cluster.run(5)
    assert len(cluster.list("pods")) == 3  # the ReplicaSet controller replaced it


def test_controllers_can_be_switched_off_like_the_flag():
    cluster = Cluster(nodes=1, seed=0, controllers=["*", "-replicaset-controller"])
    cluster.apply(WEB)
    cluster.run(5)
    assert len(cluster.list("replicasets")) == 1 and cluster.list("pods") == []
    with pytest.raises(ValueError, match='"nope" is not in the list of known controllers'):
        Cluster(nodes=1, controllers=["nope"])


def test_time_moves_only_when_asked(cluster):
    start = cluster.now
    assert 0 < start < 3  # etcd elected a leader and the API server bootstrapped
    cluster.run("1m30s")
    cluster.run(minutes=1, seconds=0.5)
    assert cluster.now == pytest.approx(start + 150.5)
    assert cluster.run_until(lambda: True) is True


def test_failing_a_node_crashes_its_host_and_recover_brings_it_back(cluster):
    cluster.nodes["node-2"].fail()
    assert not cluster.nodes["node-2"].up
    cluster.run(1)
    cluster.nodes["node-2"].recover()
    assert cluster.nodes["node-2"].up
    events = [e.event for e in cluster.trace.where(component="node-2")]
    assert [e for e in events if e in ("crashed", "restarted")] == ["crashed", "restarted"]


def test_html_and_text_reprs(cluster):
    cluster.apply(WEB)
    assert "<table" in cluster.get("deployments")._repr_html_()
    assert re.fullmatch(
        r"<Cluster\(seed=0\) at t=0\.\d+s: 3/3 nodes up; Deployment: 1, .*Node: 3, Service: 1>",
        repr(cluster),
    )
    assert "kind: Deployment" in cluster.get("deployment", "web").to_yaml()


def _run(seed):
    c = Cluster(nodes=4, seed=seed)
    c.apply(WEB)
    c.network.set_link("node-1", "node-2", drop=0.3)
    for i in range(200):
        c.clock.call_later(i * 0.01, lambda i=i: c.network.send("node-1", "node-2", i))
    c.nodes["node-3"].fail()
    c.run(10)
    c.apply(WEB.replace("replicas: 3", "replicas: 2"))
    return c.trace.text() + f"\n{c.network.stats}\n{c.get('deployment', 'web').uid}"


def test_the_same_seed_gives_a_byte_identical_trace():
    a, b = _run(7), _run(7)
    assert a == b
    assert a.count("\n") > 10


def test_a_different_seed_gives_a_different_trace():
    assert _run(7) != _run(8)


def test_an_unknown_field_is_a_bad_request_from_strict_decoding(cluster):
    with pytest.raises(StatusError) as err:
        cluster.apply(WEB.replace("replicas: 3", "replicass: 3"))
    assert err.value.code == 400
    assert err.value.kubectl() == (
        'Error from server (BadRequest): Deployment in version "v1" cannot be handled as a '
        'Deployment: strict decoding error: unknown field "spec.replicass"'
    )
    assert cluster.list("deployments") == []


@pytest.mark.parametrize("name", __import__("kube_teach.manifests").manifests.names())
def test_every_seed_manifest_either_applies_or_changes_nothing(name):
    """The article's examples, as a real API server treats them (see tests/api/test_seed_manifests)."""
    from kube_teach.api.objects import load
    from kube_teach.manifests import manifest

    cluster = Cluster(nodes=1, seed=0)
    named = [
        (KINDS[o["kind"]], o["metadata"]["name"], o["metadata"].get("namespace"))
        for o in load(manifest(name))
        if o.get("kind") in KINDS and (o.get("metadata") or {}).get("name")
    ]
    written = []
    cluster.store.watch(lambda event, obj: written.append((event, obj.kind, obj.name)))
    try:
        out = cluster.apply(manifest(name))
    except (StatusError, ClientError):
        # nothing of the manifest was written (the components' own writes go on meanwhile)
        assert not any(cluster.store.exists(*n) for n in named)
        assert not [w for w in written if (KINDS[w[1]], w[2]) in {(i, n) for i, n, _ in named}]
    else:
        assert out.count("created") == len(out.splitlines())
        assert all(cluster.store.exists(*n) for n in named)


def test_objects_live_in_etcd_under_registry_keys_with_mod_revision_as_resource_version(cluster):
    cluster.apply(WEB)
    web = cluster.get("deployment", "web")
    etcd = cluster.etcd.client()
    (kv,) = etcd.get("/registry/deployments/default/web")["kvs"]
    assert str(kv["mod_revision"]) == web.resource_version
    assert "resourceVersion" not in json.loads(kv["value"])["metadata"]
    nodes = etcd.get("/registry/minions/", prefix=True, keys_only=True)
    assert [k["key"] for k in nodes["kvs"]] == [f"/registry/minions/node-{i}" for i in (1, 2, 3)]
    cluster.apply(WEB.replace("replicas: 3", "replicas: 4"))
    (kv2,) = etcd.get("/registry/deployments/default/web")["kvs"]
    assert kv2["version"] == 2 and kv2["create_revision"] == kv["create_revision"]
    assert str(kv2["mod_revision"]) == cluster.get("deployment", "web").resource_version


def test_a_full_etcd_refuses_writes_as_the_api_server_reports_it():
    cluster = Cluster(nodes=1, seed=0, quota_backend_bytes=1024 * 1024)
    blob = "x" * 8000
    with pytest.raises(StatusError) as err:
        for i in range(200):
            cluster.apply(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": f"cm-{i}"},
                    "data": {"blob": blob},
                }  # fmt: skip
            )
    assert err.value.code == 500
    assert err.value.kubectl() == "Error from server: etcdserver: mvcc: database space exceeded"
    stored = len(cluster.list("configmaps"))
    assert 10 < stored < 200
    assert cluster.etcd.client().alarm_list()["alarms"][0]["alarm"] == "NOSPACE"
    assert len(cluster.list("configmaps")) == stored  # reads still work


def test_kubectl_names_the_file_when_creating_fails(cluster, tmp_path):
    path = tmp_path / "deployment.yaml"
    path.write_text(WEB)
    assert cluster.kubectl(f"create -f {path}") == "deployment.apps/web created"
    assert cluster.kubectl(f"create -f {path}") == (
        f'Error from server (AlreadyExists): error when creating "{path}": '
        'deployments.apps "web" already exists'
    )
    typo = tmp_path / "typo.yaml"
    typo.write_text(
        WEB.replace("name: web\n  labels", "name: web2\n  labels").replace("replicas:", "replicaz:")
    )
    assert cluster.kubectl(f"apply -f {typo}") == (
        f'Error from server (BadRequest): error when creating "{typo}": Deployment in version "v1" '
        'cannot be handled as a Deployment: strict decoding error: unknown field "spec.replicaz"'
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text(WEB.replace("replicas: 3", "replicas: -1"))
    assert cluster.kubectl(f"apply -f {bad}") == (
        'The Deployment "web" is invalid: spec.replicas: Invalid value: -1: '
        "must be greater than or equal to 0"
    )


def test_the_scheduler_binds_the_pods_and_explains_its_choice(cluster):
    cluster.apply(WEB.replace("replicas: 3", "replicas: 6"))
    cluster.run(5)
    nodes = sorted(p.spec["nodeName"] for p in cluster.list("pods"))
    assert nodes == ["node-1", "node-1", "node-2", "node-2", "node-3", "node-3"]
    messages = [row[5] for row in cluster.events().rows if row[3] == "Scheduled"]
    assert len(messages) == 6 and messages[0].startswith("Successfully assigned default/web-")
    pod = cluster.list("pods")[0]
    explained = cluster.scheduler.explain(pod.name)
    assert sorted(explained.filters) == ["node-1", "node-2", "node-3"]
    assert all(result.passed for result in explained.filters.values())


def _pod(name: str, image: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "app", "image": image}]}}  # fmt: skip


def test_a_validating_webhook_written_in_python_refuses_unpinned_images():
    from kube_teach.apiserver.admission import Webhook

    def pinned(review: dict) -> dict:
        images = [c["image"] for c in review["object"]["spec"]["containers"]]
        loose = [i for i in images if ":" not in i or i.endswith(":latest")]
        if loose:
            return {"allowed": False, "status": {"code": 403, "message": f"unpinned: {loose}"}}
        return {"allowed": True}

    rules = ({"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
              "resources": ["pods"]},)  # fmt: skip
    cluster = Cluster(
        nodes=1, validating_webhooks=[Webhook("pinned.example.com", pinned, rules=rules)]
    )
    with pytest.raises(StatusError) as err:
        cluster.apply(_pod("loose", "nginx"))
    assert err.value.kubectl() == (
        'Error from server: admission webhook "pinned.example.com" denied the request: '
        "unpinned: ['nginx']"
    )
    assert cluster.apply(_pod("pinned", "nginx:1.25")) == "pod/pinned created"


@pytest.mark.parametrize(("anonymous", "code"), [(True, 403), (False, 401)])
def test_anonymous_requests_are_forbidden_or_unauthorized(anonymous, code):
    cluster = Cluster(nodes=1, anonymous_auth=anonymous)
    with pytest.raises(StatusError) as err:
        cluster.as_anonymous().request("GET", "/api/v1/namespaces/default/pods")
    assert err.value.code == code


def test_can_i_asks_the_clusters_own_authorizers():
    cluster = Cluster(nodes=1)
    assert cluster.can_i("kubernetes-admin", "delete", "nodes", groups=["system:masters"])
    assert not cluster.can_i("jane", "list", "pods")
    cluster.apply(
        [
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
             "metadata": {"name": "reader"},
             "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
             "metadata": {"name": "jane-reads"},
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
             "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "jane"}]},
        ]
    )  # fmt: skip
    assert cluster.can_i("jane", "list", "pods")
    assert not cluster.can_i("jane", "list", "pods", namespace="kube-system")
    assert not cluster.can_i("jane", "delete", "pods", "web")
    assert cluster.can_i("system:node:node-1", "get", "nodes", "node-1", namespace="",
                         groups=["system:nodes"])  # fmt: skip


def test_the_seeds_kubelet_configuration_reserves_what_the_article_says():
    from kube_teach.manifests import manifest

    cluster = Cluster(nodes=1, kubelet_config=manifest("kubelet-reserved-config"))
    cluster.run(15)
    allocatable = cluster.get("node", "node-1")["status"]["allocatable"]
    # 16Gi - 1Gi system - 1Gi kube - 500Mi hard eviction = 13.5Gi; 4 CPUs - 1 - 1
    assert (allocatable["memory"], allocatable["cpu"]) == ("13836Mi", "2")


def test_a_kubelet_configuration_field_the_kubelet_does_not_know_is_logged_not_fatal():
    from kube_teach.manifests import manifest

    cluster = Cluster(nodes=1, kubelet_config=manifest("kubelet-config"))
    assert [e.fields["field"] for e in cluster.trace.where(event="config-unknown-field")] == [
        "containerRuntime"
    ]
    with pytest.raises(ValueError, match="maxPods"):
        Cluster(nodes=1, kubelet_config={"maxPods": 0})


def test_api_priority_and_fairness_can_replace_the_in_flight_pools():
    cluster = Cluster(nodes=1, flow_control="APF", max_requests_inflight=10,
                      max_mutating_requests_inflight=5)  # fmt: skip
    assert type(cluster.apiserver.flow_control).__name__ == "APF"
    cluster.apply(WEB)
    cluster.run(20)
    assert len(cluster.list("pods")) == 3
    with pytest.raises(ValueError, match="flow_control"):
        Cluster(nodes=1, flow_control="fifo")


def test_apply_is_a_three_way_merge_that_leaves_an_hpas_replicas_alone():
    cluster = Cluster(nodes=1)
    cluster.apply(WEB)  # replicas: 3 in the manifest and the last-applied annotation
    scale = "/apis/apps/v1/namespaces/default/deployments/web/scale"
    cluster.request("PUT", scale, {"spec": {"replicas": 5}})  # what an HPA writes
    assert cluster.apply(WEB) == "deployment.apps/web configured"  # the manifest wins: 3
    assert cluster.get("deployment", "web")["spec"]["replicas"] == 3
    without = WEB.replace("  replicas: 3\n", "")
    cluster.apply(without)  # the last apply set it, this one drops it: deleted, defaulted to 1
    assert cluster.get("deployment", "web")["spec"]["replicas"] == 1
    cluster.request("PUT", scale, {"spec": {"replicas": 5}})
    assert cluster.apply(without) == "deployment.apps/web unchanged"  # nobody applied it: kept
    assert cluster.get("deployment", "web")["spec"]["replicas"] == 5
