"""Reparameterisations: how the optimisation variables ``p: [B, D]`` become generator latents.

One interface for all (SPEC §5): a :class:`Reparam` is bound to a generator and one seed per
batch item (:meth:`Reparam.bind`) and returns a :class:`Bound` with the start ``x0: [B, D]``,
``images(p)``, ``penalty(p)`` and ``latent(p)`` (the generator-facing latent as a patch matrix,
for the Gaussianity dashboard). The generator's latent is described by a :class:`LatentSpace`:

* StyleGAN2: the z+ style matrix ``[num_ws, z_dim]`` (patches: consecutive chunks of
  ``psize = 32``) and the noise maps (maps with side ≥ 8 cut into 8×8 patches and pooled; smaller
  maps stay plain). Each part has a mode: ``"reparam"`` (the reparameterisation applies),
  ``"free"`` (optimised as is) or ``"fixed"`` (drawn from the seed, not optimised) — paper Table 5.
* Glow: the multi-scale latent list in layout ``"P1"`` or ``"P2"``, at the generator's temperature
  (``G.temperature``, 0.7 for the shipped Glows).

Every item's starting draws come from ``torch.Generator().manual_seed(seed)`` in a fixed order
(style, then noise), so all reparameterisations start from the same latent for a given seed
and a batch equals separate runs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch
from torch import nn

from gausslib.layers import GaussianizationLayers, cayley, spherical
from gausslib.layers._validate import check_count
from gausslib.patches import patchify, unpatchify

__all__ = ["LatentSpace", "Group", "latent_space", "Reparam", "Raw", "Spherical",
           "Gaussianized", "Orthogonal", "Mixed", "Bound", "MODES", "Packer"]

MODES = ("reparam", "free", "fixed")


@dataclass
class Group:
    """A part of the latent treated as one patch matrix.

    shapes: per-item shapes of its tensors. to_matrix(tensors, roll) -> ``[B, n, d]``;
    from_matrix(X, roll) -> tensors (exact inverse). kind: "style", "noise", "noise_small",
    "glow" (the mode of a group is chosen by its kind).
    """

    kind: str
    shapes: list[tuple[int, ...]]
    to_matrix: Callable
    from_matrix: Callable


@dataclass
class LatentSpace:
    """The latent a generator takes: its groups, how to draw it and how to render images.

    render(list of tensors ``[B, *shape]`` in group order) -> ``[B, C, H, W]``. temperature: the
    scale of the reparameterised latent (1 for StyleGAN2, 0.7 for Glow). arguments (StyleGAN2):
    the same parts as the generator's ``(z_plus, noise list)``.
    """

    groups: list[Group]
    render: Callable
    temperature: float = 1.0
    dtype: torch.dtype = torch.float32
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    arguments: Callable | None = None

    def draw(self, seeds: Sequence[int]) -> list[list[torch.Tensor]]:
        """Return i.i.d. N(0, 1) tensors per group ``[[B, *shape], ...]``, item b from ``seeds[b]``."""
        per_item = []
        for s in seeds:
            g = torch.Generator().manual_seed(int(s))
            per_item.append([[torch.randn(shape, generator=g, dtype=torch.float64) for shape in grp.shapes]
                             for grp in self.groups])
        return [[torch.stack([item[gi][ti] for item in per_item]).to(self.device, self.dtype)
                 for ti in range(len(grp.shapes))] for gi, grp in enumerate(self.groups)]


def _vector_group(kind: str, shape: tuple[int, int], p: int) -> Group:
    def to_matrix(ts, roll=False):
        return patchify(ts[0], p, roll=roll)

    def from_matrix(X, roll=False):
        return [unpatchify(X, (X.shape[0], *shape), p, roll=roll)]

    return Group(kind, [shape], to_matrix, from_matrix)


def _maps_group(kind: str, shapes: list[tuple[int, ...]], p: int) -> Group:
    def to_matrix(ts, roll=False):
        return patchify(list(ts), p, roll=roll)

    def from_matrix(X, roll=False):
        return unpatchify(X, [(X.shape[0], *s) for s in shapes], p, roll=roll)

    return Group(kind, list(shapes), to_matrix, from_matrix)


def _plain_group(kind: str, shapes: list[tuple[int, ...]]) -> Group:
    """A group without patches: the matrix is ``[B, numel, 1]`` (only for free/fixed parts)."""
    sizes = [math.prod(s) for s in shapes]

    def to_matrix(ts, roll=False):
        return torch.cat([t.flatten(1) for t in ts], 1)[..., None]

    def from_matrix(X, roll=False):
        return [t.reshape(X.shape[0], *s) for t, s in zip(X[..., 0].split(sizes, 1), shapes)]

    return Group(kind, list(shapes), to_matrix, from_matrix)


def _stylegan2_space(G, psize: int, noise_psize: int) -> LatentSpace:
    if (G.num_ws * G.z_dim) % psize or psize > G.z_dim:
        raise ValueError(f"psize={psize} must divide z_dim={G.z_dim}")
    big = [tuple(s) for s in G.noise_shapes if s[-1] >= noise_psize]
    small = [tuple(s) for s in G.noise_shapes if s[-1] < noise_psize]
    order = [i for i, s in enumerate(G.noise_shapes) if s[-1] >= noise_psize] + \
            [i for i, s in enumerate(G.noise_shapes) if s[-1] < noise_psize]
    groups = [_vector_group("style", (G.num_ws, G.z_dim), psize), _maps_group("noise", big, noise_psize)]
    if small:
        groups.append(_plain_group("noise_small", small))

    def arguments(parts):
        z_plus, noise = parts[0][0], [t for part in parts[1:] for t in part]
        ordered = [None] * len(noise)
        for i, t in zip(order, noise):
            ordered[i] = t
        return z_plus, ordered

    param = next(G.parameters())
    return LatentSpace(groups, lambda parts: G(*arguments(parts)), 1.0, param.dtype, param.device,
                       arguments)


def _glow_space(G, layout: str, temperature: float, p: int) -> LatentSpace:
    from gausslib.generators import glow  # the layouts P1 / P2 of the paper

    shapes = [tuple(s) for s in G.latent_shapes]
    channels = G.cfg.img_channels

    if layout == "P1":  # one image-shaped tensor, p×p×C patches
        def to_matrix(ts, roll=False):
            return patchify(glow.to_p1(list(ts)), p, roll=roll)

        def from_matrix(X, roll=False):
            R = G.resolution
            return glow.from_p1(unpatchify(X, (X.shape[0], channels, R, R), p, roll=roll), shapes)
    else:  # P2: channels grouped by C and stacked along the height, p×p×C patches pooled
        p2_shapes = [(channels, c // channels * h, w) for c, h, w in shapes]

        def to_matrix(ts, roll=False):
            return patchify(glow.to_p2(list(ts), channels), p, roll=roll)

        def from_matrix(X, roll=False):
            maps = unpatchify(X, [(X.shape[0], *s) for s in p2_shapes], p, roll=roll)
            return glow.from_p2(maps, shapes)

    param = next(G.parameters())
    return LatentSpace([Group("glow", shapes, to_matrix, from_matrix)],
                       lambda parts: G.decode(parts[0]), temperature, param.dtype, param.device)


def _check_patch_sizes(**sizes) -> None:
    for name, p in sizes.items():
        check_count(p, name, 1)


def latent_space(G, *, psize: int = 32, noise_psize: int = 8, layout: str = "P1",
                 temperature: float | None = None, glow_psize: int = 8) -> LatentSpace:
    """Return the :class:`LatentSpace` of a generator by its ``family``: StyleGAN2 or Glow.

    StyleGAN2: z+ cut into chunks of ``psize``, noise maps into ``noise_psize²`` patches. Glow:
    ``layout`` "P1" or "P2" cut into ``glow_psize² · C`` patches, latents scaled by ``temperature``
    (default: the generator's own, ``G.temperature``).
    """
    _check_patch_sizes(psize=psize, noise_psize=noise_psize, glow_psize=glow_psize)
    family = getattr(G, "family", None)
    if family == "stylegan2":
        return _stylegan2_space(G, psize, noise_psize)
    if family == "glow":
        if layout not in ("P1", "P2"):
            raise ValueError(f"layout must be 'P1' or 'P2', got {layout!r}")
        return _glow_space(G, layout, G.temperature if temperature is None else temperature, glow_psize)
    raise TypeError(f"generator must have family 'stylegan2' or 'glow' (gausslib.generators), got "
                    f"{type(G).__name__} with family {family!r}")


class Packer:
    """Flattens a list of ``[B, *shape]`` tensors into ``[B, D]`` and back."""

    def __init__(self, shapes: list[tuple[int, ...]]):
        self.shapes, self.sizes = shapes, [math.prod(s) for s in shapes]

    def pack(self, ts: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat([t.reshape(t.shape[0], -1) for t in ts], 1)

    def unpack(self, p: torch.Tensor) -> list[torch.Tensor]:
        return [t.reshape(p.shape[0], *s) for t, s in zip(p.split(self.sizes, 1), self.shapes)]


class Reparam:
    """Base class: a map from parameters to the latent of every ``"reparam"`` group.

    noise: mode of the StyleGAN2 noise maps (``"reparam"``, ``"free"``, ``"fixed"``); maps
    smaller than a noise patch are ``"free"`` unless noise is ``"fixed"``. The style (z+) and
    Glow latents are always reparameterised. Options of :func:`latent_space` (psize,
    noise_psize, layout, temperature, glow_psize) are passed through.
    """

    def __init__(self, *, noise: str = "reparam", psize: int = 32, noise_psize: int = 8,
                 layout: str = "P1", temperature: float | None = None, glow_psize: int = 8):
        if noise not in MODES:
            raise ValueError(f"noise must be one of {MODES}, got {noise!r}")
        _check_patch_sizes(psize=psize, noise_psize=noise_psize, glow_psize=glow_psize)
        self.noise = noise
        self.space_options = dict(psize=psize, noise_psize=noise_psize, layout=layout,
                                  temperature=temperature, glow_psize=glow_psize)

    def mode(self, kind: str) -> str:
        """Return the mode of a group kind."""
        if kind == "noise":
            return self.noise
        if kind == "noise_small":
            return "fixed" if self.noise == "fixed" else "free"
        return "reparam"

    # --- what subclasses define ---------------------------------------------------------------
    def init_params(self, group: Group, draws: list[torch.Tensor], scale: float):
        """Return ``(params list [B, ...], state)`` for a reparameterised group from its draws."""
        return [d * scale for d in draws], None

    def apply(self, group: Group, params: list[torch.Tensor], state, scale: float) -> list[torch.Tensor]:
        """Return the group's latent tensors from its params (default: identity)."""
        return params

    def penalty(self, latents: list[torch.Tensor], space: LatentSpace) -> torch.Tensor | None:
        """Return a per-item penalty ``[B]`` on the reparameterised latents, or None."""
        return None

    def bind(self, generator, seeds: Sequence[int]) -> "Bound":
        """Return the :class:`Bound` reparameterisation of ``generator`` for one item per seed."""
        return Bound(self, latent_space(generator, **self.space_options), seeds)


class Bound(nn.Module):
    """A reparameterisation bound to a generator and seeds: ``p: [B, D]`` → images.

    x0: ``[B, D]`` the start. images(p) -> ``[B, C, H, W]``. penalty(p) -> ``[B]``.
    latent(p) -> ``[B, n, d]`` the first group's generator-facing latent (z+ or Glow's).
    schedule, project: the optional Adam hooks of :func:`gausslib.invert.run_batch` (None: unused).
    """

    schedule = None
    project = None

    def __init__(self, reparam: Reparam, space: LatentSpace, seeds: Sequence[int]):
        super().__init__()
        self.reparam, self.space = reparam, space
        draws = space.draw(seeds)
        self.modes = [reparam.mode(g.kind) for g in space.groups]
        self.fixed: list[list[torch.Tensor] | None] = []
        self.states, params, self.packers = [], [], []
        for group, mode, d in zip(space.groups, self.modes, draws):
            if mode == "fixed":
                self.fixed.append(d)
                self.states.append(None)
                self.packers.append(None)
                continue
            if mode == "free":
                ps, state = d, None
            else:
                ps, state = reparam.init_params(group, d, space.temperature)
            self.fixed.append(None)
            self.states.append(state)
            self.packers.append(Packer([tuple(t.shape[1:]) for t in ps]))
            params.append(self.packers[-1].pack(ps))
        self.sizes = [0 if p is None else sum(p.sizes) for p in self.packers]
        self.x0 = torch.cat(params, 1)

    def latents(self, p: torch.Tensor) -> list[list[torch.Tensor]]:
        """Return the generator's latent tensors per group from ``p: [B, D]``."""
        chunks = p.split(self.sizes, 1)
        out = []
        for group, mode, chunk, packer, fixed, state in zip(
                self.space.groups, self.modes, chunks, self.packers, self.fixed, self.states):
            if mode == "fixed":
                out.append(fixed)
            elif mode == "free":
                out.append(packer.unpack(chunk))
            else:
                out.append(self.reparam.apply(group, packer.unpack(chunk), state, self.space.temperature))
        return out

    def images(self, p: torch.Tensor) -> torch.Tensor:
        return self.space.render(self.latents(p))

    def penalty(self, p: torch.Tensor) -> torch.Tensor:
        if type(self.reparam).penalty is Reparam.penalty:  # no penalty: the latents (layers) need not run again
            return p.new_zeros(p.shape[0])
        parts = self.latents(p)
        terms = [self.reparam.penalty(lat, self.space) for lat, mode in zip(parts, self.modes) if mode != "fixed"]
        terms = [t for t in terms if t is not None]
        return sum(terms) if terms else p.new_zeros(p.shape[0])

    def latent(self, p: torch.Tensor) -> torch.Tensor:
        """Return the first group's latent over the temperature as ``[B, n, d]`` (N(0, 1) when typical)."""
        return self.space.groups[0].to_matrix(self.latents(p)[0]) / self.space.temperature


class Raw(Reparam):
    """Bora et al.: the latent is the parameter; penalty ``β‖z‖²`` (StyleGAN2) or ``β·(−log p(z))``.

    For Glow, ``−log p`` is the standard normal's ``½‖z‖²/T²`` up to a constant, so both are
    ``β‖z‖²``-type penalties on the optimised (non-fixed) latents; β = 0 is the plain formulation.
    """

    def __init__(self, beta: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        if not beta >= 0:
            raise ValueError(f"beta must be ≥ 0, got {beta!r}")
        self.beta = float(beta)

    def penalty(self, latents, space):
        if self.beta == 0:
            return None
        sq = sum(t.flatten(1).square().sum(1) for t in latents)
        is_glow = space.groups[0].kind == "glow"
        return self.beta * (0.5 * sq / space.temperature**2 if is_glow else sq)


class Spherical(Reparam):
    """Spherical constraint: a latent ``z`` is used as ``T · z/‖z‖ · √numel(z)``.

    joint: False (default) normalises each tensor on its own (every Glow level, every noise map;
    the studies' protocol 1); True a group's tensors together (all Glow levels, all patched noise
    maps), as the authors' code and the studies' protocol 2.
    """

    def __init__(self, *, joint: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.joint = bool(joint)

    def apply(self, group, params, state, scale):
        if not self.joint:
            return [scale * spherical(t) for t in params]
        flat = spherical(torch.cat([t.flatten(1) for t in params], 1))
        return [scale * c.reshape(t.shape) for c, t in zip(flat.split([t[0].numel() for t in params], 1), params)]


class Gaussianized(Reparam):
    """The paper's Gaussianization layers: patches → ICA, Yeo-Johnson, Lambert, standardise → fold.

    layers: a preset of ``gausslib.layers.PRESETS`` (``"full"``, ``"ica+yj"``, …) or keyword
    options of :class:`gausslib.layers.GaussianizationLayers` (e.g. ``dict(steps="ica+yj")``, or
    the flags ``dict(ica=True, yeo_johnson=True, lambert=False)``). roll: apply a second set
    of layers on patches shifted by half a patch (paper App. J.4). psize / noise_psize / layout:
    the patch sizes (see :class:`Reparam`). The output is standardised and scaled by the
    temperature (1 for StyleGAN2, 0.7 for Glow). layer_dtype: precision of the layers (default
    float64, as the authors' code; None: the latent's). In float32 the whitening + FastICA map is
    rough at the 1e-3 relative level, enough to make strong-Wolfe line searches fail; the patch
    matrices are small, so float64 layers cost little next to the generator.
    """

    def __init__(self, layers: str | dict | None = None, roll: bool = False,
                 layer_dtype: torch.dtype | None = torch.float64, **kwargs):
        super().__init__(**kwargs)
        options = {"steps": layers} if isinstance(layers, str) else dict(layers or {})
        self.layer_options, self.roll, self.layer_dtype = options, bool(roll), layer_dtype
        bad = {"temperature", "roll", "patch_size"} & set(self.layer_options)
        if bad:
            raise ValueError(f"layers must not set {sorted(bad)}: they come from the latent space and roll")
        self._stacks: dict[float, GaussianizationLayers] = {}

    def _stack(self, temperature: float) -> GaussianizationLayers:
        if temperature not in self._stacks:
            self._stacks[temperature] = GaussianizationLayers(**self.layer_options, temperature=temperature)
        return self._stacks[temperature]

    def _gaussianize(self, X: torch.Tensor, scale: float) -> torch.Tensor:
        dtype = self.layer_dtype or X.dtype
        return self._stack(scale)(X.to(dtype)).to(X.dtype)

    def apply(self, group, params, state, scale):
        out = group.from_matrix(self._gaussianize(group.to_matrix(params), scale))
        if self.roll:
            out = group.from_matrix(self._gaussianize(group.to_matrix(out, roll=True), scale), roll=True)
        return out


class Orthogonal(Reparam):
    """Orthogonal (Cayley) reparameterisation (paper App. H): fixed Gaussian patches ``X0``, latent
    patches ``T · X0 Qᵀ`` with ``Q = cayley(A)``; only ``A: [d, d]`` (init 0) is optimised."""

    def init_params(self, group, draws, scale):
        X0 = group.to_matrix(draws)
        d = X0.shape[-1]
        return [X0.new_zeros(X0.shape[0], d, d)], X0

    def apply(self, group, params, state, scale):
        Q = cayley(params[0])
        return group.from_matrix(scale * state @ Q.transpose(-1, -2))


class Mixed(Reparam):
    """StyleGAN2's style vectors by one reparameterisation and its patched noise maps by another (paper
    Table 5's "g/o": ``Mixed(Gaussianized(), Orthogonal())``, and "o/g"). Maps smaller than a noise patch
    stay free, as for every reparameterisation. Both parts take the latent-space options of ``style``
    and may not have a penalty (a penalty sees one group's latents without knowing which part owns them).
    """

    def __init__(self, style: Reparam, noise: Reparam):
        for name, part in (("style", style), ("noise", noise)):
            if not isinstance(part, Reparam) or isinstance(part, Mixed):
                raise TypeError(f"{name} must be a Reparam other than Mixed, got {type(part).__name__}")
            if type(part).penalty is not Reparam.penalty:
                raise ValueError(f"{name}: {type(part).__name__} has a penalty; Mixed takes reparameterisations "
                                 "without one (Spherical, Gaussianized, Orthogonal)")
        if style.space_options != noise.space_options:
            raise ValueError(f"style and noise must share the latent-space options, got {style.space_options} "
                             f"and {noise.space_options}")
        super().__init__(noise="reparam", **style.space_options)
        self.style, self.noise_part = style, noise

    def bind(self, generator, seeds):
        if getattr(generator, "family", None) != "stylegan2":
            raise TypeError(f"generator: Mixed needs a StyleGAN2 (style vectors and noise maps), got "
                            f"{type(generator).__name__} with family {getattr(generator, 'family', None)!r}")
        return super().bind(generator, seeds)

    def _part(self, group: Group) -> Reparam:
        return self.noise_part if group.kind == "noise" else self.style

    def init_params(self, group, draws, scale):
        return self._part(group).init_params(group, draws, scale)

    def apply(self, group, params, state, scale):
        return self._part(group).apply(group, params, state, scale)
