"""What the volume plugins share: a pod's claims, lookups in the snapshot's PVC/PV/StorageClass
listers with the API's NotFound texts, a claim's storage class, and a PV's node affinity.

Semantics: component-helpers storage/volume (GetPersistentVolumeClaimClass, CheckNodeAffinity)
and kube-scheduler's volumebinding GetPodVolumeClaims.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..framework import Code, PodInfo, Snapshot, Status
from .helper import _compile_terms

ANN_BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
ANN_STORAGE_CLASS = "volume.beta.kubernetes.io/storage-class"
READ_WRITE_ONCE_POD = "ReadWriteOncePod"
WAIT_FOR_FIRST_CONSUMER = "WaitForFirstConsumer"


def not_found(resource: str, name: str) -> str:
    """apimachinery's NotFound text, as a lister returns it: `persistentvolumeclaim "x" not
    found`."""
    return f'{resource} "{name}" not found'


def claim_names(pod: PodInfo, ephemeral: bool = True) -> list[str]:
    """The PVC names a pod's volumes use, in volume order; a generic ephemeral volume's claim
    is named `<pod>-<volume>`, as the ephemeral volume controller names it."""
    out = []
    for v in pod.spec.get("volumes") or ():
        v = v or {}
        if v.get("persistentVolumeClaim") is not None:
            out.append((v["persistentVolumeClaim"] or {}).get("claimName") or "")
        elif ephemeral and v.get("ephemeral") is not None:
            out.append(f"{pod.name}-{v.get('name') or ''}")
    return out


def has_claims(pod: PodInfo) -> bool:
    """True if a volume is a PersistentVolumeClaim or a generic ephemeral volume."""
    return bool(claim_names(pod))


def get_pvc(snapshot: Snapshot | None, namespace: str, name: str) -> Mapping[str, Any] | None:
    return None if snapshot is None else snapshot.pvcs.get((namespace, name))


def claim_class(pvc: Mapping[str, Any]) -> str:
    """The claim's storage class: the beta annotation wins over spec.storageClassName."""
    annotations = (pvc.get("metadata") or {}).get("annotations") or {}
    if ANN_STORAGE_CLASS in annotations:
        return annotations[ANN_STORAGE_CLASS]
    return (pvc.get("spec") or {}).get("storageClassName") or ""


def is_fully_bound(pvc: Mapping[str, Any]) -> bool:
    """spec.volumeName set and the PV controller's bind-completed annotation present."""
    annotations = (pvc.get("metadata") or {}).get("annotations") or {}
    return bool((pvc.get("spec") or {}).get("volumeName")) and ANN_BIND_COMPLETED in annotations


def pv_matches_node(pv: Mapping[str, Any], node_labels: Mapping[str, str]) -> bool:
    """CheckNodeAffinity: a PV without spec.nodeAffinity.required fits every node; otherwise
    one of its terms must match the node's labels (matchFields never match: upstream checks
    against a node that has labels only)."""
    required = ((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required")
    if required is None:
        return True
    return any(
        t.matches(node_labels, "") for t in _compile_terms(required.get("nodeSelectorTerms"))
    )


def not_found_status(resource: str, name: str) -> Status:
    """getErrorAsStatus for a NotFound error."""
    return Status(Code.UnschedulableAndUnresolvable, not_found(resource, name))
