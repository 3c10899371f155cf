"""API Priority and Fairness as one pure state machine: classify, queue, dispatch, time out, and
re-divide the server's concurrency among priority levels (borrowing) every 10 s.

Semantics: apiserver's util/flowcontrol apf_controller.go (flow IDs, limits, borrowing),
conc_alloc.go and dropped_requests_tracker.go (Retry-After). Every call takes `now_ns`.
"""

from __future__ import annotations

import copy
import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..sim.duration import SECOND
from .flowcontrol import Dispatch, FlowRequest, Queued, Reject, _reject
from .flowcontrol_config import (
    MANDATORY_FLOW_SCHEMAS,
    MANDATORY_PRIORITY_LEVELS,
    default_configuration,
    flow_schema_matches,
)
from .flowcontrol_queueset import Integrator, QueueSet, go_round
from .request import Attributes, is_long_running


def hash_flow_id(fs_name: str, distinguisher: str) -> int:
    """The flow's 64-bit hash: the first 8 bytes (little-endian) of SHA-256(name NUL dist)."""
    digest = hashlib.sha256(fs_name.encode() + b"\x00" + distinguisher.encode()).digest()
    return int.from_bytes(digest[:8], "little")


# -- concurrency limits (apf_controller.go, conc_alloc.go) ---------------------------------------


def compute_concurrency_allocation(
    required_sum: int, items: list[tuple[float, float, float]]
) -> tuple[list[float], float]:
    """Share `required_sum` among classes given as (target, lower, upper): each gets
    fairProp x target clamped to its bounds, with fairProp chosen so the shares add up."""
    MIN_TARGET, EPS = 0.001, 0.0000001
    req = float(required_sum)
    low = sum(i[1] for i in items)
    high = sum(i[2] for i in items)
    rel = []
    for target, lower, upper in items:
        t = max(target, MIN_TARGET)
        rel.append((t, lower / t, upper / t))
    if low - req > EPS or req - high > EPS:
        raise ValueError("bounds do not admit the required sum")
    if required_sum == 0:
        return [0.0] * len(items), 0.0
    if low - req > -EPS:
        return [i[1] for i in items], min((r[1] for r in rel), default=0.0)
    if req - high > -EPS:
        return [i[2] for i in items], max((r[2] for r in rel), default=0.0)
    target_sum = sum(r[0] for r in rel)
    fair = req / target_sum
    lb_max = max(r[1] for r in rel)
    ub_min = min(r[2] for r in rel)
    if lb_max <= fair <= ub_min:
        return [r[0] * fair for r in rel], fair
    # walk the sorted bounds, tracking which classes are between their bounds
    bounds = sorted(((r[1], idx, True) for idx, r in enumerate(rel)), key=lambda b: b[0])
    bounds = sorted(
        [*bounds, *((r[2], idx, False) for idx, r in enumerate(rel))], key=lambda b: b[0]
    )
    so_far, fair = low, min(r[1] for r in rel)
    sens_sum, d_sum, nxt = 0.0, 0.0, 0
    while so_far < req:
        while True:
            sens_sum += d_sum
            if nxt >= len(bounds):
                raise ValueError("ran out of bounds")
            bound, idx, lower = bounds[nxt]
            d_sum = rel[idx][0] if lower else -rel[idx][0]
            nxt += 1
            if bound > fair:
                break
        if sens_sum == 0:
            fair = bound
            continue
        nxt_prop = fair + (req - so_far) / sens_sum
        if nxt_prop <= bound:
            fair = nxt_prop
            break
        so_far += (bound - fair) * sens_sum
        fair = bound
    return [max(it[1], min(it[2], fair * r[0])) for it, r in zip(items, rel, strict=True)], fair


# -- the dropped-requests tracker (Retry-After for APF rejections) --------------------------------


class DroppedRequests:
    """Per priority level: Retry-After starts at 1 s, doubles (to 32) after a burst of at
    least 3 x retryAfter drops in the last retryAfter seconds, and decreases by one second
    when fewer than retryAfter were dropped."""

    MAX = 32

    def __init__(self) -> None:
        self.levels: dict[str, dict[str, Any]] = {}

    def record(self, pl: str, now_ns: int) -> None:
        unix = now_ns // SECOND
        s = self.levels.setdefault(
            pl, {"history": [], "current": None, "count": 0, "retry": 1, "updated": 0}
        )
        if s["current"] == unix:
            s["count"] += 1
            return
        if s["current"] is not None:
            s["history"].append((s["current"], s["count"]))
            keep = min(2 * s["retry"], self.MAX)
            s["history"] = [h for h in s["history"] if unix - h[0] <= keep]
        s["current"], s["count"] = unix, 1
        retry = s["retry"]
        dropped = sum(n for t, n in s["history"] if unix - t <= retry and t < unix)
        if unix - s["updated"] >= retry and dropped >= 3 * retry:
            s["retry"], s["updated"] = min(retry * 2, self.MAX), unix
        elif dropped < retry and retry > 1:
            s["retry"] = retry - 1

    def retry_after(self, pl: str) -> int:
        return self.levels.get(pl, {}).get("retry", 1)


