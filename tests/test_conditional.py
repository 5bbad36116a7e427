"""Conditional models, paired data, the conditional step functions and their metrics (Chapter 7)."""

import math

import numpy as np
import pytest
import torch

import gan_course as gc
from gan_course import data, losses, metrics, train
from gan_course.models import (
    ACGANDiscriminator,
    ConditionalDiscriminator,
    ConditionalGenerator,
    DCGANConfig,
    DCGANGenerator,
    PatchDiscriminator,
    SemiSupervisedDiscriminator,
    UNetGenerator,
)

CFG = DCGANConfig(z_dim=8, width=4)


def test_conditional_generator_uses_the_label():
    torch.manual_seed(0)
    G = ConditionalGenerator(10, config=CFG).eval()
    z = torch.randn(3, 8)
    a, b = G(z, torch.tensor([0, 0, 0])), G(z, torch.tensor([5, 5, 5]))
    assert a.shape == (3, 1, 32, 32) and not torch.allclose(a, b)


@pytest.mark.parametrize("bad, error, words", [
    (torch.tensor([0, 1, 10]), ValueError, "0..9 (10 classes)"),
    (torch.tensor([0.0, 1.0, 2.0]), TypeError, "integer tensor"),
    (torch.tensor([[0, 1, 2]]), ValueError, "shape (B,)"),
    (torch.tensor([0, 1]), ValueError, "2 labels for a batch of 3"),
])
def test_bad_labels_name_the_number_of_classes(bad, error, words):
    G = ConditionalGenerator(10, config=CFG)
    with pytest.raises(error) as err:
        G(torch.randn(3, 8), bad)
    assert words in str(err.value)


def test_projection_discriminator_is_head_plus_inner_product():
    D = ConditionalDiscriminator(10, config=CFG, mode="projection").eval()
    x, y = torch.randn(4, 1, 32, 32), torch.tensor([1, 2, 3, 4])
    h = D.disc.body(x)
    expected = D.disc.head(h).flatten() + (D.embed(y) * h.flatten(1)).sum(1)
    assert torch.allclose(D(x, y), expected)
    concat = ConditionalDiscriminator(10, config=CFG, mode="concat")
    assert concat(x, y).shape == (4,)
    with pytest.raises(ValueError, match=r"\(B, 1, 32, 32\)"):
        concat(torch.randn(4, 1, 28, 28), y)
    with pytest.raises(ValueError, match="mode"):
        ConditionalDiscriminator(10, mode="film")


def test_any_integer_label_dtype_is_accepted_and_means_the_same():
    torch.manual_seed(0)
    G = ConditionalGenerator(10, config=CFG).eval()
    z, y = torch.randn(3, 8), torch.tensor([1, 5, 9])
    with torch.no_grad():
        want = G(z, y)
        for dtype in (torch.uint8, torch.int8, torch.int16, torch.int32):
            assert torch.equal(G(z, y.to(dtype)), want), dtype
    logits = torch.randn(3, 10)
    assert losses.classification_loss(logits, y.to(torch.int32)) == losses.classification_loss(logits, y)
    with pytest.raises(TypeError, match="integer tensor"):
        losses.classification_loss(logits, y.bool())
    with pytest.raises(TypeError, match="integer tensor"):
        G(z, y.float())


def test_acgan_and_semi_supervised_heads():
    x = torch.randn(5, 1, 32, 32)
    src, cls = ACGANDiscriminator(7, config=CFG)(x)
    assert src.shape == (5,) and cls.shape == (5, 7)
    D = SemiSupervisedDiscriminator(10, config=CFG).eval()
    logits = D(x)
    assert logits.shape == (5, 10)
    # D(x) = Z / (Z + 1) with Z = sum exp(l_k): its logit is log Z
    z = logits.exp().sum(1)
    assert torch.allclose(torch.sigmoid(D.real_logit(logits)), z / (z + 1), atol=1e-6)


