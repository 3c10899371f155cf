"""The in-tree plugins by upstream name and the default profile, as data.

Semantics: kube-scheduler's NewInTreeRegistry and apis/config/v1 default_plugins.go (v1.34,
DynamicResourceAllocation on): one multiPoint list in upstream order with upstream's score
weights, merged with a user's profile exactly as upstream merges it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .framework import Profile
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


DEFAULT_PROFILE: Profile = build_profile()
