"""The pure Raft core: a state machine driven by tick(), step() and proposals; no clock, no I/O.

Semantics: etcd-io/raft (raft.go, tracker/, read_only.go) as etcd configures it: PreVote,
CheckQuorum with vote leases, ReadOnlySafe reads, single-step membership changes, leader
transfer, snapshots and per-follower flow control. The host drains `ready()`, persists, sends,
applies, then calls `advance()`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from .log import LogCorruption, RaftLog, Storage
from .messages import (
    CAMPAIGN_TRANSFER,
    NONE,
    VOTE_RESP,
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
    MsgCheckQuorum,
    MsgHeartbeat,
    MsgHeartbeatResp,
    MsgHup,
    MsgPreVote,
    MsgPreVoteResp,
    MsgProp,
    MsgReadIndex,
    MsgReadIndexResp,
    MsgSnap,
    MsgSnapStatus,
    MsgTimeoutNow,
    MsgTransferLeader,
    MsgUnreachable,
    MsgVote,
    MsgVoteResp,
    Snapshot,
    entries_size,
)
from .quorum import VoteResult, committed_index, vote_result
from .tracker import Progress, ProgressState, ReadOnly, ReadOnlyOption

__all__ = [
    "Config",
    "Progress",
    "ProgressState",
    "ProposalDropped",
    "Raft",
    "ReadOnlyOption",
    "ReadState",
    "Ready",
    "SoftState",
    "StateType",
]


class StateType(Enum):
    """A node's role; pre-candidate exists only with PreVote."""

    StateFollower = "StateFollower"
    StateCandidate = "StateCandidate"
    StateLeader = "StateLeader"
    StatePreCandidate = "StatePreCandidate"


class ProposalDropped(Exception):
    """Upstream's ErrProposalDropped: no leader, a transfer in progress, or a size limit."""


CAMPAIGN_PRE_ELECTION = "CampaignPreElection"
CAMPAIGN_ELECTION = "CampaignElection"


@dataclass(frozen=True)
class Config:
    """Parameters of one core. Defaults are etcd's server settings (etcdserver/raft.go):
    one tick per heartbeat interval, ElectionTick 10, 1 MiB messages, 512 in flight, CheckQuorum
    always on, PreVote on (the 3.5+ default; pass `pre_vote=False` for 3.4's default)."""

    id: int
    election_tick: int = 10
    heartbeat_tick: int = 1
    check_quorum: bool = True
    pre_vote: bool = True
    max_size_per_msg: int = 1024 * 1024
    max_inflight_msgs: int = 512
    max_uncommitted_entries_size: int = 0  # 0: no limit
    read_only_option: ReadOnlyOption = ReadOnlyOption.ReadOnlySafe
    disable_proposal_forwarding: bool = False
    step_down_on_removal: bool = True
    applied: int = 0  # last index the host had applied before a restart, if it kept state

    def __post_init__(self) -> None:
        if self.id == NONE:
            raise ValueError("cannot use none as id")
        if self.heartbeat_tick <= 0:
            raise ValueError("heartbeat tick must be greater than 0")
        if self.election_tick <= self.heartbeat_tick:
            raise ValueError("election tick must be greater than heartbeat tick")
        if self.max_inflight_msgs <= 0:
            raise ValueError("max inflight messages must be greater than 0")
        lease = self.read_only_option is ReadOnlyOption.ReadOnlyLeaseBased
        if lease and not self.check_quorum:
            raise ValueError(
                "CheckQuorum must be enabled when ReadOnlyOption is ReadOnlyLeaseBased"
            )


@dataclass(frozen=True)
class SoftState:
    """Volatile facts worth showing: who leads, and this node's role."""

    lead: int
    raft_state: StateType


@dataclass(frozen=True)
class ReadState:
    """A linearizable read may be served once the applied index reaches `index`."""

    index: int
    request_ctx: bytes


@dataclass(slots=True)
class Ready:
    """Work for the host, in this order: persist `snapshot`, `hard_state` and `entries`
    (durably when `must_sync`); then send `messages`; then apply `snapshot` and
    `committed_entries`; then call `advance(rd)`. Fields are None/empty when nothing changed.
    Read-only by convention (not frozen: one is made for nearly every message a node takes,
    and a frozen dataclass costs three times as much to build)."""

    soft_state: SoftState | None
    hard_state: HardState | None
    read_states: tuple[ReadState, ...]
    entries: tuple[Entry, ...]
    snapshot: Snapshot | None
    committed_entries: tuple[Entry, ...]
    messages: tuple[Message, ...]
    must_sync: bool


Logger = Callable[..., None]
"""`logger(event, **fields)`: how the core reports transitions (`became-leader term=2`)."""


