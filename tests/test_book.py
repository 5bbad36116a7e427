"""The website: build the book with warnings as errors, check its links, open it in Chromium.

The book is built once per session into a temporary folder (a full build every time, so a
warning in an unchanged page cannot hide in Sphinx's cache). The pages to open are found
from the sources, so a new chapter under notebooks/ is covered without editing this file.
Every page is opened as a reader would, on a 1280x800 laptop screen and a 390x844 phone;
screenshots of both land in _build/screenshots/ for a human to look at.

What a reader must get (issue 14), one test each: menus that open on a phone; no raw TeX
and no doubled words in the prose; solutions (code, outputs and text) behind one fold;
nothing wider than the screen, display math that scrolls instead of being cut, code that
fits the column; figures that open at full size, with a caption and alt text; animations
that open on a meaningful frame and fit a phone; one output box per print run; one search
box, the title once, no generated index pages; light pages; an exercise index numbered as
the chapters are; a landing page for readers; Colab links that follow _config.yml.

Checks that depend on notebook content the chapter authors still have to fix are marked
xfail for those chapters only (the lists below, with the reason); the lead removes a
chapter from its list once its notebook is fixed, which makes the check strict for it.

``GAN_COURSE_BOOK_HTML=<folder>`` skips the build and tests an already built site (for
example an older build, to see which checks it fails).
"""

from __future__ import annotations

import functools
import html as html_lib
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest
import yaml

pytestmark = pytest.mark.book

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = Path(os.environ.get("GAN_COURSE_SCREENSHOTS", ROOT / "_build" / "screenshots"))
MATHJAX = ROOT / ".cache" / "mathjax-static" / "mathjax" / "tex-chtml.js"
sys.path.insert(0, str(ROOT / "tools"))

# Same flags as `make book`, so that what passes here is what the Makefile publishes.
BUILD_FLAGS = ["-W", "-n", "--keep-going"]

CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
COLAB = CONFIG["launch_buttons"]["colab_url"].rstrip("/")
REPOSITORY = urlsplit(CONFIG["repository"]["url"]).path.strip("/")  # owner/name
BRANCH = CONFIG["repository"].get("branch", "main")
STUDENT_BRANCH = CONFIG["sphinx"]["config"]["colab_student_branch"]

PAGES = sorted(p.relative_to(ROOT).with_suffix("").as_posix() for p in ROOT.glob("book/*.md"))
CHAPTERS = sorted(p.relative_to(ROOT).with_suffix("").as_posix() for p in ROOT.glob("notebooks/*.ipynb"))
ALL_PAGES = PAGES + CHAPTERS

DEVICES = {"laptop": (1280, 800), "phone": (390, 844)}
HTML_LIMIT = 1.5e6  # bytes of HTML per page (issue 14)
# Theme, scripts, styles and fonts a page loads besides its own HTML and images. The site
# loaded 2.6-3.9 MB of them before (fontawesome.js alone 1.49 MB, its fonts 0.27 MB, the
# search index 0.10 MB); now 0.8 MB without math and 2.0-2.1 MB with it, of which MathJax's
# combined tex-chtml.js is 1.16 MB (0.43 MB of it is MathJax's menu, which loading the
# components startup.js, core.js, input/tex.js and output/chtml.js instead would leave out).
ASSET_LIMIT = 2.2e6
CODE_COLUMNS = 79  # the code column holds about 81 characters at 1280 px

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

# ------------------------------------------------------------- known defects in notebooks
# Each entry: a chapter whose notebook (not the website) still has to change, and what.
# Remove the entry when the notebook is fixed; the check is then strict for it.
RAW_TEX_PENDING: dict[str, str] = {}
DOUBLED_WORDS_PENDING: dict[str, str] = {}
STATIC_FORM_PENDING: dict[str, str] = {}
CAPTIONS_PENDING: dict[str, str] = {}
CODE_WIDTH_PENDING: dict[str, str] = {}


def _params(names, pending):
    return [pytest.param(n, marks=pytest.mark.xfail(reason=f"{n}: {pending[n]}", strict=False))
            if n in pending else n for n in names]


# --------------------------------------------------------------------------- the build

class Build:
    def __init__(self, returncode: int, log: str, html: Path, seconds: float):
        self.returncode, self.log, self.html, self.seconds = returncode, log, html, seconds

    def warnings(self) -> list[str]:
        return [line for line in self.log.splitlines() if re.search(r"\b(WARNING|ERROR)\b", line)]


