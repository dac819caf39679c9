"""The pipeline: which stages run, in which order, what is reused, and the results written at the end.

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
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from proxgan.errors import ProxganError, check_choices, check_positive_int
from proxgan.files import atomic_write, write_json
from proxgan.locks import owns
from proxgan.parallel import Progress, WorkerPool, import_package, threads_per_job
from proxgan.reproduce.scales import SCALES, Scale, get_scale
from proxgan.reproduce.stages import STAGE_REQUIRES, STAGES, Context, Stage
from proxgan.results import RESULTS_NAME, prepare_out_dir, read_results, write_results

REPORT_NAME = "report.html"


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
        stage_dir, command=f"proxgan reproduce --scale {context.scale.label} --stages {stage.name}",
        config={"scale": context.scale.label, **payload["config"]}, results=payload["results"],
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
    table1: tuple[str, ...] | None = None,
    same_steps: tuple[str, ...] | None = None,
    training_batchnorm: bool = False,
) -> dict[str, Any]:
    """Run the selected stages into ``out_dir``, then write ``results.json`` and ``report.html`` there.

    The independent runs of a stage (trained GANs, equilibrium tests, Table 1's runs) go to ``jobs``
    worker processes with ``threads`` torch threads each (default max(1, cores // jobs)); with ``jobs = 1``
    they run in this process, at its own thread count. The results do not depend on ``jobs``. ``smoke``,
    ``table1``, ``same_steps`` and ``training_batchnorm``: see :func:`proxgan.reproduce.scales.get_scale`. Returns the top-level results document:
    ``results.stages[name] = {"status", "wall_seconds", "summary"}`` and ``results.verdicts`` (one record
    per claim of the paper).
    """
    the_scale = get_scale(scale, data_root=data_root, smoke=smoke, table1=table1, same_steps=same_steps,
                          training_batchnorm=training_batchnorm)
    jobs = check_positive_int("jobs", jobs)
    threads = threads_per_job(jobs, threads)
    selected = select_stages(stages)
    root = prepare_out_dir(out_dir)
    progress = progress or (lambda message: None)
    import_package("proxgan")  # the code this run started with, here and in the workers (see import_package)
    with WorkerPool(jobs, threads, preload="proxgan") as pool:
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
        if _existing(stage_dir, the_scale.label) is not None:
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
        root, command=command, config={"scale": scale.label, "seeds": list(scale.seeds),
                                       "parameters": scale.parameters()},
        results={"stages": stages, "machine": machine, "verdicts": []}, figures=figures, wall_seconds=wall_seconds,
    )


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
    name = scale.split()[0]  # the label: NAME and its options
    page = render_page(
        records, root=root, heading="Do GANs always have Nash equilibria? — proxgan reproduction",
        intro=f"Farnia & Ozdaglar, ICML 2020, reproduced by proxgan at scale '{scale}': "
              f"{SCALES[name].summary if name in SCALES else ''} Each verdict is computed from the measured "
              "numbers with the thresholds shown.",
        footer=environment(top, docs),
    )
    top["results"]["verdicts"] = records
    write_json(root / RESULTS_NAME, top)
    return atomic_write(root / REPORT_NAME, lambda f: f.write(page.encode("utf-8")))
