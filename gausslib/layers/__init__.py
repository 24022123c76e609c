"""The paper's Gaussianization layers: pure functions on patch matrices ``X: [B, n, d]`` + modules.

The layer protocol (``gausslib.layers.steps``): every step maps ``X`` to ``(Y, params)`` with a
named tuple of its per-item parameters; :class:`GaussianizationLayers` chains steps, by preset
name (``PRESETS``) or as a list.

Every parameter (``W``, ``λ``, ``μ``, ``σ``, ``δ``) is solved per batch item on the input's
device and dtype (float16/bfloat16 input in float32, the outputs cast back), with exact gradients
and no host synchronisation. An empty batch gives empty outputs.
"""
from ..patches import patchify, unpatchify
from .ica import fastica
from .lambert import lambert_gaussianize, lambert_transform, lambert_w_delta, lambertw
from .orthogonal import OrthogonalReparam, cayley
from .stack import ABLATION, PRESETS, TABLE2_ROWS, GaussianizationLayers, preset_flags
from .standardize import moments, spherical, standardize
from .steps import ICA, STEPS, Lambert, Standardize, Step, Whiten, YeoJohnson
from .whiten import inv_sqrtm, iterative_whiten, symmetric_decorrelation, zca_whiten
from .yeojohnson import fit_yeo_johnson, yeo_johnson, yeo_johnson_transform

__all__ = [
    "patchify", "unpatchify", "zca_whiten", "iterative_whiten", "symmetric_decorrelation", "inv_sqrtm",
    "fastica", "yeo_johnson", "fit_yeo_johnson", "yeo_johnson_transform", "lambertw", "lambert_w_delta",
    "lambert_transform", "lambert_gaussianize", "standardize", "spherical", "GaussianizationLayers",
    "OrthogonalReparam", "cayley", "moments", "PRESETS", "ABLATION", "TABLE2_ROWS", "preset_flags", "STEPS", "Step", "Whiten",
    "ICA", "YeoJohnson", "Lambert", "Standardize",
]
