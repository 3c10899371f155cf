"""RaftScope, after Ongaro's (raft.github.io): a Raft group's members with role and term, the
messages in flight, and each log coloured by term, solid once committed; buttons crash, restart,
partition, heal and move simulated time. Beside the live widget goes a byte-stable SVG/HTML copy
of the same state, which nbval compares; `role_timeline` plots roles and terms over a run.
"""

from __future__ import annotations

import html
import math
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ..sim import Network, Trace, format_duration, to_ns
from ..sim.duration import DurationError
from .plot import COLORS, SVG, to_svg

ROLE = {  # StateType value -> what a learner reads
    "StateFollower": "follower",
    "StatePreCandidate": "pre-candidate",
    "StateCandidate": "candidate",
    "StateLeader": "leader",
}
ROLE_FILL = {
    "follower": "#eaeef2",
    "pre-candidate": "#fff1b8",
    "candidate": "#ffd8a8",
    "leader": "#b6e3ff",
    "down": "#ffffff",
}
ROLE_STROKE = {
    "follower": "#57606a",
    "pre-candidate": "#9a6700",
    "candidate": "#bc4c00",
    "leader": "#0969da",
    "down": "#8c959f",
}
TERM_COLORS = ("#d0d7de", "#b6e3ff", "#ffd8a8", "#abf2bc", "#d8b9ff", "#ffc1c0", "#fff1b8")
MSG_COLORS = {"vote": "#bc4c00", "app": "#0969da", "heartbeat": "#8c959f", "other": "#8250df"}
EVENTS = (  # the trace events a "next event" step stops at
    "became-follower",
    "became-pre-candidate",
    "became-candidate",
    "became-leader",
    "cast-vote",
    "rejected-vote",
    "ignored-vote",
    "commit",
    "crashed",
    "restarted",
)


RaftGroup = Any
"""What a scope drives: a kube_teach.etcd RaftHarness, or an EtcdCluster."""


class _Group:
    """One face for both kinds of group. A RaftHarness numbers its members 1..n (`nodes`) and
    takes those numbers; an EtcdCluster names them (`members`) and takes names, its Raft IDs
    being derived from peer URLs. Either way a member has `.name`, `.id` (its Raft ID),
    `.raft` (None while down) and `.host` (whose disk survives a crash)."""

    def __init__(self, target: RaftGroup) -> None:
        self.target = target
        self.etcd = hasattr(target, "members") and hasattr(target, "network")
        self.net: Network = target.network if self.etcd else target.net
        self.trace: Trace = target.trace

    @property
    def now(self) -> float:
        return self.target.now

    def members(self) -> list[Any]:
        if self.etcd:
            return list(self.target.members.values())
        return [node for _, node in sorted(self.target.nodes.items())]

    def names(self) -> dict[int, str]:
        """Raft ID -> member name, to show votes and leaders by name."""
        return {m.id: m.name for m in self.members()}

    def find(self, who: int | str) -> Any:
        """The member called `who` ("etcd-2"), or numbered `who` (2, "2"); None if none."""
        members = self.members()
        for m in members:
            if str(who) == m.name:
                return m
        if str(who).isdigit():
            for m in members:
                if m.name.rsplit("-", 1)[-1] == str(who):
                    return m
        return None

    def _handle(self, member: Any) -> Any:
        return member.name if self.etcd else member.id

    def crash(self, member: Any) -> None:
        self.target.crash(self._handle(member))

    def restart(self, member: Any) -> None:
        self.target.restart(self._handle(member))

    def partition(self, sides: list[list[Any]]) -> None:
        self.target.partition(*([self._handle(m) for m in side] for side in sides))

    def heal(self) -> None:
        self.target.heal()

    def run(self, duration: float | str) -> None:
        self.target.run(duration)

    def run_until(self, predicate: Callable[[], bool], timeout: float | str) -> bool:
        return self.target.run_until(predicate, timeout)


# -- messages in flight -----------------------------------------------------------------------


@dataclass(frozen=True)
class Flight:
    """One message on the wire: sent at `sent_ns`, due at its receiver at `due_ns`."""

    src: str
    dst: str
    type: str
    label: str
    sent_ns: int
    due_ns: int
    rejected: bool = False


