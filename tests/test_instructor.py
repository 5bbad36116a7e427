"""The instructor kit: student notebooks without solutions, checks on every code exercise,
the exercise index, and the Colab path (install cell, fresh install beside an existing torch)."""

import json
import os
import re
import subprocess
import sys
import venv
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import exercise_index  # noqa: E402
import student  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
IDS = [p.stem for p in NOTEBOOKS]


def read(path):
    return nbformat.read(path, as_version=4)


def solution_lines(nb):
    """Distinctive lines of every solution: code between the markers, text of {solution} blocks."""
    lines = []
    for cell in nb.cells:
        if cell.cell_type == "code" and student.BEGIN in cell.source:
            inside = False
            for line in cell.source.splitlines():
                s = line.strip()
                if s in (student.BEGIN, student.END):
                    inside = s == student.BEGIN
                elif inside and len(s) > 12 and not s.startswith("#"):
                    lines.append(s)
        elif cell.cell_type == "markdown" and "{solution}" in cell.source:
            fence = None
            for line in cell.source.splitlines():
                s = line.strip()
                if fence is None and re.match(r"^:{3,}\{solution\}", s):
                    fence = s.split("{")[0]
                elif fence is not None and s == fence:
                    fence = None
                elif fence is not None and len(s) > 30 and not s.startswith(":"):
                    lines.append(s)
    return lines


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_student_version_contains_no_solution(path):
    original = read(path)
    secret = solution_lines(original)
    assert secret, f"{path.name} has no solutions at all"
    st = student.student_version(original)
    text = "\n".join(c.source for c in st.cells)
    # lines that the chapter itself also uses outside any solution are not secrets
    public = "\n".join(c.source for c in original.cells
                       if "solution" not in c.metadata.get("tags", []) and "{solution}" not in c.source)
    leaked = [s for s in secret if s in text and s not in public]
    assert not leaked, f"solution text left in the student notebook: {leaked[:3]}"
    for cell in st.cells:
        if "solution" in cell.metadata.get("tags", []):
            assert "raise NotImplementedError()" in cell.source and cell.outputs == []
            assert "hide-input" not in cell.metadata["tags"]
    # everything else is kept: same number of code cells, same non-solution sources
    keep = [c.source for c in original.cells if c.cell_type == "code" and "solution" not in c.metadata.get("tags", [])]
    assert keep == [c.source for c in st.cells if c.cell_type == "code" and "solution" not in c.metadata.get("tags", [])]


def test_student_tool_errors_on_broken_markers():
    with pytest.raises(ValueError, match="without ### END"):
        student.strip_code("### BEGIN SOLUTION\nx = 1")
    with pytest.raises(ValueError, match="not closed"):
        student.strip_markdown(":::{solution} ex\ntext")
    assert student.strip_code("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION") == (
        "def f():\n    # YOUR CODE HERE\n    raise NotImplementedError()")


def test_student_version_cuts_markdown_at_a_removed_solution():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(
        ":::{exercise} A\n:label: ex-0-a\n\n(Concept) Why?\n:::\n\n"
        ":::{solution} ex-0-a\n:class: dropdown\n\nBecause.\n:::\n\n"
        ":::{exercise} B\n:label: ex-0-b\n\n(Derivation) Show it.\n:::\n\n"
        "````{solution} ex-0-b\nA proof.\n````\n\nSee Chapter 2.")]
    st = student.student_version(nb)
    assert [c.source for c in st.cells] == [
        ":::{exercise} A\n:label: ex-0-a\n\n(Concept) Why?\n:::",
        ":::{exercise} B\n:label: ex-0-b\n\n(Derivation) Show it.\n:::",
        "See Chapter 2."]
    assert st.cells[0].id == nb.cells[0].id and len({c.id for c in st.cells}) == 3
    nbformat.validate(st)
    import solutions

    assert [p for p in solutions.split_markdown(nb.cells[0].source) if p[0]] == [
        ("ex-0-a", "Because."), ("ex-0-b", "A proof.")]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_code_exercise_has_a_passing_check(path):
    found = exercise_index.exercises(path)
    assert len(found) >= 4, f"{path.name} has {len(found)} exercises; the syllabus asks for at least four"
    assert len({e["type"] for e in found}) >= 3, f"{path.name}: mix derivation, code, experiment and concept"
    code = [e for e in found if e["type"] == "Code"]
    assert code, f"{path.name} has no code exercise"
    missing = [e["label"] for e in code if e["check"] is None]
    assert not missing, f"code exercises without a gc.checks function: {missing}"
    # in the stored (executed) notebook every check cell reports a pass for the book's solution
    for cell in read(path).cells:
        if cell.cell_type == "code" and "gc.checks.check_" in cell.source:
            shown = json.dumps([o.get("data", o.get("text", "")) for o in cell.outputs])
            assert "passed" in shown.lower(), f"{path.name}: a check cell does not show a pass:\n{cell.source[:200]}"


