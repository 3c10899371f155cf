"""The scheduling explorer (a pod menu over evaluate's table, with a static copy) and place()."""

import pytest

from kube_teach.scheduler import Snapshot, evaluate
from kube_teach.scheduler.explorer import explorer, place

from .builders import node, pod

NODES = [node(f"n{i}", allocatable={"cpu": "2", "memory": "4Gi", "pods": "110"}) for i in (1, 2)]


def test_the_menu_selects_a_pod_and_renders_its_cycle():
    pods = [pod("small", requests={"cpu": "500m"}), pod("huge", requests={"cpu": "8"})]
    ex = explorer(pods, NODES, title="demo")
    assert ex.names == ["small", "huge"] and ex.selected == "small"
    assert ex.evaluation.selected in ("n1", "n2")
    ev = ex.select("huge")
    assert ev.message.startswith("0/2 nodes are available: 2 Insufficient cpu.")
    assert ex.text().startswith("demo\npod default/huge")
    snap = ex.snapshot()
    assert "Insufficient cpu" in snap["text/html"] and snap["text/plain"] == ex.text()
    assert ex.select("huge") is ev  # computed once
    with pytest.raises(ValueError, match="no pod 'nope'"):
        ex.select("nope")


def test_the_static_copy_is_the_same_on_every_run():
    pods = [pod("a", requests={"cpu": "100m"})]
    assert explorer(pods, NODES).html() == explorer(pods, NODES).html()


def test_a_live_explorer_asks_the_scheduler():
    class FakeScheduler:
        def explain(self, name, namespace):
            return evaluate(pod(name, namespace=namespace), NODES)

    ex = explorer(["web"], FakeScheduler(), namespace="prod")
    assert ex.evaluation.pod == "prod/web"


def test_place_binds_each_pod_before_the_next_cycle():
    pods = [pod(f"p{i}", requests={"cpu": "1500m"}) for i in range(3)]
    snapshot = Snapshot(NODES)
    placed = place(pods, snapshot)
    assert sorted(v for v in placed.values() if v) == ["n1", "n2"]
    assert list(placed.values()).count(None) == 1
    assert sum(len(ni.pods) for ni in snapshot.node_infos) == 2
