"""StyleGAN2-lite: the first, simplified StyleGAN2 of this project, kept to load its shipped weights.

``stylegan2-phantom64-smooth`` (trained on the smooth phantoms; the committed study results were
made with it) is this architecture: weights payloads of kind ``"stylegan2"`` whose config has no
``"arch"`` entry load here. New models use :mod:`gausslib.generators.stylegan2` (the official
semantics). Do not change this module's numerics: the shipped weights must keep producing the
same images.

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
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

# Shared with the official architecture: identical numerics and parameter names.
from gausslib.generators.stylegan2 import (ConfigMethods, FullyConnectedLayer, GeneratorAPI, minibatch_std,
                                           modulated_conv2d)

_LRELU_GAIN = math.sqrt(2.0)


@dataclass
class StyleGAN2Config(ConfigMethods):
    """Architecture of a :class:`Generator` / :class:`Discriminator` pair."""

    resolution: int = 64
    img_channels: int = 1
    z_dim: int = 512
    w_dim: int = 512
    mapping_layers: int = 4
    channels: dict[int, int] = field(default_factory=lambda: {4: 64, 8: 64, 16: 64, 32: 32, 64: 16})
    d_channels: dict[int, int] = field(default_factory=lambda: {4: 64, 8: 64, 16: 64, 32: 32, 64: 16})


class MappingNetwork(nn.Module):
    """Returns w ``[..., w_dim]`` from z ``[..., z_dim]``: 2nd-moment normalisation, then an MLP."""

    def __init__(self, z_dim: int, w_dim: int, layers: int, lr_mul: float = 0.01):
        super().__init__()
        dims = [z_dim] + [w_dim] * layers
        self.net = nn.Sequential(*[FullyConnectedLayer(a, b, lr_mul=lr_mul, activate=True) for a, b in zip(dims, dims[1:])])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z = z * torch.rsqrt(z.square().mean(dim=-1, keepdim=True) + 1e-8)
        return self.net(z)


class StyledConv(nn.Module):
    """Returns ``lrelu(modconv(up(x)) + strength·noise + b)·√2`` ``[B, C_out, H, W]``."""

    def __init__(self, in_ch: int, out_ch: int, w_dim: int, up: bool):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, 3, 3))
        self.scale = 1.0 / math.sqrt(in_ch * 9)
        self.affine = FullyConnectedLayer(w_dim, in_ch, bias_init=1.0)
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
        self.affine = FullyConnectedLayer(w_dim, in_ch, bias_init=1.0)
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


class Generator(GeneratorAPI):
    """StyleGAN2-lite generator: ``G(z_plus, noise) = tanh(synthesis(mapping(z_plus), noise))`` ``[B, C, R, R]``;
    the call signature and the helpers (``make_noise``, ``map_z_plus``, …) are :class:`GeneratorAPI`'s."""

    def __init__(self, cfg: StyleGAN2Config | None = None, **kwargs):
        super().__init__()
        self.cfg = cfg if cfg is not None else StyleGAN2Config(**kwargs)
        self.z_dim, self.w_dim = self.cfg.z_dim, self.cfg.w_dim
        self.mapping = MappingNetwork(self.z_dim, self.w_dim, self.cfg.mapping_layers)
        self.synthesis = SynthesisNetwork(self.cfg)
        self.num_ws = self.synthesis.num_ws
        self.noise_shapes = list(self.synthesis.noise_shapes)
        self.register_buffer("w_avg", torch.zeros(self.w_dim))


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
        self.fc = FullyConnectedLayer(ch[4] * 16, ch[4], activate=True)
        self.out = FullyConnectedLayer(ch[4], 1)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.from_rgb(img))
        x = torch.cat([x, minibatch_std(x, self.mbstd_group)], dim=1)
        x = self.conv(x).flatten(1)
        return self.out(self.fc(x)).squeeze(1)
