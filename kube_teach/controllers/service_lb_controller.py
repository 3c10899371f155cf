"""The cloud service controller (`service-lb-controller`) as a host: Services of type
LoadBalancer get a cloud load balancer and its address in status.loadBalancer.ingress.

Semantics: k8s.io/cloud-provider controllers/service (syncLoadBalancerIfNeeded: the
load-balancer-cleanup finalizer goes on before the cloud is asked and comes off after the load
balancer is deleted; events from component `service-controller` worded as upstream; node
changes update the backends; --concurrent-service-syncs 1). Provisioning takes simulated time
here, so a sync that finds its load balancer still provisioning comes back when it is due.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from ..api.kinds import KINDS
from ..api.rest import object_path
from ._util import meta, name, spec, status
from .base import Call, Controller, ControllerContext, EventRecorder, Outcome, Sync, error_text
from .service_lb import (
    LOAD_BALANCER_CLEANUP_FINALIZER,
    CloudError,
    CloudProvider,
    backend_nodes,
    frontend_ports,
    node_included,
    node_ready,
    wants_load_balancer,
)

SERVICES, NODES, SLICES = KINDS["Service"], KINDS["Node"], KINDS["EndpointSlice"]
COMPONENT = "service-controller"  # the events' source, as upstream's recorder names it
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def has_finalizer(service: Mapping[str, Any]) -> bool:
    return LOAD_BALANCER_CLEANUP_FINALIZER in (meta(service).get("finalizers") or ())


def needs_cleanup(service: Mapping[str, Any]) -> bool:
    """needsCleanup: the finalizer is on and the Service is leaving or no longer wants one."""
    if not has_finalizer(service):
        return False
    return bool(meta(service).get("deletionTimestamp")) or not wants_load_balancer(service)


def _signature(service: Mapping[str, Any]) -> tuple:
    s = spec(service)
    return (str(frontend_ports(service)), s.get("externalTrafficPolicy"),
            s.get("healthCheckNodePort"), s.get("loadBalancerSourceRanges") and
            tuple(s["loadBalancerSourceRanges"]))  # fmt: skip


def cloud_for(ctx: ControllerContext) -> CloudProvider:
    """The cloud this controller manager talks to: `ctx.cloud` when the cluster provides one,
    otherwise one kept on the process's host so that it outlives restarts of the controller."""
    cloud = getattr(ctx, "cloud", None)
    if cloud is None:
        cloud = ctx.host.disk.get("cloud-provider")
        if cloud is None:
            cloud = CloudProvider(random.Random(f"{ctx.epoch_ns}/cloud-provider"))
            ctx.host.disk["cloud-provider"] = cloud
    return cloud


