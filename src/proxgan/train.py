"""GAN training: the :class:`Trainer` and its two discriminator strategies, regular and proximal.

One generator iteration k is ``strategy.update_discriminator`` followed by
:meth:`Trainer.generator_step`, θ_{k+1} = θ_k − γ ∇_θ L_G(G_θ, D_{w_{k+1}}):

- ``regular``: n_critic alternating steps on −V(G_{θ_k}, D_w) (+ the formulation's constraint), the
  usual WGAN/WGAN-GP/SN-GAN training (Arjovsky et al. 2017, Alg. 1).
- ``proximal``: the inner loop of the paper's Algorithm 1, T ascent steps from w_k on
  V(G_{θ_k}, D_w) − λ/(2n) Σᵢ ‖∇ₓD_w(xᵢ) − ∇ₓD_{w_k}(xᵢ)‖² (:func:`proxgan.proximal.proximal_update`),
  so the generator steps on ∇_θ V(G_θ, D_{w*}) = ∇_θ V_λ^prox (Proposition 4, eq. 14).

:func:`train` runs a whole experiment into a run directory (see :mod:`proxgan.runs`).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from proxgan.averaging import AveragingConfig, IterateAverage
from proxgan.config import ExperimentConfig, LogConfig
from proxgan.data import InMemoryData
from proxgan.errors import ProxganError, check_choices, check_device
from proxgan.labels import label_fakes
from proxgan.locks import owns
from proxgan.objectives import Formulation, get_formulation
from proxgan.proximal import OptimizerConfig

#: a step's scalars (losses, V, penalty) as 0-d tensors, read on the host only when logged
Stats = dict[str, Tensor | float]


class RegularStrategy:
    """n_critic steps on −V(G, D_w) (+ clipping / gradient penalty) with ``train.d_optimizer``."""

    def __init__(self, config: ExperimentConfig):
        self.n_critic, self.optimizer = config.train.n_critic, config.train.d_optimizer

    def make_optimizer(self, D: nn.Module) -> torch.optim.Optimizer:
        return self.optimizer.build(D.parameters())

    def update_discriminator(self, trainer: Trainer) -> Stats:
        for _ in range(self.n_critic):
            stats = trainer.discriminator_step(trainer.real_batch(), trainer.fake_batch())
        return stats


class ProximalStrategy:
    """Algorithm 1's inner maximization, up to T steps with the ``proximal`` optimizer (its state persists).

    The formulation runs :func:`proxgan.proximal.proximal_update`; its statistics stay 0-d tensors (read on the
    host only when logged). ``inner_steps`` is the number of inner steps taken (T unless ``proximal.tol``
    stopped earlier); the penalty rows of ``proximal.penalty_batch`` come from the data stream.
    """

    def __init__(self, config: ExperimentConfig):
        self.config = config.proximal

    def make_optimizer(self, D: nn.Module) -> torch.optim.Optimizer:
        return self.config.make_optimizer(D.parameters())

    def update_discriminator(self, trainer: Trainer) -> Stats:
        with trainer.autocast():
            update = trainer.formulation.proximal_update(
                trainer.D_parallel, trainer.real_batch(), trainer.fake_batch(), self.config, optimizer=trainer.d_optimizer,
                next_batch=lambda: (trainer.real_batch(), trainer.fake_batch()), generator=trainer.data_rng,
            )  # fmt: skip
        return {"d_loss": update.losses[-1], "value": -update.loss, "penalty": update.sobolev, "inner_steps": float(update.steps)}


#: ``train.strategy`` name -> strategy class; the names are :data:`proxgan.config.STRATEGY_NAMES`
STRATEGIES: dict[str, type] = {"regular": RegularStrategy, "proximal": ProximalStrategy}


class Trainer:
    """G, D, their optimizers and the random streams of one run; one :meth:`train_step` = one G iteration.

    With ``average`` on, ``G_average`` holds the generator's iterate average (EMA or Polyak,
    :mod:`proxgan.averaging`), updated after every generator step; :attr:`sampler` is the generator
    that samples, evaluations and checkpoints' users see.

    Random numbers come from three streams saved in :meth:`state_dict`: ``data_rng`` (batch indices),
    ``noise_rng`` (latents) and torch's global generator (WGAN-GP interpolation), so a resumed run
    repeats the uninterrupted one exactly on CPU.

    ``G_parallel`` and ``D_parallel`` are G and D as data parallelism needs them: wrapped in
    DistributedDataParallel with ``data_parallel`` (under torchrun), whose backward averages the gradients
    over the processes (the Sobolev penalty's double backward included), else G and D themselves. A
    network's own update differentiates through them; everything else (sampling, D inside the generator
    step, checkpoints) uses G and D.
    """

    def __init__(
        self, G: nn.Module, D: nn.Module, formulation: Formulation, strategy, data: InMemoryData, *,
        batch_size: int, g_optimizer: OptimizerConfig, seed: int = 0, amp: bool = False, data_parallel: bool = False,
        average: AveragingConfig = AveragingConfig(), lr_decay_steps: int | None = None, reuse_fake: bool = False,
    ):  # fmt: skip
        self.G, self.D, self.formulation, self.strategy, self.data = G, D, formulation, strategy, data
        self.G_parallel, self.D_parallel = (DistributedDataParallel(m) for m in (G, D)) if data_parallel else (G, D)
        self.batch_size, self.amp, self.step = batch_size, amp, 0
        self.device = data.x.device
        self.g_optimizer = g_optimizer.build(G.parameters())
        self.d_optimizer = strategy.make_optimizer(D)
        self.G_average = IterateAverage(G, average) if average.enabled else None
        self.lr_decay_steps = lr_decay_steps
        self.reuse_fake, self.last_fake = reuse_fake, None
        self.base_lrs = [[group["lr"] for group in opt.param_groups] for opt in (self.g_optimizer, self.d_optimizer)]
        self.data_rng = torch.Generator().manual_seed(seed)
        self.noise_rng = torch.Generator(self.device).manual_seed(seed + 1)

    def autocast(self) -> contextlib.AbstractContextManager:
        """bfloat16 autocast (CUDA or CPU) when ``amp`` is on; bfloat16 needs no loss scaling.

        The cast-weight cache is off: Algorithm 1's inner loop runs inside one autocast region, and a
        cached bfloat16 copy of D's weights would make every inner step evaluate D at w_k.
        """
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp, cache_enabled=False)

    @property
    def classes(self) -> int:
        """K of a class-conditional pair (real and generated batches then carry their labels), else 0."""
        return getattr(self.G, "classes", 0)

    def real_batch(self) -> Tensor:
        return self.data.batch(self.batch_size, self.data_rng, labelled=bool(self.classes))

    def latents(self, n: int) -> Tensor:
        return torch.randn(n, self.G.latent_dim, generator=self.noise_rng, device=self.device)

    def fake_batch(self) -> Tensor:
        """G_θ(z) for a fresh latent batch, detached: the generator is fixed during D's updates.

        With ``reuse_fake`` the forward pass keeps its graph in ``last_fake`` for :meth:`generator_step`: G does
        not change during D's update, so that batch is G_θk(z) as a fresh forward would compute it.
        """
        z = self.latents(self.batch_size)
        if not self.reuse_fake:
            with torch.no_grad(), self.autocast():
                return label_fakes(self.G(z), z, self.classes).float()
        with self.autocast():
            self.last_fake = label_fakes(self.G_parallel(z), z, self.classes)
        return self.last_fake.detach().float()

    @property
    def sampler(self) -> nn.Module:
        """The generator to sample from: the iterate average when averaging is on, else G itself."""
        return self.G if self.G_average is None else self.G_average.module

    def discriminator_step(self, real: Tensor, fake: Tensor) -> Stats:
        """One optimizer step on −V(G, D_w) + constraint term, then the projection (WGAN-WC clipping).

        D scores real and fake samples in one forward pass on cat(real, fake): D scores samples
        independently (no batch statistics), so this equals two passes at half the kernel launches.
        """
        objective = self.formulation.objective
        with self.autocast():
            d_real, d_fake = self.D_parallel(torch.cat([real, fake])).split([len(real), len(fake)])
            loss = objective.discriminator_loss(d_real, d_fake) + self.formulation.regularizer(self.D_parallel, real, fake)
        self.d_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.d_optimizer.step()
        self.formulation.project(self.D)
        return {"d_loss": loss.detach(), "value": objective.value(d_real.detach(), d_fake.detach())}

    def generator_step(self) -> Stats:
        """θ ← θ − γ ∇_θ L_G(G_θ, D_w) at the current (updated) discriminator; D's weights stay fixed."""
        self.D.requires_grad_(False)
        with self.autocast():
            if self.last_fake is None:
                z = self.latents(self.batch_size)
                fake = label_fakes(self.G_parallel(z), z, self.classes)
            else:
                fake = self.last_fake
            loss = self.formulation.objective.generator_loss(self.D(fake))
        self.last_fake = None
        self.g_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.g_optimizer.step()
        self.D.requires_grad_(True)
        return {"g_loss": loss.detach()}

    def set_learning_rates(self) -> None:
        """Linear decay (``lr_decay_steps`` = N): both players' lr at iteration k is lr₀ · (1 − k/N).

        A function of the step alone, so a resumed run continues the same schedule.
        """
        factor = max(0.0, 1.0 - self.step / self.lr_decay_steps)
        for opt, base in zip((self.g_optimizer, self.d_optimizer), self.base_lrs):
            for group, lr in zip(opt.param_groups, base):
                group["lr"] = lr * factor

    def train_step(self) -> Stats:
        """One generator iteration: the strategy's discriminator update, then one generator step."""
        if self.lr_decay_steps:
            self.set_learning_rates()
        stats = self.strategy.update_discriminator(self)
        stats.update(self.generator_step())
        self.step += 1
        if self.G_average is not None:
            self.G_average.update(self.G, self.step)
        return stats

    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed run needs to continue bit-for-bit: weights, optimizers, random streams."""
        return {
            "step": self.step,
            "generator": self.G.state_dict(),
            "discriminator": self.D.state_dict(),
            "g_optimizer": self.g_optimizer.state_dict(),
            "d_optimizer": self.d_optimizer.state_dict(),
            **({"generator_average": self.G_average.state_dict()} if self.G_average is not None else {}),
            "rng": {"data": self.data_rng.get_state(), "noise": self.noise_rng.get_state(), "torch": torch.get_rng_state(),
                    "cuda": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else []},
        }  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step = int(state["step"])
        self.G.load_state_dict(state["generator"])
        self.D.load_state_dict(state["discriminator"])
        self.g_optimizer.load_state_dict(state["g_optimizer"])
        self.d_optimizer.load_state_dict(state["d_optimizer"])
        if self.G_average is not None:
            self.G_average.load_state_dict(state["generator_average"])
        rng = state["rng"]
        self.data_rng.set_state(rng["data"])
        self.noise_rng.set_state(rng["noise"])
        torch.set_rng_state(rng["torch"])
        if rng["cuda"]:
            torch.cuda.set_rng_state_all(rng["cuda"])


# --- a whole run ---------------------------------------------------------------------------------


class TrainingDiverged(ProxganError):
    """A loss became NaN or ±Inf; the last good checkpoint is kept."""


def world() -> tuple[int, int]:
    """(rank, world size) of this process: (0, 1) unless launched by torchrun."""
    return (dist.get_rank(), dist.get_world_size()) if dist.is_available() and dist.is_initialized() else (0, 1)


def _any_process(*flags: bool, device: torch.device) -> list[bool]:
    """Element-wise OR of boolean flags over all processes (identity in a single process)."""
    t = torch.tensor([float(f) for f in flags], device=device)
    if world()[1] > 1:
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return [bool(v) for v in t.tolist()]


def build_trainer(config: ExperimentConfig, device: torch.device, data: InMemoryData) -> Trainer:
    """Models, formulation and strategy of ``config``, seeded; under torchrun, data parallel (DDP)."""
    from proxgan.runs import build_experiment_models

    rank, size = world()
    if config.train.batch_size % size:
        raise ProxganError(f"train.batch_size={config.train.batch_size} is not divisible by the {size} processes")
    if config.model.classes:
        data.check_classes(config.model.classes)
    torch.manual_seed(config.seed)
    G, D = (m.to(device) for m in build_experiment_models(config, data.shape))
    trainer = Trainer(
        G, D, get_formulation(config.formulation), STRATEGIES[config.train.strategy](config), data,
        batch_size=config.train.batch_size // size, g_optimizer=config.train.g_optimizer,
        seed=config.seed + 1000 * rank, amp=config.train.amp, data_parallel=size > 1, average=config.train.average,
        lr_decay_steps=config.train.steps if config.train.lr_schedule == "linear" else None,
        reuse_fake=config.train.reuse_fake,
    )  # fmt: skip
    return trainer


@dataclass(frozen=True)
class DueActions:
    """The host-side actions due after one generator step."""

    log: bool
    samples: bool
    evaluate: bool
    checkpoint: bool

    @property
    def any(self) -> bool:
        """Whether the host needs the step's scalars (every action reads or records them)."""
        return self.log or self.samples or self.evaluate or self.checkpoint


