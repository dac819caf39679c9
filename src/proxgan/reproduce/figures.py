"""The figures of Table 1's stage (§6.2): the columns' means with 95 % t intervals, and each row seed by seed.

A column a row was not trained for (a proximal variant run only at equal time) is left empty.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from proxgan.report.verdicts import table1_row_label, table1_variant

_EMPTY = {"mean": math.nan, "ci95": None}

#: the three columns of a Table 1 row: key, label, how to read it from the row
TABLE1_COLUMNS = (("regular", "regular", lambda r: r["regular"]),
                  ("proximal", "proximal, same steps", lambda r: r["proximal"]),
                  ("equal", "proximal, same time", lambda r: r["equal_time"]["proximal"]))


def _interval_error(stats: dict[str, Any]) -> tuple[float, float]:
    """(below, above) the mean of its 95 % t interval, for an error bar (0 without an interval)."""
    if stats["ci95"] is None or math.isnan(stats["mean"]):
        return 0.0, 0.0
    return stats["mean"] - stats["ci95"][0], stats["ci95"][1] - stats["mean"]


def plot_table1(summary: dict[str, Any], out_dir: Path) -> str:
    """Bars of the mean per row with 95 % t intervals: regular, proximal (same steps), proximal (same time)."""
    from proxgan.figures import plt, save_figure

    rows = summary["rows"]
    fig, ax = plt.subplots(figsize=(1.8 + 1.6 * len(rows), 3.4))
    width = 0.8 / len(TABLE1_COLUMNS)
    for i, (_, label, pick) in enumerate(TABLE1_COLUMNS):
        xs = [j + (i - 1) * width for j in range(len(rows))]
        columns = [pick(r) or _EMPTY for r in rows]
        errors = list(zip(*(_interval_error(c) for c in columns)))
        ax.bar(xs, [c["mean"] for c in columns], width, yerr=errors, capsize=3, label=label)
    ax.set_xticks(range(len(rows)), [table1_row_label(r).replace(" ", "\n", 1) for r in rows])
    arrow = "higher" if summary["higher_is_better"] else "lower"
    ax.set_ylabel(f"{summary['metric']} ({arrow} is better)")
    ax.set_title(f"{summary['dataset']}: {summary['steps']} generator steps, {len(summary['seeds'])} seeds, "
                 "95 % t intervals", fontsize=9)
    ax.legend(fontsize=8)
    return save_figure(fig, out_dir, "table1.png")


def plot_table1_pairs(summary: dict[str, Any], row: dict[str, Any], out_dir: Path) -> str:
    """One Table 1 row, seed by seed: each seed's regular, proximal (same steps) and proximal (same time)
    scores joined by a line (a paired slope plot), the column means in black."""
    from proxgan.figures import paired_slopes, plt, save_figure

    fig, ax = plt.subplots(figsize=(4.2, 3.4))
    columns = [pick(row) or _EMPTY | {"values": [math.nan] * len(summary["seeds"])} for _, _, pick in TABLE1_COLUMNS]
    paired_slopes(ax, [c["values"] for c in columns], [c["mean"] for c in columns],
                  [label for _, label, _ in TABLE1_COLUMNS], summary["seeds"])
    arrow = "higher" if summary["higher_is_better"] else "lower"
    ax.set_ylabel(f"{summary['metric']} ({arrow} is better)")
    ax.set_title(f"{table1_row_label(row)}, one line per seed; same time = "
                 f"{row['equal_time']['proximal_steps']} proximal steps", fontsize=8)
    variant = table1_variant(row)
    suffix = f"-{variant}" if variant else ""
    return save_figure(fig, out_dir, f"table1-pairs-{row['formulation']}-dim{row['dim']}{suffix}.png")
