"""Shared properties of every linear operator: adjointness, dtype/device following, buffers."""
import pytest
import torch

from gausslib.operators import MRI, GaussianBlur, mri_mask

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])

# (name, operator factory, input shape, whether the input is complex)
LINEAR = [
    ("mri-random-8x", lambda: MRI(mri_mask(32, 8, "random", seed=0)), (2, 1, 32, 32), False),
    ("mri-cartesian-4x", lambda: MRI(mri_mask((32, 24), 4, "cartesian", seed=1)), (2, 2, 32, 24), False),
    ("mri-radial-complex", lambda: MRI(mri_mask(32, 6, "radial", seed=2), real=False), (2, 1, 32, 32), True),
    ("blur-sigma3", lambda: GaussianBlur(3.0), (2, 3, 20, 17), False),
    # radius larger than the image: reflections wrap more than once
    ("blur-wide", lambda: GaussianBlur(2.0, radius=15), (1, 2, 9, 11), False),
    ("blur-sigma0.7", lambda: GaussianBlur(0.7), (3, 1, 8, 8), False),
    ("blur-symmetric-wide", lambda: GaussianBlur(2.0, radius=15, padding="symmetric"), (1, 2, 9, 11), False),
]


def _randn(shape, complex_, generator, device):
    x = torch.randn(shape, generator=generator, dtype=torch.float64).to(device)
    if complex_:
        x = torch.complex(x, torch.randn(shape, generator=generator, dtype=torch.float64).to(device))
    return x


def _inner(a, b):
    return torch.vdot(a.flatten().to(torch.complex128), b.flatten().to(torch.complex128)).real


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name,make,shape,complex_", LINEAR, ids=[c[0] for c in LINEAR])
def test_adjoint_dot(name, make, shape, complex_, device):
    """|⟨Ax, y⟩ − ⟨x, Aᴴy⟩| / (‖Ax‖‖y‖) ≤ 1e-6 in float64 (real inner product)."""
    g = torch.Generator().manual_seed(0)
    op = make().to(device)
    x = _randn(shape, complex_, g, device)
    Ax = op(x)
    y = _randn(Ax.shape, torch.is_complex(Ax), g, device)
    gap = (_inner(Ax, y) - _inner(x, op.adjoint(y))).abs() / (Ax.norm() * y.norm())
    assert gap <= 1e-6, f"{name}: dot-test gap {gap:.2e}"


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name,make,shape,complex_", LINEAR, ids=[c[0] for c in LINEAR])
def test_dtype_device_follow_input(name, make, shape, complex_, device, dtype):
    op = make().to(device)
    x = torch.randn(shape, dtype=dtype, device=device)
    y = op(x)
    assert y.device == x.device and y.real.dtype == dtype
    assert op.adjoint(y).real.dtype == dtype


@pytest.mark.parametrize("name,make,shape,complex_", LINEAR, ids=[c[0] for c in LINEAR])
def test_gradient_is_adjoint(name, make, shape, complex_):
    """Autograd through the forward gives Aᴴ of the cotangent (so inversions get exact gradients)."""
    op = make()
    g = torch.Generator().manual_seed(1)
    x = _randn(shape, complex_, g, "cpu").requires_grad_(True)
    y = op(x)
    w = _randn(y.shape, torch.is_complex(y), g, "cpu")
    (grad,) = torch.autograd.grad(_inner(y, w), x)
    assert torch.allclose(grad, op.adjoint(w), atol=1e-12)


@pytest.mark.parametrize("name,make,shape,complex_", LINEAR, ids=[c[0] for c in LINEAR])
def test_buffers_move_with_module(name, make, shape, complex_):
    op = make().to(torch.float64)
    assert all(b.dtype == torch.float64 for b in op.buffers())
    assert len(list(op.buffers())) >= 1


@pytest.mark.parametrize("module", ["mri", "blur", "eikonal"])
def test_docstring_examples(module):
    import doctest
    import importlib

    mod = importlib.import_module(f"gausslib.operators.{module}")
    result = doctest.testmod(mod, extraglobs={"torch": torch}, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted >= 1
