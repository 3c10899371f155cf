"""Deployment arithmetic: fenceposts, surge, revisions, replica annotations, the template hash.

Semantics: pkg/controller/deployment/util/deployment_util.go and controller.ComputeHash. Objects
are Deployment and ReplicaSet JSON dicts; a Deployment missing `spec.strategy` (or its
`rollingUpdate`) is read with the API defaults (RollingUpdate, 25%/25%), as the server stores it.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kube_teach.api.quantity import Quantity, QuantityError

from ._util import IntOrStringError, creation_time, scaled_value, spec, status, uid

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
REVISION_HISTORY_ANNOTATION = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS_ANNOTATION = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS_ANNOTATION = "deployment.kubernetes.io/max-replicas"
POD_TEMPLATE_HASH_LABEL = "pod-template-hash"
#: Annotations never copied from a Deployment to its ReplicaSets (annotationsToSkip).
ANNOTATIONS_TO_SKIP = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION_ANNOTATION,
        REVISION_HISTORY_ANNOTATION,
        DESIRED_REPLICAS_ANNOTATION,
        MAX_REPLICAS_ANNOTATION,
        "deprecated.deployment.rollback.to",
    }
)
#: The controller's cap on the revision-history annotation (maxRevHistoryLengthInChars).
MAX_REV_HISTORY_LENGTH_IN_CHARS = 2000
_MAX_INT32 = 2**31 - 1

__all__ = [
    "IntOrStringError",
    "ReplicaSetsByCreationTimestamp",
    "compute_hash",
    "equal_ignore_hash",
    "find_new_replica_set",
    "find_old_replica_sets",
    "get_replica_set_fraction",
    "get_replica_set_proportion",
    "is_saturated",
    "max_revision",
    "max_surge",
    "max_unavailable",
    "min_available",
    "new_rs_new_replicas",
    "resolve_fenceposts",
    "revision",
    "safe_encode_string",
    "set_new_replica_set_annotations",
    "set_replicas_annotations",
]


# -- reading a Deployment ----------------------------------------------------------------------
def replicas(obj: Mapping[str, Any]) -> int:
    """spec.replicas, 1 when absent (the API default for Deployments and ReplicaSets)."""
    value = spec(obj).get("replicas")
    return 1 if value is None else int(value)


def strategy_type(d: Mapping[str, Any]) -> str:
    return (spec(d).get("strategy") or {}).get("type") or "RollingUpdate"


def is_rolling_update(d: Mapping[str, Any]) -> bool:
    return strategy_type(d) == "RollingUpdate"


def _rolling_params(d: Mapping[str, Any]) -> tuple[Any, Any]:
    rolling = (spec(d).get("strategy") or {}).get("rollingUpdate")
    if rolling is None:
        return "25%", "25%"  # what API defaulting writes
    return rolling.get("maxSurge"), rolling.get("maxUnavailable")


# -- fenceposts --------------------------------------------------------------------------------
def resolve_fenceposts(
    max_surge: int | str | None, max_unavailable: int | str | None, replicas: int
) -> tuple[int, int]:
    """(surge, unavailable) for `replicas` desired pods, as ResolveFenceposts computes them.

    Percentages of maxSurge round up and of maxUnavailable round down; ints are taken as given;
    None counts as 0. If both come out 0, unavailable is 1 (surge might be blocked by quota).
    A string that is not "N%" raises IntOrStringError with upstream's message.
    """
    surge = scaled_value(0 if max_surge is None else max_surge, replicas, True)
    unavailable = scaled_value(0 if max_unavailable is None else max_unavailable, replicas, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_surge(d: Mapping[str, Any]) -> int:
    """The surge pods a rolling update may add above spec.replicas; 0 for Recreate."""
    if not is_rolling_update(d):
        return 0
    try:
        return resolve_fenceposts(*_rolling_params(d), replicas(d))[0]
    except IntOrStringError:  # caught by validation upstream; the helper then reads 0
        return 0


def max_unavailable(d: Mapping[str, Any]) -> int:
    """The pods a rolling update may take away below spec.replicas, capped at spec.replicas.

    0 for Recreate and for 0 replicas.
    """
    if not is_rolling_update(d) or replicas(d) == 0:
        return 0
    try:
        unavailable = resolve_fenceposts(*_rolling_params(d), replicas(d))[1]
    except IntOrStringError:
        return 0
    return min(unavailable, replicas(d))


def min_available(d: Mapping[str, Any]) -> int:
    """spec.replicas - max_unavailable(d) for a rolling update, else 0."""
    if not is_rolling_update(d):
        return 0
    return replicas(d) - max_unavailable(d)


# -- counting ReplicaSets ----------------------------------------------------------------------
def replica_count(rss: Iterable[Mapping[str, Any] | None]) -> int:
    """Sum of spec.replicas (GetReplicaCountForReplicaSets)."""
    return sum(replicas(rs) for rs in rss if rs is not None)


def actual_replica_count(rss: Iterable[Mapping[str, Any] | None]) -> int:
    """Sum of status.replicas (GetActualReplicaCountForReplicaSets)."""
    return sum(int(status(rs).get("replicas") or 0) for rs in rss if rs is not None)


def ready_replica_count(rss: Iterable[Mapping[str, Any] | None]) -> int:
    return sum(int(status(rs).get("readyReplicas") or 0) for rs in rss if rs is not None)


def available_replica_count(rss: Iterable[Mapping[str, Any] | None]) -> int:
    return sum(int(status(rs).get("availableReplicas") or 0) for rs in rss if rs is not None)


def filter_active(rss: Iterable[Mapping[str, Any] | None]) -> list[Mapping[str, Any]]:
    """ReplicaSets with spec.replicas > 0 (FilterActiveReplicaSets)."""
    return [rs for rs in rss if rs is not None and replicas(rs) > 0]


def new_rs_new_replicas(
    d: Mapping[str, Any], all_rss: Sequence[Mapping[str, Any] | None], new_rs: Mapping[str, Any]
) -> int:
    """The replica count the new ReplicaSet should have next (NewRSNewReplicas).

    RollingUpdate: if Σ spec.replicas of `all_rss` has reached spec.replicas + maxSurge, keep
    new_rs as it is; else add the room left, without exceeding spec.replicas. Recreate:
    spec.replicas. maxSurge is scaled directly, so an absent maxSurge raises IntOrStringError.
    """
    kind = strategy_type(d)
    if kind == "RollingUpdate":
        surge = scaled_value(_rolling_params(d)[0], replicas(d), True)
        current = replica_count(all_rss)
        max_total = replicas(d) + surge
        if current >= max_total:
            return replicas(new_rs)
        scale_up = min(max_total - current, replicas(d) - replicas(new_rs))
        return replicas(new_rs) + scale_up
    if kind == "Recreate":
        return replicas(d)
    raise ValueError(f"deployment type {kind} isn't supported")


# -- ordering ----------------------------------------------------------------------------------
def ReplicaSetsByCreationTimestamp(rs: Mapping[str, Any]) -> tuple[float, str]:  # noqa: N802
    """Sort key: older first, then by name (controller.ReplicaSetsByCreationTimestamp)."""
    return creation_time(rs), (rs.get("metadata") or {}).get("name") or ""


def _by_revision(rs: Mapping[str, Any]) -> tuple[int, float, str]:
    try:
        rev = revision(rs)
    except ValueError:
        rev = 0
    return (rev, *ReplicaSetsByCreationTimestamp(rs))


# -- revisions and annotations -----------------------------------------------------------------
def revision(obj: Mapping[str, Any]) -> int:
    """The revision annotation as an int; 0 when absent, ValueError when not an integer."""
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION_ANNOTATION)
    if value is None:
        return 0
    if not re.fullmatch(r"[+-]?[0-9]+", value):
        raise ValueError(f'strconv.ParseInt: parsing "{value}": invalid syntax')
    return int(value)


def max_revision(rss: Iterable[Mapping[str, Any] | None]) -> int:
    """The highest revision among `rss`, skipping unparsable ones (MaxRevision)."""
    best = 0
    for rs in rss:
        if rs is None:
            continue
        try:
            best = max(best, revision(rs))
        except ValueError:
            continue
    return best


def last_revision(rss: Iterable[Mapping[str, Any] | None]) -> int:
    """The second-highest revision (LastRevision), what `rollout undo` goes back to."""
    top = second = 0
    for rs in rss:
        if rs is None:
            continue
        try:
            v = revision(rs)
        except ValueError:
            continue
        if v >= top:
            top, second = v, top
        elif v > second:
            second = v
    return second


def _annotations_of(obj: dict[str, Any]) -> dict[str, str]:
    meta = obj.setdefault("metadata", {})
    if meta.get("annotations") is None:
        meta["annotations"] = {}
    return meta["annotations"]


def set_replicas_annotations(rs: dict[str, Any], desired: int, max_replicas: int) -> bool:
    """Write desired-replicas and max-replicas into `rs` (mutated); True if either changed."""
    ann = _annotations_of(rs)
    updated = False
    for key, value in (
        (DESIRED_REPLICAS_ANNOTATION, desired),
        (MAX_REPLICAS_ANNOTATION, max_replicas),
    ):
        if ann.get(key) != str(value):
            ann[key] = str(value)
            updated = True
    return updated


def replicas_annotations_need_update(
    rs: Mapping[str, Any], desired: int, max_replicas: int
) -> bool:
    """Whether desired-replicas or max-replicas differ from the given values."""
    ann = (rs.get("metadata") or {}).get("annotations")
    if ann is None:
        return True
    return ann.get(DESIRED_REPLICAS_ANNOTATION) != str(desired) or ann.get(
        MAX_REPLICAS_ANNOTATION
    ) != str(max_replicas)


def nonnegative_int32_annotation(rs: Mapping[str, Any], key: str) -> tuple[int, bool]:
    """(value, ok) of an annotation parsed as a non-negative int32; (0, False) otherwise."""
    value = ((rs.get("metadata") or {}).get("annotations") or {}).get(key)
    if value is None or not re.fullmatch(r"[0-9]+", value):
        return 0, False
    number = int(value)
    return (number, True) if number <= _MAX_INT32 else (0, False)


def set_new_replica_set_annotations(
    d: Mapping[str, Any],
    rs: dict[str, Any],
    new_revision: str,
    exists: bool,
    rev_history_limit_in_chars: int = MAX_REV_HISTORY_LENGTH_IN_CHARS,
) -> bool:
    """Copy the Deployment's annotations to the new RS and bump its revision (mutates `rs`).

    A revision raised on an RS that already had one (a rollback) appends the old number to
    revision-history, dropping the oldest entries beyond the character limit. On creation
    (`exists` False) desired-replicas and max-replicas are set. Returns whether anything changed.
    """
    ann = _annotations_of(rs)
    changed = False
    for key, value in ((d.get("metadata") or {}).get("annotations") or {}).items():
        if key in ANNOTATIONS_TO_SKIP or ann.get(key) == value:
            continue
        ann[key] = value
        changed = True
    had_revision = REVISION_ANNOTATION in ann
    old_revision = ann.get(REVISION_ANNOTATION, "")
    if old_revision == "":
        old_int = 0
    elif re.fullmatch(r"[+-]?[0-9]+", old_revision):
        old_int = int(old_revision)
    else:
        return False
    if not re.fullmatch(r"[+-]?[0-9]+", new_revision):
        return False
    new_int = int(new_revision)
    if old_int < new_int:
        ann[REVISION_ANNOTATION] = new_revision
        changed = True
    if had_revision and old_int < new_int:
        history = ann.get(REVISION_HISTORY_ANNOTATION, "")
        old_revisions = history.split(",")
        if not old_revisions[0]:
            ann[REVISION_HISTORY_ANNOTATION] = old_revision
        else:
            total = len(history) + len(old_revision) + 1
            start = 0
            while total > rev_history_limit_in_chars and start < len(old_revisions):
                total -= len(old_revisions[start]) + 1
                start += 1
            if total <= rev_history_limit_in_chars:
                ann[REVISION_HISTORY_ANNOTATION] = ",".join([*old_revisions[start:], old_revision])
    if not exists and set_replicas_annotations(rs, replicas(d), replicas(d) + max_surge(d)):
        changed = True
    return changed


# -- proportional scaling ----------------------------------------------------------------------
def _round_half_away(x: float) -> int:
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def get_replica_set_fraction(rs: Mapping[str, Any], d: Mapping[str, Any]) -> int:
    """How many replicas `rs` should gain (or lose) in a scaling event (getReplicaSetFraction).

    round(rs.replicas × (D + maxSurge) / max-replicas annotation) − rs.replicas; a missing or
    zero annotation falls back to deployment.status.replicas, and to no change if that is 0.
    Scaling to zero returns −rs.replicas.
    """
    if replicas(d) == 0:
        return -replicas(rs)
    deployment_max = replicas(d) + max_surge(d)
    before, ok = nonnegative_int32_annotation(rs, MAX_REPLICAS_ANNOTATION)
    if not ok or before == 0:
        before = int(status(d).get("replicas") or 0)
        if before == 0:
            return 0
    return _round_half_away(float(replicas(rs) * deployment_max) / float(before)) - replicas(rs)


def get_replica_set_proportion(
    rs: Mapping[str, Any] | None, d: Mapping[str, Any], to_add: int, added: int
) -> int:
    """The fraction for `rs`, bounded by what is left of `to_add` after `added` so far."""
    if rs is None or replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction = get_replica_set_fraction(rs, d)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def is_saturated(d: Mapping[str, Any], rs: Mapping[str, Any] | None) -> bool:
    """The RS has all of spec.replicas, is annotated with it, and all are available."""
    if rs is None:
        return False
    desired = ((rs.get("metadata") or {}).get("annotations") or {}).get(DESIRED_REPLICAS_ANNOTATION)
    if desired is None or not re.fullmatch(r"[+-]?[0-9]+", desired):
        return False
    d_replicas = replicas(d)
    return (
        replicas(rs) == d_replicas
        and int(desired) == d_replicas
        and int(status(rs).get("availableReplicas") or 0) == d_replicas
    )


# -- templates and the hash --------------------------------------------------------------------
def _semantic(value: Any, key: str = "") -> Any:
    """A canonical form for Semantic.DeepEqual: empty and absent are alike, quantities by value."""
    if isinstance(value, Mapping):
        out = {}
        for k in sorted(value):
            v = _semantic(value[k], k)
            if v is not None:
                out[k] = v
        if key in ("requests", "limits", "overhead"):
            out = {k: _quantity_key(v) for k, v in out.items()}
        return out or None
    if isinstance(value, list | tuple):
        items = [_semantic(v) for v in value]
        return items or None
    if value is None or value == "" or value is False:
        return None
    return value


def _quantity_key(value: Any) -> Any:
    try:
        return str(Quantity(value).as_fraction())
    except (QuantityError, TypeError):
        return value


def _without_hash(template: Mapping[str, Any] | None) -> Any:
    t = copy.deepcopy(dict(template or {}))
    labels = (t.get("metadata") or {}).get("labels")
    if labels:
        labels.pop(POD_TEMPLATE_HASH_LABEL, None)
    return _semantic(t)


def equal_ignore_hash(t1: Mapping[str, Any] | None, t2: Mapping[str, Any] | None) -> bool:
    """Pod templates equal apart from the pod-template-hash label (EqualIgnoreHash)."""
    return _without_hash(t1) == _without_hash(t2)


def find_new_replica_set(
    d: Mapping[str, Any], rss: Iterable[Mapping[str, Any]]
) -> Mapping[str, Any] | None:
    """The oldest RS whose template equals the Deployment's, ignoring the hash; else None."""
    template = spec(d).get("template")
    for rs in sorted(rss, key=ReplicaSetsByCreationTimestamp):
        if equal_ignore_hash(spec(rs).get("template"), template):
            return rs
    return None


