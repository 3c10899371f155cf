"""Quorum arithmetic: tables from etcd-io/raft's quorum testdata, and differential properties
against definitions simple enough to be obviously right."""

from itertools import combinations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kube_teach.etcd.quorum import (
    INFINITE_INDEX,
    VoteResult,
    committed_index,
    joint_committed_index,
    joint_vote_result,
    vote_result,
)

Won, Lost, Pending = VoteResult.VoteWon, VoteResult.VoteLost, VoteResult.VotePending


def naive_committed_index(voters, match):
    """The largest index N such that some majority of voters all have match >= N."""
    voters = sorted(voters)
    if not voters:
        return INFINITE_INDEX
    need = len(voters) // 2 + 1
    best = 0
    for group in combinations(voters, need):
        best = max(best, min(match.get(v, 0) for v in group))
    return best


def naive_vote_result(voters, votes):
    """Won if some majority all said yes; lost if no majority can still say yes."""
    voters = sorted(voters)
    if not voters:
        return Won
    need = len(voters) // 2 + 1
    yes = [v for v in voters if votes.get(v) is True]
    maybe = [v for v in voters if votes.get(v) is not False]
    if len(yes) >= need:
        return Won
    return Pending if len(maybe) >= need else Lost


@pytest.mark.parametrize(
    ("voters", "match", "want"),
    [
        pytest.param([], {}, INFINITE_INDEX, id="an empty config commits everything"),
        pytest.param([1], {}, 0, id="a single voter with no known index commits nothing"),
        pytest.param([1], {1: 12}, 12, id="a single voter commits what it has"),
        pytest.param([1, 2], {1: 12}, 0, id="two voters need both"),
        pytest.param([1, 2], {1: 12, 2: 5}, 5, id="two voters commit the smaller index"),
        pytest.param([1, 2, 3], {1: 12, 2: 5}, 5, id="three voters: the second largest"),
        pytest.param([1, 2, 3], {1: 12, 2: 5, 3: 4}, 5, id="three voters, all known"),
        pytest.param([1, 2, 3, 4], {1: 9, 2: 8, 3: 7, 4: 6}, 7, id="four voters need three"),
        pytest.param([1, 2, 3, 4, 5], {1: 9, 2: 9, 3: 1}, 1, id="five voters need three"),
        pytest.param([1, 2, 3], {1: 9, 7: 9, 8: 9}, 0, id="non-voters do not count"),
    ],
)
def test_committed_index(voters, match, want):
    assert committed_index(voters, match) == want


@pytest.mark.parametrize(
    ("voters", "votes", "want"),
    [
        pytest.param([], {}, Won, id="the empty config always wins"),
        pytest.param([1], {}, Pending, id="one voter, no vote yet"),
        pytest.param([1], {1: False}, Lost, id="one voter says no"),
        pytest.param([123], {123: True}, Won, id="one voter says yes"),
        pytest.param([4, 8], {4: False}, Lost, id="with two voters a single no loses"),
        pytest.param([4, 8], {4: True}, Pending, id="two voters, one yes"),
        pytest.param([4, 8], {4: True, 8: True}, Won, id="two voters, two yes"),
        pytest.param([2, 4, 7], {2: False}, Pending, id="three voters, one no"),
        pytest.param([2, 4, 7], {2: False, 4: False}, Lost, id="three voters, two no"),
        pytest.param([2, 4, 7], {2: True, 4: False}, Pending, id="three voters, split"),
        pytest.param([2, 4, 7], {2: True, 7: True}, Won, id="three voters, two yes"),
        pytest.param([1, 2, 3], {9: True, 8: True, 1: True}, Pending, id="outsiders ignored"),
    ],
)
def test_vote_result(voters, votes, want):
    assert vote_result(voters, votes) == want


def test_joint_quorums_need_both_halves():
    assert joint_committed_index([1, 2, 3], [3, 4, 5], {1: 9, 2: 9, 3: 2, 4: 1}) == 1
    assert joint_committed_index([1, 2, 3], [], {1: 9, 2: 9}) == 9
    assert joint_vote_result([1, 2, 3], [3, 4, 5], {1: True, 2: True}) == Pending
    assert joint_vote_result([1, 2, 3], [3, 4, 5], {1: True, 2: True, 4: False, 5: False}) == Lost
    assert joint_vote_result([1, 2, 3], [3, 4, 5], {1: True, 3: True, 4: True}) == Won


ids = st.integers(1, 7)


@given(voters=st.sets(ids, min_size=1), match=st.dictionaries(ids, st.integers(0, 20)))
def test_committed_index_matches_definition(voters, match):
    assert committed_index(voters, match) == naive_committed_index(voters, match)


@given(voters=st.sets(ids, min_size=1), votes=st.dictionaries(ids, st.booleans()))
def test_vote_result_matches_definition(voters, votes):
    assert vote_result(voters, votes) == naive_vote_result(voters, votes)


@given(
    a=st.sets(ids, min_size=1),
    b=st.sets(ids, min_size=1),
    match=st.dictionaries(ids, st.integers(0, 20)),
)
def test_joint_committed_index_is_committed_in_both(a, b, match):
    got = joint_committed_index(a, b, match)
    assert got == min(naive_committed_index(a, match), naive_committed_index(b, match))


@given(voters=st.sets(ids, min_size=1), match=st.dictionaries(ids, st.integers(0, 20)))
def test_two_quorums_intersect(voters, match):
    """Any index committed is held by a majority, and any two majorities share a voter."""
    n = committed_index(voters, match)
    holders = [v for v in voters if match.get(v, 0) >= n]
    assert 2 * len(holders) > len(voters)
