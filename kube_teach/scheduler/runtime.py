"""The runners of one scheduling cycle's extension points (PreFilter through Bind), how many
nodes to search, host selection among equal scores and the FailedScheduling message.
Semantics: kube-scheduler's runtime/framework.go (Run*Plugins) and schedule_one.go
(numFeasibleNodesToFind, findNodesThatPassFilters, selectHost, FitError). Pure: no clock, no
I/O; randomness comes from a `random.Random` passed in.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import numpy as np

from .interface import (
    MAX_NODE_SCORE,
    MIN_NODE_SCORE,
    SUCCESS,
    Code,
    CycleState,
    NodeToStatus,
    PostFilterResult,
    PreFilterResult,
    SchedulerError,
    Status,
)
from .profile import Profile
from .snapshot import NodeList, Snapshot, node_index
from .types import NodeInfo, PodInfo

MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5
NO_NODES_AVAILABLE = "no nodes available to schedule pods"


def num_feasible_nodes_to_find(percentage: int | None, num_all_nodes: int) -> int:
    """How many feasible nodes to look for before scoring (numFeasibleNodesToFind).

    Under 100 nodes: all. A percentage of 0 (or None) is adaptive: 50 - nodes/125, at least 5.
    At least 100 nodes are always found.
    """
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all_nodes
    percentage = percentage or 0
    if percentage == 0:
        percentage = 50 - num_all_nodes // 125
        if percentage < MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND:
            percentage = MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND
    num = num_all_nodes * percentage // 100
    return max(num, MIN_FEASIBLE_NODES_TO_FIND)


def run_pre_filter(
    profile: Profile, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
) -> tuple[PreFilterResult | None, Status, list[str]]:
    """Run PreFilter plugins (RunPreFilterPlugins): Skip disables a plugin's Filter for the cycle;
    UnschedulableAndUnresolvable stops at once; Unschedulable is remembered and the rest run;
    node-name results are intersected. Returns (result, status, plugins that narrowed nodes)."""
    result: PreFilterResult | None = None
    narrowing: list[str] = []
    skipped: list[str] = []
    returned = SUCCESS
    try:
        for pl in profile.plugins["preFilter"]:
            s = pl.pre_filter(state, pod, nodes)
            if isinstance(s, PreFilterResult):
                r, s = s, SUCCESS
            else:
                r = None
            if s.is_skip():
                skipped.append(pl.name)
                continue
            if not s.is_success():
                s = s.with_plugin(pl.name)
                if s.code == Code.UnschedulableAndUnresolvable:
                    return None, s, []
                if s.code == Code.Unschedulable:
                    returned = s
                    continue
                return (
                    None,
                    Status.error(f'running PreFilter plugin "{pl.name}": {s.message}', pl.name),
                    [],
                )
            if r is not None and r.node_names is not None:
                narrowing.append(pl.name)
                result = r if result is None else result.merge(r)
                if not result.node_names:
                    names = sorted(narrowing)
                    msg = (
                        f"node(s) didn't satisfy plugin {names[0]}"
                        if len(names) == 1
                        else f"node(s) didn't satisfy plugin(s) [{' '.join(names)}] simultaneously"
                    )
                    return result, Status(Code.UnschedulableAndUnresolvable, msg), sorted(narrowing)
    finally:
        state.skip_filter_plugins = frozenset(skipped)
    return result, returned, sorted(narrowing)


def run_pre_filter_add_pod(
    profile: Profile, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo
) -> Status:
    """Tell PreFilter plugins' state that `other` now runs on `node` (preemption, nominations)."""
    for pl in profile.plugins["preFilter"]:
        if pl.name in state.skip_filter_plugins or not hasattr(pl, "add_pod"):
            continue
        s = pl.add_pod(state, pod, other, node)
        if not s.is_success():
            return Status.error(f'running AddPod on PreFilter plugin "{pl.name}": {s.message}')
    return SUCCESS


def run_pre_filter_remove_pod(
    profile: Profile, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo
) -> Status:
    """Tell PreFilter plugins' state that `other` no longer runs on `node`."""
    for pl in profile.plugins["preFilter"]:
        if pl.name in state.skip_filter_plugins or not hasattr(pl, "remove_pod"):
            continue
        s = pl.remove_pod(state, pod, other, node)
        if not s.is_success():
            return Status.error(f'running RemovePod on PreFilter plugin "{pl.name}": {s.message}')
    return SUCCESS


