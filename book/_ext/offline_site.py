"""Sphinx extension: light pages that load nothing from other sites and log no errors.

Loaded by _config.yml (sphinx.local_extensions). The website must work without internet
(CI, a lab offline), without console errors, and on a phone's data plan;
tests/test_book.py checks all three in Chromium. This extension fixes what the toolchain
gets wrong on its own:

1. Matplotlib's ``Animation.to_jshtml()`` output starts with a ``<link>`` to Font Awesome 4
   on a CDN, only for its button icons. The theme already ships Font Awesome (it renders the
   ``fa fa-play`` icons), so the link is dropped from stored notebook outputs on the page.
   Live notebooks (Jupyter, Colab) keep it.
2. Sphinx 7.4 adds inline scripts registered by extensions twice (``prepare_writing``
   re-adds registry entries with filename ``''`` instead of ``None``). For sphinx-thebe's
   ``const THEBE_JS_URL = ...`` that is a SyntaxError on every page, so exact duplicates
   are removed from each page's script list.
3. Animation frames leave the HTML. ``to_jshtml`` inlines every frame as a base64 PNG
   (3.4 MB of HTML for Chapter 5). On the page each frame becomes a file in ``_images/``
   (re-encoded losslessly: grey frames as 8-bit grey, few colours as a palette), the
   player loads frames only when it comes into view (``site.js``), and it opens on a
   meaningful frame: the one ``gan_course.viz.animate`` marks with ``data-start-frame``,
   else the last (the end of training rather than an untrained grey grid).
4. Font Awesome, subset. The theme's ``fontawesome.js`` carries all 2,000 icons (1.49 MB)
   and its web fonts 0.55 MB; the site uses about twenty. After the build both are cut to
   the icons that the pages, the theme's scripts and its style sheets name.
"""

from __future__ import annotations

import base64
import hashlib
import io
import posixpath
import re
from pathlib import Path

from docutils import nodes
from sphinx.util import logging

logger = logging.getLogger(__name__)

FONT_AWESOME_CDN = re.compile(
    r"<link\b[^>]*href=[\"']https?://[^\"']*font-awesome[^\"']*[\"'][^>]*>\s*", re.IGNORECASE
)


# ----------------------------------------------------------------------------- animations

FRAME = re.compile(r'(frames\[(\d+)\]\s*=\s*")data:image/(png|jpeg);base64,([A-Za-z0-9+/=\\\s]+)(")')
START_MARK = re.compile(r'data-start-frame="(-?\d+)"')
CTOR = re.compile(r"function Animation\(frames, img_id, slider_id, interval, loop_select_id\)\s*\{")
CURRENT = re.compile(r"this\.current_frame = 0;")
PRELOAD = re.compile(r"this\.frames\[i\] = new Image\(\);\s*this\.frames\[i\]\.src = frames\[i\];")
NEW_ANIM = re.compile(r"(new Animation\(frames, img_id, slider_id, [0-9.]+,\s*loop_select_id)\)")


def optimise_png(data: bytes) -> tuple[bytes, str]:
    """Re-encode a frame losslessly in the smallest plain mode that holds it exactly."""
    from PIL import Image

    im = Image.open(io.BytesIO(data))
    im.load()
    if im.mode in ("RGBA", "LA") and im.getchannel("A").getextrema() == (255, 255):
        im = im.convert("RGB" if im.mode == "RGBA" else "L")
    if im.mode == "RGB":
        r, g, b = im.split()
        if r.tobytes() == g.tobytes() == b.tobytes():
            im = r  # exactly grey
        elif im.getcolors(256) is not None:
            im = im.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
            # FASTOCTREE keeps every colour when there are at most 256 of them; check it
            if im.convert("RGB").tobytes() != Image.open(io.BytesIO(data)).convert("RGB").tobytes():
                im = Image.open(io.BytesIO(data)).convert("RGB")
    out = io.BytesIO()
    im.save(out, "PNG", optimize=True)
    best = out.getvalue()
    return (best, "png") if len(best) < len(data) else (data, "png")


