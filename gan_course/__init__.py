"""Companion package of the GAN course book.

Everything a chapter needs beyond the code it teaches: run-time set-up (device, seed,
profile and budget), data, theory, losses, models, plots, explorers and exercise checks.
``gc.infer(model, *inputs)`` runs a model without gradients in eval mode, in chunks, and
returns CPU tensors; ``gc.frozen_copy(model)`` is a snapshot. The conventions of the
package are written in :mod:`gan_course.models` (models) and :mod:`gan_course.train` (games).
Importing it neither selects a GPU nor imports ipywidgets.
"""

__version__ = "0.1.0"

from . import checks, checkpoint, claims, data, latent, losses, metrics, models, theory, train, viz, widgets
from .claims import claim
from .data import grid_of_gaussians, load_images, ring_of_gaussians
from .models.common import count_parameters, frozen_copy, infer
from .runtime import (
    PROFILES,
    MixedPrecision,
    autocast,
    budget,
    device,
    grad_scaler,
    map_processes,
    profile,
    provenance,
    seed_everything,
    setup,
    step_cap,
    steps,
)

__all__ = [
    "__version__",
    "MixedPrecision",
    "PROFILES",
    "autocast",
    "budget",
    "checkpoint",
    "checks",
    "claim",
    "claims",
    "count_parameters",
    "data",
    "device",
    "frozen_copy",
    "grad_scaler",
    "grid_of_gaussians",
    "infer",
    "latent",
    "load_images",
    "losses",
    "map_processes",
    "metrics",
    "models",
    "profile",
    "provenance",
    "ring_of_gaussians",
    "seed_everything",
    "setup",
    "step_cap",
    "steps",
    "theory",
    "train",
    "viz",
    "widgets",
]
