"""DCGAN models, least-squares losses, image metrics, checkpoints, latent paths, explorers."""

import json
import math

import numpy as np
import pytest
import torch
from torch import nn

import gan_course as gc
from gan_course import checkpoint, latent, losses, metrics, train
from gan_course.models import DCGANConfig, DCGANDiscriminator, DCGANGenerator, SmallConvNet


# --- DCGAN architecture facts from the paper ---

@pytest.mark.parametrize("size, channels", [(32, 1), (32, 3), (64, 1), (64, 3)])
def test_dcgan_shapes_range_and_guidelines(size, channels):
    cfg = DCGANConfig(z_dim=16, image_size=size, channels=channels, width=8)
    G, D = DCGANGenerator(cfg), DCGANDiscriminator(cfg)
    x = G(torch.randn(3, 16) * 5)
    assert x.shape == (3, channels, size, size)
    assert x.min() >= -1 and x.max() <= 1                      # tanh output
    assert D(x).shape == (3,)
    modules = list(G.modules()) + list(D.modules())
    assert not any(isinstance(m, (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d)) for m in modules)
    assert not any(isinstance(m, nn.Linear) for m in modules)  # no fully connected layers at all
    g_convs = [m for m in G.modules() if isinstance(m, nn.ConvTranspose2d)]
    d_convs = [m for m in D.modules() if isinstance(m, nn.Conv2d)]
    assert all(m.stride == (2, 2) for m in g_convs[1:]) and all(m.stride == (2, 2) for m in d_convs[:-1])
    assert any(isinstance(m, nn.Tanh) for m in G.head.modules())            # tanh output
    assert any(isinstance(m, nn.ConvTranspose2d) for m in G.stem.modules())  # z -> 4x4 without a linear layer
    assert any(isinstance(m, nn.LeakyReLU) and m.negative_slope == 0.2 for m in D.modules())
    assert any(isinstance(m, nn.ReLU) for m in G.modules())
    # batch norm everywhere except G's output layer and D's input layer
    first_d_layers = list(D.body.children())[:2]
    assert not any(isinstance(m, nn.BatchNorm2d) for m in first_d_layers)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in G.modules()) == cfg.n_up
    assert not any(isinstance(m, nn.BatchNorm2d) for m in G.head.modules())


def test_dcgan_parameter_count_and_init():
    G, D = DCGANGenerator(DCGANConfig(z_dim=100, width=64)), DCGANDiscriminator(DCGANConfig(width=64))
    # G: 100*256*16 + BN 512 + 256*128*16 + 256 + 128*64*16 + 128 + 64*1*16 + 1
    assert sum(p.numel() for p in G.parameters()) == 409600 + 512 + 524288 + 256 + 131072 + 128 + 1024 + 1
    # D: 1*64*16 + 64 + 64*128*16 + 256 + 128*256*16 + 512 + 256*16 + 1
    assert sum(p.numel() for p in D.parameters()) == 1024 + 64 + 131072 + 256 + 524288 + 512 + 4096 + 1
    w = torch.cat([m.weight.flatten() for m in G.modules() if isinstance(m, nn.ConvTranspose2d)])
    assert abs(w.mean().item()) < 1e-3 and w.std().item() == pytest.approx(0.02, rel=0.05)


def test_dcgan_bad_input_names_expected_shape():
    G, D = DCGANGenerator(DCGANConfig(z_dim=8, width=4)), DCGANDiscriminator(DCGANConfig(width=4))
    with pytest.raises(ValueError, match=r"\(B, 1, 32, 32\), got \(2, 1, 28, 28\)"):
        D(torch.zeros(2, 1, 28, 28))
    with pytest.raises(ValueError, match=r"\(B, 8\)"):
        G(torch.zeros(2, 9))
    with pytest.raises(ValueError, match="image_size"):
        DCGANConfig(image_size=48)
    with pytest.raises(ValueError, match="channels"):
        DCGANConfig(channels=0)


# --- least squares ---

