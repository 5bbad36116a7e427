import math

import numpy as np
import pytest
import torch

import gan_course as gc
from gan_course import losses, metrics, theory, train
from gan_course.models import MLPDiscriminator, MLPGenerator


# --- theory: divergences and loss gradients (Chapters 2-3) ---

def test_kl_and_jsd_hand_computed():
    p, q = np.array([0.5, 0.5]), np.array([0.9, 0.1])
    assert theory.kl_divergence(p, q) == pytest.approx(0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1))
    assert theory.kl_divergence(p, np.array([1.0, 0.0])) == math.inf
    assert theory.js_divergence([1.0, 0.0], [0.0, 1.0]) == pytest.approx(math.log(2))
    assert theory.js_divergence(p, p) == 0.0


def test_c_of_g_is_jsd_identity_discrete_and_continuous():
    rng = np.random.default_rng(0)
    for _ in range(20):
        p, q = rng.dirichlet(np.ones(7)), rng.dirichlet(np.ones(7))
        assert theory.c_of_g(p, q) == pytest.approx(-math.log(4) + 2 * theory.js_divergence(p, q), abs=1e-12)
    x = theory.grid()
    pd, pg = theory.gaussian_pdf(x, 0, 1), theory.gaussian_pdf(x, 1.5, 0.7)
    assert theory.c_of_g(pd, pg, x) == pytest.approx(-math.log(4) + 2 * theory.js_divergence(pd, pg, x), abs=1e-9)


def test_generator_loss_gradients_match_autograd():
    logits = torch.linspace(-6, 6, 25, requires_grad=True)
    grads = theory.generator_loss_gradients(torch.sigmoid(logits).detach().numpy())
    for name, fn in (("minimax", lambda l: torch.log1p(-torch.sigmoid(l))),
                     ("nonsaturating", lambda l: -torch.log(torch.sigmoid(l)))):
        (g,) = torch.autograd.grad(fn(logits).sum(), logits)
        assert np.allclose(g.numpy(), grads[name], atol=1e-5), name
    # saturation: at D(G(z)) = 0.001 the minimax gradient is 1000x smaller than the other
    small = theory.generator_loss_gradients([1e-3])
    assert abs(small["minimax"][0]) < 1e-3 * abs(small["nonsaturating"][0]) * 1.01


# --- losses: shapes that would broadcast silently are rejected ---

def test_losses_reject_shapes_that_would_broadcast():
    with pytest.raises(ValueError, match=r"\(8, 1\).*squeeze"):
        losses.discriminator_loss(torch.zeros(8, 1), torch.zeros(8))
    with pytest.raises(ValueError, match="empty"):
        losses.generator_loss_nonsaturating(torch.zeros(0))
    assert losses.discriminator_loss(torch.zeros(2, 1, 4, 4), torch.zeros(2, 1, 4, 4)).item() == pytest.approx(
        2 * math.log(2))
    with pytest.raises(ValueError, match="unknown generator loss"):
        losses.generator_loss("hinge2")


# --- train: the step freezes the right player and reports named scalars ---

def _game(seed=0, k=1, g_loss="nonsaturating"):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    G, D = MLPGenerator(z_dim=2, data_dim=2, hidden=(32, 32)), MLPDiscriminator(data_dim=2, hidden=(32, 32))
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.999))
    real = train.batches(gc.ring_of_gaussians(), 64, rng=gen)
    noise = lambda n: torch.randn(n, 2, generator=gen)  # noqa: E731
    return G, D, lambda: train.gan_step(G, D, opt_g, opt_d, real, noise, k=k, g_loss=g_loss)


def test_gan_step_scalars_and_freezing():
    G, D, step = _game()
    g_before = [p.clone() for p in G.parameters()]
    out = step()
    assert set(out) == {"loss_d", "loss_g", "d_real", "d_fake", "grad_norm_d", "grad_norm_g"}
    assert 0 < out["d_real"] < 1 and 0 < out["d_fake"] < 1 and out["grad_norm_g"] > 0
    assert all(p.requires_grad for p in D.parameters())          # D unfrozen after the step
    assert any(not torch.equal(a, b) for a, b in zip(g_before, G.parameters()))
    with pytest.raises(ValueError, match="k"):
        train.gan_step(G, D, None, None, iter([]), None, k=0)


