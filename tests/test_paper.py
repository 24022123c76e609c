"""The paper's tables joined with study summaries: labels, selection, ranks and Kendall's τ."""
import json
import math

import pytest

from gausslib import paper


def _row(method, variant, psnr, problem="mri", setting=None, n=25):
    setting = setting or {"accel": 8, "snr_db": 20, "targets": "generator"}
    return {"problem": problem, "setting": json.dumps(setting, sort_keys=True), "method": method,
            "variant": json.dumps(variant, sort_keys=True), "n": n, "psnr_mean": psnr, "psnr_std": 1.0,
            "ssim_mean": 0.8, "ssim_std": 0.05}


@pytest.mark.parametrize("method, variant, expected", [
    ("tv", {"lam": 0.01}, "tv"),
    ("glayers", {"layers": "full", "noise": "reparam"}, "glayers"),
    ("glayers", {"layers": "ica+yj", "noise": "reparam"}, "glayers:ica+yj"),
    ("glayers", {"layers": "full", "layout": "P2"}, "glayers P2"),
    ("raw", {"beta": 0.1, "layout": "P1"}, "raw β=0.1"),
    ("spherical", {"layout": "P1"}, "spherical"),
    ("spherical", {"noise": "free"}, "spherical (noise free)"),
    ("csgmw", {"lam": 0.001, "noise": "fixed"}, "csgmw"),
])
def test_label(method, variant, expected):
    assert paper.label(_row(method, variant, 0.0)) == expected


def test_kendall_tau():
    a = {"x": 1.0, "y": 2.0, "z": 3.0}
    assert paper.kendall_tau(a, a) == 1.0
    assert paper.kendall_tau(a, {k: -v for k, v in a.items()}) == -1.0
    assert paper.kendall_tau(a, {"x": 1.0, "y": 3.0, "z": 2.0}) == pytest.approx(1 / 3)
    assert math.isnan(paper.kendall_tau(a, {"x": 1.0}))


def test_compare_selects_the_setting_and_ranks():
    rows = [_row("tv", {"lam": 0.01}, 25.0), _row("spherical", {"noise": "reparam"}, 30.0),
            _row("glayers", {"layers": "full", "noise": "reparam"}, 29.0),
            _row("glayers", {"layers": "full", "noise": "reparam"}, 40.0,
                 setting={"accel": 2, "snr_db": 20, "targets": "generator"})]
    table = paper.TABLES["table1-8x20"]
    chosen = paper.select(rows, table)
    assert list(chosen) == ["tv", "spherical", "glayers"] and chosen["glayers"]["psnr_mean"] == 29.0
    md = paper.compare(rows, table)
    assert "| glayers | 25 | 29.00 ± 1.00" in md and "27.99" in md
    # ours: spherical > glayers > tv; paper: glayers > spherical > tv → one discordant pair of three
    assert "**+0.33**" in md
    assert "no results yet" in paper.compare([], table)


def test_every_table_names_known_settings():
    for table in paper.TABLES.values():
        assert table.problem in ("mri", "deblur", "eikonal")
        assert set(table.ssim) <= set(table.psnr)
        assert set(table.psnr) <= set(table.labels or table.psnr)


def test_paired_difference_pairs_by_image():
    setting = {"accel": 8, "snr_db": 20, "targets": "generator"}
    recs = [{"problem": "mri", "setting": setting, "method": m, "variant": v, "image": i, "restart": "best",
             "psnr": p + (0.5 if m == "glayers" else 0.0) + 0.1 * i}
            for i, p in enumerate([20.0, 30.0, 40.0])
            for m, v in [("glayers", {"layers": "full"}), ("spherical", {})]]
    recs.append({**recs[0], "restart": 0, "psnr": 99.0})      # restarts other than "best" are ignored
    recs.append({**recs[1], "image": 7, "psnr": 0.0})         # an image only one method has is ignored
    d = paper.paired_difference(recs, paper.TABLES["table1-8x20"], "glayers", "spherical")
    assert d["n"] == 3 and d["mean"] == pytest.approx(0.5) and d["se"] == pytest.approx(0.0, abs=1e-12)
    assert d["wins"] == 1.0
    assert paper.paired_difference(recs, paper.TABLES["table4"], "glayers", "spherical")["n"] == 0


def test_agreement_sentences_follow_the_numbers():
    table = paper.TABLES["table1-8x20"]
    same = [_row(m, {}, p) for m, p in table.psnr.items()]
    text = paper.agreement(same, table)
    assert "τ = +1.00" in text and "the same as the paper's" in text and "Both rank glayers first." in text
    assert "0.0 dB above" in text or "0.0 dB below" in text
    swapped = [_row(m, {}, -p) for m, p in table.psnr.items()]
    assert "τ = -1.00" in paper.agreement(swapped, table) and "reverse" in paper.agreement(swapped, table)
    assert "Too few" in paper.agreement(same[:1], table)


def test_produces_and_provenance():
    cmd = "python -m gausslib.study mri --accel 8 --snr 20 10 --methods tv spherical glayers"
    assert paper.produces(cmd, paper.TABLES["table1-8x10"]) and paper.produces(cmd, paper.TABLES["table2"])
    assert not paper.produces(cmd, paper.TABLES["table1-2x20"]) and not paper.produces(cmd, paper.TABLES["table4"])
    deblur = "python -m gausslib.study deblur --methods raw glayers --betas 0 1 --layouts P1 --inaccurate 2.5"
    assert paper.produces(deblur, paper.TABLES["table7"]) and paper.produces(deblur, paper.TABLES["table8"])
    machine = {"processor": "x86_64", "cpu_count": 2, "torch": "2.13.0"}
    runs = [{"out": "mri.jsonl", "event": "start", "command": cmd, "machine": machine, "threads": 1, "time": "T0"},
            {"out": "mri.jsonl", "event": "finish", "command": cmd, "wall_seconds": 600.0, "images_run": 25}]
    text = paper.provenance(paper.TABLES["table1-8x20"], runs, "mri.jsonl")
    assert cmd in text and "finished, wall time 10 min" in text and "2 CPUs" in text
    assert "running since T0" in paper.provenance(paper.TABLES["table1-8x20"], runs[:1], "mri.jsonl")
    assert "No study run" in paper.provenance(paper.TABLES["table1-2x20"], runs, "mri.jsonl")


def test_produces_knows_the_noise_modes():
    cmd = "python -m gausslib.study mri --accel 8 --snr 20 --methods spherical glayers --noise-modes fixed"
    assert paper.produces(cmd, paper.TABLES["table5"])
    assert not paper.produces(cmd.replace("spherical glayers", "tv"), paper.TABLES["table5"])
    assert paper.label(_row("glayers", {"layers": "full", "noise": "fixed"}, 0.0)) in paper.TABLES["table5"].psnr
