"""RBAC through the whole request path: a Cluster, its API server, and users seen by `as_user`.

Every case is one request by one user, through authentication, authorization and the rest of
the chain, after the case's RBAC objects were written straight into the store (what the admin's
`kubectl apply` would write, without a request's worth of simulated time). A
denied request is a 403 whose text is the authorization filter's
(`<resource> is forbidden: User "<u>" cannot <verb> resource "<r>" in API group "<g>" ...`),
with the RBAC authorizer's reason appended when it has one (a missing role).
"""

import pytest

from kube_teach import Cluster
from kube_teach.api.errors import StatusError
from kube_teach.api.kinds import KINDS
from kube_teach.apiserver.authn import ServiceAccountTokens, new_authenticator
from kube_teach.client.rest import RESTClient

RBAC = "rbac.authorization.k8s.io"
RBAC_V1 = f"{RBAC}/v1"
PODS = "/api/v1/namespaces/default/pods"
CMS = "/api/v1/namespaces/default/configmaps"
SA = KINDS["ServiceAccount"]


@pytest.fixture
def cluster():
    return Cluster(nodes=0, controllers=[], scheduler=False)


@pytest.fixture(scope="module")
def _shared():
    return Cluster(nodes=0, controllers=[], scheduler=False)


_SCRATCH = ("ConfigMap", "Pod", "Deployment", "Role", "RoleBinding", "ClusterRole",
            "ClusterRoleBinding")  # fmt: skip


def _keys(cluster):
    return {(k, o.namespace, o.name) for k in _SCRATCH for o in cluster.store.list(KINDS[k])}


@pytest.fixture
def shared(_shared):
    """One cluster for the table (a Cluster per case is too slow); whatever a case creates is
    deleted after it, straight from the store."""
    before = _keys(_shared)
    yield _shared
    for kind, ns, name in sorted(_keys(_shared) - before):
        _shared.store.delete(KINDS[kind], name, ns or None)


def role(name, rules, ns="default"):
    return {"apiVersion": RBAC_V1, "kind": "Role", "metadata": {"name": name, "namespace": ns},
            "rules": rules}  # fmt: skip


def cluster_role(name, rules, labels=None):
    return {"apiVersion": RBAC_V1, "kind": "ClusterRole",
            "metadata": {"name": name, "labels": labels or {}}, "rules": rules}  # fmt: skip


def user(name):
    return {"kind": "User", "apiGroup": RBAC, "name": name}


def group(name):
    return {"kind": "Group", "apiGroup": RBAC, "name": name}


def binding(name, ref_kind, ref_name, subjects, ns="default"):
    kind = "RoleBinding" if ns else "ClusterRoleBinding"
    meta = {"name": name, "namespace": ns} if ns else {"name": name}
    return {"apiVersion": RBAC_V1, "kind": kind, "metadata": meta,
            "roleRef": {"apiGroup": RBAC, "kind": ref_kind, "name": ref_name},
            "subjects": subjects}  # fmt: skip


def pod(name):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}  # fmt: skip


def cm(name):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {}}


def outcome(view, method, path, body=None):
    """ "allowed", or the 403's message (any other error fails the test)."""
    try:
        view.request(method, path, body)
    except StatusError as err:
        assert (err.code, err.reason) == (403, "Forbidden"), err
        return err.message
    return "allowed"


GET_PODS = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]
JANE = [user("jane")]

DENY_LIST_PODS = (
    'pods is forbidden: User "jane" cannot list resource "pods" in API group "" in the '
    'namespace "default"'
)

