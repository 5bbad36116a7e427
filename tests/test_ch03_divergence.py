"""Chapter 3: the JSD check and the properties of the package's divergences."""

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import gan_course as gc
from gan_course import theory

LOG2, LOG4 = math.log(2), math.log(4)


# --- the exercise check ---------------------------------------------------------------

def _kl(p, q):
    mask = p > 0
    return float(np.sum(p[mask] * np.log(p[mask] / q[mask])))


def book_solution(p, q):
    m = (p + q) / 2
    return 0.5 * _kl(p, m) + 0.5 * _kl(q, m)


def test_check_passes_the_book_solution_and_the_package():
    assert gc.checks.check_js_divergence(book_solution).passed
    assert gc.checks.check_js_divergence(theory.js_divergence).passed
    import torch  # a learner may return a 0-d tensor

    assert gc.checks.check_js_divergence(lambda p, q: torch.tensor(book_solution(p, q))).passed


@pytest.mark.parametrize("wrong, words", [
    (lambda p, q: float(np.sum(p * np.log(p / q))), "KL(p || q)"),
    (lambda p, q: 2 * book_solution(p, q), "½ factors"),
    (lambda p, q: book_solution(p, q) / LOG2, "bits"),
    (lambda p, q: 0.5 * _kl(p, p + q) + 0.5 * _kl(q, p + q), "without the division by 2"),
    (lambda p, q: _kl(p, p + q) + _kl(q, p + q), "C(G)"),
    (lambda p, q: _kl(p, (p + q) / 2), "only KL(p || m)"),
    (lambda p, q: math.sqrt(book_solution(p, q)), "square root"),
    (lambda p, q: 0.6 * _kl(p, (p + q) / 2) + 0.4 * _kl(q, (p + q) / 2), "not symmetric"),
])
def test_check_names_the_typical_mistakes(wrong, words):
    result = gc.checks.check_js_divergence(wrong)
    assert not result.passed
    assert words in result.message, result.message


def test_check_explains_nan_from_zero_probabilities():
    def naive(p, q):  # 0 * log 0 is NaN in floating point
        m = (p + q) / 2
        return float(0.5 * np.sum(p * np.log(p / m)) + 0.5 * np.sum(q * np.log(q / m)))

    result = gc.checks.check_js_divergence(naive)
    assert not result.passed
    assert "NaN" in result.message and "0 log 0" not in result.message.split("NaN")[0]
    assert "count as 0" in result.message


def test_check_handles_unfinished_and_wrong_shapes():
    def unfinished(p, q):
        raise NotImplementedError

    assert "NotImplementedError" in gc.checks.check_js_divergence(unfinished).message
    result = gc.checks.check_js_divergence(lambda p, q: (p + q) / 2)
    assert not result.passed and "single number" in result.message
    result = gc.checks.check_js_divergence(lambda p, q: p.missing_attribute)
    assert not result.passed and "AttributeError" in result.message


# --- properties of the package's divergences (hypothesis) -------------------------------

def _distribution(draw, n, allow_zeros):
    # exact zeros, or probabilities far from the subnormal range (where (p + q) / 2 underflows)
    entry = st.floats(1e-6, 1.0) | st.just(0.0) if allow_zeros else st.floats(1e-3, 1.0)
    weights = np.array(draw(st.lists(entry, min_size=n, max_size=n)))
    assume(weights.sum() > 1e-3)
    return weights / weights.sum()


@st.composite
def discrete_pair(draw, allow_zeros=True):
    n = draw(st.integers(2, 12))
    return _distribution(draw, n, allow_zeros), _distribution(draw, n, allow_zeros)


@st.composite
def gridded_pair(draw):
    """Two random 1-D Gaussian mixtures evaluated on a grid wide enough to hold their mass."""
    def mixture():
        k = draw(st.integers(1, 3))
        means = tuple(draw(st.floats(-3, 3)) for _ in range(k))
        stds = tuple(draw(st.floats(0.2, 1.5)) for _ in range(k))
        weights = np.array([draw(st.floats(0.1, 1.0)) for _ in range(k)])
        return theory.Mixture1D(means, stds, tuple(weights / weights.sum()))

    x = theory.grid(-12, 12, 6001)
    return mixture().pdf(x), mixture().pdf(x), x


@settings(max_examples=150, deadline=None)
@given(discrete_pair())
def test_jsd_bounded_symmetric_and_finite(pair):
    p, q = pair
    jsd = theory.js_divergence(p, q)
    assert math.isfinite(jsd)
    assert -1e-12 <= jsd <= LOG2 + 1e-12
    assert jsd == pytest.approx(theory.js_divergence(q, p), abs=1e-12)


@settings(max_examples=150, deadline=None)
@given(discrete_pair())
def test_jsd_is_zero_iff_equal(pair):
    p, q = pair
    assert theory.js_divergence(p, p) == pytest.approx(0.0, abs=1e-14)
    # Pinsker on both halves: JSD >= (1/8) * (sum |p - q|)^2, so JSD > 0 whenever p != q
    l1 = float(np.abs(p - q).sum())
    assert theory.js_divergence(p, q) >= l1 ** 2 / 8 - 1e-12


@settings(max_examples=100, deadline=None)
@given(discrete_pair())
def test_jsd_is_log2_exactly_for_disjoint_supports(pair):
    p, q = pair
    zeros = np.zeros_like(p)
    assert theory.js_divergence(np.concatenate([p, zeros]), np.concatenate([zeros, q])) == pytest.approx(LOG2, abs=1e-12)


@settings(max_examples=150, deadline=None)
@given(discrete_pair())
def test_c_of_g_identity_discrete(pair):
    p, q = pair
    assert theory.c_of_g(p, q) == pytest.approx(-LOG4 + 2 * theory.js_divergence(p, q), abs=1e-6)


