"""Every step function against a written-out reference of its update, in micrograd's spirit.

For each game the test builds the players twice with the same weights, runs the package's
step on one copy and, on the other, the update written out here with plain PyTorch (the
losses spelled out from the papers, one optimiser step per player, in the paper's order).
Plain SGD makes the weights after the step a direct function of the gradients, so a wrong
sign, term, factor, order of the two updates or a missing ``detach`` changes them. The
weights (and batch-norm statistics) of both players and the returned losses must agree to
float precision. Where the package deliberately differs from the paper, the reference
follows the package and a comment says how the paper differs.
"""

import copy

import pytest
import torch
import torch.nn.functional as F

import gan_course as gc
from gan_course import train
from gan_course.models import (
    ACGANDiscriminator,
    ConditionalDiscriminator,
    ConditionalGenerator,
    CoupledDiscriminators,
    CoupledGenerators,
    DCGANConfig,
    DCGANGenerator,
    MLPDiscriminator,
    MLPGenerator,
    PatchDiscriminator,
    ResnetGenerator,
    SemiSupervisedDiscriminator,
    StarDiscriminator,
    StarGenerator,
    UNetGenerator,
)

CFG = DCGANConfig(z_dim=8, width=4)
LR = 0.1
B = 8


def sgd(*players):
    return torch.optim.SGD([p for m in players for p in m.parameters()], lr=LR)


def grad_norm(*players):
    return torch.cat([p.grad.flatten() for m in players for p in m.parameters() if p.grad is not None]).norm()


def bce(logits, target):
    """Cross-entropy against a constant label: -log sigmoid(l) for 1, -log(1 - sigmoid(l)) for 0."""
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, float(target)))


def step(opt, loss):
    opt.zero_grad()
    loss.backward()
    opt.step()


def twins(*players):
    """The players and an identical copy of them."""
    return players, tuple(copy.deepcopy(m) for m in players)


def assert_same_state(package, reference, before):
    for p_mod, r_mod, b_mod in zip(package, reference, before):
        p_state, r_state, b_state = p_mod.state_dict(), r_mod.state_dict(), b_mod.state_dict()
        for key in p_state:
            assert torch.allclose(p_state[key].float(), r_state[key].float(), rtol=1e-5, atol=1e-6), key
        moved = [k for k in p_state if p_state[k].is_floating_point() and not torch.equal(p_state[k], b_state[k])]
        assert moved, f"{type(p_mod).__name__} did not change: the test would not see a wrong update"


def assert_same_values(out, want):
    for key, value in want.items():
        assert float(out[key]) == pytest.approx(float(torch.as_tensor(value).detach()), rel=1e-5, abs=1e-6), key


def images(n=B, channels=1, side=32, seed=0):
    return torch.rand(n, channels, side, side, generator=torch.Generator().manual_seed(seed)) * 2 - 1


# --- the unconditional game (Goodfellow et al., Algorithm 1; Mao et al. for least squares) ---

@pytest.mark.parametrize("d_loss, g_loss, k", [("bce", "nonsaturating", 1), ("bce", "minimax", 2),
                                               ("least_squares", "least_squares", 1)])
