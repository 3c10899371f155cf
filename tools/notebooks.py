"""Keep the course notebooks' stored outputs exactly what strict nbval expects.

`solutions/` is the source: each learner notebook in `notebooks/` is derived from its solved twin
by replacing every `# BEGIN SOLUTION` ... `# END SOLUTION` block with its stub. Both are executed
with nbclient, then stripped of what changes on every run (timings, widget state and model ids).

    python tools/notebooks.py build            # derive, execute and strip every chapter
    python tools/notebooks.py build 01         # only chapters whose name starts with 01
    python tools/notebooks.py check            # exit 1 if a learner notebook is out of date
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS, LEARNER = ROOT / "solutions", ROOT / "notebooks"
BEGIN = re.compile(r"^(?P<indent>\s*)# BEGIN SOLUTION(?: \(stub: (?P<stub>.*)\))?\s*$")
END = re.compile(r"^\s*# END SOLUTION\s*$")
DEFAULT_STUB = "raise NotImplementedError"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# The environment `make nbval` runs under: the kernel inherits it.
ENV = {
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    "PYDEVD_DISABLE_FILE_VALIDATION": "1",
}
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def learner_source(source: str) -> str:
    """A solved cell's source with each solution block replaced by its stub (same indent)."""
    out: list[str] = []
    inside = False
    for line in source.splitlines():
        begin = BEGIN.match(line)
        if begin and not inside:
            inside = True
            out.append(begin.group("indent") + (begin.group("stub") or DEFAULT_STUB))
        elif END.match(line) and inside:
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"unclosed # BEGIN SOLUTION in:\n{source}")
    return "\n".join(out)


def derive(solved: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The learner notebook for a solved one: stubs in place of solutions, no outputs yet."""
    nb = nbformat.from_dict(solved)
    cells = []
    for cell in nb.cells:
        if "solution-only" in cell.get("metadata", {}).get("tags", []):
            continue
        if cell.cell_type == "code":
            cell.source = learner_source(cell.source)
            cell.outputs = []
            cell.execution_count = None
        cells.append(cell)
    nb.cells = cells
    return nb


def strip(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Remove what differs between two runs of the same notebook: cell timings, widget state,
    widget model ids (random, and useless without saved state), the Python patch version."""
    nb.metadata.pop("widgets", None)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = _coalesce_streams(cell.outputs)
        for output in cell.get("outputs", []):
            data = output.get("data")
            if data is not None:
                data.pop(WIDGET_VIEW, None)
            output.get("metadata", {}).pop(WIDGET_VIEW, None)
    return nb


def _coalesce_streams(outputs: list) -> list:
    """Join consecutive writes to the same stream: where the kernel split them is timing."""
    merged: list = []
    for output in outputs:
        last = merged[-1] if merged else None
        if (
            output.output_type == "stream"
            and last is not None
            and last.output_type == "stream"
            and last.name == output.name
        ):
            last.text += output.text
        else:
            merged.append(output)
    return merged


def execute(nb: nbformat.NotebookNode, cwd: Path) -> list[tuple[float, int]]:
    """Run every cell as `make nbval` would; returns (seconds, cell index) per code cell."""
    os.environ.update(ENV)
    client = NotebookClient(
        nb,
        timeout=60,
        kernel_name="python3",
        resources={"metadata": {"path": str(cwd)}},
        record_timing=True,
        store_widget_state=False,
    )
    client.execute()
    timings = []
    for i, cell in enumerate(nb.cells):
        ex = cell.metadata.get("execution", {})
        if "iopub.execute_input" in ex and "shell.execute_reply" in ex:
            start = _stamp(ex["iopub.execute_input"])
            timings.append((_stamp(ex["shell.execute_reply"]) - start, i))
    return timings


def _stamp(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def build(prefixes: list[str]) -> None:
    for src in sorted(SOLUTIONS.glob("*.ipynb")):
        if prefixes and not any(src.name.startswith(p) for p in prefixes):
            continue
        solved = nbformat.read(src, as_version=4)
        for nb, path in ((solved, src), (derive(solved), LEARNER / src.name)):
            began = time.perf_counter()
            timings = execute(nb, path.parent)
            total = time.perf_counter() - began
            nbformat.write(strip(nb), path)
            slow, index = max(timings, default=(0.0, -1))
            print(f"{path.relative_to(ROOT)}: {total:.1f}s, slowest cell #{index} {slow:.2f}s")


def check() -> int:
    """1 when a learner notebook's sources differ from what its solution derives."""
    stale = []
    for src in sorted(SOLUTIONS.glob("*.ipynb")):
        want = [c.source for c in derive(nbformat.read(src, as_version=4)).cells]
        path = LEARNER / src.name
        have = [c.source for c in nbformat.read(path, as_version=4).cells] if path.exists() else []
        if want != have:
            stale.append(path.relative_to(ROOT))
    for path in stale:
        print(f"{path} is out of date: run `python tools/notebooks.py build`")
    return 1 if stale else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_build = sub.add_parser("build", help="derive, execute and strip notebooks")
    p_build.add_argument("chapters", nargs="*", help="name prefixes, e.g. 00 01")
    sub.add_parser("check", help="fail when a learner notebook is stale")
    args = parser.parse_args(argv)
    if args.command == "build":
        build(args.chapters)
        return 0
    return check()


if __name__ == "__main__":
    sys.exit(main())
