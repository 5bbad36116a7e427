"""Companion package of the GAN course book.

Everything a chapter needs beyond the code it teaches: run-time set-up (device, seed,
profile and budget), data, theory, losses, models, plots, explorers and exercise checks.
Importing it neither selects a GPU nor imports ipywidgets.
"""

__version__ = "0.1.0"

from . import checks, checkpoint, claims, data, latent, losses, metrics, models, theory, train, viz, widgets
from .claims import claim
from .data import grid_of_gaussians, load_images, ring_of_gaussians
from .runtime import (
    PROFILES,
    MixedPrecision,
    autocast,
    budget,
    device,
    grad_scaler,
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
    "data",
    "device",
    "grad_scaler",
    "grid_of_gaussians",
    "latent",
    "load_images",
    "losses",
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
