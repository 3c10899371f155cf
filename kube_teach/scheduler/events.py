"""Events the scheduler records (Scheduled, FailedScheduling, Preempted) as core/v1 Events; a
repeat of the same event PATCHes the first one's count and lastTimestamp.

Semantics: client-go's event recorder and its correlator's exact-duplicate aggregation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from kube_teach.api.kinds import KINDS
from kube_teach.api.rest import collection_path, object_path
from kube_teach.client.rest import RESTClient
from kube_teach.sim.duration import SECOND
from kube_teach.sim.trace import Trace

EVENTS = KINDS["Event"]
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def rfc3339(unix_ns: int) -> str:
    """A metav1.Time as the API writes it, to the second."""
    t = _EPOCH + dt.timedelta(seconds=unix_ns // SECOND)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class EventRecorder:
    """Records Events through `client`; `now_ns` gives the wall time (epoch + sim time) in ns;
    `instance` is the reporting instance (the process name)."""

    def __init__(
        self, client: RESTClient, trace: Trace, now_ns: Callable[[], int], instance: str
    ) -> None:
        self.client = client
        self.trace = trace
        self.now_ns = now_ns
        self.instance = instance
        self._seen: dict[tuple[str, ...], tuple[str, str, int]] = {}
        self._last_ns = 0

    def event(
        self, obj: Mapping[str, Any], component: str, type_: str, reason: str, message: str
    ) -> None:
        """An Event about pod `obj` from `component` (the profile's scheduler name)."""
        meta = obj.get("metadata") or {}
        ns = meta.get("namespace") or "default"
        ref = {"kind": "Pod", "namespace": ns, "name": meta.get("name", ""),
               "uid": meta.get("uid", ""), "apiVersion": "v1"}  # fmt: skip
        self.trace.emit(component, "event", type=type_, reason=reason,
                        object=f"Pod/{ref['name']}", message=message)  # fmt: skip
        now_ns = max(self.now_ns(), self._last_ns + 1)
        self._last_ns = now_ns
        stamp = rfc3339(now_ns)
        key = (component, ns, ref["name"], ref["uid"], type_, reason, message)
        seen = self._seen.get(key)
        if seen is not None:
            seen_ns, seen_name, count = seen
            self._seen[key] = (seen_ns, seen_name, count + 1)
            self.client.request("PATCH", object_path(EVENTS, seen_name, seen_ns),
                                {"count": count + 1, "lastTimestamp": stamp})  # fmt: skip
            return
        name = f"{ref['name']}.{now_ns:x}"
        self._seen[key] = (ns, name, 1)
        event = {"apiVersion": "v1", "kind": "Event",
                 "metadata": {"name": name, "namespace": ns}, "involvedObject": ref,
                 "reason": reason, "message": message, "source": {"component": component},
                 "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1, "type": type_,
                 "reportingComponent": component, "reportingInstance": self.instance}  # fmt: skip
        self.client.request("POST", collection_path(EVENTS, ns), event)
