"""API server defaulting: the values upstream's SetDefaults_* functions fill in.

Expected values come from pkg/apis/*/v1/defaults.go and their defaults_test.go upstream.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kube_teach.api.defaults import apply_defaults, image_pull_policy
from kube_teach.api.kinds import KINDS


def get(obj: Any, path: str) -> Any:
    for step in path.replace("]", "").replace("[", ".").split("."):
        obj = obj[int(step)] if isinstance(obj, list) else obj[step]
    return obj


def pod(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}], **spec},
    }


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx"}]}}},
    }


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        pytest.param("nginx", "Always", id="an image without a tag means latest, pulled Always"),
        pytest.param("nginx:latest", "Always", id="the latest tag is pulled Always"),
        pytest.param("nginx:1.25", "IfNotPresent", id="a pinned tag is pulled IfNotPresent"),
        pytest.param(
            "registry.k8s.io/kube-apiserver:v1.28.0",
            "IfNotPresent",
            id="a registry path with a tag",
        ),
        pytest.param("localhost:5000/app", "Always", id="a registry port is not a tag"),
        pytest.param(
            "nginx@sha256:" + "a" * 64, "IfNotPresent", id="a digest without a tag is IfNotPresent"
        ),
        pytest.param("Nginx", "IfNotPresent", id="an unparsable reference is IfNotPresent"),
        pytest.param("", "IfNotPresent", id="an empty image is IfNotPresent"),
    ],
)
def test_image_pull_policy(image: str, policy: str) -> None:
    assert image_pull_policy(image) == policy


POD_DEFAULTS = [
    ("spec.restartPolicy", "Always"),
    ("spec.terminationGracePeriodSeconds", 30),
    ("spec.dnsPolicy", "ClusterFirst"),
    ("spec.schedulerName", "default-scheduler"),
    ("spec.securityContext", {}),
    ("spec.enableServiceLinks", True),
    ("spec.containers[0].terminationMessagePath", "/dev/termination-log"),
    ("spec.containers[0].terminationMessagePolicy", "File"),
    ("spec.containers[0].imagePullPolicy", "IfNotPresent"),
]


@pytest.mark.parametrize(("path", "value"), POD_DEFAULTS, ids=[p for p, _ in POD_DEFAULTS])
def test_pod_defaults(path: str, value: Any) -> None:
    assert get(apply_defaults(pod()), path) == value


def test_container_ports_default_to_tcp() -> None:
    obj = pod()
    obj["spec"]["containers"][0]["ports"] = [{"containerPort": 80}]
    assert get(apply_defaults(obj), "spec.containers[0].ports[0].protocol") == "TCP"


def test_probe_defaults() -> None:
    obj = pod()
    obj["spec"]["containers"][0]["livenessProbe"] = {"httpGet": {"port": 80}}
    probe = get(apply_defaults(obj), "spec.containers[0].livenessProbe")
    assert probe == {
        "httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
        "timeoutSeconds": 1,
        "periodSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 3,
    }


def test_grpc_probes_get_an_empty_service() -> None:
    obj = pod()
    obj["spec"]["containers"][0]["readinessProbe"] = {"grpc": {"port": 9000}}
    assert get(apply_defaults(obj), "spec.containers[0].readinessProbe.grpc.service") == ""


def test_limits_are_copied_into_missing_requests_of_a_pod() -> None:
    obj = pod()
    obj["spec"]["containers"][0]["resources"] = {
        "limits": {"cpu": "500m", "memory": "128Mi"},
        "requests": {"cpu": "250m"},
    }
    requests = get(apply_defaults(obj), "spec.containers[0].resources.requests")
    assert requests == {"cpu": "250m", "memory": "128Mi"}


def test_pod_templates_do_not_get_requests_from_limits_nor_service_links() -> None:
    obj = deployment()
    obj["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "1"}}
    spec = apply_defaults(obj)["spec"]["template"]["spec"]
    assert "requests" not in spec["containers"][0]["resources"]
    assert "enableServiceLinks" not in spec
    assert spec["restartPolicy"] == "Always"


def test_quantities_are_stored_in_canonical_form_rounded_up_to_millis() -> None:
    obj = pod()
    obj["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "1000m", "memory": 0.5}}
    obj["spec"]["containers"][0]["resources"]["requests"] = {"cpu": "0.1m"}
    resources = get(apply_defaults(obj), "spec.containers[0].resources")
    assert resources == {
        "limits": {"cpu": "1", "memory": "500m"},
        "requests": {"cpu": "1m", "memory": "500m"},
    }


def test_host_network_pods_publish_their_container_ports() -> None:
    obj = pod(hostNetwork=True)
    obj["spec"]["containers"][0]["ports"] = [{"containerPort": 8080}]
    assert get(apply_defaults(obj), "spec.containers[0].ports[0].hostPort") == 8080


def test_volumes_default_to_empty_dir_and_file_modes_to_0644() -> None:
    obj = pod(volumes=[{"name": "scratch"}, {"name": "conf", "configMap": {"name": "c"}}])
    volumes = apply_defaults(obj)["spec"]["volumes"]
    assert volumes == [
        {"name": "scratch", "emptyDir": {}},
        {"name": "conf", "configMap": {"name": "c", "defaultMode": 420}},
    ]


def test_deployment_defaults() -> None:
    spec = apply_defaults(deployment())["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
    }
    assert spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600
    assert spec["template"]["spec"]["containers"][0]["imagePullPolicy"] == "Always"


def test_a_recreate_deployment_gets_no_rolling_parameters() -> None:
    obj = deployment()
    obj["spec"]["strategy"] = {"type": "Recreate"}
    assert apply_defaults(obj)["spec"]["strategy"] == {"type": "Recreate"}


def test_a_deployment_without_a_template_still_gets_pod_spec_defaults() -> None:
    obj = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}}
    assert apply_defaults(obj)["spec"]["template"]["spec"]["restartPolicy"] == "Always"


def test_replica_set_defaults_one_replica() -> None:
    obj = deployment()
    obj["kind"] = "ReplicaSet"
    spec = apply_defaults(obj)["spec"]
    assert spec["replicas"] == 1
    assert "strategy" not in spec


def test_daemon_set_defaults() -> None:
    obj = deployment()
    obj["kind"] = "DaemonSet"
    spec = apply_defaults(obj)["spec"]
    assert spec["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
    }
    assert spec["revisionHistoryLimit"] == 10
    assert "replicas" not in spec


def test_stateful_set_defaults() -> None:
    obj = deployment()
    obj["kind"] = "StatefulSet"
    spec = apply_defaults(obj)["spec"]
    assert spec["podManagementPolicy"] == "OrderedReady"
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert spec["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Retain",
        "whenScaled": "Retain",
    }
    assert (spec["replicas"], spec["revisionHistoryLimit"]) == (1, 10)


def test_service_defaults() -> None:
    obj = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {"ports": [{"port": 80}, {"port": 443, "targetPort": "https"}]},
    }
    spec = apply_defaults(obj)["spec"]
    assert spec == {
        "ports": [
            {"port": 80, "protocol": "TCP", "targetPort": 80},
            {"port": 443, "targetPort": "https", "protocol": "TCP"},
        ],
        "sessionAffinity": "None",
        "type": "ClusterIP",
        "internalTrafficPolicy": "Cluster",
    }


def test_load_balancer_services_get_traffic_policy_and_node_ports() -> None:
    obj = {"apiVersion": "v1", "kind": "Service", "spec": {"type": "LoadBalancer"}}
    spec = apply_defaults(obj)["spec"]
    assert spec["externalTrafficPolicy"] == "Cluster"
    assert spec["allocateLoadBalancerNodePorts"] is True


def test_client_ip_affinity_gets_a_three_hour_timeout() -> None:
    obj = {"apiVersion": "v1", "kind": "Service", "spec": {"sessionAffinity": "ClientIP"}}
    config = apply_defaults(obj)["spec"]["sessionAffinityConfig"]
    assert config == {"clientIP": {"timeoutSeconds": 10800}}


def hpa(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "h"},
        "spec": {"maxReplicas": 5, **spec},
    }


def test_an_autoscaler_defaults_to_one_replica_and_80_percent_cpu() -> None:
    spec = apply_defaults(hpa())["spec"]
    assert spec["minReplicas"] == 1
    assert spec["metrics"] == [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 80},
            },
        }
    ]
    assert "behavior" not in spec


def test_an_empty_behavior_gets_the_default_scaling_rules() -> None:
    behavior = apply_defaults(hpa(behavior={}))["spec"]["behavior"]
    assert behavior == {
        "scaleUp": {
            "stabilizationWindowSeconds": 0,
            "selectPolicy": "Max",
            "policies": [
                {"type": "Pods", "value": 4, "periodSeconds": 15},
                {"type": "Percent", "value": 100, "periodSeconds": 15},
            ],
        },
        "scaleDown": {
            "selectPolicy": "Max",
            "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
        },
    }


def test_behavior_fields_given_are_kept() -> None:
    behavior = apply_defaults(hpa(behavior={"scaleDown": {"stabilizationWindowSeconds": 60}}))
    assert behavior["spec"]["behavior"]["scaleDown"] == {
        "selectPolicy": "Max",
        "stabilizationWindowSeconds": 60,
        "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
    }


def test_autoscaling_v1_only_defaults_min_replicas() -> None:
    obj = hpa()
    obj["apiVersion"] = "autoscaling/v1"
    assert apply_defaults(obj)["spec"] == {"maxReplicas": 5, "minReplicas": 1}


def test_network_policy_types_follow_the_rules_given() -> None:
    obj = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "spec": {"podSelector": {}, "egress": [{"ports": [{"port": 53}]}]},
    }
    spec = apply_defaults(obj)["spec"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert spec["egress"][0]["ports"][0]["protocol"] == "TCP"
    obj["spec"].pop("egress")
    assert apply_defaults(obj)["spec"]["policyTypes"] == ["Ingress"]


def test_a_secret_is_opaque_and_its_string_data_is_folded_into_data() -> None:
    obj = {"apiVersion": "v1", "kind": "Secret", "stringData": {"user": "admin"}}
    assert apply_defaults(obj) == {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "data": {"user": "YWRtaW4="},
    }


def test_a_namespace_is_labelled_with_its_name_and_active() -> None:
    obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}
    out = apply_defaults(obj)
    assert out["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team-a"}
    assert out["status"] == {"phase": "Active"}


def test_a_node_without_allocatable_gets_its_capacity() -> None:
    obj = {"apiVersion": "v1", "kind": "Node", "status": {"capacity": {"cpu": "4"}}}
    assert apply_defaults(obj)["status"]["allocatable"] == {"cpu": "4"}


def test_priority_classes_preempt_lower_priorities() -> None:
    obj = {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "value": 10}
    assert apply_defaults(obj)["preemptionPolicy"] == "PreemptLowerPriority"


def test_a_disruption_budget_has_no_defaults() -> None:
    obj = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "spec": {"minAvailable": 1}}
    assert apply_defaults(obj) == obj


def test_the_input_is_not_modified_and_defaulting_is_idempotent() -> None:
    for obj in (pod(), deployment(), hpa(behavior={})):
        before = copy.deepcopy(obj)
        once = apply_defaults(obj)
        assert obj == before
        assert apply_defaults(once) == once


def test_wrong_types_are_left_for_validation_to_report() -> None:
    obj = deployment()
    obj["spec"]["strategy"] = "fast"
    obj["spec"]["template"]["spec"]["containers"] = "nginx"
    out = apply_defaults(obj)
    assert out["spec"]["strategy"] == "fast"
    assert out["spec"]["template"]["spec"]["containers"] == "nginx"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=30,
)
FIELD_NAMES = st.sampled_from(
    ["spec", "metadata", "template", "containers", "ports", "resources", "limits", "requests",
     "strategy", "rollingUpdate", "selector", "matchLabels", "behavior", "scaleUp", "metrics",
     "livenessProbe", "httpGet", "volumes", "configMap", "stringData", "status", "capacity",
     "ingress", "egress", "policyTypes", "subjects", "roleRef", "updateStrategy", "name"]
)  # fmt: skip
JUNK_OBJECT = st.recursive(
    JSON, lambda children: st.dictionaries(FIELD_NAMES, children, max_size=6), max_leaves=40
)


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(sorted(KINDS)), body=st.dictionaries(FIELD_NAMES, JUNK_OBJECT))
def test_junk_never_raises(kind: str, body: dict[str, Any]) -> None:
    obj = {"apiVersion": KINDS[kind].api_version, "kind": kind, **body}
    out = apply_defaults(obj)
    assert apply_defaults(out) == out
