"""The eviction manager cycle by cycle, after eviction_manager_test.go (TestMemoryPressure,
TestDiskPressureNodeFs, TestMinReclaim, TestNodeReclaimFuncs, TestCriticalPodsAreNotEvicted)."""

from kube_teach.kubelet.eviction import (
    DISK_PRESSURE,
    MEMORY_PRESSURE,
    EvictionManager,
    parse_threshold_config,
)

GI, MI = 1024**3, 1024**2


def pod(name, priority=0, requests=None, limits=None, **spec):
    container = {"name": name, "resources": {"requests": requests or {}, "limits": limits or {}}}
    return {
        "metadata": {"name": name, "namespace": "default", "uid": name},
        "spec": {"containers": [container], "priority": priority, **spec},
    }


def summary(available, working_set=GI, pods=(), fs=None, at=None):
    node = {"memory": {"availableBytes": available, "workingSetBytes": working_set}}
    if fs is not None:
        node["fs"] = {"availableBytes": fs[0], "capacityBytes": fs[1], "inodesFree": 10**6,
                      "inodes": 2 * 10**6}  # fmt: skip
    if at is not None:
        node["memory"]["time"] = at
    stats = [
        {
            "podRef": {
                "name": p["metadata"]["name"],
                "namespace": "default",
                "uid": p["metadata"]["uid"],
            },
            "memory": {"workingSetBytes": use},
            "containers": [{"name": p["metadata"]["name"], "memory": {"workingSetBytes": use}}],
        }
        for p, use in pods
    ]
    return {"node": node, "pods": stats}


BEST_EFFORT = pod("best-effort-high", priority=0)
BURSTABLE = pod("burstable-below", priority=0, requests={"memory": "1Gi"}, limits={"memory": "2Gi"})
USAGE = [(BEST_EFFORT, 300 * MI), (BURSTABLE, 500 * MI)]


def test_hard_memory_threshold_evicts_the_pod_over_its_request_at_once():
    manager = EvictionManager(parse_threshold_config({"memory.available": "1Gi"}))
    calm = manager.synchronize(0, summary(2 * GI, pods=USAGE), [BURSTABLE, BEST_EFFORT])
    assert calm.node_conditions == [] and calm.evicted == []

    result = manager.synchronize(10, summary(500 * MI, pods=USAGE), [BURSTABLE, BEST_EFFORT])
    assert result.node_conditions == [MEMORY_PRESSURE]
    assert result.events == [("Warning", "EvictionThresholdMet", "Attempting to reclaim memory")]
    [eviction] = result.evicted
    assert eviction.pod is BEST_EFFORT
    assert eviction.grace_period_seconds == 1
    assert eviction.message == (
        "The node was low on resource: memory. Threshold quantity: 1Gi, available: 500Mi. "
        "Container best-effort-high was using 300Mi, request is 0, has larger consumption of memory. "
    )
    status = eviction.pod_status()
    assert (status["phase"], status["reason"]) == ("Failed", "Evicted")
    assert status["conditions"][0]["reason"] == "TerminationByKubelet"
    # under memory pressure alone, BestEffort pods are turned away and others admitted
    assert not manager.admit(pod("new-best-effort")).admit
    assert manager.admit(BURSTABLE).admit


def test_soft_threshold_waits_for_its_grace_period_but_the_condition_does_not():
    thresholds = parse_threshold_config(
        {}, {"memory.available": "2Gi"}, {"memory.available": "1m30s"}
    )
    manager = EvictionManager(thresholds, max_pod_grace_period_seconds=60)
    low = summary(1500 * MI, pods=USAGE)
    first = manager.synchronize(0, low, [BEST_EFFORT])
    assert first.node_conditions == [MEMORY_PRESSURE] and first.evicted == []
    assert manager.synchronize(60, low, [BEST_EFFORT]).evicted == []
    [eviction] = manager.synchronize(90, low, [BEST_EFFORT]).evicted
    # soft evictions get min(evictionMaxPodGracePeriod, terminationGracePeriodSeconds)
    assert eviction.grace_period_seconds == 60
    with_short_grace = pod("short", terminationGracePeriodSeconds=5)
    manager2 = EvictionManager(thresholds, max_pod_grace_period_seconds=60)
    manager2.synchronize(0, low, [with_short_grace])
    [eviction2] = manager2.synchronize(90, low, [with_short_grace]).evicted
    assert eviction2.grace_period_seconds == 5


def test_a_soft_threshold_that_clears_restarts_its_grace_period():
    thresholds = parse_threshold_config(
        {}, {"memory.available": "2Gi"}, {"memory.available": "60s"}
    )
    manager = EvictionManager(thresholds)
    low, fine = summary(1 * GI, pods=USAGE), summary(3 * GI, pods=USAGE)
    manager.synchronize(0, low, [BEST_EFFORT])
    manager.synchronize(30, fine, [BEST_EFFORT])
    assert manager.synchronize(70, low, [BEST_EFFORT]).evicted == []
    assert manager.synchronize(130, low, [BEST_EFFORT]).evicted != []


