"""Figures and animations. Every function returns a matplotlib Figure or an HTML object;
none calls ``plt.show()``, so the notebook decides what to display.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

import matplotlib

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib import animation

COLORS = {"data": "#1f77b4", "gen": "#d62728", "disc": "#2ca02c", "optimal": "#000000"}


def _to_numpy(t) -> np.ndarray:
    if torch.is_tensor(t):
        return t.detach().float().cpu().numpy()
    return np.asarray(t)


def image_grid(images, nrow: int = 8, title: str | None = None, row_labels: Sequence[str] | None = None,
               ax=None, scale: float = 1.0):
    """Show images (N, C, H, W) in [-1, 1] as a grid with ``nrow`` images per row.

    Returns the Figure. ``row_labels`` (one per row) are written on the left.
    """
    arr = _to_numpy(images)
    if arr.ndim != 4 or arr.shape[1] not in (1, 3):
        raise ValueError(f"expected images of shape (N, 1 or 3, H, W), got {arr.shape}")
    n, c, h, w = arr.shape
    ncol = min(nrow, n)
    rows = int(np.ceil(n / ncol))
    pad = 1
    canvas = np.ones((rows * (h + pad) + pad, ncol * (w + pad) + pad, c), dtype=np.float32)
    for i in range(n):
        r, k = divmod(i, ncol)
        tile = (np.clip(arr[i], -1, 1).transpose(1, 2, 0) + 1) / 2
        canvas[pad + r * (h + pad): pad + r * (h + pad) + h, pad + k * (w + pad): pad + k * (w + pad) + w] = tile
    if ax is None:
        fig, ax = plt.subplots(figsize=(scale * max(2.0, 0.5 * ncol), scale * max(1.0, 0.5 * rows)))
    else:
        fig = ax.figure
    ax.imshow(canvas.squeeze(-1) if c == 1 else canvas, cmap="gray" if c == 1 else None, vmin=0, vmax=1,
              interpolation="nearest")
    ax.set_xticks([])
    if row_labels is not None:
        if len(row_labels) != rows:
            raise ValueError(f"{len(row_labels)} row labels for {rows} rows")
        ax.set_yticks([pad + r * (h + pad) + h / 2 for r in range(rows)], list(row_labels))
    else:
        ax.set_yticks([])
    if title:
        ax.set_title(title)
    return fig


def curves(history: Mapping[str, Sequence[float]], keys: Sequence[str] | None = None,
           steps: Sequence[float] | None = None, smooth: int = 1, title: str | None = None,
           ylabel: str | None = None, ax=None, labels: Sequence[str] | None = None, **line_kw):
    """Plot named curves from a history dict (e.g. ``loss_d``, ``d_real``, ``d_fake``) against steps.

    ``labels``: the legend entries, one per key (default: the keys), e.g.
    ``labels=["D(x)", "D(G(z))"]`` for ``["d_real", "d_fake"]``. ``smooth`` > 1 applies a
    moving average of that many points. Returns the Figure.
    """
    keys = list(keys) if keys is not None else [k for k in history if k != "step"]
    missing = [k for k in keys if k not in history]
    if missing:
        raise KeyError(f"history has no {missing}; it has {sorted(history)}")
    labels = list(labels) if labels is not None else keys
    if len(labels) != len(keys):
        raise ValueError(f"{len(labels)} labels for {len(keys)} curves")
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 3.2))
    else:
        fig = ax.figure
    for key, label in zip(keys, labels):
        y = np.asarray(history[key], dtype=float)
        x = np.asarray(steps if steps is not None else history.get("step", np.arange(len(y))), dtype=float)
        if smooth > 1 and len(y) >= smooth:
            kernel = np.ones(smooth) / smooth
            y = np.convolve(y, kernel, mode="valid")
            x = x[smooth - 1:]
        ax.plot(x, y, label=label, **line_kw)
    ax.set_xlabel("step")
    if ylabel:
        ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def densities_1d(x, p_data, p_g, d_star=None, d=None, ax=None, title: str | None = None,
                 legend: bool = True):
    """1-D densities p_data and p_g, with D*(x) (and optionally a trained D(x)) on a second axis."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.5, 3.2))
    else:
        fig = ax.figure
    x = _to_numpy(x)
    ax.fill_between(x, _to_numpy(p_data), alpha=0.25, color=COLORS["data"])
    ax.plot(x, _to_numpy(p_data), color=COLORS["data"], label=r"$p_{\mathrm{data}}$")
    ax.fill_between(x, _to_numpy(p_g), alpha=0.25, color=COLORS["gen"])
    ax.plot(x, _to_numpy(p_g), color=COLORS["gen"], label=r"$p_g$")
    ax.set_xlabel("x")
    ax.set_ylabel("density")
    handles, labels = ax.get_legend_handles_labels()
    if d_star is not None or d is not None:
        ax2 = ax.twinx()
        ax2.set_ylim(-0.02, 1.02)
        ax2.set_ylabel("D(x)")
        if d_star is not None:
            ax2.plot(x, _to_numpy(d_star), color=COLORS["optimal"], ls="--", label=r"$D^*(x)$")
        if d is not None:
            ax2.plot(x, _to_numpy(d), color=COLORS["disc"], lw=2, label=r"trained $D(x)$")
        h2, l2 = ax2.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    if legend:
        ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=len(labels),
                  frameon=False, fontsize=9)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def gan_diagram(ax=None, *, gradients: bool = True):
    """A block diagram of the GAN (Chapter 1): noise z -> G -> G(z) and real x -> D -> D(.),
    the two losses, and (``gradients=True``) the paths the gradients take back to each player.

    Solid arrows carry samples and values forward; the dashed arrows show where each
    player's update comes from: D's from both batches, G's through the frozen D into G.
    Returns the Figure (7 x 3 inches, for the text column).
    """
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 3.0))
    else:
        fig = ax.figure
    ax.set_xlim(-0.1, 12.2)
    ax.set_ylim(-0.2, 4.9)
    ax.set_axis_off()

    def box(xc, yc, w, h, text, color, bold=False, size=9.5):
        ax.add_patch(FancyBboxPatch((xc - w / 2, yc - h / 2), w, h, boxstyle="round,pad=0.05,rounding_size=0.15",
                                    facecolor=color, edgecolor="0.2", lw=1.2, alpha=0.9))
        ax.text(xc, yc, text, ha="center", va="center", fontsize=size, fontweight="bold" if bold else "normal")

    def arrow(start, end, color="0.15", ls="-", rad=0.0, lw=1.4):
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=13, color=color, lw=lw,
                                     linestyle=ls, connectionstyle=f"arc3,rad={rad}", shrinkA=2, shrinkB=2))

    light = {"data": "#c6dbef", "gen": "#f4c2c2", "disc": "#c7e9c0", "loss": "#eeeeee"}
    box(1.0, 1.5, 1.8, 0.9, "noise\n$z \\sim p_z$", light["loss"])
    box(3.35, 1.5, 1.9, 0.9, "generator\n$G$", light["gen"], bold=True)
    box(5.6, 1.5, 1.6, 0.9, "$G(z)$\nfake", light["gen"])
    box(5.6, 3.9, 1.6, 0.9, "$x \\sim p_{\\mathrm{data}}$\nreal", light["data"])
    box(7.95, 2.7, 2.2, 0.9, "discriminator\n$D$", light["disc"], bold=True)
    box(10.75, 3.9, 2.7, 0.9, "D maximises $V$\nreal $\\to$ 1, fake $\\to$ 0", light["loss"], size=8.5)
    box(10.75, 1.5, 2.7, 0.9, "G minimises\n$\\log(1 - D(G(z)))$", light["loss"], size=8.5)
    arrow((1.95, 1.5), (2.35, 1.5))
    arrow((4.35, 1.5), (4.75, 1.5))
    arrow((6.45, 1.7), (6.95, 2.45))
    arrow((6.45, 3.7), (6.95, 2.95))
    arrow((9.05, 2.95), (9.5, 3.5))
    arrow((9.05, 2.45), (9.5, 1.9))
    ax.text(9.45, 2.7, "$D(\\cdot)$", ha="left", va="center", fontsize=9)
    if gradients:
        arrow((10.2, 4.4), (8.2, 3.2), color=COLORS["disc"], ls="--", rad=0.4)
        ax.text(8.3, 4.55, "update D (G frozen)", color=COLORS["disc"], fontsize=9, ha="center")
        arrow((10.4, 1.0), (3.4, 1.0), color=COLORS["gen"], ls="--", rad=-0.18)
        ax.text(6.9, 0.05, "update G: the gradient flows back through D (frozen) into G",
                color=COLORS["gen"], fontsize=9, ha="center")
    return fig


