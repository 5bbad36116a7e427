"""Device-agnostic code, tested without CUDA.

The players and the data are put on PyTorch's ``meta`` device, which has shapes and dtypes
but no values: any tensor that a step function, a model or a loss creates on the CPU and
then combines with them raises "Tensor on device cpu is not on the expected device meta",
exactly the error a GPU run would hit with CUDA tensors. Every step function of
``gan_course.train`` runs here with Adam (the optimiser of the chapters, whose state is
created lazily on the parameters' device), and its results must stay on that device (no
hidden copy to the CPU, which on a GPU would be a synchronisation per step).

The same steps then run under bfloat16 autocast on the CPU (``torch.autocast("cpu")``),
the mixed precision a GPU run uses, through ``fit``: no dtype error, finite losses.
"""

import pytest
import torch
import torch.nn.functional as F

import gan_course as gc
from gan_course import losses, train
from gan_course.models import (
    ACGANDiscriminator,
    ConditionalDiscriminator,
    ConditionalGenerator,
    CoupledDiscriminators,
    CoupledGenerators,
    DCGANConfig,
    DCGANDiscriminator,
    DCGANGenerator,
    ImagePool,
    MLPDiscriminator,
    MLPGenerator,
    PackedDiscriminator,
    PatchDiscriminator,
    ResnetGenerator,
    SemiSupervisedDiscriminator,
    StarDiscriminator,
    StarGenerator,
    UNetGenerator,
)

CFG = DCGANConfig(z_dim=8, width=4)
B = 8


def adam(*players):
    return torch.optim.Adam([p for m in players for p in m.parameters()], lr=1e-3, betas=(0.5, 0.999))


def cases(dev):
    """(name, run(precision)) for every step function, players and data on ``dev``."""
    g = torch.Generator().manual_seed(0)
    on = lambda *ms: [m.to(dev) for m in ms]  # noqa: E731
    x = (torch.rand(B, 1, 32, 32, generator=g) * 2 - 1).to(dev)
    y = torch.randint(10, (B,), generator=g).to(dev)
    small = (torch.rand(B, 1, 16, 16, generator=g) * 2 - 1).to(dev)
    d_small = torch.randint(3, (B,), generator=g).to(dev)
    points = torch.randn(B, 2, generator=g).to(dev)

    def noise(n, z_dim=8):
        return torch.randn(n, z_dim, generator=g).to(dev)

    out = []
    G, D = on(MLPGenerator(z_dim=2, data_dim=2), MLPDiscriminator(data_dim=2))
    out.append(("gan_mlp", lambda mp, G=G, D=D: train.gan_step(G, D, adam(G), adam(D), iter([points] * 2),
                                                               lambda n: noise(n, 2), k=2, precision=mp)))
    G, D = on(MLPGenerator(z_dim=2, data_dim=2), PackedDiscriminator(data_dim=2, pack=2))
    out.append(("gan_packed", lambda mp, G=G, D=D: train.gan_step(G, D, adam(G), adam(D), iter([points]),
                                                                  lambda n: noise(n, 2), precision=mp)))
    G, D = on(DCGANGenerator(CFG), DCGANDiscriminator(CFG))
    out.append(("gan_dcgan_ls", lambda mp, G=G, D=D: train.gan_step(
        G, D, adam(G), adam(D), iter([x]), noise, d_loss="least_squares", g_loss="least_squares", precision=mp)))
    G, D = on(ConditionalGenerator(10, config=CFG), ConditionalDiscriminator(10, config=CFG))
    out.append(("conditional", lambda mp, G=G, D=D: train.conditional_step(
        G, D, adam(G), adam(D), iter([(x, y)]), noise, n_classes=10, precision=mp)))
    G, D = on(ConditionalGenerator(10, config=CFG), ACGANDiscriminator(10, config=CFG))
    out.append(("acgan", lambda mp, G=G, D=D: train.acgan_step(
        G, D, adam(G), adam(D), iter([(x, y)]), noise, n_classes=10, precision=mp)))
    G, D = on(DCGANGenerator(CFG), SemiSupervisedDiscriminator(10, config=CFG))
    out.append(("semi_supervised", lambda mp, G=G, D=D: train.semi_supervised_step(
        G, D, adam(G), adam(D), iter([(x, y)]), iter([x]), noise, precision=mp)))
    G, D = on(UNetGenerator(1, width=4), PatchDiscriminator(2, width=4))
    out.append(("pix2pix", lambda mp, G=G, D=D: train.pix2pix_step(
        G, D, adam(G), adam(D), iter([(x, x)]), precision=mp)))
    Gs = on(*[ResnetGenerator(1, width=4, n_blocks=1) for _ in range(2)])
    Ds = on(*[PatchDiscriminator(1, width=4, norm="instance") for _ in range(2)])
    pools = [ImagePool(4), ImagePool(4)]
    out.append(("cyclegan", lambda mp, Gs=Gs, Ds=Ds: train.cyclegan_step(
        *Gs, *Ds, adam(*Gs), adam(*Ds), iter([x]), iter([x]), pools=pools, precision=mp)))
    G, D = on(StarGenerator(3, width=4, n_blocks=1), StarDiscriminator(3, width=4, n_layers=2))
    out.append(("stargan", lambda mp, G=G, D=D: train.stargan_step(
        G, D, adam(G), adam(D), iter([(small, d_small)]), n_domains=3, precision=mp)))
    out.append(("stargan_attribute", lambda mp, G=G, D=D: train.stargan_attribute_step(
        G, D, adam(G), adam(D), iter([(small, F.one_hot(d_small, 3).float())]), precision=mp)))
    G, D = on(MLPGenerator(z_dim=2, data_dim=2), MLPDiscriminator(data_dim=2))
    out.append(("wgan", lambda mp, G=G, D=D: train.wgan_step(G, D, adam(G), adam(D), iter([points] * 2),
                                                             lambda n: noise(n, 2), n_critic=2, precision=mp)))
    G, D = on(DCGANGenerator(CFG), DCGANDiscriminator(CFG, norm="none"))
    out.append(("wgan_clipped_dcgan", lambda mp, G=G, D=D: train.wgan_step(
        G, D, adam(G), adam(D), iter([x]), noise, n_critic=1, penalty=None, clip=0.01, precision=mp)))
    Gs, Ds = on(CoupledGenerators(z_dim=8, width=4), CoupledDiscriminators(width=4))
    out.append(("cogan", lambda mp, Gs=Gs, Ds=Ds: train.cogan_step(
        Gs, Ds, adam(Gs), adam(Ds), iter([x]), iter([x]), noise, precision=mp)))
    return out


