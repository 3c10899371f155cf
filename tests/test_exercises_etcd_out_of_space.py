"""Chapter 14's exercises: right answers pass, wrong ones get a hint naming the rule, stubs say
"not yet", and the graders agree with the library they are built on."""

import itertools

import pytest

from kube_teach.etcd.mvcc import DEFAULT_QUOTA_BYTES, MVCCStore
from kube_teach.grading import check
from kube_teach.grading.exercises_etcd_out_of_space import STEPS, runbook_problem

MiB = 1024**2


def stub(*args):
    raise NotImplementedError


def space_alert(size, quota):
    if quota < 0:
        return False
    return size / (quota or 2 * 1024**3) > 0.8


def at_least(size, quota):  # >= instead of >
    return quota >= 0 and size / (quota or 2 * 1024**3) >= 0.8


def zero_means_zero(size, quota):  # forgets that 0 is etcd's default
    return quota > 0 and size / quota > 0.8


def percent(size, quota):  # returns the ratio, not a verdict
    return size / (quota or 2 * 1024**3)


@pytest.mark.parametrize(
    ("answer", "passed", "says"),
    [
        (space_alert, True, ""),
        (at_least, False, "exactly 80 %"),
        (zero_means_zero, False, "2 GiB default"),
        (percent, False, "answer True or False"),
        (stub, False, "replace `raise NotImplementedError`"),
        (0.8, False, "pass the function itself"),
    ],
)
def test_space_alert(answer, passed, says):
    result = check("14-space-alert", answer)
    assert result.passed is passed
    assert says in str(result)


def test_default_quota_is_the_stores():
    """The grader's 0-means-default is the MVCC store's own reading of the flag."""
    assert MVCCStore(quota_backend_bytes=0).quota_bytes == DEFAULT_QUOTA_BYTES == 2 * 1024**3
    assert MVCCStore(quota_backend_bytes=-1).quota_bytes is None


@pytest.mark.parametrize(
    ("steps", "says"),
    [
        (["delete", "compact", "defrag", "disarm"], ""),
        (["disarm", "compact", "defrag", "delete"], "'delete' must come before 'compact'"),
        (["delete", "defrag", "compact", "disarm"], "'compact' must come before 'defrag'"),
        (["delete", "compact", "disarm", "defrag"], "'defrag' must come before 'disarm'"),
        (["delete", "compact", "defrag"], "'disarm' is missing"),
        (["delete", "compact", "defrag", "disarm", "disarm"], "exactly once"),
        (["delete", "compact", "defragment", "disarm"], "unknown step 'defragment'"),
        ("delete compact defrag disarm", "answer a list"),
        ([], "'compact' is missing"),
    ],
)
def test_runbook(steps, says):
    result = check("14-runbook", steps)
    assert result.passed is (says == "")
    assert says in str(result)


def test_exactly_one_order_passes():
    good = [p for p in itertools.permutations(STEPS) if runbook_problem(list(p)) is None]
    assert good == [("delete", "compact", "defrag", "disarm")]
