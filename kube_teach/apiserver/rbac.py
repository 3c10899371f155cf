"""Authorization by RBAC: Roles, ClusterRoles and their bindings, evaluated as kube-apiserver does.

Semantics: plugin/pkg/auth/authorizer/rbac (RBACAuthorizer, RuleAllows), pkg/apis/rbac/v1
evaluation_helpers, pkg/registry/rbac/validation (the rule resolver and its visiting order),
apiserver's Forbidden message, the union of authorizers and `kubectl auth can-i`.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..api.errors import StatusError
from ..api.gofmt import go_quote
from ..api.kinds import UnknownKindError, resolve_resource
from .request import Attributes, UserInfo, split_service_account

Rule = Mapping[str, Any]
RBAC_GROUP = "rbac.authorization.k8s.io"

ALLOW, DENY, NO_OPINION = "Allow", "Deny", "NoOpinion"


@dataclass(frozen=True)
class Decision:
    """An authorizer's answer: Allow, Deny or NoOpinion, with the reason it gives."""

    decision: str
    reason: str = ""

    @property
    def allowed(self) -> bool:
        return self.decision == ALLOW

    def audit_annotations(self) -> dict[str, str]:
        """What the authorization filter records on the audit event."""
        return {
            "authorization.k8s.io/decision": "allow" if self.allowed else "forbid",
            "authorization.k8s.io/reason": self.reason,
        }


class Authorizer(Protocol):
    def authorize(self, attrs: Attributes) -> Decision: ...


# -- matching: evaluation_helpers.go --------------------------------------------------------------


def verb_matches(rule: Rule, verb: str) -> bool:
    """`*` or the exact verb (case matters: `GET` is not `get`)."""
    return any(v == "*" or v == verb for v in rule.get("verbs") or ())


def api_group_matches(rule: Rule, group: str) -> bool:
    """`*` or the exact group; the core group is `""`."""
    return any(g == "*" or g == group for g in rule.get("apiGroups") or ())


def resource_matches(rule: Rule, combined: str, subresource: str) -> bool:
    """`*`, the exact `resource[/subresource]`, or `*/<subresource>` for any resource."""
    for r in rule.get("resources") or ():
        if r == "*" or r == combined:
            return True
        if subresource and r == "*/" + subresource:
            return True
    return False


def resource_name_matches(rule: Rule, name: str) -> bool:
    """An empty resourceNames list matches any name (and no name); otherwise the name must
    be listed, so requests without a name (list, create, ...) never match."""
    names = rule.get("resourceNames") or ()
    return not names or name in names


def non_resource_url_matches(rule: Rule, path: str) -> bool:
    """`*`, the exact path, or a prefix written with a trailing `*`."""
    for u in rule.get("nonResourceURLs") or ():
        if u == "*" or u == path:
            return True
        if u.endswith("*") and path.startswith(u.rstrip("*")):
            return True
    return False


def rule_allows(attrs: Attributes, rule: Rule) -> bool:
    """Whether one PolicyRule grants the request (RuleAllows)."""
    if attrs.is_resource_request:
        combined = attrs.resource + ("/" + attrs.subresource if attrs.subresource else "")
        return (
            verb_matches(rule, attrs.verb)
            and api_group_matches(rule, attrs.api_group)
            and resource_matches(rule, combined, attrs.subresource)
            and resource_name_matches(rule, attrs.name)
        )
    return verb_matches(rule, attrs.verb) and non_resource_url_matches(rule, attrs.path)


def rules_allow(attrs: Attributes, rules: Iterable[Rule]) -> bool:
    """Whether any of `rules` grants the request."""
    return any(rule_allows(attrs, r) for r in rules)


# -- subjects and sources: rule.go ----------------------------------------------------------------


def applies_to_user(user: UserInfo, subject: Mapping[str, Any], namespace: str) -> bool:
    """Whether one binding subject is this user (ServiceAccount subjects default their
    namespace to the binding's)."""
    kind, name = subject.get("kind"), subject.get("name", "")
    if kind == "User":
        return user.name == name
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        ns = subject.get("namespace") or namespace
        return bool(ns) and split_service_account(user.name) == (ns, name)
    return False


def _applies_to(user: UserInfo, subjects: Sequence[Mapping[str, Any]], ns: str) -> int | None:
    for i, s in enumerate(subjects or ()):
        if applies_to_user(user, s, ns):
            return i
    return None


def _describe_subject(s: Mapping[str, Any], binding_ns: str) -> str:
    if s.get("kind") == "ServiceAccount":
        return f"ServiceAccount {go_quote(s.get('name', '') + '/' + (s.get('namespace') or binding_ns))}"
    return f"{s.get('kind', '')} {go_quote(s.get('name', ''))}"


