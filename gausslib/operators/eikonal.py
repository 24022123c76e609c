r"""Eikonal traveltime tomography: fast sweeping forward, discrete adjoint-state gradient.

.. math::  |\nabla T(x)| = f(x) = 1 / v(x), \qquad T(x_s) = 0,

discretised on an n×n grid of spacing h with Godunov's upwind scheme and solved by fast
sweeping (Zhao 2005) for all sources at once. The gradient is the exact gradient of the
discrete solution: the upwind stencil is a DAG ordered by T, so the adjoint system is
triangular and is solved in one pass per source (no sparse LU).

Runs on the host: a CUDA tensor is copied to the CPU and back (a host round-trip of
``[B, S, n, n]`` float64 per call), which keeps the numba kernels the single implementation.
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import nn

from gausslib.operators import _eikonal_kernels as K

__all__ = [
    "eikonal_solve",
    "Eikonal",
    "paper_acquisition",
    "add_traveltime_noise",
    "ray_coverage",
]


def _check_velocity(velocity: torch.Tensor) -> None:
    if not isinstance(velocity, torch.Tensor) or not velocity.is_floating_point():
        raise TypeError(f"velocity: expected a floating-point tensor [B, n, n], got {type(velocity).__name__}"
                        f"{'' if not isinstance(velocity, torch.Tensor) else ' of dtype ' + str(velocity.dtype)}")
    if velocity.dim() != 3 or velocity.shape[1] != velocity.shape[2]:
        raise ValueError(f"velocity: expected shape [B, n, n], got {list(velocity.shape)}")
    bad = ~((velocity > 0) & torch.isfinite(velocity))  # NaN fails both comparisons
    if bool(bad.any()):
        raise ValueError(f"velocity: must be finite and > 0 everywhere, got {int(bad.sum())} bad entries "
                         f"(e.g. {float(velocity[bad][0])})")


def _check_points(points: torch.Tensor, n: int, name: str) -> None:
    if not isinstance(points, torch.Tensor) or points.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"{name}: expected an integer tensor of (row, col) grid indices, got "
                        f"{points.dtype if isinstance(points, torch.Tensor) else type(points).__name__}")
    if points.shape[-1] != 2 or points.numel() == 0:
        raise ValueError(f"{name}: expected shape [..., 2] of (row, col), got {list(points.shape)}")
    if bool(((points < 0) | (points >= n)).any()):
        raise ValueError(f"{name}: indices must lie on the {n}×{n} grid (0 <= row, col < {n}), "
                         f"got range [{int(points.min())}, {int(points.max())}]")


class _EikonalFunction(torch.autograd.Function):
    """T: [B, S, n, n] = fast sweeping of slowness [B, n, n]; backward by the discrete adjoint."""

    @staticmethod
    def forward(ctx, slowness, src, h, tol, max_sweeps):
        fh = (slowness.detach().to("cpu", torch.float64) * h).numpy()
        T, sweeps = K.fast_sweep_batch(np.ascontiguousarray(fh), src, tol, max_sweeps)
        if (sweeps >= max_sweeps).any():
            warnings.warn(f"eikonal_solve: not converged to tol={tol} within max_sweeps={max_sweeps}",
                          RuntimeWarning, stacklevel=3)
        ctx.fields, ctx.fh, ctx.h = T, fh, h
        out = torch.from_numpy(T).to(device=slowness.device, dtype=slowness.dtype)
        # a float64 CPU output shares memory with ctx.fields: saving it lets autograd's
        # version counter catch in-place edits before backward
        ctx.save_for_backward(out)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_T):
        ctx.saved_tensors  # raises if the output was modified in place
        g = np.ascontiguousarray(grad_T.detach().to("cpu", torch.float64).numpy())
        grad_fh = K.adjoint_batch(ctx.fields, ctx.fh, g)
        grad = torch.from_numpy(grad_fh * ctx.h).to(device=grad_T.device, dtype=grad_T.dtype)
        return grad, None, None, None, None


def eikonal_solve(velocity: torch.Tensor, sources: torch.Tensor, h: float, *, tol: float = 1e-8,
                  max_sweeps: int = 400) -> torch.Tensor:
    r"""Return first-arrival times T: [B, S, n, n] (seconds) for velocity: [B, n, n] (m/s).

    Solves :math:`|\nabla T| = 1/v` with :math:`T = 0` at each source, ``sources: [S, 2]`` int
    (row, col) grid indices, grid spacing ``h`` (metres). Godunov upwind fast sweeping over the
    four orders, keeping ``min(T_old, T_new)``, until a sweep moves no node by more than ``tol``
    relative (or ``max_sweeps``). Differentiable w.r.t. ``velocity`` by the discrete adjoint
    (exact gradient of the discrete solution; no double backward). dtype and device follow
    ``velocity``; the work is float64 on the host (CUDA inputs make a host round-trip).
    First-order accurate: near a point source the error is up to ~2 h/v.

    >>> v = torch.full((1, 32, 32), 1500.0, dtype=torch.float64)
    >>> T = eikonal_solve(v, torch.tensor([[0, 0]]), h=1e-3)
    >>> round(float(T[0, 0, 0, 31]) * 1500 / 31e-3, 6)
    1.0
    """
    _check_velocity(velocity)
    n = velocity.shape[-1]
    _check_points(sources, n, "sources")
    if sources.dim() != 2:
        raise ValueError(f"sources: expected shape [S, 2], got {list(sources.shape)}")
    if not h > 0:
        raise ValueError(f"h: grid spacing must be > 0, got {h}")
    src = np.ascontiguousarray(sources.detach().to("cpu", torch.int64).numpy())
    return _EikonalFunction.apply(1.0 / velocity, src, float(h), float(tol), int(max_sweeps))


def paper_acquisition(n: int, per_edge: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (sources: [4·per_edge, 2], receivers: [4·per_edge, 3n − 4, 2]) as (row, col).

    The paper's layout scaled to an n×n grid: sources evenly spaced along the top, bottom,
    left and right edges (cell centres of ``per_edge`` equal segments, so never a corner);
    each source records at every boundary node except those on its own edge.
    """
    if n < 3 or per_edge < 1 or per_edge > n - 2:
        raise ValueError(f"n, per_edge: need n >= 3 and 1 <= per_edge <= n - 2, got n={n}, per_edge={per_edge}")
    pos = ((torch.arange(per_edge, dtype=torch.float64) + 0.5) * n / per_edge).floor().long().clamp(1, n - 2)
    fixed = {"top": 0, "bottom": n - 1, "left": 0, "right": n - 1}
    rows, cols = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    boundary = (rows == 0) | (rows == n - 1) | (cols == 0) | (cols == n - 1)
    sources, receivers = [], []
    for edge, k in fixed.items():
        along_rows = edge in ("left", "right")
        const = torch.full_like(pos, k)
        sources.append(torch.stack((pos, const) if along_rows else (const, pos), dim=1))
        own = (cols == k) if along_rows else (rows == k)
        rec = torch.nonzero(boundary & ~own)
        receivers.append(rec.expand(per_edge, -1, -1))
    return torch.cat(sources), torch.cat(receivers)