class Raft:
    """One Raft node's decisions. All inputs are method calls; all outputs come from ready().

    Time enters only through tick() (one heartbeat interval each); randomness only through the
    `rng` given (the randomized election timeout). Not thread-safe; never blocks.
    """

    def __init__(
        self,
        config: Config,
        storage: Storage | None = None,
        *,
        rng: random.Random,
        logger: Logger | None = None,
    ) -> None:
        storage = storage if storage is not None else Storage()
        self.id = config.id
        self.config = config
        self.rng = rng
        self._logger = logger
        self.log = RaftLog(storage)
        self.term = 0
        self.vote = NONE
        self.lead = NONE
        self.state = StateType.StateFollower
        self.is_learner = False
        self.voters: tuple[int, ...] = ()
        self.learners: tuple[int, ...] = ()
        self.progress: dict[int, Progress] = {}
        self.votes: dict[int, bool] = {}
        self.msgs: list[Message] = []
        self.read_states: list[ReadState] = []
        self.lead_transferee = NONE
        self.pending_conf_index = 0
        self.uncommitted_size = 0
        self.read_only = ReadOnly(config.read_only_option)
        self.pending_read_index_messages: list[MsgReadIndex] = []
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self.election_timeout = config.election_tick
        self.heartbeat_timeout = config.heartbeat_tick
        self.randomized_election_timeout = config.election_tick

        self._restore_config(storage.snapshot.conf_state)
        hs = storage.hard_state
        if hs != HardState():
            if not self.log.committed <= hs.commit <= self.log.last_index():
                raise LogCorruption(f"hard state commit {hs.commit} is out of range")
            self.log.committed = hs.commit
            self.term, self.vote = hs.term, hs.vote
        if config.applied > 0:
            self.log.applied_to(config.applied)
        self._become_follower(self.term, NONE)
        self._prev_soft = self.soft_state()
        self._prev_hard = self.hard_state()
        self._logged_commit = self.log.committed

    # -- public inputs -----------------------------------------------------------------------
    def tick(self) -> None:
        """One tick (etcd: one heartbeat interval, 100 ms) has passed."""
        if self.state is StateType.StateLeader:
            self._tick_heartbeat()
        else:
            self._tick_election()
        self._note_commit()

    def step(self, m: Message) -> None:
        """Handle one message (from a peer, or local). Raises ProposalDropped for a refused
        MsgProp; other refusals are silent, as upstream."""
        try:
            self._step(m)
        finally:
            self._note_commit()

    def campaign(self) -> None:
        """Start an election now (PreVote first when enabled), as RawNode.Campaign."""
        self.step(MsgHup(from_=self.id))

    def propose(self, data: bytes) -> None:
        """Propose a normal entry. Raises ProposalDropped when it certainly won't be appended
        (a follower forwards it to its leader without knowing the outcome)."""
        self.step(MsgProp(from_=self.id, entries=(Entry(0, 0, data=data),)))

    def propose_conf_change(self, cc: ConfChange) -> None:
        """Propose a single-step membership change; it takes effect when applied (the host
        calls apply_conf_change). While another change is unapplied it becomes an empty entry."""
        entry = Entry(0, 0, type=EntryType.EntryConfChange, data=cc)
        self.step(MsgProp(from_=self.id, entries=(entry,)))

    def read_index(self, ctx: bytes) -> None:
        """Request a linearizable read; a ReadState carrying `ctx` comes back in a Ready."""
        self.step(MsgReadIndex(context=ctx))

    def transfer_leader(self, transferee: int) -> None:
        """Ask the leader (directly, or via this follower) to hand leadership to `transferee`."""
        self.step(MsgTransferLeader(from_=transferee))

    def report_unreachable(self, peer: int) -> None:
        """The transport failed to reach `peer` (a lost MsgApp is likely)."""
        self.step(MsgUnreachable(from_=peer))

    def report_snapshot(self, peer: int, *, ok: bool) -> None:
        """The transport finished (or failed) sending a snapshot to `peer`."""
        self.step(MsgSnapStatus(from_=peer, reject=not ok))

    def apply_conf_change(self, cc: ConfChange) -> ConfState:
        """Make an applied membership change effective; returns the new ConfState.

        Raises ValueError (changing nothing) if the change would leave no voter.
        """
        voters, learners = set(self.voters), set(self.learners)
        node = cc.node_id
        if node != NONE:  # a change for node 0 is a no-op, as upstream
            if cc.type is ConfChangeType.ConfChangeAddNode:  # add, or promote a learner
                learners.discard(node)
                voters.add(node)
            elif cc.type is ConfChangeType.ConfChangeAddLearnerNode:  # add, or demote
                voters.discard(node)
                learners.add(node)
            elif cc.type is ConfChangeType.ConfChangeRemoveNode:
                voters.discard(node)
                learners.discard(node)
        if not voters:
            raise ValueError("removed all voters")
        prs: dict[int, Progress] = {}
        for pid in voters | learners:  # a member keeps its progress across role changes
            pr = self.progress.get(pid) or self._new_progress(learner=pid in learners)
            pr.is_learner = pid in learners
            prs[pid] = pr
        cs = self._switch_to_config(voters, learners, prs)
        self._note_commit()
        return cs

    def create_snapshot(
        self, index: int, data: bytes, conf_state: ConfState | None = None
    ) -> Snapshot:
        """Record the host's snapshot of its state machine at applied index `index`; it is what
        lagging followers will be sent. `conf_state` defaults to the current membership."""
        if index > self.log.applied or index < self.log.snapshot.index:
            raise ValueError(f"snapshot index {index} out of range")
        term = self.log.term(index)
        if term is None:
            raise ValueError(f"snapshot index {index} is compacted")
        cs = conf_state if conf_state is not None else self.conf_state()
        self.log.snapshot = Snapshot(index=index, term=term, conf_state=cs, data=data)
        return self.log.snapshot

    def compact(self, index: int) -> None:
        """Discard log entries up to `index` (which the latest snapshot must cover)."""
        self.log.compact(index)

    # -- public outputs ----------------------------------------------------------------------
    def soft_state(self) -> SoftState:
        return SoftState(self.lead, self.state)

    def hard_state(self) -> HardState:
        return HardState(self.term, self.vote, self.log.committed)

    def conf_state(self) -> ConfState:
        return ConfState(self.voters, self.learners)

    def has_ready(self) -> bool:
        """True when ready() would return some work."""
        log = self.log
        if (
            self.msgs
            or self.read_states
            or log.unstable <= log.offset + len(log.entries)
            or log.pending_snapshot is not None
            or (log.applying < log.committed and not log.has_next_or_in_progress_snapshot())
        ):
            return True
        # soft or hard state changed (compared field by field: this runs after every input)
        soft, hard = self._prev_soft, self._prev_hard
        return (
            self.lead != soft.lead
            or self.state is not soft.raft_state
            or self.term != hard.term
            or self.vote != hard.vote
            or log.committed != hard.commit
        )

    def ready(self) -> Ready:
        """Hand over the pending work (see Ready). Call advance(rd) once it is done, before the
        next ready()."""
        log = self.log
        prev_soft, prev_hard = self._prev_soft, self._prev_hard
        soft = hard = None
        if self.lead != prev_soft.lead or self.state is not prev_soft.raft_state:
            soft = self._prev_soft = SoftState(self.lead, self.state)
        if (
            self.term != prev_hard.term
            or self.vote != prev_hard.vote
            or log.committed != prev_hard.commit
        ):
            hard = self._prev_hard = HardState(self.term, self.vote, log.committed)
        last = log.offset + len(log.entries)
        entries = tuple(log.unstable_entries()) if log.unstable <= last else ()
        committed = tuple(log.next_committed_entries())
        rd = Ready(
            soft_state=soft,
            hard_state=hard,
            read_states=tuple(self.read_states),
            entries=entries,
            snapshot=log.pending_snapshot,
            committed_entries=committed,
            messages=tuple(self.msgs),
            must_sync=bool(entries)
            or (hard is not None and (hard.term != prev_hard.term or hard.vote != prev_hard.vote)),
        )
        if self.read_states:
            self.read_states = []
        self.msgs = []
        log.unstable = last + 1
        if log.pending_snapshot is not None:
            log.snapshot_in_progress, log.pending_snapshot = log.pending_snapshot, None
        if committed:
            log.applying = committed[-1].index
        return rd

    def advance(self, rd: Ready) -> None:
        """The host persisted, sent and applied everything in `rd`."""
        log = self.log
        if rd.snapshot is not None and log.snapshot_in_progress is rd.snapshot:
            log.snapshot_in_progress = None
            log.applied_to(max(log.applied, rd.snapshot.index))
        if rd.committed_entries:
            log.applied_to(max(log.applied, rd.committed_entries[-1].index))
            self._reduce_uncommitted_size(entries_size(rd.committed_entries))

    @property
    def committed(self) -> int:
        return self.log.committed

    @property
    def applied(self) -> int:
        return self.log.applied

    def __repr__(self) -> str:
        return (
            f"<Raft {self.id} {self.state.value} term={self.term} lead={self.lead} "
            f"last={self.log.last_index()} commit={self.log.committed}>"
        )

    # -- internals: logging, sending ---------------------------------------------------------
    def _emit(self, event: str, **fields: Any) -> None:
        if self._logger is not None:
            self._logger(event, **fields)

    def _note_commit(self) -> None:
        if self.log.committed != self._logged_commit:
            self._logged_commit = self.log.committed
            self._emit("commit", index=self.log.committed, term=self.term)

    def _send(self, m: Message) -> None:
        self.msgs.append(m)

    # -- internals: state transitions --------------------------------------------------------
    def _reset(self, term: int) -> None:
        if self.term != term:
            self.term = term
            self.vote = NONE
        self.lead = NONE
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self._reset_randomized_election_timeout()
        self.lead_transferee = NONE
        self.votes = {}
        last = self.log.last_index()
        for pid, pr in self.progress.items():
            fresh = self._new_progress(learner=pr.is_learner, next_index=last + 1)
            if pid == self.id:
                fresh.match = last
            self.progress[pid] = fresh
        self.pending_conf_index = 0
        self.uncommitted_size = 0
        self.read_only = ReadOnly(self.read_only.option)

    def _reset_randomized_election_timeout(self) -> None:
        # Uniform in [ET, 2*ET-1], redrawn at every reset, as resetRandomizedElectionTimeout.
        self.randomized_election_timeout = self.election_timeout + self.rng.randrange(
            self.election_timeout
        )

    def _become_follower(self, term: int, lead: int) -> None:
        self._reset(term)
        self.lead = lead
        self.state = StateType.StateFollower
        self._emit("became-follower", term=self.term, lead=lead)

    def _become_pre_candidate(self) -> None:
        if self.state is StateType.StateLeader:
            raise RuntimeError("invalid transition [leader -> pre-candidate]")
        # Neither the term nor the vote changes: that is the point of PreVote.
        self.votes = {}
        self.lead = NONE
        self.state = StateType.StatePreCandidate
        self._emit("became-pre-candidate", term=self.term)

    def _become_candidate(self) -> None:
        if self.state is StateType.StateLeader:
            raise RuntimeError("invalid transition [leader -> candidate]")
        self._reset(self.term + 1)
        self.vote = self.id
        self.state = StateType.StateCandidate
        self._emit("became-candidate", term=self.term)

    def _become_leader(self) -> None:
        if self.state is StateType.StateFollower:
            raise RuntimeError("invalid transition [follower -> leader]")
        self._reset(self.term)
        self.lead = self.id
        self.state = StateType.StateLeader
        pr = self.progress[self.id]
        pr.become_replicate()
        pr.recent_active = True
        # Any entry in the log may be an unapplied conf change: refuse new ones until all of
        # them are applied (the fix for the single-server-change bug, with the no-op below).
        self.pending_conf_index = self.log.last_index()
        self._emit("became-leader", term=self.term)
        # The no-op of paper section 8: a new leader learns what is committed only by
        # committing an entry of its own term.
        self._append_entries([Entry(0, 0)])

    def _promotable(self) -> bool:
        pr = self.progress.get(self.id)
        return (
            pr is not None and not pr.is_learner and not self.log.has_next_or_in_progress_snapshot()
        )

    def _hup(self, campaign_type: str) -> None:
        if self.state is StateType.StateLeader:
            return
        if not self._promotable():
            self._emit("cannot-campaign", reason="not promotable")
            return
        if self.log.has_unapplied_conf_change():
            self._emit("cannot-campaign", reason="pending configuration changes to apply")
            return
        self._emit("starting-election", term=self.term)
        self._campaign(campaign_type)

    def _campaign(self, campaign_type: str) -> None:
        if campaign_type == CAMPAIGN_PRE_ELECTION:
            self._become_pre_candidate()
            vote_cls: type[MsgVote | MsgPreVote] = MsgPreVote
            term = self.term + 1  # PreVote asks about the next term without entering it
        else:
            self._become_candidate()
            vote_cls = MsgVote
            term = self.term
        # The self-vote counts at once: the host persists the vote before sending anything.
        if self._poll(self.id, True) is VoteResult.VoteWon:
            if campaign_type == CAMPAIGN_PRE_ELECTION:
                self._campaign(CAMPAIGN_ELECTION)
            else:
                self._become_leader()
            return
        ctx = CAMPAIGN_TRANSFER if campaign_type == CAMPAIGN_TRANSFER else ""
        last_index, last_term = self.log.last_index(), self.log.last_term()
        for vid in self.voters:
            if vid != self.id:
                self._send(
                    vote_cls(
                        to=vid,
                        from_=self.id,
                        term=term,
                        index=last_index,
                        log_term=last_term,
                        context=ctx,
                    )
                )

    def _poll(self, voter: int, granted: bool) -> VoteResult:
        self.votes.setdefault(voter, granted)
        return vote_result(self.voters, self.votes)

    # -- internals: ticks --------------------------------------------------------------------
    def _tick_election(self) -> None:
        self.election_elapsed += 1
        if self._promotable() and self.election_elapsed >= self.randomized_election_timeout:
            self.election_elapsed = 0
            self._step(MsgHup(from_=self.id))

    def _tick_heartbeat(self) -> None:
        self.heartbeat_elapsed += 1
        self.election_elapsed += 1
        if self.election_elapsed >= self.election_timeout:
            self.election_elapsed = 0
            if self.config.check_quorum:
                self._step(MsgCheckQuorum(from_=self.id))
            # A transfer that has not finished within an election timeout is abandoned.
            if self.state is StateType.StateLeader and self.lead_transferee != NONE:
                self._emit("abort-leader-transfer", to=self.lead_transferee)
                self.lead_transferee = NONE
        if self.state is not StateType.StateLeader:
            return
        if self.heartbeat_elapsed >= self.heartbeat_timeout:
            self.heartbeat_elapsed = 0
            self._step(MsgBeat(from_=self.id))

    # -- internals: step ---------------------------------------------------------------------
    def _step(self, m: Message) -> None:
        if m.term == 0:
            pass  # local message, or a forwarded MsgProp / MsgReadIndex
        elif m.term > self.term:
            if isinstance(m, MsgVote | MsgPreVote):
                force = m.context == CAMPAIGN_TRANSFER
                in_lease = (
                    self.config.check_quorum
                    and self.lead != NONE
                    and self.election_elapsed < self.election_timeout
                )
                if not force and in_lease:
                    # The vote lease: having heard from a leader within the (minimum) election
                    # timeout, ignore the request without even adopting its term.
                    self._emit("ignored-vote", msg=m.type, frm=m.from_, term=m.term, lease=True)
                    return
            match m:
                case MsgPreVote():
                    pass  # never change our term for a PreVote
                case MsgPreVoteResp(reject=False):
                    pass  # a granted pre-vote carries the future term we asked about
                case MsgApp() | MsgHeartbeat() | MsgSnap():
                    self._become_follower(m.term, m.from_)
                case _:
                    self._become_follower(m.term, NONE)
        elif m.term < self.term:
            if isinstance(m, MsgHeartbeat | MsgApp) and (
                self.config.check_quorum or self.config.pre_vote
            ):
                # A stale leader (or one we out-termed while partitioned): answer with our
                # term so that it steps down. Without this, a node whose term rose while cut
                # off could never rejoin, because vote leases make others ignore its votes.
                self._send(MsgAppResp(to=m.from_, from_=self.id, term=self.term))
            elif isinstance(m, MsgPreVote):
                self._send(MsgPreVoteResp(to=m.from_, from_=self.id, term=self.term, reject=True))
            return

        match m:
            case MsgHup():
                self._hup(CAMPAIGN_PRE_ELECTION if self.config.pre_vote else CAMPAIGN_ELECTION)
            case MsgVote() | MsgPreVote():
                self._handle_vote(m)
            case _ if self.state is StateType.StateLeader:
                self._step_leader(m)
            case _ if self.state is StateType.StateFollower:
                self._step_follower(m)
            case _:
                self._step_candidate(m)

    def _handle_vote(self, m: MsgVote | MsgPreVote) -> None:
        pre = isinstance(m, MsgPreVote)
        # Grant a repeat of our vote; or a first vote in a term where we know no leader; or
        # any PreVote for a future term. And only to a candidate at least as up to date.
        can_vote = (
            self.vote == m.from_
            or (self.vote == NONE and self.lead == NONE)
            or (pre and m.term > self.term)
        )
        resp_cls = VOTE_RESP[type(m)]
        if can_vote and self.log.is_up_to_date(m.index, m.log_term):
            # Learners vote too: one may have been promoted without having applied it yet.
            # The reply carries the request's term (for a PreVote, the future term).
            self._emit("cast-vote", msg=m.type, to=m.from_, term=m.term)
            self._send(resp_cls(to=m.from_, from_=self.id, term=m.term))
            if not pre:
                self.election_elapsed = 0
                self.vote = m.from_
        else:
            self._emit("rejected-vote", msg=m.type, to=m.from_, term=self.term)
            self._send(resp_cls(to=m.from_, from_=self.id, term=self.term, reject=True))

    def _step_follower(self, m: Message) -> None:
        match m:
            case MsgProp():
                if self.lead == NONE:
                    self._emit("dropped-proposal", reason="no leader")
                    raise ProposalDropped("no leader")
                if self.config.disable_proposal_forwarding:
                    raise ProposalDropped("proposal forwarding disabled")
                self._send(replace(m, to=self.lead))
            case MsgApp() | MsgHeartbeat() | MsgSnap():
                self.election_elapsed = 0
                self.lead = m.from_
                self._handle_from_leader(m)
            case MsgTransferLeader():
                if self.lead != NONE:
                    self._send(replace(m, to=self.lead))
            case MsgTimeoutNow():
                # A transfer campaign skips PreVote: we are not recovering from a partition.
                self._emit("received-timeout-now", frm=m.from_, term=self.term)
                self._hup(CAMPAIGN_TRANSFER)
            case MsgReadIndex():
                if self.lead != NONE:
                    self._send(replace(m, to=self.lead, from_=m.from_ or self.id))
            case MsgReadIndexResp():
                self.read_states.append(ReadState(m.index, m.context))

    def _step_candidate(self, m: Message) -> None:
        # Only responses to our current kind of candidacy count: a candidate may still get
        # stale MsgPreVoteResp from its pre-candidate phase.
        mine = MsgPreVoteResp if self.state is StateType.StatePreCandidate else MsgVoteResp
        match m:
            case MsgProp():
                self._emit("dropped-proposal", reason="no leader")
                raise ProposalDropped("no leader")
            case MsgApp() | MsgHeartbeat() | MsgSnap():
                self._become_follower(m.term, m.from_)  # m.term == self.term here
                self._handle_from_leader(m)
            case MsgVoteResp() | MsgPreVoteResp() if type(m) is mine:
                result = self._poll(m.from_, not m.reject)
                if result is VoteResult.VoteWon:
                    if self.state is StateType.StatePreCandidate:
                        self._campaign(CAMPAIGN_ELECTION)
                    else:
                        self._become_leader()
                        self._bcast_append()
                elif result is VoteResult.VoteLost:
                    # A rejected MsgPreVoteResp may carry a higher term than ours; keep ours.
                    self._become_follower(self.term, NONE)

    def _handle_from_leader(self, m: MsgApp | MsgHeartbeat | MsgSnap) -> None:
        match m:
            case MsgApp():
                self._handle_append_entries(m)
            case MsgHeartbeat():
                self._handle_heartbeat(m)
            case MsgSnap():
                self._handle_snapshot(m)

    # -- internals: follower handlers --------------------------------------------------------
    def _handle_append_entries(self, m: MsgApp) -> None:
        log = self.log
        if m.index < log.committed:
            # Everything up to our commit index is settled; tell the leader where we are.
            self._send(MsgAppResp(to=m.from_, from_=self.id, term=self.term, index=log.committed))
            return
        last_new = log.maybe_append(m.index, m.log_term, m.commit, m.entries)
        if last_new is not None:
            self._send(MsgAppResp(to=m.from_, from_=self.id, term=self.term, index=last_new))
            return
        # Reject, with a hint: the largest (index, term) in our log that can still match, i.e.
        # with term <= the leader's term at m.index. This skips our whole divergent tail of
        # higher terms in one round trip (the leader skips its own side in the same way).
        hint_index, hint_term = log.find_conflict_by_term(
            min(m.index, log.last_index()), m.log_term
        )
        self._send(
            MsgAppResp(
                to=m.from_,
                from_=self.id,
                term=self.term,
                index=m.index,
                reject=True,
                reject_hint=hint_index,
                log_term=hint_term,
            )
        )

    def _handle_heartbeat(self, m: MsgHeartbeat) -> None:
        self.log.commit_to(m.commit)
        self._send(MsgHeartbeatResp(to=m.from_, from_=self.id, term=self.term, context=m.context))

    def _handle_snapshot(self, m: MsgSnap) -> None:
        s = m.snapshot
        if self._restore(s):
            self._emit("restored-snapshot", index=s.index, term=s.term)
            index = self.log.last_index()
        else:
            self._emit("ignored-snapshot", index=s.index, term=s.term)
            index = self.log.committed
        self._send(MsgAppResp(to=m.from_, from_=self.id, term=self.term, index=index))

    def _restore(self, s: Snapshot) -> bool:
        if s.index <= self.log.committed:
            return False  # outdated: we already have (and committed) all of it
        if self.state is not StateType.StateFollower:
            self._become_follower(self.term + 1, NONE)  # defence in depth, never expected
            return False
        cs = s.conf_state
        if self.id not in cs.voters and self.id not in cs.learners:
            return False
        if self.log.match_term(s.index, s.term):
            # Our log already contains the snapshot's last entry: just fast-forward commit.
            self.log.commit_to(s.index)
            return False
        self.log.restore(s)
        self.progress = {}
        self.voters = self.learners = ()
        self._restore_config(cs)
        return True

    # -- internals: configuration ------------------------------------------------------------
    def _new_progress(self, *, learner: bool, next_index: int | None = None) -> Progress:
        nxt = next_index if next_index is not None else max(self.log.last_index(), 1)
        return Progress(
            match=0,
            next=nxt,
            max_inflight=self.config.max_inflight_msgs,
            is_learner=learner,
            recent_active=next_index is None,  # a newly added peer counts as active
        )

    def _restore_config(self, cs: ConfState) -> None:
        prs = {v: self._new_progress(learner=False) for v in cs.voters}
        prs.update({v: self._new_progress(learner=True) for v in cs.learners})
        self._switch_to_config(set(cs.voters), set(cs.learners), prs)

    def _switch_to_config(
        self, voters: set[int], learners: set[int], prs: dict[int, Progress]
    ) -> ConfState:
        self.voters, self.learners = tuple(sorted(voters)), tuple(sorted(learners))
        self.progress = {k: prs[k] for k in sorted(prs)}
        cs = self.conf_state()
        if cs.voters or cs.learners:
            self._emit("switched-configuration", voters=list(cs.voters), learners=list(cs.learners))
        pr = self.progress.get(self.id)
        self.is_learner = pr is not None and pr.is_learner
        if (pr is None or self.is_learner) and self.state is StateType.StateLeader:
            if self.config.step_down_on_removal:
                self._become_follower(self.term, NONE)
            return cs
        if self.state is not StateType.StateLeader or not cs.voters:
            return cs
        # The quorum may have shrunk (a removal can commit a pending entry) or grown.
        if self._maybe_commit():
            self._bcast_append()
        else:
            for pid in self.progress:
                if pid != self.id:
                    self._maybe_send_append(pid, send_if_empty=False)
        if self.lead_transferee != NONE and self.lead_transferee not in self.voters:
            self.lead_transferee = NONE
        return cs

    # -- internals: leader -------------------------------------------------------------------
    def _append_entries(self, ents: list[Entry] | tuple[Entry, ...]) -> bool:
        li = self.log.last_index()
        stamped = [
            Entry(self.term, li + 1 + i, type=e.type, data=e.data) for i, e in enumerate(ents)
        ]
        size = entries_size(stamped)
        limit = self.config.max_uncommitted_entries_size
        # An empty payload is never refused (the leader's no-op must always go in).
        if (
            limit
            and self.uncommitted_size > 0
            and size > 0
            and self.uncommitted_size + size > limit
        ):
            return False
        self.uncommitted_size += size
        li = self.log.append(stamped)
        # The leader's own log counts towards the quorum at once: the host persists these
        # entries before it sends anything (etcd-io/raft v3.4 does the same).
        self.progress[self.id].maybe_update(li)
        self._maybe_commit()
        return True

    def _reduce_uncommitted_size(self, size: int) -> None:
        self.uncommitted_size = max(0, self.uncommitted_size - size)

    def _maybe_commit(self) -> bool:
        """Advance the commit index to what a majority of voters stored, if that entry is of
        the current term (the commit rule of paper section 5.4.2)."""
        match = {v: self.progress[v].match for v in self.voters if v in self.progress}
        return self.log.maybe_commit(committed_index(self.voters, match), self.term)

    def _bcast_append(self) -> None:
        for pid in self.progress:
            if pid != self.id:
                self._maybe_send_append(pid, send_if_empty=True)

    def _bcast_heartbeat(self, ctx: int | None = None) -> None:
        context = self.read_only.heartbeat_ctx() if ctx is None else ctx
        for pid, pr in self.progress.items():
            if pid != self.id:
                # Never tell a follower to commit past what it is known to hold.
                commit = min(pr.match, self.log.committed)
                self._send(
                    MsgHeartbeat(
                        to=pid, from_=self.id, term=self.term, commit=commit, context=context
                    )
                )
                pr.sent_commit = commit

    def _maybe_send_append(self, to: int, *, send_if_empty: bool) -> bool:
        """Send `to` the entries it lacks (or just the commit index). Returns True if sent."""
        pr = self.progress[to]
        if pr.is_paused():
            return False
        log = self.log
        prev_index = pr.next - 1
        prev_term = log.term(prev_index)
        if prev_term is None:
            # The entries it needs are compacted away: only a snapshot can catch it up.
            return self._maybe_send_snapshot(to, pr)
        ents: list[Entry] = []
        # A throttled replicating follower gets only empty appends, to keep acks flowing.
        if pr.state is not ProgressState.StateReplicate or not pr.inflights.full():
            if pr.next <= log.last_index():
                ents = log.slice(pr.next, log.last_index() + 1, self.config.max_size_per_msg)
        if not ents and not send_if_empty:
            return False
        self._send(
            MsgApp(
                to=to,
                from_=self.id,
                term=self.term,
                index=prev_index,
                log_term=prev_term,
                entries=tuple(ents),
                commit=log.committed,
            )
        )
        pr.sent_entries(len(ents), entries_size(ents))
        pr.sent_commit = log.committed
        return True

    def _maybe_send_snapshot(self, to: int, pr: Progress) -> bool:
        if not pr.recent_active:
            return False  # don't stream a whole snapshot to a peer that seems to be down
        snap = self.log.snapshot
        pr.become_snapshot(snap.index)
        self._emit("sent-snapshot", to=to, index=snap.index, term=snap.term)
        self._send(MsgSnap(to=to, from_=self.id, term=self.term, snapshot=snap))
        return True

    def _send_timeout_now(self, to: int) -> None:
        self._send(MsgTimeoutNow(to=to, from_=self.id, term=self.term))

    def _committed_entry_in_current_term(self) -> bool:
        return self.log.term(self.log.committed) == self.term

    def _response_to_read_index(self, req: MsgReadIndex, index: int) -> None:
        if req.from_ in (NONE, self.id):
            self.read_states.append(ReadState(index, req.context))
        else:
            self._send(
                MsgReadIndexResp(
                    to=req.from_, from_=self.id, term=self.term, index=index, context=req.context
                )
            )

    def _send_read_index_response(self, m: MsgReadIndex) -> None:
        if self.read_only.option is ReadOnlyOption.ReadOnlySafe:
            # Remember the commit index now; answer once a quorum acknowledges a heartbeat
            # sent after this moment, proving we were still the leader when it was taken.
            self.read_only.add_request(self.log.committed, m)
            self.read_only.recv_ack(self.id, self.read_only.heartbeat_ctx())
            self._bcast_heartbeat()
        else:
            self._response_to_read_index(m, self.log.committed)

    def _release_pending_read_index(self) -> None:
        if self.pending_read_index_messages and self._committed_entry_in_current_term():
            pending, self.pending_read_index_messages = self.pending_read_index_messages, []
            for m in pending:
                self._send_read_index_response(m)

    def _step_leader(self, m: Message) -> None:
        # Messages that do not need a progress entry for their sender.
        match m:
            case MsgBeat():
                self._bcast_heartbeat()
                return
            case MsgCheckQuorum():
                self._check_quorum()
                return
            case MsgProp():
                self._leader_propose(m)
                return
            case MsgReadIndex():
                if self.voters == (self.id,):
                    self._response_to_read_index(m, self.log.committed)
                elif not self._committed_entry_in_current_term():
                    # Until its no-op commits, a new leader does not know the commit index.
                    self.pending_read_index_messages.append(m)
                else:
                    self._send_read_index_response(m)
                return
        pr = self.progress.get(m.from_)
        if pr is None:
            return
        match m:
            case MsgAppResp():
                self._handle_app_resp(m, pr)
            case MsgHeartbeatResp():
                pr.recent_active = True
                pr.msg_app_flow_paused = False
                if pr.match < self.log.last_index() or pr.state is ProgressState.StateProbe:
                    self._maybe_send_append(m.from_, send_if_empty=True)
                if self.read_only.option is ReadOnlyOption.ReadOnlySafe and m.context:
                    self.read_only.recv_ack(m.from_, m.context)
                    for req, index in self.read_only.maybe_advance(self.voters):
                        self._response_to_read_index(req, index)
            case MsgSnapStatus():
                if pr.state is not ProgressState.StateSnapshot:
                    return
                if m.reject:
                    pr.pending_snapshot = 0  # probe from match+1, not from the failed snapshot
                pr.become_probe()
                # Wait for the follower's MsgAppResp (or the next heartbeat) before sending.
                pr.msg_app_flow_paused = True
            case MsgUnreachable():
                if pr.state is ProgressState.StateReplicate:
                    pr.become_probe()
            case MsgTransferLeader():
                self._handle_transfer_leader(m, pr)

    def _check_quorum(self) -> None:
        """CheckQuorum: step down unless a quorum of voters was heard from since the last
        check (one election timeout ago); then start counting afresh."""
        active = {pid: pr.recent_active for pid, pr in self.progress.items() if not pr.is_learner}
        if vote_result(self.voters, active) is not VoteResult.VoteWon:
            self._emit("stepped-down", reason="quorum is not active", term=self.term)
            self._become_follower(self.term, NONE)
        for pid, pr in self.progress.items():
            if pid != self.id:
                pr.recent_active = False

    def _leader_propose(self, m: MsgProp) -> None:
        if self.id not in self.progress:
            raise ProposalDropped("leader was removed from the configuration")
        if self.lead_transferee != NONE:
            self._emit("dropped-proposal", reason="leader transfer in progress")
            raise ProposalDropped(f"transfer leadership to {self.lead_transferee} in progress")
        ents = list(m.entries)
        for i, e in enumerate(ents):
            if e.type is EntryType.EntryConfChange:
                if self.pending_conf_index > self.log.applied:
                    # One change at a time: an unapplied change may still be in the log.
                    self._emit("ignored-conf-change", pending=self.pending_conf_index)
                    ents[i] = Entry(0, 0)
                else:
                    self.pending_conf_index = self.log.last_index() + i + 1
        if not self._append_entries(ents):
            self._emit("dropped-proposal", reason="uncommitted size limit")
            raise ProposalDropped("uncommitted entries size limit")
        self._bcast_append()

    def _handle_app_resp(self, m: MsgAppResp, pr: Progress) -> None:
        pr.recent_active = True
        log = self.log
        if m.reject:
            next_probe = m.reject_hint
            if m.log_term > 0:
                # Skip every index where our term is above the follower's term at the hint:
                # none of them can match. At most one probe per term in our log.
                next_probe, _ = log.find_conflict_by_term(m.reject_hint, m.log_term)
            if pr.maybe_decr_to(m.index, next_probe):
                if pr.state is ProgressState.StateReplicate:
                    pr.become_probe()
                self._maybe_send_append(m.from_, send_if_empty=True)
            return
        if not (
            pr.maybe_update(m.index)
            or (pr.match == m.index and pr.state is ProgressState.StateProbe)
        ):
            return  # a stale or duplicated ack
        if pr.state is ProgressState.StateProbe:
            pr.become_replicate()
        elif pr.state is ProgressState.StateSnapshot and pr.match + 1 >= log.first_index():
            # The follower applied a snapshot (or caught up otherwise): resume from the log.
            pr.become_probe()
            pr.become_replicate()
        elif pr.state is ProgressState.StateReplicate:
            pr.inflights.free_le(m.index)
        if self._maybe_commit():
            self._release_pending_read_index()
            self._bcast_append()
        elif m.from_ != self.id and pr.can_bump_commit(log.committed):
            self._maybe_send_append(m.from_, send_if_empty=True)
        # Flow control may now allow more (size-limited) messages in flight.
        while self._maybe_send_append(m.from_, send_if_empty=False):
            pass
        if m.from_ == self.lead_transferee and pr.match == log.last_index():
            self._emit("sent-timeout-now", to=m.from_)
            self._send_timeout_now(m.from_)

    def _handle_transfer_leader(self, m: Message, pr: Progress) -> None:
        if pr.is_learner:
            return  # a learner cannot lead
        transferee = m.from_
        if self.lead_transferee != NONE:
            if self.lead_transferee == transferee:
                return  # already under way
            self._emit("abort-leader-transfer", to=self.lead_transferee)
            self.lead_transferee = NONE
        if transferee == self.id:
            return
        self._emit("transfer-leadership", to=transferee, term=self.term)
        # The transfer must finish within one election timeout (see _tick_heartbeat).
        self.election_elapsed = 0
        self.lead_transferee = transferee
        if pr.match == self.log.last_index():
            self._emit("sent-timeout-now", to=transferee)
            self._send_timeout_now(transferee)
        else:
            self._maybe_send_append(transferee, send_if_empty=True)
