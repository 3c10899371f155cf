"""kube-apiserver as a host on the simulated network: every request through upstream's stages.

Order (the handler chain of k8s.io/apiserver's DefaultBuildHandlerChain, then the REST handler):
request info -> authentication -> flow control (max-in-flight) -> authorization -> decode ->
defaulting, admission and validation (in the registry) -> etcd. Replies leave after a service
time from a small cost model (base latency, more with concurrency and with list size), so
overload shows as latency and 429s. Watches are served from a per-resource event window, the
watch cache: too old a resourceVersion gets 410 Gone.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..api.errors import StatusError
from ..api.kinds import KINDS, KindInfo
from ..api.objects import Obj
from ..api.rest import Request, Response, WatchEvent
from ..api.selectors import parse_field_selector, parse_selector
from ..sim import Metrics, Network, Trace
from ..sim.duration import to_ns
from .flowcontrol import FlowRequest, MaxInFlight, Reject
from .request import (
    Attributes,
    RequestInfoError,
    UserInfo,
    request_info,
)
from .store import ObjectStore, _field_set

WATCH_WINDOW = 1024  # events kept per resource for watches that resume from a resourceVersion
_BY_RESOURCE = {(k.group, k.resource): k for k in KINDS.values()}

Authenticate = Callable[[Mapping[str, Any]], UserInfo | None]
Authorize = Callable[[Attributes], tuple[bool, str]]


def allow_all(attrs: Attributes) -> tuple[bool, str]:
    """The AlwaysAllow authorizer (until RBAC is switched on)."""
    return True, ""


def trust_credentials(credentials: Mapping[str, Any]) -> UserInfo | None:
    """A stand-in authenticator: a client certificate's CN/O, else `system:anonymous`."""
    cert = credentials.get("cert")
    if cert:
        return UserInfo.named(cert.get("cn", ""), list(cert.get("o", [])) or None)
    return UserInfo.named("system:anonymous")


@dataclass
class _Watcher:
    src: str
    id: int
    info: KindInfo
    namespace: str | None
    labels: Any
    fields: Any
    bookmarks: bool


@dataclass
class CostModel:
    """Service time of one request: `base`, plus `per_item` for every object a list returns,
    multiplied by (1 + `contention` x requests in flight), as a busy server slows down."""

    base_ns: int = to_ns("2ms")
    per_item_ns: int = to_ns("20us")
    contention: float = 0.01

    def service_time(self, items: int, inflight: int) -> int:
        return int((self.base_ns + self.per_item_ns * items) * (1 + self.contention * inflight))


