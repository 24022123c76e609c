"""Eikonal operator timing: forward and forward + gradient, 1 thread, against the authors' C++.

The paper's problem: 32 sources (8 per edge) on a 256×256 grid, h = 1 mm,
v = 1500 + 100·(m + 1)/2 m/s with m a phantom image in [−1, 1]; loss ½‖t(m) − d‖² at the
receivers. Anchors (the authors' C++ fast sweeping, one source per call, sparse LU per source
in the backward), measured on this machine: forward 321 ms, gradient 4,280 ms. Target:
forward + gradient ≥ 20× faster, i.e. ≤ 230 ms. Also the book's 64×64 and the scaling
with grid size (the per-node cost, ns per node per source per sweep, shows it is linear).
``gradient_ms`` times the backward alone (the graph kept and re-used).
"""
from __future__ import annotations

import os

import numpy as np
import torch

from gausslib import phantoms
from gausslib.bench import median_time
from gausslib.operators import Eikonal
from gausslib.operators import _eikonal_kernels as K

ANCHOR_FORWARD_MS = 321.0
ANCHOR_GRADIENT_MS = 4280.0
TARGET_SPEEDUP = 20.0


def _case(n: int, repeats: int) -> dict:
    op = Eikonal(n, h=1e-3, per_edge=8)
    m = phantoms.sample(1, size=n, seed=0, dtype=torch.float64)
    with torch.no_grad():
        d = op(m)

    def forward():
        with torch.no_grad():
            op(m)

    def forward_gradient():
        x = m.clone().requires_grad_(True)
        (0.5 * (op(x) - d).square().sum()).backward()

    x = m.clone().requires_grad_(True)
    loss = 0.5 * (op(x) - d).square().sum()

    def gradient():  # the backward alone, on a graph kept for re-use
        torch.autograd.grad(loss, x, retain_graph=True)

    fwd = median_time(forward, repeats=repeats, warmup=1)
    grad = median_time(gradient, repeats=repeats, warmup=1)
    both = median_time(forward_gradient, repeats=repeats, warmup=1)
    fh = (1e-3 / op.velocity(m)).numpy()
    _, sweeps = K.fast_sweep_batch(fh, op.sources.numpy(), op.tol, op.max_sweeps)
    S = len(op.sources)
    return {
        "n": n,
        "sources": S,
        "sweeps": int(sweeps[0]),
        "forward_ms": 1e3 * fwd,
        "gradient_ms": 1e3 * grad,
        "forward_gradient_ms": 1e3 * both,
        "ns_per_node_source_sweep": 1e9 * fwd / (n * n * S * int(sweeps[0])),
    }


def run(quick: bool = False) -> list[dict]:
    """Return rows: the 256² anchor comparison first, then the grid-size scaling (1 thread)."""
    repeats = 5 if quick else 9
    sizes = (64, 128, 256) if quick else (64, 128, 256, 512)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        K.fast_sweep_batch(np.full((1, 8, 8), 1e-6), np.zeros((1, 2), np.int64), 0.0, 8)  # JIT/cache load
        rows = [_case(n, repeats if n <= 256 else 5) for n in sizes]
    finally:
        torch.set_num_threads(threads)
    for r in rows:
        r["threads"] = 1
        r["load_avg_1min"] = os.getloadavg()[0]  # the machine is shared: context for the timings
        r["repeats"] = repeats if r["n"] <= 256 else 5
        if r["n"] == 256:
            r["anchor_forward_ms"] = ANCHOR_FORWARD_MS
            r["anchor_gradient_ms"] = ANCHOR_GRADIENT_MS
            r["speedup_forward"] = ANCHOR_FORWARD_MS / r["forward_ms"]
            r["speedup_gradient"] = ANCHOR_GRADIENT_MS / r["gradient_ms"]
            r["speedup_forward_gradient"] = (ANCHOR_FORWARD_MS + ANCHOR_GRADIENT_MS) / r["forward_gradient_ms"]
            r["target_forward_gradient_ms"] = (ANCHOR_FORWARD_MS + ANCHOR_GRADIENT_MS) / TARGET_SPEEDUP
            r["meets_target"] = r["forward_gradient_ms"] <= r["target_forward_gradient_ms"]
    return sorted(rows, key=lambda r: r["n"] != 256)
