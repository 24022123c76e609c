"""Sphinx extension: the built pages load no script or stylesheet from the internet.

Jupyter Book always enables sphinx-thebe, which writes the unpkg.com address of thebe into every
page (loaded only if a reader starts a Thebe session, which this book does not offer); this drops
those two scripts. Any other remote script or stylesheet left on a page is reported as a warning,
so the strict build (`-W`) fails instead of shipping a CDN dependency.
"""

from sphinx.util import logging

logger = logging.getLogger(__name__)

THEBE_FILES = ("sphinx-thebe.js",)


def _is_remote(asset) -> bool:
    return "://" in (asset.filename or "") or "://" in asset.attributes.get("body", "")


def _is_thebe(script) -> bool:
    return (script.filename or "").endswith(THEBE_FILES) or "THEBE_JS_URL" in script.attributes.get("body", "")


def check_page_assets(app, pagename, templatename, context, doctree):
    """Drop sphinx-thebe's scripts from the page, then warn about any remote script or stylesheet."""
    if "script_files" not in context:
        return
    context["script_files"] = [s for s in context["script_files"] if not _is_thebe(s)]
    for asset in context["script_files"] + context.get("css_files", []):
        if _is_remote(asset):
            logger.warning("%s loads %s from the internet; serve it from the book (see book/vendor.py)",
                           pagename, asset.filename or "an inline script naming a URL")


def setup(app):
    # After every other extension has added its files to the page.
    app.connect("html-page-context", check_page_assets, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
