"""Match pods to nodes by spec.nodeSelector and node affinity; prefer nodes matching the
preferred terms. The `addedAffinity` argument adds scheduler-enforced affinity to every pod.

Semantics: kube-scheduler's NodeAffinity plugin (PreFilter, Filter, PreScore, Score,
NormalizeScore) and component-helpers' nodeaffinity.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from kube_teach.api.selectors import InvalidRequirementError

from ..framework import (
    Code,
    CycleState,
    NodeInfo,
    PodInfo,
    PreFilterResult,
    Snapshot,
    Status,
)
from .helper import PreferredSchedulingTerms, RequiredNodeAffinity, default_normalize_score

ERR_REASON_POD = "node(s) didn't match Pod's node affinity/selector"
ERR_REASON_ENFORCED = "node(s) didn't match scheduler-enforced node affinity"
ERR_REASON_CONFLICT = "pod affinity terms conflict"
_PRE_SCORE_KEY = "PreScoreNodeAffinity"


def _required(pod: PodInfo) -> Any:
    affinity = (pod.spec.get("affinity") or {}).get("nodeAffinity") or {}
    return affinity.get("requiredDuringSchedulingIgnoredDuringExecution")


def _preferred(pod: PodInfo) -> PreferredSchedulingTerms | None:
    affinity = (pod.spec.get("affinity") or {}).get("nodeAffinity") or {}
    terms = affinity.get("preferredDuringSchedulingIgnoredDuringExecution")
    return None if terms is None else PreferredSchedulingTerms(terms)


class NodeAffinity:
    """Filter: UnschedulableAndUnresolvable when addedAffinity or the pod's selector/affinity
    does not match. Score: the sum of matching preferred-term weights (the pod's and
    addedAffinity's), normalized by the maximum."""

    name = "NodeAffinity"

    @classmethod
    def default_args(cls, args: dict[str, Any]) -> dict[str, Any]:
        """NodeAffinityArgs: addedAffinity (a NodeAffinity dict), none by default."""
        return dict(args)

    def __init__(self, args: dict[str, Any] | None = None) -> None:
        added = (args or {}).get("addedAffinity") or {}
        required = added.get("requiredDuringSchedulingIgnoredDuringExecution")
        self.added_required = None if required is None else RequiredNodeAffinity(None, required)
        preferred = added.get("preferredDuringSchedulingIgnoredDuringExecution")
        self.added_preferred = PreferredSchedulingTerms(preferred) if preferred else None

    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> Status | PreFilterResult:
        required = _required(pod)
        if (
            required is None
            and self.added_required is None
            and pod.spec.get("nodeSelector") is None
        ):
            return Status(Code.Skip)
        terms = (required or {}).get("nodeSelectorTerms") or []
        if not terms:
            return Status.success()
        # A term naming nodes by metadata.name In narrows the nodes; terms are ORed.
        names: set[str] | None = None
        for term in terms:
            term_names: set[str] | None = None
            for r in term.get("matchFields") or ():
                if r.get("key") == "metadata.name" and r.get("operator") == "In":
                    values = set(r.get("values") or ())
                    term_names = values if term_names is None else term_names & values
            if term_names is None:
                return Status.success()
            names = term_names if names is None else names | term_names
        if names is not None and not names:
            return Status(Code.UnschedulableAndUnresolvable, ERR_REASON_CONFLICT)
        return PreFilterResult(names) if names else Status.success()

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        if self.added_required is not None and not self.added_required.matches(node):
            return Status(Code.UnschedulableAndUnresolvable, ERR_REASON_ENFORCED)
        if not RequiredNodeAffinity.of(pod).matches(node):
            return Status(Code.UnschedulableAndUnresolvable, ERR_REASON_POD)
        return Status.success()

    def filter_all(self, state: CycleState, pod: PodInfo, snapshot: Snapshot) -> np.ndarray:
        fails = ~RequiredNodeAffinity.of(pod).mask(snapshot)
        if self.added_required is not None:
            fails |= ~self.added_required.mask(snapshot)
        return fails

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        try:
            preferred = _preferred(pod)
        except InvalidRequirementError as err:
            return Status.error(str(err))
        if preferred is None and self.added_preferred is None:
            return Status(Code.Skip)
        state.write(_PRE_SCORE_KEY, preferred)
        return Status.success()

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        count = self.added_preferred.score(node) if self.added_preferred is not None else 0
        try:
            preferred = state.read(_PRE_SCORE_KEY)
        except KeyError:
            try:
                preferred = _preferred(pod)
            except InvalidRequirementError:
                preferred = None
        if preferred is not None:
            count += preferred.score(node)
        return count

    def normalize_score(
        self, state: CycleState, pod: PodInfo, scores: np.ndarray, nodes: Sequence[NodeInfo]
    ) -> np.ndarray:
        return default_normalize_score(scores, reverse=False)
