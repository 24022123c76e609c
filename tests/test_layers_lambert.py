import numpy as np
import pytest
import torch
from scipy import special

from gausslib.layers import lambert_gaussianize, lambert_w_delta, lambertw
from gausslib.stats import kurtosis


def test_lambertw_matches_scipy_float64():
    z = np.concatenate([[0.0], np.logspace(-300, 6, 5000), np.linspace(0.0, 1e6, 5001)])
    ref = special.lambertw(z).real
    ours = lambertw(torch.tensor(z)).numpy()
    rel = np.abs(ours - ref) / np.where(ref == 0, 1.0, np.abs(ref))
    assert rel.max() <= 1e-12
    assert ours[0] == 0.0


def test_lambertw_float32():
    z = np.logspace(-30, 6, 2000)
    ours = lambertw(torch.tensor(z, dtype=torch.float32)).double().numpy()
    assert np.allclose(ours, special.lambertw(z).real, rtol=1e-6)


def test_lambertw_derivative(float64):
    z = torch.tensor([0.0, 1e-8, 0.3, 1.0, 10.0, 1e5], requires_grad=True)
    w = lambertw(z)
    (g,) = torch.autograd.grad(w.sum(), z)
    expected = torch.where(z == 0, torch.ones_like(z), w / (z * (1 + w))).detach()
    assert torch.allclose(g, expected, rtol=1e-12)
    assert g[0] == 1.0
    assert torch.autograd.gradcheck(lambertw, (torch.tensor([0.5, 2.0, 40.0], requires_grad=True),))


def test_w_delta_inverts_tukey_h(float64):
    u = torch.linspace(-4, 4, 101)
    for delta in (0.0, 0.2, 1.0):
        y = u * torch.exp(delta * u * u / 2)
        assert torch.allclose(lambert_w_delta(y, delta), u, atol=1e-12)


@pytest.mark.parametrize("delta", [0.1, 0.3, 0.6])
def test_recovers_tukey_h_delta(delta, float64):
    g = torch.Generator().manual_seed(1)
    u = torch.randn(1, 20000, 5, generator=g)
    y = 2.0 + 1.5 * u * torch.exp(delta * u * u / 2)
    X, (mu, sigma, d) = lambert_gaussianize(y)
    assert abs(d.item() - delta) < 0.02
    assert abs(mu.item() - 2.0) < 0.1 and abs(sigma.item() - 1.5) < 0.05
    assert abs(kurtosis(X).item()) < 1e-8
    _, (mu, _, d) = lambert_gaussianize(y, location="median", outer=2)
    assert abs(d.item() - delta) < 0.02 and abs(mu.item() - 2.0) < 0.05


def test_light_tails_are_skipped_per_item(float64):
    g = torch.Generator().manual_seed(0)
    light = torch.rand(400, 5, generator=g)
    u = torch.randn(400, 5, generator=g)
    heavy = u * torch.exp(0.3 * u * u / 2)
    X, (mu, sigma, delta) = lambert_gaussianize(torch.stack([light, heavy]))
    assert torch.equal(X[0], light) and delta[0] == 0
    assert delta[1] > 0.1 and not torch.equal(X[1], heavy)


def test_gradient_matches_finite_differences(float64):
    g = torch.Generator().manual_seed(0)
    u = torch.randn(2, 30, 3, generator=g)
    Y = (u * torch.exp(0.25 * u * u)).requires_grad_()
    assert torch.autograd.gradcheck(lambda Y: lambert_gaussianize(Y)[0], (Y,), atol=1e-7)


@pytest.mark.parametrize("outer", [0, -1, 1.5])
def test_outer_rounds_must_be_a_positive_int(outer):
    with pytest.raises(ValueError, match="outer"):
        lambert_gaussianize(torch.randn(1, 30, 3), outer=outer)