def externalise_animation(html: str, images_dir: Path, images_uri: str) -> str:
    """Frames to files, lazy loading, a meaningful first frame (see the module docstring)."""
    frames = list(FRAME.finditer(html))
    if not frames:
        return html
    written: dict[int, str] = {}

    def to_file(m: re.Match) -> str:
        data = base64.b64decode(re.sub(r"[\s\\\\]", "", m.group(4)))
        kind = m.group(3)
        if kind == "png":
            data, kind = optimise_png(data)
        name = f"anim-{hashlib.sha256(data).hexdigest()[:24]}.{'jpg' if kind == 'jpeg' else kind}"
        path = images_dir / name
        if not path.exists():
            images_dir.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        written[int(m.group(2))] = name
        return f"{m.group(1)}{images_uri}/{name}{m.group(5)}"

    html = FRAME.sub(to_file, html)
    n = len(frames)
    mark = START_MARK.search(html)
    start = int(mark.group(1)) if mark else n - 1
    start = min(max(start if start >= 0 else n + start, 0), n - 1)
    if CTOR.search(html) and CURRENT.search(html) and NEW_ANIM.search(html):
        html = CTOR.sub("function Animation(frames, img_id, slider_id, interval, loop_select_id, "
                        "start_frame){", html, count=1)
        html = CURRENT.sub("this.current_frame = start_frame || 0;", html, count=1)
        html = PRELOAD.sub("this.frames[i] = {src: frames[i]};  /* loaded when shown: site.js */",
                           html, count=1)
        html = NEW_ANIM.sub(lambda m: f"{m.group(1)}, {start})", html, count=1)
    else:
        logger.warning("offline_site: matplotlib's jshtml template changed; animation frames "
                       "were moved to files but the player was not adjusted", type="offline_site")
    return html


def fix_raw_html(app, doctree, docname):
    images_dir = Path(app.outdir) / "_images"
    images_uri = posixpath.relpath("_images", posixpath.dirname(docname) or ".")
    for raw in list(doctree.findall(nodes.raw)):
        if "html" not in raw.get("format", "").split():
            continue
        text = raw.astext()
        stripped = FONT_AWESOME_CDN.sub("", text)
        if app.builder.format == "html" and "_anim_img" in stripped:
            stripped = externalise_animation(stripped, images_dir, images_uri)
        if stripped != text:
            raw.replace_self(nodes.raw("", stripped, format=raw["format"], classes=raw.get("classes", [])))


# ----------------------------------------------------------------------------- scripts

def _key(js) -> tuple:
    filename = getattr(js, "filename", js) or ""
    attributes = getattr(js, "attributes", {})
    return (filename, getattr(js, "priority", 500), tuple(sorted(attributes.items())))


def dedupe_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for js in scripts:
        key = _key(js)
        if key not in seen:
            seen.add(key)
            unique.append(js)
    scripts[:] = unique


# ----------------------------------------------------------------------------- Font Awesome

ICON_ENTRY = re.compile(
    r'(?P<key>"[^"]+"|[A-Za-z_$][\w$]*|\d+):\[\d+,\d+,\[(?P<aliases>[^\]]*)\],"(?P<code>[0-9a-f]+)",'
    r'(?:"[^"]*"|\[[^\]]*\])\]'
)
ICON_CLASS = re.compile(r"\bfa-([a-z0-9-]+)")
CSS_CODEPOINT = re.compile(r'"\\(f[0-9a-f]{3}|e[0-9a-f]{3})"', re.IGNORECASE)


def used_icon_names(outdir: Path) -> set[str]:
    """Every ``fa-NAME`` the pages and the theme's scripts mention (style words included)."""
    names: set[str] = set()
    for page in outdir.rglob("*.html"):
        names |= set(ICON_CLASS.findall(page.read_text(encoding="utf-8", errors="replace")))
    for script in (outdir / "_static").rglob("*.js"):
        if script.name == "fontawesome.js" or "mathjax" in script.parts:
            continue
        names |= set(ICON_CLASS.findall(script.read_text(encoding="utf-8", errors="replace")))
    return names


