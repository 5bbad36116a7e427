"""Chapter 9 (StarGAN): the checks pass the book's solutions and name typical mistakes; the
generator really uses its target label; parameter counts and the multi-label loss."""

import math

import pytest
import torch
import torch.nn.functional as F

from gan_course import checks, losses, train
from gan_course.models import ResnetGenerator, StarDiscriminator, StarGenerator
from gan_course.models.stargan import one_hot, tile_labels


def tile_ok(c, h, w):
    return c.float()[:, :, None, None].expand(-1, -1, h, w)


@pytest.mark.parametrize("wrong, words", [
    (lambda c, h, w: c.float()[:, None, None, :].expand(-1, h, w, -1), "dimension order"),
    (lambda c, h, w: c.float()[:, :, None, None], "not expanded"),
    (lambda c, h, w: c.float(), "not expanded"),
    (lambda c, h, w: tile_ok(c, h, w).long(), "must be floats"),
    (lambda c, h, w: c.argmax(1).float()[:, None, None, None].expand(-1, 1, h, w), "domain index"),
    (lambda c, h, w: tile_ok(c, w, h), "swapped"),
    (lambda c, h, w: tile_ok(F.one_hot(c.argmax(1), c.shape[1]), h, w), "one-hot code of its largest"),
    (lambda c, h, w: c.float().repeat(1, h * w).view(len(c), c.shape[1], h, w), "not constant"),
    (lambda c, h, w: tile_ok(c.flip(1), h, w), "reverse order"),
    (lambda c, h, w: (_ for _ in ()).throw(NotImplementedError), "NotImplementedError"),
])
def test_check_label_tiling(wrong, words):
    assert checks.check_label_tiling(tile_ok).passed
    assert checks.check_label_tiling(tile_labels).passed
    assert checks.check_label_tiling(lambda c, h, w: c.float()[:, :, None, None].repeat(1, 1, h, w)).passed
    result = checks.check_label_tiling(wrong)
    assert not result.passed and words in result.message, result.message


def g_loss(G, D, x, d_org, d_trg, lambda_cls, lambda_rec, *, cls_to="trg", rec_with="org", rec_vs="x",
           rec_fn=losses.reconstruction_loss, adv=losses.generator_loss_nonsaturating, weights=None):
    n = D.n_domains
    c_org, c_trg = one_hot(d_org, n), one_hot(d_trg, n)
    fake = G(x, c_trg)
    src, cls = D(fake)
    back = G(fake, c_org if rec_with == "org" else c_trg)
    lc, lr = weights if weights is not None else (lambda_cls, lambda_rec)
    return (adv(src) + lc * losses.domain_classification_loss(cls, d_trg if cls_to == "trg" else d_org)
            + lr * rec_fn(back, x if rec_vs == "x" else fake))


def _wrong(**kw):
    return lambda *args: g_loss(*args, **kw)


@pytest.mark.parametrize("wrong, words", [
    (_wrong(cls_to="org"), "ORIGINAL domain"),
    (_wrong(rec_with="trg"), "uses the target label"),
    (_wrong(rec_vs="fake"), "compared with the fake"),
    (_wrong(rec_fn=lambda a, b: ((a - b) ** 2).mean()), "squared error"),
    (_wrong(adv=losses.generator_loss_minimax), "saturating minimax"),
    (lambda G, D, x, o, t, lc, lr: g_loss(G, D, x, o, t, lr, lc), "swapped"),
    (lambda G, D, x, o, t, lc, lr: g_loss(G, D, x, o, t, lc, lr, weights=(lc, 1.0)), "lambda_rec is not applied"),
    (lambda G, D, x, o, t, lc, lr: g_loss(G, D, x, o, t, lc, lr, weights=(1.0, 1.0)), "neither weight"),
    (lambda G, D, x, o, t, lc, lr: g_loss(G, D, x, o, t, lc, lr, weights=(lc, 0.0)), "reconstruction term is missing"),
    (lambda G, D, x, o, t, lc, lr: g_loss(G, D, x, o, t, lc, lr, weights=(0.0, lr)), "classification term is missing"),
    (lambda *args: g_loss(*args).item(), "no gradient"),
    (lambda *args: g_loss(*args) * 0 + torch.ones(2), "single number"),
])
def test_check_stargan_generator_loss(wrong, words):
    assert checks.check_stargan_generator_loss(g_loss).passed
    result = checks.check_stargan_generator_loss(wrong)
    assert not result.passed and words in result.message, result.message


def test_generator_output_depends_on_the_target_label():
    # a tiled label is constant over the image; with reflection padding the first convolution
    # turns it into a per-channel constant that instance normalisation would subtract again
    torch.manual_seed(0)
    G = StarGenerator(4, width=4, n_blocks=1)
    x = torch.randn(2, 1, 16, 16)
    outs = [G(x, one_hot(torch.tensor([j, j]), 4)) for j in range(4)]
    assert min((outs[j] - outs[0]).abs().max() for j in range(1, 4)) > 1e-3
    # the same weights with reflection padding: the label is normalised away, the target ignored
    torch.manual_seed(0)
    G_reflect = StarGenerator(4, width=4, n_blocks=1, stem_padding="reflect")
    assert all(torch.equal(p, q) for p, q in zip(G.parameters(), G_reflect.parameters()))
    outs = [G_reflect(x, one_hot(torch.tensor([j, j]), 4)) for j in range(4)]
    assert max((outs[j] - outs[0]).abs().max() for j in range(1, 4)) < 1e-4


