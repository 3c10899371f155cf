"""Cluster DNS as a queueing model: CoreDNS replicas, their caches, NodeLocal DNSCache, and the
stub resolver in each pod that turns one lookup into several queries.

Semantics: CoreDNS's kubeadm Corefile (kubernetes plugin authoritative for cluster.local with
`ttl 30`, `forward . /etc/resolv.conf {max_concurrent 1000}`, `cache 30`), the cache plugin
(TTL capped per answer class, minimum 5 s, 9984 entries), node-local-dns (169.254.20.10,
`cache {success 9984 30; denial 9984 5}`) and glibc's resolver (A and AAAA in parallel,
`timeout:5`, `attempts:2`, a timeout ends the search). Times are integer nanoseconds; a
server is FIFO: a query waits for the ones before it, so an overloaded replica answers late,
and queries beyond its socket buffer are dropped.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from ..sim.duration import SECOND
from .dns import ResolvConf, _candidates

CLUSTER_DOMAIN = "cluster.local"
NODELOCAL_IP = "169.254.20.10"  # node-local-dns listens here (link-local, on every node)
KUBE_DNS_IP = "10.96.0.10"
COREDNS_CACHE_TTL = 30  # `cache 30` in the default Corefile: success and denial
KUBERNETES_TTL = 30  # `ttl 30` of the kubernetes plugin: records and the SOA minimum
CACHE_CAPACITY = 9984  # entries per class (success, denial): the cache plugin's default
CACHE_MIN_TTL = 5  # the cache plugin never keeps an answer for less than this
NODELOCAL_SUCCESS_TTL, NODELOCAL_DENIAL_TTL = 30, 5
FORWARD_TIMEOUT = 2.0  # seconds a forward waits before answering SERVFAIL (read timeout)
EXTERNAL_TTL = 300  # TTL the upstream resolver gives external names
DEFAULT_COREFILE = """\
.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30
    loop
    reload
    loadbalance
}
"""
NOERROR, NXDOMAIN, SERVFAIL, REFUSED = "NOERROR", "NXDOMAIN", "SERVFAIL", "REFUSED"


@dataclass(frozen=True)
class Answer:
    """A DNS response: rcode, records (empty for NXDOMAIN and for NODATA), TTL in seconds,
    and who produced it ("cache", "kubernetes", "forward", or "nodelocal")."""

    name: str
    qtype: str
    rcode: str
    records: tuple[str, ...] = ()
    ttl: int = 0
    source: str = ""


@dataclass
class DNSCache:
    """The cache plugin: answers kept for min(TTL, cap), at least `min_ttl`; separate success
    and denial (NXDOMAIN and NODATA) parts of `capacity` entries each; full parts evict an
    entry at random, as the plugin does."""

    success_ttl: int = COREDNS_CACHE_TTL
    denial_ttl: int = COREDNS_CACHE_TTL
    capacity: int = CACHE_CAPACITY
    min_ttl: int = CACHE_MIN_TTL
    rng: random.Random = field(default_factory=lambda: random.Random("dns-cache"))
    hits: int = 0
    misses: int = 0
    _success: dict[tuple[str, str], tuple[Answer, int]] = field(default_factory=dict)
    _denial: dict[tuple[str, str], tuple[Answer, int]] = field(default_factory=dict)

    def get(self, name: str, qtype: str, now_ns: int) -> Answer | None:
        for part in (self._success, self._denial):
            found = part.get((name, qtype))
            if found is not None:
                answer, expires = found
                if now_ns < expires:
                    self.hits += 1
                    return Answer(name, qtype, answer.rcode, answer.records,
                                  max(0, (expires - now_ns) // SECOND), "cache")  # fmt: skip
                del part[(name, qtype)]
        self.misses += 1
        return None

    def put(self, answer: Answer, now_ns: int) -> None:
        if answer.rcode not in (NOERROR, NXDOMAIN):
            return  # SERVFAIL and REFUSED are not cached here
        denial = answer.rcode == NXDOMAIN or not answer.records
        part, cap = (self._denial, self.denial_ttl) if denial else (self._success, self.success_ttl)
        ttl = max(self.min_ttl, min(answer.ttl, cap))
        key = (answer.name, answer.qtype)
        if key not in part and len(part) >= self.capacity:
            del part[self.rng.choice(sorted(part))]
        part[key] = (answer, now_ns + ttl * SECOND)

    def __len__(self) -> int:
        return len(self._success) + len(self._denial)


@dataclass
class Zone:
    """What exists: Services `{"<svc>.<ns>": clusterIP}` answered by the kubernetes plugin,
    and external names that the upstream resolver knows (`{"api.example.com": "203.0.113.7"}`)."""

    services: Mapping[str, str] = field(default_factory=dict)
    external: Mapping[str, str] = field(default_factory=dict)
    domain: str = CLUSTER_DOMAIN

    def in_cluster(self, fqdn: str) -> bool:
        return fqdn.rstrip(".").endswith(self.domain)

    def exists(self, fqdn: str) -> bool:
        """Whether `fqdn` has an address (the resolver stops at the first that does)."""
        return self._address(fqdn) is not None

    def _address(self, fqdn: str) -> str | None:
        name = fqdn.rstrip(".")
        if self.in_cluster(name):
            svc = name.removesuffix("." + self.domain).removesuffix(".svc")
            return self.services.get(svc) if name.endswith(f".svc.{self.domain}") else None
        return self.external.get(name)

    def answer(self, fqdn: str, qtype: str) -> Answer:
        """The authoritative answer (kubernetes plugin) or the upstream resolver's."""
        ip = self._address(fqdn)
        source = "kubernetes" if self.in_cluster(fqdn) else "forward"
        ttl = KUBERNETES_TTL if source == "kubernetes" else EXTERNAL_TTL
        if ip is None:
            return Answer(fqdn, qtype, NXDOMAIN, (), ttl, source)
        records = (ip,) if qtype == "A" else ()  # IPv4-only cluster: AAAA is NODATA
        return Answer(fqdn, qtype, NOERROR, records, ttl, source)


