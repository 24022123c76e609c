"""The Gaussianization stack with ablation flags: whitening → FastICA → Yeo-Johnson → Lambert → standardise."""
from __future__ import annotations

import torch
from torch import nn

from ..patches import patchify, unpatchify
from ._validate import check_count, check_patches, float32_for_half
from .ica import fastica
from .lambert import lambert_gaussianize
from .standardize import standardize as _standardize
from .whiten import iterative_whiten, zca_whiten
from .yeojohnson import yeo_johnson as _yeo_johnson

__all__ = ["GaussianizationLayers"]

_WHITEN = {True: "zca", "zca": "zca", "iterative": "iterative", False: None, None: None}
_ICA = {True: "paper", "paper": "paper", "newton": "newton", False: None, None: None}


class GaussianizationLayers(nn.Module):
    """Gaussianize a latent: patches ``[B, n, d]`` → whitening, ICA, YJ, Lambert, standardisation.

    Flags: ``whiten`` (``True``/``"zca"``, ``"iterative"``, ``False``), ``ica`` (``True``/``"paper"``,
    ``"newton"``, ``False``), ``yeo_johnson``, ``lambert``, ``standardize`` (bools),
    ``temperature`` (scales the standardised output; 1.0 StyleGAN2, 0.7 Glow).
    Without ``patch_size`` the input is a patch matrix ``[B, n, d]``; with it the input is a latent
    (``[B, k, L]``, ``[B, C, H, W]`` or a list of maps) that is patchified and folded back.
    ``roll=True`` applies a second set of layers to patches shifted by half a patch (App. J.4);
    a patch matrix is then read as the consecutive chunks of the flat vector ``[B, 1, n·d]``.
    ``decorrelation`` (``"eigh"`` or ``"newton_schulz"``) picks the FastICA polar step. On CUDA,
    ``torch.linalg.eigh`` synchronises with the host to check LAPACK errors; ``whiten="iterative"``
    with ``decorrelation="newton_schulz"`` avoids every eigen-decomposition.
    ``compile=True`` runs the Yeo-Johnson and Lambert root solvers through ``torch.compile``
    (much faster once compiled; the first call per shape compiles for tens of seconds).
    After each call ``self.last`` holds the detached parameters of the last set (``W``, ``lam``,
    ``mu``, ``sigma``, ``delta``, each per item). float16/bfloat16 input is Gaussianized in float32
    (``self.last`` too) and the output cast back.
    """

    def __init__(self, whiten=True, ica=True, yeo_johnson: bool = True, lambert: bool = True,
                 standardize: bool = True, temperature: float = 1.0, roll: bool = False,
                 patch_size: int | None = None, ica_iters: int = 10, eps: float = 1e-3, compile: bool = False,
                 decorrelation: str = "eigh"):
        super().__init__()
        if whiten not in _WHITEN:
            raise ValueError(f"whiten must be True, False, 'zca' or 'iterative', got {whiten!r}")
        if ica not in _ICA:
            raise ValueError(f"ica must be True, False, 'paper' or 'newton', got {ica!r}")
        check_count(ica_iters, "ica_iters", 0)
        self.whiten, self.ica = _WHITEN[whiten], _ICA[ica]
        self.yeo_johnson, self.lambert, self.standardize = yeo_johnson, lambert, standardize
        self.temperature, self.roll, self.patch_size = temperature, roll, patch_size
        self.ica_iters, self.eps, self.compile, self.decorrelation = ica_iters, eps, compile, decorrelation
        self.last: dict[str, torch.Tensor] = {}

    @float32_for_half
    def gaussianize(self, X: torch.Tensor) -> torch.Tensor:
        """Return the Gaussianized patches ``[B, n, d]`` of ``X: [B, n, d]`` (one set of layers)."""
        check_patches(X)
        last = {}
        if self.ica:
            X, last["W"] = fastica(X, self.ica_iters, update=self.ica, whiten=self.whiten, eps=self.eps,
                                   decorrelation=self.decorrelation)
        elif self.whiten == "zca":
            X = zca_whiten(X, self.eps)
        elif self.whiten == "iterative":
            X = iterative_whiten(X, self.eps)
        if self.yeo_johnson:
            X, last["lam"] = _yeo_johnson(X, compile=self.compile)
        if self.lambert:
            X, (last["mu"], last["sigma"], last["delta"]) = lambert_gaussianize(X, compile=self.compile)
        if self.standardize:
            X = _standardize(X, self.temperature)
        self.last = {k: v.detach() for k, v in last.items()}
        return X

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
        return (f"whiten={self.whiten}, ica={self.ica}, yeo_johnson={self.yeo_johnson}, lambert={self.lambert}, "
                f"standardize={self.standardize}, temperature={self.temperature}, roll={self.roll}, "
                f"patch_size={self.patch_size}")