def test_gan_step_matches_algorithm_1(d_loss, g_loss, k):
    torch.manual_seed(0)
    (G, D), (G_ref, D_ref) = twins(MLPGenerator(z_dim=2, data_dim=2, hidden=(16, 16), norm="batch"),
                                   MLPDiscriminator(data_dim=2, hidden=(16,)))
    before = copy.deepcopy((G, D))
    gen = torch.Generator().manual_seed(1)
    reals = [torch.randn(B, 2, generator=gen) + 2 for _ in range(k)]
    zs = [torch.randn(B, 2, generator=gen) for _ in range(k)]
    noise = iter(zs)
    out = train.gan_step(G, D, sgd(G), sgd(D), iter(reals), lambda n: next(noise), k=k, d_loss=d_loss,
                         g_loss=g_loss)

    opt_g, opt_d = sgd(G_ref), sgd(D_ref)
    for real, z in zip(reals, zs):                       # k steps of D on fresh batches
        fake = G_ref(z)
        if d_loss == "bce":                              # -V: BCE(D(x), 1) + BCE(D(G(z)), 0)
            loss_d = bce(D_ref(real), 1) + bce(D_ref(fake.detach()), 0)
        else:                                            # ½ E(D(x) - 1)² + ½ E D(G(z))²
            loss_d = 0.5 * ((D_ref(real) - 1) ** 2).mean() + 0.5 * (D_ref(fake.detach()) ** 2).mean()
        real_out, fake_out = D_ref(real).detach(), D_ref(fake.detach()).detach()
        step(opt_d, loss_d)
        norm_d = grad_norm(D_ref)
    logits = D_ref(fake)                                 # G's step on the last generated batch
    loss_g = {"nonsaturating": -torch.log(torch.sigmoid(logits)).mean(),
              "minimax": torch.log(1 - torch.sigmoid(logits)).mean(),
              "least_squares": 0.5 * ((logits - 1) ** 2).mean()}[g_loss]
    step(opt_g, loss_g)
    as_read = torch.sigmoid if d_loss == "bce" else (lambda t: t)
    assert_same_state((G, D), (G_ref, D_ref), before)
    assert_same_values(out, {"loss_d": loss_d, "loss_g": loss_g, "grad_norm_d": norm_d, "grad_norm_g": grad_norm(G_ref),
                             "d_real": as_read(real_out).mean(), "d_fake": as_read(fake_out).mean()})


# --- conditional games (Chapter 7) ---

def _labels(seed=7):
    return torch.randint(10, (B,), generator=torch.Generator().manual_seed(seed))


def test_conditional_step_matches_the_conditional_gan():
    torch.manual_seed(0)
    (G, D), (G_ref, D_ref) = twins(ConditionalGenerator(10, config=CFG), ConditionalDiscriminator(10, config=CFG))
    before = copy.deepcopy((G, D))
    x, y, z = images(), _labels(3), torch.randn(B, 8)
    out = train.conditional_step(G, D, sgd(G), sgd(D), iter([(x, y)]), lambda n: z, n_classes=10,
                                 rng=torch.Generator().manual_seed(7))

    opt_g, opt_d = sgd(G_ref), sgd(D_ref)
    y_fake = _labels(7)                                  # labels of the generated images, drawn with rng
    fake = G_ref(z, y_fake)
    loss_d = bce(D_ref(x, y), 1) + bce(D_ref(fake.detach(), y_fake), 0)
    step(opt_d, loss_d)
    norm_d = grad_norm(D_ref)
    loss_g = bce(D_ref(fake, y_fake), 1)                 # non-saturating, the same generated batch
    step(opt_g, loss_g)
    assert_same_state((G, D), (G_ref, D_ref), before)
    assert_same_values(out, {"loss_d": loss_d, "loss_g": loss_g, "grad_norm_d": norm_d,
                             "grad_norm_g": grad_norm(G_ref)})


@pytest.mark.parametrize("classify_fake", [True, False])
def test_acgan_step_matches_odena_et_al(classify_fake):
    torch.manual_seed(0)
    (G, D), (G_ref, D_ref) = twins(ConditionalGenerator(10, config=CFG), ACGANDiscriminator(10, config=CFG))
    before = copy.deepcopy((G, D))
    x, y, z = images(), _labels(3), torch.randn(B, 8)
    out = train.acgan_step(G, D, sgd(G), sgd(D), iter([(x, y)]), lambda n: z, n_classes=10,
                           classify_fake=classify_fake, rng=torch.Generator().manual_seed(7))

    opt_g, opt_d = sgd(G_ref), sgd(D_ref)
    y_fake = _labels(7)
    fake = G_ref(z, y_fake)
    (src_r, cls_r), (src_f, cls_f) = D_ref(x), D_ref(fake.detach())
    loss_c = F.cross_entropy(cls_r, y) + (F.cross_entropy(cls_f, y_fake) if classify_fake else 0)
    loss_d = bce(src_r, 1) + bce(src_f, 0) + loss_c      # D maximises L_S + L_C
    step(opt_d, loss_d)
    src, cls = D_ref(fake)
    loss_g = bce(src, 1) + F.cross_entropy(cls, y_fake)  # G: non-saturating L_S, and L_C
    step(opt_g, loss_g)
    assert_same_state((G, D), (G_ref, D_ref), before)
    assert_same_values(out, {"loss_d": loss_d, "loss_g": loss_g, "loss_cls": loss_c,
                             "class_acc_real": (cls_r.argmax(1) == y).float().mean()})


