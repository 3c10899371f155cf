"""Chapter 03's exercises: right answers pass, wrong ones get a hint naming the case, stubs say
"not yet", and the graders agree with the library they are built on."""

import pytest

from kube_teach.etcd.messages import MsgVote
from kube_teach.etcd.quorum import committed_index
from kube_teach.grading import check
from kube_teach.grading.exercises_etcd import _VOTES, Voter, raft_grants


def stub(*args):
    raise NotImplementedError


# -- 03-vote ------------------------------------------------------------------------------------
def grant_vote(m, voter):
    if m.term < voter.term:
        return False
    if m.term == voter.term and voter.vote not in (0, m.from_):
        return False
    return (m.log_term, m.index) >= (voter.last_term, voter.last_index)


def longer_log_wins(m, voter):  # compares lengths first: the classic mistake
    if m.term < voter.term:
        return False
    if m.term == voter.term and voter.vote not in (0, m.from_):
        return False
    return m.index >= voter.last_index


def forgets_the_vote(m, voter):
    return m.term >= voter.term and (m.log_term, m.index) >= (voter.last_term, voter.last_index)


def keeps_old_votes(m, voter):  # a vote from an older term still binds it
    if m.term < voter.term or voter.vote not in (0, m.from_):
        return False
    return (m.log_term, m.index) >= (voter.last_term, voter.last_index)


@pytest.mark.parametrize(("m", "voter", "why"), _VOTES, ids=[why for _, _, why in _VOTES])
def test_the_raft_core_answers_as_the_paper_says(m, voter, why):
    assert raft_grants(m, voter) == grant_vote(m, voter)


@pytest.mark.parametrize(
    ("answer", "passed", "says"),
    [
        pytest.param(grant_vote, True, "", id="the rule passes"),
        pytest.param(longer_log_wins, False,
                     "Voter(term=3, vote=0, last_index=6, last_term=2)) returned False, but the "
                     "voter must grant: a later last term (3 > 2) wins, however short the log.",
                     id="length before last term"),
        pytest.param(forgets_the_vote, False, "one vote a term", id="voting twice in a term"),
        pytest.param(keeps_old_votes, False, "a newer term clears the vote cast in term 3",
                     id="a vote from an older term"),
        pytest.param(lambda m, v: "yes", False, "returned 'yes'; return True (grant) or False",
                     id="not a bool"),
        pytest.param(lambda m, v: m.tem > 0, False,
                     "raised AttributeError: 'MsgVote' object has no attribute 'tem'",
                     id="a crash names the inputs"),
        pytest.param(stub, False, "first compare terms", id="the stub is not yet"),
        pytest.param(..., False, "first compare terms", id="an ellipsis is not yet"),
        pytest.param(True, False, "pass the function itself", id="not a function"),
    ],
)  # fmt: skip
def test_vote(answer, passed, says):
    result = check("03-vote", answer)
    assert result.passed is passed
    assert says in result.message
    assert result.text().startswith("✔ 03-vote: correct." if passed else "✘ 03-vote: not yet.")


def test_vote_requests_use_etcds_names():
    m = MsgVote(to=1, from_=2, term=3, index=6, log_term=2)
    assert raft_grants(m, Voter(term=2, vote=0, last_index=6, last_term=2))


# -- 03-commit-index ----------------------------------------------------------------------------
def commit_index(voters, match):
    acked = sorted((match.get(v, 0) for v in voters), reverse=True)
    return acked[len(voters) // 2]


def the_median(voters, match):  # right for odd sizes only
    acked = sorted(match.get(v, 0) for v in voters)
    return acked[len(voters) // 2]


def counts_everyone(voters, match):
    acked = sorted((match.get(v, 0) for v in set(voters) | set(match)), reverse=True)
    return acked[len(voters) // 2]


def the_minimum(voters, match):  # what every voter has: safe, but too slow to commit
    return min(match.get(v, 0) for v in voters)


def mutates(voters, match):
    match.clear()
    return 0


@pytest.mark.parametrize(
    ("answer", "passed", "says"),
    [
        pytest.param(commit_index, True, "", id="the quorum-th highest passes"),
        pytest.param(committed_index, True, "", id="the library's own passes"),
        pytest.param(the_median, False, "commit_index([1, 2, 3, 4], {1: 8, 2: 8, 3: 6, 4: 6}) "
                     "returned 8, but 6 is the largest index that 3 of the 4 voters have.",
                     id="the median is wrong for even sizes"),
        pytest.param(counts_everyone, False, "Only voters count", id="acks from non-voters"),
        pytest.param(the_minimum, False, "returned 2, but 5 is the largest index that 2 of the 3",
                     id="the minimum waits for everyone"),
        pytest.param(mutates, False, "changed its arguments", id="changing the arguments"),
        pytest.param(stub, False, "the quorum-th one is on a majority", id="the stub is not yet"),
    ],
)  # fmt: skip
def test_commit_index(answer, passed, says):
    result = check("03-commit-index", answer)
    assert result.passed is passed
    assert says in result.message


def test_a_missing_voter_is_explained():
    def ignores_missing(voters, match):
        acked = sorted(match.values(), reverse=True)
        return acked[min(len(voters) // 2, len(acked) - 1)]

    result = check("03-commit-index", ignores_missing)
    assert "A voter missing from match has acknowledged nothing (0)." in result.message


# -- 03-failures-tolerated ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("answer", "passed", "says"),
    [
        pytest.param(lambda n: (n - 1) // 2, True, "", id="(n-1)//2 passes"),
        pytest.param(lambda n: n - (n // 2 + 1), True, "", id="n minus the quorum passes"),
        pytest.param(lambda n: n // 2, False,
                     "failures_tolerated(2) returned 1, but a 2-member cluster needs 2 members "
                     "for a quorum, so it survives 0 failures.", id="n//2 is one too many when even"),
        pytest.param(lambda n: n - 1, False,
                     "failures_tolerated(2) returned 1, but a 2-member cluster needs 2 members",
                     id="everyone but one"),
        pytest.param(lambda n: n // 2 - 1, False, "failures_tolerated(1) returned -1, "
                     "but a 1-member cluster needs 1 member for a quorum, so it survives 0 "
                     "failures.", id="one member is a quorum of one"),
        pytest.param(lambda n: (n - 1) / 2, False, "returned 0.5", id="a float for even n"),
        pytest.param(stub, False, "a majority (quorum_size(n) members)", id="the stub is not yet"),
    ],
)  # fmt: skip
def test_failures_tolerated(answer, passed, says):
    result = check("03-failures-tolerated", answer)
    assert result.passed is passed
    assert says in result.message
