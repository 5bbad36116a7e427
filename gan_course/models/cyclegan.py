"""CycleGAN (Zhu et al., 2017), Chapter 8: a ResNet generator, the PatchGAN discriminator, the
history buffer of generated images and the linear learning-rate decay.
"""

from __future__ import annotations

import random

import torch
from torch import nn

from .dcgan import init_weights
from .pix2pix import PatchDiscriminator

__all__ = ["ImagePool", "PatchDiscriminator", "ResidualBlock", "ResnetGenerator", "linear_decay"]


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
    """Image-to-image generator: 7x7 conv, two stride-2 downsamplings, residual blocks at a
    quarter of the resolution, two stride-2 transposed-conv upsamplings, 7x7 conv and tanh.

    (B, in_channels, H, W) -> (B, out_channels, H, W); H and W divisible by 4. Reflection
    padding avoids the dark borders that zero padding leaves; instance norm normalises
    every image on its own (the paper's choice for style-like translation).
    """

    def __init__(self, in_channels: int = 1, out_channels: int = 1, width: int = 32, n_blocks: int = 6,
                 extra_channels: int = 0):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        c_in = in_channels + extra_channels
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(c_in, width, 7, bias=False), _norm(width), nn.ReLU(True)]
        for m in (1, 2):                                        # H -> H/2 -> H/4
            layers += [nn.Conv2d(width * m, width * 2 * m, 3, 2, 1, bias=False), _norm(width * 2 * m), nn.ReLU(True)]
        layers += [ResidualBlock(width * 4) for _ in range(n_blocks)]
        for m in (4, 2):                                        # H/4 -> H/2 -> H
            layers += [nn.ConvTranspose2d(width * m, width * m // 2, 3, 2, 1, output_padding=1, bias=False),
                       _norm(width * m // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(width, out_channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.extra_channels = extra_channels
        self.apply(init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels + self.extra_channels:
            raise ValueError(f"generator expects (B, {self.in_channels + self.extra_channels}, H, W), "
                             f"got {tuple(x.shape)}")
        if x.shape[2] % 4 or x.shape[3] % 4:
            raise ValueError(f"image height and width must be divisible by 4, got {tuple(x.shape[2:])}")
        return self.net(x)


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


def linear_decay(optimizer: torch.optim.Optimizer, total_steps: int, decay_from: float = 0.5):
    """CycleGAN's schedule: constant learning rate, then linear decay to zero.

    The rate stays at its initial value for the first ``decay_from`` fraction of
    ``total_steps`` and falls linearly to 0 at ``total_steps``. Call ``scheduler.step()``
    once per training step.
    """
    start = int(total_steps * decay_from)

    def factor(step: int) -> float:
        if step < start:
            return 1.0
        return max(0.0, 1.0 - (step - start) / max(1, total_steps - start))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)

