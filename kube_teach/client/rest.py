"""The REST client every component uses to reach the API server over the simulated network.

Semantics: client-go's rest.Client: a client-side token bucket (QPS 5, burst 10 unless
configured; kube-controller-manager uses 20/30), retries of 429 and 5xx honouring Retry-After up
to 10 times, and a per-request timeout. Watches are long-running requests whose events arrive
as WatchEvent messages until the server closes them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..api.rest import Cancel, Request, Response, WatchEvent
from ..sim.duration import SECOND, to_ns
from ..sim.network import Host
from .ratelimit import TokenBucket

MAX_RETRIES = 10  # client-go's default for Retry-After responses
TIMEOUT = "context deadline exceeded"  # what a Go client reports when its deadline passes


@dataclass
class _Pending:
    request: Request
    callback: Callable[[Response], None]
    retries: int = 0
    timer: Any = None


@dataclass
class Watch:
    """An open watch: events go to `on_event`; `on_close` runs when the stream ends."""

    id: int
    path: str
    on_event: Callable[[WatchEvent], None]
    on_close: Callable[[Response | None], None] | None = None
    open: bool = True
    events: int = 0
    _client: RESTClient | None = field(default=None, repr=False)

    def stop(self) -> None:
        """Close from the client side, as cancelling the request's context does: the server
        is told (the connection closes) and sends no more."""
        if self.open and self._client is not None:
            self._client._close_watch(self.id, None, notify=False)
            self._client.host.send(self._client.server, Cancel(self.id))


class RESTClient:
    """Sends requests from `host` to the API server `server` and hands back the responses."""

    def __init__(
        self,
        host: Host,
        server: str,
        *,
        qps: float = 5,
        burst: int = 10,
        credentials: Mapping[str, Any] | None = None,
        user_agent: str = "",
        timeout: float | str = 60,
    ) -> None:
        self.host = host
        self.server = server
        self.clock = host.net.clock
        self.limiter = TokenBucket(qps, burst)
        self.credentials = dict(credentials or {})
        self.user_agent = user_agent
        self.timeout_ns = to_ns(timeout)
        self._ids = host.request_ids  # unique per machine: every client gets its own replies
        self._pending: dict[int, _Pending] = {}
        self._watches: dict[int, Watch] = {}
        self.sent = 0
        self.throttled_ns = 0  # total time requests waited in the client-side rate limiter
        previous = host.receive

        def receive(src: str, msg: Any) -> None:
            if (
                isinstance(msg, Response | WatchEvent)
                and src == self.server
                and (msg.id in self._pending or msg.id in self._watches)
            ):
                self._receive(msg)
            elif previous is not None:
                previous(src, msg)

        host.receive = receive
        host.on_crash.append(self._forget_everything)

    # -- requests ------------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        callback: Callable[[Response], None] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> int:
        """Send a request (after the rate limiter allows it); `callback(response)` on reply,
        or on timeout with code 0 and body `context deadline exceeded`. Returns its id.
        `headers` such as `{"Content-Type": "application/json-patch+json"}` go along."""
        req = Request(
            next(self._ids), method, path, body, self.credentials, self.user_agent,
            dict(headers or {}),
        )  # fmt: skip
        self._pending[req.id] = _Pending(req, callback or (lambda r: None))
        self._send_limited(req.id)
        return req.id

    def _send_limited(self, request_id: int) -> None:
        wait = self.limiter.reserve(self.clock.now_ns)
        self.throttled_ns += wait
        if wait:
            self.host.call_later(wait / SECOND, lambda: self._send(request_id))
        else:
            self._send(request_id)

    def _send(self, request_id: int) -> None:
        pending = self._pending.get(request_id)
        if pending is None:
            return
        self.sent += 1
        self.host.send(self.server, pending.request)
        if self.timeout_ns and pending.request.id not in self._watches:
            pending.timer = self.host.call_later(
                self.timeout_ns / SECOND, lambda: self._timeout(request_id)
            )

    def _timeout(self, request_id: int) -> None:
        pending = self._pending.pop(request_id, None)
        if pending is not None:
            pending.callback(Response(request_id, 0, TIMEOUT))

    def _receive(self, msg: Response | WatchEvent) -> None:
        watch = self._watches.get(msg.id)
        if watch is not None:
            if isinstance(msg, WatchEvent):
                watch.events += 1
                watch.on_event(msg)
            elif msg.code != 200 or msg.body == "watch closed":
                self._close_watch(msg.id, msg)
            return
        if not isinstance(msg, Response):
            return
        pending = self._pending.get(msg.id)
        if pending is None:
            return  # a late reply to a request that already timed out
        if pending.timer is not None:
            pending.timer.cancel()
        retry_after = msg.headers.get("Retry-After")
        if (
            retry_after is not None
            and pending.retries < MAX_RETRIES
            and msg.code in (429, 500, 503)
        ):
            pending.retries += 1
            self.host.call_later(float(retry_after), lambda: self._send_limited(msg.id))
            return
        del self._pending[msg.id]
        pending.callback(msg)

    # -- watches -------------------------------------------------------------------------------
    def watch(
        self,
        path: str,
        on_event: Callable[[WatchEvent], None],
        on_close: Callable[[Response | None], None] | None = None,
    ) -> Watch:
        """Open a watch on `path` (which carries `watch=1` and the resourceVersion)."""
        req = Request(next(self._ids), "GET", path, None, self.credentials, self.user_agent)
        watch = Watch(req.id, path, on_event, on_close, _client=self)
        self._watches[req.id] = watch
        self._pending[req.id] = _Pending(req, lambda r: None)
        self._send_limited(req.id)
        return watch

    def _close_watch(
        self, watch_id: int, response: Response | None, *, notify: bool = True
    ) -> None:
        watch = self._watches.pop(watch_id, None)
        self._pending.pop(watch_id, None)
        if watch is None or not watch.open:
            return
        watch.open = False
        if notify and watch.on_close is not None:
            watch.on_close(response)

    def _forget_everything(self) -> None:
        """The client's process died: its requests and watches die with it."""
        self._pending.clear()
        for watch in self._watches.values():
            watch.open = False
        self._watches.clear()

    # -- for learners and tests: wait for the answer ------------------------------------------
    def call(
        self, method: str, path: str, body: Any = None, timeout: float | str = 120
    ) -> Response:
        """Send a request and run the simulated clock until its response arrives."""
        box: list[Response] = []
        self.request(method, path, body, box.append)
        self.clock.run_until(lambda: bool(box), timeout=timeout)
        return box[0]
