"""Run mode shared by the notebooks, the book and the CLIs: one code path, two sizes.

`GAUSSLIB_MODE=quick` (CI and nbval) shrinks problem sizes so every notebook runs in well under a
minute; the default mode (`make book`) runs the live demos at a moderate size. The mode only ever
changes sizes, never which code runs.
"""

import os

MODES = ("quick", "default")


def _read_mode() -> str:
    mode = os.environ.get("GAUSSLIB_MODE", "default").strip().lower() or "default"
    if mode not in MODES:
        raise ValueError(f"GAUSSLIB_MODE={mode!r} is not a run mode; expected one of {MODES}")
    return mode


MODE = _read_mode()


def quick() -> bool:
    """Return True when running in quick mode (`GAUSSLIB_MODE=quick`)."""
    return MODE == "quick"


def size(*, quick, default):
    """Return `quick` in quick mode and `default` otherwise, e.g. `n = size(quick=64, default=4096)`."""
    return quick if MODE == "quick" else default
