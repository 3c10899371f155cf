"""Kubernetes' strategic merge patch, applied to an object as kube-apiserver applies it.

Semantics: apimachinery's strategicpatch (mergeMap, mergeSlice, the `$patch`, `$retainKeys`,
`$deleteFromPrimitiveList` and `$setElementOrder` directives, Go's sort for list order) with the
`patchStrategy` and `patchMergeKey` tags of the core/apps/batch Go types. The JSON encodings and
errors it shares with the other two patch types live in patch.py.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from ..api.kinds import KINDS
from .patch import (
    _CRD_ACCEPTED,
    PatchError,
    _bad_request,
    _decode,
    _go_eq,
    _go_v,
    _gotype,
    _json_word,
    _plain,
    _unknown,
    _unprocessable,
    unsupported_media_type,
)

# -- strategic merge patch -------------------------------------------------------------------------
# The Go types' `patchStrategy`/`patchMergeKey` tags: type -> {json field: (strategy, merge key,
# type of the value or of each element)}. Fields not listed have no tag: maps merge, lists replace.
_M, _MR = "merge", "merge,retainKeys"
_META = ("", "", "ObjectMeta")
_CONDITIONS = {"conditions": (_M, "type", None)}
_TEMPLATE = {"template": ("", "", "PodTemplateSpec")}


def _kind(spec: str | None = None, status: str | None = None, **fields: Any) -> dict[str, Any]:
    out = {"metadata": _META, **fields}
    if spec:
        out["spec"] = ("", "", spec)
    if status:
        out["status"] = ("", "", status)
    return out


_TYPES: dict[str, dict[str, tuple[str, str, str | None]]] = {
    "ObjectMeta": {"finalizers": (_M, "", None), "ownerReferences": (_M, "uid", None)},
    "PodTemplateSpec": {"metadata": _META, "spec": ("", "", "PodSpec")},
    "PodSpec": {
        "volumes": (_MR, "name", None),
        "initContainers": (_M, "name", "Container"),
        "containers": (_M, "name", "Container"),
        "ephemeralContainers": (_M, "name", "Container"),
        "imagePullSecrets": (_M, "name", None),
        "hostAliases": (_M, "ip", None),
        "topologySpreadConstraints": (_M, "topologyKey", None),
        "schedulingGates": (_M, "name", None),
        "resourceClaims": (_MR, "name", None),
    },
    "Container": {
        "ports": (_M, "containerPort", None),
        "env": (_M, "name", None),
        "volumeMounts": (_M, "mountPath", None),
        "volumeDevices": (_M, "devicePath", None),
    },
    "PodStatus": {
        **_CONDITIONS,
        "hostIPs": (_M, "ip", None),
        "podIPs": (_M, "ip", None),
        "resourceClaimStatuses": (_MR, "name", None),
    },
    "Conditions": _CONDITIONS,
    "DeploymentSpec": {**_TEMPLATE, "strategy": ("retainKeys", "", None)},
    "WorkloadSpec": _TEMPLATE,
    "JobTemplateSpec": {"metadata": _META, "spec": ("", "", "WorkloadSpec")},
    "CronJobSpec": {"jobTemplate": ("", "", "JobTemplateSpec")},
    "ServiceSpec": {"ports": (_M, "port", None)},
    "NodeSpec": {"podCIDRs": (_M, "", None)},
    "NodeStatus": {**_CONDITIONS, "addresses": (_M, "type", None)},
    "PodDisruptionBudgetSpec": {"selector": ("replace", "", None)},
    # kinds
    "Pod": _kind("PodSpec", "PodStatus"),
    "PodTemplate": _kind(template=("", "", "PodTemplateSpec")),
    "Deployment": _kind("DeploymentSpec", "Conditions"),
    "ReplicaSet": _kind("WorkloadSpec", "Conditions"),
    "StatefulSet": _kind("WorkloadSpec", "Conditions"),
    "DaemonSet": _kind("WorkloadSpec", "Conditions"),
    "ReplicationController": _kind("WorkloadSpec", "Conditions"),
    "Job": _kind("WorkloadSpec", "Conditions"),
    "CronJob": _kind("CronJobSpec"),
    "Service": _kind("ServiceSpec", "Conditions"),
    "Node": _kind("NodeSpec", "NodeStatus"),
    "Namespace": _kind(status="Conditions"),
    "PersistentVolumeClaim": _kind(status="Conditions"),
    "ServiceAccount": _kind(secrets=(_M, "name", None)),
    "HorizontalPodAutoscaler": _kind(status="Conditions"),
    "PodDisruptionBudget": _kind("PodDisruptionBudgetSpec", "Conditions"),
    "Object": _kind(),  # any other built-in kind: its metadata still has tags
}
# built-in kinds take strategic merge patch; custom resources do not
_BUILTIN = {*KINDS, "PodTemplate", "ReplicationController", "Job", "CronJob"}

_DIRECTIVE, _RETAIN_KEYS = "$patch", "$retainKeys"
_DELETE_PREFIX, _ORDER_PREFIX = "$deleteFromPrimitiveList", "$setElementOrder"
_MAP = "map[string]interface {}"
# mergepatch's sentinel errors the handler maps to 400 or 422; anything else is a 500.
_BAD_JSON_DOC = "invalid JSON document"
_NO_LIST_OF_LISTS = "lists of lists are not supported"
_BAD_PRIMITIVE_LIST = "invalid patch format of primitive list"
_BAD_RETAIN_KEYS = "invalid patch format of retainKeys"
_BAD_ORDER_LIST = "invalid patch format of setElementOrder list"
_AS_400 = {_BAD_JSON_DOC, _BAD_PRIMITIVE_LIST, _BAD_RETAIN_KEYS, _BAD_ORDER_LIST}


def apply_strategic_merge_patch(original: dict[str, Any], patch: Any, kind: str) -> dict[str, Any]:
    """Apply a strategic merge patch to an object of `kind` (`"Deployment"`), as the API server.

    Like a merge patch, except for lists the Go types tag `patchStrategy:"merge"`: those merge by
    their `patchMergeKey` (containers by name, ports by containerPort, conditions by type ...),
    and lists of scalars (finalizers) merge as sets. Directives: `$patch: replace|delete` in a map
    or list item, `$retainKeys`, `$deleteFromPrimitiveList/<field>`, `$setElementOrder/<field>`.
    A kind the server does not build in (a custom resource) gets 415, as upstream.
    """
    if kind not in _BUILTIN:
        raise unsupported_media_type(_CRD_ACCEPTED)
    try:
        patch = _decode(patch)
    except PatchError as e:
        raise _bad_request(str(e)) from None
    if patch is None:
        patch = {}
    if not isinstance(patch, dict):
        raise _bad_request(
            f"json: cannot unmarshal {_json_word(patch)} into Go value of type map[string]interface {{}}"
        )
    if not isinstance(original, dict):
        raise _bad_request(_BAD_JSON_DOC)
    try:
        root = kind if kind in _TYPES else "Object"
        return _merge_map(_plain(original), copy.deepcopy(patch), root)
    except PatchError as e:
        text = str(e)
        if text in _AS_400:
            raise _bad_request(text) from e
        if text == _NO_LIST_OF_LISTS:
            raise _unprocessable(text) from e
        raise _unknown(text) from e


def _lookup(t: str | None, field: str) -> tuple[str, str, str | None]:
    strategy, key, sub = _TYPES.get(t or "", {}).get(field, ("", "", None))
    strategy = ",".join(s for s in strategy.split(",") if s != "retainKeys")
    return strategy, key, sub


def _adopt(v: Any) -> Any:
    """A patch value taken as is: directive keys and nulls go, as decoding into Go types drops them."""
    if isinstance(v, dict):
        return {k: _adopt(x) for k, x in v.items() if x is not None and not k.startswith("$")}
    if isinstance(v, list):
        return [_adopt(x) for x in v]
    return v


def _bad_arg(expected: str, actual: Any) -> PatchError:
    got = _gotype(actual) or "%!s(<nil>)"
    return PatchError(f"expected a {expected}, but received a {got}")


def _no_merge_key(m: dict[str, Any], key: str) -> PatchError:
    return PatchError(f"map: {_go_v(m)} does not contain declared merge key: {key}")


def _extract_key(key: str, prefix: str) -> str:
    head, sep, rest = key.partition("/")
    if not sep or head != prefix:
        raise PatchError(_BAD_PRIMITIVE_LIST if prefix == _DELETE_PREFIX else _BAD_ORDER_LIST)
    return rest


def _merge_map(original: Any, patch: dict[str, Any], t: str | None) -> dict[str, Any]:
    if _DIRECTIVE in patch:
        directive = patch.pop(_DIRECTIVE)
        if directive == "replace":
            return _adopt(patch)
        if directive == "delete":
            return {}
        patch[_DIRECTIVE] = directive
        raise PatchError(f"unknown patch type: {_go_v(directive)} in map: {_go_v(patch)}")
    original = {} if original is None else original
    _retain_keys(original, patch)
    _set_element_order(original, patch, t)
    for k, pv in list(patch.items()):
        delete_list = k.startswith(_DELETE_PREFIX)
        if delete_list:
            k = _extract_key(k, _DELETE_PREFIX)
        if pv is None:  # null deletes; a null for an absent key is ignored
            original.pop(k, None)
            continue
        ov = original.get(k, _MISSING_KEY)
        if ov is _MISSING_KEY or _gotype(ov) != _gotype(pv):
            original[k] = _adopt(pv)
            continue
        strategy, key, sub = _lookup(t, k)
        if isinstance(ov, dict):
            original[k] = _merge_map(ov, pv, sub) if strategy != "replace" else _adopt(pv)
        elif isinstance(ov, list):
            original[k] = (
                _merge_slice(ov, pv, sub, key, delete_list) if strategy == _M else _adopt(pv)
            )
        else:
            original[k] = pv
    return original


_MISSING_KEY = object()


def _retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    """`$retainKeys: [a, b]`: clear every other key of the original (Deployment strategy, volumes)."""
    if _RETAIN_KEYS not in patch:
        return
    keep = patch.pop(_RETAIN_KEYS)
    if not isinstance(keep, list):
        raise PatchError(_BAD_RETAIN_KEYS)
    for k, v in patch.items():
        if v is None or k.startswith((_DELETE_PREFIX, _ORDER_PREFIX)):
            continue
        if k not in keep:
            raise PatchError(_BAD_RETAIN_KEYS)
    for k in [k for k in original if k not in keep]:
        del original[k]


def _set_element_order(original: dict[str, Any], patch: dict[str, Any], t: str | None) -> None:
    """`$setElementOrder/<field>`: merge that list, then order it as the directive lists it."""
    for name in [k for k in patch if k.startswith(_ORDER_PREFIX)]:
        order = patch.pop(name)
        if not isinstance(order, list):
            raise _bad_arg("[]interface {}", order)
        field = _extract_key(name, _ORDER_PREFIX)
        ol, pl = original.get(field, _MISSING_KEY), patch.get(field, _MISSING_KEY)
        for v in (ol, pl):
            if v is not _MISSING_KEY and not isinstance(v, list):
                raise _bad_arg("[]interface {}", v)
        strategy, key, sub = _lookup(t, field)
        olist = [] if ol is _MISSING_KEY else ol
        plist = [] if pl is _MISSING_KEY else pl
        _check_order(plist, order, key)
        if pl is _MISSING_KEY and ol is _MISSING_KEY:
            continue
        if pl is _MISSING_KEY:
            merged = olist
        elif ol is _MISSING_KEY:
            merged = plist
        else:
            merged = _merge_slice(ol, pl, sub, key, False) if strategy == _M else _adopt(pl)
        ins, outs = _partition(merged, order, key)
        kind = _slice_elem_type(olist, plist)
        both = _normalize(ins, outs, order, olist, key, kind)
        original[field] = _adopt(both) if ol is _MISSING_KEY else both
        patch.pop(field, None)


def _key_equal(a: Any, b: Any, key: str) -> bool:
    if not key:
        return _go_eq(a, b)
    for m in (a, b):
        if not isinstance(m, dict):
            raise _bad_arg(_MAP, m)
        if key not in m:
            raise _no_merge_key(m, key)
    return _go_eq(a[key], b[key])


def _is_delete(v: Any) -> bool:
    return isinstance(v, dict) and v.get(_DIRECTIVE) == "delete"


def _check_order(plist: list[Any], order: list[Any], key: str) -> None:
    """The patch list's items must appear in the directive's list, in the same relative order."""
    if not order or not plist:
        return
    if key:
        for v in plist:
            if not isinstance(v, dict):
                raise _bad_arg(_MAP, v)
    items = [v for v in plist if not _is_delete(v)] if key else plist
    i = j = 0
    while i < len(items) and j < len(order):
        if isinstance(items[i], dict) and _DIRECTIVE in items[i]:
            i += 1
            continue
        if _key_equal(items[i], order[j], key):
            i += 1
        j += 1
    if i < len(items) and j >= len(order):
        raise PatchError(
            f"The order in patch list:\n{_go_v(plist)}\n doesn't match {_ORDER_PREFIX} list:\n"
            f"{_go_v(order)}\n"
        )


def _slice_elem_type(*lists: list[Any]) -> str | None:
    seen: list[str | None] = []
    for v in (v for lst in lists for v in lst):
        t = _gotype(v)
        if not seen:
            if t == "[]interface {}":
                raise PatchError(_NO_LIST_OF_LISTS)
            seen.append(t)
        elif seen[0] != t:
            raise PatchError(f"list element types are not identical: {_go_v(list(lists))}")
    if not seen:
        raise PatchError("no elements in any of the given slices")
    return seen[0]


def _merge_slice(
    original: list[Any], patch: list[Any], sub: str | None, key: str, delete_list: bool
) -> list[Any]:
    if not original and not patch:
        return original
    kind = _slice_elem_type(original, patch)
    if kind != _MAP:
        if delete_list:  # $deleteFromPrimitiveList: drop those values, keep the rest in order
            return [v for v in original if not any(_go_eq(v, d) for d in patch)]
        merged = _dedupe(original + patch)
    else:
        if not key:
            raise PatchError("cannot merge lists without merge key for type struct")
        original, patch = _special_items(original, patch, key)
        merged = list(original)
        for v in patch:
            if key not in v:
                raise _no_merge_key(v, key)
            i = _find_map(merged, key, v[key])
            if i < 0:
                merged.append(_adopt(v))
            else:
                merged[i] = _merge_map(merged[i], v, sub)
    ins, outs = _partition(merged, patch, key)
    return _normalize(ins, outs, patch, original, key, kind)


def _dedupe(s: list[Any]) -> list[Any]:
    """Drop repeated scalars exactly as upstream does (a later copy takes the last item's place)."""
    s, last, i = list(s), len(s) - 1, 0
    while i < last:
        j = i + 1
        while j <= last:
            if _go_eq(s[i], s[j]):
                s[j] = s[last]
                s = s[:last]
                last -= 1
                j -= 1
            j += 1
        i += 1
    return s


def _special_items(original: list[Any], patch: list[Any], key: str) -> tuple[list[Any], list[Any]]:
    """Act on `{$patch: delete|replace}` items of a merging list of maps; return the rest."""
    rest, replace = [], False
    for v in patch:
        if _DIRECTIVE not in v:
            rest.append(v)
            continue
        directive = v[_DIRECTIVE]
        if directive == "delete":
            if key not in v:
                raise _no_merge_key(v, key)
            while (i := _find_map(original, key, v[key])) >= 0:
                original = original[:i] + original[i + 1 :]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise PatchError("merging lists cannot yet be specified in the patch")
        else:
            raise PatchError(f"unknown patch type: {_go_v(directive)} in map: {_go_v(v)}")
    return ([_adopt(v) for v in rest], []) if replace else (original, rest)


def _find_map(items: list[Any], key: str, value: Any) -> int:
    for i, v in enumerate(items):
        if not isinstance(v, dict):
            raise PatchError(f"value for key {i} is not a map.")
        if key in v and _go_eq(v[key], value):
            return i
    return -1


def _partition(merged: list[Any], by: list[Any], key: str) -> tuple[list[Any], list[Any]]:
    ins: list[Any] = []
    outs: list[Any] = []
    for v in merged:
        if key:
            if not isinstance(v, dict):
                raise _bad_arg(_MAP, v)
            if key not in v:
                raise _no_merge_key(v, key)
            found = _find_map(by, key, v[key]) >= 0
        else:
            found = any(_go_eq(v, b) for b in by)
        (ins if found else outs).append(v)
    return ins, outs


def _position(items: list[Any], v: Any, key: str, kind: str | None) -> int:
    def val(x: Any) -> Any:
        return (x.get(key) if isinstance(x, dict) else None) if kind == _MAP else x

    return next((i for i, x in enumerate(items) if _go_eq(val(v), val(x))), -1)


def _normalize(
    ins: list[Any],
    outs: list[Any],
    in_order: list[Any],
    out_order: list[Any],
    key: str,
    kind: str | None,
) -> list[Any]:
    """Patch items in the patch's order, server-only items in the live order, then interleaved:
    a server-only item goes before the first patch item it preceded in the live list."""
    ins = _sort_by(ins, in_order, key, kind)
    outs = _sort_by(outs, out_order, key, kind)
    out: list[Any] = []
    i = j = 0
    while i < len(outs) or j < len(ins):
        if i < len(outs) and j < len(ins):
            li, ri = (
                _position(out_order, outs[i], key, kind),
                _position(out_order, ins[j], key, kind),
            )
            take_left = li >= 0 and ri >= 0 and li < ri
        else:
            take_left = i < len(outs)
        if take_left:
            out.append(outs[i])
            i += 1
        else:
            out.append(ins[j])
            j += 1
    return out


def _sort_by(items: list[Any], order: list[Any], key: str, kind: str | None) -> list[Any]:
    items, deletes = list(items), []
    if kind == _MAP:
        for v in (*items, *order):
            if not isinstance(v, dict):
                raise _bad_arg(_MAP, v)
            if key not in v:
                raise _no_merge_key(v, key)
        deletes = [v for v in items if _is_delete(v)]
        items = [v for v in items if not _is_delete(v)]

    def less(a: Any, b: Any) -> bool:
        # upstream's comparator: true whenever either item is missing from `order`
        ia, ib = _position(order, a, key, kind), _position(order, b, key, kind)
        return ia < ib if ia >= 0 and ib >= 0 else True

    go_stable_sort(items, less)
    return items + deletes


def go_stable_sort(data: list[Any], less: Callable[[Any, Any], bool]) -> None:
    """Go's sort.SliceStable, step for step (insertion sort in blocks of 20, then SymMerge), so
    that an inconsistent comparator, as upstream's above, orders items exactly as Go does."""
    n, block = len(data), 20

    def lt(i: int, j: int) -> bool:
        return less(data[i], data[j])

    def swap(i: int, j: int) -> None:
        data[i], data[j] = data[j], data[i]

    def insertion(a: int, b: int) -> None:
        for i in range(a + 1, b):
            j = i
            while j > a and lt(j, j - 1):
                swap(j, j - 1)
                j -= 1

    def swap_range(a: int, b: int, k: int) -> None:
        for i in range(k):
            swap(a + i, b + i)

    def rotate(a: int, m: int, b: int) -> None:
        i, j = m - a, b - m
        while i != j:
            if i > j:
                swap_range(m - i, m, j)
                i -= j
            else:
                swap_range(m - i, m + j - i, i)
                j -= i
        swap_range(m - i, m, i)

    def sym_merge(a: int, m: int, b: int) -> None:
        if m - a == 1:
            i, j = m, b
            while i < j:
                h = (i + j) // 2
                if lt(h, a):
                    i = h + 1
                else:
                    j = h
            for k in range(a, i - 1):
                swap(k, k + 1)
            return
        if b - m == 1:
            i, j = a, m
            while i < j:
                h = (i + j) // 2
                if not lt(m, h):
                    i = h + 1
                else:
                    j = h
            for k in range(m, i, -1):
                swap(k, k - 1)
            return
        mid = (a + b) // 2
        nn = mid + m
        start, r = (nn - b, mid) if m > mid else (a, m)
        p = nn - 1
        while start < r:
            c = (start + r) // 2
            if not lt(p - c, c):
                start = c + 1
            else:
                r = c
        end = nn - start
        if start < m < end:
            rotate(start, m, end)
        if a < start < mid:
            sym_merge(a, start, mid)
        if mid < end < b:
            sym_merge(mid, end, b)

    a, b = 0, block
    while b <= n:
        insertion(a, b)
        a, b = b, b + block
    insertion(a, n)
    while block < n:
        a, b = 0, 2 * block
        while b <= n:
            sym_merge(a, a + block, b)
            a, b = b, b + 2 * block
        if a + block < n:
            sym_merge(a, a + block, n)
        block *= 2


__all__ = ["apply_strategic_merge_patch", "go_stable_sort"]
