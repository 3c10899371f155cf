"""The eviction manager in the kubelet host: memory and disk pressure, node conditions and their
taints, the QoS order that emerges from the ranking, admission under pressure, image GC, the
Summary API, and the node whose disk filled up until the kubelet itself crashed."""

import json

import pytest

from kube_teach import Cluster
from kube_teach.kubelet.eviction import EvictionConfigError
from kube_teach.kubelet.runtime import WORKLOAD_ANNOTATION

from .world import NODES, World, make_pod

MI, GI = 1024**2, 1024**3


def qos_pod(name, resources, workload):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default",
                         "annotations": {WORKLOAD_ANNOTATION: json.dumps(workload)}},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.27", "resources": resources}]}}  # fmt: skip


def conditions(node):
    return {c["type"]: c["status"] for c in node["status"]["conditions"]}


def test_under_memory_pressure_besteffort_goes_before_burstable_and_guaranteed_stays():
    cluster = Cluster(nodes=1, seed=0, node_memory="2Gi")
    start = cluster.now  # the kubelet started here (after etcd's first election)
    guaranteed = {"requests": {"cpu": "100m", "memory": "600Mi"},
                  "limits": {"cpu": "100m", "memory": "600Mi"}}  # fmt: skip
    cluster.apply(qos_pod("guaranteed", guaranteed, {"memory": "500Mi"}))
    cluster.apply(qos_pod("burstable", {"requests": {"memory": "300Mi"}},
                          {"kind": "leak", "memory": "400Mi", "leakPerSecond": "4Mi"}))  # fmt: skip
    cluster.apply(
        qos_pod("besteffort", {}, {"kind": "leak", "memory": "200Mi", "leakPerSecond": "10Mi"})
    )
    cluster.run(seconds=400)
    evicted = [
        (round(e.t - start, 3), e.fields["pod"]) for e in cluster.trace.where(event="pod-evicted")
    ]
    # 200+400+500 Mi grows by 14 Mi/s past 2Gi - 100Mi at ~60 s; the 10 s cycle acts at 70 s.
    # After BestEffort has gone, Burstable's leak brings the pressure back at ~262 s.
    assert evicted == [(70.0, "default/besteffort"), (270.0, "default/burstable")]
    pods = {name: cluster.get("pod", name) for name in ("guaranteed", "burstable", "besteffort")}
    assert pods["guaranteed"]["status"]["phase"] == "Running"
    best = pods["besteffort"]["status"]
    assert (best["phase"], best["reason"]) == ("Failed", "Evicted")
    assert best["message"].startswith(
        "The node was low on resource: memory. Threshold quantity: 100Mi, available: 34436Ki. "
        "Container app was using 868776Ki, request is 0, has larger consumption of memory."
    )
    target = next(c for c in best["conditions"] if c["type"] == "DisruptionTarget")
    assert (target["status"], target["reason"]) == ("True", "TerminationByKubelet")
    assert pods["burstable"]["status"]["message"].startswith(
        "The node was low on resource: memory. Threshold quantity: 100Mi, available: 84012Ki. "
        "Container app was using 1501140Ki, request is 300Mi, has larger consumption of memory."
    )
    node = cluster.get("node", "node-1")
    assert conditions(node)["MemoryPressure"] == "True"  # held for 5 min after the last signal
    # the node lifecycle controller, not the kubelet, turns the condition into a taint
    assert {"key": "node.kubernetes.io/memory-pressure", "effect": "NoSchedule"} in node["spec"][
        "taints"
    ]
    reasons = [e.fields["reason"] for e in cluster.trace.where(event="event")
               if e.fields["object"] == "Node/node-1"]  # fmt: skip
    assert "EvictionThresholdMet" in reasons and "NodeHasMemoryPressure" in reasons


def test_memory_pressure_clears_after_the_transition_period():
    w = World(capacity={"cpu": "4", "memory": "1Gi", "pods": "110", "ephemeral-storage": "100Gi"})
    w.create(make_pod(workload={"kind": "leak", "memory": "800Mi", "leakPerSecond": "10Mi"}))
    w.run_until(lambda: bool(w.traced("pod-evicted")), timeout=120)
    evicted_at = w.traced("pod-evicted")[0].t
    changes = lambda: [(e.t, e.fields["conditions"]) for e in w.traced("node-pressure")]  # noqa: E731
    w.clock.run(400)
    (t_on, on), (t_off, off) = changes()
    assert (on, off) == ("MemoryPressure", "none")
    assert t_on == evicted_at
    assert t_off - t_on == 300  # evictionPressureTransitionPeriod after it was last observed
    assert conditions(w.store.get(NODES, "node-1"))["MemoryPressure"] == "False"


def test_a_soft_threshold_waits_for_its_grace_period_and_uses_the_pod_grace():
    w = World(capacity={"cpu": "4", "memory": "2Gi", "pods": "110", "ephemeral-storage": "100Gi"},
              eviction_soft={"memory.available": "500Mi"}, eviction_soft_grace_period={"memory.available": "1m30s"},
              eviction_max_pod_grace_period=60)  # fmt: skip
    pod = make_pod(workload={"memory": "1700Mi", "shutdownSeconds": 120})
    pod["spec"]["terminationGracePeriodSeconds"] = 45
    w.create(pod)
    w.clock.run(200)
    [pressure] = [e.t for e in w.traced("node-pressure")]
    [evicted] = w.traced("pod-evicted")
    assert evicted.t - pressure == 90  # evictionSoftGracePeriod
    [killed] = w.traced("container-killed")
    assert (killed.fields["exitCode"], killed.t - evicted.t) == (137, 45)  # min(45, 60)


def test_bad_eviction_settings_fail_at_construction():
    with pytest.raises(EvictionConfigError):
        World(eviction_hard={"memory.avail": "100Mi"})


