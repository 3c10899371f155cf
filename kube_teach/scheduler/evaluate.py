"""evaluate(): one scheduling cycle for one pod, fully explained: each node's filter verdict,
each plugin's raw, normalized and weighted score, the totals, the chosen node and, when no node
fits, the FailedScheduling text (with preemption's verdict).

Semantics: kube-scheduler's schedule_one.go (schedulePod, findNodesThatFitPod,
prioritizeNodes, selectHost, handleSchedulingFailure); the table mirrors kube-scheduler-simulator.
"""

from __future__ import annotations

import html
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from kube_teach.api.objects import load

from .framework import (
    NO_NODES_AVAILABLE,
    SUCCESS,
    Code,
    CycleState,
    NodeInfo,
    NodeToStatus,
    PluginScores,
    PodInfo,
    Profile,
    SchedulerError,
    Snapshot,
    Status,
    find_nodes_that_pass_filters,
    fit_error_message,
    num_feasible_nodes_to_find,
    run_filters_with_nominated_pods,
    run_post_filter,
    run_pre_filter,
    run_pre_score,
    run_scores,
    select_host_index,
)
from .registry import DEFAULT_PROFILE, build_profile


@dataclass(frozen=True)
class FilterResult:
    """One node's filter verdict: the code, the plugin that decided it and its reasons."""

    node: str
    code: Code
    plugin: str = ""
    reasons: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.code == Code.Success

    @property
    def reason(self) -> str:
        """The reasons joined with ", " (upstream's Status.Message)."""
        return ", ".join(self.reasons)


@dataclass(frozen=True)
class PluginScore:
    """One plugin's score for one node: raw (Score), normalized (NormalizeScore, or raw when the
    plugin has none), the plugin's weight and normalized × weight."""

    plugin: str
    raw: int
    normalized: int
    weight: int
    weighted: int


