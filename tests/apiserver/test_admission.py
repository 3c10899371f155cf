"""Admission: plugin order, each in-tree plugin's cases, webhooks, and the startup flag checks."""

import copy

import pytest

from kube_teach.api.errors import StatusError
from kube_teach.apiserver.admission import (
    ALL_ORDERED_PLUGINS,
    AdmissionChain,
    AdmissionContext,
    AdmissionRequest,
    ObjectIndex,
    StartupError,
    Webhook,
    apply_json_patch,
    enabled_plugins,
)
from kube_teach.apiserver.admission_plugins import (
    DefaultTolerationSeconds,
    LimitRanger,
    NamespaceLifecycle,
    NodeRestriction,
    Priority,
    ServiceAccount,
)
from kube_teach.apiserver.request import UserInfo

ALICE = UserInfo.named("alice")


def ns(name, phase="Active", labels=None):
    return {
        "kind": "Namespace",
        "metadata": {"name": name, "labels": labels or {}},
        "status": {"phase": phase},
    }


def pod(name="web", namespace="default", **spec):
    spec.setdefault("containers", [{"name": "c", "image": "nginx"}])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def create(obj, user=ALICE, namespace=None):
    meta = obj.get("metadata", {})
    return AdmissionRequest("CREATE", obj["kind"], obj["kind"].lower() + "s", obj,
                            namespace=namespace if namespace is not None else meta.get("namespace", ""), user=user)  # fmt: skip


def ctx(*objects):
    return AdmissionContext(store=ObjectIndex([ns("default"), *objects]))


def refused(plugin_call, req, c):
    with pytest.raises(StatusError) as err:
        plugin_call(req, c)
    return err.value


# -- order and flags -----------------------------------------------------------------------------


def test_default_plugins_run_in_upstream_order():
    names = enabled_plugins()
    assert names[:7] == ["NamespaceLifecycle", "LimitRanger", "ServiceAccount", "TaintNodesByCondition", "PodSecurity", "Priority",
                         "DefaultTolerationSeconds"]  # fmt: skip
    assert names[-3:] == [
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionWebhook",
        "ResourceQuota",
    ]
    assert "NodeRestriction" not in names


def test_enabling_node_restriction_puts_it_after_service_account():
    names = enabled_plugins(["NodeRestriction"])
    assert names.index("ServiceAccount") + 1 == names.index("NodeRestriction")


def test_flag_order_does_not_change_execution_order():
    assert enabled_plugins(["NodeRestriction", "AlwaysPullImages"]) == enabled_plugins(
        ["AlwaysPullImages", "NodeRestriction"]
    )


@pytest.mark.parametrize(
    ("enable", "disable", "message"),
    [
        pytest.param(["NodeRestriction", "PodSecurityPolicy"], [], 'enable-admission-plugins plugin "PodSecurityPolicy" is unknown',
                     id="PodSecurityPolicy was removed in v1.25"),
        pytest.param(["PodSecurityPolicy"], ["Foo"],
                     '[enable-admission-plugins plugin "PodSecurityPolicy" is unknown, disable-admission-plugins plugin "Foo" is unknown]',
                     id="several errors aggregate"),
        pytest.param(["Priority"], ["Priority"], "[Priority] in enable-admission-plugins and disable-admission-plugins overlapped",
                     id="overlap"),
    ],
)  # fmt: skip
def test_startup_errors(enable, disable, message):
    with pytest.raises(StartupError) as err:
        enabled_plugins(enable, disable)
    assert str(err.value) == message


def test_startup_error_log_line():
    with pytest.raises(StartupError) as err:
        enabled_plugins(["PodSecurityPolicy"])
    assert (
        err.value.log_line()
        == '"command failed" err="enable-admission-plugins plugin \\"PodSecurityPolicy\\" is unknown"'
    )


def test_all_mutations_before_any_validation():
    seen = []

    def hook(tag):
        def handler(review):
            seen.append(tag)
            return {"allowed": True}

        return handler

    chain = AdmissionChain(mutating_webhooks=[Webhook("m.example.com", hook("mutating"))],
                           validating_webhooks=[Webhook("v.example.com", hook("validating"))])  # fmt: skip
    c = ctx({"kind": "ServiceAccount", "metadata": {"name": "default", "namespace": "default"}})
    chain.admit(create(pod()), c, validate_object=lambda r: seen.append("schema"))
    assert seen == ["mutating", "schema", "validating"]


