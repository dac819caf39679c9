"""The stages of ``proxgan reproduce``, in the paper's order (:data:`STAGES`); each is one function
``stage(stage_dir, context) -> {"config", "results", "figures"}`` whose ``results["summary"]`` the verdicts
of :mod:`proxgan.report.verdicts` read.

1. ``games``    — the GDA family on min θ·φ: measured contraction factors against the closed forms.
2. ``theory``   — Theorem 1 / Remark 1 σ sweeps, Theorems 2–3 λ sweeps, Proposition 3's nesting.
3. ``train``    — the trained GANs the equilibrium tests need: WGAN-WC, WGAN-GP, SN-GAN (§2, §6).
4. ``nash``     — §2's Nash test on them (eq. 5): freeze D, optimize G.
5. ``proximal`` — §6.1's proximal-equilibrium test on the same runs (eq. 19).
6. ``table1``   — §6.2: regular vs proximal training, same architecture and generator-step budget,
   five seeds, per-seed values (paired by seed in the verdict); and proximal at regular training's
   wall-clock time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from proxgan.parallel import Progress, Task
from proxgan.reproduce.figures import plot_table1, plot_table1_pairs
from proxgan.reproduce.runs import (METRIC_VALUES, equilibrium_run, reuse_finished_run, scored_run, train_run,
                                   training_config, training_seconds)
from proxgan.reproduce.scales import Scale
from proxgan.results import read_results

#: what every stage's results.json must hold (checked whenever one is read back)
STAGE_REQUIRES = ("results.summary",)


@dataclass(frozen=True)
class Stage:
    """One step of the pipeline: ``run(stage_dir, context) -> {"config", "results", "figures"}``.

    ``results["summary"]`` is what the verdicts read; ``modules`` are the proxgan modules it needs;
    ``requires`` the stages whose results it reads.
    """

    name: str
    title: str
    modules: tuple[str, ...]
    run: Callable[[Path, "Context"], dict[str, Any]]
    requires: tuple[str, ...] = ()


@dataclass
class Context:
    """What a stage sees: the reproduction directory, the scale, the device, the progress callback, and the
    worker pool that runs a stage's independent runs (``jobs`` processes of ``threads`` torch threads)."""

    root: Path
    scale: Scale
    device: str = "cpu"
    progress: Progress = field(default=lambda message: None)
    pool: Any = None

    def stage_results(self, name: str) -> dict[str, Any]:
        return read_results(self.root / name, require=STAGE_REQUIRES)

    def run_tasks(self, tasks: list[Task]) -> list[Any]:
        """The results of independent runs (:class:`proxgan.parallel.Task`), in the pipeline's
        :class:`proxgan.parallel.WorkerPool` (parallel when it has more than one job)."""
        return self.pool.run(tasks, self.progress)


# --- stage 1: the GDA family on θ·φ ------------------------------------------------------------


def games_stage(stage_dir: Path, ctx: Context) -> dict[str, Any]:
    """The lecture's experiment on min θ·φ: every method from (1, 1), measured ρ beside the closed form, and
    the running average of its iterates."""
    from proxgan.games.experiment import run

    p = ctx.scale.games
    out = run(stage_dir, game="bilinear", methods=p.methods, lr=p.lr, steps=p.steps, average=True)
    keys = ("rho_empirical", "rho_theory", "bounded", "converged", "final_distance", "average")
    summary = {"lr": p.lr, "steps": p.steps,
               "methods": {name: {k: m[k] for k in keys} for name, m in out["results"]["methods"].items()}}
    return {"config": out["config"], "results": {"summary": summary, "games": out["results"]},
            "figures": out["figures"]}


# --- stage 2: the Gaussian games of the theorems -----------------------------------------------


def _nash_rows(formulation: str, sweep: dict[str, Any], remark1: bool) -> list[dict[str, Any]]:
    """One row per σ of a Nash-gap sweep (gaps are null where the divergence is infinite)."""
    return [{"formulation": formulation, "sigma": sigma, "sigma_min_constraint": remark1,
             "nash_gap_generator": gen, "nash_gap_discriminator": disc, "is_nash": ok, "tolerance": tol}
            for sigma, gen, disc, ok, tol in zip(sweep["sigmas"], sweep["generator_gaps"],
                                                 sweep["discriminator_gaps"], sweep["is_nash"], sweep["tolerance"])]


