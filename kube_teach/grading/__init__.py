"""Instant feedback for exercises: `check("01-reconcile", reconcile)` prints a verdict.

`check` never raises: an unsolved exercise (a function that still raises NotImplementedError, or
returns None) reports "not yet" with a hint, so a learner notebook runs top to bottom unsolved.
"""

from .check import Exercise, Result, check, register

__all__ = ["Exercise", "Result", "check", "register"]
