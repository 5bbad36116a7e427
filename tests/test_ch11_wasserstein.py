"""Chapter 11: Wasserstein and hinge losses, the gradient and R1 penalties, the critic step,
power iteration, the Dirac-GAN, and the checks of the chapter's exercises."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from gan_course import checks, losses, theory, train

# ------------------------------------------------------------------ losses


def test_wasserstein_and_hinge_losses_hand_computed():
    real, fake = torch.tensor([2.0, 0.5, -1.0]), torch.tensor([-3.0, 1.5])
    # critic: E[D(G(z))] - E[D(x)] = (-1.5 / 2) - (1.5 / 3) = -0.75 - 0.5
    assert losses.critic_loss_wasserstein(real, fake).item() == pytest.approx(-1.25)
    assert losses.generator_loss_wasserstein(fake).item() == pytest.approx(0.75)
    # hinge: relu(1 - [2, 0.5, -1]) = [0, 0.5, 2] -> 2.5 / 3; relu(1 + [-3, 1.5]) = [0, 2.5] -> 1.25
    assert losses.discriminator_loss_hinge(real, fake).item() == pytest.approx(2.5 / 3 + 1.25)
    assert losses.generator_loss_hinge(fake).item() == pytest.approx(0.75)
    # the names reach the same functions (used by gan_step and wgan_step)
    assert losses.discriminator_loss_named("hinge") is losses.discriminator_loss_hinge
    assert losses.discriminator_loss_named("wasserstein") is losses.critic_loss_wasserstein
    assert losses.generator_loss("wasserstein") is losses.generator_loss_wasserstein
    with pytest.raises(ValueError, match="shape"):
        losses.critic_loss_wasserstein(real[:, None], fake)


def test_hinge_margin_gives_no_gradient_beyond_it():
    real = torch.tensor([1.5, 0.2], requires_grad=True)
    fake = torch.tensor([-2.0, -0.5], requires_grad=True)
    losses.discriminator_loss_hinge(real, fake).backward()
    # samples past the margin (real > 1, fake < -1) get no gradient; the others -1/B, +1/B
    assert real.grad.tolist() == [0.0, -0.5] and fake.grad.tolist() == [0.0, 0.5]


def _linear_critic(weight):
    """D(x) = <weight, x> per sample: its input gradient is `weight` everywhere."""
    return lambda x: x.flatten(1) @ weight.flatten()


def test_gradient_penalty_of_a_linear_critic():
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(3, 4, 4, generator=gen)
    real, fake = torch.randn(5, 3, 4, 4, generator=gen), torch.randn(5, 3, 4, 4, generator=gen)
    value = losses.gradient_penalty(_linear_critic(w), real, fake, rng=gen)
    assert value.item() == pytest.approx((w.norm().item() - 1) ** 2, rel=1e-5)
    unit = w / w.norm()
    assert losses.gradient_penalty(_linear_critic(unit), real, fake).item() == pytest.approx(0, abs=1e-10)


def _penalty_per_channel(D, real, fake, rng=None):
    """The reported bug: the gradient norm over rows and columns only (one per channel)."""
    x = losses.interpolates(real, fake, rng=rng).requires_grad_(True)
    (g,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    return ((g.norm(2, dim=(2, 3)) - 1) ** 2).mean()


def _penalty_over_dim1(D, real, fake, rng=None):
    """The other common bug on images: norm(2, dim=1) without flattening (per pixel)."""
    x = losses.interpolates(real, fake, rng=rng).requires_grad_(True)
    (g,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    return ((g.norm(2, dim=1) - 1) ** 2).mean()


def test_gradient_penalty_is_per_sample_and_differs_from_per_channel():
    # a critic whose gradient has unit norm per sample but not per channel or per pixel
    gen = torch.Generator().manual_seed(1)
    w = torch.randn(3, 4, 4, generator=gen)
    w = w / w.norm()
    D = _linear_critic(w)
    real, fake = torch.randn(4, 3, 4, 4, generator=gen), torch.randn(4, 3, 4, 4, generator=gen)
    assert losses.gradient_penalty(D, real, fake).item() == pytest.approx(0.0, abs=1e-10)
    per_channel = ((w.norm(dim=(1, 2)) - 1) ** 2).mean().item()
    assert _penalty_per_channel(D, real, fake).item() == pytest.approx(per_channel, rel=1e-5)
    assert per_channel > 0.1                              # the wrong norm is far from 0
    assert _penalty_over_dim1(D, real, fake).item() > 0.1


def test_gradient_penalty_draws_one_coefficient_per_sample_and_keeps_the_graph():
    real, fake = torch.zeros(200, 2), torch.ones(200, 2)
    x = losses.interpolates(real, fake, rng=torch.Generator().manual_seed(0))
    eps = 1 - x[:, 0]                                     # x̂ = ε·0 + (1 - ε)·1
    assert torch.equal(x[:, 0], x[:, 1])                  # one ε for both coordinates
    assert eps.min() >= 0 and eps.max() <= 1 and eps.std() > 0.2   # spread over [0, 1]
    lin = nn.Linear(2, 1)
    D = lambda t: lin(t).squeeze(1)                       # noqa: E731
    gp = losses.gradient_penalty(D, real, fake)
    gp.backward()                                         # create_graph=True: reaches the weights
    norm = lin.weight.norm().item()
    expected = 2 * (norm - 1) * lin.weight.detach() / norm
    assert torch.allclose(lin.weight.grad, expected, atol=1e-6)
    with pytest.raises(ValueError, match="same shape"):
        losses.gradient_penalty(D, real, fake[:5])


def test_r1_penalty_is_the_mean_squared_input_gradient():
    w = torch.tensor([[3.0, 4.0]])
    assert losses.r1_penalty(_linear_critic(w), torch.randn(7, 2)).item() == pytest.approx(25.0)
    quad = lambda x: 0.5 * (x ** 2).sum(1)                # noqa: E731  gradient x, |x|² per sample
    x = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    assert losses.r1_penalty(quad, x).item() == pytest.approx((1 + 4) / 2)


# ------------------------------------------------------------------ the critic step


class _Shift(nn.Module):
    def __init__(self):
        super().__init__()
        self.b = nn.Parameter(torch.tensor([3.0, 0.0]))

    def forward(self, z):
        return z * 0.1 + self.b


def _mlp_critic():
    return nn.Sequential(nn.Linear(2, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1), nn.Flatten(0))


def test_wgan_step_moves_the_generator_towards_the_data_and_reports_core_keys():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    G, D = _Shift(), _mlp_critic()
    opt_g = torch.optim.Adam(G.parameters(), 1e-2, betas=(0.0, 0.9))
    opt_d = torch.optim.Adam(D.parameters(), 1e-3, betas=(0.0, 0.9))
    data = torch.randn(512, 2, generator=gen) * 0.1
    batches = train.batches(data, 64, rng=gen)
    noise = lambda n: torch.randn(n, 2, generator=gen)   # noqa: E731
    hist = train.fit(lambda: train.wgan_step(G, D, opt_g, opt_d, batches, noise, rng=gen),
                     150, progress=False)
    assert set(hist.keys()) >= {"step", "loss_d", "loss_g", "d_real", "d_fake", "grad_norm_d",
                                "grad_norm_g", "loss_gp"}
    assert G.b.norm().item() < 2.0                        # started 3 away from the data
    # the critic's estimate d_real - d_fake is positive while the generator is away
    assert hist["d_real"][10] - hist["d_fake"][10] > 0


def test_wgan_step_clipping_r1_and_validation():
    gen = torch.Generator().manual_seed(1)
    G, D = _Shift(), _mlp_critic()
    opt_g, opt_d = torch.optim.RMSprop(G.parameters(), 5e-5), torch.optim.RMSprop(D.parameters(), 1e-2)
    batches = train.batches(torch.randn(256, 2, generator=gen), 32, rng=gen)
    noise = lambda n: torch.randn(n, 2, generator=gen)   # noqa: E731
    out = train.wgan_step(G, D, opt_g, opt_d, batches, noise, penalty=None, clip=0.01)
    assert "loss_gp" not in out
    assert max(p.abs().max().item() for p in D.parameters()) <= 0.01 + 1e-9
    out = train.wgan_step(G, D, opt_g, opt_d, batches, noise, d_loss="bce", g_loss="nonsaturating",
                          penalty="r1", n_critic=1, penalty_weight=1.0)
    assert 0 < out["d_real"].item() < 1 and out["loss_r1"].item() >= 0   # probabilities for bce
    for bad in (dict(n_critic=0), dict(penalty="l2"), dict(clip=-1.0), dict(penalty_weight=-1.0)):
        with pytest.raises(ValueError):
            train.wgan_step(G, D, opt_g, opt_d, batches, noise, **bad)


def test_hinge_game_runs_through_gan_step_with_raw_scores():
    gen = torch.Generator().manual_seed(2)
    G, D = _Shift(), _mlp_critic()
    opt_g, opt_d = torch.optim.Adam(G.parameters(), 1e-3), torch.optim.Adam(D.parameters(), 1e-3)
    batches = train.batches(torch.randn(256, 2, generator=gen), 32, rng=gen)
    out = train.gan_step(G, D, opt_g, opt_d, batches, lambda n: torch.randn(n, 2, generator=gen),
                         d_loss="hinge", g_loss="hinge")
    assert torch.isfinite(out["loss_d"]) and out["loss_d"].item() >= 0


# ------------------------------------------------------------------ theory


def test_parallel_lines_samples_and_distances():
    real, fake = theory.parallel_lines(1000, 2.5, rng=torch.Generator().manual_seed(0))
    assert torch.all(real[:, 0] == 0) and torch.all(fake[:, 0] == 2.5)
    assert 0 <= real[:, 1].min() and real[:, 1].max() <= 1
    assert theory.parallel_lines_distances(-2.5) == {"W1": 2.5, "JSD": math.log(2), "KL": math.inf, "TV": 1.0}
    assert theory.parallel_lines_distances(0.0)["JSD"] == 0.0


def test_power_iteration_matches_the_largest_singular_value_and_torch():
    gen = torch.Generator().manual_seed(0)
    W = torch.randn(64, 32, 4, 4, generator=gen)          # a conv weight, read as (64, 512)
    top = torch.linalg.matrix_norm(W.reshape(64, -1), 2).item()
    sigma, u, v = theory.power_iteration(W, iterations=200, rng=gen)
    assert sigma.item() == pytest.approx(top, rel=1e-3)
    assert u.norm().item() == pytest.approx(1.0) and v.shape == (512,)
    # one iteration from torch's left vector, written torch's way round, gives torch's sigma
    conv = nn.utils.parametrizations.spectral_norm(nn.Conv2d(32, 64, 4))
    sn = conv.parametrizations.weight[0]
    W0 = conv.parametrizations.weight.original.detach()
    v_t = sn._v.clone()
    conv.train()
    W_sn = conv.weight.detach()                           # one power-iteration step, then W / σ
    mat = W0.reshape(64, -1)
    u_new = torch.nn.functional.normalize(mat @ v_t, dim=0)
    v_new = torch.nn.functional.normalize(mat.T @ u_new, dim=0)
    assert torch.allclose(sn._u, u_new, atol=1e-5) and torch.allclose(sn._v, v_new, atol=1e-5)
    sigma_torch = (W0.norm() / W_sn.norm()).item()
    assert sigma_torch == pytest.approx((u_new @ mat @ v_new).item(), rel=1e-5)


def test_dirac_field_jacobian_and_eigenvalues():
    rng = np.random.default_rng(0)
    for game in theory.DIRAC_GAMES:
        theta, psi = rng.normal(size=2)
        J = theory.dirac_jacobian(game, gamma=0.3, point=(theta, psi))
        h = 1e-6
        fd = np.stack([
            (theory.dirac_vector_field(theta + h, psi, game, gamma=0.3)
             - theory.dirac_vector_field(theta - h, psi, game, gamma=0.3)) / (2 * h),
            (theory.dirac_vector_field(theta, psi + h, game, gamma=0.3)
             - theory.dirac_vector_field(theta, psi - h, game, gamma=0.3)) / (2 * h)], axis=1)
        assert np.allclose(J, fd, atol=1e-6), game          # hand-derived field = autograd
    for game, a in (("gan", 0.5), ("nsgan", 0.5), ("wgan", 1.0)):
        assert np.allclose(np.sort_complex(np.linalg.eigvals(theory.dirac_jacobian(game))),
                           [-1j * a, 1j * a])
        gamma = 0.6
        lam = np.linalg.eigvals(theory.dirac_jacobian(game, gamma=gamma))
        assert np.allclose(lam.real, -gamma / 2)             # R1: damped
        assert np.allclose(theory.dirac_jacobian(game, gamma=gamma),
                           theory.dirac_jacobian_analytic(game, gamma=gamma))
    with pytest.raises(ValueError, match="no Jacobian"):
        theory.dirac_jacobian("wgan_gp")


def test_dirac_trajectories_circle_without_and_converge_with_r1():
    free = theory.dirac_trajectory("nsgan", mode="alternating", steps=2000, lr=0.1)
    assert np.hypot(*free[-200:].T).min() > 0.05           # keeps circling
    r1 = theory.dirac_trajectory("nsgan", mode="simultaneous", steps=2000, lr=0.1, gamma=1.0)
    assert np.hypot(*r1[-1]) < 1e-6
    # simultaneous steps on the linearised minimax game grow by |1 + h i/2| per step
    path = theory.dirac_trajectory("wgan", mode="simultaneous", steps=50, lr=0.01, start=(1e-3, 0))
    growth = np.hypot(*path[-1]) / np.hypot(*path[0])
    assert growth == pytest.approx((1 + 0.01 ** 2) ** 25, rel=1e-6)
    clipped = theory.dirac_trajectory("wgan", mode="alternating", n_critic=5, clip=0.5, steps=500)
    assert np.abs(clipped[1:, 1]).max() <= 0.5             # the start lies outside the box


# ------------------------------------------------------------------ the exercise checks


def _gp_solution(critic, real, fake, rng):
    return losses.gradient_penalty(critic, real, fake, rng=rng)


def _gp_with(eps_shape=None, on=None, norm=None, create_graph=True, scale=1.0):
    def fn(critic, real, fake, rng):
        shape = eps_shape(real) if eps_shape else (real.shape[0],) + (1,) * (real.ndim - 1)
        eps = torch.rand(shape, generator=rng)
        x = {"real": real, "fake": fake}.get(on, eps * real + (1 - eps) * fake)
        x = x.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(critic(x).sum(), x, create_graph=create_graph)
        n = norm(g) if norm else g.flatten(1).norm(2, dim=1)
        return scale * ((n - 1) ** 2).mean()
    return fn


@pytest.mark.parametrize("wrong, words", [
    (_gp_with(norm=lambda g: g.norm(2, dim=(2, 3)) if g.ndim == 4 else g.norm(2, dim=1)), "per channel"),
    (_gp_with(norm=lambda g: g.norm(2, dim=1)), "dimension 1 only"),
    (_gp_with(norm=lambda g: g.norm()), "whole batch"),
    (_gp_with(eps_shape=lambda r: (1,) * r.ndim), "same ε"),
    (_gp_with(eps_shape=lambda r: r.shape), "every pixel"),
    (_gp_with(create_graph=False), "create_graph=True"),
    (_gp_with(on="real"), "real samples only"),
    (_gp_with(on="fake"), "generated samples only"),
    (_gp_with(scale=10.0), "without λ"),
    (lambda c, r, f, g: torch.zeros(r.shape[0]), "one value per sample"),
])
def test_check_gradient_penalty_names_the_mistake(wrong, words):
    assert checks.check_gradient_penalty(_gp_solution).passed
    result = checks.check_gradient_penalty(wrong)
    assert not result.passed and words in result.message, result.message


def test_check_gradient_penalty_fails_on_the_per_channel_norm():
    """The issue's requirement: the per-channel gradient norm must not pass."""
    result = checks.check_gradient_penalty(
        lambda critic, real, fake, rng: _penalty_per_channel(critic, real, fake, rng)
        if real.ndim == 4 else losses.gradient_penalty(critic, real, fake, rng=rng))
    assert not result.passed and "per channel" in result.message


