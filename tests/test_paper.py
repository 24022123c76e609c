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
    assert "started T0, no finish logged" in paper.provenance(paper.TABLES["table1-8x20"], runs[:1], "mri.jsonl")
    assert "No study run" in paper.provenance(paper.TABLES["table1-2x20"], runs, "mri.jsonl")


def test_produces_knows_the_noise_modes():
    cmd = "python -m gausslib.study mri --accel 8 --snr 20 --methods spherical glayers --noise-modes fixed"
    assert paper.produces(cmd, paper.TABLES["table5"])
    assert not paper.produces(cmd.replace("spherical glayers", "tv"), paper.TABLES["table5"])
    assert paper.label(_row("glayers", {"layers": "full", "noise": "fixed"}, 0.0)) in paper.TABLES["table5"].psnr


def _pair_records(diffs, alt="spherical", base=25.0, budget=None):
    """Best records of glayers and ``alt`` on images 0.. with glayers − alt = diffs[i]."""
    setting = {"accel": 8, "snr_db": 20, "targets": "generator"}
    out = []
    for i, d in enumerate(diffs):
        for method, variant, psnr in (("glayers", {"layers": "full", "noise": "reparam"}, base + d),
                                      (alt, {"noise": "reparam"}, base)):
            r = {"problem": "mri", "setting": setting, "method": method, "variant": variant, "image": i,
                 "restart": "best", "psnr": psnr, "ssim": 0.8, "lpips": None, "seconds": 1.0, "iters": 3}
            out.append({**r, "budget": budget} if budget else r)
    return out


def _verdict(diffs, paper_g=28.0, paper_alt=27.0, **kw):
    from gausslib import results

    table = paper.PaperTable("t", "mri", {"accel": 8, "snr_db": 20}, {"spherical": paper_alt, "glayers": paper_g})
    records = _pair_records(diffs, **kw)
    rows = [{**r, "budget": json.dumps(r.get("budget", results.LEGACY), sort_keys=True),
             "setting": json.dumps(r["setting"], sort_keys=True), "variant": json.dumps(r["variant"], sort_keys=True),
             "psnr_mean": sum(q["psnr"] for q in records if q["method"] == r["method"]) / len(diffs), "n": len(diffs)}
            for r in records[:2]]
    return paper.verdict(records, rows, table)


def test_strict_verdict_cases():
    spread = [0.1, -0.1] * 12 + [0.0]                       # sd ≈ 0.1: the interval is about ± 0.04
    v = _verdict([1.0 + s for s in spread])                 # same sign as the paper's +1, interval off zero
    assert v["verdict"] == "agrees" and v["n"] == 25 and v["ci"][0] > 0 and v["paper_delta"] == pytest.approx(1.0)
    assert (v["g"], v["alternative"], v["paper_alternative"]) == ("glayers", "spherical", "spherical")
    assert paper._t975(24) == pytest.approx(2.0639, abs=1e-4)
    assert _verdict([-0.5 + s for s in spread])["verdict"] == "reversed"
    assert _verdict([0.05 + s * 10 for s in spread])["verdict"] == "unresolved"   # holds 0, not the paper's +1
    v = _verdict([0.1 + s * 10 for s in spread], paper_g=27.3)                   # holds 0 and the paper's +0.3
    assert v["ci"][0] < 0 < 0.3 < v["ci"][1] and v["verdict"] == "agrees"
    assert _verdict([-0.5 + s for s in spread], paper_g=26.5)["verdict"] == "agrees"  # the paper's G lose too
    assert _verdict([1.0])["verdict"] == "no results"


def test_strict_verdict_takes_our_best_alternative_and_one_protocol():
    table = paper.TABLES["table1-8x20"]
    records = _pair_records([0.5, 0.6, 0.7], alt="orthogonal") + _pair_records([-1.0, -1.1, -0.9], base=26.0)[1::2]
    rows = [_row("glayers", {"layers": "full", "noise": "reparam"}, 25.6), _row("orthogonal", {"noise": "reparam"}, 25.0),
            _row("spherical", {"noise": "reparam"}, 26.0)]
    for r in rows:
        r["budget"] = '{"protocol": 1}'
    v = paper.verdict(records, rows, table)
    assert v["alternative"] == "spherical" and v["verdict"] == "reversed" and v["delta"] == pytest.approx(-0.4)
    assert not math.isnan(v["tau"])
    mixed = records + _pair_records([1.0], budget={"protocol": 2})
    with pytest.raises(ValueError, match="protocol"):
        paper.verdict(mixed, rows, table)
    assert paper.verdict(mixed, rows, table, protocol=1)["verdict"] == "reversed"
    board = paper.scoreboard(records, rows, {"t1": table, "t7": paper.TABLES["table7"]})
    assert [b["table"] for b in board] == ["t1"]


def test_select_never_mixes_protocols():
    table = paper.TABLES["table1-8x20"]
    old, new = _row("glayers", {"layers": "full", "noise": "reparam"}, 25.0), _row("glayers", {"layers": "full"}, 26.0)
    new["budget"] = '{"iters": 510, "protocol": 2}'
    assert paper.select([old], table)["glayers"]["psnr_mean"] == 25.0
    with pytest.raises(ValueError, match="protocol"):
        paper.select([old, new], table)
    assert paper.select([old, new], table, protocol=2)["glayers"]["psnr_mean"] == 26.0


