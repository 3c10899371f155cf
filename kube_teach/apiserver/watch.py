"""The API server's watch cache: recent events per resource, open watches, bookmarks.

Semantics: k8s.io/apiserver's cacher. A watch from resourceVersion N replays the kept events
newer than N, then follows live; N older than the oldest kept event is 410 Gone (`too old
resource version: N (oldest)`); `resourceVersion` "" or "0" starts with a synthetic ADDED for
every current object. Watches asking `allowWatchBookmarks` get a BOOKMARK about once a minute
carrying the revision they are up to; `timeoutSeconds` ends a watch cleanly, after which
client-go re-watches from the last resourceVersion it saw.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..api.errors import StatusError
from ..api.kinds import KindInfo
from ..api.objects import Obj
from ..api.rest import Response, WatchEvent
from ..api.selectors import parse_field_selector, parse_selector

WATCH_WINDOW = 1024  # events kept per resource for watches that resume from a resourceVersion
BOOKMARK_EVERY = 60.0  # seconds: the cacher's bookmark frequency

Send = Callable[[str, Any], None]


@dataclass
class Watcher:
    src: str
    id: int
    info: KindInfo
    namespace: str | None
    labels: Any
    fields: Any
    bookmarks: bool
    timer: Any = None


class WatchCache:
    """Events and watchers for every resource of one API server replica."""

    def __init__(self, send: Send, field_set: Callable[[Obj], dict[str, str]]) -> None:
        self._send = send
        self._field_set = field_set
        self.watchers: dict[tuple[str, int], Watcher] = {}
        self._window: dict[str, deque[tuple[int, str, Obj]]] = {}
        self._oldest: dict[str, int] = {}

    def open(
        self,
        src: str,
        watch_id: int,
        info: KindInfo,
        namespace: str | None,
        query: dict[str, str],
        current: Callable[[], Iterable[Obj]],
    ) -> Watcher | None:
        """Start a watch; None (and the client told) when its resourceVersion is too old."""
        labels = parse_selector(query.get("labelSelector", ""))
        fields = (
            parse_field_selector(query["fieldSelector"]) if query.get("fieldSelector") else None
        )
        bookmarks = query.get("allowWatchBookmarks") in ("true", "1", "True")
        w = Watcher(src, watch_id, info, namespace, labels, fields, bookmarks)
        rv = query.get("resourceVersion", "")
        if rv in ("", "0"):
            for obj in current():
                self._push(w, "ADDED", obj)
        else:
            try:
                start = int(rv)
            except ValueError:
                raise StatusError.bad_request(
                    f'resourceVersion: Invalid value: "{rv}": must be a non-negative integer'
                ) from None
            oldest = self._oldest.get(info.kind, 0)
            if start < oldest:
                status = StatusError.gone(f"too old resource version: {start} ({oldest})").status
                self._send(src, WatchEvent(watch_id, "ERROR", status))
                self._send(src, Response(watch_id, 200, "watch closed"))
                return None
            for event_rv, kind, obj in self._window.get(info.kind, ()):
                if event_rv > start:
                    self._push(w, kind, obj)
        self.watchers[(src, watch_id)] = w
        return w

    def close(self, src: str, watch_id: int, *, tell: bool = True) -> None:
        w = self.watchers.pop((src, watch_id), None)
        if w is not None and tell:
            self._send(src, Response(watch_id, 200, "watch closed"))

    def stored(self, event: str, obj: Obj) -> None:
        rv = int(obj.resource_version or 0)
        window = self._window.setdefault(obj.kind, deque(maxlen=WATCH_WINDOW))
        if len(window) == window.maxlen:
            self._oldest[obj.kind] = window[0][0]
        window.append((rv, event, obj))
        for w in list(self.watchers.values()):
            if w.info.kind == obj.kind:
                self._push(w, event, obj)

    def bookmark(self, revision: int) -> None:
        """Tell every bookmark-asking watcher how far it is: the server's revision."""
        for w in list(self.watchers.values()):
            if w.bookmarks:
                meta = {"resourceVersion": str(revision)}
                body = {"kind": w.info.kind, "apiVersion": w.info.api_version, "metadata": meta}
                self._send(w.src, WatchEvent(w.id, "BOOKMARK", body))

    def drop_all(self) -> None:
        """The process died: every watch ends without a word to its client."""
        self.watchers.clear()

    def _push(self, w: Watcher, event: str, obj: Obj) -> None:
        if w.namespace is not None and obj.namespace != w.namespace:
            return
        if not w.labels.matches(obj.labels):
            return
        if w.fields is not None and not w.fields.matches(self._field_set(obj)):
            return
        self._send(w.src, WatchEvent(w.id, event, obj))


__all__ = ["BOOKMARK_EVERY", "WATCH_WINDOW", "WatchCache", "Watcher"]
