"""The study runner's fault cases (issue 16): budgets in the resume key, one writer per file,
duplicates, partial lines, non-finite metrics, failing cells, and sharded runs."""
import csv
import json
import os
import subprocess
import sys
import warnings

import pytest
import torch

from gausslib import results, study
from gausslib.invert import InversionResult

SMALL = ["--psize", "16", "--noise-psize", "4", "--glow-psize", "4", "--no-progress"]


@pytest.fixture(scope="module")
def sg2(weights):
    return weights / "sg2.pt"


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def _record(image=0, restart="best", psnr=20.0, **extra):
    return {"problem": "mri", "setting": {"accel": 8, "snr_db": 20, "targets": "generator"}, "method": "tv",
            "variant": {"lam": 0.01}, "image": image, "restart": restart, "psnr": psnr, "ssim": 0.5,
            "lpips": None, "seconds": 1.0, "iters": 3, **extra}


# ------------------------------------------------------------------------------------ the resume key
def test_a_rerun_with_another_budget_runs_anew_and_the_same_one_skips(sg2, tmp_path):
    out = tmp_path / "mri.jsonl"
    base = ["mri", "--images", "1", "--restarts", "1", "--methods", "spherical", "--generator", str(sg2),
            "--out", str(out), "--adam-iters", "2", *SMALL]
    study.main([*base, "--iters", "2"])
    n = len(_lines(out))
    study.main([*base, "--iters", "2"])                              # same budget: nothing to do
    assert len(_lines(out)) == n
    for extra in (["--iters", "3"], ["--iters", "2", "--seed", "5"], ["--iters", "2", "--psize", "8"]):
        study.main([*base, *extra])                                   # another budget: another cell
    budgets = {json.dumps(r["budget"], sort_keys=True) for r in _lines(out)}
    assert len(budgets) == 4 and len(_lines(out)) == 4 * n
    b = _lines(out)[0]["budget"]
    assert b["protocol"] == results.PROTOCOL == 2 and b["iters"] == 2 and b["restarts"] == 1 and b["seed"] == 0


def test_records_without_a_budget_are_protocol_1_and_never_resumed_by_a_new_run(sg2, tmp_path):
    out = tmp_path / "mri.jsonl"
    legacy = _record()
    legacy.update(method="spherical", variant={"noise": "reparam"}, setting={"accel": 8, "snr_db": 20,
                                                                             "targets": "generator"})
    out.write_text(json.dumps(legacy) + "\n")
    assert results.done(out) == {results.key("mri", legacy["setting"], "spherical", {"noise": "reparam"}, 0,
                                             {"protocol": 1})}
    study.main(["mri", "--images", "1", "--restarts", "1", "--iters", "2", "--methods", "spherical",
                "--generator", str(sg2), "--out", str(out), *SMALL])
    recs = [r for r in results.read_records(out) if r["restart"] == "best"]
    assert [r.get("budget", results.LEGACY)["protocol"] for r in recs] == [1, 2]
    rows = results.summary_rows([out])                                # summarised apart, never averaged
    assert [json.loads(r["budget"])["protocol"] for r in rows] == [1, 2] and all(r["n"] == 1 for r in rows)


def test_protocol_1_files_summarise_as_before_and_the_committed_summary_is_reproduced(tmp_path):
    path = tmp_path / "mri.jsonl"
    path.write_text("".join(json.dumps(_record(i, psnr=20.0 + i)) + "\n" for i in range(3)))
    table = results.summarize([path], tmp_path / "summary.csv")
    assert "budget" not in table and "budget" not in (tmp_path / "summary.csv").read_text()
    assert "| tv | lam=0.01 | 3 | 21.00 ± 1.00 |" in table
    with path.open("a") as f:
        f.write(json.dumps(_record(0, budget={"protocol": 2, "tv_iters": 3})) + "\n")
    table = results.summarize([path], tmp_path / "summary.csv")
    assert "| budget |" in table and "protocol=2, tv_iters=3" in table
    assert {r["budget"] for r in csv.DictReader((tmp_path / "summary.csv").open())} == {
        '{"protocol": 1}', '{"protocol": 2, "tv_iters": 3}'}
    committed = results.RESULTS / "summary.csv"
    if committed.exists() and results.result_files(results.RESULTS):
        results.summarize(results.result_files(results.RESULTS), tmp_path / "again.csv")
        assert (tmp_path / "again.csv").read_text() == committed.read_text()


