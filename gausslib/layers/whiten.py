"""Whitening ``[B, n, d] → [B, n, d]`` and symmetric decorrelation of ``[B, d, d]`` matrices.

ZCA with the ε-blend (SPEC §2): centre the columns, ``C = (1−ε) X_cᵀX_c/(n−1) + ε I`` and
``Y = X_c C^{-1/2}``. The inverse square root comes either from ``eigh`` with a backward pass
written with the divided differences of ``λ^{-1/2}``,

.. math::  \\frac{λ_i^{-1/2} - λ_j^{-1/2}}{λ_i - λ_j} = -\\frac{1}{s_i s_j (s_i + s_j)}, \\quad s = \\sqrt{λ},

which stays finite on repeated eigenvalues (autograd's ``eigh`` backward divides by ``λ_i − λ_j``
and returns NaN there, e.g. for constant columns), or from the Newton–Schulz iteration
``W ← 1.5 W − 0.5 W Wᵀ C W`` (Hyvärinen 1999), which has no eigen-decomposition at all.
"""
from __future__ import annotations

import torch

from ._validate import check_patches, explain_eigh_failure, float32_for_half

__all__ = ["inv_sqrtm", "inv_sqrtm_newton_schulz", "zca_whiten", "iterative_whiten", "symmetric_decorrelation",
           "covariance", "polar_eigh", "polar_backward"]