def test_unet_skips_and_patch_discriminator():
    G = UNetGenerator(1, image_size=32, width=4).eval()
    x = torch.randn(2, 1, 32, 32)
    y = G(x)
    assert y.shape == (2, 1, 32, 32) and y.abs().max() <= 1
    # a change in one input pixel changes the output near it: the skips carry local detail
    x2 = x.clone()
    x2[:, :, 5, 5] += 3.0
    diff = (G(x2) - y).abs()[0, 0]
    assert diff[3:8, 3:8].sum() > diff[20:, 20:].sum()
    with pytest.raises(ValueError, match="power of two"):
        UNetGenerator(image_size=48)
    with pytest.raises(ValueError, match=r"\(B, 1, 32, 32\)"):
        G(torch.randn(2, 3, 32, 32))
    D = PatchDiscriminator(2, width=4, n_layers=2)
    assert D(torch.randn(2, 2, 32, 32)).shape == (2, 1, 6, 6)
    assert D(torch.randn(2, 2, 64, 64)).shape == (2, 1, 14, 14)    # any size: fully convolutional


def test_edges_of_a_square():
    img = -torch.ones(1, 1, 8, 8)
    img[..., 2:6, 2:6] = 1.0
    e = (data.edges(img)[0, 0] + 1) / 2          # back to [0, 1]
    assert e[2:6, 2:6].sum() == 0                # inside the square: no edge
    assert e[1, 1:7].min() == 1 and e[6, 1:7].min() == 1 and e[0].sum() == 0
    with pytest.raises(ValueError):
        data.edges(torch.zeros(8, 8))


def test_paired_task_and_mismatch():
    pairs = data.paired_task("edges", "digits", "test", size=32)
    assert pairs.inputs.shape == pairs.targets.shape == (297, 1, 32, 32)
    assert torch.allclose(pairs.inputs, data.edges(pairs.targets))
    with pytest.raises(ValueError, match="same number of images"):
        data.PairedData("x", "train", torch.zeros(3, 1, 8, 8), torch.zeros(3, 1, 9, 9), torch.zeros(3))
    with pytest.raises(ValueError, match="unknown paired task"):
        data.paired_task("colour")


def _digits():
    return gc.load_images("digits", size=32)


@pytest.mark.parametrize("kind", ["conditional", "acgan"])
def test_conditional_steps_run(kind):
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    G = ConditionalGenerator(10, config=CFG)
    D = ConditionalDiscriminator(10, config=CFG) if kind == "conditional" else ACGANDiscriminator(10, config=CFG)
    opt_g, opt_d = (torch.optim.Adam(m.parameters(), 2e-4, betas=(0.5, 0.999)) for m in (G, D))
    digits = _digits()
    real = train.batches((digits.images, digits.labels), 16, rng=gen)
    step_fn = train.conditional_step if kind == "conditional" else train.acgan_step
    hist = train.fit(lambda: step_fn(G, D, opt_g, opt_d, real, lambda n: torch.randn(n, 8, generator=gen),
                                     n_classes=10, rng=gen), 3, progress=False)
    assert all(math.isfinite(v) for v in hist["loss_d"] + hist["loss_g"])


def test_semi_supervised_step_and_pix2pix_ablations():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    digits = _digits()
    G, D = DCGANGenerator(CFG), SemiSupervisedDiscriminator(10, config=CFG)
    opt_g, opt_d = (torch.optim.Adam(m.parameters(), 2e-4) for m in (G, D))
    lab = train.batches((digits.images, digits.labels), 10, rng=gen)
    unl = train.batches(digits.images, 16, rng=gen)
    out = train.semi_supervised_step(G, D, opt_g, opt_d, lab, unl, lambda n: torch.randn(n, 8, generator=gen))
    assert {"loss_sup", "loss_unsup", "loss_g"} <= set(out)

    pairs = data.paired_task("edges", "digits", size=32)
    for adversarial, lam in ((True, 100.0), (True, 0.0), (False, 1.0)):
        G, D = UNetGenerator(width=4), PatchDiscriminator(2, width=4)
        opt_g, opt_d = (torch.optim.Adam(m.parameters(), 2e-4) for m in (G, D))
        out = train.pix2pix_step(G, D if adversarial else None, opt_g, opt_d if adversarial else None,
                                 train.batches((pairs.inputs, pairs.targets), 8, rng=gen), lambda_l1=lam,
                                 adversarial=adversarial)
        assert ("loss_d" in out) == adversarial and math.isfinite(float(out["loss_l1"]))
    with pytest.raises(ValueError, match="paired batches differ"):
        train.pix2pix_step(G, None, opt_g, None, iter([(torch.zeros(2, 1, 32, 32), torch.zeros(2, 1, 16, 16))]),
                           adversarial=False)