def _receiver_times(velocity, sources, receivers, h, **kw) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (t: [B, S, R], T: [B, S, n, n]) for receivers [S, R, 2] or [R, 2] (shared)."""
    if receivers.dim() == 2:
        receivers = receivers.expand(sources.shape[0], -1, -1)
    T = eikonal_solve(velocity, sources, h, **kw)
    n = T.shape[-1]
    flat = (receivers[..., 0] * n + receivers[..., 1]).to(T.device)
    return T.flatten(-2).gather(-1, flat.expand(T.shape[0], -1, -1)), T


def add_traveltime_noise(t: torch.Tensor, sigma: float = 1e-3, generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Return :math:`t + \sigma\, t\, n`, n i.i.d. N(0, 1) per entry (so independent per source)."""
    if not 0 <= sigma < float("inf"):
        raise ValueError(f"sigma: expected the relative noise level, finite and >= 0, got {sigma}")
    noise = torch.randn(t.shape, generator=generator, device=t.device, dtype=t.dtype)
    return t + sigma * t * noise


def ray_coverage(velocity: torch.Tensor, sources: torch.Tensor, receivers: torch.Tensor, h: float) -> torch.Tensor:
    r"""Return the ray coverage C: [B, n, n] (metres), :math:`\partial \sum_{s,r} T_s(x_r) / \partial f`.

    The adjoint field of all receiver times summed over sources: each first-arrival ray
    contributes its path length through each cell, so C shows where the data constrain
    the model. ``receivers: [S, R, 2]`` (or ``[R, 2]`` shared by all sources).
    """
    with torch.enable_grad():
        slowness = (1.0 / velocity.detach()).requires_grad_(True)
        t, _ = _receiver_times(1.0 / slowness, sources, receivers, h)
        (grad,) = torch.autograd.grad(t.sum(), slowness)
    return grad