def test_full_chain_defaults_a_pod():
    p = pod()
    AdmissionChain().admit(
        create(p),
        ctx({"kind": "ServiceAccount", "metadata": {"name": "default", "namespace": "default"}}),
    )
    spec = p["spec"]
    assert spec["serviceAccountName"] == "default"
    assert spec["priority"] == 0 and spec["preemptionPolicy"] == "PreemptLowerPriority"
    assert [t["key"] for t in spec["tolerations"]] == [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ]
    assert spec["volumes"][0]["name"].startswith("kube-api-access-")


# -- NamespaceLifecycle ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("req", "objects", "code", "message"),
    [
        pytest.param(create(pod(namespace="nope")), [], 404, 'namespaces "nope" not found', id="create in a missing namespace"),
        pytest.param(create(pod(namespace="old")), [ns("old", "Terminating")], 403,
                     'pods "web" is forbidden: unable to create new content in namespace old because it is being terminated',
                     id="create in a terminating namespace"),
        pytest.param(AdmissionRequest("DELETE", "Namespace", "namespaces", name="kube-system"), [], 403,
                     'namespaces "kube-system" is forbidden: this namespace may not be deleted', id="kube-system is immortal"),
    ],
)  # fmt: skip
def test_namespace_lifecycle(req, objects, code, message):
    err = refused(NamespaceLifecycle().admit, req, ctx(*objects))
    assert (err.code, err.message) == (code, message)


def test_terminating_namespace_cause():
    err = refused(
        NamespaceLifecycle().admit, create(pod(namespace="old")), ctx(ns("old", "Terminating"))
    )
    assert err.details["causes"] == [
        {
            "reason": "NamespaceTerminating",
            "message": "namespace old is being terminated",
            "field": "metadata.namespace",
        }
    ]


@pytest.mark.parametrize(
    "req",
    [
        pytest.param(
            AdmissionRequest("DELETE", "Pod", "pods", namespace="old", name="web"),
            id="deletes in a terminating namespace",
        ),
        pytest.param(
            create({"kind": "Namespace", "metadata": {"name": "new"}}), id="creating a namespace"
        ),
        pytest.param(
            AdmissionRequest("DELETE", "Namespace", "namespaces", name="team"),
            id="deleting an ordinary namespace",
        ),
        pytest.param(
            create({"kind": "Node", "metadata": {"name": "n1"}}), id="cluster-scoped objects"
        ),
    ],
)
def test_namespace_lifecycle_allows(req):
    NamespaceLifecycle().admit(req, ctx(ns("old", "Terminating")))


# -- LimitRanger ---------------------------------------------------------------------------------

LIMITS = {"kind": "LimitRange", "metadata": {"name": "lr", "namespace": "default"},
          "spec": {"limits": [{"type": "Container", "default": {"cpu": "500m", "memory": "256Mi"}, "defaultRequest": {"cpu": "100m"},
                               "max": {"cpu": "1"}, "min": {"cpu": "50m"}}]}}  # fmt: skip


def test_limitranger_fills_defaults_and_annotates():
    p = pod(
        containers=[{"name": "app", "image": "x", "resources": {"limits": {"memory": "128Mi"}}}]
    )
    LimitRanger().admit(create(p), ctx(LIMITS))
    assert p["spec"]["containers"][0]["resources"] == {
        "limits": {"memory": "128Mi", "cpu": "500m"},
        "requests": {"cpu": "100m"},
    }
    assert p["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == (
        "LimitRanger plugin set: cpu request for container app; cpu limit for container app"
    )


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        pytest.param({"limits": {"cpu": "2"}, "requests": {"cpu": "100m"}},
                     'pods "web" is forbidden: maximum cpu usage per Container is 1, but limit is 2', id="limit above max"),
        pytest.param({"limits": {"cpu": "800m"}, "requests": {"cpu": "10m"}},
                     'pods "web" is forbidden: minimum cpu usage per Container is 50m, but request is 10m', id="request below min"),
        pytest.param({"requests": {"cpu": "100m"}},
                     'pods "web" is forbidden: maximum cpu usage per Container is 1.  No limit is specified', id="no limit"),
    ],
)  # fmt: skip
def test_limitranger_validation(resources, message):
    lr = copy.deepcopy(LIMITS)
    del lr["spec"]["limits"][0]["default"]
    p = pod(containers=[{"name": "app", "image": "x", "resources": resources}])
    assert refused(LimitRanger().validate, create(p), ctx(lr)).message == message


