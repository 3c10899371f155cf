"""A simulated container runtime on one node: images, containers and what they consume.

Semantics: the CRI as kuberuntime drives it (PullImage, CreateContainer, StartContainer,
StopContainer; container states Created/Running/Exited) and the image manager's pull policy
(pkg/kubelet/images/image_manager.go, serialized pulls by default). What a container does is a
small workload model, so OOM kills at the memory limit and crash loops arise from it.
"""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kube_teach.api.quantity import Quantity
from kube_teach.sim.duration import SECOND, to_ns

WORKLOAD_ANNOTATION = "kube-teach.io/workload"
"""Pod annotation: JSON, either one workload for every container or {container: workload}."""

WORKLOAD_KINDS = ("constant", "ramp", "leak", "request")
WORKLOAD_KEYS = frozenset(
    "kind cpu memory rampSeconds leakPerSecond rps cpuPerRequest memoryPerRequest "
    "diskPerSecond logPerSecond exitAfter exitCode failsAfter shutdownSeconds preStopSeconds".split()
)
MiB = 1024 * 1024

# Compressed sizes of a few images learners meet, in bytes; others get a size from their name.
KNOWN_IMAGE_SIZES = {
    "nginx": 72_404_038,
    "busybox": 2_155_134,
    "redis": 45_213_112,
    "postgres": 155_842_307,
    "registry.k8s.io/pause": 320_368,
    "python": 51_318_104,
}


def _q(value: Any) -> int:
    """A quantity in its base unit (bytes; cores are read with `_milli`)."""
    return Quantity(str(value)).value() if value not in (None, "") else 0


def _milli(value: Any) -> int:
    return Quantity(str(value)).milli_value() if value not in (None, "") else 0


@dataclass(frozen=True)
class Workload:
    """What one container does, as a function of seconds since it started.

    kind "constant" uses `cpu` and `memory` throughout; "ramp" grows linearly from zero to them
    over `ramp_seconds`; "leak" starts at `memory` and adds `leak_per_second` bytes every
    second; "request" adds `cpu_per_request` and `memory_per_request` for each of `rps`
    requests per second. Every kind writes `disk_per_second` and `log_per_second` bytes.
    `exit_after` (seconds, None: runs until stopped) ends the process with `exit_code`.
    `fails_after` maps "liveness"/"readiness"/"startup" to seconds since start from which that
    probe fails (0: always). `shutdown_seconds` is how long the process takes to exit after
    SIGTERM (exit code 143); `pre_stop_seconds` how long an exec or httpGet preStop hook runs.
    CPU is in millicores, memory and disk in bytes.
    """

    kind: str = "constant"
    cpu: int = 10
    memory: int = 20 * MiB
    ramp_seconds: float = 60.0
    leak_per_second: int = 0
    rps: float = 0.0
    cpu_per_request: int = 0
    memory_per_request: int = 0
    disk_per_second: int = 0
    log_per_second: int = 0
    exit_after: float | None = None
    exit_code: int = 0
    fails_after: Mapping[str, float] = field(default_factory=dict)
    shutdown_seconds: float = 0.0
    pre_stop_seconds: float = 0.0

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any] | None) -> Workload:
        """From JSON-like text values: `{"kind": "leak", "memory": "50Mi",
        "leakPerSecond": "10Mi", "exitAfter": 5, "exitCode": 1, "failsAfter": {...}}`.
        Unknown kinds raise ValueError."""
        spec = dict(spec or {})
        kind = str(spec.get("kind", "leak" if spec.get("leakPerSecond") else "constant"))
        if kind not in WORKLOAD_KINDS:
            raise ValueError(f"unknown workload kind {kind!r}: want one of {WORKLOAD_KINDS}")
        exit_after = spec.get("exitAfter")
        return cls(
            kind=kind,
            cpu=_milli(spec.get("cpu", "10m")),
            memory=_q(spec.get("memory", "20Mi")),
            ramp_seconds=to_ns(spec.get("rampSeconds", 60)) / SECOND,
            leak_per_second=_q(spec.get("leakPerSecond", 0)),
            rps=float(spec.get("rps", 0)),
            cpu_per_request=_milli(spec.get("cpuPerRequest", 0)),
            memory_per_request=_q(spec.get("memoryPerRequest", 0)),
            disk_per_second=_q(spec.get("diskPerSecond", 0)),
            log_per_second=_q(spec.get("logPerSecond", 0)),
            exit_after=None if exit_after is None else to_ns(exit_after) / SECOND,
            exit_code=int(spec.get("exitCode", 0)),
            fails_after={
                str(k): to_ns(v) / SECOND for k, v in sorted((spec.get("failsAfter") or {}).items())
            },
            shutdown_seconds=to_ns(spec.get("shutdownSeconds", 0)) / SECOND,
            pre_stop_seconds=to_ns(spec.get("preStopSeconds", 0)) / SECOND,
        )

    def usage(self, t: float) -> Usage:
        """What the process uses `t` seconds after it started."""
        t = max(t, 0.0)
        cpu, memory = self.cpu, self.memory
        if self.kind == "ramp":
            share = min(t / self.ramp_seconds, 1.0) if self.ramp_seconds > 0 else 1.0
            cpu, memory = round(cpu * share), round(memory * share)
        elif self.kind == "leak":
            memory += round(self.leak_per_second * t)
        elif self.kind == "request":
            cpu += round(self.cpu_per_request * self.rps)
            memory += round(self.memory_per_request * self.rps)
        return Usage(cpu, memory, round(self.disk_per_second * t), round(self.log_per_second * t))

    def oom_after(self, limit: int) -> float | None:
        """Seconds after start at which memory reaches `limit` bytes (the cgroup OOM-kills
        then); None when it never does or there is no limit (0)."""
        if limit <= 0:
            return None
        start = self.usage(0).memory
        if start >= limit:
            return 0.0
        if self.kind == "leak" and self.leak_per_second > 0:
            return (limit - start) / self.leak_per_second
        if self.kind == "ramp" and self.memory >= limit:
            return self.ramp_seconds * limit / self.memory
        return None

    def probe_ok(self, probe: str, t: float) -> bool:
        """Whether the `probe` ("liveness", "readiness", "startup") succeeds at `t`."""
        after = self.fails_after.get(probe)
        return after is None or t < after


