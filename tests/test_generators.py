import json

import pytest
import torch
import torch.nn.functional as F

from gausslib.generators import Discriminator, Generator, Glow, GlowConfig, StyleGAN2Config, load, zoo
from gausslib.generators import glow as glow_mod
from gausslib.generators import ood
from gausslib.generators.stylegan2 import modulated_conv2d

TINY_SG = dict(resolution=16, mapping_layers=2, channels={4: 8, 8: 8, 16: 4}, d_channels={4: 8, 8: 8, 16: 4})


def tiny_generator(seed=0):
    torch.manual_seed(seed)
    G = Generator(StyleGAN2Config(**TINY_SG))
    for conv in G.synthesis.convs:  # noise strengths start at 0; give the noise an effect
        conv.noise_strength.data.fill_(0.5)
    return G


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
    assert x.shape == (3, 1, 16, 16) and x.abs().max() <= 1.0
    assert G.mapping(z).shape == (3, G.num_ws, G.w_dim)
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


def test_modulated_conv_equals_fused_grouped_conv():
    torch.manual_seed(0)
    x, w, s = torch.randn(3, 5, 6, 6), torch.randn(4, 5, 3, 3), torch.randn(3, 5)
    ww = w[None] * s[:, None, :, None, None]
    ww = ww * torch.rsqrt(ww.square().sum(dim=(2, 3, 4), keepdim=True) + 1e-8)
    ref = F.conv2d(x.reshape(1, 15, 6, 6), ww.reshape(12, 5, 3, 3), padding=1, groups=3).reshape(3, 4, 6, 6)
    assert torch.allclose(modulated_conv2d(x, w, s), ref, atol=1e-5)


def test_discriminator_logits():
    D = Discriminator(StyleGAN2Config(**TINY_SG))
    assert D(torch.randn(4, 1, 16, 16)).shape == (4,)


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


@pytest.mark.parametrize("name", ["stylegan2-phantom64", "glow-phantom64"])
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
