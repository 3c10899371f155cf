"""RaftScope: its static rendering is byte-stable, and its buttons drive the Raft group."""

import subprocess
import sys
from pathlib import Path

import pytest

from kube_teach.etcd.raft_harness import RaftHarness
from kube_teach.sim import Link, uniform
from kube_teach.viz.raftscope import RaftScope, raftscope, role_spans, role_timeline


def group(seed=0, n=5):
    return RaftHarness(n, seed=seed, link=Link(latency=uniform("8ms", "12ms")))


def elected(seed=0):
    h = group(seed)
    scope = raftscope(h, title="etcd")
    assert scope.next_event("became-leader")
    return h, scope


def roles(h):
    return {n.name: n.raft.state.value if n.raft else "down" for n in h.nodes.values()}


def test_the_static_copy_is_the_same_for_the_same_run():
    _, a = elected()
    _, b = elected()
    a.advance("5ms")
    b.press("+5ms")
    assert a.svg() == b.svg()
    assert a.html() == b.html()
    assert a.text() == b.text()
    assert a.snapshot() == b.snapshot()


def test_the_static_copy_is_the_same_in_another_process():
    code = (
        "import hashlib, tests.test_raftscope as t; h, s = t.elected(); s.advance('5ms');"
        "print(hashlib.sha256((s.html() + s.text()).encode()).hexdigest())"
    )
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={"PYTHONHASHSEED": seed, "MPLBACKEND": "agg"},
            cwd=Path(__file__).resolve().parent.parent,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("0", "1")
    }
    assert len(outs) == 1


def test_the_view_shows_roles_terms_logs_and_messages_in_flight():
    h, scope = elected()
    scope.advance("5ms")  # the new leader's first MsgApp (its no-op entry) is on the wire
    leader = h.leader()
    text = scope.text()
    assert text.splitlines()[0] == f"etcd t={scope._now()} · ran 5ms"
    assert f"{leader.name} leader        term=2" in text
    assert f"{leader.name}→" in text and "App+1" in text
    svg = scope.svg()
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("<title>etcd-5 → ") == 4  # one message to each follower
    assert "0x" not in svg and "id=" not in svg  # no addresses, no random ids
    view = scope.view()
    assert view._repr_html_() == scope.html() and repr(view) == text


def test_uncommitted_entries_are_dashed_and_committed_ones_solid():
    h, scope = elected()
    leader = h.leader()
    uncommitted = scope.members()[leader.id - 1]
    assert uncommitted.last_index == uncommitted.commit + 1  # the no-op, not yet committed
    assert 'stroke-dasharray="3 2"' in scope.svg()
    scope.advance("100ms")
    assert all(m.commit == m.last_index for m in scope.members())
    assert 'stroke-dasharray="3 2"' not in scope.svg()


@pytest.mark.parametrize(
    ("press", "check"),
    [
        pytest.param(lambda s: s.crash("etcd-2"), lambda h: h.nodes[2].raft is None,
                     id="crash stops the member"),
        pytest.param(lambda s: s.crash(2), lambda h: h.nodes[2].raft is None,
                     id="members can be named by id"),
        pytest.param(lambda s: (s.crash("etcd-2"), s.restart("etcd-2")),
                     lambda h: h.nodes[2].raft is not None, id="restart boots it from its disk"),
        pytest.param(lambda s: s.partition("1 2 | 3 4 5"),
                     lambda h: not h.net.reachable("etcd-1", "etcd-3"),
                     id="partition cuts the sides apart"),
        pytest.param(lambda s: s.partition([["etcd-1"], ["etcd-2", "etcd-3", "etcd-4", "etcd-5"]]),
                     lambda h: not h.net.reachable("etcd-1", "etcd-2")
                     and h.net.reachable("etcd-2", "etcd-5"), id="sides as lists of names"),
        pytest.param(lambda s: (s.partition("1 2 | 3 4 5"), s.heal()),
                     lambda h: h.net.reachable("etcd-1", "etcd-3"), id="heal reconnects"),
    ],
)  # fmt: skip
def test_buttons_drive_the_group(press, check):
    h, scope = elected()
    press(scope)
    assert check(h)


