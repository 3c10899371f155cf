"""Chapter 04's exercises: right answers pass, wrong ones get a hint naming the case, stubs say
"not yet", and the graders agree with the scheduler they are built on."""

import pytest

from kube_teach.grading import check
from kube_teach.grading.exercises_scheduler import (
    GPU,
    GPU_FAMILY,
    POD_GPU_FAMILY,
    burst_counts,
    prediction_cluster,
    score_table,
)
from kube_teach.scheduler import Code, Status, evaluate

SPREAD = [
    {
        "maxSkew": 1,
        "topologyKey": "kubernetes.io/hostname",
        "whenUnsatisfiable": "DoNotSchedule",
        "labelSelector": {"matchLabels": {"app": "web-app"}},
    }
]


def free(node):
    return node.allocatable.scalar.get(GPU, 0) - node.requested.scalar.get(GPU, 0)


class GPUFilter:
    name = "GPUFilter"

    def filter(self, state, pod, node):
        need = pod.requests.scalar.get(GPU, 0)
        if need == 0:
            return Status()
        if free(node) < need:
            return Status(Code.Unschedulable, "insufficient GPU")
        family = pod.labels.get(POD_GPU_FAMILY)
        if family and family != node.labels.get(GPU_FAMILY):
            return Status(Code.Unschedulable, "GPU type mismatch")
        return Status()


class IgnoresFamily(GPUFilter):
    def filter(self, state, pod, node):
        need = pod.requests.scalar.get(GPU, 0)
        return Status() if free(node) >= need else Status(Code.Unschedulable, "insufficient GPU")


class CountsAllocatable(GPUFilter):  # forgets the GPUs already in use
    def filter(self, state, pod, node):
        need = pod.requests.scalar.get(GPU, 0)
        if need and node.allocatable.scalar.get(GPU, 0) < need:
            return Status(Code.Unschedulable, "insufficient GPU")
        return Status()


class Resolvable(GPUFilter):
    def filter(self, state, pod, node):
        s = super().filter(state, pod, node)
        return Status(Code.UnschedulableAndUnresolvable, *s.reasons) if s.reasons else s


class Stub:
    name = "GPUFilter"

    def filter(self, state, pod, node):
        raise NotImplementedError

    def score(self, state, pod, node):
        raise NotImplementedError


class GPUScore:
    name = "GPUScore"

    def score(self, state, pod, node):
        total = node.allocatable.scalar.get(GPU, 0)
        return 100 * free(node) // total if total else 0


class DividesFirst(GPUScore):  # the article's (available / total) * 100 with integers
    def score(self, state, pod, node):
        total = node.allocatable.scalar.get(GPU, 0)
        return (free(node) // total) * 100 if total else 0


class Floats(GPUScore):
    def score(self, state, pod, node):
        total = node.allocatable.scalar.get(GPU, 0)
        return 100 * free(node) / total if total else 0


@pytest.mark.parametrize(
    ("answer", "passed", "says"),
    [
        pytest.param(GPUFilter, True, "", id="the reference filter passes"),
        pytest.param(
            IgnoresFamily,
            False,
            "filter(pod llm (1 Hopper GPU), node gpu-1) returned code Success; want Unschedulable.",
            id="the GPU family is ignored",
        ),
        pytest.param(
            CountsAllocatable,
            False,
            "node gpu-1) returned code Success; want Unschedulable",
            id="GPUs in use are not subtracted",
        ),
        pytest.param(
            Resolvable,
            False,
            "returned code UnschedulableAndUnresolvable; want Unschedulable",
            id="the wrong status code",
        ),
        pytest.param(GPUFilter(), False, "pass the class itself", id="an instance"),
        pytest.param(
            Stub,
            False,
            "replace `raise NotImplementedError` in GPUFilter.filter",
            id="the stub says not yet",
        ),
        pytest.param(
            type("NoName", (), {"filter": GPUFilter.filter}),
            False,
            "class attribute `name`",
            id="a plugin without a name",
        ),
    ],
)
def test_gpu_filter(answer, passed, says):
    result = check("04-gpu-filter", answer)
    assert result.passed is passed
    assert says in result.message


@pytest.mark.parametrize(
    ("answer", "passed", "says"),
    [
        pytest.param(GPUScore, True, "", id="the reference score passes"),
        pytest.param(
            DividesFirst,
            False,
            "score(pod infer, node gpu-1) returned 0; want 25 (1 of 4 GPUs are free: "
            "(free / total) * 100 in integer arithmetic is 0, multiply first).",
            id="dividing before multiplying",
        ),
        pytest.param(Floats, False, "returned 25.0; return an int", id="a float"),
        pytest.param(
            Stub,
            False,
            "replace `raise NotImplementedError` in GPUScore.score",
            id="the stub says not yet",
        ),
    ],
)
def test_gpu_score(answer, passed, says):
    result = check("04-gpu-score", answer)
    assert result.passed is passed
    assert says in result.message


def test_the_prediction_needs_the_weights():
    pod, nodes, pods = prediction_cluster()
    ev = evaluate(pod, nodes, pods)
    plain = {n: sum(ps.normalized for ps in ev.scores[n].values()) for n in ev.feasible_nodes}
    assert ev.selected == "node-a" and max(plain, key=plain.get) == "node-b"
    assert "461" not in score_table() and "node-a" in score_table()
    assert check("04-predict-node", "node-a").passed
    assert "weigh each plugin first" in check("04-predict-node", "node-b").message
    assert "node-c totals 311" in check("04-predict-node", "node-c").message
    assert "not one of the nodes" in check("04-predict-node", "node-z").message
    assert check("04-predict-node", ...).message.startswith("multiply each plugin's")


def test_the_burst_lands_on_the_new_nodes_and_the_spread_fixes_it():
    counts = burst_counts()
    assert [counts[f"node-{i:02d}"] for i in range(1, 11)] == [0] * 7 + [10, 10, 10]
    assert set(burst_counts(SPREAD).values()) == {3}
    assert check("04-spread", SPREAD).passed
    loose = [dict(SPREAD[0], maxSkew=5)]
    assert "some nodes still have 2 or more" in check("04-spread", loose).message
    assert "wrap your constraint" in check("04-spread", SPREAD[0]).message
    zone = [dict(SPREAD[0], topologyKey="topology.kubernetes.io/zone")]
    assert "30 replicas could not be scheduled" in check("04-spread", zone).message