# -- the controller ------------------------------------------------------------------------------------

BORROWING_ADJUSTMENT_PERIOD_NS = 10 * SECOND
SEAT_DEMAND_SMOOTHING = 0.977
DEFAULT_REQUEST_WAIT_LIMIT_NS = 15 * SECOND


@dataclass
class PriorityLevelState:
    """One priority level's limits (in seats) and queues."""

    config: dict[str, Any]
    queues: QueueSet
    demand: Integrator
    nominal_cl: int = 0
    lendable_cl: int = 0
    borrowing_cl: int = 0
    min_cl: int = 0
    max_cl: int = 0
    current_cl: int = 0
    smoothed: float = 0.0
    high_watermark: int = 0

    @property
    def exempt(self) -> bool:
        return self.config["spec"]["type"] == "Exempt"


def _commons(pl: Mapping[str, Any]) -> tuple[int, int | None, int | None]:
    spec = pl["spec"]
    if spec["type"] == "Exempt":
        e = spec.get("exempt") or {}
        return e.get("nominalConcurrencyShares") or 0, e.get("lendablePercent"), None
    lim = spec["limited"]
    shares = lim.get("nominalConcurrencyShares")
    return (
        30 if shares is None else shares,
        lim.get("lendablePercent"),
        lim.get("borrowingLimitPercent"),
    )


