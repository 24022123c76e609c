"""What one inversion iteration costs, split by component, per problem and reparameterisation.

Per problem of the study (CS-MRI 8×/20 dB and eikonal on a StyleGAN2, deblurring σ = 3 on a
Glow) and per generator — the shipped v2 model and the study's default (``DEFAULT_GENERATOR`` of
the problem, the ``-smooth`` models until the studies move to v2; ``study_default`` says which) —
at the study's batch (one image × 3 restarts), float32, one thread, for the spherical constraint
and the Gaussianization layers:

* per function evaluation (forward + backward), each alone: the reparameterisation
  (``layers``: the Gaussianization layers, or the spherical projection), the ``generator``, the
  ``operator`` with the misfit, and the whole ``evaluation``; ``glue`` is the evaluation minus the
  three parts (autograd bookkeeping, casts, Python);
* per L-BFGS iteration: its time, its evaluations, and ``line_search`` (the iteration minus its
  evaluations: the two-loop direction, the strong-Wolfe logic, the history update);
* ``bookkeeping``: one history record (images, PSNR/SSIM, latent dashboard) over the study's
  ``history_every`` = 50 iterations, per iteration;
* ``ratio_to_generator``: iteration time over the generator's own forward + backward
  (``evaluation_ratio_to_generator``: the same for one evaluation);
* ``glayers_over_spherical`` (per iteration) and ``glayers_over_spherical_per_evaluation``: the
  G-layer row over the spherical one. The per-evaluation ratio is the steadier of the two: an
  iteration's cost also depends on how many evaluations its line search needed, which differs
  between the two methods' paths.

Every case is timed in interleaved rounds (all cases once per round), medians with quartiles,
on this thread's CPU time (the machine is shared: wall time includes the waits for a core; the
wall medians are recorded too).
"""
from __future__ import annotations

import itertools
import time

import torch

from gausslib import problems
from gausslib.bench import interleaved, one_thread, summary_ms
from gausslib.generators import zoo
from gausslib.invert import Recorder
from gausslib.lbfgs import BatchedLBFGS, _evaluate
from gausslib.reparam import Gaussianized, Spherical

PROBLEMS = {  # problem: (shipped v2 generator, setting, targets)
    "mri": ("stylegan2-phantom64", {"accel": 8, "snr_db": 20}, "generator"),
    "deblur": ("glow-phantom64", {"sigma": 3.0, "model_sigma": 3.0, "noise_std": 50.0}, "phantom"),
    "eikonal": ("stylegan2-phantom64", {"per_edge": 2, "noise": 1e-3, "extent_m": 0.256}, "generator"),  # the study's
}
RESTARTS = 3
HISTORY_EVERY = 50


def _cases(problem, G, reparam):
    """Return ``(component timers, L-BFGS state, recorder)`` for one reparameterisation."""
    bound = reparam.bind(G, list(range(RESTARTS)))
    y = problem.y.repeat_interleave(RESTARTS, 0)
    x_true = problem.x_true.repeat_interleave(RESTARTS, 0)

    def objective(p):
        return problem.misfit(bound.images(p), y) + bound.penalty(p)

    opt = BatchedLBFGS(objective, bound.x0)
    p = bound.x0.clone()
    latents = [[t.detach() for t in group] for group in bound.latents(p)]
    with torch.no_grad():
        images = bound.images(p)

    def layers():
        q = p.clone().requires_grad_(True)
        out = [t for group in bound.latents(q) for t in group if t.requires_grad]
        torch.autograd.grad(out, q, [torch.ones_like(t) for t in out])

    def generator():
        leaves = [[t.clone().requires_grad_(True) for t in group] for group in latents]
        flat = [t for group in leaves for t in group]
        torch.autograd.grad(bound.space.render(leaves).sum(), flat)

    def operator():
        x = images.clone().requires_grad_(True)
        torch.autograd.grad(problem.misfit(x, y).sum(), x)

    record, calls = Recorder(problem, bound, x_true, 1, None, True), itertools.count(1)
    timers = {"layers": layers, "generator": generator, "operator": operator,
              "evaluation": lambda: _evaluate(objective, p), "record": lambda: record(next(calls), p, opt.loss)}
    return timers, opt


