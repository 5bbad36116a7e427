"""Chapter 1: the block diagram, Goodfellow's Proposition 2 computed, and gradient play on
the xy game and the Dirac GAN, checked against closed forms and autograd."""

import math

import matplotlib
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gan_course import theory, viz

matplotlib.use("Agg")


# --- gradient play on V(x, y) = x y -------------------------------------------------------


def test_simultaneous_play_spirals_out_at_the_predicted_rate():
    lr, steps = 0.2, 40
    path = theory.xy_game(1.0, 0.5, lr, steps, "simultaneous")
    radius = np.hypot(*path.T)
    # x' = x - lr y, y' = y + lr x: each step multiplies the radius by sqrt(1 + lr^2)
    np.testing.assert_allclose(radius, radius[0] * (1 + lr ** 2) ** (np.arange(steps + 1) / 2), rtol=1e-12)
    # the first step, written out
    np.testing.assert_allclose(path[1], [1.0 - lr * 0.5, 0.5 + lr * 1.0])


def test_alternating_play_keeps_a_conserved_quantity():
    lr = 0.3
    path = theory.xy_game(1.0, 0.5, lr, 500, "alternating")
    x, y = path.T
    # y sees the new x: the map has determinant 1 and conserves x^2 + y^2 - lr x y
    q = x ** 2 + y ** 2 - lr * x * y
    assert np.ptp(q) < 1e-12
    assert np.hypot(x, y).max() < 1.3 * np.hypot(1.0, 0.5)
    # the first step: x moves first, then y uses the new x
    x1 = 1.0 - lr * 0.5
    np.testing.assert_allclose(path[1], [x1, 0.5 + lr * x1])


def test_continuous_play_is_a_rotation():
    lr, steps = 0.25, 40
    path = theory.xy_game(1.0, 0.0, lr, steps, "continuous")
    t = lr * np.arange(steps + 1)
    # dx/dt = -y, dy/dt = x from (1, 0): (cos t, sin t)
    np.testing.assert_allclose(path, np.stack([np.cos(t), np.sin(t)], axis=1), atol=1e-9)


def test_dirac_gan_gradients_match_autograd_of_the_value():
    theta0, psi0, lr = 0.7, -0.4, 0.1
    theta = torch.tensor(theta0, dtype=torch.float64, requires_grad=True)
    psi = torch.tensor(psi0, dtype=torch.float64, requires_grad=True)
    # V = log sigma(psi * 0) + log(1 - sigma(psi theta)): data at 0, generator at theta
    value = F.logsigmoid(psi * 0.0) - F.softplus(psi * theta)
    d_theta, d_psi = torch.autograd.grad(value, (theta, psi))
    step = theory.dirac_gan(theta0, psi0, lr, 1, "simultaneous")[1]
    # G descends V in theta, D ascends V in psi
    np.testing.assert_allclose(step, [theta0 - lr * d_theta.item(), psi0 + lr * d_psi.item()], rtol=1e-12)
    # non-saturating: G descends -log sigma(psi theta)
    theta = torch.tensor(theta0, dtype=torch.float64, requires_grad=True)
    (g_ns,) = torch.autograd.grad(-F.logsigmoid(psi.detach() * theta), theta)
    step_ns = theory.dirac_gan(theta0, psi0, lr, 1, "simultaneous", loss="nonsaturating")[1]
    assert step_ns[0] == pytest.approx(theta0 - lr * g_ns.item(), rel=1e-12)
    assert step_ns[1] == pytest.approx(step[1], rel=1e-12)


def test_dirac_gan_circles_in_continuous_time_and_spirals_out_when_simultaneous():
    flow = theory.dirac_gan(1.0, 0.0, 0.1, 300, "continuous")
    # d(theta^2 + psi^2)/dt = 2 sigma(psi theta) (theta psi - psi theta) = 0
    np.testing.assert_allclose(np.hypot(*flow.T), 1.0, atol=1e-9)
    simultaneous = np.hypot(*theory.dirac_gan(1.0, 0.0, 0.1, 300, "simultaneous").T)
    assert np.all(np.diff(simultaneous) > 0) and simultaneous[-1] > 1.3
    alternating = np.hypot(*theory.dirac_gan(1.0, 0.0, 0.1, 300, "alternating").T)
    assert alternating.max() < 1.1 and alternating.min() > 0.9
    # near the equilibrium the game is the xy game at half the step size (sigma(0) = 1/2)
    small = theory.dirac_gan(1e-5, 0.0, 0.2, 30, "simultaneous")
    xy = theory.xy_game(1e-5, 0.0, 0.1, 30, "simultaneous")  # x minimises xy: x' = x - lr y
    np.testing.assert_allclose(small[:, 0], xy[:, 0], rtol=1e-6, atol=1e-14)
    np.testing.assert_allclose(small[:, 1], -xy[:, 1], rtol=1e-6, atol=1e-14)


def test_play_rejects_unknown_modes_and_losses():
    with pytest.raises(ValueError, match="mode"):
        theory.xy_game(mode="together")
    with pytest.raises(ValueError, match="loss"):
        theory.dirac_gan(loss="wasserstein")
    with pytest.raises(ValueError, match="lr"):
        theory.xy_game(lr=0.0)


# --- Proposition 2: p_g moved directly against D* --------------------------------------


def test_functional_descent_decreases_c_to_minus_log4():
    x = theory.grid(-15, 15, 6001)
    p = theory.Mixture1D((-1.5, 1.0), (0.5, 0.8), (0.4, 0.6))
    for lr in (0.2, 0.5, 1.0):
        values, final = theory.functional_descent(p.pdf(x), theory.gaussian_pdf(x, 4.0, 1.0), 100, lr, x)
        assert values[0] == pytest.approx(theory.value_at_optimum(p.pdf(x), theory.gaussian_pdf(x, 4.0, 1.0), x))
        assert np.all(np.diff(values) <= 1e-12), lr
        assert values[-1] == pytest.approx(-math.log(4), abs=2e-3)
        assert theory.integrate(final, x) == pytest.approx(1.0, abs=1e-9)


def test_functional_descent_with_step_one_averages_the_distributions():
    p_data, p_g = np.array([0.5, 0.3, 0.2, 0.0]), np.array([0.1, 0.1, 0.2, 0.6])
    values, final = theory.functional_descent(p_data, p_g, steps=1, lr=1.0)
    np.testing.assert_allclose(final, (p_data + p_g) / 2, rtol=1e-12)
    assert values[1] == pytest.approx(-math.log(4) + 2 * theory.js_divergence(p_data, (p_data + p_g) / 2))
    with pytest.raises(ValueError, match="cannot|never"):
        theory.functional_descent(p_g, p_data, steps=1)


# --- the block diagram ---------------------------------------------------------------------


def test_gan_diagram_names_both_players_both_batches_and_the_gradient_paths():
    from matplotlib.patches import FancyArrowPatch

    fig = viz.gan_diagram()
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    for word in ("generator", "discriminator", "p_z", "p_{\\mathrm{data}}", "G(z)", "update G", "update D"):
        assert word in texts, word
    arrows = [p for p in fig.axes[0].patches if isinstance(p, FancyArrowPatch)]
    dashed = [a for a in arrows if a.get_linestyle() not in ("-", "solid")]
    assert len(dashed) == 2 and len(arrows) == 8
    assert fig.get_size_inches()[0] <= 7.0
    plain = viz.gan_diagram(gradients=False)
    assert "update G" not in " ".join(t.get_text() for t in plain.axes[0].texts)
    assert sum(isinstance(p, FancyArrowPatch) for p in plain.axes[0].patches) == 6
