"""The claim mechanism: printed verdicts, and no failed or unchecked claim in a stored chapter."""

import math
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

import gan_course as gc
from gan_course import claims

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_claim_prints_its_verdict(clean_env, capsys):
    clean_env.setenv("GAN_COURSE_PROFILE", "cpu")
    assert gc.claim("the distance falls", np.float64(3.0) < 4.0, evidence="3.0 < 4.0") is None
    gc.claim("the distance rises", torch.tensor(3.0) > 4.0)
    out = capsys.readouterr().out.splitlines()
    assert out == ["[CLAIM HOLDS] the distance falls (3.0 < 4.0)", "[CLAIM FAILS] the distance rises"]


def test_claim_is_not_checked_under_smoke(clean_env, capsys):
    clean_env.setenv("GAN_COURSE_PROFILE", "smoke")
    gc.claim("the distance falls", False)
    assert capsys.readouterr().out.startswith("[CLAIM NOT CHECKED] the distance falls")


def test_claim_is_not_checked_in_a_dry_run_with_capped_steps(clean_env, capsys):
    clean_env.setenv("GAN_COURSE_PROFILE", "gpu")
    clean_env.setenv("GAN_COURSE_MAX_STEPS", "2")
    gc.claim("the distance falls", False)
    out = capsys.readouterr().out
    assert out.startswith("[CLAIM NOT CHECKED] the distance falls") and "capped at 2 steps" in out


def test_claim_refuses_vague_verdicts(clean_env):
    clean_env.setenv("GAN_COURSE_PROFILE", "cpu")
    with pytest.raises(TypeError, match="single truth value"):
        gc.claim("all seeds agree", np.array([True, False]))
    with pytest.raises(ValueError, match="statement"):
        gc.claim("  ", True)


def test_mean_sd_uses_the_sample_standard_deviation():
    mean, sd = claims.mean_sd([1.0, 2.0, 3.0, 6.0])
    assert mean == 3.0 and sd == pytest.approx(math.sqrt(14 / 3))
    assert math.isnan(claims.mean_sd([5.0])[1])
    assert claims.describe([1.0, 2.0, 3.0]) == "2.00 ± 1.00 (n = 3)"
    assert claims.describe([7.0], digits=1) == "7.0 (n = 1)"
    with pytest.raises(ValueError):
        claims.mean_sd([])


def test_paired_difference_interval():
    a, b = [10.0, 12.0, 11.0, 13.0], [9.0, 10.0, 10.0, 11.0]
    d = claims.paired_difference(a, b)
    diffs = np.subtract(a, b)
    assert d.mean == pytest.approx(diffs.mean()) and d.sd == pytest.approx(diffs.std(ddof=1))
    # t quantile for 3 degrees of freedom, 97.5 %: 3.182446
    half = 3.182446 * diffs.std(ddof=1) / 2
    assert d.low == pytest.approx(diffs.mean() - half, rel=1e-5) and d.excludes_zero
    assert not claims.paired_difference([1.0, 2.0], [2.0, 1.0]).excludes_zero
    with pytest.raises(ValueError, match="same length"):
        claims.paired_difference([1.0], [1.0, 2.0])


def _stored_lines(path: Path):
    nb = nbformat.read(path, as_version=4)
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            text = out.get("text", "") or out.get("data", {}).get("text/plain", "")
            for line in str(text).splitlines():
                yield index, line


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_stored_claim_fails_or_is_unchecked(path):
    bad = [f"cell {i}: {line}" for i, line in _stored_lines(path)
           if line.startswith((claims.FAILS, claims.NOT_CHECKED))]
    assert not bad, "the stored outputs hold claims that failed or were not checked:\n" + "\n".join(bad)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_stray_truth_value_under_a_cell(path):
    """A bare True or False under a cell (once the return value of a claim) tells a reader
    nothing; the verdict line above it says what was checked."""
    nb = nbformat.read(path, as_version=4)
    bad = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
           for out in cell.get("outputs", [])
           if out.get("output_type") == "execute_result"
           and out.get("data", {}).get("text/plain") in ("True", "False")]
    assert not bad, f"{path.name}: cells {bad} end with a bare True/False result"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_warning_in_stored_outputs(path):
    """A warning printed under a cell (a deprecation, a tensor converted while it still needs
    gradients, a slow legend) is noise on the website and often a bug in the cell: fix the
    cell, do not store the warning."""
    nb = nbformat.read(path, as_version=4)
    bad = [f"cell {i}: {line.strip()[:160]}" for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
           for out in cell.get("outputs", []) if out.get("output_type") == "stream"
           for line in str(out.get("text", "")).splitlines() if "Warning:" in line]
    assert not bad, f"{path.name} stores warnings:\n" + "\n".join(bad)
