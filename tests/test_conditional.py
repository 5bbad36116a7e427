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
