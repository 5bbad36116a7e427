"""The book as an nbgrader course (tools/nbgrader_course.py), tested with nbgrader itself:
graded cells, student versions equal to `make student`, and an autograde round trip."""

import csv
import os
import re
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import exercise_index  # noqa: E402
import nbgrader_course  # noqa: E402
import solutions  # noqa: E402
import student  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
IDS = [p.stem for p in NOTEBOOKS]
BIN = Path(sys.executable).parent          # nbgrader calls `alembic` from the same environment
NBGRADER_ONLY = ("nbgrader", "editable", "deletable")   # cell metadata that nbgrader adds

# The round trip grades this chapter (two code exercises, quick under smoke); Bob's wrong
# answer is a typical mistake that check_pack names.
ROUND_TRIP = "04_mode_collapse"
WRONG = {"ex-4-pack": "def pack(x, m):\n    b, d = x.shape\n    return x.T.reshape(b // m, m * d)\n\n\n"
                      "gc.checks.check_pack(pack)"}


def read(path):
    return nbformat.read(path, as_version=4)


def nbgrader_meta(cell):
    return cell.metadata.get("nbgrader", {})


def worked_solutions(nb):
    """label -> text of every {solution} directive, read independently of tools/solutions.py."""
    found = {}
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        fence, label, body = None, None, []
        for line in cell.source.splitlines():
            m = re.match(r"^(:{3,})\{solution\}\s+(\S+)", line.strip())
            if fence is None and m:
                fence, label, body = m.group(1), m.group(2), []
            elif fence is not None and line.strip() == fence:
                found[label] = "\n".join(body)
                fence = None
            elif fence is not None:
                body.append(line)
    return found


# ---------------------------------------------------------------- the source notebooks


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_exercise_becomes_a_graded_cell(path):
    original = read(path)
    source = nbgrader_course.course_version(original)
    nbformat.validate(source)
    cells = {nbgrader_meta(c).get("grade_id"): (i, c) for i, c in enumerate(source.cells) if nbgrader_meta(c)}
    ids = [nbgrader_meta(c)["grade_id"] for c in source.cells if nbgrader_meta(c)]
    assert len(ids) == len(set(ids)), "grade ids must be unique"
    assert len({c.id for c in source.cells}) == len(source.cells), "cell ids must be unique"
    written = worked_solutions(original)
    exercises = exercise_index.exercises(path)
    for ex in exercises:
        label, kind = ex["label"], ex["type"]
        if kind == "Code":
            i, test = cells[f"{label}-test"]
            meta = nbgrader_meta(test)
            assert meta["grade"] and meta["locked"] and not meta["solution"]
            assert meta["points"] == nbgrader_course.POINTS["Code"]
            assert f"gc.checks.{ex['check']}(" in test.source and "assert verdict.passed" in test.source
            answer = source.cells[i - 1]        # the answer cell that calls the same check
            assert nbgrader_meta(answer)["solution"] and not nbgrader_meta(answer)["grade"]
            assert f"gc.checks.{ex['check']}(" in answer.source and solutions.BEGIN in answer.source
        else:
            _, answer = cells[f"{label}-answer"]
            meta = nbgrader_meta(answer)
            assert answer.cell_type == "markdown" and meta["grade"] and meta["solution"]
            assert meta["points"] == nbgrader_course.POINTS[kind]
            longest = max(written[label].splitlines(), key=len).strip()
            assert len(longest) > 30 and longest in answer.source, "the worked solution is kept for the grader"
    answers = {nbgrader_meta(c)["grade_id"] for c in source.cells if nbgrader_meta(c).get("grade")
               and nbgrader_meta(c)["solution"]}
    assert answers == {f"{e['label']}-answer" for e in exercises if e["type"] != "Code"}
    # every code solution cell is an nbgrader answer cell, so that nbgrader may clear it
    assert all(nbgrader_meta(c).get("solution") for c in source.cells
               if c.cell_type == "code" and solutions.BEGIN in c.source)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_source_and_make_student_share_every_other_cell(path):
    """Without the grading cells, and with its code solutions stubbed the way nbgrader does,
    the source notebook is the student notebook of `make student`."""
    original = read(path)
    source = nbgrader_course.course_version(original)
    kept = []
    for cell in source.cells:
        meta = nbgrader_meta(cell)
        if meta.get("grade"):
            continue
        cell = nbformat.from_dict(cell)
        if meta.get("solution"):
            cell.source = solutions.strip_code(cell.source)
        cell.metadata.pop("nbgrader", None)
        kept.append(cell)
    assert kept == student.student_version(original).cells