def due_actions(step: int, steps: int, log: LogConfig, *, stop: bool) -> DueActions:
    """What is due after generator step ``step`` of ``steps``: a log record every ``log.every`` steps, at the
    last step and on a stop request; samples and evaluations at their periods; a checkpoint at its period
    and on a stop request."""
    return DueActions(
        log=step % log.every == 0 or step == steps or stop,
        samples=step % log.sample_every == 0,
        evaluate=bool(log.eval_every) and step % log.eval_every == 0,
        checkpoint=step % log.checkpoint_every == 0 or stop,
    )


class RunSession:
    """One run of :func:`train` in its directory: the trainer, the history, the logs and the wall clock.

    Built from the checkpoint ``state`` it continues (``{}``: a fresh run). Only process 0 (``writer``)
    writes files: the config, log records, sample grids, evaluations and the results document;
    :meth:`checkpoint` may be called on every process and writes on process 0 only.
    """

    def __init__(self, config: ExperimentConfig, out_dir: Path, device: torch.device, state: dict[str, Any],
                 command: str):  # fmt: skip
        from proxgan import runs
        from proxgan.config import config_to_dict
        from proxgan.results import prepare_out_dir

        self.config, self.out_dir, self.device, self.command = config, out_dir, device, command
        self.config_dict, self.last = config_to_dict(config), runs.checkpoint_path(out_dir)
        self.writer = world()[0] == 0
        self.data = runs.load_experiment_data(config).to(device)
        self.trainer = build_trainer(config, device, self.data)
        if state:
            try:
                self.trainer.load_state_dict(state)
            except (RuntimeError, KeyError, ValueError) as exc:
                detail = " ".join(str(exc).split())[:300]
                raise ProxganError(f"checkpoint {str(self.last)!r} does not match this run: {detail}") from None
        self.history, self.wall_before = list(state.get("history", [])), float(state.get("wall_seconds", 0.0))
        self.evaluations = list(state.get("evaluations", []))
        self.sampled: tuple[int, nn.Module] | None = None
        latents = torch.Generator().manual_seed(config.seed)
        self.fixed_z = torch.randn(config.log.n_samples, self.trainer.G.latent_dim, generator=latents).to(device)
        if self.writer:
            prepare_out_dir(out_dir)
            runs.write_config(out_dir, config)
            self.run_log = runs.RunLog(out_dir, self.trainer.step)
        self.start = time.perf_counter()

    def wall(self) -> float:
        """Seconds of training so far, the resumed run's included."""
        return self.wall_before + time.perf_counter() - self.start

    def checkpoint(self) -> None:
        """Save the trainer, history and evaluations to ``checkpoints/last.pt`` (process 0 only)."""
        from proxgan.runs import save_checkpoint

        if self.writer:
            save_checkpoint(self.last, {**self.trainer.state_dict(), "config": self.config_dict, "history": self.history,
                                        "evaluations": self.evaluations, "data_shape": list(self.data.shape),
                                        "wall_seconds": self.wall()})  # fmt: skip

    def log(self, step: int, stats: dict[str, float]) -> None:
        """Append the step's scalars and the wall clock to the history, log.jsonl and TensorBoard."""
        record = {"step": step, **stats, "wall_seconds": self.wall()}
        self.history.append(record)
        self.run_log.write(record)

    def sampled_generator(self) -> nn.Module:
        """The sampler (:attr:`Trainer.sampler`) with its population BatchNorm statistics
        (:func:`proxgan.models.batchnorm.with_population_statistics`), computed once per step, in eval mode;
        callers put ``trainer.G`` back in train mode."""
        from proxgan.models.batchnorm import with_population_statistics

        step = self.trainer.step
        if self.sampled is None or self.sampled[0] != step:
            self.sampled = (step, with_population_statistics(self.trainer.sampler))
        return self.sampled[1].eval()

    def save_samples(self, name: str) -> str:
        """Save the sampler's samples of the fixed latents as ``name`` (and, for images, to TensorBoard)."""
        from proxgan.runs import image_grid, save_samples

        trainer = self.trainer
        with torch.no_grad():
            fake = self.sampled_generator()(self.fixed_z)
        trainer.G.train()
        if self.data.is_image:
            self.run_log.add_grid(image_grid(fake), trainer.step)
        return save_samples(fake, self.data, self.out_dir, name)

    def evaluate(self, step: int) -> None:
        """Score ``log.eval_samples`` fresh samples; RNG-isolated, so training is unchanged by it."""
        from proxgan.metrics import evaluate_generator
        from proxgan.runs import generate

        trainer, log, device = self.trainer, self.config.log, self.device
        latents = torch.Generator().manual_seed(self.config.seed + step)

        sampler = self.sampled_generator()

        def sample(n: int) -> Tensor:
            return generate(sampler, torch.randn(n, trainer.G.latent_dim, generator=latents).to(device))

        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), torch.no_grad():
            scores = evaluate_generator(sample, self.data, log.eval_metrics, log.eval_samples, device=str(device))
        trainer.G.train()
        self.evaluations.append({"step": step, "wall_seconds": self.wall(), "metrics": scores})
        self.run_log.write({"step": step, **{f"eval/{name}/{key}": value for name, fields in scores.items()
                                             for key, value in fields.items() if isinstance(value, (int, float))}})

    def act(self, step: int, stats: dict[str, float], due: DueActions) -> None:
        """Do the ``due`` actions of generator step ``step``."""
        from proxgan.runs import SAMPLES_DIR

        if self.writer:
            if due.log:
                self.log(step, stats)
            if due.samples:
                self.save_samples(f"{SAMPLES_DIR}/step_{step:07d}.png")
            if due.evaluate:
                self.evaluate(step)
        if due.checkpoint:
            self.checkpoint()

    def diverge(self, step: int, stats: dict[str, float]) -> NoReturn:
        """Record the non-finite step, write results.json with status "diverged" and raise :class:`TrainingDiverged`."""
        bad = ", ".join(f"{k}={v}" for k, v in stats.items() if not math.isfinite(v)) or "another process"
        if self.writer:
            self.history.append({"step": step, **stats, "wall_seconds": self.wall()})
            self.finish("diverged")
        kept = f"last good checkpoint kept at {str(self.last)!r}" if self.last.is_file() else "no checkpoint was written before it"
        raise TrainingDiverged(f"non-finite loss at step {step} ({bad}); {kept}")

    def finish(self, status: str) -> dict[str, Any]:
        """Close the logs and write results.json (final samples and loss curves unless diverged); return it."""
        from proxgan.results import write_results
        from proxgan.runs import save_loss_curves

        config, history = self.config, self.history
        figures = []
        if history and status != "diverged":
            figures = [self.save_samples("samples.png"), save_loss_curves(history, self.out_dir)]
        self.run_log.close()
        results = {
            "status": status, "steps": self.trainer.step, "strategy": config.train.strategy,
            "formulation": config.formulation, "dataset": config.data.name, "device": str(self.device),
            "processes": world()[1], "generator": config.train.average.describe(),
            "final": history[-1] if history else {},
            "losses": {key: [r[key] for r in history] for key in (history[0] if history else {})},
            "checkpoint": str(self.last.relative_to(self.out_dir)), "evaluations": self.evaluations,
        }  # fmt: skip
        return write_results(self.out_dir, command=self.command, config=self.config_dict, results=results,
                             figures=figures, wall_seconds=self.wall())  # fmt: skip


