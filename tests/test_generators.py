import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from gausslib.generators import Discriminator, Generator, Glow, GlowConfig, StyleGAN2Config, load, zoo
from gausslib.generators import glow as glow_mod
from gausslib.generators import ood, stylegan2_lite
from gausslib.generators.stylegan2 import downsample2d, modulated_conv2d, setup_filter, upfirdn2d, upsample2d

TINY_SG = dict(resolution=16, mapping_layers=2, channels={4: 8, 8: 8, 16: 4}, d_channels={4: 8, 8: 8, 16: 4})
DATA = Path(__file__).parent / "data"


def tiny_generator(seed=0, noise_strength=0.5):
    """A tiny official-architecture StyleGAN2 whose noise inputs have an effect (official init: 0)."""
    torch.manual_seed(seed)
    return Generator(StyleGAN2Config(**TINY_SG, noise_strength_init=noise_strength))


def tiny_glow(dtype=torch.float64, seed=0):
    g = Glow(GlowConfig(resolution=8, levels=2, steps=2, hidden=8), seed=seed).to(dtype)
    torch.manual_seed(seed)
    g.initialize(torch.rand(4, 1, 8, 8, dtype=dtype) * 2 - 1)
    with torch.no_grad():  # move away from the zero-initialised (identity) couplings and priors
        for p in g.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return g


# --------------------------------------------------------------------------- StyleGAN2
def test_stylegan2_api_shapes():
    G = tiny_generator()
    assert G.z_dim == 512 and G.num_ws == 6
    assert G.noise_shapes == [(1, 4, 4), (1, 8, 8), (1, 8, 8), (1, 16, 16), (1, 16, 16)]
    z = torch.randn(3, G.num_ws, G.z_dim)
    x = G(z)
    assert x.shape == (3, 1, 16, 16) and torch.isfinite(x).all()
    assert G.mapping(z).shape == (3, G.num_ws, G.w_dim)
    assert G.noise_strengths().shape == (len(G.noise_shapes),)
    noise = G.make_noise(3)
    assert torch.equal(G(z, noise), G.synthesis(G.mapping(z), noise))


def test_stylegan2_single_z_broadcasts_to_z_plus():
    G = tiny_generator()
    z, noise = torch.randn(2, G.z_dim), G.make_noise(2)
    assert torch.allclose(G(z, noise), G(z[:, None].expand(-1, G.num_ws, -1), noise))


def test_stylegan2_noise_replacement_changes_output_deterministically():
    G = tiny_generator()
    z = torch.randn(2, G.num_ws, G.z_dim)
    n1, n2 = G.make_noise(2, torch.Generator().manual_seed(1)), G.make_noise(2, torch.Generator().manual_seed(2))
    assert torch.equal(G(z, n1), G(z, n1))
    assert (G(z, n1) - G(z, n2)).abs().max() > 1e-3
    # the noise maps are differentiable inversion variables
    n1 = [n.requires_grad_() for n in n1]
    G(z, n1).sum().backward()
    assert all(n.grad is not None and n.grad.abs().sum() > 0 for n in n1)


def test_stylegan2_bad_inputs():
    G = tiny_generator()
    with pytest.raises(ValueError, match="z_plus"):
        G(torch.randn(2, 3, G.z_dim))
    with pytest.raises(ValueError, match="noise"):
        G(torch.randn(2, G.z_dim), G.make_noise(2)[:-1])


def test_stylegan2_same_seed_same_weights():
    a, b = tiny_generator(seed=4), tiny_generator(seed=4)
    z = torch.randn(1, 512)
    noise = a.make_noise(1)
    assert torch.equal(a(z, noise), b(z, noise))


def _demodulated(w, s):
    """Per-sample demodulated weights ``[B, C_out, C_in, k, k]`` (the fused formulation)."""
    ww = w[None] * s[:, None, :, None, None]
    return ww * torch.rsqrt(ww.square().sum(dim=(2, 3, 4), keepdim=True) + 1e-8)


def test_modulated_conv_equals_fused_grouped_conv():
    torch.manual_seed(0)
    x, w, s = torch.randn(3, 5, 6, 6), torch.randn(4, 5, 3, 3), torch.randn(3, 5)
    ref = F.conv2d(x.reshape(1, 15, 6, 6), _demodulated(w, s).reshape(12, 5, 3, 3), padding=1, groups=3)
    assert torch.allclose(modulated_conv2d(x, w, s), ref.reshape(3, 4, 6, 6), atol=1e-5)


