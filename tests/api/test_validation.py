"""Create and update validation, case by case, against kube-apiserver's exact messages.

Cases follow pkg/apis/*/validation/validation_test.go upstream; each starts from a valid object,
changes one thing and lists every error the API server reports, in its order.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kube_teach.api.errors import FieldError
from kube_teach.api.kinds import KINDS
from kube_teach.api.validation import validate, validate_update

DELETE = object()

SUBDOMAIN = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
DNS1035 = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
LABEL_VALUE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?"
    "[A-Za-z0-9])?')"
)
CONFIG_KEY = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. "
    "'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
    "'[-._a-zA-Z0-9]+')"
)
PERCENT = (
    "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or "
    "'93%', regex used for validation is '[0-9]+%')"
)
PORT_RANGE = "must be between 1 and 65535, inclusive"
MATCH = "`selector` does not match template `labels`"


# -- valid objects -----------------------------------------------------------------------------
def pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "nginx:1.25",
                    "ports": [{"name": "http", "containerPort": 80}],
                    "resources": {
                        "requests": {"cpu": "250m", "memory": "256Mi"},
                        "limits": {"cpu": "500m", "memory": "512Mi"},
                    },
                }
            ]
        },
    }


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}]},
            },
        },
    }


def replica_set() -> dict[str, Any]:
    obj = deployment()
    obj["kind"] = "ReplicaSet"
    return obj


def daemon_set() -> dict[str, Any]:
    obj = deployment()
    obj["kind"] = "DaemonSet"
    del obj["spec"]["replicas"]
    return obj


def service() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }


def hpa() -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 2,
            "maxReplicas": 10,
        },
    }


def pdb() -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}},
    }


def netpol() -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "allow", "namespace": "default"},
        "spec": {
            "podSelector": {"matchLabels": {"app": "db"}},
            "ingress": [{"from": [{"podSelector": {}}], "ports": [{"port": 5432}]}],
        },
    }


def simple(kind: str, api_version: str = "v1", namespaced: bool = True, **body: Any) -> dict:
    meta = {"name": "x", "namespace": "default"} if namespaced else {"name": "x"}
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, **body}


# -- mutation ----------------------------------------------------------------------------------
_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _steps(path: str) -> list[str | int]:
    return [name if name else int(i) for name, i in _TOKEN.findall(path)]


def changed(obj: dict[str, Any], *changes: tuple[str, Any]) -> dict[str, Any]:
    """A copy of `obj` with each dotted path set (missing dicts created) or deleted."""
    out = copy.deepcopy(obj)
    for path, value in changes:
        *parents, last = _steps(path)
        cur: Any = out
        for step in parents:
            if isinstance(step, str) and step not in cur:
                cur[step] = {}
            cur = cur[step]
        if value is DELETE:
            del cur[last]
        else:
            cur[last] = value
    return out


def texts(errors: list[FieldError]) -> list[str]:
    return [str(e) for e in errors]


CASES = [
    # -- object metadata (apimachinery objectmeta_test.go) -------------------------------------
    pytest.param(
        changed(deployment(), ("metadata.name", "Web")),
        [f'metadata.name: Invalid value: "Web": {SUBDOMAIN}'],
        id="a deployment name with a capital letter is not a DNS-1123 subdomain",
    ),
    pytest.param(
        changed(deployment(), ("metadata.name", DELETE)),
        ["metadata.name: Required value: name or generateName is required"],
        id="an object needs a name or a generateName",
    ),
    pytest.param(
        changed(deployment(), ("metadata.name", DELETE), ("metadata.generateName", "web-")),
        [],
        id="a generateName prefix may end with a dash",
    ),
    pytest.param(
        changed(deployment(), ("metadata.name", DELETE), ("metadata.generateName", "Web-")),
        [f'metadata.generateName: Invalid value: "Web-": {SUBDOMAIN}'],
        id="a generateName prefix is checked with the kind's name rule",
    ),
    pytest.param(
        changed(deployment(), ("metadata.namespace", DELETE)),
        ["metadata.namespace: Required value"],
        id="a namespaced object needs a namespace",
    ),
    pytest.param(
        changed(deployment(), ("metadata.namespace", "Prod")),
        [f'metadata.namespace: Invalid value: "Prod": {LABEL}'],
        id="the namespace must be a DNS-1123 label",
    ),
    pytest.param(
        simple("Namespace", namespaced=False, metadata={"name": "team.a"}),
        ['metadata.name: Invalid value: "team.a": must not contain dots'],
        id="a namespace name that is a valid subdomain is only told about the dots",
    ),
    pytest.param(
        changed(service(), ("metadata.name", "1web")),
        [f'metadata.name: Invalid value: "1web": {DNS1035}'],
        id="a service name must start with a letter (DNS-1035)",
    ),
    pytest.param(
        simple("PriorityClass", "scheduling.k8s.io/v1", namespaced=True, value=10),
        ["metadata.namespace: Forbidden: not allowed on this type"],
        id="a cluster-scoped object may not carry a namespace",
    ),
    pytest.param(
        changed(deployment(), ("metadata.labels", {"tier": "front end"})),
        [f'metadata.labels: Invalid value: "front end": {LABEL_VALUE}'],
        id="a label value may not contain spaces",
    ),
    pytest.param(
        changed(deployment(), ("metadata.finalizers", ["cleanup"])),
        [
            'metadata.finalizers[0]: Invalid value: "cleanup": name is neither a standard '
            "finalizer name nor is it fully qualified"
        ],
        id="an unqualified finalizer must be a standard one",
    ),
    # -- pods (core validation_test.go TestValidatePodSpec, TestValidateContainers) ------------
    pytest.param(pod(), [], id="a plain pod is valid"),
    pytest.param(
        changed(pod(), ("spec.containers", [])),
        ["spec.containers: Required value"],
        id="a pod needs at least one container",
    ),
    pytest.param(
        changed(
            pod(),
            (
                "spec.containers",
                [
                    {"name": "app", "image": "a"},
                    {"name": "app", "image": "b"},
                ],
            ),
        ),  # fmt: skip
        ['spec.containers[1].name: Duplicate value: "app"'],
        id="container names are unique",
    ),
    pytest.param(
        changed(pod(), ("spec.containers[0].name", "App")),
        [f'spec.containers[0].name: Invalid value: "App": {LABEL}'],
        id="a container name is a DNS-1123 label",
    ),
    pytest.param(
        changed(pod(), ("spec.containers[0].image", DELETE)),
        ["spec.containers[0].image: Required value"],
        id="a container needs an image",
    ),
    pytest.param(
        changed(pod(), ("spec.containers[0].image", "nginx ")),
        [
            'spec.containers[0].image: Invalid value: "nginx ": must not have leading or '
            "trailing whitespace"
        ],
        id="a pod's image may not have trailing whitespace",
    ),
    pytest.param(
        changed(pod(), ("spec.containers[0].ports[0].containerPort", 0)),
        ["spec.containers[0].ports[0].containerPort: Required value"],
        id="a container port is required",
    ),
    pytest.param(
        changed(pod(), ("spec.containers[0].ports[0].containerPort", 70000)),
        [f"spec.containers[0].ports[0].containerPort: Invalid value: 70000: {PORT_RANGE}"],
        id="a container port must be at most 65535",
    ),
    pytest.param(
        changed(pod(), ("spec.containers[0].ports[0].protocol", "HTTP")),
        [
            'spec.containers[0].ports[0].protocol: Unsupported value: "HTTP": supported '
            'values: "SCTP", "TCP", "UDP"'
        ],
        id="a port protocol is TCP, UDP or SCTP",
    ),
    pytest.param(
        changed(pod(), ("spec.containers[0].ports[0].name", "http_port")),
        [
            'spec.containers[0].ports[0].name: Invalid value: "http_port": must contain only '
            "alpha-numeric characters (a-z, 0-9), and hyphens (-)"
        ],
        id="a port name may not contain underscores",
    ),
    pytest.param(
        changed(
            pod(),
            (
                "spec.containers[0].ports",
                [
                    {"name": "http", "containerPort": 80},
                    {"name": "http", "containerPort": 81},
                ],
            ),
        ),  # fmt: skip
        ['spec.containers[0].ports[1].name: Duplicate value: "http"'],
        id="port names are unique within a container",
    ),
    pytest.param(
        changed(pod(), ("spec.containers[0].env", [{"value": "x"}])),
        ["spec.containers[0].env[0].name: Required value"],
        id="an environment variable needs a name",
    ),
    pytest.param(
        changed(
            pod(),
            (
                "spec.containers[0].env",
                [
                    {
                        "name": "A",
                        "value": "x",
                        "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
                    },
                ],
            ),
        ),  # fmt: skip
        [
            'spec.containers[0].env[0].valueFrom: Invalid value: "": may not be specified when '
            "`value` is not empty"
        ],
        id="an env var takes a value or a valueFrom, not both",
    ),
    pytest.param(
        changed(pod(), ("spec.containers[0].resources.requests.memory", "1Gi")),
        [
            'spec.containers[0].resources.requests: Invalid value: "1Gi": must be less than or '
            "equal to memory limit of 512Mi"
        ],
        id="a memory request may not exceed its limit",
    ),
    pytest.param(
        changed(pod(), ("spec.containers[0].resources.requests.cpu", "600m")),
        [
            'spec.containers[0].resources.requests: Invalid value: "600m": must be less than or '
            "equal to cpu limit of 500m"
        ],
        id="a cpu request may not exceed its limit",
    ),
    pytest.param(
        changed(pod(), ("spec.containers[0].resources.requests.cpu", "-1")),
        [
            'spec.containers[0].resources.requests[cpu]: Invalid value: "-1": must be greater '
            "than or equal to 0"
        ],
        id="a resource quantity may not be negative",
    ),
    pytest.param(
        changed(
            deployment(), ("spec.template.spec.containers[0].resources", {"limits": {"gpu": "1"}})
        ),
        [
            'spec.template.spec.containers[0].resources.limits[gpu]: Invalid value: "gpu": must '
            "be a standard resource type or fully qualified",
            'spec.template.spec.containers[0].resources.limits[gpu]: Invalid value: "gpu": must '
            "be a standard resource for containers",
        ],
        id="an unprefixed resource name must be a standard one",
    ),
    pytest.param(
        changed(
            pod(),
            ("spec.containers[0].resources.requests", {"example.com/gpu": "1"}),
            ("spec.containers[0].resources.limits", DELETE),
        ),  # fmt: skip
        [
            "spec.containers[0].resources.limits: Required value: Limit must be set for non "
            "overcommitable resources"
        ],
        id="an extended resource request needs a limit",
    ),
    pytest.param(
        changed(pod(), ("spec.restartPolicy", "Sometimes")),
        [
            'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", '
            '"OnFailure", "Never"'
        ],
        id="restartPolicy is Always, OnFailure or Never",
    ),
    pytest.param(
        changed(pod(), ("spec.dnsPolicy", "Cluster")),
        [
            'spec.dnsPolicy: Unsupported value: "Cluster": supported values: '
            '"ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"'
        ],
        id="dnsPolicy is one of four values",
    ),
    pytest.param(
        changed(pod(), ("spec.activeDeadlineSeconds", 0)),
        [
            "spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive"
        ],
        id="activeDeadlineSeconds must be positive",
    ),
    pytest.param(
        changed(pod(), ("spec.containers[0].livenessProbe", {"periodSeconds": 5})),
        ["spec.containers[0].livenessProbe: Required value: must specify a handler type"],
        id="a probe needs a handler",
    ),
    pytest.param(
        changed(
            pod(),
            (
                "spec.containers[0].readinessProbe",
                {
                    "exec": {"command": ["true"]},
                    "tcpSocket": {"port": 80},
                },
            ),
        ),  # fmt: skip
        [
            "spec.containers[0].readinessProbe.tcpSocket: Forbidden: may not specify more than "
            "1 handler type"
        ],
        id="a probe has exactly one handler",
    ),
    pytest.param(
        changed(
            pod(),
            (
                "spec.containers[0].livenessProbe",
                {
                    "httpGet": {"port": 80},
                    "successThreshold": 2,
                },
            ),
        ),  # fmt: skip
        ["spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1"],
        id="a liveness probe's successThreshold must be 1",
    ),
    pytest.param(
        changed(
            pod(),
            (
                "spec.containers[0].readinessProbe",
                {
                    "httpGet": {"port": 80},
                    "initialDelaySeconds": -5,
                },
            ),
        ),  # fmt: skip
        [
            "spec.containers[0].readinessProbe.initialDelaySeconds: Invalid value: -5: must be "
            "greater than or equal to 0"
        ],
        id="probe timings may not be negative",
    ),
    pytest.param(
        changed(pod(), ("spec.containers[0].livenessProbe", {"httpGet": {"port": 0}})),
        [f"spec.containers[0].livenessProbe.httpGet.port: Invalid value: 0: {PORT_RANGE}"],
        id="an httpGet probe needs a real port",
    ),
    pytest.param(
        changed(pod(), ("spec.tolerations", [{"operator": "Equal", "value": "x"}])),
        [
            'spec.tolerations[0].operator: Invalid value: "Equal": operator must be Exists when '
            '`key` is empty, which means "match all values and all keys"'
        ],
        id="a toleration without a key must use Exists",
    ),
    pytest.param(
        changed(pod(), ("spec.tolerations", [{"key": "k", "operator": "Bogus"}])),
        [
            'spec.tolerations[0].operator: Unsupported value: "Bogus": supported values: "Equal", "Exists"'
        ],
        id="a toleration operator is Equal or Exists",
    ),
    pytest.param(
        changed(pod(), ("spec.tolerations", [{"key": "k", "effect": "NoRun"}])),
        [
            'spec.tolerations[0].effect: Unsupported value: "NoRun": supported values: '
            '"NoSchedule", "PreferNoSchedule", "NoExecute"'
        ],
        id="a toleration effect must be a taint effect",
    ),
    pytest.param(
        changed(
            pod(),
            (
                "spec.tolerations",
                [
                    {"key": "k", "effect": "NoSchedule", "tolerationSeconds": 60},
                ],
            ),
        ),  # fmt: skip
        [
            'spec.tolerations[0].effect: Invalid value: "NoSchedule": effect must be '
            "'NoExecute' when `tolerationSeconds` is set"
        ],
        id="tolerationSeconds only goes with NoExecute",
    ),
    pytest.param(
        changed(pod(), ("spec.nodeSelector", {"disk": "ssd drive"})),
        [f'spec.nodeSelector: Invalid value: "ssd drive": {LABEL_VALUE}'],
        id="nodeSelector values are label values",
    ),
    pytest.param(
        changed(
            pod(),
            (
                "spec.affinity",
                {
                    "nodeAffinity": {
                        "preferredDuringSchedulingIgnoredDuringExecution": [
                            {"weight": 0, "preference": {}}
                        ],
                    }
                },
            ),
        ),  # fmt: skip
        [
            "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0]."
            "weight: Invalid value: 0: must be in the range 1-100"
        ],
        id="a preferred node affinity weight is between 1 and 100",
    ),
    pytest.param(
        changed(
            pod(),
            (
                "spec.affinity",
                {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []},
                    }
                },
            ),
        ),  # fmt: skip
        [
            "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution."
            "nodeSelectorTerms: Required value: must have at least one node selector term"
        ],
        id="required node affinity needs a term",
    ),
    pytest.param(
        changed(
            pod(),
            (
                "spec.affinity",
                {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {
                                    "matchExpressions": [
                                        {"key": "cores", "operator": "Gt", "values": ["1", "2"]}
                                    ]
                                },
                            ]
                        },
                    }
                },
            ),
        ),  # fmt: skip
        [
            "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution."
            "nodeSelectorTerms[0].matchExpressions[0].values: Required value: must be specified "
            "single value when `operator` is 'Lt' or 'Gt'"
        ],
        id="a Gt node selector takes exactly one value",
    ),
    pytest.param(
        changed(
            pod(),
            (
                "spec.topologySpreadConstraints",
                [
                    {
                        "maxSkew": 0,
                        "topologyKey": "zone",
                        "whenUnsatisfiable": "DoNotSchedule",
                    }
                ],
            ),
        ),  # fmt: skip
        ["spec.topologySpreadConstraints[0].maxSkew: Invalid value: 0: must be greater than zero"],
        id="a topology spread maxSkew must be positive",
    ),
    pytest.param(
        changed(pod(), ("spec.containers[0].volumeMounts", [{"name": "data", "mountPath": "/d"}])),
        ['spec.containers[0].volumeMounts[0].name: Not found: "data"'],
        id="a volume mount must name a volume of the pod",
    ),
    pytest.param(
        changed(
            pod(), ("spec.volumes", [{"name": "v", "emptyDir": {}, "hostPath": {"path": "/"}}])
        ),
        ["spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type"],
        id="a volume has exactly one source",
    ),
    pytest.param(
        changed(pod(), ("spec.hostNetwork", True), ("spec.containers[0].ports[0].hostPort", 8080)),
        [
            "spec.containers[0].ports[0].hostPort: Invalid value: 8080: must match "
            "`containerPort` when `hostNetwork` is true"
        ],
        id="with hostNetwork the host port equals the container port",
    ),
    # -- deployments, replica sets, daemon sets (apps validation_test.go) ----------------------
    pytest.param(deployment(), [], id="a plain deployment is valid"),
    pytest.param(
        changed(deployment(), ("spec.replicas", -1)),
        ["spec.replicas: Invalid value: -1: must be greater than or equal to 0"],
        id="replicas may not be negative",
    ),
    pytest.param(
        changed(deployment(), ("spec.selector", DELETE)),
        [
            "spec.selector: Required value",
            f'spec.template.metadata.labels: Invalid value: {{"app":"web"}}: {MATCH}',
        ],
        id="a deployment needs a selector, and a missing one matches nothing",
    ),
    pytest.param(
        changed(deployment(), ("spec.selector", {})),
        ["spec.selector: Invalid value: {}: empty selector is invalid for deployment"],
        id="an empty selector is invalid for a deployment",
    ),
    pytest.param(
        changed(deployment(), ("spec.selector.matchLabels.app", "api")),
        [f'spec.template.metadata.labels: Invalid value: {{"app":"web"}}: {MATCH}'],
        id="the selector must match the template labels",
    ),
    pytest.param(
        changed(
            deployment(),
            (
                "spec.selector",
                {
                    "matchExpressions": [
                        {"key": "app", "operator": "Gt", "values": ["1"]},
                    ]
                },
            ),
        ),  # fmt: skip
        [
            'spec.selector.matchExpressions[0].operator: Invalid value: "Gt": not a valid '
            "selector operator",
            'spec.selector: Invalid value: {"matchExpressions":[{"key":"app","operator":"Gt",'
            '"values":["1"]}]}: invalid label selector',
        ],
        id="a selector operator is In, NotIn, Exists or DoesNotExist",
    ),
    pytest.param(
        changed(
            deployment(),
            (
                "spec.selector",
                {
                    "matchExpressions": [
                        {"key": "app", "operator": "In", "values": []},
                    ]
                },
            ),
        ),  # fmt: skip
        [
            "spec.selector.matchExpressions[0].values: Required value: must be specified when "
            "`operator` is 'In' or 'NotIn'",
            'spec.selector: Invalid value: {"matchExpressions":[{"key":"app","operator":"In",'
            '"values":[]}]}: invalid label selector',
        ],
        id="an In requirement needs values",
    ),
    pytest.param(
        changed(deployment(), ("spec.template.spec.restartPolicy", "Never")),
        [
            'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"'
        ],
        id="a deployment's pods must restart Always",
    ),
    pytest.param(
        changed(deployment(), ("spec.template.spec.activeDeadlineSeconds", 30)),
        [
            "spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in "
            "ReplicaSet is not Supported"
        ],
        id="a deployment template may not set activeDeadlineSeconds",
    ),
    pytest.param(
        changed(
            deployment(), ("spec.strategy", {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}})
        ),
        [
            "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when "
            "`maxSurge` is 0"
        ],
        id="maxUnavailable may not be 0 when maxSurge is 0",
    ),
    pytest.param(
        changed(deployment(), ("spec.strategy", {"rollingUpdate": {"maxUnavailable": "150%"}})),
        [
            'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "150%": must not be '
            "greater than 100%"
        ],
        id="maxUnavailable may not exceed 100 percent",
    ),
    pytest.param(
        changed(deployment(), ("spec.strategy", {"rollingUpdate": {"maxSurge": "lots"}})),
        [f'spec.strategy.rollingUpdate.maxSurge: Invalid value: "lots": {PERCENT}'],
        id="maxSurge is an integer or a percentage",
    ),
    pytest.param(
        changed(deployment(), ("spec.strategy", {"rollingUpdate": {"maxSurge": -1}})),
        [
            "spec.strategy.rollingUpdate.maxSurge: Invalid value: -1: must be greater than or equal to 0"
        ],
        id="maxSurge may not be negative",
    ),
    pytest.param(
        changed(deployment(), ("spec.strategy", {"type": "Recreate", "rollingUpdate": {}})),
        [
            "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` "
            "is 'Recreate'"
        ],
        id="Recreate takes no rollingUpdate parameters",
    ),
    pytest.param(
        changed(deployment(), ("spec.minReadySeconds", 700)),
        ["spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds"],
        id="the progress deadline must exceed minReadySeconds",
    ),
    pytest.param(
        changed(deployment(), ("spec.revisionHistoryLimit", -1)),
        ["spec.revisionHistoryLimit: Invalid value: -1: must be greater than or equal to 0"],
        id="revisionHistoryLimit may not be negative",
    ),
    pytest.param(
        changed(replica_set(), ("spec.selector", {})),
        ["spec.selector: Invalid value: {}: empty selector is invalid for deployment"],
        id="a replica set's empty selector error says deployment, as upstream's does",
    ),
    pytest.param(
        changed(daemon_set(), ("spec.selector", DELETE)),
        [f'spec.template.metadata.labels: Invalid value: {{"app":"web"}}: {MATCH}'],
        id="a daemon set without a selector is only told that nothing matches",
    ),
    pytest.param(
        changed(daemon_set(), ("spec.updateStrategy", {"rollingUpdate": {"maxUnavailable": 0}})),
        [
            "spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when "
            "maxSurge is 0"
        ],
        id="a daemon set rollout needs maxUnavailable or maxSurge",
    ),
    pytest.param(
        changed(daemon_set(), ("spec.updateStrategy", {"rollingUpdate": {"maxSurge": 1}})),
        [
            "spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: may not be set when "
            "maxUnavailable is non-zero"
        ],
        id="a daemon set surges only when maxUnavailable is zero",
    ),
    # -- services (core validation_test.go TestValidateServiceCreate) --------------------------
    pytest.param(service(), [], id="a plain service is valid"),
    pytest.param(
        changed(service(), ("spec.ports", [])),
        ["spec.ports: Required value"],
        id="a service needs ports",
    ),
    pytest.param(
        changed(service(), ("spec.ports[0].port", 0)),
        [f"spec.ports[0].port: Invalid value: 0: {PORT_RANGE}"],
        id="a service port is between 1 and 65535",
    ),
    pytest.param(
        changed(service(), ("spec.ports", [{"port": 80}, {"port": 443}])),
        ["spec.ports[0].name: Required value", "spec.ports[1].name: Required value"],
        id="several service ports must be named",
    ),
    pytest.param(
        changed(service(), ("spec.ports[0].nodePort", 30080)),
        ["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"],
        id="a ClusterIP service has no node ports",
    ),
    pytest.param(
        changed(service(), ("spec.type", "Internal")),
        [
            'spec.type: Unsupported value: "Internal": supported values: "ClusterIP", '
            '"ExternalName", "LoadBalancer", "NodePort"'
        ],
        id="a service type is one of four",
    ),
    pytest.param(
        changed(service(), ("spec.ports[0].targetPort", "http_port")),
        [
            'spec.ports[0].targetPort: Invalid value: "http_port": must contain only '
            "alpha-numeric characters (a-z, 0-9), and hyphens (-)"
        ],
        id="a named target port is an IANA service name",
    ),
    pytest.param(
        changed(service(), ("spec.type", "ExternalName"), ("spec.ports", DELETE)),
        ["spec.externalName: Required value"],
        id="an ExternalName service needs the external name",
    ),
    # -- autoscalers (autoscaling validation_test.go) ------------------------------------------
    pytest.param(hpa(), [], id="a plain autoscaler is valid"),
    pytest.param(
        changed(hpa(), ("spec.minReplicas", 0)),
        ["spec.minReplicas: Invalid value: 0: must be greater than or equal to 1"],
        id="minReplicas is at least 1",
    ),
    pytest.param(
        changed(hpa(), ("spec.maxReplicas", 1)),
        ["spec.maxReplicas: Invalid value: 1: must be greater than or equal to `minReplicas`"],
        id="maxReplicas is at least minReplicas",
    ),
    pytest.param(
        changed(hpa(), ("spec.maxReplicas", 0), ("spec.minReplicas", DELETE)),
        [
            "spec.maxReplicas: Invalid value: 0: must be greater than 0",
            "spec.maxReplicas: Invalid value: 0: must be greater than or equal to `minReplicas`",
        ],
        id="maxReplicas is positive, and also below the defaulted minReplicas",
    ),
    pytest.param(
        changed(hpa(), ("spec.scaleTargetRef.kind", DELETE)),
        ["spec.scaleTargetRef.kind: Required value"],
        id="the scale target needs a kind",
    ),
    pytest.param(
        changed(hpa(), ("spec.metrics", [{"type": "Resource"}])),
        [
            "spec.metrics[0].resource: Required value: must populate information for the given "
            "metric source"
        ],
        id="a Resource metric needs its resource",
    ),
    pytest.param(
        changed(
            hpa(),
            (
                "spec.metrics",
                [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 0},
                        },
                    }
                ],
            ),
        ),  # fmt: skip
        [
            "spec.metrics[0].resource.target.averageUtilization: Invalid value: 0: must be "
            "greater than 0"
        ],
        id="a utilization target is positive",
    ),
    pytest.param(
        changed(
            hpa(),
            (
                "spec.behavior",
                {
                    "scaleUp": {
                        "policies": [
                            {"type": "Pods", "value": 4, "periodSeconds": 2000},
                        ]
                    }
                },
            ),
        ),  # fmt: skip
        [
            "spec.behavior.scaleUp.policies[0].periodSeconds: Invalid value: 2000: must be less "
            "than or equal to 1800"
        ],
        id="a scaling policy period is at most 30 minutes",
    ),
    pytest.param(
        changed(hpa(), ("spec.behavior", {"scaleDown": {"policies": []}})),
        ["spec.behavior.scaleDown.policies: Required value: must specify at least one Policy"],
        id="explicit scaling rules need a policy",
    ),
    # -- disruption budgets, priority classes, network policies, leases ------------------------
    pytest.param(pdb(), [], id="a plain disruption budget is valid"),
    pytest.param(
        changed(pdb(), ("spec.minAvailable", "120%")),
        ['spec.minAvailable: Invalid value: "120%": must not be greater than 100%'],
        id="minAvailable may not exceed 100 percent",
    ),
    pytest.param(
        changed(pdb(), ("spec.minAvailable", DELETE), ("spec.maxUnavailable", -1)),
        ["spec.maxUnavailable: Invalid value: -1: must be greater than or equal to 0"],
        id="maxUnavailable may not be negative",
    ),
    pytest.param(
        simple("PriorityClass", "scheduling.k8s.io/v1", namespaced=False, value=2_000_000_000),
        ["value: Forbidden: maximum allowed value of a user defined priority is 1000000000"],
        id="a user priority is at most one billion",
    ),
    pytest.param(
        changed(
            simple("PriorityClass", "scheduling.k8s.io/v1", namespaced=False, value=5),
            ("metadata.name", "system-high"),
        ),  # fmt: skip
        [
            "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved "
            "for system use only. error: system-high is not a known system priority class"
        ],
        id="the system- prefix is reserved",
    ),
    pytest.param(netpol(), [], id="a plain network policy is valid"),
    pytest.param(
        changed(netpol(), ("spec.policyTypes", ["Sideways"])),
        [
            'spec.policyTypes[0]: Unsupported value: "Sideways": supported values: "Ingress", "Egress"'
        ],
        id="policy types are Ingress and Egress",
    ),
    pytest.param(
        changed(netpol(), ("spec.ingress[0].from", [{}])),
        ["spec.ingress[0].from[0]: Required value: must specify a peer"],
        id="a network policy peer selects something",
    ),
    pytest.param(
        changed(netpol(), ("spec.ingress[0].from", [{"ipBlock": {"cidr": "10.0.0.0/33"}}])),
        ['spec.ingress[0].from[0].ipBlock.cidr: Invalid value: "10.0.0.0/33": not a valid CIDR'],
        id="an ipBlock needs a valid CIDR",
    ),
    pytest.param(
        changed(netpol(), ("spec.ingress[0].ports[0].port", 70000)),
        [f"spec.ingress[0].ports[0].port: Invalid value: 70000: {PORT_RANGE}"],
        id="a network policy port is a valid port",
    ),
    pytest.param(
        simple("Lease", "coordination.k8s.io/v1", spec={"leaseDurationSeconds": 0}),
        ["spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"],
        id="a lease lasts a positive time",
    ),
    # -- config maps, secrets, quotas, limit ranges --------------------------------------------
    pytest.param(
        simple("ConfigMap", data={"conf/app.yaml": "x"}),
        [f'data[conf/app.yaml]: Invalid value: "conf/app.yaml": {CONFIG_KEY}'],
        id="a config map key may not contain a slash",
    ),
    pytest.param(
        simple("Secret", type="kubernetes.io/tls", data={"tls.crt": "eA=="}),
        ["data[tls.key]: Required value"],
        id="a TLS secret needs its key",
    ),
    pytest.param(
        simple("ResourceQuota", spec={"hard": {"pods": "1.5"}}),
        ['spec.hard[pods]: Invalid value: "1500m": must be an integer'],
        id="an object-count quota is a whole number",
    ),
    pytest.param(
        simple("ResourceQuota", spec={"hard": {"cpu": "-2"}}),
        ['spec.hard[cpu]: Invalid value: "-2": must be greater than or equal to 0'],
        id="a quota may not be negative",
    ),
    pytest.param(
        simple(
            "LimitRange",
            spec={"limits": [{"type": "Pod", "min": {"cpu": "2"}, "max": {"cpu": "1"}}]},
        ),
        ['spec.limits[0].min[cpu]: Invalid value: "2": min value 2 is greater than max value 1'],
        id="a limit range minimum may not exceed its maximum",
    ),
]


@pytest.mark.parametrize(("obj", "want"), CASES)
def test_validate(obj: dict[str, Any], want: list[str]) -> None:
    assert texts(validate(obj)) == want


def test_the_table_has_at_least_sixty_cases() -> None:
    assert len(CASES) >= 60


def test_both_min_available_and_max_unavailable_is_rejected_on_the_whole_spec() -> None:
    errors = validate(changed(pdb(), ("spec.maxUnavailable", 1)))
    assert [(e.type, e.field, e.detail) for e in errors] == [
        ("Invalid", "spec", "minAvailable and maxUnavailable cannot be both set")
    ]
    # The bad value is the internal PodDisruptionBudgetSpec, printed with Go field names.
    assert errors[0].bad_value == {
        "MinAvailable": 1,
        "Selector": {"matchLabels": {"app": "web"}},
        "MaxUnavailable": 1,
        "UnhealthyPodEvictionPolicy": None,
    }


def test_only_one_owner_reference_may_be_the_controller() -> None:
    refs = [
        {"apiVersion": "v1", "kind": "A", "name": "a", "uid": "1", "controller": True},
        {"apiVersion": "v1", "kind": "B", "name": "b", "uid": "2", "controller": True},
    ]
    [error] = validate(changed(deployment(), ("metadata.ownerReferences", refs)))
    assert (error.type, error.field, error.bad_value) == (
        "Invalid",
        "metadata.ownerReferences",
        refs,
    )
    assert error.detail == (
        'Only one reference can have Controller set to true. Found "true" in references for A/a '
        "and B/b"
    )


def test_validation_runs_on_the_defaulted_object() -> None:
    # Without defaulting, restartPolicy, dnsPolicy, imagePullPolicy ... would all be Required.
    raw = changed(pod(), ("spec.containers[0].resources", {}))
    assert validate(raw) == []
    assert "spec.restartPolicy: Required value" in texts(validate(raw, default=False))


def test_a_wrong_json_type_is_reported_with_the_decoders_text() -> None:
    errors = validate(changed(deployment(), ("spec.replicas", "3")))
    assert texts(errors) == [
        'spec.replicas: Invalid value: "3": json: cannot unmarshal string into Go struct field '
        "DeploymentSpec.spec.replicas of type int32"
    ]


def test_the_input_is_not_modified() -> None:
    obj = deployment()
    before = copy.deepcopy(obj)
    validate(obj)
    assert obj == before


# -- updates -----------------------------------------------------------------------------------
def stored(obj: dict[str, Any]) -> dict[str, Any]:
    return changed(obj, ("metadata.resourceVersion", "7"), ("metadata.uid", "u-1"))


UPDATE_CASES = [
    pytest.param(
        stored(deployment()),
        changed(stored(deployment()), ("spec.replicas", 5)),
        [],
        id="scaling a deployment is allowed",
    ),
    pytest.param(
        stored(deployment()),
        changed(stored(deployment()), ("spec.selector.matchLabels.app", "web2")),
        ['spec.selector: Invalid value: {"matchLabels":{"app":"web2"}}: field is immutable'],
        id="a deployment selector is immutable in apps/v1",
    ),
    pytest.param(
        stored(daemon_set()),
        changed(stored(daemon_set()), ("spec.selector", {"matchLabels": {"app": "x"}})),
        ['spec.selector: Invalid value: {"matchLabels":{"app":"x"}}: field is immutable'],
        id="a daemon set selector is immutable",
    ),
    pytest.param(
        stored(deployment()),
        changed(stored(deployment()), ("metadata.name", "web2")),
        ['metadata.name: Invalid value: "web2": field is immutable'],
        id="a name never changes",
    ),
    pytest.param(
        stored(deployment()),
        changed(stored(deployment()), ("metadata.uid", "u-2")),
        ['metadata.uid: Invalid value: "u-2": field is immutable'],
        id="a uid never changes",
    ),
    pytest.param(
        stored(deployment()),
        changed(stored(deployment()), ("metadata.resourceVersion", DELETE)),
        ['metadata.resourceVersion: Invalid value: "": must be specified for an update'],
        id="an update carries a resourceVersion",
    ),
    pytest.param(
        stored(pod()),
        changed(stored(pod()), ("spec.containers[0].image", "nginx:1.26")),
        [],
        id="a pod's image may change",
    ),
    pytest.param(
        stored(pod()),
        changed(
            stored(pod()),
            ("spec.containers", [{"name": "app", "image": "a"}, {"name": "b", "image": "b"}]),
        ),
        ["spec.containers: Forbidden: pod updates may not add or remove containers"],
        id="a pod keeps its containers",
    ),
    pytest.param(
        stored(
            simple(
                "Service",
                spec={"ports": [{"port": 80}], "clusterIP": "10.0.0.5", "clusterIPs": ["10.0.0.5"]},
            )
        ),
        stored(
            simple(
                "Service",
                spec={"ports": [{"port": 80}], "clusterIP": "10.0.0.6", "clusterIPs": ["10.0.0.6"]},
            )
        ),
        ['spec.clusterIPs[0]: Invalid value: ["10.0.0.6"]: may not change once set'],
        id="a service's cluster IP may not change",
    ),  # fmt: skip
    pytest.param(
        stored(simple("PriorityClass", "scheduling.k8s.io/v1", namespaced=False, value=5)),
        stored(simple("PriorityClass", "scheduling.k8s.io/v1", namespaced=False, value=6)),
        ["value: Forbidden: may not be changed in an update."],
        id="a priority class value is fixed",
    ),
    pytest.param(
        stored(simple("ConfigMap", data={"a": "1"}, immutable=True)),
        stored(simple("ConfigMap", data={"a": "2"}, immutable=True)),
        ["data: Forbidden: field is immutable when `immutable` is set"],
        id="an immutable config map keeps its data",
    ),
    pytest.param(
        stored(simple("Secret", type="Opaque")),
        stored(simple("Secret", type="kubernetes.io/basic-auth", data={"username": "YQ=="})),
        ['type: Invalid value: "kubernetes.io/basic-auth": field is immutable'],
        id="a secret's type is fixed",
    ),
]


@pytest.mark.parametrize(("old", "new", "want"), UPDATE_CASES)
def test_validate_update(old: dict[str, Any], new: dict[str, Any], want: list[str]) -> None:
    assert texts(validate_update(new, old)) == want


def test_changing_a_pod_port_is_forbidden_with_upstreams_list_of_mutable_fields() -> None:
    old = stored(pod())
    new = changed(old, ("spec.containers[0].ports[0].containerPort", 8080))
    [error] = validate_update(new, old)
    assert (error.type, error.field) == ("Forbidden", "spec")
    assert str(error).startswith(
        "spec: Forbidden: pod updates may not change fields other than "
        "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
        "`spec.tolerations` (only additions to existing tolerations),"
        "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously "
        "negative)\n"
    )


# -- robustness --------------------------------------------------------------------------------
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=30,
)
FIELD_NAMES = st.sampled_from(
    ["spec", "metadata", "template", "containers", "ports", "resources", "limits", "requests",
     "strategy", "rollingUpdate", "selector", "matchLabels", "matchExpressions", "behavior",
     "metrics", "livenessProbe", "httpGet", "volumes", "tolerations", "affinity", "name",
     "namespace", "labels", "annotations", "ingress", "from", "data", "type", "minAvailable",
     "replicas", "image", "env", "hard", "limits", "value", "rules", "subjects", "roleRef"]
)  # fmt: skip
JUNK = st.recursive(
    JSON, lambda children: st.dictionaries(FIELD_NAMES, children, max_size=6), max_leaves=40
)


def _no_crash(errors: list[FieldError]) -> None:
    assert all(isinstance(e, FieldError) for e in errors)
    assert not [e for e in errors if e.detail.startswith("internal error")]
    for e in errors:
        str(e)


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(sorted(KINDS)), body=st.dictionaries(FIELD_NAMES, JUNK))
def test_junk_never_raises(kind: str, body: dict[str, Any]) -> None:
    obj = {"apiVersion": KINDS[kind].api_version, "kind": kind, **body}
    _no_crash(validate(obj))
    _no_crash(validate(obj, default=False))
    _no_crash(validate_update(obj, {"kind": kind, **body}))


@settings(max_examples=200, deadline=None)
@given(junk=JSON)
def test_anything_at_all_is_answered_with_field_errors(junk: Any) -> None:
    _no_crash(validate(junk))
    _no_crash(validate_update(junk, junk))
