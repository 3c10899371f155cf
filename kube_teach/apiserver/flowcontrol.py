"""API server protection: the max-in-flight limiter and API Priority and Fairness (APF).

Semantics: apiserver's server/filters maxinflight.go and priority-and-fairness.go,
util/flowcontrol (flow-schema matching, concurrency limits and borrowing, the dropped-request
Retry-After tracker), fairqueuing/queueset (virtual time in fixed-point seat-seconds) and
util/shufflesharding, with the default objects of apis/flowcontrol/bootstrap. Pure state
machines: every call takes `now_ns` (simulated nanoseconds); nothing here reads a clock.
"""

from __future__ import annotations

import copy
import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..sim.duration import MS, SECOND
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


# -- the default configuration (apis/flowcontrol/bootstrap/default.go) ---------------------------


def _pl(
    name: str,
    shares: int,
    lendable: int,
    queues: int = 0,
    hand: int = 0,
    qll: int = 0,
    exempt: bool = False,
) -> dict[str, Any]:
    if exempt:
        spec: dict[str, Any] = {
            "type": "Exempt",
            "exempt": {"nominalConcurrencyShares": shares, "lendablePercent": lendable},
        }
    else:
        response: dict[str, Any] = {"type": "Reject"}
        if queues:
            response = {
                "type": "Queue",
                "queuing": {"queues": queues, "handSize": hand, "queueLengthLimit": qll},
            }
        spec = {
            "type": "Limited",
            "limited": {
                "nominalConcurrencyShares": shares,
                "lendablePercent": lendable,
                "limitResponse": response,
            },
        }
    return {
        "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
        "kind": "PriorityLevelConfiguration",
        "metadata": {"name": name, "annotations": {"apf.kubernetes.io/autoupdate-spec": "true"}},
        "spec": spec,
    }


_ALL_RESOURCES = {
    "verbs": ["*"],
    "apiGroups": ["*"],
    "resources": ["*"],
    "namespaces": ["*"],
    "clusterScope": True,
}
_ALL_URLS = {"verbs": ["*"], "nonResourceURLs": ["*"]}


def _groups(*names: str) -> list[dict[str, Any]]:
    return [{"kind": "Group", "group": {"name": n}} for n in names]


def _users(*names: str) -> list[dict[str, Any]]:
    return [{"kind": "User", "user": {"name": n}} for n in names]


_KUBE_SYSTEM_SAS = [
    {"kind": "ServiceAccount", "serviceAccount": {"name": "*", "namespace": "kube-system"}}
]


def _fs(
    name: str,
    pl: str,
    precedence: int,
    distinguisher: str | None,
    subjects: list,
    resource_rules: list,
    non_resource_rules: list,
) -> dict[str, Any]:
    rule: dict[str, Any] = {"subjects": subjects}
    if resource_rules:
        rule["resourceRules"] = resource_rules
    if non_resource_rules:
        rule["nonResourceRules"] = non_resource_rules
    spec: dict[str, Any] = {
        "priorityLevelConfiguration": {"name": pl},
        "matchingPrecedence": precedence,
    }
    if distinguisher:
        spec["distinguisherMethod"] = {"type": distinguisher}
    spec["rules"] = [rule]
    return {
        "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
        "kind": "FlowSchema",
        "metadata": {"name": name, "annotations": {"apf.kubernetes.io/autoupdate-spec": "true"}},
        "spec": spec,
    }


