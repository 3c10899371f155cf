import subprocess
import sys

from kube_teach.sim import Clock, Metrics, Seeds, Trace


def test_streams_are_independent_of_each_other():
    a, b = Seeds(7), Seeds(7)
    first = [a.stream("scheduler").random() for _ in range(5)]
    for _ in range(100):
        b.stream("network").random()  # extra draws elsewhere change nothing here
    assert [b.stream("scheduler").random() for _ in range(5)] == first


def test_streams_do_not_depend_on_the_hash_seed():
    code = "from kube_teach.sim import Seeds; print(Seeds(3).stream('x').random(), Seeds(3).uid())"
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={"PYTHONHASHSEED": h},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for h in ("0", "1", "12345")
    }
    assert len(outs) == 1


def test_uids_are_version_4_and_distinct():
    s = Seeds(0)
    uids = [s.uid() for _ in range(1000)]
    assert len(set(uids)) == 1000
    assert all(u[14] == "4" and u[19] in "89ab" for u in uids)


def test_trace_text_is_fixed_format():
    clock = Clock()
    trace = Trace(clock)
    clock.call_later("1.52s", lambda: trace.emit("etcd-2", "became-leader", term=2))
    clock.call_later("2s", lambda: trace.emit("scheduler", "bound", pod="default/web-1", msg="a b"))
    clock.run(3)
    assert trace.text() == (
        "t=1.520000s etcd-2 became-leader term=2\n"
        't=2.000000s scheduler bound pod=default/web-1 msg="a b"'
    )
    assert [e.component for e in trace.where(component="etcd-*")] == ["etcd-2"]
    assert trace.where(event="bound", pod="default/web-1")[0].t == 2.0


def test_trace_limit_keeps_the_newest_events():
    clock = Clock()
    trace = Trace(clock, limit=3)
    for i in range(5):
        trace.emit("x", "e", i=i)
    assert [e.fields["i"] for e in trace] == [2, 3, 4] and trace.dropped == 2


def test_metrics_record_points_on_the_simulated_clock():
    clock = Clock()
    m = Metrics(clock)
    clock.every("1s", lambda: m.inc("requests_total", verb="GET"))
    clock.every("1s", lambda: m.set("inflight", clock.now * 10))
    clock.run(4)
    s = m.series("requests_total", verb="GET")
    assert s.times == [1.0, 2.0, 3.0, 4.0] and s.values == [1, 2, 3, 4]
    assert m.series("inflight").at(2.5) == 20.0
    assert m.series("inflight").percentile(50) == 20.0
    assert m.names() == ["inflight", "requests_total"]
    assert m.series("missing").values == []
