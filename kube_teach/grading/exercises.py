"""Every exercise of the course, registered by id (`<chapter>-<name>`).

A grader returns None when the answer is right, or one sentence saying what to look at next. It
calls the learner's function through `_call`, so a crash names the inputs that caused it, and lets
NotImplementedError through, so `check` can say "not yet" with the exercise's hint.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..api.errors import StatusError
from ..api.objects import ManifestError, load
from ..scenarios import declarative as dc
from .check import register


class _Failed(Exception):
    """The learner's function raised: the message says with which inputs."""


def _call(fn: Callable[..., Any], label: str, *args: Any) -> Any:
    try:
        return fn(*args)
    except NotImplementedError:
        raise
    except Exception as err:
        raise _Failed(f"{label} raised {type(err).__name__}: {err}") from err


def _graded(grade: Callable[[Any], str | None]) -> Callable[[Any], str | None]:
    def run(answer: Any) -> str | None:
        try:
            return grade(answer)
        except _Failed as failed:
            return str(failed)

    run.__doc__ = grade.__doc__
    return run


# -- chapter 00 ---------------------------------------------------------------------------------
@register(
    "00-first-deployment",
    hint="write the YAML of a Deployment named hello: 2 replicas of nginx:1.27, pods labelled "
    "app: hello.",
)
@_graded
def first_deployment(answer: Any) -> str | None:
    """A manifest (YAML text or dict) the API server accepts: Deployment `hello`, 2 replicas of
    `nginx:1.27`, pods labelled `app: hello`."""
    from ..cluster import ClientError, Cluster

    try:
        objs = load(answer)
    except ManifestError as err:
        return f"kubectl cannot read it: {err}"
    if len(objs) != 1:
        return f"expected one object, found {len(objs)}."
    obj = objs[0]
    if obj.kind != "Deployment":
        return f"that is a {obj.kind or 'manifest without a kind'}; the exercise asks for a Deployment."
    if obj.api_version != "apps/v1":
        return f"Deployments are served as apiVersion apps/v1, not {obj.api_version or 'nothing'}."
    cluster = Cluster(nodes=0, seed=0)
    try:
        cluster.apply(obj)
    except StatusError as err:
        return f"the API server rejected it: {err.kubectl()}"
    except ClientError as err:
        return f"kubectl rejected it: {err}"
    if obj.name != "hello":
        return f"the Deployment is called {obj.name!r}; name it 'hello' (metadata.name)."
    stored = cluster.get("deployment", "hello")
    spec = stored.get("spec") or {}
    if spec.get("replicas") != 2:
        return f"spec.replicas is {spec.get('replicas')!r}; the exercise asks for 2."
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    if labels.get("app") != "hello":
        return "label the pods app: hello (spec.template.metadata.labels)."
    images = [c.get("image") for c in (template.get("spec") or {}).get("containers") or []]
    if images != ["nginx:1.27"]:
        return f"the pods run {images}; the exercise asks for one container running nginx:1.27."
    return None


# -- chapter 01 ---------------------------------------------------------------------------------
def _need(desired: int, running: list[str]) -> str:
    """What a correct answer must do, in words."""
    n = len(running)
    if n < desired:
        missing = desired - n
        return f"{missing} cop{'y is' if missing == 1 else 'ies are'} missing"
    if n > desired:
        extra = n - desired
        return f"{extra} cop{'y is' if extra == 1 else 'ies are'} too many"
    return "nothing needs doing"


def _wrong(desired: int, running: list[str], actions: Any) -> str | None:
    """Why `actions` is not what a reconcile must decide for (desired, running); None if right."""
    if not isinstance(actions, dc.Actions):
        return f"returned {actions!r}; return an Actions(create=..., delete=[...])"
    unknown = [name for name in actions.delete if name not in running]
    if unknown:
        return f"asks to stop {unknown[0]!r}, which is not in running"
    if len(set(actions.delete)) != len(actions.delete):
        return "names the same copy twice in delete"
    want_create = max(0, desired - len(running))
    want_delete = max(0, len(running) - desired)
    if actions.create != want_create or len(actions.delete) != want_delete:
        return f"returned {actions!r}, but {_need(desired, running)}"
    return None