def test_losses_and_metrics_for_conditioning(tmp_path):
    with pytest.raises(ValueError, match="0..2 \\(3 classes\\)"):
        losses.classification_loss(torch.zeros(2, 3), torch.tensor([0, 3]))
    assert losses.reconstruction_loss(torch.ones(2, 2), torch.zeros(2, 2)).item() == 1.0
    clf = metrics.reference_classifier("digits", steps=20, cache=str(tmp_path), verbose=False)
    test = gc.load_images("digits", "test", size=32)
    acc = metrics.per_class_accuracy(clf, test.images, test.labels)
    pred = clf.predict(test.images)
    assert acc.shape == (10,) and acc[3] == pytest.approx(float((pred[test.labels == 3] == 3).float().mean()))
    assert np.isnan(metrics.per_class_accuracy(clf, test.images[:5], torch.zeros(5, dtype=torch.long))[1])
    assert metrics.l1_error(torch.zeros(3), torch.ones(3)) == 1.0


def test_class_explorer():
    pytest.importorskip("ipywidgets")
    G = ConditionalGenerator(10, config=CFG)
    e = gc.widgets.ClassExplorer(G, 8, [str(i) for i in range(10)], n=4)
    first = e.images.clone()
    e.choice.value = 7
    assert (e.labels == 7).all() and not torch.allclose(first, e.images)
    e.mode.value = "sweep classes"
    assert e.images.shape[0] == 40 and e.labels[:10].tolist() == list(range(10))


def test_conditional_batch_norm_is_batch_norm_then_a_per_class_affine_map():
    torch.manual_seed(0)
    cbn = gc.models.ConditionalBatchNorm2d(3, n_classes=4)
    x, y = torch.randn(6, 3, 5, 5) * 2 + 1, torch.tensor([0, 1, 2, 3, 1, 0])
    # untrained: gamma = 1, beta = 0 for every class, i.e. plain batch norm without affine
    assert torch.allclose(cbn(x, y), torch.nn.functional.batch_norm(x, None, None, training=True), atol=1e-6)
    with torch.no_grad():
        cbn.gamma.weight.copy_(torch.rand(4, 3) + 0.5)
        cbn.beta.weight.copy_(torch.randn(4, 3))
    out = cbn(x, y)
    mean, var = x.mean(dim=(0, 2, 3), keepdim=True), x.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
    x_hat = (x - mean) / torch.sqrt(var + 1e-5)
    for i, c in enumerate(y.tolist()):           # each image gets its own class's scale and shift
        want = cbn.gamma.weight[c][:, None, None] * x_hat[i] + cbn.beta.weight[c][:, None, None]
        assert torch.allclose(out[i], want, atol=1e-5)
    # two images that are equal after normalisation differ only through their labels
    assert not torch.allclose(out[1], cbn(x, torch.tensor([0, 2, 2, 3, 1, 0]))[1])
    with pytest.raises(ValueError, match=r"0..3 \(4 classes\)"):
        cbn(x, torch.tensor([0, 1, 2, 4, 1, 0]))
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        cbn(torch.randn(6, 2, 5, 5), y)


@pytest.mark.parametrize("n_layers, field", [(1, 16), (2, 34), (3, 70)])
def test_patch_receptive_field_is_the_papers_70_for_three_layers(n_layers, field):
    # the formula of the property against a measurement: the input pixels whose gradient
    # reaches one output logit, on an input large enough that no border clips the field
    D = PatchDiscriminator(2, width=4, n_layers=n_layers, norm="none").eval()
    assert D.receptive_field == field
    x = torch.randn(1, 2, 160, 160, requires_grad=True)
    out = D(x)
    out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()
    seen = (x.grad.abs().sum(dim=(0, 1)) > 0)
    rows, cols = seen.any(1).nonzero(), seen.any(0).nonzero()
    assert int(rows.max() - rows.min() + 1) == field == int(cols.max() - cols.min() + 1)


