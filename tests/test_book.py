"""The website: build the book with warnings as errors, check its links, open it in Chromium.

The book is built once per session into a temporary folder (a full build every time, so a
warning in an unchanged page cannot hide in Sphinx's cache). The pages to open are found
from the sources, so a new chapter under notebooks/ is covered without editing this file.
Screenshots of every page opened land in _build/screenshots/ for a human to look at.
"""

from __future__ import annotations

import functools
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

import pytest

pytestmark = pytest.mark.book

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "_build" / "screenshots"
MATHJAX = ROOT / ".cache" / "mathjax-static" / "mathjax" / "tex-chtml.js"

# Same flags as `make book`, so that what passes here is what the Makefile publishes.
BUILD_FLAGS = ["-W", "-n", "--keep-going"]

COLAB = "https://colab.research.google.com"
REPOSITORY = "gan-course/gan-course-book"  # must match repository.url in _config.yml
BRANCH = "main"

PAGES = sorted(p.relative_to(ROOT).with_suffix("").as_posix() for p in ROOT.glob("book/*.md"))
CHAPTERS = sorted(p.relative_to(ROOT).with_suffix("").as_posix() for p in ROOT.glob("notebooks/*.ipynb"))

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


# --------------------------------------------------------------------------- the build

class Build:
    def __init__(self, returncode: int, log: str, html: Path, seconds: float):
        self.returncode, self.log, self.html, self.seconds = returncode, log, html, seconds

    def warnings(self) -> list[str]:
        return [line for line in self.log.splitlines() if re.search(r"\b(WARNING|ERROR)\b", line)]


@pytest.fixture(scope="session")
def build(tmp_path_factory) -> Build:
    """Build the book once per session; fail with the build log if Sphinx did."""
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
    missing = [p for p in PAGES + CHAPTERS if not (build.html / f"{p}.html").is_file()]
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


def test_internal_links_resolve(build):
    html = build.html
    pages = [p for p in html.rglob("*.html") if not {"_static", "_sources"} & set(p.relative_to(html).parts)]
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


@pytest.fixture(scope="session")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class PageReport:
    """Open one page and record what went wrong while it loaded."""

    def __init__(self, browser, url: str):
        self.problems: list[str] = []
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = page = self.context.new_page()
        host = urlsplit(url).netloc
        page.on("console", lambda m: m.type == "error" and self.problems.append(
            f"console error: {m.text} ({m.location.get('url')})"))
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: self.problems.append(f"request failed: {r.url} ({r.failure})"))
        page.on("response", lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}"))
        page.on("request", lambda r: urlsplit(r.url).netloc not in ("", host)
                and not r.url.startswith(("data:", "blob:"))
                and self.problems.append(f"request to another site: {r.url}"))
        page.goto(url, wait_until="load")
        page.wait_for_load_state("networkidle")

    def close(self):
        self.context.close()


def _check_page(browser, site: str, name: str, chapter: bool):
    report = PageReport(browser, f"{site}/{name}.html")
    page = report.page
    try:
        # Equations: wait until MathJax has typeset the page, then look for TeX errors.
        if page.locator(".math").count():
            page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                                   timeout=30_000)
            page.evaluate("() => MathJax.startup.promise")
            typeset = page.locator("mjx-container").count()
            assert typeset > 0, f"{name}: the page has math but MathJax typeset none of it"
            errors = page.locator("mjx-merror").all_text_contents()
            assert not errors, f"{name}: TeX errors in equations: {errors}"

        # Figures: every <img> finished loading and has pixels (animation frames included).
        page.evaluate("""() => Promise.all([...document.images].map(img => img.complete ? null :
                         new Promise(done => { img.onload = img.onerror = done; })))""")
        broken = page.evaluate("""() => [...document.images]
                                  .filter(img => !(img.complete && img.naturalWidth > 0))
                                  .map(img => img.id || img.src.slice(0, 120))""")
        assert not broken, f"{name}: images that did not load: {broken}"

        if chapter:
            # every animation the notebook stores must be on the page and play without a kernel
            stored = (ROOT / f"{name}.ipynb").read_text().count("_anim_img")
            animations = page.locator("img[id^='_anim_img']").count()
            if stored:
                assert animations > 0, f"{name}: its stored jshtml animation is missing from the page"
            expected = f"{COLAB}/github/{REPOSITORY}/blob/{BRANCH}/{name}.ipynb"
            hrefs = page.eval_on_selector_all(f"a[href^='{COLAB}']", "els => els.map(e => e.href)")
            assert hrefs, f"{name}: no Colab launch button"
            assert set(hrefs) == {expected}, f"{name}: Colab link {hrefs}, expected {expected}"

        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name.replace('/', '_')}.png"), full_page=True)
        assert not report.problems, f"{name}:\n" + "\n".join(report.problems)
    finally:
        report.close()


@pytest.mark.browser
@pytest.mark.parametrize("name", PAGES)
def test_page_in_browser(browser, site, name):
    _check_page(browser, site, name, chapter=False)


@pytest.mark.browser
@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_in_browser(browser, site, name):
    _check_page(browser, site, name, chapter=True)