@pytest.fixture(scope="session")
def build(tmp_path_factory) -> Build:
    """Build the book once per session; fail with the build log if Sphinx did."""
    prebuilt = os.environ.get("GAN_COURSE_BOOK_HTML")
    if prebuilt:
        return Build(0, "", Path(prebuilt).resolve(), 0.0)
    if not MATHJAX.is_file():
        pytest.fail(f"{MATHJAX.relative_to(ROOT)} is missing: run `make setup` (it fetches MathJax "
                    "from npm so that the website typesets equations offline)")
    out = tmp_path_factory.mktemp("book")
    cmd = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()",
           "build", str(ROOT), "--path-output", str(out), *BUILD_FLAGS]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    result = Build(proc.returncode, proc.stdout + proc.stderr, out / "_build" / "html",
                   time.perf_counter() - start)
    print(f"book built in {result.seconds:.1f} s")
    if proc.returncode != 0 or not (result.html / "index.html").is_file():
        pytest.fail(f"jupyter-book build failed (exit {proc.returncode}):\n{result.log[-20000:]}",
                    pytrace=False)
    return result


def test_build_has_no_warnings(build):
    assert not build.warnings(), "the book build warned:\n" + "\n".join(build.warnings())


def test_every_page_was_built(build):
    missing = [p for p in ALL_PAGES if not (build.html / f"{p}.html").is_file()]
    assert not missing, f"no HTML page for {missing}: is each of them listed in _toc.yml?"


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("id", "name") if tag == "a" else ("id",):
            if attrs.get(name):
                self.ids.add(attrs[name])
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        elif tag in ("img", "script", "source") and attrs.get("src"):
            self.links.append(attrs["src"])
        elif tag == "link" and attrs.get("href") and attrs.get("rel") != "canonical":
            self.links.append(attrs["href"])


@functools.lru_cache(maxsize=None)
def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def _site_pages(html: Path) -> list[Path]:
    return [p for p in html.rglob("*.html") if not {"_static", "_sources"} & set(p.relative_to(html).parts)]


def test_internal_links_resolve(build):
    html = build.html
    pages = _site_pages(html)
    assert pages
    broken = []
    for page in pages:
        for link in _parse(page).links:
            url = urlsplit(link)
            if url.scheme or url.netloc or link.startswith(("mailto:", "javascript:", "data:")):
                continue
            target = (page.parent / unquote(url.path)).resolve() if url.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                broken.append(f"{page.relative_to(html)}: {link} (no such file)")
            elif url.fragment and target.suffix == ".html" and unquote(url.fragment) not in _parse(target).ids:
                broken.append(f"{page.relative_to(html)}: {link} (no anchor #{url.fragment})")
    assert not broken, "broken internal links:\n" + "\n".join(sorted(set(broken)))


