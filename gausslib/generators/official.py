"""Official StyleGAN2 checkpoints (NVlabs), read without NVlabs code, TensorFlow, or running the file.

``load_official(path)`` reads the two pickle formats the official StyleGAN2 generators are published
in and returns the generator (the moving-average copy, ``G_ema`` / ``Gs``) as a frozen
``gausslib.generators.Generator`` (``gausslib.generators.stylegan2``, official semantics):
the config-F layout (config E's generator is the same with other widths), any resolution and
channel plan, with ``w_avg``, the learned noise strengths and the
stored constant noise maps, the learned constant input, the mapping network's learning-rate
multiplier and every tRGB layer. ``gausslib.generators.load`` hands ``.pkl`` paths to it.

**stylegan2-ada-pytorch pickles** (``network-snapshot-*.pkl``, the released FFHQ, AFHQ, MetFaces
and BreCaHAD files; the class-conditional CIFAR-10 one is refused): ``pickle.dump`` of a dict
``{"G", "D", "G_ema", "augment_pipe", "training_set_kwargs"}``. Each network module is an instance
of a class wrapped by ``torch_utils.persistence.persistent_class``, which pickles as the call
``torch_utils.persistence._reconstruct_persistent_obj(meta)``, ``meta`` a dict with

- ``type``: ``"class"``; ``version``: 6;
- ``module_src``: the source text of the module that defined the class (``training/networks.py``),
  which NVlabs' loader executes to recreate the class and this one never does;
- ``class_name``: ``"Generator"``, ``"MappingNetwork"``, ``"SynthesisBlock"``, ...;
- ``state``: the module's ``__dict__``: the ``torch.nn.Module`` internals ``_parameters``,
  ``_buffers`` and ``_modules`` (``collections.OrderedDict``; sub-modules are persistent objects
  again) and the constructor's attributes: ``z_dim``, ``c_dim``, ``w_dim``, ``img_resolution``,
  ``img_channels`` (``Generator``), ``num_layers`` (``MappingNetwork``), ``activation`` and
  ``bias_gain`` (the learning-rate multiplier; ``FullyConnectedLayer``), ``architecture``
  (``SynthesisBlock``), ``use_noise``, ``activation``, ``conv_clamp`` (``SynthesisLayer``), and
  ``_init_args`` / ``_init_kwargs`` (``dnnlib.util.EasyDict``).

A parameter pickles as ``torch._utils._rebuild_parameter(tensor, requires_grad, hooks)`` around
``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)``, and each
storage as ``torch.storage._load_from_bytes(b)``, ``b`` a legacy (non-zip) ``torch.save`` of the
storage, read here with ``torch.load(weights_only=True)``. The dotted parameter names
(``mapping.fc0.weight``, ``synthesis.b64.conv0.affine.bias``, ...) are ours, so the arrays are
copied key by key.

**TensorFlow StyleGAN2 pickles** (``stylegan2-ffhq-config-f.pkl``; the paper's MRI generator
``stylegan2-CompMRIT1T2-config-f.pkl``): ``pickle.dump`` (protocol 4) of the tuple ``(G, D, Gs)``,
each a ``dnnlib.tflib.network.Network`` stored as the dict its ``__getstate__`` returns, with

- ``version``: 4; ``name``: the network's name;
- ``static_kwargs``: the build function's keyword arguments (``resolution``, ``num_channels``,
  ``label_size``, ``fmap_base``, ``architecture``, ...);
- ``components``: the sub-networks by name (``Gs``: ``mapping`` and ``synthesis``);
- ``build_module_src``: the source text of ``training/networks_stylegan2.py``, which NVlabs' loader
  executes to rebuild the TensorFlow graph and this one never does; ``build_func_name``:
  ``G_main``, ``G_mapping`` or ``G_synthesis_stylegan2``;
- ``variables``: the network's own variables, a list of ``(name, array)`` (NumPy arrays; 0-d ones
  as NumPy scalars).

This loader reads the arrays of ``Gs`` and its components. With ``R`` a block resolution and names
prefixed by the component:

- ``dlatent_avg`` → ``mapping.w_avg``; ``mapping/Dense{i}/weight`` ``[in, out]`` →
  ``mapping.fc{i}.weight`` transposed, ``/bias`` → ``.bias``;
- ``synthesis/4x4/Const/const`` ``[1, C, 4, 4]`` → ``synthesis.b4.const`` ``[C, 4, 4]``;
- the convolutions ``synthesis/4x4/Conv`` → ``synthesis.b4.conv1``, ``synthesis/RxR/Conv0_up`` →
  ``synthesis.bR.conv0``, ``synthesis/RxR/Conv1`` → ``synthesis.bR.conv1``, and
  ``synthesis/RxR/ToRGB`` → ``synthesis.bR.torgb``: ``weight`` ``[k, k, in, out]`` → ``weight``
  ``[out, in, k, k]`` (``Conv0_up`` flipped spatially first: TensorFlow's upsampling convolution
  uses the flipped kernel); ``mod_weight`` ``[w_dim, in]`` → ``affine.weight`` transposed;
  ``mod_bias`` → ``affine.bias`` plus 1 (TensorFlow adds the 1 at run time); ``bias`` and
  ``noise_strength`` as stored;
- ``synthesis/noise{i}`` ``[1, 1, R, R]`` → ``noise_const`` ``[R, R]`` of the i-th synthesis layer;
- ``lod`` (the progressive-growing level, unused by config F) is ignored.

In both formats the equalised-learning-rate convention is the same as ours (raw weights, gains
applied at run time, the mapping's multiplier on weights and biases), so values are copied as
stored; the FIR resampling filters are not stored by TensorFlow and are ``[1, 3, 3, 1]`` in all three.

**Safety.** The file is read by a restricted ``pickle.Unpickler``: its ``find_class`` resolves only
data reconstruction (NumPy arrays, dtypes and scalars; the torch tensor, parameter and storage
rebuilders above, each replaced by a checked equivalent of ours; ``collections.OrderedDict``,
``set``, ``frozenset``; ``_codecs.encode`` for Latin-1 bytes) and answers every other name with an
inert stub class that only records what the stream hands it. No function or source text from the
file is ever called or executed. After reading, a file that named any global beyond that allowlist
and the three official structures (``torch_utils.persistence._reconstruct_persistent_obj``,
``dnnlib.tflib.network.Network``, ``dnnlib.util.EasyDict``) is refused with a ``ValueError`` naming
them. Unsupported models (conditional ones, the ``orig`` and ``resnet`` synthesis architectures and the
progressive-growing synthesis of configs B to D, other activations or filters, StyleGAN3, a mapping whose hidden width differs
from ``w_dim``, any parameter without a place here) are refused with a ``ValueError`` naming what
differs, never loaded approximately. One difference is let through with a warning:
stylegan2-ada-pytorch's ``conv_clamp`` (activations clipped to ±256 in its FP16 configurations),
which our generator does not apply.
"""
from __future__ import annotations

