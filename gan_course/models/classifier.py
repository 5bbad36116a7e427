"""A small convolutional classifier of 32x32 images, used to measure generated images
(Chapters 5-11): its penultimate layer is the feature space of the Fréchet distance, and its
predictions score class-conditional samples.
"""

from __future__ import annotations

import torch
from torch import nn

from .common import check_images


class SmallConvNet(nn.Module):
    """Three conv blocks (conv, batch norm, ReLU, 2x2 max pool) and two linear layers.

    Input (B, channels, 32, 32) in [-1, 1]; ``forward`` returns class logits (B, n_classes);
    ``features`` returns the penultimate activations (B, feature_dim). Stages: ``body``
    (convolutions and the first linear layer), ``dropout`` and ``head``.
    """

    def __init__(self, *, channels: int = 1, n_classes: int = 10, width: int = 32, feature_dim: int = 128):
        super().__init__()
        self.channels, self.n_classes, self.image_size = channels, n_classes, 32

        def block(c_in, c_out):
            return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True),
                    nn.MaxPool2d(2)]

        self.body = nn.Sequential(*block(channels, width), *block(width, 2 * width), *block(2 * width, 4 * width),
                                  nn.Flatten(), nn.Linear(4 * width * 16, feature_dim), nn.ReLU(True))
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(feature_dim, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, self.channels, self.image_size, "classifier")
        return self.body(x)                                   # (B, feature_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(x)))      # (B, n_classes)
