"""Imperative scripts against a declarative controller: the seed's opening story as a small world.

Semantics: the article's "Mental Shift: From Imperative to Declarative" (ssh into each machine and
`docker run -d app:v1`, once) and its generic reconcile loop under "Controller Manager" (list what
is, compare with what is wanted, act, sleep, repeat), with the ReplicaSet logic it sketches. Watch
events follow client-go's informers: a (re)start lists everything as ADDED events, and events sent
while the controller is down are lost.
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from ..sim import Clock, Metrics, Network, Seeds, Trace, format_duration, to_ns
from ..sim.duration import SECOND

DESIRED = 3
IMAGE = "app:v1"
SYNC_PERIOD = "10s"
REPLICAS = "replicas_running"  # the metric every world records: copies running, over time


# -- what the learner's functions take and return ------------------------------------------------
@dataclass(frozen=True)
class Actions:
    """What one reconcile decided: start `create` more copies, stop the copies named in `delete`.

    `create` is a count (the controller picks the machine); `delete` names copies from `running`.
    """

    create: int = 0
    delete: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.create, bool) or not isinstance(self.create, int):
            raise TypeError(f"Actions.create is a number of copies, got {self.create!r}")
        if self.create < 0:
            raise ValueError(
                f"Actions.create must be >= 0, got {self.create}: to have fewer copies, "
                "name the ones to stop in Actions.delete"
            )
        if isinstance(self.delete, str):
            raise TypeError(f"Actions.delete is a list of names, got the string {self.delete!r}")
        object.__setattr__(self, "delete", tuple(self.delete))


@dataclass(frozen=True)
class WatchEvent:
    """One change, as a watch reports it: `type` ADDED, MODIFIED or DELETED; `kind` Deployment
    (the desired state) or Container (one running copy); `name` the object's name."""

    type: str
    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.type} {self.kind} {self.name}"


Reconcile = Callable[[int, list[str]], Actions]
Handler = Callable[[WatchEvent, int, list[str]], Actions]


def replicaset_reconcile(desired: int, running: list[str]) -> Actions:
    """The seed's `replicaset_reconcile`: start the missing copies, or stop the extra ones.

    `running` is oldest first; the newest copies go first, as upstream prefers deleting newer pods
    when nothing else tells them apart. Pure: reads its arguments, changes nothing.
    """
    if len(running) < desired:
        return Actions(create=desired - len(running))
    if len(running) > desired:
        return Actions(delete=running[desired:])
    return Actions()


def edge_triggered(event: WatchEvent, desired: int, running: list[str]) -> Actions:
    """React to what happened rather than to what is: the natural first try, and wrong.

    A new Deployment starts `desired` copies; a copy that died is replaced by one. It never looks
    at `running`, so an event it did not receive is a change it never makes, and an event it
    receives twice (a re-list after a restart) is work it does twice.
    """
    if event.kind == "Deployment" and event.type == "ADDED":
        return Actions(create=desired)
    if event.kind == "Container" and event.type == "DELETED":
        return Actions(create=1)
    return Actions()


# -- the world: machines that run copies of the app ---------------------------------------------
class Outage(NamedTuple):
    """A host was down from `start` to `end` (seconds); `end` is None while it still is."""

    host: str
    start: float
    end: float | None


class Machine:
    """One machine. A crash loses its copies: nothing restarts a bare `docker run -d` container."""

    def __init__(self, world: World, name: str) -> None:
        self.world = world
        self.name = name
        self.host = world.network.add_host(name)
        self.containers: list[str] = []
        self.host.on_crash.append(self._crashed)

    @property
    def up(self) -> bool:
        return self.host.up

    def _crashed(self) -> None:
        lost, self.containers = self.containers, []
        for name in lost:
            self.world._stopped(name, reason="machine-crashed")

    def __repr__(self) -> str:
        return f"<Machine {self.name} {'up' if self.up else 'down'} {self.containers}>"


