"""The registry behind the API server: create, get, list, update and delete with upstream's rules.

Objects are JSON under `/registry/...` in an etcd MVCC store (etcd3.py), so `resourceVersion`
is the key's mod_revision, sizes are real and the quota bites as in etcd. For now the store is
one local etcd member; the Raft group takes its place when the API server moves onto the
network (issue #4). Defaulting, strict decoding and validation run in the API server's order;
errors are `StatusError`s worded as kube-apiserver words them.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ..api.defaults import apply_defaults
from ..api.errors import FieldError, StatusError
from ..api.kinds import KINDS, KindInfo
from ..api.objects import Obj
from ..api.schema import decode_error_message, structural_errors
from ..api.selectors import LabelSelector, parse_field_selector, parse_selector
from ..api.validation import validate, validate_update
from ..sim import Clock, Seeds, Trace
from ..sim.duration import SECOND
from .backends import LocalEtcd, RaftEtcd
from .deletion import (
    DeleteOptions,
    check_preconditions,
    finalizers_for,
    grace_period,
    should_delete_during_update,
)
from .etcd3 import PREFIX, Etcd3Storage, Op, StorageError, object_key, resource_prefix
from .ipallocator import ServiceAllocator

INITIAL_NAMESPACES = ("default", "kube-node-lease", "kube-public", "kube-system")
# Kinds whose status is set only through the status subresource: create and update drop it.
_STATUS_SUBRESOURCE = {
    "Deployment", "ReplicaSet", "DaemonSet", "StatefulSet", "HorizontalPodAutoscaler",
    "PodDisruptionBudget", "Node", "Service", "Namespace", "ResourceQuota",
}  # fmt: skip
if TYPE_CHECKING:
    from ..etcd import EtcdCluster

Listener = Callable[[str, Obj], None]
CONTINUE_TOO_OLD = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this "
    "response to retrieve the remainder of the results. Continuing with the provided token "
    "results in an inconsistent list - objects that were created, modified, or deleted between "
    "the time the first chunk was returned and now may show up in the list."
)


class Admission(Protocol):
    """The API server's admission chain for one request: `mutate` runs before validation,
    `validate` after it; either raises StatusError to refuse."""

    def mutate(self, operation: str, obj: Obj | None, old: Obj | None) -> None: ...

    def validate(self, operation: str, obj: Obj | None, old: Obj | None) -> None: ...


@dataclass
class Page:
    """One chunk of a list: the items, the revision it was read at, and where to go on."""

    items: list[Obj]
    resource_version: int
    continue_token: str = ""
    remaining: int | None = None


@dataclass
class Deleted:
    """What a delete did: the object as last stored, and whether it has left etcd (False:
    it waits for a kubelet's graceful stop or for its finalizers)."""

    obj: Obj
    gone: bool


def rfc3339(epoch_ns: int) -> str:
    """`2025-01-01T00:00:00Z`: metav1.Time's wire form, to the second."""
    t = dt.datetime.fromtimestamp(epoch_ns // SECOND, tz=dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class ObjectStore:
    """All objects of the cluster, keyed by kind, namespace and name.

    By default etcd is one local member (answers at once); `etcd=EtcdCluster(...)` puts the
    objects in a Raft group instead. Every operation exists twice: `create_op(...)` and friends
    are generators of etcd requests that the API server drives asynchronously over the
    network; `create(...)` and friends drive them synchronously (with a Raft group: reads from
    one member's own state, writes by running the clock until committed), for bootstrap,
    tests and learners' inspection.
    """

    def __init__(
        self,
        clock: Clock,
        seeds: Seeds,
        trace: Trace,
        epoch_ns: int,
        *,
        quota_backend_bytes: int = 0,
        etcd: EtcdCluster | None = None,
    ) -> None:
        self.clock = clock
        self.seeds = seeds
        self.trace = trace
        self.epoch_ns = epoch_ns
        self.backend: LocalEtcd | RaftEtcd
        if etcd is None:
            self.backend = LocalEtcd(clock, quota_backend_bytes)
            self.etcd: Any = self.backend.mvcc
        else:
            self.backend = RaftEtcd(etcd)
            self.etcd = etcd
        self.storage = Etcd3Storage(self.backend.handle)
        # The Service REST storage's ClusterIP and NodePort allocators (one per cluster).
        self.services = ServiceAllocator(seed=seeds.stream("service-ip-allocator").randrange(2**31))
        self._listeners: list[Listener] = []
        self._etcd_watch: Any = None
        self._watched_to = 0  # the newest revision the etcd watch has delivered
        if isinstance(self.backend, RaftEtcd):
            self._etcd_watch = self.backend.watch(PREFIX + "/", 0, self._etcd_events)

    @property
    def revision(self) -> int:
        """etcd's current revision as far as this API server has seen it."""
        return self.storage.revision

    # -- helpers -------------------------------------------------------------------------------
    @property
    def unix_ns(self) -> int:
        """Now, in Unix nanoseconds: the simulated clock from the cluster's start time."""
        return self.epoch_ns + self.clock.now_ns

    def timestamp(self) -> str:
        return rfc3339(self.unix_ns)

    def watch(self, listener: Listener) -> None:
        """Call `listener(event_type, obj)` after every change: ADDED, MODIFIED, DELETED."""
        self._listeners.append(listener)

    def _notify(self, event: str, obj: Obj) -> None:
        for fn in self._listeners:
            fn(event, obj.copy())

    def _written(self, event: str, obj: Obj) -> None:
        """A write of ours succeeded: with a local etcd, tell the watchers now; a Raft group
        tells them through its watch (so every API server replica hears every write)."""
        if self.backend.local:
            self._notify(event, obj)

    def _etcd_events(self, response: dict[str, Any]) -> None:
        if response.get("canceled"):
            self._rewatch(response)
            return
        for event in response.get("events") or ():
            kv = event.get("kv") or {}
            rev = int(kv.get("mod_revision") or 0)
            self._watched_to = max(self._watched_to, rev)
            self.storage.revision = max(self.storage.revision, rev)
            if event.get("type") == "DELETE":
                prev = event.get("prev_kv")
                if not prev:
                    continue
                obj = Obj(Etcd3Storage.decode(prev).obj)
                obj.metadata["resourceVersion"] = str(rev)
                self._notify("DELETED", obj)
            else:
                obj = Obj(Etcd3Storage.decode(kv).obj)
                self._notify("ADDED" if int(kv.get("version") or 0) == 1 else "MODIFIED", obj)

    def _rewatch(self, response: dict[str, Any]) -> None:
        """etcd ended the watch (its member lost the leader, or the start was compacted):
        watch again from where it stopped, after a moment, as the cacher's reflector does."""
        start = max(self._watched_to + 1, int(response.get("compact_revision") or 0))
        backend = self.backend
        assert isinstance(backend, RaftEtcd)
        self.trace.emit("apiserver", "etcd-watch-canceled", reason=response.get("cancel_reason", ""),
                        restart=start)  # fmt: skip

        def again() -> None:
            self._etcd_watch = backend.watch(PREFIX + "/", start, self._etcd_events)

        self.clock.call_later(1.0, again)

    def run(self, op: Op) -> Any:
        """Drive one operation synchronously; etcd's errors come out as the API server passes
        them on: a 500 whose reason is unknown (`Error from server: <etcd's text>`)."""
        try:
            return self.storage.run(op)
        except StorageError as err:
            raise StatusError("", 500, err.message) from None

    def start(self, op: Op, done: Callable[[Any, StatusError | None], None]) -> None:
        """Run an operation asynchronously: its etcd requests go to the backend (answered at
        once by a local etcd, over the network by a Raft group) and `done(result, error)` gets
        the outcome. Anything unexpected becomes a 500, as kube-apiserver's panic-recovery
        filter answers."""
        backend = self.backend

        def step(response: Any, first: bool = False) -> None:
            while True:
                try:
                    request = next(op) if first else op.send(response)
                except StopIteration as stop:
                    done(stop.value, None)
                    return
                except StatusError as err:
                    done(None, err)
                    return
                except StorageError as err:
                    done(None, StatusError("", 500, err.message))
                    return
                except Exception as err:  # noqa: BLE001 - the panic-recovery filter
                    done(None, StatusError.internal(f"{type(err).__name__}: {err}"))
                    return
                first = False
                if not backend.local:
                    backend.call(request, step)
                    return
                response = backend.handle(request)

        step(None, first=True)

    def create_all(self, objs: list[dict[str, Any]]) -> list[Obj]:
        """Create many objects at once, their writes in flight together (a start-up's
        bootstrap); the first error is raised after all have finished."""
        results: list[tuple[Any, StatusError | None]] = []
        for obj in objs:
            self.start(self.create_op(obj), lambda r, e: results.append((r, e)))
        if len(results) < len(objs):
            self.clock.run_until(lambda: len(results) == len(objs), timeout=3600)
        for _, err in results:
            if err is not None:
                raise err
        return [r for r, _ in results]

    @staticmethod
    def _scope(info: KindInfo, namespace: str | None) -> str:
        return (namespace or "default") if info.namespaced else ""

    # -- reads ---------------------------------------------------------------------------------
    def _key(self, info: KindInfo, name: str, namespace: str | None) -> str:
        return object_key(info, self._scope(info, namespace), name)

    def _read_op(self, info: KindInfo, name: str, namespace: str | None) -> Op:
        stored = yield from self.storage.get(self._key(info, name, namespace))
        return None if stored is None else (Obj(stored.obj), stored.mod_revision)

    def get_op(self, info: KindInfo, name: str, namespace: str | None = None) -> Op:
        found = yield from self._read_op(info, name, namespace)
        if found is None:
            raise StatusError.not_found(info, name)
        return found[0]

    def get(self, info: KindInfo, name: str, namespace: str | None = None) -> Obj:
        return self.run(self.get_op(info, name, namespace))

    def exists(self, info: KindInfo, name: str, namespace: str | None = None) -> bool:
        return self.run(self._read_op(info, name, namespace)) is not None

    def list(
        self,
        info: KindInfo,
        namespace: str | None = None,
        label_selector: str | dict[str, Any] | None = None,
        field_selector: str | None = None,
    ) -> list[Obj]:
        """Objects of a kind in etcd's key order (namespace, then name), as the API server
        returns them. `namespace=None` lists every namespace. Selectors take kubectl's string
        syntax or, for labels, the metav1 LabelSelector dict form.
        """
        return self.run(self.list_op(info, namespace, label_selector, field_selector)).items

    def list_op(
        self,
        info: KindInfo,
        namespace: str | None = None,
        label_selector: str | dict[str, Any] | None = None,
        field_selector: str | None = None,
        *,
        limit: int = 0,
        continue_token: str = "",
    ) -> Op:
        """Every chunk is read at the first chunk's revision, so the pages together are one
        consistent list; once that revision is compacted, going on is 410 Gone."""
        if isinstance(label_selector, dict):
            labels = LabelSelector.from_dict(label_selector)
        else:
            labels = parse_selector(label_selector or "")
        fields = parse_field_selector(field_selector) if field_selector else None
        prefix = resource_prefix(info)
        if info.namespaced and namespace is not None:
            prefix += f"{namespace}/"  # the trailing slash keeps `default-2` out of `default`
        start, revision = prefix, 0
        if continue_token:
            revision, rel = _decode_continue(continue_token)
            start = resource_prefix(info) + rel
            if not start.startswith(prefix):
                raise StatusError.bad_request(
                    "invalid continue token: continue key is not valid: key is out of range"
                )
        try:
            stored, rv = yield from self.storage.list(prefix, start=start, revision=revision)
        except StorageError as err:
            if continue_token and "compacted" in err.message:
                raise StatusError.gone(CONTINUE_TOO_OLD) from None
            raise
        out: list[Obj] = []
        for i, item in enumerate(stored):
            obj = Obj(item.obj)
            if labels.matches(obj.labels) and (fields is None or fields.matches(_field_set(obj))):
                out.append(obj)
            if limit and len(out) == limit and i + 1 < len(stored):
                key = object_key(info, self._scope(info, obj.namespace), obj.name)
                token = _encode_continue(rv, key[len(resource_prefix(info)) :] + "\x00")
                plain = labels.empty and fields is None
                return Page(out, rv, token, len(stored) - i - 1 if plain else None)
        return Page(out, rv)

    def count(self) -> dict[str, int]:
        """How many objects of each kind are stored, for kinds that have any."""
        counts = {k: self.run(self.storage.count(resource_prefix(i))) for k, i in KINDS.items()}
        return {k: v for k, v in counts.items() if v}

    # -- writes, synchronously -----------------------------------------------------------------
    def create(
        self, obj: dict[str, Any], *, dry_run: bool = False, admission: Admission | None = None
    ) -> Obj:
        """Admit a new object: default, mutating admission, validate, validating admission,
        then store with fresh metadata."""
        return self.run(self.create_op(obj, dry_run=dry_run, admission=admission))

    def update(
        self,
        obj: dict[str, Any],
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        internal: bool = False,
        admission: Admission | None = None,
    ) -> Obj:
        """Replace an object (see `update_op`)."""
        op = self.update_op(
            obj, subresource=subresource, dry_run=dry_run, internal=internal, admission=admission
        )
        return self.run(op)

    def delete(
        self,
        info: KindInfo,
        name: str,
        namespace: str | None = None,
        *,
        options: DeleteOptions | None = None,
        admission: Admission | None = None,
    ) -> Obj:
        """Delete an object as DELETE does (see `delete_op`); the object as last stored."""
        return self.run(self.delete_op(info, name, namespace, options, admission=admission)).obj

    def delete_object(
        self,
        info: KindInfo,
        name: str,
        namespace: str | None = None,
        options: DeleteOptions | None = None,
        *,
        admission: Admission | None = None,
    ) -> Deleted:
        return self.run(self.delete_op(info, name, namespace, options, admission=admission))

    # -- writes, as generators of etcd requests --------------------------------------------------------------------------------
    def create_op(
        self, obj: dict[str, Any], *, dry_run: bool = False, admission: Admission | None = None
    ) -> Op:
        """Admit a new object: default, mutating admission, validate, validating admission,
        then store with fresh metadata."""
        info = KINDS[obj["kind"]]
        self._decode(obj)
        new = Obj(apply_defaults(dict(obj)))  # apply_defaults returns a deep copy
        meta = new.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise StatusError.bad_request("metadata must be an object")
        if info.namespaced:
            meta["namespace"] = meta.get("namespace") or "default"
        else:
            meta.pop("namespace", None)
        for key in ("deletionTimestamp", "deletionGracePeriodSeconds"):
            meta.pop(key, None)
        if admission is not None:
            admission.mutate("CREATE", new, None)
            meta = new.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = self._generate_name(meta["generateName"])
        self._check(info, new, validate(new, default=False))  # defaulted above
        ns, name = meta.get("namespace", ""), meta["name"]
        if (
            admission is None
            and info.namespaced
            and (yield from self._read_op(KINDS["Namespace"], ns, None)) is None
        ):
            raise StatusError.not_found(KINDS["Namespace"], ns)
        if admission is not None:
            admission.validate("CREATE", new, None)
        if dry_run:
            if (yield from self._read_op(info, name, ns)) is not None:
                raise StatusError.already_exists(info, name)
            return new
        if info.kind in _STATUS_SUBRESOURCE:
            new.pop("status", None)
        allocated = info.kind == "Service"
        if allocated:
            new = Obj(self.services.allocate(new))
            meta = new.metadata
        if info.kind == "Pod":
            new["status"] = {"phase": "Pending"}
        if info.kind == "Namespace":  # the namespace strategy's PrepareForCreate
            new["status"] = {"phase": "Active"}
            spec = new.setdefault("spec", {})
            if "kubernetes" not in (spec.get("finalizers") or []):
                spec["finalizers"] = [*(spec.get("finalizers") or []), "kubernetes"]
        for key in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp"):
            meta.pop(key, None)
        if "spec" in new:
            meta["generation"] = 1
        meta["creationTimestamp"] = self.timestamp()
        key = object_key(info, ns, name)
        meta["uid"] = self.seeds.uid()  # drawn before storage, as BeforeCreate does upstream
        try:
            rv = yield from self.storage.create(key, new)
        except StorageError:
            if allocated:
                self.services.release(new)
            raise
        if rv is None:
            if allocated:
                self.services.release(new)
            raise StatusError.already_exists(info, name)
        meta["resourceVersion"] = str(rv)
        self.trace.emit("apiserver", "create", kind=info.kind, key=new.key, rv=rv)
        self._written("ADDED", new)
        return new.copy()

    def update_op(
        self,
        obj: dict[str, Any],
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        internal: bool = False,
        admission: Admission | None = None,
    ) -> Op:
        """Replace an object; a stale `resourceVersion` gets 409 Conflict, as upstream.

        With `subresource="status"` only the status changes; otherwise status is kept as
        stored for kinds that have a status subresource, and `generation` counts spec changes.
        `internal=True` is for the registry's own subresources (pods/binding), which may change
        fields a client's update may not. An update that removes the last finalizer of an
        object waiting for its finalizers deletes it.
        """
        info = KINDS[obj["kind"]]
        meta = obj.get("metadata") or {}
        ns, name = self._scope(info, meta.get("namespace")), meta.get("name", "")
        found = yield from self._read_op(info, name, ns)
        if found is None:
            raise StatusError.not_found(info, name)
        old, old_mod = found
        rv = meta.get("resourceVersion")
        if rv and rv != old.resource_version:
            raise StatusError.conflict(info, name)
        if subresource == "status":
            new = old.copy()
            new["status"] = copy.deepcopy(obj.get("status") or {})
        else:
            self._decode(obj)
            new = Obj(apply_defaults(dict(obj)))  # apply_defaults returns a deep copy
            if info.kind in _STATUS_SUBRESOURCE:
                new["status"] = copy.deepcopy(old.get("status", {}))
                if not new["status"]:
                    new.pop("status")
            nmeta = new.setdefault("metadata", {})
            for key in ("uid", "creationTimestamp", "generation", "namespace",
                        "deletionTimestamp", "deletionGracePeriodSeconds"):  # fmt: skip
                if key in old.metadata:
                    nmeta[key] = old.metadata[key]
                else:
                    nmeta.pop(key, None)
        if not rv:  # an unconditional update (every built-in strategy allows them)
            new.setdefault("metadata", {})["resourceVersion"] = old.resource_version
        if admission is not None:
            admission.mutate("UPDATE", new, old)
        if subresource != "status":
            rules = [] if internal else validate_update(new, old)
            self._check(info, new, validate(new, default=False) + rules)
            if new.get("spec") != old.get("spec"):
                new.metadata["generation"] = old.metadata.get("generation", 0) + 1
        if admission is not None:
            admission.validate("UPDATE", new, old)
        if dry_run or _same(new, old):
            return (new if dry_run else old).copy()
        key = object_key(info, ns, name)
        if should_delete_during_update(new, old):
            return (yield from self._remove_op(info, key, old_mod, new))
        written = yield from self.storage.update(key, old_mod, new)
        if written is None:  # someone wrote between our read and our write
            raise StatusError.conflict(info, name)
        new.metadata["resourceVersion"] = str(written)
        self.trace.emit("apiserver", "update", kind=info.kind, key=new.key, rv=written)
        self._written("MODIFIED", new)
        return new.copy()

    def delete_op(
        self,
        info: KindInfo,
        name: str,
        namespace: str | None = None,
        options: DeleteOptions | None = None,
        *,
        admission: Admission | None = None,
    ) -> Op:
        """DELETE with metav1.DeleteOptions: preconditions, graceful deletion of scheduled
        pods (deletionTimestamp now + grace; the kubelet finishes the delete), propagation
        finalizers (Foreground, Orphan), and otherwise removal from etcd at once.

        Deleting a Namespace removes what it holds, as the namespace controller would.
        """
        options = options or DeleteOptions()
        found = yield from self._read_op(info, name, namespace)
        if found is None:
            raise StatusError.not_found(info, name)
        obj, mod = found
        check_preconditions(info, obj, options)
        if admission is not None:
            admission.mutate("DELETE", None, obj)
            admission.validate("DELETE", None, obj)
        key = self._key(info, name, namespace)
        meta = obj.metadata
        pending = obj.copy()
        pmeta = pending.metadata
        grace = grace_period(obj, options)
        current = meta.get("deletionGracePeriodSeconds")
        if meta.get("deletionTimestamp") and current is not None and grace >= int(current):
            # already going, no sooner than asked: nothing changes
            if int(current) > 0 or meta.get("finalizers"):
                return Deleted(obj, False)
        finalizers = finalizers_for(obj, options.policy())
        if finalizers != list(meta.get("finalizers") or []):
            pmeta["finalizers"] = finalizers
        if grace > 0:
            pmeta["deletionTimestamp"] = rfc3339(self.unix_ns + grace * SECOND)
            pmeta["deletionGracePeriodSeconds"] = grace
        elif finalizers:
            pmeta.setdefault("deletionTimestamp", self.timestamp())
            pmeta["deletionGracePeriodSeconds"] = 0
        else:
            if options.dry_run:
                return Deleted(obj, True)
            return Deleted((yield from self._remove_op(info, key, mod, obj)), True)
        if options.dry_run:
            return Deleted(pending, False)
        written = yield from self.storage.update(key, mod, pending)
        if written is None:
            raise StatusError.conflict(info, name)
        pmeta["resourceVersion"] = str(written)
        self.trace.emit("apiserver", "update", kind=info.kind, key=pending.key, rv=written)
        self._written("MODIFIED", pending)
        return Deleted(pending.copy(), False)

    def _remove_op(self, info: KindInfo, key: str, mod: int, obj: Obj) -> Op:
        """Take the object out of etcd (compare-and-delete on `mod`)."""
        if info.kind == "Namespace":
            now = DeleteOptions(grace_period_seconds=0)
            for other in KINDS.values():
                if other.namespaced:
                    page = yield from self.list_op(other, obj.name)
                    for item in page.items:
                        yield from self.delete_op(other, item.name, obj.name, now)
        deleted = yield from self.storage.delete(key, mod)
        if deleted is None:
            raise StatusError.conflict(info, obj.name)
        if info.kind == "Service":
            self.services.release(obj)
        self.trace.emit("apiserver", "delete", kind=info.kind, key=obj.key, rv=deleted)
        gone = obj.copy()
        gone.metadata["resourceVersion"] = str(deleted)  # a DELETED event carries the delete's RV
        self._written("DELETED", gone)
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


def _encode_continue(revision: int, start: str) -> str:
    """storage's continue token: base64url (unpadded) of {"v","rv","start"} as Go encodes it."""
    body = json.dumps(
        {"v": "meta.k8s.io/v1", "rv": revision, "start": start}, separators=(",", ":")
    )
    return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        body = json.loads(raw)
    except (ValueError, TypeError):
        raise StatusError.bad_request(
            "invalid continue token: continue key is not valid: illegal base64 data"
        ) from None
    if not isinstance(body, dict) or body.get("v") != "meta.k8s.io/v1":
        raise StatusError.bad_request(
            "invalid continue token: continue key is not valid: server does not recognize "
            "this encoded key"
        )
    rv, start = body.get("rv"), body.get("start")
    if not isinstance(rv, int) or rv <= 0:
        raise StatusError.bad_request(
            "invalid continue token: continue key is not valid: incorrect encoded start "
            "resourceVersion "
            "(version meta.k8s.io/v1)"
        )
    if not isinstance(start, str) or not start or ".." in start or start.startswith("/"):
        raise StatusError.bad_request(
            "invalid continue token: continue key is not valid: key is not valid"
        )
    return rv, start


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
