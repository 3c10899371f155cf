"""Kubernetes resource quantities ("500m", "1Gi", "1.5e3") as exact numbers.

Semantics: apimachinery's resource.Quantity (quantity.go, suffix.go, amount.go): its scanner and
error messages, rounding up to nano precision, the BinarySI cap, the canonical string of each
format and the quirk that keeps some inputs verbatim. Values are integer counts of nano-units.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from fractions import Fraction
from typing import Final, Literal, TypeAlias

Format: TypeAlias = Literal["DecimalSI", "BinarySI", "DecimalExponent"]
DECIMAL_SI: Final = "DecimalSI"
BINARY_SI: Final = "BinarySI"
DECIMAL_EXPONENT: Final = "DecimalExponent"

ERR_FORMAT_WRONG: Final = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)
ERR_NUMERIC: Final = "unable to parse numeric part of quantity"
ERR_SUFFIX: Final = "unable to parse quantity's suffix"

NANO: Final = 10**9  # nano-units per unit; every value is a whole number of nano-units
_MAX_INT64: Final = 2**63 - 1
_BINARY_CAP: Final = _MAX_INT64 * NANO  # BinarySI input is capped at 2^63-1 units
# Upstream accepts exponents up to 2^31-1, but exact integers that large would stall the
# simulation; no manifest comes near this bound.
_MAX_DIGITS: Final = 1000

_DECIMAL_SUFFIXES: Final = {
    "n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18,
}  # fmt: skip
_BINARY_SUFFIXES: Final = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_SUFFIX_OF_POWER_OF_10: Final = {power: suffix for suffix, power in _DECIMAL_SUFFIXES.items()}
_SUFFIX_OF_POWER_OF_1024: Final = {0: "", **{p // 10: s for s, p in _BINARY_SUFFIXES.items()}}

# Upstream scans by hand: sign, integer digits, optional "." and fraction digits, a run of
# suffix letters, an optional sign, digits, end. Possessive quantifiers stop the regex from
# backtracking into a split that the scanner would never make.
_SCANNER: Final = re.compile(r"([+-]?)([0-9]*+)(?:\.([0-9]*+))?+([eEinumkKMGTP]*+[+-]?[0-9]*+)")


class QuantityError(ValueError):
    """Text that is not a quantity; the message is apimachinery's, word for word."""


