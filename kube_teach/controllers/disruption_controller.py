"""The disruption controller as a host around the pure `disruption`: PodDisruptionBudget status.

Semantics: pkg/controller/disruption/disruption.go (pod and PDB handlers, trySync: pods for the
PDB, getExpectedScale through the pods' controllers, countHealthyPods, buildDisruptedPodMap with
its recheck, updatePdbStatus, failSafe with the SyncFailed reason, the NoPods and
CalculateExpectedPodCountFailed events).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from ..api.kinds import KINDS
from ..api.rest import object_path
from ._util import controller_ref, labels, meta, name, selector_matches, spec, uid
from .base import Call, Controller, ControllerContext, Outcome, Sync, error_text, key_of
from .disruption import disruptions_allowed, expected_scale, pods_for_pdb, sync_failed

PDBS, PODS = KINDS["PodDisruptionBudget"], KINDS["Pod"]
RSS, DEPLOYS, STSS = KINDS["ReplicaSet"], KINDS["Deployment"], KINDS["StatefulSet"]


def _replicas(obj: Mapping[str, Any]) -> int:
    value = spec(obj).get("replicas")
    return 1 if value is None else int(value)


class DisruptionController(Controller):
    """Keeps every PodDisruptionBudget's status current: expectedPods, desiredHealthy,
    currentHealthy, disruptionsAllowed, disruptedPods and the DisruptionAllowed condition.

    Pod events enqueue the budgets that select the pod; a budget with pods recorded in
    disruptedPods is looked at again when the first of them is due to have been deleted.
    """

    name = "disruption-controller"
    workers = 1  # upstream runs one worker

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.pdbs = self.informer(PDBS)
        self.pods = self.informer(PODS)
        self.replicasets = self.informer(RSS)
        self.deployments = self.informer(DEPLOYS)
        self.statefulsets = self.informer(STSS)
        self.pdbs.add_handlers(
            on_add=self._enqueue,
            on_update=lambda old, new: self._enqueue(new),
            on_delete=self._enqueue,
        )
        self.pods.add_handlers(
            on_add=self._pod_changed,
            on_update=self._pod_updated,
            on_delete=self._pod_changed,
        )

    def _enqueue(self, pdb: Mapping[str, Any]) -> None:
        self.enqueue(key_of(pdb))

    def _pod_updated(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        if labels(old) != labels(new):
            self._pod_changed(old)
        self._pod_changed(new)

    def _pod_changed(self, pod: Mapping[str, Any]) -> None:
        ns = meta(pod).get("namespace")
        for pdb in self.pdbs.list():
            if meta(pdb).get("namespace") == ns and selector_matches(
                spec(pdb).get("selector"), labels(pod)
            ):
                self._enqueue(pdb)

    def scales(self, namespace: str) -> tuple[dict[str, int], dict[str, str]]:
        """(controller UID → the replicas it stands for, controller UID → workload UID), as
        getExpectedScale's finders resolve them: a Deployment's ReplicaSets stand for the
        Deployment, counted once with its spec.replicas."""
        out: dict[str, int] = {}
        workload: dict[str, str] = {}
        for rs in self.replicasets.list():
            if meta(rs).get("namespace") != namespace:
                continue
            owner = controller_ref(rs)
            if owner is not None and owner.get("kind") == "Deployment":
                deploy = self.deployments.get(f"{namespace}/{owner.get('name', '')}")
                if deploy is not None and uid(deploy) == owner.get("uid"):
                    out[uid(rs)] = _replicas(deploy)
                    workload[uid(rs)] = uid(deploy)
                continue
            out[uid(rs)] = _replicas(rs)
        for sts in self.statefulsets.list():
            if meta(sts).get("namespace") == namespace:
                out[uid(sts)] = _replicas(sts)
        return out, workload

    def sync(self, key: str) -> Sync:
        cached = self.pdbs.get(key)
        if cached is None:
            return None
        pdb = copy.deepcopy(dict(cached))
        ns = meta(pdb).get("namespace") or "default"
        now = self.now()
        pods = pods_for_pdb(pdb, [p for p in self.pods.list() if meta(p).get("namespace") == ns])
        if not pods:
            self.recorder.event(pdb, "Normal", "NoPods", "No matching pods found")
        try:
            expected, _unmanaged = expected_scale(pods, *self.scales(ns))
        except ValueError as err:
            self.recorder.event(
                pdb, "Warning", "CalculateExpectedPodCountFailed",
                f"Failed to calculate the number of expected pods: {err}",
            )  # fmt: skip
            result = sync_failed(pdb, str(err), now)
        else:
            result = disruptions_allowed(pdb, pods, expected, now)
        new_status = result.as_dict()
        outcome = Outcome(requeue_after=result.recheck_after or None)
        if new_status == (cached.get("status") or {}):
            return outcome
        pdb["status"] = new_status
        path = object_path(PDBS, name(pdb), ns, "status")
        (resp,) = yield [Call("PUT", path, pdb)]
        if not resp.ok:
            return Outcome(error=error_text(resp))
        self.trace.emit(self.name, "pdb-status", pdb=key, allowed=int(result),
                        healthy=result.current_healthy, desired=result.desired_healthy)  # fmt: skip
        return outcome


__all__ = ["DisruptionController"]
