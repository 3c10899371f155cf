"""What a DELETE does before the object leaves etcd: options, preconditions, grace and finalizers.

Semantics: k8s.io/apiserver's registry (rest.BeforeDelete, Store.Delete and its finalizer
handling, shouldDeleteDuringUpdate) and the pod strategy's CheckGracefulDelete. The outcome of a
delete is one of three: the object goes at once; it stays with `deletionTimestamp` set while a
kubelet stops it (graceful deletion, pods only); or it stays with `deletionGracePeriodSeconds: 0`
until its finalizers are removed (the garbage collector's `foregroundDeletion` and `orphan`, or
anyone else's).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..api.errors import StatusError
from ..api.kinds import KindInfo
from ..api.objects import Obj

FOREGROUND, BACKGROUND, ORPHAN = "Foreground", "Background", "Orphan"
FINALIZER_FOREGROUND, FINALIZER_ORPHAN = "foregroundDeletion", "orphan"
_OPTION_KEYS = frozenset(
    "kind apiVersion gracePeriodSeconds preconditions orphanDependents propagationPolicy dryRun".split()
)


@dataclass(frozen=True)
class DeleteOptions:
    """metav1.DeleteOptions, from a request body and/or its query string."""

    grace_period_seconds: int | None = None
    precondition_uid: str | None = None
    precondition_resource_version: str | None = None
    propagation_policy: str | None = None
    orphan_dependents: bool | None = None
    dry_run: bool = False

    @classmethod
    def parse(cls, body: Any = None, query: Mapping[str, str] | None = None) -> DeleteOptions:
        """Read the options; a malformed body or value is a 400, worded as upstream."""
        body = body if body not in (None, "", {}) else {}
        if not isinstance(body, Mapping):
            raise StatusError.bad_request("the body of the request was in an unknown format")
        unknown = sorted(set(body) - _OPTION_KEYS)
        if unknown:
            raise StatusError.bad_request(f'strict decoding error: unknown field "{unknown[0]}"')
        query = query or {}
        grace = body.get("gracePeriodSeconds", query.get("gracePeriodSeconds"))
        if grace is not None:
            try:
                grace = int(grace)
            except (TypeError, ValueError):
                raise StatusError.bad_request(
                    f'strconv.ParseInt: parsing "{grace}": invalid syntax'
                ) from None
        pre = body.get("preconditions") or {}
        if not isinstance(pre, Mapping):
            raise StatusError.bad_request("the body of the request was in an unknown format")
        policy = body.get("propagationPolicy", query.get("propagationPolicy"))
        orphan = body.get("orphanDependents", query.get("orphanDependents"))
        if isinstance(orphan, str):
            orphan = orphan.lower() == "true"
        if policy is not None and policy not in (FOREGROUND, BACKGROUND, ORPHAN):
            raise StatusError(
                "Invalid",
                422,
                f'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: '
                f'"{policy}": supported values: "Foreground", "Background", "Orphan", "nil"',
            )
        if policy is not None and orphan is not None:
            raise StatusError(
                "Invalid",
                422,
                'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Invalid value: '
                f'"{policy}": orphanDependents and deletionPropagation cannot be both set',
            )
        dry = body.get("dryRun") or ([query["dryRun"]] if query.get("dryRun") else [])
        return cls(
            grace,
            pre.get("uid"),
            pre.get("resourceVersion"),
            policy,
            orphan,
            "All" in dry,
        )

    def policy(self, default: str = BACKGROUND) -> str:
        if self.propagation_policy:
            return self.propagation_policy
        if self.orphan_dependents is not None:
            return ORPHAN if self.orphan_dependents else BACKGROUND
        return default


def check_preconditions(info: KindInfo, obj: Obj, options: DeleteOptions) -> None:
    """storage.Preconditions: a mismatched uid or resourceVersion is a 409."""
    uid, rv = obj.metadata.get("uid", ""), obj.resource_version
    # rest.BeforeDelete names the kind where other conflicts name the resource
    where = f'Operation cannot be fulfilled on {info.kind} "{obj.name}"'
    details = {"name": obj.name, "group": info.group, "kind": info.kind}
    if options.precondition_uid is not None and options.precondition_uid != uid:
        raise StatusError(
            "Conflict", 409,
            f"{where}: the UID in the precondition ({options.precondition_uid}) does not match "
            f"the UID in record ({uid}). The object might have been deleted and then recreated",
            details,
        )  # fmt: skip
    pre_rv = options.precondition_resource_version
    if pre_rv is not None and pre_rv != rv:
        raise StatusError(
            "Conflict", 409,
            f"{where}: the ResourceVersion in the precondition ({pre_rv}) does not match the "
            f"ResourceVersion in record ({rv}). The object might have been modified",
            details,
        )  # fmt: skip


def grace_period(obj: Obj, options: DeleteOptions) -> int:
    """Seconds a delete may take (pods only; every other kind goes at once).

    A pod that was never scheduled, or has finished, goes at once; otherwise the request's
    gracePeriodSeconds, else the pod's terminationGracePeriodSeconds (30 by default); a
    negative request means 1, as the pod strategy has it.
    """
    if obj.kind != "Pod":
        return 0
    if not obj.spec.get("nodeName"):
        return 0
    if obj.status.get("phase") in ("Failed", "Succeeded"):
        return 0
    grace = options.grace_period_seconds
    if grace is None:
        grace = obj.spec.get("terminationGracePeriodSeconds", 30)
        grace = 30 if grace is None else int(grace)
    return 1 if grace < 0 else grace


def finalizers_for(obj: Obj, policy: str) -> list[str]:
    """The finalizers after a delete with `policy`: Foreground adds `foregroundDeletion`,
    Orphan adds `orphan`, and each removes the other; Background changes nothing."""
    current = list(obj.metadata.get("finalizers") or [])
    if policy == FOREGROUND:
        current = [f for f in current if f != FINALIZER_ORPHAN]
        if FINALIZER_FOREGROUND not in current:
            current.append(FINALIZER_FOREGROUND)
    elif policy == ORPHAN:
        current = [f for f in current if f != FINALIZER_FOREGROUND]
        if FINALIZER_ORPHAN not in current:
            current.append(FINALIZER_ORPHAN)
    return current


def should_delete_during_update(new: Obj, old: Obj) -> bool:
    """An update that empties the finalizers of an object whose graceful deletion is over
    (deletionGracePeriodSeconds 0) deletes it."""
    grace = old.metadata.get("deletionGracePeriodSeconds")
    return not new.metadata.get("finalizers") and grace is not None and int(grace) == 0


def being_deleted(obj: Mapping[str, Any]) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


__all__ = [
    "BACKGROUND",
    "FINALIZER_FOREGROUND",
    "FINALIZER_ORPHAN",
    "FOREGROUND",
    "ORPHAN",
    "DeleteOptions",
    "being_deleted",
    "check_preconditions",
    "finalizers_for",
    "grace_period",
    "should_delete_during_update",
]
