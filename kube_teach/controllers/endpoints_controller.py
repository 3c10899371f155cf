"""The Endpoints controller as a host: Service and Pod informers around `desired_endpoints`.

Semantics: pkg/controller/endpoint/endpoints_controller.go (a Service key per sync; pod events
enqueue the Services that select the pod before and after the change; a deleted Service takes
its Endpoints along; a change to an Endpoints object the controller owns brings its Service back
to the queue). `ServicePodController` is the skeleton the EndpointSlice controller shares.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from ..api.kinds import KINDS
from ..api.rest import collection_path, object_path
from ._util import labels, meta, spec
from .base import Call, Controller, ControllerContext, Outcome, Sync, error_text, key_of
from .endpoints import OVER_CAPACITY, desired_endpoints, endpoints_changed, service_selects

PODS, SERVICES, ENDPOINTS = KINDS["Pod"], KINDS["Service"], KINDS["Endpoints"]


class ServicePodController(Controller):
    """Services and the pods they select: each Service key is synced when the Service or any
    pod it selects (before or after a change) changes."""

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.services = self.informer(SERVICES)
        self.pods = self.informer(PODS)
        self.services.add_handlers(
            on_add=self._service_changed,
            on_update=lambda old, cur: self._service_changed(cur),
            on_delete=self._service_changed,
        )
        self.pods.add_handlers(
            on_add=self._pod_changed, on_update=self._pod_updated, on_delete=self._pod_changed
        )

    def _service_changed(self, service: Mapping[str, Any]) -> None:
        self.enqueue(key_of(service))

    def _services_for(self, pod: Mapping[str, Any]) -> list[str]:
        ns = meta(pod).get("namespace") or ""
        return [
            key_of(svc)
            for svc in self.services.list()
            if (meta(svc).get("namespace") or "") == ns and service_selects(svc, pod)
        ]

    def _pod_changed(self, pod: Mapping[str, Any]) -> None:
        for key in self._services_for(pod):
            self.enqueue(key)

    def _pod_updated(self, old: Mapping[str, Any], cur: Mapping[str, Any]) -> None:
        if meta(old).get("resourceVersion") == meta(cur).get("resourceVersion"):
            return  # a relist with nothing new
        keys = set(self._services_for(cur))
        if labels(old) != labels(cur):
            keys.update(self._services_for(old))  # the Services it left
        for key in sorted(keys):
            self.enqueue(key)

    def pods_in(self, namespace: str) -> list[Mapping[str, Any]]:
        prefix = f"{namespace}/"
        return [p for k, p in sorted(self.pods.cache.items()) if k.startswith(prefix)]


class EndpointsController(ServicePodController):
    """Writes one Endpoints object per Service with a selector, named as the Service."""

    name = "endpoints-controller"
    workers = 5  # --concurrent-endpoint-syncs

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.endpoints = self.informer(ENDPOINTS)
        self.endpoints.add_handlers(
            on_update=lambda old, cur: self._endpoints_changed(cur),
            on_delete=self._endpoints_changed,
        )

    def _endpoints_changed(self, endpoints: Mapping[str, Any]) -> None:
        # only Endpoints of a Service the controller manages matter; sync repairs them
        if self.services.get(key_of(endpoints)) is not None:
            self.enqueue(key_of(endpoints))

    def sync(self, key: str) -> Sync:
        ns, _, svc_name = key.partition("/")
        service = self.services.get(key)
        if service is None:
            # the Service is gone: its Endpoints go too (404 means already gone)
            (resp,) = yield [Call("DELETE", object_path(ENDPOINTS, svc_name, ns))]
            if not resp.ok and resp.code != 404:
                return Outcome(error=error_text(resp))
            return Outcome()
        if not spec(service).get("selector"):
            return Outcome()  # endpoints of a Service without selector are someone else's
        desired = desired_endpoints(service, self.pods_in(ns))
        current = self.endpoints.get(key)
        if not endpoints_changed(current, desired):
            return Outcome()
        if current is None:
            call = Call("POST", collection_path(ENDPOINTS, ns), desired)
        else:
            body = copy.deepcopy(dict(current))
            body["metadata"]["labels"] = desired["metadata"]["labels"]
            annotations = dict(body["metadata"].pop("annotations", None) or {})
            annotations.pop(OVER_CAPACITY, None)
            annotations.update(desired["metadata"].get("annotations") or {})
            if annotations:
                body["metadata"]["annotations"] = annotations
            body.pop("subsets", None)
            if desired.get("subsets"):
                body["subsets"] = desired["subsets"]
            call = Call("PUT", object_path(ENDPOINTS, svc_name, ns), body)
        (resp,) = yield [call]
        if not resp.ok:
            self.recorder.event(
                service, "Warning", "FailedToUpdateEndpoint",
                f"Failed to update endpoint {key}: {error_text(resp)}",
            )  # fmt: skip
            return Outcome(error=error_text(resp))
        subsets = desired.get("subsets") or []
        self.trace.emit(
            self.name, "endpoints", key=key,
            ready=sum(len(s.get("addresses") or ()) for s in subsets),
            not_ready=sum(len(s.get("notReadyAddresses") or ()) for s in subsets),
        )  # fmt: skip
        return Outcome()


__all__ = ["EndpointsController", "ServicePodController"]