def test_admission_rejects_besteffort_pods_under_memory_pressure():
    w = World(capacity={"cpu": "4", "memory": "1Gi", "pods": "110", "ephemeral-storage": "100Gi"},
              eviction_hard={"memory.available": "100Mi"})  # fmt: skip
    w.create(
        make_pod("hog", workload={"memory": "950Mi"}, resources={"requests": {"memory": "900Mi"}})
    )
    w.run_until(lambda: bool(w.traced("node-pressure")), timeout=60)
    w.create(make_pod("late"))
    w.clock.run(2)
    status = w.pod("late")["status"]
    assert (status["phase"], status["reason"], status["message"]) == (
        "Failed",
        "Evicted",
        "The node had condition: [MemoryPressure]. ",
    )
    assert not [e for e in w.traced("container-started") if e.fields["pod"] == "default/late"]


def test_disk_pressure_deletes_unused_images_before_evicting():
    w = World(capacity={"cpu": "4", "memory": "16Gi", "pods": "110", "ephemeral-storage": "2Gi"})
    w.create(make_pod("old", image="postgres:16", policy="Never", workload={"exitAfter": 1}))
    w.run_until(lambda: w.pod("old").status.get("phase") == "Succeeded", timeout=30)
    w.create(make_pod("writer", workload={"diskPerSecond": "20Mi"}))
    w.run_until(
        lambda: bool(w.traced("images-deleted")) or bool(w.traced("pod-evicted")), timeout=120
    )
    [deleted] = w.traced("images-deleted")
    assert deleted.fields["images"] == "postgres:16"
    assert not w.traced("pod-evicted")  # the images alone brought the disk back
    assert "postgres:16" not in w.kubelet.runtime.images


def test_image_gc_frees_down_to_80_percent_when_above_85():
    w = World(capacity={"cpu": "4", "memory": "16Gi", "pods": "110", "ephemeral-storage": "250Mi"},
              eviction_hard={})  # fmt: skip
    for i, image in enumerate(["postgres:16", "nginx:1.26"]):
        w.create(make_pod(f"p{i}", image=image, policy="Never", workload={"exitAfter": 1}))
    w.clock.run(310)  # images are 2 min old at the 5 min GC pass
    [deleted] = w.traced("images-deleted")
    assert deleted.t == pytest.approx(301, abs=1)
    assert deleted.fields["images"] == "postgres:16"  # least recently used first; one is enough


def test_pod_usage_is_the_summary_api_per_pod():
    w = World()
    w.create(make_pod(workload={"app": {"cpu": "250m", "memory": "64Mi"}}))
    w.run_until(lambda: w.pod("web").status.get("phase") == "Running")
    uid = w.pod("web").metadata["uid"]
    assert w.kubelet.pod_usage() == {uid: {"cpu": 250, "memory": 64 * MI}}
    summary = w.kubelet.summary()
    assert summary["node"]["memory"]["workingSetBytes"] == 64 * MI
    assert summary["node"]["memory"]["availableBytes"] == 16 * GI - 64 * MI
    [pod] = summary["pods"]
    assert pod["podRef"]["uid"] == uid and pod["cpu"]["usageNanoCores"] == 250_000_000


def test_system_reserved_gives_the_seed_node_its_allocatable():
    w = World(capacity={"cpu": "4", "memory": "16Gi", "pods": "110", "ephemeral-storage": "100Gi"},
              system_reserved={"cpu": "1000m", "memory": "1Gi", "ephemeral-storage": "10Gi"},
              kube_reserved={"cpu": "1000m", "memory": "1Gi", "ephemeral-storage": "10Gi"},
              eviction_hard={"memory.available": "500Mi", "nodefs.available": "10%"})  # fmt: skip
    w.clock.run(11)
    allocatable = w.store.get(NODES, "node-1")["status"]["allocatable"]
    assert allocatable["memory"] == "13836Mi"  # 16Gi - 1Gi - 1Gi - 500Mi: the seed's 13.5 GB
    assert allocatable["cpu"] == "2"
    # 100Gi - 10Gi - 10Gi - 10% of 100Gi, where 10% is a float32: 10737418400, not 10Gi
    assert allocatable["ephemeral-storage"] == "75161927520"


# -- disk full: the kubelet crashes, its containers keep running --------------------------------
def test_a_full_disk_crashes_the_kubelet_and_leaves_zombie_pods_serving():
    cluster = Cluster(nodes=1, seed=0)
    cluster.apply(qos_pod("chatty", {}, {"logPerSecond": "4Gi"}))
    cluster.apply(qos_pod("web", {}, {"memory": "50Mi"}))
    cluster.run(seconds=40)
    kubelet = cluster.kubelets["node-1"]
    [crash] = cluster.trace.where(event="kubelet-crashed")
    assert crash.fields["reason"] == "disk full"
    assert not cluster.trace.where(event="pod-evicted")  # 15 % went by within one 10 s cycle
    assert kubelet.running is False
    renewals = [e.t for e in cluster.trace.where(event="lease-renewed")]
    assert max(renewals) < crash.t  # no heartbeat since
    cluster.run(seconds=60)
    node = cluster.get("node", "node-1")
    assert conditions(node)["Ready"] == "Unknown"  # node-monitor-grace-period (50 s) passed
    ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
    assert ready["message"] == "Kubelet stopped posting node status."
    # ... yet both pods' containers still run: zombies that keep serving
    states = sorted((c.name, c.state) for c in kubelet.runtime.containers.values())
    assert states == [("app", "running"), ("app", "running")]
    web = cluster.get("pod", "web")
    assert next(c for c in web["status"]["conditions"] if c["type"] == "Ready")["status"] == "False"
