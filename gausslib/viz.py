"""Figure and table helpers shared by the notebooks and the trainer: the static small-multiples
twin of a widget, image grids, Markdown tables of result rows (the book has no pandas), PNG
grids and loss curves of training runs.

A slider needs a kernel, the HTML book has none; so each widget's plotting function
``plot(value, ax)`` is also drawn once per value of the slider's range, side by side.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

__all__ = ["markdown_table", "small_multiples", "image_grid", "tile_channels", "plot_patch_ids", "save_grid", "plot_log",
           "plot_convergence", "PALETTE", "plot_intervals"]


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


def image_grid(rows, *, titles: Sequence[str] | None = None, title: str | None = None, ncols: int | None = None,
               panel: float = 1.9, vmin: float = -1.0, vmax: float = 1.0, cmap: str = "gray"):
    """Return ``(fig, axes)``: one row of panels per image batch, the first channel of each image.

    rows: a dict ``{row label: images [B, C, H, W]}`` or a list of batches (no labels); titles:
    column titles; title: the figure's suptitle (state the finding); ncols: images per row
    (default: the largest batch); panel: side of one panel in inches; vmin, vmax: the grey scale
    (images in [−1, 1] by default).
    """
    import matplotlib.pyplot as plt

    labels, batches = (list(rows), list(rows.values())) if isinstance(rows, dict) else (None, list(rows))
    if not batches:
        raise ValueError("rows must hold at least one batch of images, got none")
    for b in batches:
        if getattr(b, "ndim", None) != 4:
            raise ValueError(f"rows must hold image batches [B, C, H, W], got shape {tuple(getattr(b, 'shape', ()))}")
    ncols = max(b.shape[0] for b in batches) if ncols is None else ncols
    fig, axes = plt.subplots(len(batches), ncols, figsize=(panel * ncols, panel * len(batches)), squeeze=False)
    for r, batch in enumerate(batches):
        for c, ax in enumerate(axes[r]):
            if c < batch.shape[0]:
                ax.imshow(batch[c, 0].detach().float().cpu().numpy(), cmap=cmap, vmin=vmin, vmax=vmax)
            ax.set(xticks=[], yticks=[])
            if r == 0 and titles is not None and c < len(titles):
                ax.set_title(titles[c], fontsize=9)
        if labels is not None:
            axes[r, 0].set_ylabel(labels[r], fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig, axes


def markdown_table(rows: Sequence[dict], columns: Sequence[str] | dict, *, digits: int = 3) -> str:
    """Return a Markdown table of ``rows`` (dicts), one line per row, in the order given.

    columns: the keys to show, or a dict {key: header}; digits: significant digits of floats
    (floats of more integer digits print whole).
    A missing key or ``None`` shows as an empty cell.
    """
    headers = dict(columns) if isinstance(columns, dict) else {c: c for c in columns}
    if not headers:
        raise ValueError("columns must name at least one key, got none")

    def cell(v):
        if v is None:
            return ""
        if not isinstance(v, float):
            return str(v)
        return f"{v:.0f}" if abs(v) >= 10 ** digits else f"{v:.{digits}g}"  # no 4.28e+03

    lines = ["| " + " | ".join(headers.values()) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(r.get(k)) for k in headers) + " |" for r in rows]
    return "\n".join(lines)


# ------------------------------------------------------------- patch layouts (Glow P1 / P2)
def tile_channels(t, ncols: int | None = None, gap: int = 1):
    """Return the channels of ``t: [C, h, w]`` (or ``[h, w]``) tiled into one 2-D float array
    ``[rows·(h + gap) − gap, ncols·(w + gap) − gap]``, row-major, NaN in the gaps and unused tiles.

    ncols: tiles per row (default ``ceil(√C)``); gap: NaN pixels between tiles.
    """
    import math

    import numpy as np

    a = np.asarray(t.detach().cpu() if hasattr(t, "detach") else t, dtype=float)
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3:
        raise ValueError(f"t must be [C, h, w] or [h, w], got shape {a.shape}")
    C, h, w = a.shape
    ncols = math.ceil(math.sqrt(C)) if ncols is None else ncols
    if not isinstance(ncols, int) or ncols < 1 or gap < 0:
        raise ValueError(f"ncols must be a positive int and gap ≥ 0, got ncols={ncols!r}, gap={gap!r}")
    nrows = -(-C // ncols)
    out = np.full((nrows * (h + gap) - gap, ncols * (w + gap) - gap), np.nan)
    for c in range(C):
        r, k = divmod(c, ncols)
        out[r * (h + gap): r * (h + gap) + h, k * (w + gap): k * (w + gap) + w] = a[c]
    return out


def plot_patch_ids(ids, ax, *, highlight=(), ncols: int | None = None, cmap: str = "tab20",
                   title: str | None = None):
    """Draw a map of patch ids ``[C, h, w]`` (channels tiled by :func:`tile_channels`) on ``ax``:
    every patch in a pale colour of ``cmap`` (id modulo its colours, so neighbours differ), the
    patches in ``highlight`` in solid black. Return the list of drawn images.

    ids: e.g. the latent a layout's ``from_matrix`` makes of the patch matrix whose row i is all i.
    """
    import numpy as np
    from matplotlib import colormaps

    mosaic = tile_channels(ids, ncols)
    colours = colormaps[cmap]
    n_colours = getattr(colours, "N", 20)
    pale = np.ma.masked_invalid(np.where(np.isnan(mosaic), np.nan, np.nan_to_num(mosaic) % n_colours))
    images = [ax.imshow(pale, cmap=colours, vmin=0, vmax=n_colours - 1, alpha=0.45, interpolation="nearest")]
    chosen = np.isin(np.nan_to_num(mosaic, nan=-1), list(highlight))
    if chosen.any():
        images.append(ax.imshow(np.ma.masked_where(~chosen, np.ones_like(mosaic)), cmap="gray_r", vmin=0, vmax=1,
                                interpolation="nearest"))
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)
    return images



# ------------------------------------------------------------------------- training runs
def save_grid(images, path, nrow: int = 8) -> None:
    """Writes images ``[B, 1, H, W]`` in [−1, 1] as one grey PNG grid (2-pixel gaps)."""
    import math

    import matplotlib.pyplot as plt
    import torch

    b, _, h, w = images.shape
    ncol = math.ceil(b / nrow)
    canvas = torch.full((ncol * (h + 2), nrow * (w + 2)), -1.0)
    for i in range(b):
        r, c = divmod(i, nrow)
        canvas[r * (h + 2):r * (h + 2) + h, c * (w + 2):c * (w + 2) + w] = images[i, 0].detach().float().cpu()
    plt.imsave(path, canvas.numpy(), cmap="gray", vmin=-1.0, vmax=1.0)


def plot_log(rows: list[dict], path) -> None:
    """Writes a PNG of every numeric loss column of a training log (``log.jsonl`` rows) against kimg."""
    import matplotlib.pyplot as plt

    keys = [k for k in ("loss_G", "loss_D", "r1", "bpd", "heldout_bpd") if any(k in r for r in rows)]
    fig, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys), 2.6), squeeze=False)
    for ax, k in zip(axes[0], keys):
        pts = [(r["kimg"], r[k]) for r in rows if k in r]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], lw=0.8)
        ax.set_xlabel("kimg"), ax.set_title(k, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_convergence(curves: dict[str, dict], title: str | None = None):
    """Plots what :func:`gausslib.results.convergence` returns: each method's objective relative to its start
    (log scale; objectives differ between methods by their regularisers) and the PSNR against the L-BFGS/Adam
    iteration, one line per method (median over images × restarts, the band between the quartiles).
    Returns ``(fig, axes)``."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(7, 2.8))
    for name, c in curves.items():
        for ax, key in zip(axes, ("relative_loss", "psnr")):
            q1, med, q3 = c[key]
            line, = ax.plot(c["iteration"], med, lw=1.2, label=f"{name} (n = {c['n']})")
            ax.fill_between(c["iteration"], q1, q3, color=line.get_color(), alpha=0.2, lw=0)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("objective / its start")
    axes[1].set_ylabel("PSNR (dB)")
    for ax in axes:
        ax.set_xlabel("iteration")
    axes[1].legend(fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig, axes


#: Okabe & Ito's colour-blind-safe qualitative palette (black omitted): blue, orange, bluish green, vermillion,
#: reddish purple, sky blue, yellow. Distinguishable under the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442")


def plot_intervals(rows: dict[str, dict[str, tuple[float, float, float]]], *, xlabel: str, title: str | None = None,
                   ax=None, colors: Sequence[str] = PALETTE, markers: str = "osD^v"):
    """Draw a forest plot: for each row (top to bottom) and series, a marker at the estimate and a
    horizontal bar over its interval, and a dashed line at zero.

    rows: ``{row label: {series: (estimate, lo, hi)}}`` — the same series in every row (a missing one, or a
    NaN estimate, is left out; NaN bounds draw the marker alone, e.g. a reference value without an
    interval). Series are offset vertically within a row and keep one colour and marker throughout.
    Returns the axes (on a new 7 × (0.9 + 0.45·rows) in figure when ``ax`` is None)."""
    import matplotlib.pyplot as plt

    if not rows:
        raise ValueError("rows: need at least one row to draw")
    series = list(dict.fromkeys(s for r in rows.values() for s in r))
    own_figure = ax is None
    if own_figure:
        _, ax = plt.subplots(figsize=(7, 0.9 + 0.45 * len(rows) + 0.1 * len(series)), layout="constrained")
    step = 0.6 / max(len(series), 1)
    for k, name in enumerate(series):
        y, x, err = [], [], []
        for i, r in enumerate(rows.values()):
            if name not in r or r[name][0] != r[name][0]:
                continue
            est, lo, hi = r[name]
            y.append(i + (k - (len(series) - 1) / 2) * step)
            x.append(est)
            err.append((est - lo, hi - est) if lo == lo and hi == hi else (0.0, 0.0))
        if x:
            ax.errorbar(x, y, xerr=list(zip(*err)), fmt=markers[k % len(markers)], color=colors[k % len(colors)],
                        capsize=3, label=name)
    ax.axvline(0.0, color="0.5", ls="--", lw=1)
    ax.set_yticks(range(len(rows)), list(rows))
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlabel(xlabel)
    if own_figure:  # below the plot: inside it, "best" still lands on a marker when every corner holds one
        ax.figure.legend(fontsize=9, loc="outside lower center", ncols=min(len(series), 2), frameon=False)
    else:
        ax.legend(fontsize=9, loc="best")
    if title:
        ax.set_title(title, fontsize=10)
    return ax