class Eikonal(nn.Module):
    r"""Traveltime tomography operator :math:`m \mapsto t = T_{s}(x_r)[v(m)]`, the paper's acquisition.

    Velocity from a generator image :math:`m \in [-1, 1]`: :math:`v = v_0 + \Delta v\,(m + 1)/2`
    (paper: 1500, 100 m/s). ``m: [B, 1, n, n]`` or ``[B, n, n]`` → receiver times
    ``[B, S, R]`` (seconds); ``return_fields=True`` also returns ``T: [B, S, n, n]``.
    Defaults: :func:`paper_acquisition` (``per_edge`` sources per edge).

    >>> op = Eikonal(32, h=1e-3, per_edge=2)
    >>> op(torch.zeros(1, 1, 32, 32)).shape
    torch.Size([1, 8, 92])
    """

    def __init__(self, n: int, h: float = 1e-3, sources: torch.Tensor | None = None,
                 receivers: torch.Tensor | None = None, *, v0: float = 1500.0, dv: float = 100.0,
                 per_edge: int = 8, tol: float = 1e-8, max_sweeps: int = 400):
        super().__init__()
        if sources is None:
            if receivers is not None:
                raise ValueError("receivers: give sources too, or neither for the paper's acquisition")
            sources, receivers = paper_acquisition(n, per_edge)
        elif receivers is None:
            raise ValueError("receivers: required when sources are given ([R, 2] or [S, R, 2])")
        _check_points(sources, n, "sources")
        _check_points(receivers, n, "receivers")
        if receivers.dim() == 2:
            receivers = receivers.expand(sources.shape[0], -1, -1)
        if receivers.dim() != 3 or receivers.shape[0] != sources.shape[0]:
            raise ValueError(f"receivers: expected [R, 2] or [S={sources.shape[0]}, R, 2], got {list(receivers.shape)}")
        if not h > 0:
            raise ValueError(f"h: grid spacing must be > 0, got {h}")
        self.n, self.h, self.v0, self.dv, self.tol, self.max_sweeps = n, float(h), v0, dv, tol, max_sweeps
        self.register_buffer("sources", sources.long().contiguous())
        self.register_buffer("receivers", receivers.long().contiguous())

    def velocity(self, m: torch.Tensor) -> torch.Tensor:
        """Return v: [B, n, n] = v0 + dv·(m + 1)/2 for m: [B, 1, n, n] or [B, n, n]."""
        if m.dim() == 4:
            if m.shape[1] != 1:
                raise ValueError(f"m: expected one channel [B, 1, n, n], got {list(m.shape)}")
            m = m[:, 0]
        if m.dim() != 3 or tuple(m.shape[-2:]) != (self.n, self.n):
            raise ValueError(f"m: expected [B, 1, {self.n}, {self.n}] or [B, {self.n}, {self.n}], got {list(m.shape)}")
        return self.v0 + self.dv * (m + 1) / 2

    def traveltimes(self, velocity: torch.Tensor, return_fields: bool = False):
        """Return receiver times [B, S, R] (and fields [B, S, n, n]) for velocity [B, n, n] in m/s."""
        t, T = _receiver_times(velocity, self.sources, self.receivers, self.h, tol=self.tol, max_sweeps=self.max_sweeps)
        return (t, T) if return_fields else t

    def forward(self, m: torch.Tensor, return_fields: bool = False):
        return self.traveltimes(self.velocity(m), return_fields)

    def ray_coverage(self, m: torch.Tensor) -> torch.Tensor:
        """Return the ray coverage [B, n, n] of this acquisition for the image m (see :func:`ray_coverage`)."""
        return ray_coverage(self.velocity(m), self.sources, self.receivers, self.h)
