"""pods/eviction and <workload>/scale through the API server, with upstream's answers."""

from __future__ import annotations

import pytest

from kube_teach import Cluster
from kube_teach.api.errors import StatusError
from kube_teach.api.kinds import KINDS

PODS, PDBS = KINDS["Pod"], KINDS["PodDisruptionBudget"]
WEB = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx:1.25}]
"""
SCALE = "/apis/apps/v1/namespaces/default/deployments/web/scale"


def pdb(name: str, **spec) -> dict:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec}}  # fmt: skip


def eviction(cluster: Cluster, pod: str) -> dict:
    body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": pod}}
    return cluster.request("POST", f"/api/v1/namespaces/default/pods/{pod}/eviction", body)


@pytest.fixture
def web():
    cluster = Cluster(nodes=2, seed=3)
    cluster.apply(WEB)
    cluster.run(20)
    return cluster


def test_an_eviction_that_would_break_the_budget_is_429_with_the_cause(web):
    web.apply(pdb("web-pdb", minAvailable=3))
    web.run(5)
    pod = web.list("pods")[0].name
    with pytest.raises(StatusError) as err:
        eviction(web, pod)
    assert (err.value.code, err.value.reason) == (429, "TooManyRequests")
    assert err.value.kubectl() == (
        "Error from server (TooManyRequests): Cannot evict pod as it would violate the pod's "
        "disruption budget."
    )
    assert err.value.details["causes"] == [{"reason": "DisruptionBudget",
        "message": "The disruption budget web-pdb needs 3 healthy pods and has 3 currently"}]  # fmt: skip
    assert not web.get("pod", pod).metadata.get("deletionTimestamp")


def test_an_allowed_eviction_charges_the_budget_and_deletes_the_pod_gracefully(web):
    web.apply(pdb("web-pdb", maxUnavailable=1))
    web.run(5)
    assert web.store.get(PDBS, "web-pdb", "default")["status"]["disruptionsAllowed"] == 1
    pod, other = (p.name for p in web.list("pods")[:2])
    assert eviction(web, pod) == {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                  "status": "Success", "code": 201}  # fmt: skip
    status = web.store.get(PDBS, "web-pdb", "default")["status"]
    assert status["disruptionsAllowed"] == 0 and pod in status["disruptedPods"]
    assert web.store.get(PODS, pod, "default").metadata["deletionGracePeriodSeconds"] == 30
    with pytest.raises(StatusError) as err:  # the budget is spent until the pod is replaced
        eviction(web, other)
    assert err.value.code == 429


def test_a_pod_under_two_budgets_cannot_be_evicted(web):
    web.apply([pdb("a", maxUnavailable=1), pdb("b", maxUnavailable=1)])
    web.run(5)
    with pytest.raises(StatusError) as err:
        eviction(web, web.list("pods")[0].name)
    assert err.value.code == 500 and err.value.reason == "InternalError"
    assert str(err.value) == (
        "Internal error occurred: This pod has more than one PodDisruptionBudget, which the "
        "eviction subresource does not support."
    )


def test_without_a_budget_the_pod_is_just_deleted(web):
    pod = web.list("pods")[0].name
    assert eviction(web, pod)["status"] == "Success"
    web.run(40)
    assert pod not in {p.name for p in web.list("pods")} and len(web.list("pods")) == 3


def test_scale_reads_and_writes_spec_replicas(web):
    scale = web.request("GET", SCALE)
    assert (scale["kind"], scale["apiVersion"]) == ("Scale", "autoscaling/v1")
    assert scale["spec"] == {"replicas": 3}
    assert scale["status"] == {"replicas": 3, "selector": "app=web"}
    out = web.request("PUT", SCALE, {"spec": {"replicas": 5}})
    assert out["spec"]["replicas"] == 5
    assert web.get("deployment", "web")["spec"]["replicas"] == 5
    web.run(10)
    assert len(web.list("pods")) == 5
    patched = web.request("PATCH", SCALE, {"spec": {"replicas": 2}})
    assert patched["spec"]["replicas"] == 2


@pytest.mark.parametrize(
    ("method", "path", "body", "code", "message"),
    [
        ("PUT", SCALE, {"spec": {"replicas": -1}}, 422,
         'Scale.autoscaling "web" is invalid: spec.replicas: Invalid value: -1: must be greater '
         "than or equal to 0"),
        ("PUT", SCALE, {"metadata": {"resourceVersion": "1"}, "spec": {"replicas": 2}}, 409,
         'Operation cannot be fulfilled on deployments.apps "web": the object has been modified; '
         "please apply your changes to the latest version and try again"),
        ("GET", "/api/v1/namespaces/default/configmaps/x/scale", None, 404,
         "the server could not find the requested resource"),
    ],
)  # fmt: skip
def test_bad_scale_requests(web, method, path, body, code, message):
    with pytest.raises(StatusError) as err:
        web.request(method, path, body)
    assert (err.value.code, str(err.value)) == (code, message)