def _reference_upfirdn(x, f, up, down, pad, gain):
    """Direct computation, pixel by pixel: zero insertion, padding, convolution sum, decimation."""
    b, c, h, w = x.shape
    z = torch.zeros(b, c, h * up, w * up, dtype=x.dtype)
    z[..., ::up, ::up] = x
    x0, x1, y0, y1 = pad
    z = F.pad(z, [x0, x1, y0, y1])
    kh, kw = f.shape
    out_h, out_w = z.shape[-2] - kh + 1, z.shape[-1] - kw + 1
    out = torch.zeros(b, c, out_h, out_w, dtype=x.dtype)
    for i in range(out_h):
        for j in range(out_w):
            # true convolution: the filter is flipped relative to the window
            out[..., i, j] = (z[..., i:i + kh, j:j + kw] * f.flip(0, 1) * gain).sum(dim=(-2, -1))
    return out[..., ::down, ::down]


@pytest.mark.parametrize("up,down,pad,gain", [(2, 1, (2, 1, 2, 1), 4.0), (1, 2, (1, 1, 1, 1), 1.0),
                                              (1, 1, (1, 2, 0, 3), 1.0), (2, 2, (1, 2, 2, 1), 2.0)])
def test_upfirdn2d_matches_direct_computation(up, down, pad, gain):
    torch.manual_seed(0)
    x = torch.randn(2, 3, 5, 6, dtype=torch.float64)
    f = torch.rand(4, 4, dtype=torch.float64)  # asymmetric: catches a flipped filter
    assert torch.allclose(upfirdn2d(x, f, up, down, pad, gain), _reference_upfirdn(x, f, up, down, pad, gain))


def test_fir_resampling_shapes_dc_gain_and_values():
    f = setup_filter()
    assert torch.allclose(f, torch.outer(torch.tensor([1.0, 3, 3, 1]), torch.tensor([1.0, 3, 3, 1])) / 64)
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    up, down = upsample2d(x, f.double()), downsample2d(x, f.double())
    assert up.shape == (2, 3, 16, 16) and down.shape == (2, 3, 4, 4)
    assert torch.allclose(up, _reference_upfirdn(x, f.double(), 2, 1, (2, 1, 2, 1), 4.0))
    ones = torch.ones(1, 1, 8, 8, dtype=torch.float64)  # a constant stays constant away from the border
    assert torch.allclose(upsample2d(ones, f.double())[..., 2:-2, 2:-2], torch.ones(1, 1, 12, 12, dtype=torch.float64))
    assert torch.allclose(downsample2d(ones, f.double())[..., 1:-1, 1:-1], torch.ones(1, 1, 2, 2, dtype=torch.float64))


def test_upsampling_modulated_conv_equals_upsample_then_convolve():
    """The stride-2 transposed convolution + FIR equals: zero insertion, FIR (gain 4), true convolution."""
    torch.manual_seed(0)
    x, w, s = torch.randn(2, 3, 5, 5, dtype=torch.float64), torch.randn(4, 3, 3, 3, dtype=torch.float64), \
        torch.randn(2, 3, dtype=torch.float64)
    f = setup_filter().double()
    got = modulated_conv2d(x, w, s, up=2, resample_filter=f)
    ww = _demodulated(w, s)
    # official fallback path: upfirdn2d(up=2, pad (3, 2)), then convolution with the flipped weight
    ref = F.conv2d(upfirdn2d(x, f, up=2, padding=(3, 2, 3, 2), gain=4.0).reshape(1, 6, 12, 12),
                   ww.flip(-2, -1).reshape(8, 3, 3, 3), groups=2).reshape(2, 4, 10, 10)
    assert got.shape == (2, 4, 10, 10) and torch.allclose(got, ref)


def test_demodulation_gives_unit_variance_rows():
    """With i.i.d. unit-variance inputs, each demodulated output channel has unit variance."""
    torch.manual_seed(0)
    x, w, s = torch.randn(64, 16, 24, 24), torch.randn(8, 16, 3, 3), torch.rand(64, 16) + 0.5
    y = modulated_conv2d(x, w, s)[..., 1:-1, 1:-1]
    assert torch.allclose(y.var(dim=(0, 2, 3)), torch.ones(8), atol=0.03)


