"""Chapter 7 checks pass the book's solutions and name the typical mistakes; the package's
conditional pieces raise the errors the chapter shows."""

import pytest
import torch
import torch.nn.functional as F

from gan_course import checks, losses, train
from gan_course.models import ConditionalGenerator, DCGANConfig, SemiSupervisedDiscriminator


# --- label conditioning ---------------------------------------------------------------

def conditioning_ok(z, y, n_classes):
    return torch.cat([z, F.one_hot(y, n_classes).float()], dim=1)


@pytest.mark.parametrize("wrong, words", [
    (lambda z, y, k: torch.cat([z, y.float()[:, None]], 1), "not one-hot encoded"),
    (lambda z, y, k: torch.cat([z, y.float()[:, None]], 1), "float column"),
    (lambda z, y, k: torch.cat([z, F.one_hot(y).float()], 1), "wrong number of classes"),
    (lambda z, y, k: torch.cat([z, F.one_hot(y, 10).float()], 1), "wrong number of classes"),
    (lambda z, y, k: torch.cat([z, F.one_hot(y, k).float()], 0), "wrong dimension"),
    (lambda z, y, k: torch.cat([F.one_hot(y, k).float(), z], 1), "comes first"),
    (lambda z, y, k: torch.cat([z, F.one_hot(k - 1 - y, k).float()], 1), "wrong positions"),
    (lambda z, y, k: torch.cat([z, torch.softmax(F.one_hot(y, k).float(), 1)], 1), "not one-hot"),
    (lambda z, y, k: torch.cat([z.long(), F.one_hot(y, k)], 1), "dtype"),
])
def test_check_label_conditioning(wrong, words):
    assert checks.check_label_conditioning(conditioning_ok).passed
    result = checks.check_label_conditioning(wrong)
    assert not result.passed and words in result.message, result.message


def test_check_label_conditioning_not_implemented():
    def todo(z, y, k):
        raise NotImplementedError

    result = checks.check_label_conditioning(todo)
    assert not result.passed and "NotImplementedError" in result.message


# --- ACGAN losses ---------------------------------------------------------------------

def acgan_d_ok(src_r, cls_r, y_r, src_f, cls_f, y_f):
    return losses.discriminator_loss(src_r, src_f) + F.cross_entropy(cls_r, y_r) + F.cross_entropy(cls_f, y_f)


def acgan_g_ok(src_f, cls_f, y_f):
    return losses.generator_loss_nonsaturating(src_f) + F.cross_entropy(cls_f, y_f)


@pytest.mark.parametrize("d_fn, g_fn, words", [
    (lambda sr, cr, yr, sf, cf, yf: losses.discriminator_loss(sr, sf) + F.cross_entropy(cr, yr), acgan_g_ok,
     "class loss on generated images is missing"),
    (lambda sr, cr, yr, sf, cf, yf: losses.discriminator_loss(sf, sr) + F.cross_entropy(cr, yr)
     + F.cross_entropy(cf, yf), acgan_g_ok, "swapped"),
    (lambda sr, cr, yr, sf, cf, yf: losses.discriminator_loss(sr, sf) + F.cross_entropy(cr.softmax(1), yr)
     + F.cross_entropy(cf.softmax(1), yf), acgan_g_ok, "probabilities instead of logits"),
    (acgan_d_ok, lambda sf, cf, yf: losses.generator_loss_nonsaturating(sf), "class loss is missing"),
    (acgan_d_ok, lambda sf, cf, yf: losses.generator_loss_nonsaturating(sf) - F.cross_entropy(cf, yf),
     "wrong sign"),
    (acgan_d_ok, lambda sf, cf, yf: losses.generator_loss_minimax(sf) + F.cross_entropy(cf, yf), "minimax"),
    (acgan_d_ok, lambda sf, cf, yf: F.cross_entropy(cf, yf, reduction="none"), "single number"),
])
def test_check_acgan_losses(d_fn, g_fn, words):
    assert checks.check_acgan_losses(acgan_d_ok, acgan_g_ok).passed
    result = checks.check_acgan_losses(d_fn, g_fn)
    assert not result.passed and words in result.message, result.message


