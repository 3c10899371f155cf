"""The default RBAC policy a new cluster starts with, and ClusterRole aggregation.

Semantics: plugin/pkg/auth/authorizer/rbac/bootstrappolicy (the cluster roles, the controller
roles and their bindings, kept as YAML under bootstrap/) and the clusterrole-aggregation
controller, which fills in aggregated roles.
"""

from __future__ import annotations

import copy
import importlib.resources
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from ..api.selectors import LabelSelector
from .rbac import RBAC_GROUP, _name

# -- ClusterRole aggregation: the clusterrole-aggregation controller ------------------------------


def aggregate_cluster_roles(cluster_roles: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Fill in `rules` of every ClusterRole with an aggregationRule, as the
    clusterrole-aggregation controller does: for each selector in order, the roles it selects
    sorted by name (itself excluded), their rules appended unless already present. Repeated
    until nothing changes, so `admin` also picks up what `edit` aggregated from `view`."""
    roles = {_name(r): {**r, "rules": list(r.get("rules") or [])} for r in cluster_roles}
    for _ in range(len(roles) + 1):
        changed = False
        for name in sorted(roles):
            role = roles[name]
            rule = role.get("aggregationRule")
            if not rule:
                continue
            new_rules: list[Any] = []
            for sel in rule.get("clusterRoleSelectors") or ():
                selector = LabelSelector.from_dict(sel)
                for other in sorted(roles):
                    labels = (roles[other].get("metadata") or {}).get("labels") or {}
                    if other == name or not selector.matches(labels):
                        continue
                    for r in roles[other]["rules"]:
                        if r not in new_rules:
                            new_rules.append(r)
            if new_rules != role["rules"]:
                role["rules"], changed = new_rules, True
        if not changed:
            break
    return [roles[n] for n in sorted(roles)]


# -- the bootstrap policy -------------------------------------------------------------------------

_BOOTSTRAP_ANNOTATIONS = {"rbac.authorization.kubernetes.io/autoupdate": "true"}
_BOOTSTRAP_LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
KUBE_CONTROLLER_MANAGER = "system:kube-controller-manager"


def _read(filename: str) -> list[dict[str, Any]]:
    base = importlib.resources.files(__package__).joinpath("bootstrap")
    return yaml.safe_load(base.joinpath(filename).read_text())


def _cluster_role(r: Mapping[str, Any]) -> dict[str, Any]:
    """A ClusterRole from one entry of the compact format: name, labels, aggregationRule, rules."""
    role: dict[str, Any] = {
        "apiVersion": f"{RBAC_GROUP}/v1",
        "kind": "ClusterRole",
        "metadata": {
            "name": r["name"],
            "annotations": dict(_BOOTSTRAP_ANNOTATIONS),
            "labels": {**_BOOTSTRAP_LABELS, **(r.get("labels") or {})},
        },
        "rules": r.get("rules"),
    }
    if r.get("aggregationRule"):
        role["aggregationRule"] = r["aggregationRule"]
    return role


def _cluster_role_binding(b: Mapping[str, Any]) -> dict[str, Any]:
    """A ClusterRoleBinding from one entry of the compact format: name, role (default: the
    name) and subjects; User and Group subjects get the RBAC apiGroup, as upstream writes them."""
    subjects = [
        {**s, "apiGroup": RBAC_GROUP} if s["kind"] != "ServiceAccount" else dict(s)
        for s in b.get("subjects") or ()
    ]
    return {
        "apiVersion": f"{RBAC_GROUP}/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {
            "name": b["name"],
            "annotations": dict(_BOOTSTRAP_ANNOTATIONS),
            "labels": dict(_BOOTSTRAP_LABELS),
        },
        "roleRef": {
            "apiGroup": RBAC_GROUP,
            "kind": "ClusterRole",
            "name": b.get("role", b["name"]),
        },
        "subjects": subjects or None,
    }


def _load_bootstrap() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    roles = [_cluster_role(r) for r in _read("cluster-roles.yaml")]
    bindings = [_cluster_role_binding(b) for b in _read("cluster-role-bindings.yaml")]
    return roles, bindings


BOOTSTRAP_CLUSTER_ROLES, BOOTSTRAP_CLUSTER_ROLE_BINDINGS = _load_bootstrap()

# The `system:controller:<loop>` roles and their bindings to ServiceAccount kube-system/<loop>
# (upstream's bootstrappolicy ControllerRoles and ControllerRoleBindings).
CONTROLLER_ROLES = [_cluster_role(r) for r in _read("controller-roles.yaml")]
CONTROLLER_ROLE_BINDINGS = [
    _cluster_role_binding(b) for b in _read("controller-role-bindings.yaml")
]


def bootstrap_policy() -> list[dict[str, Any]]:
    """The default ClusterRoles (aggregated, as a running cluster shows them) and
    ClusterRoleBindings, as fresh copies."""
    roles = aggregate_cluster_roles(copy.deepcopy(BOOTSTRAP_CLUSTER_ROLES))
    return [*roles, *copy.deepcopy(BOOTSTRAP_CLUSTER_ROLE_BINDINGS)]


def controller_policy() -> list[dict[str, Any]]:
    """The controller ClusterRoles, then their ClusterRoleBindings, as fresh copies: what a
    kube-controller-manager run with --use-service-account-credentials needs, each control loop
    acting as ServiceAccount kube-system/<loop> (`system:serviceaccount:kube-system:<loop>`)."""
    return [*copy.deepcopy(CONTROLLER_ROLES), *copy.deepcopy(CONTROLLER_ROLE_BINDINGS)]


def full_bootstrap_policy() -> list[dict[str, Any]]:
    """Everything kube-apiserver's RBAC bootstrap creates at start-up, as fresh copies: the
    default ClusterRoles (aggregated) and ClusterRoleBindings, then the controller roles and
    their bindings."""
    return [*bootstrap_policy(), *controller_policy()]


def controller_manager_bindings(user: str = KUBE_CONTROLLER_MANAGER) -> list[dict[str, Any]]:
    """ClusterRoleBindings granting `user` every controller role, one per role: what a
    kube-controller-manager run WITHOUT --use-service-account-credentials needs, since it then
    runs every control loop with its own identity (the `system:kube-controller-manager` role
    alone only lets it start up and read).

    Each binding is named `<role>:<user>`, with a leading `system:` dropped from the user, so
    the default user gives `system:controller:replicaset-controller:kube-controller-manager`.
    These are not part of the bootstrap policy (upstream creates no such bindings; a cluster
    operator does), so they carry no bootstrapping label or autoupdate annotation.

    Raises ValueError for a user that is not a non-empty string or that cannot appear in an
    object name (`/`, `%`)."""
    if not isinstance(user, str) or not user.strip():
        raise ValueError(f"user must be a non-empty user name, got {user!r}")
    if "/" in user or "%" in user:
        raise ValueError(f"user {user!r} cannot be part of a binding name: it contains '/' or '%'")
    suffix = user.removeprefix("system:")
    return [
        {
            "apiVersion": f"{RBAC_GROUP}/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": f"{_name(role)}:{suffix}"},
            "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": _name(role)},
            "subjects": [{"apiGroup": RBAC_GROUP, "kind": "User", "name": user}],
        }
        for role in CONTROLLER_ROLES
    ]


def node_rules() -> list[Mapping[str, Any]]:
    """The `system:node` ClusterRole's rules: what the Node authorizer grants every kubelet
    for resources it does not subdivide."""
    role = next(r for r in BOOTSTRAP_CLUSTER_ROLES if _name(r) == "system:node")
    return list(role["rules"])
