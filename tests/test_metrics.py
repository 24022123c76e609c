import math
import warnings

import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from gausslib import metrics


def _pair(C, H=24, W=20, B=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    ref = torch.rand(B, C, H, W, generator=g, dtype=torch.float64) * 2 - 1
    x = ref + 0.2 * torch.randn(B, C, H, W, generator=g, dtype=torch.float64)
    return x, ref


@pytest.mark.parametrize("C", [1, 3])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_psnr_ssim_match_skimage(C, dtype):
    x, ref = _pair(C)
    x, ref = x.to(dtype), ref.to(dtype)
    p = metrics.psnr(x, ref, data_range=2.0)
    s = metrics.ssim(x, ref, data_range=2.0)
    assert p.shape == s.shape == (3,)
    for b in range(3):
        xb, rb = x[b].double().numpy(), ref[b].double().numpy()
        assert abs(p[b].item() - peak_signal_noise_ratio(rb, xb, data_range=2.0)) < 1e-6
        s_ref = structural_similarity(rb, xb, data_range=2.0, channel_axis=0)
        assert abs(s[b].item() - s_ref) < 1e-6


def test_psnr_uses_the_stated_range_not_the_image():
    x, ref = _pair(1)
    # doubling the stated range adds exactly 20 log10(2) dB, whatever the image content
    diff = metrics.psnr(x, ref, 4.0) - metrics.psnr(x, ref, 2.0)
    assert torch.allclose(diff, torch.full_like(diff, 20 * math.log10(2)), atol=1e-12)


def test_ssim_of_identical_images_is_one():
    _, ref = _pair(3)
    assert torch.allclose(metrics.ssim(ref, ref, 2.0), torch.ones(3, dtype=torch.float64))


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), None])
def test_bad_data_range(bad):
    x, ref = _pair(1)
    with pytest.raises(ValueError, match="data_range"):
        metrics.psnr(x, ref, bad)


def test_bad_shapes():
    x, ref = _pair(1)
    with pytest.raises(ValueError, match="ref"):
        metrics.ssim(x, ref[:2], 2.0)
    with pytest.raises(ValueError, match="x must be"):
        metrics.psnr(x[0], ref[0], 2.0)
    with pytest.raises(ValueError, match="win_size"):
        metrics.ssim(x[..., :5, :5], ref[..., :5, :5], 2.0)


def test_lpips_nan_with_one_warning_when_unavailable(monkeypatch):
    try:
        import lpips  # noqa: F401
        pytest.skip("lpips installed; the fallback path is not reachable")
    except ImportError:
        pass
    monkeypatch.setattr(metrics, "_LPIPS_MODEL", None)
    monkeypatch.setattr(metrics, "_LPIPS_WARNED", False)
    x, ref = _pair(3)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        d1 = metrics.lpips(x, ref, 2.0, data_min=-1.0)
        d2 = metrics.lpips(x, ref, 2.0, data_min=-1.0)
    assert d1.shape == (3,) and bool(torch.isnan(d1).all()) and bool(torch.isnan(d2).all())
    assert sum(issubclass(w.category, RuntimeWarning) for w in rec) == 1


def test_roughness_is_the_mean_neighbour_difference():
    flat = torch.zeros(2, 1, 8, 8)
    stripes = torch.arange(8.0).remainder(2).expand(1, 1, 8, 8)          # columns 0, 1, 0, 1, …
    assert torch.equal(metrics.roughness(flat), torch.zeros(2))
    assert torch.allclose(metrics.roughness(stripes), torch.tensor([1.0]))
    with pytest.raises(ValueError, match="images"):
        metrics.roughness(torch.zeros(8, 8))
