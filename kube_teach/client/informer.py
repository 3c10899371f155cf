"""Informers: a local, eventually consistent copy of one resource, kept by list then watch.

Semantics: client-go's reflector and shared informer: LIST (at the current revision), then WATCH
from the list's resourceVersion; apply each event to the cache (an indexer keyed
`namespace/name`) and call the handlers; on a watch that ends, re-watch from the last
resourceVersion seen; on 410 Gone ("too old resource version") or an ERROR event, relist. The
cache lags the API server by the network's latency, as real informers lag.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..api.kinds import KindInfo
from ..api.objects import Obj
from ..api.rest import Response, WatchEvent, collection_path, with_query
from .rest import RESTClient, Watch


def watch_timeout(client: str, resource: str, n: int) -> int:
    """Seconds a reflector asks a watch to last: client-go draws them from [300, 600); here
    they come from the names, so that a run stays reproducible."""
    return 300 + zlib.crc32(f"{client}/{resource}/{n}".encode()) % 300


Handler = Callable[..., None]


def meta_key(obj: dict[str, Any]) -> str:
    """`namespace/name`, or `name` for cluster-scoped objects (cache.MetaNamespaceKeyFunc)."""
    meta = obj.get("metadata") or {}
    ns, name = meta.get("namespace", ""), meta.get("name", "")
    return f"{ns}/{name}" if ns else name


@dataclass
class Handlers:
    """ResourceEventHandlerFuncs: any of them may be None."""

    on_add: Handler | None = None
    on_update: Handler | None = None
    on_delete: Handler | None = None


@dataclass
class Informer:
    """Keeps `cache` in step with the API server for one resource (optionally one namespace)."""

    client: RESTClient
    info: KindInfo
    namespace: str | None = None
    label_selector: str | None = None
    field_selector: str | None = None
    resync_backoff: float = 1.0
    cache: dict[str, Obj] = field(default_factory=dict)
    handlers: list[Handlers] = field(default_factory=list)
    synced: bool = False
    resource_version: str = ""
    lists: int = 0
    watches: int = 0
    _watch: Watch | None = None
    _stopped: bool = False

    def add_handlers(self, **funcs: Handler) -> None:
        """`add_handlers(on_add=f, on_update=g, on_delete=h)`; existing objects are replayed
        to `on_add`, as AddEventHandler does for a started informer."""
        handlers = Handlers(**funcs)
        self.handlers.append(handlers)
        if handlers.on_add is not None:
            for key in sorted(self.cache):
                handlers.on_add(self.cache[key])

    def start(self) -> None:
        self._stopped = False
        self._list()

    def stop(self) -> None:
        self._stopped = True
        if self._watch is not None:
            self._watch.stop()

    def list(self) -> list[Obj]:
        """The cached objects, in key order."""
        return [self.cache[k] for k in sorted(self.cache)]

    def get(self, key: str) -> Obj | None:
        return self.cache.get(key)

    # -- the reflector -------------------------------------------------------------------------
    def _query(self, **extra: Any) -> str:
        return with_query(
            collection_path(self.info, self.namespace),
            labelSelector=self.label_selector,
            fieldSelector=self.field_selector,
            **extra,
        )

    def _list(self) -> None:
        if self._stopped:
            return
        self.lists += 1
        self.client.request("GET", self._query(), callback=self._listed)

    def _listed(self, response: Response) -> None:
        if self._stopped:
            return
        if not response.ok:
            self.client.host.call_later(self.resync_backoff, self._list)
            return
        items = {meta_key(o): Obj(o) for o in response.body.get("items") or []}
        old = self.cache
        self.cache = items
        for key in sorted(items):
            if key in old:
                if old[key] != items[key]:
                    self._fire("on_update", old[key], items[key])
            else:
                self._fire("on_add", items[key])
        for key in sorted(set(old) - set(items)):
            self._fire("on_delete", old[key])
        self.resource_version = (response.body.get("metadata") or {}).get("resourceVersion", "")
        self.synced = True
        self._start_watch()

    def _start_watch(self) -> None:
        if self._stopped:
            return
        self.watches += 1
        timeout = watch_timeout(self.client.host.name, self.info.resource, self.watches)
        path = self._query(
            watch="1",
            resourceVersion=self.resource_version,
            allowWatchBookmarks=True,
            timeoutSeconds=timeout,
        )
        watch = self._watch = self.client.watch(path, self._event, self._closed)
        # A server that died cannot close the watch: past its timeout (and the request timeout
        # on top), the reflector gives up on it and watches again, as a broken connection would.
        grace = timeout + 60
        self.client.host.call_later(grace, lambda: self._expired(watch))

    def _expired(self, watch: Watch) -> None:
        if self._stopped or watch is not self._watch or not watch.open:
            return
        watch.stop()
        self._start_watch()

    def _event(self, event: WatchEvent) -> None:
        obj = Obj(event.object)
        rv = (obj.get("metadata") or {}).get("resourceVersion")
        if event.type == "ERROR":
            self._relist_later()
            return
        if rv:
            self.resource_version = rv
        if event.type == "BOOKMARK":
            return
        key = meta_key(obj)
        if event.type == "ADDED":
            old = self.cache.get(key)
            self.cache[key] = obj
            self._fire("on_update", old, obj) if old is not None else self._fire("on_add", obj)
        elif event.type == "MODIFIED":
            old = self.cache.get(key)
            self.cache[key] = obj
            self._fire("on_update", old, obj) if old is not None else self._fire("on_add", obj)
        elif event.type == "DELETED":
            old = self.cache.pop(key, None)
            self._fire("on_delete", old if old is not None else obj)

    def _closed(self, response: Response | None) -> None:
        if self._stopped:
            return
        if response is not None and response.code == 410:
            self._relist_later()
        else:
            self.client.host.call_later(self.resync_backoff, self._start_watch)

    def _relist_later(self) -> None:
        if self._watch is not None:
            self._watch.stop()
        self.client.host.call_later(self.resync_backoff, self._list)

    def _fire(self, name: str, *args: Any) -> None:
        for handlers in self.handlers:
            fn = getattr(handlers, name)
            if fn is not None:
                fn(*args)