def _test_functions():
    """Every test function of tests/: (file, name, the names and strings it mentions, and
    whether it asserts a failed verdict, i.e. ``assert not <result>.passed`` / ``assert not
    <call or name>``)."""
    import ast

    found = []
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.FunctionDef) and node.name.startswith("test_")):
                continue
            mentioned = set()
            for n in ast.walk(node):                      # decorators (parametrize) included
                if isinstance(n, ast.Attribute):
                    mentioned.add(n.attr)
                elif isinstance(n, ast.Name):
                    mentioned.add(n.id)
                elif isinstance(n, ast.Constant) and isinstance(n.value, str):
                    mentioned.add(n.value)
            negative = any(
                isinstance(u, ast.UnaryOp) and isinstance(u.op, ast.Not)
                and (isinstance(u.operand, (ast.Call, ast.Name))
                     or isinstance(u.operand, ast.Attribute) and u.operand.attr == "passed")
                for a in ast.walk(node) if isinstance(a, ast.Assert) for u in ast.walk(a.test))
            found.append((path.name, node.name, mentioned, negative))
    return found


def test_every_check_is_tested_against_wrong_answers():
    import gan_course as gc

    # (that the book's own solutions pass is checked on every run by nbval, notebooks/conftest.py)
    functions = _test_functions()
    for name in gc.checks.__all__:
        if name == "CheckResult":
            continue
        using = [f"{file}::{test}" for file, test, mentioned, _ in functions if name in mentioned]
        assert any(name in mentioned and negative for _, _, mentioned, negative in functions), (
            f"{name}: no test function both calls it and asserts that a wrong answer fails "
            f"(tests mentioning it: {using})")


def test_exercise_index_is_up_to_date():
    assert exercise_index.main(["--check"]) == 0, "run `make exercises`"


def test_colab_cell_installs_from_the_configured_repository():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    url = config["repository"]["url"]
    for path in NOTEBOOKS:
        first = read(path).cells[0]
        assert first.cell_type == "code" and "google.colab" in first.source, path.name
        assert f"git+{url}" in first.source, f"{path.name}: install URL differs from _config.yml ({url})"
        assert "remove-cell" in first.metadata.get("tags", []), f"{path.name}: the Colab cell must be hidden"
        assert "enable_custom_widget_manager" in first.source


