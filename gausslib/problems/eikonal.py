"""Eikonal traveltime tomography (paper §5.3, Table 4): sources and receivers on the edges, relative noise."""
from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from typing import Callable

import torch

from gausslib import operators as ops
from gausslib.invert import Problem, squared_error
from gausslib.problems.common import noise_per_image

NAME = "eikonal"
DEFAULT_GENERATOR = "stylegan2-phantom64-smooth"  # the committed results; studies v2 (issue 16) move to the v2 models
TV_GRID = [0.3, 1.0, 3.0, 10.0]


@dataclass(frozen=True)
class Setting:
    """per_edge: sources per edge (each records at the 3n − 4 boundary nodes off its own edge): 2
    gives 4·2·188 = 1504 traveltimes for 64² = 4096 unknowns, a ratio of 0.37 like the paper's
    (the committed protocol-1 results: 8, ratio 1.47); noise: relative traveltime noise σ;
    extent_m: side of the domain in metres; targets: kind."""

    per_edge: int = 2
    noise: float = 1e-3
    extent_m: float = 0.256
    targets: str = "generator"

    def __post_init__(self):
        if not (math.isfinite(self.noise) and self.noise >= 0):
            raise ValueError(f"noise must be a finite relative σ ≥ 0, got {self.noise!r}")


def scaled_loss(scale: torch.Tensor) -> Callable:
    """Return ``½‖(pred − y)/s‖²`` per item, ``s: [N]`` per image (repeated over restarts)."""
    def loss(pred, y):
        s = scale.to(pred).repeat_interleave(pred.shape[0] // scale.shape[0])
        return squared_error(pred / s.view(-1, *[1] * (pred.ndim - 1)), y / s.view(-1, *[1] * (y.ndim - 1)))
    return loss


def build(setting: Setting, x: torch.Tensor, ids: list[int]) -> Problem:
    """Return the :class:`Problem` of ``setting`` on velocity maps ``x: [N, 1, H, W]``, noise seeded by id."""
    size = x.shape[-1]
    op = ops.Eikonal(size, h=setting.extent_m / size, per_edge=setting.per_edge)
    with torch.no_grad():
        t = op(x)
    y = noise_per_image(lambda d, g: ops.add_traveltime_noise(d, setting.noise, g), t, ids)
    # traveltimes are ~1e-4 s: scale the misfit by σ·mean(t) so that optimiser tolerances
    # mean the same as for the other problems (a constant factor: same minimiser)
    # (noise-free data: the default σ's scale, never a zero that would divide the misfit)
    scale = (setting.noise or Setting.noise) * y.flatten(1).mean(1)
    return Problem(op, y, x_true=x, loss=scaled_loss(scale))


TV_START_SIGMA = 11 / 256  # the authors start TV from the truth smoothed with σ = 11 px on 256 px


def tv_start(x_true: torch.Tensor) -> torch.Tensor:
    """Return TV's first iterate ``[N, 1, n, n]``: the truth blurred with σ = 11·n/256 px (reflected
    edges), the authors' start (protocol 2; it sees the truth, as theirs)."""
    return ops.GaussianBlur(TV_START_SIGMA * x_true.shape[-1]).to(x_true)(x_true)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of this problem's settings to the study CLI."""
    parser.add_argument("--per-edge", type=int, default=Setting.per_edge)
    parser.add_argument("--eikonal-noise", type=float, default=Setting.noise)
    parser.add_argument("--extent", type=float, default=Setting.extent_m, help="side of the domain in metres")


def settings(args: argparse.Namespace, targets: str) -> list[Setting]:
    """Return the setting the CLI arguments ask for."""
    return [Setting(args.per_edge, args.eikonal_noise, args.extent, targets)]
