"""Keep pods off nodes whose NoSchedule/NoExecute taints they do not tolerate; prefer nodes with
fewer untolerated PreferNoSchedule taints.

Semantics: kube-scheduler's TaintToleration plugin (Filter, PreScore, Score, NormalizeScore).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from kube_teach.api.tolerations import PREFER_NO_SCHEDULE, tolerations_tolerate_taint

from ..framework import Code, CycleState, NodeInfo, PodInfo, Snapshot, Status
from .helper import default_normalize_score, untolerated_mask, untolerated_no_schedule_taint

_PRE_SCORE_KEY = "PreScoreTaintToleration"


def _prefer_tolerations(pod: PodInfo) -> list[Any]:
    # Only tolerations that can tolerate a PreferNoSchedule taint count for the score.
    return [t for t in pod.tolerations if (t.get("effect") or "") in ("", PREFER_NO_SCHEDULE)]


def _intolerable_prefer_taints(node: NodeInfo, tolerations: Sequence[Any]) -> int:
    return sum(
        1
        for taint in node.taints
        if taint.get("effect") == PREFER_NO_SCHEDULE
        and not tolerations_tolerate_taint(tolerations, taint)
    )


class TaintToleration:
    """Filter: the first untolerated NoSchedule/NoExecute taint, in the node's order, rejects as
    UnschedulableAndUnresolvable `node(s) had untolerated taint {key: value}`. Score: the number
    of untolerated PreferNoSchedule taints, normalized in reverse (fewest scores 100)."""

    name = "TaintToleration"

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        taint = untolerated_no_schedule_taint(node, pod.tolerations)
        if taint is None:
            return Status.success()
        key, value = taint.get("key") or "", taint.get("value") or ""
        return Status(
            Code.UnschedulableAndUnresolvable, f"node(s) had untolerated taint {{{key}: {value}}}"
        )

    def filter_all(self, state: CycleState, pod: PodInfo, snapshot: Snapshot) -> np.ndarray | None:
        if not snapshot.tainted_nodes:
            return None
        return untolerated_mask(snapshot, pod.tolerations)

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        state.write(_PRE_SCORE_KEY, _prefer_tolerations(pod))
        return Status.success()

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        tolerations = state.get(_PRE_SCORE_KEY)
        if tolerations is None:
            tolerations = _prefer_tolerations(pod)
        return _intolerable_prefer_taints(node, tolerations)

    def score_all(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo], index: np.ndarray
    ) -> np.ndarray | None:
        out = np.zeros(len(nodes), np.int64)
        snapshot = state.snapshot
        if snapshot is None:
            return None
        for k in np.flatnonzero(snapshot.tainted_mask[index]).tolist():
            out[k] = self.score(state, pod, nodes[k])
        return out

    def normalize_score(
        self, state: CycleState, pod: PodInfo, scores: np.ndarray, nodes: Sequence[NodeInfo]
    ) -> np.ndarray:
        return default_normalize_score(scores, reverse=True)
