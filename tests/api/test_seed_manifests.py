"""Each seed manifest as a v1.3x API server answers `kubectl create -f` for it.

The request path, in the server's order: kubectl maps the kind (an unknown kind never reaches
the server), fills in the default namespace, the server decodes strictly (BadRequest on unknown
fields or wrong types), defaults, then validates (Invalid with the field errors). Several of the
article's examples are abbreviated: a real apps/v1 server rejects them, and so do we.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from kube_teach.api.defaults import apply_defaults
from kube_teach.api.errors import StatusError
from kube_teach.api.kinds import KINDS, UnknownKindError, kind_info
from kube_teach.api.schema import decode_error_message, structural_errors
from kube_teach.api.validation import validate
from kube_teach.manifests import manifest, names

VALID = "valid"
NO_SELECTOR = "spec.selector: Required value"
NOTHING_MATCHES = (
    "spec.template.metadata.labels: Invalid value: null: `selector` does not match template "
    "`labels`"
)
NO_CONTAINERS = "spec.template.spec.containers: Required value"
NO_NAME = "metadata.name: Required value: name or generateName is required"


def server_response(doc: dict[str, Any]) -> Any:
    """VALID, or ("no kind", text), ("BadRequest", message) or ("Invalid", [field errors])."""
    try:
        kind_info(doc.get("kind", ""), doc.get("apiVersion"))
    except UnknownKindError as err:
        return ("no kind", str(err))
    doc = copy.deepcopy(doc)
    if KINDS[doc["kind"]].namespaced:
        doc.setdefault("metadata", {}).setdefault("namespace", "default")  # kubectl's default
    decode = structural_errors(doc)
    if decode:
        return ("BadRequest", decode_error_message(doc, decode))
    errors = validate(apply_defaults(doc), default=False)
    return ("Invalid", [str(e) for e in errors]) if errors else VALID


def docs(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(manifest(name)) if d is not None]


EXPECTED: dict[str, list[Any]] = {
    "app-deployment": [("Invalid", [NO_SELECTOR, NOTHING_MATCHES])],
    "app-hpa-conflict": [("Invalid", [NO_SELECTOR, NOTHING_MATCHES, NO_CONTAINERS]), VALID],
    "cascading-failure-fix": [
        VALID,
        ("Invalid", [NO_NAME, "spec.containers[0].image: Required value"]),
        VALID,
    ],
    "dns-config-pod": [("Invalid", [NO_NAME, "spec.containers: Required value"])],
    "kube-apiserver-pod": [VALID],
    "kubelet-config": [
        (
            "no kind",
            'no matches for kind "KubeletConfiguration" in version "kubelet.config.k8s.io/v1beta1"',
        ),
    ],  # fmt: skip
    "kubelet-reserved-config": [
        (
            "no kind",
            'no matches for kind "KubeletConfiguration" in version "kubelet.config.k8s.io/v1beta1"',
        ),
    ],  # fmt: skip
    "network-policies": [VALID, VALID, VALID],
    "node-local-dns-daemonset": [("no kind", 'no matches for kind "DaemonSet" in version "v1"')],
    "web-app-pod": [VALID],
    "web-app-rolling-deployment": [("Invalid", [NO_SELECTOR, NOTHING_MATCHES])],
    "web-app-service": [VALID],
    "web-app-spread-deployment": [("Invalid", [NO_SELECTOR, NOTHING_MATCHES, NO_CONTAINERS])],
}


def test_every_manifest_has_an_expectation() -> None:
    assert sorted(EXPECTED) == names()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_seed_manifest(name: str) -> None:
    assert [server_response(d) for d in docs(name)] == EXPECTED[name]


def test_the_first_deployment_fails_with_upstreams_status_message() -> None:
    [doc] = docs("app-deployment")
    doc["metadata"]["namespace"] = "default"
    errors = validate(apply_defaults(doc), default=False)
    status = StatusError.invalid(KINDS["Deployment"], "app", errors)
    assert status.message == (
        'Deployment.apps "app" is invalid: [spec.selector: Required value, '
        "spec.template.metadata.labels: Invalid value: null: `selector` does not match template "
        "`labels`]"
    )
    assert status.kubectl() == (
        'The Deployment "app" is invalid: \n'
        "* spec.selector: Required value\n"
        "* spec.template.metadata.labels: Invalid value: null: `selector` does not match template "
        "`labels`"
    )


def change(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    steps = path.replace("]", "").replace("[", ".").split(".")
    cur: Any = doc
    for step in steps[:-1]:
        cur = cur[int(step)] if isinstance(cur, list) else cur.setdefault(step, {})
    cur[steps[-1]] = value
    return doc


BROKEN = [
    pytest.param(
        "app-deployment", 0, "spec.replicas", -1,
        ("Invalid", ["spec.replicas: Invalid value: -1: must be greater than or equal to 0",
                     NO_SELECTOR, NOTHING_MATCHES]),
        id="app deployment with negative replicas",
    ),
    pytest.param(
        "kube-apiserver-pod", 0, "metadata.name", "Kube-APIServer",
        ("Invalid", [
            'metadata.name: Invalid value: "Kube-APIServer": a lowercase RFC 1123 subdomain '
            "must consist of lower case alphanumeric characters, '-' or '.', and must start and "
            "end with an alphanumeric character (e.g. 'example.com', regex used for validation "
            "is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        ]),
        id="kube-apiserver pod named with capitals",
    ),
    pytest.param(
        "web-app-pod", 0, "spec.containers[0].resources.requests.cpu", "1500m",
        ("Invalid", ['spec.containers[0].resources.requests: Invalid value: "1500m": must be '
                     "less than or equal to cpu limit of 1"]),
        id="web-app pod requesting more cpu than its limit (1000m is stored as 1)",
    ),
    pytest.param(
        "web-app-spread-deployment", 0, "spec.template.spec.topologySpreadConstraints[0].maxSkew", 0,
        ("Invalid", [NO_SELECTOR, NOTHING_MATCHES, NO_CONTAINERS,
                     "spec.template.spec.topologySpreadConstraints[0].maxSkew: Invalid value: 0: "
                     "must be greater than zero"]),
        id="spread deployment with a zero skew",
    ),
    pytest.param(
        "web-app-rolling-deployment", 0, "spec.strategy.rollingUpdate.maxSurge", 0,
        ("Invalid", [NO_SELECTOR, NOTHING_MATCHES]),
        id="rolling deployment with no surge but one unavailable is fine",
    ),
    pytest.param(
        "web-app-rolling-deployment", 0, "spec.strategy.rollingUpdate",
        {"maxSurge": 0, "maxUnavailable": 0},
        ("Invalid", [NO_SELECTOR, NOTHING_MATCHES,
                     "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 "
                     "when `maxSurge` is 0"]),
        id="rolling deployment that can neither surge nor drop a pod",
    ),
    pytest.param(
        "web-app-service", 0, "spec.ports[0].targetport", 8080,
        ("BadRequest", 'Service in version "v1" cannot be handled as a Service: strict decoding '
                       'error: unknown field "spec.ports[0].targetport"'),
        id="web-app service with a misspelt targetPort",
    ),
    pytest.param(
        "app-hpa-conflict", 1, "spec.minReplicas", 0,
        ("Invalid", ["spec.minReplicas: Invalid value: 0: must be greater than or equal to 1"]),
        id="autoscaler scaling to zero without the feature gate",
    ),
    pytest.param(
        "app-hpa-conflict", 1, "spec.maxReplicas", "10",
        ("BadRequest", 'HorizontalPodAutoscaler in version "v2" cannot be handled as a '
                       "HorizontalPodAutoscaler: json: cannot unmarshal string into Go struct "
                       "field HorizontalPodAutoscalerSpec.spec.maxReplicas of type int32"),
        id="autoscaler with maxReplicas quoted as a string",
    ),
    pytest.param(
        "kubelet-config", 0, "apiVersion", "v1",
        ("no kind", 'no matches for kind "KubeletConfiguration" in version "v1"'),
        id="kubelet configuration is never an API object",
    ),
    pytest.param(
        "kubelet-reserved-config", 0, "kind", "Kubelet",
        ("no kind", 'no matches for kind "Kubelet" in version "kubelet.config.k8s.io/v1beta1"'),
        id="kubelet reservations under another kind name",
    ),
    pytest.param(
        "network-policies", 0, "spec.policyTypes", ["Ingres"],
        ("Invalid", ['spec.policyTypes[0]: Unsupported value: "Ingres": supported values: '
                     '"Ingress", "Egress"']),
        id="default-deny policy with a misspelt policy type",
    ),
    pytest.param(
        "network-policies", 2, "spec.ingress[0].ports[0].port", 0,
        ("Invalid", ["spec.ingress[0].ports[0].port: Invalid value: 0: must be between 1 and "
                     "65535, inclusive"]),
        id="database policy on port zero",
    ),
    pytest.param(
        "cascading-failure-fix", 0, "spec.minAvailable", "180%",
        ("Invalid", ['spec.minAvailable: Invalid value: "180%": must not be greater than 100%']),
        id="disruption budget above 100 percent",
    ),
    pytest.param(
        "cascading-failure-fix", 2, "value", 2000000000,
        ("Invalid", ["value: Forbidden: maximum allowed value of a user defined priority is "
                     "1000000000"]),
        id="priority class above the user range",
    ),
    pytest.param(
        "dns-config-pod", 0, "spec.dnsPolicy", "None",
        ("Invalid", [NO_NAME, "spec.containers: Required value",
                     "spec.dnsConfig.nameservers: Required value: must provide at least one DNS "
                     "nameserver when `dnsPolicy` is None"]),
        id="dns pod with dnsPolicy None but no nameserver",
    ),
    pytest.param(
        "node-local-dns-daemonset", 0, "apiVersion", "apps/v1",
        ("Invalid", ['spec.template.metadata.labels: Invalid value: null: `selector` does not '
                     "match template `labels`"]),
        id="node-local-dns daemon set in apps/v1 still lacks a selector",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("name", "index", "path", "value", "want"), BROKEN)
def test_broken_variant(name: str, index: int, path: str, value: Any, want: Any) -> None:
    assert server_response(change(docs(name)[index], path, value)) == want


def test_every_manifest_has_a_broken_variant() -> None:
    assert {p.values[0] for p in BROKEN} == set(names())
