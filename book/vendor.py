"""Fetch the book's JavaScript (MathJax, require.js, the Jupyter widgets HTML manager) from npm.

The built HTML must load nothing from a CDN, so these files are served from the book itself.
They weigh about 9 MB, so they are not committed: this script downloads pinned npm tarballs,
checks their sha512 integrity, and extracts only the files the pages load into `book/_vendor/`
(git-ignored), which `_config.yml` maps onto the HTML `_static/` folder. Standard library only,
so `make book` needs no Node.js. Set `npm_config_registry` to use a mirror.

Usage: python book/vendor.py   (idempotent: does nothing when the stamp matches the pins)
"""

import base64
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile
import urllib.request
from pathlib import Path

DEST = Path(__file__).resolve().parent / "_vendor"
STAMP = DEST / ".stamp.json"

# name, version, sha512 integrity (from `npm view NAME@VERSION dist.integrity`),
# {member prefix inside the tarball: destination folder under DEST}, member suffixes to skip.
PACKAGES = [
    (
        "mathjax",
        "3.2.2",
        "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw==",
        # tex-chtml.js is the combined component; the fonts are loaded relative to it, and
        # TeX extensions (e.g. \boldsymbol) are autoloaded from input/tex/extensions.
        {
            "package/es5/tex-chtml.js": "mathjax/tex-chtml.js",
            "package/es5/output/chtml/fonts/woff-v2/": "mathjax/output/chtml/fonts/woff-v2/",
            "package/es5/input/tex/extensions/": "mathjax/input/tex/extensions/",
            "package/es5/ui/": "mathjax/ui/",
            "package/es5/a11y/": "mathjax/a11y/",
            "package/LICENSE": "mathjax/LICENSE",
        },
        (),
    ),
    (
        "requirejs",
        "2.3.8",
        "sha512-7/cTSLOdYkNBNJcDMWf+luFvMriVm7eYxp4BcFCsAX0wF421Vyce5SXP17c+Jd5otXKGNehIonFlyQXSowL6Mw==",
        {"package/require.js": "requirejs/require.js"},  # its licence is in its header
        (),
    ),
    (
        "@jupyter-widgets/html-manager",
        "1.0.7",
        "sha512-2xGwS7vVd2RGlKMiSqj1vYv2X59V73ygefUodhzy9Bho0mswWT/yo3Cg7MaYOqwozQjNo5k3rbJ3cETXWUwJ/g==",
        # embed-amd.js loads its webpack chunks and Font Awesome files relative to itself.
        {"package/dist/": "html-manager/", "package/LICENSE": "html-manager/LICENSE"},
        (".map", "/embed.js", "/libembed-amd.js", ".LICENSE.txt"),
    ),
]


def tarball_url(name: str, version: str) -> str:
    """Return the registry URL of the tarball of `name@version`."""
    registry = os.environ.get("npm_config_registry", "https://registry.npmjs.org/").rstrip("/")
    return f"{registry}/{name}/-/{name.split('/')[-1]}-{version}.tgz"


def fetch(name: str, version: str, integrity: str) -> bytes:
    """Return the tarball bytes of `name@version` after checking its sha512 integrity."""
    url = tarball_url(name, version)
    with urllib.request.urlopen(url, timeout=120) as response:
        data = response.read()
    digest = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    if digest != integrity:
        raise ValueError(f"{url}: integrity {digest} does not match the pinned {integrity}")
    return data


def extract(data: bytes, mapping: dict, skip: tuple) -> int:
    """Write the mapped tarball members under DEST; return how many files were written."""
    written = 0
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar.getmembers():
            if not member.isfile() or member.name.endswith(skip):
                continue
            for prefix, target in mapping.items():
                if member.name == prefix or (prefix.endswith("/") and member.name.startswith(prefix)):
                    out = DEST / (target + member.name[len(prefix):] if prefix.endswith("/") else target)
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_bytes(tar.extractfile(member).read())
                    written += 1
    return written


def main() -> int:
    pins = {name: version for name, version, *_ in PACKAGES}
    if STAMP.exists() and json.loads(STAMP.read_text()) == pins:
        return 0
    shutil.rmtree(DEST, ignore_errors=True)
    DEST.mkdir(parents=True)
    for name, version, integrity, mapping, skip in PACKAGES:
        count = extract(fetch(name, version, integrity), mapping, skip)
        print(f"vendored {name}@{version}: {count} files -> {DEST.name}/")
    STAMP.write_text(json.dumps(pins, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
