"""Interactive explorers for live kernels (Jupyter, Colab). ipywidgets is imported lazily,
inside the functions, so ``import gan_course`` never needs it.

Each explorer is a thin layer over pure functions of the package: its state after any
change is available as attributes, so tests drive it without a browser. The static web
page uses the matching animation (see the chapter) instead of the live widget.

The picture is an ``ipywidgets.Image`` holding PNG bytes (attribute ``view``; the bytes are
``png``), drawn into one matplotlib figure that each explorer keeps and reuses: an update
sends one image to the page, never a new output, and behaves the same in ipywidgets 7
(Colab) and 8. ``tests/test_live_explorers.py`` uses every control in a real JupyterLab and
measures the time to the new picture.
"""

from __future__ import annotations

import io

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.transforms import Bbox

from . import theory, viz
from .models.common import infer


def _ipywidgets():
    try:
        import ipywidgets
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("the explorers need ipywidgets: pip install ipywidgets "
                          "(on Colab it is preinstalled)") from exc
    return ipywidgets


def _png(figure) -> bytes:
    """The figure as PNG bytes, cropped as Jupyter's inline backend crops figures."""
    buf = io.BytesIO()
    figure.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


def _drawn_png(figure, box: Bbox) -> bytes:
    """Draw the figure once on its Agg canvas and encode the pixels inside ``box`` (inches,
    within the figure) as PNG. ``savefig(bbox_inches="tight")`` draws twice (once to find the
    crop) and re-encodes more slowly: 150-250 ms against 60-70 ms for Chapter 1's figure."""
    from PIL import Image  # a dependency of matplotlib

    figure.canvas.draw()
    rgba = np.asarray(figure.canvas.buffer_rgba())
    height, width = rgba.shape[:2]
    dpi = figure.dpi
    x0, x1 = max(0, int(box.x0 * dpi)), min(width, int(np.ceil(box.x1 * dpi)))
    y0, y1 = max(0, int(height - box.y1 * dpi)), min(height, int(np.ceil(height - box.y0 * dpi)))
    buf = io.BytesIO()
    Image.fromarray(rgba[y0:y1, x0:x1]).save(buf, format="png", compress_level=1)
    return buf.getvalue()


