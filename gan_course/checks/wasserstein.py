"""Checks for Chapter 11, Wasserstein GANs: the parallel lines, the gradient penalty, one
step of power iteration and the Jacobian of the Dirac-GAN."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from ._common import _describe, CheckResult, _as_array, _as_float, _call, _close, _fail, _matching_mistake

__all__ = [
    "check_parallel_lines",
    "check_gradient_penalty",
    "check_power_iteration_step",
    "check_dirac_jacobian",
]


# ------------------------------------------------------------------ the parallel lines

def check_parallel_lines(w1: Callable, jsd: Callable) -> CheckResult:
    """Check ``w1(theta)`` and ``jsd(theta)``: the Wasserstein-1 distance and the
    Jensen-Shannon divergence (in nats) between the lines (0, z) and (θ, z), z ~ U[0, 1]."""
    name = "parallel_lines"
    thetas = (-2.0, -0.5, 0.0, 0.1, 0.5, 1.0, 3.0)
    for theta in thetas:
        out, err = _call(name, w1, theta)
        if err is not None:
            return err
        got = _as_float(out)
        if got is None:
            return _fail(name, f"w1({theta}) must return a single number; got {_describe(out)}.")
        want = abs(theta)
        if not _close(got, want):
            mistake = _matching_mistake(got, [
                (theta, "W1 is a distance: it cannot be negative. Moving all the mass by θ "
                        "costs |θ| whichever way it moves."),
                (theta ** 2, "each unit of mass moves by |θ|, so the cost is |θ|, not θ²."),
                (math.log(2) if theta else 0.0, "that is the JSD; W1 is the average "
                 "distance the mass travels."),
            ]) or f"w1({theta}) should be {want:.4f}, got {got:.4f}."
            return _fail(name, f"w1({theta}): {mistake}")
    for theta in thetas:
        out, err = _call(name, jsd, theta)
        if err is not None:
            return err
        got = _as_float(out)
        if got is None:
            return _fail(name, f"jsd({theta}) must return a single number; got {_describe(out)}.")
        want = math.log(2) if theta != 0 else 0.0
        if not _close(got, want):
            if theta == 0:
                return _fail(name, "jsd(0): at θ = 0 the two distributions are the same, so "
                             f"the JSD is 0, got {got:.4f}.")
            mistake = _matching_mistake(got, [
                (1.0, "that is log 2 in bits; the book measures divergences in nats "
                      "(natural logarithms): log 2 ≈ 0.6931."),
                (math.log(2) * min(abs(theta), 1.0), "that is Chapter 3's formula for two "
                 "overlapping intervals on one line; here the lines never overlap for θ ≠ 0."),
                (abs(theta), "that is W1; the JSD cannot exceed log 2."),
                (math.inf, "that is the KL divergence; the JSD of disjoint supports is finite."),
                (2 * math.log(2), "the JSD averages the two KL terms: ½ log 2 + ½ log 2."),
            ]) or f"should be log 2 ≈ {want:.4f}, got {got:.4f}."
            return _fail(name, f"jsd({theta}): {mistake}")
    return CheckResult(name, True, "W1 = |θ| for every θ, and the JSD is log 2 for every θ ≠ 0 "
                       "and 0 at θ = 0: only W1 tells how far apart the lines are.")


# ------------------------------------------------------------------ the gradient penalty

class _RecordingCritic(nn.Module):
    """D(x) = <w, x> + ||x||² / 4 per sample, so ∇ₓD = w + x / 2 depends on the point.

    Every input it receives is recorded, so that the check can see the interpolates.
    """

    def __init__(self, sample_shape, gen: torch.Generator):
        super().__init__()
        self.w = nn.Parameter(0.4 * torch.randn(sample_shape, generator=gen))
        self.inputs: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.inputs.append(x)
        flat = x.flatten(1)
        return flat @ self.w.flatten() + 0.25 * flat.pow(2).sum(1)    # (B,)


def _gp_variants(grad: torch.Tensor) -> list:
    """What typical mistakes compute from the interpolates' gradients ``grad`` (B, ...)."""
    per_sample = grad.flatten(1).norm(dim=1)
    out = [
        (((per_sample ** 2 - 1) ** 2).mean(), "you penalise the squared norm, (||g||² - 1)²; "
         "the penalty is (||g|| - 1)², with the norm itself (its square root)."),
        ((per_sample ** 2).mean(), "that is E||g||², a zero-centred penalty (R1's form); "
         "WGAN-GP centres it at 1: (||g|| - 1)²."),
        ((per_sample - 1).abs().mean(), "the difference ||g|| - 1 must be squared."),
        ((per_sample - 1).mean(), "the difference ||g|| - 1 must be squared."),
        ((torch.relu(per_sample - 1) ** 2).mean(), "that is the one-sided penalty "
         "max(0, ||g|| - 1)²; WGAN-GP's default penalises slopes below 1 as well."),
        (10 * ((per_sample - 1) ** 2).mean(), "return the penalty without λ: the caller "
         "multiplies it by λ = 10."),
        (((per_sample - 1) ** 2).sum(), "average over the batch (mean), do not sum."),
        ((grad.flatten(1).norm() - 1) ** 2, "you took one norm over the whole batch; take "
         "one norm per sample, over all of its other dimensions: "
         "grad.flatten(1).norm(2, dim=1)."),
    ]
    if grad.ndim == 4:
        out += [
            (((grad.norm(dim=(2, 3)) - 1) ** 2).mean(), "you took the norm per channel (over "
             "rows and columns only); the norm must run over channels, rows and columns "
             "together, one per sample: grad.flatten(1).norm(2, dim=1)."),
            (((grad.norm(dim=1) - 1) ** 2).mean(), "you took the norm over dimension 1 only: "
             "for images that is the channels of each pixel, a norm per pixel, not per "
             "sample. Flatten first: grad.flatten(1).norm(2, dim=1)."),
            (((grad.norm(dim=-1) - 1) ** 2).mean(), "you took the norm over the last "
             "dimension only (per row of each image); flatten each sample first: "
             "grad.flatten(1).norm(2, dim=1)."),
        ]
    return out


