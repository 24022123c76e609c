"""FastICA rotation ``[B, n, d] → ([B, n, d], W: [B, d, d])``, batched, fixed iterations.

On whitened rows ``X`` (samples × components), with the columns of ``W`` the unmixing
directions, ``Y = X W``, ``g = tanh`` (logcosh contrast) and ``g' = 1 − tanh²``:

* ``update="paper"`` (the authors' damped fixed point, default):
  ``W_new = a · Xᵀ g(Y)/n − W diag(mean g'(Y))`` with ``a = 0.8``;
* ``update="newton"`` (converging, regularised Newton step, SPEC §2):
  ``w ← w + μ κ/(κ² + τ²) (E[x g] − β w)``, ``β = E[y g(y)]``, ``κ = β − E[g']``; the
  regularisation keeps the step finite on Gaussian input, where ``κ → 0``;

each followed by the symmetric decorrelation ``W ← W (WᵀW)^{-1/2}``. ``W`` starts at ``I``;
gradients flow through the unrolled iterations (a fixed count: no convergence test, no sync).
"""
from __future__ import annotations

import torch

from ._validate import check_count, check_patches, explain_eigh_failure, float32_for_half
from .whiten import iterative_whiten, polar_backward, polar_eigh, symmetric_decorrelation, zca_whiten

__all__ = ["fastica", "fastica_step"]


def _tanh(Y: torch.Tensor) -> torch.Tensor:
    return 2.0 * torch.sigmoid(2.0 * Y) - 1.0               # torch's CPU tanh is several times slower


def fastica_step(X: torch.Tensor, W: torch.Tensor, update: str = "paper", damping: float = 0.8,
                 mu: float = 1.0, tau: float = 0.1) -> torch.Tensor:
    """Return the undecorrelated update ``W_new: [B, d, d]`` for whitened ``X: [B, n, d]``."""
    n = X.shape[-2]
    Y = X @ W
    G = _tanh(Y)
    Egp = 1.0 - (G * G).mean(dim=-2, keepdim=True)           # [B, 1, d]: E[g'(y_j)]
    if update == "paper":
        return torch.baddbmm(W * Egp, X.transpose(-1, -2), G, beta=-1.0, alpha=damping / n)
    XtG = X.transpose(-1, -2) @ G / n                       # [B, d, d]: E[x g(y_j)] in column j
    beta = (Y * G).mean(dim=-2, keepdim=True)                # [B, 1, d]: E[y_j g(y_j)]
    kappa = beta - Egp
    return W + (mu * kappa / (kappa * kappa + tau * tau)) * (XtG - W * beta)


class _PaperFastICA(torch.autograd.Function):
    """The damped FastICA loop with eigh decorrelation and a hand-written backward pass.

    Same function as the unrolled autograd loop; storing ``(W, G, E[g'], UQ, Q, s)`` per iteration and
    reversing by hand avoids autograd's bookkeeping, most of the cost at small d.
    """

    @staticmethod
    def forward(ctx, X, iters, damping):
        B, n, d = X.shape
        W = torch.eye(d, dtype=X.dtype, device=X.device).expand(B, d, d)
        tape = []
        Xt = X.transpose(-1, -2)
        for _ in range(iters):
            # tanh(Y) = 2σ(2Y) − 1 with 2Y = X (2W) (scaling by 2 is exact): the doubling costs d² not n·d
            G = torch.sigmoid(X @ (2.0 * W)).mul_(2.0).sub_(1.0)
            Egp = 1.0 - torch.linalg.vecdot(G, G, dim=-2).unsqueeze(-2) / n
            V = torch.baddbmm(W * Egp, Xt, G, beta=-1.0, alpha=damping / n)
            U, UQ, Q, s = polar_eigh(V)
            tape.append((W, G, Egp, UQ, Q, s))
            W = U
        ctx.tape, ctx.damping = tape, damping
        ctx.save_for_backward(X, W)
        return X @ W, W

    @staticmethod
    def backward(ctx, gY, gW):
        X, W = ctx.saved_tensors
        n = X.shape[-2]
        c = ctx.damping / n
        gX = gY @ W.transpose(-1, -2)
        gW = X.transpose(-1, -2) @ gY + (gW if gW is not None else 0.0)
        Xt = X.transpose(-1, -2)
        for Wk, G, Egp, UQ, Q, s in reversed(ctx.tape):
            gV = polar_backward(UQ, Q, s, gW)
            gEgp = -(gV * Wk).sum(dim=-2, keepdim=True)
            gG = torch.baddbmm(G * gEgp, X, gV, beta=-2.0 / n, alpha=c)
            gYk = torch.addcmul(gG, gG * G, G, value=-1.0)          # gG g'(Y) = gG (1 − G²)
            gX.baddbmm_(G, gV.transpose(-1, -2), alpha=c).baddbmm_(gYk, Wk.transpose(-1, -2))  # gX is ours
            gW = torch.baddbmm(gV * Egp, Xt, gYk, beta=-1.0)
        return gX, None, None


@float32_for_half
def fastica(X: torch.Tensor, iters: int = 10, *, update: str = "paper", whiten: str | None = "zca",
            eps: float = 1e-3, damping: float = 0.8, mu: float = 1.0, tau: float = 0.1,
            decorrelation: str = "eigh"):
    """Return ``(Y: [B, n, d], W: [B, d, d])``: the FastICA rotation ``Y = X_w W`` of ``X_w``.

    X: [B, n, d], n >= d. ``whiten`` = ``"zca"`` (default), ``"iterative"`` or ``None`` (X is
    already white) gives ``X_w`` with the paper's blend ``eps`` (it limits separation when the
    mixture's covariance has eigenvalues near ``eps``: whiten with a smaller one first, as
    scikit-learn whitens exactly);
    ``iters`` FastICA steps (10 = the paper's cap) from ``W = I``.
    update: ``"paper"`` or ``"newton"`` (see the module docstring); decorrelation: ``"eigh"`` or
    ``"newton_schulz"``.
    """
    check_patches(X)
    check_count(iters, "iters", 0)
    if update not in ("paper", "newton"):
        raise ValueError(f"update must be 'paper' or 'newton', got {update!r}")
    if whiten not in ("zca", "iterative", None):
        raise ValueError(f"whiten must be 'zca', 'iterative' or None, got {whiten!r}")
    with explain_eigh_failure(X):
        if whiten == "zca":
            X = zca_whiten(X, eps)
        elif whiten == "iterative":
            X = iterative_whiten(X, eps)
        if update == "paper" and decorrelation == "eigh":
            return _PaperFastICA.apply(X, iters, damping)
        d = X.shape[-1]
        W = torch.eye(d, dtype=X.dtype, device=X.device).expand(X.shape[0], d, d)
        for _ in range(iters):
            W = symmetric_decorrelation(fastica_step(X, W, update, damping, mu, tau), decorrelation)
        return X @ W, W
