"""Checks for Chapter 12, evaluating and debugging GANs: the kernel distance, k-NN precision,
the extrapolation of the Fréchet distance to infinitely many samples, and a diagnosis quiz."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ._common import CheckResult, _as_float, _call, _close, _describe, _fail, _matching_mistake

__all__ = ["check_kernel_distance", "check_precision", "check_fd_extrapolation", "check_diagnosis"]


# ---------------------------------------------------------------------------------------
# The kernel distance (KID's unbiased estimator)
# ---------------------------------------------------------------------------------------


def _cubic(x: torch.Tensor, y: torch.Tensor, gamma: float, degree: int = 3) -> torch.Tensor:
    return (gamma * x @ y.T + 1.0) ** degree


def _mmd_variants(a: torch.Tensor, b: torch.Tensor) -> dict:
    """The reference estimate and what typical mistakes compute on the same features."""
    m, n, d = len(a), len(b), a.shape[1]

    def parts(gamma=1.0 / d, degree=3):
        k_aa, k_bb, k_ab = _cubic(a, a, gamma, degree), _cubic(b, b, gamma, degree), _cubic(a, b, gamma, degree)
        off_aa = (k_aa.sum() - k_aa.diagonal().sum()) / (m * (m - 1))
        off_bb = (k_bb.sum() - k_bb.diagonal().sum()) / (n * (n - 1))
        return k_aa, k_bb, k_ab, float(off_aa), float(off_bb), float(k_ab.mean())

    k_aa, k_bb, k_ab, off_aa, off_bb, cross = parts()
    right = off_aa + off_bb - 2 * cross
    variants = {"right": right}
    variants["biased"] = float(k_aa.mean() + k_bb.mean() - 2 * cross)
    variants["no_factor_2"] = off_aa + off_bb - cross
    variants["sqrt"] = float(np.sqrt(abs(right)))
    variants["diag_m2"] = float((k_aa.sum() - k_aa.diagonal().sum()) / m ** 2
                                + (k_bb.sum() - k_bb.diagonal().sum()) / n ** 2 - 2 * cross)
    _, _, _, g_aa, g_bb, g_cross = parts(gamma=1.0)
    variants["gamma_1"] = g_aa + g_bb - 2 * g_cross
    _, _, _, q_aa, q_bb, q_cross = parts(degree=2)
    variants["degree_2"] = q_aa + q_bb - 2 * q_cross
    return variants


_KERNEL_MISTAKES = {
    "biased": "you kept the diagonal terms k(a_i, a_i) and k(b_j, b_j): that is the biased estimate, "
              "which is positive even for two samples of one distribution. Sum over i != j and divide "
              "by m(m-1) and n(n-1).",
    "no_factor_2": "the cross term enters twice: subtract 2/(mn) sum k(a_i, b_j), not once.",
    "sqrt": "KID is the squared MMD itself; do not take a square root.",
    "diag_m2": "you left out the diagonal but still divided by m^2 and n^2; without the m (or n) diagonal "
               "terms there are m(m-1) pairs to average over.",
    "gamma_1": "the kernel is (<x, y>/d + 1)^3: scale the inner product by 1/d, the feature dimension.",
    "degree_2": "the kernel is cubic: (<x, y>/d + 1)^3, not a square.",
}


def check_kernel_distance(fn: Callable) -> CheckResult:
    """Check ``fn(a, b) -> float``: KID's unbiased squared MMD with the cubic polynomial kernel.

    ``a`` (m, d) and ``b`` (n, d) are feature matrices (float64 tensors, m != n in general).
    Expected: 1/(m(m-1)) sum_{i != j} k(a_i, a_j) + 1/(n(n-1)) sum_{i != j} k(b_i, b_j)
    - 2/(mn) sum_{i,j} k(a_i, b_j) with k(x, y) = (<x, y>/d + 1)^3.
    """
    name = "kernel_distance"
    gen = torch.Generator().manual_seed(12)
    cases = [
        (torch.randn(40, 6, generator=gen, dtype=torch.float64),
         1.5 * torch.randn(25, 6, generator=gen, dtype=torch.float64) + 0.5),
        (torch.randn(30, 16, generator=gen, dtype=torch.float64),
         torch.randn(30, 16, generator=gen, dtype=torch.float64)),
    ]
    for a, b in cases:
        out, err = _call(name, fn, a.clone(), b.clone())
        if err is not None:
            return err
        got = _as_float(out)
        if got is None:
            return _fail(name, f"expected a single number, got {type(out).__name__}"
                               f"{' of shape ' + str(tuple(out.shape)) if hasattr(out, 'shape') else ''}.")
        variants = _mmd_variants(a, b)
        if _close(got, variants["right"], 1e-6):
            continue
        where = f"(features {tuple(a.shape)} and {tuple(b.shape)})"
        mistake = _matching_mistake(got, [(variants[k], msg) for k, msg in _KERNEL_MISTAKES.items()], 1e-6)
        if mistake:
            return _fail(name, f"{mistake} {where}")
        return _fail(name, f"got {got:.6g}, expected {variants['right']:.6g} {where}.")
    return CheckResult(name, True, "matches the unbiased estimate with the cubic kernel, for equal and "
                                   "unequal sample sizes; it can be negative when both sets come from one "
                                   "distribution, as an unbiased estimate of zero must.")


# ---------------------------------------------------------------------------------------
# k-NN precision (Kynkäänniemi et al., 2019)
# ---------------------------------------------------------------------------------------


def _knn_precision(real: torch.Tensor, fake: torch.Tensor, k: int, self_included: bool = False,
                   nearest_only: bool = False) -> float:
    d_rr = torch.cdist(real, real)
    radii = d_rr.kthvalue(k if self_included else k + 1, dim=1).values
    d_fr = torch.cdist(fake, real)
    if nearest_only:
        nearest = d_fr.argmin(1)
        return float((d_fr.min(1).values <= radii[nearest]).double().mean())
    return float((d_fr <= radii[None, :]).any(1).double().mean())


def _precision_cases():
    """Real and generated sets for which every typical mistake gives a different answer."""
    gen = torch.Generator().manual_seed(3)
    real = torch.cat([torch.randn(60, 2, generator=gen, dtype=torch.float64),
                      torch.randn(20, 2, generator=gen, dtype=torch.float64) * 0.3 + 4])
    fake = torch.cat([torch.randn(30, 2, generator=gen, dtype=torch.float64) * 1.4,
                      torch.randn(20, 2, generator=gen, dtype=torch.float64) * 0.3 + torch.tensor([4.0, -3.0],
                                                                                             dtype=torch.float64)])
    return [(real, fake, 3), (real[::2], fake, 1)]


def check_precision(fn: Callable) -> CheckResult:
    """Check ``fn(real, generated, k) -> float``: the improved precision of Kynkäänniemi et al.

    ``real`` (N, d), ``generated`` (M, d) features, ``k`` the neighbourhood size. Expected:
    the fraction of generated samples within r_k(x) of at least one real sample x, where
    r_k(x) is the distance from x to its k-th nearest *other* real sample.
    """
    name = "precision"
    for real, fake, k in _precision_cases():
        out, err = _call(name, fn, real.clone(), fake.clone(), k)
        if err is not None:
            return err
        got = _as_float(out)
        if got is None:
            return _fail(name, f"expected a single number (a fraction), got {type(out).__name__}.")
        right = _knn_precision(real, fake, k)
        if abs(got - right) <= 1e-9:
            continue
        where = f"(k = {k}, {len(real)} real and {len(fake)} generated points)"
        diagnoses = [
            (_knn_precision(fake, real, k), "this is the recall: you measured how many real samples fall "
                                            "inside the generated manifold. Precision asks the opposite."),
            (_knn_precision(real, fake, k, self_included=True),
             "the radius counts the point itself as its first neighbour: with k = 3 take the third "
             "nearest *other* sample (kthvalue(k + 1) when the distance 0 to itself is in the row)."),
            (_knn_precision(real, fake, k + 1), "the radius is one neighbour too far: the k-th nearest other "
                                                "sample, not the (k+1)-th."),
            (_knn_precision(real, fake, k, nearest_only=True),
             "you only tested the ball of each sample's nearest real point; a sample counts when it lies "
             "inside the ball of *any* real point (balls have different radii)."),
            (100 * right, "return a fraction in [0, 1], not a percentage."),
        ]
        mistake = _matching_mistake(got, diagnoses, 1e-9)
        if mistake:
            return _fail(name, f"{mistake} {where}")
        return _fail(name, f"got {got:.4f}, expected {right:.4f} {where}.")
    return CheckResult(name, True, "matches the k-nearest-neighbour precision for k = 3 and k = 1.")


# ---------------------------------------------------------------------------------------
# The Fréchet distance at infinitely many samples (Chong and Forsyth, 2020)
# ---------------------------------------------------------------------------------------


def check_fd_extrapolation(fn: Callable) -> CheckResult:
    """Check ``fn(ns, fds) -> float``: the Fréchet distance extrapolated to n = infinity.

    ``ns``: sample sizes (1-D array), ``fds``: the distances measured at those sizes.
    Expected: the intercept of the least-squares line fds = a + b / n, i.e. the value at
    1/n = 0.
    """
    name = "fd_extrapolation"
    ns = np.array([250, 500, 1000, 2000, 4000], dtype=float)
    gen = np.random.default_rng(7)
    for limit, slope in ((3.0, 900.0), (40.0, 2500.0)):
        fds = limit + slope / ns + gen.normal(0, 0.05, len(ns))
        out, err = _call(name, fn, ns.copy(), fds.copy())
        if err is not None:
            return err
        got = _as_float(out)
        if got is None:
            return _fail(name, f"expected a single number, got {type(out).__name__}.")
        b, a = np.polyfit(1 / ns, fds, 1)
        if _close(got, a, 1e-6):
            continue
        slope_n, icpt_n = np.polyfit(ns, fds, 1)
        diagnoses = [
            (b, "this is the slope of the fit; the value at n = infinity is the intercept (1/n = 0)."),
            (icpt_n, "fit against 1/n, not n: the bias falls like 1/n, so FD is a straight line in 1/n."),
            (fds[-1], "the value at the largest n still holds a bias of about b/n; extrapolate the "
                      "straight line in 1/n to 1/n = 0."),
            (fds.min(), "the smallest measured value still holds a bias; extrapolate to 1/n = 0."),
        ]
        mistake = _matching_mistake(got, diagnoses, 1e-6)
        if mistake:
            return _fail(name, mistake)
        return _fail(name, f"got {got:.4g}, expected the intercept {a:.4g} of the line fds = a + b/n.")
    return CheckResult(name, True, "the intercept of the straight line in 1/n: the distance an infinite "
                                   "sample would measure.")


# ---------------------------------------------------------------------------------------
# Diagnosing three runs from their dashboards
# ---------------------------------------------------------------------------------------

FAILURES = {
    "discriminator wins": ("starv", "wins", "win", "saturat", "vanish", "strong d", "d too strong"),
    "mode collapse": ("collaps", "mode", "diversity"),
    "oscillation": ("oscillat", "converg", "cycl", "unstable", "instab"),
}
# The runs of the exercise in Section 12.9, drawn by ``mystery_settings``: what went wrong in each.
_MYSTERY_TRUTH = {"A": "oscillation", "B": "mode collapse", "C": "discriminator wins"}
_MYSTERY_SETTINGS = {
    # the keyword options of the chapter's toy_gan: generator loss, learning rates of G and D,
    # Adam's beta1, generator steps per discriminator step, learning-rate decay
    "A": dict(g_loss="nonsaturating", lr_g=2e-3, lr_d=2e-3, beta1=0.9, g_steps=1, decay=False),
    "B": dict(g_loss="nonsaturating", lr_g=1e-3, lr_d=1e-3, beta1=0.5, g_steps=3, decay=True),
    "C": dict(g_loss="minimax", lr_g=1e-5, lr_d=3e-3, beta1=0.5, g_steps=1, decay=True),
}


def mystery_settings(letter: str) -> dict:
    """The training settings of mystery run ``letter`` ("A", "B" or "C") of Chapter 12's exercise."""
    if letter not in _MYSTERY_SETTINGS:
        raise ValueError(f"mystery runs are {', '.join(_MYSTERY_SETTINGS)}, got {letter!r}")
    return dict(_MYSTERY_SETTINGS[letter])


