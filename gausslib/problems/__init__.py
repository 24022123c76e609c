"""The inverse problems of the studies, one module each, and the registry that lists them.

A problem module is a spec that the study CLI, the summaries and the notebooks read:

``NAME``, ``DEFAULT_GENERATOR`` (a shipped generator name), ``TV_GRID`` (TV weights tried on the
validation targets); ``Setting``, a frozen dataclass whose fields, in order, are the record's
``"setting"`` keys (see :func:`record`) and whose defaults are the paper's (``targets`` last: ``"generator"``,
``"phantom"`` or ``"ood"``); ``build(setting, x: [N, C, H, W], ids) -> Problem`` with the
measurement noise of image ``ids[k]`` seeded by its id; ``add_arguments(parser)``, the CLI
options of its settings; ``settings(args, targets) -> list[Setting]``, the settings they ask for; optionally
``tv_start(x_true) -> [N, C, H, W]``, TV's first iterate under protocol 2 where the authors give
one (eikonal: the smoothed truth).

Adding a problem is one module plus one line in ``_MODULES``::

    from gausslib import problems

    spec = problems.get("deblur")
    setting = spec.Setting()                     # σ = 3, noise std 50, phantom targets
    x = problems.targets(G, setting.targets, [0], G.resolution)
    problem = spec.build(setting, x, [0])
"""
from __future__ import annotations

import dataclasses
import importlib
from types import ModuleType

import torch

from gausslib.invert import Problem
from gausslib.problems.common import NOISE_SEED, PHANTOM_SEED, TARGET_SEED, TARGETS, targets

__all__ = ["names", "get", "as_setting", "build", "record", "targets", "TARGETS", "TARGET_SEED", "NOISE_SEED",
           "PHANTOM_SEED"]

_MODULES = {
    "mri": "gausslib.problems.mri",
    "deblur": "gausslib.problems.deblur",
    "eikonal": "gausslib.problems.eikonal",
    "denoise": "gausslib.problems.denoise",
}


def names() -> tuple[str, ...]:
    """Return the registered problem names, in registry order."""
    return tuple(_MODULES)


def get(name: str) -> ModuleType:
    """Return the spec module of problem ``name``."""
    if name not in _MODULES:
        raise ValueError(f"problem must be one of {names()}, got {name!r}")
    return importlib.import_module(_MODULES[name])


def as_setting(name: str, setting):
    """Return ``setting`` (a ``Setting`` or the dict of a record) as problem ``name``'s ``Setting``."""
    cls = get(name).Setting
    if isinstance(setting, cls):
        return setting
    if isinstance(setting, dict):
        fields = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(setting) - set(fields))
        if unknown:
            raise ValueError(f"setting: {unknown} are not settings of problem {name!r}; expected some of {fields}")
        return cls(**setting)
    raise TypeError(f"setting must be a {name} Setting or a dict, got {type(setting).__name__}")


def record(setting) -> dict:
    """Return the ``"setting"`` entry of a record: the fields of ``setting`` in declaration order.

    A field declared with ``metadata={"record": "unless-default"}`` is left out while it holds its default,
    so that adding an option keeps the records (and resume keys) written before it unchanged.
    """
    return {f.name: getattr(setting, f.name) for f in dataclasses.fields(setting)
            if not (f.metadata.get("record") == "unless-default" and getattr(setting, f.name) == f.default)}


def build(name: str, setting, x: torch.Tensor, ids: list[int]) -> Problem:
    """Return problem ``name``'s :class:`Problem` of ``setting`` (``Setting`` or dict) on targets
    ``x: [N, C, H, W]`` with image ids ``ids``."""
    return get(name).build(as_setting(name, setting), x, ids)
