"""Reliability (issue 15, items 7 and 8): clear errors instead of silent results, and public
functions that leave the caller's random state alone. Each test failed before its fix."""

import random
import warnings

import numpy as np
import pytest
import torch

import gan_course as gc
from gan_course import metrics, train


def global_state():
    return (torch.get_rng_state().clone(), np.random.get_state()[1].copy(), random.getstate())


def assert_same_state(before, after):
    assert torch.equal(before[0], after[0]), "torch's global generator changed"
    assert np.array_equal(before[1], after[1]), "NumPy's global generator changed"
    assert before[2] == after[2], "Python's random module changed"


# --- Fréchet distance ---------------------------------------------------------------------

@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_frechet_distance_refuses_non_finite_features(bad):
    # before: numpy.linalg.LinAlgError ("Eigenvalues did not converge") or a NaN result
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(300, 4)), rng.normal(size=(300, 4))
    b[17, 2] = bad
    with pytest.raises(ValueError, match=r"features_b has 1 of 300 rows with NaN or inf \(first: row 17\)"):
        metrics.frechet_distance(a, b)
    with pytest.raises(ValueError, match="features_a"):
        metrics.frechet_distance(torch.from_numpy(b), a)


def test_frechet_distance_warns_when_samples_do_not_exceed_dimensions():
    # before: 5 samples in 8 dimensions gave a number with no hint that it is mostly bias
    rng = np.random.default_rng(0)
    d = 8
    with pytest.warns(metrics.SampleSizeWarning, match=r"5 and 5 samples of 8-dimensional.*N <= 8"):
        small = metrics.frechet_distance(rng.normal(size=(5, d)), rng.normal(size=(5, d)))
    with pytest.warns(metrics.SampleSizeWarning):
        metrics.frechet_distance(rng.normal(size=(d, d)), rng.normal(size=(4000, d)))   # the smaller side counts
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        metrics.frechet_distance(rng.normal(size=(d + 1, d)), rng.normal(size=(d + 1, d)))
        large = [metrics.frechet_distance(rng.normal(size=(1000, d)), rng.normal(size=(1000, d)))
                 for _ in range(10)]
    # the documented bias of two samples of one distribution: about d (d + 4) / (2N)
    assert np.mean(large) == pytest.approx(d * (d + 4) / (2 * 1000), rel=0.2)
    assert small > 10 * np.mean(large)


def test_frechet_distance_other_bad_inputs():
    with pytest.raises(ValueError, match="numeric"):
        metrics.frechet_distance([["a", "b"]], [["c", "d"]])
    with pytest.raises(ValueError, match=r"d >= 1"):
        metrics.frechet_distance(np.zeros((5, 0)), np.zeros((5, 0)))
    with pytest.raises(ValueError, match="at least two samples"):
        metrics.frechet_distance(np.zeros((1, 3)), np.zeros((5, 3)))
    x = torch.randn(50, 3, requires_grad=True)
    assert metrics.frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)


# --- History.last, seed_everything -------------------------------------------------------

def test_history_last_refuses_n_zero_and_empty():
    # before: last("x", n=0) returned the mean of everything (values[-0:] is the whole list)
    h = train.History()
    for step, v in enumerate([1.0, 2.0, 3.0, 10.0]):
        h.record(step, {"x": v})
    assert h.last("x") == 10.0 and h.last("x", 2) == 6.5 and h.last("x", 100) == 4.0
    for n in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="positive integer"):
            h.last("x", n)
    with pytest.raises(KeyError, match=r"'y'.*recorded: x"):
        h.last("y")


@pytest.mark.parametrize("seed", [True, False, 2**70, 2**64, -1, 1.0, "3", None])
def test_seed_everything_refuses_before_seeding_anything(seed):
    # before: True was taken as 1; 2**70 seeded Python and NumPy, then torch raised
    gc.seed_everything(123)
    before = global_state()
    with pytest.raises(ValueError, match="seed must be"):
        gc.seed_everything(seed)
    assert_same_state(before, global_state())


def test_seed_everything_accepts_its_whole_range():
    for seed in (0, 2**32 + 5, 2**64 - 1, np.int64(7)):
        gen = gc.seed_everything(seed)
        assert gen.initial_seed() == int(seed) and torch.initial_seed() == int(seed)


# --- item 8: the reference classifier leaves the global random state alone --------------

def test_reference_classifier_leaves_global_state_alone(clean_env, tmp_path):
    # before: training reseeded torch's global generator (and loading drew from it), so a
    # learner's later draws differed between a first run (trains) and a second (cache)
    torch.manual_seed(11)
    before = global_state()
    first = metrics.reference_classifier("digits", steps=5, cache=str(tmp_path), verbose=False)
    assert first.trained_now
    assert_same_state(before, global_state())
    second = metrics.reference_classifier("digits", steps=5, cache=str(tmp_path), verbose=False)
    assert not second.trained_now
    assert_same_state(before, global_state())
    # the network itself is still determined by its seed
    third = metrics.reference_classifier("digits", steps=5, cache=str(tmp_path / "again"), verbose=False)
    for p, q in zip(first.net.state_dict().values(), third.net.state_dict().values()):
        assert torch.equal(p, q)