def _segment_coefficients(x_hat, real, fake):
    """t with x̂ = fake + t (real - fake) per sample (least squares), and the residual."""
    d = (real - fake).flatten(1)
    t = ((x_hat - fake).flatten(1) * d).sum(1) / d.pow(2).sum(1)
    residual = ((x_hat - fake).flatten(1) - t[:, None] * d).norm(dim=1) / d.norm(dim=1)
    return t, residual


def _check_gp_case(name, fn, shape, seed) -> CheckResult | None:
    gen = torch.Generator().manual_seed(seed)
    batch = shape[0]
    real = torch.randn(shape, generator=gen)
    fake = torch.randn(shape, generator=gen) + 0.5
    critic = _RecordingCritic(shape[1:], gen)
    out, err = _call(name, fn, critic, real.clone(), fake.clone(), torch.Generator().manual_seed(seed + 1))
    if err is not None:
        return err
    where = f"on a batch of shape {tuple(shape)}"
    if not torch.is_tensor(out):
        return _fail(name, f"{where}: return the penalty as a tensor (0-d), so that it can be "
                     f"added to the critic's loss and minimised; got {type(out).__name__}.")
    if out.numel() == batch and batch > 1:
        return _fail(name, f"{where}: you returned one value per sample; the penalty is their "
                     "mean, a single number.")
    if out.numel() != 1:
        return _fail(name, f"{where}: the penalty must be a single number, got shape "
                     f"{tuple(out.shape)}.")
    calls = [x for x in critic.inputs if x.shape == real.shape]
    if not calls:
        return _fail(name, f"{where}: your function never called the critic on a batch of "
                     f"that shape (it returned {_describe(out)}); it must evaluate D at the "
                     "interpolates x̂.")
    with_grad = [x for x in calls if x.requires_grad]
    if not with_grad:
        return _fail(name, f"{where}: the interpolates must require gradients "
                     "(x_hat.requires_grad_(True)) before the critic sees them, so that "
                     "torch.autograd.grad can differentiate D(x̂) with respect to x̂.")
    x_hat = with_grad[-1].detach()
    t, residual = _segment_coefficients(x_hat, real, fake)
    if (residual > 1e-4).any():
        per_element = ((x_hat - fake) / (real - fake))
        if bool(((per_element >= -1e-6) & (per_element <= 1 + 1e-6)).all()):
            return _fail(name, f"{where}: your interpolates mix real and generated values with "
                         "a different coefficient for every pixel or feature. Draw one ε per "
                         f"sample, shape {(batch,) + (1,) * (len(shape) - 1)}, so that each x̂ "
                         "lies on the segment between a real sample and its partner.")
        return _fail(name, f"{where}: your interpolates do not lie on the segments between each "
                     "real sample and the generated sample of the same index: "
                     "x̂ = ε x + (1 - ε) x̃, with x and x̃ at the same position in their batches.")
    if torch.allclose(t, torch.ones_like(t), atol=1e-5):
        return _fail(name, f"{where}: you evaluate the penalty on the real samples only; "
                     "WGAN-GP evaluates it on random points between real and generated "
                     "samples, x̂ = ε x + (1 - ε) x̃ with ε ~ U[0, 1].")
    if torch.allclose(t, torch.zeros_like(t), atol=1e-5):
        return _fail(name, f"{where}: you evaluate the penalty on the generated samples only; "
                     "WGAN-GP evaluates it on random points between real and generated "
                     "samples, x̂ = ε x + (1 - ε) x̃ with ε ~ U[0, 1].")
    if float(t.std()) < 1e-6:
        return _fail(name, f"{where}: all your interpolates use the same ε: you drew one "
                     "coefficient for the whole batch. Draw one per sample, shape "
                     f"{(batch,) + (1,) * (len(shape) - 1)}, so that the points spread over "
                     "the segments.")
    if bool((t < -1e-5).any() or (t > 1 + 1e-5).any()):
        return _fail(name, f"{where}: ε must lie in [0, 1] (torch.rand), so that x̂ lies "
                     "between the real and the generated sample, not beyond them.")
    # the reference penalty, on the learner's own interpolates
    x_ref = x_hat.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_ref).sum(), x_ref, create_graph=True)
    want = ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
    got = float(out.detach())
    if not _close(got, float(want.detach())):
        mistake = _matching_mistake(got, [(v.detach(), m) for v, m in _gp_variants(grad)])
        return _fail(name, f"{where}: " + (mistake or f"expected {float(want.detach()):.5f} on your "
                     f"interpolates, got {got:.5f}."))
    if not out.requires_grad:
        return _fail(name, f"{where}: the value is right, but it carries no gradient to the "
                     "critic's weights: pass create_graph=True to torch.autograd.grad, so that "
                     "the penalty on the gradient can itself be differentiated and minimised.")
    (got_dw,) = torch.autograd.grad(out, critic.w, allow_unused=True)
    (want_dw,) = torch.autograd.grad(want, critic.w)
    if got_dw is None or not torch.allclose(got_dw, want_dw, rtol=1e-4, atol=1e-6):
        return _fail(name, f"{where}: the value is right, but its gradient with respect to the "
                     "critic's weights is not: keep the graph of the input gradient "
                     "(create_graph=True) and do not detach it.")
    return None


