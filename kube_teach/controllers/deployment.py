"""The Deployment controller's decisions for one sync: roll, recreate, or scale proportionally.

Semantics: pkg/controller/deployment (sync.go, rolling.go, recreate.go, progress.go). Each step
takes a Deployment and its ReplicaSets as the informer cache holds them, plus `now` (seconds
since the epoch), and returns the writes upstream would send in that sync; nothing is mutated.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._util import controller_ref, deleting, meta, name, spec, status, uid
from .deployment_status import (
    FOUND_NEW_RS,
    NEW_REPLICA_SET,
    RolloutStatusError,
    calculate_status,
    deployment_complete,
    has_progress_deadline,
    new_condition,
    paused_condition_update,
    requeue_stuck_deployment,
    rollout_status,
    rollout_status_update,
    set_condition,
)
from .deployment_status import (
    deployment_progressing as deployment_progressing,
)
from .deployment_status import (
    deployment_timed_out as deployment_timed_out,
)
from .deployment_util import (
    DESIRED_REPLICAS_ANNOTATION,
    POD_TEMPLATE_HASH_LABEL,
    REVISION_ANNOTATION,
    IntOrStringError,
    ReplicaSetsByCreationTimestamp,
    _by_revision,
    actual_replica_count,
    available_replica_count,
    compute_hash,
    equal_ignore_hash,
    filter_active,
    find_new_replica_set,
    find_old_replica_sets,
    get_replica_set_fraction,
    get_replica_set_proportion,
    is_rolling_update,
    is_saturated,
    max_revision,
    max_surge,
    max_unavailable,
    min_available,
    new_rs_new_replicas,
    nonnegative_int32_annotation,
    replica_count,
    replicas,
    replicas_annotations_need_update,
    resolve_fenceposts,
    set_new_replica_set_annotations,
    set_replicas_annotations,
    strategy_type,
)
from .deployment_util import (
    MAX_REPLICAS_ANNOTATION as MAX_REPLICAS_ANNOTATION,
)
from .deployment_util import (
    REVISION_HISTORY_ANNOTATION as REVISION_HISTORY_ANNOTATION,
)
from .deployment_util import (
    last_revision as last_revision,
)
from .deployment_util import (
    revision as revision,
)
from .deployment_util import (
    safe_encode_string as safe_encode_string,
)

__all__ = [
    "DESIRED_REPLICAS_ANNOTATION",
    "MAX_REPLICAS_ANNOTATION",
    "POD_TEMPLATE_HASH_LABEL",
    "REVISION_ANNOTATION",
    "REVISION_HISTORY_ANNOTATION",
    "calculate_status",
    "deployment_complete",
    "deployment_progressing",
    "deployment_timed_out",
    "equal_ignore_hash",
    "find_new_replica_set",
    "find_old_replica_sets",
    "is_saturated",
    "last_revision",
    "max_revision",
    "paused_condition_update",
    "replicas_annotations_need_update",
    "requeue_stuck_deployment",
    "revision",
    "rollout_status_update",
    "safe_encode_string",
    "set_new_replica_set_annotations",
    "set_replicas_annotations",
    "IntOrStringError",
    "ReplicaSetWrite",
    "cleanup_unhealthy_replicas",
    "old_pods_running",
    "reconcile_new_replica_set",
    "reconcile_old_replica_sets",
    "scale_down_old_replica_sets_for_rolling_update",
    "RolloutStatusError",
    "SyncResult",
    "compute_hash",
    "get_replica_set_fraction",
    "get_replica_set_proportion",
    "max_surge",
    "max_unavailable",
    "min_available",
    "new_rs_new_replicas",
    "resolve_fenceposts",
    "rollout_recreate",
    "rollout_rolling",
    "rollout_status",
    "scale",
    "scale_replica_sets",
    "sync_deployment",
]


@dataclass(frozen=True)
class ReplicaSetWrite:
    """One request to the API server about a ReplicaSet: "create", "update" or "delete".

    `replica_set` is the object as sent (for "delete", as it was). `old_replicas` and
    `new_replicas` give the scaling it carries (0 → n for a create).
    """

    verb: str
    replica_set: dict
    old_replicas: int
    new_replicas: int

    @property
    def name(self) -> str:
        return name(self.replica_set)

    @property
    def event(self) -> str | None:
        """The ScalingReplicaSet event upstream records, if this write scales."""
        if self.verb == "delete" or self.old_replicas == self.new_replicas:
            return None
        direction = "up" if self.new_replicas > self.old_replicas else "down"
        return f"Scaled {direction} replica set {self.name} from {self.old_replicas} to {self.new_replicas}"


@dataclass
class SyncResult:
    """What one sync of a Deployment decides.

    `writes` are the ReplicaSet requests in order; `deployment` is the Deployment with the
    annotations and status the controller writes back (`status_changed` says whether it does);
    `replica_sets` is the ReplicaSet list after the writes; `requeue_after` is seconds until a
    progress-deadline check (-1: none).
    """

    deployment: dict
    writes: list[ReplicaSetWrite] = field(default_factory=list)
    replica_sets: list[dict] = field(default_factory=list)
    new_replica_set: dict | None = None
    status_changed: bool = False
    requeue_after: float = -1

    @property
    def scales(self) -> list[tuple[str, int, int]]:
        """(ReplicaSet name, from, to) for each write that changes a replica count."""
        return [
            (w.name, w.old_replicas, w.new_replicas)
            for w in self.writes
            if w.verb != "delete" and w.old_replicas != w.new_replicas
        ]

    @property
    def events(self) -> list[str]:
        return [e for e in (w.event for w in self.writes) if e is not None]


class _Sync:
    """Working state of one sync: the cache's objects, copied, and the writes so far."""

    def __init__(self, d: Mapping[str, Any], rss: Sequence[Mapping[str, Any]], now: float) -> None:
        self.d: dict = copy.deepcopy(dict(d))
        if self.d.get("status") is None:
            self.d["status"] = {}
        self.original_status = copy.deepcopy(self.d["status"])
        self.original_annotations = copy.deepcopy(meta(self.d).get("annotations"))
        self.rss: list[dict] = [copy.deepcopy(dict(rs)) for rs in rss]
        self.now = now
        self.writes: list[ReplicaSetWrite] = []
        self.failed = False

    # -- writes ---------------------------------------------------------------------------------
    def _replace(self, updated: dict) -> None:
        self.rss = [updated if name(rs) == name(updated) else rs for rs in self.rss]

    def scale_rs(self, rs: dict, new_scale: int, operation: str | None = None) -> tuple[bool, dict]:
        """scaleReplicaSet: update size and replica annotations when either needs it."""
        d_replicas, d_max = replicas(self.d), replicas(self.d) + max_surge(self.d)
        size_changes = replicas(rs) != new_scale
        if not size_changes and not replicas_annotations_need_update(rs, d_replicas, d_max):
            return False, rs
        updated = copy.deepcopy(rs)
        updated.setdefault("spec", {})["replicas"] = new_scale
        set_replicas_annotations(updated, d_replicas, d_max)
        self.writes.append(ReplicaSetWrite("update", updated, replicas(rs), new_scale))
        self._replace(updated)
        return size_changes, updated

    def scale_and_record(self, rs: dict, new_scale: int) -> tuple[bool, dict]:
        """scaleReplicaSetAndRecordEvent: nothing at all when the size is already right."""
        if replicas(rs) == new_scale:
            return False, rs
        return self.scale_rs(rs, new_scale)

    # -- the new ReplicaSet ---------------------------------------------------------------------
    def all_and_sync_revision(self, create: bool) -> tuple[dict | None, list[dict]]:
        """getAllReplicaSetsAndSyncRevision: (new RS or None, all old RSes)."""
        _, old = find_old_replica_sets(self.d, self.rss)
        return self._new_replica_set(old, create), list(old)

    def _new_replica_set(self, old: list[dict], create: bool) -> dict | None:
        existing = find_new_replica_set(self.d, self.rss)
        new_revision = str(max_revision(old) + 1)
        if existing is not None:
            rs = copy.deepcopy(existing)
            changed = set_new_replica_set_annotations(self.d, rs, new_revision, True)
            min_ready = spec(self.d).get("minReadySeconds") or 0
            if changed or (spec(rs).get("minReadySeconds") or 0) != min_ready:
                rs["spec"]["minReadySeconds"] = min_ready
                self.writes.append(ReplicaSetWrite("update", rs, replicas(rs), replicas(rs)))
                self._replace(rs)
                return rs
            self._set_revision(rs["metadata"]["annotations"].get(REVISION_ANNOTATION, ""))
            if has_progress_deadline(self.d) and not _has_progressing(self.d):
                msg = f'Found new replica set "{name(rs)}"'
                cond = new_condition("Progressing", "True", FOUND_NEW_RS, msg, self.now)
                set_condition(self.d["status"], cond)
            return existing
        if not create:
            return None
        template = copy.deepcopy(spec(self.d).get("template") or {})
        template_hash = compute_hash(template, status(self.d).get("collisionCount"))
        tmeta = template.setdefault("metadata", {})
        tmeta["labels"] = {**(tmeta.get("labels") or {}), POD_TEMPLATE_HASH_LABEL: template_hash}
        selector = copy.deepcopy(spec(self.d).get("selector") or {})
        selector["matchLabels"] = {
            **(selector.get("matchLabels") or {}),
            POD_TEMPLATE_HASH_LABEL: template_hash,
        }
        rs_name = f"{name(self.d)}-{template_hash}"
        new_rs: dict = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": rs_name,
                "namespace": meta(self.d).get("namespace", "default"),
                "labels": dict(tmeta["labels"]),
                "ownerReferences": [_controller_ref_to(self.d)],
            },
            "spec": {
                "replicas": 0,
                "minReadySeconds": spec(self.d).get("minReadySeconds") or 0,
                "selector": selector,
                "template": template,
            },
        }
        new_rs["spec"]["replicas"] = new_rs_new_replicas(self.d, [*old, new_rs], new_rs)
        set_new_replica_set_annotations(self.d, new_rs, new_revision, False)
        clash = next((rs for rs in self.rss if name(rs) == rs_name), None)
        if clash is not None:
            ref = controller_ref(clash)
            owned = ref is not None and ref.get("uid") == uid(self.d)
            if owned and equal_ignore_hash(
                spec(clash).get("template"), spec(self.d).get("template")
            ):
                return clash
            # A hash collision: bump collisionCount and let the next sync try another name.
            self.d["status"]["collisionCount"] = int(status(self.d).get("collisionCount") or 0) + 1
            self.failed = True
            return None
        self.writes.append(ReplicaSetWrite("create", new_rs, 0, replicas(new_rs)))
        self.rss.append(new_rs)
        self._set_revision(new_revision)
        if has_progress_deadline(self.d):
            msg = f'Created new replica set "{rs_name}"'
            cond = new_condition("Progressing", "True", NEW_REPLICA_SET, msg, self.now)
            set_condition(self.d["status"], cond)
        return new_rs

    def _set_revision(self, value: str) -> None:
        ann = self.d.setdefault("metadata", {}).setdefault("annotations", {})
        if ann is None:
            ann = self.d["metadata"]["annotations"] = {}
        ann[REVISION_ANNOTATION] = value

    # -- cleanup and status ---------------------------------------------------------------------
    def cleanup(self, old: list[dict]) -> None:
        """cleanupDeployment: delete the oldest empty RSes beyond revisionHistoryLimit."""
        limit = spec(self.d).get("revisionHistoryLimit")
        if limit is None:
            return
        alive = [rs for rs in old if not deleting(rs)]
        diff = len(alive) - int(limit)
        if diff <= 0:
            return
        for rs in sorted(alive, key=_by_revision)[:diff]:
            st = status(rs)
            if (
                int(st.get("replicas") or 0) != 0
                or replicas(rs) != 0
                or int(meta(rs).get("generation") or 0) > int(st.get("observedGeneration") or 0)
            ):
                continue
            self.writes.append(ReplicaSetWrite("delete", rs, replicas(rs), replicas(rs)))
            self.rss = [x for x in self.rss if name(x) != name(rs)]

    def result(
        self, new_status: dict | None, new_rs: dict | None, requeue: float = -1
    ) -> SyncResult:
        if new_status is not None:
            self.d["status"] = new_status
        changed = (
            _normalized(self.d["status"]) != _normalized(self.original_status)
            or meta(self.d).get("annotations") != self.original_annotations
        )
        current_new = None
        if new_rs is not None:
            current_new = next((rs for rs in self.rss if name(rs) == name(new_rs)), new_rs)
        return SyncResult(self.d, self.writes, self.rss, current_new, changed, requeue)

    def finish_rollout(self, all_rss: list[dict | None], new_rs: dict | None) -> SyncResult:
        """syncRolloutStatus, plus the stuck-deployment requeue when nothing changes."""
        new_status = rollout_status_update(all_rss, new_rs, self.d, self.now)
        if _normalized(new_status) == _normalized(self.d["status"]):
            return self.result(None, new_rs, requeue_stuck_deployment(self.d, new_status, self.now))
        return self.result(new_status, new_rs)

    def finish_sync(self, all_rss: list[dict | None], new_rs: dict | None) -> SyncResult:
        """syncDeploymentStatus: counts and Available only."""
        return self.result(calculate_status(all_rss, new_rs, self.d, self.now), new_rs)


