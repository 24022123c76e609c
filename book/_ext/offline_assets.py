"""Sphinx extension: the built pages load no script or stylesheet from the internet.

Jupyter Book always enables sphinx-thebe, which writes the unpkg.com address of thebe into every
page (loaded only if a reader starts a Thebe session, which this book does not offer); this drops
those two scripts. Any other remote script or stylesheet left on a page is reported as a warning,
so the strict build (`-W`) fails instead of shipping a CDN dependency.

Pages with widgets also get a small shim: ipywidgets typesets widget labels through the MathJax 2
API (`MathJax.Hub.Queue`), which MathJax 3 lacks, so every widget view logged a TypeError.
"""

from sphinx.util import logging

logger = logging.getLogger(__name__)

WIDGETS_JS = "html-manager/embed-amd.js"
MATHJAX2_SHIM = """document.addEventListener("DOMContentLoaded", () => {
  const mj = window.MathJax;
  if (mj && !mj.Hub && mj.startup) {
    mj.Hub = {Queue: (job) => mj.startup.promise.then(() => mj.typesetPromise([job[2]]))};
  }
});"""


def _is_remote(asset) -> bool:
    return "://" in (asset.filename or "") or "://" in asset.attributes.get("body", "")


def _is_thebe(script) -> bool:
    return (script.filename or "").endswith("sphinx-thebe.js") or "THEBE_JS_URL" in script.attributes.get("body", "")


def check_page_assets(app, pagename, templatename, context, doctree):
    """Drop sphinx-thebe's scripts, shim MathJax 2 for widgets, warn about any remote asset."""
    scripts = context.get("script_files")
    if scripts is None:
        return
    # In place: the list is the builder's per-page list, which Sphinx restores for the next page.
    scripts[:] = [s for s in scripts if not _is_thebe(s)]
    if any((s.filename or "").endswith(WIDGETS_JS) for s in scripts):
        app.add_js_file(None, body=MATHJAX2_SHIM)
    for asset in list(scripts) + list(context.get("css_files", [])):
        if _is_remote(asset):
            logger.warning("%s loads %s from the internet; serve it from the book (see book/vendor.py)",
                           pagename, asset.filename or "an inline script naming a URL")


def setup(app):
    # After every other extension has added its files to the page.
    app.connect("html-page-context", check_page_assets, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
