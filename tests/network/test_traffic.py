"""The traffic model: amplification by ndots, the DNS meltdown and its fixes, zombie endpoints."""

import pytest

from kube_teach.network.traffic import Backend, TrafficModel, percentile

NDOTS_1 = [{"name": "ndots", "value": "1"}]


def test_percentile_is_nearest_rank():
    values = [0.1 * i for i in range(1, 11)]
    assert percentile(values, 50) == pytest.approx(0.5)
    assert percentile(values, 90) == pytest.approx(0.9)
    assert percentile(values, 99) == pytest.approx(1.0)
    assert percentile([], 50) is None


@pytest.mark.parametrize(
    ("options", "per_request"),
    [
        pytest.param((), 8.0, id="ndots 5: 8 queries a request"),
        pytest.param(NDOTS_1, 2.0, id="ndots 1: 2"),
    ],
)
def test_amplification_on_a_healthy_cluster(options, per_request):
    r = TrafficModel(nodes=3, rps=50, dns_options=options, coredns_capacity=5000, seed=1).run(5)
    assert r.queries_per_request == per_request
    assert r.failed == 0 and r.retries == 0
    assert r.dns_nxdomain == (6 * r.requests if not options else 0)


def test_the_meltdown_and_its_fixes():
    def run(**kw):
        return TrafficModel(nodes=10, rps=200, coredns_capacity=500, seed=3, **kw).run(10)

    melt = run()
    assert melt.coredns_dropped > 0 and melt.retries > 0
    assert melt.p(50) > 1.0  # seconds: every request waits on an overloaded DNS
    nodelocal = run(nodelocal=True)
    for fixed in (run(dns_options=NDOTS_1), nodelocal, run(coredns_replicas=10)):
        assert fixed.failed == 0 and fixed.retries == 0 and fixed.coredns_dropped == 0
        assert fixed.p(99) < 0.1
    assert nodelocal.coredns_received < melt.coredns_received / 50


def test_retries_amplify_the_load():
    def run(retries):
        return TrafficModel(
            nodes=10, rps=120, coredns_capacity=300, app_retries=retries, seed=5
        ).run(12)

    none, three = run(0), run(3)
    assert none.retries == 0 and none.failed > 0
    assert three.dns_queries > none.dns_queries
    assert three.coredns_received > none.coredns_received


def test_zombie_backend_gets_traffic_until_its_endpoint_is_removed():
    backends = [Backend("web-0"), Backend("web-1"), Backend("web-2")]
    m = TrafficModel(nodes=3, rps=100, backends=backends, app_retries=0, app_dns_cache=30,
                     request_timeout=2, seed=2)  # fmt: skip
    m.kill_backend("web-1", at=2.0, endpoints_removed_after=3.0)
    r = m.run(10)
    timeouts = r.errors.get("i/o timeout", 0)
    assert 50 < timeouts < 150  # about a third of 3 s x 100 rps
    failed = r.timeline["failed"]
    assert sum(failed[:4]) == 0 and sum(failed[8:]) == 0  # only requests sent in 2..5 s


def test_no_ready_backends_is_connection_refused():
    r = TrafficModel(nodes=2, rps=20, backends=[], app_retries=1, app_dns_cache=30, seed=0).run(3)
    assert set(r.errors) == {"connect: connection refused"} and r.succeeded == 0
    assert r.retries == r.requests


def test_the_same_seed_gives_the_same_run():
    def run(seed):
        return TrafficModel(nodes=4, rps=150, coredns_capacity=500, seed=seed).run(4).text()

    assert run(9) == run(9)
    assert run(9) != run(10)


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="rps and coredns_capacity positive"):
        TrafficModel(rps=0)
    with pytest.raises(ValueError, match="dns_options are dnsConfig options"):
        TrafficModel(dns_options=["ndots:1"])
    with pytest.raises(ValueError, match="no backend named 'web-9'"):
        TrafficModel().kill_backend("web-9", at=1)
