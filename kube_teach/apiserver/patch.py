"""The three bodies of `kubectl patch --type`: JSON merge patch (RFC 7386), JSON patch (RFC 6902)
and Kubernetes' strategic merge patch, applied to an object as kube-apiserver applies them.

Semantics: the API server's patch handler (errors and status codes), evanphx/json-patch v4 for the
first two (its quirks included: `replace` of an absent object key adds it, negative array indices
count from the end) and apimachinery's strategicpatch for the third, with the `patchStrategy` and
`patchMergeKey` tags of the core/apps/batch Go types. Every failure is a `StatusError`.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from ..api.errors import StatusError
from ..api.gofmt import go_json, go_quote

MAX_JSON_PATCH_OPERATIONS = 10000  # the API server's cap on one JSON patch
PATCH_TYPES = {
    "json": "application/json-patch+json",
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
}
_ACCEPTED = [*PATCH_TYPES.values(), "application/apply-patch+yaml"]
_CRD_ACCEPTED = [PATCH_TYPES["json"], PATCH_TYPES["merge"], "application/apply-patch+yaml"]


class PatchError(ValueError):
    """The library's own error text (json-patch's or strategicpatch's), kept as the `__cause__`
    of the StatusError, since the API server replaces some of them with a generic message."""


# -- errors, as the API server turns them into a Status -------------------------------------------
def _bad_request(text: str) -> StatusError:
    return StatusError.bad_request(text)


def _unprocessable(cause: str) -> StatusError:
    # NewGenericServerResponse(422, ...): the library's text is dropped, upstream's quirk.
    err = StatusError(
        "Invalid", 422, "the server rejected our request due to an error in our request"
    )
    err.__cause__ = PatchError(cause)
    return err


def _unknown(text: str) -> StatusError:
    # A plain Go error reaching the handler: 500 with an empty reason and the error's text.
    return StatusError("", 500, text)


def unsupported_media_type(accepted: list[str]) -> StatusError:
    """415 for a patch type the resource does not take (strategic merge on a custom resource)."""
    return StatusError(
        "UnsupportedMediaType",
        415,
        "the body of the request was in an unknown format - accepted media types include: "
        + ", ".join(accepted),
    )


# -- Go's view of JSON values, for error texts and for `==` on interface{} ------------------------
def _gotype(v: Any) -> str | None:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int64"  # the API server decodes patch integers as int64 (PreserveInts)
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, dict):
        return "map[string]interface {}"
    if isinstance(v, list):
        return "[]interface {}"
    return None if v is None else type(v).__name__


def _go_eq(a: Any, b: Any) -> bool:
    """Go's `==` on two interface{} values: same dynamic type and same value."""
    return _gotype(a) == _gotype(b) and a == b


def _go_float(f: float) -> str:
    if math.isnan(f) or math.isinf(f):
        return "NaN" if math.isnan(f) else ("+Inf" if f > 0 else "-Inf")
    sign, digits, exp = Decimal(repr(f)).normalize().as_tuple()
    ds = "".join(map(str, digits)) or "0"
    e10 = len(ds) + int(exp) - 1
    neg = "-" if sign else ""
    if e10 < -4 or e10 >= 6:  # %v is %g at shortest precision: exponent form from 1e+06
        mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
        return f"{neg}{mant}e{'-' if e10 < 0 else '+'}{abs(e10):02d}"
    return neg + format(Decimal(repr(abs(f))).normalize(), "f")


def _go_v(v: Any) -> str:
    """Go's `%v`: `map[a:1 b:[x y]]`, `<nil>`, floats as `%g`."""
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{_go_v(v[k])}" for k in sorted(v)) + "]"
    if isinstance(v, list):
        return "[" + " ".join(_go_v(x) for x in v) + "]"
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return _go_float(v)
    return str(v)


def _json_word(v: Any) -> str:
    """The JSON type Go names in `json: cannot unmarshal <word> into Go value of type T`."""
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int | float):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(v), "object")


