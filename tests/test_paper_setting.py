"""The paper's architecture (config F) and what one inversion step with it costs."""
import pytest
import torch

from gausslib.benchmarks import paper_setting
from gausslib.generators import Generator
from gausslib.generators.official import config_f


def test_config_f_has_the_official_channel_plan():
    cfg = config_f(256)
    assert cfg.channels == {4: 512, 8: 512, 16: 512, 32: 512, 64: 512, 128: 256, 256: 128}
    assert (cfg.z_dim, cfg.w_dim, cfg.mapping_layers, cfg.mapping_lr_mul, cfg.img_channels) == (512, 512, 8, 0.01, 1)
    assert config_f(1024, img_channels=3).channels[1024] == 32


@pytest.fixture(scope="module")
def small():
    torch.manual_seed(0)
    return Generator(config_f(16)).eval().requires_grad_(False)


def test_cost_grows_with_the_batch_and_counts_the_backward(small):
    one, two, three = (paper_setting.cost(small, b) for b in (1, 2, 3))
    assert one["parameters"] == three["parameters"] == sum(p.numel() for p in small.parameters())
    # every FLOP is per image; the saved tensors are a fixed part (scaled weights) plus a part per image
    assert three["forward_gflop"] == pytest.approx(3 * one["forward_gflop"], rel=1e-9)
    assert one["forward_gflop"] < one["step_gflop"] <= 3 * one["forward_gflop"]
    per_image = two["activation_mib"] - one["activation_mib"]
    assert per_image > 0 and three["activation_mib"] - two["activation_mib"] == pytest.approx(per_image, rel=1e-6)


def test_cost_refuses_a_bad_batch(small):
    with pytest.raises(ValueError, match="batch"):
        paper_setting.cost(small, 0)


def test_time_step_reports_a_time_and_no_gpu_memory_on_the_cpu(small):
    out = paper_setting.time_step(small, batch=1, repeats=1)
    assert out["step_s"] > 0 and out["peak_mib"] is None


def test_measure_reports_counts_and_one_thread_times():
    threads = torch.get_num_threads()
    out = paper_setting.measure(batch=1, repeats=1, resolution=16)
    assert torch.get_num_threads() == threads and out["threads"] == 1
    assert out["cpu_1thread_step_s"] > 0 and out["eikonal_step_s"] > 0 and out["forward_gflop"] > 0
