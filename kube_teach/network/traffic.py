"""Request load on the simulated clock: clients look a Service up through cluster DNS, connect
through their node's kube-proxy, and wait on a backend pod; failures are retried.

Each piece is the library's own model: dns.resolv_conf for the pod's resolver settings,
coredns.Lookup and DNSServer for the queries and the replicas (with NodeLocal DNSCache in
front when asked), proxy.KubeProxy per node for the Service's ClusterIP. What comes out is
what the seed's failure stories measure: latency percentiles, errors by their client-side
text, timeouts, retries, DNS queries per request. One seed gives the same run.
"""

from __future__ import annotations

import html
import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..sim.clock import Clock
from ..sim.duration import SECOND
from ..sim.seeds import Seeds
from .coredns import (
    KUBE_DNS_IP,
    NODELOCAL_IP,
    NOERROR,
    NXDOMAIN,
    SERVFAIL,
    DNSServer,
    Lookup,
    Reply,
    Zone,
    nodelocal_cache,
)
from .dns import resolv_conf
from .proxy import ACCEPT, REJECT, KubeProxy
from .service import endpoint_slice

SERVICE_IP = "10.96.200.20"
DNS_ERRORS = {
    "timeout": "dns: i/o timeout",
    SERVFAIL: "dns: server misbehaving",
    NXDOMAIN: "dns: no such host",
}
CONNECTION_REFUSED = "connect: connection refused"
IO_TIMEOUT = "i/o timeout"
UNAVAILABLE = "503 Service Unavailable"


@dataclass
class Backend:
    """A backend pod: serves `capacity` requests/s one after another (FIFO), each taking
    `latency` seconds more; with `queue_limit` waiting it answers 503. A pod that is not
    `alive` (gone, its IP still in the endpoints) never answers: the client times out."""

    name: str
    capacity: float = 200.0
    latency: float = 0.01
    queue_limit: int = 200
    alive: bool = True
    removed: bool = False  # its endpoint is gone from the EndpointSlice
    ip: str = ""
    node: str = ""
    served: int = 0
    _busy_until: int = 0
    _waiting: deque[int] = field(default_factory=deque)

    def receive(self, now_ns: int) -> int | None:
        """When the response to a request arriving at `now_ns` leaves; None: 503 at once."""
        while self._waiting and self._waiting[0] <= now_ns:
            self._waiting.popleft()
        if len(self._waiting) >= self.queue_limit:
            return None
        done = max(now_ns, self._busy_until) + int(SECOND / self.capacity)
        self._busy_until = done
        self._waiting.append(done)
        self.served += 1
        return done + int(self.latency * SECOND)


@dataclass(frozen=True)
class Series:
    """A per-second count (`times` in seconds, `values`), plottable with kube_teach.viz."""

    name: str
    times: tuple[float, ...]
    values: tuple[float, ...]


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of `values`; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


@dataclass
class TrafficReport:
    """What a run measured. Latencies are seconds from a request's first try to its answer,
    for requests that succeeded; `errors` counts final failures by the client's error text."""

    seconds: float
    requests: int
    succeeded: int
    errors: dict[str, int]
    retries: int
    latencies: list[float]
    dns_queries: int
    dns_nxdomain: int
    lookups: int
    coredns_received: int
    coredns_dropped: int
    timeline: dict[str, list[int]]

    @property
    def failed(self) -> int:
        return sum(self.errors.values())

    @property
    def error_rate(self) -> float:
        return self.failed / self.requests if self.requests else 0.0

    @property
    def queries_per_request(self) -> float:
        return self.dns_queries / self.requests if self.requests else 0.0

    def p(self, q: float) -> float | None:
        return percentile(self.latencies, q)

    def series(self, name: str, scale: float = 1.0) -> Series:
        """Per-second counts: "requests", "succeeded", "failed", "dns_queries",
        "coredns_received", "coredns_dropped", "retries"; each multiplied by `scale`."""
        if name not in self.timeline:
            raise ValueError(f"no series {name!r}; have {', '.join(self.timeline)}")
        values = self.timeline[name]
        return Series(
            name, tuple(float(i) for i in range(len(values))), tuple(v * scale for v in values)
        )

    def summary(self) -> dict[str, Any]:
        def ms(v: float | None) -> str:
            return "-" if v is None else f"{v * 1000:.1f} ms"

        return {
            "requests": self.requests,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "error rate": f"{self.error_rate:.1%}",
            "retries": self.retries,
            "p50": ms(self.p(50)),
            "p90": ms(self.p(90)),
            "p99": ms(self.p(99)),
            "DNS queries per request": f"{self.queries_per_request:.2f}",
            "NXDOMAIN answers": self.dns_nxdomain,
            "CoreDNS queries received": self.coredns_received,
            "CoreDNS queries dropped": self.coredns_dropped,
        }

    def text(self) -> str:
        rows = [f"{k:<25} {v}" for k, v in self.summary().items()]
        rows += [f"  error {k!r}: {v}" for k, v in sorted(self.errors.items())]
        return "\n".join(rows)

    def __str__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        cells = "".join(
            f"<tr><th style='text-align:left'>{html.escape(str(k))}</th><td>{html.escape(str(v))}"
            "</td></tr>"
            for k, v in self.summary().items()
        )
        errs = "".join(
            f"<tr><th style='text-align:left'>error: {html.escape(k)}</th><td>{v}</td></tr>"
            for k, v in sorted(self.errors.items())
        )
        return f"<table>{cells}{errs}</table>"


