"""Table 1's SN-GAN DIM 64 row on MNIST at the paper's T = 20, on one GPU: regular training against
Algorithm 1 and against Algorithm 1's inner loop without its proximal term (λ = 0), paired by seed.

Every (arm, seed) is one ``python -m proxgan train`` process, all started at once on the device, each
scoring its generator every ``--eval-every`` steps in training (classifier IS and FID, 5,000 samples,
population BatchNorm statistics). At ``--minutes`` the runs still going get SIGTERM (each checkpoints and
writes results.json). The analysis is fixed in advance (docs/reproduce.md, "Table 1 at T = 20 on a GPU"):
every arm is compared at the **last evaluation step that every run of every arm reached**.

    python benchmarks/gpu_table1.py run --data-root DIR --out runs/gpu-table1 [--seeds 0-4] [--minutes 5]
    python benchmarks/gpu_table1.py summary runs/gpu-table1 [--figure FILE]

``run`` also prints the summary. The arms (overrides of the shipped ``table1-sngan-dim64`` configs, with
``data.name=mnist``; the paper's Adam 1e-4, β = (0.5, 0.9), batch 64, no averaging):

  regular   n_critic = 5 discriminator steps per generator step
  proximal  Algorithm 1: T = 20 inner Adam steps on V − λ/(2n) Σᵢ‖∇ₓD_w(xᵢ) − ∇ₓD_{w_k}(xᵢ)‖², λ = 0.1
  lam0      the same inner loop with λ = 0 (no proximal term)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

#: arm -> (shipped config, overrides)
ARMS: dict[str, tuple[str, list[str]]] = {
    "regular": ("table1-sngan-dim64", []),
    "proximal": ("table1-sngan-dim64-proximal", []),
    "lam0": ("table1-sngan-dim64-proximal", ["proximal.lam=0"]),
}
#: (treatment, baseline) pairs of the analysis; the first is the primary comparison
COMPARISONS = (("proximal", "regular"), ("proximal", "lam0"), ("lam0", "regular"))


def seeds(text: str) -> list[int]:
    """``"0-4"`` or ``"0,3,7"``."""
    if "-" in text:
        lo, hi = (int(v) for v in text.split("-"))
        return list(range(lo, hi + 1))
    return [int(v) for v in text.split(",")]


def launch(args: argparse.Namespace) -> None:
    """Start every (arm, seed) at once; SIGTERM the ones still running at the deadline."""
    every = math.gcd(50, args.eval_every)  # a log record (with its wall clock) at every evaluation step
    common = ["data.name=mnist", f"train.steps={args.steps}", f"log.every={every}", f"log.eval_every={args.eval_every}",
              "log.eval_metrics=cls_is,cls_fid", "log.eval_samples=5000", f"log.sample_every={args.eval_every * 4}",
              f"log.checkpoint_every={args.steps}", *args.extra]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = []
    for arm in args.arms.split(","):
        config, overrides = ARMS[arm]
        for seed in seeds(args.seeds):
            out = args.out / f"{arm}-s{seed}"
            out.mkdir(parents=True, exist_ok=True)
            command = [sys.executable, "-m", "proxgan", "train", config, *overrides, *common, f"seed={seed}",
                       "--device", args.device, "--data-root", str(args.data_root), "--out", str(out)]  # fmt: skip
            log = (out / "train.log").open("w")
            procs.append((out.name, subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)))
    deadline = time.monotonic() + 60 * args.minutes
    while time.monotonic() < deadline and any(p.poll() is None for _, p in procs):
        time.sleep(2)
    for _, p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for name, p in procs:
        try:
            p.wait(timeout=90)
        except subprocess.TimeoutExpired:
            p.kill()
        print(f"{name}: exit {p.returncode}", file=sys.stderr)


def arm_and_seed(name: str) -> tuple[str, int]:
    """``"proximal-s3"`` → ``("proximal", 3)``."""
    arm, seed = name.rsplit("-s", 1)
    return arm, int(seed)


def read_runs(out: Path) -> dict[str, dict]:
    """:func:`read_run` of every run directory ``ARM-sSEED`` in ``out``, by name."""
    return {d.name: read_run(d) for d in sorted(out.iterdir()) if d.is_dir() and "-s" in d.name}


def read_run(run_dir: Path) -> dict:
    """Evaluations {step: (cls_is, cls_fid, floor)}, wall seconds at each logged step, status and steps."""
    evals, wall = {}, {}
    log = run_dir / "log.jsonl"
    for line in log.read_text().splitlines() if log.is_file() else []:
        record = json.loads(line)
        if "eval/cls_is/mean" in record:
            evals[record["step"]] = (record["eval/cls_is/mean"], record["eval/cls_fid/value"],
                                     record["eval/cls_fid/floor"])  # fmt: skip
        if "wall_seconds" in record:
            wall[record["step"]] = record["wall_seconds"]
    results = run_dir / "results.json"
    doc = json.loads(results.read_text())["results"] if results.is_file() else {}
    return {"evals": evals, "wall": wall, "status": doc.get("status", "no results.json"), "steps": doc.get("steps")}


def summarize(runs: dict[str, dict]) -> dict:
    """The pre-registered analysis of :func:`read_runs`' ``runs`` (see the module docstring)."""
    from proxgan.rules import comparison_verdict, mean_interval, paired_difference, seeds_to_decide

    arms = sorted({arm_and_seed(name)[0] for name in runs})
    seed_list = sorted({arm_and_seed(name)[1] for name in runs})
    last = {name: max(r["evals"], default=0) for name, r in runs.items()}
    common = min(last.values(), default=0)
    doc = {"common_step": common, "seeds": seed_list, "arms": {}, "comparisons": {},
           "runs": {n: {"status": r["status"], "steps": r["steps"], "last_eval": last[n]} for n, r in runs.items()}}
    if not common:
        return doc
    for arm in arms:
        at = [runs[f"{arm}-s{s}"] for s in seed_list]
        per_step = [r["wall"][common] / common for r in at]
        doc["arms"][arm] = {"cls_is": mean_interval([r["evals"][common][0] for r in at]),
                            "cls_fid": mean_interval([r["evals"][common][1] for r in at]),
                            "seconds_per_step": mean_interval(per_step)}  # fmt: skip
    doc["floor"] = runs[next(iter(runs))]["evals"][common][2]
    for treatment, baseline in COMPARISONS:
        if treatment not in arms or baseline not in arms:
            continue
        cell = {}
        for index, metric, higher in ((0, "cls_is", True), (1, "cls_fid", False)):
            values = [[runs[f"{arm}-s{s}"]["evals"][common][index] for s in seed_list] for arm in (baseline, treatment)]
            difference = paired_difference(values[0], values[1], higher)
            cell[metric] = {**difference, "verdict": comparison_verdict(difference),
                            "seeds_to_decide": seeds_to_decide(difference)}
        ratio = [runs[f"{treatment}-s{s}"]["wall"][common] / runs[f"{baseline}-s{s}"]["wall"][common] for s in seed_list]
        cell["time_ratio"] = mean_interval(ratio)
        doc["comparisons"][f"{treatment} vs {baseline}"] = cell
    if {"proximal", "regular"} <= set(arms):  # exploratory, not pre-registered: regular given at most proximal's time
        budget = [runs[f"proximal-s{s}"]["wall"][common] for s in seed_list]
        regular = [runs[f"regular-s{s}"] for s in seed_list]
        steps = [max(t for t in r["evals"] if r["wall"][t] <= b) for r, b in zip(regular, budget)]
        difference = paired_difference([r["evals"][t][0] for r, t in zip(regular, steps)],
                                       [runs[f"proximal-s{s}"]["evals"][common][0] for s in seed_list], True)  # fmt: skip
        doc["equal_time_exploratory"] = {"regular_steps": steps, "cls_is": {**difference,
                                         "verdict": comparison_verdict(difference)}}  # fmt: skip
    return doc


