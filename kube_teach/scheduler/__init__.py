"""kube-scheduler's decision core: the framework, the in-tree plugins and `evaluate`, which runs
one scheduling cycle for one pod and explains every verdict and score.

    from kube_teach.scheduler import evaluate
    evaluate(pod, nodes, pods).selected
    explorer([pod, other], nodes, pods)     # a pod menu over the same table, for notebooks
"""

from .evaluate import Evaluation, FilterResult, PluginScore, evaluate
from .explorer import SchedulingExplorer, explorer, place
from .framework import (
    Code,
    CycleState,
    NodeInfo,
    PodInfo,
    Profile,
    SchedulerError,
    Snapshot,
    Status,
    num_feasible_nodes_to_find,
    select_host,
)
from .registry import DEFAULT_PLUGINS, DEFAULT_PROFILE, IN_TREE, build_profile

__all__ = [
    "DEFAULT_PLUGINS",
    "DEFAULT_PROFILE",
    "IN_TREE",
    "Code",
    "CycleState",
    "Evaluation",
    "FilterResult",
    "NodeInfo",
    "PluginScore",
    "PodInfo",
    "Profile",
    "SchedulerError",
    "SchedulingExplorer",
    "Snapshot",
    "Status",
    "build_profile",
    "evaluate",
    "explorer",
    "num_feasible_nodes_to_find",
    "place",
    "select_host",
]