class World:
    """`machines` machines on one simulated clock, crashing and coming back on a seeded schedule.

    Each machine stays up for an exponentially distributed time (mean `mtbf`), then stays down for
    a time drawn uniformly from `repair`, from its own random stream: two worlds with the same seed
    fail the same way, whatever runs on them. `faults=False` keeps every machine up (use
    `outage()` to script failures). Commands are instant; the network only decides who answers.
    `metrics` gets `replicas_running` and `machines_up` at every change; `outages` lists downtime.
    """

    def __init__(
        self,
        machines: int = 4,
        seed: int | str = 0,
        *,
        mtbf: float | str = "15m",
        repair: tuple[float | str, float | str] = ("1m", "4m"),
        faults: bool = True,
    ) -> None:
        self.seed = seed
        self.clock = Clock()
        self.seeds = Seeds(seed)
        self.trace = Trace(self.clock)
        self.metrics = Metrics(self.clock)
        self.network = Network(self.clock, self.seeds, self.trace)
        self.machines = {f"node{i}": Machine(self, f"node{i}") for i in range(1, machines + 1)}
        self.agents: list[Script | Controller | EventController] = []
        self.outages: list[Outage] = []
        self.events_sent = 0
        self._where: dict[str, str] = {}  # copy -> machine, oldest first
        self._numbers = itertools.count(1)
        self._watchers: list[str] = []
        self._mtbf_ns = to_ns(mtbf)
        self._repair_ns = (to_ns(repair[0]), to_ns(repair[1]))
        self._record()
        if faults:
            for name in self.machines:
                self._schedule_crash(name)

    # -- time ----------------------------------------------------------------------------------
    @property
    def now(self) -> float:
        """Simulated seconds since the world started."""
        return self.clock.now

    def run(self, seconds: float | str) -> World:
        """Let `seconds` of simulated time pass (`30`, `"1m30s"`)."""
        self.clock.run(seconds)
        return self

    def run_until(self, predicate: Callable[[], bool], timeout: float | str = "10m") -> bool:
        """Run until `predicate()` holds; SimulationError when `timeout` passes first."""
        return self.clock.run_until(predicate, timeout=timeout)

    # -- what runs where -----------------------------------------------------------------------
    def running(self) -> list[str]:
        """Every copy that runs now, oldest first: the truth, whoever can see it."""
        return list(self._where)

    def docker_ps(self, *, by: str) -> list[str]:
        """The copies `by` can see: those on machines that are up and answer it, oldest first."""
        return [c for c, m in self._where.items() if self._answers(m, by)]

    def place(self, *, by: str) -> str | None:
        """The machine for a new copy: the one with the fewest copies among those that answer
        `by`, first by name on a tie (a stand-in for the scheduler of chapter 04)."""
        candidates = [m for m in self.machines.values() if self._answers(m.name, by)]
        if not candidates:
            return None
        return min(candidates, key=lambda m: len(m.containers)).name

    def docker_run(self, machine: str, image: str = IMAGE, *, by: str) -> str | None:
        """`ssh <machine> "docker run -d <image>"` from `by`: the new copy's name, or None when
        the machine does not answer."""
        if not self._answers(machine, by):
            error = f"ssh: connect to host {machine} port 22: No route to host"
            self.trace.emit(by, "ssh-failed", host=machine, error=error)
            return None
        name = f"app-{next(self._numbers)}"
        self.machines[machine].containers.append(name)
        self._where[name] = machine
        self.trace.emit(by, "docker-run", host=machine, image=image, container=name)
        self._changed("ADDED", name)
        return name

    def docker_stop(self, name: str, *, by: str) -> bool:
        """`ssh <machine> "docker stop <name>"` from `by`; False when there is no such copy."""
        machine = self._where.get(name)
        if machine is None or not self._answers(machine, by):
            self.trace.emit(by, "stop-failed", container=name)
            return False
        self.machines[machine].containers.remove(name)
        self.trace.emit(by, "docker-stop", host=machine, container=name)
        self._stopped(name, reason="stopped")
        return True

    def act(self, actions: Actions, *, by: str) -> None:
        """Carry out a reconcile's decision: stop the named copies, start the missing ones."""
        for name in actions.delete:
            self.docker_stop(name, by=by)
        for _ in range(actions.create):
            machine = self.place(by=by)
            if machine is None:
                self.trace.emit(by, "no-machine", reason="no machine answers")
                return
            self.docker_run(machine, by=by)

    # -- faults --------------------------------------------------------------------------------
    def outage(self, host: str, at: float | str, duration: float | str) -> None:
        """Script a failure: `host` (a machine or a controller) goes down at `at` for `duration`."""
        start = to_ns(at)
        self.clock.call_at(start, lambda: self._crash(host))
        self.clock.call_at(start + to_ns(duration), lambda: self._restart(host))

    def _crash(self, host: str) -> None:
        if self.network.hosts[host].up:
            self.network.crash(host)
            self.outages.append(Outage(host, self.now, None))
            self._record()

    def _restart(self, host: str) -> None:
        if not self.network.hosts[host].up:
            self.network.restart(host)
            for i in range(len(self.outages) - 1, -1, -1):
                if self.outages[i].host == host and self.outages[i].end is None:
                    self.outages[i] = self.outages[i]._replace(end=self.now)
                    break
            self._record()

    def _schedule_crash(self, machine: str) -> None:
        rng = self.seeds.stream(f"faults/{machine}")
        up_for = max(1, round(rng.expovariate(SECOND / self._mtbf_ns))) * SECOND  # whole seconds
        self.clock.call_at(self.clock.now_ns + up_for, lambda: self._random_crash(machine))

    def _random_crash(self, machine: str) -> None:
        rng = self.seeds.stream(f"faults/{machine}")
        down_for = rng.randint(*self._repair_ns) // SECOND * SECOND
        self._crash(machine)
        self.clock.call_at(self.clock.now_ns + down_for, lambda: self._random_restart(machine))

    def _random_restart(self, machine: str) -> None:
        self._restart(machine)
        self._schedule_crash(machine)

    # -- watch ---------------------------------------------------------------------------------
    def watch(self, host: str) -> None:
        """Send `host` a WatchEvent for every copy that starts or stops from now on.

        Events come from the registry (the toy's record of what runs where, standing in for the
        API server), so a copy lost with its machine is reported too. They travel over the
        network: a host that is down when one arrives never gets it.
        """
        self._watchers.append(host)

    def _changed(self, type_: str, name: str) -> None:
        self._record()
        for host in self._watchers:
            self.events_sent += 1
            self.network.send("registry", host, WatchEvent(type_, "Container", name))

    def _stopped(self, name: str, *, reason: str) -> None:
        machine = self._where.pop(name)
        self.trace.emit(machine, "container-gone", container=name, reason=reason)
        self._changed("DELETED", name)

    def _answers(self, machine: str, by: str) -> bool:
        m = self.machines.get(machine)
        return m is not None and m.up and self.network.reachable(by, machine)

    def _record(self) -> None:
        self.metrics.set(REPLICAS, len(self._where))
        self.metrics.set("machines_up", sum(m.up for m in self.machines.values()))

    # -- rendering -----------------------------------------------------------------------------
    def summary(self) -> str:
        up = sum(m.up for m in self.machines.values())
        return (
            f"t={format_duration(self.clock.now_ns)}: {len(self._where)} copies running, "
            f"{up}/{len(self.machines)} machines up"
        )

    def __repr__(self) -> str:
        return f"<World {self.summary()}>"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(self.text())

    def text(self, trace_lines: int = 5) -> str:
        """The world as plain text: the summary, each machine, the agents, the last trace lines."""
        lines = [self.summary()]
        for m in self.machines.values():
            state = "up  " if m.up else "DOWN"
            lines.append(f"  {m.name} {state} {' '.join(m.containers) or '-'}")
        lines += [f"  {a.status()}" for a in self.agents]
        if trace_lines and self.trace.events:
            lines.append("recent:")
            lines += ["  " + ln for ln in self.trace.tail(trace_lines).splitlines()]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return self.html()

    def html(self, trace_lines: int = 5) -> str:
        """The world as an HTML fragment (deterministic: the same state gives the same bytes)."""
        esc = html.escape
        rows = "".join(
            f"<tr><td>{esc(m.name)}</td>"
            f"<td style='color:{'#1a7f37' if m.up else '#cf222e'}'>{'up' if m.up else 'DOWN'}</td>"
            f"<td>{esc(' '.join(m.containers) or '-')}</td></tr>"
            for m in self.machines.values()
        )
        agents = "".join(f"<li>{esc(a.status())}</li>" for a in self.agents)
        out = [
            f"<p><strong>{esc(self.summary())}</strong></p>",
            "<table><thead><tr><th style='text-align:left'>machine</th>"
            "<th style='text-align:left'>state</th><th style='text-align:left'>copies</th>"
            f"</tr></thead><tbody>{rows}</tbody></table>",
        ]
        if agents:
            out.append(f"<ul>{agents}</ul>")
        if trace_lines and self.trace.events:
            out.append(f"<pre>{esc(self.trace.tail(trace_lines))}</pre>")
        return "<div class='kube-teach-world'>" + "".join(out) + "</div>"