@dataclass
class APIServer:
    """One kube-apiserver replica, named `name` on `network`, serving `store`."""

    name: str
    network: Network
    store: ObjectStore
    trace: Trace
    metrics: Metrics
    max_requests_inflight: int = 400
    max_mutating_requests_inflight: int = 200
    authenticate: Authenticate = trust_credentials
    authorize: Authorize = allow_all
    cost: CostModel = field(default_factory=CostModel)

    def __post_init__(self) -> None:
        self.host = self.network.add_host(self.name, self._receive)
        self.clock = self.network.clock
        self.inflight = MaxInFlight(self.max_requests_inflight, self.max_mutating_requests_inflight)
        self._watchers: dict[tuple[str, int], _Watcher] = {}
        self._window: dict[str, deque[tuple[int, str, Obj]]] = {}
        self._oldest: dict[str, int] = {}
        self.store.watch(self._stored)
        self.host.on_crash.append(self._crashed)
        self.served = 0

    # -- the handler chain ---------------------------------------------------------------------
    def _receive(self, src: str, msg: Any) -> None:
        if isinstance(msg, Request):
            self._serve(src, msg)

    def _serve(self, src: str, req: Request) -> None:
        try:
            info = request_info(req.method, req.path)
        except RequestInfoError as err:
            self._reply(src, Response(req.id, 404, StatusError("NotFound", 404, str(err)).status))
            return
        user = self.authenticate(req.credentials)
        if user is None:
            self._reply(
                src, Response(req.id, 401, StatusError("Unauthorized", 401, "Unauthorized").status)
            )
            return
        attrs = Attributes(
            user, info.verb, info.api_group, info.api_version, info.resource, info.subresource,
            info.namespace, info.name, info.path, info.is_resource_request,
        )  # fmt: skip
        verdict = self.inflight.admit(FlowRequest(req.id, attrs), self.clock.now_ns)
        if isinstance(verdict, Reject):
            self.metrics.inc("apiserver_rejected_requests_total", verb=info.verb)
            headers = {"Retry-After": str(verdict.retry_after), **verdict.headers}
            self._reply(src, Response(req.id, verdict.code, verdict.body, headers))
            return
        self._gauge()
        allowed, reason = self.authorize(attrs)
        if not allowed:
            self._finish(src, req.id, 403, self._forbidden(attrs, reason).status, items=0)
            return
        try:
            code, body, items = self._handle(src, req, attrs)
        except StatusError as err:
            code, body, items = err.code, err.status, 0
        if code is not None:
            self._finish(src, req.id, code, body, items)

    def _finish(self, src: str, request_id: int, code: int, body: Any, items: int) -> None:
        delay = self.cost.service_time(items, len(self.inflight.in_flight))

        def done() -> None:
            self.inflight.finish(request_id, self.clock.now_ns)
            self._gauge()
            self._reply(src, Response(request_id, code, body))

        self.metrics.observe("apiserver_request_duration_seconds", delay / 1e9)
        self.host.call_later(delay / 1e9, done)

    def _reply(self, dst: str, response: Response) -> None:
        self.served += 1
        self.host.send(dst, response)

    def _gauge(self) -> None:
        for mutating, kind in ((False, "readOnly"), (True, "mutating")):
            self.metrics.set("apiserver_current_inflight_requests", self.inflight.in_use(mutating),
                             request_kind=kind)  # fmt: skip

    def _forbidden(self, attrs: Attributes, reason: str) -> StatusError:
        info = _BY_RESOURCE.get((attrs.api_group, attrs.resource))
        resource = attrs.resource + (f".{attrs.api_group}" if attrs.api_group else "")
        if info is not None:
            resource = info.qualified_resource
        target = f'{resource} "{attrs.name}"' if attrs.name else resource
        return StatusError("Forbidden", 403, f"{target} is forbidden: {reason}",
                           {"name": attrs.name, "group": attrs.api_group, "kind": attrs.resource})  # fmt: skip

    def _crashed(self) -> None:
        self._watchers.clear()
        self.inflight.in_flight.clear()

    # -- REST verbs ------------------------------------------------------------------------------
    def _handle(self, src: str, req: Request, attrs: Attributes) -> tuple[int | None, Any, int]:
        if not attrs.is_resource_request:
            if attrs.path in ("/healthz", "/readyz", "/livez"):
                return 200, "ok", 0
            raise StatusError("NotFound", 404, "the server could not find the requested resource")
        info = _BY_RESOURCE.get((attrs.api_group, attrs.resource))
        if info is None:
            raise StatusError("NotFound", 404, "the server could not find the requested resource")
        ns = attrs.namespace or None
        query = _query(req.path)
        verb, sub = attrs.verb, attrs.subresource
        if verb == "get":
            return 200, self.store.get(info, attrs.name, ns), 1
        if verb == "list":
            items = self.store.list(
                info, ns, query.get("labelSelector"), query.get("fieldSelector")
            )
            body = {
                "kind": f"{info.kind}List",
                "apiVersion": info.api_version,
                "metadata": {"resourceVersion": str(self.store.revision)},
                "items": items,
            }
            return 200, body, len(items)
        if verb == "watch":
            self._open_watch(src, req.id, info, ns, query)
            return None, None, 0
        body = copy.deepcopy(req.body) if isinstance(req.body, dict) else req.body
        if verb == "create" and sub == "binding":
            return 201, self._bind(info, attrs.name, ns, body), 1
        if verb == "create":
            self._check_namespace(body, attrs)
            return 201, self.store.create(body), 1
        if verb == "update":
            self._check_namespace(body, attrs)
            return 200, self.store.update(body, subresource=sub or None), 1
        if verb == "patch":
            live = self.store.get(info, attrs.name, ns)
            patched = _merge_patch(dict(live), body or {})
            return 200, self.store.update(patched, subresource=sub or None), 1
        if verb == "delete":
            return 200, self.store.delete(info, attrs.name, ns), 1
        raise StatusError(
            "MethodNotAllowed",
            405,
            "the server does not allow this method on the requested resource",
        )

    @staticmethod
    def _check_namespace(body: Any, attrs: Attributes) -> None:
        if not isinstance(body, dict):
            raise StatusError.bad_request("the body of the request was in an unknown format")
        meta = body.setdefault("metadata", {})
        if attrs.namespace:
            if meta.get("namespace") and meta["namespace"] != attrs.namespace:
                raise StatusError.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = attrs.namespace

    def _bind(self, info: KindInfo, name: str, ns: str | None, binding: Any) -> dict[str, Any]:
        """pods/binding: set spec.nodeName once, as the Binding REST storage does."""
        target = (binding or {}).get("target") or {}
        pod = self.store.get(info, name, ns)
        if pod.spec.get("nodeName"):
            raise StatusError("Conflict", 409,
                              f'Operation cannot be fulfilled on pods/binding "{name}": pod {name} '
                              f'is already assigned to node "{pod.spec["nodeName"]}"')  # fmt: skip
        pod["spec"]["nodeName"] = target.get("name", "")
        pod["status"] = pod.get("status") or {}
        conditions = [
            c for c in pod["status"].get("conditions") or [] if c.get("type") != "PodScheduled"
        ]
        conditions.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                           "lastTransitionTime": self.store.timestamp()})  # fmt: skip
        pod["status"]["conditions"] = conditions
        self.store.update(pod, internal=True)
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "code": 201,
        }

    # -- watches -------------------------------------------------------------------------------
    def _open_watch(
        self, src: str, watch_id: int, info: KindInfo, ns: str | None, query: dict[str, str]
    ) -> None:
        labels = parse_selector(query.get("labelSelector", ""))
        fields = (
            parse_field_selector(query["fieldSelector"]) if query.get("fieldSelector") else None
        )
        w = _Watcher(
            src, watch_id, info, ns, labels, fields, query.get("allowWatchBookmarks") == "true"
        )
        rv = query.get("resourceVersion", "")
        if rv in ("", "0"):
            for obj in self.store.list(info, ns):
                self._push(w, "ADDED", obj)
        else:
            start = int(rv)
            oldest = self._oldest.get(info.kind, 0)
            if start < oldest:
                status = StatusError.gone(f"too old resource version: {start} ({oldest})").status
                self.host.send(src, WatchEvent(watch_id, "ERROR", status))
                self.host.send(src, Response(watch_id, 200, "watch closed"))
                return
            for event_rv, kind, obj in self._window.get(info.kind, ()):
                if event_rv > start:
                    self._push(w, kind, obj)
        self._watchers[(src, watch_id)] = w

    def _stored(self, event: str, obj: Obj) -> None:
        rv = int(obj.resource_version or 0)
        window = self._window.setdefault(obj.kind, deque(maxlen=WATCH_WINDOW))
        if len(window) == window.maxlen:
            self._oldest[obj.kind] = window[0][0]
        window.append((rv, event, obj))
        for w in list(self._watchers.values()):
            if w.info.kind == obj.kind:
                self._push(w, event, obj)

    def _push(self, w: _Watcher, event: str, obj: Obj) -> None:
        if w.namespace is not None and obj.namespace != w.namespace:
            return
        if not w.labels.matches(obj.labels):
            return
        if w.fields is not None and not w.fields.matches(_field_set(obj)):
            return
        self.host.send(w.src, WatchEvent(w.id, event, obj))


def _query(path: str) -> dict[str, str]:
    from urllib.parse import parse_qsl, urlsplit

    return dict(parse_qsl(urlsplit(path).query, keep_blank_values=True))


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: maps merge, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _merge_patch(out.get(key), value)
    return out


__all__ = ["APIServer", "CostModel", "allow_all", "trust_credentials"]
