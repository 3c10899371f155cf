"""The load balancer in front of HA kube-apiserver replicas, as a host on the simulated network.

Semantics: HAProxy's `balance roundrobin` with `check` (defaults inter 2s, fall 3, rise 2; a check
times out after `inter` when no `timeout check` is set), its health counter (a server starts UP
but falls at the first failure; once UP, `fall` net failures take it DOWN; `rise` successes bring
it back), its stats-page states (`UP 1/3`, `DOWN 1/2`) and its log lines. Each client request is
relayed to one replica; a watch stays pinned to its replica until one side closes it. The
seed article's haproxy.cfg can be read as it is (`LoadBalancer.from_haproxy_cfg`).
"""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ..api.errors import StatusError
from ..api.rest import Cancel, Request, Response, WatchEvent
from ..sim import Network, Timer, Trace
from ..sim.duration import SECOND, to_ns

NO_SERVER = "No server is available to handle this request."  # HAProxy's 503 page
SERVER_TIMEOUT = "The server didn't respond in time."  # HAProxy's 504 page
STREAM_CUT = "unexpected EOF"  # what a client reads from a connection the proxy closed


# -- the pure core: servers, health counters, round robin ------------------------------------------
@dataclass
class Server:
    """One backend server line (`server master-1 10.0.1.10:6443 check`) and its live state."""

    name: str
    rise: int
    fall: int
    health: int = 0  # HAProxy's counter, 0 .. rise+fall-1; the server is UP while >= rise
    up: bool = True
    last_check: str = ""
    sessions: int = 0  # scur: streams open now (watches included)
    total: int = 0  # stot: streams ever sent here
    check_fails: int = 0  # chkfail
    downs: int = 0  # chkdown: UP -> DOWN transitions
    last_change_ns: int = 0

    def __post_init__(self) -> None:
        self.health = self.rise  # "up, but will fall down at first failure", as HAProxy starts

    @property
    def state(self) -> str:
        """The stats page's Status column: `UP`, `UP 1/3` (going down), `DOWN`, `DOWN 1/2`."""
        full = self.rise + self.fall - 1
        if self.up:
            return "UP" if self.health == full else f"UP {self.health - self.rise + 1}/{self.fall}"
        return "DOWN" if self.health == 0 else f"DOWN {self.health}/{self.rise}"


class Backend:
    """A backend section: servers in configuration order, chosen round robin among the UP ones.

    `check_passed`/`check_failed` apply one check result and return `"UP"`/`"DOWN"` when the
    server changes state, else None. No clock, no network: the host calls these.
    """

    def __init__(self, name: str, servers: Sequence[str], rise: int = 2, fall: int = 3) -> None:
        if not servers:
            raise ValueError("a backend needs at least one server")
        if len(set(servers)) != len(servers):
            raise ValueError(f"duplicate server names in {list(servers)}")
        if not (isinstance(rise, int) and isinstance(fall, int)) or rise < 1 or fall < 1:
            raise ValueError(f"rise and fall must be at least 1 (got rise {rise!r}, fall {fall!r})")
        self.name = name
        self.servers = {s: Server(s, rise, fall) for s in servers}
        self._next = 0

    def active(self) -> list[Server]:
        return [s for s in self.servers.values() if s.up]

    def pick(self) -> Server | None:
        """The next UP server after the last one chosen, in configuration order."""
        order = list(self.servers.values())
        for i in range(len(order)):
            server = order[(self._next + i) % len(order)]
            if server.up:
                self._next = (self._next + i + 1) % len(order)
                return server
        return None

    def check_passed(self, name: str, now_ns: int) -> str | None:
        s = self.servers[name]
        full = s.rise + s.fall - 1
        if s.health < full:
            s.health += 1
        if s.health >= s.rise:
            s.health = full  # once UP, fully up again
            if not s.up:
                s.up, s.last_change_ns = True, now_ns
                return "UP"
        return None

    def check_failed(self, name: str, now_ns: int) -> str | None:
        s = self.servers[name]
        s.check_fails += 1
        if s.health > s.rise:
            s.health -= 1  # still good
            return None
        s.health = 0
        if s.up:
            s.up, s.downs, s.last_change_ns = False, s.downs + 1, now_ns
            return "DOWN"
        return None


# -- haproxy.cfg ---------------------------------------------------------------------------------
def _haproxy_time(text: str) -> str:
    """HAProxy's time format: a number with an optional unit, milliseconds when none."""
    m = re.fullmatch(r"(\d+)(us|ms|s|m|h|d)?", text)
    if m is None:
        raise ValueError(f"haproxy.cfg: {text!r} is not a time (e.g. 2s, 5000ms, 5000)")
    value, unit = m.groups()
    return f"{int(value) * 24}h" if unit == "d" else f"{value}{unit or 'ms'}"


