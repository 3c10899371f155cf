"""Cluster DNS model: queries per lookup, cache TTLs, overload, NodeLocal DNSCache, timeouts."""

import pytest

from kube_teach.network.coredns import (
    NODELOCAL_IP,
    NOERROR,
    NXDOMAIN,
    SERVFAIL,
    Answer,
    DNSCache,
    DNSServer,
    Lookup,
    Zone,
    nodelocal_cache,
    queries_per_lookup,
)
from kube_teach.network.dns import resolv_conf
from kube_teach.sim.duration import SECOND

ZONE = Zone({"backend-service.production": "10.96.200.20"}, {"api.example.com": "203.0.113.7"})


def conf(ndots=None, namespace="production", **opts):
    options = [{"name": "ndots", "value": str(ndots)}] if ndots is not None else []
    options += [{"name": k, "value": str(v)} for k, v in opts.items()]
    spec = {"dnsConfig": {"options": options}} if options else {}
    return resolv_conf({"metadata": {"namespace": namespace}, "spec": spec})


@pytest.mark.parametrize(
    ("name", "ndots", "queries"),
    [
        pytest.param("api.example.com", 5, 8, id="external name, ndots 5: 3 search domains + itself, x2"),
        pytest.param("api.example.com", 1, 2, id="external name, ndots 1: itself first, found"),
        pytest.param("api.example.com.", 5, 2, id="a trailing dot: only the name itself"),
        pytest.param("backend-service.production.svc.cluster.local", 5, 8,
                     id="the seed's full service name has 4 dots < 5: searched first"),
        pytest.param("backend-service.production.svc.cluster.local", 4, 2, id="4 dots, ndots 4"),
        pytest.param("backend-service", 5, 2, id="the short name: the first search domain hits"),
        pytest.param("backend-service.production", 5, 4, id="name.namespace: the second one hits"),
        pytest.param("backend-service", 1, 2, id="short name, ndots 1: still searched (0 dots < 1)"),
        pytest.param("nope.example.com", 5, 8, id="a name that exists nowhere: every candidate"),
    ],
)  # fmt: skip
def test_queries_per_lookup(name, ndots, queries):
    assert queries_per_lookup(name, conf(ndots), ZONE) == queries


def test_ipv4_only_clients_send_half():
    assert queries_per_lookup("api.example.com", conf(5), ZONE, qtypes=("A",)) == 4


def test_kubernetes_zone_answers():
    assert ZONE.answer("backend-service.production.svc.cluster.local.", "A").records == (
        "10.96.200.20",
    )
    aaaa = ZONE.answer("backend-service.production.svc.cluster.local.", "AAAA")
    assert (aaaa.rcode, aaaa.records) == (NOERROR, ())  # NODATA on an IPv4 cluster
    nx = ZONE.answer("api.example.com.production.svc.cluster.local.", "A")
    assert (nx.rcode, nx.source, nx.ttl) == (NXDOMAIN, "kubernetes", 30)
    assert ZONE.answer("api.example.com.", "A").source == "forward"


@pytest.mark.parametrize(
    ("cache", "answer", "kept_s"),
    [
        pytest.param(DNSCache(), Answer("a.", "A", NOERROR, ("1.2.3.4",), 300), 30,
                     id="cache 30 caps a 300 s external answer at 30 s"),
        pytest.param(DNSCache(), Answer("a.", "A", NOERROR, ("1.2.3.4",), 2), 5,
                     id="at least the 5 s minimum TTL"),
        pytest.param(DNSCache(), Answer("a.", "A", NXDOMAIN, (), 30), 30, id="denial, cache 30"),
        pytest.param(nodelocal_cache(), Answer("a.", "A", NXDOMAIN, (), 30), 5,
                     id="node-local-dns keeps denials 5 s"),
        pytest.param(nodelocal_cache(), Answer("a.", "A", NOERROR, ("1.2.3.4",), 300), 30,
                     id="node-local-dns keeps successes 30 s"),
        pytest.param(nodelocal_cache(), Answer("a.", "AAAA", NOERROR, (), 30), 5,
                     id="NODATA is a denial"),
    ],
)  # fmt: skip
def test_cache_ttls(cache, answer, kept_s):
    cache.put(answer, 0)
    assert cache.get("a.", answer.qtype, kept_s * SECOND - 1) is not None
    assert cache.get("a.", answer.qtype, kept_s * SECOND) is None
    assert (cache.hits, cache.misses) == (1, 1)


