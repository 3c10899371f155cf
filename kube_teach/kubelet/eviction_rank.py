"""Which pod the kubelet evicts first under memory, disk or PID pressure, and what the evicted
pod's status says: Summary API pod stats, the rank function for each signal, and the messages.

Semantics: pkg/kubelet/eviction/helpers.go (rankMemoryPressure, rankDiskPressureFunc,
rankPIDPressure, buildSignalToRankFunc, evictionMessage and the message formats).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cmp_to_key
from typing import Any

from kube_teach.api.quantity import Quantity

from .eviction import (
    RESOURCE_INODES,
    SIGNAL_ALLOCATABLE_MEMORY_AVAILABLE,
    SIGNAL_CONTAINERFS_AVAILABLE,
    SIGNAL_CONTAINERFS_INODES_FREE,
    SIGNAL_IMAGEFS_AVAILABLE,
    SIGNAL_IMAGEFS_INODES_FREE,
    SIGNAL_MEMORY_AVAILABLE,
    SIGNAL_NODEFS_AVAILABLE,
    SIGNAL_NODEFS_INODES_FREE,
    SIGNAL_PID_AVAILABLE,
    SIGNAL_TO_RESOURCE,
    SignalObservation,
    Threshold,
    binary_si,
    threshold_quantity,
)
from .qos import pod_priority, pod_request

REASON = "Evicted"
NODE_LOW_MESSAGE = "The node was low on resource: {}. "
NODE_CONDITION_MESSAGE = "The node had condition: {}. "
THRESHOLD_MET_MESSAGE = "Threshold quantity: {}, available: {}. "
CONTAINER_MESSAGE = "Container {} was using {}, request is {}, has larger consumption of {}. "
POD_MESSAGE = "Pod {} was using {}, request is {}, has larger consumption of {}. "
CONTAINER_EPHEMERAL_STORAGE_MESSAGE = (
    'Container {} exceeded its local ephemeral storage limit "{}". '
)
POD_EPHEMERAL_STORAGE_MESSAGE = (
    "Pod ephemeral local storage usage exceeds the total limit of containers {}. "
)
EMPTY_DIR_MESSAGE = 'Usage of EmptyDir volume "{}" exceeds the limit "{}". '


# -- pod stats (Summary API PodStats dicts) -------------------------------------------------------
Pod = Mapping[str, Any]
PodStats = Mapping[str, Any]
StatsFunc = Callable[[Pod], PodStats | None]

FS_STATS_ROOT = "root"
FS_STATS_LOGS = "logs"
FS_STATS_LOCAL_VOLUME_SOURCE = "localVolumeSource"
FS_STATS_IMAGES = "images"  # listed by upstream's rank functions; no pod stat measures it
ALL_FS_STATS = (FS_STATS_IMAGES, FS_STATS_ROOT, FS_STATS_LOGS, FS_STATS_LOCAL_VOLUME_SOURCE)


def _pod_keys(meta: Mapping[str, Any]) -> list[str]:
    name, namespace = meta.get("name") or "", meta.get("namespace") or "default"
    return [k for k in (meta.get("uid"), f"{namespace}/{name}", name) if k]


def stats_func(stats: Iterable[PodStats] | Mapping[str, PodStats] | StatsFunc) -> StatsFunc:
    """A pod -> PodStats lookup from a list of Summary API pod stats (matched by podRef uid,
    else namespace/name), a dict keyed by uid, "namespace/name" or name, or a function."""
    if callable(stats):
        return stats
    if isinstance(stats, Mapping):
        by_key = dict(stats)
    else:
        by_key = {}
        for pod_stats in stats:
            for key in _pod_keys(pod_stats.get("podRef") or {}):
                by_key.setdefault(key, pod_stats)

    def lookup(pod: Pod) -> PodStats | None:
        for key in _pod_keys(pod.get("metadata") or {}):
            if key in by_key:
                return by_key[key]
        return None

    return lookup


def memory_usage(pod_stats: PodStats) -> Quantity:
    """The pod's memory working set, BinarySI; zero without stats."""
    working_set = (pod_stats.get("memory") or {}).get("workingSetBytes")
    return binary_si(working_set or 0)


