"""Chapter 13's experiment and exercises: one node dies and its pods overload the rest.

`incident()` is the experiment the chapter runs: six 4 GiB nodes run `web-app` (20 replicas) and
a background `batch` Deployment (4 replicas), every pod using 900 MiB; node-1 powers off and the
cluster is left to itself (node lifecycle, taint eviction, ReplicaSets, the scheduler and each
kubelet's eviction manager), sampled every 10 s. Its switches are the article's fixes: resource
requests, a PriorityClass for web-app, and a PodDisruptionBudget.

The exercises' answers come from the library: the kubelet's ranking under memory pressure
(kube_teach.kubelet.eviction_rank) and the disruption controller's arithmetic
(kube_teach.controllers.disruption).
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .check import register
from .exercises import _call, _graded

USAGE = "900Mi"  # what every pod really uses
NODES = 6  # 4 GiB each, four pods of USAGE fit on one
WEB = 4 * NODES - 4  # web-app replicas; batch has 4
PRIORITY_CLASS = """
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata:
  name: high-priority
value: 1000
globalDefault: false
description: "High priority for production apps"
"""
PDB = """
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: web-app-pdb
spec:
  minAvailable: 80%
  selector:
    matchLabels:
      app: web-app
"""


def deployment(
    name: str, replicas: int, requests: str | None = None, priority_class: str | None = None
) -> dict[str, Any]:
    """A Deployment whose pods each use USAGE of memory and 200m CPU; `requests` is the
    memory they request (with 250m CPU, as the article's fix), None for none at all."""
    container: dict[str, Any] = {"name": "app", "image": "nginx:1.27"}
    if requests:
        container["resources"] = {"requests": {"memory": requests, "cpu": "250m"}}
    pod_spec: dict[str, Any] = {"containers": [container]}
    if priority_class:
        pod_spec["priorityClassName"] = priority_class
    workload = json.dumps({"memory": USAGE, "cpu": "200m"})
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {
                    "labels": {"app": name},
                    "annotations": {"kube-teach.io/workload": workload},
                },
                "spec": pod_spec,
            },
        },
    }


@dataclass
class Line:
    """A sampled series (times in seconds since the node failed), as viz.timeline plots it."""

    times: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)


@dataclass
class Incident:
    """One run: the cluster, when node-1 failed, and what was sampled every 10 s after."""

    cluster: Any
    failed_at: float
    web: Line
    batch: Line
    pressure: Line

    def since(self, **where: Any) -> list[Any]:
        """Trace events after the failure (times relative to it)."""
        return [e for e in self.cluster.trace.where(since=self.failed_at, **where)]

    @property
    def kubelet_evictions(self) -> int:
        return len(self.since(event="pod-evicted"))

    def summary(self) -> str:
        w, b = self.web.values, self.batch.values
        return (
            f"web-app ready: {w[0]:.0f} at the failure, lowest {min(w):.0f}, {w[-1]:.0f} at the "
            f"end; batch ready: {b[0]:.0f} -> {b[-1]:.0f}; kubelet evictions: "
            f"{self.kubelet_evictions}; most nodes under MemoryPressure at once: "
            f"{max(self.pressure.values):.0f}"
        )

    def __repr__(self) -> str:
        return self.summary()

    def lines(self) -> dict[str, Line]:
        """The sampled series by label, for kube_teach.viz.timeline."""
        return {"web-app ready": self.web, "batch ready": self.batch,
                "nodes with MemoryPressure": self.pressure}  # fmt: skip


def _ready_pods(cluster: Any, app: str) -> int:
    n = 0
    for pod in cluster.list("pods"):
        meta, status = pod["metadata"], pod.get("status") or {}
        node = (pod.get("spec") or {}).get("nodeName")
        if (meta.get("labels") or {}).get("app") != app or meta.get("deletionTimestamp"):
            continue
        if not node or node not in cluster.nodes or not cluster.nodes[node].up:
            continue  # a dead node's pods still say Ready until someone notices
        conditions = status.get("conditions") or []
        if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
            n += 1
    return n


