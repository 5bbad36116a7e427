import math

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from gan_course import checks, theory, viz


# --- checks: the book's solutions pass, typical mistakes fail with a message naming them ---

def good_value(d_real, d_fake):
    return torch.log(d_real).mean() + torch.log(1 - d_fake).mean()


@pytest.mark.parametrize("wrong, words", [
    (lambda r, f: -(torch.log(r).mean() + torch.log(1 - f).mean()), "sign is flipped"),
    (lambda r, f: torch.log(r).mean() + torch.log(f).mean(), "log(1 - D(G(z)))"),
    (lambda r, f: torch.log(f).mean() + torch.log(1 - r).mean(), "swapped"),
    (lambda r, f: torch.log(r).sum() + torch.log(1 - f).sum(), "summed"),
    (lambda r, f: torch.cat([torch.log(r), torch.log(1 - f)]).mean(), "its own batch"),
    (lambda r, f: torch.log(r) + 0 * torch.log(1 - f).mean(), "scalar"),
    (lambda r, f: 1 / 0, "ZeroDivisionError"),
])
def test_check_value_function(wrong, words):
    assert checks.check_value_function(good_value).passed
    result = checks.check_value_function(wrong)
    assert not result.passed and words in result.message, result.message


def test_check_reports_not_implemented_in_plain_words():
    def stub(d_real, d_fake):
        raise NotImplementedError()
    r = checks.check_value_function(stub)
    assert not r and "NotImplementedError" in r.message and "replace it" in r.message
    assert "NOT YET" in repr(r) and "not yet" in r._repr_html_()


@pytest.mark.parametrize("wrong, words", [
    (lambda pd, pg: pg / (pd + pg), "1 - D*"),
    (lambda pd, pg: pd / pg, "density ratio"),
    (lambda pd, pg: (pd / (pd + pg)).mean(), "one value per grid point"),
    (lambda pd, pg: np.sqrt(pd / (pd + pg)), "expected"),
    (lambda pd, pg: pd / (pd + pg) ** 2, "outside [0, 1]"),
])
def test_check_optimal_discriminator(wrong, words):
    assert checks.check_optimal_discriminator(lambda pd, pg: pd / (pd + pg)).passed
    assert checks.check_optimal_discriminator(theory.optimal_discriminator).passed
    result = checks.check_optimal_discriminator(wrong)
    assert not result.passed and words in result.message, result.message


# --- viz: figures, never plt.show ---

def test_image_grid_layout():
    imgs = torch.linspace(-1, 1, 10 * 64).reshape(10, 1, 8, 8)
    fig = viz.image_grid(imgs, nrow=5, row_labels=["a", "b"])
    assert isinstance(fig, Figure)
    shown = fig.axes[0].images[0].get_array()
    assert shown.shape == (2 * 9 + 1, 5 * 9 + 1)
    assert shown[1, 1] == pytest.approx(0.0) and shown.max() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="N, 1 or 3"):
        viz.image_grid(torch.zeros(4, 8, 8))


def test_curves_and_densities():
    fig = viz.curves({"step": [0, 1, 2, 3], "loss_d": [4, 3, 2, 1], "loss_g": [1, 2, 3, 4]}, smooth=2)
    ax = fig.axes[0]
    assert [l.get_label() for l in ax.lines] == ["loss_d", "loss_g"]
    assert np.allclose(ax.lines[0].get_ydata(), [3.5, 2.5, 1.5])
    with pytest.raises(KeyError, match="d_real"):
        viz.curves({"loss": [1]}, keys=["d_real"])
    x = theory.grid(-3, 3, 61)
    fig = viz.densities_1d(x, theory.gaussian_pdf(x), theory.gaussian_pdf(x, 1), d_star=np.full(61, 0.5))
    assert len(fig.axes) == 2


def test_animation_is_self_contained_html():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    (line,) = ax.plot([0, 1], [0, 0])
    html = viz.animate(fig, lambda i: line.set_ydata([0, i]), frames=3).data
    assert "<script" in html and "data:image/png;base64" in html and html.count("data:image/png") >= 3
    assert "http" not in html.split("<script", 1)[1][:200]  # no remote script source


# --- widgets: set slider values programmatically, the state follows ---

def test_minimax_explorer_state_follows_sliders():
    pytest.importorskip("ipywidgets")
    from gan_course import widgets

    p = theory.Mixture1D((-1.5, 1.0), (0.5, 0.8), (0.4, 0.6))
    e = widgets.minimax_explorer(p, shift=2.0)
    far = e.value
    e.shift.value = 0.0
    assert e.value == pytest.approx(-math.log(4), abs=1e-8) and "-1.3863" in e.label.value
    assert np.allclose(e.d_star, 0.5)
    e.scale.value = 2.0
    assert -math.log(4) < e.value and e.value != far
    assert not np.allclose(e.d_star, 0.5)
