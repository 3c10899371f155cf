"""See the scheduler decide: `explorer()` is a widget to pick a pending pod and see every node's
filter verdict and every plugin's scores (evaluate's table), with a static copy of the same
table for readers without a kernel; `place()` schedules pods one after another on a snapshot,
each cycle seeing the pods placed before it, as kube-scheduler does.
"""

from __future__ import annotations

import html
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from .evaluate import Evaluation, evaluate
from .framework import PodInfo, Profile, Snapshot


class SchedulingExplorer:
    """A menu of pods and the scheduling cycle of the one selected.

    `select(name)` shows another pod (what the menu does); `evaluation` is its Evaluation;
    `html()` and `text()` render it. Displayed in a notebook it shows the live widget and,
    below it, a static copy that nbval compares. Evaluations are computed once per pod.
    """

    def __init__(
        self, evaluate_pod: Callable[[str], Evaluation], names: Sequence[str], title: str = ""
    ) -> None:
        if not names:
            raise ValueError("explorer needs at least one pod")
        self._evaluate = evaluate_pod
        self.names = list(names)
        self.title = title
        self.selected = self.names[0]
        self._cache: dict[str, Evaluation] = {}
        self._live: Any = None
        self._widget: Any = None

    @property
    def evaluation(self) -> Evaluation:
        """The selected pod's scheduling cycle."""
        if self.selected not in self._cache:
            self._cache[self.selected] = self._evaluate(self.selected)
        return self._cache[self.selected]

    def select(self, name: str) -> Evaluation:
        """Show pod `name` (ValueError for a pod not in the menu)."""
        if name not in self.names:
            raise ValueError(f"no pod {name!r} in this explorer; choose one of {self.names}")
        self.selected = name
        if self._live is not None:
            self._live.value = self.html()
        return self.evaluation

    def html(self) -> str:
        head = f"<strong>{html.escape(self.title)}</strong>" if self.title else ""
        return f"<div class='kube-teach-explorer'>{head}{self.evaluation._repr_html_()}</div>"

    def text(self) -> str:
        head = f"{self.title}\n" if self.title else ""
        return head + self.evaluation.text()

    def widget(self) -> Any:
        """The ipywidgets box (built on first use): a pod menu above the live table."""
        if self._widget is None:
            import ipywidgets as w

            menu = w.Dropdown(options=self.names, value=self.selected, description="pod")
            menu.observe(lambda change: self.select(change["new"]), names="value")
            self._live = w.HTML(value=self.html())
            self._widget = w.VBox([menu, self._live])
        return self._widget

    def snapshot(self) -> dict[str, str]:
        """The static copy: HTML and plain text of the selected pod's cycle."""
        caption = (
            "<p style='color:#57606a;font-size:smaller'>Static copy of the table for the pod "
            "selected when this cell ran; the live view above follows the menu.</p>"
        )
        return {"text/html": self.html() + caption, "text/plain": self.text()}

    def _ipython_display_(self) -> None:
        from IPython.display import display

        bundle = dict(self.widget()._repr_mimebundle_())
        bundle["text/plain"] = "pod menu (run the notebook to use it): " + ", ".join(self.names)
        display(bundle, raw=True)
        display(self.snapshot(), raw=True)

    def _repr_html_(self) -> str:
        return self.html()

    def __repr__(self) -> str:
        return f"<SchedulingExplorer {self.selected} of {len(self.names)} pods>"


def _name(pod: Mapping[str, Any]) -> str:
    return (pod.get("metadata") or {}).get("name") or ""


def explorer(
    pending: Iterable[Mapping[str, Any]] | Iterable[str],
    nodes: Any,
    pods: Iterable[Mapping[str, Any]] = (),
    *,
    profile: Profile | Mapping[str, Any] | None = None,
    objects: Iterable[Mapping[str, Any]] = (),
    pvcs: Iterable[Mapping[str, Any]] = (),
    pvs: Iterable[Mapping[str, Any]] = (),
    plugins: Mapping[str, type] | None = None,
    title: str = "",
    namespace: str = "default",
) -> SchedulingExplorer:
    """A SchedulingExplorer over pending pods.

    Either pure: `pending` are pod dicts, evaluated against `nodes`, `pods` and the other
    objects exactly as `evaluate` takes them (one fixed random stream per pod, so ties break
    the same way on every run). Or live: `nodes` is a cluster's scheduler and `pending` are
    pod names in `namespace`, each explained against the scheduler's cache (`explain`).
    """
    explain = getattr(nodes, "explain", None)
    if callable(explain):
        names = [p if isinstance(p, str) else _name(p) for p in pending]
        return SchedulingExplorer(lambda n: explain(n, namespace), names, title)
    by_name = {_name(p): p for p in pending if isinstance(p, Mapping)}
    nodes, pods, objects = list(nodes), list(pods), list(objects)
    pvcs, pvs = list(pvcs), list(pvs)

    def run(name: str) -> Evaluation:
        return evaluate(by_name[name], nodes, pods, profile, objects=objects, pvcs=pvcs,
                        pvs=pvs, plugins=plugins, rng=random.Random(0))  # fmt: skip

    return SchedulingExplorer(run, list(by_name), title)


def place(
    pods: Iterable[Mapping[str, Any]],
    snapshot: Snapshot,
    profile: Profile | Mapping[str, Any] | None = None,
    *,
    rng: random.Random | None = None,
    plugins: Mapping[str, type] | None = None,
) -> dict[str, str | None]:
    """Schedule `pods` in order on `snapshot`, binding each to its selected node (the snapshot
    changes) so the next cycle sees it. Returns pod name -> node (None when unschedulable;
    preemption's victims are not evicted here)."""
    rng = rng if rng is not None else random.Random(0)
    out: dict[str, str | None] = {}
    start = 0
    for pod in pods:
        ev = evaluate(pod, snapshot, profile=profile, rng=rng, plugins=plugins,
                      start_index=start)  # fmt: skip
        start = ev.next_start_index
        out[PodInfo(pod).name] = ev.selected
        if ev.selected is not None:
            snapshot.add_pod(pod, ev.selected)
    return out
