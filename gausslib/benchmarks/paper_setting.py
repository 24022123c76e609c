"""The paper's setting at 256 × 256: what one inversion step costs with a config-F StyleGAN2.

Counts that do not depend on the machine: the generator's parameters, the FLOPs of one forward pass and
of forward + backward with respect to every latent (one L-BFGS function evaluation;
``torch.utils.flop_counter``), and the bytes autograd keeps for that backward (the activation memory of
the batch). Times are measured: on this machine's CPU, and on a GPU where one is present (with its peak
memory). The eikonal operator (fast sweeping on the host) at 256 × 256 with the paper's acquisition is
timed too. The weights are random (:func:`gausslib.generators.official.config_f`): cost depends on the
architecture, not on the weight values.

``python -m gausslib.benchmarks.paper_setting`` writes ``data/results/bench/paper-setting.json``.
"""
from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from gausslib import operators as ops
from gausslib.bench import machine, median_time, one_thread
from gausslib.files import atomic_write
from gausslib.generators import Generator
from gausslib.generators.official import config_f

OUT = Path(__file__).resolve().parents[2] / "data" / "results" / "bench" / "paper-setting.json"


def _latents(G: Generator, batch: int, device) -> tuple[torch.Tensor, list[torch.Tensor]]:
    z = torch.randn(batch, G.num_ws, G.z_dim, device=device, requires_grad=True)
    return z, [n.to(device).requires_grad_() for n in G.make_noise(batch)]


def _step(G: Generator, z: torch.Tensor, noise: list[torch.Tensor]) -> None:
    """One function evaluation of an inversion: forward, a scalar misfit, backward to the latents."""
    G(z, noise).square().sum().backward()


def cost(G: Generator, batch: int = 3) -> dict:
    """Returns the machine-independent cost of one evaluation at ``batch`` (images × restarts):
    ``{"parameters", "forward_gflop", "step_gflop", "activation_mib"}``.

    ``activation_mib``: the distinct tensors, other than the weights, that autograd saves in the forward pass
    for the backward, in MiB (what the batch adds to memory on any device, besides the weights and the
    allocator's slack).
    """
    if not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch: expected a positive int, got {batch!r}")
    device = next(G.parameters()).device
    z, noise = _latents(G, batch, device)
    weights = {t.data_ptr() for t in (*G.parameters(), *G.buffers())}
    saved: dict[tuple, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        if t.data_ptr() not in weights:  # the weights are in memory anyway
            saved[(t.data_ptr(), tuple(t.shape), t.dtype)] = t.numel() * t.element_size()
        return t

    with FlopCounterMode(display=False) as counter:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            img = G(z, noise)
        forward = counter.get_total_flops()
        img.square().sum().backward()
    return {"parameters": sum(p.numel() for p in G.parameters()), "forward_gflop": forward / 1e9,
            "step_gflop": counter.get_total_flops() / 1e9, "activation_mib": sum(saved.values()) / 2**20}


def time_step(G: Generator, batch: int = 3, repeats: int = 3) -> dict:
    """Returns ``{"step_s", "peak_mib"}``: the median time of one evaluation (forward, misfit, backward) at ``batch`` on
    the generator's device and, on CUDA, the peak memory allocated (None elsewhere)."""
    device = next(G.parameters()).device
    z, noise = _latents(G, batch, device)
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    seconds = median_time(lambda: _step(G, z, noise), repeats=repeats, warmup=1, device=device)
    return {"step_s": seconds, "peak_mib": torch.cuda.max_memory_allocated(device) / 2**20 if cuda else None}


def time_eikonal(n: int = 256, per_edge: int = 8, repeats: int = 3) -> float:
    """Returns the median seconds of one traveltime forward + gradient on an ``n × n`` grid with the
    paper's acquisition (``per_edge`` sources per edge), from a non-uniform velocity."""
    op = ops.Eikonal(n, h=0.256 / n, per_edge=per_edge)
    g = torch.Generator().manual_seed(0)
    m = (torch.rand(1, 1, n, n, generator=g, dtype=torch.float64) * 2 - 1).requires_grad_()
    target = op(torch.zeros(1, 1, n, n, dtype=torch.float64)).detach()

    def step():
        (op(m) - target).square().sum().backward()

    return median_time(step, repeats=repeats, warmup=1)


def measure(batch: int = 3, repeats: int = 3, resolution: int = 256) -> dict:
    """Returns the cost and the CPU (one thread) and, where present, GPU timings of the paper's setting."""
    torch.manual_seed(0)
    G = Generator(config_f(resolution)).eval().requires_grad_(False)
    cpu, = one_thread(lambda: [{"cpu_1thread_step_s": time_step(G, batch, repeats)["step_s"],
                                "eikonal_step_s": time_eikonal(resolution, repeats=repeats)}])
    out = {"resolution": resolution, "batch": batch, **cost(G, batch), **cpu, "machine": machine(),
           "torch": torch.__version__, "python": platform.python_version()}
    if torch.cuda.is_available():
        gpu = time_step(G.cuda(), batch, repeats=max(repeats, 10))
        out.update(gpu_name=torch.cuda.get_device_name(0), gpu_step_s=gpu["step_s"], gpu_peak_mib=gpu["peak_mib"])
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m gausslib.benchmarks.paper_setting", description=__doc__.split("\n")[0])
    p.add_argument("--batch", type=int, default=3, help="images × restarts (default: %(default)s)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default=str(OUT))
    args = p.parse_args(argv)
    result = measure(args.batch, args.repeats)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(Path(args.out)) as tmp:
        tmp.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
