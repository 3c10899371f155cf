"""Chapter 02's exercises: right answers pass, wrong ones get a hint naming the case, stubs say
"not yet", and every stage case is what the API server really does."""

import pytest

from kube_teach import Cluster
from kube_teach.grading import check
from kube_teach.grading.exercises_apiserver import ACCEPTED, STAGE_CASES, STAGE_NAMES
from kube_teach.viz.request_path import STAGES, follow, pod_path

ROLE = """
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader, namespace: default}
rules:
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
"""
POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
       "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}  # fmt: skip
CM = "/api/v1/namespaces/default/configmaps"


@pytest.mark.parametrize(
    ("answer", "passed", "says"),
    [
        pytest.param(ROLE, True, "", id="get, list, watch on pods"),
        pytest.param(ROLE.replace("watch]", "watch, delete]"), False,
                     "the Role lets jane delete pods", id="a write verb"),
        pytest.param(ROLE.replace("[get, list, watch]", '["*"]'), False, "jane *", id="every verb"),
        pytest.param(ROLE.replace(", watch", ""), False, "jane cannot watch pods", id="no watch"),
        pytest.param(ROLE.replace("[pods]", "[pods, secrets]"), False,
                     "GET /api/v1/namespaces/default/secrets was allowed", id="secrets too"),
        pytest.param(ROLE.replace("kind: Role", "kind: ClusterRole"), False, "that is a ClusterRole",
                     id="a ClusterRole"),
        pytest.param(ROLE.replace("[get", "[gett"), False, "jane cannot get", id="a typo"),
        pytest.param(ROLE.replace("  verbs: [get, list, watch]\n", ""), False,
                     "the API server rejected it", id="no verbs: invalid"),
        pytest.param("kind: [", False, "kubectl cannot read it", id="not YAML"),
        pytest.param(..., False, "write the YAML of a Role", id="stub"),
    ],
)  # fmt: skip
def test_read_only_role(answer, passed, says):
    result = check("02-read-only-role", answer)
    assert result.passed is passed, result.message
    assert says in result.message


RIGHT = {k: stage for k, (_, stage, _) in STAGE_CASES.items()}


@pytest.mark.parametrize(
    ("answer", "passed", "says"),
    [
        (RIGHT, True, ""),
        ({**RIGHT, "c": "validation"}, False, "case c (kubernetes-admin creates a pod in namespace "
         "ghost, which does not exist) is not stopped at validation: look again at what mutating "
         "admission checks."),
        ({**RIGHT, "h": "etcd"}, False, "case h (kubernetes-admin reads a pod that exists) is not "
         "rejected at all"),
        ({**RIGHT, "a": "Authentication "}, True, ""),
        ({**RIGHT, "g": "rate limiting"}, False, "'rate limiting' is not a stage"),
        ({**RIGHT, "z": "etcd"}, False, "there is no case 'z'"),
        ({"a": "authentication"}, False, "no answer yet for case(s) b, c, d, e, f, g, h"),
        ({k: ... for k in RIGHT}, False, "fill in the dict"),
        ("authentication", False, "answer with a dict"),
    ],
)  # fmt: skip
def test_which_stage(answer, passed, says):
    result = check("02-which-stage", answer)
    assert result.passed is passed, result.message
    assert says in result.message


def test_the_stage_names_are_the_request_paths():
    assert STAGE_NAMES == STAGES


def _case_paths():
    """Each case of 02-which-stage, sent for real and followed through the server."""
    c = Cluster(nodes=0, seed=0, controllers=[], scheduler=False)
    c.apply(POD)
    c.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "locked", "labels": {
        "pod-security.kubernetes.io/enforce": "restricted"}}})  # fmt: skip
    c.apply({"apiVersion": "v1", "kind": "ServiceAccount",
             "metadata": {"name": "default", "namespace": "locked"}})  # fmt: skip
    c.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}})
    stale = c.get("configmap", "settings")
    c.request("PUT", f"{CM}/settings", {**stale, "data": {"a": "1"}})
    privileged = {**POD, "spec": {"containers": [{"name": "web", "image": "nginx:1.27",
                                                  "securityContext": {"privileged": True}}]}}  # fmt: skip
    jane = {"cert": {"cn": "jane", "o": ["dev"]}}
    out = {
        "a": follow(c, "GET", pod_path(), credentials={"cert": {"cn": "x", "issuer": "evil-ca"}}),
        "b": follow(c, "GET", "/api/v1/namespaces/default/secrets", credentials=jane),
        "c": follow(c, "POST", pod_path("ghost"), POD),
        "d": follow(c, "POST", pod_path(), {**POD, "metadata": {"name": "Web_1"}}),
        "e": follow(c, "POST", pod_path("locked"), privileged),
        "f": follow(c, "PUT", f"{CM}/settings", {**stale, "data": {"b": "2"}}),
        "h": follow(c, "GET", pod_path(name="web")),
    }
    # g: the one mutating seat is taken by a create that arrives first
    c.apiserver.flow_control.limits = {False: 1, True: 1}
    other = c.network.add_host("other")
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "first"}}
    from kube_teach.api.rest import Request

    other.send("apiserver", Request(1, "POST", CM, cm, {"cert": {"cn": "ci-deployer"}}))
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "second"}}
    out["g"] = follow(c, "POST", CM, body, credentials={"cert": {"cn": "ci-deployer"}})
    return out


def test_every_stage_case_is_what_the_server_does():
    paths = _case_paths()
    assert sorted(paths) == sorted(STAGE_CASES)
    for key, (_, stage, _) in STAGE_CASES.items():
        got = paths[key].rejected_by or ACCEPTED
        assert got == stage, f"case {key}: {paths[key].text()}"
    assert paths["f"].code == 409 and paths["f"].reason == "Conflict"
    assert "PodSecurity" in paths["e"].stage("validating admission").summary
    assert paths["g"].code == 429
