"""The EndpointSlice controller as a host: Service, Pod, Node and EndpointSlice informers around
the pure `reconcile`.

Semantics: pkg/controller/endpointslice/endpointslice_controller.go (syncService: Services
without a selector are left alone; slices of a deleted Service are left to the garbage
collector through their ownerReference; writes go creates, then updates, then deletes; pods on
a node not yet known are skipped and the Service is retried).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..api.kinds import KINDS
from ..api.rest import collection_path, object_path
from ._util import labels, meta, name, spec
from .base import Call, ControllerContext, Outcome, Sync, error_text
from .endpoints_controller import ServicePodController
from .endpointslice import CONTROLLER_NAME, LABEL_MANAGED_BY, LABEL_SERVICE_NAME, reconcile

NODES, SLICES = KINDS["Node"], KINDS["EndpointSlice"]


class EndpointSliceController(ServicePodController):
    """Keeps the EndpointSlices of every Service with a selector: ≤100 endpoints each."""

    name = "endpointslice-controller"
    workers = 5  # --concurrent-service-endpoint-syncs
    max_endpoints_per_slice = 100  # --max-endpoints-per-slice

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.nodes = self.informer(NODES)
        self.slices = self.informer(SLICES)
        self.slices.add_handlers(
            on_add=self._slice_changed,
            on_update=lambda old, cur: self._slice_changed(cur),
            on_delete=self._slice_changed,
        )

    def _slice_changed(self, slice_: Mapping[str, Any]) -> None:
        slice_labels = labels(slice_)
        if slice_labels.get(LABEL_MANAGED_BY) != CONTROLLER_NAME:
            return
        service = slice_labels.get(LABEL_SERVICE_NAME)
        if service:
            self.enqueue(f"{meta(slice_).get('namespace') or ''}/{service}")

    def slices_of(self, namespace: str, service: str) -> list[Mapping[str, Any]]:
        prefix = f"{namespace}/"
        return [
            s
            for k, s in sorted(self.slices.cache.items())
            if k.startswith(prefix)
            and labels(s).get(LABEL_SERVICE_NAME) == service
            and labels(s).get(LABEL_MANAGED_BY) == CONTROLLER_NAME
        ]

    def sync(self, key: str) -> Sync:
        ns, _, svc_name = key.partition("/")
        service = self.services.get(key)
        if service is None or not spec(service).get("selector"):
            return Outcome()
        nodes = {name(n): n for n in self.nodes.list()}
        plan = reconcile(
            service, self.pods_in(ns), nodes, self.slices_of(ns, svc_name),
            self.max_endpoints_per_slice,
        )  # fmt: skip
        error = plan.skipped[0] if plan.skipped else None
        if plan.empty:
            return Outcome(error=error)
        self.trace.emit(
            self.name, "sync", key=key, create=len(plan.create), update=len(plan.update),
            delete=len(plan.delete),
        )  # fmt: skip
        batches = [
            [Call("POST", collection_path(SLICES, ns), body) for body in plan.create],
            [Call("PUT", object_path(SLICES, name(b), ns), b) for b in plan.update],
            [Call("DELETE", object_path(SLICES, name(s), ns)) for s in plan.delete],
        ]
        for i, calls in enumerate(batches):
            if not calls:
                continue
            responses = yield calls
            for resp in responses:
                if resp.ok or (i == 2 and resp.code == 404):
                    continue
                self.recorder.event(
                    service, "Warning", "FailedToUpdateEndpointSlices",
                    f"Error updating Endpoint Slices for Service {key}: {error_text(resp)}",
                )  # fmt: skip
                return Outcome(error=error_text(resp))
        return Outcome(error=error)


__all__ = ["EndpointSliceController"]
