"""When no node fits, find a node where evicting lower-priority pods would make room, with as
few PodDisruptionBudget violations and as little damage as possible, and nominate it.

Semantics: kube-scheduler's DefaultPreemption plugin (PostFilter) and the preemption
Evaluator: dry runs on a window of candidate nodes from a random offset, victims reprieved
highest priority first (PDB-violating ones before the others), then pickOneNodeForPreemption's
criteria in order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from kube_teach.api.selectors import InvalidRequirementError, LabelSelector

from ..framework import (
    Code,
    CycleState,
    NodeInfo,
    NodeToStatus,
    PodInfo,
    PostFilterResult,
    Snapshot,
    Status,
    fit_error_message,
    run_filters_with_nominated_pods,
    run_pre_filter_add_pod,
    run_pre_filter_remove_pod,
    sort_key_more_important,
)

NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"
_MAX_INT32 = 2**31 - 1


class Candidate(NamedTuple):
    """A node where preemption would work: its victims, most important first."""

    name: str
    victims: tuple[PodInfo, ...]
    num_pdb_violations: int


def _terminating_by_preemption(pod: PodInfo) -> bool:
    if not pod.deleting:
        return False
    for cond in (pod.pod.get("status") or {}).get("conditions") or ():
        if cond.get("type") == "DisruptionTarget":
            return cond.get("status") == "True" and cond.get("reason") == "PreemptionByScheduler"
    return False


def filter_pods_with_pdb_violation(
    pods: Sequence[PodInfo], pdbs: Sequence[Mapping[str, Any]]
) -> tuple[list[PodInfo], list[PodInfo]]:
    """Split pods (in order) into those whose eviction would exceed a matching PDB's
    disruptionsAllowed (counting the earlier pods' evictions) and the others."""
    allowed = [((pdb.get("status") or {}).get("disruptionsAllowed") or 0) for pdb in pdbs]
    selectors = []
    for pdb in pdbs:
        try:
            selectors.append(
                LabelSelector.from_dict((pdb.get("spec") or {}).get("selector")).to_selector()
            )
        except InvalidRequirementError:
            selectors.append(None)
    violating, non_violating = [], []
    for pod in pods:
        violated = False
        if pod.labels:
            for i, pdb in enumerate(pdbs):
                meta = pdb.get("metadata") or {}
                selector = selectors[i]
                if (meta.get("namespace") or "default") != pod.namespace or selector is None:
                    continue
                if selector.empty or not selector.matches(pod.labels):
                    continue  # an empty selector matches nothing here
                if pod.name in ((pdb.get("status") or {}).get("disruptedPods") or {}):
                    continue  # already being disrupted: not counted again
                allowed[i] -= 1
                if allowed[i] < 0:
                    violated = True
        (violating if violated else non_violating).append(pod)
    return violating, non_violating


def pick_one_node_for_preemption(candidates: Sequence[Candidate]) -> Candidate | None:
    """The best candidate: fewest PDB violations, then lowest highest-victim priority, lowest sum
    of priorities (each shifted by 2^31), fewest victims, latest start among the
    highest-priority victims; then the first."""

    def highest(c: Candidate) -> int:
        return -c.victims[0].priority

    def priority_sum(c: Candidate) -> int:
        return -sum(v.priority + _MAX_INT32 + 1 for v in c.victims)

    def latest_start(c: Candidate) -> float:
        top = max(v.priority for v in c.victims)
        return min(v.start_time for v in c.victims if v.priority == top)

    criteria = [
        lambda c: -c.num_pdb_violations,
        highest,
        priority_sum,
        lambda c: -len(c.victims),
        latest_start,
    ]
    remaining = list(candidates)
    for score in criteria:
        if len(remaining) <= 1:
            break
        best = max(score(c) for c in remaining)
        remaining = [c for c in remaining if score(c) == best]
    return remaining[0] if remaining else None


class DefaultPreemption:
    """PostFilter: nominate a node and victims, or explain with `preemption: 0/N nodes are
    available: ...` why preemption cannot help."""

    name = "DefaultPreemption"

    @classmethod
    def default_args(cls, args: Mapping[str, Any]) -> dict[str, Any]:
        """DefaultPreemptionArgs: minCandidateNodesPercentage 10, minCandidateNodesAbsolute 100."""
        out = dict(args)
        if out.get("minCandidateNodesPercentage") is None:
            out["minCandidateNodesPercentage"] = 10
        if out.get("minCandidateNodesAbsolute") is None:
            out["minCandidateNodesAbsolute"] = 100
        return out

    def __init__(self, args: Mapping[str, Any] | None = None) -> None:
        self.args = self.default_args(args or {})
        pct = self.args["minCandidateNodesPercentage"]
        absolute = self.args["minCandidateNodesAbsolute"]
        if not 0 <= pct <= 100:
            raise ValueError(
                f"minCandidateNodesPercentage: Invalid value: {pct}: not in valid range [0, 100]"
            )
        if absolute < 0:
            raise ValueError(
                f"minCandidateNodesAbsolute: Invalid value: {absolute}: not in valid range [0, inf)"
            )
        if pct == 0 and absolute == 0:
            raise ValueError(
                "minCandidateNodesPercentage: Invalid value: 0: cannot be zero at the same time as "
                "minCandidateNodesAbsolute"
            )

    def post_filter(
        self, state: CycleState, pod: PodInfo, statuses: NodeToStatus
    ) -> tuple[PostFilterResult | None, Status]:
        result, status = self.preempt(state, pod, statuses)
        if status.message:
            return result, Status(status.code, "preemption: " + status.message)
        return result, status

    def num_candidates(self, num_nodes: int) -> int:
        """How many candidate nodes to find: max(percentage, absolute), at most all nodes."""
        n = num_nodes * self.args["minCandidateNodesPercentage"] // 100
        n = max(n, self.args["minCandidateNodesAbsolute"])
        return min(n, num_nodes)

    def eligible(self, pod: PodInfo, snapshot: Snapshot, statuses: NodeToStatus) -> str:
        """ "" if the pod may preempt, else upstream's reason."""
        if pod.spec.get("preemptionPolicy") == "Never":
            return "not eligible due to preemptionPolicy=Never."
        nominated = pod.nominated_node_name
        if nominated:
            if statuses.get(nominated).code == Code.UnschedulableAndUnresolvable:
                return ""
            node = snapshot.get(nominated)
            if node is not None and any(
                p.priority < pod.priority and _terminating_by_preemption(p) for p in node.pods
            ):
                return "not eligible due to a terminating pod on the nominated node."
        return ""

    def preempt(
        self, state: CycleState, pod: PodInfo, statuses: NodeToStatus
    ) -> tuple[PostFilterResult | None, Status]:
        snapshot = state.snapshot
        reason = self.eligible(pod, snapshot, statuses)
        if reason:
            return None, Status(Code.Unschedulable, reason)
        if not snapshot.node_infos:
            return None, Status.error("no nodes available")
        potential = statuses.nodes_with_code(snapshot, Code.Unschedulable)
        candidates: list[Candidate] = []
        node_statuses = NodeToStatus()
        if potential:
            offset = state.rng.randrange(len(potential)) if state.rng is not None else 0
            candidates, node_statuses = self.dry_run(
                state, pod, potential, offset, self.num_candidates(len(potential))
            )
        if not candidates:
            node_statuses.absent = Status(Code.UnschedulableAndUnresolvable, NOT_HELPFUL)
            message = fit_error_message(len(snapshot.node_infos), node_statuses)
            return PostFilterResult(""), Status(Code.Unschedulable, message)
        best = pick_one_node_for_preemption(candidates)
        if best is None:
            return None, Status(Code.Unschedulable, "no candidate node for preemption")
        return PostFilterResult(best.name, best.victims, best.num_pdb_violations), Status.success()

    def dry_run(
        self,
        state: CycleState,
        pod: PodInfo,
        potential: Sequence[NodeInfo],
        offset: int,
        num_candidates: int,
    ) -> tuple[list[Candidate], NodeToStatus]:
        """Try nodes from `offset` round-robin until enough candidates (at least one without PDB
        violations) are found; statuses record why the other nodes cannot help."""
        non_violating: list[Candidate] = []
        violating: list[Candidate] = []
        failed: dict[str, Status] = {}
        for i in range(len(potential)):
            node = potential[(offset + i) % len(potential)].clone()
            victims, violations, status = self.select_victims_on_node(state.clone(), pod, node)
            if status.is_success() and victims:
                found = Candidate(node.name, tuple(victims), violations)
                target = non_violating if violations == 0 else violating
                if len(target) < num_candidates:
                    target.append(found)
                if non_violating and len(non_violating) + len(violating) >= num_candidates:
                    break
                continue
            if status.is_success():
                status = Status.error(f'expected at least one victim pod on node "{node.name}"')
            failed[node.name] = status
        return non_violating + violating, NodeToStatus(failed)

    def select_victims_on_node(
        self, state: CycleState, pod: PodInfo, node: NodeInfo
    ) -> tuple[list[PodInfo], int, Status]:
        """Remove every lower-priority pod; if the pod then fits, add them back one by one
        (PDB-violating first, most important first) and keep as victims those that no longer
        fit. Returns (victims, PDB violations among them, status)."""
        profile = state.profile
        snapshot = state.snapshot
        potential = [p for p in node.pods if p.priority < pod.priority]
        if not potential:
            return [], 0, Status(Code.UnschedulableAndUnresolvable, NO_VICTIMS)
        for victim in potential:
            node.remove_pod(victim)
            s = run_pre_filter_remove_pod(profile, state, pod, victim, node)
            if not s.is_success():
                return [], 0, s
        status = run_filters_with_nominated_pods(profile, state, pod, node)
        if not status.is_success():
            return [], 0, status
        potential.sort(key=sort_key_more_important)
        violating, non_violating = filter_pods_with_pdb_violation(potential, snapshot.pdbs)
        victims: list[PodInfo] = []

        def reprieve(p: PodInfo) -> bool:
            node.add_pod(p)
            run_pre_filter_add_pod(profile, state, pod, p, node)
            if run_filters_with_nominated_pods(profile, state, pod, node).is_success():
                return True
            node.remove_pod(p)
            run_pre_filter_remove_pod(profile, state, pod, p, node)
            victims.append(p)
            return False

        num_violating = sum(1 for p in violating if not reprieve(p))
        for p in non_violating:
            reprieve(p)
        if violating and non_violating:
            victims.sort(key=sort_key_more_important)
        return victims, num_violating, Status.success()
