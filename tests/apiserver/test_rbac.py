"""RBAC: rule matching, the authorizer, default roles, escalation, aggregation, the Node
authorizer. Cases follow plugin/pkg/auth/authorizer/rbac's rbac_test.go and friends."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kube_teach.api.errors import StatusError
from kube_teach.apiserver.rbac import (
    NodeAuthorizer,
    RBACAuthorizer,
    UnionAuthorizer,
    aggregate_cluster_roles,
    authorize,
    bootstrap_policy,
    can_i,
    check_rbac_write,
    compact_string,
    forbidden_error,
    rule_allows,
)
from kube_teach.apiserver.request import Attributes, UserInfo

G = "rbac.authorization.k8s.io"


def rule(verbs="*", groups="", resources="", urls="", names=""):
    r = {"verbs": verbs.split(",")}
    if groups or resources:
        r["apiGroups"] = groups.split(",")
        r["resources"] = resources.split(",")
    if urls:
        r["nonResourceURLs"] = urls.split(",")
    if names:
        r["resourceNames"] = names.split(",")
    return r


def cluster_role(name, *rules, labels=None):
    return {
        "kind": "ClusterRole",
        "metadata": {"name": name, "labels": labels or {}},
        "rules": list(rules),
    }


def role(ns, name, *rules):
    return {"kind": "Role", "metadata": {"name": name, "namespace": ns}, "rules": list(rules)}


def _subjects(subjects):
    out = []
    for s in subjects:
        kind, name = s.split(":", 1)
        if kind == "ServiceAccount":
            ns, _, sa = name.rpartition("/")
            out.append({"kind": kind, "name": sa, **({"namespace": ns} if ns else {})})
        else:
            out.append({"kind": kind, "name": name, "apiGroup": G})
    return out


def crb(role_name, *subjects, name=None):
    return {"kind": "ClusterRoleBinding", "metadata": {"name": name or role_name},
            "roleRef": {"apiGroup": G, "kind": "ClusterRole", "name": role_name}, "subjects": _subjects(subjects)}  # fmt: skip


def rb(ns, role_name, *subjects, kind="ClusterRole", name=None):
    return {"kind": "RoleBinding", "metadata": {"name": name or role_name, "namespace": ns},
            "roleRef": {"apiGroup": G, "kind": kind, "name": role_name}, "subjects": _subjects(subjects)}  # fmt: skip


def req(user, groups, verb, resource, namespace="", sub="", group="", name=""):
    return Attributes(
        UserInfo(user, groups=tuple(g for g in groups.split(",") if g)),
        verb,
        group,
        "",
        resource,
        sub,
        namespace,
        name,
    )


def url(user, groups, verb, path):
    return Attributes.non_resource(
        UserInfo(user, groups=tuple(g for g in groups.split(",") if g)), verb, path
    )


# -- rule matching (TestRuleMatches) -------------------------------------------------------------


def rr(verb, group, resource, sub="", name=""):
    return Attributes(UserInfo("u"), verb, group, "", resource, sub, "", name)


@pytest.mark.parametrize(
    ("r", "cases"),
    [
        pytest.param(rule("*", "group1", "resource1"),
                     [(rr("verb1", "group1", "resource1"), True), (rr("verb1", "group2", "resource1"), False),
                      (rr("verb1", "group1", "resource2"), False), (rr("verb2", "group1", "resource1"), True)],
                     id="star verb, exact match other"),
        pytest.param(rule("verb1", "*", "resource1"),
                     [(rr("verb1", "group1", "resource1"), True), (rr("verb1", "group2", "resource1"), True),
                      (rr("verb1", "group1", "resource2"), False), (rr("verb2", "group1", "resource1"), False)],
                     id="star group, exact match other"),
        pytest.param(rule("verb1", "group1", "*"),
                     [(rr("verb1", "group1", "resource1"), True), (rr("verb1", "group2", "resource1"), False),
                      (rr("verb1", "group1", "resource2"), True), (rr("verb2", "group1", "resource1"), False)],
                     id="star resource, exact match other"),
        pytest.param(rule("verb1,verb2", "group1,group2", "resource1,resource2"),
                     [(rr(v, g, r), True) for v in ("verb1", "verb2") for g in ("group1", "group2") for r in ("resource1", "resource2")],
                     id="tuple expansion"),
        pytest.param(rule("*", "*", "resource1/subresource1"),
                     [(rr("verb1", "group1", "resource1", "subresource1"), True), (rr("verb1", "group2", "resource1", "subresource2"), False),
                      (rr("verb1", "group1", "resource2", "subresource1"), False), (rr("verb2", "group1", "resource1", "subresource1"), True)],
                     id="subresource expansion"),
        pytest.param(rule("*", "*", "*/scale"),
                     [(rr("get", "apps", "deployments", "scale"), True), (rr("get", "", "replicationcontrollers", "scale"), True),
                      (rr("get", "apps", "deployments"), False), (rr("get", "apps", "deployments", "status"), False)],
                     id="*/scale matches every resource's scale subresource and nothing else"),
        pytest.param(rule("*", "*", "pods"),
                     [(rr("get", "", "pods"), True), (rr("get", "", "pods", "log"), False)],
                     id="a resource does not cover its subresources"),
        pytest.param(rule("get", "", "secrets", names="a,b"),
                     [(rr("get", "", "secrets", name="a"), True), (rr("get", "", "secrets", name="c"), False),
                      (rr("get", "", "secrets"), False)],
                     id="resourceNames need a listed name; a request without one never matches"),
        pytest.param(rule("GET", "", "pods"), [(rr("get", "", "pods"), False)], id="verbs are case-sensitive"),
    ],
)  # fmt: skip
def test_rule_matches(r, cases):
    for attrs, expected in cases:
        assert rule_allows(attrs, r) is expected, attrs


@pytest.mark.parametrize(
    ("r", "path", "verb", "expected"),
    [
        (rule("verb1", urls="*"), "/foo/bar/one", "verb1", True),
        (rule("verb1", urls="*"), "/foo", "verb2", False),
        (rule("verb1", urls="/foo/*"), "/foo", "verb1", False),
        (rule("verb1", urls="/foo/*"), "/foo/bar", "verb1", True),
        (rule("verb1", urls="/foo/*"), "/foo/bar/one", "verb1", True),
        (rule("verb1", urls="/foo/bar"), "/foo/bar", "verb1", True),
        (rule("verb1", urls="/foo/bar"), "/foo/bar/one", "verb1", False),
        (rule("verb1", urls="/foo*"), "/foobar", "verb1", True),
    ],
)
def test_non_resource_rule_matches(r, path, verb, expected):
    assert rule_allows(Attributes.non_resource(UserInfo("u"), verb, path), r) is expected


# -- the authorizer (TestAuthorizer) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("objects", "allowed", "denied"),
    [
        pytest.param(
            [cluster_role("admin", rule("*", "*", "*", "*")), rb("ns1", "admin", "User:admin", "Group:admins")],
            [req("admin", "", "get", "Pods", "ns1"), req("admin", "", "watch", "Pods", "ns1"), req("admin", "group1", "watch", "Foobar", "ns1"),
             req("joe", "admins", "watch", "Foobar", "ns1"), req("joe", "group1,admins", "watch", "Foobar", "ns1")],
            [req("admin", "", "GET", "Pods", "ns2"), req("admin", "", "GET", "Nodes"), req("admin", "admins", "GET", "Pods", "ns2")],
            id="a RoleBinding grants a ClusterRole in one namespace only"),
        pytest.param(
            [cluster_role("non-resource-url-getter", rule("get", urls="/apis")), cluster_role("non-resource-url", rule("*", urls="/apis")),
             cluster_role("non-resource-url-prefix", rule("get", urls="/apis/*")),
             crb("non-resource-url-getter", "User:foo", "Group:bar"), crb("non-resource-url", "User:admin", "Group:admin"),
             crb("non-resource-url-prefix", "User:prefixed", "Group:prefixed")],
            [url("foo", "", "get", "/apis"), url("", "bar", "get", "/apis"), url("admin", "", "watch", "/apis"),
             url("prefixed", "", "get", "/apis/v1"), url("", "prefixed", "get", "/apis/v1/foobar")],
            [url("foo", "", "watch", "/apis"), url("foo", "", "get", "/api/v1"), url("admin", "", "get", "/api/v1"),
             url("prefixed", "", "get", "/api/v1")],
            id="non-resource URLs"),
        pytest.param(
            [cluster_role("admin", rule("*", "*", "pods")), rb("ns1", "admin", "User:admin")],
            [req("admin", "", "get", "pods", "ns1")], [req("admin", "", "get", "pods", "ns1", "status")],
            id="pods does not grant pods/status"),
        pytest.param(
            [cluster_role("admin", rule("*", "*", "pods/status")), rb("ns1", "admin", "User:admin")],
            [req("admin", "", "get", "pods", "ns1", "status")], [req("admin", "", "get", "pods", "ns1")],
            id="pods/status does not grant pods"),
        pytest.param(
            [role("ns1", "reader", rule("get,list", "", "pods")), rb("ns1", "reader", "ServiceAccount:build", kind="Role")],
            [req("system:serviceaccount:ns1:build", "", "list", "pods", "ns1")],
            [req("system:serviceaccount:ns2:build", "", "list", "pods", "ns1"), req("system:serviceaccount:ns1:build", "", "list", "pods", "ns2")],
            id="a ServiceAccount subject without namespace means the binding's namespace"),
    ],
)  # fmt: skip
def test_authorizer(objects, allowed, denied):
    a = RBACAuthorizer.from_objects(objects)
    for attrs in allowed:
        assert a.authorize(attrs).allowed, attrs
    for attrs in denied:
        assert not a.authorize(attrs).allowed, attrs


def test_allow_reason_names_the_binding():
    a = RBACAuthorizer.from_objects(bootstrap_policy())
    d = a.authorize(req("root", "system:masters", "delete", "nodes"))
    assert (
        d.reason
        == 'RBAC: allowed by ClusterRoleBinding "cluster-admin" of ClusterRole "cluster-admin" to Group "system:masters"'
    )
    a = RBACAuthorizer.from_objects(
        [
            role("dev", "r", rule("get", "", "pods")),
            rb("dev", "r", "ServiceAccount:app", kind="Role", name="b"),
        ]
    )
    d = a.authorize(req("system:serviceaccount:dev:app", "", "get", "pods", "dev"))
    assert (
        d.reason == 'RBAC: allowed by RoleBinding "b/dev" of Role "r" to ServiceAccount "app/dev"'
    )


@pytest.mark.parametrize(
    ("attrs", "message"),
    [
        pytest.param(req("alice", "", "list", "pods", "default"),
                     'pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "default"', id="namespaced"),
        pytest.param(req("alice", "", "list", "nodes"),
                     'nodes is forbidden: User "alice" cannot list resource "nodes" in API group "" at the cluster scope', id="cluster scope"),
        pytest.param(req("alice", "", "get", "deployments", "dev", group="apps", name="web"),
                     'deployments.apps "web" is forbidden: User "alice" cannot get resource "deployments" in API group "apps" in the namespace "dev"',
                     id="named object in a group"),
        pytest.param(req("system:serviceaccount:dev:app", "", "get", "pods", "dev", sub="log", name="web"),
                     'pods "web" is forbidden: User "system:serviceaccount:dev:app" cannot get resource "pods/log" in API group "" in the namespace "dev"',
                     id="service accounts are phrased as users, subresources joined"),
        pytest.param(url("alice", "", "get", "/metrics"), 'forbidden: User "alice" cannot get path "/metrics"', id="non-resource"),
    ],
)  # fmt: skip
def test_forbidden_messages(attrs, message):
    with pytest.raises(StatusError) as err:
        authorize(RBACAuthorizer(), attrs)
    assert err.value.message == message
    assert (err.value.code, err.value.reason) == (403, "Forbidden")
    assert err.value.kubectl() == f"Error from server (Forbidden): {message}"


def test_missing_role_becomes_the_reason():
    a = RBACAuthorizer.from_objects([rb("dev", "ghost", "User:alice")])
    attrs = req("alice", "", "get", "pods", "dev")
    d = a.authorize(attrs)
    assert (
        not d.allowed
        and d.reason == 'RBAC: clusterrole.rbac.authorization.k8s.io "ghost" not found'
    )
    assert forbidden_error(attrs, d.reason).message.endswith(
        'in the namespace "dev": RBAC: clusterrole.rbac.authorization.k8s.io "ghost" not found'
    )


# -- the default ClusterRoles ----------------------------------------------------------------------

VIEW = [
    rb("team", "view", "User:viewer"),
    rb("team", "edit", "User:editor"),
    rb("team", "admin", "User:boss"),
]


@pytest.mark.parametrize(
    ("user", "verb", "resource", "expected"),
    [
        pytest.param("viewer", "list", "pods", True, id="view can list pods"),
        pytest.param("viewer", "get", "pods/log", True, id="view can read logs"),
        pytest.param(
            "viewer",
            "get",
            "deployments",
            True,
            id="view can get deployments (group resolved to apps)",
        ),
        pytest.param("viewer", "get", "secrets", False, id="view cannot read secrets"),
        pytest.param("viewer", "create", "pods", False, id="view cannot create"),
        pytest.param("viewer", "list", "roles", False, id="view cannot see RBAC"),
        pytest.param("viewer", "create", "pods/exec", False, id="view cannot exec"),
        pytest.param("editor", "get", "secrets", True, id="edit can read secrets"),
        pytest.param("editor", "create", "deployments", True, id="edit can create deployments"),
        pytest.param("editor", "patch", "deployments/scale", True, id="edit can scale"),
        pytest.param("editor", "create", "pods/exec", True, id="edit can exec"),
        pytest.param("editor", "create", "rolebindings", False, id="edit cannot grant"),
        pytest.param("editor", "create", "resourcequotas", False, id="edit cannot change quotas"),
        pytest.param(
            "editor",
            "impersonate",
            "serviceaccounts",
            True,
            id="edit can impersonate service accounts",
        ),
        pytest.param("boss", "create", "rolebindings", True, id="admin can grant"),
        pytest.param(
            "boss", "create", "localsubjectaccessreviews", True, id="admin can check others"
        ),
        pytest.param("boss", "delete", "namespaces", False, id="admin cannot delete the namespace"),
        pytest.param("boss", "create", "resourcequotas", False, id="admin cannot change quotas"),
    ],
)
def test_default_user_roles(user, verb, resource, expected):
    assert can_i(user, verb, resource, namespace="team", objects=VIEW) is expected


def test_default_roles_grant_nothing_outside_their_namespace():
    assert not can_i("boss", "list", "pods", namespace="other", objects=VIEW)


@pytest.mark.parametrize(
    ("user", "verb", "resource", "namespace", "expected"),
    [
        pytest.param(
            "anyone",
            "create",
            "selfsubjectaccessreviews",
            "",
            True,
            id="basic-user: can-i works for everyone",
        ),
        pytest.param("anyone", "get", "/version", "", True, id="discovery"),
        pytest.param(
            "system:anonymous",
            "get",
            "/healthz",
            "",
            True,
            id="public-info-viewer reaches anonymous users",
        ),
        pytest.param(
            "system:anonymous", "get", "/apis", "", False, id="anonymous users get no discovery"
        ),
        pytest.param("anyone", "get", "/metrics", "", False, id="metrics need system:monitoring"),
        pytest.param(
            "system:kube-scheduler",
            "create",
            "pods/binding",
            "default",
            True,
            id="the scheduler binds pods",
        ),
        pytest.param(
            "system:kube-scheduler",
            "update",
            "leases",
            "kube-system",
            False,
            id="the scheduler updates only its own lease",
        ),
        pytest.param(
            "system:kube-controller-manager",
            "list",
            "secrets",
            "",
            True,
            id="the controller manager lists everything",
        ),
        pytest.param(
            "system:kube-controller-manager",
            "create",
            "pods",
            "default",
            False,
            id="but creates with its per-controller identities",
        ),
    ],
)
def test_system_roles(user, verb, resource, namespace, expected):
    assert can_i(user, verb, resource, namespace=namespace) is expected


def test_scheduler_lease_by_name():
    assert can_i(
        "system:kube-scheduler", "update", "leases", namespace="kube-system", name="kube-scheduler"
    )


def test_aggregation_builds_admin_from_edit_and_view():
    roles = {r["metadata"]["name"]: r for r in bootstrap_policy() if r["kind"] == "ClusterRole"}
    view, edit, admin = roles["view"]["rules"], roles["edit"]["rules"], roles["admin"]["rules"]
    assert view == roles["system:aggregate-to-view"]["rules"]
    assert all(r in edit for r in view) and all(r in admin for r in edit)
    assert all(r in admin for r in roles["system:aggregate-to-admin"]["rules"])


def test_aggregation_picks_up_custom_roles_and_drops_duplicates():
    label = {"rbac.authorization.k8s.io/aggregate-to-monitoring": "true"}
    roles = aggregate_cluster_roles([
        {"kind": "ClusterRole", "metadata": {"name": "monitoring"},
         "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": label}]}, "rules": [rule("delete", "", "pods")]},
        cluster_role("b-metrics", rule("get", "", "pods"), rule("list", "", "pods"), labels=label),
        cluster_role("a-endpoints", rule("get", "", "pods"), labels=label),
        cluster_role("unrelated", rule("*", "*", "*")),
    ])  # fmt: skip
    monitoring = next(r for r in roles if r["metadata"]["name"] == "monitoring")
    assert monitoring["rules"] == [rule("get", "", "pods"), rule("list", "", "pods")]


# -- escalation prevention ----------------------------------------------------------------------


def _write(objects, user, obj):
    a = RBACAuthorizer.from_objects([*bootstrap_policy(), *objects])
    check_rbac_write(a, a, UserInfo.named(user), obj)


def test_cannot_create_a_role_with_permissions_one_lacks():
    new = role("team", "secret-reader", rule("get", "", "secrets"))
    with pytest.raises(StatusError) as err:
        _write([rb("team", "view", "User:viewer")], "viewer", new)
    assert err.value.message == (
        'roles.rbac.authorization.k8s.io "secret-reader" is forbidden: user "viewer" (groups=["system:authenticated"]) '
        "is attempting to grant RBAC permissions not currently held:\n"
        '{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}'
    )


def test_missing_permissions_are_compacted_and_sorted():
    new = role("team", "r", rule("get,list", "", "secrets"), rule("create", "apps", "deployments"))
    with pytest.raises(StatusError) as err:
        _write([], "nobody", new)
    assert err.value.message.endswith(
        '{APIGroups:[""], Resources:["secrets"], Verbs:["get" "list"]}\n'
        '{APIGroups:["apps"], Resources:["deployments"], Verbs:["create"]}'
    )


@pytest.mark.parametrize(
    ("objects", "user", "obj"),
    [
        pytest.param([rb("team", "edit", "User:editor")], "editor", role("team", "r", rule("get", "", "secrets")),
                     id="a subset of one's own permissions"),
        pytest.param([cluster_role("escalator", rule("escalate", G, "roles")), rb("team", "escalator", "User:e")], "e",
                     role("team", "r", rule("*", "*", "*")), id="the escalate verb"),
        pytest.param([cluster_role("binder", rule("bind", G, "clusterroles", names="admin")), rb("team", "binder", "User:b")], "b",
                     rb("team", "admin", "User:friend"), id="the bind verb on that role"),
        pytest.param([rb("team", "admin", "User:boss")], "boss", rb("team", "edit", "User:friend"), id="binding a role one holds"),
        pytest.param([], "root", rb("team", "admin", "User:x"), id="system:masters may do anything"),
    ],
)  # fmt: skip
def test_allowed_rbac_writes(objects, user, obj):
    if user == "root":
        a = RBACAuthorizer.from_objects(bootstrap_policy())
        check_rbac_write(a, a, UserInfo("root", groups=("system:masters",)), obj)
    else:
        _write(objects, user, obj)


def test_binding_a_role_one_does_not_hold():
    with pytest.raises(StatusError) as err:
        _write(
            [rb("team", "edit", "User:editor")],
            "editor",
            rb("team", "admin", "User:friend", name="grant"),
        )
    assert err.value.message.startswith(
        'rolebindings.rbac.authorization.k8s.io "grant" is forbidden: user "editor"'
    )


def test_binding_a_missing_role_is_not_found():
    with pytest.raises(StatusError) as err:
        _write([], "alice", rb("team", "ghost", "User:x"))
    assert err.value.code == 404
    assert err.value.message == 'clusterroles.rbac.authorization.k8s.io "ghost" not found'


def test_compact_string():
    r = {"apiGroups": [""], "resources": ["pods"], "resourceNames": ["a"], "verbs": ["get"]}
    assert (
        compact_string(r)
        == '{APIGroups:[""], Resources:["pods"], ResourceNames:["a"], Verbs:["get"]}'
    )


# -- the Node authorizer ------------------------------------------------------------------------

KUBELET = UserInfo("system:node:n1", groups=("system:nodes", "system:authenticated"))
POD = {"kind": "Pod", "metadata": {"name": "web", "namespace": "d"},
       "spec": {"nodeName": "n1", "containers": [{"name": "c", "envFrom": [{"secretRef": {"name": "db"}}]}],
                "volumes": [{"name": "cfg", "configMap": {"name": "settings"}}]}}  # fmt: skip
OTHER = {
    "kind": "Pod",
    "metadata": {"name": "api", "namespace": "d"},
    "spec": {"nodeName": "n2", "containers": [{"name": "c"}]},
}


@pytest.mark.parametrize(
    ("attrs", "allowed", "reason"),
    [
        pytest.param(Attributes(KUBELET, "get", resource="secrets", namespace="d", name="db"), True, "", id="a secret its pod uses"),
        pytest.param(Attributes(KUBELET, "get", resource="configmaps", namespace="d", name="settings"), True, "", id="a configmap volume"),
        pytest.param(Attributes(KUBELET, "get", resource="secrets", namespace="d", name="other"), False,
                     "no relationship found between node 'n1' and this object", id="any other secret"),
        pytest.param(Attributes(KUBELET, "list", resource="secrets", namespace="d"), False, "No Object name found", id="listing secrets"),
        pytest.param(Attributes(KUBELET, "get", resource="nodes", name="n1"), True, "", id="its own Node"),
        pytest.param(Attributes(KUBELET, "get", resource="nodes", name="n2"), False,
                     "node 'n1' cannot read 'n2', only its own Node object", id="another Node"),
        pytest.param(Attributes(KUBELET, "patch", resource="nodes", subresource="status", name="n1"), True, "", id="node status"),
        pytest.param(Attributes(KUBELET, "update", api_group="coordination.k8s.io", resource="leases", namespace="kube-node-lease", name="n1"),
                     True, "", id="its own lease"),
        pytest.param(Attributes(KUBELET, "update", api_group="coordination.k8s.io", resource="leases", namespace="kube-node-lease", name="n2"),
                     False, "can only access node lease with the same name as the requesting node", id="another node's lease"),
        pytest.param(Attributes(KUBELET, "get", resource="pods", namespace="d", name="web"), True, "", id="a pod bound to it"),
        pytest.param(Attributes(KUBELET, "get", resource="pods", namespace="d", name="api"), False,
                     "no relationship found between node 'n1' and this object", id="a pod bound elsewhere"),
        pytest.param(Attributes(KUBELET, "list", resource="pods", field_selector="spec.nodeName=n1"), True, "", id="its pods by field selector"),
        pytest.param(Attributes(KUBELET, "list", resource="pods"), False, "can only list/watch pods with spec.nodeName field selector",
                     id="all pods"),
        pytest.param(Attributes(KUBELET, "update", resource="pods", subresource="status", namespace="d", name="web"), True, "", id="pod status"),
        pytest.param(Attributes(KUBELET, "create", resource="events", namespace="d"), True, "", id="other resources follow system:node"),
        pytest.param(Attributes(KUBELET, "delete", resource="namespaces", name="d"), False, "", id="not in the system:node role"),
        pytest.param(Attributes(UserInfo.named("alice"), "get", resource="secrets", namespace="d", name="db"), False, "", id="not a node"),
    ],
)  # fmt: skip
def test_node_authorizer(attrs, allowed, reason):
    d = NodeAuthorizer([POD, OTHER, {"kind": "Node", "metadata": {"name": "n1"}}]).authorize(attrs)
    assert d.allowed is allowed
    assert d.reason == reason


def test_node_then_rbac():
    union = UnionAuthorizer(NodeAuthorizer([POD]), RBACAuthorizer.from_objects(bootstrap_policy()))
    assert union.authorize(
        Attributes(KUBELET, "get", resource="secrets", namespace="d", name="db")
    ).allowed
    denied = union.authorize(
        Attributes(KUBELET, "get", resource="secrets", namespace="d", name="x")
    )
    assert (
        not denied.allowed
        and denied.reason == "no relationship found between node 'n1' and this object"
    )


# -- properties ----------------------------------------------------------------------------------

VERBS = st.sampled_from(["get", "list", "create", "delete", "*"])
RESOURCES = st.sampled_from(["pods", "pods/log", "secrets", "*", "*/scale", "deployments"])
RULES = st.builds(
    lambda v, r, g: {"verbs": [v], "apiGroups": [g], "resources": [r]},
    VERBS,
    RESOURCES,
    st.sampled_from(["", "apps", "*"]),
)
REQUESTS = st.builds(
    lambda v, r, g, ns: req(
        "alice", "team", v, r.split("/")[0], ns, r.split("/")[1] if "/" in r else "", g
    ),
    st.sampled_from(["get", "list", "create", "delete"]),
    st.sampled_from(["pods", "pods/log", "secrets", "deployments", "deployments/scale"]),
    st.sampled_from(["", "apps"]),
    st.sampled_from(["", "team", "other"]),
)


@settings(max_examples=150, deadline=None)
@given(base=st.lists(RULES, max_size=3), extra=st.lists(RULES, min_size=1, max_size=3), ns=st.sampled_from(["team", "other"]),
       attrs=REQUESTS, subject=st.sampled_from(["User:alice", "Group:team", "User:bob"]))  # fmt: skip
def test_adding_a_binding_never_turns_allow_into_deny(base, extra, ns, attrs, subject):
    objects = [cluster_role("base", *base), crb("base", "User:alice")]
    before = RBACAuthorizer.from_objects(objects).authorize(attrs).allowed
    after = (
        RBACAuthorizer.from_objects(
            [*objects, cluster_role("extra", *extra), rb(ns, "extra", subject)]
        )
        .authorize(attrs)
        .allowed
    )
    assert after or not before


@settings(max_examples=150, deadline=None)
@given(owner=st.lists(RULES, max_size=3), attrs=REQUESTS)
def test_covered_rules_allow_no_more_than_their_owner(owner, attrs):
    from kube_teach.apiserver.rbac import covers, rules_allow

    servant = [r for r in owner if r["verbs"] != ["*"]]
    assert covers(owner, servant)[0]
    assert not rules_allow(attrs, servant) or rules_allow(attrs, owner)
