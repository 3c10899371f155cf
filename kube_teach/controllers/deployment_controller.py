"""The Deployment controller as a host: informers and API writes around the pure `sync_deployment`.

Semantics: pkg/controller/deployment/deployment_controller.go (event handlers, syncDeployment,
getReplicaSetsForDeployment's claiming) and sync.go / rolling.go (the writes, in order, and
their ScalingReplicaSet events). The rollout decisions come from deployment.py.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from ..api.kinds import KINDS
from ..api.rest import collection_path, object_path
from ._util import controller_ref, labels, meta, name, selector_matches, spec, status, uid
from .base import (
    Call,
    Controller,
    ControllerContext,
    Outcome,
    Sync,
    adopt_patch,
    error_text,
    key_of,
    release_patch,
)
from .deployment import ReplicaSetWrite, SyncResult, sync_deployment
from .deployment_status import has_progress_deadline, new_condition, set_condition
from .deployment_util import strategy_type
from .replicaset import claim_pods

DEPLOYMENTS, REPLICASETS, PODS = KINDS["Deployment"], KINDS["ReplicaSet"], KINDS["Pod"]
FAILED_RS_CREATE_REASON = "ReplicaSetCreateError"
SELECTING_ALL_MESSAGE = "This deployment is selecting all pods. A non-empty selector is required."


class DeploymentController(Controller):
    """Rolls each Deployment's ReplicaSets towards its template and keeps its status.

    Deployment events enqueue the Deployment; ReplicaSet events enqueue their controlling
    Deployment (or, for orphans, every Deployment that selects them); a pod deletion enqueues
    a Recreate Deployment whose pods are all gone. A sync claims ReplicaSets, runs
    `sync_deployment`, sends its ReplicaSet writes in order (stopping at the first failure),
    then the Deployment's annotations (merge PATCH) and status (PUT .../status).
    """

    name = "deployment-controller"
    workers = 5  # --concurrent-deployment-syncs

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.deployments = self.informer(DEPLOYMENTS)
        self.replicasets = self.informer(REPLICASETS)
        self.pods = self.informer(PODS)
        self.deployments.add_handlers(
            on_add=self._enqueue_deployment,
            on_update=lambda old, cur: self._enqueue_deployment(cur),
            on_delete=self._enqueue_deployment,
        )
        self.replicasets.add_handlers(
            on_add=self._add_rs, on_update=self._update_rs, on_delete=self._delete_rs
        )
        self.pods.add_handlers(on_delete=self._delete_pod)

    # -- event handlers ------------------------------------------------------------------------
    def _enqueue_deployment(self, d: Mapping[str, Any]) -> None:
        self.enqueue(key_of(d))

    def _resolve(self, namespace: str, ref: Mapping[str, Any]) -> Mapping[str, Any] | None:
        if ref.get("kind") != "Deployment":
            return None
        d = self.deployments.get(f"{namespace}/{ref.get('name', '')}")
        if d is None or uid(d) != ref.get("uid"):
            return None
        return d

    def _selecting(self, rs: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        """getDeploymentsForReplicaSet: the Deployments of its namespace whose selector matches."""
        ns = meta(rs).get("namespace") or ""
        return [
            d
            for d in self.deployments.list()
            if (meta(d).get("namespace") or "") == ns
            and spec(d).get("selector")
            and selector_matches(spec(d).get("selector"), labels(rs))
        ]

    def _add_rs(self, rs: Mapping[str, Any]) -> None:
        if meta(rs).get("deletionTimestamp"):
            self._delete_rs(rs)
            return
        ref = controller_ref(rs)
        if ref is not None:
            d = self._resolve(meta(rs).get("namespace") or "", ref)
            if d is not None:
                self._enqueue_deployment(d)
            return
        for d in self._selecting(rs):
            self._enqueue_deployment(d)

    def _update_rs(self, old: Mapping[str, Any], cur: Mapping[str, Any]) -> None:
        if meta(old).get("resourceVersion") == meta(cur).get("resourceVersion"):
            return
        ns = meta(cur).get("namespace") or ""
        old_ref, cur_ref = controller_ref(old), controller_ref(cur)
        ref_changed = old_ref != cur_ref
        if ref_changed and old_ref is not None:
            d = self._resolve(ns, old_ref)
            if d is not None:
                self._enqueue_deployment(d)
        if cur_ref is not None:
            d = self._resolve(ns, cur_ref)
            if d is not None:
                self._enqueue_deployment(d)
            return
        if ref_changed or labels(old) != labels(cur):
            for d in self._selecting(cur):
                self._enqueue_deployment(d)

    def _delete_rs(self, rs: Mapping[str, Any]) -> None:
        ref = controller_ref(rs)
        if ref is None:
            return
        d = self._resolve(meta(rs).get("namespace") or "", ref)
        if d is not None:
            self._enqueue_deployment(d)

    def _delete_pod(self, pod: Mapping[str, Any]) -> None:
        """A Recreate Deployment waits for its old pods to be gone: sync once none are left.

        Upstream lists the ReplicaSets live here; this reads them from the cache."""
        ns = meta(pod).get("namespace") or ""
        ref = controller_ref(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return
        rs = self.replicasets.get(f"{ns}/{ref.get('name', '')}")
        if rs is None or uid(rs) != ref.get("uid"):
            return
        rs_ref = controller_ref(rs)
        d = self._resolve(ns, rs_ref) if rs_ref is not None else None
        if d is None or strategy_type(d) != "Recreate":
            return
        if not self._pods_of(ns, self._owned_replica_sets(d)):
            self._enqueue_deployment(d)

    # -- reading the caches --------------------------------------------------------------------
    def _in_namespace(self, cache: Mapping[str, Any], ns: str) -> list[Mapping[str, Any]]:
        prefix = f"{ns}/"
        return [obj for k, obj in sorted(cache.items()) if k.startswith(prefix)]

    def _owned_replica_sets(self, d: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        ns = meta(d).get("namespace") or "default"
        rss = self._in_namespace(self.replicasets.cache, ns)
        return [rs for rs in rss if (controller_ref(rs) or {}).get("uid") == uid(d)]

    def _pods_of(self, ns: str, rss: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """getPodMapForDeployment, flattened: pods controlled by one of `rss`."""
        uids = {uid(rs) for rs in rss}
        return [
            p
            for p in self._in_namespace(self.pods.cache, ns)
            if (controller_ref(p) or {}).get("uid") in uids
        ]

    # -- the sync ------------------------------------------------------------------------------
    def sync(self, key: str) -> Sync:
        """syncDeployment for `key`."""
        d = self.deployments.get(key)
        if d is None:
            return Outcome()  # deleted: garbage collection removes what it owned
        now = self.now()
        ns = meta(d).get("namespace") or "default"
        selector = spec(d).get("selector") or {}
        if not selector.get("matchLabels") and not selector.get("matchExpressions"):
            self.recorder.event(d, "Warning", "SelectingAll", SELECTING_ALL_MESSAGE)
            generation = int(meta(d).get("generation") or 0)
            if int(status(d).get("observedGeneration") or 0) < generation:
                body = copy.deepcopy(dict(d))
                body.setdefault("status", {})["observedGeneration"] = generation
                (resp,) = yield [Call("PUT", _path(DEPLOYMENTS, d, "status"), body)]
                if not resp.ok:
                    return Outcome(error=error_text(resp))
            return Outcome()
        claimed, adopt, release = claim_pods(d, self._in_namespace(self.replicasets.cache, ns))
        if adopt or release:
            by_name = {name(rs): rs for rs in self._in_namespace(self.replicasets.cache, ns)}
            responses = yield [
                *(Call("PATCH", _named(REPLICASETS, ns, n), adopt_patch(d, by_name[n]))
                  for n in adopt),
                *(Call("PATCH", _named(REPLICASETS, ns, n), release_patch(d, by_name[n]))
                  for n in release),
            ]  # fmt: skip
            for i, resp in enumerate(responses):
                ignored = (404,) if i < len(adopt) else (404, 422)
                if not resp.ok and resp.code not in ignored:
                    return Outcome(error=error_text(resp))
        result = sync_deployment(d, claimed, self._pods_of(ns, claimed), now)
        for write in result.writes:
            failed = yield from self._write(d, write, now)
            if failed is not None:
                return Outcome(error=failed)
        failed = yield from self._write_deployment(d, result)
        if failed is not None:
            return Outcome(error=failed)
        if result.requeue_after == 0:
            return Outcome(requeue_rate_limited=True)
        if result.requeue_after > 0:
            return Outcome(requeue_after=result.requeue_after + 1)  # +1 s against skew, as upstream
        return Outcome()

    def _write(self, d: Mapping[str, Any], write: ReplicaSetWrite, now: float) -> Sync:
        """Send one ReplicaSet write; on success record its ScalingReplicaSet event."""
        rs = write.replica_set
        ns = meta(rs).get("namespace") or meta(d).get("namespace") or "default"
        fields = {"deployment": key_of(d), "rs": write.name}
        if write.verb == "create":
            self.trace.emit(self.name, "create-replicaset", **fields, replicas=write.new_replicas)
            (resp,) = yield [Call("POST", collection_path(REPLICASETS, ns), rs)]
            if not resp.ok:
                if resp.code == 409:
                    return error_text(resp)  # in the cache soon: the next sync decides
                msg = f'Failed to create new replica set "{write.name}": {error_text(resp)}'
                if has_progress_deadline(d):
                    body = copy.deepcopy(dict(d))
                    cond = new_condition("Progressing", "False", FAILED_RS_CREATE_REASON, msg, now)
                    set_condition(body.setdefault("status", {}), cond)
                    yield [Call("PUT", _path(DEPLOYMENTS, d, "status"), body)]
                self.recorder.event(d, "Warning", FAILED_RS_CREATE_REASON, msg)
                return error_text(resp)
        elif write.verb == "update":
            if write.old_replicas != write.new_replicas:
                self.trace.emit(
                    self.name, "scale-replicaset", **fields,
                    **{"from": write.old_replicas, "to": write.new_replicas},
                )  # fmt: skip
            (resp,) = yield [Call("PUT", _named(REPLICASETS, ns, write.name), rs)]
            if not resp.ok:
                return error_text(resp)
        else:
            self.trace.emit(self.name, "delete-replicaset", **fields)
            (resp,) = yield [Call("DELETE", _named(REPLICASETS, ns, write.name))]
            if not resp.ok and resp.code != 404:
                return error_text(resp)
        if write.event is not None:
            self.recorder.event(d, "Normal", "ScalingReplicaSet", write.event)
        return None

    def _write_deployment(self, d: Mapping[str, Any], result: SyncResult) -> Sync:
        """Annotations by merge PATCH, then status by PUT .../status, each only if changed.

        Upstream writes both through UpdateStatus (the Deployment status strategy keeps
        metadata changes); here the status subresource changes only the status."""
        new = result.deployment
        rv = meta(d).get("resourceVersion")
        old_ann = dict(meta(d).get("annotations") or {})
        new_ann = dict(meta(new).get("annotations") or {})
        if new_ann != old_ann:
            patch: dict[str, Any] = {k: v for k, v in new_ann.items() if old_ann.get(k) != v}
            patch.update({k: None for k in old_ann if k not in new_ann})
            body = {"metadata": {"annotations": patch, "resourceVersion": rv}}
            (resp,) = yield [Call("PATCH", _path(DEPLOYMENTS, d), body)]
            if not resp.ok:
                return error_text(resp)
            rv = meta(resp.body).get("resourceVersion")
        if result.status_changed:
            body = copy.deepcopy(dict(new))
            body.setdefault("metadata", {})["resourceVersion"] = rv
            (resp,) = yield [Call("PUT", _path(DEPLOYMENTS, d, "status"), body)]
            if not resp.ok:
                return error_text(resp)
            st = status(new)
            self.trace.emit(
                self.name, "update-status", key=key_of(d), replicas=st.get("replicas", 0),
                updated=st.get("updatedReplicas", 0), available=st.get("availableReplicas", 0),
            )  # fmt: skip
        return None


def _path(info: Any, obj: Mapping[str, Any], subresource: str | None = None) -> str:
    return object_path(info, name(obj), meta(obj).get("namespace") or "default", subresource)


def _named(info: Any, ns: str, obj_name: str) -> str:
    return object_path(info, obj_name, ns)


__all__ = ["DeploymentController"]
