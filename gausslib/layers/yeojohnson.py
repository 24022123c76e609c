"""Yeo-Johnson layer ``[B, n, d] → ([B, n, d], λ: [B])`` with an on-device λ* and implicit gradient.

Transform, with ``a = λ`` for ``x ≥ 0`` and ``a = 2 − λ`` for ``x < 0`` (``s = ±1`` the side):

.. math::  ψ(λ, x) = s \\, \\frac{\\exp(a \\log(1 + s x)) - 1}{a}   (\\; = s \\log(1 + s x) \\text{ at } a = 0),

written with ``expm1`` so neither side overflows or loses digits in the branch not taken.
λ* maximises the Gaussian log-likelihood of all ``N = n·d`` transformed entries,

.. math::  \\mathrm{llf}(λ) = -\\frac N2 \\log \\mathrm{var}\\, ψ(λ, x) + (λ - 1) \\sum_i s_i \\log(1 + |x_i|),

found as the root of ``h = (∂llf/∂λ)/N`` by the safeguarded Newton solver with the analytic
``∂h/∂λ``; its gradient comes from the implicit function theorem (:mod:`gausslib.implicit`).
λ is searched in ``[-10, 12]`` narrowed so that ``exp(a·log(1+|x|)) ≤ finfo.max^{1/4}``: the
transformed data, its variance and the derivatives stay finite in float32 and float64.
"""
from __future__ import annotations

import math

import torch

from ..implicit import implicit_root, solve_scalar
from ._validate import check_patches

__all__ = ["yeo_johnson", "fit_yeo_johnson", "yeo_johnson_transform"]

LAMBDA_RANGE = (-10.0, 12.0)


def _sides(x: torch.Tensor, lam: torch.Tensor):
    """Return ``(s, t, a)``: side ±1, ``t = log(1 + s x)`` and the exponent ``a`` per entry."""
    s = torch.where(x >= 0, torch.ones_like(x), -torch.ones_like(x))
    t = torch.log1p(s * x)
    a = torch.where(x >= 0, lam, 2.0 - lam)
    return s, t, a


def yeo_johnson_transform(X: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
    """Return ``ψ(λ, X): [B, n, d]`` for ``λ: [B]`` (differentiable in both)."""
    s, t, a = _sides(X, lam[:, None, None])
    nonzero = a != 0
    a_safe = torch.where(nonzero, a, torch.ones_like(a))
    return s * torch.where(nonzero, torch.expm1(a_safe * t) / a_safe, t)


def _llf_terms(lam: torch.Tensor, x: torch.Tensor):
    """Return ``(h, ∂h/∂λ)``, each [B], for flattened ``x: [B, N]`` and ``λ: [B]``.

    The λ-derivatives of ψ use ``a`` kept at least ``eps^{1/3}`` away from 0, where the closed
    forms lose digits; this moves λ* by at most that much when it sits at 0 or 2.
    """
    s, t, a = _sides(x, lam[:, None])
    amin = torch.finfo(x.dtype).eps ** (1.0 / 3.0)
    a = torch.where(a.abs() < amin, torch.where(a < 0, -amin, amin), a)
    e = torch.exp(a * t)
    phi = torch.expm1(a * t) / a
    phi_a = (t * e - phi) / a                       # ∂ψ/∂λ (the side's sign cancels)
    phi_aa = (t * t * e - 2.0 * phi_a) / a
    psi, psi_l, psi_ll = s * phi, phi_a, s * phi_aa
    c = psi - psi.mean(-1, keepdim=True)
    cl = psi_l - psi_l.mean(-1, keepdim=True)
    tiny = torch.finfo(x.dtype).tiny ** 0.5
    var = (c * c).mean(-1).clamp_min(tiny)
    dvar = 2.0 * (c * psi_l).mean(-1)
    d2var = 2.0 * (cl * cl).mean(-1) + 2.0 * (c * psi_ll).mean(-1)
    r = dvar / var
    h = -0.5 * r + (s * t).mean(-1)
    dh = -0.5 * (d2var / var - r * r)
    return h, dh


def _bracket(x: torch.Tensor):
    """Return ``(lo, hi)``, each [B]: the λ range in which ψ and its derivatives stay finite."""
    c = math.log(torch.finfo(x.dtype).max) / 4.0
    zero = torch.zeros((), dtype=x.dtype, device=x.device)
    tpos = torch.log1p(torch.where(x > 0, x, zero).amax(-1))
    tneg = torch.log1p(torch.where(x < 0, -x, zero).amax(-1))
    tiny = torch.finfo(x.dtype).tiny
    hi = torch.clamp(c / tpos.clamp_min(tiny), max=LAMBDA_RANGE[1]).clamp_min(1.0)
    lo = torch.clamp(2.0 - c / tneg.clamp_min(tiny), min=LAMBDA_RANGE[0]).clamp_max(1.0)
    return lo, hi


def fit_yeo_johnson(X: torch.Tensor, iters: int = 12) -> torch.Tensor:
    """Return λ*: [B], the maximum-likelihood Yeo-Johnson power of all entries of ``X: [B, n, d]``.

    Differentiable (implicit function theorem) where λ* is inside the search range; at an end
    of the range its gradient is 0.
    """
    check_patches(X)
    x = X.reshape(X.shape[0], -1)
    lo, hi = _bracket(x.detach())
    xd = x.detach()
    lam = solve_scalar(lambda l: _llf_terms(l, xd), torch.ones_like(lo), lo, hi, iters)
    width = (hi - lo) * 1e-6
    interior = (lam > lo + width) & (lam < hi - width)
    return torch.where(interior, implicit_root(_llf_terms, lam, x), lam)


def yeo_johnson(X: torch.Tensor, iters: int = 12):
    """Return ``(ψ(λ*, X): [B, n, d], λ*: [B])``: the Yeo-Johnson layer with a fitted power per item."""
    lam = fit_yeo_johnson(X, iters)
    return yeo_johnson_transform(X, lam), lam