def _floored_eigh(C: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(s, E)`` in ``C``'s dtype, ``C = E diag(s²) Eᵀ``, from an eigh in float64.

    eigh's eigenvalue errors are ≈ ``d·eps·λ_max`` in absolute terms: in float32 one large outlier
    (λ_max ≈ 1e10) leaves the small eigenvalues as noise, some negative, and ``C^{-1/2}`` explodes,
    while a float32 covariance itself still holds them to a few digits. Where even float64's error
    could exceed an eigenvalue (λ_max/λ ≳ 1/(d·eps₆₄)) it is floored at ``d·eps₆₄·λ_max``: rounding
    noise is damped instead of amplified, and output and gradient stay finite. ``sqrt(tiny)`` of
    ``C``'s dtype keeps the reciprocals finite when ``C = 0``.
    """
    L, E = torch.linalg.eigh(C.to(torch.float64))
    floor = (C.shape[-1] * torch.finfo(L.dtype).eps * L[..., -1:]).clamp_min(torch.finfo(C.dtype).tiny ** 0.5)
    return L.clamp(min=floor).sqrt().to(C.dtype), E.to(C.dtype)


class _InvSqrtm(torch.autograd.Function):
    @staticmethod
    def forward(ctx, C):
        s, E = _floored_eigh(C)
        ctx.save_for_backward(E, s)
        return (E / s.unsqueeze(-2)) @ E.transpose(-1, -2)

    @staticmethod
    def backward(ctx, grad):
        E, s = ctx.saved_tensors
        Et = E.transpose(-1, -2)
        G = Et @ (0.5 * (grad + grad.transpose(-1, -2))) @ E
        si, sj = s.unsqueeze(-1), s.unsqueeze(-2)
        return E @ (G * (-1.0 / (si * sj * (si + sj)))) @ Et


@float32_for_half
def inv_sqrtm(C: torch.Tensor) -> torch.Tensor:
    """Return ``C^{-1/2}: [B, d, d]`` of symmetric positive definite ``C: [B, d, d]`` (eigh).

    The eigen-decomposition runs in float64 and eigenvalues are floored at ``d·eps₆₄·λ_max`` and
    ``sqrt(tiny)``, so output and gradient stay finite at any condition number; the backward pass
    is NaN-free on repeated eigenvalues.
    """
    return _InvSqrtm.apply(C)


def _spectral_bound(M: torch.Tensor) -> torch.Tensor:
    """Return an upper bound ``sqrt(‖M‖_1 ‖M‖_∞) >= ‖M‖_2`` per matrix, shaped ``[B, 1, 1]``."""
    a = M.abs()
    one = a.sum(-2).amax(-1)
    inf = a.sum(-1).amax(-1)
    tiny = torch.finfo(M.dtype).tiny ** 0.5
    return (one * inf).clamp_min(tiny).sqrt()[..., None, None]


def inv_sqrtm_newton_schulz(C: torch.Tensor, iters: int = 20) -> torch.Tensor:
    """Return ``C^{-1/2}: [B, d, d]`` by ``iters`` Newton–Schulz steps ``W ← 1.5W − 0.5 W Wᵀ C W``.

    Start ``W = I / sqrt(‖C‖₂ bound)``, so every eigenvalue of ``WᵀCW`` lies in (0, 1]; small
    eigenvalues grow by 2.25× per step, then converge quadratically.
    """
    d = C.shape[-1]
    eye = torch.eye(d, dtype=C.dtype, device=C.device)
    W = eye / _spectral_bound(C).sqrt()
    for _ in range(iters):
        W = 1.5 * W - 0.5 * W @ (W.transpose(-1, -2) @ C @ W)
    return W


def covariance(X: torch.Tensor, eps: float = 1e-3) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(X_c: [B, n, d], C: [B, d, d])``: centred columns and the ε-blended covariance."""
    check_patches(X)
    n, d = X.shape[-2:]
    Xc = X - X.mean(dim=-2, keepdim=True)
    eye = torch.eye(d, dtype=X.dtype, device=X.device)
    C = (1.0 - eps) * (Xc.transpose(-1, -2) @ Xc) / (n - 1) + eps * eye
    return Xc, C


@float32_for_half
def zca_whiten(X: torch.Tensor, eps: float = 1e-3, *, return_matrix: bool = False):
    """Return ``Y = X_c C^{-1/2}: [B, n, d]`` (and ``C^{-1/2}: [B, d, d]`` if asked), ZCA via eigh.

    X: [B, n, d] with n >= d; eps: the blend of the covariance with the identity.
    """
    Xc, C = covariance(X, eps)
    with explain_eigh_failure(X):
        M = inv_sqrtm(C)
    Y = Xc @ M
    return (Y, M) if return_matrix else Y


@float32_for_half
def iterative_whiten(X: torch.Tensor, eps: float = 1e-3, iters: int = 20, *, return_matrix: bool = False):
    """Return ``Y = X_c C^{-1/2}: [B, n, d]`` with ``C^{-1/2}`` from Newton–Schulz (no eigh).

    Converges to :func:`zca_whiten` as ``iters`` grows (≈1e-7 relative at 20 steps for ε = 1e-3).
    """
    Xc, C = covariance(X, eps)
    M = inv_sqrtm_newton_schulz(C, iters)
    Y = Xc @ M
    return (Y, M) if return_matrix else Y


def polar_eigh(V: torch.Tensor):
    """Return ``(U, UQ, Q, s)``: ``U = V (VᵀV)^{-1/2}`` with ``VᵀV = Q diag(s²) Qᵀ`` and ``UQ = U Q``."""
    L, Q = torch.linalg.eigh(V.transpose(-1, -2) @ V)
    s = L.clamp_min(torch.finfo(V.dtype).tiny ** 0.5).sqrt()
    UQ = (V @ Q) / s.unsqueeze(-2)
    return UQ @ Q.transpose(-1, -2), UQ, Q, s


def polar_backward(UQ: torch.Tensor, Q: torch.Tensor, s: torch.Tensor, gU: torch.Tensor) -> torch.Tensor:
    """Return ∂L/∂V for ``U = polar(V)``: ``UQ [(K − Kᵀ) ⊘ (s_i + s_j)] Qᵀ``, ``K = (UQ)ᵀ Ū Q``.

    (The skew part of ``UᵀŪ`` in the eigenbasis, divided by ``s_i + s_j``.) Only ``1/(s_i + s_j)``
    appears: finite on repeated singular values, unlike ``eigh``'s own backward.
    """
    K = UQ.transpose(-1, -2) @ (gU @ Q)
    return UQ @ ((K - K.transpose(-1, -2)) / (s.unsqueeze(-1) + s.unsqueeze(-2))) @ Q.transpose(-1, -2)


class _Polar(torch.autograd.Function):
    @staticmethod
    def forward(ctx, V):
        U, UQ, Q, s = polar_eigh(V)
        ctx.save_for_backward(UQ, Q, s)
        return U

    @staticmethod
    def backward(ctx, gU):
        return polar_backward(*ctx.saved_tensors, gU)


@float32_for_half
def symmetric_decorrelation(W: torch.Tensor, method: str = "eigh", iters: int = 8) -> torch.Tensor:
    """Return the orthogonal polar factor ``W (WᵀW)^{-1/2}: [B, d, d]`` of ``W: [B, d, d]``.

    method: ``"eigh"`` (exact, NaN-free backward) or ``"newton_schulz"`` (``iters`` steps of
    ``U ← 1.5U − 0.5 U UᵀU`` from ``U = W / ‖W‖₂ bound``).
    """
    if method == "eigh":
        return _Polar.apply(W)
    if method == "newton_schulz":
        U = W / _spectral_bound(W)
        for _ in range(iters):
            U = 1.5 * U - 0.5 * U @ (U.transpose(-1, -2) @ U)
        return U
    raise ValueError(f"method must be 'eigh' or 'newton_schulz', got {method!r}")