def test_semi_supervised_step_matches_salimans_et_al():
    torch.manual_seed(0)
    (G, D), (G_ref, D_ref) = twins(DCGANGenerator(CFG), SemiSupervisedDiscriminator(10, config=CFG, dropout=0.0))
    before = copy.deepcopy((G, D))
    x_lab, y_lab, x_unl, z = images(seed=1), _labels(3), images(seed=2), torch.randn(B, 8)
    out = train.semi_supervised_step(G, D, sgd(G), sgd(D), iter([(x_lab, y_lab)]), iter([x_unl]), lambda n: z)

    opt_g, opt_d = sgd(G_ref), sgd(D_ref)
    fake = G_ref(z)
    loss_sup = F.cross_entropy(D_ref(x_lab), y_lab)
    log_z_real, log_z_fake = torch.logsumexp(D_ref(x_unl), 1), torch.logsumexp(D_ref(fake.detach()), 1)
    # D(x) = Z / (Z + 1): -log D(x) = softplus(-log Z), -log(1 - D(G(z))) = softplus(log Z)
    loss_unsup = F.softplus(-log_z_real).mean() + F.softplus(log_z_fake).mean()
    step(opt_d, loss_sup + loss_unsup)
    # feature matching; the paper's loss is the squared norm ||E f(x) - E f(G(z))||², the package
    # averages over the F features instead of summing (a factor 1/F on G's learning rate)
    f_real, f_fake = D_ref.disc.body(x_unl).flatten(1).mean(0), D_ref.disc.body(fake).flatten(1).mean(0)
    loss_g = ((f_real.detach() - f_fake) ** 2).sum() / f_real.numel()
    step(opt_g, loss_g)
    assert_same_state((G, D), (G_ref, D_ref), before)
    assert_same_values(out, {"loss_d": loss_sup + loss_unsup, "loss_g": loss_g, "loss_sup": loss_sup,
                             "loss_unsup": loss_unsup, "d_real": torch.sigmoid(log_z_real).mean()})


@pytest.mark.parametrize("adversarial", [True, False])
def test_pix2pix_step_matches_isola_et_al(adversarial):
    torch.manual_seed(0)
    (G, D), (G_ref, D_ref) = twins(UNetGenerator(1, width=4, dropout=False), PatchDiscriminator(2, width=4))
    before = copy.deepcopy((G, D))
    a, b = images(seed=1), images(seed=2)
    out = train.pix2pix_step(G, D if adversarial else None, sgd(G), sgd(D) if adversarial else None,
                             iter([(a, b)]), lambda_l1=10.0, adversarial=adversarial)

    opt_g, opt_d = sgd(G_ref), sgd(D_ref)
    fake = G_ref(a)
    loss_g = 10.0 * (fake - b).abs().mean()              # lambda |G(a) - b|_1
    want = {}
    if adversarial:
        # the paper divides D's objective by 2 to slow D down; the package does not
        loss_d = bce(D_ref(torch.cat([a, b], 1)), 1) + bce(D_ref(torch.cat([a, fake.detach()], 1)), 0)
        step(opt_d, loss_d)
        loss_g = loss_g + bce(D_ref(torch.cat([a, fake], 1)), 1)
        want = {"loss_d": loss_d, "grad_norm_d": grad_norm(D_ref)}
    step(opt_g, loss_g)
    if adversarial:
        assert_same_state((G, D), (G_ref, D_ref), before)
    else:
        assert_same_state((G,), (G_ref,), before[:1])
        assert torch.equal(D.head.weight, before[1].head.weight) and not {"loss_d", "d_real"} & set(out)
    assert_same_values(out, {**want, "loss_g": loss_g, "grad_norm_g": grad_norm(G_ref)})


