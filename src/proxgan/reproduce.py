"""The whole paper in one pipeline: ``proxgan reproduce --scale tiny|quick|cpu|gpu --out DIR``.

Stages, in the paper's order (each writes ``DIR/<stage>/results.json`` and its figures):

1. ``games``    — the GDA family on min θ·φ: measured contraction factors against the closed forms.
2. ``theory``   — Theorem 1 / Remark 1 σ sweeps, Theorems 2–3 λ sweeps, Proposition 3's nesting.
3. ``train``    — the trained GANs the equilibrium tests need: WGAN-WC, WGAN-GP, SN-GAN (§2, §6).
4. ``nash``     — §2's Nash test on them (eq. 5): freeze D, optimize G.
5. ``proximal`` — §6.1's proximal-equilibrium test on the same runs (eq. 19).
6. ``table1``   — §6.2: regular vs proximal training, same architecture and generator-step budget,
   five seeds, per-seed values (paired by seed in the verdict); and proximal at regular training's
   wall-clock time.

The independent runs of a stage go to a :class:`proxgan.parallel.WorkerPool` (``jobs`` processes).

A stage whose ``results.json`` exists is skipped (resumable); ``force`` reruns it from scratch. A
stage whose proxgan module is missing is reported as "not run: <module> unavailable", never faked.
``DIR/results.json`` collects the stage summaries and the verdicts of :mod:`proxgan.report.verdicts`;
``DIR/report.html`` is the self-contained report (:func:`write_report`).
"""

from __future__ import annotations

import importlib
import os
import platform
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from proxgan.errors import ProxganError, check_choice, check_choices, check_positive_int
from proxgan.files import atomic_write, write_json
from proxgan.locks import owns
from proxgan.results import RESULTS_NAME, prepare_out_dir, read_results, write_results

#: what every stage's results.json must hold (checked whenever one is read back)
STAGE_REQUIRES = ("results.summary",)

#: ``progress(message)``: one line per event; the CLI prints it, library code never does.
Progress = Callable[[str], None]

REPORT_NAME = "report.html"


@dataclass(frozen=True)
class Scale:
    """Step counts and data of every stage at one scale (the settings of the scales are in :data:`SCALES`);
    recorded in each stage's config. ``seeds``: Table 1's seeds; the trained GANs use the first."""

    name: str
    summary: str
    games: dict[str, Any]
    theory: dict[str, Any]
    train: "TrainSettings"
    equilibrium: dict[str, Any]
    table1: "Table1Settings"
    seeds: tuple[int, ...]
    data_root: str | None = None

    def parameters(self) -> dict[str, Any]:
        return asdict(self)


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

    def run_tasks(self, tasks: list) -> list[Any]:
        """The results of independent runs (:class:`proxgan.parallel.Task`), in the pipeline's
        :class:`proxgan.parallel.WorkerPool` (parallel when it has more than one job)."""
        return self.pool.run(tasks, self.progress)


# --- the pipeline ------------------------------------------------------------------------------


def unavailable_module(stage: Stage) -> str | None:
    """The first proxgan module ``stage`` needs that cannot be imported, or None."""
    for module in stage.modules:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name is not None and module.startswith(exc.name):
                return module
            raise
    return None


def select_stages(names: str | list[str] | None) -> list[Stage]:
    """The chosen stages (comma list or ``all``) plus the stages they read, in pipeline order."""
    chosen = set(check_choices("stage", "all" if names is None else names, [s.name for s in STAGES]))
    by_name = {s.name: s for s in STAGES}
    pending = list(chosen)
    while pending:
        for required in by_name[pending.pop()].requires:
            if required not in chosen:
                chosen.add(required)
                pending.append(required)
    return [s for s in STAGES if s.name in chosen]


def _existing(stage_dir: Path, scale: str) -> dict[str, Any] | None:
    """The stage's results if it already ran at ``scale``; a different scale is an error."""
    if not (stage_dir / RESULTS_NAME).is_file():
        return None
    doc = read_results(stage_dir, require=STAGE_REQUIRES)
    if doc["config"].get("scale") != scale:
        raise ProxganError(
            f"{str(stage_dir)!r} holds results at scale {doc['config'].get('scale')!r}, not {scale!r}; "
            "use another --out or --force"
        )
    return doc


