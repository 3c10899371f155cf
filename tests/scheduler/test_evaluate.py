"""evaluate() end to end: the seed article's pod, FailedScheduling texts, the node search window,
profiles chosen by schedulerName, and the notebook rendering."""

import random

import pytest

from kube_teach.api import load_one
from kube_teach.scheduler import Code, SchedulerError, Snapshot, evaluate

from .builders import node, pod

# The pod from the seed article's "Component 3: Scheduler", verbatim.
WEB_APP = """
apiVersion: v1
kind: Pod
metadata:
  name: web-app
spec:
  containers:
  - name: app
    image: web-app:v1
    resources:
      requests:
        memory: "256Mi"
        cpu: "500m"
      limits:
        memory: "512Mi"
        cpu: "1000m"
  nodeSelector:
    disktype: ssd
    environment: production
  affinity:
    nodeAffinity:
      preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 1
        preference:
          matchExpressions:
          - key: accelerator
            operator: In
            values:
            - gpu
    podAffinity:
      preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          labelSelector:
            matchExpressions:
            - key: app
              operator: In
              values:
              - cache
          topologyKey: kubernetes.io/hostname
    podAntiAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
      - labelSelector:
          matchExpressions:
          - key: app
            operator: In
            values:
            - web-app
        topologyKey: kubernetes.io/hostname
  tolerations:
  - key: "dedicated"
    operator: "Equal"
    value: "database"
    effect: "NoSchedule"
"""
NODE = {"cpu": "4", "memory": "8Gi", "pods": "110"}


def cluster_node(name, disk="ssd", gpu=False, taint=None):
    labels = {"kubernetes.io/hostname": name, "disktype": disk, "environment": "production"}
    if gpu:
        labels["accelerator"] = "gpu"
    taints = [{"key": "dedicated", "value": taint, "effect": "NoSchedule"}] if taint else ()
    return node(name, labels=labels, allocatable=NODE, taints=taints)


def app_pod(name, app, node_name):
    return pod(
        name, labels={"app": app}, node_name=node_name, requests={"cpu": "500m", "memory": "512Mi"}
    )


def test_the_seed_articles_pod():
    nodes = [
        cluster_node("node-1", gpu=True),
        cluster_node("node-2"),
        cluster_node("node-3"),
        cluster_node("node-4", disk="hdd"),
        cluster_node("node-5", gpu=True, taint="database"),
        cluster_node("node-6", taint="gpu-team"),
    ]
    pods = [app_pod("cache-1", "cache", "node-2"), app_pod("web-app-0", "web-app", "node-3"),
            app_pod("cache-2", "cache", "node-5")]  # fmt: skip
    ev = evaluate(load_one(WEB_APP), nodes, pods)
    verdicts = {n: (f.code, f.plugin, f.reason) for n, f in ev.filters.items()}
    assert verdicts == {
        "node-1": (Code.Success, "", ""),
        "node-2": (Code.Success, "", ""),
        "node-3": (Code.Unschedulable, "InterPodAffinity", "node(s) didn't match pod anti-affinity rules"),
        "node-4": (Code.UnschedulableAndUnresolvable, "NodeAffinity", "node(s) didn't match Pod's node affinity/selector"),
        "node-5": (Code.Success, "", ""),
        "node-6": (Code.UnschedulableAndUnresolvable, "TaintToleration", "node(s) had untolerated taint {dedicated: gpu-team}"),
    }  # fmt: skip
    assert ev.skipped_score_plugins == ("PodTopologySpread", "VolumeBinding")
    weighted = {n: {p: s.weighted for p, s in per.items()} for n, per in ev.scores.items()}
    assert weighted["node-5"] == {
        "TaintToleration": 300, "NodeAffinity": 200, "NodeResourcesFit": 82, "InterPodAffinity": 200,
        "NodeResourcesBalancedAllocation": 92, "ImageLocality": 0,
    }  # fmt: skip
    assert ev.scores["node-2"]["InterPodAffinity"].raw == 100
    assert ev.scores["node-1"]["NodeResourcesFit"].raw == 91
    assert ev.totals == {"node-1": 686, "node-2": 674, "node-5": 874}
    assert ev.top_nodes == ("node-5",) and ev.selected == "node-5" and ev.message is None


def five_nodes():
    taint = "database"
    return [cluster_node("node-1"), cluster_node("node-2")] + [
        cluster_node(f"node-{i}", taint=taint) for i in range(3, 6)
    ]


def test_failed_scheduling_message():
    busy = [pod(f"busy-{i}", node_name=f"node-{i}", requests={"cpu": "3500m"}) for i in (1, 2)]
    incoming = pod("big", requests={"cpu": "1"})
    ev = evaluate(incoming, five_nodes(), busy)
    assert ev.message == (
        "0/5 nodes are available: 2 Insufficient cpu, 3 node(s) had untolerated taint {dedicated: database}. "
        "preemption: 0/5 nodes are available: 2 No preemption victims found for incoming pod, "
        "3 Preemption is not helpful for scheduling."
    )
    assert ev.selected is None and ev.top_nodes == () and ev.feasible_nodes == ()
    without_preemption = {"plugins": {"postFilter": {"disabled": [{"name": "*"}]}}}
    assert evaluate(incoming, five_nodes(), busy, without_preemption).message == (
        "0/5 nodes are available: 2 Insufficient cpu, 3 node(s) had untolerated taint {dedicated: database}."
    )


