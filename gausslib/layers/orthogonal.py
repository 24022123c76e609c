"""Orthogonal (Cayley) reparameterisation of fixed Gaussian patches (paper App. H)."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["cayley", "OrthogonalReparam"]


def cayley(A: torch.Tensor) -> torch.Tensor:
    """Return ``Q = (I + S)(I − S)^{-1}: [B, d, d]``, orthogonal, with ``S = triu(A, 1) − triu(A, 1)ᵀ``."""
    S = torch.triu(A, 1)
    S = S - S.transpose(-1, -2)
    eye = torch.eye(A.shape[-1], dtype=A.dtype, device=A.device)
    # (I + S) and (I − S)^{-1} commute, so Q = (I − S)^{-1}(I + S) = solve(I − S, I + S).
    return torch.linalg.solve(eye - S, eye + S)


class OrthogonalReparam(nn.Module):
    """Patches ``X0 Qᵀ: [B, n, d]`` with fixed Gaussian ``X0`` and ``Q = cayley(A)``, ``A`` init 0.

    Construct from the fixed patches ``OrthogonalReparam(x0: [B, n, d])`` or from a shape,
    ``OrthogonalReparam(B, n, d)``, ``OrthogonalReparam(n, d)`` (B = 1) or ``OrthogonalReparam((B, n, d))``,
    drawing ``X0`` from N(0, 1) with ``seed``. Only ``A: [B, d, d]`` is a parameter; ``forward()``
    takes no input.
    """

    def __init__(self, *x0, seed: int = 0, dtype=None, device=None):
        super().__init__()
        if len(x0) == 1 and isinstance(x0[0], torch.Tensor):
            x0 = x0[0]
        else:
            shape = tuple(x0[0]) if len(x0) == 1 and isinstance(x0[0], Sequence) else tuple(x0)
            if len(shape) == 2:
                shape = (1,) + shape
            if len(shape) != 3 or not all(isinstance(s, int) and s > 0 for s in shape):
                raise ValueError(f"x0 must be a [B, n, d] tensor or a shape (B, n, d) / (n, d), got {x0!r}")
            g = torch.Generator().manual_seed(seed)
            x0 = torch.randn(shape, generator=g, dtype=dtype or torch.get_default_dtype()).to(device)
        if x0.dim() != 3:
            raise ValueError(f"x0 must have shape [B, n, d], got {tuple(x0.shape)}")
        B, n, d = x0.shape
        self.register_buffer("x0", x0)
        self.A = nn.Parameter(torch.zeros(B, d, d, dtype=x0.dtype, device=x0.device))

    def forward(self) -> torch.Tensor:
        return self.x0 @ cayley(self.A).transpose(-1, -2)