def check_gradient_penalty(fn: Callable) -> CheckResult:
    """Check ``fn(critic, real, fake, rng)`` -> E[(||∇D(x̂)||₂ - 1)²] on random interpolates.

    The check's critic records what it is evaluated on, so the verdict does not depend on
    how ε is drawn. It catches: a norm over the wrong dimensions (per channel, per pixel,
    per batch), one ε for the whole batch or one per pixel, the penalty on real or
    generated samples only, a missing ``create_graph=True``, λ inside the function.
    """
    name = "gradient_penalty"
    for shape, seed in (((6, 3, 4, 4), 11), ((8, 2), 12), ((5, 1, 8, 8), 13)):
        verdict = _check_gp_case(name, fn, shape, seed)
        if verdict is not None:
            return verdict
    return CheckResult(name, True, "one ε per sample, the norm per sample over all its "
                       "dimensions, (||g|| - 1)² averaged over the batch, and a penalty that "
                       "the critic's weights can minimise (create_graph=True), on images and "
                       "on 2-D points.")


# ------------------------------------------------------------------ power iteration

_POWER_EXPECTED = "(u, v, sigma): u of shape (5,), v of shape (3,), sigma a single number, for W (5, 3)."


def check_power_iteration_step(fn: Callable) -> CheckResult:
    """Check ``fn(W, u) -> (u, v, sigma)``: one step of power iteration for W (m, n),
    v = Wᵀu / ||Wᵀu||, u = Wv / ||Wv||, sigma = uᵀ W v (with the new u)."""
    name = "power_iteration_step"
    gen = torch.Generator().manual_seed(5)
    W = torch.randn(5, 3, generator=gen, dtype=torch.float64)
    u0 = torch.randn(5, generator=gen, dtype=torch.float64)
    u0 = u0 / u0.norm()
    try:
        out = fn(W.clone(), u0.clone())
    except NotImplementedError:
        return _fail(name, "the function still raises NotImplementedError: replace it with your code. "
                     f"Expected: {_POWER_EXPECTED}")
    except RuntimeError as exc:
        if "shape" in str(exc) or "size" in str(exc):
            return _fail(name, "a shape mismatch with W of shape (5, 3) and u of shape (5,): "
                         "v = Wᵀu has 3 entries and u = Wv has 5 (W.T @ u, then W @ v).")
        raise          # the guard of every check names it and says what was expected
    if not isinstance(out, (tuple, list)) or len(out) != 3:
        return _fail(name, "return three things: the new u, v and the estimate sigma; "
                     f"got {_describe(out)}.")
    u, v, sigma = (_as_array(o) for o in out)
    if u is None or v is None or sigma is None or u.shape != (5,) or v.shape != (3,) or sigma.size != 1:
        return _fail(name, "return (u, v, sigma) with u of shape (5,), v of shape (3,) and "
                     "sigma a single number, for W of shape (5, 3).")
    Wn, u0n = W.numpy(), u0.numpy()
    v_want = Wn.T @ u0n
    v_want /= np.linalg.norm(v_want)
    u_want = Wn @ v_want
    u_want /= np.linalg.norm(u_want)
    sigma_want = float(u_want @ Wn @ v_want)
    if not np.allclose(v, v_want, atol=1e-6):
        if np.allclose(v, Wn.T @ u0n, atol=1e-6):
            return _fail(name, "v must be normalised: v = Wᵀu / ||Wᵀu||.")
        return _fail(name, "v differs from Wᵀu / ||Wᵀu|| (the step starts from the given u).")
    if not np.allclose(u, u_want, atol=1e-6):
        if np.allclose(u, Wn @ v_want, atol=1e-6):
            return _fail(name, "the new u must be normalised: u = Wv / ||Wv||.")
        return _fail(name, "the new u differs from Wv / ||Wv|| with the new v.")
    s = float(np.asarray(sigma).reshape(()))
    if not _close(s, sigma_want, 1e-6):
        mistake = _matching_mistake(s, [
            (float(u0n @ Wn @ v_want), "sigma must use the new u: sigma = u_newᵀ W v."),
            (float(np.linalg.norm(Wn @ v_want)) ** 2, "sigma is ||Wv||, not its square."),
            (float(np.linalg.norm(Wn)), "that is the Frobenius norm of W, not the power "
             "iteration's estimate uᵀ W v."),
        ]) or f"sigma should be {sigma_want:.6f}, got {s:.6f}."
        return _fail(name, mistake)
    # repeated steps must converge to the largest singular value
    M = torch.randn(16, 9, generator=gen, dtype=torch.float64)
    uk = torch.randn(16, generator=gen, dtype=torch.float64)
    uk = uk / uk.norm()
    for _ in range(200):
        out = fn(M.clone(), uk.clone())
        uk = torch.as_tensor(np.asarray(_as_array(out[0])), dtype=torch.float64)
    est = float(np.asarray(_as_array(out[2])).reshape(()))
    top = float(torch.linalg.matrix_norm(M, 2))
    if not abs(est - top) <= 1e-6 * top:
        return _fail(name, f"after 200 steps sigma = {est:.6f}, but the largest singular value "
                     f"is {top:.6f}: feed the returned u back in at each step.")
    return CheckResult(name, True, "one step matches v = Wᵀu/||Wᵀu||, u = Wv/||Wv||, "
                       "sigma = uᵀWv, and 200 steps reach the largest singular value "
                       "(torch.linalg.matrix_norm(W, 2)).")


