"""CrashLoopBackOff and ImagePullBackOff timing, after client-go's backoff_test.go and
kuberuntime's doBackOff tests: 10 s doubling to 300 s, reset after 10 quiet minutes."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kube_teach.kubelet.backoff import (
    Backoff,
    crash_loop,
    pull_decision,
    pull_failed,
    restart_decision,
    restart_delays,
)

POD = {"metadata": {"name": "web", "namespace": "default", "uid": "12345678"}}


def test_slow_backoff_doubles_to_the_cap():
    # TestSlowBackoff: step 1 s, max 50 s
    backoff = Backoff(1, 50)
    want = [1, 2, 4, 8, 16, 32, 50, 50, 50, 50]
    got = [backoff.next("key", t) for t in range(10)]
    assert got == want


def test_backoff_reset():
    # TestBackoffReset: an event more than 2 x max after the last update starts over
    backoff = Backoff(1, 5)
    for t in range(5):
        backoff.next("key", t)
    assert backoff.get("key") == 5
    assert backoff.next("key", 4 + 10.001) == 1


def test_is_in_backoff_since():
    # TestIsInBackOffSinceUpdate / TestIsInBackOffSince
    backoff = Backoff(1, 10)
    backoff.next("key", 0)  # 1 s
    assert backoff.is_in_backoff_since("key", 0, 0.5)
    assert not backoff.is_in_backoff_since("key", 0, 1)
    assert backoff.is_in_backoff_since_update("key", 0.999)
    assert not backoff.is_in_backoff_since_update("key", 1)
    assert not backoff.is_in_backoff_since("unknown", 0, 0)


def test_gc_forgets_quiet_entries():
    backoff = Backoff(10, 300)
    backoff.next("a", 0)
    backoff.next("b", 500)
    backoff.gc(601)
    assert backoff.get("a") == 0 and backoff.get("b") == 10


def test_restart_delays_of_a_container_that_always_crashes():
    assert restart_delays(9) == [0, 10, 20, 40, 80, 160, 300, 300, 300]


def test_crash_loop_timeline():
    runs = crash_loop([1] * 8)
    assert [(r.started_at, r.waited) for r in runs] == [
        (0, 0), (1, 0), (12, 10), (33, 20), (74, 40), (155, 80), (316, 160), (617, 300),
    ]  # fmt: skip


def test_ten_minutes_of_running_resets_the_backoff():
    runs = crash_loop([1, 1, 1, 601, 1, 1])
    assert [r.waited for r in runs] == [0, 0, 10, 20, 0, 10]
    # just under 10 minutes since the last restart is not enough
    assert [r.waited for r in crash_loop([1, 1, 1, 599, 1])] == [0, 0, 10, 20, 40]


@given(st.lists(st.floats(0, 1000, allow_nan=False), min_size=1, max_size=12))
def test_waits_never_exceed_the_cap_and_only_double(durations):
    waits = [r.waited for r in crash_loop(durations)]
    for before, after in zip(waits, waits[1:], strict=False):
        assert after in (0, 10) or after == min(before * 2, 300)
    assert max(waits) <= 300


def test_restart_decision_reports_crash_loop_back_off():
    backoff = Backoff()
    assert restart_decision(backoff, POD, "app", finished_at=None, now=0).start  # never ran
    assert restart_decision(backoff, POD, "app", finished_at=5, now=5).start  # first restart
    waiting = restart_decision(backoff, POD, "app", finished_at=6, now=10)
    assert not waiting.start
    assert waiting.reason == "CrashLoopBackOff"
    assert (
        waiting.message == "back-off 10s restarting failed container=app pod=web_default(12345678)"
    )
    assert restart_decision(backoff, POD, "app", finished_at=6, now=16).start
    later = restart_decision(backoff, POD, "app", finished_at=17, now=20)
    assert later.delay == 20 and "back-off 20s" in later.message


def test_back_off_message_uses_go_durations():
    backoff = Backoff()
    for t in (0, 10, 40, 100, 200, 400):  # six failures: 10, 20, 40, 80, 160, then 300 s
        backoff.next("web_default_12345678_app", t)
    message = restart_decision(backoff, POD, "app", finished_at=401, now=402).message
    assert message.startswith("back-off 5m0s restarting failed container=app")


def test_image_pull_back_off():
    backoff = Backoff()
    assert pull_decision(backoff, POD, "nginx:bad", 0).start
    assert pull_failed(backoff, POD, "nginx:bad", 0) == 10  # ErrImagePull, then 10 s of back-off
    waiting = pull_decision(backoff, POD, "nginx:bad", 5)
    assert (waiting.start, waiting.reason) == (False, "ImagePullBackOff")
    assert waiting.message == 'Back-off pulling image "nginx:bad"'
    assert pull_decision(backoff, POD, "nginx:bad", 10).start
    assert pull_failed(backoff, POD, "nginx:bad", 10) == 20
    assert not pull_decision(backoff, POD, "nginx:bad", 29).start
    assert pull_decision(backoff, POD, "nginx:bad", 30).start


@pytest.mark.parametrize(
    ("failures", "attempts"),
    [pytest.param(7, [0, 10, 30, 70, 150, 310, 610], id="pull attempts 10 s doubling to 300 s")],
)
def test_pull_attempt_times(failures, attempts):
    backoff, t, times = Backoff(), 0, []
    for _ in range(failures):
        while not pull_decision(backoff, POD, "img", t).start:
            t += 1
        times.append(t)
        pull_failed(backoff, POD, "img", t)
    assert times == attempts
