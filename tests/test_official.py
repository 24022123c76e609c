"""Official StyleGAN2 pickles (``gausslib.generators.official``): both formats, written here as NVlabs
writes them (same globals, same nesting, same state), must load into the same generator; files that
need code, or hold another architecture, are refused.

The writers stand in NVlabs' pickled classes with stubs registered under the official module names, so
the byte streams name exactly the globals real files name.
"""
import collections
import math
import os
import pickle
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from gausslib.generators import Discriminator, Generator, StyleGAN2Config, load, load_official, official, zoo

TINY = dict(resolution=16, img_channels=3, z_dim=32, w_dim=32, mapping_layers=2,
            channels={4: 8, 8: 8, 16: 4}, d_channels={4: 8, 8: 8, 16: 4})
CHECKPOINT = Path(__file__).resolve().parents[1] / "data" / "checkpoints" / "stylegan2-v2.pt"


# --------------------------------------------------------------------------- stand-ins for NVlabs' globals
def _never_called(*args):
    raise AssertionError("the loader called a function named by the file")


_never_called.__module__, _never_called.__qualname__ = "torch_utils.persistence", "_reconstruct_persistent_obj"


class EasyDict(dict):
    """``dnnlib.util.EasyDict`` as pickled: a dict subclass."""

    __module__, __qualname__ = "dnnlib.util", "EasyDict"


class Network:
    """``dnnlib.tflib.network.Network`` as pickled: an object whose ``__getstate__`` is its whole content."""

    __module__, __qualname__ = "dnnlib.tflib.network", "Network"

    def __init__(self, state):
        self._state = state

    def __getstate__(self):
        return self._state


class Persistent:
    """A ``torch_utils.persistence`` object as pickled: a call of ``_reconstruct_persistent_obj(meta)``."""

    def __init__(self, meta):
        self.meta = meta

    def __reduce__(self):
        return (_never_called, (self.meta,))


@pytest.fixture
def nvlabs(monkeypatch):
    """Registers the stand-ins under NVlabs' module names (what the pickler records for them)."""
    for obj in (_never_called, EasyDict, Network):
        parts = obj.__module__.split(".")
        for i in range(1, len(parts) + 1):
            monkeypatch.setitem(sys.modules, ".".join(parts[:i]), types.ModuleType(".".join(parts[:i])))
        setattr(sys.modules[obj.__module__], obj.__qualname__, obj)


def _marker_source(marker: Path) -> str:
    """Module source that leaves ``marker`` behind if anything ever executes it."""
    return f"import pathlib\npathlib.Path({str(marker)!r}).touch()\n"


# --------------------------------------------------------------------------- writers
def _official_attributes(module) -> dict:
    """The constructor attributes stylegan2-ada-pytorch keeps in a module's ``__dict__``."""
    kind = type(module).__name__
    if kind == "Generator":
        c = module.cfg
        return dict(z_dim=c.z_dim, c_dim=0, w_dim=c.w_dim, img_resolution=c.resolution, img_channels=c.img_channels,
                    num_ws=module.num_ws)
    if kind == "MappingNetwork":
        return dict(c_dim=0, num_layers=module.num_layers, w_avg_beta=0.995)
    if kind == "FullyConnectedLayer":
        return dict(activation="lrelu" if module.activate else "linear", weight_gain=np.float64(module.weight_gain),
                    bias_gain=module.bias_gain)
    if kind == "SynthesisLayer":
        return dict(resolution=module.resolution, up=module.up, use_noise=True, activation="lrelu", conv_clamp=None,
                    padding=1, act_gain=np.float64(math.sqrt(2)))
    if kind == "ToRGBLayer":
        return dict(conv_clamp=None, weight_gain=np.float64(module.weight_gain))
    if kind == "SynthesisBlock":
        return dict(resolution=module.resolution, architecture="skip", is_last=False, use_fp16=False,
                    num_conv=module.num_conv, num_torgb=1)
    return {}


def persistent(module: torch.nn.Module, marker: Path, **override) -> Persistent:
    """``module`` (and its sub-modules) as stylegan2-ada-pytorch pickles it."""
    state = {
        "training": False,
        "_parameters": collections.OrderedDict(module._parameters),
        "_buffers": collections.OrderedDict(module._buffers),
        "_non_persistent_buffers_set": set(),
        "_backward_hooks": collections.OrderedDict(), "_forward_hooks": collections.OrderedDict(),
        "_forward_pre_hooks": collections.OrderedDict(), "_state_dict_hooks": collections.OrderedDict(),
        "_load_state_dict_pre_hooks": collections.OrderedDict(),
        "_modules": collections.OrderedDict((n, persistent(c, marker)) for n, c in module.named_children()),
        "_init_args": (), "_init_kwargs": EasyDict(note="constructor arguments"),
        **_official_attributes(module), **override,
    }
    meta = {"type": "class", "version": 6, "module_src": _marker_source(marker),
            "class_name": type(module).__name__, "state": state}
    return Persistent(meta)