@dataclass(frozen=True)
class Usage:
    """Resource use at one instant: millicores, bytes of memory, disk and logs written."""

    cpu: int
    memory: int
    disk: int
    logs: int


def workload_for(
    pod: Mapping[str, Any], container: str, default: Workload | None = None
) -> Workload:
    """The workload of `container` from the pod's WORKLOAD_ANNOTATION (a JSON workload, or a
    JSON map of container name to workload); `default` (or a constant 10m/20Mi) otherwise."""
    text = ((pod.get("metadata") or {}).get("annotations") or {}).get(WORKLOAD_ANNOTATION)
    if not text:
        return default or Workload()
    spec = json.loads(text)
    if isinstance(spec, dict) and spec and not set(spec) & WORKLOAD_KEYS:
        spec = spec.get(container)
        if spec is None:
            return default or Workload()
    return Workload.from_dict(spec)


# A small registry: repositories it knows and the tags they have (a regular expression over
# the tag). An image of a known repository with another tag does not exist, so pulling it fails;
# repositories it does not know are assumed to exist with every tag.
REGISTRY_TAGS = {
    "nginx": r"latest|stable|mainline|alpine|1\.([0-9]|1[0-9]|2[0-9])(\.[0-9]+)?(-alpine)?",
    "busybox": r"latest|stable|musl|glibc|1\.([0-9]|[1-3][0-9])(\.[0-9]+)?",
    "redis": r"latest|alpine|[5-8](\.[0-9]+){0,2}(-alpine)?",
    "python": r"latest|slim|alpine|3(\.[0-9]+){0,2}(-slim|-alpine)?",
    "postgres": r"latest|alpine|1[0-8](\.[0-9]+)?(-alpine)?",
}


def split_image(image: str) -> tuple[str, str]:
    """(repository without docker.io/library/, tag or "latest"); digests keep their tag."""
    name = image.split("@")[0]
    last = name.split("/")[-1]
    repo, tag = name.rsplit(":", 1) if ":" in last else (name, "latest")
    return repo.removeprefix("docker.io/").removeprefix("library/"), tag


def image_exists(image: str, registry: Mapping[str, str] | None = None) -> bool:
    """Whether the registry model has `image` (see REGISTRY_TAGS)."""
    tags = REGISTRY_TAGS if registry is None else registry
    repo, tag = split_image(image)
    pattern = tags.get(repo)
    return pattern is None or "@" in image or re.fullmatch(pattern, tag) is not None


def pull_error(image: str) -> str:
    """containerd's error for an image the registry does not have, as the kubelet shows it."""
    ref = f"{image_ref(image).split('@')[0]}:{split_image(image)[1]}"
    return (f'rpc error: code = NotFound desc = failed to pull and unpack image "{ref}": '
            f'failed to resolve reference "{ref}": {ref}: not found')  # fmt: skip


def image_size(image: str) -> int:
    """The compressed size of `image` in bytes: known sizes by repository, else a size
    between 10 and 200 MB derived from the name (stable across processes)."""
    repo = image.split("@")[0].rsplit(":", 1)[0] if ":" in image.split("/")[-1] else image
    repo = repo.removeprefix("docker.io/").removeprefix("library/")
    if repo in KNOWN_IMAGE_SIZES:
        return KNOWN_IMAGE_SIZES[repo]
    return 10_000_000 + zlib.crc32(repo.encode()) % 190_000_000


def image_ref(image: str) -> str:
    """The imageID a containerStatus reports: repository@sha256:<digest> (a stable fake)."""
    name = image.split("@")[0]
    last = name.split("/")[-1]
    repo = name.rsplit(":", 1)[0] if ":" in last else name
    if "/" not in repo:
        repo = f"docker.io/library/{repo}"
    return f"{repo}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"


