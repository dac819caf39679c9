"""Regular vs proximal training iterations of the Trainer (target: proximal ≤ 4 × regular, see docs/objectives.md).

CPU, DCGAN (Gulrajani et al.) at DIM = 64, 32×32×3 images, batch 64, the Table 1 formulations:

  regular:   n_critic = 5 discriminator steps (each on a fresh real and generated batch) + 1 generator step
  proximal:  Algorithm 1, T = 20 inner steps on V − λ·Sobolev penalty (λ = 0.1, one outer batch,
             reference gradients once) + 1 generator step

Each iteration is one ``Trainer.train_step()`` on an in-memory dataset of 10,000 random images (the
same tensor layout as CIFAR-10 after loading). Times are medians over interleaved repeats; "fetch" is the
share of the iteration spent in ``Trainer.real_batch`` (index sampling + gather). Peak memory is the peak
resident set above the models and data during 2 iterations (Linux VmHWM, reset first), each strategy in a
fresh subprocess.

    python benchmarks/bench_train.py [--formulations wgan-wc,sngan] [--repeats 5] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _memory import benchmark_parser, peak_memory_in_subprocess, peak_rss_growth_mib  # noqa: E402

from proxgan.allocator import retain_freed_memory  # noqa: E402
from proxgan.config import config_from_dict  # noqa: E402
from proxgan.data import InMemoryData  # noqa: E402
from proxgan.train import build_trainer  # noqa: E402

STRATEGIES = ("regular", "proximal")


def make_trainer(strategy: str, formulation: str, args: argparse.Namespace):
    """A Trainer for ``strategy`` with a fetch-time counter around its real-batch sampling."""
    config = config_from_dict({
        "formulation": formulation, "model": {"arch": "dcgan", "dim": args.dim},
        "train": {"strategy": strategy, "batch_size": args.batch, "n_critic": 5}, "proximal": {"steps": 20, "lam": 0.1},
    })  # fmt: skip
    torch.manual_seed(0)
    data = InMemoryData("random-cifar", torch.rand(10_000, 3, args.resolution, args.resolution) * 2 - 1)
    trainer = build_trainer(config, torch.device("cpu"), data)
    fetch = {"seconds": 0.0}
    real_batch = trainer.real_batch

    def timed_real_batch():
        start = time.perf_counter()
        batch = real_batch()
        fetch["seconds"] += time.perf_counter() - start
        return batch

    trainer.real_batch = timed_real_batch
    return trainer, fetch


def iteration_times(formulation: str, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Median seconds per iteration and the median fetch share, per strategy (interleaved repeats)."""
    trainers = {s: make_trainer(s, formulation, args) for s in STRATEGIES}
    seconds: dict[str, list[float]] = {s: [] for s in STRATEGIES}
    shares: dict[str, list[float]] = {s: [] for s in STRATEGIES}
    for i in range(args.repeats + 1):  # round 0 warms up
        for s, (trainer, fetch) in trainers.items():
            fetch["seconds"] = 0.0
            start = time.perf_counter()
            trainer.train_step()
            elapsed = time.perf_counter() - start
            if i:
                seconds[s].append(elapsed)
                shares[s].append(fetch["seconds"] / elapsed)
    return {s: {"seconds": statistics.median(seconds[s]), "fetch": statistics.median(shares[s])} for s in STRATEGIES}


def peak_rss_growth(strategy: str, formulation: str, args: argparse.Namespace) -> float:
    """Peak resident memory (MiB) above trainer + data during 2 iterations."""
    trainer, _ = make_trainer(strategy, formulation, args)

    def work() -> None:
        for _ in range(2):
            trainer.train_step()

    return peak_rss_growth_mib(work)


def main() -> None:
    parser = benchmark_parser(__doc__, repeats=5, modes=list(STRATEGIES), threads=torch.get_num_threads())
    args = parser.parse_args()
    retain_freed_memory()  # as the proxgan CLI does (proxgan.allocator)
    torch.set_num_threads(args.threads)
    if args.memory_probe:
        print(peak_rss_growth(args.memory_probe, args.formulations, args))
        return
    print(f"CPU, {args.threads} threads, DCGAN DIM={args.dim}, {args.resolution}x{args.resolution}x3, batch {args.batch}; "
          f"regular = 5 D steps + 1 G step, proximal = T=20 inner steps (λ=0.1) + 1 G step; median of {args.repeats}")  # fmt: skip
    header = (f"{'formulation':<12} {'regular s':>10} {'proximal s':>11} {'ratio':>6} {'fetch reg':>10} {'fetch prox':>11} "
              f"{'regular peak MiB':>17} {'proximal peak MiB':>18}")  # fmt: skip
    print(header)
    print("-" * len(header))
    for formulation in args.formulations.split(","):
        t = iteration_times(formulation, args)
        mem = {s: peak_memory_in_subprocess(__file__, s, formulation, args) for s in STRATEGIES}
        print(f"{formulation:<12} {t['regular']['seconds']:>10.3f} {t['proximal']['seconds']:>11.3f} "
              f"{t['proximal']['seconds'] / t['regular']['seconds']:>6.2f} {100 * t['regular']['fetch']:>9.2f}% "
              f"{100 * t['proximal']['fetch']:>10.2f}% {mem['regular']:>17.1f} {mem['proximal']:>18.1f}")  # fmt: skip
    print("target: proximal / regular <= 4 (bench_proximal.py measures the cheaper variants too)")


if __name__ == "__main__":
    main()
