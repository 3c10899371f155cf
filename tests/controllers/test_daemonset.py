"""The DaemonSet controller: node eligibility (cases after upstream's
TestNodeShouldRunDaemonPod and daemonset_util_test), pod shape, status, rolling update, and the
host in the World harness."""

from __future__ import annotations

import pytest

from kube_teach.api.kinds import KINDS
from kube_teach.controllers.daemonset import (
    FailedPodsBackoff,
    calculate_status,
    daemon_pod_tolerations,
    new_pod,
    node_name_affinity,
    node_should_run_daemon_pod,
    nodes_to_daemon_pods,
    pods_should_be_on_nodes,
    target_node_name,
)
from kube_teach.controllers.daemonset_controller import revision_hash
from kube_teach.controllers.daemonset_update import max_unavailable, rolling_update

from .builders import T0, at
from .test_hosts import World

DSS, PODS, NODES = KINDS["DaemonSet"], KINDS["Pod"], KINDS["Node"]
NS = "default"


def node(name: str, labels=None, taints=()) -> dict:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": labels or {"kubernetes.io/hostname": name}},
            "spec": {"taints": list(taints)}}  # fmt: skip


def taint(key: str, effect: str, value: str = "") -> dict:
    out = {"key": key, "effect": effect}
    if value:
        out["value"] = value
    return out


def daemonset(
    name: str = "fluentd", *, max_unavailable=1, max_surge=0, strategy="RollingUpdate", **pod_spec
):
    template_spec = {"containers": [{"name": "c", "image": "fluentd:1"}], **pod_spec}
    update = {"type": strategy}
    if strategy == "RollingUpdate":
        update["rollingUpdate"] = {"maxUnavailable": max_unavailable, "maxSurge": max_surge}
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": name, "namespace": NS, "uid": f"{name}-uid", "generation": 1},
            "spec": {"selector": {"matchLabels": {"app": name}}, "updateStrategy": update,
                     "template": {"metadata": {"labels": {"app": name}}, "spec": template_spec}}}  # fmt: skip


AFFINITY_ZONE = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
    "nodeSelectorTerms": [{"matchExpressions": [
        {"key": "zone", "operator": "In", "values": ["a"]}]}]}}}  # fmt: skip


@pytest.mark.parametrize(
    ("n", "ds", "want"),
    [
        pytest.param(node("n1"), daemonset(), (True, True), id="a plain node runs the pod"),
        pytest.param(node("n1"), daemonset(nodeSelector={"disk": "ssd"}), (False, False),
                     id="a nodeSelector the node does not match"),
        pytest.param(node("n1", {"disk": "ssd"}), daemonset(nodeSelector={"disk": "ssd"}), (True, True),
                     id="a nodeSelector the node matches"),
        pytest.param(node("n1"), daemonset(nodeName="n2"), (False, False), id="the template names another node"),
        pytest.param(node("n1"), daemonset(affinity=AFFINITY_ZONE), (False, False),
                     id="required node affinity not met"),
        pytest.param(node("n1", {"zone": "a"}), daemonset(affinity=AFFINITY_ZONE), (True, True),
                     id="required node affinity met"),
        pytest.param(node("n1", taints=[taint("dedicated", "NoSchedule", "gpu")]), daemonset(), (False, True),
                     id="an untolerated NoSchedule taint: no new pod, but a running one stays"),
        pytest.param(node("n1", taints=[taint("dedicated", "NoExecute", "gpu")]), daemonset(), (False, False),
                     id="an untolerated NoExecute taint: no pod at all"),
        pytest.param(node("n1", taints=[taint("dedicated", "PreferNoSchedule")]), daemonset(), (True, True),
                     id="PreferNoSchedule does not count"),
        pytest.param(node("n1", taints=[taint("dedicated", "NoSchedule", "gpu")]),
                     daemonset(tolerations=[{"key": "dedicated", "operator": "Equal", "value": "gpu",
                                             "effect": "NoSchedule"}]),
                     (True, True), id="a tolerated taint"),
        pytest.param(node("n1", taints=[taint("node.kubernetes.io/not-ready", "NoExecute"),
                                        taint("node.kubernetes.io/unreachable", "NoExecute")]),
                     daemonset(), (True, True), id="not-ready and unreachable are tolerated automatically"),
        pytest.param(node("n1", taints=[taint("node.kubernetes.io/unschedulable", "NoSchedule"),
                                        taint("node.kubernetes.io/memory-pressure", "NoSchedule"),
                                        taint("node.kubernetes.io/disk-pressure", "NoSchedule"),
                                        taint("node.kubernetes.io/pid-pressure", "NoSchedule")]),
                     daemonset(), (True, True), id="a cordoned node under pressure still runs daemon pods"),
        pytest.param(node("n1", taints=[taint("node.kubernetes.io/network-unavailable", "NoSchedule")]),
                     daemonset(), (False, True), id="network-unavailable stops pods without hostNetwork"),
        pytest.param(node("n1", taints=[taint("node.kubernetes.io/network-unavailable", "NoSchedule")]),
                     daemonset(hostNetwork=True), (True, True), id="hostNetwork pods tolerate network-unavailable"),
        pytest.param(node("n1"), daemonset(containers=[{"name": "c", "image": "x", "resources": {
                         "requests": {"cpu": "1000"}}}]), (True, True),
                     id="resources are the scheduler's business, not the controller's"),
    ],
)  # fmt: skip
def test_node_should_run_daemon_pod(n, ds, want):
    assert node_should_run_daemon_pod(n, ds) == want