def test_mathjax_is_served_with_the_site(build):
    """Equations must typeset without internet: MathJax comes from _static, never a CDN."""
    for name in ("book/intro", *CHAPTERS):
        text = (build.html / f"{name}.html").read_text(encoding="utf-8")
        scripts = re.findall(r'<script[^>]*src="([^"]*)"', text)
        mathjax = [s for s in scripts if "mathjax" in s.lower()]
        assert mathjax and all(s.split("?")[0].endswith("_static/mathjax/tex-chtml.js") for s in mathjax), \
            f"{name}: MathJax scripts {mathjax}"
        assert len(mathjax) == 1, f"{name}: MathJax loaded more than once: {mathjax}"
        external = [s for s in scripts if urlsplit(s).scheme]
        assert not external, f"{name}: scripts loaded from other sites: {external}"
    assert (build.html / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").is_dir()


# ------------------------------------------------------- static checks of the built pages

@pytest.mark.parametrize("name", ALL_PAGES)
def test_page_html_is_light(build, name):
    """No page above 1.5 MB of HTML: animation frames are files, not base64 in the page."""
    page = build.html / f"{name}.html"
    size = page.stat().st_size
    assert size <= HTML_LIMIT, f"{name}.html is {size / 1e6:.2f} MB (limit {HTML_LIMIT / 1e6} MB)"
    text = page.read_text(encoding="utf-8")
    inlined = re.findall(r'frames\[\d+\]\s*=\s*"data:', text)
    assert not inlined, f"{name}: {len(inlined)} animation frames inlined as data URLs"
    for frame in re.findall(r'frames\[\d+\]\s*=\s*"([^"]+)"', text):
        assert (page.parent / frame).resolve().is_file(), f"{name}: animation frame {frame} is missing"


def test_no_generated_index_pages(build):
    """No empty 'Index' page and no sphinx-proof 'Proof Index' of raw labels, nor links to them."""
    extra = [p.name for p in build.html.glob("*.html") if p.name in ("genindex.html", "prf-prf.html")]
    assert not extra, f"generated index pages: {extra}"
    linking = [str(p.relative_to(build.html)) for p in _site_pages(build.html)
               if any(re.search(r"(^|/)(genindex|prf-prf)\.html", link) for link in _parse(p).links)]
    assert not linking, f"pages linking to generated index pages: {linking}"


def test_one_output_box_per_print_run(build):
    """Consecutive prints of a cell are one block, not a stack of grey boxes."""
    split = []
    for name in CHAPTERS:
        text = (build.html / f"{name}.html").read_text(encoding="utf-8")
        # an output block closes and the next sibling is another block of the same stream
        n = len(re.findall(r'<div class="output (stream|stderr)[^"]*">(?:(?!<div class="output).)*?'
                           r'</pre></div>\s*</div>\s*<div class="output \1', text, flags=re.S))
        if n:
            split.append(f"{name}: {n}")
    assert not split, "adjacent stream outputs (merge them): " + ", ".join(split)


def _exercise_rows(html: Path):
    """(number shown, href, title, type, time, check) for each row of the exercise index."""
    text = (html / "book" / "exercises.html").read_text(encoding="utf-8")
    rows = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", text, flags=re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)
        if len(cells) != 5:
            continue
        href = re.search(r'href="([^"]+)"', cells[0])
        plain = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", c)).strip() for c in cells]
        rows.append((plain[0], href.group(1) if href else None, *plain[1:]))
    return rows


def test_exercise_index_matches_the_chapters(build):
    """Each row: the number the chapter page shows, the title, the type, the time, the check."""
    import exercise_index

    times = exercise_index.time_estimates()
    rows = _exercise_rows(build.html)
    expected = [e for path in sorted((ROOT / "notebooks").glob("*.ipynb")) for e in exercise_index.exercises(path)]
    assert len(rows) == len(expected), f"{len(rows)} rows in the index, {len(expected)} exercises in the notebooks"
    for (number, href, title, kind, minutes, check), ex in zip(rows, expected):
        assert number == ex["number"], f"index shows {number} for {ex['label']}, expected {ex['number']}"
        assert href and href.endswith(f"#{ex['label']}"), f"{number}: links to {href}"
        page = (build.html / "book" / unquote(href.split("#")[0])).resolve()
        shown = re.search(rf'id="{re.escape(ex["label"])}".*?<span class="caption-number">([^<]+)</span>',
                          page.read_text(encoding="utf-8"), flags=re.S)
        assert shown and shown.group(1).strip() == f"Exercise {number}", \
            f"{ex['label']}: the index says {number}, the chapter shows {shown and shown.group(1)}"
        plain_title = html_lib.unescape(title).replace("\u2019", "'").replace("\u2018", "'")
        assert plain_title == ex["title"] or "$" in ex["title"], (title, ex["title"])
        assert kind == ex["type"].lower() and minutes == times[ex["type"]], (number, kind, minutes)
        assert (check == ex["check"]) if ex["check"] else check == "", (number, check)


def test_landing_page_serves_readers(build):
    """What the book teaches, who it is for, a figure, every chapter with reading and run time,
    how to run it on Colab or a laptop; no maintainer commands."""
    text = (build.html / "book" / "intro.html").read_text(encoding="utf-8")
    article = re.search(r'<article class="bd-article">(.*?)</article>', text, flags=re.S).group(1)
    plain = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", article))
    for heading in ("Who it is for", "Chapters", "Running the chapters"):
        assert heading in plain, f"the landing page has no section '{heading}'"
    for phrase in ("Colab", "laptop", "Python and NumPy", "PyTorch"):
        assert phrase in plain, f"the landing page does not mention {phrase!r}"
    for maintainer in ("make test", "make execute", "make book", "nbval", "pytest"):
        assert maintainer not in plain, f"maintainer detail {maintainer!r} on the landing page (README)"
    figures = re.findall(r'<img[^>]*src="([^"]*_images/[^"]+)"[^>]*>', article)
    assert figures, "the landing page shows no figure from the book"
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    chapters = [c["file"] for part in toc["parts"] for c in part.get("chapters", [])
                if c.get("file", "").startswith("notebooks/")]
    table = re.search(r'<table class="[^"]*chapter-table.*?</table>', article, flags=re.S)
    assert table, "no chapter table on the landing page"
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table.group(0), flags=re.S)
    linked = {}
    for row in rows:
        href = re.search(r'href="\.\./(notebooks/[^".#]+)\.html"', row)
        if href:
            linked[href.group(1)] = [html_lib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", c))).strip()
                                     for c in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)]
    assert list(linked) == chapters, f"chapter table lists {list(linked)}, _toc.yml {chapters}"
    for doc, (_, reading, run) in linked.items():
        assert re.fullmatch(r"\d+ min", reading), f"{doc}: reading time {reading!r}"
        elapsed = re.findall(r"^elapsed_s\s+([0-9.]+)", "".join(
            o.get("text", "") for c in nbformat.read(ROOT / f"{doc}.ipynb", 4).cells[-3:]
            for o in c.get("outputs", []) if o.get("output_type") == "stream"), flags=re.M)
        assert elapsed, f"{doc}: its last cells print no elapsed_s (gc.provenance)"
        seconds = float(elapsed[-1])
        want = "< 1 min" if seconds < 60 else f"{-(-seconds // 60):.0f} min"
        assert run.startswith(want), f"{doc}: run time {run!r}, the notebook printed {seconds} s"