class Quantity:
    """An exact, immutable Kubernetes quantity that remembers its format.

    `Quantity("250m")`, `Quantity(1)` and `Quantity(0.5)` (ints and floats as YAML loads them)
    all work; comparisons and arithmetic also accept such values. Equal values compare and hash
    equal whatever their format (`Quantity("1Gi") == "1024Mi"`). `str(q)` is the input text when
    upstream would keep it verbatim, else the canonical form of `q.format`.
    """

    __slots__ = ("_nanos", "_format", "_text")

    def __init__(self, value: Quantity | str | int | float) -> None:
        """Parse `value`; raise QuantityError for bad text, TypeError for other types."""
        if isinstance(value, Quantity):
            self._nanos, self._format, self._text = value._nanos, value._format, value._text
        else:
            self._nanos, self._format, self._text = _parse(_as_text(value))

    @classmethod
    def parse(cls, value: Quantity | str | int | float) -> Quantity:
        """The same as the constructor (upstream's ParseQuantity)."""
        return cls(value)

    @classmethod
    def _of(cls, nanos: int, fmt: Format) -> Quantity:
        quantity = object.__new__(cls)
        quantity._nanos, quantity._format, quantity._text = nanos, fmt, None
        return quantity

    @property
    def format(self) -> Format:
        """How `str` writes this quantity: "DecimalSI", "BinarySI" or "DecimalExponent"."""
        return self._format

    def as_fraction(self) -> Fraction:
        """The exact value, in units (cores, bytes, ...)."""
        return Fraction(self._nanos, NANO)

    def value(self) -> int:
        """The value in units, rounded up in magnitude: 100m -> 1, 1.5 -> 2, -1.5 -> -2."""
        return _round_away_from_zero(self._nanos, NANO)

    def milli_value(self) -> int:
        """The value in thousandths, rounded up in magnitude: 0.1m -> 1, 1.5 -> 1500."""
        return _round_away_from_zero(self._nanos, NANO // 1000)

    def is_zero(self) -> bool:
        """True if the value is zero, in any format."""
        return self._nanos == 0

    def cmp(self, other: Quantity | str | int | float) -> int:
        """-1, 0 or 1 as self is less than, equal to or greater than other (by value)."""
        theirs = Quantity(other)._nanos
        return (self._nanos > theirs) - (self._nanos < theirs)

    def to_json(self) -> str:
        """The serialized form, as the API server writes it: `str(q)`."""
        return str(self)

    def __str__(self) -> str:
        if self._text is None:
            self._text = _canonical(self._nanos, self._format)
        return self._text

    def __repr__(self) -> str:
        return f"Quantity({str(self)!r})"

    def __hash__(self) -> int:
        return hash(self.as_fraction())  # so that Quantity("1") and 1 hash alike

    def __eq__(self, other: object) -> bool:
        try:
            theirs = _coerce(other)
        except QuantityError:
            return False
        return NotImplemented if theirs is None else self._nanos == theirs._nanos

    def __lt__(self, other: object) -> bool:
        theirs = _coerce(other)
        return NotImplemented if theirs is None else self._nanos < theirs._nanos

    def __le__(self, other: object) -> bool:
        theirs = _coerce(other)
        return NotImplemented if theirs is None else self._nanos <= theirs._nanos

    def __gt__(self, other: object) -> bool:
        theirs = _coerce(other)
        return NotImplemented if theirs is None else self._nanos > theirs._nanos

    def __ge__(self, other: object) -> bool:
        theirs = _coerce(other)
        return NotImplemented if theirs is None else self._nanos >= theirs._nanos

    # Arithmetic is exact and keeps the left operand's format, except that a zero left operand
    # takes the right one's (so sum() of BinarySI quantities stays BinarySI), as upstream's Add
    # and Sub do. The result is always written canonically.
    def __add__(self, other: object) -> Quantity:
        theirs = _coerce(other)
        if theirs is None:
            return NotImplemented
        return Quantity._of(self._nanos + theirs._nanos, self._format_with(theirs))

    def __radd__(self, other: object) -> Quantity:
        theirs = _coerce(other)
        return NotImplemented if theirs is None else theirs + self

    def __sub__(self, other: object) -> Quantity:
        theirs = _coerce(other)
        if theirs is None:
            return NotImplemented
        return Quantity._of(self._nanos - theirs._nanos, self._format_with(theirs))

    def __rsub__(self, other: object) -> Quantity:
        theirs = _coerce(other)
        return NotImplemented if theirs is None else theirs - self

    def __neg__(self) -> Quantity:
        return Quantity._of(-self._nanos, self._format)

    def _format_with(self, other: Quantity) -> Format:
        return other._format if self._nanos == 0 else self._format


def _coerce(value: object) -> Quantity | None:
    if isinstance(value, Quantity):
        return value
    if isinstance(value, str | int | float):
        return Quantity(value)
    return None


def _as_text(value: str | int | float) -> str:
    """The text the API server would receive for a value loaded from YAML."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):  # JSON's true/false, which the scanner rejects
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _json_float(value)
    raise TypeError(f"cannot make a Quantity from {type(value).__name__}")


def _json_float(value: float) -> str:
    """A float as Go's encoding/json writes it: shortest digits, positional unless the
    magnitude is below 1e-6 or at least 1e21, and "e-7" rather than "e-07"."""
    text = repr(value)
    if not math.isfinite(value):
        return text  # "inf" and "nan" then fail to parse, as they cannot reach the server
    if value != 0 and not 1e-6 <= abs(value) < 1e21:
        return re.sub(r"e-0(\d)$", r"e-\1", text)
    text = format(Decimal(text), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _parse(text: str) -> tuple[int, Format, str | None]:
    """(nanos, format, text to keep verbatim or None) for `text`, as ParseQuantity."""
    if text == "":
        raise QuantityError(ERR_FORMAT_WRONG)
    if text == "0":
        return 0, DECIMAL_SI, text
    match = _SCANNER.fullmatch(text)
    if match is None:
        raise QuantityError(ERR_FORMAT_WRONG)
    sign, integer, fraction, suffix = match.group(1, 2, 3, 4)
    fraction = fraction or ""
    num = integer.lstrip("0") or "0"  # "0.5" -> num "0"; "007" -> "7"
    base, exponent, fmt = _interpret(suffix)

    # Upstream first tries an int64 fast path; only values it accepts can keep their text, and
    # only the slow path can fail to read the number (when no digit was given: "Ei", ".e-10").
    if fmt == BINARY_SI:  # 1Ki..1Ei carry about 3, 6, .. 18 digits of their own
        fast = not fraction and 14 - len(num) - 3 * (exponent // 10) >= 0
    else:
        fast = len(num) + len(fraction) <= 18 and exponent - len(fraction) >= -9
    if not fast and not (integer or fraction):
        raise QuantityError(ERR_NUMERIC)

    digits = num + fraction
    scale = (exponent if base == 10 else 0) - len(fraction)  # value = digits * 10^scale [* 2^e]
    significant = digits.lstrip("0")
    if len(digits) > _MAX_DIGITS or (significant and len(significant) + scale > _MAX_DIGITS):
        raise QuantityError(
            f"quantity {text!r} is too large for kube_teach: at most {_MAX_DIGITS} digits "
            f"and a magnitude below 1e{_MAX_DIGITS}"
        )
    magnitude = int(digits) * (2**exponent if base == 2 else 1)
    nanos = _to_nanos_rounding_up(magnitude, scale)
    if fmt == BINARY_SI:
        nanos = min(nanos, _BINARY_CAP)
        if 0 < nanos < NANO:
            fmt = DECIMAL_SI  # a binary fraction of one unit is written in decimal
    if sign == "-":
        nanos = -nanos

    kept = None
    if fast and fmt == BINARY_SI:
        # Upstream's cheap test for "already canonical": not a multiple of 8 (so of 1024).
        if int(num) & 7:
            kept = text
    elif fast:
        # Canonical-looking: suffix power a multiple of 3, no "000" to fold, no leading zero.
        if scale % 3 == 0 and not digits.endswith("000") and digits[0] != "0":
            kept = text
    return nanos, fmt, kept


def _interpret(suffix: str) -> tuple[int, int, Format]:
    """(base, exponent, format) that a suffix stands for: "Ki" -> (2, 10, BinarySI)."""
    if suffix in _DECIMAL_SUFFIXES:  # checked first: "E" alone is exa, not an exponent
        return 10, _DECIMAL_SUFFIXES[suffix], DECIMAL_SI
    if suffix in _BINARY_SUFFIXES:
        return 2, _BINARY_SUFFIXES[suffix], BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE":
        try:
            exponent = int(suffix[1:])
        except ValueError:
            pass
        else:
            if -(2**63) <= exponent <= _MAX_INT64:  # the range of Go's ParseInt
                return 10, exponent, DECIMAL_EXPONENT
    raise QuantityError(ERR_SUFFIX)


def _to_nanos_rounding_up(magnitude: int, scale: int) -> int:
    """magnitude * 10^scale in nano-units, rounded up: a request for some resource gets some."""
    shift = scale + 9
    if shift >= 0:
        return magnitude * 10**shift
    if magnitude == 0:
        return 0
    if -shift > len(str(magnitude)):  # below one nano-unit, without computing 10^-shift
        return 1
    return -(-magnitude // 10**-shift)


def _round_away_from_zero(nanos: int, unit: int) -> int:
    rounded = -(-abs(nanos) // unit)
    return rounded if nanos >= 0 else -rounded


def _canonical(nanos: int, fmt: Format) -> str:
    """The canonical text: no fraction digits, and the largest suffix or exponent that allows."""
    if nanos == 0:
        return "0"
    if fmt == BINARY_SI:
        if nanos % NANO:
            fmt = DECIMAL_SI  # a fractional binary value is written in decimal, not rounded
        else:
            mantissa, power = nanos // NANO, 0
            while mantissa % 1024 == 0:
                mantissa, power = mantissa // 1024, power + 1
            if power in _SUFFIX_OF_POWER_OF_1024:
                return f"{mantissa}{_SUFFIX_OF_POWER_OF_1024[power]}"
            fmt = DECIMAL_EXPONENT  # beyond Ei, as for DecimalSI below
    mantissa, exponent = nanos, -9
    while mantissa % 10 == 0:
        mantissa, exponent = mantissa // 10, exponent + 1
    spare = exponent % 3  # lower the exponent to a multiple of 3
    mantissa, exponent = mantissa * 10**spare, exponent - spare
    if fmt == DECIMAL_SI:
        if exponent in _SUFFIX_OF_POWER_OF_10:
            return f"{mantissa}{_SUFFIX_OF_POWER_OF_10[exponent]}"
        # Beyond E (10^18): releases up to 1.36 drop the exponent here ("1000E" prints "1");
        # we follow the upstream fix (kubernetes/kubernetes#140459) and write "1e21".
    return f"{mantissa}e{exponent}" if exponent else str(mantissa)
