"""Checks for Chapter 6, LSGAN: the least-squares losses."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._common import CheckResult, _as_float, _call, _close, _describe, _fail, _matching_mistake

__all__ = ["check_least_squares_losses"]


def check_least_squares_losses(d_loss: Callable, g_loss: Callable) -> CheckResult:
    """Check ``d_loss(real_scores, fake_scores, a, b)`` and ``g_loss(fake_scores, c)``.

    Expected: ½ mean((D(x) - b)²) + ½ mean((D(G(z)) - a)²) and ½ mean((D(G(z)) - c)²), on the
    discriminator's raw scores (no sigmoid).
    """
    name = "least_squares_losses"
    gen = torch.Generator().manual_seed(2)
    real, fake = torch.randn(40, generator=gen) * 2, torch.randn(25, generator=gen) * 2
    for a, b, c in ((0.0, 1.0, 1.0), (-1.0, 1.0, 0.0)):
        want_d = 0.5 * ((real - b) ** 2).mean() + 0.5 * ((fake - a) ** 2).mean()
        want_g = 0.5 * ((fake - c) ** 2).mean()
        out, err = _call(name, d_loss, real.clone(), fake.clone(), a, b)
        if err is not None:
            return err
        got = _as_float(out)
        if got is None:
            return _fail(name, f"the discriminator loss must be a single number, got {_describe(out)}: "
                               "average over each batch.")
        if not _close(got, float(want_d)):
            s = torch.sigmoid
            diagnoses = [
                (0.5 * ((s(real) - b) ** 2).mean() + 0.5 * ((s(fake) - a) ** 2).mean(),
                 "you applied a sigmoid: LSGAN uses the discriminator's raw scores."),
                (((real - b) ** 2).mean() + ((fake - a) ** 2).mean(), "the factors ½ are missing."),
                (0.5 * ((real - a) ** 2).mean() + 0.5 * ((fake - b) ** 2).mean(),
                 "the targets are swapped: real scores go to b, generated scores to a."),
                (0.5 * (real - b).abs().mean() + 0.5 * (fake - a).abs().mean(),
                 "that is an absolute (L1) distance; LSGAN squares the differences."),
                (0.5 * torch.cat([(real - b) ** 2, (fake - a) ** 2]).mean(),
                 "you averaged over both batches pooled together; average each batch separately."),
            ]
            mistake = _matching_mistake(got, diagnoses) or f"expected {float(want_d):.5f}, got {got:.5f}."
            return _fail(name, f"discriminator loss with (a, b) = ({a}, {b}): {mistake}")
        out, err = _call(name, g_loss, fake.clone(), c)
        if err is not None:
            return err
        got = _as_float(out)
        if got is None:
            return _fail(name, f"the generator loss must be a single number, got {_describe(out)}: "
                               "average over the batch.")
        if not _close(got, float(want_g)):
            diagnoses = [
                (0.5 * ((fake - a) ** 2).mean(), f"generator loss with c = {c}: you used the discriminator's "
                 "target for generated samples (a); the generator pulls its scores to c."),
                (((fake - c) ** 2).mean(), f"generator loss with c = {c}: the factor ½ is missing."),
                (-0.5 * ((fake - a) ** 2).mean(), "generator loss: do not negate the discriminator's term; "
                 "LSGAN's generator minimises its own squared distance to c."),
            ]
            return _fail(name, _matching_mistake(got, diagnoses)
                         or f"generator loss with c = {c}: expected {float(want_g):.5f}, got {got:.5f}.")
    return CheckResult(name, True, "both losses match for (a, b, c) = (0, 1, 1) and (-1, 1, 0).")
