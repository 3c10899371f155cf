"""ClusterRole aggregation, decided purely: the rules a ClusterRole with an `aggregationRule` holds.

Semantics: pkg/controller/clusterroleaggregation (syncClusterRole and enqueue). For each
selector in order, the matching ClusterRoles sorted by name, itself skipped, contribute their
rules in order; a rule equal to one already taken is dropped. Rules compare as
equality.Semantic does: field by field, with a missing list, null and `[]` all equal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..api.selectors import InvalidRequirementError, LabelSelector

#: PolicyRule's fields in the order Go encodes them; only `verbs` is written when empty.
POLICY_RULE_FIELDS: tuple[str, ...] = (
    "verbs",
    "apiGroups",
    "resources",
    "resourceNames",
    "nonResourceURLs",
)


class AggregationError(ValueError):
    """A ClusterRole the aggregation cannot read: not an object, no name, a bad selector."""


def _name(role: Mapping[str, Any]) -> str:
    if not isinstance(role, Mapping):
        raise AggregationError(f"a ClusterRole must be a mapping, not {type(role).__name__}")
    name = (role.get("metadata") or {}).get("name")
    if not isinstance(name, str) or not name:
        raise AggregationError("a ClusterRole needs metadata.name")
    return name


def normalize_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A PolicyRule as the API server would encode it after decoding: its five fields only,
    in Go's order, `verbs` always present, the other lists left out when empty."""
    if not isinstance(rule, Mapping):
        raise AggregationError(f"a PolicyRule must be a mapping, not {type(rule).__name__}")
    out: dict[str, Any] = {}
    for field in POLICY_RULE_FIELDS:
        value = rule.get(field)
        if value is not None and not isinstance(value, list | tuple):
            raise AggregationError(f"PolicyRule.{field} must be a list of strings, not {value!r}")
        if value or field == "verbs":
            out[field] = list(value or ())
    return out


def rules_of(role: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The role's rules, normalized (a role without `rules` has none)."""
    rules = role.get("rules") or []
    if not isinstance(rules, list | tuple):
        raise AggregationError(f"ClusterRole {_name(role)!r}: rules must be a list")
    return [normalize_rule(r) for r in rules]


def has_aggregation_rule(role: Mapping[str, Any]) -> bool:
    """Whether `role` aggregates: `aggregationRule` is set, even to `{}` (a non-nil rule with no
    selectors aggregates nothing and so empties the role, as upstream)."""
    return isinstance(role, Mapping) and role.get("aggregationRule") is not None


def aggregated_rules(
    role: Mapping[str, Any], cluster_roles: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]] | None:
    """The rules `role` should hold given every ClusterRole in `cluster_roles` (the lister's
    view; `role` itself may be among them and is skipped), or None when it has no
    aggregationRule. A selector that does not convert raises AggregationError with the
    selector's own error text."""
    name = _name(role)
    if not has_aggregation_rule(role):
        return None
    rule = role["aggregationRule"]
    if not isinstance(rule, Mapping):
        raise AggregationError(f"ClusterRole {name!r}: aggregationRule must be an object")
    by_name = {_name(r): r for r in cluster_roles}
    out: list[dict[str, Any]] = []
    for raw in rule.get("clusterRoleSelectors") or ():
        try:
            selector = LabelSelector.from_dict(raw)
        except InvalidRequirementError as err:
            raise AggregationError(str(err)) from None
        for other in sorted(by_name):  # byName, as upstream sorts the lister's answer
            if other == name:
                continue
            labels = (by_name[other].get("metadata") or {}).get("labels") or {}
            if not selector.matches(labels):
                continue
            for candidate in rules_of(by_name[other]):
                if candidate not in out:
                    out.append(candidate)
    return out


@dataclass(frozen=True)
class Plan:
    """What one sync of ClusterRole `name` does: write `rules` (None: nothing to write)."""

    name: str
    rules: list[dict[str, Any]] | None = None


def plan_sync(name: str, cluster_roles: Iterable[Mapping[str, Any]]) -> Plan:
    """syncClusterRole's decision for `name` over the cached ClusterRoles: nothing when the role
    is gone, has no aggregationRule, or already holds exactly the aggregated rules (in order);
    else the new rules. Raises AggregationError for a selector that does not convert."""
    roles = list(cluster_roles)
    role = next((r for r in roles if _name(r) == name), None)
    if role is None:
        return Plan(name)
    want = aggregated_rules(role, roles)
    if want is None or want == rules_of(role):
        return Plan(name)
    return Plan(name, want)


def roles_to_sync(cluster_roles: Iterable[Mapping[str, Any]]) -> list[str]:
    """The names enqueued on any ClusterRole change: every role with an aggregationRule, since
    the dependency graph is unknown (upstream's enqueue), sorted."""
    return sorted(_name(r) for r in cluster_roles if has_aggregation_rule(r))


def rules_patch(rules: list[dict[str, Any]]) -> dict[str, Any]:
    """The body that replaces a ClusterRole's rules (a JSON merge patch replaces lists whole)."""
    return {"rules": [dict(r) for r in rules]}


__all__ = [
    "POLICY_RULE_FIELDS",
    "AggregationError",
    "Plan",
    "aggregated_rules",
    "has_aggregation_rule",
    "normalize_rule",
    "plan_sync",
    "roles_to_sync",
    "rules_of",
    "rules_patch",
]