def _has_progressing(d: Mapping[str, Any]) -> bool:
    return any(c.get("type") == "Progressing" for c in status(d).get("conditions") or ())


def _controller_ref_to(d: Mapping[str, Any]) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": name(d),
        "uid": uid(d),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _normalized(st: Mapping[str, Any]) -> dict:
    """A status with zero counts and empty lists dropped, for comparing as Go's DeepEqual does."""
    return {k: v for k, v in st.items() if v not in (0, None, [], {})}


# -- rolling update ----------------------------------------------------------------------------
def _reconcile_new(s: _Sync, all_rss: list[dict | None], new_rs: dict) -> bool:
    """reconcileNewReplicaSet: scale the new RS down to D, or up within the surge."""
    d_replicas = replicas(s.d)
    if replicas(new_rs) == d_replicas:
        return False
    if replicas(new_rs) > d_replicas:
        return s.scale_and_record(new_rs, d_replicas)[0]
    count = new_rs_new_replicas(s.d, all_rss, new_rs)
    return s.scale_and_record(new_rs, count)[0]


def _reconcile_old(s: _Sync, all_rss: list[dict | None], old: list[dict], new_rs: dict) -> bool:
    """reconcileOldReplicaSets: first unhealthy replicas, then healthy ones within maxUnavailable."""
    if replica_count(old) == 0:
        return False
    min_avail = replicas(s.d) - max_unavailable(s.d)
    new_unavailable = replicas(new_rs) - int(status(new_rs).get("availableReplicas") or 0)
    max_scaled_down = replica_count(all_rss) - min_avail - new_unavailable
    if max_scaled_down <= 0:
        return False
    old, cleaned = _cleanup_unhealthy(s, old, max_scaled_down)
    scaled = _scale_down_old(s, [*old, new_rs], old)
    return cleaned + scaled > 0


