"""Order the scheduling queue: higher priority first, then the pod that was queued earlier.

Semantics: kube-scheduler's PrioritySort plugin (QueueSort).
"""

from __future__ import annotations

from typing import Any

from ..framework import PodInfo, pod_priority


def _priority(item: Any) -> int:
    pod = getattr(item, "pod", item)
    if isinstance(pod, PodInfo):
        return pod.priority
    return pod_priority(pod)


class PrioritySort:
    """QueueSort: `less(a, b)` is True when `a` should be scheduled before `b`.

    Items are queued pods with a `pod` (dict or PodInfo) and a `timestamp` (when they entered
    the active queue, in any comparable unit of simulated time).
    """

    name = "PrioritySort"

    def less(self, a: Any, b: Any) -> bool:
        pa, pb = _priority(a), _priority(b)
        return pa > pb or (pa == pb and a.timestamp < b.timestamp)
