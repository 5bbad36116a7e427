"""Model families, one self-contained file each."""

from .mlp import MLP, MLPDiscriminator, MLPGenerator

__all__ = ["MLP", "MLPDiscriminator", "MLPGenerator"]