MANDATORY_PRIORITY_LEVELS = (_pl("catch-all", 5, 0), _pl("exempt", 0, 0, exempt=True))
SUGGESTED_PRIORITY_LEVELS = (
    _pl("system", 30, 33, 64, 6, 50),
    _pl("node-high", 40, 25, 64, 6, 50),
    _pl("leader-election", 10, 0, 16, 4, 50),
    _pl("workload-high", 40, 50, 128, 6, 50),
    _pl("workload-low", 100, 90, 128, 6, 50),
    _pl("global-default", 20, 50, 128, 6, 50),
)
MANDATORY_FLOW_SCHEMAS = (
    _fs(
        "exempt", "exempt", 1, None, _groups(SYSTEM_PRIVILEGED_GROUP), [_ALL_RESOURCES], [_ALL_URLS]
    ),
    _fs(
        "catch-all",
        "catch-all",
        10000,
        "ByUser",
        _groups("system:unauthenticated", "system:authenticated"),
        [_ALL_RESOURCES],
        [_ALL_URLS],
    ),
)
SUGGESTED_FLOW_SCHEMAS = (
    _fs(
        "system-nodes",
        "system",
        500,
        "ByUser",
        _groups("system:nodes"),
        [_ALL_RESOURCES],
        [_ALL_URLS],
    ),
    _fs(
        "system-node-high",
        "node-high",
        400,
        "ByUser",
        _groups("system:nodes"),
        [
            {
                "verbs": ["*"],
                "apiGroups": [""],
                "resources": ["nodes", "nodes/status"],
                "namespaces": ["*"],
                "clusterScope": True,
            },
            {
                "verbs": ["*"],
                "apiGroups": ["coordination.k8s.io"],
                "resources": ["leases"],
                "namespaces": ["*"],
                "clusterScope": False,
            },
        ],
        [],
    ),
    _fs(
        "probes",
        "exempt",
        2,
        None,
        _groups("system:unauthenticated", "system:authenticated"),
        [],
        [{"verbs": ["get"], "nonResourceURLs": ["/healthz", "/readyz", "/livez"]}],
    ),
    _fs(
        "system-leader-election",
        "leader-election",
        100,
        "ByUser",
        _users("system:kube-controller-manager", "system:kube-scheduler") + _KUBE_SYSTEM_SAS,
        [
            {
                "verbs": ["get", "create", "update"],
                "apiGroups": ["coordination.k8s.io"],
                "resources": ["leases"],
                "namespaces": ["*"],
                "clusterScope": False,
            }
        ],
        [],
    ),
    _fs(
        "kube-controller-manager",
        "workload-high",
        800,
        "ByNamespace",
        _users("system:kube-controller-manager"),
        [_ALL_RESOURCES],
        [_ALL_URLS],
    ),
    _fs(
        "kube-scheduler",
        "workload-high",
        800,
        "ByNamespace",
        _users("system:kube-scheduler"),
        [_ALL_RESOURCES],
        [_ALL_URLS],
    ),
    _fs(
        "kube-system-service-accounts",
        "workload-high",
        900,
        "ByNamespace",
        _KUBE_SYSTEM_SAS,
        [_ALL_RESOURCES],
        [_ALL_URLS],
    ),
    _fs(
        "service-accounts",
        "workload-low",
        9000,
        "ByUser",
        _groups("system:serviceaccounts"),
        [_ALL_RESOURCES],
        [_ALL_URLS],
    ),
    _fs(
        "global-default",
        "global-default",
        9900,
        "ByUser",
        _groups("system:unauthenticated", "system:authenticated"),
        [_ALL_RESOURCES],
        [_ALL_URLS],
    ),
)


