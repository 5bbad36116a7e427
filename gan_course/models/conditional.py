"""Class-conditional GANs (Chapter 7): conditional generator and discriminator, the
projection discriminator, the ACGAN discriminator and the semi-supervised discriminator.

All networks are DCGAN-shaped (:mod:`gan_course.models.dcgan`) for 32x32 images; the class
label y enters as a learned embedding. Discriminators return logits; the DCGAN discriminator
inside each of them is the named stage ``disc`` (with its own ``body`` and ``head``).
"""

from __future__ import annotations

import torch
from torch import nn

from .common import check_images, check_labels, check_z, init_weights
from .dcgan import DCGANConfig, DCGANDiscriminator, DCGANGenerator


class ConditionalGenerator(nn.Module):
    """G(z, y): a DCGAN generator whose input is z concatenated with an embedding of y.

    z (B, z_dim), y (B,) integer labels -> images (B, C, 32, 32).
    """

    def __init__(self, n_classes: int, *, config: DCGANConfig | None = None, embed_dim: int = 16):
        super().__init__()
        self.config = config = config or DCGANConfig()
        self.n_classes = n_classes
        self.embed = nn.Embedding(n_classes, embed_dim)
        inner = DCGANConfig(z_dim=config.z_dim + embed_dim, image_size=config.image_size,
                            channels=config.channels, width=config.width)
        self.body = DCGANGenerator(inner)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        check_z(z, self.config.z_dim)
        y = check_labels(y, self.n_classes, len(z))
        return self.body(torch.cat([z, self.embed(y)], dim=1))  # (B, C, H, W)


class ConditionalDiscriminator(nn.Module):
    """D(x, y) -> logits (B,), in one of two styles:

    * ``concat``: the label embedding is broadcast to a feature map and concatenated to the
      image as extra input channels (the original conditional GAN of Mirza and Osindero);
    * ``projection``: logit = ψ(φ(x)) + <e(y), φ(x)>, the inner product of a class
      embedding with the image features (Miyato and Koyama, 2018).
    """

    def __init__(self, n_classes: int, *, config: DCGANConfig | None = None, mode: str = "projection",
                 embed_dim: int = 4):
        super().__init__()
        if mode not in ("concat", "projection"):
            raise ValueError(f"mode must be 'concat' or 'projection', got {mode!r}")
        self.config = config = config or DCGANConfig()
        self.n_classes, self.mode = n_classes, mode
        extra = embed_dim if mode == "concat" else 0
        inner = DCGANConfig(z_dim=config.z_dim, image_size=config.image_size,
                            channels=config.channels + extra, width=config.width)
        self.disc = DCGANDiscriminator(inner)
        if mode == "concat":
            self.embed = nn.Embedding(n_classes, embed_dim)
        else:
            self.embed = nn.Embedding(n_classes, config.feature_dim)
            nn.init.normal_(self.embed.weight, 0.0, 0.02)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        check_images(x, self.config.channels, self.config.image_size, "discriminator")
        y = check_labels(y, self.n_classes, len(x))
        if self.mode == "concat":
            maps = self.embed(y)[:, :, None, None].expand(-1, -1, *x.shape[-2:])  # (B, E, H, W)
            return self.disc(torch.cat([x, maps], dim=1))
        h = self.disc.body(x)                                                  # (B, F', 4, 4)
        return self.disc.head(h).flatten() + (self.embed(y) * h.flatten(1)).sum(1)


class ACGANDiscriminator(nn.Module):
    """The auxiliary-classifier discriminator: one body, two heads.

    x (B, C, 32, 32) -> (source logits (B,), class logits (B, n_classes)). It does not see y.
    """

    def __init__(self, n_classes: int, *, config: DCGANConfig | None = None):
        super().__init__()
        self.config = config = config or DCGANConfig()
        self.n_classes = n_classes
        self.disc = DCGANDiscriminator(config)
        self.classify = nn.Linear(config.feature_dim, n_classes)
        init_weights(self.classify)

    def forward(self, x: torch.Tensor):
        check_images(x, self.config.channels, self.config.image_size, "discriminator")
        h = self.disc.body(x)                                            # (B, F', 4, 4)
        return self.disc.head(h).flatten(), self.classify(h.flatten(1))  # (B,), (B, K)


class SemiSupervisedDiscriminator(nn.Module):
    """A classifier with K real classes whose "fake" class is implicit (Salimans et al., 2016).

    x (B, C, 32, 32) -> K class logits l_1..l_K (B, K). With a fixed logit 0 for the (K+1)-th,
    "generated" class, the probability that x is real is D(x) = Z / (Z + 1), Z = Σ_k exp(l_k),
    so the real-vs-fake logit is logsumexp(l). ``real_logit(logits)`` computes it;
    ``features(x)`` (B, config.feature_dim) are the activations that feature matching compares.
    """

    def __init__(self, n_classes: int, *, config: DCGANConfig | None = None, dropout: float = 0.3):
        super().__init__()
        self.config = config = config or DCGANConfig()
        self.n_classes = n_classes
        self.disc = DCGANDiscriminator(config)
        self.dropout = nn.Dropout(dropout)
        self.classify = nn.Linear(config.feature_dim, n_classes)
        init_weights(self.classify)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.disc.features(x)                                    # (B, F)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.dropout(self.features(x)))            # (B, K)

    @staticmethod
    def real_logit(logits: torch.Tensor) -> torch.Tensor:
        """logit of P(real | x) = log Z(x) = logsumexp over the K class logits, shape (B,)."""
        return torch.logsumexp(logits, dim=1)
