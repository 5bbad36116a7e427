"""Unpaired and multi-domain translation: derived domains, photo loaders, CycleGAN, StarGAN,
CoGAN models and steps, and their metrics (Chapters 8-10)."""

import hashlib
import math
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

import gan_course as gc
from gan_course import data, losses, metrics, train
from gan_course.models import (
    CoupledDiscriminators,
    CoupledGenerators,
    ImagePool,
    PatchDiscriminator,
    ResnetGenerator,
    StarDiscriminator,
    StarGenerator,
)
from gan_course.train import linear_decay
from gan_course.models.stargan import one_hot, tile_labels


# --- derived domains ---

def test_domain_transforms():
    x = torch.rand(3, 1, 8, 8) * 2 - 1
    assert torch.equal(data.negatives(data.negatives(x)), x)
    assert torch.equal(data.rotations(x, 4), x) and not torch.equal(data.rotations(x, 1), x)
    assert torch.equal(data.domain_transform("flip")(x), x.flip(-1))
    with pytest.raises(ValueError, match="unknown domain 'sepia'"):
        data.domain_transform("sepia")


def test_unpaired_domains_are_disjoint_and_keep_the_truth():
    u = data.unpaired_domains("identity", "negative", "digits", "train", size=32)
    assert u.a.shape == u.b.shape == (750, 1, 32, 32)
    assert torch.equal(u.truth_ab, -u.a) and torch.equal(u.truth_ba, -u.b)
    # sources of A and of B are different images: no image of A reappears (negated) in B
    flat_a, flat_b = u.a.flatten(1), (-u.b).flatten(1)
    assert torch.cdist(flat_a[:200], flat_b).min() > 0
    assert len(data.unpaired_domains("identity", "edges", "digits", limit=10).a) == 10


# --- photo data loaders, offline on files the tests create ---

def _png(path, size, colour=(255, 0, 0)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)


def test_image_folders_and_their_errors(tmp_path):
    for i in range(3):
        _png(tmp_path / "trainA" / f"{i}.png", (20, 20))
        _png(tmp_path / "trainB" / f"{i}.jpg", (20, 20), (0, 0, 255))
    a, b = data.load_image_folders(tmp_path, "train", size=16)
    assert a.shape == b.shape == (3, 3, 16, 16)
    assert a[:, 0].mean() > 0.9 and b[:, 2].mean() > 0.9              # red A, blue B
    _png(tmp_path / "trainA" / "big.png", (30, 24))
    with pytest.raises(ValueError, match="different sizes"):
        data.load_image_folders(tmp_path, "train", size=None)
    with pytest.raises(FileNotFoundError, match=r"testA/ and testB/.*found: \['trainA', 'trainB'\]"):
        data.load_image_folders(tmp_path, "test")


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_cyclegan_download_from_local_archive(tmp_path):
    src = tmp_path / "src"
    for side in ("trainA", "trainB", "testA", "testB"):
        _png(src / "tiny2tiny" / side / "0.png", (8, 8))
    archive = tmp_path / "tiny2tiny.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in (src / "tiny2tiny").rglob("*.png"):
            z.write(f, f.relative_to(src))
    root = tmp_path / "cache"
    target = data.download_cyclegan_dataset("tiny2tiny", root, url=archive.as_uri(), sha256=_sha256(archive))
    assert (target / "trainA" / "0.png").exists()
    assert data.download_cyclegan_dataset("tiny2tiny", root, url="file:///nonexistent") == target  # already there
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="zip"):
        data.download_cyclegan_dataset("other", root, url=(tmp_path / "bad.zip").as_uri(),
                                       sha256=_sha256(tmp_path / "bad.zip"))
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("../escape.txt", "x")
    with pytest.raises(ValueError, match="unsafe"):
        data.download_cyclegan_dataset("evil", root, url=evil.as_uri(), sha256=_sha256(evil))
    assert not (tmp_path / "escape.txt").exists() and list(root.glob("*.part")) == []