CASES = [
    # (id, objects the admin creates, user, groups, method, path, body, expected)
    ("default-deny-list", [], "jane", (), "GET", PODS, None, DENY_LIST_PODS),
    ("default-deny-get-named", [], "jane", (), "GET", f"{PODS}/web", None,
     'pods "web" is forbidden: User "jane" cannot get resource "pods" in API group "" in the '
     'namespace "default"'),
    ("default-deny-create-apps", [], "jane", (), "POST",
     "/apis/apps/v1/namespaces/default/deployments", {"metadata": {"name": "d"}},
     'deployments.apps is forbidden: User "jane" cannot create resource "deployments" in API '
     'group "apps" in the namespace "default"'),
    ("default-deny-cluster-scope", [], "jane", (), "GET", "/api/v1/nodes", None,
     'nodes is forbidden: User "jane" cannot list resource "nodes" in API group "" at the '
     "cluster scope"),
    ("role-grants-list", [role("r", GET_PODS), binding("b", "Role", "r", JANE)],
     "jane", (), "GET", PODS, None, "allowed"),
    ("role-grants-get", [role("r", GET_PODS), binding("b", "Role", "r", JANE), pod("web")],
     "jane", (), "GET", f"{PODS}/web", None, "allowed"),
    ("role-does-not-grant-delete", [role("r", GET_PODS), binding("b", "Role", "r", JANE)],
     "jane", (), "DELETE", f"{PODS}/web", None,
     'pods "web" is forbidden: User "jane" cannot delete resource "pods" in API group "" in '
     'the namespace "default"'),
    ("role-is-namespaced", [role("r", GET_PODS), binding("b", "Role", "r", JANE)],
     "jane", (), "GET", "/api/v1/namespaces/kube-system/pods", None,
     'pods is forbidden: User "jane" cannot list resource "pods" in API group "" in the '
     'namespace "kube-system"'),
    ("other-user-unaffected", [role("r", GET_PODS), binding("b", "Role", "r", JANE)],
     "bob", (), "GET", PODS, None,
     'pods is forbidden: User "bob" cannot list resource "pods" in API group "" in the '
     'namespace "default"'),
    ("missing-role-reason", [binding("b", "Role", "ghost", JANE)], "jane", (), "GET", PODS, None,
     f'{DENY_LIST_PODS}: RBAC: role.rbac.authorization.k8s.io "ghost" not found'),
]  # fmt: skip

NAMED = [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"],
          "resourceNames": ["a"]}]  # fmt: skip
