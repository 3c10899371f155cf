"""Authorization by RBAC: Roles, ClusterRoles and their bindings, evaluated as kube-apiserver does.

Semantics: plugin/pkg/auth/authorizer/rbac (RBACAuthorizer, RuleAllows), pkg/apis/rbac/v1
evaluation_helpers, pkg/registry/rbac/validation (the rule resolver and its visiting order),
apiserver's Forbidden message, the union of authorizers, escalation checks (ConfirmNoEscalation),
ClusterRole aggregation, the bootstrap policy (YAML under bootstrap/) and the Node authorizer.
"""

from __future__ import annotations

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
        authorizer = RBACAuthorizer.from_objects([*bootstrap_policy(), *objects])
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


# -- escalation prevention: pkg/registry/rbac/validation, escalation_check.go --------------------


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


# -- ClusterRole aggregation: the clusterrole-aggregation controller ------------------------------


def aggregate_cluster_roles(cluster_roles: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Fill in `rules` of every ClusterRole with an aggregationRule, as the
    clusterrole-aggregation controller does: for each selector in order, the roles it selects
    sorted by name (itself excluded), their rules appended unless already present. Repeated
    until nothing changes, so `admin` also picks up what `edit` aggregated from `view`."""
    from ..api.selectors import LabelSelector

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
    import importlib.resources

    import yaml

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
    import copy

    roles = aggregate_cluster_roles(copy.deepcopy(BOOTSTRAP_CLUSTER_ROLES))
    return [*roles, *copy.deepcopy(BOOTSTRAP_CLUSTER_ROLE_BINDINGS)]


def node_rules() -> list[Mapping[str, Any]]:
    """The `system:node` ClusterRole's rules: what the Node authorizer grants every kubelet
    for resources it does not subdivide."""
    role = next(r for r in BOOTSTRAP_CLUSTER_ROLES if _name(r) == "system:node")
    return list(role["rules"])


# -- the Node authorizer: plugin/pkg/auth/authorizer/node -----------------------------------------

NODE_USER_PREFIX = "system:node:"
NODE_LEASE_NAMESPACE = "kube-node-lease"


def node_identity(user: UserInfo | None) -> tuple[str, bool]:
    """(node name, is a node): a node is in `system:nodes` and named `system:node:<name>`."""
    if (
        user is None
        or "system:nodes" not in user.groups
        or not user.name.startswith(NODE_USER_PREFIX)
    ):
        return "", False
    return user.name[len(NODE_USER_PREFIX) :], True


def _containers(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [
        *(spec.get("initContainers") or ()),
        *(spec.get("containers") or ()),
        *(spec.get("ephemeralContainers") or ()),
    ]


def pod_secret_names(pod: Mapping[str, Any]) -> list[str]:
    """Secrets a pod references (pull secrets, volumes, env), as VisitPodSecretNames."""
    spec = pod.get("spec") or {}
    names = [s.get("name", "") for s in spec.get("imagePullSecrets") or ()]
    for c in _containers(spec):
        names += [
            e["secretRef"].get("name", "") for e in c.get("envFrom") or () if e.get("secretRef")
        ]
        for e in c.get("env") or ():
            ref = (e.get("valueFrom") or {}).get("secretKeyRef")
            if ref:
                names.append(ref.get("name", ""))
    for v in spec.get("volumes") or ():
        if v.get("secret"):
            names.append(v["secret"].get("secretName", ""))
        for src in (v.get("projected") or {}).get("sources") or ():
            if src.get("secret"):
                names.append(src["secret"].get("name", ""))
    return [n for n in dict.fromkeys(names) if n]


def pod_configmap_names(pod: Mapping[str, Any]) -> list[str]:
    """ConfigMaps a pod references (volumes, env), as VisitPodConfigmapNames."""
    spec = pod.get("spec") or {}
    names = []
    for c in _containers(spec):
        names += [
            e["configMapRef"].get("name", "")
            for e in c.get("envFrom") or ()
            if e.get("configMapRef")
        ]
        for e in c.get("env") or ():
            ref = (e.get("valueFrom") or {}).get("configMapKeyRef")
            if ref:
                names.append(ref.get("name", ""))
    for v in spec.get("volumes") or ():
        if v.get("configMap"):
            names.append(v["configMap"].get("name", ""))
        for src in (v.get("projected") or {}).get("sources") or ():
            if src.get("configMap"):
                names.append(src["configMap"].get("name", ""))
    return [n for n in dict.fromkeys(names) if n]


class NodeAuthorizer:
    """Lets a kubelet (`system:node:<n>`) read what its own pods use and write its own Node,
    Lease and pod status; other resources fall back to the `system:node` rules. The graph of
    node <- pod <- secret/configmap/pvc <- pv is built from the object dicts given."""

    def __init__(self, objects: Iterable[Mapping[str, Any]] = ()) -> None:
        self.nodes: set[str] = set()
        self.edges: dict[tuple[str, str, str], str] = {}  # (type, ns, name) -> node
        pvc_to_pv: dict[tuple[str, str], str] = {}
        pods = []
        for o in objects:
            kind = o.get("kind")
            if kind == "Node":
                self.nodes.add(_name(o))
            elif kind == "Pod":
                pods.append(o)
            elif kind == "PersistentVolumeClaim" and (o.get("spec") or {}).get("volumeName"):
                pvc_to_pv[(_ns(o), _name(o))] = o["spec"]["volumeName"]
        self._reach: dict[tuple[str, str, str], set[str]] = {}
        for pod in pods:
            node = (pod.get("spec") or {}).get("nodeName")
            if not node:
                continue
            self.nodes.add(node)
            ns = _ns(pod)
            refs = [("pod", ns, _name(pod))]
            refs += [("secret", ns, n) for n in pod_secret_names(pod)]
            refs += [("configmap", ns, n) for n in pod_configmap_names(pod)]
            sa = (pod.get("spec") or {}).get("serviceAccountName")
            if sa:
                refs.append(("serviceAccount", ns, sa))
            for v in (pod.get("spec") or {}).get("volumes") or ():
                claim = (v.get("persistentVolumeClaim") or {}).get("claimName")
                if claim:
                    refs.append(("pvc", ns, claim))
                    if (ns, claim) in pvc_to_pv:
                        refs.append(("pv", "", pvc_to_pv[(ns, claim)]))
            for ref in refs:
                self._reach.setdefault(ref, set()).add(node)

    def _has_path(self, node: str, vtype: str, ns: str, name: str) -> bool:
        return node in self.nodes and node in self._reach.get((vtype, ns, name), set())

    def _authorize_object(self, node: str, vtype: str, attrs: Attributes) -> Decision:
        if not attrs.name:
            return Decision(NO_OPINION, "No Object name found")
        if self._has_path(node, vtype, attrs.namespace, attrs.name):
            return Decision(ALLOW)
        return Decision(NO_OPINION, f"no relationship found between node '{node}' and this object")

    def authorize(self, attrs: Attributes) -> Decision:
        """Node authorization of one request (NoOpinion for anyone who is not a node)."""
        node, is_node = node_identity(attrs.user)
        if not is_node:
            return Decision(NO_OPINION)
        if not node:
            return Decision(NO_OPINION, f"unknown node for user {go_quote(attrs.user.name)}")
        if attrs.is_resource_request:
            handler = {
                ("", "secrets"): self._read_namespaced,
                ("", "configmaps"): self._read_namespaced,
                ("", "persistentvolumeclaims"): self._pvc,
                ("", "persistentvolumes"): self._get_only,
                ("", "serviceaccounts"): self._token,
                ("coordination.k8s.io", "leases"): self._lease,
                ("", "nodes"): self._node,
                ("", "pods"): self._pod,
            }.get((attrs.api_group, attrs.resource))
            if handler is not None:
                return handler(node, attrs)
        return Decision(ALLOW) if rules_allow(attrs, node_rules()) else Decision(NO_OPINION)

    def _vtype(self, attrs: Attributes) -> str:
        return {
            "secrets": "secret",
            "configmaps": "configmap",
            "persistentvolumeclaims": "pvc",
            "persistentvolumes": "pv",
            "pods": "pod",
            "serviceaccounts": "serviceAccount",
        }[attrs.resource]

    def _read_namespaced(self, node: str, attrs: Attributes) -> Decision:
        if attrs.verb not in ("get", "list", "watch"):
            return Decision(NO_OPINION, "can only read resources of this type")
        if attrs.subresource:
            return Decision(NO_OPINION, "cannot read subresource")
        if not attrs.namespace:
            return Decision(NO_OPINION, "can only read namespaced object of this type")
        return self._authorize_object(node, self._vtype(attrs), attrs)

    def _get_only(self, node: str, attrs: Attributes) -> Decision:
        if attrs.verb != "get":
            return Decision(NO_OPINION, "can only get individual resources of this type")
        if attrs.subresource:
            return Decision(NO_OPINION, "cannot get subresource")
        return self._authorize_object(node, self._vtype(attrs), attrs)

    def _pvc(self, node: str, attrs: Attributes) -> Decision:
        if attrs.subresource == "status":
            if attrs.verb not in ("update", "patch"):
                return Decision(NO_OPINION, "can only get/update/patch this type")
            return self._authorize_object(node, "pvc", attrs)
        return self._get_only(node, attrs)

    def _token(self, node: str, attrs: Attributes) -> Decision:
        if attrs.verb != "create" or not attrs.name:
            return Decision(NO_OPINION, "can only create tokens for individual service accounts")
        if attrs.subresource != "token":
            return Decision(NO_OPINION, "can only create token subresource of serviceaccount")
        return self._authorize_object(node, "serviceAccount", attrs)

    def _lease(self, node: str, attrs: Attributes) -> Decision:
        if attrs.verb not in ("get", "create", "update", "patch", "delete"):
            return Decision(
                NO_OPINION, "can only get, create, update, patch, or delete a node lease"
            )
        if attrs.namespace != NODE_LEASE_NAMESPACE:
            return Decision(
                NO_OPINION,
                f'can only access leases in the "{NODE_LEASE_NAMESPACE}" system namespace',
            )
        if attrs.verb != "create" and attrs.name != node:
            return Decision(
                NO_OPINION, "can only access node lease with the same name as the requesting node"
            )
        return Decision(ALLOW)

    def _node(self, node: str, attrs: Attributes) -> Decision:
        if attrs.subresource == "":
            if attrs.verb in ("create", "update", "patch"):
                return Decision(ALLOW)  # NodeRestriction limits this to the node's own object
            if attrs.verb in ("get", "list", "watch"):
                if attrs.name == node:
                    return Decision(ALLOW)
                if not attrs.name:
                    return Decision(
                        NO_OPINION, f"node '{node}' cannot read all nodes, only its own Node object"
                    )
                return Decision(
                    NO_OPINION,
                    f"node '{node}' cannot read '{attrs.name}', only its own Node object",
                )
        elif attrs.subresource == "status" and attrs.verb in ("update", "patch"):
            return Decision(ALLOW)
        return Decision(NO_OPINION)

    def _pod(self, node: str, attrs: Attributes) -> Decision:
        if attrs.subresource == "":
            if attrs.verb == "get":
                return self._get_only(node, attrs)
            if attrs.verb in ("list", "watch"):
                if f"spec.nodeName={node}" in attrs.field_selector.split(","):
                    return Decision(ALLOW)
                if attrs.name:
                    return self._authorize_object(node, "pod", attrs)
                return Decision(
                    NO_OPINION, "can only list/watch pods with spec.nodeName field selector"
                )
            if attrs.verb in ("create", "delete"):
                return Decision(ALLOW)  # mirror pods; NodeRestriction checks the binding
        elif attrs.subresource == "status" and attrs.verb in ("update", "patch"):
            return Decision(ALLOW)
        elif attrs.subresource == "eviction" and attrs.verb == "create":
            return Decision(ALLOW)
        return Decision(NO_OPINION)
