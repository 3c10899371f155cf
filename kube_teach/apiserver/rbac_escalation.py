"""Escalation prevention for RBAC writes: a user may only grant permissions it already holds,
unless it may `escalate` the role or `bind` the role a binding refers to.

Semantics: pkg/registry/rbac/validation (ConfirmNoEscalation, CompactRules), component-helpers'
auth/rbac/validation (Covers, BreakdownRule) and the registries' escalation_check.go.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..api.errors import StatusError
from ..api.gofmt import go_quote
from .rbac import (
    RBAC_GROUP,
    Authorizer,
    RBACAuthorizer,
    RoleNotFound,
    Rule,
    _name,
    _ns,
    new_forbidden,
)
from .request import Attributes, UserInfo


def _go_quote_list(items: Sequence[str] | None) -> str:
    """Go's `%q` of a []string: `["a" "b"]`."""
    return "[" + " ".join(go_quote(i) for i in items or ()) + "]"


def compact_string(rule: Rule) -> str:
    """`{APIGroups:[""], Resources:["pods"], Verbs:["get"]}` as escalation errors print it."""
    parts = []
    for label, key in (
        ("APIGroups", "apiGroups"),
        ("Resources", "resources"),
        ("NonResourceURLs", "nonResourceURLs"),
        ("ResourceNames", "resourceNames"),
        ("Verbs", "verbs"),
    ):
        if rule.get(key):
            parts.append(f"{label}:{_go_quote_list(rule[key])}")
    return "{" + ", ".join(parts) + "}"


def breakdown_rule(rule: Rule) -> list[dict[str, list[str]]]:
    """One rule per (group, resource, verb[, name]) and per (URL, verb)."""
    out: list[dict[str, list[str]]] = []
    for g in rule.get("apiGroups") or ():
        for r in rule.get("resources") or ():
            for v in rule.get("verbs") or ():
                names = rule.get("resourceNames") or ()
                if names:
                    for n in names:
                        out.append(
                            {"apiGroups": [g], "resources": [r], "verbs": [v], "resourceNames": [n]}
                        )
                else:
                    out.append({"apiGroups": [g], "resources": [r], "verbs": [v]})
    for u in rule.get("nonResourceURLs") or ():
        for v in rule.get("verbs") or ():
            out.append({"nonResourceURLs": [u], "verbs": [v]})
    return out


def _resource_covers_all(owned: Sequence[str], wanted: Sequence[str]) -> bool:
    if "*" in owned or all(w in owned for w in wanted):
        return True
    for path in wanted:
        if path in owned:
            continue
        if "/" not in path or "*/" + path.split("/", 1)[1] not in owned:
            return False
    return True


def _url_covers(owner: str, sub: str) -> bool:
    return owner == sub or (owner.endswith("*") and sub.startswith(owner.rstrip("*")))


def rule_covers(owner: Rule, sub: Rule) -> bool:
    """Whether `owner` grants everything the one-verb, one-resource rule `sub` grants."""

    def has_all(key: str) -> bool:
        return "*" in (owner.get(key) or ()) or all(
            x in (owner.get(key) or ()) for x in sub.get(key) or ()
        )

    names_ok = not owner.get("resourceNames") or (
        bool(sub.get("resourceNames"))
        and all(n in owner["resourceNames"] for n in sub["resourceNames"])
    )
    return (
        has_all("verbs")
        and has_all("apiGroups")
        and _resource_covers_all(owner.get("resources") or (), sub.get("resources") or ())
        and all(
            any(_url_covers(o, s) for o in owner.get("nonResourceURLs") or ())
            for s in sub.get("nonResourceURLs") or ()
        )
        and names_ok
    )


def covers(owner_rules: Sequence[Rule], servant_rules: Sequence[Rule]) -> tuple[bool, list[dict]]:
    """component-helpers' Covers: (covered, the broken-down rules the owner lacks)."""
    missing = [
        sub
        for servant in servant_rules
        for sub in breakdown_rule(servant)
        if not any(rule_covers(o, sub) for o in owner_rules)
    ]
    return not missing, missing