def _classify(answer: str) -> str | None:
    text = str(answer).lower()
    hits = [name for name, keys in FAILURES.items() if any(key in text for key in keys)]
    return hits[0] if len(hits) == 1 else None


def check_diagnosis(diagnose: Callable) -> CheckResult:
    """Check ``diagnose(letter)``, the diagnosis of mystery run ``letter`` ("A", "B" or "C").

    Each answer names one failure in plain words: "the discriminator wins" (G starves),
    "mode collapse" or "oscillation" (non-convergence).
    """
    name = "diagnosis"
    answers = {}
    for letter in sorted(_MYSTERY_TRUTH):
        out, err = _call(name, diagnose, letter)
        if err is not None:
            return err
        if not isinstance(out, str):
            return _fail(name, f"diagnose({letter!r}) should return the failure's name as a string, "
                               f"such as 'mode collapse', got {_describe(out)}.")
        answers[letter] = out
    unclear = [k for k in sorted(_MYSTERY_TRUTH) if _classify(answers[k]) is None]
    if unclear:
        return _fail(name, f"the answer for run(s) {', '.join(unclear)} names none (or several) of: "
                           f"{', '.join(FAILURES)}; got "
                           + ", ".join(f"{k}: {answers[k]!r}" for k in unclear) + ".")
    wrong = [k for k in sorted(_MYSTERY_TRUTH) if _classify(answers[k]) != _MYSTERY_TRUTH[k]]
    if wrong:
        hints = {
            "discriminator wins": "look at G's gradient norm and D(G(z))",
            "mode collapse": "look at recall against precision",
            "oscillation": "look at whether D(x) and D(G(z)) settle",
        }
        return _fail(name, f"not yet right for run(s) {', '.join(wrong)}: "
                           + "; ".join(f"for {k}, {hints[_MYSTERY_TRUTH[k]]}" for k in wrong) + ".")
    return CheckResult(name, True, "all three diagnoses are right: " + ", ".join(
        f"{k}: {v}" for k, v in sorted(_MYSTERY_TRUTH.items())) + ".")
