"""Figure helpers shared by the notebooks: the static small-multiples twin of a widget.

A slider needs a kernel, the HTML book has none; so each widget's plotting function
``plot(value, ax)`` is also drawn once per value of the slider's range, side by side.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

__all__ = ["small_multiples"]


def small_multiples(plot: Callable, values: Sequence, *, ncols: int | None = None,
                    panel_size: tuple[float, float] = (2.6, 2.3), sharex: bool = False,
                    sharey: bool = False, title: str | None = None):
    """Return the figure with one panel per value, each drawn by ``plot(value, ax)``.

    values: the widget's range (5–6 values); ncols: panels per row (default: all in one row);
    panel_size: (width, height) in inches of one panel; title: the figure's suptitle (state the
    finding).
    """
    import matplotlib.pyplot as plt

    values = list(values)
    if not values:
        raise ValueError("values must hold at least one parameter value, got an empty sequence")
    ncols = len(values) if ncols is None else ncols
    if not isinstance(ncols, int) or ncols < 1:
        raise ValueError(f"ncols must be a positive int, got {ncols!r}")
    nrows = -(-len(values) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_size[0] * ncols, panel_size[1] * nrows),
                             sharex=sharex, sharey=sharey, squeeze=False)
    flat = axes.ravel()
    for ax, value in zip(flat, values):
        plot(value, ax)
    for ax in flat[len(values):]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