# --- translation games (Chapters 8-10) ---

def test_cyclegan_step_matches_zhu_et_al():
    torch.manual_seed(0)
    players = (ResnetGenerator(1, width=4, n_blocks=1), ResnetGenerator(1, width=4, n_blocks=1),
               PatchDiscriminator(1, width=4, norm="instance"), PatchDiscriminator(1, width=4, norm="instance"))
    (G_ab, G_ba, D_a, D_b), (R_ab, R_ba, R_a, R_b) = twins(*players)
    before = copy.deepcopy(players)
    a, b = images(seed=1), images(seed=2)
    out = train.cyclegan_step(G_ab, G_ba, D_a, D_b, sgd(G_ab, G_ba), sgd(D_a, D_b), iter([a]), iter([b]),
                              lambda_cycle=10.0, lambda_identity=0.5)

    opt_g, opt_d = sgd(R_ab, R_ba), sgd(R_a, R_b)
    # 1. the generators first. Least-squares GAN terms E(D(G(x)) - 1)²; the package (like
    #    its discriminator loss) carries a factor ½ that the paper's generator loss does not
    fake_b, fake_a = R_ab(a), R_ba(b)
    adversarial = 0.5 * ((R_b(fake_b) - 1) ** 2).mean() + 0.5 * ((R_a(fake_a) - 1) ** 2).mean()
    cycle = (R_ba(fake_b) - a).abs().mean() + (R_ab(fake_a) - b).abs().mean()
    identity = (R_ab(b) - b).abs().mean() + (R_ba(a) - a).abs().mean()
    loss_g = adversarial + 10.0 * cycle + 10.0 * 0.5 * identity
    opt_g.zero_grad()
    loss_g.backward()
    norm_g = grad_norm(R_ab, R_ba)
    opt_g.step()
    # 2. then the discriminators, on the same generated images (no history pool here)
    opt_d.zero_grad()                                    # drop what G's backward left in D
    loss_d = (0.5 * ((R_b(b) - 1) ** 2).mean() + 0.5 * (R_b(fake_b.detach()) ** 2).mean()
              + 0.5 * ((R_a(a) - 1) ** 2).mean() + 0.5 * (R_a(fake_a.detach()) ** 2).mean())
    step(opt_d, loss_d)
    assert_same_state((G_ab, G_ba, D_a, D_b), (R_ab, R_ba, R_a, R_b), before)
    assert_same_values(out, {"loss_g": loss_g, "loss_d": loss_d, "loss_cycle": cycle, "loss_identity": identity,
                             "loss_adv": adversarial, "grad_norm_g": norm_g, "grad_norm_d": grad_norm(R_a, R_b)})


def test_stargan_step_matches_choi_et_al():
    torch.manual_seed(0)
    (G, D), (G_ref, D_ref) = twins(StarGenerator(3, width=4, n_blocks=1), StarDiscriminator(3, width=4, n_layers=2))
    before = copy.deepcopy((G, D))
    x, d_org = images(side=16), torch.randint(3, (B,), generator=torch.Generator().manual_seed(3))
    out = train.stargan_step(G, D, sgd(G), sgd(D), iter([(x, d_org)]), n_domains=3, lambda_cls=2.0,
                             lambda_rec=5.0, rng=torch.Generator().manual_seed(7))

    opt_g, opt_d = sgd(G_ref), sgd(D_ref)
    d_trg = torch.randint(3, (B,), generator=torch.Generator().manual_seed(7))
    c_org, c_trg = F.one_hot(d_org, 3).float(), F.one_hot(d_trg, 3).float()
    # the paper's adversarial loss is WGAN-GP; the package (Chapter 9) uses the non-saturating GAN
    fake = G_ref(x, c_trg)
    (src_r, cls_r), (src_f, _) = D_ref(x), D_ref(fake.detach())
    loss_d_cls = F.cross_entropy(cls_r, d_org)           # D classifies the domain of REAL images only
    loss_d = bce(src_r, 1) + bce(src_f, 0) + 2.0 * loss_d_cls
    step(opt_d, loss_d)
    src, cls = D_ref(fake)
    loss_rec = (G_ref(fake, c_org) - x).abs().mean()     # back with the original label
    loss_g = bce(src, 1) + 2.0 * F.cross_entropy(cls, d_trg) + 5.0 * loss_rec
    step(opt_g, loss_g)
    assert_same_state((G, D), (G_ref, D_ref), before)
    assert_same_values(out, {"loss_d": loss_d, "loss_g": loss_g, "loss_d_cls": loss_d_cls, "loss_rec": loss_rec})


