"""Durations in Go's syntax (`"100ms"`, `"1m30s"`), as Kubernetes and etcd flags take them.

Semantics: Go's `time.ParseDuration` and `Duration.String`. Time inside kube-teach is an integer
count of nanoseconds, so sums never drift and equal times compare equal.
"""

from __future__ import annotations

import re

NS = 1
US = 1_000
MS = 1_000_000
SECOND = 1_000_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE

_UNITS = {"ns": NS, "us": US, "µs": US, "μs": US, "ms": MS, "s": SECOND, "m": MINUTE, "h": HOUR}
_NUMBER = re.compile(r"(\d*)(?:\.(\d*))?")
_UNIT = re.compile(r"[^0-9.]+")


class DurationError(ValueError):
    """A duration string Go's ParseDuration would reject; the message is Go's."""


def parse_duration(text: str) -> int:
    """Parse a Go duration (`"1.5h"`, `"-2m3s"`, `"300ms"`, `"0"`) into integer nanoseconds.

    Fractions are exact: `"1.1s"` is 1_100_000_000. Errors read like Go's:
    `time: invalid duration "abc"`, `time: missing unit in duration "5"`,
    `time: unknown unit "d" in duration "1d"`.
    """
    if not isinstance(text, str):
        raise DurationError(f"time: invalid duration {_quote(text)}")
    orig, s = text, text
    sign = 1
    if s[:1] in ("-", "+"):
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise DurationError(f"time: invalid duration {_quote(orig)}")
    total = 0
    while s:
        m = _NUMBER.match(s)
        whole, frac = m.group(1), m.group(2)
        if not whole and not frac:
            raise DurationError(f"time: invalid duration {_quote(orig)}")
        s = s[m.end() :]
        u = _UNIT.match(s)
        if u is None:
            raise DurationError(f"time: missing unit in duration {_quote(orig)}")
        unit = u.group(0)
        if unit not in _UNITS:
            raise DurationError(f"time: unknown unit {_quote(unit)} in duration {_quote(orig)}")
        s = s[u.end() :]
        scale = _UNITS[unit]
        value = int(whole or 0) * scale
        if frac:
            value += _fraction_ns(frac, scale)
        total += value
    if total > 2**63 - 1:
        raise DurationError(f"time: invalid duration {_quote(orig)}")
    return sign * total


def _fraction_ns(digits: str, unit: int) -> int:
    """The fractional part as Go computes it: digits kept until int64 would overflow, then a
    float product truncated toward zero (so `0.3333333333333333333h` is exactly 20m, as in Go)."""
    limit = (2**63 - 1) // 10
    x, scale = 0, 1
    for d in digits:
        if x > limit:
            break
        x, scale = x * 10 + int(d), scale * 10
    return int(float(x) * (float(unit) / scale))


def _quote(value: object) -> str:
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_ns(value: int | float | str) -> int:
    """Accept a duration as Go text (`"5m"`) or as seconds (`2.5`); return nanoseconds.

    Numbers are seconds, the unit a learner thinks in; they are rounded to the nearest ns.
    """
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DurationError(f"time: invalid duration {_quote(value)}")
    return round(value * SECOND)


def format_duration(ns: int) -> str:
    """Nanoseconds as Go's `Duration.String()`: `1m30s`, `100ms`, `1h0m0s`, `0s`, `1.5µs`."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    n = abs(ns)
    if n < SECOND:
        for unit, scale in (("ms", MS), ("µs", US), ("ns", NS)):
            if n >= scale:
                return sign + _decimal(n, scale) + unit
    hours, rest = divmod(n, HOUR)
    minutes, rest = divmod(rest, MINUTE)
    seconds = _decimal(rest, SECOND) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}"
    if minutes:
        return f"{sign}{minutes}m{seconds}"
    return sign + seconds


def _decimal(n: int, scale: int) -> str:
    whole, frac = divmod(n, scale)
    if not frac:
        return str(whole)
    digits = len(str(scale)) - 1
    return f"{whole}." + f"{frac:0{digits}d}".rstrip("0")
