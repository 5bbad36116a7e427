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

    def _log_components(self, x) -> np.ndarray:
        """log(w_k N(x; mu_k, s_k^2)) for every component: shape (K, *x.shape)."""
        x = np.asarray(x, dtype=float)
        return np.stack([
            (math.log(w) if w > 0 else -math.inf) - 0.5 * ((x - m) / s) ** 2
            - math.log(s * math.sqrt(2 * math.pi))
            for m, s, w in zip(self.means, self.stds, self.weights)
        ])

    def log_pdf(self, x) -> np.ndarray:
        """log p(x), computed with log-sum-exp: finite far in the tails, where ``pdf`` is 0."""
        logs = self._log_components(x)
        top = logs.max(axis=0)
        return top + np.log(np.exp(logs - top).sum(axis=0))

    def score(self, x) -> np.ndarray:
        """d/dx log p(x), the slope of the log-density (each component weighted by its
        responsibility at x; stable in the tails)."""
        x = np.asarray(x, dtype=float)
        logs = self._log_components(x)
        resp = np.exp(logs - logs.max(axis=0))
        resp /= resp.sum(axis=0)
        slopes = np.stack([-(x - m) / s ** 2 for m, s in zip(self.means, self.stds)])
        return (resp * slopes).sum(axis=0)

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
    """Derivatives of the three generator losses of Chapter 2 with respect to the
    discriminator's logit l, as functions of D(G(z)) = σ(l):

    * minimax, log(1 - σ(l)):       d/dl = -σ(l)      = -D      (vanishes as D -> 0)
    * non-saturating, -log σ(l):    d/dl = -(1 - σ(l)) = D - 1  (tends to -1 as D -> 0)
    * maximum likelihood, -exp(l) = -D / (1 - D) (Goodfellow's 2016 tutorial, without its
      factor 1/2):                  d/dl = -exp(l)    = -D / (1 - D)  (vanishes as D -> 0,
      grows without bound as D -> 1)
    """
    d = np.asarray(d_fake, dtype=float)
    with np.errstate(divide="ignore"):
        ml = -d / (1.0 - d)
    return {"minimax": -d, "nonsaturating": d - 1.0, "maximum_likelihood": ml}


def generator_loss_maximum_likelihood(fake_logits: torch.Tensor) -> torch.Tensor:
    """The maximum-likelihood generator cost of Goodfellow's 2016 tutorial, from logits (Chapter 2):
    L_G = -E_z[exp(l)] = -E_z[D(G(z)) / (1 - D(G(z)))], l the logit of D(G(z)), shape (B,).

    Against the optimal discriminator exp(l) = p_data / p_g, and the gradient of this cost
    (D held fixed) is the gradient of KL(p_data || p_g): maximum likelihood. The tutorial
    writes it with a factor 1/2, as all its costs; the book's losses have none.
    """
    if fake_logits.ndim != 1 or fake_logits.numel() == 0:
        raise ValueError(f"expected a non-empty batch of logits of shape (B,), got {tuple(fake_logits.shape)}")
    return -torch.exp(fake_logits).mean()


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


def generator_gradients_at_optimum(p_data: "Mixture1D", p_g: "Mixture1D", x) -> dict:
    """What each generator loss of Chapter 2 asks of the generator when D = D* is frozen.

    The generator is moved by θ, G_θ(z) = G(z) + θ (so p_g is moved by θ), and the function
    returns d(loss)/dθ at θ = 0 for the minimax, non-saturating and maximum-likelihood losses,
    by numerical integration on the grid ``x``. With l(x) = log p_data(x) - log p_g(x) the
    logit of D* and L'(l) a loss's derivative with respect to the logit
    (:func:`generator_loss_gradients`),

        d/dθ E_{x ~ p_g}[L(l(x))] = E_{x ~ p_g}[L'(l(x)) · l'(x)],  l' = score_data - score_g,

    computed from log-densities, so that tails where D* rounds to 0 or 1 stay finite.
    Against D* these are the gradients of divergences: 2 JSD(p_data || p_g) (minimax),
    KL(p_g || p_data) - 2 JSD (non-saturating, Arjovsky and Bottou 2017) and
    KL(p_data || p_g) (maximum likelihood, Goodfellow 2016).
    """
    x = np.asarray(x, dtype=float)
    log_d, log_g = p_data.log_pdf(x), p_g.log_pdf(x)
    logit = log_d - log_g
    slope = p_data.score(x) - p_g.score(x)          # dl/dx
    log_sig = -np.logaddexp(0.0, -logit)             # log σ(l)
    log_one_minus = -np.logaddexp(0.0, logit)        # log(1 - σ(l))
    # p_g · L'(l) for each loss, from logarithms: -p_g σ(l), -p_g (1 - σ(l)), -p_g e^l = -p_data
    weighted = {"minimax": -np.exp(log_g + log_sig),
                "nonsaturating": -np.exp(log_g + log_one_minus),
                "maximum_likelihood": -np.exp(log_d)}
    return {name: integrate(w * slope, x) for name, w in weighted.items()}


