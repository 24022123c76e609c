import numpy as np
import pytest
import torch
from scipy import stats

from gausslib.layers import fit_yeo_johnson, yeo_johnson, yeo_johnson_transform


def _samples():
    rng = np.random.default_rng(0)
    return {
        "lognormal": rng.lognormal(size=(300, 8)),
        "neg_lognormal": -rng.lognormal(size=(300, 8)),
        "shifted_gamma": rng.gamma(2.0, size=(300, 8)) - 1.0,
        "cubed_exponential": rng.exponential(size=(300, 8)) ** 3,
        "student_t2": rng.standard_t(2, (300, 8)),
        "gaussian": rng.standard_normal((300, 8)),
    }


@pytest.mark.parametrize("name", list(_samples()))
def test_lambda_matches_scipy(name):
    x = _samples()[name]
    lam = fit_yeo_johnson(torch.tensor(x)[None])
    # scipy's optimiser stops at xtol = 1.48e-8; ours is a converged Newton root.
    assert abs(lam.item() - stats.yeojohnson_normmax(x.ravel())) < 1e-6


@pytest.mark.parametrize("lam", [-3.0, -0.5, 0.0, 0.7, 1.0, 2.0, 3.5])
def test_transform_matches_scipy(lam):
    x = np.random.default_rng(1).standard_t(3, (100, 4)) * 3
    ours = yeo_johnson_transform(torch.tensor(x)[None], torch.tensor([lam], dtype=torch.float64))[0].numpy()
    assert np.allclose(ours, stats.yeojohnson(x, lam), rtol=1e-12, atol=1e-12)


def test_transform_gradient_in_lambda_and_x(float64):
    X = torch.randn(2, 30, 3, requires_grad=True)
    lam = torch.tensor([0.4, 1.7], requires_grad=True)
    assert torch.autograd.gradcheck(yeo_johnson_transform, (X, lam))


def test_lambda_gradient_is_implicit_and_exact(float64):
    X = (torch.randn(2, 12, 3).exp() - 0.5).requires_grad_()
    assert torch.autograd.gradcheck(lambda X: fit_yeo_johnson(X), (X,), atol=1e-7)


def test_batch_items_get_their_own_lambda(float64):
    g = torch.Generator().manual_seed(0)
    X = torch.stack([torch.randn(200, 4, generator=g).exp(), -torch.randn(200, 4, generator=g).exp()])
    Y, lam = yeo_johnson(X)
    assert lam[0] < 0.5 < 1.5 < lam[1]
    assert lam.shape == (2,)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_no_overflow_with_extreme_values(dtype):
    X = torch.randn(1, 100, 4, dtype=dtype).exp() * 10
    X[0, 0, 0] = 1e6
    X.requires_grad_()
    Y, lam = yeo_johnson(X)
    Y.square().sum().backward()
    assert torch.isfinite(Y).all() and torch.isfinite(lam).all() and torch.isfinite(X.grad).all()


@pytest.mark.parametrize("dtype,rtol", [(torch.float64, 1e-12), (torch.float32, 1e-6)])
@pytest.mark.parametrize("lam", [1e-17, 1e-8, 1e-4, 2 - 1e-12, 2.0, 0.0])
def test_transform_near_singular_lambdas_matches_scipy(lam, dtype, rtol):
    # λ → 0 (x ≥ 0) and λ → 2 (x < 0) are the log limits; a blended exponent used to cancel to 0.
    x = torch.linspace(-3, 3, 7, dtype=torch.float64)
    ref = torch.from_numpy(stats.yeojohnson(x.numpy(), lam))
    y = yeo_johnson_transform(x.to(dtype)[None, :, None], torch.tensor([lam], dtype=dtype))
    torch.testing.assert_close(y.flatten().double(), ref, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("lam", [1e-9, 0.7, 2.0 - 1e-10, 3.0])
def test_transform_is_twice_differentiable(lam):
    # unrolled Newton steps on the likelihood (notebook 08) differentiate ψ twice in λ
    x = torch.linspace(-3, 3, 12, dtype=torch.float64).reshape(1, 4, 3).requires_grad_()
    l = torch.tensor([lam], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(yeo_johnson_transform, (x, l))
