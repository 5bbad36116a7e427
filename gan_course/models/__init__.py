"""Model families, one self-contained file each."""

from .classifier import SmallConvNet
from .dcgan import DCGANConfig, DCGANDiscriminator, DCGANGenerator
from .mlp import MLP, MLPDiscriminator, MLPGenerator

__all__ = ["DCGANConfig", "DCGANDiscriminator", "DCGANGenerator", "MLP", "MLPDiscriminator", "MLPGenerator",
           "SmallConvNet"]
