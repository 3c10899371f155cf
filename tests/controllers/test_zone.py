"""Zone states and the rate at which the node lifecycle controller adds NoExecute taints:
the pure token-bucket queue, then whole clusters losing some, most or all of their nodes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kube_teach import Cluster
from kube_teach.controllers import node_lifecycle as nl
from kube_teach.controllers._util import parse_time

UNREACHABLE = "node.kubernetes.io/unreachable"


# -- the queue ---------------------------------------------------------------------------------
def test_the_queue_admits_one_node_at_once_then_one_per_1_over_qps_seconds():
    q = nl.RateLimitedTimedQueue(0.1, now=0.0)
    for n in ("a", "b", "c"):
        assert q.add(n)
    assert not q.add("a")  # a node is queued once
    assert q.take(0.0) == ["a"]  # the bucket starts full (burst 1)
    assert q.take(9.9) == []
    assert q.take(10.0) == ["b"]
    assert q.take(15.0) == []
    assert q.take(35.0) == ["c"]  # the bucket holds one token, never more


def test_a_tainted_node_is_not_queued_again_until_it_is_removed():
    q = nl.RateLimitedTimedQueue(0.1, now=0.0)
    q.add("a")
    assert q.take(0.0) == ["a"]
    assert not q.add("a")  # processed, still known: a later pass does not spend a token on it
    q.add("b")
    assert q.take(10.0) == ["b"]
    assert q.remove("a") and q.add("a")  # healthy again, or its taint vanished: queue anew
    assert q.take(20.0) == ["a"]


def test_a_zero_rate_admits_nothing_and_a_removed_node_is_not_tainted():
    q = nl.RateLimitedTimedQueue(0.0, now=0.0)
    q.add("a")
    q.add("b")
    assert q.take(1000.0) == []
    assert q.remove("a") and not q.remove("a")
    q.swap_limiter(0.1, now=1000.0)
    assert q.take(1000.0) == []  # the never-limiter had no token: the new bucket starts empty
    assert q.take(1010.0) == ["b"]


@pytest.mark.parametrize(
    ("had_token", "want_now"),
    [
        pytest.param(True, ["a"], id="a swap keeps an unused token"),
        pytest.param(False, [], id="a swap after a spent token starts drained"),
    ],
)
def test_swapping_the_limiter_never_grants_an_extra_eviction(had_token, want_now):
    q = nl.RateLimitedTimedQueue(0.1, now=0.0)
    if not had_token:
        q.add("x")
        assert q.take(0.0) == ["x"]
    q.swap_limiter(0.01, now=1.0)
    q.add("a")
    assert q.take(1.0) == want_now


@pytest.mark.parametrize(
    ("state", "size", "want"),
    [
        pytest.param("Normal", 3, 0.1, id="normal: --node-eviction-rate"),
        pytest.param("FullDisruption", 3, 0.1, id="a fully disrupted zone keeps the normal rate"),
        pytest.param("PartialDisruption", 50, 0.0, id="partial, 50 nodes: stop"),
        pytest.param("PartialDisruption", 51, 0.01, id="partial, above 50: --secondary-node-eviction-rate"),
    ],
)  # fmt: skip
def test_rates_of_zone_states(state, size, want):
    assert nl.zone_eviction_rate(state, size) == want


def test_a_zone_with_an_unhealthy_majority_is_partially_disrupted_at_the_threshold():
    # 0.55 is the float32 threshold: 11 of 20 not ready is exactly 0.55
    assert nl.compute_zone_state(["Unknown"] * 11 + ["True"] * 9) == (11, "PartialDisruption")
    assert nl.compute_zone_state(["Unknown"] * 10 + ["True"] * 10) == (10, "Normal")
    assert nl.compute_zone_state(["Unknown"] * 2) == (2, "FullDisruption")
    assert nl.compute_zone_state(["Unknown"] * 2 + ["True"]) == (2, "Normal")  # only 2 down


# -- whole clusters ----------------------------------------------------------------------------
def noexecute_added(c: Cluster, node: str) -> float | None:
    """When the node got its unreachable NoExecute taint, in simulated seconds, or None."""
    for t in c.nodes[node].obj["spec"].get("taints") or ():
        if t["key"] == UNREACHABLE and t["effect"] == "NoExecute":
            return parse_time(t["timeAdded"]) - c.store.epoch_ns / 1e9
    return None


def zone_states(c: Cluster) -> list[tuple[str, str]]:
    return [(e.fields["zone"], e.fields["state"])
            for e in c.trace.where("node-lifecycle-controller", "zone-state")]  # fmt: skip


def fail(c: Cluster, names: list[str], seconds: float = 90) -> None:
    c.run(20)
    for n in names:
        c.nodes[n].fail()
    c.run(seconds)


def test_two_of_six_nodes_down_in_one_zone_are_tainted_10_s_apart():
    c = Cluster(nodes=6, zones=["zone-a"], seed=1)
    fail(c, ["node-1", "node-2"])
    first, second = sorted(noexecute_added(c, n) for n in ("node-1", "node-2"))
    assert second - first == pytest.approx(10.0, abs=0.11)  # 0.1 nodes/s, 100 ms passes
    assert zone_states(c)[-1][1] == "Normal"  # 2 down is never more than "2 nodes"


def test_most_of_a_small_zone_down_is_a_partial_disruption_that_stops_tainting():
    c = Cluster(nodes=6, zones=["zone-a"], seed=1)
    fail(c, ["node-1", "node-2", "node-3", "node-4"], seconds=200)
    assert zone_states(c)[-1] == (":\x00:zone-a", "PartialDisruption")
    assert [noexecute_added(c, f"node-{i}") for i in range(1, 5)] == [None] * 4


def test_a_large_zone_partially_disrupted_taints_at_the_secondary_rate():
    c = Cluster(nodes=6, zones=["zone-a"], seed=1)
    c.run(1)
    nlc = c.controller_manager.controllers["node-lifecycle-controller"]
    nlc.large_cluster_threshold = 5  # so that 6 nodes count as a large zone
    fail(c, ["node-1", "node-2", "node-3", "node-4"], seconds=260)
    added = sorted(t for i in range(1, 5) if (t := noexecute_added(c, f"node-{i}")) is not None)
    assert len(added) == 3  # 0.01 nodes/s: one at once, then one every 100 s
    assert added[1] - added[0] == pytest.approx(100.0, abs=0.11)
    assert added[2] - added[1] == pytest.approx(100.0, abs=0.11)


@pytest.mark.parametrize("zones", [["zone-a"], ["zone-a", "zone-b", "zone-c"]])
def test_every_zone_fully_disrupted_means_no_taints_at_all(zones):
    c = Cluster(nodes=3, zones=zones, seed=1)
    fail(c, ["node-1", "node-2", "node-3"])
    assert [noexecute_added(c, f"node-{i}") for i in (1, 2, 3)] == [None] * 3
    assert {state for _, state in zone_states(c)} >= {"FullDisruption"}


def test_one_dead_zone_among_healthy_ones_is_evicted_at_the_normal_rate():
    c = Cluster(nodes=3, seed=1)  # one node per zone
    fail(c, ["node-2"])
    assert noexecute_added(c, "node-2") is not None
    assert (":\x00:zone-b", "FullDisruption") in zone_states(c)


@settings(max_examples=60, deadline=None)
@given(
    qps=st.sampled_from([0.01, 0.1, 1.0]),
    gaps=st.lists(st.floats(0.0, 30.0, allow_nan=False), min_size=1, max_size=40),
    swaps=st.lists(st.sampled_from([0.0, 0.01, 0.1]), max_size=5),
)
def test_the_queue_never_admits_more_than_one_plus_rate_times_elapsed(qps, gaps, swaps):
    """Whatever the schedule of passes and limiter swaps, a zone taints at most 1 node (the
    burst) plus the highest rate in force times the time elapsed."""
    q = nl.RateLimitedTimedQueue(qps, now=0.0)
    for i in range(100):
        q.add(f"node-{i}")
    now, admitted, fastest = 0.0, 0, qps
    for i, gap in enumerate(gaps):
        now += gap
        if swaps and i % 7 == 3:
            rate = swaps[(i // 7) % len(swaps)]
            q.swap_limiter(rate, now)
            fastest = max(fastest, rate)
        admitted += len(q.take(now))
        assert admitted <= 1 + fastest * now + 1e-9