import codecs
import collections
import io
import pickle
import re
import warnings
from pathlib import Path

import numpy as np
import torch

from gausslib.generators.stylegan2 import Generator, StyleGAN2Config, resolutions, setup_filter

PERSISTENT = "torch_utils.persistence._reconstruct_persistent_obj"
TF_NETWORK = "dnnlib.tflib.network.Network"
EASYDICT = "dnnlib.util.EasyDict"
OFFICIAL_STRUCTURES = frozenset({PERSISTENT, TF_NETWORK, EASYDICT})
ADA, TF = "stylegan2-ada-pytorch", "stylegan2-tensorflow"


# ----------------------------------------------------------------------------- restricted unpickling
class Stub:
    """An inert stand-in for a global the file names: constructing, building or filling it only records.

    ``args`` / ``kwargs``: what a call (``REDUCE``, ``NEWOBJ``) passed; ``state``: what ``BUILD``
    set; ``entries``: dict items (``SETITEMS``); ``elements``: list items (``APPENDS``). ``name`` is
    the dotted name of the global it stands for.
    """

    name = "?"

    def __new__(cls, *args, **kwargs):
        obj = super().__new__(cls)
        obj.args, obj.kwargs, obj.state, obj.entries, obj.elements = args, kwargs, None, {}, []
        return obj

    def __setstate__(self, state):
        self.state = state

    def __setitem__(self, key, value):
        self.entries[key] = value

    def append(self, value):
        self.elements.append(value)

    def extend(self, values):
        self.elements.extend(values)

    def __repr__(self):
        return f"<stub {self.name}>"


