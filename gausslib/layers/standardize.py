"""Standardisation with temperature and the spherical projection, per batch item over all entries."""
from __future__ import annotations

import torch

from ._ops import per_item
from ._validate import float32_for_half

__all__ = ["standardize", "moments", "spherical"]


def _flat(X: torch.Tensor, name: str = "X") -> torch.Tensor:
    if not isinstance(X, torch.Tensor) or X.dim() < 2:
        raise ValueError(f"{name} must be a tensor of shape [B, ...] with at least 2 dims, "
                         f"got {tuple(getattr(X, 'shape', ()))}")
    return X.flatten(1)


def moments(X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(mean, std)``, each ``[B]``, over all entries of each item of ``X: [B, ...]`` (std unbiased)."""
    x = _flat(X)
    if not x.shape[0]:                              # torch's std warns about degrees of freedom on B = 0
        return x.new_zeros(0), x.new_zeros(0)
    return x.mean(-1), x.std(-1)


@float32_for_half
def standardize(X: torch.Tensor, temperature: float = 1.0, eps: float = 1e-6) -> torch.Tensor:
    """Return ``T · (X − mean X)/(std X + eps)``, shaped like ``X: [B, ...]`` (std unbiased)."""
    mean, std = moments(X)
    if not X.shape[0]:
        return temperature * X
    return temperature * (X - per_item(mean, X)) / (per_item(std, X) + eps)


@float32_for_half
def spherical(X: torch.Tensor) -> torch.Tensor:
    """Return ``X / ‖X‖ · sqrt(numel)`` per item, shaped like ``X: [B, ...]`` (the sphere of radius √D)."""
    x = _flat(X)
    norm = torch.linalg.vector_norm(x, dim=-1).clamp_min(torch.finfo(X.dtype).tiny ** 0.5)
    return X * per_item(x.shape[-1] ** 0.5 / norm, X)
