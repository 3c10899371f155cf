"""The Raft core, one call at a time: scenarios of etcd-io/raft's raft_paper_test.go and
raft_test.go, driven through a synchronous in-memory network as upstream's tests are.

Unless a test says otherwise, nodes run as upstream's tests configure them: ElectionTick 10,
HeartbeatTick 1, PreVote and CheckQuorum off. Some tests set internal state directly (the
`_become_*` transitions, progress fields), as upstream's white-box tests do.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import replace

import pytest

from kube_teach.etcd.log import LogCorruption, Storage
from kube_teach.etcd.messages import (
    CAMPAIGN_TRANSFER,
    NONE,
    ConfChange,
    ConfChangeType,
    ConfState,
    Entry,
    EntryType,
    HardState,
    Message,
    MsgApp,
    MsgAppResp,
    MsgBeat,
    MsgHeartbeat,
    MsgHeartbeatResp,
    MsgHup,
    MsgPreVote,
    MsgProp,
    MsgReadIndex,
    MsgSnap,
    MsgSnapStatus,
    MsgTimeoutNow,
    MsgTransferLeader,
    MsgUnreachable,
    MsgVote,
    MsgVoteResp,
    Snapshot,
)
from kube_teach.etcd.raft import (
    Config,
    ProgressState,
    ProposalDropped,
    Raft,
    ReadOnlyOption,
    ReadState,
    StateType,
)

Follower = StateType.StateFollower
Candidate = StateType.StateCandidate
PreCandidate = StateType.StatePreCandidate
Leader = StateType.StateLeader

TEST_DEFAULTS = dict(
    election_tick=10,
    heartbeat_tick=1,
    pre_vote=False,
    check_quorum=False,
    max_inflight_msgs=256,
    max_size_per_msg=2**62,
)


# -- helpers ----------------------------------------------------------------------------------
def ents(*terms: int, start: int = 1, data: bytes = b"") -> list[Entry]:
    """Entries with the given terms at consecutive indexes from `start`."""
    return [Entry(t, i, data=data) for i, t in enumerate(terms, start=start)]


def new_raft(
    node_id: int,
    peers=(1, 2, 3),
    *,
    learners=(),
    entries=(),
    hard_state: HardState | None = None,
    snapshot: Snapshot | None = None,
    seed: int = 0,
    **options,
) -> Raft:
    snap = snapshot or Snapshot(conf_state=ConfState(tuple(peers), tuple(learners)))
    storage = Storage(hard_state=hard_state or HardState(), snapshot=snap, entries=list(entries))
    cfg = Config(id=node_id, **{**TEST_DEFAULTS, **options})
    return Raft(cfg, storage, rng=random.Random(f"{seed}/{node_id}"))


READS: dict[int, list[ReadState]] = {}


def read(r: Raft) -> list[Message]:
    """Everything the core wants to send now (persisting and applying are taken as done).
    Read states handed over on the way are kept in READS[r.id] for the test to inspect."""
    rd = r.ready()
    r.advance(rd)
    if rd.read_states:
        READS.setdefault(r.id, []).extend(rd.read_states)
    return list(rd.messages)


@pytest.fixture(autouse=True)
def _fresh_reads():
    READS.clear()


def set_option(r: Raft, **changes) -> None:
    r.config = replace(r.config, **changes)


def elect(r: Raft) -> None:
    """Make `r` leader without a network (candidate, then leader), as upstream tests do."""
    r._become_candidate()
    r._become_leader()


def accept_and_reply(m: MsgApp) -> MsgAppResp:
    return MsgAppResp(to=m.from_, from_=m.to, term=m.term, index=m.index + len(m.entries))


def commit_noop(r: Raft) -> None:
    """Have every follower accept the leader's no-op, then settle the Ready."""
    r._bcast_append()
    for m in read(r):
        assert isinstance(m, MsgApp) and len(m.entries) == 1 and m.entries[0].data == b""
        r.step(accept_and_reply(m))
    read(r)


def log_terms(r: Raft) -> list[int]:
    return [e.term for e in r.log.entries]


BLACK_HOLE = object()


class Peer:
    """How Net builds a node: entries (terms) and/or a hard state, with the network's peers."""

    def __init__(self, *terms: int, vote: int = NONE, term: int | None = None):
        self.terms, self.vote, self.term = terms, vote, term

    def build(self, node_id: int, peers, options) -> Raft:
        term = self.term if self.term is not None else (self.terms[-1] if self.terms else 0)
        hs = HardState(term=term, vote=self.vote)
        return new_raft(node_id, peers, entries=ents(*self.terms), hard_state=hs, **options)


def voted(vote: int, term: int) -> Peer:
    return Peer(vote=vote, term=term)


class Net:
    """Delivers messages at once, breadth first, like upstream's test `network`.

    Peers are None (a fresh node), BLACK_HOLE (swallows everything), a Peer recipe, or a Raft
    built by the test. Drops are by (from, to) with a probability; `ignore` drops a type.
    """

    def __init__(self, *specs, seed: int = 0, **options):
        ids = list(range(1, len(specs) + 1))
        self.peers: dict[int, object] = {}
        for i, spec in zip(ids, specs, strict=True):
            if spec is None:
                spec = Peer()
            self.peers[i] = spec.build(i, ids, options) if isinstance(spec, Peer) else spec
        self.dropm: dict[tuple[int, int], float] = {}
        self.ignorem: set[type] = set()
        self.hook = None
        self.rng = random.Random(seed)

    def __getitem__(self, i: int) -> Raft:
        return self.peers[i]  # type: ignore[return-value]

    def send(self, *msgs: Message) -> None:
        queue = deque(msgs)
        while queue:
            m = queue.popleft()
            p = self.peers.get(m.to)
            if not isinstance(p, Raft):
                continue
            try:
                p.step(m)
            except ProposalDropped:
                pass
            queue.extend(self.filter(read(p)))

    def hup(self, i: int) -> None:
        self.send(MsgHup(to=i, from_=i))

    def propose(self, i: int, data: bytes = b"somedata") -> None:
        self.send(MsgProp(to=i, from_=i, entries=(Entry(0, 0, data=data),)))

    def beat(self, i: int) -> None:
        self.send(MsgBeat(to=i, from_=i))

    def filter(self, msgs):
        out = []
        for m in msgs:
            if type(m) in self.ignorem:
                continue
            perc = self.dropm.get((m.from_, m.to), 0.0)
            if perc and self.rng.random() < perc:
                continue
            if self.hook is not None and not self.hook(m):
                continue
            out.append(m)
        return out

    def drop(self, frm: int, to: int, perc: float) -> None:
        self.dropm[frm, to] = perc

    def cut(self, a: int, b: int) -> None:
        self.drop(a, b, 2.0)
        self.drop(b, a, 2.0)

    def isolate(self, i: int) -> None:
        for j in self.peers:
            if j != i:
                self.drop(i, j, 1.0)
                self.drop(j, i, 1.0)

    def ignore(self, t: type) -> None:
        self.ignorem.add(t)

    def recover(self) -> None:
        self.dropm = {}
        self.ignorem = set()


# -- the paper, section 5: terms, elections --------------------------------------------------
@pytest.mark.parametrize("state", [Follower, Candidate, Leader])
def test_a_higher_term_message_makes_any_node_a_follower_of_that_term(state):
    r = new_raft(1)
    if state is Follower:
        r._become_follower(1, 2)
    elif state is Candidate:
        r._become_candidate()
    else:
        elect(r)
    r.step(MsgApp(from_=2, to=1, term=2))
    assert (r.term, r.state, r.lead) == (2, Follower, 2)


def test_a_stale_term_message_is_ignored():
    r = new_raft(1, hard_state=HardState(term=2))
    r.step(MsgApp(from_=2, to=1, term=1, index=0, log_term=0, entries=tuple(ents(1))))
    assert r.log.last_index() == 0 and r.term == 2 and read(r) == []


def test_nodes_start_as_followers():
    assert new_raft(1).state is Follower


def test_leader_sends_heartbeats_every_heartbeat_tick():
    r = new_raft(1)
    elect(r)
    for i in range(10):
        r._append_entries([Entry(0, 0, data=b"x%d" % i)])
    read(r)
    r.tick()
    assert sorted(read(r), key=lambda m: m.to) == [
        MsgHeartbeat(from_=1, to=2, term=1, commit=0),
        MsgHeartbeat(from_=1, to=3, term=1, commit=0),
    ]


@pytest.mark.parametrize("state", [Follower, Candidate])
def test_nonleader_starts_an_election_after_the_election_timeout(state):
    r = new_raft(1)
    if state is Follower:
        r._become_follower(1, 2)
    else:
        r._become_candidate()
    for _ in range(1, 2 * 10):
        r.tick()
    assert (r.term, r.state, r.votes[1]) == (2, Candidate, True)
    assert sorted(read(r), key=lambda m: m.to) == [
        MsgVote(from_=1, to=2, term=2, index=0, log_term=0),
        MsgVote(from_=1, to=3, term=2, index=0, log_term=0),
    ]


@pytest.mark.parametrize(
    ("size", "votes", "want"),
    [
        pytest.param(1, {}, Leader, id="a single node wins alone"),
        pytest.param(3, {2: True, 3: True}, Leader, id="3 nodes, 2 grants"),
        pytest.param(3, {2: True}, Leader, id="3 nodes, 1 grant is a majority with self"),
        pytest.param(5, {2: True, 3: True, 4: True, 5: True}, Leader, id="5 nodes, 4 grants"),
        pytest.param(5, {2: True, 3: True}, Leader, id="5 nodes, 2 grants"),
        pytest.param(3, {2: False, 3: False}, Follower, id="3 nodes, 2 rejections"),
        pytest.param(
            5, {2: True, 3: False, 4: False, 5: False}, Follower, id="5 nodes, 3 rejections"
        ),
        pytest.param(3, {}, Candidate, id="3 nodes, no answer yet"),
        pytest.param(5, {2: True}, Candidate, id="5 nodes, 1 grant"),
        pytest.param(5, {2: False, 3: False}, Candidate, id="5 nodes, 2 rejections"),
    ],
)
def test_leader_election_in_one_round_of_votes(size, votes, want):
    r = new_raft(1, range(1, size + 1))
    r.campaign()
    for voter, granted in votes.items():
        r.step(MsgVoteResp(from_=voter, to=1, term=r.term, reject=not granted))
    assert (r.state, r.term) == (want, 1)


