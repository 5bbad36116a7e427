"""The mathematics of the GAN game, computed: value function, optimal discriminator,
numerical integration on a 1-D grid (Chapter 1).

Densities are NumPy arrays sampled on a grid ``x``; integrals use the trapezoidal rule.
Conventions: ``0 * log 0 = 0`` (a term whose density is zero contributes nothing).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

LOG4 = math.log(4.0)


def grid(lo: float = -8.0, hi: float = 8.0, n: int = 8001) -> np.ndarray:
    """An evenly spaced 1-D grid for numerical integration."""
    if not hi > lo or n < 2:
        raise ValueError(f"need hi > lo and n >= 2, got lo={lo}, hi={hi}, n={n}")
    return np.linspace(lo, hi, n)


def integrate(values, x) -> float:
    """Trapezoidal integral of ``values`` sampled on the grid ``x``."""
    values, x = np.asarray(values, dtype=float), np.asarray(x, dtype=float)
    if values.shape != x.shape:
        raise ValueError(f"values and grid differ in shape: {values.shape} vs {x.shape}")
    return float(np.sum((values[1:] + values[:-1]) * np.diff(x)) / 2.0)


def gaussian_pdf(x, mean: float = 0.0, std: float = 1.0) -> np.ndarray:
    """Density of N(mean, std^2) at ``x``."""
    if std <= 0:
        raise ValueError(f"std must be positive, got {std}")
    x = np.asarray(x, dtype=float)
    return np.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))


def mixture_pdf(x, means, stds, weights=None) -> np.ndarray:
    """Density of a 1-D Gaussian mixture at ``x`` (equal weights by default)."""
    means, stds = np.atleast_1d(means), np.atleast_1d(stds)
    if weights is None:
        weights = np.full(len(means), 1.0 / len(means))
    weights = np.asarray(weights, dtype=float)
    if not math.isclose(weights.sum(), 1.0, rel_tol=1e-9):
        raise ValueError(f"mixture weights must sum to 1, got {weights.sum()}")
    return sum(w * gaussian_pdf(x, m, s) for w, m, s in zip(weights, means, stds))


@dataclass(frozen=True)
class Mixture1D:
    """A 1-D Gaussian mixture that can be evaluated, sampled, shifted and scaled (Chapter 1).

    ``moved(shift, scale)`` is the distribution of ``scale * X + shift``: the family used
    in Chapter 1 to move a generator distribution p_g towards p_data.
    """

    means: tuple = (0.0,)
    stds: tuple = (1.0,)
    weights: tuple = (1.0,)

    def __post_init__(self):
        if not (len(self.means) == len(self.stds) == len(self.weights)):
            raise ValueError("means, stds and weights must have the same length")
        if any(s <= 0 for s in self.stds) or any(w < 0 for w in self.weights):
            raise ValueError("stds must be positive and weights non-negative")
        if not math.isclose(sum(self.weights), 1.0, rel_tol=1e-9):
            raise ValueError(f"weights must sum to 1, got {sum(self.weights)}")

    def pdf(self, x) -> np.ndarray:
        return mixture_pdf(x, self.means, self.stds, self.weights)

    def moved(self, shift: float = 0.0, scale: float = 1.0) -> "Mixture1D":
        if scale <= 0:
            raise ValueError(f"scale must be positive, got {scale}")
        return Mixture1D(tuple(scale * m + shift for m in self.means), tuple(scale * s for s in self.stds),
                         self.weights)

    def sample(self, n: int, rng: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``n`` samples as a float32 tensor of shape (n, 1)."""
        comp = torch.multinomial(torch.tensor(self.weights, dtype=torch.float64), n, replacement=True,
                                 generator=rng)
        means = torch.tensor(self.means, dtype=torch.float32)[comp]
        stds = torch.tensor(self.stds, dtype=torch.float32)[comp]
        return (means + stds * torch.randn(n, generator=rng)).unsqueeze(1)


def _check_density(p, name: str) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    if np.any(p < 0) or not np.all(np.isfinite(p)):
        raise ValueError(f"{name} must be finite and non-negative")
    return p


