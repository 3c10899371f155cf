"""Go's formatting of values in error messages: `%q` for strings, encoding/json for the rest.

apimachinery's field errors print a bad value the way Go prints it, so a learner's error reads
character for character like the real API server's.
"""

from __future__ import annotations

import json
from typing import Any

_GO_SHORT_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_GO_SHORT_ESCAPES |= {"\v": "\\v", '"': '\\"', "\\": "\\\\"}


def go_quote(text: str) -> str:
    """Go's `%q`."""
    # Go's %q: printable characters stay (non-ASCII included), the rest is escaped.
    out = []
    for ch in text:
        if ch in _GO_SHORT_ESCAPES:
            out.append(_GO_SHORT_ESCAPES[ch])
        elif " " <= ch <= "~" or (ord(ch) > 0x7F and ch.isprintable()):
            out.append(ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return '"' + "".join(out) + '"'


def go_json(value: Any) -> str:
    """Compact JSON as Go's encoding/json writes it, HTML characters escaped."""
    # encoding/json as field.Error uses it for lists: compact, and "<", ">", "&" escaped.
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )
