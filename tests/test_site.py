"""The website's building blocks, without building the book: the Sphinx extensions in
book/_ext, the maintainer tools (sync_colab, format_notebooks, execute's output tidying,
the exercise index) and ``viz.animate``. tests/test_book.py checks the built site."""

from __future__ import annotations

import base64
import copy
import io
import re
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))
sys.path.insert(0, str(ROOT / "tools"))

import exercise_index  # noqa: E402
import execute  # noqa: E402
import format_notebooks  # noqa: E402
import offline_site  # noqa: E402
import reader_site  # noqa: E402
import sync_colab  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


# --------------------------------------------------------------------- reader_site

def test_markers_are_removed_and_code_is_kept():
    source = (
        "def f(x):\n"
        "    ### BEGIN SOLUTION\n"
        "    return x + 1  # NBVAL_IGNORE_OUTPUT\n"
        "    ### END SOLUTION\n"
        "# NBVAL_CHECK_OUTPUT\n"
        "### BEGIN HIDDEN TESTS\n"
        "assert f(1) == 2\n"
        "### END HIDDEN TESTS\n"
        "print(f(1))  # the answer\n"
    )
    assert reader_site.strip_markers(source) == (
        "def f(x):\n    return x + 1\nprint(f(1))  # the answer")
    # an ordinary comment that mentions a solution stays
    assert reader_site.strip_markers("# see the solution below\nx = 1") == "# see the solution below\nx = 1"


def test_chapter_numbers_come_from_file_names():
    assert reader_site.chapter_number("notebooks/05_dcgan") == 5
    assert reader_site.chapter_number("notebooks/12_practice") == 12
    assert reader_site.chapter_number("book/intro") is None


def test_numbers_restart_in_every_chapter():
    class Env:
        toc_fignumbers = {
            "notebooks/04_mode_collapse": {"exercise": {"ex-4-b": (21,), "ex-4-a": (20,)},
                                           "figure": {"fig-x": (3,)}},
            "notebooks/05_dcgan": {"exercise": {"ex-5-a": (22,), "ex-5-b": (23,), "ex-5-c": (24,)}},
            "book/intro": {"figure": {"id1": (1,)}},
        }

    env = Env()
    changed = reader_site.number_per_chapter(None, env)
    assert env.toc_fignumbers["notebooks/04_mode_collapse"]["exercise"] == {"ex-4-a": (4, 1), "ex-4-b": (4, 2)}
    assert env.toc_fignumbers["notebooks/04_mode_collapse"]["figure"] == {"fig-x": (4, 1)}
    assert env.toc_fignumbers["notebooks/05_dcgan"]["exercise"]["ex-5-c"] == (5, 3)
    assert env.toc_fignumbers["book/intro"]["figure"] == {"id1": (1,)}
    assert set(changed) == {"notebooks/04_mode_collapse", "notebooks/05_dcgan"}
    assert reader_site.number_per_chapter(None, env) == []  # stable


def test_notebook_facts_read_the_stored_run():
    facts = reader_site.notebook_facts(ROOT / "notebooks" / "01_minimax.ipynb")
    assert facts["title"].startswith("1.")
    assert facts["words"] > 1000 and facts["reading_min"] % 5 == 0
    assert facts["reading_min"] == max(5, 5 * round(facts["words"] / 150 / 5))
    nb = nbformat.read(ROOT / "notebooks" / "01_minimax.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert facts["elapsed_s"] == float(re.search(r"elapsed_s\s+([0-9.]+)", printed).group(1))


# --------------------------------------------------------------------- offline_site

def _png(array: np.ndarray) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(array).save(out, "PNG")
    return out.getvalue()


def _pixels(data: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))


@pytest.mark.parametrize("kind", ["grey", "few colours", "many colours"])
def test_frames_are_reencoded_without_loss(kind):
    rng = np.random.default_rng(0)
    if kind == "grey":
        v = rng.integers(0, 256, (40, 50), dtype=np.uint8)
        rgba = np.dstack([v, v, v, np.full_like(v, 255)])
    elif kind == "few colours":
        palette = rng.integers(0, 256, (7, 3), dtype=np.uint8)
        rgb = palette[rng.integers(0, 7, (40, 50))]
        rgba = np.dstack([rgb, np.full((40, 50), 255, np.uint8)])
    else:
        rgba = np.dstack([rng.integers(0, 256, (40, 50, 3), dtype=np.uint8), np.full((40, 50), 255, np.uint8)])
    data = _png(rgba)
    out, kind_out = offline_site.optimise_png(data)
    assert kind_out == "png"
    assert np.array_equal(_pixels(out), rgba), "re-encoding changed pixels"
    assert len(out) <= len(data)
    if kind != "many colours":
        assert len(out) < 0.8 * len(data)