def row(name: str, times: dict[str, list[float]], iterations: list[float], evaluations: list[int]) -> dict:
    """Return one row of milliseconds from seconds: ``times`` per component (the keys of :func:`_cases`'
    timers), ``iterations`` and their ``evaluations`` (one entry per timed L-BFGS iteration).

    ``line_search_ms`` is the median over the iterations of the iteration minus its evaluations at the
    median evaluation time (iterations differ in evaluations); ``glue_ms`` the evaluation minus its
    three parts; ``bookkeeping_ms`` one history record spread over ``HISTORY_EVERY`` iterations.
    """
    med = {k: summary_ms(v)["median"] for k, v in times.items()}
    it = summary_ms(iterations)
    rest = [t - e * med["evaluation"] / 1e3 for t, e in zip(iterations, evaluations)]
    per_eval = [t / e for t, e in zip(iterations, evaluations)]
    return {
        "method": name, "iteration_ms": it["median"], "iteration_q25_ms": it["q25"], "iteration_q75_ms": it["q75"],
        "evaluations_per_iteration": sum(evaluations) / len(evaluations),
        "iteration_per_evaluation_ms": summary_ms(per_eval)["median"],
        "evaluation_ms": med["evaluation"], "generator_ms": med["generator"], "layers_ms": med["layers"],
        "operator_ms": med["operator"],
        "glue_ms": med["evaluation"] - med["generator"] - med["layers"] - med["operator"],
        "line_search_ms": summary_ms(rest)["median"],
        "bookkeeping_ms": med["record"] / HISTORY_EVERY,
        "ratio_to_generator": it["median"] / med["generator"],
        "evaluation_ratio_to_generator": med["evaluation"] / med["generator"],
    }


def _problem(name: str, weights: str, quick: bool) -> list[dict]:
    _, setting, kind = PROBLEMS[name]
    G = zoo.load(weights)
    x = problems.targets(G, kind, [0], G.resolution)
    problem = problems.build(name, setting, x, [0])
    methods = {"spherical": Spherical(), "glayers": Gaussianized()}
    built = {m: _cases(problem, G, rp) for m, rp in methods.items()}
    repeats = 3 if quick else 9
    times = interleaved({f"{m}/{k}": fn for m, (timers, _) in built.items() for k, fn in timers.items()},
                        repeats=repeats)
    iters = {m: {"cpu": [], "wall": [], "evals": []} for m in methods}
    for _ in range(2):                                   # warm-up: the first step's line search is atypical
        for _, opt in built.values():
            opt.step()
    # more iterations than component repeats: iterations differ in evaluations (the line search), and the
    # per-iteration medians need enough of them to settle
    for _ in range(3 * repeats):
        for m, (_, opt) in built.items():
            e, w, c = opt.evaluations, time.perf_counter(), time.thread_time()
            opt.step()
            iters[m]["cpu"].append(time.thread_time() - c)
            iters[m]["wall"].append(time.perf_counter() - w)
            iters[m]["evals"].append(opt.evaluations - e)
    rows = []
    default = problems.get(name).DEFAULT_GENERATOR
    for m in methods:
        r = row(m, {k: times[f"{m}/{k}"]["cpu"] for k in built[m][0]}, iters[m]["cpu"], iters[m]["evals"])
        r["iteration_wall_ms"] = summary_ms(iters[m]["wall"])["median"]
        rows.append({"problem": name, "generator": weights, "study_default": weights == default, "setting": setting,
                     "batch": RESTARTS, **r})
    sph, gl = rows
    gl["glayers_over_spherical"] = gl["iteration_ms"] / sph["iteration_ms"]
    gl["glayers_over_spherical_per_evaluation"] = gl["evaluation_ms"] / sph["evaluation_ms"]
    return rows


def generators(name: str) -> list[str]:
    """Return the generators benchmarked on problem ``name``: the shipped v2 model, then the study's default."""
    return list(dict.fromkeys((PROBLEMS[name][0], problems.get(name).DEFAULT_GENERATOR)))


def run(quick: bool = False) -> list[dict]:
    """Return one row per (problem, generator, method), one thread, float32, CPU time (see the module docstring)."""
    return one_thread(lambda: [r for name in PROBLEMS for weights in generators(name)
                               for r in _problem(name, weights, quick)])
