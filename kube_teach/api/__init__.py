"""The Kubernetes data model: objects, quantities, selectors, defaults, validation, errors.

Pure values and functions: no clock, no network. Everything here can be called without a cluster.
Names load on first use, so importing one module (say `kube_teach.api.quantity`) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "apply_defaults": "defaults",
    "FieldError": "errors",
    "StatusError": "errors",
    "KINDS": "kinds",
    "KindInfo": "kinds",
    "UnknownKindError": "kinds",
    "kind_info": "kinds",
    "resolve_resource": "kinds",
    "ManifestError": "objects",
    "Obj": "objects",
    "dump": "objects",
    "load": "objects",
    "load_one": "objects",
    "Quantity": "quantity",
    "QuantityError": "quantity",
    "LabelSelector": "selectors",
    "SelectorParseError": "selectors",
    "parse_field_selector": "selectors",
    "parse_selector": "selectors",
    "validate": "validation",
    "validate_update": "validation",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'kube_teach.api' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
