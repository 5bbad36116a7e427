"""The explorers, live: a real Jupyter server, Chromium, and a learner's clicks (issue 20).

What a learner does, done by a browser: open a chapter in JupyterLab, run it (Run → Run All
Cells, under ``GAN_COURSE_PROFILE=smoke``), then use each explorer in it. The chapters are
opened and run at the same time (each in its own browser context, each kernel on one thread,
``GAN_COURSE_THREADS=1``), then the explorers are used one chapter at a time while the other
kernels idle, so that the measured times are not those of a machine busy with training.

For every explorer of every chapter that has one, each control is used several times:
sliders are dragged with the mouse, buttons and toggle buttons clicked, menus changed (the
controls are found in the page, and must be those declared for the explorer's type in
``tests/test_explorers_ipywidgets.py``). After each action the test
waits for the picture to change and checks that its pixels differ from before, that no error
or warning shows up in the explorer's output, in the browser's console or in the kernel's
log, and measures the time from the action (release of the mouse, change of the menu) to the
new image in the page. The median of those times must stay under 200 ms for the image
explorers at the smoke profile's model sizes. JupyterLab's own notes that a plugin is slow to
start (a busy machine) are the only console messages let through.

ipywidgets 7 (what Colab ships) cannot be tried here: JupyterLab 4's widget manager
(jupyterlab_widgets 3) refuses version-7 widget models ("Module @jupyter-widgets/controls,
version ^1.5.0 is not registered"). ``tests/test_explorers_ipywidgets.py`` drives every
explorer through the ipywidgets 7.7.1 API instead, and the maintainers' notes in the README
give the manual check on Colab.

Everything happens in a temporary folder: the chapters are copied there without their stored
outputs (as a student opens them), and the server's settings, workspaces and runtime files
live there too. Nothing is downloaded; requests the page makes to other hosts (matplotlib's
animations link Font Awesome from a CDN) are answered empty and listed in the report.

Options (environment variables):

- ``GAN_COURSE_LIVE_PROFILE=cpu``: run the chapters under another profile (the cpu profile's
  model sizes; add ``GAN_COURSE_MAX_STEPS=2`` to skip the training). Times are then reported,
  not asserted.
- ``GAN_COURSE_LIVE_REPEATS``: actions per control (default 5).
- ``GAN_COURSE_LIVE_CHAPTERS=01,05``: only these chapters.

The measurements land in ``_build/live/explorers-<profile>.json`` and are printed (``-rP``).
"""

from __future__ import annotations

import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest

from test_explorers_ipywidgets import CONTROLS, explorer_cells

pytestmark = pytest.mark.live

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "_build" / "live"
PROFILE = os.environ.get("GAN_COURSE_LIVE_PROFILE", "smoke")
REPEATS = int(os.environ.get("GAN_COURSE_LIVE_REPEATS", "5"))
# matplotlib's animations (to_jshtml) link this stylesheet; a learner offline just lacks icons
FONT_AWESOME = re.compile(r"https://maxcdn\.bootstrapcdn\.com/font-awesome/[\d.]+/css/font-awesome\.min\.css$")
# JupyterLab's own note on a slow start (a busy machine), not an error: "Plugin X is taking too
# long to activate" / "Plugin X (with 1 dependants) took 5043.40ms to activate"
PLUGIN_TIMING = re.compile(r"^Plugin \S+ (is taking too long|\(with \d+ dependants\) took [\d.]+ms) to activate\.$")
LIMIT_MS = 200.0  # median update time of an image explorer at the smoke profile (issue 20)

IMAGE_EXPLORERS = set(CONTROLS) - {"MinimaxExplorer"}  # MinimaxExplorer draws curves


def _chapters() -> list[str]:
    names = [p.stem for p in sorted((ROOT / "notebooks").glob("*.ipynb"))
             if explorer_cells(nbformat.read(p, as_version=4))]
    only = [c.strip() for c in os.environ.get("GAN_COURSE_LIVE_CHAPTERS", "").split(",") if c.strip()]
    return [n for n in names if not only or any(n.startswith(o) for o in only)]


