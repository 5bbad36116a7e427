import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from gan_course import theory


def test_integrate_trapezoid_exact_for_linear():
    x = np.linspace(0, 2, 11)
    assert theory.integrate(3 * x + 1, x) == pytest.approx(8.0, abs=1e-12)
    assert theory.integrate(theory.gaussian_pdf(theory.grid()), theory.grid()) == pytest.approx(1.0, abs=1e-9)


def test_optimal_discriminator_closed_form_and_limits():
    x = theory.grid(-5, 5, 1001)
    pd, pg = theory.gaussian_pdf(x, 0, 1), theory.gaussian_pdf(x, 1, 1)
    d = theory.optimal_discriminator(pd, pg)
    # for two unit-variance Gaussians the log-odds are linear: log(pd/pg) = 0.5 - x
    assert np.allclose(np.log(d / (1 - d)), 0.5 - x, atol=1e-8)
    assert np.allclose(theory.optimal_discriminator(pd, pd), 0.5)
    assert np.array_equal(theory.optimal_discriminator([0.0, 1.0, 0.0], [0.0, 0.0, 2.0]), [0.5, 1.0, 0.0])
    with pytest.raises(ValueError, match="non-negative"):
        theory.optimal_discriminator([-1.0], [1.0])


@settings(max_examples=60, deadline=None)
@given(a=st.floats(0.01, 10), b=st.floats(0.01, 10))
def test_pointwise_maximiser_is_a_over_a_plus_b(a, b):
    y = np.linspace(1e-6, 1 - 1e-6, 200001)
    best = y[np.argmax(theory.pointwise_objective(y, a, b))]
    assert best == pytest.approx(a / (a + b), abs=1e-4)


def test_value_at_optimum_is_minus_log4_iff_equal():
    x = theory.grid()
    p = theory.Mixture1D((-1.5, 1.0), (0.5, 0.8), (0.4, 0.6))
    pd = p.pdf(x)
    assert theory.value_at_optimum(pd, pd, x) == pytest.approx(-math.log(4), abs=1e-8)
    for shift, scale in [(0.5, 1.0), (0.0, 1.5), (-2.0, 0.7)]:
        assert theory.value_at_optimum(pd, p.moved(shift, scale).pdf(x), x) > -math.log(4) + 1e-3


def test_value_function_any_d_is_below_optimum():
    x = theory.grid()
    pd, pg = theory.gaussian_pdf(x, 0, 1), theory.gaussian_pdf(x, 2, 1)
    best = theory.value_at_optimum(pd, pg, x)
    for d in (np.full_like(x, 0.5), 1 / (1 + np.exp(x - 1.2)), 1 / (1 + np.exp(3 * (x - 1)))):  # D* is 1 / (1 + exp(2(x - 1)))
        assert theory.value_function(d, pd, pg, x) < best
    assert theory.value_function(np.full_like(x, 0.5), pd, pg, x) == pytest.approx(-math.log(4), abs=1e-8)
    with pytest.raises(ValueError, match="probability"):
        theory.value_function(x, pd, pg, x)


def test_value_is_negative_bce_on_samples():
    gen = torch.Generator().manual_seed(0)
    real_logits, fake_logits = torch.randn(100, generator=gen) * 3, torch.randn(80, generator=gen) * 3
    v = theory.value_from_logits(real_logits, fake_logits)
    bce = (F.binary_cross_entropy_with_logits(real_logits, torch.ones(100))
           + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros(80)))
    assert torch.allclose(v, -bce, atol=1e-6)
    d_real, d_fake = torch.sigmoid(real_logits), torch.sigmoid(fake_logits)
    assert torch.allclose(v, torch.log(d_real).mean() + torch.log(1 - d_fake).mean(), atol=1e-5)  # definition


def test_mixture_sampling_matches_density():
    p = theory.Mixture1D((-1.5, 1.0), (0.5, 0.8), (0.4, 0.6))
    s = p.sample(200000, rng=torch.Generator().manual_seed(0)).squeeze(1).numpy()
    assert s.mean() == pytest.approx(0.4 * -1.5 + 0.6 * 1.0, abs=0.01)
    hist, edges = np.histogram(s, bins=40, range=(-4, 4), density=True)
    centres = (edges[1:] + edges[:-1]) / 2
    assert np.max(np.abs(hist - p.pdf(centres))) < 0.03
    moved = p.moved(1.0, 2.0)
    assert moved.means == (-2.0, 3.0) and moved.stds == (1.0, 1.6)
    with pytest.raises(ValueError):
        theory.Mixture1D((0.0,), (1.0,), (0.5,))