def parse_haproxy_cfg(cfg: str) -> dict[str, Any]:
    """The LoadBalancer options an haproxy.cfg sets, e.g. the seed article's config."""
    found: dict[str, Any] = {"servers": [], "check": "tcp"}  # `check` alone: a connect check
    per_server: dict[str, dict[str, Any]] = {}
    defaults: dict[str, Any] = {}
    section = ""
    for raw in cfg.splitlines():
        words = raw.split("#", 1)[0].split()
        if not words:
            continue
        if words[0] in ("global", "defaults", "frontend", "backend", "listen"):
            section = words[0]
            if section == "backend" and "backend_name" in found:
                break  # the first backend is the one we model
            if section in ("backend", "listen") and len(words) > 1:
                found["backend_name"] = words[1]
            continue
        if words[:2] == ["timeout", "server"] and len(words) > 2:
            found["timeout_server"] = _haproxy_time(words[2])
        elif words[:2] == ["timeout", "check"] and len(words) > 2:
            found["timeout_check"] = _haproxy_time(words[2])
        elif section not in ("backend", "listen", "defaults"):
            continue
        elif words[0] == "balance" and words[1:2] != ["roundrobin"]:
            raise ValueError(
                f"haproxy.cfg: balance {' '.join(words[1:])} is not modelled; only roundrobin"
            )
        elif words[:2] == ["option", "httpchk"]:
            found["check"], found["check_path"] = "http", (words[-1] if len(words) > 2 else "/")
        elif words[:2] == ["option", "tcp-check"]:
            found["check"] = "tcp"
        elif words[0] in ("server", "default-server"):
            opts = _server_options(words[3:] if words[0] == "server" else words[1:])
            if words[0] == "default-server":
                defaults.update(opts)
            elif len(words) < 3:
                raise ValueError(f"haproxy.cfg: {raw.strip()!r} needs a name and an address")
            else:
                found["servers"].append(words[1])
                per_server[words[1]] = opts
    if not found["servers"]:
        raise ValueError("haproxy.cfg: no server lines in the backend")
    merged = [{**defaults, **per_server[s]} for s in found["servers"]]
    for key in ("inter", "fall", "rise"):
        values = {m[key] for m in merged if key in m}
        if len(values) > 1:
            raise ValueError(f"haproxy.cfg: servers with different {key} are not modelled")
        if values:
            found[key] = values.pop()
    found["unchecked"] = [
        s for s, m in zip(found["servers"], merged, strict=True) if not m.get("check")
    ]
    return found


def _server_options(words: list[str]) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    it = iter(words)
    for word in it:
        if word == "check":
            opts["check"] = True
        elif word in ("inter", "fall", "rise"):
            value = next(it, "")
            opts[word] = (
                _haproxy_time(value) if word == "inter" else int(value) if value.isdigit() else None
            )
            if opts[word] is None:
                raise ValueError(f"haproxy.cfg: {word} needs a whole number, not {value!r}")
    return opts


# -- the host ---------------------------------------------------------------------------------------
def is_watch(req: Request) -> bool:
    """A watch is long-lived: `?watch=1|true` or the legacy `/watch/` path."""
    parts = urlsplit(req.path)
    query = dict(parse_qsl(parts.query))
    return query.get("watch", "").lower() in ("1", "true") or "/watch/" in parts.path


@dataclass
class _Stream:
    client: str
    client_id: int
    server: str
    watch: bool
    last_ns: int
    answered: bool = False


@dataclass
class _Check:
    server: str
    started_ns: int
    timeout: Timer | None = None


