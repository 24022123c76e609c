"""Procedural brain-MRI-like phantoms: the data set the embedded generators are trained on.

Each image is an axial T1-like slice drawn on a coordinate grid: scalp, dark skull ring, CSF rim,
folded cortex (grey matter) around white matter with smooth texture, paired lateral ventricles,
0–3 small lesions, a smooth multiplicative bias field and Gaussian noise; pose, size and tissue
intensities are random. ``kind="ood"`` draws the same anatomy with a large ring-enhancing tumour
(necrotic core, oedema, mass effect): the out-of-distribution family of the paper's Fig. 1
experiment. Everything is vectorised over the batch; parameters come from one seeded
``torch.Generator``, so ``sample(n, seed=s)`` is reproducible on any device.

Two families share that anatomy:

- ``"brain"`` (alias ``"smooth"``) and ``"ood"``: the first data set — smooth, piecewise-constant
  tissue, regular gyri (one cosine in the angle). Its images are frozen: the shipped
  ``stylegan2-phantom64-smooth`` / ``glow-phantom64-smooth`` and the committed study results use them.
- ``"textured"`` and ``"textured-ood"``: phantoms v2, with fine-scale structure that no handful of
  parameters describes, so a generator can only produce it through noise inputs: random cortical
  folding (a band-limited random series in the angle, 10–26 cycles: irregular gyri and sulci of
  varying depth), grey/white-matter texture from a band-limited Gaussian random field (a ring in
  the 2-D spectrum, 8–16 cycles per image width, stronger in grey matter) and Rician acquisition
  noise (the magnitude of complex Gaussian noise: a positive floor in the background, as in
  magnitude MRI). Partial-volume edges (each boundary a sigmoid of the signed distance, one pixel
  wide) and the bias field are those of the first family. Fields are defined in image units, so a
  size change resamples the same kind of structure.

``acquisition_noise=False`` returns the same images without the pixel noise (the random draws are
unchanged, so noisy minus clean is exactly the noise).
"""
from __future__ import annotations

import math

import torch

KINDS = ("brain", "smooth", "ood", "textured", "textured-ood")
# Seed offsets keep the families' random streams apart; "smooth" is "brain" under its v2 name.
_SEED_OFFSET = {"brain": 0, "smooth": 0, "ood": 7919, "textured": 104_729, "textured-ood": 1_299_709}
_CHUNK = 64  # images per vectorised block: [64, H, W] maps stay in cache (measured fastest)
_FOLD_K = (10, 26)   # cortical folding: angular harmonics (cycles around the head)
_TEX_BAND = (8.0, 16.0)  # texture: centre of the spectral ring, cycles per image width


def sample(n: int, size: int = 64, seed: int = 0, kind: str = "brain",
           device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32,
           acquisition_noise: bool = True) -> torch.Tensor:
    """Returns ``n`` phantoms ``[n, 1, size, size]`` with values in [−1, 1].

    ``kind``: ``"brain"`` = ``"smooth"`` (the first training distribution), ``"ood"`` (large tumour,
    mass effect), ``"textured"`` (phantoms v2: random folding, tissue texture, Rician noise) or
    ``"textured-ood"`` (v2 with the tumour). Same ``(n, size, seed, kind)`` → same images.
    """
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}")
    if not isinstance(size, int) or size < 8:
        raise ValueError(f"size must be an int >= 8, got {size!r}")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if not isinstance(acquisition_noise, bool):
        raise TypeError(f"acquisition_noise must be a bool, got {type(acquisition_noise).__name__}")
    textured = kind.startswith("textured")
    gen = torch.Generator().manual_seed(int(seed) + _SEED_OFFSET[kind])
    params = _draw_params(n, gen, ood=kind.endswith("ood"))
    if textured:
        params.update(_draw_textured_params(n, gen))
    out = torch.empty(n, 1, size, size, dtype=dtype, device=device)
    for i in range(0, n, _CHUNK):
        block = {k: v[i:i + _CHUNK].to(device=device, dtype=torch.float32) for k, v in params.items()}
        b = block["theta"].shape[0]
        # Random fields and pixel noise are drawn per fixed-size chunk, after all parameters, so
        # they stay seeded.
        if textured:
            block["tex_field"] = _band_field(torch.randn(b, size, size, generator=gen).to(device),
                                             block["tex_f0"], block["tex_bw"])
        noise = torch.randn(b, (2 if textured else 1), size, size, generator=gen).to(device)
        out[i:i + _CHUNK, 0] = _render(block, noise if acquisition_noise else None, size).to(dtype)
    return out


