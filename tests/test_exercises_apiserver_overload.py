"""Chapter 08: APF's classification of a rollout's requests (upstream's default FlowSchemas),
the overload experiment's behaviour, and the two exercises' verdicts."""

import pytest

from kube_teach.apiserver.flowcontrol_apf import APF
from kube_teach.apiserver.request import Attributes, UserInfo, request_info
from kube_teach.grading import check
from kube_teach.grading.exercises_apiserver_overload import LEVEL_CASES, LEVELS, overload

# (FlowSchema, priority level) upstream's default configuration gives each case
UPSTREAM = {
    "a": ("global-default", "global-default"),
    "b": ("system-node-high", "node-high"),
    "c": ("exempt", "exempt"),
    "d": ("system-leader-election", "leader-election"),
    "e": ("kube-scheduler", "workload-high"),
    "f": ("kube-system-service-accounts", "workload-high"),
    "g": ("service-accounts", "workload-low"),
    "h": ("probes", "exempt"),
}
RIGHT = {case: level for case, (_, level) in UPSTREAM.items()}


@pytest.mark.parametrize("case", sorted(LEVEL_CASES))
def test_each_case_lands_where_upstream_puts_it(case):
    who, groups, method, path = LEVEL_CASES[case]
    attrs = Attributes.of(UserInfo(name=who, groups=groups), request_info(method, path))
    schema, level, _ = APF().classify(attrs)
    assert (schema["metadata"]["name"], level.config["metadata"]["name"]) == UPSTREAM[case]
    assert LEVELS[case] == UPSTREAM[case][1]  # what the grader accepts


@pytest.mark.parametrize(("answer", "passed", "says"), [
    pytest.param(RIGHT, True, "", id="right"),
    pytest.param({**RIGHT, "b": "workload-high"}, False, "case b (system:node:node-1 PUT", id="lease"),
    pytest.param({**RIGHT, "h": "catch-all"}, False, "case h (system:anonymous GET /readyz)",
                 id="probes are exempt"),
    pytest.param({k: v for k, v in RIGHT.items() if k != "c"}, False, "no answer for case(s) c",
                 id="missing"),
    pytest.param({**RIGHT, "a": ...}, False, "case a is still `...`", id="partly unsolved"),
    pytest.param(["exempt"], False, "answer with a dict", id="not a dict"),
    pytest.param(..., False, "answer with a dict from case letter", id="stub"),
])  # fmt: skip
def test_priority_level_exercise(answer, passed, says):
    result = check("08-priority-level", answer)
    assert result.passed is passed, result.message
    assert says in result.message


def test_the_article_limits_take_the_burst():
    run = overload(1000, 0.1, seats=200)
    assert run.rejected == 0
    assert run.tenants["ci-deployer"].created == 1000


def test_ten_seats_refuse_then_retries_come_back_in_waves():
    run = overload(1000, 0.1)
    t = run.tenants["ci-deployer"]
    assert t.created == 1000  # client-go's retries get every create in eventually
    assert run.rejected > 1000  # more 429s than creates: the retries are refused again
    assert t.latency_ms(99) >= 3000  # several one-second Retry-After waits
    assert run.last_reply > 3
    assert "the servers answered 429" in run.summary()


def test_five_replicas_split_the_burst_evenly_without_a_429():
    run = overload(1000, 0.1, replicas=5)
    assert run.rejected == 0
    assert sorted(run.per_replica) == [f"apiserver-{i}" for i in range(1, 6)]
    assert set(run.per_replica.values()) == {200}


def test_apf_shields_the_quiet_tenant():
    shared = overload(1000, 0.1, quiet=20)
    fair = overload(1000, 0.1, quiet=20, flow_control=lambda: APF(server_concurrency_limit=30))
    assert shared.tenants["alice"].latency_ms(50) >= 1000
    assert fair.tenants["alice"].latency_ms(99) < 100
    assert fair.tenants["alice"].created == 20
    assert fair.flow_control == "APF" and "APF flow control" in fair.summary()


@pytest.mark.parametrize("bad", [{"creates": 0}, {"replicas": 0}, {"seats": 0}, {"over": 0}])
def test_bad_input_is_a_clear_error(bad):
    with pytest.raises(ValueError, match="at least 1"):
        overload(**{"creates": 10, "over": 0.1, **bad})


@pytest.mark.parametrize(("answer", "passed", "says"), [
    pytest.param(5, True, "", id="five"),
    pytest.param(3, False, "with 3 replica(s) the servers still answered 429", id="three"),
    pytest.param("5", False, "a whole number", id="text"),
    pytest.param(0, False, "between 1 and 12", id="zero"),
    pytest.param(..., False, "try overload", id="stub"),
])  # fmt: skip
def test_replicas_exercise(answer, passed, says):
    result = check("08-replicas", answer)
    assert result.passed is passed, result.message
    assert says in result.message


@pytest.mark.slow
def test_more_replicas_than_needed_is_not_the_answer():
    result = check("08-replicas", 6)
    assert not result.passed
    assert "5 replica(s) already take the burst" in result.message
