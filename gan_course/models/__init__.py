"""Model families, one self-contained file each."""

from .classifier import SmallConvNet
from .conditional import (
    ACGANDiscriminator,
    ConditionalDiscriminator,
    ConditionalGenerator,
    SemiSupervisedDiscriminator,
)
from .cogan import CoupledDiscriminators, CoupledGenerators
from .cyclegan import ImagePool, ResnetGenerator, linear_decay
from .dcgan import DCGANConfig, DCGANDiscriminator, DCGANGenerator
from .mlp import MLP, MLPDiscriminator, MLPGenerator, PackedDiscriminator
from .pix2pix import PatchDiscriminator, UNetGenerator
from .stargan import StarDiscriminator, StarGenerator

__all__ = [
    "ACGANDiscriminator",
    "ConditionalDiscriminator",
    "ConditionalGenerator",
    "CoupledDiscriminators",
    "CoupledGenerators",
    "DCGANConfig",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "ImagePool",
    "MLP",
    "MLPDiscriminator",
    "MLPGenerator",
    "PackedDiscriminator",
    "PatchDiscriminator",
    "ResnetGenerator",
    "SemiSupervisedDiscriminator",
    "SmallConvNet",
    "StarDiscriminator",
    "StarGenerator",
    "UNetGenerator",
    "linear_decay",
]
