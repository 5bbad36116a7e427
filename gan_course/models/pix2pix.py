"""Paired image-to-image translation (Isola et al., 2017), Chapter 7: a U-Net generator and a
PatchGAN discriminator that judges (input, output) pairs patch by patch.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .dcgan import check_images, init_weights


def _down(c_in, c_out, norm=True):
    layers = [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=not norm)]
    if norm:
        layers.append(nn.BatchNorm2d(c_out))
    layers.append(nn.LeakyReLU(0.2, True))
    return nn.Sequential(*layers)


def _up(c_in, c_out, dropout=False):
    layers = [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out)]
    if dropout:
        layers.append(nn.Dropout(0.5))
    layers.append(nn.ReLU(True))
    return nn.Sequential(*layers)


class UNetGenerator(nn.Module):
    """Encoder-decoder with skip connections: every encoder level is concatenated to the
    decoder level of the same resolution, so fine detail can bypass the bottleneck.

    (B, in_channels, S, S) -> (B, out_channels, S, S) in [-1, 1]; S a power of two >= 8.
    The encoder halves S down to 1x1; channel widths are width * (1, 2, 4, 8, 8, ...).
    """

    def __init__(self, in_channels: int = 1, out_channels: int = 1, size: int = 32, width: int = 32,
                 dropout: bool = True):
        super().__init__()
        depth = int(round(math.log2(size)))
        if 2 ** depth != size or size < 8:
            raise ValueError(f"size must be a power of two >= 8, got {size}")
        self.in_channels, self.out_channels, self.size = in_channels, out_channels, size
        widths = [width * min(2 ** i, 8) for i in range(depth)]               # e.g. 32, 64, 128, 256, 256
        self.down = nn.ModuleList([_down(in_channels, widths[0], norm=False)] +
                                  [_down(widths[i - 1], widths[i], norm=i < depth - 1) for i in range(1, depth)])
        ups = []
        for i in reversed(range(1, depth)):
            c_in = widths[i] if i == depth - 1 else 2 * widths[i]             # concatenated skip doubles it
            ups.append(_up(c_in, widths[i - 1], dropout=dropout and i >= depth - 2))
        self.up = nn.ModuleList(ups)
        self.out = nn.Sequential(nn.ConvTranspose2d(2 * widths[0], out_channels, 4, 2, 1), nn.Tanh())
        self.apply(init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, self.in_channels, self.size, "U-Net generator")
        skips = []
        for layer in self.down:
            x = layer(x)
            skips.append(x)                            # (B, w_i, S / 2^(i+1), ...)
        skips.pop()                                    # the 1x1 bottleneck is not a skip
        for layer in self.up:
            x = torch.cat([layer(x), skips.pop()], 1)  # upsample, then join the mirror level
        return self.out(x)                             # (B, out_channels, S, S)


class PatchDiscriminator(nn.Module):
    """PatchGAN: a fully convolutional discriminator returning a grid of logits (B, 1, P, P),
    one per overlapping patch of the input, so it judges local texture and sharpness.

    For pix2pix its input is the pair (condition, image) concatenated along channels.
    ``n_layers`` stride-2 convolutions followed by two stride-1 ones, as in the 70x70 PatchGAN
    of the paper (which has n_layers = 3 for 256x256 images); ``norm`` is ``batch`` (pix2pix)
    or ``instance`` (CycleGAN).
    """

    def __init__(self, in_channels: int = 2, width: int = 32, n_layers: int = 2, norm: str = "batch"):
        super().__init__()
        if norm not in ("batch", "instance"):
            raise ValueError(f"norm must be 'batch' or 'instance', got {norm!r}")
        self.in_channels = in_channels
        Norm = nn.BatchNorm2d if norm == "batch" else (lambda c: nn.InstanceNorm2d(c, affine=True))  # noqa: N806
        layers = [nn.Conv2d(in_channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        c = width
        for i in range(1, n_layers):
            layers += [nn.Conv2d(c, min(2 * c, 8 * width), 4, 2, 1, bias=False),
                       Norm(min(2 * c, 8 * width)), nn.LeakyReLU(0.2, True)]
            c = min(2 * c, 8 * width)
        layers += [nn.Conv2d(c, 2 * c, 4, 1, 1, bias=False), Norm(2 * c), nn.LeakyReLU(0.2, True),
                   nn.Conv2d(2 * c, 1, 4, 1, 1)]
        self.net = nn.Sequential(*layers)
        self.apply(init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"patch discriminator expects (B, {self.in_channels}, H, W), got {tuple(x.shape)}")
        return self.net(x)                             # (B, 1, P, P): one logit per patch
