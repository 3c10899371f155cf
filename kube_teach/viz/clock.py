"""A clock widget: buttons that move simulated time forward, and a view of the world that follows.

It drives anything with `now`, `run(seconds)` and `run_until(predicate, timeout)`: a Cluster or a
scenario's World. Beside the live widget it displays a static HTML copy of the same view, which is
what nbval compares and what a reader without a running kernel sees.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from ..sim import format_duration, to_ns
from ..sim.clock import SimulationError
from ..sim.duration import DurationError


class Steppable(Protocol):
    """What the clock widget can drive."""

    @property
    def now(self) -> float: ...

    def run(self, seconds: float | str) -> Any: ...

    def run_until(self, predicate: Callable[[], bool], timeout: float | str = ...) -> bool: ...


def _default_html(target: Any) -> Callable[[], str]:
    render = getattr(target, "_repr_html_", None)
    if callable(render):
        return render
    return lambda: f"<pre>{html.escape(repr(target))}</pre>"


def _default_text(target: Any) -> Callable[[], str]:
    for name in ("text", "summary"):
        fn = getattr(target, name, None)
        if callable(fn):
            return fn
    return lambda: repr(target)


class ClockWidget:
    """Buttons `+1s`, `+10s`, `+1m` (or the `steps` given) and a run-until control over `target`.

    `view()` renders the target as HTML after each move (default: its `_repr_html_`); `text()`
    as plain text (default: its `text()` or `summary()`). `until` maps labels to conditions for
    the run-until menu; a time typed in the box (`5m`) runs until that simulated time instead. A condition
    not met within `timeout` leaves a message, never an exception. Every method works without a
    front end (under papermill or nbclient), and the buttons can be pressed from code with
    `press("+10s")`.
    """

    def __init__(
        self,
        target: Steppable,
        view: Callable[[], str] | None = None,
        *,
        text: Callable[[], str] | None = None,
        steps: Iterable[str] = ("1s", "10s", "1m"),
        until: Mapping[str, Callable[[], bool]] | None = None,
        timeout: float | str = "10m",
        title: str = "",
    ) -> None:
        self.target = target
        self.view = view or _default_html(target)
        self.text_view = text or _default_text(target)
        self.steps = [s if s.startswith("+") else f"+{s}" for s in steps]
        self.until = dict(until or {})
        self.timeout = timeout
        self.title = title
        self.message = ""
        self._widget: Any = None
        self._live: Any = None

    # -- moving time -----------------------------------------------------------------------------
    def advance(self, duration: float | str) -> None:
        """Run the target for `duration` (`"10s"`, `60`) and re-render."""
        self.target.run(duration)
        self.message = f"ran {format_duration(to_ns(duration))}"
        self._refresh()

    def press(self, step: str) -> None:
        """What a click on the button labelled `step` (`"+10s"`) does."""
        self.advance(step.lstrip("+"))

    def run_until(self, choice: str) -> bool:
        """Run until the condition labelled `choice` holds, or until the time `choice` (`"5m"`).

        Returns True when the condition was met; on a timeout, or a time already past, leaves a
        message and returns False.
        """
        try:
            if choice in self.until:
                met = self.target.run_until(self.until[choice], timeout=self.timeout)
                self.message = f"{choice}: met at t={self._now()}"
                return bool(met)
            goal = to_ns(choice.removeprefix("t=").strip())
            now = to_ns(self.target.now)
            if goal < now:
                self.message = f"t={format_duration(goal)} is already past"
                return False
            self.target.run((goal - now) / 1e9)
            self.message = f"reached t={self._now()}"
            return True
        except SimulationError:
            self.message = (
                f"{choice}: not met within {format_duration(to_ns(self.timeout))} "
                f"(now t={self._now()})"
            )
            return False
        except DurationError as err:
            self.message = str(err)
            return False
        finally:
            self._refresh()

    def _now(self) -> str:
        return format_duration(to_ns(self.target.now))

    # -- rendering -------------------------------------------------------------------------------
    def html(self) -> str:
        """The current view as an HTML fragment; the same state gives the same bytes."""
        head = f"<strong>{html.escape(self.title)}</strong> " if self.title else ""
        note = f" &middot; {html.escape(self.message)}" if self.message else ""
        return (
            f"<div class='kube-teach-clock'><p>{head}<code>t={self._now()}</code>{note}</p>"
            f"{self.view()}</div>"
        )

    def text(self) -> str:
        """The current view as plain text."""
        head = f"{self.title} " if self.title else ""
        note = f" · {self.message}" if self.message else ""
        return f"{head}t={self._now()}{note}\n{self.text_view()}"

    def widget(self) -> Any:
        """The ipywidgets box (built on first use): buttons, run-until control, live view."""
        if self._widget is None:
            self._widget = self._build()
        return self._widget

    def _build(self) -> Any:
        import ipywidgets as w

        buttons = []
        for step in self.steps:
            b = w.Button(description=step, layout=w.Layout(width="auto"))
            b.on_click(lambda _b, s=step: self.press(s))
            buttons.append(b)
        box = w.Text(placeholder="5m", description="until t =", layout=w.Layout(width="12em"))
        menu = w.Dropdown(options=list(self.until), layout=w.Layout(width="auto"))
        go = w.Button(description="run until", button_style="info", layout=w.Layout(width="auto"))

        def run_until(_b: Any) -> None:  # a time in the box wins over the menu
            choice = box.value.strip() or menu.value
            if choice:
                self.run_until(choice)

        go.on_click(run_until)
        controls = [*buttons, box, *([menu] if self.until else []), go]
        self._live = w.HTML(value=self.html())
        return w.VBox([w.HBox(controls), self._live])

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.value = self.html()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        bundle = dict(self.widget()._repr_mimebundle_())
        bundle["text/plain"] = "clock controls (run the notebook to use them): " + " ".join(
            [*self.steps, "run until"]
        )
        display(bundle, raw=True)
        display(self.snapshot(), raw=True)

    def snapshot(self) -> dict[str, str]:
        """The static copy shown under the widget: HTML and plain text of the current view."""
        caption = (
            "<p style='color:#57606a;font-size:smaller'>Static copy of the view when this cell "
            "ran; the live view above follows the buttons.</p>"
        )
        return {"text/html": self.html() + caption, "text/plain": self.text()}

    def __repr__(self) -> str:
        return f"<ClockWidget t={self._now()}>"


def clock(target: Steppable, view: Callable[[], str] | None = None, **options: Any) -> ClockWidget:
    """A ClockWidget over `target`; see ClockWidget for `options` (text, steps, until, ...)."""
    return ClockWidget(target, view, **options)
