"""Admission through the whole request path: what a learner's pod gets, what is refused, in
which order the stages refuse, and the admission flags of kube-apiserver."""

import pytest

from kube_teach import Cluster
from kube_teach.api.errors import StatusError
from kube_teach.api.kinds import KINDS
from kube_teach.apiserver.admission import StartupError
from kube_teach.apiserver.admission_quota import quota_status

PODS = "/api/v1/namespaces/default/pods"
BAD_NAME = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)


def small(**kw):
    return Cluster(nodes=0, controllers=[], scheduler=False, **kw)


def pod(name, container=None, **spec):
    c = {"name": "c", "image": "nginx:1.27", **(container or {})}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [c], **spec}}  # fmt: skip


def error(view, method, path, body=None):
    with pytest.raises(StatusError) as info:
        view.request(method, path, body)
    return info.value.code, info.value.reason, info.value.message


def test_a_learner_pod_gets_upstreams_admission_defaults():
    cluster = small()
    cluster.apply(pod("web"))
    spec = cluster.get("pod", "web")["spec"]
    assert spec["tolerations"] == [
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 300},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 300},
    ]  # fmt: skip
    assert spec["serviceAccountName"] == "default"
    assert spec["priority"] == 0
    # the ServiceAccount plugin also mounts the projected API token volume
    mounts = spec["containers"][0]["volumeMounts"]
    assert [m["mountPath"] for m in mounts] == ["/var/run/secrets/kubernetes.io/serviceaccount"]


def test_a_pod_that_tolerates_not_ready_keeps_its_own_toleration():
    cluster = small()
    mine = {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
            "tolerationSeconds": 60}  # fmt: skip
    cluster.apply(pod("web", tolerations=[mine]))
    tolerations = cluster.get("pod", "web")["spec"]["tolerations"]
    assert [t.get("tolerationSeconds") for t in tolerations] == [60, 300]
    assert tolerations[1]["key"] == "node.kubernetes.io/unreachable"


@pytest.mark.parametrize(
    ("namespace", "body", "want"),
    [
        ("default", pod("p", priorityClassName="gold"),
         (403, "Forbidden", 'pods "p" is forbidden: no PriorityClass with name gold was found')),
        ("nope", pod("p"), (404, "NotFound", 'namespaces "nope" not found')),
        ("nope", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}},
         (404, "NotFound", 'namespaces "nope" not found')),
    ],
)  # fmt: skip
def test_refused_by_admission_with_upstreams_text(namespace, body, want):
    cluster = small()
    resource = "pods" if body["kind"] == "Pod" else "configmaps"
    assert error(cluster, "POST", f"/api/v1/namespaces/{namespace}/{resource}", body) == want


def test_a_priority_class_resolves_to_its_value():
    cluster = small()
    cluster.apply({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                   "metadata": {"name": "gold"}, "value": 1000})  # fmt: skip
    cluster.apply(pod("p", priorityClassName="gold"))
    spec = cluster.get("pod", "p")["spec"]
    assert (spec["priority"], spec["preemptionPolicy"]) == (1000, "PreemptLowerPriority")


def _quota_zero_pods(cluster):
    cluster.apply({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q"},
                   "spec": {"hard": {"pods": "0"}}})  # fmt: skip
    quota = cluster.store.get(KINDS["ResourceQuota"], "q", "default")
    cluster.store.update(quota_status(quota, []), subresource="status")  # the controller's sync


INVALID = {"name": "C_"}  # validation: 422
UNDECODABLE = {"ports": "eighty"}  # decoding: 400


@pytest.mark.parametrize(
    ("user", "container", "spec", "want"),
    [
        # authorization first: a forbidden user never gets the body looked at
        ("jane", UNDECODABLE, {"priorityClassName": "gold"},
         (403, "Forbidden", 'pods is forbidden: User "jane" cannot create resource "pods" in '
                            'API group "" in the namespace "default"')),
        # then decoding: 400 before any admission plugin
        ("admin", UNDECODABLE, {"priorityClassName": "gold"},
         (400, "BadRequest", 'Pod in version "v1" cannot be handled as a Pod: json: cannot '
                             "unmarshal string into Go struct field Container.spec.containers."
                             "ports of type []v1.ContainerPort")),
        # then mutating admission (Priority resolves the class in Admit) before validation
        ("admin", INVALID, {"priorityClassName": "gold"},
         (403, "Forbidden", 'pods "p" is forbidden: no PriorityClass with name gold was found')),
        # then validation, before validating admission (ResourceQuota)
        ("admin", INVALID, {},
         (422, "Invalid", f'Pod "p" is invalid: spec.containers[0].name: Invalid value: "C_": '
                          f"{BAD_NAME}")),
        # and last the quota
        ("admin", {}, {},
         (403, "Forbidden", 'pods "p" is forbidden: exceeded quota: q, requested: pods=1, '
                            "used: pods=0, limited: pods=0")),
    ],
)  # fmt: skip
def test_which_stage_refuses_first(user, container, spec, want):
    """Each body is also refused by the later stages it would reach: the earliest answers."""
    cluster = small()
    _quota_zero_pods(cluster)
    view = cluster if user == "admin" else cluster.as_user(user)
    assert error(view, "POST", PODS, pod("p", container, **spec)) == want
    assert not cluster.store.exists(KINDS["Pod"], "p", "default")


