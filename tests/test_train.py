import json

import pytest
import torch

from gausslib import phantoms, swd, train
from gausslib.files import atomic_save, atomic_write
from gausslib.generators.glow import dequantize
from gausslib.generators import load
from gausslib.generators.evaluate import evaluate, write_card


def _log(run):
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("model", ["stylegan2", "glow"])
def test_train_checkpoints_resumes_and_exports(model, tmp_path):
    run = tmp_path / model
    common = [model, "--out", str(run), "--resolution", "16", "--batch", "4", "--log-every", "1"]
    train.main(common + ["--kimg", "0.008"])
    assert (run / "checkpoint.pt").exists() and (run / "grid-latest.png").exists()
    assert torch.load(run / "checkpoint.pt", weights_only=False)["step"] == 2
    train.main(common + ["--kimg", "0.016", "--resume"])
    state = torch.load(run / "checkpoint.pt", weights_only=False)
    assert state["step"] == 4 and state["nimg"] == 16
    steps = [r["step"] for r in _log(run) if "loss_G" in r or "bpd" in r]
    assert steps == [1, 2, 3, 4]  # the resumed run continued, it did not restart
    train.main(["export", model, "--run", str(run), "--name", f"tiny-{model}", "--weights-dir", str(tmp_path / "w")])
    loaded = load(f"tiny-{model}", weights_dir=tmp_path / "w")
    assert loaded.resolution == 16 and loaded.meta["step"] == 4
    assert (tmp_path / "w" / f"tiny-{model}-losses.png").exists()
    metrics = evaluate(f"tiny-{model}", n=16, weights_dir=tmp_path / "w")
    assert metrics["swd_ratio"] > 0 and metrics["swd_real_vs_real"]["swd_mean"] > 0
    if model == "glow":
        assert metrics["roundtrip_max_abs_err"] <= 1e-4 and 0 < metrics["heldout_bpd"] < 16
    card = (tmp_path / "w" / f"tiny-{model}.md").read_text()
    assert "SWD ratio" in card and "kimg" in card
    if model == "stylegan2":  # the noise-map numbers of issue 13, on every StyleGAN2 card
        assert metrics["noise_redraw_psnr"]["mean_db"] > 0 and metrics["ood_noise_maps"]["gaussian"]["ratio"] == 1.0
        assert "noise maps redrawn" in card and "SWD ratio to Gaussian noise maps: heavy" in card and "FIR" in card
    (tmp_path / "w" / f"tiny-{model}.notes.md").write_text("Checked by hand: a note.\n")
    write_card(f"tiny-{model}", weights_dir=tmp_path / "w")           # hand-made notes join the card
    assert "Checked by hand: a note." in (tmp_path / "w" / f"tiny-{model}.md").read_text()


def test_resume_drops_log_rows_newer_than_the_checkpoint(tmp_path):
    """A checkpoint copied while training went on comes with log rows it does not hold: a resume drops
    them instead of logging those steps twice."""
    run = tmp_path / "glow"
    common = ["glow", "--out", str(run), "--resolution", "16", "--batch", "4", "--log-every", "1"]
    train.main(common + ["--kimg", "0.008"])
    with open(run / "log.jsonl", "a") as f:
        f.write(json.dumps({"step": 3, "kimg": 0.012, "bpd": 9.9}) + "\n")
    train.main(common + ["--kimg", "0.016", "--resume"])
    steps = [r["step"] for r in _log(run) if "bpd" in r]
    assert steps == [1, 2, 3, 4] and 9.9 not in [r["bpd"] for r in _log(run) if "bpd" in r]


