"""Admission: the chain of plugins that may change (mutating) or refuse (validating) a write.

Semantics: apiserver's admission chain (every enabled plugin's Admit in kube-apiserver's fixed
order, then every Validate in the same order), admission.NewForbidden, the admission webhooks
(matching rules, failurePolicy Fail/Ignore, timeoutSeconds, JSON patches, ToStatusErr) and the
`--enable-admission-plugins` flag checks of pkg/kubeapiserver/options. Plugins live in
admission_plugins.py, admission_quota.py and admission_podsecurity.py.
"""

from __future__ import annotations

import base64
import copy
import json
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..api.errors import StatusError
from ..api.gofmt import go_quote
from ..api.selectors import LabelSelector
from .request import UserInfo

CREATE, UPDATE, DELETE, CONNECT = "CREATE", "UPDATE", "DELETE", "CONNECT"


@dataclass
class AdmissionRequest:
    """admission.Attributes: one write as the plugins see it. Mutating plugins change
    `object` in place; warnings and audit annotations accumulate on the request."""

    operation: str
    kind: str
    resource: str
    object: dict[str, Any] | None = None
    old_object: dict[str, Any] | None = None
    namespace: str = ""
    name: str = ""
    subresource: str = ""
    group: str = ""
    version: str = "v1"
    user: UserInfo = field(default_factory=UserInfo)
    dry_run: bool = False
    warnings: list[str] = field(default_factory=list)
    annotations: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # on create the name comes from the object, as the create handler fills it in
        if not self.name and self.object is not None and self.operation == CREATE:
            self.name = (self.object.get("metadata") or {}).get("name", "")


class Store(Protocol):
    """What plugins may read of the cluster (informer caches upstream)."""

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None: ...

    def list(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]: ...


class ObjectIndex:
    """A Store over a list of object dicts, each listed in name order."""

    def __init__(self, objects: Iterable[Mapping[str, Any]] = ()) -> None:
        self._by_kind: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
        for o in objects:
            self.put(o)

    def put(self, obj: Mapping[str, Any]) -> None:
        """Add or replace an object."""
        meta = obj.get("metadata") or {}
        key = (meta.get("namespace", ""), meta.get("name", ""))
        self._by_kind.setdefault(obj.get("kind", ""), {})[key] = dict(obj)

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self._by_kind.get(kind, {}).get((namespace, name))

    def list(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        items = self._by_kind.get(kind, {})
        return [items[k] for k in sorted(items) if namespace is None or k[0] == namespace]


@dataclass
class AdmissionContext:
    """What plugins are given: the cluster's objects, a seeded random stream (generated
    names, webhook request uids), and the simulated time in Unix nanoseconds."""

    store: Store = field(default_factory=ObjectIndex)
    rng: random.Random = field(default_factory=lambda: random.Random("admission"))
    now_ns: int = 0
    quota_updates: list[dict[str, Any]] = field(default_factory=list)


class Plugin(Protocol):
    name: str


def object_name(req: AdmissionRequest) -> str:
    """The name errors use: the request's, else the object's name or generateName, else
    `Unknown` (admission's extractResourceName)."""
    if req.name:
        return req.name
    if req.object is not None:
        meta = req.object.get("metadata") or {}
        return meta.get("name") or meta.get("generateName") or "Unknown"
    return "Unknown"


def forbidden(req: AdmissionRequest, err: str) -> StatusError:
    """admission.NewForbidden: `<resource>[.<group>] "<name>" is forbidden: <err>`."""
    qualified = f"{req.resource}.{req.group}" if req.group else req.resource
    name = object_name(req)
    details = {k: v for k, v in (("name", name), ("group", req.group), ("kind", req.resource)) if v}
    return StatusError(
        "Forbidden", 403, f"{qualified} {go_quote(name)} is forbidden: {err}", details
    )


def not_found(resource: str, name: str, group: str = "") -> StatusError:
    """apimachinery's NewNotFound for a GroupResource."""
    qualified = f"{resource}.{group}" if group else resource
    details = {k: v for k, v in (("name", name), ("group", group), ("kind", resource)) if v}
    return StatusError("NotFound", 404, f"{qualified} {go_quote(name)} not found", details)


def aggregate(errors: Sequence[str]) -> str:
    """utilerrors.NewAggregate's text: one error bare, several as `[a, b]`, duplicates once."""
    texts = list(dict.fromkeys(errors))
    return texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"


# -- webhooks -----------------------------------------------------------------------------------


@dataclass
class Webhook:
    """An admission webhook whose server is a Python callable taking the AdmissionReview
    `request` dict and returning the `response` dict (`allowed`, `status`, `patch` as a
    list of JSON-patch operations or base64 text, `warnings`). `latency_seconds` is how long
    the call takes in simulated time; more than `timeout_seconds` is a timeout."""

    name: str
    handler: Callable[[dict[str, Any]], Mapping[str, Any]]
    failure_policy: str = "Fail"
    timeout_seconds: int = 10
    rules: Sequence[Mapping[str, Any]] = (
        {"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*/*"]},
    )
    namespace_selector: Mapping[str, Any] | None = None
    object_selector: Mapping[str, Any] | None = None
    url: str = ""
    latency_seconds: float = 0.0

    def endpoint(self) -> str:
        return self.url or f"https://{self.name}:443"

    def matches(self, req: AdmissionRequest, store: Store) -> bool:
        if not any(_rule_matches(r, req) for r in self.rules):
            return False
        if self.object_selector is not None:
            sel = LabelSelector.from_dict(self.object_selector)
            objs = [o for o in (req.object, req.old_object) if o is not None]
            if not any(sel.matches((o.get("metadata") or {}).get("labels") or {}) for o in objs):
                return False
        if self.namespace_selector is not None and req.namespace:
            ns = store.get("Namespace", "", req.namespace) or {}
            labels = (ns.get("metadata") or {}).get("labels") or {}
            if not LabelSelector.from_dict(self.namespace_selector).matches(labels):
                return False
        return True


