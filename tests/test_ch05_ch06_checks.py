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


# ---------------------------------------------------------------------------------------
# Package parts that Chapters 5 and 6 measure with
# ---------------------------------------------------------------------------------------

import math  # noqa: E402

import numpy as np  # noqa: E402

from gan_course import metrics  # noqa: E402
from gan_course.models import DCGANConfig, DCGANDiscriminator  # noqa: E402


def small_discriminator(seed=0, width=4):
    torch.manual_seed(seed)
    return DCGANDiscriminator(DCGANConfig(z_dim=8, image_size=32, channels=1, width=width))


def test_layer_features_are_the_hidden_activations():
    D = small_discriminator().eval()
    x = torch.rand(3, 1, 32, 32) * 2 - 1
    layers = D.layer_features(x)
    assert [tuple(h.shape) for h in layers] == [(3, 4, 16, 16), (3, 8, 8, 8), (3, 16, 4, 4)]
    # the last one is what features() flattens, and the head reads it
    assert torch.allclose(layers[-1].flatten(1), D.features(x))
    assert torch.allclose(D.head(layers[-1]).flatten(), D(x))
    # every layer is an output of a LeakyReLU(0.2): negative values are 0.2 times a pre-activation
    assert all((h >= 0).any() and (h < 0).any() for h in layers)


def test_pooled_layer_features_follow_the_dcgan_protocol():
    D = small_discriminator()
    D.train()
    x = torch.rand(5, 1, 32, 32) * 2 - 1
    pooled = metrics.pooled_layer_features(D, x, grid=4, batch_size=2)
    assert pooled.shape == (5, (4 + 8 + 16) * 16)
    assert D.training, "the discriminator gets its training mode back"
    D.eval()
    with torch.no_grad():
        layers = D.layer_features(x)
    first = layers[0].reshape(5, 4, 4, 4, 4, 4).amax(dim=(3, 5)).flatten(1)  # 16x16 -> 4x4 by hand
    assert torch.allclose(pooled[:, :64], first, atol=1e-6)
    # the last hidden layer is already 4x4: its pooled part equals D.features
    assert torch.allclose(pooled[:, -16 * 16:], D.features(x).detach(), atol=1e-6)
    with pytest.raises(TypeError, match="layer_features"):
        metrics.pooled_layer_features(nn.Linear(2, 2), x)
    with pytest.raises(ValueError, match="grid"):
        metrics.pooled_layer_features(D, x, grid=0)


class _FixedLogits(nn.Module):
    """A 'classifier' whose prediction is the first pixel's value rounded to a class."""

    n_classes = 3

    def forward(self, x):
        k = x[:, 0, 0, 0].round().long()
        return nn.functional.one_hot(k, 3).float()


def test_class_shares_and_total_variation():
    clf = metrics.Classifier(_FixedLogits(), "toy", 1.0, "-", True)
    images = torch.zeros(8, 1, 32, 32)
    images[:, 0, 0, 0] = torch.tensor([0, 0, 0, 0, 1, 1, 2, 2.0])
    shares = metrics.class_shares(clf, images)
    assert np.allclose(shares, [0.5, 0.25, 0.25]) and math.isclose(shares.sum(), 1.0)
    assert metrics.total_variation([0.5, 0.5], [1.0, 0.0]) == pytest.approx(0.5)
    assert metrics.total_variation(shares, shares) == 0.0
    assert metrics.total_variation([1, 0, 0], [0, 0, 1]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="same classes"):
        metrics.total_variation([0.5, 0.5], [1.0, 0.0, 0.0])


@pytest.mark.parametrize("n, d", [(80, 20), (40, 120)])  # the primal and the dual form
def test_ridge_probe_is_ridge_regression_of_one_hot_labels(n, d):
    from sklearn.linear_model import Ridge
    from sklearn.preprocessing import StandardScaler

    g = torch.Generator().manual_seed(0)
    w = torch.randn(d, 3, generator=g)
    x = torch.randn(n + 50, d, generator=g)
    y = (x @ w + 0.5 * torch.randn(n + 50, 3, generator=g)).argmax(1)
    x_tr, y_tr, x_te, y_te = x[:n], y[:n], x[n:], y[n:]
    for alpha in (0.01, 1.0):
        result = metrics.ridge_probe(x_tr, y_tr, x_te, y_te, alphas=(alpha,))
        scaler = StandardScaler().fit(x_tr.numpy())
        ref = Ridge(alpha=alpha * n).fit(scaler.transform(x_tr.numpy()), np.eye(3)[y_tr.numpy()])
        pred = ref.predict(scaler.transform(x_te.numpy())).argmax(1)
        assert result.alpha == alpha
        assert result.accuracy == pytest.approx(float((pred == y_te.numpy()).mean()))
    best = metrics.ridge_probe(x_tr, y_tr, x_te, y_te, alphas=(1e-3, 1e-1, 10.0, 1e3))
    assert best.alpha in (1e-3, 1e-1, 10.0, 1e3) and 0 <= best.validation_accuracy <= 1
    # the chosen penalty is refitted on every training row: the same as asking for it alone
    assert best.accuracy == metrics.ridge_probe(x_tr, y_tr, x_te, y_te, alphas=(best.alpha,)).accuracy
    with pytest.raises(ValueError, match="feature matrices"):
        metrics.ridge_probe(x_tr, y_tr, x_te[:, :5], y_te)
    with pytest.raises(ValueError, match="alphas"):
        metrics.ridge_probe(x_tr, y_tr, x_te, y_te, alphas=(0.0,))


def test_interpolate_rows_matches_the_vector_functions():
    g = torch.Generator().manual_seed(1)
    z0, z1 = torch.randn(2, 6, 16, generator=g)
    for t in (0.0, 0.3, 0.5, 1.0):
        sph = latent.interpolate_rows(z0, z1, t, "spherical")
        assert torch.allclose(sph, torch.stack([latent.slerp(a, b, t) for a, b in zip(z0, z1)]), atol=1e-5)
        assert torch.allclose(latent.interpolate_rows(z0, z1, t), (1 - t) * z0 + t * z1)
    mid = latent.interpolate_rows(z0, z1, 0.5, "spherical")
    # slerp keeps the length between the endpoints' lengths; the linear midpoint is shorter
    lengths = torch.stack([z0.norm(dim=1), z1.norm(dim=1)])
    assert (mid.norm(dim=1) >= lengths.min(0).values - 1e-4).all()
    assert (latent.interpolate_rows(z0, z1).norm(dim=1) < mid.norm(dim=1)).all()
    same = latent.interpolate_rows(z0, 2 * z0, 0.5, "spherical")  # parallel rows: linear
    assert torch.allclose(same, 1.5 * z0) and torch.isfinite(same).all()
    with pytest.raises(ValueError, match="mode"):
        latent.interpolate_rows(z0, z1, 0.5, "cubic")
    with pytest.raises(ValueError, match="same shape"):
        latent.interpolate_rows(z0, z1[:3])
