"""Gaussian deblurring operator: equals SciPy's gaussian_filter, adjoint folds the borders back."""
import numpy as np
import pytest
import scipy.ndimage as ndi
import torch

from gausslib.operators import GaussianBlur, add_gaussian_noise, gaussian_kernel, mismatched_blur


@pytest.mark.parametrize("padding,scipy_mode", [("reflect", "mirror"), ("symmetric", "reflect")])
@pytest.mark.parametrize("sigma", [0.8, 3.0])
def test_matches_scipy_gaussian_filter(sigma, padding, scipy_mode):
    x = torch.randn(2, 3, 20, 31, dtype=torch.float64)
    ref = np.stack([[ndi.gaussian_filter(c, sigma, mode=scipy_mode, truncate=4.0) for c in b] for b in x.numpy()])
    assert np.abs(GaussianBlur(sigma, padding=padding)(x).numpy() - ref).max() <= 1e-12


def test_defaults_and_kernel():
    op = GaussianBlur()
    assert op.sigma == 3.0 and op.radius == 12
    k = gaussian_kernel(3.0)
    assert k.numel() == 25 and torch.isclose(k.sum(), torch.tensor(1.0, dtype=torch.float64))
    assert torch.equal(k, k.flip(0))


def test_adjoint_is_not_the_blur_at_the_border():
    """Reflect padding makes A non-symmetric: Aᵀ differs from A only within 2r of the border
    (rows within r reflect onto pixels up to 2r in); symmetric padding gives a symmetric A."""
    y = torch.randn(1, 1, 24, 24, dtype=torch.float64)
    op = GaussianBlur(1.0)
    diff = (op.adjoint(y) - op(y)).abs()[0, 0]
    assert diff[:, :2].max() > 1e-3 and diff[2 * op.radius : -2 * op.radius, 2 * op.radius : -2 * op.radius].max() <= 1e-12
    sym = GaussianBlur(2.0, padding="symmetric")
    assert torch.allclose(sym.adjoint(y), sym(y), atol=1e-12)


def test_channels_independent():
    op = GaussianBlur(1.5)
    x = torch.randn(1, 3, 16, 16, dtype=torch.float64)
    y = op(x)
    assert all(torch.allclose(y[:, c : c + 1], op(x[:, c : c + 1])) for c in range(3))


def test_noise_std_within_0p2_db():
    """Measured std of add_gaussian_noise over 100 draws is within 0.2 dB (20 log10) of the request."""
    y = torch.zeros(100, 3, 32, 32, dtype=torch.float64)
    noisy = add_gaussian_noise(y, 50 / 255, torch.Generator().manual_seed(0))
    std = (noisy - y).flatten(1).std(dim=1)
    assert (20 * torch.log10(std / (50 / 255))).abs().mean() <= 0.2


def test_mismatched_blur():
    data, model = mismatched_blur(3.0, 2.0)
    assert (data.sigma, model.sigma, data.radius, model.radius) == (3.0, 2.0, 12, 8)


def test_bad_input():
    with pytest.raises(ValueError, match="sigma"):
        GaussianBlur(0.0)
    with pytest.raises(ValueError, match="x"):
        GaussianBlur(1.0)(torch.zeros(4, 4))
    with pytest.raises(ValueError, match="padding"):
        GaussianBlur(1.0, padding="zeros")
    with pytest.raises(ValueError, match="std"):
        add_gaussian_noise(torch.zeros(2), -1.0)


@pytest.mark.parametrize("sigma", [float("inf"), float("nan"), -1.0])
def test_sigma_must_be_finite_and_positive(sigma):
    with pytest.raises(ValueError, match="sigma: expected finite and > 0"):
        GaussianBlur(sigma)
