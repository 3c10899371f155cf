"""ResourceQuota admission: usage accounting and upstream's refusal texts."""

import pytest

from kube_teach.api.errors import StatusError
from kube_teach.apiserver.admission import AdmissionContext, AdmissionRequest, ObjectIndex
from kube_teach.apiserver.admission_quota import (
    ResourceQuota,
    check_request,
    pod_requests,
    pod_usage,
    quota_status,
)


def quota(name, hard, used=None, **spec):
    q = {
        "kind": "ResourceQuota",
        "metadata": {"name": name, "namespace": "team"},
        "spec": {"hard": hard, **spec},
    }
    q["status"] = {"hard": hard, "used": used if used is not None else {k: "0" for k in hard}}
    return q


def pod(name="p", **resources):
    c = {"name": "app", "image": "x"}
    if resources:
        c["resources"] = resources
    return {
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "team"},
        "spec": {"containers": [c]},
    }


def create(obj, resource="pods", group=""):
    return AdmissionRequest("CREATE", obj["kind"], resource, obj, namespace="team", group=group)


def test_usage_is_charged():
    q = quota("compute", {"requests.cpu": "1", "pods": "5"}, {"requests.cpu": "200m", "pods": "1"})
    out = check_request([q], create(pod(requests={"cpu": "300m"})))
    assert out[0]["status"]["used"] == {"requests.cpu": "500m", "pods": "2"}


@pytest.mark.parametrize(
    ("q", "obj", "message"),
    [
        pytest.param(quota("compute", {"requests.cpu": "1"}, {"requests.cpu": "800m"}), pod(requests={"cpu": "500m"}),
                     'pods "p" is forbidden: exceeded quota: compute, requested: requests.cpu=500m, used: requests.cpu=800m, limited: requests.cpu=1',
                     id="exceeded"),
        pytest.param(quota("count", {"pods": "2"}, {"pods": "2"}), pod(),
                     'pods "p" is forbidden: exceeded quota: count, requested: pods=1, used: pods=2, limited: pods=2', id="pod count"),
        pytest.param(quota("compute", {"limits.cpu": "2", "limits.memory": "1Gi"}), pod(),
                     'pods "p" is forbidden: failed quota: compute: must specify limits.cpu for: app; limits.memory for: app',
                     id="must specify"),
        pytest.param(quota("cm", {"count/configmaps": "1"}, {"count/configmaps": "1"}),
                     {"kind": "ConfigMap", "metadata": {"name": "c", "namespace": "team"}},
                     'configmaps "c" is forbidden: exceeded quota: cm, requested: count/configmaps=1, used: count/configmaps=1, '
                     "limited: count/configmaps=1", id="object count"),
        pytest.param({**quota("compute", {"requests.cpu": "1"}), "status": {"hard": {"requests.cpu": "1"}}}, pod(requests={"cpu": "1m"}),
                     'pods "p" is forbidden: status unknown for quota: compute, resources: requests.cpu', id="status not computed yet"),
    ],
)  # fmt: skip
def test_refusals(q, obj, message):
    resource = obj["kind"].lower() + "s"
    with pytest.raises(StatusError) as err:
        check_request([q], create(obj, resource))
    assert (err.value.code, err.value.message) == (403, message)


def test_must_specify_lists_containers_per_resource():
    p = pod()
    p["spec"]["containers"].append(
        {"name": "sidecar", "image": "y", "resources": {"limits": {"cpu": "1"}}}
    )
    with pytest.raises(StatusError) as err:
        check_request([quota("compute", {"limits.cpu": "4", "limits.memory": "4Gi"})], create(p))
    assert err.value.message.endswith(
        "must specify limits.cpu for: app; limits.memory for: app,sidecar"
    )


def test_scopes_select_pods():
    best_effort = quota("be", {"pods": "0"}, scopes=["BestEffort"])
    check_request(
        [best_effort], create(pod(requests={"cpu": "100m"}))
    )  # not best effort: the quota ignores it
    with pytest.raises(StatusError):
        check_request([best_effort], create(pod()))


def test_priority_class_scope_selector():
    q = quota(
        "crit",
        {"pods": "0"},
        scopeSelector={
            "matchExpressions": [
                {"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}
            ]
        },
    )
    check_request([q], create(pod()))
    p = pod()
    p["spec"]["priorityClassName"] = "high"
    with pytest.raises(StatusError):
        check_request([q], create(p))


def test_init_containers_and_sidecars_in_requests():
    p = pod(requests={"cpu": "100m"})
    p["spec"]["initContainers"] = [
        {"name": "setup", "resources": {"requests": {"cpu": "500m"}}},
        {"name": "proxy", "restartPolicy": "Always", "resources": {"requests": {"cpu": "50m"}}},
    ]
    assert str(pod_requests(p)["cpu"]) == "500m"
    p["spec"]["initContainers"].reverse()
    assert str(pod_requests(p)["cpu"]) == "550m"


def test_terminal_pods_only_count():
    p = pod(requests={"cpu": "1"})
    p["status"] = {"phase": "Succeeded"}
    assert {k: str(v) for k, v in pod_usage(p).items()} == {"count/pods": "1"}


def test_controller_status_and_plugin():
    existing = [pod("a", requests={"cpu": "300m"}), pod("b", requests={"cpu": "300m"})]
    q = quota_status({"kind": "ResourceQuota", "metadata": {"name": "compute", "namespace": "team"},
                      "spec": {"hard": {"requests.cpu": "1", "pods": "10"}}}, existing)  # fmt: skip
    assert q["status"]["used"] == {"pods": "2", "requests.cpu": "600m"}
    ctx = AdmissionContext(store=ObjectIndex([q]))
    ResourceQuota().validate(create(pod("c", requests={"cpu": "400m"})), ctx)
    assert ctx.quota_updates[0]["status"]["used"] == {"pods": "3", "requests.cpu": "1"}
    with pytest.raises(StatusError):
        ResourceQuota().validate(
            create(pod("d", requests={"cpu": "500m"})),
            AdmissionContext(store=ObjectIndex([ctx.quota_updates[0]])),
        )