# ---------------------------------------------------------------------------------------
# Chapter 1: does gradient play converge? Goodfellow's Proposition 2 and two small games
# ---------------------------------------------------------------------------------------


def functional_descent(p_data, p_g, steps: int = 20, lr: float = 0.5, x=None) -> tuple[np.ndarray, np.ndarray]:
    """Proposition 2 of Goodfellow et al. (2014), computed: move p_g itself, not a network's
    parameters, against the optimal discriminator (Chapter 1).

    C(p_g) = max_D V(D, p_g) is a maximum of functions that are linear in p_g, hence convex,
    and at p_g its gradient is the gradient of V at D*: the function x -> log(1 - D*(x)).
    Each step is an exponentiated-gradient (mirror-descent) step on the probability simplex,

        p_g <- p_g · exp(-lr · log(1 - D*)) / normaliser = p_g^(1 - lr) (p_data + p_g)^lr / normaliser,

    which keeps p_g non-negative and normalised; lr = 1 gives (p_data + p_g) / 2 exactly.
    ``p_data``, ``p_g``: probability vectors (``x`` None) or densities on the grid ``x``;
    p_g must be positive wherever p_data is (a multiplicative step cannot create mass).
    Returns (C at steps 0..steps, the final p_g).
    """
    p_data, p_g = _pair(p_data, p_g)
    if steps < 0 or not lr > 0:
        raise ValueError(f"need steps >= 0 and lr > 0, got steps={steps}, lr={lr}")
    if np.any((p_data > 0) & (p_g == 0)):
        raise ValueError("p_g is 0 where p_data has mass: a multiplicative step can never put mass there")

    def total(values):
        return float(values.sum()) if x is None else integrate(values, x)

    p_g = p_g / total(p_g)
    values = [c_of_g(p_data, p_g, x)]
    for _ in range(steps):
        with np.errstate(divide="ignore"):
            log_new = np.where(p_g > 0, (1 - lr) * np.log(np.where(p_g > 0, p_g, 1.0))
                               + lr * np.log(p_data + p_g), -np.inf)
        new = np.exp(log_new - log_new.max())
        p_g = new / total(new)
        values.append(c_of_g(p_data, p_g, x))
    return np.array(values), p_g


_PLAY_MODES = ("simultaneous", "alternating", "continuous")


def _play(field, start, lr: float, steps: int, mode: str, substeps: int = 50) -> np.ndarray:
    """Gradient play of a two-player game: ``field(u, v) -> (du, dv)`` is the direction each
    player moves in (minus the gradient of its own loss). Returns the (steps + 1, 2) path."""
    if mode not in _PLAY_MODES:
        raise ValueError(f"mode must be one of {_PLAY_MODES}, got {mode!r}")
    if steps < 0 or not lr > 0:
        raise ValueError(f"need steps >= 0 and lr > 0, got steps={steps}, lr={lr}")
    u, v = map(float, start)
    path = [(u, v)]
    for _ in range(steps):
        if mode == "simultaneous":            # both players step from the same point
            du, dv = field(u, v)
            u, v = u + lr * du, v + lr * dv
        elif mode == "alternating":           # the first player steps, the second sees its move
            u = u + lr * field(u, v)[0]
            v = v + lr * field(u, v)[1]
        else:                                 # the gradient flow for a time lr (Runge-Kutta 4)
            h = lr / substeps
            for _ in range(substeps):
                k1 = field(u, v)
                k2 = field(u + h / 2 * k1[0], v + h / 2 * k1[1])
                k3 = field(u + h / 2 * k2[0], v + h / 2 * k2[1])
                k4 = field(u + h * k3[0], v + h * k3[1])
                u += h / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0])
                v += h / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1])
        path.append((u, v))
    return np.array(path)