@pytest.mark.parametrize(
    ("vote", "candidate", "reject"),
    [
        (NONE, 2, False),
        (NONE, 3, False),
        (2, 2, False),
        (3, 3, False),
        (2, 3, True),
        (3, 2, True),
    ],
)
def test_a_follower_votes_at_most_once_per_term(vote, candidate, reject):
    r = new_raft(1, hard_state=HardState(term=1, vote=vote))
    r.step(MsgVote(from_=candidate, to=1, term=1))
    assert read(r) == [MsgVoteResp(from_=1, to=candidate, term=1, reject=reject)]


@pytest.mark.parametrize("term", [1, 2])
def test_a_candidate_concedes_to_a_leader_of_its_term_or_later(term):
    r = new_raft(1)
    r.campaign()
    assert r.state is Candidate
    r.step(MsgApp(from_=2, to=1, term=term))
    assert (r.state, r.term) == (Follower, term)


@pytest.mark.parametrize("state", [Follower, Candidate])
def test_election_timeouts_cover_et_to_2et_minus_1(state):
    """etcd-io/raft draws the timeout uniformly from [ET, 2ET-1] at every reset."""
    r = new_raft(1)
    seen = set()
    for _ in range(500):
        if state is Follower:
            r._become_follower(r.term + 1, 2)
        else:
            r._become_candidate()
        read(r)
        ticks = 0
        while not read(r):
            r.tick()
            ticks += 1
        seen.add(ticks)
    assert seen == set(range(10, 20))


@pytest.mark.parametrize("state", [Follower, Candidate])
def test_randomized_timeouts_rarely_collide(state):
    rs = [new_raft(i, range(1, 6)) for i in range(1, 6)]
    conflicts = 0
    for _ in range(1000):
        for r in rs:
            if state is Follower:
                r._become_follower(r.term + 1, NONE)
            else:
                r._become_candidate()
            read(r)
        fired = 0
        while fired == 0:
            for r in rs:
                r.tick()
                if read(r):
                    fired += 1
        conflicts += fired > 1
    assert conflicts / 1000 <= 0.3


# -- the paper, section 5.3: log replication ------------------------------------------------
def test_leader_replicates_a_proposal_to_every_follower():
    r = new_raft(1)
    elect(r)
    commit_noop(r)
    li = r.log.last_index()
    r.propose(b"some data")
    assert (r.log.last_index(), r.log.committed) == (li + 1, li)
    want = (Entry(1, li + 1, data=b"some data"),)
    assert sorted(read(r), key=lambda m: m.to) == [
        MsgApp(from_=1, to=2, term=1, index=li, log_term=1, entries=want, commit=li),
        MsgApp(from_=1, to=3, term=1, index=li, log_term=1, entries=want, commit=li),
    ]


def test_leader_commits_once_a_majority_acknowledges_and_tells_followers():
    r = new_raft(1)
    elect(r)
    commit_noop(r)
    li = r.log.last_index()
    r.propose(b"some data")
    for m in read(r):
        r.step(accept_and_reply(m))
    assert r.log.committed == li + 1
    rd = r.ready()
    assert rd.committed_entries == (Entry(1, li + 1, data=b"some data"),)
    assert [(m.to, m.type, m.commit) for m in rd.messages] == [
        (2, "MsgApp", li + 1),
        (3, "MsgApp", li + 1),
    ]


@pytest.mark.parametrize(
    ("size", "acceptors", "committed"),
    [
        (1, set(), True),
        (3, set(), False),
        (3, {2}, True),
        (3, {2, 3}, True),
        (5, set(), False),
        (5, {2}, False),
        (5, {2, 3}, True),
        (5, {2, 3, 4}, True),
        (5, {2, 3, 4, 5}, True),
    ],
)
def test_leader_acknowledges_commit_only_with_a_majority(size, acceptors, committed):
    r = new_raft(1, range(1, size + 1))
    elect(r)
    commit_noop(r)
    li = r.log.last_index()
    r.propose(b"some data")
    for m in read(r):
        if m.to in acceptors:
            r.step(accept_and_reply(m))
    assert (r.log.committed > li) == committed


@pytest.mark.parametrize(
    "previous",
    [[], [Entry(2, 1)], [Entry(1, 1), Entry(2, 2)], [Entry(1, 1)]],
    ids=["empty log", "one term-2 entry", "terms 1 and 2", "one term-1 entry"],
)
def test_leader_commits_preceding_entries_with_its_own(previous):
    r = new_raft(1, entries=previous, hard_state=HardState(term=2))
    elect(r)
    r.propose(b"some data")
    for m in read(r):
        r.step(accept_and_reply(m))
    li = len(previous)
    want = [*previous, Entry(3, li + 1), Entry(3, li + 2, data=b"some data")]
    assert list(r.ready().committed_entries) == want


@pytest.mark.parametrize(
    ("entries", "commit"),
    [
        ([Entry(1, 1, data=b"a")], 1),
        ([Entry(1, 1, data=b"a"), Entry(1, 2, data=b"b")], 2),
        ([Entry(1, 1, data=b"b"), Entry(1, 2, data=b"a")], 2),
        ([Entry(1, 1, data=b"a"), Entry(1, 2, data=b"b")], 1),
    ],
)
def test_follower_commits_what_the_leader_says_is_committed(entries, commit):
    r = new_raft(1)
    r._become_follower(1, 2)
    r.step(MsgApp(from_=2, to=1, term=1, entries=tuple(entries), commit=commit))
    assert r.log.committed == commit
    assert list(r.ready().committed_entries) == entries[:commit]


@pytest.mark.parametrize(
    ("log_term", "index", "want"),
    [
        pytest.param(0, 0, MsgAppResp(index=1), id="match at the empty prefix"),
        pytest.param(1, 1, MsgAppResp(index=1), id="match at (1, 1)"),
        pytest.param(2, 2, MsgAppResp(index=2), id="match at (2, 2)"),
        pytest.param(
            1, 2, MsgAppResp(index=2, reject=True, reject_hint=1, log_term=1), id="term mismatch"
        ),
        pytest.param(
            3, 3, MsgAppResp(index=3, reject=True, reject_hint=2, log_term=2), id="beyond the log"
        ),
    ],
)
def test_follower_consistency_check(log_term, index, want):
    """raft_tests.md 40: log [(1,1),(2,2)], commit 1; rejections carry a (hint, term)."""
    r = new_raft(1, entries=ents(1, 2), hard_state=HardState(commit=1))
    r._become_follower(2, 2)
    r.step(MsgApp(from_=2, to=1, term=2, log_term=log_term, index=index))
    assert read(r) == [replace(want, from_=1, to=2, term=2)]


@pytest.mark.parametrize(
    ("index", "term", "entries", "want_terms", "want_unstable"),
    [
        pytest.param(2, 2, ents(3, start=3), [1, 2, 3], [3], id="append after the last entry"),
        pytest.param(1, 1, ents(3, 4, start=2), [1, 3, 4], [3, 4], id="a conflict truncates"),
        pytest.param(0, 0, ents(1), [1, 2], [], id="a matching prefix truncates nothing"),
        pytest.param(0, 0, ents(3), [3], [3], id="a conflict at index 1 replaces the log"),
    ],
)
def test_follower_append_entries(index, term, entries, want_terms, want_unstable):
    """raft_tests.md 41."""
    r = new_raft(1, entries=ents(1, 2))
    r._become_follower(2, 2)
    r.step(MsgApp(from_=2, to=1, term=2, log_term=term, index=index, entries=tuple(entries)))
    assert log_terms(r) == want_terms
    assert [e.term for e in r.log.unstable_entries()] == want_unstable


@pytest.mark.parametrize(
    "follower_terms",
    [
        pytest.param([1, 1, 1, 4, 4, 5, 5, 6, 6], id="a: missing one entry"),
        pytest.param([1, 1, 1, 4], id="b: missing many"),
        pytest.param([1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6], id="c: one extra entry"),
        pytest.param([1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7], id="d: extra term-7 entries"),
        pytest.param([1, 1, 1, 4, 4, 4, 4], id="e: extra term-4 entries, missing others"),
        pytest.param([1, 1, 2, 2, 2, 3, 3, 3, 3, 3], id="f: divergent terms 2 and 3"),
    ],
)
def test_figure_7_a_new_leader_brings_every_follower_log_in_line(follower_terms):
    """raft_tests.md 42: leader of term 8 with log terms [1,1,1,4,4,5,5,6,6,6]."""
    leader_terms = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6]
    lead = new_raft(1, entries=ents(*leader_terms), hard_state=HardState(term=7, commit=10))
    follower = new_raft(2, entries=ents(*follower_terms), hard_state=HardState(term=6))
    nt = Net(lead, follower, BLACK_HOLE)
    nt.hup(1)
    nt.send(MsgVoteResp(from_=3, to=1, term=8))
    assert lead.state is Leader and lead.term == 8
    nt.propose(1, b"")
    assert lead.log.entries == follower.log.entries


@pytest.mark.parametrize(("entries", "want_term"), [(ents(1), 2), (ents(1, 2), 3)])
def test_vote_requests_carry_the_last_log_entry(entries, want_term):
    r = new_raft(1)
    r.step(MsgApp(from_=2, to=1, term=want_term - 1, entries=tuple(entries)))
    read(r)
    for _ in range(1, 20):
        r.tick()
    msgs = sorted(read(r), key=lambda m: m.to)
    last = entries[-1]
    assert [(m.type, m.to, m.term, m.index, m.log_term) for m in msgs] == [
        ("MsgVote", 2, want_term, last.index, last.term),
        ("MsgVote", 3, want_term, last.index, last.term),
    ]


@pytest.mark.parametrize(
    ("voter_terms", "log_term", "index", "reject"),
    [
        pytest.param([1], 1, 1, False, id="same last entry"),
        pytest.param([1], 1, 2, False, id="same last term, candidate longer"),
        pytest.param([1, 1], 1, 1, True, id="same last term, candidate shorter"),
        pytest.param([1], 2, 1, False, id="candidate's later last term wins"),
        pytest.param([1], 2, 2, False, id="later last term, longer"),
        pytest.param([1, 1], 2, 1, False, id="later last term wins even if shorter"),
        pytest.param([2], 1, 1, True, id="voter's later last term"),
        pytest.param([2], 1, 2, True, id="voter's later last term beats a longer log"),
        pytest.param([2, 2], 1, 1, True, id="voter later and longer"),
    ],
)
def test_the_up_to_date_rule(voter_terms, log_term, index, reject):
    """raft_tests.md 32 (TestVoter)."""
    r = new_raft(1, (1, 2), entries=ents(*voter_terms))
    r.step(MsgVote(from_=2, to=1, term=3, log_term=log_term, index=index))
    msgs = read(r)
    assert [(m.type, m.reject) for m in msgs] == [("MsgVoteResp", reject)]


