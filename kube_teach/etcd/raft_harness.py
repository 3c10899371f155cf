"""A deterministic driver running N Raft cores over the simulated network, one host each.

Each host ticks its core every heartbeat interval (100 ms, as etcd), persists each Ready's hard
state and entries to `host.disk` before sending anything, applies committed entries to a small
state machine (index -> data), and after a crash rebuilds the core from disk alone. The etcd
member host follows the same loop; tests use this one directly.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from kube_teach.sim import Clock, Host, Link, Network, Seeds, Trace, to_ns

from .log import Storage
from .messages import (
    ConfChange,
    Entry,
    EntryType,
    HardState,
    Message,
    MsgSnap,
    message_size,
)
from .raft import Config, ProposalDropped, Raft, ReadState, Ready, StateType

Watcher = Callable[["RaftNode", Ready], None]
"""Called with each Ready after it is persisted and before it is sent or applied."""

REQUEST_TYPES = ("MsgApp", "MsgHeartbeat", "MsgVote", "MsgPreVote", "MsgSnap", "MsgTimeoutNow")


class RaftNode:
    """The host of one core: a Raft on a simulated Host, with its disk and state machine.

    `raft` is None while the host is down. `sm` maps applied index -> data for non-empty normal
    entries (the "application"); it is volatile and rebuilt from the snapshot after a restart.
    """

    def __init__(self, harness: RaftHarness, node_id: int, host: Host) -> None:
        self.harness = harness
        self.id = node_id
        self.host = host
        self.name = host.name
        self.raft: Raft | None = None
        self.sm: dict[int, bytes] = {}
        self.applied_index = 0
        self.read_states: list[ReadState] = []  # answered ReadIndex requests, oldest first
        self.rng = harness.seeds.stream(f"raft/{self.name}")
        host.on_crash.append(self._on_crash)
        host.on_restart.append(self._boot)

    @property
    def up(self) -> bool:
        return self.host.up

    @property
    def storage(self) -> Storage:
        """The durable state on this host's disk."""
        return self.host.disk["raft"]

    def _boot(self) -> None:
        h = self.harness
        if "raft" not in self.host.disk:
            fresh = (
                Storage.bootstrap(h.initial_voters) if self.id in h.initial_voters else Storage()
            )
            self.host.disk["raft"] = fresh
        storage = self.storage
        cfg = Config(id=self.id, **h.raft_options)
        self.raft = Raft(cfg, storage, rng=self.rng, logger=self._log)
        self.sm = _decode(storage.snapshot.data)
        self.applied_index = storage.snapshot.index
        # Hosts start at different instants, so their ticks are not in lockstep.
        phase = h.rng.randrange(h.tick_ns)
        self.host.call_later(f"{phase}ns", self._start_ticking)
        self.drain()

    def _start_ticking(self) -> None:
        self.host.every(f"{self.harness.tick_ns}ns", self._tick)

    def _on_crash(self) -> None:
        self.raft = None  # volatile state is gone; host.disk stays
        self.sm = {}
        self.read_states = []

    def _log(self, event: str, **fields: Any) -> None:
        self.harness.trace.emit(self.name, event, **fields)

    def _tick(self) -> None:
        if self.raft is not None:
            self.raft.tick()
            self.drain()

    def receive(self, src: str, msg: Message) -> None:
        if self.raft is None:
            return
        try:
            self.raft.step(msg)
        except ProposalDropped:
            pass  # a forwarded proposal the leader refused; the proposer never learns
        self.drain()

    def propose(self, data: bytes) -> bool:
        """Propose on this node; False when the core dropped it at once."""
        return self._call(lambda r: r.propose(data))

    def propose_conf_change(self, cc: ConfChange) -> bool:
        return self._call(lambda r: r.propose_conf_change(cc))

    def read_index(self, ctx: bytes) -> bool:
        """Ask for a linearizable read; its ReadState lands in `read_states` once confirmed."""
        return self._call(lambda r: r.read_index(ctx))

    def transfer_leader(self, transferee: int) -> bool:
        return self._call(lambda r: r.transfer_leader(transferee))

    def _call(self, fn: Callable[[Raft], None]) -> bool:
        if self.raft is None:
            return False
        try:
            fn(self.raft)
            return True
        except ProposalDropped:
            return False
        finally:
            self.drain()

    def drain(self) -> None:
        """Do everything the core asks, persisting before sending, until it has no work."""
        raft = self.raft
        h = self.harness
        while raft is not None and raft.has_ready():
            rd = raft.ready()
            self.storage.save(rd.hard_state, rd.entries, rd.snapshot)
            for watch in h.watchers:
                watch(self, rd)
            if self.raft is not raft:
                return  # a watcher crashed this host: nothing after persisting happens
            self.read_states.extend(rd.read_states)
            unreachable = [m.to for m in rd.messages if not h._deliverable(self.name, m.to)]
            for m in rd.messages:
                self._send(m)
            if rd.snapshot is not None:
                self.sm = _decode(rd.snapshot.data)
                self.applied_index = rd.snapshot.index
            for e in rd.committed_entries:
                self._apply(raft, e)
            raft.advance(rd)
            for peer in dict.fromkeys(unreachable):
                raft.report_unreachable(peer)
            self._maybe_snapshot(raft)

    def _send(self, m: Message) -> None:
        h = self.harness
        dst = h.names.get(m.to)
        if dst is None:
            return
        h.messages_sent[m.type] += 1
        h.bytes_sent += message_size(m)
        h.net.send(self.name, dst, m)
        if isinstance(m, MsgSnap):
            # etcd's snapshot sender reports the outcome of its HTTP stream to raft.
            ok = h._deliverable(self.name, m.to)
            self.host.call_later(
                f"{h.tick_ns}ns", lambda: self._call(lambda r: r.report_snapshot(m.to, ok=ok))
            )

    def _apply(self, raft: Raft, e: Entry) -> None:
        if e.type is EntryType.EntryConfChange:
            assert isinstance(e.data, ConfChange)
            raft.apply_conf_change(e.data)
        elif isinstance(e.data, bytes) and e.data:
            self.sm[e.index] = e.data
        self.applied_index = e.index

    def _maybe_snapshot(self, raft: Raft) -> None:
        h = self.harness
        if h.snapshot_count is None:
            return
        if raft.applied - raft.log.snapshot.index < h.snapshot_count:
            return
        snap = raft.create_snapshot(raft.applied, _encode(self.sm))
        self.storage.save_snapshot(snap)
        # Keep some entries so that slightly slow followers catch up without a snapshot.
        compact_to = raft.applied - h.catch_up_entries
        if compact_to > raft.log.offset:
            raft.compact(compact_to)

    def __repr__(self) -> str:
        return f"<RaftNode {self.name} {self.raft!r}>"


