"""Embedded-generator timings: phantom throughput and the inversion's forward + backward passes.

Rows: ``phantoms.sample(n, 64)`` of the smooth and the textured kind (images per second); the two
StyleGAN2 architectures — StyleGAN2-lite (``stylegan2-phantom64-smooth``) and the official one
(``Generator()``, the architecture of the v2 weights; timings do not depend on the weight values)
— ``G(z+, noise)`` forward alone and forward + gradient w.r.t. all latents (what one inversion
iteration costs) at the study's batch sizes (3 = 1 image × 3 restarts, 15 = 5 images × 3), timed
interleaved so that both see the same machine load; Glow ``decode`` likewise at batch 3. Each at
1 thread and at all threads.
"""
from __future__ import annotations

import functools
import os
import statistics
import time

import torch

from gausslib import phantoms
from gausslib.bench import median_time
from gausslib.generators import Generator, Glow, zoo
from gausslib.generators import stylegan2_lite

BATCHES = (3, 15)


def _models() -> tuple[dict, torch.nn.Module]:
    """Returns ``({label: StyleGAN2}, Glow)``: shipped weights where present, else untrained models."""
    names = zoo.available()
    lite = zoo.load("stylegan2-phantom64-smooth") if "stylegan2-phantom64-smooth" in names else \
        stylegan2_lite.Generator().eval().requires_grad_(False)
    official = Generator().eval().requires_grad_(False)
    gl = zoo.load("glow-phantom64") if "glow-phantom64" in names else Glow().eval()
    return {"stylegan2-lite": lite, "stylegan2 (official)": official}, gl


def _timed(fn, repeats: int) -> float:
    return 1e3 * median_time(fn, repeats=repeats, warmup=1)


def _interleaved(fns: dict, repeats: int) -> dict[str, float]:
    """Returns the median ms of each ``fns[label]()``, timed in turns (one call of each per round, after
    one warm-up call each) so that a changing machine load hits every label alike."""
    for fn in fns.values():
        fn()
    times = {label: [] for label in fns}
    for _ in range(repeats):
        for label, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[label].append(1e3 * (time.perf_counter() - t0))
    return {label: statistics.median(t) for label, t in times.items()}


def run(quick: bool = False) -> list[dict]:
    sgs, g = _models()
    n_ph, repeats = (500 if quick else 5000), (3 if quick else 9)
    rows = []
    before = torch.get_num_threads()
    for threads in sorted({1, os.cpu_count() or 1}):
        torch.set_num_threads(threads)
        for kind in ("smooth", "textured"):
            ms = _timed(lambda: phantoms.sample(n_ph, size=64, seed=0, kind=kind), 1 if not quick else 2)
            rows.append({"case": f"phantoms.sample({n_ph}, 64, kind={kind!r})", "threads": threads, "ms": ms,
                         "images_per_s": n_ph / ms * 1e3})
        for batch in BATCHES:
            lat = {label: [torch.randn(batch, G.num_ws, G.z_dim), *G.make_noise(batch)] for label, G in sgs.items()}

            def grad(label):
                G, v = sgs[label], [t.clone().requires_grad_() for t in lat[label]]
                G(v[0], v[1:]).square().sum().backward()

            def fwd(label):
                with torch.no_grad():
                    sgs[label](lat[label][0], lat[label][1:])

            for case, fn in (("forward", fwd), ("forward+grad", grad)):
                ms = _interleaved({label: functools.partial(fn, label) for label in sgs}, repeats)
                rows += [{"case": f"{label} {case} (batch {batch})", "threads": threads, "ms": v} for label, v in ms.items()]
        eps = g.sample_latents(3)

        def gl_fwd():
            with torch.no_grad():
                g.decode(eps)

        def gl_grad():
            lat = [v.clone().requires_grad_() for v in eps]
            g.decode(lat).square().sum().backward()

        for case, fn in (("glow decode", gl_fwd), ("glow decode+grad", gl_grad)):
            rows.append({"case": f"{case} (batch 3)", "threads": threads, "ms": _timed(fn, repeats)})
    torch.set_num_threads(before)
    return rows
