"""The paper's studies as a resumable CLI: ``python -m gausslib.study {mri,deblur,eikonal,summarize}``.

A protocol is images × restarts × methods × settings. Every finished image appends one JSON
object per restart plus one ``"restart": "best"`` (best of the restarts per metric, the paper's
protocol) to a JSON-lines file; a rerun skips the (setting, method, variant, image) cells that
already have their "best" record. Record schema::

    {"problem": "mri"|"deblur"|"eikonal", "setting": {...}, "method": "glayers"|..., "variant": {...},
     "image": int, "restart": int|"best", "psnr": float, "ssim": float, "lpips": float|null,
     "seconds": float, "iters": int}

("iters": the iterations the restart actually ran — L-BFGS stops an item early when it has
converged or its line search fails; for "best", those of the best-PSNR restart. "seconds": the
image's wall time, all its restarts together.)

Targets (``--targets``): ``generator`` — drawn from the generator with seeds never used for
inversion (StyleGAN2: one style vector for all inputs and its own noise; inversion uses z+),
``phantom`` — held-out phantoms of the training distribution (seeds < 10 000, never trained on),
``ood`` — the tumour phantoms (out of distribution). Each run also appends its command line,
machine, generator checksum and wall time to ``runs.jsonl`` beside the results (a file made
with one generator is never resumed with another).

Examples::

    python -m gausslib.study mri --accel 8 --snr 20 10 --methods tv spherical csgmw noisereg orthogonal glayers --ablation
    python -m gausslib.study deblur --methods spherical orthogonal raw glayers --betas 0 0.01 --layouts P1 P2 --inaccurate
    python -m gausslib.study eikonal --methods tv spherical glayers
    python -m gausslib.study summarize
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import shlex
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from gausslib import metrics, phantoms
from gausslib.bench import machine
from gausslib.invert import InversionResult, Problem, invert, squared_error

__all__ = ["main", "METHODS", "summarize", "summary_rows", "build_problem", "targets"]

PROBLEMS = ("mri", "deblur", "eikonal")
METHODS = ("tv", "raw", "spherical", "orthogonal", "glayers", "csgmw", "noisereg")
STYLEGAN_ONLY = ("csgmw", "noisereg")
TARGETS = ("generator", "phantom", "ood")
RESULTS = Path(__file__).resolve().parents[1] / "data" / "results"
DEFAULT_GENERATOR = {"mri": "stylegan2-phantom64", "deblur": "glow-phantom64", "eikonal": "stylegan2-phantom64"}
TARGET_SEED = 1_000_000  # generator targets: seeds far from the inversion seeds 0, 1, 2, …
NOISE_SEED = 2_000_000   # measurement noise
PHANTOM_SEED = 1         # held-out phantoms (training uses seeds ≥ 10 000)
# Table 2 of the paper: which layers are on (ZCA whitening is always the first step of ICA)
ABLATION = {
    "zca": dict(ica=False, yeo_johnson=False, lambert=False),
    "ica": dict(ica=True, yeo_johnson=False, lambert=False),
    "ica+yj": dict(ica=True, yeo_johnson=True, lambert=False),
    "ica+lambert": dict(ica=True, yeo_johnson=False, lambert=True),
}
FULL = dict(ica=True, yeo_johnson=True, lambert=True)


# ----------------------------------------------------------------------------------- targets
def targets(G, kind: str, ids: list[int], size: int) -> torch.Tensor:
    """Return the target images ``[len(ids), C, size, size]`` in [−1, 1] for image ids ``ids``."""
    if kind not in TARGETS:
        raise ValueError(f"targets must be one of {TARGETS}, got {kind!r}")
    dtype = next(G.parameters()).dtype
    out = []
    for i in ids:
        if kind == "generator":
            g = torch.Generator().manual_seed(TARGET_SEED + i)
            with torch.no_grad():
                if hasattr(G, "num_ws"):
                    z = torch.randn(1, G.z_dim, generator=g, dtype=torch.float64).to(dtype)
                    noise = [t.to(dtype) for t in G.make_noise(1, g)]
                    out.append(G(z, noise))
                else:
                    out.append(G.sample(1, 0.7, generator=g))
        else:
            out.append(phantoms.sample(1, size=size, seed=PHANTOM_SEED + i,
                                       kind="brain" if kind == "phantom" else "ood", dtype=dtype))
    return torch.cat(out).clamp(-1, 1)


# ---------------------------------------------------------------------------------- problems
def _mri_mask(size: int, accel: float) -> torch.Tensor:
    from gausslib.operators import mri_mask

    shipped = RESULTS.parent / "masks" / f"random_{size}_{accel:g}x.npy"
    if shipped.exists():
        import numpy as np

        return torch.from_numpy(np.load(shipped))
    return mri_mask(size, accel, seed=0)


def _scaled_loss(scale: torch.Tensor) -> Callable:
    """Return ``½‖(pred − y)/s‖²`` per item, ``s: [B]`` per image (repeated over restarts)."""
    def loss(pred, y):
        s = scale.to(pred).repeat_interleave(pred.shape[0] // scale.shape[0])
        return squared_error(pred / s.view(-1, *[1] * (pred.ndim - 1)), y / s.view(-1, *[1] * (y.ndim - 1)))
    return loss


def build_problem(problem: str, setting: dict, x: torch.Tensor, ids: list[int]) -> Problem:
    """Return the :class:`Problem` of ``setting`` on targets ``x: [N, C, H, W]`` (noise seeded by id)."""
    from gausslib import operators as ops

    size = x.shape[-1]
    gens = [torch.Generator().manual_seed(NOISE_SEED + i) for i in ids]

    def per_image(fn, data):  # noise drawn per image from its own seed: reproducible, resumable
        return torch.cat([fn(data[k : k + 1], gens[k]) for k in range(len(ids))])

    if problem == "mri":
        op = ops.MRI(_mri_mask(size, setting["accel"])).to(x.dtype)
        y = op(x)
        if setting["snr_db"] is not None:
            y = per_image(lambda d, g: ops.add_complex_noise(d, setting["snr_db"], g), y)
        return Problem(op, y, x_true=x)
    if problem == "deblur":
        data_op = ops.GaussianBlur(setting["sigma"]).to(x.dtype)
        model_op = ops.GaussianBlur(setting["model_sigma"]).to(x.dtype)
        std = setting["noise_std"] * 2 / 255  # stated on the 0–255 scale; images span 2
        y = per_image(lambda d, g: ops.add_gaussian_noise(d, std, g), data_op(x))
        return Problem(model_op, y, x_true=x)
    if problem == "eikonal":
        op = ops.Eikonal(size, h=setting["extent_m"] / size, per_edge=setting["per_edge"])
        with torch.no_grad():
            t = op(x)
        y = per_image(lambda d, g: ops.add_traveltime_noise(d, setting["noise"], g), t)
        # traveltimes are ~1e-4 s: scale the misfit by σ·mean(t) so that optimiser tolerances
        # mean the same as for the other problems (a constant factor: same minimiser)
        scale = setting["noise"] * y.flatten(1).mean(1)
        return Problem(op, y, x_true=x, loss=_scaled_loss(scale))
    raise ValueError(f"problem must be one of {PROBLEMS}, got {problem!r}")


def _number(v: float | None) -> float | int | None:
    """Return v as an int when it is integral (``8`` rather than ``8.0`` in the records)."""
    return int(v) if v is not None and float(v).is_integer() else v


def settings(args) -> list[dict]:
    """Return the list of settings (dicts) the arguments ask for."""
    out = []
    for tg in args.targets:
        if args.problem == "mri":
            out += [{"accel": _number(a), "snr_db": _number(s), "targets": tg} for a in args.accel for s in args.snr]
        elif args.problem == "deblur":
            models = [args.sigma] + ([args.inaccurate] if args.inaccurate else [])
            out += [{"sigma": args.sigma, "model_sigma": m, "noise_std": args.noise_std, "targets": tg}
                    for m in models]
        else:
            out.append({"per_edge": args.per_edge, "noise": args.eikonal_noise, "extent_m": args.extent,
                        "targets": tg})
    return out


# ----------------------------------------------------------------------------------- methods
@dataclass
class Cell:
    method: str
    variant: dict
    run: Callable[[Problem], InversionResult]


TV_GRID = {"mri": [0.003, 0.01, 0.03, 0.1], "deblur": [0.03, 0.1, 0.3], "eikonal": [0.3, 1.0, 3.0, 10.0]}
VALIDATION_IDS = [900, 901, 902]  # targets for tuning only, never in a results table


def select_tv_lam(args, G, setting: dict) -> float:
    """Return the TV weight of ``TV_GRID`` with the best mean PSNR on the validation targets."""
    from gausslib import baselines

    x = targets(G, setting["targets"], VALIDATION_IDS, G.resolution)
    prob = build_problem(args.problem, setting, x, VALIDATION_IDS)
    scores = [float(baselines.tv(prob, lam=lam, iters=args.tv_iters, progress=False).metrics["psnr"].mean())
              for lam in TV_GRID[args.problem]]
    return TV_GRID[args.problem][max(range(len(scores)), key=scores.__getitem__)]


def cells(args, G, setting: dict) -> list[Cell]:
    """Return the (method, variant, runner) cells the arguments ask for in ``setting``."""
    from gausslib import baselines, reparam

    is_glow = not hasattr(G, "num_ws")
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
                prob, lam=lam, iters=args.tv_iters, history_every=args.history_every,
                progress=args.progress)))
        elif method == "raw":
            for beta in args.betas:
                for v in latent_variants()[:1] if is_glow else latent_variants():
                    out.append(Cell("raw", {"beta": beta, **v}, lbfgs(reparam.Raw(beta, **v, **patches))))
        elif method in ("spherical", "orthogonal"):
            cls = reparam.Spherical if method == "spherical" else reparam.Orthogonal
            vs = latent_variants()[:1] if (is_glow and method == "spherical") else latent_variants()
            out += [Cell(method, dict(v), lbfgs(cls(**v, **patches))) for v in vs]
        elif method == "glayers":
            flags = [("full", FULL)] + (list(ABLATION.items()) if args.ablation else [])
            for name, layers in flags:
                for v in latent_variants():
                    rp = reparam.Gaussianized(layers=layers, roll=args.roll, **v, **patches)
                    out.append(Cell("glayers", {"layers": name, **layers, "roll": args.roll, **v}, lbfgs(rp)))
        elif method == "csgmw":
            rp = baselines.CSGMw(lam=args.csgmw_lam)
            out.append(Cell("csgmw", rp.describe(), lambda prob, rp=rp: invert(
                prob, G, rp, optimizer="adam", lr=args.csgmw_lr, iters=args.adam_iters, **common)))
        elif method == "noisereg":
            rp = baselines.NoiseReg()
            out.append(Cell("noisereg", rp.describe(), lambda prob, rp=rp: invert(
                prob, G, rp, optimizer="adam", lr=0.1, iters=args.adam_iters, **common)))
        else:
            raise ValueError(f"methods: unknown method {method!r}; expected some of {METHODS}")
    if args.dtype != "float32":  # results in another precision are other cells
        for cell in out:
            cell.variant["dtype"] = args.dtype
    return out


# ----------------------------------------------------------------------------------- records
def _key(problem: str, setting: dict, method: str, variant: dict, image: int) -> str:
    return json.dumps([problem, setting, method, variant, image], sort_keys=True)


def read_records(path: Path) -> list[dict]:
    """Return the records of a JSON-lines file (an unfinished last line is ignored)."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def _finite(v) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


