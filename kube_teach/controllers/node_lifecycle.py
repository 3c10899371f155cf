"""Node lifecycle: when a silent node turns Unknown, which taints it gets, how fast zones evict.

Semantics: pkg/controller/nodelifecycle (tryUpdateNodeHealth, doNoScheduleTaintingPass,
processTaintBaseEviction, ComputeZoneState, handleDisruption) and the taint-eviction
controller's toleration timing. Defaults are 1.32+ (grace period 50 s). Times in seconds.
"""

from __future__ import annotations

import copy
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kube_teach.api.tolerations import tolerates_taint

from ._util import ZERO_TIME, condition, format_time, meta, parse_time, spec, status

NODE_MONITOR_PERIOD = 5.0
NODE_MONITOR_GRACE_PERIOD = 50.0  # 40 s before Kubernetes 1.32
NODE_STARTUP_GRACE_PERIOD = 60.0
NODE_EVICTION_RATE = 0.1  # nodes per second
SECONDARY_NODE_EVICTION_RATE = 0.01
UNHEALTHY_ZONE_THRESHOLD = 0.55
LARGE_CLUSTER_SIZE_THRESHOLD = 50
DEFAULT_TOLERATION_SECONDS = 300

TAINT_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_UNREACHABLE = "node.kubernetes.io/unreachable"
UNREACHABLE_TAINT = {"key": TAINT_UNREACHABLE, "effect": "NoExecute"}
NOT_READY_TAINT = {"key": TAINT_NOT_READY, "effect": "NoExecute"}

#: Node condition (type, status) → the NoSchedule taint key it brings (doNoScheduleTaintingPass).
CONDITION_TAINTS = {
    ("Ready", "False"): TAINT_NOT_READY,
    ("Ready", "Unknown"): TAINT_UNREACHABLE,
    ("MemoryPressure", "True"): "node.kubernetes.io/memory-pressure",
    ("DiskPressure", "True"): "node.kubernetes.io/disk-pressure",
    ("NetworkUnavailable", "True"): "node.kubernetes.io/network-unavailable",
    ("PIDPressure", "True"): "node.kubernetes.io/pid-pressure",
}
TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"

NORMAL, PARTIAL_DISRUPTION, FULL_DISRUPTION, INITIAL = (
    "Normal",
    "PartialDisruption",
    "FullDisruption",
    "Initial",
)

__all__ = [
    "NODE_EVICTION_PERIOD",
    "HealthUpdate",
    "RateLimitedTimedQueue",
    "NodeHealth",
    "compute_zone_state",
    "eviction_delay",
    "handle_disruption",
    "min_toleration_time",
    "no_execute_taint_update",
    "no_schedule_taint_update",
    "try_update_node_health",
    "zone_eviction_rate",
    "zone_key",
]


@dataclass(frozen=True)
class NodeHealth:
    """What the controller remembers of a node: when it last saw a sign of life
    (`probe_timestamp`, its own clock), when Ready last changed, the status and lease seen."""

    probe_timestamp: float
    ready_transition_timestamp: float
    status: Mapping[str, Any] | None = None
    lease_renew_time: float | None = None


@dataclass
class HealthUpdate:
    """The outcome of one health check: the new record, the grace period used, the Ready
    condition as observed and as it is now, and the node status to write (None: no write)."""

    health: NodeHealth
    grace_period: float
    observed_ready: dict
    current_ready: dict | None
    node_status: dict | None


