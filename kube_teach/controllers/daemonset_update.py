"""A DaemonSet's RollingUpdate: which old pods to delete and where to surge now. Pure.

Semantics: pkg/controller/daemon/update.go (rollingUpdate, delete-first when maxSurge is 0
and create-first otherwise; updatedDesiredNodeCounts; findUpdatedPodsOnNode) and
util.UnavailableCount / SurgeCount. Nodes are visited in name order (upstream walks a Go
map, in no fixed order).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._util import deleting, is_pod_available, name, scaled_value, spec
from .daemonset import is_pod_updated, node_should_run_daemon_pod, template_generation


def find_updated_pods_on_node(
    ds: Mapping[str, Any], pods: Sequence[Mapping[str, Any]], hash_: str
) -> tuple[Mapping[str, Any] | None, Mapping[str, Any] | None, bool]:
    """(new pod, old pod, ok) among the node's pods that are not being deleted; not ok when
    there are two new or two old ones (the manage loop cleans that up first)."""
    new = old = None
    generation = template_generation(ds)
    for pod in pods:
        if deleting(pod):
            continue
        if is_pod_updated(pod, hash_, generation):
            if new is not None:
                return None, None, False
            new = pod
        else:
            if old is not None:
                return None, None, False
            old = pod
    return new, old, True


def _counts(ds: Mapping[str, Any], desired: int) -> tuple[int, int]:
    """(maxSurge, maxUnavailable): updatedDesiredNodeCounts. Percentages of the nodes that
    should run the pod round up; when both come out 0 one unavailable pod is allowed."""
    strategy = spec(ds).get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return 0, 0
    rolling = strategy.get("rollingUpdate") or {}
    unavailable = scaled_value(rolling.get("maxUnavailable", 1), desired, True)
    surge = scaled_value(rolling.get("maxSurge") or 0, desired, True)
    if desired > 0 and unavailable == 0 and surge == 0:
        unavailable = 1
    return surge, unavailable


def max_unavailable(ds: Mapping[str, Any], desired: int) -> int:
    """util.UnavailableCount with the fallback to 1 (0 for the OnDelete strategy)."""
    return _counts(ds, desired)[1]


def rolling_update(
    ds: Mapping[str, Any],
    nodes: Sequence[Mapping[str, Any]],
    node_pods: Mapping[str, list[Mapping[str, Any]]],
    hash_: str,
    now: float,
) -> tuple[list[str], list[str]]:
    """(old pods to delete, nodes to create a new pod on) in this sync.

    Without surge, pods are replaced delete-first: unavailable ones (old pods not available,
    new pods not yet available, nodes being cleaned up or waiting for a pod) count against
    maxUnavailable, old pods that are not available are always replaced, available ones while
    the budget lasts; the manage loop then creates the successors. With surge, new pods are
    created first, up to maxSurge at a time beside available old pods, and an old pod goes
    once the new one on its node is available.
    """
    by_node = dict(node_pods)
    should_run = {name(n): node_should_run_daemon_pod(n, ds)[0] for n in nodes}
    desired = 0
    for node in nodes:
        if should_run[name(node)]:
            desired += 1
            by_node.setdefault(name(node), [])
    max_surge, budget = _counts(ds, desired)
    min_ready = spec(ds).get("minReadySeconds") or 0
    if max_surge == 0:
        return _delete_first(ds, by_node, hash_, now, budget, min_ready), []
    return _create_first(ds, by_node, should_run, desired, hash_, now, max_surge, min_ready)


Pods = dict[str, list[Mapping[str, Any]]]


def _delete_first(
    ds: Mapping[str, Any], by_node: Pods, hash_: str, now: float, budget: int, min_ready: float
) -> list[str]:
    unavailable = 0
    replace_now: list[str] = []
    candidates: list[str] = []
    for node_name in sorted(by_node):
        new, old, ok = find_updated_pods_on_node(ds, by_node[node_name], hash_)
        if not ok or (old is None) == (new is None):
            unavailable += 1  # left to the manage loop; counts as unavailable meanwhile
        elif new is not None:
            if not is_pod_available(new, min_ready, now):
                unavailable += 1
        elif not is_pod_available(old, min_ready, now):
            replace_now.append(name(old))  # replaced whatever the budget, and counted
            unavailable += 1
        elif unavailable < budget:
            candidates.append(name(old))
    room = min(max(budget - unavailable, 0), len(candidates))
    return replace_now + candidates[:room]


def _create_first(
    ds: Mapping[str, Any],
    by_node: Pods,
    should_run: Mapping[str, bool],
    desired: int,
    hash_: str,
    now: float,
    max_surge: int,
    min_ready: float,
) -> tuple[list[str], list[str]]:
    delete: list[str] = []
    leaving: list[str] = []  # old pods on nodes that should no longer run one
    candidates: list[str] = []
    allowed: list[str] = []
    surging = available = 0
    for node_name in sorted(by_node):
        new, old, ok = find_updated_pods_on_node(ds, by_node[node_name], hash_)
        if not ok:
            surging += 1  # the manage loop prunes it first
            continue
        current = old if old is not None else new
        if current is not None and is_pod_available(current, min_ready, now):
            available += 1
        if old is None:
            continue  # nothing to replace; the manage loop covers an empty node
        if new is None:
            runs = should_run.get(node_name, False)
            if not is_pod_available(old, min_ready, now):
                if runs:
                    allowed.append(node_name)
                else:
                    delete.append(name(old))
            elif not runs:
                leaving.append(name(old))
            elif surging < max_surge:
                candidates.append(node_name)
        elif not is_pod_available(new, min_ready, now):
            surging += 1  # waiting for the new pod to become available
        else:
            delete.append(name(old))
    # old pods on nodes being left go only while enough pods elsewhere are available
    spare = min(max(available - desired, 0), len(leaving))
    delete.extend(leaving[:spare])
    room = min(max(max_surge - surging, 0), len(candidates))
    return delete, allowed + candidates[:room]


__all__ = ["find_updated_pods_on_node", "max_unavailable", "rolling_update"]
