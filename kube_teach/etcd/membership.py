"""Cluster membership as every member applies it from the Raft log: IDs, names, URLs, learners.

Semantics: etcd 3.4 etcdserver/api/membership (member.go: IDs are the first 8 bytes of a SHA-1
of the peer URLs and cluster token, plus the time for a runtime add; cluster.go: the cluster ID,
ValidateConfigurationChange, IsReadyToAddVotingMember and friends). A ConfChange's context is
the ConfigChangeContext JSON (`{"Member": {...}, "IsPromote": false}`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from .errors import (
    ERR_MEMBER_EXIST,
    ERR_MEMBER_NOT_FOUND,
    ERR_MEMBER_NOT_LEARNER,
    ERR_PEER_URL_EXIST,
    ERR_TOO_MANY_LEARNERS,
)
from .messages import ConfChange, ConfChangeType

CLUSTER_TOKEN = "etcd-cluster"  # --initial-cluster-token's default
PEER_PORT = 2380
CLIENT_PORT = 2379
MAX_LEARNERS = 1  # etcd 3.4 allows one learner at a time


def peer_url(host: str) -> str:
    """The peer URL a member on `host` advertises (`http://etcd-1:2380`)."""
    return f"http://{host}:{PEER_PORT}"


def client_url(host: str) -> str:
    """The client URL a member on `host` advertises (`http://etcd-1:2379`)."""
    return f"http://{host}:{CLIENT_PORT}"


def host_of(url: str) -> str:
    """`http://etcd-2:2380` -> `etcd-2`: the simulated host a URL points at."""
    return url.split("://", 1)[-1].rsplit(":", 1)[0]


def compute_member_id(peer_urls: list[str], token: str = "", now_s: int | None = None) -> int:
    """A member ID as etcd derives it: SHA-1 of the sorted peer URLs, the cluster token and,
    for a member added at runtime, the Unix time in seconds; the first 8 bytes, big-endian."""
    b = "".join(sorted(peer_urls)) + token
    if now_s is not None:
        b += str(now_s)
    return int.from_bytes(hashlib.sha1(b.encode()).digest()[:8], "big")


def compute_cluster_id(member_ids: list[int]) -> int:
    """The cluster ID: SHA-1 of the sorted member IDs as 8-byte big-endian numbers."""
    b = b"".join(i.to_bytes(8, "big") for i in sorted(member_ids))
    return int.from_bytes(hashlib.sha1(b).digest()[:8], "big")


@dataclass
class Member:
    """One member as the cluster records it. `name` and `client_urls` stay empty until the
    member has started and published them (an "unstarted" member in `member list`)."""

    id: int
    peer_urls: list[str]
    name: str = ""
    client_urls: list[str] = field(default_factory=list)
    is_learner: bool = False

    @property
    def host(self) -> str:
        """The simulated host of the member's first peer URL."""
        return host_of(self.peer_urls[0]) if self.peer_urls else ""

    def to_pb(self) -> dict:
        """The member as the Cluster API's `Member` message (JSON names)."""
        out = {"ID": self.id, "name": self.name, "peerURLs": list(self.peer_urls)}
        out["clientURLs"] = list(self.client_urls)
        if self.is_learner:
            out["isLearner"] = True
        return out

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "peerURLs": self.peer_urls,
            "name": self.name,
            "clientURLs": self.client_urls,
            "isLearner": self.is_learner,
        }

    @classmethod
    def from_json(cls, d: dict) -> Member:
        return cls(
            id=int(d["id"]),
            peer_urls=list(d.get("peerURLs") or []),
            name=d.get("name") or "",
            client_urls=list(d.get("clientURLs") or []),
            is_learner=bool(d.get("isLearner")),
        )


def conf_change_context(member: Member, *, is_promote: bool = False, request_id: int = 0) -> bytes:
    """ConfigChangeContext JSON; the request ID rides along so the proposer can match the
    applied change to its waiting call (upstream keeps it in ConfChange.ID)."""
    ctx = {"Member": member.to_json(), "IsPromote": is_promote, "ID": request_id}
    return json.dumps(ctx, sort_keys=True, separators=(",", ":")).encode()


