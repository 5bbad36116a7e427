"""Wrap the code cells of chapter notebooks at 79 characters (black), leaving outputs alone.

Usage::

    .venv/bin/python tools/format_notebooks.py notebooks/*.ipynb           # rewrite in place
    .venv/bin/python tools/format_notebooks.py --check notebooks/*.ipynb   # exit 1 if any would change

The website's code column holds about 81 characters at 1280 px; longer lines scroll
sideways with their ends hidden. Every code cell is formatted with black at line length
79 (the pinned black of requirements.txt; IPython magics such as ``%pip`` are handled
through black's Jupyter support), with black's string processing, which splits long
string literals (f-strings included) into adjacent pieces. Comments black leaves long
are then rewrapped: a comment line becomes several, a comment after code moves to its own
line above. black checks that the formatted code is equivalent to the original (same
syntax tree); the comment step checks the same with ``ast``, so no computation changes.

Only the cells' source changes: outputs, execution counts and metadata stay, so the stored
results remain the website's and nbval's ``# NBVAL_CHECK_OUTPUT`` cells still match.
Cells hidden on the website (tag ``remove-cell``, e.g. the Colab install cell) are
formatted too but not reported. Lines that are still too long are listed at the end, to
rewrap by hand (tests/test_book.py checks the longest line shown on each page).
"""

from __future__ import annotations

import argparse
import ast
import sys
import textwrap
from pathlib import Path

import nbformat

LINE_LENGTH = 79


def _black():
    try:
        import black
    except ImportError as err:  # pragma: no cover - the pinned toolchain has it
        raise SystemExit("black is not installed: pip install -r requirements.txt") from err
    return black


class FormatError(ValueError):
    """black refused a cell (invalid Python, an unsupported magic, or not equivalent)."""


def format_source(source: str, line_length: int = LINE_LENGTH) -> str:
    """One code cell's source formatted by black, then its long comments rewrapped."""
    black = _black()
    mode = black.Mode(line_length=line_length, is_ipynb=True, preview=True,
                      enabled_features={black.Preview.string_processing})
    current = source
    for _ in range(3):  # moving a comment can let black join lines again; repeat until stable
        try:
            formatted = black.format_cell(current, fast=False, mode=mode)
        except black.NothingChanged:
            formatted = current
        except Exception as err:
            raise FormatError(str(err).splitlines()[0] if str(err) else type(err).__name__) from err
        wrapped = wrap_comments(formatted, line_length)
        if wrapped == current:
            break
        current = wrapped
    return current


def _split_comment(line: str) -> tuple[str, str] | None:
    """Split ``code  # comment`` at the first '#' outside a string literal (None if no code)."""
    quote, i = None, 0
    while i < len(line):
        ch = line[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if line.startswith(quote, i):
                i += len(quote)
                quote = None
                continue
        elif ch in "'\"":
            quote = line[i:i + 3] if line[i:i + 3] in ('"""', "'''") else ch
            i += len(quote)
            continue
        elif ch == "#":
            code = line[:i].rstrip()
            return (code, line[i:]) if code.strip() else None
        i += 1
    return None


def wrap_comments(source: str, line_length: int = LINE_LENGTH) -> str:
    """Rewrap comments longer than the line; leave everything else exactly as it is."""
    out = []
    for line in source.splitlines():
        if len(line) <= line_length:
            out.append(line)
            continue
        indent = line[: len(line) - len(line.lstrip())]
        stripped = line.strip()
        if stripped.startswith("#") and not stripped.startswith(("#!", "###", "# NBVAL")):
            text = stripped.lstrip("#").strip()
            out += textwrap.wrap(text, width=line_length, initial_indent=indent + "# ",
                                 subsequent_indent=indent + "# ", break_long_words=False,
                                 break_on_hyphens=False) or [line]
            continue
        split = _split_comment(line)
        if split and "NBVAL" not in split[1]:
            code, comment = split
            out += textwrap.wrap(comment.lstrip("#").strip(), width=line_length,
                                 initial_indent=indent + "# ", subsequent_indent=indent + "# ",
                                 break_long_words=False, break_on_hyphens=False)
            out.append(code)
            continue
        out.append(line)
    result = "\n".join(out)
    try:
        same = ast.dump(ast.parse(_mask_magics(result))) == ast.dump(ast.parse(_mask_magics(source)))
    except SyntaxError:  # not Python even with magics masked: leave the comments as they were
        return source
    return result if same else source


def _mask_magics(source: str) -> str:
    """IPython magics and shell escapes as ``pass`` (same indentation), so ``ast`` can parse."""
    return "\n".join(line[: len(line) - len(line.lstrip())] + "pass"
                     if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def format_notebook(path: Path, write: bool, line_length: int = LINE_LENGTH) -> tuple[int, list[str]]:
    """Return (cells changed, problems left); write the notebook when ``write``."""
    nb = nbformat.read(path, as_version=4)
    changed, problems = 0, []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or "colab-setup" in cell.metadata.get("tags", []):
            continue    # the Colab install cell is written by tools/sync_colab.py, as it is
        try:
            new = format_source(cell.source, line_length)
        except FormatError as err:
            problems.append(f"{path.name}: cell {index} left unformatted: {err}")
            continue
        if new != cell.source:
            changed += 1
            cell.source = new
        if "remove-cell" in cell.metadata.get("tags", []):
            continue
        for number, line in enumerate(new.splitlines(), start=1):
            if len(line) > line_length:
                problems.append(f"{path.name}: cell {index}, line {number}: {len(line)} characters")
    if changed and write:
        tmp = path.with_suffix(".ipynb.tmp")
        nbformat.write(nb, tmp)
        tmp.replace(path)
    return changed, problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a cell would change")
    parser.add_argument("--line-length", type=int, default=LINE_LENGTH)
    args = parser.parse_args(argv)
    would_change, too_long = 0, []
    for path in args.notebooks:
        changed, long_lines = format_notebook(path, write=not args.check, line_length=args.line_length)
        would_change += changed
        too_long += long_lines
        verb = "would reformat" if args.check else "reformatted"
        print(f"{path}: {verb} {changed} code cells")
    if too_long:
        print(f"\n{len(too_long)} problems left (lines longer than {args.line_length} characters "
              "that no rule could shorten, or cells black refused): fix them by hand")
        for line in too_long:
            print("  " + line)
    return 1 if args.check and (would_change or too_long) else 0


if __name__ == "__main__":
    sys.exit(main())
