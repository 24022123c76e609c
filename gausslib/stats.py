"""Batched statistics for Gaussian-reference comparisons of samples ``x: [B, ...]``.

Moments reduce over ``dim`` (default: every dimension but the batch; all of a 1-D ``x``).
The entropy terms take samples ``[B, n, d]`` (rows = samples) or one set ``[n, d]``. The entropy-based
terms use Kozachenko–Leonenko k-nearest-neighbour estimates (nats), with the same estimator for
the marginals and the joint, so that the decomposition

.. math::  \\mathrm{KL}(p \\,\\|\\, N(0, I)) = I(x) + \\sum_j J(x_j) + \\sum_j \\mathrm{KL}(N(m_j, s_j^2) \\,\\|\\, N(0, 1))

(multi-information + marginal negentropies + marginal moment mismatch) holds exactly for the
estimates. Rotations change only ``I`` and the ``J``'s; componentwise maps leave ``I`` unchanged.
"""
from __future__ import annotations

import functools
import math

import torch

__all__ = ["skewness", "kurtosis", "entropy", "negentropy", "multi_information", "kl_decomposition",
           "typical_set_radius", "amari_index", "patch_correlation", "mean_abs_correlation"]


def _dims(x: torch.Tensor, dim):
    if dim is None:
        if x.dim() == 0:
            raise ValueError(f"x must have shape [B, ...] or [N], got {tuple(x.shape)}")
        return tuple(range(1, x.dim())) if x.dim() > 1 else (0,)
    return dim


def _samples(fn):
    """Let ``fn`` on ``[B, n, d]`` also take one sample set ``[n, d]`` (returned without the batch axis)."""
    @functools.wraps(fn)
    def wrapper(x: torch.Tensor, *args, **kwargs):
        if x.dim() == 2:
            out = wrapper(x.unsqueeze(0), *args, **kwargs)
            return {k: v[0] for k, v in out.items()} if isinstance(out, dict) else out[0]
        if x.dim() != 3:
            raise ValueError(f"x must have shape [B, n, d] or [n, d], got {tuple(x.shape)}")
        return fn(x, *args, **kwargs)
    return wrapper


