import math

import pytest
import torch

from gan_course import losses
from gan_course.models import MLP, MLPDiscriminator, MLPGenerator


def test_discriminator_loss_hand_computed():
    # logits 0 -> D = 1/2: each BCE term is log 2
    assert losses.discriminator_loss(torch.zeros(4), torch.zeros(4)).item() == pytest.approx(2 * math.log(2))
    # real logit log 3 -> D = 3/4, fake logit -log 3 -> D = 1/4: -(log 3/4 + log 3/4)
    l = losses.discriminator_loss(torch.tensor([math.log(3)]), torch.tensor([-math.log(3)]))
    assert l.item() == pytest.approx(-2 * math.log(0.75), rel=1e-6)


def test_losses_finite_for_extreme_logits():
    big = torch.tensor([100.0, -100.0], requires_grad=True)
    for value in (losses.discriminator_loss(big, big), losses.generator_loss_minimax(big),
                  losses.generator_loss_nonsaturating(big)):
        value.backward()
        assert torch.isfinite(value) and torch.isfinite(big.grad).all()
        big.grad = None


def test_generator_losses_against_definitions():
    l = torch.linspace(-3, 3, 7)
    d = torch.sigmoid(l)
    assert torch.allclose(losses.generator_loss_minimax(l), torch.log(1 - d).mean(), atol=1e-6)
    assert torch.allclose(losses.generator_loss_nonsaturating(l), -torch.log(d).mean(), atol=1e-6)
    with pytest.raises(TypeError, match="logits"):
        losses.discriminator_loss(torch.ones(2, dtype=torch.long), torch.zeros(2))


def test_mlp_shapes_and_errors():
    g, d = MLPGenerator(z_dim=3, data_dim=2, hidden=(16, 16)), MLPDiscriminator(data_dim=2, hidden=(16,))
    x = g(torch.randn(5, 3))
    assert x.shape == (5, 2) and d(x).shape == (5,)
    assert g.sample(4).shape == (4, 2)
    # 3*16+16 + 16*16+16 + 16*2+2 parameters
    assert sum(p.numel() for p in g.parameters()) == 64 + 272 + 34
    with pytest.raises(ValueError, match=r"\(B, 3\)"):
        g(torch.randn(5, 2))
    with pytest.raises(ValueError, match="unknown activation"):
        MLP(2, 2, activation="swish")


def test_mlp_discriminator_learns_to_separate():
    torch.manual_seed(0)
    d = MLPDiscriminator(data_dim=1, hidden=(16,))
    opt = torch.optim.Adam(d.parameters(), lr=1e-2)
    real, fake = torch.randn(256, 1) + 2, torch.randn(256, 1) - 2
    for _ in range(100):
        opt.zero_grad()
        loss = losses.discriminator_loss(d(real), d(fake))
        loss.backward()
        opt.step()
    assert loss.item() < 0.2
