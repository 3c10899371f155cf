"""Eviction ranking, messages and admission, against helpers_test.go and eviction_manager_test.go."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kube_teach.api.quantity import Quantity
from kube_teach.kubelet.eviction import (
    ALL_FS_STATS,
    FS_STATS_LOCAL_VOLUME_SOURCE,
    FS_STATS_LOGS,
    FS_STATS_ROOT,
    RESOURCE_INODES,
    SIGNAL_MEMORY_AVAILABLE,
    SIGNAL_NODEFS_AVAILABLE,
    SignalObservation,
    Threshold,
    ThresholdValue,
    admit,
    build_signal_to_node_reclaim_funcs,
    build_signal_to_rank_func,
    eviction_message,
    local_storage_eviction,
    rank_disk_pressure,
    rank_memory_pressure,
    rank_pid_pressure,
)

LOW, DEFAULT, HIGH = -1, 0, 1
MEASURE = (FS_STATS_ROOT, FS_STATS_LOGS, FS_STATS_LOCAL_VOLUME_SOURCE)


def rl(cpu="", memory="", disk=""):
    return {k: v for k, v in (("cpu", cpu), ("memory", memory), ("ephemeral-storage", disk)) if v}


def new_pod(name, priority, requests=None, limits=None, volumes=None):
    """Upstream's newPod: the name doubles as the uid; one container of the same name."""
    container = {"name": name, "resources": {"requests": requests or {}, "limits": limits or {}}}
    spec = {"containers": [container], "priority": priority}
    if volumes:
        spec["volumes"] = volumes
    return {"metadata": {"name": name, "uid": name}, "spec": spec}


LOCAL = [{"name": "local-volume", "emptyDir": {}}]


def mi(text):
    return Quantity(text).value()


def memory_stats(pod, working_set):
    return {
        "podRef": {"name": pod["metadata"]["name"], "uid": pod["metadata"]["uid"]},
        "memory": {"workingSetBytes": mi(working_set)},
    }


def disk_stats(pod, rootfs, logs, per_volume, key="usedBytes"):
    return {
        "podRef": {"name": pod["metadata"]["name"], "uid": pod["metadata"]["uid"]},
        "containers": [
            {"rootfs": {key: mi(rootfs)}, "logs": {key: mi(logs)}}
            for _ in pod["spec"]["containers"]
        ],
        "volume": [
            {"name": v["name"], key: mi(per_volume)} for v in pod["spec"].get("volumes", [])
        ],
    }


def names(pods):
    return [p["metadata"]["name"] for p in pods]


# TestOrderedByExceedsRequestMemory + TestOrderedByPriority + TestOrderedByPriorityMemory
def test_rank_memory_pressure_orders_by_exceeding_then_priority_then_usage():
    pods = {
        "above-requests-low-priority-high-usage": (LOW, "", "500Mi"),
        "above-requests-low-priority-low-usage": (LOW, "", "50Mi"),
        "above-requests-high-priority-high-usage": (HIGH, "100Mi", "600Mi"),
        "above-requests-high-priority-low-usage": (HIGH, "100Mi", "150Mi"),
        "below-requests-low-priority-high-usage": (LOW, "1Gi", "800Mi"),
        "below-requests-low-priority-low-usage": (LOW, "1Gi", "200Mi"),
        "below-requests-high-priority-high-usage": (HIGH, "1Gi", "800Mi"),
        "below-requests-high-priority-low-usage": (HIGH, "1Gi", "200Mi"),
    }
    built = {n: new_pod(n, prio, rl(memory=req)) for n, (prio, req, _) in pods.items()}
    stats = [memory_stats(built[n], usage) for n, (_, _, usage) in pods.items()]
    ranked = rank_memory_pressure(reversed(list(built.values())), stats)
    assert names(ranked) == list(pods)


