"""Label selectors and metav1.LabelSelector: requirements, the selector-string parser, String.

Semantics: apimachinery's pkg/labels (selector.go: Requirement, the lexer and parser, String) and
metav1 helpers.go (LabelSelectorAsSelector). Parse and validation errors carry upstream's text,
quirks included (a bad key in a selector string is reported at path "<nil>", as kubectl shows
it). Field selectors (fields.py) and node affinity (nodeaffinity.py) stay importable from here.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import TYPE_CHECKING, Any

from .gofmt import go_json, go_quote
from .names import is_qualified_name, is_valid_label_value

if TYPE_CHECKING:
    from .fields import (
        FieldSelector,
        escape_field_value,
        parse_field_selector,
        unescape_field_value,
    )
    from .nodeaffinity import (
        node_selector_matches,
        node_selector_requirement_matches,
        node_selector_requirements_as_selector,
        node_selector_term_matches,
    )


__all__ = [
    "FieldSelector",
    "InvalidRequirementError",
    "LabelSelector",
    "Operator",
    "Requirement",
    "Selector",
    "SelectorParseError",
    "escape_field_value",
    "format_label_selector",
    "new_requirement",
    "node_selector_matches",
    "node_selector_requirement_matches",
    "node_selector_requirements_as_selector",
    "node_selector_term_matches",
    "parse_field_selector",
    "parse_selector",
    "unescape_field_value",
]


class SelectorParseError(ValueError):
    """A selector string was rejected; `str(err)` is upstream's message."""


class InvalidRequirementError(ValueError):
    """A requirement (from NewRequirement, a LabelSelector dict or a node selector term) is
    invalid; `str(err)` is upstream's aggregate text, `errors` its field errors one by one."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = list(errors)
        super().__init__(_aggregate(self.errors))


class Operator(StrEnum):
    """selection.Operator: the relation between a label key and a requirement's values."""

    DOES_NOT_EXIST = "!"
    EQUALS = "="
    DOUBLE_EQUALS = "=="
    IN = "in"
    NOT_EQUALS = "!="
    NOT_IN = "notin"
    EXISTS = "exists"
    GREATER_THAN = "gt"
    LESS_THAN = "lt"


_BINARY_OPERATORS = ("in", "notin", "=", "==", "!=", "gt", "lt")  # upstream's order, for messages
_VALID_OPERATORS = (*_BINARY_OPERATORS, "exists", "!")


# --- field.Error text ---------------------------------------------------------------------------

_go_quote = go_quote
_go_json = go_json


def _invalid(path: str, value: str | Sequence[str] | None, detail: str) -> str:
    shown = _go_quote(value) if isinstance(value, str) else _go_json(value)
    return f"{path}: Invalid value: {shown}: {detail}"


def _not_supported(path: str, value: str, supported: Iterable[str]) -> str:
    # The bad operator is a named string type in Go, so it is rendered as JSON, not %q.
    options = ", ".join(_go_quote(option) for option in supported)
    return f"{path}: Unsupported value: {_go_json(value)}: supported values: {options}"


def _aggregate(messages: Sequence[str]) -> str:
    # utilerrors' aggregate: duplicates dropped, one message bare, several in brackets.
    unique = list(dict.fromkeys(messages))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


def _child(path: str | None, name: str) -> str:
    return name if not path else f"{path}.{name}"


# --- Requirement ---------------------------------------------------------------------------------

_INT64_RE = re.compile(r"[+-]?[0-9]+")


def _parse_int64(text: str) -> int | None:
    # strconv.ParseInt(text, 10, 64): optional sign, ASCII digits, in range.
    if not text.isascii() or not _INT64_RE.fullmatch(text):
        return None
    value = int(text)
    return value if -(2**63) <= value < 2**63 else None


@dataclass(frozen=True)
class Requirement:
    """One clause of a label selector: `key`, an operator and values, e.g. `env in (a,b)`.

    Build with `new_requirement` to have it validated; the constructor trusts its input, as
    upstream's zero value does. `values` keep their given order; `str()` sorts them.
    """

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        """Whether `labels` satisfy this requirement.

        In/=/== need the key present with one of the values; NotIn/!= also match when the key
        is absent; exists/! test presence only (a "" value is present); gt/lt need the key
        present with an int64 value strictly above/below the single int64 value.
        """
        labels = labels or {}
        op = self.operator
        if op in ("in", "=", "=="):
            return self.key in labels and labels[self.key] in self.values
        if op in ("notin", "!="):
            return self.key not in labels or labels[self.key] not in self.values
        if op == "exists":
            return self.key in labels
        if op == "!":
            return self.key not in labels
        if op in ("gt", "lt"):
            if self.key not in labels or len(self.values) != 1:
                return False
            have, bound = _parse_int64(labels[self.key]), _parse_int64(self.values[0])
            if have is None or bound is None:
                return False
            return have > bound if op == "gt" else have < bound
        return False

    def __str__(self) -> str:
        op = self.operator
        if op == "exists":
            return self.key
        if op == "!":
            return "!" + self.key
        values = self.values[0] if len(self.values) == 1 else ",".join(sorted(self.values))
        if op in ("in", "notin"):
            return f"{self.key} {op} ({values})"
        symbol = {"=": "=", "==": "==", "!=": "!=", "gt": ">", "lt": "<"}.get(op, "")
        return f"{self.key}{symbol}{values}"


