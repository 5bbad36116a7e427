"""CycleGAN (Zhu et al., 2017), Chapter 8: a ResNet generator and the history buffer of
generated images. The PatchGAN discriminator lives in :mod:`.pix2pix`; the linear
learning-rate decay is :func:`gan_course.train.linear_decay`.
"""

from __future__ import annotations

import random

import torch
from torch import nn

from .common import check_images, init_weights

__all__ = ["ImagePool", "ResidualBlock", "ResnetGenerator"]

PADDINGS = {"reflect": nn.ReflectionPad2d, "zeros": nn.ZeroPad2d}


def _norm(c: int) -> nn.Module:
    return nn.InstanceNorm2d(c, affine=True)


class ResidualBlock(nn.Module):
    """x + F(x), F = reflection-padded 3x3 conv, instance norm, ReLU, 3x3 conv, instance norm."""

    def __init__(self, channels: int):
        super().__init__()
        self.f = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=False), _norm(channels), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=False), _norm(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.f(x)                                   # same shape in and out


class ResnetGenerator(nn.Module):
    """Image-to-image generator of CycleGAN (Chapter 8): (B, channels + extra_channels, H, W)
    -> (B, out_channels, H, W) in [-1, 1]; H and W divisible by 4.

    Stages: ``stem`` (padding, 7x7 convolution), ``down`` (two stride-2 convolutions,
    H -> H/4), ``blocks`` (``n_blocks`` residual blocks at a quarter of the resolution),
    ``up`` (two stride-2 transposed convolutions back to H) and ``head`` (padding, 7x7
    convolution, tanh). Reflection padding avoids the dark borders that zero padding leaves;
    ``stem_padding="zeros"`` pads the first convolution with zeros instead (StarGAN, whose
    label channels would otherwise be lost, see :class:`~gan_course.models.StarGenerator`).
    Instance norm normalises every image on its own (the paper's choice for style-like
    translation). ``extra_channels``: input channels beyond the image (StarGAN's labels).
    """

    def __init__(self, channels: int = 1, *, out_channels: int | None = None, width: int = 32, n_blocks: int = 6,
                 extra_channels: int = 0, stem_padding: str = "reflect"):
        super().__init__()
        if stem_padding not in PADDINGS:
            raise ValueError(f"stem_padding must be one of {', '.join(map(repr, PADDINGS))}, got {stem_padding!r}")
        out_channels = channels if out_channels is None else out_channels
        self.channels, self.out_channels, self.extra_channels = channels, out_channels, extra_channels
        self.stem = nn.Sequential(PADDINGS[stem_padding](3), nn.Conv2d(channels + extra_channels, width, 7, bias=False),
                                  _norm(width), nn.ReLU(True))
        self.down = nn.Sequential(*[layer for m in (1, 2)      # H -> H/2 -> H/4
                                    for layer in (nn.Conv2d(width * m, width * 2 * m, 3, 2, 1, bias=False),
                                                  _norm(width * 2 * m), nn.ReLU(True))])
        self.blocks = nn.Sequential(*[ResidualBlock(width * 4) for _ in range(n_blocks)])
        self.up = nn.Sequential(*[layer for m in (4, 2)        # H/4 -> H/2 -> H
                                  for layer in (nn.ConvTranspose2d(width * m, width * m // 2, 3, 2, 1,
                                                                   output_padding=1, bias=False),
                                                _norm(width * m // 2), nn.ReLU(True))])
        self.head = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(width, out_channels, 7), nn.Tanh())
        self.apply(init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, self.channels + self.extra_channels, None, "generator")
        if x.shape[2] % 4 or x.shape[3] % 4:
            raise ValueError(f"image height and width must be divisible by 4, got {tuple(x.shape[2:])}")
        h = self.stem(x)                        # (B, w, H, W)
        h = self.down(h)                        # (B, 4w, H/4, W/4)
        h = self.blocks(h)                      # (B, 4w, H/4, W/4)
        h = self.up(h)                          # (B, w, H, W)
        return self.head(h)                     # (B, out_channels, H, W)


class ImagePool:
    """The history buffer of generated images (Shrivastava et al., 2017; used by CycleGAN).

    The discriminator is shown a mix of current and earlier generated images, so that it
    does not forget what older generator mistakes looked like. ``query(images)`` returns a
    batch of the same shape: while the pool has room every image is stored and returned;
    afterwards each image is, with probability 1/2, swapped with a random stored one.
    """

    def __init__(self, size: int = 50, seed: int = 0):
        if size < 0:
            raise ValueError(f"pool size must be >= 0, got {size}")
        self.size, self.images, self._rng = size, [], random.Random(seed)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images
        out = []
        for image in images.detach():
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif self._rng.random() < 0.5:
                i = self._rng.randrange(self.size)
                out.append(self.images[i])
                self.images[i] = image.clone()
            else:
                out.append(image)
        return torch.stack(out)
