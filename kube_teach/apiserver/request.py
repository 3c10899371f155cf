"""Who is asking for what: the user, and a REST path parsed into verb, group, resource and name.

Semantics: apiserver's `endpoints/request` RequestInfoFactory (prefixes `api` and `apis`, special
verbs `watch` and `proxy`, list/watch/deletecollection from the method and query) and the
authorizer.Attributes every later stage (authorization, admission, audit, flow control) reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..api.selectors import SelectorParseError, parse_field_selector, parse_selector

# Well-known users and groups (apiserver's authentication/user package).
SYSTEM_PRIVILEGED_GROUP = "system:masters"
NODES_GROUP = "system:nodes"
ALL_UNAUTHENTICATED = "system:unauthenticated"
ALL_AUTHENTICATED = "system:authenticated"
ANONYMOUS = "system:anonymous"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
ALL_SERVICE_ACCOUNTS_GROUP = "system:serviceaccounts"


@dataclass(frozen=True)
class UserInfo:
    """An authenticated identity: name, uid, groups and extra, as user.DefaultInfo."""

    name: str = ""
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "groups", tuple(self.groups))

    def __hash__(self) -> int:
        return hash((self.name, self.uid, self.groups))

    @classmethod
    def named(cls, name: str, groups: tuple[str, ...] | list[str] | None = None) -> UserInfo:
        """A user as the authenticators would build it: service-account names get their
        `system:serviceaccounts[:<ns>]` groups; everyone but `system:anonymous` gets
        `system:authenticated` (which `groups`, when given, replaces entirely)."""
        if groups is not None:
            return cls(name, groups=tuple(groups))
        if name == ANONYMOUS:
            return cls(name, groups=(ALL_UNAUTHENTICATED,))
        sa = split_service_account(name)
        if sa is not None:
            ns = sa[0]
            return cls(
                name,
                groups=(
                    ALL_SERVICE_ACCOUNTS_GROUP,
                    f"{ALL_SERVICE_ACCOUNTS_GROUP}:{ns}",
                    ALL_AUTHENTICATED,
                ),
            )
        return cls(name, groups=(ALL_AUTHENTICATED,))

    def to_dict(self) -> dict[str, Any]:
        """authentication.k8s.io/v1 UserInfo JSON (empty fields left out)."""
        out: dict[str, Any] = {"username": self.name}
        if self.uid:
            out["uid"] = self.uid
        if self.groups:
            out["groups"] = list(self.groups)
        if self.extra:
            out["extra"] = {k: list(v) for k, v in self.extra.items()}
        return out


def service_account_username(namespace: str, name: str) -> str:
    """`system:serviceaccount:<ns>:<name>`."""
    return f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}"


def split_service_account(username: str) -> tuple[str, str] | None:
    """(namespace, name) of a service-account username, None for any other user."""
    if not username.startswith(SERVICE_ACCOUNT_PREFIX):
        return None
    parts = username[len(SERVICE_ACCOUNT_PREFIX) :].split(":")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        return None
    return parts[0], parts[1]


@dataclass(frozen=True)
class RequestInfo:
    """What RequestInfoFactory learns from a URL; `parts` start at `{resource}/{name}`."""

    is_resource_request: bool
    path: str
    verb: str
    api_prefix: str = ""
    api_group: str = ""
    api_version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    parts: tuple[str, ...] = ()
    field_selector: str = ""
    label_selector: str = ""


@dataclass(frozen=True)
class Attributes:
    """authorizer.Attributes: one request as authorization, admission and audit see it."""

    user: UserInfo | None
    verb: str
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""
    is_resource_request: bool = True
    field_selector: str = ""
    label_selector: str = ""

    @classmethod
    def of(cls, user: UserInfo | None, info: RequestInfo) -> Attributes:
        """The attributes of a parsed request made by `user`."""
        return cls(
            user=user,
            verb=info.verb,
            api_group=info.api_group,
            api_version=info.api_version,
            resource=info.resource,
            subresource=info.subresource,
            namespace=info.namespace,
            name=info.name,
            path=info.path,
            is_resource_request=info.is_resource_request,
            field_selector=info.field_selector,
            label_selector=info.label_selector,
        )

    @classmethod
    def non_resource(cls, user: UserInfo | None, verb: str, path: str) -> Attributes:
        """A request for a path such as `/healthz` or `/metrics`."""
        return cls(user=user, verb=verb, path=path, is_resource_request=False)


# RequestInfoFactory's tables.
_API_PREFIXES = frozenset({"api", "apis"})
_GROUPLESS_PREFIXES = frozenset({"api"})
_SPECIAL_VERBS = frozenset({"proxy", "watch"})
_SPECIAL_VERBS_NO_SUBRESOURCES = frozenset({"proxy"})
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})
_VERBS_WITH_SELECTORS = frozenset({"list", "watch", "deletecollection"})
_METHOD_VERBS = {
    "POST": "create",
    "GET": "get",
    "HEAD": "get",
    "PUT": "update",
    "PATCH": "patch",
    "DELETE": "delete",
}
_INT_OPTIONS = ("limit", "timeoutSeconds")


class RequestInfoError(ValueError):
    """A path RequestInfoFactory cannot resolve (e.g. `/api/v1/watch` with nothing after)."""


def _query_dict(query: str | Mapping[str, Any] | None) -> dict[str, list[str]]:
    if query is None:
        return {}
    if isinstance(query, str):
        return parse_qs(query.lstrip("?"), keep_blank_values=True)
    out: dict[str, list[str]] = {}
    for k, v in query.items():
        out[k] = [str(x) for x in v] if isinstance(v, list | tuple) else [str(v)]
    return out


def _truthy(value: str) -> bool:
    # Go's conversion of a query value to bool: "0" and "false" (any case) are false.
    return not (value == "0" or value.lower() == "false")


def _list_options_parse(q: dict[str, list[str]]) -> tuple[bool, str | None]:
    """(watch, fieldSelector) as ListOptions decoding sees them; the selector is None when
    the whole decode failed (then only `watch` is salvaged, as upstream does)."""
    watch = bool(q.get("watch")) and _truthy(q["watch"][0])
    try:
        fs = q.get("fieldSelector", [""])[0]
        ls = q.get("labelSelector", [""])[0]
        if fs:
            parse_field_selector(fs)
        if ls:
            parse_selector(ls)
        for key in _INT_OPTIONS:
            if key in q and q[key][0] != "":
                int(q[key][0])
    except (SelectorParseError, ValueError):
        return watch, None
    return watch, fs


def _exact_name(field_selector: str) -> str:
    """The name a `metadata.name=x` field selector pins down, or ""."""
    try:
        selector = parse_field_selector(field_selector)
    except (SelectorParseError, ValueError):
        return ""
    name = selector.requires_exact_match("metadata.name") or ""
    # content.IsPathSegmentName: not "." or "..", no "/" or "%".
    if name in (".", "..") or "/" in name or "%" in name:
        return ""
    return name


def request_info(
    method: str, path: str, query: str | Mapping[str, Any] | None = None
) -> RequestInfo:
    """Parse an HTTP method and URL path the way kube-apiserver's RequestInfoFactory does.

    `path` may carry its own `?query`. Non-API paths (`/healthz`, `/apis/apps`) come back with
    `is_resource_request=False` and the lower-cased method as verb. A GET without a name is
    `list`, or `watch` with `?watch=true`; a DELETE without a name is `deletecollection`.
    Raises RequestInfoError for `/api/v1/watch` with nothing after it, as upstream errors.
    """
    split = urlsplit(path)
    path = split.path
    q = _query_dict(split.query) if split.query else _query_dict(query)
    verb = method.lower()
    parts = [p for p in path.strip("/").split("/")] if path.strip("/") else []
    if len(parts) < 3 or parts[0] not in _API_PREFIXES:
        return RequestInfo(False, path, verb)
    prefix, parts = parts[0], parts[1:]
    group = ""
    if prefix not in _GROUPLESS_PREFIXES:
        if len(parts) < 3:
            return RequestInfo(False, path, verb)
        group, parts = parts[0], parts[1:]
    version, parts = parts[0], parts[1:]
    via_path = False
    if parts[0] in _SPECIAL_VERBS:
        if len(parts) < 2:
            raise RequestInfoError(f"unable to determine kind and namespace from url, {path}")
        verb, parts, via_path = parts[0], parts[1:], True
    else:
        verb = _METHOD_VERBS.get(method.upper(), "")
    namespace = ""
    if parts[0] == "namespaces":
        if len(parts) > 1:
            namespace = parts[1]
            if len(parts) > 2 and parts[2] not in _NAMESPACE_SUBRESOURCES:
                parts = parts[2:]
    resource = subresource = name = ""
    if len(parts) >= 3 and verb not in _SPECIAL_VERBS_NO_SUBRESOURCES:
        subresource = parts[2]
    if len(parts) >= 2:
        name = parts[1]
    if parts:
        resource = parts[0]
    if not name and verb == "get":
        watch, fs = _list_options_parse(q)
        verb = "watch" if watch else "list"
        if fs:
            name = _exact_name(fs)
    if not name and verb == "delete":
        verb = "deletecollection"
    field_sel = label_sel = ""
    if not via_path and verb in _VERBS_WITH_SELECTORS:
        field_sel = q.get("fieldSelector", [""])[0]
        label_sel = q.get("labelSelector", [""])[0]
    return RequestInfo(
        True,
        path,
        verb,
        prefix,
        group,
        version,
        namespace,
        resource,
        subresource,
        name,
        tuple(parts),
        field_sel,
        label_sel,
    )


# kube-apiserver's BasicLongRunningRequestCheck(verbs, subresources).
LONG_RUNNING_VERBS = frozenset({"watch", "proxy"})
LONG_RUNNING_SUBRESOURCES = frozenset({"attach", "exec", "proxy", "log", "portforward"})
# Verbs max-in-flight counts against the read-only limit; everything else is mutating.
NON_MUTATING_VERBS = frozenset({"get", "list", "watch"})


def is_long_running(info: RequestInfo | Attributes) -> bool:
    """Watches, proxies, exec/attach/portforward and logs: not counted by max-in-flight."""
    if info.verb in LONG_RUNNING_VERBS:
        return True
    return info.is_resource_request and info.subresource in LONG_RUNNING_SUBRESOURCES


def is_mutating(verb: str) -> bool:
    """Whether max-in-flight counts `verb` against `--max-mutating-requests-inflight`."""
    return verb not in NON_MUTATING_VERBS