def test_stargan_attribute_step_matches_the_celeba_setting():
    torch.manual_seed(0)
    (G, D), (G_ref, D_ref) = twins(StarGenerator(3, channels=3, width=4, n_blocks=1),
                                   StarDiscriminator(3, channels=3, width=4, n_layers=2))
    before = copy.deepcopy((G, D))
    x = images(6, channels=3, side=16)
    attrs = torch.tensor([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1], [1, 0, 0], [0, 1, 1]]).float()
    out = train.stargan_attribute_step(G, D, sgd(G), sgd(D), iter([(x, attrs)]),
                                       rng=torch.Generator().manual_seed(7))

    opt_g, opt_d = sgd(G_ref), sgd(D_ref)
    c_trg = attrs[torch.randperm(6, generator=torch.Generator().manual_seed(7))]  # another image's attributes

    def attribute_loss(logits, target):                  # BCE per attribute, summed, mean over the batch
        return F.binary_cross_entropy_with_logits(logits, target, reduction="sum") / len(target)

    fake = G_ref(x, c_trg)
    (src_r, cls_r), (src_f, _) = D_ref(x), D_ref(fake.detach())
    loss_d = bce(src_r, 1) + bce(src_f, 0) + attribute_loss(cls_r, attrs)
    step(opt_d, loss_d)
    src, cls = D_ref(fake)
    loss_g = bce(src, 1) + attribute_loss(cls, c_trg) + 10.0 * (G_ref(fake, attrs) - x).abs().mean()
    step(opt_g, loss_g)
    assert_same_state((G, D), (G_ref, D_ref), before)
    assert_same_values(out, {"loss_d": loss_d, "loss_g": loss_g})


def test_cogan_step_matches_liu_and_tuzel():
    torch.manual_seed(0)
    (Gs, Ds), (Gs_ref, Ds_ref) = twins(CoupledGenerators(z_dim=8, width=4, n_shared=2),
                                       CoupledDiscriminators(width=4, n_shared=2))
    before = copy.deepcopy((Gs, Ds))
    x1, x2, z = images(seed=1), images(seed=2), torch.randn(B, 8)
    out = train.cogan_step(Gs, Ds, sgd(Gs), sgd(Ds), iter([x1]), iter([x2]), lambda n: z)

    opt_g, opt_d = sgd(Gs_ref), sgd(Ds_ref)
    f1, f2 = Gs_ref.g1(z[:, :, None, None]), Gs_ref.g2(z[:, :, None, None])   # one z for both domains
    r1, r2 = Ds_ref.d1(x1), Ds_ref.d2(x2)
    q1, q2 = Ds_ref.d1(f1.detach()), Ds_ref.d2(f2.detach())
    loss_d = bce(r1, 1) + bce(q1, 0) + bce(r2, 1) + bce(q2, 0)   # the sum of the two GANs' losses
    step(opt_d, loss_d)
    loss_g = bce(Ds_ref.d1(f1), 1) + bce(Ds_ref.d2(f2), 1)
    step(opt_g, loss_g)
    assert_same_state((Gs, Ds), (Gs_ref, Ds_ref), before)
    d1_real, d2_real = torch.sigmoid(r1).mean(), torch.sigmoid(r2).mean()
    assert_same_values(out, {"loss_d": loss_d, "loss_g": loss_g, "d1_real": d1_real, "d2_real": d2_real,
                             "d_real": (d1_real + d2_real) / 2})


# --- every step: the same core keys, and mixed precision through `precision` ---

class CPUAutocast(gc.MixedPrecision):
    """bfloat16 autocast on the CPU (the package enables autocast on CUDA only)."""

    def __init__(self):
        super().__init__("cpu", enabled=False)
        self.entered = 0

    def autocast(self):
        self.entered += 1
        return torch.autocast("cpu", dtype=torch.bfloat16)


