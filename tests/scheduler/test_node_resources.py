"""NodeResourcesFit (filter and the three scoring strategies) and
NodeResourcesBalancedAllocation, with the inputs of upstream's fit_test.go,
least/most_allocated_test.go and balanced_allocation_test.go (v1.34 semantics)."""

import pytest

from kube_teach.scheduler.framework import Code, Status
from kube_teach.scheduler.plugins.node_resources_balanced_allocation import (
    NodeResourcesBalancedAllocation,
)
from kube_teach.scheduler.plugins.node_resources_fit import NodeResourcesFit

from .builders import container, node, pod, run_filter, run_score

U, UU = Code.Unschedulable, Code.UnschedulableAndUnresolvable
A, B = "example.com/aaa", "example.com/bbb"
K8S_A, HUGE = "kubernetes.io/something", "hugepages-2Mi"
# makeAllocatableResources(10, 20, 32, 5, 20, 5): 10m cpu, 20 bytes, 32 pods, 5 aaa, 20 bytes
# of ephemeral storage, 5 bytes of 2Mi hugepages.
ALLOC = {"cpu": "10m", "memory": "20", "pods": "32", A: "5", "ephemeral-storage": "20", HUGE: "5"}


def res(cpu=0, mem=0, extra=None):
    """Requests in millicores and bytes, plus other resources by name."""
    return {"cpu": f"{cpu}m", "memory": str(mem), **{k: str(v) for k, v in (extra or {}).items()}}


def reqpod(*containers, init=(), **spec):
    return pod(containers=[container(r, name=f"c{i}") for i, r in enumerate(containers)],
               init_containers=[container(r, name=f"i{i}") for i, r in enumerate(init)], **spec)  # fmt: skip


def insufficient(code, *names):
    return Status(code, *(f"Insufficient {n}" for n in names))


