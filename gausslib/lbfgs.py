"""Batched L-BFGS with a per-item strong-Wolfe line search.

``torch.optim.LBFGS`` sums a batch into one objective, so restarts share one history, one step
length and one line search: they are coupled. Here every batch item ``b`` is its own problem
``min_x f_b(x_b)`` with its own curvature pairs, step and line search; the batch only shares the
evaluations ``f(X) -> [B]`` (one forward and backward for all items). B restarts in one batch
therefore equal B separate runs.

The line search is Nocedal & Wright's Algorithm 3.5/3.6 (bracketing, then zoom with safeguarded
cubic interpolation) written with ``torch.where`` masks; items that satisfy the strong-Wolfe
conditions stop moving while the others keep searching. The only host synchronisation is one
boolean per line-search trial ("is any item still searching?").
"""
from __future__ import annotations

from typing import Callable

import torch

__all__ = ["BatchedLBFGS", "lbfgs"]

Objective = Callable[[torch.Tensor], torch.Tensor]


def _evaluate(f: Objective, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(f(x), ∇f(x))``: ``[B]`` and ``[B, D]``; items are independent so ∇Σf = (∇f_b)."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        loss = f(x)
        if loss.shape != x.shape[:1]:
            raise ValueError(f"the objective must return one loss per item, shape {tuple(x.shape[:1])}"
                             f", got {tuple(loss.shape)}")
        (grad,) = torch.autograd.grad(loss.sum(), x)
    return loss.detach(), grad


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a * b).sum(1)


def _cubic_min(x1, f1, g1, x2, f2, g2, lo, hi):
    """Return the minimiser of the cubic through (x1, f1, f1'), (x2, f2, f2'), clipped to [lo, hi].

    Falls back to the midpoint of [lo, hi] where the cubic has no real minimiser. All ``[B]``.
    """
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_sq = d1 * d1 - g1 * g2
    d2 = d2_sq.clamp(min=0).sqrt()
    right = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    left = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    t = torch.where(x1 <= x2, right, left)
    ok = (d2_sq >= 0) & torch.isfinite(t)
    return torch.where(ok, torch.minimum(torch.maximum(t, lo), hi), (lo + hi) / 2)


