"""Properties shared by every layer: Taylor test, batching, robustness, shape checks."""
import pytest
import torch

from gausslib.gradcheck import taylor_test
from gausslib.layers import (ABLATION, PRESETS, STEPS, TABLE2_ROWS, GaussianizationLayers, OrthogonalReparam, fastica,
                             iterative_whiten, lambert_gaussianize, patchify, preset_flags, spherical, standardize,
                             unpatchify, yeo_johnson, zca_whiten)

LAYERS = {
    "zca": zca_whiten,
    "iterative": iterative_whiten,
    "fastica": lambda X: fastica(X)[0],
    "fastica_newton": lambda X: fastica(X, update="newton")[0],
    "yeo_johnson": lambda X: yeo_johnson(X)[0],
    "lambert": lambda X: lambert_gaussianize(X)[0],
    "standardize": lambda X: standardize(X, 0.7),
    "spherical": spherical,
    "stack": GaussianizationLayers(),
}
SHAPES = [(224, 32), (2730, 64), (256, 192)]


def _input(kind: str, n: int, d: int, B: int = 1, seed: int = 0, dtype=torch.float64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(B, n, d, generator=g, dtype=dtype)
    if kind == "gaussian":
        return u
    if kind == "skewed":
        return torch.exp(0.7 * u) - 1.0
    if kind == "heavy":                        # Tukey h, δ = 0.3: the Lambert layer cannot skip it
        return u * torch.exp(0.15 * u * u)
    raise ValueError(kind)


@pytest.mark.parametrize("kind", ["gaussian", "skewed", "heavy"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("name", list(LAYERS))
def test_taylor_second_order(name, shape, kind):
    X = _input(kind, *shape)
    scale = 1e-2 * X.norm().item()
    result = taylor_test(LAYERS[name], X, steps=[scale * 4.0 ** -k for k in range(5)])
    assert result["passed"], (result["slope2"], result["r2"])


@pytest.mark.parametrize("name", list(LAYERS))
def test_batch_equals_separate_calls(name):
    X = torch.cat([_input(k, 300, 12, seed=i) for i, k in enumerate(["gaussian", "skewed", "heavy"])])
    together = LAYERS[name](X)
    separate = torch.cat([LAYERS[name](X[i:i + 1]) for i in range(3)])
    assert (together - separate).abs().max() <= 1e-10


def _pathological(kind: str, dtype) -> torch.Tensor:
    X = _input("heavy", 200, 8, dtype=dtype)
    if kind == "constant_columns":
        X[..., 2] = 3.0
        X[..., 5] = 0.0
    elif kind == "exact_zeros":
        X[:, ::3] = 0.0
    elif kind == "all_zero":
        X = torch.zeros_like(X)
    elif kind == "outliers":
        X[0, 7, 1] = 1e6
        X[0, 50, 3] = -1e6
    elif kind == "lambda_far_from_one":
        X = torch.exp(3.0 * _input("gaussian", 200, 8, dtype=dtype))
    elif kind == "delta_one":
        u = _input("gaussian", 200, 8, dtype=dtype)
        X = u * torch.exp(0.5 * u * u)
    return X


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kind", ["constant_columns", "exact_zeros", "all_zero", "outliers", "lambda_far_from_one",
                                  "delta_one"])
@pytest.mark.parametrize("name", list(LAYERS))
def test_finite_outputs_and_gradients(name, kind, dtype):
    X = _pathological(kind, dtype).requires_grad_()
    Y = LAYERS[name](X)
    assert Y.dtype == dtype and torch.isfinite(Y).all()
    (Y * torch.linspace(-1, 1, Y.numel(), dtype=dtype).reshape(Y.shape)).sum().backward()
    assert torch.isfinite(X.grad).all()


@pytest.mark.parametrize("fn", [zca_whiten, iterative_whiten, fastica, yeo_johnson, lambert_gaussianize])
@pytest.mark.parametrize("bad", [(1, 10, 20), (10, 20), (2, 3, 4, 5)])
def test_shape_errors_name_the_shape(fn, bad):
    with pytest.raises(ValueError, match=r"\[B, n, d\]"):
        fn(torch.randn(bad))


def test_parameters_are_per_item():
    X = torch.cat([_input("skewed", 300, 8), _input("heavy", 300, 8, seed=1)])
    _, W = fastica(X)
    _, lam = yeo_johnson(X)
    _, (mu, sigma, delta) = lambert_gaussianize(X)
    assert W.shape == (2, 8, 8)
    assert all(p.shape == (2,) for p in (lam, mu, sigma, delta))


def test_standardize_and_spherical():
    X = _input("skewed", 100, 6, B=2)
    Y = standardize(X, temperature=0.7)
    assert torch.allclose(Y.flatten(1).std(-1), torch.full((2,), 0.7, dtype=X.dtype), atol=1e-6)
    S = spherical(X)
    assert torch.allclose(S.flatten(1).norm(dim=-1), torch.full((2,), 600 ** 0.5, dtype=X.dtype))


def test_stack_flags_and_latent_mode():
    x = torch.randn(2, 14, 512)
    plain = GaussianizationLayers(patch_size=32)
    assert plain(x).shape == x.shape
    rolled = GaussianizationLayers(patch_size=32, roll=True)
    y = rolled(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    assert set(rolled.last) == {"M", "W", "lam", "mu", "sigma", "delta", "mean", "std"}
    ablation = GaussianizationLayers(ica=False, yeo_johnson=False, lambert=False, standardize=False)
    X = patchify(x, 32)
    assert torch.allclose(ablation(X), zca_whiten(X))
    none = GaussianizationLayers(whiten=False, ica=False, yeo_johnson=False, lambert=False, standardize=False)
    assert torch.equal(none(X), X)
    maps = [torch.randn(1, 1, s, s) for s in (8, 16, 32, 64, 128)]
    out = GaussianizationLayers(patch_size=8)(maps)
    assert [m.shape for m in out] == [m.shape for m in maps]
    R = GaussianizationLayers(roll=True)(X)
    assert R.shape == X.shape and torch.isfinite(R).all()
    with pytest.raises(ValueError, match="ica"):
        GaussianizationLayers(ica="jade")


@pytest.mark.parametrize("name", list(STEPS))
def test_every_step_returns_the_output_and_named_params(name):
    X = _input("skewed", 224, 32, B=2)
    Y, params = STEPS[name]()(X)
    assert Y.shape == X.shape and torch.isfinite(Y).all()
    assert params._fields and all(v.shape[0] == 2 for v in params)        # one value per batch item


@pytest.mark.parametrize("preset", list(PRESETS))
def test_presets_equal_the_flags_they_stand_for(preset):
    """A preset builds exactly the stack of the first version's flags (the study records the flags)."""
    X = _input("heavy", 224, 32, B=2)
    flags = preset_flags(preset)
    a = GaussianizationLayers(steps=preset)(X)
    assert torch.equal(a, GaussianizationLayers(**flags)(X))
    assert torch.equal(a, GaussianizationLayers(steps=list(PRESETS[preset]))(X))
    Y, params = GaussianizationLayers(steps=preset).transform(X)
    assert torch.equal(Y, a) and list(params) == list(PRESETS[preset])
    assert set(ABLATION) < set(PRESETS)


def test_the_legacy_returns_of_the_layer_functions():
    X = _input("skewed", 224, 32, B=2)
    Y, W = fastica(X)
    assert W.shape == (2, 32, 32)
    Y, lam = yeo_johnson(X)
    assert lam.shape == (2,)
    Y, (mu, sigma, delta) = lambert_gaussianize(X)
    assert mu.shape == sigma.shape == delta.shape == (2,)


def test_steps_and_flags_do_not_mix():
    with pytest.raises(ValueError, match="either steps or"):
        GaussianizationLayers(steps="full", lambert=False)
    with pytest.raises(ValueError, match="steps"):
        GaussianizationLayers(steps="everything")
    with pytest.raises(ValueError, match="unknown step"):
        GaussianizationLayers(steps=["whiten", "jade"])


def test_orthogonal_reparam():
    assert OrthogonalReparam(64, 16)().shape == (1, 64, 16)
    assert OrthogonalReparam(2, 64, 16)().shape == (2, 64, 16)
    with pytest.raises(ValueError, match="shape"):
        OrthogonalReparam(64)
    module = OrthogonalReparam((2, 64, 16), seed=3)
    assert torch.equal(module(), module.x0)
    with torch.no_grad():
        module.A.normal_()
    Y = module()
    assert torch.allclose(Y @ Y.transpose(1, 2), module.x0 @ module.x0.transpose(1, 2), atol=1e-3)
    assert [name for name, _ in module.named_parameters()] == ["A"]
    Y.sum().backward()
    assert module.A.grad is not None and torch.isfinite(module.A.grad).all()
    assert torch.equal(unpatchify(patchify(module.x0.reshape(2, 1, 32, 32), 8), (2, 1, 32, 32), 8),
                       module.x0.reshape(2, 1, 32, 32))


@pytest.mark.parametrize("big", [1e5, 1e6])
def test_float32_outlier_keeps_the_stack_finite_and_close_to_float64(big):
    X = torch.randn(2, 64, 8, generator=torch.Generator().manual_seed(0))
    X[0, 3, 2] = big
    weight = torch.randn(X.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    outputs, grads = [], []
    for dtype in (torch.float32, torch.float64):
        Xd = X.to(dtype).clone().requires_grad_()
        Y = GaussianizationLayers()(Xd)
        (Y * weight.to(dtype)).sum().backward()
        outputs.append(Y.double())
        grads.append(Xd.grad.double())
    assert torch.isfinite(outputs[0]).all() and torch.isfinite(grads[0]).all()
    assert torch.allclose(outputs[0], outputs[1], atol=1e-3)
    assert (grads[0] - grads[1]).abs().max() <= 1e-3 * grads[1].abs().max()


EMPTY = {**LAYERS, "stack_rolled": GaussianizationLayers(roll=True),
         "stack_latent": lambda X: GaussianizationLayers(patch_size=8)(X.reshape(0, 1, 64, 64)).reshape(X.shape)}


@pytest.mark.parametrize("name", list(EMPTY))
def test_empty_batch_gives_empty_outputs(name):
    X = torch.randn(0, 64, 8, requires_grad=True)
    Y = EMPTY[name](X)
    assert Y.numel() == 0 and Y.shape[0] == 0
    Y.sum().backward()
    assert X.grad.shape == X.shape


def test_empty_batch_gives_empty_parameters():
    X = torch.randn(0, 64, 8)
    assert fastica(X)[1].shape == (0, 8, 8)
    assert yeo_johnson(X)[1].shape == (0,)
    assert [p.shape for p in lambert_gaussianize(X)[1]] == [(0,)] * 3


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("name", list(LAYERS))
def test_half_precision_is_computed_in_float32(name, dtype):
    X = _input("heavy", 64, 8, B=2, dtype=torch.float32).to(dtype).requires_grad_()
    Y = LAYERS[name](X)
    assert Y.dtype == dtype and torch.equal(Y, LAYERS[name](X.detach().float()).to(dtype))
    Y.float().sum().backward()
    assert X.grad.dtype == dtype and torch.isfinite(X.grad).all()


def test_half_precision_parameters_follow_the_input():
    X = _input("heavy", 64, 8, B=2, dtype=torch.float32).half()
    assert fastica(X)[1].dtype == yeo_johnson(X)[1].dtype == torch.float16
    assert {p.dtype for p in lambert_gaussianize(X)[1]} == {torch.float16}
    assert torch.equal(zca_whiten(X=X), zca_whiten(X.float()).half())      # passed by keyword too


NON_FINITE = {
    "zca": zca_whiten,
    "fastica": fastica,
    "fastica_unwhitened": lambda X: fastica(X, whiten=None),
    "fastica_iterative": lambda X: fastica(X, whiten="iterative"),
    "stack": GaussianizationLayers(),
    "stack_whiten_only": GaussianizationLayers(ica=False),
}


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
@pytest.mark.parametrize("name", list(NON_FINITE))
def test_non_finite_input_to_eigh_layers_is_named(name, value):
    X = torch.randn(2, 64, 8)
    X[1, 5, 3] = value
    with pytest.raises(ValueError, match="X has NaN or Inf"):
        NON_FINITE[name](X)


@pytest.mark.parametrize("ica_iters", [-1, 2.5, None])
def test_ica_iters_must_be_a_non_negative_int(ica_iters):
    with pytest.raises(ValueError, match="ica_iters"):
        GaussianizationLayers(ica_iters=ica_iters)


@pytest.mark.parametrize("preset", ["yj", "lambert"])
def test_a_1d_layer_alone_keeps_the_patch_correlations(preset):
    """Table 2's "YJ" and "Lambert" rows have no whitening (the authors' whitening is part of their ICA
    layer): a correlated input stays correlated, where every row with ICA decorrelates it."""
    g = torch.Generator().manual_seed(0)
    z = torch.randn(2, 400, 1, generator=g, dtype=torch.float64)
    X = torch.cat([z + 0.3 * torch.randn(2, 400, 1, generator=g, dtype=torch.float64) for _ in range(8)], -1)

    def mean_corr(Y):
        Yc = Y - Y.mean(1, keepdim=True)
        C = Yc.transpose(1, 2) @ Yc
        d = C.diagonal(dim1=1, dim2=2).sqrt()
        R = C / (d[..., :, None] * d[..., None, :])
        return float((R.sum((1, 2)) - 8).mean() / 56)

    assert preset_flags(preset)["whiten"] is False and TABLE2_ROWS[-2:] == ("yj", "lambert")
    assert mean_corr(GaussianizationLayers(steps=preset)(X)) > 0.8
    assert abs(mean_corr(GaussianizationLayers(steps="ica")(X))) < 0.05