def animate(fig, update: Callable[[int], None], frames: int, interval: int = 150, close: bool = True,
            *, start: int = -1, dpi: float = 100):
    """Turn ``update(i)`` redrawing ``fig`` into an HTML animation with play controls.

    The result is a self-contained JavaScript + PNG animation (matplotlib's ``to_jshtml``)
    that plays in a static web page without a kernel. Returns ``IPython.display.HTML``.

    ``start``: the frame the player opens on (negative counts from the end). The default,
    the last frame, shows the result (trained samples, the end of a walk) rather than an
    untrained grey grid; the website honours it too (``data-start-frame``,
    book/_ext/offline_site.py). ``dpi``: resolution of the frames, whatever the figure's own
    (a notebook's inline figures default to 72 dpi, too coarse for text). Labels outside the
    axes (row labels, titles) are kept inside the frames: a figure without a layout engine
    gets the constrained layout. Draw figures for the text column (about 7 inches wide):
    the website scales the player down to fit a phone, never up.
    """
    from IPython.display import HTML

    if frames < 1:
        raise ValueError(f"an animation needs at least one frame, got {frames}")
    first = start + frames if start < 0 else start
    if not 0 <= first < frames:
        raise ValueError(f"start={start} is not a frame of an animation with {frames} frames")
    if dpi <= 0:
        raise ValueError(f"dpi must be positive, got {dpi}")
    if fig.get_layout_engine() is None:
        fig.set_layout_engine("constrained")
    anim = animation.FuncAnimation(fig, lambda i: update(i), frames=frames, interval=interval, blit=False)
    with matplotlib.rc_context({"animation.embed_limit": 30, "savefig.dpi": dpi,
                                "animation.frame_format": "png"}):
        html = anim.to_jshtml(default_mode="loop")
    if close:
        plt.close(fig)
    # open on `first` in a live notebook too: set the frame right after the player is built
    html = re.sub(r"(anim\w+) = new Animation\(([^;]*?)\);",
                  lambda m: f"{m.group(1)} = new Animation({m.group(2)});\n        {m.group(1)}.set_frame({first});",
                  html, count=1)
    return HTML(f'<div class="gc-animation" data-start-frame="{first}">\n{html}\n</div>')


