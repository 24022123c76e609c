"""Gaussian deblurring (paper §5.2, Tables 3, 7, 8): blur σ, white noise, optionally a wrong model σ."""
from __future__ import annotations

import argparse
from dataclasses import dataclass

import torch

from gausslib import operators as ops
from gausslib.invert import Problem
from gausslib.problems.common import noise_per_image

NAME = "deblur"
DEFAULT_GENERATOR = "glow-phantom64-smooth"  # the committed results; studies v2 (issue 16) move to the v2 models
TV_GRID = [0.03, 0.1, 0.3]


@dataclass(frozen=True)
class Setting:
    """sigma: blur of the data (pixels); model_sigma: blur the inversion assumes (None: sigma, the
    accurate model); noise_std: noise on the 0–255 scale; targets: kind."""

    sigma: float = 3.0
    model_sigma: float | None = None
    noise_std: float = 50.0
    targets: str = "phantom"

    def __post_init__(self):
        if self.model_sigma is None:
            object.__setattr__(self, "model_sigma", self.sigma)


def build(setting: Setting, x: torch.Tensor, ids: list[int]) -> Problem:
    """Return the :class:`Problem` of ``setting`` on targets ``x: [N, C, H, W]``, noise seeded by id."""
    data_op = ops.GaussianBlur(setting.sigma).to(x.dtype)
    model_op = ops.GaussianBlur(setting.model_sigma).to(x.dtype)
    std = setting.noise_std * 2 / 255  # stated on the 0–255 scale; images span 2
    y = noise_per_image(lambda d, g: ops.add_gaussian_noise(d, std, g), data_op(x), ids)
    return Problem(model_op, y, x_true=x)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of this problem's settings to the study CLI."""
    parser.add_argument("--sigma", type=float, default=Setting.sigma)
    parser.add_argument("--inaccurate", type=float, default=None, metavar="SIGMA_MODEL",
                        help="also invert with this (wrong) blur σ")
    parser.add_argument("--noise-std", type=float, default=Setting.noise_std, help="on the 0–255 scale")


def settings(args: argparse.Namespace, targets: str) -> list[Setting]:
    """Return the settings the CLI arguments ask for: the accurate model, then the inaccurate one."""
    models = [args.sigma] + ([args.inaccurate] if args.inaccurate else [])
    return [Setting(args.sigma, m, args.noise_std, targets) for m in models]