class RaftHarness:
    """N simulated servers running Raft. Node ids are 1..n; host names are `etcd-<id>`.

    `raft_options` are Config fields (election_tick, pre_vote, check_quorum, ...). With
    `snapshot_count`, each node snapshots every that many applied entries and keeps
    `catch_up_entries` entries behind it (etcd: 100000/10000 and 5000).
    """

    def __init__(
        self,
        n: int = 3,
        *,
        seed: int | str = 0,
        clock: Clock | None = None,
        seeds: Seeds | None = None,
        trace: Trace | None = None,
        net: Network | None = None,
        link: Link | None = None,
        tick: str | float = "100ms",
        snapshot_count: int | None = None,
        catch_up_entries: int = 5,
        name_prefix: str = "etcd-",
        **raft_options: Any,
    ) -> None:
        self.clock = clock if clock is not None else Clock()
        self.seeds = seeds if seeds is not None else Seeds(seed)
        self.trace = trace if trace is not None else Trace(self.clock)
        self.net = net if net is not None else Network(self.clock, self.seeds, self.trace, link)
        self.rng = self.seeds.stream("raft-harness")
        self.tick_ns = to_ns(tick)
        self.raft_options = raft_options
        self.snapshot_count = snapshot_count
        self.catch_up_entries = catch_up_entries
        self.name_prefix = name_prefix
        self.initial_voters = tuple(range(1, n + 1))
        self.nodes: dict[int, RaftNode] = {}
        self.names: dict[int, str] = {}
        self.watchers: list[Watcher] = []
        self.messages_sent: Counter[str] = Counter()
        self.bytes_sent = 0
        self._groups: list[set[int]] = []
        self._disconnected: set[int] = set()
        self._partitioned = False
        for i in self.initial_voters:
            self._add(i)
        for node in list(self.nodes.values()):
            node._boot()

    def _add(self, node_id: int) -> RaftNode:
        name = f"{self.name_prefix}{node_id}"
        host = self.net.add_host(name, lambda src, msg, i=node_id: self.nodes[i].receive(src, msg))
        self.names[node_id] = name
        node = self.nodes[node_id] = RaftNode(self, node_id, host)
        return node

    def add_node(self, node_id: int) -> RaftNode:
        """Start a new, empty member (it joins once a ConfChangeAddNode for it is applied)."""
        node = self._add(node_id)
        self._apply_partition()
        node._boot()
        return node

    # -- running -----------------------------------------------------------------------------
    def run(self, seconds: float | str) -> None:
        self.clock.run(seconds)

    def run_until(self, predicate: Callable[[], bool], timeout: float | str = 10) -> bool:
        """Run until `predicate()` holds; False (not an exception) on timeout."""
        return self.clock.run_until(predicate, timeout, raise_on_timeout=False)

    @property
    def now(self) -> float:
        return self.clock.now

    # -- looking -----------------------------------------------------------------------------
    def up(self) -> list[RaftNode]:
        return [n for n in self.nodes.values() if n.raft is not None]

    def connected(self) -> list[int]:
        """Ids of nodes that are up and not disconnected (partitions aside)."""
        return [n.id for n in self.up() if n.id not in self._disconnected]

    def leaders(self) -> list[RaftNode]:
        return [n for n in self.up() if n.raft and n.raft.state is StateType.StateLeader]

    def leader(self, among: Iterable[int] | None = None) -> RaftNode | None:
        """The node believing itself leader with the highest term (among `among`, if given)."""
        keep = set(among) if among is not None else None
        found = [n for n in self.leaders() if keep is None or n.id in keep]
        return max(found, key=lambda n: n.raft.term if n.raft else 0) if found else None

    def start(self, data: bytes, among: Iterable[int] | None = None) -> tuple[int, int] | None:
        """Propose on the current leader, as 6.5840's Start: (index, term) it will occupy if it
        commits, or None when no leader accepted it."""
        node = self.leader(among)
        if node is None or node.raft is None:
            return None
        raft = node.raft
        term = raft.term
        if not node.propose(data) or node.raft is not raft or raft.term != term:
            return None
        return raft.log.last_index(), term

    # -- faults ------------------------------------------------------------------------------
    def crash(self, node_id: int) -> None:
        self.net.crash(self.names[node_id])

    def restart(self, node_id: int) -> None:
        self.net.restart(self.names[node_id])

    def disconnect(self, node_id: int) -> None:
        """Cut all of one node's links (it keeps running)."""
        self._disconnected.add(node_id)
        self._apply_partition()

    def connect(self, node_id: int) -> None:
        self._disconnected.discard(node_id)
        self._apply_partition()

    def partition(self, *groups: Iterable[int]) -> None:
        """Split nodes into groups that cannot reach each other; replaces earlier partitions
        (disconnected nodes stay disconnected)."""
        self._groups = [set(g) for g in groups]
        self._apply_partition()

    def heal(self) -> None:
        """Reconnect everything, undoing partitions and disconnects (not link settings)."""
        self._groups = []
        self._disconnected = set()
        self._apply_partition()

    def set_link(self, a: int, b: int, *, both_ways: bool = True, **changes: Any) -> None:
        """Change a link's behaviour (drop, duplicate, reorder, latency), as Network.set_link."""
        self.net.set_link(self.names[a], self.names[b], both_ways=both_ways, **changes)

    def set_all_links(self, **changes: Any) -> None:
        """Apply `changes` to every directed link between nodes (e.g. an unreliable network)."""
        ids = sorted(self.names)
        for a in ids:
            for b in ids:
                if a != b:
                    self.set_link(a, b, both_ways=False, **changes)

    def _apply_partition(self) -> None:
        groups = [g - self._disconnected for g in self._groups]
        rest = set(self.names) - self._disconnected - set().union(*self._groups)
        if self._disconnected and rest:
            groups.append(rest)
        groups += [{d} for d in sorted(self._disconnected)]
        groups = [g for g in groups if g]
        if len(groups) <= 1 and not self._groups:
            if self._partitioned:
                self.net.heal()
                self._partitioned = False
            return
        self.net.partition(*({self.names[i] for i in g} for g in groups))
        self._partitioned = True

    def _deliverable(self, src: str, dst_id: int) -> bool:
        dst = self.names.get(dst_id)
        return dst is not None and self.net.hosts[dst].up and self.net.reachable(src, dst)

    def __repr__(self) -> str:
        return f"<RaftHarness t={self.clock.now:g}s nodes={list(self.nodes.values())}>"


