"""Plots as byte-stable SVG, so strict nbval compares them rather than skipping them.

matplotlib's SVG carries random ids and today's date unless told otherwise: we fix `svg.hashsalt`,
drop the date and creator, keep text as `<text>` (no glyph paths that drift between releases), and
draw on a bare Figure, so no pyplot backend shows a second, PNG copy.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

import matplotlib
from matplotlib.figure import Figure

HASHSALT = "kube-teach"
SVG_RC = {"svg.hashsalt": HASHSALT, "svg.fonttype": "none", "svg.image_inline": True}
COLORS = ("#0969da", "#cf222e", "#1a7f37", "#8250df", "#bc4c00", "#57606a")


class SVG:
    """An SVG image that a notebook shows as `image/svg+xml`; `data` is its text."""

    def __init__(self, data: str, title: str = "") -> None:
        self.data = data
        self.title = title

    def _repr_svg_(self) -> str:
        return self.data

    def __repr__(self) -> str:  # the text/plain beside the image: no address, no size
        return f"<plot: {self.title}>" if self.title else "<plot>"

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.data, encoding="utf-8")


def to_svg(fig: Figure, title: str = "") -> SVG:
    """Render `fig` as SVG text that is the same, byte for byte, every time it is drawn."""
    buf = io.StringIO()
    with matplotlib.rc_context(SVG_RC):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    return SVG(_strip_declaration(buf.getvalue()), title)


def _strip_declaration(svg: str) -> str:
    """Drop the XML declaration and DOCTYPE: an inline <svg> needs neither."""
    start = svg.find("<svg")
    return svg[start:] if start > 0 else svg


class SeriesLike(Protocol):
    """What `timeline` plots: kube_teach.sim.Series, or anything with the same two lists."""

    times: Sequence[float]
    values: Sequence[float]


def timeline(
    lines: Mapping[str, SeriesLike],
    *,
    title: str = "",
    ylabel: str = "",
    until: float | None = None,
    spans: Iterable[tuple[str, float, float | None]] = (),
    span_label: str = "down",
    target: float | None = None,
    target_label: str = "desired",
    minutes: bool | None = None,
    size: tuple[float, float] = (7.5, 3.0),
) -> SVG:
    """A step plot of time series (anything with `times` in seconds and `values`), as SVG.

    Each line holds its value until the next point (a gauge), and the last value until `until`.
    `spans` are (label, start, end) intervals shaded behind the lines, e.g. outages (end None:
    still going at `until`); `target` draws a dashed level (e.g. desired replicas). The x axis is
    in minutes when the run is longer than three minutes (or when `minutes=True`).
    """
    end = until
    if end is None:
        end = max((s.times[-1] for s in lines.values() if len(s.times)), default=1.0)
    in_minutes = end > 180 if minutes is None else minutes
    scale = 60.0 if in_minutes else 1.0

    fig = Figure(figsize=size, layout="constrained")
    ax = fig.subplots()
    shaded = False
    for _, start, stop in spans:
        stop = end if stop is None else stop
        ax.axvspan(
            start / scale,
            stop / scale,
            color="#d0d7de",
            alpha=0.45,
            linewidth=0,
            label=None if shaded else span_label,
        )
        shaded = True
    if target is not None:
        ax.axhline(target, color="#57606a", linestyle="--", linewidth=1, label=target_label)
    top = target or 0
    for i, (label, series) in enumerate(lines.items()):
        xs = [t / scale for t in series.times] + [end / scale]
        ys = list(series.values) + ([series.values[-1]] if len(series.values) else [])
        if not ys:
            continue
        ax.step(xs, ys, where="post", color=COLORS[i % len(COLORS)], linewidth=1.8, label=label)
        top = max(top, *ys)
    ax.set_xlim(0, end / scale)
    ax.set_ylim(-0.2, top + 1)
    ax.set_xlabel("simulated time (minutes)" if in_minutes else "simulated time (seconds)")
    if ylabel:
        ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, loc="left", fontsize=11)
    ax.grid(axis="y", color="#eaeef2", linewidth=0.8)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=9)
    return to_svg(fig, title or ", ".join(lines))