def _label(msg: Any) -> str:
    kind = type(msg).__name__.removeprefix("Msg")
    entries = getattr(msg, "entries", ())
    return f"{kind}+{len(entries)}" if kind == "App" and entries else kind


class _Recorder:
    """Notes every message the network schedules for delivery; one per network.

    The network keeps no list of what is in flight, so the scope wraps its delivery scheduler.
    A message is in flight until its due time: then it is delivered, or lost at the receiver.
    """

    _by_net: weakref.WeakKeyDictionary[Network, _Recorder] = weakref.WeakKeyDictionary()

    def __init__(self, net: Network) -> None:
        self.net = net
        self.flights: list[Flight] = []
        schedule = net._schedule

        def recorded(src: str, dst: str, msg: Any, delay: int) -> None:
            now = net.clock.now_ns
            self.flights = [f for f in self.flights if f.due_ns > now]
            flight = Flight(
                src,
                dst,
                type(msg).__name__,
                _label(msg),
                now,
                now + delay,
                bool(getattr(msg, "reject", False)),
            )
            self.flights.append(flight)
            schedule(src, dst, msg, delay)

        net._schedule = recorded  # type: ignore[method-assign]

    @classmethod
    def of(cls, net: Network) -> _Recorder:
        if net not in cls._by_net:
            cls._by_net[net] = cls(net)
        return cls._by_net[net]

    def in_flight(self) -> list[Flight]:
        now = self.net.clock.now_ns
        return [f for f in self.flights if f.due_ns > now]


# -- the state drawn --------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberView:
    """One member as drawn: role and term, and its log as (index, term) pairs."""

    id: int
    name: str
    role: str  # follower, pre-candidate, candidate, leader, or down
    term: int
    vote: str  # the member it voted for in this term, "-" for nobody
    lead: str  # the leader it knows, "-" for none
    commit: int
    applied: int
    first_index: int  # entries before it are in a snapshot
    log: tuple[tuple[int, int], ...]
    timer: float  # election timer progress, 0..1 (followers and candidates)

    @property
    def last_index(self) -> int:
        return self.log[-1][0] if self.log else self.first_index - 1


def member_view(node: Any, names: Mapping[int, str] | None = None) -> MemberView:
    """Read one member of a Raft group; a down member shows what its disk holds. `names` maps
    Raft IDs to member names (votes and leaders are shown by name)."""
    names = names or {}

    def who(raft_id: int) -> str:
        return names.get(raft_id, str(raft_id)) if raft_id else "-"

    raft = node.raft
    if raft is None:
        disk = node.host.disk.get("raft")
        ents = tuple((e.index, e.term) for e in disk.entries) if disk else ()
        hs = disk.hard_state if disk else None
        first = disk.snapshot.index + 1 if disk else 1
        term, vote, commit = (hs.term, hs.vote, hs.commit) if hs else (0, 0, 0)
        return MemberView(
            node.id, node.name, "down", term, who(vote), "-", commit, 0, first, ents, 0.0
        )
    log = raft.log
    ents = tuple((e.index, e.term) for e in log.entries)
    role = ROLE[raft.state.value]
    timer = 0.0
    if role != "leader":
        timer = min(1.0, raft.election_elapsed / max(raft.randomized_election_timeout, 1))
    return MemberView(
        node.id,
        node.name,
        role,
        raft.term,
        who(raft.vote),
        who(raft.lead),
        log.committed,
        log.applied,
        log.offset + 1,
        ents,
        timer,
    )


@dataclass(frozen=True)
class StaticView:
    """A rendering of a scope at one moment: HTML with the SVG inside, and plain text."""

    html: str
    text: str

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return self.text

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(self.text)


# -- the scope --------------------------------------------------------------------------------


