"""Training steps with glibc's default allocator settings against :func:`proxgan.allocator.retain_freed_memory`.

Each measurement is a fresh child process (allocator settings are per process and cannot be undone): it
builds the shipped config's Trainer on the real data (``--data-root``) or an in-memory tensor of random
images of the dataset's shape, takes
``--warmup`` steps, then times ``--steps`` steps and counts the minor page faults they cause. The two
settings alternate for ``--rounds`` rounds, in ABBA order (which of two processes runs first matters on
this machine), so that the machine's load hits them alike; the table gives
medians and the ratio retained / default.

    python benchmarks/bench_allocator.py [--config mnist-fast] [--data-root ../shared/data] [--rounds 4]
        [--steps 40] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

import torch

SETTINGS = ("default", "retained")
#: the random images that stand in for each dataset without --data-root
IMAGE_SHAPES = {"mnist": (1, 28, 28), "digits": (1, 8, 8), "cifar10": (3, 32, 32), "celeba": (3, 64, 64)}


def child(config_name: str, retained: bool, warmup: int, steps: int, threads: int, data_root: str | None
          ) -> dict[str, float]:
    """ms per step and minor page faults per step of ``config_name`` in this (fresh) process."""
    import resource
    import time

    from proxgan.allocator import retain_freed_memory
    from proxgan.config import load_config
    from proxgan.data import InMemoryData
    from proxgan.runs import load_experiment_data
    from proxgan.train import build_trainer

    if retained and not retain_freed_memory():
        raise SystemExit("this C library is not glibc: nothing to compare")
    torch.set_num_threads(threads)
    config = load_config(config_name, [f"data.root={data_root}"] if data_root else [])
    torch.manual_seed(0)
    if data_root:
        data = load_experiment_data(config)
    elif config.data.name in IMAGE_SHAPES:
        data = InMemoryData("random", torch.rand(5_000, *IMAGE_SHAPES[config.data.name]) * 2 - 1)
    else:
        raise SystemExit(f"--config {config_name}: random images only for {', '.join(IMAGE_SHAPES)}, "
                         f"got {config.data.name}; give --data-root")
    trainer = build_trainer(config, torch.device("cpu"), data)
    for _ in range(warmup):
        trainer.train_step()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    start = time.perf_counter()
    for _ in range(steps):
        trainer.train_step()
    seconds = time.perf_counter() - start
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    return {"ms": 1e3 * seconds / steps, "faults": faults / steps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="mnist-fast-unconditional", help="a shipped image config (default mnist-fast-unconditional)")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--data-root", help="train on the real dataset there (default: random images)")
    parser.add_argument("--child", choices=SETTINGS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.config, args.child == "retained", args.warmup, args.steps, args.threads,
                               args.data_root)))
        return
    results: dict[str, list[dict[str, float]]] = {name: [] for name in SETTINGS}
    for round_ in range(args.rounds):
        for name in SETTINGS[:: 1 if round_ % 2 == 0 else -1]:  # ABBA: neither setting always runs first
            command = [sys.executable, __file__, "--child", name, "--config", args.config, "--warmup",
                       str(args.warmup), "--steps", str(args.steps), "--threads", str(args.threads)]
            command += ["--data-root", args.data_root] if args.data_root else []
            out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            results[name].append(json.loads(out.splitlines()[-1]))
    print(f"{args.config} train_step, CPU, {args.threads} threads, {args.steps} steps after {args.warmup}, "
          f"median of {args.rounds} alternating processes each")
    base = statistics.median(r["ms"] for r in results["default"])
    for name in SETTINGS:
        ms = statistics.median(r["ms"] for r in results[name])
        faults = statistics.median(r["faults"] for r in results[name])
        rounds = ", ".join(f"{r['ms']:.1f}" for r in results[name])
        print(f"  {name:<9} {ms:8.1f} ms/step  {faults:8.0f} page faults/step  {ms / base:5.2f}x default"
              f"   (rounds: {rounds} ms)")


if __name__ == "__main__":
    main()
