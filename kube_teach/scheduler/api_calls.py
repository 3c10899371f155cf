"""The API requests the scheduler sends about a pod, built as data: the Binding, the
PodScheduled=False condition patch after a failure, and preemption's DisruptionTarget patch,
victim deletion and nomination clearing. The host sends them.

Semantics: kube-scheduler's backend/api_calls and schedule_one.go (updatePod), and
framework/preemption (prepareCandidate, clearNominatedNodeName).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kube_teach.api.kinds import KINDS
from kube_teach.api.rest import object_path

PODS = KINDS["Pod"]
Request = tuple[str, str, Any]  # (method, path, body)


def _path(pod: Mapping[str, Any], sub: str = "") -> str:
    meta = pod.get("metadata") or {}
    return object_path(PODS, meta.get("name", ""), meta.get("namespace"), sub)


def binding(pod: Mapping[str, Any], node: str) -> Request:
    """POST pods/<name>/binding with a Binding to `node`."""
    meta = pod.get("metadata") or {}
    body = {"apiVersion": "v1", "kind": "Binding",
            "metadata": {"name": meta.get("name"), "namespace": meta.get("namespace"),
                         "uid": meta.get("uid")},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node}}  # fmt: skip
    return "POST", _path(pod, "binding"), body


def unschedulable_condition(
    pod: Mapping[str, Any], reason: str, message: str, stamp: str, nominated: str | None = None
) -> Request | None:
    """The status PATCH setting PodScheduled=False (and nominatedNodeName after a preemption),
    or None when the condition and nomination are already so. The transition time is kept
    while the condition stays False."""
    status = pod.get("status") or {}
    conditions = [dict(c) for c in status.get("conditions") or ()]
    old = next((c for c in conditions if c.get("type") == "PodScheduled"), None)
    cond = {"type": "PodScheduled", "status": "False", "lastProbeTime": None,
            "lastTransitionTime": stamp, "reason": reason, "message": message}  # fmt: skip
    same = old is not None and all(old.get(k) == cond[k] for k in ("status", "reason", "message"))
    if same and (nominated is None or status.get("nominatedNodeName") == nominated):
        return None
    if old is not None and old.get("status") == "False":
        cond["lastTransitionTime"] = old.get("lastTransitionTime")
    conditions = [c for c in conditions if c.get("type") != "PodScheduled"] + [cond]
    patch: dict[str, Any] = {"status": {"conditions": conditions}}
    if nominated:
        patch["status"]["nominatedNodeName"] = nominated
    return "PATCH", _path(pod, "status"), patch


def evict_victim(victim: Mapping[str, Any], scheduler_name: str, stamp: str) -> list[Request]:
    """Mark the victim DisruptionTarget=True (PreemptionByScheduler), then delete it."""
    conditions = [c for c in (victim.get("status") or {}).get("conditions") or ()
                  if c.get("type") != "DisruptionTarget"]  # fmt: skip
    conditions.append({"type": "DisruptionTarget", "status": "True", "lastProbeTime": None,
                       "lastTransitionTime": stamp, "reason": "PreemptionByScheduler",
                       "message": f"{scheduler_name}: preempting to accommodate a higher "
                                  "priority pod"})  # fmt: skip
    return [
        ("PATCH", _path(victim, "status"), {"status": {"conditions": conditions}}),
        ("DELETE", _path(victim), None),
    ]


def clear_nominated_node(pod: Mapping[str, Any]) -> Request:
    """The status PATCH removing a pod's nominatedNodeName."""
    return "PATCH", _path(pod, "status"), {"status": {"nominatedNodeName": None}}
