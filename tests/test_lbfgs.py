import pytest
import torch

from gausslib.lbfgs import BatchedLBFGS, lbfgs


def rosenbrock(x):
    """[B, D] -> [B]: the Rosenbrock valley, a hard nonconvex test for line searches."""
    return (100 * (x[:, 1:] - x[:, :-1] ** 2) ** 2 + (1 - x[:, :-1]) ** 2).sum(1)


def test_batch_equals_separate_runs_float64():
    x0 = torch.randn(5, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    batched = lbfgs(rosenbrock, x0, 20)
    for b in range(5):
        alone = lbfgs(rosenbrock, x0[b : b + 1], 20)
        assert (alone.x - batched.x[b : b + 1]).abs().max() <= 1e-8
        assert alone.evaluations <= batched.evaluations


def test_converges_on_rosenbrock_and_stops_items_independently():
    x0 = torch.randn(3, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    x0[0] = 1.0  # item 0 starts at the minimum: it must stop at once and never move
    opt = BatchedLBFGS(rosenbrock, x0)
    opt.step()
    assert not opt.active[0] and bool(opt.active[1:].all())
    for _ in range(150):
        opt.step()
    assert torch.equal(opt.x[0], x0[0]) and int(opt.steps[0]) <= 1 and int(opt.steps[1]) > 10
    # Rosenbrock in D ≥ 4 also has a local minimum near (−1, 1, …, 1): check stationarity
    assert opt.grad.abs().max() < 1e-4 and not bool(opt.active.any())


def test_quadratic_solved_like_conjugate_gradients():
    # on a strictly convex quadratic with exact-enough line searches L-BFGS with full memory
    # reaches the minimiser in about D iterations
    g = torch.Generator().manual_seed(2)
    D = 6
    A = torch.randn(2, D, D, dtype=torch.float64, generator=g)
    H = A @ A.transpose(1, 2) + D * torch.eye(D, dtype=torch.float64)
    c = torch.randn(2, D, dtype=torch.float64, generator=g)
    f = lambda x: 0.5 * torch.einsum("bi,bij,bj->b", x, H, x) - (c * x).sum(1)  # noqa: E731
    opt = lbfgs(f, torch.zeros(2, D, dtype=torch.float64), 3 * D)
    x_star = torch.linalg.solve(H, c)
    assert torch.allclose(opt.x, x_star, atol=1e-8)


def test_each_step_decreases_every_item():
    x0 = torch.randn(4, 5, generator=torch.Generator().manual_seed(3))
    opt = BatchedLBFGS(rosenbrock, x0)
    for _ in range(10):
        before = opt.loss.clone()
        opt.step()
        assert bool((opt.loss <= before).all())


def test_bad_input():
    with pytest.raises(ValueError, match="x0"):
        BatchedLBFGS(rosenbrock, torch.zeros(3))
    with pytest.raises(ValueError, match="one loss per item"):
        BatchedLBFGS(lambda x: x.sum(), torch.zeros(2, 3))


def test_nonfinite_trial_points_shrink_the_step():
    # a log barrier: NaN outside (−1, 1); the first trial steps overshoot it
    f = lambda x: -torch.log1p(-x.square()).sum(1) - 3 * x.sum(1)  # noqa: E731
    opt = lbfgs(f, torch.full((2, 3), 0.5, dtype=torch.float64), 30)
    assert bool(torch.isfinite(opt.loss).all()) and bool((opt.x.abs() < 1).all())
    # stationary point of −log(1 − x²) − 3x: 2x/(1 − x²) = 3
    x_star = (-1 + (1 + 9) ** 0.5) / 3
    assert torch.allclose(opt.x, torch.full_like(opt.x, x_star), atol=1e-6)
