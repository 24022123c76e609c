"""A compact StyleGAN2 (Karras et al. 2020): the parts the paper's inversion touches, kept faithful.

z (512) → mapping MLP → w; one w per synthesis input ("z+": ``num_ws`` independent z's, each mapped
separately); modulated + demodulated 3×3 convolutions, computed non-fused (scale the input
channels, one shared convolution, scale the output channels: faster on CPU than grouped
convolutions); per-layer noise inputs with a learned strength, whose maps can be passed in from
outside (the paper optimises them); tRGB skip outputs; ``tanh`` output in [−1, 1].
Simplifications against the official code: bilinear up/down-sampling instead of FIR filters, no
path-length regulariser. Equalised learning rate throughout.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

_LRELU_GAIN = math.sqrt(2.0)


@dataclass
class StyleGAN2Config:
    """Architecture of a :class:`Generator` / :class:`Discriminator` pair."""

    resolution: int = 64
    img_channels: int = 1
    z_dim: int = 512
    w_dim: int = 512
    mapping_layers: int = 4
    channels: dict[int, int] = field(default_factory=lambda: {4: 64, 8: 64, 16: 64, 32: 32, 64: 16})
    d_channels: dict[int, int] = field(default_factory=lambda: {4: 64, 8: 64, 16: 64, 32: 32, 64: 16})

    def __post_init__(self):
        log2 = math.log2(self.resolution)
        if self.resolution < 4 or log2 != int(log2):
            raise ValueError(f"resolution must be a power of two >= 4, got {self.resolution}")
        self.channels = {int(k): int(v) for k, v in self.channels.items()}
        self.d_channels = {int(k): int(v) for k, v in self.d_channels.items()}
        for name in ("channels", "d_channels"):
            missing = [r for r in self.resolutions if r not in getattr(self, name)]
            if missing:
                raise ValueError(f"{name} lacks resolutions {missing} (needs 4..{self.resolution})")

    @property
    def resolutions(self) -> list[int]:
        return [2 ** i for i in range(2, int(math.log2(self.resolution)) + 1)]

    def to_dict(self) -> dict:
        return asdict(self)


class EqualLinear(nn.Module):
    """Returns ``x @ W.T·c + b`` with ``c = lr_mul/√in`` (equalised learning rate); ``x: [B, in]``."""

    def __init__(self, in_dim: int, out_dim: int, bias_init: float = 0.0, lr_mul: float = 1.0,
                 activate: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init)))
        self.scale, self.lr_mul, self.activate = lr_mul / math.sqrt(in_dim), lr_mul, activate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)
        return F.leaky_relu(y, 0.2) * _LRELU_GAIN if self.activate else y


class MappingNetwork(nn.Module):
    """Returns w ``[..., w_dim]`` from z ``[..., z_dim]``: 2nd-moment normalisation, then an MLP."""

    def __init__(self, z_dim: int, w_dim: int, layers: int, lr_mul: float = 0.01):
        super().__init__()
        dims = [z_dim] + [w_dim] * layers
        self.net = nn.Sequential(*[EqualLinear(a, b, lr_mul=lr_mul, activate=True) for a, b in zip(dims, dims[1:])])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z = z * torch.rsqrt(z.square().mean(dim=-1, keepdim=True) + 1e-8)
        return self.net(z)


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, style: torch.Tensor, demodulate: bool = True,
                     padding: int = 1) -> torch.Tensor:
    """Returns ``conv(x·s, W)·d`` ``[B, C_out, H, W]``: StyleGAN2's modulated convolution, non-fused.

    ``d_o = (Σ_{i,k} (W_{oik} s_i)² + 1e-8)^{-1/2}`` (demodulation). Mathematically equal to
    convolving with the per-sample weights ``W_{oik} s_i d_o``. x: [B, C_in, H, W], weight:
    [C_out, C_in, k, k], style: [B, C_in].
    """
    y = F.conv2d(x * style[:, :, None, None], weight, padding=padding)
    if demodulate:
        dcoef = torch.rsqrt(style.square() @ weight.square().sum(dim=(2, 3)).t() + 1e-8)  # [B, C_out]
        y = y * dcoef[:, :, None, None]
    return y


class StyledConv(nn.Module):
    """Returns ``lrelu(modconv(up(x)) + strength·noise + b)·√2`` ``[B, C_out, H, W]``."""

    def __init__(self, in_ch: int, out_ch: int, w_dim: int, up: bool):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, 3, 3))
        self.scale = 1.0 / math.sqrt(in_ch * 9)
        self.affine = EqualLinear(w_dim, in_ch, bias_init=1.0)
        self.noise_strength = nn.Parameter(torch.zeros(()))
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.up = up

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        if self.up:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        x = modulated_conv2d(x, self.weight * self.scale, self.affine(w))
        x = x + self.noise_strength * noise + self.bias[None, :, None, None]
        return F.leaky_relu(x, 0.2) * _LRELU_GAIN


class ToRGB(nn.Module):
    """Returns the tRGB output ``modconv_1×1(x) + b`` (no demodulation) ``[B, img_channels, H, W]``."""

    def __init__(self, in_ch: int, out_ch: int, w_dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, 1, 1))
        self.scale = 1.0 / math.sqrt(in_ch)
        self.affine = EqualLinear(w_dim, in_ch, bias_init=1.0)
        self.bias = nn.Parameter(torch.zeros(out_ch))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        y = modulated_conv2d(x, self.weight * self.scale, self.affine(w), demodulate=False, padding=0)
        return y + self.bias[None, :, None, None]


class SynthesisNetwork(nn.Module):
    """Returns images ``[B, C, R, R]`` in [−1, 1] from ws ``[B, num_ws, w_dim]`` and noise maps."""

    def __init__(self, cfg: StyleGAN2Config):
        super().__init__()
        res = cfg.resolutions
        ch = cfg.channels
        self.const = nn.Parameter(torch.randn(ch[4], 4, 4))
        self.convs = nn.ModuleList([StyledConv(ch[4], ch[4], cfg.w_dim, up=False)])
        self.torgbs = nn.ModuleList([ToRGB(ch[4], cfg.img_channels, cfg.w_dim)])
        for r_prev, r in zip(res, res[1:]):
            self.convs.append(StyledConv(ch[r_prev], ch[r], cfg.w_dim, up=True))
            self.convs.append(StyledConv(ch[r], ch[r], cfg.w_dim, up=False))
            self.torgbs.append(ToRGB(ch[r], cfg.img_channels, cfg.w_dim))
        self.noise_shapes = [(1, 4, 4)] + [(1, r, r) for r in res[1:] for _ in range(2)]
        self.num_ws = len(self.convs) + 1

    def forward(self, ws: torch.Tensor, noise: list[torch.Tensor]) -> torch.Tensor:
        x = self.const[None].expand(ws.shape[0], -1, -1, -1)
        x = self.convs[0](x, ws[:, 0], noise[0])
        img = self.torgbs[0](x, ws[:, 1])
        for b in range(1, len(self.torgbs)):
            i = 2 * b - 1  # the block's first conv; its tRGB uses the w after its second conv
            x = self.convs[i](x, ws[:, i], noise[i])
            x = self.convs[i + 1](x, ws[:, i + 1], noise[i + 1])
            img = F.interpolate(img, scale_factor=2, mode="bilinear", align_corners=False) + self.torgbs[b](x, ws[:, i + 2])
        return torch.tanh(img)


class Generator(nn.Module):
    """StyleGAN2 generator: ``G(z_plus, noise) = synthesis(mapping(z_plus), noise)`` ``[B, C, R, R]``.

    ``z_plus``: ``[B, num_ws, z_dim]`` (one independent z per synthesis input, "z+") or ``[B, z_dim]``
    (one z shared by all inputs). ``noise``: list of ``num_noise`` maps ``[B or 1, *noise_shapes[i]]``;
    ``None`` draws fresh N(0, 1) maps.
    """

    def __init__(self, cfg: StyleGAN2Config | None = None, **kwargs):
        super().__init__()
        self.cfg = cfg if cfg is not None else StyleGAN2Config(**kwargs)
        self.z_dim, self.w_dim = self.cfg.z_dim, self.cfg.w_dim
        self.mapping = MappingNetwork(self.z_dim, self.w_dim, self.cfg.mapping_layers)
        self.synthesis = SynthesisNetwork(self.cfg)
        self.num_ws = self.synthesis.num_ws
        self.noise_shapes = list(self.synthesis.noise_shapes)
        self.register_buffer("w_avg", torch.zeros(self.w_dim))

    @property
    def resolution(self) -> int:
        return self.cfg.resolution

    def make_noise(self, batch: int, generator: torch.Generator | None = None) -> list[torch.Tensor]:
        """Returns fresh N(0, 1) noise maps ``[batch, *shape]`` for every entry of ``noise_shapes``."""
        dev = self.synthesis.const.device
        src = generator.device if generator is not None else dev  # a CPU generator also seeds CUDA models
        return [torch.randn(batch, *s, generator=generator, device=src).to(dev) for s in self.noise_shapes]

    def map_z_plus(self, z_plus: torch.Tensor, truncation_psi: float = 1.0) -> torch.Tensor:
        """Returns ws ``[B, num_ws, w_dim]``: each z mapped separately, optionally truncated to w_avg."""
        if z_plus.dim() == 2:
            z_plus = z_plus[:, None].expand(-1, self.num_ws, -1)
        if z_plus.dim() != 3 or z_plus.shape[1:] != (self.num_ws, self.z_dim):
            raise ValueError(f"z_plus must be [B, {self.num_ws}, {self.z_dim}] or [B, {self.z_dim}], "
                             f"got {tuple(z_plus.shape)}")
        ws = self.mapping(z_plus)
        return ws if truncation_psi == 1.0 else self.w_avg.lerp(ws, truncation_psi)

    def check_noise(self, noise: list[torch.Tensor]) -> None:
        """Raises ``ValueError`` unless ``noise`` holds one map per entry of ``noise_shapes``."""
        if len(noise) != len(self.noise_shapes):
            raise ValueError(f"noise must hold {len(self.noise_shapes)} maps, got {len(noise)}")
        for i, (n, s) in enumerate(zip(noise, self.noise_shapes)):
            if tuple(n.shape[-3:]) != s:
                raise ValueError(f"noise[{i}] must be [B, {s[0]}, {s[1]}, {s[2]}], got {tuple(n.shape)}")

    def forward(self, z_plus: torch.Tensor, noise: list[torch.Tensor] | None = None,
                truncation_psi: float = 1.0) -> torch.Tensor:
        ws = self.map_z_plus(z_plus, truncation_psi)
        if noise is None:
            noise = self.make_noise(ws.shape[0])
        self.check_noise(noise)
        return self.synthesis(ws, noise)


class DiscriminatorBlock(nn.Module):
    """Returns the residual block ``(conv→conv→down + skip_1×1(down(x)))/√2`` ``[B, C_out, H/2, W/2]``."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.conv0 = EqualConv(in_ch, in_ch, 3, activate=True)
        self.conv1 = EqualConv(in_ch, out_ch, 3, activate=True)
        self.skip = EqualConv(in_ch, out_ch, 1, activate=False, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.avg_pool2d(self.conv1(self.conv0(x)), 2)
        return (y + self.skip(F.avg_pool2d(x, 2))) / math.sqrt(2.0)


class EqualConv(nn.Module):
    """Returns ``conv(x, W·c) + b`` (then lrelu·√2 if ``activate``), ``c = 1/√(C_in k²)``."""

    def __init__(self, in_ch: int, out_ch: int, k: int, activate: bool, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, k, k))
        self.bias = nn.Parameter(torch.zeros(out_ch)) if bias else None
        self.scale, self.activate = 1.0 / math.sqrt(in_ch * k * k), activate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.conv2d(x, self.weight * self.scale, self.bias, padding=self.weight.shape[-1] // 2)
        return F.leaky_relu(y, 0.2) * _LRELU_GAIN if self.activate else y


class Discriminator(nn.Module):
    """Residual StyleGAN2 discriminator: returns logits ``[B]`` for images ``[B, C, R, R]``."""

    def __init__(self, cfg: StyleGAN2Config | None = None, mbstd_group: int = 4, **kwargs):
        super().__init__()
        self.cfg = cfg if cfg is not None else StyleGAN2Config(**kwargs)
        res, ch = self.cfg.resolutions[::-1], self.cfg.d_channels
        self.from_rgb = EqualConv(self.cfg.img_channels, ch[res[0]], 1, activate=True)
        self.blocks = nn.Sequential(*[DiscriminatorBlock(ch[r], ch[r // 2]) for r in res[:-1]])
        self.mbstd_group = mbstd_group
        self.conv = EqualConv(ch[4] + 1, ch[4], 3, activate=True)
        self.fc = EqualLinear(ch[4] * 16, ch[4], activate=True)
        self.out = EqualLinear(ch[4], 1)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.from_rgb(img))
        x = torch.cat([x, _minibatch_std(x, self.mbstd_group)], dim=1)
        x = self.conv(x).flatten(1)
        return self.out(self.fc(x)).squeeze(1)


def _minibatch_std(x: torch.Tensor, group: int) -> torch.Tensor:
    """Returns the minibatch-stddev feature ``[B, 1, H, W]``: mean std over groups of ``group`` samples."""
    b, c, h, w = x.shape
    g = math.gcd(group, b)
    y = x.reshape(g, b // g, c, h, w)
    y = (y.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # [B/g]
    return y.repeat(g)[:, None, None, None].expand(b, 1, h, w)
