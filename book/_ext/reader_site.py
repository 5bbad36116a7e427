"""Sphinx extension: what a reader meets on the website, fixed once for every chapter.

Loaded by _config.yml (sphinx.local_extensions). The notebooks stay as the authors and the
tests need them (grading and test markers, one output per print, global metadata); this
extension decides how they are shown. tests/test_book.py checks each point in Chromium.

1. **Solutions behind one fold.** A code cell tagged ``solution`` (its source *and* its
   outputs: check verdicts, measured answers, figures) is moved into the folded written
   solution of its exercise (the ``{solution}`` directive that follows it), so nothing of
   an answer shows before a click. Without a written solution it gets a fold of its own.
2. **No test or grading markers on the page.** ``### BEGIN/END SOLUTION``,
   ``# NBVAL_CHECK_OUTPUT`` and the other nbval / nbgrader markers are removed from the
   rendered code (the notebooks keep them).
3. **One box per print run.** Consecutive stream outputs of a cell are merged, and the
   empty views of progress-bar widgets (their state is not stored) are dropped.
4. **Numbers per chapter.** Exercises, figures, tables and proofs are numbered 5.1, 5.2,
   ... in Chapter 5 (Sphinx numbers them through the whole book by default), so that the
   exercise index, references and captions agree with the chapter.
5. **Figures open at full size.** Every output image links to its file.
6. **Colab.** The launch menu offers the student notebook (no solutions, published on the
   branch ``colab_student_branch``) beside the full one.
7. **Landing page directives.** ``{chapter-table}`` lists the chapters of _toc.yml with
   reading and run time measured from the notebooks; ``{book-figure}`` shows a figure
   taken from a chapter's stored outputs, so the landing page never holds a stale copy.
8. **Page chrome.** A layout template drops the theme's second header bar (a duplicate
   search field whose hidden menu button captured the navigation handlers, so that the
   visible menu buttons did nothing) and the search index scripts that only the search
   page needs; site.css / site.js add the reading fixes listed in those files.
"""

from __future__ import annotations

import base64
import hashlib
import math
import os
import re
from pathlib import Path

import nbformat
import yaml
from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.osutil import relative_uri

logger = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent

# ----------------------------------------------------------------------------- markers

MARKER_LINE = re.compile(
    r"^\s*#+\s*(BEGIN|END) (SOLUTION|HIDDEN TESTS)\s*$"  # nbgrader
    r"|^\s*#\s*NBVAL_[A-Z_]+\s*$"  # nbval, on a line of its own
)
MARKER_TAIL = re.compile(r"\s*#\s*NBVAL_[A-Z_]+\s*$")  # nbval after code on the same line


def strip_markers(source: str) -> str:
    """Remove grading and test markers; hidden tests (nbgrader) are removed with their body."""
    out, hidden = [], False
    for line in source.splitlines():
        stripped = line.strip().lstrip("#").strip()
        if stripped == "BEGIN HIDDEN TESTS":
            hidden = True
            continue
        if stripped == "END HIDDEN TESTS":
            hidden = False
            continue
        if hidden or MARKER_LINE.match(line):
            continue
        out.append(MARKER_TAIL.sub("", line))
    # no blank lines left at the start or the end where a marker stood
    while out and not out[0].strip():
        out.pop(0)
    while out and not out[-1].strip():
        out.pop()
    return "\n".join(out)


def _is_code_cell(node) -> bool:
    return isinstance(node, nodes.container) and node.get("nb_element") == "cell_code"


def _cell_tags(node) -> list[str]:
    return [c[len("tag_"):] for c in node.get("classes", []) if c.startswith("tag_")]


def clean_cell_sources(document) -> None:
    for cell in document.findall(_is_code_cell):
        for source in cell.findall(nodes.literal_block):
            parent = source.parent
            if not (isinstance(parent, nodes.container) and parent.get("nb_element") == "cell_code_source"):
                continue
            text = source.astext()
            cleaned = strip_markers(text)
            if cleaned != text:
                source.children = [nodes.Text(cleaned)]
                source.rawsource = cleaned


# ----------------------------------------------------------------------------- streams

def _is_dead_widget_view(node) -> bool:
    """A widget output (e.g. a tqdm progress bar) whose state the notebook does not store."""
    if not (isinstance(node, nodes.container) and node.get("nb_element") == "mime_bundle"):
        return False
    kinds = {child.get("mime_type") for child in node.children}
    return "application/vnd.jupyter.widget-view+json" in kinds and kinds <= {
        "application/vnd.jupyter.widget-view+json", "text/plain"}


def _is_stream(node) -> bool:
    return isinstance(node, nodes.literal_block) and bool({"stream", "stderr"} & set(node["classes"]))


