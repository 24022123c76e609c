"""The inversion loop: ``min_v ½‖A(G(T(v))) − y‖² (+ penalty)`` with batched restarts.

Restarts and images run as one batch ``B = images × restarts`` (item ``i·R + r`` is image ``i``,
restart ``r``, started from seed ``seed + r``) through the reparameterisation, the generator and
the operator, optimised by :class:`gausslib.lbfgs.BatchedLBFGS` (the paper's methods) or Adam
(the NoiseReg / CSGM-w baselines). Items never couple, so a batch equals separate runs.

A reparameterisation is bound to a generator and a list of seeds (see :mod:`gausslib.reparam`)
and then provides, for the flat parameters ``p: [B, D]``:
``x0`` (the start), ``images(p) -> [B, C, H, W]``, ``penalty(p) -> [B]``,
``latent(p) -> [B, n, d]`` (the generator-facing latent as a patch matrix, for the dashboard),
and the Adam hooks ``project(p)`` (applied after every Adam step) and ``schedule(i, iters)``, each
``None`` where a reparameterisation has none.

Example (CS-MRI 8× / 20 dB on a target drawn from the shipped StyleGAN2)::

    from gausslib import problems
    from gausslib.generators import load
    from gausslib.invert import invert
    from gausslib.reparam import Gaussianized, Spherical

    G = load("stylegan2-phantom64")
    x = problems.targets(G, "generator", [0], G.resolution)         # [1, 1, 64, 64]
    mri = problems.get("mri")
    problem = mri.build(mri.Setting(accel=8, snr_db=20), x, [0])
    res = invert(problem, G, Gaussianized(), restarts=3, iters=300, history_every=10)
    res.best["psnr"], res.metrics["psnr"]          # best-of-3 image, every restart's PSNR
    res.history["kurtosis"]                        # [T, 1, 3]: the latent Gaussianity dashboard
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from tqdm.auto import tqdm

from gausslib import metrics
from gausslib.lbfgs import BatchedLBFGS

__all__ = ["Problem", "InversionResult", "invert", "latent_dashboard", "run_batch", "Recorder", "collect"]

OPTIMIZERS = ("lbfgs", "adam")


def squared_error(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Return ``½‖pred − y‖²`` per item ``[B]`` (modulus squared for complex data)."""
    r = pred - y
    r = r.abs() if torch.is_complex(r) else r
    return 0.5 * r.square().flatten(1).sum(1)