@pytest.mark.parametrize(("acked", "commit"), [(1, 0), (2, 0), (3, 3)])
def test_leader_only_commits_entries_of_its_current_term_by_counting(acked, commit):
    """raft_tests.md 45: a majority ack of an old-term entry commits nothing."""
    r = new_raft(1, (1, 2), entries=ents(1, 2), hard_state=HardState(term=2))
    elect(r)
    read(r)
    r.propose(b"")
    r.step(MsgAppResp(from_=2, to=1, term=r.term, index=acked))
    assert r.log.committed == commit


# -- elections (raft_test.go) ---------------------------------------------------------------
@pytest.mark.parametrize("pre_vote", [False, True])
@pytest.mark.parametrize(
    ("peers", "want", "want_term"),
    [
        pytest.param((None, None, None), Leader, 1, id="3 up"),
        pytest.param((None, None, BLACK_HOLE), Leader, 1, id="3, one dead"),
        pytest.param((None, BLACK_HOLE, BLACK_HOLE), Candidate, 1, id="3, two dead"),
        pytest.param((None, BLACK_HOLE, BLACK_HOLE, None), Candidate, 1, id="4, two dead"),
        pytest.param((None, BLACK_HOLE, BLACK_HOLE, None, None), Leader, 1, id="5, two dead"),
        pytest.param(
            (None, Peer(1), Peer(1), Peer(1, 1), None), Follower, 1, id="3 of 5 longer logs"
        ),
    ],
)
def test_leader_election(peers, want, want_term, pre_vote):
    """raft_tests.md 30. With PreVote a failed election stays pre-candidate at term 0."""
    nt = Net(*peers, pre_vote=pre_vote)
    nt.hup(1)
    if pre_vote and want is Candidate:
        want, want_term = PreCandidate, 0
    assert (nt[1].state, nt[1].term) == (want, want_term)


@pytest.mark.parametrize("pre_vote", [False, True])
def test_leader_cycle_every_up_to_date_node_can_win(pre_vote):
    """raft_tests.md 34."""
    nt = Net(None, None, None, pre_vote=pre_vote)
    for campaigner in (1, 2, 3):
        nt.hup(campaigner)
        for i in (1, 2, 3):
            assert nt[i].state is (Leader if i == campaigner else Follower)


@pytest.mark.parametrize("pre_vote", [False, True])
def test_a_new_leader_overwrites_newer_uncommitted_logs(pre_vote):
    """raft_tests.md 35: node 3's term-2 entry was never committed and disappears."""
    nt = Net(Peer(1), Peer(1), Peer(2), voted(3, 2), voted(3, 2), pre_vote=pre_vote)
    nt.hup(1)
    assert (nt[1].state, nt[1].term) == (Follower, 2)
    nt.hup(1)
    assert (nt[1].state, nt[1].term) == (Leader, 3)
    for i in range(1, 6):
        assert log_terms(nt[i]) == [1, 3]


@pytest.mark.parametrize("pre_vote", [False, True])
def test_votes_are_granted_from_any_state_for_a_higher_term(pre_vote):
    vt = MsgPreVote if pre_vote else MsgVote
    for state in (Follower, PreCandidate, Candidate, Leader):
        r = new_raft(1)
        r.term = 1
        if state is Follower:
            r._become_follower(r.term, 3)
        elif state is PreCandidate:
            r._become_pre_candidate()
        elif state is Candidate:
            r._become_candidate()
        else:
            elect(r)
        read(r)
        orig_term, new_term = r.term, r.term + 1
        r.step(vt(from_=2, to=1, term=new_term, log_term=new_term, index=42))
        msgs = read(r)
        assert [(m.type, m.term, m.reject) for m in msgs] == [
            (vt.__name__ + "Resp", new_term, False)
        ]
        if pre_vote:
            assert (r.state, r.term) == (state, orig_term)
        else:
            assert (r.state, r.term, r.vote) == (Follower, new_term, 2)


def test_log_replication_across_leaders():
    nt = Net(None, None, None)
    nt.hup(1)
    nt.propose(1, b"somedata")
    nt.hup(2)
    nt.propose(2, b"somedata")
    for i in (1, 2, 3):
        assert nt[i].log.committed == 4
        assert [e.data for e in nt[i].log.entries if e.data] == [b"somedata", b"somedata"]


def test_single_node_elects_itself_and_commits_alone():
    """raft_tests.md 37."""
    nt = Net(None)
    nt.hup(1)
    assert nt[1].state is Leader
    nt.propose(1, b"some data")
    nt.propose(1, b"some data")
    assert nt[1].log.committed == 3


@pytest.mark.parametrize("pre_vote", [False, True])
def test_single_node_pre_candidate_goes_straight_to_leader(pre_vote):
    nt = Net(None, pre_vote=pre_vote)
    nt.hup(1)
    assert nt[1].state is Leader


def test_cannot_commit_without_an_entry_of_the_new_term():
    """raft_tests.md 44 (TestCannotCommitWithoutNewTermEntry)."""
    nt = Net(None, None, None, None, None)
    nt.hup(1)
    for i in (3, 4, 5):
        nt.cut(1, i)
    nt.propose(1, b"some data")
    nt.propose(1, b"some data")
    assert nt[1].log.committed == 1
    nt.recover()
    nt.ignore(MsgApp)
    nt.hup(2)  # node 2 has the two entries, so it can win
    assert nt[2].state is Leader and nt[2].log.committed == 1
    nt.recover()
    nt.beat(2)
    nt.propose(2, b"some data")
    assert nt[2].log.committed == 5


def test_the_new_leaders_noop_commits_old_entries():
    """TestCommitWithoutNewTermEntry: no proposal is needed, the no-op suffices."""
    nt = Net(None, None, None, None, None)
    nt.hup(1)
    for i in (3, 4, 5):
        nt.cut(1, i)
    nt.propose(1, b"some data")
    nt.propose(1, b"some data")
    assert nt[1].log.committed == 1
    nt.recover()
    nt.hup(2)
    assert nt[1].log.committed == 4


def test_dueling_candidates():
    """raft_tests.md 36."""
    nt = Net(None, None, None)
    nt.cut(1, 3)
    nt.hup(1)
    nt.hup(3)
    assert (nt[1].state, nt[3].state) == (Leader, Candidate)
    nt.recover()
    # 3 campaigns at a higher term: it disrupts 1 but cannot win with its shorter log.
    nt.hup(3)
    assert [(nt[i].state, nt[i].term, nt[i].log.last_index()) for i in (1, 2, 3)] == [
        (Follower, 2, 1),
        (Follower, 2, 1),
        (Follower, 2, 0),
    ]


def test_dueling_pre_candidates_disrupt_nothing():
    nt = Net(None, None, None, pre_vote=True)
    nt.cut(1, 3)
    nt.hup(1)
    nt.hup(3)
    assert (nt[1].state, nt[3].state) == (Leader, Follower)
    nt.recover()
    nt.hup(3)
    assert [(nt[i].state, nt[i].term, nt[i].log.last_index()) for i in (1, 2, 3)] == [
        (Leader, 1, 1),
        (Follower, 1, 1),
        (Follower, 1, 0),
    ]


def test_candidate_concedes_after_a_partition_heals():
    """raft_tests.md 37 (TestCandidateConcede)."""
    nt = Net(None, None, None)
    nt.isolate(1)
    nt.hup(1)
    nt.hup(3)
    nt.recover()
    nt.beat(3)
    nt.propose(3, b"force follower")
    nt.beat(3)
    assert (nt[1].state, nt[1].term) == (Follower, 1)
    for i in (1, 2, 3):
        assert [e.data for e in nt[i].log.entries] == [b"", b"force follower"]


def test_old_messages_are_ignored():
    """raft_tests.md 38: an AppendEntries of term 2 reaching the term-3 leader changes nothing."""
    nt = Net(None, None, None)
    nt.hup(1)
    nt.hup(2)
    nt.hup(1)
    nt.send(MsgApp(from_=2, to=1, term=2, entries=(Entry(2, 3),)))
    nt.propose(1, b"somedata")
    for i in (1, 2, 3):
        assert [(e.term, e.data) for e in nt[i].log.entries] == [
            (1, b""),
            (2, b""),
            (3, b""),
            (3, b"somedata"),
        ]


@pytest.mark.parametrize(
    ("peers", "success"),
    [
        ((None, None, None), True),
        ((None, None, BLACK_HOLE), True),
        ((None, BLACK_HOLE, BLACK_HOLE), False),
        ((None, BLACK_HOLE, BLACK_HOLE, None), False),
        ((None, BLACK_HOLE, BLACK_HOLE, None, None), True),
    ],
    ids=["3 up", "3, one dead", "3, two dead", "4, two dead", "5, two dead"],
)
def test_proposals_commit_only_with_a_quorum(peers, success):
    """raft_tests.md 39."""
    nt = Net(*peers)
    nt.hup(1)
    nt.propose(1, b"somedata")
    want = [(1, b""), (1, b"somedata")] if success else []
    for r in nt.peers.values():
        if isinstance(r, Raft):
            got = [(e.term, e.data) for e in r.log.entries if e.index <= r.log.committed]
            assert got == want
    assert nt[1].term == 1


@pytest.mark.parametrize("peers", [(None, None, None), (None, None, BLACK_HOLE)])
def test_a_follower_forwards_proposals_to_the_leader(peers):
    nt = Net(*peers)
    nt.hup(1)
    nt.propose(2, b"somedata")
    for r in nt.peers.values():
        if isinstance(r, Raft):
            assert [(e.term, e.data) for e in r.log.entries] == [(1, b""), (1, b"somedata")]
            assert r.log.committed == 2


def test_proposals_without_a_leader_are_dropped():
    r = new_raft(1)
    with pytest.raises(ProposalDropped):
        r.propose(b"x")
    r._become_candidate()
    with pytest.raises(ProposalDropped):
        r.propose(b"x")


