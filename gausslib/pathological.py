"""A pathological style vector found by an inversion, and what each layer makes of it (paper Fig. 10).

StyleGAN2 normalises every z before its mapping network, so the i.i.d. deviations of Fig. 1 (skew,
heavy tails, twice the norm) barely reach its images — the paper says so of its own StyleGAN2
(App. "StyleGAN2 is … very robust to vectors drawn from the distributions similar to those in
Fig. 1"). Its challenging latents come from inversions instead. :func:`find` makes some: CS-MRI
8× of out-of-distribution targets at low SNR, with the plain latent (no constraint, no penalty)
optimised by Adam, drifts into z+ matrices whose entries look almost Gaussian one by one (kurtosis
≈ 3.3, norm ≈ 1.3 × typical) while the images turn speckled. :func:`repair` feeds such a z+ through
the layers of the ablation — whitening only, whitening + ICA, the full stack — keeping the found
noise maps, as in the paper's Fig. 10: whitening leaves the images as they were, ICA (removing
higher-order dependence) restores them. :func:`plausibility` scores images by their bits/dim under
the shipped Glow, an independent density model of the same phantoms.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from . import problems
from .generators.glow import dequantize
from .invert import invert, latent_dashboard
from .layers import GaussianizationLayers, patchify
from .reparam import Raw, latent_space

__all__ = ["VARIANTS", "Found", "find", "repair", "plausibility", "figure", "write_figure"]

PATCH = 32                                  # the paper's patch size for StyleGAN2 style vectors
VARIANTS = {"found": None, "whitened": "zca", "whitened + ICA": "ica", "G layers": "full"}  # presets of the stack


@dataclass
class Found:
    """What :func:`find` returns: ``latents`` (the generator's latent groups, z+ ``[N, num_ws, z_dim]``
    first), ``targets`` ``[N, 1, H, W]``, ``images`` (the inversion's) and ``psnr`` ``[N]``."""

    latents: list[list[torch.Tensor]]
    targets: torch.Tensor
    images: torch.Tensor
    psnr: torch.Tensor


def plausibility(density, images: torch.Tensor) -> torch.Tensor:
    """Return the bits/dim ``[N]`` of ``images: [N, C, H, W]`` in [−1, 1] under ``density`` (a Glow).

    An independent model of the same phantoms scores how typical an image is (lower: more
    plausible). Images are quantised to 8 bits and scored at the bin centres.
    """
    return density.bits_per_dim(dequantize(images.clamp(-1, 1), noise=0.5))


def find(G, n: int = 3, *, snr_db: float = 10.0, accel: float = 8.0, iters: int = 300, lr: float = 0.1,
         target_kind: str = "ood", progress: bool = False) -> Found:
    """Return a :class:`Found`: ``n`` z+ latents an unconstrained inversion drove somewhere atypical.

    G: a StyleGAN2. Targets: ``problems.targets(G, target_kind, range(n))``; problem:
    CS-MRI ``accel``× at ``snr_db``; reparameterisation: the plain latent (:class:`Raw`, β = 0,
    noise maps free); Adam with ``lr`` for ``iters`` steps from seed 0.
    """
    if getattr(G, "family", None) != "stylegan2":
        raise TypeError(f"G must be a StyleGAN2 generator, got {type(G).__name__}")
    ids = list(range(n))
    x = problems.targets(G, target_kind, ids, G.resolution)
    spec = problems.get("mri")
    problem = spec.build(spec.Setting(accel=accel, snr_db=snr_db), x, ids)
    reparam = Raw(noise="free")
    res = invert(problem, G, reparam, restarts=1, iters=iters, optimizer="adam", lr=lr, progress=progress)
    latents = reparam.bind(G, [0] * n).latents(res.params[:, 0])
    return Found(latents=[[t.detach() for t in group] for group in latents], targets=x,
                 images=res.images[:, 0], psnr=res.metrics["psnr"][:, 0])


@torch.no_grad()
def repair(G, found: Found, density=None) -> dict[str, dict[str, torch.Tensor]]:
    """Return, per entry of :data:`VARIANTS`, ``{"images": [N, 1, H, W]}`` plus the
    :func:`gausslib.invert.latent_dashboard` entries (each ``[N]``) of its z+ in 32-entry patches,
    and ``"bits_per_dim"`` ``[N]`` (:func:`plausibility`) when a ``density`` model is given.

    Only the style vectors pass through the layers (float64, as in the inversions); the noise maps
    stay as found, so every difference between the columns comes from the z+ matrix.
    """
    zplus, *rest = found.latents[0]
    space = latent_space(G)
    out = {}
    for name, preset in VARIANTS.items():
        z = zplus if preset is None else GaussianizationLayers(patch_size=PATCH, steps=preset)(zplus.double()).to(zplus)
        images = space.render([[z, *rest], *found.latents[1:]])
        out[name] = {"images": images, **latent_dashboard(patchify(z.double(), PATCH))}
        if density is not None:
            out[name]["bits_per_dim"] = plausibility(density, images)
    return out


def figure(G, found: Found, density=None, path=None):
    """Plot the targets, then one column per :data:`VARIANTS` entry (rows: images), titled with the
    mean bits/dim under ``density`` if given; save to ``path`` if given. Returns ``(fig, repair(...))``."""
    import matplotlib.pyplot as plt

    columns = repair(G, found, density)
    n = found.targets.shape[0]
    fig, axes = plt.subplots(n, len(columns) + 1, figsize=(1.9 * (len(columns) + 1), 1.9 * n), squeeze=False)
    def title(name, v):
        return f"{name}\n{float(v['bits_per_dim'].mean()):.2f} bits/dim" if "bits_per_dim" in v else name

    panels = [("target (out of distribution)", found.targets)] + [(title(k, v), v["images"]) for k, v in columns.items()]
    for c, (title, images) in enumerate(panels):
        for r in range(n):
            ax = axes[r, c]
            ax.imshow(images[r, 0].cpu(), cmap="gray", vmin=-1, vmax=1)
            ax.set(xticks=[], yticks=[])
            if r == 0:
                ax.set_title(title, fontsize=8)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig, columns


def write_figure(weights_dir, data: str = "textured") -> None:
    """Writes ``pathological-style*.png`` into ``weights_dir`` for the generation of shipped models trained on
    ``data`` (:func:`figure` of :func:`find`'s latents, scored by that generation's Glow), when both are there."""
    import matplotlib.pyplot as plt

    from .generators import evaluate, zoo

    sg2, glow, _ = evaluate.GENERATIONS[data]
    if not {sg2, glow} <= set(zoo.available(weights_dir)):
        return
    G = zoo.load(sg2, weights_dir=weights_dir)
    fig, _ = figure(G, find(G), zoo.load(glow, weights_dir=weights_dir),
                    weights_dir / evaluate.figure_names(data)["pathological"])
    plt.close(fig)
