"""Multi-layer perceptrons for low-dimensional GANs (Chapters 1-4).

Every MLP has two named stages: ``body``, the hidden layers with their activations, and
``head``, the output linear layer. The discriminators return logits; apply
``torch.sigmoid`` to read D(x) as a probability.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .common import check_norm

_ACTIVATIONS = {
    "relu": lambda: nn.ReLU(),
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "tanh": lambda: nn.Tanh(),
    "elu": lambda: nn.ELU(),
}


def _check_activation(activation: str) -> None:
    if activation not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; accepted: {', '.join(_ACTIVATIONS)}")


class MLP(nn.Module):
    """Fully connected network: in_dim -> hidden... -> out_dim, with a chosen activation.

    Input (B, in_dim), output (B, out_dim). ``norm="batch"`` puts a ``BatchNorm1d`` between
    every hidden linear layer and its activation (then the output depends on the whole batch
    in training mode; see Chapter 4 for the train/eval-mode difference).
    """

    def __init__(self, in_dim: int, out_dim: int, *, hidden: Sequence[int] = (128, 128),
                 activation: str = "relu", norm: str = "none"):
        super().__init__()
        _check_activation(activation)
        check_norm(norm, ("none", "batch"))
        if in_dim <= 0 or out_dim <= 0 or any(h <= 0 for h in hidden):
            raise ValueError(f"layer sizes must be positive, got in={in_dim}, hidden={tuple(hidden)}, out={out_dim}")
        self.in_dim, self.out_dim = in_dim, out_dim
        layers: list[nn.Module] = []
        width = in_dim
        for h in hidden:
            layers.append(nn.Linear(width, h))
            if norm == "batch":  # Chapter 4: batch norm after every hidden linear layer
                layers.append(nn.BatchNorm1d(h))
            layers.append(_ACTIVATIONS[activation]())
            width = h
        self.body = nn.Sequential(*layers)             # (B, in_dim) -> (B, hidden[-1])
        self.head = nn.Linear(width, out_dim)          # -> (B, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.in_dim:
            raise ValueError(f"expected input of shape (B, {self.in_dim}), got {tuple(x.shape)}")
        return self.head(self.body(x))


class MLPGenerator(MLP):
    """G: noise z (B, z_dim) -> samples (B, data_dim) (Chapters 1-4)."""

    def __init__(self, *, z_dim: int = 2, data_dim: int = 2, hidden: Sequence[int] = (128, 128),
                 activation: str = "relu", norm: str = "none"):
        super().__init__(z_dim, data_dim, hidden=hidden, activation=activation, norm=norm)
        self.z_dim, self.data_dim = z_dim, data_dim

    def sample(self, n: int, rng: torch.Generator | None = None) -> torch.Tensor:
        """Draw z ~ N(0, I) on the model's device and return G(z), shape (n, data_dim)."""
        dev = next(self.parameters()).device
        z = torch.randn(n, self.z_dim, generator=rng).to(dev)
        return self(z)


class MLPDiscriminator(MLP):
    """D: samples (B, data_dim) -> logits (B,) (Chapters 1-4)."""

    def __init__(self, *, data_dim: int = 2, hidden: Sequence[int] = (128, 128),
                 activation: str = "leaky_relu"):
        super().__init__(data_dim, 1, hidden=hidden, activation=activation)
        self.data_dim = data_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x).squeeze(1)  # (B,)


class PackedDiscriminator(nn.Module):
    """PacGAN's packed D (Chapter 4): scores groups of ``pack`` samples jointly.

    Input (B, data_dim) with B a multiple of ``pack``; consecutive rows form a group (a
    "pack"). Output: one logit per pack, shape (B / pack,). All samples of a pack must come
    from the same source (all real or all generated).

    ``per_sample_layers`` (0 <= n <= len(hidden)) decides where the samples meet:

    * 0 (PacGAN's original): the raw samples are concatenated, (B, d) -> (B / pack, pack * d),
      and an MLP with ``hidden`` layers scores the concatenation;
    * n > 0: the first n hidden layers are applied to every sample separately (shared
      weights), their features are concatenated, and the remaining layers score the pack.
      With n = len(hidden) the logit is a learned linear function of the per-sample
      features, which can represent the optimal packed discriminator
      sum_i log p_data(x_i) / p_g(x_i) exactly.

    With ``pack=1`` and n = 0 it computes the same function as an ``MLPDiscriminator``.
    Stages: ``encoder`` (the per-sample layers) and ``head`` (an :class:`MLP` on the pack).
    """

    def __init__(self, *, data_dim: int = 2, pack: int = 2, hidden: Sequence[int] = (128, 128),
                 activation: str = "leaky_relu", per_sample_layers: int = 0):
        if not isinstance(pack, int) or pack < 1:
            raise ValueError(f"pack (samples per discriminator input) must be an integer >= 1, got {pack!r}")
        hidden = tuple(hidden)
        if not 0 <= per_sample_layers <= len(hidden):
            raise ValueError(f"per_sample_layers must be between 0 and {len(hidden)} (the number of hidden "
                             f"layers), got {per_sample_layers}")
        _check_activation(activation)
        super().__init__()
        self.data_dim, self.pack, self.per_sample_layers = data_dim, pack, per_sample_layers
        layers: list[nn.Module] = []
        width = data_dim
        for h in hidden[:per_sample_layers]:
            layers += [nn.Linear(width, h), _ACTIVATIONS[activation]()]
            width = h
        self.encoder = nn.Sequential(*layers)  # applied to every sample on its own
        self.head = MLP(pack * width, 1, hidden=hidden[per_sample_layers:], activation=activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.data_dim:
            raise ValueError(f"expected samples of shape (B, {self.data_dim}), got {tuple(x.shape)}")
        if x.shape[0] % self.pack != 0:
            raise ValueError(f"the batch size {x.shape[0]} is not a multiple of pack={self.pack}: "
                             "every discriminator input needs pack complete samples")
        h = self.encoder(x)                                            # (B, w)
        packed = h.reshape(x.shape[0] // self.pack, self.pack * h.shape[1])  # (B / pack, pack * w)
        return self.head(packed).squeeze(1)                           # (B / pack,)
