"""The garbage collector as a host: an informer on every kind feeds the owner graph; workers
carry out attemptToDelete and attemptToOrphan against the API server.

Semantics: pkg/controller/garbagecollector (GarbageCollector.Run after every monitor has
synced; owners are looked up live by name and compared by UID before anything is deleted;
deletes carry UID and resourceVersion preconditions; Events are not monitored). Both queues
share one work queue here, keyed `delete/<uid>`, `orphan/<uid>` and `virtual/<uid>` (an owner
only known from references).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..api.kinds import KINDS, KindInfo
from ..api.rest import object_path
from ._util import meta
from .base import Call, Controller, ControllerContext, Outcome, Sync, error_text
from .garbage_collector import (
    FOREGROUND,
    ORPHAN,
    Graph,
    Node,
    attempt_to_delete,
    blocking_dependents,
    classify,
    delete_options,
    deleting_dependents,
    finalizers,
    orphaning,
    without_owner,
)

#: Resources the collector never watches (ignoredResources upstream: events).
IGNORED_KINDS = frozenset({"Event"})


def kind_info(api_version: str, kind: str) -> KindInfo | None:
    """The served kind an ownerReference names, or None when the API server has no such
    kind (upstream cannot map it to a resource either)."""
    info = KINDS.get(kind)
    if info is None:
        return None
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    return info if group == info.group else None


class GarbageCollector(Controller):
    """Deletes objects whose owners are all gone and finishes Foreground and Orphan deletions."""

    name = "garbage-collector-controller"
    workers = 20  # --concurrent-gc-syncs

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.graph = Graph()
        for kind in sorted(KINDS):
            if kind in IGNORED_KINDS:
                continue
            self.informer(KINDS[kind]).add_handlers(
                on_add=self._observe,
                on_update=lambda old, cur: self._observe(cur),
                on_delete=self._forget,
            )

    def _observe(self, obj: Mapping[str, Any]) -> None:
        for queue, uid in self.graph.observe(obj):
            self.enqueue(f"{queue}/{uid}")

    def _forget(self, obj: Mapping[str, Any]) -> None:
        for queue, uid in self.graph.forget(obj):
            self.enqueue(f"{queue}/{uid}")

    # -- the syncs -----------------------------------------------------------------------------
    def sync(self, key: str) -> Sync:
        queue, _, uid = key.partition("/")
        if queue == "virtual":
            return (yield from self._virtual(uid))
        node = self.graph.get(uid)
        if node is None:
            return Outcome()
        if queue == "orphan":
            return (yield from self._orphan(node))
        if node.deleting_dependents:
            return (yield from self._deleting_dependents(node))
        if node.being_deleted:
            return Outcome()
        return (yield from self._attempt_to_delete(node))

    def _virtual(self, uid: str) -> Sync:
        """An owner only known from references: if the informers have not shown it by now,
        ask the API server; when it is absent, its dependents are looked at one by one."""
        found = self.graph.virtual.get(uid)
        if found is None or self.graph.get(uid) is not None:
            return Outcome()
        ref, namespace = found
        info = kind_info(ref.get("apiVersion", ""), ref.get("kind", ""))
        if info is None:
            return Outcome()
        ns = namespace if info.namespaced else None
        (resp,) = yield [Call("GET", object_path(info, ref.get("name", ""), ns))]
        if resp.ok and meta(resp.body).get("uid") == uid:
            return Outcome()  # it exists; the informer will show it
        if not resp.ok and resp.code != 404:
            return Outcome(error=error_text(resp))
        self.graph.virtual.pop(uid, None)
        for dep in self.graph.dependents(uid):
            self.enqueue(f"delete/{dep.uid}")
        return Outcome()

    def _path(self, node: Node) -> str | None:
        info = kind_info(node.api_version, node.kind)
        return None if info is None else object_path(info, node.name, node.namespace or None)

    def _get_latest(self, node: Node) -> Sync:
        """GET the object itself; None if it is gone or is another object of that name."""
        path = self._path(node)
        if path is None:
            return None
        (resp,) = yield [Call("GET", path)]
        if resp.code == 404:
            return None
        if not resp.ok:
            raise _Failed(error_text(resp))
        return resp.body if meta(resp.body).get("uid") == node.uid else None

    def _attempt_to_delete(self, node: Node) -> Sync:
        try:
            latest = yield from self._get_latest(node)
        except _Failed as failed:
            return Outcome(error=str(failed))
        if latest is None:
            return Outcome()
        if latest.get("metadata", {}).get("deletionTimestamp") and not deleting_dependents(latest):
            return Outcome()
        refs = list(meta(latest).get("ownerReferences") or ())
        if not refs:
            return Outcome()
        lookups, paths = [], []
        for ref in refs:
            info = kind_info(ref.get("apiVersion", ""), ref.get("kind", ""))
            if info is None:  # nothing to ask; it is never taken for gone
                self.trace.emit(self.name, "unknown-owner-kind", uid=node.uid, kind=ref.get("kind"))
                return Outcome()
            ns = node.namespace if info.namespaced else None
            lookups.append(ref)
            paths.append(Call("GET", object_path(info, ref.get("name", ""), ns)))
        responses = yield paths
        owners: dict[str, Mapping[str, Any] | None] = {}
        for ref, resp in zip(lookups, responses, strict=True):
            if resp.ok:
                owners[ref.get("uid", "")] = resp.body
            elif resp.code == 404:
                owners[ref.get("uid", "")] = None
            else:
                return Outcome(error=error_text(resp))
        verdict = attempt_to_delete(
            latest, classify(refs, owners), bool(self.graph.dependents(node.uid))
        )
        if verdict.action == "none":
            return Outcome()
        path = self._path(node)
        if verdict.action == "patch":
            patch = {"metadata": {"ownerReferences": list(verdict.keep_refs),
                                  "resourceVersion": meta(latest).get("resourceVersion")}}  # fmt: skip
            (resp,) = yield [Call("PATCH", path, patch)]
            self.trace.emit(self.name, "remove-dangling-refs", kind=node.kind, key=_key(node))
        else:
            (resp,) = yield [Call("DELETE", path, delete_options(latest, verdict.policy))]
            self.trace.emit(
                self.name, "delete", kind=node.kind, key=_key(node), policy=verdict.policy
            )
        if not resp.ok and resp.code != 404:
            return Outcome(error=error_text(resp))
        return Outcome()

    def _deleting_dependents(self, owner: Node) -> Sync:
        """processDeletingDependentsItem: once no dependent blocks, drop the finalizer."""
        blocking = blocking_dependents(self.graph, owner.uid)
        if blocking:
            for dep in blocking:
                if not dep.deleting_dependents:
                    self.enqueue(f"delete/{dep.uid}")
            return Outcome()
        return (yield from self._remove_finalizer(owner, FOREGROUND))

    def _orphan(self, owner: Node) -> Sync:
        """attemptToOrphan: strip the owner from each dependent, then drop the finalizer."""
        if not owner.orphaning:
            return Outcome()
        calls = []
        for dep in self.graph.dependents(owner.uid):
            path = self._path(dep)
            if path is None:
                continue
            # a merge patch replaces the list, so it names the version it was computed from
            cached = self.informer(KINDS[dep.kind]).get(_key(dep))
            rv = meta(cached).get("resourceVersion") if cached is not None else None
            refs = without_owner(dep.owners, owner.uid)
            patch = {"metadata": {"ownerReferences": refs or None, "resourceVersion": rv}}
            calls.append(Call("PATCH", path, patch))
        if calls:
            responses = yield calls
            for resp in responses:
                if not resp.ok and resp.code != 404:
                    return Outcome(error=error_text(resp))
            self.trace.emit(self.name, "orphaned", key=_key(owner), dependents=len(calls))
        return (yield from self._remove_finalizer(owner, ORPHAN))

    def _remove_finalizer(self, owner: Node, finalizer: str) -> Sync:
        """GET the owner and write its finalizers without `finalizer`, over that version."""
        try:
            latest = yield from self._get_latest(owner)
        except _Failed as failed:
            return Outcome(error=str(failed))
        if latest is None or finalizer not in finalizers(latest):
            return Outcome()
        if finalizer == ORPHAN and not orphaning(latest):
            return Outcome()
        left = [f for f in finalizers(latest) if f != finalizer]
        patch = {"metadata": {"finalizers": left,
                              "resourceVersion": meta(latest).get("resourceVersion")}}  # fmt: skip
        (resp,) = yield [Call("PATCH", self._path(owner), patch)]
        if not resp.ok and resp.code != 404:
            return Outcome(error=error_text(resp))
        self.trace.emit(self.name, "removed-finalizer", key=_key(owner), finalizer=finalizer)
        return Outcome()


class _Failed(Exception):
    """A lookup the API server refused for a reason other than NotFound."""


def _key(node: Node) -> str:
    return f"{node.namespace}/{node.name}" if node.namespace else node.name


__all__ = ["IGNORED_KINDS", "GarbageCollector", "kind_info"]