def write_ada(G: Generator, path: Path, marker: Path, g_ema=None) -> Path:
    """Writes ``G`` as a stylegan2-ada-pytorch ``network-snapshot`` pickle (protocol 3, as NVlabs' files)."""
    D = Discriminator(G.cfg)
    data = {"G": persistent(G, marker), "D": persistent(D, marker),
            "G_ema": g_ema if g_ema is not None else persistent(G, marker), "augment_pipe": None,
            "training_set_kwargs": EasyDict(class_name="training.dataset.ImageFolderDataset", resolution=G.resolution)}
    path.write_bytes(pickle.dumps(data, protocol=3))
    return path


def _tf_layer(ours: dict, prefix: str, theirs: str, up: bool = False) -> list:
    weight = ours[f"{prefix}.weight"].numpy().transpose(2, 3, 1, 0)
    return [(f"{theirs}/weight", weight[::-1, ::-1].copy() if up else weight),
            (f"{theirs}/bias", ours[f"{prefix}.bias"].numpy()),
            (f"{theirs}/mod_weight", ours[f"{prefix}.affine.weight"].numpy().T.copy()),
            (f"{theirs}/mod_bias", ours[f"{prefix}.affine.bias"].numpy() - 1)]


def tf_synthesis_variables(G: Generator) -> list:
    """The synthesis network's variables, named and laid out as TensorFlow StyleGAN2 stores them."""
    sd = {k: v.detach().float() for k, v in G.state_dict().items()}
    variables = [(f"noise{i}", layer.noise_const.numpy()[None, None]) for i, layer in enumerate(G.synthesis.layers())]
    variables.append(("4x4/Const/const", sd["synthesis.b4.const"].numpy()[None]))
    for r in G.cfg.resolutions:
        convs = [("conv1", "4x4/Conv")] if r == 4 else [("conv0", f"{r}x{r}/Conv0_up"), ("conv1", f"{r}x{r}/Conv1")]
        for ours, theirs in convs:
            variables += _tf_layer(sd, f"synthesis.b{r}.{ours}", theirs, up=ours == "conv0")
            # 0-d variables come out of a TensorFlow session as NumPy scalars
            variables.append((f"{theirs}/noise_strength", sd[f"synthesis.b{r}.{ours}.noise_strength"].numpy()[()]))
        variables += _tf_layer(sd, f"synthesis.b{r}.torgb", f"{r}x{r}/ToRGB")
    return variables


def tf_network(name: str, func: str, variables: list, marker: Path, static_kwargs=None, components=None) -> Network:
    return Network({"version": 4, "name": name, "static_kwargs": dict(static_kwargs or {}),
                    "components": dict(components or {}), "build_module_src": _marker_source(marker),
                    "build_func_name": func, "variables": variables})


def tf_gs(G: Generator, marker: Path, kwargs=None, synthesis_variables=None, mapping_variables=(),
          name: str = "Gs") -> Network:
    """``G`` as the ``Gs`` network of a TensorFlow StyleGAN2 pickle (or its ``G``: same layout)."""
    c = G.cfg
    kwargs = {"num_channels": c.img_channels, "resolution": c.resolution, "label_size": 0, "fmap_base": 16 << 10,
              "architecture": "skip", **({} if c.mapping_lr_mul == 0.01 else {"mapping_lrmul": c.mapping_lr_mul}),
              **(kwargs or {})}
    mapping = []
    for i in range(c.mapping_layers):
        fc = getattr(G.mapping, f"fc{i}")
        mapping += [(f"Dense{i}/weight", fc.weight.numpy().T.copy()), (f"Dense{i}/bias", fc.bias.numpy())]
    components = {
        "synthesis": tf_network("G_synthesis", "G_synthesis_stylegan2",
                                synthesis_variables if synthesis_variables is not None else tf_synthesis_variables(G),
                                marker, kwargs),
        "mapping": tf_network("G_mapping", "G_mapping", mapping + list(mapping_variables), marker,
                              {**kwargs, "dlatent_broadcast": G.num_ws}),
    }
    own = [("lod", np.float32(0)), ("dlatent_avg", G.mapping.w_avg.numpy())]
    return tf_network(name, "G_main", own, marker, kwargs, components)


