"""Paired image-to-image translation (Isola et al., 2017), Chapter 7: a U-Net generator and a
PatchGAN discriminator that judges (input, output) pairs patch by patch.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .common import check_images, check_norm, init_weights, norm_layer


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
    decoder level of the same resolution, so fine detail can bypass the bottleneck (Chapter 7).

    (B, channels, S, S) -> (B, out_channels, S, S) in [-1, 1]; S = ``image_size``, a power of
    two >= 8. Stages: ``down`` (one module per level, halving S down to 1x1; channel widths
    width * (1, 2, 4, 8, 8, ...)), ``up`` (one per level back, each followed by the skip of its
    resolution) and ``head`` (the last upsampling to the image, tanh).
    """

    def __init__(self, channels: int = 1, *, out_channels: int | None = None, image_size: int = 32,
                 width: int = 32, dropout: bool = True):
        super().__init__()
        depth = int(round(math.log2(image_size)))
        if 2 ** depth != image_size or image_size < 8:
            raise ValueError(f"image_size must be a power of two >= 8, got {image_size}")
        out_channels = channels if out_channels is None else out_channels
        self.channels, self.out_channels, self.image_size = channels, out_channels, image_size
        widths = [width * min(2 ** i, 8) for i in range(depth)]               # e.g. 32, 64, 128, 256, 256
        self.down = nn.ModuleList([_down(channels, widths[0], norm=False)] +
                                  [_down(widths[i - 1], widths[i], norm=i < depth - 1) for i in range(1, depth)])
        ups = []
        for i in reversed(range(1, depth)):
            c_in = widths[i] if i == depth - 1 else 2 * widths[i]             # concatenated skip doubles it
            ups.append(_up(c_in, widths[i - 1], dropout=dropout and i >= depth - 2))
        self.up = nn.ModuleList(ups)
        self.head = nn.Sequential(nn.ConvTranspose2d(2 * widths[0], out_channels, 4, 2, 1), nn.Tanh())
        self.apply(init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, self.channels, self.image_size, "U-Net generator")
        skips = []
        for layer in self.down:
            x = layer(x)
            skips.append(x)                            # (B, w_i, S / 2^(i+1), ...)
        skips.pop()                                    # the 1x1 bottleneck is not a skip
        for layer in self.up:
            x = torch.cat([layer(x), skips.pop()], 1)  # upsample, then join the mirror level
        return self.head(x)                            # (B, out_channels, S, S)


class PatchDiscriminator(nn.Module):
    """PatchGAN: a fully convolutional discriminator returning a grid of logits (B, 1, P, P),
    one per overlapping patch of the input, so it judges local texture and sharpness
    (Chapters 7-8).

    Input (B, channels, H, W); for pix2pix the pair (condition, image) concatenated along
    channels. Stages: ``body``, ``n_layers`` stride-2 convolutions and one stride-1
    convolution, and ``head``, the stride-1 convolution to one logit per patch, as in the
    70x70 PatchGAN of the paper (which has n_layers = 3 for 256x256 images). ``norm``:
    ``"batch"`` (pix2pix), ``"instance"`` (CycleGAN) or ``"none"`` (then every logit depends
    on its patch alone; the convolutions get a bias).
    """

    def __init__(self, channels: int, *, width: int = 32, n_layers: int = 2, norm: str = "batch"):
        super().__init__()
        check_norm(norm, ("batch", "instance", "none"))
        self.channels = channels

        def conv_norm_act(c_in, c_out, stride):
            layer = norm_layer(norm, c_out)
            return [nn.Conv2d(c_in, c_out, 4, stride, 1, bias=layer is None),
                    *([layer] if layer is not None else []), nn.LeakyReLU(0.2, True)]

        layers = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        c = width
        for _ in range(1, n_layers):
            layers += conv_norm_act(c, min(2 * c, 8 * width), 2)
            c = min(2 * c, 8 * width)
        layers += conv_norm_act(c, 2 * c, 1)
        self.body = nn.Sequential(*layers)             # (B, 2c, P, P)
        self.head = nn.Conv2d(2 * c, 1, 4, 1, 1)
        self.apply(init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, self.channels, None, "patch discriminator")
        return self.head(self.body(x))                 # (B, 1, P, P): one logit per patch
