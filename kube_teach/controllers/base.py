"""The host every controller runs in: shared informers, a rate-limited work queue, workers on the
simulated clock, and the API requests that carry out what a pure core decided.

Semantics: client-go's SharedInformerFactory, workqueue and record.EventRecorder, and the loop
of kube-controller-manager's controllers (processNextWorkItem: Forget on success, AddRateLimited
on error). A sync is a generator that yields batches of requests and gets their responses back,
as a Go sync function blocks on its client calls; the decisions come from the pure cores.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from ..api.kinds import KINDS, KindInfo
from ..api.rest import Response, collection_path, object_path
from ..client.informer import Informer
from ..client.ratelimit import TokenBucket
from ..client.rest import RESTClient, Watch
from ..client.workqueue import WorkQueue
from ..sim.duration import SECOND
from ..sim.metrics import Metrics
from ..sim.network import Host
from ..sim.trace import Trace
from ._util import format_time

KUBE_API_QPS = 20.0  # kube-controller-manager --kube-api-qps
KUBE_API_BURST = 30  # kube-controller-manager --kube-api-burst
CACHE_SYNC_POLL = 0.1  # WaitForCacheSync checks every 100 ms
EVENTS = KINDS["Event"]


def unix_seconds(epoch_ns: int, now_ns: int) -> float:
    """Simulated time as the pure cores take it: seconds since the Unix epoch."""
    return (epoch_ns + now_ns) / 1e9


def key_of(obj: Mapping[str, Any]) -> str:
    """`namespace/name`, the work queue key of a namespaced object (MetaNamespaceKeyFunc)."""
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace') or ''}/{meta.get('name') or ''}"


def error_text(resp: Response) -> str:
    """What err.Error() says for a failed response: the Status message, or the body."""
    body = resp.body
    if isinstance(body, Mapping) and body.get("message"):
        return str(body["message"])
    return str(body)


@dataclass(frozen=True)
class Call:
    """One API request a sync sends: `POST /api/v1/namespaces/default/pods` with a body."""

    method: str
    path: str
    body: Any = None

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class Outcome:
    """How a sync ended: `error` requeues with rate limiting (else the key's backoff is
    forgotten); `requeue_after` (seconds) adds the key again later; `requeue_rate_limited`
    adds it with rate limiting even on success (enqueueRateLimited inside a sync)."""

    error: str | None = None
    requeue_after: float | None = None
    requeue_rate_limited: bool = False


Sync = Generator[list[Call], list[Response], Outcome | None]
"""A sync in progress: yields a batch of calls (sent together), receives their responses in
the same order, and returns an Outcome (None means success)."""


class ClientSet:
    """One client of a process, with its own client-side token bucket (QPS 20, burst 30 for
    kube-controller-manager), as ClientBuilder gives each controller its own client.

    Requests leave through the process's single connection, `transport`, so one network host
    serves every client of the process. Watches are not rate limited here.
    """

    def __init__(
        self,
        transport: RESTClient,
        name: str = "",
        *,
        qps: float = KUBE_API_QPS,
        burst: int = KUBE_API_BURST,
    ) -> None:
        self.transport = transport
        self.name = name
        self.host: Host = transport.host
        self.clock = transport.clock
        self.limiter = TokenBucket(qps, burst)
        self.throttled_ns = 0

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        callback: Callable[[Response], None] | None = None,
    ) -> None:
        """Send once the token bucket allows; `callback(response)` as RESTClient.request."""
        wait = self.limiter.reserve(self.clock.now_ns)
        self.throttled_ns += wait
        if wait:
            self.host.call_later(
                wait / SECOND, lambda: self.transport.request(method, path, body, callback)
            )
        else:
            self.transport.request(method, path, body, callback)

    def watch(
        self,
        path: str,
        on_event: Callable[..., None],
        on_close: Callable[[Response | None], None] | None = None,
    ) -> Watch:
        return self.transport.watch(path, on_event, on_close)


class SharedInformers:
    """SharedInformerFactory: one informer per kind (all namespaces) shared by the controllers
    of one process, started together once every controller has asked for what it needs."""

    def __init__(self, client: ClientSet) -> None:
        self.client = client
        self._informers: dict[str, Informer] = {}
        self.started = False

    def informer(self, info: KindInfo) -> Informer:
        found = self._informers.get(info.kind)
        if found is None:
            found = self._informers[info.kind] = Informer(self.client, info)  # type: ignore[arg-type]
            if self.started:
                found.start()
        return found

    def start(self) -> None:
        self.started = True
        for kind in sorted(self._informers):
            if self._informers[kind].lists == 0:
                self._informers[kind].start()

    def stop(self) -> None:
        self.started = False
        for kind in sorted(self._informers):
            self._informers[kind].stop()


def object_reference(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The ObjectReference an Event's involvedObject carries (ref.GetReference)."""
    meta = obj.get("metadata") or {}
    ref = {
        "kind": obj.get("kind", ""),
        "namespace": meta.get("namespace", ""),
        "name": meta.get("name", ""),
        "uid": meta.get("uid", ""),
        "apiVersion": obj.get("apiVersion", ""),
        "resourceVersion": meta.get("resourceVersion", ""),
    }
    return {k: v for k, v in ref.items() if v}


