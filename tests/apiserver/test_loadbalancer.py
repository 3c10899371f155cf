"""The HAProxy-like load balancer: its health counter one result at a time, then three fake API
server replicas on a simulated network: round robin, a crash and a recovery, watches, 503."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kube_teach.api.rest import Request, Response, WatchEvent
from kube_teach.apiserver.loadbalancer import (
    NO_SERVER,
    SERVER_TIMEOUT,
    STREAM_CUT,
    Backend,
    LoadBalancer,
    is_watch,
    parse_haproxy_cfg,
)
from kube_teach.sim import Clock, Network, Seeds, Trace, uniform

MASTERS = ["master-1", "master-2", "master-3"]


# -- the core: HAProxy's health counter (rise 2, fall 3) --------------------------------------------
@pytest.mark.parametrize(
    ("results", "state"),
    [
        pytest.param("", "UP 1/3", id="a server starts UP but one failure from DOWN"),
        pytest.param("F", "DOWN", id="a failure before any success takes it down at once"),
        pytest.param("O", "UP", id="one success makes it fully UP"),
        pytest.param("OF", "UP 2/3", id="one failure when fully up: still UP"),
        pytest.param("OFF", "UP 1/3", id="two failures: still UP"),
        pytest.param("OFFF", "DOWN", id="fall=3 failures: DOWN"),
        pytest.param("OFFOFF", "UP 1/3", id="a success in between heals one step"),
        pytest.param("OFFFO", "DOWN 1/2", id="one success of rise=2 while DOWN"),
        pytest.param("OFFFOO", "UP", id="rise=2 successes: UP again, fully"),
        pytest.param("OFFFOF", "DOWN", id="a failure while rising starts over"),
    ],
)
def test_health_counter(results, state):
    backend = Backend("be", ["a"], rise=2, fall=3)
    for r in results:
        (backend.check_passed if r == "O" else backend.check_failed)("a", 0)
    assert backend.servers["a"].state == state
    assert backend.servers["a"].up == state.startswith("UP")


def test_transitions_are_reported_once():
    backend = Backend("be", ["a"], rise=2, fall=3)
    got = [backend.check_passed("a", 0)]
    got += [backend.check_failed("a", 0) for _ in range(4)]
    got += [backend.check_passed("a", 0) for _ in range(3)]
    assert got == [None, None, None, "DOWN", None, None, "UP", None]
    assert backend.servers["a"].downs == 1 and backend.servers["a"].check_fails == 4


def test_round_robin_skips_down_servers_and_keeps_its_place():
    backend = Backend("be", ["a", "b", "c"])
    assert [backend.pick().name for _ in range(4)] == ["a", "b", "c", "a"]
    backend.check_failed("c", 0)  # at start one failure is enough
    assert [backend.pick().name for _ in range(4)] == ["b", "a", "b", "a"]
    for s in "ab":
        backend.check_failed(s, 0)
    assert backend.pick() is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((["a", "a"],), "duplicate server names in ['a', 'a']"),
        (([],), "a backend needs at least one server"),
        ((["a"], 0, 3), "rise and fall must be at least 1 (got rise 0, fall 3)"),
        ((["a"], "2", 3), "rise and fall must be at least 1 (got rise '2', fall 3)"),
    ],
)
def test_bad_backend_config_is_a_clear_error(args, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        Backend("be", *args)


@pytest.mark.parametrize(
    ("path", "want"),
    [
        ("/api/v1/pods?watch=1&resourceVersion=5", True),
        ("/api/v1/namespaces/default/pods?watch=true", True),
        ("/api/v1/watch/pods", True),
        ("/api/v1/pods?watch=false", False),
        ("/api/v1/pods", False),
    ],
)
def test_is_watch(path, want):
    assert is_watch(Request(1, "GET", path)) is want


# -- the host on a network with three fake replicas -------------------------------------------------
class FakeAPIServer:
    """Answers /healthz (200 by default), any other request with who served it; holds watches."""

    def __init__(self, net: Network, name: str) -> None:
        self.name, self.net = name, net
        self.host = net.add_host(name, self.receive)
        self.healthz = 200
        self.served: list[str] = []
        self.watches: list[tuple[str, int]] = []
        self.host.on_crash.append(self.watches.clear)

    def receive(self, src, msg) -> None:
        if not isinstance(msg, Request):
            return
        if msg.path == "/healthz":
            self.host.send(src, Response(msg.id, self.healthz, "ok"))
            return
        self.served.append(msg.path)
        if is_watch(msg):
            self.watches.append((src, msg.id))
        else:
            self.host.send(src, Response(msg.id, 200, {"servedBy": self.name}))

    def push(self, kind: str, obj: dict) -> None:
        for src, wid in self.watches:
            self.host.send(src, WatchEvent(wid, kind, obj))

    def close_watches(self) -> None:
        for src, wid in self.watches:
            self.host.send(src, Response(wid, 200, "watch closed"))
        self.watches.clear()


class Rig:
    def __init__(self, seed: int = 0, **lb_options) -> None:
        self.clock = Clock()
        self.trace = Trace(self.clock)
        self.net = Network(self.clock, Seeds(seed), self.trace)
        self.masters = {m: FakeAPIServer(self.net, m) for m in MASTERS}
        self.lb = LoadBalancer("lb", self.net, MASTERS, **lb_options)
        self.got: list[Response | WatchEvent] = []
        self.client = self.net.add_host("kubectl", lambda src, msg: self.got.append(msg))
        self._ids = iter(range(100, 10**6))

    def send(self, path: str = "/api/v1/pods") -> int:
        rid = next(self._ids)
        self.client.send("lb", Request(rid, "GET", path))
        return rid

    def run(self, seconds: float) -> None:
        self.clock.run(seconds)

    def answer(self, rid: int) -> Response:
        (resp,) = [m for m in self.got if isinstance(m, Response) and m.id == rid]
        return resp

    def served_by(self, rid: int) -> str:
        return self.answer(rid).body["servedBy"]


@pytest.fixture
def rig() -> Rig:
    return Rig()


def test_requests_go_round_robin_and_replies_keep_the_client_ids(rig):
    ids = [rig.send() for _ in range(30)]
    rig.run(1)
    assert [rig.served_by(i) for i in ids[:4]] == ["master-1", "master-2", "master-3", "master-1"]
    assert rig.lb.counts() == {"master-1": 10, "master-2": 10, "master-3": 10}
    assert all(s["scur"] == 0 for s in rig.lb.stats())


def test_a_crashed_replica_leaves_rotation_after_fall_checks_and_returns_after_rise(rig):
    rig.run(10)
    assert [s["status"] for s in rig.lb.stats()] == ["UP", "UP", "UP"]
    rig.net.crash("master-2")
    lost = [rig.send() for _ in range(3)]  # one of these went to master-2 before anyone knew
    rig.run(5)
    assert rig.lb.stats()[1]["status"] in ("UP 2/3", "UP 1/3")  # failing, not yet out
    rig.run(8)  # 3 failures x (2s timeout + 2s inter) after the crash, at most
    assert rig.lb.up == ["master-1", "master-3"]
    down = [line for line in rig.lb.log if "is DOWN" in line]
    assert len(down) == 1 and down[0].endswith(
        "Server kubernetes-api-backend/master-2 is DOWN, reason: Layer4 timeout, check duration: "
        "2000ms. 2 active and 0 backup servers left. 1 sessions active, 0 requeued, 0 remaining "
        "in queue."
    )
    # the request stranded on master-2 was cut when it was marked down
    stranded = [r for r in lost if rig.answer(r).code == 0]
    assert len(stranded) == 1 and rig.answer(stranded[0]).body == STREAM_CUT
    before = rig.lb.counts()["master-2"]
    ids = [rig.send() for _ in range(10)]
    rig.run(1)
    assert {rig.served_by(i) for i in ids} == {"master-1", "master-3"}
    assert rig.lb.counts()["master-2"] == before

    rig.net.restart("master-2")
    seen = ["DOWN"]
    for _ in range(100):  # 10 s in steps of 100 ms
        rig.run(0.1)
        if rig.lb.stats()[1]["status"] != seen[-1]:
            seen.append(rig.lb.stats()[1]["status"])
    assert seen == ["DOWN", "DOWN 1/2", "UP"]
    assert rig.lb.up == MASTERS
    assert rig.trace.where("lb", "server-up")[0].fields["server"] == "master-2"
    ids = [rig.send() for _ in range(3)]
    rig.run(1)
    assert {rig.served_by(i) for i in ids} == set(MASTERS)


def test_an_unhealthy_healthz_takes_a_replica_out_with_httpchk(rig):
    rig.run(5)
    rig.masters["master-3"].healthz = 500
    rig.run(7)
    assert "master-3" not in rig.lb.up
    assert rig.lb.stats()[2]["last_check"].startswith("L7STS/500")
    assert "reason: Layer7 wrong status, code: 500" in rig.lb.log[-1]


def test_tcp_check_only_asks_that_the_replica_answers():
    rig = Rig(check="tcp")
    rig.run(5)
    rig.masters["master-3"].healthz = 500
    rig.run(10)
    assert rig.lb.up == MASTERS
    assert rig.lb.stats()[2]["last_check"].startswith("L4OK")


def test_a_watch_is_relayed_pinned_and_closed_when_its_replica_goes_down(rig):
    rig.run(3)
    wid = rig.send("/api/v1/pods?watch=1&resourceVersion=7")
    rig.run(0.1)
    pinned = next(m for m in rig.masters.values() if m.watches)
    pinned.push("ADDED", {"metadata": {"name": "web-1"}})
    pinned.push("MODIFIED", {"metadata": {"name": "web-1"}})
    rig.run(0.1)
    events = [m for m in rig.got if isinstance(m, WatchEvent)]
    assert [(e.id, e.type) for e in events] == [(wid, "ADDED"), (wid, "MODIFIED")]
    assert [s["scur"] for s in rig.lb.stats() if s["server"] == pinned.name] == [1]
    others = [rig.send() for _ in range(6)]  # the watch does not stop the rotation
    rig.run(0.1)
    assert {rig.served_by(i) for i in others} == set(MASTERS)

    rig.net.crash(pinned.name)
    rig.run(15)
    closed = rig.answer(wid)
    assert (closed.code, closed.body) == (0, STREAM_CUT)
    assert rig.lb.stats()[MASTERS.index(pinned.name)]["scur"] == 0


def test_a_watch_the_server_closes_is_closed_for_the_client(rig):
    wid = rig.send("/api/v1/pods?watch=1")
    rig.run(0.1)
    pinned = next(m for m in rig.masters.values() if m.watches)
    pinned.close_watches()
    rig.run(0.1)
    assert rig.answer(wid).body == "watch closed"
    assert sum(s["scur"] for s in rig.lb.stats()) == 0


def test_an_idle_watch_is_cut_by_timeout_server():
    rig = Rig(timeout_server="50s", shutdown_sessions=False)
    wid = rig.send("/api/v1/pods?watch=1")
    rig.run(30)
    next(m for m in rig.masters.values() if m.watches).push("ADDED", {"metadata": {}})
    rig.run(40)  # 40s after the last event: still open
    assert not [m for m in rig.got if isinstance(m, Response)]
    rig.run(15)
    assert rig.answer(wid).body == STREAM_CUT


def test_a_request_a_replica_never_answers_is_504_after_timeout_server():
    rig = Rig(timeout_server="5s", shutdown_sessions=False, inter="30s")
    rig.net.crash("master-1")
    rid = rig.send()  # round robin starts at master-1
    rig.run(6)
    resp = rig.answer(rid)
    assert resp.code == 504
    assert (resp.body["reason"], resp.body["message"]) == ("Timeout", SERVER_TIMEOUT)


def test_no_healthy_replica_is_503_with_a_status(rig):
    for m in MASTERS:
        rig.net.crash(m)
    rig.run(15)
    assert rig.lb.up == []
    assert rig.lb.log[-1].endswith("backend kubernetes-api-backend has no server available!")
    rid = rig.send()
    rig.run(0.1)
    resp = rig.answer(rid)
    assert resp.code == 503
    assert resp.body == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": NO_SERVER, "reason": "ServiceUnavailable", "code": 503,
    }  # fmt: skip


def test_views_for_learners(rig):
    rig.net.crash("master-3")
    rig.run(15)
    text = rig.lb.text()
    assert text.splitlines()[0] == "backend kubernetes-api-backend (lb)"
    assert text.splitlines()[1].split() == [
        "SERVER", "STATUS", "LAST_CHECK", "SCUR", "STOT", "CHKFAIL", "CHKDOWN", "LASTCHG",
    ]  # fmt: skip
    assert text.splitlines()[4].split()[:2] == ["master-3", "DOWN"]
    page = rig.lb._repr_html_()
    assert page.count("<tr") == 4 and "#f7c5c5" in page and "master-3" in page


def scenario(seed: int) -> tuple[str, list]:
    rig = Rig(seed)
    rig.net.default = rig.net.default.__class__(latency=uniform("1ms", "30ms"), drop=0.05)
    for step in range(40):
        rig.send()
        if step == 10:
            rig.net.crash("master-2")
        if step == 30:
            rig.net.restart("master-2")
        rig.run(0.5)
    rig.run(5)
    return rig.trace.text(), [(type(m).__name__, m.id, getattr(m, "code", None)) for m in rig.got]


def test_one_seed_gives_the_same_run():
    first = scenario(7)
    assert scenario(7) == first
    assert "server-down" in first[0]


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_every_request_gets_exactly_one_answer_under_random_crashes(seed):
    rig = Rig(seed, timeout_server="10s")
    rng = random.Random(seed)
    sent = []
    for _ in range(60):
        sent.append(rig.send(rng.choice(["/api/v1/pods", "/api/v1/pods?watch=1"])))
        victim = rng.choice(MASTERS)
        if rng.random() < 0.1:
            rig.net.crash(victim)
        elif rng.random() < 0.2:
            rig.net.restart(victim)
        rig.run(rng.uniform(0.05, 1.5))
    for m in MASTERS:
        rig.net.restart(m)
        rig.masters[m].close_watches()
    rig.run(30)
    finals = [m.id for m in rig.got if isinstance(m, Response)]
    assert sorted(finals) == sorted(sent)  # one final answer each, none twice, none lost
    assert rig.lb.up == MASTERS  # every replica back in rotation once it answers again
    assert all(s["scur"] == 0 for s in rig.lb.stats())


SEED_CFG = """
# /etc/haproxy/haproxy.cfg
global
    log /dev/log local0
    maxconn 4096

