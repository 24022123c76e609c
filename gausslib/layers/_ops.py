"""Small tensor helpers shared by the layers."""
from __future__ import annotations

import math

import torch

_LOG2E = 1.0 / math.log(2.0)


def fast_exp(x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """Return ``exp(scale · x)`` as ``exp2(x · scale log₂e)``: about 3× faster than ``torch.exp`` on CPU,
    relative error ≈ ``|x|·eps`` (harmless for the moderate arguments of the Lambert layer). ``scale``
    folds a factor into the one multiplication (for ``scale = −1``, ``−½`` the same bits as scaling first)."""
    return torch.exp2(x * (scale * _LOG2E))


def mean_dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Return ``mean(a · b)`` over the last axis of ``[B, N]`` tensors, ``[B]``."""
    return torch.linalg.vecdot(a, b) / a.shape[-1]        # one fused kernel: about half of (a * b).mean(-1)


def per_item(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Return ``v: [B]`` viewed to broadcast against ``like: [B, ...]``."""
    return v.reshape(v.shape[:1] + (1,) * (like.dim() - 1))


def blend(mask: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Return ``a`` where ``mask = 1`` and ``b`` where ``mask = 0`` (mask of 0/1 numbers).

    A multiply-add instead of ``torch.where``, which is several times slower on large CPU
    tensors; ``a`` and ``b`` must be finite.
    """
    return torch.addcmul(b, mask, a - b)


_COMPILED: dict = {}


def maybe_compiled(fn, enabled: bool):
    """Return ``fn``, or its cached ``torch.compile`` version when ``enabled``.

    Used for the root solvers' loops: many small elementwise ops per step that the compiler
    fuses into a few kernels (several times faster on CPU once compiled; compiling takes minutes
    on a busy machine, a second shape recompiles once with dynamic shapes, so it is opt-in).
    """
    if not enabled:
        return fn
    if fn not in _COMPILED:
        _COMPILED[fn] = torch.compile(fn)
    return _COMPILED[fn]
