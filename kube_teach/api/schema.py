"""Structural checks of an object against the published Kubernetes OpenAPI schema: unknown
fields and wrong JSON types, reported as the API server's decoder reports them.

Semantics: the schemas are the ones kubernetes-validate bundles (generated from upstream's
OpenAPI); the wording is that of kube-apiserver decoding a request under kubectl's default
`--validate=strict` (sigs.k8s.io/json strict decoding and Go's encoding/json type errors).
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime as dt
import importlib.util
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from .errors import FieldError
from .kinds import UnknownKindError, kind_info
from .quantity import Quantity, QuantityError

__all__ = [
    "SCHEMA_VERSION",
    "StructuralError",
    "decode_error_message",
    "structural_errors",
]

SCHEMA_VERSION = "1.36"
"""The Kubernetes minor version whose schemas are used (the newest bundled one if absent)."""

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"

# Go named string types, which the OpenAPI schema cannot tell apart from plain strings.
_NAMED_STRINGS = {
    ("Container", "imagePullPolicy"): "v1.PullPolicy",
    ("Container", "terminationMessagePolicy"): "v1.TerminationMessagePolicy",
    ("ContainerPort", "protocol"): "v1.Protocol",
    ("ServicePort", "protocol"): "v1.Protocol",
    ("EndpointPort", "protocol"): "v1.Protocol",
    ("NetworkPolicyPort", "protocol"): "v1.Protocol",
    ("PodSpec", "restartPolicy"): "v1.RestartPolicy",
    ("PodSpec", "dnsPolicy"): "v1.DNSPolicy",
    ("PodSpec", "preemptionPolicy"): "v1.PreemptionPolicy",
    ("ServiceSpec", "type"): "v1.ServiceType",
    ("ServiceSpec", "sessionAffinity"): "v1.ServiceAffinity",
    ("ServiceSpec", "externalTrafficPolicy"): "v1.ServiceExternalTrafficPolicy",
    ("ServiceSpec", "internalTrafficPolicy"): "v1.ServiceInternalTrafficPolicy",
    ("ServiceSpec", "ipFamilyPolicy"): "v1.IPFamilyPolicy",
    ("Toleration", "operator"): "v1.TolerationOperator",
    ("Toleration", "effect"): "v1.TaintEffect",
    ("Taint", "effect"): "v1.TaintEffect",
    ("DeploymentStrategy", "type"): "v1.DeploymentStrategyType",
    ("DaemonSetUpdateStrategy", "type"): "v1.DaemonSetUpdateStrategyType",
    ("StatefulSetUpdateStrategy", "type"): "v1.StatefulSetUpdateStrategyType",
    ("StatefulSetSpec", "podManagementPolicy"): "v1.PodManagementPolicyType",
    ("Secret", "type"): "v1.SecretType",
    ("HTTPGetAction", "scheme"): "v1.URIScheme",
    ("PriorityClass", "preemptionPolicy"): "v1.PreemptionPolicy",
    ("LimitRangeItem", "type"): "v1.LimitType",
    ("NodeSelectorRequirement", "operator"): "v1.NodeSelectorOperator",
    ("LabelSelectorRequirement", "operator"): "v1.LabelSelectorOperator",
    ("TopologySpreadConstraint", "whenUnsatisfiable"): "v1.UnsatisfiableConstraintAction",
    ("MetricSpec", "type"): "v2.MetricSourceType",
    ("MetricTarget", "type"): "v2.MetricTargetType",
    ("ResourceMetricSource", "name"): "v1.ResourceName",
    ("HPAScalingPolicy", "type"): "v2.HPAScalingPolicyType",
    ("HPAScalingRules", "selectPolicy"): "v2.ScalingPolicySelect",
    ("PodDisruptionBudgetSpec", "unhealthyPodEvictionPolicy"): "v1.UnhealthyPodEvictionPolicyType",
}
_NAMED_STRING_ITEMS = {
    ("NetworkPolicySpec", "policyTypes"): "v1.PolicyType",
    ("PersistentVolumeClaimSpec", "accessModes"): "v1.PersistentVolumeAccessMode",
    ("PersistentVolumeSpec", "accessModes"): "v1.PersistentVolumeAccessMode",
    ("Capabilities", "add"): "v1.Capability",
    ("Capabilities", "drop"): "v1.Capability",
}


@dataclass(frozen=True)
class StructuralError(FieldError):
    """A request the decoder rejects before validation runs (HTTP 400 BadRequest).

    `field` is the JSON path; `str(e)` is upstream's fragment, either
    `unknown field "spec.replicass"` or
    `json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32`
    (or a quantity or base64 parse error). As a FieldError it renders as Forbidden (unknown
    field) or Invalid (wrong type). The message kubectl prints is `decode_error_message()`
    prefixed by `Error from server (BadRequest): error when creating "<file>": `.
    """

    fragment: str = ""
    strict: bool = False  # True for unknown fields, which fail only after the whole decode

    def __str__(self) -> str:
        return self.fragment


def decode_error_message(obj: dict[str, Any], errors: list[StructuralError]) -> str:
    """The BadRequest Status message for `errors` (as returned by `structural_errors(obj)`):
    `Deployment in version "v1" cannot be handled as a Deployment: strict decoding error:
    unknown field "spec.replicass", unknown field "spec.x"`, or with the single type error in
    place of the strict part."""
    kind = obj.get("kind") if isinstance(obj.get("kind"), str) else ""
    api_version = obj.get("apiVersion") if isinstance(obj.get("apiVersion"), str) else ""
    version = api_version.rpartition("/")[2]
    prefix = f'{kind} in version "{version}" cannot be handled as a {kind}: '
    strict = [e.fragment for e in errors if e.strict]
    fatal = [e.fragment for e in errors if not e.strict]
    if fatal:
        return prefix + fatal[0]
    return prefix + "strict decoding error: " + ", ".join(strict)


def structural_errors(obj: dict[str, Any]) -> list[StructuralError]:
    """Decode-time errors of `obj` against the schema of its kind, as the API server finds them.

    A wrong type (or an unparsable quantity) ends decoding: only that first error is returned.
    Otherwise every unknown field is returned, in the order the server meets them (keys sorted,
    as kubectl's YAML-to-JSON conversion writes them). Kinds without a bundled schema and
    non-dict input give no errors. Never raises. Null list elements are replaced in `obj` by
    the zero value of their type, as decoding into Go types leaves them.
    """
    if not isinstance(obj, dict):
        return []
    root = _root_definition(obj)
    if root is None:
        return []
    walker = _Walker(_definitions())
    try:
        walker.walk(obj, {"$ref": "#/$defs/" + root}, "", _short(root), "")
    except _Fatal:
        pass
    if walker.fatal is not None:
        return [walker.fatal]
    if walker.first_type_error is not None:
        return [walker.first_type_error]
    return walker.unknown


def _zero_value(types: Any) -> Any:
    """Go's zero value for a JSON schema type: what a null list element decodes to."""
    for kind, zero in (("object", {}), ("string", ""), ("integer", 0), ("number", 0),
                       ("boolean", False)):  # fmt: skip
        if kind in types:
            return copy.deepcopy(zero)
    return None


# -- schema loading ----------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _schema_dir() -> Path:
    # Found without importing kubernetes_validate, whose import pulls in jsonschema (~1 s).
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the kubernetes-validate package (bundled schemas) is not installed")
    base = Path(next(iter(spec.submodule_search_locations))) / "kubernetes-json-schema"
    wanted = base / f"v{SCHEMA_VERSION}.0-local-strict"
    if wanted.is_dir():
        return wanted
    candidates = sorted(
        (p for p in base.iterdir() if p.name.endswith("-local-strict")),
        key=lambda p: tuple(int(x) for x in p.name[1:].split("-")[0].split(".")),
    )
    return candidates[-1]


@lru_cache(maxsize=1)
def _definitions() -> dict[str, Any]:
    with (_schema_dir() / "_definitions.json").open() as f:
        return json.load(f)["$defs"]


@lru_cache(maxsize=1)
def _gvk_index() -> dict[tuple[str, str, str], str]:
    index: dict[tuple[str, str, str], str] = {}
    for name, schema in _definitions().items():
        for gvk in schema.get("x-kubernetes-group-version-kind", ()):
            index.setdefault((gvk["group"], gvk["version"], gvk["kind"]), name)
    return index


def _root_definition(obj: dict[str, Any]) -> str | None:
    kind, api_version = obj.get("kind"), obj.get("apiVersion")
    if not isinstance(kind, str) or not isinstance(api_version, str):
        return None
    try:
        kind_info(kind, api_version)
    except UnknownKindError:
        return None
    group, _, version = api_version.rpartition("/")
    return _gvk_index().get((group, version, kind))


def _short(definition: str) -> str:
    return definition.rsplit(".", 1)[-1]


def _go_type_name(definition: str) -> str:
    # io.k8s.api.core.v1.Container -> v1.Container; ...api.resource.Quantity -> resource.Quantity
    parts = definition.split(".")
    return f"{parts[-2]}.{parts[-1]}"


# -- the walk ----------------------------------------------------------------------------------
class _Fatal(Exception):
    """Decoding stops here (an Unmarshaler returned an error)."""


class _Walker:
    def __init__(self, defs: dict[str, Any]) -> None:
        self.defs = defs
        self.unknown: list[StructuralError] = []
        self.first_type_error: StructuralError | None = None
        self.fatal: StructuralError | None = None

    def resolve(self, schema: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        ref = schema.get("$ref")
        if isinstance(ref, str):
            name = ref.rsplit("/", 1)[-1]
            return self.defs.get(name, {}), name
        return schema, None

    def go_type(self, schema: dict[str, Any], struct: str, prop: str) -> str:
        """The Go type a field decodes into, as encoding/json names it."""
        target, name = self.resolve(schema)
        if name == _QUANTITY:
            return "resource.Quantity"
        if name == _INT_OR_STRING:
            return "intstr.IntOrString"
        types = _types(target)
        if "object" in types:
            if "properties" in target and name:
                return _go_type_name(name)
            extra = target.get("additionalProperties")
            if isinstance(extra, dict):
                _, elem_name = self.resolve(extra)
                if elem_name == _QUANTITY:
                    return "v1.ResourceList"
                return "map[string]" + self.go_type(extra, struct, prop)
            return _go_type_name(name) if name else "map[string]interface {}"
        if "array" in types:
            items = target.get("items", {})
            named = _NAMED_STRING_ITEMS.get((struct, prop))
            return "[]" + (named or self.go_type(items, struct, prop))
        if "integer" in types:
            return "int64" if target.get("format") == "int64" else "int32"
        if "number" in types:
            return "float64"
        if "boolean" in types:
            return "bool"
        if target.get("format") == "byte":
            return "[]uint8"
        named = _NAMED_STRINGS.get((struct, prop)) or _NAMED_STRING_ITEMS.get((struct, prop))
        return named or "string"

    def type_error(self, value: Any, go_type: str, struct: str, field: str, path: str) -> None:
        if self.first_type_error is None:
            fragment = (
                f"json: cannot unmarshal {_json_kind(value, go_type)} into Go struct field "
                f"{struct}.{field} of type {go_type}"
            )
            self.first_type_error = StructuralError(
                "TypeInvalid", path, fragment, value, fragment=fragment
            )

    def fail(self, value: Any, message: str, path: str) -> None:
        self.fatal = StructuralError("Invalid", path, message, value, fragment=message)
        raise _Fatal

    def walk(self, value: Any, schema: dict[str, Any], path: str, struct: str, field: str) -> None:
        """Check `value` against `schema`. `struct` and `field` are the Go error context: the
        innermost struct and the dotted JSON path without indices; `path` has indices."""
        if value is None:
            return  # null decodes to the zero value anywhere
        if isinstance(value, dt.date):
            value = value.isoformat()  # kubectl sends YAML timestamps as strings
        target, name = self.resolve(schema)
        if name == _QUANTITY:
            self.quantity(value, path)
            return
        if name == _INT_OR_STRING:
            if not isinstance(value, str) and not _fits_int(value, _INT32):
                self.type_error(value, "int32", struct, field, path)
            return
        types = _types(target)
        if "object" in types:
            self.object(value, target, name, path, struct, field)
        elif "array" in types:
            if not isinstance(value, list):
                return self.type_error(
                    value, self.go_type(schema, *_owner(struct, field)), struct, field, path
                )
            items = target.get("items", {})
            for i, item in enumerate(value):
                if item is None:  # a null element decodes to the zero value of its type
                    zero = _zero_value(_types(self.resolve(items)[0]))
                    if zero is not None:
                        value[i] = item = zero
                self.walk(item, items, f"{path}[{i}]", struct, field)
        elif "integer" in types:
            bounds = _INT64 if target.get("format") == "int64" else _INT32
            if not _fits_int(value, bounds):
                self.type_error(
                    value, self.go_type(schema, *_owner(struct, field)), struct, field, path
                )
        elif "number" in types:
            if isinstance(value, bool) or not isinstance(value, int | float):
                self.type_error(value, "float64", struct, field, path)
        elif "boolean" in types:
            if not isinstance(value, bool):
                self.type_error(value, "bool", struct, field, path)
        elif "string" in types:
            if not isinstance(value, str):
                self.type_error(
                    value, self.go_type(schema, *_owner(struct, field)), struct, field, path
                )
            elif target.get("format") == "byte":
                position = _base64_error(value)
                if position is not None and self.first_type_error is None:
                    message = f"illegal base64 data at input byte {position}"
                    self.first_type_error = StructuralError(
                        "Invalid", path, message, value, fragment=message
                    )

    def object(
        self,
        value: Any,
        target: dict[str, Any],
        name: str | None,
        path: str,
        struct: str,
        field: str,
    ) -> None:
        if not isinstance(value, dict):
            go_type = self.go_type(
                target if name is None else {"$ref": "#/$defs/" + name}, *_owner(struct, field)
            )
            self.type_error(value, go_type, struct, field, path)
            return
        props = target.get("properties")
        if isinstance(props, dict):
            inner = _short(name) if name else struct
            for key in sorted(value, key=str):
                sub_path = f"{path}.{key}" if path else str(key)
                sub_field = f"{field}.{key}" if field else str(key)
                if key not in props:
                    if target.get("additionalProperties") is False:
                        fragment = f'unknown field "{sub_path}"'
                        self.unknown.append(
                            StructuralError(
                                "Forbidden", sub_path, fragment, fragment=fragment, strict=True
                            )
                        )
                    continue
                self.walk(value[key], props[key], sub_path, inner, sub_field)
            return
        extra = target.get("additionalProperties")
        if isinstance(extra, dict):
            for key in sorted(value, key=str):
                self.walk(value[key], extra, f"{path}.{key}", struct, field)

    def quantity(self, value: Any, path: str) -> None:
        try:
            text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
            Quantity(text.strip())
        except (QuantityError, TypeError, ValueError, ArithmeticError) as err:
            message = str(err) if isinstance(err, QuantityError) else str(QuantityError)
            self.fail(value, message, path)


def _owner(struct: str, field: str) -> tuple[str, str]:
    # (struct, property) for the named-type table: the last segment of the field path.
    return struct, field.rsplit(".", 1)[-1]


def _types(schema: dict[str, Any]) -> set[str]:
    kind = schema.get("type")
    if isinstance(kind, str):
        return {kind}
    if isinstance(kind, list):
        return {k for k in kind if isinstance(k, str)}
    return set()


def _fits_int(value: Any, bounds: tuple[int, int]) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, float):
        if not value.is_integer():
            return False
        value = int(value)
    return isinstance(value, int) and bounds[0] <= value <= bounds[1]


def _json_kind(value: Any, go_type: str) -> str:
    # How encoding/json names the offending JSON value in an UnmarshalTypeError.
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, int | float):
        numeric = go_type.lstrip("*") in ("int32", "int64", "float64")
        text = json.dumps(value)
        return f"number {text}" if numeric else "number"
    return "object"


def _base64_error(text: str) -> int | None:
    # The byte offset Go's base64.StdEncoding reports for bad input, or None when valid.
    cleaned = text.replace("\r", "").replace("\n", "")
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
    for i, ch in enumerate(cleaned):
        if ch == "=":
            break
        if ch not in alphabet:
            return i
    try:
        base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):
        return max(len(cleaned) - len(cleaned) % 4, 0)
    return None