class SafetyViolation(AssertionError):
    """A Raft safety property failed; the message names the property and the nodes."""


class SafetyMonitor:
    """Checks Raft's safety properties on every Ready of every node of a harness.

    Election Safety (one leader per term), Leader Completeness (a new leader holds every
    entry applied anywhere), Log Matching (same index and term: same entry and same
    predecessor), State Machine Safety (one entry per index, applied in order, snapshots only
    forward), monotonic term/vote/commit per node across restarts, and the commit rule (a
    leader commits an entry of its own term, durably stored by a majority of its voters).
    Raises SafetyViolation at the first failure. Any group of hosts of the same shape works
    (`nodes`, `watchers`, `trace`, `now`): `etcd.cluster.EtcdCluster` is one.
    """

    def __init__(self, harness: RaftHarness) -> None:
        self.h = harness
        self.leaders: dict[int, str] = {}  # term -> name of its leader
        self.applied: dict[int, tuple[int, Any]] = {}  # index -> (term, data) applied somewhere
        self.entries: dict[tuple[int, int], tuple[Any, int | None]] = {}  # (i, t) -> (data, prev t)
        self.hard: dict[str, HardState] = {}
        self.by_name = {n.name: n for n in harness.nodes.values()}
        harness.watchers.append(self.on_ready)
        harness.trace.subscribe(self.on_event)

    def fail(self, what: str) -> None:
        raise SafetyViolation(f"t={self.h.now:.6f}s {what}")

    def on_event(self, ev: Any) -> None:
        if ev.event != "became-leader":
            return
        term = ev.fields["term"]
        prev = self.leaders.setdefault(term, ev.component)
        if prev != ev.component:
            self.fail(f"election safety: term {term} has leaders {prev} and {ev.component}")
        node = self.by_name.get(ev.component)
        if node is None:  # a node added after the monitor started
            self.by_name = {n.name: n for n in self.h.nodes.values()}
            node = self.by_name[ev.component]
        assert node.raft is not None
        log = node.raft.log
        for index in range(log.offset + 1, max(self.applied, default=0) + 1):
            want = self.applied.get(index)
            if want is not None and log.term(index) != want[0]:
                self.fail(
                    f"leader completeness: {ev.component} leads term {term} without the "
                    f"committed entry {index} (term {want[0]})"
                )

    def on_ready(self, node: RaftNode, rd: Ready) -> None:
        raft = node.raft
        assert raft is not None
        name = node.name
        hs = rd.hard_state
        if hs is not None:
            old = self.hard.get(name, HardState())
            if hs.term < old.term or hs.commit < old.commit:
                self.fail(f"monotonicity: {name} went from {old} to {hs}")
            if hs.term == old.term and old.vote and hs.vote != old.vote:
                self.fail(f"one vote per term: {name} voted {old.vote} then {hs.vote}")
            self.hard[name] = hs
            if raft.state is StateType.StateLeader and hs.commit > old.commit:
                self._check_commit(node, hs.commit)
        for e in rd.entries:
            key = (e.index, e.term)
            seen = (e.data, raft.log.term(e.index - 1))
            first = self.entries.setdefault(key, seen)
            if first != seen:
                self.fail(f"log matching: {name} has entry {key} = {seen}, elsewhere {first}")
        last = node.applied_index
        if rd.snapshot is not None:
            if rd.snapshot.index <= last:
                self.fail(f"apply order: {name} installs snapshot {rd.snapshot.index} <= {last}")
            last = rd.snapshot.index
        for e in rd.committed_entries:
            if e.index != last + 1:
                self.fail(f"apply order: {name} applies {e.index} after {last}")
            last = e.index
            first_applied = self.applied.setdefault(e.index, (e.term, e.data))
            if first_applied != (e.term, e.data):
                self.fail(
                    f"state machine safety: {name} applies {(e.term, e.data)!r} at {e.index}, "
                    f"another node applied {first_applied!r}"
                )

    def _check_commit(self, node: RaftNode, commit: int) -> None:
        raft = node.raft
        assert raft is not None
        term = raft.log.term(commit)
        if term != raft.term:
            self.fail(f"commit rule: leader {node.name} committed {commit} of term {term}")
        holders = 0
        for vid in raft.voters:
            peer = self.h.nodes.get(vid)
            disk = peer.host.disk.get("raft") if peer is not None else None
            if disk is None:
                continue
            if disk.snapshot.index >= commit:
                holders += 1
                continue
            k = commit - disk.snapshot.index - 1
            if 0 <= k < len(disk.entries) and disk.entries[k].term == term:
                holders += 1
        if 2 * holders <= len(raft.voters):
            self.fail(
                f"quorum: leader {node.name} committed {commit} stored by {holders} of "
                f"{len(raft.voters)} voters"
            )


def _encode(sm: dict[int, bytes]) -> bytes:
    return json.dumps({str(k): v.hex() for k, v in sm.items()}, sort_keys=True).encode()


def _decode(data: bytes) -> dict[int, bytes]:
    if not data:
        return {}
    raw = json.loads(data)
    return {int(k): bytes.fromhex(v) for k, v in sorted(raw.items(), key=lambda kv: int(kv[0]))}


__all__ = [
    "REQUEST_TYPES",
    "RaftHarness",
    "RaftNode",
    "SafetyMonitor",
    "SafetyViolation",
    "Watcher",
]
