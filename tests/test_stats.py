import math

import numpy as np
import pytest
import torch
from scipy import stats as sps

from gausslib.stats import (amari_index, entropy, kl_decomposition, kurtosis, mean_abs_correlation,
                            multi_information, negentropy, patch_correlation, skewness, typical_set_radius)


def _x(seed=0, n=2000, d=3):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(2, n, d, generator=g, dtype=torch.float64)


def test_moments_match_scipy():
    x = torch.exp(_x())
    flat = x.flatten(1).numpy()
    assert np.allclose(skewness(x).numpy(), sps.skew(flat, axis=1))
    assert np.allclose(kurtosis(x).numpy(), sps.kurtosis(flat, axis=1))
    assert np.allclose(kurtosis(x, excess=False).numpy(), sps.kurtosis(flat, axis=1, fisher=False))
    assert np.allclose(skewness(x, dim=1).numpy(), sps.skew(x.numpy(), axis=1))


def test_entropy_of_gaussian():
    x = _x(n=4000, d=2)
    exact = 0.5 * 2 * math.log(2 * math.pi * math.e)
    assert torch.allclose(entropy(x), torch.full((2,), exact, dtype=x.dtype), atol=0.05)
    exact1 = 0.5 * math.log(2 * math.pi * math.e)
    assert torch.allclose(entropy(x[..., :1]), torch.full((2,), exact1, dtype=x.dtype), atol=0.06)


def test_negentropy_zero_for_gaussian_positive_otherwise():
    g = torch.Generator().manual_seed(1)
    gauss = _x(n=4000)
    uniform = torch.rand(2, 4000, 3, generator=g, dtype=torch.float64)
    assert negentropy(gauss).abs().max() < 0.03
    # J(uniform) = ½ log(2πe/12) ≈ 0.176 nats
    assert torch.allclose(negentropy(uniform), torch.full((2, 3), 0.5 * math.log(2 * math.pi * math.e / 12),
                                                          dtype=torch.float64), atol=0.03)


def test_multi_information_detects_dependence():
    x = _x(n=3000, d=2)
    mixed = torch.stack([x[..., 0], x[..., 0] + 0.3 * x[..., 1]], -1)
    assert multi_information(x).abs().max() < 0.05
    # Gaussian pair with correlation ρ: I = −½ log(1 − ρ²)
    rho = 1 / math.sqrt(1 + 0.09)
    assert torch.allclose(multi_information(mixed), torch.full((2,), -0.5 * math.log(1 - rho ** 2), dtype=x.dtype),
                          atol=0.1)


def test_kl_decomposition_is_exact_and_rotation_invariant():
    g = torch.Generator().manual_seed(2)
    x = torch.rand(1, 1500, 3, generator=g, dtype=torch.float64) * 3 + 0.5
    terms = kl_decomposition(x)
    assert torch.allclose(terms["kl"], terms["multi_information"] + terms["negentropy"] + terms["moments"])
    Q, _ = torch.linalg.qr(torch.randn(3, 3, generator=g, dtype=torch.float64))
    rotated = kl_decomposition(x @ Q)
    assert torch.allclose(rotated["kl"], terms["kl"], atol=1e-9)


def test_typical_set_radius():
    for D in (2, 64, 7168):
        mean, std = typical_set_radius(D)
        r = torch.randn(4000, D, generator=torch.Generator().manual_seed(D), dtype=torch.float64).norm(dim=1)
        assert abs(r.mean().item() - mean) < 4 * std / math.sqrt(4000) + 1e-3
        assert abs(r.std().item() - std) < 0.05 * std + 0.01


def test_amari_index():
    P = torch.eye(4)[[2, 0, 3, 1]] * torch.tensor([1.0, -2.0, 3.0, 0.5])
    assert amari_index(P[None]).item() == pytest.approx(0.0)
    assert 0.0 < amari_index(torch.ones(1, 4, 4) + torch.eye(4)).item() <= 1.0


def test_unbatched_inputs():
    x = _x()
    assert torch.allclose(negentropy(x[0]), negentropy(x)[0])
    assert torch.allclose(kl_decomposition(x[1])["kl"], kl_decomposition(x)["kl"][1])
    assert torch.allclose(kurtosis(x[0].flatten()), kurtosis(x)[0])


def test_bad_shapes():
    with pytest.raises(ValueError, match="shape"):
        negentropy(torch.randn(10))
    with pytest.raises(ValueError, match="shape"):
        multi_information(torch.randn(2, 3, 4, 5))
    with pytest.raises(ValueError, match="shape"):
        skewness(torch.tensor(1.0))


@pytest.mark.parametrize("n,d,k", [(3, 2, 3), (2, 2, 3), (3, 1, 3), (30, 2, 0)])
def test_entropy_needs_more_samples_than_neighbours(n, d, k):
    with pytest.raises(ValueError, match="1 <= k < n"):
        entropy(torch.randn(1, n, d), k)


def test_patch_correlation_matches_numpy_per_item():
    X = torch.randn(2, 500, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    X[1, :, 1] += X[1, :, 0]                                           # item 1: two correlated columns
    R = patch_correlation(X)
    for b in range(2):
        assert np.allclose(R[b].numpy(), np.corrcoef(X[b].T.numpy()))
    m = mean_abs_correlation(X)
    assert m.shape == (2,) and m[1] > m[0] and abs(float(m[0]) - math.sqrt(2 / (math.pi * 500))) < 0.03