def _rule_matches(rule: Mapping[str, Any], req: AdmissionRequest) -> bool:
    def has(key: str, value: str) -> bool:
        items = rule.get(key) or []
        return "*" in items or value in items

    if (
        not has("operations", req.operation)
        or not has("apiGroups", req.group)
        or not has("apiVersions", req.version)
    ):
        return False
    combined = req.resource + ("/" + req.subresource if req.subresource else "")
    ok = False
    for r in rule.get("resources") or ():
        res, _, sub = r.partition("/")
        if r in ("*/*", combined) or (r == "*" and not req.subresource):
            ok = True
        elif res == "*" and sub == req.subresource and req.subresource:
            ok = True
        elif sub == "*" and res == req.resource:
            ok = True
    scope = rule.get("scope", "*")
    if scope == "Namespaced" and not req.namespace:
        return False
    if scope == "Cluster" and req.namespace:
        return False
    return ok


def _review(req: AdmissionRequest, ctx: AdmissionContext) -> dict[str, Any]:
    uid = f"{ctx.rng.getrandbits(128):032x}"
    review: dict[str, Any] = {
        "uid": f"{uid[:8]}-{uid[8:12]}-{uid[12:16]}-{uid[16:20]}-{uid[20:]}",
        "kind": {"group": req.group, "version": req.version, "kind": req.kind},
        "resource": {"group": req.group, "version": req.version, "resource": req.resource},
        "requestKind": {"group": req.group, "version": req.version, "kind": req.kind},
        "requestResource": {"group": req.group, "version": req.version, "resource": req.resource},
        "name": req.name,
        "namespace": req.namespace,
        "operation": req.operation,
        "userInfo": req.user.to_dict(),
        "object": copy.deepcopy(req.object),
        "oldObject": copy.deepcopy(req.old_object),
        "dryRun": req.dry_run,
    }
    if req.subresource:
        review["subResource"] = req.subresource
    return review


def _call(hook: Webhook, req: AdmissionRequest, ctx: AdmissionContext) -> Mapping[str, Any]:
    """The webhook's response, or raise _CallError with upstream's wording."""
    if hook.latency_seconds > hook.timeout_seconds:
        raise _CallError(
            f'failed to call webhook: Post "{hook.endpoint()}?timeout={hook.timeout_seconds}s": context deadline exceeded'
        )
    try:
        return hook.handler(_review(req, ctx))
    except Exception as e:  # noqa: BLE001 -- any failure of the webhook server is a call error
        raise _CallError(
            f'failed to call webhook: Post "{hook.endpoint()}?timeout={hook.timeout_seconds}s": {e}'
        ) from e


class _CallError(Exception):
    pass


def _denied(hook: Webhook, response: Mapping[str, Any]) -> StatusError:
    """ToStatusErr: `admission webhook "<name>" denied the request: <message>`; code at
    least 400 (default 400), status Failure."""
    status = dict(response.get("status") or {})
    code = status.get("code", 0)
    code = code if code >= 400 else 400
    denied = f"admission webhook {go_quote(hook.name)} denied the request"
    if status.get("message"):
        message = f"{denied}: {status['message']}"
    elif status.get("reason"):
        message = f"{denied}: {status['reason']}"
    else:
        message = f"{denied} without explanation"
    return StatusError(status.get("reason", ""), code, message, status.get("details") or {})


