"""Chapter 12: the evaluation metrics on cases with known answers, agreement with a maintained
library, the diagnostic dashboard, and the exercise checks."""

import math

import numpy as np
import pytest
import torch

import gan_course as gc
from gan_course import metrics, viz
from gan_course.checks import evaluation as ev_checks


def _gauss(n, d, seed, scale=1.0, shift=0.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64) * scale + shift


# --- the kernel distance (KID) ---

def _mmd_by_loops(a, b, kernel):
    m, n = len(a), len(b)
    aa = sum(kernel(a[i], a[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    bb = sum(kernel(b[i], b[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    ab = sum(kernel(a[i], b[j]) for i in range(m) for j in range(n)) / (m * n)
    return float(aa + bb - 2 * ab)


def test_kernel_distance_equals_the_double_sums_written_out():
    a, b = _gauss(9, 4, 0), _gauss(6, 4, 1, scale=2.0, shift=0.3)
    cubic = lambda x, y: (x @ y / 4 + 1) ** 3  # noqa: E731
    assert metrics.kernel_distance(a, b) == pytest.approx(_mmd_by_loops(a, b, cubic), rel=1e-12)
    # small blocks give the same sums
    assert metrics._kernel_sum(a, b, lambda x, y: (x @ y.T / 4 + 1) ** 3, skip_diagonal=False, block=2) == \
        pytest.approx(float(((a @ b.T / 4 + 1) ** 3).sum()), rel=1e-12)


def test_kernel_distance_with_a_linear_kernel_is_the_unbiased_squared_mean_difference():
    # k(x, y) = <x, y>: MMD^2 = |mu_a - mu_b|^2, and the unbiased estimate has a closed form
    a, b = _gauss(50, 3, 2), _gauss(40, 3, 3, shift=1.0)
    m, n = len(a), len(b)
    sa, sb = a.sum(0), b.sum(0)
    want = ((sa @ sa - (a * a).sum()) / (m * (m - 1)) + (sb @ sb - (b * b).sum()) / (n * (n - 1))
            - 2 * (sa @ sb) / (m * n))
    got = metrics.kernel_distance(a, b, degree=1, gamma=1.0, coef=0.0)
    assert got == pytest.approx(float(want), rel=1e-12)
    assert got == pytest.approx(3.0, abs=0.8)  # |mu_a - mu_b|^2 = 3


def test_kernel_distance_is_unbiased_where_the_plug_in_estimate_is_not():
    # same distribution: the unbiased estimate averages to 0, the biased (V-statistic) one stays positive
    unbiased, biased = [], []
    for seed in range(200):
        a, b = _gauss(20, 5, 2 * seed), _gauss(20, 5, 2 * seed + 1)
        unbiased.append(metrics.kernel_distance(a, b))
        k = lambda x, y: (x @ y.T / 5 + 1) ** 3  # noqa: E731
        biased.append(float(k(a, a).mean() + k(b, b).mean() - 2 * k(a, b).mean()))
    se = np.std(unbiased, ddof=1) / math.sqrt(len(unbiased))
    assert abs(np.mean(unbiased)) < 3 * se
    assert np.mean(biased) > 10 * se
    assert min(unbiased) < 0  # an unbiased estimate of 0 must sometimes be negative


def test_kernel_distance_refuses_bad_input():
    with pytest.raises(ValueError, match="dimension"):
        metrics.kernel_distance(torch.zeros(5, 3), torch.zeros(5, 4))
    with pytest.raises(ValueError, match="two samples"):
        metrics.kernel_distance(torch.zeros(1, 3), torch.zeros(5, 3))
    with pytest.raises(ValueError, match="NaN"):
        metrics.kernel_distance(torch.full((3, 2), math.nan), torch.zeros(3, 2))


def test_frechet_distance_in_one_dimension():
    # (mu_a - mu_b)^2 + (sigma_a - sigma_b)^2 with sample standard deviations (ddof = 1)
    a, b = _gauss(50, 1, 0), _gauss(40, 1, 1, scale=2.0, shift=0.5)
    want = float((a.mean() - b.mean()) ** 2 + (a.std() - b.std()) ** 2)
    assert metrics.frechet_distance(a, b) == pytest.approx(want, rel=1e-9)


# --- agreement with a maintained library (torchmetrics) on the same features ---

def test_frechet_and_kernel_distance_agree_with_torchmetrics():
    tm_fid = pytest.importorskip("torchmetrics.image.fid")
    tm_kid = pytest.importorskip("torchmetrics.image.kid")

    class Features(torch.nn.Module):
        # bypasses the feature extractor: the "images" given to the library are the features
        num_features = 32

        def forward(self, x):
            return x

    g = torch.Generator().manual_seed(0)
    mix = torch.randn(32, 32, generator=g, dtype=torch.float64) / 4
    real = torch.randn(1500, 32, generator=g, dtype=torch.float64) @ mix
    fake = torch.randn(1200, 32, generator=g, dtype=torch.float64) @ (1.3 * mix) + 0.2
    fid = tm_fid.FrechetInceptionDistance(feature=Features())
    fid.update(real, real=True)
    fid.update(fake, real=False)
    ours = metrics.frechet_distance(real, fake)
    assert ours == pytest.approx(float(fid.compute()), rel=1e-3)
    kid = float(tm_kid.poly_mmd(real[:1200], fake))
    assert metrics.kernel_distance(real[:1200], fake) == pytest.approx(kid, rel=1e-6)


# --- k-NN precision and recall ---

def test_precision_recall_hand_computed_in_one_dimension():
    real = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
    fake = torch.tensor([[0.5], [10.0]])
    # k = 1: every real radius is 1, so 0.5 is inside and 10 is not; the two generated points
    # are 9.5 apart, so each generated ball (radius 9.5) holds all four real points
    r = metrics.precision_recall(real, fake, k=1)
    assert (r.precision, r.recall) == (0.5, 1.0)
    # 0.5 lies in the balls of 0 and 1 (radius 1 each), 10 in none: density (2 + 0) / (k M) = 1;
    # the balls of 0 and 1 hold a generated point, those of 2 and 3 do not: coverage 1/2
    assert (r.density, r.coverage) == (1.0, 0.5)
    assert (r.k, r.n_real, r.n_generated) == (1, 4, 2)


def test_one_outlier_fools_precision_but_not_density():
    # k = 2 radii: 0 -> 2, 1 -> 1, 2 -> 1, 3 -> 2, and the outlier 20 -> 18 (its 2nd neighbour is 2)
    real = torch.tensor([[0.0], [1.0], [2.0], [3.0], [20.0]])
    single = torch.full((6, 1), 15.0)        # a generator that always returns the same point
    r = metrics.precision_recall(real, single, k=2)
    assert r.precision == 1.0                # inside the outlier's ball
    assert r.density == 0.5                  # one ball of the k = 2 a typical sample sits in
    assert r.coverage == pytest.approx(0.2)  # one real ball of five
    assert r.recall == 0.0                   # the generated balls have radius 0


def test_precision_recall_of_known_generators():
    real = _gauss(400, 2, 0)
    same = metrics.precision_recall(real, real.clone())
    assert same.precision == 1.0 and same.recall == 1.0          # each point is inside its own ball
    assert same.coverage == 1.0 and same.density >= 1 / 3
    far = metrics.precision_recall(real, _gauss(400, 2, 1, shift=100.0))
    assert far.precision == 0.0 and far.recall == 0.0 and far.density == 0.0 and far.coverage == 0.0
    # two separated clusters; the generator reproduces one of them: precise, recall about one half
    two = torch.cat([_gauss(300, 2, 2), _gauss(300, 2, 3, shift=20.0)])
    half = metrics.precision_recall(two, _gauss(300, 2, 4))
    assert half.precision > 0.9 and 0.4 < half.recall < 0.55
    # a spread-out generator covers the data but most of its samples are off the manifold
    wide = metrics.precision_recall(real, _gauss(400, 2, 5, scale=6.0))
    assert wide.precision < 0.3 and wide.recall > 0.9


def test_precision_recall_refuses_bad_input():
    with pytest.raises(ValueError, match="more than k"):
        metrics.precision_recall(torch.zeros(3, 2), torch.zeros(10, 2), k=3)
    with pytest.raises(ValueError, match="positive integer"):
        metrics.precision_recall(torch.zeros(10, 2), torch.zeros(10, 2), k=0)


# --- the classifier score (the Inception-score formula) ---

def test_classifier_score_known_values():
    eye = torch.eye(10, dtype=torch.float64)
    assert metrics.score_from_probabilities(eye) == pytest.approx(10.0)                  # confident, all classes
    assert metrics.score_from_probabilities(torch.full((8, 10), 0.1)) == pytest.approx(1.0)  # unsure
    assert metrics.score_from_probabilities(eye[[3] * 7]) == pytest.approx(1.0)           # confident, one class
    assert metrics.score_from_probabilities(eye[[0, 1] * 5]) == pytest.approx(2.0)
    # each half on its own: one class -> 1, so the mean over two splits is 1
    assert metrics.score_from_probabilities(eye[[0] * 5 + [1] * 5], splits=2) == pytest.approx(1.0)
    # hand computed: p(y|x) = (0.9, 0.1) and (0.1, 0.9): marginal (0.5, 0.5),
    # KL = 0.9 log 1.8 + 0.1 log 0.2 for both
    p = torch.tensor([[0.9, 0.1], [0.1, 0.9]])
    assert metrics.score_from_probabilities(p) == pytest.approx(math.exp(0.9 * math.log(1.8) + 0.1 * math.log(0.2)))
    with pytest.raises(ValueError, match="softmax"):
        metrics.score_from_probabilities(torch.randn(4, 3))


def test_classifier_score_runs_the_classifier():
    from gan_course.models import SmallConvNet

    torch.manual_seed(0)
    clf = metrics.Classifier(SmallConvNet().eval(), "test", 0.0, "", True)
    images = torch.rand(6, 1, 32, 32) * 2 - 1
    with torch.no_grad():
        probs = torch.softmax(clf.net(images), 1)
    assert metrics.classifier_score(clf, images) == pytest.approx(metrics.score_from_probabilities(probs))


# --- the memorisation test ---

def test_memorisation_test_catches_copies_and_passes_new_images():
    g = torch.Generator().manual_seed(0)
    train = torch.rand(300, 1, 8, 8, generator=g)
    heldout = torch.rand(100, 1, 8, 8, generator=g)
    copies = train[:50] + 1e-4 * torch.randn(50, 1, 8, 8, generator=g)
    caught = metrics.memorisation_test(copies, train, heldout, quantile=0.05)
    assert caught.copies == 1.0 and caught.suspicious and caught.ratio < 0.01
    fresh = metrics.memorisation_test(torch.rand(200, 1, 8, 8, generator=g), train, heldout, quantile=0.05)
    assert fresh.copies < 0.15 and not fresh.suspicious and 0.8 < fresh.ratio < 1.2
    assert "held-out" in str(fresh)
    with pytest.raises(ValueError, match="quantile"):
        metrics.memorisation_test(copies, train, heldout, quantile=1.0)


# --- the spectral measure of checkerboard artifacts ---

def _pattern(fn, size=8):
    i, j = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    return fn(i.double(), j.double())[None, None]


def test_checkerboard_energy_known_patterns():
    checker = _pattern(lambda i, j: (-1.0) ** (i + j))
    rows = _pattern(lambda i, j: (-1.0) ** i)
    smooth = _pattern(lambda i, j: torch.cos(2 * math.pi * j / 8))
    assert metrics.checkerboard_energy(checker) == pytest.approx(1.0)
    assert metrics.checkerboard_energy(rows) == pytest.approx(1.0)
    assert metrics.checkerboard_energy(smooth) == pytest.approx(0.0, abs=1e-12)
    assert metrics.checkerboard_energy(torch.ones(2, 1, 8, 8)) == 0.0
    # Parseval: cosine of amplitude a (mean square a^2/2) plus checkerboard c (mean square c^2)
    a, c = 2.0, 0.5
    mixed = a * smooth + c * checker + 3.0
    assert metrics.checkerboard_energy(mixed) == pytest.approx(c ** 2 / (c ** 2 + a ** 2 / 2))


def test_power_spectrum_puts_the_checkerboard_in_the_corner():
    checker = _pattern(lambda i, j: (-1.0) ** (i + j))
    power = metrics.power_spectrum(checker)
    assert power.shape == (8, 8)
    assert power[0, 0] == pytest.approx(64.0 ** 2) and np.isclose(power.sum(), 64.0 ** 2)
    with pytest.raises(ValueError, match="even"):
        metrics.checkerboard_energy(torch.zeros(1, 1, 7, 8))


# --- the diagnostic dashboard ---

def _toy_history(with_metrics=True):
    h = gc.train.History()
    for step in range(40):
        h.record(step, {"loss_d": 1.0, "loss_g": 0.7, "D(x)": 0.6, "D(G(z))": 0.4,
                        "grad_norm_d": 1.0 + step, "grad_norm_g": 0.1})
    if with_metrics:
        h.snapshots = {0: {"FD": 100.0, "recall": 0.1}, 20: {"FD": 30.0, "recall": 0.4},
                       40: {"FD": 10.0, "recall": 0.6}}
    return h


def test_dashboard_draws_every_recorded_quantity():
    fig = viz.dashboard(_toy_history(), title="toy")
    titles = [ax.get_title() for ax in fig.axes]
    assert {"discriminator output", "losses", "gradient norms", "sample metrics"} <= set(titles)
    grads = next(ax for ax in fig.axes if ax.get_title() == "gradient norms")
    assert grads.get_yscale() == "log"
    metrics_ax = next(ax for ax in fig.axes if ax.get_title() == "sample metrics")
    assert [list(line.get_ydata()) for line in metrics_ax.get_lines()] == [[100.0, 30.0, 10.0]]
    twin = [ax for ax in fig.axes if ax is not metrics_ax and ax.get_ylabel() == "recall"]
    assert twin and list(twin[0].get_lines()[0].get_ydata()) == [0.1, 0.4, 0.6]


def test_dashboard_new_key_names_explicit_evaluations_and_errors():
    h = {"step": [0, 1, 2], "d_real": [0.5, 0.6, 0.7], "d_fake": [0.5, 0.4, 0.3]}
    fig = viz.dashboard(h, evaluations={"precision": ([0, 2], [0.2, 0.5])})
    assert [ax.get_title() for ax in fig.axes] == ["discriminator output", "sample metrics"]
    assert len(viz.dashboard(_toy_history(with_metrics=False)).axes) == 3
    with pytest.raises(KeyError, match="nothing to draw"):
        viz.dashboard({"step": [0], "other": [1.0]})
    with pytest.raises(KeyError, match="step"):
        viz.dashboard({"loss_d": [1.0]})


# --- the exercise checks: the right answer passes, typical mistakes get their diagnosis ---

def test_check_kernel_distance():
    assert ev_checks.check_kernel_distance(lambda a, b: metrics.kernel_distance(a, b))

    def biased(a, b):
        k = lambda x, y: (x @ y.T / a.shape[1] + 1) ** 3  # noqa: E731
        return k(a, a).mean() + k(b, b).mean() - 2 * k(a, b).mean()

    assert not ev_checks.check_kernel_distance(biased)
    assert "diagonal" in ev_checks.check_kernel_distance(biased).message
    assert "1/d" in ev_checks.check_kernel_distance(
        lambda a, b: metrics.kernel_distance(a, b, gamma=1.0)).message
    assert "cubic" in ev_checks.check_kernel_distance(
        lambda a, b: metrics.kernel_distance(a, b, degree=2)).message
    assert "square root" in ev_checks.check_kernel_distance(
        lambda a, b: abs(metrics.kernel_distance(a, b)) ** 0.5).message

    def todo(a, b):
        raise NotImplementedError

    assert "NotImplementedError" in ev_checks.check_kernel_distance(todo).message


def test_check_precision():
    def right(real, fake, k):
        return metrics.precision_recall(real, fake, k=k).precision

    assert ev_checks.check_precision(right)
    assert not ev_checks.check_precision(lambda real, fake, k: metrics.precision_recall(real, fake, k=k).recall)
    assert "recall" in ev_checks.check_precision(
        lambda real, fake, k: metrics.precision_recall(real, fake, k=k).recall).message
    assert "itself" in ev_checks.check_precision(
        lambda real, fake, k: ev_checks._knn_precision(real, fake, k, self_included=True)).message
    assert "any" in ev_checks.check_precision(
        lambda real, fake, k: ev_checks._knn_precision(real, fake, k, nearest_only=True)).message


def test_check_fd_extrapolation():
    def right(ns, fds):
        return np.polyfit(1 / np.asarray(ns), fds, 1)[1]

    assert ev_checks.check_fd_extrapolation(right)
    assert not ev_checks.check_fd_extrapolation(lambda ns, fds: np.polyfit(ns, fds, 1)[1])
    assert "1/n, not n" in ev_checks.check_fd_extrapolation(lambda ns, fds: np.polyfit(ns, fds, 1)[1]).message
    assert "largest n" in ev_checks.check_fd_extrapolation(lambda ns, fds: fds[-1]).message
    assert "slope" in ev_checks.check_fd_extrapolation(
        lambda ns, fds: np.polyfit(1 / np.asarray(ns), fds, 1)[0]).message


def test_check_diagnosis():
    truth = ev_checks._MYSTERY_TRUTH
    words = {"discriminator wins": "D wins, G starves", "mode collapse": "mode collapse",
             "oscillation": "it oscillates"}

    def answering(table):
        return lambda letter: table[letter]

    assert ev_checks.check_diagnosis(answering({k: words[v] for k, v in truth.items()}))
    shifted = dict(zip(truth, list(truth.values())[1:] + list(truth.values())[:1]))
    assert "not yet right" in ev_checks.check_diagnosis(
        answering({k: words[v] for k, v in shifted.items()})).message
    assert "got None" in ev_checks.check_diagnosis(
        lambda letter: "mode collapse" if letter == "A" else None).message
    assert not ev_checks.check_diagnosis(lambda letter: "??")
    assert "names none" in ev_checks.check_diagnosis(lambda letter: "??").message
    assert "as a string" in ev_checks.check_diagnosis(lambda letter: 3).message
    # a dict instead of a function: the guard names the mistake
    assert "takes your function itself" in ev_checks.check_diagnosis({"A": "oscillation"}).message
    for letter in "ABC":
        assert set(ev_checks.mystery_settings(letter)) == {"g_loss", "lr_g", "lr_d", "beta1", "g_steps", "decay"}
    with pytest.raises(ValueError):
        ev_checks.mystery_settings("D")


def test_checks_are_reexported():
    for name in ("check_kernel_distance", "check_precision", "check_fd_extrapolation", "check_diagnosis"):
        assert getattr(gc.checks, name) is getattr(ev_checks, name)