def _cleanup_unhealthy(s: _Sync, old: list[dict], max_cleanup: int) -> tuple[list[dict], int]:
    """Scale old RSes (oldest first) down by their unavailable replicas, up to `max_cleanup`."""
    old = sorted(old, key=ReplicaSetsByCreationTimestamp)
    total = 0
    for i, rs in enumerate(old):
        if total >= max_cleanup:
            break
        available = int(status(rs).get("availableReplicas") or 0)
        if replicas(rs) == 0 or replicas(rs) == available:
            continue
        count = min(max_cleanup - total, replicas(rs) - available)
        _, old[i] = s.scale_and_record(rs, replicas(rs) - count)
        total += count
    return old, total


def _scale_down_old(s: _Sync, all_rss: list[dict | None], old: list[dict]) -> int:
    """Scale old RSes (oldest first) down by what availability above minAvailable allows."""
    min_avail = replicas(s.d) - max_unavailable(s.d)
    available = available_replica_count(all_rss)
    if available <= min_avail:
        return 0
    total, budget = 0, available - min_avail
    for rs in sorted(old, key=ReplicaSetsByCreationTimestamp):
        if total >= budget:
            break
        if replicas(rs) == 0:
            continue
        count = min(replicas(rs), budget - total)
        s.scale_and_record(rs, replicas(rs) - count)
        total += count
    return total


