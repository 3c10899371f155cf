"""Two subresources with their own rules: `pods/eviction` and `<workload>/scale`.

Semantics: pkg/registry/core/pod/storage/eviction.go (the Eviction is refused with 429 when it
would break a PodDisruptionBudget, otherwise the budget is charged and the pod deleted) and the
scale subresources of pkg/registry/apps (a Scale in autoscaling/v1 reading and writing the
workload's spec.replicas). Both are generators of etcd requests, as store.py's operations are.
"""

from __future__ import annotations

import copy
from typing import Any

from ..api.errors import StatusError
from ..api.eviction import evict
from ..api.kinds import KINDS, KindInfo
from ..api.objects import Obj
from ..api.selectors import LabelSelector
from .deletion import DeleteOptions
from .etcd3 import Op
from .store import ObjectStore

SCALABLE = frozenset({"Deployment", "ReplicaSet", "StatefulSet", "ReplicationController"})
_SUCCESS = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}


def evict_op(store: ObjectStore, name: str, namespace: str, body: Any, admission: Any) -> Op:
    """POST pods/<name>/eviction: delete the pod unless a budget forbids it (429)."""
    if not isinstance(body, dict) or body.get("kind") not in (None, "Eviction"):
        raise StatusError.bad_request("the body of the request was in an unknown format")
    pods = KINDS["Pod"]
    pod = yield from store.get_op(pods, name, namespace)
    pdbs = [
        b
        for b in store.list(KINDS["PodDisruptionBudget"], namespace)
        if LabelSelector.from_dict((b.get("spec") or {}).get("selector") or {}).matches(pod.labels)
        and (b.get("spec") or {}).get("selector") is not None
    ]
    decision = evict(pod, pdbs, store.unix_ns / 1e9)
    if not decision.allowed:
        if decision.code == 429:
            details: dict[str, Any] = {
                "causes": [{"reason": "DisruptionBudget", "message": c} for c in decision.causes]
            }
            if decision.retry_after:
                details["retryAfterSeconds"] = decision.retry_after
            raise StatusError("TooManyRequests", 429, decision.message, details)
        if decision.code == 500:
            raise StatusError.internal(decision.message)
        raise StatusError.forbidden(pods, name, decision.message)
    if decision.pdb_status is not None:
        (pdb,) = pdbs
        charged = pdb.copy()
        charged["status"] = copy.deepcopy(decision.pdb_status)
        yield from store.update_op(charged, subresource="status")
    options = DeleteOptions.parse(body.get("deleteOptions"))
    yield from store.delete_op(pods, name, namespace, options, admission=admission)
    return dict(_SUCCESS)


def scale_of(obj: Obj) -> dict[str, Any]:
    """The autoscaling/v1 Scale of a workload."""
    selector = (obj.get("spec") or {}).get("selector") or {}
    meta = obj.metadata
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in meta
        },
        "spec": {"replicas": int((obj.get("spec") or {}).get("replicas") or 0)},
        "status": {
            "replicas": int((obj.get("status") or {}).get("replicas") or 0),
            "selector": str(LabelSelector.from_dict(selector)) if selector else "",
        },
    }


def get_scale_op(store: ObjectStore, info: KindInfo, name: str, namespace: str | None) -> Op:
    _scalable(info)
    obj = yield from store.get_op(info, name, namespace)
    return scale_of(obj)


def update_scale_op(
    store: ObjectStore, info: KindInfo, name: str, namespace: str | None, scale: Any
) -> Op:
    """PUT <workload>/scale: only spec.replicas changes; a stale resourceVersion is a 409."""
    _scalable(info)
    if not isinstance(scale, dict) or not isinstance(scale.get("spec"), dict | None):
        raise StatusError.bad_request("the body of the request was in an unknown format")
    replicas = (scale.get("spec") or {}).get("replicas", 0)
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise StatusError(
            "Invalid", 422,
            f'Scale.autoscaling "{name}" is invalid: spec.replicas: Invalid value: '
            f"{replicas}: must be greater than or equal to 0",
            {"name": name, "group": "autoscaling", "kind": "Scale"},
        )  # fmt: skip
    obj = yield from store.get_op(info, name, namespace)
    rv = ((scale.get("metadata") or {}).get("resourceVersion")) or ""
    if rv and rv != obj.resource_version:
        raise StatusError.conflict(info, name)
    obj["spec"]["replicas"] = replicas
    updated = yield from store.update_op(obj)
    return scale_of(updated)


def _scalable(info: KindInfo) -> None:
    if info.kind not in SCALABLE:
        raise StatusError("NotFound", 404, "the server could not find the requested resource")


__all__ = ["SCALABLE", "evict_op", "get_scale_op", "scale_of", "update_scale_op"]
