"""DefaultPreemption through evaluate(): who is eligible, which pods become victims, which node
pickOneNodeForPreemption chooses, and the `preemption:` part of FailedScheduling."""

import pytest

from kube_teach.scheduler import evaluate
from kube_teach.scheduler.framework import PodInfo
from kube_teach.scheduler.plugins.default_preemption import (
    Candidate,
    filter_pods_with_pdb_violation,
    pick_one_node_for_preemption,
)

from .builders import node, pod

CPU2 = {"cpu": "2", "memory": "8Gi", "pods": "110"}


def prio_pod(name, cpu, priority, node_name=None, start=None, labels=None, **spec):
    p = pod(
        name, requests={"cpu": cpu}, priority=priority, node_name=node_name, labels=labels, **spec
    )
    if start:
        p["status"] = {"startTime": start}
    return p


def pdb(name, match_labels, allowed, disrupted=()):
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"selector": {"matchLabels": match_labels}},
        "status": {
            "disruptionsAllowed": allowed,
            "disruptedPods": {p: "2024-01-01T00:00:00Z" for p in disrupted},
        },
    }


def test_lower_priority_pod_is_evicted_on_the_only_helpful_node():
    nodes = [node("n1", allocatable=CPU2), node("n2", allocatable=CPU2)]
    pods = [prio_pod("low", "1500m", 10, "n1"), prio_pod("high", "1500m", 1000, "n2")]
    ev = evaluate(prio_pod("p", "1", 100), nodes, pods)
    assert ev.message == "0/2 nodes are available: 2 Insufficient cpu."
    assert (ev.nominated_node, ev.victims, ev.selected) == ("n1", ("default/low",), None)


def test_fewest_pdb_violations_wins():
    nodes = [node("n1", allocatable=CPU2), node("n2", allocatable=CPU2)]
    pods = [
        prio_pod("guarded", "1500m", 10, "n1", labels={"app": "db"}),
        prio_pod("free", "1500m", 10, "n2"),
    ]
    ev = evaluate(prio_pod("p", "1", 100), nodes, pods, objects=[pdb("db", {"app": "db"}, 0)])
    assert (ev.nominated_node, ev.victims) == ("n2", ("default/free",))


def test_lowest_highest_victim_priority_wins():
    nodes = [node("n1", allocatable=CPU2), node("n2", allocatable=CPU2)]
    pods = [prio_pod("fifty", "1500m", 50, "n1"), prio_pod("ten", "1500m", 10, "n2")]
    assert evaluate(prio_pod("p", "1", 100), nodes, pods).nominated_node == "n2"


def test_latest_start_time_wins_a_tie():
    nodes = [node("n1", allocatable=CPU2), node("n2", allocatable=CPU2)]
    pods = [
        prio_pod("old", "1500m", 10, "n1", start="2024-01-01T00:00:00Z"),
        prio_pod("new", "1500m", 10, "n2", start="2024-06-01T00:00:00Z"),
    ]
    assert evaluate(prio_pod("p", "1", 100), nodes, pods).nominated_node == "n2"


def test_higher_priority_victims_are_reprieved_first():
    four = {"cpu": "4", "memory": "8Gi", "pods": "110"}
    pods = [prio_pod(f"p{prio}", "1", prio, "n1") for prio in (10, 30, 20)] + [
        prio_pod("big", "1", 1000, "n1")
    ]
    ev = evaluate(prio_pod("p", "2", 100), [node("n1", allocatable=four)], pods)
    # Without the three low pods 1 cpu is used; p30 goes back (3 of 4 cpu), p20 and p10 cannot.
    assert (ev.nominated_node, ev.victims) == ("n1", ("default/p20", "default/p10"))


@pytest.mark.parametrize(
    ("incoming", "want"),
    [
        pytest.param(prio_pod("p", "1", 100, preemptionPolicy="Never"),
                     "0/2 nodes are available: 2 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.",
                     id="preemptionPolicy Never"),
        pytest.param(prio_pod("p", "1", 5),
                     "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: "
                     "2 No preemption victims found for incoming pod.",
                     id="no lower-priority pods"),
        pytest.param(prio_pod("p", "3", 100),
                     "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: "
                     "2 Preemption is not helpful for scheduling.",
                     id="a request larger than any node is unresolvable"),
    ],
)  # fmt: skip
def test_preemption_that_cannot_help_explains_why(incoming, want):
    nodes = [node("n1", allocatable=CPU2), node("n2", allocatable=CPU2)]
    pods = [prio_pod("a", "1500m", 10, "n1"), prio_pod("b", "1500m", 10, "n2")]
    ev = evaluate(incoming, nodes, pods)
    assert ev.message == want and ev.nominated_node is None