class RaftScope:
    """A view of a Raft group (a RaftHarness or an EtcdCluster) with controls.

    `html()`, `text()` and `view()` are static renderings of the current state.

    `log_entries` is how many of the newest log indexes the log columns show. Every control is
    a method too (`advance("10ms")`, `next_event()`, `crash("etcd-2")`, `partition("1 2 | 3 4
    5")`, `heal()`), so a notebook without a front end, and a test, can press the buttons. Bad
    input leaves a message, never an exception.
    """

    def __init__(
        self,
        group: RaftGroup,
        *,
        title: str = "",
        log_entries: int = 10,
        steps: Iterable[str] = ("1ms", "10ms", "100ms", "1s"),
    ) -> None:
        self.group = group
        self._g = _Group(group)
        self.title = title
        self.log_entries = log_entries
        self.steps = [s if s.startswith("+") else f"+{s}" for s in steps]
        self.message = ""
        self.recorder = _Recorder.of(self._g.net)
        self._widget: Any = None
        self._live: Any = None

    # -- reading the group ----------------------------------------------------------------------
    def members(self) -> list[MemberView]:
        names = self._g.names()
        return [member_view(m, names) for m in self._g.members()]

    def flights(self) -> list[Flight]:
        return self.recorder.in_flight()

    def _now(self) -> str:
        return format_duration(to_ns(self._g.now))

    # -- controls -------------------------------------------------------------------------------
    def advance(self, duration: float | str) -> None:
        """Run the group for `duration` (`"10ms"`, `0.5`)."""
        try:
            self._g.run(duration)
            self.message = f"ran {format_duration(to_ns(duration))}"
        except DurationError as err:
            self.message = str(err)
        self._refresh()

    def press(self, step: str) -> None:
        """What a click on the button labelled `step` (`"+10ms"`) does."""
        self.advance(step.lstrip("+"))

    def next_event(self, event: str | None = None, *, timeout: float | str = "10s") -> bool:
        """Run until a member changes role, votes, commits, crashes or restarts (or, with
        `event`, until that trace event, e.g. "became-leader"); False if none within `timeout`."""
        trace = self._g.trace
        seen = len(trace.events)
        wanted = (event,) if event else EVENTS

        def first() -> Any:
            return next((ev for ev in trace.events[seen:] if ev.event in wanted), None)

        met = self._g.run_until(lambda: first() is not None, timeout)
        if met:
            self.message = first().text()
        else:
            what = event or "nothing happened"
            self.message = f"{what}: not within {format_duration(to_ns(timeout))}"
        self._refresh()
        return met

    def crash(self, who: int | str) -> None:
        """Crash a member: it keeps its disk (log, term, vote) and loses the rest."""
        self._on_member(who, "crashed", self._g.crash)

    def restart(self, who: int | str) -> None:
        """Restart a crashed member from its disk."""
        self._on_member(who, "restarted", self._g.restart)

    def _on_member(self, who: int | str, done: str, action: Callable[[Any], None]) -> None:
        member = self._g.find(who)
        if member is None:
            self.message = f"no member named {who!r}"
        else:
            action(member)
            self.message = f"{member.name} {done}"
        self._refresh()

    def partition(self, sides: str | Iterable[Iterable[int | str]]) -> None:
        """Cut the group in sides that cannot talk: `"1 2 | 3 4 5"` or `[[1, 2], [3, 4, 5]]`."""
        if isinstance(sides, str):
            sides = [side.split() for side in sides.split("|")]
        groups: list[list[Any]] = []
        for side in sides:
            found = [self._g.find(w) for w in side]
            if not found or None in found:
                unknown = [w for w in side if self._g.find(w) is None]
                self.message = f"no member named {unknown[0]!r}" if unknown else "an empty side"
                self._refresh()
                return
            groups.append(found)
        self._g.partition(groups)
        self.message = "partition " + " | ".join(" ".join(m.name for m in g) for g in groups)
        self._refresh()

    def heal(self) -> None:
        """Reconnect every member."""
        self._g.heal()
        self.message = "healed"
        self._refresh()

    # -- rendering ------------------------------------------------------------------------------
    def svg(self) -> str:
        """The current state as an SVG image: the same state gives the same bytes."""
        return _draw(self)

    def html(self) -> str:
        head = f"<strong>{html.escape(self.title)}</strong> " if self.title else ""
        note = f" &middot; {html.escape(self.message)}" if self.message else ""
        return (
            f"<div class='kube-teach-raftscope'><p>{head}<code>t={self._now()}</code>{note}</p>"
            f"{self.svg()}</div>"
        )

    def text(self) -> str:
        """The current state as plain text: one line per member, then the wire."""
        head = f"{self.title} " if self.title else ""
        note = f" · {self.message}" if self.message else ""
        lines = [f"{head}t={self._now()}{note}"]
        for m in self.members():
            terms = " ".join(str(t) for _, t in m.log[-self.log_entries :])
            lines.append(
                f"{m.name} {m.role:<13} term={m.term} vote={m.vote} lead={m.lead} "
                f"last={m.last_index} commit={m.commit} log[-{self.log_entries}:]={terms}"
            )
        flights = self.flights()
        wire = ", ".join(f"{f.src}→{f.dst} {f.label}" for f in flights) if flights else "nothing"
        lines.append(f"in flight: {wire}")
        return "\n".join(lines)

    def snapshot(self) -> dict[str, str]:
        """The static copy shown under the widget: HTML (with the SVG) and plain text."""
        caption = (
            "<p style='color:#57606a;font-size:smaller'>Static copy of the view when this cell "
            "ran; the live view above follows the buttons.</p>"
        )
        return {"text/html": self.html() + caption, "text/plain": self.text()}

    def view(self) -> StaticView:
        """The current state as a static picture, for a notebook cell to show."""
        return StaticView(self.html(), self.text())

    def _repr_html_(self) -> str:
        return self.html()

    def __repr__(self) -> str:
        return self.text()

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(self.text())

    # -- the widget -----------------------------------------------------------------------------
    def widget(self) -> Any:
        """The ipywidgets box (built on first use): time, member and network controls."""
        if self._widget is None:
            self._widget = self._build()
        return self._widget

    def _build(self) -> Any:
        import ipywidgets as w

        def button(label: str, fn: Callable[[], None], style: str = "") -> Any:
            b = w.Button(description=label, button_style=style, layout=w.Layout(width="auto"))
            b.on_click(lambda _b: fn())
            return b

        time_row = [button(s, lambda s=s: self.press(s)) for s in self.steps]
        time_row.append(button("next event", self.next_event, "info"))
        names = [m.name for m in self._g.members()]
        member = w.Dropdown(options=names, layout=w.Layout(width="auto"))
        member_row = [
            member,
            button("crash", lambda: self.crash(member.value), "danger"),
            button("restart", lambda: self.restart(member.value), "success"),
        ]
        sides = w.Text(placeholder="1 2 | 3 4 5", layout=w.Layout(width="12em"))
        net_row = [
            sides,
            button("partition", lambda: self.partition(sides.value), "warning"),
            button("heal", self.heal),
        ]
        self._live = w.HTML(value=self.html())
        rows = [w.HBox(time_row), w.HBox(member_row + net_row), self._live]
        return w.VBox(rows)

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.value = self.html()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        bundle = dict(self.widget()._repr_mimebundle_())
        bundle["text/plain"] = "raftscope controls (run the notebook to use them): " + " ".join(
            [*self.steps, "next event", "crash", "restart", "partition", "heal"]
        )
        display(bundle, raw=True)
        display(self.snapshot(), raw=True)


