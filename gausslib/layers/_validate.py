"""Input checks shared by the layers (shapes and dtypes only: no host sync on tensor values)."""
from __future__ import annotations

import contextlib
import functools

import torch

_HALF = (torch.float16, torch.bfloat16)


def check_patches(X, name: str = "X") -> None:
    """Raise unless ``X`` is a floating tensor of shape ``[B, n, d]`` with ``n >= d``."""
    if not isinstance(X, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape [B, n, d], got {type(X).__name__}")
    if X.dim() != 3:
        raise ValueError(f"{name} must have shape [B, n, d], got {tuple(X.shape)}")
    if not X.is_floating_point():
        raise TypeError(f"{name} must be a floating tensor, got dtype {X.dtype}")
    B, n, d = X.shape
    if n < d:
        raise ValueError(f"{name} of shape {tuple(X.shape)} = [B, n, d] has n={n} < d={d}; the layers need n >= d "
                         "(use a smaller patch size)")


def check_count(value, name: str, least: int) -> None:
    """Raise unless ``value`` is an int ``>= least`` (a count of iterations or rounds, a patch size)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ValueError(f"{name} must be an int >= {least}, got {value!r}")


def _cast(out, dtype: torch.dtype):
    if isinstance(out, torch.Tensor):
        return out.to(dtype)
    if isinstance(out, tuple):
        items = [_cast(o, dtype) for o in out]
        return type(out)(*items) if hasattr(out, "_fields") else tuple(items)  # named tuples keep their type
    return out


def _is_half(a) -> bool:
    return isinstance(a, torch.Tensor) and a.dtype in _HALF


def float32_for_half(fn):
    """Run ``fn`` in float32 when a tensor argument is float16/bfloat16; cast its tensor outputs
    (nested tuples too) back to that dtype.

    eigh has no half kernels, and the root solvers' brackets (``finfo.max``), the covariance and the
    moments need float32's range and digits. The casts are differentiable.
    """
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        half = next((a.dtype for a in (*args, *kwargs.values()) if _is_half(a)), None)
        if half is None:
            return fn(*args, **kwargs)
        args = [a.float() if _is_half(a) else a for a in args]
        kwargs = {k: a.float() if _is_half(a) else a for k, a in kwargs.items()}
        return _cast(fn(*args, **kwargs), half)
    return wrapper


@contextlib.contextmanager
def explain_eigh_failure(X: torch.Tensor, name: str = "X"):
    """Re-raise an eigh failure inside the block as a ValueError when ``X`` is not finite.

    LAPACK reports NaN/Inf input as "failed to converge ... ill-conditioned"; the values are read
    only once eigh has failed, so the hot path gains no host sync.
    """
    try:
        yield
    except torch.linalg.LinAlgError as err:
        if not torch.isfinite(X).all():
            raise ValueError(f"{name} has NaN or Inf entries; the whitening/ICA layers need finite input") from err
        raise