# -- who makes things happen ---------------------------------------------------------------------
class Script:
    """The imperative side: an operator's laptop runs `ssh <machine> "docker run -d <image>"`
    once per machine, at time `at`, and never looks again."""

    def __init__(
        self,
        world: World,
        machines: Iterable[str] = ("node1", "node2", "node3"),
        *,
        image: str = IMAGE,
        at: float | str = 0,
        name: str = "laptop",
    ) -> None:
        self.world = world
        self.name = name
        self.image = image
        self.machines = list(machines)
        self.transcript: list[str] = []
        world.network.add_host(name)
        world.agents.append(self)
        world.clock.call_at(to_ns(at), self._run)

    def _run(self) -> None:
        for machine in self.machines:
            self.transcript.append(f'$ ssh {machine} "docker run -d {self.image}"')
            container = self.world.docker_run(machine, self.image, by=self.name)
            self.transcript.append(
                container or f"ssh: connect to host {machine} port 22: No route to host"
            )

    def status(self) -> str:
        ran = len(self.transcript) // 2
        return f"{self.name}: imperative script, ran {ran} of {len(self.machines)} commands, once"


class Controller:
    """The declarative side: every `sync_period` it lists what runs (watch), asks `reconcile`
    what to do (compare) and does it (act), forever. It keeps `desired` copies in mind, not a
    list of steps.

    A reconcile that raises does not stop the loop: the error is traced (`reconciler-error`) and
    kept in `errors`, and the next period tries again, as controller-runtime requeues a failed
    request. A crash stops the loop; a restart starts it again.
    """

    def __init__(
        self,
        world: World,
        reconcile: Reconcile = replicaset_reconcile,
        *,
        desired: int = DESIRED,
        sync_period: float | str = SYNC_PERIOD,
        name: str = "controller",
    ) -> None:
        self.world = world
        self.reconcile = reconcile
        self.desired = desired
        self.sync_period = sync_period
        self.name = name
        self.syncs = 0
        self.errors: list[str] = []
        self.host = world.network.add_host(name)
        self.host.on_restart.append(self._start)
        world.agents.append(self)
        self._start()

    def _start(self) -> None:
        self.host.every(self.sync_period, self.sync, start=True)

    def sync(self) -> None:
        """One pass of watch -> compare -> act."""
        self.syncs += 1
        running = self.world.docker_ps(by=self.name)
        try:
            actions = _as_actions(self.reconcile(self.desired, list(running)))
        except Exception as err:  # a failed reconcile is retried, never fatal
            self.errors.append(f"{type(err).__name__}: {err}".rstrip(": "))
            self.world.trace.emit(self.name, "reconciler-error", error=self.errors[-1])
            return
        self.world.act(actions, by=self.name)

    def status(self) -> str:
        every = format_duration(to_ns(self.sync_period))
        state = "" if self.host.up else " (DOWN)"
        errors = f", {len(self.errors)} errors" if self.errors else ""
        return (
            f"{self.name}{state}: declarative, desired {self.desired}, "
            f"syncs every {every}, {self.syncs} syncs{errors}"
        )


