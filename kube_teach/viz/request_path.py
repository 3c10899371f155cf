"""Follow one request through kube-apiserver, stage by stage, and show what each stage decided.

`follow(cluster, method, path, body)` sends one HTTP request to the cluster's API server from a
client host of its own and records, while that request is in the server, what each stage did:
who authentication said the caller is, the audit level, the flow-control verdict, the
authorizer's decision and reason, every admission plugin's mutation (as a diff) or refusal, the
validation errors, and the etcd key and revision the write landed at. It observes the server's
own stage objects through thin recording wrappers, installed for this one request and removed
afterwards, so the verdicts are the server's, not a re-computation. `RequestPath` renders as
text and as static HTML (what nbval compares); `request_path_widget` adds a live stage picker.
"""

from __future__ import annotations

import copy
import html
import itertools
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ..api.kinds import KINDS
from ..api.rest import Request, Response

STAGES = (
    "authentication",
    "audit",
    "flow control",
    "authorization",
    "mutating admission",
    "validation",
    "validating admission",
    "etcd",
)
PASSED, REJECTED, NOT_REACHED, SKIPPED = "passed", "rejected", "not reached", "skipped"
ADMIN = {"cert": {"cn": "kubernetes-admin", "o": ["system:masters"]}}
_COLORS = {PASSED: "#1a7f37", REJECTED: "#cf222e", NOT_REACHED: "#8c959f", SKIPPED: "#57606a"}
_WRITES = {"POST": "CREATE", "PUT": "UPDATE", "PATCH": "UPDATE", "DELETE": "DELETE"}
_ids = itertools.count(1)


@dataclass(frozen=True)
class Stage:
    """What one stage did: `verdict` is passed, rejected, not reached or skipped; `summary` one
    line; `details` the lines behind it (a diff, field errors, annotations)."""

    name: str
    verdict: str
    summary: str
    details: tuple[str, ...] = ()


