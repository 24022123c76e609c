"""Cut latents into patch matrices ``[B, n, d]`` (rows = patches = samples) and fold them back.

Three latent layouts (paper §3, SPEC §1):

* a batch of vectors ``[B, k, L]`` → consecutive chunks of ``p``: ``[B, k·L/p, p]``;
* a batch of 2-D maps ``[B, C, H, W]`` → non-overlapping ``p×p`` patches over all channels:
  ``[B, H·W/p², C·p²]`` (patch order row-major over the grid, entries ordered ``(C, p, p)``);
* a list of such maps (e.g. the StyleGAN2 noise pyramid) → the patch matrices of every map
  stacked along the rows (all maps need the same ``C·p²``).

``roll=True`` shifts the latent by half a patch (with wrap-around) before cutting, so a second
set of layers sees patches straddling the first set's borders (paper App. J.4).
:func:`unpatchify` is the exact inverse of :func:`patchify` for the same ``p`` and ``roll``.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["patchify", "unpatchify"]


def _check_divisible(name: str, size: int, p: int, shape) -> None:
    if size % p:
        raise ValueError(f"{name}={size} of shape {tuple(shape)} is not divisible by the patch size p={p}")


def _shift(p: int, roll: bool) -> int:
    return p // 2 if roll else 0


def _patchify_vectors(x: torch.Tensor, p: int, roll: bool) -> torch.Tensor:
    B, k, L = x.shape
    _check_divisible("L", L, p, x.shape)
    x = torch.roll(x, _shift(p, roll), dims=-1)
    return x.reshape(B, k * L // p, p)


def _patchify_maps(x: torch.Tensor, p: int, roll: bool) -> torch.Tensor:
    B, C, H, W = x.shape
    _check_divisible("H", H, p, x.shape)
    _check_divisible("W", W, p, x.shape)
    s = _shift(p, roll)
    x = torch.roll(x, (s, s), dims=(-2, -1))
    x = x.reshape(B, C, H // p, p, W // p, p).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(B, (H // p) * (W // p), C * p * p)


def _unpatchify_vectors(X: torch.Tensor, shape, p: int, roll: bool) -> torch.Tensor:
    x = X.reshape(X.shape[0], *shape[1:])
    return torch.roll(x, -_shift(p, roll), dims=-1)


def _unpatchify_maps(X: torch.Tensor, shape, p: int, roll: bool) -> torch.Tensor:
    B, C, H, W = shape
    x = X.reshape(X.shape[0], H // p, W // p, C, p, p).permute(0, 3, 1, 4, 2, 5)
    x = x.reshape(X.shape[0], C, H, W)
    s = _shift(p, roll)
    return torch.roll(x, (-s, -s), dims=(-2, -1))


def _check_p(p) -> None:
    if not isinstance(p, int) or p < 1:
        raise ValueError(f"patch size p must be a positive int, got {p!r}")


def patchify(x: torch.Tensor | Sequence[torch.Tensor], p: int, *, roll: bool = False) -> torch.Tensor:
    """Return the patch matrix ``X: [B, n, d]`` of a latent.

    x: ``[B, k, L]`` (vectors; ``n = k·L/p``, ``d = p``), ``[B, C, H, W]`` (maps;
    ``n = H·W/p²``, ``d = C·p²``) or a list of maps with equal ``C`` (rows pooled in list order).
    roll: shift by ``p // 2`` (wrap-around) along the cut axes before cutting.
    """
    _check_p(p)
    if isinstance(x, torch.Tensor):
        if x.dim() == 3:
            return _patchify_vectors(x, p, roll)
        if x.dim() == 4:
            return _patchify_maps(x, p, roll)
        raise ValueError(f"x must have shape [B, k, L] or [B, C, H, W], got {tuple(x.shape)}")
    maps = list(x)
    if not maps or any(not isinstance(m, torch.Tensor) or m.dim() != 4 for m in maps):
        raise ValueError(f"a list x must hold [B, C, H, W] maps, got shapes {[tuple(getattr(m, 'shape', ())) for m in maps]}")
    channels = {m.shape[:2] for m in maps}
    if len(channels) != 1:
        raise ValueError(f"pooled maps need equal [B, C], got shapes {[tuple(m.shape) for m in maps]}")
    return torch.cat([_patchify_maps(m, p, roll) for m in maps], dim=1)


def unpatchify(X: torch.Tensor, shape, p: int, *, roll: bool = False):
    """Return the latent whose :func:`patchify` is ``X: [B, n, d]`` (the exact inverse).

    shape: the latent's shape (``[B, k, L]`` or ``[B, C, H, W]``) or a list of map shapes for a
    pooled list (then a list of maps is returned). The batch size is taken from ``X``.
    """
    _check_p(p)
    if X.dim() != 3:
        raise ValueError(f"X must have shape [B, n, d], got {tuple(X.shape)}")
    if len(shape) and isinstance(shape[0], (tuple, list, torch.Size)):
        sizes = [(s[2] // p) * (s[3] // p) for s in shape]
        if sum(sizes) != X.shape[1]:
            raise ValueError(f"X of shape {tuple(X.shape)} does not match the map shapes {list(map(tuple, shape))} with p={p}")
        return [_unpatchify_maps(part, s, p, roll) for part, s in zip(X.split(sizes, dim=1), shape)]
    expected = 1
    for s in shape[1:]:
        expected *= s
    if X.shape[1] * X.shape[2] != expected:
        raise ValueError(f"X of shape {tuple(X.shape)} does not match the latent shape {tuple(shape)}")
    if len(shape) == 3:
        return _unpatchify_vectors(X, shape, p, roll)
    if len(shape) == 4:
        return _unpatchify_maps(X, shape, p, roll)
    raise ValueError(f"shape must be [B, k, L] or [B, C, H, W], got {tuple(shape)}")
