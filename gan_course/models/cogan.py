"""Coupled GANs (Liu and Tuzel, 2016), Chapter 10: two GANs, one per domain, that share weights.

The generators share their *first* stages (which decode the high-level content of z) and
keep their own last stages (which render domain-specific detail); the discriminators keep
their own first stages and share their *last* stages. Sharing is done by putting the very
same module objects in both networks, so one set of parameters receives both gradients.

Named stages: each generator ``g1`` / ``g2`` runs ``stem`` (z -> 4x4), ``up1`` (-> 8x8),
``up2`` (-> 16x16) and ``head`` (-> 32x32 image); each discriminator ``d1`` / ``d2`` runs
``down1`` (32x32 -> 16x16), ``down2`` (-> 8x8), ``down3`` (-> 4x4) and ``head`` (-> one
logit). ``Gs.g1.stem is Gs.g2.stem`` when the first stage is shared; ``shared`` holds the
shared stages once.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from .common import check_images, check_z, init_weights

G_STAGES = ("stem", "up1", "up2", "head")
D_STAGES = ("down1", "down2", "down3", "head")


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


def _check_n_shared(n_shared: int, n_stages: int, kept: str) -> None:
    if not 0 <= n_shared <= n_stages - 1:
        raise ValueError(f"n_shared must be between 0 and {n_stages - 1} (the {kept} layers stay "
                         f"separate), got {n_shared}")


def _named(names, stages) -> nn.Sequential:
    return nn.Sequential(OrderedDict(zip(names, stages)))


class CoupledGenerators(nn.Module):
    """G1(z), G2(z) for 32x32 images; the first ``n_shared`` of 4 stages are one shared module.

    ``forward(z)`` with z (B, z_dim) returns the pair (G1(z), G2(z)), each (B, channels, 32, 32).
    """

    n_stages = 4

    def __init__(self, *, z_dim: int = 64, width: int = 32, channels: int = 1, n_shared: int = 2):
        super().__init__()
        _check_n_shared(n_shared, self.n_stages, "output")
        self.z_dim, self.n_shared = z_dim, n_shared
        first, second = _g_layers(z_dim, width, channels), _g_layers(z_dim, width, channels)
        self.shared = _named(G_STAGES[:n_shared], first[:n_shared])
        self.g1 = _named(G_STAGES, first)
        self.g2 = _named(G_STAGES, first[:n_shared] + second[n_shared:])
        self.apply(init_weights)

    def forward(self, z: torch.Tensor):
        check_z(z, self.z_dim)
        z = z[:, :, None, None]                 # (B, z_dim, 1, 1)
        return self.g1(z), self.g2(z)           # (B, C, 32, 32) each


class CoupledDiscriminators(nn.Module):
    """D1(x1), D2(x2) -> logits (B,) each; the last ``n_shared`` of 4 stages are one shared module.

    x1, x2: (B, channels, 32, 32) images of the first and the second domain.
    """

    n_stages = 4

    def __init__(self, *, width: int = 32, channels: int = 1, n_shared: int = 2):
        super().__init__()
        _check_n_shared(n_shared, self.n_stages, "input")
        self.channels, self.n_shared = channels, n_shared
        first, second = _d_layers(width, channels), _d_layers(width, channels)
        k = self.n_stages - n_shared
        self.shared = _named(D_STAGES[k:], first[k:])
        self.d1 = _named(D_STAGES, first)
        self.d2 = _named(D_STAGES, second[:k] + first[k:])
        self.apply(init_weights)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor):
        check_images(x1, self.channels, 32, "discriminator 1")
        check_images(x2, self.channels, 32, "discriminator 2")
        return self.d1(x1), self.d2(x2)          # (B,), (B,)