def default_configuration() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Fresh copies of the (flow schemas, priority levels) a new cluster has."""
    return (
        copy.deepcopy([*MANDATORY_FLOW_SCHEMAS, *SUGGESTED_FLOW_SCHEMAS]),
        copy.deepcopy([*MANDATORY_PRIORITY_LEVELS, *SUGGESTED_PRIORITY_LEVELS]),
    )


# -- matching (util/flowcontrol/rule.go) -----------------------------------------------------------


def _contains(x: str, items: list[str], wildcard: str) -> bool:
    # the wildcard is honoured only as the list's only member (validation guarantees it)
    return (len(items) == 1 and items[0] == wildcard) or x in items


def _subject_matches(attrs: Attributes, subject: Mapping[str, Any]) -> bool:
    user = attrs.user
    name = user.name if user else ""
    groups = user.groups if user else ()
    kind = subject.get("kind")
    if kind == "User":
        want = (subject.get("user") or {}).get("name")
        return want is not None and (want == "*" or want == name)
    if kind == "Group":
        want = (subject.get("group") or {}).get("name")
        return want is not None and (want == "*" or want in groups)
    if kind == "ServiceAccount":
        sa = subject.get("serviceAccount")
        if sa is None:
            return False
        prefix = f"system:serviceaccount:{sa.get('namespace', '')}:"
        if sa.get("name") == "*":
            return name.startswith(prefix)
        return name == prefix + sa.get("name", "")
    return False


def _url_matches(rules: list[str], path: str) -> bool:
    for r in rules:
        if r == "*" or r == path:
            return True
        prefix = r.removesuffix("*")
        if not prefix.endswith("/"):
            prefix += "/"
        if path.startswith(prefix):
            return True
    return False


def flow_schema_matches(attrs: Attributes, fs: Mapping[str, Any]) -> bool:
    """Whether any rule of the FlowSchema matches the request (subjects, then verbs and
    resources or non-resource URLs; cluster-scoped requests need `clusterScope: true`)."""
    for rule in (fs.get("spec") or {}).get("rules") or ():
        if not any(_subject_matches(attrs, s) for s in rule.get("subjects") or ()):
            continue
        if attrs.is_resource_request:
            combined = attrs.resource + ("/" + attrs.subresource if attrs.subresource else "")
            for rr in rule.get("resourceRules") or ():
                if not _contains(attrs.verb, rr.get("verbs") or [], "*"):
                    continue
                if not _contains(combined, rr.get("resources") or [], "*"):
                    continue
                if not _contains(attrs.api_group, rr.get("apiGroups") or [], "*"):
                    continue
                if not attrs.namespace:
                    if rr.get("clusterScope"):
                        return True
                    continue
                if _contains(attrs.namespace, rr.get("namespaces") or [], "*"):
                    return True
        else:
            for nr in rule.get("nonResourceRules") or ():
                if _contains(attrs.verb, nr.get("verbs") or [], "*") and _url_matches(
                    nr.get("nonResourceURLs") or [], attrs.path
                ):
                    return True
    return False


def hash_flow_id(fs_name: str, distinguisher: str) -> int:
    """The flow's 64-bit hash: the first 8 bytes (little-endian) of SHA-256(name NUL dist)."""
    digest = hashlib.sha256(fs_name.encode() + b"\x00" + distinguisher.encode()).digest()
    return int.from_bytes(digest[:8], "little")


# -- shuffle sharding (util/shufflesharding) -------------------------------------------------------

MAX_HASH_BITS = 60


def required_entropy_bits(deck_size: int, hand_size: int) -> int:
    return math.ceil(math.log2(deck_size) * hand_size)


def deal(hash_value: int, deck_size: int, hand_size: int) -> list[int]:
    """The hand of `hand_size` distinct cards in [0, deck_size) that `hash_value` picks,
    in the order the dealer picks them (mixed-radix digits, then de-collided)."""
    if deck_size <= 0 or hand_size <= 0:
        raise ValueError(f"deckSize {deck_size} or handSize {hand_size} is not positive")
    if hand_size > deck_size:
        raise ValueError(f"handSize {hand_size} is greater than deckSize {deck_size}")
    if deck_size > 1 << 26:
        raise ValueError(f"deckSize {deck_size} is impractically large")
    if required_entropy_bits(deck_size, hand_size) > MAX_HASH_BITS:
        raise ValueError(
            f"required entropy bits of deckSize {deck_size} and handSize {hand_size} is greater than {MAX_HASH_BITS}"
        )
    remainders = []
    for i in range(hand_size):
        hash_value, r = divmod(hash_value, deck_size - i)
        remainders.append(r)
    hand = []
    for i in range(hand_size):
        card = remainders[i]
        for j in range(i, 0, -1):
            if card >= remainders[j - 1]:
                card += 1
        hand.append(card)
    return hand


# -- arithmetic helpers ------------------------------------------------------------------------------

SS_SCALE = 100_000_000  # seat-seconds are fixed point with 8 decimals
ESTIMATED_SERVICE_NS = 3 * MS


def go_round(x: float) -> int:
    """Go's math.Round: halves away from zero (Python's round() goes to even)."""
    return int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)


def seats_times_duration(seats: float, duration_ns: int) -> int:
    """SeatsTimesDuration: seat-seconds in 1e-8 units."""
    return go_round(seats * duration_ns / (SECOND / SS_SCALE))


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


