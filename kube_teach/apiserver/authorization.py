"""`--authorization-mode`: the authorizers a running API server consults, kept up to date.

Semantics: pkg/kubeapiserver/authorizer (the mode list, evaluated in order as a union; the
`system:masters` group allowed before any of them, as the privileged-group authorizer does),
with RBAC and Node reading the cluster's objects the way their informers would: here, rebuilt
from the store when an object they depend on changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from .node_authorizer import NodeAuthorizer
from .rbac import ALLOW, NO_OPINION, Decision, RBACAuthorizer, UnionAuthorizer
from .request import Attributes

MODES = ("AlwaysAllow", "AlwaysDeny", "Node", "RBAC")
_RBAC_KINDS = frozenset({"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"})
_NODE_KINDS = frozenset(
    {"Node", "Pod", "PersistentVolumeClaim", "PersistentVolume", "VolumeAttachment"}
)
PRIVILEGED_GROUP = "system:masters"


class AlwaysAllow:
    def authorize(self, attrs: Attributes) -> Decision:
        return Decision(ALLOW)


class AlwaysDeny:
    def authorize(self, attrs: Attributes) -> Decision:
        return Decision(NO_OPINION, "Everything is forbidden.")


class PrivilegedGroups:
    """Members of `system:masters` may do anything, before any mode is asked."""

    def authorize(self, attrs: Attributes) -> Decision:
        if attrs.user is not None and PRIVILEGED_GROUP in attrs.user.groups:
            return Decision(ALLOW)
        return Decision(NO_OPINION)


class ModeAuthorizer:
    """The union of `modes` (e.g. `("Node", "RBAC")`) over objects listed by `objects(kinds)`.

    Call `changed(kind)` after a write: the RBAC or Node view is rebuilt lazily, on the next
    request that needs it.
    """

    def __init__(
        self,
        modes: Sequence[str],
        objects: Callable[[Iterable[str]], list[Mapping[str, Any]]],
    ) -> None:
        unknown = [m for m in modes if m not in MODES]
        if unknown:
            raise ValueError(
                f'authorization-mode "{unknown[0]}" is not a valid mode; '
                f"valid modes: {', '.join(MODES)}"
            )
        self.modes = tuple(modes)
        self._objects = objects
        self._rbac: RBACAuthorizer | None = None
        self._node: NodeAuthorizer | None = None

    def changed(self, kind: str) -> None:
        if kind in _RBAC_KINDS:
            self._rbac = None
        if kind in _NODE_KINDS or kind in ("Secret", "ConfigMap", "ServiceAccount"):
            self._node = None

    def _authorizers(self) -> list[Any]:
        out: list[Any] = [PrivilegedGroups()]
        for mode in self.modes:
            if mode == "AlwaysAllow":
                out.append(AlwaysAllow())
            elif mode == "AlwaysDeny":
                out.append(AlwaysDeny())
            elif mode == "RBAC":
                if self._rbac is None:
                    self._rbac = RBACAuthorizer.from_objects(self._objects(_RBAC_KINDS))
                out.append(self._rbac)
            elif mode == "Node":
                if self._node is None:
                    self._node = NodeAuthorizer(self._objects(_NODE_KINDS))
                out.append(self._node)
        return out

    def authorize(self, attrs: Attributes) -> Decision:
        return UnionAuthorizer(*self._authorizers()).authorize(attrs)

    def rbac(self) -> RBACAuthorizer:
        """The RBAC view as it stands (for `can_i`)."""
        if self._rbac is None:
            self._rbac = RBACAuthorizer.from_objects(self._objects(_RBAC_KINDS))
        return self._rbac


__all__ = ["MODES", "AlwaysAllow", "AlwaysDeny", "ModeAuthorizer", "PrivilegedGroups"]