def _sync_over(
    d: Mapping[str, Any], *groups: Sequence[Mapping[str, Any] | None]
) -> tuple[_Sync, list]:
    """A _Sync over the given RSes, and the groups mapped onto its copies (by name)."""
    seen: dict[str, Mapping[str, Any]] = {}
    for group in groups:
        for rs in group:
            if rs is not None:
                seen.setdefault(name(rs), rs)
    s = _Sync(d, list(seen.values()), 0.0)
    by_name = {name(rs): rs for rs in s.rss}
    mapped = [[by_name[name(rs)] if rs is not None else None for rs in g] for g in groups]
    return s, mapped


def reconcile_new_replica_set(
    d: Mapping[str, Any], all_rss: Sequence[Mapping[str, Any]], new_rs: Mapping[str, Any]
) -> list[ReplicaSetWrite]:
    """The write reconcileNewReplicaSet sends, if any (see rollout_rolling)."""
    s, (all_mapped, (new,)) = _sync_over(d, all_rss, [new_rs])
    _reconcile_new(s, all_mapped, new)
    return s.writes


def reconcile_old_replica_sets(
    d: Mapping[str, Any],
    all_rss: Sequence[Mapping[str, Any]],
    old_rss: Sequence[Mapping[str, Any]],
    new_rs: Mapping[str, Any],
) -> list[ReplicaSetWrite]:
    """The writes reconcileOldReplicaSets sends: unhealthy replicas first, then healthy ones."""
    s, (all_mapped, old, (new,)) = _sync_over(d, all_rss, old_rss, [new_rs])
    _reconcile_old(s, all_mapped, old, new)
    return s.writes


