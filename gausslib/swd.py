"""Sliced Wasserstein distance on Laplacian-pyramid patches (Karras et al. 2018, "Progressive GAN").

Each image set is turned into a Laplacian pyramid (binomial 5-tap filter); at every level, 7×7
patches at random positions (64 per image; Karras: 128) are the descriptors, normalised per set and channel.
The SWD between two descriptor sets is the mean over 4×128 random unit directions (Karras: 4×512) of the 1-D Wasserstein-1
distance between the projections (sorted samples). Reported ×10³ per level, and their mean.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

_BINOMIAL = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0


def _blur(x: torch.Tensor) -> torch.Tensor:
    """Returns ``x`` ``[B, C, H, W]`` filtered by the separable 5-tap binomial kernel (reflect padding)."""
    k = _BINOMIAL.to(x)
    c = x.shape[1]
    x = F.pad(x, (2, 2, 2, 2), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, 5).expand(c, 1, 1, 5), groups=c)
    return F.conv2d(x, k.view(1, 1, 5, 1).expand(c, 1, 5, 1), groups=c)


def laplacian_pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """Returns ``levels`` band-pass images, finest first; the last is the low-pass residual."""
    out = []
    for _ in range(levels - 1):
        down = _blur(x)[:, :, ::2, ::2]
        up = torch.zeros_like(x)
        up[:, :, ::2, ::2] = down * 4.0
        out.append(x - _blur(up))
        x = down
    return out + [x]


def patch_descriptors(x: torch.Tensor, n_per_image: int = 64, size: int = 7,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """Returns ``[B·n_per_image, C·size²]`` patches cut at random positions of images ``x`` ``[B, C, H, W]``."""
    b, c, h, w = x.shape
    ys = torch.randint(0, h - size + 1, (b, n_per_image), generator=generator).to(x.device)
    xs = torch.randint(0, w - size + 1, (b, n_per_image), generator=generator).to(x.device)
    off = torch.arange(size, device=x.device)
    rows = (ys[:, :, None] + off)[:, :, :, None]            # [B, n, s, 1]
    cols = (xs[:, :, None] + off)[:, :, None, :]            # [B, n, 1, s]
    bidx = torch.arange(b, device=x.device)[:, None, None, None]
    patches = x.permute(0, 2, 3, 1)[bidx, rows, cols]       # [B, n, s, s, C]
    return patches.permute(0, 1, 4, 2, 3).reshape(b * n_per_image, c * size * size)


def _normalise(d: torch.Tensor, channels: int) -> torch.Tensor:
    d = d.view(d.shape[0], channels, -1)
    d = (d - d.mean(dim=(0, 2), keepdim=True)) / (d.std(dim=(0, 2), keepdim=True) + 1e-8)
    return d.flatten(1)


def sliced_wasserstein(a: torch.Tensor, b: torch.Tensor, n_dirs: int = 128, repeats: int = 4,
                       generator: torch.Generator | None = None) -> torch.Tensor:
    """Returns the sliced Wasserstein-1 distance ``[]`` between samples ``a`` and ``b`` ``[N, d]``."""
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    total = a.new_zeros(())
    for _ in range(repeats):
        dirs = torch.randn(a.shape[1], n_dirs, generator=generator).to(a)
        dirs = dirs / dirs.norm(dim=0, keepdim=True)
        # Sorting contiguous rows ([n_dirs, N], dim=-1) is ~10× faster on CPU than sorting columns.
        pa, _ = torch.sort((dirs.t() @ a.t()).contiguous(), dim=-1)
        pb, _ = torch.sort((dirs.t() @ b.t()).contiguous(), dim=-1)
        total = total + (pa - pb).abs().mean()
    return total / repeats


def swd(x: torch.Tensor, y: torch.Tensor, levels: int | None = None, seed: int = 0) -> dict[str, float]:
    """Returns ``{"swd_<res>": ..., "swd_mean": ...}`` (×10³) between image sets ``x``, ``y`` ``[N, C, H, W]``.

    Levels default to the resolutions from the full size down to 16 pixels.
    """
    if x.shape[1:] != y.shape[1:]:
        raise ValueError(f"x and y must have the same image shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    res = x.shape[-1]
    if levels is None:
        levels = max(1, res.bit_length() - 4)  # 64 → 64, 32, 16
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for lvl, (px, py) in enumerate(zip(laplacian_pyramid(x.float(), levels), laplacian_pyramid(y.float(), levels))):
        da = _normalise(patch_descriptors(px, generator=gen), x.shape[1])
        db = _normalise(patch_descriptors(py, generator=gen), y.shape[1])
        out[f"swd_{res >> lvl}"] = float(sliced_wasserstein(da, db, generator=gen)) * 1e3
    out["swd_mean"] = sum(out.values()) / len(out)
    return out
