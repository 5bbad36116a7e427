"""Chapter 10, CoGAN: the foreground agreement metric and the exercise checks
(the book's solutions pass, typical mistakes fail with a message naming them)."""

import copy
import math

import pytest
import torch
from torch import nn

import gan_course as gc
from gan_course import metrics
from gan_course.checks import check_pixel_agreement, check_shared_layers


# --- the stricter metric: agreement on the pixels that are foreground in either image ---

def test_foreground_agreement_is_the_iou_of_the_foreground_masks():
    a = torch.tensor([[-1.0, 1.0, 1.0, -1.0, -1.0, -1.0, -1.0, -1.0]])
    b = torch.tensor([[-1.0, 1.0, -1.0, 1.0, -1.0, -1.0, -1.0, -1.0]])
    # foreground {1, 2} and {1, 3}: one pixel in common out of three in the union
    assert metrics.foreground_agreement(a, b) == pytest.approx(1 / 3)
    # the plain ratio counts the five background pixels on which both agree trivially
    assert metrics.pixel_agreement(a, b) == pytest.approx(6 / 8)
    assert metrics.foreground_agreement(a, a) == 1.0


def test_foreground_agreement_on_bright_backgrounds_and_empty_images():
    gen = torch.Generator().manual_seed(0)
    a = torch.where(torch.rand(4, 1, 8, 8, generator=gen) < 0.2, 1.0, -1.0)
    b = torch.where(torch.rand(4, 1, 8, 8, generator=gen) < 0.2, 1.0, -1.0)
    plain = metrics.foreground_agreement(a, b)
    # negatives: the background is bright; the majority rule finds it, or it is given
    assert metrics.foreground_agreement(-a, -b) == pytest.approx(plain)
    assert metrics.foreground_agreement(-a, -b, background=True) == pytest.approx(plain)
    # naming the wrong background counts the background as foreground
    assert metrics.foreground_agreement(-a, -b, background=False) > 0.5 > plain
    blank = -torch.ones(2, 1, 4, 4)
    assert math.isnan(metrics.foreground_agreement(blank, blank, background=False))
    with pytest.raises(ValueError, match="shapes differ"):
        metrics.foreground_agreement(a, b[:2])


def test_random_pairs_agree_by_chance_but_not_on_the_foreground():
    gen = torch.Generator().manual_seed(1)
    p = 0.1
    a = torch.where(torch.rand(200, 1, 16, 16, generator=gen) < p, 1.0, -1.0)
    b = torch.where(torch.rand(200, 1, 16, 16, generator=gen) < p, 1.0, -1.0)
    # independent pixels: p^2 + (1 - p)^2 agree, the IoU is p^2 / (2p - p^2)
    assert metrics.pixel_agreement(a, b) == pytest.approx(p * p + (1 - p) ** 2, abs=0.01)
    assert metrics.foreground_agreement(a, b, background=False) == pytest.approx(p * p / (2 * p - p * p), abs=0.01)


# --- check_pixel_agreement ---

def solution_agreement(images_a, images_b):
    return ((images_a > 0) == (images_b > 0)).float().mean()


@pytest.mark.parametrize("wrong, words", [
    (lambda a, b: (a == b).float().mean(), "grey values"),
    (lambda a, b: ((a > 0) != (b > 0)).float().mean(), "DISAGREE"),
    (lambda a, b: ((a > 0.5) == (b > 0.5)).float().mean(), "0.5"),
    (lambda a, b: ((a > 0) == (b > 0)).float().flatten(1).sum(1).mean(), "number of pixels"),
    (lambda a, b: ((a > 0) == (b > 0)).float().flatten(1).mean(1), "one number"),
])
def test_check_pixel_agreement(wrong, words):
    assert check_pixel_agreement(solution_agreement).passed
    result = check_pixel_agreement(wrong)
    assert not result.passed and words in result.message


def test_check_pixel_agreement_reports_unfinished_code():
    def todo(a, b):
        raise NotImplementedError

    assert "NotImplementedError" in check_pixel_agreement(todo).message


# --- check_shared_layers ---

def solution_sharing(stages_1, stages_2, n_shared):
    g1 = nn.Sequential(*stages_1)
    g2 = nn.Sequential(*stages_1[:n_shared], *stages_2[n_shared:])
    return g1, g2


@pytest.mark.parametrize("wrong, words", [
    (lambda s1, s2, n: (nn.Sequential(*s1), nn.Sequential(*s2[:4 - n], *s1[4 - n:])), "LAST"),
    (lambda s1, s2, n: (nn.Sequential(*s1), nn.Sequential(*copy.deepcopy(s1[:n]), *s2[n:])), "copying"),
    (lambda s1, s2, n: (nn.Sequential(*s1), nn.Sequential(*s1)), "output stage"),
    (lambda s1, s2, n: (nn.Sequential(*s1), nn.Sequential(*s2)), "share no parameter"),
    (lambda s1, s2, n: (nn.Sequential(*s1), nn.Sequential(*s1[:n + 1], *s2[n + 1:])), "off-by-one"),
])
def test_check_shared_layers(wrong, words):
    assert check_shared_layers(solution_sharing).passed
    result = check_shared_layers(wrong)
    assert not result.passed and words in result.message


def test_checks_are_registered():
    assert gc.checks.check_pixel_agreement is check_pixel_agreement
    assert "check_shared_layers" in gc.checks.__all__