def optimal_discriminator(p_data, p_g) -> np.ndarray:
    """D*(x) = p_data(x) / (p_data(x) + p_g(x)), pointwise.

    Where both densities are zero every D is optimal; we return 1/2 there.
    """
    p_data, p_g = _check_density(p_data, "p_data"), _check_density(p_g, "p_g")
    total = p_data + p_g
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, p_data / np.where(total > 0, total, 1.0), 0.5)


def _xlogy(p, y) -> np.ndarray:
    """p * log(y) with 0 * log(anything) = 0."""
    p, y = np.asarray(p, dtype=float), np.asarray(y, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p > 0, p * np.log(np.where(p > 0, y, 1.0)), 0.0)


def value_function(d, p_data, p_g, x) -> float:
    """V(D, G) = ∫ p_data(x) log D(x) + p_g(x) log(1 - D(x)) dx on the grid ``x``.

    ``d`` holds D(x) in [0, 1] on the grid. Returns ``-inf`` when D puts probability 0 on
    real data (or 1 on generated data) where that data has mass.
    """
    d = np.asarray(d, dtype=float)
    if np.any((d < 0) | (d > 1)):
        raise ValueError("D(x) must be a probability in [0, 1]; pass sigmoid(logits), not logits")
    integrand = _xlogy(p_data, d) + _xlogy(p_g, 1.0 - d)
    return integrate(integrand, x)


def value_at_optimum(p_data, p_g, x) -> float:
    """C(G) = V(D*, G): the value once the discriminator is optimal for this generator.

    Computed as ∫ p_data log(p_data / (p_data + p_g)) + p_g log(p_g / (p_data + p_g)) with
    logarithms of the densities, so that a tail where D* underflows to 0 stays finite.
    """
    p_data, p_g = _check_density(p_data, "p_data"), _check_density(p_g, "p_g")
    total = p_data + p_g
    with np.errstate(divide="ignore", invalid="ignore"):
        log_total = np.log(np.where(total > 0, total, 1.0))
        term_d = np.where(p_data > 0, p_data * (np.log(np.where(p_data > 0, p_data, 1.0)) - log_total), 0.0)
        term_g = np.where(p_g > 0, p_g * (np.log(np.where(p_g > 0, p_g, 1.0)) - log_total), 0.0)
    return integrate(term_d + term_g, x)


def pointwise_objective(y, a: float, b: float):
    """a log y + b log(1 - y): the integrand of V at one point, a = p_data(x), b = p_g(x)."""
    y = np.asarray(y, dtype=float)
    return _xlogy(a, y) + _xlogy(b, 1.0 - y)


