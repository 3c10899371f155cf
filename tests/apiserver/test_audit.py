"""Audit: policy matching (after apiserver's audit/policy checker_test.go), events, the log file."""

import json
import random

import pytest

from kube_teach.apiserver.audit import (
    Auditor,
    LogBackend,
    MemoryFS,
    backup_name,
    evaluate_policy,
    micro_time,
)
from kube_teach.apiserver.request import Attributes, UserInfo
from kube_teach.sim.duration import SECOND

TIM = UserInfo("tim@k8s.io", groups=("humans", "developers"))
ATTRS = {
    "namespaced": Attributes(
        TIM,
        "get",
        "",
        "v1",
        "pods",
        "",
        "default",
        "busybox",
        "/api/v1/namespaces/default/pods/busybox",
    ),
    "cluster": Attributes(
        TIM,
        "get",
        "rbac.authorization.k8s.io",
        "v1beta1",
        "clusterroles",
        "",
        "",
        "edit",
        "/apis/rbac.authorization.k8s.io/v1beta1/clusterroles/edit",
    ),  # fmt: skip
    "nonResource": Attributes.non_resource(TIM, "get", "/logs/kubelet.log"),
    "subresource": Attributes(
        TIM,
        "get",
        "",
        "v1",
        "pods",
        "log",
        "default",
        "busybox",
        "/api/v1/namespaces/default/pods/busybox",
    ),
    "Unauthorized": Attributes(
        None,
        "get",
        "",
        "v1",
        "pods",
        "",
        "default",
        "busybox",
        "/api/v1/namespaces/default/pods/busybox",
    ),
    "ClusterRoleUpdate": Attributes(
        TIM,
        "update",
        "rbac.authorization.k8s.io",
        "v1beta1",
        "clusterroles",
        "status",
        "",
        "somerole",
        "/apis/rbac.authorization.k8s.io/v1beta1/clusterroles/somerole",
    ),  # fmt: skip
}
RULES = {
    "default": {"level": "Metadata"},
    "create": {"level": "Request", "verbs": ["create"]},
    "tims": {"level": "Metadata", "users": ["tim@k8s.io"]},
    "humans": {"level": "Metadata", "userGroups": ["humans"]},
    "serviceAccounts": {"level": "Request", "userGroups": ["system:serviceaccounts"]},
    "getPods": {"level": "RequestResponse", "verbs": ["get"], "resources": [{"resources": ["pods"]}]},
    "getPodLogs": {"level": "Request", "verbs": ["get"], "resources": [{"resources": ["pods/log"]}]},
    "getPodWildcardMatching": {"level": "Request", "verbs": ["get"], "resources": [{"resources": ["*"]}]},
    "getPodResourceWildcardMatching": {"level": "Request", "verbs": ["get"], "resources": [{"resources": ["*/log"]}]},
    "getPodSubResourceWildcardMatching": {"level": "Request", "verbs": ["get"], "resources": [{"resources": ["pods/*"]}]},
    "getClusterRoles": {"level": "RequestResponse", "verbs": ["get"], "namespaces": [""],
                        "resources": [{"group": "rbac.authorization.k8s.io", "resources": ["clusterroles"]}]},
    "getGroupWildCardMatchingWithSubresourceWildcardMatching": {"level": "RequestResponse", "verbs": ["update"],
                                                                "resources": [{"group": "*", "resources": ["*/status"]}]},
    "getLogs": {"level": "RequestResponse", "verbs": ["get"], "nonResourceURLs": ["/logs*"]},
    "getMetrics": {"level": "Request", "verbs": ["get"], "nonResourceURLs": ["/metrics"]},
    "clusterRoleEdit": {"level": "Request", "resources": [{"group": "rbac.authorization.k8s.io", "resources": ["clusterroles"],
                                                           "resourceNames": ["edit"]}]},
    "omit RequestReceived": {"level": "Request", "omitStages": ["RequestReceived"]},
    "only audit panic": {"level": "Request", "omitStages": ["RequestReceived", "ResponseStarted", "ResponseComplete"]},
}  # fmt: skip

