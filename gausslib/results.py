"""Study records: where they live, their keys, reading, writing and summaries.

A results root holds one JSON-lines file per problem (``<root>/<problem>.jsonl``), ``runs.jsonl``
(one line per start, error and finish of a study run: command line, machine, generator checksum,
wall time) and ``summary.csv``. Every finished image appends one record per restart plus one
``"restart": "best"`` (best of the restarts per metric, the paper's protocol)::

    {"problem": "mri"|"deblur"|"eikonal"|…, "setting": {...}, "method": "glayers"|..., "variant": {...},
     "image": int, "restart": int|"best", "psnr": float, "ssim": float, "lpips": float|null,
     "seconds": float, "iters": int, "budget": {"protocol": int, ...}}

A restart's record also holds its convergence curve, ``"curve": {"iteration": [...], "loss": [...],
"psnr": [...]}`` (the objective and the PSNR every ``--history-every`` iterations and at the end;
null entries where not finite), when the inversion recorded one.

("iters": the iterations the restart actually ran — L-BFGS stops an item early when it has
converged or its line search fails; for "best", those of the best-PSNR restart. "seconds": the
image's wall time, all its restarts together. "budget": every run setting that changes a result
besides the setting and the variant — the protocol version, iterations, restarts, seed, patch
sizes…; records written before budgets were recorded have none and read as :data:`LEGACY`, the
protocol-1 budget that ``runs.jsonl`` states.) A cell is ``(problem, setting, method, variant,
image, budget)``; a study skips the cells that already have their "best" record (:func:`done`),
so a rerun with another budget or protocol runs anew and never mixes with older records.

A restart whose PSNR or SSIM is not finite (a diverged run) is recorded with null metrics and
``"failed"``; an image without a finite restart gets no "best" record: it is a failure, never
done (the caller logs it). Files are written by one process at a time (:func:`writer_lock`);
reading drops duplicate records (the last copy of a cell's restart wins), and a partial last
line left by a killed writer is set aside by :func:`repair` before the next append.

``RESULTS`` is the default root: ``data/results`` of the source checkout the package runs
from (the book reads the committed results there), else ``./results`` of the working directory
(never a folder inside an installed package).
"""
from __future__ import annotations

import csv
import json
import math
import os
import socket
import statistics
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

__all__ = ["RESULTS", "PROTOCOL", "LEGACY", "default_root", "result_files", "key", "record_key", "read_records",
           "read_all", "make_records", "failed_images", "append_records", "repair", "writer_lock", "LockHeld",
           "done", "log_run", "check_same_generator", "summary_rows", "summarize", "convergence", "peak", "Study",
           "load_study",
           "best_by_fit", "best_at_stop", "discrepancy_stop", "unsharded"]

#: The protocol of new records (gausslib/README.md, "Study protocols").
PROTOCOL = 2
#: The budget of records written before budgets were recorded: protocol 1 (its iterations are in runs.jsonl).
LEGACY = {"protocol": 1}

RUNS = "runs.jsonl"
METHOD_ORDER = ("tv", "raw", "spherical", "csgmw", "noisereg", "orthogonal", "glayers")  # the paper's columns


def default_root() -> Path:
    """Return ``data/results`` of the source checkout holding this package, else ``./results``."""
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").exists() and (checkout / "data").is_dir():
        return checkout / "data" / "results"
    return Path.cwd() / "results"


RESULTS = default_root()


def unsharded(name: str) -> str:
    """Return the results file name a shard's file ``<stem>.shard-i-of-N.jsonl`` is a part of (else ``name``)."""
    return name.split(".shard-")[0] + ".jsonl" if ".shard-" in name else name


def result_files(root: Path = RESULTS) -> list[Path]:
    """Return the record files ``<root>/*.jsonl`` (not the run log), sorted."""
    return sorted(p for p in Path(root).glob("*.jsonl") if p.name != RUNS)


