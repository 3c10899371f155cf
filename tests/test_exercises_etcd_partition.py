"""Chapter 09's exercises: right answers pass, wrong ones get a hint naming the case, stubs say
"not yet", and the graders agree with the etcd cluster the chapter runs."""

import pytest

from kube_teach.etcd import EtcdCluster
from kube_teach.etcd.errors import EtcdError
from kube_teach.grading import check
from kube_teach.grading.exercises_etcd_partition import request_timeout, survives


def stub(*args):
    raise NotImplementedError


def good_survives(placement, lost):
    total = sum(placement.values())
    return total - placement[lost] >= total // 2 + 1


def ties_win(placement, lost):  # an even split counted as a quorum
    total = sum(placement.values())
    return total - placement[lost] >= total / 2


def counts_domains(placement, lost):  # a majority of failure domains, not of members
    return len(placement) - 1 > len(placement) / 2


def mutates(placement, lost):
    placement.pop(lost)
    return sum(placement.values()) > 0


@pytest.mark.parametrize(
    ("answer", "passed", "says"),
    [
        (good_survives, True, ""),
        (ties_win, False, "an even split"),
        (counts_domains, False, "survives({'dc-a': 2, 'dc-b': 3}, 'dc-a')"),
        (mutates, False, "changed its argument"),
        (lambda p, lost: 1, False, "answer True or False"),
        (stub, False, "replace `raise NotImplementedError`"),
        ({"dc-a": 2}, False, "pass the function itself"),
    ],
)
def test_survives(answer, passed, says):
    result = check("09-survives", answer)
    assert result.passed is passed
    assert says in str(result)


@pytest.mark.parametrize(
    ("answer", "passed", "says"),
    [
        (lambda ms: 5 + 2 * ms / 1000, True, ""),
        (lambda ms: 7.0, False, "5.2 s with --election-timeout=100"),
        (lambda ms: 5 + ms / 1000, False, "etcd waits 7 s"),
        (lambda ms: "7s", False, "answer a number of seconds"),
        (stub, False, "replace `raise NotImplementedError`"),
    ],
)
def test_request_timeout(answer, passed, says):
    result = check("09-request-timeout", answer)
    assert result.passed is passed
    assert says in str(result)


def test_request_timeout_is_what_a_cut_off_member_answers():
    """A write to a member cut off from its peers fails after exactly the graded timeout."""
    etcd = EtcdCluster(members=3, seed=0)
    leader = etcd.wait_for_leader()
    etcd.isolate(leader)
    etcd.run("3s")
    client = etcd.client([leader.name], name="local", timeout="30s")
    start = etcd.now
    with pytest.raises(EtcdError, match="etcdserver: request timed out"):
        client.put("/registry/configmaps/default/x", "{}")
    assert etcd.now - start == pytest.approx(request_timeout(1000), abs=0.01)


@pytest.mark.parametrize(
    ("placement", "lost"),
    [({"dc-a": 2, "dc-b": 3}, "dc-a"), ({"dc-a": 2, "dc-b": 3}, "dc-b"), ({"a": 2, "b": 2}, "a")],
)
def test_survives_matches_a_real_split(placement, lost):
    """The reference answer is what a real split of an EtcdCluster does."""
    names = iter(f"etcd-{i}" for i in range(1, sum(placement.values()) + 1))
    domains = {d: [next(names) for _ in range(n)] for d, n in placement.items()}
    etcd = EtcdCluster(members=sum(placement.values()), seed=0)
    etcd.wait_for_leader()
    rest = [m for d, ms in domains.items() if d != lost for m in ms]
    etcd.partition(domains[lost], rest)
    etcd.run("3s")
    try:
        etcd.client(rest, name="probe").put("/registry/probe", "x")
        wrote = True
    except EtcdError:
        wrote = False
    assert wrote is survives(placement, lost)