def try_update_node_health(
    node: Mapping[str, Any],
    lease: Mapping[str, Any] | None,
    health: NodeHealth | None,
    now: float,
    *,
    grace_period: float = NODE_MONITOR_GRACE_PERIOD,
    startup_grace_period: float = NODE_STARTUP_GRACE_PERIOD,
) -> HealthUpdate:
    """tryUpdateNodeHealth for one node at `now`.

    The probe time moves to `now` whenever the Ready condition's heartbeat changed since the
    last check or the Lease was renewed. If neither happened for longer than the grace period
    (the startup grace period while the kubelet never posted Ready), Ready, MemoryPressure,
    DiskPressure and PIDPressure become Unknown (NodeStatusUnknown, "Kubelet stopped posting
    node status."), or are added as NodeStatusNeverUpdated when missing.
    """
    node_status = copy.deepcopy(dict(status(node)))
    created = parse_time(meta(node).get("creationTimestamp"), ZERO_TIME)
    ready = condition(node_status.get("conditions"), "Ready")
    if ready is None:
        observed = {"type": "Ready", "status": "Unknown", "lastHeartbeatTime": meta(node).get("creationTimestamp"),
                    "lastTransitionTime": meta(node).get("creationTimestamp")}  # fmt: skip
        period = startup_grace_period
        if health is None:
            health = NodeHealth(created, created, node_status)
        else:
            health = NodeHealth(
                health.probe_timestamp,
                health.ready_transition_timestamp,
                node_status,
                health.lease_renew_time,
            )
    else:
        observed = dict(ready)
        period = grace_period
    saved = condition((health.status or {}).get("conditions"), "Ready") if health else None
    saved_lease = health.lease_renew_time if health else None
    if health is None or (saved is None) != (ready is None):
        health = NodeHealth(now, now, node_status)
    elif saved is not None and ready is not None:
        if saved.get("lastHeartbeatTime") != ready.get("lastHeartbeatTime"):
            transition = health.ready_transition_timestamp
            if saved.get("lastTransitionTime") != ready.get("lastTransitionTime"):
                transition = now
            # upstream drops the remembered lease here; the next renewal check sees it anew
            health = NodeHealth(now, transition, node_status)
    renew = parse_time(((lease or {}).get("spec") or {}).get("renewTime"))
    if lease is not None and renew is not None and (saved_lease is None or saved_lease < renew):
        health = NodeHealth(now, health.ready_transition_timestamp, health.status, renew)
    current = condition(node_status.get("conditions"), "Ready")
    if now > health.probe_timestamp + period:
        stamp = format_time(now)
        conditions = node_status.setdefault("conditions", [])
        for kind in ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure"):
            cond = condition(conditions, kind)
            if cond is None:
                conditions.append({"type": kind, "status": "Unknown", "lastHeartbeatTime": meta(node).get("creationTimestamp"),
                                   "lastTransitionTime": stamp, "reason": "NodeStatusNeverUpdated",
                                   "message": "Kubelet never posted node status."})  # fmt: skip
            elif cond.get("status") != "Unknown":
                cond.update(status="Unknown", reason="NodeStatusUnknown",
                            message="Kubelet stopped posting node status.", lastTransitionTime=stamp)  # fmt: skip
        current = condition(conditions, "Ready")
        if current != observed:
            health = NodeHealth(health.probe_timestamp, now, node_status, renew if lease else None)
            return HealthUpdate(health, period, observed, dict(current or {}), node_status)
    return HealthUpdate(health, period, observed, dict(current) if current else None, None)


# -- taints ------------------------------------------------------------------------------------
def _has_taint(taints: Sequence[Mapping[str, Any]], template: Mapping[str, Any]) -> bool:
    return any(
        t.get("key") == template["key"] and t.get("effect") == template["effect"] for t in taints
    )


def no_schedule_taint_update(node: Mapping[str, Any]) -> tuple[list[dict], list[dict]]:
    """(taints to add, taints to remove) so that the node's condition NoSchedule taints match
    its conditions and spec.unschedulable (doNoScheduleTaintingPass)."""
    wanted = []
    for cond in status(node).get("conditions") or ():
        key = CONDITION_TAINTS.get((cond.get("type"), cond.get("status")))
        if key is not None:
            wanted.append({"key": key, "effect": "NoSchedule"})
    if spec(node).get("unschedulable"):
        wanted.append({"key": TAINT_UNSCHEDULABLE, "effect": "NoSchedule"})
    managed = set(CONDITION_TAINTS.values()) | {TAINT_UNSCHEDULABLE}
    have = [
        t
        for t in spec(node).get("taints") or ()
        if t.get("effect") == "NoSchedule" and t.get("key") in managed
    ]
    add = [t for t in wanted if not _has_taint(have, t)]
    remove = [dict(t) for t in have if not _has_taint(wanted, t)]
    return add, remove


def no_execute_taint_update(
    node: Mapping[str, Any], ready_status: str | None, now: float
) -> tuple[list[dict], list[dict]]:
    """(taints to add, taints to remove) for the NoExecute taint-based eviction: Ready False →
    not-ready, Unknown → unreachable (the two are exclusive and swapped), True → neither.
    An added taint carries timeAdded = `now`. The add is rate-limited per zone upstream,
    except when swapping one taint for the other."""
    taints = spec(node).get("taints") or []
    if ready_status == "True" or ready_status is None:
        return [], [dict(t) for t in taints if _has_taint([NOT_READY_TAINT, UNREACHABLE_TAINT], t)]
    add_t, remove_t = (
        (NOT_READY_TAINT, UNREACHABLE_TAINT)
        if ready_status == "False"
        else (UNREACHABLE_TAINT, NOT_READY_TAINT)
    )
    add = [] if _has_taint(taints, add_t) else [{**add_t, "timeAdded": format_time(now)}]
    remove = [dict(t) for t in taints if _has_taint([remove_t], t)]
    return add, remove


