"""The in-tree admission plugins kube-teach runs, by upstream name.

Semantics: apiserver's NamespaceLifecycle; kube's LimitRanger, ServiceAccount, NodeRestriction,
TaintNodesByCondition, Priority and DefaultTolerationSeconds under plugin/pkg/admission, each
with upstream's error texts; PodSecurity and ResourceQuota live in their own modules. A plugin
has `admit` (mutating phase), `validate` (validating phase), or both.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from ..api.errors import StatusError
from ..api.quantity import Quantity
from .admission import (
    CREATE,
    DELETE,
    UPDATE,
    AdmissionContext,
    AdmissionRequest,
    aggregate,
    forbidden,
    not_found,
    object_name,
)
from .admission_podsecurity import PodSecurity
from .admission_quota import ResourceQuota, pod_limits, pod_requests
from .node_authorizer import node_identity, pod_configmap_names, pod_secret_names

_IMMORTAL_NAMESPACES = ("default", "kube-system", "kube-public")


class NamespaceLifecycle:
    """Refuses deleting `default`, `kube-system` and `kube-public`, creating anything in a
    namespace that does not exist (404) or is terminating (403)."""

    name = "NamespaceLifecycle"

    def admit(self, req: AdmissionRequest, ctx: AdmissionContext) -> None:
        is_ns = req.kind == "Namespace" and req.group == ""
        if req.operation == DELETE and is_ns and req.name in _IMMORTAL_NAMESPACES:
            raise forbidden(req, "this namespace may not be deleted")
        if not req.namespace and not is_ns:
            return
        if is_ns or req.operation == DELETE:
            return
        if req.group == "authorization.k8s.io" and req.resource == "localsubjectaccessreviews":
            return
        ns = ctx.store.get("Namespace", "", req.namespace)
        if ns is None:
            raise not_found("namespaces", req.namespace)
        if req.operation == CREATE and (ns.get("status") or {}).get("phase") == "Terminating":
            err = forbidden(
                req,
                f"unable to create new content in namespace {req.namespace} because it is being terminated",
            )
            err.details.setdefault("causes", []).append(
                {
                    "reason": "NamespaceTerminating",
                    "message": f"namespace {req.namespace} is being terminated",
                    "field": "metadata.namespace",
                }
            )
            raise err


# -- LimitRanger --------------------------------------------------------------------------------

MAX_MILLI = (2**63 - 1) // 1000


def _values(req: Quantity | None, lim: Quantity | None, enforced: Quantity) -> tuple[int, int, int]:
    # compare in milli-units unless that could overflow, as requestLimitEnforcedValues
    r, li, e = (q.value() if q is not None else 0 for q in (req, lim, enforced))
    if r <= MAX_MILLI and li <= MAX_MILLI and e <= MAX_MILLI:
        r, li, e = (q.milli_value() if q is not None else 0 for q in (req, lim, enforced))
    return r, li, e


def _min_constraint(
    kind: str, res: str, enforced: Quantity, requests: Mapping, limits: Mapping
) -> str | None:
    req, lim = requests.get(res), limits.get(res)
    r, li, e = _values(req, lim, enforced)
    if req is None:
        return f"minimum {res} usage per {kind} is {enforced}.  No request is specified"
    if r < e:
        return f"minimum {res} usage per {kind} is {enforced}, but request is {req}"
    if lim is not None and li < e:
        return f"minimum {res} usage per {kind} is {enforced}, but limit is {lim}"
    return None


def _max_constraint(
    kind: str, res: str, enforced: Quantity, requests: Mapping, limits: Mapping
) -> str | None:
    req, lim = requests.get(res), limits.get(res)
    r, li, e = _values(req, lim, enforced)
    if lim is None:
        return f"maximum {res} usage per {kind} is {enforced}.  No limit is specified"
    if li > e:
        return f"maximum {res} usage per {kind} is {enforced}, but limit is {lim}"
    if req is not None and r > e:
        return f"maximum {res} usage per {kind} is {enforced}, but request is {req}"
    return None


def _max_request_constraint(
    kind: str, res: str, enforced: Quantity, requests: Mapping
) -> str | None:
    req = requests.get(res)
    r, _, e = _values(req, None, enforced)
    if req is None:
        return f"maximum {res} usage per {kind} is {enforced}.  No request is specified"
    if r > e:
        return f"maximum {res} usage per {kind} is {enforced}, but request is {req}"
    return None


def _ratio_constraint(
    kind: str, res: str, enforced: Quantity, requests: Mapping, limits: Mapping
) -> str | None:
    req, lim = requests.get(res), limits.get(res)
    r, li, _ = _values(req, lim, enforced)
    if req is None or r == 0:
        return f"{res} max limit to request ratio per {kind} is {enforced}, but no request is specified or request is 0"
    if lim is None or li == 0:
        return f"{res} max limit to request ratio per {kind} is {enforced}, but no limit is specified or limit is 0"
    ratio = li / r
    shown, allowed = ratio, float(enforced.value())
    if enforced.value() <= MAX_MILLI:
        ratio, allowed = ratio * 1000, float(enforced.milli_value())
    if ratio > allowed:
        return f"{res} max limit to request ratio per {kind} is {enforced}, but provided ratio is {shown:f}"
    return None


def _ql(d: Mapping[str, Any] | None) -> dict[str, Quantity]:
    return {k: Quantity(v) for k, v in (d or {}).items()}


class LimitRanger:
    """Mutating: fills containers' missing requests/limits from LimitRange `defaultRequest`
    and `default` (annotating the pod); validating: enforces min, max and
    maxLimitRequestRatio per Container and Pod, and storage bounds per PVC."""

    name = "LimitRanger"

    def _supports(self, req: AdmissionRequest) -> bool:
        if req.kind == "Pod" and req.subresource == "resize" and req.operation == UPDATE:
            return True
        if req.subresource or req.operation not in (CREATE, UPDATE) or req.object is None:
            return False
        if req.kind == "Pod" and req.operation == UPDATE:
            return False
        if req.old_object is not None and (req.old_object.get("metadata") or {}).get(
            "deletionTimestamp"
        ):
            return False
        return req.kind in ("Pod", "PersistentVolumeClaim")

    def admit(self, req: AdmissionRequest, ctx: AdmissionContext) -> None:
        if not self._supports(req) or req.kind != "Pod":
            return
        for lr in ctx.store.list("LimitRange", req.namespace):
            requests, limits = {}, {}
            for item in (lr.get("spec") or {}).get("limits") or ():
                if item.get("type") == "Container":
                    requests.update(item.get("defaultRequest") or {})
                    limits.update(item.get("default") or {})
            _merge_defaults(req.object, requests, limits)

    def validate(self, req: AdmissionRequest, ctx: AdmissionContext) -> None:
        if not self._supports(req):
            return
        for lr in ctx.store.list("LimitRange", req.namespace):
            errs = (
                _pvc_errors(lr, req.object)
                if req.kind == "PersistentVolumeClaim"
                else _pod_errors(lr, req.object)
            )
            if errs:
                raise forbidden(req, aggregate(errs))


def _merge_defaults(
    pod: dict[str, Any], requests: Mapping[str, Any], limits: Mapping[str, Any]
) -> None:
    notes = []
    spec = pod.setdefault("spec", {})
    for label, key in (("container", "containers"), ("init container", "initContainers")):
        for c in spec.get(key) or ():
            res = c.setdefault("resources", {})
            set_req, set_lim = [], []
            for k, v in limits.items():
                if k not in (res.get("limits") or {}):
                    res.setdefault("limits", {})[k] = copy.deepcopy(v)
                    set_lim.append(k)
            for k, v in requests.items():
                if k not in (res.get("requests") or {}):
                    res.setdefault("requests", {})[k] = copy.deepcopy(v)
                    set_req.append(k)
            if set_req:
                notes.append(
                    f"{', '.join(sorted(set_req))} request for {label} {c.get('name', '')}"
                )
            if set_lim:
                notes.append(f"{', '.join(sorted(set_lim))} limit for {label} {c.get('name', '')}")
    if notes:
        pod.setdefault("metadata", {}).setdefault("annotations", {})[
            "kubernetes.io/limit-ranger"
        ] = "LimitRanger plugin set: " + "; ".join(notes)


def _check_all(kind: str, item: Mapping[str, Any], requests: Mapping, limits: Mapping) -> list[str]:
    errs = []
    # upstream ranges over maps (random order); resource names are visited sorted here
    for res, v in sorted(_ql(item.get("min")).items()):
        errs.append(_min_constraint(kind, res, v, requests, limits))
    for res, v in sorted(_ql(item.get("max")).items()):
        errs.append(_max_constraint(kind, res, v, requests, limits))
    for res, v in sorted(_ql(item.get("maxLimitRequestRatio")).items()):
        errs.append(_ratio_constraint(kind, res, v, requests, limits))
    return [e for e in errs if e]


def _pod_errors(lr: Mapping[str, Any], pod: Mapping[str, Any]) -> list[str]:
    errs: list[str] = []
    spec = pod.get("spec") or {}
    for item in (lr.get("spec") or {}).get("limits") or ():
        kind = item.get("type")
        if kind == "Container":
            for c in [*(spec.get("containers") or ()), *(spec.get("initContainers") or ())]:
                r = c.get("resources") or {}
                errs += _check_all(kind, item, _ql(r.get("requests")), _ql(r.get("limits")))
        elif kind == "Pod":
            no_overhead = {**pod, "spec": {k: v for k, v in spec.items() if k != "overhead"}}
            errs += _check_all(kind, item, pod_requests(no_overhead), pod_limits(no_overhead))
    return errs


def _pvc_errors(lr: Mapping[str, Any], pvc: Mapping[str, Any]) -> list[str]:
    errs: list[str | None] = []
    requests = _ql(((pvc.get("spec") or {}).get("resources") or {}).get("requests"))
    for item in (lr.get("spec") or {}).get("limits") or ():
        if item.get("type") != "PersistentVolumeClaim":
            continue
        for res, v in sorted(_ql(item.get("min")).items()):
            errs.append(_min_constraint("PersistentVolumeClaim", res, v, requests, {}))
        for res, v in sorted(_ql(item.get("max")).items()):
            errs.append(_max_request_constraint("PersistentVolumeClaim", res, v, requests))
    return [e for e in errs if e]


# -- ServiceAccount ------------------------------------------------------------------------------

_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # utilrand's alphabet: no vowels, no look-alikes
TOKEN_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"


def _token_volume(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {
                    "configMap": {
                        "name": "kube-root-ca.crt",
                        "items": [{"key": "ca.crt", "path": "ca.crt"}],
                    }
                },
                {
                    "downwardAPI": {
                        "items": [
                            {
                                "path": "namespace",
                                "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                            }
                        ]
                    }
                },
            ],
        },
    }


class ServiceAccount:
    """Mutating: defaults `spec.serviceAccountName` to `default`, requires the account to
    exist, mounts the projected `kube-api-access-xxxxx` token volume into every container
    (unless automounting is off), copies imagePullSecrets. Mirror pods may not use any."""

    name = "ServiceAccount"

    def admit(self, req: AdmissionRequest, ctx: AdmissionContext) -> None:
        if (
            req.resource != "pods"
            or req.group
            or req.subresource
            or req.operation != CREATE
            or req.object is None
        ):
            return
        pod = req.object
        spec = pod.setdefault("spec", {})
        if "kubernetes.io/config.mirror" in ((pod.get("metadata") or {}).get("annotations") or {}):
            return
        if not spec.get("serviceAccountName"):
            spec["serviceAccountName"] = "default"
        sa = self._lookup(req, ctx, spec["serviceAccountName"])
        automount = spec.get("automountServiceAccountToken")
        if automount is None:
            automount = sa.get("automountServiceAccountToken")
        if automount is not False:
            self._mount(spec, ctx)
        if not spec.get("imagePullSecrets") and sa.get("imagePullSecrets"):
            spec["imagePullSecrets"] = [{"name": s.get("name", "")} for s in sa["imagePullSecrets"]]

    def validate(self, req: AdmissionRequest, ctx: AdmissionContext) -> None:
        if req.resource != "pods" or req.group or req.object is None:
            return
        if req.operation != CREATE and req.subresource != "ephemeralcontainers":
            return
        pod = req.object
        spec = pod.get("spec") or {}
        if "kubernetes.io/config.mirror" in ((pod.get("metadata") or {}).get("annotations") or {}):
            if spec.get("serviceAccountName"):
                raise forbidden(req, "a mirror pod may not reference service accounts")
            if pod_secret_names(pod):
                raise forbidden(req, "a mirror pod may not reference secrets")
            for v in spec.get("volumes") or ():
                if any(
                    src.get("serviceAccountToken")
                    for src in (v.get("projected") or {}).get("sources") or ()
                ):
                    raise forbidden(
                        req, "a mirror pod may not use ServiceAccountToken volume projections"
                    )
            return
        self._lookup(req, ctx, spec.get("serviceAccountName", ""))

    def _lookup(self, req: AdmissionRequest, ctx: AdmissionContext, name: str) -> dict[str, Any]:
        sa = ctx.store.get("ServiceAccount", req.namespace, name)
        if sa is None:
            raise forbidden(
                req,
                f'error looking up service account {req.namespace}/{name}: serviceaccount "{name}" not found',
            )
        return sa

    def _mount(self, spec: dict[str, Any], ctx: AdmissionContext) -> None:
        vol_name, has_volume = "", False
        for v in spec.get("volumes") or ():
            if v.get("name", "").startswith("kube-api-access-"):
                vol_name, has_volume = v["name"], True
                break
        if not vol_name:
            vol_name = "kube-api-access-" + "".join(ctx.rng.choice(_NAME_CHARS) for _ in range(5))
        needs = False
        for key in ("initContainers", "containers"):
            for c in spec.get(key) or ():
                if not any(
                    m.get("mountPath") == TOKEN_MOUNT_PATH for m in c.get("volumeMounts") or ()
                ):
                    c.setdefault("volumeMounts", []).append(
                        {"name": vol_name, "readOnly": True, "mountPath": TOKEN_MOUNT_PATH}
                    )
                    needs = True
        if needs and not has_volume:
            spec.setdefault("volumes", []).append(_token_volume(vol_name))


# -- DefaultTolerationSeconds and TaintNodesByCondition ---------------------------------------


class AlwaysPullImages:
    """Forces `imagePullPolicy: Always` on every container of a new or updated pod, so that a
    pod can only use an image its credentials could pull (the image cache is no loophole)."""

    name = "AlwaysPullImages"

    @staticmethod
    def _containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
        spec = pod.get("spec") or {}
        return [
            c
            for field in ("initContainers", "containers", "ephemeralContainers")
            for c in spec.get(field) or ()
            if isinstance(c, dict)
        ]

    @staticmethod
    def _applies(req: AdmissionRequest) -> bool:
        return (
            req.resource == "pods"
            and not req.group
            and req.object is not None
            and req.operation in (CREATE, UPDATE)
            and req.subresource in ("", "ephemeralcontainers")
        )

    def admit(self, req: AdmissionRequest, ctx: AdmissionContext) -> None:
        if self._applies(req):
            for c in self._containers(req.object or {}):
                c["imagePullPolicy"] = "Always"

    def validate(self, req: AdmissionRequest, ctx: AdmissionContext) -> None:
        if not self._applies(req):
            return
        for i, c in enumerate(self._containers(req.object or {})):
            if c.get("imagePullPolicy") != "Always":
                raise StatusError(
                    "Invalid", 422,
                    f'pods "{object_name(req)}" is invalid: spec.containers[{i}].imagePullPolicy: '
                    f'Unsupported value: "{c.get("imagePullPolicy", "")}": supported values: "Always"',
                )  # fmt: skip


class DefaultTolerationSeconds:
    """Adds `node.kubernetes.io/not-ready` and `.../unreachable` NoExecute tolerations for
    300 s (the two `--default-*-toleration-seconds` flags) unless the pod tolerates them."""

    name = "DefaultTolerationSeconds"

    def __init__(self, not_ready_seconds: int = 300, unreachable_seconds: int = 300) -> None:
        self.seconds = {
            "node.kubernetes.io/not-ready": not_ready_seconds,
            "node.kubernetes.io/unreachable": unreachable_seconds,
        }

    def admit(self, req: AdmissionRequest, ctx: AdmissionContext) -> None:
        if req.resource != "pods" or req.group or req.subresource or req.object is None:
            return
        if req.operation not in (CREATE, UPDATE):
            return
        spec = req.object.setdefault("spec", {})
        tolerations = spec.get("tolerations") or []
        for key, secs in self.seconds.items():
            covered = any(
                t.get("key", "") in (key, "") and t.get("effect", "") in ("NoExecute", "")
                for t in tolerations
            )
            if not covered:
                tolerations = [
                    *tolerations,
                    {
                        "key": key,
                        "operator": "Exists",
                        "effect": "NoExecute",
                        "tolerationSeconds": secs,
                    },
                ]
        spec["tolerations"] = tolerations


class TaintNodesByCondition:
    """New Nodes start tainted `node.kubernetes.io/not-ready:NoSchedule` until the node
    lifecycle controller sees them Ready."""

    name = "TaintNodesByCondition"

    def admit(self, req: AdmissionRequest, ctx: AdmissionContext) -> None:
        if req.kind != "Node" or req.subresource or req.operation != CREATE or req.object is None:
            return
        spec = req.object.setdefault("spec", {})
        taints = spec.get("taints") or []
        if not any(
            t.get("key") == "node.kubernetes.io/not-ready" and t.get("effect") == "NoSchedule"
            for t in taints
        ):
            spec["taints"] = [
                *taints,
                {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"},
            ]


# -- Priority ----------------------------------------------------------------------------------

SYSTEM_PRIORITY_CLASSES = (
    {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "system-node-critical"},
     "value": 2000001000, "description": "Used for system critical pods that must not be moved from their current node.",
     "preemptionPolicy": "PreemptLowerPriority"},
    {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "system-cluster-critical"},
     "value": 2000000000, "description": "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
     "preemptionPolicy": "PreemptLowerPriority"},
)  # fmt: skip


class Priority:
    """Resolves `priorityClassName` to `spec.priority` and `preemptionPolicy` on pod create
    (the global default class, else 0); refuses a second globalDefault PriorityClass."""

    name = "Priority"

    def _classes(self, ctx: AdmissionContext) -> dict[str, dict[str, Any]]:
        found = {pc["metadata"]["name"]: pc for pc in SYSTEM_PRIORITY_CLASSES}
        found.update({pc["metadata"]["name"]: pc for pc in ctx.store.list("PriorityClass")})
        return found

    def _default(self, ctx: AdmissionContext) -> dict[str, Any] | None:
        best = None
        for pc in self._classes(ctx).values():  # several defaults (a race): the lowest value wins
            if pc.get("globalDefault") and (
                best is None or best.get("value", 0) > pc.get("value", 0)
            ):
                best = pc
        return best

    def admit(self, req: AdmissionRequest, ctx: AdmissionContext) -> None:
        if req.resource != "pods" or req.group or req.subresource or req.object is None:
            return
        spec = req.object.setdefault("spec", {})
        if req.operation == UPDATE and req.old_object is not None:
            old = req.old_object.get("spec") or {}
            for key in ("priority", "preemptionPolicy"):
                if spec.get(key) is None and old.get(key) is not None:
                    spec[key] = old[key]
            return
        if req.operation != CREATE:
            return
        if not spec.get("priorityClassName"):
            pc = self._default(ctx)
            name = pc["metadata"]["name"] if pc else ""
            priority = pc.get("value", 0) if pc else 0
            policy = (
                pc.get("preemptionPolicy", "PreemptLowerPriority") if pc else "PreemptLowerPriority"
            )
            if name:
                spec["priorityClassName"] = name
        else:
            pc = self._classes(ctx).get(spec["priorityClassName"])
            if pc is None:
                raise forbidden(
                    req, f"no PriorityClass with name {spec['priorityClassName']} was found"
                )
            priority, policy = (
                pc.get("value", 0),
                pc.get("preemptionPolicy", "PreemptLowerPriority"),
            )
        if spec.get("priority") is not None and spec["priority"] != priority:
            raise forbidden(
                req,
                f"the integer value of priority ({spec['priority']}) must not be provided in pod spec; "
                f"priority admission controller computed {priority} from the given PriorityClass name",
            )
        spec["priority"] = priority
        if policy:
            if spec.get("preemptionPolicy") not in (None, policy):
                raise forbidden(
                    req,
                    f"the string value of PreemptionPolicy ({spec['preemptionPolicy']}) must not be provided in pod "
                    f"spec; priority admission controller computed {policy} from the given PriorityClass name",
                )
            spec["preemptionPolicy"] = policy

    def validate(self, req: AdmissionRequest, ctx: AdmissionContext) -> None:
        if (
            req.kind != "PriorityClass"
            or req.operation not in (CREATE, UPDATE)
            or req.object is None
        ):
            return
        if not req.object.get("globalDefault"):
            return
        pc = self._default(ctx)
        if pc is not None and (req.operation == CREATE or pc["metadata"]["name"] != req.name):
            raise forbidden(
                req,
                f"PriorityClass {pc['metadata']['name']} is already marked as default. Only one default can exist",
            )


# -- NodeRestriction ---------------------------------------------------------------------------

_KUBELET_LABELS = {
    "kubernetes.io/hostname", "topology.kubernetes.io/zone", "topology.kubernetes.io/region",
    "failure-domain.beta.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/region",
    "beta.kubernetes.io/instance-type", "node.kubernetes.io/instance-type", "kubernetes.io/os",
    "kubernetes.io/arch", "beta.kubernetes.io/os", "beta.kubernetes.io/arch",
}  # fmt: skip


def _label_ns(key: str) -> str:
    return key.split("/", 1)[0] if "/" in key else ""


def _forbidden_labels(modified: set[str]) -> list[str]:
    out = set()
    for key in modified:
        ns = _label_ns(key)
        if ns == "node-restriction.kubernetes.io" or ns.endswith(".node-restriction.kubernetes.io"):
            out.add(key)
        is_k8s = ns in ("kubernetes.io", "k8s.io") or ns.endswith((".kubernetes.io", ".k8s.io"))
        kubelet_ok = key in _KUBELET_LABELS or any(
            ns == allowed or ns.endswith("." + allowed)
            for allowed in ("kubelet.kubernetes.io", "node.kubernetes.io")
        )
        if is_k8s and not kubelet_ok:
            out.add(key)
    return sorted(out)


def _modified(a: Mapping[str, str], b: Mapping[str, str]) -> set[str]:
    return {k for k in set(a) | set(b) if a.get(k) != b.get(k)}


class NodeRestriction:
    """Limits kubelets (`system:node:<n>` in `system:nodes`) to their own Node, Lease and
    mirror pods, and to the status and eviction of pods bound to them."""

    name = "NodeRestriction"

    def admit(self, req: AdmissionRequest, ctx: AdmissionContext) -> None:
        node, is_node = node_identity(req.user)
        if not is_node:
            return
        if not node:
            raise forbidden(req, f'could not determine node from user "{req.user.name}"')
        key = (req.group, req.resource)
        if key == ("", "pods"):
            {"": self._pod, "status": self._pod_status, "eviction": self._eviction}.get(
                req.subresource, self._bad_sub
            )(node, req, ctx)
        elif key == ("", "nodes"):
            self._node(node, req)
        elif key == ("", "persistentvolumeclaims") and req.subresource != "status":
            raise forbidden(req, "may only update PVC status")
        elif key == ("coordination.k8s.io", "leases"):
            if req.namespace != "kube-node-lease":
                raise forbidden(
                    req, 'can only access leases in the "kube-node-lease" system namespace'
                )
            lease = (
                (req.object or {}).get("metadata", {}).get("name", "")
                if req.operation == CREATE
                else req.name
            )
            if lease != node:
                raise forbidden(
                    req, "can only access node lease with the same name as the requesting node"
                )

    def _bad_sub(self, node: str, req: AdmissionRequest, ctx: AdmissionContext) -> None:
        raise forbidden(
            req,
            f"unexpected pod subresource \"{req.subresource}\", only 'status' and 'eviction' are allowed",
        )

    def _pod(self, node: str, req: AdmissionRequest, ctx: AdmissionContext) -> None:
        if req.operation == DELETE:
            existing = ctx.store.get("Pod", req.namespace, req.name)
            if existing is None:
                raise not_found("pods", req.name)
            if (existing.get("spec") or {}).get("nodeName") != node:
                raise forbidden(
                    req, f'node "{node}" can only delete pods with spec.nodeName set to itself'
                )
            return
        if req.operation != CREATE:
            raise forbidden(
                req,
                f'unexpected operation "{req.operation}", node "{node}" can only create and delete mirror pods',
            )
        pod = req.object or {}
        meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
        if "kubernetes.io/config.mirror" not in (meta.get("annotations") or {}):
            raise forbidden(
                req,
                f'pod does not have "kubernetes.io/config.mirror" annotation, node "{node}" can only create mirror pods',
            )
        if spec.get("nodeName") != node:
            raise forbidden(
                req, f'node "{node}" can only create pods with spec.nodeName set to itself'
            )
        owners = meta.get("ownerReferences") or []
        if len(owners) > 1:
            raise forbidden(
                req,
                f'node "{node}" can only create pods with a single owner reference set to itself',
            )
        if (
            not owners
            or owners[0].get("apiVersion") != "v1"
            or owners[0].get("kind") != "Node"
            or owners[0].get("name") != node
        ):
            raise forbidden(
                req, f'node "{node}" can only create pods with an owner reference set to itself'
            )
        if not owners[0].get("controller"):
            raise forbidden(
                req,
                f'node "{node}" can only create pods with a controller owner reference set to itself',
            )
        if owners[0].get("blockOwnerDeletion"):
            raise forbidden(
                req, f'node "{node}" must not set blockOwnerDeletion on an owner reference'
            )
        node_obj = ctx.store.get("Node", "", node)
        if node_obj is None:
            raise not_found("nodes", node)
        node_uid = (node_obj.get("metadata") or {}).get("uid", "")
        if owners[0].get("uid", "") != node_uid:
            raise forbidden(
                req, f"node {node} UID mismatch: expected {owners[0].get('uid', '')} got {node_uid}"
            )
        if spec.get("serviceAccountName"):
            raise forbidden(
                req, f'node "{node}" can not create pods that reference a service account'
            )
        if pod_secret_names(pod):
            raise forbidden(req, f'node "{node}" can not create pods that reference secrets')
        if pod_configmap_names(pod):
            raise forbidden(req, f'node "{node}" can not create pods that reference configmaps')
        if any(v.get("persistentVolumeClaim") for v in spec.get("volumes") or ()):
            raise forbidden(
                req, f'node "{node}" can not create pods that reference persistentvolumeclaims'
            )

    def _pod_status(self, node: str, req: AdmissionRequest, ctx: AdmissionContext) -> None:
        if req.operation != UPDATE:
            raise forbidden(req, f'unexpected operation "{req.operation}"')
        old = req.old_object or {}
        if (old.get("spec") or {}).get("nodeName") != node:
            raise forbidden(
                req,
                f'node "{node}" can only update pod status for pods with spec.nodeName set to itself',
            )
        if ((old.get("metadata") or {}).get("labels") or {}) != (
            ((req.object or {}).get("metadata") or {}).get("labels") or {}
        ):
            raise forbidden(req, f'node "{node}" cannot update labels through pod status')

    def _eviction(self, node: str, req: AdmissionRequest, ctx: AdmissionContext) -> None:
        if req.operation != CREATE:
            raise forbidden(req, f"unexpected operation {req.operation}")
        pod_name = req.name or ((req.object or {}).get("metadata") or {}).get("name", "")
        if not pod_name:
            raise forbidden(req, "could not determine pod from request data")
        existing = ctx.store.get("Pod", req.namespace, pod_name)
        if existing is None:
            raise not_found("pods", pod_name)
        if (existing.get("spec") or {}).get("nodeName") != node:
            raise forbidden(
                req, f"node {node} can only evict pods with spec.nodeName set to itself"
            )

    def _node(self, node: str, req: AdmissionRequest) -> None:
        name = req.name or ((req.object or {}).get("metadata") or {}).get("name", "")
        if name != node:
            raise forbidden(req, f'node "{node}" is not allowed to modify node "{name}"')
        obj = req.object or {}
        labels = (obj.get("metadata") or {}).get("labels") or {}
        if req.operation == CREATE:
            if (obj.get("spec") or {}).get("configSource") is not None:
                raise forbidden(
                    req, f'node "{node}" is not allowed to create pods with a non-nil configSource'
                )
            bad = _forbidden_labels(_modified(labels, {}))
            if bad:
                raise forbidden(
                    req,
                    f'node "{node}" is not allowed to set the following labels: {", ".join(bad)}',
                )
        elif req.operation == UPDATE:
            old = req.old_object or {}
            source = (obj.get("spec") or {}).get("configSource")
            if source is not None and source != (old.get("spec") or {}).get("configSource"):
                raise forbidden(
                    req,
                    f'node "{node}" is not allowed to update configSource to a new non-nil configSource',
                )
            if (obj.get("spec") or {}).get("taints") != (old.get("spec") or {}).get("taints"):
                raise forbidden(req, f'node "{node}" is not allowed to modify taints')
            bad = _forbidden_labels(
                _modified(labels, (old.get("metadata") or {}).get("labels") or {})
            )
            if bad:
                raise forbidden(req, f"is not allowed to modify labels: {', '.join(bad)}")


class _WebhookSlot:
    """Marks where the webhook plugins sit in the chain; AdmissionChain calls the webhooks."""

    def __init__(self, name: str) -> None:
        self.name = name


# Plugin factories by upstream name (AdmissionChain instantiates the enabled ones in order).
IN_TREE: dict[str, Any] = {
    "NamespaceLifecycle": NamespaceLifecycle,
    "LimitRanger": LimitRanger,
    "ServiceAccount": ServiceAccount,
    "NodeRestriction": NodeRestriction,
    "TaintNodesByCondition": TaintNodesByCondition,
    "PodSecurity": PodSecurity,
    "Priority": Priority,
    "DefaultTolerationSeconds": DefaultTolerationSeconds,
    "AlwaysPullImages": AlwaysPullImages,
    "MutatingAdmissionWebhook": lambda: _WebhookSlot("MutatingAdmissionWebhook"),
    "ValidatingAdmissionWebhook": lambda: _WebhookSlot("ValidatingAdmissionWebhook"),
    "ResourceQuota": ResourceQuota,
}
