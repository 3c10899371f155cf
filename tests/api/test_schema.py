"""Structural checks against the published schemas, worded as kube-apiserver's strict decoder.

Under kubectl's default `--validate=strict`, an unknown field or a wrong JSON type makes the
API server answer 400 BadRequest before defaulting and validation run.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest

from kube_teach.api.schema import StructuralError, decode_error_message, structural_errors


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "nginx",
                            "args": ["-g"],
                            "ports": [{"containerPort": 80, "protocol": "TCP"}],
                            "env": [{"name": "A", "value": "1"}],
                            "resources": {"limits": {"cpu": "500m", "memory": 1024}},
                        }
                    ]
                },
            },
        },
    }


def with_(path: str, value: Any) -> dict[str, Any]:
    obj = copy.deepcopy(deployment())
    cur: Any = obj
    steps = path.replace("]", "").replace("[", ".").split(".")
    for step in steps[:-1]:
        cur = cur[int(step)] if isinstance(cur, list) else cur[step]
    cur[steps[-1]] = value
    return obj


def test_a_valid_deployment_has_no_structural_errors() -> None:
    assert structural_errors(deployment()) == []


CASES = [
    pytest.param(
        with_("spec.replicass", 3),
        ['unknown field "spec.replicass"'],
        id="a misspelt field is unknown",
    ),
    pytest.param(
        with_("spec.template.spec.containers[0].imagee", "nginx"),
        ['unknown field "spec.template.spec.containers[0].imagee"'],
        id="unknown fields in lists carry the index",
    ),
    pytest.param(
        with_("metadata.Name", "x"),
        ['unknown field "metadata.Name"'],
        id="field names are case-sensitive",
    ),
    pytest.param(
        with_("spec.replicas", "three"),
        [
            "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of "
            "type int32"
        ],
        id="a string where an int32 goes",
    ),
    pytest.param(
        with_("spec.replicas", 1.5),
        [
            "json: cannot unmarshal number 1.5 into Go struct field DeploymentSpec.spec.replicas "
            "of type int32"
        ],
        id="a fraction where an int32 goes",
    ),
    pytest.param(
        with_("spec.template.spec.containers[0].env[0].value", 1),
        [
            "json: cannot unmarshal number into Go struct field EnvVar.spec.template.spec."
            "containers.env.value of type string"
        ],
        id="an env value written as a number (paths drop list indices)",
    ),
    pytest.param(
        with_("metadata.labels", {"version": 2}),
        [
            "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of "
            "type string"
        ],
        id="a label value written as a number",
    ),
    pytest.param(
        with_("spec.template.spec.containers", {"name": "app"}),
        [
            "json: cannot unmarshal object into Go struct field PodSpec.spec.template.spec."
            "containers of type []v1.Container"
        ],
        id="an object where a list goes",
    ),
    pytest.param(
        with_("spec.template.spec.containers[0].ports[0].protocol", 6),
        [
            "json: cannot unmarshal number into Go struct field ContainerPort.spec.template.spec."
            "containers.ports.protocol of type v1.Protocol"
        ],
        id="named string types are named",
    ),
    pytest.param(
        with_("spec.strategy.rollingUpdate.maxSurge", True),
        [
            "json: cannot unmarshal bool into Go struct field RollingUpdateDeployment.spec."
            "strategy.rollingUpdate.maxSurge of type int32"
        ],
        id="an int-or-string decodes non-strings as int32",
    ),
    pytest.param(
        with_("spec.template.spec.containers[0].resources.limits.cpu", "half"),
        [
            "quantities must match the regular expression "
            "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
        ],
        id="a quantity that does not parse",
    ),
    pytest.param(
        with_("spec.paused", "yes"),
        [
            "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.paused of type bool"
        ],
        id="a string where a bool goes",
    ),
]


@pytest.mark.parametrize(("obj", "want"), CASES)
def test_structural_errors(obj: dict[str, Any], want: list[str]) -> None:
    assert [str(e) for e in structural_errors(obj)] == want


def test_unknown_fields_are_all_reported_in_the_order_the_server_reads_them() -> None:
    obj = with_("spec.zeta", 1)
    obj["spec"]["alpha"] = 1
    obj["metadata"]["foo"] = "x"
    assert [str(e) for e in structural_errors(obj)] == [
        'unknown field "metadata.foo"',
        'unknown field "spec.alpha"',
        'unknown field "spec.zeta"',
    ]


def test_a_type_error_hides_unknown_fields() -> None:
    obj = with_("spec.replicas", "3")
    obj["spec"]["bogus"] = 1
    assert [e.strict for e in structural_errors(obj)] == [False]


def test_the_bad_request_message() -> None:
    obj = with_("spec.replicass", 3)
    assert decode_error_message(obj, structural_errors(obj)) == (
        'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: '
        'unknown field "spec.replicass"'
    )
    obj = with_("spec.replicas", "3")
    assert decode_error_message(obj, structural_errors(obj)) == (
        'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal '
        "string into Go struct field DeploymentSpec.spec.replicas of type int32"
    )


def test_errors_are_field_errors_with_a_path() -> None:
    [error] = structural_errors(with_("spec.replicass", 3))
    assert isinstance(error, StructuralError)
    assert (error.type, error.field, error.strict) == ("Forbidden", "spec.replicass", True)


def test_null_is_accepted_anywhere() -> None:
    assert structural_errors(with_("spec.template", None)) == []


@pytest.mark.parametrize(
    "obj",
    [
        pytest.param({"kind": "KubeletConfiguration", "apiVersion": "kubelet.config.k8s.io/v1beta1"},
                     id="a kind the API server does not serve"),
        pytest.param({"kind": "DaemonSet", "apiVersion": "v1"}, id="a kind in the wrong group"),
        pytest.param([], id="not an object"),
        pytest.param({"kind": 5}, id="a kind that is not a string"),
    ],
)  # fmt: skip
def test_objects_without_a_schema_have_no_structural_errors(obj: Any) -> None:
    assert structural_errors(obj) == []


def test_checks_are_fast_once_the_schema_is_loaded() -> None:
    structural_errors(deployment())
    start = time.perf_counter()
    for _ in range(20):
        structural_errors(deployment())
    assert (time.perf_counter() - start) / 20 < 0.05