WILD = [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["*"]}]
CASES += [
    ("resource-names-match", [role("r", NAMED), binding("b", "Role", "r", JANE), cm("a")],
     "jane", (), "GET", f"{CMS}/a", None, "allowed"),
    ("resource-names-other", [role("r", NAMED), binding("b", "Role", "r", JANE), cm("b")],
     "jane", (), "GET", f"{CMS}/b", None,
     'configmaps "b" is forbidden: User "jane" cannot get resource "configmaps" in API group '
     '"" in the namespace "default"'),
    ("resource-names-no-list", [role("r", NAMED), binding("b", "Role", "r", JANE)],
     "jane", (), "GET", CMS, None,
     'configmaps is forbidden: User "jane" cannot list resource "configmaps" in API group "" '
     'in the namespace "default"'),
    ("wildcard-verbs-create", [role("r", WILD), binding("b", "Role", "r", JANE)],
     "jane", (), "POST", CMS, cm("x"), "allowed"),
    ("wildcard-verbs-delete", [role("r", WILD), binding("b", "Role", "r", JANE), cm("x")],
     "jane", (), "DELETE", f"{CMS}/x", None, "allowed"),
    ("wildcard-verbs-only-that-resource", [role("r", WILD), binding("b", "Role", "r", JANE)],
     "jane", (), "GET", "/api/v1/namespaces/default/secrets", None,
     'secrets is forbidden: User "jane" cannot list resource "secrets" in API group "" in the '
     'namespace "default"'),
    # The aggregated roles: view reads but not secrets; edit writes and reads secrets but has
    # no RBAC; admin manages Roles in its namespace.
    ("view-lists-pods", [binding("b", "ClusterRole", "view", JANE)],
     "jane", (), "GET", PODS, None, "allowed"),
    ("view-no-secrets", [binding("b", "ClusterRole", "view", JANE)],
     "jane", (), "GET", "/api/v1/namespaces/default/secrets", None,
     'secrets is forbidden: User "jane" cannot list resource "secrets" in API group "" in the '
     'namespace "default"'),
    ("view-no-create", [binding("b", "ClusterRole", "view", JANE)],
     "jane", (), "POST", CMS, cm("x"),
     'configmaps is forbidden: User "jane" cannot create resource "configmaps" in API group "" '
     'in the namespace "default"'),
    ("view-via-rolebinding-is-namespaced", [binding("b", "ClusterRole", "view", JANE)],
     "jane", (), "GET", "/api/v1/namespaces/kube-public/pods", None,
     'pods is forbidden: User "jane" cannot list resource "pods" in API group "" in the '
     'namespace "kube-public"'),
    ("edit-creates-deployments", [binding("b", "ClusterRole", "edit", JANE)],
     "jane", (), "POST", "/apis/apps/v1/namespaces/default/deployments",
     {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
      "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {
          "metadata": {"labels": {"a": "b"}},
          "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}, "allowed"),
    ("edit-reads-secrets", [binding("b", "ClusterRole", "edit", JANE)],
     "jane", (), "GET", "/api/v1/namespaces/default/secrets", None, "allowed"),
    ("edit-no-roles", [binding("b", "ClusterRole", "edit", JANE)],
     "jane", (), "GET", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles", None,
     'roles.rbac.authorization.k8s.io is forbidden: User "jane" cannot list resource "roles" '
     'in API group "rbac.authorization.k8s.io" in the namespace "default"'),
    ("admin-lists-roles", [binding("b", "ClusterRole", "admin", JANE)],
     "jane", (), "GET", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles", None,
     "allowed"),
    ("admin-not-cluster-scope", [binding("b", "ClusterRole", "admin", JANE)],
     "jane", (), "GET", "/api/v1/namespaces", None,
     'namespaces is forbidden: User "jane" cannot list resource "namespaces" in API group "" '
     "at the cluster scope"),
    # ClusterRoleBinding: every namespace and cluster-scoped resources.
    ("clusterrolebinding-any-namespace",
     [cluster_role("pr", GET_PODS), binding("b", "ClusterRole", "pr", JANE, ns=None)],
     "jane", (), "GET", "/api/v1/namespaces/kube-system/pods", None, "allowed"),
    ("clusterrolebinding-all-namespaces",
     [cluster_role("pr", GET_PODS), binding("b", "ClusterRole", "pr", JANE, ns=None)],
     "jane", (), "GET", "/api/v1/pods", None, "allowed"),
    ("rolebinding-not-all-namespaces",
     [cluster_role("pr", GET_PODS), binding("b", "ClusterRole", "pr", JANE)],
     "jane", (), "GET", "/api/v1/pods", None,
     'pods is forbidden: User "jane" cannot list resource "pods" in API group "" at the '
     "cluster scope"),
    ("clusterrolebinding-nodes",
     [cluster_role("nr", [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["list"]}]),
      binding("b", "ClusterRole", "nr", JANE, ns=None)],
     "jane", (), "GET", "/api/v1/nodes", None, "allowed"),
    # Group subjects: membership comes from the certificate's O.
    ("group-member", [role("r", GET_PODS), binding("b", "Role", "r", [group("devs")])],
     "jane", ("devs",), "GET", PODS, None, "allowed"),
    ("group-non-member", [role("r", GET_PODS), binding("b", "Role", "r", [group("devs")])],
     "jane", ("ops",), "GET", PODS, None, DENY_LIST_PODS),
    ("group-system-authenticated",
     [role("r", GET_PODS), binding("b", "Role", "r", [group("system:authenticated")])],
     "jane", (), "GET", PODS, None, "allowed"),
    # system:masters is allowed before any authorizer is asked, with no binding at all.
    ("system-masters-anything", [cluster_role("scratch", GET_PODS)], "root",
     ("system:masters",), "DELETE", "/apis/rbac.authorization.k8s.io/v1/clusterroles/scratch",
     None, "allowed"),
    ("system-masters-create", [], "root", ("system:masters",), "POST",
     "/api/v1/namespaces/kube-system/configmaps", cm("x"), "allowed"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("objects", "name", "groups", "method", "path", "body", "want"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_rbac_through_the_server(shared, objects, name, groups, method, path, body, want):
    for obj in objects:
        shared.store.create(obj)
    view = shared.as_user(name, groups)
    assert outcome(view, method, path, body) == want


def test_a_grant_takes_effect_on_the_next_request_and_a_revoke_too(cluster):
    jane = cluster.as_user("jane")
    assert outcome(jane, "GET", PODS) == DENY_LIST_PODS
    # the grant is written straight into the store, as the admin's apply would write it
    cluster.store.create(role("r", GET_PODS))
    cluster.store.create(binding("b", "Role", "r", JANE))
    assert outcome(jane, "GET", PODS) == "allowed"
    cluster.store.delete(KINDS["RoleBinding"], "b", "default")
    assert outcome(jane, "GET", PODS) == DENY_LIST_PODS


def test_a_cluster_role_labelled_aggregate_to_view_reaches_view_holders():
    cluster = Cluster(nodes=0, scheduler=False)  # kube-controller-manager with its defaults
    leases = [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
               "verbs": ["get", "list"]}]  # fmt: skip
    cluster.store.create(
        cluster_role("lease-view", leases, {"rbac.authorization.k8s.io/aggregate-to-view": "true"})
    )
    cluster.store.create(binding("b", "ClusterRole", "view", JANE))
    cluster.run(5)
    jane = cluster.as_user("jane")
    assert outcome(jane, "GET", "/apis/coordination.k8s.io/v1/namespaces/default/leases") == (
        "allowed"
    )


def test_the_admin_view_still_works_after_as_user(cluster):
    jane = cluster.as_user("jane")
    assert outcome(jane, "GET", PODS) == DENY_LIST_PODS
    cluster.apply(cm("after"))  # times out today: the reply goes to jane's client
    assert cluster.get("configmap", "after").name == "after"


def _token_client(cluster, ns, sa_name, host):
    tokens = ServiceAccountTokens(
        lookup=lambda n, s: cluster.store.get(SA, s, n) if cluster.store.exists(SA, s, n) else None
    )
    cluster.apiserver.authenticator = new_authenticator(service_accounts=tokens)
    sa = cluster.store.get(SA, sa_name, ns)
    token = tokens.issue(ns, sa_name, sa.metadata["uid"], cluster.store.epoch_ns)
    return RESTClient(cluster.network.add_host(host), "apiserver", qps=1e9, burst=10**9,
                      credentials={"token": token})  # fmt: skip


@pytest.mark.parametrize(
    ("subject", "sa_ns", "code", "message"),
    [
        ({"kind": "ServiceAccount", "name": "default", "namespace": "default"}, "default", 200,
         None),
        ({"kind": "ServiceAccount", "name": "default", "namespace": "default"}, "kube-system",
         403, 'pods is forbidden: User "system:serviceaccount:kube-system:default" cannot list '
              'resource "pods" in API group "" in the namespace "default"'),
        (group("system:serviceaccounts:kube-system"), "kube-system", 200, None),
        (group("system:serviceaccounts"), "default", 200, None),
    ],
)  # fmt: skip
def test_service_account_subjects_with_bearer_tokens(cluster, subject, sa_ns, code, message):
    cluster.store.create(role("r", GET_PODS))
    cluster.store.create(binding("b", "Role", "r", [subject]))
    client = _token_client(cluster, sa_ns, "default", "sa-client")
    reply = client.call("GET", PODS)
    assert reply.code == code
    if message is not None:
        assert reply.body["message"] == message


def test_a_forged_token_is_401_not_anonymous(cluster):
    client = _token_client(cluster, "default", "default", "sa-client")
    header, payload, _ = client.credentials["token"].split(".")
    client.credentials["token"] = f"{header}.{payload}.AAAA"
    reply = client.call("GET", PODS)
    assert (reply.code, reply.body["reason"], reply.body["message"]) == (
        401,
        "Unauthorized",
        "Unauthorized",
    )


# -- escalation prevention: the RBAC registry's own check, after authorization ------------------
ROLES = "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles"
BINDINGS = "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings"
WRITE_RBAC = [{"apiGroups": [RBAC], "resources": ["roles", "rolebindings"], "verbs": ["create"]}]
NOT_HELD = (
    'user "jane" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not '
    'currently held:\n{APIGroups:[""], Resources:["pods"], Verbs:["get" "list"]}'
)


def _rbac_writer(cluster, extra_rules=()):
    cluster.store.create(role("writer", WRITE_RBAC + list(extra_rules)))
    cluster.store.create(binding("writer", "Role", "writer", JANE))
    cluster.store.create(role("pod-reader", GET_PODS))


def test_binding_a_role_you_do_not_hold_is_forbidden(shared):
    _rbac_writer(shared)
    jane = shared.as_user("jane")
    body = binding("grab", "Role", "pod-reader", JANE)
    assert outcome(jane, "POST", BINDINGS, body) == (
        f'rolebindings.rbac.authorization.k8s.io "grab" is forbidden: {NOT_HELD}'
    )


def test_creating_a_role_with_permissions_you_do_not_hold_is_forbidden(shared):
    _rbac_writer(shared)
    jane = shared.as_user("jane")
    assert outcome(jane, "POST", ROLES, role("mine", GET_PODS)) == (
        f'roles.rbac.authorization.k8s.io "mine" is forbidden: {NOT_HELD}'
    )


@pytest.mark.parametrize(
    ("extra", "method", "path", "body"),
    [
        # holding the permissions: nothing is escalated
        (GET_PODS, "POST", BINDINGS, binding("share", "Role", "pod-reader", [user("bob")])),
        (GET_PODS, "POST", ROLES, role("mine", GET_PODS)),
        # the `bind` verb on the role, and `escalate` on roles, allow it without holding
        ([{"apiGroups": [RBAC], "resources": ["roles"], "verbs": ["bind"],
           "resourceNames": ["pod-reader"]}],
         "POST", BINDINGS, binding("grab", "Role", "pod-reader", JANE)),
        ([{"apiGroups": [RBAC], "resources": ["roles"], "verbs": ["escalate"]}],
         "POST", ROLES, role("mine", GET_PODS)),
    ],
)  # fmt: skip
def test_granting_what_you_hold_or_may_bind_or_escalate_is_allowed(
    shared, extra, method, path, body
):
    _rbac_writer(shared, extra)
    assert outcome(shared.as_user("jane"), method, path, body) == "allowed"
