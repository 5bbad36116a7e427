"""Checks for Chapter 2, saturation and the non-saturating loss."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from ._common import CheckResult, _as_float, _call, _close, _describe, _fail, _gradient, _matching_mistake

__all__ = ["check_nonsaturating_loss"]

_PROB_HINT = ("F.binary_cross_entropy expects probabilities in [0, 1], but the discriminator returns "
              "logits (any real number). Work on the logits: F.softplus(-logits).mean(), or "
              "F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits)).")


def _nonsat_cases():
    gen = torch.Generator().manual_seed(2)
    return [
        torch.randn(64, generator=gen) * 3.0,                    # both signs, moderate
        torch.randn(37, generator=gen) * 2.0 - 4.0,              # D rejects the samples: the early regime
        torch.tensor([-3.0, -0.5, 0.0, 0.7, 2.5, 5.0]),
    ]


def check_nonsaturating_loss(fn: Callable) -> CheckResult:
    """Check ``fn(fake_logits) -> loss``: the non-saturating generator loss from logits.

    ``fake_logits``: the discriminator's logits l on a batch of generated samples, shape (B,),
    with D(G(z)) = sigmoid(l). Expected: the scalar -mean log sigmoid(l) = mean softplus(-l),
    differentiable with respect to the logits (gradient (sigmoid(l) - 1) / B), and finite
    even for a very confident discriminator (logits of -200).
    """
    name = "nonsaturating_loss"
    for logits in _nonsat_cases():
        leaf = logits.clone().requires_grad_(True)
        out, err = _call(name, fn, leaf)
        if err is not None:
            if "between 0 and 1" in err.message:
                return _fail(name, "you called F.binary_cross_entropy on logits. " + _PROB_HINT)
            return err
        got = _as_float(out)
        if got is None:
            return _fail(name, f"expected a single number (a scalar), got {_describe(out)}. The loss is the "
                               "mean over the batch of -log D(G(z)): add .mean().")
        want = float(F.softplus(-logits).mean())
        if not math.isfinite(got):
            return _fail(name, f"the loss is {got} on ordinary logits in [{logits.min():.1f}, "
                               f"{logits.max():.1f}]. Did you take the log of the logits themselves, "
                               "as if they were probabilities? D(G(z)) = sigmoid(logit).")
        if not _close(got, want):
            return _fail(name, _diagnose(logits, got, want))
        if not (torch.is_tensor(out) and out.requires_grad):
            return _fail(name, "the value is right, but it carries no gradient (did you call .item(), "
                               "detach, or build it with NumPy?). The generator learns by backpropagating "
                               "through this loss: return a torch tensor computed from the logits.")
        grad, why = _gradient(out, leaf)
        if grad is None:
            return _fail(name, f"the value is right, but {why}")
        want_grad = (torch.sigmoid(logits) - 1) / len(logits)
        if not torch.allclose(grad, want_grad, rtol=1e-4, atol=1e-7):
            return _fail(name, "the value is right but its gradient with respect to the logits is not "
                               "(sigmoid(l) - 1) / B; is part of the computation detached?")
    # a very confident discriminator: the logit form stays finite, log(sigmoid(l)) does not
    extreme = torch.tensor([-200.0, -40.0, 0.0, 40.0])
    out, err = _call(name, fn, extreme.clone().requires_grad_(True))
    if err is not None:
        return err
    got = _as_float(out)
    want = float(F.softplus(-extreme).mean())
    if got is None or not _close(got, want, 1e-4):
        return _fail(name, f"the formula is right for moderate logits, but for logits {extreme.tolist()} "
                           f"(a very confident discriminator) it gives {_fmt(got)} instead of {want:.4f}. "
                           "sigmoid(-200) rounds to 0 in float32, so log(sigmoid(l)) becomes -inf (or "
                           "is clamped, as F.binary_cross_entropy does). Compute -log sigmoid(l) as "
                           "softplus(-l), or use binary_cross_entropy_with_logits.")
    return CheckResult(name, True, "equals -mean log D(G(z)) = mean softplus(-logit) on every batch, has the "
                                   "right gradient, and stays finite for a very confident discriminator.")


def _fmt(value) -> str:
    return "no single number" if value is None else f"{value:.4f}"


def _diagnose(logits: torch.Tensor, got: float, want: float) -> str:
    """Name the typical mistake that produces ``got`` instead of ``want``."""
    d = torch.sigmoid(logits)
    sp_pos, sp_neg = F.softplus(logits), F.softplus(-logits)
    n = len(logits)
    candidates = [
        (-want, "the sign is flipped: you return mean log D(G(z)). Minimising that pushes D(G(z)) towards 0, "
                "so the generator learns to look fake. The loss is -mean log D(G(z))."),
        (float(-sp_pos.mean()), "this is the minimax (saturating) loss mean log(1 - D(G(z))). The "
                                "non-saturating loss is -mean log D(G(z))."),
        (float(sp_pos.mean()), "this is -mean log(1 - D(G(z))), the discriminator's term for generated "
                               "samples (label 0); minimising it makes the samples look fake. The generator's "
                               "non-saturating loss is -mean log D(G(z)) (label 1)."),
        (float(sp_neg.sum()), "you summed over the batch; the loss is a mean, so that it does not grow "
                              "with the batch size."),
        (float(sp_neg.sum() / (n - 1)) if n > 1 else math.nan,
         "you divided by B - 1; the loss is a plain mean over the B samples."),
        (float(F.softplus(-d).mean()), "you applied the sigmoid twice: the loss already turns logits into "
                                       "probabilities, so pass it the logits, not sigmoid(logits)."),
        (float(-d.mean()), "you returned -mean D(G(z)) without the logarithm; the loss is "
                           "-mean log D(G(z))."),
        (float((1 - d).mean()), "you returned mean (1 - D(G(z))) without the logarithm; the loss is "
                                "-mean log D(G(z))."),
    ]
    mistake = _matching_mistake(got, candidates)
    if mistake:
        return mistake
    return (f"for {n} logits between {logits.min():.2f} and {logits.max():.2f}, expected "
            f"{want:.6f} (= mean softplus(-logit)) but got {got:.6f}.")
