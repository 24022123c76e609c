"""Baselines of the paper's tables: total variation, CSGM-w and the StyleGAN2 projector (NoiseReg).

* :func:`tv` — ``min_x ½‖A(x) − y‖² + λ TV_ε(x)`` over the box ``[data_min, data_min + range]``
  by FISTA with per-item backtracking, started from a data-driven image (the adjoint / zero-filled
  reconstruction for linear operators, else the best constant image) — never the true image.
* :class:`CSGMw` (Kelkar & Anastasio 2021) — optimise W+ directly, penalised in the
  Gaussianised W space ``v = lrelu⁻¹(w/√2)`` (the mapping's last leaky ReLU undone) by the
  Mahalanobis norm ``λ · Σ_k ‖Σ^{-1/2}(v_k − μ)‖²`` with μ, Σ from 10 000 mapped samples.
* :class:`NoiseReg` (Karras et al. 2020, projector) — Adam on one w (broadcast to all inputs) and
  the noise maps; lr ramps, a decaying Gaussian perturbation of w, the noise regulariser
  ``Σ_maps Σ_pyramid (mean(n·roll_x n)² + mean(n·roll_y n)²)`` weighted 1e5, and noise maps
  renormalised after every step.

CSGMw and NoiseReg are reparameterisations (``bind(G, seeds)``) for :func:`gausslib.invert.invert`
with ``optimizer="adam"``.
"""
from __future__ import annotations

import math
import time
import weakref
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from tqdm.auto import tqdm

from gausslib.invert import InversionResult, Problem, Recorder, collect
from gausslib.reparam import Packer, latent_space

__all__ = ["tv", "total_variation", "CSGMw", "NoiseReg", "w_statistics"]


