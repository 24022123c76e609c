"""Taylor test of a gradient (paper App. G): residuals that must fall as O(ε) and O(ε²).

For a scalar ``f``, a unit direction ``p`` and steps ``ε_k``:

.. math::  r_1(ε) = |f(x + εp) − f(x)|, \\qquad r_2(ε) = |f(x + εp) − f(x) − ε ⟨p, ∇f(x)⟩|;

``r_1`` falls with slope 1 and ``r_2`` with slope 2 on a log-log plot iff the gradient is right.
Non-scalar outputs are reduced by a fixed random weighting ``⟨w, f(x)⟩``.
"""
from __future__ import annotations

import math

import torch

__all__ = ["taylor_test", "plot_taylor"]


def _slope(steps: torch.Tensor, r: torch.Tensor, floor: float) -> float:
    keep = r > floor
    if int(keep.sum()) < 2:
        return float("nan")
    x, y = torch.log(steps[keep]), torch.log(r[keep])
    x = x - x.mean()
    return float((x * (y - y.mean())).sum() / (x * x).sum())


def taylor_test(f, x: torch.Tensor, direction: torch.Tensor | None = None, steps=None, *, seed: int = 20230501) -> dict:
    """Return the Taylor test of ``f`` at ``x``: residuals per step and fitted log-log slopes.

    f: ``x ↦`` tensor (reduced to a scalar by a fixed random weighting if not scalar).
    direction: default a random unit vector (seeded); steps: default ``10^{-2} ‖x‖ · 2^{-k}``,
    k = 0..9 (relative to ‖x‖, so that a unit direction moves each entry by a fixed fraction).
    Returns a dict with ``steps``, ``r1``, ``r2`` (lists), ``slope1``, ``slope2`` (least-squares
    slopes over the steps whose residual stays above the rounding ``floor``), ``f0`` and
    ``passed`` (``slope2 ≥ 1.9``, or every ``r2`` below the floor: f is linear along p).
    """
    g = torch.Generator().manual_seed(seed)
    if direction is None:
        direction = torch.randn(x.shape, generator=g, dtype=x.dtype).to(x.device)
        direction = direction / torch.linalg.vector_norm(direction)
    if direction.shape != x.shape:
        raise ValueError(f"direction of shape {tuple(direction.shape)} must match x of shape {tuple(x.shape)}")
    if steps is None:
        scale = 1e-2 * max(float(torch.linalg.vector_norm(x.detach())), 1e-3)
        steps = [scale * 2.0 ** -k for k in range(10)]
    steps = torch.tensor(list(steps), dtype=torch.float64)
    weight = None

    def scalar(z):
        nonlocal weight
        out = f(z)
        if isinstance(out, (tuple, list)):
            out = out[0]
        if out.numel() == 1:
            return out.reshape(())
        if weight is None:
            weight = torch.randn(out.shape, generator=g, dtype=out.dtype).to(out.device)
        return (weight * out).sum()

    x0 = x.detach().clone().requires_grad_(True)
    f0 = scalar(x0)
    (grad,) = torch.autograd.grad(f0, x0)
    slope = float((grad * direction).sum())
    r1, r2 = [], []
    with torch.no_grad():
        for eps in steps.tolist():
            fe = float(scalar(x.detach() + eps * direction))
            r1.append(abs(fe - float(f0.detach())))
            r2.append(abs(fe - float(f0.detach()) - eps * slope))
    f0 = float(f0.detach())
    floor = 100.0 * torch.finfo(x.dtype).eps * max(abs(f0), 1.0)
    r1t, r2t = torch.tensor(r1, dtype=torch.float64), torch.tensor(r2, dtype=torch.float64)
    slope2 = _slope(steps, r2t, floor)
    return {"steps": steps.tolist(), "r1": r1, "r2": r2, "slope1": _slope(steps, r1t, floor), "slope2": slope2,
            "f0": f0, "floor": floor, "passed": bool(slope2 >= 1.9 or max(r2) <= floor)}


def plot_taylor(result: dict, ax=None, label: str | None = None):
    """Return the axes with ``r1`` and ``r2`` against ε on log-log axes, with slope-1 and slope-2 guides."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(4, 3))
    eps, r1, r2 = result["steps"], result["r1"], result["r2"]
    prefix = f"{label}: " if label else ""
    ax.loglog(eps, r1, "o-", label=f"{prefix}first order (slope {result['slope1']:.2f})")
    ax.loglog(eps, r2, "s-", label=f"{prefix}second order (slope {result['slope2']:.2f})")
    for order, r in ((1, r1), (2, r2)):
        if r[0] > 0 and math.isfinite(r[0]):
            ax.loglog(eps, [r[0] * (e / eps[0]) ** order for e in eps], "k:", lw=0.8)
    ax.set_xlabel("step ε")
    ax.set_ylabel("residual |·|")
    ax.set_title("Taylor test: residuals fall as ε and ε²")
    ax.legend(fontsize=7)
    return ax