def xy_game(x0: float = 1.0, y0: float = 0.0, lr: float = 0.1, steps: int = 100,
            mode: str = "simultaneous") -> np.ndarray:
    """Gradient play on V(x, y) = x y, where x minimises and y maximises (Chapter 1).

    The only equilibrium is (0, 0). ``mode``: "simultaneous" (x' = x - lr y, y' = y + lr x:
    the distance to (0, 0) grows by sqrt(1 + lr^2) every step), "alternating" (y sees the
    new x: the path stays on an ellipse for lr < 2) or "continuous" (the gradient flow,
    sampled every lr time units: a circle). Returns the path, shape (steps + 1, 2), columns x, y.
    """
    return _play(lambda x, y: (-y, x), (x0, y0), lr, steps, mode)


def dirac_gan(theta0: float = 1.0, psi0: float = 0.0, lr: float = 0.1, steps: int = 100,
              mode: str = "simultaneous", loss: str = "minimax") -> np.ndarray:
    """The Dirac GAN of Mescheder et al. (2018): the smallest GAN that does not converge (Chapter 1).

    p_data = δ_0 (all data at 0), the generator puts all its mass at θ (p_g = δ_θ), the
    discriminator is D_ψ(x) = σ(ψ x). V(θ, ψ) = log σ(0) + log(1 - σ(ψ θ)) = -log 2 - softplus(ψ θ).
    D ascends V in ψ; G descends its loss in θ: V itself (``loss="minimax"``) or
    -log σ(ψ θ) (``"nonsaturating"``). The equilibrium is θ = ψ = 0 (p_g = p_data, D = 1/2).
    ``mode`` as in :func:`xy_game`. Returns the path, shape (steps + 1, 2), columns θ, ψ.
    """
    if loss not in ("minimax", "nonsaturating"):
        raise ValueError(f"loss must be 'minimax' or 'nonsaturating', got {loss!r}")

    def sigmoid(t):
        return 0.5 * (1.0 + math.tanh(t / 2))      # no overflow for large |t|

    def field(theta, psi):
        s = sigmoid(psi * theta)
        d_theta = s * psi if loss == "minimax" else (1.0 - s) * psi   # -d(loss_G)/dθ
        d_psi = -s * theta                                            # +dV/dψ
        return d_theta, d_psi

    return _play(field, (theta0, psi0), lr, steps, mode)


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


# ---------------------------------------------------------------------------------------
# Chapter 11: the parallel lines, power iteration and the Dirac-GAN
# ---------------------------------------------------------------------------------------


def parallel_lines(n: int, theta: float, *, rng: torch.Generator | None = None):
    """Samples of Arjovsky et al.'s parallel lines: (0, z) and (θ, z), z ~ U[0, 1].

    Returns ``(real, fake)``, two (n, 2) float32 tensors with independent z. The two
    distributions have disjoint supports for θ ≠ 0: JSD = log 2 and W1 = |θ|.
    """
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    z = torch.rand(2, n, generator=rng)
    real = torch.stack([torch.zeros(n), z[0]], dim=1)
    fake = torch.stack([torch.full((n,), float(theta)), z[1]], dim=1)
    return real, fake


def parallel_lines_distances(theta: float) -> dict:
    """Exact distances between the parallel lines at 0 and θ (Arjovsky et al., 2017)."""
    apart = theta != 0
    return {"W1": abs(float(theta)), "JSD": math.log(2) if apart else 0.0,
            "KL": math.inf if apart else 0.0, "TV": 1.0 if apart else 0.0}


def power_iteration(W: torch.Tensor, *, iterations: int = 1, u: torch.Tensor | None = None,
                    rng: torch.Generator | None = None):
    """Estimate the largest singular value of W by power iteration (Miyato et al., 2018).

    ``W``: (m, ...) is read as the matrix (m, n) of its first dimension against the rest
    (a convolution's weight (out, in, k, k) as (out, in·k·k), as spectral normalisation
    does). Each iteration: v = Wᵀu / ||Wᵀu||, u = Wv / ||Wv||; then σ = uᵀ W v.
    ``u``: the starting left vector (m,), else a random unit vector drawn with ``rng``.
    Returns ``(sigma, u, v)``: a 0-d tensor and the two unit vectors, detached.
    """
    if W.ndim < 2:
        raise ValueError(f"W must have at least 2 dimensions, got {tuple(W.shape)}")
    if iterations < 1:
        raise ValueError(f"iterations must be >= 1, got {iterations}")
    mat = W.detach().reshape(W.shape[0], -1)
    if u is None:
        u = torch.randn(mat.shape[0], generator=rng, dtype=mat.dtype).to(mat.device)
    if u.shape != (mat.shape[0],):
        raise ValueError(f"u must have shape ({mat.shape[0]},), got {tuple(u.shape)}")
    u = F.normalize(u.detach(), dim=0)
    for _ in range(iterations):
        v = F.normalize(mat.T @ u, dim=0)       # (n,)
        u = F.normalize(mat @ v, dim=0)         # (m,)
    return u @ mat @ v, u, v