# ------------------------------------------------------------------ the Dirac-GAN

def check_dirac_jacobian(fn: Callable) -> CheckResult:
    """Check ``fn(game, gamma)``: the 2 x 2 Jacobian at (θ, ψ) = (0, 0) of the Dirac-GAN's
    field v = (θ', ψ') = (-∂L_G/∂θ, -∂L_D/∂ψ), for game ``"gan"`` or ``"wgan"`` and R1
    weight ``gamma``: rows (θ', ψ'), columns (∂/∂θ, ∂/∂ψ)."""
    from ..theory import dirac_jacobian_analytic

    name = "dirac_jacobian"
    for game, gamma in (("gan", 0.7), ("wgan", 2.0), ("gan", 0.0), ("wgan", 0.0)):
        out, err = _call(name, fn, game, gamma)
        if err is not None:
            return err
        got = _as_array(out)
        if got is None or got.shape != (2, 2):
            return _fail(name, f"{game}, γ = {gamma}: return a 2 x 2 array, rows (θ', ψ'), "
                         f"columns (∂/∂θ, ∂/∂ψ); got {_describe(out)}.")
        want = dirac_jacobian_analytic(game, gamma=gamma)
        if np.allclose(got, want, atol=1e-6):
            continue
        where = f"{game}, γ = {gamma}:"
        a = want[0, 1]
        hints = [
            (want.T, "you have the transpose: row i holds the derivatives of the i-th "
                     "component of v, column j the derivative with respect to the j-th "
                     "parameter (θ, then ψ)."),
            (-want, "every sign is flipped: v points along the players' descent "
                    "directions, v = (-∂L_G/∂θ, -∂L_D/∂ψ)."),
            (np.array([[0, a], [-a, gamma]]), "the R1 term enters D's loss as +γ/2 ψ², so "
             "it contributes -γ to ∂ψ'/∂ψ."),
            (np.array([[0, a], [-a, 0]]), "the R1 term γ/2 ψ² in D's loss is missing: it "
             "adds -γ at ∂ψ'/∂ψ."),
            (np.array([[0, 1.0], [-1.0, -gamma]]), "for the cross-entropy game the slope at "
             "the equilibrium is σ(0) = 1/2, not 1."),
            (np.array([[0, 0.5], [-0.5, -gamma]]), "for WGAN the losses are linear in ψθ, so "
             "the slope is 1, not σ(0) = 1/2."),
            (np.array([[0, a / 2], [-a / 2, -gamma]]), "the entries are f'(0) itself, not "
             "f'(0) / 2."),
        ]
        for value, message in hints:
            if np.allclose(got, value, atol=1e-6):
                return _fail(name, f"{where} {message}")
        return _fail(name, f"{where} expected {want.tolist()}, got {np.round(got, 6).tolist()}.")
    return CheckResult(name, True, "J = [[0, f'(0)], [-f'(0), -γ]] with f'(0) = 1/2 (GAN) and "
                       "1 (WGAN): eigenvalues ±i f'(0) without R1, real parts -γ/2 with it.")