def _central(x: torch.Tensor, dim, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    c = x - x.mean(dim=dim, keepdim=True)
    c2 = c * c
    m2 = c2.mean(dim=dim)
    mk = (c2 * c).mean(dim=dim) if k == 3 else (c2 * c2).mean(dim=dim)
    return m2.clamp_min(torch.finfo(x.dtype).tiny ** 0.5), mk


def skewness(x: torch.Tensor, dim=None) -> torch.Tensor:
    """Return the skewness ``m3 / m2^{3/2}`` (biased moments) of ``x`` over ``dim``."""
    m2, m3 = _central(x, _dims(x, dim), 3)
    return m3 / m2.pow(1.5)


def kurtosis(x: torch.Tensor, dim=None, excess: bool = True) -> torch.Tensor:
    """Return the kurtosis ``m4 / m2² − 3`` (``excess``) or ``m4 / m2²`` (Pearson) over ``dim``."""
    m2, m4 = _central(x, _dims(x, dim), 4)
    k = m4 / (m2 * m2)
    return k - 3.0 if excess else k


def _knn_log_dist_1d(x: torch.Tensor, k: int) -> torch.Tensor:
    """Return the log distance to the k-th nearest neighbour, ``x: [M, n] → [M, n]`` (sorted 1-D)."""
    s, _ = torch.sort(x, dim=-1)
    inf = torch.full_like(s[:, :k], float("inf"))
    pad = torch.cat([-inf, s, inf], dim=-1)
    n = s.shape[-1]
    cand = torch.stack([(pad[:, k + j:k + j + n] - s).abs() for j in range(-k, k + 1) if j], dim=-1)
    return torch.log(cand.kthvalue(k, dim=-1).values.clamp_min(torch.finfo(x.dtype).tiny))


@_samples
def entropy(x: torch.Tensor, k: int = 3) -> torch.Tensor:
    """Return the Kozachenko–Leonenko entropy estimate (nats), [B], of samples ``x: [B, n, d]``.

    ``H = ψ(n) − ψ(k) + log V_d + (d/n) Σ_i log ε_i`` with ``ε_i`` the distance to the k-th
    nearest neighbour and ``V_d`` the unit-ball volume.
    """
    B, n, d = x.shape
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k < n:
        raise ValueError(f"k must be an int with 1 <= k < n (the k-th nearest neighbour among n={n} samples), got {k!r}")
    if d == 1:
        logeps = _knn_log_dist_1d(x[..., 0], k)
    else:
        D = torch.cdist(x, x)
        logeps = torch.log(D.topk(k + 1, dim=-1, largest=False).values[..., k].clamp_min(torch.finfo(x.dtype).tiny))
    log_vd = 0.5 * d * math.log(math.pi) - math.lgamma(0.5 * d + 1.0)
    const = torch.special.digamma(torch.tensor(float(n), dtype=x.dtype)) - torch.special.digamma(
        torch.tensor(float(k), dtype=x.dtype)) + log_vd
    return const.to(x.device) + d * logeps.mean(-1)


def _marginal_entropies(x: torch.Tensor, k: int) -> torch.Tensor:
    B, n, d = x.shape
    return entropy(x.transpose(1, 2).reshape(B * d, n, 1), k).reshape(B, d)


@_samples
def negentropy(x: torch.Tensor, k: int = 3) -> torch.Tensor:
    """Return the marginal negentropies ``J_j = ½ log(2πe s_j²) − H(x_j)`` (nats), ``[B, d]``.

    x: [B, n, d] (rows = samples). J ≥ 0 in theory, 0 for Gaussian marginals (the estimate scatters
    around 0 by ~1/√n).
    """
    var = x.var(dim=1, unbiased=False)
    return 0.5 * torch.log(2 * math.pi * math.e * var) - _marginal_entropies(x, k)


@_samples
def multi_information(x: torch.Tensor, k: int = 3) -> torch.Tensor:
    """Return the multi-information ``I = Σ_j H(x_j) − H(x)`` (nats), [B], of ``x: [B, n, d]``."""
    return _marginal_entropies(x, k).sum(-1) - entropy(x, k)


@_samples
def kl_decomposition(x: torch.Tensor, k: int = 3) -> dict[str, torch.Tensor]:
    """Return the terms of ``KL(p‖N(0, I))`` for samples ``x: [B, n, d]``, each [B] (nats).

    Keys: ``kl`` (= ``−H + E‖x‖²/2 + (d/2) log 2π``), ``multi_information``, ``negentropy``
    (summed over components), ``moments`` (Σ_j KL(N(m_j, s_j²)‖N(0, 1))); ``kl`` equals the sum
    of the other three.
    """
    d = x.shape[-1]
    Hm = _marginal_entropies(x, k)
    H = entropy(x, k)
    m = x.mean(dim=1)
    v = x.var(dim=1, unbiased=False)
    J = 0.5 * torch.log(2 * math.pi * math.e * v) - Hm
    moments = 0.5 * (v + m * m - 1.0 - torch.log(v))
    kl = -H + 0.5 * (x * x).sum(-1).mean(-1) + 0.5 * d * math.log(2 * math.pi)
    return {"kl": kl, "multi_information": Hm.sum(-1) - H, "negentropy": J.sum(-1), "moments": moments.sum(-1)}


def typical_set_radius(D: int) -> tuple[float, float]:
    """Return ``(mean, std)`` of ``‖z‖`` for ``z ~ N(0, I_D)`` (chi distribution): ≈ ``(√D, 1/√2)``."""
    mean = math.sqrt(2.0) * math.exp(math.lgamma(0.5 * (D + 1)) - math.lgamma(0.5 * D))
    return mean, math.sqrt(max(D - mean * mean, 0.0))


def amari_index(P: torch.Tensor) -> torch.Tensor:
    """Return the Amari index in [0, 1], [B], of ``P: [B, d, d]`` (0 iff P is a scaled permutation).

    For an unmixing ``W`` of a mixing ``A`` pass ``P = W A`` (or its transpose).
    """
    a = P.abs()
    d = a.shape[-1]
    rows = (a.sum(-1) / a.amax(-1)).sum(-1) - d
    cols = (a.sum(-2) / a.amax(-2)).sum(-1) - d
    return (rows + cols) / (2.0 * d * (d - 1))


def patch_correlation(X: torch.Tensor) -> torch.Tensor:
    """Return the correlation matrices ``[B, d, d]`` between the ``d`` coordinates (columns) of the
    patch matrices ``X: [B, n, d]`` (Pearson, over the ``n`` patches of each item)."""
    if X.ndim != 3:
        raise ValueError(f"X must be patch matrices [B, n, d], got shape {tuple(X.shape)}")
    Xc = X - X.mean(-2, keepdim=True)
    C = Xc.transpose(-1, -2) @ Xc
    s = C.diagonal(dim1=-2, dim2=-1).clamp_min(torch.finfo(C.dtype).tiny).sqrt()
    return C / (s[..., :, None] * s[..., None, :])


def mean_abs_correlation(X: torch.Tensor) -> torch.Tensor:
    """Return the mean ``|correlation|`` over the ``d(d − 1)`` off-diagonal pairs of coordinates of
    ``X: [B, n, d]``, per item ``[B]`` (≈ √(2/(π n)) for i.i.d. Gaussian patches)."""
    R = patch_correlation(X).abs()
    d = R.shape[-1]
    return (R.sum((-2, -1)) - R.diagonal(dim1=-2, dim2=-1).sum(-1)) / (d * (d - 1))
