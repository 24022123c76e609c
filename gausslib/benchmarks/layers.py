"""Forward + backward of the Gaussianization stack, against the authors' code (SPEC §10).

Rows: layer combination (ICA, ICA+YJ, ICA+Lambert, ICA+YJ+Lambert+standardisation) × the three
paper shapes × input × threads (1 and all), float32, batch of one. Inputs (as in SPEC §10):

* ``gaussian``: i.i.d. N(0, 1) (the Lambert layer skips it: kurtosis ≈ 3);
* ``mixed``: skewed (centred exponential) and heavy-tailed (``u·exp(0.15u²)``) sources, randomly
  mixed: ICA has sources to find, Yeo-Johnson skew to correct, Lambert tails to undo;
* ``heavy``: the symmetric heavy tail ``u·exp(0.15u²)`` entrywise (no skew).

The combinations of one (shape, input, threads) are timed in interleaved rounds (each once per
round): ``forward_ms`` (building the autograd graph, as an inversion does), ``backward_ms`` and
``total_ms`` are medians per call, ``total_q25_ms``/``total_q75_ms`` the quartiles of the per-call
totals and ``min_total_ms`` the fastest call (forward and backward of the same call). ``clock``:
on one CPU thread this thread's CPU time (the machine is shared: wall time adds the waits for a
core), else wall time; ``wall_ms`` is the median wall time in every row. Full-stack rows on one thread carry the authors' forward + backward time on the same input
(``authors_ms``, measured side by side on a 2-core machine, 1 thread, float32: SPEC §10) and the
speed-up against it. (``compile=True`` is not timed here: compiling takes minutes on a busy
machine, per shape.)
"""
from __future__ import annotations

import os
import statistics
import time

import torch

from ..bench import _sync, load_average, summary_ms
from ..layers import GaussianizationLayers

SHAPES = {"SG2 style": (224, 32), "SG2 noise": (2730, 64), "Glow": (256, 192)}
# SPEC §10: the authors' wrapper chain, forward + backward, float32, 1 thread, ms, per input
AUTHORS_MS = {
    "gaussian": {"Glow": 9400.0, "SG2 style": 1100.0, "SG2 noise": 14500.0},
    "mixed": {"Glow": 10506.0, "SG2 style": 2641.0, "SG2 noise": 36437.0},
    "heavy": {"Glow": 13858.0, "SG2 style": 3189.0, "SG2 noise": 44413.0},
}
INPUTS = tuple(AUTHORS_MS)
CONFIGS = {
    "ICA": dict(yeo_johnson=False, lambert=False, standardize=False),
    "ICA+YJ": dict(lambert=False, standardize=False),
    "ICA+Lambert": dict(yeo_johnson=False, standardize=False),
    "ICA+YJ+Lambert+std": dict(),
}


def _heavy(u: torch.Tensor) -> torch.Tensor:
    return u * torch.exp(0.15 * u * u)


def make_input(kind: str, n: int, d: int, seed: int = 0) -> torch.Tensor:
    """Return a ``[1, n, d]`` float32 test input of ``kind`` (``"gaussian"``, ``"mixed"``, ``"heavy"``)."""
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(1, n, d, generator=g)
    if kind == "gaussian":
        return u
    if kind == "heavy":
        return _heavy(u)
    if kind != "mixed":
        raise ValueError(f"kind must be one of {INPUTS}, got {kind!r}")
    skewed = -torch.log(torch.rand(1, n, d, generator=g)) - 1.0          # centred Exp(1): skewness 2
    sources = torch.where(torch.arange(d) % 2 == 0, skewed, _heavy(u))
    return sources @ torch.randn(d, d, generator=g)


def _call(layers, X, weight, device) -> tuple[float, float, float, float]:
    """Return the (forward, backward) seconds of one call in this thread's CPU time, then in wall time."""
    _sync(device)
    w0, c0 = time.perf_counter(), time.thread_time()
    out = (layers(X) * weight).sum()
    _sync(device)
    w1, c1 = time.perf_counter(), time.thread_time()
    out.backward()
    _sync(device)
    w2, c2 = time.perf_counter(), time.thread_time()
    X.grad = None
    return c1 - c0, c2 - c1, w1 - w0, w2 - w1


def _rounds(cases: dict, X, weight, quick: bool, device) -> dict[str, list[tuple[float, float, float, float]]]:
    """Time every case once per round; warm up ≥ 2 calls each, then about 1 s of rounds (3 if quick)."""
    for layers in cases.values():                        # the first calls allocate and fill caches
        for _ in range(2):
            _call(layers, X, weight, device)
    probe = sum(sum(_call(layers, X, weight, device)[2:]) for layers in cases.values())
    rounds = 3 if quick else min(max(int(1.0 / max(probe, 1e-6)), 9), 101)
    out = {name: [] for name in cases}
    for _ in range(rounds):
        for name, layers in cases.items():
            out[name].append(_call(layers, X, weight, device))
    return out


def run(quick: bool = False) -> list[dict]:
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    threads_before = torch.get_num_threads()
    rows = []
    try:
        for threads in sorted({1, os.cpu_count() or 1}):
            torch.set_num_threads(threads)
            for name, (n, d) in SHAPES.items():
                for kind in INPUTS:
                    X = make_input(kind, n, d).to(device).requires_grad_()
                    weight = torch.randn(X.shape, generator=torch.Generator().manual_seed(1)).to(device)
                    cases = {config: GaussianizationLayers(**flags) for config, flags in CONFIGS.items()}
                    # one thread: CPU time (robust to a shared machine); more: wall (the other threads' work counts)
                    clock = "thread CPU" if threads == 1 and device.type == "cpu" else "wall"
                    for config, calls in _rounds(cases, X, weight, quick, device).items():
                        fwd, bwd = ([c[i] for c in calls] for i in ((0, 1) if clock == "thread CPU" else (2, 3)))
                        totals = [f + b for f, b in zip(fwd, bwd)]
                        total = summary_ms(totals)
                        row = {"layers": config, "latent": name, "shape": f"{n}x{d}", "input": kind,
                               "threads": threads, "device": device.type, "clock": clock, "calls": len(calls),
                               "forward_ms": 1e3 * statistics.median(fwd), "backward_ms": 1e3 * statistics.median(bwd),
                               "total_ms": total["median"], "total_q25_ms": total["q25"], "total_q75_ms": total["q75"],
                               "min_total_ms": 1e3 * min(totals),
                               "wall_ms": 1e3 * statistics.median(c[2] + c[3] for c in calls)}
                        authors = AUTHORS_MS[kind][name] if config == "ICA+YJ+Lambert+std" and threads == 1 else None
                        row["authors_ms"] = authors
                        row["authors_pass"] = f"forward+backward, {kind} input, float32, 1 thread" if authors else None
                        row["speedup"] = authors / total["median"] if authors else None
                        rows.append(row)
    finally:
        torch.set_num_threads(threads_before)
    load = load_average()
    for r in rows:
        r["load_avg_1min"] = load
    return rows
