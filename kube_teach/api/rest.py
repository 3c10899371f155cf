"""The wire between components and the API server: HTTP-shaped requests and responses as
messages on the simulated network, and the REST paths Kubernetes uses.

Semantics: the Kubernetes REST API (`/api/v1/namespaces/<ns>/pods/<name>/<subresource>`,
`/apis/<group>/<version>/...`, `?watch=1&resourceVersion=...`), so what a learner sees in a
trace is what `kubectl -v=6` would print. Bodies are Kubernetes JSON (dicts) or a Status.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from .kinds import KindInfo


@dataclass(frozen=True)
class Request:
    """One HTTP request: `GET /api/v1/namespaces/default/pods?labelSelector=app%3Dweb`.

    `credentials` is what the client presents: `{"token": "..."}`, or a client certificate
    `{"cert": {"cn": "alice", "o": ["dev"]}}`; the API server's authenticators read it.
    `id` pairs the response with the request; `user_agent` shows up in audit events.
    """

    id: int
    method: str
    path: str
    body: Any = None
    credentials: Mapping[str, Any] = field(default_factory=dict)
    user_agent: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class Response:
    """The reply to request `id`: an HTTP status code, a body, and headers (`Retry-After`)."""

    id: int
    code: int
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.code < 300


@dataclass(frozen=True)
class WatchEvent:
    """One event on an open watch (request `id`): ADDED, MODIFIED, DELETED, BOOKMARK or ERROR."""

    id: int
    type: str
    object: Mapping[str, Any]


@dataclass(frozen=True)
class Cancel:
    """The client closed request `id`'s connection (a watch it no longer wants): the server
    stops sending on it, as a closed HTTP/2 stream stops a watch."""

    id: int


def collection_path(info: KindInfo, namespace: str | None = None) -> str:
    """`/api/v1/namespaces/default/pods`, `/apis/apps/v1/deployments` (all namespaces),
    `/api/v1/nodes` (cluster-scoped)."""
    root = f"/apis/{info.group}/{info.version}" if info.group else f"/api/{info.version}"
    if info.namespaced and namespace:
        return f"{root}/namespaces/{namespace}/{info.resource}"
    return f"{root}/{info.resource}"


def object_path(
    info: KindInfo, name: str, namespace: str | None = None, subresource: str | None = None
) -> str:
    """`/api/v1/namespaces/default/pods/web`, plus `/status`, `/binding`, `/eviction` ..."""
    path = f"{collection_path(info, namespace if info.namespaced else None)}/{name}"
    return f"{path}/{subresource}" if subresource else path


def with_query(path: str, **params: Any) -> str:
    """Append query parameters in Kubernetes' camelCase, skipping None and False."""
    items = [
        (k, "true" if v is True else v)
        for k, v in params.items()
        if v is not None and v is not False
    ]
    return f"{path}?{urlencode(items)}" if items else path
