"""PodSecurity: the Pod Security Standards checks and messages, after pod-security-admission."""

import pytest

from kube_teach.api.errors import StatusError
from kube_teach.apiserver.admission import AdmissionContext, AdmissionRequest, ObjectIndex
from kube_teach.apiserver.admission_podsecurity import (
    PodSecurity,
    evaluate_pod,
    forbidden_detail,
    namespace_policy,
)

RESTRICTED_OK = {
    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
    "containers": [
        {
            "name": "c",
            "image": "x",
            "securityContext": {
                "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"]},
            },
        }
    ],
}


def spec_with(**container_sc):
    return {"containers": [{"name": "c", "image": "x", "securityContext": container_sc}]}


@pytest.mark.parametrize(
    ("spec", "failures"),
    [
        pytest.param(spec_with(privileged=True), [("privileged", 'container "c" must not set securityContext.privileged=true')], id="privileged"),
        pytest.param({"hostNetwork": True, "hostPID": True, "containers": [{"name": "c"}]},
                     [("host namespaces", "hostNetwork=true, hostPID=true")], id="host namespaces"),
        pytest.param({"containers": [{"name": "a", "ports": [{"hostPort": 80}, {"hostPort": 8080}]}, {"name": "b", "ports": [{"hostPort": 80}]}]},
                     [("hostPort", 'containers "a", "b" use hostPorts 80, 8080')], id="host ports"),
        pytest.param({"containers": [{"name": "c"}], "volumes": [{"name": "root", "hostPath": {"path": "/"}}]},
                     [("hostPath volumes", 'volume "root"')], id="hostPath"),
        pytest.param(spec_with(capabilities={"add": ["NET_ADMIN", "CHOWN", "SYS_ADMIN"]}),
                     [("non-default capabilities", 'container "c" must not include "NET_ADMIN", "SYS_ADMIN" in securityContext.capabilities.add')],
                     id="capabilities beyond the default set"),
        pytest.param({"securityContext": {"sysctls": [{"name": "kernel.msgmax", "value": "1"}, {"name": "net.ipv4.tcp_syncookies", "value": "1"}]},
                      "containers": [{"name": "c"}]}, [("forbidden sysctls", "kernel.msgmax")], id="unsafe sysctls"),
        pytest.param(spec_with(seccompProfile={"type": "Unconfined"}),
                     [("seccompProfile", 'container "c" must not set securityContext.seccompProfile.type to "Unconfined"')], id="unconfined seccomp"),
        pytest.param(spec_with(procMount="Unmasked"),
                     [("procMount", 'container "c" must not set securityContext.procMount to "Unmasked"')], id="procMount"),
        pytest.param(spec_with(seLinuxOptions={"type": "spc_t", "user": "u"}),
                     [("seLinuxOptions", 'container "c" set forbidden securityContext.seLinuxOptions: type "spc_t"; user may not be set')],
                     id="seLinuxOptions"),
        pytest.param({"containers": [{"name": "c", "readinessProbe": {"httpGet": {"host": "10.0.0.1", "port": 80}}}]},
                     [("probe or lifecycle host", 'container "c" uses probe or lifecycle host "10.0.0.1"')], id="probe host (v1.34+)"),
        pytest.param(spec_with(allowPrivilegeEscalation=True), [], id="baseline allows privilege escalation"),
    ],
)  # fmt: skip
def test_baseline_checks(spec, failures):
    assert evaluate_pod("baseline", "latest", {}, spec) == failures


def test_restricted_message_for_a_plain_pod():
    spec = {"containers": [{"name": "nginx", "image": "nginx"}]}
    assert forbidden_detail(evaluate_pod("restricted", "latest", {}, spec)) == (
        'allowPrivilegeEscalation != false (container "nginx" must set securityContext.allowPrivilegeEscalation=false), '
        'unrestricted capabilities (container "nginx" must set securityContext.capabilities.drop=["ALL"]), '
        'runAsNonRoot != true (pod or container "nginx" must set securityContext.runAsNonRoot=true), '
        'seccompProfile (pod or container "nginx" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")'
    )


def test_a_compliant_pod_passes_every_level():
    for level in ("privileged", "baseline", "restricted"):
        assert evaluate_pod(level, "latest", {}, RESTRICTED_OK) == []