def write_tf(G: Generator, path: Path, marker: Path, **gs_kwargs) -> Path:
    """Writes ``G`` as a TensorFlow StyleGAN2 pickle ``(G, D, Gs)`` (protocol 4, as NVlabs' ``save_pkl``)."""
    g, gs = tf_gs(G, marker, name="G", **gs_kwargs), tf_gs(G, marker, **gs_kwargs)
    d = tf_network("D", "D_stylegan2", [("4x4/Dense0/weight", np.zeros((4, 4), np.float32))], marker)
    path.write_bytes(pickle.dumps((g, d, gs), protocol=4))
    return path


# --------------------------------------------------------------------------- a tiny generator, every array distinct
def tiny_generator(seed: int = 0, **cfg) -> Generator:
    """A tiny official-architecture generator with random values in every array (noise strengths,
    w_avg and biases too, so a misplaced array changes the output)."""
    torch.manual_seed(seed)
    G = Generator(StyleGAN2Config(**{**TINY, **cfg}))
    with torch.no_grad():
        for name, p in G.named_parameters():
            if name.endswith(("bias", "noise_strength")):
                p.copy_(0.3 * torch.randn_like(p) + (1.0 if "affine" in name else 0.0))
        G.mapping.w_avg.copy_(torch.randn_like(G.mapping.w_avg))
    return G.eval().requires_grad_(False)


WRITERS = {"ada": write_ada, "tf": write_tf}


@pytest.fixture(params=sorted(WRITERS))
def fmt(request):
    return request.param


def _same_generator(loaded: Generator, G: Generator, fmt: str = "ada") -> None:
    """Every array and the images of ``loaded`` equal ``G``'s: bit for bit from the ada format; from the
    TensorFlow one up to the rounding of the style biases, stored there minus 1."""
    def same(a, b, tol=1e-6):
        return torch.equal(a, b) if fmt == "ada" else torch.allclose(a, b, rtol=tol, atol=tol)

    ours, theirs = G.state_dict(), loaded.state_dict()
    assert sorted(ours) == sorted(theirs)
    for key in ours:
        assert (same if "affine.bias" in key else torch.equal)(theirs[key], ours[key]), key
    z = torch.randn(3, G.num_ws, G.z_dim, generator=torch.Generator().manual_seed(1))
    noise = G.make_noise(3, torch.Generator().manual_seed(2))
    assert same(loaded(z, noise), G(z, noise), 1e-4)
    assert same(loaded(z, loaded.const_noise(), truncation_psi=0.5), G(z, G.const_noise(), truncation_psi=0.5), 1e-4)


# --------------------------------------------------------------------------- round trips
def test_every_array_lands_where_it_belongs(nvlabs, fmt, tmp_path):
    G = tiny_generator()
    path = WRITERS[fmt](G, tmp_path / f"{fmt}.pkl", tmp_path / "source-ran")
    loaded = load_official(path)
    assert loaded.cfg.to_dict() == G.cfg.to_dict()
    _same_generator(loaded, G, fmt)
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())
    assert loaded.meta["format"] == {"ada": official.ADA, "tf": official.TF}[fmt]
    assert not (tmp_path / "source-ran").exists()  # the embedded module sources never ran


@pytest.mark.parametrize("cfg", [dict(resolution=4, channels={4: 8}, d_channels={4: 8}),
                                 dict(resolution=32, img_channels=1, mapping_layers=3, mapping_lr_mul=0.1,
                                      channels={4: 16, 8: 8, 16: 8, 32: 4}, d_channels={4: 16, 8: 8, 16: 8, 32: 4})])
def test_any_resolution_channel_plan_and_mapping(nvlabs, fmt, tmp_path, cfg):
    G = tiny_generator(seed=3, **cfg)
    _same_generator(load_official(WRITERS[fmt](G, tmp_path / "g.pkl", tmp_path / "ran")), G, fmt)


def test_zoo_load_reads_official_pickles(nvlabs, fmt, tmp_path):
    G = tiny_generator()
    model = load(WRITERS[fmt](G, tmp_path / "g.pkl", tmp_path / "ran"))
    _same_generator(model, G, fmt)
    with pytest.raises(FileNotFoundError, match="absent.pkl"):
        load(tmp_path / "absent.pkl")


