"""etcdctl's syntax for requests: splitting a command line, its flags, and the get/put/del and
txn forms (`mod("k") = "0"`, `put k v`), turned into request dicts with etcd's field names.

Semantics: etcdctl 3.4 ctlv3/command (get_command.go, put_command.go, del_command.go,
txn_command.go's parseCompare and parseRequestUnion, util.go's argify) and clientv3's Compare
and Op helpers. The client's readable txn form reuses these, so both read the same way.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Sequence

from .mvcc_txn import prefix_end


class UsageError(ValueError):
    """A command etcdctl would refuse; the message is etcdctl's (without `Error: `)."""


CMP_TARGETS = {
    "ver": "VERSION",
    "version": "VERSION",
    "c": "CREATE",
    "create": "CREATE",
    "m": "MOD",
    "mod": "MOD",
    "val": "VALUE",
    "value": "VALUE",
    "lease": "LEASE",
}
CMP_FIELD = {
    "VERSION": "version",
    "CREATE": "create_revision",
    "MOD": "mod_revision",
    "VALUE": "value",
    "LEASE": "lease",
}
CMP_RESULT = {"=": "EQUAL", "==": "EQUAL", "!=": "NOT_EQUAL", ">": "GREATER", "<": "LESS"}
SORT_TARGETS = {"CREATE": "CREATE", "KEY": "KEY", "MODIFY": "MOD", "VALUE": "VALUE"}
SORT_TARGETS["VERSION"] = "VERSION"


def argify(line: str) -> list[str]:
    """Split a line as etcdctl does: on spaces, honouring double-quoted (Go-escaped) words."""
    try:
        return shlex.split(line, posix=True)
    except ValueError as e:
        raise UsageError(f"malformed line: {line}") from e


def parse_flags(
    args: Sequence[str], bool_flags: set[str], value_flags: set[str]
) -> tuple[list[str], dict[str, str | bool]]:
    """Positional arguments and flags (`--prefix`, `--rev=3`, `--rev 3`, `-w json`).

    Unknown flags raise UsageError with cobra's text (`unknown flag: --x`).
    """
    short = {"-w": "write-out"}
    positional: list[str] = []
    flags: dict[str, str | bool] = {}
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            positional.extend(args[i + 1 :])
            break
        if a.startswith("-") and len(a) > 1 and not _is_number(a):
            name, eq, value = a.lstrip("-").partition("=")
            if a in short:
                name = short[a]
            elif not a.startswith("--"):
                raise UsageError(f"unknown shorthand flag: '{a[1:2]}' in {a}")
            if name in bool_flags:
                flags[name] = value.lower() not in ("false", "0") if eq else True
            elif name in value_flags:
                if not eq:
                    if i + 1 >= len(args):
                        raise UsageError(f"flag needs an argument: {a}")
                    i += 1
                    value = args[i]
                flags[name] = value
            else:
                raise UsageError(f"unknown flag: --{name}")
        else:
            positional.append(a)
        i += 1
    return positional, flags


def _is_number(s: str) -> bool:
    return bool(re.fullmatch(r"-\d+", s))


def _int_flag(flags: dict[str, str | bool], name: str) -> int:
    value = flags.get(name, 0)
    try:
        return int(value)
    except (TypeError, ValueError) as e:
        raise UsageError(f'invalid argument "{value}" for "--{name}" flag') from e


# -- get / put / del ------------------------------------------------------------------------------

GET_BOOL = {"prefix", "from-key", "keys-only", "print-value-only", "count-only"}
GET_VALUE = {"consistency", "limit", "order", "rev", "sort-by"}
PUT_BOOL = {"prev-kv", "ignore-value", "ignore-lease"}
PUT_VALUE = {"lease"}
DEL_BOOL = {"prefix", "prev-kv", "from-key"}