def _u(gen: torch.Generator, n: int, lo: float, hi: float, *shape: int) -> torch.Tensor:
    """Returns uniform draws ``[n, *shape]`` in [lo, hi)."""
    return lo + (hi - lo) * torch.rand(n, *shape, generator=gen)


def _draw_params(n: int, gen: torch.Generator, ood: bool) -> dict[str, torch.Tensor]:
    """Returns every random quantity of ``n`` phantoms as ``[n, ...]`` tensors (CPU, float32)."""
    p = {
        "theta": _u(gen, n, -0.35, 0.35),            # head rotation (rad)
        "shift": _u(gen, n, -0.06, 0.06, 2),          # head translation
        "a": _u(gen, n, 0.70, 0.84),                  # head half-width
        "ecc": _u(gen, n, 1.10, 1.28),                # half-length / half-width
        "shape_c": 0.025 * torch.randn(n, 3, generator=gen),   # outline harmonics 2..4 (cos)
        "shape_s": 0.025 * torch.randn(n, 3, generator=gen),   # outline harmonics 2..4 (sin)
        "skull_w": _u(gen, n, 0.06, 0.10),
        "scalp_w": _u(gen, n, 0.05, 0.09),
        "csf_w": _u(gen, n, 0.025, 0.05),
        "cortex_w": _u(gen, n, 0.12, 0.18),
        "gyri_k": torch.randint(11, 18, (n,), generator=gen).float(),
        "gyri_phase": _u(gen, n, 0.0, 2 * math.pi),
        "gyri_amp": _u(gen, n, 0.25, 0.45),
        "fold_c": 0.04 * torch.randn(n, 4, generator=gen),     # slow cortex-depth harmonics 1..4
        "fold_s": 0.04 * torch.randn(n, 4, generator=gen),
        "vent_sep": _u(gen, n, 0.06, 0.12),
        "vent_len": _u(gen, n, 0.18, 0.30),
        "vent_wid": _u(gen, n, 0.05, 0.09),
        "vent_tilt": _u(gen, n, 0.15, 0.45),
        "vent_y": _u(gen, n, -0.12, 0.02),
        "i_scalp": _u(gen, n, 0.35, 0.75),
        "i_skull": _u(gen, n, -0.95, -0.75),
        "i_csf": _u(gen, n, -0.70, -0.40),
        "i_gm": _u(gen, n, -0.05, 0.25),
        "i_wm": _u(gen, n, 0.40, 0.70),
        "i_bg": _u(gen, n, -1.0, -0.92),
        "tex_k": 2.0 + 4.0 * torch.rand(n, 6, 2, generator=gen) * torch.sign(torch.randn(n, 6, 2, generator=gen)),
        "tex_phase": _u(gen, n, 0.0, 2 * math.pi, 6),
        "tex_amp": _u(gen, n, 0.02, 0.06),
        "bias": 0.08 * torch.randn(n, 5, generator=gen),       # 1, x, y, x², y² coefficients
        "noise_sd": _u(gen, n, 0.01, 0.035),
    }
    # 0–3 small lesions in white matter; absent lesions get zero amplitude.
    count = torch.randint(0, 4, (n,), generator=gen)
    p["les_on"] = (torch.arange(3)[None, :] < count[:, None]).float()
    p["les_pos"] = _u(gen, n, -0.35, 0.35, 3, 2)
    p["les_r"] = _u(gen, n, 0.025, 0.06, 3)
    p["les_amp"] = _u(gen, n, 0.3, 0.6, 3) * torch.where(torch.rand(n, 3, generator=gen) < 0.7, 1.0, -1.0)
    if ood:
        ang = _u(gen, n, 0.0, 2 * math.pi)
        rad = _u(gen, n, 0.15, 0.35)
        p["tum_pos"] = torch.stack([rad * torch.cos(ang), rad * torch.sin(ang)], dim=-1)
        p["tum_r"] = _u(gen, n, 0.20, 0.32)
        p["tum_ecc"] = _u(gen, n, 0.8, 1.25)
        p["tum_core"] = _u(gen, n, 0.45, 0.70)
    return p


