"""The ServiceAccount controller: every active namespace has the ServiceAccount `default`.

Semantics: pkg/controller/serviceaccount/serviceaccounts_controller.go. Namespace adds and
updates and ServiceAccount deletions enqueue the namespace's name; a sync creates each account
to ensure that the cache lacks, unless the namespace is gone or not `Active`. AlreadyExists and
a refusal because the namespace is terminating are not errors. One worker, no resync.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from ..api.kinds import KINDS
from ..api.rest import Response, collection_path
from .base import Call, Controller, ControllerContext, EventRecorder, Outcome, Sync, error_text

NAMESPACES, SERVICE_ACCOUNTS = KINDS["Namespace"], KINDS["ServiceAccount"]

#: DefaultServiceAccountsControllerOptions: the accounts every namespace gets.
DEFAULT_SERVICE_ACCOUNTS: tuple[str, ...] = ("default",)
#: The cause type NamespaceLifecycle puts on a create refused in a terminating namespace.
NAMESPACE_TERMINATING_CAUSE = "NamespaceTerminating"
NAMESPACE_ACTIVE = "Active"


def service_account(name: str, namespace: str) -> dict[str, Any]:
    """The object the controller POSTs: only a name and a namespace, as upstream sends it.

    Since Kubernetes 1.24 nothing else is added: no token Secret, no `secrets` list.
    """
    return {
        "apiVersion": SERVICE_ACCOUNTS.api_version,
        "kind": SERVICE_ACCOUNTS.kind,
        "metadata": {"name": name, "namespace": namespace},
    }


def missing_service_accounts(
    namespace: Mapping[str, Any] | None,
    existing: Iterable[str],
    ensure: Iterable[str] = DEFAULT_SERVICE_ACCOUNTS,
) -> list[dict[str, Any]]:
    """syncNamespace's decision: the ServiceAccounts to create in `namespace`, in `ensure` order.

    `namespace` is the cached Namespace (None when the cache has none); `existing` are the names
    of the accounts cached in it. A namespace whose `status.phase` is anything but `Active`
    (`Terminating`) gets nothing. The API server sets `Active` on every create, so upstream
    never sees a Namespace without a phase; one read from a store that skipped that step is
    taken as `Active`.
    """
    if namespace is None:
        return []
    if not isinstance(namespace, Mapping):
        raise TypeError(f"a Namespace must be a mapping, not {type(namespace).__name__}")
    meta = namespace.get("metadata") or {}
    ns_name = meta.get("name")
    if not isinstance(ns_name, str) or not ns_name:
        raise ValueError("a Namespace needs metadata.name")
    if ((namespace.get("status") or {}).get("phase") or NAMESPACE_ACTIVE) != NAMESPACE_ACTIVE:
        return []
    have = set(existing)
    return [service_account(name, ns_name) for name in ensure if name not in have]


def has_status_cause(resp: Response, cause: str) -> bool:
    """apierrors.HasStatusCause: whether the Status in `resp` lists a cause of that type."""
    body = resp.body if isinstance(resp.body, Mapping) else {}
    causes = (body.get("details") or {}).get("causes") or ()
    return any(isinstance(c, Mapping) and c.get("reason") == cause for c in causes)


def create_failed(resp: Response) -> bool:
    """Whether a create's response counts as a failure: AlreadyExists and NamespaceTerminating
    do not, since either way there is nothing more to do for that namespace."""
    if resp.ok:
        return False
    body = resp.body if isinstance(resp.body, Mapping) else {}
    if resp.code == 409 and body.get("reason") == "AlreadyExists":
        return False
    return not has_status_cause(resp, NAMESPACE_TERMINATING_CAUSE)


def aggregate_error(messages: Iterable[str]) -> str | None:
    """utilerrors.NewAggregate(...).Error(): None for none, the message itself for one (or for
    repeats of one), else the distinct messages in order as `[a, b]`."""
    distinct = list(dict.fromkeys(messages))
    if not distinct:
        return None
    if len(distinct) == 1:
        return distinct[0]
    return "[" + ", ".join(distinct) + "]"


@dataclass(frozen=True)
class Plan:
    """What one sync of a namespace will do: the ServiceAccounts to create, in order."""

    namespace: str
    create: list[dict[str, Any]]


class ServiceAccountsController(Controller):
    """Creates the ServiceAccounts of `service_accounts` in every active namespace that lacks
    them, and re-creates one that is deleted while its namespace stays active."""

    name = "serviceaccount-controller"
    workers = 1  # startServiceAccountController runs one worker
    queue_name = "serviceaccount"
    client_name = "service-account-controller"  # ClientBuilder.ClientOrDie's name upstream
    service_accounts: ClassVar[tuple[str, ...]] = DEFAULT_SERVICE_ACCOUNTS

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.queue.name = self.queue_name
        self.client = ctx.client(self.client_name)
        self.recorder = EventRecorder(self.client, self.name, ctx.epoch_ns, ctx.trace)
        self.namespaces = self.informer(NAMESPACES)
        self.accounts = self.informer(SERVICE_ACCOUNTS)
        self.accounts.add_handlers(on_delete=self._account_deleted)
        self.namespaces.add_handlers(
            on_add=self._namespace_changed,
            on_update=lambda old, cur: self._namespace_changed(cur),
        )

    # -- event handlers: keys only -------------------------------------------------------------
    def _account_deleted(self, sa: Mapping[str, Any]) -> None:
        self.enqueue((sa.get("metadata") or {}).get("namespace") or "")

    def _namespace_changed(self, namespace: Mapping[str, Any]) -> None:
        self.enqueue((namespace.get("metadata") or {}).get("name") or "")

    # -- the sync ------------------------------------------------------------------------------
    def plan(self, key: str) -> Plan:
        """Read the caches for namespace `key` and decide (no requests)."""
        prefix = f"{key}/"
        existing = [k[len(prefix) :] for k in self.accounts.cache if k.startswith(prefix)]
        create = missing_service_accounts(
            self.namespaces.get(key), sorted(existing), self.service_accounts
        )
        return Plan(key, create)

    def sync(self, key: str) -> Sync:
        """syncNamespace for namespace `key`: create what is missing, one request at a time."""
        plan = self.plan(key)
        failures: list[str] = []
        path = collection_path(SERVICE_ACCOUNTS, key)
        for body in plan.create:
            (resp,) = yield [Call("POST", path, body)]
            sa_name = body["metadata"]["name"]
            if resp.ok:
                self.trace.emit(self.name, "created", namespace=key, name=sa_name)
            elif create_failed(resp):
                failures.append(error_text(resp))
        error = aggregate_error(failures)
        return Outcome(error=error) if error is not None else None


__all__ = [
    "DEFAULT_SERVICE_ACCOUNTS",
    "NAMESPACE_TERMINATING_CAUSE",
    "Plan",
    "ServiceAccountsController",
    "aggregate_error",
    "create_failed",
    "has_status_cause",
    "missing_service_accounts",
    "service_account",
]
