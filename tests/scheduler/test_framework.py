"""The framework's arithmetic: statuses, request accounting, the number of nodes searched,
host selection and the FailedScheduling text."""

import random
from collections import Counter

import pytest

from kube_teach.scheduler.framework import (
    Code,
    NodeInfo,
    NodeToStatus,
    PodInfo,
    Status,
    fit_error_message,
    num_feasible_nodes_to_find,
    pod_requests,
    select_host,
)

from .builders import container, node, pod


def test_status_message_joins_reasons_and_names_rejections():
    s = Status(Code.Unschedulable, "Insufficient cpu", "Insufficient memory")
    assert s.message == "Insufficient cpu, Insufficient memory"
    assert s.is_rejected() and not s.is_success()
    assert Status(Code.Pending).is_rejected()
    assert not Status(Code.Error, "boom").is_rejected()
    assert (
        Status().is_success()
        and str(Code.UnschedulableAndUnresolvable) == "UnschedulableAndUnresolvable"
    )
    assert [c.name for c in Code] == [
        "Success", "Error", "Unschedulable", "UnschedulableAndUnresolvable", "Wait", "Skip", "Pending",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("percentage", "nodes", "want"),
    [
        pytest.param(None, 99, 99, id="under 100 nodes every node is searched"),
        pytest.param(None, 100, 100, id="100 nodes: 50% would be 50, raised to the minimum 100"),
        pytest.param(None, 1000, 420, id="1000 nodes: 50 - 1000/125 = 42%"),
        pytest.param(None, 5000, 500, id="5000 nodes: 10%"),
        pytest.param(None, 6000, 300, id="6000 nodes: 50 - 48 = 2%, floored at 5%"),
        pytest.param(None, 15000, 750, id="15000 nodes: 5%"),
        pytest.param(0, 5000, 500, id="an explicit 0 is adaptive too"),
        pytest.param(30, 1000, 300, id="a profile percentage is used as given"),
        pytest.param(1, 1000, 100, id="a small percentage still finds 100 nodes"),
        pytest.param(100, 5000, 5000, id="100% searches every node"),
    ],
)
def test_num_feasible_nodes_to_find(percentage, nodes, want):
    assert num_feasible_nodes_to_find(percentage, nodes) == want


@pytest.mark.parametrize(
    ("spec", "want"),
    [
        pytest.param(
            {
                "containers": [
                    container({"cpu": "2", "memory": "1G"}),
                    container({"cpu": "1", "memory": "1G"}),
                ],
                "initContainers": [
                    container({"cpu": "2", "memory": "1G"}),
                    container({"cpu": "2", "memory": "3G"}),
                ],
            },
            {"cpu": 3000, "memory": 3 * 10**9},
            id="containers are summed, init containers maxed (upstream's doc example)",
        ),
        pytest.param(
            {
                "containers": [container({"cpu": "1m"})],
                "initContainers": [container({"cpu": "2m"}, restart_policy="Always")],
            },
            {"cpu": 3},
            id="a sidecar runs alongside the containers: 1m + 2m",
        ),
        pytest.param(
            {
                "containers": [container({"cpu": "1m"})],
                "initContainers": [
                    container({"cpu": "2m"}, restart_policy="Always"),
                    container({"cpu": "5m"}),
                ],
            },
            {"cpu": 7},
            id="an init container after a sidecar needs its own request plus the sidecar's",
        ),
        pytest.param(
            {
                "containers": [container({"cpu": "1m", "memory": "1"})],
                "overhead": {"cpu": "3m", "memory": "13"},
            },
            {"cpu": 4, "memory": 14},
            id="pod overhead is added",
        ),
        pytest.param(
            {
                "containers": [container({"cpu": "1", "memory": "1Gi"})],
                "resources": {"requests": {"cpu": "2", "memory": "3Gi"}},
            },
            {"cpu": 2000, "memory": 3 * 2**30},
            id="pod-level requests replace the containers' sum",
        ),
        pytest.param(
            {"containers": [container({"cpu": "0.5m"}), container({"cpu": "0.5m"})]},
            {"cpu": 1},
            id="quantities are summed exactly before rounding up to millicores",
        ),
    ],
)
def test_pod_requests(spec, want):
    pi = PodInfo({"metadata": {"name": "p"}, "spec": spec})
    assert (pi.requests.milli_cpu, pi.requests.memory) == (
        want.get("cpu", 0),
        want.get("memory", 0),
    )
    assert pod_requests(spec)["cpu"] > 0


@pytest.mark.parametrize(
    ("containers", "want"),
    [
        pytest.param([container()], (100, 200 * 2**20), id="no requests count as 100m and 200Mi"),
        pytest.param(
            [container({"cpu": "0", "memory": "0"})], (0, 0), id="explicit zeros stay zero"
        ),
        pytest.param(
            [container({"cpu": "1"})], (1000, 200 * 2**20), id="only the missing one is defaulted"
        ),
        pytest.param(
            [container(), container()], (200, 400 * 2**20), id="defaults apply per container"
        ),
        pytest.param([], (0, 0), id="a pod without containers requests nothing"),
    ],
)
def test_non_zero_requests_for_scoring(containers, want):
    pi = PodInfo(pod(containers=containers))
    assert pi.non_zero == want


