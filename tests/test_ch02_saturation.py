"""Chapter 2: the non-saturating-loss check, the theory it rests on, and custom losses in gan_step."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import gan_course as gc
from gan_course import theory
from gan_course.checks import check_nonsaturating_loss
from gan_course.train import batches, gan_step


# --- the check -------------------------------------------------------------------------


def test_check_passes_the_book_solution_and_equivalent_forms():
    for fn in (lambda l: F.softplus(-l).mean(),                                  # the book's solution
               lambda l: F.binary_cross_entropy_with_logits(l, torch.ones_like(l)),
               lambda l: -F.logsigmoid(l).mean(),
               gc.losses.generator_loss_nonsaturating):
        result = check_nonsaturating_loss(fn)
        assert result.passed, result.message


@pytest.mark.parametrize("wrong, words", [
    (lambda l: F.logsigmoid(l).mean(), "sign is flipped"),
    (lambda l: -F.softplus(l).mean(), "minimax (saturating)"),
    (lambda l: F.softplus(l).mean(), "label 0"),
    (lambda l: F.softplus(-l).sum(), "summed"),
    (lambda l: F.softplus(-l), "add .mean()"),
    (lambda l: -torch.log(l).mean(), "log of the logits"),
    (lambda l: F.binary_cross_entropy(l, torch.ones_like(l)), "binary_cross_entropy on logits"),
    (lambda l: F.binary_cross_entropy_with_logits(torch.sigmoid(l), torch.ones_like(l)), "sigmoid twice"),
    (lambda l: -torch.log(torch.sigmoid(l)).mean(), "very confident discriminator"),
    (lambda l: F.softplus(-l).mean().item(), "no gradient"),
    (lambda l: (1 - torch.sigmoid(l)).mean(), "without the logarithm"),
])
def test_check_names_the_mistake(wrong, words):
    result = check_nonsaturating_loss(wrong)
    assert not result.passed
    assert words in result.message, result.message


def test_check_reports_unfinished_and_crashing_code():
    def todo(logits):
        raise NotImplementedError

    assert "NotImplementedError" in check_nonsaturating_loss(todo).message
    result = check_nonsaturating_loss(lambda l: l.reshape(3, -1).mean())
    assert not result.passed and "RuntimeError" in result.message


# --- theory of Chapter 2 -----------------------------------------------------------------


def test_gradients_wrt_logit_match_autograd_and_the_probability_chain_rule():
    d = np.array([1e-4, 1e-2, 0.5, 0.9])
    grads = theory.generator_loss_gradients(d)
    logits = torch.logit(torch.tensor(d, dtype=torch.float64)).requires_grad_(True)
    (mm,) = torch.autograd.grad(gc.losses.generator_loss_minimax(logits) * len(d), logits)
    (ns,) = torch.autograd.grad(gc.losses.generator_loss_nonsaturating(logits) * len(d), logits)
    np.testing.assert_allclose(mm.numpy(), grads["minimax"], rtol=1e-9)
    np.testing.assert_allclose(ns.numpy(), grads["nonsaturating"], rtol=1e-9)
    # d/dl = d/dD * dD/dl with dD/dl = D (1 - D): -1/(1-D) * D(1-D) = -D and -1/D * D(1-D) = D - 1
    np.testing.assert_allclose(-1 / (1 - d) * d * (1 - d), grads["minimax"])
    np.testing.assert_allclose(-1 / d * d * (1 - d), grads["nonsaturating"])


def test_generator_objectives_at_the_optimum_are_minimal_at_p_data():
    x = theory.grid()
    p = theory.Mixture1D(means=(-1.5, 1.0), stds=(0.5, 0.8), weights=(0.4, 0.6))
    at_data = theory.generator_objectives_at_optimum(p.pdf(x), p.pdf(x), x)
    assert at_data["minimax"] == pytest.approx(-math.log(2), abs=1e-6)
    assert at_data["nonsaturating"] == pytest.approx(math.log(2), abs=1e-6)
    for shift, scale in [(0.3, 1.0), (2.0, 1.0), (-1.0, 1.5), (0.0, 0.6)]:
        q = p.moved(shift, scale).pdf(x)
        obj = theory.generator_objectives_at_optimum(p.pdf(x), q, x)
        m = (p.pdf(x) + q) / 2
        # the identities of the chapter: minimax = KL(p_g || m) - log 2, NS >= log 2 + KL(p_g || p_data) / 2
        assert obj["minimax"] == pytest.approx(theory.kl_divergence(q, m, x) - math.log(2), abs=1e-6)
        assert obj["minimax"] > -math.log(2)
        assert obj["nonsaturating"] >= math.log(2) + theory.kl_divergence(q, p.pdf(x), x) / 2 - 1e-9
    # no overlap: the minimax objective flattens at 0, the non-saturating one keeps growing
    far = [theory.generator_objectives_at_optimum(p.pdf(x), p.moved(s).pdf(x), x) for s in (3.0, 4.0)]
    assert far[1]["minimax"] - far[0]["minimax"] < 0.2
    assert far[1]["nonsaturating"] - far[0]["nonsaturating"] > 2.0
    # p_g with mass where p_data has none: the non-saturating objective is infinite
    box = np.where(np.abs(x) < 1, 0.5, 0.0)
    assert theory.generator_objectives_at_optimum(box, p.pdf(x), x)["nonsaturating"] == math.inf


def test_c_of_samples_ranges_from_minus_log4_to_zero():
    p = theory.Mixture1D(means=(-1.5, 1.0), stds=(0.5, 0.8), weights=(0.4, 0.6))
    own = theory.c_of_samples(p.sample(20_000, torch.Generator().manual_seed(0)), p)
    assert -math.log(4) < own < -math.log(4) + 0.02
    assert theory.c_of_samples(np.full(500, 30.0), p) == 0.0          # all mass outside the range
    assert theory.c_of_samples(np.full(500, 6.0), p) > -1e-3          # a spike far from the data
    shifted = theory.c_of_samples(p.moved(1.0).sample(20_000, torch.Generator().manual_seed(0)), p)
    assert own < shifted < 0
    with pytest.raises(ValueError, match="finite"):
        theory.c_of_samples(np.array([0.0, np.nan]), p)


# --- gan_step with the losses written in the notebook --------------------------------------


def _game(seed=0):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    data = gc.ring_of_gaussians()
    G = gc.models.MLPGenerator(hidden=(16, 16))
    D = gc.models.MLPDiscriminator(hidden=(16, 16))
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-3)
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-3)
    return G, D, opt_g, opt_d, batches(data, 32, rng=gen), lambda n: torch.randn(n, 2, generator=gen)


def test_gan_step_accepts_loss_functions_and_matches_the_named_losses():
    named = [gan_step(*_game(), g_loss="nonsaturating") for _ in range(1)][0]
    same = gan_step(*_game(), g_loss=gc.losses.generator_loss_nonsaturating,
                    d_loss=gc.losses.discriminator_loss)
    for key in named:
        assert float(named[key]) == pytest.approx(float(same[key]), rel=1e-6), key
    assert 0 < float(same["d_real"]) < 1 and 0 < float(same["d_fake"]) < 1   # read through a sigmoid


def test_swapped_labels_make_the_discriminator_call_fakes_real():
    def d_swapped(real_logits, fake_logits):
        return (F.binary_cross_entropy_with_logits(real_logits, torch.zeros_like(real_logits))
                + F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits)))

    G, D, opt_g, opt_d, real, noise = _game()
    for _ in range(300):
        out = gan_step(G, D, opt_g, opt_d, real, noise, d_loss=d_swapped)
    assert float(out["d_real"]) < 0.3 < 0.7 < float(out["d_fake"])