def test_same_seed_same_training(tmp_path):
    args = ["stylegan2", "--resolution", "16", "--batch", "4", "--kimg", "0.008"]
    train.main(args + ["--out", str(tmp_path / "a")])
    train.main(args + ["--out", str(tmp_path / "b")])
    a = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=False)["G"]
    b = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=False)["G"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_dequantize_is_in_the_pixel_bin():
    x = phantoms.sample(4, size=16)
    y = train.dequantize(x)
    q = torch.floor((x + 1) * 128).clamp(0, 255)
    assert ((y + 1) * 128 >= q).all() and ((y + 1) * 128 <= q + 1).all()
    assert torch.equal(dequantize(x, 0.5), (q + 0.5) / 128 - 1.0)            # the bin centres
    u = torch.rand(x.shape, generator=torch.Generator().manual_seed(5))
    assert torch.equal(dequantize(x, u), (q + u) / 128 - 1.0)


def test_atomic_write_replaces_only_a_checked_file(tmp_path):
    path = tmp_path / "w.pt"
    atomic_save({"a": 1}, path)
    with pytest.raises(ValueError):
        with atomic_write(path) as tmp:
            tmp.write_text("half")
            raise ValueError("refused")
    assert torch.load(path) == {"a": 1} and not list(tmp_path.glob("*.tmp"))


def test_swd_floor_below_corrupted():
    a, b = phantoms.sample(64, size=32, seed=1), phantoms.sample(64, size=32, seed=2)
    noisy = (b + 0.3 * torch.randn_like(b)).clamp(-1, 1)
    real = swd.swd(a, b)["swd_mean"]
    assert real < swd.swd(a, noisy)["swd_mean"]


@pytest.mark.parametrize("model", ["stylegan2", "glow"])
def test_resumed_run_equals_uninterrupted_run(model, tmp_path):
    args = [model, "--resolution", "16", "--batch", "4"]
    train.main(args + ["--out", str(tmp_path / "straight"), "--kimg", "0.016"])
    train.main(args + ["--out", str(tmp_path / "resumed"), "--kimg", "0.008"])
    train.main(args + ["--out", str(tmp_path / "resumed"), "--kimg", "0.016", "--resume"])
    key = "G" if model == "stylegan2" else "model"
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=False)[key]
    b = torch.load(tmp_path / "resumed" / "checkpoint.pt", weights_only=False)[key]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_lite_architecture_on_smooth_phantoms_and_data_guard(tmp_path):
    """The first shipped StyleGAN2 trains as before (--arch lite --data brain); a resumed run keeps its
    architecture, and refuses other phantoms than it was trained on."""
    from gausslib.generators import stylegan2_lite

    run = tmp_path / "lite"
    args = ["stylegan2", "--out", str(run), "--resolution", "16", "--batch", "4", "--arch", "lite", "--data", "brain"]
    train.main(args + ["--kimg", "0.004"])
    state = torch.load(run / "checkpoint.pt", weights_only=False)
    assert "arch" not in state["config"] and "data" not in state  # the first runs' files, unchanged
    train.main(["stylegan2", "--out", str(run), "--resolution", "16", "--batch", "4", "--data", "brain",
                "--kimg", "0.008", "--resume"])  # --arch defaults to official: the checkpoint decides
    assert torch.load(run / "checkpoint.pt", weights_only=False)["step"] == 2
    train.main(["export", "stylegan2", "--run", str(run), "--name", "tiny-lite", "--weights-dir", str(tmp_path / "w")])
    assert isinstance(load("tiny-lite", weights_dir=tmp_path / "w"), stylegan2_lite.Generator)
    with pytest.raises(ValueError, match="brain"):
        train.main(["stylegan2", "--out", str(run), "--resolution", "16", "--batch", "4", "--kimg", "0.012", "--resume"])


def test_official_run_logs_noise_strengths_and_data(tmp_path):
    run = tmp_path / "v2"
    train.main(["stylegan2", "--out", str(run), "--resolution", "16", "--batch", "4", "--kimg", "0.008",
                "--log-every", "1", "--noise-strength-init", "0.1"])
    rows = [r for r in _log(run) if "loss_G" in r]
    assert len(rows[0]["noise_strength"]) == 5 and all(abs(v - 0.1) < 0.05 for v in rows[0]["noise_strength"])
    state = torch.load(run / "checkpoint.pt", weights_only=False)
    assert state["data"] == "textured" and state["config"]["arch"] == "official"
    out = train.probe(run, n=4)
    assert out["kimg"] == 0.008 and len(out["noise_strength_abs"]) == 5 and out["noise_redraw_psnr"]["mean_db"] < 100
    train.main(["glow", "--out", str(tmp_path / "g"), "--resolution", "16", "--batch", "4", "--kimg", "0.004"])
    with pytest.raises(ValueError, match="StyleGAN2"):
        train.probe(tmp_path / "g")