# -- the commit rule -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("matches", "terms", "leader_term", "want"),
    [
        ([1], [1], 1, 1),
        ([1], [1], 2, 0),
        ([2], [1, 2], 2, 2),
        ([1], [2], 2, 1),
        ([2, 1, 1], [1, 2], 1, 1),
        ([2, 1, 1], [1, 1], 2, 0),
        ([2, 1, 2], [1, 2], 2, 2),
        ([2, 1, 2], [1, 1], 2, 0),
        ([2, 1, 1, 1], [1, 2], 1, 1),
        ([2, 1, 1, 1], [1, 1], 2, 0),
        ([2, 1, 1, 2], [1, 2], 1, 1),
        ([2, 1, 1, 2], [1, 1], 2, 0),
        ([2, 1, 2, 2], [1, 2], 2, 2),
        ([2, 1, 2, 2], [1, 1], 2, 0),
    ],
)
def test_commit_is_the_quorum_index_only_if_of_the_current_term(matches, terms, leader_term, want):
    """raft_tests.md 43 (TestCommit)."""
    r = new_raft(1, (1,), entries=ents(*terms), hard_state=HardState(term=leader_term))
    for j in range(2, len(matches) + 1):
        r.apply_conf_change(ConfChange(ConfChangeType.ConfChangeAddNode, j))
    for j, m in enumerate(matches, start=1):
        r.progress[j].match, r.progress[j].next = m, m + 1
    r._maybe_commit()
    assert r.log.committed == want


@pytest.mark.parametrize(
    ("m", "want_last", "want_commit", "reject"),
    [
        (MsgApp(term=2, log_term=3, index=2, commit=3), 2, 0, True),
        (MsgApp(term=2, log_term=3, index=3, commit=3), 2, 0, True),
        (MsgApp(term=2, log_term=1, index=1, commit=1), 2, 1, False),
        (MsgApp(term=2, log_term=0, index=0, commit=1, entries=(Entry(2, 1),)), 1, 1, False),
        (
            MsgApp(term=2, log_term=2, index=2, commit=3, entries=tuple(ents(2, 2, start=3))),
            4,
            3,
            False,
        ),
        (MsgApp(term=2, log_term=2, index=2, commit=4, entries=(Entry(2, 3),)), 3, 3, False),
        (MsgApp(term=2, log_term=1, index=1, commit=4, entries=(Entry(2, 2),)), 2, 2, False),
        (MsgApp(term=1, log_term=1, index=1, commit=3), 2, 1, False),
        (MsgApp(term=1, log_term=1, index=1, commit=3, entries=(Entry(2, 2),)), 2, 2, False),
        (MsgApp(term=2, log_term=2, index=2, commit=3), 2, 2, False),
        (MsgApp(term=2, log_term=2, index=2, commit=4), 2, 2, False),
    ],
)
def test_handle_append_entries(m, want_last, want_commit, reject):
    r = new_raft(1, (1,), entries=ents(1, 2))
    r._become_follower(2, NONE)
    r._handle_append_entries(replace(m, from_=2, to=1))
    assert (r.log.last_index(), r.log.committed) == (want_last, want_commit)
    msgs = read(r)
    assert len(msgs) == 1 and msgs[0].reject == reject


@pytest.mark.parametrize(("commit", "want"), [(3, 3), (1, 2)])
def test_heartbeats_raise_but_never_lower_the_commit_index(commit, want):
    r = new_raft(1, (1, 2), entries=ents(1, 2, 3), election_tick=5)
    r._become_follower(2, 2)
    r.log.commit_to(2)
    r._handle_heartbeat(MsgHeartbeat(from_=2, to=1, term=2, commit=commit))
    assert r.log.committed == want
    assert [m.type for m in read(r)] == ["MsgHeartbeatResp"]


def test_heartbeat_responses_prompt_appends_until_the_follower_caught_up():
    r = new_raft(1, (1, 2), entries=ents(1, 2, 3), election_tick=5)
    elect(r)
    r.log.commit_to(r.log.last_index())
    read(r)
    r.step(MsgHeartbeatResp(from_=2, to=1, term=r.term))
    msgs = read(r)
    assert [m.type for m in msgs] == ["MsgApp"]
    r.step(MsgHeartbeatResp(from_=2, to=1, term=r.term))
    msgs = read(r)
    assert [m.type for m in msgs] == ["MsgApp"]
    r.step(MsgAppResp(from_=2, to=1, term=r.term, index=msgs[0].index + len(msgs[0].entries)))
    read(r)
    r.step(MsgHeartbeatResp(from_=2, to=1, term=r.term))
    assert read(r) == []


@pytest.mark.parametrize("vote_type", [MsgVote, MsgPreVote])
@pytest.mark.parametrize(
    ("state", "index", "log_term", "vote_for", "reject"),
    [
        (Follower, 0, 0, NONE, True),
        (Follower, 0, 1, NONE, True),
        (Follower, 0, 2, NONE, True),
        (Follower, 0, 3, NONE, False),
        (Follower, 1, 0, NONE, True),
        (Follower, 1, 1, NONE, True),
        (Follower, 1, 2, NONE, True),
        (Follower, 1, 3, NONE, False),
        (Follower, 2, 0, NONE, True),
        (Follower, 2, 1, NONE, True),
        (Follower, 2, 2, NONE, False),
        (Follower, 2, 3, NONE, False),
        (Follower, 3, 0, NONE, True),
        (Follower, 3, 1, NONE, True),
        (Follower, 3, 2, NONE, False),
        (Follower, 3, 3, NONE, False),
        (Follower, 3, 2, 2, False),
        (Follower, 3, 2, 1, True),
        (Leader, 3, 3, 1, True),
        (PreCandidate, 3, 3, 1, True),
        (Candidate, 3, 3, 1, True),
    ],
)
def test_receiving_vote_requests(vote_type, state, index, log_term, vote_for, reject):
    r = new_raft(1, (1,), entries=ents(2, 2))
    r.state = state
    r.vote = vote_for
    r.term = max(2, log_term)
    r.step(vote_type(from_=2, to=1, term=r.term, index=index, log_term=log_term))
    msgs = read(r)
    assert [(m.type, m.reject) for m in msgs] == [(vote_type.__name__ + "Resp", reject)]


@pytest.mark.parametrize(
    ("frm", "to", "allowed", "want_term", "want_lead"),
    [
        (Follower, Follower, True, 1, NONE),
        (Follower, PreCandidate, True, 0, NONE),
        (Follower, Candidate, True, 1, NONE),
        (Follower, Leader, False, 0, NONE),
        (PreCandidate, Follower, True, 0, NONE),
        (PreCandidate, PreCandidate, True, 0, NONE),
        (PreCandidate, Candidate, True, 1, NONE),
        (PreCandidate, Leader, True, 0, 1),
        (Candidate, Follower, True, 0, NONE),
        (Candidate, PreCandidate, True, 0, NONE),
        (Candidate, Candidate, True, 1, NONE),
        (Candidate, Leader, True, 0, 1),
        (Leader, Follower, True, 1, NONE),
        (Leader, PreCandidate, False, 0, NONE),
        (Leader, Candidate, False, 1, NONE),
        (Leader, Leader, True, 0, 1),
    ],
)
def test_state_transitions(frm, to, allowed, want_term, want_lead):
    r = new_raft(1, (1,))
    r.state = frm
    try:
        if to is Follower:
            r._become_follower(want_term, want_lead)
        elif to is PreCandidate:
            r._become_pre_candidate()
        elif to is Candidate:
            r._become_candidate()
        else:
            r._become_leader()
    except RuntimeError:
        assert not allowed
        return
    assert allowed
    assert (r.term, r.lead) == (want_term, want_lead)


@pytest.mark.parametrize(
    ("state", "want_index"), [(Follower, 0), (PreCandidate, 0), (Candidate, 0), (Leader, 1)]
)
def test_every_state_steps_down_on_a_higher_term(state, want_index):
    for mtype in (MsgVote, MsgApp):
        r = new_raft(1)
        if state is Follower:
            r._become_follower(1, NONE)
        elif state is PreCandidate:
            r._become_pre_candidate()
        elif state is Candidate:
            r._become_candidate()
        else:
            elect(r)
        r.step(mtype(from_=2, to=1, term=3, log_term=3))
        assert (r.state, r.term, r.log.last_index()) == (Follower, 3, want_index)
        assert r.lead == (NONE if mtype is MsgVote else 2)


# -- CheckQuorum, PreVote ------------------------------------------------------------------
def test_leader_keeps_leading_while_a_quorum_is_active():
    """raft_tests.md 49 (TestLeaderStepdownWhenQuorumActive)."""
    r = new_raft(1, election_tick=5, check_quorum=True)
    elect(r)
    for _ in range(6):
        r.step(MsgHeartbeatResp(from_=2, to=1, term=r.term))
        r.tick()
    assert r.state is Leader


def test_leader_steps_down_after_an_election_timeout_without_quorum():
    """raft_tests.md 49 (TestLeaderStepdownWhenQuorumLost)."""
    r = new_raft(1, election_tick=5, check_quorum=True)
    elect(r)
    for _ in range(4):
        r.tick()
    assert r.state is Leader  # the check runs once a full election timeout has elapsed
    r.tick()
    assert r.state is Follower


def _three(**options) -> Net:
    return Net(None, None, None, **options)


def test_vote_lease_protects_a_leader_a_follower_recently_heard():
    """raft_tests.md 50 (TestLeaderSupersedingWithCheckQuorum)."""
    nt = _three(check_quorum=True)
    a, b, c = nt[1], nt[2], nt[3]
    b.randomized_election_timeout = 11
    for _ in range(10):
        b.tick()
    nt.hup(1)
    assert (a.state, c.state) == (Leader, Follower)
    nt.hup(3)
    # b heard from leader 1 within the election timeout: it ignores 3's vote request.
    assert c.state is Candidate
    for _ in range(10):
        b.tick()
    nt.hup(3)
    assert c.state is Leader


def test_leader_election_with_check_quorum():
    nt = _three(check_quorum=True)
    a, b, c = nt[1], nt[2], nt[3]
    a.randomized_election_timeout, b.randomized_election_timeout = 11, 12
    nt.hup(1)
    assert (a.state, c.state) == (Leader, Follower)
    a.randomized_election_timeout, b.randomized_election_timeout = 11, 12
    for _ in range(10):
        a.tick()
    for _ in range(10):
        b.tick()
    nt.hup(3)
    assert (a.state, c.state) == (Follower, Leader)