def test_least_squares_losses_hand_computed():
    real, fake = torch.tensor([1.0, 0.0]), torch.tensor([0.5, -1.0])
    # ½ mean((real - 1)^2) + ½ mean((fake - 0)^2) = ½·0.5 + ½·0.625
    assert losses.discriminator_loss_least_squares(real, fake).item() == pytest.approx(0.25 + 0.3125)
    assert losses.generator_loss_least_squares(fake).item() == pytest.approx(0.5 * (0.25 + 4) / 2)
    assert losses.discriminator_loss_least_squares(real, fake, a=-1, b=1).item() == pytest.approx(
        0.25 + 0.5 * (2.25 + 0) / 2)
    # the LS generator gradient does not vanish for scores far on the "real" side of the boundary
    s = torch.tensor([-5.0, 5.0], requires_grad=True)
    losses.generator_loss_least_squares(s, c=1.0).backward()
    assert torch.allclose(s.grad, torch.tensor([-3.0, 2.0]))


def test_gan_step_serves_dcgan_and_lsgan_on_digits():
    data = gc.load_images("digits", size=32)
    for d_loss, g_loss in (("bce", "nonsaturating"), ("least_squares", "least_squares")):
        torch.manual_seed(0)
        gen = torch.Generator().manual_seed(0)
        G, D = DCGANGenerator(DCGANConfig(z_dim=8, width=8)), DCGANDiscriminator(DCGANConfig(width=8))
        opt_g, opt_d = (torch.optim.Adam(m.parameters(), 2e-4, betas=(0.5, 0.999)) for m in (G, D))
        real = train.batches(data.images, 16, rng=gen)
        step = lambda: train.gan_step(G, D, opt_g, opt_d, real, lambda n: torch.randn(n, 8, generator=gen),  # noqa
                                      d_loss=d_loss, g_loss=g_loss)
        hist = train.fit(step, 4, progress=False)
        assert len(hist["loss_d"]) == 4 and all(math.isfinite(v) for v in hist["loss_g"])
    with pytest.raises(ValueError, match="unknown discriminator loss"):
        train.gan_step(G, D, opt_g, opt_d, real, None, d_loss="no_such_loss")


def test_mixed_precision_is_noop_on_cpu():
    mp = gc.MixedPrecision("cpu", enabled=True)
    assert not mp.enabled and not mp.scaler.is_enabled()
    w = torch.ones(2, requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.5)
    with mp.autocast():
        loss = (w * 3).sum()
    assert loss.dtype == torch.float32
    mp.backward(loss)
    mp.step(opt)
    assert torch.allclose(w, torch.tensor([-0.5, -0.5]))


# --- checkpoints ---

def test_checkpoint_atomic_roundtrip_and_corruption(tmp_path):
    state = {"w": torch.arange(4.0), "meta": {"step": 3}}
    digest = checkpoint.save(state, tmp_path / "a" / "ckpt.pt")
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["ckpt.pt"]       # no temp file left
    back = checkpoint.load(tmp_path / "a" / "ckpt.pt", expected_sha256=digest)
    assert torch.equal(back["w"], state["w"]) and back["meta"]["step"] == 3
    (tmp_path / "a" / "ckpt.pt").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="checksum mismatch"):
        checkpoint.load(tmp_path / "a" / "ckpt.pt", expected_sha256=digest)