def merge_streams(document, widget_state: bool) -> None:
    """One box per run of prints: merge consecutive stream outputs of the same kind."""
    for output in list(document.findall(lambda n: isinstance(n, nodes.container)
                                        and n.get("nb_element") == "cell_code_output")):
        if not widget_state:
            for child in list(output.children):
                if _is_dead_widget_view(child):
                    output.remove(child)
        previous = None
        for child in list(output.children):
            if _is_stream(child) and _is_stream(previous) and previous["classes"] == child["classes"]:
                text = previous.astext()
                if text and not text.endswith("\n"):
                    text += "\n"
                text += child.astext()
                previous.children = [nodes.Text(text)]
                previous.rawsource = text
                output.remove(child)
                continue
            previous = child
        if not output.children:
            output.parent.remove(output)


# ----------------------------------------------------------------------------- solutions

def _exercise_types():
    from sphinx_exercise.nodes import exercise_enumerable_node, exercise_node, solution_node
    return (exercise_enumerable_node, exercise_node), solution_node


def fold_code_solutions(document) -> None:
    """Move each code cell tagged `solution` into the fold of its exercise's solution."""
    exercise_types, solution_type = _exercise_types()
    label = None
    order = []
    for node in document.findall(lambda n: isinstance(n, exercise_types)
                                 or (_is_code_cell(n) and "solution" in _cell_tags(n))):
        if isinstance(node, exercise_types):
            label = node.get("label")
        else:
            order.append((node, label))
    for cell, label in order:
        # no nested "Show code cell source" inside the fold
        cell.attributes.pop("hide_mode", None)
        parent = cell.parent
        siblings = parent.children[parent.index(cell) + 1:]
        target = None
        for sibling in siblings:
            if isinstance(sibling, solution_type) and sibling.get("target_label") == label:
                target = sibling
                break
            if isinstance(sibling, exercise_types + (nodes.section,)):
                break
        parent.remove(cell)
        if target is not None:
            content = next((c for c in target.children if isinstance(c, nodes.section)), None)
            if content is None:
                content = nodes.section(ids=["solution-content"])
                target.append(content)
            content.insert(0, cell)
            continue
        # A code solution without a written one: a fold of its own, titled like the others.
        fold = nodes.admonition(classes=["solution", "dropdown", "code-solution"])
        title = nodes.title()
        title += nodes.Text("Solution to ")
        if label:
            from sphinx.addnodes import pending_xref
            ref = pending_xref("", refdomain="std", reftype="ref", reftarget=label,
                               refexplicit=False, refwarn=True)
            ref += nodes.inline("", label)
            title += ref
        else:
            title += nodes.Text("the exercise above")
        fold += title
        fold += cell
        parent.insert(len(parent.children) if not siblings else parent.index(siblings[0]), fold)


def reader_transform(app, doctree) -> None:
    """doctree-read: markers, streams and solution folds for notebook pages."""
    if not any(_is_code_cell(n) for n in doctree.findall(nodes.container)):
        return
    source = Path(app.env.doc2path(app.env.docname))
    widget_state = source.suffix == ".ipynb" and bool(
        nbformat.read(source, as_version=4).metadata.get("widgets"))
    clean_cell_sources(doctree)
    merge_streams(doctree, widget_state)
    fold_code_solutions(doctree)


# ----------------------------------------------------------------------------- numbering

CHAPTER = re.compile(r"(?:^|/)(\d+)_[^/]*$")


def chapter_number(docname: str) -> int | None:
    m = CHAPTER.search(docname)
    return int(m.group(1)) if m else None


def number_per_chapter(app, env):
    """env-get-updated, after Sphinx: renumber exercises, figures, proofs 1, 2, ... per page.

    Sphinx numbers them through the whole book when the table of contents is not numbered
    (Exercise 37); a chapter page shows "Exercise 5.3" instead, where 5 is the chapter's
    number from its file name (notebooks/05_dcgan.ipynb). Pages outside the chapters
    number their own items from 1.
    """
    changed = []
    for docname, by_type in env.toc_fignumbers.items():
        prefix = chapter_number(docname)
        new = {}
        for figtype, numbers in by_type.items():
            ordered = sorted(numbers.items(), key=lambda kv: kv[1])
            new[figtype] = {
                ident: ((prefix, i) if prefix is not None else (i,))
                for i, (ident, _) in enumerate(ordered, start=1)
            }
        if new != by_type:
            env.toc_fignumbers[docname] = new
            changed.append(docname)
    return changed


# ----------------------------------------------------------------------------- images

