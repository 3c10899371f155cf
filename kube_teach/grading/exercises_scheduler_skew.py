"""Chapter 10's scenario and exercises: an HPA surge that the scheduler piles onto one zone.

The scenario is built from the library's own pieces: a Cluster whose metrics-server reads the
kubelets' runtime model (each web-app pod carries a "request" workload), kube-scheduler with a
configuration that turns PodTopologySpread's system defaults off (no spreading configured, as
in the article's cluster), and a batch job that keeps the older zones busy. The graders place
pods with the scheduler's own `place`, so they cannot drift from what the chapter runs.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from ..scheduler import Snapshot
from ..scheduler.explorer import place
from .check import register
from .exercises import _call, _Failed, _graded
from .exercises_scheduler import make_node, make_pod

ZONE = "topology.kubernetes.io/zone"
HOSTNAME = "kubernetes.io/hostname"
ZONES = ("zone-a", "zone-b", "zone-c")
NEW_ZONE = "zone-c"

#: What each web-app container does under the surge: 20 requests/s at 10m CPU and 15Mi each,
#: on top of 20m and 200Mi at rest (220m CPU, 500Mi of memory; it requests 250m and 256Mi).
SURGE_WORKLOAD = {
    "kind": "request",
    "cpu": "20m",
    "memory": "200Mi",
    "rps": 20,
    "cpuPerRequest": "10m",
    "memoryPerRequest": "15Mi",
}

#: kube-scheduler with no spreading unless a pod asks: PodTopologySpread's system default
#: constraints are replaced by an empty list (defaultingType List).
NO_DEFAULT_SPREAD: dict[str, Any] = {
    "apiVersion": "kubescheduler.config.k8s.io/v1",
    "kind": "KubeSchedulerConfiguration",
    "profiles": [
        {
            "schedulerName": "default-scheduler",
            "pluginConfig": [
                {
                    "name": "PodTopologySpread",
                    "args": {"defaultingType": "List", "defaultConstraints": []},
                }
            ],
        }
    ],
}


def spread_constraints(*keys: str, when: str = "DoNotSchedule") -> list[dict[str, Any]]:
    """One maxSkew-1 constraint per topology key, counting pods labelled app: web-app."""
    return [
        {
            "maxSkew": 1,
            "topologyKey": key,
            "whenUnsatisfiable": when,
            "labelSelector": {"matchLabels": {"app": "web-app"}},
        }
        for key in keys
    ]


def web_app(spread: Sequence[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The web-app Deployment: 3 replicas of 250m CPU and 256Mi, the surge workload, and
    `spread` as its pods' topologySpreadConstraints."""
    pod_spec: dict[str, Any] = {
        "containers": [
            {
                "name": "app",
                "image": "web-app:v1",
                "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}},
            }
        ]
    }
    if spread:
        pod_spec["topologySpreadConstraints"] = copy.deepcopy(list(spread))
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web-app"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web-app"}},
            "template": {
                "metadata": {
                    "labels": {"app": "web-app"},
                    "annotations": {"kube-teach.io/workload": json.dumps(SURGE_WORKLOAD)},
                },
                "spec": pod_spec,
            },
        },
    }


BATCH: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "batch"},
    "spec": {
        "replicas": 7,
        "selector": {"matchLabels": {"app": "batch"}},
        "template": {
            "metadata": {"labels": {"app": "batch"}},
            "spec": {
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {
                                    "matchExpressions": [
                                        {
                                            "key": ZONE,
                                            "operator": "In",
                                            "values": ["zone-a", "zone-b"],
                                        }
                                    ]
                                }
                            ]
                        }
                    }
                },
                "containers": [
                    {
                        "name": "batch",
                        "image": "batch:v1",
                        "resources": {"requests": {"cpu": "2500m", "memory": "2Gi"}},
                    }
                ],
            },
        },
    },
}

HPA: dict[str, Any] = {
    "apiVersion": "autoscaling/v2",
    "kind": "HorizontalPodAutoscaler",
    "metadata": {"name": "web-app"},
    "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web-app"},
        "minReplicas": 3,
        "maxReplicas": 30,
        "metrics": [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 50},
                },
            }
        ],
    },
}


