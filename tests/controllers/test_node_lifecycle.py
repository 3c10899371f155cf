"""Node lifecycle: grace periods, taints, zone states and taint-based eviction timing."""

from __future__ import annotations

import pytest

from kube_teach.controllers import node_lifecycle as nl

from .builders import T0, at


def node(
    ready=None,
    heartbeat=0.0,
    transition=0.0,
    created=-1000.0,
    taints=None,
    unschedulable=False,
    extra=(),
):
    conditions = []
    if ready is not None:
        conditions.append(
            {
                "type": "Ready",
                "status": ready,
                "lastHeartbeatTime": at(heartbeat),
                "lastTransitionTime": at(transition),
            }
        )
    conditions.extend(extra)
    n = {
        "metadata": {"name": "node0", "creationTimestamp": at(created)},
        "spec": {},
        "status": {"conditions": conditions},
    }
    if taints:
        n["spec"]["taints"] = taints
    if unschedulable:
        n["spec"]["unschedulable"] = True
    return n


def lease(renewed):
    return {"spec": {"renewTime": at(renewed) if renewed is not None else None}}


def test_defaults_are_the_1_32_ones():
    assert (nl.NODE_MONITOR_GRACE_PERIOD, nl.NODE_STARTUP_GRACE_PERIOD, nl.NODE_MONITOR_PERIOD) == (
        50,
        60,
        5,
    )


def test_a_node_that_stops_posting_turns_unknown_after_the_grace_period():
    n = node("True", heartbeat=0)
    first = nl.try_update_node_health(n, None, None, T0)
    assert first.node_status is None and first.health.probe_timestamp == T0
    assert nl.try_update_node_health(n, None, first.health, T0 + 50).node_status is None
    late = nl.try_update_node_health(n, None, first.health, T0 + 50.5)
    ready = next(c for c in late.node_status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "Unknown",
        "NodeStatusUnknown",
        "Kubelet stopped posting node status.",
    )
    kinds = {c["type"]: c["reason"] for c in late.node_status["conditions"]}
    assert kinds == {
        "Ready": "NodeStatusUnknown",
        "MemoryPressure": "NodeStatusNeverUpdated",
        "DiskPressure": "NodeStatusNeverUpdated",
        "PIDPressure": "NodeStatusNeverUpdated",
    }
    assert late.observed_ready["status"] == "True" and late.current_ready["status"] == "Unknown"


def test_a_renewed_lease_keeps_the_node_alive_without_status_posts():
    n = node("True", heartbeat=0)
    health = nl.try_update_node_health(n, lease(0), None, T0).health
    for t in (10, 20, 30, 40, 50, 60, 70):
        update = nl.try_update_node_health(n, lease(t), health, T0 + t)
        assert update.node_status is None
        health = update.health
    assert nl.try_update_node_health(n, lease(70), health, T0 + 121).node_status is not None


def test_a_new_heartbeat_moves_the_probe_time():
    health = nl.try_update_node_health(node("True", heartbeat=0), None, None, T0).health
    update = nl.try_update_node_health(node("True", heartbeat=40), None, health, T0 + 45)
    assert update.health.probe_timestamp == T0 + 45
    assert (
        nl.try_update_node_health(
            node("True", heartbeat=40), None, update.health, T0 + 90
        ).node_status
        is None
    )
    assert (
        nl.try_update_node_health(
            node("True", heartbeat=40), None, update.health, T0 + 96
        ).node_status
        is not None
    )


def test_a_node_that_never_posted_gets_the_startup_grace_period():
    n = node(None, created=0)
    assert nl.try_update_node_health(n, None, None, T0 + 60).node_status is None
    update = nl.try_update_node_health(n, None, None, T0 + 61)
    assert update.grace_period == 60
    assert {c["reason"] for c in update.node_status["conditions"]} == {"NodeStatusNeverUpdated"}


@pytest.mark.parametrize(
    ("conditions", "unschedulable", "have", "add", "remove"),
    [
        pytest.param(
            [("Ready", "False")], False, [], ["node.kubernetes.io/not-ready"], [], id="not ready"
        ),
        pytest.param(
            [("Ready", "Unknown")],
            False,
            [],
            ["node.kubernetes.io/unreachable"],
            [],
            id="unreachable",
        ),
        pytest.param(
            [("Ready", "True"), ("MemoryPressure", "True"), ("DiskPressure", "False")],
            True,
            [],
            ["node.kubernetes.io/memory-pressure", "node.kubernetes.io/unschedulable"],
            [],
            id="pressure and cordon",
        ),
        pytest.param(
            [("Ready", "True")],
            False,
            ["node.kubernetes.io/not-ready", "example.com/mine"],
            [],
            ["node.kubernetes.io/not-ready"],
            id="recovered: only managed taints are removed",
        ),
    ],
)
def test_no_schedule_taints(conditions, unschedulable, have, add, remove):
    n = node(
        extra=[{"type": t, "status": s} for t, s in conditions],
        unschedulable=unschedulable,
        taints=[{"key": k, "effect": "NoSchedule"} for k in have],
    )
    got_add, got_remove = nl.no_schedule_taint_update(n)
    assert [t["key"] for t in got_add] == add
    assert [t["key"] for t in got_remove] == remove