@dataclass
class Evaluation:
    """The outcome of `evaluate`. Dict fields are keyed by node name, in evaluation order.

    - `filters`: verdict of every node examined (feasible ones with code Success); nodes ruled
      out by a PreFilter carry that verdict; nodes never reached (upstream stops after
      `numFeasibleNodesToFind` feasible nodes) are absent.
    - `scores[node][plugin]`: PluginScore for every feasible node and every Score plugin that
      PreScore did not skip; `totals[node]` their weighted sum.
    - `top_nodes`: the feasible nodes sharing the best total; `selected`: the one the random
      stream picked (reservoir sampling, as selectHost).
    - `message`: the FailedScheduling text when nothing fits (None otherwise); preemption's
      outcome in `nominated_node` and `victims`.
    """

    pod: str
    profile: str
    pre_enqueue: Status | None = None
    pre_filter: Status = SUCCESS
    skipped_filter_plugins: tuple[str, ...] = ()
    skipped_score_plugins: tuple[str, ...] = ()
    selected: str | None = None
    message: str | None = None
    nominated_node: str | None = None
    victims: tuple[str, ...] = ()
    num_all_nodes: int = 0
    next_start_index: int = 0
    error: str | None = None
    _verdicts: dict[str, Status] = field(default_factory=dict, repr=False)
    _visited: tuple[Sequence[NodeInfo], int, int] = field(default=((), 0, 0), repr=False)
    _extra: tuple[str, ...] = field(default=(), repr=False)
    _feasible: Sequence[NodeInfo] = field(default=(), repr=False)
    _plugin_scores: tuple[PluginScores, ...] = field(default=(), repr=False)
    _totals: Any = field(default=None, repr=False)

    @cached_property
    def evaluated_nodes(self) -> tuple[str, ...]:
        """Names of the nodes examined, in the order they were visited."""
        nodes, start, count = self._visited
        n = len(nodes)
        visited = tuple(nodes[(start + k) % n].name for k in range(count)) if n else ()
        return visited + self._extra

    @cached_property
    def feasible_nodes(self) -> tuple[str, ...]:
        """Names of the nodes that passed every filter, in visiting order."""
        names = getattr(self._feasible, "names", None)
        return tuple(names() if names is not None else (ni.name for ni in self._feasible))

    @cached_property
    def top_nodes(self) -> tuple[str, ...]:
        if self._totals is None or len(self._totals) == 0:
            return ()
        best = self._totals.max()
        names = self.feasible_nodes
        return tuple(names[i] for i in np.flatnonzero(self._totals == best))

    @cached_property
    def filters(self) -> dict[str, FilterResult]:
        out = {}
        for name in self.evaluated_nodes:
            s = self._verdicts.get(name, SUCCESS)
            out[name] = FilterResult(name, s.code, s.plugin, s.reasons)
        return out

    @cached_property
    def scores(self) -> dict[str, dict[str, PluginScore]]:
        out: dict[str, dict[str, PluginScore]] = {}
        for k, name in enumerate(self.feasible_nodes):
            out[name] = {
                ps.plugin: PluginScore(
                    ps.plugin,
                    int(ps.raw[k]),
                    int(ps.normalized[k]),
                    ps.weight,
                    int(ps.weighted[k]),
                )
                for ps in self._plugin_scores
            }
        return out

    @cached_property
    def totals(self) -> dict[str, int]:
        if self._totals is None:
            return {}
        return {name: int(t) for name, t in zip(self.feasible_nodes, self._totals, strict=True)}

    @property
    def score_plugins(self) -> tuple[str, ...]:
        """The Score plugins that ran, in profile order."""
        return tuple(ps.plugin for ps in self._plugin_scores)

    @property
    def schedulable(self) -> bool:
        return self.selected is not None

    # -- rendering

    def _rows(self) -> list[tuple[str, str, list[str], str, str]]:
        rows = []
        for name, verdict in self.filters.items():
            if verdict.passed:
                cells = []
                for plugin in self.score_plugins:
                    ps = self.scores.get(name, {}).get(plugin)
                    cells.append(
                        "" if ps is None else f"{ps.raw}→{ps.normalized}×{ps.weight}={ps.weighted}"
                    )
                total = str(self.totals.get(name, ""))
                filt = "passed"
            else:
                cells = ["" for _ in self.score_plugins]
                total = ""
                filt = f"{verdict.code.name} ({verdict.plugin}): {verdict.reason}"
            mark = "★" if name == self.selected else ("=" if name in self.top_nodes else "")
            rows.append((name, filt, cells, total, mark))
        return rows

    def text(self) -> str:
        """A plain-text table (the notebook fallback)."""
        head = ["NODE", "FILTER", *self.score_plugins, "TOTAL", ""]
        rows = [[n, f, *c, t, m] for n, f, c, t, m in self._rows()]
        widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
        lines = [f"pod {self.pod} (profile {self.profile})"]
        for r in [head, *rows]:
            lines.append(
                "  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip()
            )
        lines.append(self._summary())
        return "\n".join(lines)

    def _summary(self) -> str:
        if self.pre_enqueue is not None:
            return f"not queued: {self.pre_enqueue.message}"
        if self.selected is not None:
            return f"selected: {self.selected}"
        out = f"FailedScheduling: {self.message}"
        if self.nominated_node:
            out += f"\nnominated node: {self.nominated_node} (victims: {', '.join(self.victims)})"
        return out

    def __str__(self) -> str:
        return self.text()

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(self.text())

    def _repr_html_(self) -> str:
        esc = html.escape
        head = "".join(
            f"<th>{esc(h)}</th>" for h in ["Node", "Filter", *self.score_plugins, "Total"]
        )
        body = []
        for name, filt, cells, total, mark in self._rows():
            style = ' style="font-weight:bold"' if mark else ""
            tds = "".join(f"<td>{esc(c)}</td>" for c in cells)
            color = "" if filt == "passed" else ' style="color:#b00"'
            body.append(
                f"<tr{style}><td>{esc(mark + ' ' + name).strip()}</td><td{color}>{esc(filt)}</td>"
                f"{tds}<td>{esc(total)}</td></tr>"
            )
        summary = esc(self._summary()).replace("\n", "<br>")
        return (
            f"<div><p>pod <b>{esc(self.pod)}</b> (profile {esc(self.profile)})</p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
            f"<p>{summary}</p></div>"
        )


def _as_objects(source: Any) -> list[Mapping[str, Any]]:
    if source is None:
        return []
    if isinstance(source, str | bytes) or isinstance(source, Mapping):
        return list(load(source))
    out: list[Mapping[str, Any]] = []
    for item in source:
        out.extend([item] if isinstance(item, Mapping | PodInfo) else load(item))
    return out


