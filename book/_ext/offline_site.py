"""Sphinx extension: pages that load nothing from other sites and log no errors.

Loaded by _config.yml (sphinx.local_extensions). The website must work without internet
(CI, a lab offline) and without console errors; tests/test_book.py checks both in Chromium.
This extension fixes what the toolchain gets wrong on its own:

1. Matplotlib's ``Animation.to_jshtml()`` output starts with a ``<link>`` to Font Awesome 4
   on a CDN, only for its button icons. The theme already ships Font Awesome (it renders the
   ``fa fa-play`` icons), so the link is dropped from stored notebook outputs on the page.
   Live notebooks (Jupyter, Colab) keep it.
2. Sphinx 7.4 adds inline scripts registered by extensions twice (``prepare_writing``
   re-adds registry entries with filename ``''`` instead of ``None``). For sphinx-thebe's
   ``const THEBE_JS_URL = ...`` that is a SyntaxError on every page, so exact duplicates
   are removed from each page's script list.
"""

from __future__ import annotations

import re

from docutils import nodes

FONT_AWESOME_CDN = re.compile(
    r"<link\b[^>]*href=[\"']https?://[^\"']*font-awesome[^\"']*[\"'][^>]*>\s*", re.IGNORECASE
)


def drop_cdn_stylesheets(app, doctree, docname):
    for raw in list(doctree.findall(nodes.raw)):
        if "html" not in raw.get("format", "").split():
            continue
        text = raw.astext()
        stripped = FONT_AWESOME_CDN.sub("", text)
        if stripped != text:
            raw.replace_self(nodes.raw("", stripped, format=raw["format"], classes=raw.get("classes", [])))


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


def setup(app):
    app.connect("doctree-resolved", drop_cdn_stylesheets)
    # After every other handler has added its page-specific scripts.
    app.connect("html-page-context", dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