NAMES = [name for name, _ in cases("cpu")]


def test_every_step_function_is_covered():
    steps = {name for name in dir(train) if name.endswith("_step") and callable(getattr(train, name))}
    covered = {"gan_step"} | {f"{n}_step" for n in NAMES}
    assert steps <= covered, f"step functions without a device test: {sorted(steps - covered)}"


def test_the_sentinel_catches_a_tensor_made_on_the_cpu():
    x = torch.zeros(4, device="meta")
    with pytest.raises(RuntimeError, match="device"):
        x + torch.ones(4)           # what a forgotten device= does on a GPU
    G = DCGANGenerator(CFG).to("meta")
    with pytest.raises(RuntimeError, match="device"):
        G(torch.randn(2, 8))        # data left on the CPU


@pytest.mark.parametrize("index", range(len(NAMES)), ids=NAMES)
def test_step_functions_keep_to_the_players_device(index):
    name, run = cases("meta")[index]
    out = run(None)
    assert out, name
    wrong = {k: v.device for k, v in out.items() if v.device.type != "meta"}
    assert not wrong, f"{name} returned values on another device: {wrong}"
    again = run(None)               # the second step: Adam's state now exists on the device
    assert all(v.device.type == "meta" for v in again.values())


def test_losses_keep_to_the_inputs_device():
    logits = torch.zeros(B, device="meta")
    images = torch.zeros(B, 1, 4, 4, device="meta")
    labels = torch.zeros(B, dtype=torch.long, device="meta")
    for value in (losses.discriminator_loss(logits, logits), losses.generator_loss_minimax(logits),
                  losses.generator_loss_nonsaturating(logits),
                  losses.discriminator_loss_least_squares(logits, logits), losses.generator_loss_least_squares(logits),
                  losses.classification_loss(torch.zeros(B, 10, device="meta"), labels),
                  losses.discriminator_loss(images[:, :1], images[:, :1]),
                  losses.cycle_consistency_loss(images, images), losses.identity_loss(images, images),
                  losses.reconstruction_loss(images, images),
                  losses.domain_classification_loss(torch.zeros(B, 3, device="meta"), labels),
                  losses.domain_classification_loss(torch.zeros(B, 3, device="meta"),
                                                    torch.zeros(B, 3, device="meta"))):
        assert value.device.type == "meta"


@pytest.mark.parametrize("index", range(len(NAMES)), ids=NAMES)
def test_step_functions_run_under_bfloat16_autocast_through_fit(index):
    torch.manual_seed(0)
    name, run = cases("cpu")[index]
    mp = gc.MixedPrecision("cpu", cpu_bfloat16=True)      # the GPU path's autocast, on the CPU
    with mp.autocast():
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16
    history = train.fit(lambda: run(mp), 2, progress=False)
    for key, values in history.values.items():
        assert all(torch.isfinite(torch.tensor(v)) for v in values), (name, key)