def _with_kind(source: Any, kind: str) -> list[Mapping[str, Any]]:
    return [o if o.get("kind") else {**o, "kind": kind} for o in _as_objects(source)]


def _pick_profile(
    profile: Profile | Mapping[str, Any] | None, pod: PodInfo, plugins: Mapping[str, type] | None
) -> tuple[Profile, int | None]:
    if isinstance(profile, Profile):
        return profile, profile.percentage_of_nodes_to_score
    if profile is None:
        base = DEFAULT_PROFILE if not plugins else build_profile(None, plugins)
        return base, None
    config = dict(profile)
    global_percentage = None
    if "profiles" in config or config.get("kind") == "KubeSchedulerConfiguration":
        global_percentage = config.get("percentageOfNodesToScore")
        wanted = pod.spec.get("schedulerName") or "default-scheduler"
        profiles = config.get("profiles") or [{}]
        chosen = next(
            (p for p in profiles if (p.get("schedulerName") or "default-scheduler") == wanted),
            None,
        )
        if chosen is None:
            raise SchedulerError(f'no profile for scheduler name "{wanted}"')
        config = chosen
    built = build_profile(config, plugins)
    percentage = built.percentage_of_nodes_to_score
    return built, percentage if percentage is not None else global_percentage


def evaluate(
    pod: Mapping[str, Any] | str,
    nodes: Iterable[Mapping[str, Any]] | Snapshot | str,
    pods: Iterable[Mapping[str, Any]] | str = (),
    profile: Profile | Mapping[str, Any] | None = None,
    *,
    objects: Iterable[Mapping[str, Any]] | str = (),
    rng: random.Random | None = None,
    plugins: Mapping[str, type] | None = None,
    start_index: int = 0,
    pvcs: Iterable[Mapping[str, Any]] | str = (),
    pvs: Iterable[Mapping[str, Any]] | str = (),
) -> Evaluation:
    """Run one scheduling cycle for `pod` and explain it.

    `pod`, `nodes` and `pods` are Kubernetes JSON dicts (or YAML text, or loaded objects); pods
    with spec.nodeName are running there, pods with only status.nominatedNodeName are nominated
    (as preemption leaves them). `nodes` may instead be a prebuilt `Snapshot` (then `pods` and
    `objects` must be empty): a placement loop binds chosen pods with `snapshot.add_pod`.
    `profile` is a `kubescheduler.config.k8s.io/v1` profile dict (or a whole
    KubeSchedulerConfiguration, whose profile for the pod's schedulerName is used), merged with
    the default profile as upstream merges it; None means the default profile. `objects` adds
    Namespaces, Services, ReplicaSets, StatefulSets, ReplicationControllers and
    PodDisruptionBudgets for the plugins that read them, and StorageClasses and CSINodes for
    the volume plugins; `pvcs` and `pvs` are the PersistentVolumeClaims and PersistentVolumes
    (they may also come in `objects`). `rng` breaks ties among top-scoring
    nodes and picks preemption's starting node (default: `random.Random(0)`). `plugins` adds
    out-of-tree plugin classes by name. `start_index` is where the round-robin node search
    starts (the result's `next_start_index` continues it).

    Upstream differences: nodes are filtered sequentially, not in parallel; when exactly one
    node is feasible its scores are still computed and shown (upstream skips scoring then).
    """
    if isinstance(pod, str):
        pod = load(pod)[0]
    pi = PodInfo(pod)
    if isinstance(nodes, Snapshot):
        if any(_as_objects(x) for x in (pods, objects, pvcs, pvs)):
            raise SchedulerError("give pods and objects to the Snapshot, not to evaluate")
        snapshot = nodes
    else:
        extra = [*_as_objects(objects), *_with_kind(pvcs, "PersistentVolumeClaim"),
                 *_with_kind(pvs, "PersistentVolume")]  # fmt: skip
        snapshot = Snapshot(_as_objects(nodes), _as_objects(pods), extra)
    prof, percentage = _pick_profile(profile, pi, plugins)
    rng = rng if rng is not None else random.Random(0)
    ev = Evaluation(pod=pi.full_name, profile=prof.scheduler_name, num_all_nodes=len(snapshot))
    ev.next_start_index = start_index
    for pl in prof.plugins["preEnqueue"]:
        s = pl.pre_enqueue(pi)
        if not s.is_success():
            ev.pre_enqueue = s.with_plugin(pl.name)
            return ev
    if len(snapshot) == 0:
        ev.message = NO_NODES_AVAILABLE
        return ev
    state = CycleState(snapshot, rng, prof)
    try:
        _schedule(ev, prof, state, pi, snapshot, percentage, start_index)
    except SchedulerError as err:
        ev.error = ev.message = str(err)
    return ev


