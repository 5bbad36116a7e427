"""Multi-layer perceptrons for low-dimensional GANs (Chapters 1-4).

The discriminator returns logits; apply ``torch.sigmoid`` to read D(x) as a probability.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

_ACTIVATIONS = {
    "relu": lambda: nn.ReLU(),
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "tanh": lambda: nn.Tanh(),
    "elu": lambda: nn.ELU(),
}


class MLP(nn.Module):
    """Fully connected network: in_dim -> hidden... -> out_dim, with a chosen activation.

    Input (B, in_dim), output (B, out_dim).
    """

    def __init__(self, in_dim: int, out_dim: int, hidden: Sequence[int] = (128, 128),
                 activation: str = "relu"):
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; accepted: {', '.join(_ACTIVATIONS)}")
        if in_dim <= 0 or out_dim <= 0 or any(h <= 0 for h in hidden):
            raise ValueError(f"layer sizes must be positive, got in={in_dim}, hidden={tuple(hidden)}, out={out_dim}")
        self.in_dim, self.out_dim = in_dim, out_dim
        layers: list[nn.Module] = []
        width = in_dim
        for h in hidden:
            layers += [nn.Linear(width, h), _ACTIVATIONS[activation]()]
            width = h
        layers.append(nn.Linear(width, out_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.in_dim:
            raise ValueError(f"expected input of shape (B, {self.in_dim}), got {tuple(x.shape)}")
        return self.net(x)


class MLPGenerator(MLP):
    """G: noise z of shape (B, noise_dim) -> samples of shape (B, data_dim)."""

    def __init__(self, noise_dim: int = 2, data_dim: int = 2, hidden: Sequence[int] = (128, 128),
                 activation: str = "relu"):
        super().__init__(noise_dim, data_dim, hidden, activation)
        self.noise_dim, self.data_dim = noise_dim, data_dim

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw z ~ N(0, I) on the model's device and return G(z), shape (n, data_dim)."""
        dev = next(self.parameters()).device
        z = torch.randn(n, self.noise_dim, generator=generator).to(dev)
        return self(z)


class MLPDiscriminator(MLP):
    """D: samples of shape (B, data_dim) -> logits of shape (B,)."""

    def __init__(self, data_dim: int = 2, hidden: Sequence[int] = (128, 128),
                 activation: str = "leaky_relu"):
        super().__init__(data_dim, 1, hidden, activation)
        self.data_dim = data_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x).squeeze(1)  # (B,)