_STATES = [
    (3, []),
    (3, ["app-1"]),
    (3, ["app-1", "app-3"]),
    (3, ["app-1", "app-2", "app-3"]),
    (1, ["app-1", "app-2", "app-3"]),
    (5, ["app-2", "app-9"]),
    (0, ["app-4", "app-7"]),
    (0, []),
]


@register(
    "01-reconcile",
    hint="replace `raise NotImplementedError` in reconcile: compare len(running) with desired, "
    "then return Actions(create=...) or Actions(delete=[...]).",
)
@_graded
def reconcile_exercise(reconcile: Any) -> str | None:
    """`reconcile(desired, running) -> Actions`: pure, and right for every state; plugged into a
    Controller in a world where machines fail, it keeps `desired` copies and never more."""
    if not callable(reconcile):
        return f"pass the function itself: check('01-reconcile', reconcile), not {reconcile!r}."
    for desired, running in _STATES:
        given = list(running)
        label = f"reconcile({desired}, {running})"
        actions = _call(reconcile, label, desired, given)
        if given != running:
            return f"{label} changed running to {given}: a reconcile only reads what it is given."
        problem = _wrong(desired, running, actions)
        if problem:
            return f"{label} {problem}."
    for seed in (0, 1):
        world = dc.World(seed=seed)
        controller = dc.Controller(world, reconcile)
        world.run("30m")
        if controller.errors:
            return f"in a world with failing machines (seed={seed}) reconcile raised {controller.errors[0]}."
        rep = dc.report(world, "yours")
        if rep.final != dc.DESIRED or rep.highest > dc.DESIRED:
            return f"plugged into a controller (seed={seed}): {rep.text()}."
    return None


_EVENTS = [
    dc.WatchEvent("ADDED", "Container", "app-1"),
    dc.WatchEvent("ADDED", "Deployment", "app"),
    dc.WatchEvent("DELETED", "Container", "app-2"),
    dc.WatchEvent("MODIFIED", "Deployment", "app"),
]
_LEVEL_STATES = [
    (3, ["app-1", "app-3"]),  # app-2 died while the controller was down: its DELETED was lost
    (3, ["app-1", "app-2", "app-3"]),
    (3, ["app-1", "app-3", "app-4", "app-5", "app-6"]),
    (3, []),
]


@register(
    "01-level",
    hint="replace `raise NotImplementedError` in on_event: decide from desired and running, "
    "whatever the event was.",
)
@_graded
def level_exercise(on_event: Any) -> str | None:
    """`on_event(event, desired, running) -> Actions`: the same right answer for a state whatever
    the event, so it survives events that were missed or repeated; in `missed_events` it ends at
    `desired` copies and never runs more."""
    if not callable(on_event):
        return f"pass the function itself: check('01-level', on_event), not {on_event!r}."
    for desired, running in _LEVEL_STATES:
        for event in _EVENTS:
            label = f"on_event({event}, {desired}, {running})"
            given = list(running)
            actions = _call(on_event, label, event, desired, given)
            if given != running:
                return f"{label} changed running to {given}: only read what you are given."
            problem = _wrong(desired, running, actions)
            if problem:
                return (
                    f"{label} {problem}, whatever the event says. Events get lost (this one "
                    "came from a re-list after a restart) and repeated: look at running."
                )
    for outage in (True, False):
        world = dc.missed_events(on_event, controller_outage=outage)
        controller = next(a for a in world.agents if isinstance(a, dc.EventController))
        if controller.errors:
            return f"in missed_events() on_event raised {controller.errors[0]}."
        rep = dc.report(world, "yours")
        if rep.final != dc.DESIRED or rep.highest > dc.DESIRED:
            return f"in missed_events(controller_outage={outage}): {rep.text()}."
    return None


def register_chapters() -> None:
    """Import every `exercises_<topic>` module beside this one: each registers its chapter.
    Called by `check` (not at import time, so that one chapter's module may build on
    another's)."""
    import importlib
    import pkgutil

    from . import __path__ as here

    for module in sorted(m.name for m in pkgutil.iter_modules(here)):
        if module.startswith("exercises_"):
            importlib.import_module(f"{__package__}.{module}")
