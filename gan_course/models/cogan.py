"""Coupled GANs (Liu and Tuzel, 2016), Chapter 10: two GANs, one per domain, that share weights.

The generators share their *first* layers (which decode the high-level content of z) and
keep their own last layers (which render domain-specific detail); the discriminators keep
their own first layers and share their *last* layers. Sharing is done by putting the very
same module objects in both networks, so one set of parameters receives both gradients.
"""

from __future__ import annotations

import torch
from torch import nn

from .dcgan import check_images, init_weights


def _g_layers(z_dim: int, width: int, channels: int) -> list[nn.Module]:
    """The four generator stages for 32x32 images: z -> 4x4 -> 8x8 -> 16x16 -> 32x32."""
    return [
        nn.Sequential(nn.ConvTranspose2d(z_dim, width * 4, 4, 1, 0, bias=False), nn.BatchNorm2d(width * 4), nn.ReLU(True)),
        nn.Sequential(nn.ConvTranspose2d(width * 4, width * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width * 2), nn.ReLU(True)),
        nn.Sequential(nn.ConvTranspose2d(width * 2, width, 4, 2, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(True)),
        nn.Sequential(nn.ConvTranspose2d(width, channels, 4, 2, 1), nn.Tanh()),
    ]


def _d_layers(width: int, channels: int) -> list[nn.Module]:
    """The four discriminator stages: 32x32 -> 16x16 -> 8x8 -> 4x4 -> one logit."""
    return [
        nn.Sequential(nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True)),
        nn.Sequential(nn.Conv2d(width, width * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width * 2), nn.LeakyReLU(0.2, True)),
        nn.Sequential(nn.Conv2d(width * 2, width * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(width * 4), nn.LeakyReLU(0.2, True)),
        nn.Sequential(nn.Conv2d(width * 4, 1, 4, 1, 0), nn.Flatten(0)),
    ]


class CoupledGenerators(nn.Module):
    """G1(z), G2(z) for 32x32 images; the first ``n_shared`` of 4 stages are one shared module.

    ``forward(z)`` returns the pair (G1(z), G2(z)), each (B, channels, 32, 32).
    """

    n_stages = 4

    def __init__(self, z_dim: int = 64, width: int = 32, channels: int = 1, n_shared: int = 2):
        super().__init__()
        if not 0 <= n_shared <= self.n_stages - 1:
            raise ValueError(f"n_shared must be between 0 and {self.n_stages - 1} (the output layers stay "
                             f"separate), got {n_shared}")
        self.z_dim, self.n_shared = z_dim, n_shared
        first, second = _g_layers(z_dim, width, channels), _g_layers(z_dim, width, channels)
        self.shared = nn.Sequential(*first[:n_shared])
        head = [self.shared] if n_shared else []
        self.g1 = nn.Sequential(*head, *first[n_shared:])
        self.g2 = nn.Sequential(*head, *second[n_shared:])
        self.apply(init_weights)

    def forward(self, z: torch.Tensor):
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"expected z of shape (B, {self.z_dim}), got {tuple(z.shape)}")
        z = z[:, :, None, None]
        return self.g1(z), self.g2(z)


class CoupledDiscriminators(nn.Module):
    """D1(x1), D2(x2) -> logits (B,); the last ``n_shared`` of 4 stages are one shared module."""

    n_stages = 4

    def __init__(self, width: int = 32, channels: int = 1, n_shared: int = 2):
        super().__init__()
        if not 0 <= n_shared <= self.n_stages - 1:
            raise ValueError(f"n_shared must be between 0 and {self.n_stages - 1} (the input layers stay "
                             f"separate), got {n_shared}")
        self.channels, self.n_shared = channels, n_shared
        first, second = _d_layers(width, channels), _d_layers(width, channels)
        k = self.n_stages - n_shared
        self.shared = nn.Sequential(*first[k:])
        tail = [self.shared] if n_shared else []
        self.d1 = nn.Sequential(*first[:k], *tail)
        self.d2 = nn.Sequential(*second[:k], *tail)
        self.apply(init_weights)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor):
        check_images(x1, self.channels, 32, "discriminator 1")
        check_images(x2, self.channels, 32, "discriminator 2")
        return self.d1(x1), self.d2(x2)
