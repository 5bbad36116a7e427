"""Make the Colab install cell of every chapter (and the README's install line) follow _config.yml.

Usage::

    .venv/bin/python tools/sync_colab.py            # rewrite what differs
    .venv/bin/python tools/sync_colab.py --check    # exit 1 and list what differs

The repository is named in one place, ``repository.url`` in ``_config.yml``. The website's
launch buttons read it at build time; a notebook opened on Colab installs the companion
package from it in its first cell, which is hidden on the website (tags ``remove-cell``,
``colab-setup``) and does nothing outside Colab. This tool writes that cell from the
configuration, so that moving the repository is one edit and one command
(tests/test_book.py fails while they disagree). Only the install cell is touched: the
notebook's other cells and all stored outputs are left as they are.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "_config.yml"
README = ROOT / "README.md"
TAGS = ["remove-cell", "colab-setup"]
CELL = """\
# Colab: install the companion package and enable third-party widgets (skipped elsewhere).
import sys
if "google.colab" in sys.modules:
    %pip install -q "gan_course[{extras}] @ git+{url}"
    from google.colab import output
    output.enable_custom_widget_manager()"""
README_LINE = re.compile(r'(%pip install "gan_course(?:\[\w+\])? @ git\+)([^"]+)(")')


def repository_url(config: Path = CONFIG) -> str:
    url = yaml.safe_load(config.read_text())["repository"]["url"].rstrip("/")
    if not re.match(r"^https://github\.com/[\w.-]+/[\w.-]+$", url):
        raise ValueError(f"{config.name}: repository.url must be https://github.com/<owner>/<name> "
                         f"(Colab opens notebooks from GitHub), got {url!r}")
    return url


def install_cell_source(url: str, extras: str = "widgets") -> str:
    return CELL.format(url=url, extras=extras)


def extras_for(nb) -> str:
    """The package extras a chapter needs on Colab: the widgets always, and ``metrics``
    (torchmetrics) where a code cell imports torchmetrics (Chapter 12)."""
    uses_metrics = any(cell.cell_type == "code" and re.search(r"^\s*(from|import) torchmetrics\b", cell.source, re.M)
                       for cell in nb.cells)
    return "widgets,metrics" if uses_metrics else "widgets"


def _setup_cell(nb):
    for cell in nb.cells:
        if cell.cell_type == "code" and "colab-setup" in cell.metadata.get("tags", []):
            return cell
    first = nb.cells[0] if nb.cells else None
    if first is not None and first.cell_type == "code" and "google.colab" in first.source:
        return first
    return None


def sync_notebook(path: Path, url: str, write: bool) -> list[str]:
    """Problems found in one notebook (fixed on disk when ``write``)."""
    nb = nbformat.read(path, as_version=4)
    cell = _setup_cell(nb)
    want = install_cell_source(url, extras_for(nb))
    problems = []
    if cell is None:
        problems.append(f"{path.name}: no Colab install cell (tagged colab-setup) at the top")
        if write:
            cell = nbformat.v4.new_code_cell(want, metadata={"tags": list(TAGS)})
            nb.cells.insert(0, cell)
    else:
        if cell.source != want:
            problems.append(f"{path.name}: the install cell differs from _config.yml's repository")
            cell.source = want
        tags = cell.metadata.get("tags", [])
        if not set(TAGS) <= set(tags):
            problems.append(f"{path.name}: the install cell lacks the tags {TAGS}")
            cell.metadata["tags"] = list(dict.fromkeys([*tags, *TAGS]))
        if nb.cells.index(cell) != 0:
            problems.append(f"{path.name}: the install cell is not the first cell")
            nb.cells.remove(cell)
            nb.cells.insert(0, cell)
    if problems and write:
        nbformat.write(nb, path)
    return problems


def sync_readme(url: str, write: bool, readme: Path = README) -> list[str]:
    if not readme.is_file():
        return []
    text = readme.read_text()
    new = README_LINE.sub(lambda m: m.group(1) + url + m.group(3), text)
    if new == text:
        return []
    if write:
        readme.write_text(new)
    return [f"{readme.name}: the install line differs from _config.yml's repository"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to sync (default: notebooks/*.ipynb)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if anything differs")
    args = parser.parse_args(argv)
    url = repository_url()
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    problems = [p for path in paths for p in sync_notebook(path, url, write=not args.check)]
    problems += sync_readme(url, write=not args.check)
    for p in problems:
        print(("" if args.check else "fixed: ") + p, file=sys.stderr if args.check else sys.stdout)
    if args.check and problems:
        print("run `.venv/bin/python tools/sync_colab.py`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
