"""The in-tree plugins by upstream name and the default profile, as data.

Semantics: kube-scheduler's NewInTreeRegistry and apis/config/v1 default_plugins.go (v1.34,
DynamicResourceAllocation on): one multiPoint list in upstream order with upstream's score
weights, merged with a user's profile exactly as upstream merges it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from .framework import Profile, SchedulerError
from .plugins.default_binder import DefaultBinder
from .plugins.default_preemption import DefaultPreemption
from .plugins.dynamic_resources import DynamicResources
from .plugins.image_locality import ImageLocality
from .plugins.inter_pod_affinity import InterPodAffinity
from .plugins.node_affinity import NodeAffinity
from .plugins.node_name import NodeName
from .plugins.node_ports import NodePorts
from .plugins.node_resources_balanced_allocation import NodeResourcesBalancedAllocation
from .plugins.node_resources_fit import NodeResourcesFit
from .plugins.node_unschedulable import NodeUnschedulable
from .plugins.node_volume_limits import NodeVolumeLimits
from .plugins.pod_topology_spread import PodTopologySpread
from .plugins.priority_sort import PrioritySort
from .plugins.scheduling_gates import SchedulingGates
from .plugins.taint_toleration import TaintToleration
from .plugins.volume_binding import VolumeBinding
from .plugins.volume_restrictions import VolumeRestrictions
from .plugins.volume_zone import VolumeZone

IN_TREE: dict[str, type] = {
    p.name: p
    for p in (
        SchedulingGates,
        PrioritySort,
        NodeUnschedulable,
        NodeName,
        TaintToleration,
        NodeAffinity,
        NodePorts,
        NodeResourcesFit,
        VolumeRestrictions,
        NodeVolumeLimits,
        VolumeBinding,
        VolumeZone,
        PodTopologySpread,
        InterPodAffinity,
        DynamicResources,
        DefaultPreemption,
        NodeResourcesBalancedAllocation,
        ImageLocality,
        DefaultBinder,
    )
}

# (name, score weight or None), in upstream's order.
DEFAULT_PLUGIN_ORDER: list[tuple[str, int | None]] = [
    ("SchedulingGates", None),
    ("PrioritySort", None),
    ("NodeUnschedulable", None),
    ("NodeName", None),
    ("TaintToleration", 3),
    ("NodeAffinity", 2),
    ("NodePorts", None),
    ("NodeResourcesFit", 1),
    ("VolumeRestrictions", None),
    ("NodeVolumeLimits", None),
    ("VolumeBinding", None),
    ("VolumeZone", None),
    ("PodTopologySpread", 2),
    ("InterPodAffinity", 2),
    ("DynamicResources", None),
    ("DefaultPreemption", None),
    ("NodeResourcesBalancedAllocation", 1),
    ("ImageLocality", 1),
    ("DefaultBinder", None),
]

# The default `plugins` block of a v1 profile (getDefaultPlugins).
DEFAULT_PLUGINS: dict[str, Any] = {
    "multiPoint": {
        "enabled": [
            {"name": n} if w is None else {"name": n, "weight": w} for n, w in DEFAULT_PLUGIN_ORDER
        ]
    }
}


def build_profile(
    config: Mapping[str, Any] | None = None, plugins: Mapping[str, type] | None = None
) -> Profile:
    """A Profile from a v1 profile dict merged with the defaults; `plugins` adds out-of-tree
    plugins by name (a learner's own)."""
    registry = dict(IN_TREE)
    registry.update(plugins or {})
    return Profile.build(config, registry, DEFAULT_PLUGINS)


def build_profiles(
    config: Mapping[str, Any] | None, registered: Mapping[str, tuple[type, int]] | None = None
) -> dict[str, Profile]:
    """The profiles of a KubeSchedulerConfiguration dict by scheduler name; `registered` adds
    out-of-tree plugins (name -> (class, score weight)) to every profile's multiPoint. The
    global percentageOfNodesToScore applies where a profile sets none."""
    config = config or {}
    registered = registered or {}
    classes = {n: cls for n, (cls, _) in registered.items()}
    extra = [{"name": n, "weight": w} for n, (_, w) in registered.items()]
    out: dict[str, Profile] = {}
    for raw in config.get("profiles") or [{}]:
        prof_config = copy.deepcopy(dict(raw))
        if extra:
            multi = prof_config.setdefault("plugins", {}).setdefault("multiPoint", {})
            multi["enabled"] = [*(multi.get("enabled") or ()), *copy.deepcopy(extra)]
        profile = build_profile(prof_config, classes)
        if profile.percentage_of_nodes_to_score is None:
            profile.percentage_of_nodes_to_score = config.get("percentageOfNodesToScore")
        if profile.scheduler_name in out:
            raise SchedulerError(
                f'duplicate profile with scheduler name "{profile.scheduler_name}"'
            )
        out[profile.scheduler_name] = profile
    return out


DEFAULT_PROFILE: Profile = build_profile()
