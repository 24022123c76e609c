"""Shared fixtures: float64 default dtype on request, and every available device."""
import pytest
import torch

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