def run_filters(profile: Profile, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
    """Run Filter plugins on one node, stopping at the first that does not succeed; the status
    names that plugin (RunFilterPlugins)."""
    for pl in profile.plugins["filter"]:
        if pl.name in state.skip_filter_plugins:
            continue
        s = pl.filter(state, pod, node)
        if not s.is_success():
            if not s.is_rejected():
                s = Status.error(f'running "{pl.name}" filter plugin: {s.message}')
            return s.with_plugin(pl.name)
    return SUCCESS


def _add_nominated_pods(
    profile: Profile, state: CycleState, pod: PodInfo, node: NodeInfo
) -> tuple[bool, CycleState, NodeInfo]:
    snapshot = state.snapshot
    nominated = snapshot.nominated_pods_for_node(node.name) if snapshot is not None else []
    if not nominated:
        return False, state, node
    node_out, state_out, added = None, None, False
    for pi in nominated:
        if pi.priority >= pod.priority and pi.key != pod.key:
            if node_out is None:
                node_out, state_out = node.clone(), state.clone()
            node_out.add_pod(pi)
            s = run_pre_filter_add_pod(profile, state_out, pod, pi, node_out)
            if not s.is_success():
                raise SchedulerError(s.message)
            added = True
    if not added:
        return False, state, node
    return True, state_out, node_out


def run_filters_with_nominated_pods(
    profile: Profile, state: CycleState, pod: PodInfo, node: NodeInfo
) -> Status:
    """Filter a node as if the pods nominated to it with priority >= the pod's were running, and
    again without them when they were added (RunFilterPluginsWithNominatedPods)."""
    added, state_with, node_with = _add_nominated_pods(profile, state, pod, node)
    status = run_filters(profile, state_with, pod, node_with)
    if added and status.is_success():
        status = run_filters(profile, state, pod, node)
    return status


def _has_nominated(snapshot: Snapshot, ni: NodeInfo, pod: PodInfo) -> bool:
    return any(
        p.priority >= pod.priority and p.key != pod.key
        for p in snapshot.nominated_pods_for_node(ni.name)
    )


def find_nodes_that_pass_filters(
    profile: Profile,
    state: CycleState,
    pod: PodInfo,
    nodes: Sequence[NodeInfo],
    start_index: int,
    num_to_find: int,
    *,
    whole_snapshot: bool = False,
) -> tuple[Sequence[NodeInfo], dict[str, Status], int]:
    """Filter `nodes` in round-robin order from `start_index` until `num_to_find` nodes pass.

    Returns (feasible nodes in visiting order, status of every visited node that failed, number
    of nodes visited), as upstream's findNodesThatPassFilters but sequential. When `nodes` is the
    whole snapshot (`whole_snapshot`), plugins with `filter_all` judge all nodes at once and only
    the first failing plugin of each visited node is asked for its reasons; the verdicts equal
    running every plugin node by node.
    """
    n = len(nodes)
    if n == 0:
        return [], {}, 0
    snapshot = state.snapshot
    plugins = [pl for pl in profile.plugins["filter"] if pl.name not in state.skip_filter_plugins]
    first_fail = np.full(n, -1, np.int64)  # first plugin (by position) whose batch rejects
    scalar: set[int] = set(range(len(plugins)))
    if whole_snapshot and snapshot is not None:
        for j, pl in enumerate(plugins):
            batch = getattr(pl, "filter_all", None)
            if batch is None:
                continue
            fails = batch(state, pod, snapshot)
            if fails is NotImplemented:
                continue
            scalar.discard(j)
            if fails is not None:
                first_fail[fails & (first_fail < 0)] = j
    order = (np.arange(n) + start_index % n) % n
    feasible: list[NodeInfo] = []
    statuses: dict[str, Status] = {}
    nominated = snapshot is not None and any(snapshot.nominated.values())
    if not scalar and not nominated:
        positions = np.flatnonzero(first_fail[order] < 0)
        visited = n
        if len(positions) > num_to_find:
            visited = int(positions[num_to_find - 1]) + 1 if num_to_find > 0 else 0
            positions = positions[:num_to_find]
        picked = order[positions]
        if whole_snapshot:
            feasible_list: Sequence[NodeInfo] = NodeList(nodes, picked)
        else:
            feasible_list = [nodes[int(i)] for i in picked]
        failed = order[:visited]
        for i in failed[first_fail[failed] >= 0].tolist():
            statuses[nodes[i].name] = _reasons(plugins[int(first_fail[i])], state, pod, nodes[i])
        return feasible_list, statuses, visited
    visited = 0
    for p in range(n):
        if len(feasible) >= num_to_find:
            break
        i = int(order[p])
        ni = nodes[i]
        visited += 1
        if snapshot is not None and _has_nominated(snapshot, ni, pod):
            s = run_filters_with_nominated_pods(profile, state, pod, ni)
        else:
            s = SUCCESS
            for j, pl in enumerate(plugins):
                if j in scalar:
                    s = pl.filter(state, pod, ni)
                    if not s.is_success():
                        if not s.is_rejected():
                            s = Status.error(f'running "{pl.name}" filter plugin: {s.message}')
                        s = s.with_plugin(pl.name)
                        break
                elif first_fail[i] == j:
                    s = _reasons(pl, state, pod, ni)
                    break
        if s.is_success():
            feasible.append(ni)
        else:
            statuses[ni.name] = s
            if s.code == Code.Error:
                raise SchedulerError(s.message)
    return feasible, statuses, visited


def _reasons(pl: Any, state: CycleState, pod: PodInfo, ni: NodeInfo) -> Status:
    # The status of a plugin its batch path said rejects this node.
    s = pl.filter(state, pod, ni)
    if s.is_success():
        raise SchedulerError(f"{pl.name}: filter_all rejected {ni.name} but filter accepts it")
    if not s.is_rejected():
        s = Status.error(f'running "{pl.name}" filter plugin: {s.message}')
    return s.with_plugin(pl.name)


def run_post_filter(
    profile: Profile, state: CycleState, pod: PodInfo, statuses: NodeToStatus
) -> tuple[PostFilterResult | None, Status]:
    """Run PostFilter plugins until one succeeds (RunPostFilterPlugins); rejections' reasons are
    merged under the first rejecting plugin."""
    result = None
    reasons: list[str] = []
    rejector = ""
    for pl in profile.plugins["postFilter"]:
        r, s = pl.post_filter(state, pod, statuses)
        if s.is_success():
            return r, s
        if s.code == Code.UnschedulableAndUnresolvable:
            return r, s.with_plugin(pl.name)
        if not s.is_rejected():
            return None, Status.error(s.message, pl.name)
        if r is not None and r.nominated_node_name:
            result = r
        reasons.extend(s.reasons)
        rejector = rejector or pl.name
    return result, Status(Code.Unschedulable, *reasons, plugin=rejector)


def run_pre_score(
    profile: Profile, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
) -> Status:
    """Run PreScore plugins; Skip turns the plugin's Score off for this cycle."""
    skipped: list[str] = []
    try:
        for pl in profile.plugins["preScore"]:
            s = pl.pre_score(state, pod, nodes)
            if s.is_skip():
                skipped.append(pl.name)
                continue
            if not s.is_success():
                return Status.error(f'running PreScore plugin "{pl.name}": {s.message}', pl.name)
    finally:
        state.skip_score_plugins = frozenset(skipped)
    return SUCCESS


class PluginScores:
    """One plugin's scores for the scored nodes, in node order: raw, normalized, weighted."""

    __slots__ = ("plugin", "weight", "raw", "normalized", "weighted")

    def __init__(self, plugin: str, weight: int, raw: np.ndarray, normalized: np.ndarray) -> None:
        self.plugin = plugin
        self.weight = weight
        self.raw = raw
        self.normalized = normalized
        self.weighted = normalized * weight


def run_scores(
    profile: Profile, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
) -> tuple[list[PluginScores], np.ndarray]:
    """Score every node with each Score plugin not skipped by PreScore, normalize, check the
    range [0, 100], weigh and sum (RunScorePlugins). Returns the per-plugin scores and the
    totals, both in the order of `nodes`."""
    n = len(nodes)
    index = node_index(nodes)
    out: list[PluginScores] = []
    totals = np.zeros(n, np.int64)
    for pl in profile.plugins["score"]:
        if pl.name in state.skip_score_plugins:
            continue
        batch = getattr(pl, "score_all", None)
        raw = batch(state, pod, nodes, index) if batch is not None else None
        if raw is None:
            raw = np.fromiter((pl.score(state, pod, ni) for ni in nodes), np.int64, n)
        raw = np.asarray(raw, np.int64)
        normalize = getattr(pl, "normalize_score", None)
        normalized = normalize(state, pod, raw.copy(), nodes) if normalize is not None else raw
        normalized = np.asarray(normalized, np.int64)
        if n and (normalized.max() > MAX_NODE_SCORE or normalized.min() < MIN_NODE_SCORE):
            bad = int(normalized[(normalized > MAX_NODE_SCORE) | (normalized < MIN_NODE_SCORE)][0])
            raise SchedulerError(
                f'applying score defaultWeights on Score plugins: plugin "{pl.name}" returns an '
                f"invalid score {bad}, it should in the range of [{MIN_NODE_SCORE}, "
                f"{MAX_NODE_SCORE}] after normalizing"
            )
        scores = PluginScores(pl.name, profile.weights.get(pl.name, 1), raw, normalized)
        totals += scores.weighted
        out.append(scores)
    return out, totals


def select_host(names: Sequence[str], totals: Sequence[int], rng: random.Random) -> str:
    """The node with the highest total; ties are broken by reservoir sampling over the tied
    nodes in order (the k-th replaces the pick with probability 1/k), as selectHost does.
    Raises SchedulerError on an empty list (upstream's errEmptyPriorityList)."""
    if len(names) == 0:
        raise SchedulerError("empty priorityList")
    return names[select_host_index(totals, rng)]


def select_host_index(totals: Sequence[int], rng: random.Random) -> int:
    """select_host on positions: the index of the chosen entry of `totals`."""
    totals = np.asarray(totals)
    tied = np.flatnonzero(totals == totals.max())
    if len(tied) == 1:
        return int(tied[0])
    # One draw per tied node after the first, in order: the k-th (k >= 2) takes over when
    # int(draw * k) == 0, i.e. with probability 1/k. The last to take over wins.
    draw = rng.random
    draws = np.array([draw() for _ in range(len(tied) - 1)])
    takes = np.flatnonzero((draws * np.arange(2, len(tied) + 1)).astype(np.int64) == 0)
    return int(tied[takes[-1] + 1] if len(takes) else tied[0])


EVENT_MESSAGE_LIMIT = 1024  # validation.NoteLengthLimit


def truncate_event_message(message: str) -> str:
    """The FailedScheduling event's note: at most 1024 bytes, ending " ..." when cut (the
    PodScheduled condition keeps the whole text)."""
    data = message.encode()
    if len(data) <= EVENT_MESSAGE_LIMIT:
        return message
    return data[: EVENT_MESSAGE_LIMIT - 4].decode(errors="ignore") + " ..."


def fit_error_message(
    num_all_nodes: int,
    statuses: NodeToStatus,
    pre_filter_message: str = "",
    post_filter_message: str = "",
) -> str:
    """The FailedScheduling text (FitError.Error): `0/N nodes are available:` then the PreFilter
    message, or each distinct reason with its count sorted as strings; then the PostFilter
    message."""
    msg = f"0/{num_all_nodes} nodes are available:"
    if pre_filter_message:
        msg += f" {pre_filter_message}."
    else:
        counts: dict[str, int] = {}
        for status in statuses.statuses.values():
            for reason in status.reasons:
                counts[reason] = counts.get(reason, 0) + 1
        if len(statuses) < num_all_nodes:
            for reason in statuses.absent.reasons:
                counts[reason] = counts.get(reason, 0) + num_all_nodes - len(statuses)
        parts = sorted(f"{count} {reason}" for reason, count in counts.items())
        if parts:
            msg += f" {', '.join(parts)}."
    if post_filter_message:
        msg += f" {post_filter_message}"
    return msg


def run_reserve(profile: Profile, state: CycleState, pod: PodInfo, node_name: str) -> Status:
    """Run Reserve plugins in order; on failure run Unreserve in reverse and return it."""
    done = []
    for pl in profile.plugins["reserve"]:
        s = pl.reserve(state, pod, node_name)
        if not s.is_success():
            for prev in reversed(done + [pl]):
                unreserve = getattr(prev, "unreserve", None)
                if unreserve is not None:
                    unreserve(state, pod, node_name)
            return s.with_plugin(pl.name)
        done.append(pl)
    return SUCCESS


def run_permit(profile: Profile, state: CycleState, pod: PodInfo, node_name: str) -> Status:
    """Run Permit plugins: a rejection wins; otherwise Wait if any plugin waits."""
    waiting = None
    for pl in profile.plugins["permit"]:
        s = pl.permit(state, pod, node_name)
        if s.code == Code.Wait:
            waiting = waiting or s.with_plugin(pl.name)
        elif not s.is_success():
            return s.with_plugin(pl.name)
    return waiting or SUCCESS


def run_pre_bind(profile: Profile, state: CycleState, pod: PodInfo, node_name: str) -> Status:
    for pl in profile.plugins["preBind"]:
        s = pl.pre_bind(state, pod, node_name)
        if not s.is_success():
            return s.with_plugin(pl.name)
    return SUCCESS


def run_bind(profile: Profile, state: CycleState, pod: PodInfo, node_name: str) -> Status:
    """Run Bind plugins until one does not Skip."""
    for pl in profile.plugins["bind"]:
        s = pl.bind(state, pod, node_name)
        if s.is_skip():
            continue
        return s if s.is_success() else s.with_plugin(pl.name)
    return Status(Code.Skip)


def sort_key_more_important(pod: PodInfo) -> tuple[int, float]:
    """Sort key putting more important pods first: higher priority, then earlier start."""
    return (-pod.priority, pod.start_time)
