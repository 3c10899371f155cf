"""Small builders for controller tests: Deployments, ReplicaSets and pods as JSON dicts."""

from __future__ import annotations

from typing import Any

from kube_teach.controllers._util import format_time, parse_time

T0 = parse_time("2016-01-01T00:00:00Z")


def at(seconds: float) -> str:
    """RFC 3339 for T0 + seconds."""
    return format_time(T0 + seconds)


def deployment(
    name: str = "foo",
    replicas: int = 1,
    max_surge: Any = 0,
    max_unavailable: Any = 0,
    *,
    image: str = "nginx",
    strategy: str = "RollingUpdate",
    generation: int = 1,
    revision_history_limit: int | None = 10,
    progress_deadline: int | None = 600,
    labels: dict | None = None,
) -> dict:
    """Like upstream's newDeployment: RollingUpdate with maxSurge/maxUnavailable 0 unless given."""
    labels = labels or {"app": name}
    spec: dict[str, Any] = {
        "replicas": replicas,
        "selector": {"matchLabels": dict(labels)},
        "strategy": {"type": strategy},
        "template": {
            "metadata": {"labels": dict(labels)},
            "spec": {"containers": [{"name": "app", "image": image}]},
        },
    }
    if strategy == "RollingUpdate":
        spec["strategy"]["rollingUpdate"] = {
            "maxSurge": max_surge,
            "maxUnavailable": max_unavailable,
        }
    if revision_history_limit is not None:
        spec["revisionHistoryLimit"] = revision_history_limit
    if progress_deadline is not None:
        spec["progressDeadlineSeconds"] = progress_deadline
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": f"{name}-uid",
            "generation": generation,
        },
        "spec": spec,
        "status": {},
    }


def rs(
    name: str,
    replicas: int,
    *,
    created: float = 0,
    available: int | None = None,
    status_replicas: int | None = None,
    template: dict | None = None,
    annotations: dict | None = None,
    owner: dict | None = None,
) -> dict:
    """Like upstream's rs(): a ReplicaSet with status.replicas = available = spec unless given."""
    out = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": f"{name}-uid",
            "creationTimestamp": at(created),
        },
        "spec": {"replicas": replicas, "template": template or {}},
        "status": {
            "replicas": replicas if status_replicas is None else status_replicas,
            "availableReplicas": replicas if available is None else available,
        },
    }
    if annotations is not None:
        out["metadata"]["annotations"] = dict(annotations)
    if owner is not None:
        out["metadata"]["ownerReferences"] = [
            {
                "kind": "Deployment",
                "name": owner["metadata"]["name"],
                "uid": owner["metadata"]["uid"],
                "controller": True,
            }
        ]
    return out


def pod(
    name: str,
    *,
    node: str = "",
    phase: str = "Running",
    ready: bool | None = True,
    ready_since: float | None = None,
    created: float | None = None,
    restarts: int = 0,
    labels: dict | None = None,
    annotations: dict | None = None,
    owner_uid: str | None = None,
    uid: str = "",
) -> dict:
    meta: dict[str, Any] = {"name": name, "namespace": "default", "uid": uid}
    if created is not None:
        meta["creationTimestamp"] = at(created)
    if labels:
        meta["labels"] = dict(labels)
    if annotations:
        meta["annotations"] = dict(annotations)
    if owner_uid is not None:
        meta["ownerReferences"] = [
            {"kind": "ReplicaSet", "name": "x", "uid": owner_uid, "controller": True}
        ]
    status: dict[str, Any] = {"phase": phase}
    if ready is not None:
        cond = {"type": "Ready", "status": "True" if ready else "False"}
        if ready_since is not None:
            cond["lastTransitionTime"] = at(ready_since)
        status["conditions"] = [cond]
    if restarts:
        status["containerStatuses"] = [{"name": "app", "restartCount": restarts}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {"nodeName": node},
        "status": status,
    }
