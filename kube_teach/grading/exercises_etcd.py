"""Chapter 03's exercises: the vote-granting rule, the quorum commit index, failures tolerated.

The right answers come from the library itself: a vote is checked against what the Raft core
(kube_teach.etcd.raft) does with the same MsgVote, and the commit index against
kube_teach.etcd.quorum, so the exercises cannot drift from the simulation the chapter runs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from ..etcd.log import Storage
from ..etcd.messages import ConfState, Entry, HardState, MsgVote, MsgVoteResp, Snapshot
from ..etcd.quorum import committed_index, quorum_size
from ..etcd.raft import Config, Raft
from .check import register
from .exercises import _call, _graded

VOTER_ID = 1


@dataclass(frozen=True)
class Voter:
    """What a voter knows when a RequestVote arrives: its current term, whom it voted for in
    that term (0: nobody yet), and the index and term of the last entry in its log."""

    term: int
    vote: int
    last_index: int
    last_term: int


def raft_grants(m: MsgVote, voter: Voter) -> bool:
    """What the Raft core answers: a voter with exactly this state steps `m`, and we read its
    MsgVoteResp. (CheckQuorum and PreVote off, no leader known: the paper's rule alone.)"""
    entries = [Entry(voter.last_term, i) for i in range(1, voter.last_index + 1)]
    storage = Storage(
        hard_state=HardState(voter.term, voter.vote, 0),
        snapshot=Snapshot(conf_state=ConfState(voters=(1, 2, 3, 4, 5))),
        entries=entries,
    )
    config = Config(id=VOTER_ID, check_quorum=False, pre_vote=False)
    raft = Raft(config, storage, rng=random.Random(0))
    raft.step(m)
    replies = [r for r in raft.ready().messages if isinstance(r, MsgVoteResp)]
    return bool(replies) and not replies[0].reject


def _ask(candidate: int, term: int, index: int, log_term: int) -> MsgVote:
    return MsgVote(to=VOTER_ID, from_=candidate, term=term, index=index, log_term=log_term)


# (request, voter, why the answer is what it is), each a rule of the paper's Figure 2 and 5.4.1
_VOTES = [
    (_ask(2, 3, 6, 2), Voter(2, 0, 6, 2), "a newer term and an equal log: grant"),
    (_ask(2, 3, 6, 2), Voter(3, 0, 6, 2), "the same term, no vote cast yet, an equal log: grant"),
    (_ask(2, 3, 6, 2), Voter(3, 2, 6, 2), "a repeat of the vote already given: grant again"),
    (_ask(2, 3, 6, 2), Voter(3, 4, 6, 2), "it already voted for etcd-4 in term 3: one vote a term"),
    (_ask(2, 2, 9, 2), Voter(3, 0, 6, 2), "the candidate's term 2 is older than the voter's 3"),
    (_ask(2, 4, 6, 2), Voter(3, 4, 6, 2), "a newer term clears the vote cast in term 3: grant"),
    (_ask(2, 4, 5, 2), Voter(3, 0, 6, 2), "same last term 2 but a shorter log (5 < 6)"),
    (_ask(2, 4, 3, 3), Voter(3, 0, 6, 2), "a later last term (3 > 2) wins, however short the log"),
    (_ask(2, 4, 9, 2), Voter(3, 0, 6, 3), "a longer log whose last term (2) is older than 3"),
    (_ask(2, 4, 7, 3), Voter(3, 0, 7, 3), "the same last entry: at least as up-to-date, grant"),
    (_ask(2, 1, 0, 0), Voter(0, 0, 0, 0), "a brand-new voter with an empty log: grant"),
]


@register(
    "03-vote",
    hint="replace `raise NotImplementedError` in grant_vote: first compare terms, then the vote "
    "already cast in this term, then whose log is more up-to-date (last term, then length).",
)
@_graded
def vote_exercise(grant_vote: Any) -> str | None:
    """`grant_vote(m, voter) -> bool`: the RequestVote receiver's rule, as the Raft core has it."""
    if not callable(grant_vote):
        return f"pass the function itself: check('03-vote', grant_vote), not {grant_vote!r}."
    for m, voter, why in _VOTES:
        want = raft_grants(m, voter)
        label = (
            f"grant_vote(MsgVote(term={m.term}, from_={m.from_}, index={m.index}, "
            f"log_term={m.log_term}), {voter})"
        )
        got = _call(grant_vote, label, m, voter)
        if not isinstance(got, bool):
            return f"{label} returned {got!r}; return True (grant) or False (reject)."
        if got != want:
            verdict = "grant" if want else "reject"
            return f"{label} returned {got}, but the voter must {verdict}: {why}."
    return None


# (voters, match) cases; more come from a seeded stream, the same on every run
_COMMITS = [
    ({1, 2, 3}, {1: 5, 2: 5, 3: 5}),
    ({1, 2, 3}, {1: 7, 2: 5, 3: 2}),
    ({1, 2, 3}, {1: 7}),
    ({1, 2, 3, 4, 5}, {1: 9, 2: 9, 3: 4, 4: 4, 5: 4}),
    ({1, 2, 3, 4, 5}, {1: 12, 2: 3, 3: 11, 4: 2, 5: 10}),
    ({1, 2, 3, 4}, {1: 8, 2: 8, 3: 6, 4: 6}),
    ({1}, {1: 4}),
    ({1, 2, 3}, {1: 6, 2: 2, 3: 2, 8: 100, 9: 100}),
]


def _commit_cases() -> list[tuple[set[int], dict[int, int]]]:
    rng = random.Random("03-commit-index")
    cases = [(set(v), dict(m)) for v, m in _COMMITS]
    for _ in range(40):
        voters = set(rng.sample(range(1, 8), rng.randint(1, 7)))
        match = {v: rng.randint(0, 20) for v in sorted(voters) if rng.random() < 0.85}
        cases.append((voters, match))
    return cases


@register(
    "03-commit-index",
    hint="replace `raise NotImplementedError` in commit_index: sort the voters' match indexes "
    "highest first (a voter missing from match has 0); the quorum-th one is on a majority.",
)
@_graded
def commit_index_exercise(commit_index: Any) -> str | None:
    """`commit_index(voters, match) -> int`: the largest index a majority of `voters` has."""
    if not callable(commit_index):
        return (
            f"pass the function itself: check('03-commit-index', commit_index), "
            f"not {commit_index!r}."
        )
    for voters, match in _commit_cases():
        want = committed_index(voters, match)
        given_v, given_m = set(voters), dict(match)
        label = f"commit_index({sorted(voters)}, {match})"
        got = _call(commit_index, label, given_v, given_m)
        if (given_v, given_m) != (voters, match):
            return f"{label} changed its arguments: only read them."
        if got != want:
            q = quorum_size(len(voters))
            extra = ""
            if any(v not in voters for v in match):
                extra = " Only voters count: an ack from a non-voter is ignored."
            elif any(v not in match for v in voters):
                extra = " A voter missing from match has acknowledged nothing (0)."
            return (
                f"{label} returned {got!r}, but {want} is the largest index that "
                f"{q} of the {len(voters)} voters have.{extra}"
            )
    return None


@register(
    "03-failures-tolerated",
    hint="replace `raise NotImplementedError` in failures_tolerated: a cluster keeps working "
    "while a majority (quorum_size(n) members) is up.",
)
@_graded
def failures_exercise(failures_tolerated: Any) -> str | None:
    """`failures_tolerated(n) -> int`: members an n-member cluster can lose and keep a quorum."""
    if not callable(failures_tolerated):
        return (
            f"pass the function itself: check('03-failures-tolerated', failures_tolerated), "
            f"not {failures_tolerated!r}."
        )
    for n in range(1, 10):
        want = n - quorum_size(n)
        got = _call(failures_tolerated, f"failures_tolerated({n})", n)
        if got != want:
            return (
                f"failures_tolerated({n}) returned {got!r}, but a {n}-member cluster needs "
                f"{_plural(quorum_size(n), 'member')} for a quorum, so it survives "
                f"{_plural(want, 'failure')}."
            )
    return None


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


__all__ = ["Voter", "raft_grants"]
