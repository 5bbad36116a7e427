"""StarGAN (Choi et al., 2018), Chapter 9: one generator for many domains, conditioned on the
target domain's label tiled over the image, and a discriminator with two heads.
"""

from __future__ import annotations

import torch
from torch import nn

from .common import check_images, check_labels, count_parameters, init_weights
from .cyclegan import ResnetGenerator


def tile_labels(c: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Spread a label vector over the image plane: (B, n) -> (B, n, height, width)."""
    if c.ndim != 2:
        raise ValueError(f"domain labels must be (B, n_domains) vectors (one-hot or attributes), got {tuple(c.shape)}")
    return c.float()[:, :, None, None].expand(-1, -1, height, width)


def one_hot(domains: torch.Tensor, n_domains: int) -> torch.Tensor:
    """Integer domains (B,) -> one-hot float vectors (B, n_domains), with a clear range check.

    Any integer dtype is accepted (the package's one rule for labels); floats and bools are refused.
    """
    domains = check_labels(domains, n_domains, kind="domains")
    return torch.nn.functional.one_hot(domains, n_domains).float()


class StarGenerator(ResnetGenerator):
    """G(x, c): translate image x (B, channels, H, W) to the domain described by the label
    vector c (B, n_domains); output (B, channels, H, W) in [-1, 1] (Chapter 9).

    The label is tiled to (B, n_domains, H, W) and concatenated to the image channels; the
    rest is CycleGAN's ResNet generator, with its stages ``stem`` / ``down`` / ``blocks`` /
    ``up`` / ``head``. The first 7x7 convolution pads with zeros (``stem_padding="zeros"``),
    as in the StarGAN paper's code, not with reflection: a constant label channel,
    reflection-padded and convolved, gives a constant per feature map, which the instance
    normalisation that follows subtracts, so the generator would never see its target label.
    With zero padding the label's contribution varies near the border and survives
    normalisation (Chapter 9 shows both).
    """

    def __init__(self, n_domains: int, *, channels: int = 1, width: int = 32, n_blocks: int = 4,
                 stem_padding: str = "zeros"):
        super().__init__(channels, width=width, n_blocks=n_blocks, extra_channels=n_domains,
                         stem_padding=stem_padding)
        self.n_domains = n_domains

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        check_images(x, self.channels, None, "generator")
        if c.ndim != 2 or c.shape != (len(x), self.n_domains):
            raise ValueError(f"target labels must have shape ({len(x)}, {self.n_domains}), got {tuple(c.shape)}")
        return super().forward(torch.cat([x, tile_labels(c, *x.shape[2:])], dim=1))  # (B, C, H, W)


class StarDiscriminator(nn.Module):
    """D(x) -> (patch logits (B, 1, h, w), domain logits (B, n_domains)) (Chapter 9).

    Fully convolutional: ``body``, stride-2 convolutions with LeakyReLU(0.01) (no
    normalisation, as in the paper); ``head``, a 3x3 convolution for the real/fake map; and
    ``classify``, a 3x3 convolution for the domain logits averaged over positions, so any
    input whose side is a multiple of 2^n_layers works.

    ``init``: ``"dcgan"`` (weights ~ N(0, 0.02)) or ``"pytorch"`` (PyTorch's default
    initialisation, as in the StarGAN paper's code; Chapter 9 uses it). Without normalisation
    layers nothing rescales the signal, and the DCGAN weights give much smaller initial logits.
    """

    def __init__(self, n_domains: int, *, channels: int = 1, width: int = 32, n_layers: int = 3,
                 init: str = "dcgan"):
        super().__init__()
        if init not in ("dcgan", "pytorch"):
            raise ValueError(f"init must be 'dcgan' or 'pytorch', got {init!r}")
        self.n_domains, self.channels, self.n_layers = n_domains, channels, n_layers
        layers, c = [], channels
        for i in range(n_layers):
            layers += [nn.Conv2d(c, width * 2 ** i, 4, 2, 1), nn.LeakyReLU(0.01, True)]
            c = width * 2 ** i
        self.body = nn.Sequential(*layers)
        self.head = nn.Conv2d(c, 1, 3, 1, 1)
        self.classify = nn.Conv2d(c, n_domains, 3, 1, 1)
        if init == "dcgan":
            self.apply(init_weights)

    def forward(self, x: torch.Tensor):
        check_images(x, self.channels, None, "discriminator")
        h = self.body(x)                                        # (B, C, H / 2^n, W / 2^n)
        return self.head(h), self.classify(h).mean(dim=(2, 3))  # (B, 1, h, w), (B, n_domains)


def pairwise_parameter_counts(n_domains: int, *, channels: int = 1, width: int = 32, n_blocks: int = 4) -> dict:
    """Generator parameters: one StarGAN generator for ``n_domains`` domains against the
    k(k-1) one-way generators that pairwise CycleGANs need (Chapter 9).

    Every CycleGAN generator is the package's :class:`ResnetGenerator` with the same width
    and number of residual blocks. Returns a dict with ``stargan`` (one StarGenerator),
    ``cyclegan_one`` (one ResnetGenerator), ``n_generators`` = k(k-1), ``pairwise`` =
    k(k-1) x ``cyclegan_one`` and ``ratio`` = pairwise / stargan.
    """
    if n_domains < 2:
        raise ValueError(f"a translation needs at least 2 domains, got {n_domains}")
    star = count_parameters(StarGenerator(n_domains, channels=channels, width=width, n_blocks=n_blocks))
    one = count_parameters(ResnetGenerator(channels, width=width, n_blocks=n_blocks))
    n_gen = n_domains * (n_domains - 1)
    return {"k": n_domains, "stargan": star, "cyclegan_one": one, "n_generators": n_gen,
            "pairwise": n_gen * one, "ratio": n_gen * one / star}