class ServiceLBController(Controller):
    """Provisions, updates and deletes cloud load balancers for Services."""

    name = "service-lb-controller"
    workers = 1  # --concurrent-service-syncs

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.cloud = cloud_for(ctx)
        self.recorder = EventRecorder(self.client, COMPONENT, ctx.epoch_ns, ctx.trace)
        self.services = self.informer(SERVICES)
        self.nodes = self.informer(NODES)
        self.slices = self.informer(SLICES)
        self._ensuring: dict[str, None] = {}  # keys whose Ensuring event awaits its Ensured
        self._ensured: dict[str, tuple] = {}  # key -> the spec last ensured (serviceCache)
        self._gone: dict[str, Mapping[str, Any]] = {}  # last copy of deleted Services
        self.services.add_handlers(
            on_add=self._service_added,
            on_update=self._service_updated,
            on_delete=self._service_deleted,
        )
        self.nodes.add_handlers(
            on_add=lambda n: self._nodes_changed(),
            on_update=self._node_updated,
            on_delete=lambda n: self._nodes_changed(),
        )
        self.slices.add_handlers(
            on_add=self._slice_changed,
            on_update=lambda old, cur: self._slice_changed(cur),
            on_delete=self._slice_changed,
        )

    # -- handlers ------------------------------------------------------------------------------
    def _service_added(self, svc: Mapping[str, Any]) -> None:
        self._gone.pop(_key(svc), None)
        self.enqueue(_key(svc))

    def _service_updated(self, old: Mapping[str, Any], cur: Mapping[str, Any]) -> None:
        old_type, new_type = spec(old).get("type"), spec(cur).get("type")
        if old_type != new_type and "LoadBalancer" in (old_type, new_type):
            self.recorder.event(cur, "Normal", "Type", f"{old_type} -> {new_type}")
        self.enqueue(_key(cur))

    def _service_deleted(self, svc: Mapping[str, Any]) -> None:
        self._gone[_key(svc)] = svc
        self.enqueue(_key(svc))

    def _lb_services(self) -> list[str]:
        return [_key(s) for s in self.services.list() if wants_load_balancer(s) or has_finalizer(s)]

    def _nodes_changed(self) -> None:
        for key in self._lb_services():
            self.enqueue(key)

    def _node_updated(self, old: Mapping[str, Any], cur: Mapping[str, Any]) -> None:
        if (node_included(old), node_ready(old)) != (node_included(cur), node_ready(cur)):
            self._nodes_changed()

    def _slice_changed(self, slice_: Mapping[str, Any]) -> None:
        svc_name = (meta(slice_).get("labels") or {}).get(SERVICE_NAME_LABEL)
        key = f"{meta(slice_).get('namespace') or ''}/{svc_name}"
        svc = self.services.get(key) if svc_name else None
        if svc is not None and spec(svc).get("externalTrafficPolicy") == "Local":
            self.enqueue(key)

    # -- the sync ------------------------------------------------------------------------------
    def sync(self, key: str) -> Sync:
        svc = self.services.get(key)
        if svc is None:
            gone = self._gone.pop(key, None)
            self._ensured.pop(key, None)
            self._ensuring.pop(key, None)
            if gone is not None and self.cloud.get_load_balancer(gone) is not None:
                self._delete_lb(gone)
            return Outcome()
        if needs_cleanup(svc):
            return (yield from self._cleanup(key, svc))
        if not wants_load_balancer(svc):
            return Outcome()
        return (yield from self._ensure(key, svc))

    def _delete_lb(self, svc: Mapping[str, Any]) -> None:
        self.recorder.event(svc, "Normal", "DeletingLoadBalancer", "Deleting load balancer")
        self.cloud.ensure_load_balancer_deleted(svc)
        self.trace.emit(self.name, "deleted-load-balancer", service=_key(svc))
        self.recorder.event(svc, "Normal", "DeletedLoadBalancer", "Deleted load balancer")

    def _cleanup(self, key: str, svc: Mapping[str, Any]) -> Sync:
        self._ensured.pop(key, None)
        self._ensuring.pop(key, None)
        if self.cloud.get_load_balancer(svc) is not None:
            self._delete_lb(svc)
        if (status(svc).get("loadBalancer") or {}).get("ingress"):
            path = object_path(SERVICES, name(svc), meta(svc).get("namespace"), "status")
            (resp,) = yield [Call("PATCH", path, {"status": {"loadBalancer": {"ingress": None}}})]
            if not resp.ok and resp.code != 404:
                return Outcome(error=error_text(resp))
        left = [
            f for f in meta(svc).get("finalizers") or () if f != LOAD_BALANCER_CLEANUP_FINALIZER
        ]
        return (yield from self._patch_finalizers(svc, left))

    def _patch_finalizers(self, svc: Mapping[str, Any], finalizers: list[str]) -> Sync:
        path = object_path(SERVICES, name(svc), meta(svc).get("namespace"))
        patch = {"metadata": {"finalizers": finalizers or None,
                              "resourceVersion": meta(svc).get("resourceVersion")}}  # fmt: skip
        (resp,) = yield [Call("PATCH", path, patch)]
        if not resp.ok and resp.code != 404:
            return Outcome(error=error_text(resp))
        return Outcome()

    def _ensure(self, key: str, svc: Mapping[str, Any]) -> Sync:
        if not has_finalizer(svc):  # before the cloud is touched, so nothing can leak
            finalizers = [*(meta(svc).get("finalizers") or ()), LOAD_BALANCER_CLEANUP_FINALIZER]
            outcome = yield from self._patch_finalizers(svc, finalizers)
            if outcome.error is not None:
                return outcome
        now = self.clock_seconds()
        nodes = self.nodes.list()
        backends = backend_nodes(nodes)
        lb = self.cloud.get_load_balancer(svc)
        wanted = _signature(svc)
        if lb is None or self._ensured.get(key) != wanted:
            if key not in self._ensuring:
                self._ensuring[key] = None
                self.recorder.event(svc, "Normal", "EnsuringLoadBalancer", "Ensuring load balancer")
            try:
                lb = self.cloud.ensure_load_balancer(svc, backends, now)
            except CloudError as err:
                self._ensuring.pop(key, None)
                message = f"Error syncing load balancer: failed to ensure load balancer: {err}"
                self.recorder.event(svc, "Warning", "SyncLoadBalancerFailed", message)
                return Outcome(error=str(err))
            self._ensured[key] = wanted
        if not lb.active(now):
            return Outcome(requeue_after=lb.ready_at - now)
        if lb.nodes != backends:
            self.cloud.update_load_balancer(svc, backends)
            if key not in self._ensuring:
                self.recorder.event(
                    svc, "Normal", "UpdatedLoadBalancer", "Updated load balancer with new hosts"
                )
        slices = [s for s in self.slices.list() if _slice_of(s) == key]
        self.cloud.health_check(svc, nodes, slices)
        if (status(svc).get("loadBalancer") or {}) != lb.status():
            path = object_path(SERVICES, name(svc), meta(svc).get("namespace"), "status")
            (resp,) = yield [Call("PATCH", path, {"status": {"loadBalancer": lb.status()}})]
            if not resp.ok:
                return Outcome(error=error_text(resp))
            self.trace.emit(self.name, "load-balancer-ready", service=key, ip=lb.ip)
        if key in self._ensuring:
            self._ensuring.pop(key)
            self.recorder.event(svc, "Normal", "EnsuredLoadBalancer", "Ensured load balancer")
        return Outcome()

    def clock_seconds(self) -> float:
        """Simulated seconds since t=0: the cloud's own clock."""
        return self.ctx.clock.now_ns / 1e9


def _key(obj: Mapping[str, Any]) -> str:
    return f"{meta(obj).get('namespace') or ''}/{name(obj)}"


def _slice_of(slice_: Mapping[str, Any]) -> str:
    svc_name = (meta(slice_).get("labels") or {}).get(SERVICE_NAME_LABEL, "")
    return f"{meta(slice_).get('namespace') or ''}/{svc_name}"


__all__ = [
    "COMPONENT",
    "ServiceLBController",
    "cloud_for",
    "has_finalizer",
    "needs_cleanup",
    "wants_load_balancer",
]