def raftscope(group: RaftGroup, **options: Any) -> RaftScope:
    """A RaftScope over `group`; see RaftScope for `options` (title, log_entries, steps)."""
    return RaftScope(group, **options)


# -- drawing ----------------------------------------------------------------------------------

RING_R, NODE_R, RING_X, RING_Y = 118, 27, 175, 178
LOG_X, CELL, ROW = 370, 30, 34


def _f(x: float) -> str:
    """Coordinates with one decimal: the same text on every platform."""
    return f"{x:.1f}".replace("-0.0", "0.0")


def _term_color(term: int) -> str:
    return TERM_COLORS[term % len(TERM_COLORS)]


def _msg_color(kind: str) -> str:
    if "Vote" in kind:
        return MSG_COLORS["vote"]
    if kind.startswith("MsgApp"):
        return MSG_COLORS["app"]
    if kind.startswith("MsgHeartbeat"):
        return MSG_COLORS["heartbeat"]
    return MSG_COLORS["other"]


def _draw(scope: RaftScope) -> str:
    members = scope.members()
    group = scope._g
    n = len(members)
    pos: dict[str, tuple[float, float]] = {}
    for i, m in enumerate(members):
        angle = -math.pi / 2 + 2 * math.pi * i / max(n, 1)
        pos[m.name] = (RING_X + RING_R * math.cos(angle), RING_Y + RING_R * math.sin(angle))
    cols = scope.log_entries
    height = max(370, 60 + ROW * n + 40)
    width = LOG_X + 70 + CELL * cols
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
    ]
    # Links between members that can reach each other: a partition removes lines.
    up = {m.name for m in members if m.role != "down"}
    names = [m.name for m in members]
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if a in up and b in up and group.net.reachable(a, b):
                (x1, y1), (x2, y2) = pos[a], pos[b]
                out.append(
                    f'<line x1="{_f(x1)}" y1="{_f(y1)}" x2="{_f(x2)}" y2="{_f(y2)}" '
                    'stroke="#eaeef2" stroke-width="1.5"/>'
                )
    for m in members:
        out += _draw_member(m, *pos[m.name])
    now = to_ns(group.now)
    for f in scope.flights():
        if f.src not in pos or f.dst not in pos:
            continue
        (x1, y1), (x2, y2) = pos[f.src], pos[f.dst]
        frac = (now - f.sent_ns) / max(f.due_ns - f.sent_ns, 1)
        dx, dy = x2 - x1, y2 - y1
        length = math.hypot(dx, dy) or 1.0
        # Start and end at the circles' edges; shift sideways so A->B and B->A do not overlap.
        t = (NODE_R + frac * (length - 2 * NODE_R)) / length
        x, y = x1 + dx * t - dy / length * 4, y1 + dy * t + dx / length * 4
        color = _msg_color(f.type)
        if f.type.endswith("Resp"):
            # Answers are hollow and unlabelled, so that requests stay readable; a rejection
            # (a vote refused, a log that did not match) is drawn in red.
            edge = "#cf222e" if f.rejected else color
            out.append(
                f'<circle cx="{_f(x)}" cy="{_f(y)}" r="3.5" fill="#ffffff" stroke="{edge}" '
                f'stroke-width="1.5"><title>{html.escape(f"{f.src} → {f.dst} {f.type}")}'
                "</title></circle>"
            )
            continue
        out.append(
            f'<circle cx="{_f(x)}" cy="{_f(y)}" r="4.5" fill="{color}">'
            f"<title>{html.escape(f'{f.src} → {f.dst} {f.type}')}</title></circle>"
        )
        out.append(
            f'<text x="{_f(x + 6)}" y="{_f(y - 5)}" font-size="9" fill="{color}">'
            f"{html.escape(f.label)}</text>"
        )
    out += _draw_logs(members, cols)
    legend = (
        "ring: election timer · dot: request (label: type, +n entries) · hollow: answer "
        "(red: rejected) · no line: partitioned"
    )
    out.append(f'<text x="8" y="{height - 8}" font-size="9" fill="#57606a">{legend}</text>')
    out.append("</svg>")
    return "\n".join(out)


