"""Prefer nodes that already hold the pod's container images, weighted by how widely each image
has spread (to avoid piling pods on the few nodes that have it).

Semantics: kube-scheduler's ImageLocality plugin (Score). "MB" is MiB; images without a tag
are looked up as ":latest"; init containers count.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..framework import MAX_NODE_SCORE, CycleState, NodeInfo, PodInfo

MB = 1024 * 1024
MIN_THRESHOLD = 23 * MB
MAX_CONTAINER_THRESHOLD = 1000 * MB


def normalized_image_name(name: str) -> str:
    """`name:latest` when the reference has no tag (no ":" after the last "/")."""
    if name.rfind(":") <= name.rfind("/"):
        return name + ":latest"
    return name


def calculate_priority(sum_scores: int, num_containers: int) -> int:
    """Scale the summed image scores into [0, 100] between 23MiB and 1000MiB per container."""
    max_threshold = MAX_CONTAINER_THRESHOLD * num_containers
    if sum_scores < MIN_THRESHOLD:
        sum_scores = MIN_THRESHOLD
    elif sum_scores > max_threshold:
        sum_scores = max_threshold
    return MAX_NODE_SCORE * (sum_scores - MIN_THRESHOLD) // (max_threshold - MIN_THRESHOLD)


class ImageLocality:
    """Score: size of each present image times the fraction of all nodes having it, summed and
    scaled; no normalization."""

    name = "ImageLocality"

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        total_nodes = len(state.snapshot) if state.snapshot is not None else 1
        total = 0
        for image in pod.images:
            found = node.image_states.get(normalized_image_name(image))
            if found is not None:
                size, num_nodes = found
                total += int(float(size) * (float(num_nodes) / float(total_nodes)))
        return calculate_priority(total, len(pod.images))

    def score_all(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo], index: np.ndarray
    ) -> np.ndarray | None:
        snapshot = state.snapshot
        if snapshot is not None and not any(
            normalized_image_name(i) in snapshot.image_nodes for i in pod.images
        ):
            return np.full(len(nodes), calculate_priority(0, len(pod.images)), np.int64)
        return None
