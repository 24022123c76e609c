"""Quality metrics and model cards for the shipped generators (``python -m gausslib.train eval …``).

StyleGAN2: SWD on Laplacian-pyramid patches between ``n`` generated and ``n`` held-out phantoms
(seed 1), beside the same distance between two disjoint held-out sets (seeds 1 and 2: the floor).
Glow: held-out bits/dim (8-bit dequantised), round-trip error ``max|decode(encode(x)) − x|`` in
float32, and the SWD of its samples at temperature 0.7. Results go to
``data/weights/<name>.metrics.json``; the card ``data/weights/<name>.md`` is rewritten from the
weights' metadata, the metrics and the run log.
"""
from __future__ import annotations

import functools
import json
import time

import torch
from tqdm.auto import tqdm

from gausslib import phantoms
from gausslib.generators import ood, zoo
from gausslib.generators.glow import TEMPERATURE, dequantize
from gausslib.generators.stylegan2 import Generator
from gausslib.swd import swd

HELDOUT, FLOOR = 1, 2  # phantom seeds never used in training (training seeds are >= 10 000)
BPD_IMAGES = 1000  # held-out images for bits/dim (its std over images is ~0.2 bits, so ±0.01 on the mean)
OOD_IMAGES = 1000  # images per out-of-distribution kind for the SWD scores of the noise maps


@functools.lru_cache(maxsize=4)
def _floor(n: int, res: int, kind: str = "brain") -> tuple[torch.Tensor, dict]:
    """Returns the held-out set ``[n, 1, res, res]`` of phantom ``kind`` and the real-vs-real SWD
    (computed once per process)."""
    real = phantoms.sample(n, size=res, seed=HELDOUT, kind=kind)
    return real, swd(phantoms.sample(n, size=res, seed=FLOOR, kind=kind), real)