def test_truncation():
    G = tiny_generator()
    G.mapping.w_avg.normal_()
    z = torch.randn(3, G.num_ws, G.z_dim)
    ws = G.map_z_plus(z)
    assert torch.allclose(G.map_z_plus(z, truncation_psi=0.0), G.w_avg.expand_as(ws), atol=1e-6)
    assert torch.equal(G.map_z_plus(z, truncation_psi=1.0), ws)
    half = G.map_z_plus(z, truncation_psi=0.5, truncation_cutoff=2)
    assert torch.allclose(half[:, :2], 0.5 * (ws[:, :2] + G.w_avg), atol=1e-6) and torch.equal(half[:, 2:], ws[:, 2:])
    noise = G.make_noise(3)
    assert torch.allclose(G(z, noise, truncation_psi=0.0), G.synthesis(G.w_avg.expand_as(ws), noise))
    with pytest.raises(ValueError, match="truncation_cutoff"):
        G.map_z_plus(z, truncation_psi=0.5, truncation_cutoff=G.num_ws + 1)


@pytest.mark.parametrize("strength", [0.0, 0.3])
def test_noise_changes_output_iff_strength_nonzero(strength):
    G = tiny_generator(noise_strength=strength)
    z = torch.randn(2, G.num_ws, G.z_dim)
    n1, n2 = G.make_noise(2, torch.Generator().manual_seed(1)), G.make_noise(2, torch.Generator().manual_seed(2))
    assert torch.equal(G(z, n1), G(z, n2)) == (strength == 0.0)
    # one layer alone: only its own strength gates its map
    G.synthesis.b16.conv0.noise_strength.data.fill_(0.7)
    n3 = [a if i != 3 else b for i, (a, b) in enumerate(zip(n1, n2))]
    assert not torch.equal(G(z, n1), G(z, n3))


def test_const_noise_and_official_names():
    G = tiny_generator()
    assert [tuple(n.shape[1:]) for n in G.const_noise()] == G.noise_shapes
    keys = set(G.state_dict())
    for k in ("mapping.fc0.weight", "mapping.fc1.bias", "mapping.w_avg", "synthesis.b4.const",
              "synthesis.b4.conv1.noise_strength", "synthesis.b8.conv0.noise_const", "synthesis.b8.conv0.affine.weight",
              "synthesis.b16.conv1.resample_filter", "synthesis.b16.torgb.weight", "synthesis.b8.resample_filter"):
        assert k in keys, k
    assert G.state_dict()["synthesis.b8.conv0.weight"].shape == (8, 8, 3, 3)
    assert G.state_dict()["synthesis.b4.const"].shape == (8, 4, 4)


def test_output_is_linear():
    G = tiny_generator()
    with torch.no_grad():
        G.synthesis.b16.torgb.bias.fill_(3.0)  # a tanh output could never reach 3
    assert G(torch.randn(2, G.z_dim)).mean() > 2.0


def test_config_errors():
    with pytest.raises(ValueError, match="resolution"):
        StyleGAN2Config(resolution=48)
    with pytest.raises(ValueError, match="channels"):
        StyleGAN2Config(resolution=32, channels={4: 8, 8: 8, 16: 8})
    with pytest.raises(ValueError, match="arch"):
        StyleGAN2Config(arch="lite")
    with pytest.raises(ValueError, match="upfirdn2d|x must be"):
        upfirdn2d(torch.randn(3, 8, 8), setup_filter())
    with pytest.raises(ValueError, match="resample_filter"):
        modulated_conv2d(torch.randn(1, 2, 4, 4), torch.randn(3, 2, 3, 3), torch.randn(1, 2), up=2)


@pytest.mark.parametrize("cls", [Discriminator, stylegan2_lite.Discriminator])
def test_discriminator_logits(cls):
    cfg = (StyleGAN2Config if cls is Discriminator else stylegan2_lite.StyleGAN2Config)(**TINY_SG)
    D = cls(cfg)
    assert D(torch.randn(4, 1, 16, 16)).shape == (4,)


def test_smooth_weights_load_with_their_images():
    """stylegan2-phantom64-smooth (StyleGAN2-lite) still draws the images it drew when it shipped."""
    if "stylegan2-phantom64-smooth" not in zoo.available():
        pytest.skip("stylegan2-phantom64-smooth not shipped")
    G = load("stylegan2-phantom64-smooth")
    assert isinstance(G, stylegan2_lite.Generator)
    assert zoo.sha256(zoo.resolve("stylegan2-phantom64-smooth")[0]) == \
        "8e4f425cb63392ffdb22f991f3aec95fa035424503f99c35864664b27b7d23f5"
    ref = torch.load(DATA / "stylegan2-smooth-ref.pt")
    g = torch.Generator().manual_seed(ref["seed"])
    z = torch.randn(2, G.num_ws, G.z_dim, generator=g)
    assert torch.allclose(G(z, G.make_noise(2, g)), ref["images"].float(), atol=1e-3, rtol=0)  # stored as float16