def _keep(figure):
    """Take a figure made by pyplot out of pyplot's list (so a notebook cell does not show it
    again) and give it a canvas of its own, to be redrawn in place."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    plt.close(figure)
    FigureCanvasAgg(figure)
    return figure


class _GridView:
    """A grid of images (``viz.image_grid``) shown in an ``ipywidgets.Image``.

    The figure is made once and redrawn in place while the grid keeps its layout; it is never
    registered with pyplot, so a notebook cell does not show it a second time.
    """

    def __init__(self, W):
        self.widget = W.Image(format="png")
        self._figure, self._layout = None, None

    def show(self, images: torch.Tensor, nrow: int, **labels) -> None:
        layout = (tuple(images.shape), nrow)
        if self._figure is None or layout != self._layout:
            self._figure = _keep(viz.image_grid(images, nrow=nrow, **labels))
            self._layout = layout
        else:
            ax = self._figure.axes[0]
            ax.clear()
            viz.image_grid(images, nrow=nrow, ax=ax, **labels)
        self.widget.value = _png(self._figure)


class _Explorer:
    """What every explorer shares: ``widget`` (the whole control panel), ``view`` (the
    ``ipywidgets.Image`` with the picture) and display as the last expression of a cell."""

    widget = view = None

    @property
    def png(self) -> bytes:
        """The picture shown, as PNG bytes."""
        return self.view.value

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


class MinimaxExplorer(_Explorer):
    """Move and stretch p_g with two sliders; see D* and V(D*, G) follow (Chapter 1).

    p_g is p_data shifted by ``shift`` and scaled by ``scale``, so (0, 1) gives p_g = p_data,
    where V(D*, G) = -log 4. Attributes after each update: ``p_g``, ``d_star``, ``value``.
    """

    def __init__(self, p_data: theory.Mixture1D, x=None, shift: float = 2.0, scale: float = 1.0):
        W = _ipywidgets()
        self.p_data, self.x = p_data, theory.grid() if x is None else x
        self.shift = W.FloatSlider(value=shift, min=-4.0, max=4.0, step=0.1, description="shift of p_g",
                                   continuous_update=False, style={"description_width": "initial"})
        self.scale = W.FloatSlider(value=scale, min=0.3, max=3.0, step=0.05, description="scale of p_g",
                                   continuous_update=False, style={"description_width": "initial"})
        self.label = W.HTML()
        self.view = W.Image(format="png")
        self.widget = W.VBox([W.HBox([self.shift, self.scale]), self.label, self.view])
        self.shift.observe(lambda _: self.update(), names="value")
        self.scale.observe(lambda _: self.update(), names="value")
        self.figure = None
        self.update()

    def state(self, shift: float, scale: float) -> dict:
        """Pure computation behind the view: densities on the grid, D*, V(D*, G)."""
        pd = self.p_data.pdf(self.x)
        pg = self.p_data.moved(shift, scale).pdf(self.x)
        return {"p_data": pd, "p_g": pg, "d_star": theory.optimal_discriminator(pd, pg),
                "value": theory.value_at_optimum(pd, pg, self.x)}

    def update(self) -> None:
        s = self.state(self.shift.value, self.scale.value)
        self.p_g, self.d_star, self.value = s["p_g"], s["d_star"], s["value"]
        self.label.value = (f"V(D*, G) = <b>{self.value:.4f}</b> &nbsp; (minimum -log 4 = {-theory.LOG4:.4f}, "
                            f"reached only when p_g = p_data)")
        if self.figure is None:
            self.figure = _keep(viz.densities_1d(self.x, s["p_data"], s["p_g"], d_star=s["d_star"]))
            ax, ax2 = self.figure.axes
            self._pg_line, self._d_line = ax.lines[1], ax2.lines[0]
            self._pg_fill = ax.collections[1]
            # The crop found once (the figure's tight box, padded as the inline backend pads
            # it), with room for wider tick labels on the density axis.
            box = self.figure.get_tightbbox(self.figure.canvas.get_renderer())
            self._crop = Bbox.from_extents(box.x0 - 0.3, box.y0 - 0.1, box.x1 + 0.1, box.y1 + 0.1)
        else:  # move the curves of p_g and D*; p_data stays
            ax = self.figure.axes[0]
            self._pg_line.set_ydata(s["p_g"])
            self._d_line.set_ydata(s["d_star"])
            self._pg_fill.remove()
            self._pg_fill = ax.fill_between(self.x, s["p_g"], alpha=0.25, color=viz.COLORS["gen"])
            ax.relim()
            ax.autoscale_view()
        self.view.value = _drawn_png(self.figure, self._crop)


def minimax_explorer(p_data: theory.Mixture1D, x=None, shift: float = 2.0, scale: float = 1.0):
    """Build a :class:`MinimaxExplorer` (display it as the last expression of a cell)."""
    return MinimaxExplorer(p_data, x, shift, scale)


class LatentExplorer(_Explorer):
    """Sliders over chosen latent directions, a resample button and a fixed-noise grid (Chapter 5).

    The grid shows G(z_i + Σ_j α_j e_j) for a fixed batch of noise z_i, where e_j are the
    latent axes listed in ``dims`` and α_j the slider values. Attributes after each update:
    ``z`` (the shifted noise) and ``images`` (what is shown).
    """

    def __init__(self, G, z_dim: int, dims=(0, 1, 2, 3), n: int = 16, nrow: int = 8, seed: int = 0,
                 span: float = 3.0):
        W = _ipywidgets()
        if any(not 0 <= d < z_dim for d in dims):
            raise ValueError(f"latent directions must lie in 0..{z_dim - 1}, got {tuple(dims)}")
        self.G, self.z_dim, self.dims, self.n, self.nrow = G, z_dim, tuple(dims), n, nrow
        self._rng = torch.Generator().manual_seed(seed)
        self.base = torch.randn(n, z_dim, generator=self._rng)
        self.sliders = [W.FloatSlider(value=0.0, min=-span, max=span, step=0.1, description=f"z[{d}]",
                                      continuous_update=False) for d in self.dims]
        self.resample_button = W.Button(description="resample noise")
        self._grid = _GridView(W)
        self.view = self._grid.widget
        self.widget = W.VBox([W.HBox([W.VBox(self.sliders), self.resample_button]), self.view])
        for s in self.sliders:
            s.observe(lambda _: self.update(), names="value")
        self.resample_button.on_click(lambda _: self.resample())
        self.update()

    def shifted(self) -> torch.Tensor:
        z = self.base.clone()
        for d, s in zip(self.dims, self.sliders):
            z[:, d] += s.value
        return z

    def resample(self) -> None:
        self.base = torch.randn(self.n, self.z_dim, generator=self._rng)
        self.update()

    def update(self) -> None:
        self.z = self.shifted()
        self.images = infer(self.G, self.z)
        self._grid.show(self.images, nrow=self.nrow)


class InterpolationExplorer(_Explorer):
    """Walk from G(z0) to G(z1); a toggle picks linear or spherical paths (Chapter 5).

    Shows the whole path as a strip. Attributes after each update: ``path`` (steps, d) and
    ``images``.
    """

    def __init__(self, G, z0: torch.Tensor, z1: torch.Tensor, steps: int = 9):
        from .latent import interpolate

        W = _ipywidgets()
        self.G, self.z0, self.z1, self.steps, self._interpolate = G, z0, z1, steps, interpolate
        self.mode = W.ToggleButtons(options=["linear", "spherical"], value="linear", description="path")
        self._grid = _GridView(W)
        self.view = self._grid.widget
        self.widget = W.VBox([self.mode, self.view])
        self.mode.observe(lambda _: self.update(), names="value")
        self.update()

    def update(self) -> None:
        self.path = self._interpolate(self.z0, self.z1, self.steps, self.mode.value)
        self.images = infer(self.G, self.path)
        self._grid.show(self.images, nrow=self.steps, title=f"{self.mode.value} interpolation")


class ClassExplorer(_Explorer):
    """Pick a class and resample noise, or fix the noise and sweep every class (Chapter 7).

    ``G(z, y)`` is a class-conditional generator. In "one class" mode the grid shows ``n``
    samples of the chosen class; in "sweep classes" mode one row per noise vector and one
    column per class. Attributes after each update: ``z``, ``labels`` and ``images``.
    """

    def __init__(self, G, z_dim: int, classes, n: int = 8, seed: int = 0):
        W = _ipywidgets()
        self.G, self.z_dim, self.classes, self.n = G, z_dim, list(classes), n
        self._rng = torch.Generator().manual_seed(seed)
        self.base = torch.randn(n, z_dim, generator=self._rng)
        self.choice = W.Dropdown(options=[(name, i) for i, name in enumerate(self.classes)], value=0,
                                 description="class")
        self.mode = W.ToggleButtons(options=["one class", "sweep classes"], value="one class")
        self.resample_button = W.Button(description="resample noise")
        self._grid = _GridView(W)
        self.view = self._grid.widget
        self.widget = W.VBox([W.HBox([self.choice, self.resample_button]), self.mode, self.view])
        self.choice.observe(lambda _: self.update(), names="value")
        self.mode.observe(lambda _: self.update(), names="value")
        self.resample_button.on_click(lambda _: self.resample())
        self.update()

    def resample(self) -> None:
        self.base = torch.randn(self.n, self.z_dim, generator=self._rng)
        self.update()

    def update(self) -> None:
        k = len(self.classes)
        if self.mode.value == "one class":
            self.z, self.labels = self.base, torch.full((self.n,), self.choice.value, dtype=torch.long)
            nrow, row_labels = self.n, [self.classes[self.choice.value]]
        else:
            rows = min(self.n, 4)
            self.z = self.base[:rows].repeat_interleave(k, dim=0)
            self.labels = torch.arange(k).repeat(rows)
            nrow, row_labels = k, None
        self.images = infer(self.G, self.z, self.labels)
        self._grid.show(self.images, nrow=nrow, row_labels=row_labels,
                        title=None if row_labels else "columns: " + ", ".join(self.classes))


class DomainExplorer(_Explorer):
    """StarGAN: one input image translated to every target domain (Chapter 9).

    ``G(x, c)`` is a multi-domain generator, ``images`` a pool of inputs, ``domains`` the
    names of the n domains (one-hot targets). A slider picks the input (the picture follows
    when the slider is let go); the button jumps to another input drawn at random. Attributes
    after each update: ``source`` (1, C, H, W) and ``images`` (n + 1, C, H, W): the input,
    then one translation per domain.
    """

    def __init__(self, G, images, domains):
        W = _ipywidgets()
        self.G, self.pool, self.domains = G, images, list(domains)
        self.index = W.IntSlider(value=0, min=0, max=len(images) - 1, description="input",
                                 continuous_update=False)
        self.resample_button = W.Button(description="random input")
        self._grid = _GridView(W)
        self.view = self._grid.widget
        self.widget = W.VBox([W.HBox([self.index, self.resample_button]), self.view])
        self._rng = torch.Generator().manual_seed(0)
        self.index.observe(lambda _: self.update(), names="value")
        self.resample_button.on_click(lambda _: self.random_input())
        self.update()

    def random_input(self) -> None:
        """Jump to an input drawn at random among the others (so the picture always changes)."""
        if len(self.pool) > 1:
            k = int(torch.randint(len(self.pool) - 1, (1,), generator=self._rng))
            self.index.value = k + (k >= self.index.value)

    def update(self) -> None:
        n = len(self.domains)
        self.source = self.pool[self.index.value:self.index.value + 1]
        translated = infer(self.G, self.source.repeat(n, 1, 1, 1), torch.eye(n))
        self.images = torch.cat([self.source, translated])
        self._grid.show(self.images, nrow=n + 1, title="input | " + " | ".join(self.domains))


class PairExplorer(_Explorer):
    """CoGAN: the pair (G1(z), G2(z)) for the same z, with a resample button (Chapter 10).

    Attributes after each update: ``z`` (n, z_dim) and ``images`` (2n, C, H, W), the first
    domain's row then the second's.
    """

    def __init__(self, Gs, z_dim: int, n: int = 8, seed: int = 0):
        W = _ipywidgets()
        self.Gs, self.z_dim, self.n = Gs, z_dim, n
        self._rng = torch.Generator().manual_seed(seed)
        self.resample_button = W.Button(description="resample z")
        self._grid = _GridView(W)
        self.view = self._grid.widget
        self.widget = W.VBox([self.resample_button, self.view])
        self.resample_button.on_click(lambda _: self.resample())
        self.resample()

    def resample(self) -> None:
        self.z = torch.randn(self.n, self.z_dim, generator=self._rng)
        a, b = infer(self.Gs, self.z)
        self.images = torch.cat([a, b])
        self._grid.show(self.images, nrow=self.n, row_labels=["domain 1", "domain 2"])
