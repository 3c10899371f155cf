"""Node status and pod status as the kubelet computes them, as pure functions of its state.

Semantics: pkg/kubelet/kubelet_node_status.go and nodestatus/setters.go (capacity, allocatable,
conditions, addresses, images, nodeInfo), kubelet_pods.go (generateAPIPodStatus, getPhase)
and pkg/kubelet/status/generate.go (pod conditions). Times come in as RFC 3339 stamps.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kube_teach.api.quantity import Quantity
from kube_teach.sim.duration import SECOND

from .pod_workers import INIT, REGULAR, SIDECAR, ContainerSlot, PodWorker
from .qos import qos_class
from .runtime import Container, image_ref

KUBERNETES_VERSION = "v1.34.0"
DEFAULT_CAPACITY = {"cpu": "4", "memory": "16Gi", "pods": "110", "ephemeral-storage": "100Gi"}
TERMINAL_PHASES = ("Succeeded", "Failed")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_NODE_CONDITIONS = (  # type, (reason, message) when False, ... when True
    ("MemoryPressure", ("KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
     ("KubeletHasInsufficientMemory", "kubelet has insufficient memory available")),
    ("DiskPressure", ("KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
     ("KubeletHasDiskPressure", "kubelet has disk pressure")),
    ("PIDPressure", ("KubeletHasSufficientPID", "kubelet has sufficient PID available"),
     ("KubeletHasInsufficientPID", "kubelet has insufficient PID available")),
)  # fmt: skip


def rfc3339(unix_ns: int) -> str:
    """metav1.Time on the wire, to the second: `2025-01-01T00:00:12Z`."""
    return (_EPOCH + dt.timedelta(seconds=unix_ns // SECOND)).strftime("%Y-%m-%dT%H:%M:%SZ")


def to_bytes(value: Any) -> int:
    """A quantity ("16Gi", 1024) in its base unit."""
    return Quantity(str(value)).value()


# -- containers ------------------------------------------------------------------------------
def _terminated(c: Container, epoch_ns: int) -> dict[str, Any]:
    return {"exitCode": c.exit_code, "reason": c.reason,
            "startedAt": rfc3339(epoch_ns + c.started_ns),
            "finishedAt": rfc3339(epoch_ns + c.finished_ns),
            "containerID": f"containerd://{c.id}"}  # fmt: skip


def container_status(
    slot: ContainerSlot, images: Mapping[str, int], epoch_ns: int
) -> dict[str, Any]:
    """One containerStatuses entry: state (waiting/running/terminated), lastState, ready,
    restartCount, image, imageID and containerID, started."""
    c = slot.current
    image = str(slot.spec.get("image", ""))
    previous = c if c is not None and c.state == "exited" and slot.waiting else slot.last
    if slot.waiting is not None or c is None or c.state == "created":
        reason, message = slot.waiting or ("ContainerCreating", "")
        state: dict[str, Any] = {
            "waiting": {"reason": reason, **({"message": message} if message else {})}
        }
    elif c.state == "running":
        state = {"running": {"startedAt": rfc3339(epoch_ns + c.started_ns)}}
    else:
        state = {"terminated": _terminated(c, epoch_ns)}
    status: dict[str, Any] = {
        "name": slot.name, "state": state,
        "lastState": {"terminated": _terminated(previous, epoch_ns)} if previous is not None else {},
        "ready": bool(slot.ready and c is not None and c.state == "running"),
        "restartCount": max(slot.attempts - 1, 0) if c is not None else 0,
        "image": image, "imageID": image_ref(image) if image in images else "",
        "started": bool(c is not None and c.state == "running" and slot.started),
    }  # fmt: skip
    if c is not None:
        status["containerID"] = f"containerd://{c.id}"
    return status


# -- phase and conditions --------------------------------------------------------------------
def pod_phase(
    statuses: Sequence[Mapping[str, Any]],
    restart_policy: str,
    *,
    init: Sequence[Mapping[str, Any]] = (),
    sidecars: Sequence[Mapping[str, Any]] = (),
    terminal: bool = False,
    initialized: bool = False,
) -> str:
    """getPhase over app container `statuses`, regular `init` container statuses and `sidecars`
    (restartable init containers). Pending while an init container has not succeeded or a
    container waits for its first start; Failed under Never if an init container failed;
    Running while one runs; once all stopped: Succeeded or Failed when the pod is `terminal`
    (being deleted or evicted), else Running under Always, Succeeded if all exited 0, Failed
    under Never, Running under OnFailure."""
    pending_init = failed_init = pending_sidecars = 0
    for s in init:
        state, last = s["state"], s.get("lastState") or {}
        if "terminated" in state:
            failed_init += state["terminated"]["exitCode"] != 0
        elif "waiting" in state and last.get("terminated"):
            failed_init += last["terminated"]["exitCode"] != 0
        else:
            pending_init += 1
    running = waiting = stopped = succeeded = 0
    for s in sidecars:
        state = s["state"]
        if "running" in state:
            pending_sidecars += not s.get("started")
            running += 1
        elif "waiting" in state:
            pending_sidecars += not (s.get("lastState") or {}).get("terminated")
            waiting += 1
    for s in statuses:
        state = s["state"]
        if "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            succeeded += state["terminated"]["exitCode"] == 0
        elif (s.get("lastState") or {}).get("terminated"):
            stopped += 1
        else:
            waiting += 1
    if failed_init and restart_policy == "Never":
        return "Failed"
    if pending_init or (pending_sidecars and not initialized) or waiting:
        return "Pending"
    if running:
        return "Running"
    if stopped:
        if terminal:
            return "Succeeded" if stopped == succeeded else "Failed"
        if restart_policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        return "Failed" if restart_policy == "Never" else "Running"
    return "Pending"


def _condition(old: Iterable[Mapping[str, Any]], type_: str, ok: bool, stamp: str,
               reason: str = "", message: str = "") -> dict[str, Any]:  # fmt: skip
    status = "True" if ok else "False"
    prev = next((c for c in old if c.get("type") == type_), None)
    since = prev.get("lastTransitionTime") if prev and prev.get("status") == status else stamp
    cond: dict[str, Any] = {"type": type_, "status": status, "lastProbeTime": None,
                            "lastTransitionTime": since}  # fmt: skip
    if reason:
        cond["reason"], cond["message"] = reason, message
    return cond


def pod_conditions(
    old: list[Mapping[str, Any]],
    statuses: Sequence[Mapping[str, Any]],
    stamp: str,
    phase: str,
    *,
    incomplete_init: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """PodReadyToStartContainers, Initialized, Ready, ContainersReady, then PodScheduled as
    the scheduler set it, in the order `kubectl describe` shows them. `statuses` are the
    app containers and sidecars; `incomplete_init` the init containers not yet done."""
    unready = sorted(s["name"] for s in statuses if not s["ready"])
    terminal = phase in TERMINAL_PHASES
    if phase == "Succeeded":  # upstream's PodCompleted is for Succeeded pods only
        reason, message = "PodCompleted", ""
    else:
        reason, message = (
            "ContainersNotReady",
            f"containers with unready status: [{' '.join(unready)}]",
        )
    ready = not unready and not terminal
    if incomplete_init:
        init_cond = _condition(old, "Initialized", False, stamp, "ContainersNotInitialized",
                               f"containers with incomplete status: [{' '.join(incomplete_init)}]")  # fmt: skip
    elif phase == "Succeeded":
        init_cond = _condition(old, "Initialized", True, stamp, "PodCompleted", "")
    else:
        init_cond = _condition(old, "Initialized", True, stamp)
    conds = [
        _condition(old, "PodReadyToStartContainers", not terminal, stamp),
        init_cond,
        _condition(old, "Ready", ready, stamp, *(() if ready else (reason, message))),
        _condition(old, "ContainersReady", ready, stamp, *(() if ready else (reason, message))),
    ]
    scheduled = next((dict(c) for c in old if c.get("type") == "PodScheduled"), None)
    conds.append(scheduled or _condition(old, "PodScheduled", True, stamp))
    for cond in conds:
        if cond.get("message") == "":
            del cond["message"]
    return conds


def incomplete_init(ps: PodWorker) -> list[str]:
    """Init containers that have not exited 0, and sidecars that have not started, in order."""
    return [s.name for s in ps.slots.values()
            if (s.kind == INIT and not s.succeeded) or (s.kind == SIDECAR and not s.started)]  # fmt: skip


def generate_pod_status(
    ps: PodWorker, images: Mapping[str, int], epoch_ns: int, host_ip: str, stamp: str
) -> dict[str, Any]:
    """generateAPIPodStatus: phase, conditions, IPs, startTime, init and app container
    statuses and qosClass; an evicted pod adds reason, message and DisruptionTarget."""
    pod = ps.pod
    policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"

    def statuses(*kinds: str) -> list[dict[str, Any]]:
        return [container_status(s, images, epoch_ns) for s in ps.of_kind(*kinds)]

    init, apps = statuses(INIT, SIDECAR), statuses(REGULAR)
    sidecar_names = {s.name for s in ps.of_kind(SIDECAR)}
    sidecars = [s for s in init if s["name"] in sidecar_names]
    regular_init = [s for s in init if s["name"] not in sidecar_names]
    started = any(s.current is not None for s in ps.of_kind(REGULAR))
    phase = pod_phase(apps, policy, init=regular_init, sidecars=sidecars,
                      terminal=ps.terminated, initialized=started)  # fmt: skip
    old = pod.get("status") or {}
    waiting_init = [] if started else incomplete_init(ps)
    conds = pod_conditions(old.get("conditions") or [], sidecars + apps, stamp, phase,
                           incomplete_init=waiting_init)  # fmt: skip
    status: dict[str, Any] = {
        "phase": phase, "conditions": conds,
        "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
        "podIP": ps.pod_ip, "podIPs": [{"ip": ps.pod_ip}],
        "startTime": ps.start_time,
    }  # fmt: skip
    if init:
        status["initContainerStatuses"] = init
    status["containerStatuses"] = apps
    status["qosClass"] = qos_class(pod)
    if ps.evicted is not None:
        status["phase"] = ps.evicted["phase"] if ps.terminated else phase
        status["reason"], status["message"] = ps.evicted["reason"], ps.evicted["message"]
        target = dict(ps.evicted["conditions"][0])
        target["lastProbeTime"], target["lastTransitionTime"] = None, stamp
        prev = next(
            (c for c in old.get("conditions") or [] if c.get("type") == target["type"]), None
        )
        if prev is not None:
            target["lastTransitionTime"] = prev.get("lastTransitionTime", stamp)
        status["conditions"] = [target, *conds]
    return status


# -- node status -----------------------------------------------------------------------------
def node_conditions(
    old: list[Mapping[str, Any]], pressure: Iterable[str], stamp: str, *, ready: bool = True
) -> list[dict[str, Any]]:
    """MemoryPressure, DiskPressure, PIDPressure (True for the condition types the eviction
    manager reports in `pressure`), then Ready; heartbeats are `stamp`, transitions keep their
    old time when unchanged."""
    under = set(pressure)
    conds = []
    for type_, fine, bad in _NODE_CONDITIONS:
        reason, message = bad if type_ in under else fine
        conds.append(_condition(old, type_, type_ in under, stamp, reason, message))
    conds.append(
        _condition(old, "Ready", ready, stamp, "KubeletReady", "kubelet is posting ready status")
    )
    for cond in conds:
        cond.pop("lastProbeTime")
        cond["lastHeartbeatTime"] = stamp
    return conds


def node_status(
    old: Mapping[str, Any],
    *,
    capacity: Mapping[str, str],
    allocatable: Mapping[str, str],
    pressure: Iterable[str],
    images: Mapping[str, int],
    node_ip: str,
    node_name: str,
    stamp: str,
) -> dict[str, Any]:
    """The Node's status as the kubelet's setters build it."""
    return {
        "capacity": dict(capacity),
        "allocatable": dict(allocatable),
        "conditions": node_conditions(old.get("conditions") or [], pressure, stamp),
        "addresses": [
            {"type": "InternalIP", "address": node_ip},
            {"type": "Hostname", "address": node_name},
        ],  # fmt: skip
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {
            "kubeletVersion": KUBERNETES_VERSION,
            "containerRuntimeVersion": "containerd://2.0.0",
            "osImage": "Ubuntu 24.04 LTS",
            "kernelVersion": "6.8.0-generic",
            "operatingSystem": "linux",
            "architecture": "amd64",
        },  # fmt: skip
        "images": [
            {"names": [name], "sizeBytes": size} for name, size in sorted(images.items())
        ],  # fmt: skip
    }


def strip_heartbeats(status: Mapping[str, Any]) -> Any:
    """The status without lastHeartbeatTime: what decides whether it changed."""
    conds = [
        {k: v for k, v in c.items() if k != "lastHeartbeatTime"}
        for c in status.get("conditions") or []
    ]
    return {**{k: v for k, v in status.items() if k != "conditions"}, "conditions": conds}


def pod_status_reason(pod: Mapping[str, Any]) -> str:
    """The STATUS column of `kubectl get pods` (printPod): Init:1/2, Init:ErrImagePull,
    Init:Error, PodInitializing, the first app container's waiting or terminated reason,
    Terminating, or the pod's reason or phase."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    reason = status.get("reason") or status.get("phase") or "Unknown"
    sidecars = {c.get("name") for c in spec.get("initContainers") or []
                if c.get("restartPolicy") == "Always"}  # fmt: skip
    init_total = len(spec.get("initContainers") or [])
    initializing = False
    for i, cs in enumerate(status.get("initContainerStatuses") or []):
        state = cs.get("state") or {}
        terminated, waiting = state.get("terminated"), state.get("waiting") or {}
        if terminated is not None and terminated.get("exitCode") == 0:
            continue
        if cs.get("name") in sidecars and cs.get("started"):
            continue
        if terminated is not None:
            reason = "Init:" + (
                terminated.get("reason") or f"ExitCode:{terminated.get('exitCode')}"
            )
        elif waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = f"Init:{waiting['reason']}"
        else:
            reason = f"Init:{i}/{init_total}"
        initializing = True
        break
    initialized = any(c.get("type") == "Initialized" and c.get("status") == "True"
                      for c in status.get("conditions") or [])  # fmt: skip
    if not initializing or initialized:
        running = False
        for cs in reversed(status.get("containerStatuses") or []):  # the first container wins
            state = cs.get("state") or {}
            waiting, terminated = state.get("waiting") or {}, state.get("terminated") or {}
            if waiting.get("reason"):
                reason = waiting["reason"]
            elif terminated.get("reason"):
                reason = terminated["reason"]
            elif cs.get("ready") and "running" in state:
                running = True
        if reason == "Completed" and running:
            ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                        for c in status.get("conditions") or [])  # fmt: skip
            reason = "Running" if ready else "NotReady"
    if (pod.get("metadata") or {}).get("deletionTimestamp") and status.get(
        "phase"
    ) not in TERMINAL_PHASES:
        reason = "Terminating"
    return reason