@dataclass
class RequestPath:
    """One request's trip through the API server: the reply, and every stage's verdict."""

    method: str
    path: str
    code: int
    body: Any
    stages: tuple[Stage, ...]
    label: str = ""

    @property
    def rejected_by(self) -> str | None:
        """The stage that turned the request away, or None when it succeeded."""
        return next((s.name for s in self.stages if s.verdict == REJECTED), None)

    @property
    def reason(self) -> str:
        b = self.body
        return b.get("reason", "") if isinstance(b, dict) and b.get("kind") == "Status" else ""

    @property
    def message(self) -> str:
        b = self.body
        if isinstance(b, dict) and b.get("kind") == "Status":
            return str(b.get("message", ""))
        return b.strip() if isinstance(b, str) else ""

    def stage(self, name: str) -> Stage:
        for s in self.stages:
            if s.name == name:
                return s
        raise KeyError(f"no stage {name!r}; stages are: {', '.join(STAGES)}")

    def headline(self) -> str:
        what = f"{self.method} {self.path}"
        outcome = f"{self.code} {self.reason}".strip()
        where = f"rejected at {self.rejected_by}" if self.rejected_by else "stored"
        if not self.rejected_by and self.method == "GET":
            where = "served"
        return f"{self.label + ': ' if self.label else ''}{what} -> {outcome} ({where})"

    def text(self) -> str:
        lines = [self.headline()]
        for s in self.stages:
            lines.append(f"  {s.name:<21}{s.verdict:<12}{s.summary}")
            lines += [f"  {'':<33}{d}" for d in s.details]
        if self.message:
            lines.append(f"  message: {self.message}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.text()

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(self.text())

    def html(self, selected: str | None = None) -> str:
        """A row of stage boxes coloured by verdict, then the details of `selected` (or of all
        stages when None); the same request renders to the same bytes."""
        boxes = []
        for s in self.stages:
            ring = "3px solid #0969da" if s.name == selected else f"1px solid {_COLORS[s.verdict]}"
            boxes.append(
                f"<span style='display:inline-block;margin:2px;padding:3px 7px;border:{ring};"
                f"border-radius:4px;color:{_COLORS[s.verdict]}'>{html.escape(s.name)}<br>"
                f"<small>{html.escape(s.verdict)}</small></span>"
            )
        rows = []
        for s in self.stages:
            if selected is not None and s.name != selected:
                continue
            extra = "".join(f"<br><code>{html.escape(d)}</code>" for d in s.details)
            rows.append(
                f"<tr><td style='text-align:left'><strong>{html.escape(s.name)}</strong></td>"
                f"<td style='text-align:left;color:{_COLORS[s.verdict]}'>{s.verdict}</td>"
                f"<td style='text-align:left'>{html.escape(s.summary)}{extra}</td></tr>"
            )
        msg = f"<p><code>{html.escape(self.message)}</code></p>" if self.message else ""
        return (
            f"<div class='kube-teach-request-path'><p><strong>{html.escape(self.headline())}"
            f"</strong></p><div>{'&rarr;'.join(boxes)}</div><table>{''.join(rows)}</table>"
            f"{msg}</div>"
        )

    def _repr_html_(self) -> str:
        return self.html()


# -- recording wrappers ------------------------------------------------------------------------------
class _Tap:
    """Delegates everything to `inner`; the methods named in `calls` are recorded first."""

    def __init__(self, inner: Any, calls: Mapping[str, Callable[..., Any]]) -> None:
        self._inner, self._calls = inner, dict(calls)

    def __getattr__(self, name: str) -> Any:
        if name in self._calls and hasattr(self._inner, name):
            return self._calls[name]
        return getattr(self._inner, name)


@dataclass
class _Log:
    ours: bool = False
    active: bool = True
    user: str | None = None
    authn: Any = None
    audit_level: str | None = None
    audit_id: str = ""
    flow: Any = None
    flow_mutating: bool = False
    authz: Any = None
    mutations: list[tuple[str, list[str], str | None]] = field(default_factory=list)
    validations: list[tuple[str, str | None]] = field(default_factory=list)


def _diff(before: Any, after: Any, path: str = "") -> list[str]:
    """`+ a.b: v`, `- a.b`, `~ a.b: old -> new` lines, maps recursed, lists by appended items."""
    if isinstance(before, dict) and isinstance(after, dict):
        out = []
        for k in [*before, *(k for k in after if k not in before)]:
            sub = f"{path}.{k}" if path else str(k)
            if k not in after:
                out.append(f"- {sub}")
            elif k not in before:
                out.append(f"+ {sub}: {_short(after[k])}")
            else:
                out += _diff(before[k], after[k], sub)
        return out
    if before == after:
        return []
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [
            line
            for i, (b, a) in enumerate(zip(before, after, strict=True))
            for line in _diff(b, a, f"{path}[{i}]")
        ]
    if isinstance(before, list) and isinstance(after, list) and after[: len(before)] == before:
        return [f"+ {path}[{i}]: {_short(after[i])}" for i in range(len(before), len(after))]
    return [f"~ {path}: {_short(before)} -> {_short(after)}"]


def _short(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=False)


def _matches(req: Any, user: str, target: tuple[str, str, str]) -> bool:
    resource, ns, name = target
    who = getattr(getattr(req, "user", None), "name", None)
    return who == user and req.resource == resource and req.namespace == ns and req.name == name


@contextmanager
def _tapped(
    cluster: Any, log: _Log, src: str, path: str, target: tuple[str, str, str]
) -> Iterator[None]:
    """Wrap the server's stages so that they record into `log` what they decide for the
    request from `src` to `path`; everything else passes through untouched."""
    server = cluster.apiserver
    host = cluster.network.hosts[server.name]
    saved = {
        name: getattr(server, name)
        for name in ("authenticator", "auditor", "flow_control", "authorizer")
    }
    receive = host.receive
    chain = server.admission
    plugins = list(chain.plugins) if chain is not None else []

    def on_receive(from_: str, msg: Any) -> None:
        log.ours = from_ == src and isinstance(msg, Request)
        try:
            receive(from_, msg)
        finally:
            log.ours = False

    def authenticate(req: Any, now_ns: int) -> Any:
        result = saved["authenticator"].authenticate(req, now_ns)
        if log.ours:
            log.authn = result
            log.user = result.user.name if result.ok and result.user else None
        return result

    def begin(attrs: Any, *args: Any, **kw: Any) -> Any:
        ctx = saved["auditor"].begin(attrs, *args, **kw)
        if log.ours:
            log.audit_level, log.audit_id = ctx.event["level"], ctx.event["auditID"]
        return ctx

    def admit(req: Any, now_ns: int = 0) -> Any:
        verdict = saved["flow_control"].admit(req, now_ns)
        if log.ours:
            log.flow = verdict
            log.flow_mutating = req.attrs.verb not in ("get", "list", "watch")
        return verdict

    def authorize(attrs: Any) -> Any:
        decision = saved["authorizer"].authorize(attrs)
        later = log.flow is not None and log.authz is None and attrs.path == path  # queued
        if log.ours or (later and getattr(attrs.user, "name", None) == log.user):
            log.authz = decision
        return decision

    def wrap_plugin(p: Any) -> _Tap:
        def mutate(req: Any, ctx: Any) -> None:
            if not (log.active and _matches(req, log.user or "", target)):
                return p.admit(req, ctx)
            before = copy.deepcopy(req.object)
            try:
                p.admit(req, ctx)
            except Exception as err:
                log.mutations.append((p.name, [], _error_text(err)))
                raise
            log.mutations.append((p.name, _diff(before, req.object), None))
            return None

        def check(req: Any, ctx: Any) -> None:
            if not (log.active and _matches(req, log.user or "", target)):
                return p.validate(req, ctx)
            try:
                p.validate(req, ctx)
            except Exception as err:
                log.validations.append((p.name, _error_text(err)))
                raise
            log.validations.append((p.name, None))
            return None

        return _Tap(p, {"admit": mutate, "validate": check})

    server.authenticator = _Tap(saved["authenticator"], {"authenticate": authenticate})
    if saved["auditor"] is not None:
        server.auditor = _Tap(saved["auditor"], {"begin": begin})
    server.flow_control = _Tap(saved["flow_control"], {"admit": admit})
    server.authorizer = _Tap(saved["authorizer"], {"authorize": authorize})
    host.receive = on_receive
    if chain is not None:
        chain.plugins = [wrap_plugin(p) for p in plugins]
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(server, name, value)
        host.receive = receive
        if chain is not None:
            chain.plugins = plugins
        log.active = False


def _error_text(err: Exception) -> str:
    status = getattr(err, "status", None)
    if isinstance(status, dict):
        return f"{status.get('code')} {status.get('reason')}: {status.get('message')}"
    return f"{type(err).__name__}: {err}"


def _target(method: str, path: str, body: Any) -> tuple[str, str, str]:
    parts = path.split("?")[0].strip("/").split("/")
    parts = parts[2:] if parts[0] == "api" else parts[3:]
    ns = ""
    if len(parts) >= 2 and parts[0] == "namespaces" and len(parts) > 2:
        ns, parts = parts[1], parts[2:]
    resource = parts[0] if parts else ""
    name = parts[1] if len(parts) > 1 else ""
    if not name and isinstance(body, dict):
        name = (body.get("metadata") or {}).get("name", "") or ""
    return resource, ns, name


def _client_host(cluster: Any) -> Any:
    hosts = cluster.network.hosts
    if "request-path" not in hosts:
        cluster.network.add_host("request-path")
    return hosts["request-path"]


def follow(
    cluster: Any,
    method: str,
    path: str,
    body: Any = None,
    *,
    credentials: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    label: str = "",
    timeout: float = 120,
) -> RequestPath:
    """Send `method path` (with `body`) to `cluster`'s API server as `credentials` (default:
    kubernetes-admin's client certificate; `{"cert": {"cn": "jane", "o": ["dev"]}}` or
    `{"token": "..."}` for others) and return every stage's verdict."""
    method = method.upper()
    if method not in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        raise ValueError(f"method must be GET, POST, PUT, PATCH or DELETE, not {method!r}")
    if not path.startswith(("/api/", "/apis/")):
        raise ValueError(
            f"path must be an API path such as /api/v1/namespaces/default/pods: {path!r}"
        )
    if "watch=" in path.partition("?")[2]:
        raise ValueError(
            "follow() waits for one reply; a watch streams events: use a client's watch"
        )
    host = _client_host(cluster)
    creds = dict(ADMIN if credentials is None else credentials)
    request = Request(next(_ids), method, path, copy.deepcopy(body), creds,
                      "request-path/v1.34.0", dict(headers or {}))  # fmt: skip
    replies: list[Response] = []
    host.receive = lambda src, msg: (
        replies.append(msg) if isinstance(msg, Response) and msg.id == request.id else None
    )
    log = _Log()
    target = _target(method, path, body)
    first_trace = len(cluster.trace.events)
    with _tapped(cluster, log, host.name, path, target):
        host.send(cluster.apiserver.name, request)
        cluster.clock.run_until(lambda: bool(replies), timeout=timeout, raise_on_timeout=False)
    if not replies:
        raise TimeoutError(
            f"{method} {path}: no reply from {cluster.apiserver.name} within {timeout:g} simulated "
            "seconds (is it down?)"
        )
    reply = replies[0]
    writes = [e for e in cluster.trace.events[first_trace:] if e.component == "apiserver"]
    stages = _stages(cluster, method, request, reply, log, writes)
    return RequestPath(method, path, reply.code, reply.body, tuple(stages), label)


def _stages(
    cluster: Any, method: str, req: Request, reply: Response, log: _Log, writes: list[Any]
) -> list[Stage]:
    out: list[Stage] = []
    over = False

    def add(name: str, verdict: str, summary: str, details: list[str] | tuple[str, ...] = ()):
        nonlocal over
        if over:
            verdict, summary, details = NOT_REACHED, "", ()
        out.append(Stage(name, verdict, summary, tuple(details)))
        over = over or verdict == REJECTED

    # authentication
    a = log.authn
    if a is None or not a.ok or a.user is None:
        why = (a.error if a is not None else None) or "no authenticator accepted the credentials"
        add("authentication", REJECTED, "401 Unauthorized", [why])
    else:
        add("authentication", PASSED, f"user {a.user.name}", [f"groups {list(a.user.groups)}"])
    # audit
    if log.audit_level is None:
        add("audit", SKIPPED, "no audit policy: nothing is written")
    else:
        lines = [ln for ln in _audit_lines(cluster) if log.audit_id in ln]
        stages = [json.loads(ln).get("stage", "") for ln in lines]
        written = f"{len(lines)} event(s) written: {', '.join(stages)}" if lines else "not logged"
        add("audit", PASSED, f"level {log.audit_level}", [f"auditID {log.audit_id}", written])
    # flow control
    fc = cluster.apiserver.flow_control
    limits = getattr(fc, "limits", None)
    pool = "mutating" if log.flow_mutating else "read-only"
    kind = type(log.flow).__name__ if log.flow is not None else ""
    if reply.code == 429:
        add("flow control", REJECTED, f"429 TooManyRequests (the {pool} pool is full)",
            [f"Retry-After: {reply.headers.get('Retry-After', '')}"])  # fmt: skip
    elif kind:
        exempt = getattr(log.flow, "exempt", False)
        seat = "exempt (not counted)" if exempt else "seat taken"
        if kind == "Queued":
            seat = "queued for a seat, then served"
        limit = f" of {limits[log.flow_mutating]}" if isinstance(limits, dict) else ""
        add("flow control", PASSED, f"{kind}: {seat} in the {pool} pool{limit}")
    else:
        add("flow control", NOT_REACHED, "")
    # authorization
    d = log.authz
    if d is None:
        add("authorization", NOT_REACHED, "")
    elif not d.allowed:
        why = "no authorizer allowed it" if d.decision == "NoOpinion" else "denied"
        add("authorization", REJECTED, f"403 Forbidden ({why})", [d.reason] if d.reason else [])
    else:
        add("authorization", PASSED, "allowed", [d.reason] if d.reason else [])
    if method == "GET":
        for name in ("mutating admission", "validation", "validating admission"):
            add(name, SKIPPED, "reads skip admission and validation")
    else:
        _write_stages(add, reply, log)
    _etcd_stage(add, cluster, method, reply, writes)
    return out


def _write_stages(add: Callable[..., None], reply: Response, log: _Log) -> None:
    refused = next(((n, e) for n, _, e in log.mutations if e), None)
    changed = [f"{n}: {line}" for n, diff, _ in log.mutations for line in diff]
    ran = [n for n, _, _ in log.mutations]
    if refused:
        add("mutating admission", REJECTED, f"{refused[0]} refused", [refused[1]])
    elif ran:
        summary = f"{len(ran)} plugins ran, {len({c.split(':')[0] for c in changed})} changed it"
        add("mutating admission", PASSED, summary, changed or ["no changes"])
    else:
        add("mutating admission", NOT_REACHED if reply.code >= 400 else SKIPPED, "")
    body = reply.body if isinstance(reply.body, dict) else {}
    if reply.code in (400, 422) and body.get("reason") in ("Invalid", "BadRequest"):
        causes = (body.get("details") or {}).get("causes") or []
        lines = [f"{c.get('field', '')}: {c.get('message', '')}" for c in causes]
        add("validation", REJECTED, f"{reply.code} {body.get('reason')}", lines)
    else:
        add("validation", PASSED, "no field errors")
    bad = next(((n, e) for n, e in log.validations if e), None)
    if bad:
        add("validating admission", REJECTED, f"{bad[0]} refused", [bad[1]])
    elif log.validations:
        add("validating admission", PASSED, f"{len(log.validations)} plugins agreed")
    else:
        add("validating admission", SKIPPED if reply.code < 400 else NOT_REACHED, "")


def _etcd_stage(
    add: Callable[..., None], cluster: Any, method: str, reply: Response, writes: list[Any]
) -> None:
    body = reply.body if isinstance(reply.body, dict) else {}
    meta = body.get("metadata") or {}
    if reply.code in (409, 404, 504) or (reply.code >= 500 and body.get("kind") == "Status"):
        add("etcd", REJECTED, f"{reply.code} {body.get('reason', '')}".strip())
        return
    if reply.code >= 400:
        add("etcd", NOT_REACHED, "")
        return
    rv = meta.get("resourceVersion", "")
    if method == "GET":
        add("etcd", PASSED, f"read at revision {rv}")
        return
    info = KINDS.get(body.get("kind", ""))
    key = ""
    if info is not None and meta.get("name"):
        resource = {"services": "services/specs", "nodes": "minions"}.get(
            info.resource, info.resource
        )
        scope = f"{meta['namespace']}/" if meta.get("namespace") else ""
        key = f"/registry/{resource}/{scope}{meta['name']}"
    events = [f"{e.event} {e.fields.get('key', '')} rv={e.fields.get('rv')}" for e in writes
              if "rv" in e.fields][:3]  # fmt: skip
    add("etcd", PASSED, f"{key} at revision {rv}".strip(), events)


def _audit_lines(cluster: Any) -> list[str]:
    fs = getattr(cluster, "audit_fs", None)
    path = "/var/log/kubernetes/audit.log"
    if fs is None or not fs.exists(path):
        return []
    return fs.read(path).splitlines()


def pod_path(namespace: str = "default", name: str = "") -> str:
    """`/api/v1/namespaces/<ns>/pods[/<name>]`."""
    return f"/api/v1/namespaces/{namespace}/pods" + (f"/{name}" if name else "")


# -- the widget -------------------------------------------------------------------------------------
class RequestPathWidget:
    """Pick a request and a stage; the stage is highlighted and its verdict shown. Beside the
    live widget a static HTML copy of every request's whole path is displayed (for nbval and for
    readers without a kernel)."""

    def __init__(self, paths: list[RequestPath]) -> None:
        if not paths:
            raise ValueError("request_path_widget needs at least one RequestPath (from follow())")
        self.paths = list(paths)
        self.current = 0
        self.selected: str = self.paths[0].rejected_by or "etcd"

    def choose(self, request: int | str | None = None, stage: str | None = None) -> str:
        """Select a request (index or label) and/or a stage; returns the view's HTML."""
        if request is not None:
            labels = [p.label for p in self.paths]
            self.current = labels.index(request) if isinstance(request, str) else int(request)
            if stage is None:
                self.selected = self.paths[self.current].rejected_by or "etcd"
        if stage is not None:
            if stage not in STAGES:
                raise ValueError(f"no stage {stage!r}; stages are: {', '.join(STAGES)}")
            self.selected = stage
        return self.html()

    def html(self) -> str:
        return self.paths[self.current].html(self.selected)

    def widget(self) -> Any:
        import ipywidgets as w

        view = w.HTML(value=self.html())
        names = [p.label or f"{p.method} {p.path}" for p in self.paths]
        menu = w.Dropdown(options=[(n, i) for i, n in enumerate(names)], value=self.current)
        stages = w.ToggleButtons(options=list(STAGES), value=self.selected)

        def on_request(change: Any) -> None:
            self.choose(request=change["new"])
            stages.value = self.selected
            view.value = self.html()

        def on_stage(change: Any) -> None:
            view.value = self.choose(stage=change["new"])

        menu.observe(on_request, names="value")
        stages.observe(on_stage, names="value")
        return w.VBox([menu, stages, view])

    def _ipython_display_(self) -> None:
        from IPython.display import display

        bundle = dict(self.widget()._repr_mimebundle_())
        bundle["text/plain"] = f"request path widget over {len(self.paths)} request(s)"
        display(bundle, raw=True)
        static = "".join(p.html() for p in self.paths)
        text = "\n".join(p.text() for p in self.paths)
        display({"text/html": static, "text/plain": text}, raw=True)


def request_path_widget(*paths: RequestPath) -> RequestPathWidget:
    """A widget over the requests `follow()` returned."""
    return RequestPathWidget(list(paths))


# -- a burst of creates against the in-flight limits --------------------------------------------------
@dataclass
class Burst:
    """What `burst()` saw, per create: when it was first sent, when its last reply came, that
    reply's code and how many 429s it got first; plus the server's limit, every 429's time and
    the server's own metrics."""

    sent: list[float]
    done: list[float]
    codes: list[int]
    retries: list[int]
    limit: int
    rejected: int
    rejected_times: list[float] = field(default_factory=list)
    metrics: Any = None  # the server's metrics (kube_teach.sim.Metrics) over the run

    def summary(self) -> str:
        ok = sum(1 for c in self.codes if c == 201)
        lat = sorted(
            d - s for s, d, c in zip(self.sent, self.done, self.codes, strict=True) if c == 201
        )
        p = (lambda q: lat[max(0, -(-q * len(lat) // 100) - 1)] * 1000) if lat else (lambda q: 0)
        return (
            f"{len(self.codes)} creates, max-mutating-requests-inflight={self.limit}: {ok} created, "
            f"{len(self.codes) - ok} failed; the server answered 429 {self.rejected} times; "
            f"latency p50 {p(50):.0f} ms, p99 {p(99):.0f} ms, last reply at t={max(self.done):.2f}s"
        )

    def __repr__(self) -> str:
        return self.summary()

    def plot(self, title: str = "") -> Any:
        """Replies per 50 ms (201 and 429, stacked) and each create's latency (first send to
        201) at the time it completed, as SVG."""
        from matplotlib.figure import Figure

        from .plot import COLORS, to_svg

        created = [(s, d) for s, d, c in zip(self.sent, self.done, self.codes, strict=True)
                   if c == 201]  # fmt: skip
        bins = [i / 20 for i in range(int((max(self.done) + 0.1) * 20) + 2)]
        fig = Figure(figsize=(7.5, 4.2), layout="constrained")
        top, bottom = fig.subplots(2, 1, sharex=True)
        top.hist([[d for _, d in created], self.rejected_times], bins=bins, stacked=True,
                 color=[COLORS[2], COLORS[1]], label=["201 Created", "429 Too Many Requests"])  # fmt: skip
        top.set_ylabel("replies / 50 ms")
        top.legend(loc="upper right", frameon=False, fontsize=9)
        bottom.scatter([d for _, d in created], [(d - s) * 1000 for s, d in created], s=4,
                       color=COLORS[0])  # fmt: skip
        bottom.set_ylabel("latency of a create (ms)")
        bottom.set_xlabel("simulated time (seconds)")
        for ax in (top, bottom):
            ax.spines[["top", "right"]].set_visible(False)
        if title:
            top.set_title(title, loc="left", fontsize=11)
        return to_svg(fig, title or "burst")


def burst(
    creates: int = 1000,
    *,
    over: float = 0.2,
    max_mutating_inflight: int = 10,
    retry: bool = True,
    qps: float = 0,
    seed: int = 0,
) -> Burst:
    """`creates` ConfigMap creates from one deployer (not system:masters, whom the limit
    exempts), sent evenly over `over` seconds (or at `qps`, a client-side limit, when given),
    against an API server whose mutating pool has `max_mutating_inflight` seats. With `retry`
    the client waits Retry-After and sends again, up to 10 times, as client-go does. One etcd
    member keeps the run quick."""
    from ..cluster import Cluster

    if creates < 1 or max_mutating_inflight < 1:
        raise ValueError("creates and max_mutating_inflight must be at least 1")
    cluster = Cluster(nodes=0, seed=seed, controllers=[], scheduler=False, etcd_members=1,
                      authorization_mode=("AlwaysAllow",))  # fmt: skip
    fc = cluster.apiserver.flow_control
    fc.limits = {False: 2 * max_mutating_inflight, True: max_mutating_inflight}
    host = cluster.network.add_host("deployer")
    creds = {"cert": {"cn": "ci-deployer", "o": ["ci"]}}
    n = creates
    sent, done, codes, retries = [0.0] * n, [0.0] * n, [0] * n, [0] * n
    rejected: list[float] = []
    path = "/api/v1/namespaces/default/configmaps"
    start = cluster.clock.now

    def send(i: int) -> None:
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm-{i:04d}"}}
        host.send(cluster.apiserver.name, Request(i + 1, "POST", path, body, creds))

    def receive(src: str, msg: Any) -> None:
        if not isinstance(msg, Response):
            return
        i, now = msg.id - 1, cluster.clock.now - start
        if msg.code == 429:
            rejected.append(now)
            if retry and retries[i] < 10:
                retries[i] += 1
                host.call_later(float(msg.headers.get("Retry-After", "1")), lambda: send(i))
                return
        done[i], codes[i] = now, msg.code

    host.receive = receive
    gap = 1 / qps if qps else over / n
    for i in range(n):
        sent[i] = i * gap
        host.call_later(i * gap, lambda i=i: send(i))
    cluster.clock.run_until(lambda: all(codes), timeout=600)
    return Burst(
        sent, done, codes, retries, max_mutating_inflight, len(rejected), rejected, cluster.metrics
    )


__all__ = [
    "Burst",
    "burst",
    "STAGES",
    "RequestPath",
    "RequestPathWidget",
    "Stage",
    "follow",
    "pod_path",
    "request_path_widget",
]
