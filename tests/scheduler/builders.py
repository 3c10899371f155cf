"""Small builders for scheduler tests, in the spirit of upstream's st.MakePod()/st.MakeNode(),
and harnesses that run one plugin the way upstream's plugin tests do."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from kube_teach.scheduler.framework import (
    Code,
    CycleState,
    NodeInfo,
    PodInfo,
    Profile,
    Snapshot,
    Status,
    run_pre_score,
    run_scores,
)


def node(
    name: str,
    *,
    labels: Mapping[str, str] | None = None,
    allocatable: Mapping[str, Any] | None = None,
    taints: Sequence[Mapping[str, Any]] = (),
    unschedulable: bool = False,
    images: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """A Node; `allocatable` is also the capacity (as st.MakeNode().Capacity)."""
    n: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": dict(labels or {})},
        "spec": {},
        "status": {},
    }
    if allocatable is not None:
        n["status"]["capacity"] = dict(allocatable)
        n["status"]["allocatable"] = dict(allocatable)
    if taints:
        n["spec"]["taints"] = [dict(t) for t in taints]
    if unschedulable:
        n["spec"]["unschedulable"] = True
    if images:
        n["status"]["images"] = [dict(i) for i in images]
    return n


def container(
    requests: Mapping[str, Any] | None = None,
    *,
    name: str = "c",
    image: str = "pause",
    ports: Sequence[Mapping[str, Any]] = (),
    restart_policy: str | None = None,
) -> dict[str, Any]:
    c: dict[str, Any] = {"name": name, "image": image}
    if requests is not None:
        c["resources"] = {"requests": dict(requests)}
    if ports:
        c["ports"] = [dict(p) for p in ports]
    if restart_policy:
        c["restartPolicy"] = restart_policy
    return c


def pod(
    name: str = "p",
    *,
    namespace: str = "default",
    labels: Mapping[str, str] | None = None,
    node_name: str | None = None,
    requests: Mapping[str, Any] | None = None,
    containers: Sequence[Mapping[str, Any]] | None = None,
    init_containers: Sequence[Mapping[str, Any]] = (),
    priority: int | None = None,
    **spec: Any,
) -> dict[str, Any]:
    """A Pod with one container (requests as given) unless `containers` is passed; other
    keyword arguments become spec fields verbatim (nodeSelector=..., affinity=...)."""
    p: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "uid": f"{namespace}/{name}"},
        "spec": {
            "containers": list(containers) if containers is not None else [container(requests)]
        },
    }
    if labels:
        p["metadata"]["labels"] = dict(labels)
    if node_name:
        p["spec"]["nodeName"] = node_name
    if init_containers:
        p["spec"]["initContainers"] = list(init_containers)
    if priority is not None:
        p["spec"]["priority"] = priority
    for key, value in spec.items():
        p["spec"][key] = value
    return p


def term(match_labels: Mapping[str, str], topology_key: str, **extra: Any) -> dict[str, Any]:
    """A PodAffinityTerm with a matchLabels selector."""
    return {
        "labelSelector": {"matchLabels": dict(match_labels)},
        "topologyKey": topology_key,
        **extra,
    }


def _state(
    plugin: Any,
    p: Mapping[str, Any],
    nodes: Sequence[Mapping[str, Any]],
    pods: Sequence,
    objects: Sequence,
) -> tuple[CycleState, PodInfo, Snapshot]:
    snapshot = Snapshot(nodes, pods, objects)
    profile = Profile("test", {"filter": [plugin], "score": [plugin]}, {plugin.name: 1}, {})
    return CycleState(snapshot, random.Random(0), profile), PodInfo(p), snapshot


def run_filter(
    plugin: Any,
    p: Mapping[str, Any],
    nodes: Sequence[Mapping[str, Any]],
    pods: Sequence[Mapping[str, Any]] = (),
    objects: Sequence[Mapping[str, Any]] = (),
) -> tuple[Status, dict[str, Status]]:
    """PreFilter once, then Filter on every node, as upstream plugin tests do. Returns the
    PreFilter status and each node's Filter status; the vectorized path must agree."""
    state, pi, snapshot = _state(plugin, p, nodes, pods, objects)
    pre = (
        plugin.pre_filter(state, pi, snapshot.node_infos)
        if hasattr(plugin, "pre_filter")
        else Status()
    )
    if not isinstance(pre, Status):
        pre = Status()
    if pre.is_skip():  # the framework then skips this plugin's Filter: every node passes it
        return pre, {ni.name: Status() for ni in snapshot.node_infos}
    if not pre.is_success():
        return pre, {}
    out = {ni.name: plugin.filter(state, pi, ni) for ni in snapshot.node_infos}
    batch = getattr(plugin, "filter_all", None)
    if batch is not None:
        fails = batch(state, pi, snapshot)
        fails = np.zeros(len(snapshot), bool) if fails is None else fails
        assert list(fails) == [not s.is_success() for s in out.values()], "filter_all disagrees"
    return pre, out


def run_score(
    plugin: Any,
    p: Mapping[str, Any],
    nodes: Sequence[Mapping[str, Any]],
    pods: Sequence[Mapping[str, Any]] = (),
    objects: Sequence[Mapping[str, Any]] = (),
    normalize: bool = True,
) -> Status | dict[str, int]:
    """PreScore over all nodes, then Score (and NormalizeScore) per node; returns the PreScore
    status if it did not succeed. The vectorized path must agree with the scalar one."""
    state, pi, snapshot = _state(plugin, p, nodes, pods, objects)
    profile = Profile(
        "test", {"preScore": [plugin]} if hasattr(plugin, "pre_score") else {}, {}, {}
    )
    s = run_pre_score(profile, state, pi, snapshot.node_infos)
    if plugin.name in state.skip_score_plugins:
        return Status(Code.Skip)
    if not s.is_success():
        return s
    raw = np.array([plugin.score(state, pi, ni) for ni in snapshot.node_infos], np.int64)
    scores_profile = Profile("test", {"score": [plugin]}, {plugin.name: 1}, {})
    [batch], _ = run_scores(scores_profile, state, pi, snapshot.node_infos)
    assert list(batch.raw) == list(raw), "score_all disagrees with score"
    values = batch.normalized if normalize else raw
    return {ni.name: int(v) for ni, v in zip(snapshot.node_infos, values, strict=True)}


def node_infos(snapshot: Snapshot) -> list[NodeInfo]:
    return snapshot.node_infos
