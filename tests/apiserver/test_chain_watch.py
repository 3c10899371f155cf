"""Watches over the network: replay from a resourceVersion, resuming without loss or
duplicates, 410 past the watch cache's window, bookmarks, and timeoutSeconds."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kube_teach.api.kinds import KINDS
from kube_teach.api.rest import collection_path, object_path, with_query
from kube_teach.apiserver.server import APIServer
from kube_teach.apiserver.store import INITIAL_NAMESPACES, ObjectStore
from kube_teach.apiserver.watch import BOOKMARK_EVERY, WATCH_WINDOW
from kube_teach.client.rest import RESTClient
from kube_teach.sim import Clock, Metrics, Network, Seeds, Trace

CMS = KINDS["ConfigMap"]
CM_PATH = collection_path(CMS, "default")


class World:
    def __init__(self):
        self.clock, seeds = Clock(), Seeds(0)
        trace, metrics = Trace(self.clock), Metrics(self.clock)
        self.net = Network(self.clock, seeds, trace)
        self.store = ObjectStore(self.clock, seeds, trace, 0)
        for ns in INITIAL_NAMESPACES:
            self.store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        self.server = APIServer("apiserver", self.net, self.store, trace, metrics)
        self.client = RESTClient(self.net.add_host("c"), "apiserver", qps=1e9, burst=10**9)

    def call(self, method, path, body=None):
        box = []
        self.client.request(method, path, body, box.append)
        self.clock.run_until(lambda: bool(box), timeout=60)
        assert box[0].code in (200, 201), box[0]
        return box[0].body

    def watch(self, rv, **query):
        events, closed = [], []
        path = with_query(CM_PATH, watch="1", resourceVersion=rv, **query)
        handle = self.client.watch(path, events.append, closed.append)
        self.clock.run(0.1)
        return handle, events, closed


@pytest.fixture
def world():
    return World()


def cm(name, value="v"):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
            "data": {"k": value}}  # fmt: skip


def seen(events):
    return [(e.type, e.object["metadata"]["name"], e.object["metadata"]["resourceVersion"])
            for e in events if e.type != "BOOKMARK"]  # fmt: skip


def test_a_watch_from_a_resource_version_replays_what_followed(world):
    start = world.call("POST", CM_PATH, cm("a"))["metadata"]["resourceVersion"]
    b = world.call("POST", CM_PATH, cm("b"))
    a = world.call("GET", object_path(CMS, "a", "default"))
    a["data"] = {"k": "changed"}
    a2 = world.call("PUT", object_path(CMS, "a", "default"), a)
    world.call("DELETE", object_path(CMS, "b", "default"))
    deleted_rv = str(world.store.revision)
    _, events, _ = world.watch(start)
    assert seen(events) == [
        ("ADDED", "b", b["metadata"]["resourceVersion"]),
        ("MODIFIED", "a", a2["metadata"]["resourceVersion"]),
        ("DELETED", "b", deleted_rv),
    ]
    world.call("POST", CM_PATH, cm("c"))  # and then it follows live
    assert seen(events)[-1][:2] == ("ADDED", "c")


def test_a_watch_from_zero_starts_with_the_current_objects(world):
    world.call("POST", CM_PATH, cm("a"))
    world.call("POST", CM_PATH, cm("b"))
    _, events, _ = world.watch("0")
    assert [(t, n) for t, n, _ in seen(events)] == [("ADDED", "a"), ("ADDED", "b")]


# Operations: (verb, name index) with verbs create/update/delete; "reconnect" closes the watch,
# lets writes happen while it is away, and resumes from the last resourceVersion seen.
OPS = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(["write", "delete"]), st.integers(0, 3)),
        st.just(("reconnect", 0)),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=25)
@given(ops=OPS)
def test_resuming_from_the_last_seen_resource_version_loses_and_repeats_nothing(ops):
    world = World()
    start = str(world.store.revision)
    log = []  # every change, as the server made it
    world.store.watch(
        lambda ev, obj: (
            log.append((ev, obj.name, obj.resource_version)) if obj.kind == "ConfigMap" else None
        )
    )
    received = []
    handle, events, _ = world.watch(start)
    last = start
    pending_ops = list(ops)
    while pending_ops:
        verb, i = pending_ops.pop(0)
        name = f"cm-{i}"
        if verb == "reconnect":
            handle.stop()
            world.clock.run(0.1)
            received += seen(events)
            last = received[-1][2] if received else last
            # writes while the watcher is away (the next op, if any, happens now)
            if pending_ops and pending_ops[0][0] != "reconnect":
                verb, i = pending_ops.pop(0)
                _apply(world, verb, f"cm-{i}")
            handle, events, _ = world.watch(last)
            continue
        _apply(world, verb, name)
    world.clock.run(0.5)
    received += seen(events)
    assert received == log
    assert len({rv for _, _, rv in received}) == len(received)  # no duplicates


def _apply(world, verb, name):
    exists = world.store.exists(CMS, name, "default")
    if verb == "write" and not exists:
        world.call("POST", CM_PATH, cm(name))
    elif verb == "write":
        obj = world.call("GET", object_path(CMS, name, "default"))
        obj["data"] = {"k": str(world.store.revision)}
        world.call("PUT", object_path(CMS, name, "default"), obj)
    elif exists:
        world.call("DELETE", object_path(CMS, name, "default"))


def test_a_resource_version_older_than_the_window_is_410(world):
    start = str(world.store.revision)
    rvs = [
        int(world.store.create(cm(f"cm-{i}")).resource_version) for i in range(WATCH_WINDOW + 10)
    ]
    _, events, closed = world.watch(start)
    assert [e.type for e in events] == ["ERROR"]
    status = events[0].object
    oldest_kept = rvs[-WATCH_WINDOW]
    assert (status["code"], status["reason"]) == (410, "Expired")
    assert status["message"] == f"too old resource version: {start} ({oldest_kept - 1})"
    assert closed and closed[0].body == "watch closed"
    # the oldest version still in the window resumes fine
    _, ok, _ = world.watch(str(oldest_kept - 1))
    assert len(seen(ok)) == WATCH_WINDOW


def test_bookmarks_about_once_a_minute_only_when_asked(world):
    _, with_bm, _ = world.watch("0", allowWatchBookmarks="true")
    _, without, _ = world.watch("0")
    world.call("POST", CM_PATH, cm("a"))
    world.clock.run(3 * BOOKMARK_EVERY + 5)
    marks = [e for e in with_bm if e.type == "BOOKMARK"]
    assert len(marks) == 3
    assert [m.object["metadata"]["resourceVersion"] for m in marks] == [
        str(world.store.revision)
    ] * 3
    assert {m.object["kind"] for m in marks} == {"ConfigMap"}
    assert all(e.type != "BOOKMARK" for e in without)


@pytest.mark.parametrize("seconds", [5, 30])
def test_timeout_seconds_closes_the_watch(world, seconds):
    t0 = world.clock.now
    handle, _, closed = world.watch("0", timeoutSeconds=seconds)
    world.clock.run(seconds - 1)
    assert not closed and handle.open
    world.clock.run(2)
    assert closed and not handle.open
    assert closed[0].code == 200
    assert seconds <= world.clock.now - t0 <= seconds + 2


def test_a_watch_the_client_stops_ends_on_the_server_too(world):
    handle, _, _ = world.watch("0")
    assert len(world.server.watches.watchers) == 1
    handle.stop()
    world.clock.run(1)
    assert len(world.server.watches.watchers) == 0