def _ndarray_reconstruct(subtype, shape, dtype):
    """NumPy's array reconstructor, for plain ``numpy.ndarray`` only."""
    if subtype is not np.ndarray:
        raise ValueError(f"array of type {subtype!r}: only numpy.ndarray is read")
    return np.ndarray.__new__(np.ndarray, shape, dtype)


def _latin1(text, encoding="latin1"):
    """``_codecs.encode`` as protocol-2 pickles use it for bytes: Latin-1 text only."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise ValueError(f"_codecs.encode({type(text).__name__}, {encoding!r}): only Latin-1 text is read")
    return codecs.encode(text, encoding)


def _storage_from_bytes(data):
    """A storage from the legacy ``torch.save`` bytes ``torch.storage._load_from_bytes`` would read."""
    if not isinstance(data, bytes):
        raise ValueError(f"storage bytes expected, got {type(data).__name__}")
    storage = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    if not isinstance(storage, torch.storage.TypedStorage):
        raise ValueError(f"storage expected, got {type(storage).__name__}")
    return storage


def _tensor(storage, offset, size, stride, *_hooks_and_metadata):
    """``torch._utils._rebuild_tensor_v2``: a tensor view of a storage (hooks and metadata dropped)."""
    if not isinstance(storage, torch.storage.TypedStorage):
        raise ValueError(f"tensor on a {type(storage).__name__}, not a storage")
    return torch.empty(0, dtype=storage.dtype).set_(storage._untyped_storage, offset, tuple(size), tuple(stride))


def _parameter(data, *_requires_grad_hooks_state):
    """``torch._utils._rebuild_parameter(_with_state)``: the parameter's tensor."""
    if not isinstance(data, torch.Tensor):
        raise ValueError(f"parameter data must be a tensor, got {type(data).__name__}")
    return data


# NumPy's scalar reconstructor, taken from a scalar's own reduce: its module moved (numpy.core →
# numpy._core in NumPy 2), and files name either.
_NUMPY_SCALAR = np.float64(0).__reduce__()[0]