@pytest.mark.parametrize(
    ("incoming", "used", "args", "want"),
    [
        pytest.param(pod(containers=[]), res(10, 20), {}, Status(), id="no resources requested always fits"),
        pytest.param(reqpod(res(1, 1)), res(10, 20), {}, insufficient(U, "cpu", "memory"),
                     id="too many resources fails (with all reasons, Unschedulable: a node could hold it)"),
        pytest.param(reqpod(res(1, 1), init=[res(3, 1)]), res(8, 19), {}, insufficient(U, "cpu"),
                     id="too many resources fails due to init container cpu"),
        pytest.param(reqpod(res(1, 1), init=[res(3, 1), res(2, 1)]), res(8, 19), {}, insufficient(U, "cpu"),
                     id="too many resources fails due to highest init container cpu"),
        pytest.param(reqpod(res(1, 1), init=[res(1, 3)]), res(9, 19), {}, insufficient(U, "memory"),
                     id="too many resources fails due to init container memory"),
        pytest.param(reqpod(res(1, 1), init=[res(1, 1)]), res(9, 19), {}, Status(),
                     id="init container fits because it's the max, not sum"),
        pytest.param(reqpod(res(1, 1)), res(5, 5), {}, Status(), id="both resources fit"),
        pytest.param(reqpod(res(2, 1)), res(9, 5), {}, insufficient(U, "cpu"), id="one resource memory fits"),
        pytest.param(reqpod(res(1, 2)), res(5, 19), {}, insufficient(U, "memory"), id="one resource cpu fits"),
        pytest.param(reqpod(res(5, 1)), res(5, 19), {}, Status(), id="equal edge case"),
        pytest.param(reqpod(res(4, 1), init=[res(5, 1)]), res(5, 19), {}, Status(),
                     id="equal edge case for init container"),
        pytest.param(reqpod({A: "1"}), {}, {}, Status(), id="extended resource fits"),
        pytest.param(reqpod({}, init=[{A: "1"}]), {}, {}, Status(), id="extended resource fits for init container"),
        pytest.param(reqpod(res(1, 1, {A: 10})), res(0, 0, {A: 0}), {},
                     insufficient(UU, A), id="extended resource capacity enforced: more than the node has"),
        pytest.param(reqpod(res(1, 1, {A: 1})), res(0, 0, {A: 5}), {},
                     insufficient(U, A), id="extended resource allocatable enforced"),
        pytest.param(reqpod(res(1, 1, {A: 3}), res(1, 1, {A: 3})),
                     res(0, 0, {A: 2}), {}, insufficient(UU, A),
                     id="extended resource allocatable enforced for multiple containers"),
        pytest.param(reqpod({}, init=[res(1, 1, {A: 3}), res(1, 1, {A: 3})]),
                     res(0, 0, {A: 2}), {}, Status(),
                     id="extended resource allocatable admits multiple init containers"),
        pytest.param(reqpod({}, init=[res(1, 1, {A: 6}), res(1, 1, {A: 3})]),
                     res(0, 0, {A: 2}), {}, insufficient(UU, A),
                     id="extended resource allocatable enforced for multiple init containers"),
        pytest.param(reqpod(res(1, 1, {B: 1})), res(0, 0), {}, insufficient(UU, B),
                     id="extended resource allocatable enforced for unknown resource"),
        pytest.param(reqpod(res(1, 1, {"kubernetes.io/something": 10})), res(0, 0), {}, insufficient(UU, K8S_A),
                     id="kubernetes.io resource capacity enforced"),
        pytest.param(reqpod(res(1, 1, {HUGE: 10})), res(0, 0, {HUGE: 0}), {}, insufficient(UU, HUGE),
                     id="hugepages resource capacity enforced"),
        pytest.param(reqpod(res(1, 1, {HUGE: 3}), res(1, 1, {HUGE: 3})), res(0, 0, {HUGE: 2}),
                     {}, insufficient(UU, HUGE), id="hugepages resource allocatable enforced for multiple containers"),
        pytest.param(reqpod(res(1, 1, {B: 1})), res(0, 0), {"ignoredResources": [B]}, Status(),
                     id="skip checking ignored extended resource"),
        pytest.param(reqpod(res(1, 1), overhead={"cpu": "3m", "memory": "13"}), res(5, 5), {}, Status(),
                     id="resources + pod overhead fits"),
        pytest.param(reqpod(res(1, 1), overhead={"cpu": "1m", "memory": "15"}), res(5, 5), {},
                     insufficient(U, "memory"), id="requests + overhead does not fit for memory"),
        pytest.param(reqpod(res(1, 1, {B: 1, "kubernetes.io/something": 1})), res(0, 0),
                     {"ignoredResourceGroups": ["example.com"]}, insufficient(UU, K8S_A),
                     id="skip checking ignored extended resource via resource groups"),
        pytest.param(reqpod(res(1, 1, {A: 0})), res(0, 0, {A: 6}), {}, Status(),
                     id="skip checking extended resource request with quantity zero"),
        pytest.param(reqpod({A: "1"}), res(20, 30, {A: 1}), {}, Status(),
                     id="skip checking resource request with quantity zero"),
        pytest.param(reqpod({"ephemeral-storage": "25"}), res(2, 2), {}, insufficient(UU, "ephemeral-storage"),
                     id="storage ephemeral local storage request exceeds allocatable"),
        pytest.param(reqpod({"ephemeral-storage": "5"}), res(2, 2, {"ephemeral-storage": 10}), {}, Status(),
                     id="ephemeral local storage is sufficient"),
    ],
)  # fmt: skip
def test_fit_filter(incoming, used, args, want):
    existing = (
        reqpod(used, node_name="n", name="existing") if used else pod("existing", node_name="n")
    )
    _, got = run_filter(
        NodeResourcesFit(args), incoming, [node("n", allocatable=ALLOC)], [existing]
    )
    assert got["n"] == want


