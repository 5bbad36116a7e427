"""Generate book/exercises.md: every exercise of every chapter, numbered as on its page.

Usage (``make exercises``)::

    .venv/bin/python tools/exercise_index.py            # rewrite book/exercises.md
    .venv/bin/python tools/exercise_index.py --check    # exit 1 if the page is out of date

An exercise is a sphinx-exercise directive in a Markdown cell::

    :::{exercise} Title
    :label: ex-1-value

    (Code) Write ...

Its type is the word in parentheses that starts its body: Derivation, Code, Experiment or
Concept. Code exercises name the check function they are checked with (``gc.checks.check_*``).

Each row gives the exercise's number in its chapter (4.3: the third exercise of
notebooks/04_*.ipynb; the website numbers exercises per chapter, book/_ext/reader_site.py),
its title, its type, the time the guide for instructors (book/instructors.md, "Time per
exercise") gives for that type, and its check. The number is a reference, so Sphinx prints
the number of the exercise it links to; tests/test_book.py checks that both agree.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "book" / "exercises.md"
TYPES = ("Derivation", "Code", "Experiment", "Concept")
EXERCISE = re.compile(r"^:::+\{exercise\}\s*(?P<title>.*)$")
LABEL = re.compile(r"^:label:\s*(?P<label>\S+)")
TYPE = re.compile(r"^\((?P<type>[A-Za-z]+)\)")
CHECK = re.compile(r"gc\.checks\.(check_\w+)")
INSTRUCTORS = ROOT / "book" / "instructors.md"
CHAPTER = re.compile(r"^(\d+)_")
TIME = re.compile(r"(\d+)\s*[-\u2013]\s*(\d+)\s*minutes")


def chapter_number(path: Path) -> int:
    m = CHAPTER.match(path.stem)
    if not m:
        raise ValueError(f"{path.name}: chapter notebooks are named NN_topic.ipynb")
    return int(m.group(1))


def time_estimates(text: str | None = None) -> dict[str, str]:
    """Minutes per exercise type, from the table in the guide for instructors.

    The table's rows start with the type's name (``| code (write a function...) |
    10-20 minutes | ...``); the result maps "Code" to "10-20 min".
    """
    text = INSTRUCTORS.read_text() if text is None else text
    found = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or not cells[0]:
            continue
        kind = cells[0].split()[0].capitalize()
        m = TIME.search(cells[1])
        if kind in TYPES and m and kind not in found:
            found[kind] = f"{m.group(1)}-{m.group(2)} min"
    missing = [t for t in TYPES if t not in found]
    if missing:
        raise ValueError(f"{INSTRUCTORS.relative_to(ROOT)} has no time estimate for {missing}: the "
                         "exercise index takes its times from the table 'type | typical time | ...'")
    return found


def directives(markdown: str) -> list[tuple[str, str, str]]:
    """The exercise directives of a piece of Markdown, in order, as (label, title, type)."""
    found = []
    lines = markdown.splitlines()
    for j, line in enumerate(lines):
        m = EXERCISE.match(line.strip())
        if not m:
            continue
        label, kind = None, None
        for nxt in lines[j + 1:]:
            s = nxt.strip()
            if s.startswith(":::"):
                break
            if LABEL.match(s):
                label = LABEL.match(s).group("label")
            elif s and not s.startswith(":") and kind is None:
                t = TYPE.match(s)
                kind = t.group("type") if t else None
        if label is None:
            raise ValueError(f"exercise {m.group('title')!r} has no :label:")
        if kind not in TYPES:
            raise ValueError(f"exercise {label} must start with one of "
                             f"{', '.join('(' + t + ')' for t in TYPES)}, found {kind!r}")
        found.append((label, m.group("title").strip(), kind))
    return found


def exercises(path: Path) -> list[dict]:
    """The exercises of one notebook, in order, with number, title, label, type and check."""
    nb = nbformat.read(path, as_version=4)
    chapter = chapter_number(path)
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        try:
            in_cell = directives(cell.source)
        except ValueError as error:
            raise ValueError(f"{path.name}: {error}") from None
        for label, title, kind in in_cell:
            check = None
            if kind == "Code":
                text = "\n".join(c.source for c in nb.cells[i:i + 3] if c.cell_type == "code")
                hit = CHECK.search(text)
                check = hit.group(1) if hit else None
            found.append({"number": f"{chapter}.{len(found) + 1}", "title": title,
                          "label": label, "type": kind, "check": check})
    return found


def chapter_title(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.lstrip().startswith("# "):
            return cell.source.lstrip().splitlines()[0][2:].strip()
    return path.stem


def render(notebooks: list[Path]) -> str:
    rows = {path: exercises(path) for path in notebooks}
    times = time_estimates()
    counts = {t: sum(e["type"] == t for ex in rows.values() for e in ex) for t in TYPES}
    total = sum(counts.values())
    out = [
        "# Exercises",
        "",
        "Every exercise of the book, chapter by chapter, numbered as in its chapter (4.3 is the",
        "third exercise of Chapter 4). The type says what it asks for: a **derivation** on paper,",
        "**code** to write and check with the package's check function, an **experiment** to",
        "predict and then measure, or a **concept** to explain. The time is the typical time for",
        "the type, from the [guide for instructors](instructors.md), for a student who has read",
        "the chapter. Code exercises name the function of `gc.checks` that checks them. Every",
        "exercise has a worked solution on its chapter's page, folded until you open it; the",
        "student notebooks (see the guide) do not contain them.",
        "",
        f"In all: {total} exercises, " + ", ".join(f"{counts[t]} {t.lower()}" for t in TYPES) + ".",
        "",
        "<!-- generated by tools/exercise_index.py; edit the notebooks, then run `make exercises` -->",
    ]
    for path, ex in rows.items():
        out += ["", f"## {chapter_title(path)}", "",
                "| no. | exercise | type | time | check |", "|---|---|---|---|---|"]
        for e in ex:
            check = f"`{e['check']}`" if e["check"] else ""
            title = e["title"].replace("|", "\\|")
            out.append(f"| {{numref}}`%s <{e['label']}>` | {title} | {e['type'].lower()} | "
                       f"{times[e['type']]} | {check} |")
    return "\n".join(out) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if book/exercises.md is out of date")
    args = parser.parse_args(argv)
    text = render(sorted((ROOT / "notebooks").glob("*.ipynb")))
    if args.check:
        if not PAGE.exists() or PAGE.read_text() != text:
            print("book/exercises.md is out of date: run `make exercises`", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(text)
    print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
