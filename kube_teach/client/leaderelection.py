"""Leader election on a coordination.k8s.io Lease, on the simulated clock.

Semantics: client-go's tools/leaderelection (tryAcquireOrRenew with its optimistic fast path,
acquire with jittered retries, renew rounds that give up after renewDeadline) and
resourcelock.LeaseLock. A lease counts as expired by when this client last *saw the record
change*, never by the timestamps written in it, so the candidates' clocks need not agree.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from ..api.kinds import KINDS
from ..api.rest import Response, collection_path, object_path
from ..sim.clock import Timer
from ..sim.duration import SECOND
from ..sim.metrics import Metrics
from ..sim.network import Host
from ..sim.trace import Trace

JITTER_FACTOR = 1.2  # leaderelection.JitterFactor: acquire retries wait retryPeriod x [1, 2.2)
LEASES = KINDS["Lease"]
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class Client(Protocol):
    """What the elector needs of a REST client: send a request, hear back later."""

    host: Host

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        callback: Callable[[Response], None] | None = None,
    ) -> Any: ...


def format_micro_time(unix_ns: int) -> str:
    """metav1.MicroTime on the wire: `2025-01-01T00:00:12.345678Z`."""
    t = _EPOCH + dt.timedelta(microseconds=unix_ns // 1000)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_micro_time(text: str | None) -> int:
    """Unix nanoseconds from RFC 3339 with or without a fraction; 0 when absent or unreadable."""
    if not text:
        return 0
    base, _, frac = text.rstrip("Z").partition(".")
    try:
        t = dt.datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.UTC)
    except ValueError:
        return 0
    micros = int((frac + "000000")[:6]) if frac.isdigit() else 0
    return int((t - _EPOCH).total_seconds()) * SECOND + micros * 1000


@dataclass(frozen=True)
class LeaderElectionRecord:
    """resourcelock.LeaderElectionRecord: who holds the lock, for how long, since when."""

    holder_identity: str = ""
    lease_duration_seconds: int = 0
    acquire_time_ns: int = 0
    renew_time_ns: int = 0
    leader_transitions: int = 0

    def to_lease_spec(self) -> dict[str, Any]:
        """LeaderElectionRecordToLeaseSpec: the Lease's spec, times as MicroTime."""
        return {
            "holderIdentity": self.holder_identity,
            "leaseDurationSeconds": self.lease_duration_seconds,
            "acquireTime": format_micro_time(self.acquire_time_ns),
            "renewTime": format_micro_time(self.renew_time_ns),
            "leaseTransitions": self.leader_transitions,
        }

    @classmethod
    def from_lease_spec(cls, spec: Mapping[str, Any]) -> LeaderElectionRecord:
        """LeaseSpecToLeaderElectionRecord: absent fields read as zero values."""
        return cls(
            spec.get("holderIdentity") or "",
            int(spec.get("leaseDurationSeconds") or 0),
            parse_micro_time(spec.get("acquireTime")),
            parse_micro_time(spec.get("renewTime")),
            int(spec.get("leaseTransitions") or 0),
        )

    def raw(self) -> str:
        """The record as client-go marshals it to compare observations: metav1.Time keeps only
        whole seconds, so two renewals within one second look the same (an upstream quirk)."""
        return json.dumps(
            {
                "holderIdentity": self.holder_identity,
                "leaseDurationSeconds": self.lease_duration_seconds,
                "acquireTime": self.acquire_time_ns // SECOND,
                "renewTime": self.renew_time_ns // SECOND,
                "leaderTransitions": self.leader_transitions,
            },
            sort_keys=True,
        )


