"""What every component did, stamped with simulated time.

An append-only list of (time, component, event, fields). `text()` is the golden form: for one
seed it is the same byte for byte on every run, which is how determinism is tested.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .duration import SECOND


@dataclass(frozen=True, slots=True)
class TraceEvent:
    """One thing a component did at simulated time `t_ns`."""

    t_ns: int
    component: str
    event: str
    fields: dict[str, Any]

    @property
    def t(self) -> float:
        """Seconds since the start of the simulation."""
        return self.t_ns / SECOND

    def text(self) -> str:
        """`t=1.520000s etcd-2 became-leader term=2`: fixed format, no floats involved."""
        sec, frac = divmod(self.t_ns, SECOND)
        parts = [f"t={sec}.{frac // 1000:06d}s", self.component, self.event]
        parts += [f"{k}={_fmt(v)}" for k, v in self.fields.items()]
        return " ".join(parts)

    def __str__(self) -> str:
        return self.text()


def _fmt(value: Any) -> str:
    if isinstance(value, str):
        return value if value and not any(c in value for c in ' "=\n') else json.dumps(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(_fmt(v) for v in value) + "]"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return str(value)


class Trace:
    """The simulation's log. Components call `emit`; tests and notebooks read `where`/`text`."""

    def __init__(self, clock: Any, *, enabled: bool = True, limit: int | None = None) -> None:
        self.clock = clock
        self.enabled = enabled
        self.limit = limit
        self.events: list[TraceEvent] = []
        self.dropped = 0
        self._listeners: list[Callable[[TraceEvent], None]] = []

    def emit(self, component: str, event: str, **fields: Any) -> None:
        """Record that `component` did `event` now, with `fields` in the order given."""
        if not self.enabled:
            return
        ev = TraceEvent(self.clock.now_ns, component, event, fields)
        if self.limit is not None and len(self.events) >= self.limit:
            self.events.pop(0)
            self.dropped += 1
        self.events.append(ev)
        for fn in self._listeners:
            fn(ev)

    def subscribe(self, fn: Callable[[TraceEvent], None]) -> None:
        """Call `fn(event)` for each event emitted from now on (widgets use this)."""
        self._listeners.append(fn)

    def where(
        self,
        component: str | None = None,
        event: str | None = None,
        since: float | None = None,
        **fields: Any,
    ) -> list[TraceEvent]:
        """Events matching every filter given; `component` may end in `*` as a prefix match."""

        def keep(ev: TraceEvent) -> bool:
            if component is not None:
                if component.endswith("*"):
                    if not ev.component.startswith(component[:-1]):
                        return False
                elif ev.component != component:
                    return False
            if event is not None and ev.event != event:
                return False
            if since is not None and ev.t < since:
                return False
            return all(ev.fields.get(k) == v for k, v in fields.items())

        return [ev for ev in self.events if keep(ev)]

    def text(self, events: list[TraceEvent] | None = None) -> str:
        """All events (or the ones given), one line each: the golden, byte-stable form."""
        return "\n".join(ev.text() for ev in (self.events if events is None else events))

    def tail(self, n: int = 20) -> str:
        return self.text(self.events[-n:])

    def __len__(self) -> int:
        return len(self.events)

    def __iter__(self) -> Iterator[TraceEvent]:
        return iter(self.events)

    def __repr__(self) -> str:
        return f"<Trace {len(self.events)} events>"
