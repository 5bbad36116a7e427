"""Claims: every comparative or quantitative sentence of a chapter, checked on the run's own numbers.

A chapter that writes "least squares keeps more gradient on convincing samples in 3 of 3
seeds" prints, right under the experiment, the same statement with a verdict computed from
the numbers it just measured::

    gc.claim("least squares keeps more gradient on convincing samples in 3 of 3 seeds",
             wins == 3, evidence=f"{wins} of {len(seeds)} seeds")

which prints ``[CLAIM HOLDS] ...`` or ``[CLAIM FAILS] ...``. Under the ``smoke`` profile the
numbers come from a few training steps and mean nothing, so the verdict is
``[CLAIM NOT CHECKED] ...``; the same in a dry run whose steps are capped
(``GAN_COURSE_MAX_STEPS``, ``make gpu-dry``). The website shows the outputs stored by a ``cpu`` run, and a test
(``tests/test_claims.py``) fails when any stored output holds a failed or unchecked claim: if a
result does not come out as the text says, the text has to change, and say why.

Comparisons between methods use several seeds; :func:`mean_sd` (sample standard deviation,
ddof = 1), :func:`describe` and :func:`paired_difference` format them the same way in every
chapter.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import numpy as np

from .runtime import profile, step_cap

HOLDS = "[CLAIM HOLDS]"
FAILS = "[CLAIM FAILS]"
NOT_CHECKED = "[CLAIM NOT CHECKED]"
VERDICTS = (HOLDS, FAILS, NOT_CHECKED)


def claim(statement: str, holds, *, evidence: str = "") -> None:
    """Print ``statement`` with the verdict ``holds``. Nothing is returned, so a cell that ends
    with a claim shows the verdict line and no stray ``True`` under it.

    ``holds``: anything with a truth value (a bool, a NumPy bool, a 0-d tensor), computed from
    the run's own numbers. ``evidence``: the numbers behind the verdict, printed after it, e.g.
    ``"263.5 ± 3.2 vs 282.9 ± 28.0 (3 seeds)"``.
    """
    if not isinstance(statement, str) or not statement.strip():
        raise ValueError("a claim needs a statement: the sentence of the text that it checks")
    tail = f" ({evidence})" if evidence else ""
    cap = step_cap()
    if profile() == "smoke" or cap is not None:
        why = ("smoke profile: too few steps to check" if cap is None
               else f"training capped at {cap} steps by GAN_COURSE_MAX_STEPS (a dry run): nothing to check")
        print(f"{NOT_CHECKED} {statement}{tail} [{why}]")
        sys.stdout.flush()
        return
    try:
        verdict = bool(holds)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise TypeError(f"the verdict of a claim must be a single truth value, got {type(holds).__name__}: "
                        f"{exc}") from None
    print(f"{HOLDS if verdict else FAILS} {statement}{tail}")
    sys.stdout.flush()


def _values(values, name: str = "values") -> np.ndarray:
    arr = np.asarray([float(v) for v in values], dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty sequence of numbers, got {values!r}")
    return arr


def mean_sd(values) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof = 1) of a sequence; sd is NaN for one value."""
    arr = _values(values)
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else math.nan


def describe(values, digits: int = 2) -> str:
    """``"263.50 ± 3.20 (n = 3)"``: mean ± sample sd and the number of runs (just the value for n = 1)."""
    arr = _values(values)
    if arr.size == 1:
        return f"{arr[0]:.{digits}f} (n = 1)"
    mean, sd = mean_sd(arr)
    return f"{mean:.{digits}f} ± {sd:.{digits}f} (n = {arr.size})"


@dataclass(frozen=True)
class Difference:
    """Paired differences a_i - b_i: mean, sample sd, n and a two-sided 95 % t interval."""

    mean: float
    sd: float
    n: int
    low: float
    high: float

    @property
    def excludes_zero(self) -> bool:
        """True when the 95 % interval lies entirely on one side of zero."""
        return self.low > 0 or self.high < 0

    def __str__(self) -> str:
        if self.n < 2:
            return f"{self.mean:+.3g} (n = 1, no interval)"
        return (f"{self.mean:+.3g} ± {self.sd:.3g} (n = {self.n}; 95 % interval "
                f"{self.low:+.3g} to {self.high:+.3g})")


def paired_difference(a, b) -> Difference:
    """Paired differences ``a[i] - b[i]`` (e.g. two methods run from the same seeds)."""
    from scipy import stats

    a, b = _values(a, "a"), _values(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"paired values need the same length, got {a.size} and {b.size}")
    d = a - b
    mean = float(d.mean())
    if d.size < 2:
        return Difference(mean, math.nan, 1, math.nan, math.nan)
    sd = float(d.std(ddof=1))
    half = float(stats.t.ppf(0.975, d.size - 1)) * sd / math.sqrt(d.size)
    return Difference(mean, sd, int(d.size), mean - half, mean + half)
