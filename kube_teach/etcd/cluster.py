"""EtcdCluster: a simulated etcd cluster of members `etcd-1..N` on a network and a clock, with
clients, fault injection and etcdctl.

Semantics: an etcd 3.4/3.5 cluster started with `--initial-cluster etcd-1=http://etcd-1:2380,...`
and `--initial-cluster-token etcd-cluster` (so member and cluster IDs are derived as etcd derives
them), the flags given here, and PreVote on (3.5's default; `pre_vote=False` for 3.4's).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from typing import Any

from kube_teach.sim import Clock, Network, Seeds, Trace, to_ns

from .client import EtcdClient
from .etcdctl import Etcdctl
from .etcdctl_print import humanize_bytes
from .member import EtcdMember, MemberConfig
from .membership import (
    CLUSTER_TOKEN,
    Member,
    RaftCluster,
    compute_cluster_id,
    compute_member_id,
    peer_url,
)
from .mvcc_snapshot import SnapshotError
from .rpc import EntryCodec

GiB = 1024**3


class EtcdCluster:
    """`members` etcd servers named `etcd-1` ... on one simulated network.

    Durations are Go text or seconds (`heartbeat_interval="100ms"`, `election_timeout="1s"`).
    `quota_backend_bytes` (2 GiB), `snapshot_count` (100000, as etcd 3.4/3.5),
    `auto_compaction_mode`/`auto_compaction_retention` (off) are etcd's flags of the same
    names. Learner calls (`run`, the client's synchronous methods, `etcdctl`) drive the clock.
    """

    def __init__(
        self,
        members: int = 3,
        seed: int | str = 0,
        *,
        clock: Clock | None = None,
        seeds: Seeds | None = None,
        network: Network | None = None,
        trace: Trace | None = None,
        quota_backend_bytes: int = 2 * GiB,
        snapshot_count: int = 100_000,
        catch_up_entries: int = 5000,
        auto_compaction_mode: str | None = None,
        auto_compaction_retention: str | int | None = None,
        heartbeat_interval: str | float = "100ms",
        election_timeout: str | float = "1s",
        pre_vote: bool = True,
        strict_reconfig_check: bool = True,
        _snapshot: bytes | None = None,
    ) -> None:
        if members < 1:
            raise ValueError("an etcd cluster needs at least one member")
        self.seed = seed
        if network is not None:
            clock = network.clock
        self.clock = clock if clock is not None else Clock()
        self.seeds = seeds if seeds is not None else Seeds(seed)
        if trace is None:
            trace = network.trace if network is not None and network.trace else None
        self.trace = trace if trace is not None else Trace(self.clock)
        self.network = network or Network(self.clock, self.seeds, self.trace)
        mode = auto_compaction_mode
        if mode is None and auto_compaction_retention not in (None, 0, "0"):
            mode = "periodic"  # etcd's default mode
        self.config = MemberConfig(
            heartbeat_ns=to_ns(heartbeat_interval),
            election_ns=to_ns(election_timeout),
            pre_vote=pre_vote,
            snapshot_count=snapshot_count,
            catch_up_entries=catch_up_entries,
            quota_backend_bytes=quota_backend_bytes,
            auto_compaction_mode=mode,
            auto_compaction_retention=auto_compaction_retention,
            strict_reconfig_check=strict_reconfig_check,
        )
        self.codec = EntryCodec()
        self.watchers: list[Callable[[EtcdMember, Any], None]] = []  # called on every Ready
        self.nodes: dict[int, EtcdMember] = {}  # by member (Raft) ID
        self.members: dict[str, EtcdMember] = {}  # by name
        self.files: dict[str, bytes] = {}  # etcdctl's working directory
        self.pending_members: dict[str, int] = {}  # added with etcdctl, not started yet
        self.restored: EtcdCluster | None = None
        self._clients = 0
        self._etcdctl: Etcdctl | None = None
        self._admin_client: EtcdClient | None = None
        names = [f"etcd-{i}" for i in range(1, members + 1)]
        infos = [
            Member(compute_member_id([peer_url(n)], CLUSTER_TOKEN), [peer_url(n)], name=n)
            for n in names
        ]
        initial = RaftCluster(compute_cluster_id([m.id for m in infos]))
        for m in infos:
            initial.members[m.id] = m
        peers = {m.id: m.name for m in infos}
        for m in infos:
            self._create(m.name, m.id, initial, peers, bootstrap=True, snapshot=_snapshot)
        for member in list(self.members.values()):
            member.start()

    def _create(
        self,
        name: str,
        member_id: int,
        cluster: RaftCluster,
        peers: dict[int, str],
        *,
        bootstrap: bool,
        snapshot: bytes | None = None,
    ) -> EtcdMember:
        member = EtcdMember(
            name,
            member_id,
            net=self.network,
            seeds=self.seeds,
            trace=self.trace,
            config=self.config,
            cluster=cluster,
            peers={i: n for i, n in peers.items() if i != member_id},
            bootstrap=bootstrap,
            codec=self.codec,
            watchers=self.watchers,
            snapshot=snapshot,
        )
        self.nodes[member_id] = member
        self.members[name] = member
        return member

    @classmethod
    def from_snapshot(
        cls, data: bytes, members: int = 3, seed: int | str = 0, **options: Any
    ) -> EtcdCluster:
        """A new cluster restored from snapshot bytes (`etcdctl snapshot restore` on every
        member, then started): keys, revision, compaction point, leases and alarms come back;
        member IDs, cluster ID and Raft term/index are new. Raises SnapshotError when the
        snapshot's checksum does not match."""
        from .mvcc import MVCCStore

        MVCCStore.restore(data)  # validate before building anything
        return cls(members, seed, _snapshot=data, **options)

    # -- running -------------------------------------------------------------------------------
    @property
    def now(self) -> float:
        """Simulated seconds since the start."""
        return self.clock.now

    def run(self, seconds: float | str = 1.0) -> None:
        """Let `seconds` of simulated time pass."""
        self.clock.run(seconds)

    def run_until(self, predicate: Callable[[], bool], timeout: float | str = 10.0) -> bool:
        """Run until `predicate()` holds; False (not an exception) after `timeout`."""
        return self.clock.run_until(predicate, timeout, raise_on_timeout=False)

    # -- looking -------------------------------------------------------------------------------
    def member_names(self) -> list[str]:
        """Names of every member ever started here, in creation order."""
        return list(self.members)

    def leader(self) -> EtcdMember | None:
        """The running member that believes it leads, with the highest term; None if none."""
        found = [m for m in self.members.values() if m.raft is not None and m.is_leader]
        return max(found, key=lambda m: m.raft.term if m.raft else 0) if found else None

    def wait_for_leader(self, timeout: float | str = 10.0) -> EtcdMember | None:
        """Run until some member leads (and has applied its first entry); that member."""

        def ready() -> bool:
            lead = self.leader()
            return lead is not None and lead.store.lessor.primary

        self.run_until(ready, timeout)
        return self.leader()

    def client(
        self,
        endpoints: Iterable[str] | None = None,
        *,
        name: str | None = None,
        timeout: str | float = "10s",
    ) -> EtcdClient:
        """A new client host talking to `endpoints` (member names; default: every member)."""
        self._clients += 1
        return EtcdClient(
            self.network,
            list(endpoints) if endpoints is not None else self.member_names(),
            name=name or f"client-{self._clients}",
            seeds=self.seeds,
            trace=self.trace,
            timeout=timeout,
            cluster=self,
        )

    def etcdctl(self, command: str, stdin: str = "") -> str:
        """Run an etcdctl 3.4 command line (`"put foo bar"`, `"endpoint status -w table"`)
        against the cluster; returns what etcdctl prints. Default endpoints: every member."""
        if self._etcdctl is None:
            self._etcdctl = Etcdctl(self)
        return self._etcdctl(command, stdin)

    # -- faults --------------------------------------------------------------------------------
    def _name(self, member: str | int | EtcdMember) -> str:
        if isinstance(member, EtcdMember):
            return member.name
        if isinstance(member, int):
            return f"etcd-{member}"
        return member

    def crash(self, member: str | int | EtcdMember) -> None:
        """Kill a member's process: volatile state is lost, its disk is kept."""
        self.network.crash(self._name(member))

    def restart(self, member: str | int | EtcdMember) -> None:
        """Start a crashed member again from its disk."""
        self.network.restart(self._name(member))

    def partition(self, *groups: Iterable[str | int]) -> None:
        """Split members into groups that cannot reach each other (clients reach everyone)."""
        self.network.partition(*({self._name(m) for m in g} for g in groups))

    def isolate(self, member: str | int | EtcdMember) -> None:
        """Cut one member off from every other member (clients still reach it)."""
        name = self._name(member)
        self.partition([name], [n for n in self.members if n != name])

    def heal(self) -> None:
        """Remove every partition."""
        self.network.heal()

    # -- membership ----------------------------------------------------------------------------
    def member_add(
        self, name: str | None = None, *, learner: bool = False, start: bool = True
    ) -> EtcdMember | None:
        """Add a member through the Cluster API (as `etcdctl member add`), then start it with
        `--initial-cluster-state existing`. Raises EtcdError as etcd refuses."""
        name = name or f"etcd-{len(self.members) + 1}"
        client = self._admin()
        resp = client.member_add([peer_url(name)], learner=learner)
        self.pending_members[name] = resp["member"]["ID"]
        return self.start_member(name) if start else None

    def start_member(self, name: str) -> EtcdMember:
        """Start a member registered with `member add` (its empty data dir joins the cluster)."""
        member_id = self.pending_members.pop(name)
        cluster_id = next(iter(self.members.values())).cluster.cluster_id
        peers = {m.id: m.name for m in self.members.values()}
        member = self._create(name, member_id, RaftCluster(cluster_id), peers, bootstrap=False)
        member.start()
        return member

    def member_remove(self, member: str | EtcdMember) -> dict:
        """Remove a member through the Cluster API; it stops once it applies its removal."""
        target = self.members[self._name(member)]
        return self._admin().member_remove(target.id)

    def member_promote(self, member: str | EtcdMember) -> dict:
        """Promote a learner that has caught up to a voting member."""
        target = self.members[self._name(member)]
        return self._admin().member_promote(target.id)

    def _admin(self) -> EtcdClient:
        if self._admin_client is None:
            self._admin_client = self.client(name="etcd-admin")
        self._admin_client.endpoints = [n for n in self.members]
        return self._admin_client

    # -- display -------------------------------------------------------------------------------
    def rows(self) -> list[dict]:
        """One dict per member: name, id, role, term, commit and applied index, revision, db
        size, errors — what the HTML and text views show."""
        out = []
        for m in self.members.values():
            raft = m.raft
            if raft is None:
                out.append({"name": m.name, "id": f"{m.id:x}", "role": m.role})
                continue
            status = m.status()
            out.append(
                {
                    "name": m.name,
                    "id": f"{m.id:x}",
                    "role": m.role,
                    "term": raft.term,
                    "index": raft.committed,
                    "applied": m.applied_index,
                    "revision": m.store.current_rev,
                    "db_size": humanize_bytes(status["dbSize"]),
                    "errors": ", ".join(status["errors"]),
                }
            )
        return out

    def text(self) -> str:
        """The members as a text table (the HTML view's fallback)."""
        cols = ["name", "id", "role", "term", "index", "applied", "revision", "db_size", "errors"]
        rows = [[str(r.get(c, "")) for c in cols] for r in self.rows()]
        widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)]
        lines = ["  ".join(c.upper().ljust(w) for c, w in zip(cols, widths, strict=True))]
        lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
        return "\n".join(line.rstrip() for line in lines)

    def _repr_html_(self) -> str:
        cols = ["name", "id", "role", "term", "index", "applied", "revision", "db_size", "errors"]
        head = "".join(f"<th>{c.replace('_', ' ')}</th>" for c in cols)
        body = ""
        for r in self.rows():
            style = ' style="font-weight:bold"' if r.get("role") == "leader" else ""
            cells = "".join(f"<td>{html.escape(str(r.get(c, '')))}</td>" for c in cols)
            body += f"<tr{style}>{cells}</tr>"
        return (
            f"<div><b>etcd</b> t={self.now:g}s<table><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table></div>"
        )

    def __repr__(self) -> str:
        lead = self.leader()
        return (
            f"<EtcdCluster t={self.now:g}s members={len(self.members)} "
            f"leader={lead.name if lead else None}>"
        )


__all__ = ["EtcdCluster", "SnapshotError"]
