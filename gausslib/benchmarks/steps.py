"""Where a G-layer evaluation spends its time: each step of the stack on the inversion's own patch matrices.

The matrices are those the Gaussianization layers see in an inversion at the study's batch (one
image × 3 restarts) and precision (float64, :class:`gausslib.reparam.Gaussianized`): on the shipped
StyleGAN2 the z+ style (``[3, 160, 32]``) and the pooled noise maps (``[3, 170, 64]``), on the
shipped Glow the P1 latent (``[3, 64, 192]``), at the inversion's start. Per matrix, each step's
forward + backward (its input made by the steps before it) and the whole stack, timed in
interleaved rounds on this thread's CPU time (one thread); ``eigh`` is the ``1 + ica_iters``
eigen-decompositions of a whitening and a FastICA pass alone (part of ``whiten`` and ``ica``), the
floor no reordering of the other work removes.
"""
from __future__ import annotations

import torch

from gausslib.bench import interleaved, one_thread, summary_ms
from gausslib.generators import zoo
from gausslib.layers import GaussianizationLayers
from gausslib.reparam import Gaussianized

GENERATORS = ("stylegan2-phantom64", "glow-phantom64")
RESTARTS = 3


def patch_matrices(G, reparam: Gaussianized) -> dict[str, torch.Tensor]:
    """Return ``{group kind: [B, n, d]}``: the reparameterised groups' patch matrices at the start, in the layers' dtype."""
    bound = reparam.bind(G, list(range(RESTARTS)))
    out = {}
    for group, mode, chunk, packer in zip(bound.space.groups, bound.modes, bound.x0.split(bound.sizes, 1),
                                          bound.packers):
        if mode == "reparam":
            out[group.kind] = group.to_matrix(packer.unpack(chunk)).to(reparam.layer_dtype)
    return out


def _timers(X: torch.Tensor, stack) -> dict:
    """Return ``{name: fn}``: forward + backward of each step on its own input, of the stack, and the eighs alone."""
    weight = torch.randn(X.shape, generator=torch.Generator().manual_seed(1), dtype=X.dtype)
    inputs, Y = [], X
    for step in stack.steps:
        inputs.append(Y)
        Y, _ = step(Y)

    def step_fn(step, Xi):
        def fn():
            x = Xi.clone().requires_grad_(True)
            torch.autograd.grad((step(x)[0] * weight).sum(), x)
        return fn

    def whole():
        x = X.clone().requires_grad_(True)
        torch.autograd.grad((stack(x) * weight).sum(), x)

    d = X.shape[-1]
    C = X.transpose(-1, -2) @ X + torch.eye(d, dtype=X.dtype)
    ica = next((s for s in stack.steps if s.name == "ica"), None)
    n_eigh = 1 + (ica.iters if ica is not None else 0)

    def eighs():
        for _ in range(n_eigh):
            torch.linalg.eigh(C)

    return {**{s.name: step_fn(s, Xi) for s, Xi in zip(stack.steps, inputs)}, "stack": whole, "eigh": eighs}


def _rows(repeats: int) -> list[dict]:
    rows = []
    for weights in GENERATORS:
        reparam = Gaussianized()
        stack = GaussianizationLayers(**reparam.layer_options)  # the inversion's stack (temperature aside)
        for kind, X in patch_matrices(zoo.load(weights), reparam).items():
            times = interleaved(_timers(X, stack), repeats=repeats)
            total = summary_ms(times["stack"]["cpu"])["median"]
            for name, t in times.items():
                s = summary_ms(t["cpu"])
                rows.append({"generator": weights, "group": kind, "shape": "x".join(map(str, X.shape)),
                             "dtype": str(X.dtype).removeprefix("torch."), "step": name, "ms": s["median"],
                             "q25_ms": s["q25"], "q75_ms": s["q75"], "share_of_stack": s["median"] / total})
    return rows


def run(quick: bool = False) -> list[dict]:
    """Return one row per (generator, group, step): median and quartiles in ms, one thread, CPU time."""
    return one_thread(lambda: _rows(3 if quick else 11))