def _limits(lim, mixture) -> tuple[float, float]:
    if lim is None:
        if mixture is None:
            raise ValueError("give lim (half-width of the square to show) or a mixture to derive it from")
        lim = 1.25 * float(mixture.means.abs().max()) + 5 * float(mixture.std)
    lo, hi = (-float(lim), float(lim)) if np.isscalar(lim) else (float(lim[0]), float(lim[1]))
    if not lo < hi:
        raise ValueError(f"empty plotting range [{lo}, {hi}]")
    return lo, hi


def _square_plane(ax, lo: float, hi: float, title: str | None) -> None:
    """Show [lo, hi]^2 at equal scale without ticks (the plane of the 2-D toy data)."""
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)


def _draw_modes(ax, mixture, n_std: float = 3.0) -> None:
    from matplotlib.patches import Circle

    for mx, my in _to_numpy(mixture.means):
        ax.add_patch(Circle((mx, my), n_std * mixture.std, fill=False, lw=0.8, color="black"))


def samples_2d(samples, mixture=None, ax=None, lim=None, title: str | None = None, real=None,
               size: float = 2.0, alpha: float = 0.4, n_std: float = 3.0):
    """Scatter generated 2-D samples (N, 2) over the modes of a mixture (Chapter 4).

    Each mode is drawn as a circle of radius ``n_std`` standard deviations: the region where
    a sample counts as high quality. ``real`` (M, 2), if given, is drawn underneath in blue.
    ``lim``: half-width of the square shown (or a (low, high) pair); default from the mixture.
    Returns the Figure.
    """
    x = _to_numpy(samples)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"samples must have shape (N, 2), got {x.shape}")
    lo, hi = _limits(lim, mixture)
    if ax is None:
        fig, ax = plt.subplots(figsize=(3.6, 3.6))
    else:
        fig = ax.figure
    if real is not None:
        r = _to_numpy(real)
        ax.scatter(r[:, 0], r[:, 1], s=size, alpha=alpha, color=COLORS["data"], lw=0, label="data")
    ax.scatter(x[:, 0], x[:, 1], s=size, alpha=alpha, color=COLORS["gen"], lw=0, label="G(z)")
    if mixture is not None:
        _draw_modes(ax, mixture, n_std)
    _square_plane(ax, lo, hi, title)
    return fig


