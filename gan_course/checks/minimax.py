"""Checks for Chapter 1, the minimax game."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ._common import CheckResult, _as_array, _as_float, _call, _close, _describe, _fail, _matching_mistake

__all__ = ["check_value_function", "check_optimal_discriminator"]


def _value_cases():
    gen = torch.Generator().manual_seed(1)
    cases = []
    for n_real, n_fake in [(64, 64), (50, 30), (7, 19)]:
        d_real = torch.rand(n_real, generator=gen) * 0.9 + 0.05
        d_fake = torch.rand(n_fake, generator=gen) * 0.9 + 0.05
        cases.append((d_real, d_fake))
    return cases


def check_value_function(fn: Callable) -> CheckResult:
    """Check ``fn(d_real, d_fake) -> V``: the minibatch estimate of the value function.

    ``d_real``: D(x) for a batch of real data, ``d_fake``: D(G(z)) for a batch of
    generated data, both probabilities in (0, 1), 1-D tensors possibly of different
    lengths. Expected: mean(log d_real) + mean(log(1 - d_fake)), a scalar.
    """
    name = "value_function"
    for d_real, d_fake in _value_cases():
        out, err = _call(name, fn, d_real.clone(), d_fake.clone())
        if err is not None:
            return err
        got = _as_float(out)
        if got is None:
            return _fail(name, f"expected a single number (a scalar), got {_describe(out)}. "
                               "Each expectation is a mean over its batch.")
        want = float(torch.log(d_real).mean() + torch.log(1 - d_fake).mean())
        if _close(got, want):
            continue
        lr, lf, l1f = torch.log(d_real), torch.log(d_fake), torch.log(1 - d_fake)
        diagnoses = [
            (-want, "the sign is flipped: that is the binary cross-entropy loss, which equals -V. "
                    "V itself is mean log D(x) + mean log(1 - D(G(z)))."),
            (float(lr.mean() + lf.mean()), "the second term uses log D(G(z)); the value function has "
                                           "log(1 - D(G(z))): D wants D(G(z)) close to 0."),
            (float(torch.log(d_fake).mean() + torch.log(1 - d_real).mean()),
             "real and generated inputs are swapped: log D(.) belongs to the real batch."),
            (float(lr.sum() + l1f.sum()), "you summed over the batch; each expectation is a mean."),
            (float(torch.cat([lr, l1f]).mean()), "you averaged over both batches together; each expectation "
                                                  "is averaged over its own batch (they may differ in size)."),
            (float(lr.mean() * l1f.mean()), "the two expectations are added, not multiplied."),
        ]
        mistake = _matching_mistake(got, diagnoses)
        if mistake:
            return _fail(name, mistake)
        return _fail(name, f"for batches of {len(d_real)} real and {len(d_fake)} generated scores, expected "
                           f"{want:.6f} but got {got:.6f}.")
    return CheckResult(name, True, "matches mean log D(x) + mean log(1 - D(G(z))) on every test batch, "
                                   "including batches of different sizes.")


def check_optimal_discriminator(fn: Callable) -> CheckResult:
    """Check ``fn(p_data, p_g) -> D*``: the optimal discriminator, pointwise on arrays."""
    from ..theory import gaussian_pdf, grid

    name = "optimal_discriminator"
    x = grid(-4, 4, 201)
    cases = [(gaussian_pdf(x, 0, 1), gaussian_pdf(x, 1.5, 0.7)),
             (gaussian_pdf(x, -1, 0.5), gaussian_pdf(x, 0.5, 1.2)),
             (gaussian_pdf(x, 0, 1), gaussian_pdf(x, 0, 1))]
    for p_data, p_g in cases:
        out, err = _call(name, fn, p_data.copy(), p_g.copy())
        if err is not None:
            return err
        got = _as_array(out)
        if got is None or got.shape != p_data.shape:
            return _fail(name, f"expected one value per grid point, an array of shape {p_data.shape}, "
                               f"got {_describe(out)}.")
        want = p_data / (p_data + p_g)
        if np.allclose(got, want, rtol=1e-6, atol=1e-9):
            continue
        if np.any(~np.isfinite(got)):
            return _fail(name, "the result contains NaN or inf; D* is a ratio of densities with a positive "
                               "denominator here.")
        if np.allclose(got, p_g / (p_data + p_g), rtol=1e-6):
            return _fail(name, "you returned p_g / (p_data + p_g) = 1 - D*: the optimal D is large where "
                               "real data is more likely than generated data.")
        with np.errstate(divide="ignore", invalid="ignore"):
            if np.allclose(got, p_data / p_g, rtol=1e-6):
                return _fail(name, "you returned the density ratio p_data / p_g; D* = p_data / (p_data + p_g) "
                                   "is a probability between 0 and 1.")
        if np.any((got < 0) | (got > 1)):
            return _fail(name, "some values lie outside [0, 1]; D*(x) is a probability.")
        worst = int(np.argmax(np.abs(got - want)))
        return _fail(name, f"at x = {x[worst]:.2f}, with p_data = {p_data[worst]:.4f} and p_g = {p_g[worst]:.4f}, "
                           f"expected {want[worst]:.4f}, got {got[worst]:.4f}.")
    return CheckResult(name, True, "equals p_data / (p_data + p_g) at every grid point, "
                                   "and 1/2 everywhere when p_g = p_data.")
