"""Spread matching pods evenly across topology domains: DoNotSchedule constraints filter by
maxSkew, ScheduleAnyway constraints (or the system defaults) score.

Semantics: kube-scheduler's PodTopologySpread plugin (common.go, filtering.go, scoring.go,
plugin.go), with minDomains, nodeAffinityPolicy/nodeTaintsPolicy and matchLabelKeys, and system
default constraints (hostname maxSkew 3, zone maxSkew 5, ScheduleAnyway) when the pod has none.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from kube_teach.api.selectors import InvalidRequirementError, LabelSelector, Selector

from ..framework import (
    MAX_NODE_SCORE,
    Code,
    CycleState,
    NodeInfo,
    PodInfo,
    Snapshot,
    Status,
    selector_hint,
)
from .helper import (
    RequiredNodeAffinity,
    default_selector,
    go_round,
    untolerated_mask,
    untolerated_no_schedule_taint,
)
from .inter_pod_affinity import domain_table

ERR_REASON_CONSTRAINTS_NOT_MATCH = "node(s) didn't match pod topology spread constraints"
ERR_REASON_NODE_LABEL_NOT_MATCH = ERR_REASON_CONSTRAINTS_NOT_MATCH + " (missing required label)"
LABEL_HOSTNAME = "kubernetes.io/hostname"
LABEL_ZONE = "topology.kubernetes.io/zone"
SYSTEM_DEFAULT_CONSTRAINTS = [
    {"topologyKey": LABEL_HOSTNAME, "whenUnsatisfiable": "ScheduleAnyway", "maxSkew": 3},
    {"topologyKey": LABEL_ZONE, "whenUnsatisfiable": "ScheduleAnyway", "maxSkew": 5},
]
_PRE_FILTER_KEY = "PreFilterPodTopologySpread"
_PRE_SCORE_KEY = "PreScorePodTopologySpread"
_MAX_INT32 = 2**31 - 1


class Constraint:
    """A parsed TopologySpreadConstraint (selector merged with matchLabelKeys)."""

    __slots__ = (
        "max_skew",
        "topology_key",
        "selector",
        "min_domains",
        "affinity_policy",
        "taints_policy",
    )

    def __init__(self, c: Mapping[str, Any], pod_labels: Mapping[str, str]) -> None:
        self.max_skew: int = c.get("maxSkew") or 0
        self.topology_key: str = c.get("topologyKey") or ""
        selector = LabelSelector.from_dict(c.get("labelSelector")).to_selector()
        match = {k: pod_labels[k] for k in c.get("matchLabelKeys") or () if k in pod_labels}
        if match and not selector.matches_nothing:
            selector = Selector.from_set(match).add(*selector.requirements)
        self.selector = selector
        min_domains = c.get("minDomains")
        self.min_domains: int = 1 if min_domains is None else min_domains
        self.affinity_policy: str = c.get("nodeAffinityPolicy") or "Honor"
        self.taints_policy: str = c.get("nodeTaintsPolicy") or "Ignore"


class _SpreadMatcher:
    """Counts live (not terminating) pods of a namespace matching a selector."""

    __slots__ = ("namespace", "selector", "hint")

    def __init__(self, namespace: str, selector: Selector) -> None:
        self.namespace = namespace
        self.selector = selector
        self.hint = selector_hint(selector)

    def count(self, pod: PodInfo) -> int:
        if pod.deleting or pod.namespace != self.namespace:
            return 0
        return 1 if self.selector.matches(pod.labels) else 0

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, _SpreadMatcher)
            and self.namespace == other.namespace
            and self.selector == other.selector
        )

    def __hash__(self) -> int:
        return hash(("_SpreadMatcher", self.namespace, self.selector))


def _count_on_node(node: NodeInfo, c: Constraint, namespace: str) -> int:
    if c.selector.matches_nothing:
        return 0
    return sum(
        1
        for p in node.pods
        if not p.deleting and p.namespace == namespace and c.selector.matches(p.labels)
    )


class _CriticalPaths:
    """The two smallest domain counts, updated the way upstream's criticalPaths is (its
    approximation after several updates is kept, as preemption relies on it)."""

    __slots__ = ("paths",)

    def __init__(self) -> None:
        self.paths = [["", _MAX_INT32], ["", _MAX_INT32]]

    def clone(self) -> _CriticalPaths:
        out = _CriticalPaths()
        out.paths = [list(self.paths[0]), list(self.paths[1])]
        return out

    def update(self, value: str, num: int) -> None:
        p = self.paths
        i = 0 if value == p[0][0] else 1 if value == p[1][0] else -1
        if i >= 0:
            p[i][1] = num
            if p[0][1] > p[1][1]:
                p[0], p[1] = p[1], p[0]
        elif num < p[0][1]:
            p[1] = p[0]
            p[0] = [value, num]
        elif num < p[1][1]:
            p[1] = [value, num]


class _PreFilterState:
    def __init__(self, constraints: list[Constraint]) -> None:
        self.constraints = constraints
        self.counts: list[dict[str, int]] = [{} for _ in constraints]
        self.paths: list[_CriticalPaths] = [_CriticalPaths() for _ in constraints]

    def clone(self) -> _PreFilterState:
        out = _PreFilterState(self.constraints)
        out.counts = [dict(c) for c in self.counts]
        out.paths = [p.clone() for p in self.paths]
        return out

    def min_match(self, i: int) -> int:
        if len(self.counts[i]) < self.constraints[i].min_domains:
            return 0
        return self.paths[i].paths[0][1]


def _node_has_keys(node: NodeInfo, constraints: Sequence[Constraint]) -> bool:
    return all(c.topology_key in node.labels for c in constraints)


def _included(c: Constraint, pod: PodInfo, node: NodeInfo) -> bool:
    """matchNodeInclusionPolicies: Honor nodeAffinity (default) and, if asked, taints."""
    if c.affinity_policy == "Honor" and not RequiredNodeAffinity.of(pod).matches(node):
        return False
    if c.taints_policy == "Honor" and untolerated_no_schedule_taint(node, pod.tolerations):
        return False
    return True


def _included_mask(c: Constraint, pod: PodInfo, snapshot: Snapshot) -> np.ndarray:
    mask = np.ones(len(snapshot), bool)
    if c.affinity_policy == "Honor":
        mask &= RequiredNodeAffinity.of(pod).mask(snapshot)
    if c.taints_policy == "Honor":
        mask &= ~untolerated_mask(snapshot, pod.tolerations)
    return mask


class PodTopologySpread:
    """Filter: for each DoNotSchedule constraint, a node without the key is rejected as
    UnschedulableAndUnresolvable; one where count(domain) + self - globalMin > maxSkew as
    Unschedulable. Score: round(Σ count·ln(domains+2) + maxSkew-1), normalized so fewer
    matching pods score higher."""

    name = "PodTopologySpread"

    @classmethod
    def default_args(cls, args: Mapping[str, Any]) -> dict[str, Any]:
        """PodTopologySpreadArgs: defaultingType System (the system default constraints);
        List uses defaultConstraints."""
        out = dict(args)
        out.setdefault("defaultingType", "System")
        out.setdefault("defaultConstraints", [])
        return out

    def __init__(self, args: Mapping[str, Any] | None = None) -> None:
        self.args = self.default_args(args or {})
        self.system_defaulted = self.args["defaultingType"] == "System"
        self.default_constraints = (
            SYSTEM_DEFAULT_CONSTRAINTS if self.system_defaulted else self.args["defaultConstraints"]
        )

    def constraints(self, pod: PodInfo, snapshot: Snapshot, action: str) -> list[Constraint]:
        """The pod's constraints with `action` as whenUnsatisfiable, or the default constraints
        (with a selector derived from Services and controllers) when it declares none."""
        declared = pod.spec.get("topologySpreadConstraints") or []
        if declared:
            return [
                Constraint(c, pod.labels) for c in declared if c.get("whenUnsatisfiable") == action
            ]
        defaults = [c for c in self.default_constraints if c.get("whenUnsatisfiable") == action]
        if not defaults:
            return []
        selector = default_selector(pod, snapshot)
        if selector.empty:
            return []
        out = []
        for c in defaults:
            parsed = Constraint(c, pod.labels)
            parsed.selector = selector
            out.append(parsed)
        return out

    # -- filtering

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        snapshot = state.snapshot
        try:
            constraints = self.constraints(pod, snapshot, "DoNotSchedule")
        except InvalidRequirementError as err:
            return Status.error(f"obtaining pod's hard topology spread constraints: {err}")
        if not constraints:
            return Status(Code.Skip)
        s = _PreFilterState(constraints)
        eligible = np.ones(len(snapshot), bool)
        for c in constraints:
            eligible &= snapshot.label_codes(c.topology_key)[0] >= 0
        for i, c in enumerate(constraints):
            codes, values, _ = snapshot.label_codes(c.topology_key)
            domain_nodes = eligible & _included_mask(c, pod, snapshot)
            if c.selector.matches_nothing:
                counts = np.zeros(len(snapshot), np.int64)
            else:
                counts = snapshot.count_pods(_SpreadMatcher(pod.namespace, c.selector))
            domain_codes = codes[domain_nodes]
            present = np.bincount(domain_codes, minlength=len(values))
            sums = np.bincount(domain_codes, weights=counts[domain_nodes], minlength=len(values))
            for code in np.flatnonzero(present).tolist():
                s.counts[i][values[code]] = int(sums[code])
            for value in sorted(s.counts[i]):
                s.paths[i].update(value, s.counts[i][value])
        state.write(_PRE_FILTER_KEY, s)
        return Status.success()

    def _update(
        self, s: _PreFilterState, pod: PodInfo, other: PodInfo, node: NodeInfo, delta: int
    ) -> None:
        if other.namespace != pod.namespace or not _node_has_keys(node, s.constraints):
            return
        for i, c in enumerate(s.constraints):
            if not c.selector.matches(other.labels) or not _included(c, pod, node):
                continue
            value = node.labels[c.topology_key]
            s.counts[i][value] = s.counts[i].get(value, 0) + delta
            s.paths[i].update(value, s.counts[i][value])

    def add_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> Status:
        self._update(state.read(_PRE_FILTER_KEY), pod, other, node, 1)
        return Status.success()

    def remove_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> Status:
        self._update(state.read(_PRE_FILTER_KEY), pod, other, node, -1)
        return Status.success()

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        try:
            s: _PreFilterState = state.read(_PRE_FILTER_KEY)
        except KeyError:
            return Status.error(f'reading "{_PRE_FILTER_KEY}" from cycleState: not found')
        for i, c in enumerate(s.constraints):
            value = node.labels.get(c.topology_key)
            if value is None:
                return Status(Code.UnschedulableAndUnresolvable, ERR_REASON_NODE_LABEL_NOT_MATCH)
            self_match = 1 if c.selector.matches(pod.labels) else 0
            skew = s.counts[i].get(value, 0) + self_match - s.min_match(i)
            if skew > c.max_skew:
                return Status(Code.Unschedulable, ERR_REASON_CONSTRAINTS_NOT_MATCH)
        return Status.success()

    def filter_all(self, state: CycleState, pod: PodInfo, snapshot: Snapshot) -> np.ndarray:
        s: _PreFilterState = state.read(_PRE_FILTER_KEY)
        fails = np.zeros(len(snapshot), bool)
        for i, c in enumerate(s.constraints):
            codes = snapshot.label_codes(c.topology_key)[0]
            table = domain_table(snapshot, c.topology_key, s.counts[i])
            self_match = 1 if c.selector.matches(pod.labels) else 0
            skew = table[codes] + self_match - s.min_match(i)
            fails |= (codes < 0) | (skew > c.max_skew)
        return fails

    # -- scoring

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        snapshot = state.snapshot
        if len(snapshot) == 0:
            return Status(Code.Skip)
        try:
            constraints = self.constraints(pod, snapshot, "ScheduleAnyway")
        except InvalidRequirementError as err:
            return Status.error(f"obtaining pod's soft topology spread constraints: {err}")
        if not constraints:
            return Status(Code.Skip)
        require_all = bool(pod.spec.get("topologySpreadConstraints")) or not self.system_defaulted
        ignored = {ni.name for ni in nodes if require_all and not _node_has_keys(ni, constraints)}
        counts: list[dict[str, int]] = [{} for _ in constraints]
        for ni in nodes:
            if ni.name in ignored:
                continue
            for i, c in enumerate(constraints):
                if c.topology_key != LABEL_HOSTNAME:
                    counts[i].setdefault(ni.labels.get(c.topology_key, ""), 0)
        weights = []
        for i, c in enumerate(constraints):
            size = len(nodes) - len(ignored) if c.topology_key == LABEL_HOSTNAME else len(counts[i])
            weights.append(math.log(size + 2))
        eligible = np.ones(len(snapshot), bool)
        if require_all:
            for c in constraints:
                eligible &= snapshot.label_codes(c.topology_key)[0] >= 0
        for i, c in enumerate(constraints):
            if c.topology_key == LABEL_HOSTNAME or not counts[i]:
                continue  # hostname counts are taken per node at Score
            per_node = (
                np.zeros(len(snapshot), np.int64)
                if c.selector.matches_nothing
                else snapshot.count_pods(_SpreadMatcher(pod.namespace, c.selector))
            )
            included = eligible & _included_mask(c, pod, snapshot)
            codes, _, index = snapshot.label_codes(c.topology_key)
            for value in counts[i]:
                on = codes == index.get(value, -2)
                if value == "":
                    on |= codes < 0  # a node without the key reads as "" (system defaults)
                counts[i][value] += int(per_node[included & on].sum())
        state.write(_PRE_SCORE_KEY, (constraints, ignored, counts, weights))
        return Status.success()

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        constraints, ignored, counts, weights = state.read(_PRE_SCORE_KEY)
        if node.name in ignored:
            return 0
        score = 0.0
        for i, c in enumerate(constraints):
            value = node.labels.get(c.topology_key)
            if value is None:
                continue
            if c.topology_key == LABEL_HOSTNAME:
                count = _count_on_node(node, c, pod.namespace)
            else:
                count = counts[i].get(value, 0)
            score += float(count) * weights[i] + float(c.max_skew - 1)
        return go_round(score)

    def score_all(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo], index: np.ndarray
    ) -> np.ndarray | None:
        snapshot = state.snapshot
        constraints, ignored, counts, weights = state.read(_PRE_SCORE_KEY)
        total = np.zeros(len(nodes))
        for i, c in enumerate(constraints):
            codes, values, _ = snapshot.label_codes(c.topology_key)
            codes = codes[index]
            if c.topology_key == LABEL_HOSTNAME:
                if c.selector.matches_nothing:
                    count = np.zeros(len(nodes), np.int64)
                else:
                    count = snapshot.count_pods(_SpreadMatcher(pod.namespace, c.selector))[index]
            else:
                count = domain_table(snapshot, c.topology_key, counts[i])[codes]
            term = count.astype(np.float64) * weights[i] + float(c.max_skew - 1)
            total = np.where(codes >= 0, total + term, total)
        out = np.floor(total + 0.5).astype(np.int64)  # Go's math.Round; scores are >= 0
        if ignored:
            out[np.fromiter((ni.name in ignored for ni in nodes), bool, len(nodes))] = 0
        return out

    def normalize_score(
        self, state: CycleState, pod: PodInfo, scores: np.ndarray, nodes: Sequence[NodeInfo]
    ) -> np.ndarray:
        _, ignored, _, _ = state.read(_PRE_SCORE_KEY)
        if ignored:
            valid = np.fromiter((ni.name not in ignored for ni in nodes), bool, len(nodes))
        else:
            valid = np.ones(len(nodes), bool)
        if not valid.any():
            return np.zeros(len(scores), np.int64)
        low = int(scores[valid].min())
        high = max(int(scores[valid].max()), 0)
        if high == 0:
            out = np.full(len(scores), MAX_NODE_SCORE, np.int64)
        else:
            out = MAX_NODE_SCORE * (high + low - scores) // high
        return np.where(valid, out, 0)