PRIVILEGED = {"securityContext": {"privileged": True}}


@pytest.mark.parametrize(
    ("labels", "container", "want"),
    [
        ({"pod-security.kubernetes.io/enforce": "baseline"}, PRIVILEGED,
         'pods "p" is forbidden: violates PodSecurity "baseline:latest": privileged (container '
         '"c" must not set securityContext.privileged=true)'),
        ({"pod-security.kubernetes.io/enforce": "baseline",
          "pod-security.kubernetes.io/enforce-version": "v1.30"}, PRIVILEGED,
         'pods "p" is forbidden: violates PodSecurity "baseline:v1.30": privileged (container '
         '"c" must not set securityContext.privileged=true)'),
        ({"pod-security.kubernetes.io/enforce": "privileged"}, PRIVILEGED, None),
        ({"pod-security.kubernetes.io/warn": "baseline"}, PRIVILEGED, None),
        ({"pod-security.kubernetes.io/enforce": "baseline"}, {}, None),
    ],
)  # fmt: skip
def test_pod_security_enforce_label(labels, container, want):
    cluster = small()
    cluster.apply({"apiVersion": "v1", "kind": "Namespace",
                   "metadata": {"name": "locked", "labels": labels}})  # fmt: skip
    cluster.apply({"apiVersion": "v1", "kind": "ServiceAccount",
                   "metadata": {"name": "default", "namespace": "locked"}})  # fmt: skip
    path = "/api/v1/namespaces/locked/pods"
    if want is None:
        assert cluster.request("POST", path, pod("p", container))["metadata"]["name"] == "p"
    else:
        assert error(cluster, "POST", path, pod("p", container)) == (403, "Forbidden", want)


def test_a_namespace_without_its_default_service_account_refuses_pods():
    cluster = small()  # no serviceaccount controller to make `default`
    cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fresh"}})
    assert error(cluster, "POST", "/api/v1/namespaces/fresh/pods", pod("p")) == (
        403,
        "Forbidden",
        'pods "p" is forbidden: error looking up service account fresh/default: '
        'serviceaccount "default" not found',
    )


def test_disabling_plugins_turns_them_off():
    cluster = small(disable_admission_plugins=["DefaultTolerationSeconds", "ServiceAccount"])
    spec = cluster.request("POST", PODS, pod("p"))["spec"]
    assert "tolerations" not in spec
    assert "volumes" not in spec and "volumeMounts" not in spec["containers"][0]
    assert spec["priority"] == 0  # Priority is still on


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"enable_admission_plugins": ["PodSecurityPolicy"]},
         'enable-admission-plugins plugin "PodSecurityPolicy" is unknown'),
        ({"disable_admission_plugins": ["PodSecurityPolicy"]},
         'disable-admission-plugins plugin "PodSecurityPolicy" is unknown'),
        ({"enable_admission_plugins": ["AlwaysPullImages"],
          "disable_admission_plugins": ["AlwaysPullImages"]},
         "[AlwaysPullImages] in enable-admission-plugins and disable-admission-plugins "
         "overlapped"),
    ],
)  # fmt: skip
def test_admission_flags_a_v1_25_plus_server_refuses(kwargs, message):
    with pytest.raises(StartupError) as info:
        Cluster(nodes=0, controllers=[], scheduler=False, **kwargs)
    assert str(info.value) == message
    assert info.value.log_line() == '"command failed" err=' + _go_quoted(message)


def _go_quoted(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def test_always_pull_images_when_enabled():
    cluster = small(enable_admission_plugins=["AlwaysPullImages"])
    spec = cluster.request("POST", PODS, pod("p", {"imagePullPolicy": "IfNotPresent"}))["spec"]
    assert spec["containers"][0]["imagePullPolicy"] == "Always"