def test_parameter_count_against_pairwise_generators():
    k, w, nb = 4, 8, 2
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    star, single = count(StarGenerator(k, width=w, n_blocks=nb)), count(ResnetGenerator(1, width=w, n_blocks=nb))
    assert star - single == k * w * 7 * 7                    # only the first convolution grows
    assert k * (k - 1) * single / star > 11


def test_multilabel_domain_loss_and_step_is_finite():
    logits = torch.tensor([[2.0, -1.0], [0.0, 0.5]])
    target = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    want = sum(math.log1p(math.exp(-v if t else v)) for v, t in zip(logits.flatten().tolist(), target.flatten()))
    assert losses.domain_classification_loss(logits, target).item() == pytest.approx(want / 2)
    G, D = StarGenerator(2, width=4, n_blocks=1), StarDiscriminator(2, width=4, n_layers=2)
    x = torch.randn(8, 1, 16, 16)
    d = torch.tensor([0, 1] * 4)
    opt = lambda m: torch.optim.Adam(m.parameters(), 1e-3)  # noqa: E731
    out = train.stargan_step(G, D, opt(G), opt(D), iter([(x, d)]), n_domains=2,
                             rng=torch.Generator().manual_seed(0))
    assert all(math.isfinite(float(v)) for v in out.values())


def test_discriminator_is_fully_convolutional():
    # the same weights accept 32x32 and 64x64 images: the patch map grows, the domain logits do not
    D = StarDiscriminator(4, width=8, n_layers=3)
    for side in (32, 64):
        src, cls = D(torch.randn(2, 1, side, side))
        assert src.shape == (2, 1, side // 8, side // 8)
        assert cls.shape == (2, 4)
    # the domain logits are the mean of a per-position map: a tiled input gives the same answer
    x = torch.randn(1, 1, 32, 32)
    with torch.no_grad():
        assert D(x)[0].shape == (1, 1, 4, 4)
        assert torch.isfinite(D(x.repeat(1, 1, 2, 2))[1]).all()


def test_pairwise_parameter_counts():
    from gan_course.models import count_parameters
    from gan_course.models.stargan import pairwise_parameter_counts

    for k in (2, 3, 5):
        out = pairwise_parameter_counts(k, channels=1, width=8, n_blocks=2)
        one = count_parameters(ResnetGenerator(1, width=8, n_blocks=2))
        assert out["cyclegan_one"] == one and out["n_generators"] == k * (k - 1)
        assert out["pairwise"] == k * (k - 1) * one
        assert out["stargan"] == count_parameters(StarGenerator(k, width=8, n_blocks=2))
        assert out["stargan"] - one == k * 8 * 7 * 7          # only the first convolution grows
        assert out["ratio"] == pytest.approx(out["pairwise"] / out["stargan"])
    ratios = [pairwise_parameter_counts(k, width=8, n_blocks=2)["ratio"] for k in range(2, 9)]
    assert all(a < b for a, b in zip(ratios, ratios[1:]))  # the saving grows with k
    with pytest.raises(ValueError, match="at least 2 domains"):
        pairwise_parameter_counts(1)


def test_attribute_step_uses_per_attribute_targets_and_trains():
    torch.manual_seed(0)
    G, D = StarGenerator(3, channels=3, width=4, n_blocks=1), StarDiscriminator(3, channels=3, width=4, n_layers=2)
    x = torch.rand(6, 3, 16, 16) * 2 - 1
    attrs = torch.tensor([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1], [1, 0, 0], [0, 1, 1]]).float()
    opt = lambda m: torch.optim.Adam(m.parameters(), 1e-3)  # noqa: E731
    before = [p.clone() for p in G.parameters()]
    out = train.stargan_attribute_step(G, D, opt(G), opt(D), iter([(x, attrs)]),
                                       rng=torch.Generator().manual_seed(0))
    assert all(math.isfinite(float(v)) for v in out.values())
    assert any((p - q).abs().max() > 0 for p, q in zip(G.parameters(), before))
    # D's domain loss on real images is the binary cross-entropy towards the real attributes
    # (its weights changed after the step, so recompute before any step with a fresh D)
    D2 = StarDiscriminator(3, channels=3, width=4, n_layers=2)
    D2_copy = StarDiscriminator(3, channels=3, width=4, n_layers=2)
    D2_copy.load_state_dict(D2.state_dict())
    _, cls = D2_copy(x)
    want = F.binary_cross_entropy_with_logits(cls, attrs, reduction="sum") / len(x)
    out = train.stargan_attribute_step(G, D2, opt(G), torch.optim.SGD(D2.parameters(), 0.0),
                                       iter([(x, attrs)]), rng=torch.Generator().manual_seed(0))
    assert float(out["loss_d_cls"]) == pytest.approx(float(want.detach()), rel=1e-5)


