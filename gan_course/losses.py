"""GAN losses as pure functions of the discriminator's logits.

Working on logits (never on sigmoid outputs followed by a log) keeps every loss finite
for any logit: log σ(l) = -softplus(-l) and log(1 - σ(l)) = -softplus(l).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .models.common import check_labels


def _logits(t: torch.Tensor, name: str) -> torch.Tensor:
    """Validate discriminator logits: (B,) per sample, or (B, 1, H, W) per patch.

    Anything else (e.g. (B, 1), which would broadcast silently against (B,) targets) is
    rejected with an error naming the shape received.
    """
    if not torch.is_tensor(t) or not t.is_floating_point():
        kind = f"a tensor of dtype {t.dtype}" if torch.is_tensor(t) else type(t).__name__
        raise TypeError(f"{name} must be a floating-point tensor of logits, got {kind}")
    if t.numel() == 0:
        raise ValueError(f"{name} is empty: a loss needs at least one sample")
    if not (t.ndim == 1 or (t.ndim == 4 and t.shape[1] == 1)):
        hint = " (squeeze the last dimension)" if t.ndim == 2 and t.shape[1] == 1 else ""
        raise ValueError(f"{name} must have shape (B,) or (B, 1, H, W) for patch logits, "
                         f"got {tuple(t.shape)}{hint}")
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


# ---------------------------------------------------------------------------------------
# Least squares (LSGAN, Chapter 6): D's raw output is a score, not a logit of a probability
# ---------------------------------------------------------------------------------------


def discriminator_loss_least_squares(real_scores: torch.Tensor, fake_scores: torch.Tensor,
                                     a: float = 0.0, b: float = 1.0) -> torch.Tensor:
    """½ E[(D(x) - b)²] + ½ E[(D(G(z)) - a)²]: D pulls real scores to b, generated to a."""
    real_scores, fake_scores = _logits(real_scores, "real_scores"), _logits(fake_scores, "fake_scores")
    return 0.5 * ((real_scores - b) ** 2).mean() + 0.5 * ((fake_scores - a) ** 2).mean()


def generator_loss_least_squares(fake_scores: torch.Tensor, c: float = 1.0) -> torch.Tensor:
    """½ E[(D(G(z)) - c)²]: G pulls the scores of its samples to the value c.

    Mao et al. (2017) use (a, b, c) = (0, 1, 1) in practice, and (a, b, c) = (-1, 1, 0),
    which satisfies b - c = 1 and b - a = 2, for the Pearson chi-square result.
    """
    return 0.5 * ((_logits(fake_scores, "fake_scores") - c) ** 2).mean()


GENERATOR_LOSSES = {
    "minimax": generator_loss_minimax,
    "nonsaturating": generator_loss_nonsaturating,
    "least_squares": generator_loss_least_squares,
}
DISCRIMINATOR_LOSSES = {
    "bce": discriminator_loss,
    "least_squares": discriminator_loss_least_squares,
}


def generator_loss(name: str):
    """Look up a generator loss by name: ``minimax``, ``nonsaturating`` or ``least_squares``."""
    if name not in GENERATOR_LOSSES:
        raise ValueError(f"unknown generator loss {name!r}; accepted: {', '.join(GENERATOR_LOSSES)}")
    return GENERATOR_LOSSES[name]


def discriminator_loss_named(name: str):
    """Look up a discriminator loss by name: ``bce`` or ``least_squares``."""
    if name not in DISCRIMINATOR_LOSSES:
        raise ValueError(f"unknown discriminator loss {name!r}; accepted: {', '.join(DISCRIMINATOR_LOSSES)}")
    return DISCRIMINATOR_LOSSES[name]


# ---------------------------------------------------------------------------------------
# Classification and reconstruction (Chapters 7-10)
# ---------------------------------------------------------------------------------------


def classification_loss(class_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of class logits (B, K) against integer labels (B,) in 0..K-1.

    Labels follow the package's one rule (:func:`gan_course.models.check_labels`): any
    integer dtype, converted to int64; floats and bools are refused.
    """
    if class_logits.ndim != 2:
        raise ValueError(f"class logits must have shape (B, K), got {tuple(class_logits.shape)}")
    labels = check_labels(labels, class_logits.shape[1], len(class_logits))
    return F.cross_entropy(class_logits, labels)


def reconstruction_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error |output - target| (the L1 loss of pix2pix, CycleGAN and StarGAN)."""
    if output.shape != target.shape:
        raise ValueError(f"output {tuple(output.shape)} and target {tuple(target.shape)} must have the same shape")
    return (output - target).abs().mean()


def cycle_consistency_loss(real: torch.Tensor, reconstructed: torch.Tensor) -> torch.Tensor:
    """CycleGAN's cycle loss: the L1 norm of the difference, mean |F(G(x)) - x| (Chapter 8).

    A norm of the difference, never the bare difference (which can be negative and would
    reward reconstructions that are *darker* than the input).
    """
    return reconstruction_loss(reconstructed, real)


def identity_loss(mapped: torch.Tensor, original: torch.Tensor) -> torch.Tensor:
    """CycleGAN's identity loss mean |G(y) - y|: an image already in the target domain should
    pass through the generator unchanged (it preserves colour composition)."""
    return reconstruction_loss(mapped, original)


def domain_classification_loss(domain_logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """StarGAN's domain loss: cross-entropy for one domain per image (target: integer (B,)), or
    binary cross-entropy per attribute for multi-attribute labels (target: float (B, n) in {0, 1})."""
    if not target.is_floating_point() and target.dtype != torch.bool:
        return classification_loss(domain_logits, target)
    if target.shape != domain_logits.shape:
        raise ValueError(f"attribute targets {tuple(target.shape)} must match the logits {tuple(domain_logits.shape)}")
    return F.binary_cross_entropy_with_logits(domain_logits, target.float(), reduction="sum") / len(target)