def _where(mask: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Select per item: ``mask: [B]`` broadcast over the trailing dimensions of a, b."""
    return torch.where(mask.reshape(-1, *([1] * (a.ndim - 1))), a, b)


def strong_wolfe(f: Objective, x: torch.Tensor, f0: torch.Tensor, g0: torch.Tensor,
                 d: torch.Tensor, t: torch.Tensor, searching: torch.Tensor, *,
                 c1: float = 1e-4, c2: float = 0.9, max_ls: int = 25):
    """Return ``(t, f(x + t d), ∇f(x + t d), evaluations)`` per item, t satisfying strong Wolfe.

    x, g0, d: [B, D]; f0, t (first trial), searching: [B]. Items with ``searching`` False keep
    ``t = 0``. After ``max_ls`` trials an unfinished item takes its best sufficient-decrease point
    (possibly t = 0). Every trial evaluates all items: the trial points of finished items are
    ignored, so items never influence each other.
    """
    gtd0 = _dot(g0, d)
    zero = torch.zeros_like(f0)
    phase = torch.where(searching, 0, 2)            # 0 bracketing, 1 zoom, 2 done
    t_acc, f_acc, g_acc = zero.clone(), f0.clone(), g0.clone()
    t_prev, f_prev, gtd_prev, g_prev = zero.clone(), f0.clone(), gtd0.clone(), g0.clone()
    lo_t, lo_f, lo_gtd, lo_g = zero.clone(), f0.clone(), gtd0.clone(), g0.clone()
    hi_t, hi_f, hi_gtd = zero.clone(), f0.clone(), gtd0.clone()
    d_max = d.abs().amax(1)
    evaluations = 0
    for trial in range(max_ls):
        f_new, g_new = _evaluate(f, x + t[:, None] * d)
        evaluations += 1
        # an overflowing trial point counts as "too far": it only ever shrinks the bracket
        finite = torch.isfinite(f_new) & torch.isfinite(g_new).all(1)
        f_new = torch.where(finite, f_new, torch.inf)
        g_new = _where(finite, g_new, torch.zeros_like(g_new))
        gtd_new = _dot(g_new, d)
        armijo_fail = f_new > f0 + c1 * t * gtd0
        curvature_ok = gtd_new.abs() <= -c2 * gtd0

        # bracketing phase (N&W Alg. 3.5)
        br = phase == 0
        to_zoom_a = br & (armijo_fail | ((f_new >= f_prev) if trial > 0 else armijo_fail))
        accept_br = br & ~to_zoom_a & curvature_ok
        to_zoom_b = br & ~to_zoom_a & ~accept_br & (gtd_new >= 0)
        extrapolate = br & ~to_zoom_a & ~accept_br & ~to_zoom_b
        # zoom phase (N&W Alg. 3.6)
        zm = phase == 1
        shrink_hi = zm & (armijo_fail | (f_new >= lo_f))
        accept_zm = zm & ~shrink_hi & curvature_ok
        move_lo = zm & ~shrink_hi & ~accept_zm
        flip = move_lo & (gtd_new * (hi_t - lo_t) >= 0)

        accept = accept_br | accept_zm
        t_acc, f_acc = torch.where(accept, t, t_acc), torch.where(accept, f_new, f_acc)
        g_acc = _where(accept, g_new, g_acc)

        # new bracket ends: hi first (it may take the old lo), then lo
        new_hi = to_zoom_a | to_zoom_b | shrink_hi | flip
        hi_src_prev, hi_src_lo = to_zoom_b, flip
        hi_t = torch.where(new_hi, torch.where(hi_src_prev, t_prev, torch.where(hi_src_lo, lo_t, t)), hi_t)
        hi_f = torch.where(new_hi, torch.where(hi_src_prev, f_prev, torch.where(hi_src_lo, lo_f, f_new)), hi_f)
        hi_gtd = torch.where(new_hi, torch.where(hi_src_prev, gtd_prev,
                                                 torch.where(hi_src_lo, lo_gtd, gtd_new)), hi_gtd)
        lo_from_prev, lo_from_new = to_zoom_a, to_zoom_b | move_lo
        lo_t = torch.where(lo_from_prev, t_prev, torch.where(lo_from_new, t, lo_t))
        lo_f = torch.where(lo_from_prev, f_prev, torch.where(lo_from_new, f_new, lo_f))
        lo_gtd = torch.where(lo_from_prev, gtd_prev, torch.where(lo_from_new, gtd_new, lo_gtd))
        lo_g = _where(lo_from_prev, g_prev, _where(lo_from_new, g_new, lo_g))

        # next trial: extrapolation for the bracketing items, interpolation inside the bracket
        t_ext = _cubic_min(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                           t + 0.01 * (t - t_prev), 10 * t)
        width = (hi_t - lo_t).abs()
        left, right = torch.minimum(lo_t, hi_t), torch.maximum(lo_t, hi_t)
        t_zoom = _cubic_min(lo_t, lo_f, lo_gtd, hi_t, hi_f, hi_gtd,
                            left + 0.1 * width, right - 0.1 * width)
        t_prev = torch.where(extrapolate, t, t_prev)
        f_prev = torch.where(extrapolate, f_new, f_prev)
        gtd_prev = torch.where(extrapolate, gtd_new, gtd_prev)
        g_prev = _where(extrapolate, g_new, g_prev)

        phase = torch.where(accept, 2, torch.where(to_zoom_a | to_zoom_b, 1, phase))
        # a bracket narrower than rounding cannot improve: take its low end
        collapsed = (phase == 1) & (width * d_max <= torch.finfo(d.dtype).eps * (1 + lo_t.abs()) * d_max)
        t_acc, f_acc = torch.where(collapsed, lo_t, t_acc), torch.where(collapsed, lo_f, f_acc)
        g_acc = _where(collapsed, lo_g, g_acc)
        phase = torch.where(collapsed, 2, phase)
        t = torch.where(phase == 0, t_ext, torch.where(phase == 1, t_zoom, t_acc))
        if not bool((phase < 2).any()):
            break
    # out of trials: best sufficient-decrease point (bracketing: last good point; zoom: low end)
    unfinished_br, unfinished_zm = phase == 0, phase == 1
    t_acc = torch.where(unfinished_br, t_prev, torch.where(unfinished_zm, lo_t, t_acc))
    f_acc = torch.where(unfinished_br, f_prev, torch.where(unfinished_zm, lo_f, f_acc))
    g_acc = _where(unfinished_br, g_prev, _where(unfinished_zm, lo_g, g_acc))
    return t_acc, f_acc, g_acc, evaluations


class BatchedLBFGS:
    """Minimise ``B`` independent objectives ``f(X) -> [B]`` over ``X: [B, D]`` with L-BFGS.

    Each item keeps its own ``history`` curvature pairs (s, y), initial scaling
    ``γ = sᵀy / yᵀy`` and strong-Wolfe step. An item stops (``active`` False) when
    ``max|∇f| ≤ gtol``, when ``(f_k − f_{k+1}) ≤ ftol · max(|f_k|, |f_{k+1}|, 1)`` (SciPy's rule),
    or when its line search fails from steepest descent (a failure with curvature pairs first
    drops them and retries with −∇f). Call :meth:`step` once per iteration.
    """

    def __init__(self, f: Objective, x0: torch.Tensor, *, history: int = 30, max_ls: int = 25,
                 gtol: float = 1e-12, ftol: float = 1e-12, c1: float = 1e-4, c2: float = 0.9):
        if x0.ndim != 2:
            raise ValueError(f"x0 must be [B, D], got shape {tuple(x0.shape)}")
        if history < 1:
            raise ValueError(f"history must be ≥ 1, got {history}")
        self.f, self.m, self.max_ls = f, history, max_ls
        self.gtol, self.ftol, self.c1, self.c2 = gtol, ftol, c1, c2
        B, D = x0.shape
        self.x = x0.detach().clone()
        self.loss, self.grad = _evaluate(f, self.x)
        self.evaluations = 1
        self.S = x0.new_zeros(B, history, D)
        self.Y = x0.new_zeros(B, history, D)
        self.rho = x0.new_zeros(B, history)
        self.count = torch.zeros(B, dtype=torch.long, device=x0.device)
        self.head = torch.zeros(B, dtype=torch.long, device=x0.device)
        self.active = torch.ones(B, dtype=torch.bool, device=x0.device)
        self.iterations = 0
        self.steps = torch.zeros(B, dtype=torch.long, device=x0.device)  # iterations each item moved

    def _direction(self) -> torch.Tensor:
        """Return the two-loop L-BFGS direction ``−H_b ∇f_b`` per item: [B, D]."""
        B = self.x.shape[0]
        rows = torch.arange(B, device=self.x.device)
        q = -self.grad
        depth = min(self.iterations, self.m)  # no item has more pairs than iterations done
        alphas = []
        for k in range(depth):  # newest to oldest
            idx = (self.head - 1 - k) % self.m
            a = torch.where(k < self.count, self.rho[rows, idx] * _dot(self.S[rows, idx], q), 0)
            q = q - a[:, None] * self.Y[rows, idx]
            alphas.append((idx, a))
        newest = (self.head - 1) % self.m
        s, y = self.S[rows, newest], self.Y[rows, newest]
        gamma = torch.where(self.count > 0, _dot(s, y) / _dot(y, y).clamp_min(torch.finfo(y.dtype).tiny), 1)
        r = gamma[:, None] * q
        for k in reversed(range(depth)):  # oldest to newest
            idx, a = alphas[k]
            b = torch.where(k < self.count, self.rho[rows, idx] * _dot(self.Y[rows, idx], r), 0)
            r = r + (a - b)[:, None] * self.S[rows, idx]
        return r

    def step(self) -> None:
        """Do one L-BFGS iteration on every active item (inactive items stay where they are)."""
        d = self._direction()
        gtd = _dot(self.grad, d)
        # a non-descent direction (rounding in the history) restarts that item's memory
        restart = ~(gtd < 0)
        d = _where(restart, -self.grad, d)
        self.count = torch.where(restart, 0, self.count)
        if self.iterations == 0:
            t0 = (1.0 / self.grad.abs().sum(1)).clamp(max=1.0)
        else:
            t0 = torch.ones_like(self.loss)
        t0 = torch.where(self.active, t0, 0)
        t, f_new, g_new, n = strong_wolfe(self.f, self.x, self.loss, self.grad, d, t0, self.active,
                                          c1=self.c1, c2=self.c2, max_ls=self.max_ls)
        self.evaluations += n
        s = t[:, None] * d
        y = g_new - self.grad
        ys = _dot(y, s)
        store = self.active & (ys > 1e-10)
        rows = torch.arange(self.x.shape[0], device=self.x.device)
        self.S[rows, self.head] = _where(store, s, self.S[rows, self.head])
        self.Y[rows, self.head] = _where(store, y, self.Y[rows, self.head])
        self.rho[rows, self.head] = torch.where(store, 1.0 / torch.where(store, ys, 1), self.rho[rows, self.head])
        self.head = torch.where(store, (self.head + 1) % self.m, self.head)
        self.count = torch.where(store, (self.count + 1).clamp(max=self.m), self.count)

        decrease = self.loss - f_new
        scale = torch.maximum(torch.maximum(self.loss.abs(), f_new.abs()), torch.ones_like(f_new))
        # a failed line search first drops the item's memory (steepest descent next); an item
        # stops only when steepest descent fails too
        failed = t == 0
        retry = failed & (self.count > 0)
        self.count = torch.where(retry, 0, self.count)
        done = (g_new.abs().amax(1) <= self.gtol) | (~failed & (decrease <= self.ftol * scale)) | (failed & ~retry)
        self.x = _where(self.active, self.x + s, self.x)
        self.loss = torch.where(self.active, f_new, self.loss)
        self.grad = _where(self.active, g_new, self.grad)
        self.steps = self.steps + (self.active & ~failed).long()
        self.active = self.active & ~done
        self.iterations += 1


def lbfgs(f: Objective, x0: torch.Tensor, iters: int, **kwargs) -> BatchedLBFGS:
    """Return the optimiser state after ``iters`` batched L-BFGS iterations from ``x0: [B, D]``.

    ``f(X: [B, D]) -> [B]``; keyword arguments go to :class:`BatchedLBFGS`.
    """
    opt = BatchedLBFGS(f, x0, **kwargs)
    for _ in range(iters):
        opt.step()
    return opt
