import pytest
import torch

from gausslib.layers import inv_sqrtm, iterative_whiten, symmetric_decorrelation, zca_whiten
from gausslib.layers.whiten import covariance, inv_sqrtm_newton_schulz


def _mixed(B=2, n=300, d=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, n, d, generator=g) @ torch.randn(B, d, d, generator=g) + 3.0


def test_zca_whitens_up_to_the_blend(float64):
    X = _mixed()
    Y = zca_whiten(X, eps=1e-3)
    C = Y.transpose(1, 2) @ Y / (Y.shape[1] - 1)
    # Y = Xc C_eps^{-1/2} with C_eps = (1-eps) S + eps I, so Y's covariance is C_eps^{-1/2} S C_eps^{-1/2}.
    _, Ce = covariance(X, 1e-3)
    S = (Ce - 1e-3 * torch.eye(6)) / (1 - 1e-3)
    M = inv_sqrtm(Ce)
    assert torch.allclose(C, M @ S @ M, atol=1e-12)
    assert torch.allclose(C, torch.eye(6).expand(2, 6, 6), atol=5e-3)
    assert torch.allclose(Y.mean(1), torch.zeros(2, 6), atol=1e-12)


def test_zca_is_symmetric_whitening(float64):
    _, M = zca_whiten(_mixed(), return_matrix=True)
    assert torch.allclose(M, M.transpose(1, 2), atol=1e-12)


def test_iterative_matches_zca(float64):
    X = _mixed()
    assert torch.allclose(iterative_whiten(X, iters=30), zca_whiten(X), atol=1e-8)


def test_newton_schulz_inverse_sqrt(float64):
    A = torch.randn(3, 5, 5)
    C = A @ A.transpose(1, 2) + 0.5 * torch.eye(5)
    M = inv_sqrtm_newton_schulz(C, iters=40)
    assert torch.allclose(M @ C @ M, torch.eye(5).expand(3, 5, 5), atol=1e-10)


def test_inv_sqrtm_gradient_matches_finite_differences(float64):
    A = torch.randn(2, 4, 4)
    base = A @ A.transpose(1, 2) + torch.eye(4)
    P = torch.randn(2, 4, 4, requires_grad=True)

    def f(P):
        return inv_sqrtm(base + 0.1 * (P + P.transpose(1, 2)))

    assert torch.autograd.gradcheck(f, (P,))


def test_inv_sqrtm_gradient_finite_on_repeated_eigenvalues(float64):
    C = torch.eye(5).repeat(2, 1, 1).requires_grad_()
    inv_sqrtm(C).square().sum().backward()
    assert torch.isfinite(C.grad).all()


@pytest.mark.parametrize("method", ["eigh", "newton_schulz"])
def test_symmetric_decorrelation_is_polar_factor(method, float64):
    W = torch.randn(3, 6, 6) + 3 * torch.eye(6)
    U = symmetric_decorrelation(W, method, iters=30)
    assert torch.allclose(U.transpose(1, 2) @ U, torch.eye(6).expand(3, 6, 6), atol=1e-9)
    P, _, Qh = torch.linalg.svd(W)
    assert torch.allclose(U, P @ Qh, atol=1e-9)


def test_constant_columns_have_finite_gradients():
    X = torch.randn(1, 50, 4)
    X[..., 1] = 2.0
    X[..., 3] = 0.0
    X.requires_grad_()
    zca_whiten(X).sum().backward()
    assert torch.isfinite(X.grad).all()


def test_symmetric_decorrelation_rejects_unknown_method():
    with pytest.raises(ValueError, match="method"):
        symmetric_decorrelation(torch.eye(3)[None], "qr")


def _one_outlier(big: float, dtype=torch.float32) -> torch.Tensor:
    X = torch.randn(2, 64, 8, generator=torch.Generator().manual_seed(0), dtype=dtype)
    X[0, 3, 2] = big
    return X


@pytest.mark.parametrize("big", [1e5, 1e6, 1e10])
def test_float32_outlier_is_whitened_as_in_float64(big, device):
    # λ_max/λ_min ≈ 1e10 and beyond: a float32 eigh returned small eigenvalues ≤ 0 and outputs ≈ 1e10
    X = _one_outlier(big).to(device)
    Y = zca_whiten(X)
    assert torch.isfinite(Y).all() and Y.abs().max() <= 63 ** 0.5     # each column has norm² = (1 − ε)(n − 1)
    assert torch.allclose(Y.double(), zca_whiten(X.double()), atol=1e-4)


def test_inv_sqrtm_floors_eigenvalues_relative_to_the_largest():
    # A rank-one float32 matrix: float64 eigh sees exact zeros and rounding noise of either sign.
    v = torch.tensor([1e9, 1.0, -3.0, 2e-3])
    C = torch.outer(v, v)[None].requires_grad_()
    M = inv_sqrtm(C)
    M.square().sum().backward()
    assert torch.isfinite(M).all() and torch.isfinite(C.grad).all()
    assert torch.linalg.eigvalsh(M.double()).max() <= (4 * torch.finfo(torch.float64).eps * 1e18) ** -0.5 * 1.01
