"""One batched root solver and one implicit-gradient Function for scalar parameters θ*(x).

A layer parameter such as the Yeo-Johnson ``λ*`` or the Lambert ``β* = δ/σ²`` is defined per
batch item as the root of ``h(θ, x) = 0``. The implicit function theorem gives its gradient
without differentiating through the solver:

.. math::  \\frac{dθ^*}{dx} = -\\frac{∂h/∂x}{∂h/∂θ}.

:func:`solve_scalar` finds the root on device (safeguarded Newton with a bisection fallback,
fixed iteration count, no host sync); :func:`implicit_root` attaches the implicit gradient.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch

__all__ = ["Root", "solve_scalar", "implicit_root", "implicit_solve"]

HFn = Callable[..., tuple[torch.Tensor, torch.Tensor]]


class Root(NamedTuple):
    """A batched root: ``theta`` [B]; ``converged`` (the last step moved θ by < sqrt(eps));
    ``at_lo``/``at_hi`` (unconverged, that end of the range never moved and θ within 1 % of the
    range from it: no root inside).

    Bisection towards an end halves its step each time, so it cannot pass for convergence
    within the few dozen steps used here.
    """

    theta: torch.Tensor
    converged: torch.Tensor
    at_lo: torch.Tensor
    at_hi: torch.Tensor


def solve_scalar(fn: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]], theta0: torch.Tensor,
                 lo: torch.Tensor, hi: torch.Tensor, iters: int = 10) -> Root:
    """Return the :class:`Root` of a decreasing ``h`` in ``[lo, hi]`` after ``iters`` steps.

    fn(θ) -> (h, ∂h/∂θ), each [B]. Each step takes the Newton step when it is finite and lands
    inside the current bracket, else bisects; the bracket shrinks with the sign of h
    (h > 0: the root lies above θ). Fixed step count, no host sync.
    """
    if iters < 1:
        raise ValueError(f"iters must be >= 1, got {iters}")
    lo0, hi0 = lo, hi
    theta = torch.minimum(torch.maximum(theta0, lo), hi)
    tol = torch.finfo(theta.dtype).eps ** 0.5
    for _ in range(iters):
        h, dh = fn(theta)
        above = h > 0
        lo = torch.where(above, theta, lo)
        hi = torch.where(above, hi, theta)
        # dh = 0 gives ±inf or NaN, which fail the bracket test (lo, hi finite): no extra guards.
        newton = theta - h / dh
        ok = (newton >= lo) & (newton <= hi) & (dh < 0)
        previous, theta = theta, torch.where(ok, newton, 0.5 * (lo + hi))
    converged = (theta - previous).abs() <= tol * (1.0 + previous.abs())
    # No root inside: h kept one sign, so one end never moved and θ crept up to it.
    near = 1e-2 * (hi0 - lo0)
    unconverged = ~converged
    return Root(theta, converged, unconverged & (lo == lo0) & (theta - lo0 <= near),
                unconverged & (hi == hi0) & (hi0 - theta <= near))


def implicit_solve(fn: HFn, xs: Sequence[torch.Tensor], root: Root, lo: torch.Tensor, hi: torch.Tensor,
                   *, pullback=None) -> torch.Tensor:
    """Return θ*(xs): [B] from a solved ``root`` of ``fn(θ, *xs) = 0`` in ``[lo, hi]``, with its gradient.

    Inside the range the gradient is implicit (:func:`implicit_root`; ``pullback`` as there); where ``h``
    kept one sign over the whole range the result is that end of the range (Goerg's ``argmin h²``), with
    the end's own gradient (``lo``/``hi`` may depend on ``xs``).
    """
    theta = implicit_root(fn, root.theta, *xs, pullback=pullback)
    return torch.where(root.at_hi, hi, torch.where(root.at_lo, lo, theta))


def _safe_reciprocal(a: torch.Tensor) -> torch.Tensor:
    tiny = torch.finfo(a.dtype).tiny ** 0.5
    return torch.where(a.abs() > tiny, a, torch.full_like(a, -1.0)).reciprocal()


class _ImplicitRoot(torch.autograd.Function):
    @staticmethod
    def forward(ctx, fn, pullback, theta, *xs):
        ctx.fn, ctx.pullback = fn, pullback
        ctx.save_for_backward(theta, *xs)
        return theta.clone()

    @staticmethod
    def backward(ctx, grad):
        theta, *xs = ctx.saved_tensors
        needs = ctx.needs_input_grad[3:]
        if ctx.pullback is not None:
            dh, pull = ctx.pullback(theta, *xs)
            grads = list(pull(-grad * _safe_reciprocal(dh)))
            grads = [g if n else None for g, n in zip(grads, needs)]
        else:
            with torch.enable_grad():
                leaves = [x.detach().requires_grad_(n) for x, n in zip(xs, needs)]
                h, dh = ctx.fn(theta.detach(), *leaves)
                v = -grad * _safe_reciprocal(dh.detach())
                wanted = [x for x, n in zip(leaves, needs) if n]
                got = iter(torch.autograd.grad(h, wanted, v, allow_unused=True) if wanted else [])
            grads = [next(got) if n else None for n in needs]
        grads = [torch.zeros_like(x) if (g is None and n) else g for g, x, n in zip(grads, xs, needs)]
        return (None, None, None, *grads)


def implicit_root(fn: HFn, theta: torch.Tensor, *xs: torch.Tensor, pullback=None) -> torch.Tensor:
    """Return ``theta`` (a solved root, [B]) carrying the implicit-function-theorem gradient.

    ``fn(θ, *xs) -> (h, ∂h/∂θ)``: the defining equation, differentiable in ``xs``; it is
    re-evaluated once in the backward pass. ``theta`` itself is treated as a constant input.
    ``pullback(θ, *xs) -> (∂h/∂θ, pull)``, optional: the same derivative by hand, with
    ``pull(v: [B]) -> `` the products ``v ∂h/∂x`` for every ``x`` of ``xs`` (``None`` where not
    differentiable); used instead of differentiating ``fn`` by autograd.
    """
    return _ImplicitRoot.apply(fn, pullback, theta.detach(), *xs)
