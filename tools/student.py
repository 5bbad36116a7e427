"""Write student versions of the chapters: solutions removed, everything else kept.

Usage (normally ``make student``)::

    .venv/bin/python tools/student.py notebooks/*.ipynb --out _build/student

In every code cell tagged ``solution``, each region between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` becomes ``# YOUR CODE HERE`` and ``raise NotImplementedError()`` (at the
marker's indentation), and the cell's outputs are cleared; its ``hide-input`` tag is dropped
so the student sees the cell. In Markdown cells, every sphinx-exercise ``solution`` directive
(``:::{solution} ...`` up to its closing fence) is removed; a Markdown cell that goes on after
a removed solution is cut there into two cells. What is hidden is decided in
``tools/solutions.py``, which ``tools/nbgrader_course.py`` shares, so ``nbgrader
generate_assignment`` on the course it writes gives these same cells plus the grading cells
(``tests/test_nbgrader.py`` compares them).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))

from solutions import BEGIN, END, STUB, strip_code, strip_markdown, student_cells  # noqa: E402,F401


def student_version(nb):
    """Return a copy of the notebook without solutions."""
    nb = nbformat.from_dict(nb)
    nb.cells = student_cells(nb)
    return nb


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("_build/student"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for path in args.notebooks:
        try:
            nb = student_version(nbformat.read(path, as_version=4))
        except ValueError as err:
            raise SystemExit(f"{path}: {err}") from None
        target = args.out / path.name
        nbformat.write(nb, target)
        n_code = sum("NotImplementedError()" in c.source for c in nb.cells if c.cell_type == "code")
        print(f"{path} -> {target} ({n_code} code exercises to complete)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
