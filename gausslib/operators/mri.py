r"""Compressed-sensing MRI: masked orthonormal Fourier sampling, k-space masks, SNR noise.

.. math::  y = M \odot F x, \qquad A^H y = F^H (M \odot y),

F the orthonormal 2-D FFT, M a 0/1 k-space mask stored *centred* (DC in the middle, as
drawn); it is ``ifftshift``-ed once into FFT order.
"""
from __future__ import annotations

import math
import numbers

import numpy as np
import torch
from torch import nn

__all__ = ["MRI", "mri_mask", "add_complex_noise", "snr_db"]

_KINDS = ("random", "cartesian", "radial")


class MRI(nn.Module):
    r"""CS-MRI operator :math:`y = M \odot F x` with adjoint :math:`F^H(M \odot y)`.

    ``mask: [H, W]`` centred (0/1 or bool). ``x: [B, C, H, W]`` real or complex → ``y`` complex
    ``[B, C, H, W]`` (zero off the mask). With ``real=True`` (images in the generator's range)
    the adjoint returns the real part, the adjoint for the real inner product
    :math:`\mathrm{Re}\langle\cdot,\cdot\rangle`; with ``real=False`` it is the complex adjoint.
    A full mask makes the operator unitary.

    >>> op = MRI(torch.ones(8, 8))
    >>> x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    >>> torch.allclose(op.adjoint(op(x)), x)
    True
    """

    def __init__(self, mask: torch.Tensor, real: bool = True):
        super().__init__()
        mask = torch.as_tensor(mask)
        if mask.dim() != 2:
            raise ValueError(f"mask: expected a centred k-space mask [H, W], got shape {list(mask.shape)}")
        if not mask.any():
            raise ValueError("mask: samples no k-space entry (all zero); the operator would map everything to 0")
        self.real = real
        # stored in FFT order; float so that .to(dtype) and products are cheap
        self.register_buffer("mask", torch.fft.ifftshift(mask.to(torch.float32) != 0, dim=(-2, -1)).float())

    @property
    def acceleration(self) -> float:
        """Return the acceleration N / (number of sampled k-space entries)."""
        return self.mask.numel() / float(self.mask.sum())

    def _check(self, x: torch.Tensor, name: str) -> None:
        if x.dim() != 4 or tuple(x.shape[-2:]) != tuple(self.mask.shape):
            raise ValueError(f"{name}: expected [B, C, {self.mask.shape[0]}, {self.mask.shape[1]}] to match "
                             f"mask, got {list(x.shape)}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return y: [B, C, H, W] complex = M ⊙ F x."""
        self._check(x, "x")
        return self.mask.to(x.device) * torch.fft.fft2(x, norm="ortho")

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        """Return Fᴴ(M ⊙ y): [B, C, H, W] (real part when ``real``)."""
        self._check(y, "y")
        x = torch.fft.ifft2(self.mask.to(y.device) * y, norm="ortho")
        return x.real if self.real else x


def _disc_centre(shape: tuple[int, int], count: int) -> np.ndarray:
    """Return a boolean [H, W] mask of the ``count`` entries nearest the centre."""
    r = _radius(shape)
    mask = np.zeros(shape, bool)
    mask.flat[np.argsort(r, axis=None, kind="stable")[:count]] = True
    return mask


def _radius(shape: tuple[int, int]) -> np.ndarray:
    """Return the normalised k-space radius [H, W] (0 at DC = centre, 1 at the nearest edge)."""
    H, W = shape
    ky = (np.arange(H) - H // 2) / (H / 2)
    kx = (np.arange(W) - W // 2) / (W / 2)
    return np.hypot(ky[:, None], kx[None, :])


def _variable_density(weights: np.ndarray, centre: np.ndarray, budget: int, rng: np.random.Generator) -> np.ndarray:
    """Return ``centre`` plus ``budget − centre.sum()`` entries drawn without replacement ∝ weights."""
    free = np.flatnonzero(~centre.ravel())
    p = weights.ravel()[free]
    pick = rng.choice(free, size=budget - int(centre.sum()), replace=False, p=p / p.sum())
    mask = centre.copy()
    mask.flat[pick] = True
    return mask


def _radial(shape: tuple[int, int], budget: int, rng: np.random.Generator) -> np.ndarray:
    """Return the radial mask (golden-angle spokes, random offset) whose sample count is nearest ``budget``."""
    H, W = shape
    offset = rng.uniform(0, math.pi)
    t = np.arange(-max(H, W), max(H, W) + 0.5, 0.5)

    def spokes(k):
        mask = np.zeros(shape, bool)
        for a in offset + np.arange(k) * math.pi * (math.sqrt(5) - 1) / 2:
            i = np.round(H // 2 + t * math.sin(a)).astype(int)
            j = np.round(W // 2 + t * math.cos(a)).astype(int)
            ok = (i >= 0) & (i < H) & (j >= 0) & (j < W)
            mask[i[ok], j[ok]] = True
        return mask

    lo, hi = 1, 4 * max(H, W)
    while lo < hi:  # smallest spoke count with at least `budget` samples
        mid = (lo + hi) // 2
        lo, hi = (mid + 1, hi) if spokes(mid).sum() < budget else (lo, mid)
    fewer, more = spokes(max(lo - 1, 1)), spokes(lo)
    return fewer if budget - fewer.sum() < more.sum() - budget else more


def mri_mask(shape: tuple[int, int] | int, acceleration: float, kind: str = "random", seed: int = 0, *,
             center_fraction: float = 0.25, decay: float = 2.0) -> torch.Tensor:
    r"""Return a centred k-space mask [H, W] (bool) sampling ≈ N / ``acceleration`` entries.

    - ``"random"``: variable-density random points, a fully sampled central disc holding
      ``center_fraction`` of the budget and the rest drawn without replacement with density
      :math:`\propto (1 - r/r_{max})^{decay}`; exactly ``round(N / acceleration)`` samples.
    - ``"cartesian"``: full phase-encode rows (a 1-D version of the above).
    - ``"radial"``: golden-angle spokes through the centre, as many as bring the count nearest
      the budget (the acceleration is then approximate, within half a spoke).

    Reproducible by ``seed``.
    """
    if isinstance(shape, int):
        shape = (shape, shape)
    shape = tuple(int(s) for s in shape)
    if len(shape) != 2 or min(shape) < 2:
        raise ValueError(f"shape: expected (H, W) with H, W >= 2, got {shape}")
    if not acceleration >= 1:
        raise ValueError(f"acceleration: expected >= 1, got {acceleration}")
    if kind not in _KINDS:
        raise ValueError(f"kind: expected one of {_KINDS}, got {kind!r}")
    if not 0 <= center_fraction <= 1:
        raise ValueError(f"center_fraction: expected in [0, 1], got {center_fraction}")
    rng = np.random.default_rng(seed)
    H, W = shape
    if kind == "radial":
        return torch.from_numpy(_radial(shape, round(H * W / acceleration), rng))
    if kind == "cartesian":
        r = np.abs(np.arange(H) - H // 2) / (H / 2)
        budget = round(H / acceleration)
        centre = _disc_centre((H, 1), round(center_fraction * budget))[:, 0]
        rows = _variable_density((1 - r / (r.max() + 1e-9)) ** decay + 1e-6, centre, budget, rng)
        return torch.from_numpy(np.repeat(rows[:, None], W, axis=1))
    r = _radius(shape)
    budget = round(H * W / acceleration)
    centre = _disc_centre(shape, round(center_fraction * budget))
    weights = (1 - r / (r.max() + 1e-9)) ** decay + 1e-6  # + floor: every entry stays drawable
    return torch.from_numpy(_variable_density(weights, centre, budget, rng))


def add_complex_noise(y: torch.Tensor, snr_db: float, generator: torch.Generator | None = None, *,
                      mask: torch.Tensor | None = None, over: str = "all") -> torch.Tensor:
    r"""Return :math:`y + \sigma/\sqrt2\,(n_1 + i n_2)` with σ set by the SNR, per batch item.

    ``y: [B, ...]`` complex. The paper's definition (``over="all"``): :math:`P = \|y\|^2`,
    :math:`\sigma^2 = P\,10^{-\mathrm{SNR}/10} / N`, N = all entries of one item (sampled or
    not). Since only the N/acc sampled entries carry noise, the SNR on the measured data is
    higher by :math:`10\log_{10}(\mathrm{acc})` (9.0 dB at 8×). ``over="sampled"`` uses the
    number of sampled entries instead, so the measured SNR is the requested one.
    ``mask`` (centred ``[H, W]``, as given to :class:`MRI`) restricts the noise to the sampled
    entries. Without it, ``over="all"`` puts noise on every entry, and ``over="sampled"``
    takes the sampled entries to be the non-zero ones of ``y`` (as :class:`MRI` leaves them).
    ``generator`` must live on y's device.
    """
    if not torch.is_complex(y):
        raise TypeError(f"y: expected complex k-space data, got dtype {y.dtype}")
    if over not in ("all", "sampled"):
        raise ValueError(f"over: expected 'all' or 'sampled', got {over!r}")
    if not isinstance(snr_db, (numbers.Real, torch.Tensor)):
        raise TypeError(f"snr_db: expected the SNR in dB as a number, got {snr_db!r}")
    real = y.real.dtype
    if mask is not None:
        if tuple(mask.shape) != tuple(y.shape[-2:]):
            raise ValueError(f"mask: shape {list(mask.shape)} does not match y's last two dims {list(y.shape[-2:])}")
        keep = torch.fft.ifftshift(torch.as_tensor(mask, device=y.device) != 0, dim=(-2, -1)).to(real)
    elif over == "sampled":
        keep = (y != 0).to(real)
    else:
        keep = torch.ones((), device=y.device, dtype=real)
    dims = tuple(range(1, y.dim()))
    power = y.abs().square().sum(dims, keepdim=True)
    count = keep.expand(y.shape).sum(dims, keepdim=True) if over == "sampled" else math.prod(y.shape[1:])
    sigma = torch.sqrt(power * 10 ** (-snr_db / 10) / count)
    n1, n2 = (torch.randn(y.shape, generator=generator, device=y.device, dtype=real) for _ in range(2))
    return y + keep * sigma / math.sqrt(2) * torch.complex(n1, n2)


def snr_db(signal: torch.Tensor, noisy: torch.Tensor) -> torch.Tensor:
    r"""Return the SNR [B] in dB, :math:`10\log_{10}(\|s\|^2 / \|\tilde s - s\|^2)` per batch item."""
    dims = tuple(range(1, signal.dim()))
    return 10 * torch.log10(signal.abs().square().sum(dims) / (noisy - signal).abs().square().sum(dims))


BOOK_MASKS = {"size": 64, "accelerations": (2, 4, 6, 8, 12), "kind": "random", "seed": 0}


def write_book_masks(folder: str = "data/masks") -> list[str]:
    """Write the book's masks (:data:`BOOK_MASKS`) as ``random_64_{acc}x.npy`` plus one PNG; return the paths.

    ``python -c "from gausslib.operators.mri import write_book_masks; write_book_masks()"``
    """
    from pathlib import Path

    import matplotlib.pyplot as plt

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    size, accs, kind, seed = (BOOK_MASKS[k] for k in ("size", "accelerations", "kind", "seed"))
    fig, axes = plt.subplots(1, len(accs), figsize=(2.2 * len(accs), 2.6))
    paths = []
    for ax, acc in zip(axes, accs):
        mask = mri_mask(size, acc, kind, seed).numpy()
        path = out / f"{kind}_{size}_{acc}x.npy"
        np.save(path, mask)
        paths.append(str(path))
        ax.imshow(mask, cmap="gray_r", interpolation="nearest")
        ax.set_title(f"{acc}× ({mask.mean():.1%} sampled)", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"Variable-density random k-space masks, {size}×{size}, centred (seed {seed})", fontsize=10)
    fig.tight_layout()
    fig.savefig(out / f"{kind}_{size}.png", dpi=120)
    plt.close(fig)
    return paths + [str(out / f"{kind}_{size}.png")]
