"""The default RBAC policy a new cluster starts with, and ClusterRole aggregation.

Semantics: plugin/pkg/auth/authorizer/rbac/bootstrappolicy (the roles and bindings, kept as YAML
under bootstrap/) and the clusterrole-aggregation controller, which fills in aggregated roles.
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


def _load_bootstrap() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    base = importlib.resources.files(__package__).joinpath("bootstrap")
    meta = {
        "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
        "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
    }
    roles = []
    for r in yaml.safe_load(base.joinpath("cluster-roles.yaml").read_text()):
        role: dict[str, Any] = {
            "apiVersion": f"{RBAC_GROUP}/v1",
            "kind": "ClusterRole",
            "metadata": {
                "name": r["name"],
                "annotations": dict(meta["annotations"]),
                "labels": {**meta["labels"], **(r.get("labels") or {})},
            },
            "rules": r.get("rules"),
        }
        if r.get("aggregationRule"):
            role["aggregationRule"] = r["aggregationRule"]
        roles.append(role)
    bindings = []
    for b in yaml.safe_load(base.joinpath("cluster-role-bindings.yaml").read_text()):
        subjects = [
            {**s, "apiGroup": RBAC_GROUP} if s["kind"] != "ServiceAccount" else dict(s)
            for s in b.get("subjects") or ()
        ]
        bindings.append(
            {
                "apiVersion": f"{RBAC_GROUP}/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {
                    "name": b["name"],
                    "annotations": dict(meta["annotations"]),
                    "labels": dict(meta["labels"]),
                },
                "roleRef": {
                    "apiGroup": RBAC_GROUP,
                    "kind": "ClusterRole",
                    "name": b.get("role", b["name"]),
                },
                "subjects": subjects or None,
            }
        )
    return roles, bindings


BOOTSTRAP_CLUSTER_ROLES, BOOTSTRAP_CLUSTER_ROLE_BINDINGS = _load_bootstrap()


def bootstrap_policy() -> list[dict[str, Any]]:
    """The default ClusterRoles (aggregated, as a running cluster shows them) and
    ClusterRoleBindings, as fresh copies."""
    roles = aggregate_cluster_roles(copy.deepcopy(BOOTSTRAP_CLUSTER_ROLES))
    return [*roles, *copy.deepcopy(BOOTSTRAP_CLUSTER_ROLE_BINDINGS)]


def node_rules() -> list[Mapping[str, Any]]:
    """The `system:node` ClusterRole's rules: what the Node authorizer grants every kubelet
    for resources it does not subdivide."""
    role = next(r for r in BOOTSTRAP_CLUSTER_ROLES if _name(r) == "system:node")
    return list(role["rules"])
