"""The disruption-controller in a ControllerManager: PodDisruptionBudget status as the API shows
it, for a Deployment's pods, with upstream's rounding, reasons and events."""

from __future__ import annotations

import pytest

from kube_teach.api.kinds import KINDS

from .test_hosts import World
from .test_hpa_controller import HPAWorld, deployment

PODS, PDBS = KINDS["Pod"], KINDS["PodDisruptionBudget"]


def pdb(**spec) -> dict:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec}}  # fmt: skip


def world(replicas: int = 3, **spec) -> HPAWorld:
    w = HPAWorld()
    w.store.create(deployment(replicas))
    w.run(5)
    w.store.create(pdb(**spec))
    w.run(2)
    return w


def budget(w: HPAWorld) -> dict:
    return w.store.get(PDBS, "web", "default")["status"]


def summary(w: HPAWorld) -> tuple:
    s = budget(w)
    (c,) = s["conditions"]
    return (s["expectedPods"], s["desiredHealthy"], s["currentHealthy"], s["disruptionsAllowed"],
            c["reason"])  # fmt: skip


@pytest.mark.parametrize(
    ("replicas", "spec", "want"),
    [
        pytest.param(3, {"minAvailable": 2}, (3, 2, 3, 1, "SufficientPods"), id="minAvailable 2 of 3 allows 1"),
        pytest.param(3, {"minAvailable": 3}, (3, 3, 3, 0, "InsufficientPods"), id="minAvailable 3 of 3 allows none"),
        pytest.param(3, {"minAvailable": "50%"}, (3, 2, 3, 1, "SufficientPods"), id="minAvailable 50% of 3 rounds up to 2"),
        pytest.param(3, {"maxUnavailable": "50%"}, (3, 1, 3, 2, "SufficientPods"), id="maxUnavailable 50% of 3 rounds up to 2"),
        pytest.param(4, {"maxUnavailable": 1}, (4, 3, 4, 1, "SufficientPods"), id="maxUnavailable 1 of 4"),
        pytest.param(10, {"maxUnavailable": "25%"}, (10, 7, 10, 3, "SufficientPods"), id="maxUnavailable 25% of 10 rounds up to 3"),
    ],
)  # fmt: skip
def test_budget_status_for_a_deployment(replicas, spec, want):
    assert summary(world(replicas, **spec)) == want


def test_status_fields_and_condition_as_the_api_shows_them():
    w = world(3, minAvailable=2)
    s = budget(w)
    assert s["observedGeneration"] == 1
    (c,) = s["conditions"]
    assert {k: c[k] for k in ("type", "status", "reason", "message", "observedGeneration")} == {
        "type": "DisruptionAllowed", "status": "True", "reason": "SufficientPods", "message": "",
        "observedGeneration": 1}  # fmt: skip


def test_a_pod_turning_not_ready_takes_the_allowance_away():
    w = world(3, minAvailable=2)
    victim = w.pods()[0]
    victim["status"]["conditions"][0]["status"] = "False"
    w.store.update(victim, subresource="status")
    w.run(2)
    assert summary(w) == (3, 2, 2, 0, "InsufficientPods")
    assert [c["status"] for c in budget(w)["conditions"]] == ["False"]


def test_expected_pods_follow_the_deployment_not_the_pods_for_a_percentage():
    """A scaled-up Deployment whose new pods are not yet there: the scale counts."""
    w = world(3, maxUnavailable="50%")
    deploy = w.store.get(KINDS["Deployment"], "web", "default")
    deploy["spec"]["replicas"] = 6
    w.store.update(deploy)
    w.run(10)
    assert summary(w) == (6, 3, 6, 3, "SufficientPods")


def test_a_deployment_in_mid_rollout_counts_once():
    """Old and new ReplicaSets both stand for the Deployment: expectedPods is its 3, not 6."""
    w = World()  # no kubelet: the new pod never becomes Ready, the rollout waits
    d = deployment(3)
    d["spec"]["strategy"] = {"type": "RollingUpdate",
                             "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}  # fmt: skip
    w.store.create(d)
    w.run(5)
    for p in w.pods():
        w.set_ready(p)
    w.store.create(pdb(maxUnavailable=1))
    d = w.store.get(KINDS["Deployment"], "web", "default")
    d["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.28"
    w.store.update(d)
    w.run(5)
    assert len(w.store.list(KINDS["ReplicaSet"], "default")) == 2 and len(w.pods()) == 4
    assert summary(w) == (3, 2, 3, 1, "SufficientPods")


def test_the_scale_is_the_deployments_even_when_its_replicaset_lags():
    """A Deployment at 5 whose ReplicaSet still says 3 (no deployment controller running)."""
    w = World(controllers=["disruption-controller"])
    d = w.store.create({**deployment(5), "metadata": {"name": "web", "namespace": "default"}})
    owner = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": d.uid,
             "controller": True}  # fmt: skip
    rs = w.store.create({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                         "metadata": {"name": "web-1", "namespace": "default",
                                      "ownerReferences": [owner]},
                         "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                                  "template": deployment()["spec"]["template"]}})  # fmt: skip
    for i in range(3):
        ref = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "uid": rs.uid,
               "controller": True}  # fmt: skip
        p = w.store.create({"apiVersion": "v1", "kind": "Pod",
                            "metadata": {"name": f"web-1-{i}", "namespace": "default",
                                         "labels": {"app": "web"}, "ownerReferences": [ref]},
                            "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}})  # fmt: skip
        w.set_ready(p)
    w.store.create(pdb(maxUnavailable=1))
    w.run(2)
    assert summary(w) == (5, 4, 3, 0, "InsufficientPods")


def test_a_budget_without_pods_says_so():
    w = HPAWorld()
    w.store.create(pdb(minAvailable=1))
    w.run(2)
    assert summary(w) == (0, 1, 0, 0, "InsufficientPods")
    assert [e["message"] for e in w.events("NoPods")] == ["No matching pods found"]


def test_a_pod_of_an_unknown_controller_makes_a_percentage_budget_fail_safe():
    w = HPAWorld(controllers=["disruption-controller"])  # no garbage collector to remove it
    w.store.create({"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": "stray", "namespace": "default", "labels": {"app": "web"},
                                 "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                                      "name": "gone", "uid": "0000", "controller": True}]},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}})  # fmt: skip
    w.store.create(pdb(maxUnavailable="10%"))
    w.run(2)
    s = budget(w)
    assert s["disruptionsAllowed"] == 0
    (c,) = s["conditions"]
    assert (c["status"], c["reason"], c["message"]) == (
        "False",
        "SyncFailed",
        'found no controllers for pod "stray"',
    )
    assert [e["message"] for e in w.events("CalculateExpectedPodCountFailed")] == [
        'Failed to calculate the number of expected pods: found no controllers for pod "stray"'
    ]
