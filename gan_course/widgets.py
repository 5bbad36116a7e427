"""Interactive explorers for live kernels (Jupyter, Colab). ipywidgets is imported lazily,
inside the functions, so ``import gan_course`` never needs it.

Each explorer is a thin layer over pure functions of the package: its state after any
change is available as attributes, so tests drive it without a browser. The static web
page uses the matching animation (see the chapter) instead of the live widget.
"""

from __future__ import annotations

import matplotlib.pyplot as plt

from . import theory, viz


def _ipywidgets():
    try:
        import ipywidgets
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("the explorers need ipywidgets: pip install ipywidgets "
                          "(on Colab it is preinstalled)") from exc
    return ipywidgets


class MinimaxExplorer:
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
        self.output = W.Output()
        self.widget = W.VBox([W.HBox([self.shift, self.scale]), self.label, self.output])
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
        from IPython.display import display

        s = self.state(self.shift.value, self.scale.value)
        self.p_g, self.d_star, self.value = s["p_g"], s["d_star"], s["value"]
        self.label.value = (f"V(D*, G) = <b>{self.value:.4f}</b> &nbsp; (minimum -log 4 = {-theory.LOG4:.4f}, "
                            f"reached only when p_g = p_data)")
        if self.figure is not None:
            plt.close(self.figure)
        self.figure = viz.densities_1d(self.x, s["p_data"], s["p_g"], d_star=s["d_star"])
        with self.output:
            self.output.clear_output(wait=True)
            display(self.figure)
        plt.close(self.figure)

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


def minimax_explorer(p_data: theory.Mixture1D, x=None, shift: float = 2.0, scale: float = 1.0):
    """Build a :class:`MinimaxExplorer` (display it as the last expression of a cell)."""
    return MinimaxExplorer(p_data, x, shift, scale)