def test_a_stuck_candidate_is_freed_by_its_higher_term_reply():
    """raft_tests.md 51 (TestFreeStuckCandidateWithCheckQuorum)."""
    nt = _three(check_quorum=True)
    a, b, c = nt[1], nt[2], nt[3]
    b.randomized_election_timeout = 11
    for _ in range(10):
        b.tick()
    nt.hup(1)
    nt.isolate(1)
    nt.hup(3)
    assert (b.state, c.state, c.term) == (Follower, Candidate, b.term + 1)
    nt.hup(3)
    assert (b.state, c.state, c.term) == (Follower, Candidate, b.term + 2)
    nt.recover()
    nt.send(MsgHeartbeat(from_=1, to=3, term=a.term))
    # 3 answers with its higher term, which makes the leader step down...
    assert a.state is Follower and a.term == c.term
    nt.hup(3)  # ...and frees the election
    assert c.state is Leader


def test_a_removed_voter_does_not_campaign_but_follows():
    a = new_raft(1, (1, 2), check_quorum=True)
    b = new_raft(2, (1,), check_quorum=True)
    nt = Net(a, b)
    b.randomized_election_timeout = 11
    b.apply_conf_change(ConfChange(ConfChangeType.ConfChangeRemoveNode, 2))
    assert not b._promotable()
    for _ in range(10):
        b.tick()
    nt.hup(1)
    assert (a.state, b.state, b.lead) == (Leader, Follower, 1)


def _disruptive_setup(**options) -> Net:
    nt = _three(check_quorum=True, **options)
    for i in (1, 2, 3):
        nt[i]._become_follower(1, NONE)
    nt.hup(1)
    assert [nt[i].state for i in (1, 2, 3)] == [Leader, Follower, Follower]
    return nt


def test_a_disruptive_follower_without_prevote_forces_a_new_term():
    """raft_tests.md 52 (TestDisruptiveFollower)."""
    nt = _disruptive_setup()
    n1, n3 = nt[1], nt[3]
    n3.randomized_election_timeout = 12
    for _ in range(12):
        n3.tick()  # its timer fires just before the leader's heartbeat arrives
    read(n3)  # its vote requests are lost
    assert (n3.state, n1.term, n3.term) == (Candidate, 2, 3)
    nt.send(MsgHeartbeat(from_=1, to=3, term=n1.term))
    assert (n1.state, n1.term, nt[2].term, n3.state, n3.term) == (Follower, 3, 2, Candidate, 3)


def test_prevote_keeps_a_rejoining_follower_from_disrupting_the_leader():
    """raft_tests.md 52 (TestDisruptiveFollowerPreVote)."""
    nt = _disruptive_setup()
    nt.isolate(3)
    for _ in range(3):
        nt.propose(1, b"somedata")
    for i in (1, 2, 3):
        set_option(nt[i], pre_vote=True)
    nt.recover()
    nt.hup(3)
    assert [(nt[i].state, nt[i].term) for i in (1, 2, 3)] == [
        (Leader, 2),
        (Follower, 2),
        (PreCandidate, 2),
    ]
    nt.send(MsgHeartbeat(from_=1, to=3, term=nt[1].term))
    assert nt[1].state is Leader


def test_a_node_cut_off_keeps_its_term_with_prevote():
    """raft_tests.md 53 (TestNodeWithSmallerTermCanCompleteElection)."""
    nt = _three(pre_vote=True)
    for i in (1, 2, 3):
        nt[i]._become_follower(1, NONE)
    nt.cut(1, 3)
    nt.cut(2, 3)
    nt.hup(1)
    assert (nt[1].state, nt[2].state) == (Leader, Follower)
    nt.hup(3)
    assert nt[3].state is PreCandidate
    nt.hup(2)
    assert [(nt[i].state, nt[i].term) for i in (1, 2, 3)] == [
        (Follower, 3),
        (Leader, 3),
        (PreCandidate, 1),
    ]
    nt.recover()
    nt.cut(2, 1)
    nt.cut(2, 3)
    nt.hup(3)
    nt.hup(1)
    assert Leader in (nt[1].state, nt[3].state)


def test_a_split_vote_under_prevote_still_resolves():
    """raft_tests.md 53 (TestPreVoteWithSplitVote)."""
    nt = _three(pre_vote=True)
    for i in (1, 2, 3):
        nt[i]._become_follower(1, NONE)
    nt.hup(1)
    nt.isolate(1)
    nt.send(MsgHup(to=2, from_=2), MsgHup(to=3, from_=3))
    assert [(nt[i].state, nt[i].term) for i in (2, 3)] == [(Candidate, 3), (Candidate, 3)]
    nt.hup(2)
    assert [(nt[i].state, nt[i].term) for i in (2, 3)] == [(Leader, 4), (Follower, 4)]


def test_prevote_with_check_quorum_elects_after_the_leader_is_isolated():
    nt = _three(pre_vote=True, check_quorum=True)
    for i in (1, 2, 3):
        nt[i]._become_follower(1, NONE)
    nt.hup(1)
    nt.isolate(1)
    nt.hup(3)
    nt.hup(2)
    assert nt[2].state is Leader or nt[3].state is Follower


def _prevote_migration() -> Net:
    nt = _three()
    for i in (1, 2, 3):
        nt[i]._become_follower(1, NONE)
    set_option(nt[1], pre_vote=True)
    set_option(nt[2], pre_vote=True)
    nt.hup(1)
    nt.isolate(3)
    nt.propose(1, b"some data")
    nt.hup(3)
    nt.hup(3)
    assert [(nt[i].state, nt[i].term) for i in (1, 2, 3)] == [
        (Leader, 2),
        (Follower, 2),
        (Candidate, 4),
    ]
    set_option(nt[3], pre_vote=True)
    nt.recover()
    return nt


def test_prevote_migration_can_complete_an_election():
    """raft_tests.md 54."""
    nt = _prevote_migration()
    nt.isolate(1)
    nt.hup(3)
    nt.hup(2)
    assert (nt[2].state, nt[3].state) == (Follower, PreCandidate)
    nt.hup(3)
    nt.hup(2)
    assert nt[2].state is Leader or nt[3].state is Follower


def test_prevote_migration_frees_a_stuck_pre_candidate():
    nt = _prevote_migration()
    n1, n2, n3 = nt[1], nt[2], nt[3]
    nt.hup(3)
    assert (n1.state, n2.state, n3.state) == (Leader, Follower, PreCandidate)
    nt.hup(3)
    assert (n1.state, n2.state, n3.state) == (Leader, Follower, PreCandidate)
    nt.send(MsgHeartbeat(from_=1, to=3, term=n1.term))
    # The higher-term reply deposes the leader; PreVote keeps the terms from running away.
    assert (n1.state, n1.term) == (Follower, n3.term)


# -- ReadIndex -------------------------------------------------------------------------------
def test_read_index_safe_returns_the_commit_index_at_request_time():
    """raft_tests.md 56 (TestReadOnlyOptionSafe): reads via followers are forwarded."""
    nt = _three()
    nt[2].randomized_election_timeout = 11
    for _ in range(10):
        nt[2].tick()
    nt.hup(1)
    assert nt[1].state is Leader
    for k, (node, want) in enumerate([(1, 11), (2, 21), (3, 31), (1, 41), (2, 51), (3, 61)]):
        for _ in range(10):
            nt.propose(1, b"")
        ctx = b"ctx%d" % k
        nt.send(MsgReadIndex(to=node, from_=NONE, context=ctx))
        assert READS.pop(node) == [ReadState(want, ctx)]


def test_read_index_without_a_quorum_never_answers():
    nt = _three()
    nt.hup(1)
    nt.isolate(1)
    nt.send(MsgReadIndex(to=1, context=b"ctx"))
    assert READS == {}


def test_a_new_leader_postpones_reads_until_its_noop_commits():
    """raft_tests.md 57 (TestReadOnlyForNewLeader)."""
    peers = []
    for node_id, commit in ((1, 1), (2, 2), (3, 2)):
        peers.append(
            new_raft(node_id, entries=ents(1, 1), hard_state=HardState(term=1, commit=commit))
        )
    nt = Net(*peers)
    nt.ignore(MsgApp)
    nt.hup(1)
    lead = nt[1]
    assert lead.state is Leader
    nt.send(MsgReadIndex(to=1, context=b"ctx"))
    assert READS == {}
    nt.recover()
    lead.tick()  # its heartbeats leave together with the next proposal's messages
    nt.propose(1, b"")
    assert lead.log.committed == 4 and lead.log.term(4) == lead.term
    assert READS[1] == [ReadState(4, b"ctx")]
    nt.send(MsgReadIndex(to=1, context=b"ctx"))
    assert READS[1] == [ReadState(4, b"ctx"), ReadState(4, b"ctx")]


def test_lease_based_reads_answer_without_a_heartbeat_round():
    """raft_tests.md 58 (etcd does not use this mode)."""
    nt = _three(check_quorum=True, read_only_option=ReadOnlyOption.ReadOnlyLeaseBased)
    nt[2].randomized_election_timeout = 11
    for _ in range(10):
        nt[2].tick()
    nt.hup(1)
    nt.propose(1, b"")
    nt.ignore(MsgHeartbeat)  # no round trip is needed
    nt.send(MsgReadIndex(to=1, context=b"ctx"))
    assert READS[1] == [ReadState(2, b"ctx")]
    with pytest.raises(ValueError, match="CheckQuorum must be enabled"):
        Config(id=1, check_quorum=False, read_only_option=ReadOnlyOption.ReadOnlyLeaseBased)


def test_a_single_voter_answers_reads_at_once():
    r = new_raft(1, (1,))
    r.campaign()
    r.read_index(b"ctx")
    assert r.ready().read_states == (ReadState(1, b"ctx"),)


