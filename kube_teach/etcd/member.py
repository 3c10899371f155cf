"""EtcdMember: the host that runs one Raft core, one MVCC store and its lessor on a simulated
machine, as etcd's server does.

Semantics: etcd 3.4/3.5 etcdserver/raft.go (persist each Ready before sending, leadership
bookkeeping, ticks, `--initial-election-tick-advance`), server.go (applying entries in order,
snapshots every `--snapshot-count` entries keeping `SnapshotCatchUpEntries`, leader-only lease
expiry and auto-compaction, stopping once removed) and apply.go via `MVCCStore.apply`. The
requests themselves are served in v3_server.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from kube_teach.sim import Host, Network, Seeds, Trace

from .errors import EtcdError
from .lease import REVOKE_CHECK_INTERVAL_NS, IDGenerator
from .log import Storage
from .member_apply import Applier
from .membership import RaftCluster, conf_change_context
from .messages import (
    NONE,
    ConfChange,
    ConfChangeType,
    Entry,
    EntryType,
    HardState,
    Message,
    MsgProp,
    MsgSnap,
)
from .mvcc import MVCCStore
from .mvcc_compactor import new_compactor
from .mvcc_txn import DEFAULT_MAX_REQUEST_BYTES, DEFAULT_MAX_TXN_OPS
from .raft import Config, ProposalDropped, Raft, Ready, SoftState, StateType
from .rpc import EntryCodec, LinkHeartbeat
from .v3_server import V3Server

MS = 1_000_000
SECOND = 1_000_000_000
CONN_READ_TIMEOUT_NS = 5 * SECOND  # rafthttp: a silent peer stream counts as broken after this
LINK_HEARTBEAT_NS = CONN_READ_TIMEOUT_NS // 3  # rafthttp keeps idle streams alive this often
BATCH_COMMIT_NS = 100 * MS  # the backend commits (and refreshes its sizes) this often
TICK_ADVANCE_DELAY_NS = 50 * MS  # adjustTicks waits for peer connections this long
SNAPSHOT_CATCH_UP_ENTRIES = 5000


@dataclass(frozen=True)
class MemberConfig:
    """etcd's server flags that matter here. Durations in nanoseconds. PreVote is on by
    default as in etcd 3.5+ (3.4's default was off); CheckQuorum is always on, as in etcd."""

    heartbeat_ns: int = 100 * MS
    election_ns: int = 1000 * MS
    pre_vote: bool = True
    snapshot_count: int = 100_000
    catch_up_entries: int = SNAPSHOT_CATCH_UP_ENTRIES
    quota_backend_bytes: int = 0  # 0: etcd's 2 GiB default; negative: no quota
    auto_compaction_mode: str | None = None
    auto_compaction_retention: str | int | None = None
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    max_txn_ops: int = DEFAULT_MAX_TXN_OPS
    strict_reconfig_check: bool = True
    max_size_per_msg: int = 1024 * 1024
    max_inflight_msgs: int = 4096 // 8

    @property
    def election_ticks(self) -> int:
        """ElectionTick: election timeout over heartbeat interval (10 by default)."""
        return max(2, self.election_ns // self.heartbeat_ns)

    @property
    def request_timeout_ns(self) -> int:
        """ReqTimeout: 5 s plus two election timeouts (7 s with the defaults)."""
        return 5 * SECOND + 2 * self.election_ns


@dataclass
class DataDir:
    """What survives a crash (the data dir): the WAL (`storage`), the backend (`store` with its
    membership and the index of the last entry applied to it) and a removed-member marker."""

    storage: Storage
    store: MVCCStore
    cluster: RaftCluster
    consistent_index: int = 0
    removed: bool = False


class EtcdMember(Applier, V3Server):
    """One etcd server on host `name` with Raft/member ID `member_id`.

    It ticks Raft every heartbeat interval, persists each Ready to `host.disk["raft"]` before
    sending its messages, applies committed entries in order to its MVCC store, and serves
    clients (v3_server.py). After a crash it restarts from its disk alone.

    `cluster` carries the cluster ID (and, with `bootstrap`, the initial members whose AddNode
    entries start the log, as `--initial-cluster-state new`); without `bootstrap` the member
    joins an existing cluster with an empty log. `peers` maps member IDs to host names for the
    transport. `watchers` are called with each Ready right after it is persisted (a
    SafetyMonitor hooks in there). `snapshot` is the backend a restored member starts from.
    Call `start()` once every initial member exists.
    """

    def __init__(
        self,
        name: str,
        member_id: int,
        *,
        net: Network,
        seeds: Seeds,
        trace: Trace,
        config: MemberConfig,
        cluster: RaftCluster,
        peers: dict[int, str],
        bootstrap: bool,
        codec: EntryCodec | None = None,
        watchers: list[Callable[[EtcdMember, Ready], None]] | None = None,
        snapshot: bytes | None = None,
    ) -> None:
        self.name = name
        self.id = member_id
        self.net = net
        self.clock = net.clock
        self.trace = trace
        self.config = config
        self.codec = codec if codec is not None else EntryCodec()
        self.watchers = watchers if watchers is not None else []
        self.rng = seeds.stream(f"raft/{name}")
        self._phase_rng = seeds.stream(f"etcd/{name}/ticks")
        self._initial_cluster = cluster
        self._initial_peers = dict(peers)
        self._bootstrap = bootstrap
        self._snapshot = snapshot  # a restored member's first backend (snapshot restore)
        self.raft: Raft | None = None
        self.applied_index = 0
        self.host: Host = net.add_host(name, self.receive)
        self.host.on_crash.append(self._on_crash)
        self.host.on_restart.append(self._boot)
        self._reset_volatile()

    def start(self) -> None:
        """Start the server (the cluster starts all initial members, then runs the clock)."""
        self._boot()

    # -- durable state -------------------------------------------------------------------------
    @property
    def data(self) -> DataDir:
        """This member's data dir on its host's disk (survives crashes)."""
        return self.host.disk["member"]

    @property
    def storage(self) -> Storage:
        """The persisted Raft state (hard state, log, snapshot): the WAL."""
        return self.host.disk["raft"]

    @property
    def store(self) -> MVCCStore:
        """The MVCC backend (durable; its watchers and lease clocks are not)."""
        return self.data.store

    @property
    def cluster(self) -> RaftCluster:
        """The membership as this member has applied it."""
        return self.data.cluster

    @property
    def up(self) -> bool:
        """True while the server runs (not crashed, not removed)."""
        return self.raft is not None

    def _new_store(self, snapshot: bytes | None = None) -> MVCCStore:
        cfg = self.config
        options: dict[str, Any] = dict(
            quota_backend_bytes=cfg.quota_backend_bytes,
            member_id=self.id,
            election_ticks=cfg.election_ticks,
            heartbeat_ms=cfg.heartbeat_ns // MS,
            max_txn_ops=cfg.max_txn_ops,
            max_request_bytes=cfg.max_request_bytes,
            start_ns=self.clock.now_ns,
            batch_commits=True,
        )
        if snapshot is None:
            return MVCCStore(**options)
        return MVCCStore.restore(snapshot, **options)

    def _initial_data(self) -> DataDir:
        cluster = RaftCluster(self._initial_cluster.cluster_id)
        storage = Storage()
        if self._bootstrap:
            # A new cluster's log starts with one committed AddNode per initial member, as
            # etcd's bootstrap writes them; applying them builds the membership everywhere.
            members = self._initial_cluster.sorted_members()
            ents = [
                Entry(
                    1,
                    i,
                    EntryType.EntryConfChange,
                    ConfChange(ConfChangeType.ConfChangeAddNode, m.id, conf_change_context(m)),
                )
                for i, m in enumerate(members, start=1)
            ]
            storage = Storage(hard_state=HardState(term=1, commit=len(ents)), entries=ents)
        return DataDir(storage, self._new_store(self._snapshot), cluster)

    # -- life cycle ----------------------------------------------------------------------------
    def _reset_volatile(self) -> None:
        """Forget everything a crash loses (the disk stays)."""
        self._init_applier()
        self._lead = NONE
        self._is_leader = False
        self._lead_elected_ns = 0
        self._last_heard: dict[int, int] = {}
        self._active_since: dict[int, int] = {}
        self._peers: dict[int, str] = dict(self._initial_peers)
        self._seen_proposals: dict[tuple, None] = {}
        self.compactor: Any = None
        self._init_server()

    def _boot(self) -> None:
        disk = self.host.disk
        if "member" not in disk:
            dd = self._initial_data()
            disk["member"], disk["raft"] = dd, dd.storage
        dd = self.data
        if dd.removed:
            self._emit("refused-to-start", reason="the member has been permanently removed")
            return
        self._reset_volatile()
        store = dd.store
        # Volatile parts of the backend's in-memory view: watchers and lease clocks.
        store.watches = type(store.watches)(store)
        store.lessor.demote()
        cfg = self.config
        self._ids = IDGenerator(self.id, self.clock.now_ns)
        raft_cfg = Config(
            id=self.id,
            election_tick=cfg.election_ticks,
            heartbeat_tick=1,
            check_quorum=True,
            pre_vote=cfg.pre_vote,
            max_size_per_msg=cfg.max_size_per_msg,
            max_inflight_msgs=cfg.max_inflight_msgs,
            applied=dd.consistent_index,
        )
        raft = Raft(raft_cfg, dd.storage, rng=self.rng, logger=self._emit)
        self.raft = raft
        self._sync_conf_state(raft)
        self.applied_index = raft.applied
        for m in dd.cluster.members.values():
            if m.id != self.id and m.host:
                self._peers[m.id] = m.host
        if cfg.auto_compaction_mode and cfg.auto_compaction_retention not in (None, 0, "0"):
            self.compactor = new_compactor(
                cfg.auto_compaction_mode,
                cfg.auto_compaction_retention,  # type: ignore[arg-type]
                self.clock.now_ns,
                store.current_rev,
            )
            if self.compactor is not None:
                self.compactor.paused = True
        # Hosts start at different instants, so their ticks are not in lockstep.
        phase = self._phase_rng.randrange(cfg.heartbeat_ns)
        self._at(self.clock.now_ns + phase, self._start_timers)
        self._advance_polls = 0
        self._at(self.clock.now_ns + TICK_ADVANCE_DELAY_NS, self._advance_ticks)
        self._at(self.clock.now_ns + phase, self._publish)
        self._drain()

    def _sync_conf_state(self, raft: Raft) -> None:
        """After a restart, make the core's membership what the backend has applied (the log
        before the consistent index is not replayed)."""
        cluster = self.data.cluster
        voters = {m.id for m in cluster.members.values() if not m.is_learner}
        learners = {m.id for m in cluster.members.values() if m.is_learner}
        if not voters or (set(raft.voters), set(raft.learners)) == (voters, learners):
            return
        changes = [ConfChange(ConfChangeType.ConfChangeAddNode, v) for v in sorted(voters)]
        changes += [
            ConfChange(ConfChangeType.ConfChangeAddLearnerNode, v) for v in sorted(learners)
        ]
        gone = (set(raft.voters) | set(raft.learners)) - voters - learners
        changes += [ConfChange(ConfChangeType.ConfChangeRemoveNode, v) for v in sorted(gone)]
        for cc in changes:
            raft.apply_conf_change(cc)

    def _start_timers(self) -> None:
        cfg = self.config
        self.host.every(f"{cfg.heartbeat_ns}ns", self._tick)
        self.host.every(f"{REVOKE_CHECK_INTERVAL_NS}ns", self._leader_duties)
        self.host.every(f"{BATCH_COMMIT_NS}ns", self._batch_commit)
        self.host.every("10m", self._progress_notify)  # progressReportInterval
        self._no_leader_checks = 0
        self.host.every(f"{cfg.election_ns}ns", self._monitor_leader)
        if len(self._peers) > 0:
            self.host.every(f"{LINK_HEARTBEAT_NS}ns", self._link_heartbeat)

    def _advance_ticks(self) -> None:
        """adjustTicks (--initial-election-tick-advance): a lone member skips all but one tick
        of its first election timeout; otherwise, once peer streams report in (polled every
        50 ms for up to 5 s), all but two, so a slow leader's first heartbeat still counts."""
        raft = self.raft
        if raft is None:
            return
        if len(raft.voters) <= 1 and not self._peers:
            ticks = self.config.election_ticks - 1
        else:
            if self._advance_polls == 0:
                self._link_heartbeat()  # rafthttp dials every peer at start-up
            active = sum(1 for p in self._peers if self.active_since(p) is not None)
            if active <= 1:
                self._advance_polls += 1
                if self._advance_polls < CONN_READ_TIMEOUT_NS // TICK_ADVANCE_DELAY_NS:
                    self._at(self.clock.now_ns + TICK_ADVANCE_DELAY_NS, self._advance_ticks)
                return
            ticks = self.config.election_ticks - 2
        for _ in range(max(0, ticks)):
            raft.tick()
        self._drain()

    def _on_crash(self) -> None:
        self.raft = None
        self._fail_everything()
        self._reset_volatile()

    def _emit(self, event: str, **fields: Any) -> None:
        self.trace.emit(self.name, event, **fields)

    def _at(self, when_ns: int, fn: Callable[[], object]) -> None:
        """A timer that dies with this host's incarnation (as `Host.call_later`)."""
        host, incarnation = self.host, self.host.incarnation

        def run() -> None:
            if host.up and host.incarnation == incarnation:
                fn()

        self.clock.call_at(max(when_ns, self.clock.now_ns), run)

    # -- periodic work -------------------------------------------------------------------------
    def _tick(self) -> None:
        if self.raft is not None:
            self.raft.tick()
            self._drain()

    def _batch_commit(self) -> None:
        if self.raft is not None:
            self.store.commit()

    def _link_heartbeat(self) -> None:
        if self.raft is None:
            return
        for pid in sorted(self._peers):
            if pid != self.id:
                self.net.send(self.name, self._peers[pid], LinkHeartbeat(self.id))

    def _leader_duties(self) -> None:
        """Every 500 ms on the leader: propose revoking expired leases (only a promoted lessor
        reports any) and run the auto-compactor."""
        if self.raft is None or not self._is_leader:
            return
        now = self.clock.now_ns
        for lease_id in self.store.expired_leases(now):
            self._emit("revoke-expired-lease", lease=lease_id)
            self.propose("lease_revoke", {"ID": lease_id}, None)
        c = self.compactor
        if c is not None and c.due(now):
            rev = c.compact_to(now, self.store.current_rev)
            if rev is not None:
                self._emit("auto-compact", revision=rev)

                def done(resp: dict | None, err: EtcdError | None) -> None:
                    if err is not None and "compacted" not in err.message:
                        c.failed()

                self.propose("compaction", {"revision": rev}, done)

    def _publish(self) -> None:
        """Publish this member's name and client URL through Raft until it is applied."""
        if self.raft is None:
            return

        def done(resp: dict | None, err: EtcdError | None) -> None:
            if err is not None:
                self._at(self.clock.now_ns + 500 * MS, self._publish)

        body = {"ID": self.id, "name": self.name, "clientURLs": [f"http://{self.name}:2379"]}
        self.propose("cluster_member_attr_set", body, done)

    # -- messages ------------------------------------------------------------------------------
    def receive(self, src: str, msg: object) -> None:
        """A message from the network: Raft traffic from a peer, or a client/peer call."""
        raft = self.raft
        if raft is None:
            return
        if isinstance(msg, Message):
            frm = msg.from_
            if frm in self.host.disk["member"].cluster.removed:
                return  # rafthttp refuses removed members
            # self._heard(frm, src), inline: it runs for every Raft message
            now = self.clock.now_ns
            last = self._last_heard.get(frm)
            if last is None or now - last > CONN_READ_TIMEOUT_NS:
                self._active_since[frm] = now
            self._last_heard[frm] = now
            if frm not in self._peers:
                self._peers[frm] = src
            if isinstance(msg, MsgProp) and self._duplicate_proposal(msg):
                return
            try:
                raft.step(msg)
            except ProposalDropped:
                pass  # a forwarded proposal the leader refused; its proposer times out
            self._drain()
        elif isinstance(msg, LinkHeartbeat):
            self._heard(msg.from_, src)
        else:
            self._serve(src, msg)

    def _duplicate_proposal(self, msg: MsgProp) -> bool:
        """Peer streams are TCP: a forwarded proposal never arrives twice. The simulated
        network may duplicate it; appending it twice would apply one request twice."""
        key = tuple(e.data for e in msg.entries)
        seen = self._seen_proposals
        if key in seen:
            return True
        seen[key] = None
        if len(seen) > 4096:
            for k in list(seen)[:2048]:
                del seen[k]
        return False

    def _heard(self, peer: int, src: str) -> None:
        now = self.clock.now_ns
        last = self._last_heard.get(peer)
        if last is None or now - last > CONN_READ_TIMEOUT_NS:
            self._active_since[peer] = now
        self._last_heard[peer] = now
        if peer not in self._peers:
            self._peers[peer] = src

    def active_since(self, peer: int) -> int | None:
        """When the stream from `peer` became active; None while it is inactive."""
        if peer == self.id:
            return 0
        host = self.net.hosts.get(self._peers.get(peer, ""))
        if host is None or not host.up:
            return None  # a dead peer refuses connections: its stream breaks at once
        last = self._last_heard.get(peer)
        if last is None or self.clock.now_ns - last > CONN_READ_TIMEOUT_NS:
            return None
        return self._active_since[peer]

    def _connected_since(self, peer: int, since_ns: int) -> bool:
        t = self.active_since(peer)
        return t is not None and t <= since_ns

    def _send(self, m: Message) -> None:
        dst = self._peers.get(m.to)
        if dst is None:
            return
        if isinstance(m, MsgSnap):
            m = replace(m, snapshot=self._merged_snapshot())
            self._emit("sent-merged-snapshot", to=m.to, index=m.snapshot.index)
            ok = self._deliverable(dst)
            to = m.to

            def report() -> None:
                if self.raft is not None:
                    self.raft.report_snapshot(to, ok=ok)
                    self._drain()

            self._at(self.clock.now_ns + self.config.heartbeat_ns, report)
        self.net.send(self.name, dst, m)

    def _deliverable(self, dst: str) -> bool:
        host = self.net.hosts.get(dst)
        return host is not None and host.up and self.net.reachable(self.name, dst)

    # -- the Ready loop ------------------------------------------------------------------------
    def _drain(self) -> None:
        """Do everything the core asks, persisting before sending, until it has no work."""
        raft = self.raft
        if raft is None or not raft.has_ready():
            return
        applied_any = False
        storage, peers, net, name = self.storage, self._peers, self.net, self.name
        hosts, reachable = net.hosts, net.reachable
        while True:
            rd = raft.ready()
            storage.save(rd.hard_state, rd.entries, rd.snapshot)
            for watch in self.watchers:
                watch(self, rd)
            if self.raft is not raft:
                return  # a watcher crashed this host: nothing after persisting happens
            if rd.soft_state is not None:
                self._on_soft_state(rd.soft_state)
            unreachable: list[int] | None = None
            for m in rd.messages:
                dst = peers.get(m.to)
                if dst is None:
                    continue  # no address for this peer: nothing to send
                host = hosts.get(dst)  # self._deliverable(dst), inline
                if host is None or not host.up or not reachable(name, dst):
                    if unreachable is None:
                        unreachable = []
                    unreachable.append(m.to)
                if isinstance(m, MsgSnap):
                    self._send(m)
                else:
                    net.send(name, dst, m)
            if rd.snapshot is not None:
                self._apply_snapshot(rd.snapshot)
                applied_any = True
            if rd.committed_entries:
                self._apply_entries(raft, rd.committed_entries)
                if self.raft is not raft:
                    return  # removed from the cluster: stopped
                applied_any = True
            if rd.read_states:
                self._on_read_states(rd.read_states)
            raft.advance(rd)
            if unreachable:
                for peer in dict.fromkeys(unreachable):
                    raft.report_unreachable(peer)
            self._maybe_snapshot(raft)
            if not raft.has_ready():
                break
        if applied_any:
            self._after_apply()

    def _on_soft_state(self, ss: SoftState) -> None:
        new_leader = ss.lead != NONE and ss.lead != self._lead
        self._lead = ss.lead
        self._is_leader = ss.raft_state is StateType.StateLeader
        if not self._is_leader:
            self.store.lessor.demote()
            if self.compactor is not None:
                self.compactor.paused = True
        else:
            if new_leader:
                self._lead_elected_ns = self.clock.now_ns
            if self.compactor is not None:
                self.compactor.paused = False
        if new_leader:
            self._on_leader_changed()
        if ss.lead != NONE and self._queue:
            self._schedule_flush()  # proposals blocked without a leader may go now

    # -- looking -------------------------------------------------------------------------------
    @property
    def is_leader(self) -> bool:
        """True while this member's Raft core is the leader."""
        return self.raft is not None and self.raft.state is StateType.StateLeader

    @property
    def leader_id(self) -> int:
        """The member ID this member believes leads (0: none known)."""
        return self.raft.lead if self.raft is not None else NONE

    @property
    def role(self) -> str:
        """leader, follower, candidate, pre-candidate or learner; "down" when not running,
        "removed" once removed from the cluster."""
        raft = self.raft
        if raft is None:
            return "removed" if self.host.disk.get("member") and self.data.removed else "down"
        if raft.is_learner:
            return "learner"
        return {
            StateType.StateLeader: "leader",
            StateType.StateFollower: "follower",
            StateType.StateCandidate: "candidate",
            StateType.StatePreCandidate: "pre-candidate",
        }[raft.state]

    def leader_name(self) -> str:
        """The host name of the leader as this member knows it ("" if none)."""
        lead = self.leader_id
        if lead == NONE:
            return ""
        if lead == self.id:
            return self.name
        return self._peers.get(lead, "")

    def __repr__(self) -> str:
        raft = self.raft
        if raft is None:
            return f"<EtcdMember {self.name} down>"
        return (
            f"<EtcdMember {self.name} {self.id:x} {self.role} term={raft.term} "
            f"commit={raft.committed} applied={self.applied_index} rev={self.store.current_rev}>"
        )


__all__ = ["DataDir", "EtcdMember", "MemberConfig"]