def _key_errors(key: str, path: str) -> list[str]:
    errs = is_qualified_name(key)
    return [_invalid(path, key, "; ".join(errs))] if errs else []


def _requirement_errors(
    key: str, operator: str, values: Sequence[str] | None, path: str | None
) -> list[str]:
    errs = _key_errors(key, _child(path, "key"))
    values_path = _child(path, "values")
    count = len(values or ())
    if operator in ("in", "notin"):
        if count == 0:
            errs.append(
                _invalid(
                    values_path, values, "for 'in', 'notin' operators, values set can't be empty"
                )
            )
    elif operator in ("=", "==", "!="):
        if count != 1:
            errs.append(
                _invalid(values_path, values, "exact-match compatibility requires one single value")
            )
    elif operator in ("exists", "!"):
        if count != 0:
            errs.append(
                _invalid(
                    values_path, values, "values set must be empty for exists and does not exist"
                )
            )
    elif operator in ("gt", "lt"):
        if count != 1:
            errs.append(
                _invalid(
                    values_path, values, "for 'Gt', 'Lt' operators, exactly one value is required"
                )
            )
        for i, value in enumerate(values or ()):
            if _parse_int64(value) is None:
                errs.append(
                    _invalid(
                        f"{values_path}[{i}]",
                        value,
                        "for 'Gt', 'Lt' operators, the value must be an integer",
                    )
                )
    else:
        errs.append(_not_supported(_child(path, "operator"), operator, _VALID_OPERATORS))
    for i, value in enumerate(values or ()):
        value_errs = is_valid_label_value(value)
        if value_errs:
            errs.append(_invalid(f"{values_path}[{i}][{key}]", value, "; ".join(value_errs)))
    return errs


def new_requirement(
    key: str, operator: str, values: Sequence[str] | None = (), *, path: str | None = None
) -> Requirement:
    """A validated Requirement, as upstream's NewRequirement.

    Rules: the key is a qualified name; in/notin need at least one value; =, ==, != exactly
    one; exists and ! none; gt/lt exactly one int64; every value is a valid label value; the
    operator is one of `Operator`. All failures are collected, prefixed with `path` (e.g.
    "spec.selector.matchExpressions[0]"), and raised together as InvalidRequirementError.
    Pass `values=None` for an absent list (it prints as `null` in messages).
    """
    errs = _requirement_errors(key, operator, values, path)
    if errs:
        raise InvalidRequirementError(errs)
    op = Operator(operator)
    return Requirement(key, op, tuple(values or ()))


# --- Selector ------------------------------------------------------------------------------------


