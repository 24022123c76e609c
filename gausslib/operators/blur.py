r"""Gaussian deblurring: separable normalised Gaussian blur with reflect padding, and its adjoint.

.. math::  y = k_\sigma * x \;(\text{per channel}), \qquad
           k_\sigma[i] \propto e^{-i^2 / 2\sigma^2},\ |i| \le r = \lfloor 4\sigma + 0.5 \rfloor,

padded by reflection. Two conventions, both common:

- ``padding="reflect"`` (default; PyTorch's and kornia's ``reflect``, SciPy's ``mirror``):
  ``d c b | a b c d | c b a``, the edge pixel not repeated;
- ``padding="symmetric"`` (SciPy's ``reflect``, the default of
  ``scipy.ndimage.gaussian_filter``): ``d c b a | a b c d | d c b a``.

Padding is a gather P, hence :math:`A = K P` and :math:`A^T = P^T K^T` with :math:`P^T` a
scatter-add: padded pixels fold back onto the pixels they copied. With ``"reflect"`` the
adjoint is therefore *not* the same blur near the border (the edge pixel has one image, its
neighbours two); with ``"symmetric"`` every pixel has the same images and A is symmetric.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["GaussianBlur", "gaussian_kernel", "add_gaussian_noise", "mismatched_blur"]


def gaussian_kernel(sigma: float, radius: int | None = None) -> torch.Tensor:
    """Return the normalised 1-D Gaussian kernel [2r + 1] (float64), r = int(4σ + 0.5) by default."""
    if not 0 < sigma < float("inf"):
        raise ValueError(f"sigma: expected finite and > 0, got {sigma}")
    radius = int(4 * sigma + 0.5) if radius is None else int(radius)
    if radius < 0:
        raise ValueError(f"radius: expected >= 0, got {radius}")
    i = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-0.5 * (i / sigma) ** 2)
    return k / k.sum()


_PADDINGS = ("reflect", "symmetric")


def _reflect_index(n: int, r: int, padding: str, device) -> torch.Tensor:
    """Return the source indices [n + 2r] of a length-n axis extended by r on each side."""
    i = torch.arange(-r, n + r, device=device)
    if padding == "symmetric":  # period 2n, edge repeated
        j = i % (2 * n)
        return torch.where(j >= n, 2 * n - 1 - j, j)
    if n == 1:
        return torch.zeros_like(i)
    j = i % (2 * n - 2)  # period 2n − 2, edge not repeated
    return torch.where(j >= n, 2 * n - 2 - j, j)


class GaussianBlur(nn.Module):
    r"""Blur operator :math:`x \mapsto k_\sigma * x` on ``x: [B, C, H, W]`` (each channel alike).

    Linear, with the exact adjoint :meth:`adjoint` (padding included). dtype and device
    follow the input. ``padding``: ``"reflect"`` or ``"symmetric"`` (see the module docstring).

    >>> op = GaussianBlur(sigma=3.0)
    >>> op(torch.ones(1, 3, 16, 16)).allclose(torch.ones(1, 3, 16, 16))
    True
    """

    def __init__(self, sigma: float = 3.0, radius: int | None = None, padding: str = "reflect"):
        super().__init__()
        if padding not in _PADDINGS:
            raise ValueError(f"padding: expected one of {_PADDINGS}, got {padding!r}")
        self.sigma, self.padding = float(sigma), padding
        kernel = gaussian_kernel(sigma, radius)
        self.radius = (kernel.numel() - 1) // 2
        self.register_buffer("kernel", kernel)

    def _check(self, x: torch.Tensor, name: str) -> None:
        if x.dim() != 4 or not x.is_floating_point():
            raise ValueError(f"{name}: expected a real image tensor [B, C, H, W], got shape {list(x.shape)} "
                             f"dtype {x.dtype}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the blurred image [B, C, H, W]."""
        self._check(x, "x")
        for dim in (2, 3):
            x = self._blur_axis(x, dim)
        return x

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        """Return Aᵀy [B, C, H, W]: transposed convolution, then the reflected borders folded back."""
        self._check(y, "y")
        for dim in (3, 2):
            y = self._blur_axis_adjoint(y, dim)
        return y

    def _weight(self, x: torch.Tensor, dim: int) -> torch.Tensor:
        k = self.kernel.to(device=x.device, dtype=x.dtype)
        return k.view(1, 1, -1, 1) if dim == 2 else k.view(1, 1, 1, -1)

    def _blur_axis(self, x: torch.Tensor, dim: int) -> torch.Tensor:
        B, C, H, W = x.shape
        x = x.index_select(dim, _reflect_index(x.shape[dim], self.radius, self.padding, x.device))
        return F.conv2d(x.reshape(B * C, 1, *x.shape[2:]), self._weight(x, dim)).view(B, C, H, W)

    def _blur_axis_adjoint(self, y: torch.Tensor, dim: int) -> torch.Tensor:
        B, C, H, W = y.shape
        padded = F.conv_transpose2d(y.reshape(B * C, 1, H, W), self._weight(y, dim)).view(B, C, *(
            (H + 2 * self.radius, W) if dim == 2 else (H, W + 2 * self.radius)))
        out = y.new_zeros(y.shape)
        return out.index_add(dim, _reflect_index(y.shape[dim], self.radius, self.padding, y.device), padded)


def add_gaussian_noise(y: torch.Tensor, std: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Return y + std·n, n i.i.d. N(0, 1) of y's shape, dtype and device."""
    if not std >= 0:
        raise ValueError(f"std: expected >= 0, got {std}")
    return y + std * torch.randn(y.shape, generator=generator, device=y.device, dtype=y.dtype)


class BlurPair(NamedTuple):
    """The operator that made the data and the (different) one the inversion assumes."""

    data: GaussianBlur
    model: GaussianBlur


def mismatched_blur(sigma_true: float = 3.0, sigma_model: float = 2.5, radius: int | None = None,
                    padding: str = "reflect") -> BlurPair:
    """Return (data, model) blurs for the "inaccurate forward model" study: blur the data with
    σ_true, invert with σ_model (radius from each σ unless given)."""
    return BlurPair(GaussianBlur(sigma_true, radius, padding), GaussianBlur(sigma_model, radius, padding))
