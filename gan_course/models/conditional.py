"""Class-conditional GANs (Chapter 7): conditional generator and discriminator, the
projection discriminator, conditional batch normalisation, the ACGAN discriminator and the
semi-supervised discriminator.

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


class ConditionalBatchNorm2d(nn.Module):
    """Batch normalisation whose scale and shift are looked up from the label (Chapter 7).

    x (B, C, H, W), y (B,) -> (B, C, H, W): normalise each channel with the batch statistics
    (as ``nn.BatchNorm2d(affine=False)``), then apply the class's own scale γ_y and shift β_y,
    ``gamma[y] * x̂ + beta[y]``. This is how conditional batch normalisation (de Vries et al.,
    2017; Dumoulin et al., 2017) feeds a label to every layer of a generator, as in the
    projection-discriminator paper's generator and in BigGAN. γ starts at 1 and β at 0 for
    every class, so an untrained layer is plain batch normalisation.
    """

    def __init__(self, channels: int, n_classes: int):
        super().__init__()
        self.channels, self.n_classes = channels, n_classes
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.gamma = nn.Embedding(n_classes, channels)
        self.beta = nn.Embedding(n_classes, channels)
        nn.init.ones_(self.gamma.weight)
        nn.init.zeros_(self.beta.weight)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.channels:
            raise ValueError(f"conditional batch norm expects (B, {self.channels}, H, W), got {tuple(x.shape)}")
        y = check_labels(y, self.n_classes, len(x))
        h = self.norm(x)                                                         # (B, C, H, W)
        return self.gamma(y)[:, :, None, None] * h + self.beta(y)[:, :, None, None]


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


# ---------------------------------------------------------------------------------------
# The semi-supervised networks of Salimans et al. (2016) for MNIST-sized images
# ---------------------------------------------------------------------------------------


class GaussianNoise(nn.Module):
    """Adds N(0, std²) noise in training mode; the identity in eval mode (Salimans et al., 2016)."""

    def __init__(self, std: float):
        super().__init__()
        if std < 0:
            raise ValueError(f"the noise's standard deviation must be >= 0, got {std}")
        self.std = std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.std == 0:
            return x
        return x + self.std * torch.randn_like(x)


class WeightNormLinear(nn.Module):
    """A linear layer with weight normalisation, y = x (g ⊙ v / ‖v‖)ᵀ + b (Salimans and Kingma, 2016).

    (B, in_features) -> (B, out_features). Each output unit's weight vector is v_j / ‖v_j‖
    times a scale g_j: the direction is learned by v, the length by g alone. With
    ``train_scale=False`` the scale is a fixed buffer, as in the hidden layers of Salimans et
    al.'s MNIST discriminator. :meth:`init_from_data` sets g and b from a batch so that every
    unit's pre-activation has mean 0 and standard deviation 1 on it (data-dependent
    initialisation).
    """

    def __init__(self, in_features: int, out_features: int, *, train_scale: bool = True):
        super().__init__()
        self.v = nn.Parameter(torch.randn(out_features, in_features) * 0.1)
        scale = torch.ones(out_features)
        if train_scale:
            self.g = nn.Parameter(scale)
        else:
            self.register_buffer("g", scale)
        self.b = nn.Parameter(torch.zeros(out_features))

    def weight(self) -> torch.Tensor:
        return self.v * (self.g / self.v.norm(dim=1))[:, None]                # (out, in)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.weight(), self.b)

    @torch.no_grad()
    def init_from_data(self, x: torch.Tensor) -> None:
        direction = nn.functional.linear(x, self.v / self.v.norm(dim=1, keepdim=True))
        mean, std = direction.mean(0), direction.std(0, unbiased=False) + 1e-6
        self.g.copy_(1 / std)
        self.b.copy_(-mean / std)


class SemiSupervisedMLPDiscriminator(nn.Module):
    """The K-class discriminator of Salimans et al.'s MNIST experiments (Chapter 7).

    x (B, channels, image_size, image_size) in [-1, 1] -> K class logits (B, K); the fake
    class is implicit, as in :class:`SemiSupervisedDiscriminator`. Stages: ``body``, the
    hidden layers (Gaussian noise of std ``input_noise`` on the input, rescaled to [0, 1] as
    in the paper, and of std ``hidden_noise`` before every further layer; weight-normalised
    linear layers with fixed scales and ReLU), and ``head``, noise and a weight-normalised
    linear layer with a learned scale to the K logits. ``features(x)`` (B, hidden[-1]) is the
    last hidden layer, the one feature matching compares. Call :meth:`init_from_data` on a
    batch of real images before training. The paper's sizes are hidden = (1000, 500, 250,
    250, 250); the default is a smaller (500, 250, 250).
    """

    def __init__(self, n_classes: int, *, channels: int = 1, image_size: int = 32,
                 hidden: tuple[int, ...] = (500, 250, 250), input_noise: float = 0.3,
                 hidden_noise: float = 0.5):
        super().__init__()
        self.n_classes, self.channels, self.image_size = n_classes, channels, image_size
        sizes = [channels * image_size * image_size, *hidden]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers += [GaussianNoise(input_noise if i == 0 else hidden_noise),
                       WeightNormLinear(a, b, train_scale=False), nn.ReLU()]
        self.body = nn.Sequential(*layers)                                     # -> (B, hidden[-1])
        self.head = nn.Sequential(GaussianNoise(hidden_noise), WeightNormLinear(sizes[-1], n_classes))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, self.channels, self.image_size, "discriminator")
        return self.body((x.flatten(1) + 1) / 2)                               # (B, hidden[-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))                                     # (B, K)

    real_logit = staticmethod(SemiSupervisedDiscriminator.real_logit)

    @torch.no_grad()
    def init_from_data(self, x: torch.Tensor) -> None:
        """Data-dependent initialisation on real images x: unit-variance pre-activations."""
        check_images(x, self.channels, self.image_size, "discriminator")
        h = (x.flatten(1) + 1) / 2
        for layer in [*self.body, *self.head]:
            if isinstance(layer, WeightNormLinear):
                layer.init_from_data(h)
            if not isinstance(layer, GaussianNoise):                           # no noise here
                h = layer(h)


class SemiSupervisedMLPGenerator(nn.Module):
    """The generator of Salimans et al.'s MNIST experiments: z -> images (Chapter 7).

    z (B, z_dim) -> images (B, channels, image_size, image_size) in [-1, 1]. Stages: ``body``,
    linear layers with batch normalisation and softplus, and ``head``, a linear layer to the
    pixels with tanh (the paper's sigmoid for images in [0, 1], rescaled to [-1, 1]).
    """

    def __init__(self, *, z_dim: int = 100, channels: int = 1, image_size: int = 32,
                 hidden: tuple[int, ...] = (500, 500)):
        super().__init__()
        self.z_dim, self.channels, self.image_size = z_dim, channels, image_size
        layers: list[nn.Module] = []
        width = z_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.BatchNorm1d(h), nn.Softplus()]
            width = h
        self.body = nn.Sequential(*layers)                                     # (B, hidden[-1])
        self.head = nn.Sequential(nn.Linear(width, channels * image_size * image_size), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        check_z(z, self.z_dim)
        x = self.head(self.body(z))                                            # (B, C * S * S)
        return x.view(-1, self.channels, self.image_size, self.image_size)    # (B, C, S, S)
