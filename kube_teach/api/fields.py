"""Field selectors such as `metadata.name=web,status.phase!=Running`: parsing, matching,
printing, and the backslash escaping of `\\`, `,` and `=` in values.

Semantics: apimachinery's pkg/fields (selector.go: ParseSelector, EscapeValue, UnescapeValue);
errors are selectors.SelectorParseError carrying upstream's text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .selectors import SelectorParseError


def escape_field_value(value: str) -> str:
    """A literal value made safe for a field selector: `\\`, `,` and `=` get a backslash."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def unescape_field_value(value: str) -> str:
    """The literal behind an escaped field-selector value; raises SelectorParseError on a bad
    escape or on a bare "," or "=". (The rune is reported by number, as upstream prints it.)"""
    if not any(ch in value for ch in "\\,="):
        return value
    out = []
    in_slash = False
    for ch in value:
        if in_slash:
            if ch not in "\\,=":
                raise SelectorParseError(f"invalid field selector: invalid escape sequence: \\{ch}")
            out.append(ch)
            in_slash = False
        elif ch == "\\":
            in_slash = True
        elif ch in ",=":
            raise SelectorParseError(
                f"invalid field selector: unescaped character in value: {ord(ch)}"
            )
        else:
            out.append(ch)
    if in_slash:
        raise SelectorParseError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


class FieldSelector:
    """An AND of `field=value` and `field!=value` terms over an object's fields
    (fields.Selector). A field the object lacks reads as ""."""

    __slots__ = ("_terms", "_nothing")

    def __init__(
        self, terms: Iterable[tuple[str, str, str]] = (), *, _nothing: bool = False
    ) -> None:
        self._terms = tuple(terms)
        self._nothing = _nothing

    @classmethod
    def everything(cls) -> FieldSelector:
        """The selector that matches every object."""
        return cls()

    @classmethod
    def nothing(cls) -> FieldSelector:
        """The selector that matches no object."""
        return cls(_nothing=True)

    @classmethod
    def from_set(cls, fields: Mapping[str, str] | None) -> FieldSelector:
        """`f1=v1,f2=v2` for a dict, sorted by field (upstream leaves map order)."""
        return cls((f, "=", v) for f, v in sorted((fields or {}).items()))

    @property
    def terms(self) -> tuple[tuple[str, str, str], ...]:
        """The (field, "=" or "!=", value) terms, sorted as parsed."""
        return self._terms

    @property
    def empty(self) -> bool:
        """True if the selector restricts nothing."""
        return not self._nothing and not self._terms

    def matches(self, fields: Mapping[str, str] | None) -> bool:
        """True if every term holds for `fields` (missing fields compare as "")."""
        if self._nothing:
            return False
        fields = fields or {}
        return all(
            (fields.get(field, "") == value) == (op == "=") for field, op, value in self._terms
        )

    def requires_exact_match(self, field: str) -> str | None:
        """The value the first `field=...` term demands, else None."""
        for name, op, value in self._terms:
            if name == field and op == "=":
                return value
        return None

    def __str__(self) -> str:
        return ",".join(f"{f}{op}{escape_field_value(v)}" for f, op, v in self._terms)

    def __repr__(self) -> str:
        if self._nothing:
            return "FieldSelector.nothing()"
        return f"parse_field_selector({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FieldSelector):
            return NotImplemented
        return (self._nothing, self._terms) == (other._nothing, other._terms)

    def __hash__(self) -> int:
        return hash((self._nothing, self._terms))


def _split_field_terms(text: str) -> list[str]:
    # Split on commas that are not escaped; the backslashes stay in the terms.
    if not text:
        return []
    terms, start, in_slash = [], 0, False
    for i, ch in enumerate(text):
        if in_slash:
            in_slash = False
        elif ch == "\\":
            in_slash = True
        elif ch == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def parse_field_selector(text: str) -> FieldSelector:
    """Parse a field selector such as `metadata.name=web,status.phase!=Running`.

    Operators `=`, `==` (the same) and `!=`; a term splits at the first operator found, so
    field names cannot contain one; values may escape `\\`, `,` and `=` with a backslash.
    Terms are sorted by their text; a term that is empty, or has an empty field and value,
    is dropped. Raises SelectorParseError with upstream's message.
    """
    items = []
    for part in sorted(_split_field_terms(text)):
        if not part:
            continue
        for i in range(len(part)):
            op = next((op for op in ("!=", "==", "=") if part.startswith(op, i)), None)
            if op is not None:
                field, raw = part[:i], part[i + len(op) :]
                break
        else:
            raise SelectorParseError(f"invalid selector: '{text}'; can't understand '{part}'")
        value = unescape_field_value(raw)
        if field or value:
            items.append((field, "!=" if op == "!=" else "=", value))
    return FieldSelector(items)