def _power_step(W, u):
    v = W.T @ u
    v = v / v.norm()
    u = W @ v
    u = u / u.norm()
    return u, v, u @ W @ v


@pytest.mark.parametrize("wrong, words", [
    (lambda W, u: (W @ (W.T @ u) / (W @ (W.T @ u)).norm(), W.T @ u, torch.tensor(1.0)), "v must be normalised"),
    (lambda W, u: (lambda v: (W @ v, v, (W @ v).norm()))((W.T @ u) / (W.T @ u).norm()), "u must be normalised"),
    (lambda W, u: (lambda v: ((W @ v) / (W @ v).norm(), v, u @ W @ v))((W.T @ u) / (W.T @ u).norm()), "new u"),
    (lambda W, u: (lambda v: (W.T @ v, v, v.norm()))(W @ u), "shape"),
    (lambda W, u: _power_step(W, u)[:2], "three things"),
])
def test_check_power_iteration_step(wrong, words):
    assert checks.check_power_iteration_step(_power_step).passed
    result = checks.check_power_iteration_step(wrong)
    assert not result.passed and words in result.message, result.message


def _jacobian(game, gamma):
    a = 0.5 if game == "gan" else 1.0
    return np.array([[0.0, a], [-a, -gamma]])


@pytest.mark.parametrize("wrong, words", [
    (lambda game, gamma: _jacobian(game, gamma).T, "transpose"),
    (lambda game, gamma: -_jacobian(game, gamma), "sign"),
    (lambda game, gamma: _jacobian(game, 0.0), "missing"),
    (lambda game, gamma: np.array([[0, 1.0], [-1.0, -gamma]]), "σ(0) = 1/2"),
    (lambda game, gamma: np.zeros(3), "2 x 2"),
])
def test_check_dirac_jacobian(wrong, words):
    assert checks.check_dirac_jacobian(_jacobian).passed
    result = checks.check_dirac_jacobian(wrong)
    assert not result.passed and words in result.message, result.message


