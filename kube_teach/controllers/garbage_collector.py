"""The garbage collector's graph of owners and dependents, and its decisions. Pure, no I/O.

Semantics: pkg/controller/garbagecollector (graph_builder.go's processGraphChanges and
processTransitions; garbagecollector.go's attemptToDeleteItem, classifyReferences,
processDeletingDependentsItem and orphanDependents). An object whose owners are all gone (by
UID) is deleted; one with a live owner loses only its dangling references; an owner being
deleted in the foreground waits for its blocking dependents; an orphaning owner's dependents
lose their reference to it. Objects are Kubernetes JSON dicts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._util import deleting, meta

FOREGROUND = "foregroundDeletion"  # metav1.FinalizerDeleteDependents
ORPHAN = "orphan"  # metav1.FinalizerOrphanDependents


def finalizers(obj: Mapping[str, Any]) -> list[str]:
    return list(meta(obj).get("finalizers") or ())


def deleting_dependents(obj: Mapping[str, Any]) -> bool:
    """Being deleted in the foreground: deletionTimestamp set and the foregroundDeletion
    finalizer still there (isDeletingDependents)."""
    return deleting(obj) and FOREGROUND in finalizers(obj)


def orphaning(obj: Mapping[str, Any]) -> bool:
    """Being deleted with propagationPolicy Orphan: deletionTimestamp and the orphan finalizer."""
    return deleting(obj) and ORPHAN in finalizers(obj)


@dataclass
class Node:
    """One object the collector knows: who it is, whom it points at, whether it is leaving."""

    uid: str
    api_version: str
    kind: str
    namespace: str
    name: str
    owners: list[dict[str, Any]] = field(default_factory=list)
    being_deleted: bool = False
    deleting_dependents: bool = False
    orphaning: bool = False

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> Node:
        m = meta(obj)
        return cls(
            uid=m.get("uid") or "",
            api_version=obj.get("apiVersion") or "",
            kind=obj.get("kind") or "",
            namespace=m.get("namespace") or "",
            name=m.get("name") or "",
            owners=[dict(r) for r in m.get("ownerReferences") or ()],
            being_deleted=deleting(obj),
            deleting_dependents=deleting_dependents(obj),
            orphaning=orphaning(obj),
        )

    def blocks(self, owner_uid: str) -> bool:
        """Whether this dependent holds back a foreground deletion of `owner_uid`."""
        return any(r.get("uid") == owner_uid and r.get("blockOwnerDeletion") for r in self.owners)


class Graph:
    """uidToNode plus the reverse index owner UID → dependents (graph_builder.go).

    `observe` and `forget` take what the informers report and return the work-queue items
    the change calls for: ("delete", uid) for attemptToDelete, ("orphan", uid) for
    attemptToOrphan, ("virtual", uid) to look up an owner that is referenced but not known.
    """

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}
        self._dependents: dict[str, dict[str, None]] = {}
        #: owners referenced but not (yet) seen: uid -> (the reference, a dependent's namespace)
        self.virtual: dict[str, tuple[dict[str, Any], str]] = {}

    def get(self, uid: str) -> Node | None:
        return self.nodes.get(uid)

    def dependents(self, uid: str) -> list[Node]:
        """The known objects that name `uid` as an owner, by UID order."""
        return [self.nodes[d] for d in sorted(self._dependents.get(uid, {})) if d in self.nodes]

    def observe(self, obj: Mapping[str, Any]) -> list[tuple[str, str]]:
        """An object was added or updated."""
        new = Node.of(obj)
        old = self.nodes.get(new.uid)
        work: list[tuple[str, str]] = []
        old_owner_uids = {r.get("uid") for r in old.owners} if old else set()
        old_blocking = {
            r.get("uid"): bool(r.get("blockOwnerDeletion")) for r in (old.owners if old else ())
        }
        for ref in old.owners if old else ():
            self._dependents.get(ref.get("uid", ""), {}).pop(new.uid, None)
        self.nodes[new.uid] = new
        self.virtual.pop(new.uid, None)
        for ref in new.owners:
            self._dependents.setdefault(ref.get("uid", ""), {})[new.uid] = None
        new_refs = {r.get("uid"): bool(r.get("blockOwnerDeletion")) for r in new.owners}
        # an owner never seen becomes a virtual node, checked once against the API server
        # (unless the informers show it first); a dependent of an owner leaving in the
        # foreground is itself checked
        for ref in new.owners:
            owner_uid = ref.get("uid", "")
            owner = self.nodes.get(owner_uid)
            if owner is None:
                self.virtual.setdefault(owner_uid, (dict(ref), new.namespace))
                work.append(("virtual", owner_uid))
            elif owner.deleting_dependents:
                work.append(("delete", new.uid))
        # owners released, or no longer blocked, may now finish a foreground deletion
        for owner_uid in sorted(u for u in old_owner_uids if u):
            owner = self.nodes.get(owner_uid)
            if owner is None or not owner.deleting_dependents:
                continue
            if new_refs.get(owner_uid) != old_blocking.get(owner_uid):
                work.append(("delete", owner_uid))
        # processTransitions: the object itself starts leaving with a policy that needs us
        if new.orphaning and not (old and old.orphaning):
            work.append(("orphan", new.uid))
        if new.deleting_dependents:
            if not (old and old.deleting_dependents):
                work.extend(("delete", d.uid) for d in self.dependents(new.uid))
            work.append(("delete", new.uid))
        return _unique(work)

    def forget(self, obj: Mapping[str, Any]) -> list[tuple[str, str]]:
        """An object was deleted: its dependents lose an owner; an owner that waited for it
        may finish."""
        uid = meta(obj).get("uid") or ""
        node = self.nodes.pop(uid, None)
        if node is None:
            return []
        work = [("delete", d.uid) for d in self.dependents(uid)]
        for ref in node.owners:
            owner_uid = ref.get("uid", "")
            self._dependents.get(owner_uid, {}).pop(uid, None)
            owner = self.nodes.get(owner_uid)
            if owner is not None and owner.deleting_dependents:
                work.append(("delete", owner_uid))
        return _unique(work)


def _unique(items: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return list(dict.fromkeys(items))


# -- decisions ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class References:
    """classifyReferences: owners alive, owners gone (by UID), owners being deleted in the
    foreground (they want this dependent gone first)."""

    solid: tuple[dict[str, Any], ...] = ()
    dangling: tuple[dict[str, Any], ...] = ()
    waiting: tuple[dict[str, Any], ...] = ()


def classify(
    refs: Sequence[Mapping[str, Any]], owners: Mapping[str, Mapping[str, Any] | None]
) -> References:
    """Sort ownerReferences by what the API server said of each owner: `owners[uid]` is the
    live object found under the reference's name, or None when there is none. An object of
    that name with another UID counts as gone."""
    solid, dangling, waiting = [], [], []
    for ref in refs:
        live = owners.get(ref.get("uid", ""))
        if live is None or meta(live).get("uid") != ref.get("uid"):
            dangling.append(dict(ref))
        elif deleting_dependents(live):
            waiting.append(dict(ref))
        else:
            solid.append(dict(ref))
    return References(tuple(solid), tuple(dangling), tuple(waiting))


@dataclass(frozen=True)
class Decision:
    """What attemptToDeleteItem does with one dependent: nothing, keep only `keep_refs`
    (dropping the others), or delete it with `policy` (Background, Foreground or Orphan)."""

    action: str  # "none", "patch" or "delete"
    keep_refs: tuple[dict[str, Any], ...] = ()
    policy: str = ""


def attempt_to_delete(item: Mapping[str, Any], refs: References, has_dependents: bool) -> Decision:
    """The collector's verdict on `item` (its latest version) given its classified owners."""
    if refs.solid:
        if not refs.dangling and not refs.waiting:
            return Decision("none")
        gone = {r.get("uid") for r in (*refs.dangling, *refs.waiting)}
        keep = tuple(
            dict(r) for r in meta(item).get("ownerReferences") or () if r.get("uid") not in gone
        )
        return Decision("patch", keep_refs=keep)
    if refs.waiting and has_dependents:
        # its own dependents must go first, as its owner asked: delete it in the foreground
        return Decision("delete", policy="Foreground")
    held = finalizers(item)
    if ORPHAN in held:
        policy = "Orphan"  # an existing finalizer is honoured
    elif FOREGROUND in held:
        policy = "Foreground"
    else:
        policy = "Background"
    return Decision("delete", policy=policy)


def blocking_dependents(graph: Graph, owner_uid: str) -> list[Node]:
    """The dependents that still hold back the foreground deletion of `owner_uid`."""
    return [d for d in graph.dependents(owner_uid) if d.blocks(owner_uid)]


def without_owner(refs: Iterable[Mapping[str, Any]], owner_uid: str) -> list[dict[str, Any]]:
    return [dict(r) for r in refs if r.get("uid") != owner_uid]


def delete_options(item: Mapping[str, Any], policy: str) -> dict[str, Any]:
    """The DeleteOptions the collector sends: preconditions on UID and resourceVersion (the
    object it judged is the one deleted) and the propagation policy."""
    m = meta(item)
    return {
        "kind": "DeleteOptions",
        "apiVersion": "v1",
        "preconditions": {"uid": m.get("uid"), "resourceVersion": m.get("resourceVersion")},
        "propagationPolicy": policy,
    }


__all__ = [
    "FOREGROUND",
    "ORPHAN",
    "Decision",
    "Graph",
    "Node",
    "References",
    "attempt_to_delete",
    "blocking_dependents",
    "classify",
    "delete_options",
    "deleting_dependents",
    "finalizers",
    "orphaning",
    "without_owner",
]