def link_full_size(app, doctree, docname) -> None:
    """doctree-resolved: every output image links to its own file (open it at full size)."""
    if app.builder.format != "html":
        return
    images_dir = relative_uri(app.builder.get_target_uri(docname), app.builder.imagedir)
    for image in list(doctree.findall(nodes.image)):
        if isinstance(image.parent, nodes.reference):
            continue
        uri = image.get("uri", "")
        if uri not in app.env.images:
            continue
        target = app.env.images[uri][1]
        ref = nodes.reference("", "", internal=True, refuri=f"{images_dir}/{target}",
                              classes=["figure-full"], reftitle="Open the figure at full size")
        image.replace_self(ref)
        ref += image


# ----------------------------------------------------------------------------- Colab

def add_student_launch_button(app, pagename, templatename, context, doctree) -> None:
    """html-page-context, after the theme's launch buttons: a Colab link without solutions."""
    branch = app.config.colab_student_branch
    for group in context.get("header_buttons", []):
        if group.get("label") != "launch-buttons":
            continue
        buttons = group.get("buttons", [])
        for button in list(buttons):
            if button.get("text") != "Colab":
                continue
            url = button["url"]
            button["text"] = "Colab (with solutions)"
            button["tooltip"] = "Open this chapter on Colab, with the worked solutions"
            if branch:
                m = re.match(r"(.*/blob/)([^/]+)(/.*)$", url)
                if m:
                    buttons.insert(buttons.index(button), {
                        **button,
                        "text": "Colab (exercises, no solutions)",
                        "tooltip": "Open the student version of this chapter on Colab: "
                                   "the exercises without their solutions",
                        "url": m.group(1) + branch + m.group(3),
                    })


# ----------------------------------------------------------------------------- landing page

WORDS_PER_MINUTE = 150
ELAPSED = re.compile(r"^elapsed_s\s+([0-9.]+)\s*$", re.M)
PROFILE = re.compile(r"^profile\s+(\w+)\s*$", re.M)


def _toc_chapters(root: Path):
    """(part caption, [docname, ...]) from _toc.yml, in reading order."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    for part in toc.get("parts", []):
        yield part.get("caption", ""), [c["file"] for c in part.get("chapters", []) if "file" in c]


def notebook_facts(path: Path) -> dict:
    """Title, reading minutes and the stored run's profile and seconds of one chapter."""
    nb = nbformat.read(path, as_version=4)
    words = 0
    title = path.stem
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            text = re.sub(r"\$\$.*?\$\$|\$[^$]*\$", " x ", cell.source, flags=re.S)
            words += len(re.findall(r"[A-Za-z0-9][\w'-]*", text))
            if title == path.stem and cell.source.lstrip().startswith("# "):
                title = cell.source.lstrip().splitlines()[0][2:].strip()
    elapsed = profile = None
    for cell in reversed(nb.cells):
        for out in cell.get("outputs", []):
            text = out.get("text", "") if out.get("output_type") == "stream" else ""
            if ELAPSED.search(text):
                elapsed = float(ELAPSED.search(text).group(1))
                profile = PROFILE.search(text).group(1) if PROFILE.search(text) else None
                break
        if elapsed is not None:
            break
    return {"title": title, "reading_min": max(5, 5 * round(words / WORDS_PER_MINUTE / 5)),
            "words": words, "elapsed_s": elapsed, "profile": profile}


def _minutes(seconds: float | None) -> str:
    if seconds is None:
        return "not stored"
    return "< 1 min" if seconds < 60 else f"{math.ceil(seconds / 60)} min"


