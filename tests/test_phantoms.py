import pytest
import torch

from gausslib import phantoms


@pytest.mark.parametrize("kind", phantoms.KINDS)
@pytest.mark.parametrize("size", [32, 40])
def test_shape_range_dtype(kind, size):
    x = phantoms.sample(5, size=size, seed=3, kind=kind)
    assert x.shape == (5, 1, size, size) and x.dtype == torch.float32
    assert x.min() >= -1.0 and x.max() <= 1.0
    assert torch.isfinite(x).all()


def test_seeded():
    a, b = phantoms.sample(4, size=32, seed=7), phantoms.sample(4, size=32, seed=7)
    assert torch.equal(a, b)
    c = phantoms.sample(4, size=32, seed=8)
    assert (a - c).abs().mean() > 0.05
    # images within one batch differ too
    assert (a[0] - a[1]).abs().mean() > 0.05


def test_anatomy_background_and_head():
    x = phantoms.sample(16, size=64, seed=0)
    corners = torch.cat([x[..., :4, :4], x[..., -4:, -4:]], dim=-1)
    centre = x[..., 24:40, 24:40]
    assert corners.mean() < -0.8  # dark background
    assert centre.mean() > corners.mean() + 0.8  # bright brain tissue inside


def test_ood_has_bright_tumour_ring():
    brain = phantoms.sample(64, size=64, seed=1, kind="brain")
    ood = phantoms.sample(64, size=64, seed=1, kind="ood")
    frac = lambda x: (x > 0.85).float().mean()  # noqa: E731
    assert frac(ood) > 1.5 * frac(brain)


@pytest.mark.parametrize("kw", [dict(n=-1), dict(n=2, size=4), dict(n=2, kind="ct")])
def test_bad_arguments(kw):
    with pytest.raises(ValueError):
        phantoms.sample(**kw)