def _schedule(
    ev: Evaluation,
    prof: Profile,
    state: CycleState,
    pi: PodInfo,
    snapshot: Snapshot,
    percentage: int | None,
    start_index: int,
) -> None:
    all_nodes = snapshot.node_infos
    result, status, narrowing = run_pre_filter(prof, state, pi, all_nodes)
    ev.skipped_filter_plugins = tuple(sorted(state.skip_filter_plugins))
    if not status.is_success():
        if not status.is_rejected():
            raise SchedulerError(status.message)
        ev.pre_filter = status
        ev._visited = (all_nodes, 0, len(all_nodes))
        ev._verdicts = {ni.name: status for ni in all_nodes}
        _post_filter(ev, prof, state, pi, snapshot, NodeToStatus({}, status), status.message)
        return
    if pi.nominated_node_name and snapshot.get(pi.nominated_node_name) is not None:
        # A node nominated by an earlier preemption is tried alone first.
        ni = snapshot[pi.nominated_node_name]
        if run_filters_with_nominated_pods(prof, state, pi, ni).is_success():
            ev._visited = ([ni], 0, 1)
            _score_and_select(ev, prof, state, pi, [ni])
            return
    nodes: Sequence[NodeInfo] = all_nodes
    absent = Status(Code.UnschedulableAndUnresolvable)
    if result is not None and result.node_names is not None:
        nodes = [ni for ni in all_nodes if ni.name in result.node_names]
        absent = Status(
            Code.UnschedulableAndUnresolvable,
            f"node(s) didn't satisfy plugin(s) [{' '.join(narrowing)}]",
        )
    num_to_find = num_feasible_nodes_to_find(percentage, len(nodes))
    if not prof.has_score_plugins():
        num_to_find = 1
    feasible, statuses, visited = find_nodes_that_pass_filters(
        prof, state, pi, nodes, start_index, num_to_find, whole_snapshot=nodes is all_nodes
    )
    ev.next_start_index = (start_index + len(feasible) + len(statuses)) % len(all_nodes)
    kept = {ni.name for ni in nodes} if nodes is not all_nodes else None
    excluded = [] if kept is None else [ni.name for ni in all_nodes if ni.name not in kept]
    ev._visited = (nodes, start_index, visited)
    ev._extra = tuple(excluded)
    ev._verdicts = statuses
    for name in excluded:
        ev._verdicts[name] = absent
    if not feasible:
        _post_filter(ev, prof, state, pi, snapshot, NodeToStatus(statuses, absent), "")
        return
    _score_and_select(ev, prof, state, pi, feasible)


def _score_and_select(
    ev: Evaluation, prof: Profile, state: CycleState, pi: PodInfo, feasible: Sequence[NodeInfo]
) -> None:
    ev._feasible = feasible
    s = run_pre_score(prof, state, pi, feasible)
    ev.skipped_score_plugins = tuple(sorted(state.skip_score_plugins))
    if not s.is_success():
        raise SchedulerError(s.message)
    plugin_scores, totals = run_scores(prof, state, pi, feasible)
    ev._plugin_scores = tuple(plugin_scores)
    ev._totals = totals
    if len(feasible) == 1:
        ev.selected = feasible[0].name  # upstream takes a lone feasible node without a draw
        return
    ev.selected = feasible[select_host_index(totals, state.rng)].name


def _post_filter(
    ev: Evaluation,
    prof: Profile,
    state: CycleState,
    pi: PodInfo,
    snapshot: Snapshot,
    statuses: NodeToStatus,
    pre_filter_message: str,
) -> None:
    result, status = run_post_filter(prof, state, pi, statuses)
    ev.message = fit_error_message(len(snapshot), statuses, pre_filter_message, status.message)
    if status.is_success() and result is not None and result.nominated_node_name:
        ev.nominated_node = result.nominated_node_name
        ev.victims = tuple(v.full_name for v in result.victims)