@torch.no_grad()
def generate(model, n: int, seed: int = 0, batch: int = 100, temperature: float = TEMPERATURE) -> torch.Tensor:
    """Returns ``n`` seeded samples ``[n, C, R, R]`` (StyleGAN2: one z per image, T = 1; Glow: ``temperature``)."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for i in tqdm(range(0, n, batch), desc="generate", leave=False):
        b = min(batch, n - i)
        if model.family == "glow":
            eps = [temperature * torch.randn(b, *s, generator=gen) for s in model.latent_shapes]
            out.append(model.decode(eps).clamp(-1, 1))
        else:
            z = torch.randn(b, model.z_dim, generator=gen)
            out.append(model(z, [torch.randn(b, *s, generator=gen) for s in model.noise_shapes]))
    return torch.cat(out)


@torch.no_grad()
def glow_metrics(model, real: torch.Tensor) -> dict:
    """Returns held-out bits/dim (mean ± std over images) and the float32 round-trip error."""
    gen = torch.Generator().manual_seed(5)
    x = dequantize(real, torch.rand(real.shape, generator=gen))
    bpd = torch.cat([model.bits_per_dim(c) for c in tqdm(x[:BPD_IMAGES].split(100), desc="bits/dim", leave=False)])
    sub = real[:256]
    err = (model.decode(model.encode(sub)) - sub).abs().max()
    return {"heldout_bpd": float(bpd.mean()), "heldout_bpd_std": float(bpd.std()), "roundtrip_max_abs_err": float(err)}


@torch.no_grad()
def noise_redraw_psnr(G, n: int = 256, seed: int = 0, batch: int = 64) -> dict:
    """Returns how much a StyleGAN2's images depend on its noise maps, with the styles fixed.

    ``n`` z+ draws, each rendered with two independent sets of N(0, 1) noise maps; PSNR (data range 2,
    images clamped to [−1, 1]) between the two renderings: ``{"mean_db", "std_db", "min_db",
    "max_db"}`` over images, and ``"per_layer_db"``: the mean PSNR when only noise map ``i`` is
    redrawn (order of ``G.noise_shapes``). Inert noise inputs give ≳ 45 dB; noise that carries the
    fine texture gives ≲ 30 dB.
    """
    from gausslib.metrics import psnr

    if getattr(G, "family", None) != "stylegan2":
        raise TypeError(f"G must be a StyleGAN2, got {type(G).__name__}")
    gen = torch.Generator().manual_seed(seed)
    dev = next(G.parameters()).device
    whole, layer = [], [[] for _ in G.noise_shapes]
    for i in range(0, n, batch):
        b = min(batch, n - i)
        z = torch.randn(b, G.num_ws, G.z_dim, generator=gen).to(dev)
        n1, n2 = G.make_noise(b, gen), G.make_noise(b, gen)
        ws = G.map_z_plus(z)

        def render(noise):
            return G.synthesis(ws, noise).clamp(-1, 1)

        ref = render(n1)
        whole.append(psnr(render(n2), ref, 2.0).cpu())
        for j in range(len(n1)):
            layer[j].append(psnr(render(n1[:j] + [n2[j]] + n1[j + 1:]), ref, 2.0).cpu())
    db = torch.cat(whole)
    # An unchanged image has infinite PSNR; cap the per-layer means so they stay finite numbers.
    per_layer = [float(torch.cat(v).clamp(max=100.0).mean()) for v in layer]
    return {"n": n, "mean_db": float(db.mean()), "std_db": float(db.std()), "min_db": float(db.min()),
            "max_db": float(db.max()), "per_layer_db": per_layer}


def noise_redraw_figure(G, path=None, n: int = 4, seed: int = 0):
    """Returns ``(fig, axes)``: ``n`` columns of one z+ rendered with two noise draws and their difference
    (rows: draw 1, draw 2, |difference| ×5); written to ``path`` when given."""
    import matplotlib.pyplot as plt

    gen = torch.Generator().manual_seed(seed)
    dev = next(G.parameters()).device
    with torch.no_grad():
        ws = G.map_z_plus(torch.randn(n, G.num_ws, G.z_dim, generator=gen).to(dev))
        a, b = (G.synthesis(ws, G.make_noise(n, gen)).clamp(-1, 1).cpu().numpy() for _ in range(2))
    fig, axes = plt.subplots(3, n, figsize=(1.7 * n, 5.2), squeeze=False)
    rows = ((a, 2.0, "noise draw 1"), (b, 2.0, "noise draw 2"), (abs(a - b) - 1.0, 0.4, "|difference| (0–0.4)"))
    for r, (imgs, span, label) in enumerate(rows):
        for j in range(n):
            axes[r, j].imshow(imgs[j, 0], cmap="gray", vmin=-1.0, vmax=-1.0 + span)
            axes[r, j].set_xticks([]), axes[r, j].set_yticks([])
        axes[r, 0].set_ylabel(label, fontsize=8)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig, axes


def noise_metrics(G, real: torch.Tensor) -> dict:
    """Returns the noise-map entries of a StyleGAN2's metrics: ``noise_redraw_psnr`` (:func:`noise_redraw_psnr`),
    ``ood_noise_maps`` (:func:`ood.scores` of out-of-distribution noise maps against ``real`` ``[n, 1, R, R]``,
    at most ``OOD_IMAGES`` of them) and ``noise_strength_abs`` (the learned strengths, 4×4 first)."""
    out = {"noise_redraw_psnr": noise_redraw_psnr(G), "ood_noise_maps": ood.scores(G, real[:OOD_IMAGES], target="noise")}
    if isinstance(G, Generator):  # the official architecture learns a strength per layer; StyleGAN2-lite does not
        out["noise_strength_abs"] = [float(v) for v in G.noise_strengths().abs()]
    return out


def evaluate(name: str, n: int = 2000, weights_dir=zoo.WEIGHTS_DIR) -> dict:
    """Returns (and writes to ``<name>.metrics.json`` and the card) the metrics of shipped model ``name``."""
    t0 = time.time()
    model = zoo.load(name, weights_dir=weights_dir)
    res = model.resolution
    real, floor = _floor(n, res, model.meta.get("data", "brain"))
    fake = generate(model, n)
    gen_swd = swd(fake, real)
    metrics = {"n": n, "swd_real_vs_real": floor, "swd_generated_vs_real": gen_swd,
               "swd_ratio": gen_swd["swd_mean"] / floor["swd_mean"]}
    if model.family == "glow":
        metrics.update(glow_metrics(model, real))
        metrics["sample_temperature"] = model.temperature
    else:
        metrics.update(noise_metrics(model, real))
    metrics["eval_wall_s"] = round(time.time() - t0, 1)
    (weights_dir / f"{name}.metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    from gausslib.viz import save_grid
    save_grid(fake[:32], weights_dir / f"{name}-samples.png")
    write_card(name, weights_dir)
    print(json.dumps(metrics, indent=2))
    return metrics


# The smooth models (the first data set) and the v2 models each have their own figures; a card shows
# the figures of its own generation.
GENERATIONS = {"textured": ("stylegan2-phantom64", "glow-phantom64", ""),
               "brain": ("stylegan2-phantom64-smooth", "glow-phantom64-smooth", "-smooth")}
GENERATIONS["smooth"] = GENERATIONS["brain"]


def generation_of(name: str) -> str:
    """Returns the data a shipped generator ``name`` was trained on (``"textured"`` or ``"brain"``), the key of
    its figures in :data:`GENERATIONS`."""
    for data in ("textured", "brain"):
        if name in GENERATIONS[data][:2]:
            return data
    raise ValueError(f"name: expected one of the shipped generators "
                     f"{[n for d in ('textured', 'brain') for n in GENERATIONS[d][:2]]}, got {name!r}")


def figure_names(data: str = "textured") -> dict[str, str]:
    """Returns the file names of the out-of-distribution figures of the generation trained on ``data``."""
    tag = GENERATIONS[data][2]
    return {"ood": f"ood-latents{tag}.png", "noise": f"ood-noise-maps{tag}.png", "pathological": f"pathological-style{tag}.png"}


def ood_figure(weights_dir=zoo.WEIGHTS_DIR, data: str = "textured") -> None:
    """Writes, for the generation of shipped models trained on ``data``, ``ood-latents*.png``: both models
    fed out-of-distribution latents (paper Fig. 1), and ``ood-noise-maps*.png``: the StyleGAN2 with Gaussian
    styles and out-of-distribution noise maps (:func:`figure_names`). ``pathological-style*.png`` (Fig. 10)
    needs an inversion: ``gausslib.pathological.write_figure``."""
    sg2, glow, _ = GENERATIONS[data]
    files = figure_names(data)
    models = {name: zoo.load(name, weights_dir=weights_dir) for name in (glow, sg2) if name in zoo.available(weights_dir)}
    ood.figure(models, weights_dir / files["ood"])
    if sg2 in models:
        ood.figure({sg2: models[sg2]}, weights_dir / files["noise"], target="noise")


_DATA = {"brain": """Procedural brain-MRI-like phantoms from `gausslib.phantoms.sample(n, size={res}, seed=s)`:
scalp, skull ring, CSF rim, folded cortex, white matter with smooth texture, paired ventricles,
0–3 small lesions, bias field, Gaussian noise, random pose/size/intensities; values in [−1, 1].""",
         "textured": """Procedural brain-MRI-like phantoms v2 from
