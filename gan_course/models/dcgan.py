"""DCGAN generator and discriminator (Radford, Metz and Chintala, 2016), Chapters 5-6.

The architecture guidelines of the paper, as they appear below:

* no pooling: the discriminator downsamples with strided convolutions, the generator
  upsamples with strided transposed convolutions;
* batch normalisation in both networks, except the generator's output layer and the
  discriminator's input layer;
* no fully connected hidden layers: z is reshaped to (B, z_dim, 1, 1) and the
  discriminator's last convolution produces one logit per image;
* ReLU in the generator with tanh at the output, LeakyReLU (slope 0.2) in the discriminator;
* weights initialised from N(0, 0.02) (batch-norm scales from N(1, 0.02)).

Images are 32x32 (28x28 data padded by :func:`gan_course.data.load_images(size=32)`) or
64x64, with 1 or 3 channels, in [-1, 1]. The discriminator returns logits of shape (B,).
``norm`` replaces batch normalisation: ``"none"`` in the generator (Chapter 6's exercise),
``"instance"``, ``"layer"`` or ``"none"`` in the discriminator (critics without batch
statistics, Chapter 11). Without a normalisation layer the convolutions get a bias.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .common import check_images, check_norm, check_z, init_weights, norm_layer

SIZES = (32, 64)


@dataclass
class DCGANConfig:
    """Sizes of a DCGAN: latent dimension, image size and channels, base width."""

    z_dim: int = 100
    image_size: int = 32
    channels: int = 1
    width: int = 64      # channels of the widest generator layer / narrowest discriminator layer

    def __post_init__(self):
        if self.image_size not in SIZES:
            raise ValueError(f"image_size must be one of {SIZES}, got {self.image_size}")
        if self.channels < 1:
            raise ValueError(f"channels must be positive (1 for grey, 3 for colour), got {self.channels}")
        if self.z_dim < 1 or self.width < 1:
            raise ValueError(f"z_dim and width must be positive, got {self.z_dim}, {self.width}")

    @property
    def n_up(self) -> int:
        """Number of stride-2 stages between 4x4 and the image size (3 for 32, 4 for 64)."""
        return {32: 3, 64: 4}[self.image_size]

    @property
    def feature_dim(self) -> int:
        """Size of the discriminator's flattened last hidden activations (B, feature_dim)."""
        return self.width * 2 ** (self.n_up - 1) * 16


def _conv_norm_act(conv: type, c_in: int, c_out: int, norm: str, act: nn.Module) -> list[nn.Module]:
    """A stride-2 (transposed) convolution, its normalisation (none: a bias instead), the activation."""
    layer = norm_layer(norm, c_out)
    return [conv(c_in, c_out, 4, 2, 1, bias=layer is None), *([layer] if layer is not None else []), act]


class DCGANGenerator(nn.Module):
    """G: z (B, z_dim) -> images (B, channels, image_size, image_size) in [-1, 1] (Chapter 5).

    Stages: ``stem`` projects z to 4x4 feature maps (a transposed convolution from 1x1, no
    linear layer), ``up`` doubles the side ``n_up - 1`` times, ``head`` renders the image.
    ``norm``: ``"batch"`` (the paper) or ``"none"``.
    """

    def __init__(self, config: DCGANConfig | None = None, *, norm: str = "batch"):
        super().__init__()
        check_norm(norm, ("batch", "none"))
        self.config = config = config or DCGANConfig()
        self.norm = norm
        widths = [config.width * 2 ** i for i in reversed(range(config.n_up))]  # e.g. 256, 128, 64
        first = norm_layer(norm, widths[0])
        self.stem = nn.Sequential(nn.ConvTranspose2d(config.z_dim, widths[0], 4, 1, 0, bias=first is None),
                                  *([first] if first is not None else []), nn.ReLU(True))
        self.up = nn.Sequential(*[layer for w_in, w_out in zip(widths[:-1], widths[1:])
                                  for layer in _conv_norm_act(nn.ConvTranspose2d, w_in, w_out, norm, nn.ReLU(True))])
        self.head = nn.Sequential(nn.ConvTranspose2d(widths[-1], config.channels, 4, 2, 1), nn.Tanh())
        self.apply(init_weights)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        check_z(z, self.config.z_dim)
        h = self.stem(z[:, :, None, None])     # (B, 4w', 4, 4)
        h = self.up(h)                         # (B, w, size / 2, size / 2)
        return self.head(h)                    # (B, C, size, size)

    def sample(self, n: int, rng: torch.Generator | None = None) -> torch.Tensor:
        """Draw z ~ N(0, I) and return G(z), shape (n, C, size, size)."""
        dev = next(self.parameters()).device
        return self(torch.randn(n, self.config.z_dim, generator=rng).to(dev))


class DCGANDiscriminator(nn.Module):
    """D: images (B, channels, image_size, image_size) -> logits (B,) (Chapter 5).

    Stages: ``body`` halves the side down to 4x4 (no normalisation on the input layer),
    ``head`` is one 4x4 convolution to a logit. ``features(x)`` returns the last hidden
    activations, flattened: (B, config.feature_dim), used in Chapter 5 to probe what the
    discriminator learned. ``norm``: ``"batch"`` (the paper), ``"instance"``, ``"layer"``
    or ``"none"``.
    """

    def __init__(self, config: DCGANConfig | None = None, *, norm: str = "batch"):
        super().__init__()
        check_norm(norm, ("batch", "instance", "layer", "none"))
        self.config = config = config or DCGANConfig()
        self.norm = norm
        widths = [config.width * 2 ** i for i in range(config.n_up)]  # e.g. 64, 128, 256
        layers: list[nn.Module] = [
            nn.Conv2d(config.channels, widths[0], 4, 2, 1),  # no normalisation on the input layer
            nn.LeakyReLU(0.2, True),
        ]
        for w_in, w_out in zip(widths[:-1], widths[1:]):
            layers += _conv_norm_act(nn.Conv2d, w_in, w_out, norm, nn.LeakyReLU(0.2, True))
        self.body = nn.Sequential(*layers)                      # -> (B, widths[-1], 4, 4)
        self.head = nn.Conv2d(widths[-1], 1, 4, 1, 0)           # -> (B, 1, 1, 1): one logit
        self.apply(init_weights)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, self.config.channels, self.config.image_size, "discriminator")
        return self.body(x).flatten(1)                          # (B, widths[-1] * 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, self.config.channels, self.config.image_size, "discriminator")
        return self.head(self.body(x)).flatten()                # (B,)
