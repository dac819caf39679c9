"""The MNIST recipe search behind the ``mnist-fast-unconditional`` config: train candidates, score them, tabulate, plot.

Each candidate is ``proxgan train mnist-fast-unconditional OVERRIDES`` run as its own process (its wall time is the
whole command's, start-up and in-training evaluation included), then scored by
``proxgan evaluate RUN --metrics cls_is,cls_fid --samples 5000``. Writes ``OUT/table.md`` (one row per
candidate: overrides, steps, wall minutes, cls_is, cls_fid and its floor) and
``OUT/quality_vs_time.png`` (the in-training evaluations of every run against wall-clock seconds).

    python benchmarks/mnist_recipe.py --data-root ../shared/data --out runs/recipe [--only NAME,...] [--jobs 1]
    python benchmarks/mnist_recipe.py --plot RUN_DIR [RUN_DIR ...] --out DIR   # only the figure, of finished runs
    python benchmarks/mnist_recipe.py --summarize RUN_DIR [RUN_DIR ...]        # scores of evaluated runs, mean, 95 % CI
                                                                              # (and average vs last iterate, paired)

With ``--jobs`` > 1 candidates share the machine and their wall times are not those of a lone run;
the table says how many ran at once.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

#: candidate name -> overrides of the shipped ``mnist-fast-unconditional`` config (its own settings: "shipped")
CANDIDATES: dict[str, list[str]] = {
    "shipped": [],
    "steps-6000": ["train.steps=6000"],  # the recipe before 4,000 steps (too slow on the slower machine)
    "batch-64": ["train.batch_size=64", "train.reuse_fake=false", "train.steps=8000"],  # the recipe before batch 128
    "no-r1": ["formulation=nsgan"],
    "lr-2e-4": ["train.g_optimizer.lr=2e-4", "train.d_optimizer.lr=2e-4", "train.lr_schedule=constant",
                "train.average.start=500"],
    "lr-1e-3": ["train.g_optimizer.lr=1e-3", "train.d_optimizer.lr=1e-3"],
    "adam-beta1-0.5": ["train.g_optimizer={name: adam, lr: 5.0e-4, betas: [0.5, 0.999]}",
                       "train.d_optimizer={name: adam, lr: 5.0e-4, betas: [0.5, 0.999]}"],  # the recipe before β₁ = 0
    "fp32-constant-lr": ["train.amp=false", "train.lr_schedule=constant"],
    "dim48": ["model.dim=48"],
    "hinge-sn": ["formulation=sngan-hinge", "train.g_optimizer.lr=2e-4", "train.d_optimizer.lr=2e-4"],
    "no-ema": ["train.average.kind=none"],
    "n-critic-2": ["train.n_critic=2", "train.steps=8000"],
    "wgan-gp": ["formulation=wgan-gp", "train.n_critic=5", "train.g_optimizer.betas=[0.5,0.9]",
                "train.d_optimizer.betas=[0.5,0.9]", "train.g_optimizer.lr=1e-4", "train.d_optimizer.lr=1e-4"],
}


def run(command: list[str], log: Path) -> float:
    """Run ``command`` with its output in ``log``; return its wall seconds (raise on failure)."""
    start = time.perf_counter()
    with log.open("w") as out:
        subprocess.run(command, check=True, stdout=out, stderr=subprocess.STDOUT)
    return time.perf_counter() - start


def candidate(name: str, args: argparse.Namespace) -> dict:
    out = args.out / name
    if not (out / "results.json").is_file() or json.loads((out / "results.json").read_text())["results"].get("status") != "completed":
        overrides = CANDIDATES[name] + args.extra
        seconds = run(["proxgan", "train", "mnist-fast-unconditional", *overrides, "--data-root", str(args.data_root), "--out", str(out)],
                      args.out / f"{name}.train.log")
        (args.out / f"{name}.wall").write_text(f"{seconds}\n")
    run(["proxgan", "evaluate", str(out), "--metrics", "cls_is,cls_fid", "--samples", "5000", "--data-root", str(args.data_root)],
        args.out / f"{name}.evaluate.log")
    doc = json.loads((out / "results.json").read_text())
    metrics = doc["results"]["metrics"]
    return {
        "name": name, "overrides": " ".join(CANDIDATES[name] + args.extra) or "(mnist-fast-unconditional as shipped)",
        "steps": doc["results"]["steps"], "wall_minutes": float((args.out / f"{name}.wall").read_text()) / 60,
        "cls_is": metrics["cls_is"]["mean"], "cls_fid": metrics["cls_fid"]["value"],
        "floor": metrics["cls_fid"].get("floor"), "evaluations": doc["results"]["evaluations"],
    }


def floor_value(floor: float | dict | None) -> float | None:
    """The cls_fid floor as a number (some results record it as ``{"value": …}``)."""
    return floor["value"] if isinstance(floor, dict) else floor


def table(rows: list[dict], jobs: int) -> str:
    lines = [f"candidates run {jobs} at a time; cls scores of 5,000 samples (the run's sampled generator)", "",
             "| candidate | overrides of mnist-fast-unconditional | steps | wall (min) | cls_is | cls_fid | floor | cls_fid / floor |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        floor = floor_value(r["floor"])
        ratio = f"{r['cls_fid'] / floor:.1f}" if floor else "—"
        lines.append(f"| {r['name']} | `{r['overrides']}` | {r['steps']} | {r['wall_minutes']:.1f} | {r['cls_is']:.2f} | "
                     f"{r['cls_fid']:.2f} | {floor if floor is None else f'{floor:.2f}'} | {ratio} |")
    return "\n".join(lines) + "\n"


def figure(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for r in rows:
        evals = [e for e in r["evaluations"] if "wall_seconds" in e]
        minutes = [e["wall_seconds"] / 60 for e in evals]
        left.plot(minutes, [e["metrics"]["cls_is"]["mean"] for e in evals], marker=".", label=r["name"])
        right.semilogy(minutes, [e["metrics"]["cls_fid"]["value"] for e in evals], marker=".", label=r["name"])
    left.axhline(9.0, color="k", ls=":", lw=1)  # the classifier IS we aimed for
    for ax in (left, right):
        ax.axvline(10.0, color="k", ls="--", lw=1)  # the 10-minute budget
    left.set(xlabel="wall-clock minutes (training loop)", ylabel="classifier IS (in-training, 2,000 samples)")
    right.set(xlabel="wall-clock minutes (training loop)", ylabel="classifier FID (in-training)")
    left.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def summarize(runs: list[Path], last_iterate: bool = False) -> str:
    """Each evaluated run's cls_is and cls_fid (its latest ``proxgan evaluate``; with ``last_iterate``, its latest
    ``proxgan evaluate --last-iterate``), then their mean, std and 95 % Student-t interval over the runs (e.g. the
    seeds of one recipe). When every run was also scored with ``--last-iterate``, the paired improvement of the
    average over the last iterate, dᵢ = ±(averageᵢ − lastᵢ) (+ for cls_is, − for cls_fid: positive means the
    average is better), its interval and verdict
    (:func:`proxgan.comparison.compare_scores`, the average as the treatment)."""
    from proxgan.comparison import compare_scores
    from proxgan.rules import mean_interval

    lines, values, average, last = ["| run | cls_is | cls_fid | floor | cls_fid / floor |", "|---|---|---|---|---|"], [], [], []
    for run in runs:
        results = json.loads((run / "results.json").read_text())["results"]
        metrics, last_metrics = results["metrics"], results.get("metrics_last_iterate", {})
        if {"cls_is", "cls_fid"} <= last_metrics.keys():
            last.append((last_metrics["cls_is"]["mean"], last_metrics["cls_fid"]["value"]))
            average.append((metrics["cls_is"]["mean"], metrics["cls_fid"]["value"]))
        elif last_iterate:
            raise SystemExit(f"{run}: no last-iterate scores; run proxgan evaluate {run} --metrics cls_is,cls_fid "
                             "--last-iterate first")
        shown = last_metrics if last_iterate else metrics
        floor = floor_value(shown["cls_fid"]["floor"])
        values.append((shown["cls_is"]["mean"], shown["cls_fid"]["value"], shown["cls_fid"]["value"] / floor))
        lines.append(f"| {run} | {values[-1][0]:.3f} | {values[-1][1]:.3f} | {floor:.3f} | {values[-1][2]:.2f} |")
    for index, name in enumerate(("cls_is", "cls_fid", "cls_fid / floor")):
        cell = mean_interval([v[index] for v in values])
        ci = f"[{cell['ci95'][0]:.3f}, {cell['ci95'][1]:.3f}]" if cell["ci95"] else "(one run)"
        lines.append(f"{name}: mean {cell['mean']:.3f}, std {cell['std']:.3f}, 95 % CI {ci}, "
                     f"range {min(cell['values']):.3f}–{max(cell['values']):.3f} over {cell['n']} runs")
    if len(last) == len(values) > 1:
        for index, (name, higher_is_better) in enumerate((("cls_is", True), ("cls_fid", False))):
            c = compare_scores([pair[index] for pair in last], [pair[index] for pair in average], higher_is_better)
            d = c["difference"]
            lines.append(f"{name}, average over last iterate (paired, + = the average better): {d['mean']:+.3f}, "
                         f"95 % CI [{d['ci95'][0]:+.3f}, {d['ci95'][1]:+.3f}], "
                         f"{sum(x > 0 for x in d['values'])} of {d['n']} runs better: {c['verdict']}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path)
    parser.add_argument("--plot", type=Path, nargs="+", help="draw the figure of these finished runs and exit")
    parser.add_argument("--summarize", type=Path, nargs="+", metavar="RUN",
                        help="evaluated runs (e.g. seeds of mnist-fast): their scores, mean and 95 %% interval; exit")
    parser.add_argument("--last-iterate", action="store_true",
                        help="with --summarize: tabulate the runs' last-iterate scores (proxgan evaluate --last-iterate)")
    parser.add_argument("--out", type=Path, default=Path("runs/recipe"))
    parser.add_argument("--only", default=",".join(CANDIDATES), help="comma-separated candidate names")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--extra", nargs="*", default=[], help="overrides added to every candidate")
    args = parser.parse_args()
    if args.summarize:
        print(summarize(args.summarize, args.last_iterate))
        return
    if args.plot:
        args.out.mkdir(parents=True, exist_ok=True)
        rows = [{"name": run.name, "evaluations": json.loads((run / "results.json").read_text())["results"]["evaluations"]}
                for run in args.plot]
        figure(rows, args.out / "quality_vs_time.png")
        print(f"figure: {args.out / 'quality_vs_time.png'}")
        return
    if args.data_root is None:
        sys.exit("error: --data-root is required to train the candidates")
    names = args.only.split(",")
    unknown = [n for n in names if n not in CANDIDATES]
    if unknown:
        sys.exit(f"error: unknown candidate(s) {', '.join(unknown)}; known: {', '.join(CANDIDATES)}")
    args.out.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(lambda n: candidate(n, args), names))
    text = table(rows, args.jobs)
    (args.out / "table.md").write_text(text)
    figure(rows, args.out / "quality_vs_time.png")
    print(text)
    print(f"figure: {args.out / 'quality_vs_time.png'}")


if __name__ == "__main__":
    main()
