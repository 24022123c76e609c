"""The inversion engine on a tiny randomly initialised StyleGAN2 (no trained weights needed)."""
import pytest
import torch

from gausslib.invert import Problem, invert
from gausslib.operators.mri import MRI, mri_mask
from gausslib.reparam import Orthogonal, Raw, Spherical

from conftest import generator_targets, mri_problem, tiny_stylegan2


@pytest.mark.parametrize("arch", ["lite", "official"])
def test_restarts_batch_equals_separate_runs_float64(arch):
    G = tiny_stylegan2(torch.float64, arch=arch)
    problem = mri_problem(G, n=2)
    kw = dict(iters=20, dashboard=False, progress=False)
    batched = invert(problem, G, Spherical(), restarts=3, seed=5, **kw)
    for i in range(2):
        one = Problem(problem.operator, problem.y[i : i + 1], problem.x_true[i : i + 1])
        for r in range(3):
            alone = invert(one, G, Spherical(), restarts=1, seed=5 + r, **kw)
            assert (alone.images[0, 0] - batched.images[i, r]).abs().max() <= 1e-8


@pytest.mark.parametrize("arch", ["lite", "official"])
def test_result_layout_and_best_of_restarts(arch):
    G = tiny_stylegan2(arch=arch)
    problem = mri_problem(G, n=2)
    res = invert(problem, G, Orthogonal(), restarts=2, iters=6, history_every=3, dashboard=False,
                 progress=False)
    C, H, W = problem.x_true.shape[1:]
    assert res.images.shape == (2, 2, C, H, W) and res.loss.shape == (2, 2)
    assert res.history["iteration"].tolist() == [0, 3, 6]
    assert res.history["psnr"].shape == (3, 2, 2)
    for name in ("loss", "psnr", "ssim"):
        assert res.best[name].shape == (2, C, H, W)
    best_psnr = res.metrics["psnr"].amax(1)
    chosen = res.metrics["psnr"][torch.arange(2), res.best_restart["psnr"]]
    assert torch.equal(best_psnr, chosen)
    assert torch.equal(res.loss.argmin(1), res.best_restart["loss"])
    # the objective decreases from the start on every item
    assert bool((res.history["loss"][-1] <= res.history["loss"][0]).all())


def test_deterministic_by_seed():
    G = tiny_stylegan2()
    problem = mri_problem(G, n=1)
    kw = dict(restarts=2, iters=5, dashboard=False, progress=False)
    a, b = invert(problem, G, Raw(), seed=3, **kw), invert(problem, G, Raw(), seed=3, **kw)
    c = invert(problem, G, Raw(), seed=4, **kw)
    assert torch.equal(a.images, b.images) and not torch.equal(a.images, c.images)


def test_adam_path_and_callback():
    G = tiny_stylegan2()
    problem = mri_problem(G, n=1)
    seen = []
    res = invert(problem, G, Raw(beta=1e-3), optimizer="adam", lr=0.05, restarts=2, iters=8,
                 history_every=4, dashboard=False, progress=False,
                 callback=lambda it, state: seen.append((it, state["images"].shape)))
    assert [s[0] for s in seen] == [0, 4, 8]
    assert res.loss.shape == (1, 2)


@pytest.mark.parametrize("bad, match", [
    (dict(restarts=0), "restarts"),
    (dict(optimizer="sgd"), "optimizer"),
    (dict(history_every=0), "history_every"),
])
def test_bad_arguments(bad, match):
    G = tiny_stylegan2()
    problem = mri_problem(G, n=1)
    with pytest.raises(ValueError, match=match):
        invert(problem, G, Raw(), **{"iters": 1, "progress": False, **bad})


def test_data_not_matching_the_operator():
    G = tiny_stylegan2()
    x = generator_targets(G, 1)
    op = MRI(mri_mask(x.shape[-1], 2.0, seed=0))
    with pytest.raises(ValueError, match="y"):
        Problem(op, op(x)[..., :-1], x_true=x)
    problem = Problem(op, op(x)[..., :-1])  # no x_true: caught when the inversion starts
    with pytest.raises(ValueError, match="y"):
        invert(problem, G, Raw(), iters=1, progress=False)


# ---------------------------------------------------------------------------- acceptance
# A tiny randomly initialised StyleGAN2 (32×32, z_dim 128) stands in for the shipped generator,
# which is still training; its noise strengths are zero at initialisation, so the noise maps
# are fixed (they cannot matter) and only z+ is optimised.
ACCEPT = dict(psize=16, noise="fixed")


@pytest.fixture(scope="module")
def accept_generator():
    return tiny_stylegan2(resolution=32, z_dim=128)


def test_glayers_fit_a_generator_target_noise_free_2x(accept_generator):
    from gausslib.reparam import Gaussianized

    G = accept_generator
    problem = mri_problem(G, n=1, accel=2.0)
    res = invert(problem, G, Gaussianized(**ACCEPT), restarts=2, iters=300, history_every=100,
                 dashboard=False, progress=False)
    # single restarts reach 29.8–32.6 dB over seeds 0–5 at the native and baseline ATen dispatch
    # levels: the best of two clears 28 dB with a margin that holds on any CPU
    assert float(res.metrics["psnr"].amax()) >= 28.0


def test_dashboard_raw_latent_drifts_glayers_stay_gaussian(accept_generator):
    from gausslib.operators.mri import add_complex_noise
    from gausslib.reparam import Gaussianized

    G = accept_generator
    clean = mri_problem(G, n=1, accel=8.0)
    y = add_complex_noise(clean.y, 10.0, torch.Generator().manual_seed(0))
    problem = Problem(clean.operator, y, clean.x_true)
    kw = dict(restarts=2, history_every=100, progress=False)
    raw = invert(problem, G, Raw(**ACCEPT), iters=400, **kw).history
    gl = invert(problem, G, Gaussianized(**ACCEPT), iters=50, **{**kw, "history_every": 25}).history
    # raw: the latent leaves the Gaussian typical set — its norm moves away from the shell on every
    # restart (|ratio − 1| ≥ 0.069 over seeds 0–5 at three ATen dispatch levels). How its kurtosis moves
    # is a property of one trajectory (0.01–0.74 over those runs), so it is not asserted here.
    raw_move = (raw["norm_ratio"][-1] - 1).abs()
    assert float(raw_move.min()) > 0.03
    assert float(raw_move.min()) > 20 * float((gl["norm_ratio"] - 1).abs().max())
    # G layers: standardised, kurtosis and negentropy stay Gaussian throughout
    assert float((gl["norm_ratio"] - 1).abs().max()) < 0.01
    assert float((gl["kurtosis"] - 3).abs().max()) < 0.02
    assert float(gl["negentropy"].abs().max()) < 0.1
