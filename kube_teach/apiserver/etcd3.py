"""The API server's storage layer: Kubernetes objects as JSON under `/registry/...` in etcd.

Semantics: k8s.io/apiserver's storage/etcd3 (store.go) and etcd's client/v3/kubernetes client:
create is `Txn(If(mod_revision(key) == 0), Then(Put))`, update and delete compare the
mod_revision they read, `resourceVersion` is the key's mod_revision and a list's is the header
revision. The stored JSON has `resourceVersion` cleared; reads fill it in from etcd.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..api.kinds import KindInfo
from ..etcd.mvcc_txn import prefix_end

PREFIX = "/registry"
# Resources whose keys keep the names of Kubernetes' early days.
_HISTORICAL = {"nodes": "minions", "services": "services/specs", "endpoints": "services/endpoints"}

Handle = Callable[[dict[str, Any]], dict[str, Any]]
"""Sends one etcd request (`{"put": {...}}`) and returns etcd's response dict."""


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
    """Create, get, list, update and delete objects with the transactions upstream uses."""

    def __init__(self, handle: Handle) -> None:
        self._handle = handle
        self.revision = 1  # the newest etcd revision seen in any response header

    def _call(self, request: dict[str, Any]) -> dict[str, Any]:
        response = self._handle(request)
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
    def _decode(kv: dict[str, Any]) -> Stored:
        obj = json.loads(kv["value"])
        mod = int(kv["mod_revision"])
        obj.setdefault("metadata", {})["resourceVersion"] = str(mod)
        return Stored(obj, mod)

    def create(self, key: str, obj: dict[str, Any], *, lease: int = 0) -> int | None:
        """Put `obj` at `key` if no object is there; its new resourceVersion, or None if taken."""
        put = {"key": key, "value": self._encode(obj), "lease": lease}
        resp = self._call(
            {
                "txn": {
                    "compare": [
                        {"key": key, "target": "MOD", "result": "EQUAL", "mod_revision": 0}
                    ],
                    "success": [{"request_put": put}],
                    "failure": [],
                }
            }
        )
        return int(resp["header"]["revision"]) if resp.get("succeeded") else None

    def get(self, key: str) -> Stored | None:
        """The object at `key`, or None."""
        kvs = self._call({"range": {"key": key}}).get("kvs") or []
        return self._decode(kvs[0]) if kvs else None

    def list(
        self, prefix: str, *, start: str | None = None, revision: int = 0
    ) -> tuple[list[Stored], int]:
        """Every object under `prefix` from key `start` on, in key order, read at `revision`
        (0: the newest), and the revision the list was served at."""
        request = {"key": start or prefix, "range_end": prefix_end(prefix).decode()}
        if revision:
            request["revision"] = revision
        resp = self._call({"range": request})
        served = revision or int(resp["header"]["revision"])
        return [self._decode(kv) for kv in resp.get("kvs") or []], served

    def count(self, prefix: str) -> int:
        resp = self._call(
            {"range": {"key": prefix, "range_end": prefix_end(prefix).decode(), "count_only": True}}
        )
        return int(resp.get("count") or 0)

    def update(self, key: str, expected_mod_revision: int, obj: dict[str, Any]) -> int | None:
        """Replace the object at `key` if it is still at `expected_mod_revision`.

        Returns the new resourceVersion, or None when someone wrote in between (the caller
        then reports 409 Conflict or retries with a fresh read, as GuaranteedUpdate does).
        """
        compare = {"key": key, "target": "MOD", "result": "EQUAL",
                   "mod_revision": expected_mod_revision}  # fmt: skip
        resp = self._call(
            {
                "txn": {
                    "compare": [compare],
                    "success": [{"request_put": {"key": key, "value": self._encode(obj)}}],
                    "failure": [{"request_range": {"key": key}}],
                }
            }
        )
        return int(resp["header"]["revision"]) if resp.get("succeeded") else None

    def delete(self, key: str, expected_mod_revision: int) -> int | None:
        """Delete the object at `key` if it is still at `expected_mod_revision`; the delete's
        revision, or None when it changed in between."""
        compare = {"key": key, "target": "MOD", "result": "EQUAL",
                   "mod_revision": expected_mod_revision}  # fmt: skip
        resp = self._call(
            {
                "txn": {
                    "compare": [compare],
                    "success": [{"request_delete_range": {"key": key}}],
                    "failure": [{"request_range": {"key": key}}],
                }
            }
        )
        return int(resp["header"]["revision"]) if resp.get("succeeded") else None
