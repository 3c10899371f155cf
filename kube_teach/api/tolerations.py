"""Whether a pod's tolerations tolerate a node's taints, and how a taint prints.

Semantics: k8s.io/api core/v1 toleration.go (ToleratesTaint) and taint.go (ToString,
MatchTaint), and component-helpers' FindMatchingUntoleratedTaint. Taints and tolerations are
API dicts (`key`, `operator`, `value`, `effect`); objects with those attributes work too.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any, TypeVar

__all__ = [
    "NO_EXECUTE",
    "NO_SCHEDULE",
    "NO_SCHEDULE_EFFECTS",
    "PREFER_NO_SCHEDULE",
    "TAINT_NODE_DISK_PRESSURE",
    "TAINT_NODE_MEMORY_PRESSURE",
    "TAINT_NODE_NETWORK_UNAVAILABLE",
    "TAINT_NODE_NOT_READY",
    "TAINT_NODE_OUT_OF_SERVICE",
    "TAINT_NODE_PID_PRESSURE",
    "TAINT_NODE_UNREACHABLE",
    "TAINT_NODE_UNSCHEDULABLE",
    "find_untolerated_taint",
    "match_taint",
    "match_toleration",
    "taint_to_string",
    "tolerates_taint",
    "tolerations_tolerate_taint",
]

# TaintEffect values
NO_SCHEDULE = "NoSchedule"
PREFER_NO_SCHEDULE = "PreferNoSchedule"
NO_EXECUTE = "NoExecute"
NO_SCHEDULE_EFFECTS = (NO_SCHEDULE, NO_EXECUTE)  # the effects the TaintToleration filter checks

# Well-known taint keys (core/v1 well_known_taints.go)
TAINT_NODE_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_NODE_UNREACHABLE = "node.kubernetes.io/unreachable"
TAINT_NODE_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
TAINT_NODE_MEMORY_PRESSURE = "node.kubernetes.io/memory-pressure"
TAINT_NODE_DISK_PRESSURE = "node.kubernetes.io/disk-pressure"
TAINT_NODE_NETWORK_UNAVAILABLE = "node.kubernetes.io/network-unavailable"
TAINT_NODE_PID_PRESSURE = "node.kubernetes.io/pid-pressure"
TAINT_NODE_OUT_OF_SERVICE = "node.kubernetes.io/out-of-service"

# Canonical decimal integers only: no sign "+", no leading zeros, no spaces (content.IsDecimalInteger).
_DECIMAL_INTEGER_RE = re.compile(r"0|-?[1-9][0-9]*")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

T = TypeVar("T")


def _field(obj: Any, name: str) -> str:
    # A missing or null field reads as "", as Go's zero value.
    value = obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)
    return "" if value is None else value


def _decimal_int64(text: str) -> int | None:
    if not _DECIMAL_INTEGER_RE.fullmatch(text):
        return None
    value = int(text)
    return value if _INT64_MIN <= value <= _INT64_MAX else None


def tolerates_taint(
    toleration: Any, taint: Any, *, enable_comparison_operators: bool = False
) -> bool:
    """True if `toleration` tolerates `taint`.

    Rules, in order: a non-empty toleration effect must equal the taint's (empty matches every
    effect); a non-empty toleration key must equal the taint's (empty matches every key); then
    by operator: Equal or empty compares values, Exists matches any value, Lt and Gt compare
    canonical int64 values (taint < toleration, taint > toleration) but only with
    `enable_comparison_operators` (the alpha TaintTolerationComparisonOperators gate, off by
    default since 1.35); any other operator tolerates nothing.
    """
    effect = _field(toleration, "effect")
    if effect and effect != _field(taint, "effect"):
        return False
    key = _field(toleration, "key")
    if key and key != _field(taint, "key"):
        return False
    operator = _field(toleration, "operator")
    if operator in ("", "Equal"):
        # An empty key with Equal is rejected by API validation, not here: it would compare
        # values across all keys.
        return _field(toleration, "value") == _field(taint, "value")
    if operator == "Exists":
        return True
    if operator in ("Lt", "Gt"):
        if not enable_comparison_operators:
            return False
        threshold = _decimal_int64(_field(toleration, "value"))
        actual = _decimal_int64(_field(taint, "value"))
        if threshold is None or actual is None:
            return False
        return actual < threshold if operator == "Lt" else actual > threshold
    return False


def tolerations_tolerate_taint(
    tolerations: Iterable[Any], taint: Any, *, enable_comparison_operators: bool = False
) -> bool:
    """True if any of `tolerations` tolerates `taint`."""
    return any(
        tolerates_taint(t, taint, enable_comparison_operators=enable_comparison_operators)
        for t in tolerations or ()
    )


def find_untolerated_taint(
    taints: Iterable[T],
    tolerations: Iterable[Any],
    effects: Collection[str] | None = None,
    *,
    enable_comparison_operators: bool = False,
) -> T | None:
    """The first taint, in the node's order, that no toleration tolerates, or None.

    Only taints whose effect is in `effects` are considered (None: every taint), so the
    scheduler's filter passes `NO_SCHEDULE_EFFECTS`. The taint returned is the caller's object.
    """
    tolerations = list(tolerations or ())
    for taint in taints or ():
        if effects is not None and _field(taint, "effect") not in effects:
            continue
        if not tolerations_tolerate_taint(
            tolerations, taint, enable_comparison_operators=enable_comparison_operators
        ):
            return taint
    return None


def taint_to_string(taint: Any) -> str:
    """The taint as kubectl writes it: `key=value:Effect`, `key:Effect`, `key=value:` or `key`."""
    key, value, effect = _field(taint, "key"), _field(taint, "value"), _field(taint, "effect")
    if not effect:
        return f"{key}={value}:" if value else key
    return f"{key}={value}:{effect}" if value else f"{key}:{effect}"


def match_taint(taint: Any, other: Any) -> bool:
    """True if both taints have the same key and effect: a node holds at most one such taint."""
    return _field(taint, "key") == _field(other, "key") and _field(taint, "effect") == _field(
        other, "effect"
    )


def match_toleration(toleration: Any, other: Any) -> bool:
    """True if both tolerations have the same key, operator, value and effect."""
    return all(
        _field(toleration, name) == _field(other, name)
        for name in ("key", "operator", "value", "effect")
    )
