"""The study on another device: the same data (noise drawn on the CPU), the same records up to rounding."""
import json

import pytest
import torch

from gausslib import study

ARGS = ["mri", "--quick", "--images", "1", "--restarts", "2", "--methods", "spherical", "glayers", "--iters", "5",
        "--psize", "16", "--noise-psize", "4", "--no-progress"]


def _records(weights, tmp_path, device: str) -> list[dict]:
    out = tmp_path / device / "mri.jsonl"
    study.main([*ARGS, "--generator", str(weights / "sg2.pt"), "--device", device, "--out", str(out)])
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_a_run_on_each_device_matches_the_cpu_run(weights, tmp_path, device):
    cpu = _records(weights, tmp_path, "cpu")
    other = _records(weights, tmp_path, device.type)
    assert len(other) == len(cpu) > 0
    for a, b in zip(cpu, other):
        assert (a["method"], a["variant"], a["image"], a["restart"]) == (b["method"], b["variant"], b["image"], b["restart"])
        assert b["psnr"] == pytest.approx(a["psnr"], abs=0.05)   # 5 float32 L-BFGS steps: rounding only


def test_a_device_that_is_not_here_is_a_clear_error(weights, tmp_path):
    bad = "cuda" if not torch.cuda.is_available() else "not-a-device"
    with pytest.raises(ValueError, match="device"):
        study.main([*ARGS, "--generator", str(weights / "sg2.pt"), "--device", bad, "--out", str(tmp_path / "m.jsonl")])