def key(problem: str, setting: dict, method: str, variant: dict, image: int, budget: dict = LEGACY) -> str:
    """Return the cell key of a record (JSON with sorted keys: independent of dict order)."""
    return json.dumps([problem, setting, method, variant, image, budget], sort_keys=True)


def record_key(r: dict) -> str:
    """Return the cell key of record ``r`` (a record without a budget is a protocol-1 one)."""
    return key(r["problem"], r["setting"], r["method"], r["variant"], r["image"], r.get("budget", LEGACY))


def _parse_lines(path: Path) -> list[dict]:
    text = path.read_text()
    lines = text.split("\n")
    unterminated = lines.pop()  # "" when the file ends with a newline
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{n}: not a JSON record ({exc.msg}); a record glued to a partial one? "
                             f"fix or delete that line") from None
    if unterminated.strip():
        warnings.warn(f"{path}:{len(lines) + 1}: partial last line ignored (a writer was stopped mid-write; "
                      f"the next run sets it aside)", stacklevel=3)
    return out


def _dedupe(records: list[dict]) -> list[dict]:
    """Return ``records`` with one record per (cell, restart): the last copy, in first-seen order."""
    last = {}
    for n, r in enumerate(records):
        is_record = all(k in r for k in ("problem", "setting", "method", "variant", "image"))
        last[(record_key(r), str(r.get("restart"))) if is_record else n] = r  # run-log lines stay as they are
    return list(last.values())


def read_records(path: Path) -> list[dict]:
    """Return the records of a JSON-lines file, duplicates dropped (the last copy wins).

    A partial last line (a writer stopped mid-write) is ignored with a warning; any other line that
    is not JSON raises ValueError naming its line number.
    """
    path = Path(path)
    return _dedupe(_parse_lines(path)) if path.exists() else []


def read_all(paths: list[Path]) -> list[dict]:
    """Return the records of all ``paths`` (e.g. the files of several shards), duplicates dropped."""
    return _dedupe([r for p in paths for r in read_records(p)])


@dataclass(frozen=True)
class Study:
    """One results root as the book reads it: every record (shards merged, duplicates dropped), the
    summary rows (:func:`summary_rows`) and the run log (``runs.jsonl``)."""

    root: Path
    records: list[dict]
    rows: list[dict]
    runs: list[dict]

    def of(self, problem: str) -> list[dict]:
        """Return the records of ``problem``."""
        return [r for r in self.records if r["problem"] == problem]


def load_study(root: Path = RESULTS) -> Study:
    """Return the :class:`Study` of the results root ``root`` (empty lists where it holds nothing)."""
    paths = result_files(root)
    return Study(Path(root), read_all(paths), summary_rows(paths), read_records(Path(root) / RUNS))


def _finite(v) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


def _restart_ok(res, k: int, r: int) -> bool:
    return math.isfinite(float(res.metrics["psnr"][k, r])) and math.isfinite(float(res.metrics["ssim"][k, r]))


def _curve(history: dict, k: int, r: int) -> dict | None:
    """Return image k, restart r's curve from an inversion history (``[T, N, R]`` per name), or None."""
    if "iteration" not in history or "loss" not in history:
        return None
    out = {"iteration": [int(i) for i in history["iteration"]]}
    for name in ("loss", "psnr"):
        if name in history:
            out[name] = [_finite(v) for v in history[name][:, k, r]]
    return out


def _quartiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) == 1:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


def _carried(curve: dict, name: str, grid: list[int]) -> list[float | None]:
    """Return ``curve[name]`` on ``grid``: at each grid iteration, the last finite value recorded at or before
    it (a run that stopped early keeps its final value); None before the first."""
    points = [(i, v) for i, v in zip(curve["iteration"], curve[name]) if v is not None]
    out, k, last = [], 0, None
    for t in grid:
        while k < len(points) and points[k][0] <= t:
            last = points[k][1]
            k += 1
        out.append(last)
    return out