@pytest.mark.skipif(not CHECKPOINT.exists(), reason="no trained official-architecture checkpoint here")
def test_a_trained_generator_keeps_its_images(nvlabs, fmt, tmp_path):
    """The trained 64×64 phantom generator, through either format: same images, in the data range
    (phantoms lie in [-1, 1]; a generator overshoots a little)."""
    ckpt = zoo.safe_load(CHECKPOINT)
    G = Generator(StyleGAN2Config(**ckpt["config"]))
    G.load_state_dict(ckpt["G_ema"])
    G.eval().requires_grad_(False)
    loaded = load_official(WRITERS[fmt](G, tmp_path / "g.pkl", tmp_path / "ran"))
    x = loaded(torch.randn(16, loaded.num_ws, loaded.z_dim, generator=torch.Generator().manual_seed(0)),
               loaded.const_noise(), truncation_psi=0.7)
    assert x.shape == (16, 1, 64, 64) and torch.isfinite(x).all()
    assert x.abs().max() <= 2 and (x.abs() <= 1.1).float().mean() >= 0.95 and x.std() > 0.3
    _same_generator(loaded, G, fmt)


# --------------------------------------------------------------------------- code is never run
class _System:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def test_a_pickle_that_calls_os_system_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(_System(f"touch {marker}")))
    with pytest.raises(ValueError, match=r"system.*refused \(nothing from the file was run\)"):
        load_official(path)
    with pytest.raises(ValueError, match="refused"):
        load(path)
    assert not marker.exists()


def test_code_hidden_inside_a_generator_is_refused(nvlabs, tmp_path):
    marker = tmp_path / "ran"
    G = tiny_generator()
    g_ema = persistent(G, tmp_path / "source-ran", _init_kwargs=EasyDict(hook=_System(f"touch {marker}")))
    with pytest.raises(ValueError, match="system"):
        load_official(write_ada(G, tmp_path / "g.pkl", tmp_path / "source-ran", g_ema=g_ema))
    assert not marker.exists() and not (tmp_path / "source-ran").exists()


def test_unknown_classes_are_refused_by_name(tmp_path):
    path = tmp_path / "g.pkl"
    path.write_bytes(pickle.dumps({"G_ema": collections.Counter(a=1)}))
    with pytest.raises(ValueError, match=r"names \['collections.Counter'\]"):
        load_official(path)


def test_files_that_are_not_official_pickles_are_refused(nvlabs, tmp_path):
    torch.save({"G_ema": torch.zeros(2)}, tmp_path / "zip.pkl")
    with pytest.raises(ValueError, match="not a StyleGAN2 pickle"):
        load_official(tmp_path / "zip.pkl")
    (tmp_path / "list.pkl").write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(ValueError, match="expected a dict with 'G_ema'"):
        load_official(tmp_path / "list.pkl")
    (tmp_path / "tensor.pkl").write_bytes(pickle.dumps({"G_ema": torch.zeros(2)}))
    with pytest.raises(ValueError, match="expected a torch_utils.persistence"):
        load_official(tmp_path / "tensor.pkl")


# --------------------------------------------------------------------------- other architectures are refused
def test_ada_conditional_model_is_refused(nvlabs, tmp_path):
    G = tiny_generator()
    g_ema = persistent(G, tmp_path / "ran", c_dim=10)
    with pytest.raises(ValueError, match=r"conditional model \(c_dim = 10\)"):
        load_official(write_ada(G, tmp_path / "g.pkl", tmp_path / "ran", g_ema=g_ema))


@pytest.mark.parametrize("where, override, message", [
    ("synthesis.b8", dict(architecture="resnet"), "synthesis architecture 'resnet'"),
    ("synthesis.b8.conv1", dict(activation="relu"), "activation 'relu'"),
    ("synthesis.b8.conv1", dict(use_noise=False), "a layer without noise inputs"),
    ("mapping.fc1", dict(activation="linear"), "activation 'linear'"),
    ("synthesis.b8", dict(_buffers=collections.OrderedDict(resample_filter=torch.full((2, 2), 0.25))),
     r"a resampling filter other than \[1, 3, 3, 1\]"),
])
def test_ada_other_layouts_are_refused(nvlabs, tmp_path, where, override, message):
    G = tiny_generator()
    g_ema = persistent(G, tmp_path / "ran")
    state = g_ema.meta["state"]
    for part in where.split("."):
        state = state["_modules"][part].meta["state"]
    state.update(override)
    with pytest.raises(ValueError, match=f"G_ema.{where}: {message}"):
        load_official(write_ada(G, tmp_path / "g.pkl", tmp_path / "ran", g_ema=g_ema))


