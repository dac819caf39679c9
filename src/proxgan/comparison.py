"""Two sets of training runs compared seed by seed: Table 1's paired rule on anyone's runs (``proxgan compare``).

Did a change (proximal training, another recipe) make a GAN better, and at what cost? The runs of each set are
paired by their config's ``seed``, and each run is scored by one metric on the same number of generator samples
(:func:`proxgan.evaluation.evaluate_run`, latent seed 0, recorded in the run's results.json as by
``proxgan evaluate``). With dᵢ = ±(treatmentᵢ − baselineᵢ) (+ when the metric's higher is better), the 95 %
Student-t interval of the mean of dᵢ decides, by :func:`proxgan.rules.comparison_verdict`: above 0 → ``better``,
below 0 → ``worse``, containing 0 → ``inconclusive`` (so is anything with fewer than 2 pairs); beside it, how many
seeds would decide the comparison if the observed mean difference and its spread held
(:func:`proxgan.rules.seeds_to_decide`, a planning estimate). The cost is the
per-seed ratio of training-loop wall times, treatmentᵢ / baselineᵢ, with its own interval: it means something only
when both sets ran under the same machine conditions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from proxgan.errors import ProxganError, check_choice, check_positive_int
from proxgan.rules import (CONFIDENCE, CONTRADICTED, INCONCLUSIVE, INTERVAL_METHOD, REPRODUCED, comparison_verdict,
                           interval_verdict, mean_interval, paired_difference, seeds_to_decide, t_interval)

#: the Table 1 rule's verdict -> what it says about the treatment
OUTCOMES = {REPRODUCED: "better", CONTRADICTED: "worse", INCONCLUSIVE: "inconclusive"}


def finished_run(run_dir: str | Path) -> dict[str, Any]:
    """The results document of the completed training run in ``run_dir`` (a ProxganError naming it otherwise)."""
    from proxgan.results import RESULTS_NAME, read_results
    from proxgan.runs import completed_results

    doc = completed_results(run_dir)
    if doc is not None:
        return doc
    if not (Path(run_dir) / RESULTS_NAME).is_file():
        raise ProxganError(f"{str(run_dir)!r} is not a training run (no {RESULTS_NAME})")
    status = read_results(run_dir)["results"].get("status")
    raise ProxganError(f"{str(run_dir)!r} is not a finished training run (status {status!r}); resume it or leave it out")


def pair_by_seed(baseline: dict[Path, int], treatment: dict[Path, int]) -> list[tuple[int, Path, Path]]:
    """(seed, baseline run, treatment run) for every seed, in seed order, from each set's ``{run: seed}``;
    a seed twice in one set, or in one set only, is an error naming it."""
    by_seed = []
    for name, runs in (("baseline", baseline), ("treatment", treatment)):
        seeds: dict[int, Path] = {}
        for run, seed in runs.items():
            if seed in seeds:
                raise ProxganError(f"the {name} runs {str(seeds[seed])!r} and {str(run)!r} have the same seed {seed}")
            seeds[seed] = run
        by_seed.append(seeds)
    unpaired = sorted(set(by_seed[0]) ^ set(by_seed[1]))
    if unpaired:
        raise ProxganError(f"seed(s) {', '.join(map(str, unpaired))} are in one set only: runs are paired by seed")
    return [(seed, by_seed[0][seed], by_seed[1][seed]) for seed in sorted(by_seed[0])]


def compare_scores(baseline: Sequence[float], treatment: Sequence[float], higher_is_better: bool,
                   comparisons: int = 1) -> dict[str, Any]:
    """Each set's mean interval, the paired difference dᵢ = ±(treatmentᵢ − baselineᵢ) with its t interval, the
    verdict on the treatment: ``better`` / ``worse`` / ``inconclusive`` (:func:`proxgan.rules.comparison_verdict`),
    and ``seeds_to_decide`` (:func:`proxgan.rules.seeds_to_decide`).

    With ``comparisons`` = m > 1 (this comparison is one of m made on the same question: several treatments,
    metrics or settings), ``adjusted`` adds Bonferroni's correction: the interval at confidence 1 − 0.05/m and
    its verdict, so that all m verdicts together are wrong with probability at most 5 %."""
    check_positive_int("comparisons", comparisons)
    difference = paired_difference(baseline, treatment, higher_is_better)
    summary = {"baseline": mean_interval(baseline), "treatment": mean_interval(treatment), "difference": difference,
               "verdict": OUTCOMES[comparison_verdict(difference)], "interval": INTERVAL_METHOD,
               "seeds_to_decide": seeds_to_decide(difference)}
    if comparisons > 1:
        confidence = 1 - (1 - CONFIDENCE) / comparisons
        wide = t_interval(difference["mean"], difference["std"], difference["n"], confidence)
        summary["adjusted"] = {"comparisons": comparisons, "method": "Bonferroni", "confidence": confidence,
                               "interval": wide, "verdict": OUTCOMES[interval_verdict(wide)],
                               "seeds_to_decide": seeds_to_decide(difference, confidence)}
    return summary


def compare_runs(
    baseline: Sequence[str | Path], treatment: Sequence[str | Path], metric: str = "cls_is", *, n_samples: int = 5000,
    device: str = "cpu", data_root: str | Path | None = None, average: bool = True, population_batchnorm: bool = True,
    comparisons: int = 1, progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Score every run of both sets by ``metric`` on ``n_samples`` samples, pair them by seed and compare
    (:func:`compare_scores`); the cost is the per-seed training-time ratio treatment / baseline. Each run's
    generator is its iterate average when it kept one, its last iterate otherwise or with ``average=False``, with
    its population BatchNorm statistics unless ``population_batchnorm=False`` (:func:`proxgan.evaluation.evaluate_run`).
    Returns ``{"config", "results"}`` with one record per pair in ``results.pairs``."""
    from proxgan.evaluation import evaluate_run
    from proxgan.metrics import METRICS
    from proxgan.runs import training_seconds

    check_choice("metric", metric, METRICS)
    check_positive_int("samples", n_samples)
    check_positive_int("comparisons", comparisons)
    for name, runs in (("baseline", baseline), ("treatment", treatment)):
        if not runs:
            raise ProxganError(f"no {name} runs given")
    docs = {Path(run): finished_run(run) for run in (*baseline, *treatment)}
    datasets = {doc["config"]["data"]["name"] for doc in docs.values()}
    if len(datasets) > 1:
        raise ProxganError(f"the runs are on different datasets ({', '.join(sorted(datasets))}): nothing to compare")
    pairs = pair_by_seed({Path(r): docs[Path(r)]["config"]["seed"] for r in baseline},
                         {Path(r): docs[Path(r)]["config"]["seed"] for r in treatment})
    headline, higher = METRICS[metric].headline, METRICS[metric].higher_is_better

    def score(run: Path) -> dict[str, Any]:
        if progress is not None:
            progress(f"scoring {run} ({metric}, {n_samples} samples)")
        result = evaluate_run(run, [metric], n_samples=n_samples, device=device, data_root=data_root, average=average,
                              population_batchnorm=population_batchnorm)
        doc = docs[run]
        return {"run": str(run), "score": float(result["metrics"][metric][headline]),
                "training_seconds": training_seconds(doc), "steps": doc["results"]["steps"],
                "strategy": doc["results"]["strategy"], "generator": result["generator"]}

    records = [{"seed": seed, "baseline": score(b), "treatment": score(t)} for seed, b, t in pairs]
    summary = compare_scores([r["baseline"]["score"] for r in records], [r["treatment"]["score"] for r in records],
                             higher, comparisons)
    cost = mean_interval([r["treatment"]["training_seconds"] / r["baseline"]["training_seconds"] for r in records])
    return {"config": {"metric": metric, "headline": headline, "higher_is_better": higher, "samples": n_samples,
                       "average": average, "population_batchnorm": population_batchnorm, "comparisons": comparisons,
                       "baseline": [str(r) for r in baseline], "treatment": [str(r) for r in treatment]},
            "results": {**summary, "time_ratio": cost, "pairs": records, "dataset": datasets.pop()}}