# --------------------------------------------------------------------------------- one writer, dedupe
def test_a_second_writer_gets_a_clear_error_and_a_stale_lock_is_taken_over(sg2, tmp_path):
    out = tmp_path / "mri.jsonl"
    argv = ["mri", "--quick", "--images", "1", "--methods", "tv", "--tv-lam", "0.01", "--generator", str(sg2),
            "--out", str(out), *SMALL]
    with results.writer_lock(out):
        with pytest.raises(results.LockHeld, match="one writer"):
            study.main(argv)
        with pytest.raises(results.LockHeld):
            with results.writer_lock(out):
                pass
    assert not (tmp_path / "mri.jsonl.lock").exists()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / "mri.jsonl.lock").write_text(json.dumps({"host": os.uname().nodename, "pid": dead.pid}))
    study.main(argv)                                                  # its writer is gone: taken over
    assert _lines(out) and not (tmp_path / "mri.jsonl.lock").exists()


def test_duplicates_are_dropped_on_read_and_in_the_summary(tmp_path):
    path = tmp_path / "mri.jsonl"
    recs = [_record(0, psnr=20.0), _record(1, psnr=22.0)]
    path.write_text("".join(json.dumps(r) + "\n" for r in recs + recs))   # two runs wrote everything twice
    assert len(results.read_records(path)) == 2
    (row,) = results.summary_rows([path])
    assert row["n"] == 2 and row["psnr_mean"] == 21.0 and row["psnr_std"] == pytest.approx(2 ** 0.5)


def test_unsharded_names_the_file_a_shard_belongs_to():
    assert results.unsharded("deblur.shard-1-of-2.jsonl") == "deblur.jsonl" == results.unsharded("deblur.jsonl")


