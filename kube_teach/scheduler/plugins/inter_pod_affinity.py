"""Place pods near (affinity) or away from (anti-affinity) other pods, by topology domain;
existing pods' anti-affinity protects them from newcomers (symmetry).

Semantics: kube-scheduler's InterPodAffinity plugin (filtering.go, scoring.go, plugin.go):
required terms filter, preferred terms and existing pods' terms score; the incoming pod's
namespaceSelector is resolved against Namespace objects once per cycle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..framework import (
    AffinityTerm,
    Code,
    CycleState,
    HasTerm,
    NodeInfo,
    PodInfo,
    Snapshot,
    Status,
    selector_hint,
)
from .helper import domain_table

ERR_REASON_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
ERR_REASON_AFFINITY = "node(s) didn't match pod affinity rules"
ERR_REASON_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
_PRE_FILTER_KEY = "PreFilterInterPodAffinity"
_PRE_SCORE_KEY = "PreScoreInterPodAffinity"

Pair = tuple[str, str]


class _MatchesTerm:
    """Counts pods an (incoming, namespace-merged) term matches."""

    __slots__ = ("term", "hint")

    def __init__(self, term: AffinityTerm) -> None:
        self.term = term
        self.hint = selector_hint(term.selector)

    def count(self, pod: PodInfo) -> int:
        return 1 if self.term.matches(pod, None) else 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _MatchesTerm) and self.term == other.term

    def __hash__(self) -> int:
        return hash(("_MatchesTerm", self.term))


class _MatchesAll:
    """Counts pods matching every one of a set of terms (podMatchesAllAffinityTerms)."""

    __slots__ = ("terms", "hint")

    def __init__(self, terms: tuple[AffinityTerm, ...]) -> None:
        self.terms = terms
        self.hint = selector_hint(terms[0].selector) if terms else None

    def count(self, pod: PodInfo) -> int:
        return 1 if pod_matches_all(self.terms, pod) else 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _MatchesAll) and self.terms == other.terms

    def __hash__(self) -> int:
        return hash(("_MatchesAll", self.terms))


def pod_matches_all(terms: Sequence[AffinityTerm], pod: PodInfo) -> bool:
    """True iff there are terms and the pod matches all of them (namespaces already merged)."""
    return bool(terms) and all(t.matches(pod, None) for t in terms)


def _bump(counts: dict[Pair, int], node: NodeInfo, key: str, delta: int) -> None:
    value = node.labels.get(key)
    if value is None:
        return
    pair = (key, value)
    counts[pair] = counts.get(pair, 0) + delta
    if counts[pair] == 0:
        del counts[pair]


def _by_domain(snapshot: Snapshot, key: str, per_node: np.ndarray) -> dict[str, int]:
    """Sum per-node counts into the node's value of label `key` (nodes without it drop out)."""
    codes, values, _ = snapshot.label_codes(key)
    keep = (codes >= 0) & (per_node != 0)
    if not keep.any():
        return {}
    sums = np.bincount(codes[keep], weights=per_node[keep], minlength=len(values))
    return {values[c]: int(round(sums[c])) for c in np.flatnonzero(sums)}


def _per_node(
    snapshot: Snapshot, key: str, by_value: Mapping[str, int]
) -> tuple[np.ndarray, np.ndarray]:
    """(has the label, count of the node's domain) for every node of the snapshot."""
    codes = snapshot.label_codes(key)[0]
    return codes >= 0, domain_table(snapshot, key, by_value)[codes]


class _PreFilterState:
    """Counts per (topologyKey, value): existing pods whose anti-affinity matches the pod;
    existing pods matching all the pod's affinity terms; pods matching each anti term."""

    def __init__(
        self,
        pod: PodInfo,
        affinity_terms: list[AffinityTerm],
        anti_affinity_terms: list[AffinityTerm],
        namespace_labels: Mapping[str, str] | None,
    ) -> None:
        self.pod = pod
        self.affinity_terms = affinity_terms
        self.anti_affinity_terms = anti_affinity_terms
        self.namespace_labels = namespace_labels
        self.existing_anti: dict[Pair, int] = {}
        self.affinity: dict[Pair, int] = {}
        self.anti: dict[Pair, int] = {}

    def clone(self) -> _PreFilterState:
        out = _PreFilterState(
            self.pod, self.affinity_terms, self.anti_affinity_terms, self.namespace_labels
        )
        out.existing_anti = dict(self.existing_anti)
        out.affinity = dict(self.affinity)
        out.anti = dict(self.anti)
        return out

    def update_with_pod(self, other: PodInfo, node: NodeInfo, delta: int) -> None:
        for t in other.required_anti_affinity_terms:
            if t.matches(self.pod, self.namespace_labels):
                _bump(self.existing_anti, node, t.topology_key, delta)
        if pod_matches_all(self.affinity_terms, other):
            for t in self.affinity_terms:
                _bump(self.affinity, node, t.topology_key, delta)
        for t in self.anti_affinity_terms:
            if t.matches(other, None):
                _bump(self.anti, node, t.topology_key, delta)


