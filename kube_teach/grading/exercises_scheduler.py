"""Chapter 04's exercises: a GPU Filter plugin and a GPU Score plugin written with the
custom-plugin API, predicting the chosen node from a score table, and a spread constraint
that fixes the uneven placement of a scale-up burst.

The right answers come from the library: the plugins are run by the scheduler framework
(`evaluate` with the learner's classes), and placements by `place`, so the exercises cannot
drift from the scheduler the chapter runs. The chapter's example clusters are built here too.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from ..scheduler import Code, CycleState, NodeInfo, PodInfo, Snapshot, Status, evaluate
from ..scheduler.explorer import place
from .check import register
from .exercises import _call, _Failed, _graded

GPU = "nvidia.com/gpu"
GPU_FAMILY = "nvidia.com/gpu.family"  # the node label GPU feature discovery sets
POD_GPU_FAMILY = "gpu-family"  # the pod label naming the family a pod needs
INSUFFICIENT_GPU = "insufficient GPU"
GPU_TYPE_MISMATCH = "GPU type mismatch"
HOSTNAME = "kubernetes.io/hostname"


# -- building blocks ----------------------------------------------------------------------------
def make_node(
    name: str,
    cpu: str = "4",
    memory: str = "16Gi",
    *,
    labels: Mapping[str, str] | None = None,
    gpus: int = 0,
    taints: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """A Ready node with `cpu`, `memory`, 110 pods and `gpus` nvidia.com/gpu allocatable."""
    alloc = {"cpu": cpu, "memory": memory, "pods": "110"}
    if gpus:
        alloc[GPU] = str(gpus)
    node = {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {HOSTNAME: name, **(labels or {})}},
            "spec": {"taints": [dict(t) for t in taints]} if taints else {},
            "status": {"capacity": dict(alloc), "allocatable": dict(alloc)}}  # fmt: skip
    return node


def make_pod(
    name: str,
    cpu: str = "100m",
    memory: str = "128Mi",
    *,
    labels: Mapping[str, str] | None = None,
    node: str | None = None,
    gpus: int = 0,
    priority: int | None = None,
    **spec: Any,
) -> dict[str, Any]:
    """A pod with one container requesting `cpu`, `memory` and `gpus`; bound to `node` if given;
    other keyword arguments are spec fields (nodeSelector=..., affinity=...)."""
    requests = {"cpu": cpu, "memory": memory}
    if gpus:
        requests[GPU] = str(gpus)
    container = {"name": "app", "image": f"{name.rsplit('-', 1)[0]}:v1",
                 "resources": {"requests": requests}}  # fmt: skip
    pod: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod",
                           "metadata": {"name": name, "namespace": "default",
                                        "uid": f"uid-{name}", "labels": dict(labels or {})},
                           "spec": {"containers": [container], **spec}}  # fmt: skip
    if node:
        pod["spec"]["nodeName"] = node
    if priority is not None:
        pod["spec"]["priority"] = priority
    return pod


def gpu_pods_nodes() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The GPU exercises' cluster: (running pods, nodes). gpu-1 has 4 Ampere GPUs with 3 in
    use, gpu-2 4 Ampere GPUs all free, gpu-3 2 Hopper GPUs with 1 in use, cpu-1 none."""
    nodes = [
        make_node("gpu-1", "16", "64Gi", gpus=4, labels={GPU_FAMILY: "ampere"}),
        make_node("gpu-2", "16", "64Gi", gpus=4, labels={GPU_FAMILY: "ampere"}),
        make_node("gpu-3", "16", "64Gi", gpus=2, labels={GPU_FAMILY: "hopper"}),
        make_node("cpu-1", "16", "64Gi"),
    ]
    pods = [
        make_pod("train-a", "2", "8Gi", gpus=3, node="gpu-1"),
        make_pod("train-b", "2", "8Gi", gpus=1, node="gpu-3"),
    ]
    return pods, nodes