def records(problem: str, setting: dict, cell: Cell, ids: list[int], res: InversionResult,
            lpips_values: torch.Tensor) -> list[dict]:
    """Return the JSON records (every restart, then "best") of a finished batch of images."""
    out = []
    R = res.images.shape[1]
    seconds = res.seconds / len(ids)
    for k, image in enumerate(ids):
        base = {"problem": problem, "setting": setting, "method": cell.method, "variant": cell.variant,
                "image": image}
        for r in range(R):
            out.append({**base, "restart": r, "psnr": float(res.metrics["psnr"][k, r]),
                        "ssim": float(res.metrics["ssim"][k, r]), "lpips": _finite(lpips_values[k, r]),
                        "seconds": seconds, "iters": int(res.steps[k, r])})
        best_lpips = lpips_values[k].nan_to_num(math.inf).amin()
        out.append({**base, "restart": "best", "psnr": float(res.metrics["psnr"][k].amax()),
                    "ssim": float(res.metrics["ssim"][k].amax()), "lpips": _finite(best_lpips),
                    "seconds": seconds, "iters": int(res.steps[k, res.best_restart["psnr"][k]])})
    return out


def _lpips(problem: Problem, res: InversionResult) -> torch.Tensor:
    N, R = res.images.shape[:2]
    x = res.images.flatten(0, 1)
    ref = problem.x_true.to(x).repeat_interleave(R, 0)
    return metrics.lpips(x, ref, problem.data_range, problem.data_min).reshape(N, R)