class APF:
    """API Priority and Fairness as one pure state machine.

    Classify each request by the first matching FlowSchema (lowest matchingPrecedence, then
    name), send it to its PriorityLevelConfiguration, shuffle-shard it onto a queue by the
    hash of (schema, distinguisher), dispatch fairly. `admit` answers at once; requests
    dispatched later (after `finish` or `tick`) are returned by those calls. `tick` also
    times out requests that waited longer than the wait limit and re-divides concurrency
    (borrowing) every 10 s.
    """

    def __init__(
        self,
        flow_schemas: Iterable[Mapping[str, Any]] | None = None,
        priority_levels: Iterable[Mapping[str, Any]] | None = None,
        server_concurrency_limit: int = 600,
        request_wait_limit_ns: int = DEFAULT_REQUEST_WAIT_LIMIT_NS,
        now_ns: int = 0,
    ) -> None:
        default_fs, default_pl = default_configuration()
        fss = [
            copy.deepcopy(dict(f))
            for f in (flow_schemas if flow_schemas is not None else default_fs)
        ]
        pls = [
            copy.deepcopy(dict(p))
            for p in (priority_levels if priority_levels is not None else default_pl)
        ]
        names = {p["metadata"]["name"] for p in pls}
        for p in MANDATORY_PRIORITY_LEVELS:  # imagined when absent, as upstream does
            if p["metadata"]["name"] not in names:
                pls.append(copy.deepcopy(p))
        self.server_concurrency_limit = server_concurrency_limit
        self.request_wait_limit_ns = request_wait_limit_ns
        self.levels: dict[str, PriorityLevelState] = {}
        for p in pls:
            name = p["metadata"]["name"]
            q = ((p["spec"].get("limited") or {}).get("limitResponse") or {}).get("queuing")
            if p["spec"]["type"] == "Exempt":
                qs = QueueSet(name, -1, 0, 0, now_ns)
            elif q:
                qs = QueueSet(name, q["queues"], q["handSize"], q["queueLengthLimit"], now_ns)
            else:
                qs = QueueSet(name, 0, 0, 0, now_ns)
            self.levels[name] = PriorityLevelState(p, qs, Integrator(now_ns))
        good = [f for f in fss if f["spec"]["priorityLevelConfiguration"]["name"] in self.levels]
        good.sort(key=lambda f: (f["spec"]["matchingPrecedence"], f["metadata"]["name"]))
        fs_names = {f["metadata"]["name"] for f in good}
        if "exempt" not in fs_names:
            good.insert(0, copy.deepcopy(MANDATORY_FLOW_SCHEMAS[0]))
        if "catch-all" not in fs_names:
            good.append(copy.deepcopy(MANDATORY_FLOW_SCHEMAS[1]))
        self.flow_schemas = good
        self.dropped = DroppedRequests()
        self.where: dict[Any, str] = {}  # request id -> priority level
        self.next_borrowing_ns = now_ns + BORROWING_ADJUSTMENT_PERIOD_NS
        self._deferred: list[Dispatch] = []  # dispatched while admitting another request
        self._set_limits(now_ns)

    # -- configuration ------------------------------------------------------------------------
    def _set_limits(self, now_ns: int) -> None:
        share_sum = sum(_commons(s.config)[0] for s in self.levels.values())
        for s in self.levels.values():
            shares, lendable, borrowing = _commons(s.config)
            s.nominal_cl = (
                math.ceil(self.server_concurrency_limit * shares / share_sum) if share_sum else 0
            )
            s.lendable_cl = go_round(s.nominal_cl * lendable / 100) if lendable is not None else 0
            s.borrowing_cl = (
                go_round(s.nominal_cl * borrowing / 100)
                if borrowing is not None
                else self.server_concurrency_limit
            )
            s.min_cl = s.nominal_cl - s.lendable_cl
            s.max_cl = s.nominal_cl + s.borrowing_cl
            s.current_cl = s.nominal_cl - s.lendable_cl // 2
        self.nominal_cl_sum = sum(s.nominal_cl for s in self.levels.values())
        self._update_borrowing(now_ns)

    def _update_borrowing(self, now_ns: int) -> None:
        """Re-divide the server's seats: each level keeps at least its recent demand (up to
        its nominal limit) and never less than nominal minus lendable; the rest follows
        smoothed demand, within nominal plus borrowing limit."""
        items, names = [], []
        remaining = self.nominal_cl_sum
        min_sum = min_current_sum = 0
        exempt_cl: dict[str, int] = {}
        for name in sorted(self.levels):
            s = self.levels[name]
            seconds, avg, dev, hw = s.demand.reset(now_ns)
            s.high_watermark = go_round(hw)
            if seconds > 0:
                envelope = avg + (0.0 if math.isnan(dev) else dev)
                s.smoothed = max(
                    envelope,
                    SEAT_DEMAND_SMOOTHING * s.smoothed + (1 - SEAT_DEMAND_SMOOTHING) * envelope,
                )
            if s.exempt:
                exempt_cl[name] = max(s.min_cl, s.high_watermark)
                remaining -= exempt_cl[name]
                continue
            mc = max(s.min_cl, min(s.nominal_cl, s.high_watermark))
            items.append((max(float(mc), s.smoothed), float(mc), float(s.max_cl)))
            names.append(name)
            min_sum += s.min_cl
            min_current_sum += mc
        allocs: list[float] = []
        share_frac = 0.0
        if min_sum < remaining <= min_current_sum:
            share_frac = (remaining - min_sum) / (min_current_sum - min_sum)
        elif remaining > min_current_sum:
            try:
                allocs, _ = compute_concurrency_allocation(self.nominal_cl_sum, items)
            except ValueError:
                allocs = [float(self.levels[n].current_cl) for n in names]
        for name, s in self.levels.items():
            if s.exempt:
                s.current_cl = exempt_cl[name]
            elif remaining <= min_sum:
                s.current_cl = s.min_cl
            elif remaining <= min_current_sum:
                mc = max(s.min_cl, min(s.nominal_cl, s.high_watermark))
                s.current_cl = s.min_cl + go_round((mc - s.min_cl) * share_frac)
            else:
                s.current_cl = go_round(allocs[names.index(name)])
            s.queues.concurrency_limit = s.current_cl

    # -- classification -------------------------------------------------------------------------
    def classify(self, attrs: Attributes) -> tuple[dict[str, Any], PriorityLevelState, str]:
        """(FlowSchema, priority level state, flow distinguisher) for a request."""
        fs = next((f for f in self.flow_schemas if flow_schema_matches(attrs, f)), None)
        if fs is None:
            fs = next(f for f in self.flow_schemas if f["metadata"]["name"] == "catch-all")
        state = self.levels[fs["spec"]["priorityLevelConfiguration"]["name"]]
        distinguisher = ""
        if not state.exempt and state.queues.num_queues > 1:
            method = (fs["spec"].get("distinguisherMethod") or {}).get("type")
            if method == "ByUser":
                distinguisher = attrs.user.name if attrs.user else ""
            elif method == "ByNamespace":
                distinguisher = attrs.namespace
        return fs, state, distinguisher

    def _headers(self, fs: Mapping[str, Any], state: PriorityLevelState) -> dict[str, str]:
        return {
            "X-Kubernetes-PF-FlowSchema-UID": fs["metadata"].get("uid", ""),
            "X-Kubernetes-PF-PriorityLevel-UID": state.config["metadata"].get("uid", ""),
        }

    # -- the state machine ---------------------------------------------------------------------
    def admit(self, req: FlowRequest, now_ns: int) -> Dispatch | Queued | Reject:
        """Offer a request. Long-running non-watch requests bypass APF entirely; a watch holds
        its seat until the host calls `finish` once the watch's initial events are sent."""
        if is_long_running(req.attrs) and req.attrs.verb != "watch":
            return Dispatch(req.id, exempt=True)
        fs, state, dist = self.classify(req.attrs)
        fs_name, pl_name = fs["metadata"]["name"], state.config["metadata"]["name"]
        qs = state.queues
        h = hash_flow_id(fs_name, dist) if qs.num_queues > 1 else 0
        r = qs.start(req, fs_name, pl_name, h, now_ns, now_ns + self.request_wait_limit_ns)
        if r is None:
            self.dropped.record(pl_name, now_ns)
            state.demand.set(qs.demand(), now_ns)
            return _reject(
                req.id,
                "queue-full" if qs.num_queues > 0 else "concurrency-limit",
                self.dropped.retry_after(pl_name),
                self._headers(fs, state),
                fs_name,
                pl_name,
            )
        self.where[req.id] = pl_name
        if qs.num_queues < 1:
            state.demand.set(qs.demand(), now_ns)
            return Dispatch(req.id, fs_name, pl_name, None, state.exempt)
        started = qs.dispatch_all(now_ns)
        state.demand.set(qs.demand(), now_ns)
        self._deferred += [
            Dispatch(s.req.id, s.fs, s.pl, s.queue.index if s.queue else None)
            for s in started
            if s is not r
        ]
        if r in started:
            return Dispatch(req.id, fs_name, pl_name, r.queue.index if r.queue else None)
        return Queued(req.id, fs_name, pl_name, r.queue.index if r.queue else -1)

    def finish(self, request_id: Any, now_ns: int) -> list[Dispatch]:
        """A dispatched request completed; returns the requests that may now run."""
        deferred, self._deferred = self._deferred, []
        pl = self.where.pop(request_id, None)
        if pl is None:
            return deferred
        state = self.levels[pl]
        state.queues.finish(request_id, now_ns)
        started = state.queues.dispatch_all(now_ns)
        state.demand.set(state.queues.demand(), now_ns)
        return deferred + [
            Dispatch(s.req.id, s.fs, s.pl, s.queue.index if s.queue else None) for s in started
        ]

    def tick(self, now_ns: int) -> list[Dispatch | Reject]:
        """Let time pass: reject requests whose queue wait timed out, release lingering seats,
        re-divide concurrency every 10 s, and dispatch what that allows."""
        out: list[Dispatch | Reject] = list(self._deferred)
        self._deferred = []
        for name in sorted(self.levels):
            state = self.levels[name]
            for r in state.queues.expire(now_ns):
                self.where.pop(r.req.id, None)
                self.dropped.record(name, now_ns)
                fs = next(f for f in self.flow_schemas if f["metadata"]["name"] == r.fs)
                out.append(
                    _reject(
                        r.req.id,
                        "time-out",
                        self.dropped.retry_after(name),
                        self._headers(fs, state),
                        r.fs,
                        name,
                    )
                )
            state.demand.set(state.queues.demand(), now_ns)
        if now_ns >= self.next_borrowing_ns:
            self._update_borrowing(now_ns)
            self.next_borrowing_ns = now_ns + BORROWING_ADJUSTMENT_PERIOD_NS
        for name in sorted(self.levels):
            state = self.levels[name]
            for s in state.queues.dispatch_all(now_ns):
                out.append(Dispatch(s.req.id, s.fs, s.pl, s.queue.index if s.queue else None))
            state.demand.set(state.queues.demand(), now_ns)
        return out

    def limits(self) -> dict[str, dict[str, int]]:
        """Per priority level: nominal, lendable, borrowing, min, max and current limits."""
        return {
            n: {
                "nominal": s.nominal_cl,
                "lendable": s.lendable_cl,
                "borrowing": s.borrowing_cl,
                "min": s.min_cl,
                "max": s.max_cl,
                "current": s.current_cl,
            }
            for n, s in sorted(self.levels.items())
        }
