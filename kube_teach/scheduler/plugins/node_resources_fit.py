"""Check that a node has room for the pod's requests; score nodes by how allocated they would be
(LeastAllocated by default, MostAllocated or RequestedToCapacityRatio via scoringStrategy).

Semantics: kube-scheduler's NodeResourcesFit plugin (fit.go, resource_allocation.go,
least_allocated.go, most_allocated.go, requested_to_capacity_ratio.go), v1.34: a shortfall is
UnschedulableAndUnresolvable when the request exceeds the node's whole allocatable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from ..framework import (
    MAX_NODE_SCORE,
    Code,
    CycleState,
    NodeInfo,
    PodInfo,
    Resource,
    Snapshot,
    Status,
    is_extended_resource_name,
    is_scalar_resource_name,
    milli_value,
    value_of,
)
from .helper import broken_linear

LEAST_ALLOCATED = "LeastAllocated"
MOST_ALLOCATED = "MostAllocated"
REQUESTED_TO_CAPACITY_RATIO = "RequestedToCapacityRatio"
DEFAULT_RESOURCES = [{"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1}]
MAX_CUSTOM_PRIORITY_SCORE = 10
MAX_UTILIZATION = 100
_PRE_FILTER_KEY = "PreFilterNodeResourcesFit"
_PRE_SCORE_KEY = "PreScoreNodeResourcesFit"


class InsufficientResource(NamedTuple):
    """One resource the node lacks for the pod (upstream's InsufficientResource)."""

    resource_name: str
    reason: str
    requested: int
    used: int
    capacity: int
    unresolvable: bool


def fits_request(
    request: Resource,
    node: NodeInfo,
    ignored: frozenset[str] = frozenset(),
    ignored_groups: frozenset[str] = frozenset(),
) -> list[InsufficientResource]:
    """Every resource the node is short of, in upstream's order: pods, cpu, memory,
    ephemeral-storage, then scalar resources in the pod's order."""
    out: list[InsufficientResource] = []
    alloc, used = node.allocatable, node.requested
    if len(node.pods) + 1 > alloc.allowed_pod_number:
        out.append(
            InsufficientResource(
                "pods", "Too many pods", 1, len(node.pods), alloc.allowed_pod_number, False
            )
        )
    if request.is_zero():
        return out
    for name, want, have, cap in (
        ("cpu", request.milli_cpu, used.milli_cpu, alloc.milli_cpu),
        ("memory", request.memory, used.memory, alloc.memory),
        (
            "ephemeral-storage",
            request.ephemeral_storage,
            used.ephemeral_storage,
            alloc.ephemeral_storage,
        ),
    ):
        if want > 0 and want > cap - have:
            out.append(
                InsufficientResource(name, f"Insufficient {name}", want, have, cap, want > cap)
            )
    for name, want in request.scalar.items():
        if want == 0 or _ignored(name, ignored, ignored_groups):
            continue
        cap, have = alloc.scalar.get(name, 0), used.scalar.get(name, 0)
        if want > cap - have:
            out.append(
                InsufficientResource(name, f"Insufficient {name}", want, have, cap, want > cap)
            )
    return out


def _ignored(name: str, ignored: frozenset[str], groups: frozenset[str]) -> bool:
    if not is_extended_resource_name(name):
        return False
    return name in ignored or (bool(groups) and name.split("/")[0] in groups)


# --- scoring -----------------------------------------------------------------------------------


class ResourceAllocation:
    """The shared part of resource scoring (resourceAllocationScorer): the pod's request and the
    node's allocatable/allocated amount for each configured resource.

    With `use_requested` (BalancedAllocation) the real requests are used; otherwise missing
    cpu/memory requests count as 100m/200Mi for the pod and for the node's pods.
    """

    def __init__(self, resources: Sequence[Mapping[str, Any]], use_requested: bool) -> None:
        self.names = [r["name"] for r in resources]
        self.weights = np.array([r.get("weight") or 1 for r in resources], np.int64)
        self.use_requested = use_requested
        self._scalar = [is_scalar_resource_name(n) for n in self.names]

    def pod_request_list(self, pod: PodInfo) -> list[int]:
        reqs = pod.request_nanos if self.use_requested else pod.request_nanos_with_defaults
        return [
            milli_value(reqs.get(n, 0)) if n == "cpu" else value_of(reqs.get(n, 0))
            for n in self.names
        ]

    def arrays(
        self, snapshot: Snapshot, index: np.ndarray, pod_reqs: Sequence[int]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(requested, allocatable, allocated) as [resource, node] arrays; a resource that is
        skipped for a node has allocatable 0 there."""
        r, n = len(self.names), len(index)
        requested = np.zeros((r, n), np.int64)
        allocatable = np.zeros((r, n), np.int64)
        allocated = np.zeros((r, n), np.int64)
        for i, name in enumerate(self.names):
            if pod_reqs[i] == 0 and self._scalar[i]:
                continue
            if name == "cpu":
                cap = snapshot.alloc_cpu[index]
                have = (snapshot.req_cpu if self.use_requested else snapshot.nz_cpu)[index]
            elif name == "memory":
                cap = snapshot.alloc_mem[index]
                have = (snapshot.req_mem if self.use_requested else snapshot.nz_mem)[index]
            elif name == "ephemeral-storage":
                cap, have = snapshot.alloc_eph[index], snapshot.req_eph[index]
            elif self._scalar[i]:
                cap_all, have_all = snapshot.scalar_arrays(name)
                cap, have = cap_all[index], have_all[index]
            else:
                continue  # "pods", "storage": upstream finds nothing to score
            allocatable[i] = cap
            allocated[i] = np.where(cap > 0, have, 0)
            requested[i] = np.where(cap > 0, have + pod_reqs[i], 0)
        return requested, allocatable, allocated

    def node_arrays(
        self, node: NodeInfo, pod_reqs: Sequence[int]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The same for one NodeInfo (which need not be in a snapshot), as [resource, 1]."""
        rows = []
        for i, name in enumerate(self.names):
            cap = have = 0
            if not (pod_reqs[i] == 0 and self._scalar[i]):
                used = node.requested if self.use_requested else node.non_zero_requested
                if name == "cpu":
                    cap, have = node.allocatable.milli_cpu, used.milli_cpu
                elif name == "memory":
                    cap, have = node.allocatable.memory, used.memory
                elif name == "ephemeral-storage":
                    cap, have = node.allocatable.ephemeral_storage, node.requested.ephemeral_storage
                elif self._scalar[i]:
                    cap = node.allocatable.scalar.get(name, 0)
                    have = node.requested.scalar.get(name, 0)
            if cap == 0:
                rows.append((0, 0, 0))
            else:
                rows.append((have + pod_reqs[i], cap, have))
        a = np.array(rows, np.int64).reshape(len(self.names), 3)
        return a[:, 0:1], a[:, 1:2], a[:, 2:3]


def least_allocated(
    requested: np.ndarray, allocatable: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """Σ w·(free·100/allocatable) / Σ w over resources with allocatable > 0; 0 when the
    request exceeds allocatable. Integer divisions throughout."""
    present = allocatable > 0
    safe = np.where(present, allocatable, 1)
    per = np.where(requested > allocatable, 0, (allocatable - requested) * MAX_NODE_SCORE // safe)
    return _weighted_mean(per, present, weights)


def most_allocated(
    requested: np.ndarray, allocatable: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """Σ w·(min(requested, allocatable)·100/allocatable) / Σ w; requests above allocatable are
    clipped (pods without requests get defaults that may overflow a small node)."""
    present = allocatable > 0
    safe = np.where(present, allocatable, 1)
    per = np.minimum(requested, allocatable) * MAX_NODE_SCORE // safe
    return _weighted_mean(per, present, weights)


def _weighted_mean(per: np.ndarray, present: np.ndarray, weights: np.ndarray) -> np.ndarray:
    w = weights[:, None] * present
    total = (per * w).sum(axis=0)
    weight_sum = w.sum(axis=0)
    return np.where(weight_sum > 0, total // np.where(weight_sum > 0, weight_sum, 1), 0)


def requested_to_capacity_ratio(shape: Sequence[Mapping[str, int]]) -> Any:
    """A scorer for the given utilization shape (scores 0-10, scaled by 10). Per resource the
    utilization is requested·100/allocatable as an integer (100 when over capacity); resources
    scoring 0 are left out of the weighted mean, which is rounded (Go math.Round)."""
    scale = MAX_NODE_SCORE // MAX_CUSTOM_PRIORITY_SCORE
    fn = broken_linear([(p["utilization"], p["score"] * scale) for p in shape])
    table = np.array([fn(u) for u in range(MAX_UTILIZATION + 1)], np.int64)

    def scorer(requested: np.ndarray, allocatable: np.ndarray, weights: np.ndarray) -> np.ndarray:
        present = allocatable > 0
        safe = np.where(present, allocatable, 1)
        util = np.where(
            requested > allocatable, MAX_UTILIZATION, requested * MAX_UTILIZATION // safe
        )
        per = table[np.clip(util, 0, MAX_UTILIZATION)]
        counted = present & (per > 0)
        w = weights[:, None] * counted
        total = (per * w).sum(axis=0).astype(np.float64)
        weight_sum = w.sum(axis=0)
        mean = total / np.where(weight_sum > 0, weight_sum, 1)
        return np.where(weight_sum > 0, np.floor(mean + 0.5), 0).astype(np.int64)

    return scorer


# --- the plugin --------------------------------------------------------------------------------


def _validate(args: Mapping[str, Any]) -> None:
    strategy = args["scoringStrategy"]
    kind = strategy.get("type")
    if kind not in (LEAST_ALLOCATED, MOST_ALLOCATED, REQUESTED_TO_CAPACITY_RATIO):
        raise ValueError(f'scoringStrategy.type: Unsupported value: "{kind}"')
    for i, r in enumerate(strategy["resources"]):
        if not 1 <= r["weight"] <= 100:
            raise ValueError(
                f"scoringStrategy.resources[{i}].weight: Invalid value: {r['weight']}: "
                "resource weight of cpu should be in range 1-100"
            )
    if kind == REQUESTED_TO_CAPACITY_RATIO:
        shape = (strategy.get("requestedToCapacityRatio") or {}).get("shape") or []
        if not shape:
            raise ValueError("scoringStrategy.requestedToCapacityRatio.shape: Required value")
        last = -1
        for i, p in enumerate(shape):
            if not 0 <= p["utilization"] <= 100 or p["utilization"] <= last:
                raise ValueError(f"shape[{i}].utilization: Invalid value: {p['utilization']}")
            if not 0 <= p["score"] <= MAX_CUSTOM_PRIORITY_SCORE:
                raise ValueError(f"shape[{i}].score: Invalid value: {p['score']}")
            last = p["utilization"]


class NodeResourcesFit:
    """Filter: `Too many pods` and `Insufficient <resource>` (all shortfalls, in order).
    Score: the configured scoring strategy over the configured resources; no normalization."""

    name = "NodeResourcesFit"

    @classmethod
    def default_args(cls, args: Mapping[str, Any]) -> dict[str, Any]:
        """NodeResourcesFitArgs defaults: LeastAllocated over cpu and memory, weight 1 each; a
        resource weight of 0 becomes 1."""
        out = dict(args)
        strategy = dict(out.get("scoringStrategy") or {"type": LEAST_ALLOCATED})
        resources = [dict(r) for r in strategy.get("resources") or DEFAULT_RESOURCES]
        for r in resources:
            r["weight"] = r.get("weight") or 1
        strategy["resources"] = resources
        strategy.setdefault("type", LEAST_ALLOCATED)
        out["scoringStrategy"] = strategy
        out.setdefault("ignoredResources", [])
        out.setdefault("ignoredResourceGroups", [])
        return out

    def __init__(self, args: Mapping[str, Any] | None = None) -> None:
        args = self.default_args(args or {})
        _validate(args)
        self.args = args
        self.ignored = frozenset(args["ignoredResources"])
        self.ignored_groups = frozenset(args["ignoredResourceGroups"])
        strategy = args["scoringStrategy"]
        self.strategy = strategy["type"]
        self.allocation = ResourceAllocation(strategy["resources"], use_requested=False)
        if self.strategy == LEAST_ALLOCATED:
            self.scorer = least_allocated
        elif self.strategy == MOST_ALLOCATED:
            self.scorer = most_allocated
        else:
            self.scorer = requested_to_capacity_ratio(strategy["requestedToCapacityRatio"]["shape"])

    # -- filtering

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        state.write(_PRE_FILTER_KEY, pod.requests)
        return Status.success()

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        try:
            request = state.read(_PRE_FILTER_KEY)
        except KeyError:
            return Status.error(f'error reading "{_PRE_FILTER_KEY}" from cycleState: not found')
        short = fits_request(request, node, self.ignored, self.ignored_groups)
        if not short:
            return Status.success()
        code = (
            Code.UnschedulableAndUnresolvable
            if any(r.unresolvable for r in short)
            else Code.Unschedulable
        )
        return Status(code, *(r.reason for r in short))

    def filter_all(self, state: CycleState, pod: PodInfo, snapshot: Snapshot) -> np.ndarray:
        request: Resource = state.read(_PRE_FILTER_KEY)
        s = snapshot
        fails = s.num_pods + 1 > s.alloc_pods
        if request.is_zero():
            return fails
        if request.milli_cpu > 0:
            fails |= request.milli_cpu > s.alloc_cpu - s.req_cpu
        if request.memory > 0:
            fails |= request.memory > s.alloc_mem - s.req_mem
        if request.ephemeral_storage > 0:
            fails |= request.ephemeral_storage > s.alloc_eph - s.req_eph
        for name, want in request.scalar.items():
            if want == 0 or _ignored(name, self.ignored, self.ignored_groups):
                continue
            cap, have = s.scalar_arrays(name)
            fails |= want > cap - have
        return fails

    # -- scoring

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        state.write(_PRE_SCORE_KEY, self.allocation.pod_request_list(pod))
        return Status.success()

    def _pod_reqs(self, state: CycleState, pod: PodInfo) -> list[int]:
        reqs = state.get(_PRE_SCORE_KEY)
        return reqs if reqs is not None else self.allocation.pod_request_list(pod)

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        requested, allocatable, _ = self.allocation.node_arrays(node, self._pod_reqs(state, pod))
        return int(self.scorer(requested, allocatable, self.allocation.weights)[0])

    def score_all(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo], index: np.ndarray
    ) -> np.ndarray | None:
        snapshot = state.snapshot
        if snapshot is None:
            return None
        requested, allocatable, _ = self.allocation.arrays(
            snapshot, index, self._pod_reqs(state, pod)
        )
        return self.scorer(requested, allocatable, self.allocation.weights)