def test_load_study_merges_shards_and_reads_the_run_log(tmp_path):
    recs = [_record(0, psnr=20.0), _record(1, psnr=22.0)]
    (tmp_path / "mri.shard-0-of-2.jsonl").write_text(json.dumps(recs[0]) + "\n")
    (tmp_path / "mri.shard-1-of-2.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    (tmp_path / "runs.jsonl").write_text(json.dumps({"out": "mri.jsonl", "event": "start"}) + "\n")
    s = results.load_study(tmp_path)
    assert len(s.records) == 2 and s.rows[0]["n"] == 2 and len(s.runs) == 1 and s.of("mri") == s.records
    assert s.of("eikonal") == [] and results.load_study(tmp_path / "none").records == []


def test_best_by_fit_picks_the_restart_of_lowest_final_objective_not_the_oracle():
    def restart(r, psnr, loss):
        return _record(0, restart=r, psnr=psnr, curve={"iteration": [0, 9], "loss": [5.0, loss], "psnr": [9, psnr]})

    recs = [restart(0, 25.0, 2.0), restart(1, 27.0, 3.0), restart(2, 26.0, None), _record(0, psnr=27.0),
            _record(1, restart=0, psnr=30.0)]                            # image 1 has no curve: left out
    (best,) = results.best_by_fit(recs)
    assert best["restart"] == "best" and best["psnr"] == 25.0 and best["image"] == 0


# ------------------------------------------------------------------------------------ partial lines
def test_a_partial_last_line_is_reported_and_set_aside_never_glued(tmp_path):
    path = tmp_path / "mri.jsonl"
    full = json.dumps(_record(0)) + "\n"
    path.write_text(full + json.dumps(_record(1))[:40])               # a writer killed mid-line
    with pytest.warns(UserWarning, match=r"mri.jsonl:2: partial last line"):
        assert len(results.read_records(path)) == 1
    with pytest.warns(UserWarning, match=r":2: partial last line .* moved to"):
        results.append_records(path, [_record(2)])
    assert [r["image"] for r in _lines(path)] == [0, 2]
    assert (tmp_path / "mri.jsonl.partial").read_text().startswith('{"problem"')
    path.write_text(full + json.dumps(_record(3)))                    # complete, only the newline lost
    assert "restored" in results.repair(path) and [r["image"] for r in _lines(path)] == [0, 3]


def test_a_broken_line_inside_the_file_names_its_line_number(tmp_path):
    path = tmp_path / "mri.jsonl"
    path.write_text(json.dumps(_record(0)) + "\n" + '{"problem": "mri", "set{"problem"\n' + json.dumps(_record(1)) + "\n")
    with pytest.raises(ValueError, match=r"mri.jsonl:2: not a JSON record"):
        results.read_records(path)


def test_the_runner_repairs_a_partial_line_and_logs_it(sg2, tmp_path):
    out = tmp_path / "mri.jsonl"
    out.write_text('{"problem": "mri", "setti')
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study.main(["mri", "--quick", "--images", "1", "--methods", "tv", "--tv-lam", "0.01", "--generator",
                    str(sg2), "--out", str(out), *SMALL])
    assert all(r["method"] == "tv" for r in _lines(out))
    runs = _lines(tmp_path / "runs.jsonl")
    assert any(r["event"] == "repair" and "mri.jsonl:1" in r["note"] for r in runs)


# ------------------------------------------------------------------------------- non-finite, failures
def _result(psnr: torch.Tensor) -> InversionResult:
    N, R = psnr.shape
    return InversionResult(images=torch.zeros(N, R, 1, 2, 2), loss=torch.zeros(N, R),
                           metrics={"psnr": psnr, "ssim": psnr / 100}, best={}, best_restart={"psnr": psnr.argmax(1)},
                           history={}, params=torch.zeros(N, R, 1), seconds=1.0, iters=3, evaluations=3,
                           steps=torch.full((N, R), 3))


def test_non_finite_metrics_are_failures_never_done_and_never_written_as_nan(tmp_path):
    nan = float("nan")
    res = _result(torch.tensor([[20.0, nan], [nan, nan]]))
    res.history = {"iteration": torch.tensor([0, 3]), "loss": torch.tensor([[[1.0, 2.0], [1.0, 1.0]],
                                                                          [[0.5, nan], [nan, nan]]])}
    assert results.failed_images([7, 8], res) == [8]
    recs = results.make_records("mri", {"accel": 8}, "tv", {}, [7, 8], res, torch.full((2, 2), nan),
                                {"protocol": 2})
    assert {r["image"] for r in recs} == {7}                           # image 8: no record, no "best"
    assert [r["curve"]["loss"] for r in recs if r["restart"] != "best"] == [[1.0, 0.5], [2.0, None]]
    bad = [r for r in recs if r.get("failed")]
    assert len(bad) == 1 and bad[0]["restart"] == 1 and bad[0]["psnr"] is None
    best = [r for r in recs if r["restart"] == "best"]
    assert best[0]["psnr"] == 20.0
    path = tmp_path / "x.jsonl"
    results.append_records(path, recs)
    assert "NaN" not in path.read_text()
    with pytest.raises(ValueError):
        results.append_records(path, [_record(psnr=nan)])
    assert len(_lines(path)) == len(recs)


def test_snr_nan_is_refused_and_eikonal_without_noise_runs(sg2, tmp_path):
    with pytest.raises(ValueError, match="snr_db"):
        study.main(["mri", "--quick", "--snr", "nan", "--generator", str(sg2), "--out", str(tmp_path / "m.jsonl"),
                    *SMALL])
    out = tmp_path / "eik.jsonl"
    study.main(["eikonal", "--quick", "--images", "1", "--methods", "spherical", "--per-edge", "2",
                "--eikonal-noise", "0", "--generator", str(sg2), "--out", str(out), *SMALL])
    assert [r for r in _lines(out) if r["restart"] == "best"]


def test_a_diverged_cell_is_logged_and_the_chain_goes_on(sg2, tmp_path, monkeypatch):
    from gausslib import baselines

    def diverges(*args, **kwargs):
        raise ValueError("velocity must be positive")                # what a diverged eikonal run raised

    real_invert = study.invert

    def nan_images(prob, G, rp, **kw):                                # a latent method that diverges to NaN
        res = real_invert(prob, G, rp, **kw)
        res.metrics["psnr"].fill_(float("nan"))
        return res

    monkeypatch.setattr(baselines, "tv", diverges)
    monkeypatch.setattr(study, "invert", nan_images)
    out = tmp_path / "mri.jsonl"
    study.main(["mri", "--quick", "--images", "1", "--methods", "tv", "spherical", "--tv-lam", "0.01",
                "--generator", str(sg2), "--out", str(out), *SMALL])
    assert not out.exists() or not out.read_text().strip()
    errors = [r for r in _lines(tmp_path / "runs.jsonl") if r["event"] == "error"]
    assert {r["method"] for r in errors} == {"tv", "spherical"}
    assert "velocity" in errors[0]["error"] and "finite" in errors[1]["error"]
    assert _lines(tmp_path / "runs.jsonl")[-1]["event"] == "finish"


# ----------------------------------------------------------------------------------------- shards
def test_shard_arguments():
    assert study.shard_of("1/3") == (1, 3) and study.shard_of("0/1") == (0, 1)
    for bad in ("3/3", "-1/2", "a/b", "2"):
        with pytest.raises(ValueError, match="shard"):
            study.shard_of(bad)


def test_shard_rank_reads_torchrun_or_slurm(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match="RANK"):
        study.shard_of("rank")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "2")
    monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "4")
    assert study.shard_of("rank") == (2, 4)
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert study.shard_of("rank") == (1, 2)