ALLOWED = {
    **{f"numpy.{core}.multiarray._reconstruct": _ndarray_reconstruct for core in ("core", "_core")},
    **{f"numpy.{core}.multiarray.scalar": _NUMPY_SCALAR for core in ("core", "_core")},
    "numpy.ndarray": np.ndarray, "numpy.dtype": np.dtype,
    "torch._utils._rebuild_tensor_v2": _tensor,
    "torch._utils._rebuild_tensor": _tensor,
    "torch._utils._rebuild_parameter": _parameter,
    "torch._utils._rebuild_parameter_with_state": _parameter,
    "torch.storage._load_from_bytes": _storage_from_bytes,
    "collections.OrderedDict": collections.OrderedDict,
    "builtins.set": set, "__builtin__.set": set,
    "builtins.frozenset": frozenset, "__builtin__.frozenset": frozenset,
    "_codecs.encode": _latin1,
}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles data only: allowlisted globals resolve (``ALLOWED``), every other one to a :class:`Stub`.

    ``stubbed``: the dotted names that were answered with stubs.
    """

    def __init__(self, file):
        super().__init__(file)
        self.stubbed: set[str] = set()
        self._stubs: dict[str, type] = {}

    def find_class(self, module: str, name: str):
        dotted = f"{module}.{name}"
        if dotted in ALLOWED:
            return ALLOWED[dotted]
        self.stubbed.add(dotted)
        if dotted not in self._stubs:
            self._stubs[dotted] = type(name, (Stub,), {"name": dotted})
        return self._stubs[dotted]

    def persistent_load(self, pid):
        raise pickle.UnpicklingError(f"persistent id {pid!r}: not a plain pickle (a torch.save file?)")


def read_pickle(path: str | Path):
    """Returns the object in the pickle at ``path``, unpickled by :class:`RestrictedUnpickler`.

    Raises ``ValueError`` when the file is not a pickle, or names a global outside the allowlist and
    the official StyleGAN2 structures; nothing from the file runs either way.
    """
    with open(path, "rb") as f:
        unpickler = RestrictedUnpickler(f)
        try:
            obj = unpickler.load()
        except Exception as err:  # a malformed stream raises whatever its failing opcode raises
            raise ValueError(f"{path} is not a StyleGAN2 pickle this loader can read: {err}") from err
    foreign = sorted(unpickler.stubbed - OFFICIAL_STRUCTURES)
    if foreign:
        raise ValueError(f"{path} names {foreign}: code beyond the data and the official StyleGAN2 structures "
                         "this loader reads; refused (nothing from the file was run)")
    return obj


# ----------------------------------------------------------------------------- public entry point
def config_f(resolution: int = 256, img_channels: int = 1) -> StyleGAN2Config:
    """Returns the config-F architecture at ``resolution`` (the paper's MRI generator: 256, one channel).

    z and w of 512, an 8-layer mapping with learning-rate multiplier 0.01, and the official channel plan
    ``min(32768 // R, 512)`` per block resolution R (TensorFlow: ``fmap_base = 16 << 10`` with the
    stage offset; stylegan2-ada-pytorch: ``channel_base = 32768``, ``channel_max = 512``). The weights
    of such a model are random: a stand-in with the paper generator's shapes and cost.
    """
    channels = {r: min(32768 // r, 512) for r in resolutions(resolution)}
    return _config(resolution=resolution, img_channels=img_channels, z_dim=512, w_dim=512, mapping_layers=8,
                   mapping_lr_mul=0.01, channels=channels)


def load_official(path: str | Path, device: str | torch.device = "cpu") -> Generator:
    """Returns the generator of an official StyleGAN2 pickle as a frozen eval-mode ``Generator`` on ``device``.

    ``path``: a stylegan2-ada-pytorch pickle (its ``G_ema``) or a TensorFlow StyleGAN2 pickle (its
    ``Gs``); the formats, the correspondence of the arrays and what is refused are in the module
    docstring of ``gausslib.generators.official``. The model's ``meta`` records the format and the
    file. Images: ``G(z_plus, noise)`` ``[B, img_channels, R, R]``, linear output (the official
    range is about ``[-1, 1]``). Raises ``ValueError`` naming what is wrong for a file that is not
    such a pickle, that needs code, or whose architecture is not config F.
    """
    obj = read_pickle(path)
    if isinstance(obj, dict) and "G_ema" in obj:
        fmt, (cfg, state) = ADA, ada_generator(obj["G_ema"])
    elif _is_tf_network(obj) or (isinstance(obj, tuple) and len(obj) == 3 and all(map(_is_tf_network, obj))):
        fmt, (cfg, state) = TF, tf_generator(obj[2] if isinstance(obj, tuple) else obj)
    else:
        raise ValueError(f"{path} is not an official StyleGAN2 pickle: expected a dict with 'G_ema' "
                         f"({ADA}) or a tuple (G, D, Gs) of {TF_NETWORK} (TensorFlow), got {_describe(obj)}")
    model = assemble(cfg, state, f"{path} ({fmt})")
    model.meta = {"format": fmt, "source": str(path)}
    return model.to(device).eval().requires_grad_(False)


def assemble(cfg: StyleGAN2Config, state: dict[str, torch.Tensor], source: str) -> Generator:
    """Returns ``Generator(cfg)`` holding ``state``; ``ValueError`` naming every key or shape that does not fit."""
    model = Generator(cfg)
    ours = model.state_dict()
    missing, extra = sorted(set(ours) - set(state)), sorted(set(state) - set(ours))
    shapes = [f"{k}: {tuple(state[k].shape)} for {tuple(v.shape)}" for k, v in ours.items()
              if k in state and tuple(state[k].shape) != tuple(v.shape)]
    if missing or extra or shapes:
        raise ValueError(f"{source}: the arrays do not fit a config-F StyleGAN2 with {cfg.to_dict()}: "
                         f"missing {missing}, unexpected {extra}, wrong shapes {shapes}")
    model.load_state_dict({k: torch.as_tensor(v).to(ours[k].dtype) for k, v in state.items()})
    return model


def _is_tf_network(obj) -> bool:
    return isinstance(obj, Stub) and obj.name == TF_NETWORK


def _describe(obj) -> str:
    if isinstance(obj, dict):
        return f"a dict with keys {sorted(map(str, obj))}"
    return obj.name if isinstance(obj, Stub) else type(obj).__name__


def _expect(condition: bool, source: str, what: str) -> None:
    if not condition:
        raise ValueError(f"{source}: {what}; only config-F StyleGAN2 generators (unconditional, 'skip' synthesis, "
                         "leaky ReLU, FIR [1, 3, 3, 1]) are read")


# ----------------------------------------------------------------------------- stylegan2-ada-pytorch
def _plain(obj):
    """Returns ``obj`` with ``dnnlib.util.EasyDict`` stubs turned into dicts (recursively)."""
    if isinstance(obj, Stub) and obj.name == EASYDICT:
        return {k: _plain(v) for k, v in obj.entries.items()}
    if isinstance(obj, dict):
        return type(obj)((k, _plain(v)) for k, v in obj.items())
    return obj


def persistent(obj, where: str) -> tuple[str, dict]:
    """Returns ``(class_name, state)`` of a persistent object (``torch_utils.persistence``) at ``where``."""
    ok = isinstance(obj, Stub) and obj.name == PERSISTENT and len(obj.args) == 1
    meta = _plain(obj.args[0]) if ok else None
    if not (ok and isinstance(meta, dict) and meta.get("type") == "class" and isinstance(meta.get("state"), dict)):
        raise ValueError(f"{where}: expected a {PERSISTENT} object with a class state, got {_describe(obj)}")
    return meta.get("class_name"), _plain(meta["state"])


def module_tree(obj, where: str = "G_ema") -> dict[str, tuple[str, dict]]:
    """Returns ``{dotted module name: (class_name, state)}`` of a persistent module and all its sub-modules."""
    cls, state = persistent(obj, where)
    tree = {"": (cls, state)}
    for name, child in state.get("_modules", {}).items():
        for sub, entry in module_tree(child, f"{where}.{name}").items():
            tree[f"{name}.{sub}" if sub else name] = entry
    return tree


def module_arrays(tree: dict[str, tuple[str, dict]]) -> dict[str, torch.Tensor]:
    """Returns the flat state dict (parameters and buffers under their dotted names) of a module tree."""
    out = {}
    for prefix, (_, state) in tree.items():
        for key in ("_parameters", "_buffers"):
            for name, value in state.get(key, {}).items():
                dotted = f"{prefix}.{name}" if prefix else name
                if value is not None and not isinstance(value, torch.Tensor):
                    raise ValueError(f"G_ema.{dotted} is a {_describe(value)}, not a tensor")
                if value is not None:
                    out[dotted] = value
    return out


def ada_generator(obj) -> tuple[StyleGAN2Config, dict[str, torch.Tensor]]:
    """Returns ``(config, state dict)`` of a stylegan2-ada-pytorch ``G_ema`` (unpickled with stubs)."""
    tree = module_tree(obj)
    check_ada_tree(tree)
    arrays = module_arrays(tree)
    dims = {k: int(_need(tree[""][1], k, "G_ema")) for k in ("img_resolution", "img_channels", "z_dim", "w_dim")}
    blocks = sorted(int(k[len("synthesis.b"):]) for k in tree if re.fullmatch(r"synthesis\.b\d+", k))
    conv1 = [_need(arrays, f"synthesis.b{r}.conv1.weight", "G_ema") for r in blocks]
    fc0 = tree.get("mapping.fc0", ("", {}))[1]
    cfg = _config(resolution=dims["img_resolution"], img_channels=dims["img_channels"], z_dim=dims["z_dim"],
                  w_dim=dims["w_dim"], mapping_layers=int(_need(tree["mapping"][1], "num_layers", "G_ema.mapping")),
                  mapping_lr_mul=float(_need(fc0, "bias_gain", "G_ema.mapping.fc0")),
                  channels={r: w.shape[0] for r, w in zip(blocks, conv1)})
    _expect(blocks == cfg.resolutions, "G_ema", f"synthesis blocks {blocks} for resolution {cfg.resolution}")
    return cfg, arrays


def check_ada_tree(tree: dict[str, tuple[str, dict]]) -> None:
    """Raises ``ValueError`` unless a ``G_ema`` module tree is a config-F generator; warns on ``conv_clamp``."""
    classes = {k: cls for k, (cls, _) in tree.items()}
    top = (classes[""], classes.get("mapping"), classes.get("synthesis"))
    _expect(top == ("Generator", "MappingNetwork", "SynthesisNetwork"), "G_ema",
            f"classes {top}, expected ('Generator', 'MappingNetwork', 'SynthesisNetwork')")
    _expect(tree[""][1].get("c_dim") == 0, "G_ema", f"a conditional model (c_dim = {tree[''][1].get('c_dim')})")
    synthesis = {k: c for k, c in classes.items() if k.count(".") == 1 and k.startswith("synthesis.")}
    _expect(all(re.fullmatch(r"synthesis\.b\d+", k) and c == "SynthesisBlock" for k, c in synthesis.items()),
            "G_ema.synthesis", f"modules {synthesis} (StyleGAN3 or another generator, not StyleGAN2 blocks)")
    for name, (cls, state) in tree.items():
        _check_ada_module(f"G_ema.{name}", cls, state)
    clamps = sorted({s.get("conv_clamp") for c, s in tree.values() if c in ("SynthesisLayer", "ToRGBLayer")} - {None})
    if clamps:
        warnings.warn(f"G_ema: conv_clamp = {clamps[0]} is not applied here (activations beyond it are not clipped); "
                      "outputs agree with the official ones wherever those are not clipped", stacklevel=4)


def _check_ada_module(where: str, cls: str, state: dict) -> None:
    """Raises ``ValueError`` for a module whose settings our generator does not reproduce."""
    if cls == "SynthesisBlock":
        _expect(state.get("architecture") == "skip", where, f"synthesis architecture {state.get('architecture')!r}")
    if cls == "SynthesisLayer":
        _expect(bool(state.get("use_noise")), where, "a layer without noise inputs")
    if cls == "SynthesisLayer" or (cls == "FullyConnectedLayer" and ".mapping.fc" in where):
        _expect(state.get("activation") == "lrelu", where, f"activation {state.get('activation')!r}")
    f = state.get("_buffers", {}).get("resample_filter")
    if f is not None:
        ours = setup_filter()
        _expect(f.shape == ours.shape and torch.allclose(f.float(), ours), where,
                "a resampling filter other than [1, 3, 3, 1]")


def _need(mapping: dict, key: str, where: str):
    if key not in mapping:
        raise ValueError(f"{where}: no {key!r} (not a stylegan2-ada-pytorch StyleGAN2 generator?)")
    return mapping[key]


def _config(**kwargs) -> StyleGAN2Config:
    # The discriminator is not read: its channel plan mirrors the generator's so the config is complete.
    return StyleGAN2Config(**kwargs, d_channels=dict(kwargs["channels"]))


# ----------------------------------------------------------------------------- TensorFlow StyleGAN2
# Static keyword arguments of G_main / G_mapping / G_synthesis_stylegan2 and the values our generator
# reproduces (None: any value, they only steer training, evaluation or the channel plan, which is
# read from the arrays).
TF_KWARGS = {
    "label_size": 0, "architecture": "skip", "resample_kernel": [1, 3, 3, 1], "nonlinearity": "lrelu",
    "mapping_nonlinearity": "lrelu", "normalize_latents": True, "use_noise": True, "conv_clamp": None,
    "mapping_func": "G_mapping", "synthesis_func": "G_synthesis_stylegan2",
    **dict.fromkeys(["latent_size", "dlatent_size", "resolution", "num_channels", "mapping_layers", "mapping_fmaps",
                     "mapping_lrmul", "fmap_base", "fmap_decay", "fmap_min", "fmap_max", "dtype", "fused_modconv",
                     "randomize_noise", "truncation_psi", "truncation_cutoff", "truncation_psi_val",
                     "truncation_cutoff_val", "dlatent_avg_beta", "w_avg_beta", "style_mixing_prob", "structure",
                     "num_fp16_res"]),
}
TF_FUNCS = {"": "G_main", "mapping": "G_mapping", "synthesis": "G_synthesis_stylegan2"}


def tf_state(net: Stub, where: str) -> dict:
    """Returns the ``__getstate__`` dict of a ``dnnlib.tflib.network.Network`` stub, checked."""
    state = net.state if _is_tf_network(net) else None
    if not isinstance(state, dict) or not isinstance(state.get("variables"), list):
        raise ValueError(f"{where}: expected a {TF_NETWORK} with a state holding 'variables', got {_describe(net)}")
    if state.get("version") != 4:
        raise ValueError(f"{where}: Network pickle version {state.get('version')!r}, only version 4 is read")
    return state


def tf_variables(gs: Stub) -> tuple[dict[str, np.ndarray], dict]:
    """Returns ``({component/variable: array}, static kwargs)`` of ``Gs`` and its components."""
    top = tf_state(gs, "Gs")
    components = dict(top.get("components") or {})
    _expect(sorted(components) == ["mapping", "synthesis"], "Gs", f"components {sorted(components)}")
    arrays = {}
    for comp, net in [("", gs), *sorted(components.items())]:
        where = f"Gs/{comp}" if comp else "Gs"
        state = tf_state(net, where)
        func = state.get("build_func_name")
        _expect(TF_FUNCS[comp] == func, where, f"build function {func!r} (config F: {TF_FUNCS[comp]!r})")
        for name, value in state["variables"]:
            # TensorFlow's session returns 0-d variables (noise strengths, lod) as NumPy scalars
            if not isinstance(value, (np.ndarray, np.generic)):
                raise ValueError(f"{where}: variable {name!r} is a {_describe(value)}, not an array")
            arrays[f"{comp}/{name}" if comp else name] = np.asarray(value)
    return arrays, dict(top.get("static_kwargs") or {})


def _check_tf_kwargs(kwargs: dict) -> None:
    unknown = sorted(set(kwargs) - set(TF_KWARGS))
    _expect(not unknown, "Gs", f"unknown static arguments {unknown}")
    for key, want in TF_KWARGS.items():
        if want is not None and key in kwargs and kwargs[key] != want:
            _expect(False, "Gs", f"{key} = {kwargs[key]!r} (expected {want!r})")


def tf_generator(gs: Stub) -> tuple[StyleGAN2Config, dict[str, torch.Tensor]]:
    """Returns ``(config, state dict)`` of a TensorFlow StyleGAN2 ``Gs`` (unpickled with stubs)."""
    tf, kwargs = tf_variables(gs)
    _check_tf_kwargs(kwargs)
    required = ["dlatent_avg", "mapping/Dense0/weight", "synthesis/4x4/Const/const", "synthesis/4x4/ToRGB/weight"]
    _expect(all(k in tf for k in required), "Gs", f"missing variables {[k for k in required if k not in tf]}")
    blocks = sorted(int(m.group(1)) for k in tf if (m := re.fullmatch(r"synthesis/(\d+)x\1/Conv1/weight", k)))
    dense = [k for k in tf if re.fullmatch(r"mapping/Dense\d+/weight", k)]
    cfg = _config(resolution=max([4, *blocks]), img_channels=tf["synthesis/4x4/ToRGB/weight"].shape[3],
                  z_dim=tf["mapping/Dense0/weight"].shape[0], w_dim=tf["dlatent_avg"].shape[0],
                  mapping_layers=len(dense), mapping_lr_mul=float(kwargs.get("mapping_lrmul", 0.01)),
                  channels={4: tf["synthesis/4x4/Const/const"].shape[1],
                            **{r: tf[f"synthesis/{r}x{r}/Conv1/weight"].shape[3] for r in blocks}})
    stored = {"resolution": cfg.resolution, "num_channels": cfg.img_channels, "latent_size": cfg.z_dim,
              "dlatent_size": cfg.w_dim, "mapping_layers": cfg.mapping_layers}
    wrong = {k: (kwargs[k], v) for k, v in stored.items() if k in kwargs and kwargs[k] != v}
    _expect(not wrong, "Gs", f"static arguments that disagree with the arrays, (declared, stored): {wrong}")
    table = tf_table(cfg)
    stored = {name for name, _ in table.values() if name is not None}
    unused = sorted(set(tf) - stored - {"lod"})
    _expect(not unused, "Gs", f"variables without a place in config F: {unused}")
    absent = sorted(stored - set(tf))
    _expect(not absent, "Gs", f"missing variables {absent}")
    # np.array(order="C"): a contiguous copy (flipped kernels have negative strides) that keeps 0-d scalars 0-d
    return cfg, {key: torch.from_numpy(np.array(fn(tf.get(name)), order="C")) for key, (name, fn) in table.items()}


def _identity(a):
    return a


def _conv(a):
    return a.transpose(3, 2, 0, 1)


def _conv_up(a):
    return a[::-1, ::-1].transpose(3, 2, 0, 1)


def _dense(a):
    return a.T


def _mod_bias(a):
    return a + 1


def _fir(_):
    return setup_filter().numpy()


def _layer_table(ours: str, theirs: str, weight) -> dict:
    return {f"{ours}.weight": (f"{theirs}/weight", weight), f"{ours}.bias": (f"{theirs}/bias", _identity),
            f"{ours}.affine.weight": (f"{theirs}/mod_weight", _dense),
            f"{ours}.affine.bias": (f"{theirs}/mod_bias", _mod_bias)}


def tf_table(cfg: StyleGAN2Config) -> dict[str, tuple[str, object]]:
    """Returns ``{our key: (TensorFlow variable, conversion)}`` for every array ``Generator(cfg)`` holds.

    The FIR ``resample_filter`` buffers are not stored by TensorFlow (variable ``None``): our filter.
    """
    table = {"mapping.w_avg": ("dlatent_avg", _identity)}
    for i in range(cfg.mapping_layers):
        table[f"mapping.fc{i}.weight"] = (f"mapping/Dense{i}/weight", _dense)
        table[f"mapping.fc{i}.bias"] = (f"mapping/Dense{i}/bias", _identity)
    table["synthesis.b4.const"] = ("synthesis/4x4/Const/const", lambda a: a[0])
    noise = 0
    for r in cfg.resolutions:
        convs = [("conv1", "4x4/Conv", _conv)] if r == 4 else [("conv0", f"{r}x{r}/Conv0_up", _conv_up),
                                                               ("conv1", f"{r}x{r}/Conv1", _conv)]
        for ours, theirs, weight in convs:
            table.update(_layer_table(f"synthesis.b{r}.{ours}", f"synthesis/{theirs}", weight))
            table[f"synthesis.b{r}.{ours}.noise_strength"] = (f"synthesis/{theirs}/noise_strength", _identity)
            table[f"synthesis.b{r}.{ours}.noise_const"] = (f"synthesis/noise{noise}", lambda a: a[0, 0])
            table[f"synthesis.b{r}.{ours}.resample_filter"] = (None, _fir)
            noise += 1
        table.update(_layer_table(f"synthesis.b{r}.torgb", f"synthesis/{r}x{r}/ToRGB", _conv))
        table[f"synthesis.b{r}.resample_filter"] = (None, _fir)
    return table