def test_node_info_sums_pods_and_falls_back_to_capacity():
    n = node("n1")
    n["status"]["capacity"] = {"cpu": "4", "memory": "8Gi", "pods": "110", "nvidia.com/gpu": "2"}
    ni = NodeInfo(
        n, [PodInfo(pod("a", requests={"cpu": "1", "nvidia.com/gpu": "1"}, node_name="n1"))]
    )
    assert (ni.allocatable.milli_cpu, ni.allocatable.memory, ni.allocatable.allowed_pod_number) == (
        4000,
        8 * 2**30,
        110,
    )
    assert ni.allocatable.scalar == {"nvidia.com/gpu": 2}
    assert (ni.requested.milli_cpu, ni.requested.scalar) == (1000, {"nvidia.com/gpu": 1})
    assert ni.non_zero_requested.memory == 200 * 2**20
    clone = ni.clone()
    assert clone.remove_pod(PodInfo(pod("a", node_name="n1")))
    assert (clone.requested.milli_cpu, len(clone.pods), ni.requested.milli_cpu) == (0, 0, 1000)


def test_select_host_breaks_ties_uniformly_and_reproducibly():
    names = ["a", "b", "c", "d"]
    totals = [5, 9, 9, 9]
    rng = random.Random(7)
    picks = Counter(select_host(names, totals, rng) for _ in range(3000))
    assert set(picks) == {"b", "c", "d"}
    assert all(850 < picks[n] < 1150 for n in "bcd")
    assert [select_host(names, totals, random.Random(1)) for _ in range(3)] == [
        select_host(names, totals, random.Random(1))
    ] * 3
    assert select_host(names, [1, 2, 3, 4], random.Random(0)) == "d"


@pytest.mark.parametrize(
    ("total", "statuses", "absent", "pre", "post", "want"),
    [
        pytest.param(
            5,
            {f"n{i}": Status(Code.Unschedulable, "Insufficient cpu") for i in range(2)}
            | {
                f"t{i}": Status(
                    Code.UnschedulableAndUnresolvable,
                    "node(s) had untolerated taint {dedicated: database}",
                )
                for i in range(3)
            },
            None,
            "",
            "",
            "0/5 nodes are available: 2 Insufficient cpu, 3 node(s) had untolerated taint {dedicated: database}.",
            id="reasons are counted and sorted",
        ),
        pytest.param(
            12,
            {f"n{i}": Status(Code.Unschedulable, "y") for i in range(2)}
            | {f"m{i}": Status(Code.Unschedulable, "x") for i in range(10)},
            None,
            "",
            "",
            "0/12 nodes are available: 10 x, 2 y.",
            id="entries sort as strings, so 10 comes before 2",
        ),
        pytest.param(
            1,
            {"n1": Status(Code.Unschedulable, "Insufficient cpu", "Insufficient memory")},
            None,
            "",
            "",
            "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory.",
            id="each reason of a multi-reason status counts",
        ),
        pytest.param(
            3,
            {"n1": Status(Code.Unschedulable, "Insufficient cpu")},
            Status(
                Code.UnschedulableAndUnresolvable, "node(s) didn't satisfy plugin(s) [NodeAffinity]"
            ),
            "",
            "",
            "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't satisfy plugin(s) [NodeAffinity].",
            id="nodes absent from the map get the absent status",
        ),
        pytest.param(
            3,
            {},
            None,
            "pod affinity terms conflict",
            "",
            "0/3 nodes are available: pod affinity terms conflict.",
            id="a PreFilter rejection replaces the per-node counts",
        ),
        pytest.param(
            1,
            {"n1": Status(Code.Unschedulable, "Insufficient cpu")},
            None,
            "",
            "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.",
            "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: "
            "1 No preemption victims found for incoming pod.",
            id="the PostFilter message follows with a single period (v1.30+)",
        ),
    ],
)
def test_fit_error_message(total, statuses, absent, pre, post, want):
    assert fit_error_message(total, NodeToStatus(statuses, absent), pre, post) == want


def test_event_message_is_truncated_to_1024_bytes():
    from kube_teach.scheduler.framework import truncate_event_message

    assert truncate_event_message("short") == "short"
    long = "0/5000 nodes are available: " + "x" * 2000
    cut = truncate_event_message(long)
    assert len(cut.encode()) == 1024 and cut.endswith(" ...")


def test_priority_sort_orders_by_priority_then_queue_time():
    from types import SimpleNamespace

    from kube_teach.scheduler.plugins.priority_sort import PrioritySort

    def queued(priority, t):
        return SimpleNamespace(pod=PodInfo(pod(priority=priority)), timestamp=t)

    less = PrioritySort().less
    assert less(queued(10, 5), queued(1, 0)) and not less(queued(1, 0), queued(10, 5))
    assert less(queued(3, 1), queued(3, 2)) and not less(queued(3, 2), queued(3, 1))
