"""kube-proxy on one node, iptables mode: which backend a new connection to a Service reaches.

Semantics: pkg/proxy/iptables (one KUBE-SVC chain per service port whose i-th of n endpoint
rules matches with probability 1/(n-i), so each endpoint gets 1/n; `-m recent` for ClientIP
affinity; REJECT when a service has no endpoints, DROP when a Local traffic policy finds none on
this node) and pkg/proxy/topology.go (ready endpoints, else serving-and-terminating ones).
Changes to Services and EndpointSlices take effect at the next `sync()`, as the rules do.
"""

from __future__ import annotations

import base64
import hashlib
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..api.kinds import KINDS
from ..client.informer import Informer
from ..client.rest import RESTClient
from ..sim.duration import to_ns
from ..sim.network import Host
from ..sim.trace import Trace
from .service import (
    LOCAL,
    Endpoint,
    ServicePort,
    ServicePortName,
    service_ports,
    slice_endpoints,
    slice_service,
)

ACCEPT, REJECT, DROP = "ACCEPT", "REJECT", "DROP"
CONNECTION_REFUSED = "connect: connection refused"  # what REJECT (icmp-port-unreachable) gives
IO_TIMEOUT = "i/o timeout"  # what a DROP gives the client, after its connect timeout
MIN_SYNC_PERIOD = 1.0  # iptables.minSyncPeriod (seconds)
SYNC_PERIOD = 30.0  # iptables.syncPeriod (seconds)


@dataclass(frozen=True)
class Connection:
    """Where one new connection went: `verdict` ACCEPT with the chosen `endpoint`, or REJECT
    (connection refused at once) or DROP (the client times out), with the rule's comment."""

    service: str
    verdict: str
    endpoint: Endpoint | None = None
    comment: str = ""

    @property
    def error(self) -> str | None:
        """What the client's dial returns: None when accepted."""
        return {ACCEPT: None, REJECT: CONNECTION_REFUSED}.get(self.verdict, IO_TIMEOUT)

    def __str__(self) -> str:
        if self.verdict == ACCEPT:
            return f"{self.service} -> {self.endpoint}"
        return f"{self.service}: {self.verdict} ({self.comment})"


def _hash(*parts: str) -> str:
    digest = hashlib.sha256("".join(parts).encode()).digest()
    return base64.b32encode(digest).decode()[:16]


def svc_chain(port: ServicePort) -> str:
    """KUBE-SVC-<16 chars>: base32 of sha256(service port name + protocol), as upstream."""
    return "KUBE-SVC-" + _hash(str(port.name), port.protocol.lower())


def sep_chain(port: ServicePort, endpoint: Endpoint) -> str:
    return "KUBE-SEP-" + _hash(str(port.name), port.protocol.lower(), str(endpoint))


@dataclass(frozen=True)
class Categorized:
    """The endpoints one service port uses (CategorizeEndpoints): `cluster` for Cluster
    policies, `local` (this node's) for Local ones; `has_any` when anything can serve."""

    cluster: tuple[Endpoint, ...]
    local: tuple[Endpoint, ...]
    has_any: bool


def categorize(port: ServicePort, endpoints: list[Endpoint], node: str) -> Categorized:
    """Ready endpoints; when none are ready, serving endpoints that are terminating (so a
    rolling update's last old pods still answer), separately for the cluster and this node."""

    def usable(eps: list[Endpoint]) -> tuple[Endpoint, ...]:
        ready = [e for e in eps if e.ready]
        return tuple(ready or [e for e in eps if e.serving and e.terminating])

    cluster = usable(endpoints)
    local = usable([e for e in endpoints if e.node == node])
    return Categorized(cluster, local, bool(cluster))


