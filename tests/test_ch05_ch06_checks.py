"""The checks of Chapters 5 and 6 pass the book's solutions and name typical mistakes."""

import pytest
import torch
from torch import nn

from gan_course import checks, latent, losses


def block(c_in, c_out, padding=1, act=nn.ReLU, norm=True, conv=True):
    layers = [nn.ConvTranspose2d(c_in, c_out, 4, 2, padding, bias=False) if conv
              else nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(c_in, c_out, 3, padding=1))]
    if norm:
        layers.append(nn.BatchNorm2d(c_out))
    layers.append(act())
    return nn.Sequential(*layers)


@pytest.mark.parametrize("make, words", [
    (lambda i, o: block(i, o, padding=0), "padding must be 1"),
    (lambda i, o: block(i, o, act=lambda: nn.LeakyReLU(0.2)), "LeakyReLU belongs to the discriminator"),
    (lambda i, o: block(i, o, norm=False), "batch normalisation"),
    (lambda i, o: block(i, o, conv=False), "strided"),
    (lambda i, o: nn.Sequential(nn.BatchNorm2d(i), nn.ReLU(), nn.ConvTranspose2d(i, o, 4, 2, 1)), "ReLU last"),
    (lambda i, o: "not a module", "nn.Module"),
])
def test_check_generator_block(make, words):
    assert checks.check_generator_block(block).passed
    result = checks.check_generator_block(make)
    assert not result.passed and words in result.message, result.message


@pytest.mark.parametrize("wrong, words", [
    (lambda a, b, t: (1 - t) * a + t * b, "linear interpolation"),
    (lambda a, b, t: latent.slerp(a, b, 1 - t), "swapped"),
    (lambda a, b, t: latent.slerp(a / a.norm(), b / b.norm(), t), "normalised"),
    (lambda a, b, t: a.unsqueeze(0), "shape"),
])
def test_check_slerp(wrong, words):
    assert checks.check_slerp(latent.slerp).passed
    result = checks.check_slerp(wrong)
    assert not result.passed and words in result.message, result.message


G_OK = losses.generator_loss_least_squares
D_OK = losses.discriminator_loss_least_squares


@pytest.mark.parametrize("d_fn, g_fn, words", [
    (lambda r, f, a, b: ((r - b) ** 2).mean() + ((f - a) ** 2).mean(), G_OK, "factors ½"),
    (lambda r, f, a, b: D_OK(torch.sigmoid(r), torch.sigmoid(f), a, b), G_OK, "sigmoid"),
    (lambda r, f, a, b: D_OK(r, f, b, a), G_OK, "targets are swapped"),
    (D_OK, lambda f, c: 0.5 * (f ** 2).mean(), "target for generated samples (a)"),
    (D_OK, lambda f, c: ((f - c) ** 2).mean(), "factor ½ is missing"),
    (lambda r, f, a, b: 0.5 * (r - b) ** 2, G_OK, "single number"),
])
def test_check_least_squares_losses(d_fn, g_fn, words):
    assert checks.check_least_squares_losses(D_OK, G_OK).passed
    result = checks.check_least_squares_losses(d_fn, g_fn)
    assert not result.passed and words in result.message, result.message
