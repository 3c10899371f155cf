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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..api.errors import StatusError
from ..api.kinds import KINDS, KindInfo
from ..api.objects import Obj
from ..api.rest import Cancel, Request, Response
from ..sim import Metrics, Network, Trace
from ..sim.duration import to_ns
from .admission import AdmissionChain, AdmissionContext, AdmissionRequest
from .audit import AuditContext, Auditor
from .authn import (
    Authenticator,
    AuthRequest,
    ClientCertificate,
    ServiceAccountTokens,
    new_authenticator,
)
from .authorization import AlwaysAllow
from .deletion import DeleteOptions
from .etcd3 import Op
from .flowcontrol import Dispatch, FlowRequest, MaxInFlight, Queued, Reject
from .patch import apply_patch
from .rbac import Decision, forbidden_error
from .rbac_escalation import check_rbac_write
from .request import Attributes, RequestInfoError, UserInfo, is_long_running, request_info
from .store import ObjectStore, _field_set
from .subresources import evict_op, get_scale_op, update_scale_op
from .tokenrequest import create_token_op
from .watch import BOOKMARK_EVERY, WATCH_WINDOW, WatchCache

_RBAC_KINDS = frozenset({"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"})
_BY_RESOURCE = {(k.group, k.resource): k for k in KINDS.values()}
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"


def auth_request(credentials: Mapping[str, Any]) -> AuthRequest:
    """What the TLS layer and the headers give the authenticators: a client certificate
    (`{"cert": {"cn", "o"}}`) and/or `Authorization: Bearer <token>` (`{"token": ...}`)."""
    cert = credentials.get("cert")
    client_cert = None
    if cert:
        client_cert = ClientCertificate(
            cert.get("cn", ""), tuple(cert.get("o") or ()), cert.get("issuer", "kubernetes")
        )
    headers = (
        {"Authorization": f"Bearer {credentials['token']}"} if credentials.get("token") else {}
    )
    return AuthRequest(headers, client_cert)