def test_limitranger_aggregates_errors_and_ratio():
    lr = {"kind": "LimitRange", "metadata": {"name": "lr", "namespace": "default"},
          "spec": {"limits": [{"type": "Container", "maxLimitRequestRatio": {"cpu": "2"}, "max": {"memory": "1Gi"}}]}}  # fmt: skip
    p = pod(
        containers=[
            {
                "name": "a",
                "image": "x",
                "resources": {"requests": {"cpu": "100m"}, "limits": {"cpu": "1", "memory": "2Gi"}},
            }
        ]
    )
    assert refused(LimitRanger().validate, create(p), ctx(lr)).message == (
        'pods "web" is forbidden: [maximum memory usage per Container is 1Gi, but limit is 2Gi, '
        "cpu max limit to request ratio per Container is 2, but provided ratio is 10.000000]"
    )


def test_limitranger_pod_limits_sum_containers():
    lr = {"kind": "LimitRange", "metadata": {"name": "lr", "namespace": "default"},
          "spec": {"limits": [{"type": "Pod", "max": {"cpu": "1"}}]}}  # fmt: skip
    cs = [{"name": n, "image": "x", "resources": {"limits": {"cpu": "600m"}}} for n in ("a", "b")]
    assert refused(LimitRanger().validate, create(pod(containers=cs)), ctx(lr)).message == (
        'pods "web" is forbidden: maximum cpu usage per Pod is 1, but limit is 1200m'
    )


def test_limitranger_pvc_storage():
    lr = {"kind": "LimitRange", "metadata": {"name": "lr", "namespace": "default"},
          "spec": {"limits": [{"type": "PersistentVolumeClaim", "max": {"storage": "2Gi"}}]}}  # fmt: skip
    pvc = {"kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": "default"},
           "spec": {"resources": {"requests": {"storage": "5Gi"}}}}  # fmt: skip
    req = AdmissionRequest(
        "CREATE", "PersistentVolumeClaim", "persistentvolumeclaims", pvc, namespace="default"
    )
    assert refused(LimitRanger().validate, req, ctx(lr)).message == (
        'persistentvolumeclaims "data" is forbidden: maximum storage usage per PersistentVolumeClaim is 2Gi, but request is 5Gi'
    )


# -- ServiceAccount ------------------------------------------------------------------------------


def test_service_account_must_exist():
    err = refused(ServiceAccount().admit, create(pod(serviceAccountName="builder")), ctx())
    assert (
        err.message
        == 'pods "web" is forbidden: error looking up service account default/builder: serviceaccount "builder" not found'
    )


def test_service_account_automount_off():
    p = pod(automountServiceAccountToken=False)
    ServiceAccount().admit(
        create(p),
        ctx({"kind": "ServiceAccount", "metadata": {"name": "default", "namespace": "default"}}),
    )
    assert "volumes" not in p["spec"] and "volumeMounts" not in p["spec"]["containers"][0]


def test_service_account_copies_pull_secrets():
    sa = {
        "kind": "ServiceAccount",
        "metadata": {"name": "default", "namespace": "default"},
        "imagePullSecrets": [{"name": "reg"}],
    }
    p = pod()
    ServiceAccount().admit(create(p), ctx(sa))
    assert p["spec"]["imagePullSecrets"] == [{"name": "reg"}]