def get_request(args: Sequence[str], *, txn: bool = False) -> tuple[dict, dict]:
    """`etcdctl get`'s arguments as a RangeRequest, plus the flags (for printing)."""
    pos, flags = parse_flags(args, GET_BOOL - ({"count-only"} if not txn else set()), GET_VALUE)
    if not 1 <= len(pos) <= 2:
        raise UsageError(
            "get command needs one argument as key and an optional argument as range_end"
        )
    if flags.get("prefix") and flags.get("from-key"):
        raise UsageError("`--prefix` and `--from-key` cannot be set at the same time, choose one")
    key = pos[0]
    body: dict = {"key": key}
    if len(pos) == 2:
        if flags.get("prefix"):
            raise UsageError("too many arguments, only accept one argument when `--prefix` is set.")
        body["range_end"] = pos[1]
    if flags.get("prefix"):
        body["range_end"] = prefix_end(key) if key else b"\0"
        if not key:
            body["key"] = b"\0"
    if flags.get("from-key"):
        body["range_end"] = b"\0"
        if not key:
            body["key"] = b"\0"
    limit = _int_flag(flags, "limit")
    if limit:
        body["limit"] = limit
    rev = _int_flag(flags, "rev")
    if rev:
        body["revision"] = rev
    consistency = flags.get("consistency", "l")
    if consistency == "s":
        body["serializable"] = True
    elif consistency != "l":
        raise UsageError(f"unknown consistency flag {consistency!r}")
    order = str(flags.get("order", "")).upper()
    if order:
        if order not in ("ASCEND", "DESCEND"):
            raise UsageError(f"bad sort order {flags['order']!r}")
        body["sort_order"] = order
    sort_by = str(flags.get("sort-by", "")).upper()
    if sort_by:
        if sort_by not in SORT_TARGETS:
            raise UsageError(f"bad sort target {flags['sort-by']!r}")
        body["sort_target"] = SORT_TARGETS[sort_by]
        body.setdefault("sort_order", "ASCEND")
    if flags.get("keys-only"):
        body["keys_only"] = True
    if flags.get("count-only"):
        body["count_only"] = True
    return body, flags


def put_request(args: Sequence[str]) -> tuple[dict, dict]:
    """`etcdctl put`'s arguments as a PutRequest."""
    pos, flags = parse_flags(args, PUT_BOOL, PUT_VALUE)
    if not pos or (len(pos) == 1 and not flags.get("ignore-value")) or len(pos) > 2:
        raise UsageError("put command needs 1 argument and input from stdin or 2 arguments")
    body: dict = {"key": pos[0], "value": pos[1] if len(pos) > 1 else ""}
    lease = str(flags.get("lease", "0"))
    try:
        lease_id = int(lease, 16)
    except ValueError as e:
        raise UsageError(f"bad lease ID ({e}), expecting ID in Hex") from e
    if lease_id:
        body["lease"] = lease_id
    if flags.get("prev-kv"):
        body["prev_kv"] = True
    if flags.get("ignore-value"):
        body["ignore_value"] = True
    if flags.get("ignore-lease"):
        body["ignore_lease"] = True
    return body, flags


def delete_request(args: Sequence[str]) -> tuple[dict, dict]:
    """`etcdctl del`'s arguments as a DeleteRangeRequest."""
    pos, flags = parse_flags(args, DEL_BOOL, set())
    if not 1 <= len(pos) <= 2:
        raise UsageError(
            "del command needs one argument as key and an optional argument as range_end"
        )
    key = pos[0]
    body: dict = {"key": key}
    if len(pos) == 2:
        if flags.get("prefix"):
            raise UsageError("too many arguments, only accept one argument when `--prefix` is set.")
        body["range_end"] = pos[1]
    if flags.get("prefix"):
        body["range_end"] = prefix_end(key) if key else b"\0"
        if not key:
            body["key"] = b"\0"
    if flags.get("from-key"):
        body["range_end"] = b"\0"
    if flags.get("prev-kv"):
        body["prev_kv"] = True
    return body, flags


# -- txn ------------------------------------------------------------------------------------------


def compare(target: str, key: str | bytes, op: str, value: int | str | bytes) -> dict:
    """A Compare in request form: `compare("mod", "k", "=", 0)`. Targets: version/ver,
    create/c, mod/m, value/val, lease; ops: =, ==, !=, >, <."""
    t = CMP_TARGETS.get(target.lower(), target.upper())
    if t not in CMP_FIELD:
        raise UsageError(f"unknown target {target}")
    if op not in CMP_RESULT:
        raise UsageError(f"Unknown result op {op!r}")
    field = CMP_FIELD[t]
    operand = value if t == "VALUE" else int(value)  # type: ignore[arg-type]
    return {"key": key, "target": t, "result": CMP_RESULT[op], field: operand}


