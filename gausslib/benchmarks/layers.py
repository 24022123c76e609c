"""Forward/backward medians of the Gaussianization stack, against the authors' implementation.

Rows: layer combination (ICA, ICA+YJ, ICA+Lambert, ICA+YJ+Lambert+standardisation) × the three
paper shapes × input (Gaussian; heavy-tailed Tukey-h, δ = 0.3, which the Lambert layer cannot
skip) × threads (1 and all), float32, batch of one. ``forward_ms`` builds the autograd graph as
an inversion does; ``backward_ms`` is the backward pass alone (medians). ``min_total_ms`` (fastest
forward + fastest backward) is recorded too: on a shared machine it estimates the uncontended
time. Anchors: the authors' code, forward + backward on one thread of this machine, for the full
stack; target ≥ 30× faster. Rows with ``compiled=True`` (full stack, one thread, not in quick
mode) run the root solvers through ``torch.compile``; compiling happens in the warm-up.
"""
from __future__ import annotations

import os
import statistics
import time

import torch

from ..bench import _sync
from ..layers import GaussianizationLayers

SHAPES = {"SG2 style": (224, 32), "SG2 noise": (2730, 64), "Glow": (256, 192)}
ANCHOR_MS = {"SG2 style": 350.0, "SG2 noise": 4500.0, "Glow": 2260.0}
CONFIGS = {
    "ICA": dict(yeo_johnson=False, lambert=False, standardize=False),
    "ICA+YJ": dict(lambert=False, standardize=False),
    "ICA+Lambert": dict(yeo_johnson=False, standardize=False),
    "ICA+YJ+Lambert+std": dict(),
}
TARGET_SPEEDUP = 30.0


def _input(kind: str, n: int, d: int, device) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    u = torch.randn(1, n, d, generator=g)
    x = u if kind == "gaussian" else u * torch.exp(0.15 * u * u)
    return x.to(device)


def _calls(layers, X, weight, quick: bool, device) -> tuple[int, int]:
    """Return ``(warmup, repeats)`` for one row: warm up for ≥ 0.3 s (≥ 2 calls), then time ≥ 1 s of calls.

    A fixed count of a few calls under-samples the fast rows (milliseconds per call), whose first
    calls in a process also run slower (allocator, caches); the median then drifts upwards.
    """
    if quick:
        return 1, 3
    start, calls, last = time.perf_counter(), 0, 0.0
    while calls < 2 or time.perf_counter() - start < 0.3:       # the first call may compile: judge by the last
        fwd, bwd = _times(layers, X, weight, 1, 0, device)
        calls, last = calls + 1, fwd[0] + bwd[0]
    return 0, min(max(int(1.0 / last), 11), 200)


def _times(layers, X, weight, repeats: int, warmup: int, device) -> tuple[list[float], list[float]]:
    """Return the forward and backward wall times (s) of ``repeats`` calls after ``warmup``."""
    fwd, bwd = [], []
    for i in range(warmup + repeats):
        _sync(device)
        t0 = time.perf_counter()
        out = (layers(X) * weight).sum()
        _sync(device)
        t1 = time.perf_counter()
        out.backward()
        _sync(device)
        t2 = time.perf_counter()
        if i >= warmup:
            fwd.append(t1 - t0)
            bwd.append(t2 - t1)
        X.grad = None
    return fwd, bwd


def run(quick: bool = False) -> list[dict]:
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    threads_before = torch.get_num_threads()
    rows = []
    try:
        for threads in sorted({1, os.cpu_count() or 1}):
            torch.set_num_threads(threads)
            for name, (n, d) in SHAPES.items():
                for kind in ("gaussian", "heavy"):
                    X = _input(kind, n, d, device).requires_grad_()
                    weight = torch.randn(X.shape, generator=torch.Generator().manual_seed(1)).to(device)
                    runs = [(config, flags, False) for config, flags in CONFIGS.items()]
                    if threads == 1 and not quick:
                        runs.append(("ICA+YJ+Lambert+std", {}, True))
                    for config, flags, compiled in runs:
                        layers = GaussianizationLayers(**flags, compile=compiled)
                        warmup, repeats = _calls(layers, X, weight, quick, device)
                        fwd, bwd = _times(layers, X, weight, repeats, warmup, device)
                        f, b = statistics.median(fwd), statistics.median(bwd)
                        total = 1e3 * (f + b)
                        row = {"layers": config, "compiled": compiled, "latent": name, "shape": f"{n}x{d}",
                               "input": kind, "threads": threads, "device": device.type, "forward_ms": 1e3 * f,
                               "backward_ms": 1e3 * b, "total_ms": total, "min_total_ms": 1e3 * (min(fwd) + min(bwd))}
                        full = config == "ICA+YJ+Lambert+std"
                        row["authors_1thread_ms"] = ANCHOR_MS[name] if full else None
                        row["target_ms"] = ANCHOR_MS[name] / TARGET_SPEEDUP if full else None
                        row["speedup"] = ANCHOR_MS[name] / total if full else None
                        rows.append(row)
    finally:
        torch.set_num_threads(threads_before)
    return rows
