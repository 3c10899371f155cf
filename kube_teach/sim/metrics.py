"""Time series recorded during a run, for plots and for the numbers printed beside them.

A series is named like a Prometheus metric with labels (`apiserver_inflight{kind="mutating"}`);
points are (simulated seconds, value). Counters, gauges and histogram observations share one store.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .duration import SECOND


def _key(name: str, labels: dict[str, Any]) -> str:
    if not labels:
        return name
    inner = ",".join(f'{k}="{labels[k]}"' for k in sorted(labels))
    return f"{name}{{{inner}}}"


@dataclass
class Series:
    """Points of one metric: parallel lists of times (seconds) and values."""

    name: str
    labels: dict[str, Any]
    times: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    @property
    def last(self) -> float | None:
        return self.values[-1] if self.values else None

    def at(self, t: float) -> float | None:
        """The value in force at time `t` (the last point at or before it)."""
        result = None
        for ti, v in zip(self.times, self.values, strict=True):
            if ti > t:
                break
            result = v
        return result

    def percentile(self, q: float) -> float | None:
        """The q-th percentile (0-100) of the values, nearest-rank; None when empty."""
        if not self.values:
            return None
        ordered = sorted(self.values)
        rank = max(1, math.ceil(q / 100 * len(ordered)))
        return ordered[rank - 1]

    def __len__(self) -> int:
        return len(self.values)


class Metrics:
    """Records gauges, counters and observations against the simulated clock."""

    def __init__(self, clock: Any) -> None:
        self.clock = clock
        self._series: dict[str, Series] = {}
        self._counters: dict[str, float] = {}

    def _series_for(self, name: str, labels: dict[str, Any]) -> Series:
        key = _key(name, labels)
        s = self._series.get(key)
        if s is None:
            s = self._series[key] = Series(name, dict(labels))
        return s

    def set(self, name: str, value: float, **labels: Any) -> None:
        """Record a gauge's value now."""
        s = self._series_for(name, labels)
        s.times.append(self.clock.now_ns / SECOND)
        s.values.append(value)

    observe = set  # a histogram observation is a point too; percentiles come from Series

    def inc(self, name: str, by: float = 1, **labels: Any) -> float:
        """Add to a counter and record its new total now; returns the total."""
        key = _key(name, labels)
        total = self._counters.get(key, 0) + by
        self._counters[key] = total
        self.set(name, total, **labels)
        return total

    def series(self, name: str, **labels: Any) -> Series:
        """The series for `name` with exactly these labels (empty if never recorded)."""
        return self._series.get(_key(name, labels)) or Series(name, dict(labels))

    def find(self, name: str) -> list[Series]:
        """Every series called `name`, whatever its labels, in label order."""
        return [self._series[k] for k in sorted(self._series) if self._series[k].name == name]

    def names(self) -> list[str]:
        return sorted({s.name for s in self._series.values()})

    def __repr__(self) -> str:
        return f"<Metrics {len(self._series)} series>"
