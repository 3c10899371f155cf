"""Prefer nodes whose cpu and memory (or configured resources) would be used in similar
fractions once the pod is placed.

Semantics: kube-scheduler's NodeResourcesBalancedAllocation plugin, v1.34 formula: score =
int((1 - std) * 100) over the used fractions (capped at 1); real requests, no defaults; pods
requesting nothing are skipped at PreScore.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..framework import MAX_NODE_SCORE, Code, CycleState, NodeInfo, PodInfo, Status
from .node_resources_fit import DEFAULT_RESOURCES, ResourceAllocation

_PRE_SCORE_KEY = "PreScoreNodeResourcesBalancedAllocation"


def balanced_score(requested: np.ndarray, allocatable: np.ndarray) -> np.ndarray:
    """Per node (columns): 100·(1 - std of the used fractions), truncated. Two fractions give
    |f1 - f2| / 2; more give the population standard deviation; fewer give 0."""
    present = allocatable > 0
    fractions = np.where(
        present, requested.astype(np.float64) / np.where(present, allocatable, 1), 0.0
    )
    fractions = np.minimum(fractions, 1.0)
    count = present.sum(axis=0)
    n = requested.shape[1]
    std = np.zeros(n)
    if requested.shape[0] == 2:
        both = present[0] & present[1]
        std = np.where(both, np.abs((fractions[0] - fractions[1]) / 2), 0.0)
    else:
        for k in np.flatnonzero(count >= 2):
            fs = [float(f) for f, p in zip(fractions[:, k], present[:, k], strict=True) if p]
            if len(fs) == 2:
                std[k] = abs((fs[0] - fs[1]) / 2)
            else:
                mean = sum(fs) / len(fs)
                std[k] = math.sqrt(sum((f - mean) * (f - mean) for f in fs) / len(fs))
    return np.trunc((1 - std) * MAX_NODE_SCORE).astype(np.int64)


class NodeResourcesBalancedAllocation:
    """PreScore: Skip best-effort pods. Score: balance of the resulting fractions (0-100)."""

    name = "NodeResourcesBalancedAllocation"

    @classmethod
    def default_args(cls, args: Mapping[str, Any]) -> dict[str, Any]:
        """NodeResourcesBalancedAllocationArgs: resources cpu and memory, weight 1 (0 means 1)."""
        out = dict(args)
        resources = [dict(r) for r in out.get("resources") or DEFAULT_RESOURCES]
        for r in resources:
            r["weight"] = r.get("weight") or 1
        out["resources"] = resources
        return out

    def __init__(self, args: Mapping[str, Any] | None = None) -> None:
        self.args = self.default_args(args or {})
        self.allocation = ResourceAllocation(self.args["resources"], use_requested=True)

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        reqs = self.allocation.pod_request_list(pod)
        if not any(reqs):
            return Status(Code.Skip)
        state.write(_PRE_SCORE_KEY, reqs)
        return Status.success()

    def _pod_reqs(self, state: CycleState, pod: PodInfo) -> list[int]:
        reqs = state.get(_PRE_SCORE_KEY)
        return reqs if reqs is not None else self.allocation.pod_request_list(pod)

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        requested, allocatable, _ = self.allocation.node_arrays(node, self._pod_reqs(state, pod))
        return int(balanced_score(requested, allocatable)[0])

    def score_all(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo], index: np.ndarray
    ) -> np.ndarray | None:
        if state.snapshot is None:
            return None
        requested, allocatable, _ = self.allocation.arrays(
            state.snapshot, index, self._pod_reqs(state, pod)
        )
        return balanced_score(requested, allocatable)