class EventRecorder:
    """record.EventRecorder for one component: core/v1 Events POSTed through the API server.

    An Event is named `<object>.<hex Unix ns>`; a repeat of the same event (same object, type,
    reason and message) PATCHes `count` and `lastTimestamp` instead, as the correlator's
    dedup does. Events are fire-and-forget; their requests share the component's client.
    """

    def __init__(
        self,
        client: ClientSet,
        component: str,
        epoch_ns: int,
        trace: Trace | None = None,
        host_name: str = "",
    ) -> None:
        self.client = client
        self.component = component
        self.epoch_ns = epoch_ns
        self.trace = trace
        self.host_name = host_name
        self._last_ns = 0
        self._seen: dict[tuple[str, ...], tuple[str, str, int]] = {}

    def event(self, obj: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        ref = object_reference(obj)
        ns = ref.get("namespace") or "default"
        now_ns = max(self.epoch_ns + self.client.clock.now_ns, self._last_ns + 1)
        self._last_ns = now_ns  # two events in one instant still get distinct names
        stamp = format_time(now_ns / 1e9)
        if self.trace is not None:
            self.trace.emit(
                self.component, "event", type=type_, reason=reason,
                object=f"{ref.get('kind', '')}/{ref.get('name', '')}", message=message,
            )  # fmt: skip
        key = (*(str(ref.get(k, "")) for k in sorted(ref) if k != "resourceVersion"),
               type_, reason, message)  # fmt: skip
        seen = self._seen.get(key)
        if seen is not None:
            seen_ns, seen_name, count = seen
            self._seen[key] = (seen_ns, seen_name, count + 1)
            patch = {"count": count + 1, "lastTimestamp": stamp}
            path = object_path(EVENTS, seen_name, seen_ns)
            self.client.request("PATCH", path, patch)
            return
        name = f"{ref.get('name', '')}.{now_ns:x}"
        self._seen[key] = (ns, name, 1)
        source = {"component": self.component}
        if self.host_name:
            source["host"] = self.host_name
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": ns},
            "involvedObject": ref,
            "reason": reason,
            "message": message,
            "source": source,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
            "type": type_,
            "reportingComponent": self.component,
        }
        if self.host_name:
            event["reportingInstance"] = self.host_name
        self.client.request("POST", collection_path(EVENTS, ns), event)


@dataclass
class ControllerContext:
    """What the manager hands each controller (upstream's ControllerContext): the process's
    host and connection, the shared informers, trace, metrics and the Unix epoch of t=0."""

    host: Host
    transport: RESTClient
    informers: SharedInformers
    trace: Trace
    metrics: Metrics
    epoch_ns: int
    qps: float = KUBE_API_QPS
    burst: int = KUBE_API_BURST

    @property
    def clock(self) -> Any:
        return self.host.net.clock

    def now(self) -> float:
        """Seconds since the Unix epoch, for the pure cores."""
        return unix_seconds(self.epoch_ns, self.clock.now_ns)

    def client(self, name: str) -> ClientSet:
        return ClientSet(self.transport, name, qps=self.qps, burst=self.burst)