def test_pre_filter_rejection_and_narrowing():
    nodes = [cluster_node(f"node-{i}") for i in range(1, 4)]
    names = {"key": "metadata.name", "operator": "In"}
    conflict = pod(affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchFields": [{**names, "values": ["node-1"]}, {**names, "values": ["node-2"]}]}]}}})  # fmt: skip
    ev = evaluate(conflict, nodes, [])
    assert ev.pre_filter.plugin == "NodeAffinity"
    assert ev.message == (
        "0/3 nodes are available: pod affinity terms conflict. "
        "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    )
    only_one = pod(requests={"cpu": "1"}, affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchFields": [{**names, "values": ["node-1"]}]}]}}})  # fmt: skip
    busy = [pod("busy", node_name="node-1", requests={"cpu": "3500m"})]
    ev = evaluate(only_one, nodes, busy)
    assert ev.message.startswith(
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't satisfy plugin(s) [NodeAffinity]."
    )
    assert ev.filters["node-2"].reason == "node(s) didn't satisfy plugin(s) [NodeAffinity]"
    assert evaluate(only_one, nodes, []).selected == "node-1"


def test_gated_and_empty_clusters():
    gated = evaluate(pod(schedulingGates=[{"name": "example.com/wait"}]), [cluster_node("n")], [])
    assert gated.pre_enqueue.message == "waiting for scheduling gates: [example.com/wait]"
    assert gated.message is None and gated.filters == {}
    assert evaluate(pod(), [], []).message == "no nodes available to schedule pods"


def identical(n):
    return [
        node(f"node-{i:03d}", labels={"kubernetes.io/hostname": f"node-{i:03d}"}, allocatable=NODE)
        for i in range(n)
    ]


def test_ties_are_broken_by_the_random_stream():
    nodes = identical(5)
    ev = evaluate(pod(requests={"cpu": "100m"}), nodes, [], rng=random.Random(3))
    assert ev.top_nodes == tuple(n["metadata"]["name"] for n in nodes)
    picks = {
        evaluate(pod(requests={"cpu": "100m"}), nodes, [], rng=random.Random(s)).selected
        for s in range(40)
    }
    assert picks == set(ev.top_nodes)
    again = evaluate(pod(requests={"cpu": "100m"}), nodes, [], rng=random.Random(3))
    assert again.selected == ev.selected


def test_the_search_stops_after_num_feasible_nodes_and_continues_round_robin():
    nodes = identical(250)  # 50 - 250/125 = 48% -> 120 nodes
    ev = evaluate(pod(requests={"cpu": "100m"}), nodes, [])
    assert len(ev.filters) == len(ev.feasible_nodes) == 120 and ev.next_start_index == 120
    ev2 = evaluate(pod(requests={"cpu": "100m"}), nodes, [], start_index=ev.next_start_index)
    assert ev2.feasible_nodes[0] == "node-120" and ev2.feasible_nodes[-1] == "node-239"
    config = {"apiVersion": "kubescheduler.config.k8s.io/v1", "kind": "KubeSchedulerConfiguration",
              "percentageOfNodesToScore": 80, "profiles": [{"schedulerName": "default-scheduler"}]}  # fmt: skip
    assert len(evaluate(pod(), nodes, [], config).feasible_nodes) == 200


def test_the_profile_is_chosen_by_scheduler_name():
    config = {
        "kind": "KubeSchedulerConfiguration",
        "profiles": [
            {"schedulerName": "default-scheduler"},
            {"schedulerName": "bin-packer", "pluginConfig": [
                {"name": "NodeResourcesFit", "args": {"scoringStrategy": {"type": "MostAllocated"}}}]},
        ],
    }  # fmt: skip
    nodes = identical(2)
    busy = [pod("busy", node_name="node-001", requests={"cpu": "2"})]
    spread = evaluate(pod(requests={"cpu": "1"}), nodes, busy, config)
    packed = evaluate(pod(requests={"cpu": "1"}, schedulerName="bin-packer"), nodes, busy, config)
    assert (spread.profile, spread.selected) == ("default-scheduler", "node-000")
    assert (packed.profile, packed.selected) == ("bin-packer", "node-001")
    with pytest.raises(SchedulerError):
        evaluate(pod(schedulerName="other"), nodes, busy, config)


def test_a_snapshot_can_be_reused_for_a_placement_loop():
    snapshot = Snapshot(identical(3))
    rng, start = random.Random(0), 0
    for i in range(9):
        p = pod(f"p{i}", requests={"cpu": "1"})
        ev = evaluate(p, snapshot, rng=rng, start_index=start)
        start = ev.next_start_index
        snapshot.add_pod(p, ev.selected)
    assert sorted(len(ni.pods) for ni in snapshot.node_infos) == [3, 3, 3]
    assert evaluate(pod(requests={"cpu": "2"}), snapshot).message.startswith(
        "0/3 nodes are available: 3 Insufficient cpu."
    )
    with pytest.raises(SchedulerError):
        evaluate(pod(), snapshot, [pod("x", node_name="node-000")])


def test_rendering():
    ev = evaluate(
        load_one(WEB_APP), [cluster_node("node-1"), cluster_node("node-2", disk="hdd")], []
    )
    text = str(ev)
    assert "node-1" in text and "NodeResourcesFit" in text and "selected: node-1" in text
    assert (
        "<table>" in ev._repr_html_()
        and "node(s) didn&#x27;t match Pod&#x27;s node affinity/selector" in ev._repr_html_()
    )
    failed = evaluate(pod(requests={"cpu": "64"}), [cluster_node("node-1")], [])
    assert "FailedScheduling: 0/1 nodes are available: 1 Insufficient cpu." in str(failed)
