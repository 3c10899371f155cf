"""A resource metrics API for lessons: a CPU load that a Service spreads over a workload's pods.

Semantics: what metrics-server answers the HPA (per-pod usage in millicores, each sample with
its timestamp and window) when a total load, in millicores, is balanced evenly over the Ready
pods behind a Service. It stands in for metrics-server scraping kubelets, so the HPA chapter
can set the load over time and watch the autoscaler follow.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ._util import is_pod_ready, name, status
from .hpa_controller import MetricsError
from .replica_calculator import PodMetric

METRICS_WINDOW = 15.0  # seconds each sample covers (metrics-server's default resolution)
IDLE_MILLICORES = 5  # what a Running pod uses with no requests at all


class SharedLoadMetrics:
    """`get_resource_metric` for cpu: every Running pod of the selector uses `idle`
    millicores, and each Ready one also an even share of `load` (a number, or a function of
    simulated seconds). `list_pods(namespace, match_labels)` gives the pods (a Cluster's
    `list("pods", ns, selector=...)`); `now()` the Unix time in seconds.
    """

    def __init__(
        self,
        load: float | Callable[[float], float],
        list_pods: Callable[[str, Mapping[str, str]], Sequence[Mapping[str, Any]]],
        now: Callable[[], float],
        *,
        start: float = 0.0,
        idle: int = IDLE_MILLICORES,
        window: float = METRICS_WINDOW,
    ) -> None:
        self.load = load
        self.list_pods = list_pods
        self.now = now
        self.start = start
        self.idle = idle
        self.window = window

    def load_at(self, t: float) -> float:
        """The total load in millicores at simulated second `t`."""
        return float(self.load(t) if callable(self.load) else self.load)

    def get_resource_metric(
        self,
        resource: str,
        namespace: str,
        selector: Mapping[str, Any],
        container: str = "",
    ) -> tuple[dict[str, PodMetric], float]:
        if resource != "cpu":
            raise MetricsError(f"this metrics API serves cpu only, not {resource}")
        if selector.get("matchExpressions"):
            raise MetricsError("this metrics API takes matchLabels selectors only")
        pods = [
            p
            for p in self.list_pods(namespace, dict(selector.get("matchLabels") or {}))
            if status(p).get("phase") == "Running"
        ]
        now = self.now()
        ready = [p for p in pods if is_pod_ready(p)]
        share = self.load_at(now - self.start) / len(ready) if ready else 0.0
        samples = {
            name(p): PodMetric(
                self.idle + (round(share) if is_pod_ready(p) else 0), now, self.window
            )
            for p in pods
        }
        return samples, now


__all__ = ["IDLE_MILLICORES", "METRICS_WINDOW", "SharedLoadMetrics"]