def test_rank_memory_pressure_ignores_qos_once_exceeding():
    # The seed's "BestEffort first" order is a consequence, not a rule: a low-priority
    # Burstable pod over its request goes before a high-priority BestEffort pod.
    burstable = new_pod("burstable", LOW, rl(memory="100Mi"), rl(memory="1Gi"))
    best_effort = new_pod("best-effort", HIGH)
    guaranteed = new_pod("guaranteed", LOW, rl("1", "1Gi"), rl("1", "1Gi"))
    stats = [
        memory_stats(burstable, "200Mi"),
        memory_stats(best_effort, "10Mi"),
        memory_stats(guaranteed, "900Mi"),
    ]
    got = rank_memory_pressure([guaranteed, best_effort, burstable], stats)
    assert names(got) == ["burstable", "best-effort", "guaranteed"]


def test_pods_without_stats_are_ranked_first():
    a, b = new_pod("a", HIGH), new_pod("b", LOW)
    assert names(rank_memory_pressure([b, a], [memory_stats(b, "1Gi")])) == ["a", "b"]


def test_ranking_by_memory_alone():
    # TestOrderedByMemory: usage above request decides; ties keep their order
    spec = [("best-effort-high", "", "500Mi"), ("best-effort-low", "", "300Mi"),
            ("burstable-high", "100Mi", "800Mi"), ("burstable-low", "100Mi", "300Mi"),
            ("guaranteed-high", "1Gi", "800Mi"), ("guaranteed-low", "1Gi", "200Mi")]  # fmt: skip
    built = [new_pod(n, DEFAULT, rl(memory=r)) for n, r, _ in spec]
    stats = [memory_stats(p, u) for p, (_, _, u) in zip(built, spec, strict=True)]
    # all the same priority, and exceeding splits them: the order within each group is usage
    assert names(rank_memory_pressure(built, stats)) == [
        "burstable-high", "best-effort-high", "best-effort-low", "burstable-low",
        "guaranteed-high", "guaranteed-low",
    ]  # fmt: skip


# TestOrderedbyDisk and TestOrderedByPriorityDisk
def test_rank_disk_pressure():
    spec = {
        "above-requests-low-priority-high-usage": (LOW, "", ("200Mi", "100Mi", "200Mi")),
        "above-requests-low-priority-low-usage": (LOW, "", ("10Mi", "10Mi", "30Mi")),
        "above-requests-high-priority-high-usage": (HIGH, "100Mi", ("200Mi", "150Mi", "250Mi")),
        "above-requests-high-priority-low-usage": (HIGH, "100Mi", ("90Mi", "50Mi", "10Mi")),
        "below-requests-low-priority-high-usage": (LOW, "1Gi", ("500Mi", "200Mi", "100Mi")),
        "below-requests-low-priority-low-usage": (LOW, "1Gi", ("50Mi", "100Mi", "50Mi")),
        "below-requests-high-priority-high-usage": (HIGH, "1Gi", ("250Mi", "500Mi", "50Mi")),
        "below-requests-high-priority-low-usage": (HIGH, "1Gi", ("100Mi", "60Mi", "40Mi")),
    }
    built = {n: new_pod(n, p, rl(disk=r), volumes=LOCAL) for n, (p, r, _) in spec.items()}
    stats = [disk_stats(built[n], *u) for n, (_, _, u) in spec.items()]
    ranked = rank_disk_pressure(reversed(list(built.values())), stats, MEASURE)
    assert names(ranked) == list(spec)


def test_rank_by_inodes_uses_priority_then_inodes():
    # TestOrderedByPriorityInodes
    spec = {
        "low-priority-high-usage": (LOW, ("50000", "100000", "250000")),
        "low-priority-low-usage": (LOW, ("60000", "30000", "10000")),
        "high-priority-high-usage": (HIGH, ("150000", "150000", "50000")),
        "high-priority-low-usage": (HIGH, ("10000", "40000", "100000")),
    }
    built = {n: new_pod(n, p, volumes=LOCAL) for n, (p, _) in spec.items()}
    stats = [disk_stats(built[n], *u, key="inodesUsed") for n, (_, u) in spec.items()]
    ranked = rank_disk_pressure(reversed(list(built.values())), stats, MEASURE, RESOURCE_INODES)
    assert names(ranked) == list(spec)


def test_memory_backed_empty_dirs_do_not_count_as_disk():
    tmpfs = new_pod("tmpfs", DEFAULT, volumes=[{"name": "v", "emptyDir": {"medium": "Memory"}}])
    disk = new_pod("disk", DEFAULT, volumes=[{"name": "v", "emptyDir": {}}])
    stats = [disk_stats(tmpfs, "0", "0", "5Gi"), disk_stats(disk, "0", "0", "1Gi")]
    assert names(rank_disk_pressure([tmpfs, disk], stats)) == ["disk", "tmpfs"]


