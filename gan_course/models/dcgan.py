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
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

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


def init_weights(module: nn.Module) -> None:
    """The DCGAN initialisation: conv weights ~ N(0, 0.02), batch-norm scales ~ N(1, 0.02)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def check_images(x: torch.Tensor, channels: int, size: int, who: str) -> None:
    """Raise a ValueError naming the expected shape when ``x`` is not (B, channels, size, size)."""
    if x.ndim != 4 or x.shape[1] != channels or x.shape[2] != size or x.shape[3] != size:
        raise ValueError(f"{who} expects images of shape (B, {channels}, {size}, {size}), "
                         f"got {tuple(x.shape)}")


class DCGANGenerator(nn.Module):
    """G: z of shape (B, z_dim) -> images of shape (B, channels, size, size) in [-1, 1]."""

    def __init__(self, config: DCGANConfig | None = None, **kwargs):
        super().__init__()
        self.config = config = config or DCGANConfig(**kwargs)
        widths = [config.width * 2 ** i for i in reversed(range(config.n_up))]  # e.g. 256, 128, 64
        layers: list[nn.Module] = [
            # project and reshape: a transposed convolution from 1x1 to 4x4 (no linear layer)
            nn.ConvTranspose2d(config.z_dim, widths[0], 4, 1, 0, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(True),
        ]
        for w_in, w_out in zip(widths[:-1], widths[1:]):
            layers += [nn.ConvTranspose2d(w_in, w_out, 4, 2, 1, bias=False), nn.BatchNorm2d(w_out), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(widths[-1], config.channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.apply(init_weights)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.ndim != 2 or z.shape[1] != self.config.z_dim:
            raise ValueError(f"generator expects z of shape (B, {self.config.z_dim}), got {tuple(z.shape)}")
        return self.net(z[:, :, None, None])  # (B, z_dim, 1, 1) -> (B, C, size, size)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw z ~ N(0, I) and return G(z), shape (n, C, size, size)."""
        dev = next(self.parameters()).device
        return self(torch.randn(n, self.config.z_dim, generator=generator).to(dev))


class DCGANDiscriminator(nn.Module):
    """D: images of shape (B, channels, size, size) -> logits of shape (B,).

    ``features(x)`` returns the last hidden activations, flattened: (B, 4*4*width*2^(n-1)),
    used in Chapter 5 to probe what the discriminator learned.
    """

    def __init__(self, config: DCGANConfig | None = None, **kwargs):
        super().__init__()
        self.config = config = config or DCGANConfig(**kwargs)
        widths = [config.width * 2 ** i for i in range(config.n_up)]  # e.g. 64, 128, 256
        layers: list[nn.Module] = [
            nn.Conv2d(config.channels, widths[0], 4, 2, 1),  # no batch norm on the input layer
            nn.LeakyReLU(0.2, True),
        ]
        for w_in, w_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Conv2d(w_in, w_out, 4, 2, 1, bias=False), nn.BatchNorm2d(w_out), nn.LeakyReLU(0.2, True)]
        self.body = nn.Sequential(*layers)                      # -> (B, widths[-1], 4, 4)
        self.head = nn.Conv2d(widths[-1], 1, 4, 1, 0)           # -> (B, 1, 1, 1): one logit
        self.apply(init_weights)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, self.config.channels, self.config.image_size, "discriminator")
        return self.body(x).flatten(1)                          # (B, widths[-1] * 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, self.config.channels, self.config.image_size, "discriminator")
        return self.head(self.body(x)).flatten()                # (B,)
