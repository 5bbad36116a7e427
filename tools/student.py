"""Write student versions of the chapters: solutions removed, everything else kept.

Usage (normally ``make student``)::

    .venv/bin/python tools/student.py notebooks/*.ipynb --out _build/student

In every code cell tagged ``solution``, each region between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` becomes ``# YOUR CODE HERE`` and ``raise NotImplementedError()`` (at the
marker's indentation), and the cell's outputs are cleared; its ``hide-input`` tag is dropped
so the student sees the cell. In Markdown cells, every sphinx-exercise ``solution`` directive
(``:::{solution} ...`` up to its closing fence) is removed. These are the markers and the
replacement that nbgrader's ``ClearSolutions`` preprocessor uses, so ``nbgrader
generate_assignment`` produces the same code cells.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = ["# YOUR CODE HERE", "raise NotImplementedError()"]
SOLUTION_DIRECTIVE = re.compile(r"^(?P<fence>:{3,}|`{3,})\{solution\}")


def strip_code(source: str) -> str:
    """Replace every marked solution region of a code cell by the stub."""
    out, inside = [], False
    for line in source.splitlines():
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise ValueError("nested ### BEGIN SOLUTION")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out += [indent + s for s in STUB]
        elif stripped == END:
            if not inside:
                raise ValueError("### END SOLUTION without ### BEGIN SOLUTION")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError("### BEGIN SOLUTION without ### END SOLUTION")
    return "\n".join(out)


def strip_markdown(source: str) -> str:
    """Remove every ``{solution}`` directive block (colon or backtick fences) from Markdown."""
    out, fence = [], None
    for line in source.splitlines():
        if fence is None:
            m = SOLUTION_DIRECTIVE.match(line.strip())
            if m:
                fence = m.group("fence")
                continue
            out.append(line)
        elif line.strip() == fence:
            fence = None
    if fence is not None:
        raise ValueError("a {solution} directive is not closed")
    text = "\n".join(out)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


def student_version(nb):
    """Return a copy of the notebook without solutions."""
    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.cell_type == "code" and (BEGIN in cell.source or "solution" in tags):
            if "solution" not in tags:
                raise ValueError(f"a code cell has solution markers but no 'solution' tag:\n{cell.source[:200]}")
            cell.source = strip_code(cell.source)
            cell.outputs, cell.execution_count = [], None
            cell.metadata["tags"] = [t for t in tags if t != "hide-input"]
        elif cell.cell_type == "markdown" and "{solution}" in cell.source:
            cell.source = strip_markdown(cell.source)
    nb.cells = [c for c in nb.cells if not (c.cell_type == "markdown" and not c.source.strip())]
    return nb


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("_build/student"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for path in args.notebooks:
        nb = student_version(nbformat.read(path, as_version=4))
        target = args.out / path.name
        nbformat.write(nb, target)
        n_code = sum("NotImplementedError()" in c.source for c in nb.cells if c.cell_type == "code")
        print(f"{path} -> {target} ({n_code} code exercises to complete)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
