"""A compact multi-scale Glow (Kingma & Dhariwal 2018) with exact inverse and all split latents.

Per level: squeeze (2×2 space → channels), ``K`` steps of [actnorm (data-initialised) →
invertible 1×1 convolution (LU-parameterised) → additive coupling], then split: half of the
channels leave as a latent, with a learned conditional Gaussian prior N(μ(h), σ(h)²) computed from
the half that goes on; the last level has a learned unconditional prior. The latents returned by
:meth:`Glow.encode` are *standardised*, ``ε = (z − μ)/σ``: under the model every ``ε`` is
N(0, I), which is what the paper's Gaussianization layers target, and ``decode`` maps them back.
Images live in [−1, 1]; internally the flow sees ``x/2`` ∈ [−½, ½] (Glow's convention).

Layouts of the latent list (SPEC.md §1): :func:`to_p1` un-squeezes the list into one image-shaped
tensor ``[B, C, H, W]`` (P1); :func:`to_p2` stacks each latent's channel groups along the height
(P2). Both are exact permutations with inverses :func:`from_p1`, :func:`from_p2`.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

_LOG2PI = math.log(2 * math.pi)
TEMPERATURE = 0.7  # the shipped Glows' sampling temperature (their model cards; the paper's)


@dataclass
class GlowConfig:
    """Architecture of a :class:`Glow`."""

    resolution: int = 64
    img_channels: int = 1
    levels: int = 3
    steps: int = 8
    hidden: int = 96

    def __post_init__(self):
        if self.resolution % (2 ** self.levels):
            raise ValueError(f"resolution {self.resolution} must be divisible by 2**levels = {2 ** self.levels}")
        if self.levels < 1 or self.steps < 1 or self.hidden < 1:
            raise ValueError(f"levels, steps, hidden must be >= 1, got {self.levels}, {self.steps}, {self.hidden}")

    def to_dict(self) -> dict:
        return asdict(self)


def squeeze(x: torch.Tensor) -> torch.Tensor:
    """Returns ``[B, 4C, H/2, W/2]``: each 2×2 spatial block moved into channels."""
    b, c, h, w = x.shape
    x = x.reshape(b, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4)
    return x.reshape(b, c * 4, h // 2, w // 2)


def unsqueeze(x: torch.Tensor) -> torch.Tensor:
    """Returns ``[B, C/4, 2H, 2W]``: the inverse of :func:`squeeze`."""
    b, c, h, w = x.shape
    x = x.reshape(b, c // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3)
    return x.reshape(b, c // 4, h * 2, w * 2)


def gaussian_log_density(x: torch.Tensor) -> torch.Tensor:
    """Returns ``Σ log N(x; 0, I)`` over all but the batch dimension ``[B]``."""
    return -0.5 * (x.square() + _LOG2PI).flatten(1).sum(1)


class ActNorm(nn.Module):
    """Returns ``((x + b)·e^s, H·W·Σs)``; ``b, s`` set from the first batch by :meth:`Glow.initialize`."""

    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.logs = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.init_mode = False

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.init_mode:  # data-dependent init: zero mean, unit variance per channel
            with torch.no_grad():
                self.bias.copy_(-x.mean(dim=(0, 2, 3), keepdim=True))
                self.logs.copy_(-torch.log(x.std(dim=(0, 2, 3), keepdim=True) + 1e-6))
        return (x + self.bias) * torch.exp(self.logs), x.shape[2] * x.shape[3] * self.logs.sum()

    def reverse(self, y: torch.Tensor) -> torch.Tensor:
        return y * torch.exp(-self.logs) - self.bias


class InvConv1x1(nn.Module):
    """Returns ``(W x, H·W·Σ log|s|)`` with ``W = P·(L + I)·(U + diag(sign·e^{log|s|}))`` (LU form)."""

    def __init__(self, channels: int, generator: torch.Generator | None = None):
        super().__init__()
        q, _ = torch.linalg.qr(torch.randn(channels, channels, generator=generator, dtype=torch.float64))
        p, lower, upper = torch.linalg.lu(q)
        s = torch.diagonal(upper)
        self.register_buffer("perm", p.float())
        self.register_buffer("sign_s", torch.sign(s).float())
        self.register_buffer("mask_l", torch.tril(torch.ones(channels, channels), -1))
        self.lower = nn.Parameter(lower.float())
        self.upper = nn.Parameter(torch.triu(upper, 1).float())
        self.log_s = nn.Parameter(torch.log(torch.abs(s)).float())

    def weight(self) -> torch.Tensor:
        eye = torch.eye(self.perm.shape[0], dtype=self.lower.dtype, device=self.lower.device)
        lower = self.lower * self.mask_l + eye
        upper = self.upper * self.mask_l.t() + torch.diag(self.sign_s * torch.exp(self.log_s))
        return self.perm @ lower @ upper

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        w = self.weight()
        return F.conv2d(x, w[:, :, None, None]), x.shape[2] * x.shape[3] * self.log_s.sum()

    def reverse(self, y: torch.Tensor) -> torch.Tensor:
        w_inv = torch.linalg.inv(self.weight().double()).to(y.dtype)
        return F.conv2d(y, w_inv[:, :, None, None])


class ZeroConv2d(nn.Module):
    """Returns ``conv3×3(x)·e^{3·scale}``, zero-initialised so a new layer outputs zeros."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        nn.init.zeros_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)
        self.scale = nn.Parameter(torch.zeros(1, out_ch, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) * torch.exp(self.scale * 3)


class AdditiveCoupling(nn.Module):
    """Returns ``([x_a, x_b + NN(x_a)], 0)``: volume preserving, exactly invertible."""

    def __init__(self, channels: int, hidden: int):
        super().__init__()
        half = channels // 2
        self.net = nn.Sequential(nn.Conv2d(half, hidden, 3, padding=1), nn.ReLU(),
                                 nn.Conv2d(hidden, hidden, 1), nn.ReLU(), ZeroConv2d(hidden, channels - half))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        xa, xb = x.split([x.shape[1] // 2, x.shape[1] - x.shape[1] // 2], dim=1)
        return torch.cat([xa, xb + self.net(xa)], dim=1), x.new_zeros(())

    def reverse(self, y: torch.Tensor) -> torch.Tensor:
        ya, yb = y.split([y.shape[1] // 2, y.shape[1] - y.shape[1] // 2], dim=1)
        return torch.cat([ya, yb - self.net(ya)], dim=1)


class FlowStep(nn.Module):
    """Returns ``(coupling(invconv(actnorm(x))), log|det|)`` ``[B, C, H, W]``, ``[]`` or ``[B]``."""

    def __init__(self, channels: int, hidden: int, generator: torch.Generator | None = None):
        super().__init__()
        self.layers = nn.ModuleList([ActNorm(channels), InvConv1x1(channels, generator),
                                     AdditiveCoupling(channels, hidden)])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logdet = x.new_zeros(())
        for layer in self.layers:
            x, ld = layer(x)
            logdet = logdet + ld
        return x, logdet

    def reverse(self, y: torch.Tensor) -> torch.Tensor:
        for layer in reversed(self.layers):
            y = layer.reverse(y)
        return y


class Glow(nn.Module):
    """Multi-scale Glow on images ``[B, C, R, R]`` in [−1, 1]; latents: list of ``[B, *latent_shapes[l]]``.

    The generator interface shared with StyleGAN2 (``GeneratorAPI``): ``family = "glow"``,
    ``temperature`` (the sampling temperature, ``TEMPERATURE``),
    ``resolution`` and ``sample(n, generator=...)``.
    """

    family = "glow"
    temperature = TEMPERATURE

    def __init__(self, cfg: GlowConfig | None = None, seed: int = 0, **kwargs):
        super().__init__()
        self.cfg = cfg if cfg is not None else GlowConfig(**kwargs)
        gen = torch.Generator().manual_seed(seed)
        c, r = self.cfg.img_channels, self.cfg.resolution
        self.levels = nn.ModuleList()
        self.priors = nn.ModuleList()
        self.latent_shapes: list[tuple[int, int, int]] = []
        for lvl in range(self.cfg.levels):
            c, r = c * 4, r // 2
            self.levels.append(nn.ModuleList([FlowStep(c, self.cfg.hidden, gen) for _ in range(self.cfg.steps)]))
            if lvl < self.cfg.levels - 1:
                self.priors.append(ZeroConv2d(c // 2, 2 * (c - c // 2)))
                self.latent_shapes.append((c - c // 2, r, r))
                c = c // 2
            else:
                self.latent_shapes.append((c, r, r))
        self.top_prior = nn.Parameter(torch.zeros(1, 2 * c, r, r))

    @property
    def resolution(self) -> int:
        return self.cfg.resolution

    @property
    def dim(self) -> int:
        return self.cfg.img_channels * self.cfg.resolution ** 2

    def _prior(self, lvl: int, h: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns the prior's ``(μ, log σ)`` for level ``lvl``'s latent given the kept half ``h``."""
        if lvl < len(self.priors):
            return self.priors[lvl](h).chunk(2, dim=1)
        return self.top_prior.chunk(2, dim=1)

    def forward(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Returns ``(ε list, log|det ∂ε/∂x|)``: standardised latents ``[B, *latent_shapes[l]]`` and ``[B]``."""
        if x.dim() != 4 or tuple(x.shape[1:]) != (self.cfg.img_channels, self.resolution, self.resolution):
            raise ValueError(f"x must be [B, {self.cfg.img_channels}, {self.resolution}, {self.resolution}], "
                             f"got {tuple(x.shape)}")
        h = x * 0.5
        logdet = x.new_full((x.shape[0],), -self.dim * math.log(2.0))
        eps = []
        for lvl, steps in enumerate(self.levels):
            h = squeeze(h)
            for step in steps:
                h, ld = step(h)
                logdet = logdet + ld
            if lvl < len(self.priors):
                h, z = h.split([h.shape[1] // 2, h.shape[1] - h.shape[1] // 2], dim=1)
                mean, logs = self._prior(lvl, h)
            else:
                z, (mean, logs) = h, self._prior(lvl, None)
            eps.append((z - mean) * torch.exp(-logs))
            logdet = logdet - logs.expand_as(z).flatten(1).sum(1)
        return eps, logdet

    def reverse(self, eps: list[torch.Tensor]) -> torch.Tensor:
        """Returns images ``[B, C, R, R]`` from standardised latents (the exact inverse of ``forward``)."""
        self.check_latents(eps)
        h = None
        for lvl in reversed(range(len(self.levels))):
            mean, logs = self._prior(lvl, h)
            z = mean + torch.exp(logs) * eps[lvl]
            h = z if h is None else torch.cat([h, z], dim=1)
            for step in reversed(self.levels[lvl]):
                h = step.reverse(h)
            h = unsqueeze(h)
        return h * 2.0

    def check_latents(self, eps: list[torch.Tensor]) -> None:
        """Raises ``ValueError`` unless ``eps`` holds one ``[B, *shape]`` tensor per latent shape."""
        if len(eps) != len(self.latent_shapes):
            raise ValueError(f"expected {len(self.latent_shapes)} latents of shapes {self.latent_shapes}, got {len(eps)}")
        for i, (e, s) in enumerate(zip(eps, self.latent_shapes)):
            if tuple(e.shape[1:]) != s:
                raise ValueError(f"latent {i} must be [B, {s[0]}, {s[1]}, {s[2]}], got {tuple(e.shape)}")

    def encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Returns the standardised latents ``[B, *latent_shapes[l]]`` of images ``x``."""
        return self.forward(x)[0]

    def decode(self, eps: list[torch.Tensor]) -> torch.Tensor:
        """Returns images ``[B, C, R, R]`` from standardised latents."""
        return self.reverse(eps)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Returns ``log p(x) = Σ_l log N(ε_l; 0, I) + log|det ∂ε/∂x|`` ``[B]`` (density on [−1, 1]^D)."""
        eps, logdet = self.forward(x)
        return sum(gaussian_log_density(e) for e in eps) + logdet

    def bits_per_dim(self, x: torch.Tensor, n_bins: int = 256) -> torch.Tensor:
        """Returns ``−(log p(x) + D·log(2/n_bins))/(D·ln 2)`` ``[B]``: bits/dim of ``n_bins``-level data."""
        return -(self.log_prob(x) + self.dim * math.log(2.0 / n_bins)) / (self.dim * math.log(2.0))

    def sample_latents(self, n: int, temperature: float | None = None,
                       generator: torch.Generator | None = None) -> list[torch.Tensor]:
        """Returns ``n`` draws of every latent, N(0, T²I), ``[n, *latent_shapes[l]]`` (T: ``self.temperature``
        unless given)."""
        temperature = self.temperature if temperature is None else temperature
        ref = self.top_prior
        src = generator.device if generator is not None else ref.device  # a CPU generator also seeds CUDA models
        return [temperature * torch.randn(n, *s, generator=generator, device=src, dtype=ref.dtype).to(ref.device)
                for s in self.latent_shapes]

    def sample(self, n: int, temperature: float | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        """Returns ``n`` images ``[n, C, R, R]`` decoded from N(0, T²I) latents (T: ``self.temperature`` unless given)."""
        return self.decode(self.sample_latents(n, temperature, generator))

    @torch.no_grad()
    def initialize(self, x: torch.Tensor) -> None:
        """Sets every actnorm from one data batch ``x`` (Glow's data-dependent initialisation)."""
        norms = [m for m in self.modules() if isinstance(m, ActNorm)]
        for m in norms:
            m.init_mode = True
        try:
            self.forward(x)
        finally:
            for m in norms:
                m.init_mode = False


# ----------------------------------------------------------------------------- latent layouts
def dequantize(x: torch.Tensor, noise: torch.Tensor | float | None = None, n_bins: int = 256) -> torch.Tensor:
    """Returns ``(q + u)·2/n_bins − 1`` ``[B, C, H, W]``: images ``x`` in [−1, 1] quantised to ``n_bins``
    levels ``q``, plus ``u`` = ``noise`` (a tensor like ``x``, or a number: 0.5 gives the bin centres;
    ``None``: U(0, 1) draws), the continuous data whose density approximates the discrete likelihood."""
    q = torch.floor((x + 1.0) * (n_bins / 2.0)).clamp(0, n_bins - 1)
    u = torch.rand_like(x) if noise is None else noise
    return (q + u) * (2.0 / n_bins) - 1.0


def to_p1(eps: list[torch.Tensor]) -> torch.Tensor:
    """Returns the P1 layout ``[B, C, R, R]``: the latent list un-squeezed into one image-shaped tensor.

    Mirrors the flow's own splits: ``t ← unsqueeze([t, ε_l])`` from the deepest level up.
    """
    t = eps[-1]
    for e in reversed(eps[:-1]):
        t = torch.cat([unsqueeze(t), e], dim=1)
    return unsqueeze(t)


def from_p1(img: torch.Tensor, latent_shapes: list[tuple[int, int, int]]) -> list[torch.Tensor]:
    """Returns the latent list from its P1 layout ``[B, C, R, R]`` (inverse of :func:`to_p1`)."""
    t, out = squeeze(img), []
    for s in latent_shapes[:-1]:
        t, e = t.split([t.shape[1] - s[0], s[0]], dim=1)
        out.append(e)
        t = squeeze(t)
    return out + [t]


def to_p2(eps: list[torch.Tensor], group: int) -> list[torch.Tensor]:
    """Returns the P2 layout: each ``[B, C, H, W]`` latent as ``[B, group, (C/group)·H, W]``.

    Channels are taken ``group`` at a time (3 for RGB images) and the groups stacked along the height.
    """
    out = []
    for e in eps:
        b, c, h, w = e.shape
        if c % group:
            raise ValueError(f"latent channels {c} not divisible by group={group}")
        out.append(e.reshape(b, c // group, group, h, w).permute(0, 2, 1, 3, 4).reshape(b, group, c // group * h, w))
    return out


def from_p2(maps: list[torch.Tensor], latent_shapes: list[tuple[int, int, int]]) -> list[torch.Tensor]:
    """Returns the latent list from its P2 layout (inverse of :func:`to_p2`)."""
    out = []
    for m, (c, h, w) in zip(maps, latent_shapes):
        b, g = m.shape[:2]
        out.append(m.reshape(b, g, c // g, h, w).permute(0, 2, 1, 3, 4).reshape(b, c, h, w))
    return out
