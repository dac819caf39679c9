"""Matplotlib set-up for headless figure writing (Agg backend, PNG beside results.json)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def save_figure(fig: "plt.Figure", out_dir: str | Path, name: str) -> str:
    """Save ``fig`` as ``out_dir/name`` (PNG, 120 dpi), close it, and return ``name``."""
    fig.savefig(Path(out_dir) / name, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return name
