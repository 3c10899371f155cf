"""Which nodes a DaemonSet's pods belong on, what its pods look like, and its status. Pure.

Semantics: pkg/controller/daemon (NodeShouldRunDaemonPod and its predicates, podsShouldBeOnNode,
storeDaemonSetStatus, the failed-pod backoff of 1 s doubling to 15 min) and
pkg/controller/daemon/util (AddOrUpdateDaemonPodTolerations, CreatePodTemplate,
ReplaceDaemonSetPodNodeNameNodeAffinity, GetTargetNodeName, IsPodUpdated).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..api.nodeaffinity import node_selector_matches
from ..api.tolerations import find_untolerated_taint, match_toleration
from ._util import (
    creation_time,
    deleting,
    is_pod_available,
    is_pod_ready,
    labels,
    meta,
    name,
    phase,
    scaled_value,
    selector_matches,
    spec,
    status,
    uid,
)

UNIQUE_LABEL_KEY = "controller-revision-hash"  # apps.DefaultDaemonSetUniqueLabelKey
TEMPLATE_GENERATION_KEY = "pod-template-generation"  # extensions.DaemonSetTemplateGenerationKey
TEMPLATE_GENERATION_ANNOTATION = "deprecated.daemonset.template.generation"
BURST_REPLICAS = 250
BACKOFF_INITIAL, BACKOFF_MAX = 1.0, 900.0  # failedPodsBackoff: 1 s doubling to 15 min

#: The tolerations every daemon pod gets, in upstream's order; the last only with hostNetwork.
DAEMON_TOLERATIONS = (
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
)
NETWORK_UNAVAILABLE = ("node.kubernetes.io/network-unavailable", "NoSchedule")


def add_or_update_toleration(tolerations: list[dict], toleration: dict) -> list[dict]:
    """AddOrUpdateTolerationInPodSpec: a toleration with the same key, operator, value and
    effect is replaced in place; otherwise the new one is appended."""
    out, updated = [], False
    for existing in tolerations:
        if match_toleration(toleration, existing):
            out.append(dict(toleration))
            updated = True
        else:
            out.append(existing)
    if not updated:
        out.append(dict(toleration))
    return out


def daemon_pod_tolerations(pod_spec: Mapping[str, Any]) -> list[dict]:
    """The pod spec's tolerations plus the DaemonSet's automatic ones (NoExecute for
    not-ready/unreachable without tolerationSeconds, so taint-based eviction never evicts a
    daemon pod; NoSchedule for the node-condition taints; network-unavailable for hostNetwork)."""
    wanted = list(DAEMON_TOLERATIONS)
    if pod_spec.get("hostNetwork"):
        wanted.append(NETWORK_UNAVAILABLE)
    tolerations = [dict(t) for t in pod_spec.get("tolerations") or ()]
    for key, effect in wanted:
        tolerations = add_or_update_toleration(
            tolerations, {"key": key, "operator": "Exists", "effect": effect}
        )
    return tolerations


def required_affinity_matches(pod_spec: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """GetRequiredNodeAffinity(pod).Match(node): spec.nodeSelector and the required terms of
    spec.affinity.nodeAffinity (matchExpressions on labels, matchFields on metadata.name)."""
    node_labels = labels(node)
    for key, value in (pod_spec.get("nodeSelector") or {}).items():
        if node_labels.get(key) != value:
            return False
    affinity = (pod_spec.get("affinity") or {}).get("nodeAffinity") or {}
    required = affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
    if required is None:
        return True
    return node_selector_matches(required, node_labels, name(node))


def node_should_run_daemon_pod(node: Mapping[str, Any], ds: Mapping[str, Any]) -> tuple[bool, bool]:
    """(shouldRun, shouldContinueRunning) for `ds` on `node`.

    The template's nodeName, nodeSelector and required node affinity must fit; an untolerated
    NoSchedule or NoExecute taint stops new pods, but a pod already there keeps running unless
    a NoExecute taint is untolerated. Tolerations include the automatic daemon ones.
    """
    template_spec = (spec(ds).get("template") or {}).get("spec") or {}
    wanted_node = template_spec.get("nodeName") or ""
    if wanted_node and wanted_node != name(node):
        return False, False
    if not required_affinity_matches(template_spec, node):
        return False, False
    tolerations = daemon_pod_tolerations(template_spec)
    taints = spec(node).get("taints") or []
    if find_untolerated_taint(taints, tolerations, ("NoSchedule", "NoExecute")) is None:
        return True, True
    return False, find_untolerated_taint(taints, tolerations, ("NoExecute",)) is None


def node_name_affinity(affinity: Mapping[str, Any] | None, node_name: str) -> dict[str, Any]:
    """ReplaceDaemonSetPodNodeNameNodeAffinity: the required node affinity becomes one term
    that matches the field metadata.name against `node_name`; everything else is kept."""
    out = copy.deepcopy(dict(affinity or {}))
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node_name]}]}
    node_affinity = out.setdefault("nodeAffinity", {})
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [term]}
    return out


def target_node_name(pod: Mapping[str, Any]) -> str | None:
    """GetTargetNodeName: spec.nodeName, or the metadata.name matchField of a pending pod."""
    if spec(pod).get("nodeName"):
        return spec(pod)["nodeName"]
    affinity = (spec(pod).get("affinity") or {}).get("nodeAffinity") or {}
    required = affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    for term in required.get("nodeSelectorTerms") or ():
        for req in term.get("matchFields") or ():
            if req.get("key") == "metadata.name" and req.get("operator") == "In":
                values = req.get("values") or []
                return values[0] if len(values) == 1 else None
    return None


def template_generation(ds: Mapping[str, Any]) -> int | None:
    value = (meta(ds).get("annotations") or {}).get(TEMPLATE_GENERATION_ANNOTATION)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def is_pod_updated(pod: Mapping[str, Any], hash_: str, generation: int | None) -> bool:
    """IsPodUpdated: the pod's controller-revision-hash is the current one (or its
    pod-template-generation label names the current template generation)."""
    pod_labels = labels(pod)
    template_matches = generation is not None and pod_labels.get(TEMPLATE_GENERATION_KEY) == str(
        generation
    )
    return (bool(hash_) and pod_labels.get(UNIQUE_LABEL_KEY) == hash_) or template_matches


def new_pod(ds: Mapping[str, Any], node_name: str, hash_: str) -> dict[str, Any]:
    """The pod created for `node_name`: the template with the daemon tolerations, the
    revision hash label, and node affinity to that node (the scheduler binds it), owned by
    the DaemonSet, generateName `<ds>-`."""
    template = copy.deepcopy(spec(ds).get("template") or {})
    tmeta = template.get("metadata") or {}
    pod_spec = template.get("spec") or {}
    pod_spec["tolerations"] = daemon_pod_tolerations(pod_spec)
    pod_spec["affinity"] = node_name_affinity(pod_spec.get("affinity"), node_name)
    pod_labels = dict(tmeta.get("labels") or {})
    generation = template_generation(ds)
    if generation is not None:
        pod_labels[TEMPLATE_GENERATION_KEY] = str(generation)
    if hash_:
        pod_labels[UNIQUE_LABEL_KEY] = hash_
    pod_meta: dict[str, Any] = {"generateName": f"{name(ds)}-", "labels": pod_labels}
    if meta(ds).get("namespace"):
        pod_meta["namespace"] = meta(ds)["namespace"]
    if tmeta.get("annotations"):
        pod_meta["annotations"] = tmeta["annotations"]
    pod_meta["ownerReferences"] = [
        {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": name(ds), "uid": uid(ds),
         "controller": True, "blockOwnerDeletion": True}
    ]  # fmt: skip
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": pod_spec}


def _by_age(pod: Mapping[str, Any]) -> tuple:
    """podByCreationTimestampAndPhase: bound pods first, then older first, then by name."""
    return (not spec(pod).get("nodeName"), creation_time(pod), name(pod))


def allows_surge(ds: Mapping[str, Any]) -> bool:
    """util.AllowsSurge: RollingUpdate with a maxSurge that comes to more than 0 of 1 node."""
    strategy = spec(ds).get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return False
    surge = (strategy.get("rollingUpdate") or {}).get("maxSurge")
    return surge is not None and scaled_value(surge, 1, True) > 0


def nodes_to_daemon_pods(
    ds: Mapping[str, Any], pods: Iterable[Mapping[str, Any]]
) -> dict[str, list[Mapping[str, Any]]]:
    """The claimed pods by target node, oldest first; pods both terminal and being deleted are
    left out, as are pods without a target node."""
    out: dict[str, list[Mapping[str, Any]]] = {}
    for pod in pods:
        if phase(pod) in ("Succeeded", "Failed") and deleting(pod):
            continue
        node_name = target_node_name(pod)
        if node_name:
            out.setdefault(node_name, []).append(pod)
    for node_pods in out.values():
        node_pods.sort(key=_by_age)
    return out


@dataclass
class FailedPodsBackoff:
    """flowcontrol.Backoff for failed daemon pods, per DaemonSet and node: 1 s doubling to
    15 min; an entry idle for twice the maximum starts over. Times are seconds."""

    initial: float = BACKOFF_INITIAL
    maximum: float = BACKOFF_MAX
    entries: dict[str, tuple[float, float]] = field(default_factory=dict)  # key: (delay, at)

    def in_backoff(self, key: str, now: float) -> bool:
        entry = self.entries.get(key)
        return entry is not None and now - entry[1] < entry[0]

    def delay(self, key: str) -> float:
        return self.entries.get(key, (0.0, 0.0))[0]

    def next(self, key: str, now: float) -> None:
        entry = self.entries.get(key)
        if entry is None or now - entry[1] > 2 * self.maximum:
            self.entries[key] = (self.initial, now)
        else:
            self.entries[key] = (min(entry[0] * 2, self.maximum), now)


@dataclass
class NodeActions:
    """What podsShouldBeOnNode decided for all nodes: nodes needing a pod, pods to delete,
    the FailedDaemonPod and SucceededDaemonPod messages, and the soonest retry of a node in
    backoff (seconds)."""

    create_on: list[str] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    succeeded: list[str] = field(default_factory=list)
    requeue_after: float | None = None


def pods_should_be_on_nodes(
    ds: Mapping[str, Any],
    nodes: Sequence[Mapping[str, Any]],
    node_pods: Mapping[str, list[Mapping[str, Any]]],
    backoff: FailedPodsBackoff,
    now: float,
    hash_: str = "",
) -> NodeActions:
    """manage()'s decisions for every node, by node name: create where a pod should run and
    none does; delete failed pods (at most once per backoff period) and succeeded ones; keep
    one running pod per node (with surge: an old one that is still Ready beside a new one
    not yet available); delete every pod on a node it should leave; delete pending pods
    whose target node does not exist."""
    out = NodeActions()
    surge = allows_surge(ds)
    for node in sorted(nodes, key=name):
        should_run, should_continue = node_should_run_daemon_pod(node, ds)
        pods = node_pods.get(name(node))
        if should_run and not pods:
            out.create_on.append(name(node))
        elif should_continue:
            running = []
            for pod in pods or ():
                if deleting(pod):
                    continue
                where = f"{meta(pod).get('namespace')}/{name(pod)} on node {name(node)}"
                if phase(pod) == "Failed":
                    generation = status(ds).get("observedGeneration") or 0
                    key = f"{uid(ds)}/{generation}/{name(node)}"
                    if backoff.in_backoff(key, now):
                        delay = backoff.delay(key)
                        if out.requeue_after is None or delay < out.requeue_after:
                            out.requeue_after = delay
                        continue
                    backoff.next(key, now)
                    out.failed.append(f"Found failed daemon pod {where}, will try to kill it")
                    out.delete.append(name(pod))
                elif phase(pod) == "Succeeded":
                    out.succeeded.append(
                        f"Found succeeded daemon pod {where}, will try to delete it"
                    )
                    out.delete.append(name(pod))
                else:
                    running.append(pod)
            running.sort(key=_by_age)
            if not surge:
                out.delete.extend(name(p) for p in running[1:])  # the oldest stays
            elif not running:
                if should_run:  # surging needs one pod that is not going away
                    out.create_on.append(name(node))
            else:
                out.delete.extend(_surge_excess(ds, running, hash_, now))
        elif pods:
            out.delete.extend(name(p) for p in pods if not deleting(p))
    known = {name(n) for n in nodes}
    for node_name in sorted(node_pods):
        if node_name in known:
            continue
        out.delete.extend(
            name(p) for p in node_pods[node_name] if not spec(p).get("nodeName") and not deleting(p)
        )
    return out


def _surge_excess(
    ds: Mapping[str, Any], running: list[Mapping[str, Any]], hash_: str, now: float
) -> list[str]:
    """With surge, a node keeps its oldest new pod and its oldest old pod, and the old one only
    while it is Ready and the new one is not yet available."""
    oldest_new = oldest_old = None
    excess = []
    for pod in running:
        if labels(pod).get(UNIQUE_LABEL_KEY) == hash_:
            if oldest_new is None:
                oldest_new = pod
                continue
        elif oldest_old is None:
            oldest_old = pod
            continue
        excess.append(name(pod))
    if oldest_new is not None and oldest_old is not None:
        min_ready = spec(ds).get("minReadySeconds") or 0
        if not is_pod_ready(oldest_old) or is_pod_available(oldest_new, min_ready, now):
            excess.append(name(oldest_old))
    return excess


def calculate_status(
    ds: Mapping[str, Any],
    nodes: Sequence[Mapping[str, Any]],
    node_pods: Mapping[str, list[Mapping[str, Any]]],
    hash_: str,
    now: float,
) -> dict[str, Any]:
    """storeDaemonSetStatus: per node that should run the pod, the oldest pod decides ready,
    available and updated; a pod on a node that should not run it is misscheduled."""
    desired = current = misscheduled = ready = available = updated = 0
    min_ready = spec(ds).get("minReadySeconds") or 0
    generation = template_generation(ds)
    for node in nodes:
        should_run, _ = node_should_run_daemon_pod(node, ds)
        pods = node_pods.get(name(node)) or []
        if not should_run:
            misscheduled += 1 if pods else 0
            continue
        desired += 1
        if not pods:
            continue
        current += 1
        oldest = pods[0]
        if is_pod_ready(oldest):
            ready += 1
            if is_pod_available(oldest, min_ready, now):
                available += 1
        if is_pod_updated(oldest, hash_, generation):
            updated += 1
    out: dict[str, Any] = {
        "currentNumberScheduled": current,
        "numberMisscheduled": misscheduled,
        "desiredNumberScheduled": desired,
        "numberReady": ready,
    }
    optional = {
        "observedGeneration": meta(ds).get("generation") or 0,
        "updatedNumberScheduled": updated,
        "numberAvailable": available,
        "numberUnavailable": desired - available,
    }
    out.update({k: v for k, v in optional.items() if v})  # omitempty, as the Go fields
    if status(ds).get("collisionCount") is not None:
        out["collisionCount"] = status(ds)["collisionCount"]
    if status(ds).get("conditions"):
        out["conditions"] = copy.deepcopy(status(ds)["conditions"])
    return out


def claim(ds: Mapping[str, Any], pods: Iterable[Mapping[str, Any]]) -> tuple[list, list, list]:
    """(claimed pods, names to adopt, names to release), as ClaimPods for a DaemonSet."""
    claimed, adopt, release = [], [], []
    selector = spec(ds).get("selector")
    for pod in pods:
        owner = next(
            (r for r in meta(pod).get("ownerReferences") or () if r.get("controller")), None
        )
        matches = selector_matches(selector, labels(pod))
        if owner is not None:
            if owner.get("uid") != uid(ds):
                continue
            if matches:
                claimed.append(pod)
            elif not deleting(ds):
                release.append(name(pod))
        elif matches and not deleting(ds) and not deleting(pod):
            adopt.append(name(pod))
            claimed.append(pod)
    return claimed, adopt, release


__all__ = [
    "BURST_REPLICAS",
    "allows_surge",
    "DAEMON_TOLERATIONS",
    "TEMPLATE_GENERATION_KEY",
    "UNIQUE_LABEL_KEY",
    "FailedPodsBackoff",
    "NodeActions",
    "add_or_update_toleration",
    "calculate_status",
    "claim",
    "daemon_pod_tolerations",
    "is_pod_updated",
    "new_pod",
    "node_name_affinity",
    "node_should_run_daemon_pod",
    "nodes_to_daemon_pods",
    "pods_should_be_on_nodes",
    "required_affinity_matches",
    "target_node_name",
    "template_generation",
]
