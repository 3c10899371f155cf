"""The kubelet's periodic housekeeping: the Summary API over the runtime model, the eviction
manager's cycle every 10 s, image garbage collection every 5 min, and the crash of the kubelet
process when the node's root filesystem is full.

Semantics: pkg/kubelet/server/stats (Summary API fields), pkg/kubelet/eviction (synchronize,
evictPod: Evicted event and status, kill with the eviction grace period),
pkg/kubelet/images/image_gc_manager.go. A mixin of the Kubelet host.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kube_teach.api.objects import Obj
from kube_teach.sim.clock import Timer
from kube_teach.sim.duration import SECOND, to_ns

from .eviction_manager import MONITORING_INTERVAL, EvictionManager
from .images import GC_PERIOD, ImageGCPolicy, ImageRecord, garbage_collect
from .pod_workers import PodWorker
from .runtime import ContainerRuntime
from .status import TERMINAL_PHASES, rfc3339, to_bytes

PAGE = 4096
MAX_PID = 4_194_304  # /proc/sys/kernel/pid_max on 64-bit Linux
BYTES_PER_INODE = 16_384  # ext4's default inode ratio
BASE_PROCESSES = 180  # systemd, sshd, containerd, the kubelet ... before any container
BASE_INODES_USED = 60_000


class Housekeeping:
    """Summary API, eviction and image GC for the Kubelet (needs host, clock, runtime ...)."""

    eviction: EvictionManager
    pods: dict[str, PodWorker]
    runtime: ContainerRuntime
    pressure: list[str]
    _image_first_seen: dict[str, float]
    _image_last_used: dict[str, float]
    crashed_reason: str | None
    _disk_timer: Timer | None

    # -- the Summary API -----------------------------------------------------------------------
    def _capacity_bytes(self, resource: str) -> int:
        capacity = self._capacity()
        return to_bytes(capacity.get(resource, "0"))

    def pod_usage(self) -> dict[str, dict[str, int]]:
        """The Summary API's per-pod use for the metrics pipeline: {pod uid: {"cpu":
        millicores, "memory": working-set bytes}}, for pods with a running container."""
        now = self.clock.now_ns
        out: dict[str, dict[str, int]] = {}
        for uid in sorted(self.pods):
            running = [s.current for s in self.pods[uid].slots.values() if s.running]
            if running:
                usage = [c.usage(now) for c in running if c is not None]
                out[uid] = {
                    "cpu": sum(u.cpu for u in usage),
                    "memory": sum(u.memory for u in usage),
                }
        return out

    def summary(self) -> dict[str, Any]:
        """GET /stats/summary: node memory, filesystem (also the image filesystem, which
        shares it), rlimit, and per-pod memory, CPU and container rootfs and log use."""
        now = self.clock.now_ns
        stamp = rfc3339(self.epoch_ns + now)
        memory = self._capacity_bytes("memory")
        storage = self._capacity_bytes("ephemeral-storage")
        running = [c for c in self.runtime.containers.values() if c.state == "running"]
        usage = [c.usage(now) for c in running]
        working_set = sum(_pages(u.memory) for u in usage) + self.system_usage["memory"]
        images = sum(_pages(size, up=True) for size in self.runtime.images.values())
        written = sum(_pages(u.disk, up=True) + _pages(u.logs, up=True) for u in usage)
        used = written + images + self.system_usage["disk"]
        inodes = storage // BYTES_PER_INODE
        inodes_used = BASE_INODES_USED + 2_000 * len(self.runtime.images) + 500 * len(running)
        fs = {"time": stamp, "availableBytes": max(storage - used, 0), "capacityBytes": storage,
              "usedBytes": min(used, storage), "inodesFree": max(inodes - inodes_used, 0),
              "inodes": inodes, "inodesUsed": inodes_used}  # fmt: skip
        pods = []
        for uid in sorted(self.pods):
            ps = self.pods[uid]
            containers, pod_memory, pod_cpu, pod_disk = [], 0, 0, 0
            for slot in ps.slots.values():
                c = slot.current
                if c is None:
                    continue
                u = c.usage(now)  # nothing once exited: its writable layer goes with it
                mem, rootfs, logs = (
                    _pages(u.memory),
                    _pages(u.disk, up=True),
                    _pages(u.logs, up=True),
                )
                pod_memory, pod_cpu, pod_disk = (
                    pod_memory + mem,
                    pod_cpu + u.cpu,
                    pod_disk + rootfs + logs,
                )
                containers.append({"name": slot.name, "memory": {"workingSetBytes": mem},
                                   "rootfs": {"usedBytes": rootfs}, "logs": {"usedBytes": logs}})  # fmt: skip
            meta = ps.pod.metadata
            pods.append({
                "podRef": {"name": ps.pod.name, "namespace": ps.pod.namespace, "uid": meta.get("uid", "")},
                "memory": {"workingSetBytes": pod_memory, "time": stamp},
                "cpu": {"usageNanoCores": pod_cpu * 1_000_000, "time": stamp},
                "containers": containers,
                "ephemeral-storage": {"usedBytes": pod_disk},
                "process_stats": {"process_count": len(containers)},
            })  # fmt: skip
        return {
            "node": {
                "nodeName": self.node_name,
                "memory": {
                    "time": stamp,
                    "availableBytes": max(memory - working_set, 0),
                    "workingSetBytes": working_set,
                },  # fmt: skip
                "fs": fs,
                "runtime": {"imageFs": dict(fs)},
                "rlimit": {
                    "time": stamp,
                    "maxpid": MAX_PID,
                    "curproc": BASE_PROCESSES + len(running),
                },
            },
            "pods": pods,
        }

    def _record_metrics(self) -> None:
        """Gauges for plots: the node's working set and running pods, per container use."""
        if self.metrics is None:
            return
        now = self.clock.now_ns
        usage = self.runtime.usage(now)
        self.metrics.set("node_memory_working_set_bytes", usage.memory, node=self.node_name)
        self.metrics.set("node_cpu_usage_millicores", usage.cpu, node=self.node_name)
        self.metrics.set("kubelet_running_pods", len(self.pods), node=self.node_name)
        for uid in sorted(self.pods):
            ps = self.pods[uid]
            for name in sorted(ps.slots):
                c = ps.slots[name].current
                if c is not None:
                    self.metrics.set("container_memory_working_set_bytes", c.usage(now).memory,
                                     pod=ps.key, container=name)  # fmt: skip

    # -- the eviction manager ------------------------------------------------------------------
    def _start_housekeeping(self) -> None:
        self._disk_timer = None
        self.host.every(to_ns(MONITORING_INTERVAL) / SECOND, self._eviction_cycle)
        self.host.every(to_ns(GC_PERIOD) / SECOND, self._image_gc)

    def _active_pods(self) -> list[Obj]:
        return [self.pods[uid].pod for uid in sorted(self.pods)
                if not self.pods[uid].terminating and self.pods[uid].phase not in TERMINAL_PHASES]  # fmt: skip

    def _eviction_cycle(self) -> None:
        """synchronize: observe the signals, set the node conditions, reclaim node-level
        resources (unused images) before evicting for disk, then evict at most one pod."""
        if not self.running:
            return
        self._watch_disk()
        summary = self.summary()
        unused = self._unused_images()
        after = None
        if unused:  # what deleting the unused images would leave (node-level reclaim)
            freed = sum(self.runtime.images[i] for i in unused)
            node = dict(summary["node"])
            fs = {**node["fs"], "availableBytes": node["fs"]["availableBytes"] + freed}
            node["fs"], node["runtime"] = fs, {"imageFs": dict(fs)}
            after = {**summary, "node": node}
        if self.metrics is not None:  # the two signals the chapter plots
            node = summary["node"]
            self.metrics.set(
                "node_memory_available_bytes", node["memory"]["availableBytes"], node=self.node_name
            )
            self.metrics.set(
                "node_fs_available_bytes", node["fs"]["availableBytes"], node=self.node_name
            )
        result = self.eviction.synchronize(self.clock.now, summary, self._active_pods(),
                                           summary_after_reclaim=after)  # fmt: skip
        if result.node_conditions != self.pressure:
            self._emit("node-pressure", conditions=",".join(result.node_conditions) or "none")
            for cond in sorted(set(result.node_conditions) - set(self.pressure)):
                self._node_event(
                    "Normal",
                    f"NodeHas{cond}",
                    f"Node {self.node_name} status is now: NodeHas{cond}",
                )
            self.pressure = list(result.node_conditions)
        for type_, reason, message in result.events:
            self._node_event(type_, reason, message)
        if result.node_reclaim and unused:
            self._delete_images(unused)
        for eviction in result.evicted:
            uid = (eviction.pod.get("metadata") or {}).get("uid", "")
            ps = self.pods.get(uid)
            if ps is None or ps.terminating:
                continue
            self._emit(
                "pod-evicted", pod=ps.key, signal=eviction.signal or "", message=eviction.message
            )
            self._pod_event(ps, None, "Warning", "Evicted", eviction.message)
            ps.evicted = eviction.pod_status()
            self._terminate(uid, ps, eviction.grace_period_seconds)

    def _admit(self, pod: Obj) -> dict[str, Any] | None:
        """canAdmitPod under node pressure: None to admit, else the Failed status to post."""
        verdict = self.eviction.admit(pod)
        if verdict.admit:
            return None
        return {"phase": "Failed", "reason": verdict.reason, "message": verdict.message}

    # -- images --------------------------------------------------------------------------------
    def _unused_images(self) -> list[str]:
        used = {c.image for c in self.runtime.containers.values() if c.state != "exited"}
        return [i for i in sorted(self.runtime.images) if i not in used]

    def _image_records(self) -> list[ImageRecord]:
        now = self.clock.now
        used = {c.image for c in self.runtime.containers.values() if c.state != "exited"}
        for image in used:
            self._image_last_used[image] = now
        # images already on disk when the kubelet started count as old, as upstream
        return [ImageRecord(i, size, self._image_first_seen.setdefault(i, 0.0),
                            self._image_last_used.get(i), i in used)
                for i, size in sorted(self.runtime.images.items())]  # fmt: skip

    def _image_gc(self) -> None:
        """GarbageCollect every 5 min: above 85 % of the image filesystem, delete unused
        images (least recently used first, at least 2 min old) down to 80 %."""
        if not self.running:
            return
        fs = self.summary()["node"]["runtime"]["imageFs"]
        result = garbage_collect(self._image_records(), fs["capacityBytes"], fs["availableBytes"],
                                 self.clock.now, self.image_gc_policy)  # fmt: skip
        if result.deleted:
            self._delete_images(result.deleted)
        for reason, message in result.events:
            self._node_event("Warning", reason, message)

    def _delete_images(self, images: list[str]) -> None:
        for image in images:
            self.runtime.images.pop(image, None)
            self._image_last_used.pop(image, None)
        self._emit("images-deleted", images=",".join(images))

    # -- disk full -----------------------------------------------------------------------------
    def _watch_disk(self) -> None:
        """Schedule the kubelet's crash at the instant the root filesystem fills: from then on
        it cannot write its own files (logs, checkpoints) and exits, again and again."""
        if self._disk_timer is not None:
            self._disk_timer.cancel()
            self._disk_timer = None
        fs = self.summary()["node"]["fs"]
        rate = sum(c.workload.disk_per_second + c.workload.log_per_second
                   for c in self.runtime.containers.values() if c.state == "running")  # fmt: skip
        if fs["availableBytes"] * 1000 < rate:  # less than a millisecond of writes left
            self.crash("disk full")
            return
        if rate > 0:
            at = fs["availableBytes"] / rate
            if at <= to_ns(MONITORING_INTERVAL) / SECOND:
                self._disk_timer = self.host.call_later(at, self._watch_disk)

    def crash(self, reason: str) -> None:
        """The kubelet process exits: no more heartbeats, node status, pod syncs or probes;
        the containers it started keep running under the container runtime."""
        if not self.running:
            return
        self.running = False
        self.crashed_reason = reason
        if self.informer is not None:
            self.informer.stop()
        for uid in sorted(self.pods):
            self._cancel(self.pods[uid].timers)
        self._emit("kubelet-crashed", reason=reason)


def _pages(n: int, up: bool = False) -> int:
    """Bytes in whole 4 KiB pages (memory) or blocks (disk), as the kernel accounts them."""
    return -(-n // PAGE) * PAGE if up else n - n % PAGE


def image_gc_policy(options: Mapping[str, Any] | None) -> ImageGCPolicy:
    """An ImageGCPolicy from imageGCHighThresholdPercent/LowThresholdPercent/MinimumGCAge."""
    options = dict(options or {})
    policy = ImageGCPolicy(
        high_threshold_percent=int(options.get("imageGCHighThresholdPercent", 85)),
        low_threshold_percent=int(options.get("imageGCLowThresholdPercent", 80)),
        min_age=options.get("imageMinimumGCAge", "2m"),
    )
    policy.validate()
    return policy