class Selector:
    """An AND of requirements, kept sorted by key (labels.Selector).

    `Selector.everything()` (and the parse of "") matches every label set and is `empty`;
    `Selector.nothing()` matches none, is not empty, and prints as "".
    """

    __slots__ = ("_requirements", "_nothing")

    def __init__(self, requirements: Iterable[Requirement] = (), *, _nothing: bool = False) -> None:
        # A stable sort by key; Go's sort.Sort happens to be stable for up to 12 requirements.
        self._requirements = tuple(sorted(requirements, key=lambda r: r.key))
        self._nothing = _nothing

    @classmethod
    def everything(cls) -> Selector:
        """The selector that matches every label set."""
        return cls()

    @classmethod
    def nothing(cls) -> Selector:
        """The selector that matches no label set (what a nil LabelSelector becomes)."""
        return cls(_nothing=True)

    @classmethod
    def from_set(cls, labels: Mapping[str, str] | None, *, validate: bool = False) -> Selector:
        """`k1=v1,k2=v2` for a label dict; an empty or None dict gives everything.

        Without `validate` (SelectorFromSet) nothing is checked; with it
        (ValidatedSelectorFromSet) an invalid key or value raises InvalidRequirementError.
        """
        labels = labels or {}
        if validate:
            return cls(new_requirement(k, "=", [v]) for k, v in labels.items())
        return cls(Requirement(k, Operator.EQUALS, (v,)) for k, v in labels.items())

    @property
    def requirements(self) -> tuple[Requirement, ...]:
        """The requirements, sorted by key (none for both everything and nothing)."""
        return self._requirements

    @property
    def empty(self) -> bool:
        """True if the selector restricts nothing; False for `nothing()`."""
        return not self._nothing and not self._requirements

    @property
    def matches_nothing(self) -> bool:
        """True only for `nothing()`; contradictions such as `a,!a` are not detected."""
        return self._nothing

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        """True if every requirement matches `labels` (always False for `nothing()`)."""
        if self._nothing:
            return False
        return all(r.matches(labels) for r in self._requirements)

    def add(self, *requirements: Requirement) -> Selector:
        """A new selector with `requirements` added and re-sorted; `nothing()` stays nothing."""
        if self._nothing:
            return self
        return Selector((*self._requirements, *requirements))

    def requires_exact_match(self, label: str) -> str | None:
        """The single value the selector demands for `label` (=, == or in with one value), else
        None. Only the first requirement on that key is looked at, as upstream."""
        for r in self._requirements:
            if r.key == label:
                if r.operator in ("=", "==", "in") and len(r.values) == 1:
                    return r.values[0]
                return None
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self._requirements)

    def __repr__(self) -> str:
        if self._nothing:
            return "Selector.nothing()"
        return f"parse_selector({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Selector):
            return NotImplemented
        return (self._nothing, self._requirements) == (other._nothing, other._requirements)

    def __hash__(self) -> int:
        return hash((self._nothing, self._requirements))


# --- the selector-string lexer and parser ---------------------------------------------------------


class _Token(IntEnum):
    ERROR = 0
    END_OF_STRING = 1
    CLOSED_PAR = 2
    COMMA = 3
    DOES_NOT_EXIST = 4
    DOUBLE_EQUALS = 5
    EQUALS = 6
    GREATER_THAN = 7
    IDENTIFIER = 8
    IN = 9
    LESS_THAN = 10
    NOT_EQUALS = 11
    NOT_IN = 12
    OPEN_PAR = 13


_KEYWORDS = {
    ")": _Token.CLOSED_PAR,
    ",": _Token.COMMA,
    "!": _Token.DOES_NOT_EXIST,
    "==": _Token.DOUBLE_EQUALS,
    "=": _Token.EQUALS,
    ">": _Token.GREATER_THAN,
    "in": _Token.IN,
    "<": _Token.LESS_THAN,
    "!=": _Token.NOT_EQUALS,
    "notin": _Token.NOT_IN,
    "(": _Token.OPEN_PAR,
}
_SPECIAL = frozenset("=!(),><")
_WHITESPACE = frozenset(" \t\r\n")
_NUL = "\0"


def _lex(text: str) -> list[tuple[_Token, str]]:
    """Tokens up to and including the first END_OF_STRING.

    Works per character where upstream works per byte; that is the same thing here, because
    every special or blank character is ASCII and UTF-8 never reuses ASCII bytes. A NUL
    character reads as end of string, as Go's zero byte does, yet is consumed like any other.
    """
    pos = 0
    tokens: list[tuple[_Token, str]] = []

    def read() -> str:
        nonlocal pos
        if pos < len(text):
            pos += 1
            return text[pos - 1]
        return _NUL

    while True:
        ch = read()
        while ch in _WHITESPACE:
            ch = read()
        if ch == _NUL:
            tokens.append((_Token.END_OF_STRING, ""))
            return tokens
        pos -= 1
        if ch in _SPECIAL:
            # The longest run of special characters that is still a token: "!=" not "!" "=".
            buffer, token, literal = "", _Token.ERROR, ""
            while True:
                ch = read()
                if ch == _NUL:
                    break
                if ch not in _SPECIAL:
                    pos -= 1
                    break
                buffer += ch
                if buffer in _KEYWORDS:
                    token, literal = _KEYWORDS[buffer], buffer
                elif token != _Token.ERROR:
                    pos -= 1
                    break
            tokens.append((token, literal))
        else:
            buffer = ""
            while True:
                ch = read()
                if ch == _NUL:
                    break
                if ch in _SPECIAL or ch in _WHITESPACE:
                    pos -= 1
                    break
                buffer += ch
            tokens.append((_KEYWORDS.get(buffer, _Token.IDENTIFIER), buffer))


