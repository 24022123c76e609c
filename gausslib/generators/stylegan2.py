"""StyleGAN2 with the official semantics (Karras et al. 2020, config F as in stylegan2-ada-pytorch).

z (``z_dim``) → 2nd-moment normalisation → ``mapping_layers`` fully connected layers (leaky ReLU,
learning-rate multiplier 0.01) → w; one w per synthesis input ("z+": ``num_ws`` independent z's,
each mapped separately); ``w_avg`` (the running mean of w) for truncation
``w_avg + ψ (w − w_avg)`` on the first ``truncation_cutoff`` inputs. Synthesis: a learned constant
4×4 input, then per resolution a block of two modulated 3×3 convolutions (the first of every block
but the 4×4 one upsamples 2×) with demodulation, per-layer noise inputs scaled by a learned
strength, bias and leaky ReLU·√2, and a 1×1 modulated (not demodulated) tRGB whose outputs are
summed over resolutions ("skip" architecture) after FIR upsampling of the running image. Every
resampling uses the FIR filter ``[1, 3, 3, 1]`` (outer product, normalised; gain 4 when
upsampling) with :func:`upfirdn2d` semantics; the upsampling convolution is a stride-2 transposed
convolution followed by the filter, as in the official ``conv2d_resample``. The output is linear
(no ``tanh``). Equalised learning rate throughout. Any resolution (power of two ≥ 4) and channel
plan.

Parameter and buffer names follow the official ``G_ema`` state dict (``mapping.fc{i}.weight``,
``mapping.w_avg``, ``synthesis.b{res}.const``, ``synthesis.b{res}.conv0/conv1.{weight, bias,
noise_strength, noise_const, resample_filter, affine.weight, affine.bias}``,
``synthesis.b{res}.torgb.{weight, bias, affine.*}``, ``synthesis.b{res}.resample_filter``), with the
same shapes and the same scaling conventions (raw weights times the equalised-lr gain at run time),
so an official checkpoint maps onto these modules key by key. Where the layout or behaviour differs:

- the mapping network maps each z separately and returns ``[..., w_dim]``: broadcasting to
  ``num_ws`` and truncation live in :meth:`Generator.map_z_plus` (the official mapping returns
  ``[B, num_ws, w_dim]`` and truncates itself); there is no class-conditioning embedding
  (``c_dim = 0``; official unconditional checkpoints have none either);
- ``w_avg`` is updated by the trainer, once per step (the official mapping updates it inside its
  forward pass in training mode); the decay is the same, 0.995, but it tracks the first style of
  every training image (the official one tracks every mapped z);
- noise maps are arguments of :meth:`Generator.forward` (the paper optimises them); fresh N(0, 1)
  maps when ``None``. The official ``noise_const`` buffers are kept and served by
  :meth:`Generator.const_noise` (its ``noise_mode="const"``);
- no ``conv_clamp`` and no FP16 layers (the official config F clamps activations at ±256 only in
  its FP16 layers);
- modulated convolutions are computed non-fused (scale the input channels, one shared
  convolution, scale the output channels), the official ``fused_modconv=False`` path: on CPU it is
  faster than the grouped convolution, and mathematically equal;
- the discriminator is the official residual one (FIR downsampling, minibatch standard deviation
  with group 4 and one channel) under the official names (``b{res}.fromrgb`` at the top
  resolution only, ``b{res}.conv0``, ``b{res}.conv1``, ``b{res}.skip``, ``b4.conv``, ``b4.fc``,
  ``b4.out``); its minibatch-stddev layer is a function, not a module.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

ARCH = "official"  # the config's "arch" entry: tells these weights from StyleGAN2-lite ones
_LRELU_GAIN = math.sqrt(2.0)
FIR_TAPS = (1.0, 3.0, 3.0, 1.0)


class ConfigMethods:
    """Validation (:func:`check_config`), ``resolutions`` and ``to_dict`` of the StyleGAN2 config dataclasses."""

    def __post_init__(self):
        check_config(self)

    @property
    def resolutions(self) -> list[int]:
        return resolutions(self.resolution)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class StyleGAN2Config(ConfigMethods):
    """Architecture of a :class:`Generator` / :class:`Discriminator` pair.

    ``channels`` / ``d_channels``: feature maps per resolution (the official plan is
    ``min(channel_base // res, channel_max)``); ``noise_strength_init``: the initial learned noise
    strength of every synthesis layer (official: 0).
    """

    resolution: int = 64
    img_channels: int = 1
    z_dim: int = 512
    w_dim: int = 512
    mapping_layers: int = 8
    mapping_lr_mul: float = 0.01
    channels: dict[int, int] = field(default_factory=lambda: {4: 64, 8: 64, 16: 64, 32: 32, 64: 16})
    d_channels: dict[int, int] = field(default_factory=lambda: {4: 64, 8: 64, 16: 64, 32: 32, 64: 16})
    noise_strength_init: float = 0.0
    arch: str = ARCH

    def __post_init__(self):
        if self.arch != ARCH:
            raise ValueError(f"arch must be {ARCH!r} for this module, got {self.arch!r}")
        super().__post_init__()


def resolutions(resolution: int) -> list[int]:
    """Returns the block resolutions ``[4, 8, …, resolution]``."""
    return [2 ** i for i in range(2, int(math.log2(resolution)) + 1)]


def check_config(cfg) -> None:
    """Raises ``ValueError`` unless ``cfg.resolution`` is a power of two ≥ 4 and ``cfg.channels`` /
    ``cfg.d_channels`` cover every block resolution; makes their keys and values ints (JSON gives strings)."""
    res = cfg.resolution
    if not isinstance(res, int) or res < 4 or res & (res - 1):
        raise ValueError(f"resolution must be a power of two >= 4, got {res!r}")
    cfg.channels = {int(k): int(v) for k, v in cfg.channels.items()}
    cfg.d_channels = {int(k): int(v) for k, v in cfg.d_channels.items()}
    for name in ("channels", "d_channels"):
        missing = [r for r in resolutions(res) if r not in getattr(cfg, name)]
        if missing:
            raise ValueError(f"{name} lacks resolutions {missing} (needs 4..{res})")


# ----------------------------------------------------------------------------- FIR resampling
def setup_filter(taps=FIR_TAPS) -> torch.Tensor:
    """Returns the 2-D FIR filter ``[k, k]``: the outer product of ``taps``, normalised to sum 1."""
    f = torch.as_tensor(taps, dtype=torch.float32)
    f = torch.outer(f, f)
    return f / f.sum()


def upfirdn2d(x: torch.Tensor, f: torch.Tensor, up: int = 1, down: int = 1,
              padding: tuple[int, int, int, int] = (0, 0, 0, 0), gain: float = 1.0) -> torch.Tensor:
    """Returns ``x`` ``[B, C, H, W]`` upsampled, FIR-filtered and downsampled, per channel.

    In order: insert ``up − 1`` zeros after every sample along each axis, pad by ``padding =
    (x0, x1, y0, y1)`` (negative values crop), convolve (a true convolution, not a correlation)
    with ``f·gain`` ``[kh, kw]``, keep every ``down``-th sample. The output is
    ``[B, C, (H·up + y0 + y1 − kh)//down + 1, (W·up + x0 + x1 − kw)//down + 1]``.
    """
    if x.dim() != 4 or f.dim() != 2:
        raise ValueError(f"x must be [B, C, H, W] and f [kh, kw], got {tuple(x.shape)} and {tuple(f.shape)}")
    b, c, h, w = x.shape
    if up > 1:
        # zero insertion by padding a trailing axis of size 1: no scatter, autograd-friendly
        x = F.pad(x.reshape(b, c, h, 1, w, 1), [0, up - 1, 0, 0, 0, up - 1]).reshape(b, c, h * up, w * up)
    x = F.pad(x, list(padding))
    kernel = (f * gain).flip(0, 1).to(x.dtype)[None, None].expand(c, 1, *f.shape)
    x = F.conv2d(x, kernel, groups=c)
    return x[:, :, ::down, ::down] if down > 1 else x


def upsample2d(x: torch.Tensor, f: torch.Tensor, up: int = 2) -> torch.Tensor:
    """Returns ``x`` ``[B, C, H, W]`` upsampled to ``[B, C, H·up, W·up]`` by zero insertion and FIR ``f`` (gain up²)."""
    k = f.shape[-1]
    p0, p1 = (k + up - 1) // 2, (k - up) // 2
    return upfirdn2d(x, f, up=up, padding=(p0, p1, p0, p1), gain=up ** 2)


def downsample2d(x: torch.Tensor, f: torch.Tensor, down: int = 2) -> torch.Tensor:
    """Returns ``x`` ``[B, C, H, W]`` FIR-filtered by ``f`` and decimated to ``[B, C, H/down, W/down]``."""
    k = f.shape[-1]
    p0, p1 = (k - down + 1) // 2, (k - down) // 2
    return upfirdn2d(x, f, down=down, padding=(p0, p1, p0, p1))


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool = True,
                     up: int = 1, padding: int = 1, resample_filter: torch.Tensor | None = None) -> torch.Tensor:
    """Returns the modulated convolution ``[B, C_out, H·up, W·up]`` of ``x`` ``[B, C_in, H, W]``.

    ``weight``: ``[C_out, C_in, k, k]``; ``styles``: ``[B, C_in]``. Equal to convolving each sample
    with ``W_{oik} s_i d_o``, ``d_o = (Σ_{i,k} (W_{oik} s_i)² + 1e-8)^{-1/2}`` (demodulation), computed
    non-fused. ``up = 2``: stride-2 transposed convolution (which convolves, where the ``up = 1``
    path correlates — as the official code does), then the FIR ``resample_filter`` with gain 4.
    """
    if up > 1 and resample_filter is None:
        raise ValueError("modulated_conv2d: up > 1 needs the resample_filter")
    x = x * styles[:, :, None, None]
    if up == 1:
        x = F.conv2d(x, weight, padding=padding)
    else:
        k, fk = weight.shape[-1], resample_filter.shape[-1]
        p0 = padding + (fk + up - 1) // 2 - (k - 1)
        p1 = padding + (fk - up) // 2 - (k - up)
        pt = max(min(-p0, -p1), 0)
        x = F.conv_transpose2d(x, weight.transpose(0, 1), stride=up, padding=pt)
        x = upfirdn2d(x, resample_filter, padding=(p0 + pt, p1 + pt, p0 + pt, p1 + pt), gain=up ** 2)
    if demodulate:
        dcoef = torch.rsqrt(styles.square() @ weight.square().sum(dim=(2, 3)).t() + 1e-8)  # [B, C_out]
        x = x * dcoef[:, :, None, None]
    return x


# ----------------------------------------------------------------------------- layers
class FullyConnectedLayer(nn.Module):
    """Returns ``act(x @ (W·lr_mul/√in)ᵀ + b·lr_mul)`` ``[..., out]`` for ``x`` ``[..., in]`` (equalised lr)."""

    def __init__(self, in_features: int, out_features: int, bias_init: float = 0.0, lr_mul: float = 1.0,
                 activate: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init)))
        self.weight_gain, self.bias_gain, self.activate = lr_mul / math.sqrt(in_features), lr_mul, activate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.linear(x, self.weight * self.weight_gain, self.bias * self.bias_gain)
        return F.leaky_relu(y, 0.2) * _LRELU_GAIN if self.activate else y


class MappingNetwork(nn.Module):
    """Returns w ``[..., w_dim]`` from z ``[..., z_dim]``: 2nd-moment normalisation, then the MLP ``fc0…``.

    Holds ``w_avg`` ``[w_dim]``, the running mean of w that truncation pulls towards.
    """

    def __init__(self, z_dim: int, w_dim: int, layers: int, lr_mul: float = 0.01):
        super().__init__()
        dims = [z_dim] + [w_dim] * layers
        for i, (a, b) in enumerate(zip(dims, dims[1:])):
            setattr(self, f"fc{i}", FullyConnectedLayer(a, b, lr_mul=lr_mul, activate=True))
        self.num_layers = layers
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = z * torch.rsqrt(z.square().mean(dim=-1, keepdim=True) + 1e-8)
        for i in range(self.num_layers):
            x = getattr(self, f"fc{i}")(x)
        return x


class SynthesisLayer(nn.Module):
    """Returns ``lrelu(modconv(x) + strength·noise + b)·√2`` ``[B, C_out, R, R]`` (``x``: ``[B, C_in, R/up, R/up]``)."""

    def __init__(self, in_ch: int, out_ch: int, w_dim: int, resolution: int, up: int, noise_strength_init: float):
        super().__init__()
        self.affine = FullyConnectedLayer(w_dim, in_ch, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, 3, 3))
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.noise_strength = nn.Parameter(torch.full((), float(noise_strength_init)))
        self.register_buffer("noise_const", torch.randn(resolution, resolution))
        self.register_buffer("resample_filter", setup_filter())
        self.up, self.resolution = up, resolution

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        x = modulated_conv2d(x, self.weight, self.affine(w), up=self.up, resample_filter=self.resample_filter)
        x = x + self.noise_strength * noise + self.bias[None, :, None, None]
        return F.leaky_relu(x, 0.2) * _LRELU_GAIN


class ToRGBLayer(nn.Module):
    """Returns the tRGB output ``modconv_1×1(x) + b`` (no demodulation) ``[B, img_channels, R, R]``."""

    def __init__(self, in_ch: int, out_ch: int, w_dim: int):
        super().__init__()
        self.affine = FullyConnectedLayer(w_dim, in_ch, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, 1, 1))
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.weight_gain = 1.0 / math.sqrt(in_ch)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        y = modulated_conv2d(x, self.weight, self.affine(w) * self.weight_gain, demodulate=False, padding=0)
        return y + self.bias[None, :, None, None]


class SynthesisBlock(nn.Module):
    """One resolution: ``const`` (4×4) or ``conv0`` (upsampling), then ``conv1`` and ``torgb``.

    ``forward(x, img, ws, noise)``: ``x`` ``[B, C_in, R/2, R/2]`` (ignored at 4×4), ``img`` the running
    output ``[B, C, R/2, R/2]`` or ``None``, ``ws`` ``[B, num_conv + 1, w_dim]``, ``noise`` one map
    ``[B or 1, 1, R, R]`` per conv; returns ``(x [B, C_out, R, R], img [B, C, R, R])``.
    """

    def __init__(self, in_ch: int, out_ch: int, w_dim: int, resolution: int, img_channels: int,
                 noise_strength_init: float):
        super().__init__()
        if in_ch == 0:
            self.const = nn.Parameter(torch.randn(out_ch, resolution, resolution))
        else:
            self.conv0 = SynthesisLayer(in_ch, out_ch, w_dim, resolution, 2, noise_strength_init)
        self.conv1 = SynthesisLayer(out_ch, out_ch, w_dim, resolution, 1, noise_strength_init)
        self.torgb = ToRGBLayer(out_ch, img_channels, w_dim)
        self.register_buffer("resample_filter", setup_filter())
        self.num_conv = 1 if in_ch == 0 else 2
        self.resolution = resolution

    def forward(self, x, img, ws: torch.Tensor, noise: list[torch.Tensor]):
        if self.num_conv == 1:
            x = self.conv1(self.const[None].expand(ws.shape[0], -1, -1, -1), ws[:, 0], noise[0])
        else:
            x = self.conv1(self.conv0(x, ws[:, 0], noise[0]), ws[:, 1], noise[1])
        y = self.torgb(x, ws[:, self.num_conv])
        return x, (y if img is None else upsample2d(img, self.resample_filter) + y)


class SynthesisNetwork(nn.Module):
    """Returns images ``[B, C, R, R]`` (linear output) from ws ``[B, num_ws, w_dim]`` and noise maps."""

    def __init__(self, cfg: StyleGAN2Config):
        super().__init__()
        ch = cfg.channels
        self.block_resolutions = cfg.resolutions
        for r in self.block_resolutions:
            setattr(self, f"b{r}", SynthesisBlock(ch[r // 2] if r > 4 else 0, ch[r], cfg.w_dim, r,
                                                  cfg.img_channels, cfg.noise_strength_init))
        self.noise_shapes = [(1, r, r) for r in self.block_resolutions for _ in range(1 if r == 4 else 2)]
        # A block's tRGB shares its w with the next block's first conv: num_ws = convs + 1.
        self.num_ws = len(self.noise_shapes) + 1

    def layers(self) -> list[SynthesisLayer]:
        """Returns the synthesis layers in noise-map order (``noise_shapes``)."""
        return [conv for r in self.block_resolutions
                for conv in ((getattr(self, f"b{r}").conv0,) if r > 4 else ()) + (getattr(self, f"b{r}").conv1,)]

    def forward(self, ws: torch.Tensor, noise: list[torch.Tensor]) -> torch.Tensor:
        x = img = None
        i = 0
        for r in self.block_resolutions:
            block = getattr(self, f"b{r}")
            x, img = block(x, img, ws[:, i:i + block.num_conv + 1], noise[i:i + block.num_conv])
            i += block.num_conv
        return img


class GeneratorAPI(nn.Module):
    """What the inversion code uses of a StyleGAN2, for this architecture and StyleGAN2-lite.

    ``G(z_plus, noise, truncation_psi=1, truncation_cutoff=None)`` ``[B, C, R, R]``: ``z_plus``
    ``[B, num_ws, z_dim]`` (one independent z per synthesis input, "z+") or ``[B, z_dim]`` (one z
    shared by all inputs); ``noise``: list of ``len(noise_shapes)`` maps ``[B or 1, *noise_shapes[i]]``,
    ``None`` draws fresh N(0, 1) maps. Subclasses set ``cfg``, ``mapping``, ``synthesis``, ``w_avg``,
    ``z_dim``, ``num_ws`` and ``noise_shapes``.

    The generator interface shared with Glow: ``family = "stylegan2"``, ``temperature = 1`` (styles
    and noise maps are drawn from N(0, 1)), ``resolution`` and :meth:`sample`.
    """

    family = "stylegan2"
    temperature = 1.0

    @property
    def resolution(self) -> int:
        return self.cfg.resolution

    def make_noise(self, batch: int, generator: torch.Generator | None = None) -> list[torch.Tensor]:
        """Returns fresh N(0, 1) noise maps ``[batch, *shape]`` for every entry of ``noise_shapes``."""
        dev = self.w_avg.device
        src = generator.device if generator is not None else dev  # a CPU generator also seeds CUDA models
        return [torch.randn(batch, *s, generator=generator, device=src).to(dev) for s in self.noise_shapes]

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Returns ``n`` images ``[n, C, R, R]``: one z ``[n, z_dim]`` shared by all inputs (drawn in float64,
        then cast to the model's dtype), then fresh noise maps, both from ``generator``."""
        dtype, dev = self.w_avg.dtype, self.w_avg.device
        src = generator.device if generator is not None else dev
        z = torch.randn(n, self.z_dim, generator=generator, device=src, dtype=torch.float64).to(dev, dtype)
        return self(z, [t.to(dtype) for t in self.make_noise(n, generator)])

    def map_z_plus(self, z_plus: torch.Tensor, truncation_psi: float = 1.0,
                   truncation_cutoff: int | None = None) -> torch.Tensor:
        """Returns ws ``[B, num_ws, w_dim]``: each z mapped separately; inputs ``< truncation_cutoff``
        (all when ``None``) truncated to ``w_avg + ψ (w − w_avg)``."""
        if z_plus.dim() == 2:
            z_plus = z_plus[:, None].expand(-1, self.num_ws, -1)
        if z_plus.dim() != 3 or z_plus.shape[1:] != (self.num_ws, self.z_dim):
            raise ValueError(f"z_plus must be [B, {self.num_ws}, {self.z_dim}] or [B, {self.z_dim}], "
                             f"got {tuple(z_plus.shape)}")
        ws = self.mapping(z_plus)
        if truncation_psi == 1.0:
            return ws
        cut = self.num_ws if truncation_cutoff is None else int(truncation_cutoff)
        if not 0 <= cut <= self.num_ws:
            raise ValueError(f"truncation_cutoff must be in [0, {self.num_ws}] or None, got {truncation_cutoff!r}")
        return torch.cat([self.w_avg.lerp(ws[:, :cut], truncation_psi), ws[:, cut:]], dim=1)

    def check_noise(self, noise: list[torch.Tensor]) -> None:
        """Raises ``ValueError`` unless ``noise`` holds one map per entry of ``noise_shapes``."""
        if len(noise) != len(self.noise_shapes):
            raise ValueError(f"noise must hold {len(self.noise_shapes)} maps, got {len(noise)}")
        for i, (n, s) in enumerate(zip(noise, self.noise_shapes)):
            if tuple(n.shape[-3:]) != s:
                raise ValueError(f"noise[{i}] must be [B, {s[0]}, {s[1]}, {s[2]}], got {tuple(n.shape)}")

    def forward(self, z_plus: torch.Tensor, noise: list[torch.Tensor] | None = None,
                truncation_psi: float = 1.0, truncation_cutoff: int | None = None) -> torch.Tensor:
        ws = self.map_z_plus(z_plus, truncation_psi, truncation_cutoff)
        if noise is None:
            noise = self.make_noise(ws.shape[0])
        self.check_noise(noise)
        return self.synthesis(ws, noise)


class Generator(GeneratorAPI):
    """StyleGAN2 generator: ``G(z_plus, noise) = synthesis(truncate(mapping(z_plus)), noise)`` ``[B, C, R, R]``
    (linear output); the call signature is ``GeneratorAPI``'s."""

    def __init__(self, cfg: StyleGAN2Config | None = None, **kwargs):
        super().__init__()
        self.cfg = cfg if cfg is not None else StyleGAN2Config(**kwargs)
        self.z_dim, self.w_dim = self.cfg.z_dim, self.cfg.w_dim
        self.mapping = MappingNetwork(self.z_dim, self.w_dim, self.cfg.mapping_layers, self.cfg.mapping_lr_mul)
        self.synthesis = SynthesisNetwork(self.cfg)
        self.num_ws = self.synthesis.num_ws
        self.noise_shapes = list(self.synthesis.noise_shapes)

    @property
    def w_avg(self) -> torch.Tensor:
        """The running mean of w ``[w_dim]`` (the buffer ``mapping.w_avg``)."""
        return self.mapping.w_avg

    def noise_strengths(self) -> torch.Tensor:
        """Returns the learned noise strengths ``[len(noise_shapes)]`` in noise-map order."""
        return torch.stack([layer.noise_strength for layer in self.synthesis.layers()])

    def const_noise(self) -> list[torch.Tensor]:
        """Returns the fixed noise maps ``[1, *shape]`` stored in the layers (official ``noise_mode="const"``)."""
        return [layer.noise_const[None, None] for layer in self.synthesis.layers()]


# ----------------------------------------------------------------------------- discriminator
class Conv2dLayer(nn.Module):
    """Returns ``act(conv(x, W/√(C_in k²)) + b)`` ``[B, C_out, H/down, W/down]``; ``down = 2`` filters with
    the FIR first and convolves with stride 2 (official ``conv2d_resample``)."""

    def __init__(self, in_ch: int, out_ch: int, k: int, activate: bool, down: int = 1, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, k, k))
        self.bias = nn.Parameter(torch.zeros(out_ch)) if bias else None
        self.register_buffer("resample_filter", setup_filter())
        self.weight_gain, self.activate, self.down = 1.0 / math.sqrt(in_ch * k * k), activate, down

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w, k = self.weight * self.weight_gain, self.weight.shape[-1]
        if self.down == 1:
            y = F.conv2d(x, w, self.bias, padding=k // 2)
        else:
            fk = self.resample_filter.shape[-1]
            p0 = k // 2 + (fk - self.down + 1) // 2
            p1 = k // 2 + (fk - self.down) // 2
            y = F.conv2d(upfirdn2d(x, self.resample_filter, padding=(p0, p1, p0, p1)), w, self.bias, stride=self.down)
        return F.leaky_relu(y, 0.2) * _LRELU_GAIN if self.activate else y


class DiscriminatorBlock(nn.Module):
    """Returns the residual block ``(conv1_down(conv0(x)) + skip_down(x))·√½`` ``[B, C_out, H/2, W/2]``."""

    def __init__(self, in_ch: int, out_ch: int, img_channels: int, first: bool):
        super().__init__()
        if first:
            self.fromrgb = Conv2dLayer(img_channels, in_ch, 1, activate=True)
        self.conv0 = Conv2dLayer(in_ch, in_ch, 3, activate=True)
        self.conv1 = Conv2dLayer(in_ch, out_ch, 3, activate=True, down=2)
        self.skip = Conv2dLayer(in_ch, out_ch, 1, activate=False, down=2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if hasattr(self, "fromrgb"):
            x = self.fromrgb(x)
        return (self.skip(x) + self.conv1(self.conv0(x))) * math.sqrt(0.5)


class DiscriminatorEpilogue(nn.Module):
    """Returns logits ``[B]`` from 4×4 features: minibatch std, 3×3 conv, fc, out."""

    def __init__(self, ch: int, mbstd_group: int):
        super().__init__()
        self.mbstd_group = mbstd_group
        self.conv = Conv2dLayer(ch + 1, ch, 3, activate=True)
        self.fc = FullyConnectedLayer(ch * 16, ch, activate=True)
        self.out = FullyConnectedLayer(ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.cat([x, minibatch_std(x, self.mbstd_group)], dim=1)
        return self.out(self.fc(self.conv(x).flatten(1))).squeeze(1)


class Discriminator(nn.Module):
    """Residual StyleGAN2 discriminator with FIR downsampling: logits ``[B]`` for images ``[B, C, R, R]``."""

    def __init__(self, cfg: StyleGAN2Config | None = None, mbstd_group: int = 4, **kwargs):
        super().__init__()
        self.cfg = cfg if cfg is not None else StyleGAN2Config(**kwargs)
        res, ch = self.cfg.resolutions[::-1], self.cfg.d_channels
        self.block_resolutions = res[:-1]
        for r in self.block_resolutions:
            setattr(self, f"b{r}", DiscriminatorBlock(ch[r], ch[r // 2], self.cfg.img_channels, first=r == res[0]))
        self.b4 = DiscriminatorEpilogue(ch[4], mbstd_group)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        x = img
        for r in self.block_resolutions:
            x = getattr(self, f"b{r}")(x)
        return self.b4(x)


def minibatch_std(x: torch.Tensor, group: int) -> torch.Tensor:
    """Returns the minibatch-stddev feature ``[B, 1, H, W]``: mean std over groups of ``group`` samples."""
    b, c, h, w = x.shape
    g = math.gcd(group, b)
    y = x.reshape(g, b // g, c, h, w)
    y = (y.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # [B/g]
    return y.repeat(g)[:, None, None, None].expand(b, 1, h, w)
