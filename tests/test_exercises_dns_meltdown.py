"""Chapter 15's exercises: right answers pass, wrong ones get a hint naming the case, stubs say
"not yet", and the graders agree with the DNS models they are built on."""

import math

import pytest

from kube_teach.grading import check
from kube_teach.grading.exercises_dns_meltdown import (
    _DEMANDS,
    coredns_behind_nodelocal,
    queries_per_request,
    replicas_needed,
)
from kube_teach.network.traffic import TrafficModel

SEARCH = ["production.svc.cluster.local", "svc.cluster.local", "cluster.local"]
EXISTS = {"backend-service.production.svc.cluster.local", "api.example.com"}


def stub(*args):
    raise NotImplementedError


def learner_demand(rps, name, ndots):
    if name.endswith("."):
        candidates = [name[:-1]]
    elif name.count(".") >= ndots:
        candidates = [name] + [f"{name}.{d}" for d in SEARCH]
    else:
        candidates = [f"{name}.{d}" for d in SEARCH] + [name]
    tried = 0
    for candidate in candidates:
        tried += 1
        if candidate in EXISTS:
            break
    return rps * 2 * tried


def always_search_first(rps, name, ndots):  # ignores ndots: the search list every time
    return learner_demand(rps, name, 100)


def a_only(rps, name, ndots):  # forgets AAAA
    return learner_demand(rps, name, ndots) / 2


@pytest.mark.parametrize(
    ("name", "ndots", "queries"),
    [
        ("backend-service.production.svc.cluster.local", 5, 8),  # chapter 07's table
        ("backend-service.production.svc.cluster.local", 1, 2),
        ("backend-service.production", 5, 4),
        ("backend-service.production", 1, 6),
        ("api.example.com.", 5, 2),
    ],
)
def test_queries_per_request_come_from_the_resolver_model(name, ndots, queries):
    assert queries_per_request(name, ndots) == queries


@pytest.mark.parametrize(("rps", "name", "ndots", "why"), _DEMANDS)
def test_the_reference_answer_agrees_with_the_model(rps, name, ndots, why):
    assert learner_demand(rps, name, ndots) == rps * queries_per_request(name, ndots)


@pytest.mark.parametrize(("nodes", "ndots"), [(3, "5"), (10, "5"), (10, "1")])
def test_coredns_behind_nodelocal_is_what_the_traffic_model_measures(nodes, ndots):
    model = TrafficModel(nodes=nodes, rps=500, nodelocal=True, backends=10, seed=0,
                         dns_options=[{"name": "ndots", "value": ndots}])  # fmt: skip
    report = model.run(1)
    per_lookup = queries_per_request("backend-service.production.svc.cluster.local", int(ndots))
    assert report.coredns_received == coredns_behind_nodelocal(nodes, per_lookup)


def test_sixteen_replicas_for_the_seeds_demand():
    assert replicas_needed(80_000, 5_000) == 16
    assert replicas_needed(80_001, 5_000) == 17


@pytest.mark.parametrize(
    ("exercise", "answer", "passed", "says"),
    [
        pytest.param("15-dns-demand", learner_demand, True, "", id="demand: right"),
        pytest.param("15-dns-demand", always_search_first, False,
                     "with ndots:1 the name is tried as given first", id="demand: ignores ndots"),
        pytest.param("15-dns-demand", a_only, False, "A and AAAA each", id="demand: A only"),
        pytest.param("15-dns-demand", lambda r, n, d: "many", False, "did not return a number",
                     id="demand: not a number"),
        pytest.param("15-coredns-replicas", lambda q, c: math.ceil(q / c), True, "",
                     id="replicas: ceil"),
        pytest.param("15-coredns-replicas", lambda q, c: max(1, math.ceil(q / c)), True, "",
                     id="replicas: ceil, at least 1"),
        pytest.param("15-coredns-replicas", lambda q, c: q // c + 1, False,
                     "returned 17, but it is 16", id="replicas: always one more"),
        pytest.param("15-coredns-replicas", lambda q, c: q // c, False, "needs a third",
                     id="replicas: rounds down"),
        pytest.param("15-coredns-replicas", lambda q, c: q / c, False, "a whole number",
                     id="replicas: a fraction"),
        pytest.param("15-nodelocal-upstream", lambda n, q: n * q, True, "", id="nodelocal: right"),
        pytest.param("15-nodelocal-upstream", lambda n, q: q, False, "every node asks",
                     id="nodelocal: one shared cache"),
        pytest.param("15-dns-demand", stub, False, "not yet", id="a stub is not yet"),
        pytest.param("15-nodelocal-upstream", 800, False, "pass the function itself",
                     id="not a function"),
    ],
)  # fmt: skip
def test_exercises(exercise, answer, passed, says):
    result = check(exercise, answer)
    assert result.passed is passed
    assert says in str(result)