CASES = [
    ("namespaced", "Metadata", ["default"]), ("namespaced", "None", ["create"]), ("namespaced", "Metadata", ["tims"]),
    ("namespaced", "Metadata", ["humans"]), ("namespaced", "None", ["serviceAccounts"]), ("namespaced", "RequestResponse", ["getPods"]),
    ("namespaced", "None", ["getClusterRoles"]), ("namespaced", "None", ["getLogs"]), ("namespaced", "None", ["getMetrics"]),
    ("namespaced", "Metadata", ["getMetrics", "serviceAccounts", "default"]),
    ("namespaced", "RequestResponse", ["getMetrics", "getPods", "default"]),
    ("namespaced", "RequestResponse", ["getPodLogs", "getPods"]),
    ("cluster", "Metadata", ["default"]), ("cluster", "None", ["create"]), ("cluster", "Metadata", ["tims"]),
    ("cluster", "Metadata", ["humans"]), ("cluster", "None", ["serviceAccounts"]), ("cluster", "None", ["getPods"]),
    ("cluster", "RequestResponse", ["getClusterRoles"]), ("cluster", "Request", ["clusterRoleEdit", "getClusterRoles"]),
    ("cluster", "None", ["getLogs"]), ("cluster", "None", ["getMetrics"]),
    ("cluster", "Metadata", ["getMetrics", "serviceAccounts", "default"]),
    ("cluster", "RequestResponse", ["getMetrics", "getClusterRoles", "default"]), ("cluster", "None", ["getPodLogs", "getPods"]),
    ("nonResource", "Metadata", ["default"]), ("nonResource", "None", ["create"]), ("nonResource", "Metadata", ["tims"]),
    ("nonResource", "Metadata", ["humans"]), ("nonResource", "None", ["serviceAccounts"]), ("nonResource", "None", ["getPods"]),
    ("nonResource", "None", ["getClusterRoles"]), ("nonResource", "RequestResponse", ["getLogs"]),
    ("nonResource", "None", ["getMetrics"]), ("nonResource", "Metadata", ["getMetrics", "serviceAccounts", "default"]),
    ("nonResource", "RequestResponse", ["getLogs", "getClusterRoles", "default"]), ("nonResource", "None", ["getPodLogs", "getPods"]),
    ("subresource", "Request", ["getPodLogs", "getPods"]), ("subresource", "Request", ["getPodWildcardMatching"]),
    ("subresource", "Request", ["getPodResourceWildcardMatching"]), ("subresource", "Request", ["getPodSubResourceWildcardMatching"]),
    ("Unauthorized", "None", ["tims"]), ("Unauthorized", "Metadata", ["tims", "default"]), ("Unauthorized", "None", ["humans"]),
    ("Unauthorized", "Metadata", ["humans", "default"]),
    ("ClusterRoleUpdate", "RequestResponse", ["getGroupWildCardMatchingWithSubresourceWildcardMatching"]),
]  # fmt: skip


@pytest.mark.parametrize(
    "policy_stages",
    [[], ["RequestReceived", "ResponseStarted"]],
    ids=["no policy omitStages", "policy omitStages"],
)
@pytest.mark.parametrize(
    ("req", "level", "rules"), CASES, ids=[f"{r} {'+'.join(n)}" for r, _, n in CASES]
)
def test_policy_levels(req, level, rules, policy_stages):
    config = evaluate_policy(
        {"omitStages": policy_stages, "rules": [RULES[r] for r in rules]}, ATTRS[req]
    )
    assert config.level == level
    assert set(config.omit_stages) == set(policy_stages)


