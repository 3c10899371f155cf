"""Keep a node under its CSI drivers' attach limits.

Semantics: kube-scheduler's NodeVolumeLimits plugin (CSILimits; PreFilter, Filter). A node's
limit per driver is `spec.drivers[].allocatable.count` of its CSINode; a volume is identified
by `<driver>/<volumeHandle>` from its PV's spec.csi, or, for a claim not bound yet, by its
StorageClass's provisioner and `<namespace>-<claim>`; a volume already attached for another
pod on the node is not counted twice. Not modelled: in-tree volumes translated to CSI by CSI
migration (they are not counted).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..framework import Code, CycleState, NodeInfo, PodInfo, Status
from .volume_helper import claim_class, get_pvc, has_claims, not_found

ERR_REASON_MAX_VOLUME_COUNT_EXCEEDED = "node(s) exceed max volume count"


def volume_limits(csi_node: Mapping[str, Any] | None) -> dict[str, int]:
    """getVolumeLimits: the attach limit of each driver that declares one."""
    limits: dict[str, int] = {}
    for d in ((csi_node or {}).get("spec") or {}).get("drivers") or ():
        count = (d.get("allocatable") or {}).get("count")
        if count is not None:
            limits[d.get("name") or ""] = int(count)
    return limits


class _NotFound(Exception):
    pass


def attachable_volumes(state: CycleState, pod: PodInfo, new_pod: bool) -> dict[str, str]:
    """filterAttachableVolumes: unique volume name -> driver, for the pod's CSI volumes.
    For the pod being scheduled a missing claim raises _NotFound (or ValueError for other
    errors); for pods already on the node such claims are skipped."""
    snapshot = state.snapshot
    out: dict[str, str] = {}
    for v in pod.spec.get("volumes") or ():
        v = v or {}
        if v.get("persistentVolumeClaim") is not None:
            name = (v["persistentVolumeClaim"] or {}).get("claimName") or ""
            ephemeral = False
        elif v.get("ephemeral") is not None:
            name, ephemeral = f"{pod.name}-{v.get('name') or ''}", True
        else:
            continue
        if not name:
            raise ValueError("PersistentVolumeClaim had no name")
        pvc = get_pvc(snapshot, pod.namespace, name)
        if pvc is None:
            if new_pod:
                raise _NotFound(
                    f"looking up PVC {pod.namespace}/{name}: "
                    + not_found("persistentvolumeclaim", name)
                )
            continue
        if ephemeral and new_pod:
            owners = (pvc.get("metadata") or {}).get("ownerReferences") or ()
            if not any(o.get("controller") and o.get("uid") == pod.uid for o in owners):
                raise ValueError(f"PVC {pod.namespace}/{name} was not created for pod "
                                 f"{pod.namespace}/{pod.name} (pod is not owner)")  # fmt: skip
        driver, handle = "", ""
        pv_name = (pvc.get("spec") or {}).get("volumeName") or ""
        pv = snapshot.pvs.get(pv_name) if snapshot is not None and pv_name else None
        if pv is not None:
            csi = (pv.get("spec") or {}).get("csi") or {}
            driver, handle = csi.get("driver") or "", csi.get("volumeHandle") or ""
        else:
            sc_name = claim_class(pvc)
            sc = snapshot.storage_classes.get(sc_name) if snapshot is not None else None
            if sc is not None:
                driver, handle = sc.get("provisioner") or "", f"{pod.namespace}-{name}"
        if driver and handle:
            out[f"{driver}/{handle}"] = driver
    return out


class NodeVolumeLimits:
    """PreFilter: Skip without claims or ephemeral volumes. Filter: Unschedulable when the new
    volumes of a driver would exceed the node's CSINode limit for it."""

    name = "NodeVolumeLimits"

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        return Status() if has_claims(pod) else Status(Code.Skip)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        if not pod.spec.get("volumes"):
            return Status.success()
        try:
            new = attachable_volumes(state, pod, True)
        except _NotFound as err:
            return Status(Code.UnschedulableAndUnresolvable, str(err))
        except ValueError as err:
            return Status.error(str(err))
        if not new:
            return Status.success()
        snapshot = state.snapshot
        limits = volume_limits(snapshot.csi_nodes.get(node.name) if snapshot else None)
        if not limits:
            return Status.success()
        attached: dict[str, str] = {}
        for existing in node.pods:
            attached.update(attachable_volumes(state, existing, False))
        attached_count: dict[str, int] = {}
        for unique, driver in attached.items():
            new.pop(unique, None)
            attached_count[driver] = attached_count.get(driver, 0) + 1
        new_count: dict[str, int] = {}
        for driver in new.values():
            new_count[driver] = new_count.get(driver, 0) + 1
        for driver, count in new_count.items():
            limit = limits.get(driver)
            if limit is not None and attached_count.get(driver, 0) + count > limit:
                return Status(Code.Unschedulable, ERR_REASON_MAX_VOLUME_COUNT_EXCEEDED)
        return Status.success()
