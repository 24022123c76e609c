"""Lambert W × F_X layer ``[B, n, d] → ([B, n, d], (μ, σ, δ))`` (Goerg 2015), on device.

Heavy tails ``y = μ + u exp(δ u²/(2σ²))`` are undone by

.. math::  x = μ + W_β(y - μ), \\qquad W_β(u) = u \\exp\\big(-W_0(β u^2)/2\\big), \\qquad β = δ/σ^2,

which equals ``σ W_δ((y − μ)/σ)`` with ``W_δ(z) = sign(z) sqrt(W0(δ z²)/δ)``, but is smooth at
``u = 0`` and at ``β = 0`` (``W0(z)/z = exp(−W0(z))``). ``μ = mean(y)`` (optionally refined by
IGMM rounds ``μ ← mean(x)``) and ``β*`` solves
``excess_kurtosis(x) = 0`` (Goerg's ``δ* = argmin κ²`` at an interior optimum), by the
safeguarded Newton solver in ``b = log β`` with the analytic ``∂κ/∂b``; its gradient is implicit
(:mod:`gausslib.implicit`). Solving for β directly replaces IGMM's slowly converging σ fixed point;
``σ = std(x)`` and ``δ = β σ²`` are reported. Items whose Pearson kurtosis is ≤ 3 pass unchanged
(selected arithmetically per item: no Python ``if`` on tensor values, no host sync).
"""
from __future__ import annotations

import torch

from ..implicit import Root, implicit_solve, solve_scalar
from ..stats import kurtosis
from ._ops import blend, fast_exp, maybe_compiled, mean_dot, per_item
from ._validate import check_count, check_patches, float32_for_half

__all__ = ["lambertw", "lambert_w_delta", "lambert_gaussianize", "lambert_transform"]

HALLEY_STEPS = 2          # from Winitzki's start: 1e-15 relative in float64 on [0, 1e6]