def apply_json_patch(doc: Any, ops: Sequence[Mapping[str, Any]]) -> Any:
    """RFC 6902 add, remove, replace, copy, move and test on plain JSON values."""

    def split(path: str) -> list[str]:
        return [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]

    def walk(root: Any, parts: list[str]) -> tuple[Any, str]:
        cur = root
        for p in parts[:-1]:
            cur = cur[int(p)] if isinstance(cur, list) else cur[p]
        return cur, parts[-1]

    doc = copy.deepcopy(doc)
    for op in ops:
        kind, parts = op["op"], split(op["path"])
        if not parts:
            doc = copy.deepcopy(op.get("value"))
            continue
        parent, key = walk(doc, parts)
        if kind in ("remove", "replace", "move"):
            src_parts = split(op["from"]) if kind == "move" else parts
            sp, sk = walk(doc, src_parts)
            value = sp.pop(int(sk)) if isinstance(sp, list) else sp.pop(sk)
            if kind == "remove":
                continue
            if kind == "replace":
                value = op["value"]
            parent, key = walk(doc, parts)
        elif kind == "copy":
            sp, sk = walk(doc, split(op["from"]))
            value = copy.deepcopy(sp[int(sk)] if isinstance(sp, list) else sp[sk])
        elif kind == "test":
            if (parent[int(key)] if isinstance(parent, list) else parent.get(key)) != op["value"]:
                raise ValueError(f"testing value {op['path']} failed")
            continue
        else:
            value = copy.deepcopy(op["value"])
        if isinstance(parent, list):
            parent.insert(len(parent) if key == "-" else int(key), value)
        else:
            parent[key] = value
    return doc


def run_validating_webhook(
    hook: Webhook, index: int, req: AdmissionRequest, ctx: AdmissionContext
) -> None:
    """Call one validating webhook; Ignore swallows call failures (with an audit annotation),
    Fail turns them into a 500; a denial becomes ToStatusErr's error."""
    if not hook.matches(req, ctx.store):
        return
    try:
        response = _call(hook, req, ctx)
    except _CallError as e:
        if hook.failure_policy == "Ignore":
            req.annotations[
                f"failed-open.validating.webhook.admission.k8s.io/round_0_index_{index}"
            ] = hook.name
            return
        raise StatusError.internal(f"failed calling webhook {go_quote(hook.name)}: {e}") from None
    req.warnings.extend(response.get("warnings") or ())
    if not response.get("allowed"):
        raise _denied(hook, response)


# -- the chain ----------------------------------------------------------------------------------

# kube-apiserver's AllOrderedPlugins (v1.33-v1.35): the order plugins run in, whatever the flags.
ALL_ORDERED_PLUGINS = (
    "AlwaysAdmit", "NamespaceAutoProvision", "NamespaceLifecycle", "NamespaceExists",
    "LimitPodHardAntiAffinityTopology", "LimitRanger", "ServiceAccount", "NodeRestriction",
    "TaintNodesByCondition", "AlwaysPullImages", "ImagePolicyWebhook", "PodSecurity",
    "PodNodeSelector", "Priority", "DefaultTolerationSeconds", "PodTolerationRestriction",
    "EventRateLimit", "ExtendedResourceToleration", "DefaultStorageClass",
    "StorageObjectInUseProtection", "OwnerReferencesPermissionEnforcement",
    "PersistentVolumeClaimResize", "RuntimeClass", "CertificateApproval", "CertificateSigning",
    "ClusterTrustBundleAttest", "CertificateSubjectRestriction", "DefaultIngressClass",
    "DenyServiceExternalIPs", "PodTopologyLabels", "MutatingAdmissionPolicy",
    "MutatingAdmissionWebhook", "ValidatingAdmissionPolicy", "ValidatingAdmissionWebhook",
    "ResourceQuota", "AlwaysDeny",
)  # fmt: skip
DEFAULT_ON_PLUGINS = frozenset({
    "NamespaceLifecycle", "LimitRanger", "ServiceAccount", "DefaultStorageClass",
    "PersistentVolumeClaimResize", "DefaultTolerationSeconds", "MutatingAdmissionWebhook",
    "ValidatingAdmissionWebhook", "ResourceQuota", "StorageObjectInUseProtection", "Priority",
    "TaintNodesByCondition", "RuntimeClass", "CertificateApproval", "CertificateSigning",
    "ClusterTrustBundleAttest", "CertificateSubjectRestriction", "DefaultIngressClass",
    "PodSecurity", "PodTopologyLabels", "MutatingAdmissionPolicy", "ValidatingAdmissionPolicy",
})  # fmt: skip


