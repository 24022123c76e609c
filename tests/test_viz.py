import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

import torch  # noqa: E402

from gausslib.viz import image_grid, markdown_table, small_multiples  # noqa: E402


def test_small_multiples_draws_one_panel_per_value_and_hides_the_rest():
    seen = []

    def plot(value, ax):
        seen.append(value)
        ax.plot([0, 1], [0, value])
        ax.set_title(f"v = {value}")

    fig = small_multiples(plot, [1, 2, 3, 4, 5], ncols=3, title="finding")
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert seen == [1, 2, 3, 4, 5]
    assert len(fig.axes) == 6 and len(visible) == 5
    assert [ax.get_title() for ax in visible] == [f"v = {v}" for v in seen]
    assert fig._suptitle.get_text() == "finding"
    plt.close(fig)


@pytest.mark.parametrize("values, ncols", [([], None), ([1], 0)])
def test_small_multiples_rejects_bad_arguments(values, ncols):
    with pytest.raises(ValueError):
        small_multiples(lambda v, ax: None, values, ncols=ncols)


def test_markdown_table_has_a_header_a_rule_and_one_line_per_row():
    rows = [{"a": 1, "b": 0.123456, "c": None}, {"a": "x", "b": 2.0}]
    text = markdown_table(rows, {"a": "A", "b": "B", "c": "C"}, digits=2)
    lines = text.splitlines()
    assert lines[0] == "| A | B | C |" and lines[1] == "|---|---|---|"
    assert lines[2:] == ["| 1 | 0.12 |  |", "| x | 2 |  |"]
    with pytest.raises(ValueError):
        markdown_table(rows, [])


def test_tile_channels_places_each_channel_in_its_tile_with_nan_gaps():
    import numpy as np
    import torch

    from gausslib.viz import tile_channels

    t = torch.arange(5 * 2 * 3, dtype=torch.float64).reshape(5, 2, 3)
    m = tile_channels(t, gap=1)                               # ncols = ceil(√5) = 3, two rows
    assert m.shape == (2 * 3 - 1, 3 * 4 - 1)
    assert np.array_equal(m[0:2, 0:3], t[0].numpy()) and np.array_equal(m[3:5, 4:7], t[4].numpy())
    assert np.isnan(m[2]).all() and np.isnan(m[:, 3]).all() and np.isnan(m[3:, 8:]).all()
    assert np.array_equal(tile_channels(t[0]), t[0].numpy())  # a single map is itself
    with pytest.raises(ValueError):
        tile_channels(torch.zeros(2, 2, 2, 2))


def test_plot_patch_ids_blackens_only_the_highlighted_patches():
    import numpy as np
    import torch

    from gausslib.viz import plot_patch_ids

    ids = torch.arange(4.0).repeat_interleave(4).reshape(1, 4, 4)  # rows are patches 0..3
    fig, ax = plt.subplots()
    images = plot_patch_ids(ids, ax, highlight=[2], title="patch 2")
    top = images[-1].get_array()
    assert len(images) == 2 and ax.get_title() == "patch 2"
    assert np.array_equal(~np.ma.getmaskarray(top), (ids[0] == 2).numpy())
    assert len(plot_patch_ids(ids, ax)) == 1                  # nothing highlighted: no overlay
    plt.close(fig)


def test_image_grid_draws_one_row_per_batch():
    rows = {"a": torch.zeros(3, 1, 8, 8), "b": torch.ones(2, 1, 8, 8)}
    fig, axes = image_grid(rows, titles=["x", "y", "z"], title="grid")
    assert axes.shape == (2, 3) and axes[1, 0].get_ylabel() == "b" and axes[0, 2].get_title() == "z"
    assert len(axes[1, 2].images) == 0                                # the shorter row leaves a blank panel
    plt.close(fig)
    with pytest.raises(ValueError, match="rows"):
        image_grid([torch.zeros(8, 8)])


def test_plot_intervals_draws_each_series_and_skips_missing_estimates():
    from gausslib.viz import PALETTE, plot_intervals

    rows = {"a": {"ours": (-0.4, -0.5, -0.3), "paper": (1.0, float("nan"), float("nan"))},
            "b": {"ours": (float("nan"),) * 3, "paper": (0.5, float("nan"), float("nan"))}}
    ax = plot_intervals(rows, xlabel="Δ (dB)", title="t")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
    assert [t.get_text() for t in ax.figure.legends[0].get_texts()] == ["ours", "paper"]   # below the plot
    ours, paper = ax.containers                      # one errorbar per series; "ours" has one finite row
    assert len(ours.lines[0].get_xdata()) == 1 and len(paper.lines[0].get_xdata()) == 2
    assert ours.lines[0].get_color() == PALETTE[0] and ax.figure.get_size_inches()[0] <= 7
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="rows"):
        plot_intervals({}, xlabel="x")