defaults
    mode tcp
    timeout connect 5000ms
    timeout client 50000ms
    timeout server 50000ms

frontend kubernetes-api
    bind *:6443
    default_backend kubernetes-api-backend

backend kubernetes-api-backend
    option tcp-check
    balance roundrobin
    server master-1 10.0.1.10:6443 check
    server master-2 10.0.1.11:6443 check
    server master-3 10.0.1.12:6443 check
"""


def test_the_seed_articles_haproxy_cfg():
    assert parse_haproxy_cfg(SEED_CFG) == {
        "servers": MASTERS, "check": "tcp", "timeout_server": "50000ms",
        "backend_name": "kubernetes-api-backend", "unchecked": [],
    }  # fmt: skip
    clock = Clock()
    net = Network(clock, Seeds(0), Trace(clock))
    masters = {m: FakeAPIServer(net, m) for m in MASTERS}
    lb = LoadBalancer.from_haproxy_cfg("lb", net, SEED_CFG)
    masters["master-1"].healthz = 500  # a connect check does not look at the answer
    net.crash("master-3")
    clock.run(15)
    assert lb.up == ["master-1", "master-2"]
    assert (lb.inter_ns, lb.rise, lb.fall, lb.server_timeout_ns) == (2 * 10**9, 2, 3, 50 * 10**9)


def test_haproxy_cfg_with_httpchk_and_server_options():
    cfg = """
    backend be
        option httpchk GET /readyz
        default-server inter 500 fall 2
        server a 10.0.0.1:6443 check rise 1
        server b 10.0.0.2:6443 check rise 1
        server c 10.0.0.3:6443
    """
    assert parse_haproxy_cfg(cfg) == {
        "servers": ["a", "b", "c"], "check": "http", "check_path": "/readyz", "backend_name": "be",
        "inter": "500ms", "fall": 2, "rise": 1, "unchecked": ["c"],
    }  # fmt: skip
    clock = Clock()
    net = Network(clock, Seeds(0), Trace(clock))
    for m in "abc":
        FakeAPIServer(net, m)
    lb = LoadBalancer.from_haproxy_cfg("lb", net, cfg)
    net.crash("c")
    clock.run(3)
    assert [s["status"] for s in lb.stats()] == ["UP", "UP", "no check"]
    assert lb.up == ["a", "b", "c"]  # nobody checks c, so it stays in rotation, dead or not


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        ("backend be\n balance leastconn\n server a x check",
         "haproxy.cfg: balance leastconn is not modelled; only roundrobin"),
        ("backend be\n balance roundrobin", "haproxy.cfg: no server lines in the backend"),
        ("backend be\n server a x check inter 2s\n server b y check inter 3s",
         "haproxy.cfg: servers with different inter are not modelled"),
        ("backend be\n server a x check inter soon", "haproxy.cfg: 'soon' is not a time"),
        ("backend be\n server a x check fall many", "haproxy.cfg: fall needs a whole number, not 'many'"),
    ],
)  # fmt: skip
def test_haproxy_cfg_it_cannot_model_is_a_clear_error(cfg, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_haproxy_cfg(cfg)