@pytest.mark.parametrize(
    ("incoming", "existing"),
    [
        pytest.param(
            pod(containers=[]), res(10, 20), id="even without requests, no room for another pod"
        ),
        pytest.param(reqpod(res(1, 1)), res(5, 5), id="even if both resources fit"),
        pytest.param(
            reqpod(res(5, 1), init=[res(5, 1)]), res(5, 19), id="even for the equal edge case"
        ),
    ],
)
def test_too_many_pods(incoming, existing):
    one_pod = {"cpu": "10m", "memory": "20", "pods": "1"}
    _, got = run_filter(NodeResourcesFit(), incoming, [node("n", allocatable=one_pod)],
                        [reqpod(existing, node_name="n", name="existing")])  # fmt: skip
    assert got["n"] == Status(U, "Too many pods")


# TestFitScore: nodes of 4000 and 6000 cores with 10000 bytes; the existing pods request
# 2000/4000 and 1000/2000; the requested pod 3000/5000 (ratio) or 1000/2000.
FIT_NODES = [node("node1", allocatable={"cpu": "4000", "memory": "10000"}),
             node("node2", allocatable={"cpu": "6000", "memory": "10000"})]  # fmt: skip
FIT_PODS = [reqpod({"cpu": "2000", "memory": "4000"}, node_name="node1", name="e1"),
            reqpod({"cpu": "1000", "memory": "2000"}, node_name="node2", name="e2")]  # fmt: skip


