"""How etcdctl 3.4 prints: the simple, JSON and table formats, byte sizes as go-humanize writes
them, and tables as olekukonko/tablewriter draws them (right-aligned cells, centred headers,
long cells wrapped at 30 columns on word boundaries by minimum raggedness).

Semantics: etcdctl/ctlv3/command/printer_simple.go, printer_json.go, printer_table.go; checked
against the real etcdctl 3.4.23 (tests/etcd/test_etcdctl.py).
"""

from __future__ import annotations

import base64
import json
import math
from typing import Any

MAX_CELL_WIDTH = 30  # tablewriter's default mW
WRAP_PENALTY = 100_000


def humanize_bytes(n: int) -> str:
    """go-humanize's Bytes: SI units, one decimal below 10 (`20 kB`, `2.1 MB`, `9 B`)."""
    if n < 10:
        return f"{n} B"
    sizes = ["B", "kB", "MB", "GB", "TB", "PB", "EB"]
    e = math.floor(math.log(n) / math.log(1000))
    val = math.floor(n / 1000**e * 10 + 0.5) / 10
    fmt = "%.1f %s" if val < 10 else "%.0f %s"
    return fmt % (val, sizes[e])


def _wrap_words(words: list[str], limit: int) -> list[list[str]]:
    n = len(words)
    length = [[0] * n for _ in range(n)]
    for i in range(n):
        length[i][i] = len(words[i])
        for j in range(i + 1, n):
            length[i][j] = length[i][j - 1] + 1 + len(words[j])
    nbrk, cost = [0] * n, [2**31 - 1] * n
    for i in range(n - 1, -1, -1):
        if length[i][n - 1] <= limit:
            cost[i], nbrk[i] = 0, n
            continue
        for j in range(i + 1, n):
            d = limit - length[i][j - 1]
            c = d * d + cost[j]
            if length[i][j - 1] > limit:
                c += WRAP_PENALTY
            if c < cost[i]:
                cost[i], nbrk[i] = c, j
    lines, i = [], 0
    while i < n:
        lines.append(words[i : nbrk[i]])
        i = nbrk[i]
    return lines


def _wrap(cell: str, limit: int) -> list[str]:
    words = cell.replace("\n", " ").split(" ")
    limit = max([limit] + [len(w) for w in words])
    return [" ".join(line) for line in _wrap_words(words, limit)]


def table(header: list[str], rows: list[list[str]]) -> str:
    """A table as etcdctl draws it with tablewriter (ALIGN_RIGHT, auto-wrap on)."""
    # as parseDimension: row by row, each cell wrapped at the column's width so far
    widths = [min(len(h), MAX_CELL_WIDTH) for h in header]
    wrapped: list[list[list[str]]] = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], min(len(cell), MAX_CELL_WIDTH))
            lines = _wrap(cell, widths[i])
            widths[i] = max([widths[i]] + [len(x) for x in lines])
            cells.append(lines)
        wrapped.append(cells)
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    out = [line]
    heads = []
    for h, w in zip(header, widths, strict=True):
        gap = w - len(h)
        heads.append(" " * (gap // 2) + h + " " * (gap - gap // 2))
    out.append("| " + " | ".join(heads) + " |")
    out.append(line)
    for cells in wrapped:
        height = max(len(c) for c in cells)
        for k in range(height):
            parts = [
                (c[k] if k < len(c) else "").rjust(w) for c, w in zip(cells, widths, strict=True)
            ]
            out.append("| " + " | ".join(parts) + " |")
    out.append(line)
    return "\n".join(out) + "\n"


# -- simple ---------------------------------------------------------------------------------------


def kv_lines(kvs: list[dict], value_only: bool = False) -> list[str]:
    out: list[str] = []
    for kv in kvs:
        if not value_only:
            out.append(kv["key"])
        out.append(kv["value"])
    return out


def simple_put(resp: dict) -> list[str]:
    out = ["OK"]
    if resp.get("prev_kv"):
        out += kv_lines([resp["prev_kv"]])
    return out


def simple_del(resp: dict) -> list[str]:
    return [str(resp.get("deleted", 0))] + kv_lines(resp.get("prev_kvs") or [])


def simple_txn(resp: dict) -> list[str]:
    out = ["SUCCESS" if resp["succeeded"] else "FAILURE"]
    for r in resp.get("responses") or []:
        out.append("")
        if "response_put" in r:
            out += simple_put(r["response_put"])
        elif "response_delete_range" in r:
            out += simple_del(r["response_delete_range"])
        elif "response_range" in r:
            out += kv_lines(r["response_range"].get("kvs") or [])
    return out


# -- JSON -----------------------------------------------------------------------------------------

_BYTES = ("key", "value")
_ONEOF = {
    "response_range": "ResponseRange",
    "response_put": "ResponsePut",
    "response_delete_range": "ResponseDeleteRange",
    "response_txn": "ResponseTxn",
}
_ALARMS = {"NONE": 0, "NOSPACE": 1, "CORRUPT": 2}


def go_json(obj: Any, field: str = "") -> Any:
    """A response as Go's encoding/json writes etcd's protobuf structs: zero values omitted
    (omitempty), bytes base64, oneof wrappers by Go field name."""
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            if k == "responses":
                v = [{"Response": {_ONEOF[n]: go_json(b) for n, b in r.items()}} for r in v]
            elif k == "alarm" and isinstance(v, str):
                v = _ALARMS.get(v, 0)
            else:
                v = go_json(v, k)
            if v in (None, 0, "", False, [], {}):
                continue
            out[k] = v
        return out
    if isinstance(obj, list):
        return [go_json(v, field) for v in obj]
    if field in _BYTES and isinstance(obj, str | bytes):
        raw = obj if isinstance(obj, bytes) else obj.encode("utf-8", "surrogateescape")
        return base64.b64encode(raw).decode("ascii")
    return obj


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
