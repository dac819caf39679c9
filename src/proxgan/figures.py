"""Matplotlib set-up for headless figure writing (Agg backend, PNG beside results.json)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def save_figure(fig: "plt.Figure", out_dir: str | Path, name: str) -> str:
    """Save ``fig`` as ``out_dir/name`` (PNG, 120 dpi), close it, and return ``name``."""
    fig.savefig(Path(out_dir) / name, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return name


def paired_slopes(ax: "plt.Axes", columns: Sequence[Sequence[float]], means: Sequence[float], labels: Sequence[str],
                  seeds: Sequence[int]) -> None:
    """A paired slope plot on ``ax``: one line per seed through its value in each column (``columns[j][i]``: seed
    i in column j; NaN leaves a gap), the column ``means`` in black, the columns named by ``labels``."""
    for i, seed in enumerate(seeds):
        ax.plot(range(len(columns)), [c[i] for c in columns], "o-", color=f"C{i % 10}", alpha=0.7, ms=4, lw=1,
                label=f"seed {seed}")
    ax.plot(range(len(columns)), means, "s--", color="black", ms=6, label="mean")
    ax.set_xticks(range(len(columns)), [label.replace(", ", "\n") for label in labels])
    ax.set_xlim(-0.3, len(columns) - 0.7)
    ax.legend(fontsize=6, ncol=2)
