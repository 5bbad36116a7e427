"""Checks for Chapter 4, a first GAN and mode collapse."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ._common import CheckResult, _as_float, _call, _describe, _fail

__all__ = ["check_mode_coverage", "check_pack"]


def _reference_coverage(samples: torch.Tensor, means: torch.Tensor, std: float, radius: float | None = None,
                        filter_coverage: bool = True):
    """Covered modes and high-quality fraction, with the threshold ``radius`` (default 3 * std)."""
    radius = 3 * std if radius is None else radius
    dist = torch.cdist(samples, means)
    nearest_d, nearest = dist.min(dim=1)
    good = nearest_d <= radius
    covered = nearest[good] if filter_coverage else nearest
    return int(torch.unique(covered).numel()), float(good.float().mean())


def _coverage_cases():
    """Samples built so that every typical mistake gives a different answer."""
    from ..data import grid_of_gaussians, ring_of_gaussians

    gen = torch.Generator().manual_seed(4)
    cases = []
    for mixture, n_good_modes in ((grid_of_gaussians(), 17), (ring_of_gaussians(), 5)):
        means, std = mixture.means, mixture.std
        k = means.shape[0]
        parts = []
        # high-quality samples on the first n_good_modes modes, within 2 std of the mean
        for i in range(n_good_modes):
            direction = torch.randn(6, 2, generator=gen)
            direction = direction / direction.norm(dim=1, keepdim=True)
            radius = torch.rand(6, 1, generator=gen) * 2 * std
            parts.append(means[i] + direction * radius)
        # samples between 3.5 and 6 standard deviations from the next modes: not high quality,
        # yet their nearest mode is one that no good sample covers
        for i in range(n_good_modes, min(k, n_good_modes + 3)):
            angle = torch.rand(4, 1, generator=gen) * 2 * math.pi
            radius = (3.5 + 2.5 * torch.rand(4, 1, generator=gen)) * std
            parts.append(means[i] + radius * torch.cat([torch.cos(angle), torch.sin(angle)], 1))
        # a few samples far from every mode (between modes)
        centre = means.mean(0)
        parts.append(centre + 0.3 * (means[0] - centre) + 0.02 * torch.randn(5, 2, generator=gen))
        samples = torch.cat(parts)
        cases.append((samples[torch.randperm(len(samples), generator=gen)], means.clone(), std))
    return cases


def check_mode_coverage(fn: Callable) -> CheckResult:
    """Check ``fn(samples, means, std) -> (modes_covered, high_quality_fraction)``.

    ``samples``: (N, 2) tensor of generated points; ``means``: (K, 2) tensor of the mixture's
    modes; ``std``: the standard deviation of every mode (a float). Expected, following the
    protocol of the mode-collapse literature: a sample is high quality when its distance to
    the nearest mode is at most 3 * std; a mode is covered when at least one high-quality
    sample has it as nearest mode; the fraction is over samples (a number in [0, 1]).
    """
    name = "mode_coverage"
    for samples, means, std in _coverage_cases():
        out, err = _call(name, fn, samples.clone(), means.clone(), std)
        if err is not None:
            return err
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            return _fail(name, f"expected a pair (modes covered, fraction of high-quality samples), got "
                               f"{_describe(out)}.")
        modes, frac = _as_float(out[0]), _as_float(out[1])
        if modes is None or frac is None:
            return _fail(name, "both results must be single numbers: the count of covered modes and the "
                               f"fraction of high-quality samples; got {_describe(out)}.")
        k, n = means.shape[0], samples.shape[0]
        want_modes, want_frac = _reference_coverage(samples, means, std)
        where = f"(on the {k}-mode mixture with std {std})"
        if modes == want_modes and abs(frac - want_frac) <= 1e-6:
            continue
        # what the typical mistakes give
        any_modes, _ = _reference_coverage(samples, means, std, filter_coverage=False)
        three_modes, three_frac = _reference_coverage(samples, means, std, radius=3.0)
        one_modes, one_frac = _reference_coverage(samples, means, std, radius=std)
        sq_modes, sq_frac = _reference_coverage(samples, means, std, radius=math.sqrt(3 * std))
        if (modes, round(frac, 6)) == (three_modes, round(three_frac, 6)):
            return _fail(name, f"{where} you used the threshold 3 (in data units) instead of 3 * std: "
                               "the distance must be compared with three standard deviations of the mode.")
        if (modes, round(frac, 6)) == (sq_modes, round(sq_frac, 6)):
            return _fail(name, f"{where} you compared the squared distance with 3 * std; compare the "
                               "distance itself (or its square with (3 * std) ** 2).")
        if (modes, round(frac, 6)) == (one_modes, round(one_frac, 6)):
            return _fail(name, f"{where} you used one standard deviation as the threshold; the protocol "
                               "uses three.")
        if modes == any_modes and modes != want_modes:
            return _fail(name, f"{where} you counted {int(modes)} modes but only {want_modes} are covered: "
                               "a mode counts as covered only when a *high-quality* sample (within 3 std) "
                               "is nearest to it, not when any sample happens to be nearest.")
        if modes != want_modes:
            return _fail(name, f"{where} expected {want_modes} covered modes, got {modes:g}.")
        if abs(frac - want_modes / k) <= 1e-6 and abs(want_frac - want_modes / k) > 1e-6:
            return _fail(name, f"{where} the second number is the fraction of modes covered; it should "
                               "be the fraction of *samples* that are high quality.")
        if abs(frac - 100 * want_frac) <= 1e-4:
            return _fail(name, f"{where} you returned a percentage ({frac:.2f}); return the fraction "
                               "in [0, 1].")
        if abs(frac - want_frac * n) <= 1e-4:
            return _fail(name, f"{where} you returned the number of high-quality samples ({frac:g}); "
                               "divide by the number of samples.")
        return _fail(name, f"{where} the covered modes are right ({want_modes}) but the high-quality "
                           f"fraction should be {want_frac:.4f}, got {frac:.4f}.")
    return CheckResult(name, True, "modes covered and high-quality fraction match the protocol on a grid "
                                   "and a ring, including samples just outside 3 std and between modes.")


def check_pack(fn: Callable) -> CheckResult:
    """Check ``fn(x, m) -> packed``: group a batch of samples (B, d) into (B / m, m * d).

    Every row of the result must consist of m complete samples of ``x`` (the d coordinates
    of each sample kept together, in order), and every sample must be used exactly once.
    Which samples share a row does not matter (they are independent draws).
    """
    name = "pack"
    gen = torch.Generator().manual_seed(7)
    for b, d, m in ((12, 2, 2), (12, 2, 4), (30, 3, 3), (8, 2, 1)):
        x = torch.randn(b, d, generator=gen)
        out, err = _call(name, fn, x.clone(), m)
        if err is not None:
            return err
        if not torch.is_tensor(out):
            return _fail(name, f"expected a tensor, got {_describe(out)}.")
        if tuple(out.shape) != (b // m, m * d):
            hint = ""
            if tuple(out.shape) == (m * d, b // m):
                hint = " It looks transposed: rows are discriminator inputs, one per group of m samples."
            elif out.numel() == x.numel() * m:
                hint = " It has m times too many numbers: each sample must be used once, not repeated."
            return _fail(name, f"for x of shape ({b}, {d}) and m = {m} expected shape ({b // m}, {m * d}), "
                               f"got {tuple(out.shape)}.{hint}")
        pieces = out.detach().reshape(b, d)  # every consecutive d numbers should be one sample
        dist = torch.cdist(pieces.double(), x.double())
        match = dist.min(dim=1)
        if match.values.max() > 1e-6:
            return _fail(name, f"(x of shape ({b}, {d}), m = {m}) some rows mix coordinates of different "
                               "samples: each sample's d coordinates must stay next to each other "
                               "(reshape x itself, not x.T).")
        if torch.unique(match.indices).numel() != b:
            return _fail(name, f"(x of shape ({b}, {d}), m = {m}) some samples appear twice and others "
                               "never: every sample must be used exactly once.")
    return CheckResult(name, True, "every row holds m complete samples and every sample is used once, "
                                   "for several batch sizes, dimensions and pack sizes.")