def _all_steps():
    """(name, players, run(precision)) for every step function, on tiny players."""
    x, y, z = images(), _labels(3), torch.randn(B, 8)
    small, d_small = images(side=16), torch.randint(3, (B,), generator=torch.Generator().manual_seed(3))
    torch.manual_seed(0)
    cases = []
    G, D = DCGANGenerator(CFG), gc.models.DCGANDiscriminator(CFG)
    cases.append(("gan", lambda mp, G=G, D=D: train.gan_step(G, D, sgd(G), sgd(D), iter([x]), lambda n: z,
                                                              precision=mp)))
    G, D = ConditionalGenerator(10, config=CFG), ConditionalDiscriminator(10, config=CFG)
    cases.append(("conditional", lambda mp, G=G, D=D: train.conditional_step(
        G, D, sgd(G), sgd(D), iter([(x, y)]), lambda n: z, n_classes=10, precision=mp)))
    G, D = ConditionalGenerator(10, config=CFG), ACGANDiscriminator(10, config=CFG)
    cases.append(("acgan", lambda mp, G=G, D=D: train.acgan_step(
        G, D, sgd(G), sgd(D), iter([(x, y)]), lambda n: z, n_classes=10, precision=mp)))
    G, D = DCGANGenerator(CFG), SemiSupervisedDiscriminator(10, config=CFG)
    cases.append(("semi_supervised", lambda mp, G=G, D=D: train.semi_supervised_step(
        G, D, sgd(G), sgd(D), iter([(x, y)]), iter([x]), lambda n: z, precision=mp)))
    G, D = UNetGenerator(1, width=4), PatchDiscriminator(2, width=4)
    cases.append(("pix2pix", lambda mp, G=G, D=D: train.pix2pix_step(
        G, D, sgd(G), sgd(D), iter([(x, x)]), precision=mp)))
    Gs = [ResnetGenerator(1, width=4, n_blocks=1) for _ in range(2)]
    Ds = [PatchDiscriminator(1, width=4, norm="instance") for _ in range(2)]
    cases.append(("cyclegan", lambda mp, Gs=Gs, Ds=Ds: train.cyclegan_step(
        *Gs, *Ds, sgd(*Gs), sgd(*Ds), iter([x]), iter([x]), precision=mp)))
    G, D = StarGenerator(3, width=4, n_blocks=1), StarDiscriminator(3, width=4, n_layers=2)
    cases.append(("stargan", lambda mp, G=G, D=D: train.stargan_step(
        G, D, sgd(G), sgd(D), iter([(small, d_small)]), n_domains=3, precision=mp)))
    cases.append(("stargan_attribute", lambda mp, G=G, D=D: train.stargan_attribute_step(
        G, D, sgd(G), sgd(D), iter([(small, F.one_hot(d_small, 3).float())]), precision=mp)))
    Gs, Ds = CoupledGenerators(z_dim=8, width=4), CoupledDiscriminators(width=4)
    cases.append(("cogan", lambda mp, Gs=Gs, Ds=Ds: train.cogan_step(
        Gs, Ds, sgd(Gs), sgd(Ds), iter([x]), iter([x]), lambda n: z, precision=mp)))
    return cases


CORE = {"loss_d", "loss_g", "d_real", "d_fake", "grad_norm_d", "grad_norm_g"}


STEPS = _all_steps()


@pytest.mark.parametrize("name, run", STEPS, ids=[name for name, _ in STEPS])
def test_every_step_returns_the_core_keys_and_honours_precision(name, run):
    out = run(None)
    assert CORE <= set(out), CORE - set(out)
    assert not any(key.startswith("D(") or "G(z)" in key for key in out)
    assert all(torch.is_tensor(v) and v.ndim == 0 and not v.requires_grad for v in out.values())
    mp = CPUAutocast()
    out = run(mp)
    assert mp.entered >= 2                               # both players' forward passes under autocast
    assert all(torch.isfinite(v.float()) for v in out.values())