# ------------------------------------------------------------------------------------------ TV
def total_variation(x: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """Return the smoothed isotropic TV ``Σ sqrt(|∇x|² + ε²)`` per image ``[B]`` of ``x: [B, C, H, W]``.

    Forward differences with a replicated last row/column (zero difference at the border).
    """
    dx = F.pad(x[..., :, 1:] - x[..., :, :-1], (0, 1))
    dy = F.pad(x[..., 1:, :] - x[..., :-1, :], (0, 0, 0, 1))
    return (dx.square() + dy.square() + eps**2).sqrt().flatten(1).sum(1)


def _start_image(problem: Problem, shape: Sequence[int]) -> torch.Tensor:
    """Return a data-driven start ``[N, C, H, W]``: the adjoint of y (clipped) or the best constant."""
    lo, hi = problem.data_min, problem.data_min + problem.data_range
    y = problem.y
    adjoint = getattr(problem.operator, "adjoint", None)
    if adjoint is not None:
        return adjoint(y).real.clamp(lo, hi) if torch.is_complex(y) else adjoint(y).clamp(lo, hi)
    levels = torch.linspace(lo, hi, 9, dtype=y.real.dtype, device=y.device)
    N = y.shape[0]
    with torch.no_grad():
        misfits = torch.stack([problem.misfit(torch.full((N, *shape), float(v), dtype=levels.dtype,
                                                         device=y.device), y) for v in levels])
    best = levels[misfits.argmin(0)]
    return best.reshape(N, 1, 1, 1).expand(N, *shape).clone()


def tv(problem: Problem, *, lam: float = 0.01, iters: int = 300, eps: float = 1e-3,
       shape: Sequence[int] | None = None, start: torch.Tensor | None = None, history_every: int = 10,
       progress: bool = True) -> InversionResult:
    """Return the TV reconstruction of every image as an :class:`InversionResult` with one restart.

    FISTA (Beck & Teboulle 2009) with backtracking on ``½‖A(x) − y‖² + λ TV_ε(x)`` and projection
    onto the box; the Lipschitz estimate is per item (doubling until the quadratic bound holds,
    then relaxed by 0.9 each iteration). shape: ``(C, H, W)`` of the image, needed only when the
    operator has no adjoint (default: ``x_true``'s shape — only the shape is used). start:
    ``[N, C, H, W]`` the first iterate (default: the adjoint of y, or the best constant).
    """
    if not lam >= 0:
        raise ValueError(f"lam must be ≥ 0, got {lam!r}")
    if shape is None:
        if problem.x_true is None and not hasattr(problem.operator, "adjoint"):
            raise ValueError("shape: required when the operator has no adjoint and x_true is absent")
        shape = problem.x_true.shape[1:] if problem.x_true is not None else None
    if start is not None and start.shape[0] != problem.n_images:
        raise ValueError(f"start must be [N={problem.n_images}, C, H, W], got {tuple(start.shape)}")
    x = _start_image(problem, shape) if start is None else start.to(problem.y.real.dtype).clamp(
        problem.data_min, problem.data_min + problem.data_range)
    problem.check_data(problem.operator(x[:1]))
    lo, hi = problem.data_min, problem.data_min + problem.data_range
    y = problem.y

    def objective(z: torch.Tensor) -> torch.Tensor:
        return problem.misfit(z, y) + lam * total_variation(z, eps)

    def value_and_grad(z: torch.Tensor):
        with torch.enable_grad():
            z = z.detach().requires_grad_(True)
            f = objective(z)
            (g,) = torch.autograd.grad(f.sum(), z)
        return f.detach(), g

    class _Identity:  # the recorder renders images from parameters: here they are the images
        images = staticmethod(lambda p: p.reshape(-1, *x.shape[1:]))

    x_true = problem.x_true
    record = Recorder(problem, _Identity, x_true, history_every, None, dashboard=False)
    N = x.shape[0]
    L = torch.ones(N, dtype=x.dtype, device=x.device)
    t = 1.0
    z, x_prev = x.clone(), x.clone()
    t0 = time.perf_counter()
    f_x = objective(x).detach()
    record(0, x.flatten(1), f_x)
    evaluations = 1
    view = (-1, 1, 1, 1)
    for it in tqdm(range(1, iters + 1), desc="tv", disable=not progress, leave=False):
        f_z, g = value_and_grad(z)
        L = L * 0.9
        searching = torch.ones(N, dtype=torch.bool, device=x.device)
        x_new = z
        for _ in range(40):
            cand = (z - g / L.view(view)).clamp(lo, hi)
            f_c = objective(cand).detach()
            evaluations += 1
            diff = cand - z
            bound = f_z + (g * diff).flatten(1).sum(1) + 0.5 * L * diff.square().flatten(1).sum(1)
            ok = f_c <= bound + 1e-12 * f_z.abs()
            x_new = torch.where((searching & ok).view(view), cand, x_new)
            f_x = torch.where(searching & ok, f_c, f_x)
            searching = searching & ~ok
            if not bool(searching.any()):
                break
            L = torch.where(searching, 2 * L, L)
        t_next = (1 + math.sqrt(1 + 4 * t * t)) / 2
        z = x_new + ((t - 1) / t_next) * (x_new - x_prev)
        x_prev, t = x_new, t_next
        record(it, x_new.flatten(1), f_x)
    record(iters, x_prev.flatten(1), f_x, final=True)
    seconds = time.perf_counter() - t0
    return collect(problem, x_prev, f_x, x_prev.flatten(1), record.history(N, 1), seconds, iters,
                   evaluations, 1)


# ------------------------------------------------------------------------------ W-space helpers
def _gaussianize_w(w: torch.Tensor) -> torch.Tensor:
    """Return ``v = lrelu_{0.2}⁻¹(w / √2)``: the mapping network's last activation undone."""
    u = w / math.sqrt(2.0)
    return torch.where(u >= 0, u, u / 0.2)


_W_STATS: "weakref.WeakKeyDictionary[nn.Module, dict]" = weakref.WeakKeyDictionary()


def w_statistics(G, samples: int = 10_000, seed: int = 123_456) -> dict[str, torch.Tensor]:
    """Return :func:`_w_statistics` of G, cached per generator (weakly) and (samples, seed)."""
    per_g = _W_STATS.setdefault(G, {})
    if (samples, seed) not in per_g:
        per_g[(samples, seed)] = _w_statistics(G, samples, seed)
    return per_g[(samples, seed)]


@torch.no_grad()
def _w_statistics(G, samples: int, seed: int) -> dict[str, torch.Tensor]:
    """Return ``{"w_avg", "w_std", "v_mean", "v_whiten"}`` of ``samples`` mapped z's.

    w_std is the projector's scalar ``sqrt(mean ‖w − w_avg‖²)``; v_whiten is ``Σ_v^{-1/2}``
    (``[w_dim, w_dim]``) of the Gaussianised ``v`` with a 1e-6·tr/d ridge.
    """
    param = next(G.parameters())
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(samples, G.z_dim, generator=g, dtype=torch.float64).to(param)
    w = G.mapping(z).double()
    w_avg = w.mean(0)
    w_std = (w - w_avg).square().sum(1).mean().sqrt()
    v = _gaussianize_w(w)
    v_mean = v.mean(0)
    cov = torch.cov(v.T)
    cov = cov + 1e-6 * cov.trace() / cov.shape[0] * torch.eye(cov.shape[0], dtype=cov.dtype, device=cov.device)
    evals, evecs = torch.linalg.eigh(cov)
    v_whiten = evecs @ torch.diag(evals.rsqrt()) @ evecs.T
    return {k: t.to(param.dtype) for k, t in
            dict(w_avg=w_avg, w_std=w_std, v_mean=v_mean, v_whiten=v_whiten).items()}


def _draw(G, seeds: Sequence[int]) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Return the seeds' starting ``(z_plus [B, num_ws, z_dim], noise maps)``: the same draws as
    every :mod:`gausslib.reparam` reparameterisation starts from."""
    space = latent_space(G)
    return space.arguments(space.draw(seeds))


def _patch_rows(v: torch.Tensor, p: int = 32) -> torch.Tensor:
    """Return ``v: [B, k, L]`` as consecutive chunks ``[B, k·L/p', p']`` for the dashboard, with
    ``p' ≤ p`` halved until it divides L and leaves at least as many rows as columns."""
    from gausslib.patches import patchify

    k, L = v.shape[1:]
    while p > 1 and (L % p or k * L // p < p):
        p //= 2
    return patchify(v, p)


class _WBound(nn.Module):
    """Shared machinery of the W-space baselines: params = [w-part, noise maps (if optimised)]; no Adam
    hooks unless a subclass defines ``schedule`` / ``project``."""

    schedule = None
    project = None

    def __init__(self, G, w0: torch.Tensor, noise: list[torch.Tensor], optimise_noise: bool):
        super().__init__()
        self.G, self.optimise_noise = G, optimise_noise
        parts = [w0] + (noise if optimise_noise else [])
        self.packer = Packer([tuple(t.shape[1:]) for t in parts])
        self.noise = noise
        self.x0 = self.packer.pack(parts)

    def split(self, p: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        parts = self.packer.unpack(p)
        return parts[0], (parts[1:] if self.optimise_noise else self.noise)


class CSGMw:
    """CSGM-w: W+ ``[num_ws, w_dim]`` optimised directly, penalised in the Gaussianised W space.

    Starts from the mapped seed latent ``w_k = mapping(z_k)`` (z+ drawn from the seed); noise maps
    ``"fixed"`` (drawn from the seed) or ``"free"`` (optimised). lam: weight of the penalty.
    """

    def __init__(self, lam: float = 1e-3, noise: str = "fixed", stats_samples: int = 10_000):
        if noise not in ("fixed", "free"):
            raise ValueError(f"noise must be 'fixed' or 'free', got {noise!r}")
        if not lam >= 0:
            raise ValueError(f"lam must be ≥ 0, got {lam!r}")
        self.lam, self.noise, self.stats_samples = float(lam), noise, stats_samples

    def describe(self) -> dict:
        return {"lam": self.lam, "noise": self.noise}

    def bind(self, G, seeds: Sequence[int]) -> "_CSGMwBound":
        return _CSGMwBound(self, G, seeds)


class _CSGMwBound(_WBound):
    def __init__(self, spec: CSGMw, G, seeds):
        z, noise = _draw(G, seeds)
        with torch.no_grad():
            w0 = G.mapping(z)
        super().__init__(G, w0, noise, spec.noise == "free")
        self.lam = spec.lam
        st = w_statistics(G, spec.stats_samples)
        self.v_mean, self.v_whiten = st["v_mean"], st["v_whiten"]

    def images(self, p):
        ws, noise = self.split(p)
        return self.G.synthesis(ws, noise)

    def _whitened(self, p):
        ws, _ = self.split(p)
        return (_gaussianize_w(ws) - self.v_mean) @ self.v_whiten

    def penalty(self, p):
        return self.lam * self._whitened(p).square().flatten(1).sum(1)

    def latent(self, p):
        return _patch_rows(self._whitened(p))


class NoiseReg:
    """The StyleGAN2 projector (Karras et al. 2020) as a baseline: w + noise maps, Adam with ramps.

    Defaults are the official projector's: initial lr 0.1 (pass ``lr=0.1`` to :func:`invert`),
    lr ramp-up 5 %, cosine ramp-down over the last 25 %, w perturbation ``0.05·w_std`` decaying
    quadratically to 0 at 75 % of the run, noise regulariser weight 1e5, noise maps renormalised
    to zero mean / unit variance after every step. w starts at ``w_avg``; noise from the seed.
    wplus: False (default) optimises one w copied to every synthesis input (the official
    projector; the studies' protocol 1); True W+, one w per input ``[num_ws, w_dim]``, all starting
    at ``w_avg``, as the authors' baseline and the studies' protocol 2.
    """

    def __init__(self, reg_weight: float = 1e5, noise_factor: float = 0.05, noise_ramp: float = 0.75,
                 lr_rampdown: float = 0.25, lr_rampup: float = 0.05, stats_samples: int = 10_000,
                 wplus: bool = False):
        self.reg_weight, self.noise_factor, self.noise_ramp = reg_weight, noise_factor, noise_ramp
        self.lr_rampdown, self.lr_rampup, self.stats_samples = lr_rampdown, lr_rampup, stats_samples
        self.wplus = bool(wplus)

    def describe(self) -> dict:
        return {"reg_weight": self.reg_weight, "noise_factor": self.noise_factor,
                **({"wplus": True} if self.wplus else {})}

    def bind(self, G, seeds: Sequence[int]) -> "_NoiseRegBound":
        return _NoiseRegBound(self, G, seeds)


def noise_regularizer(noise: list[torch.Tensor]) -> torch.Tensor:
    """Return ``Σ_maps Σ_pyramid mean(n·roll_x n)² + mean(n·roll_y n)²`` per item ``[B]``."""
    reg = 0
    for n in noise:
        while True:
            reg = reg + (n * torch.roll(n, 1, dims=3)).flatten(1).mean(1).square() \
                + (n * torch.roll(n, 1, dims=2)).flatten(1).mean(1).square()
            if n.shape[-1] <= 8:
                break
            n = F.avg_pool2d(n, 2)
    return reg


class _NoiseRegBound(_WBound):
    def __init__(self, spec: NoiseReg, G, seeds):
        st = w_statistics(G, spec.stats_samples)
        w0 = st["w_avg"].expand(len(seeds), G.num_ws if spec.wplus else 1, -1).clone()
        super().__init__(G, w0, _draw(G, seeds)[1], True)
        self.spec, self.w_std = spec, st["w_std"]
        self.seeds = list(seeds)
        self.w_noise = torch.zeros_like(w0)
        self.sizes = self.packer.sizes

    def schedule(self, i: int, iters: int) -> float:
        """Return the lr factor at step i and draw this step's w perturbation (per item, seeded)."""
        s = self.spec
        t = i / max(iters, 1)
        strength = float(self.w_std) * s.noise_factor * max(0.0, 1.0 - t / s.noise_ramp) ** 2
        draws = [torch.randn(self.w_noise.shape[1:], generator=torch.Generator().manual_seed(seed * 100_003 + i),
                             dtype=torch.float64) for seed in self.seeds]
        self.w_noise = strength * torch.stack(draws).to(self.w_noise)
        ramp = min(1.0, (1.0 - t) / s.lr_rampdown)
        ramp = 0.5 - 0.5 * math.cos(ramp * math.pi)
        return ramp * min(1.0, t / s.lr_rampup)

    def images(self, p):
        w, noise = self.split(p)
        ws = (w + self.w_noise).expand(-1, self.G.num_ws, -1)  # W+: already num_ws rows
        return self.G.synthesis(ws, noise)

    def penalty(self, p):
        _, noise = self.split(p)
        return self.spec.reg_weight * noise_regularizer(noise)

    def project(self, p):
        w, noise = self.split(p)
        dims = (1, 2, 3)
        noise = [(n - n.mean(dims, keepdim=True)) / n.std(dims, keepdim=True, unbiased=False) for n in noise]
        return self.packer.pack([w] + noise)

    def latent(self, p):
        w, _ = self.split(p)
        return _patch_rows(_gaussianize_w(w))
