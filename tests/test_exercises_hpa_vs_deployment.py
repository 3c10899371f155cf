"""Chapter 11's exercises: right answers pass, wrong ones get a hint naming the case, stubs say
"not yet", and the apply rule agrees with the cluster where the cluster models it."""

import pytest

from kube_teach import Cluster
from kube_teach.grading import check
from kube_teach.grading.exercises_hpa_vs_deployment import APP, replicas_after_apply

FIXED = APP.replace("  replicas: 3\n", "")


def stub(*args):
    raise NotImplementedError


def manifest_wins(last, manifest, live):  # forgets that a dropped field is deleted
    return manifest if manifest is not None else live


def keeps_old(last, manifest, live):  # thinks the old applied value comes back
    if manifest is not None:
        return manifest
    return last if last is not None else live


@pytest.mark.parametrize(
    ("answer", "passed", "says"),
    [
        (replicas_after_apply, True, ""),
        (manifest_wins, False, "deleted, then defaulted"),
        (keeps_old, False, "returned 3, but apply gives 1"),
        (lambda last, manifest, live: 1, False, "the pipeline re-applies replicas: 3"),
        (lambda last, manifest, live: "3", False, "return the number of replicas"),
        (stub, False, "the manifest's value if it has one"),
        (3, False, "pass the function itself"),
    ],
)
def test_after_apply_grader(answer, passed, says):
    result = check("11-after-apply", answer)
    assert result.passed is passed
    assert says in result.message


def test_the_cluster_deletes_a_field_the_last_apply_set():
    cluster = Cluster(nodes=1, seed=0, etcd_members=0)
    cluster.apply(APP.replace("replicas: 3", "replicas: 4"))
    cluster.run(1)
    assert cluster.get("deployment", "app")["spec"]["replicas"] == replicas_after_apply(None, 4, 0)
    cluster.apply(FIXED)
    assert cluster.get("deployment", "app")["spec"]["replicas"] == replicas_after_apply(4, None, 4)


@pytest.mark.parametrize(
    ("answer", "passed", "says"),
    [
        (FIXED, True, ""),
        (APP, False, "spec.replicas is still there"),
        (
            FIXED.replace("        resources:\n          requests:\n            cpu: 250m\n", ""),
            False,
            "keep the CPU request",
        ),  # fmt: skip
        (FIXED.replace("name: app\n", "name: web\n", 1), False, "keep that name"),
        (FIXED.replace("app: app", "app: other", 1), False, "would refuse it"),
        (FIXED + "---\n" + FIXED, False, "exactly one object"),
        ("kind: [", False, "not a manifest"),
        (42, False, "YAML text"),
        (None, False, "without its `replicas: 3` line"),
    ],
)
def test_fixed_manifest_grader(answer, passed, says):
    result = check("11-fixed-manifest", answer)
    assert result.passed is passed
    assert says in result.message