class KubeProxy:
    """The pure core for one node: feed it Services and EndpointSlices, `sync()`, then ask
    `connect(...)` where a new connection goes. `rng` draws the iptables statistic matches."""

    def __init__(self, node: str, rng: random.Random | None = None) -> None:
        self.node = node
        self.rng = rng or random.Random(f"kube-proxy/{node}")
        self._services: dict[tuple[str, str], list[ServicePort]] = {}
        self._slices: dict[tuple[str, str], tuple[tuple[str, str] | None, dict]] = {}
        self._pending: dict[str, Any] = {}
        # programmed state, replaced at each sync
        self.by_ip_port: dict[tuple[str, int, str], ServicePort] = {}
        self.by_node_port: dict[tuple[int, str], ServicePort] = {}
        self.endpoints: dict[ServicePortName, list[Endpoint]] = {}
        self.affinity: dict[tuple[ServicePortName, str], tuple[Endpoint, float]] = {}
        self.syncs = 0
        self._categorized: dict[ServicePortName, Categorized] = {}
        self._names: dict[ServicePortName, str] = {}

    # -- inputs: what the informers deliver -----------------------------------------------------
    @staticmethod
    def _key(obj: Mapping[str, Any]) -> tuple[str, str]:
        meta = obj.get("metadata") or {}
        return meta.get("namespace") or "default", meta.get("name") or ""

    def update_service(self, service: Mapping[str, Any]) -> None:
        self._services[self._key(service)] = service_ports(service)
        self._pending["services"] = True

    def delete_service(self, service: Mapping[str, Any]) -> None:
        self._services.pop(self._key(service), None)
        self._pending["services"] = True

    def update_endpoint_slice(self, endpoint_slice: Mapping[str, Any]) -> None:
        owner = slice_service(endpoint_slice)
        self._slices[self._key(endpoint_slice)] = (owner, slice_endpoints(endpoint_slice))
        self._pending["endpoints"] = True

    def delete_endpoint_slice(self, endpoint_slice: Mapping[str, Any]) -> None:
        self._slices.pop(self._key(endpoint_slice), None)
        self._pending["endpoints"] = True

    @property
    def pending(self) -> bool:
        """Whether changes wait for the next sync (until then the old rules route)."""
        return bool(self._pending)

    # -- sync: program the rules ---------------------------------------------------------------
    def sync(self) -> None:
        """Rebuild the rules from everything received so far (syncProxyRules)."""
        self._pending = {}
        self.syncs += 1
        self.by_ip_port, self.by_node_port, self.endpoints = {}, {}, {}
        self._categorized = {}
        for key in sorted(self._services):
            for port in self._services[key]:
                self.by_ip_port[(port.cluster_ip, port.port, port.protocol)] = port
                if port.node_port:
                    self.by_node_port[(port.node_port, port.protocol)] = port
                self.endpoints[port.name] = []
        for key in sorted(self._slices):
            owner, by_port = self._slices[key]
            if owner is None:
                continue
            for port_name, eps in by_port.items():
                name = ServicePortName(owner[0], owner[1], port_name)
                if name in self.endpoints:
                    self.endpoints[name].extend(eps)
        for name in self.endpoints:
            self.endpoints[name] = sorted(set(self.endpoints[name]))

    # -- decisions -----------------------------------------------------------------------------
    def connect(
        self, client_ip: str, ip: str, port: int, protocol: str = "TCP", now: float = 0.0
    ) -> Connection:
        """A new connection from a pod on this node (`client_ip`) to `ip:port` (a ClusterIP)."""
        svc = self.by_ip_port.get((ip, port, protocol))
        if svc is None:
            return Connection(f"{ip}:{port}", DROP, None, "no service has this IP and port")
        return self._route(svc, client_ip, now, external=False)

    def connect_node_port(
        self, client_ip: str, node_port: int, protocol: str = "TCP", now: float = 0.0
    ) -> Connection:
        """A new connection from outside the cluster to this node's `node_port`."""
        svc = self.by_node_port.get((node_port, protocol))
        if svc is None:
            return Connection(f"nodePort {node_port}", REJECT, None, "no service has this nodePort")
        return self._route(svc, client_ip, now, external=True)

    def _categorize(self, svc: ServicePort) -> Categorized:
        cat = self._categorized.get(svc.name)
        if cat is None:  # the rules only change at a sync
            cat = categorize(svc, self.endpoints.get(svc.name, []), self.node)
            self._categorized[svc.name] = cat
        return cat

    def candidates(self, svc: ServicePort, *, external: bool = False) -> tuple[Endpoint, ...]:
        """The endpoints the rules spread this traffic over (empty: REJECT or DROP)."""
        cat = self._categorize(svc)
        local = svc.external_policy == LOCAL if external else svc.internal_policy == LOCAL
        return cat.local if local else cat.cluster

    def _route(self, svc: ServicePort, client_ip: str, now: float, external: bool) -> Connection:
        cat = self._categorize(svc)
        name = self._names.get(svc.name) or self._names.setdefault(svc.name, str(svc.name))
        local_policy = svc.external_policy == LOCAL if external else svc.internal_policy == LOCAL
        if not cat.has_any and not cat.local:
            return Connection(name, REJECT, None, f"{name} has no endpoints")
        targets = cat.local if local_policy else cat.cluster
        if not targets:
            return Connection(name, DROP, None, f"{name} has no local endpoints")
        chosen = None
        if svc.session_affinity:
            seen = self.affinity.get((svc.name, client_ip))
            if seen is not None and now - seen[1] <= svc.affinity_timeout and seen[0] in targets:
                chosen = seen[0]
        if chosen is None:
            n = len(targets)
            for i, ep in enumerate(targets):  # -m statistic --probability 1/(n-i); last always
                if i == n - 1 or self.rng.random() < 1.0 / (n - i):
                    chosen = ep
                    break
        if svc.session_affinity:
            self.affinity[(svc.name, client_ip)] = (chosen, now)
        return Connection(name, ACCEPT, chosen, "")

    def iptables_rules(self, name: ServicePortName | str | None = None) -> str:
        """The nat-table rules of the service chains, in iptables-save form (trimmed to the
        parts that decide: comment, statistic probability, affinity, jump)."""
        lines = []
        for svc in sorted(self.by_ip_port.values(), key=lambda s: s.name):
            if name is not None and str(svc.name) != str(name):
                continue
            chain, targets = svc_chain(svc), self.candidates(svc)
            lines.append(
                f"-A KUBE-SERVICES -d {svc.cluster_ip}/32 -p {svc.protocol.lower()} "
                f'-m comment --comment "{svc.name} cluster IP" -m {svc.protocol.lower()} '
                f"--dport {svc.port} -j {chain}"
            )
            if not targets:
                none = not self._categorize(svc).has_any
                verdict, why = (
                    (REJECT, "has no endpoints") if none else (DROP, "has no local endpoints")
                )
                lines.append(f'-A KUBE-SERVICES -d {svc.cluster_ip}/32 -m comment --comment '
                             f'"{svc.name} {why}" -j {verdict}')  # fmt: skip
                continue
            comment = f'-m comment --comment "{svc.name} -> '
            if svc.session_affinity:
                for ep in targets:
                    lines.append(
                        f'-A {chain} {comment}{ep}" -m recent --name {sep_chain(svc, ep)} '
                        f"--mask 255.255.255.255 --rsource --rcheck --seconds "
                        f"{svc.affinity_timeout} --reap -j {sep_chain(svc, ep)}"
                    )
            n = len(targets)
            for i, ep in enumerate(targets):
                stat = (
                    ""
                    if i == n - 1
                    else f"-m statistic --mode random --probability {1.0 / (n - i):0.10f} "
                )
                lines.append(f'-A {chain} {comment}{ep}" {stat}-j {sep_chain(svc, ep)}')
        return "\n".join(lines)