def parse_compare(line: str) -> dict:
    """etcdctl's comparison syntax: `mod("k") = "0"`, `value("k") != "v"`."""
    target, paren, rest = line.partition("(")
    if not paren:
        raise UsageError(f"malformed comparison: {line}")
    m = re.fullmatch(r'\s*"((?:[^"\\]|\\.)*)"\)\s+(\S+)\s+"((?:[^"\\]|\\.)*)"\s*', rest)
    if m is None:
        raise UsageError(f"malformed comparison: {line}")
    key, op, val = (_unquote(m.group(1)), m.group(2), _unquote(m.group(3)))
    target = target.strip()
    if target not in CMP_TARGETS:
        raise UsageError(f"malformed comparison: {line} (unknown target {target})")
    t = CMP_TARGETS[target]
    operand: int | str
    try:
        if t == "VALUE":
            operand = val
        elif t == "LEASE":
            operand = int(val, 16)  # a lease ID in hex, as etcdctl prints them
        else:
            operand = int(val)
    except ValueError as e:
        raise UsageError(f'strconv.ParseInt: parsing "{val}": invalid syntax') from e
    return compare(target, key, op, operand)


def _unquote(s: str) -> str:
    try:
        return json.loads(f'"{s}"')
    except ValueError:
        return s


def parse_op(line: str) -> dict:
    """etcdctl's txn request syntax: `put k v`, `get k --prefix`, `del k`."""
    args = argify(line)
    if not args:
        raise UsageError(f"empty request: {line}")
    cmd, rest = args[0], args[1:]
    if cmd == "put":
        return {"request_put": put_request(rest)[0]}
    if cmd == "get":
        return {"request_range": get_request(rest, txn=True)[0]}
    if cmd in ("del", "delete"):
        return {"request_delete_range": delete_request(rest)[0]}
    raise UsageError(f"invalid txn request: {line}")


def to_compare(item: dict | str | Sequence) -> dict:
    """A compare given as a request dict, etcdctl text, or a tuple `(target, key, op, value)`."""
    if isinstance(item, dict):
        return item
    if isinstance(item, str):
        return parse_compare(item)
    return compare(*item)


def to_op(item: dict | str | Sequence) -> dict:
    """An op given as a request dict (`{"request_put": ...}`), etcdctl text (`"put k v"`) or a
    tuple (`("put", "k", "v")`, `("get", "k")`, `("delete", "k")`)."""
    if isinstance(item, dict):
        return item
    if isinstance(item, str):
        return parse_op(item)
    verb, *args = item
    if verb == "put":
        key, value = args
        return {"request_put": {"key": key, "value": value}}
    if verb in ("get", "range"):
        body = {"key": args[0]}
        if len(args) > 1:
            body["range_end"] = args[1]
        return {"request_range": body}
    if verb in ("del", "delete"):
        body = {"key": args[0]}
        if len(args) > 1:
            body["range_end"] = args[1]
        return {"request_delete_range": body}
    raise UsageError(f"invalid txn request: {item!r}")


def txn_request(compares: Sequence, success: Sequence, failure: Sequence) -> dict:
    """A TxnRequest from compares and ops in any of the accepted forms."""
    return {
        "compare": [to_compare(c) for c in compares],
        "success": [to_op(o) for o in success],
        "failure": [to_op(o) for o in failure],
    }


def parse_txn(stdin: str) -> dict:
    """`etcdctl txn`'s non-interactive input: compares, a blank line, success requests, a blank
    line, failure requests."""
    lines = stdin.split("\n")
    sections: list[list[str]] = [[], [], []]
    i = 0
    for line in lines:
        if i > 2:
            break
        if line.strip() == "":
            i += 1
            continue
        sections[i].append(line.strip())
    return {
        "compare": [parse_compare(c) for c in sections[0]],
        "success": [parse_op(o) for o in sections[1]],
        "failure": [parse_op(o) for o in sections[2]],
    }