@dataclass(frozen=True)
class Reply:
    """A server's answer and when it leaves the server (ns); None instead of a Reply means
    the query was dropped and the client hears nothing."""

    answer: Answer
    at_ns: int


@dataclass
class DNSServer:
    """One DNS server process (a CoreDNS replica, or node-local-dns on a node).

    `capacity` is queries per second of CPU; queries wait in FIFO order, and once
    `queue_limit` are waiting new ones are dropped (a full UDP socket buffer). A cache miss
    is answered by `upstream(name, qtype, now_ns)` (another server; None if it dropped it,
    then SERVFAIL after `forward_timeout`) or, for CoreDNS, from `zone` after
    `forward_latency` for names outside the cluster domain. With `upstream_cluster_only`
    (node-local-dns's Corefile) only cluster.local names go to `upstream`; the others are
    forwarded to the node's resolver directly, bypassing CoreDNS.
    """

    name: str
    zone: Zone
    capacity: float = 5000.0
    queue_limit: int = 256  # about what a default UDP receive buffer (rmem) holds
    cache: DNSCache | None = field(default_factory=DNSCache)
    forward_latency: float = 0.02
    forward_timeout: float = FORWARD_TIMEOUT
    upstream: Callable[[str, str, int], Reply | None] | None = None
    upstream_cluster_only: bool = False  # node-local-dns: only cluster.local goes to CoreDNS
    received: int = 0
    answered: int = 0
    dropped: int = 0
    _busy_until: int = 0
    _waiting: deque[int] = field(default_factory=deque)  # finish times, in order (FIFO)

    @property
    def cost_ns(self) -> int:
        return int(SECOND / self.capacity)

    def backlog(self, now_ns: int) -> int:
        """Queries received and not yet processed at `now_ns`."""
        waiting = self._waiting
        while waiting and waiting[0] <= now_ns:
            waiting.popleft()
        return len(waiting)

    def receive(self, name: str, qtype: str, now_ns: int) -> Reply | None:
        """A query arrives at `now_ns`; its reply and departure time, or None when dropped."""
        self.received += 1
        if self.backlog(now_ns) >= self.queue_limit:
            self.dropped += 1
            return None
        done = max(now_ns, self._busy_until) + self.cost_ns
        self._busy_until = done
        self._waiting.append(done)
        self.answered += 1
        cached = self.cache.get(name, qtype, done) if self.cache is not None else None
        if cached is not None:
            return Reply(cached, done)
        if self.upstream is not None and (
            not self.upstream_cluster_only or self.zone.in_cluster(name)
        ):
            reply = self.upstream(name, qtype, done)
            if reply is None:
                fail = Answer(name, qtype, SERVFAIL, (), 0, self.name)
                return Reply(fail, done + int(self.forward_timeout * SECOND))
            answer = reply.answer
            at = reply.at_ns
        else:
            answer = self.zone.answer(name, qtype)
            at = done + (int(self.forward_latency * SECOND) if answer.source == "forward" else 0)
        if self.cache is not None:
            self.cache.put(answer, at)
        return Reply(answer, at)


