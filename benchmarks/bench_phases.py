"""Per-phase milliseconds of the training core, and what each speed option buys.

DCGAN at DIM 32 and 64 on MNIST-shaped data (1×28×28, an in-memory tensor of random images), batch
64, the non-saturating GAN loss (``nsgan``) unless ``--formulation`` says otherwise. Phases, each one
call of the Trainer:

  D step        one ``discriminator_step`` (fused: one D pass on cat(real, fake); split: two passes)
  G step        one ``generator_step``
  regular       one ``train_step`` with n_critic D steps (default 1, --n-critic)
  proximal      one ``train_step`` of Algorithm 1, T = 20 inner steps (λ = 0.1)

Variants, timed in the same run and interleaved so that machine load hits them alike:

  split         D step with two D passes (real, then fake): the code before the fused pass
  fused         the Trainer's D step (baseline of the ratios)
  channels_last the fused D step with models and data in channels_last memory format
  bf16          the fused D step and G step under bfloat16 autocast (train.amp=true)
  bf16 channels_last  both: the combination oneDNN's bf16 kernels might prefer (measured, not adopted)
  compile       torch.compile'd G and D (paths without double backward only; compile time reported apart)
  reuse_fake    the regular iteration with the G step on the D step's generated batch (train.reuse_fake=true)

    python benchmarks/bench_phases.py [--dims 32,64] [--repeats 20] [--threads N] [--compile]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from proxgan.allocator import retain_freed_memory
from proxgan.config import config_from_dict
from proxgan.data import InMemoryData
from proxgan.train import build_trainer


#: phase prefix -> the case its variants are divided by in the ratio column
BASELINES = {"D step": "D step fused", "G step": "G step", "regular iteration": "regular iteration"}


def make_trainer(dim: int, args: argparse.Namespace, *, strategy: str = "regular", amp: bool = False,
                 reuse_fake: bool = False):
    config = config_from_dict({
        "formulation": args.formulation, "model": {"arch": "dcgan", "dim": dim, "latent_dim": 128},
        "train": {"strategy": strategy, "batch_size": args.batch, "n_critic": args.n_critic, "amp": amp,
                  "reuse_fake": reuse_fake},
        "proximal": {"steps": 20, "lam": 0.1},
    })  # fmt: skip
    torch.manual_seed(0)
    data = InMemoryData("random-mnist", torch.rand(5_000, 1, 28, 28) * 2 - 1)
    return build_trainer(config, torch.device("cpu"), data)


def split_discriminator_step(trainer, real, fake):
    """The D step before the fused pass: D(real) and D(fake) as two forward passes."""
    objective = trainer.formulation.objective
    d_real, d_fake = trainer.D(real), trainer.D(fake)
    loss = objective.discriminator_loss(d_real, d_fake) + trainer.formulation.regularizer(trainer.D, real, fake)
    trainer.d_optimizer.zero_grad(set_to_none=True)
    loss.backward()
    trainer.d_optimizer.step()
    trainer.formulation.project(trainer.D)
    return loss.detach()


def to_channels_last(trainer) -> None:
    trainer.G.to(memory_format=torch.channels_last)
    trainer.D.to(memory_format=torch.channels_last)
    trainer.data.x = trainer.data.x.contiguous(memory_format=torch.channels_last)


def timed(fn, repeats: int) -> list[float]:
    fn()  # warm-up
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def phases(dim: int, args: argparse.Namespace) -> dict[str, float]:
    """Median milliseconds of every (phase, variant) at width ``dim``, variants interleaved round by round."""
    base = make_trainer(dim, args)
    channels_last = make_trainer(dim, args)
    to_channels_last(channels_last)
    bf16 = make_trainer(dim, args, amp=True)
    bf16_channels_last = make_trainer(dim, args, amp=True)
    to_channels_last(bf16_channels_last)
    prox = make_trainer(dim, args, strategy="proximal")
    reuse = make_trainer(dim, args, reuse_fake=True)
    cases = {
        "D step split": lambda: split_discriminator_step(base, base.real_batch(), base.fake_batch()),
        "D step fused": lambda: base.discriminator_step(base.real_batch(), base.fake_batch()),
        "D step channels_last": lambda: channels_last.discriminator_step(channels_last.real_batch(), channels_last.fake_batch()),
        "D step bf16": lambda: bf16.discriminator_step(bf16.real_batch(), bf16.fake_batch()),
        "D step bf16 channels_last": lambda: bf16_channels_last.discriminator_step(
            bf16_channels_last.real_batch(), bf16_channels_last.fake_batch()),
        "G step": base.generator_step,
        "G step channels_last": channels_last.generator_step,
        "G step bf16": bf16.generator_step,
        "G step bf16 channels_last": bf16_channels_last.generator_step,
        "regular iteration": base.train_step,
        "regular iteration reuse_fake": reuse.train_step,
        "proximal iteration": prox.train_step,
    }
    if args.compile:
        compiled = make_trainer(dim, args)
        compiled.G, compiled.D = torch.compile(compiled.G), torch.compile(compiled.D)
        compiled.G_parallel, compiled.D_parallel = compiled.G, compiled.D
        start = time.perf_counter()
        compiled.train_step()
        compiled.train_step()
        cases["compile time (s, first 2 steps)"] = None
        compile_seconds = time.perf_counter() - start
        cases["D step compile"] = lambda: compiled.discriminator_step(compiled.real_batch(), compiled.fake_batch())
        cases["G step compile"] = compiled.generator_step
    times: dict[str, list[float]] = {name: [] for name, fn in cases.items() if fn is not None}
    rounds = max(1, args.repeats // 5)
    for _ in range(rounds):
        for name, fn in cases.items():
            if fn is not None:
                times[name] += timed(fn, 5 if "proximal" not in name else 1)
    out = {name: 1000 * statistics.median(values) for name, values in times.items()}
    if args.compile:
        out["compile time (s, first 2 steps)"] = compile_seconds
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dims", default="32,64")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--n-critic", type=int, default=1)
    parser.add_argument("--formulation", default="nsgan")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (minutes of compilation)")
    args = parser.parse_args()
    retain_freed_memory()  # as the proxgan CLI does (proxgan.allocator)
    torch.set_num_threads(args.threads)
    dims = [int(d) for d in args.dims.split(",")]
    print(f"CPU, {args.threads} threads, DCGAN on 1x28x28, batch {args.batch}, {args.formulation}, "
          f"regular = {args.n_critic} D step(s) + 1 G step, proximal = T=20 (λ=0.1) + 1 G step; median ms")
    results = {dim: phases(dim, args) for dim in dims}
    names = list(results[dims[0]])
    print(f"{'phase':<34}" + "".join(f"{'DIM ' + str(d):>12}{'÷ fused':>9}" for d in dims))
    for name in names:
        row = f"{name:<34}"
        for d in dims:
            ref = next((r for prefix, r in BASELINES.items() if name.startswith(prefix)), None)
            value = results[d][name]
            ratio = f"{value / results[d][ref]:>9.2f}" if ref else f"{'':>9}"
            row += f"{value:>12.2f}{ratio}"
        print(row)
    print("÷ fused: a D-step variant over the fused D step, a G-step variant over the plain G step, reuse_fake over the "
          "regular iteration (< 1 pays)")


if __name__ == "__main__":
    main()
