"""Views nbval can compare: SVG plots byte for byte, and the clock widget's static copy."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from kube_teach import Cluster
from kube_teach.scenarios import declarative as dc
from kube_teach.sim import Clock, Metrics
from kube_teach.viz import SVG, ClockWidget, clock, timeline


def replicas_plot():
    imperative, declarative = dc.imperative_vs_declarative(seed=0, duration="30m")
    return timeline(
        {
            "imperative": imperative.metrics.series(dc.REPLICAS),
            "declarative": declarative.metrics.series(dc.REPLICAS),
        },
        until=declarative.now,
        spans=declarative.outages,
        target=3,
        ylabel="copies running",
        title="copies running",
    )


def test_svg_is_byte_identical_across_renders():
    assert replicas_plot().data == replicas_plot().data


def test_svg_is_byte_identical_across_processes():
    code = (
        "import hashlib, tests.test_viz as t;"
        "print(hashlib.sha256(t.replicas_plot().data.encode()).hexdigest())"
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


def test_svg_carries_no_date_and_no_random_ids():
    svg = replicas_plot()
    assert svg.data.startswith("<svg")
    assert "<dc:date>" not in svg.data
    assert "Matplotlib v" not in svg.data
    assert 'id="p' in svg.data  # clip paths are named from the fixed hash salt
    assert svg._repr_svg_() == svg.data
    assert repr(svg) == "<plot: copies running>"


def test_timeline_extends_the_last_value_and_shades_open_spans():
    clock = Clock()
    metrics = Metrics(clock)
    metrics.set("x", 1)
    clock.run(30)
    metrics.set("x", 2)
    svg = timeline({"x": metrics.series("x")}, until=60, spans=[("node1", 10, None)])
    assert isinstance(svg, SVG)
    assert "simulated time (seconds)" in svg.data
    assert svg.data == timeline({"x": metrics.series("x")}, until=60,
                                spans=[("node1", 10, None)]).data  # fmt: skip


def world_clock(**options):
    world = dc.World(seed=0)
    dc.Controller(world)
    return world, clock(world, **options)


def test_the_static_copy_is_deterministic():
    _, a = world_clock()
    _, b = world_clock()
    a.press("+1m")
    b.advance("60s")
    assert a.html() == b.html()
    assert a.snapshot()["text/plain"] == b.snapshot()["text/plain"]
    assert "<code>t=1m0s</code>" in a.html()


@pytest.mark.parametrize(
    ("choice", "met", "message", "now"),
    [
        pytest.param("3 copies", True, "3 copies: met at t=0s", 0.0,
                     id="a condition that holds at once"),
        pytest.param("never", False, "never: not met within 2m0s (now t=2m0s)", 120.0,
                     id="a condition that times out leaves a message"),
        pytest.param("5m", True, "reached t=5m0s", 300.0, id="a typed time runs until then"),
        pytest.param("t=90s", True, "reached t=1m30s", 90.0, id="t= in front is allowed"),
        pytest.param("5 minutes", False, 'time: unknown unit " minutes" in duration "5 minutes"',
                     0.0, id="a bad time gets Go's error, not an exception"),
    ],
)  # fmt: skip
def test_run_until(choice, met, message, now):
    world, widget = world_clock(
        until={"3 copies": lambda: len(world.running()) == 3, "never": lambda: False},
        timeout="2m",
    )
    assert widget.run_until(choice) is met
    assert widget.message == message
    assert world.now == now


def test_a_time_already_past_is_refused():
    world, widget = world_clock()
    widget.advance("2m")
    assert widget.run_until("1m") is False
    assert widget.message == "t=1m0s is already past"
    assert world.now == 120


def test_the_buttons_work_without_a_front_end():
    world, widget = world_clock(until={"3 copies": lambda: len(world.running()) == 3})
    box = widget.widget()
    controls = box.children[0].children
    labels = [getattr(c, "description", "") for c in controls]
    assert labels == ["+1s", "+10s", "+1m", "until t =", "", "run until"]
    controls[1].click()
    assert world.now == 10
    controls[3].value = "1m"
    controls[5].click()
    assert world.now == 60
    controls[3].value = ""  # an empty box runs until the condition picked in the menu
    controls[5].click()
    assert widget.message == "3 copies: met at t=1m0s"
    assert box.children[1].value == widget.html()  # the live view follows


def test_display_shows_the_widget_and_a_static_copy(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False: shown.append(obj))
    _, widget = world_clock()
    widget._ipython_display_()
    controls, static = shown
    assert "application/vnd.jupyter.widget-view+json" in controls
    assert controls["text/plain"].startswith("clock controls")
    assert static["text/html"].startswith(widget.html())
    assert "0x" not in static["text/plain"]


def test_the_clock_drives_a_cluster_too():
    cluster = Cluster(nodes=1, seed=0)
    start = cluster.now
    widget = ClockWidget(cluster)
    widget.press("+10s")
    assert cluster.now == pytest.approx(start + 10)
    assert "node-1" in widget.html()
    assert re.match(r"t=10\.\d+s · ran 10s\nCluster\(seed=0\) at t=10\.\d+s", widget.text())
