"""What a student does not see: the one rule shared by ``tools/student.py`` and
``tools/nbgrader_course.py``.

A chapter marks its solutions in two ways:

- code: a code cell tagged ``solution`` holds its solution between the lines
  ``### BEGIN SOLUTION`` and ``### END SOLUTION``. A student sees ``# YOUR CODE HERE`` and
  ``raise NotImplementedError()`` (nbgrader's ``ClearSolutions`` stub, at the marker's
  indentation) instead of each region, the cell without its outputs and without the
  ``hide-input`` tag;
- text: a sphinx-exercise ``{solution}`` directive in a Markdown cell, which a student does
  not see at all.

:func:`parts` reads a chapter once and says what every piece of it is: a cell kept as it is,
a code solution cell, Markdown text outside the solutions (a Markdown cell is cut where a
written solution is taken out), or a written solution, each with the exercise it belongs
to. ``student.py`` keeps the cells and the text and stubs the code solutions;
``nbgrader_course.py`` builds nbgrader's source notebook from the same parts, and nbgrader's
own ``ClearSolutions`` then produces the same cells (``tests/test_nbgrader.py`` compares the
two).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

import nbformat

from exercise_index import directives

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = ["# YOUR CODE HERE", "raise NotImplementedError()"]
TAG = "solution"
SOLUTION_DIRECTIVE = re.compile(r"^(?P<fence>:{3,}|`{3,})\{solution\}\s*(?P<label>\S*)")
# nbgrader acts on any line that merely *contains* these words, in any cell; the book allows
# them only as the exact marker lines of a solution cell, so that both tools agree.
NBGRADER_WORDS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS",
                  "BEGIN MARK SCHEME", "END MARK SCHEME", "### AUTOTEST", "### HASHED AUTOTEST")


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


def split_markdown(source: str) -> list[tuple[str | None, str]]:
    """Cut Markdown at its ``{solution}`` directives (colon or backtick fences).

    Returns ``(None, text)`` for the text around the solutions and ``(label, body)`` for each
    solution, in order; ``body`` is the directive's content without its options
    (``:class: dropdown``). Text pieces are trimmed and never empty.
    """
    pieces: list[tuple[str | None, str]] = []
    text: list[str] = []
    fence, label, body = None, None, []

    def flush_text():
        joined = re.sub(r"\n{3,}", "\n\n", "\n".join(text)).strip("\n")
        if joined.strip():
            pieces.append((None, joined))
        text.clear()

    for line in source.splitlines():
        if fence is None:
            m = SOLUTION_DIRECTIVE.match(line.strip())
            if m:
                flush_text()
                fence, label, body = m.group("fence"), m.group("label"), []
                continue
            text.append(line)
        elif line.strip() == fence:
            content = [b for b in body if not re.match(r"^:[\w-]+:", b.strip())]
            pieces.append((label, "\n".join(content).strip("\n")))
            fence = None
        else:
            body.append(line)
    if fence is not None:
        raise ValueError("a {solution} directive is not closed")
    flush_text()
    return pieces


def strip_markdown(source: str) -> str:
    """Markdown without its ``{solution}`` directives."""
    return "\n\n".join(text for label, text in split_markdown(source) if label is None)


@dataclass
class Exercise:
    """One sphinx-exercise ``exercise`` directive."""

    label: str
    title: str
    kind: str                                    # Derivation, Code, Experiment or Concept
    checks: list[str] = field(default_factory=list)   # check calls of its solution cells


@dataclass
class Part:
    """A piece of a chapter: ``cell`` (kept as it is), ``code`` (a solution cell), ``text``
    (a Markdown cell, or the part of one outside its written solutions) or ``solution``
    (a written solution; ``cell`` is None and ``text`` its body)."""

    kind: str
    cell: nbformat.NotebookNode | None
    exercise: Exercise | None = None
    text: str = ""


def exercises_in(markdown: str) -> list[Exercise]:
    """The exercise directives of a piece of Markdown, with label, title and type."""
    return [Exercise(label, title, kind) for label, title, kind in directives(markdown)]


def python_source(source: str) -> str:
    """A cell's source as plain Python (IPython magics such as %pip turned into calls)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def check_calls(source: str) -> list[str]:
    """The source text of every ``gc.checks.check_...(...)`` call in a code cell, in order."""
    code = python_source(source)
    calls = []
    for node in ast.walk(ast.parse(code)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr.startswith("check_")
                and ast.unparse(node.func.value).split(".")[-1] == "checks"):
            calls.append((node.lineno, node.col_offset, ast.get_source_segment(code, node)))
    return [text for *_, text in sorted(calls)]


def _markers_only_where_allowed(cell, where: str) -> None:
    is_solution = cell.cell_type == "code" and TAG in cell.metadata.get("tags", [])
    for line in cell.source.splitlines():
        if any(word in line for word in NBGRADER_WORDS):
            if is_solution and line.strip() in (BEGIN, END):
                continue
            raise ValueError(f"{where}: the line {line.strip()!r} uses nbgrader's marker words; "
                             f"only a cell tagged '{TAG}' may, and only as the exact lines "
                             f"{BEGIN!r} / {END!r}")


def parts(nb) -> list[Part]:
    """Every piece of a chapter in order, each tied to its exercise where it has one."""
    found: list[Part] = []
    known: dict[str, Exercise] = {}
    current: Exercise | None = None
    for index, cell in enumerate(nb.cells):
        where = f"cell {index}"
        _markers_only_where_allowed(cell, where)
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.cell_type == "code" and TAG in tags:
            if current is None:
                raise ValueError(f"{where}: a solution cell comes before any exercise")
            strip_code(cell.source)             # raises on broken markers
            current.checks += check_calls(cell.source)
            found.append(Part("code", cell, current))
        elif cell.cell_type == "code" and BEGIN in cell.source:
            raise ValueError(f"{where}: a code cell has solution markers but no '{TAG}' tag:\n"
                             f"{cell.source[:200]}")
        elif cell.cell_type == "markdown":
            pieces = split_markdown(cell.source)
            n_text = 0
            for label, text in pieces:
                if label is None:
                    piece = nbformat.from_dict(cell)
                    piece.source = text
                    if n_text and "id" in piece:
                        piece.id = f"{cell.id}-{n_text + 1}"
                    n_text += 1
                    for ex in exercises_in(text):
                        if ex.label in known:
                            raise ValueError(f"{where}: two exercises are labelled {ex.label}")
                        known[ex.label] = current = ex
                    found.append(Part("text", piece, current))
                else:
                    if label not in known:
                        raise ValueError(f"{where}: a {{solution}} for {label!r}, which is not "
                                         f"the label of an exercise above it")
                    found.append(Part("solution", None, known[label], text))
        else:
            found.append(Part("cell", cell, current))
    return found


def solution_cell(cell, *, strip: bool):
    """A code solution cell as a student gets it (``strip``) or as nbgrader's source holds it:
    outputs cleared, ``hide-input`` dropped; with ``strip`` the regions become the stub."""
    cell = nbformat.from_dict(cell)
    if strip:
        cell.source = strip_code(cell.source)
    cell.outputs, cell.execution_count = [], None
    cell.metadata["tags"] = [t for t in cell.metadata.get("tags", []) if t != "hide-input"]
    return cell


def student_cells(nb) -> list:
    """The cells of the student version: what :func:`parts` keeps, with the code stubbed."""
    cells = []
    for part in parts(nb):
        if part.kind == "code":
            cells.append(solution_cell(part.cell, strip=True))
        elif part.kind in ("cell", "text"):
            cells.append(part.cell)
    return cells
