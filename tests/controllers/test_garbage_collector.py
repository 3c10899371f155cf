"""The garbage collector: the graph and the verdicts (cases after upstream's
garbagecollector_test.go: classifyReferences, attemptToDeleteItem, the graph's transitions),
then background, foreground and orphan deletion in the World harness."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kube_teach.api.kinds import KINDS
from kube_teach.apiserver.deletion import DeleteOptions
from kube_teach.controllers.garbage_collector import (
    Decision,
    Graph,
    attempt_to_delete,
    classify,
    delete_options,
)

from .test_hosts import World

PODS, RSS, CMS, NODES = KINDS["Pod"], KINDS["ReplicaSet"], KINDS["ConfigMap"], KINDS["Node"]
NS = "default"
GONE = "2025-01-01T00:00:00Z"


def ref(uid: str, name: str = "", kind: str = "ReplicaSet", block: bool = False) -> dict:
    out = {"apiVersion": "apps/v1", "kind": kind, "name": name or uid, "uid": uid}
    if block:
        out["blockOwnerDeletion"] = True
    return out


def obj(uid: str, *owners: dict, kind: str = "Pod", finalizers=(), deleting: bool = False) -> dict:
    m = {"name": uid, "namespace": NS, "uid": uid, "resourceVersion": "7",
         "ownerReferences": list(owners)}  # fmt: skip
    if finalizers:
        m["finalizers"] = list(finalizers)
    if deleting:
        m["deletionTimestamp"] = GONE
    return {"apiVersion": "apps/v1" if kind == "ReplicaSet" else "v1", "kind": kind, "metadata": m}


ALIVE = obj("o1", kind="ReplicaSet")
FOREGROUND_OWNER = obj("o2", kind="ReplicaSet", finalizers=["foregroundDeletion"], deleting=True)
ORPHANING_OWNER = obj("o3", kind="ReplicaSet", finalizers=["orphan"], deleting=True)
RENAMED = obj("other-uid", kind="ReplicaSet")  # same name as a gone owner, another UID


@pytest.mark.parametrize(
    ("item", "owners", "has_dependents", "want"),
    [
        pytest.param(obj("d", ref("o1")), {"o1": ALIVE}, False, Decision("none"),
                     id="a live owner keeps its dependent"),
        pytest.param(obj("d", ref("gone")), {"gone": None}, False, Decision("delete", policy="Background"),
                     id="an absent owner: the dependent is deleted in the background"),
        pytest.param(obj("d", ref("gone")), {"gone": RENAMED}, False, Decision("delete", policy="Background"),
                     id="an owner of that name with another UID counts as absent"),
        pytest.param(obj("d", ref("o1"), ref("gone")), {"o1": ALIVE, "gone": None}, False,
                     Decision("patch", keep_refs=(ref("o1"),)),
                     id="one owner alive, one gone: only the dangling reference goes"),
        pytest.param(obj("d", ref("o1"), ref("o2")), {"o1": ALIVE, "o2": FOREGROUND_OWNER}, False,
                     Decision("patch", keep_refs=(ref("o1"),)),
                     id="a live owner and one deleting in the foreground: the reference to the latter goes"),
        pytest.param(obj("d", ref("o2")), {"o2": FOREGROUND_OWNER}, False,
                     Decision("delete", policy="Background"),
                     id="the only owner deletes in the foreground: the dependent goes"),
        pytest.param(obj("d", ref("o2")), {"o2": FOREGROUND_OWNER}, True,
                     Decision("delete", policy="Foreground"),
                     id="a dependent with dependents of its own goes in the foreground"),
        pytest.param(obj("d", ref("gone"), finalizers=["orphan"]), {"gone": None}, False,
                     Decision("delete", policy="Orphan"), id="an orphan finalizer on the dependent is honoured"),
        pytest.param(obj("d", ref("gone"), finalizers=["foregroundDeletion"]), {"gone": None}, False,
                     Decision("delete", policy="Foreground"), id="so is a foregroundDeletion finalizer"),
        pytest.param(obj("d", ref("o3")), {"o3": ORPHANING_OWNER}, False, Decision("none"),
                     id="an orphaning owner is still an owner until it strips the reference"),
    ],
)  # fmt: skip
def test_attempt_to_delete(item, owners, has_dependents, want):
    refs = classify(item["metadata"]["ownerReferences"], owners)
    assert attempt_to_delete(item, refs, has_dependents) == want


def test_delete_options_carry_preconditions_and_the_policy():
    assert delete_options(obj("d"), "Background") == {
        "kind": "DeleteOptions", "apiVersion": "v1",
        "preconditions": {"uid": "d", "resourceVersion": "7"}, "propagationPolicy": "Background",
    }  # fmt: skip


def test_graph_tracks_dependents_and_says_what_to_do_on_each_change():
    g = Graph()
    assert g.observe(obj("o1", kind="ReplicaSet")) == []
    assert g.observe(obj("d1", ref("o1", block=True))) == []  # owner known and alive
    assert g.observe(obj("d2", ref("never-seen"))) == [("virtual", "never-seen")]  # look it up
    assert g.observe(obj("never-seen", kind="ReplicaSet")) == [] and g.virtual == {}
    assert [d.uid for d in g.dependents("o1")] == ["d1"]
    # the owner starts a foreground deletion: its dependents and itself are queued
    fg = obj("o1", kind="ReplicaSet", finalizers=["foregroundDeletion"], deleting=True)
    assert g.observe(fg) == [("delete", "d1"), ("delete", "o1")]
    # the dependent goes: the owner is looked at again
    assert g.forget(obj("d1", ref("o1", block=True))) == [("delete", "o1")]
    assert g.dependents("o1") == []
    # an orphaning owner is queued for orphaning once
    g.observe(obj("o5", kind="ReplicaSet"))
    g.observe(obj("d5", ref("o5")))
    orphaning = obj("o5", kind="ReplicaSet", finalizers=["orphan"], deleting=True)
    assert g.observe(orphaning) == [("orphan", "o5")]
    assert g.observe(orphaning) == []
    # an owner that disappears sends its dependents to be checked
    assert g.forget(orphaning) == [("delete", "d5")]


def test_graph_releasing_a_blocking_dependent_wakes_a_foreground_owner():
    g = Graph()
    g.observe(obj("o1", kind="ReplicaSet", finalizers=["foregroundDeletion"], deleting=True))
    g.observe(obj("d1", ref("o1", block=True)))
    assert g.observe(obj("d1", ref("o1", block=False))) == [("delete", "d1"), ("delete", "o1")]


# -- the host ----------------------------------------------------------------------------------
def gc_world() -> World:
    return World(controllers=["garbage-collector-controller"])


def owner(w: World, name: str = "web"):
    return w.store.create(
        {"apiVersion": "apps/v1", "kind": "ReplicaSet",
         "metadata": {"name": name, "namespace": NS},
         "spec": {"replicas": 0, "selector": {"matchLabels": {"app": name}},
                  "template": {"metadata": {"labels": {"app": name}},
                               "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
    )  # fmt: skip


def owner_ref(o, block: bool = True) -> dict:
    return {"apiVersion": o["apiVersion"], "kind": o["kind"], "name": o.name, "uid": o.uid,
            "controller": True, "blockOwnerDeletion": block}  # fmt: skip


def dependent(w: World, name: str, *refs: dict):
    return w.store.create({"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": name, "namespace": NS,
                                        "ownerReferences": list(refs)}})  # fmt: skip


def start_deleting(w: World, o, finalizer: str) -> None:
    """DELETE with propagationPolicy Foreground or Orphan: the API server sets
    deletionTimestamp and adds the finalizer, and the owner waits for the collector."""
    policy = {"foregroundDeletion": "Foreground", "orphan": "Orphan"}[finalizer]
    w.store.delete(RSS, o.name, NS, options=DeleteOptions(propagation_policy=policy))


def finished(w: World, o, finalizer: str) -> bool:
    """The finalizer is off (the API server then removes the object, once it does that)."""
    if not w.store.exists(RSS, o.name, NS):
        return True
    return finalizer not in (w.store.get(RSS, o.name, NS).metadata.get("finalizers") or [])


def exists(w: World, name: str) -> bool:
    return w.store.exists(CMS, name, NS)


def test_background_deletion_removes_dependents_whose_owners_are_all_gone():
    w = gc_world()
    rs, other = owner(w), owner(w, "other")
    dependent(w, "only-rs", owner_ref(rs))
    dependent(w, "both", owner_ref(rs), owner_ref(other, block=False) | {"controller": False})
    dependent(w, "unrelated")
    w.run(2)
    assert exists(w, "only-rs") and exists(w, "both")
    w.store.delete(RSS, "web", NS)
    w.run(2)
    assert not exists(w, "only-rs") and exists(w, "unrelated")
    both = w.store.get(CMS, "both", NS)
    assert [r["uid"] for r in both.metadata["ownerReferences"]] == [other.uid]
    deleted = w.trace.where("garbage-collector-controller", "delete")
    assert [(e.fields["key"], e.fields["policy"]) for e in deleted] == [
        ("default/only-rs", "Background")
    ]


def test_a_dependent_whose_owner_never_existed_or_was_recreated_is_collected():
    w = gc_world()
    rs = owner(w)
    stale = owner_ref(rs) | {"uid": "00000000-0000-4000-8000-000000000000"}
    dependent(w, "points-at-old-web", stale)
    dependent(w, "points-at-nothing", owner_ref(rs) | {"name": "ghost", "uid": "1-2-3"})
    dependent(w, "fine", owner_ref(rs))
    w.run(3)
    assert not exists(w, "points-at-old-web") and not exists(w, "points-at-nothing")
    assert exists(w, "fine")


def test_a_pod_owned_by_a_node_goes_with_the_node():
    w = gc_world()
    n = w.store.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"}})
    ref = {"apiVersion": "v1", "kind": "Node", "name": "node-1", "uid": n.uid}
    w.store.create({"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": "mirror", "namespace": NS, "ownerReferences": [ref]},
                    "spec": {"containers": [{"name": "c", "image": "nginx"}]}})  # fmt: skip
    w.run(2)
    assert w.store.exists(PODS, "mirror", NS)
    w.store.delete(NODES, "node-1")
    w.run(2)
    assert not w.store.exists(PODS, "mirror", NS)


def test_foreground_deletion_deletes_dependents_then_drops_the_finalizer():
    w = gc_world()
    rs, other = owner(w), owner(w, "other")
    dependent(w, "blocking", owner_ref(rs, block=True))
    dependent(w, "not-blocking", owner_ref(rs, block=False))
    dependent(w, "shared", owner_ref(rs), owner_ref(other, block=False) | {"controller": False})
    w.run(2)
    start_deleting(w, rs, "foregroundDeletion")
    w.run(3)
    assert not exists(w, "blocking") and not exists(w, "not-blocking")
    shared = w.store.get(CMS, "shared", NS)
    assert [r["uid"] for r in shared.metadata["ownerReferences"]] == [other.uid]
    assert finished(w, rs, "foregroundDeletion")
    # the finalizer came off only after the blocking dependent was gone
    gone = w.trace.where("apiserver", "delete", key="default/blocking")[0].t
    dropped = w.trace.where("garbage-collector-controller", "removed-finalizer")[0]
    assert dropped.fields["finalizer"] == "foregroundDeletion" and dropped.t > gone


def test_foreground_deletion_waits_while_a_blocking_dependent_cannot_be_deleted():
    w = gc_world()
    rs = owner(w)
    dependent(w, "blocking", owner_ref(rs, block=True))
    w.run(2)
    held = w.store.get(CMS, "blocking", NS)
    held["metadata"]["finalizers"] = ["example.com/hold"]
    w.store.update(held)
    w.store.delete(CMS, "blocking", NS)  # stuck on its own finalizer
    start_deleting(w, rs, "foregroundDeletion")
    w.run(5)
    assert not finished(w, rs, "foregroundDeletion")  # still blocked
    held = w.store.get(CMS, "blocking", NS)
    held["metadata"]["finalizers"] = []
    w.store.update(held)  # its finalizer's owner let go: the last finalizer off, it is gone
    w.run(2)
    assert finished(w, rs, "foregroundDeletion")


def test_orphan_deletion_strips_the_owner_from_dependents_then_drops_the_finalizer():
    w = gc_world()
    rs, other = owner(w), owner(w, "other")
    dependent(w, "a", owner_ref(rs))
    dependent(w, "b", owner_ref(other, block=False) | {"controller": False}, owner_ref(rs))
    w.run(2)
    start_deleting(w, rs, "orphan")
    w.run(3)
    assert exists(w, "a") and exists(w, "b")
    assert "ownerReferences" not in w.store.get(CMS, "a", NS).metadata
    assert [r["uid"] for r in w.store.get(CMS, "b", NS).metadata["ownerReferences"]] == [other.uid]
    assert finished(w, rs, "orphan")
    assert not w.trace.where("garbage-collector-controller", "delete")


# -- property: the collector agrees with the definition -------------------------------------------
def expected_survivors(owners_of: dict[str, list[str]], deleted: set[str]) -> dict[str, list[str]]:
    """The obviously correct answer: an object with owners goes once all of them are gone
    (repeat until nothing changes); survivors keep only references to survivors."""
    gone = set(deleted)
    changed = True
    while changed:
        changed = False
        for name, owners in owners_of.items():
            if name not in gone and owners and all(o in gone for o in owners):
                gone.add(name)
                changed = True
    return {
        n: [o for o in owners if o not in gone] for n, owners in owners_of.items() if n not in gone
    }


@settings(max_examples=12, deadline=None)
@given(
    links=st.lists(st.lists(st.integers(0, 9), max_size=2, unique=True), min_size=6, max_size=6),
    deleted=st.sets(st.sampled_from(["rs-0", "rs-1", "rs-2"]), min_size=1),
)
def test_background_collection_matches_the_definition(links, deleted):
    w = gc_world()
    objs = {f"rs-{i}": owner(w, f"rs-{i}") for i in range(3)}
    owners_of: dict[str, list[str]] = {f"rs-{i}": [] for i in range(3)}
    for i, picks in enumerate(links):
        # an owner is a ReplicaSet or an earlier ConfigMap, so ownership has no cycles
        candidates = [*(f"rs-{k}" for k in range(3)), *(f"cm-{k}" for k in range(i))]
        chosen = list(dict.fromkeys(candidates[p % len(candidates)] for p in picks))
        refs = [owner_ref(objs[o], block=False) | {"controller": False} for o in chosen]
        objs[f"cm-{i}"] = dependent(w, f"cm-{i}", *refs)
        owners_of[f"cm-{i}"] = chosen
    w.run(2)
    for name in sorted(deleted):
        w.store.delete(RSS, name, NS)
    w.run(10)
    want = expected_survivors(owners_of, set(deleted))
    got = {}
    for kind in (RSS, CMS):
        for o in w.store.list(kind, NS):
            if o.name.startswith(("rs-", "cm-")):
                got[o.name] = [r["name"] for r in o.metadata.get("ownerReferences") or ()]
    assert got == want
