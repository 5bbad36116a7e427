"""Checks for Chapter 5, DCGAN: an upsampling generator block and spherical interpolation."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ._common import CheckResult, _call, _describe, _fail, _seeded

__all__ = ["check_generator_block", "check_slerp"]


def check_generator_block(make_block: Callable[[int, int], nn.Module]) -> CheckResult:
    """Check ``make_block(c_in, c_out)``: a DCGAN generator block that doubles the spatial size.

    Expected: a transposed convolution with stride 2 (no upsampling layer, no pooling), batch
    normalisation and ReLU, mapping (B, c_in, H, W) to (B, c_out, 2H, 2W).
    """
    name = "generator_block"
    with _seeded(0):                           # the block's initial weights; the global generator is left alone
        block, err = _call(name, make_block, 16, 8)
    if err is not None:
        return err
    if not isinstance(block, nn.Module):
        return _fail(name, f"make_block must return an nn.Module (e.g. nn.Sequential), got {_describe(block)}.")
    x = torch.randn(4, 16, 8, 8, generator=torch.Generator().manual_seed(0))
    out, err = _call(name, block, x)
    if err is not None:
        return _fail(name, f"make_block returned {_describe(block)}, and running it on a batch of shape "
                           f"(4, 16, 8, 8) failed: {err.message.removeprefix('your function raised ')}")
    if not torch.is_tensor(out) or out.ndim != 4:
        return _fail(name, f"the block should return a 4-D image tensor, got {_describe(out)}.")
    modules = list(block.modules())
    if any(isinstance(m, (nn.Upsample, nn.MaxPool2d, nn.AvgPool2d)) for m in modules):
        return _fail(name, "the DCGAN guidelines replace pooling and fixed upsampling by learned, strided "
                           "(transposed) convolutions.")
    convs = [m for m in modules if isinstance(m, nn.ConvTranspose2d)]
    if not convs:
        return _fail(name, "no nn.ConvTranspose2d found: the generator upsamples with transposed convolutions.")
    if tuple(out.shape) != (4, 8, 16, 16):
        conv = convs[0]
        hint = ""
        if out.shape[-1] == 8 * conv.stride[0] + conv.kernel_size[0] - conv.stride[0] - 2 * conv.padding[0]:
            hint = (" With kernel 4 and stride 2, padding must be 1: the output size is "
                    "(H - 1)·stride - 2·padding + kernel = 2H.")
        return _fail(name, f"(4, 16, 8, 8) should become (4, 8, 16, 16), got {tuple(out.shape)}.{hint}")
    if not any(isinstance(m, nn.BatchNorm2d) for m in modules):
        return _fail(name, "missing batch normalisation after the transposed convolution (DCGAN guideline).")
    if not any(isinstance(m, nn.ReLU) for m in modules):
        kinds = {type(m).__name__ for m in modules if isinstance(m, (nn.LeakyReLU, nn.Tanh, nn.Sigmoid))}
        extra = f" (found {', '.join(sorted(kinds))})" if kinds else ""
        return _fail(name, f"the generator's hidden blocks use ReLU{extra}; LeakyReLU belongs to the "
                           "discriminator and tanh only to the output layer.")
    if (out < 0).any():
        return _fail(name, "the output has negative values: put the ReLU last, after the batch norm.")
    return CheckResult(name, True, "doubles the spatial size with a stride-2 transposed convolution, "
                                   "then batch norm and ReLU, as the DCGAN guidelines ask.")


def check_slerp(fn: Callable) -> CheckResult:
    """Check ``fn(z0, z1, t) -> z``: spherical interpolation for vectors (d,) and a number t."""
    from ..latent import slerp

    name = "slerp"
    gen = torch.Generator().manual_seed(5)
    z0, z1 = torch.randn(64, generator=gen), torch.randn(64, generator=gen)
    for t in (0.0, 0.25, 0.5, 0.9, 1.0):
        out, err = _call(name, fn, z0.clone(), z1.clone(), t)
        if err is not None:
            return err
        if not torch.is_tensor(out) or out.shape != z0.shape:
            return _fail(name, f"expected a vector of shape {tuple(z0.shape)}, got {_describe(out)}.")
        want = slerp(z0, z1, t)
        if torch.allclose(out, want, atol=1e-4):
            continue
        if torch.allclose(out, (1 - t) * z0 + t * z1, atol=1e-4):
            return _fail(name, "this is linear interpolation; slerp weights z0 and z1 by "
                               "sin((1-t)ω)/sin ω and sin(tω)/sin ω, where ω is the angle between them.")
        if torch.allclose(out, slerp(z0, z1, 1 - t), atol=1e-4):
            return _fail(name, "the weights are swapped: at t = 0 the result must be z0 and at t = 1 it must be z1.")
        unit = slerp(z0 / z0.norm(), z1 / z1.norm(), t)
        if torch.allclose(out, unit, atol=1e-4):
            return _fail(name, "you interpolated the normalised vectors; use z0 and z1 themselves "
                               "(only the angle ω is computed from the normalised vectors).")
        return _fail(name, f"at t = {t}, the result differs from slerp by up to "
                           f"{(out - want).abs().max().item():.3g}.")
    return CheckResult(name, True, "matches spherical interpolation at t = 0, 0.25, 0.5, 0.9 and 1.")