def describe(doc: dict) -> str:
    """The summary as text: each arm at the common step, then each paired comparison."""

    def ci(cell: dict) -> str:
        return f"{cell['mean']:+.3f} [{cell['ci95'][0]:+.3f}, {cell['ci95'][1]:+.3f}]" if cell["ci95"] else "n/a"

    lines = [f"common evaluation step: {doc['common_step']} (seeds {doc['seeds']})"]
    lines += [f"  {name}: {run['status']}, {run['steps']} steps, last evaluation at {run['last_eval']}"
              for name, run in doc["runs"].items()]  # fmt: skip
    for arm, cell in doc["arms"].items():
        lines.append(f"{arm:9s} cls_is {cell['cls_is']['mean']:.3f} ± {cell['cls_is']['std']:.3f}  cls_fid "
                     f"{cell['cls_fid']['mean']:.2f} ± {cell['cls_fid']['std']:.2f} (floor {doc['floor']:.2f})  "
                     f"{cell['seconds_per_step']['mean']:.3f} s per step (shared device)")  # fmt: skip
    for name, cell in doc["comparisons"].items():
        lines.append(f"{name}: cls_is {ci(cell['cls_is'])} {cell['cls_is']['verdict']} (about "
                     f"{cell['cls_is']['seeds_to_decide']} pairs would decide it, if this mean and spread held); "
                     f"cls_fid improvement {ci(cell['cls_fid'])}; time {ci(cell['time_ratio'])}×")  # fmt: skip
    if "equal_time_exploratory" in doc:
        cell = doc["equal_time_exploratory"]
        lines.append(f"exploratory: proximal vs regular given at most proximal's time (regular at steps "
                     f"{cell['regular_steps']}): cls_is {ci(cell['cls_is'])} {cell['cls_is']['verdict']}")  # fmt: skip
    return "\n".join(lines)


