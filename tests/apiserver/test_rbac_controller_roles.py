"""The RBAC bootstrap policy for kube-controller-manager: the `system:controller:<loop>` roles
and bindings, the bindings for a controller manager using its own identity, and the default
ClusterRoleBindings. Permissions follow upstream's bootstrappolicy testdata."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kube_teach.apiserver.rbac import RBACAuthorizer
from kube_teach.apiserver.rbac_bootstrap import (
    BOOTSTRAP_CLUSTER_ROLE_BINDINGS,
    CONTROLLER_ROLE_BINDINGS,
    CONTROLLER_ROLES,
    bootstrap_policy,
    controller_manager_bindings,
    controller_policy,
    full_bootstrap_policy,
)
from kube_teach.apiserver.request import Attributes, UserInfo

G = "rbac.authorization.k8s.io"
KCM = "system:kube-controller-manager"
POLICY = RBACAuthorizer.from_objects(full_bootstrap_policy())
WITH_KCM = RBACAuthorizer.from_objects([*full_bootstrap_policy(), *controller_manager_bindings()])


def sa(loop: str, ns: str = "kube-system") -> UserInfo:
    return UserInfo.named(f"system:serviceaccount:{ns}:{loop}")


def attrs(user: UserInfo, verb: str, target: str, ns: str = "") -> Attributes:
    """`target` is `group/resource[/subresource]`, the core group written as an empty group."""
    group, resource, sub = (target.split("/") + [""])[:3]
    return Attributes(user, verb, group, "v1", resource, sub, namespace=ns)


def allowed(authorizer: RBACAuthorizer, user: UserInfo, verb: str, target: str, ns: str = ""):
    return authorizer.authorize(attrs(user, verb, target, ns)).allowed


@pytest.mark.parametrize(
    ("loop", "verb", "target", "ns", "want"),
    [
        pytest.param("replicaset-controller", "create", "/pods", "default", True,
                     id="the ReplicaSet controller creates pods"),
        pytest.param("replicaset-controller", "update", "apps/replicasets/status", "default", True,
                     id="the ReplicaSet controller updates replicasets/status"),
        pytest.param("replicaset-controller", "update", "extensions/replicasets/status", "a", True,
                     id="the ReplicaSet controller's rules also name the old extensions group"),
        pytest.param("replicaset-controller", "delete", "/nodes", "", False,
                     id="the ReplicaSet controller may not delete nodes"),
        pytest.param("replicaset-controller", "get", "/pods", "default", False,
                     id="the ReplicaSet controller lists and watches pods but never gets one"),
        pytest.param("replicaset-controller", "update", "apps/replicasets/scale", "default", False,
                     id="the ReplicaSet controller may not scale"),
        pytest.param("replicaset-controller", "create", "events.k8s.io/events", "default", True,
                     id="every loop records events in either events group"),
        pytest.param("deployment-controller", "create", "apps/replicasets", "default", True,
                     id="the Deployment controller creates replicasets"),
        pytest.param("deployment-controller", "update", "apps/deployments/status", "default", True,
                     id="the Deployment controller updates deployments/status"),
        pytest.param("deployment-controller", "create", "/pods", "default", False,
                     id="the Deployment controller never creates pods itself"),
        pytest.param("node-controller", "delete", "/pods", "default", True,
                     id="the node lifecycle controller evicts pods by deleting them"),
        pytest.param("node-controller", "update", "/nodes/status", "", True,
                     id="the node lifecycle controller updates nodes/status"),
        pytest.param("node-controller", "patch", "/nodes", "", True,
                     id="the node lifecycle controller taints nodes"),
        pytest.param("node-controller", "create", "/pods", "default", False,
                     id="the node lifecycle controller may not create pods"),
        pytest.param("generic-garbage-collector", "deletecollection", "/pods", "default", False,
                     id="the garbage collector deletes one object at a time"),
        pytest.param("generic-garbage-collector", "create", "/pods", "default", False,
                     id="the garbage collector creates nothing but events"),
        pytest.param("horizontal-pod-autoscaler", "update", "apps/deployments/scale", "d", True,
                     id="the HPA updates any scale subresource"),
        pytest.param("horizontal-pod-autoscaler", "get", "example.com/widgets/scale", "d", True,
                     id="the HPA reads the scale of custom resources too"),
        pytest.param("horizontal-pod-autoscaler", "update", "apps/deployments", "d", False,
                     id="the HPA may not update a deployment itself"),
        pytest.param("horizontal-pod-autoscaler", "list", "metrics.k8s.io/pods", "d", True,
                     id="the HPA lists pod metrics"),
        pytest.param("disruption-controller", "get", "apps/statefulsets/scale", "d", True,
                     id="the disruption controller reads scale to count expected pods"),
        pytest.param("disruption-controller", "update", "apps/statefulsets/scale", "d", False,
                     id="the disruption controller never scales"),
        pytest.param("disruption-controller", "update", "policy/poddisruptionbudgets/status", "d",
                     True, id="the disruption controller updates PDB status"),
        pytest.param("endpoint-controller", "create", "/endpoints/restricted", "d", True,
                     id="the Endpoints controller may write restricted endpoint addresses"),
        pytest.param("endpoint-controller", "patch", "/endpoints", "d", False,
                     id="the Endpoints controller updates but never patches endpoints"),
        pytest.param("endpointslice-controller", "create", "discovery.k8s.io/endpointslices", "d",
                     True, id="the EndpointSlice controller creates endpointslices"),
        pytest.param("endpointslice-controller", "create", "/endpoints", "d", False,
                     id="the EndpointSlice controller does not write Endpoints"),
        pytest.param("endpointslicemirroring-controller", "update", "/endpoints/finalizers", "d",
                     True, id="the mirroring controller sets owner references on endpoints"),
        pytest.param("daemon-set-controller", "create", "/pods/binding", "d", True,
                     id="the DaemonSet controller may bind pods"),
        pytest.param("daemon-set-controller", "create", "apps/controllerrevisions", "d", True,
                     id="the DaemonSet controller keeps controllerrevisions"),
        pytest.param("namespace-controller", "deletecollection", "apps/deployments", "d", True,
                     id="the namespace controller empties a namespace of any resource"),
        pytest.param("namespace-controller", "update", "/namespaces/finalize", "", True,
                     id="the namespace controller finalizes namespaces"),
        pytest.param("namespace-controller", "create", "/pods", "d", False,
                     id="the namespace controller creates nothing"),
        pytest.param("pod-garbage-collector", "patch", "/pods/status", "d", True,
                     id="the pod GC patches pods/status before deleting"),
        pytest.param("pod-garbage-collector", "update", "/pods/status", "d", False,
                     id="the pod GC only patches pods/status"),
        pytest.param("service-account-controller", "create", "/serviceaccounts", "d", True,
                     id="the ServiceAccount controller creates serviceaccounts"),
        pytest.param("service-account-controller", "create", "/secrets", "d", False,
                     id="the ServiceAccount controller no longer creates token secrets"),
        pytest.param("job-controller", "update", "batch/jobs/status", "d", True,
                     id="the Job controller updates jobs/status"),
        pytest.param("job-controller", "create", "/pods", "d", True,
                     id="the Job controller creates pods"),
        pytest.param("statefulset-controller", "create", "/persistentvolumeclaims", "d", True,
                     id="the StatefulSet controller creates claims from templates"),
        pytest.param("statefulset-controller", "get", "/pods", "d", True,
                     id="the StatefulSet controller gets pods by name"),
        pytest.param("resourcequota-controller", "update", "/resourcequotas/status", "d", True,
                     id="the quota controller updates quota status"),
        pytest.param("resourcequota-controller", "update", "/resourcequotas", "d", False,
                     id="the quota controller never changes a quota's spec"),
        pytest.param("clusterrole-aggregation-controller", "escalate", "rbac.authorization.k8s.io"
                     "/clusterroles", "", True,
                     id="the aggregation controller may escalate clusterroles"),
        pytest.param("clusterrole-aggregation-controller", "create", "rbac.authorization.k8s.io"
                     "/clusterroles", "", False,
                     id="the aggregation controller creates no clusterroles"),
        pytest.param("ttl-controller", "patch", "/nodes", "", True,
                     id="the TTL controller annotates nodes"),
        pytest.param("ttl-controller", "get", "/nodes", "", False,
                     id="the TTL controller lists nodes but never gets one"),
        pytest.param("root-ca-cert-publisher", "create", "/configmaps", "d", True,
                     id="the root CA publisher creates kube-root-ca.crt configmaps"),
        pytest.param("root-ca-cert-publisher", "delete", "/configmaps", "d", False,
                     id="the root CA publisher deletes no configmaps"),
        pytest.param("cronjob-controller", "create", "batch/jobs", "d", True,
                     id="the CronJob controller creates jobs"),
        pytest.param("cronjob-controller", "update", "batch/cronjobs/status", "d", True,
                     id="the CronJob controller updates cronjobs/status"),
        pytest.param("service-controller", "patch", "/services/status", "d", True,
                     id="the cloud service controller writes load balancer status"),
        pytest.param("service-controller", "update", "/services", "d", False,
                     id="the cloud service controller leaves service specs alone"),
    ],
)  # fmt: skip
def test_controller_permissions(loop, verb, target, ns, want):
    assert allowed(POLICY, sa(loop), verb, target, ns) is want


@pytest.mark.parametrize("verb", ["get", "list", "watch", "patch", "update", "delete"])
@pytest.mark.parametrize(
    "target", ["/pods", "/secrets", "apps/deployments", "batch/jobs", "example.com/widgets"]
)
def test_garbage_collector_may_read_and_delete_any_resource(verb, target):
    assert allowed(POLICY, sa("generic-garbage-collector"), verb, target, "default")


def test_the_allowing_binding_is_named_in_the_reason():
    d = POLICY.authorize(attrs(sa("replicaset-controller"), "create", "/pods", "default"))
    assert d.reason == (
        'RBAC: allowed by ClusterRoleBinding "system:controller:replicaset-controller" of '
        'ClusterRole "system:controller:replicaset-controller" to '
        'ServiceAccount "replicaset-controller/kube-system"'
    )


def test_a_service_account_of_the_same_name_elsewhere_gets_nothing():
    imposter = sa("replicaset-controller", ns="default")
    assert not allowed(POLICY, imposter, "create", "/pods", "default")


def test_controller_roles_are_absent_from_the_cluster_roles_alone():
    only_cluster_roles = RBACAuthorizer.from_objects(bootstrap_policy())
    d = only_cluster_roles.authorize(attrs(sa("replicaset-controller"), "create", "/pods", "d"))
    assert not d.allowed and d.reason == ""


# -- the data: every controller kube-teach runs, every roleRef resolves ---------------------------

LOOPS = [
    "replicaset-controller", "deployment-controller", "node-controller", "endpoint-controller",
    "endpointslice-controller", "endpointslicemirroring-controller", "daemon-set-controller",
    "generic-garbage-collector", "horizontal-pod-autoscaler", "disruption-controller",
    "namespace-controller", "pod-garbage-collector", "service-account-controller",
    "job-controller", "statefulset-controller", "resourcequota-controller",
    "clusterrole-aggregation-controller", "ttl-controller", "root-ca-cert-publisher",
    "cronjob-controller", "service-controller",
]  # fmt: skip


@pytest.mark.parametrize("loop", LOOPS)
def test_every_loop_has_its_role_and_binding(loop):
    objs = {(o["kind"], o["metadata"]["name"]): o for o in controller_policy()}
    name = f"system:controller:{loop}"
    role = objs[("ClusterRole", name)]
    binding = objs[("ClusterRoleBinding", name)]
    assert role["metadata"]["labels"] == {"kubernetes.io/bootstrapping": "rbac-defaults"}
    assert role["metadata"]["annotations"] == {
        "rbac.authorization.kubernetes.io/autoupdate": "true"
    }
    assert binding["roleRef"] == {"apiGroup": G, "kind": "ClusterRole", "name": name}
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": loop, "namespace": "kube-system"}
    ]


def test_controller_roles_and_bindings_pair_up_one_to_one():
    roles = [r["metadata"]["name"] for r in CONTROLLER_ROLES]
    bindings = [b["metadata"]["name"] for b in CONTROLLER_ROLE_BINDINGS]
    assert roles == sorted(set(roles))  # upstream's testdata order, no duplicates
    assert bindings == roles
    assert all(n.startswith("system:controller:") for n in roles)
    assert all(r["rules"] for r in CONTROLLER_ROLES)


@pytest.mark.parametrize(
    "objects",
    [
        pytest.param(full_bootstrap_policy(), id="the full bootstrap policy"),
        pytest.param([*full_bootstrap_policy(), *controller_manager_bindings()],
                     id="with the controller manager's own bindings"),
    ],
)  # fmt: skip
def test_every_role_ref_resolves(objects):
    authorizer = RBACAuthorizer.from_objects(objects)
    bindings = [o for o in objects if o["kind"] == "ClusterRoleBinding"]
    assert len(bindings) >= len(BOOTSTRAP_CLUSTER_ROLE_BINDINGS) + len(CONTROLLER_ROLES)
    for b in bindings:
        assert b["roleRef"]["name"] in authorizer.cluster_roles, b["metadata"]["name"]
        authorizer.get_role_reference_rules(b["roleRef"], "")  # raises RoleNotFound otherwise


def test_full_bootstrap_policy_is_the_cluster_policy_then_the_controller_policy():
    names = [(o["kind"], o["metadata"]["name"]) for o in full_bootstrap_policy()]
    want = [(o["kind"], o["metadata"]["name"]) for o in [*bootstrap_policy(), *controller_policy()]]
    assert names == want
    assert len(set(names)) == len(names)


def test_policies_are_fresh_copies():
    first = controller_policy()
    first[0]["rules"].clear()
    first[-1]["subjects"][0]["name"] = "mallory"
    controller_manager_bindings()[0]["subjects"][0]["name"] = "mallory"
    again = controller_policy()
    assert again[0]["rules"] and again[-1]["subjects"][0]["name"] != "mallory"
    assert controller_manager_bindings()[0]["subjects"][0]["name"] == KCM
    assert full_bootstrap_policy() == full_bootstrap_policy()


# -- a controller manager without --use-service-account-credentials -------------------------------


def test_controller_manager_needs_the_bindings_to_create_pods():
    kcm = UserInfo.named(KCM)
    assert allowed(POLICY, kcm, "list", "/pods", "d")  # its own role reads everything
    assert not allowed(POLICY, kcm, "create", "/pods", "d")
    d = WITH_KCM.authorize(attrs(kcm, "create", "/pods", "d"))
    # bindings are visited in name order; daemon-set-controller's is the first to allow it
    assert d.reason == (
        "RBAC: allowed by ClusterRoleBinding "
        '"system:controller:daemon-set-controller:kube-controller-manager" of ClusterRole '
        '"system:controller:daemon-set-controller" to User "system:kube-controller-manager"'
    )


ATTACHDETACH = "system:controller:attachdetach-controller"


def test_controller_manager_bindings_shape():
    bindings = controller_manager_bindings()
    assert len(bindings) == len(CONTROLLER_ROLES)
    first = bindings[0]
    assert first == {
        "apiVersion": f"{G}/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": f"{ATTACHDETACH}:kube-controller-manager"},
        "roleRef": {"apiGroup": G, "kind": "ClusterRole", "name": ATTACHDETACH},
        "subjects": [{"apiGroup": G, "kind": "User", "name": KCM}],
    }
    assert [b["roleRef"]["name"] for b in bindings] == [
        r["metadata"]["name"] for r in CONTROLLER_ROLES
    ]


def test_controller_manager_bindings_for_another_user():
    bindings = controller_manager_bindings("kcm-alt")
    assert bindings[0]["metadata"]["name"] == "system:controller:attachdetach-controller:kcm-alt"
    authorizer = RBACAuthorizer.from_objects([*full_bootstrap_policy(), *bindings])
    assert allowed(authorizer, UserInfo.named("kcm-alt"), "update", "apps/replicasets/status", "d")
    assert not allowed(authorizer, UserInfo.named(KCM), "update", "apps/replicasets/status", "d")


@pytest.mark.parametrize(
    ("user", "message"),
    [
        pytest.param("", "user must be a non-empty user name, got ''", id="empty"),
        pytest.param("  ", "user must be a non-empty user name, got '  '", id="blank"),
        pytest.param(None, "user must be a non-empty user name, got None", id="not a string"),
        pytest.param("https://issuer/kcm", "user 'https://issuer/kcm' cannot be part of a "
                     "binding name: it contains '/' or '%'", id="a slash"),
    ],
)  # fmt: skip
def test_controller_manager_bindings_reject_bad_users(user, message):
    with pytest.raises(ValueError) as err:
        controller_manager_bindings(user)
    assert str(err.value) == message


VERBS = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection",
         "escalate", "approve"]  # fmt: skip
TARGETS = [
    "/pods", "/pods/status", "/pods/binding", "/nodes", "/nodes/status", "/secrets",
    "/configmaps", "/serviceaccounts", "/endpoints", "/endpoints/restricted", "/events",
    "/namespaces/finalize", "/resourcequotas/status", "/persistentvolumeclaims",
    "apps/deployments", "apps/deployments/scale", "apps/replicasets/status",
    "apps/controllerrevisions", "batch/jobs", "batch/cronjobs/status",
    "discovery.k8s.io/endpointslices", "policy/poddisruptionbudgets/status",
    "rbac.authorization.k8s.io/clusterroles", "certificates.k8s.io/signers",
    "coordination.k8s.io/leases", "example.com/widgets/scale",
]  # fmt: skip


@settings(max_examples=150)
@given(
    verb=st.sampled_from(VERBS),
    target=st.sampled_from(TARGETS),
    ns=st.sampled_from(["", "default", "kube-system"]),
)
def test_controller_manager_may_do_what_some_loop_or_its_own_role_may(verb, target, ns):
    """Differential: the single identity with every controller role bound is allowed exactly
    when one of the loops' service accounts, or the controller manager's own role, is."""
    kcm = UserInfo.named(KCM)
    loops = [b["subjects"][0]["name"] for b in CONTROLLER_ROLE_BINDINGS]
    want = allowed(POLICY, kcm, verb, target, ns) or any(
        allowed(POLICY, sa(loop), verb, target, ns) for loop in loops
    )
    assert allowed(WITH_KCM, kcm, verb, target, ns) is want


# -- the default ClusterRoleBindings ---------------------------------------------------------------


def _group(name):
    return {"apiGroup": G, "kind": "Group", "name": name}


def _user(name):
    return {"apiGroup": G, "kind": "User", "name": name}


@pytest.mark.parametrize(
    ("name", "subjects"),
    [
        ("cluster-admin", [_group("system:masters")]),
        ("system:basic-user", [_group("system:authenticated")]),
        ("system:discovery", [_group("system:authenticated")]),
        ("system:kube-controller-manager", [_user("system:kube-controller-manager")]),
        ("system:kube-dns",
         [{"kind": "ServiceAccount", "name": "kube-dns", "namespace": "kube-system"}]),
        ("system:kube-scheduler", [_user("system:kube-scheduler")]),
        ("system:monitoring", [_group("system:monitoring")]),
        ("system:node", None),
        ("system:node-proxier", [_user("system:kube-proxy")]),
        ("system:public-info-viewer",
         [_group("system:authenticated"), _group("system:unauthenticated")]),
        ("system:service-account-issuer-discovery", [_group("system:serviceaccounts")]),
        ("system:volume-scheduler", [_user("system:kube-scheduler")]),
    ],
)  # fmt: skip
def test_default_cluster_role_bindings(name, subjects):
    bindings = {b["metadata"]["name"]: b for b in BOOTSTRAP_CLUSTER_ROLE_BINDINGS}
    assert bindings[name]["subjects"] == subjects
    assert bindings[name]["roleRef"] == {"apiGroup": G, "kind": "ClusterRole", "name": name}


def test_default_cluster_role_bindings_are_exactly_upstreams():
    assert len(BOOTSTRAP_CLUSTER_ROLE_BINDINGS) == 12


@pytest.mark.parametrize(
    ("user", "verb", "target", "want"),
    [
        pytest.param("system:anonymous", "get", "/healthz", True,
                     id="public-info-viewer lets anyone read /healthz"),
        pytest.param("system:anonymous", "get", "/api", False,
                     id="discovery is for authenticated users only"),
        pytest.param("alice", "get", "/apis/apps", True, id="an authenticated user discovers"),
    ],
)  # fmt: skip
def test_default_non_resource_access(user, verb, target, want):
    d = POLICY.authorize(Attributes.non_resource(UserInfo.named(user), verb, target))
    assert d.allowed is want
