"""Chapter 14's exercises: the etcd space alert and the order of the NOSPACE runbook.

The numbers come from the library: a quota of 0 means what `--quota-backend-bytes 0` means to
the MVCC store (kube_teach.etcd.mvcc.DEFAULT_QUOTA_BYTES), a negative one switches the quota off
as etcd does. The runbook's order follows what the chapter measured on a frozen cluster.
"""

from __future__ import annotations

from typing import Any

from ..etcd.mvcc import DEFAULT_QUOTA_BYTES
from .check import register
from .exercises import _call, _graded

ALERT_RATIO = 0.8  # the seed's EtcdDatabaseSpaceExceeded rule
MiB = 1024**2


def _alerting(db_total_size_in_bytes: int, quota_backend_bytes: int) -> bool:
    if quota_backend_bytes < 0:
        return False  # no quota: nothing to run out of
    quota = quota_backend_bytes or DEFAULT_QUOTA_BYTES
    return db_total_size_in_bytes / quota > ALERT_RATIO


# (db size, --quota-backend-bytes, why)
_ALERTS = [
    (7 * MiB, 8 * MiB, "87.5 % of an 8 MiB quota"),
    (6 * MiB, 8 * MiB, "75 % of an 8 MiB quota"),
    (8 * MiB, 10 * MiB, "exactly 80 %: the rule says > 0.8, not >="),
    (8 * MiB + 1, 10 * MiB, "one byte over 80 %"),
    (1800 * MiB, 0, "1800 MiB with --quota-backend-bytes 0, i.e. etcd's 2 GiB default"),
    (1500 * MiB, 0, "1500 MiB of the 2 GiB default: 73 %"),
    (7 * 1024 * MiB, 8 * 1024 * MiB, "7 GiB of the seed's 8 GiB quota"),
    (6 * 1024 * MiB, 8 * 1024 * MiB, "6 GiB of 8 GiB"),
    (9 * 1024 * MiB, -1, "a negative quota switches the quota off: no alert"),
    (0, 8 * MiB, "an empty database"),
]


@register(
    "14-space-alert",
    hint="replace `raise NotImplementedError` in space_alert: compare size / quota with 0.8 "
    "(strictly greater); a quota of 0 means etcd's default, a negative one means no quota.",
)
@_graded
def space_alert_exercise(space_alert: Any) -> str | None:
    """`space_alert(db_total_size_in_bytes, quota_backend_bytes) -> bool`."""
    if not callable(space_alert):
        return (
            f"pass the function itself: check('14-space-alert', space_alert), not {space_alert!r}."
        )
    for size, quota, why in _ALERTS:
        want = _alerting(size, quota)
        got = _call(space_alert, f"space_alert({size}, {quota})", size, quota)
        if not isinstance(got, bool):
            return f"space_alert({size}, {quota}) returned {got!r}: answer True or False."
        if got != want:
            verdict = "fires" if want else "stays quiet"
            return f"space_alert({size}, {quota}) returned {got}, but the alert {verdict}: {why}."
    return None


STEPS = ("compact", "defrag", "delete", "disarm")
# (earlier step, later step, why), each measured in the chapter
_ORDER = [
    (
        "delete",
        "compact",
        "compaction frees only history: delete the junk objects first, so that "
        "their old versions are history when you compact",
    ),
    (
        "compact",
        "defrag",
        "defragment after compacting: before, there are no free pages to give back",
    ),
    (
        "defrag",
        "disarm",
        "disarm last: while the database is still over the quota, the next write "
        "raises the NOSPACE alarm again",
    ),
]


def runbook_problem(steps: Any) -> str | None:
    """Why `steps` is not a working order of the NOSPACE runbook (None: it is)."""
    if isinstance(steps, str) or not isinstance(steps, (list, tuple)):
        return f"answer a list of step names such as {list(STEPS)!r}, not {steps!r}."
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        return f"unknown step {unknown[0]!r}: use {', '.join(repr(s) for s in STEPS)}."
    if sorted(steps) != sorted(STEPS):
        missing = [s for s in STEPS if s not in steps]
        if missing:
            return f"the runbook needs every step once; {missing[0]!r} is missing."
        return "the runbook needs every step exactly once."
    for before, after, why in _ORDER:
        if steps.index(before) > steps.index(after):
            return f"{before!r} must come before {after!r}: {why}."
    return None


@register(
    "14-runbook",
    hint="order the four steps 'compact', 'defrag', 'delete', 'disarm' so that the cluster "
    "accepts writes again and stays that way.",
)
@_graded
def runbook_exercise(steps: Any) -> str | None:
    """A list of the four step names in the order that gets a frozen cluster writing again."""
    return runbook_problem(steps)


__all__ = ["STEPS", "runbook_problem"]