def test_weight_norm_linear_separates_direction_and_length():
    torch.manual_seed(0)
    layer = gc.models.WeightNormLinear(6, 4)
    with torch.no_grad():
        layer.g.copy_(torch.tensor([0.5, 1.0, 2.0, 3.0]))
    # every unit's weight vector has length g_j, whatever the length of v_j
    assert torch.allclose(layer.weight().norm(dim=1), layer.g)
    with torch.no_grad():
        layer.v.mul_(7.0)
    assert torch.allclose(layer.weight().norm(dim=1), layer.g)
    x = torch.randn(5, 6)
    assert torch.allclose(layer(x), x @ layer.weight().T + layer.b)
    # data-dependent initialisation: mean 0 and standard deviation 1 per unit on the batch
    batch = torch.randn(300, 6) * 3 + 2
    layer.init_from_data(batch)
    out = layer(batch)
    assert torch.allclose(out.mean(0), torch.zeros(4), atol=1e-4)
    assert torch.allclose(out.std(0, unbiased=False), torch.ones(4), atol=1e-3)
    fixed = gc.models.WeightNormLinear(6, 4, train_scale=False)
    assert {n for n, _ in fixed.named_parameters()} == {"v", "b"}      # g is a buffer


def test_gaussian_noise_only_in_training():
    layer = gc.models.GaussianNoise(0.5)
    x = torch.zeros(200_000)
    assert torch.equal(layer.eval()(x), x)
    noisy = layer.train()(x)
    assert abs(float(noisy.std()) - 0.5) < 0.01 and abs(float(noisy.mean())) < 0.01
    with pytest.raises(ValueError, match=">= 0"):
        gc.models.GaussianNoise(-0.1)


def test_semi_supervised_mlp_networks():
    torch.manual_seed(0)
    D = gc.models.SemiSupervisedMLPDiscriminator(10, hidden=(64, 32))
    G = gc.models.SemiSupervisedMLPGenerator(z_dim=16, hidden=(32,))
    x = torch.rand(128, 1, 32, 32) * 2 - 1
    D.init_from_data(x)
    # after the data-dependent initialisation, every pre-activation of the hidden layers and
    # the logits has mean 0 and standard deviation 1 on that batch (noise off)
    h = (x.flatten(1) + 1) / 2
    for layer in [*D.body, *D.head]:
        if isinstance(layer, gc.models.WeightNormLinear):
            pre = layer(h)
            assert torch.allclose(pre.mean(0), torch.zeros(pre.shape[1]), atol=1e-4)
            assert torch.allclose(pre.std(0, unbiased=False), torch.ones(pre.shape[1]), atol=1e-3)
        if not isinstance(layer, gc.models.GaussianNoise):
            h = layer(h)
    D.eval()
    assert D(x).shape == (128, 10) and D.features(x).shape == (128, 32)
    assert torch.equal(D(x), D(x))                              # eval: deterministic
    assert not torch.equal(D.train()(x), D(x))                  # training: noisy
    with pytest.raises(ValueError, match=r"\(B, 1, 32, 32\)"):
        D(torch.zeros(2, 1, 28, 28))
    fake = G(torch.rand(4, 16))
    assert fake.shape == (4, 1, 32, 32) and fake.abs().max() <= 1
    logits = D(fake)
    assert torch.allclose(D.real_logit(logits), torch.logsumexp(logits, 1))
    # the semi-supervised step runs with these networks and returns its extras
    gen = torch.Generator().manual_seed(0)
    opt_g, opt_d = (torch.optim.Adam(m.parameters(), 3e-3, betas=(0.5, 0.999)) for m in (G, D))
    lab = train.batches((x[:20], torch.arange(20) % 10), 20, rng=gen)
    unl = train.batches(x, 16, rng=gen)
    out = train.semi_supervised_step(G, D, opt_g, opt_d, lab, unl, lambda n: torch.rand(n, 16, generator=gen),
                                     unlabelled_weight=0.5)
    assert {"loss_sup", "loss_unsup", "loss_d", "loss_g", "d_real", "d_fake"} <= set(out)
    assert torch.isclose(out["loss_d"], out["loss_sup"] + 0.5 * out["loss_unsup"])
