"""Speed of the theorem lab: the full default sweep (every formulation, 50 σ, 50 λ).

Target: under 10 s on a 2-core CPU. Prints wall and CPU seconds for the computation,
for the figures, and the ratio to the target. Run: python benchmarks/bench_theory.py
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from proxgan.theory import analysis
from proxgan.theory.experiment import run_sweep
from proxgan.theory.gaussian import Setting

TARGET_SECONDS = 10.0


def main() -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    setting = Setting()
    sigmas = np.linspace(0.5, 2.0, 50)
    lambdas = np.geomspace(1e-3, 1e2, 50)
    rows = []
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for formulation in analysis.FORMULATIONS:
        w, c = time.perf_counter(), time.process_time()
        analysis.nash_gaps_vs_sigma(formulation, setting.replace(orthogonal=False), sigmas)
        analysis.nash_gaps_vs_sigma(formulation, setting.replace(orthogonal=True), sigmas)
        if formulation in analysis.PROXIMAL_FORMULATIONS:
            analysis.proximal_gaps_vs_lambda(formulation, setting, lambdas)
        rows.append((formulation, time.perf_counter() - w, time.process_time() - c))
    compute_wall, compute_cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    with tempfile.TemporaryDirectory() as tmp:
        w, c = time.perf_counter(), time.process_time()
        run_sweep(Path(tmp), list(analysis.FORMULATIONS), setting, sigmas, lambdas)
        sweep_wall, sweep_cpu = time.perf_counter() - w, time.process_time() - c
    print("formulation          wall s   cpu s   (2 constraint sets × 50 σ; 50 λ where proximal)")
    for name, w, c in rows:
        print(f"{name:<20} {w:7.2f} {c:7.2f}")
    print(f"{'all (computation)':<20} {compute_wall:7.2f} {compute_cpu:7.2f}")
    print(f"run_sweep incl. figures: wall {sweep_wall:.2f} s, cpu {sweep_cpu:.2f} s")
    print(f"ratio to the {TARGET_SECONDS:g} s target: wall {sweep_wall / TARGET_SECONDS:.2f}, cpu {sweep_cpu / TARGET_SECONDS:.2f}")


if __name__ == "__main__":
    main()
