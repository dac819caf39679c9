"""Projected wall time of a scale's Table 1 stage from per-step times measured on a few steps.

For each Table 1 formulation of the scale (default: quick) it trains a regular and a proximal run of
``--steps`` generator steps with the scale's settings, one torch thread, and times a step from the run's
own clock; it times the scale's metric on its sample count, and V^prox on one evaluation batch of the
scale's equilibrium settings (the cost of one fresh batch of the proximal test). It then prints the Table 1
stage's work (every seed: regular, proximal, and proximal at regular training's wall-clock time; scoring
each run) and that work divided over ``--jobs`` workers, assuming each worker runs at one-process speed.
Run it on an idle machine for absolute numbers; under load, the ratios still hold.

    OMP_NUM_THREADS=1 python benchmarks/bench_reproduce.py [--scale quick] [--steps 30] [--jobs 2]
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from pathlib import Path

import torch

from proxgan import reproduce as R
from proxgan.equilibrium import FixedEvaluation, config_for_run, proximal_objective, setting_from_run
from proxgan.proximal import frozen_copy
from proxgan.runs import load_run
from proxgan.train import train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="quick")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    scale = R.get_scale(args.scale)
    p, seeds = scale.table1, scale.seeds
    work = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for formulation in p.formulations:
            per_step = {}
            for strategy in ("regular", "proximal"):
                config = R.training_config(p, formulation, strategy=strategy, seed=0, steps=args.steps, dim=p.dims[0])
                per_step[strategy] = R.training_seconds(train(config, Path(tmp) / f"{formulation}-{strategy}")) / args.steps
                print(f"{formulation:8s} {strategy:8s} {1000 * per_step[strategy]:8.1f} ms per generator step")
            ratio = per_step["regular"] / per_step["proximal"]
            equal_steps = max(1, min(p.steps, round(p.steps * ratio)))
            work += len(seeds) * (p.steps * (per_step["regular"] + per_step["proximal"]) + equal_steps * per_step["proximal"])
        run_dir = Path(tmp) / f"{p.formulations[-1]}-regular"
        start = time.perf_counter()
        R.sample_quality(run_dir, p.metric, p.samples, device="cpu", data_root=None)
        scoring = time.perf_counter() - start
        print(f"{p.metric} of {p.samples} samples: {scoring:.2f} s (the first call may include training the classifier)")
        run = load_run(run_dir)
        eq = config_for_run(run, **scale.equilibrium.overrides())
        setting = setting_from_run(run, quality=False)
        D_frozen = frozen_copy(setting.discriminator)
        w_final = {k: v.detach().clone() for k, v in setting.discriminator.state_dict().items()}
        fixed = FixedEvaluation.build(setting, D_frozen, eq, batch=1)
        start = time.perf_counter()
        proximal_objective(setting.generator.eval(), copy.deepcopy(setting.discriminator), w_final, setting.formulation,
                           fixed, eq.proximal)
        print(f"V^prox on one {eq.eval_size}-sample batch ({eq.inner_steps} inner steps): {time.perf_counter() - start:.2f} s "
              f"(the proximal test evaluates 2 × {eq.eval_batches} of them per run)")
    runs = 3 * len(seeds) * len(p.formulations) * len(p.dims)
    work += runs * scoring
    print(f"Table 1 at scale {args.scale!r}: {runs} runs of {p.steps} steps (equal-time runs shorter), "
          f"{work:.0f} s of work; over {args.jobs} workers ≈ {work / args.jobs:.0f} s")


if __name__ == "__main__":
    main()
