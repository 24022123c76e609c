"""Shared fixtures (float64 default dtype on request, every available device) and helpers that
tests import with ``from conftest import …``: tiny random generators and problems."""
import pytest
import torch

from gausslib.generators import stylegan2, stylegan2_lite
from gausslib.invert import Problem
from gausslib.operators.mri import MRI, mri_mask

_DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture
def float64():
    """Run the test with float64 as torch's default dtype (restored afterwards)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield torch.float64
    torch.set_default_dtype(old)


@pytest.fixture(params=_DEVICES)
def device(request):
    """Each available device (``cpu``, plus ``cuda`` where present)."""
    return torch.device(request.param)


def tiny_stylegan2(dtype=torch.float32, resolution=16, z_dim=64, arch="lite"):
    """Return a frozen, randomly initialised StyleGAN2 small enough for unit tests.

    ``arch="lite"`` by default: the PSNR thresholds below were calibrated on its tanh-bounded images;
    an untrained official generator's linear output spans about ±5, which PSNR over the range 2 of
    real images penalises (a trained one outputs [−1, 1]).
    """
    torch.manual_seed(0)
    ch = {r: 8 for r in (4, 8, 16, 32)}
    mod = stylegan2_lite if arch == "lite" else stylegan2
    G = mod.Generator(resolution=resolution, z_dim=z_dim, w_dim=z_dim, mapping_layers=2, channels=ch, d_channels=ch)
    return G.to(dtype).eval().requires_grad_(False)


def generator_targets(G, n, seed=1000):
    """Return ``n`` images drawn from G with seeds never used for inversion (one style vector)."""
    g = torch.Generator().manual_seed(seed)
    dtype = next(G.parameters()).dtype
    z = torch.randn(n, G.z_dim, generator=g, dtype=dtype)
    noise = [t.to(dtype) for t in G.make_noise(n, g)]
    with torch.no_grad():
        return G(z, noise)


def mri_problem(G, n=2, accel=2.0, seed=1000):
    x = generator_targets(G, n, seed)
    op = MRI(mri_mask(x.shape[-1], accel, seed=0)).to(x.dtype)
    return Problem(op, op(x), x_true=x)


@pytest.fixture(scope="session")
def weights(tmp_path_factory):
    """A folder with tiny random generator files for the study CLI: ``sg2.pt`` and ``glow.pt``."""
    from gausslib.generators.glow import Glow

    folder = tmp_path_factory.mktemp("weights")
    G = tiny_stylegan2(resolution=16)
    torch.save({"kind": "stylegan2", "config": G.cfg.to_dict(), "state_dict": G.state_dict(), "meta": {}},
               folder / "sg2.pt")
    torch.manual_seed(0)
    glow = Glow(resolution=16, levels=2, steps=1, hidden=8)
    torch.save({"kind": "glow", "config": glow.cfg.to_dict(), "state_dict": glow.state_dict(), "meta": {}},
               folder / "glow.pt")
    return folder
