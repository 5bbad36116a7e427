"""Checks for Chapter 3, the Jensen-Shannon divergence."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ._common import CheckResult, _as_float, _call, _close, _describe, _fail

__all__ = ["check_js_divergence"]

LOG2 = math.log(2.0)


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    """KL(p || q) in nats with 0 log 0 = 0; inf when p has mass where q has none."""
    if np.any((p > 0) & (q == 0)):
        return math.inf
    mask = p > 0
    return float(np.sum(p[mask] * np.log(p[mask] / q[mask])))


def _jsd(p: np.ndarray, q: np.ndarray) -> float:
    m = (p + q) / 2
    return 0.5 * _kl(p, m) + 0.5 * _kl(q, m)


def _js_cases():
    """Pairs of probability vectors: no zeros first (so that KL(p||q) is finite and the
    usual slips can be told apart), then zeros, disjoint supports and identical vectors."""
    return [
        (np.array([0.05, 0.15, 0.5, 0.3]), np.array([0.4, 0.35, 0.05, 0.2]), "two vectors without zeros"),
        (np.array([0.7, 0.2, 0.1]), np.array([0.1, 0.3, 0.6]), "two vectors of length 3"),
        (np.array([0.5, 0.5, 0.0, 0.0]), np.array([0.0, 0.25, 0.25, 0.5]), "vectors with some zero entries"),
        (np.array([1.0, 0.0]), np.array([0.0, 1.0]), "disjoint supports"),
        (np.array([0.2, 0.3, 0.5]), np.array([0.2, 0.3, 0.5]), "p equal to q"),
    ]


def _diagnoses(p: np.ndarray, q: np.ndarray, want: float) -> list[tuple[float, str]]:
    m = (p + q) / 2
    s = p + q
    return [
        (_kl(p, q), "you returned KL(p || q). The JSD compares each distribution with the mixture "
                    "m = (p + q) / 2: JSD = ½ KL(p || m) + ½ KL(q || m)."),
        (_kl(q, p), "you returned KL(q || p). The JSD compares each distribution with the mixture "
                    "m = (p + q) / 2: JSD = ½ KL(p || m) + ½ KL(q || m)."),
        (2 * want, "your result is twice the JSD: you forgot the ½ factors in "
                   "½ KL(p || m) + ½ KL(q || m)."),
        (want / LOG2, "your result is in bits (log base 2). The book measures divergences in nats: "
                      "use the natural logarithm (np.log), so that JSD <= log 2 ≈ 0.6931."),
        (2 * want / LOG2, "your result is in bits (log base 2) and lacks the ½ factors. Use np.log and "
                          "JSD = ½ KL(p || m) + ½ KL(q || m)."),
        (want - LOG2, "the mixture is m = p + q without the division by 2: m must be a probability "
                      "distribution, m = (p + q) / 2 (your value is JSD - log 2, which can be negative)."),
        (2 * want - 2 * LOG2, "you returned KL(p || p + q) + KL(q || p + q) = -log 4 + 2 JSD, which is C(G). "
                              "Divide the mixture by 2, m = (p + q) / 2, and keep the ½ factors."),
        (_kl(p, m), "you returned only KL(p || m): the JSD averages both sides, "
                    "½ KL(p || m) + ½ KL(q || m)."),
        (0.5 * _kl(p, m), "you returned only ½ KL(p || m): add the second half, ½ KL(q || m)."),
        (math.sqrt(max(want, 0.0)), "you returned the square root of the JSD (the Jensen-Shannon distance, "
                                    "a metric). The exercise asks for the divergence itself."),
        (-want, "the sign is flipped: the JSD is never negative."),
        (_kl(s / 2, p) / 2 + _kl(s / 2, q) / 2, "the arguments of each KL are swapped: it is "
                                                 "KL(p || m) and KL(q || m), with m second."),
    ]


def check_js_divergence(fn: Callable) -> CheckResult:
    """Check ``fn(p, q) -> JSD``: the Jensen-Shannon divergence in nats of two discrete
    probability vectors (1-D NumPy arrays of equal length summing to 1, possibly with zeros).

    Expected: ½ KL(p || m) + ½ KL(q || m) with m = (p + q) / 2 and 0 log 0 = 0, a number.
    """
    name = "js_divergence"
    for p, q, label in _js_cases():
        with np.errstate(all="ignore"):
            out, err = _call(name, fn, p.copy(), q.copy())
        if err is not None:
            return err
        got = _as_float(out)
        if got is None:
            return _fail(name, f"expected a single number, got {_describe(out)}. The sums over outcomes "
                               "(the expectations in the two KL terms) reduce the vectors to one number.")
        want = _jsd(p, q)
        if _close(got, want, 1e-6):
            continue
        where = f"for {label}, p = {p.tolist()}, q = {q.tolist()}: expected {want:.6f}, got {got:.6f}"
        if math.isnan(got):
            if np.any(p == 0) or np.any(q == 0):
                return _fail(name, f"NaN {where.split(':')[0]}. A zero probability gives 0 * log 0 = NaN in "
                                   "floating point, but the term must count as 0 (the limit of t log t). "
                                   "Sum only over the entries where the probability is positive "
                                   "(e.g. with a mask p > 0, or np.where).")
            return _fail(name, f"the result is NaN {where.split(':')[0]}.")
        if math.isinf(got):
            return _fail(name, f"infinite result {where.split(':')[0]}. The JSD is always finite: "
                               "m = (p + q) / 2 is positive wherever p or q is. An infinite value usually "
                               "means a division by q (as in KL(p || q)) instead of by m.")
        for value, message in _diagnoses(p, q, want):
            if math.isfinite(value) and not _close(value, want, 1e-6) and _close(got, value, 1e-6):
                return _fail(name, f"{message} ({where}.)")
        with np.errstate(all="ignore"):
            swapped, err = _call(name, fn, q.copy(), p.copy())
        swapped = _as_float(swapped) if err is None else None
        if swapped is not None and math.isfinite(swapped) and not _close(swapped, got, 1e-6):
            return _fail(name, f"your function is not symmetric: fn(p, q) = {got:.6f} but fn(q, p) = "
                               f"{swapped:.6f} {where.split(':')[0]}. The JSD treats p and q alike: "
                               "½ KL(p || m) + ½ KL(q || m) with the same m = (p + q) / 2.")
        if got < -1e-12:
            return _fail(name, f"negative result ({where}). The JSD is never negative.")
        if got > LOG2 + 1e-9:
            return _fail(name, f"{where}, more than log 2 ≈ 0.6931, the largest possible JSD in nats.")
        return _fail(name, f"{where}.")
    return CheckResult(name, True, "matches ½ KL(p || m) + ½ KL(q || m) on every test pair, including zero "
                                   "probabilities (0 log 0 = 0), disjoint supports (log 2) and p = q (0).")
