"""Checks for Chapter 10, CoGAN: the pixel agreement ratio, and weight sharing between the
first stages of two generators."""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn

from ._common import CheckResult, _as_float, _call, _close, _describe, _fail, _seeded

__all__ = ["check_pixel_agreement", "check_shared_layers"]


def _agreement(a: torch.Tensor, b: torch.Tensor, threshold: float = 0.0) -> float:
    return float(((a > threshold) == (b > threshold)).float().mean())


def check_pixel_agreement(fn: Callable) -> CheckResult:
    """Check ``fn(images_a, images_b) -> float``: CoGAN's pixel agreement ratio.

    Expected: both batches (N, C, H, W) in [-1, 1] binarised at 0 (mid-grey), then the
    fraction of all pixels (over the whole batch) on which the two binary images agree.
    """
    name = "pixel_agreement"
    gen = torch.Generator().manual_seed(10)
    # smooth grey images with a dark background, and a noisy, partly shifted copy of them
    a = (torch.rand(6, 1, 8, 8, generator=gen) * 2.2 - 1.2).clamp(-1, 1)
    b = (a + 0.6 * torch.randn(6, 1, 8, 8, generator=gen)).clamp(-1, 1)
    b[:2] = torch.roll(a[:2], 1, dims=-1)
    c = torch.zeros(3, 1, 4, 4)
    c[:, :, :2] = 0.7
    d = c.clone()
    d[:, :, 1] = 0.2                                        # agrees at threshold 0, not at 0.5
    cases = [(a, b), (c, d), (a[:1], a[:1])]
    for x, y in cases:
        out, err = _call(name, fn, x.clone(), y.clone())
        if err is not None:
            return err
        if torch.is_tensor(out) and out.numel() > 1:
            return _fail(name, f"expected one number for the whole batch, got a tensor of shape "
                               f"{tuple(out.shape)}: take the mean over all pixels of all images.")
        value = _as_float(out)
        if value is None:
            return _fail(name, f"expected a number, got {_describe(out)}.")
        want = _agreement(x, y)
        if _close(value, want, 1e-4):
            continue
        if _close(value, float((x == y).float().mean()), 1e-4):
            return _fail(name, "you compared the grey values themselves: two generated images almost never "
                               "have exactly equal pixel values. Binarise both images first (pixel > 0), "
                               "then compare the binary images.")
        if _close(value, 1 - want, 1e-4):
            return _fail(name, f"you returned the fraction of pixels that DISAGREE ({value:.3f}); the "
                               f"agreement ratio is one minus that ({want:.3f}).")
        if _close(value, _agreement(x, y, 0.5), 1e-4):
            return _fail(name, "you binarised at 0.5, the mid-grey of images in [0, 1]; the book's images "
                               "live in [-1, 1], where mid-grey is 0.")
        if _close(value, _agreement(x, y) * x[0].numel(), 1e-3):
            return _fail(name, "the result is a number of pixels per image, not a fraction: divide by the "
                               "number of pixels (take the mean, not the sum, over the pixels).")
        if _close(value, float((x > 0).eq(y).float().mean()), 1e-4) or \
                _close(value, float((y > 0).eq(x).float().mean()), 1e-4):
            return _fail(name, f"only one of the two images was binarised (got {value:.4f}, expected {want:.4f}): "
                               "threshold both at 0 before comparing them.")
        return _fail(name, f"got {value:.4f}, expected {want:.4f} (binarise both at 0, then the fraction "
                           "of agreeing pixels over the whole batch).")
    return CheckResult(name, True, "binarises both batches at mid-grey and returns the fraction of "
                                   "agreeing pixels, as in the CoGAN paper.")


def _stages(seed: int) -> list[nn.Module]:
    """Four generator stages, initialised from ``seed`` (the global generator is left alone)."""
    from ..models.cogan import _g_layers

    with _seeded(seed):
        return _g_layers(8, 4, 1)


def _as_pair(out) -> tuple[nn.Module, nn.Module] | None:
    if isinstance(out, (tuple, list)) and len(out) == 2 and all(isinstance(g, nn.Module) for g in out):
        return out[0], out[1]
    return None


def _stages_word(n: int) -> str:
    return f"{n} stage" if n == 1 else f"{n} stages"


def _param_ids(module: nn.Module) -> set[int]:
    return {id(p) for p in module.parameters()}


