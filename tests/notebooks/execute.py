"""Execute notebooks in place in quick mode, so they are committed with the outputs nbval compares.

Usage: python tests/notebooks/execute.py [NOTEBOOK ...]   (default: every notebooks/*.ipynb)
`make notebooks` runs this. Each notebook runs top to bottom in a fresh kernel of the current
Python, with its own folder as working directory and `GAUSSLIB_MODE=quick`; widget state is
stored (so the HTML book can render widgets without a kernel) and per-cell timing metadata is
not (so re-running an unchanged notebook gives an unchanged file).
"""

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]


def execute(path: Path, timeout: int = 600) -> float:
    """Execute the notebook at `path` in place; return the wall time in seconds."""
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
        store_widget_state=True,
    ).execute()
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return time.perf_counter() - start


def main(argv: list[str]) -> int:
    os.environ["GAUSSLIB_MODE"] = "quick"
    paths = [Path(a) for a in argv] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    for path in paths:
        print(f"{path}: {execute(path):.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