# -- the reference plugins (what the learner's must agree with) -------------------------------
def _free_gpus(node: NodeInfo) -> int:
    return node.allocatable.scalar.get(GPU, 0) - node.requested.scalar.get(GPU, 0)


def _ref_filter(pod: PodInfo, node: NodeInfo) -> Status:
    need = pod.requests.scalar.get(GPU, 0)
    if need == 0:
        return Status()
    if _free_gpus(node) < need:
        return Status(Code.Unschedulable, INSUFFICIENT_GPU)
    family = pod.labels.get(POD_GPU_FAMILY)
    if family and family != node.labels.get(GPU_FAMILY):
        return Status(Code.Unschedulable, GPU_TYPE_MISMATCH)
    return Status()


def _ref_score(node: NodeInfo) -> int:
    total = node.allocatable.scalar.get(GPU, 0)
    return 100 * _free_gpus(node) // total if total else 0


def _instance(cls: Any, label: str) -> Any:
    if not isinstance(cls, type):
        return f"pass the class itself: check('{label}', GPUFilter), not {cls!r}."
    if not isinstance(getattr(cls, "name", None), str):
        return f"give {cls.__name__} a class attribute `name` (a string): the plugin's name."
    try:
        return cls()
    except NotImplementedError:
        raise
    except Exception as err:
        return f"{cls.__name__}() raised {type(err).__name__}: {err}"


_FILTER_PODS = [
    (make_pod("web"), "a pod without GPUs fits every node"),
    (make_pod("infer", gpus=1), "1 GPU"),
    (make_pod("train", gpus=2), "2 GPUs: gpu-1 has only 1 free"),
    (make_pod("big", gpus=4), "4 GPUs"),
    (make_pod("llm", gpus=1, labels={POD_GPU_FAMILY: "hopper"}), "1 Hopper GPU"),
    (make_pod("vision", gpus=2, labels={POD_GPU_FAMILY: "ampere"}), "2 Ampere GPUs"),
]


@register(
    "04-gpu-filter",
    hint="replace `raise NotImplementedError` in GPUFilter.filter: no GPU requested -> "
    "Status(); fewer free GPUs than requested -> Status(Code.Unschedulable, 'insufficient "
    "GPU'); a pod's gpu-family label that differs from the node's -> 'GPU type mismatch'.",
)
@_graded
def gpu_filter_exercise(cls: Any) -> str | None:
    """A plugin class whose `filter(state, pod, node) -> Status` keeps GPU pods off nodes
    without enough free GPUs or of another GPU family; run by the framework in `evaluate`."""
    plugin = _instance(cls, "04-gpu-filter")
    if isinstance(plugin, str):
        return plugin
    if not callable(getattr(plugin, "filter", None)):
        return f"{cls.__name__} has no filter(self, state, pod, node) method."
    pods, nodes = gpu_pods_nodes()
    snapshot = Snapshot(nodes, pods)
    for pod, why in _FILTER_PODS:
        pi = PodInfo(pod)
        for ni in snapshot.node_infos:
            label = f"filter(pod {pi.name} ({why}), node {ni.name})"
            got = _call(plugin.filter, label, CycleState(snapshot), pi, ni)
            if not isinstance(got, Status):
                return f"{label} returned {got!r}; return a Status."
            want = _ref_filter(pi, ni)
            if got.code != want.code:
                return f"{label} returned code {got.code.name}; want {want.code.name}."
            if want.reasons and got.reasons != want.reasons:
                return f"{label} gave reasons {list(got.reasons)}; want {list(want.reasons)}."
    # The same plugin inside a real scheduling cycle, beside the default plugins.
    profile = {"plugins": {"multiPoint": {"enabled": [{"name": plugin.name}]}}}
    pod = make_pod("vision", gpus=2, labels={POD_GPU_FAMILY: "ampere"})
    try:
        ev = evaluate(pod, nodes, pods, profile, plugins={plugin.name: cls})
    except Exception as err:
        raise _Failed(f"evaluate() with your plugin raised {type(err).__name__}: {err}") from err
    if ev.feasible_nodes != ("gpu-2",):
        return f"in evaluate() the feasible nodes were {list(ev.feasible_nodes)}; want ['gpu-2']."
    return None