def test_pressure_condition_outlives_the_signal_by_the_transition_period():
    manager = EvictionManager(parse_threshold_config({"memory.available": "1Gi"}))
    manager.synchronize(0, summary(500 * MI), [])
    assert manager.synchronize(10, summary(2 * GI), []).node_conditions == [MEMORY_PRESSURE]
    assert manager.synchronize(299, summary(2 * GI), []).node_conditions == [MEMORY_PRESSURE]
    assert manager.synchronize(300, summary(2 * GI), []).node_conditions == []


def test_minimum_reclaim_keeps_evicting_until_threshold_plus_reclaim_is_free():
    thresholds = parse_threshold_config(
        {"memory.available": "1Gi"}, eviction_minimum_reclaim={"memory.available": "500Mi"}
    )
    manager = EvictionManager(thresholds)
    assert manager.synchronize(0, summary(500 * MI, pods=USAGE), [BEST_EFFORT, BURSTABLE]).evicted
    # 1.2Gi is above the threshold, but not above threshold + minimum reclaim
    again = manager.synchronize(10, summary(1229 * MI, pods=USAGE), [BEST_EFFORT, BURSTABLE])
    assert [e.pod for e in again.evicted] == [BEST_EFFORT]
    done = manager.synchronize(20, summary(1600 * MI, pods=USAGE), [BEST_EFFORT, BURSTABLE])
    assert done.evicted == []


def test_disk_pressure_first_tries_image_and_container_gc():
    manager = EvictionManager(parse_threshold_config({"nodefs.available": "10%"}))
    full = summary(2 * GI, pods=USAGE, fs=(5 * GI, 100 * GI))
    after_gc = summary(2 * GI, pods=USAGE, fs=(20 * GI, 100 * GI))
    result = manager.synchronize(0, full, [BEST_EFFORT], summary_after_reclaim=after_gc)
    assert result.node_conditions == [DISK_PRESSURE]
    assert result.node_reclaim == ("DeleteAllUnusedContainers", "DeleteUnusedImages")
    assert result.reclaimed_without_eviction and result.evicted == []
    # when GC frees too little, a pod goes; disk pressure then admits nobody
    result = manager.synchronize(10, full, [BEST_EFFORT], summary_after_reclaim=full)
    assert [e.pod for e in result.evicted] == [BEST_EFFORT]
    assert result.evicted[0].message.startswith(
        "The node was low on resource: ephemeral-storage. Threshold quantity: 10737418400, "
        "available: 5Gi. "
    )
    assert manager.admit(BURSTABLE).message == "The node had condition: [DiskPressure]. "


def test_critical_pods_are_not_evicted():
    critical = pod("static", priority=0)
    critical["metadata"]["annotations"] = {"kubernetes.io/config.source": "file"}
    manager = EvictionManager(parse_threshold_config({"memory.available": "1Gi"}))
    usage = [(critical, 900 * MI), (BURSTABLE, 100 * MI)]
    result = manager.synchronize(0, summary(100 * MI, pods=usage), [critical, BURSTABLE])
    assert [e.pod for e in result.evicted] == [BURSTABLE]


def test_an_unchanged_observation_is_not_acted_on_twice():
    manager = EvictionManager(parse_threshold_config({"memory.available": "1Gi"}))
    stale = summary(500 * MI, pods=USAGE, at="2016-01-01T00:00:00Z")
    assert manager.synchronize(0, stale, [BEST_EFFORT]).evicted
    assert manager.synchronize(10, stale, [BEST_EFFORT]).evicted == []
    fresh = summary(500 * MI, pods=USAGE, at="2016-01-01T00:00:10Z")
    assert manager.synchronize(20, fresh, [BEST_EFFORT]).evicted


def test_local_storage_limits_evict_without_node_pressure():
    greedy = pod("greedy", volumes=[{"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}}])
    stats = summary(4 * GI)
    stats["pods"] = [
        {"podRef": {"uid": "greedy"}, "volume": [{"name": "scratch", "usedBytes": 2 * GI}]}
    ]
    manager = EvictionManager(parse_threshold_config({"memory.available": "100Mi"}))
    [eviction] = manager.synchronize(0, stats, [greedy]).evicted
    assert eviction.message == 'Usage of EmptyDir volume "scratch" exceeds the limit "1Gi". '


def test_from_config_defaults_to_the_linux_hard_thresholds():
    manager = EvictionManager.from_config()
    assert [t.signal for t in manager.thresholds[:4]] == [
        "memory.available", "nodefs.available", "nodefs.inodesFree", "imagefs.available",
    ]  # fmt: skip