def convergence(records: list[dict], label=lambda r: r["method"]) -> dict[str, dict]:
    """Return the convergence of each method: quartiles over every image and restart of its curves.

    ``records``: the records of one setting; only restart records with a ``"curve"`` count. ``label``:
    record → the name a method is shown under. Returns ``{name: {"iteration": [T], "n": curves,
    "relative_loss": [q25, median, q75], "psnr": [q25, median, q75]}}``, each quartile a list over the
    ``T`` iterations; the loss is relative to the curve's first value, and a run that stopped early
    (converged, or its line search failed) keeps its last value to the end of the grid.
    """
    groups: dict[str, list[dict]] = {}
    for r in records:
        if r["restart"] != "best" and r.get("curve") and r["curve"].get("loss") and r["curve"]["loss"][0]:
            groups.setdefault(label(r), []).append(r["curve"])
    out = {}
    for name, curves in groups.items():
        grid = sorted({i for c in curves for i in c["iteration"]})
        series = {"relative_loss": [[v / c["loss"][0] if v is not None else None for v in _carried(c, "loss", grid)]
                                    for c in curves],
                  "psnr": [_carried(c, "psnr", grid) for c in curves if "psnr" in c]}
        out[name] = {"iteration": grid, "n": len(curves)}
        for key_, rows in series.items():
            at = [[row[t] for row in rows if row[t] is not None] for t in range(len(grid))]
            out[name][key_] = [list(q) for q in zip(*(_quartiles(v) if v else (math.nan,) * 3 for v in at))]
    return out


def peak(curve: dict) -> int:
    """Return the grid index where a :func:`convergence` entry's median PSNR is highest (NaN never wins:
    a grid point without a finite value on any curve)."""
    med = curve["psnr"][1]
    return max(range(len(med)), key=lambda t: med[t] if med[t] == med[t] else -math.inf)


def best_by_fit(records: list[dict]) -> list[dict]:
    """Return one "best" record per image and cell, its restart chosen by the lowest final objective
    (the data misfit plus the method's regulariser: what a user without the truth can see) instead of
    the highest PSNR (the paper's choice, an oracle: the truth picks the restart).

    Only restart records with a convergence curve count; cells without any are left out."""
    groups: dict[str, list[dict]] = {}
    for r in records:
        if r.get("restart") != "best" and r.get("curve") and _last_finite(r["curve"]["loss"]) is not None:
            groups.setdefault(record_key(r), []).append(r)
    return [{**min(rs, key=lambda r: _last_finite(r["curve"]["loss"])), "restart": "best"} for rs in groups.values()]


def _last_finite(values: list) -> float | None:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return finite[-1] if finite else None


def discrepancy_stop(curve: dict, level: float) -> tuple[int, float | None]:
    """Return ``(iteration, psnr)`` of a record's ``"curve"`` at its first recorded iteration whose objective is at
    or below ``level``, or at its last point when it never gets there.

    The discrepancy principle: with noise in the data, a misfit below the noise's own (``level``: the misfit of the
    true image) fits the noise, so an inversion without a penalty stops there. It needs no truth; the PSNR it
    returns (None where the curve has none) is only read off to show what stopping would have given.
    """
    if not math.isfinite(level):
        raise ValueError(f"level must be a finite misfit, got {level!r}")
    points = [(i, k) for k, (i, v) in enumerate(zip(curve["iteration"], curve["loss"])) if v is not None]
    if not points:
        raise ValueError("curve: no finite objective value")
    i, k = next(((i, k) for i, k in points if curve["loss"][k] <= level), points[-1])
    return i, curve["psnr"][k] if "psnr" in curve else None


