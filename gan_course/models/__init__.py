"""Model families, one self-contained file each, and what they share (:mod:`.common`).

Conventions that every model of the package follows (and every new one must):

* **One vocabulary** for constructor arguments: ``z_dim`` (latent size), ``data_dim``
  (vector data), ``channels`` (channels of the images a model reads, or reads and writes),
  ``out_channels`` (image-to-image generators whose output may differ; default
  ``channels``), ``image_size`` (side of square images), ``width`` (base number of feature
  maps), ``hidden`` (tuple of MLP layer sizes), ``n_classes``, ``n_domains``, ``n_layers``,
  ``n_blocks``, ``n_shared``, ``norm`` (``"batch"``, ``"instance"``, ``"layer"``, ``"none"``).
* **Keyword-only** beyond the one obvious first argument: ``DCGANGenerator(config)``,
  ``DCGANDiscriminator(config, norm="layer")``, ``ConditionalGenerator(10, config=cfg)``,
  ``StarGenerator(4, channels=1, width=16)``, ``MLPGenerator(z_dim=2, data_dim=2)``.
* **Named stages**, never one flat ``net`` reached by index: generators ``stem`` / ``up`` /
  ``head``; image-to-image generators ``stem`` / ``down`` / ``blocks`` / ``up`` / ``head``;
  discriminators ``body`` / ``head`` (plus ``classify`` for a second head), and
  ``features(x)`` where a chapter reads features; MLPs ``body`` / ``head``. A variant is a
  constructor option (``norm``, ``stem_padding``, ``init``), never a patch of another
  model's layers.
* Discriminators return **logits** (or scores); no sigmoid inside a model.
* Inputs are checked with the helpers of :mod:`.common` (``check_images``, ``check_z``,
  ``check_labels``: any integer dtype for labels, converted to int64; floats and bools are
  refused) and errors name the expected shape.
* Docstrings give the shapes in and out and the chapter that explains the model; ``forward``
  carries shape comments.
* Running a model without training it goes through :func:`infer` (no gradients, eval mode,
  chunks, the previous modes restored, results on the CPU); snapshots are :func:`frozen_copy`.
"""

from .classifier import SmallConvNet
from .cogan import CoupledDiscriminators, CoupledGenerators
from .common import (
    check_images,
    check_labels,
    check_z,
    count_parameters,
    frozen_copy,
    infer,
    init_weights,
)
from .conditional import (
    ACGANDiscriminator,
    ConditionalDiscriminator,
    ConditionalGenerator,
    SemiSupervisedDiscriminator,
)
from .cyclegan import ImagePool, ResidualBlock, ResnetGenerator
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
    "ResidualBlock",
    "ResnetGenerator",
    "SemiSupervisedDiscriminator",
    "SmallConvNet",
    "StarDiscriminator",
    "StarGenerator",
    "UNetGenerator",
    "check_images",
    "check_labels",
    "check_z",
    "count_parameters",
    "frozen_copy",
    "infer",
    "init_weights",
]
