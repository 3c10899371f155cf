"""The clusterrole-aggregation-controller: keeps every aggregated ClusterRole's rules equal to the
union of the rules of the ClusterRoles its selectors match.

Semantics: pkg/controller/clusterroleaggregation. Any ClusterRole added, updated or deleted
enqueues every ClusterRole with an aggregationRule (the dependency graph is not tracked); a
sync writes the rules from `clusterrole_aggregation.plan_sync` when they differ. Five workers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..api.kinds import KINDS
from ..api.rest import object_path
from .base import Call, Controller, ControllerContext, Outcome, Sync, error_text
from .clusterrole_aggregation import AggregationError, plan_sync, roles_to_sync, rules_patch

CLUSTER_ROLES = KINDS["ClusterRole"]


class ClusterRoleAggregationController(Controller):
    """Fills in the `rules` of ClusterRoles that have an `aggregationRule`.

    Upstream writes with server-side apply (field manager `clusterrole-aggregation-controller`,
    forced) and falls back to an update; here the write is a JSON merge patch of `rules`, which
    like a forced apply needs no resourceVersion and replaces the list whole. Either way the
    API server's escalation check applies, which the controller's role passes with `escalate`.
    """

    name = "clusterrole-aggregation-controller"
    workers = 5  # startClusterRoleAggregationController: Run(ctx, 5)
    queue_name = "ClusterRoleAggregator"
    client_name = "clusterrole-aggregation-controller"  # ClientBuilder.ClientOrDie's name

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.queue.name = self.queue_name
        self.client = ctx.client(self.client_name)
        self.cluster_roles = self.informer(CLUSTER_ROLES)
        self.cluster_roles.add_handlers(
            on_add=self._changed,
            on_update=lambda old, cur: self._changed(cur),
            on_delete=self._changed,
        )

    def _changed(self, _role: Mapping[str, Any]) -> None:
        for name in roles_to_sync(self.cluster_roles.list()):
            self.enqueue(name)

    def sync(self, key: str) -> Sync:
        """syncClusterRole for ClusterRole `key`: one PATCH when its rules are out of date."""
        try:
            plan = plan_sync(key, self.cluster_roles.list())
        except AggregationError as err:
            return Outcome(error=str(err))
        if plan.rules is None:
            return None
        path = object_path(CLUSTER_ROLES, key)
        (resp,) = yield [Call("PATCH", path, rules_patch(plan.rules))]
        if not resp.ok:
            return Outcome(error=error_text(resp))
        self.trace.emit(self.name, "aggregated", name=key, rules=len(plan.rules))
        return None


__all__ = ["CLUSTER_ROLES", "ClusterRoleAggregationController"]
