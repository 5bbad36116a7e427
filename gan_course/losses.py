"""GAN losses as pure functions of the discriminator's logits.

Working on logits (never on sigmoid outputs followed by a log) keeps every loss finite
for any logit: log σ(l) = -softplus(-l) and log(1 - σ(l)) = -softplus(l).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _logits(t: torch.Tensor, name: str) -> torch.Tensor:
    if not torch.is_tensor(t) or not t.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor of logits, got {type(t).__name__}")
    return t


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """-V(D, G) estimated on a batch: BCE(D(x), 1) + BCE(D(G(z)), 0) (Chapter 1).

    Minimising it is the discriminator's ascent on V. Shapes: any, matching batch of logits.
    """
    real_logits, fake_logits = _logits(real_logits, "real_logits"), _logits(fake_logits, "fake_logits")
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def generator_loss_minimax(fake_logits: torch.Tensor) -> torch.Tensor:
    """The generator's side of the minimax game: mean log(1 - D(G(z))) = -mean softplus(l).

    This is the loss that saturates when D confidently rejects the samples (Chapter 2).
    """
    return -F.softplus(_logits(fake_logits, "fake_logits")).mean()


def generator_loss_nonsaturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """The non-saturating generator loss: -mean log D(G(z)) = mean softplus(-l) (Chapter 2)."""
    return F.softplus(-_logits(fake_logits, "fake_logits")).mean()
