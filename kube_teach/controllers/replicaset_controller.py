"""The ReplicaSet controller as a host: informers and expectations around the pure `reconcile`.

Semantics: pkg/controller/replicaset/replica_set.go (the pod and ReplicaSet event handlers,
syncReplicaSet, manageReplicas with slowStartBatch, updateReplicaSetStatus with one retry) and
controller_utils.go's RealPodControl (its SuccessfulCreate / SuccessfulDelete events).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from ..api.kinds import KINDS
from ..api.rest import collection_path, object_path
from ._util import (
    controller_ref,
    is_pod_active,
    is_pod_ready,
    labels,
    meta,
    name,
    selector_matches,
    spec,
    status,
)
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
from .replicaset import (
    BURST_REPLICAS,
    Expectations,
    calculate_status,
    claim_pods,
    pod_from_template,
    pod_key,
    reconcile,
)

PODS, REPLICASETS = KINDS["Pod"], KINDS["ReplicaSet"]


class ReplicaSetController(Controller):
    """Keeps each ReplicaSet's pod count at spec.replicas and its status current.

    Pod events lower the expectations of the owning ReplicaSet (controller ownerReference) and
    enqueue it; an orphan pod enqueues every ReplicaSet of its namespace whose selector matches.
    A sync claims pods (adopting orphans, releasing pods that stopped matching) by merge PATCH,
    creates pods in slow-start batches or deletes the ones `reconcile` ranks first, then PUTs
    the status if it changed.
    """

    name = "replicaset-controller"
    workers = 5  # --concurrent-replicaset-syncs
    burst_replicas = BURST_REPLICAS

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.expectations = Expectations()
        self.replicasets = self.informer(REPLICASETS)
        self.pods = self.informer(PODS)
        self.replicasets.add_handlers(
            on_add=self._add_rs, on_update=self._update_rs, on_delete=self._delete_rs
        )
        self.pods.add_handlers(
            on_add=self._add_pod, on_update=self._update_pod, on_delete=self._delete_pod
        )

    # -- event handlers: bookkeeping and keys, never decisions ---------------------------------
    def _add_rs(self, rs: Mapping[str, Any]) -> None:
        self.enqueue(key_of(rs))

    def _update_rs(self, old: Mapping[str, Any], cur: Mapping[str, Any]) -> None:
        if meta(old).get("uid") != meta(cur).get("uid"):
            self._delete_rs(old)  # deleted and recreated under the same name
        self.enqueue(key_of(cur))

    def _delete_rs(self, rs: Mapping[str, Any]) -> None:
        key = key_of(rs)
        self.expectations.delete(key)  # a new ReplicaSet of this name starts clean
        self.enqueue(key)

    def _resolve(self, namespace: str, ref: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The ReplicaSet a controller reference points at, if it is in the cache with that UID."""
        if ref.get("kind") != "ReplicaSet":
            return None
        rs = self.replicasets.get(f"{namespace}/{ref.get('name', '')}")
        if rs is None or meta(rs).get("uid") != ref.get("uid"):
            return None
        return rs

    def _matching(self, pod: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        """getPodReplicaSets: the ReplicaSets of the pod's namespace that select it."""
        ns = meta(pod).get("namespace") or ""
        return [
            rs
            for rs in self.replicasets.list()
            if (meta(rs).get("namespace") or "") == ns
            and selector_matches(spec(rs).get("selector"), labels(pod))
        ]

    def _add_pod(self, pod: Mapping[str, Any]) -> None:
        if meta(pod).get("deletionTimestamp"):
            self._delete_pod(pod)  # seen for the first time already terminating
            return
        ns = meta(pod).get("namespace") or ""
        ref = controller_ref(pod)
        if ref is not None:
            rs = self._resolve(ns, ref)
            if rs is not None:
                self.expectations.creation_observed(key_of(rs))
                self.enqueue(key_of(rs))
            return
        for rs in self._matching(pod):
            self.enqueue(key_of(rs))

    def _update_pod(self, old: Mapping[str, Any], cur: Mapping[str, Any]) -> None:
        if meta(old).get("resourceVersion") == meta(cur).get("resourceVersion"):
            return  # a relist with nothing new
        ns = meta(cur).get("namespace") or ""
        labels_changed = labels(old) != labels(cur)
        if meta(cur).get("deletionTimestamp"):
            self._delete_pod(cur)
            if labels_changed:
                self._delete_pod(old)
            return
        old_ref, cur_ref = controller_ref(old), controller_ref(cur)
        ref_changed = old_ref != cur_ref
        if ref_changed and old_ref is not None:
            rs = self._resolve(ns, old_ref)
            if rs is not None:
                self.enqueue(key_of(rs))
        if cur_ref is not None:
            rs = self._resolve(ns, cur_ref)
            if rs is not None:
                self.enqueue(key_of(rs))
                min_ready = spec(rs).get("minReadySeconds") or 0
                if min_ready > 0 and not is_pod_ready(old) and is_pod_ready(cur):
                    # check availability once minReadySeconds have passed (+1 s against skew)
                    self.enqueue_after(key_of(rs), min_ready + 1)
            return
        if labels_changed or ref_changed:
            for rs in self._matching(cur):
                self.enqueue(key_of(rs))

    def _delete_pod(self, pod: Mapping[str, Any]) -> None:
        ref = controller_ref(pod)
        if ref is None:
            return
        rs = self._resolve(meta(pod).get("namespace") or "", ref)
        if rs is None:
            return
        self.expectations.deletion_observed(key_of(rs), pod_key(pod))
        self.enqueue(key_of(rs))

    # -- the sync ------------------------------------------------------------------------------
    def _pods_in(self, namespace: str) -> list[Mapping[str, Any]]:
        prefix = f"{namespace}/"
        return [p for k, p in sorted(self.pods.cache.items()) if k.startswith(prefix)]

    def sync(self, key: str) -> Sync:
        """syncReplicaSet for `key`: claim, manage replicas, write status."""
        rs = self.replicasets.get(key)
        if rs is None:
            self.expectations.delete(key)
            return Outcome()
        now = self.now()
        ns = meta(rs).get("namespace") or "default"
        pods = self._pods_in(ns)
        plan = reconcile(
            rs, pods, now, expectations=self.expectations, burst_replicas=self.burst_replicas
        )
        if plan.create or plan.delete or plan.adopt or plan.release:
            self.trace.emit(
                self.name, "sync", key=key, create=plan.create, delete=len(plan.delete),
                **({"adopt": len(plan.adopt)} if plan.adopt else {}),
                **({"release": len(plan.release)} if plan.release else {}),
            )  # fmt: skip
        by_name = {name(p): p for p in pods}
        claims = [
            *(Call("PATCH", _pod_path(ns, n), adopt_patch(rs, by_name[n])) for n in plan.adopt),
            *(Call("PATCH", _pod_path(ns, n), release_patch(rs, by_name[n])) for n in plan.release),
        ]
        if claims:
            responses = yield claims
            for i, resp in enumerate(responses):
                # a pod that is gone needs nothing more; nor does a released one now invalid
                ignored = (404,) if i < len(plan.adopt) else (404, 422)
                if not resp.ok and resp.code not in ignored:
                    return Outcome(error=error_text(resp))
        manage_error = None
        if plan.create:
            manage_error = yield from self._create_pods(
                key, rs, ns, plan.create, plan.create_batches
            )
        elif plan.delete:
            manage_error = yield from self._delete_pods(key, rs, ns, plan.delete)
        new_status = plan.status
        if manage_error is not None:
            active, _, _ = claim_pods(rs, [p for p in pods if is_pod_active(p)])
            new_status = calculate_status(rs, active, now, manage_error=manage_error)
        if new_status != dict(status(rs)):
            failed = yield from self._update_status(rs, ns, new_status)
            if failed is not None:
                return Outcome(error=manage_error or failed)
        if manage_error is not None:
            return Outcome(error=manage_error)
        return Outcome(requeue_after=plan.requeue_after)

    def _create_pods(
        self, key: str, rs: Mapping[str, Any], ns: str, count: int, batches: list[int]
    ) -> Sync:
        """Slow start: batches of 1, 2, 4 ...; a failure skips every later batch, and the
        expectations for pods never created are lowered at once."""
        self.expectations.expect_creations(key, count, self.now())
        created, error = 0, None
        for size in batches:
            template = pod_from_template(rs)
            path = collection_path(PODS, ns)
            responses = yield [Call("POST", path, copy.deepcopy(template)) for _ in range(size)]
            for resp in responses:
                if resp.ok:
                    created += 1
                    self.recorder.event(
                        rs, "Normal", "SuccessfulCreate", f"Created pod: {name(resp.body)}"
                    )
                else:
                    error = error or error_text(resp)
                    self.recorder.event(
                        rs, "Warning", "FailedCreate", f"Error creating: {error_text(resp)}"
                    )
            if error is not None:
                break
        for _ in range(count - created):
            self.expectations.creation_observed(key)
        return error

    def _delete_pods(
        self, key: str, rs: Mapping[str, Any], ns: str, victims: list[Mapping[str, Any]]
    ) -> Sync:
        """Delete all at once, after recording which pods are expected to go."""
        self.expectations.expect_deletions(key, [pod_key(p) for p in victims], self.now())
        responses = yield [Call("DELETE", _pod_path(ns, name(p))) for p in victims]
        error = None
        for pod, resp in zip(victims, responses, strict=True):
            if resp.ok:
                self.recorder.event(rs, "Normal", "SuccessfulDelete", f"Deleted pod: {name(pod)}")
                continue
            self.expectations.deletion_observed(key, pod_key(pod))
            if resp.code != 404:
                self.recorder.event(
                    rs, "Warning", "FailedDelete", f"Error deleting: {error_text(resp)}"
                )
                error = error or f"unable to delete pods: {error_text(resp)}"
        return error

    def _update_status(self, rs: Mapping[str, Any], ns: str, new_status: dict) -> Sync:
        """PUT .../status; on a conflict GET the latest and try once more (statusUpdateRetries)."""
        path = object_path(REPLICASETS, name(rs), ns, "status")
        body = copy.deepcopy(dict(rs))
        body["status"] = new_status
        (resp,) = yield [Call("PUT", path, body)]
        if resp.code == 409:
            (got,) = yield [Call("GET", object_path(REPLICASETS, name(rs), ns))]
            if not got.ok:
                return error_text(got)
            body = copy.deepcopy(dict(got.body))
            body["status"] = new_status
            (resp,) = yield [Call("PUT", path, body)]
        if not resp.ok:
            return error_text(resp)
        self.trace.emit(
            self.name, "update-status", key=key_of(rs), replicas=new_status.get("replicas", 0),
            ready=new_status.get("readyReplicas", 0),
            available=new_status.get("availableReplicas", 0),
        )  # fmt: skip
        return None


def _pod_path(ns: str, pod_name: str) -> str:
    return object_path(PODS, pod_name, ns)


__all__ = ["ReplicaSetController"]
