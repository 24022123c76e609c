"""Timing helpers and the ``make bench`` entry point.

``python -m gausslib.bench --out data/results/bench`` runs every module in
:mod:`gausslib.benchmarks` (each exposes ``run(threads: int) -> list[dict]``), prints a table
and writes one JSON file per benchmark module.
"""
from __future__ import annotations

import argparse
import os
import importlib
import json
import pkgutil
import platform
import statistics
import time
from pathlib import Path

import torch


def _sync(device: torch.device | str | None) -> None:
    if device is not None and torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def median_time(fn, *, repeats: int = 7, warmup: int = 2, device=None) -> float:
    """Return the median wall time of ``fn()`` in seconds over ``repeats`` calls after ``warmup``.

    On CUDA the device is synchronised around each call so the time covers the kernels.
    """
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def interleaved(fns: dict, *, repeats: int = 7, warmup: int = 1, device=None) -> dict[str, dict[str, list[float]]]:
    """Return ``{name: {"wall": [s], "cpu": [s]}}``: ``repeats`` rounds, each calling every ``fns[name]()`` once.

    Interleaving spreads a shared machine's load changes over all cases alike instead of over the
    last-timed one. ``cpu`` is this thread's CPU time (time the work took, excluding the waits while
    other processes held the cores; the benchmarks run on one thread); on CUDA, ``wall`` is the
    meaningful one (the device is synchronised around each call).
    """
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    out = {name: {"wall": [], "cpu": []} for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            _sync(device)
            w, c = time.perf_counter(), time.thread_time()
            fn()
            _sync(device)
            out[name]["cpu"].append(time.thread_time() - c)
            out[name]["wall"].append(time.perf_counter() - w)
    return out


def summary_ms(times: list[float]) -> dict[str, float]:
    """Return the median and the spread (quartiles) of ``times`` (seconds) in milliseconds."""
    q = statistics.quantiles(times, n=4, method="inclusive") if len(times) > 1 else [times[0]] * 3
    return {"median": 1e3 * statistics.median(times), "q25": 1e3 * q[0], "q75": 1e3 * q[2]}


def one_thread(make_rows) -> list[dict]:
    """Return ``make_rows()`` computed on one torch thread (the thread count restored after), each row
    stamped with ``threads = 1`` and the load average at the end (context for timings on a shared machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        rows = make_rows()
    finally:
        torch.set_num_threads(threads)
    load = load_average()
    for r in rows:
        r["threads"], r["load_avg_1min"] = 1, load
    return rows


def load_average() -> float:
    """Return the 1-minute load average (context for timings on a shared machine)."""
    return os.getloadavg()[0]


def machine() -> dict:
    """Describe the machine (CPU, torch's threads, torch, CUDA): recorded next to every benchmark, study run
    and training checkpoint."""
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def _modules(only: list[str] | None):
    import gausslib.benchmarks as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if only is None or info.name in only:
            yield info.name, importlib.import_module(f"gausslib.benchmarks.{info.name}")


def _print_table(name: str, rows: list[dict]) -> None:
    if not rows:
        return
    keys = list(rows[0])
    print(f"\n## {name}\n")
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for r in rows:
        cells = [f"{v:.4g}" if isinstance(v, float) else str(v) for v in (r.get(k) for k in keys)]
        print("| " + " | ".join(cells) + " |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="data/results/bench", help="folder for the JSON files")
    parser.add_argument("--only", nargs="*", help="benchmark modules to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="fewer repeats, smaller sizes")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, mod in _modules(args.only):
        rows = mod.run(quick=args.quick)
        _print_table(name, rows)
        record = {"benchmark": name, "machine": machine(), "date": time.strftime("%Y-%m-%d"), "rows": rows}
        (out / f"{name}.json").write_text(json.dumps(record, indent=1))
        print(json.dumps(record))


if __name__ == "__main__":
    main()
