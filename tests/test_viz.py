import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from gausslib.viz import markdown_table, small_multiples  # noqa: E402


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
