"""Moving through a generator's latent space (Chapter 5): interpolation and vector arithmetic.

Pure functions of latent vectors; the explorers in :mod:`gan_course.widgets` and the
chapter's animations are built on them.
"""

from __future__ import annotations

import torch


def lerp(z0: torch.Tensor, z1: torch.Tensor, t) -> torch.Tensor:
    """Linear interpolation (1 - t) z0 + t z1; ``t`` a number or a 1-D tensor of T values.

    Returns z0's shape for a number, (T, *z0.shape) for a tensor of t.
    """
    t = torch.as_tensor(t, dtype=z0.dtype, device=z0.device)
    shape = t.shape + (1,) * z0.ndim
    return (1 - t.reshape(shape)) * z0 + t.reshape(shape) * z1


def slerp(z0: torch.Tensor, z1: torch.Tensor, t) -> torch.Tensor:
    """Spherical interpolation along the great circle between z0 and z1 (vectors of shape (d,)).

    sin((1 - t) ω) / sin ω · z0 + sin(t ω) / sin ω · z1 with cos ω = <z0, z1> / (|z0| |z1|).
    For Gaussian z, whose norm concentrates around sqrt(d), it keeps intermediate points at
    a typical norm, while the midpoint of a linear path is atypically short. Falls back to
    linear interpolation when z0 and z1 are (anti)parallel.
    """
    if z0.ndim != 1 or z0.shape != z1.shape:
        raise ValueError(f"slerp expects two vectors of the same shape (d,), got {tuple(z0.shape)}, {tuple(z1.shape)}")
    t = torch.as_tensor(t, dtype=z0.dtype, device=z0.device)
    cos = torch.dot(z0, z1) / (z0.norm() * z1.norm())
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    if torch.sin(omega).abs() < 1e-6:
        return lerp(z0, z1, t)
    tt = t.reshape(t.shape + (1,))
    return (torch.sin((1 - tt) * omega) * z0 + torch.sin(tt * omega) * z1) / torch.sin(omega)


def interpolate(z0: torch.Tensor, z1: torch.Tensor, steps: int = 8, mode: str = "linear") -> torch.Tensor:
    """``steps`` latent vectors from z0 to z1 inclusive, shape (steps, d); mode linear or spherical."""
    if steps < 2:
        raise ValueError(f"an interpolation needs at least 2 steps, got {steps}")
    t = torch.linspace(0, 1, steps, dtype=z0.dtype)
    if mode == "linear":
        return lerp(z0, z1, t)
    if mode == "spherical":
        return slerp(z0, z1, t)
    raise ValueError(f"unknown interpolation mode {mode!r}; accepted: 'linear', 'spherical'")


def interpolate_rows(z0: torch.Tensor, z1: torch.Tensor, t: float = 0.5, mode: str = "linear") -> torch.Tensor:
    """Row by row, the point at ``t`` between z0[i] and z1[i]: (N, d), (N, d) -> (N, d).

    ``mode``: ``"linear"`` ((1 - t) z0 + t z1) or ``"spherical"`` (:func:`slerp` of each pair,
    linear for (anti)parallel pairs). Chapter 5 compares the two midpoints of many pairs.
    """
    if z0.ndim != 2 or z0.shape != z1.shape:
        raise ValueError(f"interpolate_rows expects two batches of the same shape (N, d), got "
                         f"{tuple(z0.shape)}, {tuple(z1.shape)}")
    if mode == "linear":
        return (1 - t) * z0 + t * z1
    if mode != "spherical":
        raise ValueError(f"unknown interpolation mode {mode!r}; accepted: 'linear', 'spherical'")
    cos = (z0 * z1).sum(1) / (z0.norm(dim=1) * z1.norm(dim=1))
    omega = torch.arccos(cos.clamp(-1.0, 1.0))[:, None]          # (N, 1)
    sin = torch.sin(omega)
    parallel = sin.abs() < 1e-6
    safe = torch.where(parallel, torch.ones_like(sin), sin)
    out = (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / safe
    return torch.where(parallel, (1 - t) * z0 + t * z1, out)


def arithmetic(z_a: torch.Tensor, z_b: torch.Tensor, z_c: torch.Tensor) -> torch.Tensor:
    """mean(z_a) - mean(z_b) + mean(z_c): the DCGAN paper's vector arithmetic on averaged z.

    Each argument is (n, d) (several latent vectors of samples that share a property) or (d,).
    Averaging a few vectors per concept makes the result far more stable than single vectors.
    """
    def mean(z):
        return z.mean(0) if z.ndim == 2 else z
    return mean(z_a) - mean(z_b) + mean(z_c)