def test_discriminator_untouched_by_generator_update():
    # With k=1 and D's optimiser step replaced by a no-op, G's update must not change D.
    G, D, _ = _game()
    opt_g = torch.optim.SGD(G.parameters(), lr=0.1)
    opt_d = torch.optim.SGD(D.parameters(), lr=0.0)
    d_before = [p.clone() for p in D.parameters()]
    gen = torch.Generator().manual_seed(1)
    train.gan_step(G, D, opt_g, opt_d, train.batches(gc.ring_of_gaussians(), 16, rng=gen),
                   lambda n: torch.randn(n, 2, generator=gen))
    assert all(torch.equal(a, b) for a, b in zip(d_before, D.parameters()))


def test_fit_is_reproducible_and_snapshots():
    runs = []
    for _ in range(2):
        G, _, step = _game(seed=3)
        hist = train.fit(step, 20, snapshot_at=[0, 20], snapshot_fn=lambda: G(torch.zeros(1, 2)).detach(),
                         progress=False)
        runs.append(hist)
    assert runs[0]["loss_d"] == runs[1]["loss_d"] and len(runs[0]["step"]) == 20
    assert sorted(runs[0].snapshots) == [0, 20] and not torch.equal(*runs[0].snapshots.values())
    assert runs[0].seconds > 0 and runs[0].last("d_real", 5) > 0


def test_fit_stops_on_nan_with_diagnosis():
    values = iter([1.0, 0.5, float("nan")])
    with pytest.raises(train.TrainingDiverged, match=r"loss_d became nan at step 2.*loss_d"):
        train.fit(lambda: {"loss_d": next(values)}, 3, progress=False)


def test_batches_from_tensor_cover_an_epoch():
    data = torch.arange(10.0).unsqueeze(1)
    it = train.batches(data, 5, rng=torch.Generator().manual_seed(0))
    seen = torch.cat([next(it), next(it)]).squeeze(1)
    assert sorted(seen.tolist()) == list(range(10))
    with pytest.raises(ValueError, match="at least 20 rows"):
        next(train.batches(data, 20))


def test_batches_of_tuples_keep_rows_together_and_refuse_other_inputs():
    x, y = torch.arange(12.0), torch.arange(12) * 10
    it = train.batches((x, y), 4, rng=torch.Generator().manual_seed(0))
    for _ in range(6):                                    # two epochs, reshuffled
        bx, by = next(it)
        assert torch.equal(by, bx.long() * 10)
    # the same shuffling as for a single tensor with the same seed
    alone = next(train.batches(x, 4, rng=torch.Generator().manual_seed(0)))
    assert torch.equal(next(train.batches((x, y), 4, rng=torch.Generator().manual_seed(0)))[0], alone)
    with pytest.raises(ValueError, match="same number of rows"):
        next(train.batches((x, y[:5]), 4))
    digits = gc.load_images("digits")
    with pytest.raises(TypeError, match=r"\(data.images, data.labels\)"):
        next(train.batches(digits, 4))
    with pytest.raises(TypeError, match="sampler"):
        next(train.batches([1, 2, 3], 2))


# --- metrics: mode coverage protocol ---

def test_mode_coverage_on_true_samples_and_collapse():
    grid = gc.grid_of_gaussians()
    x = grid.sample(2500, rng=torch.Generator().manual_seed(0))
    cov = metrics.mode_coverage(x, grid)
    assert cov.modes == 25 and cov.high_quality > 0.98 and cov.reverse_kl < 0.02
    collapsed = grid.means[:3].repeat(834, 1)[:2500]
    cov = metrics.mode_coverage(collapsed, grid)
    assert cov.modes == 3 and cov.high_quality == 1.0
    assert cov.reverse_kl == pytest.approx(math.log(25 / 3), abs=0.01)
    between = torch.tensor([[1.0, 1.0]] * 10)           # in between modes: not high quality
    cov = metrics.mode_coverage(between, grid)
    assert cov.modes == 0 and cov.high_quality == 0.0 and cov.reverse_kl == math.inf
    assert "0/25 modes" in str(cov)


def test_mode_coverage_rejects_bad_input():
    grid = gc.grid_of_gaussians()
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        metrics.mode_coverage(torch.zeros(10, 3), grid)
    with pytest.raises(ValueError, match="empty"):
        metrics.mode_coverage(torch.zeros(0, 2), grid)
