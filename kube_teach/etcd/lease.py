"""Leases: grant, keepalive, revoke, time-to-live and expiry, as etcd 3.4's lessor keeps them.

Semantics: etcd 3.4 lease/lessor.go (TTL bounds, primary/demoted expiry, revoke order, the 3 s
retry of expired leases, promotion spreading) and etcdserver/v3_server.go plus pkg/idutil (how
the server picks a lease ID). The lessor never reads a clock: the host passes `now_ns`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .errors import (
    ERR_LEASE_EXIST,
    ERR_LEASE_NOT_FOUND,
    ERR_LEASE_TTL_TOO_LARGE,
    ERR_NOT_PRIMARY,
    EtcdError,
)

NO_LEASE = 0
MAX_LEASE_TTL = 9_000_000_000  # seconds; a larger grant fails with "too large lease TTL"
SECOND_NS = 1_000_000_000
MAX_INT64 = 2**63 - 1
LEASE_REVOKE_RATE = 1000  # leases per second the leader may revoke; expired() returns half
EXPIRED_LEASE_RETRY_INTERVAL_NS = 3 * SECOND_NS  # an expired lease is offered again after this
REVOKE_CHECK_INTERVAL_NS = (
    500 * 1_000_000
)  # the leader's lessor looks for expired leases this often


def min_lease_ttl(election_ticks: int = 10, heartbeat_ms: int = 100) -> int:
    """The smallest TTL a grant gets, in seconds: 1.5 election timeouts rounded up (2 by default).

    As etcdserver computes it: `(3 * election_ticks) // 2` heartbeats, then ceil to seconds.
    """
    min_ttl_ms = ((3 * election_ticks) // 2) * heartbeat_ms
    return math.ceil(min_ttl_ms / 1000)


class IDGenerator:
    """Unique 64-bit IDs as etcd's idutil makes them (request IDs, lease IDs chosen by the server).

    The top 2 bytes are the member ID's low 16 bits, the next 5 the start time in milliseconds,
    the last one a counter; each `next()` adds one to the low 6 bytes (the counter may carry into
    the time). Deterministic: the start time is the simulated `now_ns` the host passes.
    """

    def __init__(self, member_id: int, now_ns: int) -> None:
        self._prefix = (member_id & 0xFFFF) << 48
        self._suffix = ((now_ns // 1_000_000) & (2**40 - 1)) << 8

    def next(self) -> int:
        """The next unsigned 64-bit ID."""
        self._suffix += 1
        return self._prefix | (self._suffix & (2**48 - 1))

    def next_lease_id(self) -> int:
        """A lease ID as the server picks one for a grant with ID 0: positive, never 0."""
        lease_id = 0
        while lease_id == NO_LEASE:
            lease_id = self.next() & MAX_INT64
        return lease_id


@dataclass
class Lease:
    """One lease. `ttl` is the granted TTL in seconds; `expiry_ns` is None while it never expires
    (on a member that is not the leader, as etcd's `forever`). `keys` are the attached keys, in
    the order they were attached (a dict, so iteration is deterministic)."""

    id: int
    ttl: int
    expiry_ns: int | None = None
    remaining_ttl: int = 0  # a checkpointed remaining TTL; 0 means unset (checkpoints not modelled)
    keys: dict[bytes, None] = field(default_factory=dict)

    def remaining_ns(self, now_ns: int) -> int:
        """Nanoseconds until expiry (negative once past it); max int64 when it never expires."""
        if self.expiry_ns is None:
            return MAX_INT64
        return self.expiry_ns - now_ns

    def expired(self, now_ns: int) -> bool:
        """True once the expiry has been reached, as `Lease.expired` (remaining <= 0)."""
        return self.remaining_ns(now_ns) <= 0

    def effective_ttl(self) -> int:
        """The TTL a refresh counts from: the checkpointed remaining TTL when set, else `ttl`."""
        return self.remaining_ttl if self.remaining_ttl > 0 else self.ttl

    def refresh(self, now_ns: int, extend_ns: int = 0) -> None:
        """Expire `extend_ns` plus the effective TTL from now."""
        self.expiry_ns = now_ns + extend_ns + self.effective_ttl() * SECOND_NS


class Lessor:
    """The lease table of one member.

    Only a *primary* lessor (the leader's) counts time: it sets expiries on grant, renews on
    keepalive and reports expired leases; a demoted one keeps every lease forever, and `promote`
    restarts every clock at TTL + `extend_ns`, which is why a lease outlives its TTL across a leader
    change. Key attachment is kept both ways (lease -> keys, key -> lease) as upstream's itemMap.
    """

    def __init__(
        self, min_ttl: int = 2, *, primary: bool = False, revoke_rate: int = LEASE_REVOKE_RATE
    ) -> None:
        self.min_ttl = min_ttl
        self.primary = primary
        self.revoke_rate = revoke_rate  # leases per second (upstream makes it settable for tests)
        self._leases: dict[int, Lease] = {}
        self._item: dict[bytes, int] = {}
        # When each lease is next worth checking for expiry: its expiry, or, once `expired`
        # has returned it, the time it may be returned again (upstream's expired-lease notifier).
        self._due: dict[int, int] = {}

    # --- the replicated operations (applied from the Raft log on every member) -----------------

    def grant(self, lease_id: int, ttl: int, now_ns: int = 0) -> Lease:
        """Create a lease; a TTL below `min_ttl` is raised to it.

        Raises `EtcdError`: ID 0 -> requested lease not found (the server picks an ID before it
        proposes, so this only shows when a host forgets); TTL above 9e9 s -> too large lease TTL;
        an existing ID -> lease already exists.
        """
        if lease_id == NO_LEASE:
            raise EtcdError(ERR_LEASE_NOT_FOUND)
        if ttl > MAX_LEASE_TTL:
            raise EtcdError(ERR_LEASE_TTL_TOO_LARGE)
        if lease_id in self._leases:
            raise EtcdError(ERR_LEASE_EXIST)
        lease = Lease(lease_id, max(ttl, self.min_ttl))
        if self.primary:
            lease.refresh(now_ns)
            self._due[lease_id] = lease.expiry_ns
        self._leases[lease_id] = lease
        return lease

    def revoke(self, lease_id: int) -> list[bytes]:
        """Remove a lease and return its keys sorted, which the caller deletes in one revision.

        Sorted as upstream sorts them, so every member writes the deletions in the same order.
        Raises `EtcdError` (requested lease not found) for an unknown ID.
        """
        lease = self._leases.get(lease_id)
        if lease is None:
            raise EtcdError(ERR_LEASE_NOT_FOUND)
        keys = sorted(lease.keys)
        for key in keys:
            self._item.pop(key, None)
        del self._leases[lease_id]
        self._due.pop(lease_id, None)
        return keys

    def attach(self, lease_id: int, key: bytes) -> None:
        """Attach a key; raises `EtcdError` (requested lease not found) for an unknown lease."""
        lease = self._leases.get(lease_id)
        if lease is None:
            raise EtcdError(ERR_LEASE_NOT_FOUND)
        lease.keys[key] = None
        self._item[key] = lease_id

    def detach(self, lease_id: int, key: bytes) -> None:
        """Detach a key; raises `EtcdError` (requested lease not found) for an unknown lease."""
        lease = self._leases.get(lease_id)
        if lease is None:
            raise EtcdError(ERR_LEASE_NOT_FOUND)
        lease.keys.pop(key, None)
        self._item.pop(key, None)

    def get_lease(self, key: bytes) -> int:
        """The lease a key is attached to, or `NO_LEASE`."""
        return self._item.get(key, NO_LEASE)

    # --- leader-only, not replicated -----------------------------------------------------------

    def renew(self, lease_id: int, now_ns: int) -> int:
        """A keepalive: restart the lease's clock and return its TTL in seconds.

        Raises `EtcdError`: not a primary lessor (a follower forwards keepalives to the leader);
        requested lease not found for an unknown lease, and also for one already past its expiry,
        which upstream answers only once the pending revoke has gone through.
        """
        if not self.primary:
            raise EtcdError(ERR_NOT_PRIMARY)
        lease = self._leases.get(lease_id)
        if lease is None or lease.expired(now_ns):
            raise EtcdError(ERR_LEASE_NOT_FOUND)
        lease.refresh(now_ns)
        self._due[lease_id] = lease.expiry_ns
        return lease.ttl

    def expired(self, now_ns: int, limit: int | None = None) -> list[int]:
        """IDs of leases past their expiry that the leader should propose to revoke, oldest first.

        Empty on a non-primary lessor. As upstream's notifier, a lease returned here is not
        returned again for 3 s (`EXPIRED_LEASE_RETRY_INTERVAL_NS`) unless it is renewed, so a
        host polling every 500 ms proposes each revoke once and retries one that got lost.
        """
        if not self.primary:
            return []
        limit = self.revoke_rate // 2 if limit is None else limit
        due = sorted((t, lid) for lid, t in self._due.items() if t <= now_ns)
        found: list[int] = []
        for _, lease_id in due:
            lease = self._leases.get(lease_id)
            if lease is None or not lease.expired(now_ns):
                continue
            self._due[lease_id] = now_ns + EXPIRED_LEASE_RETRY_INTERVAL_NS
            found.append(lease_id)
            if len(found) == limit:
                break
        return found

    def promote(self, now_ns: int, extend_ns: int = 0) -> None:
        """Become primary (the member became leader): every lease expires TTL + `extend_ns` from
        now (etcd passes the election timeout). With 1000 leases or more, expiries that would
        pile up are spread so that at most 750 fall in any one second, as upstream does."""
        self.primary = True
        for lease in self._leases.values():
            lease.refresh(now_ns, extend_ns)
            self._due[lease.id] = lease.expiry_ns
        if len(self._leases) < self.revoke_rate:
            return
        leases = self.leases(now_ns)
        base = leases[0].remaining_ns(now_ns)
        next_window = base + SECOND_NS
        expires = 0
        target = (3 * self.revoke_rate) // 4
        for lease in leases:
            remaining = lease.remaining_ns(now_ns)
            if remaining > next_window:
                base, next_window, expires = remaining, remaining + SECOND_NS, 1
                continue
            expires += 1
            if expires <= target:
                continue
            delay = int(SECOND_NS * (expires / target) - (remaining - base))
            next_window = base + delay
            lease.refresh(now_ns, delay + extend_ns)
            self._due[lease.id] = lease.expiry_ns

    def demote(self) -> None:
        """Stop being primary: every lease lives forever until the next `promote`."""
        self.primary = False
        for lease in self._leases.values():
            lease.expiry_ns = None
        self._due.clear()

    # --- reads -----------------------------------------------------------------------------------

    def lookup(self, lease_id: int) -> Lease | None:
        """The lease with this ID, or None."""
        return self._leases.get(lease_id)

    def leases(self, now_ns: int = 0) -> list[Lease]:
        """All leases, soonest expiry first (ties by ID)."""
        return sorted(self._leases.values(), key=lambda le: (le.remaining_ns(now_ns), le.id))

    def time_to_live(self, lease_id: int, now_ns: int, keys: bool = False) -> dict:
        """`{"ID", "TTL", "grantedTTL", "keys"}`: TTL is the remaining whole seconds, truncated
        as Go's `int64(d.Seconds())`; keys (sorted) only when asked. Raises `EtcdError`
        (requested lease not found) for an unknown lease; the server turns that into TTL -1."""
        lease = self._leases.get(lease_id)
        if lease is None:
            raise EtcdError(ERR_LEASE_NOT_FOUND)
        remaining = lease.remaining_ns(now_ns)
        ttl = int(remaining / SECOND_NS) if remaining != MAX_INT64 else MAX_INT64 // SECOND_NS
        return {
            "ID": lease_id,
            "TTL": ttl,
            "grantedTTL": lease.ttl,
            "keys": sorted(lease.keys) if keys else [],
        }

    # --- persistence -----------------------------------------------------------------------------

    def records(self) -> list[list[int]]:
        """What the backend's `lease` bucket holds: `[id, ttl, remaining_ttl]` rows sorted by ID.

        Expiries and attached keys are not persisted: keys come back from the key-value store
        (each key records its lease) and expiries from the next `promote`.
        """
        return [[le.id, le.ttl, le.remaining_ttl] for _, le in sorted(self._leases.items())]

    @classmethod
    def from_records(cls, rows: list[list[int]], min_ttl: int = 2) -> Lessor:
        """A demoted lessor holding the leases of `records()` (TTLs raised to `min_ttl`)."""
        lessor = cls(min_ttl)
        for lease_id, ttl, remaining in rows:
            lessor._leases[lease_id] = Lease(lease_id, max(ttl, min_ttl), remaining_ttl=remaining)
        return lessor