def theory_stage(stage_dir: Path, ctx: Context) -> dict[str, Any]:
    """Theorem 1 / Remark 1: Nash gaps vs σ under both constraint sets; Theorems 2–3 and Proposition 3:
    λ-proximal gaps vs λ at the setting's σ, λ_max beside the theorem's λ."""
    import numpy as np

    from proxgan.files import to_jsonable
    from proxgan.theory.gaussian import Setting
    from proxgan.theory.experiment import run_sweep

    p = ctx.scale.theory
    setting = Setting(sigma=p.sigma, dim=p.dim, t=p.t, eta=p.eta)
    sigmas = np.linspace(p.sigma_min, p.sigma_max, p.sigmas)
    lambdas = np.geomspace(p.lambda_min, p.lambda_max, p.lambdas) / setting.eta
    out = to_jsonable(run_sweep(stage_dir, list(p.formulations), setting, sigmas, lambdas,
                                progress=lambda name: ctx.progress(f"    theory: {name}")))
    res = out["results"]
    nash = [row for f, sweep in res["sigma_sweep"].items()
            for key, remark1 in (("standard", False), ("remark1", True)) for row in _nash_rows(f, sweep[key], remark1)]
    proximal = [{"formulation": f, "eta": setting.eta, "lambdas": r["lambdas"],
                 "is_proximal_equilibrium": r["is_proximal_equilibrium"], "lambda_max": r["lambda_max"],
                 "lambda_max_unbounded": r["lambda_max"] is None, "lambda_max_bracket": r["lambda_max_bracket"],
                 "lambda_theorem": r["lambda_theorem"], "nesting_violations": r["nesting_violations"]}
                for f, r in res["lambda_sweep"].items()]
    summary = {"sigma": setting.sigma, "dim": setting.dim, "nash": nash, "proximal": proximal}
    return {"config": out["config"], "results": {"summary": summary, "sweeps": res}, "figures": out["figures"]}


# --- stage 3: the trained GANs -----------------------------------------------------------------


def train_stage(stage_dir: Path, ctx: Context) -> dict[str, Any]:
    """The trained GANs of §2/§6.1 (WGAN-WC, WGAN-GP, SN-GAN), regular training, first seed; in parallel; each
    scored by the scale's train metric, when it has one (the tests are only meaningful on good GANs)."""
    p = ctx.scale.train
    scoring = {"metric": p.metric, "n_samples": p.samples, "data_root": ctx.scale.data_root,
               "population_batchnorm": ctx.scale.population_batchnorm} if p.metric else {}
    tasks = [Task(f"train {f}", scored_run if p.metric else train_run, {
        "config": training_config(p, f, strategy="regular", seed=ctx.scale.seeds[0], steps=p.steps,
                                  data_root=ctx.scale.data_root),
        "run_dir": stage_dir / f, "device": ctx.device, "label": f"train {f}", **scoring}) for f in p.formulations]
    runs, figures = {}, []
    for formulation, result in zip(p.formulations, ctx.run_tasks(tasks)):
        doc = read_results(stage_dir / formulation)
        runs[formulation] = {"run": formulation, "steps": doc["results"]["steps"], "final": doc["results"]["final"],
                             "training_seconds": training_seconds(doc)}
        if p.metric:
            runs[formulation]["score"] = {"metric": p.metric, "samples": p.samples, "value": result["score"]}
        figures += [f"{formulation}/{name}" for name in doc["figures"]]
    summary = {"dataset": p.dataset, "steps": p.steps, "runs": runs}
    return {"config": asdict(p), "results": {"summary": summary}, "figures": figures}


# --- stages 4 and 5: equilibrium tests on the trained runs -------------------------------------


def _equilibrium_summary(test: str, doc: dict[str, Any]) -> dict[str, Any]:
    """What the verdicts read of one run's test: start/end on the fixed batch, the fresh batches, quality."""
    s = doc["results"]["tests"][test]["summary"]
    return {"objective_start": s["objective_start"], "objective_end": s["objective_end"],
            "proximal_objective_start": s["proximal_objective_start"],
            "proximal_objective_end": s["proximal_objective_end"], "batches": s["batches"],
            "quality_metric": doc["results"]["quality_metric"],
            "quality_higher_is_better": doc["results"]["quality_higher_is_better"],
            "quality_start": s["quality_start"], "quality_end": s["quality_end"]}


def equilibrium_stage(test: str, stage_dir: Path, ctx: Context) -> dict[str, Any]:
    """The Nash test (eq. 5) or the proximal test (eq. 19) on every trained run of the ``train`` stage, in parallel."""
    from proxgan.equilibrium import equilibrium_state_path

    p = ctx.scale.equilibrium
    trained = ctx.stage_results("train")["results"]["summary"]["runs"]
    formulations = list(trained)
    tasks = [Task(f"{test} test {f}", equilibrium_run, {
        "test": test, "run_dir": ctx.root / "train" / f, "out_dir": stage_dir / f,
        "nash_state": equilibrium_state_path(ctx.root / "nash" / f, "nash"), "settings": p, "device": ctx.device,
        "label": f"{test} test {f}", "population_batchnorm": ctx.scale.population_batchnorm}) for f in formulations]
    runs, figures, raw = {}, [], {}
    for formulation, doc in zip(formulations, ctx.run_tasks(tasks)):
        runs[formulation] = _equilibrium_summary(test, doc) | {"trained_score": trained[formulation].get("score")}
        raw[formulation] = doc["results"]
        figures += [f"{formulation}/{name}" for name in doc["figures"]]
    summary = {"steps": p.steps, "runs": runs}
    return {"config": p.overrides(), "results": {"summary": summary, "tests": raw}, "figures": figures}


def nash_stage(stage_dir: Path, ctx: Context) -> dict[str, Any]:
    """§2's Nash test (eq. 5) on the trained runs: freeze D, optimize G."""
    return equilibrium_stage("nash", stage_dir, ctx)


def proximal_stage(stage_dir: Path, ctx: Context) -> dict[str, Any]:
    """§6.1's proximal-equilibrium test (eq. 19, λ = 0.1) on the trained runs, beside the Nash test's curve."""
    return equilibrium_stage("proximal", stage_dir, ctx)


# --- stage 6: Table 1, regular versus proximal training ----------------------------------------

#: one Table 1 cell's runs: (formulation, DIM, "regular" or a proximal variant's name, generator steps)
RunSpec = tuple[str, int, str, int]


def _run_name(spec: RunSpec, seed: int) -> str:
    formulation, dim, strategy, steps = spec
    return f"{formulation}-dim{dim}-{strategy}-{steps}steps-seed{seed}"


def run_cost(config) -> float:
    """A run's expected cost in discriminator-sized steps, generator steps × (D steps per G step + 1): the
    critic steps of regular training, the inner steps of proximal training (a G step costs about one D step)."""
    inner = config.proximal.steps if config.train.strategy == "proximal" else config.train.n_critic
    return float(config.train.steps * (inner + 1))


def train_table1_runs(todo: list[tuple[RunSpec, int]], runs: dict[str, Any], stage_dir: Path, ctx: Context) -> None:
    """Train and score every (spec, seed) of ``todo`` not in ``runs`` yet, in parallel (longest first, by
    :func:`run_cost`), and add them to ``runs``; a proximal variant's runs are proximal training with the
    variant's overrides. A run the train stage already trained (same config) is copied, not trained again."""
    p = ctx.scale.table1
    pending = {_run_name(spec, seed): (spec, seed) for spec, seed in todo}
    pending = {n: v for n, v in pending.items() if n not in runs}

    def config(formulation: str, dim: int, strategy: str, steps: int, seed: int):
        extra = () if strategy == "regular" else p.variant(strategy).overrides
        return training_config(replace(p, overrides=(*p.overrides, *extra)), formulation,
                               strategy="regular" if strategy == "regular" else "proximal", seed=seed, steps=steps,
                               dim=dim, data_root=ctx.scale.data_root)

    configs = {n: config(*spec, seed) for n, (spec, seed) in pending.items()}
    for n, ((formulation, *_), _) in pending.items():
        reuse_finished_run(configs[n], ctx.root / "train" / formulation, stage_dir / "runs" / n)
    tasks = [Task(n, scored_run, {
        "config": configs[n], "run_dir": stage_dir / "runs" / n, "metric": p.metric, "n_samples": p.samples,
        "device": ctx.device, "data_root": ctx.scale.data_root, "label": n,
        "population_batchnorm": ctx.scale.population_batchnorm}, cost=run_cost(configs[n]))
        for n in pending]
    for (n, ((_, _, strategy, steps), seed)), result in zip(pending.items(), ctx.run_tasks(tasks)):
        runs[n] = {"strategy": strategy, "seed": seed, "steps": steps, **result}


def table1_column(spec: RunSpec, runs: dict[str, Any], seeds: tuple[int, ...]) -> dict[str, Any]:
    """The metric over the seeds (mean, std, t interval; values in seed order) and the training seconds."""
    from proxgan.rules import mean_interval

    chosen = [runs[_run_name(spec, seed)] for seed in seeds]
    return mean_interval([r["score"] for r in chosen]) | {
        "seconds": mean_interval([r["training_seconds"] for r in chosen])}


def equal_time_steps(regular_seconds_per_step: float, proximal_seconds_per_step: float, steps: int) -> tuple[int, float]:
    """The proximal steps that take regular training's wall-clock time, steps × (regular time per step /
    proximal time per step), in [1, steps]; and that ratio."""
    ratio = regular_seconds_per_step / proximal_seconds_per_step
    return max(1, min(steps, round(steps * ratio))), ratio


