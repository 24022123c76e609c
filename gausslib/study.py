"""The paper's studies as a resumable CLI: ``python -m gausslib.study {mri,deblur,eikonal,denoise,summarize}``.

A protocol is images × restarts × methods × settings; the problems and their settings come from
the registry :mod:`gausslib.problems`, the records, their keys and the summaries from
:mod:`gausslib.results`. Every finished image appends its records to ``<results-dir>/<problem>.jsonl``;
a rerun skips the (setting, method, variant, image) cells that already have their "best" record.
Each run also appends its command line, machine, generator checksum and wall time to
``runs.jsonl`` beside the results (a file made with one generator is never resumed with another).
Every record carries its budget (protocol version, iterations, restarts, seed, patch sizes; see
:func:`budget`), part of the cell's key: a rerun with another budget runs anew. One process writes
a file at a time (a lock); a cell that fails — an exception, or no restart with finite metrics —
is logged in ``runs.jsonl`` as an error and the run goes on (a rerun retries it).

Scale-out: ``--shard i/N`` runs the i-th of N deterministic parts of the (setting, image) pairs
into ``<problem>.shard-i-of-N.jsonl``; ``summarize`` merges all files and drops duplicates
(``--shard rank``: i/N from torchrun's ``RANK``/``WORLD_SIZE``). See gausslib/README.md.

Targets (``--targets``): ``generator`` — drawn from the generator with seeds never used for
inversion (StyleGAN2: one style vector for all inputs and its own noise; inversion uses z+),
``phantom`` — held-out phantoms of the training distribution (seeds < 10 000, never trained on),
``ood`` — the tumour phantoms (out of distribution).

Examples::

    python -m gausslib.study mri --accel 8 --snr 20 10 --methods tv spherical csgmw noisereg orthogonal glayers --ablation
    python -m gausslib.study deblur --methods spherical orthogonal raw glayers --betas 0 0.01 --layouts P1 P2 --inaccurate
    python -m gausslib.study mri --accel 8 --snr 20 10 --methods spherical orthogonal glayers \\
        --noise-modes reparam fixed --noise-by same orthogonal glayers      # Table 5, with g/o and o/g
    python -m gausslib.study eikonal --methods tv spherical glayers
    python -m gausslib.study mri --accel 8 --snr 20 --methods tv glayers --shard 0/3   # one of three parts
    python -m gausslib.study summarize
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import os
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from gausslib import metrics, problems, results
from gausslib.bench import machine
from gausslib.invert import InversionResult, Problem, invert
from gausslib.layers import ABLATION as _ABLATION_PRESETS
from gausslib.layers import PRESETS, TABLE2_ROWS
from gausslib.layers import preset_flags
from gausslib.problems import NOISE_SEED, targets  # noqa: F401 - part of this module's public names
from gausslib.results import RESULTS, read_records, summarize, summary_rows  # noqa: F401 - public names

# targets, NOISE_SEED, RESULTS, read_records, summarize, summary_rows, TV_GRID and ABLATION stay importable
# from here for the notebooks and outside checks written before gausslib.problems and gausslib.results.
__all__ = ["main", "parser", "METHODS", "noise_levels", "settings", "cells", "select_tv_lam", "build_problem", "budget",
           "shard_of", "shard_path"]

METHODS = ("tv", "raw", "spherical", "orthogonal", "glayers", "csgmw", "noisereg")
STYLEGAN_ONLY = ("csgmw", "noisereg")
ADAM_METHODS = ("csgmw", "noisereg")
NOISEREG_LR = 0.1
LBFGS_HISTORY = 30  # invert's L-BFGS memory, the authors' (recorded in the budget)
VALIDATION_IDS = [900, 901, 902]  # targets for tuning only, never in a results table
TV_GRID = {name: problems.get(name).TV_GRID for name in problems.names()}
ABLATION = {name: preset_flags(name) for name in _ABLATION_PRESETS}  # Table 2: which layers are on


def build_problem(problem: str, setting, x: torch.Tensor, ids: list[int]) -> Problem:
    """Return the :class:`Problem` of ``setting`` (a ``Setting`` or a record's dict) on targets
    ``x: [N, C, H, W]``, noise seeded by image id (:func:`gausslib.problems.build`), on ``x``'s
    device (built on the CPU, where the noise is drawn, then moved)."""
    prob = problems.build(problem, setting, x.cpu(), ids)
    if x.device.type == "cpu":
        return prob
    return dataclasses.replace(prob, operator=prob.operator.to(x.device), y=prob.y.to(x.device), x_true=x)


def noise_levels(G, problem: str, setting: dict, ids: list[int]) -> dict[int, float]:
    """Return ``{image: misfit of the true image}`` for the targets ``ids`` of a study cell: the noise's own
    misfit, where the discrepancy principle stops (:func:`gausslib.results.best_at_stop`). The targets and
    their noise are drawn again exactly as the study drew them."""
    x = targets(G, setting["targets"], ids, G.resolution)
    prob = build_problem(problem, setting, x, ids)
    with torch.no_grad():
        return dict(zip(ids, prob.misfit(x, prob.y).tolist()))


def settings(args) -> list[dict]:
    """Return the settings the arguments ask for, as the records' dicts."""
    spec = problems.get(args.problem)
    return [problems.record(s) for tg in args.targets for s in spec.settings(args, tg)]


def budget(args, method: str, is_glow: bool) -> dict:
    """Return the run settings that change ``method``'s result besides its setting and variant
    (the record's ``"budget"``, part of its key): protocol, iterations, restarts, seed, patch sizes."""
    out = {"protocol": args.protocol}
    if method == "tv":
        return {**out, "tv_iters": args.tv_iters}
    if method in ADAM_METHODS:
        out.update(adam_iters=args.adam_iters, lr=args.csgmw_lr if method == "csgmw" else NOISEREG_LR)
    else:
        out.update(iters=args.iters, lbfgs_history=LBFGS_HISTORY)
    out.update(restarts=_restarts(args, method), seed=args.seed)
    if method not in ADAM_METHODS:
        out.update(dict(glow_psize=args.glow_psize) if is_glow else dict(psize=args.psize,
                                                                          noise_psize=args.noise_psize))
    return out


def _restarts(args, method: str) -> int:
    """Best-of-restarts for the latent methods only; the W-space baselines start once (the paper's
    fixed initialisation; protocol 1: best-of-restarts for them too)."""
    return 1 if method in ADAM_METHODS and args.protocol >= 2 else args.restarts


def _tv_start(args, prob: Problem) -> torch.Tensor | None:
    """Return TV's first iterate: the problem's ``tv_start`` under protocol 2, else None (data-driven)."""
    start = getattr(problems.get(args.problem), "tv_start", None)
    return start(prob.x_true) if start is not None and args.protocol >= 2 else None


# ----------------------------------------------------------------------------------- methods
CROSS = ("spherical", "orthogonal", "glayers")  # the latent reparameterisations of the paper


def _latent(args, method: str, options: dict, layers: str = "full"):
    """Return the reparameterisation ``method`` of :data:`CROSS` with ``options`` (noise mode, patch sizes)."""
    from gausslib import reparam

    if method == "spherical":
        return reparam.Spherical(**options, joint=args.protocol >= 2)
    if method == "orthogonal":
        return reparam.Orthogonal(**options)
    return reparam.Gaussianized(layers=layers, roll=args.roll, **options)


def _crossed(args, method: str, rp, variant: dict, is_glow: bool) -> list[tuple[dict, object]]:
    """Return ``[(variant additions, reparameterisation)]`` of a latent method: itself (unless
    ``--noise-by`` leaves out ``same``), then with its noise maps by each other method of ``--noise-by``
    (Table 5's g/o and o/g; StyleGAN2 cells whose noise maps are reparameterised only)."""
    from gausslib import reparam

    out = [({}, rp)] if "same" in args.noise_by else []
    if is_glow or variant.get("noise", "reparam") != "reparam":
        return out
    return out + [({"noise_by": other}, reparam.Mixed(rp, _latent(args, other, rp.space_options)))
                  for other in args.noise_by if other not in ("same", method)]


@dataclass
class Cell:
    method: str
    variant: dict
    run: Callable[[Problem], InversionResult]
    budget: dict = field(default_factory=dict)  # filled by cells(): see budget()


def select_tv_lam(args, G, setting: dict) -> float:
    """Return the TV weight of the problem's ``TV_GRID`` with the best mean PSNR on the validation targets."""
    from gausslib import baselines

    grid = TV_GRID[args.problem]
    x = targets(G, setting["targets"], VALIDATION_IDS, G.resolution)
    prob = build_problem(args.problem, setting, x, VALIDATION_IDS)
    start = _tv_start(args, prob)
    scores = [float(baselines.tv(prob, lam=lam, iters=args.tv_iters, start=start, progress=False)
                    .metrics["psnr"].mean()) for lam in grid]
    return grid[max(range(len(scores)), key=scores.__getitem__)]


def cells(args, G, setting: dict) -> list[Cell]:
    """Return the (method, variant, runner) cells the arguments ask for in ``setting``."""
    from gausslib import baselines, reparam

    is_glow = G.family == "glow"
    common = dict(restarts=args.restarts, seed=args.seed, progress=args.progress,
                  history_every=args.history_every, dashboard=False)

    def lbfgs(rp):
        return lambda prob: invert(prob, G, rp, iters=args.iters, **common)

    patches = dict(glow_psize=args.glow_psize) if is_glow else dict(psize=args.psize, noise_psize=args.noise_psize)

    def latent_variants():  # StyleGAN2: noise-map modes; Glow: layouts
        if is_glow:
            return [dict(layout=layout) for layout in args.layouts]
        return [dict(noise=m) for m in args.noise_modes]

    out = []
    for method in args.methods:
        if method in STYLEGAN_ONLY and is_glow:
            raise ValueError(f"methods: {method!r} needs a StyleGAN2 generator, got Glow")
        if method == "tv":
            lam = select_tv_lam(args, G, setting) if args.tv_lam is None else args.tv_lam
            variant = {"lam": lam, "lam_from": "validation" if args.tv_lam is None else "given"}
            out.append(Cell("tv", variant, lambda prob, lam=lam: baselines.tv(
                prob, lam=lam, iters=args.tv_iters, start=_tv_start(args, prob),
                history_every=args.history_every, progress=args.progress)))
        elif method == "raw":
            for beta in args.betas:
                for v in latent_variants()[:1] if is_glow else latent_variants():
                    out.append(Cell("raw", {"beta": beta, **v}, lbfgs(reparam.Raw(beta, **v, **patches))))
        elif method in ("spherical", "orthogonal"):
            vs = latent_variants()[:1] if (is_glow and method == "spherical") else latent_variants()
            out += [Cell(method, {**v, **cross}, lbfgs(rp)) for v in vs
                    for cross, rp in _crossed(args, method, _latent(args, method, {**v, **patches}), v, is_glow)]
        elif method == "glayers":
            for name in dict.fromkeys((*args.layers, *(TABLE2_ROWS if args.ablation else ()))):
                for v in latent_variants():
                    variant = {"layers": name, **preset_flags(name), "roll": args.roll, **v}
                    out += [Cell("glayers", {**variant, **cross}, lbfgs(rp))
                            for cross, rp in _crossed(args, method, _latent(args, method, {**v, **patches}, name),
                                                      v, is_glow)]
        elif method == "csgmw":
            rp = baselines.CSGMw(lam=args.csgmw_lam)
            out.append(Cell("csgmw", rp.describe(), lambda prob, rp=rp: invert(
                prob, G, rp, optimizer="adam", lr=args.csgmw_lr, iters=args.adam_iters,
                **{**common, "restarts": _restarts(args, "csgmw")})))
        elif method == "noisereg":
            rp = baselines.NoiseReg(wplus=args.protocol >= 2)
            out.append(Cell("noisereg", rp.describe(), lambda prob, rp=rp: invert(
                prob, G, rp, optimizer="adam", lr=NOISEREG_LR, iters=args.adam_iters,
                **{**common, "restarts": _restarts(args, "noisereg")})))
        else:
            raise ValueError(f"methods: unknown method {method!r}; expected some of {METHODS}")
    if args.dtype != "float32":  # results in another precision are other cells
        for cell in out:
            cell.variant["dtype"] = args.dtype
    for cell in out:
        cell.budget = budget(args, cell.method, is_glow)
    return out


# -------------------------------------------------------------------------------------- run
def _lpips(problem: Problem, res: InversionResult) -> torch.Tensor:
    N, R = res.images.shape[:2]
    x = res.images.flatten(0, 1)
    ref = problem.x_true.to(x).repeat_interleave(R, 0)
    return metrics.lpips(x, ref, problem.data_range, problem.data_min).reshape(N, R)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def shard_of(spec: str) -> tuple[int, int]:
    """Return ``(i, N)`` of a ``--shard`` value: ``"i/N"`` (0 ≤ i < N) or ``"rank"`` (torchrun's
    ``RANK``/``WORLD_SIZE``, else SLURM's ``SLURM_ARRAY_TASK_ID``/``SLURM_ARRAY_TASK_COUNT``)."""
    if spec == "rank":
        for i_name, n_name in (("RANK", "WORLD_SIZE"), ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT")):
            if i_name in os.environ and n_name in os.environ:
                spec = f"{os.environ[i_name]}/{os.environ[n_name]}"
                break
        else:
            raise ValueError("shard: 'rank' needs RANK and WORLD_SIZE (torchrun) or SLURM_ARRAY_TASK_ID and "
                             "SLURM_ARRAY_TASK_COUNT in the environment")
    try:
        i, n = (int(v) for v in spec.split("/"))
    except ValueError:
        raise ValueError(f"shard must be 'i/N' or 'rank', got {spec!r}") from None
    if not 0 <= i < n:
        raise ValueError(f"shard: need 0 ≤ i < N, got {spec!r}")
    return i, n


def shard_path(out: Path, i: int, n: int) -> Path:
    """Return shard i of N's file beside ``out``: ``<stem>.shard-i-of-N.jsonl``."""
    return out.with_name(f"{out.stem}.shard-{i}-of-{n}{out.suffix}")


def _siblings(out: Path) -> list[Path]:
    """Return ``out`` and the shard files of the same stem (any N): the cells done anywhere."""
    base = out.with_name(results.unsharded(out.name))
    return [base, *sorted(base.parent.glob(f"{base.stem}.shard-*{base.suffix}"))]


def run(args) -> None:
    """Run the protocol of ``args`` (see :func:`main`), appending records to ``args.out`` (one writer
    at a time: :class:`gausslib.results.writer_lock`)."""
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with results.writer_lock(out):
        _run_locked(args, out)


def _device(name: str) -> torch.device:
    """Return the device of ``--device``: "cuda" under torchrun is this rank's GPU (``LOCAL_RANK``)."""
    try:
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"])) if name == "cuda" and "LOCAL_RANK" in os.environ \
            else torch.device(name)
    except RuntimeError as exc:
        raise ValueError(f"device: expected a torch device such as 'cpu', 'cuda' or 'cuda:1', got {name!r}") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device: {name!r} asked for, but torch sees no CUDA device here")
    return device


def _run_locked(args, out: Path) -> None:
    from gausslib.generators import load
    from gausslib.generators.zoo import resolve, sha256

    torch.set_num_threads(args.threads)
    device = _device(args.device)
    G = load(args.generator).to(device, getattr(torch, args.dtype)).requires_grad_(False)
    sha = sha256(resolve(args.generator)[0])
    results.check_same_generator(out, sha, args.problem)
    command = "python -m gausslib.study " + " ".join(shlex.quote(a) for a in args.argv)
    results.log_run(out, {"event": "start", "command": command, "generator": str(args.generator),
                          "generator_sha256": sha, "machine": machine(), "threads": args.threads,
                          "device": str(device), "shard": list(args.shard), "time": _now()})
    note = results.repair(out)
    if note:
        print(f"REPAIRED {note}", file=sys.stderr, flush=True)
        results.log_run(out, {"event": "repair", "note": note, "time": _now()})
    done = results.done(_siblings(out))
    t_start, n_new = time.time(), 0
    ids_all = list(range(args.first_image, args.first_image + args.images))
    if set(ids_all) & set(VALIDATION_IDS):
        raise ValueError(f"images: ids {sorted(set(ids_all) & set(VALIDATION_IDS))} are reserved for tuning")
    shard, n_shards = args.shard
    for s_index, setting in enumerate(settings(args)):
        # the shard's part: (setting, image) pairs dealt round-robin, the same on every machine
        ids_mine = [i for j, i in enumerate(ids_all) if (s_index * len(ids_all) + j) % n_shards == shard]
        if not ids_mine:
            continue
        x_all = targets(G, setting["targets"], ids_mine, G.resolution)
        setting_cells = cells(args, G, setting)
        # image-major: every finished image has all methods, so partial tables compare like with like
        for b in range(0, len(ids_mine), args.batch_images):
            for cell in setting_cells:
                ids = [i for i in ids_mine[b : b + args.batch_images]
                       if results.key(args.problem, setting, cell.method, cell.variant, i, cell.budget) not in done]
                if ids:
                    n_new += _run_cell(args, out, setting, cell, ids, x_all[[ids_mine.index(i) for i in ids]])
    results.log_run(out, {"event": "finish", "command": command, "generator_sha256": sha, "images_run": n_new,
                          "wall_seconds": time.time() - t_start, "time": _now()})


def _fail(out: Path, setting: dict, cell: Cell, ids: list[int], error: str) -> None:
    print(f"FAILED {cell.method} {cell.variant} images {ids}: {error}", file=sys.stderr, flush=True)
    results.log_run(out, {"event": "error", "setting": setting, "method": cell.method, "variant": cell.variant,
                          "budget": cell.budget, "images": ids, "error": error[:500], "time": _now()})


def _run_cell(args, out: Path, setting: dict, cell: Cell, ids: list[int], x: torch.Tensor) -> int:
    """Invert images ``ids`` (targets ``x: [N, C, H, W]``) with ``cell``, append the records; return
    how many images were done. A cell that raises, or an image without a restart of finite metrics,
    is logged as an error and gets no "best" record (a rerun retries it); the run goes on."""
    try:
        prob = build_problem(args.problem, setting, x, ids)
        res = cell.run(prob)
        lpips_values = _lpips(prob, res)
    except Exception as exc:  # noqa: BLE001 - a diverged cell must not stop an unattended chain
        _fail(out, setting, cell, ids, repr(exc))
        return 0
    failed = results.failed_images(ids, res)
    if failed:
        _fail(out, setting, cell, failed, "no restart with finite PSNR and SSIM (diverged)")
    recs = results.make_records(args.problem, setting, cell.method, cell.variant, ids, res, lpips_values,
                                cell.budget)
    if recs:
        results.append_records(out, recs)
    best = [r for r in recs if r["restart"] == "best"]
    print(f"{args.problem} {setting} {cell.method} {cell.variant} images {[r['image'] for r in best]}: PSNR "
          + " ".join(f"{r['psnr']:.2f}" for r in best) + f"  ({res.seconds:.1f} s)", flush=True)
    return len(best)


# ----------------------------------------------------------------------------------------- CLI
def _add_protocol_arguments(s: argparse.ArgumentParser, spec) -> None:
    """Add the options every problem shares (methods, budget, patches, generator, output)."""
    s.add_argument("--methods", nargs="+", default=["tv", "spherical", "glayers"], help=f"some of {METHODS}")
    s.add_argument("--protocol", type=int, choices=[1, 2], default=results.PROTOCOL,
                   help="2: the paper's protocol (gausslib/README.md); 1: the committed results' — CSGM-w and "
                        "NoiseReg best-of-restarts, NoiseReg one w, spherical per tensor, TV from the data")
    s.add_argument("--images", type=int, default=25)
    s.add_argument("--first-image", type=int, default=0, help="first target id")
    s.add_argument("--restarts", type=int, default=3)
    s.add_argument("--iters", type=int, default=510, help="L-BFGS iterations at most (the paper's 510)")
    s.add_argument("--adam-iters", type=int, default=1000, help="Adam iterations (CSGM-w, NoiseReg)")
    s.add_argument("--tv-iters", type=int, default=300)
    s.add_argument("--tv-lam", type=float, default=None,
                   help=f"TV weight (default: the best of {spec.TV_GRID} on validation targets {VALIDATION_IDS})")
    s.add_argument("--csgmw-lam", type=float, default=1e-3)
    s.add_argument("--csgmw-lr", type=float, default=0.05)
    s.add_argument("--betas", type=float, nargs="+", default=[0.0], help="β of the raw method")
    s.add_argument("--ablation", action="store_true", help="also the layer ablation of Table 2 (every row: "
                   f"{', '.join(TABLE2_ROWS)})")
    s.add_argument("--layers", nargs="+", default=["full"], choices=list(PRESETS),
                   help="G-layer stacks to run (presets of gausslib.layers.PRESETS; Table 10: ica+yj ica+lambert)")
    s.add_argument("--noise-by", nargs="+", default=["same"], choices=["same", *CROSS],
                   help="StyleGAN2: also (or, without 'same', only) the latent methods with their noise maps by "
                        "another reparameterisation (Table 5's g/o: --methods glayers --noise-by same orthogonal)")
    s.add_argument("--roll", action="store_true", help="G layers: second set on rolled patches")
    s.add_argument("--noise-modes", nargs="+", default=["reparam"], choices=["reparam", "free", "fixed"],
                   help="StyleGAN2 noise maps (Table 5 compares all three)")
    s.add_argument("--psize", type=int, default=32, help="StyleGAN2 z+ patch length")
    s.add_argument("--noise-psize", type=int, default=8, help="StyleGAN2 noise patch side")
    s.add_argument("--glow-psize", type=int, default=8, help="Glow patch side")
    s.add_argument("--layouts", nargs="+", default=["P1", "P2"], choices=["P1", "P2"], help="Glow layouts")
    s.add_argument("--targets", nargs="+", default=[spec.Setting().targets], choices=problems.TARGETS)
    s.add_argument("--generator", default=spec.DEFAULT_GENERATOR, help="shipped name or .pt path")
    s.add_argument("--batch-images", type=int, default=1, help="images inverted together (B = images × restarts)")
    s.add_argument("--seed", type=int, default=0, help="restart r starts from seed + r")
    s.add_argument("--history-every", type=int, default=50)
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--device", default="cpu", help="cpu, cuda (under torchrun: the rank's LOCAL_RANK GPU), cuda:1, …")
    s.add_argument("--dtype", choices=["float32", "float64"], default="float32",
                   help="precision of generator, layers and operator (float64: smoother objective)")
    s.add_argument("--results-dir", default=str(RESULTS), help="results root (default: %(default)s)")
    s.add_argument("--out", default=None,
                   help="JSON-lines file (default: <results-dir>/<problem>.jsonl, <results-dir>/quick/ with --quick)")
    s.add_argument("--quick", action="store_true", help="tiny smoke run (2 images, 2 restarts, 5 iterations)")
    s.add_argument("--shard", default="0/1", metavar="i/N",
                   help="run part i of N (0-based) into <out stem>.shard-i-of-N.jsonl; 'rank': from torchrun's "
                        "RANK/WORLD_SIZE or a SLURM array's task id/count")
    s.add_argument("--no-progress", dest="progress", action="store_false")


def parser() -> argparse.ArgumentParser:
    """Return the CLI's parser: one sub-command per registered problem, and ``summarize``."""
    p = argparse.ArgumentParser(prog="python -m gausslib.study", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="problem", required=True)
    for name in problems.names():
        spec = problems.get(name)
        s = sub.add_parser(name, help=f"run the {name} study")
        _add_protocol_arguments(s, spec)
        spec.add_arguments(s)
    s = sub.add_parser("summarize", help="print Markdown tables of <results-dir>/*.jsonl and save a CSV")
    s.add_argument("paths", nargs="*", help="JSON-lines files (default: <results-dir>/*.jsonl)")
    s.add_argument("--results-dir", default=str(RESULTS), help="results root (default: %(default)s)")
    s.add_argument("--csv", default=None, help="CSV file (default: <results-dir>/summary.csv)")
    return p


def _check(args) -> None:
    unknown = [m for m in args.methods if m not in METHODS]
    if unknown:
        raise ValueError(f"methods: unknown method(s) {unknown}; expected some of {METHODS}")
    for name in ("images", "restarts", "batch_images", "threads", "history_every"):
        if getattr(args, name) < 1:
            raise ValueError(f"{name.replace('_', '-')} must be ≥ 1, got {getattr(args, name)}")
    for name in ("iters", "adam_iters", "tv_iters"):
        if getattr(args, name) < 0:
            raise ValueError(f"{name.replace('_', '-')} must be ≥ 0, got {getattr(args, name)}")


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(argv)
    root = Path(args.results_dir)
    if args.problem == "summarize":
        paths = [Path(p) for p in args.paths] or results.result_files(root)
        print(summarize(paths, Path(args.csv) if args.csv else root / "summary.csv"))
        return
    args.argv = argv
    _check(args)
    args.shard = shard_of(args.shard)
    if args.quick:
        args.images, args.restarts = min(args.images, 2), min(args.restarts, 2)
        args.iters, args.adam_iters, args.tv_iters, args.history_every = 5, 5, 5, 5
    if args.out is None:
        args.out = str(root / ("quick" if args.quick else "") / f"{args.problem}.jsonl")
    if args.shard[1] > 1:
        args.out = str(shard_path(Path(args.out), *args.shard))
    run(args)


if __name__ == "__main__":
    main()