# -- leader's view of followers: progress, probing, flow control ---------------------------
@pytest.mark.parametrize(
    ("index", "reject", "match", "nxt", "n_msgs", "msg_index", "msg_commit"),
    [
        pytest.param(3, True, 0, 3, 0, 0, 0, id="a stale rejection changes nothing"),
        pytest.param(2, True, 0, 2, 1, 1, 0, id="a rejection lowers next and probes"),
        pytest.param(2, False, 2, 4, 2, 2, 2, id="an ack commits and broadcasts"),
        pytest.param(0, False, 0, 4, 1, 0, 0, id="an ack of nothing still moves to replicate"),
    ],
)
def test_leader_handles_append_responses(index, reject, match, nxt, n_msgs, msg_index, msg_commit):
    r = new_raft(1, entries=ents(1, 1))
    elect(r)
    read(r)
    r.step(MsgAppResp(from_=2, to=1, term=r.term, index=index, reject=reject, reject_hint=index))
    pr = r.progress[2]
    assert (pr.match, pr.next) == (match, nxt)
    msgs = read(r)
    assert len(msgs) == n_msgs
    assert all((m.index, m.commit) == (msg_index, msg_commit) for m in msgs)


def test_heartbeats_never_carry_a_commit_past_the_followers_match():
    snap = Snapshot(index=1000, term=1, conf_state=ConfState((1, 2, 3)))
    r = new_raft(1, snapshot=snap, hard_state=HardState(term=1, commit=1000))
    elect(r)
    for i in range(10):
        r._append_entries([Entry(0, 0, data=b"%d" % i)])
    read(r)
    r.progress[2].match, r.progress[2].next = 5, 6
    r.progress[3].match = r.log.last_index()
    r.progress[3].next = r.log.last_index() + 1
    r.step(MsgBeat(from_=1))
    msgs = {m.to: m for m in read(r)}
    assert msgs[2] == MsgHeartbeat(from_=1, to=2, term=2, commit=5)
    assert msgs[3] == MsgHeartbeat(from_=1, to=3, term=2, commit=min(r.log.committed, 1011))


@pytest.mark.parametrize(("state", "n"), [(Leader, 2), (Candidate, 0), (Follower, 0)])
def test_only_a_leader_heartbeats_on_msg_beat(state, n):
    r = new_raft(1, entries=ents(1, 1), hard_state=HardState(term=1))
    if state is Leader:
        elect(r)
    elif state is Candidate:
        r._become_candidate()
    read(r)
    r.step(MsgBeat(from_=1))
    msgs = read(r)
    assert len(msgs) == n and all(m.type == "MsgHeartbeat" for m in msgs)


def test_flow_control_stops_at_max_inflight_messages():
    """raft_tests.md 48 (TestMsgAppFlowControlFull)."""
    r = new_raft(1, (1, 2), election_tick=5)
    elect(r)
    pr = r.progress[2]
    pr.become_replicate()
    for _ in range(r.config.max_inflight_msgs):
        r.propose(b"somedata")
        assert [m.type for m in read(r)] == ["MsgApp"]
    assert pr.is_paused()
    for _ in range(10):
        r.propose(b"somedata")
        assert read(r) == []


def test_flow_control_window_moves_forward_with_acks():
    """raft_tests.md 48 (TestMsgAppFlowControlMoveForward)."""
    r = new_raft(1, (1, 2), election_tick=5)
    elect(r)
    pr = r.progress[2]
    pr.become_replicate()
    for _ in range(r.config.max_inflight_msgs):
        r.propose(b"somedata")
        read(r)
    for tt in range(2, r.config.max_inflight_msgs):
        r.step(MsgAppResp(from_=2, to=1, term=r.term, index=tt))
        read(r)
        r.propose(b"somedata")
        assert [m.type for m in read(r)] == ["MsgApp"]
        assert pr.is_paused()
        for i in range(tt):  # stale acks free nothing
            r.step(MsgAppResp(from_=2, to=1, term=r.term, index=i))
            assert pr.is_paused()


def test_a_full_window_still_sends_an_empty_append_per_heartbeat_response():
    """raft_tests.md 48 (TestMsgAppFlowControlRecvHeartbeat)."""
    r = new_raft(1, (1, 2), election_tick=5)
    elect(r)
    pr = r.progress[2]
    pr.become_replicate()
    for _ in range(r.config.max_inflight_msgs):
        r.propose(b"somedata")
        read(r)
    for tt in range(1, 5):
        for _ in range(tt):
            assert pr.is_paused()
            r.step(MsgHeartbeatResp(from_=2, to=1, term=r.term))
            msgs = read(r)
            assert [(m.type, m.entries) for m in msgs] == [("MsgApp", ())]
        for _ in range(10):
            assert pr.is_paused()
            r.propose(b"somedata")
            assert read(r) == []
        r.step(MsgHeartbeatResp(from_=2, to=1, term=r.term))
        read(r)


def test_a_probing_follower_gets_one_message_per_heartbeat():
    r = new_raft(1, (1, 2))
    elect(r)
    r.progress[2].become_probe()
    read(r)
    for _ in range(3):
        r.propose(b"somedata")
    msgs = read(r)
    # One probe (the no-op and the first proposal), then nothing until it is answered.
    assert [(m.type, m.index, len(m.entries)) for m in msgs] == [("MsgApp", 0, 2)]
    r.step(MsgHeartbeatResp(from_=2, to=1, term=r.term))
    msgs = read(r)
    assert [m.type for m in msgs] == ["MsgApp"] and len(msgs[0].entries) == 4


def test_uncommitted_entry_limit_drops_proposals():
    """raft_tests.md 48 (TestUncommittedEntryLimit)."""
    size = len(b"testdata")
    r = new_raft(1, (1, 2), max_uncommitted_entries_size=5 * size, max_inflight_msgs=10)
    elect(r)
    for _ in range(5):
        r.propose(b"testdata")
    with pytest.raises(ProposalDropped):
        r.propose(b"testdata")
    assert r.uncommitted_size == 5 * size
    r.step(MsgAppResp(from_=2, to=1, term=r.term, index=r.log.last_index()))
    read(r)  # applying the committed entries frees the budget
    assert r.uncommitted_size == 0
    r.propose(b"testdata")
    assert r.uncommitted_size == size


def test_max_size_per_msg_splits_appends():
    r = new_raft(1, (1, 2), max_size_per_msg=10)
    elect(r)
    r.step(MsgAppResp(from_=2, to=1, term=r.term, index=1))
    read(r)
    for _ in range(4):
        r.propose(b"123456")
    read(r)
    r.progress[2].become_probe()
    r.progress[2].become_replicate()
    r._maybe_send_append(2, send_if_empty=False)
    while r._maybe_send_append(2, send_if_empty=False):
        pass
    assert [len(m.entries) for m in read(r)] == [1, 1, 1, 1]


def test_fast_rejection_skips_whole_terms():
    """raft_tests.md 46 (TestFastLogRejection)."""
    cases = [
        ([1, 2, 2, 4, 4, 4, 4], [1, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3], (3, 7), (2, 3)),
        ([1, 2, 2, 3, 4, 4, 4, 5], [1, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3], (3, 8), (3, 4)),
        ([1, 1, 1, 1], [1, 2, 2, 4], (1, 1), (1, 1)),
        ([1, 1, 1, 1, 1, 1], [1, 2, 2, 4], (1, 1), (1, 1)),
        ([1, 1, 1, 1], [1, 2, 2, 4, 4, 4], (1, 1), (1, 1)),
        ([1, 1, 1, 4, 5], [1, 1, 1, 4], (4, 4), (4, 4)),
        ([2, 5, 5, 5, 5, 5, 5, 5, 5], [2, 4, 4, 4, 4, 4], (4, 6), (2, 1)),
        ([2, 2, 2, 2, 2], [2, 4, 4, 4, 4, 4, 4, 4], (2, 1), (2, 1)),
    ]
    for leader_log, follower_log, (hint_term, hint_index), (next_term, next_index) in cases:
        last = len(leader_log)
        lead_term = leader_log[-1]
        n1 = new_raft(
            1,
            entries=ents(*leader_log),
            hard_state=HardState(term=lead_term - 1, commit=last),
        )
        elect(n1)  # bumps the term to the last entry's term
        n2 = new_raft(2, entries=ents(*follower_log), hard_state=HardState(term=lead_term, vote=1))
        n2.step(MsgHeartbeat(from_=1, to=2, term=n1.term))
        (resp,) = read(n2)
        read(n1)
        n1.step(resp)
        (app,) = read(n1)
        assert app.type == "MsgApp"
        n2.step(app)
        (rej,) = read(n2)
        assert rej.reject and (rej.log_term, rej.reject_hint) == (hint_term, hint_index)
        n1.step(rej)
        nxt = read(n1)
        assert (nxt[0].log_term, nxt[0].index) == (next_term, next_index)


def test_a_reordered_shorter_append_does_not_lower_match():
    """raft_tests.md 47 (TestLogReplicationWithReorderedMessage)."""
    r1 = new_raft(1, (1, 2))
    elect(r1)
    read(r1)
    r1.progress[2].become_replicate()
    r2 = new_raft(2, (1, 2))
    r1._append_entries([Entry(0, 0, data=b"somedata")])
    r1._maybe_send_append(2, send_if_empty=True)
    (req1,) = read(r1)
    r1._append_entries([Entry(0, 0, data=b"somedata")])
    r1._maybe_send_append(2, send_if_empty=True)
    (req2,) = read(r1)
    r2.step(req2)  # arrives first: no match yet
    (resp2,) = read(r2)
    assert (resp2.reject, resp2.reject_hint, resp2.index) == (True, 0, 2)
    r2.step(req1)
    (m,) = read(r2)
    assert (m.reject, m.index) == (False, 2)
    r1.step(m)
    read(r1)
    assert r1.progress[2].match == 2
    r1.step(MsgUnreachable(from_=2, to=1))
    assert r1.progress[2].state is ProgressState.StateProbe
    r1.step(resp2)  # the late rejection must not move the follower back
    (m,) = read(r1)
    assert m.index == r1.progress[2].match == 2


# -- snapshots ----------------------------------------------------------------------------
SNAP = Snapshot(index=11, term=11, conf_state=ConfState((1, 2, 3)))


def test_restore_replaces_the_log_and_takes_the_membership_from_the_snapshot():
    """raft_tests.md 60 (TestRestore)."""
    r = new_raft(1, (1, 2))
    assert r._restore(SNAP)
    assert (r.log.last_index(), r.log.term(11), r.voters) == (11, 11, (1, 2, 3))
    assert r.log.committed == 11
    assert not r._restore(SNAP)
    for _ in range(r.randomized_election_timeout):
        r.tick()
    assert r.state is Follower  # a pending snapshot blocks campaigning