class InterPodAffinity:
    """Filter, in order: required affinity (UnschedulableAndUnresolvable), required
    anti-affinity (Unschedulable), existing pods' required anti-affinity (Unschedulable).
    Score: Σ weights of matching preferred terms both ways plus hardPodAffinityWeight for
    existing pods' required affinity, per topology domain; normalized between min and max."""

    name = "InterPodAffinity"

    @classmethod
    def default_args(cls, args: Mapping[str, Any]) -> dict[str, Any]:
        """InterPodAffinityArgs: hardPodAffinityWeight 1 (0-100),
        ignorePreferredTermsOfExistingPods false."""
        out = dict(args)
        if out.get("hardPodAffinityWeight") is None:
            out["hardPodAffinityWeight"] = 1
        out.setdefault("ignorePreferredTermsOfExistingPods", False)
        return out

    def __init__(self, args: Mapping[str, Any] | None = None) -> None:
        self.args = self.default_args(args or {})
        weight = self.args["hardPodAffinityWeight"]
        if not 0 <= weight <= 100:
            raise ValueError(
                f"hardPodAffinityWeight: Invalid value: {weight}: not in valid range [0-100]"
            )
        self.hard_weight = weight
        self.ignore_existing_preferred = bool(self.args["ignorePreferredTermsOfExistingPods"])

    @staticmethod
    def _merge_namespaces(snapshot: Snapshot, term: AffinityTerm) -> AffinityTerm:
        # The incoming pod's namespaceSelector becomes namespaces (empty selector: all kept).
        if term.namespace_selector.empty:
            return term
        return term.with_namespaces(snapshot.namespaces_matching(term.namespace_selector))

    # -- filtering

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        snapshot = state.snapshot
        if pod.parse_error:
            return Status(Code.UnschedulableAndUnresolvable, f"parsing pod: {pod.parse_error}")
        affinity = [self._merge_namespaces(snapshot, t) for t in pod.required_affinity_terms]
        anti = [self._merge_namespaces(snapshot, t) for t in pod.required_anti_affinity_terms]
        s = _PreFilterState(pod, affinity, anti, snapshot.namespace_labels(pod.namespace))
        for kind, term, _ in snapshot.term_keys_for(pod.labels, ("requiredAntiAffinity",)):
            if term.matches(pod, s.namespace_labels):
                counts = snapshot.count_pods(HasTerm((kind, term, 0)))
                for value, c in _by_domain(snapshot, term.topology_key, counts).items():
                    s.existing_anti[(term.topology_key, value)] = (
                        s.existing_anti.get((term.topology_key, value), 0) + c
                    )
        if affinity:
            counts = snapshot.count_pods(_MatchesAll(tuple(affinity)))
            for t in affinity:
                for value, c in _by_domain(snapshot, t.topology_key, counts).items():
                    pair = (t.topology_key, value)
                    s.affinity[pair] = s.affinity.get(pair, 0) + c
        for t in anti:
            counts = snapshot.count_pods(_MatchesTerm(t))
            for value, c in _by_domain(snapshot, t.topology_key, counts).items():
                pair = (t.topology_key, value)
                s.anti[pair] = s.anti.get(pair, 0) + c
        if not s.existing_anti and not affinity and not anti:
            return Status(Code.Skip)
        state.write(_PRE_FILTER_KEY, s)
        return Status.success()

    def add_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> Status:
        state.read(_PRE_FILTER_KEY).update_with_pod(other, node, 1)
        return Status.success()

    def remove_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> Status:
        state.read(_PRE_FILTER_KEY).update_with_pod(other, node, -1)
        return Status.success()

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        try:
            s: _PreFilterState = state.read(_PRE_FILTER_KEY)
        except KeyError:
            return Status.error(f'error reading "{_PRE_FILTER_KEY}" from cycleState: not found')
        labels = node.labels
        if not self._satisfies_affinity(s, labels):
            return Status(Code.UnschedulableAndUnresolvable, ERR_REASON_AFFINITY)
        if s.anti:
            for t in s.anti_affinity_terms:
                value = labels.get(t.topology_key)
                if value is not None and s.anti.get((t.topology_key, value), 0) > 0:
                    return Status(Code.Unschedulable, ERR_REASON_ANTI_AFFINITY)
        if s.existing_anti:
            for pair in labels.items():
                if s.existing_anti.get(pair, 0) > 0:
                    return Status(Code.Unschedulable, ERR_REASON_EXISTING_ANTI_AFFINITY)
        return Status.success()

    @staticmethod
    def _satisfies_affinity(s: _PreFilterState, labels: Mapping[str, str]) -> bool:
        pods_exist = True
        for t in s.affinity_terms:
            value = labels.get(t.topology_key)
            if value is None:
                return False  # every topology key must be on the node
            if s.affinity.get((t.topology_key, value), 0) <= 0:
                pods_exist = False
        if pods_exist:
            return True
        # The first pod of a group with affinity to itself may go anywhere with the keys.
        return not s.affinity and pod_matches_all(s.affinity_terms, s.pod)

    def filter_all(self, state: CycleState, pod: PodInfo, snapshot: Snapshot) -> np.ndarray:
        s: _PreFilterState = state.read(_PRE_FILTER_KEY)
        n = len(snapshot)
        fails = np.zeros(n, bool)
        if s.affinity_terms:
            missing = np.zeros(n, bool)
            empty_domain = np.zeros(n, bool)
            for t in s.affinity_terms:
                by_value = {v: c for (k, v), c in s.affinity.items() if k == t.topology_key}
                has, count = _per_node(snapshot, t.topology_key, by_value)
                missing |= ~has
                empty_domain |= has & (count <= 0)
            if s.affinity or not pod_matches_all(s.affinity_terms, s.pod):
                fails |= empty_domain
            fails |= missing
        if s.anti:
            for t in s.anti_affinity_terms:
                by_value = {v: c for (k, v), c in s.anti.items() if k == t.topology_key}
                has, count = _per_node(snapshot, t.topology_key, by_value)
                fails |= has & (count > 0)
        for (key, value), c in s.existing_anti.items():
            if c > 0:
                codes, _, index = snapshot.label_codes(key)
                if value in index:
                    fails |= codes == index[value]
        return fails

    # -- scoring

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        snapshot = state.snapshot
        has_preferred = bool(pod.preferred_affinity_terms or pod.preferred_anti_affinity_terms)
        if self.ignore_existing_preferred and not has_preferred:
            return Status(Code.Skip)
        if pod.parse_error:
            return Status.error(f"failed to parse pod: {pod.parse_error}")
        ns_labels = snapshot.namespace_labels(pod.namespace)
        scores: dict[str, dict[str, int]] = {}
        touched = False

        def add(key: str, counts: np.ndarray, weight: int) -> None:
            nonlocal touched
            domains = _by_domain(snapshot, key, counts)
            if domains:
                touched = True
                per_key = scores.setdefault(key, {})
                for value, c in domains.items():
                    per_key[value] = per_key.get(value, 0) + weight * c

        for term, weight in pod.preferred_affinity_terms:
            term = self._merge_namespaces(snapshot, term)
            add(term.topology_key, snapshot.count_pods(_MatchesTerm(term)), weight)
        for term, weight in pod.preferred_anti_affinity_terms:
            term = self._merge_namespaces(snapshot, term)
            add(term.topology_key, snapshot.count_pods(_MatchesTerm(term)), -weight)
        kinds = ("requiredAffinity", "preferredAffinity", "preferredAntiAffinity")
        for key in snapshot.term_keys_for(pod.labels, kinds):
            kind, term, weight = key
            if kind == "requiredAffinity":
                if self.hard_weight <= 0:
                    continue
                weight = self.hard_weight
            elif kind == "preferredAntiAffinity":
                weight = -weight
            if term.matches(pod, ns_labels):
                add(term.topology_key, snapshot.count_pods(HasTerm(key)), weight)
        if not touched:
            return Status(Code.Skip)
        state.write(_PRE_SCORE_KEY, scores)
        return Status.success()

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        scores: dict[str, dict[str, int]] = state.read(_PRE_SCORE_KEY)
        total = 0
        for key, by_value in scores.items():
            value = node.labels.get(key)
            if value is not None:
                total += by_value.get(value, 0)
        return total

    def score_all(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo], index: np.ndarray
    ) -> np.ndarray | None:
        snapshot = state.snapshot
        scores: dict[str, dict[str, int]] = state.read(_PRE_SCORE_KEY)
        total = np.zeros(len(snapshot), np.int64)
        for key, by_value in scores.items():
            _, count = _per_node(snapshot, key, by_value)
            total += count
        return total[index]

    def normalize_score(
        self, state: CycleState, pod: PodInfo, scores: np.ndarray, nodes: Sequence[NodeInfo]
    ) -> np.ndarray:
        if not state.get(_PRE_SCORE_KEY) or len(scores) == 0:
            return scores
        low, high = int(scores.min()), int(scores.max())
        diff = high - low
        if diff <= 0:
            return np.zeros(len(scores), np.int64)
        fraction = (scores - low).astype(np.float64) / float(diff)
        return np.trunc(100.0 * fraction).astype(np.int64)
