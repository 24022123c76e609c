"""Draw the book's pipeline picture: python book/figures/pipeline.py  (writes pipeline.png beside it)."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

# (label, colour): the optimised latent, the Gaussianization layers T, then the frozen physics.
STAGES = [
    ("latent\n$v$", "#d9d9d9"),
    ("ZCA\nwhitening", "#9ecae1"),
    ("FastICA\nrotation $W$", "#9ecae1"),
    ("Yeo-Johnson\n$\\lambda^*$", "#6baed6"),
    ("Lambert $W$\n$\\delta^*$", "#6baed6"),
    ("standardise\ntemperature", "#4292c6"),
    ("generator\n$G$ (frozen)", "#fdd0a2"),
    ("operator $A$\nmisfit", "#fd8d3c"),
]


def draw(path: Path) -> None:
    """Write the pipeline figure (boxes left to right, the gradient path below) to `path`."""
    fig, ax = plt.subplots(figsize=(11.5, 2.9), dpi=120)
    width, gap = 1.3, 0.3
    for i, (label, colour) in enumerate(STAGES):
        x = i * (width + gap)
        ax.add_patch(FancyBboxPatch((x, 0), width, 1, boxstyle="round,pad=0.03,rounding_size=0.08",
                                    facecolor=colour, edgecolor="#333333", linewidth=1))
        ax.text(x + width / 2, 0.5, label, ha="center", va="center", fontsize=9.5)
        if i:
            ax.add_patch(FancyArrowPatch((x - gap, 0.5), (x, 0.5), arrowstyle="-|>", mutation_scale=10))
    left, right = 1 * (width + gap), 5 * (width + gap) + width
    ax.annotate("", xy=(left, 1.18), xytext=(right, 1.18),
                arrowprops=dict(arrowstyle="<->", color="#08519c", linewidth=1.2))
    ax.text((left + right) / 2, 1.3, "Gaussianization layers $T$, on patches $[B, n, d]$:\n"
            "each solves a small optimisation problem at every forward pass",
            ha="center", va="bottom", fontsize=10, color="#08519c")
    end = len(STAGES) * (width + gap) - gap
    ax.add_patch(FancyArrowPatch((end - width / 2, -0.12), (width / 2, -0.12),
                                 connectionstyle="arc3,rad=-0.08", arrowstyle="-|>", mutation_scale=10,
                                 color="#a50f15", linestyle="--"))
    ax.text(end / 2, -0.75, "gradient of $\\|A(m) - d\\|^2$ with respect to $v$, "
            "the image being $m = G(T(v))$", ha="center", va="center", fontsize=10, color="#a50f15")
    ax.set_xlim(-0.1, end + 0.1)
    ax.set_ylim(-0.95, 1.9)
    ax.axis("off")
    fig.savefig(path, bbox_inches="tight", facecolor="white")
    plt.close(fig)


if __name__ == "__main__":
    draw(Path(__file__).with_name("pipeline.png"))