def _draw_member(m: MemberView, x: float, y: float) -> list[str]:
    fill, stroke = ROLE_FILL[m.role], ROLE_STROKE[m.role]
    dash = ' stroke-dasharray="4 3"' if m.role == "down" else ""
    out = [
        f'<circle cx="{_f(x)}" cy="{_f(y)}" r="{NODE_R}" fill="{fill}" stroke="{stroke}" '
        f'stroke-width="2"{dash}/>'
    ]
    if m.role in ("follower", "pre-candidate", "candidate") and m.timer > 0:
        # The election timer as an arc around the circle, clockwise from the top.
        r = NODE_R + 5
        end = -math.pi / 2 + 2 * math.pi * min(m.timer, 0.999)
        ex, ey = x + r * math.cos(end), y + r * math.sin(end)
        large = 1 if m.timer > 0.5 else 0
        out.append(
            f'<path d="M {_f(x)} {_f(y - r)} A {r} {r} 0 {large} 1 {_f(ex)} {_f(ey)}" '
            f'fill="none" stroke="{stroke}" stroke-width="2"/>'
        )
    term = "–" if m.role == "down" else str(m.term)
    out += [
        f'<text x="{_f(x)}" y="{_f(y + 2)}" text-anchor="middle" font-size="16" '
        f'font-weight="bold" fill="{stroke}">{term}</text>',
        f'<text x="{_f(x)}" y="{_f(y + 15)}" text-anchor="middle" font-size="8" '
        f'fill="{stroke}">term</text>',
        f'<text x="{_f(x)}" y="{_f(y - NODE_R - 9)}" text-anchor="middle" '
        f'font-weight="bold">{html.escape(m.name)}</text>',
        f'<text x="{_f(x)}" y="{_f(y + NODE_R + 16)}" text-anchor="middle" '
        f'fill="{stroke}">{m.role}</text>',
    ]
    return out


