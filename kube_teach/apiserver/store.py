"""The registry behind the API server: create, get, list, update and delete with upstream's rules.

Until the Raft-backed etcd lands (issue #3/#4), objects live in an in-memory map with a global
revision counter that plays etcd's role: `resourceVersion` is the revision of the write, as it is
the etcd `mod_revision` upstream. Defaulting, schema checks and validation run in the API server's
order; errors are `StatusError`s worded as kube-apiserver words them.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from ..api.defaults import apply_defaults
from ..api.errors import FieldError, StatusError
from ..api.kinds import KINDS, KindInfo
from ..api.objects import Obj
from ..api.schema import decode_error_message, structural_errors
from ..api.selectors import LabelSelector, parse_field_selector, parse_selector
from ..api.validation import validate, validate_update
from ..sim import Clock, Seeds, Trace
from ..sim.duration import SECOND

INITIAL_NAMESPACES = ("default", "kube-node-lease", "kube-public", "kube-system")
# Kinds whose status is set only through the status subresource: create and update drop it.
_STATUS_SUBRESOURCE = {
    "Deployment", "ReplicaSet", "DaemonSet", "StatefulSet", "HorizontalPodAutoscaler",
    "PodDisruptionBudget", "Node", "Service", "Namespace", "ResourceQuota",
}  # fmt: skip
Listener = Callable[[str, Obj], None]


def rfc3339(epoch_ns: int) -> str:
    """`2025-01-01T00:00:00Z`: metav1.Time's wire form, to the second."""
    t = dt.datetime.fromtimestamp(epoch_ns // SECOND, tz=dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class ObjectStore:
    """All objects of the cluster, keyed by kind, namespace and name."""

    def __init__(self, clock: Clock, seeds: Seeds, trace: Trace, epoch_ns: int) -> None:
        self.clock = clock
        self.seeds = seeds
        self.trace = trace
        self.epoch_ns = epoch_ns
        self.revision = 1
        self._objects: dict[str, dict[tuple[str, str], Obj]] = {k: {} for k in KINDS}
        self._listeners: list[Listener] = []

    # -- helpers -------------------------------------------------------------------------------
    def timestamp(self) -> str:
        return rfc3339(self.epoch_ns + self.clock.now_ns)

    def watch(self, listener: Listener) -> None:
        """Call `listener(event_type, obj)` after every change: ADDED, MODIFIED, DELETED."""
        self._listeners.append(listener)

    def _notify(self, event: str, obj: Obj) -> None:
        for fn in self._listeners:
            fn(event, obj.copy())

    def _bump(self) -> str:
        self.revision += 1
        return str(self.revision)

    @staticmethod
    def _scope(info: KindInfo, namespace: str | None) -> str:
        return (namespace or "default") if info.namespaced else ""

    # -- reads ---------------------------------------------------------------------------------
    def get(self, info: KindInfo, name: str, namespace: str | None = None) -> Obj:
        obj = self._objects[info.kind].get((self._scope(info, namespace), name))
        if obj is None:
            raise StatusError.not_found(info, name)
        return obj.copy()

    def exists(self, info: KindInfo, name: str, namespace: str | None = None) -> bool:
        return (self._scope(info, namespace), name) in self._objects[info.kind]

    def list(
        self,
        info: KindInfo,
        namespace: str | None = None,
        label_selector: str | dict[str, Any] | None = None,
        field_selector: str | None = None,
    ) -> list[Obj]:
        """Objects of a kind, sorted by namespace then name (as the API server returns them).

        `namespace=None` lists every namespace. Selectors take kubectl's string syntax or,
        for labels, the metav1 LabelSelector dict form.
        """
        if isinstance(label_selector, dict):
            labels = LabelSelector.from_dict(label_selector)
        else:
            labels = parse_selector(label_selector or "")
        fields = parse_field_selector(field_selector) if field_selector else None
        out = []
        for (ns, _), obj in sorted(self._objects[info.kind].items()):
            if info.namespaced and namespace is not None and ns != namespace:
                continue
            if not labels.matches(obj.labels):
                continue
            if fields is not None and not fields.matches(_field_set(obj)):
                continue
            out.append(obj.copy())
        return out

    def count(self) -> dict[str, int]:
        return {k: len(v) for k, v in self._objects.items() if v}

    # -- writes --------------------------------------------------------------------------------
    def create(self, obj: dict[str, Any], *, dry_run: bool = False) -> Obj:
        """Admit a new object: default, check, validate, then store with fresh metadata."""
        info = KINDS[obj["kind"]]
        self._decode(obj)
        new = Obj(apply_defaults(copy.deepcopy(dict(obj))))
        meta = new.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise StatusError.bad_request("metadata must be an object")
        if info.namespaced:
            meta["namespace"] = meta.get("namespace") or "default"
        else:
            meta.pop("namespace", None)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = self._generate_name(meta["generateName"])
        self._check(info, new, validate(new))
        ns, name = meta.get("namespace", ""), meta["name"]
        if info.namespaced and not self.exists(KINDS["Namespace"], ns):
            raise StatusError.not_found(KINDS["Namespace"], ns)
        if (ns, name) in self._objects[info.kind]:
            raise StatusError.already_exists(info, name)
        if dry_run:
            return new
        if info.kind in _STATUS_SUBRESOURCE:
            new.pop("status", None)
        if info.kind == "Pod":
            new["status"] = {"phase": "Pending"}
        for key in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp"):
            meta.pop(key, None)
        meta["uid"] = self.seeds.uid()
        meta["resourceVersion"] = self._bump()
        if "spec" in new:
            meta["generation"] = 1
        meta["creationTimestamp"] = self.timestamp()
        self._objects[info.kind][(ns, name)] = new
        self.trace.emit("apiserver", "create", kind=info.kind, key=new.key, rv=self.revision)
        self._notify("ADDED", new)
        return new.copy()

    def update(
        self, obj: dict[str, Any], *, subresource: str | None = None, dry_run: bool = False
    ) -> Obj:
        """Replace an object; a stale `resourceVersion` gets 409 Conflict, as upstream.

        With `subresource="status"` only the status changes; otherwise status is kept as
        stored for kinds that have a status subresource, and `generation` counts spec changes.
        """
        info = KINDS[obj["kind"]]
        meta = obj.get("metadata") or {}
        ns, name = self._scope(info, meta.get("namespace")), meta.get("name", "")
        old = self._objects[info.kind].get((ns, name))
        if old is None:
            raise StatusError.not_found(info, name)
        rv = meta.get("resourceVersion")
        if rv and rv != old.resource_version:
            raise StatusError.conflict(info, name)
        if subresource == "status":
            new = old.copy()
            new["status"] = copy.deepcopy(obj.get("status") or {})
        else:
            self._decode(obj)
            new = Obj(apply_defaults(copy.deepcopy(dict(obj))))
            if info.kind in _STATUS_SUBRESOURCE:
                new["status"] = copy.deepcopy(old.get("status", {}))
                if not new["status"]:
                    new.pop("status")
            nmeta = new.setdefault("metadata", {})
            for key in ("uid", "creationTimestamp", "generation", "namespace"):
                if key in old.metadata:
                    nmeta[key] = old.metadata[key]
            self._check(
                info, new, structural_errors(new) + validate(new) + validate_update(new, old)
            )
            if new.get("spec") != old.get("spec"):
                nmeta["generation"] = old.metadata.get("generation", 0) + 1
        if dry_run or _same(new, old):
            return (new if dry_run else old).copy()
        new.metadata["resourceVersion"] = self._bump()
        self._objects[info.kind][(ns, name)] = new
        self.trace.emit("apiserver", "update", kind=info.kind, key=new.key, rv=self.revision)
        self._notify("MODIFIED", new)
        return new.copy()

    def delete(self, info: KindInfo, name: str, namespace: str | None = None) -> Obj:
        """Remove an object at once (graceful deletion and finalizers come with the API server)."""
        key = (self._scope(info, namespace), name)
        obj = self._objects[info.kind].pop(key, None)
        if obj is None:
            raise StatusError.not_found(info, name)
        if info.kind == "Namespace":
            for kind, objs in self._objects.items():
                if KINDS[kind].namespaced:
                    for k in [k for k in objs if k[0] == name]:
                        self._notify("DELETED", objs.pop(k))
        self._bump()
        self.trace.emit("apiserver", "delete", kind=info.kind, key=obj.key, rv=self.revision)
        self._notify("DELETED", obj)
        return obj.copy()

    # -- internals -----------------------------------------------------------------------------
    def _decode(self, obj: dict[str, Any]) -> None:
        """Strict decoding, before anything else: unknown fields and wrong types are a 400."""
        errors = structural_errors(obj)
        if errors:
            raise StatusError.bad_request(decode_error_message(obj, errors))

    def _check(self, info: KindInfo, obj: Obj, errors: list[FieldError]) -> None:
        if errors:
            raise StatusError.invalid(info, obj.name, errors)

    def _generate_name(self, base: str) -> str:
        rng = self.seeds.stream("generate-name")
        alphabet = "bcdfghjklmnpqrstvwxz2456789"
        return base[:58] + "".join(rng.choice(alphabet) for _ in range(5))


def _same(a: Obj, b: Obj) -> bool:
    def strip(o: Obj) -> str:
        d = copy.deepcopy(dict(o))
        d.get("metadata", {}).pop("resourceVersion", None)
        return json.dumps(d, sort_keys=True)

    return strip(a) == strip(b)


def _field_set(obj: Obj) -> dict[str, str]:
    """The fields a field selector may name: metadata.name/namespace and a few per kind."""
    fields = {"metadata.name": obj.name, "metadata.namespace": obj.namespace}
    if obj.kind == "Pod":
        fields["spec.nodeName"] = obj.spec.get("nodeName", "")
        fields["status.phase"] = obj.status.get("phase", "")
        fields["spec.schedulerName"] = obj.spec.get("schedulerName", "")
    elif obj.kind == "Event":
        involved = obj.get("involvedObject") or {}
        for k in ("kind", "name", "namespace", "uid"):
            fields[f"involvedObject.{k}"] = involved.get(k, "")
        fields["reason"] = obj.get("reason", "")
        fields["type"] = obj.get("type", "")
    return fields