def _under_pressure(cluster: Any) -> int:
    n = 0
    for node in cluster.list("nodes"):
        conditions = (node.get("status") or {}).get("conditions") or []
        n += any(c["type"] == "MemoryPressure" and c["status"] == "True" for c in conditions)
    return n


def incident(
    requests: str | None = None,
    *,
    priority: bool = False,
    pdb: bool = False,
    minutes: float = 7,
    seed: int = 0,
) -> Incident:
    """Build the cluster, let it settle for 60 s, power off node-1 and sample for `minutes`.
    `requests`: each pod's memory request (None: none); `priority`: web-app runs with the
    article's `high-priority` PriorityClass; `pdb`: the article's PodDisruptionBudget."""
    from ..cluster import Cluster

    if minutes <= 0:
        raise ValueError("minutes must be positive")
    cluster = Cluster(nodes=NODES, seed=seed, node_memory="4Gi", node_cpu="4", etcd_members=1)
    if priority:
        cluster.apply(PRIORITY_CLASS)
    if pdb:
        cluster.apply(PDB)
    cluster.apply(deployment("web-app", WEB, requests, "high-priority" if priority else None))
    cluster.apply(deployment("batch", 4, requests))
    cluster.run(seconds=60)
    run = Incident(cluster, cluster.now, Line(), Line(), Line())
    cluster.nodes["node-1"].fail()
    for i in range(int(minutes * 6) + 1):
        if i:
            cluster.run(seconds=10)
        t = cluster.now - run.failed_at
        for line, value in (
            (run.web, _ready_pods(cluster, "web-app")),
            (run.batch, _ready_pods(cluster, "batch")),
            (run.pressure, _under_pressure(cluster)),
        ):
            line.times.append(round(t, 3))
            line.values.append(value)
    return run


# -- exercise 1: whom does the kubelet evict first? -----------------------------------------------

MiB = 1024 * 1024


@dataclass(frozen=True)
class PodInfo:
    """What the eviction manager weighs: priority, memory request and memory in use (MiB)."""

    name: str
    priority: int
    request_mib: int
    usage_mib: int


def kubelet_order(pods: list[PodInfo]) -> list[str]:
    """The names in the order the kubelet's eviction manager evicts under memory pressure."""
    from ..kubelet.eviction_rank import rank_memory_pressure

    objs, stats = [], {}
    for p in pods:
        container: dict[str, Any] = {"name": "app", "image": "nginx:1.27"}
        if p.request_mib:
            container["resources"] = {"requests": {"memory": f"{p.request_mib}Mi"}}
        objs.append({"metadata": {"name": p.name, "namespace": "default"},
                     "spec": {"priority": p.priority, "containers": [container]}})  # fmt: skip
        stats[f"default/{p.name}"] = {"memory": {"workingSetBytes": p.usage_mib * MiB}}
    return [o["metadata"]["name"] for o in rank_memory_pressure(objs, stats)]


NODE_3 = [
    PodInfo("web-app-1", 1000, 256, 900),
    PodInfo("web-app-2", 1000, 900, 900),
    PodInfo("batch-1", 0, 0, 700),
    PodInfo("batch-2", 0, 900, 800),
    PodInfo("cache", 0, 512, 1400),
]


def _order_cases() -> list[list[PodInfo]]:
    rng = random.Random("13-eviction-order")
    cases = [NODE_3]
    for _ in range(30):
        cases.append([
            PodInfo(f"pod-{i}", rng.choice((0, 0, 1000, 2000)), rng.choice((0, 256, 512, 900)),
                    rng.choice((100, 300, 512, 900, 1200)))
            for i in range(rng.randint(2, 6))
        ])  # fmt: skip
    return cases


