"""Forward operators of the paper's inverse problems: CS-MRI, Gaussian deblurring, eikonal tomography.

Each operator is an ``nn.Module``: ``op(x)`` is the forward, ``op.adjoint(y)`` the adjoint of a
linear one; masks and kernels are buffers, so ``op.to(device)`` moves them.
"""
from gausslib.operators.blur import GaussianBlur, add_gaussian_noise, gaussian_kernel, mismatched_blur
from gausslib.operators.eikonal import (
    Eikonal,
    add_traveltime_noise,
    eikonal_solve,
    paper_acquisition,
    ray_coverage,
)
from gausslib.operators.mri import MRI, add_complex_noise, mri_mask, snr_db

__all__ = [
    "MRI",
    "mri_mask",
    "add_complex_noise",
    "snr_db",
    "GaussianBlur",
    "gaussian_kernel",
    "add_gaussian_noise",
    "mismatched_blur",
    "Eikonal",
    "eikonal_solve",
    "paper_acquisition",
    "add_traveltime_noise",
    "ray_coverage",
]
