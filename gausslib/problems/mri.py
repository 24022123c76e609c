"""CS-MRI (paper §5.1, Tables 1, 2, 5): random Cartesian k-space sampling, complex noise at an SNR."""
from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
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
    """accel: undersampling factor; snr_db: measurement SNR in dB (None: noise-free); targets: kind."""

    accel: float = 8
    snr_db: float | None = 20
    targets: str = "generator"

    def __post_init__(self):
        if not (math.isfinite(self.accel) and self.accel >= 1):
            raise ValueError(f"accel must be a finite factor ≥ 1, got {self.accel!r}")
        if self.snr_db is not None and not math.isfinite(self.snr_db):
            raise ValueError(f"snr_db must be finite (None or 'inf': noise-free), got {self.snr_db!r}")


def mask(size: int, accel: float) -> torch.Tensor:
    """Return the sampling mask ``[size, size]``: the shipped one where it exists, else drawn with seed 0."""
    shipped = MASKS / f"random_{size}_{accel:g}x.npy"
    if shipped.exists():
        import numpy as np

        return torch.from_numpy(np.load(shipped))
    return ops.mri_mask(size, accel, seed=0)


def build(setting: Setting, x: torch.Tensor, ids: list[int]) -> Problem:
    """Return the :class:`Problem` of ``setting`` on targets ``x: [N, C, H, W]``, noise seeded by id."""
    op = ops.MRI(mask(x.shape[-1], setting.accel)).to(x.dtype)
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


def settings(args: argparse.Namespace, targets: str) -> list[Setting]:
    """Return the settings the CLI arguments ask for, on targets of kind ``targets``."""
    return [Setting(number(a), number(s), targets) for a in args.accel for s in args.snr]
