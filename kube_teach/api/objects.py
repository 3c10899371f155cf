"""Kubernetes objects as they are on the wire: JSON maps, loaded from YAML, JSON, dicts or files.

Loading never adds or reorders anything, so `dump(load(text))` gives the same data back; defaults
are the API server's business (`defaults.apply_defaults`). `Obj` is a `dict` with short accessors.
"""

from __future__ import annotations

import copy
import html
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from .kinds import KINDS


class ManifestError(ValueError):
    """A manifest that cannot be read as Kubernetes objects; the message is kubectl's."""


class Obj(dict):
    """One Kubernetes object: a plain JSON map with short accessors and notebook rendering."""

    @property
    def kind(self) -> str:
        return self.get("kind", "")

    @property
    def api_version(self) -> str:
        return self.get("apiVersion", "")

    @property
    def metadata(self) -> dict[str, Any]:
        return self.setdefault("metadata", {})

    @property
    def name(self) -> str:
        return (self.get("metadata") or {}).get("name", "")

    @property
    def namespace(self) -> str:
        return (self.get("metadata") or {}).get("namespace", "")

    @property
    def labels(self) -> dict[str, str]:
        return (self.get("metadata") or {}).get("labels") or {}

    @property
    def annotations(self) -> dict[str, str]:
        return (self.get("metadata") or {}).get("annotations") or {}

    @property
    def uid(self) -> str:
        return (self.get("metadata") or {}).get("uid", "")

    @property
    def resource_version(self) -> str:
        return (self.get("metadata") or {}).get("resourceVersion", "")

    @property
    def spec(self) -> dict[str, Any]:
        return self.get("spec") or {}

    @property
    def status(self) -> dict[str, Any]:
        return self.get("status") or {}

    @property
    def key(self) -> str:
        """`default/web` for namespaced objects, `node-1` for cluster-scoped ones."""
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    def copy(self) -> Obj:  # a deep copy: nested maps are never shared between objects
        return Obj(copy.deepcopy(dict(self)))

    def with_replicas(self, n: Any) -> Obj:
        """A copy with `spec.replicas` set to `n` (any value: validation judges it later)."""
        out = self.copy()
        out.setdefault("spec", {})["replicas"] = n
        return out

    def with_(self, path: str, value: Any) -> Obj:
        """A copy with the field at dotted `path` (e.g. `spec.template.spec.nodeName`) set."""
        out = self.copy()
        node: dict[str, Any] = out
        *parents, last = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
        return out

    def to_yaml(self) -> str:
        return dump(self)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self, indent=indent)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(self.to_yaml().rstrip("\n"))

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(self.to_yaml())}</pre>"

    def __repr__(self) -> str:
        info = KINDS.get(self.kind)
        kind = info.qualified_kind if info else self.kind or "Object"
        return f"<{kind} {self.key or '(no name)'}>"


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k) if not isinstance(k, str) else k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _looks_like_path(text: str) -> bool:
    return "\n" not in text and text.strip().endswith((".yaml", ".yml", ".json"))


def load(source: Any) -> list[Obj]:
    """Read Kubernetes objects from YAML or JSON text (several documents allowed), a dict, a
    list of dicts, a `List` object, or a path to a `.yaml`/`.yml`/`.json` file.

    Empty documents are skipped. Raises ManifestError for text that is not YAML, for documents
    that are not maps, and for objects without `apiVersion` or `kind` (kubectl's wording).
    """
    if isinstance(source, Path) or (isinstance(source, str) and _looks_like_path(source)):
        path = Path(source)
        try:
            text = path.read_text()
        except OSError as err:
            raise ManifestError(f'the path "{path}" does not exist') from err
        return load(text)
    if isinstance(source, Mapping):
        docs: list[Any] = [source]
    elif isinstance(source, str):
        try:
            docs = list(yaml.safe_load_all(source))
        except yaml.YAMLError as err:
            raise ManifestError(f"error converting YAML to JSON: {_yaml_message(err)}") from err
    elif isinstance(source, Iterable):
        docs = []
        for item in source:
            docs.extend(load(item))
    else:
        raise ManifestError(f"cannot read objects from a {type(source).__name__}")
    out: list[Obj] = []
    for doc in docs:
        if doc is None:
            continue
        if isinstance(doc, Obj):
            out.append(doc)
            continue
        if not isinstance(doc, Mapping):
            raise ManifestError(
                "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal "
                f"{_json_type(doc)} into Go value of type map[string]interface {{}}"
            )
        obj = Obj(_plain(doc))
        if obj.get("kind") == "List" or (
            isinstance(obj.get("kind"), str) and obj["kind"].endswith("List") and "items" in obj
        ):
            out.extend(load(obj.get("items") or []))
            continue
        _check_type_meta(obj)
        out.append(obj)
    return out


def load_one(source: Any) -> Obj:
    """Exactly one object; ManifestError when the source holds none or several."""
    objs = load(source)
    if len(objs) != 1:
        raise ManifestError(f"expected exactly one object, found {len(objs)}")
    return objs[0]


def _check_type_meta(obj: Obj) -> None:
    text = json.dumps(obj, separators=(",", ":"))
    if not obj.get("apiVersion"):
        raise ManifestError(f"error validating data: apiVersion not set; object: {text[:200]}")
    if not obj.get("kind"):
        raise ManifestError(f"error validating data: kind not set; object: {text[:200]}")


def _json_type(value: Any) -> str:
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "array"
    return "value"


def _yaml_message(err: yaml.YAMLError) -> str:
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err)
    if mark is not None:
        return f"yaml: line {mark.line + 1}: {problem}"
    return f"yaml: {problem}"


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(Obj, lambda d, o: d.represent_dict(dict(o)))


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    if any(not ch.isprintable() and ch != "\n" for ch in data):
        style = '"'  # NEL, LS, PS and control characters survive only escaped
    elif "\n" in data:
        style = "|"
    else:
        style = None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_presenter)


def dump(objs: Obj | Mapping[str, Any] | list[Any]) -> str:
    """YAML text for one object or several (`---` between), keys in their stored order."""
    if isinstance(objs, Mapping):
        return yaml.dump(dict(objs), Dumper=_Dumper, sort_keys=False, allow_unicode=True)
    return "---\n".join(dump(o) for o in objs)