@settings(max_examples=40, deadline=None)
@given(gridded_pair())
def test_c_of_g_identity_gridded_1d(triple):
    p, q, x = triple
    c = theory.c_of_g(p, q, x)
    assert c == pytest.approx(-LOG4 + 2 * theory.js_divergence(p, q, x), abs=1e-6)
    assert -LOG4 - 1e-6 <= c <= 1e-6


@settings(max_examples=150, deadline=None)
@given(discrete_pair(allow_zeros=False))
def test_kl_gibbs_inequality(pair):
    p, q = pair
    assert theory.kl_divergence(p, q) >= -1e-12
    assert theory.kl_divergence(p, p) == pytest.approx(0.0, abs=1e-14)


def test_kl_is_not_symmetric_and_infinite_off_support():
    p, q = np.array([0.9, 0.05, 0.05]), np.full(3, 1 / 3)
    forward, backward = theory.kl_divergence(p, q), theory.kl_divergence(q, p)
    assert forward == pytest.approx(0.9 * math.log(2.7) + 0.1 * math.log(0.15))
    assert backward == pytest.approx((math.log(1 / 2.7) + 2 * math.log(1 / 0.15)) / 3)
    assert backward - forward > 0.2
    assert theory.kl_divergence(p, np.array([0.5, 0.5, 0.0])) == math.inf
    assert theory.kl_divergence(np.array([0.5, 0.5, 0.0]), p) < math.inf


# --- Wasserstein-1 in one dimension -----------------------------------------------------

def test_wasserstein_1d_point_masses_and_shifts():
    pts = np.linspace(0, 5, 501)
    for k in (0, 1, 37, 250, 500):
        p, q = np.zeros(501), np.zeros(501)
        p[0], q[k] = 1.0, 1.0
        assert theory.wasserstein_1d(p, q, pts, density=False) == pytest.approx(pts[k], abs=1e-12)
    x = theory.grid(-10, 10, 20001)
    for shift in (0.3, 2.5, 4.0):  # a translation moves every unit of mass by |shift|
        w = theory.wasserstein_1d(theory.gaussian_pdf(x, 0, 1), theory.gaussian_pdf(x, shift, 1), x)
        assert w == pytest.approx(shift, abs=1e-6)


@settings(max_examples=60, deadline=None)
@given(discrete_pair())
def test_wasserstein_1d_matches_scipy(pair):
    from scipy.stats import wasserstein_distance

    p, q = pair
    pts = np.cumsum(np.linspace(0.5, 1.5, len(p)))
    w = theory.wasserstein_1d(p, q, pts, density=False)
    assert w == pytest.approx(wasserstein_distance(pts, pts, p, q), abs=1e-9)
    assert w == pytest.approx(theory.wasserstein_1d(q, p, pts, density=False), abs=1e-12)


def test_wasserstein_1d_rejects_bad_points():
    with pytest.raises(ValueError, match="increasing"):
        theory.wasserstein_1d([0.5, 0.5], [0.5, 0.5], [1.0, 0.0], density=False)
    with pytest.raises(ValueError, match="shape"):
        theory.wasserstein_1d([0.5, 0.5], [0.5, 0.5], [0.0, 1.0, 2.0])


def test_jsd_stays_finite_with_subnormal_tails():
    # far tails of narrow densities on a wide grid are subnormal; (p + q) / 2 must not round to 0
    tiny = np.finfo(float).smallest_subnormal
    assert theory.js_divergence([1.0 - tiny, tiny, 0.0], [0.0, 0.0, 1.0]) == pytest.approx(LOG2)
    x = theory.grid(-12, 12, 6001)
    p, q = theory.gaussian_pdf(x, -3, 0.2), theory.gaussian_pdf(x, 3, 0.2)
    assert theory.js_divergence(p, q, x) == pytest.approx(LOG2, abs=1e-9)


# --- Chapter 3's statements about missing modes and the GAN's f ----------------------------


@pytest.mark.parametrize("pi", [0.04, 0.1, 0.2, 0.4, 0.9])
def test_jsd_of_a_missing_mode_is_half_its_mass_times_log2_plus_the_renormalisation(pi):
    # p: a mode of mass pi on outcomes 0-1 and one of mass 1 - pi on 2-4; q covers only the second
    p = np.array([pi / 2, pi / 2, (1 - pi) / 3, (1 - pi) / 3, (1 - pi) / 3])
    q = np.array([0.0, 0.0, 1 / 3, 1 / 3, 1 / 3])
    exact = (pi / 2 * math.log(2)
             + 0.5 * ((1 - pi) * math.log(2 * (1 - pi) / (2 - pi)) + math.log(2 / (2 - pi))))
    assert theory.js_divergence(p, q) == pytest.approx(exact, rel=1e-12)
    assert theory.js_divergence(p, q) >= pi / 2 * math.log(2)
    # the reverse KL charges -log(1 - pi), the forward KL is infinite
    assert theory.kl_divergence(q, p) == pytest.approx(-math.log(1 - pi), rel=1e-12)
    assert theory.kl_divergence(p, q) == math.inf


def test_the_gan_criterion_is_an_f_divergence_shifted_by_minus_log4():
    rng = np.random.default_rng(7)
    for _ in range(20):
        p, q = rng.dirichlet(np.ones(6)), rng.dirichlet(np.ones(6))
        u = p / q

        def f(t):
            return t * np.log(t) - (t + 1) * np.log(t + 1)

        assert f(1.0) == pytest.approx(-math.log(4))
        assert np.sum(q * f(u)) == pytest.approx(theory.c_of_g(p, q), abs=1e-12)
        assert np.sum(q * (f(u) + math.log(4))) == pytest.approx(2 * theory.js_divergence(p, q), abs=1e-12)
