import math

import pytest
import torch
import torch.nn.functional as F

from gausslib import metrics, phantoms
from gausslib.baselines import CSGMw, NoiseReg, _gaussianize_w, noise_regularizer, total_variation, tv
from gausslib.invert import Problem, invert
from gausslib.operators import MRI, GaussianBlur, add_complex_noise, mri_mask
from conftest import mri_problem, tiny_stylegan2


def test_total_variation_of_simple_images():
    flat = torch.zeros(2, 1, 5, 6)
    assert torch.allclose(total_variation(flat, eps=0.1), torch.full((2,), 30 * 0.1))
    step = torch.zeros(1, 1, 4, 4)
    step[..., 2:] = 1.0  # one vertical edge of height 4 and jump 1
    expected = 4 * math.sqrt(1 + 1e-6) + 12 * 1e-3
    assert torch.allclose(total_variation(step, eps=1e-3), torch.tensor([expected]))


@pytest.fixture(scope="module")
def phantom_mri():
    x = phantoms.sample(2, size=32, seed=3)
    op = MRI(mri_mask(32, 4.0, seed=0))
    y = add_complex_noise(op(x), 30.0, torch.Generator().manual_seed(0))
    return Problem(op, y, x_true=x)


def test_tv_improves_on_zero_filling_within_the_box(phantom_mri):
    res = tv(phantom_mri, lam=0.01, iters=60, progress=False)
    x = res.images[:, 0]
    assert x.min() >= -1 and x.max() <= 1
    zero_filled = phantom_mri.operator.adjoint(phantom_mri.y).clamp(-1, 1)
    start = metrics.psnr(zero_filled, phantom_mri.x_true, 2.0)
    assert bool((res.metrics["psnr"][:, 0] > start + 1.0).all())
    assert bool((res.history["loss"][-1] < res.history["loss"][0]).all())


def test_tv_never_reads_the_true_image(phantom_mri):
    blind = Problem(phantom_mri.operator, phantom_mri.y, x_true=torch.zeros_like(phantom_mri.x_true))
    a = tv(phantom_mri, iters=10, progress=False)
    b = tv(blind, iters=10, progress=False)
    assert torch.equal(a.images, b.images)


def test_tv_without_adjoint_starts_from_the_best_constant():
    x = phantoms.sample(1, size=16, seed=0)
    blur = GaussianBlur(1.0)
    problem = Problem(lambda z: blur(z), blur(x), x_true=x)  # a lambda: no adjoint
    res = tv(problem, iters=5, progress=False)
    assert res.history["iteration"][0] == 0 and res.images.shape == (1, 1, 1, 16, 16)


def test_gaussianised_w_undoes_the_last_leaky_relu():
    u = torch.randn(100, dtype=torch.float64)
    w = F.leaky_relu(u, 0.2) * math.sqrt(2)
    assert torch.allclose(_gaussianize_w(w), u)


def test_noise_regularizer_penalises_correlated_noise():
    g = torch.Generator().manual_seed(0)
    white = [torch.randn(1, 1, 32, 32, generator=g)]
    smooth = [F.avg_pool2d(F.pad(w, (1, 1, 1, 1), mode="circular"), 3, stride=1) * 3 for w in white]
    assert float(noise_regularizer(smooth)) > 100 * float(noise_regularizer(white))


def test_noisereg_schedule_and_renormalisation():
    G = tiny_stylegan2()
    b = NoiseReg(stats_samples=500).bind(G, [0, 1])
    factors = [b.schedule(i, 100) for i in range(100)]
    assert factors[0] == 0 and max(factors) == 1 and factors[-1] < 0.01
    p = b.project(b.x0 * 3 + 1)
    _, noise = b.split(p)
    for n in noise:
        assert torch.allclose(n.flatten(1).std(1, unbiased=False), torch.ones(2), atol=1e-5)


@pytest.mark.parametrize("spec", [CSGMw(lam=1e-3, stats_samples=500), CSGMw(noise="free", stats_samples=500),
                                  NoiseReg(stats_samples=500)], ids=["csgmw", "csgmw-free", "noisereg"])
def test_adam_baselines_decrease_the_misfit(spec):
    G = tiny_stylegan2()
    problem = mri_problem(G, n=1)
    res = invert(problem, G, spec, optimizer="adam", lr=0.05, restarts=2, iters=30, history_every=30,
                 progress=False)
    assert bool((res.history["loss"][-1] < res.history["loss"][0]).all())
    assert set(res.history) >= {"kurtosis", "negentropy", "psnr"}


def test_csgmw_bad_arguments():
    with pytest.raises(ValueError, match="noise"):
        CSGMw(noise="reparam")
    with pytest.raises(ValueError, match="lam"):
        CSGMw(lam=-1)