@register(
    "04-gpu-score",
    hint="replace `raise NotImplementedError` in GPUScore.score: 100 × free GPUs // "
    "allocatable GPUs (multiply first), 0 for a node without GPUs.",
)
@_graded
def gpu_score_exercise(cls: Any) -> str | None:
    """A plugin class whose `score(state, pod, node) -> int` gives 0-100: the percentage of the
    node's GPUs that are free (integer arithmetic), 0 on nodes without GPUs."""
    plugin = _instance(cls, "04-gpu-score")
    if isinstance(plugin, str):
        return plugin
    if not callable(getattr(plugin, "score", None)):
        return f"{cls.__name__} has no score(self, state, pod, node) method."
    pods, nodes = gpu_pods_nodes()
    snapshot = Snapshot(nodes, pods)
    pod = PodInfo(make_pod("infer", gpus=1))
    for ni in snapshot.node_infos:
        label = f"score(pod infer, node {ni.name})"
        got = _call(plugin.score, label, CycleState(snapshot), pod, ni)
        if isinstance(got, bool) or not isinstance(got, int):
            return f"{label} returned {got!r}; return an int from 0 to 100."
        want = _ref_score(ni)
        if got != want:
            free, total = _free_gpus(ni), ni.allocatable.scalar.get(GPU, 0)
            why = f"{free} of {total} GPUs are free"
            if got == 0 and want not in (0, 100):
                why += ": (free / total) * 100 in integer arithmetic is 0, multiply first"
            return f"{label} returned {got}; want {want} ({why})."
    profile = {"plugins": {"multiPoint": {"enabled": [{"name": plugin.name, "weight": 5}]}}}
    try:
        ev = evaluate(pod.pod, nodes, pods, profile, plugins={plugin.name: cls})
    except Exception as err:
        raise _Failed(f"evaluate() with your plugin raised {type(err).__name__}: {err}") from err
    if ev.selected != "gpu-2":
        return f"with weight 5 in evaluate() the pod went to {ev.selected}; want gpu-2."
    return None


# -- predict the node ---------------------------------------------------------------------------
def prediction_cluster() -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """(pod, nodes, running pods) of the predict-the-node exercise."""
    soft = [{"key": "maintenance", "value": "soon", "effect": "PreferNoSchedule"}]
    nodes = [
        make_node("node-a", labels={"disktype": "hdd"}),
        make_node("node-b", labels={"disktype": "ssd"}, taints=soft),
        make_node("node-c", labels={"disktype": "ssd"}, taints=soft),
    ]
    pods = [
        make_pod("db-0", "3", "8Gi", node="node-c"),
        make_pod("cache-0", "1", "4Gi", node="node-a"),
    ]
    prefer_ssd = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 50, "preference": {"matchExpressions": [
            {"key": "disktype", "operator": "In", "values": ["ssd"]}]}}]}}  # fmt: skip
    pod = make_pod("web-app", "500m", "1Gi", affinity=prefer_ssd)
    return pod, nodes, pods


def score_table() -> str:
    """The prediction exercise's cycle: each plugin's normalized score per node and its weight,
    without the totals or the winner."""
    pod, nodes, pods = prediction_cluster()
    ev = evaluate(pod, nodes, pods)
    plugins = ev.score_plugins
    head = ["node", *(f"{p} (×{ev.scores[ev.feasible_nodes[0]][p].weight})" for p in plugins)]
    rows = [[n, *(str(ev.scores[n][p].normalized) for p in plugins)] for n in ev.feasible_nodes]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    return "\n".join(
        "  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in [head, *rows]
    )