def test_rank_pid_pressure():
    # TestOrderedByPriorityProcess
    counts = {"low-priority-high-usage": (LOW, 20), "low-priority-low-usage": (LOW, 6),
              "high-priority-high-usage": (HIGH, 20), "high-priority-low-usage": (HIGH, 5)}  # fmt: skip
    built = {n: new_pod(n, p) for n, (p, _) in counts.items()}
    stats = {n: {"process_stats": {"process_count": c}} for n, (_, c) in counts.items()}
    assert names(rank_pid_pressure(reversed(list(built.values())), stats)) == list(counts)


def test_rank_functions_per_filesystem_layout():
    assert set(build_signal_to_rank_func()) == set(build_signal_to_rank_func(True, True))
    assert build_signal_to_node_reclaim_funcs()[SIGNAL_NODEFS_AVAILABLE] == (
        "DeleteAllUnusedContainers",
        "DeleteUnusedImages",
    )
    assert build_signal_to_node_reclaim_funcs(with_image_fs=True)[SIGNAL_NODEFS_AVAILABLE] == ()
    assert ALL_FS_STATS[0] == "images"


@given(
    st.lists(
        st.tuples(st.integers(-2, 2), st.integers(0, 4), st.integers(0, 8)), min_size=1, max_size=6
    )
)
def test_every_exceeding_pod_ranks_before_every_pod_within_its_request(spec):
    pods = [
        new_pod(f"p{i}", prio, rl(memory=f"{req * 100}Mi")) for i, (prio, req, _) in enumerate(spec)
    ]
    stats = [memory_stats(p, f"{use * 50}Mi") for p, (_, _, use) in zip(pods, spec, strict=True)]
    exceeding = [use * 50 > req * 100 for _, req, use in spec]
    order = [int(n[1:]) for n in names(rank_memory_pressure(pods, stats))]
    flags = [exceeding[i] for i in order]
    assert flags == sorted(flags, reverse=True)


# -- evictionMessage --------------------------------------------------------------------------------
def message_pod():
    pod = new_pod("web", DEFAULT)
    pod["spec"]["containers"] = [
        {"name": "x", "resources": {}},
        {"name": "y", "resources": {"requests": {"memory": "2Gi"}}},
    ]
    stats = {
        "podRef": {"name": "web", "uid": "web"},
        "memory": {"workingSetBytes": 2 * 1024**3},
        "containers": [
            {"name": "x", "memory": {"workingSetBytes": 1024**3}},
            {"name": "y", "memory": {"workingSetBytes": 1024**3}},
        ],
    }
    return pod, stats


def test_eviction_message_names_the_threshold_and_the_container_over_its_request():
    pod, stats = message_pod()
    threshold = Threshold(SIGNAL_MEMORY_AVAILABLE, ThresholdValue(quantity=Quantity("100Mi")))
    observed = {SIGNAL_MEMORY_AVAILABLE: SignalObservation(Quantity("50Mi"), Quantity("8Gi"))}
    message, annotations = eviction_message("memory", pod, [stats], [threshold], observed)
    assert message == (
        "The node was low on resource: memory. Threshold quantity: 100Mi, available: 50Mi. "
        "Container x was using 1Gi, request is 0, has larger consumption of memory. "
    )
    assert annotations == {
        "offending_containers": "x",
        "offending_containers_usage": "1Gi",
        "starved_resource": "memory",
    }


def test_eviction_message_with_a_percentage_threshold_prints_bytes():
    pod, stats = message_pod()
    threshold = Threshold(SIGNAL_NODEFS_AVAILABLE, ThresholdValue(percentage=0.10000000149011612))
    observed = {SIGNAL_NODEFS_AVAILABLE: SignalObservation(Quantity("5000Mi"), Quantity("100Gi"))}
    message, _ = eviction_message("ephemeral-storage", pod, [stats], [threshold], observed)
    assert message == (
        "The node was low on resource: ephemeral-storage. "
        "Threshold quantity: 10737418400, available: 5000Mi. "
    )


