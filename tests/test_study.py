"""The study CLI end to end on tiny random generators (quick mode)."""
import csv
import json

import pytest
import torch

from gausslib import results, study
from conftest import tiny_stylegan2

KEYS = {"problem", "setting", "method", "variant", "image", "restart", "psnr", "ssim", "lpips", "seconds", "iters",
        "budget"}
SMALL = ["--psize", "16", "--noise-psize", "4", "--glow-psize", "4", "--no-progress"]


def _run(argv):
    study.main(argv)


def test_mri_quick_records_resume_and_summary(weights, tmp_path, capsys):
    out = tmp_path / "mri.jsonl"
    argv = ["mri", "--quick", "--generator", str(weights / "sg2.pt"), "--methods", "tv", "spherical", "glayers",
            "csgmw", "--accel", "8", "--snr", "10", "inf", "--out", str(out), *SMALL]
    _run(argv)
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    # 2 settings × 2 images × (2 restarts + best for the latent methods; TV and CSGM-w start once)
    assert len(recs) == 2 * 2 * (2 * 3 + 2 * 2)
    assert all(set(r) == KEYS | ({"curve"} if r["restart"] != "best" else set()) for r in recs)
    curve = recs[0]["curve"]                                       # the convergence curve of every restart
    assert curve["iteration"][0] == 0 and curve["iteration"][-1] == 5 and len(curve["loss"]) == len(curve["psnr"])
    assert {r["method"] for r in recs} == {"tv", "spherical", "glayers", "csgmw"}
    assert {json.dumps(r["setting"], sort_keys=True) for r in recs} == {
        json.dumps({"accel": 8, "snr_db": s, "targets": "generator"}, sort_keys=True) for s in (10, None)}
    for r in recs:
        assert r["problem"] == "mri" and isinstance(r["image"], int) and 0 <= r["iters"] <= 5
        assert r["restart"] == "best" or isinstance(r["restart"], int)
    # "best" is the best restart per metric
    for r in (r for r in recs if r["restart"] == "best"):
        same = [q for q in recs if q["restart"] != "best" and (q["method"], q["image"], q["setting"]) ==
                (r["method"], r["image"], r["setting"]) and q["variant"] == r["variant"]]
        assert r["psnr"] == max(q["psnr"] for q in same) and r["ssim"] == max(q["ssim"] for q in same)
    # a rerun skips everything that is done
    _run(argv)
    assert len(out.read_text().splitlines()) == len(recs)
    runs = [json.loads(line) for line in (tmp_path / "runs.jsonl").read_text().splitlines()]
    assert runs[-1]["images_run"] == 0 and "gausslib.study mri" in runs[-1]["command"]
    assert runs[0]["event"] == "start" and len(runs[0]["generator_sha256"]) == 64
    capsys.readouterr()
    _run(["summarize", str(out), "--csv", str(tmp_path / "summary.csv")])
    table = capsys.readouterr().out
    assert "| glayers |" in table and "±" in table
    rows = list(csv.DictReader((tmp_path / "summary.csv").open()))
    assert len(rows) == 2 * 4 and all(int(r["n"]) == 2 for r in rows)


def test_deblur_and_eikonal_quick(weights, tmp_path):
    deblur = tmp_path / "deblur.jsonl"
    _run(["deblur", "--quick", "--generator", str(weights / "glow.pt"), "--methods", "raw", "glayers",
          "--inaccurate", "2.5", "--targets", "ood", "--images", "1", "--out", str(deblur), *SMALL])
    recs = [json.loads(line) for line in deblur.read_text().splitlines()]
    assert {r["variant"].get("layout") for r in recs if r["method"] == "glayers"} == {"P1", "P2"}
    assert {r["setting"]["model_sigma"] for r in recs} == {3.0, 2.5}
    eik = tmp_path / "eikonal.jsonl"
    _run(["eikonal", "--quick", "--generator", str(weights / "sg2.pt"), "--methods", "tv", "spherical",
          "--images", "1", "--per-edge", "2", "--out", str(eik), *SMALL])
    recs = [json.loads(line) for line in eik.read_text().splitlines()]
    assert {r["method"] for r in recs} == {"tv", "spherical"} and all(r["problem"] == "eikonal" for r in recs)


def test_float64_results_are_separate_cells(weights, tmp_path):
    out = tmp_path / "mri.jsonl"
    _run(["mri", "--quick", "--images", "1", "--methods", "spherical", "--dtype", "float64",
          "--generator", str(weights / "sg2.pt"), "--out", str(out), *SMALL])
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert recs and all(r["variant"]["dtype"] == "float64" for r in recs)


def test_targets_are_seeded_and_not_the_inversion_starts(weights):
    from gausslib.generators import load
    from gausslib.reparam import Raw

    G = load(weights / "sg2.pt")
    a, b = study.targets(G, "generator", [0, 1], 16), study.targets(G, "generator", [1], 16)
    assert torch.equal(a[1:], b)
    start = Raw(psize=16, noise_psize=4).bind(G, [0])
    assert not torch.allclose(start.images(start.x0), a[:1], atol=1e-2)
    ood = study.targets(G, "ood", [0], 16)
    assert ood.shape == (1, 1, 16, 16) and ood.min() >= -1 and ood.max() <= 1


