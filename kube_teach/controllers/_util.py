"""Small helpers the controller cores share: times, IntOrString, pod readiness, ownership.

Semantics: apimachinery's intstr.GetScaledValueFromIntOrPercent, metav1.Time's RFC 3339 form,
and pkg/api/v1/pod (IsPodReady, IsPodAvailable). Times are seconds since the Unix epoch.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

# The plain accessors are the object model's; the controllers import them from here too.
from kube_teach.api.access import (  # noqa: F401 (re-exported)
    condition,
    deleting,
    format_time,
    is_pod_ready,
    meta,
    name,
    spec,
    status,
)
from kube_teach.api.selectors import LabelSelector

#: Go's zero time.Time (0001-01-01T00:00:00Z) in seconds since the epoch: the value a
#: non-pointer metav1.Time field has when the JSON leaves it out.
ZERO_TIME = -62135596800.0

_ATOI = re.compile(r"[+-]?[0-9]+")
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})"
)


class IntOrStringError(ValueError):
    """An IntOrString upstream's GetScaledValueFromIntOrPercent rejects; the message is Go's."""


def parse_time(value: Any, default: float | None = None) -> float | None:
    """A timestamp as seconds since the epoch.

    Accepts RFC 3339 text (as the API server writes it), a `datetime`, or a number of seconds.
    None or "" gives `default` (pass ZERO_TIME where Go's field is a non-pointer metav1.Time).
    """
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise TypeError(f"not a time: {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp()
    if isinstance(value, str):
        m = _RFC3339.fullmatch(value.strip())
        if m is None:
            raise ValueError(f"not an RFC 3339 time: {value!r}")
        year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
        whole = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        seconds = (whole - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()
        if m.group(7):
            seconds += float("0" + m.group(7))
        zone = m.group(8)
        if zone not in ("Z", "z"):
            sign = 1 if zone[0] == "+" else -1
            seconds -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
        return seconds
    raise TypeError(f"not a time: {value!r}")


def scaled_value(value: int | str | None, total: int, round_up: bool) -> int:
    """An IntOrString against `total`: ints as given, "N%" scaled and rounded up or down.

    Raises IntOrStringError with upstream's text for None ("nil value for IntOrString"), for
    a string without "%" and for a percentage that is not an integer.
    """
    if value is None:
        raise IntOrStringError("nil value for IntOrString")
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise IntOrStringError(
            "invalid value for IntOrString: invalid type: neither int nor percentage"
        )
    if isinstance(value, int):
        return value
    if not value.endswith("%"):
        raise IntOrStringError(
            "invalid value for IntOrString: invalid type: string is not a percentage"
        )
    digits = value[:-1]
    if not _ATOI.fullmatch(digits):
        raise IntOrStringError(
            f'invalid value for IntOrString: invalid value "{value}": '
            f'strconv.Atoi: parsing "{digits}": invalid syntax'
        )
    percent = float(int(digits)) * float(total) / 100
    return int(math.ceil(percent) if round_up else math.floor(percent))


# -- objects -----------------------------------------------------------------------------------


def uid(obj: Mapping[str, Any]) -> str:
    return meta(obj).get("uid") or ""


def annotations(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return meta(obj).get("annotations") or {}


def labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return meta(obj).get("labels") or {}


def creation_time(obj: Mapping[str, Any]) -> float:
    return parse_time(meta(obj).get("creationTimestamp"), ZERO_TIME)


def controller_ref(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The ownerReference with `controller: true`, or None (metav1.GetControllerOf)."""
    for ref in meta(obj).get("ownerReferences") or ():
        if ref.get("controller"):
            return ref
    return None


def selector_matches(selector: Mapping[str, Any] | None, obj_labels: Mapping[str, str]) -> bool:
    """LabelSelectorAsSelector(selector).Matches(labels): nil matches nothing, {} everything."""
    return LabelSelector.from_dict(selector).matches(obj_labels)


# -- pods --------------------------------------------------------------------------------------
def phase(pod: Mapping[str, Any]) -> str:
    return status(pod).get("phase") or ""


def is_pod_active(pod: Mapping[str, Any]) -> bool:
    """Not Succeeded, not Failed, not being deleted (controller.IsPodActive)."""
    return phase(pod) not in ("Succeeded", "Failed") and not deleting(pod)


def is_pod_available(pod: Mapping[str, Any], min_ready_seconds: float, now: float) -> bool:
    """Ready, and Ready for longer than minReadySeconds before `now` (podutil.IsPodAvailable)."""
    if not is_pod_ready(pod):
        return False
    if not min_ready_seconds:
        return True
    cond = condition(status(pod).get("conditions"), "Ready") or {}
    since = parse_time(cond.get("lastTransitionTime"), ZERO_TIME)
    return since != ZERO_TIME and since + min_ready_seconds < now
