"""Imports point down ARCHITECTURE.md's list, never up or sideways: walk the package with ast."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "kube_teach"

# What each top-level part may import from kube_teach (itself always allowed).
ALLOWED = {
    "sim": set(),
    "api": set(),
    "etcd": {"sim"},
    "apiserver": {"api", "etcd", "sim"},
    "client": {"api", "sim"},
    "scheduler": {"api", "client", "sim"},
    "controllers": {"api", "client", "sim"},
    "kubelet": {"api", "client", "sim"},
    "network": {"api", "client", "sim"},
    "manifests": set(),
    "cluster": {
        "api",
        "apiserver",
        "client",
        "controllers",
        "etcd",
        "kubelet",
        "kubectl",
        "network",
        "scheduler",
        "sim",
    },  # fmt: skip
    "kubectl": {"api", "cluster"},
    "scenarios": {
        "api",
        "cluster",
        "sim",
        "manifests",
        "etcd",
        "apiserver",
        "client",
        "controllers",
        "kubelet",
        "network",
        "scheduler",
    },  # fmt: skip
    "viz": {"api", "cluster", "sim", "scenarios", "etcd", "scheduler", "manifests"},
    "grading": {
        "api",
        "cluster",
        "sim",
        "scenarios",
        "manifests",
        "etcd",
        "scheduler",
        "controllers",
        "kubelet",
        "network",
    },  # fmt: skip
    "cli": {"__init__", "grading"},
    "__init__": {"api", "cluster", "grading", "_ipython"},
    "__main__": {"cli"},
    "_ipython": {"api", "sim", "cluster"},
}
NOBODY_IMPORTS = {"scenarios", "viz", "grading", "cli"}


def _part(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def _imports(path: Path) -> set[str]:
    """The top-level kube_teach parts a module imports, relative or absolute."""
    tree = ast.parse(path.read_text())
    depth_of_module = len(path.relative_to(PACKAGE).parts) - 1
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("kube_teach."):
                    found.add(alias.name.split(".")[1])
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                if node.module and node.module.startswith("kube_teach"):
                    parts = node.module.split(".")
                    found.add(parts[1] if len(parts) > 1 else "__init__")
                continue
            up = node.level - 1  # levels above the module's own package
            if up > depth_of_module:
                continue
            base = list(path.relative_to(PACKAGE).parts[:-1])[: depth_of_module - up]
            target = base + (node.module.split(".") if node.module else [])
            if target:
                found.add(target[0])
            else:  # `from . import x` at the top: x is a part, or a name from __init__
                for a in node.names:
                    is_part = (PACKAGE / a.name).is_dir() or (PACKAGE / f"{a.name}.py").is_file()
                    found.add(a.name if is_part else "__init__")
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path):
    part = _part(path)
    assert part in ALLOWED, f"{part} is not in ARCHITECTURE.md's map: add it to ALLOWED"
    bad = sorted(i for i in _imports(path) - {part} if i not in ALLOWED[part])
    assert not bad, f"{path.relative_to(PACKAGE)} imports {bad}, which {part} may not import"


def test_nothing_imports_the_edges():
    for path in MODULES:
        part = _part(path)
        if part in NOBODY_IMPORTS or part in ("__init__", "cli", "__main__"):
            continue
        assert not (_imports(path) & NOBODY_IMPORTS - {part}), path


def test_the_checker_sees_a_violation(tmp_path, monkeypatch):
    """The walker must catch an upward import, or this test file is a test that cannot fail."""
    fake = PACKAGE / "sim" / "_probe_upward_import.py"
    fake.write_text("from ..cluster import Cluster\n")
    try:
        assert "cluster" in _imports(fake)
    finally:
        fake.unlink()
