"""kube-teach: a faithful, deterministic simulation of Kubernetes to learn how it works inside.

    from kube_teach import Cluster, check
    cluster = Cluster(nodes=3, seed=42)

The learner surface is loaded on first use, so `import kube_teach.sim` stays light.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("kube-teach")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["Cluster", "check", "load", "__version__"]

if TYPE_CHECKING:
    from .api.objects import load
    from .cluster import Cluster
    from .grading import check


def __getattr__(name: str) -> Any:
    if name == "Cluster":
        from .cluster import Cluster as value
    elif name == "check":
        from .grading import check as value
    elif name == "load":
        from .api.objects import load as value
    else:
        raise AttributeError(f"module 'kube_teach' has no attribute {name!r}")
    from . import _ipython  # errors as one kubectl-style line in notebooks

    _ipython.install()
    globals()[name] = value
    return value