def _local_volume_names(pod: Pod) -> list[str]:
    """Volumes on node-local disk: hostPath, gitRepo, configMap and disk-backed emptyDir."""
    names = []
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        empty_dir = volume.get("emptyDir")
        if (
            volume.get("hostPath") is not None
            or volume.get("gitRepo") is not None
            or volume.get("configMap") is not None
            or (empty_dir is not None and not empty_dir.get("medium"))
        ):
            names.append(volume.get("name"))
    return names


def pod_disk_usage(pod_stats: PodStats, pod: Pod, measure: Iterable[str]) -> dict[str, Quantity]:
    """Bytes ("ephemeral-storage") and inodes the pod uses on the filesystems measured:
    container rootfs and logs, and its local volumes."""
    measure = set(measure)
    used_bytes, used_inodes = 0, 0

    def add(fs: Mapping[str, Any] | None) -> None:
        nonlocal used_bytes, used_inodes
        used_bytes += (fs or {}).get("usedBytes") or 0
        used_inodes += (fs or {}).get("inodesUsed") or 0

    for container in pod_stats.get("containers") or []:
        if FS_STATS_ROOT in measure:
            add(container.get("rootfs"))
        if FS_STATS_LOGS in measure:
            add(container.get("logs"))
    if FS_STATS_LOCAL_VOLUME_SOURCE in measure:
        for name in _local_volume_names(pod):
            for volume in pod_stats.get("volume") or []:
                if volume.get("name") == name:
                    add(volume)
                    break
    return {"ephemeral-storage": binary_si(used_bytes), RESOURCE_INODES: Quantity(used_inodes)}


# -- ranking (rankMemoryPressure, rankDiskPressureFunc, rankPIDPressure) --------------------------
Cmp = Callable[[Pod, Pod], int]


def _cmp_bool(a: bool, b: bool) -> int:
    """True before False."""
    return 0 if a == b else (-1 if a else 1)


def _by_stats(stats: StatsFunc, compare: Callable[[PodStats, PodStats, Pod, Pod], int]) -> Cmp:
    def cmp(p1: Pod, p2: Pod) -> int:
        s1, s2 = stats(p1), stats(p2)
        if s1 is None or s2 is None:  # pods without stats are evicted first
            return _cmp_bool(s1 is None, s2 is None)
        return compare(s1, s2, p1, p2)

    return cmp


def _priority(p1: Pod, p2: Pod) -> int:
    a, b = pod_priority(p1), pod_priority(p2)
    return (a > b) - (a < b)  # lower priority first


def _exceeds_memory_requests(stats: StatsFunc) -> Cmp:
    return _by_stats(
        stats,
        lambda s1, s2, p1, p2: _cmp_bool(
            memory_usage(s1) > pod_request(p1, "memory"),
            memory_usage(s2) > pod_request(p2, "memory"),
        ),
    )


def _memory(stats: StatsFunc) -> Cmp:
    def compare(s1: PodStats, s2: PodStats, p1: Pod, p2: Pod) -> int:
        a = memory_usage(s1) - pod_request(p1, "memory")
        b = memory_usage(s2) - pod_request(p2, "memory")
        return b.cmp(a)  # larger consumption above request first

    return _by_stats(stats, compare)


def _process(stats: StatsFunc) -> Cmp:
    def count(s: PodStats) -> int:
        return (s.get("process_stats") or {}).get("process_count") or 0

    return _by_stats(
        stats, lambda s1, s2, p1, p2: (count(s2) > count(s1)) - (count(s2) < count(s1))
    )


def _exceeds_disk_requests(stats: StatsFunc, measure: Sequence[str], resource: str) -> Cmp:
    return _by_stats(
        stats,
        lambda s1, s2, p1, p2: _cmp_bool(
            pod_disk_usage(s1, p1, measure)[resource] > pod_request(p1, resource),
            pod_disk_usage(s2, p2, measure)[resource] > pod_request(p2, resource),
        ),
    )


