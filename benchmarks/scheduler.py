"""How fast the scheduler core places pods: an evaluate()-based placement loop over one Snapshot.

    python benchmarks/scheduler.py            # full sizes, as recorded in benchmarks/README.md
    python benchmarks/scheduler.py --quick    # a smoke run

Workloads follow scheduler_perf's misc/performance-config.yaml: SchedulingBasic
(5000Nodes_10000Pods: 5,000 nodes of 4 cpu / 32Gi / 110 pods, 1,000 initial pods, then 10,000
measured pods of 100m / 500Mi with containerPort 80), and a variant whose pods carry required
hostname anti-affinity within a group and a zone topology spread constraint (DoNotSchedule,
maxSkew 1) over 50 zones. The full default profile runs. Wall-clock time and memory are read
here, at the edge, never inside the library.
"""

from __future__ import annotations

import argparse
import platform
import random
import resource
import sys
import time
import tracemalloc

from kube_teach.scheduler import DEFAULT_PROFILE, Snapshot, evaluate


def make_nodes(n: int, zones: int = 0) -> list[dict]:
    """scheduler_perf's node-default.yaml: capacity cpu 4, memory 32Gi, pods 110."""
    nodes = []
    for i in range(n):
        name = f"node-{i:05d}"
        labels = {"kubernetes.io/hostname": name}
        if zones:
            labels["topology.kubernetes.io/zone"] = f"zone-{i % zones:02d}"
        nodes.append(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": name, "labels": labels},
                "status": {
                    "capacity": {"cpu": "4", "memory": "32Gi", "pods": "110"},
                    "allocatable": {"cpu": "4", "memory": "32Gi", "pods": "110"},
                },
            }
        )
    return nodes


def make_pod(i: int, group: int | None = None) -> dict:
    """scheduler_perf's pod-default.yaml: one pause container, 100m / 500Mi, port 80."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"pod-{i:06d}", "namespace": "default", "uid": f"uid-{i:06d}"},
        "spec": {
            "containers": [
                {
                    "name": "pause",
                    "image": "registry.k8s.io/pause:3.10",
                    "ports": [{"containerPort": 80}],
                    "resources": {
                        "requests": {"cpu": "100m", "memory": "500Mi"},
                        "limits": {"cpu": "100m", "memory": "500Mi"},
                    },
                }
            ]
        },
    }
    if group is not None:
        app = {"app": f"group-{group}"}
        pod["metadata"]["labels"] = app
        pod["spec"]["affinity"] = {
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": {"matchLabels": app}, "topologyKey": "kubernetes.io/hostname"}
                ]
            }
        }
        pod["spec"]["topologySpreadConstraints"] = [
            {
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": app},
            }
        ]
    return pod


def place(snapshot: Snapshot, pods: list[dict], rng: random.Random, start: int) -> tuple[int, int]:
    """Schedule pods one by one, binding each to the selected node; (placed, next start)."""
    placed = 0
    for pod in pods:
        ev = evaluate(pod, snapshot, profile=DEFAULT_PROFILE, rng=rng, start_index=start)
        start = ev.next_start_index
        if ev.selected is not None:
            snapshot.add_pod(pod, ev.selected)
            placed += 1
    return placed, start


def run(name: str, nodes: int, init_pods: int, measure_pods: int, variant: bool) -> None:
    """Place `init_pods`, then time `measure_pods`; a second identical run under tracemalloc
    gives the peak Python heap (tracing slows Python down, so it is not timed)."""
    zones = 50 if variant else 0
    groups = 500

    def pods(lo: int, hi: int) -> list[dict]:
        return [make_pod(i, i % groups if variant else None) for i in range(lo, hi)]

    def once(trace: bool) -> tuple[int, float, int]:
        if trace:
            tracemalloc.start()
        snapshot = Snapshot(make_nodes(nodes, zones))
        rng = random.Random(f"benchmark/{name}")
        _, start = place(snapshot, pods(0, init_pods), rng, 0)
        measured = pods(init_pods, init_pods + measure_pods)
        t0 = time.perf_counter()
        placed, _ = place(snapshot, measured, rng, start)
        elapsed = time.perf_counter() - t0
        peak = 0
        if trace:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        return placed, elapsed, peak

    placed, elapsed, _ = once(trace=False)
    _, _, peak = once(trace=True)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB on Linux
    print(
        f"{name:42s} {placed:>6,d}/{measure_pods:,d} placed {placed / elapsed:>7,.0f} pods/s  "
        f"peak heap {peak / 2**20:6.1f} MiB  max RSS {rss:5.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    print(f"python {platform.python_version()} on {platform.machine()} ({sys.platform})")
    run(
        "SchedulingBasic 5000 nodes, 10000 pods",
        5000 // scale,
        1000 // scale,
        10000 // scale,
        False,
    )
    run(
        "anti-affinity + zone spread, 5000 nodes",
        5000 // scale,
        1000 // scale,
        10000 // scale,
        True,
    )


if __name__ == "__main__":
    main()