# -- the pure layout the graders use: the chapter's 10 nodes, without a clock ------------------
def layout() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(nodes, running pods) as in the chapter: node-1..node-10 in zones a, b, c, a, ... (4 CPUs,
    4Gi each); every zone-a and zone-b node runs one 2500m batch pod; zone-c is empty."""
    nodes, pods = [], []
    for i in range(1, 11):
        zone = ZONES[(i - 1) % 3]
        nodes.append(make_node(f"node-{i}", "4", "4Gi", labels={ZONE: zone}))
        if zone != NEW_ZONE:
            pods.append(make_pod(f"batch-{i}", "2500m", "2Gi", node=f"node-{i}"))
    return nodes, pods


def surge_placement(spread: Sequence[Mapping[str, Any]] | None, n: int = 30) -> dict[str, Any]:
    """Place `n` web-app replicas one cycle after another on `layout()` with NO_DEFAULT_SPREAD.
    Returns {"zones": zone -> replicas, "nodes": node -> replicas, "unschedulable": count}."""
    nodes, running = layout()
    extra = {"topologySpreadConstraints": copy.deepcopy(list(spread))} if spread else {}
    pods = [
        make_pod(f"web-app-{i:02d}", "250m", "256Mi", labels={"app": "web-app"}, **extra)
        for i in range(n)
    ]
    placed = place(pods, Snapshot(nodes, running), NO_DEFAULT_SPREAD["profiles"][0])
    zone_of = {n["metadata"]["name"]: n["metadata"]["labels"][ZONE] for n in nodes}
    per_node = Counter(node for node in placed.values() if node is not None)
    return {
        "zones": {z: sum(c for node, c in per_node.items() if zone_of[node] == z) for z in ZONES},
        "nodes": {n["metadata"]["name"]: per_node[n["metadata"]["name"]] for n in nodes},
        "unschedulable": sum(node is None for node in placed.values()),
    }


@register(
    "10-zone-spread",
    hint="a list of topologySpreadConstraints: maxSkew 1 over topology.kubernetes.io/zone with "
    "whenUnsatisfiable DoNotSchedule (and, if you like, one over kubernetes.io/hostname), each "
    "with labelSelector matchLabels app: web-app.",
)
@_graded
def zone_spread_exercise(constraints: Any) -> str | None:
    """Constraints that keep the 30 replicas at most one apart across the three zones, all
    scheduled, on the chapter's layout (zone-a has 4 nodes, zone-b and zone-c 3)."""
    if isinstance(constraints, Mapping):
        return "topologySpreadConstraints is a list: wrap your constraints in [ ... ]."
    if not isinstance(constraints, list) or not all(isinstance(c, Mapping) for c in constraints):
        return f"answer with a list of constraint dicts, not {constraints!r}."
    try:
        got = surge_placement(constraints)
    except Exception as err:
        raise _Failed(
            f"scheduling with your constraints raised {type(err).__name__}: {err}"
        ) from err
    zones = got["zones"]
    if got["unschedulable"]:
        return (
            f"{got['unschedulable']} of 30 replicas found no node. DoNotSchedule constraints must "
            "all hold at once: zone-a has 4 nodes, the others 3, so 10 pods a zone cannot also be "
            "one apart on every node. Keep the zone constraint hard and make the node one "
            "ScheduleAnyway (or drop it)."
        )
    if max(zones.values()) - min(zones.values()) > 1:
        spread = ", ".join(f"{z} {n}" for z, n in zones.items())
        return (
            f"the replicas landed {spread}: more than one apart. Spreading over nodes is not "
            "spreading over zones when zones have different numbers of nodes; and "
            "ScheduleAnyway is only a score that free resources can outvote."
        )
    return None


def skew_allows(counts: Mapping[str, int], domain: str, max_skew: int) -> bool:
    """PodTopologySpread's DoNotSchedule rule for one constraint: a pod may go to `domain` when
    the matching pods there, plus itself, exceed the emptiest domain by at most `max_skew`."""
    return counts[domain] + 1 - min(counts.values()) <= max_skew


_SKEW_CASES: list[tuple[dict[str, int], str, int]] = [
    ({"zone-a": 0, "zone-b": 0, "zone-c": 0}, "zone-c", 1),
    ({"zone-a": 0, "zone-b": 0, "zone-c": 1}, "zone-c", 1),
    ({"zone-a": 1, "zone-b": 1, "zone-c": 1}, "zone-a", 1),
    ({"zone-a": 2, "zone-b": 1, "zone-c": 1}, "zone-b", 1),
    ({"zone-a": 2, "zone-b": 1, "zone-c": 1}, "zone-a", 1),
    ({"zone-a": 0, "zone-b": 3, "zone-c": 27}, "zone-c", 1),
    ({"zone-a": 0, "zone-b": 3, "zone-c": 27}, "zone-a", 1),
    ({"zone-a": 4, "zone-b": 2, "zone-c": 5}, "zone-c", 3),
    ({"zone-a": 4, "zone-b": 2, "zone-c": 5}, "zone-c", 4),
    ({"zone-a": 4, "zone-b": 2, "zone-c": 5}, "zone-a", 2),
    ({"node-1": 3, "node-2": 3}, "node-2", 1),
    ({"node-1": 9}, "node-1", 1),
]


@register(
    "10-skew-filter",
    hint="replace `raise NotImplementedError` in allows: count the domain's matching pods plus "
    "the new one, subtract the count of the emptiest domain, compare with max_skew.",
)
@_graded
def skew_filter_exercise(allows: Any) -> str | None:
    """`allows(counts, domain, max_skew) -> bool`: the DoNotSchedule filter for one constraint."""
    if not callable(allows):
        return f"pass the function itself: check('10-skew-filter', allows), not {allows!r}."
    for counts, domain, max_skew in _SKEW_CASES:
        label = f"allows({counts}, {domain!r}, {max_skew})"
        got = _call(allows, label, dict(counts), domain, max_skew)
        if not isinstance(got, bool):
            return f"{label} returned {got!r}; return True or False."
        want = skew_allows(counts, domain, max_skew)
        if got != want:
            low = min(counts.values())
            return (
                f"{label} returned {got}: with the pod, {domain} would have {counts[domain] + 1} "
                f"against {low} in the emptiest domain, a skew of {counts[domain] + 1 - low}."
            )
    return None


__all__ = [
    "BATCH",
    "HPA",
    "NO_DEFAULT_SPREAD",
    "SURGE_WORKLOAD",
    "layout",
    "skew_allows",
    "spread_constraints",
    "surge_placement",
    "web_app",
]