def test_checkpoint_refuses_pickled_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("executed",))
    torch.save({"x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(Exception):
        checkpoint.load(tmp_path / "evil.pt")


# --- image metrics ---

def test_frechet_distance_closed_form():
    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, size=(200_000, 3))
    b = rng.normal(0, 1, size=(200_000, 3)) * np.array([1.0, 2.0, 3.0]) + np.array([1.0, 0.0, 0.0])
    # diagonal covariances: |mu|^2 + sum (sqrt(va) - sqrt(vb))^2 = 1 + 0 + 1 + 4
    assert metrics.frechet_distance(a, b) == pytest.approx(6.0, rel=0.02)
    assert metrics.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    with pytest.raises(ValueError, match="feature matrices"):
        metrics.frechet_distance(a, b[:, :2])


def test_nearest_neighbours_finds_copies():
    ref = torch.randn(50, 1, 8, 8)
    queries = ref[[3, 17, 42]] + 0.01 * torch.randn(3, 1, 8, 8)
    d, idx = metrics.nearest_neighbours(queries, ref, k=2, batch_size=2)
    assert idx[:, 0].tolist() == [3, 17, 42] and (d[:, 0] < d[:, 1]).all()
    with pytest.raises(ValueError, match="same image shape"):
        metrics.nearest_neighbours(torch.zeros(1, 1, 4, 4), ref)


def test_reference_classifier_cache_and_corruption(tmp_path, capsys):
    c = metrics.reference_classifier("digits", steps=20, cache=str(tmp_path))
    assert c.trained_now and 0 <= c.test_accuracy <= 1
    again = metrics.reference_classifier("digits", steps=20, cache=str(tmp_path))
    assert not again.trained_now and again.test_accuracy == c.test_accuracy
    x = gc.load_images("digits", "test", size=32).images[:10]
    assert torch.equal(c.predict(x), again.predict(x)) and c.features(x).shape == (10, 128)
    weights = next(tmp_path.glob("*.pt"))
    weights.write_bytes(weights.read_bytes()[:100])                    # corrupt the cache
    capsys.readouterr()
    fixed = metrics.reference_classifier("digits", steps=20, cache=str(tmp_path))
    assert fixed.trained_now and "checksum mismatch" in capsys.readouterr().out
    meta = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert meta["sha256"] == checkpoint.sha256(weights)


def test_linear_probe_separates_easy_features():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    f = np.eye(3)[y] * 3 + rng.normal(0, 0.3, (300, 3))
    assert metrics.linear_probe(f[:200], y[:200], f[200:], y[200:]) > 0.95


def test_small_convnet_shapes():
    net = SmallConvNet(channels=3, n_classes=7)
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 7)
    with pytest.raises(ValueError, match=r"\(B, 3, 32, 32\)"):
        net(torch.zeros(2, 1, 32, 32))


# --- latent paths ---

def test_interpolation_endpoints_and_slerp_norm():
    gen = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(100, generator=gen), torch.randn(100, generator=gen)
    for mode in ("linear", "spherical"):
        path = latent.interpolate(z0, z1, 7, mode)
        assert path.shape == (7, 100) and torch.allclose(path[0], z0, atol=1e-5) and torch.allclose(path[-1], z1, atol=1e-5)
    lin, sph = latent.interpolate(z0, z1, 3, "linear")[1], latent.interpolate(z0, z1, 3, "spherical")[1]
    # midpoint of a linear path between two near-orthogonal Gaussian vectors is ~1/sqrt(2) too short
    assert lin.norm() < 0.8 * z0.norm() and sph.norm() > 0.95 * min(z0.norm(), z1.norm())
    assert torch.allclose(latent.slerp(z0, z0, 0.3), z0)
    with pytest.raises(ValueError, match="mode"):
        latent.interpolate(z0, z1, 3, "cubic")
    za = torch.ones(4, 3)
    assert torch.equal(latent.arithmetic(za, torch.zeros(3), za * 2), torch.full((3,), 3.0))


def test_latent_and_interpolation_explorers():
    pytest.importorskip("ipywidgets")
    from gan_course import widgets

    G = DCGANGenerator(DCGANConfig(z_dim=8, width=4))
    e = widgets.LatentExplorer(G, 8, dims=(0, 3), n=4, nrow=4)
    before = e.images.clone()
    e.sliders[1].value = 2.0
    assert torch.allclose(e.z[:, 3] - e.base[:, 3], torch.full((4,), 2.0))
    assert not torch.allclose(before, e.images)
    base = e.base.clone()
    e.resample()
    assert not torch.equal(base, e.base)
    with pytest.raises(ValueError, match="0..7"):
        widgets.LatentExplorer(G, 8, dims=(9,))
    z0, z1 = torch.randn(8), torch.randn(8)
    ie = widgets.InterpolationExplorer(G, z0, z1, steps=5)
    lin = ie.images.clone()
    ie.mode.value = "spherical"
    assert ie.path.shape == (5, 8) and not torch.allclose(lin[2], ie.images[2])
