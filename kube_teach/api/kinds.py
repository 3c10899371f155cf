"""The kinds kube-teach serves: group, version, resource name and scope of each.

This is the simulated API server's discovery document in miniature; names, groups, short names
and scopes are upstream's, so `deployments.apps` and `kubectl get deploy` mean what they mean on
a real cluster.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KindInfo:
    """One served kind: `Deployment` is group `apps`, version `v1`, resource `deployments`."""

    kind: str
    group: str
    version: str
    resource: str
    namespaced: bool
    short_names: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        """`apps/v1`, or plain `v1` for the core group."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified_kind(self) -> str:
        """`Deployment.apps`, or plain `Pod` for the core group: the form Invalid errors use."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def type_name(self) -> str:
        """`deployment.apps`, or plain `pod`: what kubectl writes before `/<name>`."""
        kind = self.kind.lower()
        return f"{kind}.{self.group}" if self.group else kind

    @property
    def qualified_resource(self) -> str:
        """`deployments.apps`, or plain `pods`: the form NotFound and Conflict errors use."""
        return f"{self.resource}.{self.group}" if self.group else self.resource


def _k(kind, group, resource, namespaced, *short, version="v1") -> KindInfo:
    return KindInfo(kind, group, version, resource, namespaced, tuple(short))


KINDS: dict[str, KindInfo] = {
    k.kind: k
    for k in (
        _k("Namespace", "", "namespaces", False, "ns"),
        _k("Node", "", "nodes", False, "no"),
        _k("Pod", "", "pods", True, "po"),
        _k("Service", "", "services", True, "svc"),
        _k("Endpoints", "", "endpoints", True, "ep"),
        _k("ConfigMap", "", "configmaps", True, "cm"),
        _k("Secret", "", "secrets", True),
        _k("ServiceAccount", "", "serviceaccounts", True, "sa"),
        _k("Event", "", "events", True, "ev"),
        _k("LimitRange", "", "limitranges", True, "limits"),
        _k("ResourceQuota", "", "resourcequotas", True, "quota"),
        _k("PersistentVolumeClaim", "", "persistentvolumeclaims", True, "pvc"),
        _k("PersistentVolume", "", "persistentvolumes", False, "pv"),
        _k("Deployment", "apps", "deployments", True, "deploy"),
        _k("ReplicaSet", "apps", "replicasets", True, "rs"),
        _k("DaemonSet", "apps", "daemonsets", True, "ds"),
        _k("StatefulSet", "apps", "statefulsets", True, "sts"),
        _k("EndpointSlice", "discovery.k8s.io", "endpointslices", True),
        _k("Role", "rbac.authorization.k8s.io", "roles", True),
        _k("ClusterRole", "rbac.authorization.k8s.io", "clusterroles", False),
        _k("RoleBinding", "rbac.authorization.k8s.io", "rolebindings", True),
        _k("ClusterRoleBinding", "rbac.authorization.k8s.io", "clusterrolebindings", False),
        _k(
            "HorizontalPodAutoscaler",
            "autoscaling",
            "horizontalpodautoscalers",
            True,
            "hpa",
            version="v2",
        ),
        _k("PodDisruptionBudget", "policy", "poddisruptionbudgets", True, "pdb"),
        _k("PriorityClass", "scheduling.k8s.io", "priorityclasses", False, "pc"),
        _k("NetworkPolicy", "networking.k8s.io", "networkpolicies", True, "netpol"),
        _k("Lease", "coordination.k8s.io", "leases", True),
    )
}

# Older or alternative versions a manifest may name; each maps to the version served above.
_ALSO_SERVED = {
    ("autoscaling", "v1"): "HorizontalPodAutoscaler",
    ("events.k8s.io", "v1"): "Event",
}


class UnknownKindError(LookupError):
    """The kind (or its apiVersion) is not one kube-teach serves; the message is kubectl's."""


def kind_info(kind: str, api_version: str | None = None) -> KindInfo:
    """The KindInfo for `kind`, checking `api_version` when one is given.

    Raises UnknownKindError with the text kubectl prints for a kind the server lacks:
    `no matches for kind "Foo" in version "example.com/v1"`.
    """
    info = KINDS.get(kind)
    if info is None:
        raise UnknownKindError(f'no matches for kind "{kind}" in version "{api_version or ""}"')
    if api_version is not None and api_version != info.api_version:
        group, _, version = api_version.rpartition("/")
        if _ALSO_SERVED.get((group, version)) != kind:
            raise UnknownKindError(f'no matches for kind "{kind}" in version "{api_version}"')
    return info


def resolve_resource(name: str) -> KindInfo:
    """Find a kind by the names kubectl accepts: `pods`, `pod`, `po`, `Pod`, `deployments.apps`.

    Raises UnknownKindError with kubectl's text: `the server doesn't have a resource type "x"`.
    """
    key = name.strip()
    lowered = key.lower()
    base, _, group = lowered.partition(".")
    for info in KINDS.values():
        names = {info.resource, info.kind.lower(), *info.short_names}
        if lowered in names or (group and base in names and group == info.group):
            return info
    raise UnknownKindError(f'the server doesn\'t have a resource type "{key}"')
