"""Embedded-generator timings: phantom throughput and the inversion's forward + backward passes.

Rows: ``phantoms.sample(20 000, 64)`` (target: seconds); StyleGAN2 ``G(z+, noise)`` and Glow
``decode`` at 64×64, forward alone and forward + gradient w.r.t. all latents (what one inversion
iteration costs), for a batch of 3 restarts; each at 1 thread and at all threads.
"""
from __future__ import annotations

import os

import torch

from gausslib import phantoms
from gausslib.bench import median_time
from gausslib.generators import Generator, Glow, zoo


def _models():
    """Returns the shipped models if present, else untrained ones of the same architecture."""
    names = zoo.available()
    sg = zoo.load("stylegan2-phantom64") if "stylegan2-phantom64" in names else Generator().eval()
    gl = zoo.load("glow-phantom64") if "glow-phantom64" in names else Glow().eval()
    return sg, gl


def _latents(G, g, batch: int):
    z = torch.randn(batch, G.num_ws, G.z_dim)
    noise = G.make_noise(batch)
    eps = g.sample_latents(batch, temperature=0.7)
    return [z, *noise], eps


def run(quick: bool = False) -> list[dict]:
    G, g = _models()
    n_ph, repeats, batch = (2000 if quick else 20000), (2 if quick else 5), 3
    rows = []
    before = torch.get_num_threads()
    for threads in sorted({1, os.cpu_count() or 1}):
        torch.set_num_threads(threads)
        t = median_time(lambda: phantoms.sample(n_ph, size=64, seed=0), repeats=1 if not quick else 2, warmup=0)
        rows.append({"case": f"phantoms.sample({n_ph}, 64)", "threads": threads, "ms": 1e3 * t})
        sg_lat, gl_lat = _latents(G, g, batch)

        def sg_fwd():
            with torch.no_grad():
                G(sg_lat[0], sg_lat[1:])

        def sg_grad():
            lat = [v.clone().requires_grad_() for v in sg_lat]
            G(lat[0], lat[1:]).square().sum().backward()

        def gl_fwd():
            with torch.no_grad():
                g.decode(gl_lat)

        def gl_grad():
            lat = [v.clone().requires_grad_() for v in gl_lat]
            g.decode(lat).square().sum().backward()

        for case, fn in (("stylegan2 forward", sg_fwd), ("stylegan2 forward+grad", sg_grad),
                         ("glow decode", gl_fwd), ("glow decode+grad", gl_grad)):
            rows.append({"case": f"{case} (batch {batch})", "threads": threads,
                         "ms": 1e3 * median_time(fn, repeats=repeats, warmup=1)})
    torch.set_num_threads(before)
    return rows
