"""APF configuration: the FlowSchemas and PriorityLevelConfigurations a new cluster has, and
how a request is matched against a FlowSchema's rules.

Semantics: apiserver's apis/flowcontrol/bootstrap/default.go (the mandatory and suggested
objects) and util/flowcontrol/rule.go (subjects, resource and non-resource rules).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from .request import SYSTEM_PRIVILEGED_GROUP, Attributes

# -- the default configuration (apis/flowcontrol/bootstrap/default.go) ---------------------------


def _pl(
    name: str,
    shares: int,
    lendable: int,
    queues: int = 0,
    hand: int = 0,
    qll: int = 0,
    exempt: bool = False,
) -> dict[str, Any]:
    if exempt:
        spec: dict[str, Any] = {
            "type": "Exempt",
            "exempt": {"nominalConcurrencyShares": shares, "lendablePercent": lendable},
        }
    else:
        response: dict[str, Any] = {"type": "Reject"}
        if queues:
            response = {
                "type": "Queue",
                "queuing": {"queues": queues, "handSize": hand, "queueLengthLimit": qll},
            }
        spec = {
            "type": "Limited",
            "limited": {
                "nominalConcurrencyShares": shares,
                "lendablePercent": lendable,
                "limitResponse": response,
            },
        }
    return {
        "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
        "kind": "PriorityLevelConfiguration",
        "metadata": {"name": name, "annotations": {"apf.kubernetes.io/autoupdate-spec": "true"}},
        "spec": spec,
    }


_ALL_RESOURCES = {
    "verbs": ["*"],
    "apiGroups": ["*"],
    "resources": ["*"],
    "namespaces": ["*"],
    "clusterScope": True,
}
_ALL_URLS = {"verbs": ["*"], "nonResourceURLs": ["*"]}


def _groups(*names: str) -> list[dict[str, Any]]:
    return [{"kind": "Group", "group": {"name": n}} for n in names]


def _users(*names: str) -> list[dict[str, Any]]:
    return [{"kind": "User", "user": {"name": n}} for n in names]


_KUBE_SYSTEM_SAS = [
    {"kind": "ServiceAccount", "serviceAccount": {"name": "*", "namespace": "kube-system"}}
]


def _fs(
    name: str,
    pl: str,
    precedence: int,
    distinguisher: str | None,
    subjects: list,
    resource_rules: list,
    non_resource_rules: list,
) -> dict[str, Any]:
    rule: dict[str, Any] = {"subjects": subjects}
    if resource_rules:
        rule["resourceRules"] = resource_rules
    if non_resource_rules:
        rule["nonResourceRules"] = non_resource_rules
    spec: dict[str, Any] = {
        "priorityLevelConfiguration": {"name": pl},
        "matchingPrecedence": precedence,
    }
    if distinguisher:
        spec["distinguisherMethod"] = {"type": distinguisher}
    spec["rules"] = [rule]
    return {
        "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
        "kind": "FlowSchema",
        "metadata": {"name": name, "annotations": {"apf.kubernetes.io/autoupdate-spec": "true"}},
        "spec": spec,
    }


MANDATORY_PRIORITY_LEVELS = (_pl("catch-all", 5, 0), _pl("exempt", 0, 0, exempt=True))
SUGGESTED_PRIORITY_LEVELS = (
    _pl("system", 30, 33, 64, 6, 50),
    _pl("node-high", 40, 25, 64, 6, 50),
    _pl("leader-election", 10, 0, 16, 4, 50),
    _pl("workload-high", 40, 50, 128, 6, 50),
    _pl("workload-low", 100, 90, 128, 6, 50),
    _pl("global-default", 20, 50, 128, 6, 50),
)
MANDATORY_FLOW_SCHEMAS = (
    _fs(
        "exempt", "exempt", 1, None, _groups(SYSTEM_PRIVILEGED_GROUP), [_ALL_RESOURCES], [_ALL_URLS]
    ),
    _fs(
        "catch-all",
        "catch-all",
        10000,
        "ByUser",
        _groups("system:unauthenticated", "system:authenticated"),
        [_ALL_RESOURCES],
        [_ALL_URLS],
    ),
)
SUGGESTED_FLOW_SCHEMAS = (
    _fs(
        "system-nodes",
        "system",
        500,
        "ByUser",
        _groups("system:nodes"),
        [_ALL_RESOURCES],
        [_ALL_URLS],
    ),
    _fs(
        "system-node-high",
        "node-high",
        400,
        "ByUser",
        _groups("system:nodes"),
        [
            {
                "verbs": ["*"],
                "apiGroups": [""],
                "resources": ["nodes", "nodes/status"],
                "namespaces": ["*"],
                "clusterScope": True,
            },
            {
                "verbs": ["*"],
                "apiGroups": ["coordination.k8s.io"],
                "resources": ["leases"],
                "namespaces": ["*"],
                "clusterScope": False,
            },
        ],
        [],
    ),
    _fs(
        "probes",
        "exempt",
        2,
        None,
        _groups("system:unauthenticated", "system:authenticated"),
        [],
        [{"verbs": ["get"], "nonResourceURLs": ["/healthz", "/readyz", "/livez"]}],
    ),
    _fs(
        "system-leader-election",
        "leader-election",
        100,
        "ByUser",
        _users("system:kube-controller-manager", "system:kube-scheduler") + _KUBE_SYSTEM_SAS,
        [
            {
                "verbs": ["get", "create", "update"],
                "apiGroups": ["coordination.k8s.io"],
                "resources": ["leases"],
                "namespaces": ["*"],
                "clusterScope": False,
            }
        ],
        [],
    ),
    _fs(
        "kube-controller-manager",
        "workload-high",
        800,
        "ByNamespace",
        _users("system:kube-controller-manager"),
        [_ALL_RESOURCES],
        [_ALL_URLS],
    ),
    _fs(
        "kube-scheduler",
        "workload-high",
        800,
        "ByNamespace",
        _users("system:kube-scheduler"),
        [_ALL_RESOURCES],
        [_ALL_URLS],
    ),
    _fs(
        "kube-system-service-accounts",
        "workload-high",
        900,
        "ByNamespace",
        _KUBE_SYSTEM_SAS,
        [_ALL_RESOURCES],
        [_ALL_URLS],
    ),
    _fs(
        "service-accounts",
        "workload-low",
        9000,
        "ByUser",
        _groups("system:serviceaccounts"),
        [_ALL_RESOURCES],
        [_ALL_URLS],
    ),
    _fs(
        "global-default",
        "global-default",
        9900,
        "ByUser",
        _groups("system:unauthenticated", "system:authenticated"),
        [_ALL_RESOURCES],
        [_ALL_URLS],
    ),
)


def default_configuration() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Fresh copies of the (flow schemas, priority levels) a new cluster has."""
    return (
        copy.deepcopy([*MANDATORY_FLOW_SCHEMAS, *SUGGESTED_FLOW_SCHEMAS]),
        copy.deepcopy([*MANDATORY_PRIORITY_LEVELS, *SUGGESTED_PRIORITY_LEVELS]),
    )


