"""Strip outputs and run-time noise from notebooks before they are committed.

The notebooks in ``notebooks/`` are committed without outputs: outputs hold simulator
ports, timestamps, widget ids and images that change on every run (and, in a notebook run
against the real gateway, phone numbers and replies that must not reach git). After
working on a notebook in JupyterLab, run::

    .venv/bin/python tools/strip_notebooks.py            # strips notebooks/*.ipynb in place
    .venv/bin/python tools/strip_notebooks.py --check    # exit 1 if one still has outputs

What is removed: every code cell's outputs and execution count, cell timing metadata
(``execution``, ``ExecuteTime``), the saved widget state and the kernel's version details.
The kernel stays ``python3``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
LANGUAGE_INFO = {"name": "python", "pygments_lexer": "ipython3"}
_CELL_NOISE = ("execution", "ExecuteTime", "collapsed", "scrolled")


def strip(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Remove outputs and run-time metadata from ``nb`` in place; returns it."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        for key in _CELL_NOISE:
            cell.metadata.pop(key, None)
    nb.metadata.pop("widgets", None)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = dict(LANGUAGE_INFO)
    return nb


def stripped_text(path: Path) -> tuple[str, str]:
    """(the file's text, the text it has once stripped)."""
    text = path.read_text(encoding="utf-8")
    nb = nbformat.reads(text, as_version=nbformat.NO_CONVERT)
    return text, nbformat.writes(strip(nb)) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "paths", nargs="*", type=Path, help="notebooks (default: notebooks/*.ipynb)"
    )
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if a notebook is not stripped"
    )
    args = parser.parse_args(argv)
    paths = args.paths or sorted(NOTEBOOKS.glob("*.ipynb"))
    dirty = []
    for path in paths:
        text, clean = stripped_text(path)
        if text == clean:
            continue
        dirty.append(path)
        if not args.check:
            path.write_text(clean, encoding="utf-8")
            print(f"stripped {path}")
    if args.check and dirty:
        for path in dirty:
            print(f"{path} has outputs or run-time metadata; run tools/strip_notebooks.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