def value_from_logits(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Monte Carlo V from logits, stably: log σ(l) = -softplus(-l), log(1 - σ(l)) = -softplus(l)."""
    return -F.softplus(-real_logits).mean() - F.softplus(fake_logits).mean()


# ---------------------------------------------------------------------------------------
# Divergences (Chapter 3) and loss gradients (Chapter 2)
# ---------------------------------------------------------------------------------------


def _pair(p, q):
    p, q = _check_density(p, "p"), _check_density(q, "q")
    if p.shape != q.shape:
        raise ValueError(f"p and q differ in shape: {p.shape} vs {q.shape}")
    return p, q


def kl_divergence(p, q, x=None) -> float:
    """KL(p || q) = ∫ p log(p / q): a sum for discrete distributions (``x`` None), an integral
    on the grid ``x`` for densities. Infinite when p has mass where q has none.
    """
    p, q = _pair(p, q)
    with np.errstate(divide="ignore", invalid="ignore"):
        if np.any((p > 0) & (q == 0)):
            return math.inf
        terms = np.where(p > 0, p * (np.log(np.where(p > 0, p, 1.0)) - np.log(np.where(q > 0, q, 1.0))), 0.0)
    return float(terms.sum()) if x is None else integrate(terms, x)


def js_divergence(p, q, x=None) -> float:
    """JSD(p || q) = ½ KL(p || m) + ½ KL(q || m) with m = (p + q) / 2, in nats (0 <= JSD <= log 2)."""
    p, q = _pair(p, q)
    m = (p + q) / 2
    # m >= max(p, q) / 2 > 0 wherever p or q is positive, but halving the smallest subnormal
    # densities (far tails on a wide grid) rounds to 0, which would make a KL term infinite
    m = np.where((m == 0) & ((p > 0) | (q > 0)), np.finfo(float).smallest_subnormal, m)
    return 0.5 * kl_divergence(p, m, x) + 0.5 * kl_divergence(q, m, x)


def c_of_g(p_data, p_g, x=None) -> float:
    """C(G) = V(D*, G), for densities on the grid ``x`` or for discrete distributions (``x`` None)."""
    if x is not None:
        return value_at_optimum(p_data, p_g, x)
    p_data, p_g = _pair(p_data, p_g)
    d = optimal_discriminator(p_data, p_g)
    return float(np.sum(_xlogy(p_data, d) + _xlogy(p_g, 1.0 - d)))


def generator_loss_gradients(d_fake) -> dict:
    """Derivatives of both generator losses with respect to the discriminator's logit l,
    as functions of D(G(z)) = σ(l):

    * minimax, log(1 - σ(l)):       d/dl = -σ(l)      = -D      (vanishes as D -> 0)
    * non-saturating, -log σ(l):    d/dl = -(1 - σ(l)) = D - 1  (tends to -1 as D -> 0)
    """
    d = np.asarray(d_fake, dtype=float)
    return {"minimax": -d, "nonsaturating": d - 1.0}


def wasserstein_1d(p, q, x, density: bool = True) -> float:
    """Wasserstein-1 (earth mover's) distance in 1-D: W1 = ∫ |F_p(t) - F_q(t)| dt (Chapter 3).

    ``x``: sorted points. ``density=True``: ``p`` and ``q`` are densities on the grid ``x``
    (cumulative distribution functions by the trapezoidal rule); ``density=False``: they
    are probability masses at the points ``x`` (exact for discrete distributions). Unlike
    the JSD it keeps growing with the distance between distributions that do not overlap:
    for a point mass at 0 and one at θ, W1 = |θ|.
    """
    p, q = _pair(p, q)
    x = np.asarray(x, dtype=float)
    if x.shape != p.shape or x.ndim != 1:
        raise ValueError(f"x must be 1-D with the shape of p and q, got {x.shape} and {p.shape}")
    if np.any(np.diff(x) <= 0):
        raise ValueError("the points x must be strictly increasing")
    if density:
        steps = np.diff(x) / 2.0
        cdf_p = np.concatenate([[0.0], np.cumsum((p[1:] + p[:-1]) * steps)])
        cdf_q = np.concatenate([[0.0], np.cumsum((q[1:] + q[:-1]) * steps)])
        return integrate(np.abs(cdf_p - cdf_q), x)
    return float(np.sum(np.abs(np.cumsum(p) - np.cumsum(q))[:-1] * np.diff(x)))


# ---------------------------------------------------------------------------------------
# Chapter 2: the generator's objectives at the optimal discriminator, C(G) from samples
# ---------------------------------------------------------------------------------------


def generator_objectives_at_optimum(p_data, p_g, x) -> dict:
    """Both generator losses evaluated against the optimal discriminator D*, on the grid ``x``:

    * minimax, E_{p_g}[log(1 - D*)]  = KL(p_g || m) - log 2 >= -log 2, with m = (p_data + p_g) / 2;
    * non-saturating, E_{p_g}[-log D*] >= log 2 + KL(p_g || p_data) / 2 >= log 2;

    both with equality exactly when p_g = p_data (Chapter 2). Computed from logarithms of
    the densities, so that tails where D* rounds to 0 or 1 stay finite. The non-saturating
    value is infinite when p_g has mass where p_data has none.
    """
    p_data, p_g = _check_density(p_data, "p_data"), _check_density(p_g, "p_g")
    total = p_data + p_g
    with np.errstate(divide="ignore", invalid="ignore"):
        log_total = np.log(np.where(total > 0, total, 1.0))
        log_g = np.log(np.where(p_g > 0, p_g, 1.0))
        log_d = np.where(p_data > 0, np.log(np.where(p_data > 0, p_data, 1.0)), -np.inf)
        minimax = np.where(p_g > 0, p_g * (log_g - log_total), 0.0)
        if np.any((p_g > 0) & (p_data == 0)):
            nonsat = math.inf
        else:
            nonsat = integrate(np.where(p_g > 0, p_g * (log_total - log_d), 0.0), x)
    return {"minimax": integrate(minimax, x), "nonsaturating": nonsat}


def c_of_samples(samples, p_data, lo: float = -10.0, hi: float = 10.0, n_bins: int = 400) -> float:
    """Estimate C(G) = V(D*, G) from generator samples, with p_g a histogram (Chapters 1-2).

    ``samples``: 1-D array or tensor of generated points; ``p_data``: an object with
    ``pdf(x)`` such as :class:`Mixture1D`. The histogram has ``n_bins`` bins on [lo, hi];
    samples outside that range count as mass where p_data is negligible, which contributes
    0 to C(G) (D* = 0 there). Ranges from -log 4 (p_g = p_data; a finite sample gives a
    little more) to 0 (no overlap).
    """
    s = samples.detach().cpu().double().numpy() if torch.is_tensor(samples) else np.asarray(samples, float)
    s = s.reshape(-1)
    if s.size == 0 or not np.all(np.isfinite(s)):
        raise ValueError("samples must be a non-empty array of finite numbers")
    if not hi > lo or n_bins < 1:
        raise ValueError(f"need hi > lo and n_bins >= 1, got lo={lo}, hi={hi}, n_bins={n_bins}")
    edges = np.linspace(lo, hi, n_bins + 1)
    centres = (edges[1:] + edges[:-1]) / 2
    counts, _ = np.histogram(s, bins=edges)
    p_hat = counts / (s.size * np.diff(edges))
    return value_at_optimum(p_data.pdf(centres), p_hat, centres)


# ---------------------------------------------------------------------------------------
# Least squares GAN (Chapter 6)
# ---------------------------------------------------------------------------------------


def ls_optimal_discriminator(p_data, p_g, a: float = 0.0, b: float = 1.0) -> np.ndarray:
    """The least-squares discriminator's optimum D*(x) = (b p_data + a p_g) / (p_data + p_g).

    Where both densities are zero any value is optimal; we return (a + b) / 2 there.
    """
    p_data, p_g = _check_density(p_data, "p_data"), _check_density(p_g, "p_g")
    total = p_data + p_g
    safe = np.where(total > 0, total, 1.0)
    return np.where(total > 0, (b * p_data + a * p_g) / safe, (a + b) / 2)


def ls_generator_objective(p_data, p_g, x, a: float = 0.0, b: float = 1.0, c: float = 1.0) -> float:
    """The generator's least-squares objective at the optimal discriminator, extended as in
    Mao et al. (2017) by the term ½ E_data[(D*(x) - c)²], which does not depend on G:

    C(G) = ½ ∫ p_data (D* - c)² + p_g (D* - c)² dx.
    """
    d = ls_optimal_discriminator(p_data, p_g, a, b)
    return 0.5 * integrate((np.asarray(p_data) + np.asarray(p_g)) * (d - c) ** 2, x)


def pearson_chi2(p, q, x) -> float:
    """Pearson chi-square divergence χ²(p || q) = ∫ (p - q)² / q dx on the grid ``x``; terms
    where q = 0 contribute nothing when p = 0 there, and make it infinite otherwise.

    With this convention the LSGAN identity (b - c = 1, b - a = 2) reads
    2 C(G) = χ²(2 p_g || p_data + p_g); Mao et al. write the same integral with the arguments
    in the other order, following the convention ∫ (q - p)² / p.
    """
    p, q = _pair(p, q)
    if np.any((q == 0) & (p > 0)):
        return math.inf
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(q > 0, (p - q) ** 2 / np.where(q > 0, q, 1.0), 0.0)
    return integrate(terms, x)