@torch.no_grad()
def decision_values(D, lim, n: int = 150, logits: bool = True):
    """D(x) on an n x n grid over [low, high]^2 (``lim``: half-width or (low, high) pair).

    ``D`` maps points (P, 2) to logits (P,) (probabilities when ``logits=False``).
    Returns (xs, ys, values), three (n, n) arrays; rows run along y, columns along x.
    """
    if n < 2:
        raise ValueError(f"n (grid points per side) must be >= 2, got {n}")
    lo, hi = _limits(lim, None)
    axis = torch.linspace(lo, hi, n)
    gx, gy = torch.meshgrid(axis, axis, indexing="xy")
    points = torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)  # (n * n, 2)
    params = list(D.parameters()) if isinstance(D, torch.nn.Module) else []
    out = D(points.to(params[0].device if params else "cpu"))
    out = torch.sigmoid(out) if logits else out
    if out.numel() != n * n:
        raise ValueError(f"D returned {tuple(out.shape)} for {n * n} points; expected one value per point")
    return _to_numpy(gx), _to_numpy(gy), _to_numpy(out.reshape(n, n))


def decision_surface(D, lim=None, ax=None, n: int = 150, samples=None, mixture=None,
                     title: str | None = None, logits: bool = True, colorbar: bool = True):
    """The discriminator's D(x) over a square of the plane, as filled contours (Chapter 4).

    ``D``: a module or function mapping points (P, 2) to logits (P,) (probabilities when
    ``logits=False``). ``lim``: half-width of the square (or a (low, high) pair); default
    from ``mixture``. ``samples`` (N, 2), if given, are drawn on top in yellow; the mixture's
    modes as circles of three standard deviations. Returns the Figure.
    """
    lo, hi = _limits(lim, mixture)
    gx, gy, values = decision_values(D, (lo, hi), n, logits)
    if ax is None:
        fig, ax = plt.subplots(figsize=(4.3, 3.6))
    else:
        fig = ax.figure
    filled = ax.contourf(gx, gy, values, levels=np.linspace(0, 1, 21), cmap="RdBu_r",
                         vmin=0, vmax=1, extend="neither")
    if colorbar:
        fig.colorbar(filled, ax=ax, fraction=0.046, pad=0.04, label="D(x)", ticks=[0, 0.5, 1])
    if samples is not None:
        s = _to_numpy(samples)
        ax.scatter(s[:, 0], s[:, 1], s=2, alpha=0.5, color="black" if mixture is None else "#ffd000", lw=0)
    if mixture is not None:
        _draw_modes(ax, mixture)
    _square_plane(ax, lo, hi, title)
    return fig


def translation_grid(inputs, columns: Sequence, names: Sequence[str], ax=None, scale: float = 1.6,
                     title: str | None = None):
    """One row per input image: the input, then its translation to each target (Chapters 8-9).

    ``inputs``: (B, C, H, W); ``columns``: one (B, C, H, W) batch per target, in the order of
    ``names``. Returns the Figure.
    """
    if len(columns) != len(names):
        raise ValueError(f"{len(columns)} columns for {len(names)} names")
    if any(tuple(c.shape) != tuple(inputs.shape) for c in columns):
        raise ValueError("every column must have the shape of the inputs "
                         f"{tuple(inputs.shape)}, got {[tuple(c.shape) for c in columns]}")
    grid = torch.stack([torch.as_tensor(inputs).cpu()] + [torch.as_tensor(c).cpu() for c in columns],
                       dim=1).flatten(0, 1)                     # (B * (1 + n), C, H, W)
    return image_grid(grid, nrow=len(names) + 1, ax=ax, scale=scale,
                      title=title if title is not None else "input | " + " | ".join(names))


# --------------------------------------------------------------------------- Chapter 7

def _diagram_box(ax, xy, text, color, w, h=0.9, fontsize=8):
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch((xy[0] - w / 2, xy[1] - h / 2), w, h, color=color, alpha=0.9,
                                boxstyle="round,pad=0.05,rounding_size=0.15"))
    ax.text(*xy, text, ha="center", va="center", fontsize=fontsize)


def _diagram_arrow(ax, a, b, text="", color="k", fontsize=7):
    from matplotlib.patches import FancyArrowPatch

    ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=10, color=color, lw=1.1))
    if text:
        ax.text((a[0] + b[0]) / 2, (a[1] + b[1]) / 2 + 0.2, text, ha="center", fontsize=fontsize)