def test_no_execute_taints_swap_between_not_ready_and_unreachable():
    add, remove = nl.no_execute_taint_update(node(), "Unknown", T0)
    assert (
        add
        == [{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": at(0)}]
        and remove == []
    )
    tainted = node(taints=[{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}])
    add, remove = nl.no_execute_taint_update(tainted, "False", T0)
    assert [t["key"] for t in add] == ["node.kubernetes.io/not-ready"]
    assert [t["key"] for t in remove] == ["node.kubernetes.io/unreachable"]
    assert nl.no_execute_taint_update(tainted, "True", T0) == (
        [],
        [{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}],
    )


@pytest.mark.parametrize(
    ("statuses", "want"),
    [
        pytest.param(["True"] * 3, (0, "Normal"), id="all ready"),
        pytest.param(["False", "Unknown", None], (3, "FullDisruption"), id="none ready"),
        pytest.param(
            ["False"] * 3 + ["True"] * 2,
            (3, "PartialDisruption"),
            id="3 of 5 not ready is over 55%",
        ),
        pytest.param(["False"] * 2 + ["True"], (2, "Normal"), id="2 not ready is never partial"),
        pytest.param(
            ["False"] * 11 + ["True"] * 9,
            (11, "PartialDisruption"),
            id="exactly 55% (float32) is partial",
        ),
        pytest.param(["False"] * 10 + ["True"] * 10, (10, "Normal"), id="50% is normal"),
        pytest.param([], (0, "Normal"), id="an empty zone is normal"),
    ],
)
def test_compute_zone_state(statuses, want):
    assert nl.compute_zone_state(statuses) == want


@pytest.mark.parametrize(
    ("state", "size", "rate"),
    [
        ("Normal", 3, 0.1),
        ("PartialDisruption", 51, 0.01),
        ("PartialDisruption", 50, 0.0),
        ("FullDisruption", 3, 0.1),
    ],
)
def test_zone_eviction_rate(state, size, rate):
    assert nl.zone_eviction_rate(state, size) == rate


def test_all_zones_fully_disrupted_stops_every_eviction():
    zones = {"a": ["False"], "b": ["Unknown", "False"]}
    entering = nl.handle_disruption(zones, {"a": "Normal", "b": "Normal"})
    assert entering.entering_full_disruption and entering.rates == {"a": 0.0, "b": 0.0}
    leaving = nl.handle_disruption(
        {"a": ["True"], "b": ["False", "False"]}, entering.states, entering.rates
    )
    assert leaving.exiting_full_disruption
    assert leaving.states == {"a": "Normal", "b": "FullDisruption"} and leaving.rates == {
        "a": 0.1,
        "b": 0.1,
    }
    partial = nl.handle_disruption(
        {"a": ["True"], "b": ["False"] * 3 + ["True"]}, leaving.states, leaving.rates
    )
    assert partial.states["b"] == "PartialDisruption" and partial.rates["b"] == 0.0


def test_zone_key():
    labelled = {
        "metadata": {
            "labels": {"topology.kubernetes.io/region": "r1", "topology.kubernetes.io/zone": "z1"}
        }
    }
    assert nl.zone_key(labelled) == "r1:\x00:z1"
    assert nl.zone_key({"metadata": {}}) == ""


UNREACHABLE = {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}


@pytest.mark.parametrize(
    ("tolerations", "taints", "want"),
    [
        pytest.param([], [UNREACHABLE], 0, id="untolerated: evicted at once"),
        pytest.param(
            [
                {
                    "key": "node.kubernetes.io/unreachable",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                }
            ],
            [UNREACHABLE],
            300,
            id="the default 300 s toleration",
        ),
        pytest.param([{"operator": "Exists"}], [UNREACHABLE], None, id="tolerated forever"),
        pytest.param(
            [
                {
                    "key": "node.kubernetes.io/unreachable",
                    "operator": "Exists",
                    "tolerationSeconds": 0,
                }
            ],
            [UNREACHABLE],
            0,
            id="zero seconds means now",
        ),
        pytest.param([], [{"key": "x", "effect": "NoSchedule"}], None, id="no NoExecute taint"),
    ],
)
def test_eviction_delay(tolerations, taints, want):
    assert nl.eviction_delay({"spec": {"tolerations": tolerations}}, taints) == want


def test_min_toleration_time():
    assert nl.min_toleration_time([]) == 0
    assert nl.min_toleration_time([{"tolerationSeconds": 30}, {"tolerationSeconds": 10}, {}]) == 10
    assert nl.min_toleration_time([{}]) == -1
