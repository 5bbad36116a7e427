"""Checks for Chapter 7, conditional GANs: label conditioning of the generator's input, the
ACGAN losses, the real-vs-fake logit of the semi-supervised discriminator, and the pix2pix
generator loss."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ._common import CheckResult, _as_float, _call, _close, _describe, _fail, _matching_mistake

__all__ = ["check_label_conditioning", "check_acgan_losses", "check_real_logit",
           "check_pix2pix_generator_loss"]


def _bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def _is_one_hot(block: torch.Tensor) -> bool:
    return bool(((block == 0) | (block == 1)).all() and (block.sum(1) == 1).all())


def check_label_conditioning(fn: Callable) -> CheckResult:
    """Check ``fn(z, y, n_classes) -> input``: z (B, d) concatenated with one-hot(y) (B, K).

    Expected: a float tensor (B, d + K) whose first d columns are z and whose last K columns
    are the one-hot code of the integer labels y, for any number of classes K.
    """
    name = "label_conditioning"
    gen = torch.Generator().manual_seed(7)
    # (batch, z_dim, n_classes, labels): the second case never uses the last class and has K != 10
    cases = [(6, 5, 10, torch.tensor([0, 3, 9, 9, 1, 5])),
             (5, 4, 7, torch.tensor([2, 0, 4, 1, 2]))]
    for batch, d, k, y in cases:
        z = torch.randn(batch, d, generator=gen)
        out, err = _call(name, fn, z.clone(), y.clone(), k)
        if err is not None:
            if "Sizes of tensors must match" in err.message or "dimension" in err.message:
                return _fail(name, f"{err.message} Concatenated on the wrong dimension? z has shape "
                                   f"({batch}, {d}) and the one-hot code ({batch}, {k}): join them along "
                                   "dim=1, the feature dimension, so each sample gets its own label.")
            return err
        if not torch.is_tensor(out) or out.ndim != 2:
            return _fail(name, f"expected a 2-D tensor (B, z_dim + n_classes), got {_describe(out)}.")
        if out.shape[0] != batch:
            return _fail(name, f"got {out.shape[0]} rows (shape {tuple(out.shape)}) for a batch of {batch}: "
                               "the one-hot code was concatenated on the wrong dimension (use dim=1, the feature "
                               "dimension, not dim=0, the batch).")
        if not out.is_floating_point():
            return _fail(name, f"the result has dtype {out.dtype}; the generator needs floats: convert "
                               "the one-hot code with .float() (F.one_hot returns integers).")
        width = out.shape[1]
        if width == d + 1:
            if torch.allclose(out[:, d], y.float()) or torch.allclose(out[:, 0], y.float()):
                return _fail(name, "the labels were appended as a single float column: a float label "
                                   "says that class 9 is 'more' than class 3 and that 4.5 is a class. "
                                   "Labels are not one-hot encoded: use F.one_hot(y, n_classes).")
            return _fail(name, f"one extra column instead of {k}: the labels are not one-hot encoded.")
        if width != d + k:
            if width == d + int(y.max()) + 1:
                return _fail(name, f"wrong number of classes: with n_classes = {k} the code needs {k} "
                                   f"columns, you produced {width - d}. F.one_hot(y) without "
                                   "num_classes guesses the number of classes from the largest label "
                                   "in the batch: pass num_classes=n_classes.")
            return _fail(name, f"wrong number of classes: expected {d} + {k} = {d + k} columns "
                               f"(z_dim + n_classes), got {width}. Use the n_classes argument, do not "
                               "hard-code 10.")
        head, tail = out[:, :d], out[:, d:]
        if not torch.allclose(head, z):
            if torch.allclose(out[:, k:], z) and _is_one_hot(out[:, :k]):
                return _fail(name, "the one-hot code comes first: put z first, then the code "
                                   "(torch.cat([z, one_hot], dim=1)), the layout the chapter's "
                                   "generator expects.")
            return _fail(name, "the first z_dim columns should be z itself, unchanged.")
        if not _is_one_hot(tail):
            return _fail(name, "the last n_classes columns are not one-hot encoded: each row must "
                               "contain a single 1 (at the position of its label) and zeros elsewhere.")
        if not torch.equal(tail.argmax(1), y):
            return _fail(name, "the one-hot code is there but marks the wrong positions: row i needs "
                               "its 1 in column y[i].")
    return CheckResult(name, True, "z is followed by the one-hot code of y, for 10 and for 7 classes.")


def check_acgan_losses(d_loss: Callable, g_loss: Callable) -> CheckResult:
    """Check the ACGAN losses on logits.

    ``d_loss(src_real, cls_real, y_real, src_fake, cls_fake, y_fake)``: source cross-entropy
    (real -> 1, generated -> 0) plus the class cross-entropy on real *and* generated images.
    ``g_loss(src_fake, cls_fake, y_fake)``: the non-saturating source loss (generated -> 1)
    plus the class cross-entropy of the generated images with the labels they were asked for.
    Source logits have shape (B,), class logits (B, K), labels (B,) int64.
    """
    name = "acgan_losses"
    gen = torch.Generator().manual_seed(11)
    b, k = 12, 5
    src_r, src_f = torch.randn(b, generator=gen) * 2, torch.randn(b, generator=gen) * 2
    cls_r, cls_f = torch.randn(b, k, generator=gen) * 2, torch.randn(b, k, generator=gen) * 2
    y_r, y_f = torch.randint(k, (b,), generator=gen), torch.randint(k, (b,), generator=gen)
    ce = F.cross_entropy
    source_d = _bce(src_r, 1.0) + _bce(src_f, 0.0)
    want_d = source_d + ce(cls_r, y_r) + ce(cls_f, y_f)
    out, err = _call(name, d_loss, src_r.clone(), cls_r.clone(), y_r.clone(), src_f.clone(), cls_f.clone(),
                     y_f.clone())
    if err is not None:
        return err
    got = _as_float(out)
    if got is None:
        return _fail(name, f"the discriminator loss must be a single number, got {_describe(out)}: "
                           "average over the batch.")
    if not _close(got, float(want_d), 1e-4):
        diagnoses = [
            (source_d + ce(cls_r, y_r), "the class loss on generated images is missing: ACGAN's "
             "discriminator classifies generated images too, with the labels they were generated for."),
            (ce(cls_r, y_r) + ce(cls_f, y_f), "the source (real vs generated) loss is missing."),
            (source_d, "the class losses are missing: D must also predict the class."),
            (_bce(src_r, 0.0) + _bce(src_f, 1.0) + ce(cls_r, y_r) + ce(cls_f, y_f),
             "the source targets are swapped: real images are labelled 1, generated ones 0."),
            (source_d + ce(cls_r.softmax(1), y_r) + ce(cls_f.softmax(1), y_f),
             "you applied a softmax before the cross-entropy: F.cross_entropy expects logits "
             "(probabilities instead of logits)."),
            (_bce(src_r.sigmoid(), 1.0) + _bce(src_f.sigmoid(), 0.0) + ce(cls_r, y_r) + ce(cls_f, y_f),
             "you applied a sigmoid before the binary cross-entropy with logits "
             "(probabilities instead of logits)."),
            (source_d + ce(cls_r, y_r) - ce(cls_f, y_f),
             "the class loss on generated images has the wrong sign: D wants to classify them "
             "correctly, not to get them wrong."),
        ]
        mistake = _matching_mistake(got, diagnoses, 1e-4)
        return _fail(name, "discriminator loss: "
                     + (mistake or f"expected {float(want_d):.5f}, got {got:.5f}."))

    want_g = _bce(src_f, 1.0) + ce(cls_f, y_f)
    out, err = _call(name, g_loss, src_f.clone(), cls_f.clone(), y_f.clone())
    if err is not None:
        return err
    got = _as_float(out)
    if got is None:
        return _fail(name, f"the generator loss must be a single number, got {_describe(out)}: "
                           "average over the batch.")
    if not _close(got, float(want_g), 1e-4):
        diagnoses = [
            (_bce(src_f, 1.0), "the class loss is missing: the generator must also make its images "
             "recognisable as the class y it was asked for."),
            (_bce(src_f, 1.0) - ce(cls_f, y_f), "the class term has the wrong sign: the generator "
             "cooperates with the classifier (it wants its images classified as y); only the source "
             "term is adversarial."),
            (-F.softplus(src_f).mean() + ce(cls_f, y_f), "that is the minimax (saturating) source loss "
             "log(1 - D(G(z))); use the non-saturating -log D(G(z)) of Chapter 2."),
            (_bce(src_f, 0.0) + ce(cls_f, y_f), "the source target is 0: the generator wants its "
             "images judged real (target 1)."),
            (_bce(src_f, 1.0) + ce(cls_f.softmax(1), y_f), "you applied a softmax before the "
             "cross-entropy: F.cross_entropy expects logits (probabilities instead of logits)."),
        ]
        mistake = _matching_mistake(got, diagnoses, 1e-4)
        return _fail(name, "generator loss: " + (mistake or f"expected {float(want_g):.5f}, got {got:.5f}."))
    return CheckResult(name, True, "the discriminator's source and class losses (real and generated) and "
                                   "the generator's non-saturating source loss plus class loss match.")


def check_real_logit(fn: Callable) -> CheckResult:
    """Check ``fn(class_logits) -> logit``: the semi-supervised discriminator's real-vs-fake logit.

    With K class logits l_1..l_K and the fake class's logit fixed at 0, P(real | x) = Z / (Z + 1),
    Z = Σ_k exp(l_k); its logit is log Z = logsumexp(l). Input (B, K), output (B,).
    """
    name = "real_logit"
    gen = torch.Generator().manual_seed(13)
    logits = torch.randn(9, 6, generator=gen) * 3
    logits[0] += 100.0                 # a naive log(exp(l).sum()) overflows to +inf in float32,
    logits[1] -= 120.0                 # and underflows to log(0) = -inf here
    logits[2] *= 0.0
    want = torch.logsumexp(logits, dim=1)
    out, err = _call(name, fn, logits.clone())
    if err is not None:
        return err
    if not torch.is_tensor(out) or out.shape != want.shape:
        return _fail(name, f"expected one logit per image, shape {tuple(want.shape)}, got {_describe(out)}: "
                           "reduce over the class dimension (dim=1), not over the batch.")
    if torch.allclose(out, want, atol=1e-4):
        return CheckResult(name, True, "logit of P(real | x) = logsumexp of the K class logits, "
                                       "stable for large and small logits.")
    z = logits.double().exp().sum(1)
    diagnoses = [
        (logits.sum(1), "you summed the logits; the probability of 'real' sums exp(l_k): the logit "
                        "is log Σ exp(l_k) = logsumexp."),
        (logits.max(1).values, "the largest class logit is only an approximation of logsumexp; "
                               "all classes add to the probability of 'real'."),
        (torch.log(z / (z + 1)), "that is log D(x) = log(Z / (Z + 1)), a log-probability; the logit "
                                 "(the argument of the sigmoid) is log Z."),
        (z / (z + 1), "that is the probability D(x) = Z / (Z + 1); return its logit log Z."),
        (torch.log_softmax(logits, 1).exp().sum(1).log(), "a softmax over the K real classes always "
                                                          "sums to 1: the fake class must enter with "
                                                          "logit 0, which a K-way softmax leaves out."),
    ]
    for value, message in diagnoses:
        if torch.allclose(out.double(), value.double(), atol=1e-4, equal_nan=False):
            return _fail(name, message)
    finite = torch.isfinite(out)
    if not finite.all() and torch.allclose(out[finite], want[finite], atol=1e-4):
        return _fail(name, "right formula but not finite for very large or very small logits "
                           "(exp overflows or underflows): use torch.logsumexp(logits, dim=1).")
    return _fail(name, f"expected logsumexp of the class logits, e.g. {float(want[3]):.4f} for the fourth "
                       f"image, got {float(out[3]):.4f}.")


def check_pix2pix_generator_loss(fn: Callable) -> CheckResult:
    """Check ``fn(patch_logits, fake, target, lambda_l1) -> loss`` of the pix2pix generator.

    Expected: the non-saturating loss averaged over all patch logits (B, 1, P, P), plus
    lambda_l1 times the mean absolute difference |fake - target| over all pixels.
    """
    name = "pix2pix_generator_loss"
    gen = torch.Generator().manual_seed(17)
    patches = torch.randn(4, 1, 6, 6, generator=gen) * 2
    fake = torch.rand(4, 1, 8, 8, generator=gen) * 2 - 1
    target = torch.rand(4, 1, 8, 8, generator=gen) * 2 - 1
    for lam in (100.0, 3.0, 0.0):
        adv = _bce(patches, 1.0)
        l1 = (fake - target).abs().mean()
        want = adv + lam * l1
        out, err = _call(name, fn, patches.clone(), fake.clone(), target.clone(), lam)
        if err is not None:
            return err
        got = _as_float(out)
        if got is None:
            return _fail(name, f"the loss must be a single number, got {_describe(out)}: average over "
                               "patches and pixels.")
        if _close(got, float(want), 1e-4):
            continue
        diagnoses = [
            (adv + lam * (fake - target).mean(), "a bare difference is not a distance (positive and "
             "negative errors cancel): take the absolute value, the L1 norm of the difference."),
            (adv + lam * ((fake - target) ** 2).mean(), "that is the squared (L2) error; pix2pix uses L1, "
             "which blurs less."),
            (lam * adv + l1, "lambda multiplies the L1 term, not the adversarial one."),
            (adv, "the L1 term is missing."),
            (lam * l1, "the adversarial term is missing."),
            (-F.softplus(patches).mean() + lam * l1, "that is the minimax (saturating) adversarial loss; "
             "use the non-saturating -log D."),
            (F.binary_cross_entropy_with_logits(patches, torch.ones_like(patches), reduction="sum")
             + lam * l1, "the adversarial loss is summed over patches; average it (mean over all "
             "patch logits)."),
            (_bce(patches.mean(dim=(1, 2, 3)), 1.0) + lam * l1, "you averaged the patch logits before "
             "the loss: each patch is judged separately, so apply the loss to every patch logit and "
             "then average."),
            (adv + lam * (fake - target).abs().sum(), "the L1 term is summed over pixels; use the mean, "
             "so lambda does not depend on the image size."),
        ]
        mistake = _matching_mistake(got, diagnoses, 1e-4)
        return _fail(name, f"with lambda = {lam}: " + (mistake or f"expected {float(want):.5f}, got {got:.5f}."))
    return CheckResult(name, True, "non-saturating loss over all patches plus lambda times the mean "
                                   "absolute error, for lambda = 100, 3 and 0.")