def test_animation_frames_become_files_and_the_player_opens_on_the_marked_frame(tmp_path):
    import matplotlib.pyplot as plt

    from gan_course import viz

    fig, ax = plt.subplots(figsize=(3, 2))
    (line,) = ax.plot([0, 1], [0, 0])
    html = viz.animate(fig, lambda i: line.set_ydata([0, i]), frames=4, start=1).data
    out = offline_site.externalise_animation(html, tmp_path, "../_images")
    frames = re.findall(r'frames\[\d+\]\s*=\s*"([^"]+)"', out)
    assert len(frames) == 4 and all(f.startswith("../_images/anim-") for f in frames)
    assert "data:image" not in out
    assert all((tmp_path / f.rsplit("/", 1)[1]).is_file() for f in frames)
    assert "loop_select_id, 1)" in out, "the player must be built on the marked frame"
    assert "this.frames[i] = {src: frames[i]};" in out, "frames load when shown, not all at once"
    assert len(out) < len(html) / 5
    # without a marker (older stored notebooks): the last frame
    unmarked = html.replace('data-start-frame="1"', "")
    assert "loop_select_id, 3)" in offline_site.externalise_animation(unmarked, tmp_path, "x")


def test_fontawesome_subset_keeps_only_the_icons_named():
    text = ('var a={rocket:[512,512,[128640],"f135","M1 1"],"forward-step":[320,512,["step-forward"],'
            '"f051","M2 2"],0:[320,512,[],"30","M3 3"],github:[496,512,[],"f09b","M4 4"]};defineIcons(a);')
    subset, kept = offline_site.subset_fontawesome_js(text, {"rocket", "step-forward"})
    assert kept == 2
    assert "rocket:" in subset and '"forward-step"' in subset and "github" not in subset and '0:[' not in subset
    assert subset.endswith("};defineIcons(a);")


def test_the_theme_fontawesome_is_parsed():
    import pydata_sphinx_theme

    js = Path(pydata_sphinx_theme.__file__).parent / "theme" / "pydata_sphinx_theme" / "static" / "scripts" / "fontawesome.js"
    text = js.read_text()
    subset, kept = offline_site.subset_fontawesome_js(text, {"rocket", "bars", "github", "play", "fast-forward"})
    assert kept == 5, "the theme's fontawesome.js changed format: update ICON_ENTRY"
    assert len(subset) < len(text) / 10


def test_fonts_keep_icon_rules_only_for_icons_in_use(tmp_path):
    (tmp_path / "a.css").write_text(
        '.fa-rocket:before{content:"\\f135"}.fa-github:before,.fa-git:before{content:"\\f09b"}'
        '.admonition-title:after{content:"\\f06a"}html{--pst-icon-x:"\\f107"}')
    assert offline_site.used_codepoints(tmp_path, {"rocket"}) == {0xF135, 0xF06A, 0xF107}


# --------------------------------------------------------------------- tools

def test_sync_colab_rewrites_only_the_install_cell(tmp_path):
    source = ROOT / "notebooks" / "06_lsgan.ipynb"
    path = tmp_path / source.name
    path.write_bytes(source.read_bytes())
    url = sync_colab.repository_url()
    assert sync_colab.sync_notebook(path, url, write=False) == []
    other = "https://github.com/someone/elsewhere"
    problems = sync_colab.sync_notebook(path, other, write=True)
    assert problems and "differs" in problems[0]
    before, after = nbformat.read(source, 4), nbformat.read(path, 4)
    assert f"git+{other}" in after.cells[0].source and after.cells[0].source == sync_colab.install_cell_source(other)
    assert {"remove-cell", "colab-setup"} <= set(after.cells[0].metadata["tags"])
    assert [c.get("outputs") for c in before.cells] == [c.get("outputs") for c in after.cells]
    assert [c.source for c in before.cells[1:]] == [c.source for c in after.cells[1:]]
    assert sync_colab.sync_notebook(path, other, write=False) == []


def test_sync_colab_refuses_a_url_colab_cannot_open(tmp_path):
    config = tmp_path / "_config.yml"
    config.write_text("repository:\n  url: https://gitlab.com/a/b\n")
    with pytest.raises(ValueError, match="github.com"):
        sync_colab.repository_url(config)