class Integrator:
    """Time-weighted average, deviation and maximum of a piecewise-constant value (seat
    demand), over windows that reset(): fairqueuing's integrator."""

    def __init__(self, now_ns: int) -> None:
        self.x = 0.0
        self.last = now_ns
        self.elapsed = self.sum_x = self.sum_xx = 0.0
        self.max = 0.0

    def _update(self, now_ns: int) -> None:
        dt = (now_ns - self.last) / SECOND
        self.last = now_ns
        self.elapsed += dt
        self.sum_x += dt * self.x
        self.sum_xx += dt * self.x * self.x

    def set(self, x: float, now_ns: int) -> None:
        self._update(now_ns)
        self.x = float(x)
        self.max = max(self.max, self.x)

    def reset(self, now_ns: int) -> tuple[float, float, float, float]:
        """(seconds, average, deviation, maximum) of the window that ends now."""
        self._update(now_ns)
        avg = self.sum_x / self.elapsed if self.elapsed > 0 else float("nan")
        var = self.sum_xx / self.elapsed - avg * avg if self.elapsed > 0 else float("nan")
        dev = math.sqrt(var) if var > 0 else 0.0
        out = (self.elapsed, avg, dev, self.max)
        self.elapsed = self.sum_x = self.sum_xx = 0.0
        self.max = self.x
        return out


# -- fair queuing (fairqueuing/queueset) -------------------------------------------------------------


@dataclass
class _Req:
    req: FlowRequest
    fs: str
    pl: str
    arrival_ns: int
    arrival_r: int
    deadline_ns: int
    total_work: int
    queue: _Queue | None = None
    start_ns: int = 0


@dataclass
class _Queue:
    index: int
    waiting: list[_Req] = field(default_factory=list)
    executing: dict[Any, _Req] = field(default_factory=dict)
    next_dispatch_r: int = 0
    seats_in_use: int = 0

    def idle(self) -> bool:
        return not self.waiting and not self.executing

    def work_sum(self) -> int:
        return sum(r.total_work for r in self.waiting)