def superresolution_diagram(conditional: bool = True, ax=None):
    """Block diagram of a GAN for super-resolution (Chapter 7): G maps a low-resolution image
    y (and optional noise z) to x̂; D judges x̂ against real high-resolution images x; a
    content loss compares features φ of x̂ and x.

    ``conditional``: draw the conditional variant, in which D also receives y (as pix2pix's
    D receives its input; SRGAN's D sees the high-resolution image alone). Sized for the
    text column (7 in wide). Returns the Figure.
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 3.5))
    else:
        fig = ax.figure
    box, arrow = _diagram_box, _diagram_arrow
    box(ax, (1.2, 3.6), "low-resolution\nimage $y$", "#cfe2f3", w=2.2)
    box(ax, (1.2, 1.6), "noise $z$\n(optional)", "#eeeeee", w=2.2)
    box(ax, (4.3, 2.6), "generator $G(y, z)$\nupsampling CNN", "#f9cb9c", w=2.6)
    box(ax, (7.4, 2.6), "super-resolved\n$\\hat x = G(y, z)$", "#d9ead3", w=2.4)
    box(ax, (10.4, 2.6), "real high-res\nimage $x$", "#d9ead3", w=2.2)
    box(ax, (10.4, 4.4), "discriminator\n" + ("$D(\\cdot, y)$" if conditional else "$D(\\cdot)$"),
        "#f4cccc", w=2.2)
    box(ax, (10.4, 0.8), "content loss\n$\\|\\phi(\\hat x) - \\phi(x)\\|$", "#fff2cc", w=2.6)
    box(ax, (13.1, 4.4), "adversarial\nloss", "#fff2cc", w=1.6)
    arrow(ax, (2.3, 3.45), (3.0, 2.95))
    arrow(ax, (2.3, 1.75), (3.0, 2.25))
    arrow(ax, (5.6, 2.6), (6.2, 2.6))
    arrow(ax, (7.8, 3.05), (9.3, 4.05), "fake")
    arrow(ax, (10.4, 3.05), (10.4, 3.95))
    ax.text(10.5, 3.4, "real", fontsize=7)
    arrow(ax, (7.8, 2.15), (9.1, 1.15))
    arrow(ax, (10.4, 2.15), (10.4, 1.25))
    arrow(ax, (11.5, 4.4), (12.3, 4.4))
    if conditional:
        ax.plot([1.2, 1.2, 10.4], [4.05, 5.45, 5.45], color="#3d85c6", lw=1.1)
        arrow(ax, (10.4, 5.45), (10.4, 4.85), color="#3d85c6")
        ax.text(5.8, 5.6, "the condition $y$ also goes to $D$ (conditional variant)",
                color="#3d85c6", fontsize=7, ha="center")
    ax.set_xlim(0, 14)
    ax.set_ylim(0.2, 6.0)
    ax.axis("off")
    ax.set_title("G is trained with a content loss and an adversarial loss", fontsize=9)


# ---------------------------------------------------------------------------------------
# The diagnostic dashboard (Chapter 12)
# ---------------------------------------------------------------------------------------

#: the names a step function may use for each quantity (the first one found is drawn)
DASHBOARD_KEYS = {
    "d_real": ("d_real", "D(x)"),
    "d_fake": ("d_fake", "D(G(z))"),
    "loss_d": ("loss_d",),
    "loss_g": ("loss_g",),
    "grad_norm_d": ("grad_norm_d",),
    "grad_norm_g": ("grad_norm_g",),
}


def _first_key(history, names):
    return next((name for name in names if name in history), None)


def _evaluations_from(history, evaluations) -> dict:
    """{metric: (steps, values)} from ``evaluations`` or from the history's snapshots."""
    if evaluations is None:
        snaps = getattr(history, "snapshots", {}) or {}
        if snaps and all(isinstance(v, Mapping) for v in snaps.values()):
            names = [k for k in next(iter(snaps.values()))
                     if all(np.isscalar(v.get(k)) and np.isreal(v.get(k)) for v in snaps.values())]
            evaluations = {name: {s: float(v[name]) for s, v in snaps.items()} for name in names}
        else:
            evaluations = {}
    out = {}
    for name, series in evaluations.items():
        if isinstance(series, Mapping):
            steps_, values = zip(*sorted(series.items())) if series else ((), ())
        else:
            steps_, values = series
        out[name] = (np.asarray(steps_, dtype=float), np.asarray(values, dtype=float))
    return out