def _log_run(out: Path, entry: dict) -> None:
    with (out.parent / "runs.jsonl").open("a") as f:
        f.write(json.dumps({"out": out.name, **entry}) + "\n")


def _check_same_generator(out: Path, sha: str) -> None:
    """Raise ValueError when ``out`` already holds records made with a different generator file."""
    if not read_records(out):
        return
    other = {r.get("generator_sha256") for r in read_records(out.parent / "runs.jsonl")
             if r.get("out") == out.name} - {sha, None}
    if other:
        raise ValueError(f"generator: {out} holds results of another generator (sha256 {sorted(other)}), "
                         f"this one is {sha}; resuming would mix them — choose another --out")


def run(args) -> None:
    """Run the protocol of ``args`` (see :func:`main`), appending records to ``args.out``."""
    from gausslib.generators import load
    from gausslib.generators.zoo import resolve, sha256

    torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    G = load(args.generator).to(dtype).requires_grad_(False)
    sha = sha256(resolve(args.generator)[0])
    size = G.resolution
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    _check_same_generator(out, sha)
    command = "python -m gausslib.study " + " ".join(shlex.quote(a) for a in args.argv)
    _log_run(out, {"event": "start", "command": command, "generator": str(args.generator),
                   "generator_sha256": sha, "machine": machine(), "threads": args.threads,
                   "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    done = {_key(r["problem"], r["setting"], r["method"], r["variant"], r["image"])
            for r in read_records(out) if r.get("restart") == "best"}
    t_start = time.time()
    n_new = 0
    ids_all = list(range(args.first_image, args.first_image + args.images))
    if set(ids_all) & set(VALIDATION_IDS):
        raise ValueError(f"images: ids {sorted(set(ids_all) & set(VALIDATION_IDS))} are reserved for tuning")
    for setting in settings(args):
        x_all = targets(G, setting["targets"], ids_all, size)
        setting_cells = cells(args, G, setting)
        # image-major: every finished image has all methods, so partial tables compare like with like
        for b in range(0, len(ids_all), args.batch_images):
            for cell in setting_cells:
                ids = [i for i in ids_all[b : b + args.batch_images]
                       if _key(args.problem, setting, cell.method, cell.variant, i) not in done]
                if not ids:
                    continue
                x = x_all[[i - args.first_image for i in ids]]
                prob = build_problem(args.problem, setting, x, ids)
                try:
                    res = cell.run(prob)
                except (RuntimeError, torch.linalg.LinAlgError) as exc:
                    # an unattended run goes on; the cell has no record, so a rerun retries it
                    print(f"FAILED {cell.method} {cell.variant} images {ids}: {exc!r}", file=sys.stderr, flush=True)
                    _log_run(out, {"event": "error", "setting": setting, "method": cell.method,
                                   "variant": cell.variant, "images": ids, "error": repr(exc)[:500]})
                    continue
                recs = records(args.problem, setting, cell, ids, res, _lpips(prob, res))
                with out.open("a") as f:
                    f.write("".join(json.dumps(r) + "\n" for r in recs))
                n_new += len(ids)
                best = [r for r in recs if r["restart"] == "best"]
                print(f"{args.problem} {setting} {cell.method} {cell.variant} images {ids}: PSNR "
                      + " ".join(f"{r['psnr']:.2f}" for r in best) + f"  ({res.seconds:.1f} s)", flush=True)
    _log_run(out, {"event": "finish", "command": command, "generator_sha256": sha, "images_run": n_new,
                   "wall_seconds": time.time() - t_start,
                   "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})


# --------------------------------------------------------------------------------- summarize
def summary_rows(paths: list[Path]) -> list[dict]:
    """Return one row per (problem, setting, method, variant) of the records in ``paths``: n images
    and mean ± std of the best-of-restarts PSNR / SSIM (LPIPS mean, seconds per image), in the
    paper's column order. ``setting`` and ``variant`` are JSON strings (sorted keys)."""
    groups: dict[tuple, list[dict]] = {}
    for path in paths:
        for r in read_records(path):
            if r.get("restart") != "best":
                continue
            key = (r["problem"], json.dumps(r["setting"], sort_keys=True), r["method"],
                   json.dumps(r["variant"], sort_keys=True))
            groups.setdefault(key, []).append(r)
    order = ("tv", "raw", "spherical", "csgmw", "noisereg", "orthogonal", "glayers")  # the paper's columns
    rows = []
    for (problem, setting, method, variant), recs in sorted(
            groups.items(), key=lambda kv: (kv[0][:2], order.index(kv[0][2]) if kv[0][2] in order else 99, kv[0][3])):
        def stat(name):
            vals = [r[name] for r in recs if r.get(name) is not None]
            if not vals:
                return math.nan, math.nan
            return statistics.fmean(vals), (statistics.stdev(vals) if len(vals) > 1 else 0.0)
        (p, ps), (s, ss), (lp, _) = stat("psnr"), stat("ssim"), stat("lpips")
        rows.append({"problem": problem, "setting": setting, "method": method, "variant": variant,
                     "n": len({r["image"] for r in recs}), "psnr_mean": p, "psnr_std": ps,
                     "ssim_mean": s, "ssim_std": ss, "lpips_mean": lp,
                     "seconds_mean": statistics.fmean(r["seconds"] for r in recs)})
    return rows


def summarize(paths: list[Path], csv_path: Path | None) -> str:
    """Return Markdown tables (mean ± std of the best-of-restarts PSNR / SSIM per method and
    setting, n images) of the records in ``paths``, and write them as CSV to ``csv_path``."""
    rows = summary_rows(paths)
    if csv_path is not None and rows:
        csv_path.parent.mkdir(parents=True, exist_ok=True)
        with csv_path.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    lines = []
    for (problem, setting) in dict.fromkeys((r["problem"], r["setting"]) for r in rows):
        lines += ["", f"### {problem} — {', '.join(f'{k} = {v}' for k, v in json.loads(setting).items())}", "",
                  "| method | variant | n | PSNR (dB) | SSIM | s / image |", "|---|---|---|---|---|---|"]
        for r in rows:
            if (r["problem"], r["setting"]) == (problem, setting):
                variant = ", ".join(f"{k}={v}" for k, v in json.loads(r["variant"]).items())
                lines.append(f"| {r['method']} | {variant} | {r['n']} | {r['psnr_mean']:.2f} ± {r['psnr_std']:.2f}"
                             f" | {r['ssim_mean']:.3f} ± {r['ssim_std']:.3f} | {r['seconds_mean']:.1f} |")
    return "\n".join(lines).lstrip("\n")


# ----------------------------------------------------------------------------------------- CLI
def _snr(v: str) -> float | None:
    return None if v.lower() in ("inf", "none") else float(v)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m gausslib.study", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="problem", required=True)
    for name in PROBLEMS:
        s = sub.add_parser(name, help=f"run the {name} study")
        s.add_argument("--methods", nargs="+", default=["tv", "spherical", "glayers"],
                       help=f"some of {METHODS}")
        s.add_argument("--images", type=int, default=25)
        s.add_argument("--first-image", type=int, default=0, help="first target id")
        s.add_argument("--restarts", type=int, default=3)
        s.add_argument("--iters", type=int, default=300, help="L-BFGS iterations")
        s.add_argument("--adam-iters", type=int, default=1000, help="Adam iterations (CSGM-w, NoiseReg)")
        s.add_argument("--tv-iters", type=int, default=300)
        s.add_argument("--tv-lam", type=float, default=None,
                       help=f"TV weight (default: the best of {TV_GRID[name]} on validation targets {VALIDATION_IDS})")
        s.add_argument("--csgmw-lam", type=float, default=1e-3)
        s.add_argument("--csgmw-lr", type=float, default=0.05)
        s.add_argument("--betas", type=float, nargs="+", default=[0.0], help="β of the raw method")
        s.add_argument("--ablation", action="store_true", help="also the layer ablation of Table 2")
        s.add_argument("--roll", action="store_true", help="G layers: second set on rolled patches")
        s.add_argument("--noise-modes", nargs="+", default=["reparam"], choices=["reparam", "free", "fixed"],
                       help="StyleGAN2 noise maps (Table 5 compares all three)")
        s.add_argument("--psize", type=int, default=32, help="StyleGAN2 z+ patch length")
        s.add_argument("--noise-psize", type=int, default=8, help="StyleGAN2 noise patch side")
        s.add_argument("--glow-psize", type=int, default=8, help="Glow patch side")
        s.add_argument("--layouts", nargs="+", default=["P1", "P2"], choices=["P1", "P2"], help="Glow layouts")
        s.add_argument("--targets", nargs="+", default=["phantom" if name == "deblur" else "generator"],
                       choices=TARGETS)
        s.add_argument("--generator", default=DEFAULT_GENERATOR[name], help="shipped name or .pt path")
        s.add_argument("--batch-images", type=int, default=1,
                       help="images inverted together (B = images × restarts)")
        s.add_argument("--seed", type=int, default=0, help="restart r starts from seed + r")
        s.add_argument("--history-every", type=int, default=50)
        s.add_argument("--threads", type=int, default=1)
        s.add_argument("--dtype", choices=["float32", "float64"], default="float32",
                       help="precision of generator, layers and operator (float64: smoother objective)")
        s.add_argument("--out", default=None, help="JSON-lines file (default data/results/<problem>.jsonl)")
        s.add_argument("--quick", action="store_true", help="tiny smoke run (2 images, 2 restarts, 5 iterations)")
        s.add_argument("--no-progress", dest="progress", action="store_false")
        if name == "mri":
            s.add_argument("--accel", type=float, nargs="+", default=[8.0])
            s.add_argument("--snr", type=_snr, nargs="+", default=[20.0], help="dB; 'inf' for noise-free")
        elif name == "deblur":
            s.add_argument("--sigma", type=float, default=3.0)
            s.add_argument("--inaccurate", type=float, default=None, metavar="SIGMA_MODEL",
                           help="also invert with this (wrong) blur σ")
            s.add_argument("--noise-std", type=float, default=50.0, help="on the 0–255 scale")
        else:
            s.add_argument("--per-edge", type=int, default=8)
            s.add_argument("--eikonal-noise", type=float, default=1e-3)
            s.add_argument("--extent", type=float, default=0.256, help="side of the domain in metres")
    s = sub.add_parser("summarize", help="print Markdown tables of data/results/*.jsonl and save a CSV")
    s.add_argument("paths", nargs="*", help="JSON-lines files (default: data/results/*.jsonl)")
    s.add_argument("--csv", default=str(RESULTS / "summary.csv"))
    return p


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(argv)
    if args.problem == "summarize":
        paths = [Path(p) for p in args.paths] or sorted(p for p in RESULTS.glob("*.jsonl") if p.name != "runs.jsonl")
        print(summarize(paths, Path(args.csv) if args.csv else None))
        return
    args.argv = argv
    unknown = [m for m in args.methods if m not in METHODS]
    if unknown:
        raise ValueError(f"methods: unknown method(s) {unknown}; expected some of {METHODS}")
    for name in ("images", "restarts", "batch_images", "threads", "history_every"):
        if getattr(args, name) < 1:
            raise ValueError(f"{name.replace('_', '-')} must be ≥ 1, got {getattr(args, name)}")
    for name in ("iters", "adam_iters", "tv_iters"):
        if getattr(args, name) < 0:
            raise ValueError(f"{name.replace('_', '-')} must be ≥ 0, got {getattr(args, name)}")
    if args.quick:
        args.images, args.restarts = min(args.images, 2), min(args.restarts, 2)
        args.iters, args.adam_iters, args.tv_iters, args.history_every = 5, 5, 5, 5
    if args.out is None:
        args.out = str(RESULTS / ("quick" if args.quick else "") / f"{args.problem}.jsonl")
    run(args)


if __name__ == "__main__":
    main()
