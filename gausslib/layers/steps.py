"""The layer protocol: every step maps patches ``X: [B, n, d]`` to ``(Y: [B, n, d], params)``.

``params`` is a named tuple of the quantities the step solved per batch item (detach them to
keep them). A step is a small callable object; :class:`GaussianizationLayers` chains a list of
them. Adding a layer is one step class here plus its name in :data:`STEPS`.

=================  ======================================  ============================================
step               what it does                            params
=================  ======================================  ============================================
``"whiten"``       centre, ``Y = X_c C^{-1/2}``            :class:`WhitenParams` ``(M: [B, d, d])``
``"ica"``          FastICA rotation ``Y = X W``            :class:`ICAParams` ``(W: [B, d, d])``
``"yeo_johnson"``  ``ψ(λ*, X)``                            :class:`YeoJohnsonParams` ``(lam: [B])``
``"lambert"``      Lambert W × F_X inverse                 :class:`LambertParams` ``(mu, sigma, delta)``
``"standardize"``  ``T (X − mean)/(std + eps)``            :class:`StandardizeParams` ``(mean, std)``
=================  ======================================  ============================================
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from ._validate import check_count, float32_for_half
from .ica import fastica
from .lambert import lambert_gaussianize
from .standardize import moments, standardize
from .whiten import iterative_whiten, zca_whiten
from .yeojohnson import yeo_johnson

__all__ = ["WhitenParams", "ICAParams", "YeoJohnsonParams", "LambertParams", "StandardizeParams", "Step",
           "Whiten", "ICA", "YeoJohnson", "Lambert", "Standardize", "STEPS"]


class WhitenParams(NamedTuple):
    """``M: [B, d, d]``, the inverse square root of the (blended) covariance: ``Y = (X − mean) M``."""

    M: torch.Tensor


class ICAParams(NamedTuple):
    """``W: [B, d, d]``, the orthogonal unmixing matrix: ``Y = X W``."""

    W: torch.Tensor


class YeoJohnsonParams(NamedTuple):
    """``lam: [B]``, the maximum-likelihood Yeo-Johnson power."""

    lam: torch.Tensor


class LambertParams(NamedTuple):
    """``mu``, ``sigma``, ``delta``: each ``[B]``, the location, scale and tail parameter of Lambert W × F_X."""

    mu: torch.Tensor
    sigma: torch.Tensor
    delta: torch.Tensor


class StandardizeParams(NamedTuple):
    """``mean``, ``std``: each ``[B]``, over all entries of the input."""

    mean: torch.Tensor
    std: torch.Tensor


class Step:
    """Base class: ``step(X: [B, n, d]) -> (Y: [B, n, d], params)``; ``name`` is its key in ``STEPS``."""

    name = ""

    def __call__(self, X: torch.Tensor):
        raise NotImplementedError

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({options})"


class Whiten(Step):
    """ZCA whitening (``method="zca"``, eigh) or its Newton–Schulz approximation (``"iterative"``)."""

    name = "whiten"

    def __init__(self, method: str = "zca", eps: float = 1e-3):
        if method not in ("zca", "iterative"):
            raise ValueError(f"method must be 'zca' or 'iterative', got {method!r}")
        self.method, self.eps = method, eps

    def __call__(self, X):
        whiten = zca_whiten if self.method == "zca" else iterative_whiten
        Y, M = whiten(X, self.eps, return_matrix=True)
        return Y, WhitenParams(M)


class ICA(Step):
    """FastICA on already white patches: ``update`` ``"paper"`` or ``"newton"``, ``iters`` steps, the
    polar step by ``decorrelation`` (``"eigh"`` or ``"newton_schulz"``)."""

    name = "ica"

    def __init__(self, update: str = "paper", iters: int = 10, decorrelation: str = "eigh"):
        if update not in ("paper", "newton"):
            raise ValueError(f"update must be 'paper' or 'newton', got {update!r}")
        check_count(iters, "ica_iters", 0)
        self.update, self.iters, self.decorrelation = update, iters, decorrelation

    def __call__(self, X):
        Y, W = fastica(X, self.iters, update=self.update, whiten=None, decorrelation=self.decorrelation)
        return Y, ICAParams(W)


class _Solved(Step):
    """A layer whose parameters come from a root solver; ``compile``: run it through ``torch.compile``."""

    def __init__(self, compile: bool = False):
        self.compile = compile


class YeoJohnson(_Solved):
    """The Yeo-Johnson layer (λ* per item)."""

    name = "yeo_johnson"

    def __call__(self, X):
        Y, lam = yeo_johnson(X, compile=self.compile)
        return Y, YeoJohnsonParams(lam)


class Lambert(_Solved):
    """The Lambert W × F_X layer (μ, σ, δ* per item)."""

    name = "lambert"

    def __call__(self, X):
        Y, params = lambert_gaussianize(X, compile=self.compile)
        return Y, LambertParams(*params)


class Standardize(Step):
    """Standardisation to mean 0, standard deviation ``temperature`` per item."""

    name = "standardize"

    def __init__(self, temperature: float = 1.0):
        self.temperature = temperature

    @float32_for_half
    def __call__(self, X):
        return standardize(X, self.temperature), StandardizeParams(*moments(X))


STEPS = {cls.name: cls for cls in (Whiten, ICA, YeoJohnson, Lambert, Standardize)}
