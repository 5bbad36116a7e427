"""Chapter 4: mode-coverage check, packed discriminator, batch-norm option, 2-D figures."""

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import gan_course as gc  # noqa: E402
from gan_course import checks, metrics, train, viz  # noqa: E402
from gan_course.models import MLPDiscriminator, MLPGenerator, PackedDiscriminator  # noqa: E402


# --- the book's solution of the mode-coverage exercise, and typical wrong answers ---

def coverage(samples, means, std):
    dist = torch.cdist(samples, means)
    nearest_d, nearest = dist.min(dim=1)
    good = nearest_d <= 3 * std
    return len(torch.unique(nearest[good])), good.float().mean().item()


def coverage_any_nearest(samples, means, std):  # coverage ignores the distance
    nearest_d, nearest = torch.cdist(samples, means).min(dim=1)
    return len(torch.unique(nearest)), (nearest_d <= 3 * std).float().mean().item()


def coverage_threshold_3(samples, means, std):  # 3 instead of 3 * std
    nearest_d, nearest = torch.cdist(samples, means).min(dim=1)
    good = nearest_d <= 3
    return len(torch.unique(nearest[good])), good.float().mean().item()


def coverage_fraction_of_modes(samples, means, std):  # fraction over modes, not samples
    n, _ = coverage(samples, means, std)
    return n, n / len(means)


def coverage_percent(samples, means, std):
    n, f = coverage(samples, means, std)
    return n, 100 * f


def coverage_squared(samples, means, std):  # squared distance against 3 std
    nearest_d, nearest = torch.cdist(samples, means).min(dim=1)
    good = nearest_d**2 <= 3 * std
    return len(torch.unique(nearest[good])), good.float().mean().item()


def test_check_mode_coverage_passes_the_solution_and_the_package_metric():
    assert checks.check_mode_coverage(coverage).passed

    class Mixture:
        pass

    def via_package(samples, means, std):
        m = Mixture()
        m.means, m.std = means, std
        r = metrics.mode_coverage(samples, m)
        return r.modes, r.high_quality

    assert checks.check_mode_coverage(via_package).passed


@pytest.mark.parametrize("wrong, words", [
    (coverage_any_nearest, "high-quality"),
    (coverage_threshold_3, "3 * std"),
    (coverage_fraction_of_modes, "fraction of modes"),
    (coverage_percent, "percentage"),
    (coverage_squared, "squared distance"),
])
def test_check_mode_coverage_names_the_mistake(wrong, words):
    result = checks.check_mode_coverage(wrong)
    assert not result.passed
    assert words in result.message


def test_check_mode_coverage_unfinished_and_bad_output():
    def todo(samples, means, std):
        raise NotImplementedError

    assert "NotImplementedError" in checks.check_mode_coverage(todo).message
    assert "pair" in checks.check_mode_coverage(lambda s, m, sd: 3).message


# --- packing exercise ---

def test_check_pack_accepts_any_grouping_of_whole_samples():
    assert checks.check_pack(lambda x, m: x.reshape(-1, m * x.shape[1])).passed
    # samples i, i + B/m, ... in one row: also whole samples, each used once
    assert checks.check_pack(lambda x, m: x.reshape(m, -1, x.shape[1]).transpose(0, 1).reshape(-1, m * x.shape[1]))


