"""CS-MRI masks from a user's file (the paper's ``mask_rand_8x.npy`` and the like): validation, the
setting's record, and a quick study run with one."""
import json

import numpy as np
import pytest
import torch

from gausslib import operators as ops
from gausslib import problems, study
from gausslib.problems import mri
from conftest import tiny_stylegan2


@pytest.fixture
def mask_file(tmp_path):
    """A centred 8× mask of a 16 × 16 image, saved with a leading singleton axis (as some tools write them)."""
    m = ops.mri_mask(16, 8, seed=3).numpy()
    path = tmp_path / "mask_rand_8x.npy"
    np.save(path, m[None].astype(np.float32))
    return path, m


def test_a_mask_file_is_read_and_used(mask_file):
    path, m = mask_file
    assert torch.equal(mri.load_mask(path), torch.from_numpy(m))
    x = torch.rand(1, 1, 16, 16) * 2 - 1
    prob = mri.build(mri.Setting(accel=8, snr_db=None, mask=str(path)), x, [0])
    assert torch.equal(prob.operator.mask, torch.fft.ifftshift(torch.from_numpy(m), dim=(-2, -1)).float())


@pytest.mark.parametrize("content, match", [
    (np.full((16, 16), 0.5), "0/1 array"),
    (np.ones((2, 16, 16)), r"\[H, W\]"),
    (np.ones((8, 8)), "images are 16"),
    (np.ones((16, 16)), "pass --accel 1"),
])
def test_bad_mask_files_are_refused_with_the_reason(tmp_path, content, match):
    path = tmp_path / "bad.npy"
    np.save(path, content)
    with pytest.raises(ValueError, match=match):
        mri.mask(16, 8, path)


def test_missing_or_wrong_kind_of_mask_file(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        mri.load_mask(tmp_path / "absent.npy")
    with pytest.raises(ValueError, match=".npy"):
        mri.load_mask(tmp_path / "mask.mat")


def test_the_record_names_a_mask_file_only_when_one_is_given():
    """Records written before the option existed keep their keys."""
    assert problems.record(mri.Setting()) == {"accel": 8, "snr_db": 20, "targets": "generator"}
    rec = problems.record(mri.Setting(mask="masks/mask_rand_8x.npy"))
    assert rec == {"accel": 8, "snr_db": 20, "mask": "masks/mask_rand_8x.npy", "targets": "generator"}
    assert problems.as_setting("mri", rec).mask == "masks/mask_rand_8x.npy"
    assert problems.as_setting("mri", {"accel": 8, "snr_db": 20, "targets": "generator"}) == mri.Setting()


def test_the_study_cli_takes_a_mask_file(mask_file, tmp_path):
    path, _ = mask_file
    G = tiny_stylegan2(resolution=16)
    torch.save({"kind": "stylegan2", "config": G.cfg.to_dict(), "state_dict": G.state_dict(), "meta": {}},
               tmp_path / "sg2.pt")
    out = tmp_path / "mri.jsonl"
    study.main(["mri", "--quick", "--images", "1", "--restarts", "1", "--methods", "spherical", "--mask", str(path),
                "--generator", str(tmp_path / "sg2.pt"), "--out", str(out), "--psize", "16", "--noise-psize", "4",
                "--no-progress"])
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert recs and all(r["setting"]["mask"] == str(path) for r in recs)


def test_phantom_targets_are_of_the_kind_the_generator_was_trained_on():
    from gausslib import phantoms

    G = tiny_stylegan2(resolution=16)
    assert torch.equal(problems.targets(G, "phantom", [3], 16),
                       phantoms.sample(1, size=16, seed=problems.PHANTOM_SEED + 3, kind="brain").clamp(-1, 1))
    G.meta = {"data": "textured"}
    assert torch.equal(problems.targets(G, "phantom", [3], 16),
                       phantoms.sample(1, size=16, seed=problems.PHANTOM_SEED + 3, kind="textured").clamp(-1, 1))
