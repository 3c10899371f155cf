"""The API server's storage layer: Kubernetes objects as JSON under `/registry/...` in etcd.

Semantics: k8s.io/apiserver's storage/etcd3 (store.go) and etcd's client/v3/kubernetes client:
create is `Txn(If(mod_revision(key) == 0), Then(Put))`, update and delete compare the
mod_revision they read, `resourceVersion` is the key's mod_revision and a list's is the header
revision. The stored JSON has `resourceVersion` cleared; reads fill it in from etcd.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from ..api.kinds import KindInfo
from ..etcd.mvcc_txn import prefix_end

PREFIX = "/registry"
# Resources whose keys keep the names of Kubernetes' early days.
_HISTORICAL = {"nodes": "minions", "services": "services/specs", "endpoints": "services/endpoints"}

Handle = Callable[[dict[str, Any]], dict[str, Any]]
"""Sends one etcd request (`{"put": {...}}`) and returns etcd's response dict."""
Op = Generator[dict[str, Any], dict[str, Any], Any]
"""A storage operation: yields etcd requests, is sent etcd's responses, returns its result."""


def resource_prefix(info: KindInfo) -> str:
    """`/registry/deployments/`, `/registry/minions/`: where one resource's keys start."""
    return f"{PREFIX}/{_HISTORICAL.get(info.resource, info.resource)}/"


def object_key(info: KindInfo, namespace: str, name: str) -> str:
    """`/registry/pods/default/web` or, cluster-scoped, `/registry/namespaces/default`."""
    if info.namespaced:
        return f"{resource_prefix(info)}{namespace}/{name}"
    return f"{resource_prefix(info)}{name}"


class StorageError(Exception):
    """etcd answered with an error (quota exceeded, timed out ...); `message` is etcd's text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Stored:
    """One object as read from etcd: the decoded JSON and its mod_revision."""

    obj: dict[str, Any]
    mod_revision: int


class Etcd3Storage:
    """Create, get, list, update and delete objects with the transactions upstream uses.

    Each operation is a generator (`Op`): it yields the etcd requests it needs and is sent
    etcd's responses, so the same code runs against a local MVCC store (answered at once) or a
    Raft group over the network (answered when the clock has run). `run` drives one to its end
    with a synchronous `handle`.
    """

    def __init__(self, handle: Handle | None = None) -> None:
        self._handle = handle
        self.revision = 1  # the newest etcd revision seen in any response header

    def run(self, op: Op) -> Any:
        """Drive `op` with the synchronous handle given at construction."""
        if self._handle is None:
            raise RuntimeError("this storage has no synchronous etcd handle")
        try:
            request = next(op)
            while True:
                request = op.send(self._handle(request))
        except StopIteration as done:
            return done.value

    def _seen(self, response: dict[str, Any]) -> dict[str, Any]:
        if "error" in response:
            raise StorageError(response["error"].get("message", "etcdserver: unknown error"))
        header = response.get("header") or {}
        self.revision = max(self.revision, int(header.get("revision") or 0))
        return response

    @staticmethod
    def _encode(obj: dict[str, Any]) -> str:
        body = json.loads(json.dumps(obj))
        (body.get("metadata") or {}).pop("resourceVersion", None)
        return json.dumps(body, separators=(",", ":"))

    @staticmethod
    def decode(kv: dict[str, Any]) -> Stored:
        """The object in one etcd key-value, its resourceVersion filled in from mod_revision."""
        value = kv["value"]
        obj = json.loads(value.decode() if isinstance(value, bytes) else value)
        mod = int(kv["mod_revision"])
        obj.setdefault("metadata", {})["resourceVersion"] = str(mod)
        return Stored(obj, mod)

    _decode = decode

    def create(self, key: str, obj: dict[str, Any], *, lease: int = 0) -> Op:
        """Put `obj` at `key` if no object is there; its new resourceVersion, or None if taken."""
        put = {"key": key, "value": self._encode(obj), "lease": lease}
        compare = [{"key": key, "target": "MOD", "result": "EQUAL", "mod_revision": 0}]
        txn = {"compare": compare, "success": [{"request_put": put}], "failure": []}
        resp = self._seen((yield {"txn": txn}))
        return int(resp["header"]["revision"]) if resp.get("succeeded") else None

    def get(self, key: str) -> Op:
        """The object at `key`, or None."""
        kvs = self._seen((yield {"range": {"key": key}})).get("kvs") or []
        return self.decode(kvs[0]) if kvs else None

    def list(self, prefix: str, *, start: str | None = None, revision: int = 0) -> Op:
        """Every object under `prefix` from key `start` on, in key order, read at `revision`
        (0: the newest), and the revision the list was served at."""
        request: dict[str, Any] = {"key": start or prefix, "range_end": prefix_end(prefix).decode()}
        if revision:
            request["revision"] = revision
        resp = self._seen((yield {"range": request}))
        served = revision or int(resp["header"]["revision"])
        return [self.decode(kv) for kv in resp.get("kvs") or []], served

    def count(self, prefix: str) -> Op:
        request = {"key": prefix, "range_end": prefix_end(prefix).decode(), "count_only": True}
        resp = self._seen((yield {"range": request}))
        return int(resp.get("count") or 0)

    def update(self, key: str, expected_mod_revision: int, obj: dict[str, Any]) -> Op:
        """Replace the object at `key` if it is still at `expected_mod_revision`.

        Returns the new resourceVersion, or None when someone wrote in between (the caller
        then reports 409 Conflict or retries with a fresh read, as GuaranteedUpdate does).
        """
        compare = {"key": key, "target": "MOD", "result": "EQUAL",
                   "mod_revision": expected_mod_revision}  # fmt: skip
        txn = {
            "compare": [compare],
            "success": [{"request_put": {"key": key, "value": self._encode(obj)}}],
            "failure": [{"request_range": {"key": key}}],
        }
        resp = self._seen((yield {"txn": txn}))
        return int(resp["header"]["revision"]) if resp.get("succeeded") else None

    def delete(self, key: str, expected_mod_revision: int) -> Op:
        """Delete the object at `key` if it is still at `expected_mod_revision`; the delete's
        revision, or None when it changed in between."""
        compare = {"key": key, "target": "MOD", "result": "EQUAL",
                   "mod_revision": expected_mod_revision}  # fmt: skip
        txn = {
            "compare": [compare],
            "success": [{"request_delete_range": {"key": key}}],
            "failure": [{"request_range": {"key": key}}],
        }
        resp = self._seen((yield {"txn": txn}))
        return int(resp["header"]["revision"]) if resp.get("succeeded") else None
