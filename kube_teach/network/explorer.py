"""A NetworkPolicy explorer: switch policies on and off, pick a port, watch who reaches whom.

The live view is an ipywidgets box (built only when displayed); beside it the same state is
rendered as static HTML and text, and the matrix as a hand-drawn SVG, all byte-stable, which is
what a notebook keeps and strict nbval compares. Verdicts come from policy.connectivity_matrix.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .policy import ConnectivityMatrix, connectivity_matrix

CELL, PAD = 26, 8


class MatrixSVG:
    """An SVG image (notebooks show it as image/svg+xml); `data` is its text."""

    def __init__(self, data: str, title: str) -> None:
        self.data, self.title = data, title

    def _repr_svg_(self) -> str:
        return self.data

    def __repr__(self) -> str:
        return f"<connectivity matrix: {self.title}>"


def matrix_svg(matrix: ConnectivityMatrix, title: str = "") -> MatrixSVG:
    """The matrix as an SVG grid: rows connect to columns, green allowed, red blocked."""
    pods = matrix.pods
    label_w = 8 * max([4, *map(len, pods)]) + PAD
    top = 8 * max([4, *map(len, pods)]) + PAD + (18 if title else 0)
    width = label_w + CELL * len(pods) + PAD
    height = top + CELL * len(pods) + PAD
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="monospace" font-size="12">'
    ]
    if title:
        out.append(f'<text x="{PAD}" y="14" font-weight="bold">{html.escape(title)}</text>')
    for j, dst in enumerate(pods):
        x = label_w + CELL * j + CELL // 2 + 4
        out.append(
            f'<text x="{x}" y="{top - 4}" transform="rotate(-90 {x} {top - 4})">'
            f"{html.escape(dst)}</text>"
        )
    for i, src in enumerate(pods):
        y = top + CELL * i
        out.append(
            f'<text x="{label_w - 6}" y="{y + CELL // 2 + 4}" text-anchor="end">'
            f"{html.escape(src)}</text>"
        )
        for j, dst in enumerate(pods):
            ok = matrix.allowed[(src, dst)]
            x = label_w + CELL * j
            fill, mark = ("#d4f7d4", "&#10003;") if ok else ("#f7d4d4", "&#10007;")
            out.append(
                f'<rect x="{x}" y="{y}" width="{CELL}" height="{CELL}" fill="{fill}" '
                f'stroke="#ffffff"/><text x="{x + CELL // 2}" y="{y + CELL // 2 + 4}" '
                f'text-anchor="middle">{mark}</text>'
            )
    out.append("</svg>")
    return MatrixSVG("".join(out), title or f"{matrix.port}/{matrix.protocol}")


def _policy_name(policy: Mapping[str, Any]) -> str:
    meta = policy.get("metadata") or {}
    return f"{meta.get('namespace') or 'default'}/{meta.get('name') or ''}"


class PolicyExplorer:
    """Pods, policies that can be switched on and off, and a port: `matrix()` is the verdict.

    `toggle(name, on)` and `select_port(port)` are what the checkboxes and the menu do, so a
    notebook can drive the same state from code; `snapshot()` is the static copy.
    """

    def __init__(
        self,
        pods: Iterable[Mapping[str, Any]],
        policies: Iterable[Mapping[str, Any]],
        namespaces: Any = None,
        ports: Sequence[int] = (80,),
        *,
        enabled: Iterable[str] | None = None,
    ) -> None:
        self.pods = list(pods)
        self.policies = {_policy_name(p): p for p in policies}
        self.namespaces = namespaces
        self.ports = list(ports)
        if not self.ports:
            raise ValueError("give at least one port")
        self.port = self.ports[0]
        names = list(self.policies) if enabled is None else list(enabled)
        unknown = [n for n in names if n not in self.policies]
        if unknown:
            raise ValueError(f"unknown policies {unknown}; known: {list(self.policies)}")
        self.enabled = {n: n in names for n in self.policies}
        self._live: Any = None
        self._widget: Any = None

    def toggle(self, name: str, on: bool) -> None:
        if name not in self.enabled:
            raise ValueError(f"no policy {name!r}; known: {list(self.enabled)}")
        self.enabled[name] = on
        self._refresh()

    def select_port(self, port: int) -> None:
        self.port = int(port)
        self._refresh()

    def matrix(self) -> ConnectivityMatrix:
        active = [p for n, p in self.policies.items() if self.enabled[n]]
        return connectivity_matrix(self.pods, active, self.namespaces, port=self.port)

    def svg(self) -> MatrixSVG:
        return matrix_svg(self.matrix(), f"port {self.port}/TCP")

    def html(self) -> str:
        items = "".join(
            f"<li>{'&#9745;' if on else '&#9744;'} {html.escape(n)}</li>"
            for n, on in self.enabled.items()
        )
        return f"<div><ul style='list-style:none'>{items}</ul>{self.matrix()._repr_html_()}</div>"

    def text(self) -> str:
        lines = [f"[{'x' if on else ' '}] {n}" for n, on in self.enabled.items()]
        return "\n".join([*lines, "", self.matrix().text()])

    def snapshot(self) -> dict[str, str]:
        return {"text/html": self.html(), "text/plain": self.text()}

    def widget(self) -> Any:
        if self._widget is None:
            import ipywidgets as w

            boxes = []
            for name, on in self.enabled.items():
                box = w.Checkbox(value=on, description=name, indent=False)
                box.observe(lambda ch, n=name: self.toggle(n, ch["new"]), names="value")
                boxes.append(box)
            port = w.Dropdown(options=self.ports, value=self.port, description="port")
            port.observe(lambda ch: self.select_port(ch["new"]), names="value")
            self._live = w.HTML(value=self.matrix()._repr_html_())
            self._widget = w.VBox([w.HBox([w.VBox(boxes), port]), self._live])
        return self._widget

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.value = self.matrix()._repr_html_()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        bundle = dict(self.widget()._repr_mimebundle_())
        bundle["text/plain"] = "policy explorer (run the notebook to use it): " + ", ".join(
            self.enabled
        )
        display(bundle, raw=True)
        display(self.snapshot(), raw=True)

    def __repr__(self) -> str:
        on = sum(self.enabled.values())
        return f"<PolicyExplorer {len(self.pods)} pods, {on}/{len(self.enabled)} policies on>"
