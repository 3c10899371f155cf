"""The leader's bookkeeping of its followers, and of reads awaiting confirmation.

Semantics: etcd-io/raft tracker/ (Progress with its probe/replicate/snapshot states,
Inflights) and read_only.go (ReadIndex requests confirmed by a heartbeat quorum). Pure data
structures; the Raft core in raft.py drives them.
"""

from __future__ import annotations

from collections import deque
from enum import Enum

from .messages import MsgReadIndex
from .quorum import committed_index

__all__ = ["Inflights", "Progress", "ProgressState", "ReadOnly", "ReadOnlyOption"]


class ProgressState(Enum):
    """How the leader replicates to one follower (tracker.StateType upstream)."""

    StateProbe = "StateProbe"  # one MsgApp per heartbeat until the match point is found
    StateReplicate = "StateReplicate"  # pipelined MsgApps, bounded by Inflights
    StateSnapshot = "StateSnapshot"  # a snapshot is on its way; replication paused


class ReadOnlyOption(Enum):
    """How ReadIndex confirms leadership."""

    ReadOnlySafe = "ReadOnlySafe"  # ReadIndex confirmed by a heartbeat round (etcd's choice)
    ReadOnlyLeaseBased = "ReadOnlyLeaseBased"  # trust the CheckQuorum lease; clock-dependent


class Inflights:
    """A window of MsgApps in flight to one follower: the last index of each, and the bytes."""

    __slots__ = ("size", "max_bytes", "buf", "bytes")

    def __init__(self, size: int, max_bytes: int = 0) -> None:
        self.size = size
        self.max_bytes = max_bytes
        self.buf: deque[tuple[int, int]] = deque()
        self.bytes = 0

    def add(self, index: int, nbytes: int) -> None:
        if self.full():
            raise RuntimeError("cannot add into a full inflights")
        self.buf.append((index, nbytes))
        self.bytes += nbytes

    def free_le(self, to: int) -> None:
        """Forget the messages acknowledged by an ack of index `to`."""
        buf = self.buf
        while buf and buf[0][0] <= to:
            self.bytes -= buf.popleft()[1]

    def full(self) -> bool:
        return len(self.buf) >= self.size or bool(self.max_bytes and self.bytes >= self.max_bytes)

    def count(self) -> int:
        return len(self.buf)

    def reset(self) -> None:
        self.buf.clear()
        self.bytes = 0


class Progress:
    """The leader's view of one follower. Invariant: 0 <= match < next."""

    __slots__ = (
        "match",
        "next",
        "state",
        "pending_snapshot",
        "recent_active",
        "msg_app_flow_paused",
        "inflights",
        "is_learner",
        "sent_commit",
    )

    def __init__(
        self, *, match: int, next: int, max_inflight: int, is_learner: bool, recent_active: bool
    ) -> None:
        self.match = match
        self.next = next
        self.state = ProgressState.StateProbe
        self.pending_snapshot = 0
        self.recent_active = recent_active
        self.msg_app_flow_paused = False
        self.inflights = Inflights(max_inflight)
        self.is_learner = is_learner
        self.sent_commit = 0  # highest commit index sent; avoids re-sending it needlessly

    def _reset_state(self, state: ProgressState) -> None:
        self.msg_app_flow_paused = False
        self.pending_snapshot = 0
        self.state = state
        self.inflights.reset()

    def become_probe(self) -> None:
        # After a snapshot, probe from just past it (the follower should have it by now).
        if self.state is ProgressState.StateSnapshot:
            pending = self.pending_snapshot
            self._reset_state(ProgressState.StateProbe)
            self.next = max(self.match + 1, pending + 1)
        else:
            self._reset_state(ProgressState.StateProbe)
            self.next = self.match + 1
        self.sent_commit = min(self.sent_commit, self.next - 1)

    def become_replicate(self) -> None:
        self._reset_state(ProgressState.StateReplicate)
        self.next = self.match + 1

    def become_snapshot(self, snapshot_index: int) -> None:
        self._reset_state(ProgressState.StateSnapshot)
        self.pending_snapshot = snapshot_index
        self.next = snapshot_index + 1
        self.sent_commit = snapshot_index

    def sent_entries(self, n: int, nbytes: int) -> None:
        """Account for a MsgApp carrying `n` entries starting at `next`."""
        if self.state is ProgressState.StateReplicate:
            if n > 0:
                self.next += n
                self.inflights.add(self.next - 1, nbytes)
            self.msg_app_flow_paused = self.inflights.full()
        elif n > 0:  # a probe: wait for its answer (or a heartbeat response)
            self.msg_app_flow_paused = True

    def can_bump_commit(self, index: int) -> bool:
        return index > self.sent_commit and self.sent_commit < self.next - 1

    def maybe_update(self, n: int) -> bool:
        """An ack for index `n`; False when it is stale (not above match)."""
        if n <= self.match:
            return False
        self.match = n
        self.next = max(self.next, n + 1)
        self.msg_app_flow_paused = False
        return True

    def maybe_decr_to(self, rejected: int, match_hint: int) -> bool:
        """A rejection of the MsgApp at `rejected`; False when stale (reordered/duplicated)."""
        if self.state is ProgressState.StateReplicate:
            if rejected <= self.match:
                return False
            self.next = self.match + 1
            self.sent_commit = min(self.sent_commit, self.next - 1)
            return True
        # Probes go one at a time: a rejection not of the latest probe is stale.
        if self.next - 1 != rejected:
            return False
        self.next = max(min(rejected, match_hint + 1), self.match + 1)
        self.sent_commit = min(self.sent_commit, self.next - 1)
        self.msg_app_flow_paused = False
        return True

    def is_paused(self) -> bool:
        if self.state is ProgressState.StateSnapshot:
            return True
        return self.msg_app_flow_paused

    def __repr__(self) -> str:
        extra = " learner" if self.is_learner else ""
        return f"<Progress {self.state.value} match={self.match} next={self.next}{extra}>"


class ReadOnly:
    """Pending ReadIndex requests awaiting a heartbeat quorum (ReadOnlySafe).

    Requests are numbered in arrival order; a heartbeat's context is the number of the latest
    request at sending time, and a quorum of acks for number k confirms requests 1..k.
    """

    def __init__(self, option: ReadOnlyOption) -> None:
        self.option = option
        self.acks: dict[int, int] = {}
        self.unconfirmed: list[tuple[MsgReadIndex, int]] = []
        self.confirmed = 0

    def add_request(self, commit_index: int, req: MsgReadIndex) -> None:
        self.unconfirmed.append((req, commit_index))

    def recv_ack(self, frm: int, ctx: int) -> None:
        if ctx:
            self.acks[frm] = max(self.acks.get(frm, 0), ctx)

    def maybe_advance(self, voters: tuple[int, ...]) -> list[tuple[MsgReadIndex, int]]:
        """The requests a quorum has now confirmed, oldest first."""
        newly = committed_index(voters, self.acks)
        if newly <= self.confirmed:
            return []
        n = newly - self.confirmed
        done, self.unconfirmed = self.unconfirmed[:n], self.unconfirmed[n:]
        self.confirmed = newly
        return done

    def heartbeat_ctx(self) -> int:
        return self.confirmed + len(self.unconfirmed) if self.unconfirmed else 0
