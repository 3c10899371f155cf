"""`kubectl rollout undo / history / status` as pure functions, after kubectl's rollback.go and
history.go, and a rollback carried out by the Deployment controller against a real API server."""

from __future__ import annotations

import pytest

from kube_teach.api.kinds import KINDS
from kube_teach.controllers.rollout import (
    RollbackError,
    replica_set_for_revision,
    rollback,
    rollout_history,
    rollout_status,
)

from .test_hpa_controller import HPAWorld

DEPLOYS, RSS = KINDS["Deployment"], KINDS["ReplicaSet"]
REV = "deployment.kubernetes.io/revision"


def template(image: str, hash_: str | None = None) -> dict:
    labels = {"app": "web"} | ({"pod-template-hash": hash_} if hash_ else {})
    return {"metadata": {"labels": labels},
            "spec": {"containers": [{"name": "web", "image": image}]}}  # fmt: skip


def deploy(image: str = "nginx:1.27", **spec) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "uid": "d-uid",
                         "annotations": {REV: "3"}},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                     "template": template(image), **spec}}  # fmt: skip


def rs(rev: str | None, image: str, owner: str = "d-uid", **ann) -> dict:
    annotations = ({REV: rev} if rev is not None else {}) | ann
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": f"web-{image[-4:].replace('.', '')}", "namespace": "default",
                         "uid": f"rs-{image}", "annotations": annotations,
                         "ownerReferences": [{"kind": "Deployment", "name": "web", "uid": owner,
                                              "controller": True}]},
            "spec": {"replicas": 0, "template": template(image, "abc12")}}  # fmt: skip


HISTORY = [rs("1", "nginx:1.25"), rs("2", "nginx:1.26"), rs("3", "nginx:1.27")]


@pytest.mark.parametrize(
    ("to_revision", "image"),
    [
        pytest.param(0, "nginx:1.26", id="undo goes to the second-highest revision"),
        pytest.param(1, "nginx:1.25", id="--to-revision picks that revision"),
    ],
)
def test_replica_set_for_revision(to_revision, image):
    found = replica_set_for_revision(deploy(), HISTORY, to_revision)
    assert found["spec"]["template"]["spec"]["containers"][0]["image"] == image


@pytest.mark.parametrize(
    ("replicasets", "to_revision", "message"),
    [
        pytest.param(HISTORY, 7, "unable to find specified revision 7 in history", id="unknown revision"),
        pytest.param(HISTORY, -1, "unable to find specified revision -1 in history", id="negative revision"),
        pytest.param(HISTORY[2:], 0, 'no rollout history found for deployment "web"', id="one revision only"),
        pytest.param([rs("1", "nginx:1.25", owner="other"), HISTORY[2]], 0,
                     'no rollout history found for deployment "web"', id="ReplicaSets of others do not count"),
    ],
)  # fmt: skip
def test_rollback_errors_are_kubectls(replicasets, to_revision, message):
    with pytest.raises(RollbackError, match=f"^{message}$"):
        rollback(deploy(), replicasets, to_revision)


def test_a_paused_deployment_cannot_be_rolled_back():
    with pytest.raises(RollbackError, match="resume it first with 'kubectl rollout resume'"):
        rollback(deploy(paused=True), HISTORY)


def test_rollback_copies_the_template_without_its_hash_and_the_replicaset_annotations():
    old = rs("2", "nginx:1.26", **{"kubernetes.io/change-cause": "bump to 1.26"})
    result = rollback(deploy(), [HISTORY[0], old, HISTORY[2]])
    assert (result.revision, result.message) == (2, "rolled back")
    assert result.deployment["spec"]["template"] == template("nginx:1.26")
    assert result.deployment["metadata"]["annotations"] == {
        REV: "3",  # kept from the Deployment: kubectl skips the controller's annotations
        "kubernetes.io/change-cause": "bump to 1.26",
    }
    assert deploy()["spec"]["template"] == template("nginx:1.27")  # the input is not changed


def test_rolling_back_to_the_running_template_is_skipped():
    result = rollback(deploy("nginx:1.27"), HISTORY, 3)
    assert result.deployment is None
    assert result.message == "skipped rollback (current template already matches revision 3)"


def test_rollout_history_prints_kubectls_columns():
    old = rs("2", "nginx:1.26", **{"kubernetes.io/change-cause": "kubectl set image"})
    assert rollout_history(deploy(), [HISTORY[0], old, HISTORY[2]]) == (
        "deployment.apps/web \n"
        "REVISION  CHANGE-CAUSE\n"
        "1         <none>\n"
        "2         kubectl set image\n"
        "3         <none>\n\n"
    )


# -- against the controller --------------------------------------------------------------------
def owned(w: HPAWorld) -> list:
    return [dict(r) for r in w.store.list(RSS, "default")]


def test_undo_brings_back_the_old_replicaset_with_a_new_revision_and_history():
    w = HPAWorld()
    d = deploy()
    del d["metadata"]["uid"], d["metadata"]["annotations"]
    w.store.create(d)
    w.run(10)
    lines = []
    current = w.store.get(DEPLOYS, "web", "default")
    current["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.28"
    w.store.update(current)
    for _ in range(20):  # kubectl rollout status: a line each time the answer changes
        line = rollout_status(dict(w.store.get(DEPLOYS, "web", "default")))[0]
        if not lines or lines[-1] != line:
            lines.append(line)
        w.run(0.5)
    wait = 'Waiting for deployment "web" rollout to finish: '
    assert "".join(lines) == (  # 3 replicas at 25 %/25 %: surge 1, unavailable 0
        "Waiting for deployment spec update to be observed...\n"
        f"{wait}1 out of 3 new replicas have been updated...\n"
        f"{wait}2 out of 3 new replicas have been updated...\n"
        f"{wait}1 old replicas are pending termination...\n"
        'deployment "web" successfully rolled out\n'
    )
    first_rs = next(r for r in owned(w) if r["metadata"]["annotations"][REV] == "1")
    result = rollback(dict(w.store.get(DEPLOYS, "web", "default")), owned(w))
    assert (result.revision, result.message) == (1, "rolled back")
    w.store.update(result.deployment)
    w.run(10)
    back = w.store.get(RSS, first_rs["metadata"]["name"], "default")
    assert back["metadata"]["annotations"][REV] == "3"
    assert back["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"
    assert back["spec"]["replicas"] == 3
    assert len(owned(w)) == 2  # no third ReplicaSet: the old one is the new one again
    assert rollout_history(dict(w.store.get(DEPLOYS, "web", "default")), owned(w)) == (
        "deployment.apps/web \nREVISION  CHANGE-CAUSE\n2         <none>\n3         <none>\n\n"
    )
