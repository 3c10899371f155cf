"""Ten times the in-flight limit: every create is accepted (201) or turned away (429 with
Retry-After), and what was accepted is exactly what etcd holds. Latency comes from the
server's own metrics."""

import pytest

from kube_teach.api.kinds import KINDS
from kube_teach.api.rest import collection_path
from kube_teach.apiserver.flowcontrol import APF, TOO_MANY_REQUESTS_BODY
from kube_teach.apiserver.server import APIServer
from kube_teach.apiserver.store import INITIAL_NAMESPACES, ObjectStore
from kube_teach.client import rest
from kube_teach.client.rest import RESTClient
from kube_teach.sim import Clock, Metrics, Network, Seeds, Trace

CMS = KINDS["ConfigMap"]
CLIENTS, PER_CLIENT = 40, 10  # 400 creates, all sent at t=0


def cm(name):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {}}


def storm(monkeypatch, seed=0, flow_control=None, credentials=None):
    monkeypatch.setattr(rest, "MAX_RETRIES", 0)  # a client whose 429 retries are disabled
    clock, seeds = Clock(), Seeds(seed)
    trace, metrics = Trace(clock), Metrics(clock)
    net = Network(clock, seeds, trace)
    store = ObjectStore(clock, seeds, trace, 0)
    for ns in INITIAL_NAMESPACES:
        store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    APIServer(
        "apiserver", net, store, trace, metrics,
        max_requests_inflight=40, max_mutating_requests_inflight=20, flow_control=flow_control,
    )  # fmt: skip
    replies = {}
    for c in range(CLIENTS):
        # no client-side rate limit: a token bucket that never runs dry
        client = RESTClient(net.add_host(f"load-{c}"), "apiserver", qps=1e9, burst=10**9,
                            credentials=credentials)  # fmt: skip
        for i in range(PER_CLIENT):
            name = f"cm-{c:02d}-{i}"
            client.request("POST", collection_path(CMS, "default"), cm(name),
                           lambda r, n=name: replies.setdefault(n, r))  # fmt: skip
    clock.run(30)
    return store, metrics, replies


def test_every_create_is_201_or_429_and_no_accepted_write_is_lost(monkeypatch):
    store, metrics, replies = storm(monkeypatch)
    assert len(replies) == CLIENTS * PER_CLIENT
    codes = sorted({r.code for r in replies.values()})
    assert codes == [201, 429]
    accepted = {n for n, r in replies.items() if r.code == 201}
    refused = [r for r in replies.values() if r.code == 429]
    for r in refused:
        assert r.headers["Retry-After"] == "1"
        assert r.body == TOO_MANY_REQUESTS_BODY
    in_etcd = {o.name for o in store.list(CMS, "default")}
    assert in_etcd == accepted  # nothing accepted was lost, nothing refused was written
    for name in accepted:
        assert (
            replies[name].body["metadata"]["uid"] == store.get(CMS, name, "default").metadata["uid"]
        )
    # the mutating limit bounds what runs at once: the first 20 get seats, and a seat frees
    # only after the service time, longer than the arrival spread here
    assert len(accepted) == 20
    rejected = metrics.series("apiserver_rejected_requests_total", verb="create")
    assert rejected.last == 380
    in_flight = metrics.series("apiserver_current_inflight_requests", request_kind="mutating")
    assert max(in_flight.values) == 20


def test_latency_under_overload_from_the_servers_metrics(monkeypatch):
    _, metrics, _ = storm(monkeypatch)
    durations = metrics.series("apiserver_request_duration_seconds", verb="create")
    assert len(durations) == 20
    p50, p99 = durations.percentile(50), durations.percentile(99)
    # service time = (2 ms + 20 us for the one object) x (1 + 0.01 x requests in flight, this
    # one included): 2.222 ms with 10 in flight, 2.424 ms with all 20 seats taken
    assert (round(p50 * 1e6), round(p99 * 1e6)) == (2222, 2424)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_outcome_holds_for_other_seeds(monkeypatch, seed):
    store, _, replies = storm(monkeypatch, seed)
    accepted = {n for n, r in replies.items() if r.code == 201}
    assert {r.code for r in replies.values()} <= {201, 429}
    assert {o.name for o in store.list(CMS, "default")} == accepted


@pytest.mark.parametrize("cert", [None, {"cn": "loader", "o": ["load"]}])
def test_under_priority_and_fairness_queued_creates_land_or_get_429(monkeypatch, cert):
    """APF queues what it cannot seat at once: more creates get through than seats exist,
    and still every reply is 201 or 429 and etcd holds exactly the 201s."""
    credentials = {"cert": cert} if cert else None
    apf = APF(server_concurrency_limit=60)
    store, _, replies = storm(monkeypatch, flow_control=apf, credentials=credentials)
    assert len(replies) == CLIENTS * PER_CLIENT
    assert {r.code for r in replies.values()} <= {201, 429}
    accepted = {n for n, r in replies.items() if r.code == 201}
    assert {o.name for o in store.list(CMS, "default")} == accepted
    for r in replies.values():
        if r.code == 429:
            assert int(r.headers["Retry-After"]) >= 1
    assert len(accepted) > 20


def test_request_duration_includes_the_time_queued_by_priority_and_fairness(monkeypatch):
    _, metrics, _ = storm(monkeypatch, flow_control=APF(server_concurrency_limit=60))
    served = metrics.series("apiserver_request_total", verb="create", code="201")
    assert served.times[-1] - served.times[0] > 0.1  # the last ones waited > 100 ms in queues
    durations = metrics.series("apiserver_request_duration_seconds", verb="create")
    assert durations.percentile(99) > 0.05