@pytest.mark.slow
def test_fresh_install_beside_an_existing_torch(tmp_path, monkeypatch):
    """Simulate Colab: torch is already installed; installing gan_course must not reinstall it."""
    env = tmp_path / "env"
    venv.EnvBuilder(with_pip=False).create(env)       # a bare interpreter; our pip installs into it
    py = env / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    project_site = subprocess.run([sys.executable, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  capture_output=True, text=True, check=True).stdout.strip()
    # the preinstalled packages (torch, numpy, ...) are visible, as on Colab, but live elsewhere
    Path(site, "preinstalled.pth").write_text(project_site + "\n")
    for var in [k for k in os.environ if k.startswith("PIP_")]:  # no find-links, no index settings
        monkeypatch.delenv(var)
    result = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-index",
                             "--no-build-isolation",
                             "--disable-pip-version-check", str(ROOT)], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"Requirement already satisfied: torch", result.stdout), result.stdout
    installed = {p.name.split("-")[0].lower() for p in Path(site).glob("*.dist-info")}
    assert "gan_course" in installed and "torch" not in installed
    code = "import gan_course as gc, torch, sys; print(gc.__version__, torch.__version__, 'ipywidgets' in sys.modules)"
    out = subprocess.run([str(py), "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr
    version, torch_version, widgets = out.stdout.split()
    import torch

    assert torch_version == torch.__version__ and widgets == "False"


def _parse(source: str):
    """The cell as Python (IPython magics such as %pip turned into calls)."""
    import ast

    from IPython.core.inputtransformer2 import TransformerManager

    return ast.parse(TransformerManager().transform_cell(source))


def _defined_names(source: str) -> set:
    import ast

    names = set()
    tree = _parse(source)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_student_notebook_needs_nothing_that_only_a_solution_defines(path):
    """Cells after a solution must not rely on names that only the removed solution code defined
    (the student notebook would otherwise fail with a NameError instead of NotImplementedError)."""
    st = student.student_version(read(path))
    defined_outside = set()
    removed = set()
    original = read(path)
    for orig, cell in zip([c for c in original.cells if c.cell_type == "code"],
                          [c for c in st.cells if c.cell_type == "code"]):
        if "solution" in cell.metadata.get("tags", []):
            removed |= _defined_names(orig.source) - _defined_names(cell.source)
            defined_outside |= _defined_names(cell.source)
            continue
        import ast

        used = {n.id for n in ast.walk(_parse(cell.source)) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        dangling = (used & removed) - defined_outside
        assert not dangling, f"{path.name}: a later cell uses {sorted(dangling)}, defined only in a solution"
        defined_outside |= _defined_names(cell.source)


def _reads_and_binds(source: str) -> tuple[set, set]:
    """The names a cell reads, and those it binds or changes (assignments, attribute and item
    assignments, definitions, imports)."""
    import ast

    def root(node):
        while isinstance(node, (ast.Attribute, ast.Subscript)):
            node = node.value
        return node.id if isinstance(node, ast.Name) else None

    reads, binds = set(), set()
    for node in ast.walk(_parse(source)):
        if isinstance(node, ast.Name):
            (reads if isinstance(node.ctx, ast.Load) else binds).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            binds.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            binds |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, (ast.Attribute, ast.Subscript)) and not isinstance(node.ctx, ast.Load):
            binds.add(root(node))
    return reads, binds - {None}


def exercise_run(code_cells) -> list[int]:
    """Which code cells to execute to run a chapter's exercises: every cell from the first
    solution cell on, and before it only the cells that bind a name those cells read
    (followed back through what the chosen cells read in turn: the imports, mostly).

    The rest of a chapter is the same in the student version as in the book, which nbval
    executes on every test run; re-running it here cost most of the test time."""
    tags = [c.metadata.get("tags", []) for c in code_cells]
    first = next(i for i, t in enumerate(tags) if "solution" in t)
    needed, bound = set(), set()
    for cell in code_cells[first:]:          # a name the cell (or one before it) binds is its own
        reads, binds = _reads_and_binds(cell.source)
        bound |= binds
        needed |= reads - bound
    chosen = []
    for i in range(first - 1, -1, -1):
        reads, binds = _reads_and_binds(code_cells[i].source)
        if binds & needed:
            chosen.append(i)
            needed |= reads - binds
    return sorted(chosen) + list(range(first, len(code_cells)))


def test_exercise_run_follows_names_back():
    cells = [nbformat.v4.new_code_cell(s) for s in (
        "import torch\nimport gan_course as gc",       # 0: read by the exercise
        "slow = train_for_an_hour()",                   # 1: nobody reads slow
        "cfg = make(torch.zeros(1))",                   # 2: read by 3
        "cfg.width = 8\nx = 1",                         # 3: changes cfg, read by the exercise
        "print(x)",                                     # 4: binds nothing
        "def f():\n    return slow",                     # 5: the exercise's own f replaces it
    )]
    cells.append(nbformat.v4.new_code_cell("def f():\n    raise NotImplementedError()\n\ngc.checks.check_f(f, cfg)",
                                           metadata={"tags": ["solution"]}))
    cells.append(nbformat.v4.new_code_cell("gc.provenance();"))
    assert exercise_run(cells) == [0, 2, 3, 6, 7]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_student_exercises_stop_only_at_not_implemented(path, tmp_path, monkeypatch):
    """Every exercise cell of a student notebook, executed after what it needs (smoke profile),
    either raises NotImplementedError or calls a check that answers "not yet" because the
    function is not written; no other error anywhere (a NameError would mean the student
    version lacks something that only a solution defined)."""
    from nbclient import NotebookClient

    monkeypatch.setenv("GAN_COURSE_PROFILE", "smoke")
    nb = student.student_version(read(path))
    code = [c for c in nb.cells if c.cell_type == "code"]
    chosen = exercise_run(code)
    nb.cells = [code[i] for i in chosen]
    client = NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    verdicts = []
    for cell in nb.cells:
        errors = [o.ename for o in cell.outputs if o.output_type == "error"]
        shown = json.dumps([o.get("data", o.get("text", "")) for o in cell.outputs])
        if "solution" not in cell.metadata.get("tags", []):
            assert not errors, f"{path.name}: {errors} in a cell outside the exercises:\n{cell.source[:300]}"
            continue
        assert set(errors) <= {"NotImplementedError"}, f"{path.name}: {errors} in\n{cell.source[:300]}"
        if "gc.checks.check_" in cell.source:
            verdicts.append(shown)
            assert "not yet" in shown.lower() and "NotImplementedError" in shown, shown
        else:
            assert errors == ["NotImplementedError"], f"{path.name}: the stub did not raise:\n{cell.source[:300]}"
    assert verdicts, f"{path.name}: no check verdict reached (every chapter has a code exercise)"
    assert len(nb.cells) < len(code), f"{path.name}: the whole chapter ran; exercise_run chose every cell"


@pytest.mark.slow
def test_nbval_fails_a_solution_cell_whose_check_says_not_yet(tmp_path, monkeypatch):
    """notebooks/conftest.py: under nbval, a cell calling a check fails when the verdict is
    "not yet", although the check itself returns instead of raising."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import torch\nimport gan_course as gc"),
        nbformat.v4.new_code_cell("def pack(x, m):\n    b, d = x.shape\n    return x.reshape(b // m, m * d)\n\n"
                                  "gc.checks.check_pack(pack)"),
        nbformat.v4.new_code_cell("def pack(x, m):\n    return x.repeat(1, m)[: len(x) // m]\n\n"
                                  "print(gc.checks.check_pack(pack))"),
    ]
    for cell in nb.cells:
        cell.execution_count = 1
    nbformat.write(nb, tmp_path / "chapter.ipynb")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    run = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env", "-p", "no:cacheprovider",
                          "-p", "notebooks.conftest", "chapter.ipynb", "-q"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "2 passed" in run.stdout and "1 failed" in run.stdout, run.stdout
    assert "does not pass its check" in run.stdout and "[NOT YET] pack" in run.stdout


def test_failed_verdicts_reads_returned_and_printed_verdicts():
    import importlib.util

    spec = importlib.util.spec_from_file_location("notebooks_conftest", ROOT / "notebooks" / "conftest.py")
    nb_conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(nb_conftest)
    ok = {"output_type": "execute_result", "data": {"text/plain": "[PASSED] pack: fine"}}
    bad = {"output_type": "stream", "name": "stdout", "text": "x\n[NOT YET] pack: rows mix samples\n"}
    assert nb_conftest.failed_verdicts("gc.checks.check_pack(f)", [ok]) == []
    assert nb_conftest.failed_verdicts("print(gc.checks.check_pack(f))", [ok, bad]) == ["[NOT YET] pack: rows mix samples"]
    assert nb_conftest.failed_verdicts("print('[NOT YET] quoted in prose')", [bad]) == []