def min_toleration_time(tolerations: Sequence[Mapping[str, Any]]) -> float:
    """The shortest tolerationSeconds among `tolerations` (getMinTolerationTime): 0 if there
    are none or one is ≤ 0, −1 if none sets a limit (tolerated forever)."""
    if not tolerations:
        return 0
    shortest = None
    for t in tolerations:
        seconds = t.get("tolerationSeconds")
        if seconds is not None:
            if seconds <= 0:
                return 0
            shortest = seconds if shortest is None else min(shortest, seconds)
    return -1 if shortest is None else float(shortest)


def eviction_delay(pod: Mapping[str, Any], taints: Sequence[Mapping[str, Any]]) -> float | None:
    """Seconds until the taint-eviction controller deletes `pod` from a node with `taints`:
    0 for an untolerated NoExecute taint, the minimum tolerationSeconds of the tolerations used,
    None when there is no NoExecute taint or it is tolerated forever."""
    no_execute = [t for t in taints if t.get("effect") == "NoExecute"]
    if not no_execute:
        return None
    tolerations = spec(pod).get("tolerations") or []
    used = []
    for taint in no_execute:
        match = next((t for t in tolerations if tolerates_taint(t, taint)), None)
        if match is None:
            return 0
        used.append(match)
    delay = min_toleration_time(used)
    return None if delay < 0 else delay


# -- zones -------------------------------------------------------------------------------------
def zone_key(node: Mapping[str, Any]) -> str:
    """region + ":\\x00:" + zone from the topology labels (or the beta failure-domain ones)."""
    node_labels = meta(node).get("labels") or {}
    zone = node_labels.get(
        "topology.kubernetes.io/zone", node_labels.get("failure-domain.beta.kubernetes.io/zone", "")
    )
    region = node_labels.get(
        "topology.kubernetes.io/region",
        node_labels.get("failure-domain.beta.kubernetes.io/region", ""),
    )
    if not region and not zone:
        return ""
    return f"{region}:\x00:{zone}"


def _f32(x: float) -> float:
    return struct.unpack("f", struct.pack("f", x))[0]


def compute_zone_state(
    ready_statuses: Sequence[str | None], threshold: float = UNHEALTHY_ZONE_THRESHOLD
) -> tuple[int, str]:
    """(not-ready nodes, zone state) from the zone's Ready statuses (None: no condition).

    FullDisruption when no node is Ready; PartialDisruption when more than 2 are not and their
    share is at least `threshold` (compared in float32, as upstream); else Normal.
    """
    ready = sum(1 for s in ready_statuses if s == "True")
    not_ready = len(ready_statuses) - ready
    if ready == 0 and not_ready > 0:
        return not_ready, FULL_DISRUPTION
    if not_ready > 2 and _f32(_f32(not_ready) / _f32(not_ready + ready)) >= _f32(threshold):
        return not_ready, PARTIAL_DISRUPTION
    return not_ready, NORMAL


def zone_eviction_rate(
    state: str,
    zone_size: int,
    *,
    eviction_rate: float = NODE_EVICTION_RATE,
    secondary_eviction_rate: float = SECONDARY_NODE_EVICTION_RATE,
    large_cluster_threshold: int = LARGE_CLUSTER_SIZE_THRESHOLD,
) -> float:
    """Nodes per second the zone's NoExecute tainter may process (setLimiterInZone)."""
    if state == PARTIAL_DISRUPTION:
        return secondary_eviction_rate if zone_size > large_cluster_threshold else 0.0
    return eviction_rate


@dataclass
class DisruptionDecision:
    """Zone states and tainting rates after one pass, and whether the whole cluster entered
    (`entering_full_disruption`) or left (`exiting_full_disruption`) master disruption mode."""

    states: dict[str, str]
    rates: dict[str, float]
    entering_full_disruption: bool = False
    exiting_full_disruption: bool = False