# -- matching (util/flowcontrol/rule.go) -----------------------------------------------------------


def _contains(x: str, items: list[str], wildcard: str) -> bool:
    # the wildcard is honoured only as the list's only member (validation guarantees it)
    return (len(items) == 1 and items[0] == wildcard) or x in items


def _subject_matches(attrs: Attributes, subject: Mapping[str, Any]) -> bool:
    user = attrs.user
    name = user.name if user else ""
    groups = user.groups if user else ()
    kind = subject.get("kind")
    if kind == "User":
        want = (subject.get("user") or {}).get("name")
        return want is not None and (want == "*" or want == name)
    if kind == "Group":
        want = (subject.get("group") or {}).get("name")
        return want is not None and (want == "*" or want in groups)
    if kind == "ServiceAccount":
        sa = subject.get("serviceAccount")
        if sa is None:
            return False
        prefix = f"system:serviceaccount:{sa.get('namespace', '')}:"
        if sa.get("name") == "*":
            return name.startswith(prefix)
        return name == prefix + sa.get("name", "")
    return False


def _url_matches(rules: list[str], path: str) -> bool:
    for r in rules:
        if r == "*" or r == path:
            return True
        prefix = r.removesuffix("*")
        if not prefix.endswith("/"):
            prefix += "/"
        if path.startswith(prefix):
            return True
    return False


def flow_schema_matches(attrs: Attributes, fs: Mapping[str, Any]) -> bool:
    """Whether any rule of the FlowSchema matches the request (subjects, then verbs and
    resources or non-resource URLs; cluster-scoped requests need `clusterScope: true`)."""
    for rule in (fs.get("spec") or {}).get("rules") or ():
        if not any(_subject_matches(attrs, s) for s in rule.get("subjects") or ()):
            continue
        if attrs.is_resource_request:
            combined = attrs.resource + ("/" + attrs.subresource if attrs.subresource else "")
            for rr in rule.get("resourceRules") or ():
                if not _contains(attrs.verb, rr.get("verbs") or [], "*"):
                    continue
                if not _contains(combined, rr.get("resources") or [], "*"):
                    continue
                if not _contains(attrs.api_group, rr.get("apiGroups") or [], "*"):
                    continue
                if not attrs.namespace:
                    if rr.get("clusterScope"):
                        return True
                    continue
                if _contains(attrs.namespace, rr.get("namespaces") or [], "*"):
                    return True
        else:
            for nr in rule.get("nonResourceRules") or ():
                if _contains(attrs.verb, nr.get("verbs") or [], "*") and _url_matches(
                    nr.get("nonResourceURLs") or [], attrs.path
                ):
                    return True
    return False
