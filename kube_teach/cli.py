"""The `kube-teach` command: `kube-teach lab`, `kube-teach version`, `kube-teach grade`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import __version__


def _course_root() -> Path:
    """The checkout holding `notebooks/` (the package's parent), else the current directory."""
    here = Path(__file__).resolve().parent.parent
    return here if (here / "notebooks").is_dir() else Path.cwd()


def lab(no_browser: bool, port: int | None, notebook: str | None) -> int:
    """Open JupyterLab on the course, starting at chapter 00."""
    root = _course_root()
    start = notebook or "notebooks/00-start-here.ipynb"
    argv = [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--ServerApp.root_dir={root}",
        f"--LabApp.default_url=/lab/tree/{start}",
    ]
    if no_browser:
        argv.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.append("--allow-root")  # containers and CI machines often run as root
    if port is not None:
        argv += [f"--port={port}", "--ServerApp.port_retries=0"]
    os.execv(sys.executable, argv)
    return 0  # not reached


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="kube-teach", description="Learn Kubernetes internals on a simulated cluster."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_lab = sub.add_parser("lab", help="open the course in JupyterLab")
    p_lab.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p_lab.add_argument("--port", type=int, default=None, help="port to serve on")
    p_lab.add_argument("--notebook", default=None, help="chapter to open first")
    sub.add_parser("version", help="print the version")
    args = parser.parse_args(argv)
    if args.command == "version":
        print(f"kube-teach {__version__}")
        return 0
    if args.command == "lab":
        return lab(args.no_browser, args.port, args.notebook)
    return 2  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
