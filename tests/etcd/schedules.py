"""Helpers for the seeded fault-schedule tests (linearizability, Raft safety)."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def collect_per_schedule() -> Iterator[Callable[[], int]]:
    """Collect garbage once per schedule (call what this yields after each one) instead of
    every few hundred allocations: a schedule builds and drops a whole cluster, and the
    collector would otherwise rescan the test process's long-lived objects over and over.
    Saves about a tenth of the run; the schedules themselves are unaffected."""
    gc.collect()
    gc.freeze()
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield gc.collect
    finally:
        if enabled:
            gc.enable()
        gc.unfreeze()
