"""``proxgan train``: regular or proximal (Algorithm 1) GAN training from a config, into a run directory."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from pathlib import Path

import click

from proxgan.cli import PathType, json_option, out_option
from proxgan.errors import ProxganError

DEFAULT_CONFIG = "digits"


@click.command()
@click.argument("config", required=False)
@click.argument("overrides", nargs=-1)
@out_option("train")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint (CONFIG optional).")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N (under torchrun: cuda uses LOCAL_RANK).")
@click.option("--data-root", type=PathType(path_type=Path, file_okay=False), help="Where MNIST/CIFAR-10/CelebA live (data.root).")
@click.option("--download", is_flag=True, help="Download the dataset into --data-root if missing (data.download=true).")
@click.option("--list", "list_configs", is_flag=True, help="List the shipped configs and exit.")
@json_option
def train(config, overrides, out, resume, device, data_root, download, list_configs, as_json):
    """Train a GAN regularly or proximally (paper Algorithm 1).

    CONFIG is a YAML file or a shipped config name (see --list; default: digits, which needs no
    download). OVERRIDES are dotted key=value pairs, e.g. train.strategy=proximal proximal.lam=0.1
    train.steps=500. Writes checkpoints/last.pt, log.jsonl, tb/, samples/, samples.png, losses.png
    and results.json into --out; Ctrl-C or SIGTERM checkpoints before exiting. Multi-GPU:
    torchrun --nproc-per-node N --no-python proxgan train CONFIG --device cuda --out DIR.
    """
    from proxgan.config import load_config, shipped_configs

    if list_configs:
        for name, description in shipped_configs().items():
            click.echo(f"{name:32s} {description}")
        return
    if config is not None and "=" in config:
        config, overrides = None, (config, *overrides)
    extra = [f"data.root={data_root}"] * (data_root is not None) + ["data.download=true"] * download
    if config is None and resume:
        if not (out / "config.yaml").is_file():
            raise ProxganError(f"nothing to resume in {str(out)!r}: it has no config.yaml")
        config = str(out / "config.yaml")
    experiment = load_config(config or DEFAULT_CONFIG, [*overrides, *extra])
    doc, signum = _run(experiment, out, device, resume)
    if doc:  # only process 0 under torchrun returns the document
        click.echo(json.dumps(doc, indent=2) if as_json else _summary(doc))
    if signum is not None:
        sys.exit(128 + signum)


def _run(experiment, out: Path, device: str, resume: bool) -> tuple[dict, int | None]:
    """Train with a tqdm bar (process 0), stopping cleanly on SIGINT/SIGTERM; return (results, signal)."""
    from tqdm import tqdm

    from proxgan.results import command_line
    from proxgan.train import train as train_run

    with _distributed(device) as (rank, device):
        stop = {"signal": None}

        def on_signal(signum, _frame):
            stop["signal"] = signum

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        bar = None  # opened at the first step, so that bad input prints only its error line
        try:

            def progress(step: int, total: int, stats: dict | None) -> None:
                nonlocal bar
                if bar is None:
                    bar = tqdm(total=total, initial=step - 1, desc="train", unit="it", disable=rank != 0, dynamic_ncols=True)
                if stats is not None:
                    bar.set_postfix({k: f"{v:.4g}" for k, v in stats.items()}, refresh=False)
                bar.update(1)

            doc = train_run(experiment, out, device=device, resume=resume, progress=progress,
                            should_stop=lambda: stop["signal"] is not None, command=command_line())  # fmt: skip
            return doc, stop["signal"]
        finally:
            if bar is not None:
                bar.close()
            for s, handler in previous.items():
                signal.signal(s, handler)


@contextlib.contextmanager
def _distributed(device: str):
    """Join the torchrun process group when WORLD_SIZE > 1 (gloo on CPU, NCCL on CUDA); yield (rank, device)."""
    import torch
    import torch.distributed as dist

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        yield 0, device
        return
    if device.startswith("cuda"):
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    try:
        yield dist.get_rank(), device
    finally:
        dist.destroy_process_group()


def _summary(doc: dict) -> str:
    r = doc["results"]
    final = ", ".join(f"{k}={v:.4g}" for k, v in r["final"].items() if k not in ("step", "wall_seconds") and v is not None)
    return (
        f"{r['status']}: {r['steps']} generator steps of {r['strategy']} {r['formulation']} training on {r['dataset']} "
        f"in {doc['wall_seconds']:.1f} s; last logged {final}\n"
        f"samples: {', '.join(doc['figures'])}; checkpoint: {r['checkpoint']}"
    )