@dataclass
class _Request:
    node: int
    client_ip: str
    start_ns: int
    attempt: int = 0


class TrafficModel:
    """Clients on `nodes` nodes send `rps` requests/s (Poisson) to a Service they reach by the
    name `name`, looked up with their pod's resolv.conf (ndots:5 unless `dns_options` say
    otherwise, e.g. [{"name": "ndots", "value": "1"}]). `coredns_replicas` replicas of
    `coredns_capacity` queries/s answer through the kube-dns Service, behind a NodeLocal
    DNSCache on every node when `nodelocal`. The application caches a looked-up address for
    `app_dns_cache` seconds (0: a lookup for every request, the seed's setup) and retries a
    failed request `app_retries` times after `retry_backoff` seconds (doubling; 0: at once).
    """

    def __init__(
        self,
        *,
        nodes: int = 4,
        rps: float = 100.0,
        name: str = "backend-service.production.svc.cluster.local",
        namespace: str = "production",
        service: str = "backend-service",
        port: int = 80,
        backends: int | Sequence[Backend] = 3,
        coredns_replicas: int = 2,
        coredns_capacity: float = 1000.0,
        coredns_queue_limit: int = 256,
        nodelocal: bool = False,
        nodelocal_capacity: float = 20000.0,
        dns_options: Sequence[dict[str, Any]] = (),
        external: dict[str, str] | None = None,
        app_dns_cache: float = 0.0,
        app_retries: int = 3,
        retry_backoff: float = 0.0,
        request_timeout: float = 10.0,
        seed: int = 0,
    ) -> None:
        if nodes < 1 or rps <= 0 or coredns_replicas < 1 or coredns_capacity <= 0:
            raise ValueError(
                "nodes and coredns_replicas must be at least 1, rps and coredns_capacity positive"
            )
        if any(not isinstance(o, dict) or "name" not in o for o in dns_options):
            raise ValueError(
                'dns_options are dnsConfig options: [{"name": "ndots", "value": "1"}, ...]'
            )
        self.clock = Clock()
        self.seeds = Seeds(seed)
        self.rng = self.seeds.stream("traffic")
        self.nodes = [f"node-{i + 1}" for i in range(nodes)]
        self.rps, self.name, self.port = rps, name, port
        self.app_dns_cache, self.app_retries = app_dns_cache, app_retries
        self.retry_backoff, self.request_timeout = retry_backoff, request_timeout
        self.zone = Zone(
            {f"{service}.{namespace}": SERVICE_IP, "kube-dns.kube-system": KUBE_DNS_IP},
            external or {"api.example.com": "203.0.113.7"},
        )
        pod = {"metadata": {"namespace": namespace}, "spec": {}}
        if dns_options:
            pod["spec"]["dnsConfig"] = {"options": list(dns_options)}
        self.conf = resolv_conf(pod, cluster_dns=[NODELOCAL_IP if nodelocal else KUBE_DNS_IP])
        self.coredns = [
            DNSServer(f"coredns-{i}", self.zone, coredns_capacity, coredns_queue_limit)
            for i in range(coredns_replicas)
        ]
        for i, server in enumerate(self.coredns):
            server.cache.rng = self.seeds.stream(f"coredns-{i}")  # type: ignore[union-attr]
        self._coredns_by_ip = {
            f"10.244.{i % nodes + 1}.{200 + i}": s for i, s in enumerate(self.coredns)
        }
        if isinstance(backends, int):
            backends = [Backend(f"{service}-{i}") for i in range(backends)]
        self.backends = list(backends)
        for i, b in enumerate(self.backends):
            b.ip = b.ip or f"10.244.{i % nodes + 1}.{10 + i}"
            b.node = b.node or self.nodes[i % nodes]
        self._backend_by_ip = {b.ip: b for b in self.backends}
        self.proxies = [KubeProxy(n, self.seeds.stream(f"kube-proxy/{n}")) for n in self.nodes]
        self._service = {
            "metadata": {"name": service, "namespace": namespace},
            "spec": {"clusterIP": SERVICE_IP, "ports": [{"port": port, "targetPort": 8080}]},
        }
        dns_service = {
            "metadata": {"name": "kube-dns", "namespace": "kube-system"},
            "spec": {"clusterIP": KUBE_DNS_IP, "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}]},
        }  # fmt: skip
        dns_slice = endpoint_slice("kube-dns", [], 53, namespace="kube-system", port_name="dns")
        dns_slice["ports"][0]["protocol"] = "UDP"
        dns_slice["endpoints"] = [
            {"addresses": [ip], "conditions": {"ready": True}, "nodeName": self.nodes[i % nodes]}
            for i, ip in enumerate(self._coredns_by_ip)
        ]
        for proxy in self.proxies:
            proxy.update_service(self._service)
            proxy.update_service(dns_service)
            proxy.update_endpoint_slice(dns_slice)
        self._publish_backends()
        self.nodelocal = (
            [
                DNSServer(
                    f"node-local-dns/{n}",
                    self.zone,
                    nodelocal_capacity,
                    10000,
                    nodelocal_cache(),
                    upstream=self._via_kube_dns(i),
                    upstream_cluster_only=True,
                )
                for i, n in enumerate(self.nodes)
            ]
            if nodelocal
            else None
        )
        self._app_cache: dict[int, tuple[str, int]] = {}
        self._latencies: list[float] = []
        self._errors: dict[str, int] = {}
        self._counts = {"requests": 0, "succeeded": 0, "retries": 0, "queries": 0, "nx": 0}
        self._lookups = 0
        self._timeline: dict[str, dict[int, int]] = {}

    # -- changes during a run ------------------------------------------------------------------
    def _publish_backends(self) -> None:
        """The EndpointSlice as the controller writes it (only pods not removed yet), then a
        kube-proxy sync on every node."""
        pairs = [(b.ip, b.node) for b in self.backends if not b.removed]
        s = endpoint_slice(self._service["metadata"]["name"], pairs, 8080,
                           namespace=self._service["metadata"]["namespace"])  # fmt: skip
        for proxy in self.proxies:
            proxy.update_endpoint_slice(s)
            proxy.sync()

    def at(self, seconds: float, fn: Callable[[], object]) -> None:
        """Run `fn()` at `seconds` of simulated time (to change the model mid-run)."""
        self.clock.call_at(int(seconds * SECOND), fn)

    def kill_backend(self, name: str, at: float, endpoints_removed_after: float = 0.0) -> None:
        """At `at`, backend `name` stops answering; its endpoint leaves the Service's rules
        only `endpoints_removed_after` seconds later (until then it is a zombie that still
        receives new connections)."""
        backend = next((b for b in self.backends if b.name == name), None)
        if backend is None:
            raise ValueError(f"no backend named {name!r} (have {[b.name for b in self.backends]})")

        def kill() -> None:
            backend.alive = False

        def remove() -> None:
            backend.removed = True
            self._publish_backends()

        self.at(at, kill)
        self.at(at + endpoints_removed_after, remove)

    # -- the request path ----------------------------------------------------------------------
    def _tick(self, key: str, at_ns: int, by: int = 1) -> None:
        bucket = self._timeline.setdefault(key, {})
        second = at_ns // SECOND
        bucket[second] = bucket.get(second, 0) + by

    def _to_coredns(self, node: int, name: str, qtype: str, now_ns: int) -> Reply | None:
        conn = self.proxies[node].connect(f"10.244.{node + 1}.2", KUBE_DNS_IP, 53, "UDP")
        if conn.verdict != ACCEPT:
            return None
        self._tick("coredns_received", now_ns)
        server = self._coredns_by_ip[conn.endpoint.ip]  # type: ignore[union-attr]
        reply = server.receive(name, qtype, now_ns)
        if reply is None:
            self._tick("coredns_dropped", now_ns)
        return reply

    def _via_kube_dns(self, node: int) -> Callable[[str, str, int], Reply | None]:
        return lambda name, qtype, now_ns: self._to_coredns(node, name, qtype, now_ns)

    def _send(self, node: int) -> Callable[[str, str, int], Reply | None]:
        def send(name: str, qtype: str, now_ns: int) -> Reply | None:
            self._counts["queries"] += 1
            self._tick("dns_queries", now_ns)
            if self.nodelocal is not None:
                return self.nodelocal[node].receive(name, qtype, now_ns)
            return self._to_coredns(node, name, qtype, now_ns)

        return send

    def _arrive(self, end_ns: int) -> None:
        now = self.clock.now_ns
        node = self.rng.randrange(len(self.nodes))
        req = _Request(node, f"10.244.{node + 1}.{2 + self.rng.randrange(50)}", now)
        self._counts["requests"] += 1
        self._tick("requests", now)
        self._begin(req)
        gap = int(self.rng.expovariate(self.rps) * SECOND)
        if now + gap < end_ns:
            self.clock.call_at(now + gap, lambda: self._arrive(end_ns))

    def _begin(self, req: _Request) -> None:
        now = self.clock.now_ns
        cached = self._app_cache.get(req.node)
        if cached is not None and now < cached[1]:
            self._connect(req, cached[0])
            return
        self._lookups += 1
        lookup = Lookup(self.name, self.conf, self._send(req.node))
        self.clock.call_at(lookup.start(now), lambda: self._lookup_step(req, lookup))

    def _lookup_step(self, req: _Request, lookup: Lookup) -> None:
        nxt = lookup.wake(self.clock.now_ns)
        if nxt is not None:
            self.clock.call_at(nxt, lambda: self._lookup_step(req, lookup))
            return
        self._counts["nx"] += lookup.nxdomains
        if lookup.result == NOERROR and lookup.address:
            if self.app_dns_cache > 0:
                expires = self.clock.now_ns + int(self.app_dns_cache * SECOND)
                self._app_cache[req.node] = (lookup.address, expires)
            self._connect(req, lookup.address)
        else:
            self._retry_or_fail(req, DNS_ERRORS.get(lookup.result or "", "dns error"), 0)

    def _connect(self, req: _Request, ip: str) -> None:
        now = self.clock.now_ns
        timeout = int(self.request_timeout * SECOND)
        conn = self.proxies[req.node].connect(req.client_ip, ip, self.port, now=now / SECOND)
        if conn.verdict == REJECT:
            self._retry_or_fail(req, CONNECTION_REFUSED, 0)
            return
        backend = self._backend_by_ip.get(conn.endpoint.ip) if conn.endpoint else None
        if conn.verdict != ACCEPT or backend is None or not backend.alive:
            self._retry_or_fail(req, IO_TIMEOUT, timeout)
            return
        done = backend.receive(now)
        if done is None:
            self._retry_or_fail(req, UNAVAILABLE, int(backend.latency * SECOND))
        elif done - now > timeout:
            self._retry_or_fail(req, IO_TIMEOUT, timeout)
        else:
            self.clock.call_at(done, lambda: self._succeed(req))

    def _succeed(self, req: _Request) -> None:
        self._counts["succeeded"] += 1
        self._tick("succeeded", self.clock.now_ns)
        self._latencies.append((self.clock.now_ns - req.start_ns) / SECOND)

    def _retry_or_fail(self, req: _Request, error: str, after_ns: int) -> None:
        def act() -> None:
            if req.attempt < self.app_retries:
                req.attempt += 1
                self._counts["retries"] += 1
                self._tick("retries", self.clock.now_ns)
                backoff = self.retry_backoff * 2 ** (req.attempt - 1)
                self.clock.call_later(backoff, lambda: self._begin(req))
            else:
                self._errors[error] = self._errors.get(error, 0) + 1
                self._tick("failed", self.clock.now_ns)

        self.clock.call_later(after_ns / SECOND, act) if after_ns else act()

    # -- running -------------------------------------------------------------------------------
    def run(self, seconds: float) -> TrafficReport:
        """Send requests for `seconds`, let every request in flight finish, and report."""
        if seconds <= 0:
            raise ValueError(f"seconds must be positive, not {seconds!r}")
        end = int(seconds * SECOND)
        self.clock.call_at(0, lambda: self._arrive(end))
        self.clock.run()
        horizon = int(max(seconds, self.clock.now))
        timeline = {
            key: [self._timeline.get(key, {}).get(s, 0) for s in range(horizon + 1)]
            for key in ("requests", "succeeded", "failed", "retries", "dns_queries",
                        "coredns_received", "coredns_dropped")
        }  # fmt: skip
        return TrafficReport(
            seconds=seconds,
            requests=self._counts["requests"],
            succeeded=self._counts["succeeded"],
            errors=dict(sorted(self._errors.items())),
            retries=self._counts["retries"],
            latencies=self._latencies,
            dns_queries=self._counts["queries"],
            dns_nxdomain=self._counts["nx"],
            lookups=self._lookups,
            coredns_received=sum(s.received for s in self.coredns),
            coredns_dropped=sum(s.dropped for s in self.coredns),
            timeline=timeline,
        )