def best_at_stop(records: list[dict], levels: dict[int, float]) -> list[dict]:
    """Return one "best" record per image and cell whose PSNR is that of :func:`discrepancy_stop`: each
    restart read off where its objective first reaches its target's noise level, the best restart kept
    (as the tables keep the best by PSNR); ``"iters"`` is that restart's stopping iteration.

    records: restart records of one setting (those with a ``"curve"`` count; methods whose objective adds a
    penalty, such as TV, never compare with a misfit level: leave them out); levels: ``{image: the misfit
    of its true image}`` (:func:`gausslib.study.noise_levels`). Images without a level are left out."""
    groups: dict[str, list[tuple[float, int, dict]]] = {}
    for r in records:
        if r.get("restart") != "best" and r.get("curve") and r["image"] in levels:
            i, psnr = discrepancy_stop(r["curve"], levels[r["image"]])
            if psnr is not None:
                groups.setdefault(record_key(r), []).append((psnr, i, r))
    out = []
    for stops in groups.values():
        psnr, i, r = max(stops, key=lambda s: s[0])
        out.append({**{f: v for f, v in r.items() if f not in ("curve", "ssim", "lpips")},
                    "restart": "best", "psnr": psnr, "iters": i})
    return out


def failed_images(ids: list[int], res) -> list[int]:
    """Return the images of ``ids`` without a restart of finite PSNR and SSIM (no "best" record)."""
    return [i for k, i in enumerate(ids) if not any(_restart_ok(res, k, r) for r in range(res.images.shape[1]))]


def make_records(problem: str, setting: dict, method: str, variant: dict, ids: list[int], res,
                 lpips_values: torch.Tensor, budget: dict) -> list[dict]:
    """Return the records (every restart, then "best") of a finished batch of images ``ids``.

    res: the :class:`gausslib.invert.InversionResult` (metrics ``[N, R]``); lpips_values: ``[N, R]``
    (NaN where LPIPS is unavailable: recorded as null); budget: the run settings of the cell (with
    ``"protocol"``). A restart with a non-finite PSNR or SSIM gets null metrics and ``"failed"``;
    "best" is taken over the others, and an image of :func:`failed_images` gets no record at all.
    """
    out = []
    R = res.images.shape[1]
    seconds = res.seconds / len(ids)
    for k, image in enumerate(ids):
        ok = [r for r in range(R) if _restart_ok(res, k, r)]
        if not ok:
            continue
        base = {"problem": problem, "setting": setting, "method": method, "variant": variant, "image": image}
        for r in range(R):
            metrics = ({"psnr": float(res.metrics["psnr"][k, r]), "ssim": float(res.metrics["ssim"][k, r]),
                        "lpips": _finite(lpips_values[k, r])} if r in ok else
                       {"psnr": None, "ssim": None, "lpips": None, "failed": "non-finite metrics"})
            curve = _curve(res.history, k, r)
            out.append({**base, "restart": r, **metrics, "seconds": seconds, "iters": int(res.steps[k, r]),
                        "budget": budget, **({"curve": curve} if curve else {})})
        psnr = [float(res.metrics["psnr"][k, r]) for r in ok]
        ssim = [float(res.metrics["ssim"][k, r]) for r in ok]
        lpips = [v for v in (_finite(lpips_values[k, r]) for r in ok) if v is not None]
        best = ok[max(range(len(ok)), key=psnr.__getitem__)]
        out.append({**base, "restart": "best", "psnr": max(psnr), "ssim": max(ssim),
                    "lpips": min(lpips) if lpips else None, "seconds": seconds,
                    "iters": int(res.steps[k, best]), "budget": budget})
    return out


def repair(path: Path) -> str | None:
    """Set aside a partial last line of ``path`` (a writer stopped mid-write) so that the next
    record does not get glued to it; return a note naming its line number, or None.

    A complete JSON record that only lost its newline gets the newline back; anything else is moved
    to ``<path>.partial`` (appended) and cut from the file. Call it holding :func:`writer_lock`.
    """
    path = Path(path)
    if not path.exists():
        return None
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return None
    cut = data.rfind(b"\n") + 1
    tail, line_no = data[cut:], data.count(b"\n") + 1
    try:
        json.loads(tail)
    except ValueError:
        with Path(f"{path}.partial").open("ab") as f:
            f.write(tail + b"\n")
        with path.open("rb+") as f:
            f.truncate(cut)
        return f"{path}:{line_no}: partial last line ({len(tail)} bytes) moved to {path}.partial"
    with path.open("ab") as f:
        f.write(b"\n")
    return f"{path}:{line_no}: last record had lost its newline; restored"


