"""The DaemonSet controller as a host: DaemonSet, Pod and Node informers, expectations and the
API requests around the pure decisions of daemonset.py and daemonset_update.py.

Semantics: pkg/controller/daemon/daemon_controller.go (syncDaemonSet: claim pods, manage, then
rollingUpdate once expectations are met; syncNodes with burstReplicas 250 and slow start;
node events enqueue only the DaemonSets whose verdict for that node changed; status written
when it changed, observedGeneration only after a full sync).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from ..api.kinds import KINDS
from ..api.rest import collection_path, object_path
from ._util import controller_ref, labels, meta, name, selector_matches, spec, status
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
from .controller_utils import Expectations, _Record, slow_start_batches
from .daemonset import (
    BURST_REPLICAS,
    FailedPodsBackoff,
    calculate_status,
    claim,
    new_pod,
    node_should_run_daemon_pod,
    nodes_to_daemon_pods,
    pods_should_be_on_nodes,
)
from .daemonset_update import rolling_update
from .deployment_util import compute_hash

PODS, NODES, DAEMONSETS = KINDS["Pod"], KINDS["Node"], KINDS["DaemonSet"]


class DaemonExpectations(Expectations):
    """ControllerExpectations.SetExpectations: creates and deletes expected together, as
    syncNodes sets them (deletions tracked by pod key)."""

    def expect(self, key: str, adds: int, pod_keys: list[str], now: float) -> None:
        self._records[key] = _Record(adds, len(set(pod_keys)), now, set(pod_keys))


def revision_hash(ds: Mapping[str, Any]) -> str:
    """The controller-revision-hash of the current template (ComputeHash with the
    DaemonSet's collisionCount)."""
    return compute_hash(spec(ds).get("template"), status(ds).get("collisionCount"))


class DaemonSetController(Controller):
    """Runs one pod of each DaemonSet on every node that should run it, and rolls them."""

    name = "daemonset-controller"
    workers = 2  # --concurrent-daemonset-syncs
    burst_replicas = BURST_REPLICAS

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.expectations = DaemonExpectations()
        self.backoff = FailedPodsBackoff()
        self.daemonsets = self.informer(DAEMONSETS)
        self.pods = self.informer(PODS)
        self.nodes = self.informer(NODES)
        self.daemonsets.add_handlers(
            on_add=self._ds_changed,
            on_update=lambda old, cur: self._ds_changed(cur),
            on_delete=self._ds_deleted,
        )
        self.pods.add_handlers(
            on_add=self._add_pod, on_update=self._update_pod, on_delete=self._delete_pod
        )
        self.nodes.add_handlers(
            on_add=self._add_node, on_update=self._update_node, on_delete=self._delete_node
        )

    # -- handlers ------------------------------------------------------------------------------
    def _ds_changed(self, ds: Mapping[str, Any]) -> None:
        self.enqueue(key_of(ds))

    def _ds_deleted(self, ds: Mapping[str, Any]) -> None:
        self.expectations.delete(key_of(ds))
        self.enqueue(key_of(ds))

    def _owner(self, pod: Mapping[str, Any]) -> Mapping[str, Any] | None:
        ref = controller_ref(pod)
        if ref is None or ref.get("kind") != "DaemonSet":
            return None
        ds = self.daemonsets.get(f"{meta(pod).get('namespace') or ''}/{ref.get('name', '')}")
        return ds if ds is not None and meta(ds).get("uid") == ref.get("uid") else None

    def _matching(self, pod: Mapping[str, Any]) -> list[str]:
        ns = meta(pod).get("namespace") or ""
        return [
            key_of(ds)
            for ds in self.daemonsets.list()
            if (meta(ds).get("namespace") or "") == ns
            and selector_matches(spec(ds).get("selector"), labels(pod))
        ]

    def _add_pod(self, pod: Mapping[str, Any]) -> None:
        ds = self._owner(pod)
        if ds is not None:
            self.expectations.creation_observed(key_of(ds))
            self.enqueue(key_of(ds))
        elif controller_ref(pod) is None:
            for key in self._matching(pod):
                self.enqueue(key)

    def _update_pod(self, old: Mapping[str, Any], cur: Mapping[str, Any]) -> None:
        if meta(old).get("resourceVersion") == meta(cur).get("resourceVersion"):
            return
        if meta(cur).get("deletionTimestamp"):
            self._delete_pod(cur)  # a graceful delete counts as seen once it starts
            return
        keys = set()
        for pod in (old, cur):
            ds = self._owner(pod)
            if ds is not None:
                keys.add(key_of(ds))
        if controller_ref(cur) is None:
            keys.update(self._matching(cur))
        for key in sorted(keys):
            self.enqueue(key)

    def _delete_pod(self, pod: Mapping[str, Any]) -> None:
        ds = self._owner(pod)
        if ds is None:
            return
        self.expectations.deletion_observed(key_of(ds), _pod_key(pod))
        self.enqueue(key_of(ds))

    def _add_node(self, node: Mapping[str, Any]) -> None:
        for ds in self.daemonsets.list():
            if node_should_run_daemon_pod(node, ds)[0]:
                self.enqueue(key_of(ds))

    def _update_node(self, old: Mapping[str, Any], cur: Mapping[str, Any]) -> None:
        for ds in self.daemonsets.list():
            if node_should_run_daemon_pod(old, ds) != node_should_run_daemon_pod(cur, ds):
                self.enqueue(key_of(ds))

    def _delete_node(self, node: Mapping[str, Any]) -> None:
        # upstream waits for the pod garbage collector; recounting at once keeps status honest
        for ds in self.daemonsets.list():
            self.enqueue(key_of(ds))

    # -- the sync ------------------------------------------------------------------------------
    def sync(self, key: str) -> Sync:
        ds = self.daemonsets.get(key)
        if ds is None:
            self.expectations.delete(key)
            return Outcome()
        if meta(ds).get("deletionTimestamp"):
            return Outcome()
        ns = meta(ds).get("namespace") or "default"
        now = self.now()
        hash_ = revision_hash(ds)
        nodes = self.nodes.list()
        prefix = f"{ns}/"
        pods = [p for k, p in sorted(self.pods.cache.items()) if k.startswith(prefix)]
        claimed, adopt, release = claim(ds, pods)
        by_name = {name(p): p for p in pods}
        claims = [
            *(Call("PATCH", _pod_path(ns, n), adopt_patch(ds, by_name[n])) for n in adopt),
            *(Call("PATCH", _pod_path(ns, n), release_patch(ds, by_name[n])) for n in release),
        ]
        if claims:
            for resp in (yield claims):
                if not resp.ok and resp.code not in (404, 422):
                    return Outcome(error=error_text(resp))
        node_pods = nodes_to_daemon_pods(ds, claimed)
        error, requeue = None, None
        full_sync = self.expectations.satisfied(key, now)
        if full_sync:
            actions = pods_should_be_on_nodes(ds, nodes, node_pods, self.backoff, now, hash_)
            requeue = actions.requeue_after
            for message in actions.failed:
                self.recorder.event(ds, "Warning", "FailedDaemonPod", message)
            for message in actions.succeeded:
                self.recorder.event(ds, "Normal", "SucceededDaemonPod", message)
            create_on, delete = actions.create_on, actions.delete
            if not create_on and not delete and _rolling(ds):
                # the manage loop had nothing to do, so its expectations are met
                delete, create_on = rolling_update(ds, nodes, node_pods, hash_, now)
            if create_on or delete:
                self.trace.emit(
                    self.name, "sync", key=key, create=len(create_on), delete=len(delete)
                )
                error = yield from self._sync_nodes(key, ds, ns, create_on, delete, hash_)
        new_status = calculate_status(ds, nodes, node_pods, hash_, now)
        if not full_sync:  # observedGeneration only moves after a full sync
            new_status.pop("observedGeneration", None)
            if status(ds).get("observedGeneration"):
                new_status["observedGeneration"] = status(ds)["observedGeneration"]
        if new_status != dict(status(ds)):
            failed = yield from self._update_status(ds, ns, new_status)
            error = error or failed
        min_ready = spec(ds).get("minReadySeconds") or 0
        if min_ready and new_status["numberReady"] != new_status.get("numberAvailable", 0):
            requeue = min(requeue or min_ready, min_ready)
        return Outcome(error=error, requeue_after=requeue)

    def _sync_nodes(
        self, key: str, ds: Mapping[str, Any], ns: str, create_on: list[str],
        delete: list[str], hash_: str,
    ) -> Sync:  # fmt: skip
        """syncNodes: at most burstReplicas creates (slow start) and deletes, expected first."""
        create_on = create_on[: self.burst_replicas]
        delete = delete[: self.burst_replicas]
        self.expectations.expect(key, len(create_on), [f"{ns}/{n}" for n in delete], self.now())
        error = None
        created = 0
        queue = list(create_on)
        for size in slow_start_batches(len(create_on)):
            batch, queue = queue[:size], queue[size:]
            calls = [Call("POST", collection_path(PODS, ns), new_pod(ds, n, hash_)) for n in batch]
            for resp in (yield calls):
                if resp.ok:
                    created += 1
                    self.recorder.event(
                        ds, "Normal", "SuccessfulCreate", f"Created pod: {name(resp.body)}"
                    )
                else:
                    error = error or error_text(resp)
                    self.recorder.event(
                        ds, "Warning", "FailedCreate", f"Error creating: {error_text(resp)}"
                    )
            if error is not None:
                break
        if delete:
            calls = [Call("DELETE", _pod_path(ns, n)) for n in delete]
            for pod_name, resp in zip(delete, (yield calls), strict=True):
                if resp.ok:
                    self.recorder.event(
                        ds, "Normal", "SuccessfulDelete", f"Deleted pod: {pod_name}"
                    )
                    continue
                self.expectations.deletion_observed(key, f"{ns}/{pod_name}")
                if resp.code != 404:
                    self.recorder.event(
                        ds, "Warning", "FailedDelete", f"Error deleting: {error_text(resp)}"
                    )
                    error = error or error_text(resp)
        return error

    def _update_status(self, ds: Mapping[str, Any], ns: str, new_status: dict) -> Sync:
        path = object_path(DAEMONSETS, name(ds), ns, "status")
        body = copy.deepcopy(dict(ds))
        body["status"] = new_status
        (resp,) = yield [Call("PUT", path, body)]
        if resp.code == 409:  # one retry on the latest version, as storeDaemonSetStatus
            (got,) = yield [Call("GET", object_path(DAEMONSETS, name(ds), ns))]
            if not got.ok:
                return error_text(got)
            body = copy.deepcopy(dict(got.body))
            body["status"] = new_status
            (resp,) = yield [Call("PUT", path, body)]
        if not resp.ok:
            return error_text(resp)
        self.trace.emit(
            self.name, "update-status", key=key_of(ds),
            desired=new_status["desiredNumberScheduled"],
            current=new_status["currentNumberScheduled"], ready=new_status["numberReady"],
            updated=new_status.get("updatedNumberScheduled", 0),
        )  # fmt: skip
        return None


def _rolling(ds: Mapping[str, Any]) -> bool:
    return (spec(ds).get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"


def _pod_key(pod: Mapping[str, Any]) -> str:
    return f"{meta(pod).get('namespace') or ''}/{name(pod)}"


def _pod_path(ns: str, pod_name: str) -> str:
    return object_path(PODS, pod_name, ns)


__all__ = ["DaemonSetController", "revision_hash"]