def plot(runs: dict[str, dict], path: Path) -> None:
    """Classifier IS of :func:`read_runs`' ``runs`` against generator steps and against wall-clock seconds (shared
    device), one line per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    colors = {"regular": "tab:blue", "proximal": "tab:orange", "lam0": "tab:green"}
    first_seed = min(arm_and_seed(name)[1] for name in runs)
    for name, run in runs.items():
        arm, seed = arm_and_seed(name)
        steps = sorted(run["evals"])
        scores = [run["evals"][s][0] for s in steps]
        axes[0].plot(steps, scores, color=colors.get(arm, "gray"), alpha=0.7, label=arm if seed == first_seed else None)
        axes[1].plot([run["wall"][s] for s in steps], scores, color=colors.get(arm, "gray"), alpha=0.7)
    axes[0].set_xlabel("generator steps")
    axes[1].set_xlabel("wall-clock seconds of training (all runs sharing one GPU)")
    axes[0].set_ylabel("classifier IS (5,000 samples)")
    axes[0].legend()
    fig.suptitle("SN-GAN DIM 64 on MNIST: regular (n_critic 5) vs Algorithm 1 (T = 20, λ = 0.1) vs λ = 0")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="train every (arm, seed) at once, then summarize")
    run.add_argument("--data-root", type=Path, required=True)
    run.add_argument("--out", type=Path, default=Path("runs/gpu-table1"))
    run.add_argument("--seeds", default="0-4")
    run.add_argument("--arms", default=",".join(ARMS))
    run.add_argument("--minutes", type=float, default=5.0, help="wall-clock deadline of the training processes")
    run.add_argument("--steps", type=int, default=4000, help="cap on generator steps per run")
    run.add_argument("--eval-every", type=int, default=250)
    run.add_argument("--device", default="cuda")
    run.add_argument("--extra", nargs="*", default=[], help="more overrides for every run")
    summary = sub.add_parser("summary", help="the pre-registered analysis of finished runs")
    summary.add_argument("out", type=Path)
    for p in (run, summary):
        p.add_argument("--figure", type=Path, default=None, help="write the IS-vs-steps figure here")
    args = parser.parse_args(argv)
    if args.command == "run":
        import torch

        if args.device.startswith("cuda") and not torch.cuda.is_available():
            sys.exit(f"error: --device {args.device} but torch sees no CUDA device (use --device cpu to try it on a CPU)")
        launch(args)
    if not args.out.is_dir():
        sys.exit(f"error: {str(args.out)!r} is not a directory of runs")
    runs = read_runs(args.out)
    doc = summarize(runs)
    (args.out / "summary.json").write_text(json.dumps(doc, indent=2) + "\n")
    print(describe(doc))
    if args.figure and doc["common_step"]:
        plot(runs, args.figure)
    return 0


if __name__ == "__main__":
    sys.exit(main())