def test_three_shards_merged_equal_one_unsharded_run(sg2, tmp_path, capsys):
    argv = ["mri", "--images", "3", "--restarts", "2", "--iters", "3", "--adam-iters", "3", "--tv-lam", "0.01",
            "--tv-iters", "3", "--snr", "10", "inf", "--methods", "tv", "spherical", "csgmw",
            "--generator", str(sg2), *SMALL]
    whole = tmp_path / "whole" / "mri.jsonl"
    study.main([*argv, "--out", str(whole)])
    parts = tmp_path / "parts"
    for i in range(3):
        study.main([*argv, "--results-dir", str(parts), "--shard", f"{i}/3"])
    files = results.result_files(parts)
    assert [f.name for f in files] == [f"mri.shard-{i}-of-3.jsonl" for i in range(3)]
    assert all(results.read_records(f) for f in files)                 # 6 (setting, image) pairs: 2 each

    def comparable(recs):
        return sorted(json.dumps({k: v for k, v in r.items() if k != "seconds"}, sort_keys=True) for r in recs)

    merged = results.read_all(files)
    assert comparable(merged) == comparable(results.read_records(whole))
    # a rerun of one shard, or of the whole run beside the shards, finds everything done
    study.main([*argv, "--results-dir", str(parts), "--shard", "1/3"])
    study.main([*argv, "--results-dir", str(parts)])
    assert not (parts / "mri.jsonl").exists() or not results.read_records(parts / "mri.jsonl")
    capsys.readouterr()
    study.main(["summarize", "--results-dir", str(parts)])
    merged_table = capsys.readouterr().out
    study.main(["summarize", str(whole), "--csv", str(tmp_path / "whole.csv")])
    whole_table = capsys.readouterr().out
    strip = lambda t: [line.rsplit("|", 3)[0] for line in t.splitlines()]   # seconds differ  # noqa: E731
    assert strip(merged_table) == strip(whole_table)