def _draw_textured_params(n: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
    """Returns the extra random quantities of phantoms v2 ``[n, ...]`` (drawn after the anatomy's)."""
    k = torch.arange(_FOLD_K[0], _FOLD_K[1] + 1, dtype=torch.float32)
    # Folding spectrum ~ 1/sqrt(k), normalised to unit RMS over the angle: irregular gyri whose
    # amplitude no single harmonic dominates.
    sd = (k / _FOLD_K[0]) ** -0.5
    sd = sd * math.sqrt(2.0 / float(sd.square().sum()))
    return {
        "fold_a": sd * torch.randn(n, len(k), generator=gen),
        "fold_b": sd * torch.randn(n, len(k), generator=gen),
        "fold_amp": _u(gen, n, 0.35, 0.55),
        "tex_f0": _u(gen, n, *_TEX_BAND),
        "tex_bw": _u(gen, n, 2.5, 4.5),
        "tex_wm": _u(gen, n, 0.05, 0.09),
        "tex_gm": _u(gen, n, 0.08, 0.13),
        "rician_sd": _u(gen, n, 0.015, 0.035),
    }


def _band_field(white: torch.Tensor, f0: torch.Tensor, bw: torch.Tensor) -> torch.Tensor:
    """Returns unit-variance band-limited Gaussian random fields ``[b, S, S]`` from white noise ``[b, S, S]``.

    The spectrum is a Gaussian ring around radius ``f0`` (cycles per image width) of width ``bw``;
    both ``[b]``. Periodic boundaries do no harm: the field only modulates tissue intensity.
    """
    s = white.shape[-1]
    fy = torch.fft.fftfreq(s, 1.0 / s, device=white.device)[:, None]
    fx = torch.fft.rfftfreq(s, 1.0 / s, device=white.device)[None, :]
    radius = torch.sqrt(fy ** 2 + fx ** 2)[None]
    ring = torch.exp(-0.5 * ((radius - f0[:, None, None]) / bw[:, None, None]) ** 2)
    field = torch.fft.irfft2(torch.fft.rfft2(white) * ring, s=(s, s))
    return field / field.flatten(1).std(dim=1).clamp_min(1e-12)[:, None, None]


def _render(p: dict[str, torch.Tensor], noise: torch.Tensor | None, size: int) -> torch.Tensor:
    """Returns phantoms ``[b, size, size]`` in [−1, 1] from parameters ``p`` (all ``[b, ...]``).

    ``noise``: ``[b, 1, size, size]`` standard normal pixel noise (``[b, 2, size, size]``, real and
    imaginary parts, for the Rician noise of phantoms v2; ``None``: no noise). ``p`` holds the
    v2 keys (``fold_a``, ``tex_field``, …) for the textured kinds.
    """
    textured = "tex_field" in p
    b, dev = p["theta"].shape[0], p["theta"].device
    lin = (torch.arange(size, device=dev, dtype=torch.float32) + 0.5) * (2.0 / size) - 1.0
    gy, gx = torch.meshgrid(lin, lin, indexing="ij")
    edge = 1.5 / size  # soft-edge width: about one pixel, so edges are anti-aliased at any size

    def soft(d: torch.Tensor) -> torch.Tensor:  # 1 inside (d < 0), 0 outside
        return torch.sigmoid(-d / edge)

    # Head frame: rotate and translate the grid so the head is axis-aligned and centred.
    c, s = torch.cos(p["theta"])[:, None, None], torch.sin(p["theta"])[:, None, None]
    x0 = gx[None] - p["shift"][:, 0, None, None]
    y0 = gy[None] - p["shift"][:, 1, None, None]
    x, y = c * x0 + s * y0, -s * x0 + c * y0
    a = p["a"][:, None, None]
    bb = a * p["ecc"][:, None, None]
    r0 = torch.sqrt((x / a) ** 2 + (y / bb) ** 2).clamp(min=1e-6)
    # cos(kφ), sin(kφ) for k = 1..4 by complex powers: no transcendental per harmonic.
    cos_k, sin_k = [(x / a) / r0], [(y / bb) / r0]
    for _ in range(3):
        cos_k.append(cos_k[-1] * cos_k[0] - sin_k[-1] * sin_k[0])
        sin_k.append(sin_k[-1] * cos_k[0] + cos_k[-2] * sin_k[0])

    def harmonics(cc: torch.Tensor, ss: torch.Tensor, k0: int) -> torch.Tensor:
        return sum(cc[:, j, None, None] * cos_k[k0 - 1 + j] + ss[:, j, None, None] * sin_k[k0 - 1 + j]
                   for j in range(cc.shape[1]))

    wobble = harmonics(p["shape_c"], p["shape_s"], 2)
    # rho = 1 on the scalp's outer surface; distances along rho are scaled to image units by a.
    rho = r0 / (1.0 + wobble)
    depth = (1.0 - rho) * a  # distance inward from the outer surface (image units)

    def w(key: str) -> torch.Tensor:
        return p[key][:, None, None]

    head = soft(-depth)
    skull_in = w("scalp_w")
    csf_in = skull_in + w("skull_w")
    brain_in = csf_in + w("csf_w")
    # Gyri: the grey/white boundary oscillates with the angle; sulci are CSF clefts at the crests.
    slow = harmonics(p["fold_c"], p["fold_s"], 1)
    phi = torch.atan2(sin_k[0], cos_k[0])
    if textured:
        # tanh bounds the rare large excursions of the series, so the cortex keeps its thickness.
        gyr = torch.tanh(_folding(p, cos_k[0], sin_k[0]))
        wm_in = brain_in + w("cortex_w") * (1.0 + w("fold_amp") * gyr + slow)
        # Sulci open where the folding series peaks: clefts whose width follows the peak's height.
        sulcus = soft((0.8 - gyr) * 2.0 * edge / 0.1) * soft(depth - (brain_in + 0.7 * (wm_in - brain_in)))
    else:
        gyr = torch.cos(w("gyri_k") * phi + w("gyri_phase") + 1.5 * slow * w("gyri_k") / 4)
        wm_in = brain_in + w("cortex_w") * (1.0 + w("gyri_amp") * gyr + slow)
        sulcus = soft(torch.abs(gyr - 1.0) * 0.25 - edge) * soft(depth - (brain_in + 0.6 * (wm_in - brain_in)))

    img = w("i_bg") * torch.ones_like(x)
    img = torch.lerp(img, w("i_scalp").expand_as(img), head)
    img = torch.lerp(img, w("i_skull").expand_as(img), soft(skull_in - depth))
    img = torch.lerp(img, w("i_csf").expand_as(img), soft(csf_in - depth))
    img = torch.lerp(img, w("i_gm").expand_as(img), soft(brain_in - depth))
    img = torch.lerp(img, w("i_csf").expand_as(img), sulcus * soft(brain_in - depth))
    wm = soft(wm_in - depth)
    if textured:  # grey matter is the more heterogeneous tissue: larger texture amplitude there
        img = img + w("tex_gm") * p["tex_field"] * soft(brain_in - depth)
        tex = w("tex_wm") * p["tex_field"]
    else:
        tex = _texture(p, gx, gy)
    img = torch.lerp(img, (w("i_wm") + tex), wm)

    # Paired lateral ventricles: two tilted ellipses mirrored about the midline (x = 0).
    vx, vy = x, y - w("vent_y")
    if "tum_pos" in p:  # mass effect: the tumour pushes the ventricles away from itself
        vx = vx + 0.25 * p["tum_r"][:, None, None] * torch.sign(p["tum_pos"][:, 0])[:, None, None]
    vent = torch.zeros_like(x)
    for side in (-1.0, 1.0):
        tilt = side * w("vent_tilt")
        dx, dy = vx - side * w("vent_sep"), vy
        u = torch.cos(tilt) * dx + torch.sin(tilt) * dy
        v = -torch.sin(tilt) * dx + torch.cos(tilt) * dy
        r = torch.sqrt((u / w("vent_wid")) ** 2 + (v / w("vent_len")) ** 2)
        vent = torch.maximum(vent, soft((r - 1.0) * w("vent_wid")))
    img = torch.lerp(img, w("i_csf").expand_as(img), vent)

    inside = soft(brain_in - depth)
    for j in range(3):
        d2 = (x / a - p["les_pos"][:, j, 0, None, None]) ** 2 + (y / a - p["les_pos"][:, j, 1, None, None]) ** 2
        blob = torch.exp(-0.5 * d2 / (p["les_r"][:, j, None, None] ** 2))
        img = img + (p["les_on"][:, j] * p["les_amp"][:, j])[:, None, None] * blob * inside

    if "tum_pos" in p:
        tx = (x / a - p["tum_pos"][:, 0, None, None]) * w("tum_ecc")
        ty = (y / a - p["tum_pos"][:, 1, None, None]) / w("tum_ecc")
        tr = torch.sqrt(tx ** 2 + ty ** 2) / w("tum_r")
        oedema = torch.exp(-0.5 * ((tr - 1.0).clamp(min=0) / 0.35) ** 2) * inside
        img = torch.lerp(img, torch.full_like(img, -0.2), 0.6 * oedema)
        ring = soft((tr - 1.0) * w("tum_r")) * inside
        img = torch.lerp(img, torch.full_like(img, 0.95), ring)
        core = soft((tr - w("tum_core")) * w("tum_r")) * inside
        img = torch.lerp(img, w("i_csf").expand_as(img) - 0.1, core)

    # Multiplicative bias field (low order polynomial in the image frame) and Rician-free noise.
    bias = (1.0 + p["bias"][:, 0, None, None] + p["bias"][:, 1, None, None] * gx + p["bias"][:, 2, None, None] * gy
            + p["bias"][:, 3, None, None] * gx ** 2 + p["bias"][:, 4, None, None] * gy ** 2)
    img = (img + 1.0) * bias - 1.0
    if noise is not None and textured:
        # Rician: the magnitude of the complex signal plus complex Gaussian noise, on [0, 1] intensities.
        mag = torch.sqrt((0.5 * (img + 1.0) + w("rician_sd") * noise[:, 0]) ** 2 + (w("rician_sd") * noise[:, 1]) ** 2)
        img = 2.0 * mag - 1.0
    elif noise is not None:
        img = img + w("noise_sd") * noise[:, 0]
    return img.clamp(-1.0, 1.0)


def _folding(p: dict[str, torch.Tensor], cos1: torch.Tensor, sin1: torch.Tensor) -> torch.Tensor:
    """Returns the cortical folding series ``Σ_k a_k cos kφ + b_k sin kφ`` ``[b, H, W]`` (unit RMS in φ).

    ``cos1, sin1``: ``cos φ, sin φ`` ``[b, H, W]``; the harmonics come by complex multiplication
    (no transcendental per harmonic).
    """
    c, s = cos1, sin1
    for _ in range(_FOLD_K[0] - 1):
        c, s = c * cos1 - s * sin1, s * cos1 + c * sin1
    out = torch.zeros_like(cos1)
    for j in range(p["fold_a"].shape[1]):
        out = out + p["fold_a"][:, j, None, None] * c + p["fold_b"][:, j, None, None] * s
        c, s = c * cos1 - s * sin1, s * cos1 + c * sin1
    return out


def _texture(p: dict[str, torch.Tensor], gx: torch.Tensor, gy: torch.Tensor) -> torch.Tensor:
    """Returns smooth white-matter texture ``[b, H, W]``: a sum of 6 random plane waves.

    cos(kx·x + ky·y + φ) = cos(kx·x + φ)·cos(ky·y) − sin(kx·x + φ)·sin(ky·y) on the image grid
    costs two products per wave instead of one cosine per pixel.
    """
    k, ph = p["tex_k"], p["tex_phase"]
    ax = k[:, :, 0, None, None] * gx[None, None, :1, :] + ph[:, :, None, None]   # [b, 6, 1, W]
    ay = k[:, :, 1, None, None] * gy[None, None, :, :1]                         # [b, 6, H, 1]
    waves = torch.cos(ax) * torch.cos(ay) - torch.sin(ax) * torch.sin(ay)
    return p["tex_amp"][:, None, None] * waves.sum(1) / math.sqrt(3.0)


def figure(kinds: tuple[str, ...] = ("smooth", "textured"), n: int = 6, size: int = 64, seed: int = 1, path=None):
    """Returns ``(fig, axes)``: per kind, a row of ``n`` phantoms and a row of their centre crops (half the
    field of view, shown enlarged: the fine structure); written to ``path`` when given."""
    import matplotlib.pyplot as plt

    for kind in kinds:
        if kind not in KINDS:
            raise ValueError(f"kinds must be among {KINDS}, got {kind!r}")
    fig, axes = plt.subplots(2 * len(kinds), n, figsize=(1.5 * n, 3.1 * len(kinds)), squeeze=False)
    lo, hi = size // 4, size - size // 4
    for k, kind in enumerate(kinds):
        imgs = sample(n, size=size, seed=seed, kind=kind).numpy()
        for j in range(n):
            for r, img in enumerate((imgs[j, 0], imgs[j, 0, lo:hi, lo:hi])):
                ax = axes[2 * k + r, j]
                ax.imshow(img, cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
                ax.set_xticks([]), ax.set_yticks([])
        axes[2 * k, 0].set_ylabel(kind, fontsize=9)
        axes[2 * k + 1, 0].set_ylabel(f"{kind}, centre", fontsize=9)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig, axes