class StartupError(Exception):
    """kube-apiserver refused its flags; `str()` is the error it logs before exiting."""

    def log_line(self) -> str:
        """The klog line (timestamp and pid left out): `"command failed" err="..."`."""
        return f'"command failed" err={json.dumps(str(self))}'


def validate_admission_flags(enable: Sequence[str] = (), disable: Sequence[str] = ()) -> list[str]:
    """AdmissionOptions.Validate: unknown plugin names (PodSecurityPolicy is unknown since
    v1.25, when it was removed) and overlaps between the two flags."""
    known = set(ALL_ORDERED_PLUGINS)
    errs = [
        f"enable-admission-plugins plugin {go_quote(n)} is unknown"
        for n in enable
        if n not in known
    ]
    errs += [
        f"disable-admission-plugins plugin {go_quote(n)} is unknown"
        for n in disable
        if n not in known
    ]
    both = sorted(set(enable) & set(disable))
    if both:
        errs.append(
            f"[{' '.join(both)}] in enable-admission-plugins and disable-admission-plugins overlapped"
        )
    return errs


def enabled_plugins(enable: Sequence[str] = (), disable: Sequence[str] = ()) -> list[str]:
    """The plugins that run, in execution order, for `--enable-admission-plugins` /
    `--disable-admission-plugins`; raises StartupError as kube-apiserver would refuse to start."""
    errs = validate_admission_flags(enable, disable)
    if errs:
        raise StartupError(aggregate(errs))
    on = (DEFAULT_ON_PLUGINS | set(enable)) - set(disable)
    return [n for n in ALL_ORDERED_PLUGINS if n in on]


class AdmissionChain:
    """The enabled plugins in upstream's order plus webhooks. `mutate` runs every Admit,
    `validate` every Validate; the server validates the object schema in between."""

    def __init__(
        self,
        plugins: Sequence[str] | None = None,
        *,
        mutating_webhooks: Sequence[Webhook] = (),
        validating_webhooks: Sequence[Webhook] = (),
        registry: Mapping[str, Any] | None = None,
    ) -> None:
        from .admission_plugins import IN_TREE

        reg = dict(registry or IN_TREE)
        names = (
            enabled_plugins()
            if plugins is None
            else [n for n in ALL_ORDERED_PLUGINS if n in plugins]
        )
        self.plugins = [reg[n]() for n in names if n in reg]
        self.mutating_webhooks = list(mutating_webhooks)
        self.validating_webhooks = list(validating_webhooks)
        self.names = names

    def mutate(self, req: AdmissionRequest, ctx: AdmissionContext) -> None:
        """Run mutating admission; raises StatusError when a plugin or webhook refuses."""
        for p in self.plugins:
            if p.name == "MutatingAdmissionWebhook":
                for i, hook in enumerate(self.mutating_webhooks):
                    run_mutating_webhook(hook, i, req, ctx)
            elif hasattr(p, "admit"):
                p.admit(req, ctx)

    def validate(self, req: AdmissionRequest, ctx: AdmissionContext) -> None:
        """Run validating admission; raises StatusError when a plugin or webhook refuses."""
        for p in self.plugins:
            if p.name == "ValidatingAdmissionWebhook":
                for i, hook in enumerate(self.validating_webhooks):
                    run_validating_webhook(hook, i, req, ctx)
            elif hasattr(p, "validate"):
                p.validate(req, ctx)

    def admit(
        self,
        req: AdmissionRequest,
        ctx: AdmissionContext,
        validate_object: Callable[[AdmissionRequest], None] | None = None,
    ) -> AdmissionRequest:
        """mutate -> object validation (the callback, if any) -> validate; returns `req`."""
        self.mutate(req, ctx)
        if validate_object is not None:
            validate_object(req)
        self.validate(req, ctx)
        return req


def run_mutating_webhook(
    hook: Webhook, index: int, req: AdmissionRequest, ctx: AdmissionContext
) -> None:
    """Call one mutating webhook and apply its JSON patch to `req.object`."""
    if not hook.matches(req, ctx.store):
        return
    try:
        response = _call(hook, req, ctx)
    except _CallError as e:
        if hook.failure_policy == "Ignore":
            req.annotations[
                f"failed-open.mutation.webhook.admission.k8s.io/round_0_index_{index}"
            ] = hook.name
            return
        raise StatusError.internal(f"failed calling webhook {go_quote(hook.name)}: {e}") from None
    req.warnings.extend(response.get("warnings") or ())
    if not response.get("allowed"):
        raise _denied(hook, response)
    patch = response.get("patch")
    if patch and req.object is not None:
        ops = json.loads(base64.b64decode(patch)) if isinstance(patch, str | bytes) else patch
        patched = apply_json_patch(req.object, ops)
        req.object.clear()
        req.object.update(patched)