def cleanup_unhealthy_replicas(
    d: Mapping[str, Any], old_rss: Sequence[Mapping[str, Any]], max_cleanup: int
) -> tuple[list[ReplicaSetWrite], int]:
    """(writes, replicas removed): old RSes, oldest first, lose their unavailable replicas."""
    s, (old,) = _sync_over(d, old_rss)
    _, count = _cleanup_unhealthy(s, old, max_cleanup)
    return s.writes, count


def scale_down_old_replica_sets_for_rolling_update(
    d: Mapping[str, Any], all_rss: Sequence[Mapping[str, Any]], old_rss: Sequence[Mapping[str, Any]]
) -> tuple[list[ReplicaSetWrite], int]:
    """(writes, replicas removed): old RSes, oldest first, shrink by available − minAvailable."""
    s, (all_mapped, old) = _sync_over(d, all_rss, old_rss)
    count = _scale_down_old(s, all_mapped, old)
    return s.writes, count


def rollout_rolling(
    d: Mapping[str, Any], replica_sets: Sequence[Mapping[str, Any]], now: float
) -> SyncResult:
    """One sync of a RollingUpdate Deployment (rolloutRolling).

    Creates the new RS if needed (with NewRSNewReplicas replicas); scales it up within maxSurge
    and, if it did, stops there; otherwise scales old RSes down within maxUnavailable (unhealthy
    replicas first); cleans up old history once complete; then computes the status.
    """
    s = _Sync(d, replica_sets, now)
    new_rs, old = s.all_and_sync_revision(create=True)
    if s.failed or new_rs is None:
        return s.result(None, None, 0)
    all_rss: list[dict | None] = [*old, new_rs]
    if _reconcile_new(s, all_rss, new_rs):
        return s.finish_rollout(all_rss, new_rs)
    if _reconcile_old(s, all_rss, filter_active(old), new_rs):
        return s.finish_rollout(all_rss, new_rs)
    if deployment_complete(s.d, status(s.d)):
        s.cleanup(old)
    return s.finish_rollout(all_rss, new_rs)