class LeaderElector:
    """One candidate for the lock `namespace/name`, identified by `identity`.

    `run()` tries to acquire every `retry_period` (jittered by JITTER_FACTOR, drawn from `rng`);
    on success it calls `on_started_leading()` and renews in rounds: each round retries every
    `retry_period` until a renewal succeeds or `renew_deadline` passes, and in the latter case
    it stops and calls `on_stopped_leading()`. Each request gives up after `request_timeout`
    (kube-controller-manager sets its leader-election client's timeout to renewDeadline).
    Durations are seconds. `leading` is True exactly between those two callbacks.
    """

    def __init__(
        self,
        client: Client,
        *,
        namespace: str,
        name: str,
        identity: str,
        epoch_ns: int = 0,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        request_timeout: float | None = None,
        rng: random.Random | None = None,
        on_started_leading: Callable[[], None] | None = None,
        on_stopped_leading: Callable[[], None] | None = None,
        on_new_leader: Callable[[str], None] | None = None,
        record_event: Callable[[Mapping[str, Any], str], None] | None = None,
        release_on_cancel: bool = False,
        trace: Trace | None = None,
        metrics: Metrics | None = None,
        component: str = "",
    ) -> None:
        if lease_duration <= renew_deadline:
            raise ValueError("leaseDuration must be greater than renewDeadline")
        if renew_deadline <= JITTER_FACTOR * retry_period:
            raise ValueError("renewDeadline must be greater than retryPeriod*JitterFactor")
        if lease_duration < 1 or renew_deadline < 1 or retry_period < 1:
            raise ValueError("leaseDuration, renewDeadline and retryPeriod must be at least 1s")
        if not identity:
            raise ValueError("Lock identity is empty")
        self.client = client
        self.host = client.host
        self.clock = client.host.net.clock
        self.namespace, self.name, self.identity = namespace, name, identity
        self.epoch_ns = epoch_ns
        self.lease_duration_ns = round(lease_duration * SECOND)
        self.renew_deadline_ns = round(renew_deadline * SECOND)
        self.retry_period_ns = round(retry_period * SECOND)
        self.request_timeout_ns = round((request_timeout or renew_deadline) * SECOND)
        self.rng = rng or random.Random(f"leaderelection/{identity}")
        self.on_started_leading = on_started_leading
        self.on_stopped_leading = on_stopped_leading
        self.on_new_leader = on_new_leader
        self.record_event = record_event
        self.release_on_cancel = release_on_cancel
        self.trace, self.metrics = trace, metrics
        self.component = component or identity
        # what this client last saw, and when (client-go's observedRecord/observedTime)
        self.observed_record = LeaderElectionRecord()
        self.observed_raw = ""
        self.observed_time_ns = 0
        self.reported_leader = ""
        self.leading = False
        self.running = False
        self._lease: dict[str, Any] | None = None  # the Lease as last read or written
        self._epoch = 0  # bumped on stop and on each new loop, so stale callbacks are ignored

    @property
    def lock_description(self) -> str:
        return f"{self.namespace}/{self.name}"

    def is_leader(self) -> bool:
        """The last record seen names this client (IsLeader)."""
        return self.observed_record.holder_identity == self.identity

    def leader(self) -> str:
        """The last observed holder (GetLeader); "" before anything is seen."""
        return self.observed_record.holder_identity

    def _now_unix_ns(self) -> int:
        return self.epoch_ns + self.clock.now_ns

    def _lease_valid(self, now_ns: int) -> bool:
        expiry = self.observed_time_ns + self.observed_record.lease_duration_seconds * SECOND
        return expiry > now_ns

    def _set_observed(self, record: LeaderElectionRecord) -> None:
        self.observed_record = record
        self.observed_time_ns = self.clock.now_ns

    # -- the loops -----------------------------------------------------------------------------
    def run(self) -> None:
        """Start campaigning (Run): acquire, then lead until a renewal round fails."""
        self.running = True
        self._epoch += 1
        self._emit("attempting-acquire", lease=self.lock_description)
        self._acquire_attempt(self._epoch)

    def stop(self) -> None:
        """Stop campaigning or leading, without callbacks (the process is going away).

        With `release_on_cancel`, a leader first writes a record with no holder and a 1 s
        lease, so that others need not wait out the lease."""
        was_leading = self.leading
        self.running = False
        self.leading = False
        self._epoch += 1
        self._gauge(0)
        if was_leading and self.release_on_cancel:
            self._release()

    def _acquire_attempt(self, epoch: int) -> None:
        def done(ok: bool) -> None:
            if epoch != self._epoch:
                return
            self._maybe_report_transition()
            if not ok:
                period = self.retry_period_ns
                delay = period + int(self.rng.random() * JITTER_FACTOR * period)
                self.host.call_later(delay / SECOND, lambda: self._acquire_attempt(epoch))
                return
            self.leading = True
            self._gauge(1)
            self._emit("became-leader", identity=self.identity, lease=self.lock_description)
            self._record("became leader")
            if self.on_started_leading is not None:
                self.on_started_leading()
            if epoch == self._epoch:
                self._renew_round(epoch)

        self._try_acquire_or_renew(epoch, done)

    def _renew_round(self, epoch: int) -> None:
        """One wait.Until step: poll immediately, then every retryPeriod, until renewDeadline."""
        deadline_ns = self.clock.now_ns + self.renew_deadline_ns
        state = {"finished": False}

        def attempt() -> None:
            if epoch != self._epoch or state["finished"]:
                return
            started = self.clock.now_ns
            self._try_acquire_or_renew(epoch, lambda ok: result(ok, started))

        def result(ok: bool, started: int) -> None:
            if epoch != self._epoch or state["finished"]:
                return
            if ok:
                state["finished"] = True
                self._maybe_report_transition()
                self.host.call_later(
                    self.retry_period_ns / SECOND, lambda: self._renew_round(epoch)
                )
                return
            next_ns = max(started + self.retry_period_ns, self.clock.now_ns)
            if next_ns < deadline_ns:
                self.host.call_later((next_ns - self.clock.now_ns) / SECOND, attempt)

        def timed_out() -> None:
            if epoch != self._epoch or state["finished"]:
                return
            state["finished"] = True
            self._maybe_report_transition()
            self._lost("timed out waiting for the condition")

        self.host.call_later(self.renew_deadline_ns / SECOND, timed_out)
        attempt()

    def _lost(self, why: str) -> None:
        self._epoch += 1
        self.leading = False
        self.running = False
        self._gauge(0)
        self._emit("stopped-leading", identity=self.identity, reason=why)
        self._record("stopped leading")
        if self.release_on_cancel:
            self._release()
        if self.on_stopped_leading is not None:
            self.on_stopped_leading()

    def _maybe_report_transition(self) -> None:
        holder = self.observed_record.holder_identity
        if holder == self.reported_leader:
            return
        self.reported_leader = holder
        self._emit("new-leader", holder=holder)
        if self.on_new_leader is not None:
            self.on_new_leader(holder)

    # -- tryAcquireOrRenew, one request at a time ----------------------------------------------
    def _try_acquire_or_renew(self, epoch: int, done: Callable[[bool], None]) -> None:
        now_ns = self._now_unix_ns()
        now_sim = self.clock.now_ns
        record = LeaderElectionRecord(
            self.identity, self.lease_duration_ns // SECOND, now_ns, now_ns, 0
        )

        def slow_path() -> None:
            self._call("GET", self._lease_path(), None, epoch, got)

        def got(resp: Response) -> None:
            if resp.code == 404:
                self._call("POST", self._collection(), self._lease_body(record), epoch, created)
                return
            if not resp.ok:
                done(False)
                return
            self._lease = copy.deepcopy(dict(resp.body))
            old = LeaderElectionRecord.from_lease_spec(resp.body.get("spec") or {})
            if old.raw() != self.observed_raw:
                self._set_observed(old)
                self.observed_raw = old.raw()
            if old.holder_identity and self._lease_valid(now_sim) and not self.is_leader():
                done(False)
                return
            if self.is_leader():
                new = replace(
                    record,
                    acquire_time_ns=old.acquire_time_ns,
                    leader_transitions=old.leader_transitions,
                )
            else:
                new = replace(record, leader_transitions=old.leader_transitions + 1)
            self._update(new, epoch, lambda ok: done(ok))

        def created(resp: Response) -> None:
            if not resp.ok:
                done(False)
                return
            self._lease = copy.deepcopy(dict(resp.body))
            self._set_observed(record)
            done(True)

        if self.is_leader() and self._lease_valid(now_sim) and self._lease is not None:
            fast = replace(
                record,
                acquire_time_ns=self.observed_record.acquire_time_ns,
                leader_transitions=self.observed_record.leader_transitions,
            )
            self._update(fast, epoch, lambda ok: done(True) if ok else slow_path())
            return
        slow_path()

    def _update(
        self, record: LeaderElectionRecord, epoch: int, done: Callable[[bool], None]
    ) -> None:
        """LeaseLock.Update: PUT the last Lease read with a new spec (its resourceVersion makes
        a concurrent writer's update fail with 409 Conflict)."""
        if self._lease is None:
            done(False)
            return
        body = copy.deepcopy(self._lease)
        body["spec"] = record.to_lease_spec()

        def updated(resp: Response) -> None:
            if not resp.ok:
                done(False)
                return
            self._lease = copy.deepcopy(dict(resp.body))
            self._set_observed(record)
            done(True)

        self._call("PUT", self._lease_path(), body, epoch, updated)

    def _release(self) -> None:
        if not self.is_leader() or self._lease is None:
            return
        now_ns = self._now_unix_ns()
        record = LeaderElectionRecord(
            "", 1, now_ns, now_ns, self.observed_record.leader_transitions
        )
        body = copy.deepcopy(self._lease)
        body["spec"] = record.to_lease_spec()
        self.client.request("PUT", self._lease_path(), body)
        self._set_observed(record)

    def _call(
        self,
        method: str,
        path: str,
        body: Any,
        epoch: int,
        then: Callable[[Response], None],
    ) -> None:
        """One request under the client's timeout; a late or stale answer is dropped."""
        pending: dict[str, Timer] = {}

        def answer(resp: Response) -> None:
            timer = pending.pop("timer", None)
            if timer is None:
                return  # answered already, or timed out
            timer.cancel()
            if epoch == self._epoch:
                then(resp)

        def expire() -> None:
            answer(Response(0, 0, "context deadline exceeded"))

        pending["timer"] = self.host.call_later(self.request_timeout_ns / SECOND, expire)
        self.client.request(method, path, body, answer)

    # -- plumbing ------------------------------------------------------------------------------
    def _collection(self) -> str:
        return collection_path(LEASES, self.namespace)

    def _lease_path(self) -> str:
        return object_path(LEASES, self.name, self.namespace)

    def _lease_body(self, record: LeaderElectionRecord) -> dict[str, Any]:
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": record.to_lease_spec(),
        }

    def _record(self, event: str) -> None:
        """LeaseLock.RecordEvent: `<identity> <event>` on the Lease, reason LeaderElection."""
        if self.record_event is not None and self._lease is not None:
            self.record_event(self._lease, f"{self.identity} {event}")

    def _emit(self, event: str, **fields: Any) -> None:
        if self.trace is not None:
            self.trace.emit(self.component, event, **fields)

    def _gauge(self, value: int) -> None:
        if self.metrics is not None:
            self.metrics.set(
                "leader_election_master_status", value, lease=self.name, instance=self.component
            )


__all__ = [
    "JITTER_FACTOR",
    "LeaderElectionRecord",
    "LeaderElector",
    "format_micro_time",
    "parse_micro_time",
]