class EventController:
    """A controller driven only by watch events: `handler(event, desired, running)` runs for each
    event it receives. On (re)start it lists the world, as an informer does: one `ADDED
    Deployment app` event, then one `ADDED Container <name>` per copy it sees. Events sent while
    it is down are lost. Errors are traced and kept, as in Controller.
    """

    def __init__(
        self,
        world: World,
        handler: Handler = edge_triggered,
        *,
        desired: int = DESIRED,
        name: str = "controller",
    ) -> None:
        self.world = world
        self.handler = handler
        self.desired = desired
        self.name = name
        self.handled = 0
        self.lists = 0
        self.errors: list[str] = []
        self.host = world.network.add_host(name, receive=self._receive)
        self.host.on_restart.append(self._start)
        world.watch(name)
        world.agents.append(self)
        self._start()

    def _start(self) -> None:
        self.host.call_later(0, self._list)

    def _list(self) -> None:
        self.lists += 1
        listed = self.world.docker_ps(by=self.name)
        self._handle(WatchEvent("ADDED", "Deployment", "app"))
        for name in listed:
            self._handle(WatchEvent("ADDED", "Container", name))

    def _receive(self, src: str, event: WatchEvent) -> None:
        self._handle(event)

    def _handle(self, event: WatchEvent) -> None:
        self.handled += 1
        running = self.world.docker_ps(by=self.name)
        try:
            actions = _as_actions(self.handler(event, self.desired, list(running)))
        except Exception as err:
            self.errors.append(f"{type(err).__name__}: {err}".rstrip(": "))
            self.world.trace.emit(self.name, "reconciler-error", error=self.errors[-1])
            return
        if actions.create or actions.delete:
            self.world.trace.emit(self.name, "handled", watch=str(event))
        self.world.act(actions, by=self.name)

    def status(self) -> str:
        state = "" if self.host.up else " (DOWN)"
        return (
            f"{self.name}{state}: event-driven, desired {self.desired}, "
            f"{self.handled} events handled, {self.lists} lists"
        )