DIRAC_GAMES = ("gan", "nsgan", "wgan", "wgan_gp")


def _check_dirac_game(game: str) -> None:
    if game not in DIRAC_GAMES:
        raise ValueError(f"unknown Dirac-GAN game {game!r}; accepted: {', '.join(DIRAC_GAMES)}")


def dirac_losses(theta, psi, game: str = "gan", *, gamma: float = 0.0,
                 gp_weight: float = 10.0):
    """The two players' losses in the Dirac-GAN of Mescheder et al. (2018), Chapter 11.

    Data: a point mass at 0; generator: a point mass at θ; discriminator D(x) = ψ x.
    Returns ``(loss_d, loss_g)``, both to be minimised, as the package's losses write them
    on the logits ψ·0 (real) and ψθ (generated): ``gan`` (D's cross-entropy, minimax G),
    ``nsgan`` (non-saturating G), ``wgan`` (critic E[D(G(z))] - E[D(x)]) and ``wgan_gp``
    (plus gp_weight (|ψ| - 1)², since ∇ₓD = ψ at every interpolate). ``gamma`` > 0 adds the
    R1 regulariser γ/2 ψ² (∇ₓD = ψ at the data) to D's loss. Works on floats, NumPy
    arrays and tensors alike (tensors keep their graph).
    """
    _check_dirac_game(game)
    t = torch.as_tensor(theta, dtype=torch.float64)
    p = torch.as_tensor(psi, dtype=torch.float64)
    fake_logit = p * t
    if game in ("gan", "nsgan"):
        loss_d = F.softplus(torch.zeros_like(fake_logit)) + F.softplus(fake_logit)
        loss_g = -F.softplus(fake_logit) if game == "gan" else F.softplus(-fake_logit)
    else:
        loss_d = fake_logit - p * 0.0
        loss_g = -fake_logit
        if game == "wgan_gp":
            loss_d = loss_d + gp_weight * (p.abs() - 1.0) ** 2
    if gamma:
        loss_d = loss_d + gamma / 2 * p ** 2
    return loss_d, loss_g


def dirac_vector_field(theta, psi, game: str = "gan", *, gamma: float = 0.0,
                       gp_weight: float = 10.0) -> np.ndarray:
    """The gradient vector field v(θ, ψ) = (-∂L_G/∂θ, -∂L_D/∂ψ) of the Dirac-GAN, derived by
    hand (Chapter 11): gradient descent of both players moves (θ, ψ) by lr · v.

    With σ the logistic function and ℓ = ψθ:

    * gan:     v = ( ψ σ(ℓ),   -θ σ(ℓ) - γψ)
    * nsgan:   v = ( ψ σ(-ℓ),  -θ σ(ℓ) - γψ)
    * wgan:    v = ( ψ,        -θ - γψ)
    * wgan_gp: v = ( ψ,        -θ - 2 λ (|ψ| - 1) sign(ψ) - γψ), with sign(0) = 0.

    ``theta``, ``psi``: floats or NumPy arrays of the same shape; returns an array of
    shape (2, ...) (the field on a grid, for a quiver plot).
    """
    _check_dirac_game(game)
    theta, psi = np.asarray(theta, dtype=float), np.asarray(psi, dtype=float)
    logit = psi * theta
    sig = 1.0 / (1.0 + np.exp(-logit))
    if game == "gan":
        d_theta, d_psi = psi * sig, -theta * sig
    elif game == "nsgan":
        d_theta, d_psi = psi * (1.0 - sig), -theta * sig
    else:
        d_theta, d_psi = psi, -theta
        if game == "wgan_gp":
            d_psi = d_psi - 2 * gp_weight * (np.abs(psi) - 1.0) * np.sign(psi)
    return np.stack([d_theta, d_psi - gamma * psi])