def test_verdict_sentence_and_report_follow_the_numbers():
    spread = [0.1, -0.1] * 12 + [0.0]
    v = _verdict([-0.5 + s for s in spread])
    text = paper.verdict_sentence(v)
    assert "**reversed**" in text and "Δ = -0.50 dB" in text and "n = 25" in text and "+1.00 dB" in text
    assert "no headline" in paper.verdict_sentence({**v, "verdict": "no paper pair"})
    assert "not enough" in paper.verdict_sentence({**v, "verdict": "no results", "n": 1})
    records = _pair_records([0.5, 0.6, 0.7], alt="orthogonal", budget={"protocol": 2, "iters": 510})
    for r in records:
        r["setting"] = json.dumps(r["setting"], sort_keys=True)
    from gausslib import results

    rows = [{**r, "budget": json.dumps(r["budget"], sort_keys=True), "variant": json.dumps(r["variant"], sort_keys=True),
             "n": 3, "psnr_mean": r["psnr"], "psnr_std": 0.1, "ssim_mean": 0.8, "ssim_std": 0.01} for r in records[:2]]
    cmd = ("python -m gausslib.study mri --accel 8 --snr 20 --methods orthogonal glayers "
           "--results-dir /home/someone/book/data/results/v2")
    runs = [{"out": "mri.jsonl", "event": "start", "command": cmd, "machine": {}, "threads": 1, "time": "T0"}]
    text = paper.report(paper.TABLES["table1-8x20"], records, rows, runs, "mri.jsonl")
    assert "--results-dir data/results/v2`" in text and "/home/someone" not in text      # no machine's own path
    assert "glayers: iters = 510, protocol = 2" in text and "Strict verdict" in text
    assert "no results yet" in paper.report(paper.TABLES["table4"], records, rows, runs, "eikonal.jsonl")
    assert results.convergence([], paper.label) == {} and paper.curves(records, paper.TABLES["table4"]) == {}


def test_curves_keep_the_tables_labels_in_order():
    curve = {"iteration": [0, 5], "loss": [2.0, 1.0], "psnr": [20.0, 25.0]}
    records = [{**r, "restart": 0, "curve": curve} for r in _pair_records([0.5, 0.6], alt="orthogonal")]
    found = paper.curves(records, paper.TABLES["table1-8x20"])
    assert list(found) == ["orthogonal", "glayers"] and found["glayers"]["n"] == 2
    assert found["glayers"]["relative_loss"][1] == [1.0, 0.5]


def test_beside_sets_two_studies_and_the_paper_side_by_side():
    deblur = {"targets": "phantom", "model_sigma": 3.0, "sigma": 3.0, "noise_std": 50.0}
    first = [_row("spherical", {"layout": "P1"}, 18.0, "deblur", deblur),
             _row("glayers", {"layers": "full", "layout": "P1"}, 23.5, "deblur", deblur)]
    second = [_row("glayers", {"layers": "full", "layout": "P1"}, 22.0, "deblur", deblur, n=5)]
    text = paper.beside(paper.TABLES["table3"], {"protocol 1": first, "protocol 2": second})
    lines = text.splitlines()
    assert lines[0] == ("| method | n, protocol 1 | PSNR (dB), protocol 1 | n, protocol 2 | PSNR (dB), protocol 2 "
                        "| PSNR (dB), paper |")
    assert lines[2] == "| spherical | 25 | 18.00 ± 1.00 | — | — | 21.78 |"                # the table's order
    assert lines[3] == "| glayers P1 | 25 | 23.50 ± 1.00 | 5 | 22.00 ± 1.00 | 22.40 |"
    assert len(lines) == 4                                                   # labels nobody ran are left out
    assert "| raw β=0.1 | 25 | 23.50 ± 1.00 | — |" in paper.beside(
        paper.TABLES["table7"], {"a": [_row("raw", {"beta": 0.1, "layout": "P1"}, 23.5, "deblur", deblur)]})
    assert "no results yet" in paper.beside(paper.TABLES["table3"], {"a": [], "b": []})


def test_paired_interval_is_the_t_interval():
    setting = {"targets": "phantom", "model_sigma": 3.0}
    recs = [{"problem": "deblur", "setting": setting, "method": m, "variant": v, "image": i, "restart": "best",
             "psnr": 20.0 + (delta if m == "raw" else 0.0)}
            for i, delta in enumerate([1.0, 2.0, 3.0])
            for m, v in [("raw", {"beta": 0.1, "layout": "P1"}), ("glayers", {"layers": "full", "layout": "P1"})]]
    d = paper.paired_interval(recs, paper.TABLES["table7"], "raw β=0.1", "glayers P1")
    half = 4.302653 * 1.0 / 3 ** 0.5                                  # t(0.975, 2) · sd / √n, sd = 1
    assert d["mean"] == pytest.approx(2.0) and d["ci"] == pytest.approx((2.0 - half, 2.0 + half), rel=1e-6)
    assert all(math.isnan(v) for v in paper.paired_interval(recs[:2], paper.TABLES["table7"], "raw β=0.1",
                                                            "glayers P1")["ci"])