def run_stage(stage: Stage, context: Context) -> dict[str, Any]:
    """Run one stage into ``root/<stage>`` and write its results.json (with the scale and wall time)."""
    stage_dir = prepare_out_dir(context.root / stage.name)
    start = time.perf_counter()
    payload = stage.run(stage_dir, context)
    return write_results(
        stage_dir, command=f"proxgan reproduce --scale {context.scale.name} --stages {stage.name}",
        config={"scale": context.scale.name, **payload["config"]}, results=payload["results"],
        figures=payload["figures"], wall_seconds=time.perf_counter() - start,
    )


@owns("out_dir")
def run_pipeline(
    out_dir: str | Path,
    *,
    scale: str = "quick",
    stages: str | list[str] | None = None,
    force: bool = False,
    data_root: str | None = None,
    device: str = "cpu",
    progress: Progress | None = None,
    command: str = "proxgan reproduce",
    jobs: int = 1,
    threads: int | None = None,
    smoke: bool = False,
) -> dict[str, Any]:
    """Run the selected stages into ``out_dir``, then write ``results.json`` and ``report.html`` there.

    The independent runs of a stage (trained GANs, equilibrium tests, Table 1's runs) go to ``jobs``
    worker processes with ``threads`` torch threads each (default max(1, cores // jobs)); with ``jobs = 1``
    they run in this process, at its own thread count. The results do not depend on ``jobs``. ``smoke``:
    see :func:`get_scale`. Returns the top-level results document: ``results.stages[name] = {"status",
    "wall_seconds", "summary"}`` and ``results.verdicts`` (one record per claim of the paper).
    """
    from proxgan.parallel import WorkerPool, threads_per_job

    the_scale = get_scale(scale, data_root=data_root, smoke=smoke)
    jobs = check_positive_int("jobs", jobs)
    threads = threads_per_job(jobs, threads)
    selected = select_stages(stages)
    root = prepare_out_dir(out_dir)
    progress = progress or (lambda message: None)
    with WorkerPool(jobs, threads) as pool:
        context = Context(root=root, scale=the_scale, device=device, progress=progress, pool=pool)
        statuses, wall_seconds = _run_stages(selected, context, force=force)
    collect(root, the_scale, statuses, command=command, wall_seconds=wall_seconds,
            parallel={"jobs": jobs, "threads_per_job": threads})
    write_report(root)
    progress(f"report: {root / REPORT_NAME}")
    return read_results(root)


def _run_stages(selected: list[Stage], context: Context, *, force: bool) -> tuple[dict[str, str], float]:
    """Run (or skip) each selected stage; their statuses and the wall time of them all."""
    root, the_scale, progress = context.root, context.scale, context.progress
    statuses: dict[str, str] = {}
    start = time.perf_counter()
    for index, stage in enumerate(selected, 1):
        stage_dir = root / stage.name
        if force and stage_dir.exists():
            shutil.rmtree(stage_dir)
        prefix = f"[{index}/{len(selected)}] {stage.name}"
        if _existing(stage_dir, the_scale.name) is not None:
            statuses[stage.name] = "done (existing results reused)"
            progress(f"{prefix}: results exist, skipped (--force reruns)")
            continue
        missing = unavailable_module(stage)
        blocked = [r for r in stage.requires if not (root / r / RESULTS_NAME).is_file()]
        if missing or blocked:
            statuses[stage.name] = f"not run: {missing} unavailable" if missing else f"not run: needs stage {blocked[0]!r}"
            progress(f"{prefix}: {statuses[stage.name]}")
            continue
        progress(f"{prefix}: {stage.title}")
        doc = run_stage(stage, context)
        statuses[stage.name] = "done"
        progress(f"{prefix}: done in {doc['wall_seconds']:.1f} s")
    return statuses, time.perf_counter() - start


def stage_documents(root: Path) -> dict[str, dict[str, Any] | None]:
    """Every stage's results document in ``root`` (None where the stage has no results)."""
    return {s.name: read_results(root / s.name, require=STAGE_REQUIRES) if (root / s.name / RESULTS_NAME).is_file()
            else None for s in STAGES}


