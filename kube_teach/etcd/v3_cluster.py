"""The Cluster and leadership RPCs of an etcd member: member list/add/remove/promote with etcd's
strict reconfiguration checks, and moving the leader.

Semantics: etcd 3.4 etcdserver/server.go (AddMember, RemoveMember, PromoteMember with
mayAddMember, mayRemoveMember, mayPromoteMember, isLearnerReady; configure; MoveLeader) and
api/v3rpc/member.go. Mixed into `EtcdMember` through `V3Server`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import (
    ERR_BAD_LEADER_TRANSFEREE,
    ERR_LEARNER_NOT_READY,
    ERR_MEMBER_BAD_URLS,
    ERR_MEMBER_NOT_ENOUGH_STARTED,
    ERR_MEMBER_NOT_FOUND,
    ERR_MEMBER_NOT_LEARNER,
    ERR_NOT_LEADER,
    ERR_UNHEALTHY,
    EtcdError,
)
from .membership import Member, compute_member_id, conf_change_context
from .messages import ConfChange, ConfChangeType

if TYPE_CHECKING:
    from .member import EtcdMember
    from .v3_server import ReplyFn

ERR_TIMEOUT_LEADER_TRANSFER = "etcdserver: request timed out, leader transfer took too long"
HEALTH_INTERVAL_NS = 5_000_000_000  # peers must have been connected this long for reconfig
LEARNER_READY_PERCENT = 0.9


class ClusterServer:
    """Membership and leadership calls, mixed into `EtcdMember`."""

    def _h_move_leader(self: EtcdMember, body: dict, reply: ReplyFn, deadline: int) -> None:
        raft = self.raft
        assert raft is not None
        target = int(body.get("targetID") or 0)
        if not self.is_leader:
            raise EtcdError(ERR_NOT_LEADER)
        if target not in raft.voters:
            raise EtcdError(ERR_BAD_LEADER_TRANSFEREE)
        raft.transfer_leader(target)
        self._drain()
        step = self.config.heartbeat_ns

        def check() -> None:
            raft = self.raft
            if raft is None:
                return
            if raft.lead == target:
                reply({"header": {}}, None)
            elif self.clock.now_ns + step > deadline:
                reply(None, EtcdError(ERR_TIMEOUT_LEADER_TRANSFER, "Unavailable"))
            else:
                self._at(self.clock.now_ns + step, check)

        self._at(self.clock.now_ns + step, check)

    # -- cluster membership ----------------------------------------------------------------------
    def _members_pb(self: EtcdMember) -> list[dict]:
        return [m.to_pb() for m in self.cluster.sorted_members()]

    def _h_member_list(self: EtcdMember, body: dict, reply: ReplyFn, deadline: int) -> None:
        reply({"header": {}, "members": self._members_pb()}, None)

    def _connected_count(self: EtcdMember, members: list[Member], since_ns: int) -> int:
        return sum(1 for m in members if self._connected_since(m.id, since_ns))

    def _h_member_add(self: EtcdMember, body: dict, reply: ReplyFn, deadline: int) -> None:
        urls = [str(u) for u in body.get("peerURLs") or []]
        if not urls or any("://" not in u for u in urls):
            raise EtcdError(ERR_MEMBER_BAD_URLS)
        learner = bool(body.get("isLearner"))
        now = self.clock.now_ns
        member = Member(compute_member_id(urls, "", now // 1_000_000_000), urls, is_learner=learner)
        if self.config.strict_reconfig_check:
            if not learner and not self.cluster.is_ready_to_add_voting_member():
                raise EtcdError(ERR_MEMBER_NOT_ENOUGH_STARTED)
            voters = self.cluster.voting_members()
            if self._connected_count(voters, now - HEALTH_INTERVAL_NS) != len(voters):
                raise EtcdError(ERR_UNHEALTHY)
        cc_type = (
            ConfChangeType.ConfChangeAddLearnerNode if learner else ConfChangeType.ConfChangeAddNode
        )

        def done(resp: dict | None, err: EtcdError | None) -> None:
            if err is not None or resp is None:
                reply(None, err)
            else:
                reply({"header": {}, "member": member.to_pb(), "members": resp["members"]}, None)

        self._configure(cc_type, member, False, done, deadline)

    def _h_member_remove(self: EtcdMember, body: dict, reply: ReplyFn, deadline: int) -> None:
        member_id = int(body.get("ID") or 0)
        cluster = self.cluster
        member = cluster.members.get(member_id)
        if self.config.strict_reconfig_check and member is not None and not member.is_learner:
            if not cluster.is_ready_to_remove_voting_member(member_id):
                raise EtcdError(ERR_MEMBER_NOT_ENOUGH_STARTED)
            # a member that is down is safe to remove: it is not part of the active quorum
            if member_id == self.id or self.active_since(member_id) is not None:
                voters = cluster.voting_members()
                since = self.clock.now_ns - HEALTH_INTERVAL_NS
                active = self._connected_count(voters, since)
                if active - 1 < 1 + (len(voters) - 1) // 2:
                    raise EtcdError(ERR_UNHEALTHY)
        target = member or Member(member_id, [])

        def done(resp: dict | None, err: EtcdError | None) -> None:
            if err is not None or resp is None:
                reply(None, err)
            else:
                reply({"header": {}, "members": resp["members"]}, None)

        self._configure(ConfChangeType.ConfChangeRemoveNode, target, False, done, deadline)

    def _h_member_promote(self: EtcdMember, body: dict, reply: ReplyFn, deadline: int) -> None:
        member_id = int(body.get("ID") or 0)
        if self.is_leader:
            self._promote_on_leader(member_id, reply, deadline)
        else:
            self._forward(
                "/members/promote", {"ID": member_id, "deadline": deadline}, reply, deadline
            )

    def _promote_on_leader(self: EtcdMember, member_id: int, reply: ReplyFn, deadline: int) -> None:
        raft = self.raft
        assert raft is not None
        if not self.is_leader:
            raise EtcdError(ERR_NOT_LEADER)
        member = self.cluster.members.get(member_id)
        if member is None:
            raise EtcdError(ERR_MEMBER_NOT_FOUND)
        if not member.is_learner:
            raise EtcdError(ERR_MEMBER_NOT_LEARNER)
        pr = raft.progress.get(member_id)
        leader_match = raft.progress[self.id].match
        if pr is not None and pr.match < leader_match * LEARNER_READY_PERCENT:
            raise EtcdError(ERR_LEARNER_NOT_READY)
        if self.config.strict_reconfig_check and not self.cluster.is_ready_to_add_voting_member():
            raise EtcdError(ERR_MEMBER_NOT_ENOUGH_STARTED)

        def done(resp: dict | None, err: EtcdError | None) -> None:
            if err is not None or resp is None:
                reply(None, err)
            else:
                reply({"header": {}, "members": resp["members"]}, None)

        self._configure(
            ConfChangeType.ConfChangeAddNode, Member(member_id, []), True, done, deadline
        )

    def _configure(
        self: EtcdMember,
        cc_type: ConfChangeType,
        member: Member,
        is_promote: bool,
        reply: ReplyFn,
        deadline: int,
    ) -> None:
        req_id = self._ids.next()
        ctx = conf_change_context(member, is_promote=is_promote, request_id=req_id)
        self._emit("propose-conf-change", type=cc_type.value, id=f"{member.id:x}")
        self.propose_conf_change(
            ConfChange(cc_type, member.id, ctx), req_id, reply, deadline_ns=deadline
        )
