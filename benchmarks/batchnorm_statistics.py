"""Does sampling with population BatchNorm statistics change sample quality? Paired, run by run.

``score RUN... --out DIR``: for each trained run, its sampled generator (the iterate average when it kept one;
``--last-iterate``: the last iterate) scored twice on the same latents (seed 0, ``--samples``, classifier IS
and FID with the shipped LeNet): with the BatchNorm buffers kept during training (every score recorded before
2026-12-04) and with its population statistics (``proxgan.models.batchnorm``, what proxgan samples with now);
also the seconds the statistics took. One JSON file per run in DIR (skipped when present, so two processes can
share a list); the runs' own results.json are not touched.

``summary DIR``: the per-run table and the paired improvement population − training (FID: training −
population) with its 95 % Student-t interval and verdict (``proxgan.rules``).

    OMP_NUM_THREADS=1 python benchmarks/batchnorm_statistics.py score runs/a runs/b --out bn
    python benchmarks/batchnorm_statistics.py summary bn
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

from proxgan.comparison import OUTCOMES
from proxgan.metrics import evaluate
from proxgan.models.batchnorm import with_population_statistics
from proxgan.rules import comparison_verdict, paired_difference
from proxgan.runs import load_run

METRICS = {"cls_is": ("mean", True), "cls_fid": ("value", False)}


def score(args: argparse.Namespace) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    for run_dir in args.runs:
        path = args.out / f"{hashlib.sha256(str(run_dir.resolve()).encode()).hexdigest()[:12]}.json"
        if path.exists():
            continue
        run = load_run(run_dir, average=not args.last_iterate, population_batchnorm=False)
        record = {"run": str(run_dir), "samples": args.samples,
                  "generator": run.generator_kind.split(";")[0]}  # which weights; the BatchNorm is the key below
        for population in (False, True):
            if population:  # a copy: the training-buffer generator scored above is not changed
                start = time.perf_counter()
                run.generator = with_population_statistics(run.generator)
                record["seconds"] = time.perf_counter() - start
            scores = evaluate(lambda n: run.sample(n, seed=0), run.data, ",".join(METRICS), n_samples=args.samples)
            record["population" if population else "training"] = {
                name: scores[name][key] for name, (key, _) in METRICS.items()}
        path.write_text(json.dumps(record, indent=1))
        print(json.dumps(record), flush=True)


def summary(args: argparse.Namespace) -> None:
    records = sorted((json.loads(p.read_text()) for p in args.out.glob("*.json")), key=lambda r: r["run"])
    print(f"{'run':<48} {'cls_is training → population':>30} {'cls_fid training → population':>31} {'seconds':>8}")
    for r in records:
        t, p = r["training"], r["population"]
        print(f"{r['run'][-48:]:<48} {t['cls_is']:>14.3f} → {p['cls_is']:<13.3f} {t['cls_fid']:>14.2f} → "
              f"{p['cls_fid']:<14.2f} {r['seconds']:>8.1f}")
    for name, (_, higher) in METRICS.items():
        d = paired_difference([r["training"][name] for r in records], [r["population"][name] for r in records], higher)
        ci = d["ci95"]
        shown = "no interval" if ci is None else f"95 % CI [{ci[0]:+.3f}, {ci[1]:+.3f}]"
        better = sum(v > 0 for v in d["values"])
        print(f"{name}: improvement {d['mean']:+.3f} {shown}, {OUTCOMES[comparison_verdict(d)]}; "
              f"better on {better} of {d['n']} runs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    s = commands.add_parser("score", help="score runs both ways, one JSON per run")
    s.add_argument("runs", nargs="+", type=Path)
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("--samples", type=int, default=5000)
    s.add_argument("--last-iterate", action="store_true")
    m = commands.add_parser("summary", help="the paired improvement over the runs scored into DIR")
    m.add_argument("out", type=Path)
    args = parser.parse_args()
    score(args) if args.command == "score" else summary(args)


if __name__ == "__main__":
    main()