@register(
    "04-predict-node",
    hint="multiply each plugin's normalized score by its weight, add them up per node, and "
    "answer the name of the node with the largest total, e.g. check('04-predict-node', 'node-a').",
)
@_graded
def predict_node_exercise(answer: Any) -> str | None:
    """The name of the node the scheduler picks for the score table's pod."""
    pod, nodes, pods = prediction_cluster()
    ev = evaluate(pod, nodes, pods)
    if not isinstance(answer, str):
        return f"answer with a node name (a string), not {answer!r}."
    if answer not in ev.feasible_nodes:
        return f"{answer!r} is not one of the nodes: {', '.join(ev.feasible_nodes)}."
    if answer != ev.selected:
        plain = {n: sum(ps.normalized for ps in ev.scores[n].values()) for n in ev.feasible_nodes}
        if max(plain, key=plain.__getitem__) == answer:
            return "that node has the largest sum of normalized scores; weigh each plugin first."
        return f"{answer} totals {ev.totals[answer]}; another node scores more."
    return None


# -- the scale-up burst ---------------------------------------------------------------------------
def burst_cluster() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(nodes, running pods) of the Black Friday story: 10 nodes, 7 of them busy (3 of 4 CPUs
    requested by other workloads) and 3 new and empty."""
    nodes = [make_node(f"node-{i:02d}") for i in range(1, 11)]
    pods = [make_pod(f"other-{i:02d}", "3", "12Gi", node=f"node-{i:02d}") for i in range(1, 8)]
    return nodes, pods


def burst_pods(n: int = 30, spread: Sequence[Mapping[str, Any]] | None = None) -> list[dict]:
    """`n` replicas of web-app (250m CPU, 512Mi each), with `spread` as their
    topologySpreadConstraints."""
    extra = {"topologySpreadConstraints": copy.deepcopy(list(spread))} if spread else {}
    return [make_pod(f"web-app-{i:02d}", "250m", "512Mi", labels={"app": "web-app"}, **extra)
            for i in range(n)]  # fmt: skip


def burst_counts(spread: Sequence[Mapping[str, Any]] | None = None) -> dict[str, int]:
    """Where 30 web-app replicas land on the burst cluster: node -> replicas (every node);
    'unschedulable' counts those placed nowhere."""
    nodes, running = burst_cluster()
    placed = place(burst_pods(30, spread), Snapshot(nodes, running))
    counts = {n["metadata"]["name"]: 0 for n in nodes}
    for node in placed.values():
        key = node if node is not None else "unschedulable"
        counts[key] = counts.get(key, 0) + 1
    return counts


@register(
    "04-spread",
    hint="a list with one topologySpreadConstraint: maxSkew 1, topologyKey "
    "kubernetes.io/hostname, whenUnsatisfiable DoNotSchedule, labelSelector matchLabels "
    "app: web-app.",
)
@_graded
def spread_exercise(constraints: Any) -> str | None:
    """topologySpreadConstraints (a list of dicts) that place the 30 replicas of the burst at
    most one apart on every node, all of them scheduled."""
    if isinstance(constraints, Mapping):
        return "topologySpreadConstraints is a list: wrap your constraint in [ ... ]."
    if not isinstance(constraints, list) or not all(isinstance(c, Mapping) for c in constraints):
        return f"answer with a list of constraint dicts, not {constraints!r}."
    try:
        counts = burst_counts(constraints)
    except Exception as err:
        raise _Failed(
            f"scheduling with your constraints raised {type(err).__name__}: {err}"
        ) from err
    stuck = counts.pop("unschedulable", 0)
    if stuck:
        return (
            f"{stuck} replicas could not be scheduled; the first message says why in the chapter."
        )
    if max(counts.values()) - min(counts.values()) > 1:
        return f"replicas per node: {counts}; some nodes still have 2 or more than others."
    return None
