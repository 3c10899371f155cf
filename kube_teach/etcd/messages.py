"""The values Raft cores exchange and persist: log entries, snapshots, hard state, messages.

One frozen dataclass per message type, named as etcd-io/raft's `raftpb` names them, so that a
trace reads like etcd's logs. Field meanings follow raftpb.Message; a field exists only on the
message types that use it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

NONE = 0
"""The node id meaning "nobody" (no leader, no vote), as upstream's `raft.None`."""

CAMPAIGN_TRANSFER = "CampaignTransfer"
"""The vote-request context of an election started by MsgTimeoutNow (leader transfer)."""


class EntryType(Enum):
    """What an entry's data is: application bytes, or a membership change."""

    EntryNormal = "EntryNormal"
    EntryConfChange = "EntryConfChange"


class ConfChangeType(Enum):
    """The single-step membership changes of raftpb.ConfChange."""

    ConfChangeAddNode = "ConfChangeAddNode"
    ConfChangeRemoveNode = "ConfChangeRemoveNode"
    ConfChangeUpdateNode = "ConfChangeUpdateNode"
    ConfChangeAddLearnerNode = "ConfChangeAddLearnerNode"


@dataclass(frozen=True, slots=True)
class ConfChange:
    """A single-step membership change (raftpb.ConfChange, the "v1" form etcd 3.4 uses).

    AddNode on an existing learner promotes it; AddLearnerNode on a voter demotes it.
    """

    type: ConfChangeType
    node_id: int
    context: bytes = b""


@dataclass(frozen=True, slots=True)
class Entry:
    """One log entry. `data` is opaque bytes for EntryNormal and a ConfChange for
    EntryConfChange. An EntryNormal with empty data is a leader's no-op (or a refused change)."""

    term: int
    index: int
    type: EntryType = EntryType.EntryNormal
    data: bytes | ConfChange = b""

    @property
    def size(self) -> int:
        """Payload bytes, the unit of MaxSizePerMsg and the uncommitted-size limit."""
        return len(self.data) if isinstance(self.data, bytes) else 16


def entries_size(entries: Iterable[Entry]) -> int:
    """The sum of `e.size` over `entries` (without a property call per entry)."""
    total = 0
    for e in entries:
        data = e.data
        total += len(data) if isinstance(data, bytes) else 16
    return total


@dataclass(frozen=True, slots=True)
class ConfState:
    """The membership as of some log index: sorted voter and learner ids."""

    voters: tuple[int, ...] = ()
    learners: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The application's state up to and including `index` (whose entry had `term`), with the
    membership at that point. `data` is opaque to Raft."""

    index: int = 0
    term: int = 0
    conf_state: ConfState = field(default_factory=ConfState)
    data: bytes = b""


@dataclass(frozen=True, slots=True)
class HardState:
    """What a node must persist before speaking: current term, vote in it, and commit index."""

    term: int = 0
    vote: int = NONE
    commit: int = 0


# -- messages ---------------------------------------------------------------------------------
# `term == 0` marks a local message (or a forwarded MsgProp/MsgReadIndex), which Raft steps
# without any term check, as upstream does.


@dataclass(frozen=True, kw_only=True, slots=True)
class Message:
    """Fields every message has: sender, receiver, and the sender's term (0 = local)."""

    to: int = NONE
    from_: int = NONE
    term: int = 0

    @property
    def type(self) -> str:
        """Upstream's message type name, e.g. "MsgApp"."""
        return type(self).__name__


@dataclass(frozen=True, kw_only=True, slots=True)
class MsgHup(Message):
    """Local: start an election now (a tick past the election timeout, or `campaign()`)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class MsgBeat(Message):
    """Local, leader only: send heartbeats now."""


@dataclass(frozen=True, kw_only=True, slots=True)
class MsgCheckQuorum(Message):
    """Local, leader only: step down unless a quorum was active in the last election timeout."""


@dataclass(frozen=True, kw_only=True, slots=True)
class MsgProp(Message):
    """A proposal: local, or forwarded by a follower to its leader (term 0)."""

    entries: tuple[Entry, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class MsgApp(Message):
    """AppendEntries: `entries` follow the entry (`index`, `log_term`); `commit` is the
    leader's commit index."""

    index: int = 0
    log_term: int = 0
    entries: tuple[Entry, ...] = ()
    commit: int = 0


@dataclass(frozen=True, kw_only=True, slots=True)
class MsgAppResp(Message):
    """Answer to MsgApp or MsgSnap. Accepted: the log matches the leader's up to `index`.
    Rejected: MsgApp at `index` did not match; the follower's guess of the longest match is
    (`reject_hint`, `log_term`), which drives fast backtracking."""

    index: int = 0
    reject: bool = False
    reject_hint: int = 0
    log_term: int = 0


@dataclass(frozen=True, kw_only=True, slots=True)
class MsgVote(Message):
    """RequestVote for `term`, from a candidate whose last entry is (`index`, `log_term`)."""

    index: int = 0
    log_term: int = 0
    context: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class MsgVoteResp(Message):
    reject: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class MsgPreVote(Message):
    """ "Would you vote for me in `term`?", asked without changing anyone's term."""

    index: int = 0
    log_term: int = 0
    context: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class MsgPreVoteResp(Message):
    reject: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class MsgSnap(Message):
    """InstallSnapshot: the whole snapshot in one message, as etcd streams it."""

    snapshot: Snapshot = field(default_factory=Snapshot)


@dataclass(frozen=True, kw_only=True, slots=True)
class MsgHeartbeat(Message):
    """Leader's heartbeat. `commit` is min(follower's match, leader's commit); `context` is the
    read-only round it confirms (0: none)."""

    commit: int = 0
    context: int = 0


@dataclass(frozen=True, kw_only=True, slots=True)
class MsgHeartbeatResp(Message):
    context: int = 0


@dataclass(frozen=True, kw_only=True, slots=True)
class MsgUnreachable(Message):
    """Local, leader only: the transport could not reach `from_`."""


@dataclass(frozen=True, kw_only=True, slots=True)
class MsgSnapStatus(Message):
    """Local, leader only: sending a snapshot to `from_` finished (or failed, `reject`)."""

    reject: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class MsgTransferLeader(Message):
    """Ask the leader to hand leadership to `from_` (an upstream quirk: the transferee travels
    in the From field). Followers forward it to their leader."""


@dataclass(frozen=True, kw_only=True, slots=True)
class MsgTimeoutNow(Message):
    """Leader to transferee: campaign now, skipping PreVote and vote leases."""


@dataclass(frozen=True, kw_only=True, slots=True)
class MsgReadIndex(Message):
    """A linearizable read request identified by `context`; followers forward it."""

    context: bytes = b""


@dataclass(frozen=True, kw_only=True, slots=True)
class MsgReadIndexResp(Message):
    """The leader's answer to a forwarded read: reads may be served once `index` is applied."""

    index: int = 0
    context: bytes = b""


VOTE_RESP = {MsgVote: MsgVoteResp, MsgPreVote: MsgPreVoteResp}


def message_size(m: Message) -> int:
    """A rough wire size in bytes (a fixed header plus payloads), for bandwidth accounting."""
    size = 64
    if isinstance(m, MsgApp | MsgProp):
        size += sum(e.size + 16 for e in m.entries)
    elif isinstance(m, MsgSnap):
        size += len(m.snapshot.data) + 8 * len(m.snapshot.conf_state.voters)
    return size