def _first_conv(D):
    return next(m for m in D.body.modules() if isinstance(m, torch.nn.Conv2d))


def test_discriminator_init_option():
    # "dcgan" (the default) keeps N(0, 0.02) weights; "pytorch" keeps PyTorch's default init,
    # whose logits on the same input are much larger (no normalisation to rescale the signal)
    x = torch.randn(16, 1, 32, 32)
    torch.manual_seed(0)
    D_dcgan = StarDiscriminator(4, width=16, n_layers=3)
    torch.manual_seed(0)
    D_torch = StarDiscriminator(4, width=16, n_layers=3, init="pytorch")
    assert float(_first_conv(D_dcgan).weight.detach().std()) == pytest.approx(0.02, rel=0.2)
    assert float(_first_conv(D_torch).weight.detach().std()) > 0.05
    with torch.no_grad():
        assert D_torch(x)[0].std() > 10 * D_dcgan(x)[0].std()
    with pytest.raises(ValueError, match="init must be"):
        StarDiscriminator(4, width=16, n_layers=3, init="xavier")


def test_attribute_edit_sets_a_hair_colour_or_flips_an_attribute():
    from gan_course.models.stargan import attribute_edit

    # attributes: black, blond, brown hair (exclusive), male, young
    a = torch.tensor([[1, 0, 0, 1, 0], [0, 0, 1, 0, 1], [0, 0, 0, 1, 1]])
    hair = (0, 1, 2)
    blond = attribute_edit(a, 1, exclusive=hair)
    assert blond.dtype == torch.float32
    assert blond.tolist() == [[0, 1, 0, 1, 0], [0, 1, 0, 0, 1], [0, 1, 0, 1, 1]]
    male = attribute_edit(a, 3, exclusive=hair)
    assert male.tolist() == [[1, 0, 0, 0, 0], [0, 0, 1, 1, 1], [0, 0, 0, 0, 1]]
    assert a.tolist()[0] == [1, 0, 0, 1, 0]                  # the input is not modified
    with pytest.raises(ValueError, match="0..4"):
        attribute_edit(a, 5)
    with pytest.raises(ValueError, match=r"\(B, n\)"):
        attribute_edit(a[0], 1)


def test_translation_grid_puts_each_input_before_its_translations():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gan_course import viz

    x = -torch.ones(2, 1, 4, 4)
    cols = [torch.ones(2, 1, 4, 4), torch.zeros(2, 1, 4, 4)]
    fig = viz.translation_grid(x, cols, ["white", "grey"])
    canvas = fig.axes[0].images[0].get_array()
    # row 0: input (black, 0), white (1), grey (0.5); 1-pixel padding between tiles
    assert float(canvas[1, 1]) == 0.0 and float(canvas[1, 6]) == 1.0
    assert float(canvas[1, 11]) == pytest.approx(0.5)
    assert canvas.shape == (2 * 5 + 1, 3 * 5 + 1)
    assert fig.axes[0].get_title() == "input | white | grey"
    plt.close(fig)
    with pytest.raises(ValueError, match="2 columns for 1 names"):
        viz.translation_grid(x, cols, ["white"])
    with pytest.raises(ValueError, match="shape of the inputs"):
        viz.translation_grid(x, [torch.ones(3, 1, 4, 4)], ["white"])


def test_celeba_run_missing_names_each_missing_requirement(tmp_path, monkeypatch):
    from gan_course import data

    monkeypatch.setenv("GAN_COURSE_PROFILE", "cpu")
    missing = data.celeba_run_missing(tmp_path)
    assert "the gpu profile" in missing and any(str(tmp_path) in m for m in missing)
    (tmp_path / "celeba").mkdir()
    (tmp_path / "celeba" / "list_attr_celeba.txt").write_text("")
    assert not any("CelebA" in m for m in data.celeba_run_missing(tmp_path))
    assert not any("CelebA" in m for m in data.celeba_run_missing(tmp_path / "x", download=True))
    monkeypatch.setenv("GAN_COURSE_PROFILE", "gpu")
    assert "the gpu profile" not in data.celeba_run_missing(tmp_path)
    monkeypatch.setattr(data.torch.cuda, "is_available", lambda: False)
    assert "a CUDA GPU" in data.celeba_run_missing(tmp_path)
    monkeypatch.setenv("GAN_COURSE_MAX_STEPS", "2")  # a dry run fits on a CPU
    assert data.celeba_run_missing(tmp_path) == []


def test_the_chapter_reads_celeba_through_the_dry_run_stand_in(tmp_path, monkeypatch):
    from gan_course import data

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("GAN_COURSE_STANDIN", "1")
    root = data.celeba_root(tmp_path / "nothing-here")
    assert (root / "celeba" / "list_attr_celeba.txt").is_file()
    faces, attrs = data.load_celeba(root, split="train", size=32, limit=4)
    assert faces.shape == (4, 3, 32, 32) and attrs.shape[0] == 4
    monkeypatch.delenv("GAN_COURSE_STANDIN")
    assert data.celeba_root(tmp_path / "nothing-here") == tmp_path / "nothing-here"