def subset_fontawesome_js(text: str, names: set[str]) -> tuple[str, int]:
    """Keep only the icon definitions whose name or alias is in ``names``."""
    entries = list(ICON_ENTRY.finditer(text))
    if not entries:
        return text, 0
    pieces, last, kept = [], 0, 0
    runs, run = [], [entries[0]]
    for e in entries[1:]:
        if text[run[-1].end():e.start()] == ",":
            run.append(e)
        else:
            runs.append(run)
            run = [e]
    runs.append(run)
    for run in runs:
        keep = []
        for e in run:
            key = e.group("key").strip('"')
            aliases = {a.strip('"') for a in e.group("aliases").split(",") if a.startswith('"')}
            if key in names or aliases & names:
                keep.append(e.group(0))
        kept += len(keep)
        pieces += [text[last:run[0].start()], ",".join(keep)]
        last = run[-1].end()
    pieces.append(text[last:])
    return "".join(pieces), kept


CSS_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
ICON_RULE_SELECTOR = re.compile(r"^\s*\.fa-([a-z0-9-]+)::?(?:before|after)\s*$")


def used_codepoints(static: Path, names: set[str]) -> set[int]:
    """Font Awesome code points the site can show as glyphs of the web fonts.

    The theme's style sheet carries Font Awesome's whole class list (``.fa-rocket:before``,
    1,800 rules): those count only for icon names the site uses. Every other rule with an
    icon code (admonition and dropdown icons, the theme's variables) counts.
    """
    codes: set[int] = set()
    for sheet in static.rglob("*.css"):
        if "mathjax" in sheet.parts:
            continue
        for selector, body in CSS_RULE.findall(sheet.read_text(errors="replace")):
            found = CSS_CODEPOINT.findall(body)
            if not found:
                continue
            parts = [ICON_RULE_SELECTOR.match(part) for part in selector.split(",")]
            if all(parts) and not {m.group(1) for m in parts} & names:
                continue
            codes |= {int(c, 16) for c in found}
    return codes


def subset_fonts(static: Path, names: set[str]) -> None:
    """Cut the Font Awesome web fonts to the code points the site uses."""
    fonts = static / "vendor" / "fontawesome" / "webfonts"
    if not fonts.is_dir():
        return
    codes = used_codepoints(static, names)
    from fontTools import subset

    for font in sorted(fonts.iterdir()):
        if font.suffix not in (".woff2", ".ttf"):
            continue
        options = subset.Options()
        options.flavor = "woff2" if font.suffix == ".woff2" else None
        options.layout_features = []
        options.name_IDs = ["*"]
        options.notdef_outline = True
        try:
            f = subset.load_font(str(font), options)
            sub = subset.Subsetter(options)
            sub.populate(unicodes=sorted(codes))
            sub.subset(f)
            buf = io.BytesIO()
            subset.save_font(f, buf, options)
        except ImportError as err:  # woff2 needs brotli (requirements.txt pins it)
            logger.warning(f"offline_site: {font.name} left whole: {err}", type="offline_site")
            continue
        font.write_bytes(buf.getvalue())


def lighten_static(app, exception):
    """build-finished: subset Font Awesome's icons (script) and glyphs (web fonts)."""
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    script = outdir / "_static" / "scripts" / "fontawesome.js"
    names = used_icon_names(outdir)
    if script.is_file():
        text = script.read_text(encoding="utf-8")
        subset, kept = subset_fontawesome_js(text, names)
        if kept == 0:
            logger.warning("offline_site: no Font Awesome icon definitions recognised; "
                           "fontawesome.js left whole", type="offline_site")
        else:
            # no source map for the cut file: the map would describe the whole one
            subset = re.sub(r"\n//# sourceMappingURL=\S+\s*$", "\n", subset)
            script.write_text(subset, encoding="utf-8")
            (script.parent / "fontawesome.js.map").unlink(missing_ok=True)
    subset_fonts(outdir / "_static", names)


def setup(app):
    app.connect("doctree-resolved", fix_raw_html)
    # After every other handler has added its page-specific scripts.
    app.connect("html-page-context", dedupe_scripts, priority=900)
    app.connect("build-finished", lighten_static)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
