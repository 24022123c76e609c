"""What every problem shares: the target images, the seeds and per-image measurement noise.

Seeds keep targets, noise and inversion starts apart: generator targets use ``TARGET_SEED + id``
(far from the inversion seeds 0, 1, 2, …), measurement noise ``NOISE_SEED + id``, held-out
phantoms ``PHANTOM_SEED + id`` (training uses seeds ≥ 10 000). Every image draws its noise from
its own seed, so a batch of images equals separate runs and a resumed study reproduces a cell.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch

from gausslib import phantoms

__all__ = ["TARGETS", "TARGET_SEED", "NOISE_SEED", "PHANTOM_SEED", "targets", "noise_per_image", "number"]

TARGETS = ("generator", "phantom", "ood")
TARGET_SEED = 1_000_000
NOISE_SEED = 2_000_000
PHANTOM_SEED = 1


def targets(G, kind: str, ids: Sequence[int], size: int) -> torch.Tensor:
    """Return the target images ``[len(ids), C, size, size]`` in [−1, 1] for image ids ``ids``.

    kind: ``"generator"`` (``G.sample`` at the generator's own temperature, seeded by id),
    ``"phantom"`` (held-out phantoms of the kind the generator was trained on: its ``meta["data"]``,
    ``"brain"`` for the first generators, which do not record it) or ``"ood"`` (tumour phantoms).
    """
    if kind not in TARGETS:
        raise ValueError(f"targets must be one of {TARGETS}, got {kind!r}")
    dtype = next(G.parameters()).dtype
    out = []
    for i in ids:
        if kind == "generator":
            with torch.no_grad():
                out.append(G.sample(1, generator=torch.Generator().manual_seed(TARGET_SEED + i)))
        else:
            trained_on = getattr(G, "meta", {}).get("data", "brain")
            out.append(phantoms.sample(1, size=size, seed=PHANTOM_SEED + i,
                                       kind=trained_on if kind == "phantom" else "ood", dtype=dtype))
    return torch.cat(out).clamp(-1, 1)


def noise_per_image(add_noise: Callable[[torch.Tensor, torch.Generator], torch.Tensor], data: torch.Tensor,
                    ids: Sequence[int]) -> torch.Tensor:
    """Return ``data: [N, ...]`` with ``add_noise(row [1, ...], generator)`` applied to row k with the
    generator seeded ``NOISE_SEED + ids[k]``."""
    if len(ids) != data.shape[0]:
        raise ValueError(f"ids must name the {data.shape[0]} images of data, got {len(ids)} ids")
    return torch.cat([add_noise(data[k : k + 1], torch.Generator().manual_seed(NOISE_SEED + i))
                      for k, i in enumerate(ids)])


def number(v: float | None) -> float | int | None:
    """Return v as an int when it is integral (``8`` rather than ``8.0`` in the records)."""
    return int(v) if v is not None and float(v).is_integer() else v