def test_celeba_reader(tmp_path):
    base = tmp_path / "celeba"
    names = ["000001.jpg", "000002.jpg", "000003.jpg"]
    for i, n in enumerate(names):
        _png(base / "img_align_celeba" / n, (20, 24), (40 * i, 0, 0))
    attrs = ["Black_Hair", "Blond_Hair", "Male"]
    lines = ["3", " ".join(attrs)] + [f"{n} {1 if i == 0 else -1} {1 if i == 1 else -1} {1 if i < 2 else -1}"
                                      for i, n in enumerate(names)]
    (base / "list_attr_celeba.txt").write_text("\n".join(lines))
    (base / "list_eval_partition.txt").write_text("\n".join(f"{n} {0 if i < 2 else 2}" for i, n in enumerate(names)))
    x, a = data.load_celeba(tmp_path, ("Blond_Hair", "Male"), "train", size=16)
    assert x.shape == (2, 3, 16, 16) and a.tolist() == [[0.0, 1.0], [1.0, 1.0]]
    with pytest.raises(ValueError, match="unknown CelebA attributes"):
        data.load_celeba(tmp_path, ("Bald",))
    with pytest.raises(FileNotFoundError, match="CelebA file missing"):
        data.load_celeba(tmp_path / "none")


# --- CycleGAN parts ---

def test_resnet_generator_and_residual_blocks():
    G = ResnetGenerator(1, width=4, n_blocks=2)
    assert G(torch.randn(2, 1, 32, 32)).shape == (2, 1, 32, 32)
    assert G(torch.randn(1, 1, 20, 28)).shape == (1, 1, 20, 28)           # any size divisible by 4
    assert len(G.blocks) == 2 and all(isinstance(b, gc.models.ResidualBlock) for b in G.blocks)
    block = next(iter(G.blocks))                                          # the first residual block
    for norm in [m for m in block.f.modules() if isinstance(m, torch.nn.InstanceNorm2d)]:
        torch.nn.init.zeros_(norm.weight)                                 # F(x) = 0 ...
        torch.nn.init.zeros_(norm.bias)
    h = torch.randn(2, 16, 8, 8)
    assert torch.equal(block(h), h)                                       # ... so the block is the identity
    for stage in (G.stem, G.head):                                        # reflection padding, no zeros
        assert any(isinstance(m, torch.nn.ReflectionPad2d) for m in stage.modules())
        assert not any(isinstance(m, torch.nn.ZeroPad2d) for m in stage.modules())
    assert any(isinstance(m, torch.nn.ZeroPad2d) for m in ResnetGenerator(1, stem_padding="zeros").stem.modules())
    assert any(isinstance(m, torch.nn.InstanceNorm2d) for m in G.modules())
    with pytest.raises(ValueError, match="divisible by 4"):
        G(torch.randn(1, 1, 30, 32))
    with pytest.raises(ValueError, match="stem_padding"):
        ResnetGenerator(1, stem_padding="circular")
    patch = PatchDiscriminator(1, width=4, n_layers=2, norm="instance")
    assert patch(torch.randn(2, 1, 32, 32)).shape == (2, 1, 6, 6)


def test_image_pool_and_schedule():
    pool = ImagePool(size=4, seed=0)
    first = torch.arange(4.0).view(4, 1)
    assert torch.equal(pool.query(first), first) and len(pool.images) == 4
    later = pool.query(torch.full((50, 1), 9.0))
    assert later.shape == (50, 1) and set(later.flatten().tolist()) - {9.0}     # some history comes back
    assert torch.equal(ImagePool(0).query(first), first)
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    sched = linear_decay(opt, total_steps=10, decay_from=0.5)
    lrs = []
    for _ in range(10):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[:6] == [1.0] * 6 and lrs[6] == pytest.approx(0.8) and opt.param_groups[0]["lr"] == 0.0


def test_cycle_loss_is_a_norm():
    x = torch.zeros(2, 1, 4, 4)
    darker = x - 0.5
    assert losses.cycle_consistency_loss(x, darker).item() == pytest.approx(0.5)   # not -0.5
    assert losses.cycle_consistency_loss(x, x + 0.5).item() == pytest.approx(0.5)
    with pytest.raises(ValueError, match="same shape"):
        losses.identity_loss(x, torch.zeros(2, 1, 4, 5))