@dataclass
class LoadBalancer:
    """HAProxy in front of API server replicas: clients send it Requests as they would to one
    API server; it relays each to a replica and relays back the Response and WatchEvents.

    `check` is `"http"` (`option httpchk GET /healthz`: a 2xx/3xx answer passes) or `"tcp"`
    (`option tcp-check`, the seed article's: any answer passes). A replica marked DOWN has its
    open streams cut (`on-marked-down shutdown-sessions`; HAProxy's own default keeps them until
    `timeout server`), so informers watching through it start over on a live one.
    """

    name: str
    network: Network
    servers: Sequence[str]
    trace: Trace | None = None
    backend_name: str = "kubernetes-api-backend"
    check: str = "http"
    check_path: str = "/healthz"
    inter: int | float | str = "2s"
    rise: int = 2
    fall: int = 3
    timeout_check: int | float | str | None = None
    timeout_server: int | float | str | None = "50s"
    shutdown_sessions: bool = True
    unchecked: Sequence[str] = ()  # servers listed without `check`: never checked, always UP
    log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if isinstance(self.servers, str):
            raise ValueError(f"servers must be a list of host names, not {self.servers!r}")
        if self.check not in ("http", "tcp"):
            raise ValueError(f'check must be "http" or "tcp", not {self.check!r}')
        self.inter_ns = to_ns(self.inter)
        if self.inter_ns <= 0:
            raise ValueError(f"inter must be positive: {self.inter!r}")
        self.check_timeout_ns = to_ns(self.timeout_check) if self.timeout_check else self.inter_ns
        self.server_timeout_ns = to_ns(self.timeout_server) if self.timeout_server else 0
        self.trace = self.trace if self.trace is not None else self.network.trace
        self.clock = self.network.clock
        self.backend = Backend(self.backend_name, list(self.servers), self.rise, self.fall)
        self.host = self.network.add_host(self.name, self._receive)
        self.host.on_crash.append(self._crashed)
        self.host.on_restart.append(self._start)
        self._ids = itertools.count(1)
        self._streams: dict[int, _Stream] = {}
        self._checks: dict[int, _Check] = {}
        self.answered_503 = 0
        self._start()

    @classmethod
    def from_haproxy_cfg(
        cls, name: str, network: Network, cfg: str, **options: Any
    ) -> LoadBalancer:
        """Build the balancer an haproxy.cfg describes (its first backend; server names are the
        hosts on the network). Read: `balance`, `option httpchk [<method>] <uri>`, `option
        tcp-check`, `timeout server|check`, `default-server` and `server` lines with `check`,
        `inter`, `fall`, `rise`. Other lines (log, maxconn, bind ...) change nothing here."""
        found = parse_haproxy_cfg(cfg)
        return cls(name, network, **{**found, **options})

    # -- health checks -------------------------------------------------------------------------
    def _start(self) -> None:
        """Checks start staggered across servers (inter x position / count), as HAProxy does."""
        self.backend = Backend(self.backend_name, list(self.servers), self.rise, self.fall)
        self._streams.clear()
        self._checks.clear()
        n = len(self.backend.servers)
        for i, name in enumerate(self.backend.servers):
            if name not in self.unchecked:
                self._later(self.inter_ns * i // n, lambda s=name: self._send_check(s))

    def _send_check(self, server: str) -> None:
        cid = next(self._ids)
        check = self._checks[cid] = _Check(server, self.clock.now_ns)
        check.timeout = self._later(self.check_timeout_ns, lambda: self._check_done(cid, None))
        self.host.send(server, Request(cid, "GET", self.check_path, user_agent="haproxy-check"))

    def _check_done(self, cid: int, response: Response | None) -> None:
        check = self._checks.pop(cid, None)
        if check is None:
            return
        if check.timeout is not None:
            check.timeout.cancel()
        now = self.clock.now_ns
        ms = (now - check.started_ns) // 1_000_000
        s = self.backend.servers[check.server]
        if response is None:
            ok, reason, s.last_check = False, "Layer4 timeout", f"L4TOUT in {ms}ms"
        elif self.check == "tcp":
            ok, reason, s.last_check = True, "Layer4 check passed", f"L4OK in {ms}ms"
        else:
            ok = 200 <= response.code < 400
            word = "check passed" if ok else "wrong status"
            reason = f"Layer7 {word}, code: {response.code}"
            s.last_check = f"L7{'OK' if ok else 'STS'}/{response.code} in {ms}ms"
        apply = self.backend.check_passed if ok else self.backend.check_failed
        change = apply(check.server, now)
        if change is not None:
            self._changed(s, change, reason, ms)
        self._later(self.inter_ns, lambda: self._send_check(check.server))

    def _changed(self, s: Server, change: str, reason: str, ms: int) -> None:
        active = len(self.backend.active())
        where = f"{self.backend_name}/{s.name}"
        if change == "UP":
            line = (f"Server {where} is UP, reason: {reason}, check duration: {ms}ms. "
                    f"{active} active and 0 backup servers online. "
                    "0 sessions requeued, 0 total in queue.")  # fmt: skip
        else:
            cut = [k for k, st in self._streams.items() if st.server == s.name]
            line = (f"Server {where} is DOWN, reason: {reason}, check duration: {ms}ms. "
                    f"{active} active and 0 backup servers left. "
                    f"{len(cut)} sessions active, 0 requeued, 0 remaining in queue.")  # fmt: skip
        self._log(line)
        if self.trace is not None:
            self.trace.emit(self.name, f"server-{change.lower()}", server=s.name, reason=reason,
                            active=active)  # fmt: skip
        if change == "DOWN" and not active:
            self._log(f"backend {self.backend_name} has no server available!")
        if change == "DOWN" and self.shutdown_sessions:
            for k in cut:
                self._close(k, Response(0, 0, STREAM_CUT))

    def _log(self, line: str) -> None:
        self.log.append(f"[{self.clock.now:.3f}] {line}")

    # -- relaying ------------------------------------------------------------------------------
    def _receive(self, src: str, msg: Any) -> None:
        if isinstance(msg, Request):
            self._forward(src, msg)
        elif isinstance(msg, Response):
            if msg.id in self._checks:
                self._check_done(msg.id, msg)
            else:
                self._relay_response(msg)
        elif isinstance(msg, Cancel):
            for sid, st in list(self._streams.items()):
                if st.client == src and st.client_id == msg.id:
                    self._streams.pop(sid)
                    self.backend.servers[st.server].sessions -= 1
                    self.host.send(st.server, Cancel(sid))
        elif isinstance(msg, WatchEvent):
            stream = self._streams.get(msg.id)
            if stream is not None:
                stream.last_ns = self.clock.now_ns
                stream.answered = True
                self.host.send(stream.client, replace(msg, id=stream.client_id))

    def _forward(self, src: str, req: Request) -> None:
        server = self.backend.pick()
        if server is None:
            self.answered_503 += 1
            body = StatusError("ServiceUnavailable", 503, NO_SERVER).status
            self.host.send(src, Response(req.id, 503, body))
            return
        sid = next(self._ids)
        self._streams[sid] = _Stream(src, req.id, server.name, is_watch(req), self.clock.now_ns)
        server.sessions += 1
        server.total += 1
        self.host.send(server.name, replace(req, id=sid))
        if self.server_timeout_ns:
            self._arm_idle(sid, self.server_timeout_ns)

    def _relay_response(self, msg: Response) -> None:
        stream = self._streams.get(msg.id)
        if stream is not None:
            self._close(msg.id, msg)

    def _close(self, sid: int, response: Response) -> None:
        """End a stream: tell the client (with its own request id) and free the slot."""
        stream = self._streams.pop(sid, None)
        if stream is None:
            return
        self.backend.servers[stream.server].sessions -= 1
        self.host.send(stream.client, replace(response, id=stream.client_id))

    def _arm_idle(self, sid: int, delay_ns: int) -> None:
        def fire() -> None:
            stream = self._streams.get(sid)
            if stream is None:
                return
            idle = self.clock.now_ns - stream.last_ns
            if idle < self.server_timeout_ns:
                self._arm_idle(sid, self.server_timeout_ns - idle)
                return
            if stream.answered:  # a stream already under way is simply cut
                self._close(sid, Response(0, 0, STREAM_CUT))
            else:
                status = StatusError("Timeout", 504, SERVER_TIMEOUT).status
                self._close(sid, Response(0, 504, status))

        self._later(delay_ns, fire)

    def _later(self, ns: int, fn: Any) -> Timer:
        return self.host.call_later(f"{ns}ns", fn)  # integer nanoseconds, no float on the way

    def _crashed(self) -> None:
        self._streams.clear()
        self._checks.clear()

    # -- what a learner looks at ---------------------------------------------------------------
    def stats(self) -> list[dict[str, Any]]:
        """One row per server, named as HAProxy's stats page names its columns."""
        now = self.clock.now_ns
        return [
            {"server": s.name, "status": "no check" if s.name in self.unchecked else s.state,
             "last_check": s.last_check, "scur": s.sessions, "stot": s.total,
             "chkfail": s.check_fails, "chkdown": s.downs,
             "lastchg": f"{(now - s.last_change_ns) // SECOND}s"}
            for s in self.backend.servers.values()
        ]  # fmt: skip

    def counts(self) -> dict[str, int]:
        """Requests (and watches) sent to each server so far."""
        return {s.name: s.total for s in self.backend.servers.values()}

    @property
    def up(self) -> list[str]:
        return [s.name for s in self.backend.active()]

    def text(self) -> str:
        rows = self.stats()
        cols = list(rows[0])
        widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols}
        head = "  ".join(c.upper().ljust(widths[c]) for c in cols).rstrip()
        body = ["  ".join(str(r[c]).ljust(widths[c]) for c in cols).rstrip() for r in rows]
        return "\n".join([f"backend {self.backend_name} ({self.name})", head, *body])

    def _repr_html_(self) -> str:
        rows = self.stats()
        colour = {"UP": "#c8f7c5", "DOWN": "#f7c5c5"}
        head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
        body = "".join(
            f'<tr style="background:{colour.get(r["status"], "#f7efc5")}">'
            + "".join(f"<td>{html.escape(str(v))}</td>" for v in r.values())
            + "</tr>"
            for r in rows
        )
        title = html.escape(f"backend {self.backend_name} ({self.name})")
        return f"<table><caption>{title}</caption><tr>{head}</tr>{body}</table>"

    def __repr__(self) -> str:
        return self.text()


__all__ = [
    "Backend",
    "LoadBalancer",
    "NO_SERVER",
    "SERVER_TIMEOUT",
    "STREAM_CUT",
    "Server",
    "is_watch",
]