# -- recreate ----------------------------------------------------------------------------------
def old_pods_running(
    new_rs: Mapping[str, Any] | None,
    old: Sequence[Mapping[str, Any]],
    pods: Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Mapping[str, Any]]],
) -> bool:
    """Any old RS reports replicas, or some pod not of the new RS is not Succeeded/Failed.

    `pods` is the Deployment's pods, as a list (grouped by controller UID here) or as
    upstream's map from ReplicaSet UID to pods.
    """
    if actual_replica_count(old) > 0:
        return True
    if isinstance(pods, Mapping):
        groups = dict(pods)
    else:
        groups = {}
        for pod in pods:
            ref = controller_ref(pod)
            if ref is not None:
                groups.setdefault(ref.get("uid") or "", []).append(pod)
    for rs_uid, group in groups.items():
        if new_rs is not None and rs_uid == uid(new_rs):
            continue
        if any(status(p).get("phase") not in ("Failed", "Succeeded") for p in group):
            return True
    return False


def rollout_recreate(
    d: Mapping[str, Any],
    replica_sets: Sequence[Mapping[str, Any]],
    pods: Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Mapping[str, Any]]],
    now: float,
) -> SyncResult:
    """One sync of a Recreate Deployment: scale every old RS to 0, wait until no old pod runs,
    then create (or scale) the new RS to spec.replicas in one step."""
    s = _Sync(d, replica_sets, now)
    new_rs, old = s.all_and_sync_revision(create=False)
    all_rss: list[dict | None] = [*old, new_rs]
    scaled_down = False
    for rs in filter_active(old):
        if s.scale_and_record(rs, 0)[0]:
            scaled_down = True
    if scaled_down:
        return s.finish_rollout(all_rss, new_rs)
    if old_pods_running(new_rs, old, pods):
        return s.finish_rollout(all_rss, new_rs)
    if new_rs is None:
        new_rs, old = s.all_and_sync_revision(create=True)
        if s.failed or new_rs is None:
            return s.result(None, None, 0)
        all_rss = [*old, new_rs]
    s.scale_and_record(new_rs, replicas(s.d))
    if deployment_complete(s.d, status(s.d)):
        s.cleanup(old)
    return s.finish_rollout(all_rss, new_rs)


# -- scaling -----------------------------------------------------------------------------------
def _by_size_newer(rs: Mapping[str, Any]) -> tuple:
    created, rs_name = ReplicaSetsByCreationTimestamp(rs)
    return (-replicas(rs), -created, _Reverse(rs_name))


def _by_size_older(rs: Mapping[str, Any]) -> tuple:
    return (-replicas(rs), *ReplicaSetsByCreationTimestamp(rs))


class _Reverse(str):
    def __lt__(self, other: str) -> bool:  # type: ignore[override]
        return str.__gt__(self, other)


