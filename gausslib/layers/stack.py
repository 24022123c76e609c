"""The Gaussianization stack: a list of steps (whitening → FastICA → Yeo-Johnson → Lambert → standardise).

``PRESETS`` names the stacks of the paper's ablation (Table 2) in one table; the study, the
pathological-latent figure and the benchmarks build their stacks from it.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..patches import patchify, unpatchify
from ._validate import check_count, check_patches, float32_for_half
from .steps import ICA, STEPS, Lambert, Standardize, Step, Whiten, YeoJohnson

__all__ = ["GaussianizationLayers", "PRESETS", "ABLATION", "TABLE2_ROWS", "preset_flags"]

PRESETS = {
    "full": ("whiten", "ica", "yeo_johnson", "lambert", "standardize"),
    "zca": ("whiten", "standardize"),
    "ica": ("whiten", "ica", "standardize"),
    "ica+yj": ("whiten", "ica", "yeo_johnson", "standardize"),
    "ica+lambert": ("whiten", "ica", "lambert", "standardize"),
    # one 1D layer alone: the authors' whitening belongs to their ICA layer, so these rows have neither
    "yj": ("yeo_johnson", "standardize"),
    "lambert": ("lambert", "standardize"),
    "yj+lambert": ("yeo_johnson", "lambert", "standardize"),   # Table 9 only
}
ABLATION = ("zca", "ica", "ica+yj", "ica+lambert")  # the first version's Table 2 rows besides the full stack
TABLE2_ROWS = ABLATION + ("yj", "lambert")         # every row of the paper's Table 2 besides the full stack

_WHITEN = {True: "zca", "zca": "zca", "iterative": "iterative", False: None, None: None}
_ICA = {True: "paper", "paper": "paper", "newton": "newton", False: None, None: None}


def preset_flags(name: str) -> dict[str, bool]:
    """Return ``{"ica", "yeo_johnson", "lambert"}`` on/off for preset ``name`` (the study records'
    description of a stack; standardisation is on in every preset), with ``"whiten": False`` added for
    the presets without whitening (``"yj"``, ``"lambert"``, ``"yj+lambert"``)."""
    if name not in PRESETS:
        raise ValueError(f"layers must be one of {tuple(PRESETS)}, got {name!r}")
    flags = {k: k in PRESETS[name] for k in ("ica", "yeo_johnson", "lambert")}
    # "whiten" only where it is off, so that the records of the first presets keep their keys
    return flags if "whiten" in PRESETS[name] else {**flags, "whiten": False}


class GaussianizationLayers(nn.Module):
    """Gaussianize a latent: patches ``[B, n, d]`` through a list of steps (``gausslib.layers.steps``).

    ``steps``: a preset name of ``PRESETS`` (``"full"``, ``"ica+yj"``, …), or a list of step
    names and :class:`Step` objects. Named steps take the options
    ``whiten`` (``"zca"`` or ``"iterative"`` when given as a string), ``ica_iters``, ``eps``
    (covariance blend), ``decorrelation`` (``"eigh"`` or ``"newton_schulz"``: the FastICA polar
    step), ``compile`` (the Yeo-Johnson and Lambert root solvers through ``torch.compile``: much
    faster once compiled, tens of seconds per new shape) and ``temperature`` (scales the
    standardised output; 1.0 StyleGAN2, 0.7 Glow).

    Without ``steps``, the flags of the first version choose them: ``whiten`` (``True``/``"zca"``,
    ``"iterative"``, ``False``), ``ica`` (``True``/``"paper"``, ``"newton"``, ``False``),
    ``yeo_johnson``, ``lambert``, ``standardize`` (bools).

    Without ``patch_size`` the input is a patch matrix ``[B, n, d]``; with it the input is a latent
    (``[B, k, L]``, ``[B, C, H, W]`` or a list of maps) that is patchified and folded back.
    ``roll=True`` applies a second set of steps to patches shifted by half a patch (App. J.4);
    a patch matrix is then read as the consecutive chunks of the flat vector ``[B, 1, n·d]``.
    On CUDA, ``torch.linalg.eigh`` synchronises with the host to check LAPACK errors;
    ``whiten="iterative"`` with ``decorrelation="newton_schulz"`` avoids every eigen-decomposition.
    :meth:`transform` returns one set's ``(Y, params)``; after each call ``self.last`` holds the
    detached params of the last set, flattened (``W``, ``lam``, ``mu``, ``sigma``, ``delta``, …).
    float16/bfloat16 input is Gaussianized in float32 (the params too) and the output cast back.
    """

    def __init__(self, whiten=True, ica=True, yeo_johnson: bool = True, lambert: bool = True,
                 standardize: bool = True, temperature: float = 1.0, roll: bool = False,
                 patch_size: int | None = None, ica_iters: int = 10, eps: float = 1e-3, compile: bool = False,
                 decorrelation: str = "eigh", *, steps: str | Sequence[str | Step] | None = None):
        super().__init__()
        if whiten not in _WHITEN:
            raise ValueError(f"whiten must be True, False, 'zca' or 'iterative', got {whiten!r}")
        if ica not in _ICA:
            raise ValueError(f"ica must be True, False, 'paper' or 'newton', got {ica!r}")
        check_count(ica_iters, "ica_iters", 0)
        flags = dict(whiten=whiten, ica=ica, yeo_johnson=yeo_johnson, lambert=lambert, standardize=standardize)
        if steps is None:
            steps = [name for name, on in flags.items() if on]
        elif not (_WHITEN[whiten] and _ICA[ica] and yeo_johnson is True and lambert is True and standardize is True):
            raise ValueError("pass either steps or the on/off flags (whiten=False, ica=False, yeo_johnson, lambert, "
                             f"standardize), not both; got steps={steps!r} with {flags}")
        options = dict(whiten=_WHITEN[whiten] or "zca", ica=_ICA[ica] or "paper", ica_iters=ica_iters, eps=eps,
                       compile=compile, decorrelation=decorrelation, temperature=temperature)
        self.steps = self._build(PRESETS[steps] if isinstance(steps, str) and steps in PRESETS else steps, options)
        self.temperature, self.roll, self.patch_size = temperature, roll, patch_size
        self.last: dict[str, torch.Tensor] = {}

    @staticmethod
    def _build(steps, o: dict) -> list[Step]:
        if isinstance(steps, str):
            raise ValueError(f"steps must be one of the presets {tuple(PRESETS)} or a list of steps, got {steps!r}")
        make = {"whiten": lambda: Whiten(o["whiten"], o["eps"]),
                "ica": lambda: ICA(o["ica"], o["ica_iters"], o["decorrelation"]),
                "yeo_johnson": lambda: YeoJohnson(o["compile"]), "lambert": lambda: Lambert(o["compile"]),
                "standardize": lambda: Standardize(o["temperature"])}
        out = []
        for s in steps:
            if isinstance(s, Step):
                out.append(s)
            elif s in STEPS:
                out.append(make[s]())
            else:
                raise ValueError(f"steps: unknown step {s!r}; expected Step objects or names of {tuple(STEPS)}")
        return out

    @float32_for_half
    def transform(self, X: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """Return ``(Y: [B, n, d], {step name: params})`` for ``X: [B, n, d]`` (one set of steps)."""
        check_patches(X)
        params = {}
        for step in self.steps:
            X, params[step.name] = step(X)
        return X, params

    def gaussianize(self, X: torch.Tensor) -> torch.Tensor:
        """Return the Gaussianized patches ``[B, n, d]`` of ``X: [B, n, d]`` (one set of steps)."""
        Y, params = self.transform(X)
        self.last = {k: v.detach() for p in params.values() for k, v in p._asdict().items()}
        return Y

    def forward(self, x):
        if self.patch_size is None:
            y = self.gaussianize(x)
            if not self.roll:
                return y
            B, n, d = y.shape
            flat = (B, 1, n * d)
            return unpatchify(self.gaussianize(patchify(y.reshape(flat), d, roll=True)), flat, d, roll=True).reshape(B, n, d)
        p = self.patch_size
        shape = [m.shape for m in x] if isinstance(x, (list, tuple)) else x.shape
        y = unpatchify(self.gaussianize(patchify(x, p)), shape, p)
        if self.roll:
            y = unpatchify(self.gaussianize(patchify(y, p, roll=True)), shape, p, roll=True)
        return y

    def extra_repr(self) -> str:
        return f"steps={self.steps}, roll={self.roll}, patch_size={self.patch_size}"