def test_an_outdated_snapshot_is_ignored_and_a_known_one_fast_forwards_commit():
    """raft_tests.md 60 (TestRestoreIgnoreSnapshot)."""
    r = new_raft(1, (1, 2))
    r.log.append(ents(1, 1, 1))
    r.log.commit_to(1)
    s = Snapshot(index=1, term=1, conf_state=ConfState((1, 2)))
    assert not r._restore(s) and r.log.committed == 1
    assert not r._restore(replace(s, index=2)) and r.log.committed == 2


def test_a_snapshot_arriving_via_msg_snap_sets_the_leader():
    r = new_raft(2, (1, 2))
    r.step(MsgSnap(from_=1, to=2, term=2, snapshot=replace(SNAP, conf_state=ConfState((1, 2)))))
    assert r.lead == 1
    rd = r.ready()
    assert rd.snapshot is not None and rd.snapshot.index == 11 and rd.committed_entries == ()
    r.advance(rd)
    assert r.applied == 11


def _leader_after_restore(peers=(1, 2)) -> Raft:
    r = new_raft(1, peers)
    r._restore(replace(SNAP, conf_state=ConfState((1, 2))))
    rd = r.ready()
    r.advance(rd)
    elect(r)
    return r


def test_leader_sends_a_snapshot_to_a_follower_behind_its_first_index():
    """raft_tests.md 60 (TestProvideSnap, TestSendingSnapshotSetPendingSnapshot)."""
    r = _leader_after_restore()
    read(r)
    r.progress[2].next = r.log.first_index()
    r.step(MsgAppResp(from_=2, to=1, term=r.term, index=r.progress[2].next - 1, reject=True))
    msgs = read(r)
    assert [m.type for m in msgs] == ["MsgSnap"] and msgs[0].snapshot.index == 11
    assert r.progress[2].pending_snapshot == 11


def test_no_snapshot_for_a_follower_that_is_not_recently_active():
    r = _leader_after_restore()
    read(r)
    r.progress[2].next = r.log.first_index() - 1
    r.progress[2].recent_active = False
    r.propose(b"somedata")
    assert read(r) == []


def test_a_pending_snapshot_pauses_replication():
    r = _leader_after_restore()
    read(r)
    r.progress[2].become_snapshot(11)
    r.propose(b"somedata")
    assert read(r) == []


@pytest.mark.parametrize(("ok", "want_next"), [(False, 1), (True, 12)])
def test_snapshot_status_returns_the_follower_to_probing(ok, want_next):
    r = _leader_after_restore()
    r.progress[2].next = 1
    r.progress[2].become_snapshot(11)
    r.step(MsgSnapStatus(from_=2, to=1, reject=not ok))
    pr = r.progress[2]
    assert (pr.pending_snapshot, pr.next, pr.msg_app_flow_paused) == (0, want_next, True)


def test_an_ack_past_the_snapshot_aborts_the_snapshot_state():
    r = _leader_after_restore()
    r.progress[2].next = 1
    r.progress[2].become_snapshot(11)
    r.step(MsgAppResp(from_=2, to=1, term=r.term, index=11))
    pr = r.progress[2]
    assert (pr.pending_snapshot, pr.next, pr.inflights.count()) == (0, 13, 1)


def test_a_slow_node_catches_up_via_snapshot():
    """raft_tests.md 60 (TestSlowNodeRestore)."""
    nt = _three()
    nt.hup(1)
    nt.isolate(3)
    for _ in range(101):
        nt.propose(1, b"")
    lead = nt[1]
    lead.create_snapshot(lead.applied, b"state")
    lead.compact(lead.applied)
    nt.recover()
    while not lead.progress[3].recent_active:
        nt.beat(1)
    follower = nt[3]
    nt.propose(1, b"")
    nt.send(*read(follower))  # (its snapshot was persisted and applied)
    nt.propose(1, b"")
    assert follower.log.committed == lead.log.committed
    assert follower.log.snapshot.data == b"state"


# -- membership changes -------------------------------------------------------------------
CC_ADD = EntryType.EntryConfChange


def _cc(kind: str, node: int) -> ConfChange:
    return ConfChange(ConfChangeType[f"ConfChange{kind}"], node)


def test_proposing_a_conf_change_sets_the_pending_index():
    r = new_raft(1, (1, 2))
    elect(r)
    index = r.log.last_index()
    r.propose_conf_change(_cc("AddNode", 3))
    assert r.log.last_index() == index + 1 and r.pending_conf_index == index + 1


def test_a_second_conf_change_while_one_is_pending_becomes_an_empty_entry():
    """raft_tests.md 59 (TestStepIgnoreConfig)."""
    r = new_raft(1, (1, 2))
    elect(r)
    r.propose_conf_change(_cc("AddNode", 3))
    index, pending = r.log.last_index(), r.pending_conf_index
    r.propose_conf_change(_cc("AddNode", 4))
    assert r.log.entries[index:] == [Entry(1, 3)]
    assert r.pending_conf_index == pending


@pytest.mark.parametrize(("add_entry", "want"), [(False, 0), (True, 1)])
def test_a_new_leader_treats_its_whole_log_as_possibly_pending_changes(add_entry, want):
    """raft_tests.md 59 (TestNewLeaderPendingConfig)."""
    r = new_raft(1, (1, 2))
    if add_entry:
        r.log.append([Entry(0, 1)])
    elect(r)
    assert r.pending_conf_index == want


def test_add_remove_and_learners():
    r = new_raft(1, (1,))
    r.apply_conf_change(_cc("AddNode", 2))
    assert r.voters == (1, 2)
    r.apply_conf_change(_cc("AddLearnerNode", 3))
    assert (r.learners, r.progress[3].is_learner, r.is_learner) == ((3,), True, False)
    r.apply_conf_change(_cc("AddNode", 3))  # promote
    assert (r.voters, r.learners, r.progress[3].is_learner) == ((1, 2, 3), (), False)
    r.apply_conf_change(_cc("AddLearnerNode", 1))  # demote self
    assert r.is_learner and r.progress[1].is_learner
    r.apply_conf_change(_cc("AddNode", 1))
    assert not r.is_learner
    r.apply_conf_change(_cc("RemoveNode", 2))
    r.apply_conf_change(_cc("RemoveNode", 3))
    assert r.voters == (1,)
    with pytest.raises(ValueError, match="removed all voters"):
        r.apply_conf_change(_cc("RemoveNode", 1))


def test_removing_a_node_shrinks_the_quorum_and_commits_pending_entries():
    """raft_tests.md 59 (TestCommitAfterRemoveNode): 2 voters -> 1."""
    r = new_raft(1, (1, 2), election_tick=5)
    elect(r)
    r.propose_conf_change(_cc("RemoveNode", 2))
    assert r.ready().committed_entries == ()  # needs node 2's ack
    r.advance(r.ready())
    cc_index = r.log.last_index()
    r.propose(b"hello")
    r.step(MsgAppResp(from_=2, to=1, term=r.term, index=cc_index))
    rd = r.ready()
    assert [(e.type, e.data) for e in rd.committed_entries] == [
        (EntryType.EntryNormal, b""),
        (EntryType.EntryConfChange, _cc("RemoveNode", 2)),
    ]
    r.advance(rd)
    r.apply_conf_change(_cc("RemoveNode", 2))
    assert [e.data for e in r.ready().committed_entries] == [b"hello"]


def test_a_removed_leader_steps_down():
    r = new_raft(1, (1, 2))
    elect(r)
    r.apply_conf_change(_cc("RemoveNode", 1))
    assert r.state is Follower and not r._promotable()


def test_a_learner_never_campaigns_and_ignores_timeout_now():
    """raft_tests.md 59 (TestLearnerCampaign, TestLearnerElectionTimeout)."""
    n1 = new_raft(1, (1,))
    n1.apply_conf_change(_cc("AddLearnerNode", 2))
    n2 = new_raft(2, (1,))
    n2.apply_conf_change(_cc("AddLearnerNode", 2))
    nt = Net(n1, n2)
    nt.hup(2)
    assert n2.is_learner and n2.state is Follower
    for _ in range(40):
        n2.tick()
    assert n2.state is Follower
    nt.hup(1)
    assert n1.state is Leader and n1.lead == 1
    nt.send(MsgTimeoutNow(from_=1, to=2, term=n1.term))
    assert n2.state is Follower


def test_a_learner_votes_when_asked():
    n2 = new_raft(2, (1,), learners=(2,))
    n2._become_follower(1, NONE)
    n2.step(MsgVote(from_=1, to=2, term=2, log_term=11, index=11))
    assert [(m.type, m.reject) for m in read(n2)] == [("MsgVoteResp", False)]


def test_a_promoted_learner_can_become_leader():
    n1 = new_raft(1, (1,), learners=(2,))
    n2 = new_raft(2, (1,), learners=(2,))
    nt = Net(n1, n2)
    n1.randomized_election_timeout = 10
    for _ in range(10):
        n1.tick()
    assert (n1.state, n2.state) == (Leader, Follower)
    nt.beat(1)
    for r in (n1, n2):
        r.apply_conf_change(_cc("AddNode", 2))
    assert not n2.is_learner
    n2.randomized_election_timeout = 10
    for _ in range(10):
        n2.tick()
    nt.send(*read(n2))
    assert (n1.state, n2.state) == (Follower, Leader)


def test_a_learner_replicates_but_does_not_count_for_commit():
    n1 = new_raft(1, (1,), learners=(2,))
    n2 = new_raft(2, (1,), learners=(2,))
    nt = Net(n1, n2)
    nt.hup(1)
    nt.propose(1, b"somedata")
    assert n1.log.committed == n2.log.committed == 2
    assert n1.progress[2].match == 2


def test_campaigning_waits_for_committed_conf_changes_to_be_applied():
    r = new_raft(1, (1, 2))
    r.log.append([Entry(1, 1, EntryType.EntryConfChange, _cc("AddNode", 3))])
    r.log.commit_to(1)
    r.campaign()
    assert r.state is Follower
    rd = r.ready()
    r.apply_conf_change(rd.committed_entries[0].data)
    r.advance(rd)
    r.campaign()
    assert r.state is Candidate


# -- leader transfer -------------------------------------------------------------------
def _assert_transfer(r: Raft, state, lead) -> None:
    assert (r.state, r.lead, r.lead_transferee) == (state, lead, NONE)