def _scale(s: _Sync, new_rs: dict | None, old: list[dict]) -> None:
    """DeploymentController.scale: one active RS takes all; else proportional shares."""
    d_replicas = replicas(s.d)
    active = filter_active([*old, new_rs])
    if len(active) <= 1:
        target = active[0] if active else None
        if target is None:
            newest = sorted(old, key=ReplicaSetsByCreationTimestamp, reverse=True)
            target = new_rs if new_rs is not None else (newest[0] if newest else None)
        if target is not None and replicas(target) != d_replicas:
            s.scale_and_record(target, d_replicas)
        return
    if is_saturated(s.d, new_rs):
        for rs in filter_active(old):
            s.scale_and_record(rs, 0)
        return
    if not is_rolling_update(s.d):
        return
    allowed = d_replicas + max_surge(s.d) if d_replicas > 0 else 0
    to_add = allowed - replica_count(active)
    if to_add > 0:
        active.sort(key=_by_size_newer)
    elif to_add < 0:
        active.sort(key=_by_size_older)
    added, sizes = 0, {}
    for rs in active:
        if to_add != 0:
            proportion = get_replica_set_proportion(rs, s.d, to_add, added)
            sizes[name(rs)] = replicas(rs) + proportion
            added += proportion
        else:
            sizes[name(rs)] = replicas(rs)
    for i, rs in enumerate(active):
        if i == 0 and to_add != 0:
            sizes[name(rs)] = max(sizes[name(rs)] + to_add - added, 0)
        s.scale_rs(rs, sizes[name(rs)])


def scale_replica_sets(
    d: Mapping[str, Any], new_rs: Mapping[str, Any] | None, old_rss: Sequence[Mapping[str, Any]]
) -> list[ReplicaSetWrite]:
    """The writes DeploymentController.scale sends for a given new RS (or None) and old RSes:
    all replicas to the only active (or newest) RS; old RSes to 0 when the new one is
    saturated; else proportional shares for a rolling Deployment."""
    s = _Sync(d, [rs for rs in (new_rs, *old_rss) if rs is not None], 0.0)
    by_name = {name(rs): rs for rs in s.rss}
    new = by_name[name(new_rs)] if new_rs is not None else None
    _scale(s, new, [by_name[name(rs)] for rs in old_rss])
    return s.writes


def scale(
    d: Mapping[str, Any], replica_sets: Sequence[Mapping[str, Any]], now: float
) -> SyncResult:
    """The `sync` path taken on a scaling event or while paused: resize ReplicaSets (all to
    the only active one, or proportionally by getReplicaSetFraction, largest first, the
    rounding leftover to the first), clean up history when paused, update counts."""
    s = _Sync(d, replica_sets, now)
    new_rs, old = s.all_and_sync_revision(create=False)
    _scale(s, new_rs, old)
    if spec(s.d).get("paused"):
        s.cleanup(old)
    return s.finish_sync([*old, new_rs], new_rs)


def is_scaling_event(d: Mapping[str, Any], replica_sets: Sequence[Mapping[str, Any]]) -> bool:
    """An active RS is annotated with a desired-replicas other than spec.replicas."""
    new_rs = find_new_replica_set(d, replica_sets)
    _, old = find_old_replica_sets(d, replica_sets)
    for rs in filter_active([*old, new_rs]):
        desired, ok = nonnegative_int32_annotation(rs, DESIRED_REPLICAS_ANNOTATION)
        if ok and desired != replicas(d):
            return True
    return False


def sync_deployment(
    d: Mapping[str, Any],
    replica_sets: Sequence[Mapping[str, Any]],
    pods: Sequence[Mapping[str, Any]],
    now: float,
) -> SyncResult:
    """syncDeployment for one key: status only when deleting; the paused/resumed condition;
    `scale` when paused or on a scaling event; else the strategy's rollout step."""
    if deleting(d):
        s = _Sync(d, replica_sets, now)
        new_rs, old = s.all_and_sync_revision(create=False)
        return s.finish_sync([*old, new_rs], new_rs)
    cond = paused_condition_update(d, now)
    if cond is not None:
        d = copy.deepcopy(dict(d))
        set_condition(d.setdefault("status", {}), cond)
    if spec(d).get("paused") or is_scaling_event(d, replica_sets):
        result = scale(d, replica_sets, now)
    elif strategy_type(d) == "Recreate":
        result = rollout_recreate(d, replica_sets, pods, now)
    else:
        result = rollout_rolling(d, replica_sets, now)
    if cond is not None:
        result.status_changed = True
    return result


def rs_summary(rs: Mapping[str, Any]) -> str:
    """`name spec/available` for traces and test failures."""
    return f"{name(rs)} {replicas(rs)}/{int(status(rs).get('availableReplicas') or 0)}"