@pytest.mark.parametrize("extra, match", [
    (["--methods", "magic"], "methods"),
    (["--restarts", "0"], "restarts"),
    (["--images", "0"], "images"),
])
def test_bad_arguments(weights, tmp_path, extra, match):
    with pytest.raises(ValueError, match=match):
        _run(["mri", "--quick", "--generator", str(weights / "sg2.pt"), "--out", str(tmp_path / "x.jsonl"),
              *SMALL, *extra])


def test_results_of_another_generator_are_not_resumed(weights, tmp_path):
    out = tmp_path / "mri.jsonl"
    base = ["mri", "--quick", "--images", "1", "--methods", "tv", "--out", str(out), *SMALL]
    _run([*base, "--generator", str(weights / "sg2.pt")])
    G = tiny_stylegan2(resolution=16)
    with torch.no_grad():
        G.w_avg.add_(1.0)  # another set of weights
    other = tmp_path / "other.pt"
    torch.save({"kind": "stylegan2", "config": G.cfg.to_dict(), "state_dict": G.state_dict(), "meta": {}}, other)
    with pytest.raises(ValueError, match="generator"):
        _run([*base, "--generator", str(other)])
    # nor written beside them under another file name: the book reads a results root as one study
    beside = [a if a != str(out) else str(tmp_path / "mri-other.jsonl") for a in base]
    with pytest.raises(ValueError, match="another generator"):
        _run([*beside, "--generator", str(other)])
    own = [a if a != str(out) else str(tmp_path / "own" / "mri.jsonl") for a in base]
    _run([*own, "--generator", str(other)])
    assert results.read_records(tmp_path / "own" / "mri.jsonl")


def test_stylegan_only_methods_refuse_glow(weights, tmp_path):
    with pytest.raises(ValueError, match="methods"):
        _run(["deblur", "--quick", "--generator", str(weights / "glow.pt"), "--methods", "noisereg",
              "--out", str(tmp_path / "x.jsonl"), *SMALL])


def test_a_failing_cell_is_logged_and_skipped(weights, tmp_path, monkeypatch):
    from gausslib import baselines

    def broken(*args, **kwargs):
        raise RuntimeError("linalg.eigh: failed to converge")

    monkeypatch.setattr(baselines, "tv", broken)
    out = tmp_path / "mri.jsonl"
    _run(["mri", "--quick", "--images", "1", "--methods", "tv", "spherical", "--tv-lam", "0.01",
          "--generator", str(weights / "sg2.pt"), "--out", str(out), *SMALL])
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["method"] for r in recs} == {"spherical"}
    runs = [json.loads(line) for line in (tmp_path / "runs.jsonl").read_text().splitlines()]
    assert any(r.get("event") == "error" and r["method"] == "tv" for r in runs)


def test_a_fourth_problem_runs_through_the_cli_and_the_summary(weights, tmp_path, capsys):
    """Denoising is registered by one line in gausslib.problems: the CLI, the records and the summary
    take it from the registry."""
    from gausslib import problems, results

    assert "denoise" in problems.names() and problems.get("denoise").Setting().noise_std == 25.0
    _run(["denoise", "--quick", "--images", "1", "--generator", str(weights / "sg2.pt"), "--methods", "tv",
          "spherical", "glayers", "--results-dir", str(tmp_path), *SMALL])
    out = tmp_path / "quick" / "denoise.jsonl"                   # --quick writes below <results-dir>/quick
    recs = results.read_records(out)
    assert {r["problem"] for r in recs} == {"denoise"} and {r["method"] for r in recs} == {"tv", "spherical", "glayers"}
    assert all(r["setting"] == {"noise_std": 25.0, "targets": "generator"} for r in recs)
    capsys.readouterr()
    _run(["summarize", "--results-dir", str(tmp_path / "quick")])
    table = capsys.readouterr().out
    assert "### denoise — noise_std = 25.0, targets = generator" in table and "| glayers |" in table
    assert (tmp_path / "quick" / "summary.csv").exists()


def test_settings_come_from_the_problem_specs():
    from gausslib import problems

    args = study.parser().parse_args(["deblur", "--inaccurate", "2.5"])
    assert study.settings(args) == [problems.record(problems.get("deblur").Setting()),
                                    problems.record(problems.get("deblur").Setting(model_sigma=2.5))]
    assert problems.get("mri").Setting() == problems.as_setting("mri", {"accel": 8, "snr_db": 20})
    with pytest.raises(ValueError, match="problem"):
        problems.get("tomography")
    with pytest.raises(ValueError, match="accel"):
        problems.as_setting("deblur", {"accel": 8})


def test_default_results_root_is_the_checkout_or_the_working_directory(tmp_path, monkeypatch):
    from gausslib import results

    assert results.RESULTS.parts[-2:] == ("data", "results")            # tests run from the source checkout
    monkeypatch.setattr(results, "__file__", str(tmp_path / "site-packages" / "gausslib" / "results.py"))
    monkeypatch.chdir(tmp_path)
    assert results.default_root() == tmp_path / "results"