_SYNTAX = {
    "Expecting value": "looking for beginning of value",
    "Expecting property name enclosed in double quotes": "looking for beginning of object key string",
    "Expecting ':' delimiter": "after object key",
    "Expecting ',' delimiter": "after object key:value pair",
    "Extra data": "after top-level value",
}


def _plain(doc: Any) -> Any:
    """A deep copy as plain JSON containers (an `Obj` becomes a dict), so inputs stay untouched."""
    if isinstance(doc, dict):
        return {k: _plain(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_plain(v) for v in doc]
    return doc


def _decode(body: Any) -> Any:
    """A request body given as JSON text is parsed; Go's wording for what does not parse."""
    if not isinstance(body, str | bytes | bytearray):
        return body
    try:
        return json.loads(body)
    except json.JSONDecodeError as e:
        if e.pos >= len(e.doc.rstrip()):
            raise PatchError("unexpected end of JSON input") from None
        where = _SYNTAX.get(e.msg, "looking for beginning of value")
        if e.msg == "Expecting ',' delimiter" and e.doc.rfind("[", 0, e.pos) > e.doc.rfind(
            "{", 0, e.pos
        ):
            where = "after array element"
        raise PatchError(f"invalid character {e.doc[e.pos]!r} {where}") from None


# -- JSON merge patch (RFC 7386) -------------------------------------------------------------------
def apply_merge_patch(original: Any, patch: Any) -> Any:
    """Apply an RFC 7386 merge patch: objects merge key by key, `null` deletes a key, any other
    value (arrays included) replaces. `original` is not modified. A body that is not an object or
    array is 400 `Invalid JSON Patch`, as the API server answers."""
    try:
        patch = _decode(patch)
    except PatchError:
        raise _bad_request("Invalid JSON Patch") from None
    if patch is None or not isinstance(patch, dict | list):
        raise _bad_request("Invalid JSON Patch")
    if original is None:
        raise _unknown("Invalid JSON Document")
    patch = copy.deepcopy(patch)
    if isinstance(patch, list):
        return _prune(patch)
    if not isinstance(original, dict):
        return _prune(patch)
    return _merge_docs(_plain(original), patch)


def _merge_docs(doc: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    for k, v in patch.items():
        if v is None:
            doc.pop(k, None)
        elif doc.get(k) is None:
            doc[k] = _prune(v)
        elif not isinstance(doc[k], dict):
            doc[k] = _prune(v)
        elif isinstance(v, dict):
            doc[k] = _merge_docs(doc[k], v)
        else:
            doc[k] = v  # an object replaced by a non-object keeps its nulls: json-patch's quirk
    return doc


def _prune(v: Any) -> Any:
    """Drop null members of objects, at any depth (nulls in arrays stay, as json-patch keeps them)."""
    if isinstance(v, dict):
        return {k: _prune(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [x if x is None else _prune(x) for x in v]
    return v


# -- JSON patch (RFC 6902) -------------------------------------------------------------------------
def apply_json_patch(doc: Any, ops: Any) -> Any:
    """Apply RFC 6902 operations in order (add, remove, replace, move, copy, test); all or nothing.

    Paths are JSON pointers (`/spec/containers/0/image`, `~1` for `/`, `~0` for `~`); `-` appends.
    A body that is not a list of objects is 400 BadRequest; an operation that does not apply (a
    failed `test`, a missing path, an unknown op) is 422 Invalid with the API server's generic
    message, json-patch's own text in `__cause__`. `doc` is not modified.
    """
    try:
        ops = _decode(ops)
    except PatchError as e:
        raise _bad_request(str(e)) from None
    if ops is None:
        ops = []
    if not isinstance(ops, list):
        raise _bad_request(
            f"json: cannot unmarshal {_json_word(ops)} into Go value of type jsonpatch.Patch"
        )
    for op in ops:
        if op is not None and not isinstance(op, dict):
            raise _bad_request(
                f"json: cannot unmarshal {_json_word(op)} into Go value of type jsonpatch.Operation"
            )
    if len(ops) > MAX_JSON_PATCH_OPERATIONS:
        raise StatusError(
            "RequestEntityTooLarge",
            413,
            "Request entity too large: The allowed maximum operations in a JSON patch is "
            f"{MAX_JSON_PATCH_OPERATIONS}, got {len(ops)}",
        )
    holder = [_plain(doc)]
    for op in ops:
        try:
            _apply_op(holder, op or {})
        except PatchError as e:
            raise _unprocessable(str(e)) from e
    return holder[0]


_MISSING = "missing value"
_BAD_INDEX = "invalid index referenced"


def _unescape(token: str) -> str:
    return re.sub(r"~[01]", lambda m: "/" if m.group() == "~1" else "~", token)


def _atoi(key: str) -> int:
    if not re.fullmatch(r"[+-]?[0-9]+", key):
        raise PatchError(f"strconv.Atoi: parsing {go_quote(key)}: invalid syntax")
    return int(key)


def _index(arr: list[Any], key: str, extra: int = 0) -> int:
    """Resolve an array index the way json-patch v4 does: negative counts from the end."""
    idx, size = _atoi(key), len(arr) + extra
    if idx >= size or idx < -size:
        raise PatchError(f"Unable to access invalid index: {idx}: {_BAD_INDEX}")
    return idx + size if idx < 0 else idx


def _get(con: Any, key: str) -> Any:
    if isinstance(con, dict):
        return con.get(key)
    return con[_index(con, key)]


def _add(con: Any, key: str, value: Any) -> None:
    if isinstance(con, dict):
        con[key] = value
    elif key == "-":
        con.append(value)
    else:
        try:
            idx = _index(con, key, extra=1)
        except PatchError as e:
            if "strconv" not in str(e):
                raise
            raise PatchError(f"value was not a proper array index: '{key}': {e}") from None
        con.insert(idx, value)


def _remove(con: Any, key: str) -> None:
    if isinstance(con, dict):
        if key not in con:
            raise PatchError(f"Unable to remove nonexistent key: {key}: {_MISSING}")
        del con[key]
    else:
        del con[_index(con, key)]


def _find(root: Any, path: str) -> tuple[Any, str]:
    """The container holding the last token of `path`, or None when a step on the way is absent."""
    parts = path.split("/")
    if len(parts) < 2:
        return None, ""
    cur = root
    for token in parts[1:-1]:
        try:
            cur = _get(cur, _unescape(token))
        except PatchError:
            return None, ""
        if not isinstance(cur, dict | list):
            return None, ""
    return cur, _unescape(parts[-1])


def _field(op: dict[str, Any], name: str, missing: str) -> str:
    value = op.get(name)
    if value is None:
        raise PatchError(missing)
    if not isinstance(value, str):
        raise PatchError(f"json: cannot unmarshal {_json_word(value)} into Go value of type string")
    return value


def _path(op: dict[str, Any]) -> str:
    return _field(op, "path", f"operation missing path field: {_MISSING}")


def _from(op: dict[str, Any]) -> str:
    return _field(op, "from", f"operation, missing from field: {_MISSING}")


def _wrap(head: str, fn: Callable[[], Any], keep: bool = True) -> Any:
    try:
        return fn()
    except PatchError as e:
        raise PatchError(f"{head}: {e}" if keep else f"{head}: {_MISSING}") from None


def _json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, dict) or isinstance(b, dict):
        if not (isinstance(a, dict) and isinstance(b, dict)) or a.keys() != b.keys():
            return False
        return all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) or isinstance(b, list):
        if not (isinstance(a, list) and isinstance(b, list)) or len(a) != len(b):
            return False
        return all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    return go_json(a) == go_json(b)  # scalars compare as their JSON text, as json-patch does


def _apply_op(holder: list[Any], op: dict[str, Any]) -> None:
    kind = op.get("op") if isinstance(op.get("op"), str) else "unknown"
    value = copy.deepcopy(op.get("value"))
    if kind in ("add", "remove"):
        path = _wrap(f"{kind} operation failed to decode path", lambda: _path(op), keep=False)
        con, key = _find(holder[0], path)
        if con is None:
            raise PatchError(
                f'{kind} operation does not apply: doc is missing path: "{path}": {_MISSING}'
            )
        action = (lambda: _add(con, key, value)) if kind == "add" else (lambda: _remove(con, key))
        _wrap(f"error in {kind} for path: '{path}'", action)
    elif kind == "replace":
        path = _wrap("replace operation failed to decode path", lambda: _path(op))
        if path == "":
            if not isinstance(value, dict | list):
                raise PatchError("replace operation value must be object or array: %!w(<nil>)")
            holder[0] = value
            return
        con, key = _find(holder[0], path)
        if con is None:
            raise PatchError(
                f"replace operation does not apply: doc is missing path: {path}: {_MISSING}"
            )
        try:
            _get(con, key)  # an absent object key is fine (v4 adds it); a bad index is not
        except PatchError:
            raise PatchError(
                f"replace operation does not apply: doc is missing key: {path}: {_MISSING}"
            ) from None
        if isinstance(con, dict):
            con[key] = value
        else:
            con[_index(con, key)] = value
    elif kind in ("move", "copy"):
        src = _wrap(f"{kind} operation failed to decode from", lambda: _from(op))
        con, key = _find(holder[0], src)
        if con is None:
            raise PatchError(
                f"{kind} operation does not apply: doc is missing from path: {src}: {_MISSING}"
            )
        if kind == "move":
            moved = _wrap(f"error in move for path: '{key}'", lambda: _get(con, key))
            _wrap(f"error in move for path: '{key}'", lambda: _remove(con, key))
        else:  # copying an absent object key copies null: json-patch v4's behaviour
            moved = copy.deepcopy(_wrap(f"error in copy for from: '{src}'", lambda: _get(con, key)))
        path = _wrap(f"{kind} operation failed to decode path", lambda: _path(op), kind == "move")
        con, key = _find(holder[0], path)
        if con is None:
            raise PatchError(
                f"{kind} operation does not apply: doc is missing destination path: {path}: {_MISSING}"
            )
        head = (
            f"error in move for path: '{path}'"
            if kind == "move"
            else "error while adding value during copy"
        )
        _wrap(head, lambda: _add(con, key, moved))
    elif kind == "test":
        path = _wrap("test operation failed to decode path", lambda: _path(op))
        failed = PatchError(f"testing value {path} failed: test failed")
        if path == "":
            if not _json_equal(holder[0], value):
                raise failed
            return
        con, key = _find(holder[0], path)
        if con is None:
            raise PatchError(f"test operation does not apply: is missing path: {path}: {_MISSING}")
        current = _wrap(f"error in test for path: '{path}'", lambda: _get(con, key))
        if current is None or value is None:
            if current is not None or value is not None:
                raise failed  # absent and null match only each other
        elif not _json_equal(current, value):
            raise failed
    else:
        raise PatchError(f"Unexpected kind: {kind}")


def apply_patch(original: dict[str, Any], patch: Any, patch_type: str, kind: str) -> dict[str, Any]:
    """Dispatch on `kubectl patch --type` (`json`, `merge`, `strategic`) or the Content-Type."""
    from .strategicpatch import _BUILTIN, apply_strategic_merge_patch  # it builds on this module

    by_type = {**{v: k for k, v in PATCH_TYPES.items()}, **{k: k for k in PATCH_TYPES}}
    which = by_type.get(patch_type.split(";")[0].strip())
    if which == "json":
        return apply_json_patch(original, patch)
    if which == "merge":
        return apply_merge_patch(original, patch)
    if which == "strategic":
        return apply_strategic_merge_patch(original, patch, kind)
    raise unsupported_media_type(_ACCEPTED if kind in _BUILTIN else _CRD_ACCEPTED)


__all__ = [
    "MAX_JSON_PATCH_OPERATIONS",
    "PATCH_TYPES",
    "PatchError",
    "apply_json_patch",
    "apply_merge_patch",
    "apply_patch",
    "unsupported_media_type",
]