def compact_rules(rules: Sequence[Rule]) -> list[Rule]:
    """Merge single-group, single-resource rules that differ only by verb (CompactRules)."""
    out: list[Rule] = []
    simple: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rules:
        if (
            set(r) <= {"apiGroups", "resources", "verbs"}
            and len(r.get("apiGroups") or ()) == 1
            and len(r.get("resources") or ()) == 1
        ):
            key = (r["apiGroups"][0], r["resources"][0])
            if key in simple:
                simple[key]["verbs"] = [*simple[key]["verbs"], *r.get("verbs", [])]
            else:
                simple[key] = {k: list(v) for k, v in r.items()}
        else:
            out.append(r)
    return [*out, *simple.values()]


def confirm_no_escalation(
    authorizer: RBACAuthorizer, user: UserInfo, namespace: str, rules: Sequence[Rule]
) -> str | None:
    """None when `user` already holds every permission in `rules` (in `namespace`), else
    upstream's message listing what is missing, one compact rule per line, sorted."""
    owner_rules, errors = authorizer.rules_for(user, namespace)
    ok, missing = covers(owner_rules, rules)
    if ok:
        return None
    lines = sorted({compact_string(m) for m in compact_rules(missing)})
    msg = (
        f"user {go_quote(user.name)} (groups={_go_quote_list(user.groups)}) is attempting to grant "
        "RBAC permissions not currently held:\n" + "\n".join(lines)
    )
    if errors:
        msg += f"; resolution errors: [{' '.join(errors)}]"
    return msg


FULL_AUTHORITY: tuple[Rule, ...] = (
    {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
    {"verbs": ["*"], "nonResourceURLs": ["*"]},
)
_KIND_RESOURCE = {
    "Role": "roles",
    "ClusterRole": "clusterroles",
    "RoleBinding": "rolebindings",
    "ClusterRoleBinding": "clusterrolebindings",
}


def escalation_allowed(user: UserInfo | None) -> bool:
    """`system:masters` (and requests without a user) skip every escalation check."""
    return user is None or "system:masters" in user.groups


def check_rbac_write(
    authorizer: Authorizer,
    resolver: RBACAuthorizer,
    user: UserInfo,
    obj: Mapping[str, Any],
    namespace: str = "",
    operation: str = "create",
) -> None:
    """Escalation prevention for creating or updating a Role, ClusterRole, RoleBinding or
    ClusterRoleBinding, as the RBAC registries enforce it. Roles need every permission they
    grant (or `escalate` on the role); bindings need the referenced role's permissions (or
    `bind` on it). Raises StatusError 403 (404 when a binding's role does not exist).
    `authorizer` answers escalate/bind; `resolver` supplies the user's own rules."""
    kind = obj.get("kind", "")
    resource = _KIND_RESOURCE[kind]
    name = _name(obj)
    ns = namespace or _ns(obj) if kind in ("Role", "RoleBinding") else ""
    if escalation_allowed(user):
        return
    if kind in ("Role", "ClusterRole"):
        # the request's name: empty on create, the role's own name on update
        escalate = Attributes(
            user, "escalate", RBAC_GROUP, "*", resource, namespace=ns,
            name=name if operation == "update" else "",
        )  # fmt: skip
        if authorizer.authorize(escalate).allowed:
            return
        msg = confirm_no_escalation(resolver, user, ns, obj.get("rules") or ())
        if msg is None and kind == "ClusterRole" and obj.get("aggregationRule"):
            if confirm_no_escalation(resolver, user, ns, FULL_AUTHORITY) is not None:
                msg = "must have cluster-admin privileges to use the aggregationRule"
        if msg is not None:
            raise new_forbidden(RBAC_GROUP, resource, name, msg)
        return
    ref = obj.get("roleRef") or {}
    ref_resource = "clusterroles" if ref.get("kind") == "ClusterRole" else "roles"
    bind = Attributes(
        user,
        "bind",
        ref.get("apiGroup", RBAC_GROUP),
        "",
        ref_resource,
        namespace=ns,
        name=ref.get("name", ""),
    )
    if authorizer.authorize(bind).allowed:
        return
    try:
        rules = resolver.get_role_reference_rules(ref, ns)
    except RoleNotFound:
        ref_name = ref.get("name", "")
        raise StatusError(
            "NotFound",
            404,
            f'{ref_resource}.{RBAC_GROUP} "{ref_name}" not found',
            {"name": ref_name, "group": RBAC_GROUP, "kind": ref_resource},
        ) from None
    msg = confirm_no_escalation(resolver, user, ns, rules)
    if msg is not None:
        raise new_forbidden(RBAC_GROUP, resource, name, msg)