def test_convergence_quartiles_carry_stopped_runs_and_skip_best_records():
    from gausslib.results import convergence

    def rec(method, restart, it, loss, psnr):
        return {"method": method, "restart": restart, "curve": {"iteration": it, "loss": loss, "psnr": psnr}}

    records = [rec("a", 0, [0, 50, 100], [4.0, 2.0, 1.0], [10.0, 20.0, 30.0]),
               rec("a", 1, [0, 50, 70], [2.0, 1.0, 0.5], [12.0, 22.0, 24.0]),        # stopped early at 70
               rec("a", 2, [0, 50, 100], [8.0, None, 2.0], [11.0, None, 26.0]),      # a non-finite value
               {"method": "a", "restart": "best", "psnr": 30.0},
               rec("b", 0, [0, 50], [1.0, 0.1], [5.0, 6.0])]
    out = convergence(records)
    assert set(out) == {"a", "b"} and out["a"]["n"] == 3 and out["b"]["n"] == 1
    assert out["a"]["iteration"] == [0, 50, 70, 100]
    q1, med, q3 = out["a"]["relative_loss"]
    assert med[0] == 1.0 and med[-1] == 0.25                 # 1/4, 0.5/2 carried from 70, 2/8
    assert med[1] == 0.5 and q1[1] <= med[1] <= q3[1]         # restart 2 has no value at 50: its start is carried
    assert out["a"]["psnr"][1][-1] == 26.0                    # median of 30, 24 (carried), 26
    assert out["b"]["relative_loss"] == [[1.0, 0.1]] * 3


def test_peak_is_the_highest_finite_median():
    from gausslib.results import peak

    nan = float("nan")
    assert peak({"psnr": [[0] * 4, [nan, 20.0, 25.0, 24.0], [0] * 4]}) == 2
    assert peak({"psnr": [[0] * 2, [nan, nan], [0] * 2]}) == 0                 # nothing finite: the first point


def test_discrepancy_stop_is_the_first_point_at_the_noise_level():
    from gausslib.results import discrepancy_stop

    curve = {"iteration": [0, 10, 20, 30], "loss": [9.0, None, 2.0, 1.0], "psnr": [10.0, None, 25.0, 20.0]}
    assert discrepancy_stop(curve, 2.5) == (20, 25.0)        # the first recorded point at or below the level
    assert discrepancy_stop(curve, 0.5) == (30, 20.0)        # never reached: the last point
    assert discrepancy_stop({"iteration": [0], "loss": [3.0]}, 5.0) == (0, None)
    with pytest.raises(ValueError, match="level"):
        discrepancy_stop(curve, float("nan"))


def test_convergence_figure_has_a_line_per_method():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from gausslib.viz import plot_convergence

    curves = {"x": {"iteration": [0, 10], "n": 2, "relative_loss": [[1, 0.1], [1, 0.2], [1, 0.3]],
                    "psnr": [[10, 20], [11, 21], [12, 22]]}}
    fig, axes = plot_convergence(curves, title="t")
    assert len(axes[0].lines) == len(axes[1].lines) == 1 and axes[0].get_yscale() == "log"
    plt.close(fig)


def test_best_at_stop_reads_each_restart_at_the_noise_level_and_keeps_the_best():
    def restart(r, image, losses, psnrs):
        return _record(image, restart=r, curve={"iteration": [0, 10, 20], "loss": losses, "psnr": psnrs})

    recs = [restart(0, 0, [9.0, 4.0, 1.0], [10.0, 25.0, 20.0]),    # reaches level 5 at iteration 10: 25 dB
            restart(1, 0, [9.0, 6.0, 5.0], [12.0, 22.0, 24.0]),    # at iteration 20: 24 dB
            restart(0, 1, [9.0, 8.0, 7.0], [10.0, 11.0, 12.0]),    # never reaches it: its last point
            restart(0, 2, [9.0, 1.0, 1.0], [10.0, 30.0, 30.0]),    # no level given: left out
            _record(0, psnr=99.0)]
    out = {r["image"]: r for r in results.best_at_stop(recs, {0: 5.0, 1: 5.0})}
    assert set(out) == {0, 1} and out[0]["psnr"] == 25.0 and out[0]["iters"] == 10 and out[0]["restart"] == "best"
    assert out[1]["psnr"] == 12.0 and "curve" not in out[1]


def test_noise_levels_are_the_true_images_misfit(sg2):
    from gausslib.generators import load

    G = load(sg2)
    setting = {"accel": 8, "snr_db": 20, "targets": "generator"}
    levels = study.noise_levels(G, "mri", setting, [3, 4])
    x = study.targets(G, "generator", [3, 4], G.resolution)
    prob = study.build_problem("mri", setting, x, [3, 4])
    assert list(levels) == [3, 4] and levels[4] == pytest.approx(prob.misfit(x, prob.y)[1].item())
    assert all(v > 0 for v in levels.values())