def _as_actions(value: Any) -> Actions:
    if not isinstance(value, Actions):
        raise TypeError(f"expected Actions(create=..., delete=[...]), got {value!r}")
    return value


# -- the chapter's experiments ------------------------------------------------------------------
def imperative_vs_declarative(
    seed: int | str = 0,
    duration: float | str = "30m",
    *,
    reconcile: Reconcile = replicaset_reconcile,
    desired: int = DESIRED,
) -> tuple[World, World]:
    """Two worlds with the same machines failing at the same times: one gets the seed's script
    (three `docker run`s, once), the other a controller running `reconcile`. Both are run for
    `duration` and returned (imperative first)."""
    imperative, declarative = World(seed=seed), World(seed=seed)
    Script(imperative, [f"node{i}" for i in range(1, desired + 1)])
    Controller(declarative, reconcile, desired=desired)
    return imperative.run(duration), declarative.run(duration)


def missed_events(
    handler: Handler = edge_triggered,
    *,
    seed: int | str = 0,
    duration: float | str = "15m",
    desired: int = DESIRED,
    controller_outage: bool = True,
) -> World:
    """An event-driven controller running `handler`; node2 (and the copy on it) is lost at 6m.

    With `controller_outage` the controller is down from 5m to 8m, so the DELETED event for that
    copy reaches nobody, and on restart it re-lists. Random faults are off: only this happens.
    """
    world = World(seed=seed, faults=False)
    EventController(world, handler, desired=desired)
    if controller_outage:
        world.outage("controller", "5m", "3m")
    world.outage("node2", "6m", "4m")
    return world.run(duration)


@dataclass(frozen=True)
class Report:
    """How well a world kept `desired` copies: at the end, at worst, and for how long it fell short.

    Times are integer nanoseconds of simulated time; `text()` prints them as Go durations.
    """

    label: str
    desired: int
    final: int
    lowest: int
    highest: int
    short_ns: int
    duration_ns: int

    def text(self) -> str:
        share = 100 * self.short_ns / self.duration_ns if self.duration_ns else 0
        return (
            f"{self.label}: {self.final}/{self.desired} copies at the end; "
            f"lowest {self.lowest}, highest {self.highest}; "
            f"short of {self.desired} for {format_duration(self.short_ns)} "
            f"of {format_duration(self.duration_ns)} ({share:.0f}%)"
        )

    __str__ = text

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(self.text())


def report(world: World, label: str, desired: int = DESIRED) -> Report:
    """Measure `world`'s copies running, from the start until now, against `desired`.

    Lowest and highest count only values that held for some time (several changes at one instant,
    such as three `docker run`s at t=0, pass through values nobody could observe).
    """
    series = world.metrics.series(REPLICAS)
    end = world.clock.now_ns
    times = [round(t * SECOND) for t in series.times] + [end]
    held = [(v, times[i + 1] - times[i]) for i, v in enumerate(series.values)]
    seen = [int(v) for v, length in held if length > 0] + [int(series.values[-1])]
    return Report(
        label=label,
        desired=desired,
        final=int(series.values[-1]),
        lowest=min(seen),
        highest=max(seen),
        short_ns=sum(length for v, length in held if v < desired),
        duration_ns=end,
    )


__all__ = [
    "DESIRED",
    "REPLICAS",
    "Actions",
    "Controller",
    "EventController",
    "Machine",
    "Outage",
    "Report",
    "Script",
    "WatchEvent",
    "World",
    "edge_triggered",
    "imperative_vs_declarative",
    "missed_events",
    "replicaset_reconcile",
    "report",
]