def dirac_jacobian(game: str = "gan", *, gamma: float = 0.0, gp_weight: float = 10.0,
                   point=(0.0, 0.0)) -> np.ndarray:
    """The Jacobian of the Dirac-GAN's vector field at ``point``, 2 x 2, by automatic
    differentiation of :func:`dirac_losses` (not of the hand-derived field).

    Raises a ValueError for WGAN-GP on the line ψ = 0, where its field jumps.
    """
    _check_dirac_game(game)
    if game == "wgan_gp" and point[1] == 0:
        raise ValueError("the WGAN-GP field has no Jacobian where ψ = 0: the penalty's "
                         "gradient jumps from -2λ to +2λ as ψ crosses 0")

    def field(x):                       # x = (θ, ψ) -> v(θ, ψ) = (-∂L_G/∂θ, -∂L_D/∂ψ)
        theta, psi = x[0], x[1]
        loss_d, loss_g = dirac_losses(theta, psi, game, gamma=gamma, gp_weight=gp_weight)
        (g_theta,) = torch.autograd.grad(loss_g, theta, create_graph=True)
        (d_psi,) = torch.autograd.grad(loss_d, psi, create_graph=True)
        return torch.stack([-g_theta, -d_psi])

    x0 = torch.tensor(point, dtype=torch.float64)
    return torch.autograd.functional.jacobian(field, x0).detach().numpy()


def dirac_jacobian_analytic(game: str = "gan", *, gamma: float = 0.0) -> np.ndarray:
    """The Jacobian at the equilibrium (0, 0), from the formulas of Mescheder et al. (2018).

    J = [[0, f'(0)], [-f'(0), -γ]] with f'(0) = 1/2 for the cross-entropy games and 1 for
    WGAN, so the eigenvalues are (-γ ± sqrt(γ² - 4 f'(0)²)) / 2: ±i f'(0) without R1.
    WGAN-GP has none: its field is discontinuous at ψ = 0 (a ValueError says so).
    """
    _check_dirac_game(game)
    if game == "wgan_gp":
        raise ValueError("the WGAN-GP field has no Jacobian at (0, 0): the penalty's "
                         "gradient jumps from -2λ to +2λ as ψ crosses 0")
    a = 0.5 if game in ("gan", "nsgan") else 1.0
    return np.array([[0.0, a], [-a, -float(gamma)]])


def dirac_trajectory(game: str = "gan", *, start=(1.0, 1.0), steps: int = 1000,
                     lr: float = 0.1, lr_d: float | None = None,
                     mode: str = "simultaneous", n_critic: int = 1, gamma: float = 0.0,
                     gp_weight: float = 10.0, clip: float | None = None) -> np.ndarray:
    """Gradient steps of both players in the Dirac-GAN; returns the (steps + 1, 2) path of
    (θ, ψ) (Chapter 11).

    ``mode``: ``simultaneous`` (both players step from the same point) or ``alternating``
    (``n_critic`` D steps, then one G step that sees the new ψ). ``lr`` is G's learning
    rate and ``lr_d`` D's (default: the same; a different one is the two time-scale
    update rule). ``clip``: WGAN's weight clipping of ψ to [-clip, clip] after D's steps.
    """
    _check_dirac_game(game)
    if mode not in ("simultaneous", "alternating"):
        raise ValueError(f"mode must be 'simultaneous' or 'alternating', got {mode!r}")
    if steps < 0 or n_critic < 1 or lr <= 0 or (lr_d is not None and lr_d <= 0):
        raise ValueError("need steps >= 0, n_critic >= 1 and positive learning rates")
    lr_d = lr if lr_d is None else lr_d
    opts = {"gamma": gamma, "gp_weight": gp_weight}
    theta, psi = float(start[0]), float(start[1])
    path = np.empty((steps + 1, 2))
    path[0] = theta, psi
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(1, steps + 1):
            if mode == "simultaneous":
                v = dirac_vector_field(theta, psi, game, **opts)
                theta, psi = theta + lr * v[0], psi + lr_d * v[1]
                if clip is not None:
                    psi = min(max(psi, -clip), clip)
            else:
                for _ in range(n_critic):
                    psi = psi + lr_d * dirac_vector_field(theta, psi, game, **opts)[1]
                    if clip is not None:
                        psi = min(max(psi, -clip), clip)
                theta = theta + lr * dirac_vector_field(theta, psi, game, **opts)[0]
            path[k] = theta, psi
    return path