`gausslib.phantoms.sample(n, size={res}, seed=s, kind="textured")`: scalp, skull ring, CSF rim,
randomly folded cortex (irregular gyri and sulci), grey/white matter with band-limited random
texture, paired ventricles, 0–3 small lesions, bias field, Rician noise, random
pose/size/intensities; values in [−1, 1]."""}
_DATA["smooth"] = _DATA["brain"]
_DATA_STREAM = """An endless stream: training step `k` uses `seed = 10000 + k` (every image is fresh); the metrics
use held-out seeds 1 and 2, never seen in training."""


def _notes(name: str, weights_dir) -> list[str]:
    """Return the lines of ``<name>.notes.md`` (dated checks made by hand: reproduction, longer training), if any."""
    path = weights_dir / f"{name}.notes.md"
    return [path.read_text().strip(), ""] if path.exists() else []


def _finest(score: dict) -> float:
    """Returns an :func:`ood.scores` entry's ratio at the finest SWD level (``levels`` lists it first)."""
    return next(iter(score["levels"].values()))


def _ood_verdict(scores: dict, threshold: float = 1.5) -> str:
    """Returns a sentence saying which out-of-distribution noise maps degrade the images (finest-level SWD
    ratio at least ``threshold``) and which do not."""
    def names(kinds, one, many):
        return f"{', '.join(kinds)} {one if len(kinds) == 1 else many}"

    worse = [k for k, v in scores.items() if k != "gaussian" and _finest(v) >= threshold]
    rest = [k for k, v in scores.items() if k not in worse + ["gaussian"]]
    spread = max((abs(_finest(scores[k]) - 1) for k in rest), default=0.0)
    head = (f"At the finest level, {names(worse, 'raises', 'raise')} it {threshold:g}× or more" if worse
            else f"No deviation raises it {threshold:g}× or more at the finest level")
    return head + (f"; {names(rest, 'changes', 'change')} it by at most {100 * spread:.0f} %. " if rest else ". ")


