"""Plain vs Sobolev-penalized discriminator step (issue 4 target: Sobolev step ≤ 1.8 × plain step).

CPU, DCGAN (Gulrajani et al.) at DIM = 64, 32×32 images, batch 64 by default. The generator's
samples are fixed (as in the inner loop of Algorithm 1) and the reference gradients ∇ₓD_{w_k}(x)
are computed once, so a step is:

  plain:    -V(D(x), D(x̃)) (+ constraint), backward, optimizer step, projection
  sobolev:  one inner step of proximal_maximize: D(x) and ∇ₓD(x) from one forward pass (double
            backprop), -V + constraint + λ/(2n) Σ ||∇ₓD(xᵢ) - refᵢ||², backward, step, projection

Times are medians over interleaved repeats (robust to a shared, busy machine). Peak memory is the
peak resident set above the models and batches while the steps run (Linux /proc/self VmHWM, reset
before the steps), measured in a fresh subprocess per cell.

    python benchmarks/bench_proximal.py [--dim 64] [--resolution 32] [--batch 64] [--repeats 10]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _memory import benchmark_parser, peak_memory_in_subprocess, peak_rss_growth_mib  # noqa: E402

from proxgan.models import build_models
from proxgan.objectives import get_formulation
from proxgan.proximal import ProximalConfig, input_gradients, proximal_loss, proximal_maximize


def make_setup(formulation_name: str, dim: int, resolution: int, batch: int):
    """(D, formulation, real, fake, optimizer) with fixed batches, as inside one outer step."""
    torch.manual_seed(0)
    formulation = get_formulation(formulation_name)
    G, D = build_models("dcgan", (3, resolution, resolution), dim=dim, spectral_norm=formulation.spectral_norm)
    real = torch.rand(batch, 3, resolution, resolution) * 2 - 1
    with torch.no_grad():
        fake = G(torch.randn(batch, G.latent_dim))
    return D, formulation, real, fake, ProximalConfig().make_optimizer(D.parameters())


def plain_step(D, formulation, real, fake, optimizer, ref=None) -> None:
    loss = formulation.discriminator_loss(D, real, fake)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    formulation.project(D)


def sobolev_step(D, formulation, real, fake, optimizer, ref, lam: float = 0.1) -> None:
    loss, _, _ = proximal_loss(D, formulation, real, fake, ref, lam)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    formulation.project(D)


STEPS = {"plain": plain_step, "sobolev": sobolev_step}


def reference_gradients(setup) -> torch.Tensor:
    D, _, real, _, _ = setup
    return input_gradients(D, real, create_graph=False)


def step_times(formulation: str, dim: int, resolution: int, batch: int, repeats: int) -> dict[str, float]:
    """Median seconds per step of each kind, plus the T = 20 inner loop per step (references included)."""
    setup = make_setup(formulation, dim, resolution, batch)
    ref = reference_gradients(setup)
    samples: dict[str, list[float]] = {name: [] for name in STEPS}
    for i in range(repeats + 1):  # the first round warms up
        for name, step in STEPS.items():
            start = time.perf_counter()
            step(*setup, ref)
            if i:
                samples[name].append(time.perf_counter() - start)
    D, form, real, fake, _ = setup
    start = time.perf_counter()
    proximal_maximize(D, form, real, fake, ProximalConfig(steps=20))
    inner = (time.perf_counter() - start) / 20
    return {**{name: statistics.median(s) for name, s in samples.items()}, "inner_loop": inner}


def peak_rss_growth(mode: str, formulation: str, dim: int, resolution: int, batch: int) -> float:
    """Peak resident memory (MiB) above models + batches during 3 steps of ``mode`` (sobolev: + its references)."""
    setup = make_setup(formulation, dim, resolution, batch)

    def work() -> None:
        ref = reference_gradients(setup) if mode == "sobolev" else None
        for _ in range(3):
            STEPS[mode](*setup, ref)

    return peak_rss_growth_mib(work)


def main() -> None:
    parser = benchmark_parser(__doc__, repeats=10, modes=sorted(STEPS), threads=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.memory_probe:
        print(peak_rss_growth(args.memory_probe, args.formulations, args.dim, args.resolution, args.batch))
        return

    print(
        f"CPU, {args.threads} threads, DCGAN DIM={args.dim}, {args.resolution}x{args.resolution}, "
        f"batch {args.batch}, λ=0.1, median of {args.repeats} interleaved steps"
    )
    header = (
        f"{'formulation':<12} {'plain ms':>9} {'sobolev ms':>11} {'ratio':>6} {'T=20 loop ms/step':>18} "
        f"{'plain peak MiB':>15} {'sobolev peak MiB':>17} {'mem ratio':>10}"
    )
    print(header)
    print("-" * len(header))
    for formulation in args.formulations.split(","):
        t = step_times(formulation, args.dim, args.resolution, args.batch, args.repeats)
        mem = {mode: peak_memory_in_subprocess(__file__, mode, formulation, args) for mode in STEPS}
        print(
            f"{formulation:<12} {1e3 * t['plain']:>9.1f} {1e3 * t['sobolev']:>11.1f} "
            f"{t['sobolev'] / t['plain']:>6.2f} {1e3 * t['inner_loop']:>18.1f} "
            f"{mem['plain']:>15.1f} {mem['sobolev']:>17.1f} {mem['sobolev'] / mem['plain']:>10.2f}"
        )
    print("target: sobolev / plain <= 1.8")


if __name__ == "__main__":
    main()
