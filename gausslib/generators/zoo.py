"""Shipped generator weights: load by name with SHA-256 verification, export from a training run.

A weights file is a ``torch.save`` dict ``{"kind": "stylegan2"|"glow", "config": {...},
"state_dict": {...}, "meta": {...}}``: the config rebuilds the architecture, so a file is
self-contained. A StyleGAN2 config with ``"arch": "official"`` builds
:mod:`gausslib.generators.stylegan2`; one without (the first shipped weights) builds
:mod:`gausslib.generators.stylegan2_lite`. ``data/weights/checksums.json`` maps each shipped name
to its file and SHA-256; several names may share one file (an alias).

Every file is read with ``torch.load(weights_only=True)``: tensors and plain containers only, so a
crafted file cannot run code while it is loaded; a file that would need arbitrary code is refused
(:func:`read_payload`). A file whose name is that of a shipped file is checked against its SHA-256
wherever it lies.

Where weights are found (:func:`search_path`, first match wins, so a name in an earlier folder
shadows the same name later):

1. ``$GAUSSLIB_WEIGHTS``, when set (an empty value is an error, never the working directory);
2. the repository's ``data/weights``, when the package runs from a source checkout (an editable
   install or ``PYTHONPATH``);
3. the installed package's copy, ``gausslib/_weights`` (the shipped ``*.pt`` and ``*.json`` files,
   package data mapped from ``data/weights`` at build time; see ``pyproject.toml``);
4. a user cache, ``$XDG_CACHE_HOME/gausslib/weights`` (default ``~/.cache/gausslib/weights``), for
   weights added by hand.

Each folder holds its own ``checksums.json``. A name found nowhere raises a ``ValueError`` that lists
every folder searched and what each held.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
from pathlib import Path

import torch
from torch import nn
from torch.torch_version import TorchVersion

from gausslib.files import atomic_write

ENV_VAR = "GAUSSLIB_WEIGHTS"
_PACKAGE = Path(__file__).resolve().parents[1]
CHECKSUMS = "checksums.json"
PAYLOAD_KEYS = ("kind", "config", "state_dict", "meta")
# The shipped payloads record torch.__version__ in their meta, a str subclass: the one global that a
# weights file may need besides tensors and plain containers.
_SAFE_GLOBALS = [TorchVersion]


def sha256(path: Path) -> str:
    """Returns the hex SHA-256 of the file at ``path``."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def user_cache_dir() -> Path:
    """Returns the user's weights folder, ``$XDG_CACHE_HOME/gausslib/weights`` (default ``~/.cache/gausslib/weights``)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gausslib" / "weights"


def search_path() -> list[Path]:
    """Returns the folders searched for weights by name, in order (see the module docstring).

    Raises ``ValueError`` when ``GAUSSLIB_WEIGHTS`` is set but empty.
    """
    dirs = []
    env = os.environ.get(ENV_VAR)
    if env is not None:
        if not env.strip():
            raise ValueError(f"{ENV_VAR} is set but empty: set it to a folder holding {CHECKSUMS}, or unset it "
                             "to search the default folders")
        dirs.append(Path(env).expanduser())
    # In site-packages the folder above the package is not ours: only a checkout has our pyproject.toml.
    checkout = _PACKAGE.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "data" / "weights").is_dir():
        dirs.append(checkout / "data" / "weights")
    return dirs + [_PACKAGE / "_weights", user_cache_dir()]


def _folders(weights_dir: Path | None) -> list[Path]:
    return search_path() if weights_dir is None else [Path(weights_dir)]


def _where(folders: list[Path]) -> str:
    """Returns what each searched folder held, for error messages."""
    def held(d: Path) -> str:
        if not d.is_dir():
            return "missing"
        return f"{len(checksums(d))} names" if (d / CHECKSUMS).is_file() else f"no {CHECKSUMS}"
    return "; ".join(f"{d} ({held(d)})" for d in folders)


def __getattr__(name: str):
    # WEIGHTS_DIR is computed on access, so that importing the package never fails on the environment.
    if name == "WEIGHTS_DIR":
        return weights_home()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def weights_home() -> Path:
    """Returns the folder that exports write to and ``zoo.WEIGHTS_DIR`` names: ``$GAUSSLIB_WEIGHTS`` when
    set, else the first folder of :func:`search_path` that holds a ``checksums.json``.

    Raises ``FileNotFoundError`` listing the folders searched when none does.
    """
    folders = search_path()
    if os.environ.get(ENV_VAR):
        return folders[0]
    for d in folders:
        if (d / CHECKSUMS).is_file():
            return d
    raise FileNotFoundError(f"no generator weights found: searched {_where(folders)}. Set {ENV_VAR} to a folder "
                            f"holding {CHECKSUMS}, or reinstall gausslib (the wheel ships the weights)")


def checksums(weights_dir: Path | None = None) -> dict[str, dict]:
    """Returns ``{name: {"file": ..., "sha256": ...}}`` recorded in ``weights_dir/checksums.json``.

    ``weights_dir=None``: the tables of every folder of :func:`search_path`, merged (first folder wins).
    """
    if weights_dir is None:
        return {name: entry for _, name, entry in _entries(None)[::-1]}
    path = Path(weights_dir) / CHECKSUMS
    return json.loads(path.read_text()) if path.exists() else {}


def _entries(weights_dir: Path | None) -> list[tuple[Path, str, dict]]:
    """Returns ``(folder, name, entry)`` for every recorded name, in search order."""
    return [(d, name, entry) for d in _folders(weights_dir) for name, entry in checksums(d).items()]


def available(weights_dir: Path | None = None) -> list[str]:
    """Returns the names of the shipped models (in every folder of the search path when ``weights_dir`` is ``None``)."""
    return sorted(checksums(weights_dir))


def stylegan2_module(config: dict):
    """Returns the module (``stylegan2`` or ``stylegan2_lite``) whose classes build a StyleGAN2 ``config``."""
    from gausslib.generators import stylegan2, stylegan2_lite

    return stylegan2 if config.get("arch") == stylegan2.ARCH else stylegan2_lite


def build(payload: dict) -> nn.Module:
    """Returns the model described by a weights payload (architecture from its config, weights loaded)."""
    from gausslib.generators.glow import Glow, GlowConfig

    kind = payload.get("kind")
    if kind == "stylegan2":
        mod = stylegan2_module(payload["config"])
        model = mod.Generator(mod.StyleGAN2Config(**payload["config"]))
    elif kind == "glow":
        model = Glow(GlowConfig(**payload["config"]))
    else:
        raise ValueError(f"weights payload kind must be 'stylegan2' or 'glow', got {kind!r}")
    model.load_state_dict(payload["state_dict"])
    model.meta = payload.get("meta", {})
    return model


def resolve(name_or_path: str | Path, weights_dir: Path | None = None) -> tuple[Path, str | None]:
    """Returns ``(file, expected sha256 or None)`` for a shipped name or a file path.

    A name is looked up in ``weights_dir``, or along :func:`search_path` when ``None``. A path whose
    file name is that of a shipped file expects that file's SHA-256, in any folder: a copy of shipped
    weights is checked like the original.
    """
    entries = _entries(weights_dir)
    for folder, name, entry in entries:
        if name == str(name_or_path):
            return folder / entry["file"], entry["sha256"]
    path = Path(name_or_path)
    if path.suffix in (".pt", ".pkl") or path.exists():
        by_file = {e["file"]: e["sha256"] for _, _, e in entries[::-1]}
        return path, by_file.get(path.name)
    raise ValueError(f"unknown generator {str(name_or_path)!r}: expected one of {sorted({n for _, n, _ in entries})} "
                     f"or a path to a .pt file (or an official StyleGAN2 .pkl); searched {_where(_folders(weights_dir))}")


def safe_load(path: str | Path):
    """Returns what ``torch.save`` wrote to ``path``, read without executing anything from the file.

    ``torch.load(weights_only=True)`` unpickles tensors and plain containers only. A file that needs
    any other global (a pickled class, a function: what a crafted or foreign checkpoint holds) is
    refused with a ``ValueError`` before any of its code could run.
    """
    try:
        with torch.serialization.safe_globals(_SAFE_GLOBALS):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        reason = str(err).split("WeightsUnpickler error:")[-1].strip().splitlines()[0]
        raise ValueError(f"{path} is not a plain weights file: loading it would need arbitrary code "
                         f"({reason}); refused. Export weights with `python -m gausslib.train export`.") from err


def read_payload(path: str | Path) -> dict:
    """Returns the payload dict ``{kind, config, state_dict, meta}`` of a weights file (:func:`safe_load`)."""
    payload = safe_load(path)
    if not isinstance(payload, dict) or not set(PAYLOAD_KEYS[:3]) <= set(payload):
        raise ValueError(f"{path} is not a gausslib weights file: expected a dict with keys "
                         f"{list(PAYLOAD_KEYS)}, got {type(payload).__name__}"
                         + (f" with keys {sorted(payload)}" if isinstance(payload, dict) else ""))
    return payload


def load(name_or_path: str | Path, device: str | torch.device = "cpu", weights_dir: Path | None = None) -> nn.Module:
    """Returns a frozen eval-mode generator on ``device``: a shipped name (checksum-verified) or a file.

    Names are looked up in ``weights_dir``, or along the search path when ``None`` (``zoo.search_path()``).

    A ``.pkl`` file is an official StyleGAN2 pickle, read by ``gausslib.generators.load_official``.
    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` for a checksum mismatch (both
    name the file and the expected SHA-256) or for a file that is not a plain weights payload.
    """
    path, expected = resolve(name_or_path, weights_dir)
    if not path.exists():
        if expected is None:
            raise FileNotFoundError(f"generator weights {path} not found")
        raise FileNotFoundError(f"generator weights {path} not found (expected sha256 {expected}); "
                                "run `make train` to reproduce them")
    if expected is not None:
        actual = sha256(path)
        if actual != expected:
            raise ValueError(f"checksum mismatch for {path}: expected sha256 {expected}, got {actual} "
                             "(corrupted or replaced file; restore it from git, or give your own weights "
                             "a name other than a shipped file's)")
    if path.suffix == ".pkl":  # NVlabs' own StyleGAN2 pickles
        from gausslib.generators.official import load_official

        return load_official(path, device)
    model = build(read_payload(path))
    return model.to(device).eval().requires_grad_(False)


def export(src: Path, name: str, weights_dir: Path | None = None) -> Path:
    """Writes a run's exportable weights ``src`` to ``weights_dir/name.pt`` (default :func:`weights_home`)
    and records its SHA-256."""
    payload = read_payload(src)
    build(payload)  # refuse to ship a file that does not rebuild
    weights_dir = weights_home() if weights_dir is None else Path(weights_dir)
    weights_dir.mkdir(parents=True, exist_ok=True)
    dst = weights_dir / f"{name}.pt"
    slim = {k: payload[k] for k in PAYLOAD_KEYS}
    log = Path(src).parent / "log.jsonl"
    if log.exists():
        from gausslib.viz import plot_log

        rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        slim["meta"] = {**slim["meta"], "log_tail": [r for r in rows if "step" in r][-3:]}
        plot_log(rows, weights_dir / f"{name}-losses.png")
    slim["state_dict"] = {k: v.float() if v.is_floating_point() else v for k, v in slim["state_dict"].items()}
    table = checksums(weights_dir)
    with atomic_write(dst) as tmp:
        torch.save(slim, tmp)
        # Another name sharing this file (an alias) must not silently change model: only a bit-identical
        # re-export may replace it.
        others = sorted(n for n, e in table.items() if e["file"] == dst.name and n != name)
        if others and sha256(tmp) != table[others[0]]["sha256"]:
            raise ValueError(f"{dst} holds the weights of {others}: exporting other weights as {name!r} would "
                             "replace them; point those names at another file in checksums.json first")
    table[name] = {"file": dst.name, "sha256": sha256(dst)}
    (weights_dir / CHECKSUMS).write_text(json.dumps(table, indent=2, sort_keys=True) + "\n")
    print(f"exported {src} -> {dst} (sha256 {table[name]['sha256']})")
    return dst