def dashboard(history, *, evaluations=None, smooth: int | None = None, title: str | None = None,
              figsize=(7.0, 5.2)):
    """Diagnose a GAN run at a glance: the four panels of Chapter 12's dashboard.

    ``history``: what :func:`gan_course.train.fit` returned (or any mapping with a ``step``
    list and lists of scalars). Panels, each drawn when its values were recorded:
    D's mean output on real and generated data (``d_real`` / ``d_fake``, or the older
    names ``D(x)`` / ``D(G(z))``); the two losses; the gradient norms of D and G (log scale);
    sample metrics over training. These come from ``evaluations``, a mapping
    ``{name: {step: value}}`` (or ``{name: (steps, values)}``), or, when it is None, from the
    history's snapshots when the snapshot function returned a dict of numbers per step
    (e.g. ``{"FD": ..., "recall": ...}``). Metrics within [0, 1] (precision, recall) share
    a right-hand axis; the others (FD, KID) use the left one. ``smooth``: moving-average
    window for the per-step curves (default: about 1/50 of the points). Returns the Figure.
    """
    if "step" not in history:
        raise KeyError("history has no 'step' list: pass what gan_course.train.fit returned")
    found = {q: _first_key(history, names) for q, names in DASHBOARD_KEYS.items()}
    evals = _evaluations_from(history, evaluations)
    n_points = len(history["step"])
    smooth = max(1, n_points // 50) if smooth is None else max(1, int(smooth))
    panels = []
    if found["d_real"] or found["d_fake"]:
        panels.append(("discriminator output", [found["d_real"], found["d_fake"]], False))
    if found["loss_d"] or found["loss_g"]:
        panels.append(("losses", [found["loss_d"], found["loss_g"]], False))
    if found["grad_norm_d"] or found["grad_norm_g"]:
        panels.append(("gradient norms", [found["grad_norm_d"], found["grad_norm_g"]], True))
    if not panels and not evals:
        raise KeyError(f"nothing to draw: history has none of {sorted(DASHBOARD_KEYS)} and no sample metrics")
    n_panels = len(panels) + (1 if evals else 0)
    rows = (n_panels + 1) // 2
    fig, axes = plt.subplots(rows, 2 if n_panels > 1 else 1, figsize=(figsize[0], figsize[1] * rows / 2),
                             squeeze=False)
    flat = list(axes.flat)
    labels = {"d_real": "real x", "D(x)": "real x", "d_fake": "G(z)", "D(G(z))": "G(z)",
              "loss_d": "D", "loss_g": "G", "grad_norm_d": "D", "grad_norm_g": "G"}
    colours = [COLORS["data"], COLORS["gen"]]
    for ax, (name, keys, log) in zip(flat, panels):
        for key, colour in zip(keys, colours):
            if key is None:
                continue
            y = np.asarray(history[key], dtype=float)
            x = np.asarray(history["step"], dtype=float)
            if smooth > 1 and len(y) >= smooth:
                y = np.convolve(y, np.ones(smooth) / smooth, mode="valid")
                x = x[smooth - 1:]
            ax.plot(x, y, color=colour, lw=1.2, label=labels.get(key, key))
        if log:
            ax.set_yscale("log")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("step", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(frameon=False, fontsize=8)
    if evals:
        ax = flat[len(panels)]
        fractions = {k: v for k, v in evals.items() if np.all((v[1] >= 0) & (v[1] <= 1))}
        others = {k: v for k, v in evals.items() if k not in fractions}
        handles = []
        markers = iter(["o", "s", "^", "D", "v", "P"])
        if others:
            for (name, (x, y)), colour in zip(others.items(), ["#000000", "#7f7f7f", "#8c564b"]):
                handles += ax.plot(x, y, marker=next(markers), ms=3, color=colour, label=name)
            if all(np.all(v[1] > 0) for v in others.values()):
                ax.set_yscale("log")
            ax.set_ylabel(", ".join(others), fontsize=9)
        if fractions:
            ax2 = ax.twinx() if others else ax
            for (name, (x, y)), colour in zip(fractions.items(), ["#2ca02c", "#9467bd", "#ff7f0e"]):
                handles += ax2.plot(x, y, marker=next(markers), ms=3, ls="--" if others else "-",
                                    color=colour, label=name)
            ax2.set_ylim(-0.02, 1.02)
            ax2.set_ylabel(", ".join(fractions), fontsize=9)
        ax.set_title("sample metrics", fontsize=10)
        ax.set_xlabel("step", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(handles, [h.get_label() for h in handles], frameon=False, fontsize=8)
    for ax in flat[n_panels:]:
        fig.delaxes(ax)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig
