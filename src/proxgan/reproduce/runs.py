"""The single runs behind the pipeline's stages, as :class:`proxgan.parallel.Task` functions: train a GAN
(§2, §6), score its samples (§6.2, Table 1), run an equilibrium test on it (§2's eq. 5, §6.1's eq. 19).

Each is a module-level function of its keyword arguments and ``progress``, so it runs in a worker process
as well as in this one; each reuses what an earlier call finished in its directory.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from proxgan.metrics import METRICS
from proxgan.parallel import Progress
from proxgan.reproduce.scales import EquilibriumSettings, TrainSettings
from proxgan.results import prepare_out_dir
from proxgan.errors import ProxganError
from proxgan.runs import complete_config, completed_results, config_record, first_difference, training_seconds

#: metric -> (key of its result in proxgan.metrics.evaluate, higher is better), from the metric registry
METRIC_VALUES: dict[str, tuple[str, bool]] = {m.name: (m.headline, m.higher_is_better) for m in METRICS.values()}


def training_config(p: TrainSettings, formulation: str, *, strategy: str, seed: int, steps: int,
                    dim: int | None = None, data_root: str | None = None):
    """The experiment config of one run: the shipped config ``p.config`` (a template in ``formulation``
    and ``dim``, e.g. ``table1-{formulation}-dim{dim}``, holding the paper's optimizer settings), the scale's
    overrides, then the run's formulation, strategy, seed, generator-step budget and width DIM."""
    from proxgan.config import load_config

    overrides = [*p.overrides, f"formulation={formulation}", f"train.strategy={strategy}",
                 f"seed={seed}", f"train.steps={steps}"]
    if dim is not None:
        overrides.append(f"model.dim={dim}")
    if data_root is not None:
        overrides.append(f"data.root={data_root}")
    return load_config(p.config.format(formulation=formulation, dim=dim), overrides)


#: config keys a finished run may differ in and still be reused for a stage: where the data lies, logging
REUSABLE_CHANGES = ("description", "log.", "data.root", "data.download")


def train_run(config, run_dir: Path, *, device: str, label: str, progress: Progress) -> dict[str, Any]:
    """Train ``config`` into ``run_dir``; a completed run of the same config there is reused, an interrupted one
    resumed, and a completed run of another config is an error naming the first difference (never overwritten).
    A :class:`proxgan.parallel.Task` function: returns the run's results document."""
    from proxgan.runs import checkpoint_path
    from proxgan.train import train

    doc = completed_results(run_dir)
    if doc is not None:
        check_reusable(doc, config, run_dir)
        return doc
    every = max(1, config.train.steps // 4)

    def report(step: int, total: int, stats: dict[str, float]) -> None:
        if step % every == 0:
            progress(f"    {label}: generator step {step}/{total}")

    return train(config, run_dir, device=device, resume=checkpoint_path(run_dir).is_file(), progress=report,
                 command=f"proxgan reproduce ({label})")


def check_reusable(doc: dict[str, Any], config, run_dir: Path) -> None:
    """Raise unless the finished run ``doc`` was trained with ``config`` up to :data:`REUSABLE_CHANGES`."""
    difference = first_difference(complete_config(doc["config"]), config_record(config), REUSABLE_CHANGES)
    if difference is not None:
        key, old, new = difference
        raise ProxganError(f"{str(run_dir)!r} holds a finished run trained with {key}={old!r}, but this stage "
                           f"needs {new!r}; move it away or choose another --out")


def reuse_finished_run(config, source: Path, run_dir: Path) -> bool:
    """Copy ``source``, a completed run of exactly ``config``, to ``run_dir`` when that holds nothing yet, so one
    run is not trained twice (Table 1's regular first-seed run is the train stage's GAN where a scale trains
    both alike: ``--scale cpu``); whether it did."""
    doc = completed_results(source)
    if run_dir.exists() or doc is None or complete_config(doc["config"]) != config_record(config):
        return False
    shutil.copytree(source, run_dir)
    return True


def sample_quality(run_dir: Path, metric: str, n_samples: int, *, device: str, data_root: str | None,
                   population_batchnorm: bool = True) -> float:
    """``metric`` of ``n_samples`` generator samples of the run in ``run_dir`` (sampled with seed 0; BatchNorm as
    :func:`proxgan.runs.load_run`'s ``population_batchnorm``)."""
    from proxgan.metrics import evaluate
    from proxgan.runs import load_run

    run = load_run(run_dir, device=device, population_batchnorm=population_batchnorm)
    result = evaluate(lambda n: run.sample(n, seed=0), run.data, [metric], n_samples=n_samples, device=device,
                      data_root=data_root or run.experiment.data.root)
    return float(result[metric][METRIC_VALUES[metric][0]])


def scored_run(config, run_dir: Path, metric: str, n_samples: int, *, device: str, data_root: str | None,
               label: str, progress: Progress, population_batchnorm: bool = True) -> dict[str, float]:
    """Train (or reuse) one Table 1 run and score it: ``{"training_seconds", "score"}`` (a Task function)."""
    doc = train_run(config, run_dir, device=device, label=label, progress=progress)
    return {"training_seconds": training_seconds(doc),
            "score": sample_quality(run_dir, metric, n_samples, device=device, data_root=data_root,
                                    population_batchnorm=population_batchnorm)}


def equilibrium_run(test: str, run_dir: Path, out_dir: Path, nash_state: Path,
                    settings: EquilibriumSettings, *,
                    device: str, label: str, progress: Progress, population_batchnorm: bool = True) -> dict[str, Any]:
    """The Nash test (eq. 5), or the proximal test (eq. 19) beside it, on one trained run (a Task function).

    The proximal stage draws the Nash curve beside its own (the paper's figure): it starts from a copy of
    the Nash test's finished state, so that test resumes at its end instead of running again.
    """
    from proxgan.equilibrium import equilibrium_state_path, run_equilibrium

    out_dir = prepare_out_dir(out_dir)
    if test == "proximal" and nash_state.is_file():
        shutil.copyfile(nash_state, equilibrium_state_path(out_dir, "nash"))

    def report(name: str, step: int, total: int) -> None:
        if name == test and step % max(1, total // 4) == 0:
            progress(f"    {label}: generator step {step}/{total}")

    return run_equilibrium(run_dir, out_dir, tests=("nash",) if test == "nash" else ("nash", "proximal"),
                           device=device, progress=report, population_batchnorm=population_batchnorm,
                           **settings.overrides())