def check_shared_layers(fn: Callable) -> CheckResult:
    """Check ``fn(stages_1, stages_2, n_shared) -> (g1, g2)``: two generators that share their
    first ``n_shared`` stages.

    ``stages_1`` and ``stages_2`` are two lists of four independently initialised generator
    stages (z -> 4x4 -> 8x8 -> 16x16 -> 32x32 image). Expected: ``g1`` runs stages_1 in
    order; ``g2`` runs the *same module objects* as g1 for its first ``n_shared`` stages and
    its own stages_2 after them, so the shared stages have one set of parameters.
    """
    name = "shared_layers"
    gen = torch.Generator().manual_seed(0)
    for n_shared in (0, 1, 2, 3):
        s1, s2 = _stages(2 * n_shared), _stages(2 * n_shared + 1)
        out, err = _call(name, fn, list(s1), list(s2), n_shared)
        if err is not None:
            return err
        if _as_pair(out) is None:
            return _fail(name, f"expected a pair (g1, g2) of nn.Module objects, e.g. two nn.Sequential; got "
                               f"{_describe(out)}.")
        g1, g2 = out
        z = torch.randn(3, 8, 1, 1, generator=gen)
        for label, g in (("g1", g1), ("g2", g2)):
            x, err = _call(name, g, z)
            if err is not None:
                return _fail(name, f"running {label} on z of shape (3, 8, 1, 1) failed: {err.message}")
            if not torch.is_tensor(x) or tuple(x.shape) != (3, 1, 32, 32):
                return _fail(name, f"{label} should map z (3, 8, 1, 1) to images (3, 1, 32, 32), got "
                                   f"{getattr(x, 'shape', type(x).__name__)}: run all four stages in order.")
        shared = _param_ids(g1) & _param_ids(g2)
        first = [_param_ids(s) for s in s1]
        want = set().union(*first[:n_shared])
        if shared == want and _param_ids(g1) == set().union(*first) and \
                _param_ids(g2) == want | set().union(*(_param_ids(s) for s in s2[n_shared:])):
            continue
        if not shared:
            same_values = all(torch.equal(p, q) for p, q in zip(g1[0].parameters(), g2[0].parameters())) \
                if isinstance(g1, nn.Sequential) and isinstance(g2, nn.Sequential) else False
            if n_shared and same_values:
                return _fail(name, f"with n_shared = {n_shared} the two generators start with equal weights but "
                                   "share no parameter: copying a stage (copy.deepcopy, load_state_dict) makes "
                                   "two tensors that drift apart at the first update. Put the same module "
                                   "object in both networks.")
            return _fail(name, f"with n_shared = {n_shared} the two generators share no parameter, although the "
                               f"first {_stages_word(n_shared)} should be common to both (the same module "
                               "objects in g1 and g2).")
        by_stage = [k for k, ids in enumerate(first) if ids <= shared]
        if n_shared and by_stage and by_stage[0] > 0 and len(by_stage) == n_shared:
            return _fail(name, f"you shared the LAST {_stages_word(n_shared)} of the generators. The generators share "
                               "their FIRST stages, which decode the high-level content of z; the last stages "
                               "render domain-specific detail (it is the discriminators that share their last "
                               "stages).")
        if len(by_stage) == 4:
            return _fail(name, "the two generators share every stage, the output stage included: then "
                               "G1(z) = G2(z) and the second domain cannot be rendered differently.")
        if len(by_stage) != n_shared:
            return _fail(name, f"with n_shared = {n_shared} your generators share {_stages_word(len(by_stage))} "
                               f"(numbers {by_stage}, counting from 0); they should share exactly the "
                               f"first {_stages_word(n_shared)}: an off-by-one in the slice?")
        return _fail(name, f"with n_shared = {n_shared} the parameters of g1 and g2 are not the expected ones: "
                           "g1 should run stages_1, g2 the shared stages followed by its own stages_2.")
    # one gradient step through g1 alone must move the weights that g2 uses
    s1, s2 = _stages(8), _stages(9)
    out, err = _call(name, fn, list(s1), list(s2), 2)
    if err is not None:
        return _fail(name, f"the second call with n_shared = 2 (fresh stages) failed: {err.message}")
    if _as_pair(out) is None:
        return _fail(name, f"the second call with n_shared = 2 (fresh stages) returned {_describe(out)}, "
                           "not a pair (g1, g2) of nn.Module objects.")
    g1, g2 = out
    before = copy.deepcopy([p.detach().clone() for p in g2.parameters()])
    images, err = _call(name, g1, torch.randn(3, 8, 1, 1, generator=gen))
    if err is not None:
        return _fail(name, f"running g1 of the second call failed: {err.message}")
    if not (torch.is_tensor(images) and images.requires_grad):
        return _fail(name, f"g1 of the second call returned {_describe(images)}, not images that carry "
                           "gradients to its weights.")
    images.mean().backward()
    torch.optim.SGD(g1.parameters(), lr=1.0).step()
    moved = sum(not torch.equal(b, p) for b, p in zip(before, g2.parameters()))
    if not moved:
        return _fail(name, "training g1 did not change any weight of g2: the stages are not shared.")
    return CheckResult(name, True, "the first n_shared stages are one set of modules used by both generators "
                                   "(an update through G1 moves G2's shared weights), the rest stay separate.")
