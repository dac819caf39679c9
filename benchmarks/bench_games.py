"""Speed of the game lab (target: all methods × 1,000 steps on a 2-D game well under 1 s).

    python benchmarks/bench_games.py

Prints (1) the wall time of every method for 1,000 steps on θ·φ from one start, and on the
Dirac-GAN (autograd field, ppm by inner fixed-point solve) for reference; (2) the throughput of a
batch of starting points stepped together against a Python loop over the same starts one at a time.
"""

from __future__ import annotations

import argparse
import time

import torch

from proxgan.games.builtin import make_game
from proxgan.games.game import DTYPE
from proxgan.games.methods import METHOD_NAMES, StepSizes, make_method, run_method

LR = StepSizes(0.2, 0.2)
STEPS = 1000


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def all_methods_seconds(game_name: str, **options) -> dict[str, float]:
    game = make_game(game_name, **options)
    z0 = torch.tensor([[1.0, 1.0]], dtype=DTYPE)
    run_method(game, make_method("simgda", LR), z0, 10)  # warm-up
    return {name: timed(lambda: run_method(game, make_method(name, LR), z0, STEPS)) for name in METHOD_NAMES}


def batch_throughput(batch: int, steps: int = 200) -> tuple[float, float]:
    """(point-steps per second batched, the same for a Python loop over the starts) for eg on θ·φ."""
    game = make_game("bilinear")
    method = make_method("eg", LR)
    starts = torch.randn(batch, 2, generator=torch.Generator().manual_seed(0), dtype=DTYPE)
    batched = timed(lambda: run_method(game, method, starts, steps))
    looped_starts = starts[: min(batch, 50)]
    looped = timed(lambda: [run_method(game, method, z[None], steps) for z in looped_starts])
    return batch * steps / batched, len(looped_starts) * steps / looped


def main() -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for game_name, options in (("bilinear", {}), ("dirac", {"loss": "vanilla"})):
        seconds = all_methods_seconds(game_name, **options)
        per_method = ", ".join(f"{name} {1e3 * s:.0f} ms" for name, s in seconds.items())
        print(f"{game_name} (2-D), all {len(seconds)} methods x {STEPS} steps: {sum(seconds.values()):.3f} s "
              f"({per_method})")
    for batch in (1, 100, 10_000):
        fast, slow = batch_throughput(batch)
        print(f"eg on θ·φ, batch {batch:>6}: {fast:,.0f} point-steps/s batched vs {slow:,.0f} looping over "
              f"starts ({fast / slow:,.0f}x)")


if __name__ == "__main__":
    main()
