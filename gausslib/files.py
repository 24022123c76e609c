"""Writing files so that a reader never sees half of one: a temporary sibling, then an atomic rename."""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

import torch

__all__ = ["atomic_write", "atomic_save"]


@contextlib.contextmanager
def atomic_write(path: Path):
    """Yield a temporary path beside ``path``; when the block ends without an exception, rename it to
    ``path`` (atomic on one file system), else delete it. The block writes the temporary file and may
    check it before it replaces ``path``."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def atomic_save(obj, path: Path) -> None:
    """Writes ``obj`` with ``torch.save`` to ``path`` via a temporary file and an atomic rename."""
    with atomic_write(path) as tmp:
        torch.save(obj, tmp)
