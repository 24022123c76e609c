"""The benchmark helpers: interleaving, summaries, test inputs, a non-zero eikonal residual (no timing asserts)."""
import pytest
import torch

from gausslib import stats
from gausslib.bench import interleaved, summary_ms
from gausslib.benchmarks import eikonal
from gausslib.benchmarks.layers import make_input


def test_interleaved_calls_every_case_once_per_round():
    order = []
    out = interleaved({"a": lambda: order.append("a"), "b": lambda: order.append("b")}, repeats=3, warmup=1)
    assert order == ["a", "b"] * 4
    assert {k: (len(v["wall"]), len(v["cpu"])) for k, v in out.items()} == {"a": (3, 3), "b": (3, 3)}


def test_summary_ms_median_and_quartiles():
    s = summary_ms([0.001, 0.002, 0.003, 0.004, 0.005])
    assert s == pytest.approx({"median": 3.0, "q25": 2.0, "q75": 4.0})
    assert summary_ms([0.002]) == pytest.approx({"median": 2.0, "q25": 2.0, "q75": 2.0})


def test_layer_inputs():
    X = {k: make_input(k, 2000, 8) for k in ("gaussian", "mixed", "heavy")}
    assert all(x.shape == (1, 2000, 8) and torch.isfinite(x).all() for x in X.values())
    kurt = {k: float(stats.kurtosis(x.flatten(1), excess=False)) for k, x in X.items()}
    assert abs(kurt["gaussian"] - 3) < 0.5 and kurt["heavy"] > 6 and kurt["mixed"] > 3.5
    assert torch.equal(make_input("mixed", 2000, 8), make_input("mixed", 2000, 8))
    with pytest.raises(ValueError, match="kind"):
        make_input("cauchy", 10, 2)


def test_eikonal_benchmark_times_a_nonzero_gradient():
    row = eikonal._case(32, repeats=1)
    assert row["residual_norm"] > 0 and row["gradient_norm"] > 0


def test_inversion_row_splits_an_iteration():
    from gausslib.benchmarks.inversion import HISTORY_EVERY, row

    ms = 1e-3
    times = {"layers": [20 * ms] * 3, "generator": [50 * ms] * 3, "operator": [5 * ms] * 3,
             "evaluation": [80 * ms] * 3, "record": [HISTORY_EVERY * 2 * ms] * 3}
    r = row("glayers", times, iterations=[90 * ms, 170 * ms, 90 * ms], evaluations=[1, 2, 1])
    assert r["iteration_ms"] == pytest.approx(90) and r["evaluations_per_iteration"] == pytest.approx(4 / 3)
    assert r["line_search_ms"] == pytest.approx(10)           # 90 − 80, 170 − 2·80
    assert r["iteration_per_evaluation_ms"] == pytest.approx(90)  # medians of 90, 85, 90
    assert r["glue_ms"] == pytest.approx(5) and r["bookkeeping_ms"] == pytest.approx(2)
    assert r["ratio_to_generator"] == pytest.approx(90 / 50) and r["evaluation_ratio_to_generator"] == pytest.approx(80 / 50)


def test_inversion_benchmark_cases_time_what_they_name():
    from gausslib import problems
    from gausslib.benchmarks import inversion
    from gausslib.generators import zoo
    from gausslib.reparam import Gaussianized

    assert all(problems.get(p).DEFAULT_GENERATOR in inversion.generators(p) for p in inversion.PROBLEMS)
    eikonal = problems.get("eikonal").Setting()                    # the study's acquisition (2 sources per edge)
    assert inversion.PROBLEMS["eikonal"][1] == {"per_edge": eikonal.per_edge, "noise": eikonal.noise,
                                                "extent_m": eikonal.extent_m}
    weights, setting, kind = inversion.PROBLEMS["mri"]
    G = zoo.load(weights)
    problem = problems.build("mri", setting, problems.targets(G, kind, [0], G.resolution), [0])
    timers, opt = inversion._cases(problem, G, Gaussianized())
    assert set(timers) == {"layers", "generator", "operator", "evaluation", "record"}
    loss, grad = timers["evaluation"]()
    assert loss.shape == (inversion.RESTARTS,) and torch.isfinite(grad).all() and grad.abs().sum() > 0
    for name in ("layers", "generator", "operator", "record"):
        timers[name]()
    opt.step()
    assert opt.evaluations >= 2


def test_step_benchmark_uses_the_inversions_patch_matrices():
    from gausslib.benchmarks import steps
    from gausslib.generators import zoo
    from gausslib.layers import GaussianizationLayers
    from gausslib.reparam import Gaussianized

    mats = steps.patch_matrices(zoo.load("stylegan2-phantom64"), Gaussianized())
    assert {k: (tuple(v.shape), v.dtype) for k, v in mats.items()} == {
        "style": ((3, 160, 32), torch.float64), "noise": ((3, 170, 64), torch.float64)}
    timers = steps._timers(mats["style"][:, :40], GaussianizationLayers())
    assert list(timers) == ["whiten", "ica", "yeo_johnson", "lambert", "standardize", "stack", "eigh"]
    for fn in timers.values():
        fn()


def test_one_thread_stamps_rows_and_restores_the_thread_count():
    from gausslib.bench import one_thread

    before = torch.get_num_threads()
    rows = one_thread(lambda: [{"threads_inside": torch.get_num_threads()}])
    assert rows[0]["threads_inside"] == 1 and rows[0]["threads"] == 1 and rows[0]["load_avg_1min"] >= 0
    assert torch.get_num_threads() == before
