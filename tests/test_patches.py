import pytest
import torch

from gausslib.patches import patchify, unpatchify


@pytest.mark.parametrize("roll", [False, True])
@pytest.mark.parametrize("shape,p,expected", [
    ((2, 14, 512), 32, (2, 224, 32)),          # StyleGAN2 z+ style vectors
    ((3, 3, 128, 128), 8, (3, 256, 192)),       # Glow P1 latent
    ((1, 1, 16, 24), 8, (1, 6, 64)),
])
def test_roundtrip_and_shape(shape, p, expected, roll, device):
    x = torch.randn(shape, device=device)
    X = patchify(x, p, roll=roll)
    assert X.shape == expected
    assert torch.equal(unpatchify(X, x.shape, p, roll=roll), x)


def test_pooled_maps_roundtrip():
    maps = [torch.randn(2, 1, s, s) for s in (8, 16, 32, 64, 128, 256)]
    X = patchify(maps, 8)
    assert X.shape == (2, sum((s // 8) ** 2 for s in (8, 16, 32, 64, 128, 256)), 64)
    back = unpatchify(X, [m.shape for m in maps], 8)
    assert all(torch.equal(a, b) for a, b in zip(back, maps))


def test_patch_contents():
    x = torch.arange(2 * 4 * 4.0).reshape(1, 2, 4, 4)
    X = patchify(x, 2)
    assert torch.equal(X[0, 0], x[0, :, :2, :2].reshape(-1))
    assert torch.equal(X[0, 1], x[0, :, :2, 2:].reshape(-1))
    v = torch.arange(12.0).reshape(1, 2, 6)
    assert torch.equal(patchify(v, 3)[0], torch.arange(12.0).reshape(4, 3))


def test_roll_shifts_by_half_a_patch():
    x = torch.arange(16.0).reshape(1, 1, 16)
    assert torch.equal(patchify(x, 4, roll=True)[0, 0], torch.tensor([14.0, 15.0, 0.0, 1.0]))


@pytest.mark.parametrize("bad", [torch.randn(3, 10), torch.randn(1, 1, 1, 1, 8), torch.randn(1, 2, 10)])
def test_bad_shapes_raise(bad):
    with pytest.raises(ValueError, match="shape"):
        patchify(bad, 4)


def test_unpatchify_checks_shape():
    with pytest.raises(ValueError, match="shape"):
        unpatchify(torch.randn(1, 10, 4), (1, 2, 16), 4)
