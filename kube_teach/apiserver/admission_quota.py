"""ResourceQuota admission: charge each write against the namespace's quotas, or refuse it.

Semantics: apiserver's admission/plugin/resourcequota (CheckRequest: `failed quota`,
`exceeded quota: <name>, requested: ..., used: ..., limited: ...`), kube's quota evaluators for
pods (compute usage from requests and limits, scopes, the "must specify" constraint), services,
persistent volume claims and generic `count/<resource>.<group>` object counts, and the
resourcequota controller's recomputation of `status.used` (quota_status).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from ..api.quantity import Quantity
from ..api.selectors import Selector, new_requirement
from .admission import CREATE, UPDATE, AdmissionContext, AdmissionRequest, forbidden

ResourceList = dict[str, Quantity]
_LEGACY_COUNTS = {
    ("", "pods"): "pods", ("", "services"): "services", ("", "replicationcontrollers"): "replicationcontrollers",
    ("", "resourcequotas"): "resourcequotas", ("", "secrets"): "secrets", ("", "configmaps"): "configmaps",
    ("", "persistentvolumeclaims"): "persistentvolumeclaims",
}  # fmt: skip
# If a quota limits any of these, every container must state it (a historical mistake kept).
_VALIDATION_SET = {
    "cpu",
    "memory",
    "requests.cpu",
    "requests.memory",
    "limits.cpu",
    "limits.memory",
}
_NATIVE_PREFIXES = ("kubernetes.io/", "requests.", "limits.")


def _rl(d: Mapping[str, Any] | None) -> ResourceList:
    return {k: Quantity(v) for k, v in (d or {}).items()}


def _add(a: ResourceList, b: Mapping[str, Quantity]) -> ResourceList:
    out = dict(a)
    for k, v in b.items():
        out[k] = out[k] + v if k in out else v
    return out


def _max(a: ResourceList, b: Mapping[str, Quantity]) -> ResourceList:
    out = dict(a)
    for k, v in b.items():
        if k not in out or v > out[k]:
            out[k] = v
    return out


def _aggregate(pod: Mapping[str, Any], key: str) -> ResourceList:
    """component-helpers' PodRequests / PodLimits: app containers summed, restartable init
    containers (sidecars) added cumulatively, the largest init-container step as a floor."""
    spec = pod.get("spec") or {}
    total: ResourceList = {}
    for c in spec.get("containers") or ():
        total = _add(total, _rl((c.get("resources") or {}).get(key)))
    sidecars: ResourceList = {}
    init_max: ResourceList = {}
    for c in spec.get("initContainers") or ():
        r = _rl((c.get("resources") or {}).get(key))
        if c.get("restartPolicy") == "Always":
            total = _add(total, r)
            sidecars = _add(sidecars, r)
            step = dict(sidecars)
        else:
            step = _add(r, sidecars)
        init_max = _max(init_max, step)
    total = _max(total, init_max)
    overhead = _rl(spec.get("overhead"))
    if key == "requests":
        total = _add(total, overhead)
    else:
        total = _add(total, {k: v for k, v in overhead.items() if k in total})
    return total


def pod_requests(pod: Mapping[str, Any]) -> ResourceList:
    """The pod's effective requests (with init containers, sidecars and overhead)."""
    return _aggregate(pod, "requests")


def pod_limits(pod: Mapping[str, Any]) -> ResourceList:
    """The pod's effective limits."""
    return _aggregate(pod, "limits")


def _compute_usage(requests: ResourceList, limits: ResourceList) -> ResourceList:
    out: ResourceList = {"pods": Quantity("1")}
    for res in ("cpu", "memory", "ephemeral-storage"):
        if res in requests:
            out[res] = requests[res]
            out[f"requests.{res}"] = requests[res]
        if res in limits:
            out[f"limits.{res}"] = limits[res]
    for res, q in requests.items():
        if res.startswith("hugepages-"):
            out[res] = q
            out[f"requests.{res}"] = q
        elif "/" in res and not res.startswith(_NATIVE_PREFIXES):  # extended resources
            out[f"requests.{res}"] = q
    return out