CHAPTERS = _chapters()


# ----------------------------------------------------------------------------- the server

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Lab:
    url: str
    root: Path
    log: Path
    process: subprocess.Popen

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def _student_copy(src: Path, dest: Path) -> None:
    """The chapter as a learner opens it before running it: no stored outputs."""
    nb = nbformat.read(src, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(nb, dest)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on a free local port, no token, a temporary root with the chapters' copies."""
    try:
        import jupyterlab  # noqa: F401  (pinned in requirements.txt)
    except ImportError:
        pytest.fail("JupyterLab is missing: pip install -r requirements.txt (make setup)")
    base = tmp_path_factory.mktemp("lab")
    root, data = base / "root", base / "data"
    root.mkdir()
    for name in CHAPTERS:
        _student_copy(ROOT / "notebooks" / f"{name}.ipynb", root / f"{name}.ipynb")
    # Every cell in the page (no virtual scrolling), so that a cell's outputs can be found.
    settings = base / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    env = dict(os.environ, GAN_COURSE_PROFILE=PROFILE, PYTHONPATH=str(ROOT),
               JUPYTERLAB_SETTINGS_DIR=str(base / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(base / "workspaces"),
               JUPYTER_CONFIG_DIR=str(base / "config"), JUPYTER_DATA_DIR=str(data),
               JUPYTER_RUNTIME_DIR=str(base / "runtime"), IPYTHONDIR=str(base / "ipython"),
               MPLCONFIGDIR=str(base / "matplotlib"))
    env.setdefault("GAN_COURSE_THREADS", "1")  # leave the second core to the browser
    port = _free_port()
    log = base / "server.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", f"--port={port}",
         "--ServerApp.ip=127.0.0.1", "--ServerApp.port_retries=0", "--IdentityProvider.token=",
         "--ServerApp.password=", f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
         "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, cwd=root)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/status", timeout=5):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"JupyterLab did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
    yield Lab(url, root, log, process)
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="module")
def chromium(browser):
    # the session's one headless Chromium (conftest.py): Playwright's synchronous API
    # cannot start a second instance while the website tests' instance is open
    return browser


@pytest.fixture(scope="module")
def report():
    """Measurements of every test of this module, written to _build/live/ at the end."""
    rows: list[dict] = []
    yield rows
    REPORT.mkdir(parents=True, exist_ok=True)
    (REPORT / f"explorers-{PROFILE}.json").write_text(json.dumps(rows, indent=1))


# ------------------------------------------------------------------------ in the page (JS)

# Watch one cell's output: when do its images change, and are they loaded.
ARM_JS = """(root) => {
  const L = window.__live || (window.__live = {});
  if (!L.listening) {
    for (const type of ['pointerup', 'change'])
      window.addEventListener(type, () => { if (L.armed && L.t0 === null) L.t0 = performance.now(); }, true);
    L.listening = true;
  }
  if (L.observer) L.observer.disconnect();
  const sig = () => [...root.querySelectorAll('img')].map(i => i.src).join('|');
  L.root = root; L.before = L.current = sig(); L.t0 = null; L.t1 = null; L.last = performance.now();
  L.observer = new MutationObserver(() => {
    const now = performance.now(), s = sig();
    L.last = now;
    if (s !== L.current) { L.current = s; L.t1 = now; }
  });
  L.observer.observe(root, {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
  L.armed = true;
}"""

# True once the images differ from when armed, nothing moved for `quiet` ms, the kernel is idle.
SETTLED_JS = """(quiet) => {
  const L = window.__live, w = window.jupyterapp.shell.currentWidget;
  const kernel = w.sessionContext.session && w.sessionContext.session.kernel;
  return L.current !== L.before && performance.now() - L.last > quiet && kernel && kernel.status === 'idle'
    && [...L.root.querySelectorAll('img')].every(i => i.complete && i.naturalWidth > 0);
}"""