def test_ada_stylegan3_is_refused(nvlabs, tmp_path):
    G = tiny_generator()
    g_ema = persistent(G, tmp_path / "ran")
    synthesis = g_ema.meta["state"]["_modules"]["synthesis"].meta["state"]
    synthesis["_modules"]["input"] = persistent(G.mapping.fc0, tmp_path / "ran")
    synthesis["_modules"]["input"].meta["class_name"] = "SynthesisInput"
    with pytest.raises(ValueError, match="StyleGAN3 or another generator"):
        load_official(write_ada(G, tmp_path / "g.pkl", tmp_path / "ran", g_ema=g_ema))


def test_ada_extra_or_missing_arrays_are_named(nvlabs, tmp_path):
    G = tiny_generator()
    g_ema = persistent(G, tmp_path / "ran")
    mapping = g_ema.meta["state"]["_modules"]["mapping"].meta["state"]
    mapping["_buffers"] = collections.OrderedDict()  # no w_avg (w_avg_beta = None)
    mapping["_modules"]["embed"] = persistent(G.mapping.fc0, tmp_path / "ran")
    with pytest.raises(ValueError, match=r"missing \['mapping.w_avg'\], unexpected \['mapping.embed.bias', "
                                         r"'mapping.embed.weight'\]"):
        load_official(write_ada(G, tmp_path / "g.pkl", tmp_path / "ran", g_ema=g_ema))


def test_ada_conv_clamp_is_loaded_with_a_warning(nvlabs, tmp_path):
    G = tiny_generator()
    g_ema = persistent(G, tmp_path / "ran")
    g_ema.meta["state"]["_modules"]["synthesis"].meta["state"]["_modules"]["b16"].meta["state"]["_modules"][
        "conv1"].meta["state"]["conv_clamp"] = 256
    with pytest.warns(UserWarning, match="conv_clamp = 256 is not applied"):
        _same_generator(load_official(write_ada(G, tmp_path / "g.pkl", tmp_path / "ran", g_ema=g_ema)), G)


@pytest.mark.parametrize("kwargs, message", [
    (dict(label_size=10), "label_size = 10"),
    (dict(architecture="resnet"), "architecture = 'resnet'"),
    (dict(resample_kernel=[1, 1]), r"resample_kernel = \[1, 1\]"),
    (dict(some_new_option=1), r"unknown static arguments \['some_new_option'\]"),
    (dict(resolution=32, latent_size=32), r"disagree with the arrays, \(declared, stored\): \{'resolution': \(32, 16\)\}"),
])
def test_tf_other_settings_are_refused(nvlabs, tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_official(write_tf(tiny_generator(), tmp_path / "g.pkl", tmp_path / "ran", kwargs=kwargs))


def test_tf_progressive_orig_layout_is_refused(nvlabs, tmp_path):
    G = tiny_generator()
    variables = [(name.replace("16x16/ToRGB", "ToRGB_lod0"), v) for name, v in tf_synthesis_variables(G)]
    with pytest.raises(ValueError, match=r"variables without a place in config F: \['synthesis/ToRGB_lod0/bias'"):
        load_official(write_tf(G, tmp_path / "g.pkl", tmp_path / "ran", synthesis_variables=variables))


def test_tf_without_the_4x4_trgb_is_refused(nvlabs, tmp_path):
    G = tiny_generator()
    variables = [(n, v) for n, v in tf_synthesis_variables(G) if not n.startswith("4x4/ToRGB")]
    with pytest.raises(ValueError, match=r"missing variables \['synthesis/4x4/ToRGB/weight'\]"):
        load_official(write_tf(G, tmp_path / "g.pkl", tmp_path / "ran", synthesis_variables=variables))


def test_tf_conditional_mapping_is_refused(nvlabs, tmp_path):
    G = tiny_generator()
    label = [("LabelConcat/weight", np.zeros((10, G.z_dim), np.float32))]
    with pytest.raises(ValueError, match=r"mapping/LabelConcat/weight"):
        load_official(write_tf(G, tmp_path / "g.pkl", tmp_path / "ran", mapping_variables=label))


def test_tf_missing_variable_is_named(nvlabs, tmp_path):
    G = tiny_generator()
    variables = [(n, v) for n, v in tf_synthesis_variables(G) if n != "8x8/Conv1/noise_strength"]
    with pytest.raises(ValueError, match=r"missing variables \['synthesis/8x8/Conv1/noise_strength'\]"):
        load_official(write_tf(G, tmp_path / "g.pkl", tmp_path / "ran", synthesis_variables=variables))
