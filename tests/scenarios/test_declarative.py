"""The imperative-vs-declarative world: deterministic, and the controller converges where the
script does not."""

import pytest

from kube_teach.scenarios import declarative as dc
from kube_teach.scenarios.declarative import Actions, WatchEvent


def level(event, desired, running):
    return dc.replicaset_reconcile(desired, running)


@pytest.mark.parametrize(
    ("desired", "running", "want"),
    [
        pytest.param(3, [], Actions(create=3), id="nothing runs: start every copy"),
        pytest.param(3, ["app-1", "app-3"], Actions(create=1), id="one died: start one"),
        pytest.param(3, ["app-1", "app-2", "app-3"], Actions(), id="as wanted: do nothing"),
        pytest.param(1, ["app-1", "app-2", "app-3"], Actions(delete=("app-2", "app-3")),
                     id="too many: stop the newest"),
        pytest.param(0, ["app-4"], Actions(delete=("app-4",)), id="zero wanted: stop all"),
    ],
)  # fmt: skip
def test_replicaset_reconcile(desired, running, want):
    assert dc.replicaset_reconcile(desired, running) == want


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        pytest.param({"create": -1}, "name the ones to stop", id="negative create is refused"),
        pytest.param({"create": 1.5}, "a number of copies", id="a fractional create is refused"),
        pytest.param({"delete": "app-1"}, "a list of names", id="a bare string delete is refused"),
    ],
)
def test_actions_refuse_what_no_controller_could_do(kwargs, error):
    with pytest.raises((TypeError, ValueError), match=error):
        Actions(**kwargs)


def test_same_seed_same_trace_and_metrics():
    def run(seed):
        imp, dec = dc.imperative_vs_declarative(seed=seed, duration="20m")
        series = dec.metrics.series(dc.REPLICAS)
        return imp.trace.text(), dec.trace.text(), series.times, series.values, dec.outages

    assert run(0) == run(0)
    assert run(0) != run(1)


def test_machines_fail_the_same_way_whatever_runs_on_them():
    imperative, declarative = dc.imperative_vs_declarative(seed=3, duration="30m")
    assert imperative.outages == declarative.outages
    assert len(declarative.outages) >= 3


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_the_controller_converges_after_crashes_and_the_script_does_not(seed):
    imperative, declarative = dc.imperative_vs_declarative(seed=seed, duration="30m")
    imp, dec = dc.report(imperative, "imperative"), dc.report(declarative, "declarative")
    assert declarative.outages, "the seed must crash some machines"
    assert dec.final == dc.DESIRED
    assert dec.highest == dc.DESIRED  # never more copies than wanted
    assert dec.short_ns < imp.short_ns
    assert imp.final < dc.DESIRED  # nobody replaces what the script started
    assert imp.highest == dc.DESIRED


def test_the_controller_recovers_within_one_sync_period_of_a_crash():
    world = dc.World(seed=0, faults=False)
    dc.Controller(world)
    world.outage("node1", "65s", "5m")
    world.run("65s")
    assert len(world.running()) == 2  # the copy on node1 is gone at once
    world.run("4s")
    assert len(world.running()) == 2  # the controller has not looked yet
    world.run("1s")  # its sync at t=70s sees one missing and starts it elsewhere
    assert len(world.running()) == 3
    assert world.machines["node1"].containers == []


def test_a_failing_reconcile_is_retried_not_fatal():
    world = dc.World(seed=0, faults=False)

    def unsolved(desired, running):
        raise NotImplementedError

    controller = dc.Controller(world, unsolved)
    world.run("30s")
    assert controller.errors == ["NotImplementedError"] * 4  # t=0, 10, 20, 30
    assert world.running() == []
    controller.reconcile = dc.replicaset_reconcile
    world.run("10s")
    assert len(world.running()) == dc.DESIRED


def test_a_controller_that_is_down_does_nothing_until_it_restarts():
    world = dc.World(seed=0, faults=False)
    dc.Controller(world)
    world.outage("controller", "1m", "2m")
    world.outage("node2", "1m30s", "10m")
    world.run("2m59s")
    assert len(world.running()) == 2
    world.run("1s")  # the controller is back at 3m and syncs at once
    assert len(world.running()) == 3
    assert [(o.host, o.start, o.end) for o in world.outages] == [
        ("controller", 60.0, 180.0),
        ("node2", 90.0, None),
    ]


def test_the_edge_triggered_handler_goes_wrong_after_missed_events():
    edge = dc.report(dc.missed_events(dc.edge_triggered), "edge")
    assert edge.final == 5  # 2 survivors + 3 more for the re-listed Deployment
    calm = dc.report(dc.missed_events(dc.edge_triggered, controller_outage=False), "edge")
    assert calm.final == dc.DESIRED  # with every event delivered, edge-triggered looks fine


def test_the_level_triggered_handler_survives_missed_events():
    world = dc.missed_events(level)
    rep = dc.report(world, "level")
    assert (rep.final, rep.highest) == (dc.DESIRED, dc.DESIRED)
    controller = world.agents[0]
    assert controller.lists == 2  # at start and after the restart
    sent_while_down = [e for e in world.trace.where(event="container-gone") if 300 <= e.t < 480]
    assert len(sent_while_down) == 1


def test_watch_events_reach_the_controller_over_the_network():
    world = dc.World(seed=0, faults=False)
    seen = []
    dc.EventController(world, lambda e, d, r: seen.append(str(e)) or level(e, d, r))
    world.run("1s")
    assert seen == [
        "ADDED Deployment app",
        "ADDED Container app-1",
        "ADDED Container app-2",
        "ADDED Container app-3",
    ]
    assert world.events_sent == 3


def test_the_script_reports_ssh_errors_for_machines_that_are_down():
    world = dc.World(seed=0, faults=False)
    world.outage("node2", 0, "1m")
    script = dc.Script(world, at="1s")
    world.run("2s")
    assert script.transcript == [
        '$ ssh node1 "docker run -d app:v1"',
        "app-1",
        '$ ssh node2 "docker run -d app:v1"',
        "ssh: connect to host node2 port 22: No route to host",
        '$ ssh node3 "docker run -d app:v1"',
        "app-2",
    ]


def test_report_counts_only_time_that_passed():
    world = dc.World(seed=0, faults=False)
    dc.Script(world)
    world.outage("node1", "1m", "1m")
    world.run("3m")
    rep = dc.report(world, "script")
    assert (rep.final, rep.lowest, rep.highest) == (2, 2, 3)
    assert rep.short_ns == 120 * 10**9
    assert rep.text() == (
        "script: 2/3 copies at the end; lowest 2, highest 3; short of 3 for 2m0s of 3m0s (67%)"
    )


def test_world_html_and_text_are_deterministic():
    def render():
        world = dc.World(seed=0)
        dc.Controller(world)
        world.run("5m")
        return world.html(), world.text()

    html, text = render()
    assert render() == (html, text)
    assert "0x" not in html and "node1" in html and "t=5m0s" in text
    assert WatchEvent("ADDED", "Container", "app-1").__str__() == "ADDED Container app-1"