def test_export_refuses_to_overwrite_an_aliased_file(weights_dir):
    table = json.loads((weights_dir / "checksums.json").read_text())
    table["alias"] = dict(table["tiny-sg"])
    (weights_dir / "checksums.json").write_text(json.dumps(table))
    G = tiny_generator(seed=1)
    src = weights_dir.parent / "other.pt"
    torch.save({"kind": "stylegan2", "config": G.cfg.to_dict(), "state_dict": G.state_dict(), "meta": {}}, src)
    with pytest.raises(ValueError, match="alias"):
        zoo.export(src, "tiny-sg", weights_dir=weights_dir)


# --------------------------------------------------------------------------- Glow
def test_glow_invertible_and_shapes():
    g = tiny_glow()
    x = torch.rand(3, 1, 8, 8, dtype=torch.float64) * 2 - 1
    eps = g.encode(x)
    assert [tuple(e.shape[1:]) for e in eps] == g.latent_shapes == [(2, 4, 4), (8, 2, 2)]
    assert (g.decode(eps) - x).abs().max() < 1e-10
    assert g.log_prob(x).shape == (3,)


def test_glow_roundtrip_float32():
    g = tiny_glow(torch.float32)
    x = torch.rand(3, 1, 8, 8) * 2 - 1
    assert (g.decode(g.encode(x)) - x).abs().max() <= 1e-4


def test_glow_logdet_matches_autograd_jacobian():
    g = tiny_glow()
    x = torch.rand(1, 1, 8, 8, dtype=torch.float64) * 2 - 1

    def flat(v):
        return torch.cat([e.flatten() for e in g(v.view(1, 1, 8, 8))[0]])

    jac = torch.autograd.functional.jacobian(flat, x.flatten())
    _, logdet = g(x)
    assert torch.allclose(torch.linalg.slogdet(jac)[1], logdet[0], atol=1e-8)