def interval_text(ci: Sequence[float] | None, confidence: float, digits: int = 4) -> str:
    """``95 % CI [lo, hi]`` of a paired difference at ``confidence``, to ``digits`` significant digits, or why there
    is none."""
    if ci is None:
        return "no interval with fewer than 2 pairs"
    return f"{100 * confidence:.4g} % CI [{ci[0]:+.{digits}g}, {ci[1]:+.{digits}g}]"


def comparison_title(doc: dict[str, Any]) -> str:
    """The figure's title: the verdict, the mean paired difference and its 95 % interval; with ``--comparisons``
    M > 1 also the Bonferroni interval and its verdict, which is the one that decides."""
    config, results = doc["config"], doc["results"]
    d, ci = results["difference"]["mean"], results["difference"]["ci95"]
    interval = "" if ci is None else ", " + interval_text(ci, CONFIDENCE, digits=3)
    lines = [f"treatment {results['verdict']}: {d:+.3g}{interval}"]
    adjusted = results.get("adjusted")
    if adjusted is not None and adjusted["interval"] is not None:
        lines.append(f"one of {adjusted['comparisons']} (Bonferroni "
                     f"{interval_text(adjusted['interval'], adjusted['confidence'], digits=3)}): {adjusted['verdict']}")
    lines.append(f"{config['samples']} samples of {results['dataset']}, {len(results['pairs'])} seeds")
    return "\n".join(lines)


def plot_comparison(doc: dict[str, Any], path: str | Path) -> Path:
    """The pairs of a :func:`compare_runs` result as a paired slope plot (one line per seed, baseline → treatment),
    titled with the verdict and the interval; written to ``path`` (PNG)."""
    from proxgan.figures import paired_slopes, plt, save_figure

    config, results = doc["config"], doc["results"]
    fig, ax = plt.subplots(figsize=(3.6, 3.4))
    paired_slopes(ax, [results["baseline"]["values"], results["treatment"]["values"]],
                  [results["baseline"]["mean"], results["treatment"]["mean"]], ["baseline", "treatment"],
                  [pair["seed"] for pair in results["pairs"]])
    ax.set_ylabel(f"{config['metric']} ({'higher' if config['higher_is_better'] else 'lower'} is better)")
    ax.set_title(comparison_title(doc), fontsize=8)
    path = Path(path)
    save_figure(fig, path.parent, path.name)
    return path
