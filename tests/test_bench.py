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
