"""``proxgan equilibrium RUN_DIR``: is the trained pair a Nash equilibrium, or a λ-proximal one? (§2, §6.1)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from proxgan.cli import SEED, PathType, json_option, out_option, record_experiment, training_batchnorm_option


@click.command("equilibrium")
@click.argument("run_dir", type=PathType(path_type=Path))
@click.option("--test", "test", type=click.Choice(["nash", "proximal", "both"]), default="both", show_default=True,
              help="nash: min_θ V(G_θ, D_final) (eq. 5); proximal: min_θ V_λ^prox(G_θ, D_final) (eq. 19).")
@click.option("--steps", type=int, default=200, show_default=True,
              help="Generator steps of each test (the paper: 10,000).")
@click.option("--lambda", "lam", type=float, default=0.1, show_default=True, help="λ of the proximal objective (eq. 11).")
@click.option("--inner-steps", type=int, default=50, show_default=True,
              help="Adam steps of the proximal maximization, started at w_final at every generator step.")
@click.option("--inner-lr", type=float, default=None, help="Learning rate of the inner maximization (default: the run's proximal.optimizer.lr).")
@click.option("--batch-size", type=int, default=None, help="Batch size of the generator steps (default: the run's).")
@click.option("--eval-size", type=int, default=256, show_default=True,
              help="Fixed real/latent batch on which the objectives and the quality are tracked.")
@click.option("--eval-batches", type=int, default=5, show_default=True,
              help="Fresh evaluation batches (each --eval-size) at the first and last step: the spread of the "
                   "objective over them is the noise scale and gives the 95 % t interval of the verdict.")
@click.option("--log-points", type=int, default=12, show_default=True, help="How many log-spaced steps are tracked.")
@click.option("--generator-loss", type=click.Choice(["value", "training"]), default="value", show_default=True,
              help="value: descend V itself (eqs. 5, 19); training: the run's generator loss (non-saturating for nsgan/sngan).")
@click.option("--no-quality", is_flag=True, help="Do not track the sample-quality metric.")
@click.option("--checkpoint", default="last", show_default=True, help="Checkpoint name in RUN_DIR/checkpoints or a path.")
@click.option("--device", default="cpu", show_default=True, help="Device to run on (cpu, cuda).")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of the batches and the fixed latent codes.")
@training_batchnorm_option
@out_option("equilibrium")
@json_option
def equilibrium(run_dir: Path, test: str, steps: int, lam: float, inner_steps: int, inner_lr: float | None,
                batch_size: int | None, eval_size: int, eval_batches: int, log_points: int, generator_loss: str,
                no_quality: bool, checkpoint: str, device: str, seed: int, training_batchnorm: bool, out: Path,
                as_json: bool) -> None:
    """Freeze RUN_DIR's discriminator and keep optimizing its generator: against V (Nash test) and
    against the proximal objective V_λ^prox (proximal test). Writes the curves, the verdicts and the
    paper-style figure (Figures 1, 2, 4, 5); an interrupted call resumes from the states in --out.

    \b
    Example:
      proxgan equilibrium runs/digits --test both --steps 200 --out runs/digits-equilibrium
    """
    from tqdm import tqdm

    from proxgan.equilibrium import TESTS, run_equilibrium
    from proxgan.errors import ProxganError

    if not run_dir.is_dir():
        raise ProxganError(f"run directory {str(run_dir)!r} " + ("is not a directory" if run_dir.exists() else "does not exist"))
    if out.resolve() == run_dir.resolve():
        raise ProxganError(f"--out {str(out)!r} is the run directory itself: its results.json would be overwritten; "
                           "choose another directory")
    bars: dict[str, tqdm] = {}

    def progress(name: str, step: int, total: int) -> None:
        if name not in bars:
            bars[name] = tqdm(total=total, initial=step - 1, desc=f"{name} test", unit="step", leave=False)
        bars[name].update(step - bars[name].n)

    def run(out_dir: Path) -> dict[str, Any]:
        try:
            return run_equilibrium(
                run_dir, out_dir, tests=TESTS if test == "both" else (test,),
                checkpoint=checkpoint, device=device, quality=not no_quality, progress=progress,
                population_batchnorm=not training_batchnorm,
                steps=steps, lam=lam, inner_steps=inner_steps, batch_size=batch_size,
                inner_optimizer=None if inner_lr is None else {"lr": inner_lr},
                eval_size=eval_size, eval_batches=eval_batches, log_points=log_points, generator_loss=generator_loss, seed=seed,
            )  # fmt: skip
        finally:
            for bar in bars.values():
                bar.close()

    record_experiment(out, as_json, run, summarize)


def summarize(doc: dict[str, Any]) -> str:
    """The answer sentences, then start → end of each tracked quantity per test (on the curves' fixed batch)."""
    results = doc["results"]
    lines = [f"generator: {doc['config']['generator']}", *(t["sentence"] for t in results["tests"].values())]

    def number(x: float | None) -> str:
        return "nan" if x is None else f"{x:.4g}"  # results.json stores NaN/inf as null

    for name, t in results["tests"].items():
        s = t["summary"]
        line = f"{name}: V(G, D_final) {number(s['objective_start'])} -> {number(s['objective_end'])}"
        if s["proximal_objective_start"] is not None:
            line += f", V^prox {number(s['proximal_objective_start'])} -> {number(s['proximal_objective_end'])}"
        if s["quality_start"] is not None:
            line += f", {results['quality_metric']} {number(s['quality_start'])} -> {number(s['quality_end'])}"
        lines.append(line)
    if results["quality_note"]:
        lines.append(f"note: {results['quality_note']}")
    lines.append(f"figure: {doc['figures'][0]}")
    return "\n".join(lines)