def test_mirror_pods_may_not_use_service_accounts():
    p = pod(serviceAccountName="default")
    p["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "x"}
    err = refused(ServiceAccount().validate, create(p), ctx())
    assert err.message == 'pods "web" is forbidden: a mirror pod may not reference service accounts'


# -- DefaultTolerationSeconds --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tolerations", "added"),
    [
        pytest.param([], ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"], id="both added"),
        pytest.param([{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60}],
                     ["node.kubernetes.io/unreachable"], id="an existing not-ready toleration is kept"),
        pytest.param([{"operator": "Exists"}], [], id="tolerate-everything covers both"),
        pytest.param([{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoSchedule"}],
                     ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"], id="NoSchedule does not count"),
    ],
)  # fmt: skip
def test_default_toleration_seconds(tolerations, added):
    p = pod(tolerations=copy.deepcopy(tolerations))
    DefaultTolerationSeconds().admit(create(p), ctx())
    new = p["spec"]["tolerations"][len(tolerations) :]
    assert [t["key"] for t in new] == added
    assert all(t["tolerationSeconds"] == 300 and t["effect"] == "NoExecute" for t in new)


# -- Priority ------------------------------------------------------------------------------------

HIGH = {"kind": "PriorityClass", "metadata": {"name": "high"}, "value": 1000}
LOW_DEFAULT = {
    "kind": "PriorityClass",
    "metadata": {"name": "low"},
    "value": 10,
    "globalDefault": True,
    "preemptionPolicy": "Never",
}


@pytest.mark.parametrize(
    ("spec", "objects", "expected"),
    [
        pytest.param({}, [], ("", 0, "PreemptLowerPriority"), id="no class and no default: 0"),
        pytest.param({}, [LOW_DEFAULT], ("low", 10, "Never"), id="the global default"),
        pytest.param({"priorityClassName": "high"}, [HIGH], ("high", 1000, "PreemptLowerPriority"), id="a named class"),
        pytest.param({"priorityClassName": "system-node-critical"}, [], ("system-node-critical", 2000001000, "PreemptLowerPriority"),
                     id="system-node-critical"),
        pytest.param({"priorityClassName": "system-cluster-critical"}, [], ("system-cluster-critical", 2000000000, "PreemptLowerPriority"),
                     id="system-cluster-critical"),
    ],
)  # fmt: skip
def test_priority(spec, objects, expected):
    p = pod(**spec)
    Priority().admit(create(p), ctx(*objects))
    s = p["spec"]
    assert (s.get("priorityClassName", ""), s["priority"], s["preemptionPolicy"]) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param({"priorityClassName": "missing"}, 'pods "web" is forbidden: no PriorityClass with name missing was found', id="unknown class"),
        pytest.param({"priorityClassName": "high", "priority": 5},
                     'pods "web" is forbidden: the integer value of priority (5) must not be provided in pod spec; '
                     "priority admission controller computed 1000 from the given PriorityClass name", id="a conflicting priority"),
    ],
)  # fmt: skip
def test_priority_refusals(spec, message):
    assert refused(Priority().admit, create(pod(**spec)), ctx(HIGH)).message == message


def test_only_one_global_default():
    new = {
        "kind": "PriorityClass",
        "metadata": {"name": "other"},
        "value": 5,
        "globalDefault": True,
    }
    req = AdmissionRequest(
        "CREATE", "PriorityClass", "priorityclasses", new, group="scheduling.k8s.io"
    )
    assert refused(Priority().validate, req, ctx(LOW_DEFAULT)).message == (
        'priorityclasses.scheduling.k8s.io "other" is forbidden: PriorityClass low is already marked as default. Only one default can exist'
    )


# -- NodeRestriction -----------------------------------------------------------------------------

KUBELET = UserInfo("system:node:n1", groups=("system:nodes", "system:authenticated"))


def node_update(name, old_labels, new_labels, **extra):
    old = {"kind": "Node", "metadata": {"name": name, "labels": old_labels}, "spec": {}}
    new = {"kind": "Node", "metadata": {"name": name, "labels": new_labels}, "spec": extra}
    return AdmissionRequest("UPDATE", "Node", "nodes", new, old, name=name, user=KUBELET)


@pytest.mark.parametrize(
    ("req", "message"),
    [
        pytest.param(node_update("n2", {}, {}), 'nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"', id="another node"),
        pytest.param(node_update("n1", {}, {"node-role.kubernetes.io/control-plane": ""}),
                     'nodes "n1" is forbidden: is not allowed to modify labels: node-role.kubernetes.io/control-plane', id="a role label"),
        pytest.param(node_update("n1", {}, {"node-restriction.kubernetes.io/pool": "a"}),
                     'nodes "n1" is forbidden: is not allowed to modify labels: node-restriction.kubernetes.io/pool',
                     id="node-restriction labels"),
        pytest.param(node_update("n1", {}, {}, taints=[{"key": "k", "effect": "NoSchedule"}]),
                     'nodes "n1" is forbidden: node "n1" is not allowed to modify taints', id="its own taints"),
        pytest.param(AdmissionRequest("UPDATE", "Pod", "pods", pod(nodeName="n2"), pod(nodeName="n2"), namespace="default", name="web",
                                      subresource="status", user=KUBELET),
                     'pods "web" is forbidden: node "n1" can only update pod status for pods with spec.nodeName set to itself',
                     id="status of another node's pod"),
        pytest.param(create(pod(nodeName="n1"), user=KUBELET),
                     'pods "web" is forbidden: pod does not have "kubernetes.io/config.mirror" annotation, node "n1" can only create mirror pods',
                     id="ordinary pods"),
        pytest.param(AdmissionRequest("UPDATE", "Lease", "leases", {"kind": "Lease", "metadata": {"name": "n2"}}, namespace="kube-node-lease",
                                      name="n2", group="coordination.k8s.io", user=KUBELET),
                     'leases.coordination.k8s.io "n2" is forbidden: can only access node lease with the same name as the requesting node',
                     id="another node's lease"),
    ],
)  # fmt: skip
def test_node_restriction(req, message):
    assert refused(NodeRestriction().admit, req, ctx()).message == message


@pytest.mark.parametrize(
    "req",
    [
        pytest.param(node_update("n1", {}, {"kubernetes.io/hostname": "n1", "node.kubernetes.io/instance-type": "m5", "example.com/x": "y"}),
                     id="allowed and foreign labels"),
        pytest.param(AdmissionRequest("UPDATE", "Pod", "pods", pod(nodeName="n1"), pod(nodeName="n1"), namespace="default", name="web",
                                      subresource="status", user=KUBELET), id="status of its own pod"),
        pytest.param(node_update("n2", {}, {"node-role.kubernetes.io/x": ""}), id="non-node users are not restricted"),
    ],
)  # fmt: skip
def test_node_restriction_allows(req):
    if req.name == "n2":
        req.user = ALICE
    NodeRestriction().admit(req, ctx())


# -- webhooks ------------------------------------------------------------------------------------


def test_webhook_denial_message_and_code():
    hook = Webhook(
        "policy.example.com",
        lambda r: {"allowed": False, "status": {"message": "images must come from our registry"}},
    )
    with pytest.raises(StatusError) as err:
        AdmissionChain(["ValidatingAdmissionWebhook"], validating_webhooks=[hook]).validate(
            create(pod()), ctx()
        )
    assert err.value.code == 400
    assert (
        err.value.message
        == 'admission webhook "policy.example.com" denied the request: images must come from our registry'
    )


def test_webhook_denial_without_explanation_keeps_the_given_code():
    hook = Webhook(
        "deny.example.com", lambda r: {"allowed": False, "status": {"code": 403, "reason": ""}}
    )
    with pytest.raises(StatusError) as err:
        AdmissionChain(["ValidatingAdmissionWebhook"], validating_webhooks=[hook]).validate(
            create(pod()), ctx()
        )
    assert (err.value.code, err.value.message) == (
        403,
        'admission webhook "deny.example.com" denied the request without explanation',
    )


@pytest.mark.parametrize(
    ("policy", "raises"),
    [
        pytest.param("Fail", True, id="Fail: the request fails with 500"),
        pytest.param("Ignore", False, id="Ignore: it goes through"),
    ],
)
def test_webhook_timeout(policy, raises):
    hook = Webhook("slow.example.com", lambda r: {"allowed": False}, failure_policy=policy, timeout_seconds=5,
                   latency_seconds=6, url="https://slow.example.com/validate")  # fmt: skip
    chain = AdmissionChain(["ValidatingAdmissionWebhook"], validating_webhooks=[hook])
    req = create(pod())
    if raises:
        with pytest.raises(StatusError) as err:
            chain.validate(req, ctx())
        assert err.value.code == 500
        assert err.value.message == (
            'Internal error occurred: failed calling webhook "slow.example.com": failed to call webhook: '
            'Post "https://slow.example.com/validate?timeout=5s": context deadline exceeded'
        )
    else:
        chain.validate(req, ctx())
        assert req.annotations == {
            "failed-open.validating.webhook.admission.k8s.io/round_0_index_0": "slow.example.com"
        }


def test_mutating_webhook_patches_and_rules_select():
    patch = [{"op": "add", "path": "/metadata/labels", "value": {"injected": "yes"}}]
    hook = Webhook("inject.example.com", lambda r: {"allowed": True, "patch": patch, "warnings": ["patched"]},
                   rules=[{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}])  # fmt: skip
    chain = AdmissionChain(["MutatingAdmissionWebhook"], mutating_webhooks=[hook])
    p = pod()
    req = create(p)
    chain.mutate(req, ctx())
    assert p["metadata"]["labels"] == {"injected": "yes"} and req.warnings == ["patched"]
    cm = {"kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}}
    chain.mutate(create(cm), ctx())
    assert "labels" not in cm["metadata"]


def test_json_patch_ops():
    doc = {"a": [1, 2], "b": {"c": 1}}
    out = apply_json_patch(doc, [{"op": "replace", "path": "/b/c", "value": 2}, {"op": "add", "path": "/a/-", "value": 3},
                                 {"op": "remove", "path": "/a/0"}, {"op": "copy", "from": "/b", "path": "/d"}])  # fmt: skip
    assert out == {"a": [2, 3], "b": {"c": 2}, "d": {"c": 2}} and doc == {
        "a": [1, 2],
        "b": {"c": 1},
    }


def test_plugins_table_is_complete():
    assert set(enabled_plugins()) <= set(ALL_ORDERED_PLUGINS)
