"""``proxgan reproduce``: the whole paper in one command; ``proxgan report``: its HTML report again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from proxgan.cli import PathType, json_option, out_option, training_batchnorm_option


def summarize(doc: dict[str, Any]) -> str:
    """Stage statuses with wall times, then one line per claim: verdict, title, reason."""
    lines = ["stages:"]
    for name, stage in doc["results"]["stages"].items():
        wall = f" ({stage['wall_seconds']:.1f} s)" if stage["wall_seconds"] is not None else ""
        lines.append(f"  {name:<9} {stage['status']}{wall}")
    lines.append("claims:")
    for r in doc["results"]["verdicts"]:
        lines.append(f"  [{r['verdict']}] {r['title']} ({r['source']}): {r['reason']}")
    return "\n".join(lines)


@click.command("reproduce")
@click.option("--scale", default="quick", show_default=True,
              help="tiny (seconds, tests), quick (embedded data, about 6 min on 2 CPU cores), cpu (MNIST), "
                   "gpu (the paper's protocol: 200,000 generator steps, DCGAN, data under --data-root).")
@click.option("--stages", default="all", show_default=True,
              help="Comma list of stages to run: games, theory, train, nash, proximal, table1 (stages they read "
                   "are added).")
@click.option("--force", is_flag=True, help="Rerun the selected stages even where their results exist.")
@click.option("--data-root", type=PathType(path_type=Path, file_okay=False), default=None,
              help="Where MNIST / CIFAR-10 / CelebA live (torchvision layout), for --scale cpu and gpu.")
@click.option("--device", default="cpu", show_default=True, help="Torch device for training and tests (cpu, cuda).")
@click.option("--jobs", type=int, default=None,
              help="Independent runs of a stage (trained GANs, equilibrium tests, Table 1's runs) trained in "
                   "parallel worker processes. Default: the cores available to this process.")
@click.option("--threads", type=int, default=None,
              help="Torch threads of each worker (and of this process). Default: max(1, cores // jobs).")
@click.option("--smoke", is_flag=True,
              help="Same data, models and metrics, but every stage cut to a handful of steps and one seed: checks "
                   "the whole pipeline of a scale in seconds (results recorded as scale 'NAME --smoke').")
@click.option("--table1", "table1", default=None, metavar="LIST",
              help="Table 1's formulations, comma list, instead of the scale's (results recorded as scale "
                   "'NAME --table1 LIST'). At --scale cpu the default row is nsgan-r1 (the whole scale: 80 min); "
                   "'--stages table1 --table1 sngan' runs the paper's SN-GAN row at the same settings (72 min).")
@click.option("--same-steps", "same_steps", default=None, metavar="LIST",
              help="Proximal variants that the scale trains at equal wall-clock time only, trained at regular "
                   "training's generator steps too (results recorded as scale 'NAME --same-steps LIST'). At "
                   "--scale cpu: t20, the paper's T = 20 (about 12x a regular step; its five runs: 2 h 06 min on 2 "
                   "cores, measured).")
@training_batchnorm_option
@out_option("reproduce")
@json_option
def reproduce_command(scale: str, stages: str, force: bool, data_root: Path | None, device: str,
                      jobs: int | None, threads: int | None, smoke: bool, table1: str | None, same_steps: str | None,
                      training_batchnorm: bool, out: Path, as_json: bool) -> None:
    """Run the paper end to end and write OUT/report.html (self-contained) and OUT/results.json.

    Stages: the GDA family on θ·φ; Theorems 1–3 on Gaussian GANs; the Nash and proximal-equilibrium
    tests on trained WGAN-WC / WGAN-GP / SN-GAN (§2, §6.1); regular vs proximal training (Table 1).
    Finished stages are skipped, so an interrupted run continues where it stopped.

    Example: proxgan reproduce --scale quick --out runs/reproduce
    """
    import torch

    from proxgan.parallel import available_cores, threads_per_job
    from proxgan.reproduce import run_pipeline
    from proxgan.results import command_line

    jobs = available_cores() if jobs is None else jobs
    threads = threads_per_job(jobs, threads)
    torch.set_num_threads(threads)

    def progress(message: str) -> None:
        click.echo(message, err=as_json)

    doc = run_pipeline(out, scale=scale, stages=stages, force=force, data_root=None if data_root is None
                       else str(data_root), device=device, progress=progress, command=command_line(), jobs=jobs,
                       threads=threads, smoke=smoke,
                       table1=_names(table1), same_steps=_names(same_steps), training_batchnorm=training_batchnorm)
    if as_json:
        click.echo(json.dumps(doc, indent=2))
    else:
        click.echo(summarize(doc))
        click.echo(f"report: {out / 'report.html'}")


def _names(text: str | None) -> tuple[str, ...] | None:
    """A comma list as a tuple of its non-empty names; None stays None (the option was not given)."""
    return None if text is None else tuple(name.strip() for name in text.split(",") if name.strip())


@click.command("report")
@click.argument("directory", type=PathType(path_type=Path, file_okay=False))
@json_option
def report_command(directory: Path, as_json: bool) -> None:
    """Rewrite DIRECTORY/report.html from the results of an earlier 'proxgan reproduce --out DIRECTORY'.

    Verdicts are recomputed from the stage results; nothing is rerun.

    Example: proxgan report runs/reproduce
    """
    from proxgan.reproduce import write_report
    from proxgan.results import read_results

    path = write_report(directory)
    doc = read_results(directory)
    if as_json:
        click.echo(json.dumps(doc, indent=2))
    else:
        click.echo(summarize(doc))
        click.echo(f"report: {path}")

