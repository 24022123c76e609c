"""Denoising: the identity operator and white noise. Not in the paper: the smallest problem, and
the example of how a new one is added (this file plus one line in ``gausslib.problems``)."""
from __future__ import annotations

import argparse
from dataclasses import dataclass

import torch
from torch import nn

from gausslib import operators as ops
from gausslib.invert import Problem
from gausslib.problems.common import noise_per_image

NAME = "denoise"
DEFAULT_GENERATOR = "stylegan2-phantom64"
TV_GRID = [0.03, 0.1, 0.3]


@dataclass(frozen=True)
class Setting:
    """noise_std: noise on the 0–255 scale; targets: kind."""

    noise_std: float = 25.0
    targets: str = "generator"


class Identity(nn.Module):
    """``A(x) = x`` ``[B, C, H, W]``, self-adjoint (the TV baseline starts from ``Aᵀy``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return y


def build(setting: Setting, x: torch.Tensor, ids: list[int]) -> Problem:
    """Return the :class:`Problem` of ``setting`` on targets ``x: [N, C, H, W]``, noise seeded by id."""
    std = setting.noise_std * 2 / 255  # stated on the 0–255 scale; images span 2
    return Problem(Identity(), noise_per_image(lambda d, g: ops.add_gaussian_noise(d, std, g), x, ids), x_true=x)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of this problem's settings to the study CLI."""
    parser.add_argument("--noise-std", type=float, default=Setting.noise_std, help="on the 0–255 scale")


def settings(args: argparse.Namespace, targets: str) -> list[Setting]:
    """Return the setting the CLI arguments ask for."""
    return [Setting(args.noise_std, targets)]
