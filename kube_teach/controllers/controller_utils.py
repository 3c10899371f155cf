"""What the replicating controllers share: which pod goes first, slow start, expectations.

Semantics: pkg/controller/controller_utils.go (ActivePodsWithRanks with PodDeletionCost and
LogarithmicScaleDown on, as by default; slowStartBatch; ControllerExpectations and the
UID-tracking variant). Times are seconds since the epoch, passed in.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._util import ZERO_TIME, condition, creation_time, is_pod_ready, parse_time, spec, status

POD_DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
SLOW_START_INITIAL_BATCH_SIZE = 1
EXPECTATIONS_TIMEOUT = 300.0  # seconds (ExpectationsTimeout = 5m)
_PHASE_ORDINAL = {"Pending": 0, "Unknown": 1, "Running": 2}
_NS = 1_000_000_000


def deletion_cost(pod: Mapping[str, Any]) -> int:
    """The pod-deletion-cost annotation as an int32; 0 when absent or invalid (no "+", no
    leading zeros), as GetDeletionCostFromPodAnnotations reads it."""
    value = ((pod.get("metadata") or {}).get("annotations") or {}).get(POD_DELETION_COST)
    if value is None or not value:
        return 0
    if not (value[0] == "-" or value == "0" or "1" <= value[0] <= "9"):
        return 0
    if not re.fullmatch(r"-?[0-9]+", value):
        return 0
    number = int(value)
    return number if -(2**31) <= number < 2**31 else 0


def _ready_time(pod: Mapping[str, Any]) -> float:
    if is_pod_ready(pod):
        cond = condition(status(pod).get("conditions"), "Ready") or {}
        return parse_time(cond.get("lastTransitionTime"), ZERO_TIME)
    return ZERO_TIME


def _max_restarts(pod: Mapping[str, Any]) -> tuple[int, int]:
    regular = max(
        (int(c.get("restartCount") or 0) for c in status(pod).get("containerStatuses") or ()),
        default=0,
    )
    sidecars = {
        c.get("name")
        for c in spec(pod).get("initContainers") or ()
        if c.get("restartPolicy") == "Always"
    }
    sidecar = max(
        (
            int(c.get("restartCount") or 0)
            for c in status(pod).get("initContainerStatuses") or ()
            if c.get("name") in sidecars
        ),
        default=0,
    )
    return regular, sidecar


def _after_or_zero(t1: float, t2: float) -> bool:
    if t1 == ZERO_TIME or t2 == ZERO_TIME:
        return t1 == ZERO_TIME
    return t1 > t2


def _log_rank_diff(t1: float, t2: float, now: float) -> int:
    """floor(log2(now − t)) in nanoseconds for each time (−1 when not in the past), subtracted."""

    def rank(t: float) -> int:
        d = round((now - t) * _NS)
        return int(math.log2(d)) if d > 0 else -1

    return rank(t1) - rank(t2)


def _uid(pod: Mapping[str, Any]) -> str:
    return (pod.get("metadata") or {}).get("uid") or ""


def pod_less(
    p1: Mapping[str, Any], rank1: int, p2: Mapping[str, Any], rank2: int, now: float | None
) -> bool:
    """ActivePodsWithRanks.Less: True if p1 should be deleted before p2.

    In order: unassigned first; Pending < Unknown < Running; not ready first; lower
    pod-deletion-cost first; higher rank (more related pods on its node) first; if both ready,
    ready more recently first; more container restarts first; created more recently first.
    The two time comparisons use log2 buckets of the age in ns (ties: lower UID first), or
    plain order when `now` is None or either time is zero.
    """
    n1, n2 = spec(p1).get("nodeName") or "", spec(p2).get("nodeName") or ""
    if n1 != n2 and (not n1 or not n2):
        return not n1
    o1, o2 = (
        _PHASE_ORDINAL.get(status(p1).get("phase"), 0),
        _PHASE_ORDINAL.get(status(p2).get("phase"), 0),
    )
    if o1 != o2:
        return o1 < o2
    r1, r2 = is_pod_ready(p1), is_pod_ready(p2)
    if r1 != r2:
        return not r1
    c1, c2 = deletion_cost(p1), deletion_cost(p2)
    if c1 != c2:
        return c1 < c2
    if rank1 != rank2:
        return rank1 > rank2
    if r1 and r2:
        t1, t2 = _ready_time(p1), _ready_time(p2)
        if t1 != t2:
            return _time_less(t1, t2, now, p1, p2)
    (m1, s1), (m2, s2) = _max_restarts(p1), _max_restarts(p2)
    if m1 != m2:
        return m1 > m2
    if s1 != s2:
        return s1 > s2
    t1, t2 = creation_time(p1), creation_time(p2)
    if t1 != t2:
        return _time_less(t1, t2, now, p1, p2)
    return False


def _time_less(t1: float, t2: float, now: float | None, p1: Mapping, p2: Mapping) -> bool:
    if now is None or t1 == ZERO_TIME or t2 == ZERO_TIME:
        return _after_or_zero(t1, t2)
    diff = _log_rank_diff(t1, t2, now)
    if diff == 0:
        return _uid(p1) < _uid(p2)
    return diff < 0


def sort_active_pods_with_ranks(
    pods: Sequence[Mapping[str, Any]], ranks: Sequence[int], now: float | None
) -> list[Mapping[str, Any]]:
    """`pods` ordered by pod_less, earliest to delete first.

    Go's sort.Sort is not stable; this sort is, which gives the same order whenever the
    ordering is strict and, for ties, for up to 12 pods (Go's insertion-sort range).
    """
    pairs = list(zip(pods, ranks, strict=True))

    def cmp(a: tuple, b: tuple) -> int:
        if pod_less(a[0], a[1], b[0], b[1], now):
            return -1
        if pod_less(b[0], b[1], a[0], a[1], now):
            return 1
        return 0

    return [p for p, _ in sorted(pairs, key=functools.cmp_to_key(cmp))]


def ranks_by_related_pods_on_same_node(
    pods: Sequence[Mapping[str, Any]], related_pods: Iterable[Mapping[str, Any]]
) -> list[int]:
    """For each pod, the number of active related pods on its node (itself included)."""
    on_node: dict[str, int] = {}
    for pod in related_pods:
        if status(pod).get("phase") not in ("Succeeded", "Failed") and not (
            (pod.get("metadata") or {}).get("deletionTimestamp")
        ):
            node = spec(pod).get("nodeName") or ""
            on_node[node] = on_node.get(node, 0) + 1
    return [on_node.get(spec(p).get("nodeName") or "", 0) for p in pods]


def slow_start_batches(count: int, initial: int = SLOW_START_INITIAL_BATCH_SIZE) -> list[int]:
    """Batch sizes slowStartBatch uses to create `count` pods: 1, 2, 4, ... capped by what is
    left. The pods of a batch go out together; a failure skips every later batch."""
    batches, remaining = [], count
    size = min(remaining, initial)
    while size > 0:
        batches.append(size)
        remaining -= size
        size = min(2 * size, remaining)
    return batches


@dataclass
class _Record:
    add: int
    delete: int
    timestamp: float
    uids: set[str] = field(default_factory=set)


class Expectations:
    """The creates and deletes a controller waits to see in its informer before it acts again.

    ControllerExpectations with UID tracking for deletions, as the ReplicaSet controller uses
    it. No clock inside: `now` comes from the caller. A key is satisfied when nothing is
    outstanding, when its record is older than EXPECTATIONS_TIMEOUT, or when it has no record.
    """

    def __init__(self, timeout: float = EXPECTATIONS_TIMEOUT) -> None:
        self.timeout = timeout
        self._records: dict[str, _Record] = {}

    def expect_creations(self, key: str, adds: int, now: float) -> None:
        self._records[key] = _Record(adds, 0, now)

    def expect_deletions(self, key: str, pod_keys: Iterable[str], now: float) -> None:
        uids = set(pod_keys)
        self._records[key] = _Record(0, len(uids), now, uids)

    def creation_observed(self, key: str) -> None:
        record = self._records.get(key)
        if record is not None:
            record.add -= 1

    def deletion_observed(self, key: str, pod_key: str) -> None:
        """A pod the controller deleted is gone (or terminating); counted once per pod."""
        record = self._records.get(key)
        if record is not None and pod_key in record.uids:
            record.uids.discard(pod_key)
            record.delete -= 1

    def pending(self, key: str) -> tuple[int, int]:
        """(creates, deletes) still expected for `key`."""
        record = self._records.get(key)
        return (record.add, record.delete) if record else (0, 0)

    def satisfied(self, key: str, now: float) -> bool:
        """Whether the controller may manage replicas for `key` again (SatisfiedExpectations)."""
        record = self._records.get(key)
        if record is None:
            return True
        if record.add <= 0 and record.delete <= 0:
            return True
        return now - record.timestamp > self.timeout

    def delete(self, key: str) -> None:
        self._records.pop(key, None)