def append_records(path: Path, records: list[dict]) -> None:
    """Append ``records`` to the JSON-lines file ``path`` in one write (a partial last line is set
    aside first, see :func:`repair`). Raises ValueError on a non-finite number: JSON has no NaN."""
    note = repair(path)
    if note:
        warnings.warn(note, stacklevel=2)
    text = "".join(json.dumps(r, allow_nan=False) + "\n" for r in records)
    with Path(path).open("a") as f:
        f.write(text)


class LockHeld(RuntimeError):
    """Another process is writing the results file."""


class writer_lock:
    """Context manager: hold ``<path>.lock`` (created exclusively) while writing ``path``.

    Raises :class:`LockHeld` naming the holder (host, pid, start) when another live process holds
    it. A lock left by a process of this host that no longer exists is taken over.
    """

    def __init__(self, path: Path):
        self.lock = Path(f"{path}.lock")

    def __enter__(self):
        self.lock.parent.mkdir(parents=True, exist_ok=True)
        me = {"host": socket.gethostname(), "pid": os.getpid()}
        for _ in range(2):
            try:
                fd = os.open(self.lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                try:
                    holder = json.loads(self.lock.read_text() or "{}")
                except (OSError, ValueError):
                    holder = {}
                if holder.get("host") == me["host"] and isinstance(holder.get("pid"), int) \
                        and not _alive(holder["pid"]):
                    self.lock.unlink(missing_ok=True)  # its writer died: the lock is stale
                    continue
                raise LockHeld(f"{self.lock} is held by {holder or 'another process'}: one writer per results "
                               f"file — use --shard or another --out, or delete the lock if that run is "
                               f"dead") from None
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
            return self
        raise LockHeld(f"{self.lock}: could not take the lock")

    def __exit__(self, *exc):
        self.lock.unlink(missing_ok=True)
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def done(paths: Path | list[Path]) -> set[str]:
    """Return the keys of the cells of ``paths`` (one file or several) that have their "best" record."""
    paths = [paths] if isinstance(paths, (str, Path)) else paths
    return {record_key(r) for r in read_all([Path(p) for p in paths]) if r.get("restart") == "best"}


def log_run(out: Path, entry: dict) -> None:
    """Append ``entry`` (tagged with the results file's name) to the run log beside ``out``."""
    with (Path(out).parent / RUNS).open("a") as f:
        f.write(json.dumps(_json_safe({"out": Path(out).name, **entry}), allow_nan=False) + "\n")


def _json_safe(v):
    """Return ``v`` with non-finite floats as strings ("nan", "inf"): JSON has no NaN."""
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if isinstance(v, dict):
        return {k: _json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json_safe(x) for x in v]
    return v


def check_same_generator(out: Path, sha: str, problem: str | None = None) -> None:
    """Raise ValueError when ``out`` already holds records made with a generator file other than ``sha``,
    or (with ``problem``) another file of the same results root holds ``problem``'s records made with
    another generator: the book reads a root's files as one study (:func:`load_study`), and the cell
    keys do not name the generator, so a second generator's records would merge with the first's."""
    out = Path(out)
    mine = [r for r in read_records(out.parent / RUNS)
            if r.get("out") and (r["out"] == out.name or (problem is not None and _problem_of_run(r) == problem))]
    holding = {name for name in {r["out"] for r in mine} if read_records(out.parent / name)}
    other = {r.get("generator_sha256") for r in mine if r["out"] in holding} - {sha, None}
    if other:
        raise ValueError(f"generator: {out.parent} holds {problem or 'these'} results of another generator (sha256 "
                         f"{sorted(other)}), this one is {sha}; resuming would mix them — choose another "
                         "--results-dir")


def _problem_of_run(run: dict) -> str | None:
    """Return the problem of a run-log entry from its command (``python -m gausslib.study <problem> …``)."""
    words = run.get("command", "").split()
    return words[3] if len(words) > 3 and words[2] == "gausslib.study" else None


def _stat(recs: list[dict], name: str) -> tuple[float, float]:
    vals = [r[name] for r in recs if r.get(name) is not None]
    if not vals:
        return math.nan, math.nan
    return statistics.fmean(vals), (statistics.stdev(vals) if len(vals) > 1 else 0.0)


def summary_rows(paths: list[Path]) -> list[dict]:
    """Return one row per (problem, setting, method, variant, budget) of the records in ``paths``
    (several files, e.g. shards, are merged and deduplicated): n images and mean ± std of the
    best-of-restarts PSNR / SSIM (LPIPS mean, seconds per image), in the paper's column order.
    ``setting``, ``variant`` and ``budget`` are JSON strings (sorted keys)."""
    groups: dict[tuple, list[dict]] = {}
    for r in read_all(paths):
        if r.get("restart") != "best":
            continue
        k = (r["problem"], json.dumps(r["setting"], sort_keys=True), r["method"],
             json.dumps(r["variant"], sort_keys=True), json.dumps(r.get("budget", LEGACY), sort_keys=True))
        groups.setdefault(k, []).append(r)

    def order(item):
        (problem, setting, method, variant, budget), _ = item
        return (problem, setting, METHOD_ORDER.index(method) if method in METHOD_ORDER else 99, variant,
                json.loads(budget)["protocol"], budget)

    rows = []
    for (problem, setting, method, variant, budget), recs in sorted(groups.items(), key=order):
        (p, ps), (s, ss), (lp, _) = _stat(recs, "psnr"), _stat(recs, "ssim"), _stat(recs, "lpips")
        rows.append({"problem": problem, "setting": setting, "method": method, "variant": variant,
                     "n": len({r["image"] for r in recs}), "psnr_mean": p, "psnr_std": ps,
                     "ssim_mean": s, "ssim_std": ss, "lpips_mean": lp,
                     "seconds_mean": statistics.fmean(r["seconds"] for r in recs), "budget": budget})
    return rows


def _legacy_only(rows: list[dict]) -> bool:
    """True when every row is of protocol-1 records: their tables keep the columns they always had."""
    legacy = json.dumps(LEGACY, sort_keys=True)
    return all(r["budget"] == legacy for r in rows)


def _write_csv(rows: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if _legacy_only(rows):
        rows = [{k: v for k, v in r.items() if k != "budget"} for r in rows]
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def _budget_text(budget: str) -> str:
    return ", ".join(f"{k}={v}" for k, v in json.loads(budget).items())


def summarize(paths: list[Path], csv_path: Path | None = None) -> str:
    """Return Markdown tables (mean ± std of the best-of-restarts PSNR / SSIM per method and
    setting, n images) of the records in ``paths``, and write them as CSV to ``csv_path``. Tables
    of protocol-2 records have a budget column (protocol-1 ones read as before)."""
    rows = summary_rows(paths)
    if csv_path is not None and rows:
        _write_csv(rows, Path(csv_path))
    lines = []
    for (problem, setting) in dict.fromkeys((r["problem"], r["setting"]) for r in rows):
        group = [r for r in rows if (r["problem"], r["setting"]) == (problem, setting)]
        extra = not _legacy_only(group)
        lines += ["", f"### {problem} — {', '.join(f'{k} = {v}' for k, v in json.loads(setting).items())}", "",
                  "| method | variant | n | PSNR (dB) | SSIM | s / image |" + (" budget |" if extra else ""),
                  "|---|---|---|---|---|---|" + ("---|" if extra else "")]
        for r in group:
            variant = ", ".join(f"{k}={v}" for k, v in json.loads(r["variant"]).items())
            lines.append(f"| {r['method']} | {variant} | {r['n']} | {r['psnr_mean']:.2f} ± {r['psnr_std']:.2f}"
                         f" | {r['ssim_mean']:.3f} ± {r['ssim_std']:.3f} | {r['seconds_mean']:.1f} |"
                         + (f" {_budget_text(r['budget'])} |" if extra else ""))
    return "\n".join(lines).lstrip("\n")