def test_covered_needs_every_row_the_paper_reports():
    t1, t5 = paper.TABLES["table1-8x20"], paper.TABLES["table5"]
    rows = [_row(m, {"noise": "reparam"} if m != "glayers" else {"layers": "full", "noise": "reparam"}, 25.0)
            for m in paper._TABLE1_METHODS]
    assert paper.covered(rows, t1) and not paper.covered(rows, t5)
    assert not paper.covered(rows[:-1], t1)


def test_the_ablation_tables_name_every_row_the_study_runs():
    from gausslib.layers import TABLE2_ROWS

    assert paper.TABLE2_PRESETS == TABLE2_ROWS
    for key in ("table2", "table2-10"):
        assert paper.produces("python -m gausslib.study mri --methods spherical glayers --ablation --snr 20 10",
                              paper.TABLES[key])
    assert paper.produces("python -m gausslib.study deblur --methods spherical glayers --ablation --layouts P2",
                          paper.TABLES["table9"])
    assert paper.produces("python -m gausslib.study mri --methods glayers --noise-by orthogonal",
                          paper.TABLES["table5"])
    assert not paper.produces("python -m gausslib.study mri --methods glayers --snr 10", paper.TABLES["table2"])
    table10 = "python -m gausslib.study mri --targets ood --methods glayers --layers ica+yj ica+lambert --noise-modes fixed"
    assert paper.produces(table10, paper.TABLES["table10"]) and not paper.produces(table10, paper.TABLES["table1-8x20"])


def test_sweep_pairs_within_each_setting():
    def rec(setting, method, image, psnr):
        return {"problem": "mri", "setting": setting, "method": method, "variant": {}, "image": image,
                "restart": "best", "psnr": psnr}

    easy, hard, alone = ({"accel": 8, "snr_db": s, "targets": "generator"} for s in (20, 10, 5))
    records = [rec(easy, "glayers", i, 30 + i) for i in range(3)] + [rec(easy, "spherical", i, 29 + i) for i in range(3)]
    records += [rec(hard, "glayers", i, 20 + i % 2) for i in range(4)] + [rec(hard, "spherical", i, 21) for i in range(3)]
    records += [rec(alone, "glayers", 0, 10.0)]                          # no spherical there: no entry
    got = paper.sweep(records, "mri", "glayers", "spherical")
    assert [g["setting"]["snr_db"] for g in got] == [20, 10]
    assert got[0]["n"] == 3 and got[0]["mean"] == pytest.approx(1.0) and got[0]["wins"] == 1.0
    assert got[1]["n"] == 3 and got[1]["mean"] == pytest.approx(-2 / 3)   # images 0, 1, 2 only: −1, 0, −1
    assert paper.sweep(records, "mri", "glayers", "spherical", targets="ood") == []


def test_labels_name_rolled_layers_and_patch_sizes():
    row = {"method": "glayers", "variant": {"layers": "ica", "roll": True, "noise": "reparam"},
           "budget": json.dumps({"protocol": 2, "psize": 8, "noise_psize": 8})}
    assert paper.label(row) == "glayers:ica rolled psize=8"
    assert paper.label({**row, "variant": {"layers": "ica"}, "budget": {"psize": 32}}) == "glayers:ica"
    assert paper.produces("python -m gausslib.study mri --methods glayers --layers ica --psize 8", paper.TABLES["table6"])
    assert not paper.produces("python -m gausslib.study mri --methods glayers --psize 8", paper.TABLES["table6"])
    assert paper.produces("python -m gausslib.study deblur --methods glayers --layers yj+lambert --layouts P2",
                          paper.TABLES["table9"])
    ood = "python -m gausslib.study mri --targets ood --methods glayers --layers ica+yj --noise-modes fixed"
    assert paper.produces(ood, paper.TABLES["table10"])


def test_the_typed_tables_are_the_papers():
    # spot checks against ../shared/paper.txt (Tables 2, 5, 6, 9, 10): the rows and both columns
    t = paper.TABLES
    assert t["table2"].psnr["glayers:yj"] == 26.92 and t["table2-10"].psnr["glayers:ica+lambert"] == 25.57
    assert t["table5"].psnr["glayers (noise orthogonal)"] == 27.43 and t["table5-10"].psnr["glayers"] == 25.48
    assert list(t["table6"].psnr.values()) == [25.33, 26.83, 27.91, 28.03]
    assert t["table9"].psnr["glayers:yj+lambert P2"] == 21.99 and t["table9"].ssim["glayers:ica+lambert P2"] == 0.590
    assert t["table10"].psnr["spherical (noise fixed)"] == 26.14 and t["table10"].setting["targets"] == "ood"
    assert paper.headline(t["table2-10"]) == ("glayers:ica+lambert", "spherical", pytest.approx(25.57 - 22.98))
