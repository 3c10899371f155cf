"""The clusterrole-aggregation-controller: the pure decision one call at a time (upstream's
TestSyncClusterRole cases and a few of our own), then the controller in a Cluster, where it runs
as kube-controller-manager and its writes pass the API server's RBAC escalation check."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kube_teach import Cluster
from kube_teach.api.kinds import KINDS
from kube_teach.apiserver.rbac_bootstrap import aggregate_cluster_roles, full_bootstrap_policy
from kube_teach.controllers.clusterrole_aggregation import (
    AggregationError,
    Plan,
    aggregated_rules,
    normalize_rule,
    plan_sync,
    roles_to_sync,
    rules_patch,
)
from kube_teach.controllers.manager import DEFAULT_CONTROLLERS, enabled_controllers

CLUSTER_ROLES = KINDS["ClusterRole"]
RBAC_V1 = "rbac.authorization.k8s.io/v1"
CONTROLLER = "clusterrole-aggregation-controller"

HAMMER = [
    {"verbs": ["hammer"], "resources": ["nails"]},
    {"verbs": ["hammer"], "resources": ["wedges"]},
]
CHISEL = [{"verbs": ["chisel"], "resources": ["mortises"]}]
SAW = [{"verbs": ["saw"], "resources": ["boards"]}]


def role(name, labels=None, rules=None):
    return {"apiVersion": RBAC_V1, "kind": "ClusterRole",
            "metadata": {"name": name, "labels": labels or {}}, "rules": rules}  # fmt: skip


def combined(selectors, *rules):
    out = role("combined", rules=[r for rs in rules for r in rs] or None)
    out["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": s} for s in selectors]}
    return out


BAR, NOT_BAR = {"foo": "bar"}, {"foo": "not-bar"}


# -- the decision: upstream's TestSyncClusterRole ----------------------------------------------
@pytest.mark.parametrize(
    ("roles", "want"),
    [
        pytest.param([role("hammer", BAR, HAMMER), combined([BAR], SAW)], HAMMER,
                     id="remove dead rules"),
        pytest.param([role("hammer", NOT_BAR, HAMMER), combined([BAR], HAMMER)], [],
                     id="strip rules"),
        pytest.param([role("hammer", BAR, HAMMER), role("chisel", BAR, CHISEL),
                      role("saw", NOT_BAR, SAW), combined([BAR])], CHISEL + HAMMER,
                     id="select properly and put in order"),
        pytest.param([role("hammer", BAR, HAMMER), role("chisel", BAR, CHISEL),
                      role("saw", NOT_BAR, SAW), combined([BAR, NOT_BAR])],
                     CHISEL + HAMMER + SAW, id="select properly with multiple selectors"),
        pytest.param([role("hammer", BAR, HAMMER), role("chisel", BAR, CHISEL),
                      role("saw", BAR, SAW), role("other-saw", NOT_BAR, SAW),
                      combined([BAR, NOT_BAR])], CHISEL + HAMMER + SAW,
                     id="select properly remove duplicates"),
        pytest.param([role("hammer", BAR, HAMMER), combined([BAR], HAMMER)], None,
                     id="no diff skip"),
    ],
)  # fmt: skip
def test_sync_cluster_role(roles, want):
    plan = plan_sync("combined", roles)
    assert plan == Plan("combined", None if want is None else [normalize_rule(r) for r in want])


@pytest.mark.parametrize(
    ("roles", "name", "want"),
    [
        pytest.param([role("hammer", BAR, HAMMER)], "combined", None,
                     id="a role gone from the cache is nothing to do"),
        pytest.param([role("hammer", BAR, HAMMER), role("plain", rules=SAW)], "plain", None,
                     id="a role without an aggregationRule is left alone"),
        pytest.param([role("hammer", BAR, HAMMER), {**role("empty", rules=SAW),
                                                    "aggregationRule": {}}], "empty", [],
                     id="an empty aggregationRule aggregates nothing and so empties the role"),
        pytest.param([role("hammer", BAR, HAMMER), {**role("combined", BAR, SAW),
                      "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": BAR}]}}],
                     "combined", HAMMER, id="a role matching its own selector is skipped"),
        pytest.param([role("hammer", BAR, HAMMER), role("saw", {"foo": "x"}, SAW), {
                      **role("combined"), "aggregationRule": {"clusterRoleSelectors": [
                          {"matchExpressions": [{"key": "foo", "operator": "NotIn",
                                                 "values": ["bar"]}]}]}}],
                     "combined", SAW, id="matchExpressions select too"),
        pytest.param([role("hammer", BAR, HAMMER), {**role("all"),
                      "aggregationRule": {"clusterRoleSelectors": [{}]}}], "all", HAMMER,
                     id="an empty selector selects every other role"),
    ],
)  # fmt: skip
def test_sync_cluster_role_edges(roles, name, want):
    want_rules = None if want is None else [normalize_rule(r) for r in want]
    assert plan_sync(name, roles) == Plan(name, want_rules)


def test_rules_compare_as_semantic_deep_equal_does():
    """Missing, null and [] are the same list; list order inside a rule still matters."""
    roles = [
        role("a", BAR, [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"],
                         "resourceNames": [], "nonResourceURLs": None}]),
        combined([BAR], [{"resources": ["pods"], "apiGroups": [""], "verbs": ["get"]}]),
    ]  # fmt: skip
    assert plan_sync("combined", roles) == Plan("combined")
    roles[1]["rules"][0]["verbs"] = ["get", "list"]
    assert plan_sync("combined", roles).rules == [
        {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}
    ]


def test_a_rule_in_two_roles_is_kept_once_at_its_first_place():
    shared = {"verbs": ["get"], "resources": ["pods"]}
    roles = [
        role("b", BAR, [shared, *SAW]),
        role("a", BAR, [*CHISEL, dict(shared)]),
        combined([BAR]),
    ]
    assert plan_sync("combined", roles).rules == [*CHISEL, shared, *SAW]


def test_only_aggregated_roles_are_enqueued_on_any_change():
    roles = [combined([BAR]), role("hammer", BAR, HAMMER), {**role("all"), "aggregationRule": {}}]
    assert roles_to_sync(roles) == ["all", "combined"]


def test_the_write_replaces_the_rules_whole():
    assert rules_patch([normalize_rule(r) for r in SAW]) == {
        "rules": [{"verbs": ["saw"], "resources": ["boards"]}]
    }
    assert rules_patch([]) == {"rules": []}


@pytest.mark.parametrize(
    ("roles", "message"),
    [
        pytest.param([{**role("combined"), "aggregationRule": {"clusterRoleSelectors": [
            {"matchExpressions": [{"key": "foo", "operator": "Gt", "values": ["1"]}]}]}}],
            '"Gt" is not a valid label selector operator', id="an unknown operator"),
        pytest.param([combined([BAR]), {"metadata": {}}], "a ClusterRole needs metadata.name",
                     id="a role without a name"),
        pytest.param([combined([BAR]), "hammer"], "a ClusterRole must be a mapping, not str",
                     id="a role that is not an object"),
        pytest.param([combined([BAR]), role("x", BAR, [{"verbs": "get"}])],
                     "PolicyRule.verbs must be a list of strings, not 'get'",
                     id="verbs that are not a list"),
    ],
)  # fmt: skip
def test_bad_input_is_a_clear_error(roles, message):
    with pytest.raises(AggregationError, match="^" + message.replace("(", r"\(") + "$"):
        plan_sync("combined", roles)


def test_the_bootstrap_policy_is_already_aggregated():
    """What kube-apiserver writes at start-up needs no write from the controller."""
    roles = [o for o in full_bootstrap_policy() if o["kind"] == "ClusterRole"]
    assert roles_to_sync(roles) == ["admin", "edit", "view"]
    assert [plan_sync(n, roles) for n in roles_to_sync(roles)] == [
        Plan("admin"), Plan("edit"), Plan("view")]  # fmt: skip


_labels = st.dictionaries(st.sampled_from(["foo", "bar"]), st.sampled_from(["x", "y"]), max_size=2)
_rule = st.fixed_dictionaries(
    {"verbs": st.lists(st.sampled_from(["get", "list"]), min_size=1, max_size=2),
     "resources": st.lists(st.sampled_from(["pods", "nodes"]), max_size=2)}
)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    others=st.lists(st.tuples(_labels, st.lists(_rule, max_size=3)), max_size=5),
    selectors=st.lists(_labels, max_size=3),
)
def test_aggregation_is_the_deduplicated_union_of_the_selected_roles(others, selectors):
    roles = [role(f"r{i}", labels, rules) for i, (labels, rules) in enumerate(others)]
    target = {**role("target"), "aggregationRule": {
        "clusterRoleSelectors": [{"matchLabels": s} for s in selectors]}}  # fmt: skip
    got = aggregated_rules(target, [*roles, target])
    selected = [r for r in roles if any(all(r["metadata"]["labels"].get(k) == v
                for k, v in s.items()) for s in selectors)]  # fmt: skip
    union = [normalize_rule(x) for r in selected for x in r["rules"] or ()]
    assert len(got) == len({repr(r) for r in got})  # no rule twice
    assert sorted(map(repr, got)) == sorted(set(map(repr, union)))
    # and it agrees with the bootstrap's own aggregation, which the API server uses
    boot = {r["metadata"]["name"]: r for r in aggregate_cluster_roles([*roles, target])}
    assert got == [normalize_rule(r) for r in boot["target"]["rules"]]


def test_the_controller_is_on_by_default_and_takes_its_old_name():
    assert enabled_controllers(["*"], DEFAULT_CONTROLLERS).count(CONTROLLER) == 1
    assert enabled_controllers(["clusterrole-aggregation"], DEFAULT_CONTROLLERS) == [CONTROLLER]
    off = enabled_controllers(["*", "-clusterrole-aggregation"], DEFAULT_CONTROLLERS)
    assert CONTROLLER not in off and "replicaset-controller" in off


# -- the controller in a Cluster ---------------------------------------------------------------
LEASES = [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "list"]}]


def rules(cluster, name):
    return cluster.store.get(CLUSTER_ROLES, name).get("rules") or []


def test_a_role_labelled_aggregate_to_edit_reaches_edit_and_admin_and_leaves_when_deleted():
    cluster = Cluster(nodes=0, scheduler=False, controllers=[CONTROLLER])
    cluster.run(3)
    assert cluster.trace.where(CONTROLLER, "aggregated") == []  # the bootstrap is up to date
    before = {n: rules(cluster, n) for n in ("view", "edit", "admin")}
    labels = {"rbac.authorization.k8s.io/aggregate-to-edit": "true"}
    cluster.store.create(role("lease-edit", labels, LEASES))
    cluster.run(3)
    assert rules(cluster, "view") == before["view"]
    # roles are visited by name: "lease-edit" comes before "system:aggregate-to-edit"
    assert rules(cluster, "edit") == LEASES + before["edit"]
    admin = rules(cluster, "admin")  # admin aggregates what edit aggregated
    assert LEASES[0] in admin and len(admin) == len(before["admin"]) + 1
    assert [e.fields["name"] for e in cluster.trace.where(CONTROLLER, "aggregated")] == [
        "edit", "admin"]  # fmt: skip
    cluster.store.delete(CLUSTER_ROLES, "lease-edit")
    cluster.run(3)
    assert {n: rules(cluster, n) for n in before} == before


def test_without_escalate_the_controllers_write_is_forbidden():
    """Writing a role with an aggregationRule needs cluster-admin's authority, or `escalate`,
    which the controller's own role grants."""
    cluster = Cluster(nodes=0, scheduler=False, controllers=[CONTROLLER])
    own = cluster.store.get(CLUSTER_ROLES, f"system:controller:{CONTROLLER}")
    own["rules"][0]["verbs"] = [v for v in own["rules"][0]["verbs"] if v != "escalate"]
    cluster.store.update(own)
    cluster.store.create(
        role("lease-view", {"rbac.authorization.k8s.io/aggregate-to-view": "true"}, LEASES)
    )
    cluster.run(3)
    assert LEASES[0] not in rules(cluster, "view")
    errors = cluster.trace.where(CONTROLLER, "sync-error")
    assert errors and {e.fields["key"] for e in errors} == {"view"}
    assert errors[0].fields["error"] == (
        'clusterroles.rbac.authorization.k8s.io "view" is forbidden: '
        "must have cluster-admin privileges to use the aggregationRule"
    )
