"""CS-MRI: unitary full mask, masks (acceleration, reproducibility, centre), SNR noise definitions."""
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from gausslib.operators import MRI, add_complex_noise, mri_mask, snr_db
from gausslib.operators.mri import BOOK_MASKS

MASKS = Path(__file__).resolve().parents[1] / "data" / "masks"

ACCELERATIONS = [2, 4, 6, 8, 12]


def test_full_mask_is_unitary():
    op = MRI(torch.ones(16, 12))
    x = torch.randn(3, 2, 16, 12, dtype=torch.float64)
    assert torch.allclose(op.adjoint(op(x)), x, atol=1e-12)
    assert torch.allclose(op(x).norm(), x.norm())


def test_mask_is_centred():
    """The stored centred mask has DC in the middle: the operator samples k = 0 (the image mean)."""
    mask = torch.zeros(8, 8)
    mask[4, 4] = 1
    x = torch.randn(1, 1, 8, 8, dtype=torch.float64)
    y = MRI(mask)(x)
    assert torch.allclose(y[0, 0, 0, 0].real, x.sum() / 8) and y.abs().sum(dim=(-2, -1)).count_nonzero() == 1


@pytest.mark.parametrize("kind", ["random", "cartesian", "radial"])
@pytest.mark.parametrize("acc", ACCELERATIONS)
def test_mask_acceleration_and_seed(kind, acc):
    m = mri_mask(64, acc, kind, seed=3)
    achieved = m.numel() / m.sum().item()
    # random: exact up to rounding; cartesian: whole rows; radial: within half a spoke
    tol = {"random": 0.01, "cartesian": 1 / 64 * acc, "radial": 0.12}[kind]
    assert abs(achieved - acc) / acc <= tol, f"{kind} {acc}x gave {achieved:.2f}x"
    assert m.dtype == torch.bool and torch.equal(m, mri_mask(64, acc, kind, seed=3))
    if kind != "radial" or acc < 12:  # radial 12x at 64² has only a few spokes; angles still differ
        assert not torch.equal(m, mri_mask(64, acc, kind, seed=4))
    assert m[32, 32], "DC must be sampled"


@pytest.mark.parametrize("acc", ACCELERATIONS)
def test_random_mask_is_variable_density(acc):
    m = mri_mask(64, acc, "random", seed=0).double()
    r = torch.from_numpy(np.hypot(*np.meshgrid(np.arange(64) - 32, np.arange(64) - 32, indexing="ij")))
    centre = m[r <= 3].mean()
    inner, outer = m[(r > 8) & (r <= 16)].mean(), m[r > 24].mean()
    assert centre == 1 and inner > outer


def _data(batch, acc, seed=0):
    g = torch.Generator().manual_seed(seed)
    mask = mri_mask(32, acc, "random", seed=seed)
    x = torch.rand(1, 1, 32, 32, generator=g, dtype=torch.float64) * 2 - 1
    return mask, MRI(mask)(x).expand(batch, -1, -1, -1)


@pytest.mark.parametrize("acc", [2, 8])
def test_snr_paper_definition(acc):
    """over='all': σ² = ‖y‖² 10^(−SNR/10) / N; the per-entry noise power (estimated on the
    sampled entries) matches it within 0.2 dB over 100 draws, and the SNR measured on the
    sampled data is higher by 10 log10(acc) (9.0 dB at 8×)."""
    mask, y = _data(100, acc)
    y_obs = add_complex_noise(y, 20.0, torch.Generator().manual_seed(1), mask=mask)
    k = mask.sum().item()
    per_entry = (y_obs - y).abs().square().sum(dim=(1, 2, 3)) / k
    snr_all = 10 * torch.log10(y.abs().square().sum(dim=(1, 2, 3)) / (y[0].numel() * per_entry))
    assert abs(snr_all.mean().item() - 20.0) <= 0.2
    effective = snr_db(y, y_obs).mean().item()
    assert abs(effective - (20.0 + 10 * math.log10(y[0].numel() / k))) <= 0.2


@pytest.mark.parametrize("acc", [2, 8])
@pytest.mark.parametrize("snr", [10.0, 20.0])
def test_snr_over_sampled(acc, snr):
    mask, y = _data(100, acc)
    y_obs = add_complex_noise(y, snr, torch.Generator().manual_seed(2), mask=mask, over="sampled")
    assert abs(snr_db(y, y_obs).mean().item() - snr) <= 0.2
    assert torch.all((y_obs - y)[:, :, ~torch.fft.ifftshift(mask)] == 0), "noise only on sampled entries"


def test_snr_over_sampled_infers_the_mask_from_zeros():
    mask, y = _data(100, 8)
    y_obs = add_complex_noise(y, 10.0, torch.Generator().manual_seed(2), over="sampled")
    assert torch.equal(y_obs, add_complex_noise(y, 10.0, torch.Generator().manual_seed(2), mask=mask, over="sampled"))


def test_snr_without_mask_noises_every_entry():
    y = torch.randn(100, 1, 16, 16, dtype=torch.complex128)
    y_obs = add_complex_noise(y, 15.0, torch.Generator().manual_seed(3))
    assert abs(snr_db(y, y_obs).mean().item() - 15.0) <= 0.2
    assert torch.equal(y_obs, add_complex_noise(y, 15.0, torch.Generator().manual_seed(3)))


def test_bad_input():
    with pytest.raises(ValueError, match="x"):
        MRI(torch.ones(8, 8))(torch.zeros(1, 1, 8, 6))
    with pytest.raises(ValueError, match="mask"):
        MRI(torch.ones(8))
    with pytest.raises(ValueError, match="mask"):
        add_complex_noise(torch.zeros(1, 1, 8, 8, dtype=torch.complex64), 10.0, mask=torch.ones(4, 4))
    with pytest.raises(ValueError, match="acceleration"):
        mri_mask(8, 0.5)
    with pytest.raises(ValueError, match="kind"):
        mri_mask(8, 2, kind="spiral")


@pytest.mark.parametrize("acc", BOOK_MASKS["accelerations"])
def test_shipped_masks_are_reproducible(acc):
    size, kind, seed = BOOK_MASKS["size"], BOOK_MASKS["kind"], BOOK_MASKS["seed"]
    shipped = np.load(MASKS / f"{kind}_{size}_{acc}x.npy")
    assert np.array_equal(shipped, mri_mask(size, acc, kind, seed).numpy())


def test_all_zero_mask_is_rejected():
    with pytest.raises(ValueError, match="mask: samples no k-space entry"):
        MRI(torch.zeros(8, 8))


@pytest.mark.parametrize("snr", [None, "20", [20.0]])
def test_snr_must_be_a_number(snr):
    with pytest.raises(TypeError, match="snr_db"):
        add_complex_noise(torch.ones(1, 1, 4, 4, dtype=torch.complex64), snr)


def test_snr_accepts_numpy_and_tensor_numbers():
    y = torch.ones(2, 1, 4, 4, dtype=torch.complex128)
    for snr in (np.float32(20.0), np.int64(20), torch.tensor(20.0)):
        assert torch.isfinite(add_complex_noise(y, snr, torch.Generator().manual_seed(0)).abs()).all()