def parse_context(cc: ConfChange) -> tuple[Member | None, bool, int]:
    """`(member, is_promote, request ID)` from a ConfChange's context (None when empty)."""
    if not cc.context:
        return None, False, 0
    ctx = json.loads(cc.context)
    return Member.from_json(ctx["Member"]), bool(ctx.get("IsPromote")), int(ctx.get("ID") or 0)


class RaftCluster:
    """The membership every member builds by applying conf changes (and publish entries)."""

    def __init__(self, cluster_id: int = 0) -> None:
        self.cluster_id = cluster_id
        self.members: dict[int, Member] = {}
        self.removed: dict[int, None] = {}

    def member_by_name(self, name: str) -> Member | None:
        """The member published (or reachable) under `name`, if any."""
        for m in self.members.values():
            if m.name == name or m.host == name:
                return m
        return None

    def sorted_members(self) -> list[Member]:
        """Members in ID order, as etcd lists them."""
        return [self.members[i] for i in sorted(self.members)]

    def voting_members(self) -> list[Member]:
        """Members that are not learners, in ID order."""
        return [m for m in self.sorted_members() if not m.is_learner]

    def validate(self, cc: ConfChange) -> str | None:
        """ValidateConfigurationChange: None if `cc` may be applied, else the client's error."""
        node = cc.node_id
        if node in self.removed:
            return ERR_MEMBER_NOT_FOUND  # ErrIDRemoved reaches clients as "member not found"
        member, is_promote, _ = parse_context(cc)
        if cc.type in (ConfChangeType.ConfChangeAddNode, ConfChangeType.ConfChangeAddLearnerNode):
            if is_promote:
                if node not in self.members:
                    return ERR_MEMBER_NOT_FOUND
                if not self.members[node].is_learner:
                    return ERR_MEMBER_NOT_LEARNER
                return None
            if node in self.members:
                return ERR_MEMBER_EXIST
            urls = {u for m in self.members.values() for u in m.peer_urls}
            if member is not None and any(u in urls for u in member.peer_urls):
                return ERR_PEER_URL_EXIST
            if member is not None and member.is_learner:
                if sum(m.is_learner for m in self.members.values()) + 1 > MAX_LEARNERS:
                    return ERR_TOO_MANY_LEARNERS
        elif cc.type is ConfChangeType.ConfChangeRemoveNode:
            if node not in self.members:
                return ERR_MEMBER_NOT_FOUND
        return None

    def apply(self, cc: ConfChange) -> None:
        """Apply a validated conf change to the member table."""
        node = cc.node_id
        member, is_promote, _ = parse_context(cc)
        if cc.type is ConfChangeType.ConfChangeRemoveNode:
            self.members.pop(node, None)
            self.removed[node] = None
        elif is_promote:
            self.members[node].is_learner = False
        elif member is not None:
            member.is_learner = cc.type is ConfChangeType.ConfChangeAddLearnerNode
            self.members[node] = member

    def set_attributes(self, member_id: int, name: str, client_urls: list[str]) -> None:
        """A member published its name and client URLs (once it started)."""
        m = self.members.get(member_id)
        if m is not None:
            m.name, m.client_urls = name, list(client_urls)

    def is_ready_to_add_voting_member(self) -> bool:
        """Adding a voter must leave a quorum of started (published) members."""
        started = sum(1 for m in self.voting_members() if m.name)
        n = len(self.voting_members()) + 1
        if started == 1 and n == 2:
            return True  # a single member may always add a second
        return started >= n // 2 + 1

    def is_ready_to_remove_voting_member(self, member_id: int) -> bool:
        """Removing a voter must leave a quorum of started members."""
        voters = self.voting_members()
        started = sum(1 for m in voters if m.name and m.id != member_id)
        n = len(voters) - 1
        return started >= n // 2 + 1

    def to_json(self) -> dict:
        return {
            "cluster_id": self.cluster_id,
            "members": [m.to_json() for m in self.sorted_members()],
            "removed": sorted(self.removed),
        }

    @classmethod
    def from_json(cls, d: dict) -> RaftCluster:
        c = cls(int(d.get("cluster_id") or 0))
        for m in d.get("members") or []:
            member = Member.from_json(m)
            c.members[member.id] = member
        c.removed = {int(i): None for i in d.get("removed") or []}
        return c

    def copy(self) -> RaftCluster:
        return RaftCluster.from_json(self.to_json())