@dataclass
class KubeProxyHost:
    """kube-proxy as a process on a node's host: informers on Services and EndpointSlices feed
    the core; rules are re-synced at most once per `min_sync_period` after a change and at
    least every `sync_period` (BoundedFrequencyRunner)."""

    host: Host
    apiserver: str
    node: str
    rng: random.Random | None = None
    trace: Trace | None = None
    min_sync_period: float = MIN_SYNC_PERIOD
    sync_period: float = SYNC_PERIOD
    core: KubeProxy = field(init=False)
    informers: list[Informer] = field(init=False, default_factory=list)
    _last_sync_ns: int | None = field(init=False, default=None)
    _scheduled: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self.core = KubeProxy(self.node, self.rng)
        self.clock = self.host.net.clock
        self.client = RESTClient(
            self.host, self.apiserver, credentials={"cert": {"cn": "system:kube-proxy"}},
            user_agent="kube-proxy",
        )  # fmt: skip

    def start(self) -> None:
        handlers: list[tuple[str, Callable[..., None], Callable[..., None]]] = [
            ("Service", self.core.update_service, self.core.delete_service),
            ("EndpointSlice", self.core.update_endpoint_slice, self.core.delete_endpoint_slice),
        ]
        for kind, update, delete in handlers:
            informer = Informer(self.client, KINDS[kind])  # type: ignore[arg-type]
            informer.add_handlers(
                on_add=self._changed(update),
                on_update=lambda old, new, update=update: self._changed(update)(new),
                on_delete=self._changed(delete),
            )
            informer.start()
            self.informers.append(informer)
        self.host.every(self.sync_period, self._periodic)

    def _changed(self, apply: Callable[[Any], None]) -> Callable[[Any], None]:
        def handler(obj: Any) -> None:
            apply(obj)
            self._schedule()

        return handler

    def _schedule(self) -> None:
        if self._scheduled:
            return
        self._scheduled = True
        earliest = 0
        if self._last_sync_ns is not None:
            earliest = max(0, self._last_sync_ns + to_ns(self.min_sync_period) - self.clock.now_ns)
        self.host.call_later(earliest / 1e9, self._sync)

    def _periodic(self) -> None:
        if not self._scheduled:
            self._sync()

    def _sync(self) -> None:
        self._scheduled = False
        self.core.sync()
        self._last_sync_ns = self.clock.now_ns
        if self.trace is not None:
            self.trace.emit(f"kube-proxy/{self.node}", "synced", services=len(self.core.by_ip_port))

    def connect(self, client_ip: str, ip: str, port: int, protocol: str = "TCP") -> Connection:
        return self.core.connect(client_ip, ip, port, protocol, now=self.clock.now)