def test_cache_capacity_evicts():
    cache = DNSCache(capacity=3)
    for i in range(5):
        cache.put(Answer(f"n{i}.", "A", NOERROR, ("1.1.1.1",), 30), 0)
    assert len(cache) == 3


def test_server_queues_fifo_and_drops_beyond_its_buffer():
    server = DNSServer("coredns-0", ZONE, capacity=1000, queue_limit=3, cache=None)
    name = "backend-service.production.svc.cluster.local."
    replies = [server.receive(name, "A", 0) for _ in range(5)]
    assert [r.at_ns if r else None for r in replies] == [
        1_000_000,
        2_000_000,
        3_000_000,
        None,
        None,
    ]
    assert (server.answered, server.dropped) == (3, 2)
    assert server.receive(name, "A", 3_000_000).at_ns == 4_000_000  # the queue drained


def test_external_names_wait_for_the_upstream_and_are_cached():
    server = DNSServer("coredns-0", ZONE, capacity=1000, forward_latency=0.02)
    first = server.receive("api.example.com.", "A", 0)
    assert first.at_ns == 21_000_000 and first.answer.source == "forward"
    again = server.receive("api.example.com.", "A", 30_000_000)
    assert again.answer.source == "cache" and again.at_ns == 31_000_000


def run(lookup, start=0):
    t = lookup.start(start)
    while t is not None:
        t = lookup.wake(t)
    return t


def test_a_lookup_against_a_silent_server_times_out_after_attempts_times_timeout():
    sent = []

    def silent(name, qtype, now):
        sent.append((name, qtype, now // SECOND))
        return None

    lookup = Lookup("backend-service.production.svc.cluster.local", conf(5), silent)
    t = lookup.start(0)
    while True:
        nxt = lookup.wake(t)
        if nxt is None:
            break
        t = nxt
    assert lookup.result == "timeout"
    assert t == 10 * SECOND  # timeout:5 x attempts:2, then glibc ends the whole search
    assert [s[2] for s in sent] == [0, 0, 5, 5]
    assert lookup.queries == 4


def test_seed_options_timeout_2_attempts_2():
    lookup = Lookup("x", conf(1, timeout=2, attempts=2), lambda *a: None)
    t = lookup.start(0)
    assert t == 2 * SECOND
    t = lookup.wake(t)  # attempt 2
    assert lookup.wake(t) is None and t == 4 * SECOND


def test_servfail_is_retried_then_reported():
    def failing(name, qtype, now):
        from kube_teach.network.coredns import Reply

        return Reply(Answer(name, qtype, SERVFAIL), now)

    lookup = Lookup("x.", conf(5), failing)
    run(lookup)
    assert (lookup.result, lookup.queries) == (SERVFAIL, 4)


def test_nodelocal_absorbs_repeats_and_forwards_misses_once_per_ttl():
    coredns = DNSServer("coredns-0", ZONE, capacity=1000)
    node = DNSServer("node-local-dns/node-1", ZONE, 20000, cache=nodelocal_cache(),
                     upstream=coredns.receive, upstream_cluster_only=True)  # fmt: skip
    c = resolv_conf(
        {"metadata": {"namespace": "production"}, "spec": {}}, cluster_dns=[NODELOCAL_IP]
    )
    assert c.nameservers == (NODELOCAL_IP,)
    for i in range(100):
        run(Lookup("api.example.com", c, node.receive), start=i * SECOND // 100)
    # the first lookup's 6 cluster.local queries reach CoreDNS; api.example.com itself goes to
    # the node's resolver directly; the other 99 lookups hit the node cache
    assert coredns.received == 6
    assert node.received == 800


def test_nodelocal_turns_a_dropped_forward_into_servfail_after_two_seconds():
    coredns = DNSServer("coredns-0", ZONE, capacity=1000, queue_limit=0)
    node = DNSServer("nl", ZONE, 20000, cache=nodelocal_cache(), upstream=coredns.receive)
    reply = node.receive("api.example.com.cluster.local.", "A", 0)
    assert reply.answer.rcode == SERVFAIL and reply.at_ns == 50_000 + 2 * SECOND