# ------------------------------------------------------------------ notebooks and tools

def test_install_cells_follow_the_configured_repository():
    """The hidden Colab cell of every chapter is the one tools/sync_colab.py writes."""
    import sync_colab

    url = sync_colab.repository_url()
    assert f"https://github.com/{REPOSITORY}" == url
    problems = [p for path in sorted((ROOT / "notebooks").glob("*.ipynb"))
                for p in sync_colab.sync_notebook(path, url, write=False)]
    problems += sync_colab.sync_readme(url, write=False)
    assert not problems, "\n".join(problems) + "\nrun `.venv/bin/python tools/sync_colab.py`"


@pytest.mark.parametrize("name", _params(CHAPTERS, STATIC_FORM_PENDING))
def test_every_explorer_has_a_static_form(name):
    """A live explorer (ipywidgets) is followed, before the text resumes, by a figure or an
    animation that shows the same thing on the static page."""
    nb = nbformat.read(ROOT / f"{name}.ipynb", as_version=4)
    missing = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not re.search(r"\b\w*Explorer\(", cell.source):
            continue
        shown = False
        for later in nb.cells[i:]:
            if later.cell_type == "markdown":
                break
            for out in later.get("outputs", []):
                data = out.get("data", {})
                if "image/png" in data or "_anim_img" in data.get("text/html", ""):
                    shown = True
        if not shown:
            missing.append(f"cell {i}: {cell.source.strip().splitlines()[-1][:80]}")
    assert not missing, f"{name}: explorers without a static form on the page: {missing}"


# --------------------------------------------------------------------------- the browser

def _chromium() -> str:
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.fail("Chromium not found: install Debian's `chromium` (.ci/run does) or set $CHROMIUM")


