"""In a notebook, show kube-teach's errors as kubectl shows them: one line, no traceback.

The exception is still raised (a cell tagged `raises-exception` expects it), only its display
changes. Outside IPython this does nothing.
"""

from __future__ import annotations

from typing import Any

from .api.errors import StatusError
from .api.kinds import UnknownKindError
from .api.objects import ManifestError
from .api.quantity import QuantityError
from .api.selectors import SelectorParseError
from .sim.clock import SimulationError
from .sim.duration import DurationError

LEARNER_ERRORS: tuple[type[BaseException], ...] = (
    StatusError,
    ManifestError,
    UnknownKindError,
    QuantityError,
    SelectorParseError,
    SimulationError,
    DurationError,
)


def message(err: BaseException) -> str:
    """The one line a learner sees for `err`, in kubectl's words where kubectl has some."""
    if isinstance(err, StatusError):
        return err.kubectl()
    kubectl = getattr(err, "kubectl", None)
    if callable(kubectl):
        return kubectl()
    return f"error: {err}"


def _handler(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None) -> list:
    # IPython shows nothing itself for a custom exception: display the one line as the error's
    # whole traceback (a notebook keeps ename/evalue, which nbval compares).
    stb = [message(value)]
    shell._showtraceback(etype, value, stb)
    return stb


def install() -> None:
    """Register the handler with the running IPython shell, if there is one."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    from .cluster import ClientError

    shell.set_custom_exc((*LEARNER_ERRORS, ClientError), _handler)