@pytest.mark.parametrize("check_quorum", [False, True])
def test_leader_transfer_to_an_up_to_date_node_and_back(check_quorum):
    """raft_tests.md 55: immediate TimeoutNow; with CheckQuorum the campaign is forced
    through followers' vote leases."""
    nt = _three(check_quorum=check_quorum)
    for i in (1, 2, 3):
        nt[i].randomized_election_timeout = 10 + i
    for _ in range(10):
        nt[2].tick()
    nt.hup(1)
    lead = nt[1]
    assert lead.state is Leader
    nt.send(MsgTransferLeader(from_=2, to=1))
    _assert_transfer(lead, Follower, 2)
    nt.propose(1, b"")
    nt.send(MsgTransferLeader(from_=1, to=2))
    _assert_transfer(lead, Leader, 1)


def test_leader_transfer_via_a_follower():
    nt = _three()
    nt.hup(1)
    nt.send(MsgTransferLeader(from_=2, to=2))  # asked at node 2, forwarded to leader 1
    _assert_transfer(nt[1], Follower, 2)


def test_leader_transfer_to_a_slow_follower_catches_it_up_first():
    nt = _three()
    nt.hup(1)
    nt.isolate(3)
    nt.propose(1, b"")
    nt.recover()
    lead = nt[1]
    assert lead.progress[3].match == 1
    nt.send(MsgTransferLeader(from_=3, to=1))
    _assert_transfer(lead, Follower, 3)


def test_leader_transfer_after_a_snapshot():
    nt = _three()
    nt.hup(1)
    nt.isolate(3)
    nt.propose(1, b"")
    lead = nt[1]
    lead.create_snapshot(lead.applied, b"")
    lead.compact(lead.applied)
    nt.recover()
    assert lead.progress[3].match == 1
    held = []
    nt.hook = lambda m: (
        not (isinstance(m, MsgAppResp) and m.from_ == 3 and not m.reject and not held.append(m))
    )
    nt.send(MsgTransferLeader(from_=3, to=1))
    assert lead.state is Leader and held  # snapshot sent; its ack is held back
    nt.hook = None
    nt.send(*held)
    _assert_transfer(lead, Follower, 3)


def test_leader_transfer_to_self_or_a_non_member_is_ignored():
    nt = _three()
    nt.hup(1)
    nt.send(MsgTransferLeader(from_=1, to=1))
    _assert_transfer(nt[1], Leader, 1)
    nt.send(MsgTransferLeader(from_=4, to=1))
    _assert_transfer(nt[1], Leader, 1)


def test_leader_transfer_to_a_learner_is_ignored():
    n1 = new_raft(1, (1,), learners=(2,))
    n2 = new_raft(2, (1,), learners=(2,))
    nt = Net(n1, n2)
    nt.hup(1)
    nt.send(MsgTransferLeader(from_=2, to=1))
    _assert_transfer(n1, Leader, 1)


def test_leader_transfer_aborts_after_an_election_timeout():
    """raft_tests.md 55: transferee isolated; the old leader keeps leading."""
    nt = _three()
    nt.hup(1)
    nt.isolate(3)
    lead = nt[1]
    nt.send(MsgTransferLeader(from_=3, to=1))
    assert lead.lead_transferee == 3
    lead.tick()
    assert lead.lead_transferee == 3
    for _ in range(9):
        lead.tick()
    _assert_transfer(lead, Leader, 1)


def test_proposals_are_dropped_during_a_transfer():
    nt = _three()
    nt.hup(1)
    nt.isolate(3)
    lead = nt[1]
    nt.send(MsgTransferLeader(from_=3, to=1))
    assert lead.lead_transferee == 3
    with pytest.raises(ProposalDropped):
        lead.propose(b"")
    assert lead.progress[1].match == 1


def test_a_higher_term_vote_ends_a_transfer():
    nt = _three()
    nt.hup(1)
    nt.isolate(3)
    nt.send(MsgTransferLeader(from_=3, to=1))
    nt.hup(2)
    _assert_transfer(nt[1], Follower, 2)


def test_removing_the_transferee_aborts_the_transfer():
    nt = _three()
    nt.hup(1)
    nt.ignore(MsgTimeoutNow)
    lead = nt[1]
    nt.send(MsgTransferLeader(from_=3, to=1))
    assert lead.lead_transferee == 3
    lead.apply_conf_change(_cc("RemoveNode", 3))
    _assert_transfer(lead, Leader, 1)


def test_transfer_back_to_the_leader_cancels_and_a_second_target_replaces_the_first():
    nt = _three()
    nt.hup(1)
    nt.isolate(3)
    lead = nt[1]
    nt.send(MsgTransferLeader(from_=3, to=1))
    nt.send(MsgTransferLeader(from_=1, to=1))
    _assert_transfer(lead, Leader, 1)
    nt.send(MsgTransferLeader(from_=3, to=1))
    nt.send(MsgTransferLeader(from_=2, to=1))
    _assert_transfer(lead, Follower, 2)


def test_a_non_member_ignores_timeout_now():
    r = new_raft(1, (2, 3, 4), election_tick=5)
    r.step(MsgTimeoutNow(from_=2, to=1, term=0))
    r.step(MsgVoteResp(from_=2, to=1))
    r.step(MsgVoteResp(from_=3, to=1))
    assert r.state is Follower


def test_a_transfer_campaign_overrides_vote_leases():
    r = new_raft(1, check_quorum=True)
    r._become_follower(1, 2)
    r.step(MsgVote(from_=3, to=1, term=2, index=0, log_term=0))
    assert read(r) == [] and r.term == 1  # ignored inside the lease
    r.step(MsgVote(from_=3, to=1, term=2, index=0, log_term=0, context=CAMPAIGN_TRANSFER))
    assert [(m.type, m.reject) for m in read(r)] == [("MsgVoteResp", False)]


# -- Ready, advance and persistence ------------------------------------------------------
def test_ready_hands_over_hard_state_entries_messages_and_committed_entries_once():
    r = new_raft(1, (1, 2))
    r.campaign()
    rd = r.ready()
    assert rd.hard_state == HardState(term=1, vote=1, commit=0)
    assert rd.soft_state.raft_state is Candidate and rd.must_sync
    assert [m.type for m in rd.messages] == ["MsgVote"]
    r.advance(rd)
    assert not r.has_ready()
    r.step(MsgVoteResp(from_=2, to=1, term=1))
    rd = r.ready()
    assert rd.entries == (Entry(1, 1),) and rd.committed_entries == ()
    assert [m.type for m in rd.messages] == ["MsgApp"]
    r.advance(rd)
    r.step(MsgAppResp(from_=2, to=1, term=1, index=1))
    rd = r.ready()
    assert rd.hard_state == HardState(1, 1, 1) and not rd.must_sync
    assert rd.committed_entries == (Entry(1, 1),) and rd.entries == ()
    r.advance(rd)
    assert r.applied == 1


def test_term_vote_and_log_survive_a_restart_but_progress_does_not():
    """A node rebuilt from what it persisted: it keeps its vote and log (so it cannot vote
    twice in a term); leadership, progress and applied state are gone."""
    storage = Storage.initial((1, 2, 3))
    r = Raft(Config(id=1, pre_vote=False), storage, rng=random.Random(1))
    r.campaign()
    r.step(MsgVoteResp(from_=2, to=1, term=1))
    r.propose(b"x")
    rd = r.ready()
    storage.save(rd.hard_state, rd.entries, rd.snapshot)
    assert r.state is Leader
    r2 = Raft(Config(id=1, pre_vote=False), storage, rng=random.Random(1))
    assert (r2.term, r2.vote, r2.state, r2.lead) == (1, 1, Follower, NONE)
    assert r2.log.entries == r.log.entries and r2.applied == 0
    r2.step(MsgVote(from_=3, to=1, term=1, index=5, log_term=1))
    assert [(m.type, m.reject) for m in read(r2)] == [("MsgVoteResp", True)]


def test_restart_from_a_snapshot_resumes_after_it():
    snap = Snapshot(index=7, term=3, conf_state=ConfState((1, 2)), data=b"s")
    storage = Storage(HardState(3, 0, 8), snap, ents(3, start=8))
    r = Raft(Config(id=1), storage, rng=random.Random(0))
    assert (r.log.first_index(), r.log.last_index(), r.applied, r.committed) == (8, 8, 7, 8)
    assert r.voters == (1, 2)
    assert r.ready().committed_entries == (Entry(3, 8),)


def test_a_commit_index_beyond_the_log_is_refused():
    with pytest.raises(LogCorruption):
        Raft(Config(id=1), Storage(hard_state=HardState(1, 0, 5)), rng=random.Random(0))


def test_a_follower_never_truncates_committed_entries():
    r = new_raft(1, entries=ents(1, 1), hard_state=HardState(term=1, commit=2))
    # A stale MsgApp below the commit index is answered with the commit index, untouched...
    r.step(MsgApp(from_=2, to=1, term=2, index=0, log_term=0, entries=tuple(ents(2))))
    assert log_terms(r) == [1, 1]
    assert [(m.type, m.index, m.reject) for m in read(r)] == [("MsgAppResp", 2, False)]
    # ...and the log itself refuses to rewrite committed history.
    with pytest.raises(LogCorruption):
        r.log.maybe_append(0, 0, 0, ents(2))


def test_bootstrap_storage_is_etcds_fresh_cluster_log():
    st = Storage.bootstrap([3, 1, 2])
    assert st.hard_state == HardState(term=1, commit=3)
    assert [(e.index, e.term, e.data.node_id) for e in st.entries] == [
        (1, 1, 1),
        (2, 1, 2),
        (3, 1, 3),
    ]
    r = Raft(Config(id=1), st, rng=random.Random(0))
    for e in r.ready().committed_entries:
        r.apply_conf_change(e.data)
    assert r.voters == (1, 2, 3)


def test_invalid_configs_are_refused():
    with pytest.raises(ValueError, match="election tick must be greater"):
        Config(id=1, election_tick=1, heartbeat_tick=1)
    with pytest.raises(ValueError, match="cannot use none"):
        Config(id=0)


def test_a_refused_conf_change_changes_nothing():
    r = new_raft(1, (1,), learners=(2,))
    with pytest.raises(ValueError, match="removed all voters"):
        r.apply_conf_change(_cc("AddLearnerNode", 1))
    assert (r.voters, r.learners, r.progress[1].is_learner, r.is_learner) == (
        (1,),
        (2,),
        False,
        False,
    )
