"""Helpers several plugins share: score normalization, the broken-linear shape function,
compiled node selectors and affinity terms, taint checks and the default spreading selector.

Semantics: kube-scheduler's plugins/helper (normalize_score.go, shape_score.go, spread.go,
taint.go) and component-helpers' nodeaffinity (RequiredNodeAffinity, PreferredSchedulingTerms).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from kube_teach.api.nodeaffinity import node_selector_requirements_as_selector
from kube_teach.api.selectors import InvalidRequirementError, LabelSelector, Selector
from kube_teach.api.tolerations import NO_SCHEDULE_EFFECTS, find_untolerated_taint

from ..framework import MAX_NODE_SCORE, NodeInfo, PodInfo, Snapshot


def go_round(x: float) -> int:
    """Go's math.Round: halves round away from zero (Python's round() rounds to even)."""
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


def default_normalize_score(scores: np.ndarray, reverse: bool) -> np.ndarray:
    """DefaultNormalizeScore: scale to [0, 100] by the maximum (integer division); all-zero stays
    zero, or becomes 100 everywhere when `reverse` (then 100 - scaled)."""
    scores = np.asarray(scores, np.int64)
    top = max(int(scores.max()) if len(scores) else 0, 0)  # upstream's maximum starts at 0
    if top == 0:
        return np.full(len(scores), MAX_NODE_SCORE, np.int64) if reverse else scores
    out = MAX_NODE_SCORE * scores // top
    return MAX_NODE_SCORE - out if reverse else out


def broken_linear(shape: Sequence[tuple[int, int]]) -> Callable[[int], int]:
    """BuildBrokenLinearFunction: the first score below the first point, linear between points
    (Go integer division, truncating toward zero), the last score above the last point."""

    def fn(p: int) -> int:
        for i, (util, score) in enumerate(shape):
            if p <= util:
                if i == 0:
                    return shape[0][1]
                u0, s0 = shape[i - 1]
                num = (score - s0) * (p - u0)
                den = util - u0
                q = abs(num) // abs(den)
                return s0 + (q if (num >= 0) == (den > 0) else -q)
        return shape[-1][1]

    return fn


def domain_table(snapshot: Snapshot, key: str, by_value: Mapping[str, int]) -> np.ndarray:
    """Counts by label value as an array indexed by value code, plus a trailing 0 that nodes
    without the label (code -1) read."""
    _, values, index = snapshot.label_codes(key)
    table = np.zeros(len(values) + 1, np.int64)
    for value, count in by_value.items():
        code = index.get(value)
        if code is not None:
            table[code] = count
    return table


# --- node selectors ------------------------------------------------------------------------------


class _Term:
    """A compiled NodeSelectorTerm; `valid` is False when any requirement is invalid."""

    __slots__ = ("labels", "fields", "valid")

    def __init__(self, term: Mapping[str, Any], path: str = "") -> None:
        self.labels: Selector | None = None
        self.fields: list[tuple[str, str, str]] = []
        self.valid = True
        expressions = term.get("matchExpressions") or []
        if expressions:
            self.labels = node_selector_requirements_as_selector(
                expressions, path=f"{path}matchExpressions"
            )
        for expr in term.get("matchFields") or []:
            values = list(expr.get("values") or [])
            if expr.get("operator") not in ("In", "NotIn") or len(values) != 1:
                self.valid = False
                continue
            self.fields.append((expr.get("key") or "", expr.get("operator"), values[0]))

    def matches(self, labels: Mapping[str, str], name: str) -> bool:
        if not self.valid:
            return False
        if self.labels is not None and not self.labels.matches(labels):
            return False
        if name:  # upstream checks matchFields only when the node has a name
            for key, op, value in self.fields:
                have = name if key == "metadata.name" else ""
                if (have == value) != (op == "In"):
                    return False
        return True


def _compile_terms(terms: Sequence[Mapping[str, Any]]) -> list[_Term]:
    out = []
    for term in terms or ():
        if not (term or {}).get("matchExpressions") and not (term or {}).get("matchFields"):
            continue  # an empty term matches nothing
        try:
            out.append(_Term(term))
        except InvalidRequirementError:
            continue  # errors are ignored when matching, as the lazy-error selector does
    return out


class RequiredNodeAffinity:
    """A pod's spec.nodeSelector AND its required node affinity (GetRequiredNodeAffinity).

    Required terms are ORed; a required affinity with no usable terms matches nothing.
    """

    def __init__(self, node_selector: Mapping[str, str] | None, required: Mapping[str, Any] | None):
        self.node_selector = dict(node_selector or {})
        self.has_required = required is not None
        self.terms = _compile_terms((required or {}).get("nodeSelectorTerms") or [])
        self.key = json.dumps([self.node_selector, required], sort_keys=True, default=str)

    @classmethod
    def of(cls, pod: PodInfo) -> RequiredNodeAffinity:
        cached = pod.__dict__.get("_required_node_affinity")
        if cached is None:
            affinity = ((pod.spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
                "requiredDuringSchedulingIgnoredDuringExecution"
            )
            cached = cls(pod.spec.get("nodeSelector"), affinity)
            pod.__dict__["_required_node_affinity"] = cached
        return cached

    def matches(self, node: NodeInfo) -> bool:
        labels = node.labels
        for k, v in self.node_selector.items():
            if labels.get(k) != v:
                return False
        if not self.has_required:
            return True
        return any(t.matches(labels, node.name) for t in self.terms)

    def mask(self, snapshot: Snapshot) -> np.ndarray:
        """matches() for every node of the snapshot, memoized per selector."""
        key = ("RequiredNodeAffinity", self.key)
        mask = snapshot.node_memo.get(key)
        if mask is None:
            mask = np.fromiter(
                (self.matches(ni) for ni in snapshot.node_infos), bool, len(snapshot)
            )
            snapshot.node_memo[key] = mask
        return mask


class PreferredSchedulingTerms:
    """Weighted preferred node-affinity terms; a node's score is the sum of matching weights.

    Terms with weight 0 or no requirements are dropped. Constructing raises
    InvalidRequirementError (with upstream's path, e.g. `[0].matchExpressions[0].key`) for an
    invalid term, which PreScore reports as an error.
    """

    def __init__(self, terms: Sequence[Mapping[str, Any]]) -> None:
        self.terms: list[tuple[_Term, int]] = []
        errors: list[str] = []
        for i, term in enumerate(terms or ()):
            preference = term.get("preference") or {}
            weight = term.get("weight") or 0
            if weight == 0 or not (
                preference.get("matchExpressions") or preference.get("matchFields")
            ):
                continue
            try:
                self.terms.append((_Term(preference, f"[{i}]."), weight))
            except InvalidRequirementError as err:
                errors.extend(err.errors)
        if errors:
            raise InvalidRequirementError(errors)

    def score(self, node: NodeInfo) -> int:
        return sum(w for t, w in self.terms if t.matches(node.labels, node.name))


# --- taints --------------------------------------------------------------------------------------


def untolerated_no_schedule_taint(node: NodeInfo, tolerations: Sequence[Any]) -> Any:
    """The first NoSchedule/NoExecute taint of the node no toleration tolerates, or None."""
    return find_untolerated_taint(node.taints, tolerations, NO_SCHEDULE_EFFECTS)


def untolerated_mask(snapshot: Snapshot, tolerations: Sequence[Any]) -> np.ndarray:
    """True for nodes with an untolerated NoSchedule/NoExecute taint, memoized per tolerations."""
    key = ("untolerated", json.dumps(list(tolerations), sort_keys=True, default=str))
    mask = snapshot.node_memo.get(key)
    if mask is None:
        mask = np.zeros(len(snapshot), bool)
        for i in snapshot.tainted_nodes:
            if untolerated_no_schedule_taint(snapshot.node_infos[i], tolerations) is not None:
                mask[i] = True
        snapshot.node_memo[key] = mask
    return mask


# --- default spreading selector ------------------------------------------------------------------


def _controller_of(pod: PodInfo) -> Mapping[str, Any] | None:
    for ref in (pod.pod.get("metadata") or {}).get("ownerReferences") or ():
        if ref.get("controller"):
            return ref
    return None


def _named(
    objs: Sequence[Mapping[str, Any]], namespace: str, name: str
) -> Mapping[str, Any] | None:
    for obj in objs:
        meta = obj.get("metadata") or {}
        if (meta.get("namespace") or "default") == namespace and meta.get("name") == name:
            return obj
    return None


def default_selector(pod: PodInfo, snapshot: Snapshot) -> Selector:
    """The selector system-default spreading uses (helper.DefaultSelector): the union of the
    selectors of Services selecting the pod, plus its controlling ReplicationController,
    ReplicaSet or StatefulSet. Empty when none applies."""
    label_set: dict[str, str] = {}
    for svc in snapshot.services:
        meta = svc.get("metadata") or {}
        selector = (svc.get("spec") or {}).get("selector")
        if (meta.get("namespace") or "default") != pod.namespace or not selector:
            continue
        if Selector.from_set(selector).matches(pod.labels):
            label_set.update(selector)
    selector = Selector.from_set(label_set)
    owner = _controller_of(pod)
    if owner is None:
        return selector
    api_version, kind = owner.get("apiVersion") or "", owner.get("kind") or ""
    if kind == "ReplicationController" and api_version == "v1":
        rc = _named(snapshot.replication_controllers, pod.namespace, owner.get("name") or "")
        if rc is not None:
            label_set.update((rc.get("spec") or {}).get("selector") or {})
            selector = Selector.from_set(label_set)
    elif (kind, api_version) in (("ReplicaSet", "apps/v1"), ("StatefulSet", "apps/v1")):
        objs = snapshot.replica_sets if kind == "ReplicaSet" else snapshot.stateful_sets
        obj = _named(objs, pod.namespace, owner.get("name") or "")
        if obj is not None:
            try:
                other = LabelSelector.from_dict((obj.get("spec") or {}).get("selector"))
            except InvalidRequirementError:
                return selector
            selector = selector.add(*other.to_selector().requirements)
    return selector