def collect(root: Path, scale: Scale, statuses: dict[str, str], *, command: str, wall_seconds: float,
            parallel: dict[str, int]) -> None:
    """Write ``root/results.json``: per stage its status, wall time and summary, the machine it ran on and
    the parallel settings (:func:`write_report` adds the verdicts)."""
    import torch

    docs = stage_documents(root)
    for name, doc in docs.items():
        statuses.setdefault(name, "done (existing results reused)" if doc else "not run: not selected")
    stages = {name: {"status": statuses[name], "wall_seconds": doc and doc["wall_seconds"],
                     "summary": doc and doc["results"]["summary"]} for name, doc in docs.items()}
    figures = [f"{name}/{fig}" for name, doc in docs.items() if doc for fig in doc["figures"]]
    machine = {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
               "load_average_1_5_15_min": [round(x, 2) for x in os.getloadavg()], "arch": platform.machine(),
               **parallel}
    write_results(
        root, command=command, config={"scale": scale.name, "seeds": list(scale.seeds),
                                       "parameters": scale.parameters()},
        results={"stages": stages, "machine": machine, "verdicts": []}, figures=figures, wall_seconds=wall_seconds,
    )


# --- the report --------------------------------------------------------------------------------


def environment(top: dict[str, Any], docs: dict[str, dict | None]) -> dict[str, Any]:
    """The footer: command, scale, seeds, versions, machine, wall time per stage and in total."""
    stage_times = {name: (f"{doc['wall_seconds']:.1f} s" if doc else top["results"]["stages"][name]["status"])
                   for name, doc in docs.items()}
    total = sum(doc["wall_seconds"] for doc in docs.values() if doc)
    return {
        "command": top["command"],
        "scale": top["config"]["scale"],
        "seeds": top["config"]["seeds"],
        "wall time per stage": stage_times,
        "wall time, all stages": f"{total:.1f} s",
        "versions": top["versions"],
        "machine (when the last stage ended)": top["results"].get("machine"),
        "report written": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


@owns("out_dir", create=False)
def write_report(out_dir: str | Path) -> Path:
    """(Re)write ``out_dir/report.html`` from the stage results there; the verdicts are recomputed and
    stored back into ``out_dir/results.json`` so both always agree."""
    from proxgan.report.html import render_page
    from proxgan.report.verdicts import judge_all

    root = Path(out_dir)
    if not (root / RESULTS_NAME).is_file():
        raise ProxganError(f"{str(root)!r} holds no reproduction (no {RESULTS_NAME}); run 'proxgan reproduce' first")
    top = read_results(root)
    if not isinstance(top["results"].get("stages"), dict):
        raise ProxganError(f"{str(root / RESULTS_NAME)!r} is not a 'proxgan reproduce' result")
    docs = stage_documents(root)
    statuses = {name: entry["status"] for name, entry in top["results"]["stages"].items()}
    records = judge_all(docs, statuses)
    scale = top["config"]["scale"]
    page = render_page(
        records, root=root, heading="Do GANs always have Nash equilibria? — proxgan reproduction",
        intro=f"Farnia & Ozdaglar, ICML 2020, reproduced by proxgan at scale '{scale}': "
              f"{SCALES[scale].summary if scale in SCALES else ''} Each verdict is computed from the measured "
              "numbers with the thresholds shown.",
        footer=environment(top, docs),
    )
    top["results"]["verdicts"] = records
    write_json(root / RESULTS_NAME, top)
    return atomic_write(root / REPORT_NAME, lambda f: f.write(page.encode("utf-8")))


# --- stage 1: the GDA family on θ·φ ------------------------------------------------------------


def games_stage(stage_dir: Path, ctx: Context) -> dict[str, Any]:
    """The lecture's experiment on min θ·φ: every method from (1, 1), measured ρ beside the closed form, and
    the running average of its iterates."""
    from proxgan.games.lab import run

    p = ctx.scale.games
    out = run(stage_dir, game="bilinear", methods=p["methods"], lr=p["lr"], steps=p["steps"], average=True)
    keys = ("rho_empirical", "rho_theory", "bounded", "converged", "final_distance", "average")
    summary = {"lr": p["lr"], "steps": p["steps"],
               "methods": {name: {k: m[k] for k in keys} for name, m in out["results"]["methods"].items()}}
    return {"config": out["config"], "results": {"summary": summary, "games": out["results"]},
            "figures": out["figures"]}


# --- stage 2: the theorem lab ------------------------------------------------------------------


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
    from proxgan.theory.lab import run_sweep

    p = ctx.scale.theory
    setting = Setting(sigma=p["sigma"], dim=p["dim"], t=p["t"], eta=p["eta"])
    sigmas = np.linspace(p["sigma_min"], p["sigma_max"], p["sigmas"])
    lambdas = np.geomspace(p["lambda_min"], p["lambda_max"], p["lambdas"]) / setting.eta
    out = to_jsonable(run_sweep(stage_dir, list(p["formulations"]), setting, sigmas, lambdas,
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


# --- training runs (stages 3 and 6) ------------------------------------------------------------

#: metric -> (key of its result in proxgan.metrics.evaluate, higher is better)
METRIC_VALUES: dict[str, tuple[str, bool]] = {
    "is": ("mean", True),
    "cls_is": ("mean", True),
    "fid": ("value", False),
    "cls_fid": ("value", False),
    "modes": ("high_quality_fraction", True),
    "emd": ("w1", False),
    "w2": ("value", False),
}


def training_config(p: "TrainSettings", formulation: str, *, strategy: str, seed: int, steps: int,
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


def train_run(config, run_dir: Path, *, device: str, label: str, progress: Progress) -> dict[str, Any]:
    """Train ``config`` into ``run_dir``; a completed run there is reused, an interrupted one resumed.
    A :class:`proxgan.parallel.Task` function: returns the run's results document."""
    from proxgan.runs import checkpoint_path
    from proxgan.train import train

    if (run_dir / RESULTS_NAME).is_file() and read_results(run_dir)["results"].get("status") == "completed":
        return read_results(run_dir)
    every = max(1, config.train.steps // 4)

    def report(step: int, total: int, stats: dict[str, float]) -> None:
        if step % every == 0:
            progress(f"    {label}: generator step {step}/{total}")

    return train(config, run_dir, device=device, resume=checkpoint_path(run_dir).is_file(), progress=report,
                 command=f"proxgan reproduce ({label})")


def training_seconds(doc: dict[str, Any]) -> float:
    """Wall time of the training loop itself (the last logged step's clock; no data loading or figures)."""
    return float(doc["results"]["final"]["wall_seconds"])


def sample_quality(run_dir: Path, metric: str, n_samples: int, *, device: str, data_root: str | None) -> float:
    """``metric`` of ``n_samples`` generator samples of the run in ``run_dir`` (seed 0)."""
    from proxgan.metrics import evaluate
    from proxgan.runs import load_run

    run = load_run(run_dir, device=device)
    result = evaluate(lambda n: run.sample(n, seed=0), run.data, [metric], n_samples=n_samples, device=device,
                      data_root=data_root or run.experiment.data.root)
    return float(result[metric][METRIC_VALUES[metric][0]])


def scored_run(config, run_dir: Path, metric: str, n_samples: int, *, device: str, data_root: str | None,
               label: str, progress: Progress) -> dict[str, float]:
    """Train (or reuse) one Table 1 run and score it: ``{"training_seconds", "score"}`` (a Task function)."""
    doc = train_run(config, run_dir, device=device, label=label, progress=progress)
    return {"training_seconds": training_seconds(doc),
            "score": sample_quality(run_dir, metric, n_samples, device=device, data_root=data_root)}


def train_stage(stage_dir: Path, ctx: Context) -> dict[str, Any]:
    """The trained GANs of §2/§6.1 (WGAN-WC, WGAN-GP, SN-GAN), regular training, first seed; in parallel."""
    from proxgan.parallel import Task

    p = ctx.scale.train
    tasks = [Task(f"train {f}", train_run, {
        "config": training_config(p, f, strategy="regular", seed=ctx.scale.seeds[0], steps=p.steps,
                                  data_root=ctx.scale.data_root),
        "run_dir": stage_dir / f, "device": ctx.device, "label": f"train {f}"}) for f in p.formulations]
    runs, figures = {}, []
    for formulation, doc in zip(p.formulations, ctx.run_tasks(tasks)):
        runs[formulation] = {"run": formulation, "steps": doc["results"]["steps"], "final": doc["results"]["final"],
                             "training_seconds": training_seconds(doc)}
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


def equilibrium_run(test: str, run_dir: Path, out_dir: Path, nash_state: Path, settings: dict[str, Any], *,
                    device: str, label: str, progress: Progress) -> dict[str, Any]:
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
                           device=device, progress=report, **settings)


def equilibrium_stage(test: str, stage_dir: Path, ctx: Context) -> dict[str, Any]:
    """The Nash test (eq. 5) or the proximal test (eq. 19) on every trained run of the ``train`` stage, in parallel."""
    from proxgan.equilibrium import equilibrium_state_path
    from proxgan.parallel import Task

    p = ctx.scale.equilibrium
    formulations = list(ctx.stage_results("train")["results"]["summary"]["runs"])
    tasks = [Task(f"{test} test {f}", equilibrium_run, {
        "test": test, "run_dir": ctx.root / "train" / f, "out_dir": stage_dir / f,
        "nash_state": equilibrium_state_path(ctx.root / "nash" / f, "nash"), "settings": p, "device": ctx.device,
        "label": f"{test} test {f}"}) for f in formulations]
    runs, figures, raw = {}, [], {}
    for formulation, doc in zip(formulations, ctx.run_tasks(tasks)):
        runs[formulation] = _equilibrium_summary(test, doc)
        raw[formulation] = doc["results"]
        figures += [f"{formulation}/{name}" for name in doc["figures"]]
    summary = {"steps": p["steps"], "runs": runs}
    return {"config": p, "results": {"summary": summary, "tests": raw}, "figures": figures}


# --- stage 6: Table 1, regular versus proximal training ----------------------------------------


def table1_stage(stage_dir: Path, ctx: Context) -> dict[str, Any]:
    """§6.2: per (formulation, DIM), regular and proximal training with the same generator-step budget on
    every seed, scored by the scale's metric; then proximal training cut to regular training's wall-clock
    time: steps × (mean regular time / mean proximal time), at most the step budget itself (when that
    is the budget, the equal-time column is the proximal column: the same runs). Runs of one phase (the
    two same-step columns, then the equal-time column) run in parallel; per-seed values are kept in the
    order of the scale's seeds, so columns pair by seed (:func:`proxgan.rules.paired_difference`)."""
    from proxgan.parallel import Task
    from proxgan.rules import mean_interval

    p = ctx.scale.table1
    key, higher = METRIC_VALUES[p.metric]
    runs: dict[str, dict[str, Any]] = {}

    def name(formulation: str, dim: int, strategy: str, steps: int, seed: int) -> str:
        return f"{formulation}-dim{dim}-{strategy}-{steps}steps-seed{seed}"

    def train_all(specs: list[tuple[str, int, str, int]]) -> None:
        """Train and score every seed of each (formulation, dim, strategy, steps) not trained yet, in parallel."""
        todo = {name(*spec, seed): (spec, seed) for spec in specs for seed in ctx.scale.seeds}
        todo = {n: v for n, v in todo.items() if n not in runs}
        tasks = [Task(n, scored_run, {
            "config": training_config(p, f, strategy=strategy, seed=seed, steps=steps, dim=dim,
                                      data_root=ctx.scale.data_root),
            "run_dir": stage_dir / "runs" / n, "metric": p.metric, "n_samples": p.samples, "device": ctx.device,
            "data_root": ctx.scale.data_root, "label": n}) for n, ((f, dim, strategy, steps), seed) in todo.items()]
        for (n, ((_, _, strategy, steps), seed)), result in zip(todo.items(), ctx.run_tasks(tasks)):
            runs[n] = {"strategy": strategy, "seed": seed, "steps": steps, **result}

    def column(formulation: str, dim: int, strategy: str, steps: int) -> dict[str, Any]:
        """The metric over the seeds (mean, std, t interval; values in seed order) and the training seconds."""
        chosen = [runs[name(formulation, dim, strategy, steps, seed)] for seed in ctx.scale.seeds]
        return mean_interval([r["score"] for r in chosen]) | {
            "seconds": mean_interval([r["training_seconds"] for r in chosen])}

    cells = [(f, dim) for f in p.formulations for dim in p.dims]
    train_all([(f, dim, strategy, p.steps) for f, dim in cells for strategy in ("regular", "proximal")])
    equal_steps = {}
    for f, dim in cells:
        ratio = column(f, dim, "regular", p.steps)["seconds"]["mean"] / column(f, dim, "proximal", p.steps)["seconds"]["mean"]
        equal_steps[f, dim] = (max(1, min(p.steps, round(p.steps * ratio))), ratio)
    train_all([(f, dim, "proximal", equal_steps[f, dim][0]) for f, dim in cells])
    rows = [{"formulation": f, "dim": dim, "regular": column(f, dim, "regular", p.steps),
             "proximal": column(f, dim, "proximal", p.steps),
             "equal_time": {"proximal_steps": equal_steps[f, dim][0], "time_ratio": equal_steps[f, dim][1],
                            "proximal": column(f, dim, "proximal", equal_steps[f, dim][0])}}
            for f, dim in cells]
    summary = {"dataset": p.dataset, "metric": p.metric, "metric_key": key, "higher_is_better": higher,
               "steps": p.steps, "seeds": list(ctx.scale.seeds), "rows": rows}
    figures = [plot_table1(summary, stage_dir), *(plot_table1_pairs(summary, row, stage_dir) for row in rows)]
    for formulation in p.formulations:
        for strategy in ("regular", "proximal"):
            grid = f"runs/{name(formulation, p.dims[0], strategy, p.steps, ctx.scale.seeds[0])}/samples.png"
            if (stage_dir / grid).is_file():
                figures.append(grid)
    return {"config": asdict(p), "results": {"summary": summary, "runs": runs}, "figures": figures}


#: the three columns of a Table 1 row: key, label, how to read it from the row
TABLE1_COLUMNS = (("regular", "regular", lambda r: r["regular"]),
                  ("proximal", "proximal, same steps", lambda r: r["proximal"]),
                  ("equal", "proximal, same time", lambda r: r["equal_time"]["proximal"]))


def _interval_error(stats: dict[str, Any]) -> tuple[float, float]:
    """(below, above) the mean of its 95 % t interval, for an error bar (0 without an interval)."""
    if stats["ci95"] is None:
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
        errors = list(zip(*(_interval_error(pick(r)) for r in rows)))
        ax.bar(xs, [pick(r)["mean"] for r in rows], width, yerr=errors, capsize=3, label=label)
    ax.set_xticks(range(len(rows)), [f"{r['formulation']}\nDIM={r['dim']}" for r in rows])
    arrow = "higher" if summary["higher_is_better"] else "lower"
    ax.set_ylabel(f"{summary['metric']} ({arrow} is better)")
    ax.set_title(f"{summary['dataset']}: {summary['steps']} generator steps, {len(summary['seeds'])} seeds, "
                 "95 % t intervals", fontsize=9)
    ax.legend(fontsize=8)
    return save_figure(fig, out_dir, "table1.png")


def plot_table1_pairs(summary: dict[str, Any], row: dict[str, Any], out_dir: Path) -> str:
    """One Table 1 row, seed by seed: each seed's regular, proximal (same steps) and proximal (same time)
    scores joined by a line (a paired slope plot), the column means in black."""
    from proxgan.figures import plt, save_figure

    fig, ax = plt.subplots(figsize=(4.2, 3.4))
    columns = [pick(row) for _, _, pick in TABLE1_COLUMNS]
    for i, seed in enumerate(summary["seeds"]):
        ax.plot(range(len(columns)), [c["values"][i] for c in columns], "o-", color=f"C{i % 10}", alpha=0.7,
                ms=4, lw=1, label=f"seed {seed}")
    ax.plot(range(len(columns)), [c["mean"] for c in columns], "s--", color="black", ms=6, label="mean")
    ax.set_xticks(range(len(columns)), [label.replace(", ", "\n") for _, label, _ in TABLE1_COLUMNS])
    ax.set_xlim(-0.3, len(columns) - 0.7)
    arrow = "higher" if summary["higher_is_better"] else "lower"
    ax.set_ylabel(f"{summary['metric']} ({arrow} is better)")
    ax.set_title(f"{row['formulation']} DIM={row['dim']}, one line per seed; same time = "
                 f"{row['equal_time']['proximal_steps']} proximal steps", fontsize=8)
    ax.legend(fontsize=6, ncol=2)
    return save_figure(fig, out_dir, f"table1-pairs-{row['formulation']}-dim{row['dim']}.png")


# --- scales and the stage registry -------------------------------------------------------------


@dataclass(frozen=True)
class TrainSettings:
    """The ``train`` stage: the GANs of §2/§6.1, regular training, the scale's first seed.

    ``config`` is a shipped config name, a template in ``formulation`` (e.g. ``mnist-{formulation}``);
    ``overrides`` are ``key=value`` strings applied to it before the run's own settings.
    """

    config: str
    dataset: str
    formulations: tuple[str, ...]
    steps: int
    overrides: tuple[str, ...] = ()


@dataclass(frozen=True)
class Table1Settings(TrainSettings):
    """The ``table1`` stage: regular vs proximal runs on every seed, scored by ``metric`` on ``samples``
    generator samples; ``config`` may also use ``{dim}``; one row per formulation × DIM."""

    metric: str = "cls_is"
    samples: int = 2000
    dims: tuple[int, ...] = (32,)


_FORMULATIONS = ("wgan-wc", "wgan-gp", "sngan")
_TABLE1_FORMULATIONS = ("wgan-wc", "sngan")
_ALL_THEORY = ("w2gan-quadratic", "w2gan", "wgan", "fgan-vanilla", "fgan-kl", "fgan-reverse-kl", "fgan-pearson",
               "fgan-hellinger")
_THEORY = {"formulations": _ALL_THEORY, "sigma": 2.0, "dim": 1, "t": 1.0, "eta": 1.0, "sigma_min": 0.5,
           "sigma_max": 2.0, "sigmas": 50, "lambda_min": 1e-3, "lambda_max": 1e2, "lambdas": 50}
_GAMES = {"methods": "simgda,altgda,ppm,eg,ogda", "lr": 0.2, "steps": 1000}
#: embedded toy runs write no intermediate sample grids or checkpoints (the run is minutes long)
_TOY_LOG = ("log.sample_every=1000000", "log.checkpoint_every=1000000")
_TINY = ("model.dim=8", "train.batch_size=32", "train.n_critic=2", "proximal.steps=2", "log.every=1", *_TOY_LOG)
#: seeds of Table 1 (and the first one of the trained GANs): five, the fewest the paired t interval is run on
_SEEDS = (0, 1, 2, 3, 4)

#: the MNIST configs of ``--scale cpu`` (templates in {formulation}): change them here, e.g. to a faster recipe
CPU_TRAIN_CONFIG = "mnist-{formulation}"
CPU_TABLE1_CONFIG = "mnist-{formulation}"
_CPU_LOG = ("log.every=10", "log.sample_every=1000", "log.checkpoint_every=500")

SCALES: dict[str, Scale] = {
    "tiny": Scale(
        "tiny", "a smoke test of every stage in seconds; the numbers mean nothing.",
        games={"methods": "simgda,altgda,ppm,eg", "lr": 0.2, "steps": 400},  # the averages reach t⁻¹
        theory=_THEORY | {"formulations": ("w2gan", "wgan", "fgan-vanilla"), "sigmas": 4, "lambda_min": 1e-2,
                          "lambda_max": 10.0, "lambdas": 7},
        train=TrainSettings("ring8-wgan-gp", "ring8", ("sngan",), steps=4, overrides=_TINY),
        equilibrium={"steps": 3, "inner_steps": 2, "log_points": 3, "eval_size": 64, "eval_batches": 3},
        table1=Table1Settings("ring8-wgan-gp", "ring8", ("wgan-wc",), steps=4, overrides=_TINY, metric="emd",
                              samples=256, dims=(8,)),
        seeds=_SEEDS,
    ),
    "quick": Scale(
        "quick", "embedded data only (scikit-learn's 8x8 digits, DCGAN DIM 32, classifier scores), about 7 "
        "minutes on a 2-core CPU with --jobs 2; shows the direction of every claim, not the paper's numbers.",
        games=_GAMES,
        theory=_THEORY | {"sigmas": 25, "lambdas": 40},
        train=TrainSettings("digits", "digits", _FORMULATIONS, steps=600, overrides=_TOY_LOG),
        equilibrium={"steps": 200, "inner_steps": 20, "inner_optimizer": {"lr": 1e-3}, "log_points": 8, "eval_size": 512,
                     "eval_batches": 5},
        table1=Table1Settings("digits-proximal", "digits", _TABLE1_FORMULATIONS, steps=300,
                              overrides=("train.n_critic=5", *_TOY_LOG), metric="cls_is", samples=2000, dims=(32,)),
        seeds=_SEEDS,
    ),
    "cpu": Scale(
        "cpu", "MNIST at reduced step counts with a narrow DCGAN (DIM 32) on a 2-core CPU; needs MNIST under "
        "--data-root.",
        games=_GAMES,
        theory=_THEORY,
        train=TrainSettings(CPU_TRAIN_CONFIG, "mnist", _FORMULATIONS, steps=1500, overrides=("model.dim=32", *_CPU_LOG)),
        equilibrium={"steps": 200, "inner_steps": 20, "inner_optimizer": {"lr": 1e-3}, "log_points": 8, "eval_size": 512,
                     "eval_batches": 5},
        table1=Table1Settings(CPU_TABLE1_CONFIG, "mnist", _TABLE1_FORMULATIONS, steps=200, overrides=_CPU_LOG,
                              metric="cls_is", samples=5000, dims=(32,)),
        seeds=_SEEDS,
    ),
    "gpu": Scale(
        "gpu", "the paper's protocol: DCGAN, 200,000 generator steps with 5 discriminator steps each, 10,000-step "
        "equilibrium tests with 50 inner Adam steps, Inception scores on CIFAR-10 (MNIST and CIFAR-10 under "
        "--data-root; Inception weights with a classifier head).",
        games=_GAMES,
        theory=_THEORY,
        train=TrainSettings("mnist-{formulation}", "mnist", _FORMULATIONS, steps=200_000),
        equilibrium={"steps": 10_000, "inner_steps": 50, "log_points": 16, "eval_size": 512, "eval_batches": 5},
        table1=Table1Settings("table1-{formulation}-dim{dim}", "cifar10", _TABLE1_FORMULATIONS, steps=200_000,
                              metric="is", samples=50_000, dims=(64, 128)),
        seeds=_SEEDS,
    ),
}


_SMOKE_TRAINING = ["train.batch_size=8", "train.n_critic=1", "proximal.steps=2", "log.every=1", "log.sample_every=1000000", "log.checkpoint_every=1000000"]
#: what ``smoke`` sets in every scale: a handful of steps per stage (one critic step, two inner proximal steps),
#: batches of 8, the fewest samples
#: each metric takes (the Inception Score: one per split)
_SMOKE = {
    "games": {"steps": 20},
    "theory": {"sigmas": 3, "lambdas": 3},
    "train": {"steps": 2, "overrides": _SMOKE_TRAINING},
    "equilibrium": {"steps": 2, "inner_steps": 2, "log_points": 2, "eval_size": 16, "batch_size": 8},
    "table1": {"steps": 2, "samples": 10, "overrides": _SMOKE_TRAINING},
}  # fmt: skip


def get_scale(name: str, *, data_root: str | None = None, smoke: bool = False) -> Scale:
    """The scale called ``name``, with ``data_root`` (where MNIST/CIFAR-10/CelebA live) filled in.

    ``smoke`` keeps the scale's data, configs, models, DIMs and metrics but cuts every stage to a handful of
    steps (:data:`_SMOKE`), one seed and Table 1's first formulation: the whole pipeline of, say, ``gpu`` runs
    end to end on a CPU. Its results are recorded as scale ``NAME+smoke``, so a real run never reuses them.
    """
    from dataclasses import replace

    scale = replace(SCALES[check_choice("scale", name, SCALES)], data_root=data_root)
    if not smoke:
        return scale

    def cut(params: dict[str, Any] | TrainSettings, changes: dict[str, Any]) -> dict[str, Any] | TrainSettings:
        """A stage's parameters with ``changes``: a dict updated, typed settings with their overrides appended."""
        if isinstance(params, dict):
            return params | changes
        return replace(params, **(changes | {"overrides": (*params.overrides, *changes.get("overrides", ()))}))

    smoked = {stage: cut(getattr(scale, stage), changes) for stage, changes in _SMOKE.items()}
    smoked["table1"] = replace(smoked["table1"], formulations=scale.table1.formulations[:1])
    return replace(scale, name=f"{scale.name}+smoke", seeds=scale.seeds[:1], **smoked)


STAGES: tuple[Stage, ...] = (
    Stage("games", "GDA family on min θ·φ (lecture)", ("proxgan.games.lab",), games_stage),
    Stage("theory", "Gaussian GAN games: Nash gaps vs σ, proximal gaps vs λ (Thm. 1–3)", ("proxgan.theory.lab",),
          theory_stage),
    Stage("train", "training WGAN-WC, WGAN-GP and SN-GAN (§2, §6)", ("proxgan.train", "proxgan.metrics"),
          train_stage),
    Stage("nash", "Nash test: frozen D, optimize G (§2, eq. 5)", ("proxgan.equilibrium",),
          lambda stage_dir, ctx: equilibrium_stage("nash", stage_dir, ctx), requires=("train",)),
    Stage("proximal", "proximal-equilibrium test, λ = 0.1 (§6.1, eq. 19)", ("proxgan.equilibrium",),
          lambda stage_dir, ctx: equilibrium_stage("proximal", stage_dir, ctx), requires=("train", "nash")),
    Stage("table1", "regular vs proximal training (§6.2, Table 1)", ("proxgan.train", "proxgan.metrics"),
          table1_stage),
)