def strategy(kind, shape=None):
    s = {"type": kind, "resources": [{"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1}]}
    if shape:
        s["requestedToCapacityRatio"] = {
            "shape": [{"utilization": u, "score": sc} for u, sc in shape]
        }
    return {"scoringStrategy": s}


@pytest.mark.parametrize(
    ("args", "requests", "want"),
    [
        pytest.param(strategy("RequestedToCapacityRatio", [(0, 10), (100, 0)]), ("3000", "5000"), [10, 32],
                     id="RequestedToCapacityRatio case1"),
        pytest.param(strategy("RequestedToCapacityRatio", [(0, 0), (100, 10)]), ("3000", "5000"), [95, 68],
                     id="RequestedToCapacityRatio case2"),
        pytest.param(strategy("MostAllocated"), ("1000", "2000"), [67, 36], id="MostAllocated"),
        pytest.param(strategy("LeastAllocated"), ("1000", "2000"), [32, 63], id="LeastAllocated"),
    ],
)  # fmt: skip
def test_fit_score(args, requests, want):
    incoming = reqpod({"cpu": requests[0], "memory": requests[1]})
    assert list(run_score(NodeResourcesFit(args), incoming, FIT_NODES, FIT_PODS).values()) == want


SMALL = {"cpu": "250m", "memory": "1000Mi"}


@pytest.mark.parametrize(
    ("args", "incoming", "existing", "want"),
    [
        # MostAllocated with two request-less pods already there: cpu min(300, 250) of 250 = 100,
        # memory 600Mi of 1000Mi = 60 -> 80 (upstream's "nothing requested, default requests").
        pytest.param(strategy("MostAllocated"), pod(), [pod("a", node_name="n"), pod("b", node_name="n")], 80,
                     id="MostAllocated clips the defaulted requests to capacity"),
        # LeastAllocated: cpu 300m > 250m -> 0; memory (1000 - 600)/1000 -> 40 -> 20.
        pytest.param({}, pod(), [pod("a", node_name="n"), pod("b", node_name="n")], 20,
                     id="LeastAllocated scores an over-requested resource 0"),
        pytest.param({}, reqpod({"cpu": "0", "memory": "0"}), [], 100, id="explicit zeros are not defaulted"),
        pytest.param({}, pod(containers=[]), [], 100, id="a pod without containers requests nothing"),
        # The GPU is not scored when the pod does not ask for one: cpu 60, memory 80 -> 70.
        pytest.param({"scoringStrategy": {"type": "LeastAllocated", "resources": [
            {"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1}, {"name": "nvidia.com/gpu", "weight": 3}]}},
                     reqpod({"cpu": "100m", "memory": "200Mi"}), [], 70, id="an unrequested extended resource is skipped"),
        # With a GPU request: (60 + 80 + 3 * 50) / 5 = 58.
        pytest.param({"scoringStrategy": {"type": "LeastAllocated", "resources": [
            {"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1}, {"name": "nvidia.com/gpu", "weight": 3}]}},
                     reqpod({"cpu": "100m", "memory": "200Mi", "nvidia.com/gpu": "1"}), [], 58,
                     id="a requested extended resource is weighed"),
    ],
)  # fmt: skip
def test_fit_score_defaults_and_scalars(args, incoming, existing, want):
    alloc = {**SMALL, "nvidia.com/gpu": "2", "pods": "110"}
    got = run_score(NodeResourcesFit(args), incoming, [node("n", allocatable=alloc)], existing)
    assert got["n"] == want


# balanced_allocation_test.go's pods: cpuOnly 1000m+2000m, cpuAndMemory 1000m/2000 + 2000m/3000.
CPU_ONLY = [{"cpu": "1000m", "memory": "0"}, {"cpu": "2000m", "memory": "0"}]
CPU_AND_MEMORY = [{"cpu": "1000m", "memory": "2000"}, {"cpu": "2000m", "memory": "3000"}]


@pytest.mark.parametrize(
    ("incoming", "sizes", "existing", "want"),
    [
        # 3000/4000 = 0.75 and 5000/10000 = 0.5: std 0.125 -> 87; 0.5 and 0.5 -> 100.
        pytest.param(CPU_AND_MEMORY, [(4000, 10000), (6000, 10000)], [], [87, 100],
                     id="nothing scheduled, resources requested, differently sized machines"),
        # node1: 0.6 and 0.25 -> 82; node2: 0.6 and 0.5 -> 95.
        pytest.param(CPU_AND_MEMORY, [(10000, 20000), (10000, 20000)], [(CPU_ONLY, 0), (CPU_AND_MEMORY, 1)],
                     [82, 95], id="resources requested, pods scheduled with resources"),
        # node2: 0.6 and 0.2 -> 80.
        pytest.param(CPU_AND_MEMORY, [(10000, 20000), (10000, 50000)], [(CPU_ONLY, 0), (CPU_AND_MEMORY, 1)],
                     [82, 80], id="differently sized machines"),
        # cpu 6000/4000 is capped at 1: node1 1 and 0 -> 50; node2 1 and 0.5 -> 75.
        pytest.param(CPU_ONLY, [(4000, 10000), (4000, 10000)], [(CPU_ONLY, 0), (CPU_AND_MEMORY, 1)],
                     [50, 75], id="requested resources exceed node capacity"),
        pytest.param(CPU_ONLY, [(0, 0), (0, 0)], [], [100, 100], id="zero node resources"),
    ],
)  # fmt: skip
def test_balanced_allocation(incoming, sizes, existing, want):
    nodes = [
        node(f"node{i}", allocatable={"cpu": f"{c}m", "memory": str(m)})
        for i, (c, m) in enumerate(sizes)
    ]
    pods = [
        reqpod(*reqs, node_name=f"node{i}", name=f"e{k}") for k, (reqs, i) in enumerate(existing)
    ]
    got = run_score(NodeResourcesBalancedAllocation(), reqpod(*incoming), nodes, pods)
    assert list(got.values()) == want


def test_balanced_allocation_skips_best_effort_pods_and_scores_three_resources():
    nodes = [node("n", allocatable={"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": "4"})]
    assert run_score(NodeResourcesBalancedAllocation(), pod(), nodes) == Status(Code.Skip)
    args = {"resources": [{"name": "cpu"}, {"name": "memory"}, {"name": "nvidia.com/gpu"}]}
    incoming = reqpod({"cpu": "500m", "memory": "256Mi", "nvidia.com/gpu": "1"})
    # fractions 0.5, 0.25, 0.25: mean 1/3, std 0.1179 -> 88
    assert run_score(NodeResourcesBalancedAllocation(args), incoming, nodes)["n"] == 88


X = "abc.com/xyz"
WITH_X = [{"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1}, {"name": X, "weight": 1}]


def sized(*sizes):
    return [node(f"node{i + 1}", allocatable=s) for i, s in enumerate(sizes)]


def on(node_name, requests):
    return reqpod(requests, node_name=node_name, name=f"e-{node_name}-{id(requests)}")


# least_allocated_test.go (cpu counts are cores, memory bytes; st.MakePod() has no container).
@pytest.mark.parametrize(
    ("incoming", "nodes", "existing", "resources", "want"),
    [
        pytest.param(pod(containers=[]), sized({"cpu": "4000", "memory": "10000"}, {"cpu": "4000", "memory": "10000"}),
                     [], None, [100, 100], id="nothing scheduled, nothing requested"),
        pytest.param(reqpod({"cpu": "1000", "memory": "2000"}, {"cpu": "2000", "memory": "3000"}),
                     sized({"cpu": "4000", "memory": "10000"}, {"cpu": "6000", "memory": "10000"}), [], None, [37, 50],
                     id="nothing scheduled, resources requested, differently sized nodes"),
        pytest.param(pod(containers=[]), sized({"cpu": "10000", "memory": "20000"}, {"cpu": "10000", "memory": "20000"}),
                     [on("node1", {"cpu": "3000", "memory": "0"}), on("node1", {"cpu": "3000", "memory": "0"}),
                      on("node2", {"cpu": "3000", "memory": "0"}), on("node2", {"cpu": "3000", "memory": "5000"})],
                     None, [70, 57], id="no resources requested, pods scheduled with resources"),
        pytest.param(reqpod({"cpu": "1000", "memory": "2000"}, {"cpu": "2000", "memory": "3000"}),
                     sized({"cpu": "10000", "memory": "20000"}, {"cpu": "10000", "memory": "50000"}),
                     [on("node1", {"cpu": "3000", "memory": "0"}), on("node2", {"cpu": "3000", "memory": "5000"})],
                     None, [57, 60], id="resources requested, pods scheduled with resources, differently sized nodes"),
        pytest.param(reqpod({"cpu": "3000", "memory": "0"}), sized({"cpu": "4000", "memory": "10000"}, {"cpu": "4000", "memory": "10000"}),
                     [on("node1", {"cpu": "3000", "memory": "0"}), on("node2", {"cpu": "3000", "memory": "5000"})],
                     None, [50, 25], id="requested resources exceed node capacity"),
        pytest.param(pod(containers=[]), sized({}, {}),
                     [on("node1", {"cpu": "3000", "memory": "0"}), on("node2", {"cpu": "3000", "memory": "5000"})],
                     None, [0, 0], id="zero node resources, pods scheduled with resources"),
        pytest.param(reqpod({"cpu": "1000", "memory": "2000"}, {"cpu": "2000", "memory": "3000"}),
                     sized({"cpu": "4000", "memory": "10000"}, {"cpu": "6000", "memory": "10000"}), [],
                     [{"name": "memory", "weight": 2}, {"name": "cpu", "weight": 1}], [41, 50],
                     id="different weights on cpu and memory"),
        pytest.param(reqpod({"cpu": "1000", "memory": "2000"}, {"cpu": "2000", "memory": "3000"}),
                     sized({"cpu": "6000", "memory": "10000"}, {"cpu": "6000", "memory": "10000", X: "4"}), [],
                     WITH_X, [50, 50], id="bypass extended resource if the pod does not request"),
        pytest.param(reqpod({"cpu": "3000", "memory": "5000", X: "2"}),
                     sized({"cpu": "6000", "memory": "10000", X: "4"}, {"cpu": "6000", "memory": "10000", X: "10"}), [],
                     WITH_X, [50, 60], id="honor extended resource if the pod requests"),
        pytest.param(reqpod({"cpu": "3000", "memory": "4000"}),
                     sized({"cpu": "6000", "memory": "10000"}, {"cpu": "6000", "memory": "10000", X: "4"}), [],
                     [{"name": X, "weight": 2}, {"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1}],
                     [55, 55], id="if the node doesn't have a resource"),
    ],
)  # fmt: skip
def test_least_allocated(incoming, nodes, existing, resources, want):
    args = (
        {"scoringStrategy": {"type": "LeastAllocated", "resources": resources}} if resources else {}
    )
    assert list(run_score(NodeResourcesFit(args), incoming, nodes, existing).values()) == want
