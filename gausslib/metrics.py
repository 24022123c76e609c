"""Image quality metrics on batches: PSNR, SSIM (both match ``skimage.metrics``) and LPIPS.

All metrics take images ``[B, C, H, W]`` and return one value per image ``[B]``. The data range is
always stated by the caller (MRI images in [-1, 1] have ``data_range=2``); nothing is guessed from
the image, because a guessed range changes PSNR by several dB between methods.
"""
from __future__ import annotations

import math
import warnings

import torch
import torch.nn.functional as F

__all__ = ["psnr", "ssim", "lpips", "roughness"]


def _check_pair(x: torch.Tensor, ref: torch.Tensor, data_range: float) -> None:
    if x.ndim != 4:
        raise ValueError(f"x must be [B, C, H, W], got shape {tuple(x.shape)}")
    if x.shape != ref.shape:
        raise ValueError(f"ref must have the shape of x {tuple(x.shape)}, got {tuple(ref.shape)}")
    if not (isinstance(data_range, (int, float)) and math.isfinite(data_range) and data_range > 0):
        raise ValueError(f"data_range must be a positive finite number, got {data_range!r}")


def psnr(x: torch.Tensor, ref: torch.Tensor, data_range: float) -> torch.Tensor:
    """Return the peak signal-to-noise ratio in dB per image: ``[B]``.

    ``PSNR = 10 log10(R² / mean((x − ref)²))`` over C, H, W, with ``R = data_range``; equal to
    ``skimage.metrics.peak_signal_noise_ratio(ref, x, data_range=R)`` per image.
    x, ref: [B, C, H, W]. Computed in float64.
    """
    _check_pair(x, ref, data_range)
    mse = (x.double() - ref.double()).pow(2).flatten(1).mean(1)
    return 10.0 * torch.log10(data_range**2 / mse)


def ssim(x: torch.Tensor, ref: torch.Tensor, data_range: float, win_size: int = 7) -> torch.Tensor:
    """Return the mean structural similarity per image: ``[B]``.

    ``S = (2 μx μy + C1)(2 σxy + C2) / ((μx² + μy² + C1)(σx² + σy² + C2))`` with local moments
    over a uniform ``win_size²`` window (sample covariance, ``N/(N−1)``), ``C1 = (0.01 R)²``,
    ``C2 = (0.03 R)²``, averaged over the valid (uncropped) window positions and the channels.
    This is ``skimage.metrics.structural_similarity(ref, x, data_range=R, channel_axis=0)`` with
    its defaults (``gaussian_weights=False``, ``win_size=7``, ``use_sample_covariance=True``),
    whose border crop leaves exactly the valid positions.
    x, ref: [B, C, H, W] with H, W ≥ win_size. Computed in float64.
    """
    _check_pair(x, ref, data_range)
    if win_size < 3 or win_size % 2 == 0 or min(x.shape[-2:]) < win_size:
        raise ValueError(f"win_size must be odd, ≥ 3 and ≤ min(H, W) = {min(x.shape[-2:])}, "
                         f"got {win_size}")
    B, C, H, W = x.shape
    a = x.double().reshape(B * C, 1, H, W)
    b = ref.double().reshape(B * C, 1, H, W)
    mean = lambda t: F.avg_pool2d(t, win_size, stride=1)  # noqa: E731 - valid uniform window
    n = win_size**2
    cov_norm = n / (n - 1)
    ua, ub = mean(a), mean(b)
    vaa = cov_norm * (mean(a * a) - ua * ua)
    vbb = cov_norm * (mean(b * b) - ub * ub)
    vab = cov_norm * (mean(a * b) - ua * ub)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * ua * ub + c1) * (2 * vab + c2)) / ((ua**2 + ub**2 + c1) * (vaa + vbb + c2))
    return s.reshape(B, -1).mean(1)


_LPIPS_MODEL = None
_LPIPS_WARNED = False


def _lpips_model():
    """Return the cached LPIPS(AlexNet) network, or None when the package or weights are absent."""
    global _LPIPS_MODEL, _LPIPS_WARNED
    if _LPIPS_MODEL is None and not _LPIPS_WARNED:
        try:
            import lpips as lpips_pkg  # optional extra: pip install gausslib[lpips]

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _LPIPS_MODEL = lpips_pkg.LPIPS(net="alex", verbose=False).eval()
        except Exception as exc:  # missing package, or weights that cannot be fetched offline
            _LPIPS_WARNED = True
            warnings.warn(f"LPIPS unavailable ({type(exc).__name__}: {exc}); returning NaN. "
                          "Install the 'lpips' extra with the AlexNet weights cached to enable it.",
                          RuntimeWarning, stacklevel=3)
    return _LPIPS_MODEL


def lpips(x: torch.Tensor, ref: torch.Tensor, data_range: float, data_min: float) -> torch.Tensor:
    """Return the LPIPS(AlexNet) distance per image ``[B]``, or NaN when LPIPS is unavailable.

    Images live in ``[data_min, data_min + data_range]`` and are mapped affinely to LPIPS's
    ``[-1, 1]``; grey images (C = 1) are repeated to 3 channels. x, ref: [B, C, H, W].
    Warns once (RuntimeWarning) when the ``lpips`` package or its AlexNet weights are missing.
    """
    _check_pair(x, ref, data_range)
    model = _lpips_model()
    if model is None:
        return torch.full((x.shape[0],), float("nan"), dtype=torch.float64, device=x.device)

    def to_unit(t: torch.Tensor) -> torch.Tensor:
        t = 2 * (t.float() - data_min) / data_range - 1
        return t.expand(-1, 3, -1, -1) if t.shape[1] == 1 else t

    with torch.no_grad():
        d = model.to(x.device)(to_unit(x), to_unit(ref))
    return d.reshape(-1).double()


def roughness(x: torch.Tensor) -> torch.Tensor:
    """Return the mean absolute difference between vertical plus horizontal neighbours, per image ``[B]``,
    of ``x: [B, C, H, W]``: grows with fine texture and speckle (0 for a constant image)."""
    if x.ndim != 4:
        raise ValueError(f"x must be images [B, C, H, W], got shape {tuple(x.shape)}")
    dy = (x[..., 1:, :] - x[..., :-1, :]).abs().flatten(1).mean(1)
    dx = (x[..., :, 1:] - x[..., :, :-1]).abs().flatten(1).mean(1)
    return dy + dx