def test_readme_install_line_follows(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text('x\n%pip install "gan_course @ git+https://github.com/old/place"\n')
    assert sync_colab.sync_readme("https://github.com/new/place", write=True, readme=readme)
    assert "git+https://github.com/new/place\"" in readme.read_text()


def test_format_wraps_code_strings_and_comments_at_79():
    source = (
        "result = some_function(first_argument, second_argument, third_argument, fourth)\n"
        'print(f"a long message about {result:.3f} that goes on and on past the column edge")\n'
        "# a comment that is much longer than the column allows, so it must be rewrapped here\n"
        'x = "# not a comment, inside a string"  # a trailing comment that pushes it too far\n'
        "%timeit x\n"
    )
    out = format_notebooks.format_source(source)
    assert max(len(line) for line in out.splitlines()) <= 79
    assert '"# not a comment, inside a string"' in out and "%timeit x" in out
    assert format_notebooks.format_source(out) == out, "formatting must be stable"


def test_format_keeps_markers_and_outputs(tmp_path):
    source = ROOT / "notebooks" / "01_minimax.ipynb"
    path = tmp_path / source.name
    path.write_bytes(source.read_bytes())
    format_notebooks.format_notebook(path, write=True)
    before, after = nbformat.read(source, 4), nbformat.read(path, 4)
    assert [c.get("outputs") for c in before.cells] == [c.get("outputs") for c in after.cells]
    for b, a in zip(before.cells, after.cells):
        for marker in ("### BEGIN SOLUTION", "### END SOLUTION", "# NBVAL_CHECK_OUTPUT"):
            assert b.source.count(marker) == a.source.count(marker)
    changed, problems = format_notebooks.format_notebook(path, write=False)
    assert changed == 0 and not problems


def test_tidy_outputs_merges_consecutive_prints_only():
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("...")
    view = {"application/vnd.jupyter.widget-view+json": {"model_id": "x"}, "text/plain": "0%|"}
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="a\n"),
        nbformat.v4.new_output("display_data", data=view),
        nbformat.v4.new_output("stream", name="stdout", text="b\n"),
        nbformat.v4.new_output("stream", name="stderr", text="warn\n"),
        nbformat.v4.new_output("stream", name="stdout", text="c\n"),
        nbformat.v4.new_output("display_data", data={"image/png": "iVBOR", "text/plain": "<Figure>"}),
        nbformat.v4.new_output("stream", name="stdout", text="d\n"),
    ]
    nb.cells.append(cell)
    assert execute.tidy_outputs(nb) == 2
    kinds = [(o.output_type, o.get("name"), o.get("text")) for o in cell.outputs]
    assert kinds == [("stream", "stdout", "a\nb\n"), ("stream", "stderr", "warn\n"), ("stream", "stdout", "c\n"),
                     ("display_data", None, None), ("stream", "stdout", "d\n")]
    nbformat.validate(nb)


def test_execute_reports_slow_cells_as_they_end(tmp_path, capsys):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# title"),
                nbformat.v4.new_code_cell("import time\n\ntime.sleep(0.6)  # the slow one"),
                nbformat.v4.new_code_cell("x = 1")]
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    assert execute.main([str(path), "--out", str(tmp_path / "out"), "--cell-times", "0.5"]) == 0
    report = [ln for ln in capsys.readouterr().out.splitlines() if ln.strip().startswith("cell")]
    assert len(report) == 1, report  # the quick cell and the markdown cell are not listed
    index, seconds = report[0].split()[1:3]
    assert index == "1" and 0.6 <= float(seconds) < 5 and report[0].endswith("import time")
    assert (tmp_path / "out" / "nb.ipynb").exists() and nbformat.read(path, 4).cells[1].outputs == []


def test_exercise_times_come_from_the_guide_for_instructors():
    times = exercise_index.time_estimates()
    text = (ROOT / "book" / "instructors.md").read_text()
    for kind, minutes in times.items():
        low, high = minutes.replace(" min", "").split("-")
        assert re.search(rf"^\| {kind.lower()}\b[^|]*\| {low}-{high} minutes", text, flags=re.M), kind
    with pytest.raises(ValueError, match="no time estimate"):
        exercise_index.time_estimates("| code | 10-20 minutes |\n")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_exercises_are_numbered_per_chapter(path):
    found = exercise_index.exercises(path)
    chapter = int(path.stem.split("_")[0])
    assert [e["number"] for e in found] == [f"{chapter}.{i}" for i in range(1, len(found) + 1)]


# --------------------------------------------------------------------- viz.animate

