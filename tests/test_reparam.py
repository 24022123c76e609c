import math

import pytest
import torch

from gausslib.generators.glow import Glow
from gausslib.reparam import Gaussianized, Mixed, Orthogonal, Raw, Spherical, latent_space
from conftest import tiny_stylegan2

SMALL = dict(psize=16, noise_psize=4)  # n ≥ d for the tiny generator's latents


@pytest.fixture(scope="module")
def G():
    return tiny_stylegan2()


@pytest.fixture(scope="module")
def glow():
    torch.manual_seed(0)
    return Glow(resolution=16, levels=2, steps=2, hidden=8).eval().requires_grad_(False)


ALL = [Raw(**SMALL), Raw(beta=0.1, **SMALL), Spherical(**SMALL), Orthogonal(**SMALL), Gaussianized(**SMALL)]


@pytest.mark.parametrize("rp", ALL, ids=lambda r: type(r).__name__)
def test_every_reparam_renders_images(G, rp):
    b = rp.bind(G, [0, 1, 2])
    x = b.images(b.x0)
    assert x.shape == (3, 1, 16, 16) and bool(torch.isfinite(x).all())
    assert b.penalty(b.x0).shape == (3,)
    assert b.latent(b.x0).shape == (3, G.num_ws * G.z_dim // 16, 16)


def test_all_reparams_start_from_the_seed_draws(G):
    # Orthogonal with A = 0 is the identity rotation: the same latent as Raw; Gaussianized maps
    # the same draws; every item's draw depends on its own seed only
    raw, orth = Raw(**SMALL).bind(G, [4, 5]), Orthogonal(**SMALL).bind(G, [4, 5])
    assert torch.allclose(raw.images(raw.x0), orth.images(orth.x0), atol=1e-5)
    alone = Raw(**SMALL).bind(G, [5])
    assert torch.equal(alone.x0[0], raw.x0[1])


def test_noise_modes(G):
    free, fixed = Raw(noise="free", **SMALL).bind(G, [0]), Raw(noise="fixed", **SMALL).bind(G, [0])
    n_noise = sum(math.prod(s) for s in G.noise_shapes)
    assert free.x0.shape[1] - fixed.x0.shape[1] == n_noise
    assert fixed.x0.shape[1] == G.num_ws * G.z_dim
    # fixed noise still reaches the generator: same images as the free start
    assert torch.allclose(free.images(free.x0), fixed.images(fixed.x0))


def test_spherical_radius(G):
    b = Spherical(**SMALL).bind(G, [0, 1])
    z = b.latents(3 * b.x0)[0][0]
    assert torch.allclose(z.flatten(1).norm(dim=1), torch.full((2,), math.sqrt(z[0].numel())))


def test_orthogonal_rotation_preserves_patch_norms(G):
    b = Orthogonal(**SMALL).bind(G, [0])
    p = b.x0 + 0.3 * torch.randn(b.x0.shape, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(b.latent(p).norm(dim=-1), b.latent(b.x0).norm(dim=-1), atol=1e-5)


def test_gaussianized_output_is_standardised(G):
    b = Gaussianized(**SMALL).bind(G, [0])
    skewed = b.x0.exp()  # a strongly skewed latent
    z = b.latent(skewed).flatten(1)
    assert abs(float(z.mean())) < 1e-4 and abs(float(z.std()) - 1) < 1e-3


def test_raw_penalty_is_beta_norm_squared(G):
    b = Raw(beta=0.5, noise="fixed", **SMALL).bind(G, [0])
    assert torch.allclose(b.penalty(b.x0), 0.5 * b.x0.square().sum(1))


@pytest.mark.parametrize("layout", ["P1", "P2"])
@pytest.mark.parametrize("roll", [False, True])
def test_glow_layouts_round_trip_and_temperature(glow, layout, roll):
    space = latent_space(glow, layout=layout, glow_psize=4)
    draws = space.draw([0, 1])[0]
    group = space.groups[0]
    back = group.from_matrix(group.to_matrix(draws, roll=roll), roll=roll)
    assert all(torch.equal(a, c) for a, c in zip(draws, back))
    b = Gaussianized(layout=layout, glow_psize=4, roll=roll).bind(glow, [0, 1])
    lat = torch.cat([t.flatten(1) for t in b.latents(b.x0)[0]], 1)
    assert torch.allclose(lat.std(1), torch.full((2,), 0.7), atol=1e-3)  # temperature 0.7


def test_bad_input(G):
    with pytest.raises(ValueError, match="noise"):
        Raw(noise="sometimes")
    with pytest.raises(ValueError, match="beta"):
        Raw(beta=-1.0)
    with pytest.raises(ValueError, match="layers"):
        Gaussianized(layers=dict(temperature=2.0))
    with pytest.raises(TypeError, match="generator"):
        Raw().bind(torch.nn.Linear(2, 2), [0])
    with pytest.raises(ValueError, match="layout"):
        latent_space(Glow(resolution=16, levels=2, steps=1, hidden=4), layout="P3")


@pytest.mark.parametrize("name", ["psize", "noise_psize", "glow_psize"])
@pytest.mark.parametrize("value", [0, -16, 2.5])
def test_patch_sizes_must_be_positive_ints(G, name, value):
    with pytest.raises(ValueError, match=name):
        Raw(**{name: value})
    with pytest.raises(ValueError, match=name):
        latent_space(G, **{name: value})


def test_mixed_takes_each_part_from_its_own_reparam(G):
    # Table 5's g/o: the style exactly as the G layers make it, the noise maps exactly as the orthogonal one
    seeds = [0, 1]
    mixed = Mixed(Gaussianized(**SMALL), Orthogonal(**SMALL)).bind(G, seeds)
    gl, orth = Gaussianized(**SMALL).bind(G, seeds), Orthogonal(**SMALL).bind(G, seeds)
    kinds = [g.kind for g in mixed.space.groups]
    assert kinds[:2] == ["style", "noise"] and mixed.sizes[0] == gl.sizes[0] and mixed.sizes[1] == orth.sizes[1]
    step = 0.1 * torch.randn(mixed.x0.shape, generator=torch.Generator().manual_seed(1))
    p = mixed.x0 + step
    pg = torch.cat([p[:, :gl.sizes[0]], gl.x0[:, gl.sizes[0]:]], 1)
    po = torch.cat([orth.x0[:, :orth.sizes[0]], p[:, mixed.sizes[0]:]], 1)
    got = mixed.latents(p)
    assert torch.equal(got[0][0], gl.latents(pg)[0][0])
    assert all(torch.equal(a, b) for a, b in zip(got[1], orth.latents(po)[1]))
    for k in range(2, len(got)):                                                  # small maps: free in both
        assert all(torch.equal(a, b) for a, b in zip(got[k], orth.latents(po)[k]))
    assert mixed.images(p).shape == (2, 1, 16, 16)

    live = tiny_stylegan2()                                     # noise strengths start at 0: make the maps count
    with torch.no_grad():
        for name, w in live.named_parameters():
            if name.endswith("noise_strength"):
                w.fill_(0.5)
    live_mixed = Mixed(Gaussianized(**SMALL), Orthogonal(**SMALL)).bind(live, seeds)
    q = p.clone().requires_grad_(True)
    live_mixed.images(q).square().sum().backward()             # both parts are optimised
    assert all(bool(g.abs().sum() > 0) for g in q.grad.split(live_mixed.sizes, 1))


def test_mixed_refuses_what_it_cannot_split(G, glow):
    with pytest.raises(ValueError, match="penalty"):
        Mixed(Gaussianized(**SMALL), Raw(beta=0.1, **SMALL))
    with pytest.raises(ValueError, match="latent-space options"):
        Mixed(Gaussianized(**SMALL), Orthogonal())
    with pytest.raises(TypeError, match="noise must be a Reparam"):
        Mixed(Gaussianized(**SMALL), "orthogonal")
    with pytest.raises(TypeError, match="StyleGAN2"):
        Mixed(Gaussianized(glow_psize=4), Orthogonal(glow_psize=4)).bind(glow, [0])