@pytest.mark.parametrize("w1, jsd, words", [
    (lambda t: t, lambda t: math.log(2) * (t != 0), "cannot be negative"),
    (abs, lambda t: 1.0 * (t != 0), "bits"),
    (abs, lambda t: math.log(2) * min(abs(t), 1), "overlapping intervals"),
    (abs, lambda t: math.log(2), "θ = 0"),
])
def test_check_parallel_lines(w1, jsd, words):
    assert checks.check_parallel_lines(abs, lambda t: math.log(2) * (t != 0)).passed
    result = checks.check_parallel_lines(w1, jsd)
    assert not result.passed and words in result.message, result.message


# ------------------------------------------------------------------ critics


def test_spectral_norm_option_normalises_every_layer():
    from gan_course.models import DCGANConfig, DCGANDiscriminator, MLPDiscriminator

    torch.manual_seed(0)
    D = DCGANDiscriminator(DCGANConfig(z_dim=8, width=8), norm="none", spectral_norm=True)
    x = torch.randn(4, 1, 32, 32)
    D.train()
    for _ in range(100):                                  # one power-iteration step each
        D(x)
    convs = [m for m in D.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 4 and all(nn.utils.parametrize.is_parametrized(m) for m in convs)
    for m in convs:
        W = m.weight.detach().reshape(m.weight.shape[0], -1)
        assert torch.linalg.matrix_norm(W, 2).item() == pytest.approx(1.0, rel=2e-3)
    mlp = MLPDiscriminator(data_dim=2, hidden=(16, 16), spectral_norm=True)
    for _ in range(100):
        mlp(torch.randn(8, 2))
    linears = [m for m in mlp.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 3
    assert all(torch.linalg.matrix_norm(m.weight.detach(), 2).item() == pytest.approx(1.0, rel=2e-3)
               for m in linears)
    # without the option nothing is parametrized, and the weights keep their scale
    plain = DCGANDiscriminator(DCGANConfig(z_dim=8, width=8), norm="none")
    assert not any(nn.utils.parametrize.is_parametrized(m) for m in plain.modules())


@pytest.mark.parametrize("norm, mixes", [("none", False), ("layer", False), ("instance", False),
                                         ("batch", True)])
def test_a_critic_scores_each_sample_on_its_own_unless_batch_norm(norm, mixes):
    """The gradient penalty needs dD(x_i)/dx_j = 0 for j != i: true without batch statistics."""
    from gan_course.models import DCGANConfig, DCGANDiscriminator

    torch.manual_seed(0)
    D = DCGANDiscriminator(DCGANConfig(z_dim=8, width=8), norm=norm).train()
    x = torch.randn(6, 1, 32, 32, requires_grad=True)
    (g,) = torch.autograd.grad(D(x)[0], x)
    others = g[1:].abs().max().item()
    assert (others > 1e-6) if mixes else (others == 0.0)


@pytest.mark.parametrize("case", ["wgan-gp", "r1", "clip"])
def test_wgan_step_matches_the_papers_updates_written_out(case):
    """One wgan_step with plain SGD against Algorithm 1 of Gulrajani et al. (WGAN-GP), the
    R1 regulariser of Mescheder et al. and the clipped WGAN, written out with PyTorch."""
    import copy

    import torch.nn.functional as F

    from gan_course.models import MLPDiscriminator, MLPGenerator

    torch.manual_seed(0)
    G = MLPGenerator(z_dim=2, data_dim=2, hidden=(16, 16), norm="batch")
    D = MLPDiscriminator(data_dim=2, hidden=(16, 16))
    G_ref, D_ref = copy.deepcopy(G), copy.deepcopy(D)
    before = copy.deepcopy((G, D))
    n_critic = {"wgan-gp": 2, "r1": 1, "clip": 3}[case]
    gen = torch.Generator().manual_seed(1)
    reals = [torch.randn(8, 2, generator=gen) + 2 for _ in range(n_critic)]
    zs = [torch.randn(8, 2, generator=gen) for _ in range(n_critic + 1)]
    noise = iter(zs)
    sgd = lambda m: torch.optim.SGD(m.parameters(), lr=0.05)  # noqa: E731
    options = {"wgan-gp": dict(penalty_weight=10.0),
               "r1": dict(d_loss="bce", g_loss="nonsaturating", penalty="r1", penalty_weight=3.0),
               "clip": dict(penalty=None, clip=0.05)}[case]
    out = train.wgan_step(G, D, sgd(G), sgd(D), iter(reals), lambda n: next(noise), n_critic=n_critic,
                          rng=torch.Generator().manual_seed(2), **options)

    opt_g, opt_d = sgd(G_ref), sgd(D_ref)
    eps_rng = torch.Generator().manual_seed(2)
    for real, z in zip(reals, zs):
        with torch.no_grad():
            fake = G_ref(z)                              # G's samples are constants for D
        if case == "r1":                                 # BCE + γ/2 E||∇D(x)||² on real data
            x = real.clone().requires_grad_(True)
            (g,) = torch.autograd.grad(D_ref(x).sum(), x, create_graph=True)
            loss_d = (F.softplus(-D_ref(real)).mean() + F.softplus(D_ref(fake)).mean()
                      + 3.0 / 2 * g.pow(2).sum(1).mean())
        else:                                            # E D(G(z)) - E D(x) [+ λ E(||∇D(x̂)|| - 1)²]
            loss_d = D_ref(fake).mean() - D_ref(real).mean()
            if case == "wgan-gp":
                eps = torch.rand(8, 1, generator=eps_rng)
                x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
                (g,) = torch.autograd.grad(D_ref(x_hat).sum(), x_hat, create_graph=True)
                loss_d = loss_d + 10.0 * ((g.norm(dim=1) - 1) ** 2).mean()
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        if case == "clip":
            with torch.no_grad():
                for p in D_ref.parameters():
                    p.clamp_(-0.05, 0.05)
    fake_scores = D_ref(G_ref(zs[-1]))                   # a fresh batch of z for G
    loss_g = F.softplus(-fake_scores).mean() if case == "r1" else -fake_scores.mean()
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()
    for p_mod, r_mod, b_mod in zip((G, D), (G_ref, D_ref), before):
        p_state, r_state, b_state = p_mod.state_dict(), r_mod.state_dict(), b_mod.state_dict()
        for key in p_state:
            assert torch.allclose(p_state[key].float(), r_state[key].float(), rtol=1e-5, atol=1e-6), key
        assert any(not torch.equal(p_state[k], b_state[k]) for k in p_state if p_state[k].is_floating_point())
    assert float(out["loss_d"]) == pytest.approx(float(loss_d.detach()), rel=1e-5, abs=1e-6)
    assert float(out["loss_g"]) == pytest.approx(float(loss_g.detach()), rel=1e-5, abs=1e-6)