def nodelocal_cache() -> DNSCache:
    """node-local-dns's cache: `success 9984 30`, `denial 9984 5`."""
    return DNSCache(NODELOCAL_SUCCESS_TTL, NODELOCAL_DENIAL_TTL, rng=random.Random("nodelocal"))


@dataclass
class Lookup:
    """One getaddrinfo() in a pod: the stub resolver's walk over the candidate names.

    `start(now_ns)` sends A and AAAA for the first candidate and returns when to wake next;
    `wake(now_ns)` moves on (answers in: next candidate or done; silence: the next attempt)
    and returns the next wake-up time, or None when finished. `result` is then "NOERROR"
    (with `address`), "NXDOMAIN", "timeout" (every attempt of one candidate went unanswered:
    glibc gives up the whole search) or "SERVFAIL". `queries` counts every packet sent.
    """

    name: str
    conf: ResolvConf
    send: Callable[[str, str, int], Reply | None]
    qtypes: tuple[str, ...] = ("A", "AAAA")
    result: str | None = None
    address: str | None = None
    queries: int = 0
    nxdomains: int = 0
    _names: list[str] = field(default_factory=list)
    _index: int = 0
    _attempt: int = 0
    _replies: list[Reply | None] = field(default_factory=list)
    _sent_ns: int = 0
    _timeout_ns: int = 0
    _attempts: int = 0

    def start(self, now_ns: int) -> int:
        self._names = _candidates(self.name, self.conf, "glibc")
        self._timeout_ns, self._attempts = self.conf.timeout * SECOND, self.conf.attempts
        return self._send(now_ns)

    def _send(self, now_ns: int) -> int:
        self._sent_ns = now_ns
        self._replies = []
        for qtype in self.qtypes:
            self.queries += 1
            self._replies.append(self.send(self._names[self._index], qtype, now_ns))
        if all(r is not None for r in self._replies):
            last = max(r.at_ns for r in self._replies)  # type: ignore[union-attr]
            if last - now_ns <= self._timeout_ns:
                return last
        return now_ns + self._timeout_ns

    def wake(self, now_ns: int) -> int | None:
        replies = self._replies
        answered = all(r is not None and r.at_ns <= now_ns for r in replies)
        if not answered or any(r.answer.rcode == SERVFAIL for r in replies):  # type: ignore[union-attr]
            self._attempt += 1
            if self._attempt < self._attempts:
                return self._send(now_ns)
            self.result = "timeout" if not answered else SERVFAIL
            return None
        self._attempt = 0
        self.nxdomains += sum(r.answer.rcode == NXDOMAIN for r in replies)  # type: ignore[union-attr]
        found = [r.answer for r in replies if r.answer.rcode == NOERROR]  # type: ignore[union-attr]
        if found:
            self.result = NOERROR
            self.address = next((a.records[0] for a in found if a.records), None)
            return None
        self._index += 1
        if self._index >= len(self._names):
            self.result = NXDOMAIN
            return None
        return self._send(now_ns)


def queries_per_lookup(
    name: str, conf: ResolvConf, zone: Zone, qtypes: Iterable[str] = ("A", "AAAA")
) -> int:
    """Queries one lookup sends when every server answers at once (no loss, no cache)."""
    server = DNSServer("probe", zone, capacity=1e12, cache=None)
    lookup = Lookup(name, conf, server.receive, tuple(qtypes))
    t: int | None = lookup.start(0)
    while t is not None:
        t = lookup.wake(t)
    return lookup.queries
