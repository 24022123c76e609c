import math

import matplotlib
import torch

from gausslib.gradcheck import plot_taylor, taylor_test

matplotlib.use("Agg")


def test_exact_gradient_has_slope_two(float64):
    result = taylor_test(lambda x: (x.sin() * x).sum() + x.pow(3).mean(), torch.randn(50))
    assert abs(result["slope1"] - 1) < 0.05 and abs(result["slope2"] - 2) < 0.1 and result["passed"]
    assert len(result["r1"]) == len(result["r2"]) == len(result["steps"])


class _WrongGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.exp()

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 1.5 * x.exp()


def test_wrong_gradient_has_slope_one(float64):
    result = taylor_test(lambda x: _WrongGrad.apply(x).sum(), torch.randn(20))
    assert abs(result["slope2"] - 1) < 0.1 and not result["passed"]


def test_linear_function_passes_at_the_rounding_floor(float64):
    result = taylor_test(lambda x: 3 * x, torch.randn(10))
    assert result["passed"] and max(result["r2"]) <= result["floor"]


def test_custom_direction_and_steps(float64):
    x = torch.randn(5)
    p = torch.zeros(5)
    p[0] = 1.0
    result = taylor_test(lambda x: x.pow(2).sum(), x, direction=p, steps=[1e-1, 1e-2, 1e-3])
    assert math.isclose(result["r2"][0], 1e-2, rel_tol=1e-9)


def test_plot():
    ax = plot_taylor(taylor_test(lambda x: x.exp().sum(), torch.randn(10, dtype=torch.float64)), label="exp")
    assert ax.get_xscale() == "log" and len(ax.lines) >= 2
