import pytest
from hypothesis import given
from hypothesis import strategies as st

from kube_teach.sim import Clock, SimulationError


def test_equal_times_run_in_the_order_scheduled():
    clock, out = Clock(), []
    for name in "abcde":
        clock.call_later("1s", lambda n=name: out.append(n))
    clock.call_later(0.5, lambda: out.append("early"))
    clock.run(seconds=2)
    assert out == ["early", "a", "b", "c", "d", "e"]
    assert clock.now == 2.0


def test_a_timer_scheduled_for_now_from_a_callback_runs_after_the_current_one():
    clock, out = Clock(), []
    clock.call_later(
        1, lambda: (out.append("first"), clock.call_later(0, lambda: out.append("then")))
    )
    clock.call_later(1, lambda: out.append("second"))
    clock.run(seconds=1)
    assert out == ["first", "second", "then"]


def test_run_includes_timers_due_exactly_at_the_end_and_stops_there():
    clock, out = Clock(), []
    clock.call_later("100ms", lambda: out.append(1))
    clock.call_later("100ms1ns", lambda: out.append(2))
    assert clock.run("100ms") == 1
    assert out == [1] and clock.now_ns == 100_000_000


def test_every_repeats_until_cancelled():
    clock, ticks = Clock(), []
    timer = clock.every("250ms", lambda: ticks.append(clock.now_ns))
    clock.run(1)
    timer.cancel()
    clock.run(1)
    assert ticks == [250_000_000, 500_000_000, 750_000_000, 1_000_000_000]


def test_every_with_start_fires_immediately():
    clock, ticks = Clock(), []
    clock.every(1, lambda: ticks.append(clock.now), start=True)
    clock.run(2)
    assert ticks == [0.0, 1.0, 2.0]


def test_cancelled_timer_never_runs():
    clock, out = Clock(), []
    t = clock.call_later(1, lambda: out.append("x"))
    t.cancel()
    clock.run(5)
    assert out == [] and clock.peek() is None


def test_scheduling_in_the_past_is_refused():
    clock = Clock()
    clock.run(10)
    with pytest.raises(SimulationError, match="already 10s"):
        clock.call_at(5, lambda: None)
    with pytest.raises(SimulationError):
        clock.call_later(-1, lambda: None)


def test_run_until_stops_as_soon_as_the_predicate_holds():
    clock, state = Clock(), {"n": 0}
    clock.every("1s", lambda: state.__setitem__("n", state["n"] + 1))
    assert clock.run_until(lambda: state["n"] == 3, timeout=10)
    assert clock.now == 3.0


def test_run_until_times_out_at_the_deadline():
    clock = Clock()
    clock.every("1s", lambda: None)
    with pytest.raises(SimulationError, match="timed out after 5s"):
        clock.run_until(lambda: False, timeout="5s")
    assert clock.now == 5.0
    assert clock.run_until(lambda: False, timeout=1, raise_on_timeout=False) is False
    assert clock.now == 6.0


@given(st.lists(st.integers(min_value=0, max_value=50), max_size=60))
def test_timers_run_in_time_then_fifo_order(delays):
    clock, out = Clock(), []
    for i, d in enumerate(delays):
        clock.call_later(d, lambda i=i, d=d: out.append((d, i)))
    clock.run()
    assert out == sorted(out)
    assert len(out) == len(delays)