def test_check_pack_names_the_mistakes():
    split = checks.check_pack(lambda x, m: x.T.reshape(-1, m * x.shape[1]))
    assert not split.passed and "mix coordinates" in split.message
    repeated = checks.check_pack(lambda x, m: x.repeat(1, m))
    assert not repeated.passed and "too many" in repeated.message
    transposed = checks.check_pack(lambda x, m: x.reshape(-1, m * x.shape[1]).T)
    assert not transposed.passed
    dup = checks.check_pack(lambda x, m: torch.cat([x[: len(x) // m]] * m, 1))
    assert not dup.passed and "exactly once" in dup.message


# --- PackedDiscriminator: groups consecutive samples, same function as an MLP on the concatenation ---

def test_packed_discriminator_equals_mlp_on_concatenated_samples():
    torch.manual_seed(0)
    D = PackedDiscriminator(data_dim=2, pack=3, hidden=(16, 16))
    x = torch.randn(12, 2)
    out = D(x)
    assert out.shape == (4,)
    by_hand = D.head(torch.cat([x[0::3], x[1::3], x[2::3]], dim=1)).squeeze(1)
    assert torch.allclose(out, by_hand)
    # pack=1 is an ordinary discriminator with the same weights
    D1 = PackedDiscriminator(data_dim=2, pack=1, hidden=(16,))
    plain = MLPDiscriminator(data_dim=2, hidden=(16,))
    plain.load_state_dict({k.removeprefix("head."): v for k, v in D1.state_dict().items()})
    assert torch.allclose(D1(x), plain(x))


def test_packed_discriminator_per_sample_layers_share_weights():
    torch.manual_seed(0)
    D = PackedDiscriminator(data_dim=2, pack=2, hidden=(8, 8, 8), per_sample_layers=3)
    assert D.head.head.in_features == 16
    assert len(D.head.body) == 0  # all hidden layers per sample: a linear head
    x = torch.randn(6, 2)
    h = D.encoder(x)
    by_hand = D.head(torch.cat([h[0::2], h[1::2]], dim=1)).squeeze(1)
    assert torch.allclose(D(x), by_hand)
    # the logit is a sum of one term per slot of the pack (no interaction between samples)
    w = D.head.head.weight[0]
    parts = h @ w[:8], h @ w[8:]
    assert torch.allclose(D(x), parts[0][0::2] + parts[1][1::2] + D.head.head.bias, atol=1e-6)
    with pytest.raises(ValueError, match="per_sample_layers"):
        PackedDiscriminator(data_dim=2, pack=2, hidden=(8, 8), per_sample_layers=3)


def test_packed_discriminator_rejects_bad_input():
    D = PackedDiscriminator(data_dim=2, pack=4, hidden=(8,))
    with pytest.raises(ValueError, match="multiple of pack=4"):
        D(torch.randn(10, 2))
    with pytest.raises(ValueError, match=r"shape \(B, 2\)"):
        D(torch.randn(8, 8))
    with pytest.raises(ValueError, match="pack"):
        PackedDiscriminator(data_dim=2, pack=0)


def test_gan_step_trains_with_a_packed_discriminator():
    torch.manual_seed(0)
    mixture = gc.ring_of_gaussians()
    G = MLPGenerator(z_dim=2, data_dim=2, hidden=(32, 32), norm="batch")
    D = PackedDiscriminator(data_dim=2, pack=2, hidden=(32, 32))
    opt_g = torch.optim.Adam(G.parameters(), 1e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), 1e-3, betas=(0.5, 0.999))
    real = train.batches(mixture, 64)
    out = train.gan_step(G, D, opt_g, opt_d, real, lambda n: torch.randn(n, 2))
    assert all(math.isfinite(float(v)) for v in out.values())


# --- batch-norm option: default unchanged, option adds BatchNorm1d after hidden layers ---

def test_mlp_batch_norm_option():
    plain = MLPGenerator(z_dim=2, data_dim=2, hidden=(8, 8))
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in plain.modules())
    assert list(plain.state_dict()) == ["body.0.weight", "body.0.bias", "body.2.weight", "body.2.bias",
                                        "head.weight", "head.bias"]
    bn = MLPGenerator(z_dim=2, data_dim=2, hidden=(8, 8), norm="batch")
    norms = [m for m in bn.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    assert len(norms) == 2
    # in training mode each hidden unit is normalised over the batch
    torch.manual_seed(0)
    first_linear = next(m for m in bn.body.modules() if isinstance(m, torch.nn.Linear))
    h = norms[0](first_linear(torch.randn(500, 2)))
    assert torch.allclose(h.mean(0), torch.zeros(8), atol=1e-5)
    assert torch.allclose(h.std(0, unbiased=False), torch.ones(8), atol=1e-3)


# --- metrics: samples exactly on the modes ---

def test_mode_coverage_of_the_modes_themselves():
    # (bad input: tests/test_train_metrics.py::test_mode_coverage_rejects_bad_input)
    grid = gc.grid_of_gaussians()
    exact = metrics.mode_coverage(grid.means, grid)
    assert exact.modes == 25 and exact.high_quality == 1.0 and exact.reverse_kl == pytest.approx(0.0)


# --- viz: decision surface shows D(x) and samples_2d draws the modes ---

def test_decision_surface_values_and_samples_2d():
    grid = gc.grid_of_gaussians()
    xs, ys, values = viz.decision_values(lambda p: 3 * p[:, 0] - p[:, 1], lim=2, n=5)
    assert xs.shape == ys.shape == values.shape == (5, 5)
    assert values[0, 0] == pytest.approx(1 / (1 + math.exp(-(3 * -2 - -2))))  # at (x, y) = (-2, -2)
    assert values[0, 4] == pytest.approx(1 / (1 + math.exp(-(3 * 2 - -2))))   # at (2, -2)
    assert values[4, 2] == pytest.approx(1 / (1 + math.exp(2)))                 # at (0, 2)
    D = MLPDiscriminator(data_dim=2, hidden=(8,))
    _, _, from_module = viz.decision_values(D, lim=(-1, 1), n=4)
    assert from_module.min() > 0 and from_module.max() < 1
    fig = viz.decision_surface(D, mixture=grid, n=31, samples=grid.sample(50), title="D")
    ax = fig.axes[0]
    assert len(ax.patches) == 25  # one circle per mode
    assert ax.get_xlim()[0] < -4 < 4 < ax.get_xlim()[1] and ax.get_title() == "D"
    plt.close(fig)
    with pytest.raises(ValueError, match="one value per point"):
        viz.decision_surface(lambda p: p, lim=2, n=5)
    with pytest.raises(ValueError, match="lim"):
        viz.decision_surface(lambda p: p[:, 0], n=5)
    fig = viz.samples_2d(grid.sample(100), grid, title="t")
    assert len(fig.axes[0].patches) == 25 and fig.axes[0].get_title() == "t"
    plt.close(fig)
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        viz.samples_2d(torch.zeros(5, 3), grid)


# --- map_processes: the same results, in order, whether run in workers or here ---

def _square_and_sample(seed):
    torch.manual_seed(seed)
    return seed * seed, torch.randn(3)


def test_map_processes_matches_serial_and_keeps_order():
    parallel = gc.map_processes(_square_and_sample, range(5), processes=2)
    serial = gc.map_processes(_square_and_sample, range(5), processes=1)
    assert [p[0] for p in parallel] == [0, 1, 4, 9, 16]
    assert all(torch.equal(p[1], s[1]) for p, s in zip(parallel, serial))
    assert gc.map_processes(_square_and_sample, []) == []
    with pytest.raises(ValueError, match="processes"):
        gc.map_processes(_square_and_sample, range(2), processes=0)


def _trained_layer(seed):
    torch.manual_seed(seed)
    layer = torch.nn.Linear(3, 2)
    layer.weight.data.mul_(seed + 1)
    return layer, {"seed": seed, "weight": layer.weight.detach().clone()}


def test_map_processes_returns_modules_as_plain_copies_not_shared_memory():
    # results come back through torch.save bytes: equal values, no shared-memory storage
    # (handing storages over as shared-memory descriptors could hang a forked worker)
    for layer, extra in gc.map_processes(_trained_layer, range(3), processes=2):
        torch.manual_seed(extra["seed"])
        expected = torch.nn.Linear(3, 2).weight.detach() * (extra["seed"] + 1)
        assert torch.equal(layer.weight.detach(), expected) and torch.equal(extra["weight"], expected)
        assert not layer.weight.is_shared() and not extra["weight"].is_shared()


# --- pack_interaction: zero for a sum of per-slot terms, the hand value for a D that compares ---

def test_pack_interaction_is_zero_exactly_when_the_logit_is_a_sum_over_the_pack():
    torch.manual_seed(0)
    a, b = torch.randn(40, 2), torch.randn(40, 2)
    for m in (2, 3, 4):
        summed = PackedDiscriminator(data_dim=2, pack=m, hidden=(16, 16), per_sample_layers=2)
        assert metrics.pack_interaction(summed, a, b).abs().max() < 1e-5
        # a head with a hidden layer on the concatenated features (or raw concatenation) compares
        for n in (0, 1):
            comparing = PackedDiscriminator(data_dim=2, pack=m, hidden=(16, 16), per_sample_layers=n)
            assert metrics.pack_interaction(comparing, a, b).abs().max() > 1e-3


class _VarietyScore(torch.nn.Module):
    """A D of pairs whose logit is the squared distance between the two samples."""

    pack = 2

    def __init__(self):
        super().__init__()
        self.unused = torch.nn.Linear(1, 1)  # infer needs a module with parameters

    def forward(self, x):
        pairs = x.reshape(-1, 2, x.shape[1])
        return ((pairs[:, 0] - pairs[:, 1]) ** 2).sum(1)


def test_pack_interaction_of_a_discriminator_that_rewards_variety():
    a = torch.tensor([[0.0, 0.0], [1.0, 2.0]])
    b = torch.tensor([[3.0, 4.0], [1.0, 2.0]])
    # packs (a, a) and (b, b) score 0; (a, b) and (b, a) score |a - b|^2 each
    delta = metrics.pack_interaction(_VarietyScore(), a, b)
    assert torch.allclose(delta, torch.tensor([-2 * 25.0, 0.0]))


def test_pack_interaction_rejects_bad_input():
    plain = PackedDiscriminator(data_dim=2, pack=1, hidden=(8,))
    with pytest.raises(ValueError, match="pack >= 2"):
        metrics.pack_interaction(plain, torch.zeros(3, 2), torch.zeros(3, 2))
    D = PackedDiscriminator(data_dim=2, pack=2, hidden=(8,))
    with pytest.raises(ValueError, match="same shape"):
        metrics.pack_interaction(D, torch.zeros(3, 2), torch.zeros(4, 2))
