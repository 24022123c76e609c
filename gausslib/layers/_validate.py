"""Input checks shared by the layers (shapes only: no host sync on tensor values)."""
from __future__ import annotations

import torch


def check_patches(X, name: str = "X") -> None:
    """Raise unless ``X`` is a floating tensor of shape ``[B, n, d]`` with ``n >= d``."""
    if not isinstance(X, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape [B, n, d], got {type(X).__name__}")
    if X.dim() != 3:
        raise ValueError(f"{name} must have shape [B, n, d], got {tuple(X.shape)}")
    if not X.is_floating_point():
        raise TypeError(f"{name} must be a floating tensor, got dtype {X.dtype}")
    B, n, d = X.shape
    if n < d:
        raise ValueError(f"{name} of shape {tuple(X.shape)} = [B, n, d] has n={n} < d={d}; the layers need n >= d "
                         "(use a smaller patch size)")