def _draw_logs(members: list[MemberView], cols: int) -> list[str]:
    last = max((m.last_index for m in members), default=0)
    lo = max(1, last - cols + 1)
    x0, y0 = LOG_X + 60, 48
    out = [
        f'<text x="{LOG_X}" y="22" font-weight="bold">log (entry term; solid = committed)</text>',
        f'<text x="{LOG_X}" y="{y0 - 8}" fill="#57606a">index</text>',
    ]
    for k in range(cols):
        out.append(
            f'<text x="{x0 + k * CELL + CELL / 2:.1f}" y="{y0 - 8}" text-anchor="middle" '
            f'fill="#57606a">{lo + k}</text>'
        )
    for r, m in enumerate(members):
        y = y0 + r * ROW
        color = ROLE_STROKE[m.role]
        out.append(
            f'<text x="{LOG_X}" y="{y + 19}" fill="{color}" font-weight="bold">'
            f"{html.escape(m.name)}</text>"
        )
        terms = dict(m.log)
        for k in range(cols):
            index = lo + k
            x = x0 + k * CELL
            box = f'x="{x + 1}" y="{y + 2}" width="{CELL - 2}" height="{ROW - 6}" rx="3"'
            if index < m.first_index:
                out.append(f'<rect {box} fill="#f6f8fa" stroke="#d0d7de"/>')
                out.append(
                    f'<text x="{x + CELL / 2:.1f}" y="{y + 19}" text-anchor="middle" '
                    'font-size="8" fill="#8c959f">snap</text>'
                )
                continue
            term = terms.get(index)
            if term is None:
                out.append(f'<rect {box} fill="none" stroke="#eaeef2"/>')
                continue
            committed = index <= m.commit
            fill = _term_color(term) if committed else "#ffffff"
            dash = "" if committed else ' stroke-dasharray="3 2"'
            out.append(f'<rect {box} fill="{fill}" stroke="#57606a"{dash}/>')
            out.append(
                f'<text x="{x + CELL / 2:.1f}" y="{y + 19}" text-anchor="middle">{term}</text>'
            )
        if lo <= m.commit:
            cx = x0 + (min(m.commit, lo + cols - 1) - lo + 1) * CELL
            out.append(
                f'<line x1="{cx}" y1="{y}" x2="{cx}" y2="{y + ROW - 2}" stroke="#1a7f37" '
                'stroke-width="2.5"><title>commit index</title></line>'
            )
    return out


# -- roles and terms over time ----------------------------------------------------------------

ROLE_EVENTS = {
    "became-follower": "follower",
    "became-pre-candidate": "pre-candidate",
    "became-candidate": "candidate",
    "became-leader": "leader",
    "crashed": "down",
}


@dataclass(frozen=True)
class RoleSpan:
    """A member held `role` at `term` from `start` to `end` (seconds)."""

    member: str
    role: str
    term: int
    start: float
    end: float


