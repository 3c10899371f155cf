"""The Node authorizer: a kubelet may read only what the pods bound to it use, and write only its
own Node, Lease and pod status; for anything else it has the `system:node` role's rules.

Semantics: plugin/pkg/auth/authorizer/node (node_authorizer.go, and graph.go's node <- pod <-
secret/configmap/pvc <- pv edges) and pkg/api/v1/pod's VisitPodSecretNames/ConfigmapNames.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..api.gofmt import go_quote
from .rbac import ALLOW, NO_OPINION, Decision, _name, _ns, rules_allow
from .rbac_bootstrap import node_rules
from .request import Attributes, UserInfo

NODE_USER_PREFIX = "system:node:"
NODE_LEASE_NAMESPACE = "kube-node-lease"


def node_identity(user: UserInfo | None) -> tuple[str, bool]:
    """(node name, is a node): a node is in `system:nodes` and named `system:node:<name>`."""
    if (
        user is None
        or "system:nodes" not in user.groups
        or not user.name.startswith(NODE_USER_PREFIX)
    ):
        return "", False
    return user.name[len(NODE_USER_PREFIX) :], True


def _containers(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [
        *(spec.get("initContainers") or ()),
        *(spec.get("containers") or ()),
        *(spec.get("ephemeralContainers") or ()),
    ]


def pod_secret_names(pod: Mapping[str, Any]) -> list[str]:
    """Secrets a pod references (pull secrets, volumes, env), as VisitPodSecretNames."""
    spec = pod.get("spec") or {}
    names = [s.get("name", "") for s in spec.get("imagePullSecrets") or ()]
    for c in _containers(spec):
        names += [
            e["secretRef"].get("name", "") for e in c.get("envFrom") or () if e.get("secretRef")
        ]
        for e in c.get("env") or ():
            ref = (e.get("valueFrom") or {}).get("secretKeyRef")
            if ref:
                names.append(ref.get("name", ""))
    for v in spec.get("volumes") or ():
        if v.get("secret"):
            names.append(v["secret"].get("secretName", ""))
        for src in (v.get("projected") or {}).get("sources") or ():
            if src.get("secret"):
                names.append(src["secret"].get("name", ""))
    return [n for n in dict.fromkeys(names) if n]


def pod_configmap_names(pod: Mapping[str, Any]) -> list[str]:
    """ConfigMaps a pod references (volumes, env), as VisitPodConfigmapNames."""
    spec = pod.get("spec") or {}
    names = []
    for c in _containers(spec):
        names += [
            e["configMapRef"].get("name", "")
            for e in c.get("envFrom") or ()
            if e.get("configMapRef")
        ]
        for e in c.get("env") or ():
            ref = (e.get("valueFrom") or {}).get("configMapKeyRef")
            if ref:
                names.append(ref.get("name", ""))
    for v in spec.get("volumes") or ():
        if v.get("configMap"):
            names.append(v["configMap"].get("name", ""))
        for src in (v.get("projected") or {}).get("sources") or ():
            if src.get("configMap"):
                names.append(src["configMap"].get("name", ""))
    return [n for n in dict.fromkeys(names) if n]


class NodeAuthorizer:
    """Lets a kubelet (`system:node:<n>`) read what its own pods use and write its own Node,
    Lease and pod status; other resources fall back to the `system:node` rules. The graph of
    node <- pod <- secret/configmap/pvc <- pv is built from the object dicts given."""

    def __init__(self, objects: Iterable[Mapping[str, Any]] = ()) -> None:
        self.nodes: set[str] = set()
        self.edges: dict[tuple[str, str, str], str] = {}  # (type, ns, name) -> node
        pvc_to_pv: dict[tuple[str, str], str] = {}
        pods = []
        for o in objects:
            kind = o.get("kind")
            if kind == "Node":
                self.nodes.add(_name(o))
            elif kind == "Pod":
                pods.append(o)
            elif kind == "PersistentVolumeClaim" and (o.get("spec") or {}).get("volumeName"):
                pvc_to_pv[(_ns(o), _name(o))] = o["spec"]["volumeName"]
        self._reach: dict[tuple[str, str, str], set[str]] = {}
        for pod in pods:
            node = (pod.get("spec") or {}).get("nodeName")
            if not node:
                continue
            self.nodes.add(node)
            ns = _ns(pod)
            refs = [("pod", ns, _name(pod))]
            refs += [("secret", ns, n) for n in pod_secret_names(pod)]
            refs += [("configmap", ns, n) for n in pod_configmap_names(pod)]
            sa = (pod.get("spec") or {}).get("serviceAccountName")
            if sa:
                refs.append(("serviceAccount", ns, sa))
            for v in (pod.get("spec") or {}).get("volumes") or ():
                claim = (v.get("persistentVolumeClaim") or {}).get("claimName")
                if claim:
                    refs.append(("pvc", ns, claim))
                    if (ns, claim) in pvc_to_pv:
                        refs.append(("pv", "", pvc_to_pv[(ns, claim)]))
            for ref in refs:
                self._reach.setdefault(ref, set()).add(node)

    def _has_path(self, node: str, vtype: str, ns: str, name: str) -> bool:
        return node in self.nodes and node in self._reach.get((vtype, ns, name), set())

    def _authorize_object(self, node: str, vtype: str, attrs: Attributes) -> Decision:
        if not attrs.name:
            return Decision(NO_OPINION, "No Object name found")
        if self._has_path(node, vtype, attrs.namespace, attrs.name):
            return Decision(ALLOW)
        return Decision(NO_OPINION, f"no relationship found between node '{node}' and this object")

    def authorize(self, attrs: Attributes) -> Decision:
        """Node authorization of one request (NoOpinion for anyone who is not a node)."""
        node, is_node = node_identity(attrs.user)
        if not is_node:
            return Decision(NO_OPINION)
        if not node:
            return Decision(NO_OPINION, f"unknown node for user {go_quote(attrs.user.name)}")
        if attrs.is_resource_request:
            handler = {
                ("", "secrets"): self._read_namespaced,
                ("", "configmaps"): self._read_namespaced,
                ("", "persistentvolumeclaims"): self._pvc,
                ("", "persistentvolumes"): self._get_only,
                ("", "serviceaccounts"): self._token,
                ("coordination.k8s.io", "leases"): self._lease,
                ("", "nodes"): self._node,
                ("", "pods"): self._pod,
            }.get((attrs.api_group, attrs.resource))
            if handler is not None:
                return handler(node, attrs)
        return Decision(ALLOW) if rules_allow(attrs, node_rules()) else Decision(NO_OPINION)

    def _vtype(self, attrs: Attributes) -> str:
        return {
            "secrets": "secret",
            "configmaps": "configmap",
            "persistentvolumeclaims": "pvc",
            "persistentvolumes": "pv",
            "pods": "pod",
            "serviceaccounts": "serviceAccount",
        }[attrs.resource]

    def _read_namespaced(self, node: str, attrs: Attributes) -> Decision:
        if attrs.verb not in ("get", "list", "watch"):
            return Decision(NO_OPINION, "can only read resources of this type")
        if attrs.subresource:
            return Decision(NO_OPINION, "cannot read subresource")
        if not attrs.namespace:
            return Decision(NO_OPINION, "can only read namespaced object of this type")
        return self._authorize_object(node, self._vtype(attrs), attrs)

    def _get_only(self, node: str, attrs: Attributes) -> Decision:
        if attrs.verb != "get":
            return Decision(NO_OPINION, "can only get individual resources of this type")
        if attrs.subresource:
            return Decision(NO_OPINION, "cannot get subresource")
        return self._authorize_object(node, self._vtype(attrs), attrs)

    def _pvc(self, node: str, attrs: Attributes) -> Decision:
        if attrs.subresource == "status":
            if attrs.verb not in ("update", "patch"):
                return Decision(NO_OPINION, "can only get/update/patch this type")
            return self._authorize_object(node, "pvc", attrs)
        return self._get_only(node, attrs)

    def _token(self, node: str, attrs: Attributes) -> Decision:
        if attrs.verb != "create" or not attrs.name:
            return Decision(NO_OPINION, "can only create tokens for individual service accounts")
        if attrs.subresource != "token":
            return Decision(NO_OPINION, "can only create token subresource of serviceaccount")
        return self._authorize_object(node, "serviceAccount", attrs)

    def _lease(self, node: str, attrs: Attributes) -> Decision:
        if attrs.verb not in ("get", "create", "update", "patch", "delete"):
            return Decision(
                NO_OPINION, "can only get, create, update, patch, or delete a node lease"
            )
        if attrs.namespace != NODE_LEASE_NAMESPACE:
            return Decision(
                NO_OPINION,
                f'can only access leases in the "{NODE_LEASE_NAMESPACE}" system namespace',
            )
        if attrs.verb != "create" and attrs.name != node:
            return Decision(
                NO_OPINION, "can only access node lease with the same name as the requesting node"
            )
        return Decision(ALLOW)

    def _node(self, node: str, attrs: Attributes) -> Decision:
        if attrs.subresource == "":
            if attrs.verb in ("create", "update", "patch"):
                return Decision(ALLOW)  # NodeRestriction limits this to the node's own object
            if attrs.verb in ("get", "list", "watch"):
                if attrs.name == node:
                    return Decision(ALLOW)
                if not attrs.name:
                    return Decision(
                        NO_OPINION, f"node '{node}' cannot read all nodes, only its own Node object"
                    )
                return Decision(
                    NO_OPINION,
                    f"node '{node}' cannot read '{attrs.name}', only its own Node object",
                )
        elif attrs.subresource == "status" and attrs.verb in ("update", "patch"):
            return Decision(ALLOW)
        return Decision(NO_OPINION)

    def _pod(self, node: str, attrs: Attributes) -> Decision:
        if attrs.subresource == "":
            if attrs.verb == "get":
                return self._get_only(node, attrs)
            if attrs.verb in ("list", "watch"):
                if f"spec.nodeName={node}" in attrs.field_selector.split(","):
                    return Decision(ALLOW)
                if attrs.name:
                    return self._authorize_object(node, "pod", attrs)
                return Decision(
                    NO_OPINION, "can only list/watch pods with spec.nodeName field selector"
                )
            if attrs.verb in ("create", "delete"):
                return Decision(ALLOW)  # mirror pods; NodeRestriction checks the binding
        elif attrs.subresource == "status" and attrs.verb in ("update", "patch"):
            return Decision(ALLOW)
        elif attrs.subresource == "eviction" and attrs.verb == "create":
            return Decision(ALLOW)
        return Decision(NO_OPINION)