def _terminal(pod: Mapping[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def pod_usage(pod: Mapping[str, Any]) -> ResourceList:
    """PodUsageFunc: `count/pods` always; compute resources unless the pod is terminal."""
    out: ResourceList = {"count/pods": Quantity("1")}
    if _terminal(pod):
        return out
    return _add(out, _compute_usage(pod_requests(pod), pod_limits(pod)))


def _best_effort(pod: Mapping[str, Any]) -> bool:
    spec = pod.get("spec") or {}
    for c in [*(spec.get("containers") or ()), *(spec.get("initContainers") or ())]:
        r = c.get("resources") or {}
        for part in ("requests", "limits"):
            if any(k in ("cpu", "memory") for k in r.get(part) or {}):
                return False
    return True


def _scope_matches(scope: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    spec = pod.get("spec") or {}
    name = scope.get("scopeName")
    if name in ("Terminating", "NotTerminating"):
        terminating = (spec.get("activeDeadlineSeconds") or -1) >= 0
        return terminating == (name == "Terminating")
    if name in ("BestEffort", "NotBestEffort"):
        return _best_effort(pod) == (name == "BestEffort")
    if name == "PriorityClass":
        pc = spec.get("priorityClassName") or ""
        if scope.get("operator") == "Exists":
            return bool(pc)
        ops = {"In": "in", "NotIn": "notin", "DoesNotExist": "!"}
        req = new_requirement(
            "PriorityClass", ops[scope.get("operator", "In")], scope.get("values") or None
        )
        return Selector([req]).matches({"PriorityClass": pc} if pc else {})
    if name == "CrossNamespacePodAffinity":
        aff = spec.get("affinity") or {}
        for kind in ("podAffinity", "podAntiAffinity"):
            a = aff.get(kind) or {}
            terms = list(a.get("requiredDuringSchedulingIgnoredDuringExecution") or ())
            terms += [
                w.get("podAffinityTerm") or {}
                for w in a.get("preferredDuringSchedulingIgnoredDuringExecution") or ()
            ]
            if any(t.get("namespaces") or t.get("namespaceSelector") is not None for t in terms):
                return True
        return False
    return False


def _scopes(quota: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    spec = quota.get("spec") or {}
    out = [{"scopeName": s, "operator": "Exists"} for s in spec.get("scopes") or ()]
    return out + list((spec.get("scopeSelector") or {}).get("matchExpressions") or ())


class _Evaluator:
    """One kind's quota evaluator: which resource names it counts, and usage of an object."""

    def __init__(self, group: str, resource: str) -> None:
        self.group, self.resource = group, resource
        self.count_name = f"count/{resource}.{group}" if group else f"count/{resource}"

    def handles(self, req: AdmissionRequest) -> bool:
        return req.operation == CREATE and not req.subresource

    def matching(self, names: Iterable[str]) -> list[str]:
        legacy = _LEGACY_COUNTS.get((self.group, self.resource))
        return [n for n in names if n in (self.count_name, legacy)]

    def usage(self, obj: Mapping[str, Any]) -> ResourceList:
        out = {self.count_name: Quantity("1")}
        legacy = _LEGACY_COUNTS.get((self.group, self.resource))
        if legacy:
            out[legacy] = Quantity("1")
        return out

    def matches(self, quota: Mapping[str, Any], obj: Mapping[str, Any]) -> bool:
        hard = ((quota.get("status") or {}).get("hard")) or {}
        return bool(self.matching(hard)) and all(self.scope_matches(s, obj) for s in _scopes(quota))

    def scope_matches(self, scope: Mapping[str, Any], obj: Mapping[str, Any]) -> bool:
        return True

    def constraints(self, required: list[str], obj: Mapping[str, Any]) -> str | None:
        return None


class _PodEvaluator(_Evaluator):
    _RESOURCES = ("count/pods", "cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory",
                  "requests.ephemeral-storage", "limits.cpu", "limits.memory", "limits.ephemeral-storage", "pods")  # fmt: skip

    def handles(self, req: AdmissionRequest) -> bool:
        if req.subresource not in ("", "resize"):
            return False
        return req.operation == CREATE or (req.subresource == "resize" and req.operation == UPDATE)

    def matching(self, names: Iterable[str]) -> list[str]:
        names = list(names)
        out = [n for n in names if n in self._RESOURCES]
        out += [n for n in names if n.startswith(("hugepages-", "requests.hugepages-"))]
        out += [n for n in names if n.startswith("requests.") and "/" in n]
        return out

    def usage(self, obj: Mapping[str, Any]) -> ResourceList:
        return pod_usage(obj)

    def scope_matches(self, scope: Mapping[str, Any], obj: Mapping[str, Any]) -> bool:
        return _scope_matches(scope, obj)

    def constraints(self, required: list[str], obj: Mapping[str, Any]) -> str | None:
        need = set(required) & _VALIDATION_SET
        missing: dict[str, set[str]] = {}
        spec = obj.get("spec") or {}
        for c in [*(spec.get("containers") or ()), *(spec.get("initContainers") or ())]:
            r = c.get("resources") or {}
            have = set(_compute_usage(_rl(r.get("requests")), _rl(r.get("limits"))))
            for res in need - have:
                missing.setdefault(res, set()).add(c.get("name", ""))
        if not missing:
            return None
        parts = [f"{res} for: {','.join(sorted(missing[res]))}" for res in sorted(missing)]
        return "must specify " + "; ".join(parts)


class _ServiceEvaluator(_Evaluator):
    def handles(self, req: AdmissionRequest) -> bool:
        return req.operation in (CREATE, UPDATE) and not req.subresource

    def matching(self, names: Iterable[str]) -> list[str]:
        names = list(names)
        return super().matching(names) + [
            n for n in names if n in ("services.loadbalancers", "services.nodeports")
        ]

    def usage(self, obj: Mapping[str, Any]) -> ResourceList:
        out = super().usage(obj)
        spec = obj.get("spec") or {}
        t = spec.get("type", "ClusterIP")
        ports = len(spec.get("ports") or ())
        out["services.loadbalancers"] = Quantity("1" if t == "LoadBalancer" else "0")
        out["services.nodeports"] = Quantity(str(ports if t in ("NodePort", "LoadBalancer") else 0))
        return out


class _PVCEvaluator(_Evaluator):
    def handles(self, req: AdmissionRequest) -> bool:
        return req.operation in (CREATE, UPDATE) and not req.subresource

    def matching(self, names: Iterable[str]) -> list[str]:
        names = list(names)
        return super().matching(names) + [
            n
            for n in names
            if n == "requests.storage"
            or n.endswith(".storageclass.storage.k8s.io/requests.storage")
            or n.endswith(".storageclass.storage.k8s.io/persistentvolumeclaims")
        ]

    def usage(self, obj: Mapping[str, Any]) -> ResourceList:
        out = super().usage(obj)
        spec = obj.get("spec") or {}
        storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
        sc = spec.get("storageClassName")
        if sc:
            out[f"{sc}.storageclass.storage.k8s.io/persistentvolumeclaims"] = Quantity("1")
        if storage is not None:
            out["requests.storage"] = Quantity(storage)
            if sc:
                out[f"{sc}.storageclass.storage.k8s.io/requests.storage"] = Quantity(storage)
        return out


def evaluator_for(group: str, resource: str) -> _Evaluator:
    """The quota evaluator kube-apiserver registers for a resource."""
    cls = {
        ("", "pods"): _PodEvaluator,
        ("", "services"): _ServiceEvaluator,
        ("", "persistentvolumeclaims"): _PVCEvaluator,
    }
    return cls.get((group, resource), _Evaluator)(group, resource)


def _pretty(rl: Mapping[str, Quantity]) -> str:
    return ",".join(f"{k}={rl[k]}" for k in sorted(rl))


def check_request(quotas: list[dict[str, Any]], req: AdmissionRequest) -> list[dict[str, Any]]:
    """CheckRequest: the quotas with the request's usage added to `status.used`, or raise
    StatusError 403. Quotas are judged by their `status` (hard and used), as upstream."""
    ev = evaluator_for(req.group, req.resource)
    if not ev.handles(req) or req.object is None:
        return quotas
    obj = req.object
    interesting = []
    for i, q in enumerate(quotas):
        if not ev.matches(q, obj):
            continue
        status = q.get("status") or {}
        restricted = ev.matching(status.get("hard") or {})
        msg = ev.constraints(restricted, obj)
        name = (q.get("metadata") or {}).get("name", "")
        if msg is not None:
            raise forbidden(req, f"failed quota: {name}: {msg}")
        used = status.get("used") or {}
        missing = sorted(r for r in restricted if r not in used)
        if missing:
            raise forbidden(
                req, f"status unknown for quota: {name}, resources: {','.join(sorted(restricted))}"
            )
        interesting.append(i)
    usage = ev.usage(obj)
    negative = sorted(k for k, v in usage.items() if v < 0)
    if negative:
        raise forbidden(req, f"quota usage is negative for resource(s): {','.join(negative)}")
    deltas = {i: usage for i in interesting}
    if req.operation == UPDATE and req.old_object is not None:
        prev = ev.usage(req.old_object)
        delta = {k: (v - prev[k] if k in prev else v) for k, v in usage.items()}
        delta = {k: v for k, v in delta.items() if v >= 0}  # SubtractWithNonNegativeResult
        for i in interesting:
            if ev.matches(quotas[i], req.old_object):
                deltas[i] = delta
    deltas = {
        i: d
        for i, d in (
            (i, {k: v for k, v in d.items() if not v.is_zero()}) for i, d in deltas.items()
        )
        if d
    }
    if not deltas:
        return quotas
    out = copy.deepcopy(quotas)
    for i, delta in sorted(deltas.items()):
        status = out[i].setdefault("status", {})
        hard = _rl(status.get("hard"))
        used = _rl(status.get("used"))
        requested = {k: v for k, v in delta.items() if k in hard}
        new_used = _add(used, requested)
        if req.subresource != "status":
            exceeded = sorted(k for k in requested if new_used[k] > hard[k])
            if exceeded:
                name = (out[i].get("metadata") or {}).get("name", "")
                raise forbidden(
                    req,
                    f"exceeded quota: {name}, requested: {_pretty({k: requested[k] for k in exceeded})}, "
                    f"used: {_pretty({k: used[k] for k in exceeded if k in used})}, "
                    f"limited: {_pretty({k: hard[k] for k in exceeded})}",
                )
        status["used"] = {**(status.get("used") or {}), **{k: str(v) for k, v in new_used.items()}}
    return out


def quota_status(quota: Mapping[str, Any], objects: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The quota with `status` as the resourcequota controller writes it: `hard` from the spec,
    `used` summed over the namespace's matching objects (dicts with kind and metadata)."""
    q = copy.deepcopy(dict(quota))
    hard = dict((q.get("spec") or {}).get("hard") or {})
    ns = (q.get("metadata") or {}).get("namespace", "")
    used: ResourceList = {k: Quantity("0") for k in hard}
    from ..api.kinds import KINDS

    for o in objects:
        if (o.get("metadata") or {}).get("namespace", "") != ns:
            continue
        info = KINDS.get(o.get("kind", ""))
        if info is None:
            continue
        ev = evaluator_for(info.group, info.resource)
        q["status"] = {"hard": hard}
        if not ev.matches(q, o):
            continue
        names = set(ev.matching(hard))
        used = _add(used, {k: v for k, v in ev.usage(o).items() if k in names})
    q["status"] = {"hard": hard, "used": {k: str(used[k]) for k in sorted(used)}}
    return q


class ResourceQuota:
    """Validating plugin, last in the chain: charges the quotas of the request's namespace;
    the updated quotas are appended to `ctx.quota_updates` for the server to store."""

    name = "ResourceQuota"

    def validate(self, req: AdmissionRequest, ctx: AdmissionContext) -> None:
        if not req.namespace or req.operation not in (CREATE, UPDATE):
            return
        quotas = ctx.store.list("ResourceQuota", req.namespace)
        if not quotas:
            return
        updated = check_request(quotas, req)
        if updated is not quotas:
            ctx.quota_updates.extend(u for u, q in zip(updated, quotas, strict=True) if u != q)
