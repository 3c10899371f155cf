"""Probe results over time, after pkg/kubelet/prober/worker_test.go (TestInitialDelay,
TestFailureThreshold, TestSuccessThreshold, TestOnHoldOnLivenessOrStartupCheckFailure,
TestResultRunOnLivenessCheckFailure, TestLivenessProbeDisabledByStarted,
TestStartupProbeDisabledByStarted)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kube_teach.kubelet.probes import (
    FAILURE,
    LIVENESS,
    READINESS,
    STARTUP,
    SUCCESS,
    UNKNOWN,
    ProbeSpec,
    ProbeWorker,
    decisions,
    probe_result,
    probe_timeline,
)


def worker(kind, **spec):
    return ProbeWorker(kind, ProbeSpec(**spec))


def test_probe_defaults():
    assert ProbeSpec.from_dict({"httpGet": {"path": "/healthz", "port": 8080}}) == ProbeSpec(
        initial_delay_seconds=0,
        period_seconds=10,
        timeout_seconds=1,
        success_threshold=1,
        failure_threshold=3,
    )
    assert ProbeSpec.from_dict(None) is None


@pytest.mark.parametrize(
    ("outcome", "timeout", "want"),
    [
        (True, 1, SUCCESS),
        (False, 1, FAILURE),
        ("timeout", 1, FAILURE),
        (0.2, 1, SUCCESS),
        pytest.param(1, 1, FAILURE, id="an answer at the timeout is too late"),
        pytest.param(2.5, 3, SUCCESS, id="a longer timeout"),
    ],
)
def test_probe_result(outcome, timeout, want):
    assert probe_result(outcome, timeout) == want


@pytest.mark.parametrize(
    ("kind", "initial"), [(LIVENESS, SUCCESS), (READINESS, FAILURE), (STARTUP, UNKNOWN)]
)
def test_initial_results(kind, initial):
    assert worker(kind).result == initial


def test_initial_delay_is_compared_in_whole_seconds():
    w = worker(READINESS, initial_delay_seconds=5)
    assert not w.should_probe(0, started=True)
    assert not w.should_probe(4.9, started=True)
    assert w.should_probe(5, started=True)


def test_failure_threshold():
    # TestFailureThreshold: success, then failures; the result flips on the 3rd failure only
    w = worker(LIVENESS, failure_threshold=3)
    assert w.observe(SUCCESS) == SUCCESS
    assert [w.observe(FAILURE) for _ in range(2)] == [None, None]
    assert w.result == SUCCESS
    assert w.observe(FAILURE) == FAILURE
    assert w.on_hold and w.result_run == 0  # the container is restarted; probing waits for it


def test_success_threshold():
    w = worker(READINESS, success_threshold=3, failure_threshold=1)
    assert [w.observe(SUCCESS) for _ in range(3)] == [None, None, SUCCESS]
    assert w.observe(FAILURE) == FAILURE
    assert [w.observe(SUCCESS) for _ in range(2)] == [None, None]
    assert w.result == FAILURE


def test_on_hold_until_new_container():
    w = worker(STARTUP, failure_threshold=1)
    assert w.observe(FAILURE) == FAILURE
    assert not w.should_probe(100, started=False)
    w.new_container()
    assert w.result == UNKNOWN and w.should_probe(100, started=False)


def test_gating_by_startup():
    assert not worker(LIVENESS).should_probe(30, started=False)
    assert not worker(READINESS).should_probe(30, started=False)
    assert worker(STARTUP).should_probe(30, started=False)
    assert not worker(STARTUP).should_probe(30, started=True)


def test_liveness_restart_after_three_failures():
    container = {"livenessProbe": {"periodSeconds": 10, "failureThreshold": 3}}
    events = probe_timeline(container, {LIVENESS: [True, True, False]}, until=100)
    assert decisions(events) == [(40, "restart")]
    assert [e.result for e in events] == [SUCCESS, SUCCESS, SUCCESS, SUCCESS, FAILURE]


def test_initial_delay_postpones_probing():
    container = {"livenessProbe": {"initialDelaySeconds": 15, "periodSeconds": 10}}
    events = probe_timeline(container, {LIVENESS: False}, until=100)
    assert [e.time for e in events] == [20, 30, 40]
    assert decisions(events) == [(40, "restart")]


def test_readiness_flaps_and_never_restarts():
    container = {"readinessProbe": {"periodSeconds": 5, "failureThreshold": 2}}
    outcomes = [True, False, False, True, False, True]
    events = probe_timeline(container, {READINESS: outcomes}, until=25)
    assert decisions(events) == [(0, "ready"), (10, "not-ready"), (15, "ready")]


def test_slow_answers_fail_by_timeout():
    container = {
        "readinessProbe": {"timeoutSeconds": 1, "periodSeconds": 10, "failureThreshold": 1}
    }
    events = probe_timeline(container, {READINESS: [0.3, 2.0]}, until=10)
    assert decisions(events) == [(0, "ready"), (10, "not-ready")]


def test_startup_probe_gates_readiness_and_liveness():
    container = {
        "startupProbe": {"periodSeconds": 10, "failureThreshold": 30},
        "readinessProbe": {"periodSeconds": 10},
        "livenessProbe": {"periodSeconds": 10},
    }
    events = probe_timeline(container, {STARTUP: [False, False, False, True]}, until=60)
    assert [(e.time, e.probe) for e in events][:5] == [
        (0, STARTUP), (10, STARTUP), (20, STARTUP), (30, STARTUP), (40, LIVENESS),
    ]  # fmt: skip
    assert decisions(events) == [(30, "started"), (40, "ready")]


def test_startup_budget_is_failure_threshold_times_period():
    container = {"startupProbe": {"periodSeconds": 10, "failureThreshold": 30}}
    events = probe_timeline(container, {STARTUP: False}, until=600)
    assert decisions(events) == [(290, "restart")]  # 30 failures: at 0, 10, ..., 290


def test_without_probes_a_container_is_ready_at_once():
    assert probe_timeline({"name": "app"}, {}, until=60) == []


def test_without_readiness_probe_ready_follows_startup():
    container = {"startupProbe": {"periodSeconds": 5, "failureThreshold": 3}}
    events = probe_timeline(container, {STARTUP: [False, True]}, until=20)
    assert decisions(events) == [(5, "started")]
    assert events[-1].ready


def test_outcomes_as_a_function_of_time():
    container = {"livenessProbe": {"periodSeconds": 10, "failureThreshold": 3}}
    events = probe_timeline(container, {LIVENESS: lambda t: t < 60}, until=200, started_at=100)
    assert decisions(events) == [(180, "restart")]


@given(
    st.integers(1, 5),
    st.integers(1, 30),
    st.lists(st.booleans(), min_size=1, max_size=30),
)
def test_a_restart_needs_failure_threshold_consecutive_failures(threshold, period, outcomes):
    container = {"livenessProbe": {"periodSeconds": period, "failureThreshold": threshold}}
    events = probe_timeline(container, {LIVENESS: outcomes + [True]}, until=period * 40)
    restarts = [i for i, e in enumerate(events) if e.action == "restart"]
    if restarts:
        i = restarts[0]
        assert i == len(events) - 1
        assert all(e.outcome == FAILURE for e in events[i - threshold + 1 : i + 1])
    run, longest = 0, 0
    for ok in outcomes:
        run = 0 if ok else run + 1
        longest = max(longest, run)
        if longest >= threshold:
            break
    assert bool(restarts) == (longest >= threshold)