class _Parser:
    """Recursive descent over the token list, with upstream's messages.

    In the values context the keywords "in" and "notin" are plain identifiers, so
    `in=notin` and `x in (in)` parse; in the operator position they are operators.
    """

    def __init__(self, text: str) -> None:
        self.items = _lex(text)
        self.position = 0

    def lookahead(self, values: bool = True) -> tuple[_Token, str]:
        return self._as(self.items[self.position], values)

    def consume(self, values: bool = True) -> tuple[_Token, str]:
        self.position += 1
        return self._as(self.items[self.position - 1], values)

    @staticmethod
    def _as(item: tuple[_Token, str], values: bool) -> tuple[_Token, str]:
        token, literal = item
        if values and token in (_Token.IN, _Token.NOT_IN):
            return _Token.IDENTIFIER, literal
        return token, literal

    def parse(self) -> list[Requirement]:
        requirements = []
        while True:
            token, literal = self.lookahead()
            if token == _Token.END_OF_STRING:
                return requirements
            if token not in (_Token.IDENTIFIER, _Token.DOES_NOT_EXIST):
                raise SelectorParseError(
                    f"found '{literal}', expected: !, identifier, or 'end of string'"
                )
            try:
                requirements.append(self.requirement())
            except (SelectorParseError, InvalidRequirementError) as err:
                raise SelectorParseError(f"unable to parse requirement: {err}") from None
            token, literal = self.consume()
            if token == _Token.END_OF_STRING:
                return requirements
            if token != _Token.COMMA:
                raise SelectorParseError(f"found '{literal}', expected: ',' or 'end of string'")
            token, literal = self.lookahead()
            if token not in (_Token.IDENTIFIER, _Token.DOES_NOT_EXIST):
                raise SelectorParseError(f"found '{literal}', expected: identifier after ','")

    def requirement(self) -> Requirement:
        operator = ""
        token, literal = self.consume()
        if token == _Token.DOES_NOT_EXIST:
            operator = "!"
            token, literal = self.consume()
        if token != _Token.IDENTIFIER:
            raise SelectorParseError(f"found '{literal}', expected: identifier")
        key = literal
        # Upstream validates the key here with a nil field path, hence "<nil>" in the message.
        key_errs = _key_errors(key, "<nil>")
        if key_errs:
            raise SelectorParseError(key_errs[0])
        if self.lookahead()[0] in (_Token.END_OF_STRING, _Token.COMMA) and operator != "!":
            operator = "exists"
        if operator in ("exists", "!"):
            # "!x=a" leaves "=" unread: the caller then reports it.
            return new_requirement(key, operator, [])
        operator = self.operator()
        if operator in ("in", "notin"):
            values = self.value_set()
        else:
            values = self.exact_value()
        return new_requirement(key, operator, sorted(values))

    def operator(self) -> str:
        token, literal = self.consume(values=False)
        operators = {
            _Token.IN: "in",
            _Token.EQUALS: "=",
            _Token.DOUBLE_EQUALS: "==",
            _Token.GREATER_THAN: "gt",
            _Token.LESS_THAN: "lt",
            _Token.NOT_IN: "notin",
            _Token.NOT_EQUALS: "!=",
        }
        if token not in operators:
            raise SelectorParseError(f"found '{literal}', expected: {', '.join(_BINARY_OPERATORS)}")
        return operators[token]

    def value_set(self) -> set[str]:
        token, literal = self.consume()
        if token != _Token.OPEN_PAR:
            raise SelectorParseError(f"found '{literal}' expected: '('")
        token, literal = self.lookahead()
        if token == _Token.CLOSED_PAR:  # "()" is the set {""}
            self.consume()
            return {""}
        if token not in (_Token.IDENTIFIER, _Token.COMMA):
            raise SelectorParseError(f"found '{literal}', expected: ',', ')' or identifier")
        values = self.identifiers()
        self.consume()  # the ")" that identifiers() stopped at
        return values

    def identifiers(self) -> set[str]:
        # A comma next to "(", ")" or another comma stands for the empty value, so
        # "(a,)" is {"a", ""}; since Kubernetes 1.35 "(a,,)" is accepted too.
        values: set[str] = set()
        while True:
            token, literal = self.consume()
            if token == _Token.IDENTIFIER:
                values.add(literal)
                next_token, next_literal = self.lookahead()
                if next_token == _Token.CLOSED_PAR:
                    return values
                if next_token != _Token.COMMA:
                    raise SelectorParseError(f"found '{next_literal}', expected: ',' or ')'")
            elif token == _Token.COMMA:
                if not values:
                    values.add("")
                next_token = self.lookahead()[0]
                if next_token == _Token.CLOSED_PAR:
                    values.add("")
                    return values
                if next_token == _Token.COMMA:
                    values.add("")
            else:
                raise SelectorParseError(f"found '{literal}', expected: ',', or identifier")

    def exact_value(self) -> set[str]:
        if self.lookahead()[0] in (_Token.END_OF_STRING, _Token.COMMA):  # "x=" means x is ""
            return {""}
        token, literal = self.consume()
        if token != _Token.IDENTIFIER:
            raise SelectorParseError(f"found '{literal}', expected: identifier")
        return {literal}