def role_spans(trace: Trace, members: Iterable[str], until: float) -> list[RoleSpan]:
    """Each member's roles over time, read from the trace's became-* and crash events."""
    names = list(members)
    current: dict[str, tuple[str, int, float]] = {m: ("follower", 0, 0.0) for m in names}
    spans: list[RoleSpan] = []
    for ev in trace.events:
        if ev.component not in current or ev.event not in ROLE_EVENTS:
            continue
        role, term, start = current[ev.component]
        new_role = ROLE_EVENTS[ev.event]
        new_term = ev.fields.get("term", term)
        if (role, term) == (new_role, new_term):
            continue
        if ev.t > start:
            spans.append(RoleSpan(ev.component, role, term, start, ev.t))
        current[ev.component] = (new_role, new_term, ev.t)
    for m in names:
        role, term, start = current[m]
        if until > start:
            spans.append(RoleSpan(m, role, term, start, until))
    return spans


def _partition_spans(trace: Trace, until: float) -> list[tuple[str, float, float]]:
    spans, start, sides = [], None, ""
    for ev in trace.events:
        if ev.component != "network" or ev.event not in ("partition", "heal"):
            continue
        if start is not None:
            spans.append((sides, start, ev.t))
        start, sides = (ev.t, ev.fields.get("sides", "")) if ev.event == "partition" else (None, "")
    if start is not None:
        spans.append((sides, start, until))
    return spans


def role_timeline(
    group: RaftGroup, *, until: float | None = None, title: str = "", size=(7.5, 3.6)
) -> SVG:
    """Roles (bars) and terms (lines) of every member over the run so far, as byte-stable SVG.

    Shaded: while a partition was in force; a white bar is a member that is down.
    """
    g = _Group(group)
    end = g.now if until is None else until
    names = [m.name for m in g.members()]
    spans = role_spans(g.trace, names, end)
    fig = Figure(figsize=size, layout="constrained")
    roles_ax, terms_ax = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    for _, start, stop in _partition_spans(g.trace, end):
        for ax in (roles_ax, terms_ax):
            ax.axvspan(start, stop, color="#d0d7de", alpha=0.45, linewidth=0)
    row = {name: len(names) - 1 - i for i, name in enumerate(names)}
    for s in spans:
        roles_ax.broken_barh(
            [(s.start, s.end - s.start)],
            (row[s.member] - 0.35, 0.7),
            facecolors=ROLE_FILL[s.role],
            edgecolors=ROLE_STROKE[s.role],
            linewidth=0.8,
        )
        if s.role == "leader":
            roles_ax.text(
                (s.start + s.end) / 2, row[s.member], f"term {s.term}", ha="center",
                va="center", fontsize=7, color=ROLE_STROKE["leader"],
            )  # fmt: skip
    roles_ax.set_yticks(list(row.values()), list(row))
    roles_ax.set_ylim(-0.6, len(names) - 0.4)
    handles = [
        Patch(facecolor=ROLE_FILL[role], edgecolor=ROLE_STROKE[role], label=role)
        for role in ("follower", "pre-candidate", "candidate", "leader", "down")
    ]
    roles_ax.legend(
        handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8
    )
    if title:
        roles_ax.set_title(title, loc="left", fontsize=11)
    top = 1
    for i, name in enumerate(names):
        mine = [s for s in spans if s.member == name and s.role != "down"]
        if not mine:
            continue
        xs = [s.start for s in mine] + [mine[-1].end]
        # A small offset per member, so that members sharing a term stay visible side by side.
        lift = (i - (len(names) - 1) / 2) * 0.07
        ys = [s.term + lift for s in mine] + [mine[-1].term + lift]
        top = max(top, *ys)
        terms_ax.step(
            xs, ys, where="post", linewidth=1.4, label=name, color=COLORS[i % len(COLORS)]
        )
    terms_ax.set_ylabel("term")
    terms_ax.set_ylim(0, top + 1)
    terms_ax.set_xlim(0, end)
    terms_ax.set_xlabel("simulated time (seconds)")
    terms_ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8)
    for ax in (roles_ax, terms_ax):
        ax.spines[["top", "right"]].set_visible(False)
    return to_svg(fig, title or "roles and terms")


__all__ = [
    "Flight",
    "MemberView",
    "RaftGroup",
    "RaftScope",
    "RoleSpan",
    "StaticView",
    "member_view",
    "raftscope",
    "role_spans",
    "role_timeline",
]
