"""The Kubernetes objects of the seed article "Kubernetes Deep Dive", one YAML file per example.

Each file keeps the article's text as written, comments included, so a notebook cell applies
exactly what the reader saw. The DNS example mixes shell and Python with YAML; only its two
objects are kept (`dns-config-pod`, `node-local-dns-daemonset`). Some examples are abbreviated
and a real API server rejects them: tests/api/test_seed_manifests.py records how.
"""

from __future__ import annotations

from importlib import resources

__all__ = ["manifest", "names"]


def names() -> list[str]:
    """The stems of all seed manifests, sorted: `["app-deployment", "app-hpa-conflict", ...]`."""
    folder = resources.files(__name__)
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def manifest(name: str) -> str:
    """The YAML text of the seed manifest with stem `name` (a trailing `.yaml` is accepted).

    Raises KeyError naming the known stems when there is no such manifest.
    """
    stem = name[: -len(".yaml")] if name.endswith(".yaml") else name
    if stem not in names():
        raise KeyError(f"no seed manifest {stem!r}; known: {', '.join(names())}")
    return resources.files(__name__).joinpath(f"{stem}.yaml").read_text(encoding="utf-8")
