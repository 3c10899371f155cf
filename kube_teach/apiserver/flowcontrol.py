"""API server protection: the requests and verdicts flow control deals in, and the max-in-flight
limiter. API Priority and Fairness is split over flowcontrol_config (default objects, matching),
flowcontrol_queueset (shuffle sharding, fair queuing) and flowcontrol_apf (the controller).

Semantics: apiserver's server/filters maxinflight.go and the 429 priority-and-fairness.go writes.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .request import SYSTEM_PRIVILEGED_GROUP, Attributes, is_long_running, is_mutating

TOO_MANY_REQUESTS_BODY = "Too many requests, please try again later.\n"


@dataclass(frozen=True)
class FlowRequest:
    """One request offered to flow control. Seats and lingering latency are the work
    estimate (1 seat by default; LIST estimation is the caller's business)."""

    id: Any
    attrs: Attributes
    initial_seats: int = 1
    final_seats: int = 0
    additional_latency_ns: int = 0

    @property
    def max_seats(self) -> int:
        return max(self.initial_seats, self.final_seats)


@dataclass(frozen=True)
class Dispatch:
    """The request may run now (exempt: bypassed limits; `queue` None when not queued)."""

    request_id: Any
    flow_schema: str = ""
    priority_level: str = ""
    queue: int | None = None
    exempt: bool = False


@dataclass(frozen=True)
class Queued:
    """The request waits in `queue` of its priority level."""

    request_id: Any
    flow_schema: str
    priority_level: str
    queue: int


@dataclass(frozen=True)
class Reject:
    """429: the plain-text body and headers the handler writes (not a Status object)."""

    request_id: Any
    reason: str
    retry_after: int = 1
    flow_schema: str = ""
    priority_level: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    code: int = 429
    body: str = TOO_MANY_REQUESTS_BODY


def _reject(
    request_id: Any,
    reason: str,
    retry_after: int,
    extra: Mapping[str, str] = {},
    fs: str = "",
    pl: str = "",
) -> Reject:
    headers = {
        "Content-Type": "text/plain; charset=utf-8",
        "X-Content-Type-Options": "nosniff",
        **extra,
        "Retry-After": str(retry_after),
    }
    return Reject(request_id, reason, retry_after, fs, pl, headers)


# -- max-in-flight -------------------------------------------------------------------------------


class MaxInFlight:
    """`--max-requests-inflight` (400) and `--max-mutating-requests-inflight` (200).

    Long-running requests (watch, proxy, exec, attach, portforward, log) are never counted;
    when a pool is full, members of `system:masters` are served anyway, uncounted; everyone
    else gets a 429 with `Retry-After: 1`. A limit of 0 means unlimited.
    """

    def __init__(
        self, max_requests_inflight: int = 400, max_mutating_requests_inflight: int = 200
    ) -> None:
        self.limits = {False: max_requests_inflight, True: max_mutating_requests_inflight}
        self.in_flight: dict[Any, bool] = {}  # request id -> counted as mutating

    def in_use(self, mutating: bool) -> int:
        return sum(1 for m in self.in_flight.values() if m == mutating)

    def admit(self, req: FlowRequest, now_ns: int = 0) -> Dispatch | Reject:
        """Dispatch (counted unless long-running or exempt) or Reject."""
        if is_long_running(req.attrs):
            return Dispatch(req.id, exempt=True)
        mutating = is_mutating(req.attrs.verb)
        limit = self.limits[mutating]
        if limit == 0:
            return Dispatch(req.id, exempt=True)
        if self.in_use(mutating) < limit:
            self.in_flight[req.id] = mutating
            return Dispatch(req.id)
        user = req.attrs.user
        if user is not None and SYSTEM_PRIVILEGED_GROUP in user.groups:
            return Dispatch(req.id, exempt=True)
        return _reject(req.id, "too-many-requests", 1)

    def finish(self, request_id: Any, now_ns: int = 0) -> None:
        """The request is done; its slot is free again."""
        self.in_flight.pop(request_id, None)


# -- names that moved to the modules split off from this one -------------------------------------

# Loaded on first use (PEP 562), so `from kube_teach.apiserver.flowcontrol import APF` keeps
# working: flowcontrol_apf imports this module, and a plain import here would be a cycle.
_MOVED = {
    "flowcontrol_config": (
        "MANDATORY_FLOW_SCHEMAS", "MANDATORY_PRIORITY_LEVELS", "SUGGESTED_FLOW_SCHEMAS",
        "SUGGESTED_PRIORITY_LEVELS", "default_configuration", "flow_schema_matches",
    ),
    "flowcontrol_queueset": (
        "ESTIMATED_SERVICE_NS", "MAX_HASH_BITS", "SS_SCALE", "Integrator", "QueueSet", "deal",
        "go_round", "required_entropy_bits", "seats_times_duration",
    ),
    "flowcontrol_apf": (
        "APF", "BORROWING_ADJUSTMENT_PERIOD_NS", "DEFAULT_REQUEST_WAIT_LIMIT_NS",
        "SEAT_DEMAND_SMOOTHING", "DroppedRequests", "PriorityLevelState",
        "compute_concurrency_allocation", "hash_flow_id",
    ),
}  # fmt: skip
_HOME = {name: module for module, names in _MOVED.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__package__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOME})