class QueueSet:
    """The queues of one priority level: shuffle-sharded enqueue, fair dispatch by earliest
    virtual finish time, a concurrency limit in seats. Virtual time R advances by
    min(seats requested, limit) / active queues seat-seconds per second."""

    def __init__(
        self, name: str, queues: int, hand_size: int, queue_length_limit: int, now_ns: int
    ) -> None:
        self.name = name
        self.num_queues = queues  # 0: no queuing (Reject); -1: exempt, never limited
        self.hand_size = hand_size
        self.queue_length_limit = queue_length_limit
        self.queues = [_Queue(i) for i in range(max(queues, 0))]
        if queues > 0:
            deal(0, queues, hand_size)  # validate the dealer configuration up front
        self.concurrency_limit = 0
        self.current_r = 0
        self.last_real_ns = now_ns
        self.robin_index = -1
        self.enqueues = 0
        self.seats_in_use = 0
        self.requests_executing: dict[Any, _Req] = {}
        self.lingering: list[tuple[int, _Req]] = []  # (release time, request) for final seats

    # accounting
    @property
    def waiting(self) -> int:
        return sum(len(q.waiting) for q in self.queues)

    @property
    def seats_waiting(self) -> int:
        return sum(r.req.max_seats for q in self.queues for r in q.waiting)

    def demand(self) -> int:
        return self.seats_in_use + self.seats_waiting

    def sync_time(self, now_ns: int) -> None:
        """Advance virtual time R to `now_ns`."""
        dt = now_ns - self.last_real_ns
        self.last_real_ns = now_ns
        active = sum(1 for q in self.queues if not q.idle())
        if active == 0 or dt <= 0:
            return
        requested = sum(
            q.seats_in_use + sum(r.req.max_seats for r in q.waiting) for q in self.queues
        )
        ratio = min(requested, self.concurrency_limit) / active
        self.current_r += seats_times_duration(ratio, dt)

    def can_accommodate(self, seats: int) -> bool:
        if self.num_queues < 0:
            return True
        if seats > self.concurrency_limit:
            return not self.requests_executing
        return self.seats_in_use + seats <= self.concurrency_limit

    def _work(self, req: FlowRequest) -> int:
        return seats_times_duration(req.initial_seats, ESTIMATED_SERVICE_NS) + seats_times_duration(
            req.final_seats, req.additional_latency_ns
        )

    def choose_queue(self, hash_value: int) -> int:
        """Shuffle sharding: deal a hand of queues from the flow's hash, take the one with the
        least waiting work, scanning from a rotating offset (ties go to the first seen)."""
        hand = deal(hash_value, self.num_queues, self.hand_size)
        offset = self.enqueues % len(hand)
        self.enqueues += 1
        best, best_work = -1, None
        for i in range(len(hand)):
            idx = hand[(offset + i) % len(hand)]
            work = self.queues[idx].work_sum()
            if best_work is None or work < best_work:
                best, best_work = idx, work
        return best

    def start(
        self, req: FlowRequest, fs: str, pl: str, hash_value: int, now_ns: int, deadline_ns: int
    ) -> _Req | None:
        """Execute at once, enqueue, or return None (reject)."""
        self.sync_time(now_ns)
        r = _Req(req, fs, pl, now_ns, self.current_r, deadline_ns, self._work(req))
        if self.num_queues < 1:
            if not self.can_accommodate(req.max_seats):
                return None
            r.start_ns = now_ns
            self.requests_executing[req.id] = r
            self.seats_in_use += req.max_seats
            return r
        q = self.queues[self.choose_queue(hash_value)]
        r.queue = q
        if (
            self.seats_in_use >= self.concurrency_limit
            and len(q.waiting) >= self.queue_length_limit
        ):
            return None
        if q.idle():
            q.next_dispatch_r = self.current_r
        q.waiting.append(r)
        self._bound(q)
        return r

    def _bound(self, q: _Queue) -> None:
        # anti-windup: a queue's next dispatch time never lags its oldest request's arrival
        if q.waiting and q.next_dispatch_r < q.waiting[0].arrival_r:
            q.next_dispatch_r = q.waiting[0].arrival_r

    def dispatch_all(self, now_ns: int) -> list[_Req]:
        """Dispatch waiting requests while seats are free, earliest virtual finish first."""
        out = []
        while self.waiting and self.seats_in_use < self.concurrency_limit:
            r = self._dispatch_one(now_ns)
            if r is None:
                break
            out.append(r)
        return out

    def _dispatch_one(self, now_ns: int) -> _Req | None:
        best: _Queue | None = None
        best_finish, best_index = None, 0
        n = len(self.queues)
        for _ in range(n):
            self.robin_index = (self.robin_index + 1) % n
            q = self.queues[self.robin_index]
            if q.waiting:
                finish = q.next_dispatch_r + q.waiting[0].total_work
                if best_finish is None or finish < best_finish:
                    best, best_finish, best_index = q, finish, self.robin_index
        if best is None:
            return None
        r = best.waiting[0]
        if not self.can_accommodate(r.req.max_seats):
            return None
        best.waiting.pop(0)
        self.robin_index = best_index
        r.start_ns = now_ns
        self.seats_in_use += r.req.max_seats
        best.executing[r.req.id] = r
        best.seats_in_use += r.req.max_seats
        best.next_dispatch_r += r.total_work
        self._bound(best)
        return r

    def finish(self, request_id: Any, now_ns: int) -> _Req | None:
        """The request finished executing: charge its actual service time to its queue and
        release its seats (final seats linger for `additional_latency_ns`)."""
        self.sync_time(now_ns)
        r = self.requests_executing.pop(request_id, None)
        if r is None:
            for q in self.queues:
                if request_id in q.executing:
                    r = q.executing.pop(request_id)
                    break
        if r is None:
            return None
        if r.queue is not None:
            actual = now_ns - r.start_ns
            r.queue.next_dispatch_r -= seats_times_duration(
                r.req.initial_seats, ESTIMATED_SERVICE_NS - actual
            )
            self._bound(r.queue)
        if r.req.additional_latency_ns > 0:
            self.lingering.append((now_ns + r.req.additional_latency_ns, r))
        else:
            self._release(r)
        return r

    def _release(self, r: _Req) -> None:
        self.seats_in_use -= r.req.max_seats
        if r.queue is not None:
            r.queue.seats_in_use -= r.req.max_seats

    def expire(self, now_ns: int) -> list[_Req]:
        """Remove queued requests whose wait deadline has passed; release lingering seats."""
        self.sync_time(now_ns)
        still = []
        for when, r in self.lingering:
            if when <= now_ns:
                self._release(r)
            else:
                still.append((when, r))
        self.lingering = still
        out = []
        for q in self.queues:
            keep = [r for r in q.waiting if r.deadline_ns > now_ns]
            out += [r for r in q.waiting if r.deadline_ns <= now_ns]
            q.waiting = keep
            self._bound(q)
        return out


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
