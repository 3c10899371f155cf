"""The kubelet's container side of SyncPod and KillPod: init containers, sidecars, image pulls
with back-off, starts, restarts with CrashLoopBackOff, OOM kills, and graceful termination.

Semantics: pkg/kubelet/kuberuntime (kuberuntime_manager.go computePodActions and SyncPod,
kuberuntime_container.go startContainer and killContainer, with its 2 s minimum grace period),
images/image_manager.go (EnsureImageExists and its back-off). A mixin of the Kubelet host.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kube_teach.sim.duration import SECOND, format_duration, to_ns

from .backoff import (
    ERR_IMAGE_PULL,
    Backoff,
    format_pod,
    pull_decision,
    pull_failed,
    restart_decision,
)
from .pod_workers import INIT, REGULAR, SIDECAR, ContainerSlot, PodWorker
from .probes import READINESS, STARTUP
from .runtime import (
    Container,
    Workload,
    default_pull_policy,
    image_exists,
    pull_error,
    workload_for,
)
from .status import to_bytes

DEFAULT_TERMINATION_GRACE_PERIOD = 30  # seconds: terminationGracePeriodSeconds
MINIMUM_GRACE_PERIOD = 2  # seconds: minimumGracePeriodInSeconds in killContainer
WORKER_BACKOFF_PERIOD = 10  # seconds: a pod worker retries a failed sync after backOffPeriod
SIGTERM_EXIT_CODE, SIGKILL_EXIT_CODE = 143, 137  # 128 + signal number


def termination_grace_period(pod: Mapping[str, Any], override: int | None = None) -> int:
    """Seconds the kubelet gives a pod's containers to stop: an override (eviction), else
    metadata.deletionGracePeriodSeconds, else spec.terminationGracePeriodSeconds (30)."""
    if override is not None:
        return int(override)
    grace = (pod.get("metadata") or {}).get("deletionGracePeriodSeconds")
    if grace is None:
        grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
    return DEFAULT_TERMINATION_GRACE_PERIOD if grace is None else int(grace)


def pre_stop_seconds(spec: Mapping[str, Any], workload: Workload) -> float:
    """How long the container's preStop hook runs: a `sleep` action its seconds, an exec or
    httpGet hook the workload's preStopSeconds, no hook 0."""
    hook = (spec.get("lifecycle") or {}).get("preStop")
    if not hook:
        return 0.0
    if "sleep" in hook:
        return float((hook.get("sleep") or {}).get("seconds") or 0)
    return workload.pre_stop_seconds


def stop_timeline(grace: float, pre_stop: float, shutdown: float) -> tuple[float, float, int]:
    """killContainer's timeline from the kill decision, in seconds: (SIGTERM at, exit at,
    exit code). The preStop hook runs up to the grace period; what remains, at least 2 s,
    is the time between SIGTERM and SIGKILL. A process that exits on SIGTERM in time exits
    143, one still running at the deadline is SIGKILLed: 137."""
    hook = min(pre_stop, grace) if grace > 0 else 0.0
    remaining = max(grace - hook, MINIMUM_GRACE_PERIOD)
    if shutdown < remaining:
        return hook, hook + shutdown, SIGTERM_EXIT_CODE
    return hook, hook + remaining, SIGKILL_EXIT_CODE


