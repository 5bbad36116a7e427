"""Metrics of sample quality, each following a stated protocol.

Mode coverage on the 2-D mixtures follows the protocol of the mode-collapse literature
(Srivastava et al. 2017, VEEGAN; Lin et al. 2018, PacGAN): draw 2,500 samples; a sample is
*high quality* when it lies within three standard deviations of its nearest mode; a mode
is *covered* when at least one high-quality sample is nearest to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class ModeCoverage:
    """Result of :func:`mode_coverage`."""

    modes: int            # covered modes
    n_modes: int          # modes of the mixture
    high_quality: float   # fraction of samples within n_std standard deviations of a mode
    reverse_kl: float     # KL(mode histogram of high-quality samples || uniform)
    counts: np.ndarray    # high-quality samples per mode

    def __str__(self) -> str:
        return (f"{self.modes}/{self.n_modes} modes, {100 * self.high_quality:.1f}% high quality, "
                f"reverse KL {self.reverse_kl:.3f}")


def mode_coverage(samples, mixture, n_std: float = 3.0) -> ModeCoverage:
    """Modes covered, fraction of high-quality samples and reverse KL to uniform.

    ``samples``: (N, 2) points (the protocol uses N = 2,500); ``mixture``: an object with
    ``means`` (K, 2) and ``std`` such as :func:`gan_course.data.grid_of_gaussians`.
    """
    x = samples.detach().float().cpu() if torch.is_tensor(samples) else torch.as_tensor(samples, dtype=torch.float32)
    means = mixture.means.float().cpu()
    if x.ndim != 2 or x.shape[1] != means.shape[1]:
        raise ValueError(f"samples must have shape (N, {means.shape[1]}), got {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError("samples is empty: mode coverage needs at least one sample")
    if not torch.isfinite(x).all():
        raise ValueError("samples contain NaN or inf")
    dist = torch.cdist(x, means)                  # (N, K)
    nearest_d, nearest = dist.min(dim=1)
    good = nearest_d <= n_std * mixture.std
    counts = torch.bincount(nearest[good], minlength=means.shape[0]).numpy()
    covered = int((counts > 0).sum())
    total = counts.sum()
    if total == 0:
        rkl = math.inf
    else:
        p = counts / total
        nz = p > 0
        rkl = float(np.sum(p[nz] * np.log(p[nz] * len(p))))
    return ModeCoverage(covered, int(means.shape[0]), float(good.float().mean()), rkl, counts)