def table1_stage(stage_dir: Path, ctx: Context) -> dict[str, Any]:
    """§6.2: per (formulation, DIM, proximal variant), regular and proximal training with the same
    generator-step budget on every seed, scored by the scale's metric; then proximal training cut to regular
    training's wall-clock time (:func:`equal_time_steps`; when that is the budget itself, the equal-time column
    is the same-steps column: the same runs). A variant with a ``pilot`` is timed by a one-seed pilot run
    instead of its same-steps runs; one without ``same_steps`` is trained only at equal time. Runs of one phase run in parallel; per-seed values are kept in the
    order of the scale's seeds, so columns pair by seed (:func:`proxgan.rules.paired_difference`)."""
    from proxgan.report.verdicts import table1_row_label

    p, seeds = ctx.scale.table1, ctx.scale.seeds
    key, higher = METRIC_VALUES[p.metric]
    runs: dict[str, dict[str, Any]] = {}
    cells = [(f, dim) for f in p.formulations for dim in p.dims]
    same_budget = [(f, dim, "regular", p.steps) for f, dim in cells] + [
        (f, dim, v.name, p.steps) for f, dim in cells for v in p.variants if v.same_steps]
    pilots = [(f, dim, v.name, p.pilot_steps) for f, dim in cells for v in p.variants if v.pilot]
    train_table1_runs([(spec, seed) for spec in same_budget for seed in seeds]
                      + [(spec, seeds[0]) for spec in pilots], runs, stage_dir, ctx)
    regular = {cell: table1_column((*cell, "regular", p.steps), runs, seeds) for cell in cells}
    same_steps, equal_steps = {}, {}
    for (f, dim) in cells:
        for v in p.variants:
            if v.same_steps:
                same_steps[f, dim, v.name] = table1_column((f, dim, v.name, p.steps), runs, seeds)
            if v.pilot:
                per_step = runs[_run_name((f, dim, v.name, p.pilot_steps), seeds[0])]["training_seconds"] / p.pilot_steps
            else:
                per_step = same_steps[f, dim, v.name]["seconds"]["mean"] / p.steps
            equal_steps[f, dim, v.name] = equal_time_steps(regular[f, dim]["seconds"]["mean"] / p.steps, per_step, p.steps)
    train_table1_runs([((f, dim, name, n), seed) for (f, dim, name), (n, _) in equal_steps.items() for seed in seeds],
                      runs, stage_dir, ctx)
    rows = []
    for (f, dim, name), (n, ratio) in equal_steps.items():
        row = {"formulation": f, "dim": dim, "variant": name, "overrides": list(p.variant(name).overrides),
               "regular": regular[f, dim], "proximal": same_steps.get((f, dim, name)),
               "equal_time": {"proximal_steps": n, "time_ratio": ratio,
                              "proximal": table1_column((f, dim, name, n), runs, seeds)}}
        rows.append(row | {"label": table1_row_label(row)})
    summary = {"dataset": p.dataset, "metric": p.metric, "metric_key": key, "higher_is_better": higher,
               "steps": p.steps, "seeds": list(seeds), "rows": rows}
    figures = [plot_table1(summary, stage_dir), *(plot_table1_pairs(summary, row, stage_dir) for row in rows)]
    for formulation in p.formulations:
        for strategy in ("regular", *(v.name for v in p.variants if v.same_steps)):
            grid = f"runs/{_run_name((formulation, p.dims[0], strategy, p.steps), seeds[0])}/samples.png"
            if (stage_dir / grid).is_file():
                figures.append(grid)
    return {"config": asdict(p), "results": {"summary": summary, "runs": runs}, "figures": figures}


STAGES: tuple[Stage, ...] = (
    Stage("games", "GDA family on min θ·φ (lecture)", ("proxgan.games.experiment",), games_stage),
    Stage("theory", "Gaussian GAN games: Nash gaps vs σ, proximal gaps vs λ (Thm. 1–3)", ("proxgan.theory.experiment",),
          theory_stage),
    Stage("train", "training the GANs the equilibrium tests use (§2, §6.1)", ("proxgan.train", "proxgan.metrics"),
          train_stage),
    Stage("nash", "Nash test: frozen D, optimize G (§2, eq. 5)", ("proxgan.equilibrium",), nash_stage,
          requires=("train",)),
    Stage("proximal", "proximal-equilibrium test, λ = 0.1 (§6.1, eq. 19)", ("proxgan.equilibrium",), proximal_stage,
          requires=("train", "nash")),
    Stage("table1", "regular vs proximal training (§6.2, Table 1)", ("proxgan.train", "proxgan.metrics"),
          table1_stage),
)
