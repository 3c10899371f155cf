"""The exercise registry and `check()`. Exercises register themselves by id; each returns a
Result saying whether the answer is right and, when not, what to look at next."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Result:
    """The verdict for one answer: `passed`, and a message in plain words."""

    exercise: str
    passed: bool
    message: str

    @property
    def status(self) -> str:
        return "correct" if self.passed else "not yet"

    def text(self) -> str:
        mark = "✔" if self.passed else "✘"
        return f"{mark} {self.exercise}: {self.status}. {self.message}".rstrip()

    def __repr__(self) -> str:
        return self.text()

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(self.text())

    def _repr_html_(self) -> str:
        color = "#1a7f37" if self.passed else "#9a6700"
        return f"<p style='color:{color}'><strong>{html.escape(self.text())}</strong></p>"

    def __bool__(self) -> bool:
        return self.passed


@dataclass(frozen=True)
class Exercise:
    """An exercise: `grade(answer)` returns None when right, else what is wrong (a hint)."""

    id: str
    grade: Callable[[Any], str | None]
    hint: str = ""


EXERCISES: dict[str, Exercise] = {}


def register(exercise_id: str, hint: str = "") -> Callable[[Callable[[Any], str | None]], Exercise]:
    """Decorator: `@register("01-reconcile")` over a grading function."""

    def wrap(fn: Callable[[Any], str | None]) -> Exercise:
        ex = EXERCISES[exercise_id] = Exercise(exercise_id, fn, hint)
        return ex

    return wrap


def check(exercise_id: str, answer: Any) -> Result:
    """Grade `answer` for the exercise `exercise_id`; never raises.

    An answer that is still `...` or None, or a function that raises NotImplementedError, gets
    "not yet" and the exercise's hint; an answer that crashes gets "not yet" and the error.
    """
    from . import exercises

    exercises.register_chapters()

    ex = EXERCISES.get(exercise_id)
    if ex is None:
        known = ", ".join(sorted(EXERCISES)) or "none"
        return Result(exercise_id, False, f"there is no exercise with this id (known: {known}).")
    if answer is ... or answer is None:
        return Result(exercise_id, False, ex.hint or "replace the `...` with your answer.")
    try:
        problem = ex.grade(answer)
    except NotImplementedError:
        return Result(exercise_id, False, ex.hint or "replace the `raise NotImplementedError`.")
    except Exception as err:  # a learner's bug must not stop the notebook
        return Result(exercise_id, False, f"your answer raised {type(err).__name__}: {err}")
    if problem is None:
        return Result(exercise_id, True, "")
    return Result(exercise_id, False, problem)