def _disk(stats: StatsFunc, measure: Sequence[str], resource: str) -> Cmp:
    def compare(s1: PodStats, s2: PodStats, p1: Pod, p2: Pod) -> int:
        # Upstream subtracts the ephemeral-storage request even when ranking inodes.
        a = pod_disk_usage(s1, p1, measure)[resource] - pod_request(p1, "ephemeral-storage")
        b = pod_disk_usage(s2, p2, measure)[resource] - pod_request(p2, "ephemeral-storage")
        return b.cmp(a)

    return _by_stats(stats, compare)


def _ordered(pods: Iterable[Pod], *cmps: Cmp) -> list[Pod]:
    def combined(p1: Pod, p2: Pod) -> int:
        for cmp in cmps:
            if result := cmp(p1, p2):
                return result
        return 0

    # Upstream sorts the caller's slice in place; a list given here is sorted in place too, and
    # returned. The sort is stable: pods that compare equal keep their order.
    if isinstance(pods, list):
        pods.sort(key=cmp_to_key(combined))
        return pods
    return sorted(pods, key=cmp_to_key(combined))


def rank_memory_pressure(pods: Iterable[Pod], stats: Any) -> list[Pod]:
    """Pods in eviction order under memory pressure: those using more memory than they
    request first (BestEffort pods request 0, so any use exceeds), then lower priority, then
    larger usage above request. Pods without stats come first. `stats` as for stats_func.
    A list is sorted in place (as upstream's rank functions do) and returned."""
    sf = stats_func(stats)
    return _ordered(pods, _exceeds_memory_requests(sf), _priority, _memory(sf))


def rank_disk_pressure(
    pods: Iterable[Pod],
    stats: Any,
    fs_stats_to_measure: Sequence[str] = ALL_FS_STATS,
    resource: str = "ephemeral-storage",
) -> list[Pod]:
    """Pods in eviction order under disk pressure for `resource` ("ephemeral-storage" or
    "inodes"): exceeding their request first, then lower priority, then larger use above the
    ephemeral-storage request, measuring the given filesystems."""
    sf = stats_func(stats)
    measure = tuple(fs_stats_to_measure)
    return _ordered(
        pods,
        _exceeds_disk_requests(sf, measure, resource),
        _priority,
        _disk(sf, measure, resource),
    )


def rank_pid_pressure(pods: Iterable[Pod], stats: Any) -> list[Pod]:
    """Pods in eviction order under PID pressure: lower priority, then more processes."""
    return _ordered(pods, _priority, _process(stats_func(stats)))


def build_signal_to_rank_func(
    with_image_fs: bool = False, split_image_fs: bool = False
) -> dict[str, Callable[[Iterable[Pod], Any], list[Pod]]]:
    """The ranking function for each signal, given the node's filesystem layout."""

    def disk(measure: tuple[str, ...], resource: str) -> Callable:
        return lambda pods, stats: rank_disk_pressure(pods, stats, measure, resource)

    funcs: dict[str, Callable] = {
        SIGNAL_MEMORY_AVAILABLE: rank_memory_pressure,
        SIGNAL_ALLOCATABLE_MEMORY_AVAILABLE: rank_memory_pressure,
        SIGNAL_PID_AVAILABLE: rank_pid_pressure,
    }
    if with_image_fs and not split_image_fs:
        node = (FS_STATS_LOGS, FS_STATS_LOCAL_VOLUME_SOURCE)
        image = (FS_STATS_ROOT, FS_STATS_IMAGES)
        container = image
    elif with_image_fs:
        node = (FS_STATS_LOGS, FS_STATS_LOCAL_VOLUME_SOURCE, FS_STATS_ROOT)
        image = (FS_STATS_IMAGES,)
        container = node
    else:
        node = image = container = ALL_FS_STATS
    for measure, bytes_signal, inodes_signal in (
        (node, SIGNAL_NODEFS_AVAILABLE, SIGNAL_NODEFS_INODES_FREE),
        (image, SIGNAL_IMAGEFS_AVAILABLE, SIGNAL_IMAGEFS_INODES_FREE),
        (container, SIGNAL_CONTAINERFS_AVAILABLE, SIGNAL_CONTAINERFS_INODES_FREE),
    ):
        funcs[bytes_signal] = disk(measure, "ephemeral-storage")
        funcs[inodes_signal] = disk(measure, RESOURCE_INODES)
    return funcs