# Pixels of every image in an element: [width, height, FNV-1a hash of the RGBA bytes].
PIXELS_JS = """async (root) => {
  const out = [];
  for (const img of root.querySelectorAll('img')) {
    if (!img.complete) await img.decode().catch(() => null);
    const c = document.createElement('canvas');
    c.width = img.naturalWidth; c.height = img.naturalHeight;
    const ctx = c.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    let h = 2166136261;
    for (let i = 0; i < d.length; i++) { h ^= d[i]; h = Math.imul(h, 16777619); }
    out.push([c.width, c.height, h >>> 0]);
  }
  return out;
}"""

KERNEL_IDLE_JS = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.status === 'idle';
}"""

# Every code cell ran (or one failed: run-all then stops), nothing is queued, the kernel idles.
RUN_DONE_JS = """() => {
  const w = window.jupyterapp.shell.currentWidget, k = w.sessionContext.session.kernel;
  if (!k || k.status !== 'idle') return false;
  const m = w.content.model;
  let ran = true, failed = false;
  for (let i = 0; i < m.cells.length; i++) {
    const c = m.cells.get(i).toJSON();
    if (c.cell_type !== 'code') continue;
    if (c.execution_count === null) ran = false;
    if ((c.outputs || []).some(o => o.output_type === 'error')) failed = true;
  }
  const queued = [...w.node.querySelectorAll('.jp-InputPrompt')].some(p => p.textContent.includes('*'));
  return !queued && (ran || failed);
}"""

# Code cells that did not run, and the errors of those that failed.
RUN_PROBLEMS_JS = """() => {
  const m = window.jupyterapp.shell.currentWidget.content.model, out = [];
  for (let i = 0; i < m.cells.length; i++) {
    const c = m.cells.get(i).toJSON();
    if (c.cell_type !== 'code') continue;
    if (c.execution_count === null) out.push(`cell ${i} did not run`);
    for (const o of c.outputs || [])
      if (o.output_type === 'error') out.push(`cell ${i}: ${o.ename}: ${o.evalue}`);
  }
  return out;
}"""


# --------------------------------------------------------------------------- the learner

@dataclass
class Page:
    page: object
    console: list = field(default_factory=list)
    external: list = field(default_factory=list)

    def check_console(self, where: str) -> None:
        """No error or warning in the console; other hosts asked only for what is explained."""
        assert not self.console, f"{where}: the browser's console:\n" + "\n".join(self.console)
        unexpected = sorted({u for u in self.external if not FONT_AWESOME.match(u)})
        assert not unexpected, f"{where}: requests to other hosts: {unexpected}"


def _open(chromium, lab: Lab, notebook: str) -> Page:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    p = Page(page)
    page.on("console", lambda m: p.console.append(f"{m.type}: {m.text}")
            if m.type in ("error", "warning") and not PLUGIN_TIMING.search(m.text) else None)
    page.on("pageerror", lambda e: p.console.append(f"page error: {e}"))

    def offline(route):  # other hosts: answered empty and listed, never fetched
        p.external.append(route.request.url)
        route.fulfill(status=200, body="", content_type="text/css")

    page.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), offline)
    page.set_default_timeout(60_000)
    workspace = re.sub(r"\W", "-", notebook)
    page.goto(f"{lab.url}/lab/workspaces/{workspace}/tree/{notebook}?reset", wait_until="commit")
    return p


def _start_run_all(p: Page) -> None:
    """Once the notebook's kernel is ready: Run → Run All Cells, as a learner does."""
    page = p.page
    page.wait_for_function(KERNEL_IDLE_JS, timeout=120_000, polling=250)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    page.wait_for_function("() => [...document.querySelectorAll('.jp-InputPrompt')]"
                           ".some(p => p.textContent.includes('*'))", timeout=30_000, polling=100)