@dataclass
class Problem:
    """An inverse problem on ``N`` images: ``y = A(x) + noise``.

    operator: callable ``A(x: [B, C, H, W]) -> [B, ...]`` (an nn.Module from
    :mod:`gausslib.operators`, or a lambda). y: observed data ``[N, ...]``. loss: per-item data
    misfit ``loss(A(x), y) -> [B]``, default ``½‖A(x) − y‖²``. x_true: ``[N, C, H, W]`` (optional,
    only for metrics; never used by the optimisation). Images live in
    ``[data_min, data_min + data_range]`` (MRI and the generators: [−1, 1]).
    """

    operator: Callable[[torch.Tensor], torch.Tensor]
    y: torch.Tensor
    x_true: torch.Tensor | None = None
    data_range: float = 2.0
    data_min: float = -1.0
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = squared_error

    def __post_init__(self):
        if not isinstance(self.y, torch.Tensor) or self.y.ndim < 2:
            raise ValueError(f"y must be a tensor [N, ...] (one row per image), got "
                             f"{type(self.y).__name__} of shape {tuple(getattr(self.y, 'shape', ()))}")
        if self.x_true is not None:
            if self.x_true.ndim != 4 or self.x_true.shape[0] != self.y.shape[0]:
                raise ValueError(f"x_true must be [N={self.y.shape[0]}, C, H, W], got {tuple(self.x_true.shape)}")
            with torch.no_grad():
                self.check_data(self.operator(self.x_true[:1]))

    @property
    def n_images(self) -> int:
        return self.y.shape[0]

    def check_data(self, pred: torch.Tensor) -> None:
        """Raise ValueError naming ``y`` when the operator output does not match the data's shape."""
        if tuple(pred.shape[1:]) != tuple(self.y.shape[1:]):
            raise ValueError(f"y has shape {tuple(self.y.shape)} but the operator returns "
                             f"{tuple(pred.shape)} per image: the data do not match the operator")

    def misfit(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Return the data misfit per item ``[B]`` for images ``x: [B, C, H, W]`` and data ``y: [B, ...]``."""
        return self.loss(self.operator(x), y)

    def quality(self, x: torch.Tensor, x_true: torch.Tensor) -> dict[str, torch.Tensor]:
        """Return ``{"psnr": [B], "ssim": [B]}`` of ``x`` against ``x_true`` on the stated range."""
        return {"psnr": metrics.psnr(x, x_true, self.data_range),
                "ssim": metrics.ssim(x, x_true, self.data_range)}


def latent_dashboard(Z: torch.Tensor) -> dict[str, torch.Tensor]:
    """Return the latent Gaussianity statistics per item, each ``[B]``, of a patch matrix ``Z: [B, n, d]``.

    ``skewness`` and ``kurtosis`` (Pearson, 3 for a Gaussian) of all entries, ``norm_ratio``
    ``‖z‖/√(n d)`` (1 on the typical set), ``negentropy`` (mean marginal negentropy of the d
    columns) and ``multi_information`` (dependence between the columns); all 0 / 3 / 1 / 0 / 0
    for i.i.d. N(0, 1).
    """
    from gausslib import stats  # the statistics module of the layers issue

    Z = Z.detach().double()
    flat = Z.flatten(1)
    return {
        "skewness": stats.skewness(flat),
        "kurtosis": stats.kurtosis(flat, excess=False),
        "norm_ratio": flat.norm(dim=1) / math.sqrt(flat.shape[1]),
        "negentropy": stats.negentropy(Z).mean(1),
        "multi_information": stats.multi_information(Z),
    }


@dataclass
class InversionResult:
    """What :func:`invert` returns; ``N`` images, ``R`` restarts, ``T`` history points.

    images: ``[N, R, C, H, W]`` every restart's final image. loss: ``[N, R]`` final objective.
    metrics: ``{"psnr", "ssim"}`` → ``[N, R]`` (empty without ``x_true``). best: metric →
    ``[N, C, H, W]`` the best restart per image by that metric ("loss": lowest objective, the
    only choice available without the truth; "psnr", "ssim": highest, the paper's protocol), and
    best_restart: metric → ``[N]`` its index. history: name → ``[T, N, R]`` (``loss``, ``psnr``,
    ``ssim``, the :func:`latent_dashboard` entries) and ``iteration: [T]``. params: ``[N, R, D]``.
    iters: iterations asked for; steps: ``[N, R]`` iterations each restart actually moved.
    """

    images: torch.Tensor
    loss: torch.Tensor
    metrics: dict[str, torch.Tensor]
    best: dict[str, torch.Tensor]
    best_restart: dict[str, torch.Tensor]
    history: dict[str, torch.Tensor]
    params: torch.Tensor
    seconds: float
    iters: int
    evaluations: int
    steps: torch.Tensor
    extra: dict[str, Any] = field(default_factory=dict)


def _check_args(restarts: int, optimizer: str, iters: int, history_every: int) -> None:
    if not isinstance(restarts, int) or restarts < 1:
        raise ValueError(f"restarts must be an int ≥ 1, got {restarts!r}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    if not isinstance(iters, int) or iters < 0:
        raise ValueError(f"iters must be an int ≥ 0, got {iters!r}")
    if not isinstance(history_every, int) or history_every < 1:
        raise ValueError(f"history_every must be an int ≥ 1, got {history_every!r}")


class Recorder:
    """Collects the history every ``every`` iterations and calls the user's callback."""

    def __init__(self, problem: Problem, bound, x_true, every: int, callback, dashboard: bool):
        self.problem, self.bound, self.x_true = problem, bound, x_true
        self.every, self.callback, self.dashboard = every, callback, dashboard
        self.rows: dict[str, list[torch.Tensor]] = {}
        self.iterations: list[int] = []

    def __call__(self, it: int, p: torch.Tensor, loss, final: bool = False) -> None:
        """Record iteration ``it`` if due; ``loss``: ``[B]`` or a callable returning it (evaluated only then)."""
        if it % self.every and not final:
            return
        if self.iterations and self.iterations[-1] == it:
            return
        with torch.no_grad():
            x = self.bound.images(p)
            row = {"loss": (loss() if callable(loss) else loss).detach().double()}
            if self.x_true is not None:
                row.update(self.problem.quality(x, self.x_true))
            if self.dashboard:
                row.update(latent_dashboard(self.bound.latent(p)))
        for k, v in row.items():  # kept on the device: one host copy per name at the end, none per record
            self.rows.setdefault(k, []).append(v)
        self.iterations.append(it)
        if self.callback is not None:
            self.callback(it, {"images": x, "params": p.detach(), **row})

    def history(self, N: int, R: int) -> dict[str, torch.Tensor]:
        out = {k: torch.stack(v).reshape(len(v), N, R).cpu() for k, v in self.rows.items()}
        out["iteration"] = torch.tensor(self.iterations)
        return out


def run_batch(objective, x0: torch.Tensor, *, optimizer: str, iters: int, record, lr: float = 0.1,
              schedule=None, project=None, progress: bool = True, desc: str = "invert",
              lbfgs_options: dict | None = None) -> tuple[torch.Tensor, torch.Tensor, int, torch.Tensor]:
    """Return ``(params [B, D], loss [B], evaluations, steps [B])`` after ``iters`` iterations.

    steps: the iterations each item actually moved (L-BFGS items stop when converged or when
    their line search fails from steepest descent).

    ``objective(p: [B, D]) -> [B]``; ``record(it, p, loss, final=False)`` is called after every
    iteration (it decides itself whether to record). Adam: per-coordinate, so items stay
    independent; ``schedule(i, iters)`` is called before step i (its lr factor; a bound may also
    redraw step-dependent state, e.g. NoiseReg's w perturbation), ``project(p)`` after it.
    """
    bar = tqdm(total=iters, desc=desc, disable=not progress, leave=False)
    if optimizer == "lbfgs":
        opt = BatchedLBFGS(objective, x0, **(lbfgs_options or {}))
        record(0, opt.x, opt.loss)
        for it in range(1, iters + 1):
            opt.step()
            record(it, opt.x, opt.loss)
            bar.update(1)
            if progress and it % 10 == 0:  # reading the loss is a host sync: only for a visible bar
                bar.set_postfix(loss=f"{float(opt.loss.mean()):.4g}", active=int(opt.active.sum()))
        p, loss, evaluations, steps = opt.x, opt.loss, opt.evaluations, opt.steps
    else:
        # the StyleGAN2 projector's order: schedule (lr, perturbation) → loss → step → project
        p = x0.detach().clone().requires_grad_(True)
        adam = torch.optim.Adam([p], lr=lr)
        current = lambda: objective(p).detach()  # noqa: E731 - the loss at p, for the record
        record(0, p, current)
        for it in range(1, iters + 1):
            if schedule is not None:
                adam.param_groups[0]["lr"] = lr * schedule(it - 1, iters)
            adam.zero_grad(set_to_none=True)
            loss = objective(p)
            loss.sum().backward()
            adam.step()
            if project is not None:
                with torch.no_grad():
                    p.copy_(project(p))
            record(it, p, current)
            bar.update(1)
            if progress and it % 10 == 0:
                bar.set_postfix(loss=f"{float(loss.detach().mean()):.4g}")
        p = p.detach()
        with torch.no_grad():
            loss = objective(p)
        evaluations = iters + 1
        steps = torch.full((p.shape[0],), iters, dtype=torch.long, device=p.device)
    record(iters, p, loss, final=True)
    bar.close()
    return p, loss, evaluations, steps


def _best_of(values: torch.Tensor, images: torch.Tensor, lower: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(best images [N, C, H, W], restart index [N])`` from values ``[N, R]``."""
    idx = values.argmin(1) if lower else values.argmax(1)
    return images[torch.arange(images.shape[0], device=images.device), idx], idx


def collect(problem: Problem, images: torch.Tensor, loss: torch.Tensor, params: torch.Tensor,
            history: dict, seconds: float, iters: int, evaluations: int, R: int,
            steps: torch.Tensor | None = None) -> InversionResult:
    """Return the :class:`InversionResult` of a finished batch (items ordered image-major)."""
    N = problem.n_images
    images = images.detach().reshape(N, R, *images.shape[1:])
    loss = loss.detach().reshape(N, R)
    quality = {}
    if problem.x_true is not None:
        x_true = problem.x_true.to(images).repeat_interleave(R, 0)
        quality = {k: v.reshape(N, R).cpu() for k, v in
                   problem.quality(images.flatten(0, 1), x_true).items()}
    best, best_restart = {}, {}
    for name, values, lower in [("loss", loss, True)] + [(k, v, False) for k, v in quality.items()]:
        best[name], best_restart[name] = _best_of(values.to(images.device), images, lower)
    return InversionResult(images=images, loss=loss, metrics=quality, best=best,
                           best_restart=best_restart, history=history,
                           params=params.detach().reshape(N, R, -1), seconds=seconds, iters=iters,
                           evaluations=evaluations,
                           steps=(torch.full((N * R,), iters) if steps is None else steps.cpu()).reshape(N, R))


def invert(problem: Problem, generator, reparam, *, restarts: int = 3, optimizer: str = "lbfgs",
           iters: int = 200, seed: int = 0, lr: float = 0.1, callback=None, history_every: int = 10,
           dashboard: bool = True, progress: bool = True, lbfgs_options: dict | None = None) -> InversionResult:
    """Return the :class:`InversionResult` of ``min_p loss(A(G(T(p))), y) + penalty(p)``.

    problem: :class:`Problem` with N images. generator: a frozen generator (StyleGAN2 or Glow).
    reparam: a reparameterisation from :mod:`gausslib.reparam` (or a baseline's), bound here to
    the generator and the seeds ``seed + r`` for restart ``r`` (every image's restart r starts
    from the same latent, as in the paper's seeds 0, 1, 2). restarts: R ≥ 1, run as one batch
    with the images. optimizer: "lbfgs" (batched, history 30, strong Wolfe) or "adam" (lr).
    iters: iterations. history_every: record loss / PSNR / SSIM / latent statistics every k
    iterations (and at the end). callback(it, state) is called at each history point.
    """
    _check_args(restarts, optimizer, iters, history_every)
    N, R = problem.n_images, restarts
    seeds = [seed + r for r in range(R)] * N  # image-major: item i·R + r
    bound = reparam.bind(generator, seeds)
    x0 = bound.x0
    y = problem.y.to(x0.device).repeat_interleave(R, 0)
    with torch.no_grad():
        problem.check_data(problem.operator(bound.images(x0[:1])))
    x_true = None if problem.x_true is None else problem.x_true.to(x0).repeat_interleave(R, 0)

    def objective(p: torch.Tensor) -> torch.Tensor:
        return problem.misfit(bound.images(p), y) + bound.penalty(p)

    record = Recorder(problem, bound, x_true, history_every, callback, dashboard)
    t0 = time.perf_counter()
    p, loss, evaluations, steps = run_batch(
        objective, x0, optimizer=optimizer, iters=iters, record=record, lr=lr,
        schedule=bound.schedule, project=bound.project,
        progress=progress, desc=f"invert ({type(reparam).__name__})", lbfgs_options=lbfgs_options)
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        images = bound.images(p)
    return collect(problem, images, loss, p, record.history(N, R), seconds, iters, evaluations, R, steps)
