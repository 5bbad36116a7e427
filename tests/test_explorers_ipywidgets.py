"""Every explorer against the ipywidgets API of version 8 (installed) and version 7 (Colab's).

Colab ships ipywidgets 7.7.1; the maintainers' environment has 8.x. ``make setup`` installs
ipywidgets 7.7.1 (and ipython_genutils, which it imports) without dependencies into
``.cache/ipywidgets7``; this test puts that folder first on ``sys.path`` of a subprocess, so
the explorers import version 7 while everything else is the environment's. Tests never touch
the network: if the folder is missing, the test fails and says to run ``make setup``.

In each version, every explorer type is built with small untrained models, its controls are
found by walking its widget tree (what a learner can touch), and each control is used through
the widget API as the front end would set it (a slider's value, a menu's choice, a toggle's
option, a button's click). After each use the picture (``explorer.png``, the PNG bytes the
page shows) must decode to different pixels. Every widget's state must also serialize as it
would be sent to the front end. The same explorers are used with the real front end, in a
browser, by ``tests/test_live_explorers.py`` (ipywidgets 8; JupyterLab 4's widget manager
does not load version-7 widget models, see the maintainers' notes in the README).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
WIDGETS7 = Path(os.environ.get("GAN_COURSE_IPYWIDGETS7", ROOT / ".cache" / "ipywidgets7"))

# What each explorer type offers a learner (the kinds of controls; the live test uses them too).
CONTROLS = {
    "MinimaxExplorer": {"slider"},
    "LatentExplorer": {"slider", "button"},
    "InterpolationExplorer": {"toggle"},
    "ClassExplorer": {"dropdown", "toggle", "button"},
    "DomainExplorer": {"slider", "button"},
    "PairExplorer": {"button"},
}

# Every explorer type, built with small untrained models.
SETUP = """\
import torch
import gan_course as gc
from gan_course import theory
from gan_course.models import (ConditionalGenerator, CoupledGenerators, DCGANConfig,
                               DCGANGenerator, StarGenerator)
torch.manual_seed(0)
cfg = DCGANConfig(z_dim=64, image_size=32, channels=1, width=8)
G, G_c = DCGANGenerator(cfg), ConditionalGenerator(10, config=cfg)
G_s, G_p = StarGenerator(4, width=4, n_blocks=1), CoupledGenerators(z_dim=64, width=16)
z = torch.randn(2, 64)
"""
EXPLORERS = {
    "MinimaxExplorer": "gc.widgets.minimax_explorer(theory.Mixture1D((-1.5, 1.0), (0.5, 0.8), "
                       "(0.4, 0.6)), shift=1.5, scale=1.3)",
    "LatentExplorer": "gc.widgets.LatentExplorer(G, 64, dims=(0, 1), n=16, nrow=8)",
    "InterpolationExplorer": "gc.widgets.InterpolationExplorer(G, z[0], z[1], steps=10)",
    "ClassExplorer": "gc.widgets.ClassExplorer(G_c, 64, [f'class {k}' for k in range(10)], n=8)",
    "DomainExplorer": "gc.widgets.DomainExplorer(G_s, torch.rand(16, 1, 32, 32) * 2 - 1, "
                      "['identity', 'negative', 'edges', 'flip'])",
    "PairExplorer": "gc.widgets.PairExplorer(G_p, 64, n=8)",
}

# Runs in a subprocess: prints one JSON line with what happened.
DRIVER = SETUP + """
import io, json, sys
import numpy as np
import ipywidgets as W
from PIL import Image

def pixels(png):
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))

def tree(w):
    yield w
    for c in getattr(w, "children", ()):
        yield from tree(c)

KINDS = [(W.ToggleButtons, "toggle"), (W.Dropdown, "dropdown"), (W.FloatSlider, "slider"),
         (W.IntSlider, "slider"), (W.Button, "button")]

def kind(w):
    return next((k for cls, k in KINDS if isinstance(w, cls)), None)

