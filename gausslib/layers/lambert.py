"""Lambert W × F_X layer ``[B, n, d] → ([B, n, d], (μ, σ, δ))`` (Goerg 2015), on device.

Heavy tails ``y = μ + u exp(δ u²/(2σ²))`` are undone by

.. math::  x = μ + W_β(y - μ), \\qquad W_β(u) = u \\exp\\big(-W_0(β u^2)/2\\big), \\qquad β = δ/σ^2,

which equals ``σ W_δ((y − μ)/σ)`` with ``W_δ(z) = sign(z) sqrt(W0(δ z²)/δ)``, but is smooth at
``u = 0`` and at ``β = 0`` (``W0(z)/z = exp(−W0(z))``). ``μ = mean(y)`` and ``β*`` solves
``excess_kurtosis(x) = 0`` (Goerg's ``δ* = argmin κ²`` at an interior optimum), by the
safeguarded Newton solver in ``b = log β`` with the analytic ``∂κ/∂b``; its gradient is implicit
(:mod:`gausslib.implicit`). Solving for β directly replaces IGMM's slowly converging σ fixed point;
``σ = std(x)`` and ``δ = β σ²`` are reported. Items whose Pearson kurtosis is ≤ 3 pass unchanged
(selected with ``torch.where``: no host sync).
"""
from __future__ import annotations

import math

import torch

from ..implicit import implicit_root, solve_scalar
from ..stats import kurtosis
from ._validate import check_patches

__all__ = ["lambertw", "lambert_w_delta", "lambert_gaussianize", "lambert_transform"]

HALLEY_STEPS = 2          # from Winitzki's start: 1e-15 relative in float64 on [0, 1e6]


def _lambertw_forward(z: torch.Tensor) -> torch.Tensor:
    # Winitzki's start (relative error ≈ 1e-2 on [0, ∞)) and cubically converging Halley steps written with
    # f e^{-w} = w − z e^{-w}, which cannot overflow for large z.
    L = torch.log1p(z)
    w = L * (1.0 - torch.log1p(L) / (2.0 + L))
    for _ in range(HALLEY_STEPS):
        f = w - z * torch.exp(-w)
        w = w - f / ((w + 1.0) - (w + 2.0) * f / (2.0 * w + 2.0))
    return w


class _LambertW(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z):
        w = _lambertw_forward(z)
        ctx.save_for_backward(w)
        return w

    @staticmethod
    def backward(ctx, grad):
        (w,) = ctx.saved_tensors
        return grad * torch.exp(-w) / (1.0 + w)     # W0'(z) = W/(z(1+W)) = e^{-W}/(1+W); 1 at z = 0


def lambertw(z: torch.Tensor) -> torch.Tensor:
    """Return the principal branch ``W0(z)`` (``W e^W = z``), elementwise, for ``z ≥ 0``.

    Negative inputs are clamped to 0. Float32 and float64; the derivative
    ``W0'(z) = W0(z)/(z(1 + W0(z)))`` (1 at ``z = 0``) is analytic, not taken through the steps.
    """
    return _LambertW.apply(z.clamp_min(0.0))


def lambert_transform(Y: torch.Tensor, mu: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """Return ``μ + W_β(Y − μ): [B, n, d]`` for ``μ, β: [B]`` (the Gaussianising map)."""
    u = Y - mu[:, None, None]
    return mu[:, None, None] + u * torch.exp(-0.5 * lambertw(beta[:, None, None] * u * u))


def lambert_w_delta(z: torch.Tensor, delta) -> torch.Tensor:
    """Return ``W_δ(z) = sign(z) sqrt(W0(δ z²)/δ)`` elementwise (``z`` at ``δ = 0``)."""
    return z * torch.exp(-0.5 * lambertw(delta * z * z))


def _kurtosis_terms(b: torch.Tensor, y: torch.Tensor, mu: torch.Tensor):
    """Return ``(κ, ∂κ/∂b)``, each [B]: excess kurtosis of ``μ + W_{e^b}(y − μ)``, ``y: [B, N]``."""
    u = y - mu[:, None]
    w = lambertw(torch.exp(b)[:, None] * u * u)
    x = u * torch.exp(-0.5 * w)
    dx = -0.5 * x * w / (1.0 + w)
    xc = x - x.mean(-1, keepdim=True)
    xc2 = xc * xc
    m2 = xc2.mean(-1)
    m4 = (xc2 * xc2).mean(-1)
    dm2 = 2.0 * (xc * dx).mean(-1)
    dm4 = 4.0 * (xc2 * xc * dx).mean(-1)
    m2 = m2.clamp_min(torch.finfo(y.dtype).tiny ** 0.5)
    kappa = m4 / (m2 * m2) - 3.0
    dkappa = dm4 / (m2 * m2) - 2.0 * m4 * dm2 / (m2 * m2 * m2)
    return kappa, dkappa


def _start(y: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
    """Return Goerg's start ``log β0``, [B], from the Pearson kurtosis γ of ``y: [B, N]``."""
    gamma = kurtosis(y, dim=-1, excess=False)
    delta0 = ((66.0 * gamma - 162.0).clamp_min(0.0).sqrt() - 6.0) / 66.0
    delta0 = delta0.clamp(0.01, 0.48)
    return torch.log(delta0) - torch.log(var) - 1.5 * torch.log1p(-2.0 * delta0)


def lambert_gaussianize(Y: torch.Tensor, iters: int = 10, *, outer: int = 2, skip: bool = True,
                        log_beta_range: float = 18.0):
    """Return ``(X: [B, n, d], (μ, σ, δ))``, each parameter [B]: the Lambert W × F_X layer.

    Y: [B, n, d]; one ``(μ, β)`` per item over all entries. ``outer`` IGMM rounds: μ starts at
    the median of Y (the mean need not exist for δ ≥ 1/2), then ``μ ← mean(X)``; each round
    solves β with ``iters`` steps (later rounds warm-started with ``iters // 2``) in
    ``[β_0 e^{-r}, β_0 e^{r}]`` around Goerg's start (``r = log_beta_range``). With ``skip=True``
    items with Pearson kurtosis ≤ 3 are returned unchanged with ``δ = 0``.
    """
    check_patches(Y, "Y")
    B = Y.shape[0]
    y = Y.reshape(B, -1)
    yd = y.detach()
    var = yd.var(-1).clamp_min(torch.finfo(Y.dtype).tiny ** 0.5)
    b = _start(yd, var)
    lo, hi = b - log_beta_range, b + log_beta_range
    mu = y.median(-1).values
    for k in range(outer):
        if k:
            mu = lambert_transform(Y, mu, beta).reshape(B, -1).mean(-1)
        mud = mu.detach()
        b = solve_scalar(lambda t: _kurtosis_terms(t, yd, mud), b.detach(), lo, hi, iters if k == 0 else max(iters // 2, 1))
        interior = (b > lo + 1e-6) & (b < hi - 1e-6)
        beta = torch.exp(torch.where(interior, implicit_root(_kurtosis_terms, b, y, mu), b))
    X = lambert_transform(Y, mu, beta)
    sigma = X.reshape(B, -1).std(-1)
    delta = beta * sigma * sigma
    if skip:
        keep = kurtosis(y, dim=-1, excess=False) <= 3.0
        X = torch.where(keep[:, None, None], Y, X)
        delta = torch.where(keep, torch.zeros_like(delta), delta)
        sigma = torch.where(keep, y.std(-1), sigma)
    return X, (mu, sigma, delta)