def build_signal_to_node_reclaim_funcs(
    with_image_fs: bool = False, split_image_fs: bool = False
) -> dict[str, tuple[str, ...]]:
    """Node-level reclaim tried before evicting, per disk signal: container GC and image GC."""
    both = ("DeleteAllUnusedContainers", "DeleteUnusedImages")
    if with_image_fs and not split_image_fs:
        node, image, container = (), both, both
    elif with_image_fs:
        node, image = ("DeleteAllUnusedContainers",), ("DeleteUnusedImages",)
        container = node
    else:
        node = image = container = both
    return {
        SIGNAL_NODEFS_AVAILABLE: node,
        SIGNAL_NODEFS_INODES_FREE: node,
        SIGNAL_IMAGEFS_AVAILABLE: image,
        SIGNAL_IMAGEFS_INODES_FREE: image,
        SIGNAL_CONTAINERFS_AVAILABLE: container,
        SIGNAL_CONTAINERFS_INODES_FREE: container,
    }


# -- the eviction message (evictionMessage) -------------------------------------------------------
def _container_request(container: Mapping[str, Any], resource: str) -> Quantity:
    requests = (container.get("resources") or {}).get("requests") or {}
    return Quantity(requests[resource]) if resource in requests else Quantity(0)


def eviction_message(
    resource: str,
    pod: Pod,
    stats: Any,
    thresholds: Sequence[Threshold] = (),
    observations: Mapping[str, SignalObservation] | None = None,
    *,
    pod_level_resources: bool = True,
) -> tuple[str, dict[str, str]]:
    """The message an evicted pod's status and Evicted event carry, and the event's
    annotations. For example: "The node was low on resource: memory. Threshold quantity:
    100Mi, available: 50Mi. Container app was using 1Gi, request is 0, has larger consumption
    of memory. " (each sentence ends in a space, as upstream's do). The threshold sentence
    uses the first threshold for `resource` that has an observation; a container is named
    when its usage exceeds its own request."""
    message = NODE_LOW_MESSAGE.format(resource)
    for threshold in thresholds:
        observed = (observations or {}).get(threshold.signal)
        if SIGNAL_TO_RESOURCE.get(threshold.signal) == resource and observed is not None:
            quantity = threshold_quantity(threshold.value, observed.capacity)
            message += THRESHOLD_MET_MESSAGE.format(quantity, observed.available)
            break
    annotations: dict[str, str] = {}
    pod_stats = stats_func(stats)(pod)
    if pod_stats is None:
        return message, annotations
    spec = pod.get("spec") or {}
    pod_name = (pod.get("metadata") or {}).get("name", "")
    pod_requests = (spec.get("resources") or {}).get("requests") or {}
    if (
        resource == "memory"
        and pod_level_resources
        and spec.get("resources") is not None
        and resource in pod_requests
        and pod_stats.get("memory") is not None
    ):
        usage = str(memory_usage(pod_stats))
        message += POD_MESSAGE.format(pod_name, usage, Quantity(pod_requests[resource]), resource)
        annotations |= {"offending_pod": pod_name, "offending_pod_usage": usage}
    containers = [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]
    names, usages = [], []
    for container_stats in pod_stats.get("containers") or []:
        container = next(
            (c for c in containers if c.get("name") == container_stats.get("name")), None
        )
        if container is None:
            continue
        usage = None
        if resource == "ephemeral-storage":
            rootfs = (container_stats.get("rootfs") or {}).get("usedBytes")
            logs = (container_stats.get("logs") or {}).get("usedBytes")
            if rootfs is not None and logs is not None:
                usage = binary_si(rootfs + logs)
        elif resource == "memory":
            working_set = (container_stats.get("memory") or {}).get("workingSetBytes")
            if working_set is not None:
                usage = binary_si(working_set)
        request = _container_request(container, resource)
        if usage is not None and usage > request:
            message += CONTAINER_MESSAGE.format(container["name"], usage, request, resource)
            names.append(container["name"])
            usages.append(str(usage))
    annotations["offending_containers"] = ",".join(names)
    annotations["offending_containers_usage"] = ",".join(usages)
    annotations["starved_resource"] = resource
    return message, annotations