def test_removing_victims_that_do_not_help_reports_the_filter_reason():
    # n1's low pod uses 1 cpu, but a high-priority pod holds the rest: still Insufficient cpu.
    nodes = [node("n1", allocatable=CPU2)]
    pods = [prio_pod("low", "500m", 10, "n1"), prio_pod("high", "1500m", 1000, "n1")]
    ev = evaluate(prio_pod("p", "1", 100), nodes, pods)
    assert ev.message == (
        "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 Insufficient cpu."
    )


def test_pods_nominated_to_a_node_count_against_lower_priority_pods():
    nodes = [node("n1", allocatable=CPU2), node("n2", allocatable=CPU2)]
    nominated = prio_pod("waiting", "1500m", 500)
    nominated["status"] = {"nominatedNodeName": "n1"}
    ev = evaluate(prio_pod("p", "1", 100), nodes, [nominated])
    assert ev.selected == "n2" and ev.filters["n1"].reasons == ("Insufficient cpu",)
    assert evaluate(prio_pod("p", "1", 900), nodes, [nominated]).feasible_nodes == ("n1", "n2")


def test_pdb_accounting():
    pods = [PodInfo(pod(f"p{i}", labels={"app": "db"})) for i in range(3)]
    violating, ok = filter_pods_with_pdb_violation(
        pods, [pdb("db", {"app": "db"}, 1, disrupted=["p0"])]
    )
    assert [p.name for p in ok] == ["p0", "p1"] and [p.name for p in violating] == ["p2"]
    empty = pdb("all", {}, 0)
    assert (
        filter_pods_with_pdb_violation(pods, [empty])[0] == []
    )  # an empty selector matches nothing


def test_pick_one_node_criteria_order():
    def victims(*prios, start=0.0):
        out = []
        for k, p in enumerate(prios):
            pi = PodInfo(pod(f"v{p}-{k}", priority=p))
            pi.__dict__["start_time"] = start
            out.append(pi)
        return tuple(out)

    a = Candidate("a", victims(10, 1), 0)
    b = Candidate("b", victims(10), 0)
    assert pick_one_node_for_preemption([a, b]).name == "b"  # smaller priority sum
    c = Candidate("c", victims(5, 5), 1)
    assert pick_one_node_for_preemption([c, a]).name == "a"  # PDB violations first
    d, e = Candidate("d", victims(7, start=1.0), 0), Candidate("e", victims(7, start=2.0), 0)
    assert pick_one_node_for_preemption([d, e]).name == "e"  # latest start
    assert pick_one_node_for_preemption([e, Candidate("f", victims(7, start=2.0), 0)]).name == "e"


def anti(app, key="kubernetes.io/hostname"):
    return {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": key}]}}  # fmt: skip


def test_preemption_removes_pods_that_block_by_anti_affinity_either_way():
    nodes = [node(n, labels={"kubernetes.io/hostname": n}, allocatable=CPU2) for n in ("n1", "n2")]
    pods = [prio_pod("db-low", "100m", 10, "n1", labels={"app": "db"}),
            prio_pod("db-high", "100m", 1000, "n2", labels={"app": "db"})]  # fmt: skip
    ev = evaluate(prio_pod("web", "100m", 100, affinity=anti("db")), nodes, pods)
    assert ev.message == "0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules."
    assert (ev.nominated_node, ev.victims) == ("n1", ("default/db-low",))
    # Symmetry: the low-priority pod's own anti-affinity keeps the web pod away until evicted.
    pods = [prio_pod("guard", "100m", 10, "n1", affinity=anti("web")),
            prio_pod("guard-high", "100m", 1000, "n2", affinity=anti("web"))]  # fmt: skip
    ev = evaluate(prio_pod("web", "100m", 100, labels={"app": "web"}), nodes, pods)
    assert ev.filters["n1"].reason == "node(s) didn't satisfy existing pods anti-affinity rules"
    assert (ev.nominated_node, ev.victims) == ("n1", ("default/guard",))


def test_preemption_respects_topology_spread_after_removals():
    zones = [node(n, labels={"kubernetes.io/hostname": n, "zone": z}, allocatable=CPU2)
             for n, z in (("a1", "za"), ("b1", "zb"))]  # fmt: skip
    spread = [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule",
               "labelSelector": {"matchLabels": {"app": "web"}}}]  # fmt: skip
    pods = [prio_pod("w1", "1500m", 10, "a1", labels={"app": "web"}),
            prio_pod("w2", "100m", 10, "a1", labels={"app": "web"}),
            prio_pod("other", "1500m", 10, "b1")]  # fmt: skip
    ev = evaluate(
        prio_pod("w3", "1", 100, labels={"app": "web"}, topologySpreadConstraints=spread),
        zones,
        pods,
    )
    assert ev.message == "0/2 nodes are available: 2 Insufficient cpu."
    # On a1 both web pods must go: w2 could come back for cpu but not for the spread (za 1 vs
    # zb 0 plus the new pod). b1 needs only `other` gone, a smaller sum of priorities.
    assert (ev.nominated_node, ev.victims) == ("b1", ("default/other",))
