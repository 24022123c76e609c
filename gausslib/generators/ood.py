"""Out-of-distribution latents (paper Fig. 1): skewed, heavy-tailed, non-i.i.d. and 2×-norm draws.

For StyleGAN2 the deviation can hit the style vectors, the noise maps or both (``target``); the
mapping network normalises every z, so the noise maps are where a StyleGAN2 can be hurt.
:func:`scores` turns the figure into numbers: the SWD of the rendered images to real phantoms,
relative to the Gaussian case.

Every deviation keeps what a norm constraint can see roughly unchanged (except ``"norm2x"``), so the
degraded images show that a latent must be i.i.d. standard normal, not just of typical norm:
- ``"gaussian"``: N(0, 1), the reference;
- ``"skewed"``: standardised log-Exp(1) (a log-gamma, skewness −1.14);
- ``"heavy"``: Lambert W × Gaussian, ``u·exp(δu²/2)`` with δ = 0.3, standardised (kurtosis ≫ 3);
- ``"noniid"``: N(0, 1) plus the same 2-D sinusoid ``sin(2πky/H)·sin(2πkx/W)`` in every channel;
- ``"norm2x"``: 2 · N(0, 1).
"""
from __future__ import annotations

import math

import torch

from gausslib.generators.glow import TEMPERATURE

KINDS = ("gaussian", "skewed", "heavy", "noniid", "norm2x")
_EULER = 0.5772156649015329


def deviant(shape: tuple[int, ...], kind: str, generator: torch.Generator | None = None) -> torch.Tensor:
    """Returns a ``shape`` tensor (last two dims are treated as a 2-D map) drawn per ``kind``."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if kind == "skewed":
        u = torch.rand(shape, generator=generator).clamp_min(1e-12)
        return (torch.log(-torch.log(u)) + _EULER) / (math.pi / math.sqrt(6.0))
    g = torch.randn(shape, generator=generator)
    if kind == "heavy":
        delta = 0.3
        return g * torch.exp(0.5 * delta * g.square()) * (1 - 2 * delta) ** 0.75
    if kind == "noniid":
        h, w = shape[-2], shape[-1]
        yy = torch.sin(2 * math.pi * 3 * torch.arange(h) / h)[:, None]
        xx = torch.sin(2 * math.pi * 3 * torch.arange(w) / w)[None, :]
        return g + 2.0 * yy * xx
    return 2.0 * g if kind == "norm2x" else g


TARGETS = ("all", "style", "noise")


@torch.no_grad()
def render(model, kind: str, n: int, seed: int = 0, temperature: float = TEMPERATURE, target: str = "all") -> torch.Tensor:
    """Returns ``n`` images ``[n, C, R, R]`` of a Glow or StyleGAN2 fed ``kind`` latents.

    Glow: every multi-scale latent, times ``temperature``. StyleGAN2 (temperature 1: it is trained at
    T = 1): ``target`` says which latents deviate — ``"all"`` (the z+ matrix ``[num_ws, z_dim]`` and
    every noise map), ``"style"`` (z+ only) or ``"noise"`` (noise maps only); the others are N(0, 1).
    """
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    gen = torch.Generator().manual_seed(seed)
    dev = next(model.parameters()).device
    if model.family == "glow":
        eps = [temperature * deviant((n, *s), kind, gen).to(dev) for s in model.latent_shapes]
        return model.decode(eps).clamp(-1, 1)
    z = deviant((n, model.num_ws, model.z_dim), kind if target != "noise" else "gaussian", gen).to(dev)
    noise = [deviant((n, *s), kind if target != "style" else "gaussian", gen).to(dev) for s in model.noise_shapes]
    return model(z, noise)


def scores(model, real: torch.Tensor, target: str = "all", seed: int = 0, batch: int = 100) -> dict[str, dict]:
    """Returns ``{kind: {"swd", "ratio", "levels"}}`` for every kind: how far images rendered from ``kind``
    latents are from real ones, relative to Gaussian latents.

    ``"swd"``: SWD×10³ to ``real`` (mean over the Laplacian levels), ``"ratio"``: that over the Gaussian
    case's, ``"levels"``: the ratio per level (``{"swd_64": ..., "swd_32": ..., ...}``, finest first). Noise
    maps act on fine detail, so their deviations show first at the finest level. ``real``: ``[n, C, R, R]``
    real images (e.g. held-out phantoms); ``n`` images are rendered per kind (:func:`render`, seeds
    ``seed + i`` per batch of ``batch``, clamped to [−1, 1] like the data). A ratio ≥ 1.5 means the deviation
    visibly degrades the images (the paper's Fig. 1, as a number).
    """
    from gausslib.swd import swd

    n = real.shape[0]
    raw = {}
    for kind in KINDS:
        imgs = torch.cat([render(model, kind, min(batch, n - i), seed=seed + i, target=target).cpu()
                          for i in range(0, n, batch)]).clamp(-1, 1)
        raw[kind] = swd(imgs, real)
    ref = raw["gaussian"]
    return {kind: {"swd": d["swd_mean"], "ratio": d["swd_mean"] / ref["swd_mean"],
                   "levels": {k: v / ref[k] for k, v in d.items() if k != "swd_mean"}} for kind, d in raw.items()}


def figure(models: dict, path, n: int = 3, seed: int = 0, target: str = "all") -> None:
    """Writes a PNG: for each model (rows of ``n`` samples), one column per latent kind (``target``: which
    StyleGAN2 latents deviate, see :func:`render`)."""
    import matplotlib.pyplot as plt

    rows = [(name, i) for name in models for i in range(n)]
    fig, axes = plt.subplots(len(rows), len(KINDS), figsize=(1.6 * len(KINDS), 1.6 * len(rows)), squeeze=False)
    for c, kind in enumerate(KINDS):
        for name, model in models.items():
            imgs = render(model, kind, n, seed=seed, target=target).cpu()
            for i in range(n):
                ax = axes[rows.index((name, i)), c]
                ax.imshow(imgs[i, 0], cmap="gray", vmin=-1, vmax=1)
                ax.set_xticks([]), ax.set_yticks([])
                if rows.index((name, i)) == 0:
                    ax.set_title(kind, fontsize=9)
                if c == 0 and i == 0:
                    ax.set_ylabel(name, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