@pytest.fixture(scope="module")
def chapters(lab, chromium):
    """Every chapter with an explorer opened in its own browser context and run at once (the
    kernels share the cores; the explorers are used afterwards, one chapter at a time, while
    the other kernels idle). Yields {name: (Page, seconds to run, problems)}."""
    pages = {}
    try:
        for name in CHAPTERS:
            pages[name] = _open(chromium, lab, f"{name}.ipynb")
        for p in pages.values():
            _start_run_all(p)
        start, ran = time.monotonic(), {}
        deadline = start + float(os.environ.get("GAN_COURSE_LIVE_RUN_TIMEOUT", 900))
        while len(ran) < len(pages) and time.monotonic() < deadline:
            for name, p in pages.items():
                if name not in ran and p.page.evaluate(RUN_DONE_JS):
                    ran[name] = (p, time.monotonic() - start, p.page.evaluate(RUN_PROBLEMS_JS))
            time.sleep(0.5)
        for name, p in pages.items():
            ran.setdefault(name, (p, None, ["Run All Cells did not finish in time"]))
        yield ran
    finally:  # the kernels stop with the server
        for p in pages.values():
            p.page.context.close()


def _controls(cell) -> list[tuple[str, object]]:
    """(kind, locator) of each control in an explorer's output, in page order."""
    found = []
    for kind, selector in (("slider", ".widget-slider"), ("dropdown", ".widget-dropdown select"),
                           ("toggle", ".widget-toggle-buttons"), ("button", "button.widget-button")):
        for i in range(cell.locator(selector).count()):
            found.append((kind, cell.locator(selector).nth(i)))
    return found


SLIDER_STOPS = [0.8, 0.2, 0.65, 0.35, 0.9, 0.1, 0.55]


def _act(page, kind: str, control, i: int) -> str:
    """Use a control once, the way a learner does; return what was done."""
    if kind == "slider":
        handle = control.locator(".noUi-handle, .ui-slider-handle").first
        track = control.locator(".noUi-target, .ui-slider").first
        box, hbox = track.bounding_box(), handle.bounding_box()
        x0, y = hbox["x"] + hbox["width"] / 2, hbox["y"] + hbox["height"] / 2
        x1 = box["x"] + SLIDER_STOPS[i % len(SLIDER_STOPS)] * box["width"]
        before = control.locator(".widget-readout").first.inner_text()
        page.mouse.move(x0, y)
        page.mouse.down()
        for k in range(1, 6):
            page.mouse.move(x0 + (x1 - x0) * k / 5, y)
        page.mouse.up()
        return f"dragged from {before} to {control.locator('.widget-readout').first.inner_text()}"
    if kind == "dropdown":
        options = control.locator("option")
        current = control.evaluate("s => s.selectedIndex")
        target = (current + 1) % options.count()
        label = options.nth(target).inner_text()
        control.select_option(index=target)
        return f"chose {label!r}"
    if kind == "toggle":
        buttons = control.locator("button")
        idle = [k for k in range(buttons.count())
                if "mod-active" not in (buttons.nth(k).get_attribute("class") or "")]
        target = buttons.nth(idle[i % len(idle)])
        label = target.inner_text()
        target.click()
        return f"toggled {label!r}"
    label = control.inner_text()
    control.click()
    return f"clicked {label!r}"