def test_the_widget_buttons_call_the_same_methods():
    h, scope = elected()
    box = scope.widget()
    time_row, member_row, live = box.children
    plus_1s = next(b for b in time_row.children if b.description == "+1s")
    t0 = h.now
    plus_1s.click()
    assert h.now == t0 + 1
    dropdown, crash, restart, sides, partition, heal = member_row.children
    dropdown.value = "etcd-3"
    crash.click()
    assert h.nodes[3].raft is None and "etcd-3 crashed" in live.value
    restart.click()
    assert h.nodes[3].raft is not None
    sides.value = "1 | 2 3 4 5"
    partition.click()
    assert not h.net.reachable("etcd-1", "etcd-2")
    heal.click()
    assert h.net.reachable("etcd-1", "etcd-2")
    next_event = next(b for b in time_row.children if b.description == "next event")
    scope.crash(h.leader().id)
    next_event.click()
    assert "t=" in scope.message
    assert live.value == scope.html()


@pytest.mark.parametrize(
    ("press", "message"),
    [
        pytest.param(lambda s: s.crash("etcd-9"), "no member named 'etcd-9'", id="unknown member"),
        pytest.param(lambda s: s.partition("1 2 | 7"), "no member named '7'",
                     id="unknown member in a partition"),
        pytest.param(lambda s: s.partition("1 2 |"), "an empty side", id="an empty side"),
        pytest.param(lambda s: s.advance("5 minutes"),
                     'time: unknown unit " minutes" in duration "5 minutes"', id="a bad duration"),
        pytest.param(lambda s: s.next_event("became-learner", timeout="1s"),
                     "became-learner: not within 1s", id="an event that never comes"),
    ],
)  # fmt: skip
def test_bad_input_leaves_a_message_not_an_exception(press, message):
    h, scope = elected()
    before = (h.net.reachable("etcd-1", "etcd-2"), [n.raft is None for n in h.nodes.values()])
    press(scope)
    assert scope.message == message
    assert (h.net.reachable("etcd-1", "etcd-2"), [n.raft is None for n in h.nodes.values()]) == (
        before
    )


def test_a_down_member_shows_what_its_disk_holds():
    h, scope = elected()
    scope.advance("200ms")
    scope.crash("etcd-1")
    m = scope.members()[0]
    assert (m.role, m.term, m.last_index) == ("down", 2, 6)
    assert "etcd-1 down" in scope.text()


def test_role_spans_follow_the_trace():
    h, scope = elected()
    leader = h.leader().name
    scope.advance("1s")
    scope.crash(leader)
    scope.advance("3s")
    spans = [s for s in role_spans(h.trace, [leader], h.now) if s.member == leader]
    assert [(s.role, s.term) for s in spans] == [
        ("follower", 1),
        ("pre-candidate", 1),
        ("candidate", 2),
        ("leader", 2),
        ("down", 2),
    ]
    assert spans[-1].end == h.now


def test_role_timeline_is_byte_stable():
    def plot():
        h, scope = elected()
        scope.partition("1 2 | 3 4 5")
        scope.advance("3s")
        scope.heal()
        scope.advance("1s")
        return role_timeline(h, title="roles")

    a, b = plot(), plot()
    assert a.data == b.data
    assert a.data.startswith("<svg") and "<dc:date>" not in a.data
    assert repr(a) == "<plot: roles>"


def test_ipython_display_shows_the_widget_and_a_static_copy(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, raw=False: shown.append(obj))
    _, scope = elected()
    scope._ipython_display_()
    widget, static = shown
    assert widget["text/plain"].startswith("raftscope controls")
    assert static == scope.snapshot()
    assert isinstance(scope, RaftScope)


def test_the_scope_drives_an_etcd_cluster_by_member_name():
    from kube_teach.etcd import EtcdCluster

    cluster = EtcdCluster(members=3, seed=0)
    leader = cluster.wait_for_leader()
    scope = raftscope(cluster, title="etcd")
    assert [m.name for m in scope.members()] == ["etcd-1", "etcd-2", "etcd-3"]
    assert f"lead={leader.name}" in scope.text()  # Raft IDs are shown as member names
    scope.partition("1 | 2 3")
    assert scope.message == "partition etcd-1 | etcd-2 etcd-3"
    assert not cluster.network.reachable("etcd-1", "etcd-2")
    assert cluster.network.reachable("etcd-2", "etcd-3")
    scope.heal()
    scope.crash("2")
    assert cluster.members["etcd-2"].raft is None
    scope.restart("etcd-2")
    scope.advance("2s")
    assert cluster.members["etcd-2"].raft is not None
    assert role_timeline(cluster).data == role_timeline(cluster).data