def test_glow_sample_temperature_and_seed():
    g = tiny_glow(torch.float32)
    a = g.sample(2, temperature=0.7, generator=torch.Generator().manual_seed(0))
    b = g.sample(2, temperature=0.7, generator=torch.Generator().manual_seed(0))
    assert a.shape == (2, 1, 8, 8) and torch.equal(a, b)
    z1 = g.sample_latents(4000, temperature=1.0, generator=torch.Generator().manual_seed(1))
    z7 = g.sample_latents(4000, temperature=0.7, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(z7[0], 0.7 * z1[0])


def test_glow_p1_p2_layouts_are_exact_permutations():
    g = tiny_glow()
    eps = [torch.randn(2, *s, dtype=torch.float64) for s in g.latent_shapes]
    p1 = glow_mod.to_p1(eps)
    assert p1.shape == (2, 1, 8, 8)
    assert all(torch.equal(a, b) for a, b in zip(glow_mod.from_p1(p1, g.latent_shapes), eps))
    p2 = glow_mod.to_p2(eps, group=1)
    assert [tuple(m.shape) for m in p2] == [(2, 1, 8, 4), (2, 1, 16, 2)]
    assert all(torch.equal(a, b) for a, b in zip(glow_mod.from_p2(p2, g.latent_shapes), eps))
    # P1 is the layout the flow itself uses: ordering of entries is a permutation of all latents
    assert torch.equal(p1.flatten(1).sort(dim=1)[0], torch.cat([e.flatten(1) for e in eps], 1).sort(dim=1)[0])


def test_squeeze_unsqueeze_inverse():
    x = torch.randn(2, 3, 8, 6)
    assert glow_mod.squeeze(x).shape == (2, 12, 4, 3)
    assert torch.equal(glow_mod.unsqueeze(glow_mod.squeeze(x)), x)


# --------------------------------------------------------------------------- zoo
@pytest.fixture
def weights_dir(tmp_path):
    G = tiny_generator()
    src = tmp_path / "ema.pt"
    torch.save({"kind": "stylegan2", "config": G.cfg.to_dict(), "state_dict": G.state_dict(), "meta": {}}, src)
    zoo.export(src, "tiny-sg", weights_dir=tmp_path / "w")
    return tmp_path / "w"


def test_load_by_name_frozen_eval(weights_dir):
    G = load("tiny-sg", weights_dir=weights_dir)
    assert not G.training and not any(p.requires_grad for p in G.parameters())
    ref = tiny_generator()
    z, noise = torch.randn(1, 512), ref.make_noise(1)
    assert torch.equal(G(z, noise), ref(z, noise))


def test_load_corrupted_file_names_file_and_checksum(weights_dir):
    path = weights_dir / "tiny-sg.pt"
    expected = json.loads((weights_dir / "checksums.json").read_text())["tiny-sg"]["sha256"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError) as err:
        load("tiny-sg", weights_dir=weights_dir)
    assert str(path) in str(err.value) and expected in str(err.value)


def test_load_missing_file_names_file_and_checksum(weights_dir):
    path = weights_dir / "tiny-sg.pt"
    expected = json.loads((weights_dir / "checksums.json").read_text())["tiny-sg"]["sha256"]
    path.unlink()
    with pytest.raises(FileNotFoundError) as err:
        load("tiny-sg", weights_dir=weights_dir)
    assert str(path) in str(err.value) and expected in str(err.value)


def test_load_unknown_name(weights_dir):
    with pytest.raises(ValueError, match="tiny-sg"):
        load("no-such-model", weights_dir=weights_dir)


class _RunsCode:
    """Unpickling this runs code: it touches ``marker`` (what a crafted checkpoint would do worse)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"import pathlib; pathlib.Path({self.marker!r}).touch()",))


def test_a_file_that_needs_code_is_refused_before_it_runs(weights_dir, tmp_path):
    marker = tmp_path / "code-ran"
    G = tiny_generator()
    crafted = tmp_path / "crafted.pt"
    torch.save({"kind": "stylegan2", "config": G.cfg.to_dict(), "state_dict": G.state_dict(),
                "meta": {"note": _RunsCode(marker)}}, crafted)
    for read in (lambda: load(crafted), lambda: zoo.export(crafted, "crafted", weights_dir=weights_dir)):
        with pytest.raises(ValueError, match="arbitrary code"):
            read()
    assert not marker.exists()


def test_a_file_that_is_not_a_payload_is_refused(tmp_path):
    path = tmp_path / "tensor.pt"
    torch.save(torch.zeros(3), path)
    with pytest.raises(ValueError, match="not a gausslib weights file"):
        load(path)


def test_a_copy_of_shipped_weights_is_checked_by_its_file_name(weights_dir, tmp_path):
    """A path elsewhere whose file name is a shipped file's must match that file's SHA-256."""
    elsewhere = tmp_path / "copy"
    elsewhere.mkdir()
    copy = elsewhere / "tiny-sg.pt"
    copy.write_bytes((weights_dir / "tiny-sg.pt").read_bytes())
    assert isinstance(load(copy, weights_dir=weights_dir), torch.nn.Module)
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="checksum mismatch"):
        load(copy, weights_dir=weights_dir)


@pytest.mark.parametrize("name", ["stylegan2-phantom64", "stylegan2-phantom64-smooth", "glow-phantom64", "glow-phantom64-smooth"])
def test_shipped_model_loads_and_generates(name):
    if name not in zoo.available():
        pytest.skip(f"{name} not shipped yet")
    model = load(name)
    assert model.resolution == 64
    if hasattr(model, "latent_shapes"):
        x = model.sample(2, temperature=0.7, generator=torch.Generator().manual_seed(0))
        assert (model.decode(model.encode(x)) - x).abs().max() <= 1e-4
    else:
        assert model.z_dim == 512
        x = model(torch.randn(2, model.num_ws, model.z_dim))
    assert x.shape == (2, 1, 64, 64) and torch.isfinite(x).all()


# --------------------------------------------------------------------------- OOD latents
def _moments(x):
    x = x.flatten().double()
    x = (x - x.mean()) / x.std()
    return float((x ** 3).mean()), float((x ** 4).mean())


def test_ood_latent_statistics():
    gen = torch.Generator().manual_seed(0)
    shape = (200, 4, 16, 16)
    skew, _ = _moments(ood.deviant(shape, "skewed", gen))
    _, kurt = _moments(ood.deviant(shape, "heavy", gen))
    assert skew < -0.8 and kurt > 6.0
    assert 1.9 < ood.deviant(shape, "norm2x", gen).std() < 2.1
    nid = ood.deviant(shape, "noniid", gen)
    assert nid.mean(dim=(0, 1)).std() > 0.5  # a shared spatial pattern: entries are not i.i.d.
    for kind in ("gaussian", "skewed", "heavy"):
        assert 0.9 < ood.deviant(shape, kind, gen).std() < 1.1


def test_ood_render_shapes():
    G = tiny_generator()
    g = tiny_glow(torch.float32)
    assert ood.render(G, "heavy", 2).shape == (2, 1, 16, 16)
    assert ood.render(g, "noniid", 2).shape == (2, 1, 8, 8)


# --------------------------------------------------------------------------- noise-map evaluation
def test_noise_redraw_psnr_tracks_noise_strength():
    from gausslib.generators.evaluate import noise_redraw_psnr

    inert = noise_redraw_psnr(tiny_generator(noise_strength=0.0), n=8, batch=4)
    assert inert["mean_db"] == float("inf") and inert["per_layer_db"] == [100.0] * 5
    weak = noise_redraw_psnr(tiny_generator(noise_strength=0.05), n=8, batch=4)
    strong = noise_redraw_psnr(tiny_generator(noise_strength=1.0), n=8, batch=4)
    assert strong["mean_db"] < weak["mean_db"] < 100 and strong["min_db"] <= strong["mean_db"] <= strong["max_db"]
    G = tiny_generator(noise_strength=0.0)
    G.synthesis.b8.conv1.noise_strength.data.fill_(1.0)  # only the third map (8×8, second conv) is live
    per_layer = noise_redraw_psnr(G, n=4)["per_layer_db"]
    assert per_layer[2] < 100 and all(v == 100.0 for i, v in enumerate(per_layer) if i != 2)
    with pytest.raises(TypeError, match="StyleGAN2"):
        noise_redraw_psnr(tiny_glow(torch.float32))


def test_ood_render_targets():
    G = tiny_generator(noise_strength=0.0)  # noise maps have no effect: only the styles matter
    assert torch.equal(ood.render(G, "heavy", 2, target="style"), ood.render(G, "heavy", 2, target="all"))
    assert torch.equal(ood.render(G, "norm2x", 2, target="noise"), ood.render(G, "gaussian", 2))
    G = tiny_generator(noise_strength=1.0)
    assert not torch.equal(ood.render(G, "norm2x", 2, target="noise"), ood.render(G, "gaussian", 2))
    with pytest.raises(ValueError, match="target"):
        ood.render(G, "heavy", 2, target="mapping")


def test_ood_scores_relative_to_gaussian():
    from gausslib import phantoms

    G = tiny_generator(noise_strength=1.0)
    real = phantoms.sample(24, size=16, seed=1, kind="textured")
    out = ood.scores(G, real, target="noise", batch=8)
    assert set(out) == set(ood.KINDS) and out["gaussian"]["ratio"] == 1.0
    assert all(v["swd"] > 0 and v["ratio"] > 0 for v in out.values())
    assert list(out["heavy"]["levels"])[0] == "swd_16"                         # per level, finest first
    assert all(r == 1.0 for r in out["gaussian"]["levels"].values())


def test_figures_return_axes(tmp_path):
    from gausslib import phantoms
    from gausslib.generators.evaluate import noise_redraw_figure

    import matplotlib.pyplot as plt

    fig, axes = noise_redraw_figure(tiny_generator(), tmp_path / "redraw.png", n=3)
    assert axes.shape == (3, 3) and (tmp_path / "redraw.png").exists()
    plt.close(fig)
    ood.figure({"tiny": tiny_generator()}, tmp_path / "ood-noise.png", n=1, target="noise")
    assert (tmp_path / "ood-noise.png").exists()
    fig, axes = phantoms.figure(n=2, size=32)
    assert axes.shape == (4, 2)
    plt.close(fig)
    with pytest.raises(ValueError, match="kinds"):
        phantoms.figure(kinds=("ct",))


def test_each_shipped_generator_belongs_to_one_generation():
    from gausslib.generators.evaluate import GENERATIONS, generation_of

    assert generation_of("stylegan2-phantom64") == generation_of("glow-phantom64") == "textured"
    assert generation_of("stylegan2-phantom64-smooth") == "brain" and GENERATIONS["smooth"] == GENERATIONS["brain"]
    with pytest.raises(ValueError, match="name"):
        generation_of("my-own-model")


def test_a_missing_file_given_by_path_is_named_without_a_checksum(tmp_path):
    from gausslib.generators import load

    with pytest.raises(FileNotFoundError, match="not found$"):
        load(tmp_path / "absent.pt")
