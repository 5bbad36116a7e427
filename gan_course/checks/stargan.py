"""Checks for Chapter 9, StarGAN: tiling a target label over the image plane, and the
generator's objective (adversarial + domain classification + reconstruction)."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ._common import CheckResult, _as_float, _call, _close, _describe, _fail, _seeded

__all__ = ["check_label_tiling", "check_stargan_generator_loss"]


def check_label_tiling(fn: Callable) -> CheckResult:
    """Check ``fn(c, H, W) -> maps``: label vectors c (B, n) spread over the image plane.

    Expected: a float tensor (B, n, H, W) whose channel j holds c[:, j] at every position,
    ready to be concatenated with images (B, C, H, W) along dim=1. Tested with one-hot
    domain labels and with multi-attribute vectors (several ones per row), H != W.
    """
    name = "label_tiling"
    one_hot = F.one_hot(torch.tensor([2, 0, 3]), 4).float()
    attributes = torch.tensor([[1.0, 0.0, 1.0, 1.0, 0.0], [0.0, 1.0, 0.0, 0.0, 1.0]])
    for c, (h, w) in ((one_hot, (5, 7)), (attributes, (6, 4))):
        b, n = c.shape
        out, err = _call(name, fn, c.clone(), h, w)
        if err is not None:
            return err
        if not torch.is_tensor(out):
            return _fail(name, f"expected a tensor (B, n, H, W), got {_describe(out)}.")
        shape = tuple(out.shape)
        if shape == (b, h, w, n):
            return _fail(name, f"wrong dimension order: got (B, H, W, n) = {shape}. PyTorch images are "
                               "(B, channels, H, W) and every domain is one channel: the label dimension "
                               "comes second. Index c[:, :, None, None] (not c[:, None, None, :]) before "
                               "expanding.")
        if shape == (b, n, w, h) and h != w:
            return _fail(name, f"height and width are swapped: got {shape}, expected ({b}, {n}, {h}, {w}).")
        if shape in ((b, n), (b, n, 1, 1), (b, n, 1), (b, n, h), (b, n, 1, w), (b, n, h, 1)):
            return _fail(name, f"the labels are not expanded over the image: got {shape}, expected "
                               f"({b}, {n}, {h}, {w}). torch.cat with the images needs the full height "
                               "and width: .expand(-1, -1, H, W) (or .repeat(1, 1, H, W)).")
        if shape == (b, 1, h, w):
            return _fail(name, "a single channel: you tiled the domain index (or one number per image), "
                               "not the label vector. StarGAN gives every domain (attribute) its own "
                               f"channel: the result needs n = {n} channels.")
        if shape != (b, n, h, w):
            return _fail(name, f"expected shape ({b}, {n}, {h}, {w}), got {shape}.")
        if not out.is_floating_point():
            return _fail(name, f"the maps have dtype {out.dtype}: they are concatenated with float images, "
                               "so they must be floats (0.0 / 1.0), not integers. Use .float().")
        want = c[:, :, None, None].expand(b, n, h, w)
        if not torch.allclose(out.float(), want):
            if torch.allclose(out.float(), want.flip(1)):
                return _fail(name, "the channels are in reverse order: channel j must hold label j.")
            if all(torch.allclose(out[:, j].float(), out[:, j, :1, :1].expand(b, h, w).float()) for j in range(n)):
                argmax = F.one_hot(c.argmax(1), n).float()[:, :, None, None].expand(b, n, h, w)
                if n == attributes.shape[1] and torch.allclose(out.float(), argmax):
                    return _fail(name, "the label vector was converted to a one-hot code of its largest "
                                       "entry: multi-attribute labels such as [1, 0, 1, 1, 0] must be "
                                       "copied unchanged, every entry into its own channel.")
                return _fail(name, "each channel is constant, but its value is not the label's entry: "
                                   "channel j must hold c[:, j] (do not transform the labels).")
            return _fail(name, "the channels are not constant over the image: every position must hold "
                               "the same label vector (tile it; do not reshape or view the data).")
    return CheckResult(name, True, "label vectors (B, n) become float maps (B, n, H, W), one constant "
                                   "channel per domain, for one-hot and multi-attribute labels.")


def _reference_generator_loss(G, D, x, d_org, d_trg, lambda_cls, lambda_rec, *, cls_to=None, rec_label=None,
                              rec_target=None, adversarial="nonsaturating", rec="l1"):
    """The generator objective of the chapter, with switches that produce the typical mistakes."""
    n = D.n_domains
    c_org, c_trg = F.one_hot(d_org, n).float(), F.one_hot(d_trg, n).float()
    fake = G(x, c_trg)
    src, cls = D(fake)
    adv = F.softplus(-src).mean() if adversarial == "nonsaturating" else -F.softplus(src).mean()
    loss_cls = F.cross_entropy(cls, d_trg if cls_to is None else cls_to)
    back = G(fake, c_org if rec_label is None else rec_label(c_org, c_trg))
    target = x if rec_target is None else rec_target(x, fake)
    loss_rec = (back - target).abs().mean() if rec == "l1" else ((back - target) ** 2).mean()
    return adv + lambda_cls * loss_cls + lambda_rec * loss_rec


def check_stargan_generator_loss(fn: Callable) -> CheckResult:
    """Check ``fn(G, D, x, d_org, d_trg, lambda_cls, lambda_rec) -> loss``: StarGAN's generator loss.

    Expected, with c = one-hot labels: fake = G(x, c_trg); (src, cls) = D(fake);
    loss = softplus(-src).mean() + lambda_cls * CE(cls, d_trg)
    + lambda_rec * |G(fake, c_org) - x|.mean(), a differentiable 0-d tensor.
    """
    from ..models.stargan import StarDiscriminator, StarGenerator

    name = "stargan_generator_loss"
    n = 3
    with _seeded(3), torch.no_grad():          # fixed weights; the global generator is left alone
        G = StarGenerator(n, channels=1, width=4, n_blocks=1)
        D = StarDiscriminator(n, channels=1, width=4, n_layers=2)
        for p in D.parameters():               # logits far from 0, so that every mistake shows
            p.normal_(0.0, 0.5)
    gen = torch.Generator().manual_seed(4)
    x = torch.rand(4, 1, 16, 16, generator=gen) * 2 - 1
    d_org, d_trg = torch.tensor([0, 1, 2, 0]), torch.tensor([2, 0, 1, 1])
    for lambda_cls, lambda_rec in ((2.0, 10.0), (0.5, 3.0)):
        args = (G, D, x, d_org, d_trg, lambda_cls, lambda_rec)
        out, err = _call(name, fn, G, D, x.clone(), d_org.clone(), d_trg.clone(), lambda_cls, lambda_rec)
        if err is not None:
            return err
        value = _as_float(out)
        if value is None:
            return _fail(name, f"the loss must be a single number (a 0-d tensor), got {_describe(out)}: "
                               "average over the batch and add the three terms.")
        if not (torch.is_tensor(out) and out.requires_grad):
            return _fail(name, f"the loss carries no gradient (got {_describe(out)}): compute it from G's "
                               "output with torch operations (no .item(), no torch.no_grad()), so that G can "
                               "be trained.")
        with torch.no_grad():
            want = float(_reference_generator_loss(*args))
            if _close(value, want, 1e-4):
                continue
            mistakes = [
                (dict(cls_to=d_org), "the fake is classified towards the ORIGINAL domain: G(x, c') must be "
                                     "recognised as the target domain d_trg; d_org is only used to come back."),
                (dict(rec_label=lambda o, t: t), "the reconstruction uses the target label: translate the "
                                                 "fake back with the ORIGINAL label, G(G(x, c'), c), to "
                                                 "close the cycle."),
                (dict(rec_target=lambda x_, f: f), "the reconstruction is compared with the fake; it must be "
                                                   "compared with the input x: G(G(x, c'), c) ≈ x."),
                (dict(rec="l2"), "the reconstruction uses a squared error; StarGAN (like CycleGAN) uses the "
                                 "L1 norm, mean |G(G(x, c'), c) - x|."),
                (dict(adversarial="minimax"), "the adversarial term is the saturating minimax loss "
                                              "log(1 - D(G(x, c'))); use the non-saturating "
                                              "-log D(G(x, c')) = softplus(-logits)."),
            ]
            for switches, message in mistakes:
                if _close(value, float(_reference_generator_loss(*args, **switches)), 1e-4):
                    return _fail(name, message)
            if _close(value, float(_reference_generator_loss(G, D, x, d_org, d_trg, lambda_rec, lambda_cls)), 1e-4):
                return _fail(name, "lambda_cls and lambda_rec are swapped: lambda_cls weighs the domain "
                                   "classification term, lambda_rec the reconstruction.")
            for lc, lr, what in ((1.0, 1.0, "neither weight is"), (1.0, lambda_rec, "lambda_cls is not"),
                                 (lambda_cls, 1.0, "lambda_rec is not")):
                if _close(value, float(_reference_generator_loss(G, D, x, d_org, d_trg, lc, lr)), 1e-4):
                    return _fail(name, f"{what} applied: weigh the classification term by lambda_cls "
                                       "and the reconstruction term by lambda_rec.")
            for lc, lr, what in ((0.0, lambda_rec, "domain classification"), (lambda_cls, 0.0, "reconstruction")):
                if _close(value, float(_reference_generator_loss(G, D, x, d_org, d_trg, lc, lr)), 1e-4):
                    return _fail(name, f"the {what} term is missing.")
        return _fail(name, f"with lambda_cls = {lambda_cls}, lambda_rec = {lambda_rec} the loss should be "
                           f"{want:.5f}, got {value:.5f}.")
    return CheckResult(name, True, "adversarial (non-saturating) + lambda_cls x cross-entropy towards the "
                                   "target domain + lambda_rec x L1 reconstruction with the original label.")
