"""Figures and animations. Every function returns a matplotlib Figure or an HTML object;
none calls ``plt.show()``, so the notebook decides what to display.
"""

from __future__ import annotations

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
           ylabel: str | None = None, ax=None, **line_kw):
    """Plot named curves from a history dict (e.g. losses, D(x), D(G(z))) against steps.

    ``smooth`` > 1 applies a moving average of that many points. Returns the Figure.
    """
    keys = list(keys) if keys is not None else [k for k in history if k != "step"]
    missing = [k for k in keys if k not in history]
    if missing:
        raise KeyError(f"history has no {missing}; it has {sorted(history)}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 3.2))
    else:
        fig = ax.figure
    for key in keys:
        y = np.asarray(history[key], dtype=float)
        x = np.asarray(steps if steps is not None else history.get("step", np.arange(len(y))), dtype=float)
        if smooth > 1 and len(y) >= smooth:
            kernel = np.ones(smooth) / smooth
            y = np.convolve(y, kernel, mode="valid")
            x = x[smooth - 1:]
        ax.plot(x, y, label=key, **line_kw)
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


def animate(fig, update: Callable[[int], None], frames: int, interval: int = 150, close: bool = True):
    """Turn ``update(i)`` redrawing ``fig`` into an HTML animation with play controls.

    The result is a self-contained JavaScript + PNG animation (matplotlib's ``to_jshtml``)
    that plays in a static web page without a kernel. Returns ``IPython.display.HTML``.
    """
    from IPython.display import HTML

    if frames < 1:
        raise ValueError(f"an animation needs at least one frame, got {frames}")
    anim = animation.FuncAnimation(fig, lambda i: update(i), frames=frames, interval=interval, blit=False)
    with matplotlib.rc_context({"animation.embed_limit": 30}):
        html = anim.to_jshtml(default_mode="loop")
    if close:
        plt.close(fig)
    return HTML(html)