def handle_disruption(
    zones: Mapping[str, Sequence[str | None]],
    previous_states: Mapping[str, str],
    previous_rates: Mapping[str, float] | None = None,
    *,
    threshold: float = UNHEALTHY_ZONE_THRESHOLD,
    eviction_rate: float = NODE_EVICTION_RATE,
    secondary_eviction_rate: float = SECONDARY_NODE_EVICTION_RATE,
    large_cluster_threshold: int = LARGE_CLUSTER_SIZE_THRESHOLD,
) -> DisruptionDecision:
    """handleDisruption: `zones` maps a zone key to its nodes' Ready statuses.

    When every zone is fully disrupted, the controller assumes its own network is at fault
    and stops all evictions (rate 0); when it leaves that mode every zone gets the rate of its
    state; otherwise only zones whose state changed get a new rate. Unseen zones start Initial.
    """
    kwargs = dict(eviction_rate=eviction_rate, secondary_eviction_rate=secondary_eviction_rate,
                  large_cluster_threshold=large_cluster_threshold)  # fmt: skip
    new_states = {z: compute_zone_state(v, threshold)[1] for z, v in zones.items()}
    states = {z: s for z, s in previous_states.items() if z in zones}
    rates = {z: r for z, r in (previous_rates or {}).items() if z in zones}
    for z in zones:
        states.setdefault(z, INITIAL)
        rates.setdefault(z, eviction_rate)
    all_are = all(s == FULL_DISRUPTION for s in new_states.values())
    all_were = all(s == FULL_DISRUPTION for s in states.values())
    if all_are and all_were:
        return DisruptionDecision(states, rates)
    if all_are:
        return DisruptionDecision(
            {z: FULL_DISRUPTION for z in states},
            {z: 0.0 for z in states},
            entering_full_disruption=True,
        )
    if all_were:
        rates = {z: zone_eviction_rate(new_states[z], len(zones[z]), **kwargs) for z in states}
        return DisruptionDecision(dict(new_states), rates, exiting_full_disruption=True)
    for z, old in list(states.items()):
        if old != new_states[z]:
            rates[z] = zone_eviction_rate(new_states[z], len(zones[z]), **kwargs)
            states[z] = new_states[z]
    return DisruptionDecision(states, rates)


# -- the per-zone NoExecute tainter ---------------------------------------------------------------
EVICTION_RATE_LIMITER_BURST = 1
NODE_EVICTION_PERIOD = 0.1  # how often the tainting pass drains the zone queues


class RateLimitedTimedQueue:
    """The nodes of one zone waiting for their NoExecute taint, in arrival order, drained by a
    token bucket of `qps` nodes per second and burst 1 (RateLimitedTimedQueue over
    flowcontrol's token bucket). A qps of 0 admits nothing (the "never" limiter).
    Times are seconds; the bucket starts full.

    As upstream's UniqueQueue, a node taken from the queue stays known: adding it again does
    nothing until `remove` forgets it (the controller does so when the node is healthy again,
    or when its taint has gone missing).
    """

    def __init__(self, qps: float, now: float) -> None:
        self.qps = float(qps) if qps > 0 else 0.0
        self.tokens = float(EVICTION_RATE_LIMITER_BURST) if self.qps else 0.0
        self.last = now
        self.items: list[str] = []
        self.known: dict[str, None] = {}  # queued or already processed (an ordered set)

    def add(self, node_name: str) -> bool:
        """Queue a node; False if it is queued or was processed and not removed since."""
        if node_name in self.known:
            return False
        self.known[node_name] = None
        self.items.append(node_name)
        return True

    def remove(self, node_name: str) -> bool:
        """Forget a node: out of the queue, and free to be added again."""
        if node_name not in self.known:
            return False
        del self.known[node_name]
        if node_name in self.items:
            self.items.remove(node_name)
        return True

    def try_accept(self, now: float) -> bool:
        """Take one token if there is one (rate.Limiter.Allow with burst 1)."""
        if not self.qps:
            return False
        self.tokens = min(
            float(EVICTION_RATE_LIMITER_BURST), self.tokens + (now - self.last) * self.qps
        )
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def swap_limiter(self, qps: float, now: float) -> None:
        """SwapLimiter: a new bucket at `qps`; if the old one had no token to give, the new
        one starts drained as well, so a swap never grants an extra eviction."""
        qps = float(qps) if qps > 0 else 0.0
        if qps == self.qps:
            return
        had_token = self.try_accept(now)
        self.qps, self.last = qps, now
        self.tokens = float(EVICTION_RATE_LIMITER_BURST) if qps else 0.0
        if qps and not had_token:
            self.tokens -= 1.0

    def take(self, now: float) -> list[str]:
        """Try: the nodes that may be tainted now, in order, each taking one token; the
        queue stops at the first node the bucket refuses."""
        taken = []
        while self.items and self.try_accept(now):
            taken.append(self.items.pop(0))
        return taken

    def __repr__(self) -> str:
        return f"<RateLimitedTimedQueue qps={self.qps} queued={self.items}>"