def test_test_cell_passes_only_when_the_check_passes(capfd):
    import gan_course as gc

    ex = solutions.Exercise("ex-4-pack", "Packing", "Code", ["gc.checks.check_pack(pack)"])
    code = nbgrader_course.autograder_test_source(ex, "gc.checks.check_pack(pack)", 2)

    def good(x, m):
        warnings.warn("a warning from the student's code")   # must not cost the points
        b, d = x.shape
        return x.reshape(b // m, m * d)

    def wrong(x, m):
        return x.repeat(1, m)[: len(x) // m]

    def stub(x, m):
        raise NotImplementedError()

    exec(code, {"gc": gc, "pack": good})
    assert capfd.readouterr().err == "", "nbgrader gives 0 points to a test cell that writes to stderr"
    for pack, words in ((wrong, "[NOT YET] pack"), (stub, "NotImplementedError")):
        with pytest.raises(AssertionError, match=re.escape(words)):
            exec(code, {"gc": gc, "pack": pack})


def test_a_subset_of_exercises(tmp_path):
    nb = read(ROOT / "notebooks" / f"{ROUND_TRIP}.ipynb")
    labels = [e["label"] for e in exercise_index.exercises(ROOT / "notebooks" / f"{ROUND_TRIP}.ipynb")]
    code_label = next(e["label"] for e in exercise_index.exercises(ROOT / "notebooks" / f"{ROUND_TRIP}.ipynb")
                      if e["type"] == "Code")
    chosen = {labels[0], code_label}
    source = nbgrader_course.course_version(nb, assigned=chosen)
    graded = {nbgrader_meta(c)["grade_id"].rsplit("-", 1)[0] for c in source.cells if nbgrader_meta(c).get("grade")}
    assert graded == chosen
    # the exercises left out keep their solutions hidden: same student cells as before
    assert [c.source for c in source.cells if not nbgrader_meta(c).get("grade")] == \
        [c.source for c in nbgrader_course.course_version(nb).cells if not nbgrader_meta(c).get("grade")]
    # the command line: only the chapters that hold a chosen exercise are written
    assert nbgrader_course.main([ROUND_TRIP[:2], "01", "--course", str(tmp_path), "--exercises", *chosen]) == 0
    assert [p.name for p in (tmp_path / "source").iterdir()] == [ROUND_TRIP]
    with pytest.raises(SystemExit, match="no such exercise"):
        nbgrader_course.main([ROUND_TRIP[:2], "--course", str(tmp_path), "--exercises", "ex-0-nothing"])


def test_nbgrader_marker_words_only_in_solution_cells():
    """nbgrader acts on any line that contains 'BEGIN SOLUTION' (or its other markers), in any
    cell; the shared rule refuses them outside the exact marker lines of a solution cell."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(":::{exercise} T\n:label: ex-0-t\n\n(Code) Write f.\n:::"),
                nbformat.v4.new_code_cell("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n\n"
                                          "gc.checks.check_f(f)", metadata={"tags": ["solution"]})]
    assert [p.kind for p in solutions.parts(nb)] == ["text", "code"]
    for bad in (nbformat.v4.new_markdown_cell("Write it between ### BEGIN SOLUTION and the end."),
                nbformat.v4.new_code_cell("x = 1  # ### BEGIN HIDDEN TESTS")):
        nb.cells.append(bad)
        with pytest.raises(ValueError, match="marker words"):
            solutions.parts(nb)
        nb.cells.pop()


def test_course_config(tmp_path):
    from nbgrader.preprocessors import ClearOutput, ClearSolutions
    from traitlets.config import Config

    config = Config()
    exec(nbgrader_course.config_source(IDS), {"get_config": lambda: config})
    kept = config.GenerateAssignment.preprocessors
    assert ClearSolutions in kept and ClearOutput not in kept
    regexp = re.compile(config.FileNameCollectorPlugin.named_regexp)
    chapter = IDS[0]
    for name, who in ((f"alice_{chapter}.ipynb", "alice"),
                      (f"bob_Copy of {chapter}.ipynb", "bob"),            # Colab's "Save a copy"
                      (f"carol_12345_67890_{chapter} (1).ipynb", "carol")):  # a platform's prefix
        m = regexp.match(f"/course/downloaded/{chapter}/extracted/{name}")
        assert m and m.group("student_id") == who and m.group("file_id") == chapter, name
    assert not regexp.match("/course/downloaded/x/extracted/alice_notes.ipynb")


def test_points_table_in_the_instructors_guide_is_up_to_date():
    assert nbgrader_course.main(["--check-docs"]) == 0, "run tools/nbgrader_course.py --docs"


def test_the_tool_picks_up_every_chapter(tmp_path):
    nbgrader_course.main(["--course", str(tmp_path)])
    assert sorted(p.name for p in (tmp_path / "source").iterdir()) == IDS
    table = nbgrader_course.points_table(NOTEBOOKS)
    assert all(f"`{stem}`" in table for stem in IDS)


# ---------------------------------------------------------------- real nbgrader


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    run = subprocess.run([str(BIN / "nbgrader"), *args], cwd=course, capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{run.stdout[-3000:]}\n{run.stderr[-6000:]}"
    return run


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """Every chapter generated by the tool and released by `nbgrader generate_assignment`."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATH", f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
        mp.setenv("GAN_COURSE_PROFILE", "smoke")
        root = tmp_path_factory.mktemp("course")
        assert nbgrader_course.main(["--course", str(root)]) == 0
        start = time.perf_counter()
        nbgrader(root, "generate_assignment", "*")
        print(f"\nnbgrader generate_assignment of {len(IDS)} chapters: {time.perf_counter() - start:.1f} s")
        yield root


@pytest.mark.slow
def test_generate_assignment_accepts_every_chapter(course):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        assignments = {a.name: a for a in gb.assignments}
        assert sorted(assignments) == IDS
        for stem in IDS:
            points = nbgrader_course.points_of(read(course / "source" / stem / f"{stem}.ipynb"))
            assert assignments[stem].max_score == points["auto"] + points["manual"] > 0
            assert (course / "release" / stem / f"{stem}.ipynb").exists()


@pytest.mark.slow
@pytest.mark.parametrize("stem", IDS)
def test_released_notebook_is_the_student_notebook_plus_grading_cells(course, stem):
    released = read(course / "release" / stem / f"{stem}.ipynb")
    source = read(course / "source" / stem / f"{stem}.ipynb")
    mine = student.student_version(read(ROOT / "notebooks" / f"{stem}.ipynb"))

    def plain(cell):
        cell = nbformat.from_dict(cell)
        for key in NBGRADER_ONLY:
            cell.metadata.pop(key, None)
        return cell

    others = [plain(c) for c in released.cells if not nbgrader_meta(c).get("grade")]
    assert others == mine.cells, "nbgrader's student version differs from make student's"
    assert released.metadata == mine.metadata
    answers = {nbgrader_meta(c)["grade_id"]: c for c in source.cells if nbgrader_meta(c).get("grade")}
    for cell in released.cells:
        meta = nbgrader_meta(cell)
        if not meta.get("grade"):
            continue
        if meta["solution"]:                    # written answer: the worked solution is gone
            assert cell.source == "YOUR ANSWER HERE"
            assert cell.source != answers[meta["grade_id"]].source
        else:                                   # autograder test: as written, read-only
            assert cell.source == answers[meta["grade_id"]].source
            assert cell.metadata["editable"] is False and cell.metadata["deletable"] is False


def submission(released, source, *, wrong=None, drop=()):
    """A student's notebook: the released one with every answer filled in (the source's
    solution without the markers, or a wrong answer), less the cells in ``drop``."""
    nb = nbformat.from_dict(released)
    solved = {nbgrader_meta(c).get("grade_id"): c for c in source.cells}
    cells = []
    for cell in nb.cells:
        gid = nbgrader_meta(cell).get("grade_id")
        if gid in drop:
            continue
        if nbgrader_meta(cell).get("solution") and cell.cell_type == "code":
            cell.source = (wrong or {}).get(gid) or "\n".join(
                line for line in solved[gid].source.splitlines()
                if line.strip() not in (solutions.BEGIN, solutions.END))
        elif nbgrader_meta(cell).get("solution"):
            cell.source = f"My answer to {gid}: (the student's derivation or explanation)"
        cells.append(cell)
    nb.cells = cells
    return nb


def exported(course: Path, assignment: str) -> dict:
    """The rows of `nbgrader export`'s grades.csv for one assignment, by student id."""
    rows = list(csv.DictReader((course / "grades.csv").open()))
    return {r["student_id"]: r for r in rows if r["assignment"] == assignment}


@pytest.mark.slow
def test_autograde_round_trip(course, monkeypatch, record_property):
    """Three students hand in Chapter 4 through a learning platform: Alice all correct, Bob
    one wrong answer (and a test cell deleted), Carol the student version untouched.
    zip_collect, autograde (smoke profile) and export give full, partial and zero points for
    the code; after the written answers are graded by hand, the totals."""
    from nbgrader.api import Gradebook

    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("GAN_COURSE_PROFILE", "smoke")          # as book/instructors.md says
    monkeypatch.setenv("GAN_COURSE_THREADS", "1")
    stem = ROUND_TRIP
    released = read(course / "release" / stem / f"{stem}.ipynb")
    source = read(course / "source" / stem / f"{stem}.ipynb")
    tests = {nbgrader_meta(c)["grade_id"]: nbgrader_meta(c)["points"] for c in source.cells
             if nbgrader_meta(c).get("grade") and not nbgrader_meta(c)["solution"]}
    written = {nbgrader_meta(c)["grade_id"]: nbgrader_meta(c)["points"] for c in source.cells
               if nbgrader_meta(c).get("grade") and nbgrader_meta(c)["solution"]}
    wrong_label = next(iter(WRONG))
    assert f"{wrong_label}-test" in tests and len(tests) >= 2, f"{stem} changed: update ROUND_TRIP / WRONG"
    dropped = next(t for t in tests if t != f"{wrong_label}-test")
    code_total, written_total = sum(tests.values()), sum(written.values())

    start = time.perf_counter()
    archive = course / "downloaded" / stem / "archive"
    archive.mkdir(parents=True)
    nbformat.write(submission(released, source), archive / f"alice_{stem}.ipynb")
    nbformat.write(submission(released, source, wrong=WRONG, drop=(dropped,)), archive / f"bob_Copy of {stem}.ipynb")
    shutil.copy(course / "release" / stem / f"{stem}.ipynb", archive / f"carol_12345_{stem} (1).ipynb")
    nbgrader(course, "zip_collect", stem)
    for who in ("alice", "bob", "carol"):
        assert (course / "submitted" / who / stem / f"{stem}.ipynb").exists(), who
    collected = time.perf_counter()
    nbgrader(course, "autograde", stem)
    graded = time.perf_counter()
    nbgrader(course, "export")
    rows = exported(course, stem)
    seconds = time.perf_counter() - start
    record_property("round_trip_seconds", round(seconds, 1))
    print(f"\nround trip of {stem}: {seconds:.1f} s (zip_collect {collected - start:.1f} s, "
          f"autograde of 3 submissions {graded - collected:.1f} s)")
    scores = {who: float(rows[who]["score"]) for who in rows}
    print(f"export before manual grading: {scores} of {float(rows['alice']['max_score'])}")
    wrong_points = tests[f"{wrong_label}-test"]
    assert scores == {"alice": code_total, "bob": code_total - wrong_points, "carol": 0.0}
    assert all(float(r["max_score"]) == code_total + written_total for r in rows.values())
    assert "was missing from the submission" in \
        (course / "autograded" / "bob" / stem / f"{stem}.ipynb").read_text(), "nbgrader put Bob's test cell back"

    # the gradebook holds every cell's grade; the written answers wait for the grader
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for who in ("alice", "bob", "carol"):
            sub = gb.find_submission_notebook(stem, stem, who)
            auto = {g.name: g.auto_score for g in sub.grades}
            expected = {t: (0.0 if who == "carol" or (who == "bob" and t == f"{wrong_label}-test") else p)
                        for t, p in tests.items()}
            assert {t: auto[t] for t in tests} == expected, who
            for w in written:                   # Carol left them untouched: 0, nothing to grade
                assert auto[w] == (0.0 if who == "carol" else None), (who, w)
            assert sub.needs_manual_grade == (who != "carol")
        # the grader gives the written answers full marks (as formgrader would store them)
        for who in ("alice", "bob"):
            for w, p in written.items():
                gb.find_grade(w, stem, stem, who).manual_score = p
        gb.db.commit()
    nbgrader(course, "export")
    rows = exported(course, stem)
    final = {who: float(rows[who]["score"]) for who in rows}
    print(f"export after manual grading: {final}")
    assert final == {"alice": code_total + written_total, "bob": code_total - wrong_points + written_total,
                     "carol": 0.0}
