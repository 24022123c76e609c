import pytest
import torch

from gausslib.layers import fastica, zca_whiten
from gausslib.stats import amari_index


def _laplace_sources(n=5000, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.log(torch.rand(n, 4, generator=g) / torch.rand(n, 4, generator=g)), torch.randn(4, 4, generator=g)


def _sources(n=5000, seed=0):
    g = torch.Generator().manual_seed(seed)
    uniform = torch.rand(n, generator=g) * 2 - 1
    laplace = torch.log(torch.rand(n, generator=g) / torch.rand(n, generator=g))
    bimodal = torch.sign(torch.randn(n, generator=g)) + 0.3 * torch.randn(n, generator=g)
    expo = -torch.log(torch.rand(n, generator=g)) - 1
    S = torch.stack([uniform, laplace, bimodal, expo], 1)
    A = torch.randn(4, 4, generator=g)
    return S, A


def _unmixing(S, A, **kwargs):
    """Return (Amari of whitening alone, Amari of whitening + FastICA) for the mixture ``S Aᵀ``."""
    X = (S @ A.T)[None]
    Xw, M = zca_whiten(X, 1e-6, return_matrix=True)
    _, W = fastica(Xw, whiten=None, **kwargs)
    return amari_index((A.T @ M[0])[None]).item(), amari_index((A.T @ M[0] @ W[0])[None]).item()


@pytest.mark.parametrize("seed", range(3))
def test_paper_update_halves_dependence_versus_whitening(seed, float64):
    white, ica = _unmixing(*_laplace_sources(seed=seed))
    assert ica <= 0.5 * white


@pytest.mark.parametrize("seed", range(3))
def test_newton_update_reaches_scikit_learn(seed, float64):
    sklearn = pytest.importorskip("sklearn.decomposition")
    S, A = _sources(seed=seed)
    _, ours = _unmixing(S, A, iters=20, update="newton")
    ref = sklearn.FastICA(4, whiten="unit-variance", random_state=0, max_iter=1000).fit((S @ A.T).numpy())
    theirs = amari_index((A.T @ torch.tensor(ref.components_).T)[None]).item()
    assert ours <= 1.2 * theirs + 2e-3


def test_default_whitening_matches_explicit(float64):
    S, A = _sources()
    X = (S @ A.T)[None]
    Y, W = fastica(X, update="newton")
    assert torch.allclose(Y, zca_whiten(X) @ W, atol=1e-10)


@pytest.mark.parametrize("update", ["paper", "newton"])
@pytest.mark.parametrize("decorrelation", ["eigh", "newton_schulz"])
def test_rotation_is_orthogonal_and_output_white(update, decorrelation, float64):
    X = torch.randn(3, 400, 8) ** 3
    Y, W = fastica(X, update=update, decorrelation=decorrelation)
    assert Y.shape == X.shape and W.shape == (3, 8, 8)
    tol = 1e-9 if decorrelation == "eigh" else 1e-4
    assert torch.allclose(W.transpose(1, 2) @ W, torch.eye(8).expand(3, 8, 8), atol=tol)
    assert torch.allclose(Y, zca_whiten(X) @ W, atol=1e-10)


def test_bad_options_raise():
    X = torch.randn(1, 20, 4)
    with pytest.raises(ValueError, match="update"):
        fastica(X, update="natural")
    with pytest.raises(ValueError, match="whiten"):
        fastica(X, whiten="pca")


@pytest.mark.parametrize("iters", [-1, 0.5])
def test_iters_must_be_a_non_negative_int(iters):
    with pytest.raises(ValueError, match="iters"):
        fastica(torch.randn(1, 20, 4), iters)


def test_zero_iterations_only_whiten():
    X = torch.randn(1, 20, 4)
    Y, W = fastica(X, 0)
    assert torch.equal(W, torch.eye(4)[None]) and torch.allclose(Y, zca_whiten(X))
