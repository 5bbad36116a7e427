"""Checks for Chapter 8, CycleGAN: the cycle-consistency loss."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._common import CheckResult, _as_float, _call, _close, _describe, _fail, _gradient

__all__ = ["check_cycle_loss"]


def _cycle_cases():
    """Two batches: grey with reconstructions mostly darker than the input, colour with
    reconstructions mostly brighter, so that sign mistakes show in one of them."""
    gen = torch.Generator().manual_seed(8)
    cases = []
    for shape, shift in (((4, 1, 8, 8), -0.3), ((3, 3, 6, 10), 0.3)):
        real = torch.rand(*shape, generator=gen) * 2 - 1
        rec = (real + shift + 0.25 * torch.randn(*shape, generator=gen)).clamp(-1, 1)
        cases.append((real, rec))
    return cases


# (value computed from diff = reconstructed - real and the batch size, verdict)
_DIAGNOSES = [
    (lambda d, n: d.mean(), "that is the bare difference, mean(F(G(x)) - x), without an absolute value. "
     "It is not a distance: positive and negative errors cancel, it can be negative, and minimising it "
     "rewards reconstructions that are as dark as possible. Take the L1 norm: the mean of |F(G(x)) - x|."),
    (lambda d, n: -d.mean(), "that is the bare difference, mean(x - F(G(x))), without an absolute value. "
     "It is not a distance: it can be negative, and minimising it rewards reconstructions that are as "
     "bright as possible. Take the mean of |F(G(x)) - x|."),
    (lambda d, n: d.mean().abs(), "you took the absolute value of the mean difference; take the absolute "
     "value of every pixel's difference first, then the mean (otherwise a reconstruction too bright in "
     "one place and too dark in another scores 0)."),
    (lambda d, n: (d ** 2).mean(), "that is the squared (L2) error; CycleGAN's cycle loss is the L1 norm of "
     "the difference, mean |F(G(x)) - x|, which penalises small errors more and blurs less."),
    (lambda d, n: (d ** 2).mean().sqrt(), "that is a root-mean-square (L2) error; the cycle loss is the mean "
     "absolute (L1) error."),
    (lambda d, n: d.norm(), "that is the Euclidean (L2) norm of the whole difference; the cycle loss is the "
     "mean absolute (L1) error."),
    (lambda d, n: d.abs().sum(), "the absolute differences are summed; use the mean, so that the weight "
     "lambda does not depend on the image size and batch size."),
    (lambda d, n: d.abs().sum() / n, "the absolute differences are summed over each image's pixels (then "
     "averaged over images); use the mean over pixels too, so that lambda does not depend on the image size."),
    (lambda d, n: 0.5 * d.abs().mean(), "there is an extra factor 1/2; the cycle loss is the plain mean "
     "absolute error (lambda sets its weight)."),
]


def check_cycle_loss(fn: Callable) -> CheckResult:
    """Check ``fn(real, reconstructed) -> loss``, CycleGAN's cycle-consistency loss.

    Expected: the L1 norm of the difference averaged over every pixel, channel and image,
    mean |reconstructed - real|, as a differentiable 0-d tensor. (The order of the two
    arguments does not matter for an absolute difference.)
    """
    name = "cycle_loss"
    cases, outputs, values = _cycle_cases(), [], []
    for real, rec in cases:
        rec_in = rec.clone().requires_grad_(True)
        out, err = _call(name, fn, real.clone(), rec_in)
        if err is not None:
            return err
        if torch.is_tensor(out) and out.numel() > 1:
            return _fail(name, f"the loss must be a single number, got a tensor of shape {tuple(out.shape)}: "
                               "average the absolute differences over all pixels and images.")
        got = _as_float(out)
        if got is None:
            return _fail(name, f"the loss must be a single number (a 0-d tensor), got {_describe(out)}.")
        outputs.append((out, rec_in))
        values.append(got)
    wants = [float((rec - real).abs().mean()) for real, rec in cases]
    if not all(_close(got, want, 1e-4) for got, want in zip(values, wants)):
        for value_fn, message in _DIAGNOSES:
            if all(_close(got, float(value_fn(rec - real, real.shape[0])), 1e-4)
                   for got, (real, rec) in zip(values, cases)):
                return _fail(name, message)
        for got, want, (real, _) in zip(values, wants, cases):
            if not _close(got, want, 1e-4):
                return _fail(name, f"for images of shape {tuple(real.shape)}: expected mean |reconstructed - "
                                   f"real| = {want:.5f}, got {got:.5f}.")
    for (out, rec_in), (real, rec) in zip(outputs, cases):
        if not torch.is_tensor(out) or not out.requires_grad:
            return _fail(name, "the value is right, but it is not a tensor connected to the reconstruction "
                               "(did you call .item() or build it from NumPy?): the loss must stay a torch "
                               "tensor so that its gradient reaches the generators.")
        grad, why = _gradient(out, rec_in)
        if grad is None:
            return _fail(name, f"the value is right, but {why}")
        diff = rec - real
        if not torch.allclose(grad, torch.sign(diff) / diff.numel(), atol=1e-6):
            return _fail(name, "the value is right but its gradient is not sign(F(G(x)) - x) / N: "
                               "compute it with differentiable torch operations on the inputs.")
    return CheckResult(name, True, "mean absolute difference (L1) over all pixels, channels and images, "
                                   "differentiable, for grey and colour batches.")