def write_card(name: str, weights_dir=zoo.WEIGHTS_DIR) -> None:
    """Writes the model card ``<name>.md`` from the weights' metadata, ``<name>.metrics.json`` and
    ``<name>.notes.md``."""
    path = zoo.resolve(name, weights_dir)[0]
    payload = zoo.read_payload(path)
    meta, cfg, kind = payload["meta"], payload["config"], payload["kind"]
    n_params = sum(v.numel() for k, v in payload["state_dict"].items() if v.is_floating_point())
    mpath = weights_dir / f"{name}.metrics.json"
    metrics = json.loads(mpath.read_text()) if mpath.exists() else None
    sha = zoo.checksums(weights_dir).get(name, {}).get("sha256", "(not recorded)")
    m = meta.get("machine", {})
    lines = [f"# Model card: `{name}`", "",
             f"{'StyleGAN2 generator (EMA weights)' if kind == 'stylegan2' else 'Glow normalising flow'} "
             f"trained from scratch on this project's procedural phantoms, {cfg['resolution']}×{cfg['resolution']}, "
             "grey. Load with `gausslib.generators.load(\"" + name + "\")`.", "",
             f"- file: `{path.name}` (float32 state dict + config), sha256 `{sha}`",
             f"- parameters: {n_params / 1e6:.2f} M", "",
             "## Data", "", _DATA[meta.get("data", "brain")].format(res=cfg["resolution"]), _DATA_STREAM, "",
             "## Architecture", "", "```", json.dumps(cfg, indent=1), "```", ""]
    if kind == "stylegan2" and cfg.get("arch") == "official":
        lines += [f"z (512) → {cfg['mapping_layers']}-layer mapping MLP (width {cfg['w_dim']}, lr ×{cfg['mapping_lr_mul']:g}) → w; "
                  "one w per synthesis input (z+); `w_avg` for truncation.",
                  "The official StyleGAN2 semantics (`gausslib.generators.stylegan2`): constant 4×4 input,",
                  "modulated/demodulated 3×3 convs, FIR [1, 3, 3, 1] up/down-sampling, noise inputs with learned",
                  "strength, tRGB skips, linear output; residual discriminator with FIR downsampling and",
                  "minibatch-stddev. Differences from the official training: no path-length regulariser, no",
                  "FP16/conv clamping, small channel counts (CPU training).", ""]
    elif kind == "stylegan2":
        lines += ["z (512) → 4-layer mapping MLP (width 512, lr ×0.01) → w; one w per synthesis input (z+);",
                  "constant 4×4 input, modulated/demodulated 3×3 convs (non-fused), bilinear upsampling, noise",
                  "inputs with learned strength, tRGB skips, tanh output. Residual discriminator with",
                  "minibatch-stddev. Differences from the official StyleGAN2: bilinear instead of FIR",
                  "resampling, no path-length regulariser, small channel counts (CPU training).", ""]
    else:
        lines += [f"{cfg['levels']} levels × {cfg['steps']} steps of actnorm (data init) → LU 1×1 conv → additive",
                  f"coupling (3×3 → 1×1 → zero-init 3×3, {cfg['hidden']} hidden channels); split with learned",
                  "conditional Gaussian prior; learned top prior. Latents are standardised (ε ~ N(0, I)).", ""]
    lines += ["## Training", "",
              f"- images seen: {meta.get('kimg', 0):.1f} kimg ({meta.get('step', 0)} steps of batch {meta.get('batch')}),"
              f" lr {meta.get('lr')}" + (f", R1 γ {meta['r1_gamma']:.4g} (lazy, every 16 steps)" if "r1_gamma" in meta else ""),
              f"- time in training steps: {meta.get('wall_s', 0) / 3600:.2f} h wall"
              + (f", {meta['cpu_s'] / 3600:.2f} h CPU" if meta.get("cpu_s") else "")
              + " (wall includes time paused or starved by other jobs on the shared machine)",
              f"- machine: {m.get('processor')} ({m.get('cpu_count')} cores shared with other jobs, "
              f"{m.get('threads')} torch thread), torch {m.get('torch')}, CUDA {m.get('cuda')}",
              "- " + ("loss: non-saturating logistic, lazy R1, style mixing p = 0.9, EMA of G (half-life "
                      "10 kimg, ramp-up 0.05), Adam(0, 0.99)" if kind == "stylegan2" else
                      "loss: bits/dim of 8-bit dequantised data; Adam, linear lr warm-up over 200 steps, "
                      "gradient-norm clipping at 50"),
              f"- last logged losses: `{json.dumps(meta.get('log_tail', []))}`", ""]
    lines += ["## Samples", "", f"![samples]({name}-samples.png)", "",
              f"Loss curves: ![losses]({name}-losses.png)", "", "## Metrics", ""]
    if metrics:
        lines += ["| metric | value |", "|---|---|",
                  f"| SWD ×10³ generated vs held-out (mean over levels 64/32/16) | {metrics['swd_generated_vs_real']['swd_mean']:.2f} |",
                  f"| SWD ×10³ held-out vs held-out (floor) | {metrics['swd_real_vs_real']['swd_mean']:.2f} |",
                  f"| SWD ratio (aim ≤ 3) | {metrics['swd_ratio']:.2f} |"]
        if "noise_redraw_psnr" in metrics:
            nr = metrics["noise_redraw_psnr"]
            lines += [f"| noise maps redrawn, styles fixed: PSNR dB ({nr['n']} images; mean ± std, min–max; aim ≤ 30) | "
                      f"{nr['mean_db']:.1f} ± {nr['std_db']:.1f}, {nr['min_db']:.1f}–{nr['max_db']:.1f} |"]
            lines += [f"| out-of-distribution noise maps, SWD ratio to Gaussian noise maps: {k} (mean over levels; "
                      f"finest level) | {v['ratio']:.2f}; {_finest(v):.2f} |"
                      for k, v in metrics["ood_noise_maps"].items() if k != "gaussian"]
        if "noise_strength_abs" in metrics:
            lines += ["| learned noise strengths \\|s\\| (4×4 first) | "
                      + ", ".join(f"{v:.3g}" for v in metrics["noise_strength_abs"]) + " |"]
        if "heldout_bpd" in metrics:
            lines += [f"| held-out bits/dim ({min(metrics['n'], BPD_IMAGES)} images, 8-bit) | {metrics['heldout_bpd']:.3f} ± {metrics['heldout_bpd_std']:.3f} |",
                      f"| round-trip max abs error (float32) | {metrics['roundtrip_max_abs_err']:.2e} |"]
        lines += ["", f"{metrics['n']} images per set; SWD: 64 7×7 patches per image per level, 4×128 directions.", ""]
    else:
        lines += ["Not evaluated yet: run `python -m gausslib.train eval " + name + "`.", ""]
    official = cfg.get("arch") == "official"
    if official:
        ood_text = ("Skewed, heavy-tailed, non-i.i.d. and 2×-norm latents (`gausslib.generators.ood`), paper Fig. 1. "
                    "StyleGAN2 normalises every z before its mapping network, so its noise maps are where such "
                    "latents can hurt it: below, Gaussian styles with out-of-distribution noise maps (the metrics "
                    "table scores each kind by its SWD to real phantoms relative to Gaussian noise maps). "
                    + (_ood_verdict(metrics["ood_noise_maps"]) if metrics and "ood_noise_maps" in metrics else ""))
    else:
        ood_text = ("Skewed, heavy-tailed, non-i.i.d. and 2×-norm latents (`gausslib.generators.ood`), paper Fig. 1. "
                    "Glow degrades visibly. StyleGAN2 normalises every z before its mapping network, so — like the "
                    "paper's StyleGAN2, which the paper calls \"very robust to vectors drawn from the distributions "
                    "similar to those in Fig. 1\" — it shrugs off i.i.d. deviations and reacts only to the non-i.i.d. "
                    "pattern. ")
    data = meta.get("data", "brain")
    run = f"runs/{kind}" + ("" if data == "brain" else "-v2")
    train_args = ("--arch lite " if kind == "stylegan2" and not official else "") + f"--data {data} "
    make_line = ("make train-smooth   # both models from scratch to the shipped kimg (SG2_KIMG / GLOW_KIMG), export, evaluate"
                 if data == "brain" else "make train   # both models, resumable (SG2_V2_KIMG / GLOW_V2_KIMG), export, evaluate")
    files = figure_names(data)
    lines += ["## Out-of-distribution latents", "", f"![ood]({files['ood']})", "",
              *([f"![ood noise maps]({files['noise']})", ""] if official else []),
              ood_text + "Its pathological latents come from inversions (paper Fig. 10): CS-MRI 8× / 10 dB of "
              "out-of-distribution targets with the plain, unconstrained z+ (`gausslib.pathological`). "
              + ("Titles: bits/dim under the shipped Glow, lower is more typical." if official else
                 "Whitening that z+ changes nothing; ICA restores plausible anatomy (titles: bits/dim under the "
                 "shipped Glow, lower is more typical; held-out phantoms score ≈ 4)."), "",
              f"![pathological style vectors]({files['pathological']})", "",
              "## Reproduce", "",
              f"These weights are the training run's EMA/current weights at {meta.get('kimg', 0):.1f} kimg. "
              "Training is seeded and resumable (checkpoints every 5 minutes in `runs/<model>/`):", "", "```",
              f"python -m gausslib.train {kind} {train_args}--out {run} --kimg {meta.get('kimg', 0):g} --resume --threads 1",
              f"python -m gausslib.train export {kind} --run {run} --name {name}",
              f"python -m gausslib.train eval {name}",
              make_line,
              "```", "",
              *_notes(name, weights_dir),
              "Step k always draws phantom seed 10000 + k, and a checkpoint stores the RNG state, so a resumed run",
              "continues with the same data and random draws as an uninterrupted one (on the same device).", ""]
    (weights_dir / f"{name}.md").write_text("\n".join(lines))