def find_old_replica_sets(
    d: Mapping[str, Any], rss: Sequence[Mapping[str, Any]]
) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """(old RSes with replicas > 0, all old RSes), in input order (FindOldReplicaSets)."""
    new = find_new_replica_set(d, rss)
    required, every = [], []
    for rs in rss:
        if new is not None and (rs is new or (uid(rs) and uid(rs) == uid(new))):
            continue
        every.append(rs)
        if replicas(rs) != 0:
            required.append(rs)
    return required, every


_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"


def safe_encode_string(s: str) -> str:
    """Map each character onto an alphabet without vowels or look-alikes (rand.SafeEncodeString)."""
    return "".join(_ALPHANUMS[ord(c) % len(_ALPHANUMS)] for c in s)


def _fnv32a(data: bytes, h: int = 0x811C9DC5) -> int:
    for byte in data:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def compute_hash(template: Mapping[str, Any] | None, collision_count: int | None = None) -> str:
    """The pod-template-hash of a pod template (controller.ComputeHash).

    FNV-32a over the template, then the collision count as 8 little-endian bytes when given,
    printed as a decimal and passed through safe_encode_string. Upstream hashes Go's spew dump
    of the typed struct; here the template's canonical JSON (sorted keys, empty fields dropped)
    stands in for it, so values are stable and collision-free in practice but differ from a
    real cluster's.
    """
    canonical = json.dumps(_semantic(dict(template or {})), sort_keys=True, separators=(",", ":"))
    h = _fnv32a(canonical.encode())
    if collision_count is not None:
        h = _fnv32a((collision_count & 0xFFFFFFFF).to_bytes(4, "little") + bytes(4), h)
    return safe_encode_string(str(h))