def test_eviction_message_without_stats_stops_after_the_node_sentence():
    pod, _ = message_pod()
    assert eviction_message("memory", pod, []) == ("The node was low on resource: memory. ", {})


def test_eviction_message_for_ephemeral_storage_adds_rootfs_and_logs():
    pod = new_pod("p", DEFAULT, rl(disk="100Mi"))
    stats = {"podRef": {"uid": "p"}, "containers": [
        {"name": "p", "rootfs": {"usedBytes": 150 * 2**20}, "logs": {"usedBytes": 50 * 2**20}}]}  # fmt: skip
    message, _ = eviction_message("ephemeral-storage", pod, [stats])
    assert message.endswith(
        "Container p was using 200Mi, request is 100Mi, has larger consumption of ephemeral-storage. "
    )


def test_eviction_message_with_pod_level_resources():
    pod, stats = message_pod()
    pod["spec"]["resources"] = {"requests": {"memory": "1Gi"}}
    message, annotations = eviction_message("memory", pod, [stats])
    assert "Pod web was using 2Gi, request is 1Gi, has larger consumption of memory. " in message
    assert annotations["offending_pod"] == "web"


# -- local storage limits (eviction_manager.go localStorageEviction) --------------------------------
def test_local_storage_eviction_messages():
    pod = new_pod("p", DEFAULT, limits=rl(disk="1Gi"))
    pod["spec"]["volumes"] = [{"name": "cache", "emptyDir": {"sizeLimit": "100Mi"}}]
    over_dir = {"volume": [{"name": "cache", "usedBytes": 200 * 2**20}]}
    assert local_storage_eviction(pod, over_dir) == (
        'Usage of EmptyDir volume "cache" exceeds the limit "100Mi". '
    )
    over_pod = {"ephemeral-storage": {"usedBytes": 2 * 2**30}}
    assert local_storage_eviction(pod, over_pod) == (
        "Pod ephemeral local storage usage exceeds the total limit of containers 1Gi. "
    )
    over_ctr = {
        "containers": [{"name": "p", "rootfs": {"usedBytes": 2**30}, "logs": {"usedBytes": 1}}]
    }
    assert local_storage_eviction(pod, over_ctr) == (
        'Container p exceeded its local ephemeral storage limit "1Gi". '
    )
    assert local_storage_eviction(pod, over_ctr, dedicated_image_fs=True) is None


# -- Admit (TestMemoryPressure, TestDiskPressureNodeFs, TestAdmitUnderNodeConditions) ---------------
BEST_EFFORT = new_pod("best-effort", DEFAULT)
BURSTABLE = new_pod("burstable", DEFAULT, rl(memory="100Mi"), rl(memory="200Mi"))
CRITICAL = {
    **BEST_EFFORT,
    "metadata": {"name": "static", "annotations": {"kubernetes.io/config.source": "file"}},
}
TOLERATES = {**BEST_EFFORT, "spec": {**BEST_EFFORT["spec"], "tolerations": [
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"}]}}  # fmt: skip


@pytest.mark.parametrize(
    ("conditions", "pod", "admitted"),
    [
        pytest.param([], BEST_EFFORT, True, id="no pressure admits everything"),
        pytest.param(["MemoryPressure"], BURSTABLE, True, id="memory pressure admits Burstable"),
        pytest.param(["MemoryPressure"], BEST_EFFORT, False, id="memory pressure rejects BestEffort"),
        pytest.param(["MemoryPressure"], TOLERATES, True,
                     id="unless it tolerates the memory-pressure taint"),
        pytest.param(["DiskPressure"], BURSTABLE, False, id="disk pressure rejects everything"),
        pytest.param(["MemoryPressure", "DiskPressure"], TOLERATES, False,
                     id="two conditions reject even a tolerating BestEffort pod"),
        pytest.param(["DiskPressure"], CRITICAL, True, id="critical pods are always admitted"),
    ],
)  # fmt: skip
def test_admit(conditions, pod, admitted):
    result = admit(pod, conditions)
    assert result.admit == admitted
    if not admitted:
        assert result.reason == "Evicted"
        assert result.message == f"The node had condition: [{' '.join(conditions)}]. "