@register(
    "13-eviction-order",
    hint="replace `raise NotImplementedError` in eviction_order: first pods using more memory "
    "than they request, then lower priority first, then the larger use above the request.",
)
@_graded
def eviction_order_exercise(eviction_order: Any) -> str | None:
    """`eviction_order(pods: list[PodInfo]) -> list[str]`: names, first evicted first."""
    if not callable(eviction_order):
        return f"pass the function itself: check('13-eviction-order', eviction_order), not {eviction_order!r}."
    for pods in _order_cases():
        want = kubelet_order(pods)
        label = f"eviction_order([{', '.join(map(repr, pods))}])"
        got = _call(eviction_order, label, list(pods))
        if not isinstance(got, list | tuple) or sorted(map(str, got)) != sorted(want):
            return f"{label} returned {got!r}; return every pod's name once, in eviction order."
        if list(got) != want:
            return f"{label} returned {list(got)}, but the kubelet evicts in the order {want}."
    return None


# -- exercise 2: how many disruptions does a budget allow? ----------------------------------------


def budget_allows(min_available: int | str, replicas: int, healthy: int) -> int:
    """status.disruptionsAllowed of a PDB with this minAvailable over `replicas` pods of one
    controller, `healthy` of them Ready, as the disruption controller computes it."""
    from ..controllers.disruption import disruptions_allowed

    pdb = {"metadata": {"name": "pdb", "namespace": "default"},
           "spec": {"minAvailable": min_available, "selector": {"matchLabels": {"app": "a"}}}}  # fmt: skip
    pods = [
        {"metadata": {"name": f"a-{i}", "namespace": "default", "labels": {"app": "a"}},
         "status": {"conditions": [{"type": "Ready", "status": "True" if i < healthy else "False"}]}}
        for i in range(replicas)
    ]  # fmt: skip
    return int(disruptions_allowed(pdb, pods, expected_count=replicas))


BUDGET_CASES: list[tuple[int | str, int, int]] = [
    ("80%", 20, 20), ("80%", 20, 17), ("80%", 20, 16), ("80%", 20, 15), ("80%", 3, 3),
    ("80%", 7, 7), ("50%", 5, 5), ("50%", 1, 1), ("100%", 4, 4), ("0%", 4, 2), (2, 5, 5),
    (2, 5, 2), (0, 3, 3), (5, 3, 3), ("80%", 40, 40), ("80%", 2000, 1960),
]  # fmt: skip


@register(
    "13-disruptions-allowed",
    hint="replace `raise NotImplementedError` in disruptions_allowed: desired healthy is "
    "minAvailable, or a percentage of the replicas rounded up; allowed is healthy minus desired, "
    "never below 0.",
)
@_graded
def disruptions_allowed_exercise(allowed: Any) -> str | None:
    """`allowed(min_available, replicas, healthy) -> int`, as status.disruptionsAllowed."""
    if not callable(allowed):
        return f"pass the function itself: check('13-disruptions-allowed', disruptions_allowed), not {allowed!r}."
    for min_available, replicas, healthy in BUDGET_CASES:
        want = budget_allows(min_available, replicas, healthy)
        label = f"disruptions_allowed({min_available!r}, replicas={replicas}, healthy={healthy})"
        got = _call(allowed, label, min_available, replicas, healthy)
        if isinstance(got, bool) or not isinstance(got, int):
            return f"{label} returned {got!r}; return a whole number."
        if got != want:
            return f"{label} returned {got}, but the disruption controller allows {want}."
    return None


def describe_budget(status: Mapping[str, Any]) -> str:
    """One line from a PDB's status, as `kubectl get pdb` shows the important fields."""
    return (
        f"currentHealthy {status.get('currentHealthy')}, desiredHealthy "
        f"{status.get('desiredHealthy')}, expectedPods {status.get('expectedPods')}, "
        f"disruptionsAllowed {status.get('disruptionsAllowed')}"
    )