def controller_ref_to(owner: Mapping[str, Any]) -> dict[str, Any]:
    """metav1.NewControllerRef: controller and blockOwnerDeletion both true."""
    meta = owner.get("metadata") or {}
    return {
        "apiVersion": owner.get("apiVersion", ""),
        "kind": owner.get("kind", ""),
        "name": meta.get("name", ""),
        "uid": meta.get("uid", ""),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def adopt_patch(owner: Mapping[str, Any], obj: Mapping[str, Any]) -> dict[str, Any]:
    """A merge patch that makes `owner` the controller of `obj`.

    Upstream sends a strategic merge patch that adds one ownerReference by UID; a JSON merge
    patch replaces the whole list, so this one carries the list as cached plus the cached
    resourceVersion, and the API server refuses it (409) if the object changed meanwhile.
    """
    meta = obj.get("metadata") or {}
    refs = [r for r in meta.get("ownerReferences") or () if r.get("uid") != _uid(owner)]
    return {
        "metadata": {
            "ownerReferences": [*copy.deepcopy(refs), controller_ref_to(owner)],
            "resourceVersion": meta.get("resourceVersion"),
        }
    }


def release_patch(owner: Mapping[str, Any], obj: Mapping[str, Any]) -> dict[str, Any]:
    """A merge patch that removes `owner`'s reference from `obj` (null when none are left)."""
    meta = obj.get("metadata") or {}
    refs = [r for r in meta.get("ownerReferences") or () if r.get("uid") != _uid(owner)]
    return {
        "metadata": {
            "ownerReferences": copy.deepcopy(refs) or None,
            "resourceVersion": meta.get("resourceVersion"),
        }
    }


def _uid(obj: Mapping[str, Any]) -> str:
    return (obj.get("metadata") or {}).get("uid", "")


class Controller:
    """A level-based controller host: handlers only enqueue keys, `workers` workers take keys
    from a rate-limited WorkQueue once the informers have synced, and run `sync(key)`.

    Subclasses set `name` (the upstream controller ID) and `workers`, ask for informers in
    `__init__` and add handlers, and implement `sync`. A key is never synced by two workers at
    once; a failed sync comes back after the queue's exponential backoff. Everything here is
    volatile: the manager builds fresh controllers after a crash.
    """

    name: ClassVar[str] = ""
    workers: ClassVar[int] = 5

    def __init__(self, ctx: ControllerContext) -> None:
        self.ctx = ctx
        self.host = ctx.host
        self.trace = ctx.trace
        self.client = ctx.client(self.name)
        self.recorder = EventRecorder(self.client, self.name, ctx.epoch_ns, ctx.trace)
        self.queue = WorkQueue(ctx.clock, on_ready=self._wake, name=self.name)
        self.syncs = 0
        self._informers: list[Informer] = []
        self._busy = 0
        self._wake_scheduled = False
        self._running = False

    # -- for subclasses ------------------------------------------------------------------------
    def informer(self, info: KindInfo) -> Informer:
        """The shared informer for `info`; workers wait until it has synced."""
        informer = self.ctx.informers.informer(info)
        if not any(known is informer for known in self._informers):
            self._informers.append(informer)
        return informer

    def now(self) -> float:
        return self.ctx.now()

    def enqueue(self, key: str) -> None:
        self.queue.add(key)

    def enqueue_after(self, key: str, seconds: float) -> None:
        self.queue.add_after(key, round(seconds * SECOND))

    def sync(self, key: str) -> Sync:
        """Bring `key` to its desired state: a generator (see `Sync`), or a plain function
        returning an Outcome when it never needs to wait for the API server."""
        raise NotImplementedError

    # -- running -------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._running

    def run(self) -> None:
        """Start the workers (they wait for the caches to sync first)."""
        self._running = True
        self._wake()

    def stop(self) -> None:
        """Stop for good: the queue shuts down and syncs in flight are abandoned."""
        self._running = False
        self.queue.shut_down()

    def _wake(self) -> None:
        if self._running and not self._wake_scheduled:
            self._wake_scheduled = True
            self.host.call_later(0, self._pump)

    def _pump(self) -> None:
        self._wake_scheduled = False
        if not self._running:
            return
        if not all(informer.synced for informer in self._informers):
            self._wake_scheduled = True
            self.host.call_later(CACHE_SYNC_POLL, self._pump)
            return
        while self._busy < self.workers:
            key = self.queue.get()
            if key is None:
                return
            self._busy += 1
            self.syncs += 1
            sync = self.sync(str(key))
            if isinstance(sync, Generator):
                self._advance(str(key), sync, None)
            else:  # a sync that needed no request returned its Outcome directly
                self._finish(str(key), sync)

    def _advance(self, key: str, sync: Sync, responses: list[Response] | None) -> None:
        while True:
            if not self._running:
                sync.close()
                return
            try:
                calls = sync.send(responses)  # type: ignore[arg-type]
            except StopIteration as stop:
                self._finish(key, stop.value)
                return
            if calls:
                break
            responses = []
        results: list[Response | None] = [None] * len(calls)
        left = [len(calls)]

        def answered(i: int, resp: Response) -> None:
            results[i] = resp
            left[0] -= 1
            if left[0] == 0:
                self._advance(key, sync, results)  # type: ignore[arg-type]

        for i, call in enumerate(calls):
            self.client.request(call.method, call.path, call.body, lambda r, i=i: answered(i, r))

    def _finish(self, key: str, outcome: Outcome | None) -> None:
        outcome = outcome or Outcome()
        if outcome.requeue_rate_limited:
            self.queue.add_rate_limited(key)
        if outcome.error is not None:
            self.trace.emit(self.name, "sync-error", key=key, error=outcome.error)
            self.queue.add_rate_limited(key)
        else:
            self.queue.forget(key)
        if outcome.requeue_after:
            self.enqueue_after(key, outcome.requeue_after)
        self.queue.done(key)
        self._busy -= 1
        self._wake()


__all__ = [
    "CACHE_SYNC_POLL",
    "KUBE_API_BURST",
    "KUBE_API_QPS",
    "Call",
    "ClientSet",
    "Controller",
    "ControllerContext",
    "EventRecorder",
    "Outcome",
    "SharedInformers",
    "Sync",
    "adopt_patch",
    "controller_ref_to",
    "error_text",
    "key_of",
    "object_reference",
    "release_patch",
    "unix_seconds",
]
