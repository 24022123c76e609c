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

from ..implicit import Root, implicit_solve, solve_scalar
from ._ops import blend, maybe_compiled, mean_dot, per_item
from ._validate import check_patches, float32_for_half

__all__ = ["yeo_johnson", "fit_yeo_johnson", "yeo_johnson_transform"]

LAMBDA_RANGE = (-10.0, 12.0)


def _prepare(x: torch.Tensor):
    """Return ``(p, s, t, mean(s t))`` for ``x``: side indicator ``p = [x ≥ 0]``, ``s = ±1``, ``t = log(1 + s x)``.

    Masks are kept as numbers so that per-entry selections are multiply-adds (``torch.where``
    on large CPU tensors is several times slower).
    """
    p = (x >= 0).to(x.dtype)
    s = 2.0 * p - 1.0
    t = torch.log1p(s * x)
    return p, s, t, (s * t).mean(-1)


def _per_side(p: torch.Tensor, on_pos: torch.Tensor, on_neg: torch.Tensor) -> torch.Tensor:
    """Return ``on_pos: [B]`` where ``p = 1`` and ``on_neg: [B]`` where ``p = 0``, shaped like ``p``."""
    return blend(p, per_item(on_pos, p), per_item(on_neg, p))


def yeo_johnson_transform(X: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
    """Return ``ψ(λ, X): [B, n, d]`` for ``λ: [B]`` (differentiable in both, to any order).

    The side's exponent is selected with ``torch.where`` (a multiply-add blend of ``λ`` and
    ``2 − λ`` cancels to 0 for tiny λ), and ``expm1(a t)/a`` becomes its series below
    ``|a| < sqrt(eps)``; the branch not taken sees only finite arguments.
    """
    p, s, t, _ = _prepare(X)
    return _transform_terms(p, s, t, per_item(lam, X))[0]


def _transform_terms(p, s, t, lam):
    """Return ``(ψ, (a, a_safe, small, expm1(a t), φ))``: the transform of prepared entries (see :func:`_prepare`)
    for ``λ`` broadcast to ``t``, and the terms of its derivatives (``φ = expm1(a t)/a`` where not small)."""
    a = torch.where(p > 0, lam, 2.0 - lam)
    small = a.abs() < torch.finfo(t.dtype).eps ** 0.5
    a_safe = torch.where(small, torch.ones_like(a), a)
    at = a * t
    series = t * (1.0 + at * (0.5 + at / 6.0))
    em1 = torch.expm1(at)                           # finite on both branches; = expm1(a_safe t) where used
    closed = em1 / a_safe
    return s * torch.where(small, series, closed), (a, a_safe, small, em1, closed)


def _transform_prepared(prep, lam: torch.Tensor) -> torch.Tensor:
    """The layer's transform of prepared entries ``(p, s, t, ·)``, shaped like ``t``: a first derivative
    by hand (:class:`_Transform`; the layer's implicit gradient is first order anyway)."""
    p, s, t, _ = prep
    return _Transform.apply(t, per_item(lam, t), p, s)


class _Transform(torch.autograd.Function):
    """:func:`_transform_terms` with its backward by hand, one kernel per term instead of the backward of
    every selection: ``∂ψ/∂t = s e^{a t}`` and ``∂ψ/∂λ = ∂φ/∂a = (t e^{a t} − φ)/a`` on both sides (the
    signs of ``s`` and ``∂a/∂λ`` cancel), ``t²/2 + a t³/3`` on the series. Not twice differentiable
    (:func:`yeo_johnson_transform` is).
    """

    @staticmethod
    def forward(ctx, t, lam, p, s):
        psi, (a, a_safe, small, em1, closed) = _transform_terms(p, s, t, lam)
        ctx.save_for_backward(t, s, a, a_safe, small, em1, closed)
        return psi

    @staticmethod
    def backward(ctx, grad):
        t, s, a, a_safe, small, em1, closed = ctx.saved_tensors
        e = em1 + 1.0
        g_t = grad * s * e if ctx.needs_input_grad[0] else None
        g_lam = None
        if ctx.needs_input_grad[1]:
            d_a = torch.where(small, t * t * (0.5 + a * t / 3.0), (t * e - closed) / a_safe)
            g_lam = (grad * d_a).sum(tuple(range(1, grad.dim())), keepdim=True)
        return g_t, g_lam, None, None


def _llf_parts(lam: torch.Tensor, p: torch.Tensor, s: torch.Tensor, t: torch.Tensor):
    """Return ``(r, ∂h/∂λ, parts)`` with ``h = −r/2 + mean(s t)`` (see :func:`_llf_prepared`) and the
    per-entry terms its gradient in ``t`` needs: ``(e^{at}, t e^{at}, c, c_λ, var, cov, var not floored)``."""
    # Closed forms lose digits as a → 0; keep |a| >= eps^{1/3} there (moves λ* by at most that).
    amin = torch.finfo(t.dtype).eps ** (1.0 / 3.0)
    a_pos = torch.where(lam.abs() < amin, torch.full_like(lam, amin), lam)
    a_neg = torch.where((2.0 - lam).abs() < amin, torch.full_like(lam, -amin), 2.0 - lam)
    ia = _per_side(p, 1.0 / a_pos, 1.0 / a_neg)
    em1 = torch.expm1(t / ia)
    phi = em1 * ia                                  # (e^{at} − 1)/a; ψ = s φ
    e = em1 + 1.0
    te = t * e
    phi_a = (te - phi) * ia                         # ∂ψ/∂λ (the side's sign cancels)
    phi_aa = (t * te - 2.0 * phi_a) * ia            # s ∂²ψ/∂λ²
    psi = s * phi
    c = psi - psi.mean(-1, keepdim=True)
    cl = phi_a - phi_a.mean(-1, keepdim=True)
    floor = torch.finfo(t.dtype).tiny ** 0.5
    var_raw = mean_dot(c, c)
    var = var_raw.clamp_min(floor)
    cov = mean_dot(c, phi_a)
    r = 2.0 * cov / var
    d2var = 2.0 * mean_dot(cl, cl) + 2.0 * mean_dot(c, s * phi_aa)
    dh = -0.5 * (d2var / var - r * r)
    return r, dh, (e, te, c, cl, var, cov, var_raw > floor)


def _llf_prepared(lam: torch.Tensor, prep):
    p, s, t, st_mean = prep
    r, dh, _ = _llf_parts(lam, p, s, t)
    return -0.5 * r + st_mean, dh


def _llf_terms(lam: torch.Tensor, x: torch.Tensor):
    """Return ``(h, ∂h/∂λ)``, each [B], for flattened ``x: [B, N]`` and ``λ: [B]``."""
    return _llf_prepared(lam, _prepare(x))


def _llf_of_log(lam: torch.Tensor, t: torch.Tensor, p: torch.Tensor, s: torch.Tensor):
    """:func:`_llf_terms` from ``t = log(1 + s x)`` and the sides ``p``, ``s`` (constant almost everywhere):
    the implicit gradient then reaches ``x`` through ``t``'s own graph, with no second ``log1p``."""
    return _llf_prepared(lam, (p, s, t, (s * t).mean(-1)))


def _llf_of_log_pullback(lam: torch.Tensor, t: torch.Tensor, p: torch.Tensor, s: torch.Tensor):
    """``(∂h/∂λ, pull)`` of :func:`_llf_of_log` by hand (see :func:`gausslib.implicit.implicit_root`).

    With ``ψ = s φ``, ``∂ψ/∂t = s e^{at}``, ``∂φ_λ/∂t = t e^{at}`` and ``h = −cov(ψ, φ_λ)/var ψ + mean(s t)``:
    ``N ∂h/∂t = −(s e^{at} c_λ + c t e^{at})/var + 2 cov c s e^{at}/var² + s`` (``c``, ``c_λ`` centred ψ, φ_λ;
    the variance term drops where the variance is floored, as its clamp's gradient).
    """
    _, dh, (e, te, c, cl, var, cov, free) = _llf_parts(lam, p, s, t)

    def pull(v):
        se = s * e
        k = (2.0 * cov / (var * var) * free)[:, None]
        dt = torch.addcmul(c * te, se, cl) / (-var[:, None])
        dt = torch.addcmul(dt, c, se * k) + s
        return dt * (v / t.shape[-1])[:, None], None, None

    return dh, pull


def _bracket(x: torch.Tensor):
    """Return ``(lo, hi)``, each [B]: the λ range in which ψ and its derivatives stay finite."""
    c = math.log(torch.finfo(x.dtype).max) / 4.0
    tpos = torch.log1p(x.amax(-1).clamp_min(0.0))
    tneg = torch.log1p((-x.amin(-1)).clamp_min(0.0))
    tiny = torch.finfo(x.dtype).tiny
    hi = torch.clamp(c / tpos.clamp_min(tiny), max=LAMBDA_RANGE[1]).clamp_min(1.0)
    lo = torch.clamp(2.0 - c / tneg.clamp_min(tiny), min=LAMBDA_RANGE[0]).clamp_max(1.0)
    return lo, hi


def _solve_lambda(x: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, iters: int) -> Root:
    return _solve_prepared(_prepare(x), lo, hi, iters)


def _solve_prepared(prep, lo: torch.Tensor, hi: torch.Tensor, iters: int) -> Root:
    return solve_scalar(lambda lam: _llf_prepared(lam, prep), torch.ones_like(lo), lo, hi, iters)


@float32_for_half
def fit_yeo_johnson(X: torch.Tensor, iters: int = 6, *, compile: bool = False) -> torch.Tensor:
    """Return λ*: [B], the maximum-likelihood Yeo-Johnson power of all entries of ``X: [B, n, d]``.

    Differentiable: implicit function theorem inside the search range; at an end of the range
    (no maximum inside) λ* is that end, with the end's gradient. ``compile``: run the solver
    loop through ``torch.compile`` (see :func:`gausslib.layers._ops.maybe_compiled`).
    """
    check_patches(X)
    x = X.flatten(1)
    lo, hi = _bracket(x)
    root = maybe_compiled(_solve_lambda, compile)(x.detach(), lo.detach(), hi.detach(), iters)
    return implicit_solve(_llf_terms, (x,), root, lo, hi)


@float32_for_half
def yeo_johnson(X: torch.Tensor, iters: int = 6, *, compile: bool = False):
    """Return ``(ψ(λ*, X): [B, n, d], λ*: [B])``: the Yeo-Johnson layer with a fitted power per item.

    Same as ``yeo_johnson_transform(X, fit_yeo_johnson(X))``, with the sides and ``log(1 + |x|)``
    computed once for the solver, the implicit gradient and the transform.
    """
    check_patches(X)
    x = X.flatten(1)
    lo, hi = _bracket(x)
    p, s, t, st_mean = _prepare(x)
    root = maybe_compiled(_solve_prepared, compile)((p, s, t.detach(), st_mean.detach()), lo.detach(), hi.detach(),
                                                    iters)
    lam = implicit_solve(_llf_of_log, (t, p, s), root, lo, hi, pullback=_llf_of_log_pullback)
    return _transform_prepared((p, s, t, st_mean), lam).reshape(X.shape), lam
