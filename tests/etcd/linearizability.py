"""A linearizability checker for histories of a key-value register, after Wing & Gong's search
with Lowe's memoization, as Porcupine implements it (raft_tests.md section I, item 73).

Each key is checked on its own (P-compositionality). The model of one key is a register
`(value, mod_revision)`: `value` None means absent (mod_revision 0); a mod_revision of None is
"not known yet" (written by an operation whose outcome the client never learned). Operations
whose outcome is unknown (timeouts) return at time +inf: they may take effect at any moment
after their call, or never. The model is nondeterministic (an unknown CAS may or may not have
succeeded), so the search runs over sets of states, as Porcupine's NondeterministicModel does.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

INF = float("inf")
State = tuple[Any, int | None]
INIT: frozenset[State] = frozenset({(None, 0)})


@dataclass
class Op:
    """One client operation on one key.

    kind/arg/out: `put` value -> revision; `get` None -> (value | None, mod_revision);
    `delete` None -> deleted count; `cas` (expected mod_revision, value) -> (True, revision)
    or (False, (value | None, mod_revision)). `out` None (with `ret` INF): outcome unknown.
    """

    client: int
    key: str
    kind: str
    arg: Any
    call: float
    ret: float = INF
    out: Any = None
    id: int = field(default=-1, compare=False)

    def __str__(self) -> str:
        ret = "inf" if self.ret == INF else f"{self.ret:.6f}"
        return (
            f"[{self.call:.6f}, {ret}] c{self.client} {self.kind}({self.key!r}, {self.arg!r})"
            f" -> {self.out!r}"
        )


def step(s: State, op: Op) -> list[State]:
    """The register's possible next states after `op` from state `s` (empty: illegal)."""
    val, rev = s
    cur = 0 if val is None else rev  # the mod_revision a compare sees (None: unknown)
    out = op.out
    if op.kind == "get":
        gv, gr = out
        if gv != val or (rev is not None and rev != gr):
            return []
        return [(gv, gr)]
    if op.kind == "put":
        if out is None:
            return [(op.arg, None)]
        if rev is not None and out <= rev:
            return []  # revisions only grow
        return [(op.arg, out)]
    if op.kind == "delete":
        if out is not None and (out > 0) != (val is not None):
            return []
        return [(None, 0)]
    if op.kind == "cas":
        expected, new = op.arg
        may_match = cur is None or cur == expected
        may_differ = cur is None or cur != expected
        if out is None:
            return ([(new, None)] if may_match else []) + ([s] if may_differ else [])
        ok, detail = out
        if ok:
            if not may_match or detail <= expected:
                return []
            return [(new, detail)]
        gv, gr = detail
        if not may_differ or gr == expected or gv != val or (rev is not None and rev != gr):
            return []
        return [(gv, gr)]
    raise ValueError(f"unknown operation {op.kind}")


def _step_set(states: frozenset[State], op: Op) -> frozenset[State]:
    nxt: set[State] = set()
    for s in states:
        nxt.update(step(s, op))
    return frozenset(nxt)


class _Entry:
    __slots__ = ("op", "is_call", "time", "match", "prev", "next")

    def __init__(self, op: Op | None, is_call: bool, time: float) -> None:
        self.op = op
        self.is_call = is_call
        self.time = time
        self.match: _Entry | None = None
        self.prev: _Entry | None = None
        self.next: _Entry | None = None


def _lift(e: _Entry) -> None:
    e.prev.next = e.next
    if e.next is not None:
        e.next.prev = e.prev
    m = e.match
    m.prev.next = m.next
    if m.next is not None:
        m.next.prev = m.prev


def _unlift(e: _Entry) -> None:
    m = e.match
    m.prev.next = m
    if m.next is not None:
        m.next.prev = m
    e.prev.next = e
    if e.next is not None:
        e.next.prev = e


def check_single(ops: list[Op], init: frozenset[State] = INIT) -> bool:
    """True when the operations (all on one key) have a linearization."""
    events = []
    for i, op in enumerate(ops):
        op.id = i
        events.append((op.call, 0, i))
        events.append((op.ret, 1, i))
    # at equal times calls come first: operations that touch are treated as concurrent
    events.sort()
    head = _Entry(None, False, -INF)
    prev = head
    calls: dict[int, _Entry] = {}
    for t, kind, i in events:
        e = _Entry(ops[i], kind == 0, t)
        if kind == 0:
            calls[i] = e
        else:
            e.match = calls[i]
            calls[i].match = e
        prev.next, e.prev = e, prev
        prev = e
    cache: set[tuple[int, frozenset[State]]] = set()
    stack: list[tuple[_Entry, frozenset[State]]] = []
    linearized = 0
    state = init
    entry = head.next
    while head.next is not None:
        assert entry is not None
        if entry.is_call:
            op = entry.op
            new_state = _step_set(state, op)
            if new_state:
                new_lin = linearized | (1 << op.id)
                key = (new_lin, new_state)
                if key not in cache:
                    cache.add(key)
                    stack.append((entry, state))
                    state, linearized = new_state, new_lin
                    _lift(entry)
                    entry = head.next
                    continue
            entry = entry.next
        else:
            if not stack:
                return False
            top, state = stack.pop()
            linearized &= ~(1 << top.op.id)
            _unlift(top)
            entry = top.next
    return True


def check(ops: list[Op]) -> tuple[bool, str | None]:
    """Check a whole history key by key: `(True, None)` or `(False, key)` for the first key
    whose sub-history has no linearization."""
    by_key: dict[str, list[Op]] = defaultdict(list)
    for op in ops:
        by_key[op.key].append(op)
    for key in sorted(by_key):
        if not check_single(by_key[key]):
            return False, key
    return True, None


def describe(ops: list[Op], key: str) -> str:
    """The sub-history of one key, one operation per line, in call order."""
    return "\n".join(
        str(op) for op in sorted((o for o in ops if o.key == key), key=lambda o: o.call)
    )
