"""Keep a pod in the zone (and region) of the volumes it mounts.

Semantics: kube-scheduler's VolumeZone plugin (PreFilter, Filter). PreFilter collects the
topology labels (zone and region, GA and beta keys) of the PVs bound to the pod's claims; a
value may list several zones joined by "__". A node carrying no topology label at all passes
(single-zone clusters); otherwise every collected label must match the node's, the beta key
falling back to the GA key on the node. Unbound claims of a WaitForFirstConsumer class are left
to VolumeBinding; a PV's spec.nodeAffinity is VolumeBinding's check too, not this plugin's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..framework import Code, CycleState, NodeInfo, PodInfo, Status
from .volume_helper import WAIT_FOR_FIRST_CONSUMER, claim_class, get_pvc, not_found_status

ERR_REASON_CONFLICT = "node(s) had no available volume zone"
_PRE_FILTER_KEY = "PreFilterVolumeZone"
LABEL_ZONE = "topology.kubernetes.io/zone"
LABEL_REGION = "topology.kubernetes.io/region"
LABEL_BETA_ZONE = "failure-domain.beta.kubernetes.io/zone"
LABEL_BETA_REGION = "failure-domain.beta.kubernetes.io/region"
TOPOLOGY_LABELS = (LABEL_BETA_ZONE, LABEL_BETA_REGION, LABEL_ZONE, LABEL_REGION)
_GA = {LABEL_BETA_ZONE: LABEL_ZONE, LABEL_BETA_REGION: LABEL_REGION}


def pv_topologies(pv: Mapping[str, Any]) -> list[tuple[str, frozenset[str]]]:
    """(label key, allowed values) for each topology label of the PV; a value with an empty
    zone in its "__" list is ignored, as upstream ignores labels it cannot parse."""
    labels = (pv.get("metadata") or {}).get("labels") or {}
    out = []
    for key in TOPOLOGY_LABELS:
        if key in labels:
            zones = [z.strip() for z in labels[key].split("__")]
            if all(zones):
                out.append((key, frozenset(zones)))
    return out


class VolumeZone:
    """PreFilter: the bound PVs' topologies (Skip when none; reject missing objects). Filter:
    UnschedulableAndUnresolvable when a node's zone or region is not the volume's."""

    name = "VolumeZone"

    def _topologies(self, state: CycleState, pod: PodInfo) -> list[Any] | Status:
        snapshot = state.snapshot
        out: list[tuple[str, frozenset[str]]] = []
        for v in pod.spec.get("volumes") or ():
            ref = (v or {}).get("persistentVolumeClaim")
            if ref is None:
                continue
            name = ref.get("claimName") or ""
            if not name:
                return Status(
                    Code.UnschedulableAndUnresolvable, "PersistentVolumeClaim had no name"
                )
            pvc = get_pvc(snapshot, pod.namespace, name)
            if pvc is None:
                return not_found_status("persistentvolumeclaim", name)
            pv_name = (pvc.get("spec") or {}).get("volumeName") or ""
            if not pv_name:
                sc_name = claim_class(pvc)
                if not sc_name:
                    return Status(Code.UnschedulableAndUnresolvable,
                                  "PersistentVolumeClaim had no pv name and storageClass name")  # fmt: skip
                sc = snapshot.storage_classes.get(sc_name) if snapshot else None
                if sc is None:
                    return not_found_status("storageclass.storage.k8s.io", sc_name)
                mode = sc.get("volumeBindingMode")
                if mode is None:
                    return Status(Code.UnschedulableAndUnresolvable,
                                  f'VolumeBindingMode not set for StorageClass "{sc_name}"')  # fmt: skip
                if mode == WAIT_FOR_FIRST_CONSUMER:
                    continue
                return Status(Code.UnschedulableAndUnresolvable, "PersistentVolume had no name")
            pv = snapshot.pvs.get(pv_name) if snapshot else None
            if pv is None:
                return not_found_status("persistentvolume", pv_name)
            out += pv_topologies(pv)
        return out

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        found = self._topologies(state, pod)
        if isinstance(found, Status):
            return found
        if not found:
            return Status(Code.Skip)
        state.write(_PRE_FILTER_KEY, found)
        return Status()

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        if not pod.spec.get("volumes"):
            return Status.success()
        topologies = state.get(_PRE_FILTER_KEY)
        if topologies is None:
            found = self._topologies(state, pod)
            if isinstance(found, Status):
                return found
            topologies = found
        labels = node.labels
        if not any(key in labels for key in TOPOLOGY_LABELS):
            return Status.success()  # a node without zones: a single-zone cluster
        for key, values in topologies:
            value = labels.get(key)
            if value is None:
                value = labels.get(_GA.get(key, key))
            if value is None or value not in values:
                return Status(Code.UnschedulableAndUnresolvable, ERR_REASON_CONFLICT)
        return Status.success()