def _drive(p: Page, lab: Lab, cell_index: int, cls: str, where: str, report: list) -> None:
    """Use every control of one explorer REPEATS times; check the picture and the errors."""
    page = p.page
    cell = page.locator(".jp-Notebook .jp-Cell").nth(cell_index)
    out = cell.locator(".jp-Cell-outputArea").first
    cell.scroll_into_view_if_needed()
    page.wait_for_function("(el) => el.querySelectorAll('img').length > 0", arg=out.element_handle(),
                           timeout=30_000)
    controls = _controls(out)
    kinds = {k for k, _ in controls}
    assert kinds == CONTROLS[cls], f"{where}: {cls} shows {sorted(kinds)}, expected {sorted(CONTROLS[cls])}"
    log_start = len(lab.log_text())
    root = out.element_handle()
    for n, (kind, control) in enumerate(controls):
        times, actions = [], []
        for i in range(REPEATS):
            control.scroll_into_view_if_needed()
            before = page.evaluate(PIXELS_JS, root)
            page.evaluate(ARM_JS, root)
            actions.append(_act(page, kind, control, i))
            try:
                page.wait_for_function(SETTLED_JS, arg=120, timeout=30_000, polling=50)
            except Exception as exc:  # playwright's TimeoutError
                raise AssertionError(f"{where}: {cls}, {kind} {n}: the picture did not change after "
                                     f"'{actions[-1]}'") from exc
            t0, t1 = page.evaluate("() => [window.__live.t0, window.__live.t1]")
            assert t0 is not None, f"{where}: {cls}, {kind} {n}: the action was not seen by the page"
            after = page.evaluate(PIXELS_JS, root)
            assert after and after != before, (f"{where}: {cls}, {kind} {n}: new image, same pixels "
                                               f"after '{actions[-1]}'")
            times.append(max(0.0, t1 - t0))
        report.append({"where": where, "profile": PROFILE, "explorer": cls, "control": f"{kind} {n}",
                       "actions": actions, "ms": [round(t, 1) for t in times],
                       "median_ms": round(statistics.median(times), 1)})
    shown = out.inner_text()
    assert not out.locator('[data-mime-type="application/vnd.jupyter.stderr"]').count(), \
        f"{where}: {cls} wrote to stderr:\n{shown[-2000:]}"
    for words in ("Error displaying widget", "Traceback", "Failed to load model"):
        assert words not in shown, f"{where}: {cls} shows '{words}':\n{shown[-2000:]}"
    new_log = lab.log_text()[log_start:]
    assert "Traceback" not in new_log, f"{where}: {cls}: the kernel logged an error:\n{new_log[-3000:]}"


def _summary(rows: list[dict]) -> str:
    lines = [f"{'where':28} {'explorer':22} {'control':10} median ms (n)  all ms"]
    for r in rows:
        lines.append(f"{r['where']:28} {r['explorer']:22} {r['control']:10} {r['median_ms']:8.1f} "
                     f"({len(r['ms'])})  {r['ms']}")
    return "\n".join(lines)


def _explorer_medians(rows: list[dict]) -> dict[str, float]:
    per: dict[str, list[float]] = {}
    for r in rows:
        per.setdefault(r["explorer"], []).extend(r["ms"])
    return {cls: statistics.median(ms) for cls, ms in per.items()}


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_explorers_live(lab, chapters, report, name):
    """The chapter, opened and run in JupyterLab; every control of every explorer in it used."""
    p, seconds, problems = chapters[name]
    assert not problems, f"{name} did not run cleanly:\n" + "\n".join(problems)
    nb = nbformat.read(lab.root / f"{name}.ipynb", as_version=4)
    rows: list[dict] = []
    for index, cls in explorer_cells(nb):
        _drive(p, lab, index, cls, f"{name} cell {index}", rows)
    report.extend(rows + [{"where": name, "profile": PROFILE, "run_all_s": round(seconds, 1),
                           "other_hosts": sorted(set(p.external))}])
    print(f"{name}: Run All Cells done after {seconds:.1f} s (all chapters at once)\n" + _summary(rows))
    p.check_console(name)
    if PROFILE == "smoke":
        slow = {c: m for c, m in _explorer_medians(rows).items() if c in IMAGE_EXPLORERS and m >= LIMIT_MS}
        assert not slow, f"{name}: median update time over {LIMIT_MS:.0f} ms: {slow}"
