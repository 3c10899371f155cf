"""Node affinity: whether a node's labels and name satisfy a NodeSelectorRequirement, a
NodeSelectorTerm or a NodeSelector dict, and a term's matchExpressions as a labels Selector.

Semantics: component-helpers' scheduling/corev1/nodeaffinity (nodeaffinity.go). Invalid entries
match nothing; conversion errors are InvalidRequirementError with upstream's text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .fields import FieldSelector
from .selectors import InvalidRequirementError, Selector, _not_supported, new_requirement

_NODE_SELECTOR_OPERATORS = {
    "In": "in",
    "NotIn": "notin",
    "Exists": "exists",
    "DoesNotExist": "!",
    "Gt": "gt",
    "Lt": "lt",
}


def node_selector_requirements_as_selector(
    requirements: Sequence[Mapping[str, Any]], path: str = "matchExpressions"
) -> Selector:
    """A term's matchExpressions as a labels Selector (nodeaffinity's conversion).

    Operators In, NotIn, Exists, DoesNotExist, Gt, Lt; each entry is checked as
    new_requirement checks it, at `path[i]`. An empty list gives `Selector.nothing()`. All
    errors are collected and raised together as InvalidRequirementError.
    """
    if not requirements:
        return Selector.nothing()
    errs: list[str] = []
    parsed = []
    for i, expr in enumerate(requirements):
        item_path = f"{path}[{i}]"
        operator = expr.get("operator") or ""
        if operator not in _NODE_SELECTOR_OPERATORS:
            errs.append(_not_supported(f"{item_path}.operator", operator, _NODE_SELECTOR_OPERATORS))
            continue
        values = expr.get("values")
        try:
            parsed.append(
                new_requirement(
                    expr.get("key") or "",
                    _NODE_SELECTOR_OPERATORS[operator],
                    None if values is None else list(values),
                    path=item_path,
                )
            )
        except InvalidRequirementError as err:
            errs.extend(err.errors)  # flattened, as upstream's errors.Flatten
    if errs:
        raise InvalidRequirementError(errs)
    return Selector(parsed)


def node_selector_requirement_matches(
    requirement: Mapping[str, Any], labels: Mapping[str, str] | None
) -> bool:
    """Whether node `labels` satisfy one NodeSelectorRequirement dict.

    NotIn and DoesNotExist match nodes without the key; Gt/Lt compare integers and never match
    a missing or non-integer label. An invalid requirement matches nothing.
    """
    try:
        return node_selector_requirements_as_selector([requirement]).matches(labels)
    except InvalidRequirementError:
        return False


def _field_terms(requirements: Sequence[Mapping[str, Any]]) -> FieldSelector | None:
    # matchFields allow only In and NotIn, each with exactly one value; None when invalid.
    terms = []
    for expr in requirements:
        operator, values = expr.get("operator"), list(expr.get("values") or [])
        if operator not in ("In", "NotIn") or len(values) != 1:
            return None
        terms.append((expr.get("key") or "", "=" if operator == "In" else "!=", values[0]))
    return FieldSelector(terms)


def node_selector_term_matches(
    term: Mapping[str, Any] | None, labels: Mapping[str, str] | None, node_name: str = ""
) -> bool:
    """Whether a node matches one NodeSelectorTerm dict: all matchExpressions hold on its
    labels and all matchFields (only `metadata.name`, operators In/NotIn) on its name.

    A term with neither part, or with any invalid entry, matches nothing. Upstream quirk kept:
    when the node has no name (`node_name=""`), matchFields are not checked at all.
    """
    term = term or {}
    expressions = term.get("matchExpressions") or []
    match_fields = term.get("matchFields") or []
    if not expressions and not match_fields:
        return False
    try:
        label_selector = (
            node_selector_requirements_as_selector(expressions) if expressions else None
        )
    except InvalidRequirementError:
        return False
    field_selector = _field_terms(match_fields) if match_fields else None
    if match_fields and field_selector is None:
        return False
    if label_selector is not None and not label_selector.matches(labels):
        return False
    if field_selector is not None and node_name:
        return field_selector.matches({"metadata.name": node_name})
    return True


def node_selector_matches(
    node_selector: Mapping[str, Any] | None, labels: Mapping[str, str] | None, node_name: str = ""
) -> bool:
    """Whether a node matches a NodeSelector dict (`{nodeSelectorTerms: [...]}`): the terms
    are ORed, so no terms at all matches nothing."""
    terms = (node_selector or {}).get("nodeSelectorTerms") or []
    return any(node_selector_term_matches(term, labels, node_name) for term in terms)