@owns("out_dir")
def train(
    config: ExperimentConfig,
    out_dir: str | Path,
    *,
    device: str = "cpu",
    resume: bool = False,
    progress: Callable[[int, int, Stats], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    command: str = "",
) -> dict[str, Any]:
    """Train ``config`` into ``out_dir`` (or continue its last checkpoint); return the results document.

    ``progress(step, total, stats)`` is called after every generator step (``stats`` is None on steps
    whose scalars are not read on the host). When ``should_stop()``
    turns true (the CLI's SIGINT/SIGTERM handler) the run checkpoints and returns with status
    "interrupted". A non-finite loss writes results.json with status "diverged" and raises
    :class:`TrainingDiverged`; the last good checkpoint stays. Only process 0 writes files, and it
    owns ``out_dir`` meanwhile (:mod:`proxgan.locks`); a resume that changes nothing writes nothing.
    """
    from proxgan import runs
    from proxgan.config import config_to_dict

    out_dir, device = Path(out_dir), check_device(device)
    state = runs.resume_state(out_dir, config_to_dict(config), resume=resume)  # on CPU: RNG states must stay CPU tensors
    finished = runs.finished_results(out_dir, state, config.train.steps)
    if finished is not None:  # resuming a completed run at its own length changes nothing: rewrite nothing
        return finished if world()[0] == 0 else {}
    if config.log.eval_every:  # fail before training, not at the first evaluation
        from proxgan.metrics import METRICS

        check_choices("log.eval_metrics", config.log.eval_metrics, ["auto", *METRICS])
    session = RunSession(config, out_dir, device, state, command)
    trainer, steps = session.trainer, config.train.steps
    status = "completed"
    while trainer.step < steps:
        stats = trainer.train_step()
        step = trainer.step
        # The host reads the step's scalars only on steps with an action due (every step under torchrun,
        # where a stop request must reach all processes at once), so a non-finite loss is caught at the
        # latest there, before it reaches a checkpoint or a figure.
        stop = bool(should_stop and should_stop())
        if not (due_actions(step, steps, config.log, stop=stop).any or world()[1] > 1):
            if progress:
                progress(step, steps, None)
            continue
        stats = {key: float(value) for key, value in stats.items()}
        nonfinite, stop = _any_process(not all(math.isfinite(v) for v in stats.values()), stop, device=device)
        if nonfinite:
            session.diverge(step, stats)
        session.act(step, stats, due_actions(step, steps, config.log, stop=stop))
        if progress:
            progress(step, steps, stats)
        if stop:
            status = "interrupted"
            break
    if status == "completed":
        session.checkpoint()
    return session.finish(status) if session.writer else {}