def _halley(w: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Return one Halley step for ``w e^w = z``, written with ``f e^{-w} = w − z e^{-w}`` (no overflow)."""
    f = torch.addcmul(w, z, fast_exp(w, -1.0), value=-1.0)
    w1 = w + 1.0
    # w − f/(w1 − (w1 + 1) f/(2 w1)) = w − w1 f/(w1² − (w1 + 1) f/2): fused multiply-adds, one division
    return torch.addcdiv(w, w1 * f, torch.addcmul(w1 * w1, w1 + 1.0, f, value=-0.5), value=-1.0)


def _lambertw_forward(z: torch.Tensor) -> torch.Tensor:
    # Winitzki's start L (1 − log(1 + L)/(2 + L)), L = log(1 + z) (relative error ≈ 1e-2 on [0, ∞)), then
    # cubically converging Halley steps: the start's rounding does not reach the result.
    L = torch.log1p(z)
    w = torch.addcdiv(L, L * torch.log1p(L), L + 2.0, value=-1.0)
    for _ in range(HALLEY_STEPS):
        w = _halley(w, z)
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


def _kurtosis_moments(x: torch.Tensor, w: torch.Tensor):
    """Return ``(h, ∂h/∂b)``, each [B], with ``h = log(γ/3)``, γ the Pearson kurtosis of ``x: [B, N]``.

    ``x = u e^{-w/2}``, ``w = W0(e^b u²)``; ``∂x/∂b = −x w/(2(1 + w))``. ``h = 0`` iff the excess
    kurtosis is 0; the logarithm makes ``h(b)`` much less convex than κ, so Newton steps from
    Goerg's start overshoot less.
    """
    h, dh, _ = _kurtosis_parts(x, w)
    return h, dh


def _kurtosis_parts(x: torch.Tensor, w: torch.Tensor):
    """:func:`_kurtosis_moments` and the terms of ``∂h/∂x``: ``(xc, xc³, m2, m4, m2 not floored, m4 not floored)``."""
    px = x * (w / (1.0 + w))                        # −2 ∂x/∂b
    xc = x - x.mean(-1, keepdim=True)
    xc2 = xc * xc
    xc3 = xc2 * xc
    tiny = torch.finfo(x.dtype).tiny ** 0.5
    m2_raw, m4_raw = mean_dot(xc, xc), mean_dot(xc2, xc2)
    m2, m4 = m2_raw.clamp_min(tiny), m4_raw.clamp_min(tiny)
    dm2 = -mean_dot(xc, px)                         # Σ xc = 0 drops the mean of ∂x/∂b
    dm4 = -2.0 * (mean_dot(xc3, px) - xc3.mean(-1) * px.mean(-1))
    return torch.log(m4 / (3.0 * m2 * m2)), dm4 / m4 - 2.0 * dm2 / m2, (xc, xc3, m2, m4, m2_raw > tiny, m4_raw > tiny)


def _point(b: torch.Tensor, y: torch.Tensor, mu: torch.Tensor):
    """Return ``(w, x, ∂x/∂u)`` at ``x = W_{e^b}(u)``, ``u = y − μ`` (no graph): ``∂x/∂u = e^{-w/2}/(1 + w)``."""
    with torch.no_grad():
        u = y - mu[:, None]
        w = _lambertw_forward(torch.exp(b)[:, None] * u * u)
        e = torch.exp(-0.5 * w)
        return w, u * e, e / (1.0 + w)


def _kurtosis_terms(b: torch.Tensor, y: torch.Tensor, mu: torch.Tensor):
    """Return ``(h, ∂h/∂b)``, each [B], for ``x = W_{e^b}(y − μ)``, ``y: [B, N]``, ``μ: [B]``.

    Differentiable in ``y`` and ``μ`` to first order (what the implicit gradient needs) through
    the linearisation ``x + (∂x/∂u)(δy − δμ)``, ``∂x/∂u = e^{-w/2}/(1 + w)``: same value, a
    graph of a few ops instead of one through the Lambert W iterations.
    """
    w, x, dxdu = _point(b, y, mu)
    x = x + dxdu * ((y - y.detach()) - (mu - mu.detach())[:, None])
    return _kurtosis_moments(x, w)


def _kurtosis_pullback(b: torch.Tensor, y: torch.Tensor, mu: torch.Tensor):
    """``(∂h/∂b, pull)`` of :func:`_kurtosis_terms` by hand (see :func:`gausslib.implicit.implicit_root`):
    ``N ∂h/∂x = 4 (xc³ − mean xc³)/m4 − 4 xc/m2`` (a floored moment's term drops, as its clamp's gradient),
    ``∂x/∂y = ∂x/∂u = −∂x/∂μ``."""
    w, x, dxdu = _point(b, y, mu)
    _, dh, (xc, xc3, m2, m4, m2_free, m4_free) = _kurtosis_parts(x, w)

    def pull(v):
        k = 4.0 * v / x.shape[-1]
        k4, k2 = (k * m4_free / m4)[:, None], (k * m2_free / m2)[:, None]
        gy = torch.addcmul((xc3 - xc3.mean(-1, keepdim=True)) * k4, xc, -k2) * dxdu
        return gy, -gy.sum(-1)

    return dh, pull


class _PreparedKurtosis:
    """``b ↦ (h, ∂h/∂b)`` for the solver, with ``u = y − μ`` and ``u²`` computed once (no autograd)."""

    def __init__(self, y: torch.Tensor, mu: torch.Tensor):
        self.u = y - mu[:, None]
        self.u2 = self.u * self.u

    def __call__(self, b: torch.Tensor):
        w = _lambertw_forward(torch.exp(b)[:, None] * self.u2)
        return _kurtosis_moments(self.u * fast_exp(w, -0.5), w)


def _start(y: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    """Return Goerg's start ``log β0 = log(δ0/σ0²)``, [B], from the Pearson kurtosis ``γ: [B]`` of ``y: [B, N]``.

    ``δ0 = clip((sqrt(66γ − 162) − 6)/66, 1e-6, 0.48)`` (≈ excess kurtosis/12 for small δ),
    ``σ0² = var(y)(1 − 2δ0)^{3/2}``.
    """
    var = y.var(-1).clamp_min(torch.finfo(y.dtype).tiny ** 0.5)
    delta0 = ((66.0 * gamma - 162.0).clamp_min(0.0).sqrt() - 6.0) / 66.0
    delta0 = delta0.clamp(1e-6, 0.48)          # Goerg clips at 0.01; a start near small roots converges faster
    return torch.log(delta0) - torch.log(var) - 1.5 * torch.log1p(-2.0 * delta0)


def _solve_log_beta(y: torch.Tensor, mu: torch.Tensor, b0: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor,
                    iters: int) -> Root:
    return solve_scalar(_PreparedKurtosis(y, mu), b0, lo, hi, iters)


@float32_for_half
def lambert_gaussianize(Y: torch.Tensor, iters: int = 7, *, outer: int = 1, location: str = "mean",
                        skip: bool = True, log_beta_range: float = 18.0, compile: bool = False):
    """Return ``(X: [B, n, d], (μ, σ, δ))``, each parameter [B]: the Lambert W × F_X layer.

    Y: [B, n, d]; one ``(μ, β)`` per item over all entries. μ starts at the ``location`` of Y:
    ``"mean"`` (smooth; exact for the centred output of the ICA layer) or ``"median"`` (robust
    when δ ≥ 1/2, where the mean does not exist, but only piecewise smooth); each of the
    ``outer`` IGMM rounds after the first sets ``μ ← mean(X)``. Each round solves β with
    ``iters`` steps (later rounds warm-started with ``iters // 2``) in ``[β_0 e^{-r}, β_0 e^{r}]``
    around Goerg's start (``r = log_beta_range``). With ``skip=True`` items whose Pearson
    kurtosis is ≤ 3 are returned unchanged with ``δ = 0``. ``compile``: run the solver loop
    through ``torch.compile``.
    """
    check_patches(Y, "Y")
    check_count(outer, "outer", 1)
    if location not in ("mean", "median"):
        raise ValueError(f"location must be 'mean' or 'median', got {location!r}")
    if not Y.shape[0]:                              # torch's std warns about degrees of freedom on B = 0
        return Y.clone(), (Y.new_zeros(0),) * 3
    y = Y.flatten(1)
    yd = y.detach()
    gamma = kurtosis(y, dim=-1, excess=False)
    b0 = _start(y, gamma)
    lo, hi = b0 - log_beta_range, b0 + log_beta_range
    mu = y.mean(-1) if location == "mean" else y.median(-1).values
    for k in range(outer):
        if k:
            mu = lambert_transform(Y, mu, beta).flatten(1).mean(-1)
        steps = iters if k == 0 else max(iters // 2, 1)
        start = (b0 if k == 0 else b).detach()
        root = maybe_compiled(_solve_log_beta, compile)(yd, mu.detach(), start, lo.detach(), hi.detach(), steps)
        b = implicit_solve(_kurtosis_terms, (y, mu), root, lo, hi, pullback=_kurtosis_pullback)
        beta = torch.exp(b)
    X = lambert_transform(Y, mu, beta)
    sigma = X.flatten(1).std(-1)
    delta = beta * sigma * sigma
    if skip:
        keep = gamma <= 3.0
        X = blend(per_item(keep.to(Y.dtype), Y), Y, X)
        delta = torch.where(keep, torch.zeros_like(delta), delta)
        sigma = torch.where(keep, y.std(-1), sigma)
    return X, (mu, sigma, delta)
