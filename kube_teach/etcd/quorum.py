"""Quorum arithmetic: which index a majority has acknowledged, and who won a vote.

Semantics: etcd-io/raft's `quorum` package (MajorityConfig, JointConfig). Pure functions of
plain collections; voters missing from `match` count as having acknowledged nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from enum import Enum

INFINITE_INDEX = 2**64 - 1
"""What an empty configuration "commits": it never holds back the other half of a joint one."""


class VoteResult(Enum):
    VotePending = "VotePending"  # neither a quorum of yes nor a quorum of no yet
    VoteLost = "VoteLost"
    VoteWon = "VoteWon"


def quorum_size(n: int) -> int:
    """Votes needed among `n` voters: a strict majority, floor(n/2) + 1."""
    return n // 2 + 1


def committed_index(voters: Collection[int], match: Mapping[int, int]) -> int:
    """The largest index that a majority of `voters` has acknowledged (`match[v] >= index`).

    Sort the acknowledged indexes descending; the quorum-th one is on a majority. An empty
    voter set yields INFINITE_INDEX, as upstream.
    """
    n = len(voters)
    if n == 0:
        return INFINITE_INDEX
    acked = sorted((match.get(v, 0) for v in voters), reverse=True)
    return acked[quorum_size(n) - 1]


def vote_result(voters: Collection[int], votes: Mapping[int, bool]) -> VoteResult:
    """Won once a majority of `voters` said yes; lost once a yes-majority is impossible.

    Votes from non-voters are ignored. An empty voter set wins, as upstream.
    """
    if not voters:
        return VoteResult.VoteWon
    yes = missing = 0
    for v in voters:
        vote = votes.get(v)
        if vote is None:
            missing += 1
        elif vote:
            yes += 1
    q = quorum_size(len(voters))
    if yes >= q:
        return VoteResult.VoteWon
    if yes + missing >= q:
        return VoteResult.VotePending
    return VoteResult.VoteLost


def joint_committed_index(
    incoming: Collection[int], outgoing: Collection[int], match: Mapping[int, int]
) -> int:
    """Committed in a joint configuration: committed in both majorities (the smaller index)."""
    return min(committed_index(incoming, match), committed_index(outgoing, match))


def joint_vote_result(
    incoming: Collection[int], outgoing: Collection[int], votes: Mapping[int, bool]
) -> VoteResult:
    """A joint vote is won only if both halves won, lost if either half lost."""
    r1, r2 = vote_result(incoming, votes), vote_result(outgoing, votes)
    if r1 == r2:
        return r1
    if VoteResult.VoteLost in (r1, r2):
        return VoteResult.VoteLost
    return VoteResult.VotePending
