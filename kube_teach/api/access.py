"""Reading plain object dicts: metadata, spec, status, names, conditions, metav1.Time.

Small accessors shared by the controllers' cores and the API server's decisions (eviction), so
that one definition of "the pod is Ready" or "the object is being deleted" serves both.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def format_time(seconds: float) -> str:
    """RFC 3339 at second precision in UTC, as metav1.Time serializes (`2016-01-01T00:01:09Z`)."""
    t = EPOCH + timedelta(seconds=math.floor(seconds))
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}Z"


def meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("spec") or {}


def status(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("status") or {}


def name(obj: Mapping[str, Any]) -> str:
    return meta(obj).get("name") or ""


def deleting(obj: Mapping[str, Any]) -> bool:
    return meta(obj).get("deletionTimestamp") not in (None, "")


def condition(
    conditions: Iterable[Mapping[str, Any]] | None, kind: str
) -> Mapping[str, Any] | None:
    """The first condition of type `kind`, or None."""
    for cond in conditions or ():
        if cond.get("type") == kind:
            return cond
    return None


def is_pod_ready(pod: Mapping[str, Any]) -> bool:
    """The pod's Ready condition is True (podutil.IsPodReady)."""
    cond = condition(status(pod).get("conditions"), "Ready")
    return cond is not None and cond.get("status") == "True"


__all__ = [
    "EPOCH",
    "condition",
    "deleting",
    "format_time",
    "is_pod_ready",
    "meta",
    "name",
    "spec",
    "status",
]
