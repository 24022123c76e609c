"""Pathological style vectors from an unconstrained inversion, repaired by the layers (paper Fig. 10)."""
import pytest
import torch

from gausslib import pathological
from gausslib.generators import Glow, GlowConfig
from conftest import tiny_stylegan2


@pytest.fixture(scope="module")
def found_on_tiny():
    G = tiny_stylegan2(z_dim=512)
    return G, pathological.find(G, 2, iters=15)


def test_find_returns_the_inversion_latents_and_images(found_on_tiny):
    G, found = found_on_tiny
    (zplus,), *noise = found.latents
    assert zplus.shape == (2, G.num_ws, G.z_dim)
    assert found.targets.shape == found.images.shape == (2, 1, G.resolution, G.resolution)
    assert found.psnr.shape == (2,) and torch.isfinite(found.psnr).all()
    # the "found" column renders exactly what the inversion ended with
    cols = pathological.repair(G, found)
    torch.testing.assert_close(cols["found"]["images"], found.images)


def test_repair_gaussianizes_the_style_vectors_only_where_asked(found_on_tiny):
    G, found = found_on_tiny
    cols = pathological.repair(G, found)
    assert list(cols) == list(pathological.VARIANTS)
    for name, col in cols.items():
        assert col["images"].shape == found.images.shape and torch.isfinite(col["images"]).all(), name
    full = cols["G layers"]
    assert torch.allclose(full["kurtosis"], torch.full_like(full["kurtosis"], 3.0), atol=0.05)
    assert torch.allclose(full["skewness"], torch.zeros_like(full["skewness"]), atol=0.05)
    for name in ("whitened", "whitened + ICA", "G layers"):       # standardised to the typical norm
        assert torch.allclose(cols[name]["norm_ratio"], torch.ones(2, dtype=torch.float64), atol=1e-3), name


def test_plausibility_is_bits_per_dim_under_a_density_model(found_on_tiny):
    G, found = found_on_tiny
    glow = Glow(GlowConfig(resolution=G.resolution, levels=2, steps=1, hidden=8), seed=0)
    glow.initialize(torch.rand(4, 1, G.resolution, G.resolution) * 2 - 1)
    cols = pathological.repair(G, found, density=glow)
    bpd = cols["found"]["bits_per_dim"]
    assert bpd.shape == (2,) and torch.isfinite(bpd).all() and (bpd > 0).all()
    q = torch.floor((found.images.clamp(-1, 1) + 1) * 128).clamp(0, 255)
    with torch.no_grad():
        torch.testing.assert_close(bpd, glow.bits_per_dim((q + 0.5) / 128 - 1))


def test_find_needs_a_stylegan2():
    glow = Glow(GlowConfig(resolution=8, levels=2, steps=1, hidden=8), seed=0)
    with pytest.raises(TypeError, match="StyleGAN2"):
        pathological.find(glow)