@pytest.mark.parametrize(
    ("policy_stages", "rules", "level", "stages"),
    [
        ([], ["omit RequestReceived", "getPods", "default"], "Request", {"RequestReceived"}),
        ([], ["only audit panic", "getPods", "default"], "Request", {"RequestReceived", "ResponseStarted", "ResponseComplete"}),
        (["RequestReceived", "ResponseStarted"], ["omit RequestReceived", "getPods"], "Request", {"RequestReceived", "ResponseStarted"}),
        (["RequestReceived", "ResponseStarted"], ["only audit panic"], "Request",
         {"RequestReceived", "ResponseStarted", "ResponseComplete"}),
    ],
)  # fmt: skip
def test_omit_stages_union(policy_stages, rules, level, stages):
    config = evaluate_policy(
        {"omitStages": policy_stages, "rules": [RULES[r] for r in rules]}, ATTRS["namespaced"]
    )
    assert (config.level, set(config.omit_stages)) == (level, stages)


@pytest.mark.parametrize(
    ("default", "rule", "want"),
    [(False, None, False), (True, None, True), (True, False, False), (False, True, True)],
)
def test_omit_managed_fields(default, rule, want):
    r = {"level": "RequestResponse", "verbs": ["get"]}
    if rule is not None:
        r["omitManagedFields"] = rule
    assert (
        evaluate_policy(
            {"omitManagedFields": default, "rules": [r]}, ATTRS["namespaced"]
        ).omit_managed_fields
        is want
    )


# -- events --------------------------------------------------------------------------------------

T0 = 1_700_000_000 * SECOND + 123_456_789


def test_micro_time():
    assert micro_time(T0) == "2023-11-14T22:13:20.123456Z"


def _events(policy, attrs, body=None, status=None, code=201, response=None, long_running=False):
    out = []
    auditor = Auditor(policy, random.Random("audit"), lambda ev, now: out.append(ev))
    ctx = auditor.begin(
        attrs,
        "/api/v1/namespaces/default/pods",
        T0,
        user_agent="kubectl/v1.32.0",
        long_running=long_running,
    )
    if body is not None:
        ctx.log_request_object(body)
    ctx.annotate("authorization.k8s.io/decision", "allow")
    ctx.annotate(
        "authorization.k8s.io/reason",
        'RBAC: allowed by ClusterRoleBinding "x" of ClusterRole "y" to User "alice"',
    )
    if long_running:
        ctx.response_started(T0 + 1000)
    ctx.complete(T0 + 2_000_000, code, status, response)
    return out


CREATE = Attributes(
    UserInfo.named("alice"),
    "create",
    "",
    "v1",
    "pods",
    "",
    "default",
    "",
    "/api/v1/namespaces/default/pods",
)
POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web", "namespace": "default", "managedFields": [{"manager": "kubectl"}]},
}


def test_metadata_event_fields_in_order():
    events = _events({"rules": [{"level": "Metadata"}]}, CREATE, body=POD)
    assert [e["stage"] for e in events] == ["RequestReceived", "ResponseComplete"]
    done = events[1]
    assert list(done) == ["kind", "apiVersion", "level", "auditID", "stage", "requestURI", "verb", "user", "sourceIPs", "userAgent",
                          "objectRef", "responseStatus", "requestReceivedTimestamp", "stageTimestamp", "annotations"]  # fmt: skip
    assert done["objectRef"] == {
        "resource": "pods",
        "namespace": "default",
        "name": "web",
        "apiVersion": "v1",
    }
    assert done["responseStatus"] == {"metadata": {}, "code": 201}
    assert (done["requestReceivedTimestamp"], done["stageTimestamp"]) == (
        "2023-11-14T22:13:20.123456Z",
        "2023-11-14T22:13:20.125456Z",
    )
    assert done["auditID"] == events[0]["auditID"] and "annotations" not in events[0]
    assert done["annotations"]["authorization.k8s.io/decision"] == "allow"