def describe_source(binding: Mapping[str, Any], subject: Mapping[str, Any]) -> str:
    """`ClusterRoleBinding "b" of ClusterRole "r" to User "alice"` (or a RoleBinding
    `"b/ns"`): the text after `RBAC: allowed by`."""
    meta = binding.get("metadata") or {}
    ref = binding.get("roleRef") or {}
    ns = meta.get("namespace", "")
    if binding.get("kind") == "RoleBinding" or ns:
        head = f"RoleBinding {go_quote(meta.get('name', '') + '/' + ns)}"
    else:
        head = f"ClusterRoleBinding {go_quote(meta.get('name', ''))}"
    return (
        f"{head} of {ref.get('kind', '')} {go_quote(ref.get('name', ''))} to "
        f"{_describe_subject(subject, ns)}"
    )


class RoleNotFound(LookupError):
    """A binding points at a (Cluster)Role that does not exist; the text is the lister's."""


def _name(obj: Mapping[str, Any]) -> str:
    return (obj.get("metadata") or {}).get("name", "")


def _ns(obj: Mapping[str, Any]) -> str:
    return (obj.get("metadata") or {}).get("namespace", "")


class RBACAuthorizer:
    """RBAC over plain dicts. Bindings are visited in name order (upstream's informer order is
    arbitrary); ClusterRoleBindings first, then RoleBindings of the request's namespace."""

    def __init__(
        self,
        roles: Iterable[Mapping[str, Any]] = (),
        role_bindings: Iterable[Mapping[str, Any]] = (),
        cluster_roles: Iterable[Mapping[str, Any]] = (),
        cluster_role_bindings: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        self.roles = {(_ns(r), _name(r)): r for r in roles}
        self.cluster_roles = {_name(r): r for r in cluster_roles}
        self.cluster_role_bindings = sorted(cluster_role_bindings, key=_name)
        self.role_bindings: dict[str, list[Mapping[str, Any]]] = {}
        for b in sorted(role_bindings, key=_name):
            self.role_bindings.setdefault(_ns(b), []).append(b)

    @classmethod
    def from_objects(cls, objects: Iterable[Mapping[str, Any]]) -> RBACAuthorizer:
        """Sort Role, RoleBinding, ClusterRole and ClusterRoleBinding dicts out of `objects`."""
        by_kind: dict[str, list[Mapping[str, Any]]] = {}
        for o in objects:
            by_kind.setdefault(o.get("kind", ""), []).append(o)
        return cls(
            by_kind.get("Role", ()),
            by_kind.get("RoleBinding", ()),
            by_kind.get("ClusterRole", ()),
            by_kind.get("ClusterRoleBinding", ()),
        )

    def get_role_reference_rules(
        self, role_ref: Mapping[str, Any], namespace: str
    ) -> list[Mapping[str, Any]]:
        """The rules a roleRef points at; RoleNotFound with the lister's NotFound text."""
        kind, name = role_ref.get("kind"), role_ref.get("name", "")
        if kind == "Role":
            role = self.roles.get((namespace, name))
            if role is None:
                raise RoleNotFound(f'role.{RBAC_GROUP} "{name}" not found')
            return list(role.get("rules") or ())
        if kind == "ClusterRole":
            role = self.cluster_roles.get(name)
            if role is None:
                raise RoleNotFound(f'clusterrole.{RBAC_GROUP} "{name}" not found')
            return list(role.get("rules") or ())
        raise RoleNotFound(f"unsupported role reference kind: {go_quote(str(kind))}")

    def visit_rules_for(
        self, user: UserInfo, namespace: str
    ) -> Iterator[tuple[str | None, Mapping[str, Any] | None, str | None]]:
        """(source, rule, error) for every rule that applies to `user` in `namespace`."""
        for b in self.cluster_role_bindings:
            i = _applies_to(user, b.get("subjects") or (), "")
            if i is None:
                continue
            try:
                rules = self.get_role_reference_rules(b.get("roleRef") or {}, "")
            except RoleNotFound as e:
                yield None, None, str(e)
                continue
            source = describe_source({**b, "kind": "ClusterRoleBinding"}, b["subjects"][i])
            for r in rules:
                yield source, r, None
        if not namespace:
            return
        for b in self.role_bindings.get(namespace, ()):
            i = _applies_to(user, b.get("subjects") or (), namespace)
            if i is None:
                continue
            try:
                rules = self.get_role_reference_rules(b.get("roleRef") or {}, namespace)
            except RoleNotFound as e:
                yield None, None, str(e)
                continue
            source = describe_source({**b, "kind": "RoleBinding"}, b["subjects"][i])
            for r in rules:
                yield source, r, None

    def rules_for(
        self, user: UserInfo, namespace: str
    ) -> tuple[list[Mapping[str, Any]], list[str]]:
        """Every rule that applies, and the resolution errors met on the way."""
        rules, errors = [], []
        for _, rule, err in self.visit_rules_for(user, namespace):
            if rule is not None:
                rules.append(rule)
            if err:
                errors.append(err)
        return rules, errors

    def authorize(self, attrs: Attributes) -> Decision:
        """Allow on the first rule that matches (`RBAC: allowed by ...`), else NoOpinion, with
        `RBAC: <errors>` as the reason when bindings pointed at missing roles."""
        user = attrs.user or UserInfo()
        errors = []
        for source, rule, err in self.visit_rules_for(user, attrs.namespace):
            if rule is not None and rule_allows(attrs, rule):
                return Decision(ALLOW, f"RBAC: allowed by {source}")
            if err:
                errors.append(err)
        return Decision(NO_OPINION, f"RBAC: {_aggregate(errors)}" if errors else "")

    def can_i(
        self,
        user: UserInfo | str,
        verb: str,
        resource: str,
        namespace: str = "",
        name: str = "",
        subresource: str = "",
        api_group: str | None = None,
    ) -> bool:
        """`kubectl auth can-i`: see the module-level can_i."""
        return can_i(user, verb, resource, namespace, name, subresource, api_group, authorizer=self)


class UnionAuthorizer:
    """`--authorization-mode=Node,RBAC`: the first Allow or Deny wins; reasons of the
    authorizers that had no opinion are joined with newlines."""

    def __init__(self, *authorizers: Authorizer) -> None:
        self.authorizers = authorizers

    def authorize(self, attrs: Attributes) -> Decision:
        reasons = []
        for a in self.authorizers:
            d = a.authorize(attrs)
            if d.decision in (ALLOW, DENY):
                return d
            if d.reason:
                reasons.append(d.reason)
        return Decision(NO_OPINION, "\n".join(reasons))


# -- the 403 --------------------------------------------------------------------------------------

_SANITIZE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def forbidden_message(attrs: Attributes) -> str:
    """`User "alice" cannot list resource "pods" in API group "" in the namespace "default"`,
    `... at the cluster scope`, or `User "x" cannot get path "/metrics"`: service accounts and
    groups get no other phrasing upstream, the user name says it all."""
    user = go_quote(attrs.user.name if attrs.user else "")
    if not attrs.is_resource_request:
        return f"User {user} cannot {attrs.verb} path {go_quote(attrs.path)}"
    resource = attrs.resource + ("/" + attrs.subresource if attrs.subresource else "")
    head = (
        f"User {user} cannot {attrs.verb} resource {go_quote(resource)} "
        f"in API group {go_quote(attrs.api_group)}"
    )
    if attrs.namespace:
        return f"{head} in the namespace {go_quote(attrs.namespace)}"
    return f"{head} at the cluster scope"


def new_forbidden(group: str, resource: str, name: str, err: str) -> StatusError:
    """apimachinery's NewForbidden: `<resource>[.<group>] ["<name>"] is forbidden: <err>`, or
    `forbidden: <err>` when there is no resource."""
    qualified = f"{resource}.{group}" if group else resource
    if not resource and not group:
        message = f"forbidden: {err}"
    elif not name:
        message = f"{qualified} is forbidden: {err}"
    else:
        message = f"{qualified} {go_quote(name)} is forbidden: {err}"
    details = {k: v for k, v in (("name", name), ("group", group), ("kind", resource)) if v}
    return StatusError("Forbidden", 403, message, details)


def forbidden_error(attrs: Attributes, reason: str = "") -> StatusError:
    """The 403 the authorization filter writes for a request no authorizer allowed."""
    msg = forbidden_message(attrs).translate(_SANITIZE)
    err = f"{msg}: {reason}" if reason else msg
    return new_forbidden(attrs.api_group, attrs.resource, attrs.name, err)


def authorize(authorizer: Authorizer, attrs: Attributes) -> Decision:
    """The authorization stage: the Allow decision, or StatusError 403 for anything else."""
    d = authorizer.authorize(attrs)
    if not d.allowed:
        raise forbidden_error(attrs, d.reason)
    return d


# -- kubectl auth can-i ---------------------------------------------------------------------------


# Groups of well-known resources kube-teach does not serve, as discovery would report them.
_OTHER_RESOURCE_GROUPS = {
    "selfsubjectaccessreviews": "authorization.k8s.io",
    "selfsubjectrulesreviews": "authorization.k8s.io",
    "localsubjectaccessreviews": "authorization.k8s.io",
    "subjectaccessreviews": "authorization.k8s.io",
    "tokenreviews": "authentication.k8s.io",
    "selfsubjectreviews": "authentication.k8s.io",
    "jobs": "batch",
    "cronjobs": "batch",
    "ingresses": "networking.k8s.io",
    "certificatesigningrequests": "certificates.k8s.io",
    "storageclasses": "storage.k8s.io",
    "csinodes": "storage.k8s.io",
    "volumeattachments": "storage.k8s.io",
    "controllerrevisions": "apps",
    "flowschemas": "flowcontrol.apiserver.k8s.io",
    "prioritylevelconfigurations": "flowcontrol.apiserver.k8s.io",
    "mutatingwebhookconfigurations": "admissionregistration.k8s.io",
    "validatingwebhookconfigurations": "admissionregistration.k8s.io",
    "customresourcedefinitions": "apiextensions.k8s.io",
}


def resolve_can_i_resource(resource: str, api_group: str | None) -> tuple[str, str, str]:
    """(group, resource, subresource) the way kubectl's REST mapper resolves `resource`:
    `deployments` -> apps, `deployments.apps`, `pods/log`, `*`; unknown names keep group ""."""
    base, _, sub = resource.partition("/")
    if api_group is not None or base == "*":
        return api_group or "", base, sub
    try:
        info = resolve_resource(base)
    except UnknownKindError:
        if "." in base:
            res, _, group = base.partition(".")
            return group, res, sub
        return _OTHER_RESOURCE_GROUPS.get(base, ""), base, sub
    return info.group, info.resource, sub


def can_i(
    user: UserInfo | str,
    verb: str,
    resource: str,
    namespace: str = "",
    name: str = "",
    subresource: str = "",
    api_group: str | None = None,
    *,
    authorizer: Authorizer | None = None,
    objects: Iterable[Mapping[str, Any]] = (),
) -> bool:
    """`kubectl auth can-i <verb> <resource> [<name>] [-n ns] [--subresource s] --as user`.

    `resource` may be `pods`, `deploy`, `deployments.apps`, `pods/log` or a non-resource URL
    (`/logs/*`). A string user gets the groups an authenticator would give it (see
    UserInfo.named). Without an authorizer, RBAC over `objects` plus the bootstrap policy.
    """
    u = UserInfo.named(user) if isinstance(user, str) else user
    if authorizer is None:
        from .rbac_bootstrap import full_bootstrap_policy  # it imports this module

        authorizer = RBACAuthorizer.from_objects([*full_bootstrap_policy(), *objects])
    if resource.startswith("/"):
        return authorizer.authorize(Attributes.non_resource(u, verb, resource)).allowed
    group, res, sub = resolve_can_i_resource(resource, api_group)
    attrs = Attributes(
        u,
        verb,
        api_group=group,
        api_version="*",
        resource=res,
        subresource=subresource or sub,
        namespace=namespace,  # kubectl sends the namespace whatever the resource's scope
        name=name,
    )
    return authorizer.authorize(attrs).allowed


def _aggregate(errors: list[str]) -> str:
    texts = list(dict.fromkeys(errors))
    return texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"


# -- names that moved to the modules split off from this one ---------------------------------------

# Each of these modules imports this one, so their names are loaded on first use (PEP 562):
# `from kube_teach.apiserver.rbac import NodeAuthorizer` keeps working without an import cycle.
_MOVED = {
    "rbac_bootstrap": (
        "BOOTSTRAP_CLUSTER_ROLES", "BOOTSTRAP_CLUSTER_ROLE_BINDINGS", "aggregate_cluster_roles",
        "bootstrap_policy", "node_rules",
    ),
    "rbac_escalation": (
        "FULL_AUTHORITY", "breakdown_rule", "check_rbac_write", "compact_rules",
        "compact_string", "confirm_no_escalation", "covers", "escalation_allowed",
        "rule_covers",
    ),
    "node_authorizer": (
        "NODE_LEASE_NAMESPACE", "NODE_USER_PREFIX", "NodeAuthorizer", "node_identity",
        "pod_configmap_names", "pod_secret_names",
    ),
}  # fmt: skip
_HOME = {name: module for module, names in _MOVED.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__package__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOME})