def test_animate_opens_on_the_last_frame_at_readable_dpi():
    import matplotlib.pyplot as plt
    from PIL import Image

    from gan_course import viz

    fig, ax = plt.subplots(figsize=(4, 3), dpi=72)
    (line,) = ax.plot([0, 1], [0, 0])
    html = viz.animate(fig, lambda i: line.set_ydata([0, i]), frames=5).data
    assert 'data-start-frame="4"' in html and re.search(r"anim\w+\.set_frame\(4\);", html)
    first = re.search(r'base64,([^"]+)"', html).group(1).replace("\\\n", "")
    assert Image.open(io.BytesIO(base64.b64decode(first))).size == (400, 300)  # 100 dpi, not 72
    html = viz.animate(plt.figure(), lambda i: None, frames=5, start=-2).data
    assert 'data-start-frame="3"' in html
    with pytest.raises(ValueError, match="not a frame"):
        viz.animate(plt.figure(), lambda i: None, frames=5, start=5)


def test_animate_keeps_row_labels_inside_the_frame():
    import matplotlib.pyplot as plt
    import torch

    from gan_course import viz

    fig, ax = plt.subplots(figsize=(5, 2.4), dpi=80)
    images = torch.zeros(10, 1, 8, 8)

    def frame(i):
        ax.clear()
        viz.image_grid(images, nrow=5, ax=ax, row_labels=["a long label ->", "another one ->"])

    viz.animate(fig, frame, frames=2, close=False)
    box = fig.get_tightbbox(fig.canvas.get_renderer())
    assert box.x0 >= -0.01 and box.x1 <= fig.get_figwidth() + 0.01, "labels cut at the frame's edge"
    plt.close(fig)


def test_publish_commits_without_touching_the_working_tree(tmp_path):
    import subprocess

    import publish

    repo = tmp_path / "repo"
    repo.mkdir()
    git = lambda *a: subprocess.run(["git", *a], cwd=repo, check=True, capture_output=True, text=True).stdout
    git("init", "-q", "-b", "main")
    git("config", "user.email", "t@example.org")
    git("config", "user.name", "t")
    (repo / "_config.yml").write_text("sphinx:\n  config:\n    colab_student_branch: student\n")
    (repo / "kept.txt").write_text("work in progress\n")
    git("add", "_config.yml")
    git("commit", "-q", "-m", "start")
    html = repo / "_build" / "html"
    (html / "_static").mkdir(parents=True)
    (html / "index.html").write_text("<html></html>")
    (html / "_static" / "a.css").write_text("a{}")
    student = repo / "_build" / "student"
    student.mkdir(parents=True)
    (student / "01_minimax.ipynb").write_text("{}")

    assert publish.main(["site", "--repo", str(repo)]) == 0
    assert publish.main(["student", "--repo", str(repo)]) == 0
    site_files = set(git("ls-tree", "-r", "--name-only", "gh-pages").split())
    assert site_files == {".nojekyll", "index.html", "_static/a.css"}
    assert "notebooks/01_minimax.ipynb" in git("ls-tree", "-r", "--name-only", "student").split()
    assert git("rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
    assert "kept.txt" in git("status", "--porcelain")  # untracked work left alone
    first = git("rev-parse", "gh-pages").strip()
    (html / "index.html").write_text("<html>2</html>")
    publish.main(["site", "--repo", str(repo)])
    assert git("rev-parse", "gh-pages^").strip() == first  # one commit on top of the last


def _cell(tags, code="x = 1"):
    from docutils import nodes

    cell = nodes.container(nb_element="cell_code", classes=["cell", *[f"tag_{t}" for t in tags]])
    cell["hide_mode"] = "input"
    source = nodes.container(nb_element="cell_code_source", classes=["cell_input"])
    source += nodes.literal_block(code, code)
    cell += source
    return cell


def test_code_solutions_move_into_their_solution_fold():
    from docutils import nodes
    from docutils.utils import new_document
    from sphinx_exercise.nodes import exercise_enumerable_node, solution_node

    doc = new_document("test")
    section = nodes.section()
    doc += section
    for label, written in (("ex-1-a", True), ("ex-1-b", False)):
        section += exercise_enumerable_node(label=label)
        section += _cell(["solution", "hide-input"], "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION")
        if written:
            sol = solution_node(target_label=label)
            sol += nodes.title("", "Solution")
            sol += nodes.section(ids=["solution-content"])
            section += sol
    reader_site.clean_cell_sources(doc)
    reader_site.fold_code_solutions(doc)
    cells = [n for n in doc.findall(nodes.container) if n.get("nb_element") == "cell_code"]
    assert len(cells) == 2
    first, second = cells
    assert isinstance(first.parent.parent, solution_node), "the code goes first into the written solution"
    assert first.parent.index(first) == 0 and "hide_mode" not in first
    fold = second.parent
    assert isinstance(fold, nodes.admonition) and {"solution", "dropdown"} <= set(fold["classes"])
    assert fold.children[0].astext().startswith("Solution to")
    assert first.astext() == "def f():\n    return 1"