def test_request_response_level_carries_bodies():
    events = _events(
        {"rules": [{"level": "RequestResponse", "omitManagedFields": True}]},
        CREATE,
        body=POD,
        response=POD,
    )
    assert events[-1]["requestObject"]["metadata"] == {"name": "web", "namespace": "default"}
    assert events[-1]["responseObject"]["kind"] == "Pod"
    assert (
        "responseObject"
        not in _events({"rules": [{"level": "Request"}]}, CREATE, body=POD, response=POD)[-1]
    )


def test_forbidden_response_status():
    status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": "pods is forbidden: ...",
              "reason": "Forbidden", "details": {"kind": "pods"}, "code": 403}  # fmt: skip
    done = _events({"rules": [{"level": "Metadata"}]}, CREATE, status=status, code=403)[-1]
    assert done["responseStatus"] == {"metadata": {}, "status": "Failure", "message": "pods is forbidden: ...", "reason": "Forbidden",
                                      "details": {"kind": "pods"}, "code": 403}  # fmt: skip


def test_level_none_and_omitted_stages_write_nothing():
    assert _events({"rules": [{"level": "None"}]}, CREATE) == []
    assert _events({"rules": []}, CREATE) == []
    events = _events(
        {"omitStages": ["RequestReceived"], "rules": [{"level": "Metadata"}]},
        CREATE,
        long_running=True,
    )
    assert [e["stage"] for e in events] == ["ResponseStarted", "ResponseComplete"]


def test_audit_ids_come_from_the_stream():
    a = _events({"rules": [{"level": "Metadata"}]}, CREATE)[0]["auditID"]
    assert a == _events({"rules": [{"level": "Metadata"}]}, CREATE)[0]["auditID"]


# -- the log file --------------------------------------------------------------------------------


def test_json_lines_are_go_json():
    fs = MemoryFS()
    log = LogBackend(fs, "/var/log/kubernetes/audit.log")
    log.write({"kind": "Event", "requestURI": "/api?x=<y>&z"}, T0)
    assert (
        fs.read("/var/log/kubernetes/audit.log")
        == '{"kind":"Event","requestURI":"/api?x=\\u003cy\\u003e\\u0026z"}\n'
    )
    assert json.loads(fs.read("/var/log/kubernetes/audit.log"))["requestURI"] == "/api?x=<y>&z"


def test_backup_name():
    assert backup_name("/var/log/audit.log", T0) == "/var/log/audit-2023-11-14T22-13-20.123.log"


def test_rotation_by_size_keeps_max_backups():
    fs = MemoryFS()
    log = LogBackend(fs, "/logs/audit.log", max_backups=2, max_size_mb=1)
    big = {"pad": "x" * 400_000}
    for i in range(8):
        log.write(big, T0 + i * SECOND)
    names = fs.listdir("/logs")
    # two 400 kB lines fit in 1 MiB, a third rotates: at writes 2, 4 and 6; two backups are kept
    assert names == [
        "audit-2023-11-14T22-13-24.123.log",
        "audit-2023-11-14T22-13-26.123.log",
        "audit.log",
    ]
    assert fs.size("/logs/audit.log") <= 1024 * 1024


def test_rotation_by_age():
    fs = MemoryFS()
    log = LogBackend(fs, "/logs/audit.log", max_age_days=1, max_size_mb=1)
    big = {"pad": "x" * 600_000}
    log.write(big, T0)
    log.write(big, T0 + SECOND)  # rotates: backup stamped T0+1s
    log.write(big, T0 + 2 * 86400 * SECOND)  # rotates: the first backup is now two days old
    assert fs.listdir("/logs") == ["audit-2023-11-16T22-13-20.123.log", "audit.log"]


def test_a_line_larger_than_max_size_is_an_error():
    with pytest.raises(ValueError, match="exceeds maximum file size 1048576"):
        LogBackend(MemoryFS(), "/a.log", max_size_mb=1).write({"pad": "x" * (1024 * 1024)}, T0)
