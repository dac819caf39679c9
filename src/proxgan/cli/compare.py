"""``proxgan compare BASELINE... vs TREATMENT...``: did the change make the GAN better, and at what cost?"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from proxgan.cli import PathType, json_option, training_batchnorm_option
from proxgan.comparison import interval_text
from proxgan.errors import ProxganError
from proxgan.rules import CONFIDENCE, SEEDS_LIMIT


def split_sets(runs: tuple[Path, ...]) -> tuple[list[Path], list[Path]]:
    """The run directories before and after the one ``vs`` among ``runs``."""
    marks = [i for i, run in enumerate(runs) if str(run) == "vs"]
    if len(marks) != 1:
        raise ProxganError("write the two sets of runs as BASELINE... vs TREATMENT... (one 'vs' between them)")
    return list(runs[: marks[0]]), list(runs[marks[0] + 1:])


def summarize(doc: dict[str, Any]) -> str:
    """One row per seed, each set's mean, the paired difference with its interval and verdict, and the cost."""
    config, results = doc["config"], doc["results"]
    lines = [f"{config['metric']} ({config['headline']}, {'higher' if config['higher_is_better'] else 'lower'} is "
             f"better) on {config['samples']} samples of {results['dataset']}, paired by seed:",
             "generator: " + "; ".join(sorted({pair[side]["generator"] for pair in results["pairs"]
                                              for side in ("baseline", "treatment")})),
             f"  {'seed':>6}  {'baseline':>10}  {'treatment':>10}  {'difference':>10}  {'time ratio':>10}"]
    for pair, d, ratio in zip(results["pairs"], results["difference"]["values"], results["time_ratio"]["values"]):
        lines.append(f"  {pair['seed']:>6}  {pair['baseline']['score']:>10.4g}  {pair['treatment']['score']:>10.4g}"
                     f"  {d:>+10.4g}  {ratio:>10.3g}")
    for name in ("baseline", "treatment"):
        m = results[name]
        lines.append(f"{name}: {m['mean']:.4g} ± {m['std']:.3g} (mean ± std over {m['n']} seeds)")
    d = results["difference"]
    lines.append(f"improvement of the treatment: {d['mean']:+.4g} ({interval_text(d['ci95'], CONFIDENCE)}; "
                 f"{results['interval']}): {results['verdict'].upper()}")
    if results["verdict"] == "inconclusive":
        lines.append(planning_line(results["seeds_to_decide"], d["n"]))
    if "adjusted" in results:
        a = results["adjusted"]
        lines.append(f"as one of {a['comparisons']} comparisons ({a['method']}: "
                     f"{interval_text(a['interval'], a['confidence'])}): {a['verdict'].upper()}")
        if a["verdict"] == "inconclusive":
            lines.append("  " + planning_line(a["seeds_to_decide"], d["n"]))
    cost, ci = results["time_ratio"], results["time_ratio"]["ci95"]
    spread = "" if ci is None else f" (95 % CI [{ci[0]:.3g}, {ci[1]:.3g}])"
    lines.append(f"cost: the treatment's training loop took {cost['mean']:.3g}× the baseline's time{spread}")
    return "\n".join(lines)


def planning_line(needed: int | None, n: int) -> str:
    """What more seeds could do for an inconclusive comparison (:func:`proxgan.rules.seeds_to_decide`)."""
    if n < 2:
        return "seeds to decide: unknown (one pair has no spread); train at least one more seed of each"
    if needed is None:
        return (f"seeds to decide: none within {SEEDS_LIMIT:,} at the observed mean difference and spread "
                "(the difference, if any, is small against the seed-to-seed spread)")
    return (f"seeds to decide: about {needed} pairs, if the observed mean difference and its spread held "
            "(a planning estimate, not a result)")


@click.command("compare")
@click.argument("runs", nargs=-1, required=True, type=PathType(path_type=Path))
@click.option("--metric", default="cls_is", show_default=True,
              help="One metric (is, fid, kid, cls_is, cls_fid, modes, w2, emd); its headline number is compared.")
@click.option("--samples", "n_samples", type=int, default=5000, show_default=True, help="Generator samples per run.")
@click.option("--data-root", type=PathType(path_type=Path, file_okay=False, exists=True), default=None,
              help="Where MNIST/CIFAR-10/CelebA live (overrides the runs' data.root).")
@click.option("--device", default="cpu", show_default=True, help="Device for sampling and scoring.")
@click.option("--last-iterate", is_flag=True,
              help="Score each run's last generator iterate, not the average it kept (train.average; the default).")
@training_batchnorm_option
@click.option("--comparisons", type=click.IntRange(min=1), default=1, show_default=True,
              help="How many comparisons this one is part of (treatments, metrics or settings tried on the same "
                   "question): above 1, also the Bonferroni-corrected interval at 1 − 0.05/M and its verdict.")
@click.option("--plot", type=PathType(path_type=Path, dir_okay=False), default=None,
              help="Also draw the pairs (one line per seed, baseline → treatment) into this PNG file.")
@json_option
def compare(runs: tuple[Path, ...], metric: str, n_samples: int, data_root: Path | None, device: str,
            last_iterate: bool, training_batchnorm: bool, comparisons: int, plot: Path | None, as_json: bool) -> None:
    """Compare two sets of finished runs seed by seed: did the TREATMENT runs beat the BASELINE runs?

    Runs are paired by their config's seed and scored on the same samples (recorded in each run's results.json,
    as by 'proxgan evaluate'). The verdict is Table 1's rule: the 95 % Student-t interval of the mean paired
    improvement above 0 → better, below 0 → worse, otherwise inconclusive (with how many seeds would decide it if
    the observed mean difference and its spread held: a planning estimate). With --comparisons M > 1 (this is one
    of M comparisons made on the same question) the Bonferroni-corrected interval at 1 − 0.05/M decides as well, so
    that the M verdicts together err with probability at most 5 %. The cost is the per-seed ratio of
    training-loop wall times (meaningful only if both sets ran under the same machine conditions).

    \b
    Example (5 seeds each):
      proxgan compare runs/regular-s* vs runs/proximal-s* --metric cls_is --samples 5000 --plot pairs.png
    """
    from proxgan.comparison import compare_runs, plot_comparison

    baseline, treatment = split_sets(runs)
    if plot is not None and not plot.parent.is_dir():
        raise ProxganError(f"--plot: no directory {str(plot.parent)!r} to write {plot.name!r} into")
    doc = compare_runs(baseline, treatment, metric, n_samples=n_samples, device=device, data_root=data_root,
                       average=not last_iterate, population_batchnorm=not training_batchnorm,
                       comparisons=comparisons,
                       progress=None if as_json else lambda message: click.echo(message, err=True))
    click.echo(json.dumps(doc, indent=2) if as_json else summarize(doc))
    if plot is not None:
        click.echo(f"figure: {plot_comparison(doc, plot)}", err=as_json)