def default_pull_policy(image: str) -> str:
    """`Always` for `:latest` or an untagged image, else `IfNotPresent` (API defaulting)."""
    last = image.split("@")[0].split("/")[-1]
    tag = last.rsplit(":", 1)[1] if ":" in last else ""
    return "IfNotPresent" if "@" in image or (tag and tag != "latest") else "Always"


@dataclass
class Container:
    """One container as the runtime knows it: state "created", "running" or "exited"."""

    id: str
    pod_uid: str
    name: str
    image: str
    attempt: int
    workload: Workload
    state: str = "created"
    started_ns: int = 0
    finished_ns: int = 0
    exit_code: int = 0
    reason: str = ""

    def usage(self, now_ns: int) -> Usage:
        """Use now; nothing once exited."""
        if self.state != "running":
            return Usage(0, 0, 0, 0)
        return self.workload.usage((now_ns - self.started_ns) / SECOND)


class ContainerRuntime:
    """containerd on one node, without a clock: callers pass `now_ns` and schedule timers.

    Pulls are serialized (serializeImagePulls: true, the kubelet default): a pull waits for
    the ones before it, and the time it waited shows up in the Pulled event. Pull time is
    the image size over `bandwidth` bytes per second plus `pull_overhead`; an image that is
    present and pulled again under `Always` costs only the manifest check, `pull_overhead`.
    `images` (image -> size) is what the node's disk holds and survives a reboot when the
    caller keeps it; `boot` counts reboots, so container IDs differ after one.
    """

    def __init__(
        self,
        node: str,
        *,
        images: dict[str, int] | None = None,
        bandwidth: float = 50e6,
        pull_overhead: float | str = "200ms",
        start_latency: float | str = "100ms",
        boot: int = 0,
    ) -> None:
        self.node = node
        self.boot = boot
        self.images: dict[str, int] = images if images is not None else {}
        self.bandwidth = bandwidth
        self.pull_overhead_ns = to_ns(pull_overhead)
        self.start_latency_ns = to_ns(start_latency)
        self.containers: dict[str, Container] = {}
        self._pulls_busy_until = 0

    # -- images --------------------------------------------------------------------------------
    def needs_pull(self, image: str, policy: str) -> bool:
        """Whether the image manager pulls: `Always` always, `IfNotPresent` when absent,
        `Never` never (the caller reports ErrImageNeverPull when absent)."""
        if policy == "Always":
            return True
        if policy == "Never":
            return False
        return image not in self.images

    def pull(self, image: str, now_ns: int, exists: bool = True) -> tuple[int, int]:
        """Queue a pull at `now_ns`: returns (pull time, total time including waiting) in ns.
        The image counts as present only once the caller calls `pulled` at the end. A pull of
        an image the registry lacks (`exists` False) fails after resolving: the overhead only."""
        size = image_size(image)
        duration = self.pull_overhead_ns
        if image not in self.images and exists:
            duration += round(size / self.bandwidth * SECOND)
        start = max(now_ns, self._pulls_busy_until)
        self._pulls_busy_until = start + duration
        return duration, self._pulls_busy_until - now_ns

    def pulled(self, image: str) -> int:
        """Record `image` as present; returns its size in bytes."""
        self.images[image] = image_size(image)
        return self.images[image]

    # -- containers ----------------------------------------------------------------------------
    def create(
        self, pod_uid: str, name: str, image: str, attempt: int, workload: Workload
    ) -> Container:
        """CreateContainer: a stable container ID from node, boot, pod, name and attempt."""
        seed = f"{self.node}/{self.boot}/{pod_uid}/{name}/{attempt}"
        digest = hashlib.sha256(seed.encode()).hexdigest()
        container = Container(digest, pod_uid, name, image, attempt, workload)
        self.containers[container.id] = container
        return container

    def start(self, container: Container, now_ns: int) -> None:
        container.state, container.started_ns = "running", now_ns

    def stop(self, container: Container, now_ns: int, exit_code: int, reason: str) -> None:
        """The process ended (exit, OOM kill or StopContainer)."""
        if container.state == "exited":
            return
        container.state, container.finished_ns = "exited", now_ns
        container.exit_code, container.reason = exit_code, reason

    def remove_pod(self, pod_uid: str) -> None:
        """Forget every container of a pod (RemoveContainer after the pod is gone)."""
        for cid in [c for c, v in self.containers.items() if v.pod_uid == pod_uid]:
            del self.containers[cid]

    def usage(self, now_ns: int) -> Usage:
        """Total use of every running container on the node."""
        cpu = memory = disk = logs = 0
        for cid in sorted(self.containers):
            u = self.containers[cid].usage(now_ns)
            cpu, memory, disk, logs = cpu + u.cpu, memory + u.memory, disk + u.disk, logs + u.logs
        return Usage(cpu, memory, disk, logs)