@pytest.fixture(scope="session")
def site(build):
    """Serve the built website on a free local port; yield its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(build.html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


# The headless Chromium (`browser`) is a session fixture in conftest.py: one Playwright per
# test session, shared with tests/test_live_explorers.py.


# Equations (display and inline): each fits its column or sits in a box that scrolls.
MATH_JS = r"""
() => {
  const article = document.querySelector("article.bd-article") || document.body;
  const visible = el => el.checkVisibility ? el.checkVisibility({visibilityProperty: true})
                                           : !!el.offsetParent;
  const rect = el => el.getBoundingClientRect();
  const articleRight = rect(article).right;
  // equations (display and inline): fit their column, or sit in a box that scrolls
  return [...article.querySelectorAll("mjx-container")].filter(visible).map(el => {
    const content = el.querySelector("mjx-math") || el;
    let scroller = null;
    for (let a = el; a && a !== document.body; a = a.parentElement) {
      const ox = getComputedStyle(a).overflowX;
      if (ox === "auto" || ox === "scroll") { scroller = a; break; }
    }
    // cut off: the formula (or the box it scrolls in) reaches past the column's edge
    const right = scroller ? rect(scroller).right : rect(content).right;
    return {tex: (el.getAttribute("aria-label") || el.textContent).slice(0, 60),
            clipped: right > articleRight + 1,
            past_screen: right > window.innerWidth + 1};
  });
}
"""

# Everything a test asks about a page, measured in one pass after the page has settled.
FACTS_JS = r"""
() => {
  const measureMath = ${MATH};
  const article = document.querySelector("article.bd-article") || document.body;
  const skip = "pre, code, script, style, mjx-container, .highlight, .cell_input, .cell_output";
  // the prose: text outside code, outputs and typeset math (folded text included); each
  // left-out element counts as one placeholder word, so "write `f` and `g`" is not "and  and"
  let prose = "";
  const walk = node => {
    for (const child of node.childNodes) {
      if (child.nodeType === Node.TEXT_NODE) prose += child.textContent;
      else if (child.nodeType === Node.ELEMENT_NODE) {
        if (child.matches(skip)) prose += " \u00a4 ";
        else walk(child);
      }
    }
  };
  walk(article);
  const visible = el => el.checkVisibility ? el.checkVisibility({visibilityProperty: true})
                                           : !!el.offsetParent;
  const rect = el => el.getBoundingClientRect();
  const articleRight = rect(article).right;
  const math = measureMath();
  // code lines shown on the page (cells and code blocks, not outputs)
  const codeLines = [...article.querySelectorAll(".cell_input pre, div.highlight pre")]
    .filter(pre => !pre.closest(".cell_output"))
    .flatMap(pre => pre.textContent.split("\n"));
  const longest = codeLines.reduce((a, b) => b.length > a.length ? b : a, "");
  // output images (not animation frames)
  const images = [...article.querySelectorAll(".cell_output img, figure img")]
    .filter(img => !img.id.startsWith("_anim_img"))
    .map(img => {
      const link = img.closest("a");
      const figure = img.closest("figure");
      const caption = figure && figure.querySelector("figcaption");
      return {src: img.getAttribute("src"), full: img.src, alt: img.getAttribute("alt") || "",
              natural: img.naturalWidth, shown: rect(img).width,
              right: rect(img).right, href: link ? link.href : null,
              caption: caption ? caption.textContent.trim() : null};
    });
  // animations: the frame they show, how many they have, whether the player fits
  const animations = [...document.querySelectorAll("img[id^='_anim_img']")].map(img => {
    const id = img.id.replace("_anim_img", "");
    const anim = window["anim" + id];
    const marked = img.closest("[data-start-frame]");
    const player = img.closest(".animation") || img;
    return {id, current: anim ? anim.current_frame : null, n: anim ? anim.frames.length : null,
            marked: marked ? parseInt(marked.dataset.startFrame) : null,
            right: Math.max(rect(player).right, rect(img).right), shown: rect(img).width};
  });
  const solutions = [...document.querySelectorAll(".cell.tag_solution")].map(cell => ({
    folded: !!cell.closest(".solution"), visible: visible(cell),
    prompt: [...cell.querySelectorAll("summary")].map(s => s.textContent.trim()).join(" ")}));
  const text = [...article.querySelectorAll("*:not(script):not(style)")].length ? article.textContent : "";
  const markers = (text.match(/#+\s*(BEGIN|END) (SOLUTION|HIDDEN TESTS)|NBVAL_[A-Z_]+/g) || []);
  const icons = {
    missing: [...document.querySelectorAll("svg.svg-inline--fa g.missing")].map(g =>
      g.closest("svg").getAttribute("data-icon")),
    unconverted: [...document.querySelectorAll("i[class*='fa-'], span[class*='fa-']")]
      .filter(visible).map(e => e.className),
  };
  const searches = [...document.querySelectorAll(".search-button, .search-button-field, form.bd-search")]
    .filter(visible).length;
  const sidebar = document.querySelector("#pst-primary-sidebar");
  const title = (document.querySelector(".logo__title") || {}).textContent || "";
  const titleCount = sidebar && title ? sidebar.textContent.split(title.trim()).length - 1 : 0;
  const header = document.querySelector("#pst-header");
  return {
    prose, math, longest, images, animations, solutions, markers, icons, searches, titleCount,
    headerHeight: header ? rect(header).height : 0,
    scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
    colab: [...document.querySelectorAll("a[href*='colab.research.google.com']")].map(a => a.href),
    mathErrors: [...document.querySelectorAll("mjx-merror")].map(e => e.textContent),
    broken: [...document.images].filter(img => !(img.complete && img.naturalWidth > 0))
                                .map(img => img.id || img.src.slice(0, 120)),
  };
}
"""


class Visit:
    """One page opened on one device: what went wrong while it loaded, and what it shows."""

    def __init__(self, browser, site: str, name: str, device: str):
        self.name, self.device = name, device
        width, height = DEVICES[device]
        self.problems: list[str] = []
        self.bytes: dict[str, int] = {}
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.page = page = self.context.new_page()
        host = urlsplit(site).netloc
        page.on("console", lambda m: m.type == "error" and self.problems.append(
            f"console error: {m.text} ({m.location.get('url')})"))
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: self.problems.append(f"request failed: {r.url} ({r.failure})"))
        page.on("response", lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}"))
        page.on("request", lambda r: urlsplit(r.url).netloc not in ("", host)
                and not r.url.startswith(("data:", "blob:"))
                and self.problems.append(f"request to another site: {r.url}"))
        page.on("requestfinished", self._count)
        page.goto(f"{site}/{name}.html", wait_until="load")
        page.wait_for_load_state("networkidle")
        if page.locator(".math").count():
            page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                                   timeout=30_000)
            page.evaluate("() => MathJax.startup.promise")
        page.evaluate("""() => Promise.all([...document.images].map(img => img.complete ? null :
                         new Promise(done => { img.onload = img.onerror = done; })))""")
        page.wait_for_timeout(300)  # animations start from a setTimeout(0); icons are replaced
        self.facts = page.evaluate(FACTS_JS.replace("${MATH}", MATH_JS))
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.screenshot = SCREENSHOTS / f"{name.replace('/', '_')}_{device}.png"
        page.screenshot(path=str(self.screenshot), full_page=True)  # as a reader first sees it
        # equations inside folded solutions too: open every fold, measure again
        page.evaluate("""() => { document.querySelectorAll('.toggle-hidden > .admonition-title button, '
            + 'button.toggle-button-hidden').forEach(b => b.click());
            document.querySelectorAll('details').forEach(d => d.open = true); }""")
        page.wait_for_timeout(300)
        self.facts["math"] += page.evaluate(MATH_JS)

    def _count(self, request):
        response = request.response()
        if response is None:
            return
        try:
            size = len(response.body())
        except Exception:  # a body the browser no longer holds (redirects, aborted)
            return
        path = urlsplit(request.url).path
        kind = ("page" if path.endswith(f"{self.name}.html") else
                "images" if "/_images/" in path else "assets")
        self.bytes[kind] = self.bytes.get(kind, 0) + size

    def close(self):
        self.context.close()


@pytest.fixture(scope="session")
def visits(browser, site):
    """Memoised visits: visit(name, device) opens each page once per device per session."""
    opened: dict[tuple[str, str], Visit] = {}

    def visit(name: str, device: str = "laptop") -> Visit:
        key = (name, device)
        if key not in opened:
            opened[key] = Visit(browser, site, name, device)
            opened[key].page.close()
        return opened[key]

    yield visit
    for v in opened.values():
        v.close()


@pytest.fixture
def fresh_page(browser, site):
    """A page of its own, for tests that click (menus, folds)."""
    contexts = []

    def open_page(name: str, device: str):
        width, height = DEVICES[device]
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{site}/{name}.html", wait_until="load")
        page.wait_for_load_state("networkidle")
        page.errors = errors
        return page

    yield open_page
    for c in contexts:
        c.close()


@pytest.mark.browser
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ALL_PAGES)
def test_page_loads_cleanly(visits, name, device):
    """No console errors, no failed or external requests, equations typeset, images and
    icons loaded, and nothing wider than the screen (the page never scrolls sideways)."""
    v = visits(name, device)
    f = v.facts
    assert not v.problems, f"{name} ({device}):\n" + "\n".join(v.problems)
    assert not f["mathErrors"], f"{name}: TeX errors in equations: {f['mathErrors']}"
    assert not f["broken"], f"{name}: images that did not load: {f['broken']}"
    assert not f["icons"]["missing"], f"{name}: icons missing from the subset Font Awesome: {f['icons']['missing']}"
    assert not f["icons"]["unconverted"], f"{name}: icons not drawn: {f['icons']['unconverted']}"
    assert f["scrollWidth"] <= f["innerWidth"], \
        f"{name} ({device}): the page is {f['scrollWidth']} px wide on a {f['innerWidth']} px screen"
    clipped = [m["tex"] for m in f["math"] if m["clipped"] or m["past_screen"]]
    assert not clipped, f"{name} ({device}): equations cut off instead of scrolling: {clipped}"


@pytest.mark.browser
@pytest.mark.parametrize("name", ALL_PAGES)
def test_page_weight(visits, name):
    """HTML at most 1.5 MB; theme, scripts, styles and fonts at most ASSET_LIMIT."""
    v = visits(name, "laptop")
    html = v.bytes.get("page", 0)
    assets = v.bytes.get("assets", 0)
    assert 0 < html <= HTML_LIMIT, f"{name}: {html / 1e6:.2f} MB of HTML"
    assert assets <= ASSET_LIMIT, f"{name}: {assets / 1e6:.2f} MB of theme and script files " \
                                  f"(limit {ASSET_LIMIT / 1e6} MB)"


TEX = re.compile(r"\$\$|\\(?:begin|end)\{|\\[A-Za-z]{2,}|(?<![\w$])\$[^$\s][^$\n]{0,80}\$")


@pytest.mark.browser
@pytest.mark.parametrize("name", _params(ALL_PAGES, RAW_TEX_PENDING))
def test_no_raw_tex(visits, name):
    """Every equation is typeset: no $$, \\begin, \\mathbb... left in the prose."""
    prose = visits(name, "laptop").facts["prose"]
    found = [prose[max(0, m.start() - 40):m.end() + 40].replace("\n", " ") for m in TEX.finditer(prose)]
    assert not found, f"{name}: raw TeX in the text:\n" + "\n".join(found[:10])


DOUBLED = re.compile(r"\b([A-Za-z]{2,})\s+\1\b", re.IGNORECASE)


@pytest.mark.browser
@pytest.mark.parametrize("name", _params(ALL_PAGES, DOUBLED_WORDS_PENDING))
def test_no_doubled_words(visits, name):
    """No 'Exercise Exercise 5.3' or 'the the' in the prose."""
    prose = visits(name, "laptop").facts["prose"]
    found = [prose[max(0, m.start() - 30):m.end() + 30].replace("\n", " ") for m in DOUBLED.finditer(prose)]
    assert not found, f"{name}: doubled words:\n" + "\n".join(found)


@pytest.mark.browser
@pytest.mark.parametrize("name", _params(ALL_PAGES, CODE_WIDTH_PENDING))
def test_code_fits_the_column(visits, name):
    """The longest code line shown is at most 79 characters (the column holds about 81)."""
    longest = visits(name, "laptop").facts["longest"]
    assert len(longest) <= CODE_COLUMNS, f"{name}: a code line of {len(longest)} characters: {longest!r}"


@pytest.mark.browser
@pytest.mark.parametrize("name", ALL_PAGES)
def test_output_images_open_full_size(visits, name):
    """Every figure links to its own image file, so a reader can open it at full size."""
    images = visits(name, "laptop").facts["images"]
    unlinked = [img["src"] for img in images
                if not img["href"] or img["href"].split("#")[0] != img["full"]]
    assert not unlinked, f"{name}: figures that do not open at full size: {unlinked}"


@pytest.mark.browser
@pytest.mark.parametrize("name", _params(CHAPTERS, CAPTIONS_PENDING))
def test_figures_have_captions_alt_text_and_fit(visits, name):
    """A numbered caption (Fig. 5.2), alt text that describes the figure (not a file name),
    and a size for the column: shown at 60 % of its pixels or more (tick labels readable)."""
    chapter = int(re.search(r"/(\d+)_", name).group(1))
    problems = []
    for img in visits(name, "laptop").facts["images"]:
        label = img["src"].rsplit("/", 1)[-1]
        if not img["caption"] or not img["caption"].startswith(f"Fig. {chapter}."):
            problems.append(f"{label}: no numbered caption")
        if len(img["alt"]) < 15 or re.search(r"\.(png|jpe?g|svg)$|^[0-9a-f]{16,}", img["alt"]):
            problems.append(f"{label}: alt text {img['alt']!r}")
        if img["natural"] and img["shown"] / img["natural"] < 0.6:
            problems.append(f"{label}: {img['natural']} px shown at {img['shown']:.0f} px")
    assert not problems, f"{name}:\n" + "\n".join(problems)


@pytest.mark.browser
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", CHAPTERS)
def test_animations_open_on_a_meaningful_frame_and_fit(visits, name, device):
    """Every stored animation is on the page, opens on its marked frame (default: the last,
    not an untrained grid) and fits the screen with its controls."""
    f = visits(name, device).facts
    stored = (ROOT / f"{name}.ipynb").read_text().count("_anim_img") > 0
    assert bool(f["animations"]) == stored, f"{name}: stored animation missing from the page"
    for a in f["animations"]:
        want = a["marked"] if a["marked"] is not None else a["n"] - 1
        assert a["n"] and a["current"] == want, f"{name}: animation opens on frame {a['current']} of {a['n']}"
        assert a["right"] <= f["innerWidth"], f"{name} ({device}): the player is wider than the screen"


@pytest.mark.browser
@pytest.mark.parametrize("name", CHAPTERS)
def test_colab_links_follow_the_configuration(visits, name):
    """Two launch links: the student notebook (no solutions) and the full one, both in the
    repository that _config.yml names."""
    hrefs = set(visits(name, "laptop").facts["colab"])
    expected = {f"{COLAB}/github/{REPOSITORY}/blob/{branch}/{name}.ipynb" for branch in (BRANCH, STUDENT_BRANCH)}
    assert hrefs == expected, f"{name}: Colab links {sorted(hrefs)}, expected {sorted(expected)}"


@pytest.mark.browser
def test_page_chrome(visits):
    """One search box, the book's title once in the sidebar, no second header bar."""
    for name in ("book/intro", CHAPTERS[0]):
        f = visits(name, "laptop").facts
        assert f["searches"] == 1, f"{name}: {f['searches']} search boxes at 1280 px"
        assert f["titleCount"] == 1, f"{name}: the book's title appears {f['titleCount']} times in the sidebar"
        assert f["headerHeight"] == 0, f"{name}: a {f['headerHeight']} px bar above the article header"


@pytest.mark.browser
@pytest.mark.parametrize("name", CHAPTERS)
def test_solutions_are_folded_whole(visits, fresh_page, name):
    """No part of a solution (code, check verdicts, measured answers, figures) is visible
    before a click; each code solution sits in its exercise's solution fold, which opens;
    no grading or test markers on the page."""
    f = visits(name, "laptop").facts
    cells = f["solutions"]
    assert cells, f"{name}: no code solution found on the page"
    assert all(c["folded"] for c in cells), f"{name}: code solutions outside a solution fold"
    shown = [c for c in cells if c["visible"]]
    assert not shown, f"{name}: {len(shown)} code solutions visible before a click"
    assert not any("code cell" in c["prompt"] for c in cells), f"{name}: a nested 'Show code cell' prompt"
    assert not f["markers"], f"{name}: markers on the page: {sorted(set(f['markers']))}"
    page = fresh_page(name, "laptop")
    page.evaluate("""() => document.querySelectorAll('.solution').forEach(fold => {
        if (fold.querySelector('.cell.tag_solution')) fold.querySelector('.toggle-button').click(); })""")
    page.wait_for_timeout(500)
    opened = page.evaluate("""() => [...document.querySelectorAll('.cell.tag_solution')]
        .map(c => c.checkVisibility({visibilityProperty: true}))""")
    assert opened and all(opened), f"{name}: a solution fold did not open on a click: {opened}"


MENU_JS = """(selector) => {
  const dialog = document.querySelector(selector);
  if (!dialog || !dialog.open) return -1;
  return [...dialog.querySelectorAll('a')].filter(a => a.checkVisibility({visibilityProperty: true})
      && a.getBoundingClientRect().width > 0 && a.getBoundingClientRect().left >= 0).length;
}"""


@pytest.mark.browser
@pytest.mark.parametrize("width", [390, 900])
@pytest.mark.parametrize("name", ["book/intro", "notebooks/05_dcgan"])
def test_menus_open_on_a_phone(browser, site, name, width):
    """Tapping the menu button opens the site navigation; tapping 'Contents' opens the
    in-page contents (they did nothing before: hidden duplicates had the handlers)."""
    context = browser.new_context(viewport={"width": width, "height": 844}, has_touch=True)
    try:
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{site}/{name}.html", wait_until="load")
        page.wait_for_load_state("networkidle")
        page.locator(".primary-toggle:visible").first.tap()
        page.wait_for_timeout(400)
        links = page.evaluate(MENU_JS, "#pst-primary-sidebar-modal")
        assert links >= len(CHAPTERS), f"{name} at {width} px: the site menu shows {links} links"
        page.keyboard.press("Escape")
        page.wait_for_timeout(300)
        toggles = page.locator(".secondary-toggle:visible")
        if name.startswith("notebooks/"):
            assert toggles.count(), f"{name} at {width} px: no Contents button"
        if toggles.count():
            toggles.first.tap()
            page.wait_for_timeout(400)
            links = page.evaluate(MENU_JS, "#pst-secondary-sidebar-modal")
            assert links >= 1, f"{name} at {width} px: the contents menu shows {links} links"
        assert not errors, errors
    finally:
        context.close()


@pytest.mark.browser
def test_menu_button_hides_and_shows_the_sidebar_on_a_laptop(fresh_page):
    page = fresh_page("notebooks/01_minimax", "laptop")
    sidebar = page.locator("#pst-primary-sidebar")
    assert sidebar.is_visible()
    page.locator(".primary-toggle:visible").first.click()
    page.wait_for_timeout(600)
    assert not sidebar.is_visible(), "the menu button did not hide the sidebar"
    page.locator(".primary-toggle:visible").first.click()
    page.wait_for_timeout(600)
    assert sidebar.is_visible(), "the menu button did not bring the sidebar back"
    assert not page.errors, page.errors
