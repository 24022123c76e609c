"""Protocol 2 of the studies (issue 16): the authors' choices where the paper is silent, the
paper's budget, and a smoke run of every problem."""
import json

import pytest
import torch

from gausslib import baselines, paper, problems, results, study
from gausslib.generators import zoo
from gausslib.generators.glow import Glow
from gausslib.layers import TABLE2_ROWS, spherical
from gausslib.operators import Eikonal
from gausslib.reparam import Spherical
from conftest import tiny_stylegan2

SMALL = ["--psize", "16", "--noise-psize", "4", "--glow-psize", "4", "--no-progress"]


def test_the_default_budget_is_the_papers():
    args = study.parser().parse_args(["mri"])
    assert (args.iters, args.adam_iters, args.protocol) == (510, 1000, 2) and study.LBFGS_HISTORY == 30


def test_glow_spherical_normalises_all_levels_jointly():
    torch.manual_seed(0)
    G = Glow(resolution=16, levels=2, steps=1, hidden=8)
    joint, alone = Spherical(glow_psize=4, joint=True).bind(G, [0]), Spherical(glow_psize=4).bind(G, [0])
    p = joint.x0 * torch.linspace(0.5, 2.0, joint.x0.shape[1])     # levels of unequal size
    T = joint.space.temperature
    (levels,) = joint.latents(p)
    flat = torch.cat([t.flatten(1) for t in levels], 1)
    assert len(levels) == 2 and torch.allclose(flat, T * spherical(p), atol=1e-5)
    (separate,) = alone.latents(p)
    for t in separate:                                                 # protocol 1: every level on its own
        assert torch.allclose(t.flatten(1).norm(dim=1), T * torch.tensor(t[0].numel() ** 0.5), rtol=1e-5)
    assert not torch.allclose(levels[0], separate[0])


def test_noisereg_optimises_a_tiled_w_plus():
    G = tiny_stylegan2(resolution=16)
    plus, one = (baselines.NoiseReg(stats_samples=200, wplus=w).bind(G, [0, 1]) for w in (True, False))
    assert plus.split(plus.x0)[0].shape == (2, G.num_ws, G.w_dim) and one.split(one.x0)[0].shape == (2, 1, G.w_dim)
    assert torch.allclose(plus.images(plus.x0), one.images(one.x0), atol=1e-5)   # both start at w_avg
    p = plus.x0.clone()
    p[:, : G.w_dim] += 1.0                                             # move only the first synthesis input
    w, _ = plus.split(p)
    assert not torch.allclose(w[:, 0], w[:, 1]) and baselines.NoiseReg(wplus=True).describe()["wplus"]


def test_eikonal_is_as_underdetermined_as_the_papers_and_tv_starts_from_the_smoothed_truth():
    spec = problems.get("eikonal")
    op = Eikonal(64, per_edge=spec.Setting().per_edge)
    ratio = op.receivers.shape[0] * op.receivers.shape[1] / 64**2
    assert 0.3 < ratio < 0.45                                          # the paper ≈ 0.37
    x = torch.rand(2, 1, 64, 64) * 2 - 1
    start = spec.tv_start(x)
    assert start.shape == x.shape and start.std() < x.std() and abs(float(start.mean() - x.mean())) < 0.05
    prob = problems.build("denoise", problems.get("denoise").Setting(), x, [0, 1])
    res = baselines.tv(prob, lam=0.1, iters=0, start=start, progress=False)
    assert torch.allclose(res.images[:, 0], start.clamp(-1, 1))


@pytest.mark.parametrize("problem, generator, methods", [
    ("mri", "sg2.pt", ["tv", "spherical", "csgmw", "noisereg", "glayers"]),
    ("deblur", "glow.pt", ["spherical", "raw", "glayers"]),
    ("eikonal", "sg2.pt", ["tv", "spherical", "glayers"]),
    ("denoise", "sg2.pt", ["tv", "orthogonal"]),
])
def test_every_problem_runs_protocol_2(weights, tmp_path, problem, generator, methods):
    out = tmp_path / f"{problem}.jsonl"
    study.main([problem, "--quick", "--images", "1", "--methods", *methods, "--generator", str(weights / generator),
                "--tv-lam", "0.01", "--out", str(out), *SMALL])
    recs = results.read_records(out)
    assert {r["method"] for r in recs if r["restart"] == "best"} == set(methods)
    assert all(r["budget"]["protocol"] == 2 for r in recs)
    restarts = {r["method"]: r["budget"].get("restarts", 1) for r in recs}
    assert all(restarts[m] == (1 if m in ("tv", "csgmw", "noisereg") else 2) for m in methods)
    if problem == "eikonal":
        assert all(r["setting"]["per_edge"] == 2 for r in recs)


def test_protocol_1_stays_reachable(weights, tmp_path):
    out = tmp_path / "mri.jsonl"
    study.main(["mri", "--quick", "--images", "1", "--methods", "csgmw", "noisereg", "--protocol", "1",
                "--generator", str(weights / "sg2.pt"), "--out", str(out), *SMALL])
    recs = results.read_records(out)
    assert {json.dumps(r["budget"]["protocol"]) for r in recs} == {"1"}
    assert len([r for r in recs if r["restart"] != "best"]) == 2 * 2              # best of 2 restarts again
    assert all("wplus" not in r["variant"] for r in recs if r["method"] == "noisereg")


def test_table2_and_table5_cells(weights, tmp_path):
    """--ablation runs every row of Table 2; --noise-by adds Table 5's crossed cells (g/o and o/g)."""
    args = study.parser().parse_args(["mri", "--generator", str(weights / "sg2.pt"), "--methods", "glayers",
                                      "orthogonal", "--ablation", "--noise-by", "same", "orthogonal", "glayers",
                                      *SMALL])
    got = study.cells(args, zoo.load(str(weights / "sg2.pt")), {"accel": 8, "snr_db": 20, "targets": "generator"})
    plain = [c for c in got if "noise_by" not in c.variant]
    assert [c.variant["layers"] for c in plain if c.method == "glayers"] == ["full", *TABLE2_ROWS]
    crossed = {(c.method, c.variant.get("layers"), c.variant["noise_by"]) for c in got if "noise_by" in c.variant}
    assert crossed == {("orthogonal", None, "glayers"),
                       *{("glayers", name, "orthogonal") for name in ("full", *TABLE2_ROWS)}}
    assert paper.label({"method": "glayers", "variant": {"layers": "full", "noise": "reparam",
                                                         "noise_by": "orthogonal"}}) == "glayers (noise orthogonal)"
    only = study.parser().parse_args(["mri", "--methods", "glayers", "--layers", "ica+yj", "ica+lambert", *SMALL])
    assert [c.variant["layers"] for c in study.cells(only, zoo.load(str(weights / "sg2.pt")), {})] == [
        "ica+yj", "ica+lambert"]                                                  # Table 10's stacks alone
    out = tmp_path / "mri.jsonl"
    study.main(["mri", "--quick", "--images", "1", "--restarts", "1", "--methods", "orthogonal", "--noise-by",
                "glayers", "--generator", str(weights / "sg2.pt"), "--out", str(out), *SMALL])
    recs = results.read_records(out)
    assert recs and {r["variant"].get("noise_by") for r in recs} == {"glayers"}
    assert all(r["psnr"] == r["psnr"] for r in recs)