class KubeRuntimeManager:
    """Container actions of the Kubelet (needs host, clock, runtime, backoff, pods ...)."""

    backoff: Backoff
    image_backoff: Backoff
    _image_first_seen: dict[str, float]
    _image_last_used: dict[str, float]
    pods: dict[str, PodWorker]

    # -- SyncPod -------------------------------------------------------------------------------
    def _sync_containers(self, uid: str, ps: PodWorker) -> None:
        """computePodActions: init containers one at a time, each to exit 0 before the next;
        sidecars started in order and kept running; app containers once all that is done."""
        policy = (ps.pod.get("spec") or {}).get("restartPolicy") or "Always"
        apps = ps.of_kind(REGULAR)
        if not any(s.current is not None or s.pulling for s in apps):
            for slot in ps.of_kind(INIT, SIDECAR):
                if slot.kind == INIT and slot.succeeded:
                    continue
                if slot.kind == SIDECAR:
                    self._sync_container(uid, ps, slot, "Always")
                    if slot.started:
                        continue
                else:
                    self._sync_container(
                        uid, ps, slot, "Never" if policy == "Never" else "OnFailure"
                    )
                for app in apps:
                    app.waiting = ("PodInitializing", "")
                return
        else:
            for slot in ps.of_kind(SIDECAR):
                self._sync_container(uid, ps, slot, "Always")
        for slot in apps:
            self._sync_container(uid, ps, slot, policy)

    def _sync_container(self, uid: str, ps: PodWorker, slot: ContainerSlot, policy: str) -> None:
        c = slot.current
        if slot.pulling or slot.stopping or (c is not None and c.state != "exited"):
            return
        if c is not None:
            if policy == "Never" or (policy == "OnFailure" and c.exit_code == 0):
                slot.waiting = None
                return
            now = self.clock.now_ns
            decision = restart_decision(
                self.backoff, ps.pod, slot.name, c.finished_ns / SECOND, now / SECOND
            )
            if not decision.start:
                if slot.waiting is None or slot.waiting[0] != decision.reason:
                    message = f"Back-off restarting failed container {slot.name} in pod {format_pod(ps.pod)}"
                    self._pod_event(ps, slot.name, "Warning", "BackOff", message)
                slot.waiting = (decision.reason, decision.message)
                wake = c.finished_ns + to_ns(decision.delay) - now
                self._queue_sync(uid, max(wake, 1))
                return
        self._ensure_image(uid, ps, slot)

    # -- images --------------------------------------------------------------------------------
    def _ensure_image(self, uid: str, ps: PodWorker, slot: ContainerSlot) -> None:
        """EnsureImageExists: pull per imagePullPolicy, unless a failed pull of the image is
        still in back-off (ImagePullBackOff); a pull of an image the registry lacks fails
        (ErrImagePull) and the worker retries after WORKER_BACKOFF_PERIOD."""
        image = str(slot.spec.get("image", ""))
        policy = slot.spec.get("imagePullPolicy") or default_pull_policy(image)
        if self.runtime.needs_pull(image, policy):
            decision = pull_decision(self.image_backoff, ps.pod, image, self.clock.now)
            if not decision.start:
                self._pod_event(ps, slot.name, "Normal", "BackOff", decision.message)
                self._pod_event(ps, slot.name, "Warning", "Failed", f"Error: {decision.reason}")
                message = f"{decision.message}: {ERR_IMAGE_PULL}: {slot.pull_error}"
                slot.waiting = (decision.reason, message)
                self._queue_sync(uid, to_ns(WORKER_BACKOFF_PERIOD))
                return
            slot.pulling = True
            slot.waiting = slot.waiting or ("ContainerCreating", "")
            self._pod_event(ps, slot.name, "Normal", "Pulling", f'Pulling image "{image}"')
            found = image_exists(image, self.registry)
            pull_ns, total_ns = self.runtime.pull(image, self.clock.now_ns, found)
            done = self._pulled if found else self._pull_failed
            self.host.call_later(
                total_ns / SECOND, lambda: done(uid, slot, image, pull_ns, total_ns)
            )
            return
        slot.waiting = ("ContainerCreating", "")
        if image not in self.runtime.images:  # imagePullPolicy: Never
            message = f'Container image "{image}" is not present with pull policy of Never'
            slot.waiting = ("ErrImageNeverPull", message)
            self._pod_event(ps, slot.name, "Warning", "ErrImageNeverPull", message)
            return
        message = (
            f'Container image "{image}" already present on machine and can be accessed by the pod'
        )
        self._pod_event(ps, slot.name, "Normal", "Pulled", message)
        self._create_and_start(uid, ps, slot)

    def _pull_failed(self, uid: str, slot: ContainerSlot, image: str, *_: int) -> None:
        slot.pulling = False
        ps = self.pods.get(uid)
        if ps is None or ps.slots.get(slot.name) is not slot or ps.terminating:
            return
        error = pull_error(image)
        pull_failed(self.image_backoff, ps.pod, image, self.clock.now)
        self._emit("image-pull-failed", pod=ps.key, image=image)
        self._pod_event(
            ps, slot.name, "Warning", "Failed", f'Failed to pull image "{image}": {error}'
        )
        self._pod_event(ps, slot.name, "Warning", "Failed", f"Error: {ERR_IMAGE_PULL}")
        slot.waiting, slot.pull_error = (ERR_IMAGE_PULL, error), error
        self._push_status(uid, ps)
        self._queue_sync(uid, to_ns(WORKER_BACKOFF_PERIOD))

    def _pulled(
        self, uid: str, slot: ContainerSlot, image: str, pull_ns: int, total_ns: int
    ) -> None:
        size = self.runtime.pulled(image)
        self._image_first_seen.setdefault(image, self.clock.now)  # image GC's firstDetected
        ps = self.pods.get(uid)
        slot.pulling = False
        if ps is None or ps.slots.get(slot.name) is not slot or ps.terminating:
            return
        self._emit("image-pulled", image=image, seconds=format_duration(pull_ns))
        message = (f'Successfully pulled image "{image}" in {format_duration(_ms(pull_ns))} '
                   f"({format_duration(_ms(total_ns))} including waiting). Image size: {size} bytes.")  # fmt: skip
        self._pod_event(ps, slot.name, "Normal", "Pulled", message)
        self._create_and_start(uid, ps, slot)

    # -- start, exit ---------------------------------------------------------------------------
    def _create_and_start(self, uid: str, ps: PodWorker, slot: ContainerSlot) -> None:
        workload = self._workload(ps.pod, slot.name)
        image = str(slot.spec.get("image", ""))
        if slot.current is not None:
            slot.last = slot.current
        slot.current = c = self.runtime.create(uid, slot.name, image, slot.attempts, workload)
        slot.attempts += 1
        self._pod_event(ps, slot.name, "Normal", "Created", f"Created container: {slot.name}")

        def started() -> None:
            if self.pods.get(uid) is not ps or slot.current is not c or ps.terminating:
                return
            self.runtime.start(c, self.clock.now_ns)
            self._image_last_used[image] = self.clock.now  # image GC's lastUsed
            slot.waiting = None
            slot.started = STARTUP not in slot.probes
            slot.ready = slot.started and READINESS not in slot.probes
            for worker in slot.probes.values():
                worker.new_container()
            self._pod_event(ps, slot.name, "Normal", "Started", f"Started container {slot.name}")
            self._emit("container-started", pod=ps.key, container=slot.name, restartCount=c.attempt)
            self._schedule_exit(uid, slot, c)
            self._queue_sync(uid)

        self.host.call_later(self.runtime.start_latency_ns / SECOND, started)

    def _workload(self, pod: Mapping[str, Any], name: str) -> Workload:
        default = self.workload(pod, name) if callable(self.workload) else self.workload
        return workload_for(pod, name, default)

    def _schedule_exit(self, uid: str, slot: ContainerSlot, c: Container) -> None:
        """The process exits on its own (exitAfter) or is OOM-killed at its memory limit."""
        slot.timers = []  # the previous container's timers have fired or been cancelled
        limit = ((slot.spec.get("resources") or {}).get("limits") or {}).get("memory")
        oom = c.workload.oom_after(to_bytes(limit)) if limit else None
        ends = [(oom, SIGKILL_EXIT_CODE, "OOMKilled")] if oom is not None else []
        if c.workload.exit_after is not None:
            code = c.workload.exit_code
            ends.append((c.workload.exit_after, code, "Completed" if code == 0 else "Error"))
        if not ends:
            return
        after, code, reason = min(ends, key=lambda e: e[0])
        slot.timers.append(
            self.host.call_later(after, lambda: self._exited(uid, slot, c, code, reason))
        )

    def _exited(self, uid: str, slot: ContainerSlot, c: Container, code: int, reason: str) -> None:
        if c.state == "exited":
            return
        self.runtime.stop(c, self.clock.now_ns, code, reason)
        slot.ready = False
        ps = self.pods.get(uid)
        key = ps.key if ps is not None else uid
        event = "container-oomkilled" if reason == "OOMKilled" else "container-exited"
        self._emit(event, pod=key, container=slot.name, exitCode=code)
        self._queue_sync(uid)

    # -- KillPod -------------------------------------------------------------------------------
    def _terminate(self, uid: str, ps: PodWorker, grace_override: int | None = None) -> None:
        """killPodWithSyncResult: stop app and init containers within the grace period, then
        the sidecars; once all have stopped the pod is terminated (terminal phase)."""
        if ps.terminating:
            return
        ps.terminating = True
        self._cancel(ps.timers)  # probes stop with the pod
        grace = termination_grace_period(ps.pod, grace_override)
        deadline = self.clock.now_ns + to_ns(grace)
        self._emit("pod-terminating", pod=ps.key, gracePeriod=grace)

        def finish() -> None:
            ps.terminated = True
            self._emit("pod-terminated", pod=ps.key)
            self._queue_sync(uid)

        def sidecars() -> None:
            left = max(deadline - self.clock.now_ns, 0) / SECOND
            self._kill_all(uid, ps, ps.of_kind(SIDECAR)[::-1], left, finish)

        self._kill_all(uid, ps, ps.of_kind(INIT, REGULAR), grace, sidecars)

    def _kill_all(self, uid: str, ps: PodWorker, slots: list[ContainerSlot], grace: float,
                  then: Callable[[], None]) -> None:  # fmt: skip
        running = [s for s in slots if s.running]
        for slot in slots:
            slot.pulling = False
            if not slot.running:
                self._cancel(slot.timers)
        if not running:
            then()
            return
        left = [len(running)]

        def one_done() -> None:
            left[0] -= 1
            if left[0] == 0:
                then()

        for slot in running:
            self._kill_container(uid, ps, slot, grace, one_done)

    def _kill_container(self, uid: str, ps: PodWorker, slot: ContainerSlot, grace: float,
                        done: Callable[[], None]) -> None:  # fmt: skip
        """killContainer: preStop hook, SIGTERM, SIGKILL at the deadline (stop_timeline)."""
        c = slot.current
        assert c is not None
        self._cancel(slot.timers)
        slot.stopping, slot.ready = True, False
        self._pod_event(ps, slot.name, "Normal", "Killing", f"Stopping container {slot.name}")
        sigterm, exit_at, code = stop_timeline(
            grace, pre_stop_seconds(slot.spec, c.workload), c.workload.shutdown_seconds
        )
        self._emit("container-stopping", pod=ps.key, container=slot.name,
                   sigterm=round(sigterm, 6), exitAt=round(exit_at, 6))  # fmt: skip

        def exited() -> None:
            slot.stopping = False
            slot.waiting = None
            if c.state != "exited":
                self.runtime.stop(c, self.clock.now_ns, code, "Error")
                self._emit("container-killed", pod=ps.key, container=slot.name, exitCode=code)
            done()

        slot.timers.append(self.host.call_later(exit_at, exited))


def _ms(ns: int) -> int:
    """Truncate to milliseconds, as the image manager prints durations."""
    return ns - ns % 1_000_000