@pytest.mark.parametrize(
    ("spec", "failures"),
    [
        pytest.param({**RESTRICTED_OK, "volumes": [{"name": "nfs", "nfs": {"server": "s", "path": "/"}}, {"name": "cfg", "configMap": {"name": "c"}}]},
                     [("restricted volume types", 'volume "nfs" uses restricted volume type "nfs"')], id="volumes"),
        pytest.param({**RESTRICTED_OK, "securityContext": {"runAsNonRoot": True, "runAsUser": 0, "seccompProfile": {"type": "RuntimeDefault"}}},
                     [("runAsUser=0", "pod must not set runAsUser=0")], id="runAsUser 0"),
        pytest.param({**RESTRICTED_OK, "hostUsers": False, "securityContext": {"runAsUser": 0, "seccompProfile": {"type": "RuntimeDefault"}}},
                     [], id="a user-namespaced pod may run as root (v1.35)"),
    ],
)  # fmt: skip
def test_restricted_checks(spec, failures):
    assert evaluate_pod("restricted", "latest", {}, spec) == failures


def test_versions_pick_the_checks_of_their_time():
    spec = {
        "containers": [{"name": "c", "readinessProbe": {"tcpSocket": {"host": "h", "port": 1}}}]
    }
    assert evaluate_pod("baseline", "v1.33", {}, spec) == []
    assert evaluate_pod("baseline", "v1.34", {}, spec) != []
    sysctl = {
        "securityContext": {"sysctls": [{"name": "net.ipv4.tcp_rmem", "value": "1"}]},
        "containers": [{"name": "c"}],
    }
    assert evaluate_pod("baseline", "v1.31", {}, sysctl) == [
        ("forbidden sysctls", "net.ipv4.tcp_rmem")
    ]
    assert evaluate_pod("baseline", "v1.32", {}, sysctl) == []


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({}, {"enforce": ("privileged", "latest"), "audit": ("privileged", "latest"), "warn": ("privileged", "latest")}),
        ({"pod-security.kubernetes.io/enforce": "baseline"},
         {"enforce": ("baseline", "latest"), "audit": ("privileged", "latest"), "warn": ("baseline", "latest")}),
        ({"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "v1.30",
          "pod-security.kubernetes.io/warn": "baseline"},
         {"enforce": ("restricted", "v1.30"), "audit": ("privileged", "latest"), "warn": ("baseline", "latest")}),
        ({"pod-security.kubernetes.io/enforce": "bogus"},
         {"enforce": ("restricted", "latest"), "audit": ("privileged", "latest"), "warn": ("privileged", "latest")}),
    ],
)  # fmt: skip
def test_namespace_policy(labels, expected):
    assert namespace_policy(labels) == expected


def _ctx(labels):
    return AdmissionContext(
        store=ObjectIndex([{"kind": "Namespace", "metadata": {"name": "apps", "labels": labels}}])
    )


def test_enforce_refuses_with_upstream_message():
    pod = {
        "kind": "Pod",
        "metadata": {"name": "nginx", "namespace": "apps"},
        "spec": {"containers": [{"name": "nginx", "image": "nginx"}]},
    }
    req = AdmissionRequest("CREATE", "Pod", "pods", pod, namespace="apps")
    with pytest.raises(StatusError) as err:
        PodSecurity().validate(req, _ctx({"pod-security.kubernetes.io/enforce": "restricted"}))
    assert err.value.message.startswith(
        'pods "nginx" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false'
    )
    assert req.annotations["pod-security.kubernetes.io/enforce-policy"] == "restricted:latest"


def test_warn_and_audit_only():
    pod = {
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "apps"},
        "spec": {"hostNetwork": True, "containers": [{"name": "c"}]},
    }
    req = AdmissionRequest("CREATE", "Pod", "pods", pod, namespace="apps")
    PodSecurity().validate(
        req,
        _ctx(
            {
                "pod-security.kubernetes.io/warn": "baseline",
                "pod-security.kubernetes.io/audit": "baseline",
            }
        ),
    )
    assert req.warnings == [
        'would violate PodSecurity "baseline:latest": host namespaces (hostNetwork=true)'
    ]
    assert req.annotations["pod-security.kubernetes.io/audit-violations"] == req.warnings[0]


def test_workloads_are_warned_not_enforced():
    dep = {"kind": "Deployment", "metadata": {"name": "d", "namespace": "apps"},
           "spec": {"template": {"spec": {"containers": [{"name": "c", "securityContext": {"privileged": True}}]}}}}  # fmt: skip
    req = AdmissionRequest(
        "CREATE", "Deployment", "deployments", dep, namespace="apps", group="apps"
    )
    PodSecurity().validate(req, _ctx({"pod-security.kubernetes.io/enforce": "baseline"}))
    assert req.warnings == [
        'would violate PodSecurity "baseline:latest": privileged (container "c" must not set securityContext.privileged=true)'
    ]
