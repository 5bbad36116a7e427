"""Chapter 8 check: the cycle-consistency loss passes the book's solution and names the
typical mistakes; the package's cycle loss is a norm and CycleGAN's step uses it."""

import numpy as np
import pytest
import torch

from gan_course import losses
from gan_course.checks.cyclegan import check_cycle_loss


def cycle_ok(real, reconstructed):
    return (reconstructed - real).abs().mean()


@pytest.mark.parametrize("fn", [
    cycle_ok,
    lambda real, rec: (real - rec).abs().mean(),                   # arguments swapped: same L1
    lambda real, rec: torch.nn.functional.l1_loss(rec, real),
    losses.cycle_consistency_loss,
])
def test_check_cycle_loss_accepts_the_l1_norm(fn):
    result = check_cycle_loss(fn)
    assert result.passed, result.message


@pytest.mark.parametrize("wrong, words", [
    (lambda real, rec: (rec - real).mean(), "bare difference"),
    (lambda real, rec: (rec - real).mean(), "can be negative"),
    (lambda real, rec: (real - rec).mean(), "bare difference"),
    (lambda real, rec: (rec - real).mean().abs(), "absolute value of the mean difference"),
    (lambda real, rec: ((rec - real) ** 2).mean(), "squared (L2) error"),
    (lambda real, rec: torch.nn.functional.mse_loss(rec, real).sqrt(), "root-mean-square"),
    (lambda real, rec: (rec - real).norm(), "Euclidean (L2) norm"),
    (lambda real, rec: (rec - real).abs().sum(), "summed"),
    (lambda real, rec: (rec - real).abs().sum(dim=(1, 2, 3)).mean(), "summed over each image"),
    (lambda real, rec: (rec - real).abs(), "single number"),
    (lambda real, rec: (rec - real).abs().mean().item(), "not a tensor connected"),
    (lambda real, rec: torch.tensor(float((rec - real).abs().mean().detach())), "not a tensor connected"),
    (lambda real, rec: np.abs((rec - real).detach().numpy()).mean(), "not a tensor connected"),
    (lambda real, rec: 0.5 * (rec - real).abs().mean(), "factor 1/2"),
    (lambda real, rec: (rec - real).abs().mean(dim=(1, 2, 3)).max(), "expected mean"),
])
def test_check_cycle_loss_names_the_mistake(wrong, words):
    result = check_cycle_loss(wrong)
    assert not result.passed and words in result.message, result.message


def test_check_cycle_loss_not_implemented_and_errors():
    def todo(real, rec):
        raise NotImplementedError

    result = check_cycle_loss(todo)
    assert not result.passed and "NotImplementedError" in result.message
    result = check_cycle_loss(lambda real, rec: (rec.view(-1, 64) - real.view(-1, 64)).abs().mean())
    assert not result.passed and "raised RuntimeError" in result.message


def test_bare_difference_drives_reconstructions_dark():
    """What the chapter shows: minimising the bare difference makes reconstructions black
    (its gradient is a constant push downwards), the L1 norm makes them equal to the input."""
    x = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    finals = {}
    for name, loss_fn in {"bare": lambda r: (r - x).mean(), "l1": lambda r: losses.cycle_consistency_loss(x, r)}.items():
        p = torch.zeros_like(x, requires_grad=True)
        opt = torch.optim.Adam([p], lr=0.05)
        for _ in range(300):
            opt.zero_grad()
            loss_fn(torch.tanh(p)).backward()
            opt.step()
        finals[name] = torch.tanh(p).detach()
    assert finals["bare"].max() < -0.9                       # every pixel pushed to black
    assert (finals["l1"] - x).abs().mean() < 0.05              # the input is reconstructed
