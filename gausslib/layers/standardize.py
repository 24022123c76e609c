"""Standardisation with temperature and the spherical projection, per batch item over all entries."""
from __future__ import annotations

import torch

__all__ = ["standardize", "spherical"]


def _flat(X: torch.Tensor, name: str = "X") -> torch.Tensor:
    if not isinstance(X, torch.Tensor) or X.dim() < 2:
        raise ValueError(f"{name} must be a tensor of shape [B, ...] with at least 2 dims, "
                         f"got {tuple(getattr(X, 'shape', ()))}")
    return X.reshape(X.shape[0], -1)


def standardize(X: torch.Tensor, temperature: float = 1.0, eps: float = 1e-6) -> torch.Tensor:
    """Return ``T · (X − mean X)/(std X + eps)``, shaped like ``X: [B, ...]`` (std unbiased)."""
    x = _flat(X)
    mean = x.mean(-1)
    std = x.std(-1)
    view = (-1,) + (1,) * (X.dim() - 1)
    return temperature * (X - mean.view(view)) / (std.view(view) + eps)


def spherical(X: torch.Tensor) -> torch.Tensor:
    """Return ``X / ‖X‖ · sqrt(numel)`` per item, shaped like ``X: [B, ...]`` (the sphere of radius √D)."""
    x = _flat(X)
    norm = torch.linalg.vector_norm(x, dim=-1).clamp_min(torch.finfo(X.dtype).tiny ** 0.5)
    view = (-1,) + (1,) * (X.dim() - 1)
    return X * (x.shape[-1] ** 0.5 / norm).view(view)