def parse_selector(text: str) -> Selector:
    """Parse a label selector string such as `env in (prod),tier!=db,!canary` (labels.Parse).

    Grammar: comma-separated requirements, each `[!]key`, `key=v`, `key==v`, `key!=v`,
    `key in (v,...)`, `key notin (v,...)`, `key>n` or `key<n`; blanks (space, tab, CR, LF)
    between tokens are ignored; a missing value is "". Keys and values are validated as
    labels. "" parses to a selector that matches everything. Raises SelectorParseError with
    upstream's message on any error.
    """
    return Selector(_Parser(text).parse())


# --- metav1.LabelSelector ------------------------------------------------------------------------

_LABEL_SELECTOR_OPERATORS = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}


class LabelSelector:
    """metav1.LabelSelector in its API dict form, `{matchLabels, matchExpressions}`.

    Converted once, as LabelSelectorAsSelector does: None matches nothing, `{}` (or both
    parts empty) matches everything, otherwise matchLabels and matchExpressions are ANDed.
    """

    __slots__ = ("_source", "_selector")

    def __init__(self, source: Mapping[str, Any] | None, selector: Selector) -> None:
        self._source = source
        self._selector = selector

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> LabelSelector:
        """Validate and convert a LabelSelector dict.

        matchExpressions operators are In, NotIn, Exists, DoesNotExist only; In/NotIn need
        values, Exists/DoesNotExist must have none. The first invalid entry raises
        InvalidRequirementError (matchLabels first, in dict order, then the expressions), e.g.
        `values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty`
        or `"Gt" is not a valid label selector operator`.
        """
        if d is None:
            return cls(None, Selector.nothing())
        match_labels = d.get("matchLabels") or {}
        match_expressions = d.get("matchExpressions") or []
        if not match_labels and not match_expressions:
            return cls(d, Selector.everything())
        requirements = [new_requirement(k, "=", [v]) for k, v in match_labels.items()]
        for expr in match_expressions:
            operator = expr.get("operator") or ""
            if operator not in _LABEL_SELECTOR_OPERATORS:
                raise InvalidRequirementError(
                    [f"{_go_quote(operator)} is not a valid label selector operator"]
                )
            # Upstream copies the values into a nil slice, so an empty list is reported as null.
            values = list(expr.get("values") or []) or None
            requirements.append(
                new_requirement(expr.get("key") or "", _LABEL_SELECTOR_OPERATORS[operator], values)
            )
        return cls(d, Selector(requirements))

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        """Whether an object with `labels` is selected."""
        return self._selector.matches(labels)

    def to_selector(self) -> Selector:
        """The equivalent labels Selector."""
        return self._selector

    def to_dict(self) -> Mapping[str, Any] | None:
        """The dict this selector was built from (None for a nil selector)."""
        return self._source

    def __str__(self) -> str:
        return str(self._selector)

    def __repr__(self) -> str:
        return f"LabelSelector.from_dict({self._source!r})"


def format_label_selector(d: Mapping[str, Any] | None) -> str:
    """A LabelSelector dict as `kubectl describe` shows it (FormatLabelSelector): the selector
    string, "<none>" when that is empty (nil or empty selector), "<error>" when invalid."""
    try:
        text = str(LabelSelector.from_dict(d))
    except InvalidRequirementError:
        return "<error>"
    return text or "<none>"


# --- moved to their upstream packages, re-exported ------------------------------------------------

# fields.py and nodeaffinity.py import this module, so importing them here at load time would be
# a cycle: they load on first use instead, as kube_teach.api loads its names.
_MOVED = {
    "FieldSelector": "fields",
    "escape_field_value": "fields",
    "parse_field_selector": "fields",
    "unescape_field_value": "fields",
    "node_selector_matches": "nodeaffinity",
    "node_selector_requirement_matches": "nodeaffinity",
    "node_selector_requirements_as_selector": "nodeaffinity",
    "node_selector_term_matches": "nodeaffinity",
}


def __getattr__(name: str) -> Any:
    module = _MOVED.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __package__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_MOVED})
