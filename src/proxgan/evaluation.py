"""Scoring a training run: :func:`evaluate_run` samples a run's generator, scores it with
:func:`proxgan.metrics.evaluate` and records the scores in the run's ``results.json``.

It lives outside :mod:`proxgan.metrics` so that the metrics stay a leaf (they know samples and
datasets, not run directories) and imports run one way: evaluation → runs, metrics.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from proxgan.errors import check_positive_int
from proxgan.locks import owns
from proxgan.metrics import evaluate


@owns("run_dir", create=False)
def evaluate_run(
    run_dir: str | Path, metrics: str | list[str] = "auto", *, n_samples: int = 50_000, checkpoint: str = "last",
    device: str = "cpu", seed: int = 0, data_root: str | Path | None = None, average: bool = True,
    population_batchnorm: bool = True, **options: Any,
) -> dict[str, Any]:
    """Score a training run's generator and record the scores in ``run_dir/results.json``.

    The generator is the run's iterate average when it kept one, else (or with ``average=False``) the last
    iterate; its BatchNorm layers use its population statistics unless ``population_batchnorm=False``
    (:func:`proxgan.runs.load_run`). Scores go under ``results.metrics``, except a run's last iterate when the run kept an average:
    under ``results.metrics_last_iterate``, so that neither generator's scores replace the other's. Each score
    is stored with the checkpoint's step and which generator it scored (``generator``); other keys of
    results.json are kept, and the file is replaced atomically. Returns ``{"run_dir", "checkpoint", "step",
    "seed", "generator", "metrics", "results_key"}``.
    """
    import dataclasses

    from proxgan.files import write_json
    from proxgan.results import RESULTS_NAME, command_line, read_results, write_results
    from proxgan.runs import load_experiment_data, load_run

    run = load_run(run_dir, device=device, checkpoint=checkpoint, average=average, population_batchnorm=population_batchnorm)
    doc = read_results(run_dir) if (Path(run_dir) / RESULTS_NAME).is_file() else None  # damaged: an error, never overwritten
    if data_root is None:
        data = run.data
    else:
        experiment = dataclasses.replace(run.experiment, data=dataclasses.replace(run.experiment.data, root=str(data_root)))
        data = load_experiment_data(experiment)
    root = data_root if data_root is not None else run.experiment.data.root
    n_samples = check_positive_int("samples", n_samples)
    scores = evaluate(lambda n: run.sample(n, seed=seed), data, metrics, n_samples=n_samples, device=device,
                      data_root=root, **options)
    key = "metrics_last_iterate" if run.experiment.train.average.enabled and not average else "metrics"
    record = {"run_dir": str(run_dir), "checkpoint": checkpoint, "step": run.step, "seed": seed,
              "generator": run.generator_kind,
              "metrics": {name: {**result, "step": run.step, "generator": run.generator_kind}
                          for name, result in scores.items()},
              "results_key": key}
    if doc is not None:
        doc["results"].setdefault(key, {}).update(record["metrics"])
        write_json(Path(run_dir) / RESULTS_NAME, doc)
    else:
        write_results(run_dir, command=command_line(), config=run.config, results={key: record["metrics"]})
    return record
