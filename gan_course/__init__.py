"""Companion package of the GAN course book.

Everything a chapter needs beyond the code it teaches: run-time set-up (device, seed,
profile and budget), data, theory, losses, models, plots, explorers and exercise checks.
Importing it neither selects a GPU nor imports ipywidgets.
"""

__version__ = "0.1.0"

from . import checks, data, losses, models, theory, viz, widgets
from .data import grid_of_gaussians, load_images, ring_of_gaussians
from .runtime import (
    PROFILES,
    autocast,
    budget,
    device,
    grad_scaler,
    profile,
    provenance,
    seed_everything,
    setup,
)

__all__ = [
    "__version__",
    "PROFILES",
    "autocast",
    "budget",
    "checks",
    "data",
    "device",
    "grad_scaler",
    "grid_of_gaussians",
    "load_images",
    "losses",
    "models",
    "profile",
    "provenance",
    "ring_of_gaussians",
    "seed_everything",
    "setup",
    "theory",
    "viz",
    "widgets",
]