# --- semi-supervised real logit -------------------------------------------------------

@pytest.mark.parametrize("wrong, words", [
    (lambda l: l.sum(1), "summed the logits"),
    (lambda l: l.max(1).values, "largest class logit"),
    (lambda l: torch.log(l.exp().sum(1)), "not finite"),
    (lambda l: torch.sigmoid(torch.logsumexp(l, 1)), "probability"),
    (lambda l: torch.logsumexp(l, 0), "dim=1"),
    (lambda l: torch.log_softmax(l, 1).exp().sum(1).log(), "fake class must enter"),
])
def test_check_real_logit(wrong, words):
    assert checks.check_real_logit(SemiSupervisedDiscriminator.real_logit).passed
    assert checks.check_real_logit(lambda l: torch.logsumexp(l, dim=1)).passed
    result = checks.check_real_logit(wrong)
    assert not result.passed and words in result.message, result.message


# --- pix2pix generator loss ------------------------------------------------------------

def pix2pix_ok(patches, fake, target, lam):
    return losses.generator_loss_nonsaturating(patches) + lam * losses.reconstruction_loss(fake, target)


@pytest.mark.parametrize("wrong, words", [
    (lambda p, f, t, lam: losses.generator_loss_nonsaturating(p) + lam * (f - t).mean(), "bare difference"),
    (lambda p, f, t, lam: losses.generator_loss_nonsaturating(p) + lam * ((f - t) ** 2).mean(), "L2"),
    (lambda p, f, t, lam: lam * losses.generator_loss_nonsaturating(p) + (f - t).abs().mean(),
     "lambda multiplies the L1 term"),
    (lambda p, f, t, lam: losses.generator_loss_nonsaturating(p.mean(dim=(1, 2, 3))) + lam * (f - t).abs().mean(),
     "averaged the patch logits"),
    (lambda p, f, t, lam: losses.generator_loss_nonsaturating(p), "L1 term is missing"),
])
def test_check_pix2pix_generator_loss(wrong, words):
    assert checks.check_pix2pix_generator_loss(pix2pix_ok).passed
    result = checks.check_pix2pix_generator_loss(wrong)
    assert not result.passed and words in result.message, result.message


# --- bad input that the chapter demonstrates ----------------------------------------------

def test_bad_labels_and_pairs_give_errors_naming_the_problem():
    G = ConditionalGenerator(10, config=DCGANConfig(z_dim=8, width=4))
    z = torch.randn(3, 8)
    with pytest.raises(ValueError, match=r"10 classes"):
        G(z, torch.tensor([0, 4, 10]))
    with pytest.raises(TypeError, match=r"10 classes"):
        G(z, torch.tensor([0.0, 4.0, 9.0]))
    with pytest.raises(ValueError, match="paired batches differ"):
        train.pix2pix_step(None, None, None, None, iter([(torch.zeros(2, 1, 32, 32), torch.zeros(3, 1, 32, 32))]),
                           adversarial=False)


def test_ema_update_is_an_exponential_average():
    model, average = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    start = [p.detach().clone() for p in average.parameters()]
    train.ema_update(average, model, decay=0.9)
    for a, s, p in zip(average.parameters(), start, model.parameters()):
        assert torch.allclose(a, 0.9 * s + 0.1 * p)
    for _ in range(300):                      # converges to a fixed model
        train.ema_update(average, model, decay=0.9)
    assert all(torch.allclose(a, p, atol=1e-6) for a, p in zip(average.parameters(), model.parameters()))
    bn, bn_avg = torch.nn.BatchNorm1d(2), torch.nn.BatchNorm1d(2)
    bn(torch.randn(8, 2) + 3)
    train.ema_update(bn_avg, bn, decay=0.5)
    assert torch.equal(bn_avg.running_mean, bn.running_mean)     # buffers are copied
    with pytest.raises(ValueError, match="decay"):
        train.ema_update(average, model, decay=1.0)
    with pytest.raises(ValueError, match="architecture"):
        train.ema_update(torch.nn.Linear(3, 4), model)