class _StoreView:
    """What admission plugins read (informer caches upstream): the store, by kind name."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        info = KINDS.get(kind)
        if info is None or not self.store.exists(info, name, namespace or None):
            return None
        return self.store.get(info, name, namespace or None)

    def list(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        info = KINDS.get(kind)
        return [] if info is None else list(self.store.list(info, namespace))


class _Admit:
    """The store's Admission for one request: the chain, with this request's attributes."""

    def __init__(self, server: APIServer, attrs: Attributes, info: KindInfo, dry_run: bool):
        self.server, self.attrs, self.info, self.dry_run = server, attrs, info, dry_run
        self.ctx = AdmissionContext(
            _StoreView(server.store),
            server.admission_rng,
            server.store.unix_ns,
        )
        self.warnings: list[str] = []
        self.quota_updates: list[dict[str, Any]] = []

    def _request(self, operation: str, obj: Obj | None, old: Obj | None) -> AdmissionRequest:
        a = self.attrs
        target = obj if obj is not None else old
        name = a.name or ((target or {}).get("metadata") or {}).get("name", "")
        return AdmissionRequest(
            operation, self.info.kind, a.resource, obj, old, a.namespace, name,
            a.subresource, a.api_group, a.api_version, a.user or UserInfo(), self.dry_run,
        )  # fmt: skip

    def mutate(self, operation: str, obj: Obj | None, old: Obj | None) -> None:
        req = self._request(operation, obj, old)
        self.server.admission.mutate(req, self.ctx)
        self.warnings.extend(req.warnings)

    def validate(self, operation: str, obj: Obj | None, old: Obj | None) -> None:
        req = self._request(operation, obj, old)
        self.server.admission.validate(req, self.ctx)
        self.warnings.extend(req.warnings)
        self.quota_updates.extend(self.ctx.quota_updates)
        self.ctx.quota_updates.clear()

    def charge(self) -> Op:
        """Write the ResourceQuota usage the quota plugin charged (its status update)."""
        for update in self.quota_updates:
            yield from self.server.store.update_op(update, subresource="status")
        self.quota_updates.clear()


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
    """One kube-apiserver replica, named `name` on `network`, serving `store`.

    `authenticator` is the chain of authn.py (client certificates, tokens, anonymous);
    `authorizer` answers `authorize(attrs) -> Decision` (AlwaysAllow unless given, e.g. a
    ModeAuthorizer for `Node,RBAC`); `admission` is the plugin chain (None: no admission);
    `auditor` writes audit events; `flow_control` is MaxInFlight (the default, from the two
    in-flight limits) or an APF instance. `service_account_tokens` is the token issuer behind
    `serviceaccounts/<name>/token` (None: the subresource is not served).
    """

    name: str
    network: Network
    store: ObjectStore
    trace: Trace
    metrics: Metrics
    max_requests_inflight: int = 400
    max_mutating_requests_inflight: int = 200
    authenticator: Authenticator = field(default_factory=new_authenticator)
    authorizer: Any = field(default_factory=AlwaysAllow)
    admission: AdmissionChain | None = None
    auditor: Auditor | None = None
    flow_control: Any = None
    cost: CostModel = field(default_factory=CostModel)
    request_timeout: float = 60.0  # --request-timeout
    service_account_tokens: ServiceAccountTokens | None = None

    def __post_init__(self) -> None:
        self.host = self.network.add_host(self.name, self._receive)
        self.clock = self.network.clock
        if self.flow_control is None:
            self.flow_control = MaxInFlight(
                self.max_requests_inflight, self.max_mutating_requests_inflight
            )
        self.inflight = self.flow_control
        self.watches = WatchCache(self.host.send, _field_set)
        self.admission_rng = self.store.seeds.stream(f"admission/{self.name}")
        self._queued: dict[int, Callable[[], None]] = {}
        self._arrived: dict[tuple[str, int], int] = {}
        self._running: set[Any] = set()
        self.store.watch(self._stored)
        self.host.on_crash.append(self._crashed)
        self.host.on_restart.append(self._start_timers)
        self._start_timers()
        self.served = 0

    def _start_timers(self) -> None:
        self.host.every(BOOKMARK_EVERY, lambda: self.watches.bookmark(self.store.revision))
        if hasattr(self.flow_control, "tick"):
            self.host.every(1.0, self._tick)

    # -- the handler chain ---------------------------------------------------------------------
    def _receive(self, src: str, msg: Any) -> None:
        if isinstance(msg, Request):
            self._serve(src, msg)
        elif isinstance(msg, Cancel):
            self.watches.close(src, msg.id, tell=False)

    def _wall(self) -> int:
        """Unix nanoseconds now: what timestamps (audit, token expiry) are measured in."""
        return self.store.unix_ns

    def _serve(self, src: str, req: Request) -> None:
        now = self._wall()
        try:
            info = request_info(req.method, req.path)
        except RequestInfoError as err:
            self._reply(src, Response(req.id, 404, StatusError("NotFound", 404, str(err)).status))
            return
        result = self.authenticator.authenticate(auth_request(req.credentials or {}), now)
        if not result.ok or result.user is None:
            self.metrics.inc("apiserver_request_total", verb=info.verb, code="401")
            self._reply(
                src, Response(req.id, 401, StatusError("Unauthorized", 401, "Unauthorized").status)
            )
            return
        attrs = Attributes.of(result.user, info)
        self._arrived[(src, req.id)] = self.clock.now_ns
        audit = None
        if self.auditor is not None:
            audit = self.auditor.begin(
                attrs, req.path, now, user_agent=req.user_agent, source_ips=(src,),
                long_running=is_long_running(info),
            )  # fmt: skip
        verdict = self.flow_control.admit(FlowRequest((src, req.id), attrs), self.clock.now_ns)
        if isinstance(verdict, Reject):
            self._arrived.pop((src, req.id), None)
            self.metrics.inc("apiserver_rejected_requests_total", verb=info.verb)
            self.metrics.inc("apiserver_request_total", verb=info.verb, code="429")
            headers = {"Retry-After": str(verdict.retry_after), **verdict.headers}
            if audit is not None:
                audit.complete(self._wall(), verdict.code)
            self._reply(src, Response(req.id, verdict.code, verdict.body, headers))
            return
        go = lambda: self._authorized(src, req, attrs, audit)  # noqa: E731
        if isinstance(verdict, Queued):
            self._queued[verdict.request_id] = go
            return
        self._running.add((src, req.id))
        self._gauge()
        go()

    def _authorized(self, src: str, req: Request, attrs: Attributes, audit: Any) -> None:
        decision: Decision = self.authorizer.authorize(attrs)
        if audit is not None:
            for k, v in decision.audit_annotations().items():
                audit.annotate(k, v)
        if not decision.allowed:
            status = forbidden_error(attrs, decision.reason).status
            self._finish(src, req, attrs, 403, status, 0, audit)
            return
        if audit is not None and isinstance(req.body, Mapping):
            audit.log_request_object(req.body)
        state = {"timer": None, "over": False}

        def answered(result: tuple[int | None, Any, int] | None, err: StatusError | None) -> None:
            if state["over"]:
                return  # the request already timed out; its work may still have landed
            state["over"] = True
            if state["timer"] is not None:
                state["timer"].cancel()
            code, body, items = (err.code, err.status, 0) if err is not None else result
            if code is not None:
                self._finish(src, req, attrs, code, body, items, audit)
                return
            self._arrived.pop((src, req.id), None)
            # a watch holds its flow-control seat only while it starts (APF's rule for
            # long-running requests); it stays among the running requests of the cost model,
            # where open watches stand for the fan-out work they bring
            started = self.flow_control.finish((src, req.id), self.clock.now_ns)
            for d in started or ():
                self._dispatch(d)
            if audit is not None:
                audit.response_started(self._wall())

        def timed_out() -> None:
            if not state["over"]:
                answered(None, StatusError(
                    "Timeout", 504, "Timeout: request did not complete within requested "
                    "timeout - context deadline exceeded", {"retryAfterSeconds": 0}))  # fmt: skip

        if not is_long_running(attrs):
            state["timer"] = self.host.call_later(self.request_timeout, timed_out)
        self._drive(self._handle(src, req, attrs), answered)

    def _drive(self, op: Op, done: Callable[[Any, StatusError | None], None]) -> None:
        self.store.start(op, done)

    def _finish(
        self, src: str, req: Request, attrs: Attributes, code: int, body: Any, items: int,
        audit: AuditContext | None,
    ) -> None:  # fmt: skip
        delay = self.cost.service_time(items, len(self._running))
        key = (src, req.id)

        def done() -> None:
            self._done(key)
            if audit is not None:
                status = (
                    body if isinstance(body, Mapping) and body.get("kind") == "Status" else None
                )
                audit.complete(self._wall(), code, status, body)
            self._reply(src, Response(req.id, code, body))

        # from arrival to reply: time queued in flow control and waiting for etcd included
        arrived = self._arrived.pop(key, self.clock.now_ns)
        took = self.clock.now_ns + delay - arrived
        self.metrics.observe("apiserver_request_duration_seconds", took / 1e9, verb=attrs.verb)
        self.metrics.inc("apiserver_request_total", verb=attrs.verb, code=str(code))
        self.host.call_later(delay / 1e9, done)

    def _done(self, key: Any) -> None:
        if key not in self._running:
            return
        self._running.discard(key)
        started = self.flow_control.finish(key, self.clock.now_ns)
        self._gauge()
        for d in started or ():
            self._dispatch(d)

    def _dispatch(self, verdict: Any) -> None:
        go = self._queued.pop(verdict.request_id, None)
        if go is None:
            return
        if isinstance(verdict, Dispatch):
            self._running.add(verdict.request_id)
            go()
        elif isinstance(verdict, Reject):
            self._arrived.pop(verdict.request_id, None)
            src, rid = verdict.request_id
            self.metrics.inc("apiserver_rejected_requests_total", verb="queued")
            headers = {"Retry-After": str(verdict.retry_after), **verdict.headers}
            self._reply(src, Response(rid, verdict.code, verdict.body, headers))

    def _tick(self) -> None:
        for verdict in self.flow_control.tick(self.clock.now_ns) or ():
            self._dispatch(verdict)

    def _reply(self, dst: str, response: Response) -> None:
        self.served += 1
        self.host.send(dst, response)

    def _gauge(self) -> None:
        if not hasattr(self.flow_control, "in_use"):
            return
        for mutating, kind in ((False, "readOnly"), (True, "mutating")):
            self.metrics.set("apiserver_current_inflight_requests",
                             self.flow_control.in_use(mutating), request_kind=kind)  # fmt: skip

    def _crashed(self) -> None:
        self._arrived.clear()
        self.watches.drop_all()
        self._queued.clear()
        for key in list(self._running):
            self.flow_control.finish(key, self.clock.now_ns)
        self._running.clear()

    # -- REST verbs ------------------------------------------------------------------------------
    def _handle(self, src: str, req: Request, attrs: Attributes) -> Op:
        if not attrs.is_resource_request:
            if attrs.path.split("?")[0] in ("/healthz", "/readyz", "/livez"):
                return 200, "ok", 0
            raise StatusError("NotFound", 404, "the server could not find the requested resource")
        info = _BY_RESOURCE.get((attrs.api_group, attrs.resource))
        if info is None:
            raise StatusError("NotFound", 404, "the server could not find the requested resource")
        ns = attrs.namespace or None
        query = _query(req.path)
        verb, sub = attrs.verb, attrs.subresource
        dry_run = query.get("dryRun") == "All"
        if sub == "scale" and verb in ("get", "update", "patch"):
            return (yield from self._scale(info, attrs, ns, req))
        if verb == "get":
            return 200, (yield from self.store.get_op(info, attrs.name, ns)), 1
        if verb == "list":
            return (yield from self._list(info, ns, query))
        if verb == "watch":
            if query.get("continue") or query.get("limit"):
                pass  # ignored on watches, as upstream
            w = self.watches.open(src, req.id, info, ns, query, lambda: self.store.list(info, ns))
            if w is not None and query.get("timeoutSeconds"):
                seconds = float(query["timeoutSeconds"])
                self.host.call_later(seconds, lambda: self.watches.close(src, req.id))
            return None, None, 0
        admit = _Admit(self, attrs, info, dry_run) if self.admission is not None else None
        body = copy.deepcopy(req.body) if isinstance(req.body, dict) else req.body
        if verb == "create" and sub == "eviction" and info.kind == "Pod":
            return (
                201,
                (yield from evict_op(self.store, attrs.name, ns or "default", body, admit)),
                1,
            )
        if verb == "create" and sub == "token" and info.kind == "ServiceAccount":
            if self.service_account_tokens is None:
                raise StatusError(
                    "NotFound", 404, "the server could not find the requested resource"
                )
            op = create_token_op(
                self.store, self.service_account_tokens, attrs.name, ns or "default", body
            )
            return 201, (yield from op), 1
        if verb == "create" and sub == "binding":
            return 201, (yield from self._bind(info, attrs.name, ns, body)), 1
        if verb == "create":
            self._check_body(body, info, attrs)
            self._check_escalation(info, attrs, body)
            created = yield from self.store.create_op(body, dry_run=dry_run, admission=admit)
            if admit is not None and not dry_run:
                yield from admit.charge()
            return 201, created, 1
        if verb == "patch":
            live = yield from self.store.get_op(info, attrs.name, ns)
            ctype = req.headers.get("Content-Type", MERGE_PATCH)
            body = apply_patch(dict(live), body, ctype, info.kind)
        if verb in ("update", "patch"):
            self._check_body(body, info, attrs)
            self._check_escalation(info, attrs, body)
            op = self.store.update_op(
                body, subresource=sub or None, dry_run=dry_run, admission=admit
            )
            written = yield from op
            if admit is not None and not dry_run:
                yield from admit.charge()
            return 200, written, 1
        if verb == "delete":
            options = DeleteOptions.parse(body, query)
            result = yield from self.store.delete_op(info, attrs.name, ns, options, admission=admit)
            explicit = options.orphan_dependents is False
            return (202 if explicit and not result.gone else 200), result.obj, 1
        raise StatusError(
            "MethodNotAllowed",
            405,
            "the server does not allow this method on the requested resource",
        )

    def _list(self, info: KindInfo, ns: str | None, query: dict[str, str]) -> Op:
        limit = 0
        if query.get("limit"):
            try:
                limit = max(0, int(query["limit"]))
            except ValueError:
                raise StatusError.bad_request(
                    f'strconv.ParseInt: parsing "{query["limit"]}": invalid syntax'
                ) from None
        token = query.get("continue", "")
        if token and query.get("resourceVersion") not in (None, ""):
            raise StatusError.bad_request(
                "specifying resource version is not allowed when using continue"
            )
        page = yield from self.store.list_op(
            info, ns, query.get("labelSelector"), query.get("fieldSelector"),
            limit=limit, continue_token=token,
        )  # fmt: skip
        meta: dict[str, Any] = {"resourceVersion": str(page.resource_version)}
        if page.continue_token:
            meta["continue"] = page.continue_token
        if page.remaining is not None:
            meta["remainingItemCount"] = page.remaining
        body = {
            "kind": f"{info.kind}List",
            "apiVersion": info.api_version,
            "metadata": meta,
            "items": page.items,
        }
        return 200, body, len(page.items)

    def _scale(self, info: KindInfo, attrs: Attributes, ns: str | None, req: Request) -> Op:
        if attrs.verb == "get":
            return 200, (yield from get_scale_op(self.store, info, attrs.name, ns)), 1
        scale = req.body
        if attrs.verb == "patch":
            current = yield from get_scale_op(self.store, info, attrs.name, ns)
            ctype = req.headers.get("Content-Type", MERGE_PATCH)
            scale = apply_patch(current, req.body, ctype, "Scale")
        return 200, (yield from update_scale_op(self.store, info, attrs.name, ns, scale)), 1

    def _check_escalation(self, info: KindInfo, attrs: Attributes, body: dict[str, Any]) -> None:
        """RBAC's escalation prevention, in the Role and binding storage: you may only grant
        what you hold (or have `escalate` / `bind`)."""
        rbac = getattr(self.authorizer, "rbac", None)
        if info.kind in _RBAC_KINDS and rbac is not None and attrs.user is not None:
            op = "create" if attrs.verb == "create" else "update"
            check_rbac_write(self.authorizer, rbac(), attrs.user, body, attrs.namespace, op)

    @staticmethod
    def _check_body(body: Any, info: KindInfo, attrs: Attributes) -> None:
        """What the create/update handlers check before decoding: an object, of this
        endpoint's kind and version (either may be left out), in this namespace, with the name
        of the URL."""
        if not isinstance(body, dict):
            raise StatusError.bad_request("the body of the request was in an unknown format")
        if body.get("apiVersion") is None:
            body["apiVersion"] = info.api_version
        if body.get("kind") is None:
            body["kind"] = info.kind
        if body["apiVersion"] != info.api_version:
            raise StatusError.bad_request(
                f"the API version in the data ({body['apiVersion']}) does not match the "
                f"expected API version ({info.api_version})"
            )
        if body["kind"] != info.kind:
            raise StatusError.bad_request(
                f"the kind in the data ({body['kind']}) does not match the expected kind "
                f"({info.kind})"
            )
        meta = body.setdefault("metadata", {})
        if meta is None:
            meta = body["metadata"] = {}
        if not isinstance(meta, dict):
            raise StatusError.bad_request("the body of the request was in an unknown format")
        if attrs.namespace:
            if meta.get("namespace") and meta["namespace"] != attrs.namespace:
                raise StatusError.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = attrs.namespace
        if attrs.name and meta.get("name") and meta["name"] != attrs.name:
            raise StatusError.bad_request(
                "the name of the object "
                f"({meta['name']}) does not match the name on the URL ({attrs.name})"
            )

    def _bind(self, info: KindInfo, name: str, ns: str | None, binding: Any) -> Op:
        """pods/binding: set spec.nodeName once, as the Binding REST storage does."""
        if not isinstance(binding, dict):
            raise StatusError.bad_request("the body of the request was in an unknown format")
        target = binding.get("target") or {}
        pod = yield from self.store.get_op(info, name, ns)
        if pod.metadata.get("deletionTimestamp"):
            raise StatusError("Conflict", 409,
                              f'Operation cannot be fulfilled on pods/binding "{name}": pod '
                              f"{name} is being deleted, cannot be assigned to a host")  # fmt: skip
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
        yield from self.store.update_op(pod, internal=True)
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "code": 201,
        }

    # -- watches -------------------------------------------------------------------------------
    def _stored(self, event: str, obj: Obj) -> None:
        self.watches.stored(event, obj)
        changed = getattr(self.authorizer, "changed", None)
        if changed is not None:
            changed(obj.kind)


def _query(path: str) -> dict[str, str]:
    from urllib.parse import parse_qsl, urlsplit

    return dict(parse_qsl(urlsplit(path).query, keep_blank_values=True))


__all__ = ["WATCH_WINDOW", "APIServer", "CostModel", "auth_request"]
