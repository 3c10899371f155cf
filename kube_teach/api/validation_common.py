"""Building blocks shared by the validators: field paths, defensive accessors, object metadata.

Semantics: apimachinery's api/validation (objectmeta.go, generic.go, path/name.go),
apis/meta/v1/validation (labels, label selectors) and apps validation's int-or-percent helpers.
Messages are upstream's; bad values are passed as plain JSON data so that errors.py prints them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import FieldError
from .names import (
    is_dns1035_label,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_qualified_name,
    is_valid_label_value,
)
from .quantity import Quantity, QuantityError
from .selectors import LabelSelector

Errors = list[FieldError]
NameFn = Callable[[str, bool], list[str]]

IS_NEGATIVE = "must be greater than or equal to 0"
FIELD_IMMUTABLE = "field is immutable"
TOTAL_ANNOTATION_SIZE_LIMIT = 256 * (1 << 10)


# -- paths -------------------------------------------------------------------------------------
def child(path: str, *names: str) -> str:
    """`spec` + `replicas` -> `spec.replicas`, as field.Path.Child."""
    for name in names:
        path = f"{path}.{name}" if path else name
    return path


def index(path: str, i: int) -> str:
    """`spec.containers` + 0 -> `spec.containers[0]`."""
    return f"{path}[{i}]"


def key(path: str, k: str) -> str:
    """`metadata.annotations` + `a/b` -> `metadata.annotations[a/b]` (no quotes, as upstream)."""
    return f"{path}[{k}]"


# -- defensive accessors: a wrong type reads as the Go zero value, never as an exception -------
def as_dict(value: Any) -> dict[str, Any]:
    """`value` if it is a dict, else an empty dict."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """`value` if it is a list, else an empty list."""
    return value if isinstance(value, list) else []


def as_str(value: Any) -> str:
    """`value` if it is a string, else ""."""
    return value if isinstance(value, str) else ""


def is_int(value: Any) -> bool:
    """True for JSON integers (bools are not integers here, as in Go)."""
    return isinstance(value, int) and not isinstance(value, bool)


def as_int(value: Any, default: int = 0) -> int:
    """`value` if it is an integer, else `default` (0, Go's zero value)."""
    return value if is_int(value) else default


def str_map(value: Any) -> dict[str, str]:
    """A `map[string]string` view of `value`: non-string entries are dropped."""
    return {k: v for k, v in as_dict(value).items() if isinstance(k, str) and isinstance(v, str)}


def str_list(value: Any) -> list[str]:
    """A `[]string` view of `value`: non-string items are dropped."""
    return [v for v in as_list(value) if isinstance(v, str)]


def quantity(value: Any) -> Quantity | None:
    """The Quantity in `value` (string or number), or None when it cannot be parsed."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        return Quantity(value)
    except (QuantityError, TypeError, ValueError, ArithmeticError):
        return None


# -- generic validators ------------------------------------------------------------------------
def nonnegative(value: Any, path: str) -> Errors:
    """ValidateNonnegativeField: `path: Invalid value: -1: must be greater than or equal to 0`."""
    if is_int(value) and value < 0:
        return [FieldError.invalid(path, value, IS_NEGATIVE)]
    return []


def immutable(new: Any, old: Any, path: str) -> Errors:
    """ValidateImmutableField: the new value is reported, with `field is immutable`."""
    if new != old:
        return [FieldError.invalid(path, new, FIELD_IMMUTABLE)]
    return []


def dns1123_label(value: str, path: str) -> Errors:
    """ValidateDNS1123Label: one Invalid error per message."""
    return [FieldError.invalid(path, value, msg) for msg in is_dns1123_label(value)]


def dns1123_subdomain(value: str, path: str) -> Errors:
    """ValidateDNS1123Subdomain: one Invalid error per message."""
    return [FieldError.invalid(path, value, msg) for msg in is_dns1123_subdomain(value)]


def qualified_name(value: str, path: str) -> Errors:
    """ValidateQualifiedName (label keys, finalizers, appProtocol)."""
    return [FieldError.invalid(path, value, msg) for msg in is_qualified_name(value)]


def _mask_trailing_dash(name: str) -> str:
    # A generateName prefix may end in "-": upstream swaps the last two characters for "a".
    if len(name) > 1 and name.endswith("-"):
        return name[:-2] + "a"
    return name


def name_is_dns_subdomain(name: str, prefix: bool) -> list[str]:
    """NameIsDNSSubdomain; with `prefix`, a trailing dash is allowed (generateName)."""
    return is_dns1123_subdomain(_mask_trailing_dash(name) if prefix else name)


def name_is_dns_label(name: str, prefix: bool) -> list[str]:
    """NameIsDNSLabel (Namespaces, StatefulSets)."""
    return is_dns1123_label(_mask_trailing_dash(name) if prefix else name)


def name_is_dns1035_label(name: str, prefix: bool) -> list[str]:
    """NameIsDNS1035Label (Services)."""
    return is_dns1035_label(_mask_trailing_dash(name) if prefix else name)


def path_segment_name(name: str, prefix: bool) -> list[str]:
    """ValidatePathSegmentName: the generic rule every API object name must meet."""
    if not prefix:
        for bad in (".", ".."):
            if name == bad:
                return [f"may not be '{bad}'"]
    return [f"may not contain '{bad}'" for bad in ("/", "%") if bad in name]


# -- labels, annotations, selectors ------------------------------------------------------------
def labels(value: Any, path: str) -> Errors:
    """ValidateLabels: each key must be a qualified name and each value a label value."""
    errs: Errors = []
    for k, v in str_map(value).items():
        errs += [FieldError.invalid(path, k, m) for m in is_qualified_name(k)]
        errs += [FieldError.invalid(path, v, m) for m in is_valid_label_value(v)]
    return errs


def annotations(value: Any, path: str) -> Errors:
    """ValidateAnnotations: keys are qualified names (case-insensitive), total under 256 KiB."""
    errs: Errors = []
    pairs = str_map(value)
    for k in pairs:
        errs += [FieldError.invalid(path, k, m) for m in is_qualified_name(k.lower())]
    total = sum(len(k.encode()) + len(v.encode()) for k, v in pairs.items())
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        errs.append(FieldError.too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT))
    return errs


def label_name(value: str, path: str) -> Errors:
    """ValidateLabelName: a label key (toleration keys, topology keys, selector keys)."""
    return [FieldError.invalid(path, value, m) for m in is_qualified_name(value)]


def label_selector(selector: Any, path: str, allow_invalid_values: bool = False) -> Errors:
    """ValidateLabelSelector for a `{matchLabels, matchExpressions}` dict (None is valid)."""
    if not isinstance(selector, dict):
        return []
    errs = labels(selector.get("matchLabels"), child(path, "matchLabels"))
    for i, expr in enumerate(as_list(selector.get("matchExpressions"))):
        errs += _selector_requirement(
            as_dict(expr), index(child(path, "matchExpressions"), i), allow_invalid_values
        )
    return errs


def _selector_requirement(expr: dict[str, Any], path: str, allow_invalid: bool) -> Errors:
    errs: Errors = []
    operator = as_str(expr.get("operator"))
    values = str_list(expr.get("values"))
    if operator in ("In", "NotIn"):
        if not values:
            errs.append(
                FieldError.required(
                    child(path, "values"), "must be specified when `operator` is 'In' or 'NotIn'"
                )
            )
    elif operator in ("Exists", "DoesNotExist"):
        if values:
            errs.append(
                FieldError.forbidden(
                    child(path, "values"),
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                )
            )
    else:
        errs.append(
            FieldError.invalid(child(path, "operator"), operator, "not a valid selector operator")
        )
    errs += label_name(as_str(expr.get("key")), child(path, "key"))
    if not allow_invalid:
        for i, v in enumerate(values):
            errs += [
                FieldError.invalid(index(child(path, "values"), i), v, m)
                for m in is_valid_label_value(v)
            ]
    return errs


def selector_value(selector: dict[str, Any]) -> dict[str, Any]:
    """A LabelSelector as json.Marshal prints it: Go field order, empty parts omitted."""
    out: dict[str, Any] = {}
    if selector.get("matchLabels"):
        out["matchLabels"] = dict(sorted(str_map(selector["matchLabels"]).items()))
    if selector.get("matchExpressions"):
        out["matchExpressions"] = selector["matchExpressions"]
    return out


def as_selector(selector: Any) -> LabelSelector | None:
    """LabelSelectorAsSelector: None when the selector cannot be converted (an upstream error)."""
    if selector is not None and not isinstance(selector, dict):
        return None
    try:
        return LabelSelector.from_dict(selector)
    except Exception:  # any malformed selector is "invalid label selector", never a crash
        return None


def selector_matches(selector: LabelSelector, labels_: Any) -> bool:
    """`selector.matches(labels)`, treating anything odd as no match."""
    try:
        return bool(selector.matches(str_map(labels_)))
    except Exception:
        return False


# -- int-or-percent (apps validation) ----------------------------------------------------------
def _percent(value: Any) -> int | None:
    # getPercentValue: "25%" -> 25; anything else is not a percent.
    if isinstance(value, str) and len(value) > 1 and value.endswith("%") and value[:-1].isdigit():
        if value[:-1].isascii():
            return int(value[:-1])
    return None


def int_or_percent_value(value: Any) -> int:
    """getIntOrPercentValue: 25 for "25%", the integer for an int, 0 otherwise."""
    pct = _percent(value)
    if pct is not None:
        return pct
    if is_int(value):
        return value
    if isinstance(value, str):
        # IntOrString.IntValue() of a string is strconv.Atoi, 0 on failure.
        try:
            return int(value) if value.lstrip("+-").isdigit() else 0
        except ValueError:
            return 0
    return 0


def positive_int_or_percent(value: Any, path: str) -> Errors:
    """ValidatePositiveIntOrPercent: a non-negative int or a string like "25%"."""
    if isinstance(value, str):
        if _percent(value) is None:
            return [
                FieldError.invalid(
                    path,
                    value,
                    "a valid percent string must be a numeric string followed by an ending '%' "
                    "(e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
                )
            ]
        return []
    if is_int(value):
        return nonnegative(value, path)
    return [FieldError.invalid(path, value, "must be an integer or percentage (e.g '5%%')")]


def not_more_than_100_percent(value: Any, path: str) -> Errors:
    """IsNotMoreThan100Percent: only percent strings are checked."""
    pct = _percent(value)
    if pct is not None and pct > 100:
        return [FieldError.invalid(path, value, "must not be greater than 100%")]
    return []


# -- object metadata ---------------------------------------------------------------------------
_STANDARD_FINALIZERS = {"kubernetes", "orphan", "foregroundDeletion"}


def object_meta(
    meta: Any, namespaced: bool, name_fn: NameFn, path: str = "metadata", kube: bool = True
) -> Errors:
    """ValidateObjectMeta (create): name or generateName, namespace, labels, annotations,
    ownerReferences and finalizers, in upstream's order.

    The API server generates a name from generateName before validating; here a generateName
    without a name is checked as a prefix and stands in for the generated name.
    """
    meta = as_dict(meta)
    errs: Errors = []
    name = as_str(meta.get("name"))
    generate_name = as_str(meta.get("generateName"))
    if generate_name:
        errs += [
            FieldError.invalid(child(path, "generateName"), generate_name, m)
            for m in name_fn(generate_name, True)
        ]
    if not name:
        if not generate_name:
            errs.append(
                FieldError.required(child(path, "name"), "name or generateName is required")
            )
    else:
        errs += [FieldError.invalid(child(path, "name"), name, m) for m in name_fn(name, False)]
    return errs + _object_meta_common(meta, namespaced, path, kube)


def _object_meta_common(meta: dict[str, Any], namespaced: bool, path: str, kube: bool) -> Errors:
    errs: Errors = []
    namespace = as_str(meta.get("namespace"))
    if namespaced:
        if not namespace:
            errs.append(FieldError.required(child(path, "namespace")))
        else:
            errs += [
                FieldError.invalid(child(path, "namespace"), namespace, m)
                for m in is_dns1123_label(namespace)
            ]
    elif namespace:
        errs.append(FieldError.forbidden(child(path, "namespace"), "not allowed on this type"))
    errs += nonnegative(meta.get("generation"), child(path, "generation"))
    errs += labels(meta.get("labels"), child(path, "labels"))
    errs += annotations(meta.get("annotations"), child(path, "annotations"))
    errs += owner_references(meta.get("ownerReferences"), child(path, "ownerReferences"))
    errs += finalizers(meta.get("finalizers"), child(path, "finalizers"), kube)
    return errs


def owner_references(refs: Any, path: str) -> Errors:
    """ValidateOwnerReferences: apiVersion, kind, name, uid; at most one controller."""
    errs: Errors = []
    first_controller = ""
    for ref in (as_dict(r) for r in as_list(refs)):
        api_version, kind = as_str(ref.get("apiVersion")), as_str(ref.get("kind"))
        version = api_version.rpartition("/")[2]
        if not version:
            errs.append(
                FieldError.invalid(
                    child(path, "apiVersion"), api_version, "version must not be empty"
                )
            )
        if not kind:
            errs.append(FieldError.invalid(child(path, "kind"), kind, "must not be empty"))
        if not as_str(ref.get("name")):
            errs.append(FieldError.invalid(child(path, "name"), "", "must not be empty"))
        if not as_str(ref.get("uid")):
            errs.append(FieldError.invalid(child(path, "uid"), "", "must not be empty"))
        if api_version == "v1" and kind == "Event":
            errs.append(
                FieldError.invalid(path, ref, "/v1, Kind=Event is disallowed from being an owner")
            )
        if ref.get("controller") is True:
            current = f"{kind}/{as_str(ref.get('name'))}"
            if first_controller:
                errs.append(
                    FieldError.invalid(
                        path,
                        refs,
                        'Only one reference can have Controller set to true. Found "true" in '
                        f"references for {first_controller} and {current}",
                    )
                )
            else:
                first_controller = current
    return errs


def finalizers(value: Any, path: str, kube: bool = True) -> Errors:
    """ValidateFinalizers plus (with `kube`) core's rule that an unqualified finalizer must be a
    standard one."""
    errs: Errors = []
    names = str_list(value)
    for name in names:
        errs += qualified_name(name, path)
    if "orphan" in names and "foregroundDeletion" in names:
        errs.append(
            FieldError.invalid(
                path, names, "finalizer orphan and foregroundDeletion cannot be both set"
            )
        )
    for i, name in enumerate(names if kube else []):
        if "/" not in name and name not in _STANDARD_FINALIZERS:
            errs.append(
                FieldError.invalid(
                    index(path, i),
                    name,
                    "name is neither a standard finalizer name nor is it fully qualified",
                )
            )
    return errs


def object_meta_update(new: Any, old: Any, path: str = "metadata") -> Errors:
    """ValidateObjectMetaUpdate: identity fields are immutable; labels etc. revalidated.

    `resourceVersion` is required on update, as upstream; the registry fills it in for
    unconditional updates before validating.
    """
    new, old = as_dict(new), as_dict(old)
    errs: Errors = []
    if old.get("deletionTimestamp") is not None:
        added = sorted(set(str_list(new.get("finalizers"))) - set(str_list(old.get("finalizers"))))
        if added:
            quoted = ", ".join(f'"{a}"' for a in added)
            errs.append(
                FieldError.forbidden(
                    child(path, "finalizers"),
                    "no new finalizers can be added if the object is being deleted, "
                    f"found new finalizers []string{{{quoted}}}",
                )
            )
    if not as_str(new.get("resourceVersion")):
        errs.append(
            FieldError.invalid(
                child(path, "resourceVersion"),
                as_str(new.get("resourceVersion")),
                "must be specified for an update",
            )
        )
    if as_int(new.get("generation")) < as_int(old.get("generation")):
        errs.append(
            FieldError.invalid(
                child(path, "generation"), as_int(new.get("generation")), "must not be decremented"
            )
        )
    for name in ("name", "namespace", "uid", "creationTimestamp"):
        errs += immutable(as_str(new.get(name)), as_str(old.get(name)), child(path, name))
    errs += immutable(
        new.get("deletionTimestamp"), old.get("deletionTimestamp"), child(path, "deletionTimestamp")
    )
    errs += immutable(
        new.get("deletionGracePeriodSeconds"),
        old.get("deletionGracePeriodSeconds"),
        child(path, "deletionGracePeriodSeconds"),
    )
    errs += labels(new.get("labels"), child(path, "labels"))
    errs += annotations(new.get("annotations"), child(path, "annotations"))
    errs += owner_references(new.get("ownerReferences"), child(path, "ownerReferences"))
    for i, name in enumerate(str_list(new.get("finalizers"))):
        if "/" not in name and name not in _STANDARD_FINALIZERS:
            errs.append(
                FieldError.invalid(
                    index(child(path, "finalizers"), i),
                    name,
                    "name is neither a standard finalizer name nor is it fully qualified",
                )
            )
    return errs


# -- quantities --------------------------------------------------------------------------------
def nonnegative_quantity(value: Any, path: str) -> Errors:
    """ValidateNonnegativeQuantity: the quantity's canonical string is the bad value."""
    q = quantity(value)
    if q is not None and q.cmp(0) < 0:
        return [FieldError.invalid(path, str(q), IS_NEGATIVE)]
    return []


def path_segment(value: str, path: str) -> Errors:
    """IsValidPathSegmentName as Invalid errors (HPA references, metric names)."""
    return [FieldError.invalid(path, value, m) for m in path_segment_name(value, False)]