class ChapterTable(SphinxDirective):
    """``{chapter-table}``: one table row per chapter of _toc.yml under notebooks/.

    The content gives one line per chapter, ``notebooks/01_minimax: what it covers``.
    Reading time counts the chapter's prose at 150 words a minute; run time is the
    elapsed time its last cell printed when the stored outputs were made.
    """

    has_content = True

    def run(self):
        root = Path(self.env.srcdir)
        blurbs = {}
        for line in self.content:
            if ":" in line:
                key, text = line.split(":", 1)
                blurbs[key.strip()] = text.strip()
        rows = []
        for caption, files in _toc_chapters(root):
            chapters = [f for f in files if f.startswith("notebooks/")]
            if not chapters:
                continue
            rows.append((caption, None))
            for doc in chapters:
                path = root / f"{doc}.ipynb"
                if not path.is_file():
                    continue
                self.env.note_dependency(str(path))
                rows.append((doc, notebook_facts(path)))
        table = nodes.table(classes=["chapter-table"])
        group = nodes.tgroup(cols=3)
        table += group
        for width in (70, 15, 15):
            group += nodes.colspec(colwidth=width)
        head = nodes.thead()
        group += head
        head += self._row([nodes.Text("Chapter"), nodes.Text("Reading"), nodes.Text("Run")])
        body = nodes.tbody()
        group += body
        for key, facts in rows:
            if facts is None:
                row = nodes.row(classes=["part-row"])
                entry = nodes.entry(morecols=2)
                entry += nodes.paragraph("", "", nodes.strong("", key))
                row += entry
                body += row
                continue
            from sphinx.addnodes import pending_xref
            ref = pending_xref("", refdomain="std", reftype="doc", reftarget=f"/{key}",
                               refexplicit=True, refwarn=True)
            ref += nodes.inline("", facts["title"])
            cell = [ref]
            if blurbs.get(key):
                cell += [nodes.Text(": " + blurbs[key])]
            run = _minutes(facts["elapsed_s"])
            if facts["profile"] and facts["profile"] != "cpu":
                run += f" ({facts['profile']})"
            body += self._row([cell, nodes.Text(f"{facts['reading_min']} min"), nodes.Text(run)])
        return [table]

    @staticmethod
    def _row(cells):
        row = nodes.row()
        for content in cells:
            entry = nodes.entry()
            para = nodes.paragraph()
            para.extend(content if isinstance(content, list) else [content])
            entry += para
            row += entry
        return row


class BookFigure(SphinxDirective):
    """``{book-figure} notebooks/NN_x.ipynb``: an image from a chapter's stored outputs.

    Options: ``:name:`` the figure name in the cell's metadata (``mystnb.figure.name``) or
    ``:match:`` a regular expression the cell's source must contain (first matching cell);
    ``:output:`` which image output of the cell (default 0); ``:alt:`` alt text (default:
    the cell's ``mystnb.image.alt``). The content is the caption. A missing cell is a
    build warning (an error under -W), never a silently missing figure.
    """

    required_arguments = 1
    has_content = True
    option_spec = {"name": directives.unchanged, "match": directives.unchanged,
                   "output": directives.nonnegative_int, "alt": directives.unchanged,
                   "width": directives.unchanged}

    def run(self):
        root = Path(self.env.srcdir)
        path = root / self.arguments[0]
        self.env.note_dependency(str(path))
        nb = nbformat.read(path, as_version=4)
        cell = None
        for c in nb.cells:
            meta = c.get("metadata", {}).get("mystnb", {})
            if "name" in self.options and meta.get("figure", {}).get("name") == self.options["name"]:
                cell = c
                break
            if "match" in self.options and c.cell_type == "code" and re.search(self.options["match"], c.source):
                cell = c
                break
        images = [o["data"]["image/png"] for o in (cell or {}).get("outputs", [])
                  if "image/png" in o.get("data", {})]
        index = self.options.get("output", 0)
        if cell is None or index >= len(images):
            return [self.state.document.reporter.warning(
                f"book-figure: no image output {index} in a cell of {self.arguments[0]} matching "
                f"{self.options}", line=self.lineno)]
        data = base64.b64decode(images[index])
        out_dir = Path(self.env.app.outdir).parent / "book_figures"
        out_dir.mkdir(parents=True, exist_ok=True)
        out = out_dir / f"{hashlib.sha256(data).hexdigest()[:20]}.png"
        if not out.exists():
            out.write_bytes(data)
        meta = cell.get("metadata", {}).get("mystnb", {})
        alt = self.options.get("alt") or meta.get("image", {}).get("alt") or ""
        # Sphinx reads "/path" relative to the source folder (as myst-nb does for outputs)
        image = nodes.image(uri="/" + os.path.relpath(out, root).replace(os.sep, "/"), alt=alt)
        figure = nodes.figure(classes=["book-figure"])
        figure += image
        if self.content:
            caption_nodes, _ = self.state.inline_text(" ".join(self.content), self.lineno)
            figure += nodes.caption("", "", *caption_nodes)
        return [figure]


# ----------------------------------------------------------------------------- setup

def configure(app, config) -> None:
    """config-inited: templates, static files and the settings this site depends on."""
    config.templates_path = [str(HERE / "templates"), *config.templates_path]
    config.html_static_path = [*config.html_static_path, str(HERE / "static")]


def setup(app):
    app.add_config_value("colab_student_branch", "", "html")
    app.connect("config-inited", configure)
    app.add_css_file("site.css")
    app.add_js_file("site.js", defer="defer")
    app.connect("doctree-read", reader_transform)
    app.connect("env-get-updated", number_per_chapter, priority=900)
    app.connect("doctree-resolved", link_full_size)
    app.connect("html-page-context", add_student_launch_button, priority=502)
    app.add_directive("chapter-table", ChapterTable)
    app.add_directive("book-figure", BookFigure)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
