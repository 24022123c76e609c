"""CS-MRI (paper §5.1, Tables 1, 2, 5): random k-space sampling, complex noise at an SNR.

The mask is the shipped one for the image size and acceleration (``data/masks``), drawn with seed 0
where none is shipped, or a file of the user's (``--mask PATH``: a centred 0/1 ``.npy`` array
``[H, W]``, e.g. the paper's ``mask_rand_8x.npy``); a mask file is recorded in the setting by its path.
"""
from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch

from gausslib import operators as ops
from gausslib.invert import Problem
from gausslib.problems.common import noise_per_image, number

NAME = "mri"
DEFAULT_GENERATOR = "stylegan2-phantom64-smooth"  # the committed results; studies v2 (issue 16) move to the v2 models
TV_GRID = [0.003, 0.01, 0.03, 0.1]
MASKS = Path(__file__).resolve().parents[2] / "data" / "masks"  # shipped masks (source checkout)


@dataclass(frozen=True)
class Setting:
    """accel: undersampling factor; snr_db: measurement SNR in dB (None: noise-free); mask: a mask file
    (None: the shipped or seeded mask of ``accel``; recorded only when given); targets: kind."""

    accel: float = 8
    snr_db: float | None = 20
    mask: str | None = field(default=None, metadata={"record": "unless-default"})
    targets: str = "generator"

    def __post_init__(self):
        if not (math.isfinite(self.accel) and self.accel >= 1):
            raise ValueError(f"accel must be a finite factor ≥ 1, got {self.accel!r}")
        if self.snr_db is not None and not math.isfinite(self.snr_db):
            raise ValueError(f"snr_db must be finite (None or 'inf': noise-free), got {self.snr_db!r}")


def load_mask(path: str | Path) -> torch.Tensor:
    """Return the centred 0/1 k-space mask ``[H, W]`` (bool) stored in the ``.npy`` file ``path``.

    Singleton axes are dropped (``[1, H, W]`` files are common); anything but 0s and 1s is refused.
    """
    import numpy as np

    path = Path(path)
    if path.suffix != ".npy":
        raise ValueError(f"mask: expected a .npy file, got {str(path)!r}")
    if not path.is_file():
        raise ValueError(f"mask: no such file {str(path)!r}")
    m = np.load(path, allow_pickle=False)
    m = m.squeeze() if m.ndim > 2 else m
    if m.ndim != 2 or np.iscomplexobj(m) or not np.isin(m, (0, 1)).all():
        raise ValueError(f"mask: {str(path)!r} must hold a 0/1 array [H, W], got dtype {m.dtype} and shape {list(m.shape)}")
    return torch.from_numpy(m != 0)


def mask(size: int, accel: float, path: str | Path | None = None) -> torch.Tensor:
    """Return the sampling mask ``[size, size]``: the file ``path`` when given (its sampling rate must match
    ``accel`` within 10 %), else the shipped one where it exists, else drawn with seed 0."""
    if path is not None:
        m = load_mask(path)
        if tuple(m.shape) != (size, size):
            raise ValueError(f"mask: {str(path)!r} is {list(m.shape)}, the images are {size} × {size}")
        rate = m.numel() / max(int(m.sum()), 1)
        if abs(rate / accel - 1) > 0.1:
            raise ValueError(f"mask: {str(path)!r} samples 1 in {rate:.2f} entries, but accel is {accel:g}; "
                             f"pass --accel {rate:.0f}")
        return m
    shipped = MASKS / f"random_{size}_{accel:g}x.npy"
    if shipped.exists():
        import numpy as np

        return torch.from_numpy(np.load(shipped))
    return ops.mri_mask(size, accel, seed=0)


def build(setting: Setting, x: torch.Tensor, ids: list[int]) -> Problem:
    """Return the :class:`Problem` of ``setting`` on targets ``x: [N, C, H, W]``, noise seeded by id."""
    op = ops.MRI(mask(x.shape[-1], setting.accel, setting.mask)).to(x.dtype)
    y = op(x)
    if setting.snr_db is not None:
        y = noise_per_image(lambda d, g: ops.add_complex_noise(d, setting.snr_db, g), y, ids)
    return Problem(op, y, x_true=x)


def _snr(v: str) -> float | None:
    return None if v.lower() in ("inf", "none") else float(v)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of this problem's settings to the study CLI."""
    parser.add_argument("--accel", type=float, nargs="+", default=[float(Setting.accel)])
    parser.add_argument("--snr", type=_snr, nargs="+", default=[float(Setting.snr_db)],
                        help="dB; 'inf' for noise-free")
    parser.add_argument("--mask", default=None, help="a centred 0/1 k-space mask [H, W] (.npy); default: shipped/seeded")


def settings(args: argparse.Namespace, targets: str) -> list[Setting]:
    """Return the settings the CLI arguments ask for, on targets of kind ``targets``."""
    return [Setting(number(a), number(s), args.mask, targets) for a in args.accel for s in args.snr]