# --- StarGAN parts ---

def test_stargan_labels_and_any_size():
    c = one_hot(torch.tensor([0, 2]), 3)
    t = tile_labels(c, 4, 5)
    assert t.shape == (2, 3, 4, 5) and t[1, 2].min() == 1 and t[1, :2].max() == 0
    with pytest.raises(ValueError, match=r"0..2 \(3 domains\)"):
        one_hot(torch.tensor([3]), 3)
    G, D = StarGenerator(3, width=4, n_blocks=1), StarDiscriminator(3, width=4, n_layers=3)
    x = torch.randn(2, 1, 32, 32)
    assert G(x, c).shape == (2, 1, 32, 32)
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        G(x, one_hot(torch.tensor([0, 1]), 2))
    for side in (32, 48, 64):
        src, cls = D(torch.randn(2, 1, side, side))
        assert src.shape == (2, 1, side // 8, side // 8) and cls.shape == (2, 3)
    multi = losses.domain_classification_loss(torch.zeros(2, 3), torch.tensor([[1.0, 0, 1], [0, 0, 0]]))
    assert multi.item() == pytest.approx(3 * math.log(2))


# --- CoGAN weight sharing ---

@pytest.mark.parametrize("n_shared", [0, 1, 2, 3])
def test_cogan_shares_exactly_the_named_layers(n_shared):
    Gs = CoupledGenerators(z_dim=8, width=4, channels=1, n_shared=n_shared)
    Ds = CoupledDiscriminators(width=4, channels=1, n_shared=n_shared)
    g1 = {id(p) for p in Gs.g1.parameters()}
    g2 = {id(p) for p in Gs.g2.parameters()}
    shared_g = {id(p) for p in Gs.shared.parameters()}
    assert g1 & g2 == shared_g
    assert (len(shared_g) > 0) == (n_shared > 0)
    # the shared layers are the FIRST of the generators and the LAST of the discriminators
    stages_g = ("stem", "up1", "up2", "head")
    stages_d = ("down1", "down2", "down3", "head")
    assert [getattr(Gs.g1, s) is getattr(Gs.g2, s) for s in stages_g] == [i < n_shared for i in range(4)]
    assert [getattr(Ds.d1, s) is getattr(Ds.d2, s) for s in stages_d] == [i >= 4 - n_shared for i in range(4)]
    assert list(dict(Gs.shared.named_children())) == list(stages_g[:n_shared])
    d_shared = {id(p) for p in Ds.d1.parameters()} & {id(p) for p in Ds.d2.parameters()}
    assert d_shared == {id(p) for p in Ds.shared.parameters()}
    a, b = Gs(torch.randn(3, 8))
    assert a.shape == b.shape == (3, 1, 32, 32)
    assert [t.shape for t in Ds(a, b)] == [(3,), (3,)]
    # one gradient step through G1 alone changes the shared weights that G2 uses
    if n_shared:
        before = [p.clone() for p in Gs.g2.stem.parameters()]
        Gs.g1(torch.randn(3, 8, 1, 1)).mean().backward()
        torch.optim.SGD(Gs.parameters(), lr=1.0).step()
        assert any(not torch.equal(b, p) for b, p in zip(before, Gs.g2.stem.parameters()))


def test_cogan_rejects_impossible_sharing():
    with pytest.raises(ValueError, match="between 0 and 3"):
        CoupledGenerators(n_shared=4)
    with pytest.raises(ValueError, match="between 0 and 3"):
        CoupledDiscriminators(n_shared=-1)


# --- the three games run, and their metrics ---

def _opt(*modules):
    return torch.optim.Adam([p for m in modules for p in m.parameters()], lr=2e-4, betas=(0.5, 0.999))


def test_translation_steps_run():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    u = data.unpaired_domains("identity", "negative", "digits", size=32, limit=64)
    ba, bb = train.batches(u.a, 8, rng=gen), train.batches(u.b, 8, rng=gen)
    G_ab, G_ba = ResnetGenerator(1, width=4, n_blocks=1), ResnetGenerator(1, width=4, n_blocks=1)
    D_a, D_b = (PatchDiscriminator(1, width=4, n_layers=2, norm="instance") for _ in range(2))
    opt_g, opt_d = _opt(G_ab, G_ba), _opt(D_a, D_b)
    pools = (ImagePool(), ImagePool())
    hist = train.fit(lambda: train.cyclegan_step(G_ab, G_ba, D_a, D_b, opt_g, opt_d, ba, bb, pools=pools), 3,
                     schedulers=[linear_decay(opt_g, 4)], progress=False)
    assert {"loss_d", "loss_adv", "loss_cycle", "loss_identity", "d_real", "d_fake"} <= set(hist.values)
    assert opt_g.param_groups[0]["lr"] == pytest.approx(2e-4 * 0.5) and opt_d.param_groups[0]["lr"] == 2e-4
    out = train.cyclegan_step(G_ab, G_ba, None, None, opt_g, None, ba, bb, adversarial=False)
    assert "loss_d" not in out and "d_real" not in out and math.isfinite(float(out["loss_cycle"]))

    digits = gc.load_images("digits", size=32)
    images = torch.cat([digits.images[:32], -digits.images[:32]])
    labels = torch.cat([torch.zeros(32, dtype=torch.long), torch.ones(32, dtype=torch.long)])
    G, D = StarGenerator(2, width=4, n_blocks=1), StarDiscriminator(2, width=4, n_layers=3)
    pairs = train.batches((images, labels), 8, rng=gen)
    out = train.stargan_step(G, D, _opt(G), _opt(D), pairs, n_domains=2, rng=gen)
    assert {"loss_rec", "loss_g_cls", "loss_d_cls"} <= set(out) and math.isfinite(float(out["loss_g"]))

    Gs, Ds = CoupledGenerators(z_dim=8, width=4), CoupledDiscriminators(width=4)
    opt_g, opt_d = _opt(Gs), _opt(Ds)
    b1, b2 = train.batches(u.a, 8, rng=gen), train.batches(u.b, 8, rng=gen)
    hist = train.fit(lambda: train.cogan_step(Gs, Ds, opt_g, opt_d, b1, b2, lambda n: torch.randn(n, 8, generator=gen)),
                     2, progress=False)
    assert all(math.isfinite(v) for v in hist["loss_g"])


def test_pixel_agreement_and_domain_classifier():
    a = torch.tensor([[-1.0, 1.0, 0.5, -0.5]])
    assert metrics.pixel_agreement(a, a) == 1.0 and metrics.pixel_agreement(a, -a) == 0.0
    assert metrics.pixel_agreement(a, torch.tensor([[-1.0, 1.0, -0.5, -0.5]])) == 0.75
    with pytest.raises(ValueError):
        metrics.pixel_agreement(a, a[:, :2])
    digits = gc.load_images("digits", size=32).images
    clf = metrics.domain_classifier({"plain": digits[:300], "negative": -digits[300:600]}, steps=30)
    assert clf.test_accuracy > 0.9 and clf.net.n_classes == 2


def test_domain_and_pair_explorers():
    pytest.importorskip("ipywidgets")
    G = StarGenerator(3, width=4, n_blocks=1)
    pool = torch.randn(5, 1, 32, 32)
    e = gc.widgets.DomainExplorer(G, pool, ["a", "b", "c"])
    assert e.images.shape == (4, 1, 32, 32) and torch.equal(e.images[0], pool[0])
    e.index.value = 3
    assert torch.equal(e.source[0], pool[3])
    p = gc.widgets.PairExplorer(CoupledGenerators(z_dim=8, width=4), 8, n=3)
    first = p.images.clone()
    p.resample()
    assert p.images.shape == (6, 1, 32, 32) and not torch.equal(first, p.images)