def use(w, k, i):
    if k == "slider":  # as a drag would: another value on the slider's step grid
        span = w.max - w.min
        target = w.min + round((0.8 if i % 2 == 0 else 0.2) * span / w.step) * w.step
        w.value = target if not isinstance(w, W.IntSlider) else int(round(target))
        return f"value {w.value}"
    if k in ("dropdown", "toggle"):
        labels = list(w._options_labels)
        j = (labels.index(w.label) + 1) % len(labels)
        w.label = labels[j]
        return f"chose {labels[j]!r}"
    w.click()
    return f"clicked {w.description!r}"

result = {"version": W.__version__, "explorers": {}, "problems": []}
for name, expr in EXPLORERS.items():
    e = eval(expr)
    widgets = list(tree(e.widget))
    for w in widgets:  # what would be sent to the front end
        json.dumps(w.get_state(), default=lambda b: "<bytes>")
    assert e.view in widgets and isinstance(e.view, W.Image), name
    controls = [(w, kind(w)) for w in widgets if kind(w)]
    rows = []
    for n, (w, k) in enumerate(controls):
        for i in range(3):
            before = pixels(e.png)
            done = use(w, k, i)
            after = pixels(e.png)
            changed = before.shape != after.shape or bool((before != after).any())
            rows.append([k, n, done, changed])
            if not changed:
                result["problems"].append(f"{name}: {k} {n}: same picture after {done}")
        if k == "slider" and w.continuous_update:
            result["problems"].append(f"{name}: slider {w.description!r} renders while dragging")
    result["explorers"][name] = rows
print("RESULT " + json.dumps(result))
"""


def explorer_cells(nb) -> list[tuple[int, str]]:
    """(cell index, explorer class) of every code cell of a notebook that builds an explorer:
    ``widgets.SomeExplorer(...)`` or ``widgets.some_explorer(...)``."""
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            for m in re.finditer(r"\bwidgets\.(\w*Explorer|\w+_explorer)\(", cell.source):
                call = m.group(1)
                found.append((i, call if call[0].isupper() else "".join(p.capitalize() for p in call.split("_"))))
    return found


def test_every_explorer_type_is_declared_and_used_in_a_chapter():
    """Each explorer class of gan_course.widgets has its controls declared here, a small
    instance for the API test, and at least one chapter that the live test runs."""
    from gan_course import widgets

    classes = {n for n in dir(widgets)
               if n.endswith("Explorer") and not n.startswith("_") and isinstance(getattr(widgets, n), type)}
    in_chapters = {cls for p in sorted((ROOT / "notebooks").glob("*.ipynb"))
                   for _, cls in explorer_cells(nbformat.read(p, as_version=4))}
    assert classes == set(CONTROLS) == set(EXPLORERS), "declare the controls of a new explorer here"
    assert in_chapters == classes, f"explorers used in no chapter: {sorted(classes - in_chapters)}"


def _drive(extra_path: Path | None) -> dict:
    env = dict(os.environ, GAN_COURSE_THREADS="1", MPLBACKEND="Agg")
    env["PYTHONPATH"] = os.pathsep.join(([str(extra_path)] if extra_path else []) + [str(ROOT)])
    code = f"EXPLORERS = {EXPLORERS!r}\n" + DRIVER
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-4000:]
    line = next(l for l in proc.stdout.splitlines() if l.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


@pytest.mark.parametrize("version", ["8", "7"])
def test_every_control_changes_the_picture(version):
    if version == "7":
        if not (WIDGETS7 / "ipywidgets" / "__init__.py").is_file():
            pytest.fail(f"ipywidgets 7 is not installed in {WIDGETS7}: run `make setup`")
        result = _drive(WIDGETS7)
    else:
        result = _drive(None)
    assert result["version"].split(".")[0] == version, result["version"]
    assert set(result["explorers"]) == set(CONTROLS)
    for name, rows in result["explorers"].items():
        kinds = {k for k, *_ in rows}
        assert kinds == CONTROLS[name], f"{name}: controls {sorted(kinds)}, expected {sorted(CONTROLS[name])}"
    assert not result["problems"], "\n".join(result["problems"])
