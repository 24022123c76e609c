"""Study records: where they live, their keys, reading, writing and summaries.

A results root holds one JSON-lines file per problem (``<root>/<problem>.jsonl``), ``runs.jsonl``
(one line per start, error and finish of a study run: command line, machine, generator checksum,
wall time) and ``summary.csv``. Every finished image appends one record per restart plus one
``"restart": "best"`` (best of the restarts per metric, the paper's protocol)::

    {"problem": "mri"|"deblur"|"eikonal"|…, "setting": {...}, "method": "glayers"|..., "variant": {...},
     "image": int, "restart": int|"best", "psnr": float, "ssim": float, "lpips": float|null,
     "seconds": float, "iters": int}

("iters": the iterations the restart actually ran — L-BFGS stops an item early when it has
converged or its line search fails; for "best", those of the best-PSNR restart. "seconds": the
image's wall time, all its restarts together.) A cell is ``(problem, setting, method, variant,
image)``; a study skips the cells that already have their "best" record (:func:`done`).

``RESULTS`` is the default root: ``data/results`` of the source checkout the package runs
from (the book reads the committed results there), else ``./results`` of the working directory
(never a folder inside an installed package).
"""
from __future__ import annotations

import csv
import json
import math
import statistics
from pathlib import Path

import torch

__all__ = ["RESULTS", "default_root", "result_files", "key", "read_records", "make_records", "append_records",
           "done", "log_run", "check_same_generator", "summary_rows", "summarize"]

RUNS = "runs.jsonl"
METHOD_ORDER = ("tv", "raw", "spherical", "csgmw", "noisereg", "orthogonal", "glayers")  # the paper's columns


def default_root() -> Path:
    """Return ``data/results`` of the source checkout holding this package, else ``./results``."""
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").exists() and (checkout / "data").is_dir():
        return checkout / "data" / "results"
    return Path.cwd() / "results"


RESULTS = default_root()


def result_files(root: Path = RESULTS) -> list[Path]:
    """Return the record files ``<root>/*.jsonl`` (not the run log), sorted."""
    return sorted(p for p in Path(root).glob("*.jsonl") if p.name != RUNS)


def key(problem: str, setting: dict, method: str, variant: dict, image: int) -> str:
    """Return the cell key of a record (JSON with sorted keys: independent of dict order)."""
    return json.dumps([problem, setting, method, variant, image], sort_keys=True)


def read_records(path: Path) -> list[dict]:
    """Return the records of a JSON-lines file (an unfinished last line is ignored)."""
    path = Path(path)
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


def make_records(problem: str, setting: dict, method: str, variant: dict, ids: list[int], res,
                 lpips_values: torch.Tensor) -> list[dict]:
    """Return the records (every restart, then "best") of a finished batch of images ``ids``.

    res: the :class:`gausslib.invert.InversionResult` (metrics ``[N, R]``); lpips_values: ``[N, R]``
    (NaN where LPIPS is unavailable: recorded as null).
    """
    out = []
    R = res.images.shape[1]
    seconds = res.seconds / len(ids)
    for k, image in enumerate(ids):
        base = {"problem": problem, "setting": setting, "method": method, "variant": variant, "image": image}
        for r in range(R):
            out.append({**base, "restart": r, "psnr": float(res.metrics["psnr"][k, r]),
                        "ssim": float(res.metrics["ssim"][k, r]), "lpips": _finite(lpips_values[k, r]),
                        "seconds": seconds, "iters": int(res.steps[k, r])})
        best_lpips = lpips_values[k].nan_to_num(math.inf).amin()
        out.append({**base, "restart": "best", "psnr": float(res.metrics["psnr"][k].amax()),
                    "ssim": float(res.metrics["ssim"][k].amax()), "lpips": _finite(best_lpips),
                    "seconds": seconds, "iters": int(res.steps[k, res.best_restart["psnr"][k]])})
    return out


def append_records(path: Path, records: list[dict]) -> None:
    """Append ``records`` to the JSON-lines file ``path`` in one write."""
    with Path(path).open("a") as f:
        f.write("".join(json.dumps(r) + "\n" for r in records))


def done(path: Path) -> set[str]:
    """Return the keys of the cells of ``path`` that have their "best" record."""
    return {key(r["problem"], r["setting"], r["method"], r["variant"], r["image"])
            for r in read_records(path) if r.get("restart") == "best"}


def log_run(out: Path, entry: dict) -> None:
    """Append ``entry`` (tagged with the results file's name) to the run log beside ``out``."""
    with (Path(out).parent / RUNS).open("a") as f:
        f.write(json.dumps({"out": Path(out).name, **entry}) + "\n")


def check_same_generator(out: Path, sha: str) -> None:
    """Raise ValueError when ``out`` already holds records made with a generator file other than ``sha``."""
    out = Path(out)
    if not read_records(out):
        return
    other = {r.get("generator_sha256") for r in read_records(out.parent / RUNS)
             if r.get("out") == out.name} - {sha, None}
    if other:
        raise ValueError(f"generator: {out} holds results of another generator (sha256 {sorted(other)}), "
                         f"this one is {sha}; resuming would mix them — choose another --out")


def _stat(recs: list[dict], name: str) -> tuple[float, float]:
    vals = [r[name] for r in recs if r.get(name) is not None]
    if not vals:
        return math.nan, math.nan
    return statistics.fmean(vals), (statistics.stdev(vals) if len(vals) > 1 else 0.0)


def summary_rows(paths: list[Path]) -> list[dict]:
    """Return one row per (problem, setting, method, variant) of the records in ``paths``: n images
    and mean ± std of the best-of-restarts PSNR / SSIM (LPIPS mean, seconds per image), in the
    paper's column order. ``setting`` and ``variant`` are JSON strings (sorted keys)."""
    groups: dict[tuple, list[dict]] = {}
    for path in paths:
        for r in read_records(path):
            if r.get("restart") != "best":
                continue
            k = (r["problem"], json.dumps(r["setting"], sort_keys=True), r["method"],
                 json.dumps(r["variant"], sort_keys=True))
            groups.setdefault(k, []).append(r)

    def order(item):
        (problem, setting, method, variant), _ = item
        return problem, setting, METHOD_ORDER.index(method) if method in METHOD_ORDER else 99, variant

    rows = []
    for (problem, setting, method, variant), recs in sorted(groups.items(), key=order):
        (p, ps), (s, ss), (lp, _) = _stat(recs, "psnr"), _stat(recs, "ssim"), _stat(recs, "lpips")
        rows.append({"problem": problem, "setting": setting, "method": method, "variant": variant,
                     "n": len({r["image"] for r in recs}), "psnr_mean": p, "psnr_std": ps,
                     "ssim_mean": s, "ssim_std": ss, "lpips_mean": lp,
                     "seconds_mean": statistics.fmean(r["seconds"] for r in recs)})
    return rows


def _write_csv(rows: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def summarize(paths: list[Path], csv_path: Path | None = None) -> str:
    """Return Markdown tables (mean ± std of the best-of-restarts PSNR / SSIM per method and
    setting, n images) of the records in ``paths``, and write them as CSV to ``csv_path``."""
    rows = summary_rows(paths)
    if csv_path is not None and rows:
        _write_csv(rows, Path(csv_path))
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