def test_daemon_tolerations_are_added_in_upstreams_order_and_replace_equal_ones():
    user = {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
            "tolerationSeconds": 300}  # fmt: skip
    got = daemon_pod_tolerations({"tolerations": [user, {"key": "x", "operator": "Exists"}]})
    assert got == [
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
        {"key": "x", "operator": "Exists"},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
        {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
    ]
    assert daemon_pod_tolerations({"hostNetwork": True})[-1] == {
        "key": "node.kubernetes.io/network-unavailable", "operator": "Exists", "effect": "NoSchedule"}  # fmt: skip


NAME_TERM = {"nodeSelectorTerms": [{"matchFields": [
    {"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]}  # fmt: skip
PREFERRED = [{"weight": 1, "preference": {"matchExpressions": [
    {"key": "disk", "operator": "In", "values": ["ssd"]}]}}]  # fmt: skip


@pytest.mark.parametrize(
    ("affinity", "want"),
    [
        pytest.param(None, {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": NAME_TERM}},
                     id="no affinity: a required term on metadata.name"),
        pytest.param({"podAntiAffinity": {"x": 1}},
                     {"podAntiAffinity": {"x": 1},
                      "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": NAME_TERM}},
                     id="other affinities are kept"),
        pytest.param(AFFINITY_ZONE, {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": NAME_TERM}},
                     id="existing required terms are replaced by the node name"),
        pytest.param({"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": PREFERRED}},
                     {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": PREFERRED,
                                       "requiredDuringSchedulingIgnoredDuringExecution": NAME_TERM}},
                     id="preferred terms are kept"),
    ],
)  # fmt: skip
def test_node_name_affinity(affinity, want):
    assert node_name_affinity(affinity, "n1") == want


def test_new_pod_targets_the_node_by_affinity_not_node_name():
    ds = daemonset()
    p = new_pod(ds, "n1", "abc")
    assert "nodeName" not in p["spec"]
    assert (
        p["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        == NAME_TERM
    )
    assert p["metadata"]["labels"] == {"app": "fluentd", "controller-revision-hash": "abc"}
    assert p["metadata"]["generateName"] == "fluentd-"
    assert p["metadata"]["ownerReferences"][0] | {} == {
        "apiVersion": "apps/v1", "kind": "DaemonSet", "name": "fluentd", "uid": "fluentd-uid",
        "controller": True, "blockOwnerDeletion": True}  # fmt: skip
    assert target_node_name(p) == "n1"
    ds["metadata"]["annotations"] = {"deprecated.daemonset.template.generation": "4"}
    assert new_pod(ds, "n1", "abc")["metadata"]["labels"]["pod-template-generation"] == "4"


def pod_on(
    node_name: str,
    name: str,
    *,
    hash_: str = "new",
    ready: bool = True,
    age: float = 0,
    phase: str = "Running",
    ready_for: float = 100,
) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": NS, "creationTimestamp": at(age),
                         "labels": {"app": "fluentd", "controller-revision-hash": hash_}},
            "spec": {"nodeName": node_name},
            "status": {"phase": phase, "conditions": [
                {"type": "Ready", "status": "True" if ready else "False",
                 "lastTransitionTime": at(1000 - ready_for)}]}}  # fmt: skip


NOW = T0 + 1000
THREE = [node("a"), node("b"), node("c")]


def test_manage_creates_where_missing_and_keeps_the_oldest_of_two():
    ds = daemonset()
    pods = [pod_on("a", "a-old", age=1), pod_on("a", "a-new", age=5), pod_on("gone", "x")]
    pending = pod_on("gone", "pending")
    del pending["spec"]["nodeName"]
    pending["spec"]["affinity"] = node_name_affinity(None, "gone")
    actions = pods_should_be_on_nodes(ds, THREE, nodes_to_daemon_pods(ds, [*pods, pending]),
                                      FailedPodsBackoff(), NOW)  # fmt: skip
    assert actions.create_on == ["b", "c"]
    assert actions.delete == ["a-new", "pending"]  # a bound pod on a gone node is left to pod GC


def test_failed_daemon_pods_are_killed_at_most_once_per_backoff():
    ds, backoff = daemonset(), FailedPodsBackoff()
    node_pods = nodes_to_daemon_pods(ds, [pod_on("a", "bad", phase="Failed")])
    first = pods_should_be_on_nodes(ds, [node("a")], node_pods, backoff, NOW)
    assert first.delete == ["bad"]
    assert first.failed == ["Found failed daemon pod default/bad on node a, will try to kill it"]
    again = pods_should_be_on_nodes(ds, [node("a")], node_pods, backoff, NOW + 0.5)
    assert again.delete == [] and again.requeue_after == 1.0
    assert pods_should_be_on_nodes(ds, [node("a")], node_pods, backoff, NOW + 1.5).delete == ["bad"]
    assert backoff.delay("fluentd-uid/0/a") == 2.0


def test_status_counts():
    ds = daemonset(nodeSelector={"role": "log"})
    ds["spec"]["minReadySeconds"] = 30
    log = {"role": "log"}
    nodes = [node("a", log), node("b", log), node("c", log), node("d", log), node("x")]
    pods = [pod_on("a", "pa", ready_for=100), pod_on("b", "pb", ready_for=10),
            pod_on("c", "pc", ready=False, hash_="old"), pod_on("x", "px")]  # fmt: skip
    got = calculate_status(ds, nodes, nodes_to_daemon_pods(ds, pods), "new", NOW)
    assert got == {"currentNumberScheduled": 3, "numberMisscheduled": 1,
                   "desiredNumberScheduled": 4, "numberReady": 2, "observedGeneration": 1,
                   "updatedNumberScheduled": 2, "numberAvailable": 1, "numberUnavailable": 3}  # fmt: skip


@pytest.mark.parametrize(
    ("value", "desired", "want"),
    [(1, 3, 1), ("50%", 3, 2), ("10%", 3, 1), (0, 3, 1), ("0%", 3, 1), (2, 0, 2)],
)
def test_max_unavailable_rounds_up_and_never_blocks(value, desired, want):
    assert max_unavailable(daemonset(max_unavailable=value), desired) == want


@pytest.mark.parametrize(
    ("pods", "budget", "want"),
    [
        pytest.param([pod_on(n, f"{n}-old", hash_="old") for n in "abc"], 1, ["a-old"],
                     id="all old and available: one at a time"),
        pytest.param([pod_on(n, f"{n}-old", hash_="old") for n in "abc"], "50%", ["a-old", "b-old"],
                     id="50% of 3 rounds up to 2"),
        pytest.param([pod_on("a", "a-new", ready=False), pod_on("b", "b-old", hash_="old"),
                      pod_on("c", "c-old", hash_="old")], 1, [],
                     id="a new pod not yet available uses up the budget"),
        pytest.param([pod_on("a", "a-old", hash_="old", ready=False), pod_on("b", "b-old", hash_="old"),
                      pod_on("c", "c-old", hash_="old")], 1, ["a-old"],
                     id="an unavailable old pod is replaced at once and uses up the budget"),
        pytest.param([pod_on("a", "a-old", hash_="old", ready=False), pod_on("b", "b-old", hash_="old",
                      ready=False), pod_on("c", "c-old", hash_="old")], 1, ["a-old", "b-old"],
                     id="every unavailable old pod is replaced, beyond the budget"),
        pytest.param([pod_on("b", "b-old", hash_="old"), pod_on("c", "c-old", hash_="old")], 1, [],
                     id="a node still waiting for its pod counts as unavailable"),
        pytest.param([pod_on(n, f"{n}-new") for n in "abc"], 1, [], id="all updated: nothing to do"),
    ],
)  # fmt: skip
def test_rolling_update(pods, budget, want):
    ds = daemonset(max_unavailable=budget)
    assert rolling_update(ds, THREE, nodes_to_daemon_pods(ds, pods), "new", NOW) == (want, [])


# -- the host ----------------------------------------------------------------------------------
def ds_world() -> World:
    return World(controllers=["daemonset-controller"])


def make_ready(w: World) -> int:
    """Play scheduler and kubelet: every pod not yet Ready becomes Running and Ready."""
    count = 0
    for p in w.store.list(PODS, NS):
        if p.status.get("conditions"):
            continue
        p["status"] = {"phase": "Running", "conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": w.store.timestamp()}]}  # fmt: skip
        w.store.update(p, subresource="status")
        count += 1
    return count


def targets(w: World) -> list[str]:
    return sorted(target_node_name(p) for p in w.store.list(PODS, NS))


def test_one_pod_per_eligible_node_with_status_and_a_new_node_gets_one():
    w = ds_world()
    w.store.create(node("a"))
    w.store.create(node("b", taints=[taint("node.kubernetes.io/unschedulable", "NoSchedule")]))
    w.store.create(node("gpu", taints=[taint("dedicated", "NoSchedule", "gpu")]))
    body = daemonset()
    for key in ("uid", "generation"):
        del body["metadata"][key]
    w.store.create(body)
    w.run(3)
    assert targets(w) == ["a", "b"]
    ds = w.store.get(DSS, "fluentd", NS)
    assert ds.status == {"currentNumberScheduled": 2, "numberMisscheduled": 0,
                         "desiredNumberScheduled": 2, "numberReady": 0, "observedGeneration": 1,
                         "updatedNumberScheduled": 2, "numberUnavailable": 2}  # fmt: skip
    created = sorted(e["message"] for e in w.events("SuccessfulCreate"))
    assert created == sorted(f"Created pod: {p.name}" for p in w.store.list(PODS, NS))
    make_ready(w)
    w.store.create(node("c"))
    w.run(3)
    assert targets(w) == ["a", "b", "c"]
    make_ready(w)
    w.run(2)
    status = w.store.get(DSS, "fluentd", NS).status
    counts = [status[k] for k in ("desiredNumberScheduled", "numberReady", "numberAvailable")]
    assert counts == [3, 3, 3]
    assert "numberUnavailable" not in status


def test_a_node_that_stops_matching_loses_its_pod():
    w = ds_world()
    w.store.create(node("a", {"role": "log"}))
    w.store.create(node("b", {"role": "log"}))
    body = daemonset(nodeSelector={"role": "log"})
    for key in ("uid", "generation"):
        del body["metadata"][key]
    w.store.create(body)
    w.run(3)
    assert targets(w) == ["a", "b"]
    b = w.store.get(NODES, "b")
    b["metadata"]["labels"] = {}
    w.store.update(b)
    w.run(3)
    assert targets(w) == ["a"]
    assert len(w.events("SuccessfulDelete")) == 1


def test_rolling_update_replaces_one_pod_at_a_time():
    w = ds_world()
    for n in "abcd":
        w.store.create(node(n))
    body = daemonset()
    for key in ("uid", "generation"):
        del body["metadata"][key]
    w.store.create(body)
    w.run(3)
    make_ready(w)
    w.run(2)
    ds = w.store.get(DSS, "fluentd", NS)
    ds["spec"]["template"]["spec"]["containers"][0]["image"] = "fluentd:2"
    w.store.update(ds)
    new_hash = revision_hash(w.store.get(DSS, "fluentd", NS))
    most_missing = 0
    for _ in range(12):
        w.run(2)
        pods = w.store.list(PODS, NS)
        ready_nodes = {target_node_name(p) for p in pods if p.status.get("conditions")}
        most_missing = max(most_missing, 4 - len(ready_nodes))
        make_ready(w)
    pods = w.store.list(PODS, NS)
    assert len(pods) == 4 and {p.labels["controller-revision-hash"] for p in pods} == {new_hash}
    assert most_missing == 1  # maxUnavailable 1: never two nodes without an available pod
    status = w.store.get(DSS, "fluentd", NS).status
    assert status["updatedNumberScheduled"] == 4 and status["observedGeneration"] == 2


def test_the_controllers_are_registered_under_upstreams_ids_and_on_by_default():
    from kube_teach.controllers.manager import DEFAULT_CONTROLLERS, enabled_controllers

    ids = ["daemonset-controller", "endpoints-controller", "endpointslice-controller",
           "garbage-collector-controller", "service-lb-controller"]  # fmt: skip
    assert all(i in DEFAULT_CONTROLLERS for i in ids)
    assert set(ids) <= set(enabled_controllers(["*"], DEFAULT_CONTROLLERS))


def test_same_seed_same_trace():
    def run() -> str:
        w = World(controllers=["daemonset-controller", "garbage-collector-controller",
                               "endpointslice-controller", "endpoints-controller"])  # fmt: skip
        for n in "ab":
            w.store.create(node(n))
        body = daemonset()
        for key in ("uid", "generation"):
            del body["metadata"][key]
        w.store.create(body)
        w.run(3)
        make_ready(w)
        w.store.delete(DSS, "fluentd", NS)
        w.run(3)
        assert w.store.list(PODS, NS) == []  # the garbage collector took the pods
        return w.trace.text()

    assert run() == run()


SURGE = {"max_unavailable": 0, "max_surge": 1}


@pytest.mark.parametrize(
    ("pods", "want_delete", "want_create"),
    [
        pytest.param([pod_on(n, f"{n}-old", hash_="old") for n in "abc"], [], ["a"],
                     id="surge 1: one new pod beside an available old one"),
        pytest.param([pod_on("a", "a-old", hash_="old"), pod_on("a", "a-new", ready=False),
                      pod_on("b", "b-old", hash_="old"), pod_on("c", "c-old", hash_="old")], [], [],
                     id="while the surged pod is not available, nothing more"),
        pytest.param([pod_on("a", "a-old", hash_="old"), pod_on("a", "a-new"),
                      pod_on("b", "b-old", hash_="old"), pod_on("c", "c-old", hash_="old")],
                     ["a-old"], ["b"], id="the new pod is available: its old pod goes, the next node surges"),
        pytest.param([pod_on("a", "a-old", hash_="old", ready=False), pod_on("b", "b-old", hash_="old"),
                      pod_on("c", "c-old", hash_="old")], [], ["a", "b"],
                     id="an unavailable old pod gets its successor outside the surge budget"),
    ],
)  # fmt: skip
def test_rolling_update_with_surge(pods, want_delete, want_create):
    ds = daemonset(**SURGE)
    got = rolling_update(ds, THREE, nodes_to_daemon_pods(ds, pods), "new", NOW)
    assert got == (want_delete, want_create)


@pytest.mark.parametrize(
    ("pods", "want"),
    [
        pytest.param([pod_on("a", "old", hash_="old"), pod_on("a", "new", ready=False, age=5)], [],
                     id="a Ready old pod stays beside a new one not yet available"),
        pytest.param([pod_on("a", "old", hash_="old"), pod_on("a", "new", age=5)], ["old"],
                     id="once the new pod is available the old one goes"),
        pytest.param([pod_on("a", "old", hash_="old", ready=False), pod_on("a", "new", ready=False, age=5)],
                     ["old"], id="an old pod that is not Ready goes at once"),
        pytest.param([pod_on("a", "new1", age=1), pod_on("a", "new2", age=2)], ["new2"],
                     id="of two new pods the younger goes"),
    ],
)  # fmt: skip
def test_manage_with_surge_keeps_at_most_one_old_and_one_new_pod(pods, want):
    ds = daemonset(**SURGE)
    node_pods = nodes_to_daemon_pods(ds, pods)
    actions = pods_should_be_on_nodes(ds, [node("a")], node_pods, FailedPodsBackoff(), NOW, "new")
    assert actions.delete == want and actions.create_on == []


def test_surge_rolling_update_never_leaves_a_node_without_an_available_pod():
    w = ds_world()
    for n in "abc":
        w.store.create(node(n))
    body = daemonset(**SURGE)
    for key in ("uid", "generation"):
        del body["metadata"][key]
    w.store.create(body)
    w.run(3)
    make_ready(w)
    w.run(2)
    ds = w.store.get(DSS, "fluentd", NS)
    ds["spec"]["template"]["spec"]["containers"][0]["image"] = "fluentd:2"
    w.store.update(ds)
    most_pods = 0
    for _ in range(10):
        w.run(2)
        pods = w.store.list(PODS, NS)
        ready_nodes = {target_node_name(p) for p in pods if p.status.get("conditions")}
        assert ready_nodes == {"a", "b", "c"}
        most_pods = max(most_pods, len(pods))
        make_ready(w)
    new_hash = revision_hash(w.store.get(DSS, "fluentd", NS))
    pods = w.store.list(PODS, NS)
    assert len(pods) == 3 and {p.labels["controller-revision-hash"] for p in pods} == {new_hash}
    assert most_pods == 4  # maxSurge 1: one extra pod at a time
