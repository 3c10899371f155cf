"""Auto-compaction as etcd's v3compactor runs it on the leader, as pure objects the host polls.

Semantics: etcd 3.4 etcdserver/api/v3compactor (periodic.go, revision.go) and the retention
parsing of embed/config.go. The host calls `due(now_ns)` on its clock and, when due,
`compact_to(now_ns, current_rev)`, which says at which revision to propose a compaction (or
None). Success is assumed; call `failed()` if the compaction failed with anything but "required
revision has been compacted" (which upstream counts as success), and the next wake-up retries.
"""

from __future__ import annotations

from ..sim.duration import HOUR, MINUTE, parse_duration

MODE_PERIODIC = "periodic"
MODE_REVISION = "revision"
REVISION_INTERVAL_NS = 5 * MINUTE  # the revision compactor wakes every 5 minutes
RETRY_DIVISOR = 10


def parse_retention(mode: str, retention: int | str) -> int:
    """`--auto-compaction-retention` as etcd reads it: a plain non-negative integer is hours in
    periodic mode and a revision count in revision mode; anything else is a Go duration
    (periodic). Returns nanoseconds (periodic) or revisions."""
    text = str(retention)
    if text.isdigit():
        return int(text) * HOUR if mode == MODE_PERIODIC else int(text)
    return parse_duration(text)


class PeriodicCompactor:
    """Keep the last `period` of history.

    Every period/10 (at most 6 min) it records the current revision, keeping period/interval + 1
    of them, so the oldest is the revision of one period ago. The first compaction comes one
    period after start, later ones every min(period, 1 h) after the last success.
    """

    def __init__(self, period_ns: int, now_ns: int, current_rev: int) -> None:
        if period_ns <= 0:
            raise ValueError("a periodic compactor needs a positive retention")
        self.period_ns = period_ns
        self.compact_interval_ns = min(period_ns, HOUR)
        self.retry_interval_ns = self.compact_interval_ns // RETRY_DIVISOR
        self.retentions = period_ns // self.retry_interval_ns + 1
        self.revs = [current_rev]
        self.last_success_ns = now_ns
        self._base_interval_ns = period_ns
        self.next_wake_ns = now_ns + self.retry_interval_ns
        self.paused = False
        self._undo: int | None = None

    def due(self, now_ns: int) -> bool:
        """True when the compactor's next wake-up time has come."""
        return now_ns >= self.next_wake_ns

    def compact_to(self, now_ns: int, current_rev: int) -> int | None:
        """Wake up: the revision to compact at now, or None. Records `current_rev` for later."""
        if not self.due(now_ns):
            return None
        target = None
        if not self.paused and now_ns - self.last_success_ns >= self._base_interval_ns:
            if self._base_interval_ns == self.period_ns:
                self._base_interval_ns = self.compact_interval_ns
            target = self.revs[0]
            self._undo, self.last_success_ns = self.last_success_ns, now_ns
        self.revs.append(current_rev)
        if len(self.revs) > self.retentions:
            self.revs = self.revs[1:]
        self.next_wake_ns = now_ns + self.retry_interval_ns
        return target

    def failed(self) -> None:
        """The last compaction failed: retry at the next wake-up."""
        if self._undo is not None:
            self.last_success_ns, self._undo = self._undo, None


class RevisionCompactor:
    """Keep the last `retention` revisions: every 5 minutes compact at current - retention,
    unless that is not positive or is where the last successful compaction was."""

    def __init__(self, retention: int, now_ns: int) -> None:
        self.retention = retention
        self.prev = 0
        self.next_wake_ns = now_ns + REVISION_INTERVAL_NS
        self.paused = False
        self._undo: int | None = None

    def due(self, now_ns: int) -> bool:
        """True when the compactor's next wake-up time has come."""
        return now_ns >= self.next_wake_ns

    def compact_to(self, now_ns: int, current_rev: int) -> int | None:
        """Wake up: the revision to compact at now, or None."""
        if not self.due(now_ns):
            return None
        self.next_wake_ns = now_ns + REVISION_INTERVAL_NS
        rev = current_rev - self.retention
        if self.paused or rev <= 0 or rev == self.prev:
            return None
        self._undo, self.prev = self.prev, rev
        return rev

    def failed(self) -> None:
        """The last compaction failed: the same revision may be tried again."""
        if self._undo is not None:
            self.prev, self._undo = self._undo, None


def new_compactor(
    mode: str, retention: int | str, now_ns: int, current_rev: int
) -> PeriodicCompactor | RevisionCompactor | None:
    """The compactor etcd starts for `--auto-compaction-mode`/`-retention`; None when the
    retention is 0 (the default: no auto-compaction)."""
    if mode not in (MODE_PERIODIC, MODE_REVISION):
        raise ValueError(f"unsupported compaction mode {mode}")
    value = parse_retention(mode, retention)
    if value == 0:
        return None
    if mode == MODE_PERIODIC:
        return PeriodicCompactor(value, now_ns, current_rev)
    return RevisionCompactor(value, now_ns)
